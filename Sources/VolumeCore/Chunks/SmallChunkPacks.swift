// Small chunks packed end to end in append-only pack files, found through a hash index in small.sqlite.
import Foundation
import GRDB
import GRDBSQLite
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Where a small chunk's bytes are: `len` bytes at `pos` of pack `pack`.
struct PackedLocation: Equatable, Sendable {
    let pack: Int64
    let pos: Int64
    let len: Int
}

/// An open pack file; closed when the last reader lets go of it.
final class PackFile: Sendable {
    let fd: FileDescriptor
    init(_ fd: FileDescriptor) { self.fd = fd }
    deinit { try? fd.close() }
}

/// The small chunks of a `LocalChunkStore`.
///
/// A chunk's bytes are appended to the open pack file (`packs/<n>.pack`, sealed once past
/// `packLimit`) and its row in `packed` (hash -> pack, position, length, touched) commits after the
/// bytes are written, so a reader never finds a row without its bytes. small.sqlite's write lock
/// serialises appends, across processes too: a put reads the open pack's `size`, writes there, and
/// commits the new size with its rows; a writer that dies before committing leaves bytes past `size`
/// that the next append overwrites. The bytes reach the disk once, sequentially, instead of through
/// SQLite's WAL and then its checkpoint (where a bulk import of small files spent most of its time).
///
/// `durable` is how much of a pack a `sync` has flushed, and `boot` the kernel boot ID of its last
/// append. Bytes past `durable` that were written before a reboot (a power loss, a kernel crash) may
/// never have reached the disk while their rows did: the first open after the reboot reads them back
/// and drops the rows whose bytes do not match, so dedup never points a new reference at lost bytes.
/// Bytes written since the boot are in the page cache or on disk, and are trusted.
///
/// Deleting a chunk drops its row and its bytes from the pack's `live` count; `compact` rewrites the
/// live chunks of mostly dead sealed packs and removes those packs.
///
/// Chunks stored by version 1 (rows of `chunk` holding their bytes) stay there: they are read,
/// deduplicated against and deleted in place.
final class SmallChunkPacks: Sendable {
    let db: DatabasePool
    /// Connections for `location`, the one-statement lookup every read of a small chunk makes.
    private let quick: QuickReaders
    /// A pack is sealed (no longer appended to) once it holds this many bytes.
    let packLimit: Int64
    private let dir: String
    private let files = Mutex<[Int64: PackFile]>([:])
    /// Whether version-1 rows may exist (none are ever added after the upgrade).
    private let legacy: Bool

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-small-chunks") { db in
            try db.execute(sql: """
                CREATE TABLE chunk (
                  id BLOB NOT NULL UNIQUE CHECK (length(id) = 32),
                  data BLOB NOT NULL,
                  touched INTEGER NOT NULL
                )
                """)
        }
        migrator.registerMigration("v2-packed-small-chunks") { db in
            try db.execute(sql: """
                CREATE TABLE pack (
                  id INTEGER PRIMARY KEY,
                  size INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
                  durable INTEGER NOT NULL DEFAULT 0,
                  live INTEGER NOT NULL DEFAULT 0,
                  sealed INTEGER NOT NULL DEFAULT 0 CHECK (sealed IN (0, 1)),
                  boot TEXT
                );
                CREATE TABLE packed (
                  id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 32),
                  pack INTEGER NOT NULL,
                  pos INTEGER NOT NULL CHECK (pos >= 0),
                  len INTEGER NOT NULL CHECK (len >= 0),
                  touched INTEGER NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        return migrator
    }

    /// Opens (creating if needed) `root/small.sqlite` and `root/packs/`.
    init(root: URL, packLimit: Int64 = LocalChunkStore.defaultPackLimit) throws {
        self.packLimit = packLimit
        dir = root.appendingPathComponent("packs").path
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw VolumeError.io("cannot create \(dir): \(error.localizedDescription)", errno: EIO)
        }
        db = try DatabaseOpening.pool(at: root.appendingPathComponent("small.sqlite").path, foreignKeys: false,
                                      migrator: Self.migrator)
        quick = QuickReaders(path: root.appendingPathComponent("small.sqlite").path)
        // Checkpoint every 64 MiB of WAL rather than every 4 MiB: index rows of a bulk import
        // otherwise spend much of their time in checkpoints (the writer connection runs them).
        try db.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_autocheckpoint = 16384") }
        legacy = try db.read { db in try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM chunk)") ?? false }
        try recoverAfterReboot()
    }

    private func path(_ pack: Int64) -> String { "\(dir)/\(pack).pack" }

    /// Pack `pack`, opened once per store (created when `create`).
    private func file(_ pack: Int64, create: Bool = false) throws -> PackFile {
        if let f = files.withLock({ $0[pack] }) { return f }
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(FilePath(path(pack)), .readWrite, options: create ? [.create] : [],
                                         permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch let e as Errno {
            throw e == .noSuchFileOrDirectory ? VolumeError.corrupt("pack \(pack) is missing") : VolumeError.from(e, "open pack \(pack)")
        }
        let opened = PackFile(fd)
        return files.withLock { m in
            if let existing = m[pack] { return existing }
            m[pack] = opened
            return opened
        }
    }

    // MARK: Writing

    /// Stores `chunks` (ID and bytes) in one transaction, touched at `touched`; existing ones are touched only.
    /// (Seconds with their fraction: gc's second look at a chunk must see a touch within the same second.
    /// SQLite keeps a fraction in the INTEGER column; rows of older versions hold whole seconds.)
    func put(_ chunks: [(ChunkID, Data)], touched: Double) throws {
        try db.write { db in
            var appender = try Appender(db, self)
            let touch = try db.cachedStatement(sql: "UPDATE packed SET touched = ? WHERE id = ?")
            let touchLegacy = try db.cachedStatement(sql: "UPDATE chunk SET touched = ? WHERE id = ?")
            let insert = try db.cachedStatement(sql: "INSERT INTO packed (id, pack, pos, len, touched) VALUES (?, ?, ?, ?, ?)")
            for (id, data) in chunks {
                // Bound through the C API: a bulk import puts hundreds of thousands of small chunks.
                try Self.step(db, touch) { s in sqlite3_bind_double(s, 1, touched); id.bytes.bind(s, 2) }
                if db.changesCount > 0 { continue }
                if legacy {
                    try Self.step(db, touchLegacy) { s in sqlite3_bind_double(s, 1, touched); id.bytes.bind(s, 2) }
                    if db.changesCount > 0 { continue }
                }
                let pos = appender.add(data)
                try Self.step(db, insert) { s in
                    id.bytes.bind(s, 1)
                    sqlite3_bind_int64(s, 2, appender.pack)
                    sqlite3_bind_int64(s, 3, pos)
                    sqlite3_bind_int64(s, 4, Int64(data.count))
                    sqlite3_bind_double(s, 5, touched)
                }
            }
            try appender.finish()
        }
    }

    /// Appends chunk bytes to the open pack inside a write transaction: positions are handed out as
    /// chunks are added, the bytes written at `finish`, before the new size commits with the rows.
    private struct Appender {
        let db: Database
        let packs: SmallChunkPacks
        let pack: Int64
        let start: Int64
        var size: Int64
        var pending: [Data] = []

        init(_ db: Database, _ packs: SmallChunkPacks) throws {
            self.db = db
            self.packs = packs
            if let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT id, size FROM pack WHERE sealed = 0 ORDER BY id DESC LIMIT 1")) {
                pack = row[0]
                size = row[1]
            } else {
                try db.execute(sql: "INSERT INTO pack (size) VALUES (0)")
                pack = db.lastInsertedRowID
                size = 0
            }
            start = size
        }

        /// Reserves room for `data`; returns its position.
        mutating func add(_ data: Data) -> Int64 {
            pending.append(data)
            defer { size += Int64(data.count) }
            return size
        }

        /// Writes the bytes and records the pack's new size (sealing it past the limit).
        func finish() throws {
            guard size > start else { return }
            let total = Int(size - start)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: total, alignment: 16)
            defer { buffer.deallocate() }
            var at = 0
            for d in pending {
                d.withUnsafeBytes { raw in
                    if let base = raw.baseAddress { buffer.baseAddress!.advanced(by: at).copyMemory(from: base, byteCount: raw.count) }
                }
                at += d.count
            }
            let file = try packs.file(pack, create: true)
            do { _ = try file.fd.writeAll(toAbsoluteOffset: start, UnsafeRawBufferPointer(buffer)) } catch let e as Errno {
                throw VolumeError.io("write pack \(pack)", errno: e.rawValue)
            }
            try db.cachedStatement(sql: "UPDATE pack SET size = ?, live = live + ?, sealed = ?, boot = ? WHERE id = ?")
                .execute(arguments: [size, size - start, size >= packs.packLimit ? 1 : 0, ProcessIdentity.bootID, pack])
        }
    }

    /// Steps a cached statement once with `bind`; throws unless it is done.
    private static func step(_ db: Database, _ stmt: Statement, _ bind: (OpaquePointer) -> Void) throws {
        let s = stmt.sqliteStatement
        bind(s)
        let rc = sqlite3_step(s)
        sqlite3_reset(s)
        guard rc == SQLITE_DONE else { throw VolumeError.sqlite(db, rc, "small chunk index") }
    }

    /// Steps a statement that returns (pack, pos, len) at most once.
    private static func location(_ db: Database, _ stmt: Statement, _ bind: (OpaquePointer) -> Void) throws -> PackedLocation? {
        let s = stmt.sqliteStatement
        bind(s)
        defer { sqlite3_reset(s) }
        let rc = sqlite3_step(s)
        if rc == SQLITE_ROW {
            let loc = PackedLocation(pack: sqlite3_column_int64(s, 0), pos: sqlite3_column_int64(s, 1), len: Int(sqlite3_column_int64(s, 2)))
            while sqlite3_step(s) == SQLITE_ROW {}
            return loc
        }
        guard rc == SQLITE_DONE else { throw VolumeError.sqlite(db, rc, "small chunk index") }
        return nil
    }

    // MARK: Reading

    /// Where chunk `id` is packed, or nil.
    func location(_ id: ChunkID) throws -> PackedLocation? {
        try quick.read { db in
            try Self.location(db, try db.cachedStatement(sql: "SELECT pack, pos, len FROM packed WHERE id = ?")) { id.bytes.bind($0, 1) }
        }
    }

    private func readBytes(_ loc: PackedLocation, offset: Int, count: Int) throws -> Data {
        let n = max(0, min(count, loc.len - offset))
        let data = try file(loc.pack).fd.read(count: n, at: loc.pos + Int64(offset))
        guard data.count == n else { throw VolumeError.corrupt("pack \(loc.pack) ends before a chunk it indexes") }
        return data
    }

    /// Closes the packs another process has compacted away, so their space is not held open here
    /// (called outside transactions, before opening a pack not open yet).
    private func forgetRemovedPacks() throws {
        let current = Set(try db.read { db in try Int64.fetchAll(db, sql: "SELECT id FROM pack") })
        files.withLock { m in m = m.filter { current.contains($0.key) } }
    }

    /// `count` bytes from `offset` of small chunk `id` (fewer at its end), or nil when it is not a small chunk.
    func read(_ id: ChunkID, offset: Int, count: Int) throws -> Data? {
        for attempt in 0..<2 {
            guard let loc = try location(id) else { break }
            if files.withLock({ $0[loc.pack] == nil }) { try forgetRemovedPacks() }
            do {
                return try readBytes(loc, offset: offset, count: count)
            } catch VolumeError.corrupt(_) where attempt == 0 {
                continue // compacted into another pack meanwhile: look it up again
            }
        }
        guard legacy else { return nil }
        return try db.read { db in
            try Data.fetchOne(db, sql: "SELECT substr(data, ?, ?) FROM chunk WHERE id = ?",
                              arguments: [offset + 1, min(count, Int(Int32.max)), id.bytes])
        }
    }

    /// The size of small chunk `id`, or nil.
    func size(of id: ChunkID) throws -> Int? {
        if let loc = try location(id) { return loc.len }
        guard legacy else { return nil }
        return try db.read { db in try Int.fetchOne(db, sql: "SELECT length(data) FROM chunk WHERE id = ?", arguments: [id.bytes]) }
    }

    /// Every small chunk: ID, size, touched (seconds).
    func all() throws -> [(id: ChunkID, size: Int, touched: Double)] {
        try db.read { db in
            var out: [(ChunkID, Int, Double)] = []
            let sql = legacy ? "SELECT id, len, touched FROM packed UNION ALL SELECT id, length(data), touched FROM chunk"
                             : "SELECT id, len, touched FROM packed"
            let rows = try Row.fetchCursor(db, sql: sql)
            while let r = try rows.next() {
                if let id = ChunkID(bytes: r[0]) { out.append((id, r[1], r[2])) }
            }
            return out
        }
    }

    /// Removes small chunk `id` (its bytes stay in the pack until `compact`).
    /// Deletes the chunk's row unless it was touched at or after `cutoff` (in the same transaction
    /// as the check, so a put's touch comes before or after both); says whether it did.
    func delete(_ id: ChunkID, ifTouchedBefore cutoff: Date) throws -> Bool {
        let before = cutoff.timeIntervalSince1970
        return try db.write { db in
            var removed = false
            let remove = try db.cachedStatement(sql: "DELETE FROM packed WHERE id = ? AND touched < ? RETURNING pack, pos, len")
            if let old = try Self.location(db, remove, { id.bytes.bind($0, 1); sqlite3_bind_double($0, 2, before) }) {
                try db.execute(sql: "UPDATE pack SET live = live - ? WHERE id = ?", arguments: [old.len, old.pack])
                removed = true
            }
            if legacy {
                try db.execute(sql: "DELETE FROM chunk WHERE id = ? AND touched < ?", arguments: [id.bytes, before])
                removed = removed || db.changesCount > 0
            }
            return removed
        }
    }

    // MARK: Durability and space

    /// The packs with bytes no sync has flushed yet, and their sizes now (read before a sync).
    func unsynced() throws -> [(pack: Int64, size: Int64)] {
        try db.read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT id, size FROM pack WHERE durable < size")).map { ($0[0], $0[1]) }
        }
    }

    /// Records that a sync flushed the packs up to the sizes `unsynced` returned before it.
    func markDurable(_ synced: [(pack: Int64, size: Int64)]) throws {
        guard !synced.isEmpty else { return }
        try db.write { db in
            for (pack, size) in synced {
                try db.cachedStatement(sql: "UPDATE pack SET durable = max(durable, ?) WHERE id = ?").execute(arguments: [size, pack])
            }
        }
    }

    /// Checks the bytes past `durable` of packs last appended to before this boot: rows whose bytes
    /// did not survive are dropped (their chunks are no longer stored; fsck reports references to them).
    private func recoverAfterReboot() throws {
        let boot = ProcessIdentity.bootID
        let suspect = "SELECT id, durable FROM pack WHERE durable < size AND (boot IS NULL OR boot <> ?)"
        guard try db.read({ db in try Row.fetchOne(db, sql: suspect, arguments: [boot]) }) != nil else { return }
        try db.write { db in
            for p in try Row.fetchAll(db, sql: suspect, arguments: [boot]) {
                let pack: Int64 = p[0], durable: Int64 = p[1]
                let rows = try Row.fetchAll(db, sql: "SELECT id, pos, len FROM packed WHERE pack = ? AND pos + len > ?",
                                            arguments: [pack, durable])
                for r in rows {
                    let id = ChunkID(bytes: r[0])
                    let loc = PackedLocation(pack: pack, pos: r[1], len: r[2])
                    // Only a pack that ends before the row's bytes (or is gone) or bytes that do not
                    // hash to the name say they were lost; a failing read (EIO, EMFILE) is an error.
                    let intact: Bool
                    do { intact = try id.map { try ChunkID.of(readBytes(loc, offset: 0, count: loc.len)) == $0 } ?? false } catch VolumeError.corrupt(_) {
                        intact = false
                    }
                    if intact { continue }
                    try db.execute(sql: "DELETE FROM packed WHERE id = ?", arguments: [r[0] as Data])
                    try db.execute(sql: "UPDATE pack SET live = live - ? WHERE id = ?", arguments: [loc.len, pack])
                }
                try db.execute(sql: "UPDATE pack SET durable = size, boot = ? WHERE id = ?", arguments: [boot, pack])
            }
        }
    }

    /// Rewrites the live chunks of sealed packs that are less than half live into the open pack, then
    /// removes those packs; `sync` makes the copies and their rows durable before a pack goes.
    /// Returns the bytes of pack files removed.
    func compact(sync: () throws -> Void) throws -> Int64 {
        let victims = try db.read { db in
            try Row.fetchAll(db, sql: "SELECT id, size FROM pack WHERE sealed = 1 AND live * 2 < size").map { (id: $0[0] as Int64, size: $0[1] as Int64) }
        }
        var freed: Int64 = 0
        for v in victims {
            try db.write { db in
                var appender = try Appender(db, self)
                let rows = try Row.fetchAll(db, sql: "SELECT id, pos, len FROM packed WHERE pack = ?", arguments: [v.id])
                for r in rows {
                    let loc = PackedLocation(pack: v.id, pos: r[1], len: r[2])
                    let pos = appender.add(try readBytes(loc, offset: 0, count: loc.len))
                    try db.execute(sql: "UPDATE packed SET pack = ?, pos = ? WHERE id = ?", arguments: [appender.pack, pos, r[0] as Data])
                }
                try db.execute(sql: "UPDATE pack SET live = 0 WHERE id = ?", arguments: [v.id])
                try appender.finish()
            }
            try sync()
            try db.write { db in
                try db.execute(sql: "DELETE FROM pack WHERE id = ? AND NOT EXISTS (SELECT 1 FROM packed WHERE pack = ?)", arguments: [v.id, v.id])
            }
            _ = files.withLock { $0.removeValue(forKey: v.id) }
            if unlink(path(v.id)) == 0 { freed += v.size }
        }
        return freed
    }
}
