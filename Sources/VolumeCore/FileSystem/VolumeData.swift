// The data path of the core: open, read, write, flush, fsync, release and truncate of regular files.
import Foundation
import GRDB
import Synchronization

extension Volume {
    /// The largest file a volume can ever hold, whatever its cap: 2^48 bytes (256 TiB, 64 Mi
    /// blocks of the default 4 MiB; ext4 stops at 16 TiB). Every path that sets a size or writes
    /// at an offset (write, truncate and setattr, fallocate, imports and uploads) refuses a file
    /// past it with `tooLarge` (EFBIG), since no cap could allow it; a size within it that the cap
    /// does not allow is `quotaExceeded` (EDQUOT). Far below Int64's range, so offsets, block
    /// counts and usage totals never overflow.
    public static let maxFileSize: Int64 = 1 << 48

    /// Throws `tooLarge` (EFBIG) when a file would end `count` bytes after `offset`, past
    /// `maxFileSize`; `invalidArgument` for a negative offset or count.
    public static func checkFileEnd(offset: Int64, count: Int64 = 0, _ what: @autoclosure () -> String) throws {
        guard offset >= 0, count >= 0 else { throw VolumeError.invalidArgument("\(what()): negative offset or size") }
        guard count <= maxFileSize, offset <= maxFileSize - count else {
            throw VolumeError.tooLarge("\(what()): a file ends at \(ByteSize.format(maxFileSize)) at most")
        }
    }
    /// Bytes of partly written blocks buffered per open file before they are stored as chunks
    /// (whole blocks are stored at once). Random writes rewrite a whole block per chunk, so the
    /// more stay buffered, the fewer times a block is read, hashed and written again.
    static let maxDirtyBytes = 64 << 20
    /// The smallest write that starts a `BlockFill` of a new block of `blockSize` bytes: a writer
    /// of large pieces (64 KiB, or an eighth of a smaller block). Smaller first writes (most small
    /// files) grow an ordinary buffer of just their size.
    static func fillThreshold(blockSize: Int) -> Int { min(64 << 10, max(1, blockSize / 8)) }
    /// Whole blocks of one open file stored in the background at once; a writer that gets further
    /// ahead waits for the oldest. Enough to keep hashing, the disk and the writer busy together.
    static let maxStoringBlocks = 4
    /// Blocks loaded ahead of a sequential reader (`ChunkStore.prefetch`).
    static let readAheadBlocks = 4

    // MARK: Handles

    /// Opens regular file `ino`: one more handle on its shared write-back state.
    public func open(_ ino: UInt64) throws {
        // Marked before the file is read: a deletion another process is committing ends first
        // (and the file is then not found), and none can start until the last release.
        try marks.hold(ino)
        do {
            let a = try getattr(ino)
            guard a.kind == .file else {
                throw a.kind == .directory ? VolumeError.isADirectory("inode \(ino)") : VolumeError.invalidArgument("inode \(ino) is not a regular file")
            }
        } catch {
            marks.drop(ino)
            throw error
        }
        let foreign = changes.withLock { $0.foreign }
        openFiles.withLock { map in
            let f = map[ino] ?? OpenFile(ino: ino, foreignAtOpen: foreign)
            f.refs.add(1, ordering: .relaxed)
            map[ino] = f
        }
    }

    /// Opens a regular file `create` just made, from its attributes: nothing to read back, and
    /// the write-back state starts loaded (empty, no blocks).
    public func openCreated(_ a: Attributes) throws {
        guard a.kind == .file, a.size == 0 else { return try open(a.ino) }
        try marks.hold(a.ino)
        let fresh = OpenFile(ino: a.ino, foreignAtOpen: changes.withLock { $0.foreign })
        fresh.state.withLock { st in st.loadedEpoch = fresh.currentEpoch }
        openFiles.withLock { map in
            let f = map[a.ino] ?? fresh
            f.refs.add(1, ordering: .relaxed)
            map[a.ino] = f
        }
    }

