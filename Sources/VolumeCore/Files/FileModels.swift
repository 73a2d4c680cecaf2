// Wire-friendly value types of the files operations: entries, write requests and reports.
import Foundation

/// One entry, as `stat` and `list` report it (the sandbox filesystem API's EntryInfo).
public struct EntryInfo: Codable, Sendable, Equatable {
    public var name: String
    /// "file", "dir", "symlink", "fifo", "socket", "blockdev" or "chardev".
    public var type: String
    /// Bytes; 0 for directories.
    public var size: Int64
    /// Absolute path inside the volume.
    public var path: String
    /// Permission bits, as an octal string like "0644".
    public var mode: String
    /// ISO-8601 modification time.
    public var modified: String
    /// The target, for symlinks.
    public var target: String?
    /// The owner's numeric ids, as stored (a mount with an owner mapping shows them swapped).
    public var uid: UInt32
    public var gid: UInt32

    init(path: VolumePath, attributes a: Attributes, target: Data? = nil) {
        name = path.isRoot ? "/" : path.name
        type = a.kind.apiName
        size = a.kind == .directory ? 0 : a.size
        self.path = path.description
        mode = "0" + String(a.mode, radix: 8)  // as "0%o" formats it, without Foundation's formatter (a stat's hot path)
        modified = EntryInfo.iso(a.mtime)
        self.target = target.map { String(decoding: $0, as: UTF8.self) }
        uid = a.uid
        gid = a.gid
    }

    /// ISO-8601 UTC with milliseconds (see `TimeText`).
    static func iso(_ ns: Nanos) -> String { TimeText.iso(nanos: ns, digits: 3) }
}

/// One file of a batch write.
public struct WriteEntry: Sendable {
    public var path: String
    public var data: Data
    /// Permission bits of a new file; an existing file keeps its own.
    public var mode: UInt32?
    public init(path: String, data: Data, mode: UInt32? = nil) { self.path = path; self.data = data; self.mode = mode }
}

/// What a write stored.
public struct WriteInfo: Codable, Sendable, Equatable {
    public var path: String
    public var size: Int64
    public init(path: String, size: Int64) { self.path = path; self.size = size }
}

/// One hit of a search: a path, and for content searches the line.
public struct SearchHit: Codable, Sendable, Equatable {
    public var path: String
    public var line: Int?
    public var text: String?
}

/// The result of a search, with whether the limit cut it short.
public struct SearchResult: Codable, Sendable, Equatable {
    public var hits: [SearchHit]
    public var truncated: Bool
}

/// What a replace changed (or, with dry run, would change).
public struct ReplaceReport: Codable, Sendable, Equatable {
    public var files: [String]
    public var replacements: Int
    public var dryRun: Bool
    enum CodingKeys: String, CodingKey { case files, replacements, dryRun = "dry_run" }
}
