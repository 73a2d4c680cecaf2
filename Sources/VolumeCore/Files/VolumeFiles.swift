// Path-level files operations (the core of volume.files.*): resolve, stat, read, write, batch, mkdir, list, move, remove.
import Foundation
import GRDB

extension Volume {
    /// Most symlinks followed while resolving one path.
    static let maxSymlinkHops = 40

    /// Resolves `path` from the root. Intermediate symlinks are followed, and the last one when
    /// `followLast`; targets are read relative to the volume root, and `..` stops at the root, so
    /// no symlink leads outside the volume. Returns the canonical path and the attributes.
    func resolve(_ db: Database, _ path: VolumePath, followLast: Bool = true) throws -> (VolumePath, Attributes) {
        var stack: [(name: String, attrs: Attributes)] = []
        // The root's row is read only when the answer is the root: a lookup needs just its inode number.
        func root() throws -> Attributes {
            guard let r = try Catalog.attributes(db, Catalog.rootIno) else { throw VolumeError.corrupt("volume \(id) has no root") }
            return r
        }
        var pending = ArraySlice(path.components)
        var hops = 0
        while let comp = pending.first {
            pending = pending.dropFirst()
            if comp == "." || comp.isEmpty { continue }
            if comp == ".." { _ = stack.popLast(); continue }
            let cur = stack.last?.attrs
            guard cur.map({ $0.kind == .directory }) ?? true else { throw VolumeError.notADirectory(VolumePath(trusted: stack.map(\.name)).description) }
            guard let a = try Catalog.lookupAttributes(db, parent: cur?.ino ?? Catalog.rootIno, name: Data(comp.utf8)) else {
                throw VolumeError.notFound("/" + (stack.map(\.name) + [comp]).joined(separator: "/"))
            }
            if a.kind == .symlink && (!pending.isEmpty || followLast) {
                hops += 1
                guard hops <= Self.maxSymlinkHops else { throw VolumeError.symlinkLoop(path.description) }
                let target = String(decoding: try Catalog.target(db, a.ino) ?? Data(), as: UTF8.self)
                if target.hasPrefix("/") { stack = [] }
                pending = ArraySlice(target.split(separator: "/").map(String.init)) + pending
                continue
            }
            stack.append((comp, a))
        }
        var attrs = try stack.last?.attrs ?? root()
        if let f = openFiles.withLock({ $0[attrs.ino] }) { f.overlay(&attrs) }
        return (VolumePath(trusted: stack.map(\.name)), attrs)
    }

    /// Resolves the directory that holds `path`'s last component, creating missing directories when asked.
    private func parentDirectory(_ db: Database, _ path: VolumePath, create: Bool, caller: Caller,
                                 events: inout [ChangeEvent]) throws -> Attributes {
        do {
            let (_, a) = try resolve(db, path.parent)
            guard a.kind == .directory else { throw VolumeError.notADirectory(path.parent.description) }
            return a
        } catch VolumeError.notFound(let what) where create {
            _ = what
            return try makeDirectories(db, path.parent, caller: caller, events: &events)
        }
    }

    /// `mkdir -p` inside a transaction.
    private func makeDirectories(_ db: Database, _ path: VolumePath, caller: Caller, events: inout [ChangeEvent]) throws -> Attributes {
        var cur = try Catalog.attributes(db, Catalog.rootIno)!
        var walked: [String] = []
        for comp in path.components {
            walked.append(comp)
            if let a = try? resolve(db, VolumePath(trusted: walked)) {
                guard a.1.kind == .directory else { throw VolumeError.notADirectory(VolumePath(trusted: walked).description) }
                cur = a.1
                continue
            }
            let now = Nanos.now()
            let ino = try Catalog.insertInode(db, kind: .directory, mode: 0o755, caller: caller, now: now).ino
            try Catalog.insertEntry(db, parent: cur.ino, name: Data(comp.utf8), ino: ino)
            try Catalog.addLinks(db, cur.ino, 1, now: now)
            try Catalog.touch(db, cur.ino, now: now)
            events += [.entry(parent: cur.ino, name: Data(comp.utf8)), .inode(cur.ino)]
            try ChangeJournal.record(db, .create, path: Data(VolumePath(trusted: walked).description.utf8), now: now)
            cur = try Catalog.attributes(db, ino)!
        }
        return cur
    }

    // MARK: Reading

