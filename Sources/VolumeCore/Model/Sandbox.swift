// Sandboxes and their attachments as the registry records them: states, reasons, and what an attach asks for.
import Foundation

/// The life of a sandbox as its host's sandbox manager reports it.
public enum SandboxState: String, Codable, Sendable, CaseIterable {
    case running, paused, hibernated, destroyed
}

/// A sandbox of this host: who owns it, what state it is in, and where its attachments are delivered.
public struct Sandbox: Codable, Sendable, Equatable {
    /// `sbx-` and 20 characters.
    public var id: String
    public var ownerId: String
    public var state: SandboxState
    /// The sandbox this one was forked from, if any.
    public var parentId: String?
    public var createdAt: Date
    public var updatedAt: Date
    /// The process whose mount namespace receives the attachments (delivery "in the sandbox"), with its
    /// start time and boot so that a reused pid or a reboot is not mistaken for it; nil: host paths only.
    public var namespace: ProcessIdentity?
    /// The user and group the sandbox's programs run as, as the sandbox manager said (nil: not said).
    public var uid: UInt32?
    public var gid: UInt32?

    /// The pid of `namespace` (JSON `namespace_pid`).
    public var namespacePid: Int32? { namespace?.pid }

    public init(id: String, ownerId: String, state: SandboxState, parentId: String?, createdAt: Date, updatedAt: Date,
                namespace: ProcessIdentity? = nil, uid: UInt32? = nil, gid: UInt32? = nil) {
        self.id = id
        self.ownerId = ownerId
        self.state = state
        self.parentId = parentId
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.namespace = namespace
        self.uid = uid
        self.gid = gid
    }

    enum CodingKeys: String, CodingKey {
        case id = "sandbox_id", ownerId = "owner_id", state, parentId = "parent_id", createdAt = "created_at", updatedAt = "updated_at"
        case namespacePid = "namespace_pid", uid, gid
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(id: try c.decode(String.self, forKey: .id), ownerId: try c.decode(String.self, forKey: .ownerId),
                  state: try c.decode(SandboxState.self, forKey: .state), parentId: try c.decodeIfPresent(String.self, forKey: .parentId),
                  createdAt: try c.decode(Date.self, forKey: .createdAt), updatedAt: try c.decode(Date.self, forKey: .updatedAt),
                  namespace: try c.decodeIfPresent(Int32.self, forKey: .namespacePid).flatMap { ProcessIdentity(pid: $0) },
                  uid: try c.decodeIfPresent(UInt32.self, forKey: .uid), gid: try c.decodeIfPresent(UInt32.self, forKey: .gid))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(ownerId, forKey: .ownerId)
        try c.encode(state, forKey: .state)
        try c.encode(parentId, forKey: .parentId)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
        try c.encode(namespacePid, forKey: .namespacePid)
        try c.encode(uid, forKey: .uid)
        try c.encode(gid, forKey: .gid)
    }
}

/// How an attachment reaches its sandbox: mounted at `host_path` for the sandbox manager to bind in,
/// or, for a sandbox with a namespace process, also placed at `mount_path` inside that process's
/// mount namespace by the daemon.
public enum AttachmentDelivery: String, Codable, Sendable {
    case hostPath = "host_path"
    case namespace
}

/// The state of an attachment: its volume is mounted for the sandbox, released (the intent is kept,
/// nothing is mounted), or failed (it should be mounted and cannot be; the reason says why).
public enum AttachmentState: String, Codable, Sendable {
    case mounted, released, failed
}

/// A machine-readable reason for an attachment's last transition. The daemon may use codes of its own.
public struct AttachmentReason: RawRepresentable, Codable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ raw: String) { rawValue = raw }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
    public var description: String { rawValue }

    /// Recorded, not mounted yet.
    public static let pending = AttachmentReason("pending")
    public static let mounted = AttachmentReason("mounted")
    public static let detached = AttachmentReason("detached")
    public static let sandboxPaused = AttachmentReason("sandbox_paused")
    public static let sandboxHibernated = AttachmentReason("sandbox_hibernated")
    public static let sandboxDestroyed = AttachmentReason("sandbox_destroyed")
    /// The volume was deleted (by force) while the attachment was live, or before a resume remounted it.
    public static let volumeDeleted = AttachmentReason("volume_deleted")
    public static let subpathInvalid = AttachmentReason("subpath_invalid")
    public static let mountFailed = AttachmentReason("mount_failed")
    /// The sandbox's namespace process is gone (it exited, its pid was reused, or the host rebooted):
    /// there is no namespace left to place the mount in.
    public static let sandboxGone = AttachmentReason("sandbox_gone")
    /// The mount could not be placed (or taken out) inside the sandbox's mount namespace.
    public static let placementFailed = AttachmentReason("placement_failed")
}

/// What an attach asks for: a volume at a path of the sandbox, perhaps read-only, perhaps one directory of it.
public struct AttachmentRequest: Codable, Sendable, Hashable {
    public var volumeId: String
    public var mountPath: MountPath
    public var readOnly: Bool
    /// The directory of the volume to show at `mountPath` ("/" for the whole volume).
    public var subpath: String

    public init(volumeId: String, mountPath: MountPath, readOnly: Bool = false, subpath: String = "/") {
        self.volumeId = volumeId
        self.mountPath = mountPath
        self.readOnly = readOnly
        self.subpath = subpath
    }

    enum CodingKeys: String, CodingKey {
        case volumeId = "volume_id", mountPath = "mount_path", readOnly = "read_only", subpath
    }
}

/// A durable attachment record: one volume at one path of one sandbox, and what became of it.
public struct Attachment: Codable, Sendable, Equatable {
    /// `att-` and 20 characters.
    public var id: String
    public var sandboxId: String
    public var volumeId: String
    public var mountPath: MountPath
    public var readOnly: Bool
    /// The volume directory shown, in normal form ("/" for the whole volume).
    public var subpath: String
    public var state: AttachmentState
    /// Why the last transition happened, and a message for people.
    public var reason: AttachmentReason
    public var message: String
    /// The process that serves the mount while `mounted`.
    public var servedBy: LeaseHolder?
    /// Where the daemon mounted it on the host, when it hands out host paths.
    public var hostPath: String?
    /// `host_path` only, or also placed at `mount_path` inside the sandbox's mount namespace.
    public var delivery: AttachmentDelivery = .hostPath
    public var createdAt: Date
    public var updatedAt: Date
    /// When it was detached: the intent is gone, the record kept for the history.
    public var detachedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id = "attachment_id", sandboxId = "sandbox_id", volumeId = "volume_id", mountPath = "mount_path"
        case readOnly = "read_only", subpath, state, reason, message, servedBy = "served_by", hostPath = "host_path", delivery
        case createdAt = "created_at", updatedAt = "updated_at", detachedAt = "detached_at"
    }

    /// The request this attachment answers (what an idempotent attach compares).
    public var request: AttachmentRequest {
        AttachmentRequest(volumeId: volumeId, mountPath: mountPath, readOnly: readOnly, subpath: subpath)
    }
}
