// Ties a sandbox runtime (bwrap) to the sandbox records and the mount supervisor: start, freeze, thaw, destroy, exec, reconcile.
import Foundation
import SandboxRuntime
import VolumeCore

#if canImport(Glibc)
import Glibc
#endif

/// Runs sandboxes that ask for a runtime (`"runtime": "bwrap"`), beside the mounts of their attachments.
/// Attachments known at create are delivered through mount propagation: the mount root is a shared
/// mount, each attachment's host directory is bound at its `mount_path` in the sandbox *before* its
/// volume is mounted there, so every mount and unmount the supervisor makes on the host (resume,
/// pause, a remount at reconcile) appears inside the running sandbox too. The runtime's own records
/// (`DATA_DIR/runtime/<sandbox>.json`: pid, start time, uid, gid) survive a daemon restart.
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
        let records = self.records, store = supervisor.store
        // A sandbox's attachment directories stay while it lives: its view binds them.
        supervisor.retainsDirectory = { id in
            guard let a = try? store.attachment(id) else { return false }
            return records.load(a.sandboxId) != nil
        }
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

    // MARK: Mount propagation

    /// Makes the mount root a shared mount (a bind of itself) so that mounts under it reach the
    /// sandboxes' views. Done once, before any mount under it (a bind over existing mounts would hide them).
    public func prepareMountRoot() throws {
        let root = supervisor.mountRoot.path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let table = MountInfo.current()
        if !table.contains(root) {
            if table.mountpoints.contains(where: { $0.hasPrefix(root + "/") }) {
                throw RuntimeError("\(root) has mounts under it but is not a mount itself; unmount them (or restart without --sandbox-runtime) first")
            }
            guard (try? MountSupervisor.runTool("/usr/bin/env", ["mount", "--bind", root, root]))?.status == 0 else {
                throw RuntimeError("cannot bind \(root) onto itself")
            }
        }
        guard (try? MountSupervisor.runTool("/usr/bin/env", ["mount", "--make-shared", root]))?.status == 0 else {
            throw RuntimeError("cannot make \(root) a shared mount")
        }
    }

    // MARK: Lifecycle

    /// Starts the sandbox's processes with each attachment's host directory bound at its `mount_path`
    /// (empty until the supervisor mounts the volume there), and records the runtime's handle.
    public func start(_ sandbox: Sandbox, attachments: [Attachment], uid: UInt32, gid: UInt32, runtime: any SandboxRuntime) throws -> RuntimeHandle {
        var binds: [SandboxSpec.Bind] = []
        for a in attachments {
            let dir = supervisor.hostPath(a.id)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            binds.append(.init(source: dir, target: a.mountPath.path, readOnly: a.readOnly))
        }
        let handle = try runtime.spawn(SandboxSpec(id: sandbox.id, uid: uid, gid: gid, binds: binds))
        do { try records.save(handle) } catch {
            try? runtime.kill(handle)
            throw error
        }
        return handle
    }

    /// `start`, and when the runtime cannot start the sandbox, the new record is destroyed again
    /// (its attachments released) and the failure is `runtime_failed` (500).
    public func startOrUndo(_ sandbox: Sandbox, _ attachments: [Attachment], uid: UInt32, gid: UInt32, runtime: any SandboxRuntime) throws -> RuntimeHandle {
        do {
            return try start(sandbox, attachments: attachments, uid: uid, gid: gid, runtime: runtime)
        } catch {
            _ = try? store.setSandboxState(sandbox.id, owner: nil, to: .destroyed)
            removeDirectories(attachments)
            throw APIFailure("runtime_failed", "the sandbox could not be started: \(error)")
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
            for a in atts where a.state == .mounted { supervisor.unmount(a.id) }
            _ = try store.setSandboxState(sandbox.id, owner: nil, to: .destroyed)
            removeDirectories(atts)
            report.gone.append(h.sandboxId)
        }
        return report
    }
}
