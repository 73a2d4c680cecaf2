// Streams a request body from the event loop into the blocking core: async producer, blocking reader, bounded buffer.
import Foundation
import NIOCore
import VolumeCore

/// A bounded queue of body buffers between the async side (which iterates the request body and
/// `push`es) and a core call on the bridge's thread (which `read`s, as a `ByteSource`). At most
/// `capacity` buffers wait, so an upload never sits whole in memory; a slow core slows the client.
final class BodyPipe: ByteSource, @unchecked Sendable {
    private let cond = NSCondition()
    private var queue: [ByteBuffer] = []
    private var current: ByteBuffer?
    private var finished = false
    private var failure: (any Error)?
    private var readerClosed = false
    private var spaceWaiter: CheckedContinuation<Void, Never>?
    private let capacity: Int

    init(capacity: Int = 16) { self.capacity = capacity }

    // MARK: The async side

    /// Adds a buffer, waiting while the queue is full. False when the reader has stopped (the core
    /// call failed or finished): stop sending then.
    func push(_ buffer: ByteBuffer) async -> Bool {
        while true {
            switch tryPush(buffer) {
            case .closed: return false
            case .added: return true
            case .full: await withCheckedContinuation { waitForSpace($0) }
            }
        }
    }

    private enum PushResult { case added, full, closed }

    private func tryPush(_ buffer: ByteBuffer) -> PushResult {
        cond.lock()
        defer { cond.unlock() }
        if readerClosed { return .closed }
        guard queue.count < capacity else { return .full }
        queue.append(buffer)
        cond.signal()
        return .added
    }

    /// Resumes `c` once the reader takes a buffer (or stops); at once when there is room already.
    private func waitForSpace(_ c: CheckedContinuation<Void, Never>) {
        cond.lock()
        if readerClosed || queue.count < capacity {
            cond.unlock()
            c.resume()
        } else {
            spaceWaiter = c
            cond.unlock()
        }
    }

    /// The body ended; the reader sees the end once the queue is drained.
    func finish() {
        cond.lock(); finished = true; cond.broadcast(); cond.unlock()
    }

    /// The body failed (cut connection, over a limit): the reader's next `read` throws `error`.
    func fail(_ error: any Error) {
        cond.lock()
        if failure == nil { failure = error }
        cond.broadcast()
        cond.unlock()
    }

    // MARK: The blocking side

    /// Blocks until bytes arrive; 0 at the end of the body. Throws what `fail` was given.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        cond.lock()
        defer { cond.unlock() }
        while true {
            if let e = failure { throw e }
            if var cur = current, cur.readableBytes > 0 {
                let n = min(buffer.count, cur.readableBytes)
                cur.withUnsafeReadableBytes { src in buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src.prefix(n))) }
                cur.moveReaderIndex(forwardBy: n)
                current = cur
                return n
            }
            if !queue.isEmpty {
                current = queue.removeFirst()
                if let w = spaceWaiter { spaceWaiter = nil; w.resume() }
                continue
            }
            if finished { return 0 }
            cond.wait()
        }
    }

    /// The reader is done (success or failure): pending and future pushes return false.
    func closeReading() {
        cond.lock()
        readerClosed = true
        queue = []
        current = nil
        let w = spaceWaiter
        spaceWaiter = nil
        cond.unlock()
        w?.resume()
    }
}

/// One file whose bytes come from a request body, as an import source: the core's streaming,
/// atomic, cap-checked import path writes it (the file appears whole at the end, or not at all).
final class BodyFileSource: ImportSource {
    private let pipe: BodyPipe
    private let name: String
    private let mode: UInt32
    private let owner: FileOwner
    private let declared: Int64?
    private var done = false
    private(set) var bytesConsumed: Int64 = 0
    var totalBytes: Int64? { declared }

    init(pipe: BodyPipe, name: String, mode: UInt32, owner: FileOwner, declaredSize: Int64?) {
        self.pipe = pipe
        self.name = name
        self.mode = mode
        self.owner = owner
        self.declared = declaredSize
    }

    func next() throws -> ImportItem? {
        guard !done else { return nil }
        done = true
        return .file(ImportMeta(components: [name], mode: mode, uid: owner.uid, gid: owner.gid, mtime: Nanos.now(), entry: 1),
                     declaredSize: declared)
    }

    func readData(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try pipe.read(into: buffer)
        bytesConsumed += Int64(n)
        if let d = declared, bytesConsumed > d {
            throw APIFailure("length_mismatch", "the body is longer than its Content-Length (\(d) bytes); nothing was written")
        }
        return n
    }

    func finish() throws {}
}
