// The server's error: an HTTP status with the JSON error body; the core's errors map to it here (the HTTP boundary).
import Foundation
import HTTPTypes
import Hummingbird
import VolumeAPI
import VolumeCore

/// A failed request as the client sees it: a status and `{"error": {"code", "message"}}`.
public struct APIFailure: HTTPResponseError, Sendable, CustomStringConvertible {
    public let code: String
    public let message: String
    public var extraHeaders: HTTPFields = [:]

    public var status: HTTPResponse.Status { .init(code: APIErrorStatus.forCode(code)) }
    public var description: String { "\(code): \(message)" }

    public init(_ code: String, _ message: String, headers: HTTPFields = [:]) {
        self.code = code
        self.message = message
        self.extraHeaders = headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Self.response(status: status, code: code, message: message, headers: extraHeaders)
    }

    static func response(status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:]) -> Response {
        let data = (try? JSONResponse.encoder().encode(APIErrorBody(code: code, message: message))) ?? Data()
        var h = headers
        h[.contentType] = "application/json"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func badRequest(_ message: String) -> APIFailure { APIFailure("bad_request", message) }
    static let unauthorized = APIFailure("unauthorized", "a valid API key is required: send it as 'X-API-Key: KEY' or 'Authorization: Bearer KEY'",
                                         headers: [.wwwAuthenticate: "Bearer"])
}

extension VolumeError {
    /// The failure the API answers with: the core's code, its status from the contract's table, and its message.
    var apiFailure: APIFailure { APIFailure(code, description) }
}

/// Turns any error into a JSON error response: API failures as they are, the core's errors by their
/// code, Hummingbird's own (no route: 404; a route's path with another method: 405 with `Allow`) by
/// status, anything else a logged 500.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let f as APIFailure {
            return f.response(status: f.status)
        } catch let e as VolumeError {
            if case .io = e { context.logger.error("\(request.method) \(request.uri.path): \(e)") }
            if case .corrupt = e { context.logger.error("\(request.method) \(request.uri.path): \(e)") }
            let f = e.apiFailure
            return f.response(status: f.status)
        } catch let e as HTTPError {
            if e.status == .notFound, case let allowed = routes.methods(at: request.uri.path), !allowed.isEmpty {
                return APIFailure.response(status: .methodNotAllowed, code: "method_not_allowed",
                                           message: "\(request.method) is not a method of \(request.uri.path); it takes \(allowed.joined(separator: ", "))",
                                           headers: [.allow: allowed.joined(separator: ", ")])
            }
            let code: String
            switch e.status.code {
            case 404: code = "not_found"
            case 405: code = "method_not_allowed"
            case 413: code = "too_large"
            case 400: code = "bad_request"
            case 401: code = "unauthorized"
            default: code = e.status.code < 500 ? "bad_request" : "internal"
            }
            let message = e.body ?? (e.status.code == 404 ? "no route \(request.method) \(request.uri.path)" : e.status.reasonPhrase)
            return APIFailure.response(status: e.status, code: code, message: message)
        } catch is DecodingError {
            return APIFailure.badRequest("the body is not the JSON this route takes").response(status: .badRequest)
        } catch {
            context.logger.error("\(request.method) \(request.uri.path): internal error: \(error)")
            return APIFailure.response(status: .internalServerError, code: "internal", message: "internal error; see the daemon's log")
        }
    }
}

extension APIFailure {
    fileprivate func response(status: HTTPResponse.Status) -> Response {
        Self.response(status: status, code: code, message: message, headers: extraHeaders)
    }
}
