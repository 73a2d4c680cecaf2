// client.volumes: create (empty, or from a Phase 1 tar.gz file or stream), list, get, delete.
import AsyncHTTPClient
import Foundation
import NIOHTTP1
import NIOCore
import VolumeAPI

/// The volume lifecycle calls (the reference's `Volumes.create/list/get/delete`).
public struct Volumes: Sendable {
    let transport: Transport

    /// Creates an empty volume (`POST /v1/volumes` with JSON).
    public func create(name: String, metadata: [String: String]? = nil) async throws -> VolumeResponse {
        try await transport.json(.POST, "/v1/volumes", body: CreateVolumeRequest(name: name, metadata: metadata), as: VolumeResponse.self)
    }

    /// The Phase 1 `Volumes.create(name, data)`: streams a tar.gz into a new volume. Symlinks, hard links,
    /// devices and `..` entries are dropped and listed in the answer's `import`; the volume appears only
    /// once the import has landed. `length` (when known) lets the daemon refuse a body over 4 GiB (413)
    /// before anything is stored; nil sends it chunked.
    public func create<S: AsyncSequence & Sendable>(name: String, archive: S, length: Int64?) async throws -> ImportedVolumeResponse
    where S.Element == ByteBuffer {
        var r = transport.request(.POST, "/v1/volumes", query: [("name", name)], headers: [("Content-Type", "application/gzip")])
        r.body = .stream(archive, length: length.map { .known($0) } ?? .unknown)
        return try await transport.json(r, as: ImportedVolumeResponse.self)
    }

    /// The Phase 1 create from a tar.gz file on disk, streamed (never read whole).
    public func create(name: String, archiveFile: URL, progress: (@Sendable (Int64) -> Void)? = nil) async throws -> ImportedVolumeResponse {
        let chunks = try FileChunks(path: archiveFile.path, progress: progress)
        return try await create(name: name, archive: chunks, length: chunks.size)
    }

    /// The Phase 1 create from bytes in memory.
    public func create(name: String, archive: Data) async throws -> ImportedVolumeResponse {
        var r = transport.request(.POST, "/v1/volumes", query: [("name", name)], headers: [("Content-Type", "application/gzip")])
        r.body = .bytes(ByteBuffer(bytes: archive))
        return try await transport.json(r, as: ImportedVolumeResponse.self)
    }

    /// The caller's volumes (an operator without a tenant: everyone's), newest first.
    public func list() async throws -> [VolumeResponse] {
        try await transport.json(.GET, "/v1/volumes", as: [VolumeResponse].self)
    }

    /// One volume by ID or unique name; another tenant's is `not_found` (404), as a missing one.
    public func get(_ ref: String) async throws -> VolumeResponse {
        try await transport.json(.GET, Transport.volumeRoute(ref), as: VolumeResponse.self)
    }

    /// Only the named fields of a volume (`?fields=a,b`), as the raw JSON object the daemon sent.
    public func get(_ ref: String, fields: [String]) async throws -> Data {
        try await transport.call(.GET, Transport.volumeRoute(ref), query: [("fields", fields.joined(separator: ","))])
    }

    /// Deletes a volume and everything in it.
    public func delete(_ ref: String) async throws {
        try await transport.call(.DELETE, Transport.volumeRoute(ref))
    }
}
