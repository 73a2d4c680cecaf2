// The in-memory cache of verified API keys: a revoke by another store on the data directory and an expiry take effect at once.
import Foundation
import XCTest
@testable import VolumeCore
import VolumeTestSupport

final class APIKeyCacheTests: XCTestCase {
    private var tmp: TemporaryDirectory!
    override func setUpWithError() throws { tmp = try TemporaryDirectory("keycache") }
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
}
