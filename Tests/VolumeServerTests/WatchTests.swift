// The watch stream over real HTTP: changes through the API, a FUSE mount in another process and volumectl arrive in order; reconnect and resync.
import Foundation
import VolumeCore
import XCTest
import VolumeTestSupport

struct StreamTimeout: Error, CustomStringConvertible { let description: String }

/// A `curl -N` reading one watch stream into a file; `events` parses what arrived so far.
final class SSEReader {
    struct Event: Equatable { let id: Int64?; let type: String; let path: String?; let fromPath: String? }
    let process = Process()
    let file: String

    init(_ d: Daemon, _ path: String, key: String, lastEventID: Int64? = nil) throws {
        file = d.dir.path + "/sse-\(UUID().uuidString.prefix(8))"
        _ = FileManager.default.createFile(atPath: file, contents: nil)
        var args = ["-sS", "-N", "--max-time", "300", "-H", "X-API-Key: \(key)"]
        if let lastEventID { args += ["-H", "Last-Event-ID: \(lastEventID)"] }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = args + [d.url + path]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The stream is open once its first comment arrived (the subscription is in place then).
        try waitUntil("the stream to open") { self.raw.contains(": watching") }
    }

    var raw: String { (try? String(contentsOfFile: file, encoding: .utf8)) ?? "" }

    /// Every complete event block so far (comments skipped).
    var events: [Event] {
        raw.components(separatedBy: "\n\n").dropLast().compactMap { block -> Event? in
            var id: Int64?, type: String?, data: [String: Any] = [:]
            for line in block.split(separator: "\n") {
                if line.hasPrefix("id: ") { id = Int64(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { type = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") {
                    data = (try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8))) as? [String: Any] ?? [:]
                }
            }
            guard let type else { return nil }
            return Event(id: id, type: type, path: data["path"] as? String, fromPath: data["from_path"] as? String)
        }
    }

