// What one mount sees of a volume: the whole tree or a subpath as its root, read-write or read-only.
import Foundation
import GRDB
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A mount's view of a volume, in the inode numbers the kernel sees.
///
/// - The view's root is inode `MountView.rootIno` (1, FUSE's root ID). For a subpath view the
///   subpath directory's real inode and the volume root's inode 1 trade numbers, so the mapping is a
///   bijection and the volume root is never handed out.
/// - `..` of the view root is the view root, a subpath view refuses to walk into a directory that
///   is not below its root (another writer may have moved it out), and names are checked before
///   lookup (ENAMETOOLONG, not ENOENT, for a 256-byte name).
/// - A read-only view refuses every mutation with `readOnly` (EROFS) before it reaches the volume.
/// - `open` applies relatime: reading a file whose atime is not newer than its mtime or ctime (or is
///   a day old) sets its atime, as Linux's default mount option does.
///
/// Every method takes and returns view inode numbers, so a FUSE adapter passes kernel node IDs
/// straight through. Thread-safe.
public final class MountView: Sendable {
    /// The view's root, as the kernel numbers it.
    public static let rootIno: UInt64 = 1

    public let volume: Volume
    /// The real inode of the view's root directory (1 for a whole-volume view).
    public let realRoot: UInt64
    /// The subpath this view shows, "/" for the whole volume.
    public let subpath: String
    public let readOnly: Bool
    /// `getattr` serves what this process's own recent changes left on an inode without reading
    /// the catalog (see `Volume.getattr(_:recent:)`): only for an owner that polls
    /// `Volume.foreignChanges`, as a FUSE mount's invalidator does.
    public let recentAttributes: Bool
    /// Directories of a subpath view known to lie below its root; cleared when another writer changes the tree.
    private let inside = Mutex<Set<UInt64>>([])

    /// A view of `subpath` (an existing directory, "/" for the whole volume).
    public init(volume: Volume, subpath: String = "/", readOnly: Bool = false, recentAttributes: Bool = false) throws {
        self.volume = volume
        self.readOnly = readOnly
        self.recentAttributes = recentAttributes
        let p = try VolumePath(subpath)
        self.subpath = p.description
        if p.isRoot {
            realRoot = Catalog.rootIno
        } else {
            let a = try volume.attributes(at: p.description)
            guard a.kind == .directory else { throw VolumeError.notADirectory("subpath \(p) is not a directory") }
            realRoot = a.ino
        }
        if recentAttributes { volume.recent.addReader() }
    }

    /// A view of a subpath that `Volume.resolveSubpath` resolved without following any symlink (an
    /// attachment's): its root is the directory found then, whatever is renamed or linked at that
    /// path since.
    public init(volume: Volume, resolved: ResolvedSubpath, readOnly: Bool = false, recentAttributes: Bool = false) throws {
        guard resolved.attributes.kind == .directory else {
            throw VolumeError.invalidSubpath("subpath \(resolved.path) is not a directory")
        }
        self.volume = volume
        self.readOnly = readOnly
        self.recentAttributes = recentAttributes
        subpath = resolved.path
        realRoot = resolved.attributes.ino
        if recentAttributes { volume.recent.addReader() }
    }

    deinit {
        if recentAttributes { volume.recent.removeReader() }
    }

    /// Whether this view shows a subpath rather than the whole volume.
    public var isSubpath: Bool { realRoot != Catalog.rootIno }

    // MARK: Inode numbers

    /// The real inode behind view inode `ino`.
    @inline(__always) public func real(_ ino: UInt64) -> UInt64 {
        ino == Self.rootIno ? realRoot : (ino == realRoot ? Catalog.rootIno : ino)
    }

    /// The view inode of real inode `ino` (the same swap: it is its own inverse).
    @inline(__always) public func view(_ ino: UInt64) -> UInt64 { real(ino) }

    private func view(_ a: Attributes) -> Attributes {
        var a = a
        a.ino = view(a.ino)
        return a
    }

    /// Forgets which directories were checked to lie inside a subpath view. Call it when another
    /// writer (another mount, the files API, another process) changed the tree.
    public func treeChangedElsewhere() {
        guard isSubpath else { return }
        inside.withLock { $0.removeAll(keepingCapacity: true) }
    }

