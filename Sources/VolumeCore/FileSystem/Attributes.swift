// The value types of the file-system core: inode kinds, attributes, directory entries, setattr requests.
import Foundation

/// What an inode is. The raw values are the catalog's `inode.kind`.
///
/// Block and character devices are inert entries: they carry their device number (`rdev`) for
/// `stat`, and are renamed, linked, chmod-ed and so on like FIFOs, but a volume never opens them
/// as devices (mounts are `nodev`, and the core opens only regular files).
public enum FileKind: Int, Sendable, Codable, CaseIterable {
    case file = 1, directory = 2, symlink = 3, fifo = 4, socket = 5, blockDevice = 6, characterDevice = 7

    /// The `S_IF*` bits of `st_mode`.
    public var modeBits: UInt32 {
        switch self {
        case .file: return 0o100000
        case .directory: return 0o040000
        case .symlink: return 0o120000
        case .fifo: return 0o010000
        case .socket: return 0o140000
        case .blockDevice: return 0o060000
        case .characterDevice: return 0o020000
        }
    }

    /// The kind whose `S_IF*` bits are `bits` (`st_mode & S_IFMT`), or nil.
    public init?(modeBits bits: UInt32) {
        guard let k = Self.allCases.first(where: { $0.modeBits == bits & 0o170000 }) else { return nil }
        self = k
    }

    /// Whether this is a block or character device node (the only kinds whose `rdev` means anything).
    public var isDevice: Bool { self == .blockDevice || self == .characterDevice }

    /// The name the files API uses: file, dir, symlink, fifo, socket, blockdev, chardev.
    public var apiName: String {
        switch self {
        case .file: return "file"
        case .directory: return "dir"
        case .symlink: return "symlink"
        case .fifo: return "fifo"
        case .socket: return "socket"
        case .blockDevice: return "blockdev"
        case .characterDevice: return "chardev"
        }
    }
}

/// A Linux device number (`dev_t`) split into its major and minor numbers, as glibc's
/// `major()`/`minor()` do (macros Swift does not import).
public struct DeviceNumber: Sendable, Equatable {
    public var major: UInt32
    public var minor: UInt32
    public init(major: UInt32, minor: UInt32) { self.major = major; self.minor = minor }
    public init(_ dev: UInt64) {
        major = UInt32(truncatingIfNeeded: ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff))
        minor = UInt32(truncatingIfNeeded: (dev & 0xff) | ((dev >> 12) & ~0xff))
    }
    /// As a `dev_t`.
    public var rawValue: UInt64 {
        let ma = UInt64(major), mi = UInt64(minor)
        return ((ma & 0xfff) << 8) | ((ma & ~0xfff) << 32) | (mi & 0xff) | ((mi & ~0xff) << 12)
    }
}

/// Nanoseconds since the Unix epoch.
public typealias Nanos = Int64

extension Nanos {
    /// The current time in nanoseconds.
    public static func now() -> Nanos {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
    /// As a `Date`.
    public var date: Date { Date(timeIntervalSince1970: TimeInterval(self) / 1e9) }
}

/// An inode's attributes, as `stat` reports them.
public struct Attributes: Sendable, Equatable {
    public var ino: UInt64
    public var kind: FileKind
    /// Permission bits (07777).
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var size: Int64
    public var nlink: UInt32
    public var atime: Nanos
    public var mtime: Nanos
    public var ctime: Nanos
    public var rdev: UInt64

    /// The full `st_mode`: type bits and permission bits.
    public var stMode: UInt32 { kind.modeBits | mode }
}

/// One directory entry.
public struct DirectoryEntry: Sendable, Equatable {
    /// The raw name bytes (Linux names are bytes, not necessarily UTF-8).
    public var name: Data
    public var attributes: Attributes
    /// The name as text (invalid UTF-8 replaced).
    public var nameString: String { String(decoding: name, as: UTF8.self) }
}

/// A time in a setattr request.
public enum TimeChange: Sendable, Equatable {
    case now
    case at(Nanos)
}

/// What a setattr request changes; nil fields stay as they are.
public struct AttributeChanges: Sendable, Equatable {
    public var mode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    public var size: Int64?
    public var atime: TimeChange?
    public var mtime: TimeChange?
    public init(mode: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil, size: Int64? = nil,
                atime: TimeChange? = nil, mtime: TimeChange? = nil) {
        self.mode = mode; self.uid = uid; self.gid = gid; self.size = size; self.atime = atime; self.mtime = mtime
    }
}

/// Flags of a rename.
public enum RenameMode: Sendable {
    /// Replace an existing target (a file, or an empty directory when the source is a directory).
    case replace
    /// Fail with `alreadyExists` when the target exists (RENAME_NOREPLACE).
    case noReplace
    /// Swap source and target atomically; both must exist (RENAME_EXCHANGE).
    case exchange
}

/// `statfs` figures: the cap is the total, the cap minus usage is what is free.
public struct FileSystemStats: Sendable, Equatable {
    public var capBytes: Int64
    public var usedBytes: Int64
    public var files: Int64
    public var blockSize: Int
    public var freeBytes: Int64 { max(0, capBytes - usedBytes) }
}

/// Who is acting, for ownership of created inodes.
public struct Caller: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    /// An opaque tag of who made a change (a mount, the files API), passed back to observers so a
    /// mount can skip invalidating its own kernel cache.
    public var origin: Int
    public init(uid: UInt32, gid: UInt32, origin: Int = 0) { self.uid = uid; self.gid = gid; self.origin = origin }
    /// The operator: root.
    public static let root = Caller(uid: 0, gid: 0)
}

/// A change another part of the process should hear about (kernel cache invalidation, watches).
public enum ChangeEvent: Sendable, Equatable {
    /// An inode's data or attributes changed.
    case inode(UInt64)
    /// A directory entry appeared, disappeared or now names another inode.
    case entry(parent: UInt64, name: Data)
}
