// Bumps a data directory's epoch after every registry commit that touched a given table, whatever wrote it.
import GRDB

/// Watches the registry's writer: when a transaction that inserted, updated or deleted a row of `table`
/// commits, bumps `epoch`, so that no process answers from what it read of that table before (an
/// `EpochCache`: `volumes.epoch` for `volume`, `keys.epoch` for `api_key`). Being a transaction observer,
/// it sees every write of this process's store, whichever method made it, and only after the commit.
final class RegistryEpochObserver: TransactionObserver, @unchecked Sendable {
    private let table: String
    private let epoch: SharedCounter
    /// Whether the transaction under way changed a row of `table`. Touched only on the writer's queue.
    private var touched = false

    init(table: String, epoch: SharedCounter) {
        self.table = table
        self.epoch = epoch
    }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { eventKind.tableName == table }

    func databaseDidChange(with event: DatabaseEvent) { touched = true }

    func databaseDidCommit(_ db: Database) {
        if touched { epoch.bump() }
        touched = false
    }

    func databaseDidRollback(_ db: Database) { touched = false }
}
