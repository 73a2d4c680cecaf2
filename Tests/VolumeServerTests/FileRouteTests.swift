// The files API over real HTTP: every route with its errors, Range reads, bad paths, the cap (507), and a cut upload.
import Foundation
import XCTest

final class FileRouteTests: DaemonTestCase {
    override func setUpWithError() throws {
        try startDaemon(volume: "files")
    }

    var base: String { "/v1/volumes/\(vol)/files" }

    func testWriteReadAndRanges() throws {
        let created = try d.put(vol, "/hello.txt", Data("hello, world".utf8), key: key)
        XCTAssertEqual(created.status, 201)
        XCTAssertEqual(try created.object()["path"] as? String, "/hello.txt")
        XCTAssertEqual(try created.object()["size"] as? Int, 12)
        let replaced = try d.put(vol, "/hello.txt", Data("HELLO, WORLD!".utf8), key: key)
        XCTAssertEqual(replaced.status, 200, "replacing answers 200")

        let whole = try d.read(vol, "/hello.txt", key: key)
        XCTAssertEqual(whole.status, 200)
        XCTAssertEqual(whole.text, "HELLO, WORLD!")
        XCTAssertEqual(whole.headers["accept-ranges"], "bytes")
        XCTAssertNotNil(whole.headers["last-modified"])

        for (range, expect, contentRange) in [("bytes=0-4", "HELLO", "bytes 0-4/13"), ("bytes=7-", "WORLD!", "bytes 7-12/13"),
                                              ("bytes=-6", "WORLD!", "bytes 7-12/13"), ("bytes=7-100", "WORLD!", "bytes 7-12/13")] {
            let r = try d.get(base + "/content?path=/hello.txt", key: key, headers: ["Range": range])
            XCTAssertEqual(r.status, 206, range)
            XCTAssertEqual(r.text, expect, range)
            XCTAssertEqual(r.headers["content-range"], contentRange, range)
        }
        for bad in ["bytes=13-", "bytes=5-2", "bytes=0-1,3-4", "lines=0-1", "bytes=x-y", "bytes=-0"] {
            let r = try d.get(base + "/content?path=/hello.txt", key: key, headers: ["Range": bad])
            XCTAssertEqual(r.status, 416, bad)
            XCTAssertEqual(r.errorCode, "out_of_range", bad)
            XCTAssertEqual(r.headers["content-range"], "bytes */13", bad)
        }
        // A larger file streams out in several core reads and comes back byte for byte.
        let big = Data((0..<(3 << 20) + 12345).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try d.put(vol, "/big.bin", big, key: key)
        XCTAssertEqual(try d.read(vol, "/big.bin", key: key).body, big)
        let mid = try d.get(base + "/content?path=/big.bin", key: key, headers: ["Range": "bytes=1048570-2097160"])
        XCTAssertEqual(mid.body, big[1_048_570...2_097_160])

        XCTAssertEqual(try d.read(vol, "/missing.txt", key: key).status, 404)
        XCTAssertEqual(try d.read(vol, "/", key: key).errorCode, "is_a_directory")
        let noParent = try d.request("PUT", base + "/content?path=/no/such/dir.txt", key: key, body: Data("x".utf8))
        XCTAssertEqual(noParent.status, 404, noParent.text)
        try d.put(vol, "/made/parents/x.txt", Data("x".utf8), key: key, query: "&parents=true")
        let onDir = try d.request("PUT", base + "/content?path=/made", key: key, body: Data("x".utf8))
        XCTAssertEqual(onDir.errorCode, "is_a_directory")
        // An empty body makes an empty file; a mode is kept.
        try d.put(vol, "/empty", Data(), key: key, query: "&mode=0600")
        let st = try d.get(base + "/stat?path=/empty", key: key).object()
        XCTAssertEqual(st["size"] as? Int, 0)
        XCTAssertEqual(st["mode"] as? String, "0600")
    }

    func testListStatExistsMkdirMoveRemove() throws {
        let mk = try d.send("POST", base + "/mkdir", key: key, json: ["path": "/src/lib", "parents": true])
        XCTAssertEqual(mk.status, 201, mk.text)
        XCTAssertEqual(try mk.object()["created"] as? Bool, true)
        XCTAssertEqual(try d.send("POST", base + "/mkdir", key: key, json: ["path": "/src/lib", "parents": true]).status, 200)
        XCTAssertEqual(try d.send("POST", base + "/mkdir", key: key, json: ["path": "/src/lib"]).errorCode, "already_exists")
        XCTAssertEqual(try d.send("POST", base + "/mkdir", key: key, json: ["path": "/src/lib", "mode": "999"]).status, 400)
        try d.put(vol, "/src/lib/a.py", Data("print('a')\n".utf8), key: key)
        try d.put(vol, "/src/main.py", Data("import lib\n".utf8), key: key)

        let top = try d.get(base + "?path=/src", key: key).array()
        XCTAssertEqual(top.compactMap { $0["name"] as? String }.sorted(), ["lib", "main.py"])
        for e in top { for f in ["name", "type", "size", "path", "modified", "mode"] { XCTAssertNotNil(e[f], "entry field \(f)") } }
        let deep = try d.get(base + "?path=/src&depth=2", key: key).array()
        XCTAssertEqual(deep.compactMap { $0["path"] as? String }.sorted(), ["/src/lib", "/src/lib/a.py", "/src/main.py"])
        XCTAssertEqual(try d.get(base + "?path=/src&depth=0", key: key).status, 400)
        XCTAssertEqual(try d.get(base + "?path=/src/main.py", key: key).errorCode, "not_a_directory")

        let st = try d.get(base + "/stat?path=/src/main.py", key: key)
        XCTAssertEqual(try st.object()["type"] as? String, "file")
        XCTAssertEqual(try st.object()["size"] as? Int, 11)
        XCTAssertEqual(try d.get(base + "/stat?path=/nope", key: key).status, 404)
        XCTAssertEqual(try d.get(base + "/exists?path=/src/main.py", key: key).object()["exists"] as? Bool, true)
        XCTAssertEqual(try d.get(base + "/exists?path=/nope", key: key).object()["exists"] as? Bool, false)
        XCTAssertEqual(try d.get(base + "/exists", key: key).status, 400, "path is required")

        let mv = try d.send("POST", base + "/move", key: key, json: ["from": "/src/main.py", "to": "/src/app.py"])
        XCTAssertEqual(mv.status, 200, mv.text)
        XCTAssertEqual(try mv.object()["path"] as? String, "/src/app.py")
        try d.put(vol, "/src/other.py", Data("x".utf8), key: key)
        XCTAssertEqual(try d.send("POST", base + "/move", key: key, json: ["from": "/src/other.py", "to": "/src/app.py"]).errorCode, "already_exists")
        XCTAssertEqual(try d.send("POST", base + "/move", key: key, json: ["from": "/src/other.py", "to": "/src/app.py", "overwrite": true]).status, 200)
        XCTAssertEqual(try d.read(vol, "/src/app.py", key: key).text, "x")

        XCTAssertEqual(try d.request("DELETE", base + "?path=/src", key: key).errorCode, "directory_not_empty")
        XCTAssertEqual(try d.request("DELETE", base + "?path=/src/app.py", key: key).status, 204)
        XCTAssertEqual(try d.request("DELETE", base + "?path=/src&recursive=true", key: key).status, 204)
        XCTAssertEqual(try d.get(base + "/exists?path=/src", key: key).object()["exists"] as? Bool, false)
        XCTAssertEqual(try d.request("DELETE", base + "?path=/src", key: key).status, 404)
    }

    func testEditSearchReplace() throws {
        try d.put(vol, "/a.txt", Data("TODO one\nTODO two\n".utf8), key: key)
        try d.put(vol, "/b.md", Data("nothing\n".utf8), key: key)
        let conflict = try d.send("POST", base + "/edit", key: key, json: ["path": "/a.txt", "old": "TODO", "new": "DONE"])
        XCTAssertEqual(conflict.status, 409, conflict.text)
        XCTAssertEqual(conflict.errorCode, "edit_conflict")
        let ed = try d.send("POST", base + "/edit", key: key, json: ["path": "/a.txt", "old": "TODO", "new": "DONE", "all": true])
        XCTAssertEqual(try ed.object()["replacements"] as? Int, 2)
        XCTAssertEqual(try d.read(vol, "/a.txt", key: key).text, "DONE one\nDONE two\n")

        let byName = try d.send("POST", base + "/search", key: key, json: ["name": "*.md"]).object()
        XCTAssertEqual((byName["hits"] as? [[String: Any]])?.compactMap { $0["path"] as? String }, ["/b.md"])
        let byContent = try d.send("POST", base + "/search", key: key, json: ["content": "DONE t"]).object()
        let hit = try XCTUnwrap((byContent["hits"] as? [[String: Any]])?.first)
        XCTAssertEqual(hit["path"] as? String, "/a.txt")
        XCTAssertEqual(hit["line"] as? Int, 2)
        XCTAssertEqual(try d.send("POST", base + "/search", key: key, json: [:] as [String: Any]).status, 400)

        let dry = try d.send("POST", base + "/replace", key: key, json: ["glob": "*.txt", "old": "DONE", "new": "OK", "dry_run": true]).object()
        XCTAssertEqual(dry["replacements"] as? Int, 2)
        XCTAssertEqual(dry["dry_run"] as? Bool, true)
        XCTAssertEqual(try d.read(vol, "/a.txt", key: key).text, "DONE one\nDONE two\n")
        let rep = try d.send("POST", base + "/replace", key: key, json: ["glob": "*.txt", "old": "DONE (\\w+)", "new": "$1!", "regex": true]).object()
        XCTAssertEqual(rep["files"] as? [String], ["/a.txt"])
        XCTAssertEqual(try d.read(vol, "/a.txt", key: key).text, "one!\ntwo!\n")
        XCTAssertEqual(try d.send("POST", base + "/edit", key: key, json: ["path": "/a.txt", "old": "x", "new": "y", "extra": 1]).status, 400)
    }

    func testBadPathsAreA400AndWriteNothing() throws {
        let long = String(repeating: "n", count: 256)
        for (path, code) in [("/a/../b", "invalid_path"), ("/a%00b", "invalid_path"), ("/" + long, "name_too_long"), ("relative/..", "invalid_path")] {
            let put = try d.request("PUT", base + "/content?path=\(path)", key: key, body: Data("x".utf8))
            XCTAssertEqual(put.status, 400, "PUT \(path): \(put.text)")
            XCTAssertEqual(put.errorCode, code, "PUT \(path)")
            XCTAssertEqual(try d.get(base + "/stat?path=\(path)", key: key).status, 400, "stat \(path)")
            XCTAssertEqual(try d.send("POST", base + "/mkdir", key: key, json: ["path": path.removingPercentEncoding ?? path]).status, 400, "mkdir \(path)")
        }
        XCTAssertEqual(try d.get(base + "?path=/", key: key).array().count, 0, "nothing was written")
    }

    func testOverTheCapIs507NamingUsageAndCapAndKeepsWhatWasStored() throws {
        let q = try d.volumectl("quota", "set", vol, "100KiB")
        XCTAssertEqual(q.status, 0, q.stdout + q.stderr)
        let keep = Data(repeating: 1, count: 60_000)
        try d.put(vol, "/keep.bin", keep, key: key)
        let over = try d.request("PUT", base + "/content?path=/more.bin", key: key, body: Data(repeating: 2, count: 60_000))
        XCTAssertEqual(over.status, 507, over.text)
        XCTAssertEqual(over.errorCode, "quota_exceeded")
        XCTAssertTrue(over.errorMessage.contains("58.6 KiB") && over.errorMessage.contains("100.0 KiB"), over.errorMessage)
        // The same through a chunked body (no declared size): the cap is met while streaming.
        let chunkedFile = d.dir.path + "/chunked.bin"
        try Data(repeating: 3, count: 60_000).write(to: URL(fileURLWithPath: chunkedFile))
        let chunked = try d.request("PUT", base + "/content?path=/chunked.bin", key: key,
                                    headers: ["Transfer-Encoding": "chunked"], bodyFile: chunkedFile)
        XCTAssertEqual(chunked.status, 507, chunked.text)
        XCTAssertEqual(try d.get(base + "/exists?path=/more.bin", key: key).object()["exists"] as? Bool, false)
        XCTAssertEqual(try d.get(base + "/exists?path=/chunked.bin", key: key).object()["exists"] as? Bool, false)
        XCTAssertEqual(try d.read(vol, "/keep.bin", key: key).body, keep)
    }

    /// A PUT of `path` that declares `declared` bytes, sends `sent` of them, and closes the connection.
    func cutPut(_ path: String, declared: Int, sent: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let script = """
        import socket, sys, time
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
        s.sendall(("PUT " + sys.argv[4] + " HTTP/1.1\\r\\nHost: x\\r\\nX-API-Key: " + sys.argv[3] +
                   "\\r\\nContent-Length: " + sys.argv[5] + "\\r\\n\\r\\n").encode())
        s.sendall(b"n" * int(sys.argv[6]))
        time.sleep(0.3)
        s.close()
        """
        let r = try d.python(script, [key, base + "/content?path=" + path, String(declared), String(sent)])
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
    }

    func testACutUploadLeavesTheOldContent() throws {
        let old = Data("the old content\n".utf8)
        try d.put(vol, "/doc.txt", old, key: key)
        // Declares 4 MiB, sends 1.5 MiB, and closes the connection.
        try cutPut("/doc.txt", declared: 4 << 20, sent: 1536 << 10)
        // The daemon notices the cut when the stream ends; whatever it is doing then, the old content stays.
        for _ in 0..<20 {
            XCTAssertEqual(try d.read(vol, "/doc.txt", key: key).body, old)
            usleep(50_000)
        }
        // And the daemon still works for the next upload.
        try d.put(vol, "/doc.txt", Data("new".utf8), key: key)
        XCTAssertEqual(try d.read(vol, "/doc.txt", key: key).text, "new")
    }

    func testABodyShorterThanItsContentLengthIs400AndAChunkedCutLeavesTheOldContent() throws {
        let old = Data("the old content\n".utf8)
        try d.put(vol, "/doc.txt", old, key: key)
        // Content-Length 100, 10 bytes, then the client half-closes: the daemon answers 400 and writes nothing.
        let short = """
        import socket, sys
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
        s.sendall(("PUT " + sys.argv[4] + " HTTP/1.1\\r\\nHost: x\\r\\nX-API-Key: " + sys.argv[3] +
                   "\\r\\nContent-Length: 100\\r\\n\\r\\n").encode() + b"n" * 10)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(30)
        data = b""
        while True:
            c = s.recv(65536)
            if not c: break
            data += c
        print(data.decode())
        """
        for path in ["/doc.txt", "/new.txt"] {
            let r = try d.python(short, [key, base + "/content?path=" + path])
            XCTAssertTrue(r.stdout.hasPrefix("HTTP/1.1 400"), r.stdout + r.stderr)
            XCTAssertTrue(r.stdout.contains("length_mismatch"), r.stdout)
        }
        XCTAssertEqual(try d.read(vol, "/doc.txt", key: key).body, old)
        XCTAssertEqual(try d.get(base + "/exists?path=/new.txt", key: key).object()["exists"] as? Bool, false)

        // A chunked body (no declared length) cut mid-stream: the old content stays.
        let chunked = """
        import socket, sys, time
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
        s.sendall(("PUT " + sys.argv[4] + " HTTP/1.1\\r\\nHost: x\\r\\nX-API-Key: " + sys.argv[3] +
                   "\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n").encode())
        for i in range(24):
            s.sendall(b"10000\\r\\n" + b"c" * 65536 + b"\\r\\n")
        time.sleep(0.3)
        s.close()
        """
        XCTAssertEqual(try d.python(chunked, [key, base + "/content?path=/doc.txt"]).status, 0)
        for _ in 0..<20 {
            XCTAssertEqual(try d.read(vol, "/doc.txt", key: key).body, old)
            usleep(50_000)
        }
    }

    func testASlowUploadIntoAnEmptyVolumeDoesNotBlockItsOtherWriters() throws {
        // Upload A sends half its body and waits; meanwhile B writes a file and makes a directory in the
        // same (empty) volume and must be answered; then A finishes. Both land.
        let script = """
        import socket, sys, json, urllib.request
        host, port, key, vol = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
        a = socket.create_connection((host, port))
        a.sendall(("PUT /v1/volumes/%s/files/content?path=/slow.bin HTTP/1.1\\r\\nHost: x\\r\\nX-API-Key: %s\\r\\nContent-Length: 2097152\\r\\n\\r\\n" % (vol, key)).encode())
        a.sendall(b"a" * 1048576)
        base = "http://%s:%d/v1/volumes/%s/files" % (host, port, vol)
        def call(method, url, data, ctype):
            r = urllib.request.Request(url, data=data, method=method, headers={"X-API-Key": key, "Content-Type": ctype})
            try:
                with urllib.request.urlopen(r, timeout=120) as resp: return resp.status
            except urllib.error.HTTPError as e: return e.code
        print("B-put", call("PUT", base + "/content?path=/fast.txt", b"fast", "application/octet-stream"))
        print("B-mkdir", call("POST", base + "/mkdir", json.dumps({"path": "/dir"}).encode(), "application/json"))
        a.sendall(b"b" * 1048576)
        a.settimeout(120)
        print("A", a.recv(4096).split(b"\\r\\n")[0].decode())
        """
        let r = try d.python(script, [key, vol])
        XCTAssertEqual(r.stdout, "B-put 201\nB-mkdir 201\nA HTTP/1.1 201 Created\n", r.stdout + r.stderr)
        XCTAssertEqual(try d.read(vol, "/fast.txt", key: key).text, "fast")
        XCTAssertEqual(try d.get(base + "/stat?path=/slow.bin", key: key).object()["size"] as? Int, 2 << 20)
    }

    /// POSTs a multipart batch with curl -F (each form name is a volume path).
    func batch(_ files: [(String, Data)], query: String = "") throws -> HTTPResult {
        var args = ["-sS", "-o", d.dir.path + "/batch-out", "-w", "%{http_code}", "-H", "X-API-Key: \(key)"]
        for (i, (path, data)) in files.enumerated() {
            let local = d.dir.path + "/part-\(i)"
            try data.write(to: URL(fileURLWithPath: local))
            args += ["-F", "\(path)=@\(local)"]
        }
        args.append(d.url + base + "/batch" + query)
        let r = try Daemon.runTool("/usr/bin/curl", args)
        let body = (try? Data(contentsOf: URL(fileURLWithPath: d.dir.path + "/batch-out"))) ?? Data()
        return HTTPResult(status: Int(r.stdout) ?? 0, headers: [:], body: body)
    }

    func testBatchWriteIsAllOrNone() throws {
        let ok = try batch([("/src/a.py", Data("a".utf8)), ("/src/b.py", Data("bb".utf8)), ("/README", Data("r\r\n--x".utf8))], query: "?parents=true")
        XCTAssertEqual(ok.status, 201, ok.text)
        XCTAssertEqual(try ok.array().compactMap { $0["path"] as? String }, ["/src/a.py", "/src/b.py", "/README"])
        XCTAssertEqual(try d.read(vol, "/src/b.py", key: key).text, "bb")
        XCTAssertEqual(try d.read(vol, "/README", key: key).text, "r\r\n--x", "part bodies are kept byte for byte")

        // One bad path: 400 and nothing written.
        let badPath = try batch([("/new1.txt", Data("1".utf8)), ("/a/../b", Data("2".utf8))])
        XCTAssertEqual(badPath.status, 400, badPath.text)
        XCTAssertEqual(try d.get(base + "/exists?path=/new1.txt", key: key).object()["exists"] as? Bool, false)
        // A missing parent without parents=true: 404 and nothing written.
        let noParent = try batch([("/new2.txt", Data("1".utf8)), ("/no/such/x", Data("2".utf8))])
        XCTAssertEqual(noParent.status, 404, noParent.text)
        XCTAssertEqual(try d.get(base + "/exists?path=/new2.txt", key: key).object()["exists"] as? Bool, false)
        // Over the cap as a batch (each file alone would fit): 507 and nothing written.
        XCTAssertEqual(try d.volumectl("quota", "set", vol, "100KiB").status, 0)
        let over = try batch([("/big1", Data(repeating: 1, count: 40_000)), ("/big2", Data(repeating: 2, count: 40_000)),
                              ("/big3", Data(repeating: 3, count: 40_000))])
        XCTAssertEqual(over.status, 507, over.text)
        XCTAssertEqual(over.errorCode, "quota_exceeded")
        XCTAssertEqual(try d.get(base + "/exists?path=/big1", key: key).object()["exists"] as? Bool, false)

        let notMultipart = try d.request("POST", base + "/batch", key: key, headers: ["Content-Type": "application/json"], body: Data("{}".utf8))
        XCTAssertEqual(notMultipart.status, 415, notMultipart.text)
        let malformed = try d.request("POST", base + "/batch", key: key, headers: ["Content-Type": "multipart/form-data; boundary=XYZ"],
                                      body: Data("--XYZ\r\nContent-Disposition: form-data; name=\"/m\"\r\n\r\nno end".utf8))
        XCTAssertEqual(malformed.status, 400, malformed.text)
        XCTAssertEqual(try d.get(base + "/exists?path=/m", key: key).object()["exists"] as? Bool, false)
    }

    func testDeletingAVolumeWaitsForAnUploadInFlight() throws {
        try d.put(vol, "/old.txt", Data("old".utf8), key: key)
        let script = """
        import socket, sys, threading, time, urllib.request
        host, port, key, vol = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
        a = socket.create_connection((host, port))
        a.sendall(("PUT /v1/volumes/%s/files/content?path=/up.bin HTTP/1.1\\r\\nHost: x\\r\\nX-API-Key: %s\\r\\nContent-Length: 2097152\\r\\n\\r\\n" % (vol, key)).encode())
        a.sendall(b"a" * 1048576)
        time.sleep(0.3)
        out = {}
        def delete():
            r = urllib.request.Request("http://%s:%d/v1/volumes/%s" % (host, port, vol), method="DELETE", headers={"X-API-Key": key})
            try:
                with urllib.request.urlopen(r, timeout=120) as resp: out["delete"] = resp.status
            except urllib.error.HTTPError as e: out["delete"] = e.code
        t = threading.Thread(target=delete); t.start()
        time.sleep(0.5)
        a.sendall(b"b" * 1048576)
        a.settimeout(120)
        print("upload", a.recv(4096).split(b"\\r\\n")[0].decode().split(" ")[1])
        t.join()
        print("delete", out["delete"])
        """
        let r = try d.python(script, [key, vol])
        XCTAssertEqual(r.stdout, "upload 201\ndelete 204\n", r.stdout + r.stderr + d.log())
        XCTAssertEqual(try d.get("/v1/volumes/\(vol)", key: key).status, 404)
        XCTAssertEqual(try d.get("/v1/volumes", key: key).array().count, 0)
    }

    /// An upload in flight holds an import lease in the registry, so another process on the data directory
    /// (volumectl, with its own store: it cannot see the daemon's borrowers) is refused the volume's deletion
    /// with a conflict (exit 4) naming the lease, and the upload lands. The client has sent 32 MiB of a
    /// 64 MiB body when volumectl runs: more than the socket buffers and the body pipe hold, so the daemon's
    /// import is reading it by then.
    func testADeletionFromAnotherProcessIsRefusedWhileAnUploadIsInFlight() throws {
        let ctl = try Daemon.volumectl.get().path
        let script = """
        import socket, subprocess, sys
        host, port, key, vol, ctl, data = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
        half = 32 << 20
        a = socket.create_connection((host, port))
        a.sendall(("PUT /v1/volumes/%s/files/content?path=/up.bin HTTP/1.1\\r\\nHost: x\\r\\nX-API-Key: %s\\r\\nContent-Length: %d\\r\\n\\r\\n" % (vol, key, 2 * half)).encode())
        a.sendall(b"a" * half)
        env = {"PATH": "/usr/bin:/bin", "VOLUMES_API_KEY": "", "VOLUMES_ENDPOINT": "", "VOLUMES_DATA_DIR": "", "VOLUMES_TENANT": ""}
        d = subprocess.run([ctl, "--data-dir", data, "--owner", "acme", "volume", "delete", vol], capture_output=True, text=True, env=env)
        print("delete", d.returncode, "import lease" in d.stderr, d.stderr.strip().replace("\\n", " "))
        a.sendall(b"b" * half)
        a.settimeout(120)
        print("upload", a.recv(4096).split(b"\\r\\n")[0].decode().split(" ")[1])
        """
        let r = try d.python(script, [key, vol, ctl, d.dataDir])
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, r.stdout + r.stderr + d.log())
        XCTAssertTrue(lines.first?.hasPrefix("delete 4 True ") == true, "the deletion was not refused as in use by the import lease: \(r.stdout)")
        XCTAssertEqual(lines.last, "upload 201", r.stdout + r.stderr)
        XCTAssertEqual(try d.get("/v1/volumes/\(vol)", key: key).status, 200, "the volume is still there")
        XCTAssertEqual(try d.get(base + "/stat?path=/up.bin", key: key).object()["size"] as? Int, 64 << 20, "the upload landed")
    }

