// `volumectl files get VOLUME PATH LOCAL_FILE`: copies a file out of a volume to the local disk.
import ArgumentParser
import Foundation
import VolumeCore

struct FilesGetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Copy a file from a volume to a local file.",
        discussion: """
            LOCAL_FILE is created or overwritten (like cp); when it is an existing directory the file \
            keeps its name inside it; '-' writes to standard output. Nothing local is touched when the \
            volume file cannot be read.

            Examples:
              volumectl files get data /docs/hello.txt ./hello.txt
              volumectl files get data /docs/hello.txt /tmp/      # -> /tmp/hello.txt
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume: an ID or a unique name.")
    var volume: String

    @Argument(help: "The file's path in the volume.")
    var path: String

    @Argument(help: ArgumentHelp("Where to write it locally ('-' for standard output).", valueName: "local-file"))
    var destination: String

    struct Fetched: Encodable {
        var volumeId: String
        var path: String
        var localFile: String
        var size: Int
        enum CodingKeys: String, CodingKey { case volumeId = "volume_id", path, localFile = "local_file", size }
    }

    func run() throws {
        try reporting {
            let (id, canonical, target, size) = try global.backend().withFiles(volume) { files -> (String, VolumePath, String, Int) in
                let canonical = try VolumePath(path)
                if destination == "-" { return (files.volumeId, canonical, "-", try files.copyOut(path, to: nil)) }
                var target = destination
                if LocalFile.isDirectory(target) {
                    guard !canonical.isRoot else { throw VolumeError.isADirectory("/") }
                    target = URL(fileURLWithPath: target).appendingPathComponent(canonical.name).path
                }
                return (files.volumeId, canonical, target, try files.copyOut(path, to: target))
            }
            if target == "-" { return }
            try global.output(Fetched(volumeId: id, path: canonical.description, localFile: target, size: size)) {
                print("wrote \(plural(size, "byte")) from \(canonical) to \(target)")
            }
        }
    }
}
