// A mount's view serves the attributes its process's own changes left without reading the catalog;
// they must always equal the catalog's, and another process's commit must drop them once polled.
import Foundation
import Synchronization
import VolumeTestSupport
import XCTest
@testable import VolumeCore

final class RecentAttributesTests: XCTestCase {
    private let who = Caller(uid: 0, gid: 0, origin: 3)

    /// Runs `body` on a fresh store without a commit window, then on one with a group that stays
    /// open, each with a view that serves recent attributes.
    private func withAndWithoutAGroup(_ body: (TestStore, MountView, Double) throws -> Void) throws {
        for window in [0, GroupCommitTests.longWindow] {
            let ts = try TestStore(commitWindow: window)
            defer { ts.remove() }
            try body(ts, try MountView(volume: ts.volume, recentAttributes: true), window)
        }
    }

    /// Every kind of change, through the view and through the files API (a group open or not):
    /// after each, what the view serves for the file and its directory equals a catalog read.
    func testServedAttributesAlwaysEqualTheCatalogs() throws {
        try withAndWithoutAGroup { ts, view, window in
            let vol = ts.volume
            let catalog = try MountView(volume: vol)
            let dir = try view.create(parent: MountView.rootIno, name: Data("d".utf8), kind: .directory, mode: 0o755, caller: who)
            var f = try view.create(parent: dir.ino, name: Data("f".utf8), kind: .file, mode: 0o644, caller: who)
            var served = 0
            func check(_ step: String, file: StaticString = #filePath, line: UInt = #line) throws {
                for ino in [f.ino, dir.ino, MountView.rootIno] {
                    if vol.recent.get(ino) != nil { served += 1 }
                    XCTAssertEqual(try view.getattr(ino), try catalog.getattr(ino), "inode \(ino) after \(step) (window \(window))",
                                   file: file, line: line)
                }
            }
            try check("create")
            try view.openCreated(f)
            _ = try view.write(f.ino, offset: 0, data: Data(repeating: 7, count: 5000), caller: who)
            try check("a buffered write")
            try view.flush(f.ino, caller: who)
            try check("flush")
            try view.release(f.ino, caller: who)
            _ = try view.setattr(f.ino, AttributeChanges(mode: 0o600, uid: 5, gid: 6), caller: who)
            try check("chmod and chown")
            _ = try view.setattr(f.ino, AttributeChanges(size: 100, atime: .at(1_000_000_000), mtime: .now), caller: who)
            try check("truncate and utimens")
            _ = try view.link(f.ino, newParent: MountView.rootIno, newName: Data("hard".utf8), caller: who)
            try check("link")
            try view.setxattr(f.ino, name: "user.k", value: Data("v".utf8), caller: who)
            try check("setxattr")
            try view.rename(parent: dir.ino, name: Data("f".utf8), newParent: dir.ino, newName: Data("g".utf8), caller: who)
            try check("rename")
            // An open for reading marks the atime (relatime), a change that reports no inode.
            _ = try view.open(f.ino, write: false, caller: who)
            try view.release(f.ino, caller: who)
            try check("relatime mark")
            // The files API in the same process.
            try vol.writeFile("/d/g", data: Data("rewritten through the files API".utf8))
            f = try catalog.lookup(parent: dir.ino, name: Data("g".utf8))
            try check("a files API write")
            try view.unlink(parent: MountView.rootIno, name: Data("hard".utf8), caller: who)
            try check("unlink of one name")
            try view.unlink(parent: dir.ino, name: Data("g".utf8), caller: who)
            XCTAssertThrowsError(try view.getattr(f.ino)) { XCTAssertEqual(($0 as? VolumeError)?.errno, ENOENT) }
            XCTAssertEqual(try view.getattr(dir.ino), try catalog.getattr(dir.ino))
            XCTAssertGreaterThan(served, 10, "the view must actually serve recent attributes")
            XCTAssertEqual(try ts.fsckProblems(), [])
        }
    }

