// The seam between the daemon and whatever runs sandboxes: spawn, exec, freeze, thaw, kill, liveness.
import Foundation

/// A sandbox to start: its ID, the unprivileged user its programs run as, and what to bind into its view.
public struct SandboxSpec: Sendable {
    public var id: String
    public var uid: UInt32
    public var gid: UInt32
    /// Host directories bound at paths inside the sandbox (attachments known at create).
    public var binds: [Bind]

    public struct Bind: Sendable, Equatable {
        public var source: String
        public var target: String
        public var readOnly: Bool
        public init(source: String, target: String, readOnly: Bool) {
            self.source = source
            self.target = target
            self.readOnly = readOnly
        }
    }

    public init(id: String, uid: UInt32 = 1000, gid: UInt32 = 1000, binds: [Bind] = []) {
        self.id = id
        self.uid = uid
        self.gid = gid
        self.binds = binds
    }
}

/// A running sandbox as its runtime knows it: the process whose namespaces are the sandbox's (its
/// PID namespace's init), identified by pid and start time so that a reused pid is never taken for it.
public struct RuntimeHandle: Codable, Sendable, Equatable {
    public var sandboxId: String
    /// The runtime's name (`bwrap`).
    public var runtime: String
    /// The sandbox's init as the host sees it; its mount, PID, IPC and UTS namespaces are the sandbox's.
    public var pid: Int32
    /// Its start time in clock ticks after boot (`/proc/PID/stat` field 22).
    public var startTime: UInt64
    public var uid: UInt32
    public var gid: UInt32

    enum CodingKeys: String, CodingKey {
        case sandboxId = "sandbox_id", runtime, pid, startTime = "start_time", uid, gid
    }

    public init(sandboxId: String, runtime: String, pid: Int32, startTime: UInt64, uid: UInt32, gid: UInt32) {
        self.sandboxId = sandboxId
        self.runtime = runtime
        self.pid = pid
        self.startTime = startTime
        self.uid = uid
        self.gid = gid
    }

    /// Whether the sandbox's init still runs (the same pid with the same start time).
    public var isAlive: Bool { ProcessTable.startTime(of: pid) == startTime }
}

/// A command to run inside a sandbox.
public struct ExecSpec: Sendable {
    public var argv: [String]
    public var stdin: Data
    public var env: [String: String]
    public var cwd: String
    /// Killed (SIGTERM, then SIGKILL 5 s later) after this many seconds; exit code 124 then.
    public var timeoutSeconds: Int
    /// At most this many bytes of each of stdout and stderr are returned.
    public var outputLimit: Int

    public init(argv: [String], stdin: Data = Data(), env: [String: String] = [:], cwd: String = "/",
                timeoutSeconds: Int = 300, outputLimit: Int = 1 << 20) {
        self.argv = argv
        self.stdin = stdin
        self.env = env
        self.cwd = cwd
        self.timeoutSeconds = timeoutSeconds
        self.outputLimit = outputLimit
    }
}

/// What a command inside a sandbox did.
public struct ExecOutcome: Sendable {
    /// Its exit status; 128 + N when a signal N ended it; 124 when it timed out.
    public var exitCode: Int32
    public var stdout: Data
    public var stderr: Data
    public var stdoutTruncated: Bool
    public var stderrTruncated: Bool
}

/// A runtime failure: the message says what and why.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Runs sandboxes as real sets of Linux namespaces. All methods block.
public protocol SandboxRuntime: Sendable {
    /// The runtime's name, as the API's `runtime` field gives it.
    var name: String { get }
    /// Starts a sandbox detached from the caller (a new session, not its child in any way that
    /// matters): it keeps running when the daemon dies.
    func spawn(_ spec: SandboxSpec) throws -> RuntimeHandle
    /// Runs a command inside every namespace of the sandbox, as its user.
    func exec(_ handle: RuntimeHandle, _ spec: ExecSpec) throws -> ExecOutcome
    /// Stops every process of the sandbox; returns once they are all stopped.
    func freeze(_ handle: RuntimeHandle) throws
    /// Lets them run again.
    func thaw(_ handle: RuntimeHandle) throws
    /// Kills every process of the sandbox and waits (bounded) until they are gone.
    func kill(_ handle: RuntimeHandle) throws
    /// Renames the runtime's own files of a sandbox (spawned before its ID was known).
    func rename(_ from: String, to: String)
}
