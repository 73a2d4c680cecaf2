// Archives made in the test by GNU tar (gnu, posix, ustar), Python's tarfile (ustar, gnu, pax) and git
// archive: imported, compared file by file (bytes, mode, mtime), exported, read back by GNU tar and
// tarfile, and imported again.
import Foundation
import XCTest
@testable import VolumeCore
import VolumeTestSupport

#if canImport(Glibc)
import Glibc
#endif

final class ArchiveImportTests: XCTestCase {
    private var tmp: TemporaryDirectory!

    override func setUpWithError() throws { tmp = try TemporaryDirectory("archive") }
    override func tearDown() { tmp.remove() }

    private func path(_ name: String) -> String { tmp.path + "/" + name }

    private func sampleTree(short: Bool) throws -> String {
        let dir = path(short ? "tree-short" : "tree")
        if !FileManager.default.fileExists(atPath: dir) {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try Tools.python(["tree", dir] + (short ? ["--short"] : []))
        }
        return dir
    }

    private func export(_ v: Volume, _ dir: String, to file: String) throws -> ExportReport {
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        return try v.exportArchive(dir, to: FileByteSink(fd: fd, name: file))
    }

    /// Compares two listings by name: type, size, mode, mtime and content hash.
    private func assertSame(_ got: [ListedMember], _ want: [ListedMember], _ label: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        let g = Dictionary(got.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for w in want {
            guard let x = g[w.name] else { XCTFail("\(label): \(w.name) missing", file: file, line: line); continue }
            XCTAssertEqual(x.type, w.type, "\(label): type of \(w.name)", file: file, line: line)
            XCTAssertEqual(x.mode, w.mode, "\(label): mode of \(w.name)", file: file, line: line)
            XCTAssertEqual(x.mtime_ns, w.mtime_ns, "\(label): mtime of \(w.name)", file: file, line: line)
            if w.type == "file" {
                XCTAssertEqual(x.size, w.size, "\(label): size of \(w.name)", file: file, line: line)
                XCTAssertEqual(x.sha256, w.sha256, "\(label): bytes of \(w.name)", file: file, line: line)
            }
        }
        let wantNames = Set(want.map(\.name))
        for x in got where !wantNames.contains(x.name) && x.type == "file" {
            XCTFail("\(label): unexpected file \(x.name)", file: file, line: line)
        }
    }

    /// Imports `archive`, checks it against tarfile's listing, exports it, reads the export with
    /// tarfile and GNU tar, and imports the export into a second volume.
    private func checkRoundTrip(_ archive: String, label: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try Tools.list(archive)
        XCTAssertGreaterThan(expected.filter { $0.type == "file" }.count, 5, "\(label): listing", file: file, line: line)
        let ts = try TestStore(blockSize: 128 * 1024)
        defer { ts.remove() }
        let report = try ts.volume.importArchive(from: try FileByteSource(path: archive), name: archive, into: "/imported")
        try assertVolume(ts.volume, under: "/imported", matches: expected, label: label, file: file, line: line)
        let dropped = expected.filter { $0.type != "file" && $0.type != "dir" }
        XCTAssertEqual(report.droppedCount, dropped.count, "\(label): \(report.dropped)", file: file, line: line)
        XCTAssertEqual(Set(report.dropped.map(\.path).map { $0.hasPrefix("./") ? String($0.dropFirst(2)) : $0 }),
                       Set(dropped.map(\.name)), "\(label): dropped", file: file, line: line)
        XCTAssertEqual(report.files, expected.filter { $0.type == "file" }.count, file: file, line: line)
        // The first import went into an empty volume (rows written while streaming); a second one into
        // the now populated volume takes the other path (records, then one final transaction).
        let second = try ts.volume.importArchive(from: try FileByteSource(path: archive), name: archive, into: "/second")
        XCTAssertEqual(second.files, report.files, file: file, line: line)
        try assertVolume(ts.volume, under: "/second", matches: expected, label: "\(label), into a populated volume", file: file, line: line)

        let kept = expected.filter { $0.type == "file" || $0.type == "dir" }
        let out = path("export-\(UUID().uuidString.prefix(6)).tgz")
        let ex = try export(ts.volume, "/imported", to: out)
        XCTAssertEqual(ex.files, report.files, file: file, line: line)
        assertSame(try Tools.list(out), kept, "\(label): export read by tarfile", file: file, line: line)
        let x = path("x-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(atPath: x, withIntermediateDirectories: true)
        try Tools.run("tar", ["-xzf", out, "-C", x])
        assertSame(try Tools.walk(x), kept, "\(label): export extracted by GNU tar", file: file, line: line)

        let again = try ts.store.createVolume(owner: "t1", name: "again").volumeId
        let v2 = try ts.store.volume(again, owner: "t1")
        let r2 = try v2.importArchive(from: try FileByteSource(path: out))
        XCTAssertEqual(r2.droppedCount, 0, file: file, line: line)
        try assertVolume(v2, under: "/", matches: kept, label: "\(label): export imported again", file: file, line: line)
        XCTAssertEqual(try ts.fsckProblems(), [], file: file, line: line)
    }

    func testGNUTarFormats() throws {
        for (format, short) in [("gnu", false), ("posix", false), ("ustar", true)] {
            let archive = path("gnu-\(format).tgz")
            try Tools.run("tar", ["--format=\(format)", "-czf", archive, "-C", try sampleTree(short: short), "."])
            try checkRoundTrip(archive, label: "GNU tar --format=\(format)")
        }
    }

    func testPythonTarfileFormats() throws {
        for (format, short) in [("ustar", true), ("gnu", false), ("pax", false)] {
            let archive = path("py-\(format).tgz")
            try Tools.python(["pytar", try sampleTree(short: short), archive, format])
            try checkRoundTrip(archive, label: "tarfile \(format)")
        }
    }

    func testGitArchive() throws {
        let repo = try sampleTree(short: false)
        let env = ["GIT_AUTHOR_DATE=2023-05-06T07:08:09Z", "GIT_COMMITTER_DATE=2023-05-06T07:08:09Z"]
        try Tools.run("git", ["-C", repo, "init", "-q"])
        try Tools.run("git", ["-C", repo, "add", "-A"])
        try Tools.run("env", env + ["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "sample"])
        let archive = path("git.tgz")
        try Tools.run("git", ["-C", repo, "archive", "--format=tar.gz", "--prefix=proj/", "-o", archive, "HEAD"])
        try checkRoundTrip(archive, label: "git archive")
    }

    /// Multi-member gzip (`cat a.gz b.gz`): both members' bytes form one tar stream.
    func testMultiMemberBlob() throws {
        let tree = try sampleTree(short: true)
        let tarPath = path("plain.tar")
        try Tools.run("tar", ["--format=gnu", "-cf", tarPath, "-C", tree, "."])
        let data = try Data(contentsOf: URL(fileURLWithPath: tarPath))
        var blob = Data()
        for part in [data.prefix(data.count / 3), data.dropFirst(data.count / 3)] {
            let sink = DataByteSink()
            let gz = try GzipWriter(sink, level: 1)
            try gz.write(Data(part))
            try gz.finish()
            blob += sink.data
        }
        let blobPath = path("multi.tgz")
        try blob.write(to: URL(fileURLWithPath: blobPath))
        try checkRoundTrip(blobPath, label: "two gzip members")
    }

    func testImportMergesReplacesAndNeverWritesThroughSymlinks() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let v = ts.volume
        try v.writeFile("/app/hello.txt", data: Data("old".utf8), createParents: true)
        try v.writeFile("/app/keep.txt", data: Data("keep".utf8))
        try v.makeDirectory("/outside")
        try v.makeSymlink("/app/bin", target: "/outside")
        try v.writeFile("/app/full/x", data: Data("x".utf8), createParents: true)
        let archive = path("merge.tgz")
        let src = path("merge-src")
        for (p, d) in [("hello.txt", "new"), ("bin/tool", "tool"), ("sub/a.txt", "a")] {
            let f = src + "/" + p
            try FileManager.default.createDirectory(atPath: (f as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(d.utf8).write(to: URL(fileURLWithPath: f))
        }
        try Tools.run("tar", ["-czf", archive, "-C", src, "hello.txt", "bin/tool", "sub/a.txt"])
        let r = try v.importArchive(from: try FileByteSource(path: archive), into: "/app")
        XCTAssertEqual(try v.readFile("/app/hello.txt"), Data("new".utf8))
        XCTAssertEqual(try v.readFile("/app/keep.txt"), Data("keep".utf8))
        XCTAssertEqual(try v.readFile("/app/sub/a.txt"), Data("a".utf8))
        XCTAssertEqual(r.replaced, 1)
        XCTAssertEqual(r.dropped.map(\.reason), ["passes through the symbolic link 'bin' in the volume"])
        XCTAssertEqual(try v.list("/outside"), [], "nothing may be written through a symlink")
        let expectedUsage: Int64 = 3 + 4 + 1 + 1 + 8 // new, keep, full/x, sub/a.txt, and the symlink's target "/outside"
        XCTAssertEqual(try v.statfs().usedBytes, expectedUsage)

        // A file cannot replace a non-empty directory: an error, and nothing changes.
        let before = try v.snapshot()
        let bad = path("bad.tgz")
        let src2 = path("bad-src")
        try FileManager.default.createDirectory(atPath: src2, withIntermediateDirectories: true)
        try Data("f".utf8).write(to: URL(fileURLWithPath: src2 + "/new.txt"))
        try Data("f".utf8).write(to: URL(fileURLWithPath: src2 + "/full"))
        try Tools.run("tar", ["-czf", bad, "-C", src2, "new.txt", "full"])
        XCTAssertThrowsError(try v.importArchive(from: try FileByteSource(path: bad), into: "/app")) { e in
            XCTAssertTrue("\(e)".contains("entry 2 'full'"), "\(e)")
        }
        XCTAssertEqual(try v.snapshot(), before)
        XCTAssertEqual(try ts.fsckProblems(), [])
    }
}
