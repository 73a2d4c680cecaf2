// The CLI's exit codes, by error code: one table for the core's errors and the daemon's, so both worlds exit the same.
import VolumeCore

/// The CLI's exit code for each error code (`VolumeError.code` locally, the daemon's error body's code over
/// `--endpoint`): 64 usage, 3 not found, 4 conflict, 5 over the cap, 6 not permitted, 70 internal (and any
/// code it does not know). The exit-code twin of `APIErrorStatus.forCode`.
enum ExitCodes {
    static func forCode(_ code: String) -> Int32 {
        switch code {
        case "not_found", "no_such_attribute": return 3
        case "invalid_path", "name_too_long", "invalid_argument", "out_of_range", "too_large", "invalid_mount_path",
             "invalid_subpath", "bad_request", "invalid_json", "unsupported_media_type", "length_mismatch", "bad_endpoint",
             "not_available":
            return 64
        case "already_exists", "directory_not_empty", "edit_conflict", "not_a_directory", "is_a_directory", "cross_device",
             "too_many_links", "symlink_loop", "conflict", "too_many_attachments":
            return 4
        case "quota_exceeded": return 5
        case "read_only", "permission_denied", "forbidden", "unauthorized": return 6
        default: return 70
        }
    }
}

extension VolumeError {
    /// The CLI's exit code (see `ExitCodes`).
    var exitCode: Int32 { ExitCodes.forCode(code) }
}
