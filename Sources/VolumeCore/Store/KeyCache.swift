// Recently verified API keys, by the SHA-256 of their secret, so a request's key check need not read the registry.
import Foundation
import Synchronization

/// Keys `VolumeStore.authenticate` found active, kept for at most `seconds` (monotonic) after the registry
/// read that found them, and only while the data directory's key epoch (`SharedCounter`, `keys.epoch`)
/// is the one read before that registry read. Every revoke, in this process or in another one on the
/// same data directory (`volumectl apikey revoke`), bumps the epoch after its commit, so a revoked key
/// is refused from the moment the revoke returns; `seconds` only bounds what bypasses the epoch (the
/// registry edited by hand, or a revoke by a process that could not map `keys.epoch` for writing). An expiry is checked on every hit. Unknown, revoked or expired keys are
/// never kept: each of those reads the registry. Without an epoch (it could not be mapped) nothing is kept.
final class KeyCache: Sendable {
    struct Hit {
        var info: APIKeyInfo
        var expiresAt: Double?
        var readAt: UInt64
        var epoch: UInt64
    }
    let seconds: Double
    /// More than this many entries: the cache starts again empty.
    let maxEntries: Int
    let epoch: SharedCounter?
    private let entries = Mutex<[Data: Hit]>([:])

    init(seconds: Double, epoch: SharedCounter?, maxEntries: Int = 4096) {
        self.seconds = seconds
        self.epoch = epoch
        self.maxEntries = maxEntries
    }

    static func monotonicNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// The key with this hash when it was read active less than `seconds` ago, in the current epoch, and
    /// has not expired by `now`.
    func lookup(_ hash: Data, now: Date) -> APIKeyInfo? {
        guard let e = epoch?.value else { return nil }
        let t = Self.monotonicNanos()
        return entries.withLock { m -> APIKeyInfo? in
            guard let h = m[hash] else { return nil }
            guard h.epoch == e, Double(t &- h.readAt) / 1e9 < seconds,
                  h.expiresAt.map({ $0 > now.timeIntervalSince1970 }) ?? true else {
                m[hash] = nil
                return nil
            }
            return h.info
        }
    }

    /// What to pass to `insert`: the epoch and the time, taken before the registry read.
    func stamp() -> (epoch: UInt64, readAt: UInt64)? {
        guard let e = epoch?.value else { return nil }
        return (e, Self.monotonicNanos())
    }

    /// Keeps an active key read after `stamp` was taken.
    func insert(_ hash: Data, _ info: APIKeyInfo, expiresAt: Double?, stamp: (epoch: UInt64, readAt: UInt64)?) {
        guard let stamp, seconds > 0 else { return }
        entries.withLock { m in
            if m.count >= maxEntries { m.removeAll(keepingCapacity: true) }
            m[hash] = Hit(info: info, expiresAt: expiresAt, readAt: stamp.readAt, epoch: stamp.epoch)
        }
    }

    /// A key changed (revoked): every process's cached keys stop counting.
    func invalidate() {
        epoch?.bump()
        entries.withLock { $0.removeAll() }
    }
}
