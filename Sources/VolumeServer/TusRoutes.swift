// Resumable uploads speaking tus 1.0.0 (core, creation, termination, expiration) under /v1/volumes/{volume}/uploads.
import Foundation
import HTTPTypes
import Hummingbird
import VolumeAPI
import VolumeCore

extension HTTPField.Name {
    static let tusResumable = HTTPField.Name("Tus-Resumable")!
    static let tusVersion = HTTPField.Name("Tus-Version")!
    static let tusExtension = HTTPField.Name("Tus-Extension")!
    static let tusMaxSize = HTTPField.Name("Tus-Max-Size")!
    static let uploadOffset = HTTPField.Name("Upload-Offset")!
    static let uploadLength = HTTPField.Name("Upload-Length")!
    static let uploadMetadata = HTTPField.Name("Upload-Metadata")!
    static let uploadExpires = HTTPField.Name("Upload-Expires")!
    static let uploadDeferLength = HTTPField.Name("Upload-Defer-Length")!
}

struct TusRoutes: Sendable {
    let host: VolumeHost
    let bridge: BlockingBridge
    let limits: ServerLimits
    let uploads: UploadStore

    static let version = "1.0.0"
    static let extensions = "creation,termination,expiration"

    /// The largest upload: the daemon's file limit, else 1 TiB (the volume's cap applies in any case).
    var maxSize: Int64 { limits.maxFileBytes ?? (1 << 40) }

    func register(on router: Router<VolumeRequestContext>) {
        let base = "/v1/volumes/:volume/uploads"
        router.on(RouterPath(base), method: .options, use: options)
        router.on(RouterPath(base + "/:upload"), method: .options, use: options)
        router.post(RouterPath(base), use: create)
        router.head(RouterPath(base + "/:upload"), use: head)
        router.patch(RouterPath(base + "/:upload"), use: patch)
        router.delete(RouterPath(base + "/:upload"), use: terminate)
    }

    var common: HTTPFields { [.tusResumable: Self.version, .cacheControl: "no-store"] }

    func expires(_ r: UploadRecord) -> String { Validators.httpDate(Date(timeIntervalSince1970: r.expiresAt)) }

    /// Every request but OPTIONS must say `Tus-Resumable: 1.0.0`, else 412 with the versions served.
    func checkVersion(_ request: Request) throws {
        guard request.headers[.tusResumable] == Self.version else {
            throw APIFailure("precondition_failed", "send 'Tus-Resumable: \(Self.version)' (the tus version this server speaks)",
                             headers: [.tusVersion: Self.version, .tusResumable: Self.version])
        }
    }

    /// The volume's ID and owner for the caller (404 for another tenant's).
    func volume(_ request: Request, _ context: VolumeRequestContext) async throws -> (id: String, owner: String) {
        let owner = try RequestHelpers.scope(request, context)
        let ref = try context.parameters.require("volume")
        let host = self.host
        let info = try await bridge.run { try host.withStore { s in try s.info(try s.resolve(ref, owner: owner), owner: owner) } }
        return (info.volumeId, info.ownerId)
    }

    /// The upload `:upload` of the request's volume; another volume's, another tenant's, unknown or expired: 404.
    func record(_ request: Request, _ context: VolumeRequestContext) async throws -> UploadRecord {
        let (vid, owner) = try await volume(request, context)
        let id = try context.parameters.require("upload")
        let uploads = self.uploads
        guard let r = try await bridge.run({ try uploads.load(id) }), r.volumeId == vid, r.owner == owner else {
            throw APIFailure("not_found", "no upload \(id) in this volume (unknown, finished, terminated or expired)", headers: common)
        }
        return r
    }

    @Sendable func options(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        var h = common
        h[.tusVersion] = Self.version
        h[.tusExtension] = Self.extensions
        h[.tusMaxSize] = String(maxSize)
        return Response(status: .noContent, headers: h)
    }

