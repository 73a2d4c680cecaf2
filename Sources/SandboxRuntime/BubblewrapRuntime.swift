// The reference runtime: each sandbox is a bubblewrap process with its own mount, PID, IPC and UTS namespaces.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs each sandbox as `bwrap` (Debian's `bubblewrap`): its own mount, PID, IPC and UTS namespaces,
/// a private root (a tmpfs with read-only binds of `/usr`, the `/bin`/`/lib*` links and the few
/// `/etc` files programs need, a fresh `/proc`, `/dev` and `/tmp`), the network of the host, and a
/// `sleep infinity` as the unprivileged user under bwrap's own PID-1 reaper. It is started in a new
/// session and without `--die-with-parent`, so a `kill -9` of the daemon leaves it running.
/// `exec` enters its namespaces with `nsenter` and drops to its user with `setpriv`; `freeze` and
/// `thaw` are SIGSTOP and SIGCONT to every process of its PID namespace.
public struct BubblewrapRuntime: SandboxRuntime {
    public let name = "bwrap"
    /// The bwrap executable.
    public let bwrap: String
    /// Where each sandbox's info and log files go.
    public let stateDir: URL

    public init(bwrap: String, stateDir: URL) {
        self.bwrap = bwrap
        self.stateDir = stateDir
    }

    /// `bwrap` on PATH, or nil.
    public static func findOnPath() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/bwrap"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The `/etc` entries bound read-only into every sandbox (when the host has them).
    static let etcEntries = ["passwd", "group", "nsswitch.conf", "hosts", "resolv.conf", "ld.so.cache", "ld.so.conf",
                             "ld.so.conf.d", "alternatives", "localtime", "ssl", "ca-certificates"]

    /// bwrap's arguments for a sandbox (without the info descriptor).
    func arguments(_ spec: SandboxSpec) -> [String] {
        var a = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", "sandbox",
                 "--ro-bind", "/usr", "/usr"]
        let fm = FileManager.default
        for top in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
            if let target = try? fm.destinationOfSymbolicLink(atPath: top) {
                a += ["--symlink", target, top]
            } else if fm.fileExists(atPath: top) {
                a += ["--ro-bind", top, top]
            }
        }
        for e in Self.etcEntries { a += ["--ro-bind-try", "/etc/" + e, "/etc/" + e] }
        a += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
        for b in spec.binds { a += [b.readOnly ? "--ro-bind" : "--bind", b.source, b.target] }
        a += ["--chdir", "/", "--info-fd", "3", "--",
              "/usr/bin/setpriv", "--reuid=\(spec.uid)", "--regid=\(spec.gid)", "--clear-groups", "--inh-caps=-all",
              "--", "/usr/bin/sleep", "infinity"]
        return a
    }

    public func spawn(_ spec: SandboxSpec) throws -> RuntimeHandle {
        try FileManager.default.createDirectory(at: stateDir, withIntermediateDirectories: true)
        let info = stateDir.appendingPathComponent(spec.id + ".info").path
        let log = stateDir.appendingPathComponent(spec.id + ".log").path
        try? FileManager.default.removeItem(atPath: info)
        // `setsid -f` forks: bwrap is nobody's child here and leads its own session. Its info
        // descriptor is a file: the child's pid arrives there once the namespaces exist.
        let script = Tool.closingDescriptors("info=$1; log=$2; shift 2; exec /usr/bin/setsid -f \"$@\" 3>\"$info\" >\"$log\" 2>&1 </dev/null")
        let run = try Tool.run("/bin/bash", ["-c", script, "bash", info, log, bwrap] + arguments(spec))
        guard run.status == 0 else { throw RuntimeError("cannot start bwrap: \(run.stderr)") }
        var pid: Int32?
        for _ in 0..<500 {
            if let data = FileManager.default.contents(atPath: info),
               let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
               let p = object["child-pid"] as? Int {
                pid = Int32(p)
                break
            }
            usleep(10_000)
        }
        guard let pid, let start = ProcessTable.startTime(of: pid) else {
            let why = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw RuntimeError("bwrap did not start the sandbox: \(why.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return RuntimeHandle(sandboxId: spec.id, runtime: name, pid: pid, startTime: start, uid: spec.uid, gid: spec.gid)
    }

    public func exec(_ handle: RuntimeHandle, _ spec: ExecSpec) throws -> ExecOutcome {
        guard handle.isAlive else { throw RuntimeError("the sandbox's processes are gone") }
        guard let first = spec.argv.first, !first.isEmpty else { throw RuntimeError("argv is empty") }
        let args = ["-t", String(handle.pid), "-m", "-p", "-i", "-u", "-r", "-w", "--",
                    "/usr/bin/setpriv", "--reuid=\(handle.uid)", "--regid=\(handle.gid)", "--clear-groups", "--inh-caps=-all",
                    "--", "/usr/bin/env", "-C", spec.cwd,
                    "/usr/bin/timeout", "-k", "5", String(spec.timeoutSeconds)] + spec.argv
        var env = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"]
        for (k, v) in spec.env { env[k] = v }
        return try Tool.capture("/bin/bash", ["-c", Tool.closingDescriptors("exec \"$@\""), "bash", "/usr/bin/nsenter"] + args,
                                env: env, stdin: spec.stdin, limit: spec.outputLimit)
    }

    public func freeze(_ handle: RuntimeHandle) throws {
        guard handle.isAlive else { throw RuntimeError("the sandbox's processes are gone") }
        // Stop every process of the namespace, again until a pass finds none running (a fork
        // during a pass is caught by the next one). A zombie runs nothing (a child that exited just
        // before its parent stopped stays one until the resume); a process in a system call it
        // cannot leave (D: an fsync through a mount whose server is busy) stops when the call
        // returns, so the bound is seconds, not milliseconds.
        var pause: UInt32 = 1_000
        for _ in 0..<200 {
            let running = ProcessTable.members(ofNamespaceOf: handle.pid).filter {
                guard let state = ProcessTable.state(of: $0) else { return false }
                return !["T", "t", "Z", "X"].contains(state)
            }
            if running.isEmpty { return }
            for p in running { Glibc.kill(p, SIGSTOP) }
            usleep(pause)
            pause = min(pause * 2, 50_000)
        }
        throw RuntimeError("the sandbox's processes did not all stop within 10 s (a process blocked in a system call?)")
    }

    public func thaw(_ handle: RuntimeHandle) throws {
        guard handle.isAlive else { throw RuntimeError("the sandbox's processes are gone") }
        for p in ProcessTable.members(ofNamespaceOf: handle.pid) { Glibc.kill(p, SIGCONT) }
    }

    public func rename(_ from: String, to: String) {
        for f in [".info", ".log"] {
            try? FileManager.default.moveItem(at: stateDir.appendingPathComponent(from + f), to: stateDir.appendingPathComponent(to + f))
        }
    }

    public func kill(_ handle: RuntimeHandle) throws {
        // SIGKILL to a PID namespace's init kills every process in it.
        if handle.isAlive { Glibc.kill(handle.pid, SIGKILL) }
        for _ in 0..<500 where handle.isAlive { usleep(10_000) }
        if handle.isAlive { throw RuntimeError("the sandbox's init \(handle.pid) did not die") }
        for f in [".info", ".log"] { try? FileManager.default.removeItem(at: stateDir.appendingPathComponent(handle.sandboxId + f)) }
    }
}
