// volumectl export: a volume or one of its directories as a standard tar.gz, to a file or stdout.
import ArgumentParser
import Foundation
import VolumeCore

#if canImport(Glibc)
import Glibc
#endif

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a volume (or a directory in it) as a tar.gz.",
        discussion: """
            The archive is a standard tar.gz (ustar, with pax records where names or sizes need them)
            that GNU tar and Python's tarfile read: names, sizes, modes, owners, mtimes, symlinks and
            hard links are kept. It is read from one consistent snapshot of the volume. A file output
            is written under a temporary name and renamed into place when complete.

            Examples:
              volumectl export dataset -o dataset.tar.gz
              volumectl export dataset --path /v2 -o - | tar -tzvf -
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume (ID or name).")
    var volume: String

    @Option(name: .customLong("path"), help: "Directory (or file) in the volume to export.")
    var path: String = "/"

    @Option(name: [.customShort("o"), .customLong("output")], help: "The tar.gz to write, or '-' for standard output.")
    var output: String

    @Option(name: .customLong("level"), help: "gzip compression level, 1 (fast) to 9 (small).")
    var level: Int = 6

    @Flag(name: .customLong("quiet"), help: "No progress bar.")
    var quiet = false

    func validate() throws {
        guard (1...9).contains(level) else { throw ValidationError("--level must be 1 to 9") }
        if output == "-" && isatty(1) == 1 {
            throw ValidationError("refusing to write a binary archive to a terminal; give -o FILE or redirect standard output")
        }
    }

    func run() throws {
        try transferReporting {
            TransferSignals.install()
            let started = Date()
            let bar = TransferProgressBar(verb: "export", quiet: quiet)
            defer { bar.finish() }
            let options = TransferOptions(progress: { bar.update($0) }, isCancelled: TransferSignals.isCancelled)
            let out = ExportOutput(output)
            let (id, report): (String, ExportReport)
            do {
                (id, report) = try global.backend().export(volume, path: path, level: level, options: options, to: out)
                try out.commit()
            } catch {
                out.abandon()
                throw error
            }
            bar.finish()
            let summary = TransferSummary(report: report, extra: ["output": output], seconds: Date().timeIntervalSince(started))
            if global.json {
                if output == "-" {
                    let enc = JSONEncoder()
                    enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                    writeAll(STDERR_FILENO, try enc.encode(summary) + Data("\n".utf8))
                } else {
                    try printJSON(summary)
                }
            } else if output != "-" {
                let what = describeCounts(files: report.files, bytes: report.bytes, directories: report.directories)
                print("exported \(what) from \(id):\(report.path) to \(output) (\(ByteSize.format(report.outputBytes ?? 0)))")
                if !report.skipped.isEmpty { print("skipped (sockets cannot be archived): \(report.skipped.joined(separator: ", "))") }
            }
        }
    }
}
