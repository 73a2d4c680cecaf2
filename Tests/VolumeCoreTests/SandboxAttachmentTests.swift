// Sandboxes and attachments as durable records: idempotent attach, the contract's errors, transitions, fork, and deletion of an attached volume.
import Foundation
import GRDB
import XCTest
@testable import VolumeCore
import VolumeTestSupport

final class SandboxAttachmentTests: XCTestCase {
    private var tmp: TemporaryDirectory!
    private var store: VolumeStore!
    private var vol = ""
    private let clock = ManualClock()

    override func setUpWithError() throws {
        tmp = try TemporaryDirectory("sandboxes")
        var options = StoreOptions(durability: .relaxed)
        options.maxAttachmentsPerSandbox = 3
        store = try VolumeStore(dataDir: tmp.url, options: options, clock: clock)
        vol = try store.createVolume(owner: "t1", name: "data").volumeId
        _ = try store.volume(vol, owner: nil).makeDirectory("/x/y", parents: true)
    }

    override func tearDown() {
        try? store.close()
        tmp.remove()
    }

    private func req(_ path: String, _ volume: String? = nil, ro: Bool = false, sub: String = "/") throws -> AttachmentRequest {
        AttachmentRequest(volumeId: volume ?? vol, mountPath: try MountPath(path), readOnly: ro, subpath: sub)
    }

    private func code(_ body: () throws -> Any) -> String? {
        do { _ = try body(); return nil } catch { return (error as? VolumeError)?.code ?? "\(error)" }
    }

    func testCreateWithAttachmentsAndAttachIdempotently() throws {
        let (sbx, atts) = try store.createSandbox(owner: "t1", attachments: [try req("/data"), try req("/ro", ro: true, sub: "x/y/")])
        XCTAssertTrue(sbx.id.hasPrefix("sbx-"))
        XCTAssertEqual(sbx.state, .running)
        XCTAssertEqual(atts.map(\.mountPath.path), ["/data", "/ro"])
        XCTAssertEqual(atts.map(\.state), [.released, .released])
        XCTAssertEqual(atts.map(\.reason), [.pending, .pending])
        XCTAssertEqual(atts[1].subpath, "/x/y", "the subpath is kept in normal form")
        XCTAssertTrue(atts[1].readOnly)
        XCTAssertNil(atts[0].servedBy)

        // The same volume, path and options again: the same record.
        XCTAssertEqual(try store.attach(sandbox: sbx.id, owner: "t1", try req("/data")), atts[0])
        XCTAssertEqual(try store.attach(sandbox: sbx.id, owner: "t1", try req("/ro", ro: true, sub: "/x/./y")).id, atts[1].id)
        // Other options, or another volume, at a path in use: a conflict naming the attachment there.
        let other = try store.createVolume(owner: "t1", name: "other").volumeId
        for clash in [try req("/data", ro: true), try req("/data", sub: "/x"), try req("/data", other)] {
            XCTAssertThrowsError(try store.attach(sandbox: sbx.id, owner: "t1", clash)) { e in
                XCTAssertEqual((e as? VolumeError)?.code, "conflict")
                XCTAssertTrue("\(e)".contains(atts[0].id), "\(e)")
            }
        }
        let third = try store.attach(sandbox: sbx.id, owner: "t1", try req("/other", other))
        XCTAssertEqual(try store.attachments(sandbox: sbx.id, owner: "t1").map(\.id), atts.map(\.id) + [third.id])
        XCTAssertEqual(try store.attachments(volume: vol, owner: "t1").map(\.id), atts.map(\.id))
        XCTAssertEqual(try store.attachments(volume: vol, owner: "t2"), [], "another tenant sees none")
    }

