// `volumectl files mv VOLUME FROM TO [--overwrite]`: renames or moves a file or directory inside a volume.
import ArgumentParser
import Foundation
import VolumeCore

struct FilesMoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mv",
        abstract: "Move or rename a file or directory within a volume.",
        discussion: """
            TO is the new path itself (not a directory to move into), and its parent must exist. \
            An existing TO is an error (exit 4) unless --overwrite; even then a directory only \
            replaces an empty directory, and a file only a file.

            Examples:
              volumectl files mv data /draft.txt /final.txt
              volumectl files mv data /new.conf /app.conf --overwrite
            """,
        aliases: ["move"]
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume: an ID or a unique name.")
    var volume: String

    @Argument(help: "The path to move.")
    var from: String

    @Argument(help: "Its new path.")
    var to: String

    @Flag(help: "Replace TO if it exists.")
    var overwrite = false

    struct Moved: Encodable {
        var from: String
        var to: String
    }

    func run() throws {
        try reporting {
            let moved = try global.backend().withFiles(volume) { files in
                try files.move(from, to: to, overwrite: overwrite)
                return Moved(from: try VolumePath(from).description, to: try VolumePath(to).description)
            }
            try global.output(moved) { print("moved \(moved.from) to \(moved.to)") }
        }
    }
}
