// Which volumes a store holds open, and closing one: what a long-running host needs to keep descriptors bounded.
import Foundation

extension VolumeStore {
    /// The IDs of the volumes this store holds open now.
    public func openVolumeIDs() -> [String] { open.withLock { Array($0.keys) }.sorted() }

    /// Commits what the volume buffers and closes its catalog, unless it has files open (inode-level
    /// handles, a mount's); returns whether it was closed. The next `volume(_:owner:)` opens it again.
    /// The caller makes sure no one else uses the `Volume` object meanwhile (the daemon's host counts
    /// its users).
    @discardableResult
    public func closeVolume(_ id: String) throws -> Bool {
        let v: Volume? = open.withLock { map in
            guard let v = map[id], v.openFiles.withLock({ $0.isEmpty }) else { return nil }
            map.removeValue(forKey: id)
            return v
        }
        guard let v else { return false }
        try v.flushAll()
        try v.close()
        return true
    }
}
