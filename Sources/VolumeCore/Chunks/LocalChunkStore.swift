// The local-directory chunk store: large chunks as files in 256 sharded folders, small ones in pack files indexed in SQLite.
import Foundation
import GRDB
import GRDBSQLite
import Synchronization
import SystemPackage
import CSupport

#if canImport(Glibc)
import Glibc
#endif

/// Chunks on a local disk.
///
/// - Chunks larger than `smallLimit` are files `chunks/ab/abcd…` (written to `tmp/`, then renamed
///   into place, so a reader never sees a partial chunk and a crash leaves at most a temp file).
/// - Chunks up to `smallLimit` are packed end to end in `packs/<n>.pack` files, indexed by hash in
///   `small.sqlite` (see `SmallChunkPacks`), so a volume of a million tiny files is a few pack files
///   and one database on disk, not a million files.
///
/// Durability: `put` does not fsync; `sync()` flushes the whole store with one `syncfs(2)`.
public final class LocalChunkStore: ChunkStore {
    /// Chunks of at most this many bytes are packed into SQLite.
    public static let defaultSmallLimit = 64 * 1024
    /// A pack file of small chunks is sealed (no longer appended to) once it holds this many bytes.
    public static let defaultPackLimit: Int64 = 64 << 20

    public let root: URL
    public let smallLimit: Int
    public let startWriteback: Bool
    /// Whether large chunks are still written with O_DIRECT (cleared once the disk refuses it).
    private let directWrites = Atomic<Bool>(true)
    let small: SmallChunkPacks
    private let rootFD: FileDescriptor
    private let now: @Sendable () -> Date
    private let syncs = SyncCoalescer()
    /// Seconds after which a temp file is a crash's leftover: writing one chunk takes milliseconds.
    static let staleTempAge = 3600