    /// Fails with `notFound` when real directory `dir` is not the view's root or below it.
    private func checkInside(_ dir: UInt64) throws {
        guard isSubpath, dir != realRoot else { return }
        if inside.withLock({ $0.contains(dir) }) { return }
        var walked: [UInt64] = []
        var cur = dir
        try volume.read { db in
            while cur != realRoot {
                walked.append(cur)
                guard cur != Catalog.rootIno, walked.count < 100_000,
                      let p = try Catalog.parentEntry(db, of: cur)?.parent else {
                    throw VolumeError.notFound("inode is outside the mounted subpath \(subpath)")
                }
                cur = p
            }
        }
        inside.withLock { set in
            if set.count > 100_000 { set.removeAll(keepingCapacity: true) }
            set.formUnion(walked)
        }
    }

    private func writable(_ what: @autoclosure () -> String) throws {
        if readOnly { throw VolumeError.readOnly("\(what()): the volume is mounted read-only") }
    }

    private static func checkName(_ name: Data) throws {
        guard name.count <= VolumePath.maxNameLength else {
            throw VolumeError.nameTooLong("a name of \(name.count) bytes; the limit is \(VolumePath.maxNameLength)")
        }
    }

    // MARK: Reading the tree

    public func getattr(_ ino: UInt64) throws -> Attributes { view(try volume.getattr(real(ino), recent: recentAttributes)) }

    /// Finds `name` in `parent`; `.` is the directory itself and `..` its parent (the root's is the root).
    public func lookup(parent: UInt64, name: Data) throws -> Attributes {
        let p = real(parent)
        try Self.checkName(name)
        try checkInside(p)
        if name == Data(".".utf8) { return try getattr(parent) }
        if name == Data("..".utf8) {
            if p == realRoot { return try getattr(Self.rootIno) }
            return view(try volume.getattr(try volume.parent(of: p)))
        }
        return view(try volume.lookup(parent: p, name: name))
    }

    /// Entries of directory `ino` in name order after `after`, at most `limit` (-1: all).
    /// `attributes: false` fills in only each entry's inode number and kind.
    public func readdir(_ ino: UInt64, after: Data? = nil, limit: Int = -1, attributes: Bool = true) throws -> [DirectoryEntry] {
        let r = real(ino)
        try checkInside(r)
        var entries = try volume.readdir(r, after: after, limit: limit, attributes: attributes)
        for i in entries.indices { entries[i].attributes.ino = view(entries[i].attributes.ino) }
        return entries
    }

    /// The view inode of directory `ino`'s parent (the view root's parent is the view root).
    public func parent(of ino: UInt64) throws -> UInt64 {
        let r = real(ino)
        if r == realRoot { return Self.rootIno }
        return view(try volume.parent(of: r))
    }

    public func readlink(_ ino: UInt64) throws -> Data { try volume.readlink(real(ino)) }

    public func statfs() throws -> FileSystemStats { try volume.statfs() }

    /// The ctime of each view inode that exists.
    public func changeTimes(_ inos: [UInt64]) throws -> [UInt64: Nanos] {
        var out: [UInt64: Nanos] = [:]
        for (r, t) in try volume.changeTimes(inos.map(real)) { out[view(r)] = t }
        return out
    }

    // MARK: Changing the tree

    public func create(parent: UInt64, name: Data, kind: FileKind, mode: UInt32, caller: Caller,
                       rdev: UInt64 = 0, target: Data? = nil) throws -> Attributes {
        try writable("create")
        try Self.checkName(name)
        let p = real(parent)
        try checkInside(p)
        return view(try volume.create(parent: p, name: name, kind: kind, mode: mode, caller: caller, rdev: rdev, target: target))
    }

    public func link(_ ino: UInt64, newParent: UInt64, newName: Data, caller: Caller) throws -> Attributes {
        try writable("link")
        try Self.checkName(newName)
        let p = real(newParent)
        try checkInside(p)
        return view(try volume.link(real(ino), newParent: p, newName: newName, caller: caller))
    }

