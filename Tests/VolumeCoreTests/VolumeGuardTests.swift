// Deleting, importing into and mounting a volume guard each other through leases, with real processes as holders.
import Foundation
import GRDB
import XCTest
@testable import VolumeCore
import VolumeTestSupport

final class VolumeGuardTests: XCTestCase {
    private var tmp: TemporaryDirectory!
    override func setUpWithError() throws { tmp = try TemporaryDirectory("guards") }
    override func tearDown() { tmp.remove() }

    private func open() throws -> VolumeStore { try VolumeStore(dataDir: tmp.url, options: StoreOptions(durability: .relaxed)) }

    private func holder(_ child: ChildProcess, _ store: VolumeStore) throws -> LeaseHolder {
        LeaseHolder(host: store.liveness.host, process: try XCTUnwrap(ProcessIdentity(pid: child.pid)))
    }

    private func conflictMessage(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            try body()
            XCTFail("expected a conflict", file: file, line: line)
        } catch VolumeError.conflict(let m) {
            return m
        } catch {
            XCTFail("expected a conflict, got \(error)", file: file, line: line)
        }
        return ""
    }

    func testDeleteIsRefusedWhileAnotherProcessImportsIntoTheVolume() throws {
        let store = try open()
        defer { try? store.close() }
        let vol = try store.createVolume(owner: "t1", name: "v").volumeId
        let importer = try ChildProcess()
        _ = try store.acquireLease(volume: vol, purpose: .import, holder: try holder(importer, store))
        let m = conflictMessage { try store.deleteVolume(vol, owner: "t1") }
        XCTAssertTrue(m.contains("import lease") && m.contains("pid \(importer.pid)"), m)
        XCTAssertEqual(try store.info(vol, owner: "t1").volumeId, vol, "the volume is still there")

        importer.kill()
        XCTAssertNoThrow(try store.deleteVolume(vol, owner: "t1"))
        XCTAssertThrowsError(try store.info(vol, owner: "t1"))
        XCTAssertEqual(try store.leases(), [], "the delete lease went with the volume")
    }

    func testDeleteIsRefusedWhileMountedUnlessForced() throws {
        let store = try open()
        defer { try? store.close() }
        let vol = try store.createVolume(owner: "t1", name: "v").volumeId
        let server = try ChildProcess()
        _ = try store.acquireLease(volume: vol, purpose: .mount, holder: try holder(server, store))
        let m = conflictMessage { try store.deleteVolume(vol, owner: nil) }
        XCTAssertTrue(m.contains("mount lease") && m.contains("pid \(server.pid)") && m.contains("force"), m)
        XCTAssertNoThrow(try store.deleteVolume(vol, owner: nil, force: true))
        XCTAssertEqual(try store.listVolumes(owner: nil), [])
    }

    func testNoImportOrMountStartsWhileAVolumeIsBeingDeleted() throws {
        let store = try open()
        defer { try? store.close() }
        let vol = try store.createVolume(owner: "t1", name: "v").volumeId
        // Another process is deleting it (its delete lease is live).
        let deleter = try ChildProcess()
        _ = try store.acquireLease(volume: vol, purpose: .delete, holder: try holder(deleter, store))
        for purpose in [LeasePurpose.import, .mount, .write] {
            let m = conflictMessage { _ = try store.acquireLease(volume: vol, purpose: purpose) }
            XCTAssertTrue(m.contains("delete lease") && m.contains("pid \(deleter.pid)"), m)
        }
        XCTAssertThrowsError(try store.withLease(volume: vol, purpose: .import) { XCTFail("the import must not run") })
        // A deletion that a crash interrupted leaves the volume 'deleting': nothing starts on it.
        deleter.kill()
        try store.registry.write { db in try db.execute(sql: "UPDATE volume SET state = 'deleting' WHERE id = ?", arguments: [vol]) }
        let m = conflictMessage { _ = try store.acquireLease(volume: vol, purpose: .import) }
        XCTAssertTrue(m.contains("is being deleted"), m)
    }

    func testAnImportUnderALeaseHoldsOffADeletionInAnotherStore() throws {
        let store = try open()
        defer { try? store.close() }
        let vol = try store.createVolume(owner: "t1", name: "v").volumeId
        let other = try open()  // what another process (volumectl volume delete) opens
        defer { try? other.close() }
        try store.withLease(volume: vol, purpose: .import) {
            let m = conflictMessage { try other.deleteVolume(vol, owner: nil) }
            XCTAssertTrue(m.contains("import lease"), m)
        }
        XCTAssertNoThrow(try other.deleteVolume(vol, owner: nil), "released when the import ended")
    }
}
