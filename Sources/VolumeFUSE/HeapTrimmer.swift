// The mount server's malloc policy: large buffers stay in the heap, and the heap's free memory goes back to the system now and then.
import CFuse3
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Request buffers (1 MiB) and block buffers (4 MiB by default) come and go all the time, so
/// `start` keeps them in the heap instead of having malloc map and unmap each one (page faults
/// dominated the write path): buffers below 8 MiB come from the heap, and the trim threshold is
/// 64 MiB. But a mount server's request threads each allocate from their own glibc arena, and an
/// arena other than the main one lives in 64 MiB heaps and trims only past that threshold, so in
/// practice never: a stress run that created and deleted files for 20 s left a server holding
/// 157 MiB from the system with 27 MiB in use, growing for as long as the load lasted. So once
/// every `interval` seconds, when more than `keep` bytes lie free in the arenas, `malloc_trim`
/// returns the free pages of every arena (the live buffers stay where they are).
enum HeapTrimmer {
    /// Seconds between checks.
    static let interval = 1.0
    /// Free bytes the arenas may keep without a trim.
    static let keep = 32 << 20

    private static let timer = Mutex<DispatchSourceTimer?>(nil)

    /// Tunes malloc and starts the timer, once per process (with the first mount).
    static func start() {
        timer.withLock { t in
            guard t == nil else { return }
            _ = mallopt(M_MMAP_THRESHOLD, 8 << 20)
            _ = mallopt(M_TRIM_THRESHOLD, 64 << 20)
            let source = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
            source.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(200))
            source.setEventHandler {
                if Int(mallinfo2().fordblks) > keep { malloc_trim(0) }
            }
            source.resume()
            t = source
        }
    }
}
