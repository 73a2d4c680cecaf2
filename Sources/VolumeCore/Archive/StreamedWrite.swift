// The one streaming write of a whole file: what `files put`, `upload -`, the daemon's PUT and a signed PUT all call.
import Foundation

extension Volume {
    /// What a whole-file write finds before it reads a byte: the mode of the file it will replace (nil
    /// when nothing is there). Throws `notFound`/`notADirectory` when the parent is missing or not a
    /// directory (unless `createParents`), and `isADirectory` when `path` is a directory or the root.
    public func prepareStreamedWrite(_ path: VolumePath, createParents: Bool) throws -> UInt32? {
        guard !path.isRoot else { throw VolumeError.isADirectory("/ is the volume root; give a file path") }
        if !createParents {
            let parent = try stat(path.parent.description)
            guard parent.type == "dir" else { throw VolumeError.notADirectory(path.parent.description) }
        }
        guard let e = try? stat(path.description) else { return nil }
        if e.type == "dir" { throw VolumeError.isADirectory(path.description) }
        return UInt32(e.mode, radix: 8) ?? 0o644
    }

    /// Creates or replaces the file at `path` with the bytes of `source`, a one-file import source named
    /// `path.name` (its bytes arrive as they are read: never held whole). The bytes are stored as they
    /// come and the file appears in one commit at the end, cap-checked, with missing parents made; an
    /// error, a short or cut source, or the cap leave the old content. The volume's write lock is not
    /// held while the source is slow (a client streaming, a pipe). Returns the import's report: its
    /// `bytes` is the file's size.
    @discardableResult
    public func writeFile(_ path: VolumePath, streaming source: ImportSource,
                          options: TransferOptions = TransferOptions()) throws -> ImportReport {
        guard !path.isRoot else { throw VolumeError.isADirectory("/ is the volume root; give a file path") }
        var options = options
        options.holdWriteLockWhenEmpty = false
        return try asOneFile { try importTree(from: source, into: path.parent.description, options: options) }
    }

    /// Runs an import of one file (`body`) and reports the cap as for a file write: the import's
    /// "stopped at entry 1 'name'" says nothing there, and the one-step write (`writeFile(_:data:...)`)
    /// reports it without that.
    public func asOneFile<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch VolumeError.quotaExceeded(_, let usage, let cap, let requested) {
            throw VolumeError.quotaExceeded(volume: id, usage: usage, cap: cap, requested: requested)
        }
    }

    /// Creates or replaces the file at `path` with `data`, which the caller holds whole (a small HTTP
    /// PUT): the same outcome as `writeFile(_:streaming:options:)` of a source with these bytes (a new
    /// inode under the name, missing parents made, nothing written through a symlink, the cap checked
    /// before anything is stored and again in the commit), but in one step on the calling thread: the
    /// blocks stored and synced, then one catalog transaction. None of the streaming import's threads
    /// or records. An error or the cap leave the old content. Returns the file's size.
    @discardableResult
    public func writeFile(_ path: VolumePath, data: Data, mode: UInt32, owner: FileOwner, caller: Caller) throws -> Int64 {
        guard !path.isRoot else { throw VolumeError.isADirectory("/ is the volume root; give a file path") }
        let size = Int64(data.count)
        try Volume.checkFileEnd(offset: size, "write of \(path)")
        let dest = path.parent
        // The cap before anything is stored, counting what the file replaces (as the streaming import does).
        // A quick read: the commit checks the cap again, so these statements need not share a snapshot.
        try quickRead { db in
            var replaced: Int64 = 0
            var ino = Catalog.rootIno
            for (i, c) in path.components.enumerated() {
                guard let a = try Catalog.lookupAttributes(db, parent: ino, name: Data(c.utf8)) else { break }
                if i == path.components.count - 1 { replaced = a.kind == .file ? a.size : 0 }
                guard a.kind == .directory else { break }
                ino = a.ino
            }
            let usage = try Catalog.meta(db, .usageBytes) + reserved.withLock { $0 }
            let cap = try Catalog.meta(db, .capBytes)
            if size - replaced > 0, usage + size - replaced > cap {
                throw VolumeError.quotaExceeded(volume: id, usage: usage, cap: cap, requested: size - replaced)
            }
        }
        // Blocks of `blockSize` bytes; all-zero ones are holes, as in an import.
        var pieces: [Data] = []
        var indexes: [Int64] = []
        var off = data.startIndex, index: Int64 = 0
        while off < data.endIndex {
            let end = min(off + blockSize, data.endIndex)
            let piece = data[off..<end]
            if !isAllZero(piece) {
                pieces.append(piece)
                indexes.append(index)
            }
            off = end
            index += 1
        }
        // Stored, then referenced: held meanwhile, so gc keeps the chunks (see `WriteHolds`).
        let hold = try beginHold()
        defer { endHold(hold) }
        let ids = pieces.isEmpty ? [] : try chunks.put(batch: pieces)
        if durability == .full && !ids.isEmpty { try chunks.sync() }
        let meta = ImportMeta(components: [path.name], mode: mode, uid: owner.uid, gid: owner.gid, mtime: Nanos.now(), entry: 1)
        try mutate(origin: caller.origin) { db, events in
            let w = try CatalogImportWriter(db, volume: self, destination: dest, caller: caller)
            try w.file(meta, seq: 1, size: size, blocks: ids.count)
            for (k, id) in ids.enumerated() { try w.block(seq: 1, index: indexes[k], id: id, len: pieces[k].count) }
            try w.finish()
            events = w.events
        }
        return size
    }
}
