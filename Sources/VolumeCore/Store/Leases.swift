// Leases on volumes as registry records: acquire, renew, release, list; stale ones are taken over.
import Foundation
import GRDB

extension VolumeStore {
    /// How long a lease of a holder on another host is trusted without a renewal, unless told: 30 s.
    public static let defaultLeaseTTL: TimeInterval = 30

    /// Takes a lease on volume `volume` for `purpose`, held by `holder` (this process by default,
    /// as `currentHolder`: on this store's host).
    ///
    /// Leases of the volume whose holder is gone are taken over (deleted) first. Then a shared lease
    /// is refused while an exclusive one is live, and an exclusive one while any other is: a
    /// `conflict` error that names each holder (and the sandbox, for an attachment's mount). A volume
    /// being deleted refuses every lease (`conflict`); a missing one is `notFound`.
    public func acquireLease(volume: String, purpose: LeasePurpose, mode: LeaseMode? = nil, holder: LeaseHolder? = nil,
                             ttl: TimeInterval = VolumeStore.defaultLeaseTTL) throws -> Lease {
        try registry.write { db in
            try acquireLease(db, volume: volume, purpose: purpose, mode: mode ?? purpose.defaultMode, holder: holder ?? currentHolder,
                             ttl: ttl)
        }
    }

    /// Moves a lease's expiry to `ttl` from now. `notFound` when it was released or taken over.
    public func renewLease(_ id: String, ttl: TimeInterval = VolumeStore.defaultLeaseTTL) throws -> Lease {
        let now = clock.now()
        return try registry.write { db in
            try db.execute(sql: "UPDATE lease SET renewed_at = ?, expires_at = ? WHERE id = ?",
                           arguments: [now.timeIntervalSince1970, now.addingTimeInterval(max(ttl, 0)).timeIntervalSince1970, id])
            guard db.changesCount == 1, let r = try Row.fetchOne(db, sql: "SELECT * FROM lease WHERE id = ?", arguments: [id]) else {
                throw VolumeError.notFound("lease '\(id)' (released, or taken over after its holder was gone)")
            }
            return Self.lease(from: r)
        }
    }

    /// Releases a lease; false when there was none (already released or taken over).
    @discardableResult
    public func releaseLease(_ id: String) throws -> Bool {
        try registry.write { db in
            try db.execute(sql: "DELETE FROM lease WHERE id = ?", arguments: [id])
            return db.changesCount == 1
        }
    }

    /// Every lease record (of one volume, or of all), stale ones included, oldest first.
    public func leases(volume: String? = nil) throws -> [Lease] {
        try registry.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM lease WHERE (? IS NULL OR volume_id = ?) ORDER BY acquired_at, rowid",
                             arguments: [volume, volume]).map(Self.lease(from:))
        }
    }

    /// Whether a lease's holder is alive now (see `Liveness`).
    public func isAlive(_ lease: Lease) -> Bool {
        liveness.isAlive(lease.holder, expiresAt: lease.expiresAt, now: clock.now())
    }

    /// Runs `body` under a lease of `volume` for `purpose`, released however `body` ends.
    public func withLease<T>(volume: String, purpose: LeasePurpose, mode: LeaseMode? = nil, _ body: () throws -> T) throws -> T {
        let lease = try acquireLease(volume: volume, purpose: purpose, mode: mode)
        defer { _ = try? releaseLease(lease.id) }
        return try body()
    }

    // MARK: Inside a registry transaction

    func acquireLease(_ db: Database, volume: String, purpose: LeasePurpose, mode: LeaseMode, holder: LeaseHolder,
                      ttl: TimeInterval, attachment: String? = nil) throws -> Lease {
        let state = try String.fetchOne(db, sql: "SELECT state FROM volume WHERE id = ?", arguments: [volume])
        guard let state, state != "importing" else { throw VolumeError.notFound("volume '\(volume)'") }
        if state == "deleting" {
            throw VolumeError.conflict("volume \(volume) is being deleted; no \(purpose.rawValue) lease can be taken on it")
        }
        let live = try liveLeases(db, volume: volume)
        let clashing = mode == .exclusive ? live : live.filter { $0.mode == .exclusive }
        if !clashing.isEmpty {
            throw VolumeError.conflict("cannot take a\(mode == .exclusive ? "n exclusive" : " shared") \(purpose.rawValue) lease on volume \(volume): "
                                       + (try describe(db, clashing)))
        }
        let now = clock.now()
        let lease = Lease(id: "lse-" + Self.randomID(), volumeId: volume, purpose: purpose, mode: mode, holder: holder,
                          acquiredAt: now, renewedAt: now, expiresAt: now.addingTimeInterval(max(ttl, 0)), attachmentId: attachment)
        try db.execute(sql: """
            INSERT INTO lease (id, volume_id, purpose, mode, holder_host, holder_boot, holder_pid, holder_start,
                               acquired_at, renewed_at, expires_at, attachment_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [lease.id, volume, purpose.rawValue, mode.rawValue, holder.host, holder.process.boot,
                             holder.process.pid, Int64(bitPattern: holder.process.start), now.timeIntervalSince1970,
                             now.timeIntervalSince1970, lease.expiresAt.timeIntervalSince1970, attachment])
        return lease
    }

    /// The live leases of `volume`; stale ones are taken over (deleted) on the way.
    func liveLeases(_ db: Database, volume: String) throws -> [Lease] {
        let all = try Row.fetchAll(db, sql: "SELECT * FROM lease WHERE volume_id = ? ORDER BY acquired_at, rowid",
                                   arguments: [volume]).map(Self.lease(from:))
        let now = clock.now()
        var live: [Lease] = []
        for l in all {
            if liveness.isAlive(l.holder, expiresAt: l.expiresAt, now: now) {
                live.append(l)
            } else {
                try db.execute(sql: "DELETE FROM lease WHERE id = ?", arguments: [l.id])
            }
        }
        return live
    }

    /// "mount lease lse-… held by pid 12 on host (attachment att-… of sandbox sbx-…)", joined by "; ".
    func describe(_ db: Database, _ leases: [Lease]) throws -> String {
        try leases.map { l in
            var s = "\(l.purpose.rawValue) lease \(l.id) held by \(l.holder)"
            if let att = l.attachmentId,
               let sbx = try String.fetchOne(db, sql: "SELECT sandbox_id FROM attachment WHERE id = ?", arguments: [att]) {
                s += " (attachment \(att) of sandbox \(sbx))"
            }
            return s
        }.joined(separator: "; ")
    }

    static func lease(from r: Row) -> Lease {
        let holder = LeaseHolder(host: r["holder_host"],
                                 process: ProcessIdentity(boot: r["holder_boot"], pid: r["holder_pid"],
                                                          start: UInt64(bitPattern: r["holder_start"] as Int64)))
        return Lease(id: r["id"], volumeId: r["volume_id"], purpose: LeasePurpose(rawValue: r["purpose"]) ?? .write,
                     mode: LeaseMode(rawValue: r["mode"]) ?? .exclusive, holder: holder,
                     acquiredAt: Date(timeIntervalSince1970: r["acquired_at"]), renewedAt: Date(timeIntervalSince1970: r["renewed_at"]),
                     expiresAt: Date(timeIntervalSince1970: r["expires_at"]), attachmentId: r["attachment_id"])
    }
}
