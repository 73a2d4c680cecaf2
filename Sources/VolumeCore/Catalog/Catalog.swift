// The per-volume catalog's shared SQL, on a GRDB Database: the statements several operations use
// (attributes, entries, blocks, targets, usage and counts in meta). Not all of it: the hot ones are
// stepped through the C API in CatalogRawReads and CatalogRawWrites, an import's inserts in
// CatalogImportWriter, fsck's scans and repairs in Fsck, the change poll in VolumeChanges, and a
// few one-off statements sit beside their only caller (orphan marks in Volume, VolumeNamespace
// and VolumeData; xattrs in VolumeNamespace; a block range read in VolumeData; a chmod in
// VolumeFiles); the PRAGMAs that tune a connection are where it is opened or used.
import Foundation
import GRDB
import GRDBSQLite

/// A stored block of a file: block `idx` covers bytes `[idx * blockSize, idx * blockSize + len)`;
/// the rest of the block up to the file size reads as zeros, and so does a missing block.
public struct BlockRef: Sendable, Equatable {
    public var chunk: ChunkID
    public var len: Int
}

/// Keys of the catalog's `meta` table.
enum MetaKey: String {
    case blockSize = "block_size"
    case usageBytes = "usage_bytes"
    case fileCount = "file_count"
    case capBytes = "cap_bytes"
    case changeSeq = "change_seq"
}

/// Stateless SQL helpers over one volume's catalog; callers own the transaction.
enum Catalog {
    static let rootIno: UInt64 = 1

