// Wire types of /v1/volumes/{id}/files: entries, write results, and the JSON bodies of the files operations.

/// A file, directory or other entry (the reference's `EntryInfo`, plus mode and a symlink's target).
public struct EntryResponse: Codable, Sendable, Equatable {
    public var name: String
    /// file, dir, symlink, fifo or socket.
    public var type: String
    /// Bytes; 0 for directories.
    public var size: Int64
    /// Absolute path inside the volume.
    public var path: String
    /// Permission bits in octal, like "0644".
    public var mode: String
    /// ISO-8601 UTC.
    public var modified: String
    /// A symlink's target.
    public var target: String?
    /// The owner's numeric uid and gid, as stored (0: root, what writes create unless given a `user`).
    public var uid: UInt32
    public var gid: UInt32
    public init(name: String, type: String, size: Int64, path: String, mode: String, modified: String, target: String? = nil,
                uid: UInt32 = 0, gid: UInt32 = 0) {
        self.name = name; self.type = type; self.size = size; self.path = path; self.mode = mode; self.modified = modified
        self.target = target; self.uid = uid; self.gid = gid
    }
}

/// What a write stored (the reference's `WriteInfo`).
public struct WriteResponse: Codable, Sendable, Equatable {
    public var path: String
    public var size: Int64
    public init(path: String, size: Int64) { self.path = path; self.size = size }
}

/// `GET .../files/exists`.
public struct ExistsResponse: Codable, Sendable, Equatable {
    public var exists: Bool
    public init(exists: Bool) { self.exists = exists }
}

/// `POST .../files/mkdir`.
public struct MakeDirRequest: Codable, Sendable, Equatable {
    public var path: String
    /// Create missing parents, and succeed when the directory exists.
    public var parents: Bool?
    /// Octal text, like "0755".
    public var mode: String?
    /// Who owns the directories made: "root" (the default), "UID" or "UID:GID".
    public var user: String?
    public static let fields: Set<String> = ["path", "parents", "mode", "user"]
    public init(path: String, parents: Bool? = nil, mode: String? = nil, user: String? = nil) {
        self.path = path; self.parents = parents; self.mode = mode; self.user = user
    }
}

/// The answer to `mkdir`.
public struct MakeDirResponse: Codable, Sendable, Equatable {
    public var path: String
    /// False when `parents` was set and the directory was already there.
    public var created: Bool
    public init(path: String, created: Bool) { self.path = path; self.created = created }
}

/// `POST .../files/move`.
public struct MoveRequest: Codable, Sendable, Equatable {
    public var from: String
    public var to: String
    public var overwrite: Bool?
    public static let fields: Set<String> = ["from", "to", "overwrite"]
    public init(from: String, to: String, overwrite: Bool? = nil) { self.from = from; self.to = to; self.overwrite = overwrite }
}

/// `POST .../files/edit`: replace `old` by `new` in one text file.
public struct EditRequest: Codable, Sendable, Equatable {
    public var path: String
    public var old: String
    public var new: String
    /// Replace every occurrence (otherwise `old` must occur exactly once).
    public var all: Bool?
    public static let fields: Set<String> = ["path", "old", "new", "all"]
    public init(path: String, old: String, new: String, all: Bool? = nil) { self.path = path; self.old = old; self.new = new; self.all = all }
}

/// The answer to `edit`.
public struct EditResponse: Codable, Sendable, Equatable {
    public var replacements: Int
    public init(replacements: Int) { self.replacements = replacements }
}

/// `POST .../files/search`: a name glob and/or a content regex.
public struct SearchRequest: Codable, Sendable, Equatable {
    public var under: String?
    public var name: String?
    public var content: String?
    public var limit: Int?
    public static let fields: Set<String> = ["under", "name", "content", "limit"]
    public init(under: String? = nil, name: String? = nil, content: String? = nil, limit: Int? = nil) {
        self.under = under; self.name = name; self.content = content; self.limit = limit
    }
}

/// One search hit: a path, or a path with a matching line.
public struct SearchHitResponse: Codable, Sendable, Equatable {
    public var path: String
    public var line: Int?
    public var text: String?
    public init(path: String, line: Int? = nil, text: String? = nil) { self.path = path; self.line = line; self.text = text }
}

/// The answer to `search`.
public struct SearchResponse: Codable, Sendable, Equatable {
    public var hits: [SearchHitResponse]
    public var truncated: Bool
    public init(hits: [SearchHitResponse], truncated: Bool) { self.hits = hits; self.truncated = truncated }
}

/// `POST .../files/replace`: replace text in every file matching a glob, in one transaction.
public struct ReplaceRequest: Codable, Sendable, Equatable {
    public var glob: String
    public var old: String
    public var new: String
    public var regex: Bool?
    public var dryRun: Bool?
    public var under: String?
    public static let fields: Set<String> = ["glob", "old", "new", "regex", "dry_run", "under"]
    enum CodingKeys: String, CodingKey { case glob, old, new, regex, dryRun = "dry_run", under }
    public init(glob: String, old: String, new: String, regex: Bool? = nil, dryRun: Bool? = nil, under: String? = nil) {
        self.glob = glob; self.old = old; self.new = new; self.regex = regex; self.dryRun = dryRun; self.under = under
    }
}

/// The answer to `replace`.
public struct ReplaceResponse: Codable, Sendable, Equatable {
    public var files: [String]
    public var replacements: Int
    public var dryRun: Bool
    enum CodingKeys: String, CodingKey { case files, replacements, dryRun = "dry_run" }
    public init(files: [String], replacements: Int, dryRun: Bool) { self.files = files; self.replacements = replacements; self.dryRun = dryRun }
}
