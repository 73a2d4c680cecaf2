// Concurrent syncs of one store share their flushes: a caller waits for one flush that started after it called.
import Foundation

/// Runs a flush (`syncfs` of the chunk store) for many threads at once without running it once per
/// thread. A caller's writes are done before it calls `sync`; it takes a ticket and returns once a flush
/// that *started after* its ticket was taken has succeeded (then its writes are in it). While a flush
/// runs, callers queue; the next flush, run by one of them, covers all of them. Sixteen small PUTs
/// syncing at once then cost about two flushes instead of sixteen. A failed flush advances nothing: its
/// runner throws, and each waiter runs (or waits for) another one.
final class SyncCoalescer: @unchecked Sendable {
    private let cond = NSCondition()
    /// Tickets taken so far.
    private var requested: UInt64 = 0
    /// Every ticket up to this one is covered by a flush that succeeded.
    private var completed: UInt64 = 0
    private var running = false

    /// Returns once a flush that started after this call has succeeded; runs it when none is running.
    func sync(_ flush: () throws -> Void) throws {
        cond.lock()
        defer { cond.unlock() }
        requested += 1
        let mine = requested
        while completed < mine {
            if running {
                cond.wait()
                continue
            }
            running = true
            let covers = requested  // every ticket taken before this flush starts
            cond.unlock()
            var failure: (any Error)?
            do { try flush() } catch { failure = error }
            cond.lock()
            running = false
            if failure == nil { completed = max(completed, covers) }
            cond.broadcast()
            if let failure { throw failure }
        }
    }
}
