// Test chunk stores that change one behaviour of an in-memory store and pass the rest through.
import Foundation
import VolumeCore

/// A chunk store over `inner` (a `MemoryChunkStore` unless said otherwise): conformers write only
/// what they change.
protocol WrappingChunkStore: ChunkStore {
    associatedtype Inner: ChunkStore = MemoryChunkStore
    var inner: Inner { get }
}

extension WrappingChunkStore {
    func put(_ data: Data) throws -> ChunkID { try inner.put(data) }
    func read(_ id: ChunkID) throws -> Data { try inner.read(id) }
    func read(_ id: ChunkID, offset: Int, count: Int) throws -> Data { try inner.read(id, offset: offset, count: count) }
    func contains(_ id: ChunkID) throws -> Bool { try inner.contains(id) }
    func size(of id: ChunkID) throws -> Int? { try inner.size(of: id) }
    func delete(_ id: ChunkID, ifTouchedBefore cutoff: Date) throws -> Bool { try inner.delete(id, ifTouchedBefore: cutoff) }
    func forEach(_ body: (StoredChunk) throws -> Void) throws { try inner.forEach(body) }
    func sync() throws { try inner.sync() }
    func stats() throws -> ChunkStoreStats { try inner.stats() }
}
