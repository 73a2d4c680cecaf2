// files.uploadArchive / downloadArchive: a tar.gz streamed into a directory of the volume, and a directory (or the volume) streamed out as one.
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import VolumeAPI

extension Files {
    /// Unpacks a tar.gz into directory `path` (made if missing), streamed: the Phase 1 safety rules apply
    /// (links, devices and `..` entries are dropped and listed in the answer), and the entries appear in one
    /// commit at the end, or not at all. `length` lets the daemon check sizes first; nil sends it chunked.
    /// Entries keep the archive's owners, or all belong to `user` ("root", "UID" or "UID:GID") when given.
    @discardableResult
    public func uploadArchive<S: AsyncSequence & Sendable>(into path: String = "/", archive: S, length: Int64?,
                                                          user: String? = nil) async throws -> ArchiveUploadResponse
    where S.Element == ByteBuffer {
        var r = transport.request(.PUT, base + "/archive", query: [("path", path), ("user", user)], headers: [("Content-Type", "application/gzip")])
        r.body = .stream(archive, length: length.map { .known($0) } ?? .unknown)
        let data = try await transport.collect(try await transport.send(r))
        do { return try JSONDecoder().decode(ArchiveUploadResponse.self, from: data) } catch {
            throw VolumeClientError(status: 0, code: "bad_response", message: "PUT archive: the answer is not the expected JSON: \(error)")
        }
    }

    /// Unpacks a local tar.gz file into directory `path`, streamed from disk.
    @discardableResult
    public func uploadArchive(into path: String = "/", archiveFile: URL, user: String? = nil,
                              progress: (@Sendable (Int64) -> Void)? = nil) async throws -> ArchiveUploadResponse {
        let chunks = try FileChunks(path: archiveFile.path, progress: progress)
        return try await uploadArchive(into: path, archive: chunks, length: chunks.size, user: user)
    }

    /// Directory `path` (default: the whole volume; a file exports as itself) as a tar.gz, streamed from one
    /// snapshot of the volume: `body` is never held whole.
    public func downloadArchive(_ path: String = "/") async throws -> FileDownload {
        let r = transport.request(.GET, base + "/archive", query: [("path", path)])
        return FileDownload(response: try await transport.send(r), endpoint: transport.endpoint)
    }

    /// Streams the tar.gz of `path` into a local file (under a temporary name, renamed into place when
    /// whole). Returns the bytes written.
    @discardableResult
    public func downloadArchive(_ path: String = "/", to destination: URL, progress: (@Sendable (Int64) -> Void)? = nil) async throws -> Int64 {
        try await downloadArchive(path).write(to: destination, progress: progress)
    }
}

extension Volumes {
    /// Deletes a volume even while sandboxes have it attached (operator keys only): those attachments
    /// become `failed` with reason `volume_deleted` and their mounts go.
    public func delete(_ ref: String, force: Bool) async throws {
        try await transport.call(.DELETE, Transport.volumeRoute(ref), query: [("force", force ? "true" : nil)])
    }
}
