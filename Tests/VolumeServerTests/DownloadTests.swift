// Downloads over real HTTP: ETag and Last-Modified, conditional GET (304, 412, If-Range), and tar.gz in and out of a path.
import Foundation
import XCTest
import VolumeTestSupport

final class DownloadTests: DaemonTestCase {
    override func setUpWithError() throws {
        try startDaemon(volume: "dl")
    }

    var content: String { "/v1/volumes/\(vol)/files/content?path=/f.txt" }

    func testETagAndConditionalGet() throws {
        try d.put(vol, "/f.txt", Data("0123456789".utf8), key: key)
        let first = try d.get(content, key: key)
        let etag = try XCTUnwrap(first.headers["etag"], "a file read carries an ETag")
        let lastModified = try XCTUnwrap(first.headers["last-modified"])
        XCTAssertTrue(etag.hasPrefix("\"") && etag.hasSuffix("\""), etag)

        let same = try d.get(content, key: key, headers: ["If-None-Match": etag])
        XCTAssertEqual(same.status, 304)
        XCTAssertEqual(same.body.count, 0)
        XCTAssertEqual(same.headers["etag"], etag)
        XCTAssertEqual(try d.get(content, key: key, headers: ["If-None-Match": "\"other\", W/\(etag)"]).status, 304, "weak comparison, lists")
        XCTAssertEqual(try d.get(content, key: key, headers: ["If-None-Match": "\"other\""]).status, 200)
        XCTAssertEqual(try d.get(content, key: key, headers: ["If-Modified-Since": lastModified]).status, 304)
        XCTAssertEqual(try d.get(content, key: key, headers: ["If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"]).status, 200)
        XCTAssertEqual(try d.get(content, key: key, headers: ["If-Match": "\"stale\""]).errorCode, "precondition_failed")
        XCTAssertEqual(try d.get(content, key: key, headers: ["If-Match": etag]).status, 200)

        // If-Range: the range only when the validator names this version.
        let ranged = try d.get(content, key: key, headers: ["Range": "bytes=2-4", "If-Range": etag])
        XCTAssertEqual(ranged.status, 206)
        XCTAssertEqual(ranged.text, "234")
        let stale = try d.get(content, key: key, headers: ["Range": "bytes=2-4", "If-Range": "\"stale\""])
        XCTAssertEqual(stale.status, 200)
        XCTAssertEqual(stale.text, "0123456789")
        XCTAssertEqual(try d.get(content, key: key, headers: ["Range": "bytes=2-4", "If-Range": lastModified]).status, 206)

        // A new version: a new ETag, and the old one no longer gives 304.
        try d.put(vol, "/f.txt", Data("9876543210".utf8), key: key)
        let second = try d.get(content, key: key, headers: ["If-None-Match": etag])
        XCTAssertEqual(second.status, 200)
        XCTAssertEqual(second.text, "9876543210")
        XCTAssertNotEqual(second.headers["etag"], etag)
    }

