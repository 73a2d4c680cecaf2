// `volumectl apikey list [--tenant NAME]`: the keys, newest first, without their secrets.
import ArgumentParser
import VolumeCore

struct APIKeyListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List API keys (never their secrets), newest first.",
        aliases: ["ls"]
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Only this tenant's keys.")
    var tenant: String?

    func run() throws {
        try global.requireLocal("apikey list")
        try reporting {
            let keys = try global.withStore { try $0.listAPIKeys(tenant: tenant) }
            try global.output(keys) {
                printTable(["ID", "TENANT", "ROLE", "STATE", "CREATED", "EXPIRES"], keys.map { k in
                    [k.id, k.tenant, k.role.rawValue, k.revokedAt != nil ? "revoked" : (k.active ? "active" : "expired"),
                     k.createdAt, k.expiresAt ?? "-"]
                })
            }
        }
    }
}
