// The per-request context: Hummingbird's core storage plus who is calling (set by the auth middleware).
import Hummingbird
import VolumeCore

/// Who made a request: the key's ID, its tenant and its role.
public struct Principal: Sendable, Equatable {
    public var keyID: String
    public var tenant: String
    public var role: APIKeyRole
}

/// The request context of every route.
public struct VolumeRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `AuthMiddleware` on every route but `/healthz`.
    public var principal: Principal?
    /// JSON bodies are small: larger ones are refused (file contents stream and are not bound by this).
    public var maxUploadSize: Int { 1 << 20 }

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    /// The caller, or 401.
    func caller() throws -> Principal {
        guard let p = principal else { throw APIFailure.unauthorized }
        return p
    }
}
