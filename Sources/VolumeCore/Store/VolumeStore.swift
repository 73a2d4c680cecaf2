// The store: a data directory holding the registry, one catalog per volume, and the shared chunk store.
import Foundation
import GRDB
import Synchronization

/// All volumes of one data directory.
///
/// Layout: `registry.sqlite` (tenants, volumes, quotas), `volumes/<id>.sqlite` (one catalog per
/// volume), `chunks/` (the local chunk store), `holds/` (what writing processes tell gc, `WriteHolds`). Every method that takes `owner` scopes to that
/// tenant: another tenant's volume is "not found". `owner: nil` is the operator, who sees all.
public final class VolumeStore: Sendable {
    public let dataDir: URL
    public let options: StoreOptions
    public let chunks: any ChunkStore
    let registry: DatabasePool
    /// This process's writes in progress, as gc must see them (see `WriteHolds`).
    let holds: WriteHolds
    /// The clock of leases, sandboxes and attachments (tests pass one they move).
    public let clock: any WallClock
    /// How this store tells whether a lease's holder (or an importing process) is alive.
    public let liveness: Liveness
    /// Volumes open in this process (see `OpenVolumes.swift` for closing idle ones).
    let open = Mutex<[String: Volume]>([:])
    /// Seconds an active API key stays verified in memory (`authenticate`) at most. A revoke through any
    /// store on the data directory takes effect at once (`keyCache`); this bounds only a change made
    /// around the store (the registry edited by hand).
    public static let keyCacheSeconds: Double = 2
    /// API keys this store verified recently, by the SHA-256 of their secret, so that a request's key
    /// check need not read the registry. Only active keys are kept. Any commit that touches an `api_key`
    /// row (a revoke), in any process of the data directory, bumps `keys.epoch` (`RegistryEpochObserver`).
    let keyCache: EpochCache<Data, CachedKey>
    /// A volume reference resolved for a caller: the ID or name asked for, and the tenant that asked
    /// (nil: the operator).
    struct ResolveKey: Hashable, Sendable {
        var ref: String
        var owner: String?
    }
    /// Volume references this store resolved recently, so that a files request need not read the
    /// registry. Any commit that touches a `volume` row, in any process, bumps `volumes.epoch`.
    let resolved: EpochCache<ResolveKey, String>

    /// Opens (creating if needed) the store in `dataDir`. `chunks` defaults to a local store in `dataDir/chunks`.
    /// Volumes left hidden by an `import --create` whose process is gone are removed. `clock` and
    /// `liveness` are what leases use (tests pass a clock they move, or another host's view).
    public init(dataDir: URL, options: StoreOptions = StoreOptions(), chunks: (any ChunkStore)? = nil,
                clock: any WallClock = SystemClock(), liveness: Liveness = .local) throws {
        self.dataDir = dataDir
        self.options = options
        self.clock = clock
        self.liveness = liveness
        do {
            try FileManager.default.createDirectory(at: dataDir.appendingPathComponent("volumes"), withIntermediateDirectories: true)
        } catch {
            throw VolumeError.io("cannot create data directory \(dataDir.path): \(error.localizedDescription)", errno: EACCES)
        }
        let base = try chunks ?? LocalChunkStore(root: dataDir.appendingPathComponent("chunks"),
                                                      startWriteback: options.durability == .full)
        // With group commits, small chunks wait for the group too (see `DeferredChunkStore`).
        self.chunks = options.durability == .relaxed && options.commitWindow > 0 ? DeferredChunkStore(base) : base
        registry = try DatabaseOpening.pool(at: dataDir.appendingPathComponent("registry.sqlite").path, synchronous: "FULL",
                                            readers: 4, migrator: RegistrySchema.migrator)
        holds = WriteHolds(dataDir: dataDir)
        keyCache = Self.registryCache(registry, of: "api_key", epoch: dataDir.appendingPathComponent("keys.epoch"))
        resolved = Self.registryCache(registry, of: "volume", epoch: dataDir.appendingPathComponent("volumes.epoch"))
        try removeStaleImports()
    }

