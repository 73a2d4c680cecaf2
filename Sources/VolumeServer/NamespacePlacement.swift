// Delivery "in the sandbox": a mounted attachment's mount placed at its mount_path inside the sandbox process's mount namespace, and taken out again.
import CSupport
import Foundation
import VolumeCore
import VolumeFUSE

#if canImport(Glibc)
import Glibc
#endif

/// Places and unplaces copies of host mounts inside a sandbox's mount namespace (`csupport_place_mount`:
/// open_tree, then setns and move_mount in a forked child). A placed copy shares the host mount's
/// superblock (same FUSE connection, same device number), so `MountTable` tells whether the copy at
/// `mount_path` is of the mount now at `host_path`.
enum NamespacePlacement {
    /// What is at `mountPath` in process `pid`'s namespace, for volume `volume`.
    enum Found: Equatable {
        /// No mount of this volume there.
        case nothing
        /// A copy of the mount now at the host path (same device).
        case current
        /// A copy of an older mount of the volume (its server replaced, or dead).
        case stale
    }

    /// The source a volume's FUSE mount shows in mountinfo (`fsname=volume:ID`).
    static func source(_ volume: String) -> String { "volume:\(volume)" }

    static func isOurs(_ e: MountTable.Entry, volume: String) -> Bool {
        e.fsType.hasPrefix("fuse") && e.source == source(volume)
    }

    /// What is at `mountPath` inside `pid`'s namespace, compared with the host mount at `hostPath`;
    /// nil when the process's mount table cannot be read (it is gone).
    static func find(pid: Int32, mountPath: String, volume: String, hostPath: String) -> Found? {
        guard let inside = MountTable.entries(ofProcess: pid) else { return nil }
        guard let e = inside.last(where: { $0.mountpoint == mountPath }), isOurs(e, volume: volume) else { return .nothing }
        if let host = MountTable.entry(at: hostPath), host.sameDevice(e) { return .current }
        return .stale
    }

    /// A failed step, for people.
    struct Failure: Error, CustomStringConvertible {
        let stage: Int32
        let errno: Int32
        var description: String {
            let step: String
            switch Int(stage) {
            case CSUPPORT_PLACE_OPEN: step = "opening the process's namespace"
            case CSUPPORT_PLACE_TREE: step = "open_tree of the host mount"
            case CSUPPORT_PLACE_FORK: step = "forking the placing child"
            case CSUPPORT_PLACE_SETNS: step = "setns into the namespace"
            case CSUPPORT_PLACE_ROOT: step = "entering the process's root"
            case CSUPPORT_PLACE_MKDIR: step = "creating the mount path's directories"
            case CSUPPORT_PLACE_MOVE: step = "move_mount to the mount path"
            case CSUPPORT_PLACE_UMOUNT: step = "umount2 of the mount path"
            default: step = "step \(stage)"
            }
            return "\(step): \(String(cString: strerror(errno)))"
        }
    }

    /// Places a copy of the mount at `hostPath` at `mountPath` inside `pid`'s namespace (its
    /// directories made when missing).
    static func place(hostPath: String, pid: Int32, mountPath: String) throws {
        var stage: Int32 = 0
        let rc = csupport_place_mount(hostPath, pid, mountPath, &stage)
        if rc != 0 { throw Failure(stage: stage, errno: rc) }
    }

    /// Detaches the mount at `mountPath` inside `pid`'s namespace (lazily: files open under it keep
    /// it until they are closed).
    static func unplace(pid: Int32, mountPath: String) throws {
        var stage: Int32 = 0
        let rc = csupport_unplace_mount(pid, mountPath, &stage)
        if rc != 0 { throw Failure(stage: stage, errno: rc) }
    }

    /// Takes every copy of `volume`'s mounts at `mountPath` out of `pid`'s namespace (a stale one
    /// may lie under a current one). Returns how many went.
    @discardableResult
    static func unplaceAll(pid: Int32, mountPath: String, volume: String) -> Int {
        var count = 0
        for _ in 0..<8 {
            guard let e = MountTable.entries(ofProcess: pid)?.last(where: { $0.mountpoint == mountPath }), isOurs(e, volume: volume) else { break }
            guard (try? unplace(pid: pid, mountPath: mountPath)) != nil else { break }
            count += 1
        }
        return count
    }
}
