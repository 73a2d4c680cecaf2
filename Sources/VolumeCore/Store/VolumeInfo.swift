// The public description of a volume and of its quota, as the API, the CLI and the client show them.
import Foundation

/// A volume's metadata and usage.
public struct VolumeInfo: Codable, Sendable, Equatable {
    public var volumeId: String
    public var ownerId: String
    public var name: String
    /// Logical bytes stored (what `du --apparent-size` would say).
    public var sizeBytes: Int64
    public var fileCount: Int64
    /// The cap in force.
    public var quotaBytes: Int64
    public var metadata: [String: String]
    /// ISO-8601, UTC.
    public var createdAt: String

    enum CodingKeys: String, CodingKey {
        case volumeId = "volume_id", ownerId = "owner_id", name, sizeBytes = "size_bytes", fileCount = "file_count"
        case quotaBytes = "quota_bytes", metadata, createdAt = "created_at"
    }
}

/// Where a volume's cap comes from.
public struct QuotaInfo: Codable, Sendable, Equatable {
    public var volumeId: String
    /// The cap in force: the volume's override, else the tenant's, else the default.
    public var capBytes: Int64
    public var usedBytes: Int64
    /// "volume", "tenant" or "default".
    public var source: String
    public var volumeOverride: Int64?
    public var tenantOverride: Int64?

    enum CodingKeys: String, CodingKey {
        case volumeId = "volume_id", capBytes = "cap_bytes", usedBytes = "used_bytes", source
        case volumeOverride = "volume_override", tenantOverride = "tenant_override"
    }
}

/// Options of a store.
public struct StoreOptions: Sendable {
    /// The cap of a volume with no override: 2 GiB.
    public static let defaultCap: Int64 = 2 << 30
    public var defaultCapBytes: Int64 = StoreOptions.defaultCap
    public var durability: Durability = .full
    /// Bytes per file block for new volumes unless set: 4 MiB. Larger blocks mean fewer chunk
    /// files and catalog rows per GiB (each chunk file is an inode to allocate); smaller ones, less
    /// to read and store again after a small random write, and finer deduplication.
    public static let defaultBlockSize = 4 << 20
    /// Bytes per file block (one chunk each) for new volumes.
    public var blockSize: Int = StoreOptions.defaultBlockSize
    /// Seconds a metadata change may wait to be committed with others (relaxed durability only;
    /// 0: every change commits on its own). A mount sets it: many small changes then share one
    /// commit, and a killed process loses at most this much of what it acknowledged but nobody synced.
    public var commitWindow: Double = 0
    /// The commit window `volumectl mount` uses unless told otherwise: 10 ms.
    public static let mountCommitWindow = 0.01
    /// Attachments a sandbox may have at once (not counting detached ones): 8 unless set.
    public var maxAttachmentsPerSandbox = 8
    public init(defaultCapBytes: Int64 = StoreOptions.defaultCap, durability: Durability = .full, blockSize: Int = StoreOptions.defaultBlockSize) {
        self.defaultCapBytes = defaultCapBytes
        self.durability = durability
        self.blockSize = blockSize
    }
}
