// ArchiveExtractor on hostile archives (what a remote download unpacks): nothing is ever written outside
// the target directory, through an archive's symlink, an existing local symlink, `..` or an absolute name.
import Foundation
import XCTest
@testable import VolumeCore
import VolumeTestSupport

final class ArchiveExtractTests: XCTestCase {
    /// A tar.gz of `entries` (files get `data`).
    private func archive(_ entries: [(String, TarEntryType, String)]) throws -> Data {
        let sink = DataByteSink()
        let tar = TarWriter(try GzipWriter(sink))
        for (path, type, payload) in entries {
            var e = TarWriter.Entry(path: Data(path.utf8), type: type, mode: type == .directory ? 0o755 : 0o644, mtime: 1_600_000_000_000_000_000)
            if type == .symlink || type == .hardLink { e.linkPath = Data(payload.utf8) }
            if type == .file { e.size = Int64(payload.utf8.count) }
            try tar.begin(e)
            if type == .file { try tar.write(data: Data(payload.utf8)) }
        }
        try tar.finish()
        return sink.data
    }

    private func extract(_ data: Data, to local: String) throws -> ExportReport {
        try ArchiveExtractor.extract(from: DataByteSource(data), volumeId: "vol-test", path: try VolumePath("/d"),
                                     top: LocalEntryAttributes(mode: 0o755, uid: 0, gid: 0, atime: 0, mtime: 0), to: local)
    }

    private func listing(_ dir: String) -> [String] {
        (FileManager.default.enumerator(atPath: dir)?.allObjects as? [String] ?? []).sorted()
    }

    func testAnArchiveSymlinkIsNeverWrittenThrough() throws {
        let tmp = try TemporaryDirectory("extract-link")
        defer { tmp.remove() }
        let outside = tmp.path + "/outside", target = tmp.path + "/target"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        let data = try archive([("s", .symlink, outside), ("s/pwned", .file, "x"), ("ok.txt", .file, "fine")])
        XCTAssertThrowsError(try extract(data, to: target))
        XCTAssertEqual(listing(outside), [], "a file went through the archive's symlink")
    }

    func testAnExistingLocalSymlinkIsNeverFollowed() throws {
        let tmp = try TemporaryDirectory("extract-local-link")
        defer { tmp.remove() }
        let outside = tmp.path + "/outside", target = tmp.path + "/target"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: target + "/d", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: target + "/d/evil", withDestinationPath: outside)
        // Into the existing directory 'target': the archive's 'd' merges with target/d.
        let data = try archive([("evil/", .directory, ""), ("evil/x", .file, "x")])
        XCTAssertThrowsError(try extract(data, to: target)) { e in
            XCTAssertEqual((e as? VolumeError)?.code, "not_a_directory", "\(e)")
        }
        XCTAssertEqual(listing(outside), [])
        // A file entry replaces a local symlink of its name instead of writing through it.
        try FileManager.default.createSymbolicLink(atPath: target + "/d/file", withDestinationPath: outside + "/victim")
        try Data("old".utf8).write(to: URL(fileURLWithPath: outside + "/victim"))
        _ = try extract(try archive([("file", .file, "new")]), to: target)
        XCTAssertEqual(try String(contentsOfFile: outside + "/victim", encoding: .utf8), "old")
        XCTAssertEqual(try String(contentsOfFile: target + "/d/file", encoding: .utf8), "new")
        XCTAssertThrowsError(try FileManager.default.destinationOfSymbolicLink(atPath: target + "/d/file"))
    }

    func testDotDotAndAbsoluteNamesAreRefusedBeforeAnythingIsWrittenForThem() throws {
        let tmp = try TemporaryDirectory("extract-dotdot")
        defer { tmp.remove() }
        for bad in ["../up.txt", "a/../../up.txt", "/abs.txt", "x/../../../up.txt"] {
            // Deep enough that even a broken extractor stays inside the test's own directory.
            let target = tmp.path + "/1/2/3/t"
            try? FileManager.default.removeItem(atPath: target)
            try FileManager.default.createDirectory(atPath: tmp.path + "/1/2/3", withIntermediateDirectories: true)
            XCTAssertThrowsError(try extract(try archive([(bad, .file, "x")]), to: target), bad) { e in
                XCTAssertEqual((e as? VolumeError)?.code, "corrupt", "\(bad): \(e)")
            }
            XCTAssertEqual(listing(tmp.path).filter { $0.hasSuffix("up.txt") || $0.hasSuffix("abs.txt") }, [], bad)
            XCTAssertFalse(FileManager.default.fileExists(atPath: "/abs.txt"))
        }
    }

    func testAWholeArchiveIsWrittenAsADownloadWritesIt() throws {
        let tmp = try TemporaryDirectory("extract-ok")
        defer { tmp.remove() }
        let data = try archive([("a/", .directory, ""), ("a/one.txt", .file, "one"), ("a/two.txt", .hardLink, "a/one.txt"),
                                ("l", .symlink, "a/one.txt"), ("p", .fifo, "")])
        // 'target' does not exist: the directory's contents go into it.
        let r = try extract(data, to: tmp.path + "/target")
        XCTAssertEqual([r.files, r.directories, r.hardLinks, r.symlinks, Int(r.bytes)], [1, 2, 1, 1, 3])
        XCTAssertEqual(r.skipped, [tmp.path + "/target/p"])
        XCTAssertEqual(try String(contentsOfFile: tmp.path + "/target/l", encoding: .utf8), "one")
        var st = stat()
        XCTAssertEqual(lstat(tmp.path + "/target/a/two.txt", &st), 0)
        XCTAssertEqual(st.st_nlink, 2)
        XCTAssertEqual(st.st_mtim.tv_sec, 1_600_000_000)
        // A truncated stream fails after what it held, leaving no partial file.
        let cut = data.prefix(data.count / 2)
        XCTAssertThrowsError(try extract(Data(cut), to: tmp.path + "/cut"))
        XCTAssertEqual(listing(tmp.path + "/cut").filter { $0.contains(".part-") }, [])
    }
}
