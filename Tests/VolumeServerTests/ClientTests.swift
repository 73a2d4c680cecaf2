// The Swift client (VolumeClient) against the real volumed on loopback: every call, its typed errors, the Phase 1
// create, the Unix socket, and 64 MiB streamed both ways without holding it in memory.
import Crypto
import Foundation
import NIOCore
import VolumeAPI
import VolumeClient
import VolumeTestSupport
import XCTest

final class ClientTests: DaemonTestCase {
    var client: VolumeClient!

    override func setUpWithError() throws {
        d = try Daemon()
        client = try VolumeClient(endpoint: d.url, apiKey: d.operatorKey, tenant: "acme")
    }

    /// The typed error a call threw, or a failure when it threw something else or nothing.
    func clientError(_ body: () async throws -> Void, file: StaticString = #filePath, line: UInt = #line) async -> VolumeClientError? {
        do {
            try await body()
            XCTFail("expected a VolumeClientError, got success", file: file, line: line)
        } catch let e as VolumeClientError {
            return e
        } catch {
            XCTFail("expected a VolumeClientError, got \(error)", file: file, line: line)
        }
        return nil
    }

    func testVolumesCreateListGetDelete() async throws {
        let a = try await client.volumes.create(name: "first", metadata: ["team": "ml"])
        let b = try await client.volumes.create(name: "second")
        XCTAssertTrue(a.volumeId.hasPrefix("vol-"))
        XCTAssertEqual(a.ownerId, "acme")
        XCTAssertEqual(a.metadata, ["team": "ml"])
        let listed = try await client.volumes.list()
        XCTAssertEqual(listed.map(\.volumeId), [b.volumeId, a.volumeId], "newest first")
        let got = try await client.volumes.get("first")
        XCTAssertEqual(got.volumeId, a.volumeId)
        let fields = try JSONSerialization.jsonObject(with: try await client.volumes.get(a.volumeId, fields: ["name", "size_bytes"])) as? [String: Any]
        XCTAssertEqual(fields?.keys.sorted(), ["name", "size_bytes"])
        try await client.volumes.delete(a.volumeId)
        let e = await clientError { _ = try await self.client.volumes.get(a.volumeId) }
        XCTAssertEqual(e?.status, 404)
        XCTAssertEqual(e?.code, "not_found")
        XCTAssertFalse(e?.message.isEmpty ?? true)
        let left = try await client.volumes.list()
        XCTAssertEqual(left.map(\.volumeId), [b.volumeId])
        let health = try await VolumeClient(endpoint: d.url, apiKey: nil).health()
        XCTAssertEqual(health.status, "ok")
    }

