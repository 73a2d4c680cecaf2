// /v1/sandboxes: create (with attachments), list, get, pause/hibernate/resume/destroy, fork; each mount through the supervisor.
import Foundation
import HTTPTypes
import Hummingbird
import SandboxRuntime
import VolumeCore

/// One attachment as a request body names it.
struct AttachmentBody: Decodable, Sendable {
    var volume_id: String
    var mount_path: String
    var read_only: Bool?
    var subpath: String?
    static let fields: Set<String> = ["volume_id", "mount_path", "read_only", "subpath"]

    /// The core's request; a bad `mount_path` is `invalid_mount_path` (400).
    func request() throws -> AttachmentRequest {
        let path = try RequestHelpers.wrap { try MountPath(mount_path) }
        return AttachmentRequest(volumeId: volume_id, mountPath: path, readOnly: read_only ?? false, subpath: subpath ?? "/")
    }
}

/// `POST /v1/sandboxes`.
struct CreateSandboxBody: Decodable, Sendable {
    var attachments: [AttachmentBody]?
    /// The user and group the sandbox's programs run as: recorded and returned (with a runtime its
    /// processes run as them, default 1000:1000; no owner mapping on the mounts yet).
    var uid: UInt32?
    var gid: UInt32?
    /// A process inside the sandbox: each attachment is also placed at its `mount_path` in that
    /// process's mount namespace.
    var namespace_pid: Int32?
    /// `bwrap`: the daemon runs the sandbox's processes (see `SandboxRunner`); `none` or absent: only records and mounts.
    var runtime: String?
    static let fields: Set<String> = ["attachments", "uid", "gid", "namespace_pid", "runtime"]
}

/// `POST /v1/sandboxes/{id}/fork` and `/resume` (the body is optional).
struct ForkSandboxBody: Decodable, Sendable {
    init() {}
    /// Fork: the new sandbox's own process (the parent's is not copied). Resume: the sandbox's process
    /// from now on (a runtime that started it again).
    var namespace_pid: Int32?
    static let fields: Set<String> = ["namespace_pid"]
}

/// A sandbox on the wire: its record and its attachments (not detached ones).
struct SandboxView: Encodable, Sendable {
    let sandbox: Sandbox
    let attachments: [Attachment]
    /// The runtime running its processes, if any.
    var runtime: RuntimeHandle? = nil

    enum Keys: String, CodingKey {
        case sandboxId = "sandbox_id", ownerId = "owner_id", state, parentId = "parent_id", createdAt = "created_at"
        case updatedAt = "updated_at", namespacePid = "namespace_pid", uid, gid, attachments, runtime, runtimePid = "runtime_pid"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(sandbox.id, forKey: .sandboxId)
        try c.encode(sandbox.ownerId, forKey: .ownerId)
        try c.encode(sandbox.state, forKey: .state)
        try c.encode(sandbox.parentId, forKey: .parentId)
        try c.encode(sandbox.createdAt, forKey: .createdAt)
        try c.encode(sandbox.updatedAt, forKey: .updatedAt)
        try c.encode(sandbox.namespacePid, forKey: .namespacePid)
        try c.encode(sandbox.uid, forKey: .uid)
        try c.encode(sandbox.gid, forKey: .gid)
        try c.encode(attachments, forKey: .attachments)
        try c.encode(runtime?.runtime, forKey: .runtime)
        try c.encode(runtime?.pid, forKey: .runtimePid)
    }
}

/// JSON with ISO 8601 times, as the other routes write them.
enum SandboxJSON {
    static func make<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let e = JSONResponse.encoder()
        e.dateEncodingStrategy = .iso8601
        return JSONResponse.raw(try e.encode(value), status: status)
    }
}

struct SandboxRoutes: Sendable {
    let host: VolumeHost
    let bridge: BlockingBridge
    let limits: ServerLimits
    let supervisor: MountSupervisor
    let runner: SandboxRunner

