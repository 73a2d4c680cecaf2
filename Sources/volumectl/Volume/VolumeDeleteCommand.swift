// `volumectl volume delete VOLUME`: removes a volume; its chunks become garbage for `gc`.
import ArgumentParser
import Foundation
import VolumeCore

struct VolumeDeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a volume and everything in it.",
        discussion: """
            The volume's catalog goes at once; the bytes it alone referenced are freed by the next \
            'volumectl gc' (after the grace period). There is no undo.

            A volume that is mounted, being imported into, or attached to a running sandbox is not \
            deleted (exit 4, naming who uses it) unless --force is given; forced, the attachments \
            that were mounted become 'failed' with the reason 'volume_deleted'.

            Examples:
              volumectl volume delete scratch
              volumectl volume delete vol-0123456789abcdefghij --json
            """,
        aliases: ["rm"]
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume: an ID or a unique name.")
    var volume: String

    @Flag(help: "Delete even while the volume is mounted, imported into or attached.")
    var force = false

    struct Deleted: Encodable {
        var volumeId: String
        var name: String
        var deleted = true
        enum CodingKeys: String, CodingKey { case volumeId = "volume_id", name, deleted }
    }

    func run() throws {
        try reporting {
            let info = try global.backend().deleteVolume(volume, force: force)
            try global.output(Deleted(volumeId: info.volumeId, name: info.name)) {
                print("deleted volume \(info.volumeId) (\(info.name)); run 'volumectl gc' to free its bytes")
            }
        }
    }
}
