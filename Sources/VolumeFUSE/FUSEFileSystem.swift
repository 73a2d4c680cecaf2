// The request handlers of one mount: decode a libfuse low-level request, call the core, reply.
import CFuse3
import Foundation
import Logging
import Synchronization
import VolumeCore

#if canImport(Glibc)
import Glibc
#endif

/// One mount's file system as libfuse sees it. Every handler decodes its arguments, calls the
/// `MountView` (which holds every semantic), and replies exactly once; errors become their errno.
///
/// Thread-safe: libfuse calls the handlers from its worker threads concurrently.
final class FUSEFileSystem: Sendable {
    let view: MountView
    /// The tag this mount's changes carry, so its observer can skip them.
    let origin: Int
    let options: MountOptions
    let nodes = NodeTable()
    let handles = HandleTable()
    let logger: Logger
    /// Set once the session exists; handlers never run before.
    let invalidator: Invalidator
    /// The request loop, which may hand a write's data over without a copy.
    let loop: SessionLoop
    /// When "disk full" was last logged (uptime nanoseconds; 0: never).
    private let lastDiskFullLog = Atomic<UInt64>(0)
    static let diskFullLogInterval: UInt64 = 10

    init(view: MountView, options: MountOptions, origin: Int, logger: Logger) {
        self.view = view
        self.options = options
        self.origin = origin
        self.logger = logger
        self.invalidator = Invalidator(view: view, nodes: nodes, pollInterval: options.pollInterval, logger: logger)
        self.loop = SessionLoop(threads: options.maxThreads, logger: logger)
    }

    // MARK: Helpers

    /// Who sent the request, as the catalog records it (the owner mapping applied).
    @inline(__always) func caller(_ req: fuse_req_t) -> Caller {
        guard let ctx = fuse_req_ctx(req) else { return Caller(uid: 0, gid: 0, origin: origin) }
        let c = Caller(uid: ctx.pointee.uid, gid: ctx.pointee.gid, origin: origin)
        return options.ownerMapping?.stored(c) ?? c
    }

    /// Attributes as the kernel sees them (the owner mapping applied).
    @inline(__always) func kernelStat(_ a: Attributes) -> Glibc.stat { a.stat(presentedBy: options.ownerMapping) }

    func fail(_ req: fuse_req_t, _ error: Error) {
        // A database error keeps its cause too (SQLITE_FULL is ENOSPC, not EIO).
        let e = VolumeError.of(error)
        if e.errno == EIO { logger.error("I/O error: \(e)") }
        if e.errno == ENOSPC { logDiskFull(e) }
        fuse_reply_err(req, e.errno)
    }

    /// Logs that the disk is full, at most once every `diskFullLogInterval` seconds (each writer
    /// hears ENOSPC anyway; the log is for the operator, who must free space or run gc).
    private func logDiskFull(_ e: VolumeError) {
        let now = DispatchTime.now().uptimeNanoseconds
        let last = lastDiskFullLog.load(ordering: .relaxed)
        guard last == 0 || now - last >= Self.diskFullLogInterval * 1_000_000_000,
              lastDiskFullLog.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged else { return }
        logger.error("no space left on the data directory's disk; writers get ENOSPC until space is freed (volumectl gc frees old chunks): \(e)")
    }

    func entryParam(_ a: Attributes) -> fuse_entry_param {
        var e = fuse_entry_param()
        e.ino = a.ino
        e.generation = 0
        e.attr = kernelStat(a)
        e.attr_timeout = options.attrTimeout
        e.entry_timeout = options.entryTimeout
        return e
    }

    /// Replies with an entry and counts the lookup the kernel now holds.
    func replyEntry(_ req: fuse_req_t, _ a: Attributes, parent: UInt64, name: Data) {
        nodes.entered(a, parent: parent, name: name)
        var e = entryParam(a)
        if fuse_reply_entry(req, &e) != 0 { nodes.forget(a.ino, 1) }
    }

    static func name(_ p: UnsafePointer<CChar>) -> Data { Data(bytes: p, count: strlen(p)) }

    // MARK: Lookups

    func lookup(_ req: fuse_req_t, _ parent: UInt64, _ name: UnsafePointer<CChar>) {
        let n = Self.name(name)
        do {
            replyEntry(req, try view.lookup(parent: parent, name: n), parent: parent, name: n)
        } catch { fail(req, error) }
    }

