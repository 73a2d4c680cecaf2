// schemathesis (PyPI, installed by tools/setup.sh) against a live volumed with its served OpenAPI document: no 5xx, every response as documented.
import Foundation
import XCTest
import VolumeTestSupport

final class SchemathesisTests: XCTestCase {
    /// `st` from the venv tools/setup.sh makes (or $SCHEMATHESIS).
    static var st: String {
        if let s = ProcessInfo.processInfo.environment["SCHEMATHESIS"], !s.isEmpty { return s }
        return repositoryRoot.appendingPathComponent(".build/schemathesis-venv/bin/st").path
    }

    func testSchemathesisFindsNoServerErrorAndNoResponseOutsideTheDocument() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.st) else {
            return XCTFail("schemathesis is not installed at \(Self.st): run tools/setup.sh (./tools/test.sh does)")
        }
        let d = try Daemon()
        defer { d.stop() }
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("fuzzed", key: key)
        // Something to find, read, edit and move, so positive examples reach past 404.
        try d.put(vol, "/docs/readme.txt", Data("hello\nworld\n".utf8), key: key, query: "&parents=true")
        try d.put(vol, "/data.bin", Data(repeating: 7, count: 4096), key: key)
        // Every operation works on this volume; deleting it is left out (it would turn the rest into 404s;
        // VolumeRouteTests and TenantIsolationTests cover it), and so is the watch stream, which never ends
        // (each example would wait out the request timeout; WatchTests cover it).
        let config = d.dir.path + "/schemathesis.toml"
        try """
        [parameters]
        "path.volume" = "\(vol)"
        """.write(toFile: config, atomically: true, encoding: .utf8)
        // Tenant routes with the tenant key, then the operator's admin routes with the operator key.
        for (tag, key) in [("volumes", key), ("files", key), ("service", key), ("admin", d.operatorKey)] {
            let r = try schemathesis(d, config: config, key: key, tag: tag)
            XCTAssertEqual(r.status, 0, "schemathesis found problems in the \(tag) routes:\n\(r.stdout)\n\(r.stderr)")
            // It tested something: a tag that matches no operation would pass silently.
            let tested = r.stdout.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("Tested:") }
            let count = tested.flatMap { Int($0.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "") } ?? 0
            XCTAssertGreaterThan(count, 0, "schemathesis tested no \(tag) operation:\n\(r.stdout)")
        }
        XCTAssertFalse(d.log().contains("internal error"), "the daemon logged internal errors:\n\(d.log())")
    }

    /// One `st run` over the operations tagged `tag`, in the daemon's temporary directory (hypothesis writes there).
    /// Every check but positive_data_acceptance: whether a schema-valid request succeeds depends on what the
    /// volume holds (reading a directory is 400 is_a_directory, a range of an empty file 416), which a schema
    /// cannot say. One worker: schemathesis's threads trip a CPython 3.11 ast bug ("recursion depth mismatch").
    func schemathesis(_ d: Daemon, config: String, key: String, tag: String) throws -> Daemon.ToolRun {
        let args = [
            Self.st, "--config-file", config, "run", d.url + "/openapi.yaml",
            "--header", "X-API-Key: \(key)", "--include-tag", tag,
            "--checks", "all", "--exclude-checks", "positive_data_acceptance",
            "--max-examples", "20", "--seed", "1717",
            "--phases", "examples,coverage,fuzzing",
            "--exclude-operation-id", "deleteVolume", "--exclude-operation-id", "watchFiles",
            "--workers", "1", "--request-timeout", "60",
            "--generation-database", "none", "--no-color",
        ]
        let quoted = args.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        return try Daemon.runTool("/bin/sh", ["-c", "cd '\(d.dir.path)' && exec \(quoted)"], env: ["NO_COLOR": "1"])
    }
}
