// The transfer commands through the built volumectl binary: import with --json and --create, the 4 GiB
// refusal, SIGINT in the middle of an import, export to stdout, upload and download round trips.
import Foundation
import XCTest
@testable import VolumeCore
import VolumeTestSupport

#if canImport(Glibc)
import Glibc
#endif

final class TransferCLITests: XCTestCase {
    private var tmp: TemporaryDirectory!
    private var dataDir: String { tmp.path + "/data" }

    override func setUpWithError() throws { tmp = try TemporaryDirectory("cli-transfer") }
    override func tearDown() { tmp.remove() }

    @discardableResult
    private func volumectl(_ args: [String], stdin: String? = nil, expect: Int32 = 0,
                           file: StaticString = #filePath, line: UInt = #line) throws -> RunResult {
        let r = try Tools.run(try Tools.volumectl(), args + ["--data-dir", dataDir], stdin: stdin, check: false)
        XCTAssertEqual(r.status, expect, "volumectl \(args.joined(separator: " ")): \(r.stderr)", file: file, line: line)
        return r
    }

    /// A fresh view of the data directory (the CLI ran in another process).
    private func withStore<T>(_ body: (VolumeStore) throws -> T) throws -> T {
        let store = try VolumeStore(dataDir: URL(fileURLWithPath: dataDir))
        defer { try? store.close() }
        return try body(store)
    }

    private func volumeNames() throws -> [String] { try withStore { try $0.listVolumes(owner: nil).map(\.name) } }

    private func hostile(_ kind: String) throws -> String {
        let p = tmp.path + "/\(kind).tgz"
        try Tools.python(["hostile", p, kind])
        return p
    }

    func testImportCreateReportsDropsAndJSONCounts() throws {
        let r = try volumectl(["import", try hostile("links"), "--create", "hostile", "--json"])
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        XCTAssertEqual(json["files"] as? Int, 2)
        XCTAssertEqual(json["dropped_count"] as? Int, 8)
        XCTAssertEqual(json["created"] as? Bool, true)
        XCTAssertEqual((json["dropped_by_reason"] as? [String: Int])?["symbolic link"], 2)
        XCTAssertTrue(r.stderr.contains("dropped entry 2 'link': symbolic link (to '/etc')"), r.stderr)
        XCTAssertEqual(try volumeNames(), ["hostile"])
        // Human output names the counts too.
        let h = try volumectl(["import", try hostile("paths"), "--volume", "hostile", "--path", "/p"])
        XCTAssertTrue(h.out.contains("imported 2 files"), h.out)
        XCTAssertTrue(h.out.contains("4 entries dropped"), h.out)
        XCTAssertTrue(try withStore { try $0.fsck().allSatisfy { $0.problems.isEmpty } })
    }

    func testBlobOver4GiBIsRefusedBeforeAnything() throws {
        let big = tmp.path + "/huge.tar.gz"
        let fd = open(big, O_CREAT | O_WRONLY, 0o644)
        XCTAssertEqual(ftruncate(fd, 5 << 30), 0, "a sparse 5 GiB file")
        close(fd)
        let r = try volumectl(["import", big, "--create", "huge"], expect: 64)
        XCTAssertTrue(r.stderr.contains("too large"), r.stderr)
        XCTAssertTrue(r.stderr.contains("4.0 GiB"), r.stderr)
        XCTAssertEqual(try volumeNames(), [])
    }

