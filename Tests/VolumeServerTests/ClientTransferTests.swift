// The Swift client's batch write, signed URLs, watch stream and resumable (tus) uploads against the real volumed:
// each checked by what the daemon then holds or sends, with the failure cases a user meets.
import Foundation
import VolumeAPI
import VolumeClient
import VolumeTestSupport
import XCTest

final class ClientTransferTests: XCTestCase {
    var d: Daemon!
    var client: VolumeClient!
    var files: Files!

    override func setUp() async throws {
        d = try Daemon()
        client = try VolumeClient(endpoint: d.url, apiKey: d.operatorKey, tenant: "acme")
        let vol = try await client.volumes.create(name: "data")
        files = client.volume(vol.volumeId).files
    }

    override func tearDown() {
        d?.stop()
        d = nil
    }

    func expectError(_ status: Int, _ body: () async throws -> Void, file: StaticString = #filePath, line: UInt = #line) async {
        do {
            try await body()
            XCTFail("expected HTTP \(status), got success", file: file, line: line)
        } catch let e as VolumeClientError {
            XCTAssertEqual(e.status, status, "\(e.code): \(e.message)", file: file, line: line)
        } catch {
            XCTFail("expected a VolumeClientError, got \(error)", file: file, line: line)
        }
    }

    func testWriteFilesIsAllOrNone() async throws {
        let written = try await files.writeFiles([WriteEntry(path: "/a/one.txt", data: Data("one".utf8)),
                                                  WriteEntry(path: "/a/b/two.bin", data: Data(repeating: 2, count: 70_000))], parents: true)
        XCTAssertEqual(written, [WriteResponse(path: "/a/one.txt", size: 3), WriteResponse(path: "/a/b/two.bin", size: 70_000)])
        let one = try await files.read("/a/one.txt")
        XCTAssertEqual(one, Data("one".utf8))
        let two = try await files.read("/a/b/two.bin")
        XCTAssertEqual(two, Data(repeating: 2, count: 70_000))
        // Without parents, a missing directory fails the whole batch: the first file is not written either.
        await expectError(404) {
            _ = try await self.files.writeFiles([WriteEntry(path: "/first.txt", data: Data("1".utf8)),
                                                 WriteEntry(path: "/missing/second.txt", data: Data("2".utf8))])
        }
        let firstExists = try await files.exists("/first.txt")
        XCTAssertFalse(firstExists, "a failed batch wrote nothing")
        await expectError(400) { _ = try await self.files.writeFiles([WriteEntry(path: "/x/../y", data: Data())]) }
        do {
            _ = try await files.writeFiles([WriteEntry(path: "/a\";b", data: Data())])
            XCTFail("a path the form cannot carry was sent")
        } catch let e as VolumeClientError {
            XCTAssertEqual(e.code, "invalid_path")
        }
    }

    func testSignedURLsWorkWithoutAKeyForTheirMethodOnly() async throws {
        try await files.write("/doc.txt", data: Data("signed".utf8))
        let get = try await files.signedURL("/doc.txt", method: .get, expiresIn: 60)
        XCTAssertEqual(get.method, "GET")
        XCTAssertEqual(get.path, "/doc.txt")
        XCTAssertTrue(client.absoluteURL(get).hasPrefix(d.url + "/v1/signed/"), client.absoluteURL(get))
        let keyless = try VolumeClient(endpoint: d.url, apiKey: nil)
        let read = try await keyless.readSigned(get)
        XCTAssertEqual(read, Data("signed".utf8))
        // A GET URL does not PUT; an altered one is refused.
        await expectError(403) { try await keyless.writeSigned(get, data: Data("x".utf8)) }
        var altered = get
        altered.url = get.url.replacingOccurrences(of: "doc.txt", with: "other.txt")
        await expectError(403) { _ = try await keyless.readSigned(altered) }
        let put = try await files.signedURL("/up.txt", method: .put)
        let w = try await keyless.writeSigned(put, data: Data("put through a URL".utf8))
        XCTAssertEqual(w.size, 17)
        let up = try await files.read("/up.txt")
        XCTAssertEqual(up, Data("put through a URL".utf8))
        await expectError(400) { _ = try await self.files.signedURL("/doc.txt", method: .get, expiresIn: 8 * 86_400) }
    }

