// files.signedURL: a URL for one GET or PUT of one path that works without the API key until it expires; and the calls that use one.
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import VolumeAPI

/// The method a signed URL is good for.
public enum SignedMethod: String, Sendable {
    case get = "GET"
    case put = "PUT"
}

extension Files {
    /// Issues a signed URL for `method` on `path`, valid for `expiresIn` seconds (1 to 604800; the
    /// daemon's default is 3600). The answer's `url` is relative to the endpoint; ``VolumeClient/absoluteURL(_:)``
    /// makes it whole. An expired, altered or revoked (secret rotated) URL is 403. `user` (PUT only:
    /// "root", "UID" or "UID:GID") is who the write is made as, signed into the URL.
    public func signedURL(_ path: String, method: SignedMethod, expiresIn: Int? = nil, user: String? = nil) async throws -> SignedURLResponse {
        try await transport.json(.POST, base + "/signed-url", body: SignedURLRequest(path: path, method: method.rawValue, expiresInSeconds: expiresIn, user: user),
                                 as: SignedURLResponse.self)
    }
}

extension VolumeClient {
    /// The whole URL of a signed URL, on this client's endpoint (`unix://` endpoints give an `http+unix://` URL).
    public func absoluteURL(_ signed: SignedURLResponse) -> String {
        let parts = signed.url.split(separator: "?", maxSplits: 1)
        var r = transport.url(String(parts[0]), [])
        if parts.count > 1 { r += "?" + parts[1] }
        return r
    }

    /// GETs a signed URL without a key (the bytes, whole: for small files).
    public func readSigned(_ signed: SignedURLResponse) async throws -> Data {
        var r = HTTPClientRequest(url: absoluteURL(signed))
        r.method = .GET
        return try await transport.collect(try await transport.send(r), upTo: Int.max)
    }

    /// PUTs bytes to a signed URL without a key; the file is created or replaced.
    @discardableResult
    public func writeSigned(_ signed: SignedURLResponse, data: Data) async throws -> WriteResponse {
        var r = HTTPClientRequest(url: absoluteURL(signed))
        r.method = .PUT
        r.headers.add(name: "Content-Type", value: "application/octet-stream")
        r.body = .bytes(ByteBuffer(bytes: data))
        let body = try await transport.collect(try await transport.send(r))
        do { return try JSONDecoder().decode(WriteResponse.self, from: body) } catch {
            throw VolumeClientError(status: 0, code: "bad_response", message: "PUT signed URL: the answer is not the expected JSON: \(error)")
        }
    }
}