    /// A cache of what is read from the registry's `table`, valid while the counter in `file` holds,
    /// which every commit touching `table` bumps (`RegistryEpochObserver`, in every process).
    private static func registryCache<K, V>(_ registry: DatabasePool, of table: String, epoch file: URL) -> EpochCache<K, V> {
        let epoch = SharedCounter(path: file.path)
        if let epoch { registry.add(transactionObserver: RegistryEpochObserver(table: table, epoch: epoch), extent: .databaseLifetime) }
        return EpochCache(seconds: keyCacheSeconds, epoch: epoch)
    }

    func catalogPath(_ id: String) -> String { dataDir.appendingPathComponent("volumes/\(id).sqlite").path }

    // MARK: Volumes

    /// Creates an empty volume owned by `owner` and returns it.
    public func createVolume(owner: String, name: String, metadata: [String: String] = [:]) throws -> VolumeInfo {
        let (id, _) = try insertVolume(owner: owner, name: name, metadata: metadata, importOwner: nil)
        return try info(id, owner: owner)
    }

    /// Adds a volume row and its empty catalog: visible, or with `importOwner` hidden ('importing') and
    /// owned by that process. Stale hidden volumes go first, and a live one holds its name.
    func insertVolume(owner: String, name: String, metadata: [String: String],
                      importOwner: ProcessIdentity?) throws -> (id: String, volume: Volume) {
        try Self.validate(owner: owner)
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, name.utf8.count <= 255, !name.contains("\0") else {
            throw VolumeError.invalidArgument("volume name must be 1 to 255 bytes of text")
        }
        guard metadata.count <= 64, metadata.allSatisfy({ $0.key.utf8.count <= 128 && !$0.key.isEmpty && $0.value.utf8.count <= 1024 }) else {
            throw VolumeError.invalidArgument("metadata takes at most 64 keys of up to 128 bytes, values up to 1 KiB")
        }
        try removeStaleImports()
        let id = "vol-" + Self.randomID()
        let now = Date()
        let cap = try registry.write { db -> Int64 in
            if try self.liveImport(db, owner: owner, name: name) {
                throw VolumeError.alreadyExists("an import is creating a volume named '\(name)'; wait for it, or stop it")
            }
            try db.execute(sql: "INSERT OR IGNORE INTO tenant (id, created_at) VALUES (?, ?)", arguments: [owner, now.timeIntervalSince1970])
            let tenantCap = try Int64.fetchOne(db, sql: "SELECT quota_bytes FROM tenant WHERE id = ?", arguments: [owner])
            try db.execute(sql: """
                INSERT INTO volume (id, owner_id, name, metadata, created_at, state, import_owner) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [id, owner, name, try Self.encode(metadata), now.timeIntervalSince1970,
                                 importOwner == nil ? "active" : "importing", importOwner?.description])
            return tenantCap ?? options.defaultCapBytes
        }
        do {
            let v = try Volume(id: id, catalogPath: catalogPath(id), chunks: chunks, holds: holds, durability: options.durability,
                               blockSize: options.blockSize, capBytes: cap, commitWindow: options.commitWindow)
            open.withLock { $0[id] = v }
            return (id, v)
        } catch {
            _ = try? registry.write { db in try db.execute(sql: "DELETE FROM volume WHERE id = ?", arguments: [id]) }
            removeCatalogFiles(id)
            throw error
        }
    }

    /// The caller's volumes, newest first (`owner: nil`: every volume).
    public func listVolumes(owner: String?) throws -> [VolumeInfo] {
        let rows = try registry.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM volume WHERE state = 'active' AND (? IS NULL OR owner_id = ?)
                ORDER BY created_at DESC, id
                """, arguments: [owner, owner])
        }
        return try rows.map { try info(from: $0) }
    }

    /// How many volumes there are, from the registry alone (no catalog is opened, unlike `listVolumes`).
    public func volumeCount() throws -> Int {
        try registry.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM volume WHERE state = 'active'") ?? 0 }
    }

    /// One volume; `notFound` when it does not exist or is another tenant's.
    public func info(_ id: String, owner: String?) throws -> VolumeInfo {
        try info(from: try row(id, owner: owner))
    }