    /// Commits buffered writes of `ino` (close-to-open: visible to every other reader afterwards).
    public func flush(_ ino: UInt64, caller: Caller) throws {
        try commitOpenFile(ino, origin: caller.origin)
    }

    /// Commits the buffered writes of `ino` when it is open in this process, and returns it then:
    /// a change that sets the file's size or content (truncate, a path write, an mtime) calls this
    /// first, so that it takes effect after the writes made before it.
    @discardableResult
    func commitOpenFile(_ ino: UInt64, origin: Int) throws -> OpenFile? {
        guard let f = openFiles.withLock({ $0[ino] }) else { return nil }
        try f.commit(volume: self, durable: false, origin: origin)
        return f
    }

    /// Commits buffered writes and returns when they and the catalog are on stable storage.
    ///
    /// One flush of the chunk store either way: a commit of buffered writes flushes it before its
    /// synced transaction (which also commits the open group); with nothing buffered, the open
    /// group is committed and one flush makes it and every chunk durable.
    public func fsync(_ ino: UInt64, caller: Caller) throws {
        var synced = false
        if let f = openFiles.withLock({ $0[ino] }) {
            synced = try f.commit(volume: self, durable: true, origin: caller.origin)
        }
        try settle()
        if !synced { try chunks.sync() }
    }

    /// Drops one handle: commits, and when it was the last one of an unlinked file, deletes the file.
    public func release(_ ino: UInt64, caller: Caller) throws {
        guard let f = openFiles.withLock({ $0[ino] }) else { return }
        var failure: Error?
        do { try f.commit(volume: self, durable: false, origin: caller.origin) } catch { failure = error }
        let last = openFiles.withLock { map -> Bool in
            let refs = f.refs.subtract(1, ordering: .relaxed).newValue
            if refs <= 0 { map[ino] = nil; return true }
            return false
        }
        marks.drop(ino)
        if last {
            f.discard(volume: self)
            // Only an orphan needs a write: a file unlinked while open here (its orphan row and
            // note in `localOrphans` were made before it left `openFiles`), or one another process
            // unlinked. That one can only be if this process has seen a commit of another since
            // the file was opened; otherwise the next poll that sees it reaps it (`reapOrphans`).
            // A process that does not poll looks every time.
            let mine = localOrphans.withLock { $0.remove(ino) != nil }
            var theirs = false
            if !mine && (!recent.hasReaders || changes.withLock({ $0.foreign }) != f.foreignAtOpen) {
                theirs = try quickRead { db in try Int.fetchOne(db, sql: "SELECT 1 FROM orphan WHERE ino = ?", arguments: [Int64(ino)]) } != nil
            }
            if mine || theirs { try deleteOrphan(ino, origin: caller.origin) }
        }
        if let failure { throw failure }
    }

    /// Commits every open file's buffered writes.
    public func flushAll() throws {
        for f in openFiles.withLock({ Array($0.values) }) { try f.commit(volume: self, durable: false, origin: 0) }
    }

    // MARK: Read and write

