// Writes in progress, published for gc: the time since which a process may still reference chunks it stored.
import CSupport
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What gc must know about the writes of every process: since when a writer may still commit a
/// reference to a chunk that no catalog references yet.
///
/// A writer stores chunks first and references them in one later catalog transaction: an open
/// file's blocks at its flush, fsync or close, an import's or a batch's at its end. Until then gc
/// finds them unreferenced, and before holds only the grace period kept them, so a file held open
/// and written for longer than the grace period (a log, a training run's checkpoint) could lose
/// its first blocks to a gc.
///
/// So each such write runs inside a hold (`begin`, `end`). A process publishes a time no later than
/// the start of its oldest hold as the mtime of its file `holds/<name>.hold` in the data directory
/// (created with the first hold, refreshed every `refreshInterval`, removed by `close`), and gc
/// keeps every unreferenced chunk touched since the oldest time a live process published, whatever
/// the grace period. A hold that ends when its change returns from a group commit (`--commit-window`,
/// at most 1 s) still counts for `linger` seconds, because other processes see that change only
/// once its group commits.
///
/// The file carries an open file description lock for the life of the process. The kernel drops
/// it however the process ends, so gc tells a dead writer's file (a read lock can be taken) from a
/// live one, and removes it.
final class WriteHolds: Sendable {
    /// How often a process moves its published time forward.
    static let refreshInterval: TimeInterval = 30
    /// How long an ended hold still counts (longer than any commit window).
    static let linger: TimeInterval = 10
    /// How far a hold's start is set back from the clock: a new chunk file's mtime comes from the
    /// kernel's coarse clock (a tick behind), and a small chunk's `touched` is in whole seconds.
    static let margin: TimeInterval = 2

    struct State {
        var next = 0
        var active: [Int: Date] = [:]
        /// Ended holds by the second they ended in: the oldest start among them.
        var ended: [Int: Date] = [:]
        var fd: Int32 = -1
        var published: Date?
        var timer: DispatchSourceTimer?

        /// The start of the oldest hold still counted, or `t` when that is older.
        func oldest(_ t: Date) -> Date { min(t, active.values.min() ?? t, ended.values.min() ?? t) }
    }

    /// The directory of every process's hold files.
    let dir: String
    private let name: String
    private let now: @Sendable () -> Date
    private let state = Mutex(State())

    /// Holds of this process for the data directory `dataDir`; `now` is the clock (tests move it).
    init(dataDir: URL, now: @escaping @Sendable () -> Date = { Date() }) {
        dir = dataDir.appendingPathComponent("holds").path
        name = "\(getpid())-\(UUID().uuidString.prefix(8).lowercased())"
        self.now = now
    }

    deinit { close() }

    /// Starts a hold before a write stores its first chunk; returns the token for `end`. The first
    /// hold of the process publishes its file, so an error here means gc could not be told.
    func begin() throws -> Int {
        try state.withLock { st in
            let start = now().addingTimeInterval(-Self.margin)
            // (Holds begun before a `close` still count when the file comes back.)
            if st.fd < 0 {
                do {
                    try publishFirst(&st, st.oldest(start))
                } catch {
                    throw VolumeError.io("cannot tell gc about this write (\(error)); \(dir) must be a directory this process can write", errno: EIO)
                }
            }
            st.next += 1
            st.active[st.next] = start
            return st.next
        }
    }

    /// Ends hold `token` once its chunks are referenced by a committed change (or dropped);
    /// `lingering` when that change may still wait for its group's commit.
    func end(_ token: Int, lingering: Bool) {
        state.withLock { st in
            guard let start = st.active.removeValue(forKey: token), lingering else { return }
            let second = Int(now().timeIntervalSince1970)
            st.ended[second] = min(st.ended[second] ?? start, start)
        }
    }

