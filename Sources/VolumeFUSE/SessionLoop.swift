// The FUSE request loop: threads started as requests need them, reading into pooled page-aligned
// buffers that a WRITE handler can take instead of copying its data out.
import CFuse3
import Foundation
import Logging
import Synchronization
import VolumeCore

/// Serves one FUSE session until it ends (an unmount, an aborted connection, a device error).
///
/// libfuse's own multithreaded loop reads every request into a buffer of its own, so a write
/// handler had to copy each 1 MiB of data out before the request ended (8% of the mount's CPU in a
/// sequential write). Here each worker reads from /dev/fuse itself, into a buffer of
/// `AlignedBytes`'s pool placed so that a WRITE's data, which follows its two headers (80 bytes),
/// starts on a page boundary; libfuse then decodes and dispatches the request
/// (`fuse_session_process_buf`, its documented way to run a custom loop). A write handler whose
/// data fills the pooled buffer (1 MiB) `take`s the buffer instead of copying the data out, and
/// the worker reads its next request into another one.
///
/// What the core then does with it depends on the volume's block size. With 1 MiB blocks (volumes
/// made before issue 3) such a write is a whole block, and the block keeps the request's buffer as
/// its bytes: no copy at all (`requestBuffersKept` counts these). With the 4 MiB default it is a
/// quarter of a block, copied once into the block being filled (`BlockFill`), and the buffer goes
/// back to the pool when the request ends: one copy, where copying out of the request first would
/// have made two.
///
/// Workers start as they are needed, up to `threads`, as libfuse's own loop does: a worker that
/// takes a request when no other is waiting starts one more. The kernel hands requests to waiting
/// readers in turn, so a fixed set of eight meant a one-at-a-time client (a shell, `git`, `tar`)
/// was served by eight threads in rotation; now it is served by two or three, and a daemon that
/// hosts many mounts keeps only the threads their load has needed. Speed is unchanged: an A/B of
/// a create-only loop showed 13% less CPU, but four alternating rounds of the whole metadata mix
/// (create, stat, list, unlink) differed by 2%, within this host's noise.
final class SessionLoop: Sendable {
    /// Where a WRITE's data starts in a request: fuse_in_header (40 bytes) + fuse_write_in (40 bytes).
    static let writeHeaders = 80
    /// The largest write the kernel may send: what a pooled buffer holds (set at init).
    static let maxWrite = AlignedBytes.pooledSize

    private let threads: Int
    private let logger: Logger
    /// The data slots (`AlignedBytes` pooled buffers) of the requests being served, by address.
    private let serving = Mutex<Set<UInt>>([])
    /// WRITE requests whose buffer a handler took instead of copying its data out.
    let requestBuffersTaken = Atomic<Int>(0)
    /// WRITE requests whose buffer was still held when the core had the write (`noteKept`): a
    /// block kept the data without any copy (for tests and metrics).
    let requestBuffersKept = Atomic<Int>(0)
    /// Taken buffers still held by the `Data` the handler received.
    private let held = Mutex<Set<UInt>>([])
    /// Workers blocked on /dev/fuse waiting for a request.
    private let waiting = Atomic<Int>(0)
    /// Workers started (they run until the session ends).
    private let started = Mutex(0)
    /// Open while a worker runs; `run` returns when the last one stops.
    private let done = DispatchGroup()

    init(threads: Int, logger: Logger) {
        self.threads = max(1, threads)
        self.logger = logger
    }

    /// Serves `session` and returns when every worker has stopped.
    func run(_ session: SessionHandle) {
        startWorker(session)
        done.wait()
    }

    /// Workers started so far (for tests and metrics).
    var workers: Int { started.withLock { $0 } }

    /// Starts one more worker unless `threads` are running. Called by `run` for the first one, and
    /// by a worker that took a request while none other was waiting (that worker is still in
    /// `done`, so `run` cannot return before the new one has entered).
    private func startWorker(_ session: SessionHandle) {
        guard let i = started.withLock({ n -> Int? in
            guard n < threads else { return nil }
            n += 1
            return n - 1
        }) else { return }
        done.enter()
        let t = Thread { [self] in
            work(session)
            done.leave()
        }
        t.name = "fuse-\(i)"
        t.stackSize = 8 << 20
        t.start()
    }

    /// The bytes of a WRITE's data at `data` (`count` bytes) without a copy, when they fill the
    /// pooled buffer of the request being served; nil otherwise (the caller copies).
    func take(_ data: UnsafeRawPointer, count: Int) -> Data? {
        let key = UInt(bitPattern: data)
        guard count == AlignedBytes.pooledSize, serving.withLock({ $0.remove(key) != nil }) else { return nil }
        requestBuffersTaken.add(1, ordering: .relaxed)
        held.withLock { _ = $0.insert(key) }
        return Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: data), count: count, deallocator: .custom { [self] p, _ in
            held.withLock { _ = $0.remove(UInt(bitPattern: p)) }
            AlignedBytes.recycle(p)
        })
    }

    /// Called by the handler that took the buffer at `data`, after the core has the write and the
    /// handler has dropped its own reference, before it replies: counts the buffer as kept when
    /// something (a block) still holds it.
    func noteKept(_ data: UnsafeRawPointer) {
        if held.withLock({ $0.contains(UInt(bitPattern: data)) }) { requestBuffersKept.add(1, ordering: .relaxed) }
    }

    private func work(_ session: SessionHandle) {
        let se = session.raw
        let fd = fuse_session_fd(se)
        var slot: UnsafeMutableRawPointer?
        defer { if let slot { AlignedBytes.recycle(slot) } }
        while fuse_session_exited(se) == 0 {
            if slot == nil {
                slot = AlignedBytes.takePooled()
                guard slot != nil else {
                    logger.error("FUSE loop: out of memory for a request buffer; ending the session")
                    fuse_session_exit(se)
                    return
                }
            }
            let data = slot!
            let mem = data - Self.writeHeaders
            waiting.add(1, ordering: .relaxed)
            let n = read(fd, mem, Self.writeHeaders + AlignedBytes.pooledSize + AlignedBytes.pooledRoom)
            let readError = errno // before anything else can change it
            let othersWaiting = waiting.subtract(1, ordering: .relaxed).newValue
            if n > 0 && othersWaiting == 0 { startWorker(session) }
            if n < 0 {
                if fuse_session_exited(se) != 0 { return }
                switch readError {
                case EINTR, EAGAIN, ENOENT: continue // ENOENT: the request was interrupted
                case ENODEV: // unmounted, or the connection was aborted
                    fuse_session_exit(se)
                    return
                default:
                    logger.error("FUSE loop: reading /dev/fuse failed: \(String(cString: strerror(readError)))")
                    fuse_session_exit(se)
                    return
                }
            }
            if n == 0 || fuse_session_exited(se) != 0 { return }
            let key = UInt(bitPattern: data)
            serving.withLock { _ = $0.insert(key) }
            var buf = fuse_buf(size: n, flags: fuse_buf_flags(rawValue: 0), mem: mem, fd: -1, pos: 0)
            fuse_session_process_buf(se, &buf)
            // Still there unless a write handler took the buffer for its data.
            if serving.withLock({ $0.remove(key) == nil }) { slot = nil }
        }
    }
}
