// Group commits (a commit window, as mounts use): what this process sees at once, what others see
// after the group commits, failures confined to their own change, and chunks stored before rows.
import Foundation
import GRDB
@testable import VolumeCore
import VolumeTestSupport
import XCTest

final class GroupCommitTests: XCTestCase {
    /// A window far longer than any test: only an explicit sync or close commits the group.
    static let longWindow = 3600.0

    /// Another process's view of the same data directory (its own store and Volume object).
    func otherProcess(_ ts: TestStore) throws -> (VolumeStore, Volume) {
        let other = try ts.anotherProcess()
        return (other, try other.volume(ts.volumeID, owner: nil))
    }

    func testChangesShowHereAtOnceAndElsewhereOnlyOnceTheGroupCommits() throws {
        let ts = try TestStore(commitWindow: Self.longWindow)
        defer { ts.remove() }
        // Opened first: opening a volume writes, and writers of other processes wait for the group.
        let (other, theirs) = try otherProcess(ts)
        defer { try? other.close() }
        try ts.volume.writeFile("/a.txt", data: Data("hello".utf8))
        _ = try ts.volume.makeDirectory("/d")
        XCTAssertEqual(try ts.volume.readFile("/a.txt"), Data("hello".utf8), "this process reads its own group")
        XCTAssertTrue(try ts.volume.exists("/d"))
        XCTAssertFalse(try theirs.exists("/a.txt"), "nothing is committed before the group is")
        try ts.volume.sync()
        XCTAssertEqual(try theirs.readFile("/a.txt"), Data("hello".utf8))
        XCTAssertTrue(try theirs.exists("/d"))
        XCTAssertEqual(try theirs.statfs().usedBytes, 5)
    }

    func testTheWindowCommitsOnItsOwn() throws {
        let ts = try TestStore(commitWindow: 0.05)
        defer { ts.remove() }
        try ts.volume.writeFile("/timed", data: Data("x".utf8))
        let (other, theirs) = try otherProcess(ts)
        defer { try? other.close() }
        // Not a speed check: the deadline only keeps a broken timer from hanging the test.
        let deadline = Date().addingTimeInterval(10)
        while try !theirs.exists("/timed"), Date() < deadline { usleep(10_000) }
        XCTAssertTrue(try theirs.exists("/timed"), "the group committed without a sync")
    }

