// One file written through a handle that holds buffered writes and, meanwhile, by a path write, a
// truncate or another process's handle: the result is one serial order of the writes, fsck clean.
import Foundation
import VolumeTestSupport
import XCTest
@testable import VolumeCore

final class ConcurrentWritersTests: XCTestCase {
    private let who = Caller(uid: 0, gid: 0, origin: 3)

    private func bytes(_ n: Int, seed: UInt8) -> Data { Data((0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }) }

    /// Writes `content` at `path` and opens the file there; returns its inode.
    private func openFile(_ v: Volume, _ path: String, _ content: Data) throws -> UInt64 {
        try v.writeFile(path, data: content)
        let ino = try v.attributes(at: path).ino
        try v.open(ino)
        return ino
    }

    /// The reproduction: a handle has a buffered write into an 8 KiB file, a path write
    /// replaces the file with 12 KiB, then the handle closes. The handle's write was made first,
    /// so the file is the path write's 12 KiB (it was 8 KiB with a block past its end before).
    func testAPathWriteOverAFileWithBufferedWritesComesAfterThem() throws {
        for batch in [false, true] {
            let ts = try TestStore(blockSize: 4096)
            defer { ts.remove() }
            let v = ts.volume
            let ino = try openFile(v, "/f", bytes(8192, seed: 1))
            try v.write(ino, offset: 0, data: Data(repeating: 0xEE, count: 100), caller: who)
            let new = bytes(12288, seed: 2)
            if batch {
                try v.writeFiles([WriteEntry(path: "/f", data: new), WriteEntry(path: "/other", data: Data("x".utf8))])
            } else {
                try v.writeFile("/f", data: new)
            }
            XCTAssertEqual(try v.read(ino, offset: 0, count: 20_000), new, "the handle reads the new file (batch: \(batch))")
            try v.release(ino, caller: who)
            XCTAssertEqual(try v.readFile("/f"), new, "batch: \(batch)")
            XCTAssertEqual(try v.statfs().usedBytes, Int64(new.count + (batch ? 1 : 0)))
            XCTAssertEqual(try ts.fsckProblems(), [], "batch: \(batch)")
        }
    }

    /// A handle in this process holds a buffered 100-byte write at offset 0 of an 8 KiB file; in
    /// another process the file is changed (appended to through a handle that closes, truncated,
    /// or replaced by a path write); then the handle here closes. Its write takes effect at that
    /// close, over the file as the other process left it: nothing the other process acknowledged
    /// is lost. (The append was lost before: the close wrote the 8 KiB size it had read.)
    func testABufferedWriteLandsOverWhatAnotherProcessCommittedMeanwhile() throws {
        let mine = Data(repeating: 0xEE, count: 100)
        let old = bytes(8192, seed: 1)
        let cases: [(String, (Volume, UInt64) throws -> Void, Data)] = [
            ("append 4 KiB through a handle", { v, ino in
                try v.open(ino)
                try v.write(ino, offset: 8192, data: self.bytes(4096, seed: 3), caller: .root)
                try v.release(ino, caller: .root)
            }, mine + old.dropFirst(100) + bytes(4096, seed: 3)),
            ("truncate to 50", { v, ino in try v.truncate(ino, to: 50, caller: .root) }, mine),
            ("truncate to 0, write at 6000", { v, ino in
                try v.truncate(ino, to: 0, caller: .root)
                try v.open(ino)
                try v.write(ino, offset: 6000, data: Data("theirs".utf8), caller: .root)
                try v.release(ino, caller: .root)
            }, mine + Data(count: 5900) + Data("theirs".utf8)),
            ("write the path with 12 KiB", { v, _ in try v.writeFile("/g", data: self.bytes(12288, seed: 4)) },
             mine + bytes(12288, seed: 4).dropFirst(100)),
        ]
        for blockSize in [StoreOptions.defaultBlockSize, 4096] {
            for (label, change, want) in cases {
                let what = "\(label), block size \(blockSize)"
                let ts = try TestStore(blockSize: blockSize)
                defer { ts.remove() }
                let v = ts.volume
                let ino = try openFile(v, "/g", old)
                XCTAssertEqual(try v.read(ino, offset: 0, count: 10), old.prefix(10))
                try v.write(ino, offset: 0, data: mine, caller: who)

                let other = try ts.anotherProcess()
                defer { try? other.close() }
                let theirs = try other.volume(ts.volumeID, owner: nil)
                try change(theirs, ino)

                try v.release(ino, caller: who)
                XCTAssertEqual(try v.readFile("/g"), want, what)
                XCTAssertEqual(try theirs.readFile("/g"), want, "\(what), read by the other process")
                XCTAssertEqual(try v.statfs().usedBytes, Int64(want.count), what)
                XCTAssertEqual(try ts.fsckProblems(), [], what)
            }
        }
    }