    /// Reads up to `count` bytes at `offset`; fewer at end of file, none past it.
    ///
    /// `snapshot: false` (a file that no process has open here): the attributes and the block map are
    /// read with quick reads, not in one snapshot, for a fraction of the cost. A change in between can
    /// then mix two versions, so only a caller that checks the file's version afterwards (the HTTP
    /// read compares ETags) may ask for it.
    public func read(_ ino: UInt64, offset: Int64, count: Int, snapshot: Bool = true) throws -> Data {
        guard offset >= 0, count >= 0 else { throw VolumeError.invalidArgument("negative offset or count") }
        let plan: [ReadSegment]
        if let f = openFiles.withLock({ $0[ino] }) {
            plan = try f.state.withLock { st in
                try f.ensureLoaded(&st, volume: self)
                if count > 0, !st.filling.isEmpty || !st.patches.isEmpty {
                    // The blocks read, whole: a fill becomes an ordinary buffer, patches are applied.
                    let bs = Int64(blockSize)
                    let read = Int(offset / bs)...Int((offset + Int64(count) - 1) / bs)
                    for idx in st.filling.keys.filter(read.contains) { st.settleFill(idx) }
                    try f.materialize(&st, st.patches.keys.filter(read.contains), volume: self)
                }
                if let ahead = f.readAhead(&st, offset: offset, count: count, blockSize: blockSize) { chunks.prefetch(ahead) }
                return f.plan(st, offset: offset, count: count, blockSize: blockSize)
            }
        } else {
            let planned = { (db: Database) throws -> [ReadSegment] in
                guard let a = try Catalog.attributes(db, ino) else { throw VolumeError.notFound("inode \(ino)") }
                guard a.kind == .file else { throw VolumeError.isADirectory("inode \(ino)") }
                let end = min(a.size, offset + Int64(count))
                guard end > offset else { return [] }
                let first = Int(offset / Int64(self.blockSize)), last = Int((end - 1) / Int64(self.blockSize))
                let blocks = try Catalog.blocks(db, ino, from: first, to: last)
                return ReadSegment.plan(offset: offset, end: end, blockSize: self.blockSize) { idx in blocks[idx].map { .chunk($0) } }
            }
            plan = snapshot ? try read(planned) : try quickRead(planned)
        }
        return try ReadSegment.execute(plan, chunks: chunks)
    }

    /// Asks the chunk store to start loading the committed blocks of `ino` that cover `count` bytes
    /// from `offset` into the page cache, and returns at once (`ChunkStore.prefetch`): a reader going
    /// through a file in pieces (a download) names the block after the one it is in, so the disk works
    /// on it while the current one is sent.
    public func prefetch(_ ino: UInt64, offset: Int64, count: Int) throws {
        guard offset >= 0, count > 0 else { return }
        let bs = Int64(blockSize)
        let ids = try read { db -> [ChunkID] in
            let rows = try Row.fetchCursor(db.cachedStatement(sql: "SELECT chunk FROM block WHERE ino = ? AND idx BETWEEN ? AND ?"),
                                           arguments: [Int64(ino), offset / bs, (offset + Int64(count) - 1) / bs])
            var out: [ChunkID] = []
            while let r = try rows.next() { if let id = ChunkID(bytes: r[0]) { out.append(id) } }
            return out
        }
        if !ids.isEmpty { chunks.prefetch(ids) }
    }

    /// Writes `data` at `offset` into the write-back buffer of `ino`. Fails with `quotaExceeded`
    /// (EDQUOT) before changing anything when the file would grow past the cap.
    @discardableResult
    public func write(_ ino: UInt64, offset: Int64, data: Data, caller: Caller) throws -> Int {
        try Self.checkFileEnd(offset: offset, count: Int64(data.count), "write of \(data.count) bytes at offset \(offset)")
        guard let f = openFiles.withLock({ $0[ino] }) else {
            try open(ino)
            defer { try? release(ino, caller: caller) }
            try write(ino, offset: offset, data: data, caller: caller)
            try flush(ino, caller: caller)
            return data.count
        }
        try f.write(volume: self, offset: offset, data: data, origin: caller.origin)
        return data.count
    }

    /// Sets the size of regular file `ino`: cuts blocks past the end, or grows with zeros (sparse).
    public func truncate(_ ino: UInt64, to size: Int64, caller: Caller) throws {
        try Self.checkFileEnd(offset: size, "size \(size)")
        let f = try commitOpenFile(ino, origin: caller.origin)
        // Shortening a block stores its shorter chunk before the transaction that references it commits.
        let hold = try beginHold()
        defer { endHold(hold) }
        let apply = {
            try self.mutate(origin: caller.origin) { db, events in
                guard let a = try Catalog.attributes(db, ino) else { throw VolumeError.notFound("inode \(ino)") }
                guard a.kind == .file else {
                    throw a.kind == .directory ? VolumeError.isADirectory("inode \(ino)") : VolumeError.invalidArgument("not a regular file")
                }
                try self.checkQuota(db, adding: size - a.size)
                if size < a.size { try self.cutBlocks(db, ino, to: size) }
                try Catalog.setSize(db, ino, size, now: .now())
                try Catalog.addMeta(db, .usageBytes, size - a.size)
                events.append(.inode(ino))
                try ChangeJournal.record(db, .modify, ino: ino)
            }
        }
        if let f {
            try f.state.withLock { st in
                try apply()
                st.loadedEpoch = -1
                try f.ensureLoaded(&st, volume: self)
                st.size = st.committedSize
            }
        } else {
            try apply()
        }
    }