    /// Upload-Metadata: `key base64,key base64`; `path` (required) names the target file.
    static func metadata(_ header: String?) throws -> [String: String] {
        var out: [String: String] = [:]
        guard let header, !header.trimmingCharacters(in: .whitespaces).isEmpty else { return out }
        for pair in header.split(separator: ",") {
            let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1)
            guard let k = parts.first, !k.isEmpty, out[String(k)] == nil else { throw APIFailure.badRequest("Upload-Metadata is 'key base64value' pairs separated by commas, keys unique") }
            if parts.count == 2 {
                guard let d = Data(base64Encoded: String(parts[1])), let v = String(data: d, encoding: .utf8) else {
                    throw APIFailure.badRequest("Upload-Metadata value of '\(k)' is not base64 of UTF-8 text")
                }
                out[String(k)] = v
            } else {
                out[String(k)] = ""
            }
        }
        return out
    }

    @Sendable func create(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        try checkVersion(request)
        if request.headers[.uploadDeferLength] != nil { throw APIFailure.badRequest("Upload-Defer-Length is not supported: send Upload-Length") }
        guard let lt = request.headers[.uploadLength], let length = Int64(lt), length >= 0 else {
            throw APIFailure.badRequest("Upload-Length (the file's size in bytes) is required")
        }
        guard length <= maxSize else {
            throw APIFailure("too_large", "an upload is at most \(maxSize) bytes (Tus-Max-Size) on this daemon", headers: common)
        }
        if let cl = try RequestHelpers.contentLength(request), cl > 0 {
            throw APIFailure.badRequest("creation-with-upload is not supported: create with an empty body, then PATCH")
        }
        let meta = try Self.metadata(request.headers[.uploadMetadata])
        guard let pathText = meta["path"] else { throw APIFailure.badRequest("Upload-Metadata must name the target: 'path BASE64(/dir/file)'") }
        let p = try RequestHelpers.wrap { try VolumePath(pathText) }
        guard !p.isRoot else { throw APIFailure.badRequest("the upload's path must name a file, not the volume root") }
        _ = try RequestHelpers.owner(meta["user"]) // checked now, applied when the file lands
        let (vid, owner) = try await volume(request, context)
        let uploads = self.uploads
        let rawMeta = request.headers[.uploadMetadata]
        let r = try await bridge.run {
            try uploads.create(owner: owner, volumeId: vid, path: p.description, length: length, metadata: rawMeta)
        }
        var h = common
        h[.location] = "/v1/volumes/\(vid)/uploads/\(r.id)"
        h[.uploadExpires] = expires(r)
        h[.uploadOffset] = "0"
        if length == 0 { try await land(r) }
        return Response(status: .created, headers: h)
    }

    @Sendable func head(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        try checkVersion(request)
        let r = try await record(request, context)
        var h = common
        h[.uploadOffset] = String(r.offset)
        h[.uploadLength] = String(r.length)
        h[.uploadExpires] = expires(r)
        if let m = r.metadata { h[.uploadMetadata] = m }
        return Response(status: .ok, headers: h)
    }

    /// Appends the body at Upload-Offset (409 when it is not the server's offset; 415 unless the body is
    /// `application/offset+octet-stream`). The new offset is acknowledged (204) only once its bytes are
    /// synced; a cut body leaves the previous offset. When the offset reaches the length, the file lands
    /// atomically at its path through the core's import; 507 over the cap (the upload is kept: free
    /// space and send an empty PATCH at the final offset to land it again, or DELETE it).
    @Sendable func patch(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        try checkVersion(request)
        let type = (request.headers[.contentType] ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard type == "application/offset+octet-stream" else {
            throw APIFailure("unsupported_media_type", "a PATCH body is Content-Type: application/offset+octet-stream, not '\(type)'", headers: common)
        }
        guard let ot = request.headers[.uploadOffset], let offset = Int64(ot), offset >= 0 else {
            throw APIFailure.badRequest("Upload-Offset is required")
        }
        let r = try await record(request, context)
        guard offset == r.offset else {
            throw APIFailure("conflict", "Upload-Offset \(offset) is not the upload's offset \(r.offset): HEAD it and continue from there",
                             headers: common.merging([.uploadOffset: String(r.offset)]))
        }
        let declared = try RequestHelpers.contentLength(request)
        if let d = declared, r.offset + d > r.length {
            throw APIFailure.badRequest("the body (\(d) bytes) goes past Upload-Length (\(r.length)) from offset \(r.offset)")
        }
        let uploads = self.uploads
        guard uploads.claim(r.id) else {
            throw APIFailure("conflict", "another PATCH of this upload is in progress", headers: common)
        }
        defer { uploads.release(r.id) }
        let pipe = BodyPipe()
        async let work: UploadRecord = bridge.run {
            defer { pipe.closeReading() }
            // Re-read under the claim: a PATCH that finished meanwhile moved the offset.
            guard let now = try uploads.load(r.id), now.offset == offset else {
                throw APIFailure("conflict", "the upload's offset moved; HEAD it and continue from there")
            }
            return try uploads.append(now, from: pipe)
        }
        await RequestHelpers.stream(request, into: pipe, declared: declared, limit: r.length - r.offset,
                                    tooLarge: APIFailure.badRequest("the body goes past Upload-Length (\(r.length)); the offset stays \(r.offset)"))
        let next = try await work
        var h = common
        h[.uploadOffset] = String(next.offset)
        h[.uploadExpires] = expires(next)
        if next.offset == next.length { try await land(next) }
        return Response(status: .noContent, headers: h)
    }

    /// Writes the complete upload at its path (atomically, cap-checked), then forgets the upload.
    func land(_ r: UploadRecord) async throws {
        let host = self.host, uploads = self.uploads
        try await bridge.run {
            let p = try VolumePath(r.path)
            try host.withImport(r.volumeId, owner: r.owner) { v in
                let data = try FileByteSource(path: uploads.dataURL(r.id).path)
                let owner = try RequestHelpers.owner(try Self.metadata(r.metadata)["user"])
                let source = SingleFileSource(data, name: p.name, size: r.length, owner: owner)
                _ = try v.writeFile(p, streaming: source, options: TransferOptions(caller: owner.caller()))
            }
            uploads.remove(r.id)
        }
    }

    @Sendable func terminate(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        try checkVersion(request)
        let r = try await record(request, context)
        let uploads = self.uploads
        guard uploads.claim(r.id) else { throw APIFailure("conflict", "a PATCH of this upload is in progress", headers: common) }
        defer { uploads.release(r.id) }
        try await bridge.run { uploads.remove(r.id) }
        return Response(status: .noContent, headers: common)
    }
}

extension HTTPFields {
    func merging(_ other: HTTPFields) -> HTTPFields {
        var h = self
        for f in other { h[f.name] = f.value }
        return h
    }
}