    func forget(_ ino: UInt64, _ count: UInt64) { nodes.forget(ino, count) }

    func getattr(_ req: fuse_req_t, _ ino: UInt64) {
        do {
            let a = try view.getattr(ino)
            nodes.told(a)
            var st = kernelStat(a)
            fuse_reply_attr(req, &st, options.attrTimeout)
        } catch { fail(req, error) }
    }

    func setattr(_ req: fuse_req_t, _ ino: UInt64, _ attr: UnsafeMutablePointer<stat>, _ toSet: Int32) {
        let s = attr.pointee
        var c = AttributeChanges()
        if toSet & FUSE_SET_ATTR_MODE != 0 { c.mode = UInt32(s.st_mode) & 0o7777 }
        // chown names presented ids: stored through the owner mapping.
        if toSet & FUSE_SET_ATTR_UID != 0 { c.uid = options.ownerMapping?.uid(s.st_uid) ?? s.st_uid }
        if toSet & FUSE_SET_ATTR_GID != 0 { c.gid = options.ownerMapping?.gid(s.st_gid) ?? s.st_gid }
        if toSet & FUSE_SET_ATTR_SIZE != 0 { c.size = Int64(s.st_size) }
        if toSet & FUSE_SET_ATTR_ATIME_NOW != 0 { c.atime = .now } else if toSet & FUSE_SET_ATTR_ATIME != 0 { c.atime = .at(s.st_atim.nanos) }
        if toSet & FUSE_SET_ATTR_MTIME_NOW != 0 { c.mtime = .now } else if toSet & FUSE_SET_ATTR_MTIME != 0 { c.mtime = .at(s.st_mtim.nanos) }
        do {
            let a = try view.setattr(ino, c, caller: caller(req))
            nodes.told(a)
            var st = kernelStat(a)
            fuse_reply_attr(req, &st, options.attrTimeout)
        } catch { fail(req, error) }
    }

