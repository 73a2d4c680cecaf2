// Deleting an inode deletes every row that names it: the catalog declares foreign keys but does not
// enforce them (their cascades were a fifth of an unlink's CPU), so the core and fsck do it themselves.
import Foundation
import GRDB
import VolumeTestSupport
import XCTest
@testable import VolumeCore

final class InodeDeletionTests: XCTestCase {
    private let who = Caller(uid: 0, gid: 0, origin: 3)

    /// Deleting an inode deletes every row that names it (foreign keys are declared, not enforced),
    /// including one unlinked while open, with an xattr, and fsck's repair of an unreachable one.
    func testDeletedInodesLeaveNoRowsBehind() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let vol = ts.volume
        let view = try MountView(volume: vol)
        for name in ["plain", "open"] {
            try vol.writeFile("/\(name)", data: Data(repeating: 1, count: 300_000))
            let ino = try vol.attributes(at: "/\(name)").ino
            try view.setxattr(ino, name: "user.a", value: Data("1".utf8), caller: who)
        }
        let open = try vol.attributes(at: "/open").ino
        _ = try view.open(open, write: false, caller: who)
        try view.unlink(parent: MountView.rootIno, name: Data("plain".utf8), caller: who)
        try view.unlink(parent: MountView.rootIno, name: Data("open".utf8), caller: who)
        try view.release(open, caller: who)
        try vol.writeFile("/lost/f", data: Data(repeating: 2, count: 300_000), createParents: true)
        try view.setxattr(try vol.attributes(at: "/lost/f").ino, name: "user.b", value: Data("2".utf8), caller: who)
        try vol.sync()
        let raw = try DatabaseQueue(path: ts.store.catalogPath(ts.volumeID))
        try raw.write { db in try db.execute(sql: "DELETE FROM dentry WHERE name = ?", arguments: [Data("lost".utf8)]) }
        try raw.close()
        let report = try ts.store.fsck(ts.volumeID, repair: true)[0]
        XCTAssertTrue(report.ok, "\(report.problems)")
        let counts = try DatabaseQueue(path: ts.store.catalogPath(ts.volumeID)).read { db in
            try ["block", "xattr", "orphan"].map { try Int.fetchOne(db, sql: "SELECT count(*) FROM \($0)") ?? -1 }
        }
        XCTAssertEqual(counts, [0, 0, 0], "blocks, xattrs and orphan marks left of deleted inodes")
        XCTAssertEqual(try ts.fsckProblems(), [])
    }
}
