// Writes an import's directories and files as catalog rows inside one write transaction: the
// destination and missing parents created, existing files replaced, nothing written through a symlink.
import Foundation
import GRDB
import GRDBSQLite

/// A prepared statement stepped through the SQLite C API: an import inserts hundreds of thousands of
/// rows, and binding integers and blobs directly costs a fraction of building statement arguments.
final class RawStatement {
    let statement: Statement
    var handle: OpaquePointer { statement.sqliteStatement }

    /// The connection's cached statement for `sql`: a small import (one HTTP PUT) prepares nothing.
    init(_ db: Database, _ sql: String) throws { statement = try db.cachedStatement(sql: sql) }

    /// Binds with `bind`, steps once, resets. Returns the SQLite result code (SQLITE_DONE on success)
    /// and throws for anything but SQLITE_DONE or, when `allowConstraint`, a constraint violation.
    @discardableResult
    func run(_ db: Database, allowConstraint: Bool = false, _ bind: (OpaquePointer) -> Void) throws -> Int32 {
        let s = handle
        bind(s)
        let rc = sqlite3_step(s)
        sqlite3_reset(s)
        if rc == SQLITE_DONE { return rc }
        if allowConstraint && rc & 0xff == SQLITE_CONSTRAINT { return SQLITE_CONSTRAINT }
        throw VolumeError.sqlite(db, rc, "catalog insert")
    }
}

extension Data {
    /// Binds these bytes as a blob parameter (copied by SQLite).
    func bind(_ s: OpaquePointer, _ i: Int32) {
        withUnsafeBytes { raw in
            _ = sqlite3_bind_blob(s, i, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(raw.count), unsafeBitCast(-1, to: sqlite3_destructor_type.self))
        }
    }
}

/// Applies import records to one volume's catalog, inside the caller's write transaction.
final class CatalogImportWriter {
    private let db: Database
    private let volume: Volume
    private let caller: Caller
    private let now: Nanos
    private let maxOld: Int64
    private var destIno = Catalog.rootIno
    /// The directory chain of the last entry, relative to the destination.
    private var stack: [(name: String, ino: UInt64)] = []
    private var touchedOld: Set<UInt64> = []
    private var oldDirTimes: [UInt64: Nanos] = [:]
    /// Paths of the existing directories entries were linked into (nil inside: unreachable).
    private var oldPaths: [UInt64: Data?] = [:]
    private let insInode: RawStatement
    private let insEntry: RawStatement
    private let insBlock: RawStatement
    private let addLink: RawStatement
    private let setDir: RawStatement

    private(set) var usage: Int64 = 0
    private(set) var files = 0
    private(set) var directories = 0
    private(set) var replaced = 0
    private(set) var drops: [DroppedEntry] = []
    var events: [ChangeEvent] = []