    /// Creates the root directory and the meta rows of a new catalog.
    static func initialize(_ db: Database, blockSize: Int, capBytes: Int64, now: Nanos) throws {
        guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM inode)") == false else { return }
        try db.execute(sql: """
            INSERT INTO inode (ino, kind, mode, uid, gid, size, nlink, atime, mtime, ctime)
            VALUES (1, 2, 493, 0, 0, 0, 2, ?, ?, ?)
            """, arguments: [now, now, now])
        for (k, v) in [(MetaKey.blockSize, Int64(blockSize)), (.usageBytes, 0), (.fileCount, 0), (.capBytes, capBytes), (.changeSeq, 0)] {
            try db.execute(sql: "INSERT INTO meta (key, value) VALUES (?, ?)", arguments: [k.rawValue, v])
        }
    }

    static func meta(_ db: Database, _ key: MetaKey) throws -> Int64 {
        var value: Int64 = 0
        try step(db, db.cachedStatement(sql: "SELECT value FROM meta WHERE key = ?"), limit: 1, { bind($0, 1, key.rawValue) }) {
            value = sqlite3_column_int64($0, 0)
        }
        return value
    }

    static func setMeta(_ db: Database, _ key: MetaKey, _ value: Int64) throws {
        try db.cachedStatement(sql: "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .execute(arguments: [key.rawValue, value])
    }

    static func addMeta(_ db: Database, _ key: MetaKey, _ delta: Int64) throws {
        guard delta != 0 else { return }
        try write(db, "UPDATE meta SET value = value + ? WHERE key = ?") { s in
            sqlite3_bind_int64(s, 1, delta)
            bind(s, 2, key.rawValue)
        }
    }

    /// Bumps the change sequence other processes poll for coherence; returns the new value.
    /// (An UPDATE and a SELECT: SQLite 3.40 runs RETURNING through an ephemeral table it allocates
    /// per execution, which cost more than the two statements together.)
    @discardableResult
    static func bumpChange(_ db: Database) throws -> Int64 {
        try write(db, "UPDATE meta SET value = value + 1 WHERE key = 'change_seq'") { _ in }
        return try meta(db, .changeSeq)
    }

    private static let attrColumns = "ino, kind, mode, uid, gid, size, nlink, atime, mtime, ctime, rdev"

    static func attributes(from row: Row) -> Attributes {
        Attributes(
            ino: UInt64(row[0] as Int64), kind: FileKind(rawValue: row[1]) ?? .file, mode: UInt32(row[2] as Int64),
            uid: UInt32(row[3] as Int64), gid: UInt32(row[4] as Int64), size: row[5], nlink: UInt32(row[6] as Int64),
            atime: row[7], mtime: row[8], ctime: row[9], rdev: UInt64(row[10] as Int64))
    }

    static func attributes(_ db: Database, _ ino: UInt64) throws -> Attributes? {
        try fetchAttributes(db, db.cachedStatement(sql: "SELECT \(attrColumns) FROM inode WHERE ino = ?")) {
            sqlite3_bind_int64($0, 1, Int64(bitPattern: ino))
        }
    }

    static func lookup(_ db: Database, parent: UInt64, name: Data) throws -> UInt64? {
        var ino: UInt64?
        try step(db, db.cachedStatement(sql: "SELECT ino FROM dentry WHERE parent = ? AND name = ?"), limit: 1, { s in
            sqlite3_bind_int64(s, 1, Int64(bitPattern: parent))
            name.bind(s, 2)
        }) { ino = UInt64(bitPattern: sqlite3_column_int64($0, 0)) }
        return ino
    }

    static func lookupAttributes(_ db: Database, parent: UInt64, name: Data) throws -> Attributes? {
        try fetchAttributes(db, db.cachedStatement(sql: """
            SELECT i.ino, i.kind, i.mode, i.uid, i.gid, i.size, i.nlink, i.atime, i.mtime, i.ctime, i.rdev
            FROM dentry d JOIN inode i ON i.ino = d.ino WHERE d.parent = ? AND d.name = ?
            """)) { s in
            sqlite3_bind_int64(s, 1, Int64(bitPattern: parent))
            name.bind(s, 2)
        }
    }

    /// Entries of a directory in name order, starting after `after` (exclusive) when given.
    static func children(_ db: Database, of parent: UInt64, after: Data? = nil, limit: Int = -1) throws -> [DirectoryEntry] {
        let sql = """
            SELECT i.ino, i.kind, i.mode, i.uid, i.gid, i.size, i.nlink, i.atime, i.mtime, i.ctime, i.rdev, d.name
            FROM dentry d JOIN inode i ON i.ino = d.ino
            WHERE d.parent = ? AND d.name > ? ORDER BY d.name LIMIT ?
            """
        return try fetchEntries(db, db.cachedStatement(sql: sql)) { s in
            sqlite3_bind_int64(s, 1, Int64(bitPattern: parent))
            (after ?? Data()).bind(s, 2)
            sqlite3_bind_int64(s, 3, Int64(limit))
        }
    }

    static func hasChildren(_ db: Database, _ ino: UInt64) throws -> Bool {
        var found = false
        try step(db, db.cachedStatement(sql: "SELECT 1 FROM dentry WHERE parent = ? LIMIT 1"), limit: 1,
                 { sqlite3_bind_int64($0, 1, Int64(bitPattern: ino)) }) { _ in found = true }
        return found
    }

    /// The (parent, name) of a directory; directories have exactly one.
    static func parentEntry(_ db: Database, of ino: UInt64) throws -> (parent: UInt64, name: Data)? {
        var entry: (parent: UInt64, name: Data)?
        try step(db, db.cachedStatement(sql: "SELECT parent, name FROM dentry WHERE ino = ? LIMIT 1"), limit: 1,
                 { sqlite3_bind_int64($0, 1, Int64(bitPattern: ino)) }) { s in
            entry = (UInt64(bitPattern: sqlite3_column_int64(s, 0)), blob(s, 1))
        }
        return entry
    }

    /// Inserts an inode and returns its attributes as stored (no need to read them back).
    static func insertInode(_ db: Database, kind: FileKind, mode: UInt32, caller: Caller, rdev: UInt64 = 0,
                            target: Data? = nil, size: Int64 = 0, now: Nanos) throws -> Attributes {
        let size = target.map { Int64($0.count) } ?? size
        let nlink: UInt32 = kind == .directory ? 2 : 1
        try write(db, """
            INSERT INTO inode (kind, mode, uid, gid, size, nlink, atime, mtime, ctime, rdev, target)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """) { s in
            sqlite3_bind_int64(s, 1, Int64(kind.rawValue))
            sqlite3_bind_int64(s, 2, Int64(mode & 0o7777))
            sqlite3_bind_int64(s, 3, Int64(caller.uid))
            sqlite3_bind_int64(s, 4, Int64(caller.gid))
            sqlite3_bind_int64(s, 5, size)
            sqlite3_bind_int64(s, 6, Int64(nlink))
            for i: Int32 in 7...9 { sqlite3_bind_int64(s, i, now) }
            sqlite3_bind_int64(s, 10, Int64(bitPattern: rdev))
            if let target { target.bind(s, 11) } else { sqlite3_bind_null(s, 11) }
        }
        return Attributes(ino: UInt64(db.lastInsertedRowID), kind: kind, mode: mode & 0o7777, uid: caller.uid, gid: caller.gid,
                          size: size, nlink: nlink, atime: now, mtime: now, ctime: now, rdev: rdev)
    }

    /// Adds the entry `parent/name`; fails with `alreadyExists` when the name is taken.
    static func insertEntry(_ db: Database, parent: UInt64, name: Data, ino: UInt64) throws {
        try write(db, "INSERT INTO dentry (parent, name, ino) VALUES (?, ?, ?)", constraint: { rc in
            rc == primaryKeyTaken ? VolumeError.alreadyExists(String(decoding: name, as: UTF8.self)) : nil
        }) { s in
            sqlite3_bind_int64(s, 1, Int64(bitPattern: parent))
            name.bind(s, 2)
            sqlite3_bind_int64(s, 3, Int64(bitPattern: ino))
        }
    }

    static func deleteEntry(_ db: Database, parent: UInt64, name: Data) throws {
        try write(db, "DELETE FROM dentry WHERE parent = ? AND name = ?") { s in
            sqlite3_bind_int64(s, 1, Int64(bitPattern: parent))
            name.bind(s, 2)
        }
    }

    static func updateEntry(_ db: Database, parent: UInt64, name: Data, ino: UInt64) throws {
        try db.cachedStatement(sql: "UPDATE dentry SET ino = ? WHERE parent = ? AND name = ?")
            .execute(arguments: [Int64(ino), Int64(parent), name])
    }

    static func addLinks(_ db: Database, _ ino: UInt64, _ delta: Int, now: Nanos) throws {
        try write(db, "UPDATE inode SET nlink = nlink + ?, ctime = ? WHERE ino = ?") { s in
            sqlite3_bind_int64(s, 1, Int64(delta))
            sqlite3_bind_int64(s, 2, now)
            sqlite3_bind_int64(s, 3, Int64(bitPattern: ino))
        }
    }

    static func touch(_ db: Database, _ ino: UInt64, mtime: Bool = true, now: Nanos) throws {
        if mtime {
            try write(db, "UPDATE inode SET mtime = ?, ctime = ? WHERE ino = ?") { s in
                sqlite3_bind_int64(s, 1, now)
                sqlite3_bind_int64(s, 2, now)
                sqlite3_bind_int64(s, 3, Int64(bitPattern: ino))
            }
        } else {
            try write(db, "UPDATE inode SET ctime = ? WHERE ino = ?") { s in
                sqlite3_bind_int64(s, 1, now)
                sqlite3_bind_int64(s, 2, Int64(bitPattern: ino))
            }
        }
    }

    /// Sets an inode's atime alone (relatime marks: no ctime change).
    static func setAtime(_ db: Database, _ ino: UInt64, _ atime: Nanos) throws {
        try write(db, "UPDATE inode SET atime = ? WHERE ino = ?") { s in
            sqlite3_bind_int64(s, 1, atime)
            sqlite3_bind_int64(s, 2, Int64(bitPattern: ino))
        }
    }

    /// Sets mode, owner and times (setattr), all at once.
    static func setAttributes(_ db: Database, _ ino: UInt64, mode: UInt32, uid: UInt32, gid: UInt32,
                              atime: Nanos, mtime: Nanos, ctime: Nanos) throws {
        try write(db, "UPDATE inode SET mode = ?, uid = ?, gid = ?, atime = ?, mtime = ?, ctime = ? WHERE ino = ?") { s in
            sqlite3_bind_int64(s, 1, Int64(mode))
            sqlite3_bind_int64(s, 2, Int64(uid))
            sqlite3_bind_int64(s, 3, Int64(gid))
            sqlite3_bind_int64(s, 4, atime)
            sqlite3_bind_int64(s, 5, mtime)
            sqlite3_bind_int64(s, 6, ctime)
            sqlite3_bind_int64(s, 7, Int64(bitPattern: ino))
        }
    }

    /// The value of extended attribute `name` of `ino`, if set. (The kernel asks for
    /// `security.capability` on writes, so this is on a hot path.)
    static func xattr(_ db: Database, _ ino: UInt64, _ name: String) throws -> Data? {
        var value: Data?
        try step(db, db.cachedStatement(sql: "SELECT value FROM xattr WHERE ino = ? AND name = ?"), limit: 1, { s in
            sqlite3_bind_int64(s, 1, Int64(bitPattern: ino))
            bind(s, 2, name)
        }) { value = blob($0, 0) }
        return value
    }

    static func target(_ db: Database, _ ino: UInt64) throws -> Data? {
        var target: Data?
        try step(db, db.cachedStatement(sql: "SELECT target FROM inode WHERE ino = ?"), limit: 1,
                 { sqlite3_bind_int64($0, 1, Int64(bitPattern: ino)) }) { s in
            if sqlite3_column_type(s, 0) != SQLITE_NULL { target = blob(s, 0) }
        }
        return target
    }

    static func blocks(_ db: Database, _ ino: UInt64) throws -> [Int: BlockRef] {
        var out: [Int: BlockRef] = [:]
        var bad: Int?
        try step(db, db.cachedStatement(sql: "SELECT idx, chunk, len FROM block WHERE ino = ?"),
                 { sqlite3_bind_int64($0, 1, Int64(bitPattern: ino)) }) { s in
            let idx = Int(sqlite3_column_int64(s, 0))
            guard let ref = blockRef(s, chunk: 1, len: 2) else { bad = idx; return }
            out[idx] = ref
        }
        if let bad { throw VolumeError.corrupt("inode \(ino) block \(bad): a chunk ID that is not 32 bytes") }
        return out
    }

    static func block(_ db: Database, _ ino: UInt64, _ idx: Int) throws -> BlockRef? {
        var ref: BlockRef??
        try step(db, db.cachedStatement(sql: "SELECT chunk, len FROM block WHERE ino = ? AND idx = ?"), limit: 1, { s in
            sqlite3_bind_int64(s, 1, Int64(bitPattern: ino))
            sqlite3_bind_int64(s, 2, Int64(idx))
        }) { ref = blockRef($0, chunk: 0, len: 1) }
        guard let ref else { return nil }
        guard let ref else { throw VolumeError.corrupt("inode \(ino) block \(idx): a chunk ID that is not 32 bytes") }
        return ref
    }

    /// A block's columns as a BlockRef; nil when the chunk ID is not 32 bytes.
    private static func blockRef(_ s: OpaquePointer, chunk: Int32, len: Int32) -> BlockRef? {
        ChunkID(bytes: blob(s, chunk)).map { BlockRef(chunk: $0, len: Int(sqlite3_column_int64(s, len))) }
    }

    static func setBlock(_ db: Database, _ ino: UInt64, _ idx: Int, _ ref: BlockRef) throws {
        try write(db, """
            INSERT INTO block (ino, idx, chunk, len) VALUES (?, ?, ?, ?)
            ON CONFLICT(ino, idx) DO UPDATE SET chunk = excluded.chunk, len = excluded.len
            """) { s in
            sqlite3_bind_int64(s, 1, Int64(bitPattern: ino))
            sqlite3_bind_int64(s, 2, Int64(idx))
            ref.chunk.bytes.bind(s, 3)
            sqlite3_bind_int64(s, 4, Int64(ref.len))
        }
    }

    static func deleteBlock(_ db: Database, _ ino: UInt64, _ idx: Int) throws {
        try db.cachedStatement(sql: "DELETE FROM block WHERE ino = ? AND idx = ?").execute(arguments: [Int64(ino), idx])
    }

    static func deleteBlocks(_ db: Database, _ ino: UInt64, from idx: Int) throws {
        try db.cachedStatement(sql: "DELETE FROM block WHERE ino = ? AND idx >= ?").execute(arguments: [Int64(ino), idx])
    }

    static func setSize(_ db: Database, _ ino: UInt64, _ size: Int64, now: Nanos) throws {
        try write(db, "UPDATE inode SET size = ?, mtime = ?, ctime = ? WHERE ino = ?") { s in
            sqlite3_bind_int64(s, 1, size)
            sqlite3_bind_int64(s, 2, now)
            sqlite3_bind_int64(s, 3, now)
            sqlite3_bind_int64(s, 4, Int64(bitPattern: ino))
        }
    }

    /// Deletes an inode with its blocks, xattrs and orphan mark, and takes it out of the usage
    /// figures. The rows that name it go explicitly, not by ON DELETE CASCADE: the catalog runs
    /// with foreign keys unenforced (see `Volume.init`).
    static func deleteInode(_ db: Database, _ attrs: Attributes) throws {
        let ino = Int64(bitPattern: attrs.ino)
        try write(db, "DELETE FROM block WHERE ino = ?") { sqlite3_bind_int64($0, 1, ino) }
        try write(db, "DELETE FROM xattr WHERE ino = ?") { sqlite3_bind_int64($0, 1, ino) }
        try write(db, "DELETE FROM orphan WHERE ino = ?") { sqlite3_bind_int64($0, 1, ino) }
        try write(db, "DELETE FROM inode WHERE ino = ?") { sqlite3_bind_int64($0, 1, ino) }
        try addMeta(db, .usageBytes, -usage(of: attrs))
        if attrs.kind == .file { try addMeta(db, .fileCount, -1) }
    }

    /// What an inode counts against the cap: a file's or symlink's apparent size.
    static func usage(of attrs: Attributes) -> Int64 {
        attrs.kind == .file || attrs.kind == .symlink ? attrs.size : 0
    }
}