    func testWatchStreamsEachChangeInOrderAndResumesAfterAnID() async throws {
        let stream = try await files.watch("/", recursive: true)
        var it = stream.makeAsyncIterator()
        try await files.write("/w.txt", data: Data("1".utf8))
        try await files.write("/w.txt", data: Data("2".utf8))
        try await files.move("/w.txt", to: "/v.txt")
        try await files.remove("/v.txt")
        var got: [WatchEvent] = []
        while got.count < 4, let e = try await it.next() { got.append(e) }
        XCTAssertEqual(got.map(\.type), ["create", "modify", "rename", "delete"], "\(got)")
        XCTAssertEqual(got.map(\.path), ["/w.txt", "/w.txt", "/v.txt", "/v.txt"])
        XCTAssertEqual(got[2].fromPath, "/w.txt")
        XCTAssertEqual(got.map(\.id), got.map(\.id).sorted(), "ids grow")
        XCTAssertFalse(got[0].time.isEmpty)
        // A new stream from the second event's id replays the two after it.
        let resumed = try await files.watch("/", recursive: true, lastEventID: got[1].id)
        var again: [WatchEvent] = []
        for try await e in resumed {
            again.append(e)
            if again.count == 2 { break }
        }
        XCTAssertEqual(again, Array(got[2...3]))
    }

    func testResumableUploadContinuesFromTheAcknowledgedOffset() async throws {
        let scratch = try TemporaryDirectory("client-tus")
        defer { scratch.remove() }
        let source = scratch.url.appendingPathComponent("big.bin")
        let bytes = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try bytes.write(to: source)
        let upload = try await files.createUpload("/big.bin", length: Int64(bytes.count))
        XCTAssertTrue(upload.location.contains("/uploads/"), upload.location)
        // A first piece, as a client that was then cut off would have sent.
        let first = try await files.appendUpload(upload, offset: 0, data: bytes[0..<1_000_000])
        XCTAssertEqual(first, 1_000_000)
        let offsetNow = try await files.uploadOffset(upload)
        XCTAssertEqual(offsetNow, 1_000_000)
        let inVolume = try await files.exists("/big.bin")
        XCTAssertFalse(inVolume, "nothing lands before the last byte")
        // A PATCH at a stale offset is 409.
        await expectError(409) { _ = try await self.files.appendUpload(upload, offset: 0, data: Data([1])) }
        // Continuing sends only what is missing, in pieces, and the file lands whole.
        let sent = try await files.continueUpload(upload, fromFile: source, chunkSize: 512 << 10)
        XCTAssertEqual(sent, 2_000_000)
        let landed = try await files.read("/big.bin")
        XCTAssertEqual(landed, bytes)
        // Start to end in one call, and a cancelled upload is gone.
        let whole = try await files.uploadResumably("/again.bin", fromFile: source)
        XCTAssertEqual(whole.length, Int64(bytes.count))
        let again = try await files.read("/again.bin")
        XCTAssertEqual(again, bytes)
        let doomed = try await files.createUpload("/never.bin", length: 10)
        try await files.cancelUpload(doomed)
        await expectError(404) { _ = try await self.files.uploadOffset(doomed) }
    }

    func testArchiveUploadIntoADirectoryAndDownloadOfOne() async throws {
        let scratch = try TemporaryDirectory("client-archive")
        defer { scratch.remove() }
        let tree = scratch.path + "/tree"
        try FileManager.default.createDirectory(atPath: tree + "/sub", withIntermediateDirectories: true)
        try Data("one\n".utf8).write(to: URL(fileURLWithPath: tree + "/sub/one.txt"))
        try Data(repeating: 5, count: 100_000).write(to: URL(fileURLWithPath: tree + "/big.bin"))
        try FileManager.default.createSymbolicLink(atPath: tree + "/link", withDestinationPath: "sub/one.txt")
        XCTAssertEqual(try Daemon.runTool("/usr/bin/tar", ["-czf", scratch.path + "/in.tar.gz", "-C", tree, "."]).status, 0)
        let up = try await files.uploadArchive(into: "/restored", archiveFile: scratch.url.appendingPathComponent("in.tar.gz"))
        XCTAssertEqual(up.path, "/restored")
        XCTAssertEqual(up.import.files, 2)
        XCTAssertEqual(up.import.droppedCount, 1, "the symlink is dropped by the Phase 1 rules")
        let one = try await files.read("/restored/sub/one.txt")
        XCTAssertEqual(one, Data("one\n".utf8))
        // Out again as a tar.gz that GNU tar reads.
        let out = scratch.url.appendingPathComponent("out.tar.gz")
        let n = try await files.downloadArchive("/restored", to: out)
        XCTAssertGreaterThan(n, 0)
        let listed = try Daemon.runTool("/usr/bin/tar", ["-tzf", out.path])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains("sub/one.txt"), listed.stdout)
        XCTAssertTrue(listed.stdout.contains("big.bin"), listed.stdout)
        // A corrupt archive stores nothing.
        try Data("not gzip at all".utf8).write(to: scratch.url.appendingPathComponent("bad.tar.gz"))
        await expectError(400) { _ = try await self.files.uploadArchive(into: "/bad", archiveFile: scratch.url.appendingPathComponent("bad.tar.gz")) }
        let badExists = try await files.exists("/bad")
        XCTAssertFalse(badExists)
    }
}
