// What a process read from the registry, kept in memory while the data directory's epoch for it has not moved.
import Foundation
import Synchronization

/// Values read from the registry, each kept for at most `seconds` (monotonic) after the read that found
/// it, and only while `epoch` (a `SharedCounter` every process of the data directory maps) is still the
/// value read before that read. The writer bumps the epoch after its commit (`RegistryEpochObserver`), so from the moment the
/// commit returns no process answers from what it read before: a reader that took its stamp after the
/// bump reads the new rows, one that took it before holds an entry of an older epoch, never used.
/// `seconds` bounds only what bypasses the epoch (the registry edited by hand, a writer killed between
/// its commit and its bump). Without an epoch (the file could not be mapped) nothing is kept.
final class EpochCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// When a read was made: the epoch and the monotonic time, taken before it (`stamp`).
    struct Stamp {
        var epoch: UInt64
        var readAt: UInt64
    }

    struct Entry {
        var value: Value
        var stamp: Stamp
    }

    let seconds: Double
    /// More than this many entries: the cache starts again empty.
    let maxEntries: Int
    let epoch: SharedCounter?
    private let entries = Mutex<[Key: Entry]>([:])

    init(seconds: Double, epoch: SharedCounter?, maxEntries: Int = 4096) {
        self.seconds = seconds
        self.epoch = epoch
        self.maxEntries = maxEntries
    }

    static func monotonicNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// The value kept for `key` when it was read less than `seconds` ago in the current epoch and
    /// `stillValid` accepts it (a key's expiry, say); otherwise nil, and the entry is dropped.
    func lookup(_ key: Key, stillValid: (Value) -> Bool = { _ in true }) -> Value? {
        guard let e = epoch?.value else { return nil }
        let t = Self.monotonicNanos()
        return entries.withLock { m -> Value? in
            guard let h = m[key] else { return nil }
            guard h.stamp.epoch == e, Double(t &- h.stamp.readAt) / 1e9 < seconds, stillValid(h.value) else {
                m[key] = nil
                return nil
            }
            return h.value
        }
    }

    /// What to pass to `insert`, taken before the registry read.
    func stamp() -> Stamp? {
        guard let e = epoch?.value else { return nil }
        return Stamp(epoch: e, readAt: Self.monotonicNanos())
    }

    /// Keeps `value`, read after `stamp` was taken.
    func insert(_ key: Key, _ value: Value, stamp: Stamp?) {
        guard let stamp, seconds > 0 else { return }
        entries.withLock { m in
            if m.count >= maxEntries { m.removeAll(keepingCapacity: true) }
            m[key] = Entry(value: value, stamp: stamp)
        }
    }
}
