// `volumectl files cat VOLUME PATH`: writes a file's bytes (raw, binary included) to standard output.
import ArgumentParser
import Foundation
import VolumeCore

struct FilesCatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cat",
        abstract: "Print a file's bytes to standard output.",
        discussion: """
            Bytes are written raw, binary files included. --offset and --length read a range. \
            With --json the output is an object {path, size, encoding, content}, where content is the \
            text when it is UTF-8 (encoding "utf-8") and base64 otherwise (encoding "base64").

            Examples:
              volumectl files cat data /docs/hello.txt
              volumectl files cat data /images/logo.png > logo.png
              volumectl files cat data /logs/app.log --offset 1048576 --length 4096
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume: an ID or a unique name.")
    var volume: String

    @Argument(help: "The file's path in the volume.")
    var path: String

    @Option(help: "Start at this byte.")
    var offset: Int64 = 0

    @Option(help: "Read at most this many bytes.")
    var length: Int?

    func validate() throws {
        guard offset >= 0 else { throw ValidationError("--offset must be 0 or more") }
        if let length, length < 0 { throw ValidationError("--length must be 0 or more") }
    }

    struct Content: Encodable {
        var path: String
        var size: Int
        var encoding: String
        var content: String
    }

    func run() throws {
        try reporting {
            let data = try global.backend().withFiles(volume) { try $0.read(path, offset: offset, length: length) }
            if global.json {
                let text = String(data: data, encoding: .utf8)
                try printJSON(Content(path: try VolumePath(path).description, size: data.count, encoding: text == nil ? "base64" : "utf-8",
                                      content: text ?? data.base64EncodedString()))
            } else {
                try writeStdout(data)
            }
        }
    }
}
