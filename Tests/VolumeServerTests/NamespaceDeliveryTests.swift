// Delivery "in the sandbox" through the real daemon: attachments placed at mount_path inside a real mount namespace (unshare), runtime attach/detach, pause/resume, fork, restarts.
import Foundation
import VolumeCore
import XCTest
import VolumeTestSupport

/// A process in a mount namespace of its own (`unshare --mount --propagation private`), with a
/// private tmpfs at `root`: a directory made inside the namespace under `root` is not seen on the host.
final class NamespaceHolder {
    let process: Process
    let root: String
    var pid: Int32 { process.processIdentifier }

    init(root: String) throws {
        self.root = root
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        p.arguments = ["--mount", "--propagation", "private", "/bin/sh", "-c", "mount -t tmpfs tmpfs \"$0\" && exec sleep 600", root]
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process = p
        for _ in 0..<500 {
            if mountpoints().contains(root), let comm = try? String(contentsOfFile: "/proc/\(p.processIdentifier)/comm", encoding: .utf8),
               comm.hasPrefix("sleep") { return }
            if !p.isRunning { break }
            usleep(10_000)
        }
        stop()
        throw HarnessError.didNotStart("unshare did not set up its namespace")
    }

    /// The mount points the process sees (relative to its root).
    func mountpoints() -> [String] {
        let text = ProcFile.text("/proc/\(pid)/mountinfo") ?? ""
        return text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            return f.count > 4 ? String(f[4]) : nil
        }
    }

    /// The device (major:minor) of the topmost mount at `path` inside.
    func device(at path: String) -> String? {
        let text = ProcFile.text("/proc/\(pid)/mountinfo") ?? ""
        return text.split(separator: "\n").last { $0.split(separator: " ").count > 4 && $0.split(separator: " ")[4] == path }
            .map { String($0.split(separator: " ")[2]) }
    }

    /// Runs `script` with /bin/sh inside the namespace (nsenter).
    func run(_ script: String) throws -> Daemon.ToolRun {
        try Daemon.runTool("/usr/bin/nsenter", ["-t", String(pid), "-m", "--", "/bin/sh", "-c", script])
    }

    func stop() {
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }
}

final class NamespaceDeliveryTests: XCTestCase {
    var holders: [NamespaceHolder] = []
    var tmp: TemporaryDirectory!

