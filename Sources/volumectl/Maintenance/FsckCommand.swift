// `volumectl fsck [VOLUME] [--repair]`: checks catalogs, chunks and usage figures; non-zero exit while problems remain.
import ArgumentParser
import Foundation
import VolumeCore

struct FsckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck",
        abstract: "Check volumes for damage, and optionally repair it.",
        discussion: """
            Checks each volume's catalog (SQLite integrity, every inode reachable, link counts), that \
            every referenced chunk exists and hashes to its name (--quick skips the hashing), and that \
            the usage figures are right. --repair fixes what it can without guessing: usage figures, \
            link counts, unreachable inodes, blocks whose chunk is missing (they become holes).

            Exit codes: 0 when every volume checked is clean (or was fully repaired), 1 when \
            problems remain (each is printed), and the usual codes for other errors (3: no such volume).

            Examples:
              volumectl fsck
              volumectl fsck data
              volumectl fsck data --repair
              volumectl fsck --json
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume to check (an ID or a unique name); all volumes when omitted.")
    var volume: String?

    @Flag(help: "Fix what can be fixed.")
    var repair = false

    @Flag(help: "Do not read and hash every chunk (faster; finds missing chunks but not corrupt ones).")
    var quick = false

    func run() throws {
        var clean = true
        try reporting {
            let reports = try global.adminBackend().fsck(volume, repair: repair, verifyData: !quick)
            clean = reports.allSatisfy { $0.1.ok }
            try global.output(reports.map(\.1)) {
                for (name, r) in reports {
                    let head = "\(r.volumeId) (\(name)):"
                    if r.repaired.isEmpty && r.problems.isEmpty {
                        print("\(head) ok, \(plural(r.inodes, "inode")), \(plural(r.chunksChecked, "chunk")) verified")
                        continue
                    }
                    if !r.repaired.isEmpty {
                        print("\(head) repaired \(plural(r.repaired.count, "problem"))")
                        for line in r.repaired { print("  repaired: \(line)") }
                    }
                    if !r.ok {
                        print("\(head) \(plural(r.problems.count, "problem"))\(repair ? " remain" : "")")
                        for line in r.problems { print("  problem: \(line)") }
                    }
                }
                if reports.isEmpty { print("no volumes to check") }
            }
            if !clean {
                let bad = reports.filter { !$0.1.ok }.map(\.1.volumeId)
                fflush(nil)
                writeStderr("volumectl: problems remain in \(bad.joined(separator: ", "))\(repair ? "" : "; run 'volumectl fsck --repair' to fix what can be fixed")\n")
            }
        }
        if !clean { throw ExitCode(1) }
    }
}
