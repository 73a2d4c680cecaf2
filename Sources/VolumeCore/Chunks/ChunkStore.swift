// The chunk store protocol: immutable content-addressed blobs, sized for what the catalog needs.
import Foundation

/// One stored chunk, as listed for garbage collection and fsck.
public struct StoredChunk: Sendable {
    public var id: ChunkID
    public var size: Int
    /// When the chunk was last written or re-referenced (dedup hits refresh it); gc's grace period counts from here.
    public var touched: Date
}

/// Totals of a chunk store.
public struct ChunkStoreStats: Sendable, Equatable {
    public var chunks: Int
    public var bytes: Int64
}

/// Immutable chunks addressed by their SHA-256. Implementations are thread-safe.
///
/// `put` makes a chunk visible at once and refreshes its `touched` time when it already exists,
/// so a chunk that gc might consider garbage is protected by the grace period while the catalog
/// transaction that references it commits. `sync` makes every chunk put so far durable.
public protocol ChunkStore: Sendable {
    /// Stores `data` under its hash and returns the hash. Storing existing content costs nothing.
    @discardableResult func put(_ data: Data) throws -> ChunkID
    /// Stores several chunks at once (one transaction where the backend has them).
    func put(batch: [Data]) throws -> [ChunkID]
    /// The whole chunk, verified against its hash.
    func read(_ id: ChunkID) throws -> Data
    /// `count` bytes from `offset` (fewer at the end of the chunk), not verified.
    func read(_ id: ChunkID, offset: Int, count: Int) throws -> Data
    /// Whether the chunk exists.
    func contains(_ id: ChunkID) throws -> Bool
    /// The chunk's stored size, or nil when it is missing.
    func size(of id: ChunkID) throws -> Int?
    /// Removes a chunk unless it was touched at or after `cutoff`, and says whether it did: gc
    /// passes the time it listed the chunk as older than, so a writer that stored the same content
    /// again since (refreshing its time, to reference it) keeps it. The check and the removal are
    /// one step as far as `put` can tell. Removing a missing chunk is not an error (it says false).
    @discardableResult func delete(_ id: ChunkID, ifTouchedBefore cutoff: Date) throws -> Bool
    /// Calls `body` for every stored chunk.
    func forEach(_ body: (StoredChunk) throws -> Void) throws
    /// Makes every chunk put so far durable on stable storage.
    func sync() throws
    /// Chunk count and stored bytes.
    func stats() throws -> ChunkStoreStats
    /// Stores chunks a front holds back for batching (`DeferredChunkStore`); others have none.
    func commitPending() throws
    /// Gives back the disk space of deleted chunks where `delete` leaves it in place (packed small
    /// chunks); returns the bytes given back.
    func compact() throws -> Int64
    /// Starts loading chunks a reader will soon want (the next blocks of a file read in order),
    /// without waiting; a hint that backends with nothing to warm ignore.
    func prefetch(_ ids: [ChunkID])
}

extension ChunkStore {
    /// Removes a chunk, whenever it was touched; removing a missing chunk is not an error.
    public func delete(_ id: ChunkID) throws { try delete(id, ifTouchedBefore: .distantFuture) }

    public func commitPending() throws {}
    public func prefetch(_ ids: [ChunkID]) {}
}
