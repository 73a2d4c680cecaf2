// Hidden volumes of `import --create`: invisible until published, their name held while their importer
// lives, removed once it is gone; a v1 registry migrates with its volumes.
import Foundation
import GRDB
import XCTest
@testable import VolumeCore
import VolumeTestSupport

final class HiddenVolumeTests: XCTestCase {
    private var tmp: TemporaryDirectory!
    override func setUpWithError() throws { tmp = try TemporaryDirectory("hidden") }
    override func tearDown() { tmp.remove() }

    private func open() throws -> VolumeStore { try VolumeStore(dataDir: tmp.url) }

    private func catalogFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: tmp.path + "/volumes").filter { $0.hasSuffix(".sqlite") }.sorted()
    }

    func testHiddenUntilPublished() throws {
        let store = try open()
        defer { try? store.close() }
        let v = try store.createHiddenVolume(owner: "t1", name: "data", metadata: ["k": "v"])
        try v.writeFile("/a.txt", data: Data("hello".utf8))
        XCTAssertEqual(try store.listVolumes(owner: nil).count, 0)
        XCTAssertThrowsError(try store.resolve("data", owner: "t1")) { XCTAssertEqual(($0 as? VolumeError)?.code, "not_found") }
        XCTAssertThrowsError(try store.info(v.id, owner: nil)) { XCTAssertEqual(($0 as? VolumeError)?.code, "not_found") }
        XCTAssertThrowsError(try store.volume(v.id, owner: nil)) { XCTAssertEqual(($0 as? VolumeError)?.code, "not_found") }
        // A live hidden volume holds its name for its owner (not for other tenants).
        XCTAssertThrowsError(try store.createVolume(owner: "t1", name: "data")) { XCTAssertEqual(($0 as? VolumeError)?.code, "already_exists") }
        XCTAssertNoThrow(try store.createVolume(owner: "t2", name: "data"))

        let info = try store.publishVolume(v.id)
        XCTAssertEqual(info.name, "data")
        XCTAssertEqual(info.metadata, ["k": "v"])
        XCTAssertEqual(info.fileCount, 1)
        XCTAssertEqual(try store.resolve("data", owner: "t1"), v.id)
        XCTAssertThrowsError(try store.publishVolume(v.id), "only a hidden volume is published")
        XCTAssertThrowsError(try store.discardHiddenVolume(v.id), "a published volume is not discarded")
        XCTAssertEqual(try store.fsck().flatMap(\.problems), [])
    }

    func testDiscardRemovesTheCatalogAndFreesTheName() throws {
        let store = try open()
        defer { try? store.close() }
        let v = try store.createHiddenVolume(owner: "t1", name: "data")
        try v.writeFile("/a.txt", data: Data("hello".utf8))
        try store.discardHiddenVolume(v.id)
        XCTAssertEqual(try catalogFiles(), [])
        XCTAssertNoThrow(try store.createVolume(owner: "t1", name: "data"))
        XCTAssertEqual(try store.listVolumes(owner: nil).map(\.name), ["data"])
    }

    func testAHiddenVolumeOfADeadProcessIsRemovedOnOpenAndOnCreate() throws {
        let store = try open()
        let live = try store.createHiddenVolume(owner: "t1", name: "live")
        let dead = try store.createHiddenVolume(owner: "t1", name: "dead")
        // The same pid with another start time is a process that has since exited.
        let me = ProcessIdentity.current
        let gone = ProcessIdentity(boot: me.boot, pid: me.pid, start: me.start + 1)
        XCTAssertFalse(gone.isAlive)
        XCTAssertTrue(me.isAlive)
        XCTAssertEqual(ProcessIdentity(me.description), me)
        try store.registry.write { db in
            try db.execute(sql: "UPDATE volume SET import_owner = ? WHERE id = ?", arguments: [gone.description, dead.id])
        }
        try store.close()
        XCTAssertEqual(try catalogFiles().count, 2)

        let reopened = try open()
        defer { try? reopened.close() }
        XCTAssertEqual(try catalogFiles(), ["\(live.id).sqlite"], "the dead import's catalog is gone, the live one's kept")
        XCTAssertEqual(try reopened.listVolumes(owner: nil).count, 0)

        // In a store that stays open (a daemon), the next create does it.
        try reopened.registry.write { db in
            try db.execute(sql: "UPDATE volume SET import_owner = ? WHERE id = ?", arguments: [gone.description, live.id])
        }
        XCTAssertNoThrow(try reopened.createVolume(owner: "t1", name: "live"))
        XCTAssertEqual(try catalogFiles().count, 1)
        XCTAssertEqual(try reopened.registry.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM volume") }, 1)
    }

    func testAVersion1RegistryMigratesWithItsVolumes() throws {
        let store = try open()
        let id = try store.createVolume(owner: "t1", name: "old").volumeId
        try store.volume(id, owner: nil).writeFile("/kept.txt", data: Data("kept".utf8))
        try store.close()
        // Back to the v1 schema, as a store made before hidden volumes existed has it.
        let q = try DatabaseQueue(path: tmp.path + "/registry.sqlite")
        try q.writeWithoutTransaction { db in
            try db.execute(sql: """
                DROP TABLE lease; DROP TABLE attachment; DROP TABLE sandbox;
                CREATE TABLE v1 AS SELECT id, owner_id, name, metadata, quota_bytes, created_at, state FROM volume;
                DROP TABLE volume;
                CREATE TABLE volume (
                  id TEXT PRIMARY KEY NOT NULL CHECK (id LIKE 'vol-%'),
                  owner_id TEXT NOT NULL REFERENCES tenant(id),
                  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
                  metadata TEXT NOT NULL DEFAULT '{}',
                  quota_bytes INTEGER CHECK (quota_bytes IS NULL OR quota_bytes > 0),
                  created_at REAL NOT NULL,
                  state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'deleting'))
                );
                INSERT INTO volume SELECT * FROM v1;
                DROP TABLE v1;
                CREATE INDEX volume_by_owner ON volume(owner_id, created_at);
                DROP TABLE IF EXISTS api_key;
                DELETE FROM grdb_migrations WHERE identifier <> 'v1-tenants-volumes';
                """)
        }
        try q.close()

        let migrated = try open()
        defer { try? migrated.close() }
        XCTAssertEqual(try migrated.listVolumes(owner: "t1").map(\.volumeId), [id])
        XCTAssertEqual(try migrated.volume(id, owner: "t1").readFile("/kept.txt"), Data("kept".utf8))
        let hidden = try migrated.createHiddenVolume(owner: "t1", name: "new")
        XCTAssertEqual(try migrated.publishVolume(hidden.id).name, "new")
    }
}
