// The daemon forks mount servers from its warm mount launcher; a launcher that dies is replaced, and one whose daemon is gone exits, leaving the mounts served.
import Foundation
import XCTest
import VolumeTestSupport

final class MountLauncherTests: XCTestCase {
    func daemon() throws -> Daemon {
        try XCTSkipUnless(getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/fuse"), "needs root and /dev/fuse")
        let d = try Daemon()
        addTeardownBlock {
            d.stop()
            SandboxRouteTests.unmountAll(under: d.dataDir + "/mounts")
            for pid in Self.servers(of: d) { kill(pid, SIGKILL) }
        }
        return d
    }

    /// The NUL-separated command line of `pid`, NULs shown as spaces.
    static func commandLine(_ pid: Int32) -> String {
        let data = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
        return String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }

    static func processes() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
    }

    /// The mount launchers serving `d`'s data directory.
    static func launchers(of d: Daemon) -> [Int32] {
        processes().filter { let c = commandLine($0); return c.contains("mount-launcher --data-dir \(d.dataDir) ") }
    }

    /// Every mount server of `d` (its command line names a host path under its mount root).
    static func servers(of d: Daemon) -> [Int32] {
        processes().filter { let c = commandLine($0); return c.contains(" mount ") && c.contains(d.dataDir + "/mounts/") }
    }

    func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    /// Creates a sandbox attaching `vol` at each of `paths`; checks every attachment is mounted, reads
    /// the seed and takes a write through its host path. Returns the attachments.
    func createSandbox(_ d: Daemon, _ key: String, _ vol: String, _ paths: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        let r = try d.send("POST", "/v1/sandboxes", key: key, json: ["attachments": paths.map { ["volume_id": vol, "mount_path": $0] }])
        XCTAssertEqual(r.status, 201, r.text, file: file, line: line)
        let atts = SandboxRouteTests.attachments(try r.object())
        XCTAssertEqual(atts.count, paths.count, file: file, line: line)
        for a in atts {
            XCTAssertEqual(a["state"] as? String, "mounted", "\(a)", file: file, line: line)
            let host = try XCTUnwrap(a["host_path"] as? String, file: file, line: line)
            XCTAssertEqual(try String(contentsOfFile: host + "/seed.txt", encoding: .utf8), "seed", file: file, line: line)
            let name = "/w-\(a["attachment_id"] as? String ?? "x").txt"
            try Data("through \(host)".utf8).write(to: URL(fileURLWithPath: host + name))
            XCTAssertEqual(try d.read(vol, name, key: key).text, "through \(host)", file: file, line: line)
        }
        return atts
    }

    /// Three attachments are served by three processes forked from the one launcher: each its own
    /// pid, none the launcher nor the daemon, none the daemon's child, each shown in ps as the
    /// `volumectl mount` it runs, each saying in its log which launcher forked it.
    /// Fails on old code: no launcher process exists (each server is `volumectl` started anew).
    func testMountServersAreForkedFromTheLauncher() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("data", key: key)
        try d.put(vol, "/seed.txt", Data("seed".utf8), key: key)
        XCTAssertTrue(d.log().contains("mount launcher started"), d.log())
        let launchers = Self.launchers(of: d)
        XCTAssertEqual(launchers.count, 1, "one launcher per daemon")
        let launcher = try XCTUnwrap(launchers.first)