    func testEveryFilesCall() async throws {
        let vol = try await client.volumes.create(name: "files")
        let files = client.volume(vol.volumeId).files
        let w = try await files.write("/docs/a.txt", data: Data("hello world\n".utf8), parents: true)
        XCTAssertEqual(w, WriteResponse(path: "/docs/a.txt", size: 12))
        let v1 = try await files.read("/docs/a.txt")
        XCTAssertEqual(v1, Data("hello world\n".utf8))
        let v2 = try await files.read("/docs/a.txt", offset: 6, length: 5)
        XCTAssertEqual(v2, Data("world".utf8))
        let ranged = try await files.readStream("/docs/a.txt", offset: 6)
        XCTAssertEqual(ranged.status, 206)
        XCTAssertEqual(ranged.contentRange, "bytes 6-11/12")
        let v3 = try await files.exists("/docs/a.txt")
        XCTAssertTrue(v3)
        let v4 = try await files.exists("/docs/none")
        XCTAssertFalse(v4)
        let st = try await files.stat("/docs/a.txt")
        XCTAssertEqual(st.type, "file")
        XCTAssertEqual(st.size, 12)
        XCTAssertEqual(st.mode, "0644")
        let v5 = try await files.makeDir("/out").created
        XCTAssertEqual(v5, true)
        let v6 = try await files.makeDir("/out", parents: true).created
        XCTAssertEqual(v6, false)
        try await files.write("/docs/b.py", data: Data("print('hello')\n".utf8), mode: "0755")
        let v7 = try await files.stat("/docs/b.py").mode
        XCTAssertEqual(v7, "0755")
        let listed = try await files.list("/", depth: 2)
        XCTAssertEqual(listed.map(\.path), ["/docs", "/docs/a.txt", "/docs/b.py", "/out"])
        let v8 = try await files.list("/docs").map(\.name)
        XCTAssertEqual(v8, ["a.txt", "b.py"])
        let moved = try await files.move("/docs/b.py", to: "/out/b.py")
        XCTAssertEqual(moved.path, "/out/b.py")
        let v9 = try await files.edit("/docs/a.txt", old: "world", new: "there")
        XCTAssertEqual(v9, 1)
        let v10 = try await files.read("/docs/a.txt")
        XCTAssertEqual(v10, Data("hello there\n".utf8))
        let found = try await files.search(name: "*.py")
        XCTAssertEqual(found.hits.map(\.path), ["/out/b.py"])
        let lines = try await files.search(content: "hel+o")
        XCTAssertEqual(Set(lines.hits.map(\.path)), ["/docs/a.txt", "/out/b.py"])
        XCTAssertEqual(lines.hits.first { $0.path == "/docs/a.txt" }?.line, 1)
        let dry = try await files.replace(glob: "**/*", old: "hello", new: "bye", dryRun: true)
        XCTAssertEqual(dry.replacements, 2)
        XCTAssertTrue(dry.dryRun)
        let r = try await files.replace(glob: "*.txt", old: "hello", new: "bye")
        XCTAssertEqual(r.files, ["/docs/a.txt"])
        let v11 = try await files.read("/docs/a.txt")
        XCTAssertEqual(v11, Data("bye there\n".utf8))
        try await files.remove("/docs/a.txt")
        let v12 = try await files.exists("/docs/a.txt")
        XCTAssertFalse(v12)
        try await files.remove("/out", recursive: true)
        let v13 = try await files.list("/").map(\.path)
        XCTAssertEqual(v13, ["/docs"])

        // A file from disk and back to disk.
        let tmp = try TemporaryDirectory("client-files")
        defer { tmp.remove() }
        let local = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try local.write(to: tmp.url.appendingPathComponent("in.bin"))
        let up = try await files.upload("/bin/in.bin", fromFile: tmp.url.appendingPathComponent("in.bin"), parents: true)
        XCTAssertEqual(up.size, Int64(local.count))
        let n = try await files.download("/bin/in.bin", to: tmp.url.appendingPathComponent("out.bin"))
        XCTAssertEqual(n, Int64(local.count))
        XCTAssertEqual(try Data(contentsOf: tmp.url.appendingPathComponent("out.bin")), local)
    }

    func testTypedErrorsCarryStatusCodeAndMessage() async throws {
        let vol = try await client.volumes.create(name: "errs")
        let files = client.volume(vol.volumeId).files
        try await files.write("/f.txt", data: Data("0123456789".utf8))

        let missing = await clientError { _ = try await files.read("/nope.txt") }
        XCTAssertEqual(missing?.status, 404)
        XCTAssertEqual(missing?.code, "not_found")
        XCTAssertTrue(missing?.message.contains("/nope.txt") ?? false, missing?.message ?? "")

        let wrongKey = try VolumeClient(endpoint: d.url, apiKey: "vk_not-a-key")
        let unauthorized = await clientError { _ = try await wrongKey.volumes.list() }
        XCTAssertEqual(unauthorized?.status, 401)
        XCTAssertEqual(unauthorized?.code, "unauthorized")

        let exists = await clientError { _ = try await files.makeDir("/f.txt") }
        XCTAssertEqual(exists?.status, 409)
        XCTAssertEqual(exists?.code, "already_exists")

        let conflict = await clientError { _ = try await files.edit("/f.txt", old: "zzz", new: "y") }
        XCTAssertEqual(conflict?.status, 409)
        XCTAssertEqual(conflict?.code, "edit_conflict")

        let range = await clientError { _ = try await files.read("/f.txt", offset: 100, length: 5) }
        XCTAssertEqual(range?.status, 416)
        XCTAssertEqual(range?.code, "out_of_range")

        let badPath = await clientError { _ = try await files.stat("/a/../b") }
        XCTAssertEqual(badPath?.status, 400)
        XCTAssertEqual(badPath?.code, "invalid_path")
        let nul = await clientError { _ = try await files.write("/a\u{0}b", data: Data("x".utf8)) }
        XCTAssertEqual(nul?.status, 400)
        XCTAssertEqual(nul?.code, "invalid_path")

        let tenant = try VolumeClient(endpoint: d.url, apiKey: try d.tenantKey("acme"))
        let forbidden = await clientError { _ = try await tenant.apiKeys.list() }
        XCTAssertEqual(forbidden?.status, 403)
        XCTAssertEqual(forbidden?.code, "forbidden")

        let q = try d.volumectl("quota", "set", vol.volumeId, "100KiB")
        XCTAssertEqual(q.status, 0, q.stderr)
        let big = Data(repeating: 7, count: 300 << 10)
        let cap = await clientError { _ = try await files.write("/big.bin", data: big) }
        XCTAssertEqual(cap?.status, 507)
        XCTAssertEqual(cap?.code, "quota_exceeded")
        XCTAssertTrue(cap?.message.contains("100.0 KiB") ?? false, cap?.message ?? "")
        let streamed = await clientError {
            _ = try await files.write("/big.bin", stream: GeneratedBytes(total: 300 << 10, chunk: 64 << 10), length: nil)
        }
        XCTAssertEqual(streamed?.code, "quota_exceeded", "a chunked upload over the cap")
        let v14 = try await files.exists("/big.bin")
        XCTAssertFalse(v14)

        let down = try VolumeClient(endpoint: "http://127.0.0.1:1", apiKey: "k")
        let transport = await clientError { _ = try await down.volumes.list() }
        XCTAssertEqual(transport?.status, 0)
        XCTAssertEqual(transport?.code, "transport")
    }

