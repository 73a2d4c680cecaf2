// The core's one error type: every failure a volume operation can report, with its errno and error code.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Everything a volume operation can fail with. Each case knows its `errno` (for FUSE) and its
/// machine-readable `code`; the adapters that own the other boundaries map the code themselves
/// (the HTTP status in VolumeServer, the exit code in volumectl).
public enum VolumeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A path, volume, tenant or chunk that does not exist (or belongs to another tenant).
    case notFound(String)
    /// Something already exists where a new entry was to be created.
    case alreadyExists(String)
    case notADirectory(String)
    case isADirectory(String)
    case directoryNotEmpty(String)
    /// A path that is not acceptable: relative, `..`, NUL, empty component, too long.
    case invalidPath(String)
    case nameTooLong(String)
    /// Any other argument that is wrong; the message says what and what to do.
    case invalidArgument(String)
    /// The operation would take the volume past its cap.
    case quotaExceeded(volume: String, usage: Int64, cap: Int64, requested: Int64)
    case readOnly(String)
    case crossDevice(String)
    case permissionDenied(String)
    case tooManyLinks(String)
    case symlinkLoop(String)
    /// `edit` found the text zero or several times.
    case editConflict(String)
    /// A volume that is not the caller's, where the contract says 403.
    case forbidden(String)
    /// Stored data that is missing or does not match its hash.
    case corrupt(String)
    /// An operating-system call failed.
    case io(String, errno: Int32)
    /// The operation was interrupted (a signal or a cancellation); nothing was changed.
    case interrupted(String)
    /// An extended attribute that is not set.
    case noSuchAttribute(String)
    /// A name or value that does not fit (xattr buffer, range).
    case outOfRange(String)
    /// An upload body over the contract's limit (a Phase 1 blob over 4 GiB): HTTP 413.
    case tooLarge(String)
    /// A sandbox `mount_path` that is not acceptable (see `MountPath`): HTTP 400.
    case invalidMountPath(String)
    /// An attachment's subpath that is missing, not a directory, or reached through a symlink or
    /// `..` (see `Volume.resolveSubpath`): HTTP 400.
    case invalidSubpath(String)
    /// The request clashes with the state of a record: a live lease, live attachments, another
    /// attachment at the same `mount_path`. The message names who holds what. HTTP 409.
    case conflict(String)
    /// A sandbox already has as many attachments as it may (`StoreOptions.maxAttachmentsPerSandbox`): HTTP 409.
    case tooManyAttachments(String)

    public var description: String {
        switch self {
        case .notFound(let s): return "not found: \(s)"
        case .alreadyExists(let s): return "already exists: \(s)"
        case .notADirectory(let s): return "not a directory: \(s)"
        case .isADirectory(let s): return "is a directory: \(s)"
        case .directoryNotEmpty(let s): return "directory not empty: \(s)"
        case .invalidPath(let s): return "invalid path: \(s)"
        case .nameTooLong(let s): return "name too long: \(s)"
        case .invalidArgument(let s): return "invalid argument: \(s)"
        case let .quotaExceeded(volume, usage, cap, requested):
            return "volume \(volume) is over its cap: it uses \(ByteSize.format(usage)) of \(ByteSize.format(cap)) "
                + "and this needs \(ByteSize.format(requested)) more; free space or ask an operator to raise the cap "
                + "(volumectl quota set)"
        case .readOnly(let s): return "read-only: \(s)"
        case .crossDevice(let s): return "cross-device: \(s)"
        case .permissionDenied(let s): return "permission denied: \(s)"
        case .tooManyLinks(let s): return "too many links: \(s)"
        case .symlinkLoop(let s): return "too many levels of symbolic links: \(s)"
        case .editConflict(let s): return s
        case .forbidden(let s): return "forbidden: \(s)"
        case .corrupt(let s): return "corrupt: \(s)"
        case let .io(s, e): return "\(s): \(String(cString: strerror(e)))"
        case .interrupted(let s): return "interrupted: \(s)"
        case .noSuchAttribute(let s): return "no such attribute: \(s)"
        case .outOfRange(let s): return "out of range: \(s)"
        case .tooLarge(let s): return "too large: \(s)"
        case .invalidMountPath(let s): return "invalid mount path: \(s)"
        case .invalidSubpath(let s): return "invalid subpath: \(s)"
        case .conflict(let s): return "conflict: \(s)"
        case .tooManyAttachments(let s): return "too many attachments: \(s)"
        }
    }

    /// The errno a FUSE reply carries for this error.
    public var errno: Int32 {
        switch self {
        case .notFound: return ENOENT
        case .alreadyExists: return EEXIST
        case .notADirectory: return ENOTDIR
        case .isADirectory: return EISDIR
        case .directoryNotEmpty: return ENOTEMPTY
        case .invalidPath, .invalidArgument, .editConflict, .invalidMountPath, .invalidSubpath: return EINVAL
        case .conflict, .tooManyAttachments: return EBUSY
        case .nameTooLong: return ENAMETOOLONG
        case .quotaExceeded: return EDQUOT
        case .readOnly: return EROFS
        case .crossDevice: return EXDEV
        case .permissionDenied, .forbidden: return EACCES
        case .tooManyLinks: return EMLINK
        case .symlinkLoop: return ELOOP
        case .corrupt: return EIO
        case .io(_, let e): return e
        case .interrupted: return EINTR
        case .noSuchAttribute: return ENODATA
        case .outOfRange: return ERANGE
        case .tooLarge: return EFBIG
        }
    }

    /// A short machine-readable code for JSON error bodies.
    public var code: String {
        switch self {
        case .notFound: return "not_found"
        case .alreadyExists: return "already_exists"
        case .notADirectory: return "not_a_directory"
        case .isADirectory: return "is_a_directory"
        case .directoryNotEmpty: return "directory_not_empty"
        case .invalidPath: return "invalid_path"
        case .nameTooLong: return "name_too_long"
        case .invalidArgument: return "invalid_argument"
        case .quotaExceeded: return "quota_exceeded"
        case .readOnly: return "read_only"
        case .crossDevice: return "cross_device"
        case .permissionDenied: return "permission_denied"
        case .tooManyLinks: return "too_many_links"
        case .symlinkLoop: return "symlink_loop"
        case .editConflict: return "edit_conflict"
        case .forbidden: return "forbidden"
        case .corrupt: return "corrupt"
        case .io: return "io_error"
        case .interrupted: return "interrupted"
        case .noSuchAttribute: return "no_such_attribute"
        case .outOfRange: return "out_of_range"
        case .tooLarge: return "too_large"
        case .invalidMountPath: return "invalid_mount_path"
        case .invalidSubpath: return "invalid_subpath"
        case .conflict: return "conflict"
        case .tooManyAttachments: return "too_many_attachments"
        }
    }
}
