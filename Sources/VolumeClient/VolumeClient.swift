// The client's entry point: where the daemon is, which key to send, and the request plumbing every call shares.
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import VolumeAPI

/// A client of `volumed`'s HTTP API, shaped as the reference SDKs:
/// `client.volumes.create/list/get/delete`, `client.volume(id).files.read/write/...`, `client.apiKeys`.
///
/// ```swift
/// let client = try VolumeClient(endpoint: "http://127.0.0.1:8780", apiKey: key)
/// let vol = try await client.volumes.create(name: "data")
/// try await client.volume(vol.volumeId).files.write("/hello.txt", data: Data("hi".utf8))
/// ```
///
/// Every call is async and throws ``VolumeClientError``. Uploads and downloads stream (see
/// ``Files/write(_:stream:length:parents:mode:)`` and ``Files/readStream(_:offset:length:)``).
public struct VolumeClient: Sendable {
    let transport: Transport

    /// - Parameters:
    ///   - endpoint: `http://HOST:PORT` (a path prefix is kept), or a Unix socket: `unix:///run/volumed.sock`
    ///     or a plain absolute path.
    ///   - apiKey: sent as `X-API-Key`; nil sends none (only `/healthz` answers then).
    ///   - tenant: sent as `X-Tenant` so an operator key acts for that tenant; nil for a tenant key or
    ///     an operator seeing every tenant.
    ///   - httpClient: the AsyncHTTPClient to use; by default one process-wide client made for this
    ///     library (``defaultHTTPClient``).
    public init(endpoint: String, apiKey: String?, tenant: String? = nil, httpClient: HTTPClient = VolumeClient.defaultHTTPClient) throws {
        transport = Transport(http: httpClient, base: try Transport.Base(endpoint), endpoint: endpoint, apiKey: apiKey, tenant: tenant)
    }

    /// The same client acting for another tenant (`X-Tenant`), for operator keys.
    public func acting(for tenant: String?) -> VolumeClient {
        var t = transport
        t.tenant = tenant
        return VolumeClient(transport: t)
    }

    init(transport: Transport) { self.transport = transport }

    /// The process-wide HTTP client every `VolumeClient` uses unless given another: connections fail after
    /// 10 s, and there is no read timeout (a large upload or import may take long before the daemon answers;
    /// AsyncHTTPClient's shared client would cut it after 90 s). It lives as long as the process.
    public static let defaultHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(10), read: nil))
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// Volume lifecycle calls: create (empty or from a tar.gz), list, get, delete.
    public var volumes: Volumes { Volumes(transport: transport) }

    /// One volume by ID (or a name unique among the caller's volumes), for its `files`.
    public func volume(_ ref: String) -> RemoteVolume { RemoteVolume(ref: ref, transport: transport) }

    /// Operator calls on API keys.
    public var apiKeys: APIKeys { APIKeys(transport: transport) }

    /// `GET /healthz` (needs no key).
    public func health() async throws -> HealthResponse {
        try await transport.json(.GET, "/healthz", as: HealthResponse.self)
    }
}

/// A volume as the client addresses it; `files` holds its files operations.
public struct RemoteVolume: Sendable {
    /// The volume ID or unique name this handle sends.
    public let ref: String
    let transport: Transport

    /// The files API of this volume (the reference's `volume.files`).
    public var files: Files { Files(volume: ref, transport: transport) }

    /// The volume's current description.
    public func info() async throws -> VolumeResponse { try await Volumes(transport: transport).get(ref) }
}

/// The request plumbing: URLs (TCP or Unix socket), headers, JSON in and out, and the error body.
struct Transport: Sendable {
    enum Base: Sendable {
        case http(String)
        case unix(String)

        init(_ endpoint: String) throws {
            var e = endpoint.trimmingCharacters(in: .whitespaces)
            if e.hasPrefix("unix://") { e = String(e.dropFirst("unix://".count)) }
            if e.hasPrefix("/") { self = .unix(e); return }
            if e.hasPrefix("http+unix://") {
                let host = e.dropFirst("http+unix://".count).prefix { $0 != "/" }
                self = .unix(host.removingPercentEncoding ?? String(host))
                return
            }
            guard e.hasPrefix("http://") || e.hasPrefix("https://"), URL(string: e)?.host != nil else {
                throw VolumeClientError(status: 0, code: "bad_endpoint",
                                        message: "'\(endpoint)' is not an endpoint; give http://HOST:PORT or a Unix socket path (unix:///PATH)")
            }
            while e.hasSuffix("/") { e.removeLast() }
            self = .http(e)
        }
    }

