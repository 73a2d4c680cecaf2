// Resumable uploads (tus 1.0.0) over real HTTP: discovery, create, HEAD, PATCH and its errors, a cut PATCH, a restart, expiry, tenants, the cap.
import Foundation
import XCTest

final class TusTests: DaemonTestCase {
    func start(_ args: [String] = []) throws { try startDaemon(args, volume: "up") }

    var uploads: String { "/v1/volumes/\(vol)/uploads" }
    let tus = ["Tus-Resumable": "1.0.0"]

    static func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

    /// Creates an upload of `length` bytes for `path`; returns its URL path.
    func create(_ path: String, length: Int, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try d.raw("POST", uploads, key: key, headers: tus.merging(["Upload-Length": "\(length)", "Upload-Metadata": "path \(Self.b64(path)),filename \(Self.b64("x"))"]) { $1 })
        XCTAssertEqual(r.status, 201, r.text, file: file, line: line)
        XCTAssertNotNil(r.headers["upload-expires"], file: file, line: line)
        return try XCTUnwrap(r.headers["location"], file: file, line: line)
    }

    func patch(_ url: String, offset: Int, _ data: Data, type: String = "application/offset+octet-stream", cutAfter: Int? = nil) throws -> HTTPResult {
        try d.raw("PATCH", url, key: key, headers: tus.merging(["Upload-Offset": "\(offset)", "Content-Type": type]) { $1 }, body: data, cutAfter: cutAfter)
    }

    func head(_ url: String, key k: String? = nil) throws -> HTTPResult { try d.raw("HEAD", url, key: k ?? key, headers: tus) }

    static func bytes(_ n: Int, seed: Int) -> Data { Data((0..<n).map { UInt8(truncatingIfNeeded: ($0 &* 131) ^ seed) }) }

    func testProtocolAndErrors() throws {
        try start()
        let o = try d.raw("OPTIONS", uploads, key: key)
        XCTAssertEqual(o.status, 204)
        XCTAssertEqual(o.headers["tus-version"], "1.0.0")
        XCTAssertEqual(o.headers["tus-extension"], "creation,termination,expiration")
        XCTAssertNotNil(o.headers["tus-max-size"].flatMap(Int.init))

        // Creation errors: no Tus-Resumable 412, no length, no path, a bad path, another tenant's volume.
        XCTAssertEqual(try d.raw("POST", uploads, key: key, headers: ["Upload-Length": "3", "Upload-Metadata": "path \(Self.b64("/a"))"]).status, 412)
        XCTAssertEqual(try d.raw("POST", uploads, key: key, headers: tus.merging(["Upload-Metadata": "path \(Self.b64("/a"))"]) { $1 }).status, 400)
        XCTAssertEqual(try d.raw("POST", uploads, key: key, headers: tus.merging(["Upload-Length": "3"]) { $1 }).status, 400)
        XCTAssertEqual(try d.raw("POST", uploads, key: key, headers: tus.merging(["Upload-Length": "3", "Upload-Metadata": "path \(Self.b64("/../x"))"]) { $1 }).status, 400)

        let data = Self.bytes(100_000, seed: 1)
        let url = try create("/dir/file.bin", length: data.count)
        var h = try head(url)
        XCTAssertEqual(h.status, 200)
        XCTAssertEqual(h.headers["upload-offset"], "0")
        XCTAssertEqual(h.headers["upload-length"], "100000")
        XCTAssertEqual(h.headers["tus-resumable"], "1.0.0")
        XCTAssertEqual(h.headers["cache-control"], "no-store")

        XCTAssertEqual(try patch(url, offset: 0, data.prefix(10), type: "application/octet-stream").status, 415)
        let wrong = try patch(url, offset: 5, data.prefix(10))
        XCTAssertEqual(wrong.status, 409)
        XCTAssertEqual(wrong.headers["upload-offset"], "0")
        XCTAssertEqual(try patch(url, offset: 0, data + Data([1])).status, 400, "past Upload-Length")

        let p1 = try patch(url, offset: 0, data.prefix(40_000))
        XCTAssertEqual(p1.status, 204, p1.text)
        XCTAssertEqual(p1.headers["upload-offset"], "40000")
        XCTAssertNotNil(p1.headers["upload-expires"])
        XCTAssertEqual(try d.read(vol, "/dir/file.bin", key: key).status, 404, "nothing visible before the end")

        // Another tenant: its own volume with this upload's id, or this volume: 404 either way.
        let otherKey = try d.tenantKey("other")
        let otherVol = try d.createVolume("theirs", key: otherKey)
        let id = String(url.split(separator: "/").last!)
        XCTAssertEqual(try head("/v1/volumes/\(otherVol)/uploads/\(id)", key: otherKey).status, 404)
        XCTAssertEqual(try head(url, key: otherKey).status, 404)
        XCTAssertEqual(try d.raw("PATCH", "/v1/volumes/\(otherVol)/uploads/\(id)", key: otherKey,
                                 headers: tus.merging(["Upload-Offset": "40000", "Content-Type": "application/offset+octet-stream"]) { $1 }, body: Data([1])).status, 404)

        let p2 = try patch(url, offset: 40_000, data.suffix(from: 40_000))
        XCTAssertEqual(p2.status, 204, p2.text)
        XCTAssertEqual(p2.headers["upload-offset"], "100000")
        XCTAssertEqual(try d.read(vol, "/dir/file.bin", key: key).body, data, "the file landed whole")
        XCTAssertEqual(try head(url).status, 404, "a finished upload is gone")

        // Termination.
        let t = try create("/t.bin", length: 10)
        XCTAssertEqual(try patch(t, offset: 0, Data("12345".utf8)).status, 204)
        XCTAssertEqual(try d.raw("DELETE", t, key: key, headers: tus).status, 204)
        XCTAssertEqual(try head(t).status, 404)
        XCTAssertEqual(try patch(t, offset: 5, Data("67890".utf8)).status, 404)
        // An empty file lands at creation.
        _ = try create("/empty.txt", length: 0)
        XCTAssertEqual(try d.read(vol, "/empty.txt", key: key).status, 200)
        // Nothing left in DATA_DIR/uploads.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: d.dataDir + "/uploads"), [])
    }

