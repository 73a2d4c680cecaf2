// `volumectl quota`: operator overrides of the 2 GiB default cap, per volume or per tenant.
import ArgumentParser
import Foundation
import VolumeCore

struct QuotaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quota",
        abstract: "Show and set volume caps (operators only).",
        discussion: """
            A volume's cap is its own override if set, else its tenant's override, else the 2 GiB \
            default. The cap counts logical bytes (what 'du --apparent-size' says). A write past it \
            fails with exit 5 and stores nothing. Sizes: 512MiB, 4GiB, 1.5G, 10GB, 1048576.

            Examples:
              volumectl quota show data
              volumectl quota set data 4GiB
              volumectl quota set --tenant acme 10GiB
              volumectl quota clear data
            """,
        subcommands: [QuotaShowCommand.self, QuotaSetCommand.self, QuotaClearCommand.self]
    )
}

/// The human view of a volume's cap.
func printQuota(_ q: QuotaInfo) {
    func size(_ b: Int64?) -> String { b.map { "\($0) (\(ByteSize.format($0)))" } ?? "-" }
    let percent = q.capBytes > 0 ? String(format: "%.1f%%", Double(q.usedBytes) * 100 / Double(q.capBytes)) : "-"
    printFields([
        ("volume_id", q.volumeId),
        ("cap_bytes", size(q.capBytes)),
        ("used_bytes", "\(size(q.usedBytes)), \(percent) of the cap"),
        ("source", q.source),
        ("volume_override", size(q.volumeOverride)),
        ("tenant_override", size(q.tenantOverride)),
    ])
}

/// What a tenant quota change did.
struct TenantQuota: Encodable {
    var tenant: String
    var capBytes: Int64?
    enum CodingKeys: String, CodingKey { case tenant, capBytes = "cap_bytes" }
}

