// Create, resume and fork mount a sandbox's attachments at once, each served by the one process the daemon started; a failed one stops none of the others.
import Foundation
import XCTest
import VolumeTestSupport

final class ParallelMountTests: XCTestCase {
    /// A `volumectl` for `volumed --volumectl`: it notes its pid and arguments, waits (at most about
    /// 10 s) until the `batch` starts of its round are all in flight, notes a timeout if they are not,
    /// then execs the real volumectl (same pid). Mounts made one after another never meet: each first
    /// start waits alone and notes a timeout.
    struct Barrier {
        let dir: TemporaryDirectory
        var shim: String { dir.path + "/volumectl" }

        init(batch: Int) throws {
            dir = try TemporaryDirectory("barrier")
            let real = try Daemon.volumectl.get().path
            let script = """
                #!/bin/sh
                d='\(dir.path)'
                echo "$$ $*" >> "$d/starts"
                n=$(grep -n "^$$ " "$d/starts" | tail -1 | cut -d: -f1)
                target=$(( (n + \(batch) - 1) / \(batch) * \(batch) ))
                i=0
                while [ "$(wc -l < "$d/starts")" -lt "$target" ]; do
                    i=$((i + 1))
                    if [ "$i" -gt 200 ]; then echo "$$ timeout" >> "$d/timeouts"; break; fi
                    sleep 0.05
                done
                exec '\(real)' "$@"

                """
            try Data(script.utf8).write(to: URL(fileURLWithPath: shim))
            chmod(shim, 0o755)
        }