    /// Without a view that reads them (a CLI or files API process), changes keep no attributes;
    /// with one they do, and when the last such view goes the map is emptied.
    func testAttributesAreKeptOnlyWhileAViewReadsThem() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let vol = ts.volume
        let plain = try MountView(volume: vol)
        let a = try plain.create(parent: MountView.rootIno, name: Data("a".utf8), kind: .file, mode: 0o644, caller: who)
        _ = try plain.setattr(a.ino, AttributeChanges(mode: 0o640), caller: who)
        XCTAssertNil(vol.recent.get(a.ino), "no view reads them: nothing kept")
        XCTAssertNil(vol.recent.get(MountView.rootIno))
        var view: MountView? = try MountView(volume: vol, recentAttributes: true)
        let b = try XCTUnwrap(view).create(parent: MountView.rootIno, name: Data("b".utf8), kind: .file, mode: 0o644, caller: who)
        XCTAssertEqual(vol.recent.get(MountView.rootIno), try plain.getattr(MountView.rootIno), "the directory a create changed")
        let chmodded = try XCTUnwrap(view).setattr(b.ino, AttributeChanges(mode: 0o640), caller: who)
        XCTAssertEqual(vol.recent.get(b.ino), chmodded)
        view = nil
        XCTAssertNil(vol.recent.get(b.ino), "the last reader gone: the map is emptied")
        XCTAssertNil(vol.recent.get(MountView.rootIno))
        _ = try plain.setattr(b.ino, AttributeChanges(mode: 0o600), caller: who)
        XCTAssertNil(vol.recent.get(b.ino))
    }

    /// A commit by another process (another store on the same directory) is served once the view's
    /// owner polls `foreignChanges`, as a FUSE mount's invalidator does every 0.2 s.
    func testAnotherProcessesCommitIsSeenOncePolled() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let vol = ts.volume
        let view = try MountView(volume: vol, recentAttributes: true)
        try vol.writeFile("/f", data: Data("mine".utf8))
        let ino = try vol.attributes(at: "/f").ino
        XCTAssertEqual(try view.getattr(ino).size, 4)
        XCTAssertNotNil(vol.recent.get(ino))

        let other = try ts.anotherProcess()
        defer { try? other.close() }
        try other.volume(ts.volumeID, owner: nil).writeFile("/f", data: Data("theirs, longer".utf8))
        XCTAssertEqual(try vol.foreignChanges(), 1)
        XCTAssertEqual(try view.getattr(ino).size, 14)
        // A view whose owner does not poll reads the catalog every time.
        try other.volume(ts.volumeID, owner: nil).writeFile("/f", data: Data("x".utf8))
        XCTAssertEqual(try MountView(volume: vol).getattr(ino).size, 1)
    }

    /// A poll running while this process commits never counts those commits as another process's
    /// (which would also empty the recent attributes): with a group open and without one.
    func testOwnCommitsAreNeverForeignWhilePolled() throws {
        try withAndWithoutAGroup { ts, view, window in
            let vol = ts.volume
            let poll = Poller()
            let polled = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                while !poll.stopped { poll.saw((try? vol.foreignChanges()) ?? -1) }
                polled.signal()
            }
            for i in 0..<1500 {
                _ = try view.create(parent: MountView.rootIno, name: Data("f\(i)".utf8), kind: .file, mode: 0o644, caller: who)
            }
            poll.stop()
            polled.wait()
            XCTAssertEqual(poll.worst, 0, "commits of this process counted as another's (window \(window))")
            XCTAssertEqual(try vol.foreignChanges(), 0)
        }
    }
}

/// What a polling thread saw of `foreignChanges`, and when it must stop.
private final class Poller: Sendable {
    private let state = Mutex<(stop: Bool, worst: Int64)>((false, 0))
    var stopped: Bool { state.withLock { $0.stop } }
    var worst: Int64 { state.withLock { $0.worst } }
    func stop() { state.withLock { $0.stop = true } }
    /// Records a count of foreign commits (-1: the read failed, which counts as worst).
    func saw(_ n: Int64) { state.withLock { $0.worst = n < 0 ? Int64.max : max($0.worst, n) } }
}