    /// `stat`: the entry at `path` (a symlink itself, not its target).
    /// Like `exists` and `attributes(at:)`, a quick read: each component is looked up at the latest
    /// commit rather than in one snapshot (a kernel path walk does the same), for a fraction of the cost.
    public func stat(_ path: String) throws -> EntryInfo {
        let p = try VolumePath(path)
        return try quickRead { db in
            let (canon, a) = try resolve(db, p, followLast: false)
            return EntryInfo(path: canon, attributes: a, target: a.kind == .symlink ? try Catalog.target(db, a.ino) : nil)
        }
    }

    /// Whether `path` exists (a dangling symlink exists).
    public func exists(_ path: String) throws -> Bool {
        let p = try VolumePath(path)
        return try quickRead { db in
            do { _ = try resolve(db, p, followLast: false); return true } catch VolumeError.notFound { return false } catch VolumeError.notADirectory { return false }
        }
    }

    /// The attributes at `path`, following symlinks.
    public func attributes(at path: String) throws -> Attributes {
        let p = try VolumePath(path)
        return try quickRead { db in try resolve(db, p).1 }
    }

    /// Reads a whole file, or `length` bytes from `offset`.
    public func readFile(_ path: String, offset: Int64 = 0, length: Int? = nil) throws -> Data {
        let a = try attributes(at: path)
        guard a.kind == .file else {
            throw a.kind == .directory ? VolumeError.isADirectory(path) : VolumeError.invalidArgument("\(path) is not a regular file")
        }
        guard offset >= 0 else { throw VolumeError.outOfRange("negative offset") }
        let n = length ?? Int(max(0, a.size - offset))
        return try read(a.ino, offset: offset, count: n)
    }

    /// Lists a directory: its entries (depth 1), or the whole tree below it down to `depth` levels.
    public func list(_ path: String, depth: Int = 1) throws -> [EntryInfo] {
        guard depth >= 1 else { throw VolumeError.invalidArgument("depth must be at least 1") }
        let p = try VolumePath(path)
        return try read { db in
            let (canon, a) = try resolve(db, p)
            guard a.kind == .directory else { throw VolumeError.notADirectory(path) }
            var out: [EntryInfo] = []
            func walk(_ dir: UInt64, _ at: VolumePath, _ level: Int) throws {
                for e in try Catalog.children(db, of: dir) {
                    let child = VolumePath(trusted: at.components + [e.nameString])
                    out.append(EntryInfo(path: child, attributes: e.attributes,
                                         target: e.attributes.kind == .symlink ? try Catalog.target(db, e.attributes.ino) : nil))
                    if e.attributes.kind == .directory && level < depth { try walk(e.attributes.ino, child, level + 1) }
                }
            }
            try walk(a.ino, canon, 1)
            return out
        }
    }

    /// Every regular file below `path`, with its attributes, in path order.
    func walkFiles(_ path: VolumePath) throws -> [(VolumePath, Attributes)] {
        try read { db in
            let (canon, a) = try resolve(db, path)
            if a.kind == .file { return [(canon, a)] }
            guard a.kind == .directory else { return [] }
            var out: [(VolumePath, Attributes)] = []
            func walk(_ dir: UInt64, _ at: VolumePath) throws {
                for e in try Catalog.children(db, of: dir) {
                    let child = VolumePath(trusted: at.components + [e.nameString])
                    if e.attributes.kind == .directory { try walk(e.attributes.ino, child) } else if e.attributes.kind == .file { out.append((child, e.attributes)) }
                }
            }
            try walk(a.ino, canon)
            return out
        }
    }

    // MARK: Writing

    /// Creates or replaces the file at `path` with `data`, atomically.
    @discardableResult
    public func writeFile(_ path: String, data: Data, createParents: Bool = false, mode: UInt32? = nil,
                          caller: Caller = .root) throws -> WriteInfo {
        try writeFiles([WriteEntry(path: path, data: data, mode: mode)], createParents: createParents, caller: caller)[0]
    }

