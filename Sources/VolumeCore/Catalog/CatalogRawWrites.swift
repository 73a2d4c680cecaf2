// The catalog's hot writes (create, a small file's commit, unlink) bound and stepped through the
// SQLite C API on GRDB's cached statements: through GRDB each statement cost ~8 µs (arguments,
// bookkeeping), several times SQLite's own work on these one-row statements.
import Foundation
import GRDB
import GRDBSQLite

extension Catalog {
    /// SQLITE_CONSTRAINT_PRIMARYKEY, a macro Swift does not import: a UNIQUE key already taken.
    static let primaryKeyTaken: Int32 = SQLITE_CONSTRAINT | (6 << 8)

    /// Runs the write `sql` (prepared once per connection) to completion, bound by `bind`. A
    /// constraint violation throws what `constraint` makes of SQLite's extended result code, or
    /// else an I/O error, like any other failure. Calls `row` for each row it returns (RETURNING).
    static func write(_ db: Database, _ sql: String, constraint: (Int32) -> VolumeError? = { _ in nil },
                      _ bind: (OpaquePointer) -> Void, row: (OpaquePointer) -> Void = { _ in }) throws {
        try step(db, db.cachedStatement(sql: sql), bind, row: row, error: { rc in
            rc & 0xff == SQLITE_CONSTRAINT ? constraint(rc) : nil
        })
    }

    /// The error a failed statement of `db` reports (`VolumeError.sqlite`: FULL as ENOSPC, ...).
    static func failure(_ db: Database, _ rc: Int32, _ what: String) -> VolumeError {
        VolumeError.sqlite(db, rc, "catalog \(what)")
    }

    /// Binds `value` as a text parameter (copied by SQLite).
    static func bind(_ s: OpaquePointer, _ i: Int32, _ value: String) {
        _ = value.withCString { sqlite3_bind_text(s, i, $0, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self)) }
    }

    /// Runs `body` inside a savepoint of the open transaction on `db`: released when `body`
    /// returns, rolled back to (and released) when it throws, so only `body`'s own changes go.
    /// The statements are prepared once per connection, unlike GRDB's `inSavepoint`.
    static func inSavepoint<T>(_ db: Database, _ body: () throws -> T) throws -> T {
        precondition(db.isInsideTransaction, "a savepoint of a change is nested in the group's transaction")
        try write(db, "SAVEPOINT change") { _ in }
        let result: T
        do {
            result = try body()
            try write(db, "RELEASE change") { _ in }
        } catch {
            // A failed RELEASE leaves the savepoint in place, so this undoes the change either way.
            // When SQLite rolled back the whole transaction (an I/O error, say), there is no
            // savepoint left to roll back to, and nothing to do here.
            if db.isInsideTransaction {
                try? write(db, "ROLLBACK TO change") { _ in }
                try? write(db, "RELEASE change") { _ in }
            }
            throw error
        }
        return result
    }
}
