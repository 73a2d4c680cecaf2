// The Swift client's operator calls (client.admin) against the real volumed: caps per volume and tenant, tenants,
// gc and fsck, each checked against what the daemon then does; a tenant key is refused every one.
import Foundation
import VolumeAPI
import VolumeClient
import VolumeTestSupport
import XCTest

final class ClientAdminTests: XCTestCase {
    func testCapsTenantsGCAndFsckThroughTheClient() async throws {
        let d = try Daemon(arguments: ["--gc-interval", "0"])
        defer { d.stop() }
        let op = try VolumeClient(endpoint: d.url, apiKey: d.operatorKey, tenant: "acme")
        let vol = try await op.volumes.create(name: "data")
        let files = op.volume(vol.volumeId).files
        try await files.write("/a.bin", data: Data(repeating: 7, count: 10_000))

        // The volume's cap: default, then its own override (which the files API then enforces), then cleared.
        var cap = try await op.admin.volumeCap("data")
        XCTAssertEqual(cap.volumeId, vol.volumeId)
        XCTAssertEqual(cap.source, "default")
        XCTAssertEqual(cap.capBytes, 2 << 30)
        XCTAssertEqual(cap.usedBytes, 10_000)
        cap = try await op.admin.setVolumeCap(vol.volumeId, bytes: 12_000)
        XCTAssertEqual(cap.source, "volume")
        XCTAssertEqual(cap.volumeOverride, 12_000)
        do {
            try await files.write("/b.bin", data: Data(repeating: 1, count: 5_000))
            XCTFail("a write over the cap the client set succeeded")
        } catch let e as VolumeClientError {
            XCTAssertEqual(e.status, 507, e.message)
        }
        do {
            try await op.admin.setVolumeCap("data", bytes: 100)
            XCTFail("a cap below the usage was accepted")
        } catch let e as VolumeClientError {
            XCTAssertEqual(e.status, 400, e.message)
        }
        cap = try await op.admin.setVolumeCap("data", bytes: nil)
        XCTAssertEqual(cap.source, "default")
        XCTAssertNil(cap.volumeOverride)

        // The tenant's cap: set, seen by the tenant listing and by the volume's cap, cleared.
        let set = try await op.admin.setTenantCap("acme", bytes: 3 << 30)
        XCTAssertEqual(set, TenantCapResponse(tenant: "acme", capBytes: 3 << 30))
        let acme = try await op.admin.tenant("acme")
        XCTAssertEqual(acme.capBytes, 3 << 30)
        XCTAssertEqual(acme.volumes, 1)
        let all = try await op.admin.tenants()
        XCTAssertTrue(all.contains(acme), "\(all)")
        cap = try await op.admin.volumeCap("data")
        XCTAssertEqual(cap.source, "tenant")
        XCTAssertEqual(cap.capBytes, 3 << 30)
        let cleared = try await op.admin.setTenantCap("acme", bytes: nil)
        XCTAssertNil(cleared.capBytes)
        let acmeAfter = try await op.admin.tenant("acme")
        XCTAssertNil(acmeAfter.capBytes)

        // gc: a replaced file's chunk is garbage; a dry run frees nothing, a real run with no grace frees it.
        try await files.write("/a.bin", data: Data(repeating: 8, count: 10_000))
        let dry = try await op.admin.gc(dryRun: true, grace: 0)
        XCTAssertTrue(dry.dryRun)
        XCTAssertGreaterThanOrEqual(dry.chunksDeleted, 1)
        let real = try await op.admin.gc(grace: 0)
        XCTAssertFalse(real.dryRun)
        XCTAssertEqual(real.chunksDeleted, dry.chunksDeleted)
        XCTAssertEqual(real.bytesFreed, dry.bytesFreed)
        let again = try await op.admin.gc(grace: 0)
        XCTAssertEqual(again.chunksDeleted, 0, "the first run freed it")
        let content = try await files.read("/a.bin")
        XCTAssertEqual(content, Data(repeating: 8, count: 10_000), "gc kept what the volume references")

        // fsck: one volume by name, and all.
        let one = try await op.admin.fsck(volume: "data")
        XCTAssertEqual(one.map(\.volumeId), [vol.volumeId])
        XCTAssertTrue(one[0].ok, "\(one[0].problems)")
        XCTAssertEqual(one[0].problems, [])
        XCTAssertGreaterThanOrEqual(one[0].inodes, 2)
        let every = try await op.admin.fsck(verifyData: false)
        XCTAssertTrue(every.contains { $0.volumeId == vol.volumeId })

        // A tenant key gets 403 on each.
        let key = try await op.apiKeys.create(tenant: "acme").key
        let tenant = try VolumeClient(endpoint: d.url, apiKey: key)
        let calls: [(String, @Sendable () async throws -> Void)] = [
            ("tenants", { _ = try await tenant.admin.tenants() }),
            ("tenant", { _ = try await tenant.admin.tenant("acme") }),
            ("setTenantCap", { _ = try await tenant.admin.setTenantCap("acme", bytes: 1 << 40) }),
            ("volumeCap", { _ = try await tenant.admin.volumeCap(vol.volumeId) }),
            ("setVolumeCap", { _ = try await tenant.admin.setVolumeCap(vol.volumeId, bytes: 1 << 40) }),
            ("gc", { _ = try await tenant.admin.gc() }),
            ("fsck", { _ = try await tenant.admin.fsck() }),
        ]
        for (name, call) in calls {
            do {
                try await call()
                XCTFail("\(name): a tenant key ran an operator call")
            } catch let e as VolumeClientError {
                XCTAssertEqual(e.status, 403, "\(name): \(e.message)")
            }
        }
        let capAfter = try await op.admin.volumeCap("data")
        XCTAssertEqual(capAfter.source, "default", "the tenant's refused calls changed nothing")
    }
}
