// The host's mount table: finding mounts, cleaning a stale one, unmounting, aborting a connection.
import Foundation
import Logging
import Synchronization
import VolumeCore

#if canImport(Glibc)
import Glibc
#endif

/// Reads `/proc/self/mountinfo` and unmounts. Stateless.
public enum MountTable {
    /// One line of `/proc/self/mountinfo`.
    public struct Entry: Sendable, Equatable {
        public var mountpoint: String
        public var fsType: String
        public var source: String
        public var major: UInt32
        public var minor: UInt32
        /// Whether this is one of our mounts (`fuse.volume`).
        public var isVolume: Bool { fsType == "fuse.volume" }
        /// Whether `other` is a mount of the same superblock (a copy of this mount: the same FUSE connection).
        public func sameDevice(_ other: Entry) -> Bool { major == other.major && minor == other.minor }
    }

    /// Every mount of this process's namespace, in mount order.
    public static func entries() -> [Entry] { parse(ProcFile.text("/proc/self/mountinfo") ?? "") }

    /// Every mount of process `pid`'s namespace (mount points as that process sees them), in mount
    /// order; nil when its table cannot be read (the process is gone).
    public static func entries(ofProcess pid: Int32) -> [Entry]? { ProcFile.text("/proc/\(pid)/mountinfo").map(parse) }

