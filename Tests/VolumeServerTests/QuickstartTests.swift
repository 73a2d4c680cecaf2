// examples/quickstart.sh runs end to end: it starts its own volumed, drives it with curl, and stops it.
import Foundation
import XCTest
import VolumeTestSupport

final class DaemonQuickstartTests: XCTestCase {
    func testTheQuickstartRunsAgainstItsOwnDaemonAndCleansUp() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let tmp = try TemporaryDirectory("quickstart-daemon")
        defer { tmp.remove() }
        let env = ["VOLUMED": try Daemon.binary.get().path, "VOLUMECTL": try Daemon.volumectl.get().path, "TMPDIR": tmp.path,
                   "VOLUMED_URL": "", "VOLUMES_DATA_DIR": ""]
        let r = try Daemon.runTool("/bin/bash", [root.appendingPathComponent("examples/quickstart.sh").path], env: env)
        let out = r.stdout + r.stderr
        XCTAssertEqual(r.status, 0, out)
        XCTAssertTrue(r.stdout.hasSuffix("quickstart: done\n"), out)
        for expected in ["(HTTP 201)", "(HTTP 206)", "(HTTP 404)", "(HTTP 400)", "(HTTP 401)", "(HTTP 204)", "\"dropped_count\":1", "Done: the docs"] {
            XCTAssertTrue(out.contains(expected), "the quickstart should show \(expected)")
        }
        XCTAssertFalse(out.contains("(HTTP 500)"), out)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [], "it removes its temporary directory")
    }
}
