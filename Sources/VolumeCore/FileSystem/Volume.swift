// One open volume: its catalog, the shared chunk store, the cap, open-file state and change observers.
import Foundation
import GRDB
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How hard a commit works to survive a power loss.
public enum Durability: String, Sendable, Codable {
    /// Every committing operation syncs chunks, then commits the catalog with a synced WAL.
    case full
    /// Commits are safe against a process crash (kill -9) but only `sync()` makes them survive a power loss.
    case relaxed
}

/// An open volume: POSIX semantics over its catalog and the chunk store, with no FUSE or HTTP in sight.
///
/// Thread-safe. Inode-level operations (`lookup`, `create`, `write`, `rename`, ...) serve the FUSE
/// adapter; path-level operations (`VolumeFiles`) serve the files API and the CLI. One `Volume`
/// object exists per volume per process (the store caches it), so every mount and the files API in a
/// process share open-file state and hear each other's changes.
public final class Volume: Sendable {
    /// The volume's ID (`vol-...`).
    public let id: String
    /// Bytes per block: a file is a list of blocks, each one chunk.
    public let blockSize: Int
    public let durability: Durability
    let pool: DatabasePool
    let chunks: any ChunkStore
    /// The store's writes in progress: every write that stores chunks before referencing them holds one.
    let holds: WriteHolds
    let openFiles = Mutex<[UInt64: OpenFile]>([:])
    /// Bytes reserved against the cap by writes not yet committed.
    let reserved = Mutex<Int64>(0)
    private let observers = Mutex<(next: Int, list: [Int: @Sendable (ChangeEvent, Int) -> Void])>((0, [:]))
    /// Which change sequence numbers this process committed, to tell other processes' commits apart.
    let changes = Mutex(ChangeTracker())
    /// The connections of `quickRead`.
    let quickReaders: QuickReaders
    /// Seconds a change may wait to be committed with others (0: each commits on its own).
    let commitWindow: Double
    /// The open group of changes when `commitWindow` is set.
    let group = Mutex(CommitGroup())
    /// Attributes this process's own recent changes left (see `RecentAttributes`).
    let recent = RecentAttributes()
    /// Inodes unlinked while open here: their last release deletes them.
    let localOrphans = Mutex<Set<UInt64>>([])
    /// What every process holds open (see `OpenMarks`).
    let marks: OpenMarks
    /// Inodes whose deletion lock (`OpenMarks.beginDeletion`) waits for the writer's transaction
    /// to end; released on the writer right after it commits or rolls back.
    let deletions = Mutex<[UInt64]>([])
    private let catalogPath: String

    /// Opens (and if new, initialises) the catalog at `catalogPath`.
    init(id: String, catalogPath: String, chunks: any ChunkStore, holds: WriteHolds, durability: Durability,
         blockSize: Int = StoreOptions.defaultBlockSize, capBytes: Int64, commitWindow: Double = 0) throws {
        self.id = id
        self.commitWindow = durability == .relaxed ? max(0, commitWindow) : 0
        self.catalogPath = catalogPath
        quickReaders = QuickReaders(path: catalogPath)
        self.chunks = chunks
        self.holds = holds
        self.durability = durability
        marks = try OpenMarks(path: catalogPath + "-opens")
        // Foreign keys are declared but not enforced: with enforcement, each DELETE of an inode
        // ran its ON DELETE CASCADE actions as sub-programs that open a temporary b-tree for each
        // WITHOUT ROWID child table, a fifth of the mount's CPU in an unlink. The core deletes the
        // rows that name an inode itself (`Catalog.deleteInode`), and fsck runs
        // `PRAGMA foreign_key_check`, which checks the declared keys either way.
        pool = try DatabaseOpening.pool(at: catalogPath, synchronous: durability == .full ? "FULL" : "NORMAL", foreignKeys: false,
                                        allowsOpenTransactions: self.commitWindow > 0, migrator: CatalogSchema.migrator)
        // Checkpoint every 64 MiB of WAL instead of every 4 MiB: a checkpoint syncs the database
        // twice, and with many small commits (one per create, per close) those syncs dominated.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_autocheckpoint = 16384") }
        // Only a new catalog is written to here: opening an existing one must not wait for another
        // process's write lock (an import into an empty volume holds it until its one commit).
        // (EXISTS stops at the first row; count(*) read the whole inode table, 12 ms of every mount of a
        // 100,000-file volume.)
        if try pool.read({ try Bool.fetchOne($0, sql: "SELECT EXISTS (SELECT 1 FROM inode)") ?? false }) == false {
            try pool.write { db in try Catalog.initialize(db, blockSize: blockSize, capBytes: capBytes, now: .now()) }
        }
        let bs = try pool.read { db in Int(try Catalog.meta(db, .blockSize)) }
        self.blockSize = bs
        let seq = try pool.read { try Catalog.meta($0, .changeSeq) }
        changes.withLock { $0.known = seq }
        try reapOrphans()
    }