    func register(on router: Router<VolumeRequestContext>) {
        router.post("/v1/sandboxes", use: create)
        router.get("/v1/sandboxes", use: list)
        router.get("/v1/sandboxes/:sandbox", use: get)
        router.post("/v1/sandboxes/:sandbox/pause") { r, c in try await self.move(r, c, to: .paused) }
        router.post("/v1/sandboxes/:sandbox/hibernate") { r, c in try await self.move(r, c, to: .hibernated) }
        router.post("/v1/sandboxes/:sandbox/destroy") { r, c in try await self.move(r, c, to: .destroyed) }
        router.post("/v1/sandboxes/:sandbox/resume") { r, c in
            let body = try await Self.namespaceBody(r, limit: self.limits.maxJSONBytes)
            try self.limits.allowNamespacePid(body.namespace_pid, from: c.caller())
            return try await self.move(r, c, to: .running, namespacePid: body.namespace_pid)
        }
        router.post("/v1/sandboxes/:sandbox/fork", use: fork)
        SandboxExecRoute(host: host, bridge: bridge, limits: limits, runner: runner).register(on: router)
    }

    @Sendable func create(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        guard let owner = try RequestHelpers.scope(request, context) else {
            throw APIFailure.badRequest("an operator key creates a sandbox for a tenant: send 'X-Tenant: TENANT'")
        }
        let body = try await Self.createBody(request, limit: limits.maxJSONBytes)
        try limits.allowNamespacePid(body.namespace_pid, from: context.caller())
        let requests = try (body.attachments ?? []).map { try $0.request() }
        let runtime = try runner.runtime(named: body.runtime)
        if runtime != nil, body.namespace_pid != nil {
            throw APIFailure.badRequest("give runtime or namespace_pid, not both: with a runtime the daemon starts the sandbox's processes")
        }
        let store = host.store, supervisor = self.supervisor, runner = self.runner
        let view = try await bridge.run { () -> SandboxView in
            guard let runtime else {
                let made = try supervisor.createSandbox(owner: owner, attachments: requests, uid: body.uid, gid: body.gid,
                                                        namespacePid: body.namespace_pid)
                return SandboxView(sandbox: made.sandbox, attachments: made.attachments)
            }
            // With a runtime: its processes first, then the records (their init is the namespace
            // process), then the mounts, each placed inside the running sandbox.
            let (sandbox, attachments, handle) = try runner.create(owner: owner, attachments: requests, uid: body.uid ?? 1000,
                                                                   gid: body.gid ?? 1000, runtime: runtime)
            return SandboxView(sandbox: sandbox, attachments: attachments, runtime: handle)
        }
        return try SandboxJSON.make(view, status: .created)
    }

