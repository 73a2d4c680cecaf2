// A validated sandbox mount path: absolute, already normalised, and neither a system directory nor under one.
import Foundation

/// Where an attachment appears inside a sandbox (`mount_path` in the contract).
///
/// Accepted: an absolute path in its normal form, at most 4096 bytes with names of at most 255,
/// that is not `/` and is neither one of the system directories (`systemDirectories`) nor below
/// one. A path that is not in normal form (`//`, a trailing `/`, a `.` component) is **refused,
/// not rewritten**: the record keeps exactly what the caller sent, and an idempotent attach compares
/// that text, so two spellings of one place never make two attachments. The message names the
/// normal form to send instead. `..`, NUL and control characters are refused outright.
/// Every failure is `VolumeError.invalidMountPath` (HTTP 400, code `invalid_mount_path`).
public struct MountPath: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    /// Directories a volume may not be mounted on or below (besides `/` itself).
    public static let systemDirectories = ["/etc", "/usr", "/proc", "/sys", "/dev", "/bin", "/sbin",
                                           "/lib", "/lib64", "/var", "/run", "/boot"]
    /// Longest path accepted, in bytes (Linux PATH_MAX).
    public static let maxLength = VolumePath.maxLength
    /// Longest single name accepted, in bytes (Linux NAME_MAX).
    public static let maxNameLength = VolumePath.maxNameLength

    /// The path, e.g. `/data`.
    public let path: String

    /// Validates `text`; throws `invalidMountPath` saying what is wrong.
    public init(_ text: String) throws {
        func refuse(_ why: String) -> VolumeError { .invalidMountPath("mount_path '\(Self.shown(text))' \(why)") }
        guard !text.isEmpty else { throw VolumeError.invalidMountPath("mount_path is empty; give an absolute path such as /data") }
        guard !text.utf8.contains(0) else { throw refuse("contains a NUL byte") }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
            throw refuse("contains a control character")
        }
        guard text.utf8.count <= Self.maxLength else { throw refuse("is \(text.utf8.count) bytes; the limit is \(Self.maxLength)") }
        guard text.hasPrefix("/") else { throw refuse("is not absolute; it must start with '/'") }
        let parts = text.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        if parts.contains("..") { throw refuse("contains '..'") }
        if let long = parts.first(where: { $0.utf8.count > Self.maxNameLength }) {
            throw refuse("has a name of \(long.utf8.count) bytes; the limit is \(Self.maxNameLength)")
        }
        let normal = "/" + parts.filter { !$0.isEmpty && $0 != "." }.joined(separator: "/")
        if normal == "/" { throw refuse("is the sandbox's root directory; mount below it, e.g. /data") }
        if normal != text {
            let what = parts.last == "" ? "ends with '/'" : (parts.contains("") ? "contains '//'" : "contains a '.' component")
            throw refuse("\(what): it is not normalised; use '\(normal)'")
        }
        if let sys = Self.systemDirectories.first(where: { normal == $0 || normal.hasPrefix($0 + "/") }) {
            throw refuse(normal == sys ? "is the system directory \(sys)" : "is under the system directory \(sys)")
        }
        path = text
    }

    /// A path read back from a record written by a version whose rules were looser (never refused).
    init(unchecked path: String) { self.path = path }

    public var description: String { path }
    public static func < (a: MountPath, b: MountPath) -> Bool { a.path < b.path }

    public init(from decoder: any Decoder) throws {
        try self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(path)
    }

    /// `text` cut short for a message.
    private static func shown(_ text: String) -> String {
        text.utf8.count <= 80 ? text : String(text.prefix(60)) + "..."
    }
}
