// volumectl download: a file or directory of a volume to the local file system.
import ArgumentParser
import Foundation
import VolumeCore

struct DownloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a file or directory from a volume.",
        discussion: """
            Modes and mtimes are kept (owners too when run as root), symlinks and hard links are
            recreated. When LOCAL_PATH is an existing directory the download goes inside it under
            its own name (a volume root's contents go straight into it); otherwise it is created.
            Each file is written under a temporary name and renamed into place.

            Examples:
              volumectl download dataset:/ ./dataset
              volumectl download dataset:/models/model.bin .
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "VOLUME:/PATH, what to download.")
    var source: String

    @Argument(help: "Where to write it.")
    var destination: String

    @Flag(name: .customLong("quiet"), help: "No progress bar.")
    var quiet = false

    func validate() throws { _ = try VolumeLocation(source) }

    func run() throws {
        try transferReporting {
            TransferSignals.install()
            let started = Date()
            let loc = try VolumeLocation(source)
            let bar = TransferProgressBar(verb: "download", quiet: quiet)
            defer { bar.finish() }
            let (id, report) = try global.backend().download(loc, to: destination, bar: bar)
            bar.finish()
            if global.json {
                try printJSON(TransferSummary(report: report, extra: ["destination": destination], seconds: Date().timeIntervalSince(started)))
            } else {
                let what = describeCounts(files: report.files, bytes: report.bytes, directories: report.directories)
                print("downloaded \(what) from \(id):\(report.path) to \(destination)")
                if !report.skipped.isEmpty { print("skipped (not files, directories or symlinks): \(report.skipped.joined(separator: ", "))") }
            }
        }
    }
}
