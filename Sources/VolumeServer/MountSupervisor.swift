// Host-path delivery: each mounted attachment is served by its own detached mount-server process; mount, unmount, reconcile.
import Foundation
import VolumeCore

#if canImport(Glibc)
import Glibc
#endif

/// Mounts attachments under `mountRoot/<attachment-id>`, each served by its own `volumectl mount`
/// process started in a new session without `auto_unmount`: it outlives the daemon (a crash, a
/// `kill -9`, an upgrade), and if it dies the mount answers ENOTCONN instead of showing the empty
/// directory under it. The records (`served_by`, `host_path`) say which process serves what, and
/// `reconcile()` converges them with `/proc/self/mountinfo` when the daemon starts.
/// All methods block: call them through the `BlockingBridge`.
public final class MountSupervisor: @unchecked Sendable {
    public let store: VolumeStore
    public let mountRoot: URL
    /// The `volumectl` executable that serves mounts.
    public let volumectl: String
    /// Attachments being mounted or unmounted now: one operation per attachment at a time.
    private var busy: Set<String> = []
    private let cond = NSCondition()

    public init(store: VolumeStore, mountRoot: URL, volumectl: String) {
        self.store = store
        self.mountRoot = mountRoot
        self.volumectl = volumectl
    }

    /// `volumectl` beside this process's executable (how volumed and volumectl are installed and built).
    public static func siblingVolumectl() -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("volumectl").path
    }

    /// Where attachment `id` is mounted on the host.
    public func hostPath(_ id: String) -> String { mountRoot.appendingPathComponent(id).path }

    private func exclusively<T>(_ id: String, _ body: () throws -> T) rethrows -> T {
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
    /// `host_path`) or `failed` with the reason. Returns the record.
    @discardableResult
    public func mount(_ id: String) throws -> Attachment {
        try exclusively(id) {
            let a = try store.attachment(id)
            guard a.detachedAt == nil else { return a }
            if a.state == .mounted, let s = a.servedBy, s.process.isAlive, MountInfo.current().contains(hostPath(id)) { return a }
            return try start(a)
        }
    }

    private func start(_ a: Attachment) throws -> Attachment {
        let path = hostPath(a.id)
        // A mount left by a server that died answers ENOTCONN: detach it before mounting again.
        if MountInfo.current().contains(path) { Self.fusermountUnmount(path, lazy: true) }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        var args = ["mount", a.volumeId, path, "--json", "--no-auto-unmount", "--strict-subpath",
                    "--data-dir", store.dataDir.path, "--log-file", mountRoot.appendingPathComponent(a.id + ".log").path]
        if a.readOnly { args.append("--read-only") }
        if a.subpath != "/" { args += ["--subpath", a.subpath] }
        let run: ToolResult
        do { run = try Self.runTool(volumectl, args) } catch {
            return try store.markAttachment(a.id, state: .failed, reason: .mountFailed, message: "cannot start \(volumectl): \(error)")
        }
        guard run.status == 0,
              let object = try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any],
              let pidText = object["pid"] as? String, let pid = Int32(pidText), let process = ProcessIdentity(pid: pid) else {
            let why = run.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            try? FileManager.default.removeItem(atPath: path)
            return try store.markAttachment(a.id, state: .failed, reason: Self.reason(for: why, volume: a.volumeId, store: store),
                                            message: "the mount failed: \(why.isEmpty ? "exit \(run.status)" : why)")
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
            let process = (try? store.attachment(id))?.servedBy?.process
            stopServer(path: path, process: process)
        }
    }

    private func stopServer(path: String, process: ProcessIdentity?) {
        if MountInfo.current().contains(path) {
            if !Self.fusermountUnmount(path, lazy: false) { Self.fusermountUnmount(path, lazy: true) }
        }
        // The server exits once its session ends (after committing); wait a bounded while for it.
        if let process {
            for _ in 0..<500 where process.isAlive { usleep(10_000) }
        }
        rmdir(path)
    }

    @discardableResult
    static func fusermountUnmount(_ path: String, lazy: Bool) -> Bool {
        let r = try? runTool("/usr/bin/env", ["fusermount3", lazy ? "-uz" : "-u", path])
        return r?.status == 0
    }

    // MARK: Reconcile

    /// What `reconcile` did, for the log.
    public struct ReconcileReport: Sendable, CustomStringConvertible {
        public var adopted: [String] = []
        public var remounted: [String] = []
        public var released: [String] = []
        public var failed: [String] = []
        public var orphansUnmounted: [String] = []
        public var description: String {
            "adopted \(adopted.count), remounted \(remounted.count), released \(released.count), failed \(failed.count), orphan mounts removed \(orphansUnmounted.count)"
        }
    }

    /// Converges the records with the kernel's mount table (at start-up, before listening): a
    /// `mounted` attachment whose server is alive and whose mount is in the table is adopted; one
    /// whose server died or whose mount vanished (a reboot) is mounted again; a `pending` one of a
    /// running sandbox is mounted; attachments of sandboxes that are not running have their mounts
    /// taken down and are `released`; a mount under `mountRoot` that no record serves is taken down.
    /// What cannot be mounted is `failed` with the reason.
    @discardableResult
    public func reconcile() throws -> ReconcileReport {
        var report = ReconcileReport()
        let table = MountInfo.current()
        var keep: Set<String> = []
        for sbx in try store.sandboxes(owner: nil, includeDestroyed: true) {
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
                    keep.insert(path)
                    report.adopted.append(a.id)
                    continue
                }
                let shouldMount = a.state == .mounted || (a.state == .released && a.reason == .pending)
                guard shouldMount else { continue }
                if let s = a.servedBy?.process, s.isAlive {
                    // Its server runs but its mount is gone: stop that server before starting another.
                    kill(s.pid, SIGTERM)
                    for _ in 0..<300 where s.isAlive { usleep(10_000) }
                }
                let after = try mount(a.id)
                if after.state == .mounted {
                    keep.insert(path)
                    report.remounted.append(a.id)
                } else {
                    report.failed.append(a.id)
                }
            }
        }
        for p in table.mountpoints where p.hasPrefix(mountRoot.path + "/") && !keep.contains(p) {
            Self.fusermountUnmount(p, lazy: true)
            rmdir(p)
            report.orphansUnmounted.append(p)
        }
        return report
    }

    // MARK: Running tools

    struct ToolResult { let status: Int32; let stdout: String; let stderr: String }

    /// Runs a tool to completion with its output in temporary files (a detached grandchild never
    /// holds a pipe of ours open).
    static func runTool(_ path: String, _ args: [String]) throws -> ToolResult {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("volumed-tool-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("o"), err = dir.appendingPathComponent("e")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.filter { $0.key != "VOLUMES_TENANT" }
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        try p.run()
        p.waitUntilExit()
        return ToolResult(status: p.terminationStatus,
                          stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                          stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}

/// The kernel's mount table as this process sees it (`/proc/self/mountinfo`).
struct MountInfo {
    let mountpoints: Set<String>

    func contains(_ path: String) -> Bool { mountpoints.contains(path) }

    static func current() -> MountInfo {
        let text = String(decoding: readProcFile("/proc/self/mountinfo"), as: UTF8.self)
        var points: Set<String> = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count > 4 else { continue }
            points.insert(unescape(String(fields[4])))
        }
        return MountInfo(mountpoints: points)
    }

    /// The whole of a `/proc` file: read(2) until end of file. (`String(contentsOfFile:)` stops after
    /// the first read, one page of a `/proc` file, whose size is 0: with more than about 40 mounts the
    /// table came back cut, and reconcile took live mounts for gone ones and remounted them.)
    static func readProcFile(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    /// mountinfo writes space, tab, newline and backslash as octal escapes (`\040`).
    static func unescape(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out: [UInt8] = []
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "\\"), i + 4 <= b.count,
               let v = UInt8(String(decoding: b[(i + 1)..<(i + 4)], as: UTF8.self), radix: 8) {
                out.append(v)
                i += 4
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
