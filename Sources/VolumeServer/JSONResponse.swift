// Encodes wire types as JSON responses (sorted keys, so bodies are stable to read and to diff).
import Foundation
import HTTPTypes
import Hummingbird

enum JSONResponse {
    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    /// One encoder for every response (encoding does not change it, and making one per response showed
    /// in the profile of small requests).
    static let shared = encoder()

    /// `value` as a JSON response with `status`.
    static func make<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        raw(try shared.encode(value), status: status, headers: headers)
    }

    /// Already-encoded JSON.
    static func raw(_ data: Data, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var h = headers
        h[.contentType] = "application/json"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