    /// Writes every entry or none: one catalog transaction, checked against the cap before anything is stored.
    @discardableResult
    public func writeFiles(_ entries: [WriteEntry], createParents: Bool = false, caller: Caller = .root) throws -> [WriteInfo] {
        guard !entries.isEmpty else { return [] }
        let paths = try entries.map { e -> VolumePath in
            let p = try VolumePath(e.path)
            guard !p.isRoot else { throw VolumeError.isADirectory("/ is the volume root, not a file") }
            return p
        }
        guard Set(paths).count == paths.count else { throw VolumeError.invalidArgument("a batch names the same path twice") }
        // Writes buffered here into these files come first (as `truncate` orders them).
        try commitOpenFiles(at: paths, origin: caller.origin)
        // Check the cap before storing anything.
        _ = try read { db -> Int64 in
            var parents: [VolumePath: Attributes?] = [:]
            var total: Int64 = 0
            for (i, p) in paths.enumerated() {
                var old: Int64 = 0
                if let dir = try parents[p.parent] ?? { let d = try? resolve(db, p.parent).1; parents[p.parent] = d; return d }(),
                   dir.kind == .directory, var a = try Catalog.lookupAttributes(db, parent: dir.ino, name: Data(p.name.utf8)) {
                    if a.kind == .symlink, let t = try? resolve(db, p).1 { a = t }
                    old = a.kind == .file ? a.size : 0
                }
                total += Int64(entries[i].data.count) - old
            }
            try checkQuota(db, adding: total)
            return total
        }
        // Store the chunks, then reference them.
        var pieces: [Data] = []
        var counts: [Int] = []
        for e in entries {
            var n = 0
            var off = e.data.startIndex
            while off < e.data.endIndex {
                let end = min(off + blockSize, e.data.endIndex)
                pieces.append(e.data[off..<end])
                off = end
                n += 1
            }
            counts.append(n)
        }
        // Stored, then referenced: held meanwhile, so gc keeps the chunks (see `WriteHolds`).
        let hold = try beginHold()
        defer { endHold(hold) }
        let ids = try chunks.put(batch: pieces)
        if durability == .full { try chunks.sync() }
        return try mutate(origin: caller.origin) { db, events in
            var k = 0
            var out: [WriteInfo] = []
            var usage: Int64 = 0
            var files: Int64 = 0
            var parents: [VolumePath: Attributes] = [:]
            var touched: Set<UInt64> = []
            let now = Nanos.now()
            for (i, p) in paths.enumerated() {
                let dir: Attributes
                if let d = parents[p.parent] { dir = d } else {
                    dir = try parentDirectory(db, p, create: createParents, caller: caller, events: &events)
                    parents[p.parent] = dir
                }
                let name = Data(p.name.utf8)
                let data = entries[i].data
                var target = try Catalog.lookupAttributes(db, parent: dir.ino, name: name)
                if let t = target, t.kind == .symlink { target = try resolve(db, p).1 }
                let ino: UInt64
                if let t = target {
                    guard t.kind == .file else {
                        throw t.kind == .directory ? VolumeError.isADirectory(p.description) : VolumeError.invalidArgument("\(p) is not a regular file")
                    }
                    ino = t.ino
                    try Catalog.deleteBlocks(db, ino, from: 0)
                    usage -= t.size
                    if let m = entries[i].mode {
                        try db.execute(sql: "UPDATE inode SET mode = ? WHERE ino = ?", arguments: [Int64(m & 0o7777), Int64(ino)])
                    }
                    try Catalog.setSize(db, ino, Int64(data.count), now: now)
                } else {
                    ino = try Catalog.insertInode(db, kind: .file, mode: entries[i].mode ?? 0o644, caller: caller,
                                                  size: Int64(data.count), now: now).ino
                    try Catalog.insertEntry(db, parent: dir.ino, name: name, ino: ino)
                    touched.insert(dir.ino)
                    files += 1
                    events.append(.entry(parent: dir.ino, name: name))
                }
                for b in 0..<counts[i] {
                    try Catalog.setBlock(db, ino, b, BlockRef(chunk: ids[k], len: pieces[k].count))
                    k += 1
                }
                usage += Int64(data.count)
                events.append(.inode(ino))
                try ChangeJournal.record(db, target == nil ? .create : .modify, path: Data(p.description.utf8), now: now)
                out.append(WriteInfo(path: p.description, size: Int64(data.count)))
            }
            for d in touched {
                try Catalog.touch(db, d, now: now)
                events.append(.inode(d))
            }
            try checkQuota(db, adding: usage)
            try Catalog.addMeta(db, .usageBytes, usage)
            try Catalog.addMeta(db, .fileCount, files)
            return out
        }
    }

    /// Commits the buffered writes of the files at `paths` that are open in this process, so that
    /// a path-level write that replaces their content takes effect after them. (Handles in other
    /// processes commit theirs later, over the new content: see `OpenFile.commit`.)
    func commitOpenFiles(at paths: [VolumePath], origin: Int) throws {
        guard !openFiles.withLock({ $0.isEmpty }) else { return }
        let inos = try read { db in paths.compactMap { p in (try? resolve(db, p))?.1 }.filter { $0.kind == .file }.map(\.ino) }
        for ino in inos { try commitOpenFile(ino, origin: origin) }
    }

