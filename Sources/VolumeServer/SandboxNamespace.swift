// Checks the process a sandbox manager names as its sandbox's (`namespace_pid`): alive, and in a mount namespace other than the daemon's.
import Foundation
import VolumeCore

/// The mount namespace of a sandbox's process, as `/proc/PID/ns/mnt` names it.
enum SandboxNamespace {
    /// The namespace link of process `pid` (`mnt:[4026532301]`), or nil when it cannot be read.
    static func mountNamespace(of pid: Int32) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/mnt")
    }

    /// The daemon's own mount namespace.
    static var own: String? { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt") }

    /// Process `pid` as a `ProcessIdentity` (with its start time, so a reused pid is told apart),
    /// after checking it can receive mounts: it runs, and its mount namespace is not the daemon's
    /// (placing a mount there would put it on the host). Otherwise `invalid_argument` (400).
    static func process(pid: Int32) throws -> ProcessIdentity {
        guard pid > 0, let process = ProcessIdentity(pid: pid) else {
            throw APIFailure("invalid_argument", "namespace_pid \(pid) is not a running process of this host; give the pid of a process inside the sandbox (its mount namespace receives the attachments)")
        }
        guard let ns = mountNamespace(of: pid) else {
            throw APIFailure("invalid_argument", "namespace_pid \(pid): cannot read /proc/\(pid)/ns/mnt")
        }
        if ns == own {
            throw APIFailure("invalid_argument", "namespace_pid \(pid) is in the daemon's own mount namespace (\(ns)); placing mounts there would put them on the host. Give a process that runs in the sandbox's own mount namespace (unshare --mount, bwrap, a container)")
        }
        return process
    }

    /// Refuses (`forbidden`, 403) a process whose mount namespace is that of a live sandbox of another
    /// tenant: one tenant cannot have its volumes placed in another's sandbox.
    static func checkNotAnothers(_ process: ProcessIdentity, tenant: String, store: VolumeStore) throws {
        guard let ns = mountNamespace(of: process.pid) else { return }
        for s in try store.sandboxes(owner: nil) where s.ownerId != tenant {
            if let p = s.namespace, p.isAlive, mountNamespace(of: p.pid) == ns {
                throw APIFailure("forbidden", "namespace_pid \(process.pid) is in the mount namespace of a sandbox of another tenant")
            }
        }
    }
}
