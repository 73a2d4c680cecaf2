// The bad-input table through real HTTP: wrong or unknown JSON fields, bad paths, bad ranges and query values, cut and overlong bodies: a clear 4xx, nothing written.
import Foundation
import XCTest

final class BadInputTests: DaemonTestCase {
    let old = Data("the old content\n".utf8)

    override func setUpWithError() throws {
        try startDaemon(volume: "bad-input")
        try d.put(vol, "/doc.txt", old, key: key)
    }

    var base: String { "/v1/volumes/\(vol)/files" }

    /// The volume holds `/doc.txt` with its old content and nothing else.
    func assertNothingWritten(_ label: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let entries = try d.get(base + "?path=/&depth=8", key: key).array()
        XCTAssertEqual(entries.compactMap { $0["path"] as? String }, ["/doc.txt"], "\(label): the volume changed", file: file, line: line)
        XCTAssertEqual(try d.read(vol, "/doc.txt", key: key).body, old, "\(label): /doc.txt changed", file: file, line: line)
    }

    func assertError(_ r: HTTPResult, _ status: Int, _ codes: Set<String>, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, status, "\(label): \(r.text)", file: file, line: line)
        XCTAssertTrue(codes.contains(r.errorCode), "\(label): code '\(r.errorCode)' not in \(codes.sorted()): \(r.text)", file: file, line: line)
        XCTAssertFalse(r.errorMessage.isEmpty, "\(label): no message", file: file, line: line)
        XCTAssertEqual(r.headers["content-type"], "application/json", "\(label)", file: file, line: line)
    }

    func testWrongUnknownAndMissingJSONFieldsOnEveryJSONRouteAre400() throws {
        // Each route with a valid body and its required fields (null for an optional field means absent).
        let routes: [(String, [String: Any], [String])] = [
            (base + "/mkdir", ["path": "/made", "parents": true], ["path"]),
            (base + "/move", ["from": "/doc.txt", "to": "/moved.txt"], ["from", "to"]),
            (base + "/edit", ["path": "/doc.txt", "old": "old", "new": "new"], ["path", "old", "new"]),
            (base + "/search", ["name": "*.txt"], []),
            (base + "/replace", ["glob": "*.txt", "old": "old", "new": "new"], ["glob", "old", "new"]),
            ("/v1/volumes", ["name": "another"], ["name"]),
        ]
        for (route, valid, required) in routes {
            var cases: [(String, Data, String)] = [
                ("not JSON", Data("{path: ".utf8), "invalid_json"),
                ("an array", Data("[1]".utf8), "invalid_json"),
                ("a string", Data("\"x\"".utf8), "invalid_json"),
                ("empty", Data(), "invalid_json"),
            ]
            var unknown = valid
            unknown["surprise"] = 1
            cases.append(("unknown field", try JSONSerialization.data(withJSONObject: unknown), "invalid_json"))
            for field in valid.keys.sorted() {
                var wrong = valid
                wrong[field] = valid[field] is Bool ? "yes" as Any : 42 as Any
                cases.append(("\(field) of the wrong type", try JSONSerialization.data(withJSONObject: wrong), "invalid_json"))
            }
            for field in required {
                var missing = valid
                missing[field] = nil
                cases.append(("\(field) missing", try JSONSerialization.data(withJSONObject: missing), "invalid_json"))
                var null = valid
                null[field] = NSNull()
                cases.append(("\(field) null", try JSONSerialization.data(withJSONObject: null), "invalid_json"))
            }
            if route.hasSuffix("/search") {
                cases.append(("neither name nor content", Data("{}".utf8), "bad_request"))
                cases.append(("limit 0", Data(#"{"name": "*", "limit": 0}"#.utf8), "bad_request"))
                cases.append(("limit a fraction", Data(#"{"name": "*", "limit": 1.5}"#.utf8), "invalid_json"))
            }
            for (label, body, code) in cases {
                let r = try d.request("POST", route, key: key, headers: ["Content-Type": "application/json"], body: body)
                assertError(r, 400, [code], "POST \(route) with \(label)")
                if label.hasSuffix("of the wrong type") || label == "unknown field" {
                    let field = label == "unknown field" ? "surprise" : String(label.prefix { $0 != " " })
                    XCTAssertTrue(r.errorMessage.contains(field), "POST \(route) \(label): the message should name '\(field)': \(r.errorMessage)")
                }
            }
        }
        // Admin: the operator's key-creation body is checked the same way.
        for body in [#"{"tenant": 5}"#, #"{"tenant": "t", "role": "god"}"#, #"{"tenant": "t", "expires_in_seconds": -1}"#, #"{"tenant": "t", "x": 1}"#, "{}"] {
            let r = try d.request("POST", "/v1/admin/keys", key: d.operatorKey, headers: ["Content-Type": "application/json"], body: Data(body.utf8))
            assertError(r, 400, ["invalid_json", "bad_request", "invalid_argument"], "POST /v1/admin/keys \(body)")
        }
        try assertNothingWritten("bad JSON")
        XCTAssertEqual(try d.get("/v1/volumes", key: key).array().count, 1, "no volume was created")
    }

    func testBadPathsOnEveryPathRouteAre400() throws {
        let name256 = String(repeating: "n", count: 256)
        // 41 names of 100 bytes: every name is fine, the path is over 4096 bytes.
        let longPath = "/" + (0..<41).map { _ in String(repeating: "p", count: 100) }.joined(separator: "/")
        let bad: [(String, String, Set<String>)] = [
            ("dot-dot", "/a/../doc.txt", ["invalid_path"]),
            ("leading dot-dot", "../doc.txt", ["invalid_path"]),
            ("NUL", "/doc\u{0}.txt", ["invalid_path"]),
            ("name over 255 bytes", "/" + name256, ["name_too_long"]),
            ("path over 4096 bytes", longPath, ["name_too_long", "invalid_path"]),
        ]
        for (label, path, codes) in bad {
            let q = "?path=" + Daemon.escape(path)
            assertError(try d.request("PUT", base + "/content" + q + "&parents=true", key: key, body: Data("x".utf8)), 400, codes, "PUT \(label)")
            assertError(try d.get(base + "/content" + q, key: key), 400, codes, "GET content \(label)")
            assertError(try d.get(base + "/stat" + q, key: key), 400, codes, "stat \(label)")
            assertError(try d.get(base + "/exists" + q, key: key), 400, codes, "exists \(label)")
            assertError(try d.get(base + q, key: key), 400, codes, "list \(label)")
            assertError(try d.request("DELETE", base + q, key: key), 400, codes, "remove \(label)")
            assertError(try d.send("POST", base + "/mkdir", key: key, json: ["path": path, "parents": true]), 400, codes, "mkdir \(label)")
            assertError(try d.send("POST", base + "/move", key: key, json: ["from": "/doc.txt", "to": path]), 400, codes, "move to \(label)")
            assertError(try d.send("POST", base + "/edit", key: key, json: ["path": path, "old": "a", "new": "b"]), 400, codes, "edit \(label)")
            assertError(try d.send("POST", base + "/search", key: key, json: ["under": path, "name": "*"]), 400, codes, "search \(label)")
            assertError(try d.send("POST", base + "/replace", key: key, json: ["under": path, "glob": "*", "old": "a", "new": "b"]), 400, codes, "replace \(label)")
            // A batch part named with the path (curl cannot put a NUL in a form name).
            if !path.contains("\u{0}") {
                let part = d.dir.path + "/part.txt"
                try Data("x".utf8).write(to: URL(fileURLWithPath: part))
                let r = try Daemon.runTool("/usr/bin/curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "X-API-Key: \(key)",
                                                             "-F", "\(path)=@\(part)", d.url + base + "/batch?parents=true"])
                XCTAssertEqual(r.stdout, "400", "batch \(label): \(r.stderr)")
            }
        }
        try assertNothingWritten("bad paths")
    }

    func testBadQueryValuesAre400() throws {
        let cases: [(String, String, String)] = [
            ("GET", base + "?path=/&depth=0", "depth 0"),
            ("GET", base + "?path=/&depth=x", "depth not a number"),
            ("GET", base + "?path=/&depth=99999999999999999999", "depth too large"),
            ("DELETE", base + "?path=/doc.txt&recursive=maybe", "recursive not a boolean"),
            ("PUT", base + "/content?path=/new.txt&mode=999", "mode not octal"),
            ("PUT", base + "/content?path=/new.txt&mode=77777", "mode too large"),
            ("PUT", base + "/content?path=/new.txt&parents=perhaps", "parents not a boolean"),
            ("GET", base + "/stat", "path missing"),
            ("GET", base + "/stat?path=", "path empty"),
            ("GET", "/v1/volumes/\(vol)?fields=name,nope", "unknown field"),
        ]
        for (method, route, label) in cases {
            assertError(try d.request(method, route, key: key, body: method == "PUT" ? Data("x".utf8) : nil), 400, ["bad_request"], label)
        }
        try assertNothingWritten("bad queries")
    }

    func testBadRangesAre416WithTheSize() throws {
        let size = old.count
        for range in ["bytes=\(size)-", "bytes=\(size + 10)-\(size + 20)", "bytes=5-2", "bytes=0-1,3-4", "items=0-1", "bytes=-0", "bytes=x-y", "bytes=--1", "bytes=1", "bytes=-"] {
            let r = try d.get(base + "/content?path=/doc.txt", key: key, headers: ["Range": range])
            assertError(r, 416, ["out_of_range"], "Range \(range)")
            XCTAssertEqual(r.headers["content-range"], "bytes */\(size)", "Range \(range)")
        }
        // A satisfiable one still works, and an end past the size is clipped.
        let ok = try d.get(base + "/content?path=/doc.txt", key: key, headers: ["Range": "bytes=4-1000"])
        XCTAssertEqual(ok.status, 206)
        XCTAssertEqual(ok.body, old.subdata(in: 4..<size))
    }

    /// Raw HTTP with Python: sends `head` + `body`, half-closes when asked, and prints what came back
    /// ("CLOSED" when the connection ended without an answer).
    static let raw = """
    import socket, sys
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
    s.sendall(sys.argv[3].encode().decode("unicode_escape").encode("latin-1"))
    if sys.argv[4] == "halfclose": s.shutdown(socket.SHUT_WR)
    s.settimeout(30)
    data = b""
    try:
        while True:
            c = s.recv(65536)
            if not c: break
            data += c
    except (ConnectionResetError, socket.timeout):
        pass
    print(data.decode("latin-1") if data else "CLOSED")
    """

    func head(_ method: String, _ path: String, _ extra: String) -> String {
        "\(method) \(path) HTTP/1.1\\r\\nHost: x\\r\\nX-API-Key: \(key)\\r\\nConnection: close\\r\\n\(extra)\\r\\n"
    }

    func testBodiesThatEndEarlyOrSayTheWrongLengthWriteNothing() throws {
        let path = base + "/content?path=/doc.txt"
        // Ends early, then the client half-closes: 400 length_mismatch (FileRouteTests has the cut connection).
        var r = try d.python(Self.raw, [head("PUT", path, "Content-Length: 100\\r\\n") + "short", "halfclose"])
        XCTAssertTrue(r.stdout.hasPrefix("HTTP/1.1 400") && r.stdout.contains("length_mismatch"), r.stdout + r.stderr)
        // The same for a JSON route and a batch (bodies read whole): 400 length_mismatch, not a 500.
        r = try d.python(Self.raw, [head("POST", base + "/mkdir", "Content-Type: application/json\\r\\nContent-Length: 50\\r\\n") + #"{"path": "/made"}"#, "halfclose"])
        XCTAssertTrue(r.stdout.hasPrefix("HTTP/1.1 400") && r.stdout.contains("length_mismatch"), r.stdout + r.stderr)
        let form = #"--b\r\nContent-Disposition: form-data; name="/made.txt"\r\n\r\nabc\r\n--b--\r\n"#
        r = try d.python(Self.raw, [head("POST", base + "/batch", "Content-Type: multipart/form-data; boundary=b\\r\\nContent-Length: 500\\r\\n") + form, "halfclose"])
        XCTAssertTrue(r.stdout.hasPrefix("HTTP/1.1 400") && r.stdout.contains("length_mismatch"), r.stdout + r.stderr)
        // And for a sandbox's create body (read whole by a route of its own): no sandbox is made.
        r = try d.python(Self.raw, [head("POST", "/v1/sandboxes", "Content-Type: application/json\\r\\nContent-Length: 50\\r\\n") + #"{"attachments": []}"#, "halfclose"])
        XCTAssertTrue(r.stdout.hasPrefix("HTTP/1.1 400") && r.stdout.contains("length_mismatch"), r.stdout + r.stderr)
        XCTAssertEqual(try d.get("/v1/sandboxes", key: key).array().count, 0)
        // A Content-Length that is not a number, or two that disagree: refused before the body is read.
        for bad in ["Content-Length: ten\\r\\n", "Content-Length: 5\\r\\nContent-Length: 6\\r\\n", "Content-Length: -5\\r\\n"] {
            r = try d.python(Self.raw, [head("PUT", path, bad) + "hello!", "halfclose"])
            XCTAssertTrue(r.stdout.hasPrefix("HTTP/1.1 400") || r.stdout == "CLOSED\n", "\(bad): \(r.stdout)\(r.stderr)")
        }
        // A chunked body whose chunk says more than it holds, then the client half-closes.
        r = try d.python(Self.raw, [head("PUT", path, "Transfer-Encoding: chunked\\r\\n") + "100\\r\\nonly a little", "halfclose"])
        XCTAssertTrue(r.stdout.hasPrefix("HTTP/1.1 400") || r.stdout == "CLOSED\n", r.stdout + r.stderr)
        try assertNothingWritten("early or wrong length")

        // Longer than its Content-Length: HTTP/1.1 reads the declared bytes as the body (the file holds exactly
        // those) and the rest as the next request, which does not parse: 400 (or a close), never more bytes.
        let longer = "PUT \(base)/content?path=/longer.txt HTTP/1.1\\r\\nHost: x\\r\\nX-API-Key: \(key)\\r\\nContent-Length: 5\\r\\n\\r\\nhello, and more than it said\\r\\n\\r\\n"
        r = try d.python(Self.raw, [longer, "halfclose"])
        XCTAssertTrue(r.stdout.hasPrefix("HTTP/1.1 201"), r.stdout + r.stderr)
        let answers = r.stdout.components(separatedBy: "HTTP/1.1 ").dropFirst()
        XCTAssertTrue(answers.count == 1 || answers.dropFirst().allSatisfy { $0.hasPrefix("400") }, "the rest is refused: \(r.stdout)")
        XCTAssertEqual(try d.read(vol, "/longer.txt", key: key).text, "hello")
    }

    func testABodyOverTheFileLimitIs413AndWritesNothing() throws {
        let first = d!
        defer { first.stop() }
        try startDaemon(["--max-file-bytes", "1000"], volume: "limits")
        try d.put(vol, "/doc.txt", old, key: key)
        let path = base + "/content?path=/doc.txt"
        // Declared too large: refused before the body.
        let declared = try d.request("PUT", path, key: key, body: Data(repeating: 1, count: 2000))
        assertError(declared, 413, ["too_large"], "declared over the limit")
        // Chunked, no declared size: refused when the stream passes the limit.
        let file = d.dir.path + "/big.bin"
        try Data(repeating: 2, count: 200_000).write(to: URL(fileURLWithPath: file))
        let chunked = try d.request("PUT", path, key: key, headers: ["Transfer-Encoding": "chunked"], bodyFile: file)
        assertError(chunked, 413, ["too_large"], "chunked over the limit")
        try assertNothingWritten("over the file limit")
    }
}