    /// A PUT small enough to be read whole before it is written (Content-Length up to 1 MiB), cut after half
    /// its body: nothing is written, the old content stays, and the next PUT works.
    func testASmallPutCutMidBodyLeavesTheOldContent() throws {
        let old = Data("the old content\n".utf8)
        try d.put(vol, "/small.txt", old, key: key)
        for path in ["/small.txt", "/fresh.txt"] { try cutPut(path, declared: 200_000, sent: 100_000) }
        for _ in 0..<10 {
            XCTAssertEqual(try d.read(vol, "/small.txt", key: key).body, old)
            XCTAssertEqual(try d.get(base + "/exists?path=/fresh.txt", key: key).object()["exists"] as? Bool, false)
            usleep(50_000)
        }
        try d.put(vol, "/small.txt", Data("new".utf8), key: key)
        XCTAssertEqual(try d.read(vol, "/small.txt", key: key).text, "new")
    }

    /// A small PUT that replaces a file and would pass the cap is 507 and leaves the file as it was; one
    /// that fits once the replaced bytes are counted is written.
    func testASmallPutOverTheCapIs507AndLeavesTheOldContent() throws {
        XCTAssertEqual(try d.volumectl("quota", "set", vol, "100KiB").status, 0)
        let keep = Data(repeating: 1, count: 60_000)
        try d.put(vol, "/keep.bin", keep, key: key)
        let over = try d.request("PUT", base + "/content?path=/keep.bin", key: key, body: Data(repeating: 2, count: 110_000))
        XCTAssertEqual(over.status, 507, over.text)
        XCTAssertEqual(over.errorCode, "quota_exceeded")
        XCTAssertEqual(try d.read(vol, "/keep.bin", key: key).body, keep)
        XCTAssertEqual(try d.get("/v1/volumes/\(vol)", key: key).object()["used_bytes"] as? Int, 60_000)
        // 90,000 bytes replace the 60,000: within the cap.
        let fits = try d.request("PUT", base + "/content?path=/keep.bin", key: key, body: Data(repeating: 3, count: 90_000))
        XCTAssertEqual(fits.status, 200, fits.text)
        XCTAssertEqual(try d.read(vol, "/keep.bin", key: key).body, Data(repeating: 3, count: 90_000))
    }

