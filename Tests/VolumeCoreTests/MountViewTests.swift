// MountView without a kernel: subpath roots and containment, read-only refusal, name checks,
// relatime; and the change tracker that tells other processes' commits from this one's.
import Foundation
import VolumeCore
import VolumeTestSupport
import XCTest

final class MountViewTests: XCTestCase {
    private let root = Caller(uid: 0, gid: 0, origin: 7)

    func testWholeVolumeViewKeepsInodeNumbers() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        try ts.volume.writeFile("/a/f", data: Data("x".utf8), createParents: true)
        let v = try MountView(volume: ts.volume)
        XCTAssertFalse(v.isSubpath)
        let a = try v.lookup(parent: MountView.rootIno, name: Data("a".utf8))
        XCTAssertEqual(a.ino, try ts.volume.attributes(at: "/a").ino)
        XCTAssertEqual(try v.lookup(parent: MountView.rootIno, name: Data("..".utf8)).ino, MountView.rootIno)
        XCTAssertEqual(try v.lookup(parent: a.ino, name: Data("..".utf8)).ino, MountView.rootIno)
        XCTAssertEqual(try v.lookup(parent: a.ino, name: Data(".".utf8)).ino, a.ino)
    }

    func testSubpathViewShowsOnlyItsTree() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let vol = ts.volume
        try vol.writeFile("/outside.txt", data: Data("o".utf8))
        try vol.writeFile("/data/sub/inside.txt", data: Data("i".utf8), createParents: true)
        let subIno = try vol.attributes(at: "/data/sub").ino
        let v = try MountView(volume: vol, subpath: "/data/sub")
        XCTAssertTrue(v.isSubpath)
        XCTAssertEqual(v.realRoot, subIno)
        // The view's root is inode 1 and is the subpath directory; the volume root trades numbers with it.
        let r = try v.getattr(MountView.rootIno)
        XCTAssertEqual(r.ino, MountView.rootIno)
        XCTAssertEqual(r.kind, .directory)
        XCTAssertEqual(v.real(MountView.rootIno), subIno)
        XCTAssertEqual(v.view(1), subIno)
        XCTAssertEqual(try v.readdir(MountView.rootIno).map(\.nameString), ["inside.txt"])
        // `..` of the root stays at the root; nothing outside is found by name.
        XCTAssertEqual(try v.lookup(parent: MountView.rootIno, name: Data("..".utf8)).ino, MountView.rootIno)
        XCTAssertEqual(try v.parent(of: MountView.rootIno), MountView.rootIno)
        XCTAssertThrowsError(try v.lookup(parent: MountView.rootIno, name: Data("outside.txt".utf8))) {
            XCTAssertEqual(($0 as? VolumeError)?.errno, ENOENT)
        }
        // Creating through the view lands under the subpath.
        let f = try v.create(parent: MountView.rootIno, name: Data("new".utf8), kind: .file, mode: 0o644, caller: root)
        XCTAssertTrue(try vol.exists("/data/sub/new"))
        XCTAssertEqual(try v.lookup(parent: MountView.rootIno, name: Data("new".utf8)).ino, f.ino)
        XCTAssertThrowsError(try MountView(volume: vol, subpath: "/outside.txt")) { XCTAssertEqual(($0 as? VolumeError)?.errno, ENOTDIR) }
        XCTAssertThrowsError(try MountView(volume: vol, subpath: "/missing")) { XCTAssertEqual(($0 as? VolumeError)?.errno, ENOENT) }
    }

    func testSubpathRefusesDirectoriesMovedOutside() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let vol = ts.volume
        try vol.writeFile("/sub/d/secret-later.txt", data: Data("s".utf8), createParents: true)
        let v = try MountView(volume: vol, subpath: "/sub")
        let d = try v.lookup(parent: MountView.rootIno, name: Data("d".utf8))
        XCTAssertEqual(try v.readdir(d.ino).map(\.nameString), ["secret-later.txt"])
        // Another writer moves the directory out of the subpath; the view must not follow it.
        try vol.move("/sub/d", to: "/moved-out")
        v.treeChangedElsewhere()
        XCTAssertThrowsError(try v.readdir(d.ino)) { XCTAssertEqual(($0 as? VolumeError)?.errno, ENOENT) }
        XCTAssertThrowsError(try v.lookup(parent: d.ino, name: Data("secret-later.txt".utf8)))
        XCTAssertThrowsError(try v.create(parent: d.ino, name: Data("x".utf8), kind: .file, mode: 0o644, caller: root))
    }

    func testReadOnlyViewRefusesEveryChange() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let vol = ts.volume
        try vol.writeFile("/f", data: Data("content".utf8))
        _ = try vol.makeDirectory("/d")
        let v = try MountView(volume: vol, readOnly: true)
        let f = try v.lookup(parent: MountView.rootIno, name: Data("f".utf8))
        let d = try v.lookup(parent: MountView.rootIno, name: Data("d".utf8))
        let seq = try vol.changeSequence()
        let n = Data("n".utf8)
        let refused: [(String, () throws -> Void)] = [
            ("create", { _ = try v.create(parent: 1, name: n, kind: .file, mode: 0o644, caller: self.root) }),
            ("mkdir", { _ = try v.create(parent: 1, name: n, kind: .directory, mode: 0o755, caller: self.root) }),
            ("link", { _ = try v.link(f.ino, newParent: 1, newName: n, caller: self.root) }),
            ("unlink", { try v.unlink(parent: 1, name: Data("f".utf8), caller: self.root) }),
            ("rmdir", { try v.rmdir(parent: 1, name: Data("d".utf8), caller: self.root) }),
            ("rename", { try v.rename(parent: 1, name: Data("f".utf8), newParent: d.ino, newName: n, caller: self.root) }),
            ("chmod", { _ = try v.setattr(f.ino, AttributeChanges(mode: 0o600), caller: self.root) }),
            ("truncate", { _ = try v.setattr(f.ino, AttributeChanges(size: 0), caller: self.root) }),
            ("setxattr", { try v.setxattr(f.ino, name: "user.a", value: Data(), caller: self.root) }),
            ("removexattr", { try v.removexattr(f.ino, name: "user.a", caller: self.root) }),
            ("open for writing", { try v.open(f.ino, write: true, caller: self.root) }),
            ("write", { _ = try v.write(f.ino, offset: 0, data: n, caller: self.root) }),
        ]
        for (what, body) in refused {
            XCTAssertThrowsError(try body(), what) { XCTAssertEqual(($0 as? VolumeError)?.errno, EROFS, what) }
        }
        // Reading works and leaves no trace (no relatime write on a read-only view).
        XCTAssertFalse(try v.open(f.ino, write: false, caller: root))
        XCTAssertEqual(try v.read(f.ino, offset: 0, count: 100), Data("content".utf8))
        try v.fsync(f.ino, caller: root)
        try v.release(f.ino, caller: root)
        XCTAssertFalse(try v.openDirectory(MountView.rootIno))
        XCTAssertEqual(try vol.changeSequence(), seq)
    }

    func testNamesOver255BytesAreTooLongEvenToLookUp() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let v = try MountView(volume: ts.volume)
        let long = Data(repeating: UInt8(ascii: "a"), count: 256)
        XCTAssertThrowsError(try v.lookup(parent: 1, name: long)) { XCTAssertEqual(($0 as? VolumeError)?.errno, ENAMETOOLONG) }
        XCTAssertThrowsError(try v.create(parent: 1, name: long, kind: .file, mode: 0o644, caller: root)) {
            XCTAssertEqual(($0 as? VolumeError)?.errno, ENAMETOOLONG)
        }
        XCTAssertNoThrow(try v.create(parent: 1, name: Data(repeating: UInt8(ascii: "a"), count: 255), kind: .file, mode: 0o644, caller: root))
    }

    func testRelatimeMarksReadsOnlyWhenTheAtimeIsNotNewer() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let vol = ts.volume
        let v = try MountView(volume: vol)
        let f = try v.create(parent: 1, name: Data("f".utf8), kind: .file, mode: 0o644, caller: root)
        _ = try vol.setattr(f.ino, AttributeChanges(atime: .at(1_000), mtime: .at(2_000)), caller: root)
        XCTAssertTrue(try v.open(f.ino, write: false, caller: root))
        try v.release(f.ino, caller: root)
        let a = try v.getattr(f.ino).atime
        XCTAssertGreaterThan(a, 2_000)
        XCTAssertFalse(try v.open(f.ino, write: false, caller: root), "atime is already newer than mtime and ctime")
        try v.release(f.ino, caller: root)
        XCTAssertEqual(try v.getattr(f.ino).atime, a)
        XCTAssertFalse(try v.open(f.ino, write: true, read: false, caller: root), "write-only opens do not mark")
        try v.release(f.ino, caller: root)
    }

    func testOpenWithTruncateEmptiesTheFile() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        try ts.volume.writeFile("/f", data: Data("content".utf8))
        let v = try MountView(volume: ts.volume)
        let f = try v.lookup(parent: 1, name: Data("f".utf8))
        try v.open(f.ino, write: true, truncate: true, caller: root)
        XCTAssertEqual(try v.getattr(f.ino).size, 0)
        try v.release(f.ino, caller: root)
        XCTAssertEqual(try ts.volume.readFile("/f"), Data())
    }

    func testAFileOpenedAsCreatedTakesWritesAndAnUnlinkWhileOpen() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let v = try MountView(volume: ts.volume)
        let a = try v.create(parent: 1, name: Data("new".utf8), kind: .file, mode: 0o644, caller: root)
        try v.openCreated(a)
        try v.write(a.ino, offset: 3, data: Data("abc".utf8), caller: root)
        XCTAssertEqual(try v.getattr(a.ino).size, 6)
        try v.unlink(parent: 1, name: Data("new".utf8), caller: root)
        XCTAssertEqual(try v.read(a.ino, offset: 0, count: 10), Data([0, 0, 0]) + Data("abc".utf8))
        try v.release(a.ino, caller: root)
        XCTAssertThrowsError(try v.getattr(a.ino)) { XCTAssertEqual(($0 as? VolumeError)?.errno, ENOENT) }
        XCTAssertEqual(try ts.fsckProblems(), [])
        let ro = try MountView(volume: ts.volume, readOnly: true)
        XCTAssertThrowsError(try ro.openCreated(a)) { XCTAssertEqual(($0 as? VolumeError)?.errno, EROFS) }
    }

    func testForeignChangesCountOnlyOtherProcessesCommits() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let vol = ts.volume
        XCTAssertEqual(try vol.foreignChanges(), 0)
        try vol.writeFile("/mine", data: Data("1".utf8))
        _ = try vol.makeDirectory("/mine-dir")
        XCTAssertEqual(try vol.foreignChanges(), 0, "commits of this process are not foreign")
        // A second store on the same directory is what another process is: its own Volume object.
        let other = try ts.anotherProcess()
        defer { try? other.close() }
        let theirs = try other.volume(ts.volumeID, owner: nil)
        try theirs.writeFile("/theirs", data: Data("2".utf8))
        try theirs.writeFile("/theirs2", data: Data("3".utf8))
        XCTAssertEqual(try vol.foreignChanges(), 2)
        try vol.writeFile("/mine2", data: Data("4".utf8))
        XCTAssertEqual(try vol.foreignChanges(), 2)
        // A file open here reloads what the other process committed.
        let ino = try vol.attributes(at: "/theirs").ino
        try vol.open(ino)
        XCTAssertEqual(try vol.read(ino, offset: 0, count: 10), Data("2".utf8))
        try theirs.writeFile("/theirs", data: Data("changed".utf8))
        XCTAssertEqual(try vol.foreignChanges(), 3)
        XCTAssertEqual(try vol.read(ino, offset: 0, count: 10), Data("changed".utf8))
        try vol.release(ino, caller: root)
    }

    func testChangeTimesBatch() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        try ts.volume.writeFile("/a", data: Data("a".utf8))
        let a = try ts.volume.attributes(at: "/a")
        let times = try ts.volume.changeTimes([1, a.ino, 999_999])
        XCTAssertEqual(times[a.ino], a.ctime)
        XCTAssertNotNil(times[1])
        XCTAssertNil(times[999_999])
        let many = try ts.volume.changeTimes(Array(1...1200))
        XCTAssertEqual(many.count, 2)
    }
}
