// Creating entries at inode level: what create returns is what the catalog stored (it is no
// longer read back), for every kind, in a setgid directory too.
import Foundation
import VolumeCore
import VolumeTestSupport
import XCTest

final class CreateTests: XCTestCase {
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
}
