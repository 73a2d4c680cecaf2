// An attachment's subpath resolved to a directory of the catalog without following any symlink.
import Foundation
import GRDB

/// A subpath resolved inside a volume: its normal form and the directory it names.
public struct ResolvedSubpath: Sendable, Equatable {
    /// The normal form, e.g. `/datasets/a` ("/" for the whole volume).
    public var path: String
    /// The directory's attributes (its inode is what a subpath mount shows as its root).
    public var attributes: Attributes
}

extension Volume {
    /// Resolves `subpath` (absolute or not; `.`, repeated and trailing slashes are dropped) to a
    /// directory, looking each component up in the catalog, in one read transaction, from the
    /// root, and **never following a symlink**, not even one that points inside the volume: a
    /// symlink component, `..`, a missing component, a component that is not a directory, NUL or
    /// an over-long name is `invalidSubpath` (HTTP 400, code `invalid_subpath`) naming the
    /// component. So no link, `..` or rename can lead a subpath mount outside the directory that was
    /// checked: what the mount serves is the inode found here.
    public func resolveSubpath(_ subpath: String) throws -> ResolvedSubpath {
        func refuse(_ why: String) -> VolumeError { .invalidSubpath("subpath '\(subpath.prefix(200))' \(why)") }
        guard !subpath.utf8.contains(0) else { throw refuse("contains a NUL byte") }
        guard subpath.utf8.count <= VolumePath.maxLength else {
            throw refuse("is \(subpath.utf8.count) bytes; the limit is \(VolumePath.maxLength)")
        }
        var names: [String] = []
        for part in subpath.split(separator: "/", omittingEmptySubsequences: true) where part != "." {
            guard part != ".." else { throw refuse("contains '..'; a subpath names a directory below the volume root") }
            guard part.utf8.count <= VolumePath.maxNameLength else {
                throw refuse("has a name of \(part.utf8.count) bytes; the limit is \(VolumePath.maxNameLength)")
            }
            names.append(String(part))
        }
        return try read { db -> ResolvedSubpath in
            guard var cur = try Catalog.attributes(db, Catalog.rootIno) else { throw VolumeError.corrupt("volume \(id) has no root") }
            var walked = ""
            for name in names {
                walked += "/" + name
                guard let next = try Catalog.lookupAttributes(db, parent: cur.ino, name: Data(name.utf8)) else {
                    throw refuse("does not exist in volume \(id): there is no \(walked)")
                }
                switch next.kind {
                case .directory: cur = next
                case .symlink: throw refuse("goes through the symbolic link \(walked); subpaths never follow links")
                default: throw refuse("is not a directory: \(walked) is a \(next.kind)")
                }
            }
            return ResolvedSubpath(path: walked.isEmpty ? "/" : walked, attributes: cur)
        }
    }
}
