// The one seam between the commands and where volumes live: a data directory (LocalBackend) or a volumed
// daemon over HTTP (RemoteBackend). Commands call these and print the same output either way.
import ArgumentParser
import Foundation
import VolumeCore

/// What the volume, files and transfer commands need, answered in the core's value types so that the
/// output code is shared. `ref` is a volume ID or a unique name.
protocol VolumeBackend {
    func createVolume(owner: String?, name: String, metadata: [String: String]) throws -> VolumeInfo
    func listVolumes() throws -> [VolumeInfo]
    func volumeInfo(_ ref: String) throws -> VolumeInfo
    /// Deletes the volume and returns what it was; `force` deletes it even while leases or live
    /// attachments hold it (those attachments become `failed`).
    func deleteVolume(_ ref: String, force: Bool) throws -> VolumeInfo
    /// Runs `body` with the files of one volume.
    func withFiles<T>(_ ref: String, _ body: (any FilesBackend) throws -> T) throws -> T

    /// `upload SOURCE VOLUME:/PATH`: a local file, directory or '-' (stdin); returns the volume ID and the report.
    /// With `user`, everything it writes is that user's (as `files put --user`); without, a tree keeps its owners.
    func upload(source: String, to loc: VolumeLocation, mode: UInt32, user: FileOwner?, bar: TransferProgressBar, quiet: Bool) throws -> (String, ImportReport)
    /// `download VOLUME:/PATH LOCAL`.
    func download(_ loc: VolumeLocation, to destination: String, bar: TransferProgressBar) throws -> (String, ExportReport)
    /// `export VOLUME [--path P] -o OUT`: the tar.gz written to `output` (opened once the volume and path are found).
    func export(_ ref: String, path: String, level: Int, options: TransferOptions, to output: ExportOutput) throws -> (String, ExportReport)
    /// `import BLOB --create NAME | --volume VOLUME [--path P]`: returns the report, the volume ID and the new volume's ID.
    /// With `user`, every entry is that user's; without, entries keep the archive's owners.
    func importArchive(blob: String, create: String?, volume: String?, path: String, owner: String?, user: FileOwner?,
                       bar: TransferProgressBar, quiet: Bool) throws -> (ImportReport, String, String?)

    /// `apikey create/list/revoke` (operator calls).
    func createAPIKey(tenant: String, operator: Bool, expiresIn: TimeInterval?) throws -> NewAPIKey
    func listAPIKeys(tenant: String?) throws -> [APIKeyInfo]
    func revokeAPIKey(_ id: String) throws -> APIKeyInfo
}

/// The files operations of one volume.
protocol FilesBackend {
    var volumeId: String { get }
    func stat(_ path: String) throws -> EntryInfo
    func exists(_ path: String) throws -> Bool
    func list(_ path: String, depth: Int) throws -> [EntryInfo]
    /// Whether it was created (false: `parents` and it was there).
    /// Makes a directory (and missing parents with `parents`) owned by `user` (root when nil).
    func makeDirectory(_ path: String, parents: Bool, mode: UInt32, user: FileOwner?) throws -> Bool
    func move(_ from: String, to: String, overwrite: Bool) throws
    /// Whether something was removed (false only with `force` when nothing was there).
    func remove(_ path: String, recursive: Bool, force: Bool) throws -> Bool
    func edit(_ path: String, old: String, new: String, all: Bool) throws -> Int
    func search(under: String, name: String?, content: String?, limit: Int) throws -> SearchResult
    func replace(glob: String, old: String, new: String, regex: Bool, dryRun: Bool, under: String) throws -> ReplaceReport
    /// Up to `length` bytes from `offset` (clamped to the file's end, as `cat` reads).
    func read(_ path: String, offset: Int64, length: Int?) throws -> Data
    /// Copies a file out to a local file, or to stdout when `localFile` is nil; returns its size.
    func copyOut(_ path: String, to localFile: String?) throws -> Int
    /// Creates or replaces a file from a local file, or stdin when `localFile` is nil, owned by `user` (root when nil).
    func write(_ path: String, from localFile: String?, parents: Bool, mode: UInt32?, user: FileOwner?) throws -> WriteInfo
}

extension GlobalOptions {
    /// The endpoint to talk to: --endpoint, else $VOLUMES_ENDPOINT unless --data-dir was given; nil: the data directory.
    var resolvedEndpoint: String? {
        if let e = endpoint { return e }
        if dataDir != nil { return nil }
        return ProcessInfo.processInfo.environment["VOLUMES_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The backend the options name: a daemon when an endpoint is set, else the data directory.
    func backend() throws -> any VolumeBackend {
        if let e = resolvedEndpoint { return try RemoteBackend(endpoint: e, scope: scope) }
        return LocalBackend(global: self)
    }

    /// Refuses to run a command that has no remote form when an endpoint is set (usage, exit 64).
    func requireLocal(_ command: String) throws {
        guard resolvedEndpoint != nil else { return }
        writeStderr("volumectl: '\(command)' is not available over --endpoint yet; run it on the daemon's host with --data-dir\n")
        throw ExitCode(64)
    }
}
