// volumectl --endpoint: the same commands run on a data directory and against volumed print the same
// output and exit with the same codes (a table of commands), and commands without a route say so (64).
import Foundation
import VolumeTestSupport
import XCTest

final class VolumectlEndpointTests: XCTestCase {
    /// One step of the table: arguments (with LOCAL standing for a scratch directory) and optional stdin.
    struct Step {
        let args: [String]
        var stdin: Data? = nil
        var expect: Int32
    }

    static func steps(_ scratch: String) -> [Step] {
        [
            Step(args: ["volume", "create", "data", "--metadata", "team=ml"], expect: 0),
            Step(args: ["volume", "list"], expect: 0),
            Step(args: ["volume", "inspect", "data"], expect: 0),
            Step(args: ["volume", "inspect", "data", "--field", "name"], expect: 0),
            Step(args: ["volume", "inspect", "data", "--field", "metadata.nope"], expect: 3),
            Step(args: ["volume", "inspect", "missing"], expect: 3),
            Step(args: ["files", "put", "data", "/docs/hello.txt", scratch + "/hello.txt"], expect: 0),
            Step(args: ["files", "put", "data", "/in.txt"], stdin: Data("from stdin\n".utf8), expect: 0),
            Step(args: ["files", "put", "data", "/docs/hello.txt", scratch + "/no-such-file"], expect: 3),
            Step(args: ["files", "put", "data", "/x/y", scratch + "/hello.txt", "--no-parents"], expect: 3),
            Step(args: ["files", "cat", "data", "/docs/hello.txt"], expect: 0),
            Step(args: ["files", "cat", "data", "/docs/hello.txt", "--offset", "2", "--length", "3"], expect: 0),
            Step(args: ["files", "cat", "data", "/docs/hello.txt", "--offset", "100"], expect: 0),
            Step(args: ["files", "cat", "data", "/docs/hello.txt", "--json"], expect: 0),
            Step(args: ["files", "cat", "data", "/missing"], expect: 3),
            Step(args: ["files", "cat", "data", "/docs"], expect: 4),
            Step(args: ["files", "ls", "data"], expect: 0),
            Step(args: ["files", "ls", "data", "/", "--recursive"], expect: 0),
            Step(args: ["files", "ls", "data", "/", "--depth", "2", "--json"], expect: 0),
            Step(args: ["files", "ls", "data", "/in.txt"], expect: 4),
            Step(args: ["files", "stat", "data", "/docs/hello.txt"], expect: 0),
            Step(args: ["files", "stat", "data", "/docs/hello.txt", "--json"], expect: 0),
            Step(args: ["files", "exists", "data", "/docs/hello.txt"], expect: 0),
            Step(args: ["files", "exists", "data", "/nope"], expect: 1),
            Step(args: ["files", "mkdir", "data", "/d"], expect: 0),
            Step(args: ["files", "mkdir", "data", "/d"], expect: 4),
            Step(args: ["files", "mkdir", "data", "/d", "-p"], expect: 0),
            Step(args: ["files", "mkdir", "data", "/a/b"], expect: 3),
            Step(args: ["files", "mv", "data", "/in.txt", "/d/in.txt"], expect: 0),
            Step(args: ["files", "mv", "data", "/nope", "/d/x"], expect: 3),
            Step(args: ["files", "edit", "data", "/docs/hello.txt", "--old", "hello", "--new", "howdy"], expect: 0),
            Step(args: ["files", "edit", "data", "/docs/hello.txt", "--old", "zzz", "--new", "y"], expect: 4),
            Step(args: ["files", "search", "data", "--name", "*.txt"], expect: 0),
            Step(args: ["files", "search", "data", "--content", "howdy", "--json"], expect: 0),
            Step(args: ["files", "replace", "data", "--glob", "*.txt", "--old", "howdy", "--new", "hi", "--dry-run"], expect: 0),
            Step(args: ["files", "replace", "data", "--glob", "*.txt", "--old", "howdy", "--new", "hi"], expect: 0),
            Step(args: ["files", "get", "data", "/docs/hello.txt", scratch + "/out/"], expect: 0),
            Step(args: ["files", "get", "data", "/docs/hello.txt", "-"], expect: 0),
            Step(args: ["files", "get", "data", "/missing", scratch + "/out/"], expect: 3),
            Step(args: ["files", "stat", "data", "/a/../b"], expect: 64),
            Step(args: ["upload", scratch + "/blob.bin", "data:/up/blob.bin"], expect: 0),
            Step(args: ["upload", scratch + "/blob.bin", "data:/d/"], expect: 0),
            Step(args: ["upload", "-", "data:/up/stdin.bin"], stdin: Data(repeating: 9, count: 5000), expect: 0),
            Step(args: ["download", "data:/up/blob.bin", scratch + "/out/"], expect: 0),
            Step(args: ["download", "data:/up/missing", scratch + "/out/"], expect: 3),
            Step(args: ["files", "cat", "data", "/up/stdin.bin", "--length", "10"], expect: 0),
            Step(args: ["volume", "list", "--json"], expect: 0),
            // The operator's calls: caps, gc and fsck (one volume so far, so 'fsck' of all lists the same).
            Step(args: ["quota", "show", "data"], expect: 0),
            Step(args: ["quota", "set", "data", "1GiB"], expect: 0),
            Step(args: ["quota", "show", "data", "--json"], expect: 0),
            Step(args: ["quota", "set", "data", "1KiB"], expect: 64),
            Step(args: ["quota", "set", "missing", "1GiB"], expect: 3),
            Step(args: ["quota", "clear", "data"], expect: 0),
            Step(args: ["quota", "set", "--tenant", "default", "3GiB"], expect: 0),
            Step(args: ["quota", "show", "data"], expect: 0),
            Step(args: ["quota", "clear", "--tenant", "default", "--json"], expect: 0),
            Step(args: ["gc", "--dry-run"], expect: 0),
            Step(args: ["gc", "--grace", "0s", "--json"], expect: 0),
            Step(args: ["fsck"], expect: 0),
            Step(args: ["fsck", "data", "--json"], expect: 0),
            Step(args: ["fsck", "missing"], expect: 3),
            // Locally the new volume also gets metadata imported_from=FILE; the HTTP create has no metadata (yet).
            Step(args: ["import", scratch + "/blob.tar.gz", "--create", "imported"], expect: 0),
            Step(args: ["files", "ls", "imported", "/", "-R"], expect: 0),
            // Into an existing volume, below a directory; and a new volume below its root.
            Step(args: ["import", scratch + "/blob.tar.gz", "--volume", "data", "--path", "/restored"], expect: 0),
            Step(args: ["files", "ls", "data", "/restored", "-R"], expect: 0),
            Step(args: ["import", scratch + "/blob.tar.gz", "--create", "nested", "--path", "/a/b", "--json"], expect: 0),
            Step(args: ["files", "ls", "nested", "/", "-R"], expect: 0),
            Step(args: ["import", scratch + "/blob.tar.gz", "--volume", "missing"], expect: 3),
            Step(args: ["import", scratch + "/no-such.tar.gz", "--volume", "data"], expect: 3),
            Step(args: ["volume", "delete", "nested", "--force"], expect: 0),
            Step(args: ["files", "rm", "data", "/d"], expect: 4),
            Step(args: ["files", "rm", "data", "/d", "-r"], expect: 0),
            Step(args: ["files", "rm", "data", "/nope"], expect: 3),
            Step(args: ["files", "rm", "data", "/nope", "-f"], expect: 0),
            Step(args: ["volume", "delete", "imported"], expect: 0),
            Step(args: ["volume", "list", "--json"], expect: 0),
            Step(args: ["volume", "list", "--quiet"], expect: 0),
        ]
    }

