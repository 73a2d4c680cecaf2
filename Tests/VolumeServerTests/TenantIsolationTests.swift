// Two tenants: every route tried with the other tenant's volume ID and name is 404, and nothing of it shows in bodies or listings.
import Foundation
import XCTest

final class TenantIsolationTests: XCTestCase {
    func testEveryRouteWithAnotherTenantsVolumeIs404() throws {
        let d = try Daemon()
        let alice = try d.tenantKey("alice"), bob = try d.tenantKey("bob")
        let secretName = "alice-private-volume"
        let vol = try d.createVolume(secretName, key: alice)
        try d.put(vol, "/secret.txt", Data("alice's secret".utf8), key: alice)
        let bobsOwn = try d.createVolume("bob-volume", key: bob)

        for ref in [vol, secretName] {
            let b = "/v1/volumes/\(ref)"
            let attempts: [(String, String, Any?)] = [
                ("GET", b, nil), ("GET", b + "?fields=name", nil), ("DELETE", b, nil),
                ("GET", b + "/files?path=/", nil), ("GET", b + "/files/content?path=/secret.txt", nil),
                ("PUT", b + "/files/content?path=/secret.txt", nil), ("GET", b + "/files/stat?path=/secret.txt", nil),
                ("GET", b + "/files/exists?path=/secret.txt", nil), ("DELETE", b + "/files?path=/secret.txt", nil),
                ("POST", b + "/files/mkdir", ["path": "/x"]), ("POST", b + "/files/move", ["from": "/secret.txt", "to": "/y"]),
                ("POST", b + "/files/edit", ["path": "/secret.txt", "old": "secret", "new": "public"]),
                ("POST", b + "/files/search", ["content": "secret"]),
                ("POST", b + "/files/replace", ["glob": "*", "old": "secret", "new": "public"]),
                ("BATCH", b + "/files/batch", nil),
                ("GET", b + "/files/watch?path=/", nil),
            ]
            for (method, path, json) in attempts {
                let r: HTTPResult
                if let json { r = try d.send(method, path, key: bob, json: json) }
                else if method == "BATCH" {
                    r = try d.request("POST", path, key: bob, headers: ["Content-Type": "multipart/form-data; boundary=B"],
                                      body: Data("--B\r\nContent-Disposition: form-data; name=\"/secret.txt\"\r\n\r\nx\r\n--B--\r\n".utf8))
                }
                else if method == "PUT" { r = try d.request(method, path, key: bob, body: Data("overwritten".utf8)) }
                else { r = try d.request(method, path, key: bob) }
                XCTAssertEqual(r.status, 404, "\(method) \(path) as bob: \(r.text)")
                XCTAssertEqual(r.errorCode, "not_found", "\(method) \(path)")
                XCTAssertFalse(r.text.contains("secret.txt") || r.text.contains("alice's"), "\(method) \(path) leaked: \(r.text)")
                if ref == secretName { XCTAssertFalse(r.errorMessage.contains(vol), "\(method) \(path) leaked the ID: \(r.text)") }
            }
        }
        // Bob's listing holds only his volume; nothing of alice's is in it.
        let list = try d.get("/v1/volumes", key: bob)
        XCTAssertEqual(try list.array().compactMap { $0["volume_id"] as? String }, [bobsOwn])
        XCTAssertFalse(list.text.contains(vol) || list.text.contains(secretName) || list.text.contains("alice"), list.text)
        // Alice's volume is untouched.
        XCTAssertEqual(try d.read(vol, "/secret.txt", key: alice).text, "alice's secret")
        XCTAssertEqual(try d.get("/v1/volumes/\(vol)/files?path=/", key: alice).array().count, 1)
        // A missing volume looks the same as another tenant's.
        let missing = try d.get("/v1/volumes/vol-aaaaaaaaaaaaaaaaaaaa", key: bob)
        let others = try d.get("/v1/volumes/\(vol)", key: bob)
        XCTAssertEqual(missing.status, others.status)
        XCTAssertEqual(missing.errorMessage.replacingOccurrences(of: "vol-aaaaaaaaaaaaaaaaaaaa", with: vol), others.errorMessage)
        d.stop()
    }
}
