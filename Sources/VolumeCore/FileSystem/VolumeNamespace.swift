// Namespace operations of the core: create, mkdir, symlink, link, unlink, rmdir, rename, setattr, xattrs.
import Foundation
import GRDB

extension Volume {
    static func validName(_ name: Data) throws {
        guard !name.isEmpty else { throw VolumeError.invalidPath("empty file name") }
        guard name.count <= VolumePath.maxNameLength else {
            throw VolumeError.nameTooLong("'\(String(decoding: name.prefix(40), as: UTF8.self))...' is \(name.count) bytes, the limit is 255")
        }
        guard name != Data(".".utf8), name != Data("..".utf8), !name.contains(0), !name.contains(UInt8(ascii: "/")) else {
            throw VolumeError.invalidPath("'\(String(decoding: name, as: UTF8.self))' is not a valid file name")
        }
    }

    static func directory(_ db: Database, _ ino: UInt64) throws -> Attributes {
        guard let a = try Catalog.attributes(db, ino) else { throw VolumeError.notFound("inode \(ino)") }
        guard a.kind == .directory else { throw VolumeError.notADirectory("inode \(ino)") }
        return a
    }

    /// Creates a file, FIFO, socket, device node, directory or symlink named `name` in `parent`.
    /// `rdev` is a device node's device number (kept for `stat` only: the node is never opened as a
    /// device); other kinds ignore it. Fails with `alreadyExists` when the name is taken.
    public func create(parent: UInt64, name: Data, kind: FileKind, mode: UInt32, caller: Caller,
                       rdev: UInt64 = 0, target: Data? = nil) throws -> Attributes {
        try Self.validName(name)
        let rdev = kind.isDevice ? rdev : 0
        if kind == .symlink {
            guard let t = target, !t.isEmpty, t.count <= VolumePath.maxLength, !t.contains(0) else {
                throw VolumeError.invalidArgument("a symlink target must be 1 to 4096 bytes with no NUL")
            }
        }
        return try mutate(origin: caller.origin) { db, events in
            let p = try Self.directory(db, parent)
            let now = Nanos.now()
            var gid = caller.gid
            var mode = mode
            if p.mode & 0o2000 != 0 { // setgid directory: new entries inherit its group
                gid = p.gid
                if kind == .directory { mode |= 0o2000 }
            }
            let a = try Catalog.insertInode(db, kind: kind, mode: mode, caller: Caller(uid: caller.uid, gid: gid),
                                            rdev: rdev, target: target, now: now)
            // A taken name fails here (the entry's primary key) with alreadyExists, before the cap
            // is checked, as a lookup first did; the change's rollback takes the inode back.
            try Catalog.insertEntry(db, parent: parent, name: name, ino: a.ino)
            let bytes = Int64(target?.count ?? 0)
            try checkQuota(db, adding: bytes)
            try Catalog.touch(db, parent, now: now)
            if kind == .directory { try Catalog.addLinks(db, parent, 1, now: now) }
            try Catalog.addMeta(db, .usageBytes, bytes)
            if kind == .file { try Catalog.addMeta(db, .fileCount, 1) }
            events += [.entry(parent: parent, name: name), .inode(parent)]
            try ChangeJournal.record(db, .create, parent: parent, name: name)
            return a
        }
    }

    /// Adds a hard link `newParent/newName` to the non-directory `ino`.
    public func link(_ ino: UInt64, newParent: UInt64, newName: Data, caller: Caller) throws -> Attributes {
        try Self.validName(newName)
        return try mutate(origin: caller.origin) { db, events in
            guard let a = try Catalog.attributes(db, ino) else { throw VolumeError.notFound("inode \(ino)") }
            guard a.kind != .directory else { throw VolumeError.permissionDenied("cannot hard-link a directory") }
            _ = try Self.directory(db, newParent)
            if try Catalog.lookup(db, parent: newParent, name: newName) != nil {
                throw VolumeError.alreadyExists(String(decoding: newName, as: UTF8.self))
            }
            guard a.nlink < 65000 else { throw VolumeError.tooManyLinks("inode \(ino)") }
            let now = Nanos.now()
            try Catalog.insertEntry(db, parent: newParent, name: newName, ino: ino)
            try Catalog.addLinks(db, ino, 1, now: now)
            try Catalog.touch(db, newParent, now: now)
            try db.execute(sql: "DELETE FROM orphan WHERE ino = ?", arguments: [Int64(ino)])
            localOrphans.withLock { _ = $0.remove(ino) }
            events += [.entry(parent: newParent, name: newName), .inode(ino), .inode(newParent)]
            try ChangeJournal.record(db, .create, parent: newParent, name: newName)
            return try Catalog.attributes(db, ino)!
        }
    }

