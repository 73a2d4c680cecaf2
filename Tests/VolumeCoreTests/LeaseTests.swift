// Leases as registry records: acquire, renew, release, list; liveness by real processes and by expiry; stale ones taken over.
import Foundation
import GRDB
import XCTest
@testable import VolumeCore
import VolumeTestSupport

final class LeaseTests: XCTestCase {
    private var tmp: TemporaryDirectory!
    private let clock = ManualClock()
    override func setUpWithError() throws { tmp = try TemporaryDirectory("leases") }
    override func tearDown() { tmp.remove() }

    private func open(liveness: Liveness = .local) throws -> VolumeStore {
        try VolumeStore(dataDir: tmp.url, options: StoreOptions(durability: .relaxed), clock: clock, liveness: liveness)
    }

    /// A holder that is the running child process `child`, on this host.
    private func holder(_ child: ChildProcess, _ store: VolumeStore) throws -> LeaseHolder {
        LeaseHolder(host: store.liveness.host, process: try XCTUnwrap(ProcessIdentity(pid: child.pid)))
    }

    private func assertConflict(_ body: @autoclosure () throws -> some Any, mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { e in
            guard let ve = e as? VolumeError, case .conflict(let m) = ve else { return XCTFail("\(e)", file: file, line: line) }
            XCTAssertEqual(ve.code, "conflict", file: file, line: line)
            for s in mentions { XCTAssertTrue(m.contains(s), "'\(m)' should mention '\(s)'", file: file, line: line) }
        }
    }

    func testAcquireRenewReleaseAndListUseTheInjectedClock() throws {
        let store = try open()
        defer { try? store.close() }
        let vol = try store.createVolume(owner: "t1", name: "v").volumeId
        let t0 = clock.now()
        let lease = try store.acquireLease(volume: vol, purpose: .import, ttl: 60)
        XCTAssertTrue(lease.id.hasPrefix("lse-"))
        XCTAssertEqual(lease.mode, .shared)
        XCTAssertEqual(lease.holder, store.currentHolder)
        XCTAssertEqual(lease.acquiredAt, t0)
        XCTAssertEqual(lease.expiresAt, t0.addingTimeInterval(60))
        XCTAssertEqual(try store.leases(volume: vol), [lease])

        clock.advance(45)
        let renewed = try store.renewLease(lease.id, ttl: 60)
        XCTAssertEqual(renewed.acquiredAt, t0)
        XCTAssertEqual(renewed.renewedAt, t0.addingTimeInterval(45))
        XCTAssertEqual(renewed.expiresAt, t0.addingTimeInterval(105))
        XCTAssertTrue(store.isAlive(renewed))

        XCTAssertTrue(try store.releaseLease(lease.id))
        XCTAssertFalse(try store.releaseLease(lease.id), "releasing twice is harmless")
        XCTAssertEqual(try store.leases(), [])
        XCTAssertThrowsError(try store.renewLease(lease.id)) { XCTAssertEqual(($0 as? VolumeError)?.code, "not_found") }
        XCTAssertThrowsError(try store.acquireLease(volume: "vol-missing", purpose: .mount)) {
            XCTAssertEqual(($0 as? VolumeError)?.code, "not_found")
        }
    }

    func testSharedLeasesCoexistAndAnExclusiveOneExcludesThemNamingTheHolder() throws {
        let store = try open()
        defer { try? store.close() }
        let vol = try store.createVolume(owner: "t1", name: "v").volumeId
        let a = try store.acquireLease(volume: vol, purpose: .mount)
        let b = try store.acquireLease(volume: vol, purpose: .import)
        assertConflict(try store.acquireLease(volume: vol, purpose: .delete),
                       mentions: ["mount lease \(a.id)", "import lease \(b.id)", "pid \(getpid())"])
        try store.releaseLease(a.id)
        try store.releaseLease(b.id)
        let x = try store.acquireLease(volume: vol, purpose: .write, mode: .exclusive)
        assertConflict(try store.acquireLease(volume: vol, purpose: .mount), mentions: ["write lease \(x.id)"])
    }

