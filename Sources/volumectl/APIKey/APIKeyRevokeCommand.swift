// `volumectl apikey revoke ID`: the key stops working at once.
import ArgumentParser
import VolumeCore

struct APIKeyRevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke an API key; requests with it get 401 from then on."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The key's ID (key-...), as 'apikey list' shows it.")
    var id: String

    func run() throws {
        try global.requireLocal("apikey revoke")
        try reporting {
            let key = try global.withStore { try $0.revokeAPIKey(id) }
            try global.output(key) { print("revoked key \(key.id) of tenant \(key.tenant)") }
        }
    }
}