    /// Removes the non-directory entry `parent/name`. An open file stays readable and writable
    /// through its handles until the last one is released.
    public func unlink(parent: UInt64, name: Data, caller: Caller) throws {
        try mutate(origin: caller.origin) { db, events in
            // Only a directory has entries: the parent is checked when the name is not found.
            guard let a = try Catalog.lookupAttributes(db, parent: parent, name: name) else {
                _ = try Self.directory(db, parent)
                throw VolumeError.notFound(String(decoding: name, as: UTF8.self))
            }
            guard a.kind != .directory else { throw VolumeError.isADirectory(String(decoding: name, as: UTF8.self)) }
            let now = Nanos.now()
            try Catalog.deleteEntry(db, parent: parent, name: name)
            try Catalog.addLinks(db, a.ino, -1, now: now)
            try Catalog.touch(db, parent, now: now)
            var unlinked = a
            unlinked.nlink -= 1
            unlinked.ctime = now
            try dropIfUnlinked(db, unlinked)
            events += [.entry(parent: parent, name: name), .inode(a.ino), .inode(parent)]
            try ChangeJournal.record(db, .delete, parent: parent, name: name)
        }
    }

    /// Removes the empty directory `parent/name`.
    public func rmdir(parent: UInt64, name: Data, caller: Caller) throws {
        try mutate(origin: caller.origin) { db, events in
            _ = try Self.directory(db, parent)
            guard let a = try Catalog.lookupAttributes(db, parent: parent, name: name) else {
                throw VolumeError.notFound(String(decoding: name, as: UTF8.self))
            }
            guard a.kind == .directory else { throw VolumeError.notADirectory(String(decoding: name, as: UTF8.self)) }
            guard try !Catalog.hasChildren(db, a.ino) else {
                throw VolumeError.directoryNotEmpty(String(decoding: name, as: UTF8.self))
            }
            let now = Nanos.now()
            try Catalog.deleteEntry(db, parent: parent, name: name)
            try Catalog.addLinks(db, parent, -1, now: now)
            try Catalog.touch(db, parent, now: now)
            try Catalog.deleteInode(db, a)
            events += [.entry(parent: parent, name: name), .inode(a.ino), .inode(parent)]
            try ChangeJournal.record(db, .delete, parent: parent, name: name)
        }
    }

    /// Whether directory `ino` is `ancestor` or lies below it.
    private func isWithin(_ db: Database, _ ino: UInt64, _ ancestor: UInt64) throws -> Bool {
        var cur = ino
        var steps = 0
        while true {
            if cur == ancestor { return true }
            if cur == Catalog.rootIno { return false }
            guard let p = try Catalog.parentEntry(db, of: cur)?.parent else { return false }
            cur = p
            steps += 1
            if steps > 100_000 { throw VolumeError.corrupt("directory cycle at inode \(ino)") }
        }
    }

    /// Renames `parent/name` to `newParent/newName` with POSIX semantics.
    public func rename(parent: UInt64, name: Data, newParent: UInt64, newName: Data, mode: RenameMode = .replace,
                       caller: Caller) throws {
        try Self.validName(newName)
        try mutate(origin: caller.origin) { db, events in
            _ = try Self.directory(db, parent)
            _ = try Self.directory(db, newParent)
            guard let src = try Catalog.lookupAttributes(db, parent: parent, name: name) else {
                throw VolumeError.notFound(String(decoding: name, as: UTF8.self))
            }
            let dst = try Catalog.lookupAttributes(db, parent: newParent, name: newName)
            if parent == newParent && name == newName { return }
            if src.kind == .directory, try isWithin(db, newParent, src.ino) {
                throw VolumeError.invalidArgument("cannot move a directory into itself")
            }
            let now = Nanos.now()
            events += [.entry(parent: parent, name: name), .entry(parent: newParent, name: newName),
                       .inode(parent), .inode(newParent), .inode(src.ino)]
            switch mode {
            case .exchange:
                guard let dst else { throw VolumeError.notFound(String(decoding: newName, as: UTF8.self)) }
                if dst.kind == .directory, try isWithin(db, parent, dst.ino) {
                    throw VolumeError.invalidArgument("cannot move a directory into itself")
                }
                try Catalog.updateEntry(db, parent: parent, name: name, ino: dst.ino)
                try Catalog.updateEntry(db, parent: newParent, name: newName, ino: src.ino)
                if parent != newParent {
                    let d = (src.kind == .directory ? 1 : 0) - (dst.kind == .directory ? 1 : 0)
                    if d != 0 {
                        try Catalog.addLinks(db, newParent, d, now: now)
                        try Catalog.addLinks(db, parent, -d, now: now)
                    }
                }
                try Catalog.touch(db, src.ino, mtime: false, now: now)
                try Catalog.touch(db, dst.ino, mtime: false, now: now)
                events.append(.inode(dst.ino))
                try ChangeJournal.rename(db, from: (newParent, newName), to: (parent, name))
            case .noReplace, .replace:
                if let dst {
                    if mode == .noReplace { throw VolumeError.alreadyExists(String(decoding: newName, as: UTF8.self)) }
                    if dst.ino == src.ino { return } // two links to one inode: POSIX says do nothing
                    if src.kind == .directory {
                        guard dst.kind == .directory else { throw VolumeError.notADirectory(String(decoding: newName, as: UTF8.self)) }
                        guard try !Catalog.hasChildren(db, dst.ino) else {
                            throw VolumeError.directoryNotEmpty(String(decoding: newName, as: UTF8.self))
                        }
                    } else if dst.kind == .directory {
                        throw VolumeError.isADirectory(String(decoding: newName, as: UTF8.self))
                    }
                    try Catalog.deleteEntry(db, parent: newParent, name: newName)
                    if dst.kind == .directory {
                        try Catalog.addLinks(db, newParent, -1, now: now)
                        try Catalog.deleteInode(db, dst)
                    } else {
                        try Catalog.addLinks(db, dst.ino, -1, now: now)
                        try dropIfUnlinked(db, dst.ino)
                    }
                    events.append(.inode(dst.ino))
                }
                try Catalog.deleteEntry(db, parent: parent, name: name)
                try Catalog.insertEntry(db, parent: newParent, name: newName, ino: src.ino)
                if src.kind == .directory && parent != newParent {
                    try Catalog.addLinks(db, parent, -1, now: now)
                    try Catalog.addLinks(db, newParent, 1, now: now)
                }
                try Catalog.touch(db, src.ino, mtime: false, now: now)
            }
            try Catalog.touch(db, parent, now: now)
            if newParent != parent { try Catalog.touch(db, newParent, now: now) }
            try ChangeJournal.rename(db, from: (parent, name), to: (newParent, newName))
        }
    }

