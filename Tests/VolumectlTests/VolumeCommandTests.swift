// volume create | list | inspect | delete, run through the built binary.
import Foundation
import VolumeCore
import VolumeTestSupport
import XCTest

final class VolumeCommandTests: XCTestCase {
    static let volumeKeys: Set<String> = ["volume_id", "owner_id", "name", "size_bytes", "file_count", "quota_bytes", "metadata", "created_at"]

    func testCreatePrintsTheNewVolumeAndListShowsItNewestFirst() throws {
        let cli = try CLI()
        let r = try cli.ok("volume", "create", "data", "--metadata", "team=ml", "--metadata", "tier=hot")
        XCTAssertTrue(r.stdout.contains("name:         data"), r.stdout)
        XCTAssertTrue(r.stdout.contains("metadata:     team=ml tier=hot"), r.stdout)
        XCTAssertTrue(r.stdout.contains("owner_id:     default"), r.stdout)
        XCTAssertTrue(r.stdout.contains("quota_bytes:  2147483648 (2.0 GiB)"), r.stdout)
        let id = try XCTUnwrap(r.lines.first { $0.hasPrefix("volume_id:") }?.split(separator: " ").last.map(String.init))
        XCTAssertTrue(id.hasPrefix("vol-"))

        let second = try cli.createVolume("logs")
        let list = try cli.ok("volume", "list")
        XCTAssertEqual(list.lines.count, 3, list.stdout)
        XCTAssertEqual(list.line(0).split(separator: " ", omittingEmptySubsequences: true), ["ID", "NAME", "SIZE", "FILES", "CAP", "CREATED"])
        XCTAssertTrue(list.line(1).hasPrefix(second), "newest first: \(list.stdout)")
        XCTAssertTrue(list.line(2).hasPrefix(id), list.stdout)
        XCTAssertEqual(Array(list.line(2).split(separator: " ", omittingEmptySubsequences: true).dropFirst().prefix(4)), ["data", "0", "B", "0"])
        XCTAssertEqual(try cli.ok("volume", "list", "--quiet").lines, [second, id])
    }

    func testJSONOutputHasTheDocumentedKeys() throws {
        let cli = try CLI()
        let created = try cli.ok("volume", "create", "data", "--metadata", "team=ml", "--json").jsonObject()
        XCTAssertEqual(Set(created.keys), Self.volumeKeys)
        XCTAssertEqual(created["name"] as? String, "data")
        XCTAssertEqual(created["owner_id"] as? String, "default")
        XCTAssertEqual((created["quota_bytes"] as? NSNumber)?.int64Value, 2 << 30)
        XCTAssertEqual((created["size_bytes"] as? NSNumber)?.int64Value, 0)
        XCTAssertEqual(created["metadata"] as? [String: String], ["team": "ml"])
        let id = try XCTUnwrap(created["volume_id"] as? String)

        try cli.put(id, "/a.txt", "hello")
        let listed = try cli.ok("volume", "list", "--json").jsonArray()
        XCTAssertEqual(listed.count, 1)
        XCTAssertEqual(Set(listed.at(0).keys), Self.volumeKeys)
        XCTAssertEqual((listed.at(0)["size_bytes"] as? NSNumber)?.int64Value, 5)
        XCTAssertEqual((listed.at(0)["file_count"] as? NSNumber)?.int64Value, 1)

        let inspected = try cli.ok("volume", "inspect", "data", "--json").jsonObject()
        XCTAssertEqual(inspected["volume_id"] as? String, id)
        XCTAssertEqual(Set(inspected.keys), Self.volumeKeys)
        XCTAssertNotNil(ISO8601DateFormatter().date(from: inspected["created_at"] as? String ?? ""), "created_at is ISO-8601")
    }

