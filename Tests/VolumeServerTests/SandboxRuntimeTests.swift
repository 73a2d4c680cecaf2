// The reference sandbox runtime end to end: a real volumed with --sandbox-runtime bwrap, real bubblewrap namespaces, real FUSE, driven by volumectl.
import Foundation
import XCTest
import VolumeTestSupport

final class SandboxRuntimeTests: XCTestCase {
    /// A daemon running sandboxes with bwrap. Teardown kills every sandbox process it started (by the
    /// runtime's records: pid and start time), stops it, and takes its mounts down.
    func daemon() throws -> Daemon {
        try XCTSkipUnless(getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/fuse"), "needs root and /dev/fuse")
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/bwrap"), "needs bubblewrap (apt-get install bubblewrap)")
        let d = try Daemon(arguments: ["--sandbox-runtime", "bwrap"])
        addTeardownBlock {
            Self.killSandboxes(d)
            d.stop()
            SandboxRouteTests.unmountAll(under: d.dataDir + "/mounts")
            _ = try? Daemon.runTool("/usr/bin/env", ["umount", "-l", d.dataDir + "/mounts"])
        }
        return d
    }

    /// The sandbox inits the runtime recorded, as (pid, start time).
    static func runtimeRecords(_ d: Daemon) -> [(pid: Int32, start: String)] {
        let dir = d.dataDir + "/runtime"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasSuffix(".json") }.compactMap { name in
            guard let data = FileManager.default.contents(atPath: dir + "/" + name),
                  let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let pid = o["pid"] as? Int, let start = o["start_time"] as? Int else { return nil }
            return (Int32(pid), String(start))
        }
    }

