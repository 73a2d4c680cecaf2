// A block written in order from its start, assembled in one page-aligned buffer of the whole block.
import Foundation

/// The bytes of one block that sequential writes fill from its start, kept in a page-aligned
/// buffer of the whole block size.
///
/// A block larger than one write request (4 MiB blocks, 1 MiB FUSE writes) would otherwise grow
/// a `Data` piece by piece (each growth a reallocation, a copy and fresh pages) and then be copied
/// once more to an aligned buffer for O_DIRECT. Here every byte is copied once: into the buffer,
/// which becomes the block's `Data` as it is.
///
/// Used only under its `OpenFile`'s lock.
final class BlockFill: @unchecked Sendable {
    private let pool: BufferPool
    private let buffer: UnsafeMutableRawPointer
    /// The block size: the buffer's capacity.
    var capacity: Int { pool.size }
    /// Bytes written so far, from the block's start.
    private(set) var count = 0
    /// Whether the buffer now belongs to a `Data` (`take`).
    private var handedOver = false

    /// A buffer for a block of `capacity` bytes, or nil when memory is short.
    init?(capacity: Int) {
        pool = AlignedBytes.blockPool(capacity)
        guard let p = pool.take() else { return nil }
        buffer = p
    }

    deinit { if !handedOver { pool.give(buffer) } }

    /// Adds `bytes` at the end of what was written (they must fit).
    func append(_ bytes: Data) {
        precondition(count + bytes.count <= capacity, "block fill overflow")
        bytes.withUnsafeBytes { src in
            guard let base = src.baseAddress, src.count > 0 else { return }
            (buffer + count).copyMemory(from: base, byteCount: src.count)
        }
        count += bytes.count
    }

    /// The bytes written, as `Data` that takes the buffer itself: no copy, and the pool gets the
    /// buffer back when the `Data` goes. A partial block (the end of a file of a few MiB) keeps the
    /// whole buffer until it is stored; a later change to it copies it, as `Data` does. Call once,
    /// then drop the fill.
    func take() -> Data {
        guard count > 0 else { return Data() }
        handedOver = true
        return pool.wrap(buffer, count: count)
    }
}
