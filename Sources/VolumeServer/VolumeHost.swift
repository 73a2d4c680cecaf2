// The daemon's host of open volumes: opened on demand, shared by every request, closed when idle.
import Foundation
import VolumeCore

/// Owns the store and the volumes it holds open. A route borrows a volume with `withVolume` (the
/// volume cannot be closed or deleted while borrowed); `closeIdle` closes volumes nobody borrowed for
/// `idleSeconds`, so a daemon with thousands of volumes holds only the catalogs in use;
/// `deleteVolume` waits for the volume's borrowers to finish (and holds new ones back) before deleting.
/// All methods block: call them through the `BlockingBridge`.
public final class VolumeHost: @unchecked Sendable {
    public let store: VolumeStore
    public let idleSeconds: Double

    private struct State {
        /// Borrowers per volume ID.
        var borrowed: [String: Int] = [:]
        /// When each volume was last given back (monotonic seconds).
        var lastUse: [String: Double] = [:]
        /// Calls that may touch any volume (listing): no volume is closed while one runs.
        var storeCalls = 0
        /// Volumes being deleted: new borrowers wait, then find them gone.
        var deleting: Set<String> = []
    }
    /// Guards `s`; signalled whenever a borrower leaves or a deletion ends.
    private let cond = NSCondition()
    private var s = State()

    private func locked<T>(_ body: (inout State) throws -> T) rethrows -> T {
        cond.lock()
        defer { cond.unlock() }
        return try body(&s)
    }

    /// The registry's `import` leases of the imports running in this host, one per volume.
    let importLeases: ImportLeases

    public init(store: VolumeStore, idleSeconds: Double) {
        self.store = store
        self.idleSeconds = idleSeconds
        importLeases = ImportLeases(store: store)
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// Runs `body` with the volume `ref` names (an ID, or a name unique among `owner`'s volumes; `owner`
    /// nil: any tenant's) open and borrowed. Another tenant's volume is `notFound`, as a missing one.
    public func withVolume<T>(_ ref: String, owner: String?, _ body: (Volume) throws -> T) throws -> T {
        let id = try store.resolve(ref, owner: owner)
        cond.lock()
        while s.deleting.contains(id) { cond.wait() }
        s.borrowed[id, default: 0] += 1
        cond.unlock()
        defer {
            locked { s in
                s.borrowed[id, default: 1] -= 1
                if s.borrowed[id] == 0 { s.borrowed[id] = nil }
                s.lastUse[id] = Self.now()
            }
            cond.broadcast()
        }
        return try body(try store.volume(id, owner: owner))
    }

    /// Runs an import into the volume `ref` names (a PUT, a tar.gz upload, a tus upload landing): borrowed
    /// as `withVolume` does, and under an `import` lease in the registry, so that a deletion from another
    /// process (which cannot see this host's borrowers) is refused while it runs. Concurrent imports into
    /// one volume share one registry lease (`ImportLeases`): the first takes it, the last releases it.
    public func withImport<T>(_ ref: String, owner: String?, _ body: (Volume) throws -> T) throws -> T {
        try withVolume(ref, owner: owner) { v in
            try importLeases.enter(v.id)
            defer { importLeases.leave(v.id) }
            return try body(v)
        }
    }

    /// Deletes the volume `ref` names once its borrowers (an upload in flight, say) are done; requests
    /// that arrive meanwhile wait, then find it gone (`notFound`).
    /// `force`: even while mounted in sandboxes; returns the attachments that became `failed`.
    @discardableResult
    public func deleteVolume(_ ref: String, owner: String?, force: Bool = false) throws -> [Attachment] {
        let id = try store.resolve(ref, owner: owner)
        cond.lock()
        while s.deleting.contains(id) || s.borrowed[id] != nil { cond.wait() }
        s.deleting.insert(id)
        cond.unlock()
        defer {
            locked { _ = $0.deleting.remove(id) }
            cond.broadcast()
        }
        return try withStore { try $0.deleteVolume(id, owner: owner, force: force) }
    }

    /// Runs a store-wide call (list, create, delete, info): no volume is closed meanwhile. A volume the
    /// call opened counts as used now; one that was open already keeps its last use (another tenant's
    /// listing is no use of it).
    public func withStore<T>(_ body: (VolumeStore) throws -> T) throws -> T {
        locked { $0.storeCalls += 1 }
        defer {
            let now = Self.now()
            let open = store.openVolumeIDs()
            locked { s in
                s.storeCalls -= 1
                for id in open where s.lastUse[id] == nil { s.lastUse[id] = now }
            }
        }
        return try body(store)
    }

    /// Closes the volumes that are open, not borrowed, and idle for `idleSeconds` or more (all such
    /// with `force`). Returns how many it closed. Holds the host's lock while closing, so no borrower
    /// can take a volume that is being closed.
    @discardableResult
    public func closeIdle(force: Bool = false) -> Int {
        let now = Self.now()
        return locked { s -> Int in
            guard s.storeCalls == 0 else { return 0 }
            var closed = 0
            for id in store.openVolumeIDs() where s.borrowed[id] == nil {
                let last = s.lastUse[id] ?? now
                if s.lastUse[id] == nil { s.lastUse[id] = now }
                guard force || now - last >= idleSeconds else { continue }
                if (try? store.closeVolume(id)) == true {
                    closed += 1
                    s.lastUse[id] = nil
                }
            }
            return closed
        }
    }

    /// Volumes open now.
    public var openCount: Int { store.openVolumeIDs().count }

    /// Commits and closes everything (at shutdown).
    public func close() throws { try store.close() }
}
