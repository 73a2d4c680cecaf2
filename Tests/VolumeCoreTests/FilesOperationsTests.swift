// The path-level files operations, as the files API and the CLI use them.
import Foundation
import XCTest
@testable import VolumeCore
import VolumeTestSupport

final class FilesOperationsTests: XCTestCase {
    var ts: TestStore!
    var v: Volume { ts.volume }

    override func setUpWithError() throws { ts = try TestStore(blockSize: 4096) }
    override func tearDownWithError() throws {
        XCTAssertEqual(try ts.fsckProblems(), [])
        ts.remove()
    }

    func bytes(_ s: String) -> Data { Data(s.utf8) }

    func testWriteReadReplaceAndRanges() throws {
        let info = try v.writeFile("/notes.txt", data: bytes("first"))
        XCTAssertEqual(info, WriteInfo(path: "/notes.txt", size: 5))
        try v.writeFile("/notes.txt", data: bytes("second version"))
        XCTAssertEqual(try v.readFile("/notes.txt"), bytes("second version"))
        let big = Data((0..<50_000).map { UInt8(truncatingIfNeeded: $0 * 31) })
        try v.writeFile("/big", data: big)
        XCTAssertEqual(try v.readFile("/big"), big)
        XCTAssertEqual(try v.readFile("/big", offset: 4090, length: 20), big[4090..<4110])
        XCTAssertEqual(try v.readFile("/big", offset: 49_990, length: 100), big[49_990...])
        XCTAssertEqual(try v.readFile("/big", offset: 60_000, length: 10), Data())
        XCTAssertEqual(try v.stat("/big").size, 50_000)
        // shrinking a file releases its usage
        try v.writeFile("/big", data: bytes("x"))
        XCTAssertEqual(try v.statfs().usedBytes, 15)
    }

    func testParentsAreRequiredUnlessAsked() throws {
        XCTAssertThrowsError(try v.writeFile("/a/b/c.txt", data: bytes("x"))) { XCTAssertEqual(($0 as? VolumeError)?.errno, ENOENT) }
        try v.writeFile("/a/b/c.txt", data: bytes("x"), createParents: true)
        XCTAssertEqual(try v.stat("/a/b").type, "dir")
        XCTAssertThrowsError(try v.writeFile("/a/b", data: bytes("x"))) { XCTAssertEqual(($0 as? VolumeError)?.errno, EISDIR) }
        XCTAssertThrowsError(try v.writeFile("/a/b/c.txt/d", data: bytes("x"), createParents: true)) {
            XCTAssertEqual(($0 as? VolumeError)?.errno, ENOTDIR)
        }
    }

    func testBatchWriteIsAllOrNothing() throws {
        try v.writeFile("/keep.txt", data: bytes("original"))
        try v.makeDirectory("/dir")
        let entries = [
            WriteEntry(path: "/keep.txt", data: bytes("changed")),
            WriteEntry(path: "/new1.txt", data: bytes("one")),
            WriteEntry(path: "/dir", data: bytes("cannot write over a directory")),
        ]
        XCTAssertThrowsError(try v.writeFiles(entries)) { XCTAssertEqual(($0 as? VolumeError)?.errno, EISDIR) }
        XCTAssertEqual(try v.readFile("/keep.txt"), bytes("original"))
        XCTAssertFalse(try v.exists("/new1.txt"))
        let ok = try v.writeFiles([WriteEntry(path: "/x/1", data: bytes("1")), WriteEntry(path: "/x/2", data: bytes("22"))], createParents: true)
        XCTAssertEqual(ok.map(\.size), [1, 2])
        XCTAssertThrowsError(try v.writeFiles([WriteEntry(path: "/d", data: Data()), WriteEntry(path: "//d", data: Data())]))
    }