    /// A download is of the version its ETag names: when the file is replaced while the body streams,
    /// the rest of the body never comes from the new file (the transfer is cut instead). The reader
    /// takes 1 MiB, stops reading (so the server can run at most the socket buffers ahead), the file is
    /// replaced, then the reader takes the rest.
    func testAFileReplacedDuringADownloadIsNeverMixedIntoIt() throws {
        let size = 48 << 20
        try d.put(vol, "/big.bin", Data(repeating: 0x11, count: size), key: key)
        let script = #"""
            import http.client, sys
            host, port, key, vol, size = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
            path = "/v1/volumes/%s/files/content?path=/big.bin" % vol
            g = http.client.HTTPConnection(host, port, timeout=120)
            g.request("GET", path, headers={"X-API-Key": key})
            r = g.getresponse()
            assert r.status == 200, r.status
            got = r.read(1 << 20)
            p = http.client.HTTPConnection(host, port, timeout=120)
            p.request("PUT", path, body=b"\xee" * size, headers={"X-API-Key": key, "Content-Type": "application/octet-stream"})
            pr = p.getresponse()
            pr.read()
            assert pr.status == 200, pr.status
            try:
                while True:
                    b = r.read(1 << 20)
                    if not b:
                        break
                    got += b
            except http.client.IncompleteRead as e:
                got += e.partial
            except (ConnectionError, OSError):
                pass
            print(len(got), got.count(b"\x11"), got.count(b"\xee"))
            """#
        let r = try d.python(script, [key, vol, String(size)])
        XCTAssertEqual(r.status, 0, r.stderr)
        let n = r.stdout.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        XCTAssertEqual(n.count, 3, r.stdout)
        guard n.count == 3 else { return }
        XCTAssertGreaterThanOrEqual(n[0], 1 << 20, r.stdout)
        XCTAssertEqual(n[2], 0, "bytes of the new version were served under the old one's ETag: \(r.stdout)")
        XCTAssertEqual(n[1], n[0], r.stdout)
        XCTAssertEqual(try d.read(vol, "/big.bin", key: key).body, Data(repeating: 0xEE, count: size))
    }

    /// A file of several 4 MiB blocks comes back byte for byte, whole and in ranges that start and end
    /// inside blocks and pieces: the download reads a piece ahead and asks for the next block early.
    func testADownloadOfSeveralBlocksComesBackWholeAndInRanges() throws {
        let size = (9 << 20) + 4321
        var data = Data(count: size)
        data.withUnsafeMutableBytes { raw in
            for i in stride(from: 0, to: size - 7, by: 8) { raw.storeBytes(of: UInt64(i).littleEndian, toByteOffset: i, as: UInt64.self) }
            for i in (size - size % 8)..<size { raw[i] = UInt8(truncatingIfNeeded: i) }
        }
        try d.put(vol, "/blocks.bin", data, key: key)
        let whole = try d.read(vol, "/blocks.bin", key: key)
        XCTAssertEqual(whole.status, 200)
        XCTAssertEqual(whole.body.count, size)
        XCTAssertTrue(whole.body == data, "the whole file came back different")
        let path = "/v1/volumes/\(vol)/files/content?path=/blocks.bin"
        for (a, b) in [(3 << 20, (5 << 20) + 17), ((4 << 20) - 1, (8 << 20) + 1), (123, size - 1), ((8 << 20) + 5, size - 1)] {
            let r = try d.get(path, key: key, headers: ["Range": "bytes=\(a)-\(b)"])
            XCTAssertEqual(r.status, 206)
            XCTAssertTrue(r.body == data[a...b], "bytes \(a)-\(b) came back different")
        }
    }

    func testDirectoryAndVolumeAsTarGz() throws {
        try d.put(vol, "/proj/a.txt", Data("alpha".utf8), key: key, query: "&parents=true")
        try d.put(vol, "/proj/sub/b.bin", Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }), key: key, query: "&parents=true")
        try d.put(vol, "/top.txt", Data("top".utf8), key: key)
        let out = try TemporaryDirectory("tgz")
        defer { out.remove() }
        for (path, expect) in [("/proj", ["a.txt", "sub/b.bin"]), ("/", ["proj/a.txt", "proj/sub/b.bin", "top.txt"])] {
            let r = try d.get("/v1/volumes/\(vol)/files/archive?path=\(path)", key: key)
            XCTAssertEqual(r.status, 200, r.text)
            XCTAssertEqual(r.headers["content-type"], "application/gzip")
            let file = out.path + "/x.tar.gz", dest = out.path + "/x" + String(path.count)
            try r.body.write(to: URL(fileURLWithPath: file))
            try FileManager.default.createDirectory(atPath: dest, withIntermediateDirectories: true)
            let t = try Daemon.runTool("/usr/bin/tar", ["-xzf", file, "-C", dest])
            XCTAssertEqual(t.status, 0, t.stderr)
            for e in expect { XCTAssertTrue(FileManager.default.fileExists(atPath: dest + "/" + e), "\(path): \(e)") }
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dest + "/" + expect[0])),
                           try d.read(vol, (path == "/" ? "" : path) + "/" + expect[0], key: key).body)
        }
        XCTAssertEqual(try d.get("/v1/volumes/\(vol)/files/archive?path=/nope", key: key).status, 404)
        let other = try d.tenantKey("other")
        XCTAssertEqual(try d.get("/v1/volumes/\(vol)/files/archive", key: other).status, 404)
    }

    func testTarGzUploadIntoPath() throws {
        // A real tar.gz with an entry escaping upward (dropped and reported) and two good ones.
        let made = try d.python(#"""
import tarfile, io, sys
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz") as t:
    for name, data in [("good/one.txt", b"one"), ("two.txt", b"two" * 1000), ("../evil.txt", b"evil")]:
        i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
open(sys.argv[3], "wb").write(buf.getvalue())
"""#, [d.dir.path + "/in.tar.gz"])
        XCTAssertEqual(made.status, 0, made.stderr)
        let archive = try Data(contentsOf: URL(fileURLWithPath: d.dir.path + "/in.tar.gz"))
        let url = "/v1/volumes/\(vol)/files/archive?path=/imported"
        let r = try d.request("PUT", url, key: key, headers: ["Content-Type": "application/gzip"], body: archive)
        XCTAssertEqual(r.status, 201, r.text)
        let summary = try XCTUnwrap(try r.object()["import"] as? [String: Any])
        XCTAssertEqual(summary["files"] as? Int, 2)
        XCTAssertEqual(summary["dropped_count"] as? Int, 1, r.text)
        XCTAssertEqual(try d.read(vol, "/imported/good/one.txt", key: key).text, "one")
        XCTAssertEqual(try d.read(vol, "/imported/two.txt", key: key).body.count, 3000)
        XCTAssertEqual(try d.read(vol, "/evil.txt", key: key).status, 404)

        // All or nothing: a cut archive writes nothing.
        let cut = try d.request("PUT", "/v1/volumes/\(vol)/files/archive?path=/cut", key: key, headers: ["Content-Type": "application/gzip"],
                                body: archive.prefix(archive.count - 20))
        XCTAssertTrue((400..<500).contains(cut.status), "\(cut.status) \(cut.text)")
        XCTAssertEqual(try d.get("/v1/volumes/\(vol)/files/exists?path=/cut", key: key).text, #"{"exists":false}"#)
        // Not a gzip type: 415.
        XCTAssertEqual(try d.request("PUT", url, key: key, headers: ["Content-Type": "text/plain"], body: archive).status, 415)
    }
}
