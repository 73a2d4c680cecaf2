// The threads the HTTP handlers run on: a task executor of their own, where short core reads may run in place.
import CSupport
import NIOCore
import NIOPosix

/// A `TaskExecutor` over a `NIOThreadPool` of its own. `volumed` runs its HTTP servers with a preference
/// for it (`withTaskExecutorPreference`), so every connection's task, and the handlers it calls, run on
/// these threads rather than on Swift's cooperative pool; the event loops still only move bytes.
///
/// Its threads carry a mark (`csupport_thread_mark`) so that `BlockingBridge.quick` can run a short,
/// bounded core read (a stat, a small file) in place instead of handing it to the bridge's pool and
/// back: two thread switches fewer per request. Anything that may wait long (a write, an import, the
/// first open of a volume) still goes through `BlockingBridge.run`, so these threads are never held by
/// a transfer.
public final class HandlerExecutor: TaskExecutor, Sendable {
    let pool: NIOThreadPool
    /// Threads when none are asked for: twice the cores, at least four, so a short read that waits
    /// on the disk leaves others to the rest of the requests.
    public static var defaultThreads: Int { max(4, 2 * System.coreCount) }

    public init(threads: Int = HandlerExecutor.defaultThreads) {
        pool = NIOThreadPool(numberOfThreads: max(1, threads))
        pool.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        pool.submit { _ in
            csupport_set_thread_mark(1)
            job.runSynchronously(on: executor)
        }
    }

    /// Whether the calling thread is one of a handler executor's.
    static var isCurrent: Bool { csupport_thread_mark() == 1 }

    /// Stops the threads once the jobs queued so far have run.
    public func shutdown() async throws { try await pool.shutdownGracefully() }
}