    func testMakeDirectoryListAndStat() throws {
        XCTAssertTrue(try v.makeDirectory("/p/q/r", parents: true))
        XCTAssertFalse(try v.makeDirectory("/p/q/r", parents: true))
        XCTAssertThrowsError(try v.makeDirectory("/p/q/r")) { XCTAssertEqual(($0 as? VolumeError)?.errno, EEXIST) }
        XCTAssertThrowsError(try v.makeDirectory("/missing/x")) { XCTAssertEqual(($0 as? VolumeError)?.errno, ENOENT) }
        try v.writeFile("/p/file", data: bytes("abc"), mode: 0o600)
        XCTAssertEqual(try v.list("/p").map(\.name), ["file", "q"])
        XCTAssertEqual(try v.list("/p", depth: 2).map(\.path), ["/p/file", "/p/q", "/p/q/r"])
        let st = try v.stat("/p/file")
        XCTAssertEqual(st.type, "file")
        XCTAssertEqual(st.mode, "0600")
        XCTAssertEqual(st.size, 3)
        XCTAssertEqual(st.path, "/p/file")
        XCTAssertEqual(try v.stat("/p").size, 0)
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let modified = try XCTUnwrap(f.date(from: st.modified), "modified is ISO-8601: \(st.modified)")
        XCTAssertLessThan(abs(modified.timeIntervalSinceNow), 60)
        XCTAssertEqual(EntryInfo.iso(1_700_000_000_123_456_789), "2023-11-14T22:13:20.123Z")
        XCTAssertEqual(EntryInfo.iso(-1_500_000_000), "1969-12-31T23:59:58.500Z")
        XCTAssertThrowsError(try v.list("/p/file")) { XCTAssertEqual(($0 as? VolumeError)?.errno, ENOTDIR) }
        XCTAssertTrue(try v.exists("/p/q"))
        XCTAssertFalse(try v.exists("/p/nope"))
        XCTAssertFalse(try v.exists("/p/file/under-a-file"))
    }

    func testMoveAndRemove() throws {
        try v.writeFile("/a.txt", data: bytes("A"))
        try v.writeFile("/b.txt", data: bytes("B"))
        XCTAssertThrowsError(try v.move("/a.txt", to: "/b.txt")) { XCTAssertEqual(($0 as? VolumeError)?.errno, EEXIST) }
        try v.move("/a.txt", to: "/b.txt", overwrite: true)
        XCTAssertEqual(try v.readFile("/b.txt"), bytes("A"))
        XCTAssertFalse(try v.exists("/a.txt"))
        try v.writeFile("/d/e/f.txt", data: bytes("F"), createParents: true)
        XCTAssertThrowsError(try v.move("/d", to: "/d/e/inside")) { XCTAssertEqual(($0 as? VolumeError)?.errno, EINVAL) }
        try v.move("/d", to: "/moved")
        XCTAssertEqual(try v.readFile("/moved/e/f.txt"), bytes("F"))
        XCTAssertThrowsError(try v.remove("/moved")) { XCTAssertEqual(($0 as? VolumeError)?.errno, ENOTEMPTY) }
        try v.remove("/moved", recursive: true)
        XCTAssertFalse(try v.exists("/moved"))
        XCTAssertThrowsError(try v.remove("/")) { XCTAssertEqual(($0 as? VolumeError)?.errno, EINVAL) }
        XCTAssertThrowsError(try v.remove("/nothing")) { XCTAssertEqual(($0 as? VolumeError)?.errno, ENOENT) }
        XCTAssertEqual(try v.statfs().usedBytes, 1)
        XCTAssertEqual(try v.statfs().files, 1)
    }

    func testEdit() throws {
        try v.writeFile("/c.py", data: bytes("x = 1\ny = 1\nz = 2\n"))
        XCTAssertEqual(try v.edit("/c.py", old: "z = 2", new: "z = 3"), 1)
        XCTAssertThrowsError(try v.edit("/c.py", old: "= 1", new: "= 5")) {
            XCTAssertEqual(($0 as? VolumeError)?.code, "edit_conflict")
            XCTAssertTrue("\($0)".contains("2 times"))
        }
        XCTAssertThrowsError(try v.edit("/c.py", old: "absent", new: "x")) { XCTAssertEqual(($0 as? VolumeError)?.code, "edit_conflict") }
        XCTAssertEqual(try v.edit("/c.py", old: "= 1", new: "= 5", all: true), 2)
        XCTAssertEqual(String(decoding: try v.readFile("/c.py"), as: UTF8.self), "x = 5\ny = 5\nz = 3\n")
        try v.writeFile("/bin", data: Data([0xff, 0xfe, 0x00]))
        XCTAssertThrowsError(try v.edit("/bin", old: "a", new: "b")) { XCTAssertEqual(($0 as? VolumeError)?.errno, EINVAL) }
    }

