// volume.files: read (whole, ranged, streamed, to a file), write (bytes, stream, file), list, stat, exists,
// makeDir, move, remove, edit, search, replace.
import AsyncHTTPClient
import Foundation
import NIOHTTP1
import NIOCore
import VolumeAPI

/// The files API of one volume (the reference's `sbx.files` / `volume.files`). Paths are absolute inside
/// the volume; `..`, NUL and over-long names are refused by the daemon (`invalid_path`, 400).
public struct Files: Sendable {
    let volume: String
    let transport: Transport

    var base: String { Transport.volumeRoute(volume) + "/files" }

    // MARK: Reading

    /// A file's bytes, whole (or `length` bytes from `offset`), held in memory: for small files.
    /// Use ``readStream(_:offset:length:)`` or ``download(_:to:progress:)`` for large ones.
    /// A range past the end is `out_of_range` (416).
    public func read(_ path: String, offset: Int64 = 0, length: Int64? = nil) async throws -> Data {
        if length == 0 { return Data() }
        let download = try await readStream(path, offset: offset, length: length)
        return try await transport.collect(download.response, upTo: Int.max)
    }

    /// A file's bytes as they arrive: `body` is an async sequence of byte buffers, never held whole.
    public func readStream(_ path: String, offset: Int64 = 0, length: Int64? = nil) async throws -> FileDownload {
        var headers: [(String, String)] = []
        if offset > 0 || length != nil {
            let end = length.map { String(offset + max($0, 1) - 1) } ?? ""
            headers.append(("Range", "bytes=\(offset)-\(end)"))
        }
        let r = transport.request(.GET, base + "/content", query: [("path", path)], headers: headers)
        return FileDownload(response: try await transport.send(r), endpoint: transport.endpoint)
    }

    /// Streams a file into a local file: written under a temporary name beside it and renamed into place,
    /// so `to` is either the old file or the whole new one. Returns the bytes written.
    @discardableResult
    public func download(_ path: String, to destination: URL, progress: (@Sendable (Int64) -> Void)? = nil) async throws -> Int64 {
        let d = try await readStream(path)
        return try await d.write(to: destination, progress: progress)
    }

    // MARK: Writing

    /// Creates or replaces a file with `data` (the reference's `files.write`). `parents` creates missing
    /// directories; `mode` is octal text like "0644" (an existing file keeps its own when nil); `user`
    /// owns the file and the directories made ("root", the default, "UID" or "UID:GID"; the
    /// reference's `WriteEntry.user`).
    @discardableResult
    public func write(_ path: String, data: Data, parents: Bool = false, mode: String? = nil, user: String? = nil) async throws -> WriteResponse {
        var r = writeRequest(path, parents: parents, mode: mode, user: user)
        r.body = .bytes(ByteBuffer(bytes: data))
        return try await transport.json(r, as: WriteResponse.self)
    }

    /// Creates or replaces a file with bytes from an async sequence, streamed (never held whole). With
    /// `length` the body is sent with `Content-Length` (the daemon checks the cap before storing anything);
    /// nil sends it chunked. A cut or failed upload leaves the old content.
    @discardableResult
    public func write<S: AsyncSequence & Sendable>(_ path: String, stream: S, length: Int64?, parents: Bool = false,
                                                  mode: String? = nil, user: String? = nil) async throws -> WriteResponse where S.Element == ByteBuffer {
        var r = writeRequest(path, parents: parents, mode: mode, user: user)
        r.body = .stream(stream, length: length.map { .known($0) } ?? .unknown)
        return try await transport.json(r, as: WriteResponse.self)
    }

    /// Creates or replaces a file with a local file's bytes, streamed.
    @discardableResult
    public func upload(_ path: String, fromFile source: URL, parents: Bool = false, mode: String? = nil, user: String? = nil,
                       progress: (@Sendable (Int64) -> Void)? = nil) async throws -> WriteResponse {
        let chunks = try FileChunks(path: source.path, progress: progress)
        return try await write(path, stream: chunks, length: chunks.size, parents: parents, mode: mode, user: user)
    }

    private func writeRequest(_ path: String, parents: Bool, mode: String?, user: String?) -> HTTPClientRequest {
        transport.request(.PUT, base + "/content", query: [("path", path), ("parents", parents ? "true" : nil), ("mode", mode), ("user", user)],
                          headers: [("Content-Type", "application/octet-stream")])
    }

    // MARK: Metadata and namespace

    /// A directory's entries; `depth` > 1 lists the tree below it (each directory's contents after it).
    public func list(_ path: String = "/", depth: Int = 1) async throws -> [EntryResponse] {
        try await transport.json(.GET, base, query: [("path", path), ("depth", String(depth))], as: [EntryResponse].self)
    }

    /// One entry (the reference's `getInfo`); a symlink is reported as itself, with `target`.
    public func stat(_ path: String) async throws -> EntryResponse {
        try await transport.json(.GET, base + "/stat", query: [("path", path)], as: EntryResponse.self)
    }

    /// Whether anything is at `path`.
    public func exists(_ path: String) async throws -> Bool {
        try await transport.json(.GET, base + "/exists", query: [("path", path)], as: ExistsResponse.self).exists
    }

    /// Makes a directory; with `parents`, missing parents too and no error when it exists (`created` is false then).
    @discardableResult
    public func makeDir(_ path: String, parents: Bool = false, mode: String? = nil, user: String? = nil) async throws -> MakeDirResponse {
        try await transport.json(.POST, base + "/mkdir", body: MakeDirRequest(path: path, parents: parents, mode: mode, user: user),
                                 as: MakeDirResponse.self)
    }

    /// Moves or renames (the reference's `rename`); returns the entry at its new path.
    @discardableResult
    public func move(_ from: String, to: String, overwrite: Bool = false) async throws -> EntryResponse {
        try await transport.json(.POST, base + "/move", body: MoveRequest(from: from, to: to, overwrite: overwrite), as: EntryResponse.self)
    }

    /// Removes a file, or a directory (`recursive` for a non-empty one).
    public func remove(_ path: String, recursive: Bool = false) async throws {
        try await transport.call(.DELETE, base, query: [("path", path), ("recursive", recursive ? "true" : nil)])
    }

    // MARK: Text

    /// Replaces `old` by `new` in a text file: exactly one occurrence, or every one with `all`
    /// (`edit_conflict`, 409, otherwise). Returns the number replaced.
    @discardableResult
    public func edit(_ path: String, old: String, new: String, all: Bool = false) async throws -> Int {
        try await transport.json(.POST, base + "/edit", body: EditRequest(path: path, old: old, new: new, all: all), as: EditResponse.self)
            .replacements
    }

    /// Files whose name matches a glob and/or lines matching a regex (ICU syntax), below `under`.
    public func search(under: String = "/", name: String? = nil, content: String? = nil, limit: Int? = nil) async throws -> SearchResponse {
        try await transport.json(.POST, base + "/search", body: SearchRequest(under: under, name: name, content: content, limit: limit),
                                 as: SearchResponse.self)
    }

    /// Replaces text in every file matching `glob`, all in one transaction (`dryRun` only counts).
    @discardableResult
    public func replace(glob: String, old: String, new: String, regex: Bool = false, dryRun: Bool = false,
                        under: String = "/") async throws -> ReplaceResponse {
        try await transport.json(.POST, base + "/replace",
                                 body: ReplaceRequest(glob: glob, old: old, new: new, regex: regex, dryRun: dryRun, under: under),
                                 as: ReplaceResponse.self)
    }
}
