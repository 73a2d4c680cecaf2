// `volumectl files stat VOLUME PATH`: one entry's name, type, size, path, mode and modification time.
import ArgumentParser
import Foundation
import VolumeCore

struct FilesStatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stat",
        abstract: "Show one file's or directory's attributes.",
        discussion: """
            A symlink is described itself (with its target), not followed.

            Examples:
              volumectl files stat data /docs/hello.txt
              volumectl files stat data / --json
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume: an ID or a unique name.")
    var volume: String

    @Argument(help: "The path in the volume.")
    var path: String

    func run() throws {
        try reporting {
            let e = try global.backend().withFiles(volume) { try $0.stat(path) }
            try global.output(e) {
                var fields = [("path", e.path), ("name", e.name), ("type", e.type), ("size", "\(e.size)"), ("mode", e.mode), ("owner", "\(e.uid):\(e.gid)"),
                              ("modified", e.modified)]
                if let t = e.target { fields.append(("target", t)) }
                printFields(fields)
            }
        }
    }
}
