// The catalog's transactions: one per change, or (with a commit window) many changes per commit.
import Foundation
import GRDB
import Synchronization

/// The open group of changes of a volume with a commit window (guarded by `Volume.group`).
struct CommitGroup {
    /// A write transaction is open on the writer connection and holds uncommitted changes.
    var open = false
    /// Changes in it.
    var changes = 0
    /// Bumped by each commit, so a timer set for one group never commits a later one early.
    var generation = 0
    /// The error of a group commit that failed after its changes were acknowledged; reported by
    /// the next `sync` (as a failed writeback is reported by the next fsync).
    var failure: VolumeError?
}

extension Volume {
    /// Changes per group at most: a larger group is committed at once.
    static let maxGroupChanges = 2048

    /// Runs `body` as one atomic change, bumps the change sequence, then tells observers.
    ///
    /// Without a commit window the change is its own transaction, committed on return. With one
    /// (relaxed durability only), it is a savepoint inside the open group transaction: readers in
    /// this process see it at once (they read through the writer while a group is open), other
    /// processes when the group commits, at most `commitWindow` seconds later. A failing `body`
    /// rolls back to its savepoint and leaves the rest of the group alone. `durable`: the change
    /// (and the group before it) is on stable storage on return, in relaxed mode too.
    /// `committing`: the open file whose buffered writes this change commits (see `notify`).
    func mutate<T>(origin: Int, durable: Bool = false, committing: OpenFile? = nil,
                   _ body: (Database, inout [ChangeEvent]) throws -> T) throws -> T {
        var events: [ChangeEvent] = []
        var seq: Int64 = 0
        var bumped = false
        func change(_ db: Database) throws -> T {
            events = []
            let r = try body(db, &events)
            seq = try Catalog.bumpChange(db)
            // Noted before any other connection can read the new number (it is read through this
            // writer while a group is open, or once committed): a poll that saw it first would
            // count it as another process's commit and empty `recent`.
            noteLocalCommit(seq)
            bumped = true
            try refreshRecent(db, events)
            return r
        }
        let result: T
        do {
            result = try run(durable: durable, change)
        } catch {
            // What the change left in `recent` may never be committed, and its number may be
            // another process's next. (A change refused before that point, ENOENT say, left neither.)
            if bumped {
                recent.removeAll()
                forgetLocalCommit(seq)
            }
            throw error
        }
        notify(events, origin: origin, committing: committing)
        return result
    }

    /// `mutate`'s transaction handling: runs `change` as its own transaction, in the open group,
    /// or (`durable`) synced with the group before it. Deletion locks the change took are released
    /// when its transaction ends (the group's, in a group).
    private func run<T>(durable: Bool, _ change: (Database) throws -> T) throws -> T {
        let result: T
        if durable && durability == .relaxed {
            result = try pool.writeWithoutTransaction { db -> T in
                try endGroup(db)
                defer { endDeletions() }
                try db.execute(sql: "PRAGMA synchronous = FULL")
                defer { try? db.execute(sql: "PRAGMA synchronous = NORMAL") }
                var r: T?
                try db.inTransaction {
                    r = try change(db)
                    return .commit
                }
                return r!
            }
        } else if commitWindow > 0 {
            var startedGroup: Int?
            result = try pool.writeWithoutTransaction { db -> T in
                if !db.isInsideTransaction {
                    try db.beginTransaction(.immediate)
                    startedGroup = group.withLock { g in
                        g.open = true
                        g.changes = 0
                        return g.generation
                    }
                }
                let r: T
                do {
                    r = try Catalog.inSavepoint(db) { try change(db) }
                } catch {
                    if !db.isInsideTransaction {
                        // SQLite rolled back the whole group, not just this change (it does on a
                        // full disk or an I/O error): changes acknowledged before it are gone.
                        groupEnded(lost: startedGroup == nil ? "rolled back by SQLite after \(error)" : nil, cause: error)
                    } else if startedGroup != nil {
                        try? endGroup(db)
                    }
                    throw error
                }
                let full = group.withLock { g -> Bool in
                    g.changes += 1
                    return g.changes >= Self.maxGroupChanges
                }
                if full { try endGroup(db) }
                return r
            }
            if let generation = startedGroup { scheduleGroupCommit(generation) }
        } else {
            result = try pool.writeWithoutTransaction { db -> T in
                defer { endDeletions() }
                var r: T?
                try db.inTransaction {
                    r = try change(db)
                    return .commit
                }
                return r!
            }
        }
        return result
    }

