// The in-memory twin of the chunk store, for tests and for wrapping with fault injection.
import Foundation
import Synchronization

/// A chunk store that keeps everything in a dictionary. Same contract as `LocalChunkStore`.
public final class MemoryChunkStore: ChunkStore {
    private let chunks = Mutex<[ChunkID: (data: Data, touched: Date)]>([:])
    private let now: @Sendable () -> Date

    /// `now` is the clock used for `touched` times; tests pass their own.
    public init(now: @escaping @Sendable () -> Date = { Date() }) { self.now = now }

    public func put(_ data: Data) throws -> ChunkID {
        let id = ChunkID.of(data)
        let t = now()
        chunks.withLock { map in
            if map[id] != nil { map[id]!.touched = t } else { map[id] = (Data(data), t) }
        }
        return id
    }

    public func read(_ id: ChunkID) throws -> Data {
        let d = try raw(id)
        guard ChunkID.of(d) == id else { throw VolumeError.corrupt("chunk \(id.short) does not match its hash") }
        return d
    }

    private func raw(_ id: ChunkID) throws -> Data {
        guard let d = chunks.withLock({ $0[id]?.data }) else { throw VolumeError.corrupt("chunk \(id.short) is missing") }
        return d
    }

    public func read(_ id: ChunkID, offset: Int, count: Int) throws -> Data {
        let d = try raw(id)
        guard offset < d.count else { return Data() }
        return d.subdata(in: offset..<min(d.count, offset + count))
    }

    public func contains(_ id: ChunkID) throws -> Bool { chunks.withLock { $0[id] != nil } }
    public func size(of id: ChunkID) throws -> Int? { chunks.withLock { $0[id]?.data.count } }
    public func delete(_ id: ChunkID, ifTouchedBefore cutoff: Date) throws -> Bool {
        chunks.withLock { map in
            guard let c = map[id], c.touched < cutoff else { return false }
            map[id] = nil
            return true
        }
    }

    public func forEach(_ body: (StoredChunk) throws -> Void) throws {
        let all = chunks.withLock { $0.map { StoredChunk(id: $0.key, size: $0.value.data.count, touched: $0.value.touched) } }
        for c in all { try body(c) }
    }

    public func sync() throws {}

    public func stats() throws -> ChunkStoreStats {
        chunks.withLock { map in
            ChunkStoreStats(chunks: map.count, bytes: map.values.reduce(0) { $0 + Int64($1.data.count) })
        }
    }

    /// Test hook: replaces a chunk's bytes without changing its name (to simulate bit rot).
    public func corrupt(_ id: ChunkID, with data: Data) {
        chunks.withLock { $0[id]?.data = data }
    }
}
