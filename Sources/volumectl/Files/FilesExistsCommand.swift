// `volumectl files exists VOLUME PATH`: prints true or false, and says so in the exit code too (0 or 1).
import ArgumentParser
import Foundation
import VolumeCore

struct FilesExistsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exists",
        abstract: "Print whether a path exists: true (exit 0) or false (exit 1).",
        discussion: """
            Prints 'true' or 'false'. The exit code says the same, like test(1): 0 when the path \
            exists, 1 when it does not, so scripts can write 'if volumectl files exists ...; then'. \
            Errors keep their own codes: a missing volume is 3, a bad path 64. A dangling symlink \
            exists.

            Examples:
              volumectl files exists data /docs/hello.txt
              if volumectl files exists data /ready > /dev/null; then echo ready; fi
              volumectl files exists data /docs --json  # {"exists": true, ...}
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume: an ID or a unique name.")
    var volume: String

    @Argument(help: "The path in the volume.")
    var path: String

    struct Answer: Encodable {
        var path: String
        var exists: Bool
    }

    func run() throws {
        var found = false
        try reporting {
            found = try global.backend().withFiles(volume) { try $0.exists(path) }
            try global.output(Answer(path: try VolumePath(path).description, exists: found)) { print(found ? "true" : "false") }
        }
        if !found { throw ExitCode(1) }
    }
}
