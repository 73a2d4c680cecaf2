// Directory transfers: GET .../files/archive streams a directory (or the whole volume) as tar.gz; PUT imports one.
import Foundation
import HTTPTypes
import Hummingbird
import VolumeAPI
import VolumeCore

struct ArchiveRoutes: Sendable {
    let host: VolumeHost
    let bridge: BlockingBridge
    let limits: ServerLimits

    func register(on router: Router<VolumeRequestContext>) {
        router.get("/v1/volumes/:volume/files/archive", use: download)
        router.put("/v1/volumes/:volume/files/archive", use: upload)
    }

    /// `?path=` (default `/`, the whole volume) as a gzip-compressed tar, streamed from one snapshot of
    /// the catalog through a bounded pipe (never whole in memory). The path is checked before the 200
    /// is sent; an error after that cuts the connection, so a client never takes a torn archive as whole.
    @Sendable func download(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let owner = try RequestHelpers.scope(request, context)
        let ref = try context.parameters.require("volume")
        let p = try RequestHelpers.wrap { try VolumePath(RequestHelpers.query(request, "path") ?? "/") }
        let host = self.host, bridge = self.bridge
        let id = try await bridge.run { () throws -> String in
            try host.withVolume(ref, owner: owner) { v in _ = try v.attributes(at: p.description); return v.id }
        }
        let base = p.isRoot ? id : p.name
        let name = base + ".tar.gz"
        let headers: HTTPFields = [.contentType: "application/gzip",
                                   .contentDisposition: "attachment; filename=\"\(name.replacingOccurrences(of: "\"", with: "_"))\""]
        let body = ResponseBody { writer in
            let pipe = ResponsePipe()
            async let export: Void = bridge.run {
                do {
                    _ = try host.withVolume(ref, owner: owner) { try $0.exportArchive(p.description, to: pipe) }
                    try pipe.finish()
                    pipe.close(nil)
                } catch {
                    pipe.close(error)
                    throw error
                }
            }
            do {
                while let b = try await pipe.next() { try await writer.write(b) }
            } catch {
                pipe.cancel()
                _ = try? await export
                throw error
            }
            try await export
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// Imports a tar.gz body into directory `?path=` (created when missing) with the Phase 1 safety rules
    /// (no `..`, no absolute names, nothing through a symlink, devices dropped: each reported), all or
    /// nothing, the volume's cap checked as the archive streams. 201 with what was stored and dropped.
    @Sendable func upload(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let type = (request.headers[.contentType] ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard VolumeRoutes.gzipTypes.contains(type) else {
            throw APIFailure("unsupported_media_type", "a directory upload is a tar.gz body (Content-Type: application/gzip), not '\(type)'")
        }
        let owner = try RequestHelpers.scope(request, context)
        let ref = try context.parameters.require("volume")
        let p = try RequestHelpers.wrap { try VolumePath(RequestHelpers.query(request, "path") ?? "/") }
        let declared = try RequestHelpers.contentLength(request)
        let user = RequestHelpers.query(request, "user")
        let fileOwner = try user.map { try RequestHelpers.owner($0) }  // nil: entries keep the archive's owners
        let limit = limits.maxImportBytes
        let tooLarge = APIFailure("too_large", "a tar.gz body is at most \(ByteSize.format(limit)); nothing was written")
        if let d = declared, d > limit { throw tooLarge }
        let host = self.host
        // Fail fast (before the body) on a missing volume.
        _ = try await bridge.run { try host.withVolume(ref, owner: owner) { $0.id } }
        let pipe = BodyPipe()
        async let work: ImportReport = bridge.run {
            defer { pipe.closeReading() }
            return try host.withImport(ref, owner: owner) { v in
                // With `user`, everything the archive brings is that user's; without, entries keep the archive's owners.
                var options = TransferOptions()
                options.writeAs(fileOwner)
                options.holdWriteLockWhenEmpty = false
                return try v.importArchive(from: pipe, name: "the request body", totalBytes: declared, into: p.description, options: options)
            }
        }
        await RequestHelpers.stream(request, into: pipe, declared: declared, limit: limit, tooLarge: tooLarge)
        let report: ImportReport
        do { report = try await work } catch VolumeError.corrupt(let why) {
            // A damaged archive is the client's: 400, and nothing was written.
            throw APIFailure("bad_request", "the archive is not a valid tar.gz: \(why); nothing was written")
        }
        return try JSONResponse.make(ArchiveUploadResponse(path: p.description, import: ImportSummary(report)), status: .created)
    }
}