        /// (pid, arguments) of every start so far.
        var starts: [(pid: Int, args: String)] {
            ((try? String(contentsOfFile: dir.path + "/starts", encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
                let parts = line.split(separator: " ", maxSplits: 1)
                guard let pid = parts.first.flatMap({ Int($0) }) else { return nil }
                return (pid, parts.count > 1 ? String(parts[1]) : "")
            }
        }

        var timeouts: String { (try? String(contentsOfFile: dir.path + "/timeouts", encoding: .utf8)) ?? "" }
    }

    /// A daemon serving mounts through `barrier`'s shim; its mounts are taken down at teardown.
    func daemon(_ barrier: Barrier) throws -> Daemon {
        try XCTSkipUnless(getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/fuse"), "needs root and /dev/fuse")
        // Servers started one by one (no mount launcher), so that each start goes through the shim.
        let d = try Daemon(arguments: ["--volumectl", barrier.shim, "--no-mount-launcher"])
        addTeardownBlock {
            d.stop()
            SandboxRouteTests.unmountAll(under: d.dataDir + "/mounts")
            barrier.dir.remove()
        }
        return d
    }

    /// Every attachment of `view` (a sandbox) is `mounted`, served by a process the daemon started
    /// itself (one start per mount: the shim's own pid, which exec kept), and reads its volume's
    /// seed and takes a write the files API then sees. `volumes` maps mount_path to (volume, subpath).
    func checkMounted(_ d: Daemon, _ key: String, _ view: [String: Any], _ volumes: [String: (String, String)], _ barrier: Barrier,
                      round: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let atts = SandboxRouteTests.attachments(view)
        XCTAssertEqual(atts.count, volumes.count, "\(view)", file: file, line: line)
        let started = Set(barrier.starts.map(\.pid))
        for a in atts {
            let at = a["mount_path"] as? String ?? ""
            XCTAssertEqual(a["state"] as? String, "mounted", "\(round) \(at): \(a)", file: file, line: line)
            let pid = try XCTUnwrap(SandboxRouteTests.pid(a), "\(round) \(at): \(a)", file: file, line: line)
            XCTAssertTrue(started.contains(pid), "\(round) \(at): the server (pid \(pid)) is the process the daemon started, one start per mount; started: \(barrier.starts)",
                          file: file, line: line)
            let hostPath = try XCTUnwrap(a["host_path"] as? String, file: file, line: line)
            let (vol, sub) = try XCTUnwrap(volumes[at], file: file, line: line)
            XCTAssertEqual(try String(contentsOfFile: hostPath + "/seed.txt", encoding: .utf8), "seed of \(vol)\(sub)", "\(round) \(at)", file: file, line: line)
            let name = "/\(round)-\(at.dropFirst()).txt"
            try Data("\(round) through \(at)".utf8).write(to: URL(fileURLWithPath: hostPath + name))
            XCTAssertEqual(try d.read(vol, (sub == "/" ? "" : sub) + name, key: key).text, "\(round) through \(at)", file: file, line: line)
        }
    }

    /// A sandbox with three attachments (two volumes, one of them twice, once through a subpath) is
    /// created, paused and resumed, then forked: each time every attachment ends `mounted`, readable
    /// and writable at its host path, and the three mounts were in flight at once.
    /// Fails on old code: the mounts run one after another, so no round's three starts are in flight
    /// together (the shim notes a timeout for each), and the serving pid is not the one the daemon
    /// started (`volumectl mount` started a second process to serve and exited).
    func testCreateResumeAndForkMountEveryAttachmentAtOnce() throws {
        let barrier = try Barrier(batch: 3)
        let d = try daemon(barrier)
        let key = try d.tenantKey("acme")
        let v1 = try d.createVolume("one", key: key), v2 = try d.createVolume("two", key: key)
        try d.put(v1, "/seed.txt", Data("seed of \(v1)/".utf8), key: key)
        try d.put(v1, "/sub/seed.txt", Data("seed of \(v1)/sub".utf8), key: key, query: "&parents=true")
        try d.put(v2, "/seed.txt", Data("seed of \(v2)/".utf8), key: key)
        let volumes = ["/a": (v1, "/"), "/b": (v2, "/"), "/c": (v1, "/sub")]
        let created = try d.send("POST", "/v1/sandboxes", key: key, json: ["attachments": [
            ["volume_id": v1, "mount_path": "/a"], ["volume_id": v2, "mount_path": "/b"], ["volume_id": v1, "mount_path": "/c", "subpath": "/sub"],
        ]])
        XCTAssertEqual(created.status, 201, created.text)
        let id = try XCTUnwrap(try created.object()["sandbox_id"] as? String)
        try checkMounted(d, key, try created.object(), volumes, barrier, round: "create")

        let paused = try d.request("POST", "/v1/sandboxes/\(id)/pause", key: key).object()
        XCTAssertEqual(SandboxRouteTests.attachments(paused).map { $0["state"] as? String }, ["released", "released", "released"], "\(paused)")
        let resumed = try d.request("POST", "/v1/sandboxes/\(id)/resume", key: key)
        XCTAssertEqual(resumed.status, 200, resumed.text)
        try checkMounted(d, key, try resumed.object(), volumes, barrier, round: "resume")

        let forked = try d.request("POST", "/v1/sandboxes/\(id)/fork", key: key)
        XCTAssertEqual(forked.status, 201, forked.text)
        try checkMounted(d, key, try forked.object(), volumes, barrier, round: "fork")

        XCTAssertEqual(barrier.starts.count, 9, "three starts per round: \(barrier.starts)")
        XCTAssertTrue(barrier.starts.allSatisfy { $0.args.contains("--foreground") }, "the daemon starts the server itself: \(barrier.starts)")
        XCTAssertEqual(barrier.timeouts, "", "each round's three mounts were in flight at once")
    }

    /// One volume of three is deleted (forced, by the operator) while the sandbox is paused: resume
    /// records that attachment `failed`, `volume_deleted`, with the reason in its message, and mounts
    /// the two others, readable and writable; a fork then does the same. All three mounts of a round
    /// are still started together (the failing one is one of them).
    /// Fails on old code: the mounts run one after another (the shim notes timeouts); the failure
    /// itself was already recorded right one at a time.
    func testResumeAndForkWithADeletedVolumeFailThatAttachmentAndMountTheOthers() throws {
        let barrier = try Barrier(batch: 3)
        let d = try daemon(barrier)
        let key = try d.tenantKey("acme")
        let vols = try ["one", "two", "three"].map { try d.createVolume($0, key: key) }
        for v in vols { try d.put(v, "/seed.txt", Data("seed of \(v)/".utf8), key: key) }
        let created = try d.send("POST", "/v1/sandboxes", key: key, json: ["attachments": [
            ["volume_id": vols[0], "mount_path": "/a"], ["volume_id": vols[1], "mount_path": "/b"], ["volume_id": vols[2], "mount_path": "/c"],
        ]])
        XCTAssertEqual(created.status, 201, created.text)
        let id = try XCTUnwrap(try created.object()["sandbox_id"] as? String)
        XCTAssertEqual(try d.request("POST", "/v1/sandboxes/\(id)/pause", key: key).status, 200)
        let deleted = try d.request("DELETE", "/v1/volumes/\(vols[1])?force=true", key: d.operatorKey)
        XCTAssertEqual(deleted.status, 204, deleted.text)

        let live = ["/a": (vols[0], "/"), "/c": (vols[2], "/")]
        for (round, method, path) in [("resume", "POST", "/v1/sandboxes/\(id)/resume"), ("fork", "POST", "/v1/sandboxes/\(id)/fork")] {
            let r = try d.request(method, path, key: key)
            XCTAssertTrue([200, 201].contains(r.status), "\(round): \(r.text)")
            var view = try r.object()
            let atts = SandboxRouteTests.attachments(view)
            let gone = try XCTUnwrap(atts.first { $0["mount_path"] as? String == "/b" }, r.text)
            XCTAssertEqual(gone["state"] as? String, "failed", "\(round): \(gone)")
            XCTAssertEqual(gone["reason"] as? String, "volume_deleted", "\(round): \(gone)")
            XCTAssertTrue((gone["message"] as? String ?? "").contains(vols[1]), "\(round): the message says why: \(gone)")
            XCTAssertNil(gone["served_by"] as? [String: Any], "\(round): \(gone)")
            view["attachments"] = atts.filter { $0["mount_path"] as? String != "/b" }
            try checkMounted(d, key, view, live, barrier, round: round)
        }
        XCTAssertEqual(barrier.starts.count, 9, "\(barrier.starts)")
        XCTAssertEqual(barrier.timeouts, "", "each round's three mounts were in flight at once, the failing one too")
    }
}
