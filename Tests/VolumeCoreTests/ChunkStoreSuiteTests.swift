// One chunk-store suite, run against every backend: the local directory store, the in-memory twin, and the deferring front over each.
import Foundation
import XCTest
@testable import VolumeCore
import VolumeTestSupport

/// A clock tests can move.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var t = Date(timeIntervalSince1970: 1_700_000_000)
    var now: Date { lock.lock(); defer { lock.unlock() }; return t }
    func advance(_ s: TimeInterval) { lock.lock(); t += s; lock.unlock() }
}

/// The checks every `ChunkStore` must pass. `corrupt` replaces a stored chunk's bytes behind the store's back.
func runChunkStoreSuite(_ store: any ChunkStore, clock: TestClock, corrupt: (ChunkID, Data) throws -> Void,
                        file: StaticString = #filePath, line: UInt = #line) throws {
    let small = Data("hello chunk".utf8)
    let large = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })

    // put/read round trip, for small and large chunks
    let a = try store.put(small)
    let b = try store.put(large)
    XCTAssertEqual(a, ChunkID.of(small), file: file, line: line)
    XCTAssertEqual(try store.read(a), small, file: file, line: line)
    XCTAssertEqual(try store.read(b), large, file: file, line: line)
    XCTAssertEqual(try store.size(of: b), large.count, file: file, line: line)
    XCTAssertTrue(try store.contains(a), file: file, line: line)

    // ranges, including past the end
    XCTAssertEqual(try store.read(b, offset: 1000, count: 10), large[1000..<1010], file: file, line: line)
    XCTAssertEqual(try store.read(b, offset: large.count - 5, count: 100), large[(large.count - 5)...], file: file, line: line)
    XCTAssertEqual(try store.read(a, offset: 6, count: 5), Data("chunk".utf8), file: file, line: line)

    // identical content is stored once
    let before = try store.stats()
    XCTAssertEqual(try store.put(large), b, file: file, line: line)
    XCTAssertEqual(try store.put(batch: [small, large, small]), [a, b, a], file: file, line: line)
    XCTAssertEqual(try store.stats(), before, file: file, line: line)
    XCTAssertEqual(before.chunks, 2, file: file, line: line)
    XCTAssertEqual(before.bytes, Int64(small.count + large.count), file: file, line: line)

    // a dedup hit refreshes `touched`, so gc's grace period protects a re-referenced chunk
    var touched: [ChunkID: Date] = [:]
    try store.forEach { touched[$0.id] = $0.touched }
    XCTAssertEqual(Set(touched.keys), [a, b], file: file, line: line)
    clock.advance(7200)
    _ = try store.put(large)
    var touchedAfter: [ChunkID: Date] = [:]
    try store.forEach { touchedAfter[$0.id] = $0.touched }
    // (unwrapped, not forced: a store that leaves a chunk out of `forEach` fails here instead of crashing the run)
    let bBefore = try XCTUnwrap(touched[b], "forEach lists every chunk", file: file, line: line)
    let bAfter = try XCTUnwrap(touchedAfter[b], "forEach lists every chunk", file: file, line: line)
    let aAfter = try XCTUnwrap(touchedAfter[a], "forEach lists every chunk", file: file, line: line)
    XCTAssertGreaterThan(bAfter, bBefore, file: file, line: line)
    XCTAssertEqual(touchedAfter[a], touched[a], file: file, line: line)
    // gc's delete looks at the time again: a chunk touched at or after its cutoff stays, whole
    XCTAssertFalse(try store.delete(b, ifTouchedBefore: bAfter), file: file, line: line)
    XCTAssertFalse(try store.delete(a, ifTouchedBefore: aAfter), file: file, line: line)
    XCTAssertEqual(try store.read(b), large, file: file, line: line)
    XCTAssertEqual(try store.read(a), small, file: file, line: line)

    // missing chunks are reported, not invented
    let missing = ChunkID.of(Data("never stored".utf8))
    XCTAssertFalse(try store.contains(missing), file: file, line: line)
    XCTAssertNil(try store.size(of: missing), file: file, line: line)
    XCTAssertThrowsError(try store.read(missing), file: file, line: line) {
        XCTAssertEqual(($0 as? VolumeError)?.errno, EIO, file: file, line: line)
    }

    // whole reads verify the hash
    try corrupt(b, Data(repeating: 0, count: large.count))
    XCTAssertThrowsError(try store.read(b), file: file, line: line) {
        guard case .corrupt = $0 as? VolumeError else { return XCTFail("expected corrupt, got \($0)", file: file, line: line) }
    }

    // delete, and deleting twice is fine
    try store.delete(b)
    try store.delete(b)
    XCTAssertFalse(try store.contains(b), file: file, line: line)
    XCTAssertEqual(try store.stats().chunks, 1, file: file, line: line)
    try store.sync()

    // empty chunk
    let e = try store.put(Data())
    XCTAssertEqual(try store.read(e), Data(), file: file, line: line)
}

final class ChunkStoreSuiteTests: XCTestCase {
    func testMemoryStore() throws {
        let clock = TestClock()
        let store = MemoryChunkStore(now: { clock.now })
        try runChunkStoreSuite(store, clock: clock) { id, data in store.corrupt(id, with: data) }
    }

