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

            Examples:
              volumectl volume delete scratch
              volumectl volume delete vol-0123456789abcdefghij --json
            """,
        aliases: ["rm"]
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume: an ID or a unique name.")
    var volume: String

    struct Deleted: Encodable {
        var volumeId: String
        var name: String
        var deleted = true
        enum CodingKeys: String, CodingKey { case volumeId = "volume_id", name, deleted }
    }

    func run() throws {
        try reporting {
            let info = try global.backend().deleteVolume(volume)
            try global.output(Deleted(volumeId: info.volumeId, name: info.name)) {
                print("deleted volume \(info.volumeId) (\(info.name)); run 'volumectl gc' to free its bytes")
            }
        }
    }
}
