// volumectl upload: a local file or directory (or stdin) into a volume, atomically.
import ArgumentParser
import Foundation
import VolumeCore

#if canImport(Glibc)
import Glibc
#endif

struct UploadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload",
        abstract: "Upload a local file or directory (or standard input) into a volume.",
        discussion: """
            A directory is uploaded recursively with modes and mtimes (and owners) kept; symlinks,
            FIFOs and device nodes are skipped and reported. When the destination is an existing
            directory (or ends with '/'), the upload goes inside it under its own name, as cp does;
            otherwise it takes the destination's name. '-' streams standard input, of any length,
            into one file. Existing files are replaced. The upload is atomic: if it fails (cap,
            disk full, Ctrl-C) nothing of it appears under the destination.

            Examples:
              volumectl upload ./data dataset:/
              volumectl upload model.bin dataset:/models/model-v2.bin
              pg_dump db | volumectl upload - dataset:/backups/db.sql
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A local file or directory, or '-' for standard input.")
    var source: String

    @Argument(help: "VOLUME:/PATH, the destination.")
    var destination: String

    @Option(name: .customLong("mode"), help: "Permission bits of a file uploaded from standard input (octal).")
    var mode: String = "0644"

    @Option(help: ArgumentHelp("Make everything uploaded this user's: root, UID or UID:GID (default: a directory keeps its owners).", valueName: "user"))
    var user: String?

    @Flag(name: .customLong("quiet"), help: "No progress bar and no list of skipped entries on stderr.")
    var quiet = false

    func validate() throws {
        _ = try VolumeLocation(destination)
        guard let m = UInt32(mode, radix: 8), m <= 0o7777 else { throw ValidationError("--mode must be octal permission bits like 0644") }
        if let user { _ = try parseUser(user) }
    }

    func run() throws {
        try transferReporting {
            TransferSignals.install()
            let started = Date()
            let loc = try VolumeLocation(destination)
            let bar = TransferProgressBar(verb: "upload", quiet: quiet)
            let (id, report) = try global.backend().upload(source: source, to: loc, mode: UInt32(mode, radix: 8)!, user: try user.map(parseUser),
                                                                  bar: bar, quiet: quiet)
            if global.json {
                try printJSON(TransferSummary(report: report, extra: ["source": source], seconds: Date().timeIntervalSince(started)))
            } else {
                let what = describeCounts(files: report.files, bytes: report.bytes, directories: report.directories)
                print("uploaded \(what) into \(id):\(report.destination)")
                if let drops = describeDrops(report) { print(drops.replacingOccurrences(of: "dropped", with: "skipped")) }
            }
        }
    }
}
