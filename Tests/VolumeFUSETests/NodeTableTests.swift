// The kernel bookkeeping without a kernel: what the node table keeps after the kernel forgets.
import Foundation
@testable import VolumeCore
@testable import VolumeFUSE
import XCTest

final class NodeTableTests: XCTestCase {
    private func attrs(_ ino: UInt64, _ kind: FileKind = .file) -> Attributes {
        Attributes(ino: ino, kind: kind, mode: 0o644, uid: 0, gid: 0, size: 0, nlink: 1, atime: 0, mtime: 0, ctime: 0, rdev: 0)
    }

    private func name(_ s: String) -> Data { Data(s.utf8) }

    /// A mount that creates and deletes files all day: every name the kernel looked up stayed in its
    /// parent's names after the kernel forgot the node, so the table grew without bound.
    func testForgottenNodesTakeTheirNamesWithThem() {
        let t = NodeTable()
        let root = MountView.rootIno
        t.entered(attrs(2, .directory), parent: root, name: name("dir"))
        for i in 0..<10_000 {
            let ino = UInt64(100 + i)
            t.entered(attrs(ino), parent: 2, name: name("f\(i)"))
            t.entered(attrs(ino), parent: 2, name: name("f\(i)"))
            t.forget(ino, 2)
        }
        XCTAssertEqual(t.count, 2, "the root and the directory")
        XCTAssertEqual(t.nameCount, 1, "only 'dir' in the root; nothing left in the directory")
        XCTAssertEqual(t.lookups(2), 1)
    }

    /// A node renamed over and over (each rename drops the old name, the kernel looks the new one
    /// up) loses the name it has when forgotten; of a hard-linked node, every name goes, except one
    /// that another node has taken since.
    func testRenamedNodesAndReusedNamesStayExact() {
        let t = NodeTable()
        let root = MountView.rootIno
        for i in 0..<1_000 {
            t.dropEntry(parent: root, name: name("r\(i)"))
            t.entered(attrs(7), parent: root, name: name("r\(i + 1)"))
        }
        XCTAssertEqual(t.nameCount, 1)
        t.forget(7, 1000)
        XCTAssertEqual(t.nameCount, 0, "its current name goes with it")
        XCTAssertEqual(t.count, 1)
        // A hard link: two names, one node; and a name that now names another node.
        t.entered(attrs(8), parent: root, name: name("a"))
        t.entered(attrs(8), parent: root, name: name("b"))
        t.entered(attrs(9), parent: root, name: name("b"))
        t.forget(8, 2)
        XCTAssertNil(t.child(root, name("a")))
        XCTAssertEqual(t.child(root, name("b")), 9, "'b' names node 9 now and stays")
    }
}
