// `volumectl quota clear VOLUME` and `quota clear --tenant TENANT`: removes a cap override.
import ArgumentParser
import Foundation
import VolumeCore

struct QuotaClearCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clear",
        abstract: "Remove a volume's or a tenant's cap override.",
        usage: """
            volumectl quota clear <volume> [--data-dir <dir>] [--json]
              volumectl quota clear --tenant <tenant> [--data-dir <dir>] [--json]
            """,
        discussion: """
            The volume then follows its tenant's cap, or the 2 GiB default; the tenant's volumes \
            without their own override follow the default. Fails (exit 64) when the volume already \
            stores more than the cap it would fall back to.

            Examples:
              volumectl quota clear data
              volumectl quota clear --tenant acme
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Clear this tenant's cap instead of a volume's.", valueName: "tenant"))
    var tenant: String?

    @Argument(help: "The volume: an ID or a unique name (not with --tenant).")
    var volume: String?

    func validate() throws {
        if tenant != nil && volume != nil { throw ValidationError("give a VOLUME or --tenant TENANT, not both") }
        if tenant == nil && volume == nil { throw ValidationError("give a VOLUME, or --tenant TENANT") }
    }

    func run() throws {
        try reporting {
            let admin = try global.adminBackend()
            if let tenant {
                try admin.setTenantQuota(tenant, bytes: nil)
                try global.output(TenantQuota(tenant: tenant, capBytes: nil)) { print("tenant \(tenant): cap override removed") }
                return
            }
            let q = try admin.setVolumeQuota(volume!, bytes: nil)
            try global.output(q) { printQuota(q) }
        }
    }
}
