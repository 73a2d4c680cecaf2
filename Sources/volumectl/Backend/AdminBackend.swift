// The operator commands (quota, gc, fsck) on a data directory or on a daemon: one seam, as VolumeBackend is for volumes and files.
import Foundation
import VolumeAPI
import VolumeClient
import VolumeCore

/// What `quota`, `gc` and `fsck` need, answered in the core's value types so that the output code is shared.
/// `ref` is a volume ID or a unique name.
protocol AdminBackend {
    func quota(_ ref: String) throws -> QuotaInfo
    /// Sets, or with nil clears, a volume's cap override.
    func setVolumeQuota(_ ref: String, bytes: Int64?) throws -> QuotaInfo
    /// Sets, or with nil clears, a tenant's cap override.
    func setTenantQuota(_ tenant: String, bytes: Int64?) throws
    func collectGarbage(grace: TimeInterval, dryRun: Bool) throws -> GCReport
    /// One volume's report, or every volume's (in scope) when `ref` is nil; each with the volume's name.
    func fsck(_ ref: String?, repair: Bool, verifyData: Bool) throws -> [(name: String, report: FsckReport)]
}

extension GlobalOptions {
    /// The admin backend the options name: a daemon when an endpoint is set (an operator key), else the data directory.
    func adminBackend() throws -> any AdminBackend {
        if let e = resolvedEndpoint { return try RemoteBackend(endpoint: e, scope: scope) }
        return LocalBackend(global: self)
    }
}

extension LocalBackend: AdminBackend {
    func quota(_ ref: String) throws -> QuotaInfo {
        try global.withStore { store in try store.quota(try store.resolve(ref, owner: global.scope)) }
    }

    func setVolumeQuota(_ ref: String, bytes: Int64?) throws -> QuotaInfo {
        try global.withStore { store in try store.setVolumeQuota(try store.resolve(ref, owner: global.scope), bytes: bytes) }
    }

    func setTenantQuota(_ tenant: String, bytes: Int64?) throws {
        try global.withStore { try $0.setTenantQuota(tenant, bytes: bytes) }
    }

    func collectGarbage(grace: TimeInterval, dryRun: Bool) throws -> GCReport {
        try global.withStore { try $0.collectGarbage(grace: grace, dryRun: dryRun) }
    }

    func fsck(_ ref: String?, repair: Bool, verifyData: Bool) throws -> [(name: String, report: FsckReport)] {
        try global.withStore { store in
            let volumes: [VolumeInfo]
            if let ref {
                volumes = [try store.info(try store.resolve(ref, owner: global.scope), owner: global.scope)]
            } else {
                volumes = try store.listVolumes(owner: global.scope)
            }
            return try volumes.map { v in (v.name, try store.fsck(v.volumeId, repair: repair, verifyData: verifyData)[0]) }
        }
    }
}

extension RemoteBackend: AdminBackend {
    func quota(_ ref: String) throws -> QuotaInfo {
        let admin = client.admin
        return try convert(try blocking { try await admin.volumeCap(ref) })
    }

    func setVolumeQuota(_ ref: String, bytes: Int64?) throws -> QuotaInfo {
        let admin = client.admin
        return try convert(try blocking { try await admin.setVolumeCap(ref, bytes: bytes) })
    }

    func setTenantQuota(_ tenant: String, bytes: Int64?) throws {
        let admin = client.admin
        _ = try blocking { try await admin.setTenantCap(tenant, bytes: bytes) }
    }

    func collectGarbage(grace: TimeInterval, dryRun: Bool) throws -> GCReport {
        let admin = client.admin
        return try convert(try blocking { try await admin.gc(dryRun: dryRun, grace: grace) })
    }

    func fsck(_ ref: String?, repair: Bool, verifyData: Bool) throws -> [(name: String, report: FsckReport)] {
        let admin = client.admin
        // The daemon resolves names among the tenant the client acts for (X-Tenant), as the other admin routes do.
        let reports = try blocking { try await admin.fsck(volume: ref, repair: repair, verifyData: verifyData) }
        let names = try Dictionary(listVolumes().map { ($0.volumeId, $0.name) }, uniquingKeysWith: { a, _ in a })
        return try reports.map { (names[$0.volumeId] ?? "", try convert($0)) }
    }
}
