// `volumectl files replace VOLUME --glob GLOB --old TEXT --new TEXT [--regex] [--dry-run]`: replaces across files.
import ArgumentParser
import Foundation
import VolumeCore

struct FilesReplaceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replace",
        abstract: "Replace a string or regex in every file a glob selects.",
        discussion: """
            --glob selects files as in 'files search --name'. --old is an exact string, or with \
            --regex a regular expression whose --new may use $1, $2 for groups. All files change in \
            one step, or none (the cap is checked for all of them). Files that are not UTF-8 or are \
            over 16 MiB are skipped. --dry-run counts what would change and writes nothing.

            Examples:
              volumectl files replace data --glob '*.conf' --old db1 --new db2 --dry-run
              volumectl files replace data --glob '*.conf' --old db1 --new db2
              volumectl files replace data --glob 'src/*.py' --regex \\
                --old 'v(\\d+)' --new 'version $1'
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume: an ID or a unique name.")
    var volume: String

    @Option(help: ArgumentHelp("Which files: a glob on the name, or with '/' on the path.", valueName: "glob"))
    var glob: String

    @Option(help: ArgumentHelp("The text (or with --regex, the pattern) to replace.", valueName: "text"))
    var old: String

    @Option(help: ArgumentHelp("The replacement (may be empty).", valueName: "text"))
    var new: String

    @Flag(help: "Treat --old as a regular expression.")
    var regex = false

    @Flag(help: "Count the replacements without writing anything.")
    var dryRun = false

    @Option(help: ArgumentHelp("Only files below this directory.", valueName: "path"))
    var under: String = "/"

    func validate() throws {
        guard !glob.isEmpty else { throw ValidationError("--glob is empty; give a glob like '*.conf'") }
        guard !old.isEmpty else { throw ValidationError("--old is empty; give the text to replace") }
        if regex { try checkRegex(old, option: "--old") }
    }

    func run() throws {
        try reporting {
            let report = try global.backend().withFiles(volume) { files in
                try files.replace(glob: glob, old: old, new: new, regex: regex, dryRun: dryRun, under: under)
            }
            try global.output(report) {
                let what = "\(plural(report.replacements, "replacement")) in \(plural(report.files.count, "file"))"
                print(dryRun ? "would make \(what) (dry run; nothing written)" : "made \(what)")
                for f in report.files { print("  \(f)") }
            }
        }
    }
}
