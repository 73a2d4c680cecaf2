// The handlers' executor and the bridge's quick calls: in place on a handler thread, on the pool elsewhere.
import Foundation
import XCTest
@testable import VolumeServer

final class HandlerExecutorTests: XCTestCase {
    /// A task that prefers the handlers' executor runs there, and a quick call made from it runs on
    /// that same thread; the same call made elsewhere runs on the bridge's pool, not on the caller's
    /// thread; a plain `run` always goes to the pool.
    func testQuickCallsRunInPlaceOnlyOnAHandlerThread() async throws {
        let handlers = HandlerExecutor(threads: 2)
        let bridge = BlockingBridge(threads: 2)
        let onHandler = try await withTaskExecutorPreference(handlers) { () async throws -> (Bool, Bool, Bool, Bool) in
            let here = HandlerExecutor.isCurrent
            let caller = pthread_self()
            let (quickHere, quickMarked) = try await bridge.quick { (pthread_equal(pthread_self(), caller) != 0, HandlerExecutor.isCurrent) }
            let runHere = try await bridge.run { pthread_equal(pthread_self(), caller) != 0 }
            return (here, quickHere, quickMarked, runHere)
        }
        XCTAssertTrue(onHandler.0, "a task preferring the executor runs on its threads")
        XCTAssertTrue(onHandler.1, "a quick call on a handler thread runs in place")
        XCTAssertTrue(onHandler.2)
        XCTAssertFalse(onHandler.3, "run always hands the call to the pool")

        let elsewhere = try await Task.detached { () async throws -> (Bool, Bool) in
            let marked = HandlerExecutor.isCurrent
            return (marked, try await bridge.quick { HandlerExecutor.isCurrent })
        }.value
        XCTAssertFalse(elsewhere.0, "Swift's shared pool carries no mark")
        XCTAssertFalse(elsewhere.1, "a quick call from elsewhere runs on the bridge's pool, which carries no mark")
        try await bridge.shutdown()
        try await handlers.shutdown()
    }
}
