// The client's one error type: the HTTP status with the server's error code and message, or a transport failure.
import Foundation
import VolumeAPI

/// A failed call. For an answer from the daemon, `status` is its HTTP status and `code`/`message` come from
/// its JSON error body (`{"error": {"code", "message"}}`); when the daemon could not be reached or the
/// answer could not be read, `status` is 0 and `code` is `transport` or `bad_response`.
public struct VolumeClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status (404, 401, 409, 416, 507, ...); 0 when no HTTP answer was received.
    public let status: Int
    /// The server's machine-readable code (`not_found`, `quota_exceeded`, ...), or `transport` / `bad_response`.
    public let code: String
    /// For people: the server's message, or what failed on the way.
    public let message: String

    /// Makes an error; clients normally only receive these.
    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { status == 0 ? "\(code): \(message)" : "HTTP \(status) \(code): \(message)" }

    /// Whether the daemon answered that the volume or path does not exist (404).
    public var isNotFound: Bool { status == 404 }

    /// Reads a failed response's body; a body that is not the JSON error shape keeps its status and text.
    static func from(status: Int, body: Data) -> VolumeClientError {
        if let parsed = try? JSONDecoder().decode(APIErrorBody.self, from: body) {
            return VolumeClientError(status: status, code: parsed.error.code, message: parsed.error.message)
        }
        let text = String(decoding: body.prefix(512), as: UTF8.self)
        return VolumeClientError(status: status, code: "http_\(status)", message: text.isEmpty ? "HTTP status \(status)" : text)
    }

    static func transport(_ error: any Error, endpoint: String) -> VolumeClientError {
        VolumeClientError(status: 0, code: "transport", message: "cannot talk to \(endpoint): \(error)")
    }
}