    /// The create body: strict at the top and in each attachment; empty, a sandbox without attachments.
    /// (`RequestHelpers.json` with a check of each attachment's fields, and an empty body allowed.)
    static func createBody(_ request: Request, limit: Int) async throws -> CreateSandboxBody {
        let buffer = try await RequestHelpers.collect(request, limit: limit, tooLarge: APIFailure("too_large", "a JSON body is at most \(limit) bytes"))
        let data = Data(buffer.readableBytesView)
        if let dict = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            let unknown = Set(dict.keys).subtracting(CreateSandboxBody.fields)
            if !unknown.isEmpty { throw APIFailure("invalid_json", "unknown field(s) \(unknown.sorted().joined(separator: ", ")); this route takes attachments, uid, gid, namespace_pid, runtime") }
            for case let a as [String: Any] in (dict["attachments"] as? [Any]) ?? [] {
                let u = Set(a.keys).subtracting(AttachmentBody.fields)
                if !u.isEmpty { throw APIFailure("invalid_json", "unknown attachment field(s) \(u.sorted().joined(separator: ", ")); an attachment takes volume_id, mount_path, read_only, subpath") }
            }
        } else if !data.isEmpty {
            throw APIFailure("invalid_json", "the body must be a JSON object")
        }
        if data.isEmpty { return CreateSandboxBody() }
        do { return try JSONDecoder().decode(CreateSandboxBody.self, from: data) } catch let e as DecodingError {
            throw APIFailure("invalid_json", RequestHelpers.describe(e))
        }
    }

    @Sendable func list(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let owner = try RequestHelpers.scope(request, context)
        let destroyed = try RequestHelpers.boolQuery(request, "include_destroyed")
        let store = host.store, runner = self.runner
        let views = try await bridge.run {
            try store.sandboxes(owner: owner, includeDestroyed: destroyed).map {
                SandboxView(sandbox: $0, attachments: try store.attachments(sandbox: $0.id, owner: nil), runtime: runner.handle($0.id))
            }
        }
        return try SandboxJSON.make(views)
    }

    @Sendable func get(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let owner = try RequestHelpers.scope(request, context)
        let id = try context.parameters.require("sandbox")
        let store = host.store, runner = self.runner
        let view = try await bridge.run {
            SandboxView(sandbox: try store.sandbox(id, owner: owner), attachments: try store.attachments(sandbox: id, owner: owner),
                        runtime: runner.handle(id))
        }
        return try SandboxJSON.make(view)
    }

    /// Pause, hibernate, destroy: every mount is taken down first (its server commits what it
    /// buffered), then the records say `released` with the reason. Resume: the state first, then
    /// every intent is mounted again (`mounted`, or `failed` with the reason).
    func move(_ request: Request, _ context: VolumeRequestContext, to state: SandboxState, namespacePid: Int32? = nil) async throws -> Response {
        let owner = try RequestHelpers.scope(request, context)
        let id = try context.parameters.require("sandbox")
        let store = host.store, supervisor = self.supervisor, runner = self.runner
        let view = try await bridge.run { () -> SandboxView in try supervisor.transition(id) {
            let current = try store.sandbox(id, owner: owner)
            if state == .running {
                // A bad namespace_pid is refused before anything changes.
                if let namespacePid { _ = try supervisor.namespaceProcess(pid: namespacePid, tenant: current.ownerId) }
                let s = try store.setSandboxState(id, owner: owner, to: .running)
                var atts = try store.attachments(sandbox: id, owner: owner)
                if let namespacePid {
                    // The runtime started the sandbox's processes again: its attachments go to the new namespace.
                    let moved = try supervisor.setNamespace(id, owner: owner, pid: namespacePid)
                    return SandboxView(sandbox: moved.sandbox, attachments: moved.attachments)
                }
                if current.state != .running || atts.contains(where: { $0.state != .mounted }) {
                    atts = try supervisor.mountAll(atts.map(\.id))
                }
                // Every intent is mounted (or failed) before the sandbox's processes run again.
                try runner.thaw(id)
                return SandboxView(sandbox: s, attachments: atts, runtime: runner.handle(id))
            }
            if current.state != state {
                // The processes stop (pause, hibernate) or die (destroy) before their mounts go.
                if state == .destroyed { try runner.kill(id) } else if current.state == .running { try runner.freeze(id) }
                supervisor.unmountAll(try store.attachments(sandbox: id, owner: owner).filter { $0.state == .mounted }.map(\.id))
            }
            let s = try store.setSandboxState(id, owner: owner, to: state)
            if state == .destroyed { runner.removeDirectories(try store.attachments(sandbox: id, owner: owner, includeDetached: true)) }
            return SandboxView(sandbox: s, attachments: try store.attachments(sandbox: id, owner: owner), runtime: runner.handle(id))
        } }
        return try SandboxJSON.make(view)
    }

    /// The optional body of fork and resume: `{"namespace_pid"?}`, or nothing.
    static func namespaceBody(_ request: Request, limit: Int) async throws -> ForkSandboxBody {
        let buffer = try await RequestHelpers.collect(request, limit: limit, tooLarge: APIFailure("too_large", "a JSON body is at most \(limit) bytes"))
        let data = Data(buffer.readableBytesView)
        guard !data.isEmpty else { return ForkSandboxBody() }
        guard let dict = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw APIFailure("invalid_json", "the body must be a JSON object (or empty)")
        }
        let unknown = Set(dict.keys).subtracting(ForkSandboxBody.fields)
        if !unknown.isEmpty { throw APIFailure("invalid_json", "unknown field(s) \(unknown.sorted().joined(separator: ", ")); this route takes namespace_pid") }
        do { return try JSONDecoder().decode(ForkSandboxBody.self, from: data) } catch let e as DecodingError {
            throw APIFailure("invalid_json", RequestHelpers.describe(e))
        }
    }

    @Sendable func fork(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let owner = try RequestHelpers.scope(request, context)
        let id = try context.parameters.require("sandbox")
        let body = try await Self.namespaceBody(request, limit: limits.maxJSONBytes)
        try limits.allowNamespacePid(body.namespace_pid, from: context.caller())
        let supervisor = self.supervisor, runner = self.runner, pid = body.namespace_pid
        let view = try await bridge.run { () -> SandboxView in
            // A fork of a sandbox with a runtime gets its own processes, as the same user (a fresh
            // start: memory and processes are not copied, the attachments are).
            guard let parent = runner.handle(id), let runtime = runner.runtime, runtime.name == parent.runtime, pid == nil else {
                let made = try supervisor.forkSandbox(id, owner: owner, namespacePid: pid)
                return SandboxView(sandbox: made.sandbox, attachments: made.attachments)
            }
            let (sandbox, attachments, handle) = try runner.fork(id, owner: owner, parent: parent, runtime: runtime)
            return SandboxView(sandbox: sandbox, attachments: attachments, runtime: handle)
        }
        return try SandboxJSON.make(view, status: .created)
    }
}

