// volumectl mount-launcher (hidden, started by volumed): a warm, single-threaded process that forks one mount server per request instead of the daemon starting the binary anew.
import ArgumentParser
import CSupport
import Foundation
import VolumeCore

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's mount servers without a process start each: volumed starts this command once, with
/// a `SOCK_SEQPACKET` socket as descriptor 3. Each request on it is one message, the log path and
/// the arguments of a `volumectl mount ... --foreground`, NUL-separated, carrying one descriptor
/// (a socket). For each the launcher forks a detached grandchild (a new session, never the daemon's
/// nor the launcher's child, so it outlives both) which writes `pid PID` on that socket, then runs
/// the mount with the socket as its ready descriptor (`ready MOUNTPOINT` or `error: ...`, as a
/// started server does). The launcher itself never starts a thread, so forking it is safe; it
/// checks that before each fork and, were another thread there, answers `error:` and exits, and the
/// daemon starts the binary instead. It exits when the daemon's end of descriptor 3 closes.
struct MountLauncherCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount-launcher",
        abstract: "Fork mount servers on the daemon's request (started by volumed; not for use by hand).",
        shouldDisplay: false
    )

    @Option(name: .customLong("data-dir"), help: "The daemon's data directory (shown in ps; each request names its own).")
    var dataDir: String?

    @Option(name: .customLong("title-room"), help: "Ignored: room for a forked server's command line in ps.")
    var titleRoom: String?

    /// The descriptor the daemon's requests arrive on.
    static let control: Int32 = 3
    /// The largest request (log path and arguments).
    static let maxRequest = 64 * 1024

    func run() throws {
        Self.warmUp()
        var buffer = [UInt8](repeating: 0, count: Self.maxRequest)
        while true {
            var conn: Int32 = -1
            let n = buffer.withUnsafeMutableBytes { csupport_recv_with_fd(Self.control, $0.baseAddress, UInt($0.count), &conn) }
            if n == 0 { Foundation.exit(0) }  // the daemon is gone
            if n < 0 {
                if errno == EMSGSIZE { continue }  // an oversized request: its descriptor is closed, the daemon sees EOF
                Foundation.exit(0)
            }
            guard conn >= 0 else { continue }
            let fields = buffer[0..<n].split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            guard fields.count >= 2 else {
                Self.say(conn, "error: a launcher request needs a log path and arguments")
                close(conn)
                continue
            }
            guard Self.threadCount() == 1 else {
                Self.say(conn, "error: the mount launcher has more than one thread and cannot fork safely")
                Foundation.exit(70)
            }
            let launcher = getpid()
            let pid = csupport_fork_detached(fields[0], conn)
            if pid == 0 {
                // The grandchild: become the server this request asks for.
                Self.say(3, "pid \(getpid())")
                Self.say(2, "volumectl: mount server \(getpid()) forked by the mount launcher (pid \(launcher))")
                let arguments = Array(fields.dropFirst())
                csupport_set_title(CommandLine.unsafeArgv, CommandLine.argc, (["volumectl"] + arguments).joined(separator: " "))
                Volumectl.run(arguments)
                Foundation.exit(0)
            }
            if pid < 0 { Self.say(conn, "error: fork: \(String(cString: strerror(-pid)))") }
            close(conn)
        }
    }

    /// What every server would otherwise do first, done once here (no thread is started by any of it).
    static func warmUp() {
        _ = ProcessInfo.processInfo.environment
        _ = FileManager.default.currentDirectoryPath
        _ = Volumectl.configuration
        _ = try? Volumectl.parseAsRoot(["mount", "warm-up", "/", "--foreground"])
        // The boot ID and this process's identity (a forked server works its own out again: `ProcessIdentity.current`).
        _ = ProcessIdentity.current
        _ = Liveness.local
    }

    /// How many threads this process has (/proc/self/task).
    static func threadCount() -> Int {
        guard let dir = opendir("/proc/self/task") else { return 0 }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            if entry.pointee.d_name.0 != CChar(UInt8(ascii: ".")) { count += 1 }
        }
        return count
    }

    static func say(_ fd: Int32, _ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}