    /// Removes blocks past `size` and shortens the block that holds the new end.
    func cutBlocks(_ db: Database, _ ino: UInt64, to size: Int64) throws {
        let bs = Int64(blockSize)
        try Catalog.deleteBlocks(db, ino, from: Int((size + bs - 1) / bs))
        let keep = Int(size % bs)
        guard keep != 0, let ref = try Catalog.block(db, ino, Int(size / bs)), ref.len > keep else { return }
        let id = try chunks.put(try chunks.read(ref.chunk).prefix(keep))
        if durability == .full { try chunks.sync() }
        try Catalog.setBlock(db, ino, Int(size / bs), BlockRef(chunk: id, len: keep))
    }
}

/// One piece of a read: bytes in memory, a range of a chunk, or a hole.
enum ReadSegment {
    case bytes(Data)
    case chunk(ChunkID, offset: Int, count: Int)
    case zeros(Int)

    /// Where a block's content comes from when planning a read.
    enum Source { case buffer(Data), chunk(BlockRef) }

    /// Splits `[offset, end)` into segments, asking `source` for each block.
    static func plan(offset: Int64, end: Int64, blockSize: Int, source: (Int) -> Source?) -> [ReadSegment] {
        var out: [ReadSegment] = []
        var pos = offset
        let bs = Int64(blockSize)
        while pos < end {
            let idx = Int(pos / bs)
            let inOff = Int(pos % bs)
            let n = Int(min(bs - Int64(inOff), end - pos))
            switch source(idx) {
            case .buffer(let d):
                let avail = max(0, min(n, d.count - inOff))
                if avail > 0 { out.append(.bytes(d.subdata(in: (d.startIndex + inOff)..<(d.startIndex + inOff + avail)))) }
                if n > avail { out.append(.zeros(n - avail)) }
            case .chunk(let ref):
                let avail = max(0, min(n, ref.len - inOff))
                if avail > 0 { out.append(.chunk(ref.chunk, offset: inOff, count: avail)) }
                if n > avail { out.append(.zeros(n - avail)) }
            case nil:
                out.append(.zeros(n))
            }
            pos += Int64(n)
        }
        return out
    }

    static func execute(_ plan: [ReadSegment], chunks: any ChunkStore) throws -> Data {
        if plan.count == 1, case .bytes(let d) = plan[0] { return d }
        var out = Data()
        for seg in plan {
            switch seg {
            case .bytes(let d): out.append(d)
            case .zeros(let n): out.append(Data(count: n))
            case let .chunk(id, off, n):
                let d = try chunks.read(id, offset: off, count: n)
                guard d.count == n else { throw VolumeError.corrupt("chunk \(id.short) is shorter than its block says") }
                if plan.count == 1 { return d }
                out.append(d)
            }
        }
        return out
    }
}

extension OpenFile {
    /// Reloads size and block map from the catalog when another writer changed the file.
    func ensureLoaded(_ st: inout State, volume: Volume) throws {
        let e = currentEpoch
        guard st.loadedEpoch != e else { return }
        let (attrs, blocks) = try volume.read { db -> (Attributes?, [Int: BlockRef]) in
            (try Catalog.attributes(db, ino), try Catalog.blocks(db, ino))
        }
        guard let attrs else { throw VolumeError.notFound("inode \(ino)") }
        let hadPending = st.hasPending
        st.committedSize = attrs.size
        st.blocks = blocks
        // Buffered writes take effect over what the file now is (see `commit`).
        st.size = hadPending ? max(attrs.size, st.writtenEnd) : attrs.size
        if hadPending { try rebase(&st, volume: volume) }
        st.loadedEpoch = e
    }