    let http: HTTPClient
    let base: Base
    let endpoint: String
    let apiKey: String?
    var tenant: String?

    /// Percent-encodes a query value or a route segment.
    static func escape(_ s: String, keepSlash: Bool = true) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: keepSlash ? "-._~/" : "-._~"))
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    func url(_ route: String, _ query: [(String, String?)]) -> String {
        let q = query.compactMap { k, v in v.map { "\(k)=\(Self.escape($0))" } }.joined(separator: "&")
        let uri = q.isEmpty ? route : route + "?" + q
        switch base {
        case .http(let b): return b + uri
        case .unix(let path): return URL(httpURLWithSocketPath: path, uri: uri)?.absoluteString ?? "http+unix://invalid" + uri
        }
    }

    func request(_ method: HTTPMethod, _ route: String, query: [(String, String?)] = [], headers: [(String, String)] = []) -> HTTPClientRequest {
        var r = HTTPClientRequest(url: url(route, query))
        r.method = method
        if let apiKey { r.headers.add(name: "X-API-Key", value: apiKey) }
        if let tenant { r.headers.add(name: "X-Tenant", value: tenant) }
        for (k, v) in headers { r.headers.add(name: k, value: v) }
        return r
    }

    /// Sends a request; a status outside 2xx becomes a `VolumeClientError` read from the error body.
    func send(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, deadline: .distantFuture)
        } catch let e as VolumeClientError {
            throw e
        } catch {
            throw VolumeClientError.transport(error, endpoint: endpoint)
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            let body = (try? await response.body.collect(upTo: 1 << 20)).map { Data($0.readableBytesView) } ?? Data()
            throw VolumeClientError.from(status: Int(response.status.code), body: body)
        }
        return response
    }

    /// Reads a whole (small) response body.
    func collect(_ response: HTTPClientResponse, upTo limit: Int = 64 << 20) async throws -> Data {
        do {
            return Data(try await response.body.collect(upTo: limit).readableBytesView)
        } catch {
            throw VolumeClientError.transport(error, endpoint: endpoint)
        }
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// A JSON call: `body` encoded as JSON when given, the answer decoded as `T`.
    func json<T: Decodable>(_ method: HTTPMethod, _ route: String, query: [(String, String?)] = [], body: (any Encodable)? = nil,
                            as type: T.Type) async throws -> T {
        try await json(jsonRequest(method, route, query: query, body: body), as: T.self)
    }

    /// Sends a prepared request (a streamed upload, say) and decodes its answer as `T`.
    func json<T: Decodable>(_ request: HTTPClientRequest, as type: T.Type) async throws -> T {
        let data = try await collect(try await send(request))
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw VolumeClientError(status: 0, code: "bad_response", message: "\(request.method) \(request.url): the answer is not the expected JSON: \(error)")
        }
    }

    /// A call whose answer body is returned raw (empty for 204).
    @discardableResult
    func call(_ method: HTTPMethod, _ route: String, query: [(String, String?)] = [], body: (any Encodable)? = nil) async throws -> Data {
        try await collect(try await send(try jsonRequest(method, route, query: query, body: body)))
    }

    private func jsonRequest(_ method: HTTPMethod, _ route: String, query: [(String, String?)], body: (any Encodable)?) throws -> HTTPClientRequest {
        var r = request(method, route, query: query)
        if let body {
            r.headers.add(name: "Content-Type", value: "application/json")
            r.body = .bytes(ByteBuffer(bytes: try Self.encoder.encode(body)))
        }
        return r
    }

    /// The route of a volume: `/v1/volumes/{ref}`.
    static func volumeRoute(_ ref: String) -> String { "/v1/volumes/" + escape(ref, keepSlash: false) }
}
