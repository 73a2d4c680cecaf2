// /v1/volumes over real HTTP: create (JSON and Phase 1 tar.gz), list newest first, get with ?fields=, delete, and their errors.
import Foundation
import XCTest
import VolumeTestSupport

final class VolumeRouteTests: XCTestCase {
    static let phase1Fields = ["volume_id", "owner_id", "name", "blob_key", "size_bytes", "content_type", "metadata", "created_at"]
    static let phase2Fields = ["file_count", "quota_bytes", "used_bytes"]

    func testCreateListGetDelete() throws {
        let d = try Daemon()
        let key = try d.tenantKey("acme")
        let made = try d.send("POST", "/v1/volumes", key: key, json: ["name": "first", "metadata": ["team": "ml"]])
        XCTAssertEqual(made.status, 201, made.text)
        let v = try made.object()
        for f in Self.phase1Fields + Self.phase2Fields { XCTAssertTrue(v.keys.contains(f), "missing field \(f) in \(made.text)") }
        XCTAssertEqual(v["owner_id"] as? String, "acme")
        XCTAssertEqual(v["name"] as? String, "first")
        XCTAssertEqual(v["metadata"] as? [String: String], ["team": "ml"])
        XCTAssertEqual(v["size_bytes"] as? Int, 0)
        XCTAssertEqual(v["quota_bytes"] as? Int, 2 << 30)
        XCTAssertTrue(v["blob_key"] is NSNull, "blob_key is present and null")
        let first = try XCTUnwrap(v["volume_id"] as? String)
        let second = try d.createVolume("second", key: key)

        let list = try d.get("/v1/volumes", key: key)
        XCTAssertEqual(list.status, 200)
        XCTAssertEqual(try list.array().compactMap { $0["volume_id"] as? String }, [second, first], "newest first")

        let got = try d.get("/v1/volumes/\(first)", key: key)
        XCTAssertEqual(got.status, 200)
        XCTAssertEqual(try got.object()["name"] as? String, "first")
        XCTAssertEqual(try d.get("/v1/volumes/first", key: key).object()["volume_id"] as? String, first, "a unique name works as the ID does")

        let some = try d.get("/v1/volumes/\(first)?fields=name,size_bytes", key: key)
        XCTAssertEqual(some.status, 200, some.text)
        XCTAssertEqual(Set(try some.object().keys), ["name", "size_bytes"])
        let badField = try d.get("/v1/volumes/\(first)?fields=name,nope", key: key)
        XCTAssertEqual(badField.status, 400)
        XCTAssertTrue(badField.errorMessage.contains("nope"), badField.errorMessage)

        let del = try d.request("DELETE", "/v1/volumes/\(first)", key: key)
        XCTAssertEqual(del.status, 204, del.text)
        let gone = try d.get("/v1/volumes/\(first)", key: key)
        XCTAssertEqual(gone.status, 404)
        XCTAssertEqual(gone.errorCode, "not_found")
        XCTAssertEqual(try d.request("DELETE", "/v1/volumes/\(first)", key: key).status, 404)
        XCTAssertEqual(try d.get("/v1/nothing-here", key: key).errorCode, "not_found")
        d.stop()
    }