    /// Overlapping uploads into one volume share one import lease in the registry: it is held from the
    /// first upload's start until the last one ends, so another process's deletion is refused while the
    /// second upload still runs after the first has landed, and allowed once both are done.
    func testOverlappingUploadsHoldTheImportLeaseUntilTheLastOneEnds() throws {
        let ctl = try Daemon.volumectl.get().path
        let script = """
        import socket, subprocess, sys
        host, port, key, vol, ctl, data = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
        half = 24 << 20
        def start(path):
            a = socket.create_connection((host, port))
            a.sendall(("PUT /v1/volumes/%s/files/content?path=%s HTTP/1.1\\r\\nHost: x\\r\\nX-API-Key: %s\\r\\nContent-Length: %d\\r\\n\\r\\n" % (vol, path, key, 2 * half)).encode())
            a.sendall(b"a" * half)
            return a
        def finish(a):
            a.sendall(b"b" * half)
            a.settimeout(120)
            return a.recv(4096).split(b"\\r\\n")[0].decode().split(" ")[1]
        env = {"PATH": "/usr/bin:/bin", "VOLUMES_API_KEY": "", "VOLUMES_ENDPOINT": "", "VOLUMES_DATA_DIR": "", "VOLUMES_TENANT": ""}
        def delete():
            return subprocess.run([ctl, "--data-dir", data, "--owner", "acme", "volume", "delete", vol], capture_output=True, text=True, env=env)
        a = start("/a.bin")
        b = start("/b.bin")
        print("a", finish(a))
        r = delete()
        print("delete-during-b", r.returncode, "import lease" in r.stderr)
        print("b", finish(b))
        r = delete()
        print("delete-after", r.returncode, r.stderr.strip().replace("\\n", " "))
        """
        let r = try d.python(script, [key, vol, ctl, d.dataDir])
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4, r.stdout + r.stderr + d.log())
        guard lines.count == 4 else { return }
        XCTAssertEqual(lines[0], "a 201")
        XCTAssertEqual(lines[1], "delete-during-b 4 True", "the lease went with the first upload while the second still ran: \(r.stdout)")
        XCTAssertEqual(lines[2], "b 201")
        XCTAssertTrue(lines[3].hasPrefix("delete-after 0"), "the lease outlived the last upload: \(lines[3])")
    }
}
