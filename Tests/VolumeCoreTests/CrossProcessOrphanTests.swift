// A file another process unlinks stays readable and writable through the handles open here until
// the last one closes, and is then deleted; the open marks behind it (OpenMarks) on their own.
import Foundation
import GRDB
import VolumeTestSupport
import XCTest
@testable import VolumeCore

final class CrossProcessOrphanTests: XCTestCase {
    private let who = Caller(uid: 0, gid: 0, origin: 5)

    private func orphanRows(_ ts: TestStore) throws -> Int {
        try DatabaseQueue(path: ts.store.catalogPath(ts.volumeID)).read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM orphan") ?? -1 }
    }

    /// Another store on the same directory stands for another process (its marks are another
    /// open file description). It removes a file open here: the handle keeps reading and writing
    /// the file's bytes, and the file goes when the handle is released, whether or not this
    /// process's poll saw the removal first, with and without a commit window.
    func testAFileAnotherProcessRemovesStaysUsableUntilItsLastClose() throws {
        for window in [0, StoreOptions.mountCommitWindow] {
            for pollFirst in [true, false] {
                let label = "window \(window), poll before close: \(pollFirst)"
                let ts = try TestStore(commitWindow: window)
                defer { ts.remove() }
                let vol = ts.volume
                // A polled view, as a FUSE mount's.
                let view = try MountView(volume: vol, recentAttributes: true)
                let payload = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 7) })
                try vol.writeFile("/f", data: payload)
                try vol.sync()
                let ino = try vol.attributes(at: "/f").ino
                _ = try view.open(ino, write: true, caller: who)
                // The open marks the file accessed (relatime), a change of its own: committed now,
                // or the other process, opened within the commit window, counts it as foreign.
                try vol.sync()

                let other = try ts.anotherProcess()
                defer { try? other.close() }
                try other.volume(ts.volumeID, owner: nil).remove("/f")
                XCTAssertFalse(try other.volume(ts.volumeID, owner: nil).exists("/f"), label)
                XCTAssertEqual(try orphanRows(ts), 1, "kept as an orphan while open elsewhere (\(label))")
                // A commit here, which the other process's poll sees: its reap must leave the file alone.
                _ = try vol.makeDirectory("/d")
                try vol.sync()
                XCTAssertEqual(try other.volume(ts.volumeID, owner: nil).foreignChanges(), 1, label)
                XCTAssertEqual(try orphanRows(ts), 1, "reaped while open here (\(label))")

                if pollFirst { XCTAssertEqual(try vol.foreignChanges(), 1, label) }
                XCTAssertEqual(try view.read(ino, offset: 0, count: payload.count), payload, label)
                XCTAssertEqual(try view.write(ino, offset: 10, data: Data("patched".utf8), caller: who), 7, label)
                try view.flush(ino, caller: who)
                XCTAssertEqual(try view.read(ino, offset: 10, count: 7), Data("patched".utf8), label)
                XCTAssertEqual(try orphanRows(ts), 1, "a poll does not delete a file still open here (\(label))")

