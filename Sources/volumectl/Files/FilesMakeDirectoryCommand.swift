// `volumectl files mkdir VOLUME PATH [--parents]`: creates a directory.
import ArgumentParser
import Foundation
import VolumeCore

struct FilesMakeDirectoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mkdir",
        abstract: "Create a directory.",
        discussion: """
            Without --parents the parent must exist and the directory must not (exit 4 if it does). \
            With --parents (-p) missing parents are created too, and an existing directory is fine. \
            A file in the way is always an error (exit 4).

            Examples:
              volumectl files mkdir data /logs
              volumectl files mkdir data /a/b/c -p
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume: an ID or a unique name.")
    var volume: String

    @Argument(help: "The directory's path in the volume.")
    var path: String

    @Flag(name: [.customShort("p"), .customLong("parents")], help: "Create missing parents; no error if the directory exists.")
    var parents = false

    @Option(help: ArgumentHelp("Permission bits, in octal.", valueName: "octal"))
    var mode: String = "755"

    @Option(help: ArgumentHelp("Who owns the directories made: root (the default), UID or UID:GID.", valueName: "user"))
    var user: String?

    func validate() throws {
        _ = try parseMode(mode)
        if let user { _ = try parseUser(user) }
    }

    struct Made: Encodable {
        var path: String
        var created: Bool
    }

    func run() throws {
        try reporting {
            let (canonical, created) = try global.backend().withFiles(volume) { files in
                (try VolumePath(path).description, try files.makeDirectory(path, parents: parents, mode: try parseMode(mode),
                                                                       user: try user.map(parseUser)))
            }
            try global.output(Made(path: canonical, created: created)) {
                print(created ? "created directory \(canonical)" : "directory \(canonical) already exists")
            }
        }
    }
}
