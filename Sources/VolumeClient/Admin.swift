// client.admin: the operator's calls beyond keys: caps per volume and tenant, tenants, gc and fsck.
import Foundation
import NIOHTTP1
import VolumeAPI

/// Operator calls (a tenant key gets `forbidden`, 403). Volume references are IDs, or names unique
/// within the tenant the client acts for (`acting(for:)`).
public struct Admin: Sendable {
    let transport: Transport

    /// Every tenant, by name, with its cap override and volume count.
    public func tenants() async throws -> [TenantResponse] {
        try await transport.json(.GET, "/v1/admin/tenants", as: [TenantResponse].self)
    }

    /// One tenant.
    public func tenant(_ name: String) async throws -> TenantResponse {
        try await transport.json(.GET, "/v1/admin/tenants/" + Transport.escape(name, keepSlash: false), as: TenantResponse.self)
    }

    /// Sets (or with nil clears) a tenant's cap override: volumes without their own cap follow it.
    @discardableResult
    public func setTenantCap(_ tenant: String, bytes: Int64?) async throws -> TenantCapResponse {
        let route = "/v1/admin/tenants/" + Transport.escape(tenant, keepSlash: false) + "/cap"
        if let bytes { return try await transport.json(.PUT, route, body: CapRequest(capBytes: bytes), as: TenantCapResponse.self) }
        return try await transport.json(.DELETE, route, as: TenantCapResponse.self)
    }

    /// A volume's cap in force, where it comes from, and its usage.
    public func volumeCap(_ volume: String) async throws -> VolumeCapResponse {
        try await transport.json(.GET, Self.capRoute(volume), as: VolumeCapResponse.self)
    }

    /// Sets (or with nil clears) a volume's cap override; a cap below what it stores is 400.
    @discardableResult
    public func setVolumeCap(_ volume: String, bytes: Int64?) async throws -> VolumeCapResponse {
        if let bytes { return try await transport.json(.PUT, Self.capRoute(volume), body: CapRequest(capBytes: bytes), as: VolumeCapResponse.self) }
        return try await transport.json(.DELETE, Self.capRoute(volume), as: VolumeCapResponse.self)
    }

    /// One gc pass now, on the daemon's store (`grace` nil: the daemon's grace period).
    public func gc(dryRun: Bool = false, grace: TimeInterval? = nil) async throws -> GCReportResponse {
        try await transport.json(.POST, "/v1/admin/gc", query: [("dry_run", dryRun ? "true" : nil), ("grace_seconds", grace.map { String($0) })],
                                 as: GCReportResponse.self)
    }

    /// fsck of one volume (or every volume when nil); `repair` fixes what it can.
    public func fsck(volume: String? = nil, repair: Bool = false, verifyData: Bool = true) async throws -> [FsckReportResponse] {
        try await transport.json(.POST, "/v1/admin/fsck",
                                 query: [("volume", volume), ("repair", repair ? "true" : nil), ("verify_data", verifyData ? nil : "false")],
                                 as: [FsckReportResponse].self)
    }

    static func capRoute(_ volume: String) -> String { "/v1/admin/volumes/" + Transport.escape(volume, keepSlash: false) + "/cap" }
}

extension VolumeClient {
    /// Operator calls: caps, tenants, gc, fsck.
    public var admin: Admin { Admin(transport: transport) }
}
