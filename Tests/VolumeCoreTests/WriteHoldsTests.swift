// Write holds: gc keeps the chunks of writes still in progress (an open file, a batch, an import), however old.
import CSupport
import Foundation
import Synchronization
import XCTest
@testable import VolumeCore
import VolumeTestSupport

#if canImport(Glibc)
import Glibc
#endif

final class WriteHoldsTests: XCTestCase {
    /// The time `dir`'s live processes published, as gc reads it.
    private func published(_ dir: String) -> Date? { WriteHolds.oldestLive(in: dir) }

    func testAProcessPublishesTheStartOfItsOldestWriteUntilOthersCanSeeItsCommit() throws {
        let data = try TemporaryDirectory("holds")
        defer { data.remove() }
        let clock = TestClock()
        let holds = WriteHolds(dataDir: data.url, now: { clock.now })
        defer { holds.close() }
        let dir = holds.dir
        XCTAssertNil(published(dir), "no file before the first write")

        let t0 = clock.now - WriteHolds.margin  // a hold starts a little before the clock says
        let first = try holds.begin()
        XCTAssertEqual(published(dir), t0, "the first hold publishes its start before any chunk is stored")
        clock.advance(100)
        let second = try holds.begin()
        try holds.publish()
        XCTAssertEqual(published(dir), t0, "the oldest hold still runs")

        holds.end(first, lingering: true)
        try holds.publish()
        XCTAssertEqual(published(dir), t0, "an ended hold counts while its commit may wait in a group")
        clock.advance(WriteHolds.linger + 2)
        try holds.publish()
        XCTAssertEqual(published(dir), t0 + 100, "then the next oldest hold decides")

        holds.end(second, lingering: true)
        clock.advance(WriteHolds.linger + 2)
        try holds.publish()
        XCTAssertEqual(published(dir), clock.now, "with no write in progress the time follows the clock")

        holds.close()
        XCTAssertNil(published(dir), "a closed store publishes nothing")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }

    func testTheFileOfAProcessThatIsGoneIsIgnoredAndRemoved() throws {
        let ts = try TestStore(blockSize: 4096)
        defer { ts.remove() }
        try ts.volume.writeFile("/gone", data: Data(repeating: 3, count: 4096))
        try ts.volume.remove("/gone")
        // What a process killed in the middle of a write leaves: a hold file nobody locks, a day old.
        let dir = ts.store.holds.dir
        mkdir(dir, 0o755)
        let stale = dir + "/99999-deadbeef.hold"
        XCTAssertTrue(FileManager.default.createFile(atPath: stale, contents: nil))
        let old = Date().addingTimeInterval(-86_400)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: stale)

