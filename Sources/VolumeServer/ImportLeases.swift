// One registry `import` lease per volume for all the imports this daemon runs into it at once.
import Foundation
import VolumeCore

/// Counts the imports running into each volume and holds one shared `import` lease in the registry
/// while there is at least one: the first import takes it (a registry transaction, which also refuses a
/// volume being deleted), the others only count, the last one out releases it. For another process the
/// guarantee is the one a lease per import gave: while any import of this daemon runs into a volume, a
/// live `import` lease of this process is in the registry, so its `volume delete` (unless forced) is
/// refused. It saves two synced registry transactions per request while imports overlap (many small PUTs).
/// Blocking: call through the `BlockingBridge`.
final class ImportLeases: @unchecked Sendable {
    private struct Entry {
        /// The registry lease; nil while the first import is still taking it.
        var lease: String?
        var count: Int
    }
    private let store: VolumeStore
    private let cond = NSCondition()
    private var entries: [String: Entry] = [:]

    init(store: VolumeStore) { self.store = store }

    /// An import into `volume` starts: takes the registry lease, or joins the one held. Throws what
    /// taking it throws (`conflict` while the volume is being deleted); then nothing is counted.
    func enter(_ volume: String) throws {
        cond.lock()
        while let e = entries[volume] {
            if e.lease != nil {
                entries[volume]!.count += 1
                cond.unlock()
                return
            }
            cond.wait()  // the first import is taking the lease: join it, or try again if it failed
        }
        entries[volume] = Entry(lease: nil, count: 1)
        cond.unlock()
        do {
            let lease = try store.acquireLease(volume: volume, purpose: .import)
            cond.lock()
            entries[volume]!.lease = lease.id
        } catch {
            cond.lock()
            entries[volume] = nil
            cond.broadcast()
            cond.unlock()
            throw error
        }
        cond.broadcast()
        cond.unlock()
    }

    /// An import into `volume` ended (however): the last one releases the lease.
    func leave(_ volume: String) {
        cond.lock()
        guard var e = entries[volume] else { cond.unlock(); return }
        e.count -= 1
        let release = e.count == 0 ? e.lease : nil
        entries[volume] = e.count == 0 ? nil : e
        cond.unlock()
        if let release { _ = try? store.releaseLease(release) }
    }

    /// Imports running into `volume` now (for tests).
    func running(_ volume: String) -> Int {
        cond.lock(); defer { cond.unlock() }
        return entries[volume]?.count ?? 0
    }
}
