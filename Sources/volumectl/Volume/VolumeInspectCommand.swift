// `volumectl volume inspect VOLUME [--field NAME]`: one volume in full, or one field of it alone.
import ArgumentParser
import Foundation
import VolumeCore

struct VolumeInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show one volume, or one field of it.",
        discussion: """
            --field prints one value alone, for scripts (like 'docker volume inspect -f'). Field names \
            are the JSON keys: \(fields.joined(separator: ", ")), and metadata.KEY for one label. \
            Strings print raw, numbers as digits, metadata as JSON; with --json the value prints as JSON. \
            A metadata.KEY that the volume does not carry is 'not found' (exit 3).

            Examples:
              volumectl volume inspect data
              volumectl volume inspect vol-0123456789abcdefghij --json
              volumectl volume inspect data --field size_bytes
              volumectl volume inspect data --field metadata.team
            """
    )

    /// The JSON keys of a volume, in the order `inspect` shows them.
    static let fields = ["volume_id", "name", "owner_id", "size_bytes", "file_count", "quota_bytes", "created_at", "metadata"]

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume: an ID or a unique name.")
    var volume: String

    @Option(name: [.customShort("f"), .customLong("field")], help: ArgumentHelp("Print only this field.", valueName: "name"))
    var field: String?

    func validate() throws {
        guard let field else { return }
        if Self.fields.contains(field) { return }
        if field.hasPrefix("metadata."), field.count > "metadata.".count { return }
        throw ValidationError("unknown field '\(field)'; valid fields: \(Self.fields.joined(separator: ", ")), metadata.KEY")
    }

    func run() throws {
        try reporting {
            let info = try global.backend().volumeInfo(volume)
            guard let field else { return try global.output(info) { printVolume(info) } }
            let object = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(info)) as? [String: Any] ?? [:]
            let value: Any
            if field.hasPrefix("metadata.") {
                let key = String(field.dropFirst("metadata.".count))
                guard let v = info.metadata[key] else {
                    throw VolumeError.notFound("volume \(info.volumeId) has no metadata key '\(key)'; its keys: \(info.metadata.keys.sorted().joined(separator: ", "))")
                }
                value = v
            } else {
                guard let v = object[field] else { throw VolumeError.invalidArgument("unknown field '\(field)'") }
                value = v
            }
            if global.json || value is [String: Any] {
                let data = try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("\(value)")
            }
        }
    }
}
