// Streams bytes from a blocking core call (an archive export) to the async response writer: a bounded queue of buffers.
import Foundation
import NIOCore
import VolumeCore

/// The mirror of `BodyPipe`: the core writes into it as a `ByteSink` on a bridge thread (blocking while
/// `capacity` buffers wait), the response body takes buffers out with `next()`. A client that goes
/// away calls `cancel()`, and the core's next write throws, so the export stops.
final class ResponsePipe: ByteSink, @unchecked Sendable {
    private let cond = NSCondition()
    private var queue: [ByteBuffer] = []
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false
    private var waiter: CheckedContinuation<Void, Never>?
    private let capacity: Int
    private let chunkBytes: Int
    private var pending = Data()

    init(capacity: Int = 16, chunkBytes: Int = 256 << 10) {
        self.capacity = capacity
        self.chunkBytes = chunkBytes
    }

    // MARK: The blocking side

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        pending.append(contentsOf: bytes)
        if pending.count >= chunkBytes { try flush() }
    }

    func finish() throws { try flush() }

    private func flush() throws {
        guard !pending.isEmpty else { return }
        let buffer = ByteBuffer(bytes: pending)
        pending.removeAll(keepingCapacity: true)
        cond.lock()
        defer { cond.unlock() }
        while queue.count >= capacity && !cancelled { cond.wait() }
        if cancelled { throw VolumeError.interrupted("the client went away") }
        queue.append(buffer)
        wake()
    }

    /// The core call ended: `error` nil when it finished the stream.
    func close(_ error: (any Error)?) {
        cond.lock()
        if let error { failure = error } else { finished = true }
        wake()
        cond.unlock()
    }

    private func wake() {
        if let w = waiter { waiter = nil; w.resume() }
    }

    // MARK: The async side

    /// The next buffer; nil at the end. Throws the core's error.
    func next() async throws -> ByteBuffer? {
        while true {
            switch try take() {
            case .buffer(let b): return b
            case .end: return nil
            case .empty: await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in park(c) }
            }
        }
    }

    private enum Taken { case buffer(ByteBuffer), end, empty }

    private func take() throws -> Taken {
        cond.lock()
        defer { cond.unlock() }
        if !queue.isEmpty {
            let b = queue.removeFirst()
            cond.broadcast()
            return .buffer(b)
        }
        if let f = failure { throw f }
        return finished ? .end : .empty
    }

    /// Resumes `c` when a buffer, the end or a failure arrives (at once if one already has).
    private func park(_ c: CheckedContinuation<Void, Never>) {
        cond.lock()
        if !queue.isEmpty || finished || failure != nil {
            cond.unlock()
            c.resume()
        } else {
            waiter = c
            cond.unlock()
        }
    }

    /// The reader stopped (client gone): the writer's next write throws.
    func cancel() {
        cond.lock()
        cancelled = true
        queue = []
        cond.broadcast()
        cond.unlock()
    }
}