    /// Resolves a volume ID or a name that is unique among the caller's volumes to an ID.
    /// A reference resolved in the last `keyCacheSeconds` is answered from memory (`resolved`) while no
    /// commit has touched a volume row since.
    public func resolve(_ ref: String, owner: String?) throws -> String {
        let key = ResolveKey(ref: ref, owner: owner)
        if let id = resolved.lookup(key) { return id }
        let stamp = resolved.stamp()
        let ids = try registry.read { db in
            // Cached statements: every request resolves its volume, and preparing anew costs more than the query.
            try String.fetchAll(db.cachedStatement(sql: """
                SELECT id FROM volume WHERE state = 'active' AND (id = ? OR name = ?) AND (? IS NULL OR owner_id = ?)
                ORDER BY id = ? DESC
                """), arguments: [ref, ref, owner, owner, ref])
        }
        guard let first = ids.first else { throw VolumeError.notFound("volume '\(ref)'; list volumes with 'volumectl volume list'") }
        if first == ref || ids.count == 1 {
            resolved.insert(key, first, stamp: stamp)
            return first
        }
        throw VolumeError.invalidArgument("the name '\(ref)' matches \(ids.count) volumes (\(ids.joined(separator: ", "))); use the volume ID")
    }

    /// The open volume, for file operations. `notFound` for another tenant's.
    public func volume(_ id: String, owner: String?) throws -> Volume {
        if let v = cachedOpenVolume(id, owner: owner), v.id == id { return v }
        let stamp = resolved.stamp()
        let r = try row(id, owner: owner)
        resolved.insert(ResolveKey(ref: id, owner: owner), id, stamp: stamp)
        if let v = open.withLock({ $0[id] }) { return v }
        let cap = try effectiveCap(volumeOverride: r["quota_bytes"], owner: r["owner_id"])
        let v = try Volume(id: id, catalogPath: catalogPath(id), chunks: chunks, holds: holds, durability: options.durability,
                           blockSize: options.blockSize, capBytes: cap, commitWindow: options.commitWindow)
        return open.withLock { map in
            if let existing = map[id] { return existing }
            map[id] = v
            return v
        }
    }

    /// Whether `ref` was resolved for `owner` recently, with no volume row changed since, and its volume
    /// is open in this process: then `resolve` and `volume(_:owner:)` answer from memory. Never blocks.
    public func isResolvedAndOpen(_ ref: String, owner: String?) -> Bool { cachedOpenVolume(ref, owner: owner) != nil }

    /// The open volume `ref` was resolved to for `owner` (active and the caller's), with no volume row
    /// changed since; nil when the registry or the catalog must be read. Memory only.
    private func cachedOpenVolume(_ ref: String, owner: String?) -> Volume? {
        guard let id = resolved.lookup(ResolveKey(ref: ref, owner: owner)) else { return nil }
        return open.withLock { $0[id] }
    }

    /// This process, as a lease holder of this store's host.
    public var currentHolder: LeaseHolder { LeaseHolder(host: liveness.host, process: .current) }

