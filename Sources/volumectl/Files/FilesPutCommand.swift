// `volumectl files put VOLUME PATH [LOCAL_FILE|-]`: writes a file into a volume from a local file or stdin.
import ArgumentParser
import Foundation
import VolumeCore

struct FilesPutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Write a file into a volume, from a local file or standard input.",
        discussion: """
            The file is created or replaced whole and atomically: a reader sees the old bytes or the new \
            ones. Missing parent directories are created by default (--no-parents refuses instead). \
            A write that would take the volume past its cap fails with exit 5 and changes nothing. \
            With LOCAL_FILE omitted or '-', all of standard input is read.

            Examples:
              volumectl files put data /etc/app.conf ./app.conf
              echo hello | volumectl files put data /greeting.txt
              tar -c src | volumectl files put data /backups/src.tar -
              volumectl files put data /bin/run ./run.sh --mode 755
              volumectl files put data /new/f ./f --no-parents  # /new must exist
              volumectl files put data /home/app.py ./app.py --user 1000  # owned by 1000:1000
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume: an ID or a unique name.")
    var volume: String

    @Argument(help: "The file's path in the volume.")
    var path: String

    @Argument(help: ArgumentHelp("The local file to read; '-' or nothing for standard input.", valueName: "local-file"))
    var source: String?

    @Flag(inversion: .prefixedNo, help: "Create missing parent directories (the default).")
    var parents = true

    @Option(help: ArgumentHelp("Permission bits of a new file, in octal (default 644); an existing file keeps its own unless given.", valueName: "octal"))
    var mode: String?

    @Option(help: ArgumentHelp("Who owns the file and the directories made: root (the default), UID or UID:GID.", valueName: "user"))
    var user: String?

    func validate() throws {
        if let mode { _ = try parseMode(mode) }
        if let user { _ = try parseUser(user) }
    }

    struct Written: Encodable {
        var volumeId: String
        var path: String
        var size: Int64
        enum CodingKeys: String, CodingKey { case volumeId = "volume_id", path, size }
    }

    func run() throws {
        try reporting {
            let written = try global.backend().withFiles(volume) { files in
                let info = try files.write(path, from: source == "-" ? nil : source, parents: parents, mode: try mode.map(parseMode),
                                          user: try user.map(parseUser))
                return Written(volumeId: files.volumeId, path: info.path, size: info.size)
            }
            try global.output(written) { print("wrote \(plural(Int(written.size), "byte")) to \(written.path) in \(written.volumeId)") }
        }
    }
}