    func testTheContractsErrorsAtAttach() throws {
        let sbx = try store.createSandbox(owner: "t1").sandbox
        let theirs = try store.createVolume(owner: "t2", name: "theirs").volumeId
        XCTAssertEqual(code { try self.store.attach(sandbox: sbx.id, owner: "t1", try self.req("/d", theirs)) }, "forbidden")
        XCTAssertEqual(code { try self.store.attach(sandbox: sbx.id, owner: "t1", try self.req("/d", "vol-missing")) }, "not_found")
        XCTAssertEqual(code { try self.store.attach(sandbox: "sbx-missing", owner: "t1", try self.req("/d")) }, "not_found")
        XCTAssertEqual(code { try self.store.attach(sandbox: sbx.id, owner: "t2", try self.req("/d")) }, "not_found",
                       "another tenant's sandbox is not found")
        XCTAssertEqual(code { try self.store.attach(sandbox: sbx.id, owner: "t1", try self.req("/d", sub: "/missing")) }, "invalid_subpath")
        // A refused attachment at create leaves no sandbox behind.
        XCTAssertEqual(code { try self.store.createSandbox(owner: "t1", attachments: [try self.req("/a"), try self.req("/b", theirs)]) }, "forbidden")
        XCTAssertEqual(try store.sandboxes(owner: "t1").map(\.id), [sbx.id])
    }

    func testAttachmentsPerSandboxAreBounded() throws {
        let sbx = try store.createSandbox(owner: "t1", attachments: [try req("/a"), try req("/b"), try req("/c")]).sandbox
        XCTAssertThrowsError(try store.attach(sandbox: sbx.id, owner: "t1", try req("/d"))) { e in
            XCTAssertEqual((e as? VolumeError)?.code, "too_many_attachments")
            XCTAssertTrue("\(e)".contains("(3)"), "\(e)")
        }
        XCTAssertNoThrow(try store.attach(sandbox: sbx.id, owner: "t1", try req("/a")), "an existing one is still found")
        let b = try store.attachments(sandbox: sbx.id, owner: "t1")[1]
        let detached = try store.detach(sandbox: sbx.id, attachment: b.id, owner: "t1")
        XCTAssertEqual(detached.reason, .detached)
        XCTAssertNotNil(detached.detachedAt)
        XCTAssertEqual(try store.detach(sandbox: sbx.id, attachment: b.id, owner: "t1"), detached, "detach is idempotent")
        XCTAssertNoThrow(try store.attach(sandbox: sbx.id, owner: "t1", try req("/d")))
        XCTAssertNoThrow(try store.attach(sandbox: sbx.id, owner: "t1", try req("/a")))
        XCTAssertEqual(try store.attachments(sandbox: sbx.id, owner: "t1").map(\.mountPath.path), ["/a", "/c", "/d"])
        XCTAssertEqual(try store.attachments(sandbox: sbx.id, owner: "t1", includeDetached: true).count, 4)
    }

    func testPauseReleasesMountLeasesAndKeepsTheIntentDestroyReleasesAll() throws {
        let (sbx, atts) = try store.createSandbox(owner: "t1", attachments: [try req("/a"), try req("/b", ro: true)])
        let server = store.currentHolder
        clock.advance(5)
        let m = try store.markAttachment(atts[0].id, state: .mounted, reason: .mounted, message: "mounted", servedBy: server, hostPath: "/run/v/a")
        XCTAssertEqual(m.state, .mounted)
        XCTAssertEqual(m.servedBy, server)
        XCTAssertEqual(m.hostPath, "/run/v/a")
        XCTAssertEqual(m.updatedAt, atts[0].createdAt.addingTimeInterval(5))
        _ = try store.markAttachment(atts[1].id, state: .failed, reason: .mountFailed, message: "fusermount3: no device")
        XCTAssertEqual(try store.leases(volume: vol).map(\.attachmentId), [atts[0].id], "the mounted one holds a mount lease")

        try store.setSandboxState(sbx.id, owner: "t1", to: .paused)
        var now = try store.attachments(sandbox: sbx.id, owner: "t1")
        XCTAssertEqual(now.map(\.state), [.released, .failed])
        XCTAssertEqual(now[0].reason, .sandboxPaused)
        XCTAssertNil(now[0].servedBy)
        XCTAssertEqual(try store.leases(volume: vol), [], "pause released the mount lease")

        try store.setSandboxState(sbx.id, owner: "t1", to: .running)
        _ = try store.markAttachment(atts[0].id, state: .mounted, reason: .mounted, servedBy: server)
        try store.setSandboxState(sbx.id, owner: "t1", to: .hibernated)
        XCTAssertEqual(try store.attachment(atts[0].id).reason, .sandboxHibernated)
        XCTAssertEqual(code { try self.store.setSandboxState(sbx.id, owner: "t1", to: .paused) }, "conflict")

        try store.setSandboxState(sbx.id, owner: "t1", to: .destroyed)
        now = try store.attachments(sandbox: sbx.id, owner: "t1")
        XCTAssertEqual(now.map(\.state), [.released, .released])
        XCTAssertEqual(now.map(\.reason), [.sandboxDestroyed, .sandboxDestroyed])
        XCTAssertEqual(code { try self.store.setSandboxState(sbx.id, owner: "t1", to: .running) }, "conflict")
        XCTAssertEqual(code { try self.store.attach(sandbox: sbx.id, owner: "t1", try self.req("/c")) }, "conflict")
        XCTAssertEqual(code { try self.store.markAttachment(atts[0].id, state: .mounted, reason: .mounted, servedBy: server) }, "conflict")
        XCTAssertEqual(try store.sandboxes(owner: "t1"), [])
        XCTAssertEqual(try store.sandboxes(owner: "t1", includeDestroyed: true).map(\.state), [.destroyed])
    }