    /// Blocks past a sequential read worth loading now: the stored blocks of the next
    /// `Volume.readAheadBlocks`, each asked for once, when this read starts where the last one
    /// ended. Nil when there is nothing new to ask for.
    func readAhead(_ st: inout State, offset: Int64, count: Int, blockSize: Int) -> [ChunkID]? {
        defer { st.readEnd = offset + Int64(count) }
        guard count > 0, offset == st.readEnd || offset == 0 else { return nil }
        let bs = Int64(blockSize)
        let next = Int((offset + Int64(count) - 1) / bs) + 1
        let from = max(next, st.prefetchedThrough + 1)
        let through = min(next + Volume.readAheadBlocks - 1, Int((st.committedSize - 1) / bs))
        guard from <= through else { return nil }
        st.prefetchedThrough = through
        let ids = (from...through).compactMap { st.dirty[$0] == nil ? (st.staged[$0] ?? st.blocks[$0])?.chunk : nil }
        return ids.isEmpty ? nil : ids
    }

    func plan(_ st: State, offset: Int64, count: Int, blockSize: Int) -> [ReadSegment] {
        let end = min(st.size, offset + Int64(count))
        guard end > offset else { return [] }
        return ReadSegment.plan(offset: offset, end: end, blockSize: blockSize) { idx in
            if let d = st.dirty[idx] ?? st.storing[idx]?.data { return .buffer(d) }
            if let r = st.staged[idx] ?? st.blocks[idx] { return .chunk(r) }
            return nil
        }
    }

    func write(volume: Volume, offset: Int64, data: Data, origin: Int) throws {
        try state.withLock { st in
            try ensureLoaded(&st, volume: volume)
            let end = offset + Int64(data.count)
            let newSize = max(st.size, end)
            let need = max(0, newSize - st.committedSize)
            if need > st.reserved {
                let more = need - st.reserved
                try volume.quickRead { db in try volume.checkQuota(db, adding: more, ownReservation: 0) }
                volume.reserved.withLock { $0 += more }
                st.reserved = need
            }
            let bs = volume.blockSize
            let data = data.startIndex == 0 ? data : Data(data)
            var pos = offset
            var src = 0
            var full: [Int] = []
            while src < data.count {
                let idx = Int(pos / Int64(bs))
                let inOff = Int(pos % Int64(bs))
                let n = min(bs - inOff, data.count - src)
                st.noteWritten(idx, inOff..<(inOff + n))
                if inOff == 0 && n == bs {
                    // A whole block: keep the caller's bytes (no copy when they are the whole buffer).
                    // Dirty buffers always start at index 0. Earlier patches are overwritten.
                    st.dirty[idx] = src == 0 && n == data.count ? data : Data(data[src..<(src + n)])
                    st.filling[idx] = nil
                    if let old = st.patches.removeValue(forKey: idx) { st.patchBytes -= old.reduce(0) { $0 + $1.bytes.count } }
                    full.append(idx)
                } else if let fill = st.filling[idx], inOff == fill.count {
                    // The next piece of a block filled in order.
                    fill.append(data[src..<(src + n)])
                    if fill.count == bs {
                        st.filling[idx] = nil
                        st.dirty[idx] = fill.take()
                        full.append(idx)
                    }
                } else if inOff == 0, n >= Volume.fillThreshold(blockSize: bs), st.filling[idx] == nil, st.dirty[idx] == nil,
                          st.storing[idx] == nil, !st.hasStoredContent(idx, blockSize: bs), let fill = BlockFill(capacity: bs) {
                    // The start of a new block, written in large pieces.
                    st.noteBase(idx)
                    fill.append(data[src..<(src + n)])
                    st.filling[idx] = fill
                } else if st.dirty[idx] == nil && st.filling[idx] == nil && st.storing[idx] == nil && st.hasStoredContent(idx, blockSize: bs) {
                    // Into stored content: remember the bytes; the block is read when needed whole.
                    st.patches[idx, default: []].append((inOff, Data(data[src..<(src + n)])))
                    st.patchBytes += n
                } else {
                    st.settleFill(idx)
                    st.noteBase(idx)
                    // Take the buffer out of the map so it is uniquely referenced and changes in place
                    // (a block still being stored starts from a copy of its bytes).
                    var buf = st.dirty.removeValue(forKey: idx) ?? st.storing[idx]?.data ?? Data()
                    buf.apply(data[src..<(src + n)], at: inOff)
                    if buf.count == bs && inOff + n == bs { full.append(idx) }
                    st.dirty[idx] = buf
                }
                pos += Int64(n)
                src += n
            }
            st.size = newSize
            st.writtenEnd = max(st.writtenEnd, end)
            st.pendingMtime = .now()
            st.origin = origin
            if !full.isEmpty { startStoring(&st, full, volume: volume) }
            if (st.dirty.count + st.filling.count) * bs + st.patchBytes > Volume.maxDirtyBytes {
                try spill(&st, volume: volume)
            }
        }
    }

