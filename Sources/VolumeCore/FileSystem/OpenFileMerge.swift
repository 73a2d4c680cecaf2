// How an open file's buffered writes meet other writers' changes to the same file: only the bytes
// written here are laid over the file as it is when they are committed (or reloaded).
import Foundation

/// Where the stored part of a buffered block came from: the catalog row (nil: a hole) and the
/// file size as this process had loaded them when it read the block.
struct BlockBase: Equatable {
    var ref: BlockRef?
    var size: Int64
}

extension OpenFile.State {
    /// Records that bytes `range` of block `idx` were written (kept sorted, disjoint and merged).
    /// On the write path: the list changes in place, and only the ranges `range` meets are visited.
    mutating func noteWritten(_ idx: Int, _ range: Range<Int>) {
        guard !range.isEmpty else { return }
        written[idx, default: []].insertMerging(range)
    }

    /// Whether the writes since the last commit cover the whole of block `idx`: then its
    /// buffered bytes are all written here, and no other writer's change shows through.
    func coversBlock(_ idx: Int, blockSize: Int) -> Bool {
        guard let list = written[idx], list.count == 1 else { return false }
        return list[0].lowerBound == 0 && list[0].upperBound >= blockSize
    }

    /// Records what block `idx`'s buffered bytes are being built on, unless already recorded.
    mutating func noteBase(_ idx: Int) {
        if bases[idx] == nil { bases[idx] = BlockBase(ref: blocks[idx], size: committedSize) }
    }

    /// Forgets what was written since the last commit (the commit wrote it, or it was dropped).
    mutating func forgetWrites() {
        written = [:]
        writtenEnd = 0
        bases = [:]
    }
}

extension OpenFile {
    /// Block `idx` as `base` holds it, with the bytes written here (`ours`, the block as buffered
    /// here) laid over it, and nothing else of `ours`.
    static func overlay(_ ours: Data, _ ranges: [Range<Int>], onto base: BlockBase, _ idx: Int, volume: Volume) throws -> Data {
        var buf = Data()
        if let r = base.ref {
            let limit = Int(max(0, min(Int64(r.len), base.size - Int64(idx) * Int64(volume.blockSize))))
            if limit > 0 { buf = Data(try volume.chunks.read(r.chunk).prefix(limit)) }
        }
        for range in ranges {
            let end = min(range.upperBound, ours.count)
            guard range.lowerBound < end else { continue }
            buf.apply(ours.subdata(in: (ours.startIndex + range.lowerBound)..<(ours.startIndex + end)), at: range.lowerBound)
        }
        return buf
    }

    /// Block `idx` as buffered here, whole (patches applied, a fill settled).
    func ownBytes(_ st: inout State, _ idx: Int, volume: Volume) throws -> Data {
        st.settleFill(idx)
        try materialize(&st, [idx], volume: volume)
        if let d = st.dirty[idx] { return d }
        if let p = st.storing[idx] { return p.data }
        if let r = st.staged[idx] { return try volume.chunks.read(r.chunk) }
        return Data()
    }

    /// After a reload found another writer's change: rebuilds each buffered block that was built
    /// on stored content that changed since, as the new content with only the bytes written here
    /// laid over it, so reads see the other writer's bytes around them at once. Blocks that only
    /// hold patches (not read yet) are read from the new block map when needed, unless the new
    /// map holds nothing there (patches only ever apply over stored content).
    func rebase(_ st: inout State, volume: Volume) throws {
        let bs = volume.blockSize
        for (idx, base) in st.bases where !st.coversBlock(idx, blockSize: bs) {
            let now = BlockBase(ref: st.blocks[idx], size: st.committedSize)
            guard now != base, let ranges = st.written[idx] else { continue }
            let ours = try ownBytes(&st, idx, volume: volume)
            st.storing[idx] = nil
            st.staged[idx] = nil
            st.dirty[idx] = try Self.overlay(ours, ranges, onto: now, idx, volume: volume)
            st.bases[idx] = now
        }
        for idx in Array(st.patches.keys) where st.dirty[idx] == nil && st.staged[idx] == nil && !st.hasStoredContent(idx, blockSize: bs) {
            try materialize(&st, [idx], volume: volume)
        }
    }
}

extension Array where Element == Range<Int> {
    /// Adds `range` to this list of sorted ranges that neither overlap nor touch, merged with the
    /// ones it overlaps or touches, so the list stays that way.
    mutating func insertMerging(_ range: Range<Int>) {
        // The first range that ends at or after `range` starts; every one before it ends earlier.
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if self[mid].upperBound < range.lowerBound { lo = mid + 1 } else { hi = mid }
        }
        var merged = range
        var end = lo
        while end < count, self[end].lowerBound <= merged.upperBound {
            merged = Swift.min(self[end].lowerBound, merged.lowerBound)..<Swift.max(self[end].upperBound, merged.upperBound)
            end += 1
        }
        replaceSubrange(lo..<end, with: CollectionOfOne(merged))
    }
}
