// A chunk store front that holds small chunks in memory until the catalog commit that needs them.
import Foundation
import Synchronization

/// Wraps a chunk store so that small chunks are stored in batches: `put` keeps them in memory
/// (readable at once) and `commitPending` stores them all in one transaction. A volume with a
/// commit window calls `commitPending` right before each group commit, so chunks still reach the
/// store before any catalog row that names them, and one small-file close costs no transaction
/// of its own. At most `pendingLimit` bytes wait; more are stored at once.
public final class DeferredChunkStore: ChunkStore {
    public let inner: any ChunkStore
    /// Chunks of at most this many bytes wait; larger ones go straight to `inner`.
    public let smallLimit: Int
    public let pendingLimit: Int
    private let pending = Mutex<(chunks: [ChunkID: Data], bytes: Int)>(([:], 0))

    public init(_ inner: any ChunkStore, smallLimit: Int = LocalChunkStore.defaultSmallLimit, pendingLimit: Int = 8 << 20) {
        self.inner = inner
        self.smallLimit = smallLimit
        self.pendingLimit = pendingLimit
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
            over = pending.withLock { p in
                if p.chunks.updateValue(data, forKey: id) == nil { p.bytes += data.count }
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
        _ = try inner.put(batch: batch.map(\.value))
        // Only now may readers stop finding them here.
        pending.withLock { p in
            for (id, data) in batch where p.chunks.removeValue(forKey: id) != nil { p.bytes -= data.count }
        }
    }

    private func waiting(_ id: ChunkID) -> Data? { pending.withLock { $0.chunks[id] } }

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

    public func delete(_ id: ChunkID, ifTouchedBefore cutoff: Date) throws -> Bool { try inner.delete(id, ifTouchedBefore: cutoff) }

    /// Stored chunks only: waiting ones are nobody's garbage yet.
    public func forEach(_ body: (StoredChunk) throws -> Void) throws { try inner.forEach(body) }

    public func sync() throws {
        try commitPending()
        try inner.sync()
    }

    public func stats() throws -> ChunkStoreStats { try inner.stats() }

    public func compact() throws -> Int64 { try inner.compact() }

    public func prefetch(_ ids: [ChunkID]) { inner.prefetch(ids) }
}
