// Concurrent chunk-store syncs share flushes, and none returns before a flush that started after its call.
import Foundation
import XCTest
@testable import VolumeCore

final class SyncCoalescerTests: XCTestCase {
    /// What the threads of a test share, under one lock.
    private final class Shared: @unchecked Sendable {
        let lock = NSLock()
        var written = Set<Int>(), durable = Set<Int>(), missing: [Int] = []
        var flushes = 0, calls = 0, failures = 0, successes = 0
        func locked<T>(_ body: (Shared) -> T) -> T { lock.lock(); defer { lock.unlock() }; return body(self) }
    }

    /// Runs `body(i)` for i in 0..<n, each on its own thread, and waits for all.
    private static func onThreads(_ n: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for i in 0..<n {
            group.enter()
            Thread { body(i); group.leave() }.start()
        }
        group.wait()
    }

    /// Each of 32 threads "writes" (marks its slot), then syncs; a flush makes durable what was written
    /// when it started. Every sync must return with its thread's write durable, with fewer flushes than syncs.
    func testEverySyncReturnsAfterAFlushThatStartedAfterItsWrite() throws {
        let c = SyncCoalescer()
        let s = Shared()
        // Threads of their own (concurrentPerform runs only as many at once as there are cores).
        Self.onThreads(32) { i in
            usleep(UInt32(i % 7) * 700)
            s.locked { _ = $0.written.insert(i) }
            try? c.sync {
                let snapshot = s.locked { s -> Set<Int> in s.flushes += 1; return s.written }
                usleep(5_000)  // the flush takes a while: others arrive meanwhile
                s.locked { $0.durable.formUnion(snapshot) }
            }
            s.locked { s in if !s.durable.contains(i) { s.missing.append(i) } }
        }
        XCTAssertEqual(s.missing, [], "these syncs returned before their write was flushed")
        XCTAssertLessThan(s.flushes, 32, "concurrent syncs did not share a flush")
    }

    /// A flush that fails fails its runner; the callers waiting on it run another one.
    func testAFailedFlushIsRunAgainForTheOthers() throws {
        let c = SyncCoalescer()
        let s = Shared()
        struct Boom: Error {}
        Self.onThreads(8) { _ in
            do {
                try c.sync {
                    let first = s.locked { s -> Bool in s.calls += 1; return s.calls == 1 }
                    usleep(3_000)
                    if first { throw Boom() }
                }
                s.locked { $0.successes += 1 }
            } catch {
                s.locked { $0.failures += 1 }
            }
        }
        XCTAssertEqual(s.failures, 1, "only the runner of the failed flush fails")
        XCTAssertEqual(s.successes, 7)
        XCTAssertGreaterThanOrEqual(s.calls, 2)
    }
}
