// The cap: checked before anything is stored, for every way of writing; overrides per volume and tenant.
import Foundation
import XCTest
@testable import VolumeCore
import VolumeTestSupport

final class QuotaTests: XCTestCase {
    /// Everything a user could observe of a volume: its tree with contents, usage, and the chunk store.
    func snapshot(_ ts: TestStore) throws -> [String] {
        var out = try ts.volume.list("/", depth: 100).map { e -> String in
            e.type == "file" ? "\(e.path) \(e.size) \(ChunkID.of(try ts.volume.readFile(e.path)).short)" : "\(e.path) \(e.type)"
        }
        let s = try ts.volume.statfs()
        let c = try ts.store.chunks.stats()
        out.append("used=\(s.usedBytes) files=\(s.files) chunks=\(c.chunks) bytes=\(c.bytes)")
        return out
    }

    func assertQuota(_ e: Error, file: StaticString = #filePath, line: UInt = #line) {
        guard case .quotaExceeded(let vol, _, let cap, _) = e as? VolumeError else {
            return XCTFail("expected quotaExceeded, got \(e)", file: file, line: line)
        }
        XCTAssertEqual(cap, 100_000, file: file, line: line)
        XCTAssertTrue(vol.hasPrefix("vol-"), file: file, line: line)
        XCTAssertEqual((e as? VolumeError)?.errno, EDQUOT, file: file, line: line)
        XCTAssertEqual((e as? VolumeError)?.code, "quota_exceeded", file: file, line: line)
        XCTAssertTrue("\(e)".contains("cap"), file: file, line: line)
    }

    func testWritesPastTheCapFailAndChangeNothing() throws {
        let ts = try TestStore(cap: 100_000, blockSize: 16_384)
        defer { ts.remove() }
        let v = ts.volume
        try v.writeFile("/a", data: Data(repeating: 1, count: 60_000))
        try v.writeFile("/t.txt", data: Data("aaaa".utf8))
        let before = try snapshot(ts)

        XCTAssertThrowsError(try v.writeFile("/b", data: Data(repeating: 2, count: 50_000))) { assertQuota($0) }
        XCTAssertEqual(try snapshot(ts), before, "single write")

        XCTAssertThrowsError(try v.writeFiles([
            WriteEntry(path: "/c", data: Data(repeating: 3, count: 20_000)),
            WriteEntry(path: "/d", data: Data(repeating: 4, count: 20_001)),
        ])) { assertQuota($0) }
        XCTAssertEqual(try snapshot(ts), before, "batch write")

        XCTAssertThrowsError(try v.replace(glob: "*.txt", old: "a", new: String(repeating: "b", count: 20_000))) { assertQuota($0) }
        XCTAssertEqual(try snapshot(ts), before, "replace")

        // replacing a file with a same-size one is fine at the cap edge; the exact cap is allowed
        try v.writeFile("/a", data: Data(repeating: 5, count: 99_996))
        XCTAssertEqual(try v.statfs().usedBytes, 100_000)
        XCTAssertThrowsError(try v.writeFile("/one-more", data: Data([1]))) { assertQuota($0) }
    }

    func testBufferedWritesFailAtTheWriteCall() throws {
        let ts = try TestStore(cap: 100_000, blockSize: 16_384)
        defer { ts.remove() }
        let v = ts.volume
        let f = try v.create(parent: 1, name: Data("f".utf8), kind: .file, mode: 0o644, caller: .root)
        try v.open(f.ino)
        try v.write(f.ino, offset: 0, data: Data(repeating: 7, count: 90_000), caller: .root)
        XCTAssertThrowsError(try v.write(f.ino, offset: 90_000, data: Data(repeating: 8, count: 20_000), caller: .root)) { assertQuota($0) }
        // a second file cannot take what the first has reserved but not yet committed
        let g = try v.create(parent: 1, name: Data("g".utf8), kind: .file, mode: 0o644, caller: .root)
        XCTAssertThrowsError(try v.write(g.ino, offset: 0, data: Data(repeating: 9, count: 20_000), caller: .root)) { assertQuota($0) }
        try v.release(f.ino, caller: .root)
        XCTAssertEqual(try v.readFile("/f"), Data(repeating: 7, count: 90_000))
        XCTAssertEqual(try v.statfs().usedBytes, 90_000)
        XCTAssertThrowsError(try v.truncate(f.ino, to: 200_000, caller: .root)) { assertQuota($0) }
        XCTAssertEqual(try v.stat("/f").size, 90_000)
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testOverridesPerVolumeAndTenant() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        XCTAssertEqual(try ts.store.quota(ts.volumeID), QuotaInfo(volumeId: ts.volumeID, capBytes: 2 << 30, usedBytes: 0, source: "default"))
        try ts.store.setTenantQuota("t1", bytes: 4 << 30)
        XCTAssertEqual(try ts.store.quota(ts.volumeID).source, "tenant")
        XCTAssertEqual(try ts.volume.statfs().capBytes, 4 << 30)
        let other = try ts.store.createVolume(owner: "t1", name: "second")
        XCTAssertEqual(other.quotaBytes, 4 << 30)
        _ = try ts.store.setVolumeQuota(ts.volumeID, bytes: 1000)
        XCTAssertEqual(try ts.store.quota(ts.volumeID).capBytes, 1000)
        XCTAssertEqual(try ts.store.quota(ts.volumeID).source, "volume")
        XCTAssertThrowsError(try ts.volume.writeFile("/x", data: Data(count: 1001)))
        try ts.volume.writeFile("/x", data: Data(count: 900))
        XCTAssertThrowsError(try ts.store.setVolumeQuota(ts.volumeID, bytes: 500)) { XCTAssertEqual(($0 as? VolumeError)?.errno, EINVAL) }
        XCTAssertThrowsError(try ts.store.setVolumeQuota(ts.volumeID, bytes: 0))
        _ = try ts.store.setVolumeQuota(ts.volumeID, bytes: nil)
        XCTAssertEqual(try ts.store.quota(ts.volumeID).capBytes, 4 << 30)
        // the cap lives in the volume's own catalog, so a second process sees it
        let again = try VolumeStore(dataDir: ts.dir.url)
        XCTAssertEqual(try again.volume(ts.volumeID, owner: nil).statfs().capBytes, 4 << 30)
    }
}