    /// Resolves (creating when missing) the destination; never through a symlink.
    init(_ db: Database, volume: Volume, destination: VolumePath, caller: Caller) throws {
        self.db = db
        self.volume = volume
        self.caller = caller
        now = Nanos.now()
        maxOld = try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(ino) FROM inode")) ?? 0
        insInode = try RawStatement(db, "INSERT INTO inode (kind, mode, uid, gid, size, nlink, atime, mtime, ctime) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        insEntry = try RawStatement(db, "INSERT INTO dentry (parent, name, ino) VALUES (?, ?, ?)")
        insBlock = try RawStatement(db, "INSERT INTO block (ino, idx, chunk, len) VALUES (?, ?, ?, ?)")
        addLink = try RawStatement(db, "UPDATE inode SET nlink = nlink + 1 WHERE ino = ?")
        setDir = try RawStatement(db, "UPDATE inode SET mode = ?, uid = ?, gid = ?, mtime = ?, ctime = ? WHERE ino = ?")
        for c in destination.components {
            let name = Data(c.utf8)
            if let a = try Catalog.lookupAttributes(db, parent: destIno, name: name) {
                guard a.kind == .directory else {
                    throw a.kind == .symlink
                        ? VolumeError.invalidArgument("the destination \(destination) passes through a symbolic link; give the real directory")
                        : VolumeError.notADirectory("the destination \(destination) is not a directory")
                }
                destIno = a.ino
            } else {
                destIno = try makeDirectory(in: destIno, name: name, mode: 0o755, uid: caller.uid, gid: caller.gid, mtime: now)
            }
        }
    }

    private func isOld(_ ino: UInt64) -> Bool { Int64(ino) <= maxOld }

    private func newInode(_ kind: FileKind, mode: UInt32, uid: UInt32, gid: UInt32, size: Int64, mtime: Nanos) throws -> UInt64 {
        let now = self.now
        try insInode.run(db) { s in
            sqlite3_bind_int64(s, 1, Int64(kind.rawValue))
            sqlite3_bind_int64(s, 2, Int64(mode & 0o7777))
            sqlite3_bind_int64(s, 3, Int64(uid))
            sqlite3_bind_int64(s, 4, Int64(gid))
            sqlite3_bind_int64(s, 5, size)
            sqlite3_bind_int64(s, 6, kind == .directory ? 2 : 1)
            sqlite3_bind_int64(s, 7, mtime)
            sqlite3_bind_int64(s, 8, mtime)
            sqlite3_bind_int64(s, 9, now)
        }
        return UInt64(db.lastInsertedRowID)
    }

    /// Adds `parent/name -> ino`; when the name is taken, `existing` removes the old entry (or throws) first.
    private func link(_ parent: UInt64, _ name: Data, _ ino: UInt64, existing: (Attributes) throws -> Void) throws {
        func insert() throws -> Int32 {
            try insEntry.run(db, allowConstraint: true) { s in
                sqlite3_bind_int64(s, 1, Int64(parent))
                name.bind(s, 2)
                sqlite3_bind_int64(s, 3, Int64(ino))
            }
        }
        var replacedOne = false
        if try insert() != SQLITE_DONE {
            replacedOne = true
            guard let a = try Catalog.lookupAttributes(db, parent: parent, name: name) else {
                throw VolumeError.io("catalog insert failed: a constraint on \(String(decoding: name, as: UTF8.self))", errno: EIO)
            }
            try existing(a)
            guard try insert() == SQLITE_DONE else { throw VolumeError.io("catalog insert failed after replacing an entry", errno: EIO) }
        }
        if isOld(parent) {
            touchedOld.insert(parent)
            events.append(.entry(parent: parent, name: name))
            // One journal row per entry linked into a directory that existed before (a new
            // directory's row stands for everything the import puts below it).
            if oldPaths.index(forKey: parent) == nil { oldPaths.updateValue(try ChangeJournal.path(db, parent), forKey: parent) }
            if let dir = oldPaths[parent] ?? nil {
                try ChangeJournal.record(db, replacedOne ? .modify : .create, path: ChangeJournal.join(dir, name), now: now)
            }
        }
    }

    private func makeDirectory(in parent: UInt64, name: Data, mode: UInt32, uid: UInt32, gid: UInt32, mtime: Nanos,
                               existing: (Attributes) throws -> Void = { _ in }) throws -> UInt64 {
        let ino = try newInode(.directory, mode: mode, uid: uid, gid: gid, size: 0, mtime: mtime)
        try link(parent, name, ino, existing: existing)
        try addLink.run(db) { s in sqlite3_bind_int64(s, 1, Int64(parent)) }
        return ino
    }

    /// Unlinks a non-directory, or an empty directory, that an imported entry replaces.
    private func unlinkExisting(_ parent: UInt64, _ name: Data, _ a: Attributes, _ m: ImportMeta, asDirectory: Bool) throws {
        if a.kind == .directory {
            guard !asDirectory else { return }
            guard try !Catalog.hasChildren(db, a.ino) else {
                throw VolumeError.alreadyExists("entry \(m.entry) '\(m.path)': a non-empty directory of that name exists in the volume")
            }
            try Catalog.deleteEntry(db, parent: parent, name: name)
            try db.cachedStatement(sql: "UPDATE inode SET nlink = nlink - 1 WHERE ino = ?").execute(arguments: [Int64(parent)])
            try Catalog.deleteInode(db, a)
        } else {
            try Catalog.deleteEntry(db, parent: parent, name: name)
            try Catalog.addLinks(db, a.ino, -1, now: now)
            try volume.dropIfUnlinked(db, a.ino)
        }
        if isOld(a.ino) { events.append(.inode(a.ino)) }
        replaced += 1
    }

    /// The directory `comps` names (relative to the destination), created as needed; nil, with a
    /// drop, when it passes through a symlink in the volume.
    private func directory(_ comps: ArraySlice<String>, for m: ImportMeta) throws -> UInt64? {
        var common = 0
        while common < stack.count && common < comps.count && stack[common].name == comps[comps.startIndex + common] {
            common += 1
        }
        stack.removeLast(stack.count - common)
        for c in comps.dropFirst(common) {
            let parent = stack.last?.ino ?? destIno
            let name = Data(c.utf8)
            if let a = try Catalog.lookupAttributes(db, parent: parent, name: name) {
                let at = (stack.map(\.name) + [c]).joined(separator: "/")
                switch a.kind {
                case .directory:
                    stack.append((c, a.ino))
                    continue
                case .symlink:
                    drops.append(DroppedEntry(entry: m.entry, path: m.path, reason: "passes through the symbolic link '\(at)' in the volume"))
                    return nil
                default:
                    throw VolumeError.notADirectory("entry \(m.entry) '\(m.path)': '\(at)' is a \(a.kind.apiName) in the volume, not a directory")
                }
            }
            let ino = try makeDirectory(in: parent, name: name, mode: 0o755, uid: caller.uid, gid: caller.gid, mtime: now)
            stack.append((c, ino))
        }
        return stack.last?.ino ?? destIno
    }

    /// A directory of the archive: created, or an existing one takes its mode, owner and mtime.
    func directory(_ m: ImportMeta) throws {
        guard let parent = try directory(m.components.dropLast(), for: m), let last = m.components.last else { return }
        let name = Data(last.utf8)
        if let a = try Catalog.lookupAttributes(db, parent: parent, name: name), a.kind == .directory {
            let now = self.now
            try setDir.run(db) { s in
                sqlite3_bind_int64(s, 1, Int64(m.mode & 0o7777))
                sqlite3_bind_int64(s, 2, Int64(m.uid))
                sqlite3_bind_int64(s, 3, Int64(m.gid))
                sqlite3_bind_int64(s, 4, m.mtime)
                sqlite3_bind_int64(s, 5, now)
                sqlite3_bind_int64(s, 6, Int64(a.ino))
            }
            if isOld(a.ino) {
                oldDirTimes[a.ino] = m.mtime
                events.append(.inode(a.ino))
            }
            stack.append((last, a.ino))
        } else {
            let ino = try makeDirectory(in: parent, name: name, mode: m.mode, uid: m.uid, gid: m.gid, mtime: m.mtime) { a in
                try self.unlinkExisting(parent, name, a, m, asDirectory: true)
            }
            stack.append((last, ino))
        }
        directories += 1
    }

    /// Files whose blocks are still to come: sequence number -> (inode, or 0 when dropped; blocks left).
    private var open: [Int: (ino: UInt64, left: Int)] = [:]

    /// A regular file of `size` bytes whose `blocks` stored blocks follow through `block(...)`
    /// under the same sequence number (indexes not given are holes).
    func file(_ m: ImportMeta, seq: Int, size: Int64, blocks: Int) throws {
        var ino: UInt64 = 0
        if let parent = try directory(m.components.dropLast(), for: m), let last = m.components.last {
            let name = Data(last.utf8)
            ino = try newInode(.file, mode: m.mode, uid: m.uid, gid: m.gid, size: size, mtime: m.mtime)
            try link(parent, name, ino) { a in try self.unlinkExisting(parent, name, a, m, asDirectory: false) }
            usage += size
            files += 1
        }
        if blocks > 0 { open[seq] = (ino, blocks) }
    }

    /// Block `index` of file `seq` is chunk `id` of `len` bytes.
    func block(seq: Int, index: Int64, id: ChunkID, len: Int) throws {
        guard let f = open[seq] else { throw VolumeError.io("import records are out of order (block of file \(seq))", errno: EIO) }
        if f.left == 1 { open[seq] = nil } else { open[seq] = (f.ino, f.left - 1) }
        guard f.ino != 0 else { return }
        try insBlock.run(db) { s in
            sqlite3_bind_int64(s, 1, Int64(f.ino))
            sqlite3_bind_int64(s, 2, index)
            id.bytes.bind(s, 3)
            sqlite3_bind_int64(s, 4, Int64(len))
        }
    }

    /// Touches the existing directories that gained entries, restores archive mtimes of existing
    /// directories, checks the cap and updates the usage figures.
    func finish() throws {
        guard open.isEmpty else { throw VolumeError.io("import records are incomplete (\(open.count) files lack blocks)", errno: EIO) }
        for ino in touchedOld {
            try Catalog.touch(db, ino, now: now)
            events.append(.inode(ino))
        }
        for (ino, t) in oldDirTimes {
            try db.cachedStatement(sql: "UPDATE inode SET mtime = ? WHERE ino = ?").execute(arguments: [t, Int64(ino)])
        }
        try volume.checkQuota(db, adding: usage)
        try Catalog.addMeta(db, .usageBytes, usage)
        try Catalog.addMeta(db, .fileCount, Int64(files))
    }
}
