// Writes a tree to the local file system safely: the one writer behind `download` of a volume and the
// extraction of a downloaded tar.gz (files through temporary names, no symlink ever followed).
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What the writer keeps of an entry: permission bits, owner and times (nanoseconds).
public struct LocalEntryAttributes: Sendable, Equatable {
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var atime: Nanos
    public var mtime: Nanos

    public init(mode: UInt32, uid: UInt32, gid: UInt32, atime: Nanos, mtime: Nanos) {
        self.mode = mode; self.uid = uid; self.gid = gid; self.atime = atime; self.mtime = mtime
    }

    init(_ a: Attributes) { self.init(mode: a.mode, uid: a.uid, gid: a.gid, atime: a.atime, mtime: a.mtime) }
}

/// Writes directories, files, hard links and symlinks below local directories, counting into an
/// `ExportReport`. Directories are opened through descriptors without following symlinks, each file is
/// written under a temporary name and renamed into place (a failure leaves no partial file), symlinks are
/// created last (so nothing is ever written through one), and directory modes and times are set at the
/// end (writing into a directory changes its mtime). Owners are kept when running as root.
final class LocalTreeWriter {
    var report: ExportReport
    let options: TransferOptions
    let total: Int64?
    private let asRoot = getuid() == 0
    private var entries = 0
    private var symlinks: [(dirFD: Int32, name: String, target: Data)] = []
    private var dirTimes: [(fd: Int32, attrs: LocalEntryAttributes)] = []
    private var linked: [String: (fd: Int32, name: String)] = [:]
    private var openDirs: [Int32] = []

    init(report: ExportReport, total: Int64?, options: TransferOptions) {
        self.report = report
        self.total = total
        self.options = options
    }

    deinit { for fd in openDirs { Glibc.close(fd) } }

    /// Where the top of a download goes, decided as `cp -r` would.
    enum Top {
        /// A directory's contents go into this (opened) local directory.
        case contents(fd: Int32, shown: String)
        /// The entry is written as `name` in this (opened) local directory.
        case named(parentFD: Int32, name: String, shown: String)
    }

