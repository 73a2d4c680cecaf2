// A chunk store front that holds small chunks in memory until the catalog commit that needs them.
import Foundation
import Synchronization

/// Wraps a chunk store so that small chunks are stored in batches: `put` keeps them in memory
/// (readable at once) and `commitPending` stores them all in one transaction. A volume with a
/// commit window calls `commitPending` right before each group commit, so chunks still reach the
/// store before any catalog row that names them, and one small-file close costs no transaction
/// of its own. At most `pendingLimit` bytes wait; more are stored at once.
///
/// A waiting chunk is a chunk of this store like any other: read, sized, listed by `forEach` and
/// counted by `stats` (with the time of its last `put` as its `touched`), and `delete` removes it
/// under the same rule as a stored one.
public final class DeferredChunkStore: ChunkStore {
    public let inner: any ChunkStore
    /// Chunks of at most this many bytes wait; larger ones go straight to `inner`.
    public let smallLimit: Int
    public let pendingLimit: Int
    private let pending = Mutex<(chunks: [ChunkID: (data: Data, touched: Date)], bytes: Int)>(([:], 0))
    private let now: @Sendable () -> Date

    /// `now` is the clock of waiting chunks' `touched` times (the inner store keeps its own).
    public init(_ inner: any ChunkStore, smallLimit: Int = LocalChunkStore.defaultSmallLimit, pendingLimit: Int = 8 << 20,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.inner = inner
        self.smallLimit = smallLimit
        self.pendingLimit = pendingLimit
        self.now = now
    }

    public func put(_ data: Data) throws -> ChunkID { try put(batch: [data])[0] }

    public func put(batch: [Data]) throws -> [ChunkID] {
        var ids = [ChunkID?](repeating: nil, count: batch.count)
        var large: [Int] = []
        var over = false
        for (i, data) in batch.enumerated() {
            guard data.count <= smallLimit else {
                large.append(i)
                continue
            }
            let id = ChunkID.of(data)
            ids[i] = id
            let t = now()
            over = pending.withLock { p in
                if p.chunks.updateValue((data, t), forKey: id) == nil { p.bytes += data.count }
                return p.bytes >= pendingLimit
            }
        }
        if !large.isEmpty {
            for (i, id) in zip(large, try inner.put(batch: large.map { batch[$0] })) { ids[i] = id }
        }
        if over { try commitPending() }
        return ids.map { $0! }
    }

    /// Stores every waiting chunk in `inner` (one transaction for the lot).
    public func commitPending() throws {
        let batch = pending.withLock { Array($0.chunks) }
        guard !batch.isEmpty else { return }
        _ = try inner.put(batch: batch.map(\.value.data))
        // Only now may readers stop finding them here.
        pending.withLock { p in
            for (id, c) in batch where p.chunks.removeValue(forKey: id) != nil { p.bytes -= c.data.count }
        }
    }

    private func waiting(_ id: ChunkID) -> Data? { pending.withLock { $0.chunks[id]?.data } }

    /// The waiting chunks, as listed.
    private func waitingChunks() -> [ChunkID: StoredChunk] {
        pending.withLock { p in
            p.chunks.reduce(into: [:]) { $0[$1.key] = StoredChunk(id: $1.key, size: $1.value.data.count, touched: $1.value.touched) }
        }
    }

    public func read(_ id: ChunkID) throws -> Data {
        if let d = waiting(id) { return d }
        return try inner.read(id)
    }

    public func read(_ id: ChunkID, offset: Int, count: Int) throws -> Data {
        if let d = waiting(id) {
            let start = min(max(0, offset), d.count)
            let end = min(d.count, start + max(0, count))
            return d.subdata(in: (d.startIndex + start)..<(d.startIndex + end))
        }
        return try inner.read(id, offset: offset, count: count)
    }

    public func contains(_ id: ChunkID) throws -> Bool { try waiting(id) != nil || inner.contains(id) }

    public func size(of id: ChunkID) throws -> Int? {
        if let d = waiting(id) { return d.count }
        return try inner.size(of: id)
    }

    /// A waiting chunk put since `cutoff` stays (waiting, and in `inner` if it is there too); one
    /// put before it stops waiting and is deleted from `inner` as well.
    public func delete(_ id: ChunkID, ifTouchedBefore cutoff: Date) throws -> Bool {
        let dropped: Bool? = pending.withLock { p in
            guard let c = p.chunks[id] else { return nil }
            guard c.touched < cutoff else { return false }
            p.chunks[id] = nil
            p.bytes -= c.data.count
            return true
        }
        if dropped == false { return false }
        let deleted = try inner.delete(id, ifTouchedBefore: cutoff)
        return dropped == true || deleted
    }

    /// Stored and waiting chunks, each once (a chunk both waiting and stored shows the later time).
    public func forEach(_ body: (StoredChunk) throws -> Void) throws {
        var waiting = waitingChunks()
        try inner.forEach { c in
            guard let w = waiting.removeValue(forKey: c.id) else { return try body(c) }
            try body(StoredChunk(id: c.id, size: c.size, touched: max(c.touched, w.touched)))
        }
        for c in waiting.values { try body(c) }
    }

    public func sync() throws {
        try commitPending()
        try inner.sync()
    }

    /// The inner store's totals plus the waiting chunks it does not hold yet.
    public func stats() throws -> ChunkStoreStats {
        var s = try inner.stats()
        for c in waitingChunks().values where try !inner.contains(c.id) {
            s.chunks += 1
            s.bytes += Int64(c.size)
        }
        return s
    }

    public func compact() throws -> Int64 { try inner.compact() }

    public func prefetch(_ ids: [ChunkID]) { inner.prefetch(ids) }
}