    /// Creates a directory; with `parents`, missing parents too and no error if it exists.
    /// Returns whether anything was created.
    @discardableResult
    public func makeDirectory(_ path: String, parents: Bool = false, mode: UInt32 = 0o755, caller: Caller = .root) throws -> Bool {
        let p = try VolumePath(path)
        return try mutate(origin: caller.origin) { db, events in
            if let (_, a) = try? resolve(db, p) {
                guard a.kind == .directory else { throw VolumeError.alreadyExists("\(p) exists and is not a directory") }
                if parents { return false }
                throw VolumeError.alreadyExists(p.description)
            }
            let parent = try parentDirectory(db, p, create: parents, caller: caller, events: &events)
            let now = Nanos.now()
            let ino = try Catalog.insertInode(db, kind: .directory, mode: mode, caller: caller, now: now).ino
            try Catalog.insertEntry(db, parent: parent.ino, name: Data(p.name.utf8), ino: ino)
            try Catalog.addLinks(db, parent.ino, 1, now: now)
            try Catalog.touch(db, parent.ino, now: now)
            events += [.entry(parent: parent.ino, name: Data(p.name.utf8)), .inode(parent.ino)]
            try ChangeJournal.record(db, .create, path: Data(p.description.utf8), now: now)
            return true
        }
    }

    /// Creates a symlink at `path` pointing to `target`.
    public func makeSymlink(_ path: String, target: String, caller: Caller = .root) throws {
        let p = try VolumePath(path)
        let parent = try read { db in try resolve(db, p.parent).1 }
        guard parent.kind == .directory else { throw VolumeError.notADirectory(p.parent.description) }
        _ = try create(parent: parent.ino, name: Data(p.name.utf8), kind: .symlink, mode: 0o777, caller: caller, target: Data(target.utf8))
    }

    /// Moves `from` to `to`. Without `overwrite`, an existing `to` is an error.
    public func move(_ from: String, to: String, overwrite: Bool = false, caller: Caller = .root) throws {
        let src = try VolumePath(from), dst = try VolumePath(to)
        guard !src.isRoot, !dst.isRoot else { throw VolumeError.invalidArgument("cannot move the volume root") }
        let (sp, dp) = try read { db -> (Attributes, Attributes) in
            _ = try resolve(db, src, followLast: false)
            return (try resolve(db, src.parent).1, try resolve(db, dst.parent).1)
        }
        try rename(parent: sp.ino, name: Data(src.name.utf8), newParent: dp.ino, newName: Data(dst.name.utf8),
                   mode: overwrite ? .replace : .noReplace, caller: caller)
    }

    /// Removes a file, symlink or empty directory; with `recursive`, a directory and everything in it.
    public func remove(_ path: String, recursive: Bool = false, caller: Caller = .root) throws {
        let p = try VolumePath(path)
        guard !p.isRoot else { throw VolumeError.invalidArgument("cannot remove the volume root; delete the volume instead") }
        try mutate(origin: caller.origin) { db, events in
            let parent = try resolve(db, p.parent).1
            let name = Data(p.name.utf8)
            guard let a = try Catalog.lookupAttributes(db, parent: parent.ino, name: name) else { throw VolumeError.notFound(p.description) }
            let now = Nanos.now()
            if a.kind == .directory {
                if try Catalog.hasChildren(db, a.ino) {
                    guard recursive else { throw VolumeError.directoryNotEmpty("\(p); pass recursive to remove it and its contents") }
                    try removeTree(db, a.ino, events: &events)
                }
                try Catalog.deleteEntry(db, parent: parent.ino, name: name)
                try Catalog.addLinks(db, parent.ino, -1, now: now)
                try Catalog.deleteInode(db, a)
            } else {
                try Catalog.deleteEntry(db, parent: parent.ino, name: name)
                try Catalog.addLinks(db, a.ino, -1, now: now)
                try dropIfUnlinked(db, a.ino)
            }
            try Catalog.touch(db, parent.ino, now: now)
            events += [.entry(parent: parent.ino, name: name), .inode(parent.ino), .inode(a.ino)]
            try ChangeJournal.record(db, .delete, path: Data(p.description.utf8), now: now)
        }
    }

    /// Deletes everything below directory `dir` (not `dir` itself).
    private func removeTree(_ db: Database, _ dir: UInt64, events: inout [ChangeEvent]) throws {
        let now = Nanos.now()
        for e in try Catalog.children(db, of: dir) {
            let a = e.attributes
            if a.kind == .directory { try removeTree(db, a.ino, events: &events) }
            try Catalog.deleteEntry(db, parent: dir, name: e.name)
            if a.kind == .directory {
                try Catalog.deleteInode(db, a)
            } else {
                try Catalog.addLinks(db, a.ino, -1, now: now)
                try dropIfUnlinked(db, a.ino)
            }
            events.append(.inode(a.ino))
        }
    }
}
