// Sandboxes through the real daemon with real FUSE mounts: host paths, runtime attach/detach, pause/resume, fork, destroy, restarts.
import Foundation
import VolumeCore
import XCTest
import VolumeTestSupport

final class SandboxRouteTests: XCTestCase {
    /// A daemon whose mounts are all taken down at teardown (before its directory goes).
    func daemon() throws -> Daemon {
        try XCTSkipUnless(getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/fuse"), "needs root and /dev/fuse")
        let d = try Daemon()
        addTeardownBlock {
            d.stop()
            Self.unmountAll(under: d.dataDir + "/mounts")
        }
        return d
    }

    /// Unmounts every mount under `root` (their servers commit and exit) and waits for them to go.
    static func unmountAll(under root: String) {
        for _ in 0..<3 {
            let points = mountpoints().filter { $0.hasPrefix(root + "/") }
            if points.isEmpty { return }
            for p in points {
                if (try? Daemon.runTool("/usr/bin/env", ["fusermount3", "-u", p]))?.status != 0 {
                    _ = try? Daemon.runTool("/usr/bin/env", ["fusermount3", "-uz", p])
                }
            }
            usleep(200_000)
        }
    }

    static func mountpoints() -> [String] {
        let text = ProcFile.text("/proc/self/mountinfo") ?? ""
        return text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            return f.count > 4 ? String(f[4]) : nil
        }
    }

    func create(_ d: Daemon, key: String, _ attachments: [[String: Any]], status: Int = 201,
                file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let r = try d.send("POST", "/v1/sandboxes", key: key, json: ["attachments": attachments])
        XCTAssertEqual(r.status, status, r.text, file: file, line: line)
        return try r.object()
    }

    static func attachments(_ o: [String: Any]) -> [[String: Any]] { o["attachments"] as? [[String: Any]] ?? [] }

    static func pid(_ a: [String: Any]) -> Int? {
        ((a["served_by"] as? [String: Any])?["process"] as? [String: Any])?["pid"] as? Int
    }

