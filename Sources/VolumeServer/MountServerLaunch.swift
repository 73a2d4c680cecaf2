// Starts one attachment's mount server (`volumectl mount --foreground`) detached, in a new session, and waits until it reports the mount usable.
import CSupport
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The one process start of an attach: the daemon starts the server itself (`csupport_spawn_detached`:
/// a grandchild in its own session, never the daemon's child, so it outlives the daemon and leaves no
/// zombie), with a pipe as its descriptor 3 (`VOLUMECTL_MOUNT_READY_FD`) on which the server writes
/// `ready MOUNTPOINT` once the mount is usable, or `error: ...`. (`volumectl mount` without
/// `--foreground` does the same for a person at a shell, at the cost of a second start of the binary.)
enum MountServerLaunch {
    enum Outcome {
        /// The mount is usable; `pid` serves it.
        case ready(pid: Int32)
        /// No mount: why (the server's own error line, or what became of it).
        case failed(String)
    }

    /// How long a server may take to report: past it the server is killed and the mount failed.
    static let readyTimeout: Double = 120

    /// Runs `volumectl` with `arguments` (which must include `--foreground`), its output appended to
    /// `log`. Blocks until the server reports, exits or times out.
    static func start(volumectl: String, arguments: [String], log: String, launcher: MountLauncher? = nil) throws -> Outcome {
        if let launcher, let outcome = launched(by: launcher, arguments: arguments, log: log) { return outcome }
        let out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard out >= 0 else { return .failed("cannot open the log \(log): \(String(cString: strerror(errno)))") }
        defer { close(out) }
        var fds: [Int32] = [0, 0]
        guard csupport_pipe_cloexec(&fds) == 0 else { return .failed("pipe: \(String(cString: strerror(errno)))") }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        defer { close(readEnd) }
        let (rc, pid) = spawn(volumectl, arguments, out: out, fd3: writeEnd)
        close(writeEnd)
        guard rc == 0 else { return .failed("cannot start \(volumectl): \(String(cString: strerror(rc)))") }
        var reader = LineReader(fd: readEnd)
        return report(&reader, pid: pid, log: log)
    }

    /// Starts `volumectl ARGUMENTS` detached (`csupport_spawn_detached`) with the daemon's environment
    /// less `VOLUMES_TENANT`, `out` as its stdout and stderr and `fd3` as its descriptor 3 (its ready
    /// descriptor, `VOLUMECTL_MOUNT_READY_FD`): a mount server, or the mount launcher. 0 and the pid, or an errno value.
    static func spawn(_ volumectl: String, _ arguments: [String], out: Int32, fd3: Int32) -> (rc: Int32, pid: Int32) {
        var env = ProcessInfo.processInfo.environment
        env["VOLUMES_TENANT"] = nil
        env["VOLUMECTL_MOUNT_READY_FD"] = "3"
        let cArgs = ([volumectl] + arguments).map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: Int32 = 0
        let rc = csupport_spawn_detached(volumectl, cArgs, cEnv, out, fd3, &pid)
        return (rc, pid)
    }

    /// The server's report on `reader`: `ready`, `error: ...`, or nothing (it died, or it is killed
    /// after `readyTimeout`: started just now and never reported, it may hold a half-made mount, which
    /// the caller's next start detaches).
    static func report(_ reader: inout LineReader, pid: Int32, log: String) -> Outcome {
        switch reader.next(timeout: readyTimeout) {
        case .line(let line) where line.hasPrefix("ready "):
            return .ready(pid: pid)
        case .line(let line) where line.hasPrefix("error: "):
            return .failed(String(line.dropFirst(7)))
        case .line(let line):
            return .failed("the mount server said '\(line)'; see \(log)")
        case .end:
            return .failed("the mount server exited before mounting; see \(log)")
        case .timeout:
            kill(pid, SIGKILL)
            return .failed("the mount server did not report within \(Int(readyTimeout)) s (killed); see \(log)")
        }
    }

    /// Has `launcher` fork the server; nil when it could not (then the caller starts the server itself).
    static func launched(by launcher: MountLauncher, arguments: [String], log: String) -> Outcome? {
        guard let fd = launcher.request(arguments: arguments, log: log) else { return nil }
        defer { close(fd) }
        var reader = LineReader(fd: fd)
        // The launcher forks at once; a launcher that does not answer within seconds is wedged.
        let first = reader.next(timeout: 10)
        guard case .line(let line) = first, line.hasPrefix("pid "), let pid = Int32(line.dropFirst(4)) else {
            // No server was forked (the launcher refused, died or hung): nothing to clean up.
            launcher.drop()
            return nil
        }
        return report(&reader, pid: pid, log: log)
    }

    /// Lines from a descriptor, one at a time, keeping what was read past a line for the next (a server
    /// reports only its first lines: helpers it starts, fusermount3, may keep the descriptor open).
    struct LineReader {
        let fd: Int32
        var pending = Data()

        init(fd: Int32) { self.fd = fd }

        mutating func next(timeout: Double) -> Read {
            var buf = [UInt8](repeating: 0, count: 4096)
            let deadline = Date().addingTimeInterval(timeout)
            while !pending.contains(UInt8(ascii: "\n")) {
                let left = deadline.timeIntervalSinceNow
                if left <= 0 { return .timeout }
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&p, 1, Int32(min(left * 1000, 60_000)) + 1)
                if ready < 0 {
                    if errno == EINTR { continue }
                    break
                }
                if ready == 0 { continue }
                let n = read(fd, &buf, buf.count)
                if n > 0 { pending.append(contentsOf: buf[0..<n]); continue }
                if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                break
            }
            guard let end = pending.firstIndex(of: UInt8(ascii: "\n")) else {
                let rest = String(decoding: pending, as: UTF8.self)
                pending.removeAll()
                return rest.isEmpty ? .end : .line(rest)
            }
            let line = String(decoding: pending[pending.startIndex..<end], as: UTF8.self)
            pending.removeSubrange(pending.startIndex...end)
            return .line(line)
        }
    }

    enum Read { case line(String), end, timeout }
}
