// Wire types of the sandbox routes: sandboxes, attachments, and exec, as the client reads them.
import Foundation

/// One attachment of a sandbox (`GET /v1/sandboxes/{id}/attachments`).
public struct AttachmentResponse: Codable, Sendable, Equatable {
    public var attachmentId: String
    public var sandboxId: String
    public var volumeId: String
    public var mountPath: String
    public var readOnly: Bool
    public var subpath: String
    /// `mounted`, `released` or `failed`.
    public var state: String
    public var reason: String?
    public var message: String?
    public var hostPath: String?
    public var createdAt: String
    public var updatedAt: String
    public var detachedAt: String?

    enum CodingKeys: String, CodingKey {
        case attachmentId = "attachment_id", sandboxId = "sandbox_id", volumeId = "volume_id", mountPath = "mount_path"
        case readOnly = "read_only", subpath, state, reason, message, hostPath = "host_path", createdAt = "created_at"
        case updatedAt = "updated_at", detachedAt = "detached_at"
    }
}

/// A sandbox (`POST /v1/sandboxes`, `GET /v1/sandboxes/{id}`, and each lifecycle call).
public struct SandboxResponse: Codable, Sendable, Equatable {
    public var sandboxId: String
    public var ownerId: String
    /// `running`, `paused`, `hibernated` or `destroyed`.
    public var state: String
    public var parentId: String?
    public var createdAt: String
    public var updatedAt: String
    public var attachments: [AttachmentResponse]
    /// `bwrap` when the daemon runs its processes; nil otherwise.
    public var runtime: String?
    /// The host pid of its init (its namespaces are the sandbox's).
    public var runtimePid: Int32?

    enum CodingKeys: String, CodingKey {
        case sandboxId = "sandbox_id", ownerId = "owner_id", state, parentId = "parent_id", createdAt = "created_at"
        case updatedAt = "updated_at", attachments, runtime, runtimePid = "runtime_pid"
    }
}

/// One attachment as a create or an attach asks for it.
public struct AttachRequest: Codable, Sendable, Equatable {
    public var volumeId: String
    public var mountPath: String
    public var readOnly: Bool?
    public var subpath: String?

    public init(volumeId: String, mountPath: String, readOnly: Bool? = nil, subpath: String? = nil) {
        self.volumeId = volumeId
        self.mountPath = mountPath
        self.readOnly = readOnly
        self.subpath = subpath
    }

    enum CodingKeys: String, CodingKey { case volumeId = "volume_id", mountPath = "mount_path", readOnly = "read_only", subpath }
}

/// `POST /v1/sandboxes`.
public struct CreateSandboxRequest: Codable, Sendable, Equatable {
    public var attachments: [AttachRequest]?
    public var uid: UInt32?
    public var gid: UInt32?
    /// `bwrap` to have the daemon run the sandbox's processes.
    public var runtime: String?

    public init(attachments: [AttachRequest]? = nil, uid: UInt32? = nil, gid: UInt32? = nil, runtime: String? = nil) {
        self.attachments = attachments
        self.uid = uid
        self.gid = gid
        self.runtime = runtime
    }
}

/// `POST /v1/sandboxes/{id}/exec`.
public struct ExecRequest: Codable, Sendable, Equatable {
    public var argv: [String]
    public var stdinBase64: String?
    public var env: [String: String]?
    public var cwd: String?
    public var timeoutSeconds: Int?

    public init(argv: [String], stdin: Data? = nil, env: [String: String]? = nil, cwd: String? = nil, timeoutSeconds: Int? = nil) {
        self.argv = argv
        self.stdinBase64 = stdin.map { $0.base64EncodedString() }
        self.env = env
        self.cwd = cwd
        self.timeoutSeconds = timeoutSeconds
    }

    enum CodingKeys: String, CodingKey { case argv, stdinBase64 = "stdin_base64", env, cwd, timeoutSeconds = "timeout_seconds" }
}

/// What a command run in a sandbox did; `stdout` and `stderr` are base64, each at most 1 MiB.
public struct ExecResponse: Codable, Sendable, Equatable {
    public var exitCode: Int32
    public var stdout: String
    public var stderr: String
    public var stdoutTruncated: Bool
    public var stderrTruncated: Bool

    /// The decoded bytes.
    public var stdoutData: Data { Data(base64Encoded: stdout) ?? Data() }
    public var stderrData: Data { Data(base64Encoded: stderr) ?? Data() }

    enum CodingKeys: String, CodingKey {
        case exitCode = "exit_code", stdout, stderr, stdoutTruncated = "stdout_truncated", stderrTruncated = "stderr_truncated"
    }
}
