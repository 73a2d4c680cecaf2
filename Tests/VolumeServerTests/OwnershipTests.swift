// Owners through the real daemon: API writes name the user they write as (400 for an unknown one), and `volumectl mount --map-root` makes an API-filled volume the sandbox user's.
import Foundation
import XCTest
import VolumeClient
import VolumeTestSupport

#if canImport(Glibc)
import Glibc
#endif

final class OwnershipTests: XCTestCase {
    var d: Daemon!
    var key = ""
    var vol = ""

    override func tearDown() {
        d?.stop()
        d = nil
    }

    func start() throws {
        d = try Daemon()
        key = try d.tenantKey("acme")
        vol = try d.createVolume("owned", key: key)
    }

    var files: String { "/v1/volumes/\(vol)/files" }

    /// The stored owner of `path`, as `stat` reports it.
    func owner(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> [Int] {
        let r = try d.get(files + "/stat?path=\(Daemon.escape(path))", key: key)
        XCTAssertEqual(r.status, 200, r.text, file: file, line: line)
        let o = try r.object()
        return [try XCTUnwrap(o["uid"] as? Int, "stat has no uid: \(r.text)", file: file, line: line),
                try XCTUnwrap(o["gid"] as? Int, "stat has no gid: \(r.text)", file: file, line: line)]
    }

    func batch(_ parts: [String: String], query: String) throws -> HTTPResult {
        var body = ""
        for (name, content) in parts.sorted(by: { $0.key < $1.key }) {
            body += "--BOUNDARY\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(content)\r\n"
        }
        body += "--BOUNDARY--\r\n"
        return try d.request("POST", files + "/batch\(query)", key: key,
                             headers: ["Content-Type": "multipart/form-data; boundary=BOUNDARY"], body: Data(body.utf8))
    }

    /// A tar.gz of one directory with one file, both owned by 123:456 in the archive.
    func archive() throws -> Data {
        let tmp = try TemporaryDirectory("tar")
        defer { tmp.remove() }
        try FileManager.default.createDirectory(atPath: tmp.path + "/in/set", withIntermediateDirectories: true)
        try Data("rows\n".utf8).write(to: URL(fileURLWithPath: tmp.path + "/in/set/rows.csv"))
        let r = try Daemon.runTool("/usr/bin/env", ["tar", "-C", tmp.path + "/in", "--owner=123", "--group=456", "-czf", tmp.path + "/a.tgz", "set"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try Data(contentsOf: URL(fileURLWithPath: tmp.path + "/a.tgz"))
    }

    func uploadArchive(into path: String, query: String) throws -> HTTPResult {
        try d.request("PUT", files + "/archive?path=\(Daemon.escape(path))\(query)", key: key,
                      headers: ["Content-Type": "application/gzip"], body: try archive())
    }

    func tusUpload(_ path: String, user: String?, data: Data) throws -> HTTPResult {
        var meta = "path \(TusTests.b64(path))"
        if let user { meta += ",user \(TusTests.b64(user))" }
        let tus = ["Tus-Resumable": "1.0.0"]
        let c = try d.raw("POST", "/v1/volumes/\(vol)/uploads", key: key,
                          headers: tus.merging(["Upload-Length": "\(data.count)", "Upload-Metadata": meta]) { $1 })
        guard c.status == 201, let url = c.headers["location"] else { return c }
        return try d.raw("PATCH", url, key: key, headers: tus.merging(["Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"]) { $1 }, body: data)
    }

    /// Every write route creates entries owned by the `user` it names (root without one), and
    /// `stat` and `list` report the owner.
    func testWritesCreateEntriesOwnedByTheUserTheyName() throws {
        try start()
        try d.put(vol, "/plain.txt", Data("a".utf8), key: key)
        XCTAssertEqual(try owner("/plain.txt"), [0, 0], "root by default, as before")
        try d.put(vol, "/mine.txt", Data("b".utf8), key: key, query: "&user=1000")
        XCTAssertEqual(try owner("/mine.txt"), [1000, 1000], "a bare uid: the gid is the same")
        try d.put(vol, "/deep/er/f.txt", Data("c".utf8), key: key, query: "&user=1000:50&parents=true")
        XCTAssertEqual(try owner("/deep/er/f.txt"), [1000, 50])
        XCTAssertEqual(try owner("/deep"), [1000, 50], "the parents made for it too")
        try d.put(vol, "/rooted.txt", Data("d".utf8), key: key, query: "&user=root")
        XCTAssertEqual(try owner("/rooted.txt"), [0, 0])

        let mk = try d.send("POST", files + "/mkdir", key: key, json: ["path": "/home/app", "parents": true, "user": "1001:1002"])
        XCTAssertEqual(mk.status, 201, mk.text)
        XCTAssertEqual(try owner("/home"), [1001, 1002])
        XCTAssertEqual(try owner("/home/app"), [1001, 1002])

        let b = try batch(["/batch/a.txt": "1", "/batch/b.txt": "2"], query: "?parents=true&user=1003")
        XCTAssertEqual(b.status, 201, b.text)
        XCTAssertEqual(try owner("/batch"), [1003, 1003])
        XCTAssertEqual(try owner("/batch/b.txt"), [1003, 1003])

        let kept = try uploadArchive(into: "/kept", query: "")
        XCTAssertEqual(kept.status, 201, kept.text)
        XCTAssertEqual(try owner("/kept/set/rows.csv"), [123, 456], "without user an archive keeps its owners")
        let given = try uploadArchive(into: "/given", query: "&user=1000")
        XCTAssertEqual(given.status, 201, given.text)
        XCTAssertEqual(try owner("/given"), [1000, 1000])
        XCTAssertEqual(try owner("/given/set"), [1000, 1000])
        XCTAssertEqual(try owner("/given/set/rows.csv"), [1000, 1000])

        let t = try tusUpload("/tus.bin", user: "1004:1005", data: Data("tus".utf8))
        XCTAssertEqual(t.status, 204, t.text)
        XCTAssertEqual(try owner("/tus.bin"), [1004, 1005])

        let list = try d.get(files + "?path=/", key: key)
        let rows = try list.array()
        XCTAssertEqual(rows.first { $0["name"] as? String == "mine.txt" }?["uid"] as? Int, 1000, list.text)
    }

    /// A name that is not root nor numeric is 400 with a message saying what to give, on every
    /// route, and nothing is written.
    func testAnUnknownUserIs400AndWritesNothing() throws {
        try start()
        let put = try d.request("PUT", files + "/content?path=/x.txt&user=nobody", key: key,
                                headers: ["Content-Type": "application/octet-stream"], body: Data("x".utf8))
        XCTAssertEqual(put.status, 400, put.text)
        XCTAssertEqual(put.errorCode, "invalid_argument", put.text)
        XCTAssertTrue(put.errorMessage.contains("unknown user 'nobody'") && put.errorMessage.contains("numeric uid[:gid]"), put.text)
        let mk = try d.send("POST", files + "/mkdir", key: key, json: ["path": "/d", "user": "alice"])
        XCTAssertEqual(mk.status, 400, mk.text)
        XCTAssertEqual(try batch(["/b.txt": "1"], query: "?user=-1").status, 400)
        XCTAssertEqual(try uploadArchive(into: "/t", query: "&user=1000:x").status, 400)
        XCTAssertEqual(try tusUpload("/u.bin", user: "bob", data: Data("u".utf8)).status, 400)
        let ls = try d.get(files + "?path=/", key: key)
        XCTAssertEqual(try ls.array().count, 0, ls.text)
    }

    /// The Swift client passes `user` on its writes, and reads the owner back.
    func testTheClientWritesAsAUser() async throws {
        try start()
        let files = try VolumeClient(endpoint: d.url, apiKey: key).volume(vol).files
        try await files.write("/c.txt", data: Data("c".utf8), user: "1000")
        try await files.makeDir("/cd", user: "1001:1002")
        try await files.writeFiles([WriteEntry(path: "/cb.txt", data: Data("b".utf8))], user: "1003")
        let c = try await files.stat("/c.txt"), cd = try await files.stat("/cd"), cb = try await files.stat("/cb.txt")
        XCTAssertEqual([c.uid, c.gid, cd.uid, cd.gid, cb.uid, cb.gid], [1000, 1000, 1001, 1002, 1003, 1003])
        do {
            try await files.write("/x.txt", data: Data(), user: "alice")
            XCTFail("an unknown user was accepted")
        } catch let e as VolumeClientError {
            XCTAssertEqual(e.status, 400)
            XCTAssertTrue(e.message.contains("unknown user 'alice'"), e.message)
        }
    }

    // MARK: Mounting for a sandbox's user

    /// Mounts the volume with `volumectl mount` (detached) and returns the mountpoint; unmounted at teardown.
    func mount(_ extra: [String]) throws -> String {
        let dir = try TemporaryDirectory("owner-mnt")
        chmod(dir.path, 0o755)
        let point = dir.path + "/m"
        try FileManager.default.createDirectory(atPath: point, withIntermediateDirectories: true)
        let args = ["mount", vol, point, "--json", "--data-dir", d.dataDir] + extra
        let r = try Daemon.runTool(try Daemon.volumectl.get().path, args)
        addTeardownBlock {
            if (try? Daemon.runTool(try Daemon.volumectl.get().path, ["unmount", point]))?.status != 0 {
                _ = try? Daemon.runTool("/usr/bin/env", ["fusermount3", "-uz", point])
            }
            dir.remove()
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        return point
    }

    /// Runs `command` with /bin/sh as uid/gid 1000 (no supplementary groups), as a sandbox's user.
    func asSandboxUser(_ command: String, in dir: String) throws -> Daemon.ToolRun {
        try Daemon.runTool("/usr/bin/setpriv", ["--reuid=1000", "--regid=1000", "--clear-groups", "--", "/bin/sh", "-c", "cd \(dir) && " + command])
    }

    /// A sandbox created with uid/gid 1000 gets its attachment mounted for that user: the API-filled
    /// volume's root is 1000:1000 at the host path, uid 1000 writes there, and what it made is stored
    /// as root. A sandbox without a uid sees the owners as stored.
    func testASandboxsUidGidMapsItsAttachments() throws {
        try XCTSkipUnless(getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/fuse"), "needs root and /dev/fuse")
        try start()
        addTeardownBlock { [d] in
            d?.stop()
            SandboxRouteTests.unmountAll(under: d!.dataDir + "/mounts")
        }
        try d.put(vol, "/rows.csv", Data("a\n".utf8), key: key)
        func hostPath(_ body: [String: Any]) throws -> String {
            let r = try d.send("POST", "/v1/sandboxes", key: key, json: body)
            XCTAssertEqual(r.status, 201, r.text)
            let att = try XCTUnwrap(SandboxRouteTests.attachments(try r.object()).first, r.text)
            XCTAssertEqual(att["state"] as? String, "mounted", "\(att)")
            return try XCTUnwrap(att["host_path"] as? String)
        }
        let mapped = try hostPath(["attachments": [["volume_id": vol, "mount_path": "/data"]], "uid": 1000, "gid": 1000])
        let plain = try hostPath(["attachments": [["volume_id": vol, "mount_path": "/data"]]])
        // Let uid 1000 reach the host paths (the test's data directory is private to root).
        for p in [d.dir.path, d.dataDir, d.dataDir + "/mounts"] { chmod(p, 0o755) }
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: mapped)[.ownerAccountID] as? Int, 1000)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: mapped + "/rows.csv")[.groupOwnerAccountID] as? Int, 1000)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: plain)[.ownerAccountID] as? Int, 0)
        let refused = try asSandboxUser("touch nope.txt", in: plain)
        XCTAssertNotEqual(refused.status, 0, "the unmapped attachment stays root's")
        let r = try asSandboxUser("echo out > result.txt && echo b >> rows.csv", in: mapped)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(eventually { (try? d.get(files + "/exists?path=/result.txt", key: key).object()["exists"] as? Bool) == true })
        XCTAssertEqual(try owner("/result.txt"), [0, 0], "stored as root")
        XCTAssertEqual(try d.read(vol, "/rows.csv", key: key).text, "a\nb\n")
    }

    /// E2B's problem and its fix, end to end: a volume the API filled as root is unwritable for
    /// uid 1000 in a plain mount (EACCES), and its own in a `--map-root 1000:1000` mount, where what
    /// it creates is stored as root and what the API wrote as 1000 shows as root.
    func testMapRootMakesTheAPIFilledVolumeTheSandboxUsers() throws {
        try XCTSkipUnless(getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/fuse"), "needs root and /dev/fuse")
        try start()
        try d.put(vol, "/rows.csv", Data("a\n".utf8), key: key)
        try d.put(vol, "/by-1000.txt", Data("b".utf8), key: key, query: "&user=1000")

        let plain = try mount([])
        let refused = try asSandboxUser("touch new.txt", in: plain)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("Permission denied"), refused.stderr)

        let mapped = try mount(["--map-root", "1000:1000"])
        let st = try FileManager.default.attributesOfItem(atPath: mapped)
        XCTAssertEqual(st[.ownerAccountID] as? Int, 1000, "the volume root, stored as root")
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: mapped + "/rows.csv")[.ownerAccountID] as? Int, 1000)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: mapped + "/by-1000.txt")[.ownerAccountID] as? Int, 0)
        let r = try asSandboxUser("echo hi > new.txt && chmod 640 new.txt && echo b >> rows.csv && mkdir out && rm by-1000.txt && stat -c '%u:%g' new.txt",
                                  in: mapped)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "1000:1000")
        // The mount's server commits metadata in groups (a few milliseconds): wait for the last change.
        XCTAssertTrue(eventually { (try? d.get(files + "/exists?path=/by-1000.txt", key: key).object()["exists"] as? Bool) == false })
        XCTAssertEqual(try owner("/new.txt"), [0, 0], "stored as root")
        XCTAssertEqual(try owner("/out"), [0, 0])
        let e = try d.get(files + "/stat?path=/new.txt", key: key).object()
        XCTAssertEqual(e["mode"] as? String, "0640")
        XCTAssertEqual(try d.read(vol, "/rows.csv", key: key).text, "a\nb\n")
    }
}