    func testAFailedChangeLeavesTheRestOfItsGroup() throws {
        let ts = try TestStore(cap: 1000, commitWindow: Self.longWindow)
        defer { ts.remove() }
        let (other, theirs) = try otherProcess(ts)
        defer { try? other.close() }
        try ts.volume.writeFile("/first", data: Data(count: 400))
        XCTAssertThrowsError(try ts.volume.makeDirectory("/first")) { XCTAssertEqual(($0 as? VolumeError)?.errno, EEXIST) }
        XCTAssertThrowsError(try ts.volume.writeFile("/big", data: Data(count: 700))) {
            XCTAssertEqual(($0 as? VolumeError)?.errno, EDQUOT, "the cap counts changes not yet committed")
        }
        try ts.volume.writeFile("/second", data: Data(count: 500))
        try ts.volume.sync()
        XCTAssertEqual(try theirs.readFile("/first").count, 400)
        XCTAssertEqual(try theirs.readFile("/second").count, 500)
        XCTAssertFalse(try theirs.exists("/big"))
        XCTAssertEqual(try theirs.statfs().usedBytes, 900)
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testADuplicateCreateFailsAloneAlsoInAGroup() throws {
        for window in [0, Self.longWindow] {
            let ts = try TestStore(commitWindow: window)
            defer { ts.remove() }
            let who = Caller(uid: 0, gid: 0, origin: 1)
            let root = MountView.rootIno
            let a = try ts.volume.create(parent: root, name: Data("a".utf8), kind: .file, mode: 0o644, caller: who)
            for kind in [FileKind.file, .directory, .symlink] {
                XCTAssertThrowsError(try ts.volume.create(parent: root, name: Data("a".utf8), kind: kind, mode: 0o600, caller: who,
                                                          target: kind == .symlink ? Data("t".utf8) : nil)) {
                    XCTAssertEqual($0 as? VolumeError, .alreadyExists("a"), "window \(window), \(kind)")
                }
            }
            let b = try ts.volume.create(parent: root, name: Data("b".utf8), kind: .file, mode: 0o644, caller: who)
            XCTAssertEqual(b.ino, a.ino + 1, "the failed creates' inodes were rolled back")
            try ts.volume.sync()
            XCTAssertEqual(try ts.volume.getattr(a.ino).mode, 0o644)
            XCTAssertEqual(try ts.volume.statfs().files, 2)
            XCTAssertEqual(try ts.volume.statfs().usedBytes, 0)
            XCTAssertEqual(try ts.fsckProblems(), [])
        }
    }

    func testAGroupSQLiteRollsBackWholeIsReportedLost() throws {
        let ts = try TestStore(commitWindow: Self.longWindow)
        defer { ts.remove() }
        try ts.volume.writeFile("/acknowledged", data: Data("x".utf8))
        // A full catalog: SQLite then rolls back the whole transaction, not just the failing statement.
        func limitPages(_ grow: Bool) throws {
            try ts.volume.pool.writeWithoutTransaction { db in
                let pages = try Int.fetchOne(db, sql: "PRAGMA page_count")!
                _ = try Int.fetchOne(db, sql: "PRAGMA max_page_count = \(grow ? 1 << 30 : pages)")
            }
        }
        try limitPages(false)
        let who = Caller(uid: 0, gid: 0, origin: 1)
        var failure: VolumeError?
        for i in 0..<10_000 where failure == nil {
            do {
                let name = Data("f\(i)-".utf8) + Data(repeating: UInt8(ascii: "n"), count: 200)
                _ = try ts.volume.create(parent: MountView.rootIno, name: name, kind: .file, mode: 0o644, caller: who)
            } catch {
                failure = error as? VolumeError
            }
        }
        XCTAssertEqual(failure?.errno, ENOSPC, "\(String(describing: failure))")
        try limitPages(true)
        XCTAssertFalse(try ts.volume.exists("/acknowledged"), "the whole group went")
        // With its cause: a writer told EIO would not know that freeing space is the cure.
        XCTAssertThrowsError(try ts.volume.sync(), "the next sync reports the lost group") { XCTAssertEqual(($0 as? VolumeError)?.errno, ENOSPC) }
        try ts.volume.writeFile("/after", data: Data("y".utf8))
        try ts.volume.sync()
        XCTAssertEqual(try ts.volume.readFile("/after"), Data("y".utf8))
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testSmallChunksWaitForTheGroupAndAreStoredBeforeIt() throws {
        let ts = try TestStore(commitWindow: Self.longWindow)
        defer { ts.remove() }
        let deferred = try XCTUnwrap(ts.store.chunks as? DeferredChunkStore, "a store with a commit window holds small chunks back")
        let data = Data("a small file's bytes".utf8)
        try ts.volume.writeFile("/small", data: data)
        let id = ChunkID.of(data)
        XCTAssertFalse(try deferred.inner.contains(id), "held back until the group commits")
        XCTAssertTrue(try deferred.contains(id))
        XCTAssertEqual(try ts.volume.readFile("/small"), data)
        try ts.volume.sync()
        XCTAssertTrue(try deferred.inner.contains(id), "stored by the time the group committed")
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    func testClosingTheStoreCommitsTheOpenGroup() throws {
        let ts = try TestStore(commitWindow: Self.longWindow)
        defer { ts.dir.remove() }
        try ts.volume.writeFile("/kept", data: Data("kept".utf8))
        try ts.store.close()
        let (other, theirs) = try otherProcess(ts)
        defer { try? other.close() }
        XCTAssertEqual(try theirs.readFile("/kept"), Data("kept".utf8))
        XCTAssertEqual(try other.fsck().flatMap(\.problems), [])
    }

    func testFullDurabilityNeverGroups() throws {
        let ts = try TestStore(durability: .full, commitWindow: Self.longWindow)
        defer { ts.remove() }
        try ts.volume.writeFile("/now", data: Data("now".utf8))
        let (other, theirs) = try otherProcess(ts)
        defer { try? other.close() }
        XCTAssertTrue(try theirs.exists("/now"), "with full durability every change commits on its own")
    }
}
