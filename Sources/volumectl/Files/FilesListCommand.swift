// `volumectl files ls VOLUME [PATH] [--recursive] [--depth N]`: a directory's entries, or the tree below it.
import ArgumentParser
import Foundation
import VolumeCore

struct FilesListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List a directory, or the tree below it.",
        discussion: """
            Columns: TYPE (file, dir, symlink), SIZE in bytes, MODE, MODIFIED (UTC), and NAME, or the \
            full PATH when listing recursively. Entries are in name order, each directory's \
            contents right after it. --depth N lists N levels (and implies --recursive).

            Examples:
              volumectl files ls data
              volumectl files ls data /docs
              volumectl files ls data / --recursive
              volumectl files ls data / --depth 2 --json
            """,
        aliases: ["list"]
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume: an ID or a unique name.")
    var volume: String

    @Argument(help: "The directory to list.")
    var path: String = "/"

    @Flag(name: [.customShort("r"), .customShort("R"), .customLong("recursive")], help: "List everything below the directory.")
    var recursive = false

    @Option(help: "List this many levels below the directory (1 is the directory's own entries).")
    var depth: Int?

    func validate() throws {
        if let depth, depth < 1 { throw ValidationError("--depth must be at least 1") }
    }

    func run() throws {
        try reporting {
            let levels = depth ?? (recursive ? Int.max : 1)
            let entries = try global.backend().withFiles(volume) { try $0.list(path, depth: levels) }
            try global.output(entries) {
                let deep = levels > 1
                printTable(["TYPE", "SIZE", "MODE", "MODIFIED", deep ? "PATH" : "NAME"], entries.map { e in
                    var name = deep ? e.path : e.name
                    if let t = e.target { name += " -> \(t)" }
                    return [e.type, "\(e.size)", e.mode, shortTime(e.modified), name]
                })
            }
        }
    }
}
