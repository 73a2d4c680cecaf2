// The value types of the file-system core: inode kinds, attributes, directory entries, setattr requests.
import Foundation

/// What an inode is.
public enum FileKind: Int, Sendable, Codable {
    case file = 1, directory = 2, symlink = 3, fifo = 4, socket = 5

    /// The `S_IF*` bits of `st_mode`.
    public var modeBits: UInt32 {
        switch self {
        case .file: return 0o100000
        case .directory: return 0o040000
        case .symlink: return 0o120000
        case .fifo: return 0o010000
        case .socket: return 0o140000
        }
    }

    /// The name the files API uses: file, dir, symlink, fifo, socket.
    public var apiName: String {
        switch self {
        case .file: return "file"
        case .directory: return "dir"
        case .symlink: return "symlink"
        case .fifo: return "fifo"
        case .socket: return "socket"
        }
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
