// Delivery: each mounted attachment is served by its own detached mount-server process at its host path (and placed in the sandbox's namespace when it has one); mount, unmount, reconcile.
import Foundation
import VolumeCore
import VolumeFUSE

#if canImport(Glibc)
import Glibc
#endif

/// Mounts attachments under `mountRoot/<attachment-id>`, each served by its own `volumectl mount`
/// process started in a new session without `auto_unmount`: it outlives the daemon (a crash, a
/// `kill -9`, an upgrade), and if it dies the mount answers ENOTCONN instead of showing the empty
/// directory under it. The records (`served_by`, `host_path`) say which process serves what, and
/// `reconcile()` converges them with `/proc/self/mountinfo` when the daemon starts. An attachment of
/// a sandbox with a namespace process is also placed inside that process's mount namespace
/// (`NamespacePlacement`, see `SandboxDelivery.swift`). All methods block: call them through the `BlockingBridge`.
public final class MountSupervisor: @unchecked Sendable {
    public let store: VolumeStore
    public let mountRoot: URL
    /// The `volumectl` executable that serves mounts.
    public let volumectl: String
    /// Forks mount servers from a warm process (nil: each is started anew, `volumectl mount --foreground`).
    public let launcher: MountLauncher?
    /// Attachments being mounted or unmounted now: one operation per attachment at a time.
    private var busy: Set<String> = []
    private let cond = NSCondition()
    /// Sandboxes in a pause, hibernate, resume or destroy now: the namespace sweep leaves them alone (a
    /// destroy kills the processes before it records the end, and must not see them called gone meanwhile).
    private var transitioning: [String: Int] = [:]

    /// `warmLauncher`: fork mount servers from one `volumectl mount-launcher` (`MountLauncher`, its log
    /// in `mountRoot/launcher.log`) rather than start the binary for each; volumed starts it before reconcile,
    /// and a mount request starts it again when it is gone.
    public init(store: VolumeStore, mountRoot: URL, volumectl: String, warmLauncher: Bool = false) {
        self.store = store
        self.mountRoot = mountRoot
        self.volumectl = volumectl
        launcher = warmLauncher
            ? MountLauncher(volumectl: volumectl, dataDir: store.dataDir.path, log: mountRoot.appendingPathComponent("launcher.log").path)
            : nil
    }

