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
}
