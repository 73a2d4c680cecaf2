// Local files in and out of a volume: a directory or file as an import source (upload), a byte stream
// as one file (upload from stdin), and a volume tree written to the local file system (download).
import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// A local file or directory tree as an import source: directories and regular files, with their
/// modes, owners and mtimes; symlinks, devices, FIFOs and sockets are reported as dropped, and so
/// are names that are not UTF-8. Directories are listed in name order; symlinks are never followed.
public final class LocalTreeSource: ImportSource {
    private let rootPath: String
    private let rootName: String
    /// Directories still to list: (local path, components in the volume).
    private var stack: [(local: String, comps: [String], names: [String])] = []
    private var startedRoot = false
    private var fd: Int32 = -1
    private var fileLeft: Int64 = 0
    private var entry = 0
    public private(set) var bytesConsumed: Int64 = 0
    public let totalBytes: Int64?
    /// Whether `path` is one regular file (not a directory tree).
    public let isFile: Bool
    /// When set, every entry is this owner's instead of its local owner's (`upload --user`).
    public var owner: FileOwner?

    /// Walks `path`, which becomes `name` in the destination (its own base name by default).
    public init(path: String, name: String? = nil) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            let e = errno
            throw e == ENOENT ? VolumeError.notFound(path) : VolumeError.io("stat \(path)", errno: e)
        }
        isFile = (st.st_mode & S_IFMT) == S_IFREG
        rootPath = path
        let base = name ?? URL(fileURLWithPath: path).lastPathComponent
        try VolumePath.validate(name: base)
        rootName = base
        totalBytes = try Self.du(path)
    }

    deinit { if fd >= 0 { close(fd) } }

    /// An upload of `path` to `dest` (`upload PATH VOLUME:DEST`, locally and over an endpoint): into the
    /// directory `dest` under its own base name when `intoDestination`, else as `dest` itself. Returns
    /// the source and the volume directory it is imported into.
    public static func upload(_ path: String, to dest: VolumePath, intoDestination: Bool) throws -> (source: LocalTreeSource, directory: String) {
        if intoDestination { return (try LocalTreeSource(path: path), dest.description) }
        guard !dest.isRoot else { throw VolumeError.invalidArgument("cannot upload onto the volume root") }
        return (try LocalTreeSource(path: path, name: dest.name), dest.parent.description)
    }

    /// Bytes of the regular files below `path`, for progress.
    private static func du(_ path: String, isRoot: Bool = true) throws -> Int64 {
        var total: Int64 = 0
        var st = stat()
        guard (isRoot ? stat(path, &st) : lstat(path, &st)) == 0 else { return 0 }
        if (st.st_mode & S_IFMT) == S_IFREG { return Int64(st.st_size) }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return 0 }
        for name in try list(path) { total += try du(path + "/" + name, isRoot: false) }
        return total
    }

    private static func list(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw VolumeError.io("open directory \(path)", errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let ent = readdir(dir) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { raw -> [UInt8] in
                Array(raw.prefix(while: { $0 != 0 }))
            }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            // Names that are not UTF-8 are kept as lossy strings and dropped by the caller.
            names.append(String(decoding: name, as: UTF8.self) + (String(validating: name, as: UTF8.self) == nil ? "\u{0}" : ""))
        }
        return names.sorted()
    }

    private func item(local: String, comps: [String], isRoot: Bool = false) throws -> ImportItem? {
        entry += 1
        let shown = comps.joined(separator: "/")
        if comps.last?.hasSuffix("\u{0}") == true {
            return .dropped(DroppedEntry(entry: entry, path: String(shown.dropLast()), reason: "name is not valid UTF-8"))
        }
        // The path given on the command line is followed when it is a symlink (as cp does); nothing below it is.
        var st = stat()
        guard (isRoot ? stat(local, &st) : lstat(local, &st)) == 0 else { throw VolumeError.io("stat \(local)", errno: errno) }
        let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        let meta = ImportMeta(components: comps, mode: UInt32(st.st_mode) & 0o7777, uid: owner?.uid ?? st.st_uid, gid: owner?.gid ?? st.st_gid,
                              mtime: mtime, entry: entry)
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            stack.append((local, comps, try Self.list(local).reversed()))
            return .directory(meta)
        case S_IFREG:
            if fd >= 0 { close(fd); fd = -1 }
            fd = open(local, O_RDONLY | O_CLOEXEC | (isRoot ? 0 : O_NOFOLLOW))
            guard fd >= 0 else { throw VolumeError.io("open \(local)", errno: errno) }
            fileLeft = Int64(st.st_size)
            return .file(meta, declaredSize: Int64(st.st_size))
        case S_IFLNK: return .dropped(DroppedEntry(entry: entry, path: shown, reason: "symbolic link (not uploaded)"))
        case S_IFIFO: return .dropped(DroppedEntry(entry: entry, path: shown, reason: "FIFO"))
        case S_IFSOCK: return .dropped(DroppedEntry(entry: entry, path: shown, reason: "socket"))
        default: return .dropped(DroppedEntry(entry: entry, path: shown, reason: "device node"))
        }
    }

    public func next() throws -> ImportItem? {
        if fd >= 0 { close(fd); fd = -1 }
        if !startedRoot {
            startedRoot = true
            return try item(local: rootPath, comps: [rootName], isRoot: true)
        }
        while var top = stack.last {
            guard let name = top.names.popLast() else {
                stack.removeLast()
                continue
            }
            stack[stack.count - 1] = top
            top = stack[stack.count - 1]
            if name.utf8.count > VolumePath.maxNameLength {
                entry += 1
                return .dropped(DroppedEntry(entry: entry, path: (top.comps + [name]).joined(separator: "/"), reason: "a name is longer than 255 bytes"))
            }
            return try item(local: top.local + "/" + name.replacingOccurrences(of: "\u{0}", with: ""), comps: top.comps + [name])
        }
        return nil
    }

    public func readData(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard fd >= 0, fileLeft > 0 else { return 0 }
        let want = Int(min(Int64(buffer.count), fileLeft))
        let n = try syscall("read a file being uploaded") { Glibc.read(fd, buffer.baseAddress, want) }
        if n == 0 { throw VolumeError.io("a file shrank while it was being uploaded", errno: EIO) }
        fileLeft -= Int64(n)
        bytesConsumed += Int64(n)
        return n
    }

    public func finish() throws {}
}

