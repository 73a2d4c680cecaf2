// examples/volumectl-tour.sh (the volumectl tour, formerly the quickstart) stays runnable: on its own temporary data directory, and again and again on a given one.
import Foundation
import XCTest
import VolumeTestSupport

final class QuickstartTests: XCTestCase {
    private func runQuickstart(tmp: TemporaryDirectory, dataDir: String? = nil) throws -> (status: Int32, output: String) {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [root.appendingPathComponent("examples/volumectl-tour.sh").path]
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("VOLUMES_") }
        env["VOLUMECTL"] = try CLI.binary.get().path
        env["TMPDIR"] = tmp.path
        env["VOLUMES_DATA_DIR"] = dataDir
        p.environment = env
        let outPath = tmp.path + "/out-\(UUID().uuidString.prefix(8))"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outPath) }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try out.close()
        return (p.terminationStatus, try String(contentsOfFile: outPath, encoding: .utf8))
    }

    func testQuickstartRunsToTheEndAndCleansUp() throws {
        let tmp = try TemporaryDirectory("quickstart")
        defer { tmp.remove() }
        let (status, text) = try runQuickstart(tmp: tmp)
        XCTAssertEqual(status, 0, text)
        XCTAssertTrue(text.hasSuffix("quickstart: done\n"), text)
        XCTAssertTrue(text.contains("hello, volumes"), "the edit shows in cat")
        XCTAssertTrue(text.contains("(demo): ok,"), "fsck is clean")
        XCTAssertTrue(text.contains("\nfreed 293.0 KiB"), "gc frees the deleted volume's bytes")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [], "it removes its temporary directories")
    }

    func testQuickstartRunsAgainOnAGivenDataDirectoryAndLeavesIt() throws {
        let tmp = try TemporaryDirectory("quickstart")
        defer { tmp.remove() }
        let data = tmp.path + "/volumes-data"
        for round in 1...2 {
            let (status, text) = try runQuickstart(tmp: tmp, dataDir: data)
            XCTAssertEqual(status, 0, "round \(round): \(text)")
            XCTAssertTrue(text.hasSuffix("quickstart: done\n"), text)
            // Garbage accumulates: each round deletes a 300,000-byte volume and edits a 13-byte file.
            XCTAssertTrue(text.contains("would free \(round == 1 ? "293.0" : "586.0") KiB"), text)
            XCTAssertFalse(text.contains("\nfreed "), "no real gc on a data directory it does not own")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: data + "/registry.sqlite"), "the given data directory stays")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), ["volumes-data"])
    }
}
