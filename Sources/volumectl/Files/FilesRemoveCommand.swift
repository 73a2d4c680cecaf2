// `volumectl files rm VOLUME PATH [--recursive]`: removes a file, a symlink or a directory.
import ArgumentParser
import Foundation
import VolumeCore

struct FilesRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Remove a file, a symlink, or a directory.",
        discussion: """
            A directory must be empty unless --recursive (-r). The volume root cannot be removed; \
            delete the volume instead. --force (-f) makes a missing path not an error.

            Examples:
              volumectl files rm data /old.log
              volumectl files rm data /build -r
              volumectl files rm data /maybe.tmp -f
            """,
        aliases: ["remove"]
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume: an ID or a unique name.")
    var volume: String

    @Argument(help: "The path to remove.")
    var path: String

    @Flag(name: [.customShort("r"), .customShort("R"), .customLong("recursive")], help: "Remove a directory and everything in it.")
    var recursive = false

    @Flag(name: [.customShort("f"), .customLong("force")], help: "No error when the path does not exist.")
    var force = false

    struct Removed: Encodable {
        var path: String
        var removed: Bool
    }

    func run() throws {
        try reporting {
            let result = try global.backend().withFiles(volume) { files -> Removed in
                let canonical = try VolumePath(path).description
                return Removed(path: canonical, removed: try files.remove(path, recursive: recursive, force: force))
            }
            try global.output(result) { print(result.removed ? "removed \(result.path)" : "\(result.path) does not exist") }
        }
    }
}
