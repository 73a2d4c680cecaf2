// The one answer to "is the holder of this still there?", for leases and for the importing state of volumes.
import Foundation

/// Decides whether a holder is alive, as seen from one host and boot.
///
/// - A holder on this host and this boot is alive exactly while its pid has the start time it had
///   (a pid the kernel gave to another process since has another; an exited process has none).
///   Its expiry does not matter: the process table is the truth.
/// - A holder on this host but of another boot is dead: the host rebooted since, and no process
///   survives that.
/// - A holder on another host is alive until its lease's expiry (nil: no expiry known, dead).
public struct Liveness: Sendable {
    /// This host's ID.
    public let host: String
    /// This host's current boot ID.
    public let boot: String

    public init(host: String, boot: String) {
        self.host = host
        self.boot = boot
    }

    /// This host as it is.
    public static let local = Liveness(host: localHost, boot: ProcessIdentity.bootID)

    /// This host's ID: `/etc/machine-id`, else the kernel's host name.
    public static let localHost: String = {
        for file in ["/etc/machine-id", "/proc/sys/kernel/hostname"] {
            let text = ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty { return text }
        }
        return "localhost"
    }()

    /// Whether `holder` is alive at `now`, given the expiry of what it holds.
    public func isAlive(_ holder: LeaseHolder, expiresAt: Date?, now: Date) -> Bool {
        if holder.host == host { return isAlive(holder.process) }
        guard let expiresAt else { return false }
        return now < expiresAt
    }

    /// Whether `process`, a process of this host, is alive.
    public func isAlive(_ process: ProcessIdentity) -> Bool {
        guard process.boot == boot, process.pid > 0 else { return false }
        return ProcessIdentity.startTime(of: process.pid) == process.start
    }
}
