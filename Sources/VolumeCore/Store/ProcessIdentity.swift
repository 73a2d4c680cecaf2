// Who owns a piece of unfinished work: a process named so that a reused pid or a reboot is not mistaken for it.
import Foundation
import Synchronization

/// A process on this host, as `boot/pid/start`: the kernel's boot ID, the pid, and the process's start
/// time in clock ticks since boot (field 22 of `/proc/PID/stat`). A pid the kernel has since given to
/// another process has another start time; after a reboot the boot ID differs.
public struct ProcessIdentity: Hashable, Sendable, Codable, CustomStringConvertible {
    public let boot: String
    public let pid: Int32
    public let start: UInt64

    /// This process: worked out again after a fork (a mount server forked by `volumectl mount-launcher`
    /// must not claim its leases as the launcher).
    public static var current: ProcessIdentity {
        let pid = getpid()
        if let known = currentCache.withLock({ $0 }), known.pid == pid { return known }
        let identity = ProcessIdentity(boot: bootID, pid: pid, start: startTime(of: pid) ?? 0)
        currentCache.withLock { $0 = identity }
        return identity
    }
    private static let currentCache = Mutex<ProcessIdentity?>(nil)

    /// The kernel's boot ID (empty where it cannot be read).
    public static let bootID: String = ((try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)) ?? "")
        .trimmingCharacters(in: .whitespacesAndNewlines)

    public init(boot: String, pid: Int32, start: UInt64) {
        self.boot = boot
        self.pid = pid
        self.start = start
    }

    /// Process `pid` of this boot as it is now; nil when there is no such process.
    public init?(pid: Int32) {
        guard let start = Self.startTime(of: pid) else { return nil }
        self.init(boot: Self.bootID, pid: pid, start: start)
    }

    /// Parses `boot/pid/start`.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, let pid = Int32(parts[1]), let start = UInt64(parts[2]) else { return nil }
        self.init(boot: String(parts[0]), pid: pid, start: start)
    }

    public var description: String { "\(boot)/\(pid)/\(start)" }

    /// Whether this process (of this host) still runs: same boot, and the pid's start time unchanged.
    /// The same check as a lease holder's on this host (`Liveness`).
    public var isAlive: Bool { Liveness.local.isAlive(self) }

    /// The start time of process `pid` in clock ticks since boot, or nil when there is no such process
    /// or it has exited (a zombie not yet reaped).
    public static func startTime(of pid: Int32) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // After "pid (comm)" come the fields from 3 (state) on; the start time is field 22.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
        return UInt64(fields[19])
    }
}
