// `volumectl sandbox`: the group of sandbox commands (through a volumed daemon only), and what they share.
import ArgumentParser
import Foundation
import VolumeAPI
import VolumeClient

struct SandboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Create sandboxes with volumes attached, run commands in them, pause, resume, fork and destroy them.",
        discussion: """
            These talk to a volumed daemon: --endpoint URL (or VOLUMES_ENDPOINT) with a tenant key in \
            VOLUMES_API_KEY. A sandbox created with --runtime bwrap (the default here) is a set of Linux \
            namespaces the daemon runs (volumed --sandbox-runtime bwrap); 'sandbox exec' runs commands in it.
            VOL is a volume ID or a unique name; a volume spec is VOL:/MOUNT_PATH[:ro][:subpath=/DIR].

            Examples:
              ID=$(volumectl sandbox create --volume data:/data)
              volumectl sandbox exec "$ID" -- wc -l /data/rows.csv
              volumectl sandbox pause "$ID"; volumectl sandbox resume "$ID"
              volumectl sandbox attachments "$ID"
              volumectl sandbox destroy "$ID"
            """,
        subcommands: [SandboxCreateCommand.self, SandboxExecCommand.self, SandboxListCommand.self,
                      SandboxPauseCommand.self, SandboxHibernateCommand.self, SandboxResumeCommand.self, SandboxDestroyCommand.self,
                      SandboxForkCommand.self, SandboxAttachCommand.self, SandboxDetachCommand.self, SandboxAttachmentsCommand.self]
    )
}

extension GlobalOptions {
    /// The daemon's client; the sandbox commands have no data-directory form (usage, exit 64).
    func sandboxClient() throws -> VolumeClient {
        guard let e = resolvedEndpoint else {
            writeStderr("volumectl: sandbox commands talk to a volumed daemon: give --endpoint URL or set VOLUMES_ENDPOINT (and VOLUMES_API_KEY)\n")
            throw ExitCode(64)
        }
        return try RemoteBackend(endpoint: e, scope: scope).client
    }
}

/// `VOL:/path[:ro][:subpath=/x]` as an attachment request (the volume still a reference).
struct VolumeSpec {
    var volume: String
    var request: AttachRequest

    init(_ text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2, !parts[0].isEmpty, parts[1].hasPrefix("/") else {
            throw RemoteFailure(code: "bad_request", message: "'\(text)' is not a volume spec; give VOL:/MOUNT_PATH[:ro][:subpath=/DIR]")
        }
        volume = parts[0]
        request = AttachRequest(volumeId: parts[0], mountPath: parts[1])
        for option in parts.dropFirst(2) {
            if option == "ro" { request.readOnly = true } else if option == "rw" { request.readOnly = false } else if option.hasPrefix("subpath=") {
                request.subpath = String(option.dropFirst("subpath=".count))
            } else {
                throw RemoteFailure(code: "bad_request", message: "unknown option '\(option)' in '\(text)'; options are ro, rw, subpath=/DIR")
            }
        }
    }

    /// The request with the volume reference resolved to its ID (a name is looked up).
    func resolved(_ client: VolumeClient) throws -> AttachRequest {
        let ref = volume
        var r = request
        r.volumeId = try blocking { try await client.volumes.get(ref) }.volumeId
        return r
    }
}

/// The human view of attachments, one a line.
func printAttachments(_ list: [AttachmentResponse]) {
    printTable(["ATTACHMENT", "VOLUME", "MOUNT_PATH", "MODE", "SUBPATH", "STATE", "REASON"],
               list.map { [$0.attachmentId, $0.volumeId, $0.mountPath, $0.readOnly ? "ro" : "rw", $0.subpath, $0.state, $0.reason ?? ""] })
}

/// Warns on stderr about each attachment that is not mounted.
func warnUnmounted(_ s: SandboxResponse) {
    for a in s.attachments where s.state == "running" && a.state != "mounted" {
        writeStderr("volumectl: attachment \(a.attachmentId) (\(a.volumeId) at \(a.mountPath)) is \(a.state): \(a.reason ?? "") \(a.message ?? "")\n")
    }
}
