// fsck and gc, run through the built binary against real damage and real garbage.
import Foundation
@testable import VolumeCore
import VolumeTestSupport
import XCTest

final class MaintenanceCommandTests: XCTestCase {
    /// The chunk files of the local chunk store (chunks over 64 KiB are files; smaller ones live in SQLite).
    private func chunkFiles(_ cli: CLI) throws -> [String] {
        let root = cli.dataDir + "/chunks/chunks"
        return try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.count > 3 }.map { root + "/" + $0 }.sorted()
    }

    private func randomData(_ n: Int, seed: UInt64) -> Data {
        var x = seed
        return Data((0..<n).map { _ in x = x &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: x >> 33) })
    }

    func testFsckIsCleanOnAHealthyStore() throws {
        let cli = try CLI()
        XCTAssertEqual(try cli.ok("fsck").stdout, "no volumes to check\n")
        let id = try cli.createVolume("data")
        try cli.put("data", "/a/b.txt", "hello")
        try cli.ok("files", "put", "data", "/big", stdin: randomData(300_000, seed: 1))
        let r = try cli.ok("fsck")
        XCTAssertEqual(r.lines, ["\(id) (data): ok, 4 inodes, 2 chunks verified"])
        let json = try cli.ok("fsck", "data", "--json").jsonArray()
        XCTAssertEqual(json.count, 1)
        XCTAssertEqual(Set(json.at(0).keys), ["volume_id", "problems", "repaired", "inodes", "chunks_checked", "ok"])
        XCTAssertEqual(json.at(0)["ok"] as? Bool, true)
        XCTAssertEqual(json.at(0)["problems"] as? [String], [])
        try cli.fails(3, "fsck", "novol")
    }

    func testFsckReportsDamageAndExitsNonZeroUntilRepaired() throws {
        let cli = try CLI()
        let id = try cli.createVolume("data")
        try cli.ok("files", "put", "data", "/a", stdin: randomData(200_000, seed: 2))
        let files = try chunkFiles(cli)
        XCTAssertEqual(files.count, 1)
        try FileManager.default.removeItem(atPath: files[0])

        let broken = try cli.run("fsck", "data")
        XCTAssertEqual(broken.status, 1)
        XCTAssertTrue(broken.stdout.contains("\(id) (data): 1 problem"), broken.stdout)
        XCTAssertTrue(broken.stdout.contains("references missing chunk"), broken.stdout)
        XCTAssertEqual(broken.stderr, "volumectl: problems remain in \(id); run 'volumectl fsck --repair' to fix what can be fixed\n")
        XCTAssertEqual(try cli.run("fsck", "--json").jsonArray().at(0)["ok"] as? Bool, false)

        let repaired = try cli.ok("fsck", "data", "--repair")
        XCTAssertTrue(repaired.stdout.contains("repaired: block 0 of inode 2 is now a hole"), repaired.stdout)
        XCTAssertEqual(try cli.ok("fsck", "data").lines, ["\(id) (data): ok, 2 inodes, 0 chunks verified"])
    }

    func testFsckRepairCannotFixACorruptChunkAndSaysSo() throws {
        let cli = try CLI()
        let id = try cli.createVolume("data")
        try cli.ok("files", "put", "data", "/a", stdin: randomData(200_000, seed: 3))
        let chunk = try XCTUnwrap(try chunkFiles(cli).first)
        let h = try XCTUnwrap(FileHandle(forUpdatingAtPath: chunk))
        try h.seek(toOffset: 100)
        h.write(Data("CORRUPT".utf8))
        try h.close()

        let r = try cli.run("fsck")
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stdout.contains("fails verification"), r.stdout)
        let again = try cli.run("fsck", "--repair")
        XCTAssertEqual(again.status, 1, "a corrupt chunk cannot be repaired: \(again.stdout)")
        XCTAssertTrue(again.stdout.contains("problems remain") || again.stdout.contains("1 problem remain"), again.stdout)
        XCTAssertTrue(again.stderr.contains(id), again.stderr)
        // --quick does not hash chunks, so it does not see this damage.
        try cli.ok("fsck", "--quick")
    }

    func testGCFreesTheBytesOfADeletedVolume() throws {
        let cli = try CLI()
        _ = try cli.createVolume("keep")
        _ = try cli.createVolume("scratch")
        let shared = randomData(150_000, seed: 4)
        try cli.ok("files", "put", "keep", "/shared", stdin: shared)
        try cli.ok("files", "put", "scratch", "/shared", stdin: shared)
        try cli.ok("files", "put", "scratch", "/own", stdin: randomData(250_000, seed: 5))
        try cli.put("scratch", "/small", "tiny")

        // Nothing is garbage yet.
        let none = try cli.ok("gc", "--grace", "0s", "--json").jsonObject()
        XCTAssertEqual(Set(none.keys), ["volumes_scanned", "chunks_referenced", "chunks_deleted", "bytes_freed", "chunks_in_grace", "dry_run"])
        XCTAssertEqual((none["bytes_freed"] as? NSNumber)?.int64Value, 0)
        XCTAssertEqual(none["volumes_scanned"] as? Int, 2)

        try cli.ok("volume", "delete", "scratch")
        // The default grace period (1h) keeps the fresh chunks.
        let graced = try cli.ok("gc", "--dry-run", "--json").jsonObject()
        XCTAssertEqual((graced["bytes_freed"] as? NSNumber)?.int64Value, 0)
        XCTAssertEqual(graced["chunks_in_grace"] as? Int, 2)

        let dry = try cli.ok("gc", "--grace", "0s", "--dry-run")
        XCTAssertEqual(dry.lines.first, "would free 244.1 KiB (250004 bytes, 2 chunks) (dry run; nothing deleted)")
        XCTAssertEqual(try cli.ok("gc", "--grace", "0s", "--dry-run", "--json").jsonObject()["bytes_freed"] as? Int, 250_004,
                       "a dry run deleted nothing")

        let real = try cli.ok("gc", "--grace", "0s", "--json").jsonObject()
        XCTAssertEqual(real["bytes_freed"] as? Int, 250_004, "the shared chunk stays: 'keep' still references it")
        XCTAssertEqual(real["chunks_deleted"] as? Int, 2)
        XCTAssertEqual(real["dry_run"] as? Bool, false)
        XCTAssertEqual(try cli.ok("gc", "--grace", "0s", "--json").jsonObject()["bytes_freed"] as? Int, 0)
        XCTAssertEqual(try cli.ok("files", "cat", "keep", "/shared").stdoutData, shared)
        try cli.ok("fsck")
    }

    func testGCWithNoGraceKeepsWhatAnotherProcessIsStillWriting() throws {
        let cli = try CLI()
        let id = try cli.createVolume("runs")
        // This test process is the writer: a file open through the core, its three whole blocks
        // stored as chunks that the catalog references only once the file is closed.
        let store = try VolumeStore(dataDir: URL(fileURLWithPath: cli.dataDir), options: StoreOptions(durability: .relaxed))
        defer { try? store.close() }
        let v = try store.volume(id, owner: nil)
        let a = try v.create(parent: Catalog.rootIno, name: Data("ckpt".utf8), kind: .file, mode: 0o644, caller: .root)
        try v.openCreated(a)
        let content = randomData(3 * v.blockSize, seed: 9)
        try v.write(a.ino, offset: 0, data: content, caller: .root)
        XCTAssertTrue(try eventually { try store.chunks.stats().chunks >= 3 })

        let r = try cli.ok("gc", "--grace", "0s", "--json").jsonObject()
        XCTAssertEqual(r["chunks_deleted"] as? Int, 0, "gc must not take the chunks of a write in progress")
        XCTAssertEqual(r["chunks_in_grace"] as? Int, 3)
        XCTAssertNotNil(r["writes_in_progress_since"] as? String)
        let text = try cli.ok("gc", "--grace", "0s")
        XCTAssertTrue(text.stdout.contains("by a write still in progress"), text.stdout)

        try v.release(a.ino, caller: .root)
        XCTAssertEqual(try cli.ok("files", "cat", "runs", "/ckpt").stdoutData, content)
        try cli.ok("fsck")

        // Once the writer is done, what it leaves behind is garbage like any other.
        try cli.ok("files", "rm", "runs", "/ckpt")
        try store.close()
        let after = try cli.ok("gc", "--grace", "0s", "--json").jsonObject()
        XCTAssertEqual(after["chunks_deleted"] as? Int, 3)
        XCTAssertNil(after["writes_in_progress_since"])
    }

    func testGCRejectsBadDurations() throws {
        let cli = try CLI()
        for bad in ["abc", "1x", "h", "1h30", " ", "1e3", "--1h", "1h-5m"] {
            try cli.fails(64, "gc", "--grace=\(bad)", mentioning: ["not a duration"])
        }
        try cli.fails(64, "gc", "--grace", "-1h")
        try cli.fails(64, "gc", "--grace=", mentioning: ["--grace"])
        try cli.fails(64, "gc", "--grace")
        try cli.fails(64, "gc", "extra")
        for good in ["0s", "0", "90", "30m", "1h", "2h30m", "7d", "1.5h"] {
            XCTAssertEqual(try cli.ok("gc", "--grace", good, "--dry-run", "--json").jsonObject()["dry_run"] as? Bool, true, good)
        }
        let r = try cli.ok("gc", "--grace", "90m", "--dry-run")
        XCTAssertTrue(r.stdout.contains("younger than 1h30m"), r.stdout)
    }
}
