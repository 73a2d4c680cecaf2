// The attributes this process's own changes left on inodes, kept so a mount's GETATTR after a change needs no catalog read.
import Foundation
import Synchronization

/// Attributes of inodes as this process's last change to each left them (write-through).
///
/// - Only changes fill it: `Volume.mutate` re-reads, on the writer inside the change's transaction,
///   each inode a small change reports (`ChangeEvent.inode`). Reads never fill it, so a read that
///   raced a change can never put older attributes back.
/// - A change that reports no inode, a change or group commit that fails, and a commit by another
///   process (seen by `Volume.foreignChanges`) empty it; a change that reports more inodes than
///   `Volume.maxRefreshedInodes` drops those.
/// - An entry lives `lifetime` seconds at most: whatever a change failed to report is stale for
///   no longer than that.
///
/// `MountView`s whose owner polls `foreignChanges` (FUSE mounts do, every `pollInterval`) read it,
/// and register as readers while they exist: without one (a CLI or files API process) changes only
/// drop entries and never re-read attributes, and the map stays empty. Thread-safe.
final class RecentAttributes: Sendable {
    /// Entries at most; the map is emptied when it would pass this.
    static let capacity = 65_536
    /// Seconds an entry is served after the change that left it.
    static let lifetime: UInt64 = 10

    private struct Entry {
        var attributes: Attributes
        var expires: UInt64
    }

    private let map = Mutex<[UInt64: Entry]>([:])
    /// Views reading the map now.
    private let readers = Mutex(0)

    /// Whether any view reads the map (changes keep it filled only then).
    var hasReaders: Bool { readers.withLock { $0 > 0 } }

    /// A view that reads the map came into being. The first one starts from an empty map: while
    /// there was none, nothing noticed other processes' commits.
    func addReader() {
        readers.withLock { n in
            if n == 0 { removeAll() }
            n += 1
        }
    }

    /// A view that read the map is gone; with the last one the map is emptied, since changes
    /// stop re-reading what they touch.
    func removeReader() {
        readers.withLock { n in
            n -= 1
            if n == 0 { removeAll() }
        }
    }

    private static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// The attributes a change of this process left on `ino`, if they are recent.
    func get(_ ino: UInt64) -> Attributes? {
        let t = Self.now()
        return map.withLock { m -> Attributes? in
            guard let e = m[ino] else { return nil }
            if e.expires < t {
                m[ino] = nil
                return nil
            }
            return e.attributes
        }
    }

    /// Records `a` as an inode's attributes now. Call only under the catalog's write lock, with
    /// attributes read inside the change that set them.
    func set(_ a: Attributes) {
        let e = Entry(attributes: a, expires: Self.now() + Self.lifetime * 1_000_000_000)
        map.withLock { m in
            if m.count >= Self.capacity { m.removeAll(keepingCapacity: true) }
            m[a.ino] = e
        }
    }

    func remove(_ ino: UInt64) { _ = map.withLock { $0.removeValue(forKey: ino) } }

    func removeAll() { map.withLock { $0.removeAll() } }
}
