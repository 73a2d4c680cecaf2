// Telling this process's commits from other processes' ones, and relatime access marks.
import Foundation
import GRDB

/// Which change sequence numbers were committed by this process.
///
/// Every commit bumps the catalog's change sequence. A change made here records its number inside
/// its own transaction, before any other connection can read it, and takes it back if it is rolled
/// back; a number that shows up in the catalog without having been recorded here came from another
/// process. After a lost group commit every record is dropped, so this process's own commits may
/// then be counted as foreign once (a harmless extra cache check).
struct ChangeTracker {
    /// Every number up to this one has been classified.
    var known: Int64 = 0
    /// Local commits above `known`.
    var local: Set<Int64> = []
    /// Commits by other processes seen so far.
    var foreign: Int64 = 0
}

extension Volume {
    func noteLocalCommit(_ seq: Int64) {
        changes.withLock { t in if seq > t.known { t.local.insert(seq) } }
    }

    /// Takes back `noteLocalCommit(seq)` for a change that was rolled back.
    func forgetLocalCommit(_ seq: Int64) {
        _ = changes.withLock { $0.local.remove(seq) }
    }

    /// How many commits other processes have made since this volume was opened here (monotonic).
    ///
    /// Polling it is how a mount notices writers it cannot hear through `addObserver`: when the
    /// number grows, the mount rechecks what its kernel caches. Open files reload their block maps,
    /// and orphans nobody holds open any more are deleted.
    public func foreignChanges() throws -> Int64 {
        let seq = try changeSequence()
        let (count, grew) = changes.withLock { t -> (Int64, Bool) in
            guard seq > t.known else { return (t.foreign, false) }
            let mine = t.local.lazy.filter { $0 <= seq }.count
            let theirs = (seq - t.known) - Int64(mine)
            t.local = t.local.filter { $0 > seq }
            t.known = seq
            t.foreign += max(0, theirs)
            return (t.foreign, theirs > 0)
        }
        if grew {
            recent.removeAll()
            for f in openFiles.withLock({ Array($0.values) }) { f.invalidateCache() }
            // Another process may have unlinked a file open here, or closed one it had orphaned.
            // A failure (a full disk) leaves them for a later poll; it must not hide from the
            // caller that commits were seen, which are counted already.
            try? reapOrphans()
        }
        return count
    }

    /// Relatime: sets the atime of `ino` to now when it is not newer than its mtime or ctime, or is
    /// more than a day old. Emits no change event (nothing a cache must drop) but bumps the sequence.
    /// Returns whether the atime changed.
    @discardableResult
    public func markAccessed(_ ino: UInt64) throws -> Bool {
        let a = try getattr(ino)
        let now = Nanos.now()
        guard a.atime <= a.mtime || a.atime <= a.ctime || now - a.atime >= 86_400 * 1_000_000_000 else { return false }
        try mutate(origin: 0) { db, _ in
            try Catalog.setAtime(db, ino, now)
        }
        return true
    }

    /// The ctime of each inode that exists, in one read (for comparing with what a cache holds).
    public func changeTimes(_ inos: [UInt64]) throws -> [UInt64: Nanos] {
        var out: [UInt64: Nanos] = [:]
        out.reserveCapacity(inos.count)
        try quickRead { db in
            var i = 0
            while i < inos.count {
                let part = inos[i..<min(i + 500, inos.count)]
                let marks = Array(repeating: "?", count: part.count).joined(separator: ",")
                let rows = try Row.fetchCursor(db, sql: "SELECT ino, ctime FROM inode WHERE ino IN (\(marks))",
                                               arguments: StatementArguments(part.map { Int64($0) }))
                while let r = try rows.next() { out[UInt64(r[0] as Int64)] = r[1] }
                i += 500
            }
        }
        return out
    }
}
