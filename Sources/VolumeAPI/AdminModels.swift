// Wire types of the operator routes beyond keys: caps, tenants, gc and fsck (shared by the server and the client).
import Foundation

/// `{"cap_bytes": N}`: the body of a cap change.
public struct CapRequest: Codable, Sendable {
    public var capBytes: Int64
    enum CodingKeys: String, CodingKey { case capBytes = "cap_bytes" }
    public static let fields: Set<String> = ["cap_bytes"]
    public init(capBytes: Int64) { self.capBytes = capBytes }
}

/// A tenant's cap override, as set (`cap_bytes` null when cleared).
public struct TenantCapResponse: Codable, Sendable, Equatable {
    public var tenant: String
    public var capBytes: Int64?
    enum CodingKeys: String, CodingKey { case tenant, capBytes = "cap_bytes" }
    public init(tenant: String, capBytes: Int64?) { self.tenant = tenant; self.capBytes = capBytes }

    /// `cap_bytes` is always present (null when cleared).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tenant, forKey: .tenant)
        try c.encode(capBytes, forKey: .capBytes)
    }
}

/// A volume's cap in force, where it comes from, and its usage (`GET /v1/admin/volumes/{volume}/cap`).
public struct VolumeCapResponse: Codable, Sendable, Equatable {
    public var volumeId: String
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

/// A tenant: its cap override and how many volumes it has.
public struct TenantResponse: Codable, Sendable, Equatable {
    public var tenant: String
    public var createdAt: String
    public var capBytes: Int64?
    public var volumes: Int
    enum CodingKeys: String, CodingKey { case tenant, createdAt = "created_at", capBytes = "cap_bytes", volumes }
}

/// What a gc pass found and freed (`POST /v1/admin/gc`).
public struct GCReportResponse: Codable, Sendable, Equatable {
    public var volumesScanned: Int
    public var chunksReferenced: Int
    public var chunksDeleted: Int
    public var bytesFreed: Int64
    public var chunksInGrace: Int
    public var dryRun: Bool
    public var writesInProgressSince: String?
    enum CodingKeys: String, CodingKey {
        case volumesScanned = "volumes_scanned", chunksReferenced = "chunks_referenced", chunksDeleted = "chunks_deleted"
        case bytesFreed = "bytes_freed", chunksInGrace = "chunks_in_grace", dryRun = "dry_run"
        case writesInProgressSince = "writes_in_progress_since"
    }
}

/// What fsck found in one volume (`POST /v1/admin/fsck`).
public struct FsckReportResponse: Codable, Sendable, Equatable {
    public var volumeId: String
    public var problems: [String]
    public var repaired: [String]
    public var inodes: Int
    public var chunksChecked: Int
    public var ok: Bool
    enum CodingKeys: String, CodingKey { case volumeId = "volume_id", problems, repaired, inodes, chunksChecked = "chunks_checked", ok }
}
