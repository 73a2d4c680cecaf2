// kill -9 of volumed while 4 sandboxes run `fio --verify` on their volumes: fio sees no error, the daemon comes back
// with every attachment mounted; and after every mount is gone (a reboot), a restart mounts them again with the data intact.
import Foundation
import XCTest
import VolumeTestSupport

final class SandboxFioTests: XCTestCase {
    /// The fio job each sandbox runs: random 16 KiB writes with a checksum in every block, all read back and
    /// checked at the end (`verifyOnly` checks what an earlier run wrote). Bounded in size, so a writer that
    /// strayed could never fill the disk.
    static func fioArgs(_ dir: String, verifyOnly: Bool = false) -> [String] {
        ["fio", "--name=sbx", "--directory=\(dir)", "--rw=randwrite", "--bs=16k", "--size=12M", "--ioengine=psync",
         "--verify=crc32c", "--verify_fatal=1", "--do_verify=1", "--fsync=32", "--randrepeat=1", "--verify_state_save=0", "--output-format=normal"]
            + (verifyOnly ? ["--verify_only"] : [])
    }

    func testKillNineWhileFourSandboxesRunFioVerifyAndAReboot() throws {
        try XCTSkipUnless(getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/fuse"), "needs root and /dev/fuse")
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/fio"), "needs fio (tools/setup.sh installs it)")
        let d = try Daemon()
        addTeardownBlock {
            d.stop()
            SandboxRouteTests.unmountAll(under: d.dataDir + "/mounts")
        }
        let key = try d.tenantKey("acme")
        var sandboxes: [(id: String, hostPath: String)] = []
        for i in 0..<4 {
            let vol = try d.createVolume("vol\(i)", key: key)
            let r = try d.send("POST", "/v1/sandboxes", key: key, json: ["attachments": [["volume_id": vol, "mount_path": "/data"]]])
            XCTAssertEqual(r.status, 201, r.text)
            let o = try r.object()
            let att = try XCTUnwrap(SandboxRouteTests.attachments(o).first)
            XCTAssertEqual(att["state"] as? String, "mounted")
            sandboxes.append((o["sandbox_id"] as! String, try XCTUnwrap(att["host_path"] as? String)))
        }

        // fio in each sandbox's volume; volumed is killed while they run and started again.
        let scratch = try TemporaryDirectory("fio-logs")
        defer { scratch.remove() }
        var runs: [Process] = []
        for (i, s) in sandboxes.enumerated() {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = Self.fioArgs(s.hostPath)
            _ = FileManager.default.createFile(atPath: scratch.path + "/fio\(i)", contents: nil)
            let out = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch.path + "/fio\(i)"))
            p.standardOutput = out
            p.standardError = out
            try p.run()
            runs.append(p)
        }
        defer { for p in runs where p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        usleep(700_000)
        XCTAssertTrue(runs.allSatisfy(\.isRunning), "fio was still running when volumed was killed")
        XCTAssertEqual(d.stop(signal: SIGKILL), SIGKILL)
        usleep(300_000)
        try d.start()
        // Bounded wait for fio: a hung job fails the test instead of hanging the suite.
        let deadline = Date().addingTimeInterval(300)
        while runs.contains(where: \.isRunning) && Date() < deadline { usleep(100_000) }
        for (i, p) in runs.enumerated() {
            let log = (try? String(contentsOfFile: scratch.path + "/fio\(i)", encoding: .utf8)) ?? ""
            XCTAssertFalse(p.isRunning, "fio \(i) did not finish: \(log)")
            if p.isRunning { continue }
            XCTAssertEqual(p.terminationStatus, 0, "fio \(i): \(log)")
            XCTAssertTrue(log.contains("err= 0"), "fio \(i) reported an error: \(log)")
            XCTAssertFalse(log.lowercased().contains("verify:"), "fio \(i) reported a verify failure: \(log)")
        }
        XCTAssertTrue(d.log().contains("adopted 4"), d.log())
        for s in sandboxes {
            let list = try d.get("/v1/sandboxes/\(s.id)/attachments", key: key).array()
            XCTAssertEqual(list.map { $0["state"] as? String }, ["mounted"], "\(list)")
        }

        // A reboot: the daemon stops, every mount goes; the restart mounts each again and fio's data reads back.
        XCTAssertEqual(d.stop(), 0, d.log())
        SandboxRouteTests.unmountAll(under: d.dataDir + "/mounts")
        XCTAssertTrue(SandboxRouteTests.mountpoints().filter { $0.hasPrefix(d.dataDir + "/mounts/") }.isEmpty)
        try d.start()
        for (i, s) in sandboxes.enumerated() {
            let list = try d.get("/v1/sandboxes/\(s.id)/attachments", key: key).array()
            XCTAssertEqual(list.map { $0["state"] as? String }, ["mounted"], "\(list)")
            XCTAssertTrue(SandboxRouteTests.mountpoints().contains(s.hostPath))
            let check = try Daemon.runTool("/usr/bin/env", Self.fioArgs(s.hostPath, verifyOnly: true))
            XCTAssertEqual(check.status, 0, "fio verify \(i) after the reboot: \(check.stdout) \(check.stderr)")
        }
    }
}
