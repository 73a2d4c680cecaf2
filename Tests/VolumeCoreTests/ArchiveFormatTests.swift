// Unit tests of the archive formats: gzip streams (multi-member, padding, every kind of damage) and the
// tar reader and writer (long names, pax records, base-256 numbers, checksums).
import Foundation
import XCTest
@testable import VolumeCore
import VolumeTestSupport

final class ArchiveFormatTests: XCTestCase {
    private func gzip(_ text: String) throws -> Data {
        let sink = DataByteSink()
        let gz = try GzipWriter(sink)
        try gz.write(Data(text.utf8))
        try gz.finish()
        return sink.data
    }

    private func inflate(_ data: Data) throws -> Data {
        let r = try GzipReader(DataByteSource(data))
        var out = Data()
        var buf = [UInt8](repeating: 0, count: 7)
        while true {
            let n = try buf.withUnsafeMutableBytes { try r.read(into: $0) }
            if n == 0 { return out }
            out.append(contentsOf: buf[0..<n])
        }
    }

    private func assertCorrupt(_ data: Data, _ needle: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try inflate(data), file: file, line: line) { e in
            XCTAssertTrue("\(e)".contains(needle), "\(e) should mention \(needle)", file: file, line: line)
        }
    }

    func testGzipMultiMemberAndZeroPadding() throws {
        let a = try gzip("hello "), b = try gzip("world")
        XCTAssertEqual(try inflate(a + b + Data(count: 100)), Data("hello world".utf8))
        // What gzip(1) writes reads back too.
        let big = String(repeating: "line of text\n", count: 50_000)
        XCTAssertEqual(try inflate(try gzip(big)), Data(big.utf8))
    }

    func testGzipDamageIsReported() throws {
        let good = try gzip(String(repeating: "abc", count: 1000))
        // The CRC-32 is the trailer's first four bytes.
        var badCRC = good
        badCRC[badCRC.count - 8] ^= 0xff
        assertCorrupt(badCRC, "CRC-32")
        var badLength = good
        badLength[badLength.count - 1] ^= 0x01
        assertCorrupt(badLength, "length")
        assertCorrupt(good.prefix(good.count - 5), "truncated")
        assertCorrupt(good.prefix(good.count / 2), "truncated")
        assertCorrupt(good + Data("garbage".utf8), "trailing garbage")
        assertCorrupt(Data(), "empty")
        var damaged = good
        damaged[12] ^= 0x55
        XCTAssertThrowsError(try inflate(damaged))
        XCTAssertThrowsError(try inflate(Data("plain text, not gzip".utf8))) { e in
            XCTAssertEqual((e as? VolumeError)?.code, "invalid_argument")
            XCTAssertTrue("\(e)".contains("not gzip"))
        }
    }

    func testByteSourceLimitCountsBytes() throws {
        let dir = try TemporaryDirectory("limit")
        defer { dir.remove() }
        let path = dir.path + "/f"
        _ = FileManager.default.createFile(atPath: path, contents: Data(count: 5000))
        let src = try FileByteSource(path: path, limit: 1000)
        var buf = [UInt8](repeating: 0, count: 4096)
        XCTAssertThrowsError(try buf.withUnsafeMutableBytes { try src.readFully(into: $0) }) { e in
            XCTAssertEqual((e as? VolumeError)?.code, "too_large")
        }
    }

    /// Writes entries with TarWriter and reads them back with TarReader.
    private func roundTrip(_ entries: [(TarWriter.Entry, Data)]) throws -> [(TarHeader, Data)] {
        let sink = DataByteSink()
        let w = TarWriter(sink)
        for (e, d) in entries {
            try w.begin(e)
            if e.type == .file { try w.write(data: d) }
        }
        try w.finish()
        XCTAssertEqual(sink.data.count % 10240, 0)
        let r = TarReader(DataByteSource(sink.data))
        var out: [(TarHeader, Data)] = []
        while let h = try r.next() {
            var d = Data(count: Int(h.size))
            let n = try d.withUnsafeMutableBytes { raw -> Int in
                var got = 0
                while got < raw.count {
                    let k = try r.readData(into: UnsafeMutableRawBufferPointer(rebasing: raw[got...]))
                    if k == 0 { break }
                    got += k
                }
                return got
            }
            XCTAssertEqual(n, Int(h.size))
            out.append((h, d))
        }
        return out
    }

    func testTarWriterAndReaderAgreeOnEveryField() throws {
        let long = Data((String(repeating: "a", count: 120) + "/" + String(repeating: "b", count: 150) + "/file.txt").utf8)
        let split = Data((String(repeating: "p", count: 120) + "/name.txt").utf8)
        let binary = Data(String(repeating: "q", count: 120).utf8) + Data([0xff, 0xfe]) + Data("/x".utf8)
        let entries: [(TarWriter.Entry, Data)] = [
            (.init(path: Data("dir".utf8), type: .directory, mode: 0o750, uid: 1000, gid: 1000, mtime: 1_700_000_000_000_000_000), Data()),
            (.init(path: Data("dir/f.txt".utf8), type: .file, mode: 0o4755, uid: 3_000_000, gid: 7, size: 5,
                   mtime: 1_700_000_000_123_456_789), Data("hello".utf8)),
            (.init(path: long, type: .file, mode: 0o644, size: 3, mtime: -1_500_000_000), Data("abc".utf8)),
            (.init(path: split, type: .file, mode: 0o600, size: 0, mtime: 0), Data()),
            (.init(path: binary, type: .file, mode: 0o644, size: 1, mtime: 5_000_000_000), Data("z".utf8)),
            (.init(path: Data("sym".utf8), type: .symlink, mode: 0o777, linkPath: Data(String(repeating: "t", count: 300).utf8)), Data()),
            (.init(path: Data("hl".utf8), type: .hardLink, mode: 0o644, linkPath: Data("dir/f.txt".utf8)), Data()),
            (.init(path: Data("fifo".utf8), type: .fifo, mode: 0o600), Data()),
        ]
        let back = try roundTrip(entries)
        XCTAssertEqual(back.count, entries.count)
        for ((e, d), (h, hd)) in zip(entries, back) {
            XCTAssertEqual(h.path.filter { $0 != UInt8(ascii: "/") || h.type != .directory }, e.path, "path")
            XCTAssertEqual(h.type, e.type)
            XCTAssertEqual(h.mode, e.mode)
            XCTAssertEqual(h.uid, e.uid)
            XCTAssertEqual(h.mtime, e.mtime, "mtime of \(h.displayPath)")
            XCTAssertEqual(h.linkPath, e.linkPath)
            XCTAssertEqual(hd, d)
        }
        XCTAssertEqual(back.map(\.0.index), Array(1...entries.count))
    }

    func testReaderTakesBase256NumbersAndRejectsBadChecksums() throws {
        var block = [UInt8](repeating: 0, count: 512)
        for (i, c) in "b256.bin".utf8.enumerated() { block[i] = c }
        for (i, c) in "0000644\0".utf8.enumerated() { block[100 + i] = c }
        // size 5 in base-256; mtime -1 in base-256 (all 0xff).
        block[124] = 0x80
        block[135] = 5
        for i in 136..<148 { block[i] = 0xff }
        block[156] = UInt8(ascii: "0")
        for (i, c) in "ustar\u{0}00".utf8.enumerated() { block[257 + i] = c }
        for i in 148..<156 { block[i] = UInt8(ascii: " ") }
        let sum = block.reduce(0) { $0 + Int($1) }
        for (i, c) in String(format: "%06o\u{0} ", sum).utf8.enumerated() { block[148 + i] = c }
        var tar = Data(block) + Data("12345".utf8) + Data(count: 507) + Data(count: 1024)
        let r = TarReader(DataByteSource(tar))
        let h = try XCTUnwrap(try r.next())
        XCTAssertEqual(h.size, 5)
        XCTAssertEqual(h.mtime, -1_000_000_000)
        XCTAssertNil(try r.next())
        tar[3] ^= 1
        XCTAssertThrowsError(try TarReader(DataByteSource(tar)).next()) { e in
            XCTAssertTrue("\(e)".contains("bad header checksum"), "\(e)")
        }
    }

    func testPaxTimesAndRecords() throws {
        XCTAssertEqual(TarReader.parsePaxTime(Data("1700000000.5".utf8)), 1_700_000_000_500_000_000)
        XCTAssertEqual(TarReader.parsePaxTime(Data("-1.25".utf8)), -1_250_000_000)
        XCTAssertEqual(TarReader.parsePaxTime(Data("12.1234567891234".utf8)), 12_123_456_789)
        XCTAssertNil(TarReader.parsePaxTime(Data("abc".utf8)))
        XCTAssertEqual(TarWriter.paxTime(-2, 500_000_000), "-1.5")
        XCTAssertEqual(TarWriter.paxTime(3, 120_000_000), "3.12")
        let rec = TarWriter.paxRecord("path", Data(String(repeating: "x", count: 95).utf8))
        XCTAssertEqual(rec.count, 105)
        XCTAssertTrue(rec.starts(with: Data("105 path=".utf8)))
        let parsed = try TarReader.parsePax(rec + TarWriter.paxRecord("mtime", Data("1.5".utf8)), index: 1, at: 0)
        XCTAssertEqual(parsed.map(\.0), ["path", "mtime"])
        XCTAssertThrowsError(try TarReader.parsePax(Data("99 path=x\n".utf8), index: 1, at: 0))
    }

    func testEntryPathRules() {
        func comps(_ s: String) -> String {
            switch EntryPath.components(Data(s.utf8)) {
            case .success(let c): return c.joined(separator: "|")
            case .failure(let r): return "drop: \(r.reason)"
            }
        }
        XCTAssertEqual(comps("./a//b/./c/"), "a|b|c")
        XCTAssertEqual(comps("./"), "")
        XCTAssertEqual(comps("../x"), "drop: path contains '..'")
        XCTAssertEqual(comps("a/b/../../.."), "drop: path contains '..'")
        XCTAssertEqual(comps("/etc/passwd"), "drop: absolute path")
        XCTAssertEqual(comps("a..b/c..d"), "a..b|c..d")
        XCTAssertEqual(comps(String(repeating: "n", count: 256)), "drop: a name is longer than 255 bytes")
        if case .failure(let r) = EntryPath.components(Data([0x61, 0xff])) { XCTAssertEqual(r, .notUTF8) } else { XCTFail() }
    }
}
