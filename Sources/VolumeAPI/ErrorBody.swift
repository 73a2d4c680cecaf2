// The JSON error body every failing response carries, and the HTTP status of each error code.

/// `{"error": {"code": "...", "message": "..."}}`.
public struct APIErrorBody: Codable, Sendable, Equatable {
    /// The error's code and message.
    public struct Detail: Codable, Sendable, Equatable {
        /// Machine-readable: `not_found`, `quota_exceeded`, `unauthorized`, ...
        public var code: String
        /// For people: what went wrong and what to do.
        public var message: String
        public init(code: String, message: String) { self.code = code; self.message = message }
    }

    public var error: Detail

    public init(code: String, message: String) { error = Detail(code: code, message: message) }
}

/// The HTTP status of each error code: the contract's table (404, 400, 403, 413) and the core's codes.
public enum APIErrorStatus {
    /// The status for `code`; 500 for a code it does not know.
    public static func forCode(_ code: String) -> Int {
        switch code {
        case "bad_request", "invalid_json", "not_a_directory", "is_a_directory", "invalid_path", "name_too_long",
             "invalid_argument", "cross_device", "too_many_links", "symlink_loop", "length_mismatch",
             "invalid_mount_path", "invalid_subpath":
            return 400
        case "unauthorized": return 401
        case "forbidden", "read_only", "permission_denied": return 403
        case "not_found", "no_such_attribute": return 404
        case "method_not_allowed": return 405
        case "already_exists", "directory_not_empty", "edit_conflict", "conflict", "too_many_attachments": return 409
        case "precondition_failed": return 412
        case "too_large": return 413
        case "unsupported_media_type": return 415
        case "out_of_range": return 416
        case "quota_exceeded": return 507
        case "unavailable": return 503
        default: return 500
        }
    }
}