    /// Turns the patches of blocks `idxs` into whole buffers in `dirty`, reading each stored block
    /// once (verified against its hash; several on both cores at once).
    func materialize(_ st: inout State, _ idxs: [Int], volume: Volume) throws {
        let todo = idxs.filter { st.patches[$0] != nil && st.dirty[$0] == nil }
        if !todo.isEmpty {
            // A staged block is this file's own earlier buffer, whose base is recorded already.
            for idx in todo where st.staged[idx] == nil { st.noteBase(idx) }
            let bases = todo.map { idx -> (BlockRef, Int)? in
                guard let r = st.staged[idx] ?? st.blocks[idx] else { return nil }
                // Only the part inside the file's current size is content.
                let limit = Int(max(0, min(Int64(r.len), st.size - Int64(idx) * Int64(volume.blockSize))))
                return limit == 0 ? nil : (r, limit)
            }
            let loaded = Mutex<[Int: Result<Data, Error>]>([:])
            let chunks = volume.chunks
            DispatchQueue.concurrentPerform(iterations: todo.count) { i in
                guard let (r, limit) = bases[i] else { return }
                let result = Result { try chunks.read(r.chunk).prefix(limit) }
                loaded.withLock { $0[i] = result }
            }
            let results = loaded.withLock { $0 }
            for (i, idx) in todo.enumerated() { st.dirty[idx] = try results[i]?.get() ?? Data() }
        }
        for idx in idxs {
            guard let ps = st.patches.removeValue(forKey: idx) else { continue }
            var buf = st.dirty.removeValue(forKey: idx) ?? Data()
            for p in ps {
                buf.apply(p.bytes, at: p.offset)
                st.patchBytes -= p.bytes.count
            }
            st.dirty[idx] = buf
        }
    }

    /// Hands whole dirty blocks `idxs` to background stores, first waiting for the oldest while
    /// this file has `maxStoringBlocks` in flight. Without a write hold (its file could not be
    /// made) the blocks stay buffered: the write has already been taken, and the commit that
    /// stores them tries again and reports the error.
    private func startStoring(_ st: inout State, _ idxs: [Int], volume: Volume) {
        guard (try? holdChunks(&st, volume: volume)) != nil else { return }
        harvest(&st, wait: false)
        for idx in idxs {
            guard let data = st.dirty.removeValue(forKey: idx) else { continue }
            while st.storing.count >= Volume.maxStoringBlocks, let oldest = st.storing.values.min(by: { $0.seq < $1.seq }) {
                _ = oldest.wait()
                harvest(&st, wait: false)
            }
            st.storeSeq += 1
            st.storing[idx] = PendingChunk(data, seq: st.storeSeq, chunks: volume.chunks)
        }
    }