    /// Deletes a volume and its catalog; its chunks become garbage for `gc`.
    ///
    /// Refused with `conflict` (409), naming the sandboxes and holders, while the volume has
    /// `mounted` attachments or live leases (a mount, an import, another deletion), unless `force`:
    /// then those attachments become `failed` with reason `volume_deleted` (returned) and the leases
    /// go with the volume. The check, and marking the volume as being deleted (after which every
    /// new lease, attach or import is refused), are one registry transaction.
    @discardableResult
    public func deleteVolume(_ id: String, owner: String?, force: Bool = false) throws -> [Attachment] {
        _ = try row(id, owner: owner)
        let now = clock.now().timeIntervalSince1970
        let failed = try registry.write { db -> [String] in
            guard try String.fetchOne(db, sql: "SELECT state FROM volume WHERE id = ?", arguments: [id]) == "active" else {
                throw VolumeError.notFound("volume '\(id)'")
            }
            let mounted = try Row.fetchAll(db, sql: """
                SELECT id, sandbox_id FROM attachment WHERE volume_id = ? AND state = 'mounted' ORDER BY sandbox_id, id
                """, arguments: [id])
            let mountedIDs = mounted.map { $0["id"] as String }
            let leases = try liveLeases(db, volume: id).filter { $0.attachmentId.map { !mountedIDs.contains($0) } ?? true }
            if !force && !(mounted.isEmpty && leases.isEmpty) {
                var parts: [String] = []
                if !mounted.isEmpty {
                    var sandboxes: [String] = []
                    for r in mounted where !sandboxes.contains(r["sandbox_id"]) { sandboxes.append(r["sandbox_id"]) }
                    parts.append("it is mounted in sandbox\(sandboxes.count > 1 ? "es" : "") \(sandboxes.joined(separator: ", "))"
                                 + " (attachment\(mounted.count > 1 ? "s" : "") \(mountedIDs.joined(separator: ", ")))")
                }
                if !leases.isEmpty { parts.append(try describe(db, leases)) }
                throw VolumeError.conflict("volume \(id) is in use: \(parts.joined(separator: "; ")); "
                                           + "detach it or wait for them, or force the deletion")
            }
            try db.execute(sql: """
                UPDATE attachment SET state = 'failed', reason = ?, message = ?, served_by = NULL, updated_at = max(?, created_at)
                WHERE volume_id = ? AND state = 'mounted'
                """, arguments: [AttachmentReason.volumeDeleted.rawValue, "volume \(id) was deleted by force while mounted", now, id])
            try db.execute(sql: "DELETE FROM lease WHERE volume_id = ?", arguments: [id])
            // Recorded for the moment the deletion runs (a crash leaves the volume 'deleting', which
            // refuses every lease until `finishDeletions`).
            _ = try acquireLease(db, volume: id, purpose: .delete, mode: .exclusive, holder: currentHolder, ttl: Self.defaultLeaseTTL)
            try db.execute(sql: "UPDATE volume SET state = 'deleting', import_owner = NULL WHERE id = ?", arguments: [id])
            return mountedIDs
        }
        try remove(id)
        return try failed.map { try attachment($0) }
    }

    /// Marks a volume (visible or hidden) as being deleted, then removes its catalog and its row.
    func remove(_ id: String) throws {
        try registry.write { db in
            try db.execute(sql: "UPDATE volume SET state = 'deleting', import_owner = NULL WHERE id = ?", arguments: [id])
        }
        if let v = open.withLock({ $0.removeValue(forKey: id) }) { try? v.close() }
        removeCatalogFiles(id)
        try registry.write { db in try db.execute(sql: "DELETE FROM volume WHERE id = ?", arguments: [id]) }
    }

    /// Every volume ID, including ones half-deleted by a crash (for gc and fsck).
    func allVolumeIDs() throws -> [String] {
        try registry.read { db in try String.fetchAll(db, sql: "SELECT id FROM volume WHERE state = 'active' ORDER BY id") }
    }

    /// Finishes deletions a crash interrupted.
    func finishDeletions() throws {
        let ids = try registry.read { db in try String.fetchAll(db, sql: "SELECT id FROM volume WHERE state = 'deleting'") }
        for id in ids {
            removeCatalogFiles(id)
            try registry.write { db in try db.execute(sql: "DELETE FROM volume WHERE id = ?", arguments: [id]) }
        }
    }

    /// Closes every open volume (commits buffered writes first).
    public func close() throws {
        let all = open.withLock { map -> [Volume] in let v = Array(map.values); map = [:]; return v }
        for v in all {
            try v.flushAll()
            try v.close()
        }
        holds.close()
    }

    // MARK: Quotas

    /// Sets (or with nil clears) a volume's cap override. Fails when the volume already uses more.
    public func setVolumeQuota(_ id: String, bytes: Int64?) throws -> QuotaInfo {
        if let b = bytes, b <= 0 { throw VolumeError.invalidArgument("a cap must be positive") }
        let r = try row(id, owner: nil)
        let cap = try effectiveCap(volumeOverride: bytes, owner: r["owner_id"])
        let v = try volume(id, owner: nil)
        let used = try v.statfs().usedBytes
        if cap < used {
            throw VolumeError.invalidArgument("volume \(id) already uses \(ByteSize.format(used)); a cap of \(ByteSize.format(cap)) would be below that")
        }
        try registry.write { db in try db.execute(sql: "UPDATE volume SET quota_bytes = ? WHERE id = ?", arguments: [bytes, id]) }
        try v.setCap(cap)
        return try quota(id)
    }

