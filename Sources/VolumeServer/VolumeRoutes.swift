// /v1/volumes: create (JSON, or a Phase 1 tar.gz body), list, get (with ?fields=), delete.
import Foundation
import HTTPTypes
import Hummingbird
import VolumeAPI
import VolumeCore

struct VolumeRoutes: Sendable {
    let host: VolumeHost
    let bridge: BlockingBridge
    let limits: ServerLimits
    var supervisor: MountSupervisor? = nil

    func register(on router: Router<VolumeRequestContext>) {
        router.post("/v1/volumes", use: create)
        router.get("/v1/volumes", use: list)
        router.get("/v1/volumes/:volume", use: get)
        router.delete("/v1/volumes/:volume", use: delete)
    }

    static let gzipTypes = ["application/gzip", "application/x-gzip", "application/x-tar+gzip", "application/tar+gzip"]

    @Sendable func create(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        guard let owner = try RequestHelpers.scope(request, context) else {
            throw APIFailure.badRequest("an operator key creates a volume for a tenant: send 'X-Tenant: TENANT'")
        }
        let type = (request.headers[.contentType] ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        if Self.gzipTypes.contains(type) { return try await importCreate(request, owner: owner) }
        guard type.isEmpty || type == "application/json" else {
            throw APIFailure("unsupported_media_type", "create a volume with a JSON body (application/json) or a tar.gz body (application/gzip), not \(type)")
        }
        let body = try await RequestHelpers.json(CreateVolumeRequest.self, fields: CreateVolumeRequest.fields, request, limit: limits.maxJSONBytes)
        let host = self.host
        let info = try await bridge.run {
            try host.withStore { try $0.createVolume(owner: owner, name: body.name, metadata: body.metadata ?? [:]) }
        }
        return try JSONResponse.make(VolumeResponse(info), status: .created)
    }

    /// The Phase 1 create: the body is a tar.gz streamed into a new, hidden volume that appears only
    /// once the import has landed. Over the limit: 413, before anything is stored when Content-Length says so.
    func importCreate(_ request: Request, owner: String) async throws -> Response {
        let name = try RequestHelpers.requiredQuery(request, "name")
        let declared = try RequestHelpers.contentLength(request)
        let limit = limits.maxImportBytes
        let tooLarge = APIFailure("too_large", "a volume's tar.gz body is at most \(ByteSize.format(limit)); nothing was stored")
        if let d = declared, d > limit { throw tooLarge }
        let pipe = BodyPipe()
        let host = self.host
        async let work: ImportedVolumeResponse = bridge.run {
            defer { pipe.closeReading() }
            return try host.withStore { store in
                let vol = try store.createHiddenVolume(owner: owner, name: name)
                do {
                    let report = try vol.importArchive(from: pipe, name: "the request body", totalBytes: declared, into: "/")
                    let info = try store.publishVolume(vol.id)
                    return ImportedVolumeResponse(volume: VolumeResponse(info), import: ImportSummary(report))
                } catch {
                    try? store.discardHiddenVolume(vol.id)
                    throw error
                }
            }
        }
        await RequestHelpers.stream(request, into: pipe, declared: declared, limit: limit, tooLarge: tooLarge)
        return try JSONResponse.make(try await work, status: .created)
    }

    @Sendable func list(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let owner = try RequestHelpers.scope(request, context)
        let host = self.host
        let infos = try await bridge.run { try host.withStore { try $0.listVolumes(owner: owner) } }
        return try JSONResponse.make(infos.map(VolumeResponse.init))
    }

    @Sendable func get(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let owner = try RequestHelpers.scope(request, context)
        let ref = try context.parameters.require("volume")
        let fields = try RequestHelpers.query(request, "fields").map(Self.parseFields)
        let host = self.host
        let info = try await bridge.run { try host.withStore { s in try s.info(try s.resolve(ref, owner: owner), owner: owner) } }
        guard let fields else { return try JSONResponse.make(VolumeResponse(info)) }
        let full = try JSONResponse.encoder().encode(VolumeResponse(info))
        guard let object = try JSONSerialization.jsonObject(with: full) as? [String: Any] else { throw APIFailure("internal", "encoding") }
        let picked = object.filter { fields.contains($0.key) }
        return JSONResponse.raw(try JSONSerialization.data(withJSONObject: picked, options: [.sortedKeys, .withoutEscapingSlashes]))
    }

    /// `?fields=a,b`: known field names only.
    static func parseFields(_ text: String) throws -> Set<String> {
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let unknown = names.filter { !VolumeResponse.fieldNames.contains($0) }
        guard !names.isEmpty, unknown.isEmpty else {
            throw APIFailure.badRequest("unknown field(s) \(unknown.joined(separator: ", ")); fields are \(VolumeResponse.fieldNames.joined(separator: ", "))")
        }
        return Set(names)
    }

    @Sendable func delete(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let owner = try RequestHelpers.scope(request, context)
        let ref = try context.parameters.require("volume")
        // ?force=true (operator keys): delete even while mounted; those attachments become failed.
        let force = try RequestHelpers.boolQuery(request, "force")
        if force { try RequestHelpers.requireOperator(context) }
        let host = self.host, supervisor = self.supervisor
        try await bridge.run {
            let failed = try host.deleteVolume(ref, owner: owner, force: force)
            supervisor?.unmountAll(failed.map(\.id))
        }
        return Response(status: .noContent)
    }
}
