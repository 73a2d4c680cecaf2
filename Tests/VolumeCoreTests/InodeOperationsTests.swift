// Inode-level operations without a kernel, as their statements are written: create returns what
// the catalog stored (it is not read back), setattr and extended attributes read back as set.
import Foundation
import VolumeCore
import VolumeTestSupport
import XCTest

final class InodeOperationsTests: XCTestCase {
    func testCreateReturnsTheAttributesItStored() throws {
        for window in [0, GroupCommitTests.longWindow] {
            let ts = try TestStore(commitWindow: window)
            defer { ts.remove() }
            let who = Caller(uid: 1000, gid: 1000, origin: 1)
            let root = MountView.rootIno
            let sgid = try ts.volume.create(parent: root, name: Data("sgid".utf8), kind: .directory, mode: 0o2775,
                                            caller: Caller(uid: 0, gid: 50, origin: 1))
            for parent in [root, sgid.ino] {
                for kind in [FileKind.file, .directory, .symlink, .fifo] {
                    let made = try ts.volume.create(parent: parent, name: Data("\(kind)".utf8), kind: kind, mode: 0o10644,
                                                    caller: who, target: kind == .symlink ? Data("target".utf8) : nil)
                    XCTAssertEqual(made, try ts.volume.getattr(made.ino), "window \(window), parent \(parent), \(kind)")
                    XCTAssertEqual(made.gid, parent == root ? 1000 : 50)
                }
            }
            try ts.volume.sync()
            XCTAssertEqual(try ts.fsckProblems(), [])
        }
    }

    func testSetattrAndRelatimeReadBack() throws {
        let ts = try TestStore(commitWindow: GroupCommitTests.longWindow)
        defer { ts.remove() }
        let user = Caller(uid: 1000, gid: 1000, origin: 1)
        let f = try ts.volume.create(parent: MountView.rootIno, name: Data("f".utf8), kind: .file, mode: 0o6755, caller: user)
        var a = try ts.volume.setattr(f.ino, AttributeChanges(atime: .at(1_000), mtime: .at(2_000)), caller: user)
        XCTAssertEqual([a.atime, a.mtime], [1_000, 2_000])
        XCTAssertGreaterThanOrEqual(a.ctime, f.ctime)
        a = try ts.volume.setattr(f.ino, AttributeChanges(gid: 2000), caller: user)
        XCTAssertEqual([a.mode, a.uid, a.gid], [0o755, 1000, 2000], "a chown by a user clears setuid and setgid")
        XCTAssertEqual([a.atime, a.mtime], [1_000, 2_000], "times not asked for stay")
        XCTAssertTrue(try ts.volume.markAccessed(f.ino), "an atime older than the mtime is marked")
        XCTAssertGreaterThan(try ts.volume.getattr(f.ino).atime, a.ctime - 1)
        XCTAssertEqual(try ts.volume.getattr(f.ino).ctime, a.ctime, "marking the atime leaves the ctime")
        XCTAssertFalse(try ts.volume.markAccessed(f.ino))
    }

    func testExtendedAttributesReadBack() throws {
        let ts = try TestStore(commitWindow: GroupCommitTests.longWindow)
        defer { ts.remove() }
        let who = Caller(uid: 0, gid: 0, origin: 1)
        let ino = try ts.volume.create(parent: MountView.rootIno, name: Data("f".utf8), kind: .file, mode: 0o644, caller: who).ino
        XCTAssertThrowsError(try ts.volume.getxattr(ino, name: "user.a")) { XCTAssertEqual($0 as? VolumeError, .noSuchAttribute("user.a")) }
        XCTAssertThrowsError(try ts.volume.setxattr(ino, name: "user.a", value: Data("1".utf8), replace: true, caller: who)) {
            XCTAssertEqual($0 as? VolumeError, .noSuchAttribute("user.a"))
        }
        try ts.volume.setxattr(ino, name: "user.a", value: Data("1".utf8), create: true, caller: who)
        try ts.volume.setxattr(ino, name: "user.empty", value: Data(), caller: who)
        XCTAssertThrowsError(try ts.volume.setxattr(ino, name: "user.a", value: Data("2".utf8), create: true, caller: who)) {
            XCTAssertEqual(($0 as? VolumeError)?.errno, EEXIST)
        }
        try ts.volume.setxattr(ino, name: "user.a", value: Data("3".utf8), replace: true, caller: who)
        XCTAssertEqual(try ts.volume.getxattr(ino, name: "user.a"), Data("3".utf8))
        XCTAssertEqual(try ts.volume.getxattr(ino, name: "user.empty"), Data())
        XCTAssertEqual(try ts.volume.listxattr(ino), ["user.a", "user.empty"])
        try ts.volume.sync()
        XCTAssertEqual(try ts.volume.getxattr(ino, name: "user.a"), Data("3".utf8), "read outside the group too")
        try ts.volume.removexattr(ino, name: "user.a", caller: who)
        XCTAssertThrowsError(try ts.volume.getxattr(ino, name: "user.a"))
        XCTAssertEqual(try ts.fsckProblems(), [])
    }
}