    func testInspectFieldPrintsOneValueForEveryJSONKey() throws {
        let cli = try CLI()
        let id = try cli.createVolume("data", "--metadata", "team=ml")
        try cli.put(id, "/a.txt", "hello")
        let object = try cli.ok("volume", "inspect", id, "--json").jsonObject()
        for key in object.keys.sorted() {
            let value = try cli.ok("volume", "inspect", id, "--field", key).stdout
            switch object[key] {
            case let s as String: XCTAssertEqual(value, s + "\n", key)
            case let n as NSNumber: XCTAssertEqual(value, "\(n.int64Value)\n", key)
            case let m as [String: String]:
                XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(value.utf8)) as? [String: String], m, key)
            default: XCTFail("unexpected JSON value for \(key)")
            }
        }
        XCTAssertEqual(try cli.ok("volume", "inspect", "data", "--field", "size_bytes").stdout, "5\n")
        XCTAssertEqual(try cli.ok("volume", "inspect", "data", "-f", "metadata.team").stdout, "ml\n")
        XCTAssertEqual(try cli.ok("volume", "inspect", "data", "--field", "name", "--json").stdout, "\"data\"\n")
        try cli.fails(64, "volume", "inspect", "data", "--field", "size", mentioning: ["unknown field 'size'", "size_bytes", "metadata.KEY"])
        try cli.fails(64, "volume", "inspect", "data", "--field", "metadata.", mentioning: ["unknown field"])
        try cli.fails(3, "volume", "inspect", "data", "--field", "metadata.owner", mentioning: ["no metadata key 'owner'", "team"])
    }

    func testDeleteMakesTheVolumeNotFound() throws {
        let cli = try CLI()
        let id = try cli.createVolume("scratch")
        try cli.put(id, "/f", "x")
        let r = try cli.ok("volume", "delete", "scratch")
        XCTAssertTrue(r.stdout.contains("deleted volume \(id)"), r.stdout)
        try cli.fails(3, "volume", "inspect", id, mentioning: ["not found", id])
        try cli.fails(3, "volume", "delete", id)
        try cli.fails(3, "files", "cat", id, "/f")
        XCTAssertEqual(try cli.ok("volume", "list").lines.count, 1, "only the header is left")
        let again = try cli.createVolume("scratch")
        XCTAssertEqual(try cli.ok("volume", "delete", again, "--json").jsonObject()["deleted"] as? Bool, true)
    }

    func testDeleteOfAVolumeInUseNeedsForce() throws {
        let cli = try CLI()
        let id = try cli.createVolume("busy")
        // Another process imports into it: a real process holds the import lease.
        let importer = try ChildProcess()
        let store = try VolumeStore(dataDir: URL(fileURLWithPath: cli.dataDir))
        let holder = LeaseHolder(host: store.liveness.host, process: try XCTUnwrap(ProcessIdentity(pid: importer.pid)))
        _ = try store.acquireLease(volume: id, purpose: .import, holder: holder)
        try store.close()
        try cli.fails(4, "volume", "delete", "busy", mentioning: ["in use", "import lease", "pid \(importer.pid)", "force"])
        try cli.ok("volume", "inspect", id)
        try cli.ok("volume", "delete", "busy", "--force")
        try cli.fails(3, "volume", "inspect", id)
    }

    /// `volumectl upload` holds an import lease while it streams: a deletion from another process is refused
    /// as a conflict naming that lease, and the upload then lands whole. The test has written 1 MiB into the
    /// upload's standard input (a pipe holds 64 KiB) before it deletes, so the upload is reading by then.
    func testADeletionIsRefusedWhileAnUploadStreams() throws {
        let cli = try CLI()
        let id = try cli.createVolume("busy")
        // Empty: the deletion opens the volume (reading only) while the upload streams, then sees the lease.
        signal(SIGPIPE, SIG_IGN)  // an upload that stopped early fails this test instead of killing it
        let (upload, input) = try cli.startReadingStdin(["upload", "-", "\(id):/up.bin", "--quiet"])
        defer { if upload.isRunning { upload.terminate(); upload.waitUntilExit() } }
        let half = Data(repeating: 0x61, count: 1 << 20)
        try input.fileHandleForWriting.write(contentsOf: half)
        try cli.fails(4, "volume", "delete", "busy", mentioning: ["in use", "import lease"])
        try input.fileHandleForWriting.write(contentsOf: half)
        try input.fileHandleForWriting.close()
        upload.waitUntilExit()
        XCTAssertEqual(upload.terminationStatus, 0, "the upload failed")
        XCTAssertEqual(try cli.ok("files", "stat", id, "/up.bin", "--json").jsonObject()["size"] as? Int, 2 << 20)
    }

    /// An import into an empty volume holds its catalog's write lock until its one commit; other processes
    /// still open the volume (reading only) and are answered at once instead of failing "database is locked".
    func testOtherProcessesOpenAVolumeWhileAnImportIntoItStreams() throws {
        let cli = try CLI()
        let id = try cli.createVolume("busy")
        try FileManager.default.createDirectory(atPath: cli.local("tree"), withIntermediateDirectories: true)
        // Incompressible bytes, so the tar.gz is as long as the file and half of it is mid-entry.
        var noise = Data(count: 4 << 20)
        noise.withUnsafeMutableBytes { b in for i in 0..<b.count { b[i] = UInt8(truncatingIfNeeded: (i &* 2654435761) >> 13) } }
        try noise.write(to: URL(fileURLWithPath: cli.local("tree/noise.bin")))
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tar.arguments = ["tar", "-czf", cli.local("n.tar.gz"), "-C", cli.local("tree"), "."]
        try tar.run()
        tar.waitUntilExit()
        let archive = try Data(contentsOf: URL(fileURLWithPath: cli.local("n.tar.gz")))
        signal(SIGPIPE, SIG_IGN)
        let (importer, input) = try cli.startReadingStdin(["import", "-", "--volume", id, "--quiet"])
        defer { if importer.isRunning { importer.terminate(); importer.waitUntilExit() } }
        try input.fileHandleForWriting.write(contentsOf: archive.prefix(archive.count / 2))
        // Until the import holds its lease (then its write lock follows at once).
        let store = try VolumeStore(dataDir: URL(fileURLWithPath: cli.dataDir))
        for _ in 0..<3000 where try store.leases(volume: id).isEmpty { usleep(10_000) }
        XCTAssertEqual(try store.leases(volume: id).map(\.purpose), [.import])
        try store.close()
        // Each of these opens the volume's catalog while the import holds its write lock.
        let info = try cli.ok("volume", "inspect", "busy", "--json").jsonObject()
        XCTAssertEqual(info["volume_id"] as? String, id)
        try cli.ok("files", "ls", "busy")
        try cli.fails(4, "volume", "delete", "busy", mentioning: ["import lease"])
        try input.fileHandleForWriting.write(contentsOf: archive.dropFirst(archive.count / 2))
        try input.fileHandleForWriting.close()
        importer.waitUntilExit()
        XCTAssertEqual(importer.terminationStatus, 0, "the import failed")
        XCTAssertEqual(try cli.ok("files", "stat", id, "/noise.bin", "--json").jsonObject()["size"] as? Int, 4 << 20)
    }

    func testImportIntoAVolumeThatAnotherProcessDeletesIsRefused() throws {
        let cli = try CLI()
        let id = try cli.createVolume("going")
        try FileManager.default.createDirectory(atPath: cli.local("tree"), withIntermediateDirectories: true)
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: cli.local("tree/a.txt")))
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tar.arguments = ["tar", "-czf", cli.local("a.tar.gz"), "-C", cli.local("tree"), "."]
        try tar.run()
        tar.waitUntilExit()
        XCTAssertEqual(tar.terminationStatus, 0)
        // Another process is deleting the volume: a real process holds its delete lease.
        let deleter = try ChildProcess()
        let store = try VolumeStore(dataDir: URL(fileURLWithPath: cli.dataDir))
        let holder = LeaseHolder(host: store.liveness.host, process: try XCTUnwrap(ProcessIdentity(pid: deleter.pid)))
        _ = try store.acquireLease(volume: id, purpose: .delete, holder: holder)
        try store.close()
        try cli.fails(4, "import", cli.local("a.tar.gz"), "--volume", id, "--quiet", mentioning: ["delete lease", "pid \(deleter.pid)"])
        try cli.fails(3, "files", "cat", id, "/a.txt")
        deleter.kill()
        try cli.ok("import", cli.local("a.tar.gz"), "--volume", id, "--quiet")
        XCTAssertEqual(try cli.cat(id, "/a.txt"), "hello\n")
    }

    func testAmbiguousNameAsksForTheID() throws {
        let cli = try CLI()
        let a = try cli.createVolume("data")
        let b = try cli.createVolume("data")
        try cli.fails(64, "files", "ls", "data", mentioning: ["matches 2 volumes", a, b, "use the volume ID"])
        try cli.fails(64, "volume", "delete", "data", mentioning: ["matches 2 volumes"])
        try cli.ok("files", "ls", a)
        XCTAssertEqual(try cli.ok("volume", "list", "--quiet").lines.count, 2, "nothing was deleted")
    }

    func testOwnerScopesVolumes() throws {
        let cli = try CLI()
        let mine = try cli.createVolume("data", "--owner", "acme")
        XCTAssertEqual(try cli.ok("volume", "inspect", mine, "--field", "owner_id").stdout, "acme\n")
        // Another tenant sees nothing and cannot tell the volume exists.
        XCTAssertEqual(try cli.ok("volume", "list", "--quiet", env: ["VOLUMES_TENANT": "other"]).stdout, "")
        try cli.fails(3, "volume", "inspect", mine, env: ["VOLUMES_TENANT": "other"])
        try cli.fails(3, "files", "ls", "data", "--owner", "other")
        // The tenant and the operator (no tenant) see it.
        XCTAssertEqual(try cli.ok("volume", "list", "--quiet", "--owner", "acme").lines, [mine])
        XCTAssertEqual(try cli.ok("volume", "list", "--quiet").lines, [mine])
        // VOLUMES_TENANT picks the owner of a new volume.
        let theirs = try cli.run(["volume", "create", "x", "--json"], env: ["VOLUMES_TENANT": "other"])
        XCTAssertEqual(try theirs.jsonObject()["owner_id"] as? String, "other")
    }

    func testGlobalOptionsWorkBeforeAndAfterTheSubcommand() throws {
        let cli = try CLI()
        let dir = cli.local("elsewhere")
        let id = try cli.ok("--data-dir", dir, "volume", "create", "x", "--quiet").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(try cli.ok("volume", "--data-dir", dir, "list", "--quiet").lines, [id])
        XCTAssertEqual(try cli.ok("volume", "list", "--data-dir", dir, "--quiet").lines, [id])
        XCTAssertEqual(try cli.ok("--data-dir=\(dir)", "--json", "volume", "list").jsonArray().count, 1)
        XCTAssertEqual(try cli.ok("--owner", "nobody", "volume", "list", "--data-dir", dir, "--quiet").stdout, "")
        // The default data directory (VOLUMES_DATA_DIR here) is a different one.
        XCTAssertEqual(try cli.ok("volume", "list", "--quiet").stdout, "")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/registry.sqlite"))
    }

    func testCreateRejectsBadInput() throws {
        let cli = try CLI()
        try cli.fails(64, "volume", "create", String(repeating: "n", count: 256), mentioning: ["1 to 255 bytes"])
        try cli.fails(64, "volume", "create", "", mentioning: ["empty"])
        try cli.fails(64, "volume", "create", "   ", mentioning: ["empty"])
        try cli.fails(64, "volume", "create", mentioning: ["missing", "<name>", "volumectl volume create --help"])
        try cli.fails(64, "volume", "create", "a", "b", mentioning: ["unexpected argument 'b'"])
        try cli.fails(64, "volume", "create", "a", "--metadata", "novalue", mentioning: ["KEY=VALUE", "novalue"])
        try cli.fails(64, "volume", "create", "a", "--metadata", "=v", mentioning: ["KEY=VALUE"])
        try cli.fails(64, "volume", "create", "a", "--metadata", "k=1", "--metadata", "k=2", mentioning: ["'k' is given twice"])
        try cli.fails(64, "volume", "create", "a", "--metadata", mentioning: ["missing value"])
        try cli.fails(64, "volume", "create", "a", "--owner", "bad tenant!", mentioning: ["tenant"])
        try cli.fails(64, "volume", "create", "a", "--bogus", mentioning: ["unknown option '--bogus'"])
        try cli.fails(64, "volume", "frobnicate", mentioning: ["frobnicate"])
        XCTAssertEqual(try cli.ok("volume", "list", "--quiet").stdout, "", "no bad input created a volume")
        // 255 bytes is fine.
        XCTAssertEqual(try cli.ok("volume", "create", String(repeating: "n", count: 255), "--json").jsonObject()["name"] as? String,
                       String(repeating: "n", count: 255))
    }
}
