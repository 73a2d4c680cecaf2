// `volumectl sandbox create`: a sandbox with its volumes attached, its processes run by the daemon's runtime.
import ArgumentParser
import Foundation
import VolumeAPI

struct SandboxCreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a sandbox and print its ID (with --json, the sandbox).",
        discussion: "Example: volumectl sandbox create --volume data:/data --volume models:/models:ro:subpath=/v2"
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("volume"), help: ArgumentHelp("Attach a volume: VOL:/MOUNT_PATH[:ro][:subpath=/DIR] (repeatable).", valueName: "spec"))
    var volumes: [String] = []
    @Option(help: "The sandbox user's uid (default 1000).")
    var uid: UInt32?
    @Option(help: "The sandbox user's gid (default 1000).")
    var gid: UInt32?
    @Option(help: "bwrap: the daemon runs the sandbox's processes; none: records and mounts only.")
    var runtime: String = "bwrap"

    func run() throws {
        try reporting {
            let client = try global.sandboxClient()
            let specs = try volumes.map { try VolumeSpec($0).resolved(client) }
            let request = CreateSandboxRequest(attachments: specs, uid: uid, gid: gid, runtime: runtime)
            let made = try blocking { try await client.sandboxes.create(request) }
            warnUnmounted(made)
            if global.json { try printJSON(made) } else { print(made.sandboxId) }
        }
    }
}
