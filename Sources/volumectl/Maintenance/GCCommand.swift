// `volumectl gc [--grace DURATION] [--dry-run]`: deletes chunks no volume references and reports the bytes freed.
import ArgumentParser
import Foundation
import VolumeCore

struct GCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Delete stored chunks that no volume references.",
        discussion: """
            Marks every chunk any volume references, then deletes the others that are older than the \
            grace period (default 1h). Chunks stored by writes still in progress in any running \
            process (a file held open in a mount, an import, an upload) are kept however old they \
            are: those processes publish since when, in the data directory's holds/. --dry-run \
            reports what would be freed and deletes nothing. Durations: 0s, 90s, 30m, 1h, 2h30m, 7d.

            Examples:
              volumectl gc --dry-run
              volumectl gc
              volumectl gc --grace 0s     # collect all garbage now; running writes keep theirs
              volumectl gc --json
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Keep unreferenced chunks younger than this.", valueName: "duration"))
    var grace: String = "1h"

    @Flag(help: "Report what would be freed without deleting anything.")
    var dryRun = false

    func validate() throws { _ = try DurationText.parse(grace) }

    func run() throws {
        try reporting {
            let seconds = try DurationText.parse(grace)
            let r = try global.adminBackend().collectGarbage(grace: seconds, dryRun: dryRun)
            try global.output(r) {
                let freed = "\(ByteSize.format(r.bytesFreed)) (\(plural(Int(r.bytesFreed), "byte")), \(plural(r.chunksDeleted, "chunk")))"
                print(dryRun ? "would free \(freed) (dry run; nothing deleted)" : "freed \(freed)")
                let writes = r.writesInProgressSince.map { ", or stored since \($0) by a write still in progress" } ?? ""
                print("scanned \(plural(r.volumesScanned, "volume")), \(plural(r.chunksReferenced, "chunk")) in use, "
                      + "\(plural(r.chunksInGrace, "unreferenced chunk")) kept (younger than \(DurationText.format(seconds))\(writes))")
            }
        }
    }
}
