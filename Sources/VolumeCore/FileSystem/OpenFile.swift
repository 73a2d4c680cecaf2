// Write-back state of one open file, shared by every handle on that inode in this process.
import Foundation
import Synchronization

/// The buffered, not yet committed state of an open file.
///
/// Writes land in `dirty` (the full new content of each touched block), or, for a new block written
/// in order in large pieces, in a `BlockFill` until it is full or used otherwise. A block that is complete is
/// handed to a background store (`storing`: hashed and written as a chunk while the writer goes on)
/// and moves to `staged` once stored; commit (flush, fsync, release) waits for those, stores the
/// rest and writes every staged block, the size and mtime in one catalog transaction.
///
/// A small write into a block that already has stored content becomes a `patch` instead: the block
/// is read (and verified) only when it is needed whole, so many random writes into one block cost
/// one read-modify-write, not one each.
final class OpenFile: Sendable {
    struct State {
        /// Whether `committedSize` and `blocks` reflect the catalog as of `loadedEpoch`.
        var loadedEpoch = -1
        var committedSize: Int64 = 0
        /// Logical size including buffered writes.
        var size: Int64 = 0
        var blocks: [Int: BlockRef] = [:]
        var dirty: [Int: Data] = [:]
        /// New blocks being written in order from their start, not yet in `dirty` (`BlockFill`).
        var filling: [Int: BlockFill] = [:]
        /// Writes into stored blocks not yet read: (offset in the block, bytes), in write order.
        var patches: [Int: [(offset: Int, bytes: Data)]] = [:]
        /// Bytes held in `patches`.
        var patchBytes = 0
        /// Whole blocks being stored in the background, newest per block; reads still see their bytes.
        var storing: [Int: PendingChunk] = [:]
        var storeSeq = 0
        var staged: [Int: BlockRef] = [:]
        /// The write hold (`WriteHolds`) kept from the first chunk stored until the commit that references it.
        var hold: Int?
        /// Bytes this file holds in the volume's `reserved` total.
        var reserved: Int64 = 0
        /// The mtime of the last buffered write, until committed.
        var pendingMtime: Nanos?
        var origin = 0
        /// Where the last read ended, and the last block already loaded ahead of it.
        var readEnd: Int64 = -1
        var prefetchedThrough = -1
        /// The byte ranges of each block written since the last commit (sorted, disjoint, merged):
        /// all that a commit lays over a block another writer changed meanwhile (`OpenFileMerge`).
        var written: [Int: [Range<Int>]] = [:]
        /// Where the furthest write since the last commit ended (0: none).
        var writtenEnd: Int64 = 0
        /// For each block whose buffered bytes hold stored content not written here: the catalog
        /// row and file size that content was taken from.
        var bases: [Int: BlockBase] = [:]

        var hasPending: Bool {
            !dirty.isEmpty || !filling.isEmpty || !patches.isEmpty || !storing.isEmpty || !staged.isEmpty || size != committedSize || pendingMtime != nil
        }
    }

    let ino: UInt64
    let state = Mutex(State())
    /// Open handles, changed only under the volume's `openFiles` lock. Not part of `state`: a
    /// commit holds `state` while it notifies observers, which takes `openFiles`, so taking `state`
    /// under `openFiles` would be the other lock order.
    let refs = Atomic<Int>(0)
    /// Bumped when another writer changes the inode; the state reloads before its next use. The
    /// file's own commits do not bump it (`Volume.notify`): they leave the state as they wrote it.
    private let epoch = Atomic<Int>(0)

    /// `Volume.changes.foreign` when the file was first opened here: if it grew by the last
    /// release, another process may have unlinked the file meanwhile.
    let foreignAtOpen: Int64

    init(ino: UInt64, foreignAtOpen: Int64) {
        self.ino = ino
        self.foreignAtOpen = foreignAtOpen
    }

    var currentEpoch: Int { epoch.load(ordering: .acquiring) }

    /// Has the state reload its size and block map from the catalog before its next use.
    func invalidateCache() { epoch.add(1, ordering: .releasing) }

    /// Shows buffered size and mtime in attributes read from the catalog.
    func overlay(_ a: inout Attributes) {
        state.withLock { st in
            guard st.hasPending else { return }
            // Buffered writes take effect over the file as the catalog now holds it (`commit`),
            // which another process may have changed since this state was loaded.
            a.size = max(a.size, st.writtenEnd)
            if let m = st.pendingMtime { a.mtime = m; a.ctime = max(a.ctime, m) }
        }
    }
}

/// One whole block being stored as a chunk on another thread.
final class PendingChunk: Sendable {
    /// The block's bytes, which reads see until the chunk is stored.
    let data: Data
    /// Start order among the file's stores (the oldest is waited for first).
    let seq: Int
    private let done = DispatchGroup()
    private let outcome = Mutex<Result<ChunkID, Error>?>(nil)

    /// Starts storing `data` in `chunks`.
    init(_ data: Data, seq: Int, chunks: any ChunkStore) {
        self.data = data
        self.seq = seq
        done.enter()
        DispatchQueue.global(qos: .userInitiated).async { [self] in
            let r = Result { try chunks.put(data) }
            outcome.withLock { $0 = r }
            done.leave()
        }
    }

    /// The stored chunk's ID or the failure, once the store has finished (nil before).
    var result: Result<ChunkID, Error>? { outcome.withLock { $0 } }

    /// Waits for the store to finish (any number of times).
    func wait() -> Result<ChunkID, Error> {
        done.wait()
        return result!
    }
}