        let r = try ts.store.collectGarbage(grace: 3600, now: Date().addingTimeInterval(7200))
        XCTAssertEqual(r.chunksDeleted, 1, "a dead writer's file holds nothing back")
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale))
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testAWriterStillNamingItsFileCountsAndOneThatDiedThenIsRemoved() throws {
        let data = try TemporaryDirectory("holds")
        defer { data.remove() }
        let dir = data.path + "/holds"
        XCTAssertEqual(mkdir(dir, 0o755), 0)
        // A process between locking its new file and renaming it to .hold.
        let tmp = dir + "/1234-abcd1234.tmp"
        let fd = open(tmp, O_RDWR | O_CREAT, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(csupport_ofd_lock(fd, 0, 0, 2, 0), 0)
        let t = Date(timeIntervalSince1970: 1_700_000_000)
        try FileManager.default.setAttributes([.modificationDate: t], ofItemAtPath: tmp)
        XCTAssertEqual(published(dir), t)
        XCTAssertTrue(FileManager.default.fileExists(atPath: tmp))
        // It died there: its lock is gone, and the file is old.
        close(fd)
        XCTAssertNil(published(dir))
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp))
    }

    func testGCKeepsTheStoredBlocksOfAFileHeldOpenLongerThanTheGracePeriod() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let v = ts.volume
        let a = try v.create(parent: Catalog.rootIno, name: Data("log".utf8), kind: .file, mode: 0o644, caller: .root)
        try v.openCreated(a)
        let content = Data((0..<3 * v.blockSize + 100).map { _ in UInt8.random(in: 0...255) })
        for off in stride(from: 0, to: content.count, by: 1 << 20) { // in 1 MiB writes, as through FUSE
            try v.write(a.ino, offset: Int64(off), data: content[off..<min(off + (1 << 20), content.count)], caller: .root)
        }
        // The three whole blocks are stored in the background; none is referenced until the close.
        XCTAssertTrue(try eventually { try ts.store.chunks.stats().chunks >= 3 })

        // Two hours later, gc in another process, then in this one: the open file's blocks stay.
        let later = Date().addingTimeInterval(7200)
        let other = try ts.anotherProcess()
        defer { try? other.close() }
        let r = try other.collectGarbage(grace: 3600, now: later)
        XCTAssertEqual(r.chunksDeleted, 0)
        XCTAssertEqual(r.chunksInGrace, 3)
        XCTAssertNotNil(r.writesInProgressSince, "the report says a write in progress kept them")
        XCTAssertEqual(try ts.store.collectGarbage(grace: 3600, now: later).chunksDeleted, 0)

        try v.release(a.ino, caller: .root)
        XCTAssertEqual(try v.readFile("/log"), content)
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testWithoutItsHoldFileAWriteStaysBufferedAndItsCommitSaysWhy() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let v = ts.volume
        // Something in the way of the holds directory.
        let blocker = ts.dir.path + "/holds"
        XCTAssertTrue(FileManager.default.createFile(atPath: blocker, contents: Data()))
        let a = try v.create(parent: Catalog.rootIno, name: Data("f".utf8), kind: .file, mode: 0o644, caller: .root)
        try v.openCreated(a)
        let content = Data((0..<(2 << 20) + 10).map { _ in UInt8.random(in: 0...255) })
        XCTAssertNoThrow(try v.write(a.ino, offset: 0, data: content, caller: .root), "the write is taken")
        XCTAssertThrowsError(try v.flush(a.ino, caller: .root)) { e in
            XCTAssertEqual((e as? VolumeError)?.errno, EIO)
            XCTAssertTrue("\(e)".contains("must be a directory this process can write"), "\(e)")
        }
        XCTAssertEqual(try ts.store.chunks.stats().chunks, 0, "nothing stored that gc could not be told about")
        try FileManager.default.removeItem(atPath: blocker)
        try v.release(a.ino, caller: .root)
        XCTAssertEqual(try v.readFile("/f"), content)
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testGCInTheMiddleOfABatchWriteOrAnImportKeepsTheirChunks() throws {
        // A chunk store that runs another process's gc (two hours later) right after every put,
        // between the store and the commit that references what it stored.
        let chunkDir = try TemporaryDirectory("chunks")
        defer { chunkDir.remove() }
        let hooked = GCAfterPut(try LocalChunkStore(root: chunkDir.url))
        let ts = try TestStore(chunks: hooked)
        defer { ts.remove() }
        // The other process opens the same data directory and the same chunk directory.
        let other = try VolumeStore(dataDir: ts.dir.url, options: StoreOptions(durability: .relaxed),
                                    chunks: try LocalChunkStore(root: chunkDir.url))
        defer { try? other.close() }
        hooked.gc = { try other.collectGarbage(grace: 3600, now: Date().addingTimeInterval(7200)) }

        let big = Data((0..<2_500_000).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        try ts.volume.writeFiles([WriteEntry(path: "/a", data: big), WriteEntry(path: "/b", data: Data("small".utf8))])
        XCTAssertEqual(try ts.volume.readFile("/a"), big)
        XCTAssertEqual(try ts.volume.readFile("/b"), Data("small".utf8))

        let tree = try TemporaryDirectory("tree")
        defer { tree.remove() }
        let imported = Data((0..<1_500_000).map { UInt8(truncatingIfNeeded: $0 &* 17 &+ 1) })
        try imported.write(to: tree.url.appendingPathComponent("weights.bin"))
        _ = try ts.volume.importTree(from: try LocalTreeSource(path: tree.path, name: "models"))
        XCTAssertEqual(try ts.volume.readFile("/models/weights.bin"), imported)

        XCTAssertGreaterThanOrEqual(hooked.runs.withLock { $0.count }, 2, "gc ran inside each write")
        XCTAssertEqual(hooked.runs.withLock { $0.map { $0.chunksDeleted } }.reduce(0, +), 0)
        XCTAssertEqual(try ts.fsckProblems(), [])
    }
}

/// A local chunk store that runs `gc` after each put returns.
final class GCAfterPut: WrappingChunkStore, @unchecked Sendable {
    let inner: LocalChunkStore
    var gc: (() throws -> GCReport)?
    let runs = Mutex<[GCReport]>([])

    init(_ inner: LocalChunkStore) { self.inner = inner }

    private func afterPut() throws {
        if let gc { let r = try gc(); runs.withLock { $0.append(r) } }
    }

    func put(_ data: Data) throws -> ChunkID {
        let id = try inner.put(data)
        try afterPut()
        return id
    }
    func put(batch: [Data]) throws -> [ChunkID] {
        let ids = try inner.put(batch: batch)
        try afterPut()
        return ids
    }
}
