// gc: only unreferenced chunks older than the grace period go; referenced and recently touched ones stay.
import Foundation
import XCTest
@testable import VolumeCore
import VolumeTestSupport

final class GarbageCollectorTests: XCTestCase {
    func testCollectsOnlyUnreferencedChunksPastTheGracePeriod() throws {
        let clock = TestClock()
        let chunks = MemoryChunkStore(now: { clock.now })
        let ts = try TestStore(blockSize: 4096, chunks: chunks)
        defer { ts.remove() }
        let v = ts.volume
        let keep = Data(repeating: 1, count: 10_000)      // 3 blocks: 2 identical full ones + a tail
        let drop = Data(repeating: 2, count: 8192)        // 1 distinct full block (both halves equal)
        try v.writeFile("/keep", data: keep)
        try v.writeFile("/drop", data: drop)
        XCTAssertEqual(try chunks.stats().chunks, 3)
        try v.remove("/drop")

        // within the grace period nothing goes, and a dry run never deletes
        var r = try ts.store.collectGarbage(grace: 3600, now: clock.now)
        XCTAssertEqual(r.chunksDeleted, 0)
        XCTAssertEqual(r.chunksInGrace, 1)
        clock.advance(7200)
        r = try ts.store.collectGarbage(grace: 3600, dryRun: true, now: clock.now)
        XCTAssertEqual(r.chunksDeleted, 1)
        XCTAssertEqual(r.bytesFreed, 4096)
        XCTAssertEqual(try chunks.stats().chunks, 3)

        // a writer re-storing the garbage content refreshes it: protected until its catalog commit
        _ = try chunks.put(Data(repeating: 2, count: 4096))
        r = try ts.store.collectGarbage(grace: 3600, now: clock.now)
        XCTAssertEqual(r.chunksDeleted, 0)
        XCTAssertEqual(r.chunksInGrace, 1)

        clock.advance(7200)
        r = try ts.store.collectGarbage(grace: 3600, now: clock.now)
        XCTAssertEqual(r, GCReport(volumesScanned: 1, chunksReferenced: 2, chunksDeleted: 1, bytesFreed: 4096, chunksInGrace: 0, dryRun: false))
        XCTAssertEqual(try v.readFile("/keep"), keep)
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testDeletedVolumesChunksBecomeGarbageButSharedOnesStay() throws {
        let ts = try TestStore(blockSize: 4096)
        defer { ts.remove() }
        let shared = Data(repeating: 7, count: 4096)
        let own = Data(repeating: 8, count: 4096)
        try ts.volume.writeFile("/shared", data: shared)
        let other = try ts.store.createVolume(owner: "t1", name: "other")
        let ov = try ts.store.volume(other.volumeId, owner: "t1")
        try ov.writeFiles([WriteEntry(path: "/shared", data: shared), WriteEntry(path: "/own", data: own)])
        try ts.store.deleteVolume(other.volumeId, owner: "t1")
        XCTAssertThrowsError(try ts.store.info(other.volumeId, owner: nil)) { XCTAssertEqual(($0 as? VolumeError)?.errno, ENOENT) }
        let r = try ts.store.collectGarbage(grace: 0)
        XCTAssertEqual(r.chunksDeleted, 1)
        XCTAssertEqual(r.bytesFreed, 4096)
        XCTAssertEqual(try ts.volume.readFile("/shared"), shared)
        XCTAssertFalse(try ts.store.chunks.contains(ChunkID.of(own)))
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testContentStoredAgainWhileGCRunsIsKept() throws {
        let chunkDir = try TemporaryDirectory("chunks")
        defer { chunkDir.remove() }
        let chunks = ListThenHook(try LocalChunkStore(root: chunkDir.url))
        let ts = try TestStore(chunks: chunks)
        defer { ts.remove() }
        let v = ts.volume
        let large = Data((0..<200_000).map { _ in UInt8.random(in: 0...255) })  // a chunk file
        let small = Data("a small file, packed".utf8)                           // a packed chunk
        try v.writeFile("/large", data: large)
        try v.writeFile("/small", data: small)
        try v.remove("/large")
        try v.remove("/small")
        // Garbage for an hour.
        let hourAgo = Date().addingTimeInterval(-3600)
        let hex = ChunkID.of(large).hex
        try FileManager.default.setAttributes([.modificationDate: hourAgo],
                                              ofItemAtPath: chunkDir.path + "/chunks/" + hex.prefix(2) + "/" + hex)
        try chunks.inner.small.db.write { db in
            try db.execute(sql: "UPDATE packed SET touched = ?", arguments: [Int64(hourAgo.timeIntervalSince1970)])
        }

        // Once gc has listed both as old garbage, and before it deletes them, a writer stores the
        // same content again (dedup: only their times are refreshed) and references it.
        chunks.afterListing = {
            try v.writeFile("/large-again", data: large)
            try v.writeFile("/small-again", data: small)
        }
        // No grace at all: only the second look at each chunk's time keeps them.
        let r = try ts.store.collectGarbage(grace: 0)
        XCTAssertEqual(r.chunksDeleted, 0)
        XCTAssertEqual(r.chunksInGrace, 2)
        XCTAssertEqual(try v.readFile("/large-again"), large)
        XCTAssertEqual(try v.readFile("/small-again"), small)
        XCTAssertEqual(try ts.fsckProblems(), [])

        // Garbage nobody stores again still goes.
        try v.remove("/large-again")
        try v.remove("/small-again")
        XCTAssertEqual(try ts.store.collectGarbage(grace: 0, now: Date().addingTimeInterval(60)).chunksDeleted, 2)
    }
}

/// A local chunk store that runs `afterListing` once, when gc has listed every chunk and before
/// it deletes any.
final class ListThenHook: WrappingChunkStore, @unchecked Sendable {
    let inner: LocalChunkStore
    var afterListing: (() throws -> Void)?

    init(_ inner: LocalChunkStore) { self.inner = inner }

    func forEach(_ body: (StoredChunk) throws -> Void) throws {
        try inner.forEach(body)
        if let hook = afterListing {
            afterListing = nil
            try hook()
        }
    }
}
