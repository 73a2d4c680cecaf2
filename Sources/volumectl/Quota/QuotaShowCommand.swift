// `volumectl quota show VOLUME`: the cap in force, where it comes from, and the usage.
import ArgumentParser
import Foundation
import VolumeCore

struct QuotaShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a volume's cap, its usage, and where the cap comes from.",
        discussion: """
            source is 'volume' (the volume's override), 'tenant' (its tenant's) or 'default' (2 GiB).

            Examples:
              volumectl quota show data
              volumectl quota show data --json
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume: an ID or a unique name.")
    var volume: String

    func run() throws {
        try reporting {
            let q = try global.adminBackend().quota(volume)
            try global.output(q) { printQuota(q) }
        }
    }
}
