// The change journal: one catalog row per changed path per commit, so watchers in any process see every change.
import Foundation
import GRDB
import GRDBSQLite

/// What happened to a path.
public enum JournalEventType: Int64, Sendable, CaseIterable {
    case create = 1, modify = 2, delete = 3, rename = 4

    /// The name on the wire: create, modify, delete, rename.
    public var name: String {
        switch self {
        case .create: return "create"
        case .modify: return "modify"
        case .delete: return "delete"
        case .rename: return "rename"
        }
    }
}

/// One journal row: `seq` orders all changes of a volume (and never repeats), `time` is when it was made.
public struct JournalEvent: Sendable, Equatable {
    public let seq: Int64
    public let time: Nanos
    public let type: JournalEventType
    /// The path changed (for a rename, its new path).
    public let path: String
    /// A rename's old path.
    public let fromPath: String?
}

/// The journal's window: what is retained and what came last.
public struct JournalWindow: Sendable, Equatable {
    /// The oldest sequence number still retained (nil when the journal is empty).
    public let oldest: Int64?
    /// The last sequence number ever given out (0 before the first change).
    public let latest: Int64
}

/// Writes and trims journal rows inside a change's transaction. Each change records one row per
/// path it changed (a recursive remove records its top; an import records the entries it linked
/// into directories that existed before it). Every `trimEvery`-th row also deletes what is past
/// retention: rows beyond the last `retainEvents`, and rows older than `retainNanos`.
enum ChangeJournal {
    static let retainEvents: Int64 = 100_000
    static let retainNanos: Nanos = 24 * 3600 * 1_000_000_000
    static let trimEvery: Int64 = 1024

    static func record(_ db: Database, _ type: JournalEventType, path: Data, from: Data? = nil, now: Nanos = .now()) throws {
        try Catalog.write(db, "INSERT INTO journal (time, type, path, from_path) VALUES (?, ?, ?, ?)") { s in
            sqlite3_bind_int64(s, 1, now)
            sqlite3_bind_int64(s, 2, type.rawValue)
            path.bind(s, 3)
            if let from { from.bind(s, 4) } else { sqlite3_bind_null(s, 4) }
        }
        let seq = db.lastInsertedRowID
        if seq % trimEvery == 0 { try trim(db, latest: seq, now: now) }
    }

    /// Records `parent/name` (nothing when `parent` is no longer reachable from the root).
    static func record(_ db: Database, _ type: JournalEventType, parent: UInt64, name: Data) throws {
        guard let dir = try path(db, parent) else { return }
        try record(db, type, path: join(dir, name))
    }

    /// Records a change to inode `ino` at one of its paths (nothing for an unlinked inode).
    static func record(_ db: Database, _ type: JournalEventType, ino: UInt64) throws {
        guard let p = try path(db, ino) else { return }
        try record(db, type, path: p)
    }

    /// Records a rename of `from` to `to` (entries given as parent and name; parents exist).
    static func rename(_ db: Database, from: (UInt64, Data), to: (UInt64, Data)) throws {
        // Within one directory its path is walked once.
        guard let a = try path(db, from.0), let b = try from.0 == to.0 ? Optional(a) : path(db, to.0) else { return }
        try record(db, .rename, path: join(b, to.1), from: join(a, from.1))
    }

    static func join(_ dir: Data, _ name: Data) -> Data {
        dir.count == 1 ? Data("/".utf8) + name : dir + Data("/".utf8) + name
    }

    /// One path of `ino` ("/" for the root), walking up its first entries; nil when unlinked.
    static func path(_ db: Database, _ ino: UInt64) throws -> Data? {
        var names: [Data] = []
        var cur = ino
        while cur != Catalog.rootIno {
            guard let e = try Catalog.parentEntry(db, of: cur) else { return nil }
            names.append(e.name)
            cur = e.parent
            if names.count > 4096 { throw VolumeError.corrupt("directory cycle at inode \(ino)") }
        }
        if names.isEmpty { return Data("/".utf8) }
        var out = Data()
        for n in names.reversed() { out.append(UInt8(ascii: "/")); out.append(n) }
        return out
    }

