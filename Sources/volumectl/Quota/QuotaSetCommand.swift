// `volumectl quota set VOLUME SIZE` and `quota set --tenant TENANT SIZE`: sets a cap override.
import ArgumentParser
import Foundation
import VolumeCore

struct QuotaSetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Set a volume's or a tenant's cap.",
        usage: """
            volumectl quota set <volume> <size> [--data-dir <dir>] [--json]
              volumectl quota set --tenant <tenant> <size> [--data-dir <dir>] [--json]
            """,
        discussion: """
            A volume override wins over its tenant's. A tenant override applies to the tenant's \
            volumes that have no override of their own, present and future. A volume's cap cannot be \
            set below what it already stores (exit 64). Sizes: 512MiB, 4GiB, 1.5G, 10GB, 1048576.

            Examples:
              volumectl quota set data 4GiB
              volumectl quota set vol-0123456789abcdefghij 512MiB --json
              volumectl quota set --tenant acme 10GiB
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Set this tenant's cap instead of a volume's.", valueName: "tenant"))
    var tenant: String?

    @Argument(help: ArgumentHelp("VOLUME SIZE, or with --tenant just SIZE.", valueName: "volume-and-size"))
    var arguments: [String] = []

    var target: (volume: String?, size: String) {
        tenant == nil ? (arguments.first, arguments.last ?? "") : (nil, arguments.first ?? "")
    }

    func validate() throws {
        if tenant != nil {
            guard arguments.count == 1 else {
                throw ValidationError("with --tenant give just SIZE, like 'quota set --tenant acme 10GiB'")
            }
        } else {
            guard arguments.count == 2 else {
                throw ValidationError("give VOLUME and SIZE, like 'quota set data 4GiB' (or --tenant TENANT SIZE)")
            }
        }
        _ = try parseSize(target.size)
    }

    func run() throws {
        try reporting {
            let bytes = try parseSize(target.size)
            let admin = try global.adminBackend()
            if let tenant {
                try admin.setTenantQuota(tenant, bytes: bytes)
                try global.output(TenantQuota(tenant: tenant, capBytes: bytes)) {
                    print("tenant \(tenant): cap set to \(ByteSize.format(bytes)) for its volumes without their own cap")
                }
                return
            }
            let q = try admin.setVolumeQuota(target.volume!, bytes: bytes)
            try global.output(q) { printQuota(q) }
        }
    }
}
