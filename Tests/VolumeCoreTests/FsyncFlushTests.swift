// fsync flushes the chunk store (one syncfs of the data directory) once, not once in the commit
// and again after it.
import Foundation
import Synchronization
import VolumeCore
import VolumeTestSupport
import XCTest

/// A local chunk store that counts its flushes (`sync`, one `syncfs` each).
final class SyncCountingChunkStore: WrappingChunkStore {
    let inner: LocalChunkStore
    let syncs = Atomic<Int>(0)

    init(root: URL) throws { inner = try LocalChunkStore(root: root) }

    func sync() throws {
        syncs.add(1, ordering: .relaxed)
        try inner.sync()
    }
}

final class FsyncFlushTests: XCTestCase {
    /// An fsync of a file with buffered writes, and one with nothing buffered, each flush the
    /// chunk store once, in both durability modes and with a mount's commit window; the data is
    /// then in the catalog.
    func testFsyncFlushesTheChunkStoreOnce() throws {
        let modes: [(Durability, Double)] = [(.relaxed, 0), (.relaxed, StoreOptions.mountCommitWindow), (.full, 0)]
        for (durability, window) in modes {
            let label = "\(durability), window \(window)"
            let dir = try TemporaryDirectory("fsync")
            defer { dir.remove() }
            let chunks = try SyncCountingChunkStore(root: dir.url.appendingPathComponent("chunks"))
            let ts = try TestStore(durability: durability, chunks: chunks, commitWindow: window)
            defer { ts.remove() }
            let v = ts.volume
            try v.writeFile("/f", data: Data(repeating: 1, count: 200_000))
            let ino = try v.attributes(at: "/f").ino
            let who = Caller(uid: 0, gid: 0, origin: 1)
            try v.open(ino)
            try v.write(ino, offset: 10, data: Data(repeating: 2, count: 100_000), caller: who)

            let before = chunks.syncs.load(ordering: .relaxed)
            try v.fsync(ino, caller: who)
            XCTAssertEqual(chunks.syncs.load(ordering: .relaxed) - before, 1, "fsync with buffered writes (\(label))")

            let again = chunks.syncs.load(ordering: .relaxed)
            try v.fsync(ino, caller: who)
            XCTAssertEqual(chunks.syncs.load(ordering: .relaxed) - again, 1, "fsync with nothing buffered (\(label))")

            try v.release(ino, caller: who)
            XCTAssertEqual(try v.readFile("/f"), Data(repeating: 1, count: 10) + Data(repeating: 2, count: 100_000) + Data(repeating: 1, count: 99_990), label)
            XCTAssertEqual(try ts.fsckProblems(), [], label)
        }
    }
}
