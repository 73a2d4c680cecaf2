// `volumectl files edit VOLUME PATH --old TEXT --new TEXT [--all]`: replaces one exact occurrence of a string.
import ArgumentParser
import Foundation
import VolumeCore

struct FilesEditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edit",
        abstract: "Replace an exact string in one file.",
        discussion: """
            --old must occur exactly once (give more context to make it unique), or pass --all to \
            replace every occurrence. Zero occurrences, or several without --all, change nothing and \
            exit 4. The file must be UTF-8 text. For text that starts with '-', write --old=-text.

            Examples:
              volumectl files edit data /app.conf --old 'debug = false' --new 'debug = true'
              volumectl files edit data /notes.md --old 'TODO' --new 'DONE' --all
              volumectl files edit data /list.txt --old=-x --new=-y
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume: an ID or a unique name.")
    var volume: String

    @Argument(help: "The file's path in the volume.")
    var path: String

    @Option(help: ArgumentHelp("The exact text to replace.", valueName: "text"))
    var old: String

    @Option(help: ArgumentHelp("The text to put in its place (may be empty).", valueName: "text"))
    var new: String

    @Flag(help: "Replace every occurrence, not exactly one.")
    var all = false

    func validate() throws {
        guard !old.isEmpty else { throw ValidationError("--old is empty; give the exact text to replace") }
    }

    struct Edited: Encodable {
        var path: String
        var replacements: Int
    }

    func run() throws {
        try reporting {
            let result = try global.backend().withFiles(volume) { files in
                Edited(path: try VolumePath(path).description, replacements: try files.edit(path, old: old, new: new, all: all))
            }
            try global.output(result) { print("replaced \(plural(result.replacements, "occurrence")) in \(result.path)") }
        }
    }
}