    /// Field 22 of /proc/PID/stat, nil for no process or a zombie.
    static func startTime(_ pid: Int32) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = text.lastIndex(of: ")") else { return nil }
        let f = text[text.index(after: close)...].split(separator: " ")
        return f.count > 19 && f[0] != "Z" ? String(f[19]) : nil
    }

    static func killSandboxes(_ d: Daemon) {
        for r in runtimeRecords(d) where startTime(r.pid) == r.start { kill(r.pid, SIGKILL) }
    }

    /// Every process in `pid`'s PID namespace.
    static func namespaceMembers(_ pid: Int32) -> [Int32] {
        guard let ns = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/pid") else { return [] }
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
            .filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/ns/pid")) == ns }
    }

    static func state(_ pid: Int32) -> String {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return status.split(separator: "\n").first { $0.hasPrefix("State:") }.map(String.init) ?? "(gone)"
    }

    /// Whether `pid` runs nothing: stopped, or a zombie (a child that exited just before its parent
    /// stopped stays one until the parent runs again), or gone.
    static func runsNothing(_ pid: Int32) -> Bool {
        let s = state(pid)
        return s.contains("T (") || s.contains("t (") || s.contains("Z (") || s == "(gone)"
    }

    /// volumectl against the daemon with a tenant key.
    func ctl(_ d: Daemon, _ key: String, _ args: [String]) throws -> Daemon.ToolRun { try SandboxHarness.ctl(d, key, args) }

    /// `sandbox create` printing the new ID.
    func createSandbox(_ d: Daemon, _ key: String, _ extra: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try SandboxHarness.create(d, key, extra, file: file, line: line)
    }

    func exec(_ d: Daemon, _ key: String, _ id: String, _ argv: [String]) throws -> Daemon.ToolRun {
        try ctl(d, key, ["sandbox", "exec", id, "--"] + argv)
    }

    /// A Phase 1 tar.gz made by GNU tar: rows.csv with `rows` lines, and `shared/`, a directory anyone
    /// may write (the volume's root stays root's 0755: no owner mapping yet, see Docs/api.md).
    func uploadDataset(_ d: Daemon, _ key: String, rows: Int, name: String = "training-set") throws -> String {
        let scratch = try TemporaryDirectory("fanout")
        defer { scratch.remove() }
        let tree = scratch.path + "/tree"
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: tree + "/shared", withIntermediateDirectories: true)
        chmod(tree + "/shared", 0o777)
        try Data((0..<rows).map { "\($0),row \($0)\n" }.joined().utf8).write(to: URL(fileURLWithPath: tree + "/rows.csv"))
        XCTAssertEqual(try Daemon.runTool("/usr/bin/tar", ["-czf", scratch.path + "/training.tar.gz", "-C", tree, "."]).status, 0)
        let r = try d.request("POST", "/v1/volumes?name=\(name)", key: key, headers: ["Content-Type": "application/gzip"],
                              bodyFile: scratch.path + "/training.tar.gz")
        XCTAssertEqual(r.status, 201, r.text)
        return try XCTUnwrap((try r.object()["volume"] as? [String: Any])?["volume_id"] as? String)
    }

    /// The cookbook: one upload, 4 sandboxes attaching it at /data, `wc -l /data/rows.csv` in each; a
    /// write in one is seen by the others (one shared volume); exit codes pass through; commands run as
    /// the unprivileged user and see neither the host's /root nor the data directory.
    /// Fails on old code: volumectl has no `sandbox` command (and the daemon no runtime or exec route).
    func testFanOutCookbookFourSandboxesReadOneUploadAndShareWrites() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        _ = try uploadDataset(d, key, rows: 1234)
        var ids: [String] = []
        for _ in 0..<4 { ids.append(try createSandbox(d, key, ["--volume", "training-set:/data"])) }
        XCTAssertEqual(Set(Self.runtimeRecords(d).map(\.pid)).count, 4, "four sandboxes, four inits")
        for id in ids {
            let r = try exec(d, key, id, ["wc", "-l", "/data/rows.csv"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stdout, "1234 /data/rows.csv\n")
        }
        let w = try exec(d, key, ids[0], ["sh", "-c", "echo x >> /data/shared/new"])
        XCTAssertEqual(w.status, 0, w.stderr)
        for id in ids.dropFirst() {
            let r = try exec(d, key, id, ["cat", "/data/shared/new"])
            XCTAssertEqual(r.stdout, "x\n", "a write in one sandbox is seen by the others: \(r.stderr)")
        }
        // The cookbook's write into the volume's root: filled through the API as root, it is the sandbox user's
        // through the owner mapping of its attachment (shown as uid 1000 inside).
        let own = try exec(d, key, ids[0], ["sh", "-c", "echo y >> /data/new && stat -c %u:%g /data /data/new"])
        XCTAssertEqual(own.status, 0, own.stderr)
        XCTAssertEqual(own.stdout, "1000:1000\n1000:1000\n")
        for id in ids.dropFirst() {
            XCTAssertEqual(try exec(d, key, id, ["cat", "/data/new"]).stdout, "y\n")
        }
        // Exit codes and both streams pass through.
        let code = try exec(d, key, ids[1], ["sh", "-c", "echo out; echo err >&2; exit 7"])
        XCTAssertEqual(code.status, 7)
        XCTAssertEqual(code.stdout, "out\n")
        XCTAssertEqual(code.stderr, "err\n")
        // The unprivileged user, in its own PID namespace and root view.
        XCTAssertEqual(try exec(d, key, ids[2], ["id", "-u"]).stdout, "1000\n")
        XCTAssertEqual(try exec(d, key, ids[2], ["id", "-g"]).stdout, "1000\n")
        XCTAssertNotEqual(try exec(d, key, ids[2], ["ls", "/root"]).status, 0, "the host's /root is not in the sandbox")
        XCTAssertEqual(try exec(d, key, ids[2], ["test", "-e", d.dataDir]).status, 1, "the data directory is not in the sandbox")
        XCTAssertEqual(try exec(d, key, ids[2], ["test", "-e", d.dataDir + "/operator.key"]).status, 1)
        let ps = try exec(d, key, ids[3], ["sh", "-c", "ls /proc | grep -c '^[0-9]'"])
        XCTAssertLessThan(Int(ps.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 99, 10, "its own PID namespace: \(ps.stdout)")
        let ls = try ctl(d, key, ["sandbox", "ls", "--json"])
        XCTAssertEqual(ls.status, 0, ls.stderr)
        XCTAssertEqual(try (JSONSerialization.jsonObject(with: Data(ls.stdout.utf8)) as? [[String: Any]])?.filter { $0["runtime"] as? String == "bwrap" }.count, 4)
        for id in ids { XCTAssertEqual(try ctl(d, key, ["sandbox", "destroy", id]).status, 0) }
    }

    /// Pause stops every process of the sandbox before its mounts go, and exec is refused (409, exit 4);
    /// resume mounts again and runs them; fork starts new processes with the same attachment; destroy
    /// leaves no process and every attachment released.
    /// Fails on old code: `"runtime": "bwrap"` is an unknown field (400) and there is no exec route;
    /// without the freeze before the unmount, the processes are not in state T while paused.
    func testPauseStopsTheProcessesResumeRunsThemForkAndDestroyLeaveNothing() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("data", key: key)
        try d.put(vol, "/dir/f.txt", Data("kept\n".utf8), key: key, query: "&parents=true")
        let id = try createSandbox(d, key, ["--volume", "data:/data:ro", "--volume", "data:/sub:subpath=/dir"])
        // A background process in the sandbox, beside its init.
        let bg = try exec(d, key, id, ["sh", "-c", "sleep 1000 >/dev/null 2>&1 &"])
        XCTAssertEqual(bg.status, 0, bg.stderr)
        // And a zombie: a process whose child exited and is never reaped (pause used to wait for it
        // to stop, which a zombie never does, and failed with "did not all stop").
        let parent = try exec(d, key, id, ["sh", "-c", "python3 -c 'import os, time\nif os.fork() == 0: os._exit(0)\ntime.sleep(1000)' >/dev/null 2>&1 &"])
        XCTAssertEqual(parent.status, 0, parent.stderr)
        let pid = try XCTUnwrap(Self.runtimeRecords(d).first?.pid)
        XCTAssertTrue(SandboxHarness.wait(seconds: 30) { Self.namespaceMembers(pid).contains { Self.state($0).contains("Z (") } },
                      "a zombie in the sandbox: \(Self.namespaceMembers(pid).map(Self.state))")
        XCTAssertGreaterThanOrEqual(Self.namespaceMembers(pid).count, 5, "init, its sleep, the background sleep, the python and its zombie")
        XCTAssertEqual(try exec(d, key, id, ["cat", "/sub/f.txt"]).stdout, "kept\n", "the subpath is the mount's root")
        let ro = try exec(d, key, id, ["sh", "-c", "echo no > /data/x"])
        XCTAssertNotEqual(ro.status, 0)
        XCTAssertTrue(ro.stderr.contains("Read-only"), ro.stderr)

        // Runtime attach appears inside the running sandbox; detach takes it out.
        let attached = try ctl(d, key, ["sandbox", "attach", id, "data:/extra:ro:subpath=/dir", "--json"])
        XCTAssertEqual(attached.status, 0, attached.stderr)
        let attId = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(attached.stdout.utf8)) as? [String: Any])?["attachment_id"] as? String)
        XCTAssertEqual(try exec(d, key, id, ["cat", "/extra/f.txt"]).stdout, "kept\n", "a runtime attach is visible in the running sandbox")
        XCTAssertEqual(try ctl(d, key, ["sandbox", "detach", id, attId]).status, 0)
        XCTAssertNotEqual(try exec(d, key, id, ["test", "-e", "/extra/f.txt"]).status, 0, "a detach takes it out of the sandbox")

        let paused = try ctl(d, key, ["sandbox", "pause", id])
        XCTAssertEqual(paused.status, 0, paused.stderr)
        for p in Self.namespaceMembers(pid) { XCTAssertTrue(Self.runsNothing(p), "process \(p) is stopped while paused: \(Self.state(p))") }
        let refused = try exec(d, key, id, ["true"])
        XCTAssertEqual(refused.status, 4, "exec in a paused sandbox is a conflict: \(refused.stderr)")
        XCTAssertTrue(refused.stderr.contains("paused"), refused.stderr)
        let atts = try ctl(d, key, ["sandbox", "attachments", id, "--json"])
        let records = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(atts.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(records.map { $0["reason"] as? String }, ["sandbox_paused", "sandbox_paused"], atts.stdout)

        XCTAssertEqual(try ctl(d, key, ["sandbox", "resume", id]).status, 0)
        for p in Self.namespaceMembers(pid) { XCTAssertFalse(Self.state(p).contains("T"), "process \(p) runs after resume") }
        XCTAssertEqual(try exec(d, key, id, ["cat", "/sub/f.txt"]).stdout, "kept\n", "the data is there after resume")

        let forked = try ctl(d, key, ["sandbox", "fork", id])
        XCTAssertEqual(forked.status, 0, forked.stderr)
        let child = forked.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(try exec(d, key, child, ["cat", "/sub/f.txt"]).stdout, "kept\n", "the fork has the attachments")
        XCTAssertEqual(Self.runtimeRecords(d).count, 2, "the fork has its own processes")

        let inits = Self.runtimeRecords(d)
        for s in [id, child] { XCTAssertEqual(try ctl(d, key, ["sandbox", "destroy", s]).status, 0) }
        for r in inits { XCTAssertNil(Self.startTime(r.pid), "no process of a destroyed sandbox is left") }
        XCTAssertTrue(Self.namespaceMembers(pid).isEmpty)
        for s in [id, child] {
            let list = try d.get("/v1/sandboxes/\(s)/attachments", key: key).array()
            XCTAssertEqual(list.map { $0["state"] as? String }, ["released", "released"])
            XCTAssertEqual(list.map { $0["reason"] as? String }, ["sandbox_destroyed", "sandbox_destroyed"])
        }
        XCTAssertFalse(SandboxRouteTests.mountpoints().contains { $0.hasPrefix(d.dataDir + "/mounts/") }, "no mount is left")
        XCTAssertEqual(try exec(d, key, id, ["true"]).status, 4, "a destroyed sandbox runs nothing")
    }

    /// `kill -9` of volumed: the sandbox's processes go on (a loop inside keeps writing to the volume
    /// while the daemon is down), and after the restart the sandbox is adopted and exec works.
    /// Fails on old code: no runtime (400); with `--die-with-parent` or a child of volumed's session the
    /// loop would stop with the daemon.
    func testKillNineOfVolumedLeavesTheSandboxRunningAndExecWorksAfterRestart() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        let vol = try uploadDataset(d, key, rows: 3, name: "data")
        let id = try createSandbox(d, key, ["--volume", "\(vol):/data"])
        let loop = try exec(d, key, id, ["sh", "-c", "(while :; do echo t >> /data/shared/tick; sleep 0.05; done) >/dev/null 2>&1 &"])
        XCTAssertEqual(loop.status, 0, loop.stderr)
        let record = try XCTUnwrap(Self.runtimeRecords(d).first)
        let hostPath = try XCTUnwrap((try d.get("/v1/sandboxes/\(id)/attachments", key: key).array().first)?["host_path"] as? String)

        XCTAssertEqual(d.stop(signal: SIGKILL), SIGKILL)
        func ticks() -> Int { ((try? String(contentsOfFile: hostPath + "/shared/tick", encoding: .utf8)) ?? "").count }
        let before = ticks()
        // Progress within a bound (a loaded machine may schedule the loop late), not a fixed pause.
        for _ in 0..<500 where ticks() <= before + 2 { usleep(10_000) }
        XCTAssertEqual(Self.startTime(record.pid), record.start, "the sandbox's init outlives volumed")
        XCTAssertGreaterThan(ticks(), before, "the loop inside kept writing while volumed was down")

        try d.start()
        XCTAssertTrue(d.log().contains("reconciled sandboxes: adopted 1"), d.log())
        let r = try exec(d, key, id, ["sh", "-c", "test -s /data/shared/tick && id -u"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "1000\n")
        XCTAssertEqual(Self.runtimeRecords(d).first?.pid, record.pid, "the same sandbox, adopted")
        XCTAssertEqual(try ctl(d, key, ["sandbox", "destroy", id]).status, 0)
        XCTAssertNil(Self.startTime(record.pid))
    }
}
