// Subpaths resolve to a directory without following any symlink; every other case is a clear invalid_subpath.
import Foundation
import XCTest
@testable import VolumeCore
import VolumeTestSupport

final class SubpathTests: XCTestCase {
    private var ts: TestStore!
    override func setUpWithError() throws {
        ts = try TestStore()
        let v = ts.volume
        _ = try v.makeDirectory("/data/dir/deeper", parents: true)
        try v.writeFile("/data/file", data: Data("x".utf8))
        let root = MountView.rootIno
        let data = try v.lookup(parent: root, name: Data("data".utf8)).ino
        for (parent, name, target) in [(root, "inside", "/data/dir"), (root, "outside", "../../../etc"), (root, "abs", "/etc"),
                                       (data, "linkdir", "dir"), (data, "dangling", "nowhere")] {
            _ = try v.create(parent: parent, name: Data(name.utf8), kind: .symlink, mode: 0o777, caller: .root, target: Data(target.utf8))
        }
    }
    override func tearDown() { ts.remove() }

    func testDirectoriesResolveToTheirInode() throws {
        let v = ts.volume
        for (text, normal) in [("/", "/"), ("", "/"), ("/data/dir", "/data/dir"), ("data/dir/", "/data/dir"),
                               ("//data/./dir//deeper", "/data/dir/deeper")] {
            let r = try v.resolveSubpath(text)
            XCTAssertEqual(r.path, normal, text)
            XCTAssertEqual(r.attributes.kind, .directory)
            XCTAssertEqual(r.attributes.ino, try v.attributes(at: normal).ino, text)
        }
    }

    func testAViewOfAResolvedSubpathKeepsTheDirectoryFoundWhenThePathIsSwappedForALink() throws {
        let v = ts.volume
        let resolved = try v.resolveSubpath("/data/dir")
        // Between the check and the mount, the directory is renamed and a link to the volume root
        // put in its place (the kubelet subPath race).
        try v.move("/data/dir", to: "/data/renamed")
        let data = try v.lookup(parent: MountView.rootIno, name: Data("data".utf8)).ino
        _ = try v.create(parent: data, name: Data("dir".utf8), kind: .symlink, mode: 0o777, caller: .root, target: Data("/".utf8))
        let view = try MountView(volume: v, resolved: resolved)
        XCTAssertEqual(view.realRoot, resolved.attributes.ino)
        XCTAssertEqual(try view.readdir(MountView.rootIno).map(\.nameString), ["deeper"], "the directory checked, not the volume root")
        // Resolving again now refuses the link.
        XCTAssertThrowsError(try v.resolveSubpath("/data/dir")) { XCTAssertEqual(($0 as? VolumeError)?.code, "invalid_subpath") }
    }

    func testLinksDotDotMissingAndFilesAreRefused() {
        let table: [(String, String)] = [
            ("/inside", "symbolic link /inside"),          // a link to a directory inside the volume: still refused
            ("/inside/deeper", "symbolic link /inside"),
            ("/outside", "symbolic link /outside"),        // a link that points "outside"
            ("/abs", "symbolic link /abs"),
            ("/data/linkdir", "symbolic link /data/linkdir"),
            ("/data/dangling", "symbolic link /data/dangling"),
            ("/data/..", "'..'"),
            ("/data/dir/../../data", "'..'"),
            ("..", "'..'"),
            ("/missing", "there is no /missing"),
            ("/data/dir/missing", "there is no /data/dir/missing"),
            ("/data/file", "not a directory: /data/file is a file"),
            ("/data/file/x", "not a directory: /data/file"),
            ("/data\u{0}", "NUL"),
            ("/" + String(repeating: "n", count: 256), "the limit is 255"),
        ]
        for (text, why) in table {
            XCTAssertThrowsError(try ts.volume.resolveSubpath(text), text) { e in
                guard let ve = e as? VolumeError, case .invalidSubpath(let m) = ve else { return XCTFail("\(text): \(e)") }
                XCTAssertEqual(ve.code, "invalid_subpath")
                XCTAssertTrue(m.contains(why), "\(text.debugDescription): '\(m)' should say '\(why)'")
            }
        }
    }
}