    /// The last sequence number ever given out (0 before the first row), trimmed rows included.
    static func latest(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'journal'") ?? 0
    }

    /// Deletes rows past retention (at most the ones below `latest - retainEvents`, and the old ones).
    static func trim(_ db: Database, latest: Int64, now: Nanos, retainEvents: Int64 = retainEvents, retainNanos: Nanos = retainNanos) throws {
        try db.execute(sql: "DELETE FROM journal WHERE seq <= ?", arguments: [latest - retainEvents])
        // Times grow with seq: the first row young enough bounds the old ones (a scan of just those).
        let cutoff = now - retainNanos
        if let keep = try Int64.fetchOne(db, sql: "SELECT seq FROM journal WHERE time >= ? ORDER BY seq LIMIT 1", arguments: [cutoff]) {
            try db.execute(sql: "DELETE FROM journal WHERE seq < ?", arguments: [keep])
        } else {
            try db.execute(sql: "DELETE FROM journal")
        }
    }
}

extension Volume {
    /// The journal's window: the oldest retained and the latest sequence numbers.
    public func journalWindow() throws -> JournalWindow {
        try quickRead { db in
            let oldest = try Int64.fetchOne(db, sql: "SELECT min(seq) FROM journal")
            let latest = try ChangeJournal.latest(db)
            return JournalWindow(oldest: oldest, latest: max(latest, oldest ?? 0))
        }
    }

    /// Journal rows after `seq`, oldest first, at most `limit`.
    public func journalEvents(after seq: Int64, limit: Int = 1000) throws -> [JournalEvent] {
        try quickRead { db in
            var out: [JournalEvent] = []
            try Catalog.step(db, db.cachedStatement(sql: "SELECT seq, time, type, path, from_path FROM journal WHERE seq > ? ORDER BY seq LIMIT ?"),
                             { s in sqlite3_bind_int64(s, 1, seq); sqlite3_bind_int64(s, 2, Int64(limit)) }) { s in
                let from = sqlite3_column_type(s, 4) == SQLITE_NULL ? nil : String(decoding: Catalog.blob(s, 4), as: UTF8.self)
                out.append(JournalEvent(seq: sqlite3_column_int64(s, 0), time: sqlite3_column_int64(s, 1),
                                        type: JournalEventType(rawValue: sqlite3_column_int64(s, 2)) ?? .modify,
                                        path: String(decoding: Catalog.blob(s, 3), as: UTF8.self), fromPath: from))
            }
            return out
        }
    }

    /// The journal's default retention: the last this many rows...
    public static let journalRetainEvents: Int64 = ChangeJournal.retainEvents
    /// ... and none older than this many seconds.
    public static let journalRetainSeconds: Double = Double(ChangeJournal.retainNanos) / 1e9

    /// Deletes journal rows past retention now (rows are also trimmed as they are added, every
    /// `ChangeJournal.trimEvery`-th, with the default retention). Returns how many went; writes
    /// nothing when none is due.
    @discardableResult
    public func trimJournal(keepEvents: Int64 = Volume.journalRetainEvents, keepSeconds: Double = Volume.journalRetainSeconds) throws -> Int {
        let now = Nanos.now(), keepNanos = Nanos(keepSeconds * 1e9)
        let due = try quickRead { db -> Bool in
            guard let r = try Row.fetchOne(db, sql: "SELECT seq, time FROM journal ORDER BY seq LIMIT 1") else { return false }
            let latest = try ChangeJournal.latest(db)
            return (r[0] as Int64) <= latest - keepEvents || (r[1] as Int64) < now - keepNanos
        }
        guard due else { return 0 }
        return try mutate(origin: 0) { db, _ in
            let before = db.totalChangesCount
            let latest = try ChangeJournal.latest(db)
            try ChangeJournal.trim(db, latest: latest, now: now, retainEvents: keepEvents, retainNanos: keepNanos)
            return db.totalChangesCount - before
        }
    }
}