    /// Volume IDs and times differ between the two worlds; everything else must not.
    static func normalize(_ s: String) -> String {
        var out = s
        for (pattern, with) in [(#"vol-[a-z0-9]{20}"#, "vol-ID"), (#"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"#, "TIME")] {
            out = out.replacingOccurrences(of: pattern, with: with, options: .regularExpression)
        }
        return out
    }

    func testTheSameCommandsPrintTheSameAndExitTheSameLocallyAndOverEndpoint() throws {
        let d = try Daemon()
        defer { d.stop() }
        let localDir = try TemporaryDirectory("ctl-local")
        let scratch = try TemporaryDirectory("ctl-scratch")
        defer { localDir.remove(); scratch.remove() }
        try Data("hello world\n".utf8).write(to: scratch.url.appendingPathComponent("hello.txt"))
        try Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }).write(to: scratch.url.appendingPathComponent("blob.bin"))
        let tree = scratch.path + "/tree"
        try FileManager.default.createDirectory(atPath: tree + "/sub", withIntermediateDirectories: true)
        try Data("one\n".utf8).write(to: URL(fileURLWithPath: tree + "/sub/one.txt"))
        try FileManager.default.createSymbolicLink(atPath: tree + "/link", withDestinationPath: "sub/one.txt")
        XCTAssertEqual(try Daemon.runTool("/usr/bin/tar", ["-czf", scratch.path + "/blob.tar.gz", "-C", tree, "."]).status, 0)
        let ctl = try Daemon.volumectl.get().path
        let out = scratch.path + "/out"

