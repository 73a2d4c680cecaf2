// `volumectl apikey create --tenant NAME [--operator] [--expires DURATION]`: prints a new key, once.
import ArgumentParser
import Foundation
import VolumeCore

struct APIKeyCreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create an API key and print it (it is shown only this once).",
        discussion: """
            Plain output is the key alone on stdout (its ID and role go to stderr), so \
            KEY=$(volumectl apikey create --tenant acme) works. --json prints {"key", "id", "tenant", "role", "expires_at"}.
            Durations: 90m, 12h, 30d, 1w.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "The tenant the key acts for (created when new).")
    var tenant: String

    @Flag(name: .customLong("operator"), help: "An operator key: admin calls, and any tenant's volumes.")
    var isOperator = false

    @Option(help: "Expire the key after this long (default: never).")
    var expires: String?

    func validate() throws {
        if let e = expires, try DurationText.parse(e) <= 0 { throw ValidationError("--expires must be longer than 0s") }
        do { try VolumeStore.validate(owner: tenant) } catch let e as VolumeError { throw ValidationError("\(e)") }
    }

    func run() throws {
        try global.requireLocal("apikey create")
        try reporting {
            let expiresAt = try expires.map { Date().addingTimeInterval(try DurationText.parse($0)) }
            let key = try global.withStore { try $0.createAPIKey(tenant: tenant, role: isOperator ? .operator : .tenant, expiresAt: expiresAt) }
            try global.output(key) {
                print(key.key)
                let until = key.expiresAt.map { ", expires \($0)" } ?? ""
                FileHandle.standardError.write(Data("created \(key.role.rawValue) key \(key.id) for tenant \(key.tenant)\(until); it is not shown again\n".utf8))
            }
        }
    }
}
