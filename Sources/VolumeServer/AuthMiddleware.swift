// Authentication: every route but /healthz and /openapi.yaml needs an active API key (X-API-Key or Authorization: Bearer), else 401.
import Hummingbird
import VolumeCore

/// Looks the key up by its SHA-256: in the store's cache of keys verified in the last
/// `VolumeStore.keyCacheSeconds` (in memory, on the event loop: no trip to the bridge), else in the
/// registry on the bridge. A revoked key stops working at once, whichever process on this data directory
/// revoked it (every revoke voids every process's cache: `KeyCache`), an expired one at its expiry.
/// Missing, wrong, expired or revoked: 401 with the JSON error body.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = VolumeRequestContext
    let host: VolumeHost
    let bridge: BlockingBridge
    /// Paths that need no key.
    static let open: Set<String> = ["/healthz", "/openapi.yaml"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.open.contains(request.uri.path) { return try await next(request, context) }
        if request.uri.path.hasPrefix(SignedURLRoutes.prefix) { return try await next(request, context) }  // checked by its signature
        guard let key = Self.key(in: request) else { throw APIFailure.unauthorized }
        let store = host.store
        let found: APIKeyInfo?
        if let hit = store.cachedAuthentication(apiKey: key) { found = hit } else { found = try await bridge.run({ try store.authenticate(apiKey: key) }) }
        guard let info = found else { throw APIFailure.unauthorized }
        var context = context
        context.principal = Principal(keyID: info.id, tenant: info.tenant, role: info.role)
        return try await next(request, context)
    }

    /// The key from `X-API-Key: KEY` or `Authorization: Bearer KEY`.
    static func key(in request: Request) -> String? {
        if let k = request.headers[.xAPIKey].map(trimmed), !k.isEmpty { return k }
        if let a = request.headers[.authorization] {
            let parts = a.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                let k = trimmed(parts[1])
                return k.isEmpty ? nil : k
            }
        }
        return nil
    }

    /// `s` without the spaces and tabs around it (what HTTP allows around a field value), without
    /// Foundation's character sets, which cost more than the rest of the key check.
    static func trimmed<S: StringProtocol>(_ s: S) -> String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = s.firstIndex(where: { !blank($0) }), let last = s.lastIndex(where: { !blank($0) }) else { return "" }
        return String(s[first...last])
    }
}

import Foundation
