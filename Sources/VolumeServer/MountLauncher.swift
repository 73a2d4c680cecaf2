// The daemon's side of `volumectl mount-launcher`: one warm process that forks each mount server on request, so an attach costs a fork instead of starting the binary.
import CSupport
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Starts `volumectl mount-launcher` (detached, as a mount server is, with a `SOCK_SEQPACKET` socket as
/// its descriptor 3) and hands it mount requests: the log path and the server's arguments, with one
/// end of a new socket pair on which the forked server answers `pid PID`, then `ready MOUNTPOINT` or
/// `error: ...`. Starting the 117 MB binary (dynamic linking, Swift and Foundation start-up) is most of
/// an attach's time; a fork of the warm, single-threaded launcher is about a millisecond.
///
/// When the launcher cannot take a request (not started, died, refused), `launch` returns nil and the
/// caller starts the server itself (`csupport_spawn_detached`); the launcher is started again on a later
/// request. It exits when the daemon does (the daemon's end of its socket closes); the servers it forked
/// are in their own sessions and keep serving.
public final class MountLauncher: @unchecked Sendable {
    public let volumectl: String
    public let dataDir: String
    public let log: String
    private let lock = NSLock()
    private var control: Int32 = -1
    private var pid: Int32 = 0
    private var lastStart = Date.distantPast

    public init(volumectl: String, dataDir: String, log: String) {
        self.volumectl = volumectl
        self.dataDir = dataDir
        self.log = log
    }

    deinit { if control >= 0 { close(control) } }

    /// The launcher's pid while it runs (0 before it started or after it died).
    public var launcherPID: Int32 {
        lock.lock()
        defer { lock.unlock() }
        return control >= 0 && kill(pid, 0) == 0 ? pid : 0
    }

    /// Starts the launcher unless it runs; true when it runs. A failed start is retried at most once a second.
    @discardableResult
    public func start() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return startLocked()
    }

    private func startLocked() -> Bool {
        if control >= 0 { return true }
        guard Date().timeIntervalSince(lastStart) >= 1 else { return false }
        lastStart = Date()
        var fds: [Int32] = [0, 0]
        guard csupport_socketpair_cloexec(Int32(SOCK_SEQPACKET.rawValue), &fds) == 0 else { return false }
        let out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        let outFD = out >= 0 ? out : open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(outFD) }
        // The room a forked server's command line takes in ps (csupport_set_title writes over it).
        let room = String(repeating: " ", count: 1024)
        let (rc, child) = MountServerLaunch.spawn(volumectl, ["mount-launcher", "--data-dir", dataDir, "--title-room", room],
                                                  out: outFD, fd3: fds[1])
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            return false
        }
        control = fds[0]
        pid = child
        return true
    }

    /// Forgets the launcher: closing our end of its socket makes it exit (its pid is not killed: the
    /// launcher is not our child, so the pid may already be another process's). The next request starts a new one.
    private func dropLocked() {
        guard control >= 0 else { return }
        close(control)
        control = -1
        pid = 0
    }

    /// Forgets a launcher that did not answer a request as it should.
    public func drop() {
        lock.lock()
        defer { lock.unlock() }
        dropLocked()
    }

    /// Asks the launcher for a server running `volumectl ARGUMENTS` with its output appended to `log`.
    /// Returns the descriptor on which the server reports (the caller reads `pid`, then `ready`/`error`,
    /// and closes it), or nil when the launcher cannot take the request: start the server another way.
    public func request(arguments: [String], log serverLog: String) -> Int32? {
        var request = Data(serverLog.utf8)
        for a in arguments {
            request.append(0)
            request.append(contentsOf: a.utf8)
        }
        guard request.count <= 64 * 1024, !serverLog.utf8.contains(0), !arguments.contains(where: { $0.utf8.contains(0) }) else { return nil }
        var pair: [Int32] = [0, 0]
        guard csupport_socketpair_cloexec(Int32(SOCK_STREAM.rawValue), &pair) == 0 else { return nil }
        lock.lock()
        defer { lock.unlock() }
        guard startLocked() else {
            close(pair[0]); close(pair[1])
            return nil
        }
        let rc = request.withUnsafeBytes { csupport_send_with_fd(control, $0.baseAddress, UInt($0.count), pair[1]) }
        close(pair[1])
        guard rc == 0 else {
            dropLocked()
            close(pair[0])
            return nil
        }
        return pair[0]
    }

    /// Stops the launcher (the servers it forked keep serving).
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        dropLocked()
    }
}