    func readlink(_ req: fuse_req_t, _ ino: UInt64) {
        do {
            var t = try view.readlink(ino)
            t.append(0)
            t.withUnsafeBytes { _ = fuse_reply_readlink(req, $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
        } catch { fail(req, error) }
    }

    // MARK: Creating and removing

    func make(_ req: fuse_req_t, _ parent: UInt64, _ name: UnsafePointer<CChar>, kind: FileKind, mode: UInt32,
              rdev: UInt64 = 0, target: Data? = nil) {
        let n = Self.name(name)
        do {
            let a = try view.create(parent: parent, name: n, kind: kind, mode: mode & 0o7777, caller: caller(req), rdev: rdev, target: target)
            replyEntry(req, a, parent: parent, name: n)
        } catch { fail(req, error) }
    }

    func mknod(_ req: fuse_req_t, _ parent: UInt64, _ name: UnsafePointer<CChar>, _ mode: mode_t, _ rdev: dev_t) {
        // Device nodes are stored as inert entries with their number: the mount is `nodev`, so the
        // kernel never opens one as a device (the Phase 1 import still drops them).
        let bits = UInt32(mode) & 0o170000
        guard let kind = bits == 0 ? .file : FileKind(modeBits: bits), kind != .symlink else {
            fuse_reply_err(req, EINVAL)
            return
        }
        make(req, parent, name, kind: kind, mode: UInt32(mode), rdev: UInt64(rdev))  // Volume.create keeps rdev for device nodes only
    }

    func mkdir(_ req: fuse_req_t, _ parent: UInt64, _ name: UnsafePointer<CChar>, _ mode: mode_t) {
        make(req, parent, name, kind: .directory, mode: UInt32(mode))
    }

    func symlink(_ req: fuse_req_t, _ link: UnsafePointer<CChar>, _ parent: UInt64, _ name: UnsafePointer<CChar>) {
        make(req, parent, name, kind: .symlink, mode: 0o777, target: Self.name(link))
    }

    func link(_ req: fuse_req_t, _ ino: UInt64, _ newParent: UInt64, _ newName: UnsafePointer<CChar>) {
        let n = Self.name(newName)
        do {
            replyEntry(req, try view.link(ino, newParent: newParent, newName: n, caller: caller(req)), parent: newParent, name: n)
        } catch VolumeError.permissionDenied {
            fuse_reply_err(req, EPERM)
        } catch { fail(req, error) }
    }

    func unlink(_ req: fuse_req_t, _ parent: UInt64, _ name: UnsafePointer<CChar>) {
        remove(req, parent, name) { try view.unlink(parent: parent, name: $0, caller: $1) }
    }

    func rmdir(_ req: fuse_req_t, _ parent: UInt64, _ name: UnsafePointer<CChar>) {
        remove(req, parent, name) { try view.rmdir(parent: parent, name: $0, caller: $1) }
    }

    /// Removes `parent/name` with `body`, then forgets the name the kernel no longer holds.
    private func remove(_ req: fuse_req_t, _ parent: UInt64, _ name: UnsafePointer<CChar>, _ body: (Data, Caller) throws -> Void) {
        let n = Self.name(name)
        do {
            try body(n, caller(req))
            nodes.dropEntry(parent: parent, name: n)
            fuse_reply_err(req, 0)
        } catch { fail(req, error) }
    }

    func rename(_ req: fuse_req_t, _ parent: UInt64, _ name: UnsafePointer<CChar>, _ newParent: UInt64,
                _ newName: UnsafePointer<CChar>, _ flags: UInt32) {
        let mode: RenameMode
        switch flags {
        case 0: mode = .replace
        case 1: mode = .noReplace // RENAME_NOREPLACE
        case 2: mode = .exchange // RENAME_EXCHANGE
        default:
            fuse_reply_err(req, EINVAL)
            return
        }
        let n = Self.name(name), nn = Self.name(newName)
        do {
            try view.rename(parent: parent, name: n, newParent: newParent, newName: nn, mode: mode, caller: caller(req))
            nodes.dropEntry(parent: parent, name: n)
            nodes.dropEntry(parent: newParent, name: nn)
            fuse_reply_err(req, 0)
        } catch { fail(req, error) }
    }

    // MARK: Files

    func open(_ req: fuse_req_t, _ ino: UInt64, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        let flags = fi.pointee.flags
        let acc = flags & O_ACCMODE
        do {
            let touched = try view.open(ino, write: acc != O_RDONLY, read: acc != O_WRONLY, truncate: flags & O_TRUNC != 0,
                                        caller: caller(req))
            // relatime changed the atime: the kernel's cached attributes are stale (never notify from here).
            if touched { invalidator.enqueue(.attributes(ino)) }
            fi.pointee.fh = handles.addFile(ino)
            fi.pointee.keep_cache = options.keepCache ? 1 : 0
            if fuse_reply_open(req, fi) != 0 { releaseHandle(fi.pointee.fh, caller: caller(req)) }
        } catch { fail(req, error) }
    }

    func create(_ req: fuse_req_t, _ parent: UInt64, _ name: UnsafePointer<CChar>, _ mode: mode_t,
                _ fi: UnsafeMutablePointer<fuse_file_info>) {
        let n = Self.name(name)
        let who = caller(req)
        do {
            let a = try view.create(parent: parent, name: n, kind: .file, mode: UInt32(mode) & 0o7777, caller: who)
            try view.openCreated(a)
            fi.pointee.fh = handles.addFile(a.ino)
            fi.pointee.keep_cache = options.keepCache ? 1 : 0
            nodes.entered(a, parent: parent, name: n)
            var e = entryParam(a)
            if fuse_reply_create(req, &e, fi) != 0 {
                nodes.forget(a.ino, 1)
                releaseHandle(fi.pointee.fh, caller: who)
            }
        } catch { fail(req, error) }
    }

    func read(_ req: fuse_req_t, _ ino: UInt64, _ size: Int, _ off: Int64) {
        do {
            let d = try view.read(ino, offset: off, count: size)
            d.withUnsafeBytes { _ = fuse_reply_buf(req, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
        } catch { fail(req, error) }
    }

    func write(_ req: fuse_req_t, _ ino: UInt64, _ buf: UnsafePointer<CChar>, _ size: Int, _ off: Int64) {
        do {
            // Page-aligned: the request's own buffer when the write fills it (1 MiB), else a copy.
            // A volume with 1 MiB blocks keeps that buffer as a whole block's bytes; with 4 MiB
            // blocks the core copies it once into the block being filled.
            var taken = loop.take(buf, count: size)
            let wasTaken = taken != nil
            let n = try view.write(ino, offset: off, data: taken ?? AlignedBytes.copy(buf, count: size), caller: caller(req))
            taken = nil
            if wasTaken { loop.noteKept(buf) }
            fuse_reply_write(req, n)
        } catch { fail(req, error) }
    }

    func flush(_ req: fuse_req_t, _ ino: UInt64) {
        do {
            try view.flush(ino, caller: caller(req))
            fuse_reply_err(req, 0)
        } catch { fail(req, error) }
    }

    func fsync(_ req: fuse_req_t, _ ino: UInt64) {
        do {
            try view.fsync(ino, caller: caller(req))
            fuse_reply_err(req, 0)
        } catch { fail(req, error) }
    }

    func release(_ req: fuse_req_t, _ ino: UInt64, _ fh: UInt64) {
        do {
            if handles.remove(fh) != nil { try view.release(ino, caller: caller(req)) }
            fuse_reply_err(req, 0)
        } catch { fail(req, error) }
    }

    /// Drops a handle outside a release request (a failed reply, or shutdown).
    func releaseHandle(_ fh: UInt64, caller: Caller) {
        guard case .file(let ino)? = handles.remove(fh) else { return }
        do { try view.release(ino, caller: caller) } catch { logger.error("release of inode \(ino) failed: \(error)") }
    }

    /// Releases every handle still open (the kernel may drop release requests at unmount): commits
    /// buffered writes and lets unlinked files go.
    func releaseAll() {
        for fh in handles.all() { releaseHandle(fh, caller: Caller(uid: 0, gid: 0, origin: origin)) }
    }

    /// Commits the buffered writes of every file open on this mount.
    func flushAll() {
        for ino in handles.openInodes() {
            do { try view.flush(ino, caller: Caller(uid: 0, gid: 0, origin: origin)) } catch {
                logger.error("commit of inode \(ino) failed: \(error)")
            }
        }
    }

    func fallocate(_ req: fuse_req_t, _ ino: UInt64, _ mode: Int32, _ off: Int64, _ len: Int64) {
        // Mode 0 grows the file (blocks are not preallocated: the volume counts apparent size);
        // FALLOC_FL_KEEP_SIZE alone changes nothing visible; other modes are not supported.
        let keepSize: Int32 = 0x01
        guard mode == 0 || mode == keepSize else { fuse_reply_err(req, EOPNOTSUPP); return }
        do {
            guard off >= 0, len > 0 else { throw VolumeError.invalidArgument("fallocate range") }
            // Past the largest file a volume can hold: EFBIG, whatever the mode.
            try Volume.checkFileEnd(offset: off, count: len, "fallocate")
            let a = try view.getattr(ino)
            if mode == 0, off + len > a.size {
                _ = try view.setattr(ino, AttributeChanges(size: off + len), caller: caller(req))
            } else if view.readOnly {
                throw VolumeError.readOnly("fallocate")
            }
            fuse_reply_err(req, 0)
        } catch { fail(req, error) }
    }

    // MARK: Directories

    func opendir(_ req: fuse_req_t, _ ino: UInt64, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        do {
            if try view.openDirectory(ino) { invalidator.enqueue(.attributes(ino)) }
            fi.pointee.fh = handles.addDirectory(ino)
            if fuse_reply_open(req, fi) != 0 { _ = handles.remove(fi.pointee.fh) }
        } catch { fail(req, error) }
    }

    func releasedir(_ req: fuse_req_t, _ fh: UInt64) {
        _ = handles.remove(fh)
        fuse_reply_err(req, 0)
    }

    func fsyncdir(_ req: fuse_req_t) {
        do {
            try view.syncAll()
            fuse_reply_err(req, 0)
        } catch { fail(req, error) }
    }

    /// readdir and readdirplus. Offsets are per-handle sequence numbers: 1 is ".", 2 is "..", then
    /// each listed name gets the next number when it is fetched; a request at offset `n` continues
    /// after entry `n` by name, so entries added or removed meanwhile never shift what comes next.
    /// Entries are fetched a thousand at a time and served from the handle (the kernel asks for a
    /// page of entries per request).
    func readdir(_ req: fuse_req_t, _ ino: UInt64, _ size: Int, _ off: Int64, _ fh: UInt64, plus: Bool) {
        guard let cursor = handles.cursor(fh) else { fuse_reply_err(req, EBADF); return }
        let buf = UnsafeMutablePointer<CChar>.allocate(capacity: max(size, 1))
        // Each name, NUL-terminated (names are at most 255 bytes).
        let cname = UnsafeMutablePointer<CChar>.allocate(capacity: VolumePath.maxNameLength + 1)
        defer {
            buf.deallocate()
            cname.deallocate()
        }
        var used = 0
        // Adds one entry; false when the buffer is full.
        func add(_ name: Data, _ a: Attributes, offset: Int64, counted: Bool) -> Bool {
            let len = min(name.count, VolumePath.maxNameLength)
            name.withUnsafeBytes { nb in UnsafeMutableRawPointer(cname).copyMemory(from: nb.baseAddress!, byteCount: len) }
            cname[len] = 0
            let room = size - used
            let need: Int
            if plus {
                var e = entryParam(a)
                if !counted { e.ino = 0 }
                need = fuse_add_direntry_plus(req, buf + used, room, cname, &e, off_t(offset))
            } else {
                var st = kernelStat(a)
                need = fuse_add_direntry(req, buf + used, room, cname, &st, off_t(offset))
            }
            guard need <= room else { return false }
            used += need
            return true
        }
        do {
            if off < 1 {
                var dot = try view.getattr(ino)
                dot.ino = ino
                guard add(Data(".".utf8), dot, offset: 1, counted: false) else { throw FullBuffer() }
            }
            if off < 2 {
                let p = try view.parent(of: ino)
                var dotdot = try view.getattr(p)
                dotdot.ino = p
                guard add(Data("..".utf8), dotdot, offset: 2, counted: false) else { throw FullBuffer() }
            }
            var next = off
            while true {
                // Plain listings read only names, inode numbers and kinds.
                let entries = try cursor.entries(after: next, limit: max(8, size / (plus ? 96 : 24)), full: plus) { after, full in
                    try view.readdir(ino, after: after, limit: DirectoryCursor.fetchSize, attributes: full)
                }
                if entries.isEmpty { break }
                for (offset, e) in entries {
                    if plus { nodes.entered(e.attributes, parent: ino, name: e.name) }
                    guard add(e.name, e.attributes, offset: offset, counted: true) else {
                        if plus { nodes.forget(e.attributes.ino, 1) }
                        throw FullBuffer()
                    }
                    next = offset
                }
            }
        } catch is FullBuffer {
        } catch {
            fail(req, error)
            return
        }
        fuse_reply_buf(req, buf, used)
    }

    private struct FullBuffer: Error {}

    // MARK: File system

    func statfs(_ req: fuse_req_t) {
        do {
            let s = try view.statfs()
            var v = statvfs()
            let frag: UInt = 4096
            v.f_bsize = UInt(s.blockSize)
            v.f_frsize = frag
            v.f_blocks = fsblkcnt_t(UInt(max(0, s.capBytes)) / frag)
            v.f_bfree = fsblkcnt_t(UInt(s.freeBytes) / frag)
            v.f_bavail = v.f_bfree
            let files: UInt = 1 << 32
            v.f_files = fsfilcnt_t(files)
            v.f_ffree = fsfilcnt_t(files - min(files, UInt(max(0, s.files))))
            v.f_favail = v.f_ffree
            v.f_namemax = UInt(VolumePath.maxNameLength)
            fuse_reply_statfs(req, &v)
        } catch { fail(req, error) }
    }

    // MARK: Extended attributes (the user namespace; others are not stored)

    private static func userNamespace(_ name: String) -> Bool { name.hasPrefix("user.") }

    func setxattr(_ req: fuse_req_t, _ ino: UInt64, _ name: UnsafePointer<CChar>, _ value: UnsafePointer<CChar>?,
                  _ size: Int, _ flags: Int32) {
        let n = String(cString: name)
        guard Self.userNamespace(n) else { fuse_reply_err(req, EOPNOTSUPP); return }
        let v = value.map { Data(bytes: $0, count: size) } ?? Data()
        do {
            try view.setxattr(ino, name: n, value: v, create: flags & 1 != 0, replace: flags & 2 != 0, // XATTR_CREATE, XATTR_REPLACE
                              caller: caller(req))
            fuse_reply_err(req, 0)
        } catch VolumeError.outOfRange(let what) {
            fuse_reply_err(req, what.contains("value") ? E2BIG : ERANGE)
        } catch { fail(req, error) }
    }

    func getxattr(_ req: fuse_req_t, _ ino: UInt64, _ name: UnsafePointer<CChar>, _ size: Int) {
        let n = String(cString: name)
        guard Self.userNamespace(n) else { fuse_reply_err(req, ENODATA); return }
        do {
            let v = try view.getxattr(ino, name: n)
            replySized(req, v, size)
        } catch { fail(req, error) }
    }

    func listxattr(_ req: fuse_req_t, _ ino: UInt64, _ size: Int) {
        do {
            var out = Data()
            for n in try view.listxattr(ino) {
                out.append(contentsOf: n.utf8)
                out.append(0)
            }
            replySized(req, out, size)
        } catch { fail(req, error) }
    }

    func removexattr(_ req: fuse_req_t, _ ino: UInt64, _ name: UnsafePointer<CChar>) {
        let n = String(cString: name)
        guard Self.userNamespace(n) else { fuse_reply_err(req, view.readOnly ? EROFS : ENODATA); return }
        do {
            try view.removexattr(ino, name: n, caller: caller(req))
            fuse_reply_err(req, 0)
        } catch { fail(req, error) }
    }

    /// The xattr reply protocol: size 0 asks for the length, a short buffer is ERANGE.
    private func replySized(_ req: fuse_req_t, _ d: Data, _ size: Int) {
        if size == 0 {
            fuse_reply_xattr(req, d.count)
        } else if size < d.count {
            fuse_reply_err(req, ERANGE)
        } else {
            d.withUnsafeBytes { _ = fuse_reply_buf(req, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
        }
    }
}

/// Open file and directory handles of one mount (the `fh` the kernel passes back).
final class HandleTable: Sendable {
    enum Handle {
        case file(UInt64)
        case directory(DirectoryCursor)
    }

    private let state = Mutex<(next: UInt64, map: [UInt64: Handle])>((1, [:]))

    func addFile(_ ino: UInt64) -> UInt64 { add(.file(ino)) }
    func addDirectory(_ ino: UInt64) -> UInt64 { add(.directory(DirectoryCursor())) }

    private func add(_ h: Handle) -> UInt64 {
        state.withLock { s in
            let fh = s.next
            s.next += 1
            s.map[fh] = h
            return fh
        }
    }

    func remove(_ fh: UInt64) -> Handle? { state.withLock { $0.map.removeValue(forKey: fh) } }

    /// File handles still open.
    func all() -> [UInt64] {
        state.withLock { s in s.map.compactMap { if case .file = $0.value { return $0.key } else { return nil } } }
    }

    var openFileCount: Int { all().count }

    /// The inodes of the files open on this mount.
    func openInodes() -> Set<UInt64> {
        state.withLock { s in Set(s.map.values.compactMap { if case .file(let ino) = $0 { return ino } else { return nil } }) }
    }

    /// The listing state of directory handle `fh`.
    func cursor(_ fh: UInt64) -> DirectoryCursor? {
        state.withLock { s in if case .directory(let c)? = s.map[fh] { return c } else { return nil } }
    }
}

/// Where a directory handle is in its listing: the names handed out by offset, and entries
/// fetched ahead (offsets `base`, `base + 1`, ... in name order).
final class DirectoryCursor: Sendable {
    private struct State {
        /// The name at each offset handed out, from offset 3 on (for a seek back to it). Offsets
        /// are handed out in order with no gaps, so an array indexed by `offset - 3` holds them.
        var names: [Data] = []
        var ahead: [DirectoryEntry] = []
        /// Whether `ahead` has every attribute (readdirplus), not just inode numbers and kinds.
        var aheadFull = false
        /// The offset of `ahead[0]`.
        var base: Int64 = 3
        /// Whether `ahead` runs to the end of the directory.
        var complete = false
        var nextOffset: Int64 = 3

        func name(at off: Int64) -> Data? {
            let i = Int(off - 3)
            return i >= 0 && i < names.count ? names[i] : nil
        }
    }

    private let state = Mutex(State())
    static let fetchSize = 1024

    /// Up to `limit` entries that follow offset `off` (2 or less: from the first name), fetching
    /// with `fetch(after name, full)` when none are buffered, or when `full` attributes are asked
    /// for and the buffer has only kinds. Empty at the end of the directory.
    func entries(after off: Int64, limit: Int, full: Bool = true,
                 fetch: (Data?, Bool) throws -> [DirectoryEntry]) throws -> DirectoryBatch {
        enum Found { case entries(DirectoryBatch), end, refetch(after: Data?) }
        func serve(_ s: State) -> DirectoryBatch {
            let i = Int(off + 1 - s.base)
            return DirectoryBatch(firstOffset: s.base + Int64(i), entries: s.ahead[i..<min(s.ahead.count, i + limit)])
        }
        let found: Found = try state.withLock { s in
            let first = s.base, end = s.base + Int64(s.ahead.count) // offsets [first, end)
            if !s.ahead.isEmpty, off + 1 >= first, off + 1 < end {
                if !full || s.aheadFull { return .entries(serve(s)) }
                if off <= 2 { return .refetch(after: nil) }
                guard let name = s.name(at: off) else { throw VolumeError.invalidArgument("readdir offset \(off)") }
                return .refetch(after: name)
            }
            if off + 1 == end, off > 2 || first == 3, !s.ahead.isEmpty || s.complete {
                if s.complete { return .end }
                return .refetch(after: s.ahead.last?.name)
            }
            if off <= 2 { return .refetch(after: nil) }
            guard let name = s.name(at: off) else { throw VolumeError.invalidArgument("readdir offset \(off)") }
            return .refetch(after: name)
        }
        switch found {
        case .entries(let e): return e
        case .end: return DirectoryBatch(firstOffset: 0, entries: [])
        case .refetch(let after):
            let fetched = try fetch(after, full)
            return state.withLock { s in
                s.base = s.nextOffset
                s.ahead = fetched
                s.aheadFull = full
                s.complete = fetched.count < Self.fetchSize
                s.names.append(contentsOf: fetched.lazy.map(\.name))
                s.nextOffset += Int64(fetched.count)
                return DirectoryBatch(firstOffset: s.base, entries: fetched[0..<min(fetched.count, limit)])
            }
        }
    }
}

/// Entries served by one readdir request, each with its offset: a slice of the cursor's buffer
/// (no copy of the entries into a new array per request).
struct DirectoryBatch: RandomAccessCollection {
    /// The offset of the first entry; the others follow one by one.
    let firstOffset: Int64
    let entries: ArraySlice<DirectoryEntry>

    var startIndex: Int { entries.startIndex }
    var endIndex: Int { entries.endIndex }
    subscript(i: Int) -> (Int64, DirectoryEntry) { (firstOffset + Int64(i - entries.startIndex), entries[i]) }
}

extension timespec {
    var nanos: Nanos { Int64(tv_sec) * 1_000_000_000 + Int64(tv_nsec) }
    init(nanos: Nanos) {
        let (q, r) = nanos.quotientAndRemainder(dividingBy: 1_000_000_000)
        self = r < 0 ? timespec(tv_sec: Int(q - 1), tv_nsec: Int(r + 1_000_000_000)) : timespec(tv_sec: Int(q), tv_nsec: Int(r))
    }
}

extension Attributes {
    /// As `struct stat`, with the owners `mapping` presents (as stored when nil).
    func stat(presentedBy mapping: OwnerMapping?) -> Glibc.stat {
        let a = mapping?.presented(self) ?? self
        return a.rawStat
    }

    /// As `struct stat`, the owners as stored.
    private var rawStat: Glibc.stat {
        var s = Glibc.stat()
        s.st_ino = UInt(ino)
        s.st_mode = stMode
        s.st_nlink = UInt(nlink)
        s.st_uid = uid
        s.st_gid = gid
        s.st_rdev = UInt(rdev)
        s.st_size = Int(size)
        s.st_blksize = 128 * 1024
        s.st_blocks = Int((size + 511) / 512)
        s.st_atim = timespec(nanos: atime)
        s.st_mtim = timespec(nanos: mtime)
        s.st_ctim = timespec(nanos: ctime)
        return s
    }
}