    func testBadJSONIsA400AndCreatesNothing() throws {
        let d = try Daemon()
        let key = try d.tenantKey("acme")
        let cases: [(String, Data)] = [
            ("not JSON", Data("{name: nope".utf8)),
            ("an array", Data("[\"x\"]".utf8)),
            ("unknown field", Data(#"{"name": "x", "size": 5}"#.utf8)),
            ("wrong type", Data(#"{"name": 5}"#.utf8)),
            ("missing name", Data(#"{"metadata": {}}"#.utf8)),
            ("metadata not strings", Data(#"{"name": "x", "metadata": {"a": 1}}"#.utf8)),
            ("empty name", Data(#"{"name": "  "}"#.utf8)),
        ]
        for (label, body) in cases {
            let r = try d.request("POST", "/v1/volumes", key: key, headers: ["Content-Type": "application/json"], body: body)
            XCTAssertEqual(r.status, 400, "\(label): \(r.text)")
            XCTAssertFalse(r.errorCode.isEmpty, "\(label): no JSON error body: \(r.text)")
        }
        let unknown = try d.request("POST", "/v1/volumes", key: key, headers: ["Content-Type": "application/json"], body: Data(#"{"name": "x", "size": 5}"#.utf8))
        XCTAssertTrue(unknown.errorMessage.contains("size"), unknown.errorMessage)
        let wrongType = try d.request("POST", "/v1/volumes", key: key, headers: ["Content-Type": "text/plain"], body: Data("x".utf8))
        XCTAssertEqual(wrongType.status, 415, wrongType.text)
        XCTAssertEqual(try d.get("/v1/volumes", key: key).array().count, 0, "nothing was created")
        d.stop()
    }

    /// A tar.gz made by Python's tarfile with a file, a directory, a symlink, a hard link and a `..` entry.
    static let makeArchive = """
    import io, sys, tarfile
    out = sys.argv[3]
    with tarfile.open(out, "w:gz") as t:
        def add(name, data=None, type=tarfile.REGTYPE, link=""):
            i = tarfile.TarInfo(name); i.type = type; i.linkname = link; i.mode = 0o644
            if data is not None: i.size = len(data)
            t.addfile(i, io.BytesIO(data) if data is not None else None)
        d = tarfile.TarInfo("docs"); d.type = tarfile.DIRTYPE; d.mode = 0o755; t.addfile(d)
        add("docs/readme.txt", b"hello from phase 1\\n")
        add("docs/link", type=tarfile.SYMTYPE, link="readme.txt")
        add("docs/hard", type=tarfile.LNKTYPE, link="docs/readme.txt")
        add("../escape.txt", b"nope")
    """

    func testPhase1GzipCreateImportsAndReportsDrops() throws {
        let d = try Daemon()
        let key = try d.tenantKey("acme")
        let archive = d.dir.path + "/blob.tar.gz"
        let made = try d.python(Self.makeArchive, [archive])
        XCTAssertEqual(made.status, 0, made.stderr)
        let r = try d.request("POST", "/v1/volumes?name=imported", key: key, headers: ["Content-Type": "application/gzip"],
                              body: try Data(contentsOf: URL(fileURLWithPath: archive)))
        XCTAssertEqual(r.status, 201, r.text)
        let obj = try r.object()
        let vol = try XCTUnwrap(obj["volume"] as? [String: Any])
        for f in Self.phase1Fields + Self.phase2Fields { XCTAssertTrue(vol.keys.contains(f), "missing \(f)") }
        XCTAssertEqual(vol["name"] as? String, "imported")
        XCTAssertEqual(vol["file_count"] as? Int, 1)
        let imp = try XCTUnwrap(obj["import"] as? [String: Any])
        XCTAssertEqual(imp["files"] as? Int, 1)
        XCTAssertEqual(imp["dropped_count"] as? Int, 3, r.text)
        let droppedPaths = (imp["dropped"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        XCTAssertEqual(Set(droppedPaths), ["docs/link", "docs/hard", "../escape.txt"], r.text)
        let id = try XCTUnwrap(vol["volume_id"] as? String)
        XCTAssertEqual(try d.read(id, "/docs/readme.txt", key: key).text, "hello from phase 1\n")

        // Not gzip: 400, and no volume is left behind.
        let bad = try d.request("POST", "/v1/volumes?name=broken", key: key, headers: ["Content-Type": "application/gzip"],
                                body: Data("this is not gzip".utf8))
        XCTAssertEqual(bad.status / 100, 4, bad.text)
        let noName = try d.request("POST", "/v1/volumes", key: key, headers: ["Content-Type": "application/gzip"],
                                   body: try Data(contentsOf: URL(fileURLWithPath: archive)))
        XCTAssertEqual(noName.status, 400, noName.text)
        XCTAssertEqual(try d.get("/v1/volumes", key: key).array().count, 1)
        d.stop()
    }

    func testABodyOver4GiBIs413BeforeAnythingIsStored() throws {
        let d = try Daemon()
        let key = try d.tenantKey("acme")
        // Declares 5 GiB and sends a few bytes: the answer comes from the headers alone.
        let script = """
        import socket, sys
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
        s.sendall(("POST /v1/volumes?name=huge HTTP/1.1\\r\\nHost: x\\r\\nX-API-Key: " + sys.argv[3] +
                   "\\r\\nContent-Type: application/gzip\\r\\nContent-Length: 5368709120\\r\\n\\r\\n").encode() + b"\\x1f\\x8b" * 100)
        s.settimeout(30)
        data = b""
        while b"\\r\\n\\r\\n" not in data:
            chunk = s.recv(65536)
            if not chunk: break
            data += chunk
        print(data.split(b"\\r\\n")[0].decode())
        """
        let r = try d.python(script, [key])
        XCTAssertTrue(r.stdout.hasPrefix("HTTP/1.1 413"), r.stdout + r.stderr)
        XCTAssertEqual(try d.get("/v1/volumes", key: key).array().count, 0)
        let volumes = try FileManager.default.contentsOfDirectory(atPath: d.dataDir + "/volumes").filter { $0.hasSuffix(".sqlite") }
        XCTAssertEqual(volumes, [], "no catalog was created")
        d.stop()
    }
}
