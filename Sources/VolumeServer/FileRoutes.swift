// /v1/volumes/{volume}/files: the files API (read, write, list, stat, exists, mkdir, move, remove, edit, search, replace).
import Foundation
import HTTPTypes
import Hummingbird
import VolumeAPI
import VolumeCore

struct FileRoutes: Sendable {
    let host: VolumeHost
    let bridge: BlockingBridge
    let limits: ServerLimits

    func register(on router: Router<VolumeRequestContext>) {
        let base = "/v1/volumes/:volume/files"
        router.get(RouterPath(base), use: list)
        router.delete(RouterPath(base), use: remove)
        router.get(RouterPath(base + "/content"), use: read)
        router.put(RouterPath(base + "/content"), use: write)
        router.get(RouterPath(base + "/stat"), use: stat)
        router.get(RouterPath(base + "/exists"), use: exists)
        router.post(RouterPath(base + "/mkdir"), use: makeDir)
        router.post(RouterPath(base + "/move"), use: move)
        router.post(RouterPath(base + "/edit"), use: edit)
        router.post(RouterPath(base + "/search"), use: search)
        router.post(RouterPath(base + "/replace"), use: replace)
        router.post(RouterPath(base + "/batch"), use: batch)
    }

    /// Runs `body` on the bridge with the request's volume borrowed from the host. `quick`: `body` is a
    /// short read (`BlockingBridge.quick`), run in place on the handler's thread when the volume is
    /// already resolved and open (nothing to read from the registry, no catalog to open).
    func withVolume<T: Sendable>(_ request: Request, _ context: VolumeRequestContext, quick: Bool = false,
                                 _ body: @escaping @Sendable (Volume) throws -> T) async throws -> T {
        let owner = try RequestHelpers.scope(request, context)
        let ref = try context.parameters.require("volume")
        let host = self.host
        if quick, host.store.isResolvedAndOpen(ref, owner: owner) {
            return try await bridge.quick { try host.withVolume(ref, owner: owner, body) }
        }
        return try await bridge.run { try host.withVolume(ref, owner: owner, body) }
    }

    /// The `path` query parameter, validated (`..`, NUL, over-long names: 400).
    func path(_ request: Request, default d: String? = nil) throws -> VolumePath {
        let text = try d.map { RequestHelpers.query(request, "path") ?? $0 } ?? RequestHelpers.requiredQuery(request, "path")
        return try RequestHelpers.wrap { try VolumePath(text) }
    }

    @Sendable func list(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let p = try path(request, default: "/")
        let depth = try RequestHelpers.intQuery(request, "depth", default: 1, range: 1...1024)
        let entries = try await withVolume(request, context) { try $0.list(p.description, depth: depth) }
        return try JSONResponse.make(entries.map(EntryResponse.init))
    }

    @Sendable func stat(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let p = try path(request)
        return try JSONResponse.make(EntryResponse(try await withVolume(request, context, quick: true) { try $0.stat(p.description) }))
    }

    @Sendable func exists(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let p = try path(request)
        return try JSONResponse.make(ExistsResponse(exists: try await withVolume(request, context, quick: true) { try $0.exists(p.description) }))
    }

    @Sendable func remove(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let p = try path(request)
        let recursive = try RequestHelpers.boolQuery(request, "recursive")
        try await withVolume(request, context) { try $0.remove(p.description, recursive: recursive) }
        return Response(status: .noContent)
    }

    @Sendable func makeDir(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let body = try await RequestHelpers.json(MakeDirRequest.self, fields: MakeDirRequest.fields, request, limit: limits.maxJSONBytes)
        let p = try RequestHelpers.wrap { try VolumePath(body.path) }
        let mode = try RequestHelpers.mode(body.mode) ?? 0o755
        let who = try RequestHelpers.owner(body.user).caller()
        let created = try await withVolume(request, context) {
            try $0.makeDirectory(p.description, parents: body.parents ?? false, mode: mode, caller: who)
        }
        return try JSONResponse.make(MakeDirResponse(path: p.description, created: created), status: created ? .created : .ok)
    }

