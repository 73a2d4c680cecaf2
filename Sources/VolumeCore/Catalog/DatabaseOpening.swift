// The one way the core opens a SQLite database: WAL, a busy timeout, foreign keys, and the sync level asked for.
import GRDB

enum DatabaseOpening {
    /// Opens a WAL-mode pool at `path` and runs `migrator` on it. `allowsOpenTransactions` lets
    /// the writer keep a transaction open between accesses (group commits).
    static func pool(at path: String, synchronous: String = "NORMAL", foreignKeys: Bool = true, readers: Int = 8,
                     allowsOpenTransactions: Bool = false, migrator: DatabaseMigrator) throws -> DatabasePool {
        var config = Configuration()
        config.allowsUnsafeTransactions = allowsOpenTransactions
        config.journalMode = .wal
        config.busyMode = .timeout(30)
        config.foreignKeysEnabled = foreignKeys
        config.maximumReaderCount = readers
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous); PRAGMA cache_size = -16000")
        }
        let pool = try DatabasePool(path: path, configuration: config)
        // Read first: migrating takes the write lock, and another process may hold it for minutes (an
        // import into an empty volume commits once, at its end). An up-to-date database is only read.
        if try !pool.read({ try migrator.hasCompletedMigrations($0) }) { try migrator.migrate(pool) }
        return pool
    }
}