    /// Moves the published time forward to the start of the oldest hold still counted (or to now
    /// when there is none). The timer calls it; gc calls it before it reads every process's file.
    func publish() throws {
        try state.withLock { st in
            guard st.fd >= 0 else { return }
            let t = now()
            // A second's bucket goes once all of it is more than `linger` ago.
            st.ended = st.ended.filter { TimeInterval($0.key + 1) >= t.timeIntervalSince1970 - Self.linger }
            let oldest = st.oldest(t)
            guard oldest != st.published else { return }
            try Self.setTime(st.fd, oldest, what: "refresh the write hold \(path)")
            st.published = oldest
        }
    }

    /// Stops publishing: removes this process's file (gc then ignores this process).
    func close() {
        state.withLock { st in
            st.timer?.cancel()
            st.timer = nil
            if st.fd >= 0 {
                unlink(path)
                Glibc.close(st.fd)
                st.fd = -1
            }
        }
    }

    private var path: String { dir + "/" + name + ".hold" }

    /// Creates the file under a temporary name, locks it, sets its time, then gives it its name: gc
    /// never sees it unlocked while its process lives.
    private func publishFirst(_ st: inout State, _ t: Date) throws {
        mkdir(dir, 0o777)  // less the umask, like the rest of the data directory
        let tmp = dir + "/" + name + ".tmp"
        let fd = try syscall("create the write hold \(tmp)") { Glibc.open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
        do {
            // Waits: a gc may hold the lock for a moment, checking whether this file was abandoned.
            try syscall("lock the write hold \(tmp)") { csupport_ofd_lock(fd, 0, 0, 2, 1) }
            try Self.setTime(fd, t, what: "set the time of the write hold \(tmp)")
            try syscall("name the write hold \(path)") { rename(tmp, path) }
        } catch {
            unlink(tmp)
            Glibc.close(fd)
            throw error
        }
        st.fd = fd
        st.published = t
        let timer = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
        timer.schedule(deadline: .now() + Self.refreshInterval, repeating: Self.refreshInterval)
        timer.setEventHandler { [weak self] in try? self?.publish() }
        timer.resume()
        st.timer = timer
    }

    private static func setTime(_ fd: Int32, _ t: Date, what: String) throws {
        let s = t.timeIntervalSince1970.rounded(.down)
        let omit = (1 << 30) - 2  // UTIME_OMIT, a macro Swift does not import: the atime stays
        let ts = [timespec(tv_sec: 0, tv_nsec: omit),
                  timespec(tv_sec: Int(s), tv_nsec: Int((t.timeIntervalSince1970 - s) * 1e9))]
        try syscall(what) { futimens(fd, ts) }
    }

    /// The oldest time published by a live process in `dir` (nil when no process that writes is
    /// running). Files of processes that are gone are removed.
    static func oldestLive(in dir: String) -> Date? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return nil }
        var oldest: Date?
        for n in names where n.hasSuffix(".hold") || n.hasSuffix(".tmp") {
            let p = dir + "/" + n
            var sb = stat()
            let fd = Glibc.open(p, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                // Gone meanwhile, or not ours to open: then it counts as live (keeping more is safe).
                if errno != ENOENT, n.hasSuffix(".hold"), stat(p, &sb) == 0 { oldest = min(oldest ?? sb.modified, sb.modified) }
                continue
            }
            defer { Glibc.close(fd) }
            guard fstat(fd, &sb) == 0 else { continue }
            let t = sb.modified
            // A read lock is refused while the writer holds its write lock.
            if csupport_ofd_lock(fd, 0, 0, 1, 0) == 0 {
                // Nobody holds it: its process is gone. (A `.tmp` is locked a moment after it is
                // made; one a minute old was left by a process that died in that moment.)
                if n.hasSuffix(".hold") || t < Date().addingTimeInterval(-60) { unlink(p) }
                continue
            }
            // Live (a `.tmp` too: its process is between locking and naming it).
            oldest = min(oldest ?? t, t)
        }
        return oldest
    }
}