    @Sendable func move(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let body = try await RequestHelpers.json(MoveRequest.self, fields: MoveRequest.fields, request, limit: limits.maxJSONBytes)
        let from = try RequestHelpers.wrap { try VolumePath(body.from) }, to = try RequestHelpers.wrap { try VolumePath(body.to) }
        let entry = try await withVolume(request, context) { v -> EntryInfo in
            try v.move(from.description, to: to.description, overwrite: body.overwrite ?? false)
            return try v.stat(to.description)
        }
        return try JSONResponse.make(EntryResponse(entry))
    }

    @Sendable func edit(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let body = try await RequestHelpers.json(EditRequest.self, fields: EditRequest.fields, request, limit: limits.maxJSONBytes)
        let p = try RequestHelpers.wrap { try VolumePath(body.path) }
        let n = try await withVolume(request, context) { try $0.edit(p.description, old: body.old, new: body.new, all: body.all ?? false) }
        return try JSONResponse.make(EditResponse(replacements: n))
    }

    @Sendable func search(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let body = try await RequestHelpers.json(SearchRequest.self, fields: SearchRequest.fields, request, limit: limits.maxJSONBytes)
        let under = try RequestHelpers.wrap { try VolumePath(body.under ?? "/") }
        guard body.name != nil || body.content != nil else { throw APIFailure.badRequest("give 'name' (a glob), 'content' (a regex), or both") }
        let limit = body.limit ?? 1000
        guard (1...100_000).contains(limit) else { throw APIFailure.badRequest("'limit' must be from 1 to 100000") }
        let r = try await withVolume(request, context) { try $0.search(under: under.description, name: body.name, content: body.content, limit: limit) }
        return try JSONResponse.make(SearchResponse(hits: r.hits.map { SearchHitResponse(path: $0.path, line: $0.line, text: $0.text) },
                                                    truncated: r.truncated))
    }

    @Sendable func replace(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let body = try await RequestHelpers.json(ReplaceRequest.self, fields: ReplaceRequest.fields, request, limit: limits.maxJSONBytes)
        let under = try RequestHelpers.wrap { try VolumePath(body.under ?? "/") }
        let r = try await withVolume(request, context) {
            try $0.replace(glob: body.glob, old: body.old, new: body.new, regex: body.regex ?? false, dryRun: body.dryRun ?? false,
                           under: under.description)
        }
        return try JSONResponse.make(ReplaceResponse(files: r.files, replacements: r.replacements, dryRun: r.dryRun))
    }

    /// Writes every part of a multipart/form-data body as a file (the part's form name is its path), all
    /// or none: one transaction, the cap checked for the whole batch first. The body is held in memory,
    /// so it is bounded by `--max-batch-bytes`; large files go through `PUT .../content`.
    @Sendable func batch(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        guard let boundary = Multipart.boundary(contentType: request.headers[.contentType]) else {
            throw APIFailure("unsupported_media_type", "a batch write is a multipart/form-data body (one part per file, its form name the path), like curl -F '/dir/a.txt=@a.txt'")
        }
        let parents = try RequestHelpers.boolQuery(request, "parents")
        let who = try RequestHelpers.owner(RequestHelpers.query(request, "user")).caller()
        let limit = limits.maxBatchBytes
        let body = try await RequestHelpers.collect(request, limit: limit,
            tooLarge: APIFailure("too_large", "a batch body is at most \(ByteSize.format(Int64(limit))) on this daemon; nothing was written"))
        let parts = try Multipart.parse(Data(body.readableBytesView), boundary: boundary)
        guard !parts.isEmpty else { throw APIFailure.badRequest("the batch has no parts") }
        let entries = try parts.map { p -> WriteEntry in
            let path = try RequestHelpers.wrap { try VolumePath(p.name) }
            return WriteEntry(path: path.description, data: p.data)
        }
        let infos = try await withVolume(request, context) { try $0.writeFiles(entries, createParents: parents, caller: who) }
        return try JSONResponse.make(infos.map { WriteResponse(path: $0.path, size: $0.size) }, status: .created)
    }