    /// Places the top: into `local` when it is an existing directory (as `name`, or its contents when the top
    /// is the volume root), else as `local` itself. A directory whose contents go into a new `local` counts
    /// as a directory and gets `attrs` at the end.
    func placeTop(isDirectory: Bool, isRoot: Bool, name: String, attrs: LocalEntryAttributes, local: String) throws -> Top {
        let localIsDir = isLocalDirectory(local)
        if isDirectory && (isRoot || !localIsDir) {
            if !localIsDir { try check(mkdir(local, 0o700), "mkdir \(local)") }
            let fd = Glibc.open(local, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            try check(fd, "open \(local)")
            openDirs.append(fd)
            report.directories += 1
            if !localIsDir { dirTimes.append((fd, attrs)) }
            return .contents(fd: fd, shown: local)
        }
        let parentPath: String
        let topName: String
        if localIsDir {
            parentPath = local
            topName = isRoot ? "root" : name
        } else {
            let u = URL(fileURLWithPath: local)
            parentPath = u.deletingLastPathComponent().path
            topName = u.lastPathComponent
        }
        let pfd = Glibc.open(parentPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try check(pfd, "open \(parentPath)")
        openDirs.append(pfd)
        return .named(parentFD: pfd, name: topName, shown: parentPath + "/" + topName)
    }

    func progress(_ current: String) {
        options.progress?(TransferProgress(bytesIn: report.bytes, totalIn: total, bytesOut: report.bytes, entries: entries,
                                           current: current, phase: "streaming"))
    }

    /// Counts one entry seen (for progress).
    func counted() { entries += 1 }

    private func check(_ r: Int32, _ what: @autoclosure () -> String) throws {
        if r < 0 { throw VolumeError.io(what(), errno: errno) }
    }

    private func setAttributes(_ fd: Int32, _ a: LocalEntryAttributes) throws {
        if asRoot { _ = fchown(fd, a.uid, a.gid) }
        try check(fchmod(fd, mode_t(a.mode)), "chmod")
        var times = [timespec(tv_sec: Int(a.atime / 1_000_000_000), tv_nsec: Int(a.atime % 1_000_000_000)),
                     timespec(tv_sec: Int(a.mtime / 1_000_000_000), tv_nsec: Int(a.mtime % 1_000_000_000))]
        try check(futimens(fd, &times), "set times")
    }

    /// Links `name` in `dirFD` to the file first written under `key` (a hard link); false when there is none.
    func link(_ key: String, _ dirFD: Int32, _ name: String) -> Bool {
        guard let first = linked[key] else { return false }
        _ = unlinkat(dirFD, name, 0)
        guard linkat(first.fd, first.name, dirFD, name, 0) == 0 else { return false }
        report.hardLinks += 1
        return true
    }

    /// Writes file `name` in `dirFD` through a temporary name; `copy` calls its argument with the file's
    /// bytes in order, and must deliver exactly `size` of them. `linkKey` remembers it for later hard links.
    func writeFile(_ dirFD: Int32, _ name: String, _ a: LocalEntryAttributes, size: Int64, shown: String, linkKey: String?,
                   copy: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        if options.isCancelled() { throw VolumeError.interrupted("download interrupted at '\(shown)'") }
        let tmp = ".\(name.prefix(200)).part-\(UInt32.random(in: 0...UInt32.max))"
        let fd = openat(dirFD, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        try check(fd, "create \(shown)")
        var ok = false
        defer {
            Glibc.close(fd)
            if !ok { unlinkat(dirFD, tmp, 0) }
        }
        var written: Int64 = 0
        try copy { raw in
            if options.isCancelled() { throw VolumeError.interrupted("download interrupted at '\(shown)'") }
            try writeAll(fd, raw, "write \(shown)")
            written += Int64(raw.count)
            report.bytes += Int64(raw.count)
            progress(shown)
        }
        guard written == size else { throw VolumeError.corrupt("\(shown) is \(written) bytes, its size says \(size)") }
        try setAttributes(fd, a)
        try check(renameat(dirFD, tmp, dirFD, name), "rename into \(shown)")
        ok = true
        report.files += 1
        if let linkKey { linked[linkKey] = (dirFD, name) }
    }

    /// Creates (or reuses) directory `name` in `dirFD` and returns a descriptor for it; `attrs` are set at the end.
    func openDirectory(_ dirFD: Int32, _ name: String, shown: String, attrs: LocalEntryAttributes?) throws -> Int32 {
        if mkdirat(dirFD, name, 0o700) != 0 && errno != EEXIST { throw VolumeError.io("mkdir \(shown)", errno: errno) }
        let fd = openat(dirFD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 {
            let e = errno
            if e == ELOOP || e == ENOTDIR { throw VolumeError.notADirectory("\(shown) exists locally and is not a directory") }
            throw VolumeError.io("open \(shown)", errno: e)
        }
        openDirs.append(fd)
        if let attrs {
            report.directories += 1
            dirTimes.append((fd, attrs))
        }
        return fd
    }

    /// A symlink `name` in `dirFD`, created at the end.
    func symlink(_ dirFD: Int32, _ name: String, target: Data) {
        symlinks.append((dirFD, name, target))
    }

    /// An entry that cannot be written locally (FIFO, socket, device node).
    func skip(_ shown: String) { report.skipped.append(shown) }

    /// Symlinks, then directory modes and times.
    func finish() throws -> ExportReport {
        for s in symlinks {
            _ = unlinkat(s.dirFD, s.name, 0)
            let r = s.target.withUnsafeBytes { raw -> Int32 in
                var t = Array(raw.bindMemory(to: CChar.self)) + [0]
                return symlinkat(&t, s.dirFD, s.name)
            }
            try check(r, "symlink \(s.name)")
            report.symlinks += 1
        }
        for d in dirTimes { try setAttributes(d.fd, d.attrs) }
        return report
    }
}
