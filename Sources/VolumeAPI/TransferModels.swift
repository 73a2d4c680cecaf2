// Wire types of the transfer routes: tar.gz uploads into a path, and signed URLs.

/// `PUT .../files/archive?path=DIR`: what a tar.gz upload stored and what it dropped.
public struct ArchiveUploadResponse: Codable, Sendable, Equatable {
    /// The directory the archive went into.
    public var path: String
    public var `import`: ImportSummary
    public init(path: String, import summary: ImportSummary) { self.path = path; self.import = summary }
}

/// `POST .../files/signed-url`.
public struct SignedURLRequest: Codable, Sendable, Equatable {
    public var path: String
    /// GET or PUT.
    public var method: String
    /// At most 604800 (7 days); default 3600.
    public var expiresInSeconds: Int?
    /// PUT only: the user the write is made as ("root", "UID" or "UID:GID"), as `user` on a PUT; signed into the URL.
    public var user: String?
    enum CodingKeys: String, CodingKey { case path, method, expiresInSeconds = "expires_in_seconds", user }
    public static let fields: Set<String> = ["path", "method", "expires_in_seconds", "user"]
    public init(path: String, method: String, expiresInSeconds: Int? = nil, user: String? = nil) {
        self.path = path; self.method = method; self.expiresInSeconds = expiresInSeconds; self.user = user
    }
}

/// A signed URL: works for `method` on `path` without an API key until `expires_at`.
public struct SignedURLResponse: Codable, Sendable, Equatable {
    /// Relative to the daemon's base URL (`/v1/signed/...`).
    public var url: String
    public var method: String
    public var path: String
    public var volumeId: String
    /// ISO-8601 UTC.
    public var expiresAt: String
    enum CodingKeys: String, CodingKey { case url, method, path, volumeId = "volume_id", expiresAt = "expires_at" }
    public init(url: String, method: String, path: String, volumeId: String, expiresAt: String) {
        self.url = url; self.method = method; self.path = path; self.volumeId = volumeId; self.expiresAt = expiresAt
    }
}