    override func setUpWithError() throws {
        try XCTSkipUnless(getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/fuse"), "needs root and /dev/fuse")
        tmp = try TemporaryDirectory("nsdelivery")
    }

    override func tearDown() {
        // The sandboxes' processes go first (their namespaces' copies with them), then the host mounts.
        for h in holders { h.stop() }
        tmp?.remove()
    }

    /// A daemon for these tests, which send namespace_pid with tenant keys: `--tenant-namespace-pid`
    /// (without it only operator keys may, see the first test).
    func daemon(_ arguments: [String] = ["--tenant-namespace-pid"]) throws -> Daemon {
        let d = try Daemon(arguments: arguments)
        addTeardownBlock {
            d.stop()
            SandboxRouteTests.unmountAll(under: d.dataDir + "/mounts")
        }
        return d
    }

    func holder(_ name: String = "root") throws -> NamespaceHolder {
        let h = try NamespaceHolder(root: tmp.path + "/" + name)
        holders.append(h)
        return h
    }

    func sandbox(_ d: Daemon, key: String, _ body: [String: Any], status: Int = 201,
                 file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let r = try d.send("POST", "/v1/sandboxes", key: key, json: body)
        XCTAssertEqual(r.status, status, r.text, file: file, line: line)
        return try r.object()
    }

    static func attachments(_ o: [String: Any]) -> [[String: Any]] { o["attachments"] as? [[String: Any]] ?? [] }

    /// The daemon places mounts, as root, in the namespace of the process a caller names: by default
    /// only an operator key (the host's sandbox manager, acting for a tenant) may name one.
    func testANamespacePidNeedsAnOperatorKeyUnlessTheDaemonAllowsTenantKeys() throws {
        let d = try daemon([])
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("data", key: key)
        let ns = try holder()
        let inside = ns.root + "/data"
        let body: [String: Any] = ["attachments": [["volume_id": vol, "mount_path": inside]], "namespace_pid": Int(ns.pid)]
        let refused = try d.send("POST", "/v1/sandboxes", key: key, json: body)
        XCTAssertEqual(refused.status, 403, refused.text)
        XCTAssertEqual(refused.errorCode, "forbidden", refused.text)
        XCTAssertTrue(refused.errorMessage.contains("operator key"), refused.text)
        XCTAssertEqual(try d.get("/v1/sandboxes", key: key).array().count, 0, "a refused create records nothing")
        XCTAssertFalse(ns.mountpoints().contains(inside))

        // The sandbox manager's operator key, acting for the tenant: placed, and the tenant's sandbox.
        let made = try d.send("POST", "/v1/sandboxes", key: d.operatorKey, json: body, headers: ["X-Tenant": "acme"])
        XCTAssertEqual(made.status, 201, made.text)
        let id = try XCTUnwrap(try made.object()["sandbox_id"] as? String)
        XCTAssertTrue(ns.mountpoints().contains(inside))
        XCTAssertEqual(try d.get("/v1/sandboxes/\(id)", key: key).object()["owner_id"] as? String, "acme")

        // Resume and fork with a namespace_pid: the same rule; without one a tenant key may.
        let ns2 = try holder("second")
        XCTAssertEqual(try d.send("POST", "/v1/sandboxes/\(id)/pause", key: key, json: [String: Any]()).status, 200)
        let resume = try d.send("POST", "/v1/sandboxes/\(id)/resume", key: key, json: ["namespace_pid": Int(ns2.pid)])
        XCTAssertEqual(resume.status, 403, resume.text)
        XCTAssertEqual(try d.get("/v1/sandboxes/\(id)", key: key).object()["state"] as? String, "paused", "a refused resume changes nothing")
        XCTAssertEqual(try d.send("POST", "/v1/sandboxes/\(id)/resume", key: key, json: [String: Any]()).status, 200)
        let fork = try d.send("POST", "/v1/sandboxes/\(id)/fork", key: key, json: ["namespace_pid": Int(ns2.pid)])
        XCTAssertEqual(fork.status, 403, fork.text)
        XCTAssertEqual(try d.get("/v1/sandboxes", key: key).array().count, 1, "a refused fork records nothing")
        XCTAssertFalse(ns2.mountpoints().contains(ns2.root + "/data"))
    }

    func testCreateWithANamespacePidPlacesTheMountInsideAndNotOnTheHost() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("data", key: key)
        try d.put(vol, "/x", Data("hello".utf8), key: key)
        let ns = try holder()
        let inside = ns.root + "/data"
        let sbx = try sandbox(d, key: key, ["attachments": [["volume_id": vol, "mount_path": inside]],
                                            "namespace_pid": Int(ns.pid), "uid": 1000, "gid": 1001])
        XCTAssertEqual(sbx["namespace_pid"] as? Int, Int(ns.pid))
        XCTAssertEqual(sbx["uid"] as? Int, 1000, "uid is stored and returned")
        XCTAssertEqual(sbx["gid"] as? Int, 1001)
        let att = try XCTUnwrap(Self.attachments(sbx).first)
        XCTAssertEqual(att["state"] as? String, "mounted", "\(att)")
        XCTAssertEqual(att["delivery"] as? String, "namespace")
        let read = try ns.run("cat \(inside)/x")
        XCTAssertEqual(read.stdout, "hello", "the file is there inside the namespace: \(read.stderr)")
        XCTAssertTrue(ns.mountpoints().contains(inside))
        XCTAssertFalse(SandboxRouteTests.mountpoints().contains(inside), "the mount is placed inside, not on the host")
        XCTAssertFalse(FileManager.default.fileExists(atPath: inside), "its directory was made inside (the namespace's own tmpfs)")
        // A write inside reaches the volume.
        XCTAssertEqual(try ns.run("echo inside > \(inside)/y").status, 0)
        XCTAssertEqual(try d.read(vol, "/y", key: key).text, "inside\n")
        let got = try d.get("/v1/sandboxes/\((try XCTUnwrap(sbx["sandbox_id"] as? String)))", key: key).object()
        XCTAssertEqual(got["namespace_pid"] as? Int, Int(ns.pid))
        XCTAssertEqual(got["uid"] as? Int, 1000)
        // A forced deletion of the volume takes the copy out of the namespace too.
        let forced = try d.request("DELETE", "/v1/volumes/\(vol)?force=true", key: d.operatorKey)
        XCTAssertEqual(forced.status, 204, forced.text)
        XCTAssertFalse(ns.mountpoints().contains(inside), "a forced deletion takes the mount out of the namespace")
    }

