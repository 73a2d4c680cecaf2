// Bumps the data directory's volumes epoch after every registry commit that touched a volume row, whatever wrote it.
import GRDB
import Synchronization

/// A volume reference resolved for a caller: the ID or name asked for, and the tenant that asked
/// (nil: the operator).
struct ResolveKey: Hashable, Sendable {
    var ref: String
    var owner: String?
}

/// Watches the registry's writer: when a transaction that inserted, updated or deleted a `volume` row
/// commits, bumps `epoch` (`volumes.epoch`), so that no process answers from a volume reference it
/// resolved before (`VolumeStore.resolved`). Being a transaction observer, it sees every write of this
/// process's store, whichever method made it, and only after the commit.
final class VolumeRowObserver: TransactionObserver, @unchecked Sendable {
    private let epoch: SharedCounter
    /// Whether the transaction under way changed a volume row. Touched only on the writer's queue.
    private var touched = false

    init(epoch: SharedCounter) { self.epoch = epoch }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { eventKind.tableName == "volume" }

    func databaseDidChange(with event: DatabaseEvent) { touched = true }

    func databaseDidCommit(_ db: Database) {
        if touched { epoch.bump() }
        touched = false
    }

    func databaseDidRollback(_ db: Database) { touched = false }
}