    func testLocalStore() throws {
        let dir = try TemporaryDirectory("chunks")
        defer { dir.remove() }
        let clock = TestClock()
        let store = try LocalChunkStore(root: dir.url, smallLimit: 64 * 1024, now: { clock.now })
        try runChunkStoreSuite(store, clock: clock) { id, data in
            try data.write(to: dir.url.appendingPathComponent("chunks/\(id.hex.prefix(2))/\(id.hex)"))
            // a chunk file's time comes from the real clock; the suite compares relative times only
        }
    }

    /// The front that holds small chunks back until a commit is a chunk store too: waiting chunks
    /// are listed, counted and deleted like stored ones.
    func testDeferredStoreOverMemoryStore() throws {
        let clock = TestClock()
        let inner = MemoryChunkStore(now: { clock.now })
        let store = DeferredChunkStore(inner, smallLimit: 64 * 1024, now: { clock.now })
        try runChunkStoreSuite(store, clock: clock) { id, data in inner.corrupt(id, with: data) }
    }

    func testDeferredStoreOverLocalStore() throws {
        let dir = try TemporaryDirectory("chunks")
        defer { dir.remove() }
        let clock = TestClock()
        let store = DeferredChunkStore(try LocalChunkStore(root: dir.url, smallLimit: 64 * 1024, now: { clock.now }),
                                       smallLimit: 64 * 1024, now: { clock.now })
        try runChunkStoreSuite(store, clock: clock) { id, data in
            try data.write(to: dir.url.appendingPathComponent("chunks/\(id.hex.prefix(2))/\(id.hex)"))
        }
        // What waited reaches the store underneath at the next commit, once.
        try store.commitPending()
        XCTAssertEqual(try store.stats(), try store.inner.stats())
    }

    func testLocalStoreSurvivesReopenAndPacksSmallChunks() throws {
        let dir = try TemporaryDirectory("chunks")
        defer { dir.remove() }
        var ids: [ChunkID] = []
        do {
            let store = try LocalChunkStore(root: dir.url)
            ids = try store.put(batch: (0..<2000).map { Data("tiny file number \($0)".utf8) })
            ids.append(try store.put(Data(repeating: 9, count: 200_000)))
        }
        let store = try LocalChunkStore(root: dir.url)
        XCTAssertEqual(try store.read(ids[1234]), Data("tiny file number 1234".utf8))
        XCTAssertEqual(try store.stats().chunks, 2001)
        // 2,000 small chunks live in one SQLite file; only the large one is a file of its own
        let files = FileManager.default.enumerator(atPath: dir.url.appendingPathComponent("chunks").path)!
            .compactMap { $0 as? String }.filter { $0.count > 64 }
        XCTAssertEqual(files.count, 1)
    }

    func testLocalStoreCleansTempFilesLeftByACrashButNotAnotherProcesssWriteInProgress() throws {
        let dir = try TemporaryDirectory("chunks")
        defer { dir.remove() }
        let writer = try LocalChunkStore(root: dir.url)
        let leftover = dir.url.appendingPathComponent("tmp/deadbeef.partial")
        try Data("half a chunk".utf8).write(to: leftover)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-7200)], ofItemAtPath: leftover.path)
        // A chunk another process is writing at this moment: created, not yet renamed into place.
        let inFlight = dir.url.appendingPathComponent("tmp/0123abcd")
        try Data(repeating: 9, count: 100_000).write(to: inFlight)

        _ = try LocalChunkStore(root: dir.url)  // another process opens the store
        XCTAssertFalse(FileManager.default.fileExists(atPath: leftover.path), "a crash's leftover is removed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: inFlight.path), "a write in progress is left alone")
        // And a whole chunk stored while another process opens the store arrives.
        let big = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 11) })
        let id = try writer.put(big)
        XCTAssertEqual(try writer.read(id), big)
    }

    func testLargeChunksWrittenAroundThePageCacheKeepEveryByte() throws {
        let dir = try TemporaryDirectory("chunks")
        defer { dir.remove() }
        try checkLargeChunksKeepEveryByte(try LocalChunkStore(root: dir.url), root: dir.url)
    }
}

/// Puts large chunks of every alignment (page-aligned or not, whole pages or with a tail) into the
/// local store at `root`, and checks each read back and its chunk file byte for byte.
func checkLargeChunksKeepEveryByte(_ store: LocalChunkStore, root: URL, file: StaticString = #filePath, line: UInt = #line) throws {
    let base = Data((0..<((1 << 20) + 8192)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ $0 >> 9) })
    let cases: [(String, Data)] = [
        ("page-aligned buffer, whole pages", base.prefix(1 << 20).withUnsafeBytes { AlignedBytes.copy($0.baseAddress!, count: $0.count) }),
        ("page-aligned buffer, a tail past the last page", base.withUnsafeBytes { AlignedBytes.copy($0.baseAddress!, count: 100_003) }),
        ("unaligned buffer, whole pages", Data(base[1..<(1 + 20 * 4096)])),
        ("unaligned buffer and tail", Data(base[5..<(5 + 70_001)])),
    ]
    for (what, data) in cases {
        let id = try store.put(data)
        XCTAssertEqual(try store.read(id), data, what, file: file, line: line)
        let onDisk = try Data(contentsOf: root.appendingPathComponent("chunks/\(id.hex.prefix(2))/\(id.hex)"))
        XCTAssertEqual(onDisk, data, "\(what): the chunk file", file: file, line: line)
    }
}
