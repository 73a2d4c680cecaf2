// What routes read from a request: query values, strict JSON bodies, the caller's tenant scope, the body as a stream.
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import VolumeAPI
import VolumeCore

extension HTTPField.Name {
    /// The tenant an operator key acts for.
    static let xTenant = HTTPField.Name("X-Tenant")!
    static let xAPIKey = HTTPField.Name("X-API-Key")!
}

enum RequestHelpers {
    /// The tenant scope of a request: a tenant key's own tenant; an operator's `X-Tenant` or nil (every
    /// tenant). A tenant key naming another tenant in `X-Tenant` is refused (403).
    static func scope(_ request: Request, _ context: VolumeRequestContext) throws -> String? {
        let p = try context.caller()
        let asked = request.headers[.xTenant].map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        switch p.role {
        case .tenant:
            if let a = asked, a != p.tenant {
                throw APIFailure("forbidden", "a tenant key acts for its own tenant only; X-Tenant is for operator keys")
            }
            return p.tenant
        case .operator:
            if let a = asked { try wrap { try VolumeStore.validate(owner: a) } }
            return asked
        }
    }

    /// Refuses tenant keys (403).
    static func requireOperator(_ context: VolumeRequestContext) throws {
        guard try context.caller().role == .operator else {
            throw APIFailure("forbidden", "this route needs an operator key")
        }
    }

    /// A query value, or nil.
    static func query(_ request: Request, _ name: String) -> String? { request.uri.queryParameters.get(name) }

    /// A required query value.
    static func requiredQuery(_ request: Request, _ name: String) throws -> String {
        guard let v = query(request, name), !v.isEmpty else { throw APIFailure.badRequest("the query parameter '\(name)' is required") }
        return v
    }

    /// A boolean query value: true/false/1/0; absent is `default`.
    static func boolQuery(_ request: Request, _ name: String, default d: Bool = false) throws -> Bool {
        guard let v = query(request, name) else { return d }
        switch v.lowercased() {
        case "true", "1", "yes", "": return true
        case "false", "0", "no": return false
        default: throw APIFailure.badRequest("the query parameter '\(name)' must be true or false, not '\(v)'")
        }
    }

    /// An integer query value within `range`.
    static func intQuery(_ request: Request, _ name: String, default d: Int, range: ClosedRange<Int>) throws -> Int {
        guard let v = query(request, name) else { return d }
        guard let i = Int(v), range.contains(i) else {
            throw APIFailure.badRequest("the query parameter '\(name)' must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return i
    }

    /// An octal mode ("644", "0644") within 0...0o7777.
    /// The owner a write creates entries as: `user` ("root", "UID" or "UID:GID"; 400 otherwise), root
    /// when absent. Any uid is allowed to any key: ids in a volume are data, not identities on this
    /// host (see Docs/api.md, "Owners").
    static func owner(_ text: String?) throws -> FileOwner {
        guard let t = text else { return .root }
        return try wrap { try FileOwner(parsing: t) }
    }

    static func mode(_ text: String?, name: String = "mode") throws -> UInt32? {
        guard let t = text else { return nil }
        guard let m = UInt32(t, radix: 8), m <= 0o7777 else { throw APIFailure.badRequest("'\(name)' must be octal permission bits like 0644, not '\(t)'") }
        return m
    }

    /// The request's Content-Length, when it sent one (a malformed one is a 400).
    static func contentLength(_ request: Request) throws -> Int64? {
        guard let v = request.headers[.contentLength] else { return nil }
        guard let n = Int64(v), n >= 0 else { throw APIFailure.badRequest("Content-Length '\(v)' is not a byte count") }
        return n
    }

    /// Decodes a JSON object body, refusing unknown fields, wrong types and bodies over `limit` bytes.
    static func json<T: Decodable>(_ type: T.Type, fields: Set<String>, _ request: Request, limit: Int) async throws -> T {
        let buffer = try await collect(request, limit: limit, tooLarge: APIFailure("too_large", "a JSON body is at most \(limit) bytes"))
        let data = Data(buffer.readableBytesView)
        guard let object = try? JSONSerialization.jsonObject(with: data), let dict = object as? [String: Any] else {
            throw APIFailure("invalid_json", "the body must be a JSON object")
        }
        let unknown = Set(dict.keys).subtracting(fields)
        if !unknown.isEmpty {
            throw APIFailure("invalid_json", "unknown field(s) \(unknown.sorted().joined(separator: ", ")); this route takes \(fields.sorted().joined(separator: ", "))")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let e as DecodingError {
            throw APIFailure("invalid_json", describe(e))
        }
    }

    /// The whole body, at most `limit` bytes (else `tooLarge`); a body that ends before its Content-Length
    /// or is cut is 400 `length_mismatch`.
    static func collect(_ request: Request, limit: Int, tooLarge: @autoclosure () -> APIFailure) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: limit)
        } catch let e as HTTPError where e.status == .contentTooLarge {
            throw tooLarge()
        } catch {
            throw APIFailure("length_mismatch", "the body ended before its Content-Length (\(error)); nothing was written")
        }
    }

    static func describe(_ e: DecodingError) -> String {
        func path(_ p: [any CodingKey]) -> String { p.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".") }
        switch e {
        case .keyNotFound(let k, let c): return "missing field '\(path(c.codingPath + [k]))'"
        case .typeMismatch(let t, let c): return "field '\(path(c.codingPath))' must be \(typeName(t))"
        case .valueNotFound(let t, let c): return "field '\(path(c.codingPath))' must be \(typeName(t)), not null"
        case .dataCorrupted(let c): return "malformed JSON at '\(path(c.codingPath))': \(c.debugDescription)"
        @unknown default: return "malformed JSON"
        }
    }

    static func typeName(_ t: Any.Type) -> String {
        switch t {
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Int.Type, is Int64.Type: return "a whole number"
        case is Double.Type: return "a number"
        default: return "an object of string values"
        }
    }

    /// Runs `body`, turning the core's errors into API failures (for validation outside the bridge).
    static func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as VolumeError { throw e.apiFailure }
    }

    /// Feeds the request body into `pipe` until it ends, the reader stops, or more than `limit` bytes
    /// arrived (then the reader fails with `tooLarge`). A body that ends before its Content-Length
    /// fails the reader with `length_mismatch`; a cut connection with the transport's error.
    static func stream(_ request: Request, into pipe: BodyPipe, declared: Int64?, limit: Int64?, tooLarge: @autoclosure () -> APIFailure) async {
        var total: Int64 = 0
        do {
            for try await buffer in request.body {
                total += Int64(buffer.readableBytes)
                if let l = limit, total > l { pipe.fail(tooLarge()); return }
                guard await pipe.push(buffer) else { return }
            }
            if let d = declared, total != d {
                pipe.fail(APIFailure("length_mismatch", "the body has \(total) bytes but its Content-Length said \(d); nothing was written"))
                return
            }
            pipe.finish()
        } catch {
            pipe.fail(APIFailure("length_mismatch", "the body ended early (\(total) bytes received): \(error); nothing was written"))
        }
    }
}