    func testForkCopiesTheIntents() throws {
        let (parent, atts) = try store.createSandbox(owner: "t1", attachments: [try req("/a"), try req("/b", ro: true, sub: "/x")])
        _ = try store.markAttachment(atts[0].id, state: .mounted, reason: .mounted, servedBy: store.currentHolder)
        let (child, copies) = try store.forkSandbox(parent.id, owner: "t1")
        XCTAssertEqual(child.parentId, parent.id)
        XCTAssertEqual(copies.map(\.request), atts.map(\.request))
        XCTAssertEqual(Set(copies.map(\.sandboxId)), [child.id])
        XCTAssertEqual(try store.attachment(atts[0].id).state, .mounted, "the parent keeps its own")
    }

    func testDeletingAnAttachedVolumeNamesTheSandboxesUnlessForced() throws {
        let s1 = try store.createSandbox(owner: "t1", attachments: [try req("/a")])
        let s2 = try store.createSandbox(owner: "t1", attachments: [try req("/b")])
        let paused = try store.createSandbox(owner: "t1", attachments: [try req("/c")])
        for a in s1.attachments + s2.attachments + paused.attachments {
            _ = try store.markAttachment(a.id, state: .mounted, reason: .mounted, servedBy: store.currentHolder)
        }
        try store.setSandboxState(paused.sandbox.id, owner: "t1", to: .paused)
        XCTAssertThrowsError(try store.deleteVolume(vol, owner: "t1")) { e in
            XCTAssertEqual((e as? VolumeError)?.code, "conflict")
            let m = "\(e)"
            XCTAssertTrue(m.contains(s1.sandbox.id) && m.contains(s2.sandbox.id), m)
            XCTAssertFalse(m.contains(paused.sandbox.id), "a paused sandbox holds no live attachment: \(m)")
        }
        let failed = try store.deleteVolume(vol, owner: "t1", force: true)
        XCTAssertEqual(Set(failed.map(\.id)), Set((s1.attachments + s2.attachments).map(\.id)))
        XCTAssertEqual(Set(failed.map(\.state)), [.failed])
        XCTAssertEqual(Set(failed.map(\.reason)), [.volumeDeleted])
        XCTAssertEqual(try store.attachments(volume: vol, owner: nil).count, 3, "the records outlive the volume")
        XCTAssertEqual(try store.attachment(paused.attachments[0].id).state, .released)
        XCTAssertEqual(try store.leases(), [])
    }

    func testTheRegistryKeepsTheInvariants() throws {
        let (sbx, atts) = try store.createSandbox(owner: "t1", attachments: [try req("/a")])
        try store.registry.write { db in
            XCTAssertThrowsError(try db.execute(sql: "UPDATE attachment SET state = 'mounted' WHERE id = ?", arguments: [atts[0].id]),
                                 "mounted needs a server")
            XCTAssertThrowsError(try db.execute(sql: "UPDATE attachment SET state = 'gone' WHERE id = ?", arguments: [atts[0].id]))
            XCTAssertThrowsError(try db.execute(sql: "UPDATE sandbox SET state = 'sleeping' WHERE id = ?", arguments: [sbx.id]))
            XCTAssertThrowsError(try db.execute(sql: """
                INSERT INTO attachment (id, sandbox_id, volume_id, mount_path, read_only, state, reason, created_at, updated_at)
                VALUES ('att-2', ?, ?, '/a', 0, 'released', 'pending', 0, 0)
                """, arguments: [sbx.id, vol]), "two live attachments at one mount_path")
        }
    }
}
