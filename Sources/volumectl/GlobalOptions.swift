// Options every volumectl command shares: the data directory or a daemon endpoint, the tenant, JSON output.
import ArgumentParser
import Foundation
import VolumeCore

/// Shared options, included in every command with `@OptionGroup`.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "The data directory (default: $VOLUMES_DATA_DIR, else /var/lib/volumes as root, ~/.local/share/volumes otherwise).")
    var dataDir: String?

    @Option(name: .customLong("owner"), help: "Act as this tenant (default: $VOLUMES_TENANT; volume create uses 'default' when neither is set). Without it, commands see every tenant's volumes.")
    var owner: String?

    @Flag(name: .customLong("json"), help: "Print JSON for machines instead of tables.")
    var json = false

    @Option(name: .customLong("endpoint"), help: ArgumentHelp("Talk to a volumed daemon at this URL (http://HOST:PORT, or a Unix socket: unix:///PATH) instead of a data directory (default: $VOLUMES_ENDPOINT unless --data-dir is given). The API key comes from $VOLUMES_API_KEY; --owner becomes X-Tenant.", valueName: "url"))
    var endpoint: String?

    func validate() throws {
        if let o = scope {
            do { try VolumeStore.validate(owner: o) } catch let e as VolumeError { throw ValidationError("\(e)") }
        }
    }

    /// The data directory to use.
    var resolvedDataDir: URL {
        if let d = dataDir { return URL(fileURLWithPath: d) }
        if let d = ProcessInfo.processInfo.environment["VOLUMES_DATA_DIR"], !d.isEmpty { return URL(fileURLWithPath: d) }
        if getuid() == 0 { return URL(fileURLWithPath: "/var/lib/volumes") }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share/volumes")
    }

    /// The tenant scope: nil for the operator (every tenant).
    var scope: String? { owner ?? ProcessInfo.processInfo.environment["VOLUMES_TENANT"].flatMap { $0.isEmpty ? nil : $0 } }

    /// Opens the store.
    func openStore() throws -> VolumeStore { try VolumeStore(dataDir: resolvedDataDir) }
}