    /// Opens (creating if needed) a store in `root`.
    /// `startWriteback`: begin writing each large chunk to disk as soon as it is written (the part
    /// that did not already go around the page cache). Worth it when a
    /// sync follows every commit (full durability): that sync then has little left to wait for. Without
    /// one it only holds writers to the disk's speed instead of the page cache's.
    /// `packLimit`: the size past which a pack file of small chunks is sealed (smaller in tests).
    public init(root: URL, smallLimit: Int = LocalChunkStore.defaultSmallLimit, startWriteback: Bool = false,
                packLimit: Int64 = LocalChunkStore.defaultPackLimit, now: @escaping @Sendable () -> Date = { Date() }) throws {
        self.root = root
        self.smallLimit = smallLimit
        self.startWriteback = startWriteback
        self.now = now
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: root.appendingPathComponent("chunks"), withIntermediateDirectories: true)
            try fm.createDirectory(at: root.appendingPathComponent("tmp"), withIntermediateDirectories: true)
            for i in 0..<256 {
                let shard = root.appendingPathComponent("chunks").appendingPathComponent(String(format: "%02x", i))
                if !fm.fileExists(atPath: shard.path) { try fm.createDirectory(at: shard, withIntermediateDirectories: true) }
            }
            // Temp files left by a crash are never referenced: remove them. Only old ones: a fresh one
            // may be a chunk that another process (a mount, an import) is writing right now.
            let tmp = root.appendingPathComponent("tmp").path
            for leftover in try fm.contentsOfDirectory(atPath: tmp) {
                var st = stat()
                if stat(tmp + "/" + leftover, &st) == 0, time(nil) - st.st_mtim.tv_sec > Self.staleTempAge { unlink(tmp + "/" + leftover) }
            }
        } catch {
            throw VolumeError.io("cannot prepare chunk store at \(root.path): \(error.localizedDescription)", errno: EIO)
        }
        small = try SmallChunkPacks(root: root, packLimit: packLimit)
        do {
            rootFD = try FileDescriptor.open(FilePath(root.path), .readOnly, options: [.directory])
        } catch let e as Errno {
            throw VolumeError.from(e, "open \(root.path)")
        }
    }

    deinit { try? rootFD.close() }

    private func path(_ id: ChunkID) -> String {
        let hex = id.hex
        return root.path + "/chunks/" + hex.prefix(2) + "/" + hex
    }

    public func put(_ data: Data) throws -> ChunkID {
        try put(batch: [data])[0]
    }

    /// Stores several chunks; the small ones in one SQLite transaction.
    public func put(batch: [Data]) throws -> [ChunkID] {
        var ids: [ChunkID] = []
        ids.reserveCapacity(batch.count)
        var smallOnes: [(ChunkID, Data)] = []
        for data in batch {
            if data.count <= smallLimit {
                let id = ChunkID.of(data)
                ids.append(id)
                smallOnes.append((id, data))
            } else {
                ids.append(try putFile(data))
            }
        }
        if !smallOnes.isEmpty { try small.put(smallOnes, touched: now().timeIntervalSince1970) }
        return ids
    }

    /// Writes a large chunk to a temp file while hashing it on another core, then renames it to its
    /// hash (or drops the copy when that chunk already exists, refreshing its time for gc's grace).
    /// The write skips the page cache where the disk allows it (`ChunkFileWriter`).
    private func putFile(_ data: Data) throws -> ChunkID {
        let tmp = root.path + "/tmp/" + UUID().uuidString
        let hashed = Mutex<ChunkID?>(nil)
        let failed = Mutex<Error?>(nil)
        DispatchQueue.concurrentPerform(iterations: 2) { part in
            if part == 0 {
                let id = ChunkID.of(data)
                hashed.withLock { $0 = id }
            } else {
                do {
                    var direct = directWrites.load(ordering: .relaxed)
                    try ChunkFileWriter.write(data, to: tmp, direct: &direct, startWriteback: startWriteback)
                    if !direct { directWrites.store(false, ordering: .relaxed) }
                } catch { failed.withLock { $0 = error } }
            }
        }
        if let e = failed.withLock({ $0 }) {
            unlink(tmp)
            throw e
        }
        let id = hashed.withLock { $0 }!
        let final = path(id)
        // The chunk exists: refresh its time. The clock's, not the kernel's coarse one (which lags
        // by a tick): gc's second look at a chunk it is deleting must see a touch made after it listed it.
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        if utimensat(AT_FDCWD, final, [t, t], 0) == 0 {
            unlink(tmp)
            return id
        }
        do { try syscall("rename chunk \(id.short)") { rename(tmp, final) } } catch {
            unlink(tmp)
            throw error
        }
        return id
    }

    public func read(_ id: ChunkID) throws -> Data {
        let data: Data
        if let s = try small.read(id, offset: 0, count: Int.max) {
            data = s
        } else if let f = try readFile(id, offset: 0, count: Int.max) {
            data = f
        } else {
            throw VolumeError.corrupt("chunk \(id.short) is missing")
        }
        guard ChunkID.of(data) == id else { throw VolumeError.corrupt("chunk \(id.short) does not match its hash") }
        return data
    }

    public func read(_ id: ChunkID, offset: Int, count: Int) throws -> Data {
        // Only "no such file" sends the read on to the packs: any other failure (EIO, EMFILE, a
        // directory where the file should be) is that failure, not a missing chunk.
        if let fileData = try readFile(id, offset: offset, count: count) { return fileData }
        guard let s = try small.read(id, offset: offset, count: count) else { throw VolumeError.corrupt("chunk \(id.short) is missing") }
        return s
    }

    /// The bytes of chunk file `id`, or nil when there is no such file.
    private func readFile(_ id: ChunkID, offset: Int, count: Int) throws -> Data? {
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(FilePath(path(id)), .readOnly) } catch let e as Errno {
            if e == .noSuchFileOrDirectory { return nil }
            throw VolumeError.io("open chunk \(id.short)", errno: e.rawValue)
        }
        return try fd.closeAfter {
            var n = count
            if n == Int.max {
                var st = stat()
                try syscall("stat chunk") { fstat(fd.rawValue, &st) }
                n = max(0, Int(st.st_size) - offset)
            } else if offset == 0 && count >= 64 * 1024 {
                // The start of a chunk read in large pieces (a file read sequentially): ask for the
                // whole chunk now, so the pieces that follow find it in the page cache instead of
                // each waiting for the disk (every piece opens the file anew, so the kernel's
                // readahead never warms up on its own).
                _ = posix_fadvise(fd.rawValue, 0, 0, POSIX_FADV_WILLNEED)
            }
            do { return try fd.read(count: n, at: Int64(offset)) } catch let e as Errno {
                throw VolumeError.io("read chunk \(id.short)", errno: e.rawValue)
            }
        }
    }

    /// Asks the kernel to read the chunk files of `ids` into the page cache (POSIX_FADV_WILLNEED
    /// starts the reads and returns), on a background queue: the disk works on the next blocks of
    /// a sequential read while the current one travels to the reader. Small chunks are skipped.
    public func prefetch(_ ids: [ChunkID]) {
        let paths = ids.map(path)
        Self.prefetchQueue.async {
            for p in paths {
                let fd = open(p, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { continue }
                _ = posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED)
                close(fd)
            }
        }
    }

    private static let prefetchQueue = DispatchQueue(label: "chunk-prefetch", qos: .utility)

    public func contains(_ id: ChunkID) throws -> Bool { try size(of: id) != nil }

    public func size(of id: ChunkID) throws -> Int? {
        var st = stat()
        if stat(path(id), &st) == 0 { return Int(st.st_size) }
        guard errno == ENOENT else { throw VolumeError.io("stat chunk \(id.short)", errno: errno) }
        return try small.size(of: id)
    }

    /// A chunk file is first moved aside into `tmp/`, out of reach of a writer's touch (which then
    /// finds no file and stores a fresh copy), and its time read there: touched since the cutoff,
    /// it goes back, unless a writer's fresh copy already took its place. (A reader may find no
    /// file for that moment; it only happens to a chunk gc found unreferenced.)
    public func delete(_ id: ChunkID, ifTouchedBefore cutoff: Date) throws -> Bool {
        let final = path(id)
        let aside = root.path + "/tmp/gc-" + UUID().uuidString
        guard rename(final, aside) == 0 else {
            guard errno == ENOENT else { throw VolumeError.io("delete chunk \(id.short)", errno: errno) }
            return try small.delete(id, ifTouchedBefore: cutoff)
        }
        defer { unlink(aside) }
        var st = stat()
        guard stat(aside, &st) == 0 else { throw VolumeError.io("delete chunk \(id.short)", errno: errno) }
        guard st.modified >= cutoff else { return true }
        if link(aside, final) != 0, errno != EEXIST { throw VolumeError.io("put back chunk \(id.short)", errno: errno) }
        return false
    }

    public func forEach(_ body: (StoredChunk) throws -> Void) throws {
        for i in 0..<256 {
            let dir = root.path + "/chunks/" + String(format: "%02x", i)
            for name in try Self.names(in: dir) {
                guard let id = ChunkID(hex: name) else { continue }
                var st = stat()
                guard stat(dir + "/" + name, &st) == 0 else {
                    if errno == ENOENT { continue } // deleted since the listing
                    throw VolumeError.io("stat chunk \(name)", errno: errno)
                }
                try body(StoredChunk(id: id, size: Int(st.st_size), touched: st.modified))
            }
        }
        for c in try small.all() {
            try body(StoredChunk(id: c.id, size: c.size, touched: Date(timeIntervalSince1970: c.touched)))
        }
    }

    /// The names in folder `dir` (none when it does not exist); any other failure is an error, not
    /// an empty folder.
    private static func names(in dir: String) throws -> [String] {
        guard let d = opendir(dir) else {
            if errno == ENOENT { return [] }
            throw VolumeError.io("list chunk folder \(dir)", errno: errno)
        }
        defer { closedir(d) }
        var names: [String] = []
        while true {
            errno = 0
            guard let e = readdir(d) else {
                if errno != 0 { throw VolumeError.io("list chunk folder \(dir)", errno: errno) }
                return names
            }
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
    }

    /// Flushes what was stored before the call. Concurrent calls share their flushes (`SyncCoalescer`).
    public func sync() throws {
        try syncs.sync {
            let unsynced = try small.unsynced()
            try syscall("syncfs \(root.path)") { csupport_syncfs(rootFD.rawValue) }
            try small.markDurable(unsynced)
        }
    }

    /// Rewrites the small chunks of mostly deleted packs and removes those packs.
    public func compact() throws -> Int64 {
        try small.compact { try syscall("syncfs \(root.path)") { csupport_syncfs(rootFD.rawValue) } }
    }

    public func stats() throws -> ChunkStoreStats {
        var s = ChunkStoreStats(chunks: 0, bytes: 0)
        try forEach { s.chunks += 1; s.bytes += Int64($0.size) }
        return s
    }
}

extension ChunkStore {
    /// Stores several chunks; backends that can batch (SQLite) override it.
    public func put(batch: [Data]) throws -> [ChunkID] { try batch.map { try put($0) } }

    /// Nothing to give back where deleting a chunk frees its space.
    public func compact() throws -> Int64 { 0 }
}
