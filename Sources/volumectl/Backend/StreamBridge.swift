// Streams between the synchronous core (tar and gzip over file descriptors) and the async client: a pipe(2)
// whose kernel buffer bounds what is in flight, one side on this thread and the other in a task.
import Foundation
import NIOCore
import VolumeClient
import VolumeCore

#if canImport(Glibc)
import Glibc
#endif

enum StreamBridge {
    /// Runs `produce` on this thread writing into a pipe while `send` runs as a task with the pipe's other end
    /// as an async sequence of buffers. An error of `produce` makes that sequence fail (so the request is cut and
    /// the daemon keeps nothing of it) and is the error thrown; otherwise `send`'s error is.
    static func upload<P, S: Sendable>(produce: (ByteSink) throws -> P, send: @escaping @Sendable (PipeChunks) async throws -> S) throws -> (P, S) {
        let failed = ResultBox<Bool>()
        let sent = ResultBox<S>()
        let produced: Result<P, any Error> = try overPipe(taskReads: true, task: { readFD in
            do { sent.set(.success(try await send(PipeChunks(fd: readFD, failed: failed)))) } catch { sent.set(.failure(error)) }
            // (Then nothing reads any more: a producer still writing gets EPIPE.)
        }, here: { writeFD in
            do {
                return .success(try produce(FileByteSink(fd: writeFD, name: "the upload stream", isCancelled: TransferSignals.isCancelled)))
            } catch {
                failed.set(.success(true))
                return .failure(error)
            }
        })
        switch (produced, Result { try sent.get() }) {
        case let (.success(p), .success(s)): return (p, s)
        case let (.failure(e), .failure(s)) where isBrokenPipe(e): throw remote(s)
        case let (.failure(e), _): throw e
        case let (.success, .failure(s)): throw remote(s)
        }
    }

    /// Runs `fetch` as a task, which writes the bytes of the download it starts into a pipe, while `consume`
    /// reads the pipe on this thread. A failed or cut download is `fetch`'s error (the consumer saw a truncated
    /// stream); a consumer that stops early closes the pipe and the download ends.
    static func download<C>(fetch: @escaping @Sendable () async throws -> FileDownload, consume: (ByteSource) throws -> C) throws -> C {
        let fetched = ResultBox<Bool>()
        let consumed: Result<C, any Error> = try overPipe(taskReads: false, task: { writeFD in
            do {
                let d = try await fetch()
                var total: Int64 = 0
                for try await buffer in d.body {
                    let open = buffer.withUnsafeReadableBytes { raw -> Bool in
                        var off = 0
                        while off < raw.count {
                            let n = write(writeFD, raw.baseAddress! + off, raw.count - off)
                            if n < 0 {
                                if errno == EINTR { continue }
                                return false // the consumer stopped (EPIPE): its error is the one to report
                            }
                            off += n
                        }
                        return true
                    }
                    if !open { break }
                    total += Int64(buffer.readableBytes)
                }
                if let expected = d.length, total < expected {
                    throw VolumeClientError(status: 0, code: "transport", message: "the download ended after \(total) of \(expected) bytes")
                }
                fetched.set(.success(true))
            } catch let e as VolumeClientError {
                fetched.set(.failure(e))
            } catch {
                // The connection went away mid-body (the daemon stopped, the network failed).
                fetched.set(.failure(VolumeClientError(status: 0, code: "transport", message: "the download was cut: \(error)")))
            }
        }, here: { readFD in
            Result { try consume(FileByteSource(fd: readFD, name: "the download", isCancelled: TransferSignals.isCancelled)) }
        })
        if case .failure(let e) = Result(catching: { try fetched.get() }) {
            // Interrupted here first: say so, not what the cut connection looked like.
            if case .failure(let c) = consumed, let ve = c as? VolumeError, case .interrupted = ve { throw c }
            throw remote(e)
        }
        return try consumed.get()
    }

    /// A pipe between a detached task and this thread: `task` gets the read end when `taskReads` (else the
    /// write end), `here` the other; each end is closed as soon as its side returns (so the other side sees
    /// EOF or EPIPE), and this returns `here`'s result once both sides are done.
    private static func overPipe<H>(taskReads: Bool, task: @escaping @Sendable (Int32) async -> Void, here: (Int32) -> H) throws -> H {
        signal(SIGPIPE, SIG_IGN)
        let (readFD, writeFD) = try makePipe()
        let (taskFD, hereFD) = taskReads ? (readFD, writeFD) : (writeFD, readFD)
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            await task(taskFD)
            close(taskFD)
            done.signal()
        }
        let result = here(hereFD)
        close(hereFD)
        done.wait()
        return result
    }

    private static func makePipe() throws -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw VolumeError.io("pipe", errno: errno) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    private static func isBrokenPipe(_ e: any Error) -> Bool {
        if let ve = e as? VolumeError, case .io(_, let code) = ve { return code == EPIPE }
        return false
    }

    private static func remote(_ e: any Error) -> any Error {
        (e as? VolumeClientError).map { RemoteFailure($0) } ?? e
    }
}

/// The read end of a pipe as an async sequence of byte buffers (up to 1 MiB each), for a streamed request
/// body. It fails instead of ending when the producer failed, so a cut stream is never taken as whole.
struct PipeChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let fd: Int32
    let failed: ResultBox<Bool>

    func makeAsyncIterator() -> Iterator { Iterator(fd: fd, failed: failed) }

    struct Iterator: AsyncIteratorProtocol {
        let fd: Int32
        let failed: ResultBox<Bool>
        var done = false

        mutating func next() async throws -> ByteBuffer? {
            if done { return nil }
            let fd = self.fd
            var buffer = ByteBufferAllocator().buffer(capacity: 1 << 20)
            let n = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 1 << 20) { ptr -> Int in
                while true {
                    let r = read(fd, ptr.baseAddress, ptr.count)
                    if r < 0 && errno == EINTR { continue }
                    if r < 0 { throw VolumeError.io("read the upload stream", errno: errno) }
                    return r
                }
            }
            if n == 0 {
                done = true
                if failed.peek() != nil { throw VolumeError.interrupted("the upload stream failed; nothing was sent whole") }
                return nil
            }
            return buffer
        }
    }
}
