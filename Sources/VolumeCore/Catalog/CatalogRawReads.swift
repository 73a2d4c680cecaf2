// The reads every FUSE request makes (an inode's attributes, a name's attributes, a directory's
// entries), stepped through the SQLite C API on GRDB's cached statements: decoding a Row costs
// more than the query.
import Foundation
import GRDB
import GRDBSQLite

extension Catalog {
    /// Binds `statement` with `bind`, then calls `row` for each result row, at most `limit` of
    /// them; the statement is reset and unbound afterwards, whatever happens. A failure throws
    /// what `error` makes of SQLite's (extended) result code, or else `failure(db, rc, ...)`.
    static func step(_ db: Database, _ statement: Statement, limit: Int = .max, _ bind: (OpaquePointer) -> Void,
                     row: (OpaquePointer) -> Void, error: (Int32) -> VolumeError? = { _ in nil }) throws {
        let s = statement.sqliteStatement
        sqlite3_reset(s)
        bind(s)
        defer {
            sqlite3_reset(s)
            sqlite3_clear_bindings(s)
        }
        var rows = 0
        while rows < limit {
            switch sqlite3_step(s) {
            case SQLITE_ROW:
                row(s)
                rows += 1
            case SQLITE_DONE:
                return
            case let rc:
                throw error(rc) ?? failure(db, rc, statement.isReadonly ? "read" : "write")
            }
        }
    }

    /// A blob column as Data.
    static func blob(_ s: OpaquePointer, _ column: Int32) -> Data {
        let n = Int(sqlite3_column_bytes(s, column))
        return n == 0 ? Data() : Data(bytes: sqlite3_column_blob(s, column), count: n)
    }

    /// Steps `statement` for rows of attribute columns 0...10 and the name in column 11.
    static func fetchEntries(_ db: Database, _ statement: Statement, _ bind: (OpaquePointer) -> Void) throws -> [DirectoryEntry] {
        var out: [DirectoryEntry] = []
        try step(db, statement, bind) { s in out.append(DirectoryEntry(name: blob(s, 11), attributes: decodeAttributes(s))) }
        return out
    }

    /// Like `children`, but only each entry's inode number and kind are filled in (all a plain
    /// directory listing needs; the inode's other columns are not read).
    static func childKinds(_ db: Database, of parent: UInt64, after: Data? = nil, limit: Int = -1) throws -> [DirectoryEntry] {
        let sql = """
            SELECT i.ino, i.kind, d.name FROM dentry d JOIN inode i ON i.ino = d.ino
            WHERE d.parent = ? AND d.name > ? ORDER BY d.name LIMIT ?
            """
        var out: [DirectoryEntry] = []
        try step(db, db.cachedStatement(sql: sql), { s in
            sqlite3_bind_int64(s, 1, Int64(bitPattern: parent))
            (after ?? Data()).bind(s, 2)
            sqlite3_bind_int64(s, 3, Int64(limit))
        }) { s in
            let kind = FileKind(rawValue: Int(sqlite3_column_int64(s, 1))) ?? .file
            let a = Attributes(ino: UInt64(sqlite3_column_int64(s, 0)), kind: kind, mode: 0, uid: 0, gid: 0, size: 0,
                               nlink: 0, atime: 0, mtime: 0, ctime: 0, rdev: 0)
            out.append(DirectoryEntry(name: blob(s, 2), attributes: a))
        }
        return out
    }

    /// The block references of `ino` from block `first` to `last`, by block index.
    static func blocks(_ db: Database, _ ino: UInt64, from first: Int, to last: Int) throws -> [Int: BlockRef] {
        var out: [Int: BlockRef] = [:]
        var bad: Int?
        try step(db, db.cachedStatement(sql: "SELECT idx, chunk, len FROM block WHERE ino = ? AND idx BETWEEN ? AND ?"), { s in
            sqlite3_bind_int64(s, 1, Int64(bitPattern: ino))
            sqlite3_bind_int64(s, 2, Int64(first))
            sqlite3_bind_int64(s, 3, Int64(last))
        }) { s in
            let idx = Int(sqlite3_column_int64(s, 0))
            guard let chunk = ChunkID(bytes: blob(s, 1)) else { bad = idx; return }
            out[idx] = BlockRef(chunk: chunk, len: Int(sqlite3_column_int64(s, 2)))
        }
        if let bad { throw VolumeError.corrupt("block \(bad) of inode \(ino) names no valid chunk; run fsck") }
        return out
    }

    static func decodeAttributes(_ s: OpaquePointer) -> Attributes {
        func i(_ c: Int32) -> Int64 { sqlite3_column_int64(s, c) }
        return Attributes(ino: UInt64(i(0)), kind: FileKind(rawValue: Int(i(1))) ?? .file, mode: UInt32(truncatingIfNeeded: i(2)),
                          uid: UInt32(truncatingIfNeeded: i(3)), gid: UInt32(truncatingIfNeeded: i(4)), size: i(5),
                          nlink: UInt32(truncatingIfNeeded: i(6)), atime: i(7), mtime: i(8), ctime: i(9),
                          rdev: UInt64(bitPattern: i(10)))
    }

    /// Steps `statement` (already bound by `bind`) for at most one row of attribute columns 0...10.
    static func fetchAttributes(_ db: Database, _ statement: Statement, _ bind: (OpaquePointer) -> Void) throws -> Attributes? {
        var found: Attributes?
        try step(db, statement, limit: 1, bind) { s in found = decodeAttributes(s) }
        return found
    }
}