    func testSearchAndReplace() throws {
        try v.writeFile("/src/main.py", data: bytes("import os\nprint('hello')\n"), createParents: true)
        try v.writeFile("/src/util.py", data: bytes("def hello():\n    return 1\n"))
        try v.writeFile("/README.md", data: bytes("say hello\n"))
        XCTAssertEqual(try v.search(name: "*.py").hits.map(\.path), ["/src/main.py", "/src/util.py"])
        let content = try v.search(content: "hel+o")
        XCTAssertEqual(content.hits.map(\.path), ["/README.md", "/src/main.py", "/src/util.py"])
        XCTAssertEqual(content.hits[1].line, 2)
        XCTAssertEqual(try v.search(name: "*.py", content: "^def").hits, [SearchHit(path: "/src/util.py", line: 1, text: "def hello():")])
        let limited = try v.search(content: "hello", limit: 2)
        XCTAssertTrue(limited.truncated)
        XCTAssertEqual(limited.hits.count, 2)
        XCTAssertThrowsError(try v.search(content: "(unclosed")) { XCTAssertEqual(($0 as? VolumeError)?.errno, EINVAL) }

        let dry = try v.replace(glob: "*.py", old: "hello", new: "bye", dryRun: true)
        XCTAssertEqual(dry, ReplaceReport(files: ["/src/main.py", "/src/util.py"], replacements: 2, dryRun: true))
        XCTAssertEqual(String(decoding: try v.readFile("/src/main.py"), as: UTF8.self), "import os\nprint('hello')\n")
        let real = try v.replace(glob: "src/*.py", old: "h(e)llo", new: "j$1llo", regex: true)
        XCTAssertEqual(real.replacements, 2)
        XCTAssertEqual(String(decoding: try v.readFile("/src/util.py"), as: UTF8.self), "def jello():\n    return 1\n")
        XCTAssertEqual(String(decoding: try v.readFile("/README.md"), as: UTF8.self), "say hello\n")
    }

    func testPathsAreValidated() throws {
        for bad in ["", "/a/../b", "../x", "/a\u{0}b", "/" + String(repeating: "n", count: 256), "/" + String(repeating: "d/", count: 2100)] {
            XCTAssertThrowsError(try v.writeFile(bad, data: Data()), "path \(bad.prefix(30))") {
                let e = $0 as? VolumeError
                XCTAssertTrue(e?.errno == EINVAL || e?.errno == ENAMETOOLONG, "\(String(describing: e))")
            }
        }
        let name255 = String(repeating: "n", count: 255)
        try v.writeFile("/" + name255, data: bytes("ok"))
        XCTAssertEqual(try v.readFile("./" + name255), bytes("ok"))
        XCTAssertEqual(try v.stat("//" + name255 + "/").name, name255)
    }

    func testSymlinksNeverLeaveTheVolume() throws {
        try v.writeFile("/etc/passwd", data: bytes("volume's own passwd"), createParents: true)
        try v.makeDirectory("/deep/er", parents: true)
        try v.makeSymlink("/deep/er/abs", target: "/etc/passwd")
        try v.makeSymlink("/deep/er/up", target: "../../../../../../etc/passwd")
        try v.makeSymlink("/deep/dirlink", target: "er")
        XCTAssertEqual(try v.readFile("/deep/er/abs"), bytes("volume's own passwd"))
        XCTAssertEqual(try v.readFile("/deep/er/up"), bytes("volume's own passwd"))
        XCTAssertEqual(try v.list("/deep/dirlink").map(\.name), ["abs", "up"])
        XCTAssertEqual(try v.stat("/deep/er/abs").type, "symlink")
        XCTAssertEqual(try v.stat("/deep/er/abs").target, "/etc/passwd")
        try v.makeSymlink("/loop1", target: "/loop2")
        try v.makeSymlink("/loop2", target: "/loop1")
        XCTAssertThrowsError(try v.readFile("/loop1")) { XCTAssertEqual(($0 as? VolumeError)?.errno, ELOOP) }
        // writing through a symlink writes the target
        try v.writeFile("/deep/er/abs", data: bytes("changed"))
        XCTAssertEqual(try v.readFile("/etc/passwd"), bytes("changed"))
        try v.remove("/deep/er/abs")
        XCTAssertTrue(try v.exists("/etc/passwd"))
    }
}
