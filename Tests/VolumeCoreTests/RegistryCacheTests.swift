// The in-memory caches of registry reads (verified API keys, resolved volume references): a change by another store on the data directory is seen at once.
import Foundation
import XCTest
@testable import VolumeCore
import VolumeTestSupport

final class RegistryCacheTests: XCTestCase {
    private var tmp: TemporaryDirectory!
    override func setUpWithError() throws { tmp = try TemporaryDirectory("registrycache") }
    override func tearDown() { tmp.remove() }

    private func open() throws -> VolumeStore { try VolumeStore(dataDir: tmp.url, options: StoreOptions(durability: .relaxed)) }

    /// Two stores on one data directory stand for the daemon and `volumectl apikey revoke`: the daemon's
    /// store has the key cached (its cached answer is there), the other revokes, and the daemon's next check
    /// refuses the key, well within the cache's lifetime.
    func testARevokeByAnotherStoreIsSeenAtOnceDespiteTheCache() throws {
        let daemon = try open()
        defer { try? daemon.close() }
        let made = try daemon.createAPIKey(tenant: "acme", role: .tenant)
        XCTAssertNil(daemon.cachedAuthentication(apiKey: made.key), "nothing is cached before a check")
        XCTAssertEqual(try daemon.authenticate(apiKey: made.key)?.id, made.id)
        XCTAssertEqual(daemon.cachedAuthentication(apiKey: made.key)?.id, made.id, "a verified key is cached")

        let other = try open()
        defer { try? other.close() }
        try other.revokeAPIKey(made.id)
        XCTAssertNil(daemon.cachedAuthentication(apiKey: made.key), "the cached key outlived a revoke by another process")
        XCTAssertNil(try daemon.authenticate(apiKey: made.key))

        // The same through the daemon's own store, with another key.
        let second = try daemon.createAPIKey(tenant: "acme", role: .tenant)
        XCTAssertNotNil(try daemon.authenticate(apiKey: second.key))
        XCTAssertNotNil(try other.authenticate(apiKey: second.key), "the other store caches it too")
        try daemon.revokeAPIKey(second.id)
        XCTAssertNil(try daemon.authenticate(apiKey: second.key))
        XCTAssertNil(try other.authenticate(apiKey: second.key), "a revoke in one process reaches the other's cache")
    }

    /// A cached key still expires at its expiry.
    func testACachedKeyExpiresAtItsExpiry() throws {
        let store = try open()
        defer { try? store.close() }
        let now = Date()
        let made = try store.createAPIKey(tenant: "acme", role: .tenant, expiresAt: now.addingTimeInterval(1), now: now)
        XCTAssertNotNil(try store.authenticate(apiKey: made.key, now: now))
        XCTAssertNotNil(store.cachedAuthentication(apiKey: made.key, now: now))
        let later = now.addingTimeInterval(1.5)
        XCTAssertNil(store.cachedAuthentication(apiKey: made.key, now: later))
        XCTAssertNil(try store.authenticate(apiKey: made.key, now: later))
    }

    /// Unknown keys are never cached as valid, and a wrong key is refused however often it is tried.
    func testUnknownKeysAreRefused() throws {
        let store = try open()
        defer { try? store.close() }
        for _ in 0..<3 { XCTAssertNil(try store.authenticate(apiKey: "vk_not-a-real-key")) }
        XCTAssertNil(store.cachedAuthentication(apiKey: "vk_not-a-real-key"))
    }

    // MARK: Resolved volume references

    /// The daemon's store has resolved the volume by name and by ID (both cached); another store (the
    /// operator's `volumectl volume delete`) deletes it; the daemon's next lookups fail at once.
    func testADeletionByAnotherStoreIsSeenAtOnce() throws {
        let daemon = try open()
        defer { try? daemon.close() }
        let v = try daemon.createVolume(owner: "acme", name: "data")
        XCTAssertEqual(try daemon.resolve("data", owner: "acme"), v.volumeId)
        XCTAssertEqual(try daemon.resolve(v.volumeId, owner: "acme"), v.volumeId)
        _ = try daemon.volume(v.volumeId, owner: "acme")
        XCTAssertEqual(daemon.resolved.lookup(VolumeStore.ResolveKey(ref: "data", owner: "acme")), v.volumeId, "a resolved name is cached")

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
