// Signed URLs over real HTTP: one GET or PUT of one path without a key until expiry; expired, altered, wrong method or rotated secret: 403.
import Foundation
import XCTest

final class SignedURLTests: DaemonTestCase {
    /// A daemon replaced by a restart on its data directory: kept (its deinit removes the directory) until the end.
    var first: Daemon?

    override func tearDown() {
        super.tearDown()
        first = nil
    }

    func sign(_ path: String, _ method: String, seconds: Int? = nil, key k: String? = nil, user: String? = nil) throws -> HTTPResult {
        var body: [String: Any] = ["path": path, "method": method]
        if let s = seconds { body["expires_in_seconds"] = s }
        if let u = user { body["user"] = u }
        return try d.send("POST", "/v1/volumes/\(vol)/files/signed-url", key: k ?? key, json: body)
    }

    func url(_ r: HTTPResult, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        XCTAssertEqual(r.status, 201, r.text, file: file, line: line)
        return try XCTUnwrap(try r.object()["url"] as? String, r.text, file: file, line: line)
    }

    func assertForbidden(_ r: HTTPResult, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 403, "\(what): \(r.text)", file: file, line: line)
        XCTAssertEqual(r.errorCode, "forbidden", what, file: file, line: line)
    }

    func testSignedURLs() throws {
        try startDaemon(["--signing-secret", "first-secret"], volume: "signed")
        try d.put(vol, "/report.txt", Data("the report".utf8), key: key)

        // GET without a key, with Range and the validators of a normal read.
        let g = try sign("/report.txt", "GET", seconds: 600)
        XCTAssertNotNil(try g.object()["expires_at"] as? String)
        let get = try url(g)
        let read = try d.get(get, key: nil)
        XCTAssertEqual(read.status, 200, read.text)
        XCTAssertEqual(read.text, "the report")
        XCTAssertNotNil(read.headers["etag"])
        XCTAssertEqual(try d.get(get, key: nil, headers: ["Range": "bytes=4-9"]).text, "report")

        // PUT without a key, streamed.
        let put = try url(try sign("/upload.bin", "put"))
        let payload = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        let w = try d.request("PUT", put, key: nil, headers: ["Content-Type": "application/octet-stream"], body: payload)
        XCTAssertEqual(w.status, 201, w.text)
        XCTAssertEqual(try d.read(vol, "/upload.bin", key: key).body, payload)

        // Wrong method, altered path / expiry / tenant / signature, an extra parameter: 403.
        assertForbidden(try d.request("PUT", get, key: nil, body: Data("x".utf8)), "GET URL used to PUT")
        assertForbidden(try d.get(put, key: nil), "PUT URL used to GET")
        assertForbidden(try d.get(get.replacingOccurrences(of: "path=/report.txt", with: "path=/upload.bin"), key: nil), "path")
        let exp = try XCTUnwrap(get.range(of: #"expires=\d+"#, options: .regularExpression))
        assertForbidden(try d.get(get.replacingCharacters(in: exp, with: "expires=9999999999"), key: nil), "expiry")
        assertForbidden(try d.get(get.replacingOccurrences(of: "tenant=acme", with: "tenant=other"), key: nil), "tenant")
        assertForbidden(try d.get(String(get.dropLast(2)) + (get.hasSuffix("00") ? "11" : "00"), key: nil), "signature")
        assertForbidden(try d.get(get + "&parents=true", key: nil), "extra parameter")
        assertForbidden(try d.get(get.replacingOccurrences(of: "/v1/signed/\(vol)/", with: "/v1/signed/other/"), key: nil), "volume")

        // Limits of issuing: 7 days at most, GET or PUT, a file path, the caller's own volume.
        XCTAssertEqual(try sign("/report.txt", "GET", seconds: 7 * 86400 + 1).status, 400)
        XCTAssertEqual(try sign("/report.txt", "GET", seconds: 7 * 86400).status, 201)
        XCTAssertEqual(try sign("/report.txt", "DELETE").status, 400)
        XCTAssertEqual(try sign("/../x", "GET").status, 400)
        XCTAssertEqual(try sign("/report.txt", "GET", key: try d.tenantKey("other")).status, 404)
        XCTAssertEqual(try d.send("POST", "/v1/volumes/\(vol)/files/signed-url", key: nil, json: ["path": "/a", "method": "GET"]).status, 401)

        // Expiry.
        let short = try url(try sign("/report.txt", "GET", seconds: 1))
        sleep(2)
        assertForbidden(try d.get(short, key: nil), "expired")

        // Rotation: a restart with another secret revokes every URL signed before; new ones work.
        XCTAssertEqual(d.stop(), 0)
        first = d
        d = try Daemon(arguments: ["--signing-secret", "second-secret"], reuse: d.dir)
        assertForbidden(try d.get(get, key: nil), "rotated secret")
        XCTAssertEqual(try d.get(try url(try sign("/report.txt", "GET")), key: nil).text, "the report")
    }

    /// A signed PUT writes as the user it was signed with (the sandbox's user, say), and that user
    /// cannot be changed or added to a URL signed without one.
    func testASignedPutWritesAsItsSignedUser() throws {
        try startDaemon(volume: "owned")
        func stat(_ path: String) throws -> [String: Any] {
            try d.get("/v1/volumes/\(vol)/files/stat?path=\(path)", key: key).object()
        }
        let mine = try sign("/mine.txt", "PUT", user: "1000:1001")
        let put = try url(mine)
        XCTAssertTrue(put.contains("user=1000%3A1001"), put)
        XCTAssertEqual(try d.request("PUT", put, key: nil, body: Data("mine".utf8)).status, 201)
        XCTAssertEqual(try stat("/mine.txt")["uid"] as? Int, 1000)
        XCTAssertEqual(try stat("/mine.txt")["gid"] as? Int, 1001)
        // Without a user: root, as before.
        XCTAssertEqual(try d.request("PUT", try url(try sign("/root.txt", "PUT")), key: nil, body: Data("r".utf8)).status, 201)
        XCTAssertEqual(try stat("/root.txt")["uid"] as? Int, 0)
        // The user is signed: changed, removed or added, the URL is 403 and nothing is written.
        assertForbidden(try d.request("PUT", put.replacingOccurrences(of: "user=1000%3A1001", with: "user=0"), key: nil, body: Data("x".utf8)), "user changed")
        assertForbidden(try d.request("PUT", put.replacingOccurrences(of: "&user=1000%3A1001", with: ""), key: nil, body: Data("x".utf8)), "user removed")
        let plain = try url(try sign("/plain.txt", "PUT"))
        assertForbidden(try d.request("PUT", plain + "&user=0", key: nil, body: Data("x".utf8)), "user added")
        XCTAssertEqual(try d.read(vol, "/mine.txt", key: key).text, "mine")
        XCTAssertEqual(try d.get("/v1/volumes/\(vol)/files/exists?path=/plain.txt", key: key).object()["exists"] as? Bool, false)
        // Issuing: a GET takes no user, and a user that is not one is refused before a URL exists.
        XCTAssertEqual(try sign("/mine.txt", "GET", user: "1000").status, 400)
        let bad = try sign("/x.txt", "PUT", user: "alice")
        XCTAssertEqual(bad.status, 400, bad.text)
        XCTAssertEqual(bad.errorCode, "invalid_argument", bad.text)
    }

    func testGeneratedSecretIsKeptInTheDataDirectory() throws {
        try startDaemon(volume: "gen")
        try d.put(vol, "/a.txt", Data("a".utf8), key: key)
        let path = d.dataDir + "/signing.key"
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let get = try url(try sign("/a.txt", "GET"))
        XCTAssertEqual(d.stop(), 0)
        try d.start()
        XCTAssertEqual(try d.get(get, key: nil).text, "a", "the generated secret survives a restart")
        // Rotation by removing the file: a new secret on the next start.
        XCTAssertEqual(d.stop(), 0)
        try FileManager.default.removeItem(atPath: path)
        try d.start()
        assertForbidden(try d.get(get, key: nil), "secret rotated by deleting signing.key")
    }
}