    func waitUntil(_ what: String, _ cond: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(60)
        while !cond() {
            guard Date() < deadline, process.isRunning || cond() else {
                throw StreamTimeout(description: "timed out waiting for \(what); stream so far:\n\(raw)")
            }
            usleep(50_000)
        }
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

final class WatchTests: DaemonTestCase {
    func start(_ args: [String] = []) throws { try startDaemon(args, volume: "watched") }

    var watchPath: String { "/v1/volumes/\(vol)/files/watch?path=/&recursive=true" }

    /// (type, path, from) of events, for comparison.
    func shape(_ es: [SSEReader.Event]) -> [String] {
        es.map { [$0.type, $0.path ?? "", $0.fromPath ?? ""].joined(separator: " ") .trimmingCharacters(in: .whitespaces) }
    }

    func isMounted(_ path: String) -> Bool {
        (ProcFile.text("/proc/self/mountinfo") ?? "").split(separator: "\n").contains { line in
            line.split(separator: " ").count > 4 && line.split(separator: " ")[4] == path
        }
    }

    /// Writes through the API, through a FUSE mount served by another process (`volumectl mount`),
    /// and through `volumectl files put` on the data directory; one recursive stream sees each
    /// change, in the order made, with ids that only grow.
    func testEveryWriterIsSeenInOrder() throws {
        try start()
        let sse = try SSEReader(d, watchPath, key: key)
        var expected: [String] = []

        // 1. The API.
        try d.put(vol, "/a.txt", Data("one".utf8), key: key)
        try d.put(vol, "/a.txt", Data("two".utf8), key: key)
        XCTAssertEqual(try d.send("POST", "/v1/volumes/\(vol)/files/mkdir", key: key, json: ["path": "/d"]).status, 201)
        XCTAssertEqual(try d.send("POST", "/v1/volumes/\(vol)/files/move", key: key, json: ["from": "/a.txt", "to": "/d/a.txt"]).status, 200)
        XCTAssertEqual(try d.request("DELETE", "/v1/volumes/\(vol)/files?path=/d/a.txt", key: key).status, 204)
        expected += ["create /a.txt", "modify /a.txt", "create /d", "rename /d/a.txt /a.txt", "delete /d/a.txt"]
        try sse.waitUntil("the API's events") { sse.events.count >= expected.count }
        XCTAssertEqual(shape(sse.events), expected)

        // 2. A FUSE mount in another process.
        if access("/dev/fuse", R_OK | W_OK) == 0 && getuid() == 0 {
            let mnt = try TemporaryDirectory("watch-mnt")
            let server = Process()
            server.executableURL = try Daemon.volumectl.get()
            server.arguments = ["mount", "--data-dir", d.dataDir, "--foreground", vol, mnt.path]
            server.standardOutput = FileHandle.nullDevice
            server.standardError = FileHandle.nullDevice
            try server.run()
            defer {
                if isMounted(mnt.path) { umount2(mnt.path, Int32(MNT_DETACH)) }
                if server.isRunning { kill(server.processIdentifier, SIGTERM); server.waitUntilExit() }
                mnt.remove()
            }
            try sse.waitUntil("the mount") { isMounted(mnt.path) }
            let f = mnt.path + "/fuse.txt"
            // Plain open/write/close (Foundation's createFile writes a temporary file and renames it).
            let fd = open(f, O_CREAT | O_WRONLY | O_EXCL, 0o644)
            XCTAssertGreaterThanOrEqual(fd, 0)
            XCTAssertEqual(write(fd, "through the mount", 17), 17)
            XCTAssertEqual(close(fd), 0)
            XCTAssertEqual(rename(f, mnt.path + "/fuse2.txt"), 0)
            XCTAssertEqual(unlink(mnt.path + "/fuse2.txt"), 0)
            XCTAssertEqual(mkdir(mnt.path + "/m", 0o755), 0)
            XCTAssertEqual(rmdir(mnt.path + "/m"), 0)
            let un = try Daemon.runTool(try Daemon.volumectl.get().path, ["unmount", "--data-dir", d.dataDir, mnt.path])
            XCTAssertEqual(un.status, 0, un.stderr)
            server.waitUntilExit()
            expected += ["create /fuse.txt", "modify /fuse.txt", "rename /fuse2.txt /fuse.txt", "delete /fuse2.txt", "create /m", "delete /m"]
            try sse.waitUntil("the mount's events") { sse.events.count >= expected.count }
            XCTAssertEqual(shape(sse.events), expected)
        }

        // 3. volumectl on the data directory.
        let put = try Daemon.runTool(try Daemon.volumectl.get().path, ["files", "put", vol, "/cli.txt", "-"],
                                     env: ["VOLUMES_DATA_DIR": d.dataDir], stdin: Data("from the cli".utf8))
        XCTAssertEqual(put.status, 0, put.stderr)
        expected += ["create /cli.txt"]
        try sse.waitUntil("volumectl's event") { sse.events.count >= expected.count }
        XCTAssertEqual(shape(sse.events), expected)

        let ids = sse.events.compactMap(\.id)
        XCTAssertEqual(ids.count, expected.count, "every event has an id")
        XCTAssertEqual(ids, ids.sorted(), "ids grow")
        XCTAssertEqual(Set(ids).count, ids.count)
        sse.stop()

        // Reconnecting with Last-Event-ID gets exactly what came after it.
        let again = try SSEReader(d, watchPath, key: key, lastEventID: ids[2])
        try again.waitUntil("the replay") { again.events.count >= expected.count - 3 }
        XCTAssertEqual(shape(again.events), Array(expected.dropFirst(3)))
        XCTAssertEqual(again.events.compactMap(\.id), Array(ids.dropFirst(3)))
        again.stop()

        // A filtered stream: only /d and its direct children.
        let dir = try SSEReader(d, "/v1/volumes/\(vol)/files/watch?path=/d", key: key, lastEventID: 0)
        try dir.waitUntil("the /d replay") { dir.events.count >= 3 }
        XCTAssertEqual(shape(dir.events), ["create /d", "rename /d/a.txt /a.txt", "delete /d/a.txt"])
        dir.stop()
    }

    /// Past retention: a client asking for events that were trimmed gets `resync` first, then what is kept.
    func testAClientBehindRetentionGetsResync() throws {
        try start(["--journal-keep-events", "2", "--gc-interval", "1"])
        for i in 0..<5 { try d.put(vol, "/f\(i)", Data("x".utf8), key: key) }
        // Trimming runs with housekeeping; reconnect until it has.
        var sse: SSEReader?
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let s = try SSEReader(d, watchPath, key: key, lastEventID: 1)
            try s.waitUntil("a first event") { !s.events.isEmpty }
            if s.events.first?.type == "resync" { sse = s; break }
            s.stop()
            usleep(300_000)
        }
        let s = try XCTUnwrap(sse, "no resync within 60 s")
        try s.waitUntil("the retained events") { s.events.count >= 3 }
        XCTAssertEqual(shape(Array(s.events.prefix(3))), ["resync", "create /f3", "create /f4"])
        XCTAssertEqual(s.events[0].id, 3, "resync carries the id to resume after")
    }

    /// A stream with nothing to say still sends heartbeat comments; bad parameters are 400; another tenant's volume 404.
    func testHeartbeatsAndErrors() throws {
        try start(["--watch-heartbeat", "0.3"])
        let sse = try SSEReader(d, watchPath, key: key)
        try sse.waitUntil("two heartbeats") { sse.raw.components(separatedBy: ": heartbeat").count > 2 }
        XCTAssertTrue(sse.events.isEmpty)
        sse.stop()
        XCTAssertEqual(try d.get("/v1/volumes/\(vol)/files/watch?path=/../x", key: key).status, 400)
        XCTAssertEqual(try d.get("/v1/volumes/\(vol)/files/watch?recursive=maybe", key: key).status, 400)
        XCTAssertEqual(try d.get("/v1/volumes/\(vol)/files/watch", key: key, headers: ["Last-Event-ID": "abc"]).status, 400)
        XCTAssertEqual(try d.get("/v1/volumes/\(vol)/files/watch", key: nil).status, 401)
        let other = try d.tenantKey("other")
        let r = try d.get("/v1/volumes/\(vol)/files/watch", key: other)
        XCTAssertEqual(r.status, 404)
        XCTAssertEqual(r.errorCode, "not_found")
    }
}
