// Packed small chunks: a v1 small.sqlite keeps its chunks, compaction gives space back, and lost or
// half-written pack bytes are never trusted.
import Foundation
import GRDB
import XCTest
@testable import VolumeCore
import VolumeTestSupport

final class SmallChunkPackTests: XCTestCase {
    private var dir: TemporaryDirectory!
    override func setUpWithError() throws { dir = try TemporaryDirectory("packs") }
    override func tearDown() { dir.remove() }

    private func chunk(_ i: Int, size: Int = 4000) -> Data {
        var x = UInt64(i) &* 0x9E37_79B9_7F4A_7C15 | 1
        return Data((0..<size).map { _ in x ^= x << 13; x ^= x >> 7; x ^= x << 17; return UInt8(truncatingIfNeeded: x) })
    }

    private func packFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path + "/packs").filter { $0.hasSuffix(".pack") }.sorted()
    }

    private func packBytes() throws -> Int {
        try packFiles().reduce(0) { $0 + ((try FileManager.default.attributesOfItem(atPath: dir.path + "/packs/" + $1)[.size] as? Int) ?? 0) }
    }

    func testAVersion1StoreKeepsItsChunks() throws {
        // small.sqlite as version 1 wrote it: the bytes inline in `chunk`.
        let old = (0..<50).map { chunk($0) }
        do {
            let q = try DatabaseQueue(path: dir.path + "/small.sqlite")
            var v1 = DatabaseMigrator()
            v1.registerMigration("v1-small-chunks") { db in
                try db.execute(sql: "CREATE TABLE chunk (id BLOB NOT NULL UNIQUE CHECK (length(id) = 32), data BLOB NOT NULL, touched INTEGER NOT NULL)")
            }
            try v1.migrate(q)
            try q.write { db in
                for d in old {
                    try db.execute(sql: "INSERT INTO chunk (id, data, touched) VALUES (?, ?, 1000)", arguments: [ChunkID.of(d).bytes, d])
                }
            }
        }
        let store = try LocalChunkStore(root: dir.url)
        let ids = old.map { ChunkID.of($0) }
        XCTAssertEqual(try store.read(ids[7]), old[7])
        XCTAssertEqual(try store.read(ids[8], offset: 10, count: 5), old[8][10..<15])
        XCTAssertEqual(try store.size(of: ids[9]), 4000)
        XCTAssertEqual(try store.stats(), ChunkStoreStats(chunks: 50, bytes: 200_000))

        // Putting old content again costs nothing (and refreshes its time); new content is packed.
        XCTAssertEqual(try store.put(batch: [old[1], chunk(100), old[2]]), [ids[1], ChunkID.of(chunk(100)), ids[2]])
        XCTAssertEqual(try store.stats().chunks, 51)
        XCTAssertEqual(try packBytes(), 4000, "only the new chunk went into a pack")
        var touched: [ChunkID: Date] = [:]
        try store.forEach { touched[$0.id] = $0.touched }
        XCTAssertGreaterThan(touched[ids[1]]!, Date(timeIntervalSince1970: 1000))
        XCTAssertEqual(touched[ids[3]], Date(timeIntervalSince1970: 1000))

        try store.delete(ids[0])
        XCTAssertFalse(try store.contains(ids[0]))
        XCTAssertEqual(try store.stats().chunks, 50)
        // And after reopening, the same.
        let again = try LocalChunkStore(root: dir.url)
        XCTAssertEqual(try again.read(ids[49]), old[49])
        XCTAssertEqual(try again.read(ChunkID.of(chunk(100))), chunk(100))
    }

    func testPacksAreSealedAndCompactionGivesSpaceBack() throws {
        let store = try LocalChunkStore(root: dir.url, packLimit: 40_000)
        let data = (0..<100).map { chunk($0) }
        var ids: [ChunkID] = []
        for start in stride(from: 0, to: 100, by: 5) { ids += try store.put(batch: Array(data[start..<start + 5])) }
        XCTAssertEqual(try packFiles().count, 10, "sealed past 40,000 bytes: ten chunks a pack")
        XCTAssertEqual(try packBytes(), 400_000)

        // Nothing to do while every pack is live.
        XCTAssertEqual(try store.compact(), 0)
        // Mostly delete the first half of the packs, a little of the rest.
        for i in 0..<100 where (i < 50 && i % 10 != 0) || (i >= 50 && i % 10 == 1) { try store.delete(ids[i]) }
        let freed = try store.compact()
        XCTAssertEqual(freed, 200_000, "the five mostly dead packs are removed")
        XCTAssertEqual(try packFiles().count, 6)
        XCTAssertEqual(try packBytes(), 200_000 + 5 * 4000, "their live chunks were rewritten once")
        for i in 0..<100 {
            let gone = (i < 50 && i % 10 != 0) || (i >= 50 && i % 10 == 1)
            XCTAssertEqual(try store.contains(ids[i]), !gone, "chunk \(i)")
            if !gone { XCTAssertEqual(try store.read(ids[i]), data[i], "chunk \(i)") }
        }
        XCTAssertEqual(try store.stats().chunks, 50)
    }

    func testGCCompactsThePacksOfDeletedVolumes() throws {
        let chunkDir = dir.url.appendingPathComponent("chunks")
        let ts = try TestStore(chunks: try LocalChunkStore(root: chunkDir, packLimit: 1 << 20))
        defer { ts.remove() }
        let other = try ts.store.volume(try ts.store.createVolume(owner: "t1", name: "doomed").volumeId, owner: "t1")
        try ts.volume.writeFile("/keep", data: chunk(1))
        // Past the pack limit, so the packs that hold most of it are sealed.
        try other.writeFiles((0..<60).map { WriteEntry(path: "/f\($0)", data: chunk(1000 + $0, size: 60_000)) })
        let packs = chunkDir.appendingPathComponent("packs").path
        func packBytes() throws -> Int {
            try FileManager.default.contentsOfDirectory(atPath: packs).reduce(0) {
                $0 + ((try FileManager.default.attributesOfItem(atPath: packs + "/" + $1)[.size] as? Int) ?? 0)
            }
        }
        XCTAssertEqual(try packBytes(), 3_604_000)
        try ts.store.deleteVolume(other.id, owner: nil)
        let report = try ts.store.collectGarbage(grace: 0)
        XCTAssertEqual(report.chunksDeleted, 60)
        XCTAssertLessThan(try packBytes(), 700_000, "gc gave the space of the sealed packs back")
        XCTAssertEqual(try ts.volume.readFile("/keep"), chunk(1))
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testBytesAPowerLossTookAreDroppedAfterTheReboot() throws {
        let store = try LocalChunkStore(root: dir.url)
        let a = chunk(1), b = chunk(2), c = chunk(3)
        let synced = try store.put(a)
        try store.sync()
        let ids = try store.put(batch: [b, c])
        XCTAssertEqual(try store.small.db.read { db in try Int64.fetchOne(db, sql: "SELECT durable FROM pack") }, 4000)
        // As after a power loss: the rows of b and c committed, b's bytes never reached the disk; and a reboot.
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.path + "/packs/" + (try packFiles())[0]))
        try h.seek(toOffset: 4000)
        try h.write(contentsOf: Data(count: 4000))
        try h.close()
        try store.small.db.write { db in try db.execute(sql: "UPDATE pack SET boot = 'an-earlier-boot'") }

        let reopened = try LocalChunkStore(root: dir.url)
        XCTAssertFalse(try reopened.contains(ids[0]), "b's row is dropped: its bytes are lost")
        XCTAssertEqual(try reopened.read(ids[1]), c, "c's bytes survived")
        XCTAssertEqual(try reopened.read(synced), a)
        // So storing b again really stores it.
        XCTAssertEqual(try reopened.put(b), ids[0])
        XCTAssertEqual(try reopened.read(ids[0]), b)
        XCTAssertEqual(try reopened.stats().chunks, 3)
        let live = try reopened.small.db.read { db in try Row.fetchOne(db, sql: "SELECT size, durable, live FROM pack") }
        XCTAssertEqual(live?[0] as Int64?, 16_000)
        XCTAssertEqual(live?[1] as Int64?, 12_000, "checked up to where it was")
        XCTAssertEqual(live?[2] as Int64?, 12_000, "the lost bytes are dead space")
    }

    func testBytesPastThePackSizeAreOverwritten() throws {
        let store = try LocalChunkStore(root: dir.url)
        let first = try store.put(chunk(1))
        // A writer that died between writing its bytes and committing their rows left garbage past the size.
        let pack = dir.path + "/packs/" + (try packFiles())[0]
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: pack))
        try h.seekToEnd()
        try h.write(contentsOf: Data(repeating: 0xEE, count: 3000))
        try h.close()
        let second = try store.put(chunk(2))
        XCTAssertEqual(try store.read(first), chunk(1))
        XCTAssertEqual(try store.read(second), chunk(2))
        XCTAssertEqual(try packBytes(), 8000)
    }
}