    public func unlink(parent: UInt64, name: Data, caller: Caller) throws {
        try writable("unlink")
        try Self.checkName(name)
        let p = real(parent)
        try checkInside(p)
        try volume.unlink(parent: p, name: name, caller: caller)
    }

    public func rmdir(parent: UInt64, name: Data, caller: Caller) throws {
        try writable("rmdir")
        try Self.checkName(name)
        let p = real(parent)
        try checkInside(p)
        try volume.rmdir(parent: p, name: name, caller: caller)
    }

    public func rename(parent: UInt64, name: Data, newParent: UInt64, newName: Data, mode: RenameMode = .replace,
                       caller: Caller) throws {
        try writable("rename")
        try Self.checkName(name)
        try Self.checkName(newName)
        let p = real(parent), np = real(newParent)
        try checkInside(p)
        try checkInside(np)
        try volume.rename(parent: p, name: name, newParent: np, newName: newName, mode: mode, caller: caller)
    }

    public func setattr(_ ino: UInt64, _ changes: AttributeChanges, caller: Caller) throws -> Attributes {
        try writable("setattr")
        return view(try volume.setattr(real(ino), changes, caller: caller))
    }

    // MARK: Extended attributes

    public func getxattr(_ ino: UInt64, name: String) throws -> Data { try volume.getxattr(real(ino), name: name) }
    public func listxattr(_ ino: UInt64) throws -> [String] { try volume.listxattr(real(ino)) }

    public func setxattr(_ ino: UInt64, name: String, value: Data, create: Bool = false, replace: Bool = false,
                         caller: Caller) throws {
        try writable("setxattr")
        try volume.setxattr(real(ino), name: name, value: value, create: create, replace: replace, caller: caller)
    }

    public func removexattr(_ ino: UInt64, name: String, caller: Caller) throws {
        try writable("removexattr")
        try volume.removexattr(real(ino), name: name, caller: caller)
    }

    // MARK: Data

    /// Opens regular file `ino`. `write` asks for write access (EROFS on a read-only view);
    /// `truncate` empties the file (O_TRUNC). Reading access marks the atime (relatime) on a
    /// read-write view; returns whether it did (a cache of the attributes is then stale).
    @discardableResult
    public func open(_ ino: UInt64, write: Bool, read: Bool = true, truncate: Bool = false, caller: Caller) throws -> Bool {
        if write || truncate { try writable("open for writing") }
        let r = real(ino)
        try volume.open(r)
        do {
            if truncate && write { try volume.truncate(r, to: 0, caller: caller) }
            return read && !readOnly ? try volume.markAccessed(r) : false
        } catch {
            try? volume.release(r, caller: caller)
            throw error
        }
    }

    /// Opens for writing a file `create` just returned (`a` as the view sees it): no read back.
    public func openCreated(_ a: Attributes) throws {
        try writable("open for writing")
        var r = a
        r.ino = real(a.ino)
        try volume.openCreated(r)
    }

    /// Checks that `ino` is a directory and marks it read (relatime) on a read-write view;
    /// returns whether the atime changed.
    @discardableResult
    public func openDirectory(_ ino: UInt64) throws -> Bool {
        let r = real(ino)
        try checkInside(r)
        let a = try volume.getattr(r)
        guard a.kind == .directory else { throw VolumeError.notADirectory("inode \(ino)") }
        return readOnly ? false : try volume.markAccessed(r)
    }

    public func read(_ ino: UInt64, offset: Int64, count: Int) throws -> Data {
        try volume.read(real(ino), offset: offset, count: count)
    }

    @discardableResult
    public func write(_ ino: UInt64, offset: Int64, data: Data, caller: Caller) throws -> Int {
        try writable("write")
        return try volume.write(real(ino), offset: offset, data: data, caller: caller)
    }

    public func flush(_ ino: UInt64, caller: Caller) throws { try volume.flush(real(ino), caller: caller) }

    public func fsync(_ ino: UInt64, caller: Caller) throws {
        if readOnly { return }
        try volume.fsync(real(ino), caller: caller)
    }

    public func release(_ ino: UInt64, caller: Caller) throws { try volume.release(real(ino), caller: caller) }

    /// Makes every committed change durable (fsync of a directory).
    public func syncAll() throws {
        if readOnly { return }
        try volume.sync()
    }
}