    func testCreateWithAnAttachmentMountsItAtItsHostPathBothWays() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("data", key: key)
        try d.put(vol, "/rows.csv", Data("a\nb\n".utf8), key: key)
        let sbx = try create(d, key: key, [["volume_id": vol, "mount_path": "/data"]])
        let att = try XCTUnwrap(Self.attachments(sbx).first)
        XCTAssertEqual(att["state"] as? String, "mounted", "\(att)")
        let hostPath = try XCTUnwrap(att["host_path"] as? String)
        XCTAssertEqual(try String(contentsOfFile: hostPath + "/rows.csv", encoding: .utf8), "a\nb\n")
        // A write at the host path is seen through the files API.
        try Data("from the sandbox".utf8).write(to: URL(fileURLWithPath: hostPath + "/out.txt"))
        XCTAssertEqual(try d.read(vol, "/out.txt", key: key).text, "from the sandbox")
        // Deleting the volume while mounted is refused, naming the sandbox.
        let del = try d.request("DELETE", "/v1/volumes/\(vol)", key: key)
        XCTAssertEqual(del.status, 409, del.text)
        XCTAssertTrue(del.errorMessage.contains(sbx["sandbox_id"] as! String), del.text)
        let list = try d.get("/v1/volumes/\(vol)/attachments", key: key)
        XCTAssertEqual(try list.array().count, 1, list.text)
    }

    func testReadOnlyAndSubpathAndRuntimeAttachDetach() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("data", key: key)
        try d.put(vol, "/sets/a/x.txt", Data("x".utf8), key: key, query: "&parents=true")
        let sbx = try create(d, key: key, [])
        let id = sbx["sandbox_id"] as! String
        let body: [String: Any] = ["volume_id": vol, "mount_path": "/ro", "read_only": true, "subpath": "/sets/a"]
        let r = try d.send("POST", "/v1/sandboxes/\(id)/attachments", key: key, json: body)
        XCTAssertEqual(r.status, 201, r.text)
        let att = try r.object()
        XCTAssertEqual(att["state"] as? String, "mounted", r.text)
        let hostPath = try XCTUnwrap(att["host_path"] as? String)
        XCTAssertEqual(try String(contentsOfFile: hostPath + "/x.txt", encoding: .utf8), "x", "the subpath is the mount's root")
        let fd = open(hostPath + "/new.txt", O_CREAT | O_WRONLY, 0o644)
        let err = errno
        if fd >= 0 { close(fd) }
        XCTAssertEqual(fd, -1)
        XCTAssertEqual(err, EROFS, "a read-only attachment refuses writes with EROFS")
        // Idempotent: the same request answers the same record; a clash at that path is 409.
        let again = try d.send("POST", "/v1/sandboxes/\(id)/attachments", key: key, json: body)
        XCTAssertEqual(again.status, 200, again.text)
        XCTAssertEqual(try again.object()["attachment_id"] as? String, att["attachment_id"] as? String)
        let clash = try d.send("POST", "/v1/sandboxes/\(id)/attachments", key: key, json: ["volume_id": vol, "mount_path": "/ro"])
        XCTAssertEqual(clash.status, 409, clash.text)
        // Detach: unmounted, the record released with reason detached.
        let det = try d.request("DELETE", "/v1/sandboxes/\(id)/attachments/\(att["attachment_id"] as! String)", key: key)
        XCTAssertEqual(det.status, 200, det.text)
        XCTAssertEqual(try det.object()["reason"] as? String, "detached")
        XCTAssertFalse(Self.mountpoints().contains(hostPath), "detach must unmount")
    }

    func testPauseReleasesAndUnmountsResumeRemountsForkAndDestroy() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("data", key: key)
        let sbx = try create(d, key: key, [["volume_id": vol, "mount_path": "/data"]])
        let id = sbx["sandbox_id"] as! String
        let hostPath = try XCTUnwrap(Self.attachments(sbx).first?["host_path"] as? String)
        try Data("before pause".utf8).write(to: URL(fileURLWithPath: hostPath + "/f.txt"))

        let paused = try d.request("POST", "/v1/sandboxes/\(id)/pause", key: key).object()
        XCTAssertEqual(paused["state"] as? String, "paused")
        XCTAssertEqual(Self.attachments(paused).first?["state"] as? String, "released")
        XCTAssertEqual(Self.attachments(paused).first?["reason"] as? String, "sandbox_paused")
        XCTAssertFalse(Self.mountpoints().contains(hostPath), "pause must unmount")
        XCTAssertEqual(try d.read(vol, "/f.txt", key: key).text, "before pause", "the write was committed before the unmount")

        let resumed = try d.request("POST", "/v1/sandboxes/\(id)/resume", key: key).object()
        XCTAssertEqual(Self.attachments(resumed).first?["state"] as? String, "mounted", "\(resumed)")
        XCTAssertEqual(try String(contentsOfFile: hostPath + "/f.txt", encoding: .utf8), "before pause")

        let fork = try d.request("POST", "/v1/sandboxes/\(id)/fork", key: key)
        XCTAssertEqual(fork.status, 201, fork.text)
        let child = try XCTUnwrap(Self.attachments(try fork.object()).first)
        XCTAssertEqual(child["state"] as? String, "mounted", fork.text)
        let childPath = try XCTUnwrap(child["host_path"] as? String)
        XCTAssertNotEqual(childPath, hostPath)
        XCTAssertEqual(try String(contentsOfFile: childPath + "/f.txt", encoding: .utf8), "before pause")

        let destroyed = try d.request("POST", "/v1/sandboxes/\(id)/destroy", key: key).object()
        XCTAssertEqual(Self.attachments(destroyed).first?["reason"] as? String, "sandbox_destroyed")
        XCTAssertFalse(Self.mountpoints().contains(hostPath), "destroy must unmount")
        XCTAssertTrue(Self.mountpoints().contains(childPath), "the fork keeps its own mount")

        // A forced deletion (operator) fails the fork's attachment and takes its mount down.
        let forced = try d.request("DELETE", "/v1/volumes/\(vol)?force=true", key: d.operatorKey)
        XCTAssertEqual(forced.status, 204, forced.text)
        let after = try d.get("/v1/sandboxes/\(child["sandbox_id"] as! String)/attachments", key: key).array()
        XCTAssertEqual(after.first?["state"] as? String, "failed")
        XCTAssertEqual(after.first?["reason"] as? String, "volume_deleted")
        XCTAssertFalse(Self.mountpoints().contains(childPath))
    }

    func testContractErrors() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        let other = try d.tenantKey("umbrella")
        let vol = try d.createVolume("data", key: key)
        let theirs = try d.createVolume("theirs", key: other)
        try d.put(vol, "/file", Data("f".utf8), key: key)
        func code(_ a: [String: Any]) throws -> (Int, String) {
            let r = try d.send("POST", "/v1/sandboxes", key: key, json: ["attachments": [a]])
            return (r.status, r.errorCode)
        }
        XCTAssertEqual(try code(["volume_id": vol, "mount_path": "/etc/x"]).0, 400)
        XCTAssertEqual(try code(["volume_id": vol, "mount_path": "data"]).0, 400)
        XCTAssertEqual(try code(["volume_id": "vol-missing", "mount_path": "/data"]).0, 404)
        XCTAssertEqual(try code(["volume_id": theirs, "mount_path": "/data"]).0, 403)
        XCTAssertEqual(try code(["volume_id": vol, "mount_path": "/data", "subpath": "/file"]).0, 400)
        XCTAssertEqual(try code(["volume_id": vol, "mount_path": "/data", "subpath": "/nope"]).0, 400)
        let many = (0..<9).map { ["volume_id": vol, "mount_path": "/m\($0)", "read_only": true] as [String: Any] }
        let r = try d.send("POST", "/v1/sandboxes", key: key, json: ["attachments": many])
        XCTAssertEqual(r.status, 409, r.text)
        XCTAssertEqual(try d.get("/v1/sandboxes", key: key).array().count, 0, "a refused create leaves no sandbox")
        XCTAssertTrue(Self.mountpoints().filter { $0.hasPrefix(d.dataDir) }.isEmpty)
        // Another tenant's sandbox is not found.
        let sbx = try create(d, key: key, [])
        XCTAssertEqual(try d.get("/v1/sandboxes/\(sbx["sandbox_id"] as! String)", key: other).status, 404)
    }

    /// kill -9 of volumed: the mount is served by its own process, so I/O through the host path goes on
    /// during the restart; the restarted daemon adopts the same server. Then a "reboot" (every mount
    /// taken down by hand): the next start mounts it again.
    func testKillNineKeepsServingAndRestartAdoptsThenRemountsAfterAReboot() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("data", key: key)
        let sbx = try create(d, key: key, [["volume_id": vol, "mount_path": "/data"]])
        let id = sbx["sandbox_id"] as! String
        let att = try XCTUnwrap(Self.attachments(sbx).first)
        let hostPath = try XCTUnwrap(att["host_path"] as? String)
        let serverPID = try XCTUnwrap(Self.pid(att))
        try Data("seed".utf8).write(to: URL(fileURLWithPath: hostPath + "/seed.txt"))

        final class Counters: @unchecked Sendable {
            let lock = NSLock()
            var stop = false, ops = 0, errors: [String] = []
        }
        let c = Counters()
        let writer = Thread {
            var i = 0
            while true {
                c.lock.lock(); let stop = c.stop; c.lock.unlock()
                if stop { break }
                let p = hostPath + "/w\(i % 4).txt"
                do {
                    try Data("round \(i)".utf8).write(to: URL(fileURLWithPath: p))
                    let back = try String(contentsOfFile: p, encoding: .utf8)
                    _ = try String(contentsOfFile: hostPath + "/seed.txt", encoding: .utf8)
                    c.lock.lock(); c.ops += 1; if back != "round \(i)" { c.errors.append("read back \(back)") }; c.lock.unlock()
                } catch {
                    c.lock.lock(); c.errors.append("\(error)"); c.lock.unlock()
                }
                i += 1
                usleep(2_000)
            }
        }
        writer.start()
        usleep(100_000)
        XCTAssertEqual(d.stop(signal: SIGKILL), SIGKILL)
        c.lock.lock(); let opsAtKill = c.ops; c.lock.unlock()
        usleep(300_000)
        try d.start()
        // Progress within a bound (a loaded machine may schedule the writer late), not a fixed pause.
        for _ in 0..<500 {
            c.lock.lock(); let ops = c.ops; c.lock.unlock()
            if ops > opsAtKill + 1 { break }
            usleep(10_000)
        }
        c.lock.lock(); c.stop = true; c.lock.unlock()
        while writer.isExecuting { usleep(10_000) }
        XCTAssertEqual(c.errors, [], "I/O through the host path must go on while volumed is down")
        XCTAssertGreaterThan(c.ops, opsAtKill, "the writer kept working through the restart")
        XCTAssertTrue(d.log().contains("adopted 1"), d.log())

        let list = try d.get("/v1/sandboxes/\(id)/attachments", key: key).array()
        XCTAssertEqual(list.first?["state"] as? String, "mounted")
        XCTAssertEqual(list.first.flatMap(Self.pid), serverPID, "the same server is adopted")

        // A "reboot": every mount gone (nothing writes now), then a restart mounts it again.
        XCTAssertEqual(d.stop(), 0, d.log())
        Self.unmountAll(under: d.dataDir + "/mounts")
        XCTAssertFalse(Self.mountpoints().contains(hostPath))
        try d.start()
        let again = try d.get("/v1/sandboxes/\(id)/attachments", key: key).array()
        XCTAssertEqual(again.first?["state"] as? String, "mounted", "\(again)")
        XCTAssertNotEqual(again.first.flatMap(Self.pid), serverPID)
        XCTAssertEqual(try String(contentsOfFile: hostPath + "/seed.txt", encoding: .utf8), "seed")
    }

    /// Deleting a volume mounted in a sandbox is refused with a conflict that names the sandbox, and
    /// volumectl exits 4 for it both on the data directory and over --endpoint (the daemon's `conflict`).
    func testVolumectlExits4ForAMountedVolumesDeletionInBothWorlds() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("data", key: key)
        let sbx = try create(d, key: key, [["volume_id": vol, "mount_path": "/data"]])
        let id = sbx["sandbox_id"] as! String
        XCTAssertEqual(Self.attachments(sbx).first?["state"] as? String, "mounted", "\(sbx)")
        let ctl = try Daemon.volumectl.get().path
        let env = ["VOLUMES_API_KEY": key, "VOLUMES_ENDPOINT": "", "VOLUMES_DATA_DIR": "", "VOLUMES_TENANT": ""]
        for world in [["--endpoint", d.url], ["--data-dir", d.dataDir, "--owner", "acme"]] {
            let r = try Daemon.runTool(ctl, world + ["volume", "delete", vol], env: env)
            XCTAssertEqual(r.status, 4, "\(world): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(id), "\(world): the refusal names the sandbox: \(r.stderr)")
        }
    }

    /// A crash in the middle of a resume (the sandbox recorded `running`, its intents still `released`,
    /// nothing mounted): the next start mounts them, as the resume would have.
    func testARestartAfterACrashInTheMiddleOfAResumeMountsTheIntents() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("data", key: key)
        try d.put(vol, "/f.txt", Data("f".utf8), key: key)
        let sbx = try create(d, key: key, [["volume_id": vol, "mount_path": "/data"]])
        let id = sbx["sandbox_id"] as! String
        let hostPath = try XCTUnwrap(Self.attachments(sbx).first?["host_path"] as? String)
        let paused = try d.request("POST", "/v1/sandboxes/\(id)/pause", key: key).object()
        XCTAssertEqual(Self.attachments(paused).first?["reason"] as? String, "sandbox_paused")
        XCTAssertEqual(d.stop(), 0, d.log())
        // What the resume route records first (`setSandboxState(.running)` changes only the sandbox's
        // row), with the crash before it mounts anything.
        let sql = "UPDATE sandbox SET state = 'running' WHERE id = '\(id)'"
        let r = try Daemon.runTool("/usr/bin/env", ["sqlite3", d.dataDir + "/registry.sqlite", sql])
        XCTAssertEqual(r.status, 0, r.stderr)
        try d.start()
        let list = try d.get("/v1/sandboxes/\(id)/attachments", key: key).array()
        XCTAssertEqual(list.first?["state"] as? String, "mounted", "\(list)")
        XCTAssertTrue(d.log().contains("remounted 1"), d.log())
        XCTAssertEqual(try String(contentsOfFile: hostPath + "/f.txt", encoding: .utf8), "f")
    }

    /// A mount server that dies leaves a mount that answers ENOTCONN (no auto_unmount), never the empty
    /// directory under it; the next start of volumed mounts it again.
    func testADeadMountServerGivesENOTCONNNotTheBareDirectoryAndARestartRemounts() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("data", key: key)
        try d.put(vol, "/f.txt", Data("f".utf8), key: key)
        let sbx = try create(d, key: key, [["volume_id": vol, "mount_path": "/data"]])
        let att = try XCTUnwrap(Self.attachments(sbx).first)
        let hostPath = try XCTUnwrap(att["host_path"] as? String)
        let server = Int32(try XCTUnwrap(Self.pid(att)))
        // Nothing writes here; the server is the one the daemon this test started recorded.
        XCTAssertEqual(kill(server, SIGKILL), 0)
        for _ in 0..<500 where kill(server, 0) == 0 { usleep(10_000) }
        var st = stat()
        let rc = stat(hostPath + "/f.txt", &st)
        let err = errno
        XCTAssertEqual(rc, -1)
        XCTAssertEqual(err, ENOTCONN, "a dead server's mount must answer ENOTCONN, not show the directory under it")
        let fd = open(hostPath + "/new.txt", O_CREAT | O_WRONLY, 0o644)
        if fd >= 0 { close(fd) }
        XCTAssertEqual(fd, -1, "nothing may be written into the directory under a dead mount")
        XCTAssertEqual(d.stop(), 0)
        try d.start()
        XCTAssertTrue(d.log().contains("remounted 1"), d.log())
        XCTAssertEqual(try String(contentsOfFile: hostPath + "/f.txt", encoding: .utf8), "f")
    }
}
