// Tenants as the registry knows them: who has volumes or keys, with their cap override and usage.
import Foundation
import GRDB

/// A tenant: its cap override and how many volumes it has.
public struct TenantInfo: Codable, Sendable, Equatable {
    public var tenant: String
    /// ISO 8601.
    public var createdAt: String
    /// The tenant's cap override (volumes without their own follow it); nil: the default.
    public var capBytes: Int64?
    public var volumes: Int

    enum CodingKeys: String, CodingKey {
        case tenant, createdAt = "created_at", capBytes = "cap_bytes", volumes
    }
}

extension VolumeStore {
    /// Every tenant in the registry, by name, with the count of its visible volumes.
    public func listTenants() throws -> [TenantInfo] {
        try registry.read { db in
            try Row.fetchAll(db, sql: """
                SELECT t.id, t.created_at, t.quota_bytes,
                  (SELECT count(*) FROM volume v WHERE v.owner_id = t.id AND v.state = 'active') AS n
                FROM tenant t ORDER BY t.id
                """).map { r in
                TenantInfo(tenant: r["id"], createdAt: TimeText.iso(Date(timeIntervalSince1970: r["created_at"])),
                           capBytes: r["quota_bytes"], volumes: r["n"])
            }
        }
    }

    /// One tenant, or `notFound`.
    public func tenant(_ id: String) throws -> TenantInfo {
        guard let t = try listTenants().first(where: { $0.tenant == id }) else { throw VolumeError.notFound("tenant \(id)") }
        return t
    }
}
