// volumed's life: it answers /healthz, writes the operator key (0600) once, exits 0 on SIGTERM with data committed, and closes idle volumes.
import Foundation
import XCTest
import VolumeTestSupport

final class DaemonLifecycleTests: XCTestCase {
    func testHealthzNeedsNoKeyAndTheOperatorKeyFileIsPrivate() throws {
        let d = try Daemon()
        let h = try d.get("/healthz", key: nil)
        XCTAssertEqual(h.status, 200, h.text)
        XCTAssertEqual(try h.object()["status"] as? String, "ok")
        XCTAssertEqual(h.headers["content-type"], "application/json")

        var st = stat()
        XCTAssertEqual(stat(d.dataDir + "/operator.key", &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600, "operator.key must be readable by its owner only")
        XCTAssertTrue(d.operatorKey.hasPrefix("vk_"), d.operatorKey)
        // The operator key works; the file holds the only copy of the secret (the registry keeps its hash).
        XCTAssertEqual(try d.get("/v1/volumes", key: d.operatorKey).status, 200)
        let registry = try Data(contentsOf: URL(fileURLWithPath: d.dataDir + "/registry.sqlite"))
        XCTAssertNil(registry.range(of: Data(d.operatorKey.utf8)), "the registry must not hold the key itself")
        XCTAssertEqual(d.stop(), 0, d.log())
    }

    func testSIGTERMExitsZeroAndWhatWasAcknowledgedIsThereAfterARestart() throws {
        let d = try Daemon()
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("keep", key: key)
        let payload = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try d.put(vol, "/data/blob.bin", payload, key: key, query: "&parents=true")
        let firstKey = d.operatorKey
        XCTAssertEqual(d.stop(signal: SIGTERM), 0, "volumed must exit 0 on SIGTERM: \(d.log())")
        XCTAssertTrue(d.log().contains("volumed: stopped"), d.log())

        // Same data directory, new process: the file is there byte for byte, the key still works,
        // the operator key was kept (not replaced), and fsck is clean.
        let again = try Daemon(reuse: d.dir)
        XCTAssertEqual(again.operatorKey, firstKey, "a restart must keep the operator key")
        let r = try again.read(vol, "/data/blob.bin", key: key)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.body, payload)
        XCTAssertEqual(again.stop(signal: SIGINT), 0, again.log())
        let fsck = try Daemon.runTool(try Daemon.volumectl.get().path, ["fsck", "--data-dir", d.dataDir])
        XCTAssertEqual(fsck.status, 0, fsck.stdout + fsck.stderr)
    }

