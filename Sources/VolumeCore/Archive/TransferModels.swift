// Value types of bulk transfers (import, export, upload, download): items, options, progress, reports.
import Foundation

/// Metadata of a directory or file being imported, relative to the import's destination.
public struct ImportMeta: Sendable, Equatable {
    /// Validated path components (no `..`, no empty or over-long name), relative to the destination.
    public var components: [String]
    /// Permission bits (07777).
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var mtime: Nanos
    /// 1-based position of the item in its source (the archive entry number), for messages.
    public var entry: Int

    public init(components: [String], mode: UInt32, uid: UInt32, gid: UInt32, mtime: Nanos, entry: Int) {
        self.components = components; self.mode = mode; self.uid = uid; self.gid = gid; self.mtime = mtime; self.entry = entry
    }

    public var path: String { components.joined(separator: "/") }
}

/// An entry an import or upload left out, and why.
public struct DroppedEntry: Codable, Sendable, Equatable {
    /// 1-based position in the source.
    public var entry: Int
    /// The path as stored (invalid UTF-8 shown as `\xNN`).
    public var path: String
    public var reason: String
    public init(entry: Int, path: String, reason: String) { self.entry = entry; self.path = path; self.reason = reason }
}

/// What an import source yields, in order.
public enum ImportItem {
    case directory(ImportMeta)
    /// A regular file; its bytes follow through `ImportSource.readData`. `declaredSize` (from a tar
    /// header, or `stat`) lets the cap be checked before any byte is read; nil for a stream of unknown length.
    case file(ImportMeta, declaredSize: Int64?)
    case dropped(DroppedEntry)
}

/// A tree to import: a tar.gz archive, a local directory, a stream.
public protocol ImportSource: AnyObject {
    /// The next item, or nil at the end.
    func next() throws -> ImportItem?
    /// Reads the current file's bytes; 0 at the end of that file.
    func readData(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Called once `next()` returned nil: checks whatever follows (a gzip trailer, say).
    func finish() throws
    /// Input bytes consumed so far (compressed bytes for an archive), for progress.
    var bytesConsumed: Int64 { get }
    /// Total input bytes when known up front.
    var totalBytes: Int64? { get }
}

/// Where a transfer stands, for a progress bar.
public struct TransferProgress: Sendable, Equatable {
    /// Input consumed (compressed bytes of an archive; file bytes of an upload or download).
    public var bytesIn: Int64
    /// Input size when known, for a percentage and an ETA.
    public var totalIn: Int64?
    /// File bytes stored or written so far.
    public var bytesOut: Int64
    /// Entries handled so far.
    public var entries: Int
    /// The entry being handled.
    public var current: String
    /// "streaming", then "committing" for an import's final transaction.
    public var phase: String

    public init(bytesIn: Int64, totalIn: Int64?, bytesOut: Int64, entries: Int, current: String, phase: String) {
        self.bytesIn = bytesIn; self.totalIn = totalIn; self.bytesOut = bytesOut; self.entries = entries
        self.current = current; self.phase = phase
    }
}

/// Knobs and hooks of a bulk transfer.
public struct TransferOptions: Sendable {
    /// Who creates the inodes (uid/gid of directories the import has to invent).
    public var caller: Caller
    /// Called often (every entry and block); throttle in the callee.
    public var progress: (@Sendable (TransferProgress) -> Void)?
    /// Called for every entry left out, as it is left out.
    public var onDrop: (@Sendable (DroppedEntry) -> Void)?
    /// Polled between blocks: returning true stops the transfer with `interrupted`, changing nothing.
    public var isCancelled: @Sendable () -> Bool
    /// Dropped entries listed one by one in the report (all are counted).
    public var maxListedDrops: Int
    /// Into an empty volume, write rows inside one write transaction held while the source streams
    /// (fastest, but other writers of the volume wait for the whole transfer). False: always write
    /// records and take the write lock only for the final commit, as into a volume with content; for
    /// a daemon, where a slow client must not block the volume's other writers.
    public var holdWriteLockWhenEmpty = true
    /// Give imported entries the owners their source records (an archive's uid/gid). False: every
    /// entry is owned by `caller`, as when a non-root user extracts an archive.
    public var keepSourceOwners = true

    /// Writes as `user`: every entry is that user's (as extracting as that user would make it); nil:
    /// written as root, entries keep the owners their source records (`keepSourceOwners`).
    public mutating func writeAs(_ user: FileOwner?) {
        caller = (user ?? .root).caller()
        keepSourceOwners = user == nil
    }

