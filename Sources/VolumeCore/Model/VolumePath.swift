// A validated absolute path inside a volume: no `..`, no NUL, no empty component, bounded length.
import Foundation

/// An absolute, normalised path inside a volume. It cannot hold `..`, NUL or an over-long name,
/// so no path built from one can escape the volume's root.
public struct VolumePath: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// Longest path accepted, in bytes (Linux PATH_MAX).
    public static let maxLength = 4096
    /// Longest single name accepted, in bytes (Linux NAME_MAX).
    public static let maxNameLength = 255

    /// The components, each a valid name; empty for the root.
    public let components: [String]

    public static let root = VolumePath(trusted: [])

    init(trusted components: [String]) { self.components = components }

    /// Parses a path. Leading `/` is optional (paths are always relative to the volume root);
    /// repeated and trailing slashes and `.` components are dropped; `..` is refused.
    public init(_ text: String) throws {
        guard !text.isEmpty else { throw VolumeError.invalidPath("empty path; use / for the volume root") }
        guard text.utf8.count <= Self.maxLength else {
            throw VolumeError.nameTooLong("path is \(text.utf8.count) bytes, the limit is \(Self.maxLength)")
        }
        guard !text.utf8.contains(0) else { throw VolumeError.invalidPath("path contains a NUL byte") }
        var parts: [String] = []
        for part in text.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                throw VolumeError.invalidPath("'\(text)' contains '..'; paths must stay inside the volume")
            }
            try Self.validate(name: String(part))
            parts.append(String(part))
        }
        self.components = parts
    }

    /// Checks one file name: non-empty, not `.` or `..`, no `/` or NUL, at most 255 bytes.
    public static func validate(name: String) throws {
        guard !name.isEmpty else { throw VolumeError.invalidPath("empty file name") }
        guard name != ".", name != ".." else { throw VolumeError.invalidPath("'\(name)' is not a file name") }
        guard !name.utf8.contains(0), !name.contains("/") else {
            throw VolumeError.invalidPath("file name '\(name)' contains '/' or NUL")
        }
        guard name.utf8.count <= maxNameLength else {
            throw VolumeError.nameTooLong("'\(name.prefix(40))...' is \(name.utf8.count) bytes, the limit is \(maxNameLength)")
        }
    }

    public var isRoot: Bool { components.isEmpty }
    /// The last component; empty for the root.
    public var name: String { components.last ?? "" }
    /// The parent directory; the root's parent is the root.
    public var parent: VolumePath { VolumePath(trusted: Array(components.dropLast())) }
    /// Appends a validated name.
    public func appending(_ name: String) throws -> VolumePath {
        try Self.validate(name: name)
        return VolumePath(trusted: components + [name])
    }
    /// Whether `self` is `other` or lies below it.
    public func isDescendant(of other: VolumePath) -> Bool {
        components.count >= other.components.count && Array(components.prefix(other.components.count)) == other.components
    }
    public var description: String { "/" + components.joined(separator: "/") }
    public static func < (a: VolumePath, b: VolumePath) -> Bool { a.description < b.description }
}