    /// Moves finished background stores to `staged` (all of them, waiting, when `wait`). A store
    /// that failed puts its bytes back in `dirty`, so that commit stores them again and reports
    /// the error if it happens again. Nothing is lost either way.
    func harvest(_ st: inout State, wait: Bool) {
        for (idx, p) in st.storing {
            guard let r = wait ? p.wait() : p.result else { continue }
            st.storing[idx] = nil
            switch r {
            case .success(let id): st.staged[idx] = BlockRef(chunk: id, len: p.data.count)
            case .failure: if st.dirty[idx] == nil { st.dirty[idx] = p.data }
            }
        }
    }

    /// Stores every buffered block as a chunk (not yet referenced by the catalog), after the
    /// background stores: a block one of them gave back is stored here, and none of them can land
    /// later over what this stages. Blocks that only have patches are read a group at a time
    /// (`maxDirtyBytes`), so random writes all over a large file never load it whole.
    private func spill(_ st: inout State, volume: Volume) throws {
        harvest(&st, wait: true)
        for idx in Array(st.filling.keys) { st.settleFill(idx) }
        let all = st.pendingBlocks.sorted()
        let group = max(1, Volume.maxDirtyBytes / volume.blockSize)
        for start in stride(from: 0, to: all.count, by: group) {
            let idxs = Array(all[start..<min(start + group, all.count)])
            try materialize(&st, idxs, volume: volume)
            let bufs = idxs.map { st.dirty[$0]! }
            if !bufs.isEmpty { try holdChunks(&st, volume: volume) }
            let ids = try volume.chunks.put(batch: bufs)
            for (i, idx) in idxs.enumerated() {
                if bufs[i].isEmpty { st.staged[idx] = nil } else { st.staged[idx] = BlockRef(chunk: ids[i], len: bufs[i].count) }
                st.dirty[idx] = nil
            }
        }
    }

    /// Makes buffered writes part of the catalog in one transaction, and says whether it wrote
    /// one (`durable`: then chunks and catalog are on stable storage).
    ///
    /// The writes take effect now, over the file as the catalog holds it inside the transaction,
    /// whoever changed it since this process loaded it (another process, or a path write): the
    /// size becomes the larger of the current size and the end of the furthest write, and a block
    /// written only in part whose stored content changed meanwhile is rebuilt from the current
    /// content with only the bytes written here laid over it. A reload another writer asked for
    /// stays pending: the commit itself does not bump the file's epoch (`Volume.notify`).
    @discardableResult
    func commit(volume: Volume, durable: Bool, origin: Int) throws -> Bool {
        try state.withLock { st in
            guard st.hasPending else {
                endHold(&st, volume: volume)
                return false
            }
            try spill(&st, volume: volume)
            let sync = durable || volume.durability == .full
            if sync { try volume.chunks.sync() }
            let bs = volume.blockSize
            let staged = st.staged
            let partial = staged.keys.filter { !st.coversBlock($0, blockSize: bs) }
                .map { idx in (idx, st.written[idx] ?? [0..<bs], st.bases[idx]) }
            let writtenEnd = st.writtenEnd
            let loadedSize = st.committedSize
            let mtime = st.pendingMtime ?? .now()
            let own = st.reserved
            let ino = self.ino
            let body = { (db: Database, events: inout [ChangeEvent]) throws -> (size: Int64, refs: [Int: BlockRef], changed: Bool)? in
                guard let a = try Catalog.attributes(db, ino) else { return nil }
                let size = max(a.size, writtenEnd)
                try volume.checkQuota(db, adding: size - a.size, ownReservation: own)
                var refs = staged.filter { Int64($0.key) * Int64(bs) < size }
                var changed = a.size != loadedSize
                var stored = false
                for (idx, ranges, base) in partial {
                    guard let ref = refs[idx] else { continue }
                    let now = BlockBase(ref: try Catalog.block(db, ino, idx), size: a.size)
                    guard now != base else { continue }
                    // Another writer changed this block (or the size around it) since it was read here.
                    changed = true
                    let merged = try OpenFile.overlay(try volume.chunks.read(ref.chunk), ranges, onto: now, idx, volume: volume)
                    refs[idx] = BlockRef(chunk: try volume.chunks.put(merged), len: merged.count)
                    stored = true
                }
                if stored && sync { try volume.chunks.sync() }
                for (idx, ref) in refs { try Catalog.setBlock(db, ino, idx, ref) }
                try Catalog.setSize(db, ino, size, now: mtime)
                try Catalog.addMeta(db, .usageBytes, size - a.size)
                events.append(.inode(ino))
                try ChangeJournal.record(db, .modify, ino: ino)
                return (size, refs, changed)
            }
            let outcome: (size: Int64, refs: [Int: BlockRef], changed: Bool)?
            do {
                outcome = try volume.mutate(origin: origin, durable: durable, committing: self, body)
            } catch let e as VolumeError {
                if case .quotaExceeded = e { drop(&st, volume: volume) }
                throw e
            }
            if let outcome {
                for (idx, ref) in outcome.refs { st.blocks[idx] = ref }
                st.committedSize = outcome.size
                st.size = outcome.size
                if outcome.changed {
                    // What else the other writer changed is read again before the next use, and
                    // the writer's own mount hears of it too: its kernel did not make this content.
                    st.loadedEpoch = -1
                    volume.notify([.inode(ino)], origin: 0, committing: self)
                }
            } else {
                st.committedSize = st.size
            }
            st.staged = [:]
            st.forgetWrites()
            st.pendingMtime = nil
            volume.reserved.withLock { $0 -= st.reserved }
            st.reserved = 0
            endHold(&st, volume: volume)
            return true
        }
    }