    /// Starts a write hold: gc keeps the chunks stored from now on until `endHold` (see `WriteHolds`).
    func beginHold() throws -> Int { try holds.begin() }

    /// Ends a write hold once the change that references its chunks returned from `mutate` (or
    /// they were dropped). With a commit window that change may still wait for its group, so the
    /// hold lingers a little.
    func endHold(_ token: Int) { holds.end(token, lingering: commitWindow > 0) }

    /// Closes the catalog's connections, first moving the WAL into the database and emptying it
    /// when no other process is in the way.
    func close() throws {
        try settle()
        try quickReaders.close()
        // SQLite checkpoints when its last connection to a file closes, but GRDB closes a pool's
        // writer before its readers, so that never happens and every process left its commits in
        // the WAL (up to 64 MiB, which every later reader must index). Without waiting: a busy
        // reader or writer in another process just leaves the WAL to the next checkpoint.
        //
        // An emptied WAL is written to again at once (one page, its content unchanged: a row set and
        // set back, as SQLite writes no page for an update that changes no byte): GRDB opens a pool on a
        // database whose WAL is missing or empty with a write transaction, and that write would wait
        // for as long as another process holds the write lock (an import into an empty volume holds
        // it until its end): every `files ls` or `volume delete` would hang behind the import.
        try? pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA busy_timeout = 0")
            guard let r = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)"), r[0] as Int == 0 else { return }
            try db.inTransaction(.immediate) {
                try db.execute(sql: "UPDATE meta SET value = -value WHERE key = 'block_size'")
                try db.execute(sql: "UPDATE meta SET value = -value WHERE key = 'block_size'")
                return .commit
            }
        }
        try pool.close()
    }

    // MARK: Observers

    /// Registers a callback for changes made through this object; returns a token for `removeObserver`.
    /// The second argument is the `origin` of the caller that made the change.
    public func addObserver(_ body: @escaping @Sendable (ChangeEvent, Int) -> Void) -> Int {
        observers.withLock { o in
            o.next += 1
            o.list[o.next] = body
            return o.next
        }
    }

    public func removeObserver(_ token: Int) { _ = observers.withLock { $0.list.removeValue(forKey: token) } }

    /// Tells open files and observers of a committed change. The open file whose own commit it
    /// was (`committing`) keeps its state: that already is what the commit wrote.
    func notify(_ events: [ChangeEvent], origin: Int, committing: OpenFile? = nil) {
        guard !events.isEmpty else { return }
        for ev in events {
            if case .inode(let ino) = ev, let f = openFiles.withLock({ $0[ino] }), f !== committing { f.invalidateCache() }
        }
        let list = observers.withLock { Array($0.list.values) }
        for body in list { for ev in events { body(ev, origin) } }
    }

    // MARK: Transactions

    /// Fails with `quotaExceeded` when adding `delta` bytes would pass the cap.
    /// `ownReservation` is what the caller itself already holds in `reserved`.
    func checkQuota(_ db: Database, adding delta: Int64, ownReservation: Int64 = 0) throws {
        guard delta > 0 else { return }
        let usage = try Catalog.meta(db, .usageBytes)
        let cap = try Catalog.meta(db, .capBytes)
        let others = reserved.withLock { $0 } - ownReservation
        if usage + others + delta > cap {
            throw VolumeError.quotaExceeded(volume: id, usage: usage + others, cap: cap, requested: delta)
        }
    }

    // MARK: Reading the tree

    /// The attributes of an inode, including writes buffered but not yet committed.
    ///
    /// `recent`: take them from what this process's last change of the inode left, when that is
    /// recent, instead of reading the catalog. Only for a caller that polls `foreignChanges`
    /// (which is what drops them when another process commits); see `RecentAttributes`.
    public func getattr(_ ino: UInt64, recent useRecent: Bool = false) throws -> Attributes {
        let known = useRecent ? recent.get(ino) : nil
        guard var a = try known ?? quickRead({ try Catalog.attributes($0, ino) }) else { throw VolumeError.notFound("inode \(ino)") }
        if let f = openFiles.withLock({ $0[ino] }) { f.overlay(&a) }
        return a
    }

    /// Finds `name` in directory `parent`.
    public func lookup(parent: UInt64, name: Data) throws -> Attributes {
        let found = try quickRead { db -> Attributes? in
            if let a = try Catalog.lookupAttributes(db, parent: parent, name: name) { return a }
            guard let p = try Catalog.attributes(db, parent) else { throw VolumeError.notFound("inode \(parent)") }
            guard p.kind == .directory else { throw VolumeError.notADirectory("inode \(parent)") }
            return nil
        }
        guard var a = found else { throw VolumeError.notFound(String(decoding: name, as: UTF8.self)) }
        if let f = openFiles.withLock({ $0[a.ino] }) { f.overlay(&a) }
        return a
    }

    /// Directory entries in name order, after `after` (exclusive), at most `limit` (-1: all).
    /// `attributes: false` fills in only each entry's inode number and kind (cheaper).
    public func readdir(_ ino: UInt64, after: Data? = nil, limit: Int = -1, attributes: Bool = true) throws -> [DirectoryEntry] {
        try quickRead { db in
            guard let a = try Catalog.attributes(db, ino) else { throw VolumeError.notFound("inode \(ino)") }
            guard a.kind == .directory else { throw VolumeError.notADirectory("inode \(ino)") }
            return attributes ? try Catalog.children(db, of: ino, after: after, limit: limit)
                : try Catalog.childKinds(db, of: ino, after: after, limit: limit)
        }
    }

    /// The directory containing directory `ino` (the root's parent is the root).
    public func parent(of ino: UInt64) throws -> UInt64 {
        if ino == Catalog.rootIno { return ino }
        return try quickRead { try Catalog.parentEntry($0, of: ino)?.parent } ?? Catalog.rootIno
    }

    /// A symlink's target.
    public func readlink(_ ino: UInt64) throws -> Data {
        guard let t = try quickRead({ try Catalog.target($0, ino) }) else { throw VolumeError.invalidArgument("inode \(ino) is not a symlink") }
        return t
    }

    /// Cap, usage and file count.
    public func statfs() throws -> FileSystemStats {
        let pending = reserved.withLock { $0 }
        return try quickRead { db in
            FileSystemStats(capBytes: try Catalog.meta(db, .capBytes), usedBytes: try Catalog.meta(db, .usageBytes) + pending,
                            files: try Catalog.meta(db, .fileCount), blockSize: blockSize)
        }
    }

    /// The change sequence: bumped by every commit from any process. Poll it to notice other writers.
    public func changeSequence() throws -> Int64 { try quickRead { try Catalog.meta($0, .changeSeq) } }

    /// Makes everything committed so far durable (chunks and catalog).
    public func sync() throws {
        try flushAll()
        try settle()
        try chunks.sync()
        // syncfs made the WAL durable; the checkpoint only keeps it short. It cannot run inside a
        // group that another thread opened since.
        try pool.writeWithoutTransaction { db in
            if !db.isInsideTransaction { _ = try db.checkpoint(.passive) }
        }
    }

    /// Sets the cap recorded in the catalog (the store keeps it equal to the effective quota).
    func setCap(_ bytes: Int64) throws {
        try pool.writeWithoutTransaction { db in
            try endGroup(db)
            try db.inTransaction {
                try Catalog.setMeta(db, .capBytes, bytes)
                return .commit
            }
        }
    }

    // MARK: Orphans

    /// Deletes the orphans (files unlinked while open) that no process holds open any more: those
    /// of processes that closed them or exited. Runs when the volume is opened, and when a poll
    /// notices another process's commits (which may have unlinked a file open here, or closed one).
    func reapOrphans() throws {
        let orphans = try quickRead { db in try Int64.fetchAll(db, sql: "SELECT ino FROM orphan") }
        for ino in orphans.map({ UInt64(bitPattern: $0) }) where openFiles.withLock({ $0[ino] == nil }) {
            try deleteOrphan(ino, origin: 0)
        }
    }

    /// Deletes orphan `ino` (its row, and the inode unless it was linked again) when no process
    /// holds it open; otherwise writes nothing, so that pollers in several processes never trade
    /// commits over a file that is still open somewhere.
    func deleteOrphan(_ ino: UInt64, origin: Int) throws {
        guard marks.beginDeletion(ino) else { return }
        var queued = false
        defer { if !queued { marks.endDeletions([ino]) } }
        try mutate(origin: origin) { db, events in
            deletions.withLock { $0.append(ino) }
            queued = true
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM orphan WHERE ino = ?", arguments: [Int64(ino)]) != nil else { return }
            try db.execute(sql: "DELETE FROM orphan WHERE ino = ?", arguments: [Int64(ino)])
            if let a = try Catalog.attributes(db, ino), a.nlink == 0 { try Catalog.deleteInode(db, a) }
            events.append(.inode(ino))
        }
    }

    /// Releases the deletion locks of the transaction that just ended on the writer.
    func endDeletions() {
        let inos = deletions.withLock { d -> [UInt64] in defer { d = [] }; return d }
        if !inos.isEmpty { marks.endDeletions(inos) }
    }

    /// Called when an inode's link count may have reached zero: deletes it now, or marks it an
    /// orphan when a handle in this process or another one still has it open.
    func dropIfUnlinked(_ db: Database, _ ino: UInt64) throws {
        guard let a = try Catalog.attributes(db, ino) else { return }
        try dropIfUnlinked(db, a)
    }

    /// `dropIfUnlinked` for a caller that knows the inode's attributes as they now are in `db`.
    func dropIfUnlinked(_ db: Database, _ a: Attributes) throws {
        let ino = a.ino
        guard a.nlink == 0 || (a.kind == .directory && a.nlink <= 1) else { return }
        let openHere = openFiles.withLock { $0[ino] != nil }
        // Open here, or in another process (the deletion lock is refused): the last release (or,
        // for another process's, a later reap) deletes it.
        if openHere || (a.kind == .file && !marks.beginDeletion(ino)) {
            try db.execute(sql: "INSERT OR REPLACE INTO orphan (ino, pid) VALUES (?, ?)", arguments: [Int64(ino), Int64(getpid())])
            if openHere { localOrphans.withLock { _ = $0.insert(ino) } }
        } else {
            if a.kind == .file { deletions.withLock { $0.append(ino) } }
            try Catalog.deleteInode(db, a)
        }
    }
}
