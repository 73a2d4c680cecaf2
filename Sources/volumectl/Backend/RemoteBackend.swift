// The backend on a volumed daemon: every call goes through VolumeClient over HTTP ($VOLUMES_API_KEY as the key).
import Foundation
import VolumeAPI
import VolumeClient
import VolumeCore

#if canImport(Glibc)
import Glibc
#endif

struct RemoteBackend: VolumeBackend {
    let client: VolumeClient
    let scope: String?

    init(endpoint: String, scope: String?) throws {
        let key = ProcessInfo.processInfo.environment["VOLUMES_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        do { client = try VolumeClient(endpoint: endpoint, apiKey: key, tenant: scope) } catch let e as VolumeClientError { throw RemoteFailure(e) }
        self.scope = scope
    }

    func createVolume(owner: String?, name: String, metadata: [String: String]) throws -> VolumeInfo {
        let client = self.client
        let made: VolumeResponse = try blocking {
            do {
                return try await client.volumes.create(name: name, metadata: metadata.isEmpty ? nil : metadata)
            } catch let e as VolumeClientError where owner == nil && e.status == 400 && e.message.contains("X-Tenant") {
                // An operator key with no --owner: the local mode creates for the tenant 'default'.
                return try await client.acting(for: "default").volumes.create(name: name, metadata: metadata.isEmpty ? nil : metadata)
            }
        }
        return try convert(made)
    }

    func listVolumes() throws -> [VolumeInfo] {
        let client = self.client
        return try convert(try blocking { try await client.volumes.list() })
    }

    func volumeInfo(_ ref: String) throws -> VolumeInfo {
        let client = self.client
        return try convert(try blocking { try await client.volumes.get(ref) })
    }

    func deleteVolume(_ ref: String, force: Bool) throws -> VolumeInfo {
        let client = self.client
        let info = try blocking { try await client.volumes.get(ref) }
        try blocking { try await client.volumes.delete(info.volumeId, force: force) }
        return try convert(info)
    }

    func withFiles<T>(_ ref: String, _ body: (any FilesBackend) throws -> T) throws -> T {
        let id = try volumeInfo(ref).volumeId
        return try body(RemoteFiles(volumeId: id, files: client.volume(id).files))
    }

    func createAPIKey(tenant: String, operator: Bool, expiresIn: TimeInterval?) throws -> NewAPIKey {
        let keys = client.apiKeys
        return try convert(try blocking { try await keys.create(tenant: tenant, operator: `operator`, expiresIn: expiresIn) })
    }

    func listAPIKeys(tenant: String?) throws -> [APIKeyInfo] {
        let keys = client.apiKeys
        return try convert(try blocking { try await keys.list(tenant: tenant) })
    }

    func revokeAPIKey(_ id: String) throws -> APIKeyInfo {
        let keys = client.apiKeys
        return try convert(try blocking { try await keys.revoke(id) })
    }
}

/// The files of one volume on the daemon.
struct RemoteFiles: FilesBackend {
    let volumeId: String
    let files: Files

    func stat(_ path: String) throws -> EntryInfo {
        let f = files
        return try convert(try blocking { try await f.stat(path) })
    }

    func exists(_ path: String) throws -> Bool {
        let f = files
        return try blocking { try await f.exists(path) }
    }

    func list(_ path: String, depth: Int) throws -> [EntryInfo] {
        let f = files
        // The daemon lists at most 1024 levels; deeper trees do not exist (paths are at most 4096 bytes).
        return try convert(try blocking { try await f.list(path, depth: min(depth, 1024)) })
    }

    func makeDirectory(_ path: String, parents: Bool, mode: UInt32, user: FileOwner?) throws -> Bool {
        let f = files
        return try blocking { try await f.makeDir(path, parents: parents, mode: String(mode, radix: 8), user: user?.description) }.created
    }

    func move(_ from: String, to: String, overwrite: Bool) throws {
        let f = files
        _ = try blocking { try await f.move(from, to: to, overwrite: overwrite) }
    }

    func remove(_ path: String, recursive: Bool, force: Bool) throws -> Bool {
        let f = files
        do {
            try blocking { try await f.remove(path, recursive: recursive) }
            return true
        } catch let e as RemoteFailure where force && e.code == "not_found" {
            return false
        }
    }

    func edit(_ path: String, old: String, new: String, all: Bool) throws -> Int {
        let f = files
        return try blocking { try await f.edit(path, old: old, new: new, all: all) }
    }

    func search(under: String, name: String?, content: String?, limit: Int) throws -> SearchResult {
        let f = files
        return try convert(try blocking { try await f.search(under: under, name: name, content: content, limit: limit) })
    }

    func replace(glob: String, old: String, new: String, regex: Bool, dryRun: Bool, under: String) throws -> ReplaceReport {
        let f = files
        return try convert(try blocking { try await f.replace(glob: glob, old: old, new: new, regex: regex, dryRun: dryRun, under: under) })
    }

    func read(_ path: String, offset: Int64, length: Int?) throws -> Data {
        let f = files
        // As the local mode: a regular file's size first, then the range clamped to it (never a 416).
        let entry = try blocking { try await f.stat(path) }
        // Not a regular file: the daemon's read says why, as the core does locally.
        if entry.type != "file" { return try blocking { try await f.read(path) } }
        let available = max(0, entry.size - offset)
        let n = min(Int64(length ?? Int(available)), available)
        if n == 0 { return Data() }
        return try blocking { try await f.read(path, offset: offset, length: n) }
    }

    func copyOut(_ path: String, to localFile: String?) throws -> Int {
        let f = files
        if let localFile {
            return Int(try blocking { try await f.download(path, to: URL(fileURLWithPath: localFile)) })
        }
        return try blocking {
            let d = try await f.readStream(path)
            var total = 0
            for try await buffer in d.body {
                try writeStdout(Data(buffer.readableBytesView))
                total += buffer.readableBytes
            }
            return total
        }
    }

    func write(_ path: String, from localFile: String?, parents: Bool, mode: UInt32?, user: FileOwner?) throws -> WriteInfo {
        let f = files
        let userText = user?.description
        _ = try VolumePath(path)
        let modeText = mode.map { String($0, radix: 8) }
        let w: WriteResponse
        if let localFile {
            // The local side's errors as the local mode words them.
            let fd = open(localFile, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw LocalFile.error(errno, "cannot read local file '\(localFile)'") }
            var st = Glibc.stat()
            let isDirectory = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
            close(fd)
            if isDirectory { throw VolumeError.isADirectory("local path '\(localFile)' is a directory; give one file") }
            w = try blocking { try await f.upload(path, fromFile: URL(fileURLWithPath: localFile), parents: parents, mode: modeText, user: userText) }
        } else {
            if isatty(STDIN_FILENO) != 0 { writeStderr("volumectl: reading the file's bytes from the terminal; end with Ctrl-D\n") }
            w = try blocking { try await f.write(path, stream: try FileChunks(path: "/dev/stdin"), length: nil, parents: parents, mode: modeText, user: userText) }
        }
        return try convert(w)
    }
}