        let atts = try createSandbox(d, key, vol, ["/a", "/b", "/c"])
        let pids = atts.compactMap { SandboxRouteTests.pid($0) }.map(Int32.init)
        XCTAssertEqual(Set(pids).count, 3, "one server per attachment: \(pids)")
        for (a, pid) in zip(atts, pids) {
            XCTAssertNotEqual(pid, launcher)
            XCTAssertNotEqual(pid, d.pid)
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
            XCTAssertGreaterThan(fields.count, 2, stat)
            XCTAssertNotEqual(fields.count > 1 ? Int32(fields[1]) : nil, d.pid, "not the daemon's child")
            let host = a["host_path"] as? String ?? ""
            XCTAssertTrue(Self.commandLine(pid).hasPrefix("volumectl mount \(vol) \(host) --foreground"), Self.commandLine(pid))
            let id = a["attachment_id"] as? String ?? ""
            let log = (try? String(contentsOfFile: d.dataDir + "/mounts/\(id).log", encoding: .utf8)) ?? ""
            XCTAssertTrue(log.contains("mount server \(pid) forked by the mount launcher (pid \(launcher))"), log)
        }
        XCTAssertEqual(Self.launchers(of: d), [launcher], "still the one launcher")
        // Each server holds its volume's mount lease as itself (not as the launcher it was forked from).
        let leases = try Daemon.runTool("/usr/bin/env", ["sqlite3", d.dataDir + "/registry.sqlite",
                                                         "SELECT holder_pid FROM lease WHERE purpose = 'mount' AND volume_id = '\(vol)'"])
        XCTAssertEqual(Set(leases.stdout.split(separator: "\n").compactMap { Int32($0) }), Set(pids), leases.stdout)
    }

    /// A launcher killed between attaches: the next attach still mounts (the daemon starts that server
    /// itself), a later one forks from a new launcher; then the daemon stops and its launcher exits
    /// while every mount keeps being served.
    /// Fails without the fallback (the attach after the kill fails) or without the restart (no new launcher).
    func testALauncherThatDiesIsReplacedAndExitsWithItsDaemon() throws {
        let d = try daemon()
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("data", key: key)
        try d.put(vol, "/seed.txt", Data("seed".utf8), key: key)
        let first = try XCTUnwrap(Self.launchers(of: d).first)
        _ = try createSandbox(d, key, vol, ["/a"])
        kill(first, SIGKILL)
        XCTAssertTrue(waitUntil(5) { kill(first, 0) != 0 || (try? String(contentsOfFile: "/proc/\(first)/stat", encoding: .utf8))?.contains(") Z") == true })

        let afterKill = try createSandbox(d, key, vol, ["/b"])
        let spawned = try XCTUnwrap(SandboxRouteTests.pid(afterKill[0]).map(Int32.init))
        let id = afterKill[0]["attachment_id"] as? String ?? ""
        let log = (try? String(contentsOfFile: d.dataDir + "/mounts/\(id).log", encoding: .utf8)) ?? ""
        XCTAssertFalse(log.contains("forked by the mount launcher"), "started by the daemon itself: \(log)")
        XCTAssertTrue(Self.commandLine(spawned).contains(" mount \(vol) "), Self.commandLine(spawned))

        usleep(1_100_000)  // the launcher is started again at most once a second
        let later = try createSandbox(d, key, vol, ["/c"])
        let second = Self.launchers(of: d)
        XCTAssertEqual(second.count, 1, "a new launcher: \(second)")
        XCTAssertFalse(second.contains(first))
        let laterID = later[0]["attachment_id"] as? String ?? ""
        let laterLog = (try? String(contentsOfFile: d.dataDir + "/mounts/\(laterID).log", encoding: .utf8)) ?? ""
        XCTAssertTrue(laterLog.contains("forked by the mount launcher (pid \(second.first ?? 0))"), laterLog)

        // kill -9 of the daemon: its launcher sees its socket close and exits; the mounts stay.
        _ = d.stop(signal: SIGKILL)
        XCTAssertTrue(waitUntil(10) { Self.launchers(of: d).isEmpty }, "the launcher exits with its daemon: \(Self.launchers(of: d))")
        let hosts = try (afterKill + later).map { try XCTUnwrap($0["host_path"] as? String) }
        for h in hosts {
            XCTAssertEqual(try String(contentsOfFile: h + "/seed.txt", encoding: .utf8), "seed", "\(h) still served after the daemon died")
        }
    }
}
