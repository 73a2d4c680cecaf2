// The one mapping from SQLite result codes to VolumeErrors, for every raw stepper and for GRDB's errors.
import Foundation
import GRDB
import GRDBSQLite
import SystemPackage

extension VolumeError {
    /// The errno a failed SQLite call means: BUSY or LOCKED as EAGAIN, FULL as ENOSPC (a full disk, or
    /// the database at its page limit), READONLY as EROFS, anything else (IOERR, CORRUPT, ...) as EIO.
    static func errno(sqliteResult rc: Int32) -> Int32 {
        switch rc & 0xff {
        case SQLITE_BUSY, SQLITE_LOCKED: return EAGAIN
        case SQLITE_FULL: return ENOSPC
        case SQLITE_READONLY: return EROFS
        default: return EIO
        }
    }

    /// The error of a statement of `db` that failed with result code `rc`, with SQLite's message.
    static func sqlite(_ db: Database, _ rc: Int32, _ what: String) -> VolumeError {
        let msg = String(cString: sqlite3_errmsg(db.sqliteConnection))
        return .io("\(what) failed (\(rc)): \(msg)", errno: errno(sqliteResult: rc))
    }

    /// `error` as a VolumeError: itself, a GRDB `DatabaseError` by its result code, a swift-system
    /// `Errno` by its code; anything else as EIO.
    public static func of(_ error: Error) -> VolumeError {
        switch error {
        case let e as VolumeError: return e
        case let e as DatabaseError:
            return .io("database: \(e.message ?? "\(e.resultCode)")", errno: errno(sqliteResult: e.extendedResultCode.rawValue))
        case let e as Errno: return .io("\(e)", errno: e.rawValue)
        default: return .io("\(error)", errno: EIO)
        }
    }
}
