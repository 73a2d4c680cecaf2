// Wire types of /v1/volumes: the request to create one and the volume as every response shows it.

/// `POST /v1/volumes` with a JSON body.
public struct CreateVolumeRequest: Codable, Sendable, Equatable {
    public var name: String
    public var metadata: [String: String]?
    /// The JSON keys the server accepts; any other is a 400.
    public static let fields: Set<String> = ["name", "metadata"]
    public init(name: String, metadata: [String: String]? = nil) { self.name = name; self.metadata = metadata }
}

/// A volume: every field of the Phase 1 `Volume` plus the Phase 2 usage fields.
public struct VolumeResponse: Codable, Sendable, Equatable {
    public var volumeId: String
    public var ownerId: String
    public var name: String
    /// Phase 1's blob key; volumes here have no blob, so it is null.
    public var blobKey: String?
    /// Logical bytes stored.
    public var sizeBytes: Int64
    /// The media type of the volume's archive form (Phase 1's blob content type).
    public var contentType: String?
    public var metadata: [String: String]
    /// ISO-8601 UTC.
    public var createdAt: String
    public var fileCount: Int64
    /// The cap in force.
    public var quotaBytes: Int64
    public var usedBytes: Int64

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case volumeId = "volume_id", ownerId = "owner_id", name, blobKey = "blob_key", sizeBytes = "size_bytes"
        case contentType = "content_type", metadata, createdAt = "created_at", fileCount = "file_count"
        case quotaBytes = "quota_bytes", usedBytes = "used_bytes"
    }

    /// Every field name, for `?fields=` selection.
    public static let fieldNames: [String] = CodingKeys.allCases.map(\.rawValue)

    public init(volumeId: String, ownerId: String, name: String, blobKey: String? = nil, sizeBytes: Int64,
                contentType: String? = "application/gzip", metadata: [String: String], createdAt: String,
                fileCount: Int64, quotaBytes: Int64, usedBytes: Int64) {
        self.volumeId = volumeId; self.ownerId = ownerId; self.name = name; self.blobKey = blobKey
        self.sizeBytes = sizeBytes; self.contentType = contentType; self.metadata = metadata; self.createdAt = createdAt
        self.fileCount = fileCount; self.quotaBytes = quotaBytes; self.usedBytes = usedBytes
    }

    // Explicit nulls: a Phase 1 SDK expects every key.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(volumeId, forKey: .volumeId); try c.encode(ownerId, forKey: .ownerId); try c.encode(name, forKey: .name)
        try c.encode(blobKey, forKey: .blobKey); try c.encode(sizeBytes, forKey: .sizeBytes)
        try c.encode(contentType, forKey: .contentType); try c.encode(metadata, forKey: .metadata)
        try c.encode(createdAt, forKey: .createdAt); try c.encode(fileCount, forKey: .fileCount)
        try c.encode(quotaBytes, forKey: .quotaBytes); try c.encode(usedBytes, forKey: .usedBytes)
    }
}

/// One entry an import left out, and why.
public struct DroppedEntryResponse: Codable, Sendable, Equatable {
    public var entry: Int
    public var path: String
    public var reason: String
    public init(entry: Int, path: String, reason: String) { self.entry = entry; self.path = path; self.reason = reason }
}

/// What a tar.gz import stored and what it dropped.
public struct ImportSummary: Codable, Sendable, Equatable {
    public var files: Int
    public var directories: Int
    public var bytes: Int64
    public var inputBytes: Int64
    public var droppedCount: Int
    public var dropped: [DroppedEntryResponse]
    public var droppedTruncated: Bool
    /// Existing files (or symlinks) the imported files replaced (absent from older daemons).
    public var replaced: Int?

    enum CodingKeys: String, CodingKey {
        case files, directories, bytes, inputBytes = "input_bytes", droppedCount = "dropped_count", dropped
        case droppedTruncated = "dropped_truncated", replaced
    }

    public init(files: Int, directories: Int, bytes: Int64, inputBytes: Int64, droppedCount: Int,
                dropped: [DroppedEntryResponse], droppedTruncated: Bool, replaced: Int? = nil) {
        self.files = files; self.directories = directories; self.bytes = bytes; self.inputBytes = inputBytes
        self.droppedCount = droppedCount; self.dropped = dropped; self.droppedTruncated = droppedTruncated
        self.replaced = replaced
    }
}

/// `POST /v1/volumes` with an `application/gzip` body: the new volume and what the import did.
public struct ImportedVolumeResponse: Codable, Sendable, Equatable {
    public var volume: VolumeResponse
    public var `import`: ImportSummary
    public init(volume: VolumeResponse, import summary: ImportSummary) { self.volume = volume; self.import = summary }
}

/// `GET /healthz`.
public struct HealthResponse: Codable, Sendable, Equatable {
    public var status: String
    public var version: String
    /// Volumes the daemon holds open now (idle ones are closed).
    public var openVolumes: Int
    enum CodingKeys: String, CodingKey { case status, version, openVolumes = "open_volumes" }
    public init(status: String, version: String, openVolumes: Int) { self.status = status; self.version = version; self.openVolumes = openVolumes }
}
