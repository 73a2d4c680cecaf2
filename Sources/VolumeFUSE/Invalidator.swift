// Keeps the kernel's caches of one mount honest: delivers invalidations off the request threads and
// polls the volume's change sequence for writers in other processes.
import CFuse3
import Foundation
import Logging
import Synchronization
import VolumeCore

/// A libfuse session pointer that may cross threads (libfuse's notify calls are thread-safe).
struct SessionHandle: @unchecked Sendable {
    let raw: OpaquePointer
}

/// One thread per mount that tells the kernel what changed behind its back.
///
/// - Same process: the volume's observer enqueues an invalidation for every change made by someone
///   else (another mount, the files API); this thread delivers it with
///   `fuse_lowlevel_notify_inval_inode/entry`. Never from a request thread: a notification waits
///   for kernel locks a request in flight may hold.
/// - Other processes: every `pollInterval` it asks the volume how many commits other processes
///   made; when that grows, it compares each node the kernel knows with the catalog (ctime, and
///   the names cached in changed directories) and invalidates what differs.
final class Invalidator: @unchecked Sendable {
    enum Item: Sendable {
        /// Attributes and cached data.
        case inode(UInt64)
        /// Attributes only.
        case attributes(UInt64)
        case entry(parent: UInt64, name: Data)
    }

    private struct State {
        var queue: [Item] = []
        var enqueued: UInt64 = 0
        var delivered: UInt64 = 0
        var running = false
        var session: SessionHandle?
        var lastForeign: Int64 = 0
        var rescan = false
    }

    private let view: MountView
    private let nodes: NodeTable
    private let pollInterval: Double
    private let logger: Logger
    private let cond = NSCondition()
    /// Guarded by `cond`.
    private var s = State()
    private let finished = DispatchSemaphore(value: 0)
    /// Invalidations sent to the kernel (for tests and metrics).
    let sent = Atomic<Int>(0)

    init(view: MountView, nodes: NodeTable, pollInterval: Double, logger: Logger) {
        self.view = view
        self.nodes = nodes
        self.pollInterval = pollInterval
        self.logger = logger
    }

    func start(session: SessionHandle) {
        let foreign = (try? view.volume.foreignChanges()) ?? 0
        locked { s in
            s.session = session
            s.running = true
            s.lastForeign = foreign
        }
        let t = Thread { [self] in
            run()
            finished.signal()
        }
        t.name = "fuse-invalidate"
        t.start()
    }

    /// Stops the thread (pending invalidations are dropped: the mount is going away).
    func stop() {
        let wasRunning = locked { s -> Bool in
            let r = s.running
            s.running = false
            return r
        }
        guard wasRunning else { return }
        finished.wait()
    }

    private func locked<T>(_ body: (inout State) -> T) -> T {
        cond.lock()
        defer {
            cond.broadcast()
            cond.unlock()
        }
        return body(&s)
    }

    /// Queues an invalidation of a view node or entry.
    func enqueue(_ item: Item) {
        locked { s in
            guard s.running else { return }
            s.queue.append(item)
            s.enqueued += 1
        }
    }

    /// Waits until everything queued so far reached the kernel.
    func settle() {
        cond.lock()
        defer { cond.unlock() }
        let target = s.enqueued
        while s.delivered < target && s.running { cond.wait() }
    }

    private func run() {
        var nextPoll = Date().addingTimeInterval(pollInterval)
        while true {
            cond.lock()
            var batch: [Item] = []
            var target: UInt64 = 0
            var running = true
            while true {
                (batch, target, running) = (s.queue, s.enqueued, s.running)
                s.queue = []
                if !batch.isEmpty || !running { break }
                if pollInterval > 0 && Date() >= nextPoll { break }
                if pollInterval > 0 { _ = cond.wait(until: nextPoll) } else { cond.wait() }
            }
            cond.unlock()
            guard running, let session = locked({ $0.session }) else { return }
            deliver(batch, session)
            locked { s in s.delivered = max(s.delivered, target) }
            if pollInterval > 0 && Date() >= nextPoll {
                poll(session)
                nextPoll = Date().addingTimeInterval(pollInterval)
            }
        }
    }

    private func deliver(_ batch: [Item], _ session: SessionHandle) {
        guard !batch.isEmpty else { return }
        var inodes = Set<UInt64>()
        var attributes = Set<UInt64>()
        var entries = Set<EntryKey>()
        for item in batch {
            switch item {
            case .inode(let ino): inodes.insert(ino)
            case .attributes(let ino): attributes.insert(ino)
            case let .entry(parent, name): entries.insert(EntryKey(parent: parent, name: name))
            }
        }
        for e in entries where nodes.isKnown(e.parent) {
            // A directory that may have left a subpath takes its cached names with it.
            if view.isSubpath, let child = nodes.child(e.parent, e.name) {
                for sub in nodes.subtreeEntries(of: child).reversed() { invalidateEntry(session, sub.parent, sub.name) }
            }
            invalidateEntry(session, e.parent, e.name)
        }
        for ino in inodes where nodes.isKnown(ino) { invalidateInode(session, ino) }
        for ino in attributes.subtracting(inodes) where nodes.isKnown(ino) {
            _ = fuse_lowlevel_notify_inval_inode(session.raw, ino, -1, 0)
            sent.add(1, ordering: .relaxed)
        }
    }

    private struct EntryKey: Hashable {
        var parent: UInt64
        var name: Data
    }

    private func invalidateInode(_ session: SessionHandle, _ ino: UInt64) {
        _ = fuse_lowlevel_notify_inval_inode(session.raw, ino, 0, 0)
        sent.add(1, ordering: .relaxed)
    }

    private func invalidateEntry(_ session: SessionHandle, _ parent: UInt64, _ name: Data) {
        nodes.dropEntry(parent: parent, name: name)
        _ = name.withUnsafeBytes { b in
            fuse_lowlevel_notify_inval_entry(session.raw, parent, b.baseAddress!.assumingMemoryBound(to: CChar.self), b.count)
        }
        sent.add(1, ordering: .relaxed)
    }

    // MARK: Other processes

    private func poll(_ session: SessionHandle) {
        let foreign: Int64
        do { foreign = try view.volume.foreignChanges() } catch {
            logger.warning("cannot read the change sequence: \(error)")
            return
        }
        let (changed, rescan) = locked { s -> (Bool, Bool) in
            let c = foreign != s.lastForeign
            let r = s.rescan
            s.lastForeign = foreign
            // Scan once more on the next tick: a reply in flight during this scan may carry old attributes.
            s.rescan = c
            return (c, r)
        }
        guard changed || rescan else { return }
        view.treeChangedElsewhere()
        do { try scan(session) } catch { logger.warning("cache check after another process's change failed: \(error)") }
    }

    /// Invalidates every node whose ctime moved since the kernel was told, and in changed
    /// directories every cached name that now names another node or nothing.
    private func scan(_ session: SessionHandle) throws {
        let known = nodes.snapshot()
        let current = try view.changeTimes(known.map(\.ino))
        for n in known {
            let now = current[n.ino]
            guard now != n.ctime else { continue }
            if n.isDirectory {
                for child in nodes.children(of: n.ino) {
                    let still = try? view.lookup(parent: n.ino, name: child.name).ino
                    if still != child.ino { invalidateEntry(session, n.ino, child.name) }
                }
            }
            invalidateInode(session, n.ino)
            if let now { nodes.setCtime(n.ino, now) }
        }
    }
}