    public init(caller: Caller = .root, progress: (@Sendable (TransferProgress) -> Void)? = nil,
                onDrop: (@Sendable (DroppedEntry) -> Void)? = nil,
                isCancelled: @escaping @Sendable () -> Bool = { false }, maxListedDrops: Int = 1000) {
        self.caller = caller; self.progress = progress; self.onDrop = onDrop; self.isCancelled = isCancelled
        self.maxListedDrops = maxListedDrops
    }
}

/// What an import or upload did.
public struct ImportReport: Codable, Sendable, Equatable {
    public var volumeId: String
    /// The directory the tree went into.
    public var destination: String
    /// Items the source yielded (files, directories and dropped entries).
    public var entries: Int
    public var files: Int
    public var directories: Int
    /// File bytes imported (logical sizes).
    public var bytes: Int64
    /// Existing files (or symlinks) replaced by imported files.
    public var replaced: Int
    /// Input bytes read (the compressed size of an archive).
    public var inputBytes: Int64
    /// Every dropped entry is counted here...
    public var droppedCount: Int
    /// ...and by reason...
    public var droppedByReason: [String: Int]
    /// ...and the first `maxListedDrops` are listed.
    public var dropped: [DroppedEntry]
    public var droppedTruncated: Bool

    enum CodingKeys: String, CodingKey {
        case volumeId = "volume_id", destination, entries, files, directories, bytes, replaced
        case inputBytes = "input_bytes", droppedCount = "dropped_count", droppedByReason = "dropped_by_reason"
        case dropped, droppedTruncated = "dropped_truncated"
    }

    /// An empty report (nothing imported yet) of an import into `destination`.
    public init(volumeId: String, destination: String) {
        self.volumeId = volumeId; self.destination = destination
        entries = 0; files = 0; directories = 0; bytes = 0; replaced = 0; inputBytes = 0
        droppedCount = 0; droppedByReason = [:]; dropped = []; droppedTruncated = false
    }
}

/// What an export or download wrote.
public struct ExportReport: Codable, Sendable, Equatable {
    public var volumeId: String
    /// The volume path exported.
    public var path: String
    public var files: Int
    public var directories: Int
    public var symlinks: Int
    public var hardLinks: Int
    /// Entries that cannot be represented (sockets in a tar; FIFOs and devices in a download).
    public var skipped: [String]
    /// File bytes written (logical sizes).
    public var bytes: Int64
    /// Bytes of the output (the compressed archive), when there is one.
    public var outputBytes: Int64?

    enum CodingKeys: String, CodingKey {
        case volumeId = "volume_id", path, files, directories, symlinks, hardLinks = "hard_links", skipped, bytes
        case outputBytes = "output_bytes"
    }

    /// An empty report (nothing written yet) of an export of `path`.
    public init(volumeId: String, path: String) {
        self.volumeId = volumeId; self.path = path
        files = 0; directories = 0; symlinks = 0; hardLinks = 0; skipped = []; bytes = 0
    }
}

extension VolumeError {
    /// The same error with `context` in front of its message (cases without a message are returned as they are).
    func prefixed(_ context: String) -> VolumeError {
        switch self {
        case .notFound(let s): return .notFound("\(context): \(s)")
        case .alreadyExists(let s): return .alreadyExists("\(context): \(s)")
        case .notADirectory(let s): return .notADirectory("\(context): \(s)")
        case .isADirectory(let s): return .isADirectory("\(context): \(s)")
        case .directoryNotEmpty(let s): return .directoryNotEmpty("\(context): \(s)")
        case .invalidPath(let s): return .invalidPath("\(context): \(s)")
        case .nameTooLong(let s): return .nameTooLong("\(context): \(s)")
        case .invalidArgument(let s): return .invalidArgument("\(context): \(s)")
        case let .quotaExceeded(volume, usage, cap, requested):
            return .quotaExceeded(volume: "\(volume) (\(context))", usage: usage, cap: cap, requested: requested)
        case .readOnly(let s): return .readOnly("\(context): \(s)")
        case .crossDevice(let s): return .crossDevice("\(context): \(s)")
        case .permissionDenied(let s): return .permissionDenied("\(context): \(s)")
        case .tooManyLinks(let s): return .tooManyLinks("\(context): \(s)")
        case .symlinkLoop(let s): return .symlinkLoop("\(context): \(s)")
        case .editConflict(let s): return .editConflict("\(context): \(s)")
        case .forbidden(let s): return .forbidden("\(context): \(s)")
        case .corrupt(let s): return .corrupt("\(context): \(s)")
        case let .io(s, e): return .io("\(context): \(s)", errno: e)
        case .interrupted(let s): return .interrupted("\(context): \(s)")
        case .noSuchAttribute(let s): return .noSuchAttribute("\(context): \(s)")
        case .outOfRange(let s): return .outOfRange("\(context): \(s)")
        case .tooLarge(let s): return .tooLarge("\(context): \(s)")
        case .invalidMountPath(let s): return .invalidMountPath("\(context): \(s)")
        case .invalidSubpath(let s): return .invalidSubpath("\(context): \(s)")
        case .conflict(let s): return .conflict("\(context): \(s)")
        case .tooManyAttachments(let s): return .tooManyAttachments("\(context): \(s)")
        }
    }
}