    /// Changes mode, owner, size and times. A size change flushes buffered writes first.
    public func setattr(_ ino: UInt64, _ changes: AttributeChanges, caller: Caller) throws -> Attributes {
        if let size = changes.size { try truncate(ino, to: size, caller: caller) }
        let rest = AttributeChanges(mode: changes.mode, uid: changes.uid, gid: changes.gid, atime: changes.atime, mtime: changes.mtime)
        if rest != AttributeChanges() {
            if rest.mtime != nil { try commitOpenFile(ino, origin: caller.origin) }
            try mutate(origin: caller.origin) { db, events in
                guard let a = try Catalog.attributes(db, ino) else { throw VolumeError.notFound("inode \(ino)") }
                let now = Nanos.now()
                func resolve(_ t: TimeChange?, _ old: Nanos) -> Nanos {
                    switch t { case .none: return old; case .now: return now; case .at(let v): return v }
                }
                var mode = rest.mode.map { $0 & 0o7777 } ?? a.mode
                // chown by a non-root caller clears setuid/setgid, as the kernel does on local file systems
                if (rest.uid != nil || rest.gid != nil) && a.kind != .directory && caller.uid != 0 { mode &= ~UInt32(0o6000) }
                try Catalog.setAttributes(db, ino, mode: mode, uid: rest.uid ?? a.uid, gid: rest.gid ?? a.gid,
                                          atime: resolve(rest.atime, a.atime), mtime: resolve(rest.mtime, a.mtime), ctime: now)
                events.append(.inode(ino))
                try ChangeJournal.record(db, .modify, ino: ino)
            }
        }
        return try getattr(ino)
    }

    // MARK: Extended attributes

    public func getxattr(_ ino: UInt64, name: String) throws -> Data {
        guard let v = try quickRead({ try Catalog.xattr($0, ino, name) }) else { throw VolumeError.noSuchAttribute(name) }
        return v
    }

    public func listxattr(_ ino: UInt64) throws -> [String] {
        try quickRead { db in try String.fetchAll(db, sql: "SELECT name FROM xattr WHERE ino = ? ORDER BY name", arguments: [Int64(ino)]) }
    }

    /// Sets an extended attribute; `create` fails if it exists, `replace` fails if it does not.
    public func setxattr(_ ino: UInt64, name: String, value: Data, create: Bool = false, replace: Bool = false,
                         caller: Caller) throws {
        guard !name.isEmpty, name.utf8.count <= 255 else { throw VolumeError.outOfRange("xattr name must be 1 to 255 bytes") }
        guard value.count <= 65536 else { throw VolumeError.outOfRange("xattr value is over 64 KiB") }
        try mutate(origin: caller.origin) { db, events in
            guard try Catalog.attributes(db, ino) != nil else { throw VolumeError.notFound("inode \(ino)") }
            let exists = try Catalog.xattr(db, ino, name) != nil
            if create && exists { throw VolumeError.alreadyExists("xattr \(name)") }
            if replace && !exists { throw VolumeError.noSuchAttribute(name) }
            try db.execute(sql: "INSERT OR REPLACE INTO xattr (ino, name, value) VALUES (?, ?, ?)", arguments: [Int64(ino), name, value])
            try Catalog.touch(db, ino, mtime: false, now: .now())
            events.append(.inode(ino))
        }
    }

    public func removexattr(_ ino: UInt64, name: String, caller: Caller) throws {
        try mutate(origin: caller.origin) { db, events in
            try db.execute(sql: "DELETE FROM xattr WHERE ino = ? AND name = ?", arguments: [Int64(ino), name])
            guard db.changesCount > 0 else { throw VolumeError.noSuchAttribute(name) }
            try Catalog.touch(db, ino, mtime: false, now: .now())
            events.append(.inode(ino))
        }
    }
}
