// Ties a sandbox runtime (bwrap) to the sandbox records and the mount supervisor: start, freeze, thaw, destroy, exec, reconcile.
import Foundation
import SandboxRuntime
import VolumeCore

#if canImport(Glibc)
import Glibc
#endif

/// Runs sandboxes that ask for a runtime (`"runtime": "bwrap"`), beside the mounts of their attachments.
/// The runtime's process is the sandbox's namespace process (`namespace_pid`): the supervisor places
/// every attachment at its `mount_path` inside its mount namespace (delivery `namespace`), at create,
/// at runtime attach, at resume and at reconcile, and takes it out at detach and pause. The runtime's
/// own records (`DATA_DIR/runtime/<sandbox>.json`: pid, start time, uid, gid) survive a daemon restart.
/// All methods block: call them through the `BlockingBridge`.
public final class SandboxRunner: @unchecked Sendable {
    public let runtime: (any SandboxRuntime)?
    public let records: RuntimeRecords
    public let supervisor: MountSupervisor
    public var store: VolumeStore { supervisor.store }

    public init(runtime: (any SandboxRuntime)?, records: RuntimeRecords, supervisor: MountSupervisor) {
        self.runtime = runtime
        self.records = records
        self.supervisor = supervisor
    }

    /// The runtime a create asks for: nil for none; 400 when this daemon runs no such runtime.
    public func runtime(named name: String?) throws -> (any SandboxRuntime)? {
        guard let name, name != "none" else { return nil }
        guard let runtime, runtime.name == name else {
            throw APIFailure("bad_request", "this daemon runs no '\(name)' sandbox runtime (start volumed with --sandbox-runtime bwrap)")
        }
        return runtime
    }

    /// The runtime record of a sandbox, if it has one.
    public func handle(_ sandboxId: String) -> RuntimeHandle? { records.load(sandboxId) }

    // MARK: Lifecycle

    /// Creates a sandbox run by `runtime`: its processes first, then the records with their init as
    /// the namespace process, then the mounts, each placed inside. When anything fails the processes
    /// are killed again. Returns the sandbox, its attachments and the runtime's handle.
    public func create(owner: String, attachments: [AttachmentRequest], uid: UInt32, gid: UInt32,
                       runtime: any SandboxRuntime) throws -> (Sandbox, [Attachment], RuntimeHandle) {
        try launch(uid: uid, gid: gid, runtime: runtime) { pid in
            let made = try supervisor.createSandbox(owner: owner, attachments: attachments, uid: uid, gid: gid, namespacePid: pid)
            return (made.sandbox, made.attachments)
        }
    }

    /// Forks `parent` (run by `runtime`) into a new sandbox with its own processes, as the same user.
    public func fork(_ parentId: String, owner: String?, parent: RuntimeHandle, runtime: any SandboxRuntime) throws -> (Sandbox, [Attachment], RuntimeHandle) {
        try launch(uid: parent.uid, gid: parent.gid, runtime: runtime) { pid in
            let made = try supervisor.forkSandbox(parentId, owner: owner, namespacePid: pid)
            return (made.sandbox, made.attachments)
        }
    }

    private func launch(uid: UInt32, gid: UInt32, runtime: any SandboxRuntime,
                        _ record: (Int32) throws -> (Sandbox, [Attachment])) throws -> (Sandbox, [Attachment], RuntimeHandle) {
        var handle: RuntimeHandle
        do {
            handle = try runtime.spawn(SandboxSpec(id: "sbx-new-" + UUID().uuidString.prefix(8).lowercased(), uid: uid, gid: gid))
        } catch {
            throw APIFailure("runtime_failed", "the sandbox could not be started: \(error)")
        }
        do {
            let (sandbox, attachments) = try record(handle.pid)
            let pending = handle.sandboxId
            handle.sandboxId = sandbox.id
            try records.save(handle)
            runtime.rename(pending, to: sandbox.id)
            return (sandbox, attachments, handle)
        } catch {
            try? runtime.kill(handle)
            records.remove(handle.sandboxId)
            throw error
        }
    }

    /// Stops the sandbox's processes (before its mounts are released).
    public func freeze(_ sandboxId: String) throws {
        guard let h = records.load(sandboxId), let r = runtime else { return }
        if h.isAlive { try r.freeze(h) }
    }

    /// Lets them run again (after every intent is mounted).
    public func thaw(_ sandboxId: String) throws {
        guard let h = records.load(sandboxId), let r = runtime else { return }
        if h.isAlive { try r.thaw(h) }
    }

    /// Kills the sandbox's processes and forgets the record; the caller then releases the mounts.
    public func kill(_ sandboxId: String) throws {
        guard let h = records.load(sandboxId) else { return }
        if let r = runtime { try r.kill(h) } else if h.isAlive {
            Glibc.kill(h.pid, SIGKILL)
            for _ in 0..<500 where h.isAlive { usleep(10_000) }
        }
        records.remove(sandboxId)
    }

    /// Removes the host directories a destroyed sandbox's view had bound.
    public func removeDirectories(_ attachments: [Attachment]) {
        for a in attachments { rmdir(supervisor.hostPath(a.id)) }
    }

    /// Runs a command in a running sandbox as its user; 409 when the sandbox is not running or has no processes.
    public func exec(_ sandbox: Sandbox, _ spec: ExecSpec) throws -> ExecOutcome {
        guard sandbox.state == .running else {
            throw VolumeError.conflict("sandbox \(sandbox.id) is \(sandbox.state.rawValue); resume it to run commands")
        }
        guard let h = records.load(sandbox.id), let r = runtime else {
            throw VolumeError.conflict("sandbox \(sandbox.id) has no runtime (create it with \"runtime\": \"bwrap\")")
        }
        guard h.isAlive else { throw VolumeError.conflict("the processes of sandbox \(sandbox.id) are gone") }
        do { return try r.exec(h, spec) } catch let e as RuntimeError { throw APIFailure("runtime_failed", e.message) }
    }

    // MARK: Reconcile

    /// What `reconcile` did, for the log.
    public struct ReconcileReport: Sendable, CustomStringConvertible {
        public var adopted: [String] = []
        public var gone: [String] = []
        public var killed: [String] = []
        public var description: String { "adopted \(adopted.count), gone (destroyed) \(gone.count), stray killed \(killed.count)" }
    }

    /// At start, before the supervisor's reconcile: a sandbox whose init still runs (same pid and start
    /// time) is adopted as it is (a paused one stays stopped); one whose processes are gone is
    /// recorded `destroyed` (its attachments are then released by the supervisor's reconcile); the
    /// processes of a record whose sandbox is destroyed or unknown are killed.
    @discardableResult
    public func reconcile() throws -> ReconcileReport {
        var report = ReconcileReport()
        for h in records.all() {
            let sandbox = try? store.sandbox(h.sandboxId, owner: nil)
            guard let sandbox, sandbox.state != .destroyed else {
                try? kill(h.sandboxId)
                if let sandbox { removeDirectories(try store.attachments(sandbox: sandbox.id, owner: nil, includeDetached: true)) }
                report.killed.append(h.sandboxId)
                continue
            }
            if h.isAlive {
                report.adopted.append(h.sandboxId)
                continue
            }
            records.remove(h.sandboxId)
            let atts = try store.attachments(sandbox: sandbox.id, owner: nil, includeDetached: true)
            supervisor.unmountAll(atts.filter { $0.state == .mounted }.map(\.id))
            _ = try store.setSandboxState(sandbox.id, owner: nil, to: .destroyed)
            removeDirectories(atts)
            report.gone.append(h.sandboxId)
        }
        return report
    }
}
