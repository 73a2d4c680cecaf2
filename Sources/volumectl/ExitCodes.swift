// The CLI's exit codes for the core's errors: the CLI owns this boundary, the core only names the error.
import VolumeCore

extension VolumeError {
    /// The CLI's exit code: 64 usage, 3 not found, 4 conflict, 5 over the cap, 6 not permitted, 70 internal.
    var exitCode: Int32 {
        switch self {
        case .notFound, .noSuchAttribute: return 3
        case .invalidPath, .nameTooLong, .invalidArgument, .outOfRange, .tooLarge, .invalidMountPath, .invalidSubpath: return 64
        case .alreadyExists, .directoryNotEmpty, .editConflict, .notADirectory, .isADirectory, .crossDevice,
             .tooManyLinks, .symlinkLoop, .conflict, .tooManyAttachments:
            return 4
        case .quotaExceeded: return 5
        case .readOnly, .permissionDenied, .forbidden: return 6
        case .corrupt, .io, .interrupted: return 70
        }
    }
}