    func testFailedCreateLeavesNoVolume() throws {
        let good = try hostile("many")
        let data = try Data(contentsOf: URL(fileURLWithPath: good))
        let cut = tmp.path + "/cut.tgz"
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: cut))
        let r = try volumectl(["import", cut, "--create", "broken"], expect: 70)
        XCTAssertTrue(r.stderr.contains("truncated"), r.stderr)
        XCTAssertEqual(try volumeNames(), [])
    }

    /// Starts `volumectl import - ...`, feeds half the archive through a pipe, sends SIGINT.
    private func interruptImport(_ args: [String]) throws -> RunResult {
        let archive = try Data(contentsOf: URL(fileURLWithPath: try hostile("many")))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try Tools.volumectl())
        p.arguments = ["import", "-"] + args + ["--data-dir", dataDir, "--quiet"]
        let input = Pipe()
        p.standardInput = input
        let errURL = tmp.url.appendingPathComponent("err-\(UUID().uuidString.prefix(4))")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        p.standardError = try FileHandle(forWritingTo: errURL)
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        // The write returns once the importer has read all but a pipe buffer of it: it is mid-import.
        input.fileHandleForWriting.write(archive.prefix(archive.count / 2))
        p.interrupt()
        try input.fileHandleForWriting.close()
        p.waitUntilExit()
        return RunResult(status: p.terminationStatus, stdout: Data(), stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    func testSIGINTLeavesTheVolumeAsBefore() throws {
        try volumectl(["import", try hostile("links"), "--create", "target"])
        let before = try withStore { s in try s.volume(s.resolve("target", owner: nil), owner: nil).snapshot() }
        let r = try interruptImport(["--volume", "target"])
        XCTAssertEqual(r.status, 130, r.stderr)
        XCTAssertTrue(r.stderr.contains("interrupted"), r.stderr)
        let after = try withStore { s in try s.volume(s.resolve("target", owner: nil), owner: nil).snapshot() }
        XCTAssertEqual(after, before)
        // With --create, no volume is left behind.
        let c = try interruptImport(["--create", "half"])
        XCTAssertEqual(c.status, 130, c.stderr)
        XCTAssertEqual(try volumeNames(), ["target"])
        XCTAssertTrue(try withStore { try $0.fsck().allSatisfy { $0.problems.isEmpty } })
    }

    func testExportToStdoutAndFile() throws {
        try volumectl(["import", try hostile("many"), "--create", "src"])
        let out = tmp.path + "/stdout.tgz"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try Tools.volumectl())
        p.arguments = ["export", "src", "-o", "-", "--data-dir", dataDir]
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertEqual(try Tools.list(out).filter { $0.type == "file" }.count, 1500)
        let file = tmp.path + "/file.tgz"
        let r = try volumectl(["export", "src", "-o", file, "--json"])
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        XCTAssertEqual(json["files"] as? Int, 1500)
        XCTAssertEqual(try Tools.list(file).count, 1500)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.contains(".part-") }, [])
    }

    func testUploadAndDownloadRoundTrip() throws {
        let tree = tmp.path + "/tree"
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        try Tools.python(["tree", tree])
        try withStore { _ = try $0.createVolume(owner: "default", name: "up") }
        let r = try volumectl(["upload", tree, "up:/", "--json"])
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        XCTAssertEqual(json["dropped_count"] as? Int, 1, "the symlink is skipped")
        // Stdin of unknown length into one file.
        let blob = tmp.path + "/blob"
        try Data(repeating: 0x5a, count: 3_000_001).write(to: URL(fileURLWithPath: blob))
        try volumectl(["upload", "-", "up:/streams/blob.bin", "--mode", "0600"], stdin: blob)
        let down = tmp.path + "/down"
        try volumectl(["download", "up:/", down])
        let want = try Tools.walk(tree).filter { $0.type != "symlink" }
        let got = Dictionary(try Tools.walk(down + "/tree").map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for w in want {
            guard let g = got[w.name] else { XCTFail("\(w.name) missing"); continue }
            XCTAssertEqual(g.type, w.type, w.name)
            XCTAssertEqual(g.mode, w.mode, w.name)
            XCTAssertEqual(g.mtime_ns, w.mtime_ns, w.name)
            XCTAssertEqual(g.sha256, w.sha256, w.name)
        }
        let streamed = try Data(contentsOf: URL(fileURLWithPath: down + "/streams/blob.bin"))
        XCTAssertEqual(streamed, try Data(contentsOf: URL(fileURLWithPath: blob)))
        let attrs = try FileManager.default.attributesOfItem(atPath: down + "/streams/blob.bin")
        XCTAssertEqual((attrs[.posixPermissions] as? Int), 0o600)
        // One file to a new name, and into an existing local directory.
        try volumectl(["download", "up:/tree/hello.txt", tmp.path + "/renamed.txt"])
        XCTAssertEqual(try String(contentsOfFile: tmp.path + "/renamed.txt", encoding: .utf8), "hello world\n")
        try volumectl(["download", "up:/tree/bin", down])
        XCTAssertTrue(FileManager.default.fileExists(atPath: down + "/bin/tool.sh"))
        // A symlink named on the command line is followed (as cp does); the ones below it are not.
        try FileManager.default.createSymbolicLink(atPath: tmp.path + "/current", withDestinationPath: tree)
        try volumectl(["upload", tmp.path + "/current", "up:/via-link"])
        try withStore { s in
            let v = try s.volume(s.resolve("up", owner: nil), owner: nil)
            XCTAssertEqual(try v.readFile("/via-link/hello.txt"), Data("hello world\n".utf8))
            XCTAssertFalse(try v.exists("/via-link/link"))
        }
    }

    func testFailedUploadLeavesNothingUnderTheDestination() throws {
        let tree = tmp.path + "/big"
        try FileManager.default.createDirectory(atPath: tree + "/sub", withIntermediateDirectories: true)
        for i in 0..<8 { try Data(repeating: UInt8(i), count: 200_000).write(to: URL(fileURLWithPath: tree + "/sub/f\(i)")) }
        let id = try withStore { s -> String in
            let id = try s.createVolume(owner: "default", name: "small").volumeId
            _ = try s.setVolumeQuota(id, bytes: 1 << 20)
            try s.volume(id, owner: nil).writeFile("/dest/existing.txt", data: Data("keep".utf8), createParents: true)
            return id
        }
        let before = try withStore { try $0.volume(id, owner: nil).snapshot() }
        let r = try volumectl(["upload", tree, "small:/dest/"], expect: 5)
        XCTAssertTrue(r.stderr.contains("over its cap"), r.stderr)
        XCTAssertEqual(try withStore { try $0.volume(id, owner: nil).snapshot() }, before)
        // Standard input past the cap: the same.
        let blob = tmp.path + "/blob"
        try Data(repeating: 1, count: 3 << 20).write(to: URL(fileURLWithPath: blob))
        try volumectl(["upload", "-", "small:/dest/stream.bin"], stdin: blob, expect: 5)
        XCTAssertEqual(try withStore { try $0.volume(id, owner: nil).snapshot() }, before)
    }

    /// The size of volume `id`'s write-ahead log (0 when it is absent).
    private func walSize(_ id: String) -> Int {
        let attrs = try? FileManager.default.attributesOfItem(atPath: dataDir + "/volumes/\(id).sqlite-wal")
        return (attrs?[.size] as? Int) ?? 0
    }

    /// A WAL emptied by a closing store: its header and the one page written back after the truncation
    /// (so that the next opener need not write; see `Volume.close`), with SQLite's 4 KiB pages.
    private let checkpointedWAL = 32 + 24 + 4096

    /// Runs `args` while this process has just committed to volume `id` (so its WAL holds frames)
    /// and keeps its own store open; a command that closes the store it opened checkpoints the
    /// catalog on its way out and leaves the WAL emptied, one that does not leaves it as it was.
    private func assertClosesItsStore(_ id: String, _ args: [String], expect: Int32 = 0,
                                      file: StaticString = #filePath, line: UInt = #line) throws {
        let store = try VolumeStore(dataDir: URL(fileURLWithPath: dataDir))
        defer { try? store.close() }
        try store.volume(id, owner: nil).writeFile("/dirt-\(UUID().uuidString)", data: Data("x".utf8))
        XCTAssertGreaterThan(walSize(id), checkpointedWAL, "the commit above is in the WAL", file: file, line: line)
        try volumectl(args, expect: expect, file: file, line: line)
        XCTAssertLessThanOrEqual(walSize(id), checkpointedWAL, "volumectl \(args.joined(separator: " ")) left the catalog's WAL: it did not close its store",
                       file: file, line: line)
    }

    /// `import`, `export`, `upload` and `download` close the store they open, on success and on
    /// error (they did not, so nothing they committed was ever checkpointed out of the WAL).
    func testTransferCommandsCloseTheirStoreOnSuccessAndOnError() throws {
        try volumectl(["import", try hostile("many"), "--create", "fresh", "--quiet"])
        let fresh = try withStore { try $0.resolve("fresh", owner: nil) }
        XCTAssertLessThanOrEqual(walSize(fresh), checkpointedWAL, "import --create left the new catalog's WAL")
        let id = try withStore { s -> String in
            let id = try s.createVolume(owner: "default", name: "t").volumeId
            _ = try s.setVolumeQuota(id, bytes: 16 << 20)
            return id
        }
        let tree = tmp.path + "/tree"
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        try Data("hello".utf8).write(to: URL(fileURLWithPath: tree + "/hello.txt"))
        let big = tmp.path + "/big.bin"
        try Data(repeating: 7, count: 20 << 20).write(to: URL(fileURLWithPath: big))
        let blob = try hostile("many")
        let cut = tmp.path + "/cut.tgz"
        let whole = try Data(contentsOf: URL(fileURLWithPath: blob))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: cut))

        try assertClosesItsStore(id, ["import", try hostile("links"), "--volume", "t", "--path", "/in", "--quiet"])
        try assertClosesItsStore(id, ["import", cut, "--volume", "t", "--path", "/cut", "--quiet"], expect: 70)
        try assertClosesItsStore(id, ["upload", tree, "t:/up", "--quiet"])
        try assertClosesItsStore(id, ["upload", big, "t:/big.bin", "--quiet"], expect: 5)
        try assertClosesItsStore(id, ["download", "t:/up", tmp.path + "/down", "--quiet"])
        try assertClosesItsStore(id, ["download", "t:/missing", tmp.path + "/down2", "--quiet"], expect: 3)
        try assertClosesItsStore(id, ["export", "t", "-o", tmp.path + "/t.tgz", "--quiet"])
        try assertClosesItsStore(id, ["export", "t", "--path", "/missing", "-o", tmp.path + "/m.tgz", "--quiet"], expect: 3)
        XCTAssertTrue(try withStore { try $0.fsck().allSatisfy { $0.problems.isEmpty } })
    }
}
