// Operator routes beyond keys: caps per volume and tenant, tenants, gc (with the last scheduled run) and fsck. Tenant keys get 403.
import Foundation
import Hummingbird
import VolumeAPI
import VolumeCore

/// The last scheduled housekeeping run and the totals since the daemon started.
struct GCStatusResponse: Codable, Sendable {
    var intervalSeconds: Double?
    var graceSeconds: Double
    var lastRun: HousekeepingRun?
    var runs: Int
    var chunksDeleted: Int
    var bytesFreed: Int64
    enum CodingKeys: String, CodingKey {
        case intervalSeconds = "interval_seconds", graceSeconds = "grace_seconds", lastRun = "last_run", runs
        case chunksDeleted = "chunks_deleted", bytesFreed = "bytes_freed"
    }
}

struct AdminOpsRoutes: Sendable {
    let host: VolumeHost
    let bridge: BlockingBridge
    let limits: ServerLimits
    let housekeeper: Housekeeper
    /// The schedule's interval (nil: no schedule), for the status route.
    let gcInterval: Double?

    func register(on router: Router<VolumeRequestContext>) {
        router.get("/v1/admin/tenants", use: tenants)
        router.get("/v1/admin/tenants/:tenant", use: tenant)
        router.put("/v1/admin/tenants/:tenant/cap", use: setTenantCap)
        router.delete("/v1/admin/tenants/:tenant/cap", use: clearTenantCap)
        router.get("/v1/admin/volumes/:volume/cap", use: volumeCap)
        router.put("/v1/admin/volumes/:volume/cap", use: setVolumeCap)
        router.delete("/v1/admin/volumes/:volume/cap", use: clearVolumeCap)
        router.get("/v1/admin/gc", use: gcStatus)
        router.post("/v1/admin/gc", use: gc)
        router.post("/v1/admin/fsck", use: fsck)
    }

    @Sendable func tenants(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        try RequestHelpers.requireOperator(context)
        let store = host.store
        return try JSONResponse.make(try await bridge.run { try store.listTenants() })
    }

    @Sendable func tenant(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        try RequestHelpers.requireOperator(context)
        let id = try context.parameters.require("tenant"), store = host.store
        return try JSONResponse.make(try await bridge.run { try store.tenant(id) })
    }

    @Sendable func setTenantCap(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        try RequestHelpers.requireOperator(context)
        let id = try context.parameters.require("tenant"), store = host.store
        let body = try await RequestHelpers.json(CapRequest.self, fields: CapRequest.fields, request, limit: limits.maxJSONBytes)
        let host = self.host
        try await bridge.run { try host.withStore { try $0.setTenantQuota(id, bytes: body.capBytes) } }
        return try JSONResponse.make(TenantCapResponse(tenant: id, capBytes: try await bridge.run { try store.tenant(id).capBytes }))
    }

    @Sendable func clearTenantCap(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        try RequestHelpers.requireOperator(context)
        let id = try context.parameters.require("tenant"), host = self.host
        _ = try await bridge.run { try host.store.tenant(id) }
        try await bridge.run { try host.withStore { try $0.setTenantQuota(id, bytes: nil) } }
        return try JSONResponse.make(TenantCapResponse(tenant: id, capBytes: nil))
    }

    /// The volume the path names, for any tenant (or the one X-Tenant names).
    func volumeID(_ request: Request, _ context: VolumeRequestContext) async throws -> String {
        try RequestHelpers.requireOperator(context)
        let owner = try RequestHelpers.scope(request, context)
        let ref = try context.parameters.require("volume"), store = host.store
        return try await bridge.run { try store.resolve(ref, owner: owner) }
    }

    @Sendable func volumeCap(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let id = try await volumeID(request, context), host = self.host
        return try JSONResponse.make(try await bridge.run { try host.withStore { try $0.quota(id) } })
    }

    @Sendable func setVolumeCap(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let id = try await volumeID(request, context), host = self.host
        let body = try await RequestHelpers.json(CapRequest.self, fields: CapRequest.fields, request, limit: limits.maxJSONBytes)
        return try JSONResponse.make(try await bridge.run { try host.withStore { try $0.setVolumeQuota(id, bytes: body.capBytes) } })
    }

    @Sendable func clearVolumeCap(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let id = try await volumeID(request, context), host = self.host
        return try JSONResponse.make(try await bridge.run { try host.withStore { try $0.setVolumeQuota(id, bytes: nil) } })
    }

    @Sendable func gcStatus(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        try RequestHelpers.requireOperator(context)
        let t = housekeeper.totals
        return try JSONResponse.make(GCStatusResponse(intervalSeconds: gcInterval, graceSeconds: housekeeper.grace, lastRun: housekeeper.lastRun,
                                                      runs: t.runs, chunksDeleted: t.chunksDeleted, bytesFreed: t.bytesFreed))
    }

    /// `POST /v1/admin/gc?dry_run=true&grace_seconds=N`: one gc pass now; its report.
    @Sendable func gc(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        try RequestHelpers.requireOperator(context)
        let dry = try RequestHelpers.boolQuery(request, "dry_run")
        var grace: Double?
        if let g = RequestHelpers.query(request, "grace_seconds") {
            guard let v = Double(g), v >= 0, v < 1e9 else { throw APIFailure.badRequest("'grace_seconds' is a number of seconds, 0 or more") }
            grace = v
        }
        let hk = housekeeper, g = grace
        return try JSONResponse.make(try await bridge.run { try hk.collectGarbage(dryRun: dry, grace: g) })
    }

    /// `POST /v1/admin/fsck?volume=ID&repair=true&verify_data=false`: fsck of one volume or all; the reports.
    @Sendable func fsck(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        try RequestHelpers.requireOperator(context)
        let repair = try RequestHelpers.boolQuery(request, "repair")
        let verify = try RequestHelpers.boolQuery(request, "verify_data", default: true)
        let ref = RequestHelpers.query(request, "volume")
        let host = self.host
        let reports = try await bridge.run { () -> [FsckReport] in
            try host.withStore { store in
                let id = try ref.map { try store.resolve($0, owner: nil) }
                return try store.fsck(id, repair: repair, verifyData: verify)
            }
        }
        return try JSONResponse.make(reports)
    }
}
