// Hostile archives made in the test: escaping paths, links and devices, non-UTF-8 names, headers that
// lie, truncation, a corrupt CRC, a gzip bomb, a full disk and an interruption. Each is a clear drop or
// a clear error naming the entry, and a failed import leaves the volume exactly as it was.
import Foundation
import Synchronization
import XCTest
@testable import VolumeCore
import VolumeTestSupport

/// A chunk store that fails with ENOSPC once `budget` chunks have been stored.
final class DiskFullChunkStore: WrappingChunkStore {
    let inner = MemoryChunkStore()
    private let left: Mutex<Int>
    init(budget: Int) { left = Mutex(budget) }

    func put(_ data: Data) throws -> ChunkID {
        try left.withLock { n in
            guard n > 0 else { throw VolumeError.io("write chunk", errno: ENOSPC) }
            n -= 1
        }
        return try inner.put(data)
    }
}

final class HostileArchiveTests: XCTestCase {
    private var tmp: TemporaryDirectory!

    override func setUpWithError() throws { tmp = try TemporaryDirectory("hostile") }
    override func tearDown() { tmp.remove() }

    private func hostile(_ kind: String) throws -> String {
        let p = tmp.path + "/\(kind).tgz"
        try Tools.python(["hostile", p, kind])
        return p
    }

    /// A volume with some content, including files the hostile archives would replace.
    private func populated(_ ts: TestStore) throws -> String {
        try ts.volume.writeFile("/first.txt", data: Data("precious".utf8))
        try ts.volume.writeFile("/dir/inner.bin", data: Data(repeating: 7, count: 300_000), createParents: true)
        try ts.volume.makeSymlink("/sym", target: "dir")
        return try ts.volume.snapshot()
    }

    /// Imports `archive` expecting an error that mentions every needle; the volume must not change.
    private func assertFails(_ archive: String, _ needles: [String], code: String, ts: TestStore? = nil,
                             options: TransferOptions = TransferOptions(), file: StaticString = #filePath, line: UInt = #line) throws {
        let store = try ts ?? TestStore()
        defer { if ts == nil { store.remove() } }
        let before = try populated(store)
        XCTAssertThrowsError(try store.volume.importArchive(from: try FileByteSource(path: archive), name: "blob",
                                                            options: options), file: file, line: line) { e in
            let text = "\(e)"
            for n in needles { XCTAssertTrue(text.contains(n), "'\(text)' should mention '\(n)'", file: file, line: line) }
            XCTAssertEqual((e as? VolumeError)?.code, code, "\(text)", file: file, line: line)
        }
        XCTAssertEqual(try store.volume.snapshot(), before, "the volume changed", file: file, line: line)
        XCTAssertEqual(try store.fsckProblems(), [], file: file, line: line)
    }

