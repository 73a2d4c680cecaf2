// volumed's settings: flags over VOLUMED_* environment variables over an optional JSON config file over defaults.
import Foundation
import VolumeServer

/// Everything volumed needs to start, resolved from its three sources.
struct Settings {
    var dataDir: URL
    var listenHost: String
    var listenPort: Int
    var socket: String?
    var addressFile: String?
    var threads: Int
    var idleCloseSeconds: Double
    var drainSeconds: Double
    var idleTimeoutSeconds: Double
    var limits: ServerLimits
    var uploadExpirySeconds: Double
    var signingSecret: String?
    var gcInterval: Double
    var gcGrace: Double
    var journalKeepEvents: Int64
    var journalKeepSeconds: Double
    /// Fork mount servers from a warm `volumectl mount-launcher` (`MountLauncher`).
    var mountLauncher = true

    /// The config file's keys (all optional).
    struct File: Decodable {
        var data_dir: String?
        var listen: String?
        var socket: String?
        var address_file: String?
        var threads: Int?
        var idle_close_seconds: Double?
        var drain_seconds: Double?
        var idle_timeout_seconds: Double?
        var max_json_bytes: Int?
        var max_file_bytes: Int64?
        var max_batch_bytes: Int?
        var max_import_bytes: Int64?
        var upload_expiry_seconds: Double?
        var signing_secret: String?
        var watch_heartbeat_seconds: Double?
        var tenant_namespace_pid: Bool?
        var mount_launcher: Bool?
        var gc_interval_seconds: Double?
        var gc_grace_seconds: Double?
        var journal_keep_events: Int64?
        var journal_keep_seconds: Double?
    }

    static let defaultListen = "127.0.0.1:8780"

    /// Splits HOST:PORT ("[::1]:80" for IPv6).
    static func parseListen(_ text: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":") else { throw SettingsError("--listen takes HOST:PORT, like \(defaultListen), not '\(text)'") }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw SettingsError("--listen takes HOST:PORT with a port from 0 to 65535, like \(defaultListen), not '\(text)'")
        }
        return (host, port)
    }

    /// The data directory when nothing names one: as volumectl's (VOLUMES_DATA_DIR, /var/lib/volumes for root).
    static func defaultDataDir(_ env: [String: String]) -> String {
        if let d = env["VOLUMES_DATA_DIR"], !d.isEmpty { return d }
        if getuid() == 0 { return "/var/lib/volumes" }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share/volumes").path
    }
}

struct SettingsError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
