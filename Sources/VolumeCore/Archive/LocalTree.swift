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

    /// Walks `path`, which becomes `name` in the destination (its own base name by default).
    public init(path: String, name: String? = nil) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            let e = errno
            throw e == ENOENT ? VolumeError.notFound(path) : VolumeError.io("stat \(path)", errno: e)
        }
        rootPath = path
        let base = name ?? URL(fileURLWithPath: path).lastPathComponent
        try VolumePath.validate(name: base)
        rootName = base
        totalBytes = try Self.du(path)
    }

    deinit { if fd >= 0 { close(fd) } }

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
        let meta = ImportMeta(components: comps, mode: UInt32(st.st_mode) & 0o7777, uid: st.st_uid, gid: st.st_gid,
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
    /// file is ever written through one. FIFOs and sockets are skipped and reported.
    public func download(_ path: String, to local: String, options: TransferOptions = TransferOptions()) throws -> ExportReport {
        let p = try VolumePath(path)
        try flushAll()
        let (canon, top) = try read { db in try resolve(db, p) }
        var report = ExportReport(volumeId: id, path: canon.description)
        let asRoot = getuid() == 0
        var entries = 0
        let total: Int64? = top.kind == .file ? top.size : (canon.isRoot ? try statfs().usedBytes : nil)
        var symlinks: [(dirFD: Int32, name: String, target: Data)] = []
        var dirTimes: [(fd: Int32, attrs: Attributes)] = []
        var linked: [UInt64: (fd: Int32, name: String)] = [:]
        var openDirs: [Int32] = []
        defer { for fd in openDirs { Glibc.close(fd) } }

        func progress(_ current: String) {
            options.progress?(TransferProgress(bytesIn: report.bytes, totalIn: total, bytesOut: report.bytes, entries: entries,
                                               current: current, phase: "streaming"))
        }
        func check(_ r: Int32, _ what: @autoclosure () -> String) throws {
            if r < 0 { throw VolumeError.io(what(), errno: errno) }
        }
        func setAttributes(_ fd: Int32, _ a: Attributes) throws {
            if asRoot { _ = fchown(fd, a.uid, a.gid) }
            try check(fchmod(fd, mode_t(a.mode)), "chmod")
            var times = [timespec(tv_sec: Int(a.atime / 1_000_000_000), tv_nsec: Int(a.atime % 1_000_000_000)),
                         timespec(tv_sec: Int(a.mtime / 1_000_000_000), tv_nsec: Int(a.mtime % 1_000_000_000))]
            try check(futimens(fd, &times), "set times")
        }
        /// Writes file `a` as `name` in directory `dirFD`, through a temporary name.
        func writeFile(_ dirFD: Int32, _ name: String, _ a: Attributes, shown: String) throws {
            if options.isCancelled() { throw VolumeError.interrupted("download interrupted at '\(shown)'") }
            if a.nlink > 1, let first = linked[a.ino] {
                _ = unlinkat(dirFD, name, 0)
                if linkat(first.fd, first.name, dirFD, name, 0) == 0 { report.hardLinks += 1; return }
            }
            let tmp = ".\(name.prefix(200)).part-\(UInt32.random(in: 0...UInt32.max))"
            let fd = openat(dirFD, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            try check(fd, "create \(shown)")
            var ok = false
            defer {
                Glibc.close(fd)
                if !ok { unlinkat(dirFD, tmp, 0) }
            }
            var off: Int64 = 0
            let piece = 1 << 20
            while off < a.size {
                if options.isCancelled() { throw VolumeError.interrupted("download interrupted at '\(shown)'") }
                let data = try read(a.ino, offset: off, count: Int(min(Int64(piece), a.size - off)))
                guard !data.isEmpty else { throw VolumeError.corrupt("\(shown) is shorter than its size") }
                try data.withUnsafeBytes { raw in try writeAll(fd, raw, "write \(shown)") }
                off += Int64(data.count)
                report.bytes += Int64(data.count)
                progress(shown)
            }
            try setAttributes(fd, a)
            try check(renameat(dirFD, tmp, dirFD, name), "rename into \(shown)")
            ok = true
            report.files += 1
            if a.nlink > 1 { linked[a.ino] = (dirFD, name) }
        }
        /// Creates (or reuses) directory `name` in `dirFD` and returns a descriptor for it.
        func openDirectory(_ dirFD: Int32, _ name: String, shown: String) throws -> Int32 {
            if mkdirat(dirFD, name, 0o700) != 0 && errno != EEXIST { throw VolumeError.io("mkdir \(shown)", errno: errno) }
            let fd = openat(dirFD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd < 0 {
                let e = errno
                if e == ELOOP || e == ENOTDIR { throw VolumeError.notADirectory("\(shown) exists locally and is not a directory") }
                throw VolumeError.io("open \(shown)", errno: e)
            }
            openDirs.append(fd)
            return fd
        }
        func walk(_ dir: Attributes, _ dirFD: Int32, _ shown: String) throws {
            for e in try readdir(dir.ino) {
                entries += 1
                let name = e.nameString
                let childShown = shown + "/" + name
                let a = e.attributes
                switch a.kind {
                case .directory:
                    let fd = try openDirectory(dirFD, name, shown: childShown)
                    report.directories += 1
                    try walk(a, fd, childShown)
                    dirTimes.append((fd, a))
                case .file:
                    try writeFile(dirFD, name, a, shown: childShown)
                case .symlink:
                    symlinks.append((dirFD, name, try readlink(a.ino)))
                default:
                    report.skipped.append(childShown)
                }
            }
        }

        // Where the top goes: into `local` when it is an existing directory (as its own name), else `local` itself.
        let localIsDir = isLocalDirectory(local)
        let parentPath: String
        let topName: String
        if top.kind == .directory && (canon.isRoot || !localIsDir) {
            // The directory's contents go into `local`.
            if !localIsDir { try check(mkdir(local, 0o700), "mkdir \(local)") }
            let fd = Glibc.open(local, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            try check(fd, "open \(local)")
            openDirs.append(fd)
            report.directories += 1
            try walk(top, fd, local)
            if !localIsDir { dirTimes.append((fd, top)) }
        } else {
            if localIsDir {
                parentPath = local
                topName = canon.isRoot ? "root" : canon.name
            } else {
                let u = URL(fileURLWithPath: local)
                parentPath = u.deletingLastPathComponent().path
                topName = u.lastPathComponent
            }
            let pfd = Glibc.open(parentPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            try check(pfd, "open \(parentPath)")
            openDirs.append(pfd)
            let shown = parentPath + "/" + topName
            switch top.kind {
            case .directory:
                let fd = try openDirectory(pfd, topName, shown: shown)
                report.directories += 1
                try walk(top, fd, shown)
                dirTimes.append((fd, top))
            case .file:
                try writeFile(pfd, topName, top, shown: shown)
            default:
                throw VolumeError.invalidArgument("\(canon) is a \(top.kind.apiName); download takes a file or a directory")
            }
        }
        for s in symlinks {
            _ = unlinkat(s.dirFD, s.name, 0)
            let r = s.target.withUnsafeBytes { raw -> Int32 in
                var t = Array(raw.bindMemory(to: CChar.self)) + [0]
                return symlinkat(&t, s.dirFD, s.name)
            }
            try check(r, "symlink \(s.name)")
            report.symlinks += 1
        }
        // Directory modes and times last (writing into them changed their mtime).
        for d in dirTimes { try setAttributes(d.fd, d.attrs) }
        return report
    }
}
