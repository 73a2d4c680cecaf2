// Gives the heap's free memory back to the system now and then: glibc's per-thread arenas keep what bursts of requests freed.
import CFuse3
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A mount server's request threads each allocate from their own glibc arena, and `FUSEMount`
/// raises the trim threshold to 64 MiB so that megabyte buffers do not go back to the kernel and
/// fault in again on every request. An arena other than the main one lives in 64 MiB heaps and
/// trims only past that threshold, so in practice never: a stress run that created and deleted
/// files for 20 s left a server holding 157 MiB from the system with 27 MiB in use, growing for
/// as long as the load lasted. So once every `interval` seconds, when more than `keep` bytes lie
/// free in the arenas, `malloc_trim` returns the free pages of every arena (the live buffers stay
/// where they are). One timer per process, started with the first mount.
enum HeapTrimmer {
    /// Seconds between checks.
    static let interval = 1.0
    /// Free bytes the arenas may keep without a trim.
    static let keep = 32 << 20

    private static let timer = Mutex<DispatchSourceTimer?>(nil)

    /// Starts the timer (once per process).
    static func start() {
        timer.withLock { t in
            guard t == nil else { return }
            let source = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
            source.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(200))
            source.setEventHandler { _ = trimIfWorthIt() }
            source.resume()
            t = source
        }
    }

    /// Bytes free in the arenas (not yet given back to the system).
    static var freeBytes: Int { Int(mallinfo2().fordblks) }

    /// Trims when more than `keep` bytes are free; returns whether it trimmed.
    @discardableResult
    static func trimIfWorthIt() -> Bool {
        guard freeBytes > keep else { return false }
        malloc_trim(0)
        return true
    }
}
