// API keys in the registry: created with a random secret shown once, stored as its SHA-256, revocable, expiring.
import Crypto
import Foundation
import GRDB

/// What a key may do: a tenant key acts for its tenant only; an operator key runs admin calls and may act for any tenant.
public enum APIKeyRole: String, Codable, Sendable {
    case tenant, `operator`
}

/// An active key as `VolumeStore.keyCache` keeps it: what the registry said, and its expiry.
struct CachedKey: Sendable {
    var info: APIKeyInfo
    var expiresAt: Double?
}

/// A stored key, without its secret.
public struct APIKeyInfo: Codable, Sendable, Equatable {
    public var id: String
    public var tenant: String
    public var role: APIKeyRole
    /// ISO-8601 UTC.
    public var createdAt: String
    public var expiresAt: String?
    public var revokedAt: String?
    /// Whether the key authenticates now (neither revoked nor expired).
    public var active: Bool

    enum CodingKeys: String, CodingKey {
        case id, tenant, role, createdAt = "created_at", expiresAt = "expires_at", revokedAt = "revoked_at", active
    }
}

/// A key just created: the secret exists only here, once.
public struct NewAPIKey: Codable, Sendable, Equatable {
    /// The secret to send as `X-API-Key` (or `Authorization: Bearer`).
    public var key: String
    public var id: String
    public var tenant: String
    public var role: APIKeyRole
    public var expiresAt: String?

    enum CodingKeys: String, CodingKey { case key, id, tenant, role, expiresAt = "expires_at" }
}

extension VolumeStore {
    /// Secrets start with this, so a leaked one is easy to recognise.
    public static let apiKeyPrefix = "vk_"

    /// Creates a key for `tenant` (the tenant is created when new). `expiresAt` must be in the future.
    public func createAPIKey(tenant: String, role: APIKeyRole, expiresAt: Date? = nil, now: Date = Date()) throws -> NewAPIKey {
        try Self.validate(owner: tenant)
        if let e = expiresAt, e <= now { throw VolumeError.invalidArgument("a key's expiry must be in the future") }
        var secret = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in secret.indices { secret[i] = UInt8.random(in: .min ... .max, using: &rng) }
        let key = Self.apiKeyPrefix + Data(secret).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let id = "key-" + Self.randomID()
        try registry.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO tenant (id, created_at) VALUES (?, ?)", arguments: [tenant, now.timeIntervalSince1970])
            try db.execute(sql: """
                INSERT INTO api_key (id, tenant_id, role, secret_sha256, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [id, tenant, role.rawValue, Self.keyHash(key), now.timeIntervalSince1970, expiresAt?.timeIntervalSince1970])
        }
        return NewAPIKey(key: key, id: id, tenant: tenant, role: role, expiresAt: expiresAt.map(Self.iso))
    }

    /// Keys, newest first; only `tenant`'s when given.
    public func listAPIKeys(tenant: String? = nil, now: Date = Date()) throws -> [APIKeyInfo] {
        try registry.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM api_key WHERE (? IS NULL OR tenant_id = ?) ORDER BY created_at DESC, id
                """, arguments: [tenant, tenant]).map { Self.keyInfo($0, now: now) }
        }
    }

    /// Revokes a key (idempotent); `notFound` for an unknown ID, or one of another tenant when `tenant` is given.
    @discardableResult
    public func revokeAPIKey(_ id: String, tenant: String? = nil, now: Date = Date()) throws -> APIKeyInfo {
        // Once the revoke has committed, every process's cached keys stop counting (`keyCache`: the
        // registry's observer bumps `keys.epoch`).
        return try registry.write { db in
            try db.execute(sql: """
                UPDATE api_key SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? AND (? IS NULL OR tenant_id = ?)
                """, arguments: [now.timeIntervalSince1970, id, tenant, tenant])
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM api_key WHERE id = ? AND (? IS NULL OR tenant_id = ?)",
                                             arguments: [id, tenant, tenant]) else {
                throw VolumeError.notFound("API key '\(id)'")
            }
            return Self.keyInfo(row, now: now)
        }
    }

    /// The key a secret names, when it is active (not revoked, not expired); nil otherwise. An active
    /// key is kept in memory for up to `keyCacheSeconds` (`keyCache`, an `EpochCache` on `keys.epoch`); a revoke, through this store
    /// or another process's on the same data directory, takes effect at once.
    public func authenticate(apiKey: String, now: Date = Date()) throws -> APIKeyInfo? {
        guard apiKey.hasPrefix(Self.apiKeyPrefix), apiKey.utf8.count < 200 else { return nil }
        let hash = Self.keyHash(apiKey)
        if let hit = cachedKey(hash, now: now) { return hit }
        let stamp = keyCache.stamp()
        let row = try registry.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM api_key WHERE secret_sha256 = ?"), arguments: [hash])
        }
        guard let row else { return nil }
        let info = Self.keyInfo(row, now: now)
        guard info.active else { return nil }
        keyCache.insert(hash, CachedKey(info: info, expiresAt: row["expires_at"]), stamp: stamp)
        return info
    }

    /// The key a secret names when this store verified it active within `keyCacheSeconds` (and it has
    /// not expired since); nil when the registry must be asked (`authenticate`). Never blocks on I/O:
    /// callable from an event loop.
    public func cachedAuthentication(apiKey: String, now: Date = Date()) -> APIKeyInfo? {
        guard apiKey.hasPrefix(Self.apiKeyPrefix), apiKey.utf8.count < 200 else { return nil }
        return cachedKey(Self.keyHash(apiKey), now: now)
    }

    /// The active key with this hash, from `keyCache`, unless it has expired by `now`.
    private func cachedKey(_ hash: Data, now: Date) -> APIKeyInfo? {
        keyCache.lookup(hash) { k in k.expiresAt.map { $0 > now.timeIntervalSince1970 } ?? true }?.info
    }

    static func keyHash(_ key: String) -> Data { Data(SHA256.hash(data: Data(key.utf8))) }

    static func iso(_ d: Date) -> String { TimeText.iso(d) }

    static func keyInfo(_ r: Row, now: Date) -> APIKeyInfo {
        let expires: Double? = r["expires_at"]
        let revoked: Double? = r["revoked_at"]
        let active = revoked == nil && (expires.map { $0 > now.timeIntervalSince1970 } ?? true)
        return APIKeyInfo(id: r["id"], tenant: r["tenant_id"], role: APIKeyRole(rawValue: r["role"]) ?? .tenant,
                          createdAt: iso(Date(timeIntervalSince1970: r["created_at"])),
                          expiresAt: expires.map { iso(Date(timeIntervalSince1970: $0)) },
                          revokedAt: revoked.map { iso(Date(timeIntervalSince1970: $0)) }, active: active)
    }
}
