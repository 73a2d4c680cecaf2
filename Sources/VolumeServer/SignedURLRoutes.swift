// Signed URLs: POST .../files/signed-url issues one; GET/PUT /v1/signed/{volume}/content uses it without an API key.
import Foundation
import HTTPTypes
import Hummingbird
import VolumeAPI
import VolumeCore

struct SignedURLRoutes: Sendable {
    let host: VolumeHost
    let bridge: BlockingBridge
    let limits: ServerLimits
    let signer: URLSigner

    /// The prefix the auth middleware lets through: these routes check their signature instead.
    static let prefix = "/v1/signed/"

    func register(on router: Router<VolumeRequestContext>) {
        router.post("/v1/volumes/:volume/files/signed-url", use: issue)
        router.get("/v1/signed/:volume/content", use: signedRead)
        router.put("/v1/signed/:volume/content", use: signedWrite)
    }

    @Sendable func issue(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let owner = try RequestHelpers.scope(request, context)
        let ref = try context.parameters.require("volume")
        let body = try await RequestHelpers.json(SignedURLRequest.self, fields: SignedURLRequest.fields, request, limit: limits.maxJSONBytes)
        let method = body.method.uppercased()
        guard method == "GET" || method == "PUT" else { throw APIFailure.badRequest("'method' is GET or PUT, not '\(body.method)'") }
        let seconds = body.expiresInSeconds ?? 3600
        guard (1...URLSigner.maxSeconds).contains(seconds) else {
            throw APIFailure.badRequest("'expires_in_seconds' must be from 1 to \(URLSigner.maxSeconds) (7 days)")
        }
        let p = try RequestHelpers.wrap { try VolumePath(body.path) }
        guard !p.isRoot else { throw APIFailure.badRequest("a signed URL names a file, not the volume root") }
        if body.user != nil, method != "PUT" { throw APIFailure.badRequest("'user' is for a signed PUT (the owner of what it writes), not a GET") }
        // Checked now, as the PUT would: a URL that can only fail is not issued.
        let user = try body.user.map { u -> String in _ = try RequestHelpers.owner(u); return u }
        let host = self.host
        let info = try await bridge.run { try host.withStore { s in try s.info(try s.resolve(ref, owner: owner), owner: owner) } }
        let expires = Int64(Date().timeIntervalSince1970) + Int64(seconds)
        let sig = signer.signature(method: method, volume: info.volumeId, path: p.description, expires: expires, tenant: info.ownerId, user: user)
        let userQuery = user.map { "&user=" + Self.escape($0) } ?? ""
        let url = "\(Self.prefix)\(info.volumeId)/content?path=\(Self.escape(p.description))&expires=\(expires)&tenant=\(Self.escape(info.ownerId))\(userQuery)&sig=\(sig)"
        let iso = TimeText.iso(Date(timeIntervalSince1970: Double(expires)))
        return try JSONResponse.make(SignedURLResponse(url: url, method: method, path: p.description, volumeId: info.volumeId, expiresAt: iso),
                                     status: .created)
    }

    static func escape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "/-._~"))) ?? s
    }

    /// Checks the signature against the request (its method, volume, path, expiry, tenant, and a PUT's
    /// user when signed with one; no other query parameter allowed) and returns a context acting as
    /// that tenant. Anything off: 403.
    func authorize(_ request: Request, _ context: VolumeRequestContext) throws -> VolumeRequestContext {
        let forbidden = APIFailure("forbidden", "this signed URL is not valid: it was altered, signed with a rotated secret, or used for another method")
        let q = request.uri.queryParameters
        var names = Set<String>()
        for (k, _) in q { names.insert(String(k)) }
        let signed: Set<String> = ["path", "expires", "tenant", "sig"]
        guard names == signed || names == signed.union(["user"]) else { throw forbidden }
        guard let path = q.get("path"), let e = q.get("expires"), let expires = Int64(e), let tenant = q.get("tenant"), let sig = q.get("sig"),
              names.allSatisfy({ q.getAll($0).count == 1 })
        else { throw forbidden }
        let user = q.get("user")
        let volume = try context.parameters.require("volume")
        guard signer.verify(sig, method: request.method.rawValue, volume: volume, path: path, expires: expires, tenant: tenant, user: user) else { throw forbidden }
        guard Int64(Date().timeIntervalSince1970) < expires else {
            throw APIFailure("forbidden", "this signed URL expired at \(TimeText.iso(Date(timeIntervalSince1970: Double(expires))))")
        }
        var c = context
        c.principal = Principal(keyID: "signed-url", tenant: tenant, role: .tenant)
        return c
    }

    /// One GET of the signed path: as `GET .../files/content` (Range, ETag, conditional GET).
    @Sendable func signedRead(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let c = try authorize(request, context)
        return try await FileRoutes(host: host, bridge: bridge, limits: limits).read(request, context: c)
    }

    /// One PUT of the signed path: as `PUT .../files/content` (streamed, atomic, cap-checked).
    @Sendable func signedWrite(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let c = try authorize(request, context)
        return try await FileRoutes(host: host, bridge: bridge, limits: limits).write(request, context: c)
    }
}