    func testPhase1CreateFromATarGzFileDropsWhatPhase1Drops() async throws {
        let tmp = try TemporaryDirectory("client-tgz")
        defer { tmp.remove() }
        let tree = tmp.path + "/tree"
        try FileManager.default.createDirectory(atPath: tree + "/sub", withIntermediateDirectories: true)
        try Data("one\n".utf8).write(to: URL(fileURLWithPath: tree + "/sub/one.txt"))
        try FileManager.default.createSymbolicLink(atPath: tree + "/link", withDestinationPath: "sub/one.txt")
        let tar = try Daemon.runTool("/usr/bin/tar", ["-czf", tmp.path + "/blob.tar.gz", "-C", tree, "."])
        XCTAssertEqual(tar.status, 0, tar.stderr)

        let made = try await client.volumes.create(name: "imported", archiveFile: URL(fileURLWithPath: tmp.path + "/blob.tar.gz"))
        XCTAssertEqual(made.volume.name, "imported")
        XCTAssertEqual(made.import.files, 1)
        XCTAssertEqual(made.import.droppedCount, 1)
        XCTAssertEqual(made.import.dropped.first?.path.hasSuffix("link"), true)
        let v15 = try await client.volume(made.volume.volumeId).files.read("/sub/one.txt")
        XCTAssertEqual(v15, Data("one\n".utf8))

        let inMemory = try await client.volumes.create(name: "again", archive: try Data(contentsOf: URL(fileURLWithPath: tmp.path + "/blob.tar.gz")))
        XCTAssertEqual(inMemory.import.files, 1)
        let notGzip = await clientError { _ = try await self.client.volumes.create(name: "bad", archive: Data("not a tar.gz".utf8)) }
        XCTAssertEqual(notGzip.map { (400..<500).contains($0.status) }, true, "\(String(describing: notGzip))")
        let v16 = try await client.volumes.list().map(\.name).sorted()
        XCTAssertEqual(v16, ["again", "imported"], "a failed import leaves no volume")
    }

    func testAPIKeysCreateListRevoke() async throws {
        let admin = try VolumeClient(endpoint: d.url, apiKey: d.operatorKey)
        let made = try await admin.apiKeys.create(tenant: "beta", expiresIn: 3600)
        XCTAssertTrue(made.key.hasPrefix("vk_"))
        XCTAssertNotNil(made.expiresAt)
        let listed = try await admin.apiKeys.list(tenant: "beta")
        XCTAssertEqual(listed.map(\.id), [made.id])
        let beta = try VolumeClient(endpoint: d.url, apiKey: made.key)
        let v = try await beta.volumes.create(name: "mine")
        XCTAssertEqual(v.ownerId, "beta")
        // Another tenant's volume is not found, not forbidden.
        let other = await clientError { _ = try await self.client.volume(v.volumeId).files.list() }
        XCTAssertEqual(other?.status, 404)
        let revoked = try await admin.apiKeys.revoke(made.id)
        XCTAssertFalse(revoked.active)
        let after = await clientError { _ = try await beta.volumes.list() }
        XCTAssertEqual(after?.status, 401)
    }