    func testEscapingPathsAreDropped() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let r = try ts.volume.importArchive(from: try FileByteSource(path: try hostile("paths")), into: "/in")
        XCTAssertEqual(try ts.volume.list("/", depth: 10).map(\.path), ["/in", "/in/ok.txt", "/in/sub", "/in/sub/ok2.txt"])
        XCTAssertEqual(r.dropped.map(\.path), ["../evil.txt", "a/../../evil2.txt", "/abs/evil3.txt", "sub/../"])
        XCTAssertEqual(r.dropped.map(\.reason), ["path contains '..'", "path contains '..'", "absolute path", "path contains '..'"])
        XCTAssertEqual(r.droppedByReason, ["path contains '..'": 3, "absolute path": 1])
        XCTAssertEqual(r.dropped.map(\.entry), [2, 3, 4, 5])
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testLinksDevicesAndWritesThroughLinksAreDropped() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        var seen: [DroppedEntry] = []
        let lock = Mutex<[DroppedEntry]>([])
        let r = try ts.volume.importArchive(from: try FileByteSource(path: try hostile("links")),
                                            options: TransferOptions(onDrop: { d in lock.withLock { $0.append(d) } }))
        seen = lock.withLock { $0 }
        XCTAssertEqual(try ts.volume.list("/", depth: 10).map(\.path), ["/after.txt", "/target.txt"])
        XCTAssertEqual(r.dropped, seen, "every drop is reported as it happens")
        XCTAssertEqual(r.dropped.map { "\($0.path): \($0.reason)" }, [
            "link: symbolic link (to '/etc')",
            "link/passwd: entry below the dropped link 'link'",
            "dirlink: symbolic link (to '..')",
            "dirlink/escaped.txt: entry below the dropped link 'dirlink'",
            "hard: hard link (to 'target.txt')",
            "chr: character device",
            "blk: block device",
            "fifo: FIFO",
        ])
        XCTAssertEqual(r.droppedCount, 8)
        XCTAssertEqual(r.files, 2)
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testNonUTF8NamesAreDroppedAndReported() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let r = try ts.volume.importArchive(from: try FileByteSource(path: try hostile("nonutf8")))
        XCTAssertEqual(try ts.volume.list("/", depth: 10).map(\.path), ["/good.txt"])
        XCTAssertEqual(r.dropped.map(\.path), ["bad\\xff\\xfe.txt", "dir\\xff/inner.txt"])
        XCTAssertEqual(Set(r.dropped.map(\.reason)), ["name is not valid UTF-8"])
    }

    func testHeaderThatLiesAboutItsSize() throws {
        // The stream ends before the promised bytes.
        try assertFails(try hostile("size-short"), ["entry 2 'liar.bin'", "10000 bytes"], code: "corrupt")
        // More entries follow: the next "header" is data, so its checksum is wrong.
        try assertFails(try hostile("size-lies"), ["entry 2 'liar.bin'"], code: "corrupt")
    }

    func testBadHeaderChecksum() throws {
        try assertFails(try hostile("bad-checksum"), ["entry 2", "bad header checksum"], code: "corrupt")
    }

    func testTruncatedStreamAndCorruptCRC() throws {
        let good = tmp.path + "/good.tgz"
        try Tools.python(["hostile", good, "many"])
        let data = try Data(contentsOf: URL(fileURLWithPath: good))
        let cut = tmp.path + "/cut.tgz"
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: cut))
        try assertFails(cut, ["truncated", "entry "], code: "corrupt")
        var badCRC = data
        badCRC[badCRC.count - 8] ^= 0x01
        let crc = tmp.path + "/crc.tgz"
        try badCRC.write(to: URL(fileURLWithPath: crc))
        try assertFails(crc, ["CRC-32"], code: "corrupt")
    }

    func testGzipBombStopsAtTheCapBeforeInflatingThePassingEntry() throws {
        let bomb = try hostile("bomb")
        let size = try FileManager.default.attributesOfItem(atPath: bomb)[.size] as! Int
        XCTAssertLessThan(size, 200_000, "a small blob")
        let ts = try TestStore(cap: 12 << 20)
        defer { ts.remove() }
        let before = try populated(ts)
        let source = try TarArchiveSource(input: try FileByteSource(path: bomb), name: "bomb")
        XCTAssertThrowsError(try ts.volume.importTree(from: source)) { e in
            XCTAssertEqual((e as? VolumeError)?.code, "quota_exceeded")
            XCTAssertTrue("\(e)".contains("entry 2 'zeros1.bin'"), "\(e)")
        }
        // It stopped at entry 2's header: 8 MiB of entry 1 (and headers) were inflated, not 24 MiB.
        XCTAssertLessThan(source.uncompressedBytes, 9 << 20)
        XCTAssertEqual(try ts.volume.snapshot(), before)
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testStreamOfUnknownLengthStopsAtTheCap() throws {
        let ts = try TestStore(cap: 2 << 20)
        defer { ts.remove() }
        let before = try populated(ts)
        let file = tmp.path + "/stream"
        _ = FileManager.default.createFile(atPath: file, contents: Data(repeating: 1, count: 5 << 20))
        let source = try StreamFileSource(input: try FileByteSource(path: file), name: "big.bin")
        XCTAssertThrowsError(try ts.volume.importTree(from: source, into: "/up")) { e in
            XCTAssertEqual((e as? VolumeError)?.code, "quota_exceeded", "\(e)")
        }
        XCTAssertEqual(try ts.volume.snapshot(), before)
    }

    func testDiskFullChangesNothing() throws {
        let ts = try TestStore(chunks: DiskFullChunkStore(budget: 40))
        defer { ts.remove() }
        try assertFails(try hostile("many"), ["No space left on device", "storing the data of entry"], code: "io_error", ts: ts)
    }

    func testInterruptionChangesNothing() throws {
        let ticks = Atomic<Int>(0)
        let options = TransferOptions(progress: { _ in ticks.add(1, ordering: .relaxed) },
                                      isCancelled: { ticks.load(ordering: .relaxed) > 300 })
        try assertFails(try hostile("many"), ["interrupted at entry"], code: "interrupted", options: options)
    }

    func testFailingMidwayIntoAPopulatedVolumeKeepsEveryFile() throws {
        // The archive replaces /first.txt, then breaks: the old /first.txt must still be there.
        let tree = tmp.path + "/t"
        try FileManager.default.createDirectory(atPath: tree + "/dir", withIntermediateDirectories: true)
        try Data("replacement".utf8).write(to: URL(fileURLWithPath: tree + "/first.txt"))
        try Data(repeating: 9, count: 400_000).write(to: URL(fileURLWithPath: tree + "/dir/inner.bin"))
        for i in 0..<50 { try Data("file \(i)".utf8).write(to: URL(fileURLWithPath: tree + "/f\(i).txt")) }
        let archive = tmp.path + "/replace.tgz"
        try Tools.run("tar", ["-czf", archive, "-C", tree, "."])
        var data = try Data(contentsOf: URL(fileURLWithPath: archive))
        data = data.prefix(data.count - 20)
        try data.write(to: URL(fileURLWithPath: archive))
        try assertFails(archive, ["truncated"], code: "corrupt")
    }
}
