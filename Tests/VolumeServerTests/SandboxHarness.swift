// A volumed running real bubblewrap sandboxes, driven by volumectl, for the tests that run commands inside a sandbox.
import Foundation
import XCTest
import VolumeTestSupport

/// One daemon with `--sandbox-runtime bwrap` and a tenant key; `close()` kills every sandbox process it
/// started (by the runtime's records), stops it and takes its mounts down, in that order (no program
/// inside writes when its mount goes).
struct SandboxHarness {
    let d: Daemon
    let key: String

    /// Skips without root, /dev/fuse or bubblewrap.
    init(test: XCTestCase) throws {
        try XCTSkipUnless(getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/fuse"), "needs root and /dev/fuse")
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/bwrap"), "needs bubblewrap (apt-get install bubblewrap)")
        let d = try Daemon(arguments: ["--sandbox-runtime", "bwrap"])
        test.addTeardownBlock {
            SandboxRuntimeTests.killSandboxes(d)
            d.stop()
            SandboxRouteTests.unmountAll(under: d.dataDir + "/mounts")
        }
        self.d = d
        key = try d.tenantKey("acme")
    }

    /// volumectl against the daemon with the tenant key.
    func ctl(_ args: [String]) throws -> Daemon.ToolRun { try Self.ctl(d, key, args) }

    /// `sandbox create` with `extra`, returning the new ID.
    func create(_ extra: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try Self.create(d, key, extra, file: file, line: line)
    }

    /// volumectl against daemon `d` with `key` (no data directory, no tenant from the environment).
    static func ctl(_ d: Daemon, _ key: String, _ args: [String]) throws -> Daemon.ToolRun {
        try Daemon.runTool(try Daemon.volumectl.get().path, args,
                           env: ["VOLUMES_ENDPOINT": d.url, "VOLUMES_API_KEY": key, "VOLUMES_DATA_DIR": "", "VOLUMES_TENANT": ""])
    }

    /// `sandbox create` with `extra` on daemon `d`, returning the new ID (printed alone).
    static func create(_ d: Daemon, _ key: String, _ extra: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try ctl(d, key, ["sandbox", "create"] + extra)
        XCTAssertEqual(r.status, 0, r.stderr + d.log(), file: file, line: line)
        let id = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(id.hasPrefix("sbx-"), "create prints the ID: \(r.stdout)", file: file, line: line)
        return id
    }

    /// `sh -c script` inside sandbox `id` (as its user), through `volumectl sandbox exec`.
    func sh(_ id: String, _ script: String, _ args: [String] = []) throws -> Daemon.ToolRun {
        try ctl(["sandbox", "exec", id, "--", "sh", "-c", script] + args)
    }

    /// The sandbox's attachment records.
    func attachments(_ id: String) throws -> [[String: Any]] {
        try d.get("/v1/sandboxes/\(id)/attachments", key: key).array()
    }

    /// The init of sandbox `id` on the host (`runtime_pid`).
    func initPid(_ id: String) throws -> Int32 {
        let o = try d.get("/v1/sandboxes/\(id)", key: key).object()
        return Int32(try XCTUnwrap(o["runtime_pid"] as? Int, "\(o)"))
    }

    /// A file of the sandbox's own view (its /tmp, say), read from the host through /proc/PID/root:
    /// readable while the sandbox is paused, when exec is refused.
    func inside(_ id: String, _ path: String) -> String? {
        guard let pid = try? initPid(id) else { return nil }
        return try? String(contentsOfFile: "/proc/\(pid)/root\(path)", encoding: .utf8)
    }

    /// Polls `condition` every 20 ms for at most `seconds` (a bound for a loaded machine, not a timing claim).
    static func wait(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }
}
