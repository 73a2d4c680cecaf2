// Block and character device nodes: inert catalog entries with their device number, renamed, linked and
// changed like FIFOs, never opened; exported with their numbers, dropped by an import; old catalogs upgrade.
import Foundation
import GRDB
import XCTest
@testable import VolumeCore
import VolumeTestSupport

final class DeviceNodeTests: XCTestCase {
    private let root = Caller.root
    private func name(_ s: String) -> Data { Data(s.utf8) }

    func testDeviceNodesAreInertEntriesWithTheirNumber() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let v = ts.volume
        let disk = DeviceNumber(major: 8, minor: 1)
        let tty = DeviceNumber(major: 4, minor: 300) // a minor past 255 takes the split encoding
        let b = try v.create(parent: Catalog.rootIno, name: name("sda1"), kind: .blockDevice, mode: 0o660, caller: root, rdev: disk.rawValue)
        let c = try v.create(parent: Catalog.rootIno, name: name("tty"), kind: .characterDevice, mode: 0o620, caller: root, rdev: tty.rawValue)
        let f = try v.create(parent: Catalog.rootIno, name: name("fifo"), kind: .fifo, mode: 0o600, caller: root, rdev: disk.rawValue)
        XCTAssertEqual(f.rdev, 0, "only a device node keeps a device number")

        // getattr: the type bits and the number
        let gb = try v.getattr(b.ino), gc = try v.getattr(c.ino)
        XCTAssertEqual(gb.kind, .blockDevice)
        XCTAssertEqual(gb.stMode, 0o060660)
        XCTAssertEqual(DeviceNumber(gb.rdev), disk)
        XCTAssertEqual(gc.stMode, 0o020620)
        XCTAssertEqual(DeviceNumber(gc.rdev), tty)
        XCTAssertEqual(gc.size, 0)

        // chmod, chown, utimens
        let changed = try v.setattr(b.ino, AttributeChanges(mode: 0o600, uid: 12, gid: 34, atime: .at(1_000_000_000), mtime: .at(2_000_000_000)), caller: root)
        XCTAssertEqual(changed.mode, 0o600)
        XCTAssertEqual([changed.uid, changed.gid], [12, 34])
        XCTAssertEqual(changed.atime, 1_000_000_000)
        XCTAssertEqual(changed.mtime, 2_000_000_000)
        XCTAssertEqual(changed.rdev, disk.rawValue, "a change keeps the number")

        // link, rename, unlink
        let linked = try v.link(b.ino, newParent: Catalog.rootIno, newName: name("disk"), caller: root)
        XCTAssertEqual(linked.nlink, 2)
        try v.rename(parent: Catalog.rootIno, name: name("tty"), newParent: Catalog.rootIno, newName: name("console"), caller: root)
        XCTAssertEqual(try v.lookup(parent: Catalog.rootIno, name: name("console")).ino, c.ino)
        try v.unlink(parent: Catalog.rootIno, name: name("sda1"), caller: root)
        XCTAssertEqual(try v.getattr(b.ino).nlink, 1)

        // never opened as a file
        XCTAssertThrowsError(try v.open(c.ino)) { XCTAssertEqual(($0 as? VolumeError)?.errno, EINVAL, "\($0)") }
        XCTAssertThrowsError(try v.readFile("/console"))

        // the files API names the kinds
        let listed = Dictionary(uniqueKeysWithValues: try v.list("/").map { ($0.name, $0.type) })
        XCTAssertEqual(listed["disk"], "blockdev")
        XCTAssertEqual(listed["console"], "chardev")
        XCTAssertEqual(try ts.fsckProblems(), [])

