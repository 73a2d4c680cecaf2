// The watch hub: one journal poller per watched volume (not per client), fanning new journal rows out to its subscribers.
import Foundation
import Synchronization
import VolumeCore

/// What a subscriber receives: journal events, or a note that it asked for more than is retained.
enum WatchItem: Sendable {
    case event(JournalEvent)
    /// The events after `after` up to `resumeAt` are gone; delivery goes on after `resumeAt`.
    case resync(after: Int64, resumeAt: Int64, oldest: Int64?)
    /// Nothing happened for a while: the route writes an SSE comment, which keeps the connection alive.
    case heartbeat
}

/// Keeps one poller task per volume with subscribers. Each tick (`interval`) the poller reads the
/// catalog's change sequence (one cheap read) and, when it moved or a subscriber is behind, the
/// journal rows after the lowest subscriber cursor; each subscriber gets the rows past its own
/// cursor, in journal order. The poller stops when its last subscriber leaves.
public final class WatchHub: Sendable {
    let host: VolumeHost
    let bridge: BlockingBridge
    /// Seconds between polls.
    let interval: Double

    final class Subscriber: Sendable {
        let id: Int
        let continuation: AsyncStream<WatchItem>.Continuation
        /// The last sequence number delivered (or skipped) for this subscriber.
        let cursor: Mutex<Int64>
        init(id: Int, continuation: AsyncStream<WatchItem>.Continuation, cursor: Int64) {
            self.id = id
            self.continuation = continuation
            self.cursor = Mutex(cursor)
        }
    }

    private struct Feed {
        var subscribers: [Int: Subscriber] = [:]
        var task: Task<Void, Never>?
        /// A subscriber joined since the last poll (it may be behind).
        var joined = true
    }

    private struct State {
        var next = 0
        var feeds: [String: Feed] = [:]
        var closed = false
    }
    private let state = Mutex(State())

    /// Seconds between heartbeats on every stream.
    let heartbeat: Double

    public init(host: VolumeHost, bridge: BlockingBridge, interval: Double = 0.2, heartbeat: Double = 15) {
        self.host = host
        self.bridge = bridge
        self.interval = interval
        self.heartbeat = heartbeat
    }

    /// Pollers running now (one per watched volume).
    public var pollerCount: Int { state.withLock { s in s.feeds.values.filter { $0.task != nil }.count } }

    /// Subscribes to volume `id` (already resolved and scoped by the caller). Without `lastEventID`
    /// delivery starts after the latest change; with it, after that sequence number, preceded by a
    /// `resync` item when rows after it were already trimmed (or it is not a number this volume gave).
    func subscribe(volumeID id: String, lastEventID: Int64?) async throws -> AsyncStream<WatchItem> {
        let host = self.host
        let window = try await bridge.run { try host.withVolume(id, owner: nil) { try $0.journalWindow() } }
        var start = window.latest
        var resync: WatchItem?
        if let last = lastEventID {
            let firstKept = (window.oldest ?? (window.latest + 1))
            if last > window.latest || last < 0 {
                resync = .resync(after: last, resumeAt: window.latest, oldest: window.oldest)
            } else if last < firstKept - 1 {
                start = firstKept - 1
                resync = .resync(after: last, resumeAt: start, oldest: window.oldest)
            } else {
                start = last
            }
        }
        let (stream, continuation) = AsyncStream<WatchItem>.makeStream(bufferingPolicy: .bufferingNewest(100_000))
        if let resync { continuation.yield(resync) }
        let startPoller: Bool = state.withLock { s in
            if s.closed { continuation.finish(); return false }
            s.next += 1
            let sub = Subscriber(id: s.next, continuation: continuation, cursor: start)
            var feed = s.feeds[id] ?? Feed()
            feed.subscribers[sub.id] = sub
            feed.joined = true
            let needsTask = feed.task == nil
            s.feeds[id] = feed
            let subID = sub.id
            continuation.onTermination = { [weak self] _ in self?.unsubscribe(id, subID) }
            return needsTask
        }
        if startPoller {
            let task = Task { [self] in await self.poll(id) }
            state.withLock { s in
                if s.feeds[id] != nil && s.feeds[id]?.task == nil { s.feeds[id]?.task = task } else { task.cancel() }
            }
        }
        return stream
    }

    private func unsubscribe(_ volume: String, _ sub: Int) {
        let task: Task<Void, Never>? = state.withLock { s in
            s.feeds[volume]?.subscribers[sub] = nil
            guard let f = s.feeds[volume], f.subscribers.isEmpty else { return nil }
            s.feeds[volume] = nil
            return f.task
        }
        task?.cancel()
    }

    /// Ends every stream (graceful shutdown) and refuses new ones.
    public func close() {
        let feeds = state.withLock { s -> [Feed] in
            s.closed = true
            defer { s.feeds = [:] }
            return Array(s.feeds.values)
        }
        for f in feeds {
            f.task?.cancel()
            for sub in f.subscribers.values { sub.continuation.finish() }
        }
    }

    /// The poller of one volume.
    private func poll(_ id: String) async {
        let host = self.host
        var lastChange: Int64 = -1
        var lastBeat = ContinuousClock.now
        while !Task.isCancelled {
            let (subs, joined) = state.withLock { s -> ([Subscriber], Bool) in
                guard var f = s.feeds[id] else { return ([], false) }
                let j = f.joined
                f.joined = false
                s.feeds[id] = f
                return (Array(f.subscribers.values), j)
            }
            if subs.isEmpty { return }
            do {
                let change = try await bridge.run { try host.withVolume(id, owner: nil) { try $0.changeSequence() } }
                if change != lastChange || joined {
                    lastChange = change
                    var from = subs.map { $0.cursor.withLock { $0 } }.min() ?? 0
                    while true {
                        let after = from
                        let rows = try await bridge.run { try host.withVolume(id, owner: nil) { try $0.journalEvents(after: after, limit: 1000) } }
                        for sub in subs {
                            sub.cursor.withLock { c in
                                for e in rows where e.seq > c {
                                    sub.continuation.yield(.event(e))
                                    c = e.seq
                                }
                            }
                        }
                        guard let last = rows.last, rows.count == 1000 else { break }
                        from = last.seq
                    }
                }
            } catch {
                // The volume is gone (deleted) or cannot be read: end its streams.
                let gone = state.withLock { s -> [Subscriber] in
                    defer { s.feeds[id] = nil }
                    return s.feeds[id].map { Array($0.subscribers.values) } ?? []
                }
                for sub in gone { sub.continuation.finish() }
                return
            }
            if ContinuousClock.now - lastBeat >= .milliseconds(Int64(heartbeat * 1000)) {
                lastBeat = ContinuousClock.now
                for sub in subs { sub.continuation.yield(.heartbeat) }
            }
            try? await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
        }
    }
}