        var mismatches: [String] = []
        for step in Self.steps(scratch.path) {
            var runs: [Daemon.ToolRun] = []
            for world in [["--data-dir", localDir.path], ["--endpoint", d.url]] {
                try? FileManager.default.removeItem(atPath: out)
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                runs.append(try Daemon.runTool(ctl, world + step.args, env: ["VOLUMES_API_KEY": d.operatorKey, "VOLUMES_ENDPOINT": "",
                                                                              "VOLUMES_DATA_DIR": "", "VOLUMES_TENANT": ""],
                                               stdin: step.stdin))
            }
            let (local, remote) = (runs[0], runs[1])
            let name = step.args.joined(separator: " ").replacingOccurrences(of: scratch.path, with: "LOCAL")
            XCTAssertEqual(local.status, step.expect, "local \(name): \(local.stderr)")
            if local.status != remote.status { mismatches.append("\(name): exit \(local.status) locally, \(remote.status) remotely (\(remote.stderr))") }
            let jsonSummary = step.args.contains("--json") && ["upload", "download", "import"].contains(step.args[0])
            if !jsonSummary, Self.normalize(local.stdout) != Self.normalize(remote.stdout) {
                mismatches.append("\(name): stdout differs\n  local:  \(local.stdout.debugDescription)\n  remote: \(remote.stdout.debugDescription)")
            }
            if Self.normalize(local.stderr) != Self.normalize(remote.stderr) {
                mismatches.append("\(name): stderr differs\n  local:  \(local.stderr.debugDescription)\n  remote: \(remote.stderr.debugDescription)")
            }
        }
        XCTAssertEqual(mismatches, [], mismatches.joined(separator: "\n"))
    }

    func testOverTheCapExits5InBothWorlds() throws {
        let d = try Daemon()
        defer { d.stop() }
        let localDir = try TemporaryDirectory("ctl-local-cap")
        let scratch = try TemporaryDirectory("ctl-scratch-cap")
        defer { localDir.remove(); scratch.remove() }
        try Data(repeating: 1, count: 300 << 10).write(to: scratch.url.appendingPathComponent("big.bin"))
        let ctl = try Daemon.volumectl.get().path
        let env = ["VOLUMES_API_KEY": d.operatorKey, "VOLUMES_ENDPOINT": "", "VOLUMES_DATA_DIR": "", "VOLUMES_TENANT": ""]
        var results: [Daemon.ToolRun] = []
        for world in [["--data-dir", localDir.path], ["--endpoint", d.url]] {
            XCTAssertEqual(try Daemon.runTool(ctl, world + ["volume", "create", "capped"], env: env).status, 0)
            let q = try Daemon.runTool(ctl, world + ["quota", "set", "capped", "100KiB"], env: env)
            XCTAssertEqual(q.status, 0, q.stderr)
            results.append(try Daemon.runTool(ctl, world + ["files", "put", "capped", "/big.bin", scratch.path + "/big.bin"], env: env))
            results.append(try Daemon.runTool(ctl, world + ["upload", scratch.path + "/big.bin", "capped:/up.bin"], env: env))
        }
        for r in results { XCTAssertEqual(r.status, 5, r.stderr) }
        // 'files put' and upload go through the one streaming write in both worlds, so each says the same.
        XCTAssertEqual(Self.normalize(results[0].stderr), Self.normalize(results[2].stderr))
        XCTAssertEqual(Self.normalize(results[1].stderr), Self.normalize(results[3].stderr))
    }

    func testCommandsWithoutARouteSayNotAvailableAndExit64() throws {
        let d = try Daemon()
        defer { d.stop() }
        let ctl = try Daemon.volumectl.get().path
        let env = ["VOLUMES_API_KEY": d.operatorKey, "VOLUMES_ENDPOINT": d.url, "VOLUMES_DATA_DIR": "", "VOLUMES_TENANT": ""]
        XCTAssertEqual(try Daemon.runTool(ctl, ["volume", "create", "v"], env: env).status, 0, "VOLUMES_ENDPOINT alone selects the daemon")
        let scratch = try TemporaryDirectory("ctl-na")
        defer { scratch.remove() }
        try FileManager.default.createDirectory(atPath: scratch.path + "/dir", withIntermediateDirectories: true)
        for args in [["export", "v", "-o", scratch.path + "/x.tar.gz"], ["unmount", scratch.path + "/dir"],
                     ["upload", scratch.path + "/dir", "v:/dir"], ["download", "v:/", scratch.path + "/dir"]] {
            let r = try Daemon.runTool(ctl, args, env: env)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("not available over --endpoint yet"), "\(args): \(r.stderr)")
        }
        // API keys go through the admin routes.
        let made = try Daemon.runTool(ctl, ["apikey", "create", "--tenant", "zeta"], env: env)
        XCTAssertEqual(made.status, 0, made.stderr)
        XCTAssertTrue(made.stdout.hasPrefix("vk_"), made.stdout)
        let listed = try Daemon.runTool(ctl, ["apikey", "list", "--tenant", "zeta", "--json"], env: env)
        let keys = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], listed.stdout)
        XCTAssertEqual(keys.count, 1)
        let id = try XCTUnwrap(keys.first?["id"] as? String)
        let revoked = try Daemon.runTool(ctl, ["apikey", "revoke", id], env: env)
        XCTAssertEqual(revoked.stdout, "revoked key \(id) of tenant zeta\n", revoked.stderr)
        let gone = try Daemon.runTool(ctl, ["volume", "list"], env: env.merging(["VOLUMES_API_KEY": made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)]) { $1 })
        XCTAssertEqual(gone.status, 6, "a revoked key: \(gone.stderr)")
        // A wrong key is 'not permitted' (6), an unreachable daemon an internal error (70), both in one line.
        let wrong = try Daemon.runTool(ctl, ["volume", "list"], env: env.merging(["VOLUMES_API_KEY": "vk_wrong"]) { $1 })
        XCTAssertEqual(wrong.status, 6, wrong.stderr)
        let down = try Daemon.runTool(ctl, ["--endpoint", "http://127.0.0.1:1", "volume", "list"], env: env)
        XCTAssertEqual(down.status, 70, down.stderr)
        XCTAssertEqual(down.stderr.split(separator: "\n").count, 1, down.stderr)
    }
}
