// `volumectl apikey`: the group of API key commands (keys that volumed accepts).
import ArgumentParser

struct APIKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikey",
        abstract: "Create, list and revoke the API keys volumed accepts.",
        discussion: """
            A tenant key sees only its tenant's volumes; an operator key runs admin calls and may act for \
            any tenant. Keys are stored hashed: the key itself is printed once, by 'create'.

            Examples:
              volumectl apikey create --tenant acme
              volumectl apikey create --tenant ops --operator --expires 30d --json
              volumectl apikey list --tenant acme
              volumectl apikey revoke key-0123456789abcdefghij
            """,
        subcommands: [APIKeyCreateCommand.self, APIKeyListCommand.self, APIKeyRevokeCommand.self]
    )
}