                try view.release(ino, caller: who)
                if !pollFirst { _ = try vol.foreignChanges() }
                try vol.sync()
                XCTAssertEqual(try orphanRows(ts), 0, label)
                XCTAssertThrowsError(try vol.getattr(ino), label)
                XCTAssertEqual(try vol.statfs().usedBytes, 0, label)
                XCTAssertEqual(try ts.fsckProblems(), [], label)
            }
        }
    }

    /// A rename by another process over a file open here replaces its name but not its bytes.
    func testARenameOverAFileOpenHereKeepsItsBytesForTheHandle() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let vol = ts.volume
        let view = try MountView(volume: vol, recentAttributes: true)
        try vol.writeFile("/target", data: Data("old bytes".utf8))
        let ino = try vol.attributes(at: "/target").ino
        _ = try view.open(ino, write: false, caller: who)
        let other = try ts.anotherProcess()
        defer { try? other.close() }
        let theirs = try other.volume(ts.volumeID, owner: nil)
        try theirs.writeFile("/new", data: Data("new bytes!".utf8))
        try theirs.move("/new", to: "/target", overwrite: true)
        XCTAssertEqual(try view.read(ino, offset: 0, count: 100), Data("old bytes".utf8))
        XCTAssertEqual(try vol.readFile("/target"), Data("new bytes!".utf8))
        try view.release(ino, caller: who)
        _ = try vol.foreignChanges()  // the mount's poll
        XCTAssertEqual(try orphanRows(ts), 0)
        XCTAssertEqual(try vol.statfs().usedBytes, 10)
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    /// A deletion's lock is released once its transaction ends, with and without a commit window,
    /// for a removal and for the last release of a file unlinked while open: a lock left behind
    /// would hold up every later open of that inode number.
    func testDeletionLocksAreReleasedWhenTheirTransactionEnds() throws {
        for window in [0, StoreOptions.mountCommitWindow] {
            for closedLast in [false, true] {
                let ts = try TestStore(commitWindow: window)
                defer { ts.remove() }
                let vol = ts.volume
                let probe = try OpenMarks(path: ts.store.catalogPath(ts.volumeID) + "-opens")
                try vol.writeFile("/a", data: Data("a".utf8))
                let ino = try vol.attributes(at: "/a").ino
                if closedLast {
                    // Polled, as a mount's: the last release must know the orphan is its own.
                    let view = try MountView(volume: vol, recentAttributes: true)
                    _ = try view.open(ino, write: true, caller: who)
                    try view.unlink(parent: MountView.rootIno, name: Data("a".utf8), caller: who)
                    try view.release(ino, caller: who)
                } else {
                    try vol.remove("/a")
                }
                try vol.sync()
                XCTAssertThrowsError(try vol.getattr(ino))
                XCTAssertTrue(probe.beginDeletion(ino), "window \(window), closed last \(closedLast): the deletion lock is still held")
                probe.endDeletions([ino])
            }
        }
    }

    /// The locks themselves, through two sets of marks on one file (two open file descriptions, as
    /// two processes have): a mark stops a deletion until its last handle drops it, and a deletion
    /// in flight holds up an open until it ends.
    func testMarksStopDeletionsAndDeletionsHoldUpOpens() throws {
        let dir = try TemporaryDirectory("marks")
        defer { dir.remove() }
        let path = dir.url.appendingPathComponent("v.sqlite-opens").path
        let mine = try OpenMarks(path: path), theirs = try OpenMarks(path: path)

        try mine.hold(42)
        try mine.hold(42)
        XCTAssertFalse(theirs.beginDeletion(42), "held open by two handles")
        XCTAssertTrue(theirs.beginDeletion(43), "another inode is not held")
        theirs.endDeletions([43])
        mine.drop(42)
        XCTAssertFalse(theirs.beginDeletion(42), "one handle is still open")
        mine.drop(42)
        XCTAssertTrue(theirs.beginDeletion(42), "the last handle closed")

        // An open of 42 now waits until the deletion ends.
        let opened = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            try? mine.hold(42)
            opened.signal()
        }
        XCTAssertEqual(opened.wait(timeout: .now() + 0.3), .timedOut, "the open went ahead of a deletion in flight")
        theirs.endDeletions([42])
        XCTAssertEqual(opened.wait(timeout: .now() + 20), .success)
        XCTAssertFalse(theirs.beginDeletion(42), "held again once the open went through")
        mine.drop(42)
        XCTAssertTrue(theirs.beginDeletion(42))
        theirs.endDeletions([42])

        // A transaction's deletions end together, each run of numbers at once; others stay locked.
        for ino in UInt64(10)...14 { XCTAssertTrue(theirs.beginDeletion(ino)) }
        theirs.endDeletions([14, 10, 12, 11])
        for ino in [UInt64(10), 11, 12, 14] {
            XCTAssertTrue(mine.beginDeletion(ino), "inode \(ino) is still locked")
            mine.endDeletions([ino])
        }
        XCTAssertFalse(mine.beginDeletion(13), "inode 13 was not among those ended")
        theirs.endDeletions([13])
    }
}
