// Read-only connections of their own to one SQLite file, for single-statement reads outside any transaction.
import GRDB
import Synchronization

/// Idle read-only connections to the database at `path`, reused: `read` runs its body on one, outside
/// any transaction, so each statement sees the latest commit. About a quarter of the cost of a
/// `DatabasePool.read` (no reader-pool bookkeeping, no BEGIN/COMMIT), which matters on paths every
/// request takes. For reads of one statement, or where statements seeing different commits does no harm.
final class QuickReaders: Sendable {
    let path: String
    /// SQLite's page cache per connection, in KiB.
    let cacheKiB: Int
    /// Idle connections kept at most.
    static let keep = 16
    private let idle = Mutex<[DatabaseQueue]>([])

    init(path: String, cacheKiB: Int = 4000) {
        self.path = path
        self.cacheKiB = cacheKiB
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        let q = try idle.withLock { $0.popLast() } ?? open()
        defer { idle.withLock { if $0.count < Self.keep { $0.append(q) } } }
        return try q.inDatabase(body)
    }

    private func open() throws -> DatabaseQueue {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(30)
        let kib = cacheKiB
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA cache_size = -\(kib)") }
        return try DatabaseQueue(path: path, configuration: config)
    }

    /// Closes the idle connections (those in use close when their reader is done with them).
    func close() throws {
        for q in idle.withLock({ r -> [DatabaseQueue] in defer { r = [] }; return r }) { try q.close() }
    }
}
