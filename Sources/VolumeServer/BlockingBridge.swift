// The one bridge from the async HTTP side to the blocking core (SQLite, locks, file I/O): a thread pool made for it.
import NIOPosix

/// Runs blocking core calls on a dedicated `NIOThreadPool`, never on an event loop. Every route that
/// touches the core goes through `run`, or `quick` for a short read that the handler's own thread may
/// take (see `HandlerExecutor`).
public final class BlockingBridge: Sendable {
    let pool: NIOThreadPool

    /// Starts `threads` threads. Each long upload holds one for its duration, so size it for the
    /// concurrent uploads expected plus the short calls.
    public init(threads: Int) {
        pool = NIOThreadPool(numberOfThreads: max(1, threads))
        pool.start()
    }

    /// Runs `body` on a pool thread and returns its result (or throws its error).
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }

    /// Runs a short, bounded core call (no write, no wait on another process, nothing that grows with
    /// a transfer): in place when the caller runs on a `HandlerExecutor` thread, whose threads exist to
    /// take such calls, else on the pool as `run` does.
    public func quick<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        if HandlerExecutor.isCurrent { return try body() }
        return try await run(body)
    }

    /// Stops the threads once the calls queued so far have run.
    public func shutdown() async throws { try await pool.shutdownGracefully() }
}