    // MARK: Content

    @Sendable func read(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let p = try path(request)
        // A file of at most one piece is read in the same call as its attributes (one trip to the bridge),
        // unless the request is conditional (a 304 needs no bytes).
        let conditional = request.headers[.ifNoneMatch] != nil || request.headers[.ifModifiedSince] != nil
        let inline = conditional ? 0 : Int64(limits.readChunkBytes)
        let (a, whole) = try await withVolume(request, context, quick: true) { v -> (Attributes, Data?) in
            let a = try v.attributes(at: p.description)
            guard a.kind == .file else {
                throw a.kind == .directory ? VolumeError.isADirectory(p.description) : VolumeError.invalidArgument("\(p) is not a regular file")
            }
            guard a.size <= inline else { return (a, nil) }
            // Not in one snapshot: the ETag check below catches a change made meanwhile.
            let data = try v.read(a.ino, offset: 0, count: Int(a.size), snapshot: false)
            // Changed between the two reads: leave it to the streamed answer, which cuts.
            guard Validators(try v.getattr(a.ino)).etag == Validators(a).etag, data.count == Int(a.size) else { return (a, nil) }
            return (a, data)
        }
        let validators = Validators(a)
        if validators.preconditionFails(request) { throw APIFailure("precondition_failed", "the file changed: If-Match / If-Unmodified-Since do not hold") }
        if validators.notModified(request) { return validators.notModifiedResponse() }
        let range = try ByteRange.parse(validators.rangeApplies(request) ? request.headers[.range] : nil, size: a.size)
        let start = range?.start ?? 0, length = range?.length ?? a.size
        var headers: HTTPFields = [.contentType: "application/octet-stream", .acceptRanges: "bytes"]
        headers[.lastModified] = validators.lastModified
        headers[.eTag] = validators.etag
        if let r = range { headers[.contentRange] = "bytes \(r.start)-\(r.start + r.length - 1)/\(a.size)" }
        if let whole {
            let bytes = whole.dropFirst(Int(start)).prefix(Int(length))
            return Response(status: range == nil ? .ok : .partialContent, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        let owner = try RequestHelpers.scope(request, context)
        let ref = try context.parameters.require("volume")
        let host = self.host, bridge = self.bridge, chunk = limits.readChunkBytes
        let ino = a.ino, etag = validators.etag, end = start + length
        let body = ResponseBody(contentLength: Int(length)) { writer in
            // Each piece is read from the inode the ETag names and kept only while the file is still that
            // version: a file replaced or changed meanwhile cuts the transfer instead of mixing the new
            // version's bytes into the old one's body. One piece is read ahead while the one before is
            // written to the socket (at most two in memory), and the first piece read in each block asks
            // the disk for the next block (`Volume.prefetch`).
            @Sendable func piece(at: Int64, count n: Int) -> Task<Data, any Error> {
                Task {
                    try await bridge.run {
                        try host.withVolume(ref, owner: owner) { v -> Data in
                            // Not in one snapshot: the ETag check below catches a change made meanwhile.
                            let data = try v.read(ino, offset: at, count: n, snapshot: false)
                            guard Validators(try v.getattr(ino)).etag == etag else {
                                throw APIFailure("precondition_failed", "\(p) changed during the download; the transfer is cut")
                            }
                            let bs = Int64(v.blockSize), following = (at / bs + 1) * bs
                            if following < end, at == start || at % bs < Int64(n) {
                                try? v.prefetch(ino, offset: following, count: Int(min(bs, end - following)))
                            }
                            return data
                        }
                    }
                }
            }
            var offset = start, remaining = length
            var next: Task<Data, any Error>? = remaining > 0 ? piece(at: offset, count: Int(min(Int64(chunk), remaining))) : nil
            defer { next?.cancel() }
            while let current = next {
                let data = try await current.value
                next = nil
                if data.isEmpty { break }
                offset += Int64(data.count)
                remaining -= Int64(data.count)
                if remaining > 0 { next = piece(at: offset, count: Int(min(Int64(chunk), remaining))) }
                try await writer.write(ByteBuffer(bytes: data))
            }
            try await writer.finish(nil)
        }
        return Response(status: range == nil ? .ok : .partialContent, headers: headers, body: body)
    }

    /// Creates or replaces a file with the request body, streamed through the core's import path: the
    /// file appears whole when the body has arrived and been stored, or not at all (a cut upload, a body
    /// that disagrees with its Content-Length, or the cap leave the old content).
    @Sendable func write(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let p = try path(request)
        guard !p.isRoot else { throw VolumeError.isADirectory("/ is the volume root; give a file path").apiFailure }
        let parents = try RequestHelpers.boolQuery(request, "parents")
        let mode = try RequestHelpers.mode(RequestHelpers.query(request, "mode"))
        let owner = try RequestHelpers.owner(RequestHelpers.query(request, "user"))
        let declared = try RequestHelpers.contentLength(request)
        let maxFile = limits.maxFileBytes
        let tooLarge = APIFailure("too_large", "a file body is at most \(ByteSize.format(maxFile ?? 0)) on this daemon; nothing was written")
        if let m = maxFile, let d = declared, d > m { throw tooLarge }
        if let d = declared, d <= Int64(limits.smallWriteBytes) {
            return try await writeSmall(request, context, p, size: Int(d), parents: parents, mode: mode, owner: owner)
        }
        // Checks that need no body: the parent directory, and what is at the path now.
        let existing = try await withVolume(request, context) { v in try v.prepareStreamedWrite(p, createParents: parents) }
        let pipe = BodyPipe()
        let tenant = try RequestHelpers.scope(request, context)
        let ref = try context.parameters.require("volume")
        let host = self.host
        async let work: WriteResponse = bridge.run {
            defer { pipe.closeReading() }
            return try host.withImport(ref, owner: tenant) { v in
                let source = BodyFileSource(pipe: pipe, name: p.name, mode: mode ?? existing ?? 0o644, owner: owner, declaredSize: declared)
                let options = TransferOptions(caller: owner.caller())
                return WriteResponse(path: p.description, size: try v.writeFile(p, streaming: source, options: options).bytes)
            }
        }
        await RequestHelpers.stream(request, into: pipe, declared: declared, limit: maxFile, tooLarge: tooLarge)
        return try JSONResponse.make(try await work, status: existing == nil ? .created : .ok)
    }

    /// A PUT whose Content-Length is at most `limits.smallWriteBytes`: the body is read whole first (a
    /// body that ends early is 400 and nothing is written), then checked and written in one call on the
    /// bridge (`Volume.writeFile(_:data:...)`), under the import lease as every PUT. Same outcome and
    /// errors as the streamed write.
    func writeSmall(_ request: Request, _ context: VolumeRequestContext, _ p: VolumePath, size: Int,
                    parents: Bool, mode: UInt32?, owner: FileOwner) async throws -> Response {
        let tenant = try RequestHelpers.scope(request, context)
        let ref = try context.parameters.require("volume")
        let body = try await RequestHelpers.collect(request, limit: size,
            tooLarge: APIFailure("length_mismatch", "the body is longer than its Content-Length (\(size) bytes); nothing was written"))
        guard body.readableBytes == size else {
            throw APIFailure("length_mismatch", "the body has \(body.readableBytes) bytes but its Content-Length said \(size); nothing was written")
        }
        let data = Data(body.readableBytesView)
        let host = self.host
        let (created, written) = try await bridge.run { () -> (Bool, Int64) in
            try host.withImport(ref, owner: tenant) { v in
                let existing = try v.prepareStreamedWrite(p, createParents: parents)
                let n = try v.writeFile(p, data: data, mode: mode ?? existing ?? 0o644, owner: owner, caller: owner.caller())
                return (existing == nil, n)
            }
        }
        return try JSONResponse.make(WriteResponse(path: p.description, size: written), status: created ? .created : .ok)
    }
}
