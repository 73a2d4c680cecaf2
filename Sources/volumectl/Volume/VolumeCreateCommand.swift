// `volumectl volume create NAME [--metadata KEY=VALUE ...]`: makes an empty volume and prints it.
import ArgumentParser
import Foundation
import VolumeCore

struct VolumeCreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create an empty volume and print it.",
        discussion: """
            The volume belongs to the tenant given by --owner (or VOLUMES_TENANT), else to the \
            tenant 'default'. Its cap is the tenant's override if one is set, else 2 GiB. \
            Names need not be unique, but a name used twice must then be addressed by its ID.

            Examples:
              volumectl volume create data
              volumectl --owner acme volume create cache --metadata team=ml
              VOL=$(volumectl volume create scratch --quiet)     # just the ID, for scripts
              volumectl volume create data --json
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume's name (1 to 255 bytes).")
    var name: String

    @Option(name: .customLong("metadata"), help: ArgumentHelp("A label to store with the volume; repeat for more.", valueName: "key=value"))
    var metadata: [String] = []

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "Print only the new volume's ID.")
    var quiet = false

    func parsedMetadata() throws -> [String: String] {
        var out: [String: String] = [:]
        for item in metadata {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                throw ValidationError("--metadata takes KEY=VALUE, got '\(item)'")
            }
            let key = String(item[..<eq]), value = String(item[item.index(after: eq)...])
            guard out[key] == nil else { throw ValidationError("metadata key '\(key)' is given twice") }
            out[key] = value
        }
        return out
    }

    func validate() throws {
        _ = try parsedMetadata()
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("the volume name is empty") }
    }

    func run() throws {
        try reporting {
            let info = try global.backend().createVolume(owner: global.scope, name: name, metadata: try parsedMetadata())
            if quiet && !global.json { print(info.volumeId); return }
            try global.output(info) { printVolume(info) }
        }
    }
}
