// The backend on a data directory: the core called in this process (what volumectl always did).
import Foundation
import VolumeCore

struct LocalBackend: VolumeBackend {
    let global: GlobalOptions

    func createVolume(owner: String?, name: String, metadata: [String: String]) throws -> VolumeInfo {
        try global.withStore { try $0.createVolume(owner: owner ?? "default", name: name, metadata: metadata) }
    }

    func listVolumes() throws -> [VolumeInfo] { try global.withStore { try $0.listVolumes(owner: global.scope) } }

    func volumeInfo(_ ref: String) throws -> VolumeInfo {
        try global.withStore { store in try store.info(try store.resolve(ref, owner: global.scope), owner: global.scope) }
    }

    func deleteVolume(_ ref: String, force: Bool) throws -> VolumeInfo {
        try global.withStore { store in
            let info = try store.info(try store.resolve(ref, owner: global.scope), owner: global.scope)
            try store.deleteVolume(info.volumeId, owner: global.scope, force: force)
            return info
        }
    }

    func withFiles<T>(_ ref: String, _ body: (any FilesBackend) throws -> T) throws -> T {
        try global.withVolume(ref) { store, vol in try body(LocalFiles(vol: vol, store: store)) }
    }

    func createAPIKey(tenant: String, operator: Bool, expiresIn: TimeInterval?) throws -> NewAPIKey {
        let expiresAt = expiresIn.map { Date().addingTimeInterval($0) }
        return try global.withStore { try $0.createAPIKey(tenant: tenant, role: `operator` ? .operator : .tenant, expiresAt: expiresAt) }
    }

    func listAPIKeys(tenant: String?) throws -> [APIKeyInfo] { try global.withStore { try $0.listAPIKeys(tenant: tenant) } }

    func revokeAPIKey(_ id: String) throws -> APIKeyInfo { try global.withStore { try $0.revokeAPIKey(id) } }
}

/// The files of an open volume.
struct LocalFiles: FilesBackend {
    let vol: Volume
    /// For the import lease a streamed write holds.
    let store: VolumeStore
    var volumeId: String { vol.id }

    func stat(_ path: String) throws -> EntryInfo { try vol.stat(path) }
    func exists(_ path: String) throws -> Bool { try vol.exists(path) }
    func list(_ path: String, depth: Int) throws -> [EntryInfo] { try vol.list(path, depth: depth) }
    func makeDirectory(_ path: String, parents: Bool, mode: UInt32, user: FileOwner?) throws -> Bool {
        try vol.makeDirectory(path, parents: parents, mode: mode, caller: (user ?? .root).caller())
    }
    func move(_ from: String, to: String, overwrite: Bool) throws { try vol.move(from, to: to, overwrite: overwrite) }

    func remove(_ path: String, recursive: Bool, force: Bool) throws -> Bool {
        do {
            try vol.remove(path, recursive: recursive)
            return true
        } catch VolumeError.notFound(let what) {
            guard force else { throw VolumeError.notFound(what) }
            return false
        }
    }

    func edit(_ path: String, old: String, new: String, all: Bool) throws -> Int { try vol.edit(path, old: old, new: new, all: all) }

    func search(under: String, name: String?, content: String?, limit: Int) throws -> SearchResult {
        try vol.search(under: under, name: name, content: content, limit: limit)
    }

    func replace(glob: String, old: String, new: String, regex: Bool, dryRun: Bool, under: String) throws -> ReplaceReport {
        try vol.replace(glob: glob, old: old, new: new, regex: regex, dryRun: dryRun, under: under)
    }

    func read(_ path: String, offset: Int64, length: Int?) throws -> Data {
        let size = try vol.attributes(at: path).size
        let available = Int(max(0, size - offset))
        return try vol.readFile(path, offset: offset, length: min(length ?? available, available))
    }

    func copyOut(_ path: String, to localFile: String?) throws -> Int {
        let data = try vol.readFile(path)
        if let localFile { try LocalFile.write(localFile, data) } else { try writeStdout(data) }
        return data.count
    }

    /// The streaming write the daemon's PUT uses: the input is stored as it is read (never held whole) and the
    /// file appears in one commit at the end; a failure leaves the old content.
    func write(_ path: String, from localFile: String?, parents: Bool, mode: UInt32?, user: FileOwner?) throws -> WriteInfo {
        // Check the path and the target before reading a possibly long stdin.
        let p = try VolumePath(path)
        let existing = try vol.prepareStreamedWrite(p, createParents: parents)
        let input = try LocalFile.source(localFile)
        let owner = user ?? .root
        let source = try StreamFileSource(input: input, name: p.name, mode: mode ?? existing ?? 0o644, owner: owner)
        let options = TransferOptions(caller: owner.caller(), isCancelled: TransferSignals.isCancelled)
        // An import lease, as every streamed write holds: a deletion from another process is refused meanwhile.
        let report = try store.withLease(volume: vol.id, purpose: .import) { try vol.writeFile(p, streaming: source, options: options) }
        return WriteInfo(path: p.description, size: report.bytes)
    }
}
