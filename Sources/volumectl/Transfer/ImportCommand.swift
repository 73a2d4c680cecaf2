// volumectl import: a Phase 1 tar.gz blob into a volume (or a new one), atomically, with the Phase 1 safety rules.
import ArgumentParser
import Foundation
import VolumeCore

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a Phase 1 tar.gz blob into a volume, atomically.",
        discussion: """
            The blob is streamed: it is never held in memory or unpacked to a temporary directory.
            Symlinks, hard links, device nodes, FIFOs and entries whose path is absolute or contains
            '..' are dropped and reported (stderr; counted in --json). Directories and regular files
            keep their modes, owners and mtimes. The cap is checked while streaming. On any error
            (corrupt or truncated archive, cap reached, disk full, Ctrl-C) the volume is left exactly
            as it was, and with --create no volume is left behind (the new volume stays hidden until
            its import lands; one left by a killed import is removed by the next volumectl run).
            Blobs over 4 GiB are refused.

            Examples:
              volumectl import dataset.tar.gz --create dataset
              volumectl import update.tar.gz --volume dataset --path /v2
              curl -s https://example/blob.tar.gz | volumectl import - --volume dataset
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The tar.gz blob, or '-' for standard input.")
    var blob: String

    @Option(name: .customLong("volume"), help: "Import into this existing volume (ID or name).")
    var volume: String?

    @Option(name: .customLong("create"), help: "Create a volume with this name and import into it.")
    var create: String?

    @Option(name: .customLong("path"), help: "Directory in the volume to import into (created when missing).")
    var path: String = "/"

    @Option(help: ArgumentHelp("Make every entry this user's: root, UID or UID:GID (default: keep the archive's owners).", valueName: "user"))
    var user: String?

    @Flag(name: .customLong("quiet"), help: "No progress bar and no list of dropped entries on stderr.")
    var quiet = false

    func validate() throws {
        guard (volume == nil) != (create == nil) else {
            throw ValidationError("give exactly one of --volume VOLUME (an existing volume) or --create NAME (a new one)")
        }
        if let user { _ = try parseUser(user) }
    }

    func run() throws {
        try transferReporting {
            TransferSignals.install()
            let started = Date()
            let name = blob == "-" ? "standard input" : blob
            let bar = TransferProgressBar(verb: "import", quiet: quiet)
            defer { bar.finish() }
            let (report, volumeID, createdID) = try global.backend().importArchive(
                blob: blob, create: create, volume: volume, path: path, owner: global.scope, user: try user.map(parseUser), bar: bar, quiet: quiet)
            bar.finish()
            if global.json {
                try printJSON(TransferSummary(report: report, extra: ["input": name], flags: ["created": createdID != nil],
                                              seconds: Date().timeIntervalSince(started)))
            } else {
                let what = describeCounts(files: report.files, bytes: report.bytes, directories: report.directories)
                print("imported \(what) into \(volumeID):\(report.destination)" + (createdID != nil ? " (new volume '\(create!)')" : ""))
                if let drops = describeDrops(report) { print(drops) }
            }
        }
    }
}
