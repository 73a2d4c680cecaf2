// `volumectl volume list`: the volumes you can see, newest first.
import ArgumentParser
import Foundation
import VolumeCore

struct VolumeListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List volumes, newest first.",
        discussion: """
            Without --owner (or VOLUMES_TENANT) the list holds every tenant's volumes. \
            Columns: ID, NAME, SIZE (logical bytes), FILES, CAP, CREATED.

            Examples:
              volumectl volume list
              volumectl --owner acme volume list
              volumectl volume list --quiet          # IDs only
              volumectl volume list --json | jq '.[].volume_id'
            """,
        aliases: ["ls"]
    )

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "Print only the volume IDs.")
    var quiet = false

    func run() throws {
        try reporting {
            let volumes = try global.backend().listVolumes()
            if quiet && !global.json { volumes.forEach { print($0.volumeId) }; return }
            try global.output(volumes) {
                printTable(["ID", "NAME", "SIZE", "FILES", "CAP", "CREATED"], volumes.map {
                    [$0.volumeId, $0.name, ByteSize.format($0.sizeBytes), "\($0.fileCount)", ByteSize.format($0.quotaBytes), $0.createdAt]
                })
            }
        }
    }
}
