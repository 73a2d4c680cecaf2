// `volumectl volume`: the group of volume lifecycle commands.
import ArgumentParser
import VolumeCore

struct VolumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume",
        abstract: "Create, list, inspect and delete volumes.",
        discussion: """
            VOLUME arguments take a volume ID (vol-...) or a name that is unique among the volumes \
            you can see (all of them, or one tenant's with --owner / VOLUMES_TENANT).

            Examples:
              volumectl volume create data --metadata team=ml
              volumectl volume list
              volumectl volume inspect data --field size_bytes
              volumectl volume delete data
            """,
        subcommands: [VolumeCreateCommand.self, VolumeListCommand.self, VolumeInspectCommand.self, VolumeDeleteCommand.self]
    )
}

/// The human view of one volume, labelled with the JSON key names so `--field` is easy to guess.
func printVolume(_ v: VolumeInfo) {
    printFields([
        ("volume_id", v.volumeId),
        ("name", v.name),
        ("owner_id", v.ownerId),
        ("size_bytes", "\(v.sizeBytes) (\(ByteSize.format(v.sizeBytes)))"),
        ("file_count", "\(v.fileCount)"),
        ("quota_bytes", "\(v.quotaBytes) (\(ByteSize.format(v.quotaBytes)))"),
        ("created_at", v.createdAt),
        ("metadata", v.metadata.isEmpty ? "-" : v.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")),
    ])
}