    /// Changes that report more inodes than this (an import, say) only drop them from `recent`.
    static let maxRefreshedInodes = 8

    /// Keeps `recent` true to a change about to be committed, on the writer inside its transaction:
    /// re-reads the attributes of each inode the change reports (only drops them while no view
    /// reads the map), drops those it deleted, and empties the map for a change that reports no
    /// inode (it cannot say what it touched).
    private func refreshRecent(_ db: Database, _ events: [ChangeEvent]) throws {
        var inos: [UInt64] = []
        // A rename within one directory reports it twice, an exchange its target twice.
        for case .inode(let ino) in events where !inos.contains(ino) { inos.append(ino) }
        if inos.isEmpty { return recent.removeAll() }
        if inos.count > Self.maxRefreshedInodes || !recent.hasReaders { return inos.forEach(recent.remove) }
        for ino in inos {
            if let a = try Catalog.attributes(db, ino) { recent.set(a) } else { recent.remove(ino) }
        }
    }

    /// Commits the open group, if any, on the writer connection `db`. On failure the group's
    /// changes are gone: the error is kept for the next `sync`, open files reload, and it is thrown.
    func endGroup(_ db: Database) throws {
        guard db.isInsideTransaction else { return }
        do {
            // Chunks first: no committed row may name a chunk that is not stored.
            try chunks.commitPending()
            try db.commit()
            groupEnded(lost: nil)
        } catch {
            try? db.rollback()
            throw groupEnded(lost: "could not be committed: \(error)", cause: error)!
        }
    }

    /// Marks the group closed. When it was `lost` (the reason), keeps the error for the next
    /// `sync`, has open files reload, and returns the error: ENOSPC when the disk was full
    /// (`cause`), so that writers hear why, else EIO.
    @discardableResult
    private func groupEnded(lost: String?, cause: Error? = nil) -> VolumeError? {
        let full = cause.map { VolumeError.of($0).errno == ENOSPC } ?? false
        let failure = lost.map { VolumeError.io("a group of changes is lost: it \($0)", errno: full ? ENOSPC : EIO) }
        group.withLock { g in
            g.open = false
            g.generation += 1
            if let failure { g.failure = failure }
        }
        endDeletions()
        if failure != nil {
            recent.removeAll()
            // Their numbers were never committed and may be reused by another process; counting
            // this process's own commits as foreign once is harmless (one extra cache check).
            changes.withLock { $0.local.removeAll() }
            for f in openFiles.withLock({ Array($0.values) }) { f.invalidateCache() }
        }
        return failure
    }

    /// Commits the open group now (before a sync, a checkpoint or closing), then throws (once) the
    /// failure of any group commit since the last call: changes that were acknowledged but lost.
    func settle() throws {
        guard commitWindow > 0 else { return }
        // A failure is recorded by endGroup and thrown below, once.
        try? pool.unsafeReentrantWrite { db in try endGroup(db) }
        if let f = group.withLock({ g -> VolumeError? in defer { g.failure = nil }; return g.failure }) { throw f }
    }

    private func scheduleGroupCommit(_ generation: Int) {
        DispatchQueue.global().asyncAfter(deadline: .now() + commitWindow) { [weak self] in
            guard let self else { return }
            do {
                try self.pool.writeWithoutTransaction { db in
                    guard self.group.withLock({ $0.generation == generation && $0.open }) else { return }
                    try self.endGroup(db)
                }
            } catch {
                // Kept in `group.failure` for the next sync; nothing else to tell here.
            }
        }
    }

    /// Whether reads must go through the writer to see every acknowledged change.
    private var groupOpen: Bool { commitWindow > 0 && group.withLock { $0.open } }

    /// Runs `body` in a read transaction (one snapshot), or on the writer while a group is open.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        if groupOpen { return try pool.unsafeReentrantWrite(body) }
        return try pool.read(body)
    }

    /// Runs `body` on a reader connection of its own, outside any transaction (`QuickReaders`): each
    /// statement sees the latest commit. For reads of one statement, or where statements seeing
    /// different commits does no harm; it matters on paths every FUSE request takes (getattr, lookup).
    func quickRead<T>(_ body: (Database) throws -> T) throws -> T {
        if groupOpen { return try pool.unsafeReentrantWrite(body) }
        return try quickReaders.read(body)
    }
}