    func testARevokedOperatorKeyFileIsReplacedAtTheNextStart() throws {
        let d = try Daemon()
        let list = try d.volumectl("apikey", "list", "--json")
        let keys = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]], list.stderr)
        let id = try XCTUnwrap(keys.first?["id"] as? String)
        XCTAssertEqual(try d.volumectl("apikey", "revoke", id).status, 0)
        XCTAssertEqual(try d.get("/v1/volumes", key: d.operatorKey).status, 401, "a revoked key stops at once")
        XCTAssertEqual(d.stop(), 0)
        let again = try Daemon(reuse: d.dir)
        XCTAssertNotEqual(again.operatorKey, d.operatorKey)
        XCTAssertEqual(try again.get("/v1/volumes", key: again.operatorKey).status, 200)
        again.stop()
    }

    func testIdleVolumesAreClosedAndReopenedOnDemand() throws {
        let d = try Daemon(arguments: ["--idle-close", "1"])
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("idle", key: key)
        try d.put(vol, "/a.txt", Data("hello".utf8), key: key)
        // The host closes the catalog once nobody used it for a second (poll, with a generous bound).
        var open = -1
        for _ in 0..<200 {
            open = try d.get("/healthz", key: nil).object()["open_volumes"] as? Int ?? -1
            if open == 0 { break }
            usleep(100_000)
        }
        XCTAssertEqual(open, 0, "the idle volume should have been closed")
        // And opened again on the next request.
        XCTAssertEqual(try d.read(vol, "/a.txt", key: key).text, "hello")
        XCTAssertEqual(try d.get("/healthz", key: nil).object()["open_volumes"] as? Int, 1)
        d.stop()
    }

    /// Waits (a generous bound) until the daemon holds no volume open, asking `between` first each round.
    func waitUntilNoVolumeIsOpen(_ d: Daemon, between: () throws -> Void = {}) throws -> Int {
        var open = -1
        for _ in 0..<200 {
            try between()
            open = try d.get("/healthz", key: nil).object()["open_volumes"] as? Int ?? -1
            if open == 0 { break }
            usleep(100_000)
        }
        return open
    }

    /// A store-wide call of another tenant (listing its own volumes, which opens none of acme's) does not
    /// count as a use of acme's idle volume: it is still closed while such calls keep coming.
    func testAnotherTenantsListingDoesNotKeepAnIdleVolumeOpen() throws {
        let d = try Daemon(arguments: ["--idle-close", "1"])
        let key = try d.tenantKey("acme"), other = try d.tenantKey("other")
        let vol = try d.createVolume("idle", key: key)
        try d.put(vol, "/a.txt", Data("hello".utf8), key: key)
        let open = try waitUntilNoVolumeIsOpen(d) {
            XCTAssertEqual(try d.get("/v1/volumes", key: other).status, 200)
        }
        XCTAssertEqual(open, 0, "another tenant's listings kept the idle volume open")
        d.stop()
    }

    /// A /metrics scrape counts the volumes from the registry: it opens none of their catalogs.
    func testAMetricsScrapeOpensNoVolume() throws {
        let d = try Daemon(arguments: ["--idle-close", "1"])
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("idle", key: key)
        try d.put(vol, "/a.txt", Data("hello".utf8), key: key)
        XCTAssertEqual(try waitUntilNoVolumeIsOpen(d), 0, "the idle volume should have been closed")
        let r = try d.get("/metrics", key: d.operatorKey)
        XCTAssertEqual(r.status, 200, r.text)
        let count = r.text.split(separator: "\n").first { $0.hasPrefix("volumed_volumes ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
        XCTAssertEqual(count, 1, r.text)
        XCTAssertEqual(try d.get("/healthz", key: nil).object()["open_volumes"] as? Int, 0, "the scrape opened the volume")
        d.stop()
    }

    /// Sends half of a 2 MiB PUT, SIGTERMs the daemon (a PID this test started), then sends the rest (or,
    /// with `finish` false, stalls) and prints the status line it gets (or "no response").
    static let uploadAcrossSIGTERM = """
    import os, signal, socket, sys, time
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
    s.sendall(("PUT " + sys.argv[4] + " HTTP/1.1\\r\\nHost: x\\r\\nX-API-Key: " + sys.argv[3] +
               "\\r\\nContent-Length: 2097152\\r\\n\\r\\n").encode())
    s.sendall(b"a" * 1048576)
    time.sleep(0.3)
    os.kill(int(sys.argv[5]), signal.SIGTERM)
    time.sleep(0.5)
    if sys.argv[6] == "finish":
        s.sendall(b"b" * 1048576)
    s.settimeout(60)
    data = b""
    try:
        while b"\\r\\n" not in data:
            c = s.recv(4096)
            if not c: break
            data += c
    except Exception:
        pass
    print(data.split(b"\\r\\n")[0].decode() if data else "no response")
    """

    func testSIGTERMLetsAnUploadInFlightFinish() throws {
        let d = try Daemon()
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("drain", key: key)
        let r = try d.python(Self.uploadAcrossSIGTERM, [key, "/v1/volumes/\(vol)/files/content?path=/late.bin", "\(d.pid)", "finish"])
        XCTAssertTrue(r.stdout.hasPrefix("HTTP/1.1 201"), "the upload in flight should finish: \(r.stdout) \(r.stderr) \(d.log())")
        XCTAssertEqual(d.waitForExit(seconds: 60), 0, d.log())
        let again = try Daemon(reuse: d.dir)
        let back = try again.read(vol, "/late.bin", key: key)
        XCTAssertEqual(back.body, Data(repeating: UInt8(ascii: "a"), count: 1 << 20) + Data(repeating: UInt8(ascii: "b"), count: 1 << 20))
        again.stop()
    }

    func testTheDrainIsBoundedAndAStalledUploadLeavesNothing() throws {
        let d = try Daemon(arguments: ["--drain", "1"])
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("drain", key: key)
        try d.put(vol, "/late.bin", Data("old".utf8), key: key)
        let r = try d.python(Self.uploadAcrossSIGTERM, [key, "/v1/volumes/\(vol)/files/content?path=/late.bin", "\(d.pid)", "stall"])
        XCTAssertFalse(r.stdout.hasPrefix("HTTP/1.1 2"), r.stdout)
        XCTAssertEqual(d.waitForExit(seconds: 60), 0, "volumed must stop after the drain bound, and exit 0: \(d.log())")
        let again = try Daemon(reuse: d.dir)
        XCTAssertEqual(try again.read(vol, "/late.bin", key: key).text, "old")
        again.stop()
    }

    func testUnixSocketAndAConfigFileUnderTheFlags() throws {
        let tmp = try TemporaryDirectory("volumed-conf")
        defer { tmp.remove() }
        let socket = tmp.path + "/volumed.sock"
        let config = tmp.path + "/volumed.json"
        // The file's listen address is invalid: the flag the harness passes must win over it.
        try Data(#"{"socket": "\#(socket)", "listen": "not-an-address", "threads": 4}"#.utf8).write(to: URL(fileURLWithPath: config))
        let d = try Daemon(arguments: ["--config", config])
        let r = try Daemon.runTool("/usr/bin/curl", ["-sS", "--unix-socket", socket, "http://volumed/healthz"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\"status\":\"ok\""), r.stdout)
        let list = try Daemon.runTool("/usr/bin/curl", ["-sS", "--unix-socket", socket, "-H", "X-API-Key: \(d.operatorKey)", "http://volumed/v1/volumes"])
        XCTAssertEqual(list.stdout, "[]")
        XCTAssertEqual(d.stop(), 0, d.log())
        XCTAssertFalse(FileManager.default.fileExists(atPath: socket), "the socket is removed at exit")
    }

    func testBadSettingsAreAUsageError() throws {
        let tmp = try TemporaryDirectory("volumed-bad")
        defer { tmp.remove() }
        for args in [["--listen", "nope"], ["--listen", "127.0.0.1:99999"], ["--threads", "0"], ["--config", tmp.path + "/missing.json"]] {
            let r = try Daemon.runTool(try Daemon.binary.get().path, ["--data-dir", tmp.path + "/data"] + args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stdout) \(r.stderr)")
            XCTAssertFalse(r.stderr.isEmpty, "\(args) should say what is wrong")
        }
    }
}
