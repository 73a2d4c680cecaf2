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
        try global.withVolume(ref) { _, vol in try body(LocalFiles(vol: vol)) }
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

    func write(_ path: String, from localFile: String?, parents: Bool, mode: UInt32?, user: FileOwner?) throws -> WriteInfo {
        // Validate the path before reading a possibly long stdin.
        _ = try VolumePath(path)
        let data = localFile == nil ? try LocalFile.readStandardInput() : try LocalFile.read(localFile!)
        return try vol.writeFile(path, data: data, createParents: parents, mode: mode, caller: (user ?? .root).caller())
    }
}
