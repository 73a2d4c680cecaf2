// Wire types of /v1/admin/keys: creating, listing and revoking API keys (operator only).

/// `POST /v1/admin/keys`.
public struct CreateKeyRequest: Codable, Sendable, Equatable {
    public var tenant: String
    /// "tenant" (default) or "operator".
    public var role: String?
    /// Seconds until the key expires; none: it does not.
    public var expiresInSeconds: Double?
    public static let fields: Set<String> = ["tenant", "role", "expires_in_seconds"]
    enum CodingKeys: String, CodingKey { case tenant, role, expiresInSeconds = "expires_in_seconds" }
    public init(tenant: String, role: String? = nil, expiresInSeconds: Double? = nil) {
        self.tenant = tenant; self.role = role; self.expiresInSeconds = expiresInSeconds
    }
}

/// A key as listed (never with its secret).
public struct KeyResponse: Codable, Sendable, Equatable {
    public var id: String
    public var tenant: String
    public var role: String
    public var createdAt: String
    public var expiresAt: String?
    public var revokedAt: String?
    public var active: Bool
    enum CodingKeys: String, CodingKey {
        case id, tenant, role, createdAt = "created_at", expiresAt = "expires_at", revokedAt = "revoked_at", active
    }
    public init(id: String, tenant: String, role: String, createdAt: String, expiresAt: String?, revokedAt: String?, active: Bool) {
        self.id = id; self.tenant = tenant; self.role = role; self.createdAt = createdAt; self.expiresAt = expiresAt
        self.revokedAt = revokedAt; self.active = active
    }
}

/// A key just created: `key` is shown here once and never again.
public struct CreatedKeyResponse: Codable, Sendable, Equatable {
    public var key: String
    public var id: String
    public var tenant: String
    public var role: String
    public var expiresAt: String?
    enum CodingKeys: String, CodingKey { case key, id, tenant, role, expiresAt = "expires_at" }
    public init(key: String, id: String, tenant: String, role: String, expiresAt: String?) {
        self.key = key; self.id = id; self.tenant = tenant; self.role = role; self.expiresAt = expiresAt
    }
}
