// client.apiKeys: the operator's calls on API keys (create, list, revoke).
import Foundation
import NIOHTTP1
import VolumeAPI

/// API keys (operator keys only; a tenant key gets `forbidden`, 403).
public struct APIKeys: Sendable {
    let transport: Transport

    /// Creates a key for `tenant`; the answer's `key` is shown this once.
    public func create(tenant: String, operator: Bool = false, expiresIn: TimeInterval? = nil) async throws -> CreatedKeyResponse {
        try await transport.json(.POST, "/v1/admin/keys",
                                 body: CreateKeyRequest(tenant: tenant, role: `operator` ? "operator" : "tenant", expiresInSeconds: expiresIn),
                                 as: CreatedKeyResponse.self)
    }

    /// Every key, or one tenant's (never their secrets).
    public func list(tenant: String? = nil) async throws -> [KeyResponse] {
        try await transport.json(.GET, "/v1/admin/keys", query: [("tenant", tenant)], as: [KeyResponse].self)
    }

    /// Revokes a key by ID; it stops working at the next request.
    @discardableResult
    public func revoke(_ id: String) async throws -> KeyResponse {
        try await transport.json(.DELETE, "/v1/admin/keys/" + Transport.escape(id, keepSlash: false), as: KeyResponse.self)
    }
}