    /// A commit that laid its writes over another process's change tells every observer, the
    /// committing mount's own too (a mount ignores events of its own origin, since its kernel
    /// made those changes; this content its kernel did not make, so it must drop its cached size).
    func testACommitOverAnotherWritersChangeIsAnnouncedToItsOwnMountToo() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let v = ts.volume
        try v.writeFile("/g", data: bytes(8192, seed: 1))
        let ino = try v.attributes(at: "/g").ino
        let mount = Caller(uid: 0, gid: 0, origin: 7)
        try v.open(ino)
        try v.write(ino, offset: 0, data: Data(repeating: 0xEE, count: 100), caller: mount)
        let other = try ts.anotherProcess()
        defer { try? other.close() }
        try other.volume(ts.volumeID, owner: nil).truncate(ino, to: 20_000, caller: .root)

        let heard = Heard()
        let token = v.addObserver { event, origin in if case .inode(ino) = event { heard.add(origin) } }
        defer { v.removeObserver(token) }
        try v.release(ino, caller: mount)
        XCTAssertTrue(heard.origins.contains { $0 != mount.origin }, "origins heard: \(heard.origins)")
        XCTAssertEqual(try v.attributes(at: "/g").size, 20_000)
    }

    /// After a poll has seen another process's commit, a flush here must not swallow the reload
    /// it asked for: a still-open file then reads the other process's bytes, in a block this
    /// process never wrote (it kept reading the old ones).
    func testAFlushAfterAPollKeepsTheReloadItAskedFor() throws {
        let ts = try TestStore(blockSize: 4096)
        defer { ts.remove() }
        let v = ts.volume
        let old = bytes(8192, seed: 1)
        let ino = try openFile(v, "/f", old)
        XCTAssertEqual(try v.read(ino, offset: 0, count: 8192), old)
        try v.write(ino, offset: 0, data: Data("mine".utf8), caller: who)

        let other = try ts.anotherProcess()
        defer { try? other.close() }
        let theirs = try other.volume(ts.volumeID, owner: nil)
        try theirs.open(ino)
        try theirs.write(ino, offset: 5000, data: Data("theirs".utf8), caller: .root)
        try theirs.release(ino, caller: .root)

        XCTAssertEqual(try v.foreignChanges(), 1)
        try v.flush(ino, caller: who)
        XCTAssertEqual(try v.read(ino, offset: 5000, count: 6), Data("theirs".utf8), "block 1 reloaded after the poll")
        XCTAssertEqual(try v.read(ino, offset: 0, count: 4), Data("mine".utf8))
        try v.release(ino, caller: who)
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    /// A block buffered here, read whole, that another process changes elsewhere in the block:
    /// once the poll has seen it, reads through the handle show the other process's bytes around
    /// the ones written here, before and after the commit.
    func testABufferedBlockShowsAnotherProcesssBytesAroundItsOwnAfterThePoll() throws {
        let ts = try TestStore(blockSize: 4096)
        defer { ts.remove() }
        let v = ts.volume
        let ino = try openFile(v, "/f", bytes(4096, seed: 1))
        try v.write(ino, offset: 0, data: Data("mine".utf8), caller: who)
        _ = try v.read(ino, offset: 0, count: 4096)   // the block is read and buffered whole

        let other = try ts.anotherProcess()
        defer { try? other.close() }
        try other.volume(ts.volumeID, owner: nil).writeFile("/f", data: Data(repeating: 7, count: 6000))

        XCTAssertEqual(try v.foreignChanges(), 1)
        let want = Data("mine".utf8) + Data(repeating: 7, count: 5996)
        XCTAssertEqual(try v.read(ino, offset: 0, count: 10_000), want, "before the commit")
        try v.release(ino, caller: who)
        XCTAssertEqual(try v.readFile("/f"), want, "after it")
        XCTAssertEqual(try ts.fsckProblems(), [])
    }
}

/// Origins of the change events an observer heard.
private final class Heard: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [Int] = []
    var origins: [Int] { lock.withLock { list } }
    func add(_ origin: Int) { lock.withLock { list.append(origin) } }
}
