// The registry's side of delivery in the sandbox: namespace process, uid/gid and each attachment's delivery, through create, fork, attach and a namespace change.
import Foundation
import GRDB
import XCTest
@testable import VolumeCore
import VolumeTestSupport

final class SandboxDeliveryRecordTests: XCTestCase {
    private var tmp: TemporaryDirectory!
    private var store: VolumeStore!
    private var vol = ""

    override func setUpWithError() throws {
        tmp = try TemporaryDirectory("delivery")
        store = try VolumeStore(dataDir: tmp.url, options: StoreOptions(durability: .relaxed))
        vol = try store.createVolume(owner: "t1", name: "data").volumeId
    }

    override func tearDown() {
        try? store.close()
        tmp.remove()
    }

    private func req(_ path: String) throws -> AttachmentRequest { AttachmentRequest(volumeId: vol, mountPath: try MountPath(path)) }

    func testNamespaceAndUserAreRecordedAndForkCopiesTheUserNotTheProcess() throws {
        let process = ProcessIdentity(boot: "boot-1", pid: 4242, start: 987_654_321)
        let (sbx, atts) = try store.createSandbox(owner: "t1", attachments: [try req("/data")], uid: 1000, gid: 1001, namespace: process)
        XCTAssertEqual(sbx.namespace, process, "pid, start time and boot are kept (a reused pid is told apart)")
        XCTAssertEqual(sbx.namespacePid, 4242)
        XCTAssertEqual(sbx.uid, 1000)
        XCTAssertEqual(sbx.gid, 1001)
        XCTAssertEqual(atts.map(\.delivery), [.namespace])
        XCTAssertEqual(try store.sandbox(sbx.id, owner: "t1"), sbx, "read back the same")
        XCTAssertEqual(try store.attach(sandbox: sbx.id, owner: "t1", try req("/more")).delivery, .namespace, "a runtime attach too")

        let plain = try store.forkSandbox(sbx.id, owner: "t1")
        XCTAssertNil(plain.sandbox.namespace, "the parent's process is not copied")
        XCTAssertEqual(plain.sandbox.uid, 1000, "uid is copied")
        XCTAssertEqual(plain.sandbox.gid, 1001, "gid is copied")
        XCTAssertEqual(plain.attachments.map(\.delivery), [.hostPath, .hostPath])
        let other = ProcessIdentity(boot: "boot-1", pid: 5555, start: 1)
        let own = try store.forkSandbox(sbx.id, owner: "t1", namespace: other)
        XCTAssertEqual(own.sandbox.namespace, other)
        XCTAssertEqual(own.attachments.map(\.delivery), [.namespace, .namespace])

        // A sandbox without a process delivers at host paths; giving it one changes every attachment.
        let (bare, bareAtts) = try store.createSandbox(owner: "t1", attachments: [try req("/data")])
        XCTAssertNil(bare.uid)
        XCTAssertEqual(bareAtts.map(\.delivery), [.hostPath])
        XCTAssertEqual(try store.setSandboxNamespace(bare.id, owner: "t1", namespace: other).namespace, other)
        XCTAssertEqual(try store.attachments(sandbox: bare.id, owner: "t1").map(\.delivery), [.namespace])
        XCTAssertNil(try store.setSandboxNamespace(bare.id, owner: "t1", namespace: nil).namespace)
        XCTAssertEqual(try store.attachments(sandbox: bare.id, owner: "t1").map(\.delivery), [.hostPath])
    }

    func testTheRegistryRefusesAHalfRecordedProcessAndANoUser() throws {
        let sbx = try store.createSandbox(owner: "t1", attachments: [try req("/data")]).sandbox
        try store.registry.write { db in
            XCTAssertThrowsError(try db.execute(sql: "UPDATE sandbox SET namespace_pid = 7 WHERE id = ?", arguments: [sbx.id]),
                                 "a pid without its start time and boot")
            XCTAssertThrowsError(try db.execute(sql: "UPDATE sandbox SET uid = 4294967295 WHERE id = ?", arguments: [sbx.id]), "(uid_t)-1")
            XCTAssertThrowsError(try db.execute(sql: "UPDATE attachment SET delivery = 'teleport'"))
        }
    }
}
