// The in-memory cache of resolved volume references: a change to a volume row by any store on the data directory is seen at once.
import Foundation
import XCTest
@testable import VolumeCore
import VolumeTestSupport

final class VolumeResolveCacheTests: XCTestCase {
    private var tmp: TemporaryDirectory!
    override func setUpWithError() throws { tmp = try TemporaryDirectory("resolvecache") }
    override func tearDown() { tmp.remove() }

    private func open() throws -> VolumeStore { try VolumeStore(dataDir: tmp.url, options: StoreOptions(durability: .relaxed)) }

    /// The daemon's store has resolved the volume by name and by ID (both cached); another store (the
    /// operator's `volumectl volume delete`) deletes it; the daemon's next lookups fail at once.
    func testADeletionByAnotherStoreIsSeenAtOnce() throws {
        let daemon = try open()
        defer { try? daemon.close() }
        let v = try daemon.createVolume(owner: "acme", name: "data")
        XCTAssertEqual(try daemon.resolve("data", owner: "acme"), v.volumeId)
        XCTAssertEqual(try daemon.resolve(v.volumeId, owner: "acme"), v.volumeId)
        _ = try daemon.volume(v.volumeId, owner: "acme")
        XCTAssertEqual(daemon.resolved.lookup(ResolveKey(ref: "data", owner: "acme")), v.volumeId, "a resolved name is cached")

        let other = try open()
        defer { try? other.close() }
        try other.deleteVolume(v.volumeId, owner: "acme")
        XCTAssertThrowsError(try daemon.resolve("data", owner: "acme")) { XCTAssertEqual(($0 as? VolumeError)?.code, "not_found") }
        XCTAssertThrowsError(try daemon.resolve(v.volumeId, owner: "acme")) { XCTAssertEqual(($0 as? VolumeError)?.code, "not_found") }
        XCTAssertThrowsError(try daemon.volume(v.volumeId, owner: "acme")) { XCTAssertEqual(($0 as? VolumeError)?.code, "not_found") }
    }

    /// A second volume of the same name, created by another store, makes the name ambiguous at once:
    /// the cached answer is not given, and the ID still works.
    func testANameMadeAmbiguousByAnotherStoreIsRefusedAtOnce() throws {
        let daemon = try open()
        defer { try? daemon.close() }
        let first = try daemon.createVolume(owner: "acme", name: "data")
        XCTAssertEqual(try daemon.resolve("data", owner: "acme"), first.volumeId)
        let other = try open()
        defer { try? other.close() }
        _ = try other.createVolume(owner: "acme", name: "data")
        XCTAssertThrowsError(try daemon.resolve("data", owner: "acme")) { XCTAssertEqual(($0 as? VolumeError)?.code, "invalid_argument") }
        XCTAssertEqual(try daemon.resolve(first.volumeId, owner: "acme"), first.volumeId)
    }

    /// A volume published by another store's import is found at once, and what one tenant resolved is
    /// never an answer for another.
    func testPublishedVolumesAppearAndTenantsStayApart() throws {
        let daemon = try open()
        defer { try? daemon.close() }
        let other = try open()
        defer { try? other.close() }
        let hidden = try other.createHiddenVolume(owner: "acme", name: "imported")
        XCTAssertThrowsError(try daemon.resolve("imported", owner: "acme"))
        _ = try other.publishVolume(hidden.id)
        XCTAssertEqual(try daemon.resolve("imported", owner: "acme"), hidden.id)
        XCTAssertEqual(try daemon.resolve(hidden.id, owner: nil), hidden.id, "the operator sees it")
        XCTAssertThrowsError(try daemon.resolve("imported", owner: "globex")) { XCTAssertEqual(($0 as? VolumeError)?.code, "not_found") }
        XCTAssertThrowsError(try daemon.resolve(hidden.id, owner: "globex")) { XCTAssertEqual(($0 as? VolumeError)?.code, "not_found") }
        XCTAssertThrowsError(try daemon.volume(hidden.id, owner: "globex")) { XCTAssertEqual(($0 as? VolumeError)?.code, "not_found") }
    }
}