    /// Sets (or clears) a tenant's cap override; volumes without their own override follow it.
    public func setTenantQuota(_ tenant: String, bytes: Int64?) throws {
        try Self.validate(owner: tenant)
        if let b = bytes, b <= 0 { throw VolumeError.invalidArgument("a cap must be positive") }
        try registry.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO tenant (id, created_at) VALUES (?, ?)", arguments: [tenant, Date().timeIntervalSince1970])
            try db.execute(sql: "UPDATE tenant SET quota_bytes = ? WHERE id = ?", arguments: [bytes, tenant])
        }
        let ids = try registry.read { db in
            try String.fetchAll(db, sql: "SELECT id FROM volume WHERE owner_id = ? AND quota_bytes IS NULL AND state = 'active'", arguments: [tenant])
        }
        for id in ids { try volume(id, owner: nil).setCap(bytes ?? options.defaultCapBytes) }
    }

    /// The cap of a volume and where it comes from.
    public func quota(_ id: String) throws -> QuotaInfo {
        let r = try row(id, owner: nil)
        let owner: String = r["owner_id"]
        let vo: Int64? = r["quota_bytes"]
        let to = try registry.read { db in try Int64.fetchOne(db, sql: "SELECT quota_bytes FROM tenant WHERE id = ?", arguments: [owner]) }
        let used = try volume(id, owner: nil).statfs().usedBytes
        return QuotaInfo(volumeId: id, capBytes: vo ?? to ?? options.defaultCapBytes, usedBytes: used,
                         source: vo != nil ? "volume" : (to != nil ? "tenant" : "default"), volumeOverride: vo, tenantOverride: to)
    }

    // MARK: Helpers

    private func effectiveCap(volumeOverride: Int64?, owner: String) throws -> Int64 {
        if let v = volumeOverride { return v }
        let t = try registry.read { db in try Int64.fetchOne(db, sql: "SELECT quota_bytes FROM tenant WHERE id = ?", arguments: [owner]) }
        return t ?? options.defaultCapBytes
    }

    private func row(_ id: String, owner: String?) throws -> Row {
        guard let r = try registry.read({ db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM volume WHERE id = ? AND state = 'active' AND (? IS NULL OR owner_id = ?)"),
                             arguments: [id, owner, owner])
        }) else { throw VolumeError.notFound("volume '\(id)'") }
        return r
    }

    private func info(from r: Row) throws -> VolumeInfo {
        let id: String = r["id"]
        let stats = try volume(id, owner: nil).statfs()
        let created = Date(timeIntervalSince1970: r["created_at"])
        return VolumeInfo(volumeId: id, ownerId: r["owner_id"], name: r["name"], sizeBytes: stats.usedBytes,
                          fileCount: stats.files, quotaBytes: stats.capBytes,
                          metadata: (try? JSONDecoder().decode([String: String].self, from: Data((r["metadata"] as String).utf8))) ?? [:],
                          createdAt: TimeText.iso(created))
    }

    private func removeCatalogFiles(_ id: String) {
        for suffix in ["", "-wal", "-shm", "-opens"] { try? FileManager.default.removeItem(atPath: catalogPath(id) + suffix) }
    }

    /// Checks a tenant ID: 1 to 128 letters, digits, '-', '_', '.' or '@'.
    public static func validate(owner: String) throws {
        guard !owner.isEmpty, owner.utf8.count <= 128, owner.allSatisfy({ $0.isLetter || $0.isNumber || "-_.@".contains($0) }) else {
            throw VolumeError.invalidArgument("tenant '\(owner)' must be 1 to 128 letters, digits, '-', '_', '.' or '@'")
        }
    }

    static func randomID() -> String {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz")
        var rng = SystemRandomNumberGenerator()
        return String((0..<20).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
    }

    static func encode(_ m: [String: String]) throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        return String(decoding: try enc.encode(m), as: UTF8.self)
    }
}
