// examples/quickstart.sh stays runnable: it runs against the built binary and finishes cleanly.
import Foundation
import XCTest
import VolumeTestSupport

final class QuickstartTests: XCTestCase {
    func testQuickstartRunsToTheEnd() throws {
        let binary = try CLI.binary.get()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent("examples/quickstart.sh")
        let tmp = try TemporaryDirectory("quickstart")
        defer { tmp.remove() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [script.path]
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("VOLUMES_") }
        env["VOLUMECTL"] = binary.path
        env["TMPDIR"] = tmp.path
        p.environment = env
        let outPath = tmp.path + "/out"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try out.close()
        let text = try String(contentsOfFile: outPath, encoding: .utf8)
        XCTAssertEqual(p.terminationStatus, 0, text)
        XCTAssertTrue(text.hasSuffix("quickstart: done\n"), text)
        XCTAssertTrue(text.contains("hello, volumes"), "the edit shows in cat")
        XCTAssertTrue(text.contains("(demo): ok,"), "fsck is clean")
        XCTAssertTrue(text.contains("freed 293.0 KiB"), "gc frees the deleted volume's bytes")
        // It cleans up after itself.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), ["out"])
    }
}