    static func parse(_ text: String) -> [Entry] {
        var out: [Entry] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count >= 10, let sep = fields.firstIndex(of: "-"), sep + 2 < fields.count else { continue }
            let dev = fields[2].split(separator: ":")
            guard dev.count == 2, let major = UInt32(dev[0]), let minor = UInt32(dev[1]) else { continue }
            out.append(Entry(mountpoint: unescape(String(fields[4])), fsType: String(fields[sep + 1]),
                             source: unescape(String(fields[sep + 2])), major: major, minor: minor))
        }
        return out
    }

    /// The topmost mount at exactly `path`, if any.
    public static func entry(at path: String) -> Entry? { entries().last { $0.mountpoint == path } }

    /// mountinfo escapes space, tab, newline and backslash as `\ooo`.
    static func unescape(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var bytes: [UInt8] = []
        let u = Array(s.utf8)
        var i = 0
        while i < u.count {
            if u[i] == UInt8(ascii: "\\"), i + 3 < u.count,
               let v = UInt8(String(decoding: u[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                bytes.append(v)
                i += 4
            } else {
                bytes.append(u[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// An absolute, normalised form of `path` whose parent's symlinks are resolved (the mountpoint
    /// itself is not touched: it may be a dead mount that fails every system call).
    public static func canonical(_ path: String) throws -> String {
        guard path.hasPrefix("/") else {
            return try canonical(FileManager.default.currentDirectoryPath + "/" + path)
        }
        var parts: [Substring] = []
        for p in path.split(separator: "/") {
            if p == "." { continue }
            if p == ".." { _ = parts.popLast(); continue }
            parts.append(p)
        }
        guard let last = parts.popLast() else { return "/" }
        let parent = "/" + parts.joined(separator: "/")
        guard let resolved = realpath(parent, nil) else {
            throw VolumeError.notFound("mountpoint parent \(parent)")
        }
        defer { free(resolved) }
        let base = String(cString: resolved)
        return (base == "/" ? "" : base) + "/" + last
    }

    /// Whether a mount at `path` has lost its server (the process that served it died). Asks with
    /// statvfs (the statfs system call), which the kernel always sends to a FUSE mount's server: a
    /// `stat` is answered from the kernel's attribute cache, and so succeeds on a dead mount for as
    /// long as the cache timeout. A dead connection answers at once; a server that does not answer
    /// within `timeout` seconds is alive (if wedged), and the question is left on a thread of its
    /// own rather than hanging the caller (`volumectl unmount` is how one gets rid of such a mount).
    public static func isStale(_ path: String, timeout: Double = 2) -> Bool {
        let answer = StatfsAnswer()
        DispatchQueue.global().async {
            var st = statvfs()
            answer.code.store(statvfs(path, &st) == 0 ? 0 : errno, ordering: .relaxed)
            answer.done.signal()
        }
        guard answer.done.wait(timeout: .now() + timeout) == .success else { return false }
        let code = answer.code.load(ordering: .relaxed)
        return code == ENOTCONN || code == ECONNABORTED
    }

    private final class StatfsAnswer: Sendable {
        let code = Atomic<Int32>(0)
        let done = DispatchSemaphore(value: 0)
    }

    /// Makes `path` ready to mount on: a dead FUSE mount there is detached first (`fusermount3
    /// -uz`); a live mount is an error. Returns the canonical path.
    public static func prepare(_ path: String, logger: Logger) throws -> String {
        let p = try canonical(path)
        if let e = entry(at: p) {
            if isStale(p) {
                logger.warning("\(p) is a stale mount (\(e.source), its server died); detaching it")
                unmount(p, lazy: true, logger: logger)
                if let again = entry(at: p), isStale(p) {
                    throw VolumeError.io("\(p) is a stale mount of \(again.source) that could not be detached", errno: EBUSY)
                }
            } else {
                throw VolumeError.alreadyExists("\(p) is already a mount point (\(e.fsType) \(e.source)); unmount it first with 'volumectl unmount \(p)'")
            }
        }
        var st = stat()
        guard stat(p, &st) == 0 else { throw VolumeError.notFound("mountpoint \(p) does not exist; create the directory first") }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw VolumeError.notADirectory("mountpoint \(p)") }
        return p
    }

    /// Unmounts `path`: `fusermount3 -u` (with `-z` when `lazy`), falling back to umount2 as root.
    /// Returns false when it is still mounted (busy, or not permitted).
    @discardableResult
    public static func unmount(_ path: String, lazy: Bool, logger: Logger? = nil) -> Bool {
        if let tool = ["/usr/bin/fusermount3", "/bin/fusermount3", "/usr/local/bin/fusermount3"].first(where: {
            FileManager.default.isExecutableFile(atPath: $0)
        }) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: tool)
            p.arguments = [lazy ? "-uz" : "-u", "--", path]
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            do {
                try p.run()
                p.waitUntilExit()
                if p.terminationStatus == 0 { return true }
                let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                logger?.debug("fusermount3 on \(path): \(msg.trimmingCharacters(in: .whitespacesAndNewlines))")
            } catch {
                logger?.debug("cannot run fusermount3: \(error)")
            }
        }
        if getuid() == 0, umount2(path, lazy ? Int32(MNT_DETACH) : 0) == 0 { return true }
        return entry(at: path) == nil
    }

    /// Sets the readahead of a mount's backing device info (its `major:minor`), when permitted.
    static func setReadahead(major: UInt32, minor: UInt32, kilobytes: Int) {
        try? "\(kilobytes)".write(toFile: "/sys/class/bdi/\(major):\(minor)/read_ahead_kb", atomically: false, encoding: .utf8)
    }

    /// Aborts FUSE connection `id` through fusectl (mounting fusectl at its usual place first when
    /// it is not, as root): every request in flight fails and the session ends.
    static func abortConnection(_ id: UInt32, logger: Logger? = nil) {
        let dir = "/sys/fs/fuse/connections"
        if !entries().contains(where: { $0.fsType == "fusectl" }), getuid() == 0 {
            if mount("fusectl", dir, "fusectl", 0, nil) != 0 {
                logger?.debug("cannot mount fusectl on \(dir): \(String(cString: strerror(errno)))")
            }
        }
        let fd = open("\(dir)/\(id)/abort", O_WRONLY)
        guard fd >= 0 else {
            logger?.warning("cannot abort FUSE connection \(id): \(String(cString: strerror(errno)))")
            return
        }
        _ = write(fd, "1", 1)
        close(fd)
    }
}