    func testUnixSocketEndpoint() async throws {
        d.stop()
        let tmp = try TemporaryDirectory("client-sock")
        defer { tmp.remove() }
        let socket = tmp.path + "/volumed.sock"
        d = try Daemon(arguments: ["--socket", socket])
        for endpoint in ["unix://" + socket, socket] {
            let c = try VolumeClient(endpoint: endpoint, apiKey: d.operatorKey, tenant: "acme")
            let v = try await c.volumes.create(name: "over-socket")
            try await c.volume(v.volumeId).files.write("/x", data: Data("x".utf8))
            let v17 = try await c.volume(v.volumeId).files.read("/x")
            XCTAssertEqual(v17, Data("x".utf8))
            try await c.volumes.delete(v.volumeId)
        }
    }

    /// 64 MiB up from a generated stream and down as a stream: both sides hash as they go, and the
    /// process's resident memory never grows by anything near the file's size.
    func testStreams64MiBBothWaysWithoutHoldingIt() async throws {
        let vol = try await client.volumes.create(name: "big")
        let files = client.volume(vol.volumeId).files
        let total = 64 << 20
        let baseline = residentBytes()
        let source = GeneratedBytes(total: total, chunk: 256 << 10)
        let w = try await files.write("/big.bin", stream: source, length: Int64(total))
        XCTAssertEqual(w.size, Int64(total))
        var downHash = SHA256()
        var received = 0
        var peak = residentBytes()
        let download = try await files.readStream("/big.bin")
        XCTAssertEqual(download.length, Int64(total))
        for try await buffer in download.body {
            buffer.withUnsafeReadableBytes { downHash.update(bufferPointer: $0) }
            received += buffer.readableBytes
            if received % (8 << 20) < buffer.readableBytes { peak = max(peak, residentBytes()) }
        }
        XCTAssertEqual(received, total)
        XCTAssertEqual(Data(downHash.finalize()), source.expectedHash(), "the bytes that came back are the bytes that went up")
        peak = max(peak, source.peakResident.withLock { $0 }, residentBytes())
        XCTAssertLessThan(peak - baseline, 40 << 20, "resident memory grew by \(peak - baseline) bytes for a \(total)-byte transfer")
    }
}

/// Deterministic bytes made on the fly in `chunk`-sized buffers (never all at once); samples RSS as it goes.
struct GeneratedBytes: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let total: Int
    let chunk: Int
    let peakResident = SharedMax()

    static func byte(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: (i &* 2_654_435_761) >> 13) }

    func expectedHash() -> Data {
        var h = SHA256()
        var i = 0
        while i < total {
            let n = Swift.min(chunk, total - i)
            let bytes = (i..<(i + n)).map(Self.byte)
            h.update(data: bytes)
            i += n
        }
        return Data(h.finalize())
    }

    func makeAsyncIterator() -> Iterator { Iterator(total: total, chunk: chunk, peak: peakResident) }

    struct Iterator: AsyncIteratorProtocol {
        let total: Int
        let chunk: Int
        let peak: SharedMax
        var offset = 0

        mutating func next() async throws -> ByteBuffer? {
            guard offset < total else { return nil }
            let n = Swift.min(chunk, total - offset)
            var b = ByteBufferAllocator().buffer(capacity: n)
            b.writeBytes((offset..<(offset + n)).map(GeneratedBytes.byte))
            offset += n
            if offset % (8 << 20) == 0 { peak.withLock { $0 = Swift.max($0, residentBytes()) } }
            return b
        }
    }
}

/// The highest value seen, shared across tasks.
final class SharedMax: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func withLock<T>(_ body: (inout Int) -> T) -> T { lock.lock(); defer { lock.unlock() }; return body(&value) }
}

/// This process's resident set size in bytes (VmRSS).
func residentBytes() -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
    return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
}