    /// Starts the file's write hold before it stores a chunk no catalog references yet, so that gc
    /// keeps those chunks however long the file stays open (see `WriteHolds`).
    private func holdChunks(_ st: inout State, volume: Volume) throws {
        if st.hold == nil { st.hold = try volume.beginHold() }
    }

    /// Ends the write hold once the stored chunks are referenced, or dropped.
    private func endHold(_ st: inout State, volume: Volume) {
        if let h = st.hold { volume.endHold(h) }
        st.hold = nil
    }

    /// Forgets buffered writes and returns their reservation.
    private func drop(_ st: inout State, volume: Volume) {
        st.forgetWrites()
        st.dirty = [:]
        st.filling = [:]
        st.patches = [:]
        st.patchBytes = 0
        st.storing = [:]
        st.staged = [:]
        st.size = st.committedSize
        st.pendingMtime = nil
        volume.reserved.withLock { $0 -= st.reserved }
        st.reserved = 0
        endHold(&st, volume: volume)
    }

    /// Called on the last release: returns any reservation still held.
    func discard(volume: Volume) { state.withLock { drop(&$0, volume: volume) } }
}

extension OpenFile.State {
    /// Moves block `idx`'s `BlockFill`, if any, into `dirty`, for any use but appending to it.
    mutating func settleFill(_ idx: Int) {
        if let fill = filling.removeValue(forKey: idx) { dirty[idx] = fill.take() }
    }

    /// Every block with buffered bytes (whole or as patches).
    var pendingBlocks: [Int] { Array(Set(dirty.keys).union(patches.keys)) }

    /// Whether block `idx` has stored content inside the file (so a partial write must keep it).
    func hasStoredContent(_ idx: Int, blockSize: Int) -> Bool {
        (staged[idx] ?? blocks[idx]) != nil && Int64(idx) * Int64(blockSize) < size
    }
}

extension Data {
    /// Copies `bytes` to `offset`, zero-filling any gap past the current end (0-based `self`).
    mutating func apply(_ bytes: Data, at offset: Int) {
        if count < offset + bytes.count { count = offset + bytes.count }
        withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { from in
                guard let base = from.baseAddress, from.count > 0 else { return }
                (dst.baseAddress! + offset).copyMemory(from: base, byteCount: from.count)
            }
        }
    }
}
