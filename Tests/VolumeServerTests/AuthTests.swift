// API keys over HTTP: missing, wrong, revoked and expired keys are 401 with a JSON body; both headers work; operator routes refuse tenant keys (403).
import Foundation
import XCTest

final class AuthTests: XCTestCase {
    func testMissingWrongRevokedAndExpiredKeysAre401() throws {
        let d = try Daemon()
        for key in [nil, "", "vk_wrong", "not-even-a-key"] as [String?] {
            let r = try d.get("/v1/volumes", key: key)
            XCTAssertEqual(r.status, 401, "key \(String(describing: key)): \(r.text)")
            XCTAssertEqual(r.errorCode, "unauthorized")
            XCTAssertTrue(r.errorMessage.contains("X-API-Key"), r.errorMessage)
        }
        // Every route, not just one: a files route and an admin route without a key.
        XCTAssertEqual(try d.get("/v1/volumes/vol-x/files?path=/", key: nil).status, 401)
        XCTAssertEqual(try d.get("/v1/admin/keys", key: nil).status, 401)

        // Bearer works as X-API-Key does.
        let key = try d.tenantKey("acme")
        XCTAssertEqual(try d.request("GET", "/v1/volumes", key: key, bearer: true).status, 200)
        XCTAssertEqual(try d.get("/v1/volumes", key: key).status, 200)

        // Revoked through volumectl on the data directory while the daemon runs: 401 at once.
        let made = try d.volumectl("apikey", "create", "--tenant", "acme", "--json")
        XCTAssertEqual(made.status, 0, made.stderr)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(made.stdout.utf8)) as? [String: Any])
        let cliKey = try XCTUnwrap(obj["key"] as? String), cliID = try XCTUnwrap(obj["id"] as? String)
        XCTAssertEqual(try d.get("/v1/volumes", key: cliKey).status, 200)
        XCTAssertEqual(try d.volumectl("apikey", "revoke", cliID).status, 0)
        let revoked = try d.get("/v1/volumes", key: cliKey)
        XCTAssertEqual(revoked.status, 401)
        XCTAssertEqual(revoked.errorCode, "unauthorized")

        // Expired: a key that lives one second.
        let short = try d.send("POST", "/v1/admin/keys", key: d.operatorKey, json: ["tenant": "acme", "expires_in_seconds": 1])
        XCTAssertEqual(short.status, 201, short.text)
        let shortKey = try XCTUnwrap(try short.object()["key"] as? String)
        XCTAssertNotNil(try short.object()["expires_at"] as? String)
        usleep(1_500_000)
        XCTAssertEqual(try d.get("/v1/volumes", key: shortKey).status, 401, "an expired key must be refused")
        d.stop()
    }

    func testOperatorRoutesRefuseTenantKeysAndTenantKeysCannotActForOthers() throws {
        let d = try Daemon()
        let key = try d.tenantKey("acme")
        for (method, path) in [("GET", "/v1/admin/keys"), ("POST", "/v1/admin/keys"), ("DELETE", "/v1/admin/keys/key-x")] {
            let r = method == "POST" ? try d.send(method, path, key: key, json: ["tenant": "acme", "role": "operator"])
                                     : try d.request(method, path, key: key)
            XCTAssertEqual(r.status, 403, "\(method) \(path): \(r.text)")
            XCTAssertEqual(r.errorCode, "forbidden")
        }
        let other = try d.get("/v1/volumes", key: key, headers: ["X-Tenant": "globex"])
        XCTAssertEqual(other.status, 403, other.text)
        // The operator acts for a tenant with X-Tenant, and sees every tenant without it.
        let made = try d.send("POST", "/v1/volumes", key: d.operatorKey, json: ["name": "for-acme"], headers: ["X-Tenant": "acme"])
        XCTAssertEqual(made.status, 201, made.text)
        XCTAssertEqual(try made.object()["owner_id"] as? String, "acme")
        XCTAssertEqual(try d.get("/v1/volumes", key: key).array().count, 1)
        XCTAssertEqual(try d.get("/v1/volumes", key: d.operatorKey).array().count, 1)
        let noTenant = try d.send("POST", "/v1/volumes", key: d.operatorKey, json: ["name": "nobody"])
        XCTAssertEqual(noTenant.status, 400, noTenant.text)
        // Keys through the admin API: listed without secrets, revocable.
        let keys = try d.get("/v1/admin/keys?tenant=acme", key: d.operatorKey).array()
        XCTAssertEqual(keys.count, 1)
        XCTAssertNil(keys[0]["key"], "a listing must never show a secret")
        let id = try XCTUnwrap(keys[0]["id"] as? String)
        let rev = try d.request("DELETE", "/v1/admin/keys/\(id)", key: d.operatorKey)
        XCTAssertEqual(rev.status, 200, rev.text)
        XCTAssertEqual(try rev.object()["active"] as? Bool, false)
        XCTAssertEqual(try d.get("/v1/volumes", key: key).status, 401)
        d.stop()
    }

    func testVolumectlAPIKeyCommands() throws {
        let d = try Daemon()
        let plain = try d.volumectl("apikey", "create", "--tenant", "acme")
        XCTAssertEqual(plain.status, 0, plain.stderr)
        let key = plain.stdout.trimmingCharacters(in: .newlines)
        XCTAssertTrue(key.hasPrefix("vk_") && !key.contains(" ") && plain.stdout.filter { $0 == "\n" }.count == 1,
                      "plain output is the key alone: \(plain.stdout)")
        XCTAssertTrue(plain.stderr.contains("key-") && plain.stderr.contains("acme"), plain.stderr)
        XCTAssertEqual(try d.get("/v1/volumes", key: key).status, 200)

        let op = try d.volumectl("apikey", "create", "--tenant", "ops", "--operator", "--expires", "1h", "--json")
        XCTAssertEqual(op.status, 0, op.stderr)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(op.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(obj["role"] as? String, "operator")
        XCTAssertNotNil(obj["expires_at"] as? String)
        let opKey = try XCTUnwrap(obj["key"] as? String)
        XCTAssertEqual(try d.get("/v1/admin/keys", key: opKey).status, 200, "an operator key made by volumectl runs admin routes")

        let list = try d.volumectl("apikey", "list", "--tenant", "acme")
        XCTAssertEqual(list.status, 0)
        XCTAssertTrue(list.stdout.contains("acme") && list.stdout.contains("active") && !list.stdout.contains("ops"), list.stdout)
        XCTAssertFalse(list.stdout.contains(key), "a listing never shows a secret")
        XCTAssertEqual(try d.volumectl("apikey", "create", "--tenant", "acme", "--expires", "0s").status, 64)
        XCTAssertEqual(try d.volumectl("apikey", "create", "--tenant", "bad name").status, 64)
        XCTAssertEqual(try d.volumectl("apikey", "revoke", "key-nope").status, 3)
        d.stop()
    }
}
