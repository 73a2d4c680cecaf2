// The POSIX conformance table on each site: a plain directory (to prove the checks), then a
// read-write, a read-only and a subpath mount, each followed by fsck.
import Foundation
import VolumeCore
import VolumeFUSE
import VolumeTestSupport
import XCTest

final class ConformanceTests: MountTestCase {
    /// Volumes for the table: room for the sparse file past 4 GiB.
    private func makeStore() throws -> TestStore { try TestStore(cap: 16 << 30, commitWindow: StoreOptions.mountCommitWindow) }

    private func report(_ failures: [String], file: StaticString = #filePath, line: UInt = #line) {
        for f in failures { XCTFail(f, file: file, line: line) }
    }

    func testPlainDirectory() throws {
        let dir = try TemporaryDirectory("posix")
        defer { dir.remove() }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
        try PosixTable.arrange(in: dir.path)
        report(PosixTable.run(in: dir.path, site: .plain))
    }

    func testReadWriteMount() throws {
        let ts = try makeStore()
        defer { ts.remove() }
        try withMount(ts.volume) { m in
            try PosixTable.arrange(in: m.mountpoint)
            report(PosixTable.run(in: m.mountpoint, site: .mount))
        }
        assertFsckClean(ts)
    }

    func testReadOnlyMount() throws {
        let ts = try makeStore()
        defer { ts.remove() }
        try withMount(ts.volume) { m in try PosixTable.arrange(in: m.mountpoint) }
        let before = try ts.volume.changeSequence()
        try withMount(ts.volume, options: MountOptions(readOnly: true)) { m in
            report(PosixTable.run(in: m.mountpoint, site: .readOnly))
        }
        XCTAssertEqual(try ts.volume.changeSequence(), before, "a read-only mount committed something")
        assertFsckClean(ts)
    }

    func testSubpathMount() throws {
        let ts = try makeStore()
        defer { ts.remove() }
        _ = try ts.volume.makeDirectory("/outer/sub", parents: true)
        try ts.volume.writeFile("/outer/sibling.txt", data: Data("outside".utf8))
        try withMount(ts.volume, options: MountOptions(subpath: "/outer/sub")) { m in
            try PosixTable.arrange(in: m.mountpoint)
            report(PosixTable.run(in: m.mountpoint, site: .subpath))
            XCTAssertFalse(FileManager.default.fileExists(atPath: m.mountpoint + "/sibling.txt"))
        }
        XCTAssertTrue(try ts.volume.exists("/outer/sub/create_write_read/f"))
        XCTAssertEqual(try ts.volume.readFile("/outer/sibling.txt"), Data("outside".utf8))
        assertFsckClean(ts)
    }
}
