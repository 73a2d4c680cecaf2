// volumectl unmount: end a volume mount (its server commits and exits), or clean a dead one.
import ArgumentParser
import Foundation
import VolumeCore
import VolumeFUSE

struct UnmountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unmount",
        abstract: "Unmount a volume mounted with 'volumectl mount'.",
        discussion: """
            Every file must be closed first (closing commits its writes); --lazy detaches the mount
            at once and lets it end when the last open file is closed. A mount whose server died is
            detached (fusermount3 -uz) either way.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The mountpoint.")
    var mountpoint: String

    @Flag(help: "Detach now even if files are open under the mountpoint.")
    var lazy = false

    func run() throws {
        try global.requireLocal("unmount")
        try reporting {
            let path = try MountTable.canonical(mountpoint)
            guard let entry = MountTable.entry(at: path) else {
                throw VolumeError.notFound("\(path) is not a mount point")
            }
            guard entry.isVolume else {
                throw VolumeError.invalidArgument("\(path) is a \(entry.fsType) mount, not a volume; use umount")
            }
            let stale = MountTable.isStale(path)
            if MountTable.unmount(path, lazy: lazy || stale) {
                if global.json {
                    try printJSON(["mountpoint": path, "state": stale ? "stale-detached" : "unmounted"])
                } else {
                    print(stale ? "detached the dead mount at \(path)" : "unmounted \(path)")
                }
                return
            }
            writeStderr("volumectl: \(path) is busy: files are open under it; close them, or use --lazy\n")
            throw ExitCode(4)
        }
    }
}
