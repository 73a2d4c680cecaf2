// The chunk layout's three promises: a small random write re-stores one block, identical content is stored once, small files are packed.
import Foundation
import XCTest
@testable import VolumeCore
import VolumeTestSupport

final class ChunkLayoutTests: XCTestCase {
    func testRandomSmallWriteRestoresOnlyTheAffectedBlock() throws {
        let block = 64 * 1024
        let ts = try TestStore(blockSize: block)
        defer { ts.remove() }
        let v = ts.volume
        var rng = SplitMix64(seed: 5)
        var bytes = Data(count: 64 * block)
        for i in stride(from: 0, to: bytes.count, by: 8) { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
        try v.writeFile("/big", data: bytes)
        let before = try ts.store.chunks.stats()
        XCTAssertEqual(before.chunks, 64)
        let ino = try v.attributes(at: "/big").ino
        try v.open(ino)
        let patch = Data(repeating: 0xAB, count: 4096)
        try v.write(ino, offset: Int64(37 * block + 1000), data: patch, caller: .root)
        try v.release(ino, caller: .root)
        let after = try ts.store.chunks.stats()
        XCTAssertEqual(after.chunks, 65, "one new chunk for the one block touched")
        XCTAssertEqual(after.bytes - before.bytes, Int64(block), "the new chunk is one block, not the file")
        bytes.replaceSubrange((37 * block + 1000)..<(37 * block + 5096), with: patch)
        XCTAssertEqual(try v.readFile("/big"), bytes)
        // a write straddling two blocks re-stores exactly those two
        try v.open(ino)
        try v.write(ino, offset: Int64(10 * block - 2048), data: patch, caller: .root)
        try v.release(ino, caller: .root)
        XCTAssertEqual(try ts.store.chunks.stats().chunks, 67)
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testIdenticalContentInAnotherVolumeIsStoredOnce() throws {
        let ts = try TestStore(blockSize: 64 * 1024)
        defer { ts.remove() }
        let data = Data((0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) })
        try ts.volume.writeFile("/a/model.bin", data: data, createParents: true)
        let once = try ts.store.chunks.stats()
        let other = try ts.store.volume(try ts.store.createVolume(owner: "t2", name: "copy").volumeId, owner: "t2")
        try other.writeFile("/elsewhere.bin", data: data)
        try ts.volume.writeFile("/a/copy.bin", data: data)
        XCTAssertEqual(try ts.store.chunks.stats(), once)
        XCTAssertEqual(try other.readFile("/elsewhere.bin"), data)
    }

    func testManySmallFilesAreNotManyFilesOnDisk() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let chunkDir = ts.dir.url.appendingPathComponent("chunks")
        func filesOnDisk() -> Int { FileManager.default.enumerator(atPath: chunkDir.path)!.allObjects.count }
        let before = filesOnDisk()
        for batch in 0..<10 {
            try ts.volume.writeFiles((0..<1000).map { WriteEntry(path: "/d\(batch)/f\($0)", data: Data("small file \(batch)-\($0)".utf8)) },
                                     createParents: true)
        }
        XCTAssertEqual(try ts.volume.statfs().files, 10_000)
        XCTAssertEqual(try ts.store.chunks.stats().chunks, 10_000)
        XCTAssertLessThanOrEqual(filesOnDisk(), before + 2, "10,000 small chunks live in a pack file indexed by small.sqlite, not as files")
        XCTAssertEqual(try ts.volume.readFile("/d7/f123"), Data("small file 7-123".utf8))
    }
}
