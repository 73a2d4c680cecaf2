// `volumectl files`: the group of path-level operations on one volume's files, with no daemon or mount.
import ArgumentParser

struct FilesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "files",
        abstract: "Read, write, list, move, edit and search the files of a volume.",
        discussion: """
            Every command takes VOLUME (an ID or a unique name) and paths inside the volume. Paths are \
            absolute within the volume ('/' is its root; a missing leading '/' is added); '..', NUL, \
            names over 255 bytes and paths over 4096 bytes are refused (exit 64).

            Examples:
              echo hello | volumectl files put data /docs/hello.txt
              volumectl files put data /bin/tool ./tool --mode 755
              volumectl files ls data / --recursive
              volumectl files cat data /docs/hello.txt
              volumectl files edit data /app.conf --old 'debug=false' --new 'debug=true'
              volumectl files search data --name '*.py' --content 'TODO'
            """,
        subcommands: [
            FilesPutCommand.self, FilesCatCommand.self, FilesGetCommand.self, FilesListCommand.self,
            FilesStatCommand.self, FilesExistsCommand.self, FilesMakeDirectoryCommand.self, FilesMoveCommand.self,
            FilesRemoveCommand.self, FilesEditCommand.self, FilesSearchCommand.self, FilesReplaceCommand.self,
        ]
    )
}
