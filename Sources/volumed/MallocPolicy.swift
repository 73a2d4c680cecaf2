// The daemon's malloc settings: few arenas, and large buffers mapped and unmapped, so freed transfer buffers go back to the system.
import CSupport
import Foundation

/// Uploads and downloads allocate 1 to 4 MiB buffers on many threads (the bridge's pool, each import's
/// storing and catalog threads). With glibc's defaults each thread's arena kept what it freed, and the
/// dynamic mmap threshold soon moved such buffers into the arenas: a daemon after 8 concurrent 1 GiB
/// transfers held 450 MiB it no longer used (Docs/benchmarks.md). So, at start:
/// - at most `arenas` arenas (glibc's default is 8 per core);
/// - buffers of `mmapThreshold` (2 MiB) and more, the imports' 4 MiB blocks, are their own mappings,
///   returned to the system when freed (setting the threshold also stops glibc from raising it); the
///   1 MiB download pieces stay in the arenas, reused (mapping those too halved download speed);
/// - free memory at the top of an arena is given back only past `trimThreshold` (16 MiB; glibc's is
///   128 KiB once the mmap threshold is set): with 128 KiB every freed download piece went back to the
///   system and the next one faulted its pages in again (zeroed by the kernel), a third of a 1 GiB
///   download's time. At most that much stays per arena.
/// `MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_` or `GLIBC_TUNABLES` in the
/// environment win: then nothing is set.
enum MallocPolicy {
    static let arenas: Int32 = 2
    static let mmapThreshold: Int32 = 2 << 20
    static let trimThreshold: Int32 = 16 << 20

    /// Returns a line for the log saying what was set, or nil when the environment decides.
    @discardableResult
    static func apply() -> String? {
        #if os(Linux)
        let env = ProcessInfo.processInfo.environment
        guard env["MALLOC_ARENA_MAX"] == nil, env["MALLOC_MMAP_THRESHOLD_"] == nil, env["MALLOC_TRIM_THRESHOLD_"] == nil,
              env["GLIBC_TUNABLES"] == nil else { return nil }
        _ = csupport_malloc_policy(arenas, mmapThreshold, trimThreshold)
        return "malloc: at most \(arenas) arenas, buffers of \(mmapThreshold >> 20) MiB and more mapped on their own, "
            + "up to \(trimThreshold >> 20) MiB free kept per arena"
        #else
        return nil
        #endif
    }
}