        // and they survive a reopen
        let other = try ts.anotherProcess()
        defer { try? other.close() }
        let again = try other.volume(ts.volumeID, owner: "t1")
        XCTAssertEqual(try again.getattr(c.ino).rdev, tty.rawValue)
    }

    /// An export keeps device nodes as tar does (type and numbers, as GNU tar lists them); importing
    /// that archive drops them again (the Phase 1 rules).
    func testExportKeepsDeviceNodesAndImportDropsThem() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let v = ts.volume
        _ = try v.create(parent: Catalog.rootIno, name: name("sda1"), kind: .blockDevice, mode: 0o660, caller: root,
                         rdev: DeviceNumber(major: 8, minor: 1).rawValue)
        _ = try v.create(parent: Catalog.rootIno, name: name("null"), kind: .characterDevice, mode: 0o666, caller: root,
                         rdev: DeviceNumber(major: 1, minor: 3).rawValue)
        try v.writeFile("/f.txt", data: Data("x".utf8))
        let tmp = try TemporaryDirectory("export")
        defer { tmp.remove() }
        let out = tmp.path + "/devices.tgz"
        let fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let report = try v.exportArchive("/", to: FileByteSink(fd: fd, name: out))
        close(fd)
        XCTAssertEqual(report.skipped, [])
        let listing = try Tools.run("tar", ["-tvzf", out]).out
        let lines = listing.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.hasPrefix("brw-rw----") && $0.contains(" 8,1 ") && $0.hasSuffix("sda1") }, listing)
        XCTAssertTrue(lines.contains { $0.hasPrefix("crw-rw-rw-") && $0.contains(" 1,3 ") && $0.hasSuffix("null") }, listing)

        let r = try v.importArchive(from: try FileByteSource(path: out), into: "/again")
        XCTAssertEqual(Set(r.dropped.map { "\($0.path): \($0.reason)" }), ["sda1: block device", "null: character device"])
        XCTAssertEqual(try v.list("/again").map(\.name), ["f.txt"])
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    /// A catalog made before device nodes (its inode table refuses kinds 6 and 7) upgrades when it
    /// is opened: rows, links and blocks kept, inode numbers still never reused, devices accepted.
    func testACatalogFromBeforeDeviceNodesUpgrades() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        try ts.volume.writeFile("/keep.txt", data: Data("kept".utf8))
        try ts.volume.writeFile("/gone.txt", data: Data("gone".utf8))
        let gone = try ts.volume.attributes(at: "/gone.txt").ino
        try ts.volume.remove("/gone.txt")
        try ts.store.close()

        // Put the catalog back as the v1 schema made it.
        let catalogs = ts.dir.url.appendingPathComponent("volumes")
        let file = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: catalogs.path).first { $0.hasSuffix(".sqlite") })
        var config = Configuration()
        config.foreignKeysEnabled = false // as the core opens catalogs (a DROP would cascade otherwise)
        let old = try DatabaseQueue(path: catalogs.appendingPathComponent(file).path, configuration: config)
        try old.write { db in
            let sql = try XCTUnwrap(String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'inode'"))
            XCTAssertTrue(sql.contains("5, 6, 7"), "the current schema takes device kinds")
            let seq = try XCTUnwrap(Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'inode'"))
            try db.execute(sql: "CREATE TABLE inode_old AS SELECT * FROM inode")
            try db.execute(sql: "DROP TABLE inode")
            try db.execute(sql: sql.replacingOccurrences(of: "kind IN (1, 2, 3, 4, 5, 6, 7)", with: "kind IN (1, 2, 3, 4, 5)"))
            try db.execute(sql: "INSERT INTO inode SELECT * FROM inode_old; DROP TABLE inode_old")
            try db.execute(sql: "UPDATE sqlite_sequence SET seq = ? WHERE name = 'inode'", arguments: [seq])
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v2-device-nodes'")
            XCTAssertThrowsError(try db.execute(sql: "INSERT INTO inode (kind, mode, nlink, atime, mtime, ctime) VALUES (6, 0, 1, 0, 0, 0)"),
                                 "the v1 table refuses a device kind")
        }
        try old.close()

        let reopened = try ts.anotherProcess()
        defer { try? reopened.close() }
        let v = try reopened.volume(ts.volumeID, owner: "t1")
        XCTAssertEqual(try v.readFile("/keep.txt"), Data("kept".utf8))
        let dev = try v.create(parent: Catalog.rootIno, name: name("dev"), kind: .characterDevice, mode: 0o600, caller: root,
                               rdev: DeviceNumber(major: 1, minor: 5).rawValue)
        XCTAssertGreaterThan(dev.ino, gone, "inode numbers are never reused across the upgrade")
        XCTAssertEqual(try v.getattr(dev.ino).kind, .characterDevice)
        XCTAssertEqual(try reopened.fsck().flatMap(\.problems), [])
    }
}
