// `volumectl files search VOLUME [--name GLOB] [--content REGEX] [--limit N]`: finds files by name and/or content.
import ArgumentParser
import Foundation
import VolumeCore

struct FilesSearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find files by name glob and/or content regex.",
        discussion: """
            --name is a glob: without '/' it matches the file name ('*.py'), with '/' the whole path \
            from the root ('src/*.py', '**/test_*.py'). --content is a regular expression (ICU syntax) \
            matched line by line; each matching line is a hit, printed as PATH:LINE:TEXT. Without \
            --content each matching file is a hit, printed as its path. Files over 16 MiB are not \
            searched by content. At most --limit hits are printed; when more exist, a note on stderr \
            says so (and "truncated": true in JSON). Finding nothing is not an error (exit 0).

            Examples:
              volumectl files search data --name '*.log'
              volumectl files search data --content 'TODO|FIXME' --name '*.swift'
              volumectl files search data --under /src --content '^import ' --json
            """,
        aliases: ["find"]
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume: an ID or a unique name.")
    var volume: String

    @Option(help: ArgumentHelp("A glob the file name (or, with '/', the path) must match.", valueName: "glob"))
    var name: String?

    @Option(help: ArgumentHelp("A regular expression a line must match.", valueName: "regex"))
    var content: String?

    @Option(help: "The most hits to report.")
    var limit: Int = 1000

    @Option(help: ArgumentHelp("Search only below this directory.", valueName: "path"))
    var under: String = "/"

    func validate() throws {
        guard name != nil || content != nil else { throw ValidationError("give --name GLOB, --content REGEX, or both") }
        guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        if name?.isEmpty == true { throw ValidationError("--name is empty; give a glob like '*.txt'") }
        if let content { try checkRegex(content, option: "--content") }
    }

    func run() throws {
        try reporting {
            let result = try global.backend().withFiles(volume) { try $0.search(under: under, name: name, content: content, limit: limit) }
            try global.output(result) {
                for h in result.hits {
                    if let line = h.line { print("\(h.path):\(line):\(h.text ?? "")") } else { print(h.path) }
                }
            }
            if result.truncated && !global.json {
                fflush(nil)
                writeStderr("volumectl: stopped at \(plural(limit, "hit")); raise --limit to see more\n")
            }
        }
    }
}

/// Turns a regular expression that does not compile into a usage error naming the option.
func checkRegex(_ pattern: String, option: String) throws {
    guard !pattern.isEmpty else { throw ValidationError("\(option) is empty; give a regular expression") }
    do { _ = try NSRegularExpression(pattern: pattern) } catch {
        throw ValidationError("\(option) '\(pattern)' is not a valid regular expression (ICU syntax; escape literal characters like '(' as '\\(')")
    }
}