    func testALeaseOfAKilledProcessIsTakenOver() throws {
        let store = try open()
        defer { try? store.close() }
        let vol = try store.createVolume(owner: "t1", name: "v").volumeId
        let child = try ChildProcess()
        let held = try store.acquireLease(volume: vol, purpose: .delete, holder: try holder(child, store), ttl: 3600)
        XCTAssertTrue(store.isAlive(held))
        assertConflict(try store.acquireLease(volume: vol, purpose: .import), mentions: ["delete lease \(held.id)", "pid \(child.pid)"])

        child.kill()
        // Its expiry is an hour away, but a holder on this host is alive only while its process is.
        XCTAssertFalse(store.isAlive(held))
        let taken = try store.acquireLease(volume: vol, purpose: .import)
        XCTAssertEqual(try store.leases(volume: vol), [taken], "the stale lease was taken over")
        XCTAssertThrowsError(try store.renewLease(held.id)) { XCTAssertEqual(($0 as? VolumeError)?.code, "not_found") }
    }

    func testAHolderOnAnotherHostIsAliveUntilItsExpiry() throws {
        let store = try open()
        defer { try? store.close() }
        let vol = try store.createVolume(owner: "t1", name: "v").volumeId
        // A pid that runs here (ours) means nothing for another host: only the expiry counts.
        let remote = LeaseHolder(host: "other-host", process: ProcessIdentity(boot: "b", pid: 1, start: 1))
        let held = try store.acquireLease(volume: vol, purpose: .mount, mode: .exclusive, holder: remote, ttl: 30)
        clock.advance(29)
        assertConflict(try store.acquireLease(volume: vol, purpose: .import), mentions: ["pid 1 on other-host"])
        _ = try store.renewLease(held.id, ttl: 30)
        clock.advance(29)
        assertConflict(try store.acquireLease(volume: vol, purpose: .import), mentions: [held.id])
        clock.advance(2)
        XCTAssertFalse(store.isAlive(held))
        XCTAssertNoThrow(try store.acquireLease(volume: vol, purpose: .import))
        XCTAssertEqual(try store.leases(volume: vol).map(\.holder), [store.currentHolder])
    }

    func testAReusedPidOrAnotherBootOnThisHostIsDead() throws {
        let here = Liveness.local
        let me = ProcessIdentity.current
        let far = Date.distantFuture
        XCTAssertTrue(here.isAlive(LeaseHolder(host: here.host, process: me), expiresAt: nil, now: Date()))
        let reused = ProcessIdentity(boot: me.boot, pid: me.pid, start: me.start + 1)
        XCTAssertFalse(here.isAlive(LeaseHolder(host: here.host, process: reused), expiresAt: far, now: Date()))
        let beforeReboot = ProcessIdentity(boot: "another-boot", pid: me.pid, start: me.start)
        XCTAssertFalse(here.isAlive(LeaseHolder(host: here.host, process: beforeReboot), expiresAt: far, now: Date()))
        XCTAssertFalse(here.isAlive(LeaseHolder(host: "elsewhere", process: me), expiresAt: nil, now: Date()))
    }

    func testTheImportingStateOfVolumesUsesTheStoresLiveness() throws {
        let store = try open()
        let hidden = try store.createHiddenVolume(owner: "t1", name: "incoming")
        XCTAssertThrowsError(try store.createVolume(owner: "t1", name: "incoming"), "a live import holds its name")
        try store.close()
        // The same process, seen from a store whose host has rebooted since: its import is over.
        let afterReboot = try open(liveness: Liveness(host: Liveness.local.host, boot: "a-later-boot"))
        defer { try? afterReboot.close() }
        XCTAssertFalse(FileManager.default.fileExists(atPath: afterReboot.catalogPath(hidden.id)), "the stale import was removed")
        XCTAssertNoThrow(try afterReboot.createVolume(owner: "t1", name: "incoming"))
    }

    func testTheImportingStateOfAKilledImporterIsRemoved() throws {
        let store = try open()
        defer { try? store.close() }
        let hidden = try store.createHiddenVolume(owner: "t1", name: "incoming")
        let child = try ChildProcess()
        let importer = try XCTUnwrap(ProcessIdentity(pid: child.pid))
        try store.registry.write { db in
            try db.execute(sql: "UPDATE volume SET import_owner = ? WHERE id = ?", arguments: [importer.description, hidden.id])
        }
        XCTAssertThrowsError(try store.createVolume(owner: "t1", name: "incoming"), "the child's import holds the name")
        child.kill()
        XCTAssertNoThrow(try store.createVolume(owner: "t1", name: "incoming"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.catalogPath(hidden.id)))
    }
}