    /// `volumectl` beside this process's executable (how volumed and volumectl are installed and built).
    public static func siblingVolumectl() -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("volumectl").path
    }

    /// Where attachment `id` is mounted on the host.
    public func hostPath(_ id: String) -> String { mountRoot.appendingPathComponent(id).path }

    /// Runs a sandbox's state change (`body`) with the namespace sweep kept off that sandbox.
    public func transition<T>(_ sandbox: String, _ body: () throws -> T) rethrows -> T {
        cond.lock()
        transitioning[sandbox, default: 0] += 1
        cond.unlock()
        defer {
            cond.lock()
            transitioning[sandbox, default: 1] -= 1
            if transitioning[sandbox] == 0 { transitioning[sandbox] = nil }
            cond.unlock()
        }
        return try body()
    }

    /// Whether a state change of `sandbox` is under way (see `transition`).
    func inTransition(_ sandbox: String) -> Bool {
        cond.lock()
        defer { cond.unlock() }
        return transitioning[sandbox] != nil
    }

    func exclusively<T>(_ id: String, _ body: () throws -> T) rethrows -> T {
        cond.lock()
        while busy.contains(id) { cond.wait() }
        busy.insert(id)
        cond.unlock()
        defer {
            cond.lock()
            busy.remove(id)
            cond.broadcast()
            cond.unlock()
        }
        return try body()
    }

    // MARK: Mounting

    /// Mounts attachment `id` unless it is already served; records `mounted` (with the server and
    /// `host_path`) or `failed` with the reason. An attachment delivered `namespace` is then placed
    /// at its `mount_path` inside the sandbox process's mount namespace (unless a copy of this mount
    /// is there already); a sandbox whose process is gone makes it `failed`, `sandbox_gone`, with no
    /// mount left. Returns the record.
    @discardableResult
    public func mount(_ id: String) throws -> Attachment {
        try exclusively(id) {
            let a = try store.attachment(id)
            guard a.detachedAt == nil else { return a }
            var namespace: ProcessIdentity?
            if a.delivery == .namespace {
                let sbx = try store.sandbox(a.sandboxId, owner: nil)
                guard let ns = sbx.namespace, ns.isAlive else { return try sandboxGone(a, sbx) }
                namespace = ns
            }
            var current = a
            if !(a.state == .mounted && (a.servedBy?.process.isAlive ?? false) && MountTable.entry(at: hostPath(id)) != nil) {
                current = try start(a)
            }
            guard let namespace, current.state == .mounted else { return current }
            return try place(current, in: namespace).record
        }
    }

    func start(_ a: Attachment) throws -> Attachment {
        let path = hostPath(a.id)
        // A mount left by a server that died answers ENOTCONN: detach it before mounting again.
        if MountTable.entry(at: path) != nil { MountTable.unmount(path, lazy: true) }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        var args = ["mount", a.volumeId, path, "--foreground", "--no-auto-unmount", "--strict-subpath", "--data-dir", store.dataDir.path]
        if a.readOnly { args.append("--read-only") }
        if a.subpath != "/" { args += ["--subpath", a.subpath] }
        if let owner = try Self.sandboxUser(a, store: store) { args += ["--map-root", owner.description] }
        let pid: Int32
        switch try MountServerLaunch.start(volumectl: volumectl, arguments: args, log: mountRoot.appendingPathComponent(a.id + ".log").path,
                                             launcher: launcher) {
        case .ready(let p):
            pid = p
        case .failed(let why):
            // (A server that was killed for not reporting may have left a dead mount.)
            if MountTable.entry(at: path) != nil { MountTable.unmount(path, lazy: true) }
            rmdir(path)
            return try store.markAttachment(a.id, state: .failed, reason: Self.reason(for: why, volume: a.volumeId, store: store),
                                            message: "the mount failed: \(why)")
        }
        guard let process = ProcessIdentity(pid: pid) else {
            stopServer(path: path, process: nil)
            return try store.markAttachment(a.id, state: .failed, reason: .mountFailed,
                                            message: "the mount server (pid \(pid)) exited right after mounting; see \(mountRoot.appendingPathComponent(a.id + ".log").path)")
        }
        let holder = LeaseHolder(host: store.currentHolder.host, process: process)
        do {
            return try store.markAttachment(a.id, state: .mounted, reason: .mounted,
                                            message: "served by pid \(pid) at \(path)", servedBy: holder, hostPath: path)
        } catch {
            // Recorded nowhere: take the mount down again rather than leave a server nobody knows.
            stopServer(path: path, process: process)
            throw error
        }
    }

    /// The user the attachment's sandbox runs its programs as, when it said one other than root: the
    /// mount shows the volume's root-owned entries as that user's (`--map-root`, `OwnerMapping`).
    static func sandboxUser(_ a: Attachment, store: VolumeStore) throws -> FileOwner? {
        let sbx = try store.sandbox(a.sandboxId, owner: nil)
        guard let uid = sbx.uid ?? sbx.gid else { return nil }
        let owner = FileOwner(uid: sbx.uid ?? 0, gid: sbx.gid ?? uid)
        return owner == .root ? nil : owner
    }

    /// The reason code for a failed mount: the volume gone, the subpath gone, or the mount itself.
    static func reason(for message: String, volume: String, store: VolumeStore) -> AttachmentReason {
        if (try? store.info(volume, owner: nil)) == nil { return .volumeDeleted }
        if message.contains("subpath") { return .subpathInvalid }
        return .mountFailed
    }

    // MARK: Unmounting

    /// Takes attachment `id`'s mount down: the server commits what it buffered and exits. The record
    /// is left to the caller (pause, destroy and detach record their own reasons). Files still
    /// open under the mount make a plain unmount fail; the mount is then detached lazily (the
    /// server finishes when the last of them closes).
    public func unmount(_ id: String) {
        exclusively(id) {
            let path = hostPath(id)
            let a = try? store.attachment(id)
            // A placed copy shares the host mount's superblock: it goes first, or the server would
            // keep serving it after the host unmount.
            if let a { unplace(a) }
            stopServer(path: path, process: a?.servedBy?.process)
        }
    }

    func stopServer(path: String, process: ProcessIdentity?) {
        if MountTable.entry(at: path) != nil, !MountTable.unmount(path, lazy: false) {
            MountTable.unmount(path, lazy: true)
        }
        // The server exits once its session ends (after committing); wait a bounded while for it.
        if let process {
            for _ in 0..<500 where process.isAlive { usleep(10_000) }
        }
        rmdir(path)
    }

    // MARK: Reconcile

    /// What `reconcile` did, for the log.
    public struct ReconcileReport: Sendable, CustomStringConvertible {
        public var adopted: [String] = []
        public var remounted: [String] = []
        public var released: [String] = []
        public var failed: [String] = []
        public var orphansUnmounted: [String] = []
        /// Adopted host mounts whose copy inside the sandbox's namespace had to be placed again.
        public var placed: [String] = []
        public var description: String {
            "adopted \(adopted.count), remounted \(remounted.count), released \(released.count), failed \(failed.count), "
                + "placed again in namespaces \(placed.count), orphan mounts removed \(orphansUnmounted.count)"
        }
    }

    /// Converges the records with the kernel's mount table (at start-up, before listening): a
    /// `mounted` attachment whose server is alive and whose mount is in the table is adopted; every
    /// other intent of a running sandbox is mounted (again), as a resume does: one whose server died
    /// or whose mount vanished (a reboot), a `pending` one, one left `released` by a crash in the
    /// middle of a resume; attachments of sandboxes that are not running have their mounts
    /// taken down and are `released`; a mount under `mountRoot` that no record serves is taken down.
    /// What cannot be mounted is `failed` with the reason. A sandbox's intents are mounted at once
    /// (`mountAll`), one sandbox after another.
    @discardableResult
    public func reconcile() throws -> ReconcileReport {
        var report = ReconcileReport()
        let table = Set(MountTable.entries().map(\.mountpoint))
        var keep: Set<String> = []
        for sbx in try store.sandboxes(owner: nil, includeDestroyed: true) {
            var toMount: [String] = []
            for a in try store.attachments(sandbox: sbx.id, owner: nil) {
                let path = hostPath(a.id)
                if sbx.state != .running {
                    if a.state == .mounted || table.contains(path) {
                        unmount(a.id)
                        let reason: AttachmentReason = sbx.state == .destroyed ? .sandboxDestroyed
                            : sbx.state == .paused ? .sandboxPaused : .sandboxHibernated
                        _ = try? store.markAttachment(a.id, state: .released, reason: reason, message: "sandbox \(sbx.id) is \(sbx.state.rawValue) (reconciled at start)")
                        report.released.append(a.id)
                    }
                    continue
                }
                if a.state == .mounted, let s = a.servedBy, s.process.isAlive, table.contains(path) {
                    if a.delivery == .namespace {
                        // The host mount is served; the copy inside must be of it (placed again if not).
                        let (after, placedAgain) = try adoptPlacement(a, sandbox: sbx)
                        guard after.state == .mounted else { report.failed.append(a.id); continue }
                        if placedAgain { report.placed.append(a.id) }
                    }
                    keep.insert(path)
                    report.adopted.append(a.id)
                    continue
                }
                // Every other intent of a running sandbox is mounted, as a resume mounts them: `pending`
                // (a crash between the record and the mount), `released` (a crash in a resume, after
                // the sandbox became running), `failed` (tried again, as a resume tries it).
                if let s = a.servedBy?.process, s.isAlive {
                    // Its server runs but its mount is gone: stop that server before starting another
                    // (a copy of its mount inside the sandbox first, which would keep it serving).
                    unplace(a)
                    kill(s.pid, SIGTERM)
                    for _ in 0..<300 where s.isAlive { usleep(10_000) }
                }
                toMount.append(a.id)
            }
            // The sandbox's intents to mount, at once (as a resume mounts them).
            for after in try mountAll(toMount) {
                if after.state == .mounted {
                    keep.insert(hostPath(after.id))
                    report.remounted.append(after.id)
                } else {
                    report.failed.append(after.id)
                }
            }
        }
        for p in table where p.hasPrefix(mountRoot.path + "/") && !keep.contains(p) {
            MountTable.unmount(p, lazy: true)
            rmdir(p)
            report.orphansUnmounted.append(p)
        }
        return report
    }
}