/// One file of unknown length read from a byte stream (stdin), as an import source.
public final class StreamFileSource: ImportSource {
    private let input: FileByteSource
    private let name: String
    private let mode: UInt32
    private let owner: FileOwner
    private var done = false
    public var bytesConsumed: Int64 { input.bytesRead }
    public var totalBytes: Int64? { input.knownSize }

    /// The stream becomes file `name` (one path component) with `mode`, owned by `owner` (this
    /// process's user when nil), with the current time.
    public init(input: FileByteSource, name: String, mode: UInt32 = 0o644, owner: FileOwner? = nil) throws {
        try VolumePath.validate(name: name)
        self.input = input
        self.name = name
        self.mode = mode
        self.owner = owner ?? FileOwner(uid: getuid(), gid: getgid())
    }

    public func next() throws -> ImportItem? {
        guard !done else { return nil }
        done = true
        return .file(ImportMeta(components: [name], mode: mode, uid: owner.uid, gid: owner.gid, mtime: .now(), entry: 1), declaredSize: nil)
    }

    public func readData(into buffer: UnsafeMutableRawBufferPointer) throws -> Int { try input.read(into: buffer) }
    public func finish() throws {}
}

/// Whether `path` is a directory (following symlinks).
func isLocalDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

extension Volume {
    /// Writes the file or directory at `path` to the local path `local` (which must not exist, or
    /// be a directory to merge into when `path` is a directory). Modes and mtimes are kept; owners
    /// when running as root. Files are written to a temporary name and renamed into place, through
    /// directory descriptors opened without following symlinks; symlinks are created last, so no
    /// file is ever written through one (`LocalTreeWriter`). FIFOs and sockets are skipped and reported.
    public func download(_ path: String, to local: String, options: TransferOptions = TransferOptions()) throws -> ExportReport {
        let p = try VolumePath(path)
        try flushAll()
        let (canon, top) = try read { db in try resolve(db, p) }
        let total: Int64? = top.kind == .file ? top.size : (canon.isRoot ? try statfs().usedBytes : nil)
        let out = LocalTreeWriter(report: ExportReport(volumeId: id, path: canon.description), total: total, options: options)

        func writeFile(_ dirFD: Int32, _ name: String, _ a: Attributes, shown: String) throws {
            if a.nlink > 1 && out.link("\(a.ino)", dirFD, name) { return }
            try out.writeFile(dirFD, name, LocalEntryAttributes(a), size: a.size, shown: shown, linkKey: a.nlink > 1 ? "\(a.ino)" : nil) { put in
                var off: Int64 = 0
                let piece = 1 << 20
                while off < a.size {
                    let data = try read(a.ino, offset: off, count: Int(min(Int64(piece), a.size - off)))
                    guard !data.isEmpty else { throw VolumeError.corrupt("\(shown) is shorter than its size") }
                    try data.withUnsafeBytes { try put($0) }
                    off += Int64(data.count)
                }
            }
        }
        func walk(_ dir: Attributes, _ dirFD: Int32, _ shown: String) throws {
            for e in try readdir(dir.ino) {
                out.counted()
                let name = e.nameString
                let childShown = shown + "/" + name
                let a = e.attributes
                switch a.kind {
                case .directory:
                    let fd = try out.openDirectory(dirFD, name, shown: childShown, attrs: LocalEntryAttributes(a))
                    try walk(a, fd, childShown)
                case .file:
                    try writeFile(dirFD, name, a, shown: childShown)
                case .symlink:
                    out.symlink(dirFD, name, target: try readlink(a.ino))
                default:
                    out.skip(childShown)
                }
            }
        }

        switch try out.placeTop(isDirectory: top.kind == .directory, isRoot: canon.isRoot, name: canon.name,
                                attrs: LocalEntryAttributes(top), local: local) {
        case let .contents(fd, shown):
            try walk(top, fd, shown)
        case let .named(pfd, topName, shown):
            switch top.kind {
            case .directory:
                let fd = try out.openDirectory(pfd, topName, shown: shown, attrs: LocalEntryAttributes(top))
                try walk(top, fd, shown)
            case .file:
                try writeFile(pfd, topName, top, shown: shown)
            default:
                throw VolumeError.invalidArgument("\(canon) is a \(top.kind.apiName); download takes a file or a directory")
            }
        }
        return try out.finish()
    }
}
