// The write-back buffer under random and sequential writes: whole blocks kept as given, partial
// writes into stored blocks kept as patches until the block is needed, reads and commits in between.
import Foundation
import Synchronization
import VolumeCore
import VolumeTestSupport
import XCTest

/// A chunk store whose puts fail with ENOSPC while `full` is set.
final class SwitchedFullChunkStore: WrappingChunkStore {
    let inner = MemoryChunkStore()
    let full = Atomic<Bool>(false)

    func put(_ data: Data) throws -> ChunkID {
        if full.load(ordering: .relaxed) { throw VolumeError.io("write chunk", errno: ENOSPC) }
        return try inner.put(data)
    }
}

/// A memory chunk store that records what readers asked it to load ahead.
final class PrefetchRecordingChunkStore: WrappingChunkStore {
    let inner = MemoryChunkStore()
    let asked = Mutex<[ChunkID]>([])

    func prefetch(_ ids: [ChunkID]) { asked.withLock { $0 += ids } }
}

/// A memory chunk store that counts whole-chunk reads not yet followed by as many puts: the
/// blocks a commit holds in memory at once.
final class HeldBlocksChunkStore: WrappingChunkStore {
    let inner = MemoryChunkStore()
    private let counts = Mutex<(held: Int, most: Int)>((0, 0))
    var most: Int { counts.withLock { $0.most } }

    func read(_ id: ChunkID) throws -> Data {
        counts.withLock { $0.held += 1; $0.most = max($0.most, $0.held) }
        return try inner.read(id)
    }

    func put(_ data: Data) throws -> ChunkID {
        counts.withLock { $0.held = max(0, $0.held - 1) }
        return try inner.put(data)
    }

    func reset() { counts.withLock { $0 = (0, 0) } }
}

final class WritePathTests: XCTestCase {
    private struct Rng: RandomNumberGenerator {
        var s: UInt64
        mutating func next() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Writes `data` to `/f` of `vol` and opens it: its inode and the caller of the calls that follow.
    private func openFile(_ vol: Volume, _ data: Data) throws -> (ino: UInt64, caller: Caller) {
        try vol.writeFile("/f", data: data)
        let ino = try vol.attributes(at: "/f").ino
        try vol.open(ino)
        return (ino, Caller(uid: 0, gid: 0, origin: 1))
    }

