// /healthz and the operator's /v1/admin/keys (create, list, revoke API keys); tenant keys get 403 here.
import Foundation
import Hummingbird
import VolumeAPI
import VolumeCore

struct AdminRoutes: Sendable {
    let host: VolumeHost
    let bridge: BlockingBridge
    let limits: ServerLimits
    let version: String

    func register(on router: Router<VolumeRequestContext>) {
        router.get("/healthz", use: health)
        router.get("/v1/admin/keys", use: listKeys)
        router.post("/v1/admin/keys", use: createKey)
        router.delete("/v1/admin/keys/:key", use: revokeKey)
    }

    @Sendable func health(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        try JSONResponse.make(HealthResponse(status: "ok", version: version, openVolumes: host.openCount))
    }

    @Sendable func listKeys(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        try RequestHelpers.requireOperator(context)
        let tenant = RequestHelpers.query(request, "tenant")
        let store = host.store
        let keys = try await bridge.run { try store.listAPIKeys(tenant: tenant) }
        return try JSONResponse.make(keys.map(KeyResponse.init))
    }

    @Sendable func createKey(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        try RequestHelpers.requireOperator(context)
        let body = try await RequestHelpers.json(CreateKeyRequest.self, fields: CreateKeyRequest.fields, request, limit: limits.maxJSONBytes)
        guard let role = APIKeyRole(rawValue: body.role ?? "tenant") else { throw APIFailure.badRequest("'role' is tenant or operator") }
        if let s = body.expiresInSeconds, !(s > 0 && s < 1e10) { throw APIFailure.badRequest("'expires_in_seconds' must be positive") }
        let expires = body.expiresInSeconds.map { Date().addingTimeInterval($0) }
        let store = host.store
        let k = try await bridge.run { try store.createAPIKey(tenant: body.tenant, role: role, expiresAt: expires) }
        return try JSONResponse.make(CreatedKeyResponse(key: k.key, id: k.id, tenant: k.tenant, role: k.role.rawValue, expiresAt: k.expiresAt),
                                     status: .created)
    }

    @Sendable func revokeKey(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        try RequestHelpers.requireOperator(context)
        let id = try context.parameters.require("key")
        let store = host.store
        let k = try await bridge.run { try store.revokeAPIKey(id) }
        return try JSONResponse.make(KeyResponse(k))
    }
}