    func testANamespacePidMustBeALiveProcessInAMountNamespaceOfItsOwn() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        // The test process shares the daemon's mount namespace: placing there would mount on the host.
        let own = try d.send("POST", "/v1/sandboxes", key: key, json: ["namespace_pid": Int(getpid())])
        XCTAssertEqual(own.status, 400, own.text)
        XCTAssertTrue(own.errorMessage.contains("own mount namespace"), own.text)
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let dead = try d.send("POST", "/v1/sandboxes", key: key, json: ["namespace_pid": Int(gone.processIdentifier)])
        XCTAssertEqual(dead.status, 400, dead.text)
        XCTAssertTrue(dead.errorMessage.contains("not a running process"), dead.text)
        XCTAssertEqual(try d.get("/v1/sandboxes", key: key).array().count, 0, "a refused create records nothing")
        // Another tenant's sandbox's namespace is not ours to place volumes in.
        let ns = try holder()
        _ = try sandbox(d, key: key, ["namespace_pid": Int(ns.pid)])
        let other = try d.tenantKey("umbrella")
        let theirs = try d.send("POST", "/v1/sandboxes", key: other, json: ["namespace_pid": Int(ns.pid)])
        XCTAssertEqual(theirs.status, 403, theirs.text)
    }

    /// The mount path cannot be made inside (the sandbox's root is read-only there): `placement_failed`,
    /// with the step in the message, and no host mount left behind.
    func testAPlacementThatFailsInsideIsPlacementFailed() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("data", key: key)
        let ns = try holder()
        XCTAssertEqual(try ns.run("mount -o remount,ro \(ns.root)").status, 0)
        let id = try XCTUnwrap(try sandbox(d, key: key, ["namespace_pid": Int(ns.pid)])["sandbox_id"] as? String)
        let r = try d.send("POST", "/v1/sandboxes/\(id)/attachments", key: key, json: ["volume_id": vol, "mount_path": ns.root + "/data"])
        XCTAssertEqual(r.status, 201, r.text)
        let att = try r.object()
        XCTAssertEqual(att["state"] as? String, "failed", r.text)
        XCTAssertEqual(att["reason"] as? String, "placement_failed", r.text)
        XCTAssertTrue((att["message"] as? String ?? "").contains("Read-only file system"), r.text)
        XCTAssertTrue(SandboxRouteTests.mountpoints().filter { $0.hasPrefix(d.dataDir) }.isEmpty, "no host mount is left behind")
    }

    func testRuntimeAttachReadOnlyAndDetachInARunningNamespace() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("data", key: key)
        try d.put(vol, "/x", Data("x".utf8), key: key)
        let ns = try holder()
        let id = try XCTUnwrap(try sandbox(d, key: key, ["namespace_pid": Int(ns.pid)])["sandbox_id"] as? String)
        let inside = ns.root + "/ro"
        let r = try d.send("POST", "/v1/sandboxes/\(id)/attachments", key: key,
                           json: ["volume_id": vol, "mount_path": inside, "read_only": true])
        XCTAssertEqual(r.status, 201, r.text)
        let att = try r.object()
        XCTAssertEqual(att["state"] as? String, "mounted", r.text)
        XCTAssertEqual(att["delivery"] as? String, "namespace")
        XCTAssertEqual(try ns.run("cat \(inside)/x").stdout, "x", "a runtime attach appears in the running namespace")
        let write = try ns.run("echo x > \(inside)/f")
        XCTAssertNotEqual(write.status, 0)
        XCTAssertTrue(write.stderr.contains("Read-only file system"), "read-only inside is EROFS: \(write.stderr)")
        let hostPath = try XCTUnwrap(att["host_path"] as? String)
        let det = try d.request("DELETE", "/v1/sandboxes/\(id)/attachments/\((try XCTUnwrap(att["attachment_id"] as? String)))", key: key)
        XCTAssertEqual(det.status, 200, det.text)
        XCTAssertFalse(ns.mountpoints().contains(inside), "detach takes the mount out of the namespace")
        XCTAssertNotEqual(try ns.run("cat \(inside)/x").status, 0)
        XCTAssertFalse(SandboxRouteTests.mountpoints().contains(hostPath), "and the host mount goes")
    }

    func testPauseTakesItOutResumePutsItBackForkPlacesInItsOwnNamespaceDestroyRemoves() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("data", key: key)
        let ns = try holder()
        let inside = ns.root + "/data"
        let sbx = try sandbox(d, key: key, ["attachments": [["volume_id": vol, "mount_path": inside]], "namespace_pid": Int(ns.pid),
                                            "uid": 1000, "gid": 1000])
        let id = (try XCTUnwrap(sbx["sandbox_id"] as? String))
        XCTAssertEqual(try ns.run("echo before > \(inside)/f").status, 0)

        let paused = try d.request("POST", "/v1/sandboxes/\(id)/pause", key: key).object()
        XCTAssertEqual(Self.attachments(paused).first?["reason"] as? String, "sandbox_paused")
        XCTAssertFalse(ns.mountpoints().contains(inside), "pause takes the mount out of the namespace")
        XCTAssertEqual(try d.read(vol, "/f", key: key).text, "before\n", "committed before the unmount")

        let resumed = try d.request("POST", "/v1/sandboxes/\(id)/resume", key: key).object()
        XCTAssertEqual(Self.attachments(resumed).first?["state"] as? String, "mounted", "\(resumed)")
        XCTAssertEqual(try ns.run("cat \(inside)/f").stdout, "before\n", "resume puts it back inside")

        // A fork with its own process is placed there (uid/gid copied, the parent's process not).
        let ns2 = try holder("root2")
        let inside2 = ns2.root + "/data"
        let forked = try d.send("POST", "/v1/sandboxes/\(id)/fork", key: key, json: ["namespace_pid": Int(ns2.pid)])
        XCTAssertEqual(forked.status, 201, forked.text)
        let child = try forked.object()
        XCTAssertEqual(child["namespace_pid"] as? Int, Int(ns2.pid))
        XCTAssertEqual(child["uid"] as? Int, 1000, "fork copies uid")
        XCTAssertEqual(child["gid"] as? Int, 1000, "fork copies gid")
        _ = inside2
        // The fork's mount path is the parent's (ns.root/data), placed in ns2 (whose tmpfs is elsewhere).
        XCTAssertEqual(try ns2.run("cat \(inside)/f").stdout, "before\n")
        XCTAssertEqual(Self.attachments(child).first?["delivery"] as? String, "namespace")
        // Without a body the fork has no process: host paths only.
        let plain = try d.request("POST", "/v1/sandboxes/\(id)/fork", key: key)
        XCTAssertEqual(plain.status, 201, plain.text)
        let plainObject = try plain.object()
        XCTAssertTrue(plainObject["namespace_pid"] is NSNull, plain.text)
        XCTAssertEqual(Self.attachments(plainObject).first?["delivery"] as? String, "host_path")

        _ = try d.request("POST", "/v1/sandboxes/\(id)/destroy", key: key)
        XCTAssertFalse(ns.mountpoints().contains(inside), "destroy takes the mount out of the namespace")
        XCTAssertTrue(ns2.mountpoints().contains(inside), "the fork keeps its own")
    }

    /// kill -9 of volumed: a reader inside the namespace goes on through the restart and the restarted
    /// daemon adopts the placed mount; a copy taken out meanwhile is placed again; after the mount
    /// server dies, a program inside gets ENOTCONN (not the directory under it) until the restart
    /// mounts and places it again.
    func testRestartsKeepThePlacedMountWorkingAndPlaceItAgainWhenNeeded() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("data", key: key)
        try d.put(vol, "/x", Data("content".utf8), key: key)
        let ns = try holder()
        let inside = ns.root + "/data"
        let sbx = try sandbox(d, key: key, ["attachments": [["volume_id": vol, "mount_path": inside]], "namespace_pid": Int(ns.pid)])
        let id = (try XCTUnwrap(sbx["sandbox_id"] as? String))
        let att = try XCTUnwrap(Self.attachments(sbx).first)
        let device = try XCTUnwrap(ns.device(at: inside))

        // A reader inside, counting its rounds (the count file replaced by a rename, so it is never read
        // half-written) and logging any error.
        let stopFile = tmp.path + "/stop", errFile = tmp.path + "/errors", countFile = tmp.path + "/count"
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        reader.arguments = ["-t", String(ns.pid), "-m", "--", "/bin/sh", "-c", """
            i=0; while [ ! -e \(stopFile) ]; do
              c=$(cat \(inside)/x 2>>\(errFile)) || echo "cat failed" >> \(errFile)
              [ "$c" = content ] || echo "read '$c'" >> \(errFile)
              i=$((i+1)); echo $i > \(countFile).tmp && mv \(countFile).tmp \(countFile); sleep 0.01
            done
            """]
        reader.standardOutput = FileHandle.nullDevice
        reader.standardError = FileHandle.nullDevice
        try reader.run()
        defer {
            FileManager.default.createFile(atPath: stopFile, contents: nil)
            if reader.isRunning { reader.waitUntilExit() }
        }
        func count() -> Int { Int(((try? String(contentsOfFile: countFile, encoding: .utf8)) ?? "0").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 }
        for _ in 0..<500 where count() < 3 { usleep(10_000) }
        XCTAssertEqual(d.stop(signal: SIGKILL), SIGKILL)
        let atKill = count()
        usleep(300_000)
        try d.start()
        // Progress within a bound (a loaded machine may schedule the reader late), not a fixed pause.
        for _ in 0..<500 where count() <= atKill + 1 { usleep(10_000) }
        XCTAssertGreaterThan(count(), atKill, "the reader inside kept reading through the restart")
        FileManager.default.createFile(atPath: stopFile, contents: nil)
        reader.waitUntilExit()
        XCTAssertEqual((try? String(contentsOfFile: errFile, encoding: .utf8)) ?? "", "", "no error inside while volumed was down")
        XCTAssertTrue(d.log().contains("adopted 1"), d.log())
        XCTAssertEqual(ns.device(at: inside), device, "the same mount is still placed")

        // A copy taken out behind the daemon's back is placed again at the next start.
        XCTAssertEqual(d.stop(), 0)
        XCTAssertEqual(try ns.run("umount \(inside)").status, 0)
        try d.start()
        XCTAssertTrue(d.log().contains("placed again in namespaces 1"), d.log())
        XCTAssertEqual(try ns.run("cat \(inside)/x").stdout, "content")

        // The mount server dies (nothing writes now): inside, ENOTCONN, never the directory under it.
        XCTAssertEqual(d.stop(), 0)
        let server = Int32(try XCTUnwrap(SandboxRouteTests.pid(att)))
        XCTAssertEqual(kill(server, SIGKILL), 0)
        for _ in 0..<500 where kill(server, 0) == 0 { usleep(10_000) }
        let dead = try ns.run("cat \(inside)/x")
        XCTAssertNotEqual(dead.status, 0)
        XCTAssertTrue(dead.stderr.contains("Transport endpoint is not connected"), "ENOTCONN inside: \(dead.stderr)")
        XCTAssertNotEqual(try ns.run("echo y > \(inside)/new").status, 0, "nothing is written into the directory under a dead mount")
        try d.start()
        XCTAssertTrue(d.log().contains("remounted 1"), d.log())
        XCTAssertEqual(try ns.run("cat \(inside)/x").stdout, "content", "mounted and placed again")
        XCTAssertNotEqual(ns.device(at: inside), device, "a new mount, placed over the dead copy's place")
        let list = try d.get("/v1/sandboxes/\(id)/attachments", key: key).array()
        XCTAssertEqual(list.first?["state"] as? String, "mounted", "\(list)")
    }

    /// The sandbox's process ends while the daemon runs: its attachment becomes `sandbox_gone` and the
    /// host mount goes (volumed checks every second).
    func testAProcessThatEndsWhileTheDaemonRunsGivesSandboxGone() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("data", key: key)
        let ns = try holder()
        let sbx = try sandbox(d, key: key, ["attachments": [["volume_id": vol, "mount_path": ns.root + "/data"]], "namespace_pid": Int(ns.pid)])
        let id = (try XCTUnwrap(sbx["sandbox_id"] as? String))
        let hostPath = try XCTUnwrap(Self.attachments(sbx).first?["host_path"] as? String)
        ns.stop()
        var list: [[String: Any]] = []
        for _ in 0..<300 {
            list = try d.get("/v1/sandboxes/\(id)/attachments", key: key).array()
            if list.first?["state"] as? String != "mounted" { break }
            usleep(100_000)
        }
        XCTAssertEqual(list.first?["state"] as? String, "failed", "\(list)")
        XCTAssertEqual(list.first?["reason"] as? String, "sandbox_gone", "\(list)")
        XCTAssertFalse(SandboxRouteTests.mountpoints().contains(hostPath), "the host mount goes")
    }

    /// The sandbox's process is gone when the daemon starts (it exited; a reboot looks the same):
    /// the attachment is failed with `sandbox_gone` and its host mount goes; a runtime attach to such a
    /// sandbox fails the same way; a resume that gives a new process brings them back there.
    func testADeadNamespaceProcessGivesSandboxGone() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("data", key: key)
        let ns = try holder()
        let sbx = try sandbox(d, key: key, ["attachments": [["volume_id": vol, "mount_path": ns.root + "/data"]], "namespace_pid": Int(ns.pid)])
        let id = (try XCTUnwrap(sbx["sandbox_id"] as? String))
        let att = try XCTUnwrap(Self.attachments(sbx).first)
        let hostPath = try XCTUnwrap(att["host_path"] as? String)
        let server = Int32(try XCTUnwrap(SandboxRouteTests.pid(att)))
        // A second sandbox as after a reboot: its process gone and its host mount gone too.
        let rebooted = try holder("rebooted")
        let other = try sandbox(d, key: key, ["attachments": [["volume_id": vol, "mount_path": rebooted.root + "/data"]],
                                              "namespace_pid": Int(rebooted.pid)])
        let otherPath = try XCTUnwrap(Self.attachments(other).first?["host_path"] as? String)
        XCTAssertEqual(d.stop(), 0)
        ns.stop()
        rebooted.stop()
        _ = try Daemon.runTool("/usr/bin/env", ["fusermount3", "-u", otherPath])
        XCTAssertFalse(SandboxRouteTests.mountpoints().contains(otherPath))
        try d.start()
        let afterReboot = try d.get("/v1/sandboxes/\((try XCTUnwrap(other["sandbox_id"] as? String)))/attachments", key: key).array()
        XCTAssertEqual(afterReboot.first?["state"] as? String, "failed", "\(afterReboot)")
        XCTAssertEqual(afterReboot.first?["reason"] as? String, "sandbox_gone", "\(afterReboot)")
        XCTAssertFalse(SandboxRouteTests.mountpoints().contains(otherPath), "nothing is mounted for a sandbox that is gone")
        let list = try d.get("/v1/sandboxes/\(id)/attachments", key: key).array()
        XCTAssertEqual(list.first?["state"] as? String, "failed", "\(list)")
        XCTAssertEqual(list.first?["reason"] as? String, "sandbox_gone", "\(list)")
        XCTAssertFalse(SandboxRouteTests.mountpoints().contains(hostPath), "the host mount goes")
        for _ in 0..<500 where kill(server, 0) == 0 { usleep(10_000) }
        XCTAssertNotEqual(kill(server, 0), 0, "its server has exited")
        let r = try d.send("POST", "/v1/sandboxes/\(id)/attachments", key: key, json: ["volume_id": vol, "mount_path": ns.root + "/more"])
        XCTAssertEqual(r.status, 201, r.text)
        XCTAssertEqual(try r.object()["reason"] as? String, "sandbox_gone", r.text)
        XCTAssertTrue(SandboxRouteTests.mountpoints().filter { $0.hasPrefix(d.dataDir) }.isEmpty)

        try d.put(vol, "/x", Data("back".utf8), key: key)
        _ = try d.request("POST", "/v1/sandboxes/\(id)/pause", key: key)
        let refused = try d.send("POST", "/v1/sandboxes/\(id)/resume", key: key, json: ["namespace_pid": Int(getpid())])
        XCTAssertEqual(refused.status, 400, refused.text)
        XCTAssertEqual(try d.get("/v1/sandboxes/\(id)", key: key).object()["state"] as? String, "paused", "a refused resume changes nothing")
        let ns2 = try holder("root2")
        let resumed = try d.send("POST", "/v1/sandboxes/\(id)/resume", key: key, json: ["namespace_pid": Int(ns2.pid)])
        XCTAssertEqual(resumed.status, 200, resumed.text)
        let back = try resumed.object()
        XCTAssertEqual(back["namespace_pid"] as? Int, Int(ns2.pid))
        XCTAssertEqual(Self.attachments(back).map { $0["state"] as? String }, ["mounted", "mounted"], resumed.text)
        XCTAssertEqual(try ns2.run("cat \(ns.root)/data/x && cat \(ns.root)/more/x").stdout, "backback", "placed in the new process's namespace")
    }
}
