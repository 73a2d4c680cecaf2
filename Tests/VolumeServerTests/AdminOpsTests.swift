// Operator routes over real HTTP: scheduled gc and what it freed, gc/fsck on demand, caps and tenants, /metrics; tenant keys refused.
import Foundation
import XCTest

final class AdminOpsTests: DaemonTestCase {
    func waitFor(_ what: String, _ cond: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(60)
        while try !cond() {
            guard Date() < deadline else { return XCTFail("timed out waiting for \(what); log:\n\(d.log())") }
            usleep(100_000)
        }
    }

    /// With a short --gc-interval the daemon collects a deleted volume's chunks by itself, logs it, and
    /// reports it through GET /v1/admin/gc and /metrics.
    func testScheduledGCFreesWhatADeletedVolumeHeld() throws {
        d = try Daemon(arguments: ["--gc-interval", "0.5", "--gc-grace", "0"])
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("doomed", key: key)
        let payload = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7919 >> 3) })
        try d.put(vol, "/big.bin", payload, key: key)
        XCTAssertEqual(try d.request("DELETE", "/v1/volumes/\(vol)", key: key).status, 204)
        try waitFor("gc to free the volume's chunk") {
            let r = try d.get("/v1/admin/gc", key: d.operatorKey)
            XCTAssertEqual(r.status, 200, r.text)
            return (try r.object()["bytes_freed"] as? Int ?? 0) >= payload.count
        }
        let status = try d.get("/v1/admin/gc", key: d.operatorKey).object()
        XCTAssertEqual(status["interval_seconds"] as? Double, 0.5)
        XCTAssertGreaterThanOrEqual(status["runs"] as? Int ?? 0, 1)
        let last = try XCTUnwrap(status["last_run"] as? [String: Any])
        XCTAssertNotNil(last["gc"] as? [String: Any])
        XCTAssertTrue(d.log().contains("gc freed"), d.log())
        let metrics = try d.get("/metrics", key: d.operatorKey).text
        let freed = metrics.split(separator: "\n").first { $0.hasPrefix("volumed_gc_freed_bytes ") }
        XCTAssertGreaterThanOrEqual(Double(freed?.split(separator: " ").last ?? "0") ?? 0, Double(payload.count), metrics)
    }

    /// gc and fsck on demand return their reports; caps per volume and tenant are set, shown and cleared;
    /// tenants are listed; a tenant key gets 403 on every one of these routes.
    func testAdminRoutesForTheOperatorOnly() throws {
        d = try Daemon(arguments: ["--gc-interval", "0"])
        let op = d.operatorKey
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("capped", key: key)
        try d.put(vol, "/a.txt", Data(repeating: 1, count: 1000), key: key)

        let routes: [(String, String, Any?)] = [
            ("GET", "/v1/admin/tenants", nil), ("GET", "/v1/admin/tenants/acme", nil),
            ("PUT", "/v1/admin/tenants/acme/cap", ["cap_bytes": 1 << 30]), ("DELETE", "/v1/admin/tenants/acme/cap", nil),
            ("GET", "/v1/admin/volumes/\(vol)/cap", nil), ("PUT", "/v1/admin/volumes/\(vol)/cap", ["cap_bytes": 1 << 20]),
            ("DELETE", "/v1/admin/volumes/\(vol)/cap", nil), ("GET", "/v1/admin/gc", nil), ("POST", "/v1/admin/gc?dry_run=true", nil),
            ("POST", "/v1/admin/fsck", nil), ("GET", "/metrics", nil),
        ]
        for (method, path, body) in routes {
            let r = body.map { try? d.send(method, path, key: key, json: $0) } ?? (try? d.request(method, path, key: key))
            XCTAssertEqual(r?.status, 403, "\(method) \(path) with a tenant key: \(r?.text ?? "")")
            XCTAssertEqual(r?.errorCode, "forbidden", "\(method) \(path)")
            XCTAssertEqual(try d.request(method, path, key: nil).status, 401, "\(method) \(path) without a key")
        }

        // Caps.
        var cap = try d.get("/v1/admin/volumes/\(vol)/cap", key: op).object()
        XCTAssertEqual(cap["source"] as? String, "default")
        XCTAssertEqual(cap["used_bytes"] as? Int, 1000)
        var r = try d.send("PUT", "/v1/admin/volumes/\(vol)/cap", key: op, json: ["cap_bytes": 4096])
        XCTAssertEqual(r.status, 200, r.text)
        cap = try r.object()
        XCTAssertEqual(cap["cap_bytes"] as? Int, 4096)
        XCTAssertEqual(cap["source"] as? String, "volume")
        let over = try d.request("PUT", "/v1/volumes/\(vol)/files/content?path=/b.bin", key: key, body: Data(repeating: 2, count: 5000))
        XCTAssertEqual(over.status, 507, "the cap holds for the tenant's writes")
        XCTAssertEqual(try d.send("PUT", "/v1/admin/volumes/\(vol)/cap", key: op, json: ["cap_bytes": 10]).status, 400, "below usage")
        XCTAssertEqual(try d.send("PUT", "/v1/admin/volumes/\(vol)/cap", key: op, json: ["cap": 10]).status, 400, "unknown field")
        XCTAssertEqual(try d.request("DELETE", "/v1/admin/volumes/\(vol)/cap", key: op).object()["source"] as? String, "default")
        r = try d.send("PUT", "/v1/admin/tenants/acme/cap", key: op, json: ["cap_bytes": 8192])
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(try r.object()["cap_bytes"] as? Int, 8192)
        cap = try d.get("/v1/admin/volumes/\(vol)/cap", key: op).object()
        XCTAssertEqual(cap["source"] as? String, "tenant")
        XCTAssertEqual(cap["cap_bytes"] as? Int, 8192)
        XCTAssertEqual(try d.get("/v1/volumes/\(vol)", key: key).object()["quota_bytes"] as? Int, 8192)
        XCTAssertTrue(try d.request("DELETE", "/v1/admin/tenants/acme/cap", key: op).object()["cap_bytes"] is NSNull)
        XCTAssertEqual(try d.get("/v1/admin/volumes/no-such/cap", key: op).status, 404)
        XCTAssertEqual(try d.get("/v1/admin/tenants/nobody", key: op).status, 404)

        // Tenants.
        let tenants = try d.get("/v1/admin/tenants", key: op).array()
        let acme = try XCTUnwrap(tenants.first { $0["tenant"] as? String == "acme" })
        XCTAssertEqual(acme["volumes"] as? Int, 1)

        // gc and fsck on demand.
        let gc = try d.request("POST", "/v1/admin/gc?dry_run=true", key: op)
        XCTAssertEqual(gc.status, 200, gc.text)
        XCTAssertEqual(try gc.object()["dry_run"] as? Bool, true)
        XCTAssertEqual(try gc.object()["volumes_scanned"] as? Int, 1)
        XCTAssertEqual(try d.request("POST", "/v1/admin/gc?grace_seconds=-1", key: op).status, 400)
        let all = try d.request("POST", "/v1/admin/fsck", key: op)
        XCTAssertEqual(all.status, 200, all.text)
        XCTAssertEqual(try all.array().count, 1)
        XCTAssertEqual(try all.array()[0]["ok"] as? Bool, true)
        let one = try d.request("POST", "/v1/admin/fsck?volume=\(vol)&repair=true", key: op)
        XCTAssertEqual(try one.array().first?["volume_id"] as? String, vol)
        XCTAssertEqual(try d.request("POST", "/v1/admin/fsck?volume=nope", key: op).status, 404)
    }

    /// /metrics counts requests by route pattern, method and status with a latency histogram, bytes in
    /// and out, and shows volumes, open volumes and the chunk store's size.
    func testMetrics() throws {
        d = try Daemon(arguments: ["--gc-interval", "0"])
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("measured", key: key)
        let payload = Data(repeating: 9, count: 200_000)
        try d.put(vol, "/m.bin", payload, key: key)
        XCTAssertEqual(try d.read(vol, "/m.bin", key: key).body, payload)
        XCTAssertEqual(try d.read(vol, "/nothing", key: key).status, 404)
        let r = try d.get("/metrics", key: d.operatorKey)
        XCTAssertEqual(r.status, 200)
        XCTAssertTrue(r.headers["content-type"]?.hasPrefix("text/plain") ?? false)
        let lines = r.text.split(separator: "\n").map(String.init)
        func value(_ prefix: String) -> Double? {
            lines.first { $0.hasPrefix(prefix + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
        }
        func line(_ name: String, _ parts: [String]) -> String? {
            lines.first { l in l.hasPrefix(name + "{") && parts.allSatisfy { l.contains($0) } }
        }
        XCTAssertNotNil(line("volumed_http_requests_total", ["files/content", "method=\"PUT\"", "status=\"201\""]), r.text)
        XCTAssertNotNil(line("volumed_http_requests_total", ["files/content", "method=\"GET\"", "status=\"404\""]), r.text)
        XCTAssertNil(lines.first { $0.contains("/m.bin") }, "routes are patterns, not paths")
        XCTAssertNotNil(line("volumed_http_request_duration_seconds_bucket", ["files/content", "method=\"PUT\"", "le="]), r.text)
        XCTAssertGreaterThanOrEqual(value("volumed_http_request_bytes_total") ?? 0, Double(payload.count))
        XCTAssertGreaterThanOrEqual(value("volumed_http_response_bytes_total") ?? 0, Double(payload.count))
        XCTAssertEqual(value("volumed_volumes"), 1)
        XCTAssertNotNil(value("volumed_open_volumes"))
        XCTAssertGreaterThanOrEqual(value("volumed_chunk_store_bytes") ?? 0, Double(payload.count))
    }
}