extension MountSupervisor {
    /// Creates a running sandbox of `owner` and delivers its attachments: each is mounted at its host
    /// path and, when `namespacePid` names a process inside the sandbox, placed at its `mount_path` in
    /// that process's mount namespace; `mounted`, or `failed` with the reason. `uid`/`gid` are
    /// recorded. The one way a sandbox is created (the API, and a sandbox runtime in the daemon).
    /// Blocks. A `namespacePid` that is not a live process in a mount namespace of its own is
    /// `invalid_argument` (400) and nothing is recorded.
    public func createSandbox(owner: String, attachments requests: [AttachmentRequest], uid: UInt32? = nil, gid: UInt32? = nil,
                              namespacePid: Int32? = nil) throws -> (sandbox: Sandbox, attachments: [Attachment]) {
        for (name, id) in [("uid", uid), ("gid", gid)] where id == UInt32.max {
            throw APIFailure("invalid_argument", "\(name) 4294967295 is (uid_t)-1, no user; give 0 to 4294967294")
        }
        let namespace = try namespacePid.map { try namespaceProcess(pid: $0, tenant: owner) }
        let made = try store.createSandbox(owner: owner, attachments: requests, uid: uid, gid: gid, namespace: namespace)
        return (made.sandbox, try mountAll(made.attachments.map(\.id)))
    }

    /// Forks sandbox `parentID` (its intents and uid/gid; `namespacePid` is the new sandbox's own
    /// process, checked as at create) and delivers the new sandbox's attachments. Blocks.
    public func forkSandbox(_ parentID: String, owner: String?, namespacePid: Int32? = nil) throws -> (sandbox: Sandbox, attachments: [Attachment]) {
        let tenant = try store.sandbox(parentID, owner: owner).ownerId
        let namespace = try namespacePid.map { try namespaceProcess(pid: $0, tenant: tenant) }
        let made = try store.forkSandbox(parentID, owner: owner, namespace: namespace)
        return (made.sandbox, try mountAll(made.attachments.map(\.id)))
    }
}