    func testCutPatchKeepsOffsetAndRestartResumes() throws {
        try start()
        let data = Self.bytes(3 << 20, seed: 2)
        let url = try create("/big.bin", length: data.count)
        XCTAssertEqual(try patch(url, offset: 0, data.prefix(1 << 20)).headers["upload-offset"], "\(1 << 20)")
        // A PATCH whose connection is cut after 700 KiB of its 1 MiB: the acknowledged offset stays.
        _ = try patch(url, offset: 1 << 20, data[(1 << 20)..<(2 << 20)], cutAfter: 700 << 10)
        var offset = -1
        for _ in 0..<100 {  // the server notices the cut asynchronously
            let h = try head(url)
            if h.status == 200, let o = h.headers["upload-offset"].flatMap(Int.init) { offset = o }
            if offset == 1 << 20, try patch(url, offset: offset, Data()).status == 204 { break }
            usleep(50_000)
        }
        XCTAssertEqual(offset, 1 << 20, "a cut PATCH leaves the last acknowledged offset")

        // A restart between PATCHes: the upload and its offset survive.
        XCTAssertEqual(d.stop(), 0)
        try d.start()
        let h = try head(url)
        XCTAssertEqual(h.status, 200, h.text)
        XCTAssertEqual(h.headers["upload-offset"], "\(1 << 20)")
        let rest = try patch(url, offset: 1 << 20, data.suffix(from: 1 << 20))
        XCTAssertEqual(rest.status, 204, rest.text)
        XCTAssertEqual(try d.read(vol, "/big.bin", key: key).body, data)
        let fsck = try Daemon.runTool(try Daemon.volumectl.get().path, ["fsck", "--data-dir", d.dataDir])
        XCTAssertEqual(fsck.status, 0, fsck.stdout + fsck.stderr)
    }

    func testExpiredUploadsAreSweptWithTheirBytes() throws {
        try start(["--upload-expiry", "2"])
        let url = try create("/late.bin", length: 1000)
        XCTAssertEqual(try patch(url, offset: 0, Self.bytes(500, seed: 3)).status, 204)
        let id = String(url.split(separator: "/").last!)
        XCTAssertTrue(FileManager.default.fileExists(atPath: d.dataDir + "/uploads/\(id).bin"))
        var gone = false
        for _ in 0..<200 {  // expiry 2 s, sweep every 0.5 s; a generous bound for a loaded machine
            let left = (try? FileManager.default.contentsOfDirectory(atPath: d.dataDir + "/uploads")) ?? []
            if left.isEmpty { gone = true; break }
            usleep(100_000)
        }
        XCTAssertTrue(gone, "the sweep removed the record and the bytes")
        XCTAssertEqual(try head(url).status, 404)
        XCTAssertTrue(d.log().contains("swept 1 expired upload"), d.log())
    }

    func testOverTheCapIs507AndTheUploadIsKept() throws {
        try start()
        XCTAssertEqual(d.stop(), 0)
        let q = try d.volumectl("quota", "set", vol, "64KiB", "--data-dir", d.dataDir)
        XCTAssertEqual(q.status, 0, q.stdout + q.stderr)
        try d.start()
        let data = Self.bytes(100_000, seed: 4)
        let url = try create("/huge.bin", length: data.count)
        let r = try patch(url, offset: 0, data)
        XCTAssertEqual(r.status, 507, r.text)
        XCTAssertEqual(r.errorCode, "quota_exceeded")
        XCTAssertEqual(try d.read(vol, "/huge.bin", key: key).status, 404)
        let h = try head(url)
        XCTAssertEqual(h.headers["upload-offset"], "100000", "the bytes are kept: land again after freeing space, or DELETE")
        XCTAssertEqual(try patch(url, offset: 100_000, Data()).status, 507)
        XCTAssertEqual(try d.raw("DELETE", url, key: key, headers: tus).status, 204)
    }
}