    /// Random writes, reads, flushes and truncates on one open file, checked against a byte array.
    private func randomWrites(blockSize: Int, seed: UInt64, steps: Int) throws {
        let ts = try TestStore(blockSize: blockSize)
        defer { ts.remove() }
        let vol = ts.volume
        var rng = Rng(s: seed)
        var model = [UInt8]((0..<(3 * blockSize + 123)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let (ino, c) = try openFile(vol, Data(model))
        for step in 0..<steps {
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<60:
                // A third of the writes append, as a sequential writer does (new blocks then fill in order).
                let off = Int.random(in: 0..<3, using: &rng) == 0 ? model.count : Int.random(in: 0...(model.count + blockSize / 2), using: &rng)
                let n = Int.random(in: 1...min(9000, blockSize + 7), using: &rng)
                let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
                try vol.write(ino, offset: Int64(off), data: Data(bytes), caller: c)
                if model.count < off + n { model += [UInt8](repeating: 0, count: off + n - model.count) }
                model.replaceSubrange(off..<(off + n), with: bytes)
            case 60..<85:
                let off = Int.random(in: 0...model.count, using: &rng)
                let n = Int.random(in: 0...(2 * blockSize), using: &rng)
                let got = try vol.read(ino, offset: Int64(off), count: n)
                XCTAssertEqual(got, Data(model[off..<min(model.count, off + n)]), "seed \(seed) step \(step): read \(off)+\(n)")
            case 85..<92:
                try vol.flush(ino, caller: c)
            case 92..<96:
                let size = Int.random(in: 0...(model.count + blockSize), using: &rng)
                try vol.truncate(ino, to: Int64(size), caller: c)
                if size < model.count { model.removeSubrange(size...) } else { model += [UInt8](repeating: 0, count: size - model.count) }
            default:
                XCTAssertEqual(try vol.getattr(ino).size, Int64(model.count), "seed \(seed) step \(step): size")
            }
        }
        try vol.release(ino, caller: c)
        XCTAssertEqual(try vol.readFile("/f"), Data(model), "seed \(seed): final content")
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testRandomWritesWithSmallBlocks() throws {
        for seed: UInt64 in [1, 2, 3] { try randomWrites(blockSize: 4096, seed: seed, steps: 1500) }
    }

    func testRandomWritesWithDefaultBlocks() throws {
        try randomWrites(blockSize: StoreOptions.defaultBlockSize, seed: 9, steps: 400)
    }

    func testASequentialWriterInPiecesSmallerThanABlockStoresEachBlockOnceItIsFull() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let vol = ts.volume
        let bs = vol.blockSize
        XCTAssertGreaterThan(bs, 1 << 20, "the default block is larger than a FUSE write")
        let (ino, c) = try openFile(vol, Data())
        var rng = Rng(s: 5)
        let content = Data((0..<((2 * bs + 300_000) / 8)).flatMap { _ in withUnsafeBytes(of: rng.next()) { Array($0) } })
        let piece = 1 << 20
        var off = 0
        while off < 2 * bs {
            try vol.write(ino, offset: Int64(off), data: content.subdata(in: off..<(off + piece)), caller: c)
            off += piece
        }
        // The two full blocks go to the store while the file is open; nothing is committed yet.
        XCTAssertTrue(try eventually { try ts.store.chunks.stats().chunks >= 2 })
        let other = try ts.anotherProcess()
        defer { try? other.close() }
        XCTAssertEqual(try other.volume(ts.volumeID, owner: "t1").readFile("/f"), Data(), "nothing is committed before the close")
        // Half a block in two pieces, with a read of the block being filled in between.
        try vol.write(ino, offset: Int64(off), data: content.subdata(in: off..<(off + 200_000)), caller: c)
        XCTAssertEqual(try vol.read(ino, offset: Int64(off - 10), count: 1000), content.subdata(in: (off - 10)..<(off + 990)))
        try vol.write(ino, offset: Int64(off + 200_000), data: content.subdata(in: (off + 200_000)..<content.count), caller: c)
        XCTAssertEqual(try vol.read(ino, offset: 0, count: content.count), content, "read before the commit")
        try vol.release(ino, caller: c)
        XCTAssertEqual(try vol.readFile("/f"), content)
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testAWriteOutOfOrderIntoABlockBeingFilledKeepsBothWrites() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let vol = ts.volume
        let bs = vol.blockSize
        let (ino, c) = try openFile(vol, Data())
        var model = Data(count: bs + 5000)
        func write(_ off: Int, _ n: Int, _ byte: UInt8) throws {
            try vol.write(ino, offset: Int64(off), data: Data(repeating: byte, count: n), caller: c)
            model.replaceSubrange(off..<(off + n), with: Data(repeating: byte, count: n))
        }
        try write(0, 1 << 20, 1)             // starts filling block 0 in order
        try write(3 << 20, 100_000, 2)       // past the fill's end: leaves a hole
        try write(1 << 20, 1 << 20, 3)       // back in order, after the fill was given up
        try write(100, 10, 4)                // over bytes already written
        try write(bs - 1000, 6000, 5)        // across the block's end into the next block
        try vol.flush(ino, caller: c)
        XCTAssertEqual(try vol.read(ino, offset: 0, count: model.count), model)
        try vol.release(ino, caller: c)
        XCTAssertEqual(try vol.readFile("/f"), model)
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testManySmallWritesIntoOneStoredBlockReadItOnce() throws {
        let ts = try TestStore(blockSize: 64 * 1024)
        defer { ts.remove() }
        let vol = ts.volume
        let (ino, c) = try openFile(vol, Data(repeating: 1, count: 64 * 1024))
        for i in 0..<16 { try vol.write(ino, offset: Int64(i * 4096 + 100), data: Data(repeating: 2, count: 10), caller: c) }
        try vol.release(ino, caller: c)
        let d = try vol.readFile("/f")
        XCTAssertEqual(d.count, 64 * 1024)
        XCTAssertEqual(d[4096 + 100], 2)
        XCTAssertEqual(d[4096 + 110], 1)
        XCTAssertEqual(d.filter { $0 == 2 }.count, 160)
    }

    func testACommitOfSmallWritesAllOverALargeFileReadsItsBlocksAGroupAtATime() throws {
        let chunks = HeldBlocksChunkStore()
        let bs = 32 << 20 // two blocks to a group (`Volume.maxDirtyBytes`)
        let ts = try TestStore(blockSize: bs, chunks: chunks)
        defer { ts.remove() }
        let vol = ts.volume
        // Six stored blocks, each holding a short chunk (the file is sparse), so the test stays small.
        let (ino, c) = try openFile(vol, Data())
        for i in 0..<6 { try vol.write(ino, offset: Int64(i * bs), data: Data(repeating: UInt8(i + 1), count: 4096), caller: c) }
        try vol.release(ino, caller: c)
        try vol.open(ino)
        for i in 0..<6 { try vol.write(ino, offset: Int64(i * bs + 100), data: Data(repeating: 9, count: 4), caller: c) }
        chunks.reset()
        try vol.release(ino, caller: c)
        XCTAssertEqual(chunks.most, 2, "each block is read, patched and stored before the next group is read")
        for i in 0..<6 {
            var want = Data(repeating: UInt8(i + 1), count: 4096)
            want.replaceSubrange(100..<104, with: Data(repeating: 9, count: 4))
            XCTAssertEqual(try vol.read(ino, offset: Int64(i * bs), count: 4096), want, "block \(i)")
        }
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testAWholeBlockWriteReplacesEarlierPatchesOfThatBlock() throws {
        let ts = try TestStore(blockSize: 4096)
        defer { ts.remove() }
        let vol = ts.volume
        let (ino, c) = try openFile(vol, Data(repeating: 1, count: 2 * 4096))
        try vol.write(ino, offset: 100, data: Data(repeating: 2, count: 10), caller: c)
        try vol.write(ino, offset: 0, data: Data(repeating: 3, count: 4096), caller: c)
        XCTAssertEqual(try vol.read(ino, offset: 0, count: 4096), Data(repeating: 3, count: 4096), "read before the commit")
        try vol.release(ino, caller: c)
        XCTAssertEqual(try vol.readFile("/f"), Data(repeating: 3, count: 4096) + Data(repeating: 1, count: 4096))
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testBlocksStoredInTheBackgroundAreReadableAndSurviveAFailedStore() throws {
        let chunks = SwitchedFullChunkStore()
        let ts = try TestStore(blockSize: 4096, chunks: chunks)
        defer { ts.remove() }
        let vol = ts.volume
        let (ino, c) = try openFile(vol, Data())
        let content = Data((0..<(10 * 4096)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 12) })
        chunks.full.store(true, ordering: .relaxed)
        // Whole blocks go to background stores, which fail: the writes themselves succeed.
        for i in 0..<10 {
            try vol.write(ino, offset: Int64(i * 4096), data: content.subdata(in: (i * 4096)..<((i + 1) * 4096)), caller: c)
        }
        XCTAssertEqual(try vol.read(ino, offset: 0, count: content.count), content, "buffered blocks read back")
        XCTAssertThrowsError(try vol.flush(ino, caller: c), "the commit stores the blocks again and reports the full disk") { e in
            XCTAssertEqual((e as? VolumeError)?.errno, ENOSPC)
        }
        XCTAssertEqual(try vol.read(ino, offset: 0, count: content.count), content, "and nothing was lost")
        chunks.full.store(false, ordering: .relaxed)
        try vol.flush(ino, caller: c)
        try vol.release(ino, caller: c)
        XCTAssertEqual(try vol.readFile("/f"), content)
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testASequentialReaderGetsTheNextBlocksLoadedAheadOnce() throws {
        let chunks = PrefetchRecordingChunkStore()
        let ts = try TestStore(blockSize: 4096, chunks: chunks)
        defer { ts.remove() }
        let vol = ts.volume
        // 8 blocks, each with its own content, so each is its own chunk.
        let content = Data((0..<(8 * 4096)).map { UInt8(truncatingIfNeeded: $0 >> 12 &+ 1) })
        let (ino, c) = try openFile(vol, content)
        let blockIDs = try (0..<8).map { ChunkID.of(content.subdata(in: ($0 * 4096)..<(($0 + 1) * 4096))) }
        defer { try? vol.release(ino, caller: c) }

        XCTAssertEqual(try vol.read(ino, offset: 5 * 4096 + 7, count: 100), content.subdata(in: (5 * 4096 + 7)..<(5 * 4096 + 107)))
        XCTAssertEqual(chunks.asked.withLock { $0 }, [], "a read in the middle is not sequential: nothing is loaded ahead")

        var got = Data()
        for i in 0..<8 { got += try vol.read(ino, offset: Int64(i * 4096), count: 4096) }
        XCTAssertEqual(got, content)
        XCTAssertEqual(chunks.asked.withLock { $0 }, Array(blockIDs[1...]), "each later block is asked for once, in order")
    }
}
