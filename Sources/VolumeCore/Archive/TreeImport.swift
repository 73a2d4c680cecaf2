// The import engine: streams a tree's file bytes into the chunk store on a second thread while the
// caller's thread reads (inflates) the source, keeps compact per-entry records, and makes the whole
// tree visible in one final catalog transaction. Any failure before that commit leaves the volume as it was.
import Dispatch
import Foundation
import GRDB
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A blocking FIFO of bounded length between two threads.
final class BoundedQueue<T: Sendable>: Sendable {
    private let items = Mutex<[T]>([])
    private let slots: DispatchSemaphore
    private let available = DispatchSemaphore(value: 0)

    init(capacity: Int) { slots = DispatchSemaphore(value: capacity) }

    func send(_ item: T) {
        slots.wait()
        items.withLock { $0.append(item) }
        available.signal()
    }

    func receive() -> T {
        available.wait()
        let item = items.withLock { $0.removeFirst() }
        slots.signal()
        return item
    }
}

/// Work the reading thread hands the storing thread.
enum StoreWork: Sendable {
    case directory(ImportMeta)
    case fileStart(ImportMeta)
    case block(index: Int64, data: Data)
    case fileEnd(size: Int64)
}

struct StoreBatch: Sendable {
    var work: [StoreWork]
    var last: Bool
}

/// The storing side: hashes and stores blocks (all-zero blocks become holes), writes records.
/// Owned by the storing thread until it signals `done`; the importer reads it only after that.
final class ImportStorer: @unchecked Sendable {
    let log: RecordLog
    let chunks: any ChunkStore
    let failed = Atomic<Bool>(false)
    let done = DispatchSemaphore(value: 0)
    var error: Error?
    private var file: ImportMeta?
    private var refs: [(index: Int64, id: ChunkID, len: Int)] = []
    /// Bytes of new chunk data handed to the store (before dedup).
    var storedBlocks = 0

    init(log: RecordLog, chunks: any ChunkStore) {
        self.log = log
        self.chunks = chunks
    }

    func run(_ queue: BoundedQueue<StoreBatch>) {
        while true {
            let batch = queue.receive()
            if error == nil {
                do { try process(batch) } catch {
                    self.error = error
                    failed.store(true, ordering: .releasing)
                }
            }
            if batch.last { break }
        }
        done.signal()
    }

    private func process(_ batch: StoreBatch) throws {
        var datas: [Data] = []
        var zero: [Bool] = []
        var first: ImportMeta?
        var last: ImportMeta?
        var cur = file
        for w in batch.work {
            switch w {
            case .fileStart(let m): cur = m
            case .block(_, let d):
                let z = isAllZero(d)
                zero.append(z)
                if !z {
                    datas.append(d)
                    if first == nil { first = cur }
                    last = cur
                }
            default: break
            }
        }
        let ids: [ChunkID]
        do {
            ids = datas.isEmpty ? [] : try chunks.put(batch: datas)
        } catch let e as VolumeError {
            let a = first.map { "entry \($0.entry) '\($0.path)'" } ?? "?"
            let b = last.map { "entry \($0.entry) '\($0.path)'" } ?? "?"
            throw e.prefixed(a == b ? "storing the data of \(a)" : "storing the data of \(a) to \(b)")
        }
        storedBlocks += ids.count
        var k = 0
        var z = 0
        for w in batch.work {
            switch w {
            case .directory(let m):
                try log.directory(m)
            case .fileStart(let m):
                file = m
                refs.removeAll(keepingCapacity: true)
            case .block(let index, let d):
                if !zero[z] {
                    refs.append((index, ids[k], d.count))
                    k += 1
                }
                z += 1
            case .fileEnd(let size):
                try log.file(file!, size: size, blocks: refs)
                file = nil
                refs.removeAll(keepingCapacity: true)
            }
        }
    }
}

/// Whether every byte of `d` is zero (such a block is stored as a hole).
func isAllZero(_ d: Data) -> Bool {
    d.withUnsafeBytes { raw -> Bool in
        guard let base = raw.baseAddress else { return true }
        let n = raw.count
        var i = 0
        // Word at a time; the tail byte by byte.
        while i + 8 <= n {
            if base.loadUnaligned(fromByteOffset: i, as: UInt64.self) != 0 { return false }
            i += 8
        }
        while i < n {
            if base.load(fromByteOffset: i, as: UInt8.self) != 0 { return false }
            i += 1
        }
        return true
    }
}

extension Volume {
    /// Bytes of block data the reader hands over at once, and batches in flight.
    static let importBatchBytes = 4 << 20
    static let importBatchItems = 2048
    static let importQueueDepth = 3

    /// Imports a tree into directory `destination` (created when missing), atomically.
    ///
    /// Two threads: the caller's reads the source (inflating an archive) and checks the cap as
    /// entries arrive — a file whose declared size would pass the cap stops the import before its
    /// bytes are read, and streamed bytes are counted as they come; the other hashes blocks and
    /// stores them as chunks (existing content costs nothing; all-zero blocks become holes) and
    /// writes one compact record per entry. Then, after syncing the chunks, one catalog
    /// transaction creates every directory and file. Until that commit nothing in the volume
    /// changes: an error, the cap, a full disk or `options.isCancelled` leave it as it was (the
    /// chunks already stored are unreferenced and gc collects them after its grace period).
    ///
    /// Existing files at imported paths are replaced (unlinked first, as tar does), existing
    /// directories are merged (an archive's directory entry sets their mode and mtime), a file
    /// cannot replace a non-empty directory, and an entry whose parent is a symlink in the volume is
    /// dropped: nothing is ever written through a symlink.
    public func importTree(from source: ImportSource, into destination: String = "/",
                           options: TransferOptions = TransferOptions()) throws -> ImportReport {
        let dest = try VolumePath(destination)
        var report = ImportReport(volumeId: id, destination: dest.description)
        // Where we start: usage, cap, and whether the destination already holds anything.
        let (base, cap, destNonEmpty) = try read { db -> (Int64, Int64, Bool) in
            let usage = try Catalog.meta(db, .usageBytes) + reserved.withLock { $0 }
            let cap = try Catalog.meta(db, .capBytes)
            var ino = Catalog.rootIno
            for c in dest.components {
                guard let a = try Catalog.lookupAttributes(db, parent: ino, name: Data(c.utf8)) else { return (usage, cap, false) }
                guard a.kind == .directory else {
                    throw a.kind == .symlink
                        ? VolumeError.invalidArgument("the destination \(dest) passes through a symbolic link; give the real directory")
                        : VolumeError.notADirectory("the destination \(dest) is not a directory")
                }
                ino = a.ino
            }
            return (usage, cap, try Catalog.hasChildren(db, ino))
        }

        let spillDir = (pool.path as NSString).deletingLastPathComponent
        let storer = ImportStorer(log: RecordLog(spillDir: spillDir), chunks: chunks)
        let queue = BoundedQueue<StoreBatch>(capacity: Self.importQueueDepth)
        let thread = Thread { storer.run(queue) }
        thread.name = "volume-import-store"
        thread.start()

        var pending: [StoreWork] = []
        var pendingBytes = 0
        var growth: Int64 = 0
        var bytesOut: Int64 = 0
        var current = ""
        let bs = blockSize

        func progress(_ phase: String = "streaming") {
            options.progress?(TransferProgress(bytesIn: source.bytesConsumed, totalIn: source.totalBytes, bytesOut: bytesOut,
                                               entries: report.entries, current: current, phase: phase))
        }
        func flush(last: Bool) {
            queue.send(StoreBatch(work: pending, last: last))
            pending = []
            pendingBytes = 0
        }
        func checkCap(adding extra: Int64, _ m: ImportMeta) throws {
            if base + growth + extra > cap {
                throw VolumeError.quotaExceeded(volume: id, usage: base, cap: cap, requested: growth + extra)
                    .prefixed("import stopped at entry \(m.entry) '\(m.path)'")
            }
        }
        func checkCancelled(_ m: ImportMeta?) throws {
            if options.isCancelled() {
                let at = m.map { " at entry \($0.entry) '\($0.path)'" } ?? ""
                throw VolumeError.interrupted("import interrupted\(at); the volume is unchanged")
            }
        }
        /// The size of the file an entry would replace (only when the destination held something).
        func replacedSize(_ m: ImportMeta) throws -> Int64 {
            guard destNonEmpty else { return 0 }
            return try read { db -> Int64 in
                var ino = Catalog.rootIno
                for c in dest.components + m.components {
                    guard let a = try Catalog.lookupAttributes(db, parent: ino, name: Data(c.utf8)) else { return 0 }
                    if c == m.components.last { return a.kind == .file ? a.size : 0 }
                    guard a.kind == .directory else { return 0 }
                    ino = a.ino
                }
                return 0
            }
        }
        func drop(_ d: DroppedEntry) {
            report.droppedCount += 1
            report.droppedByReason[Self.reasonKey(d.reason), default: 0] += 1
            if report.dropped.count < options.maxListedDrops { report.dropped.append(d) } else { report.droppedTruncated = true }
            options.onDrop?(d)
        }

        var readerError: Error?
        do {
            progress()
            while let item = try source.next() {
                if storer.failed.load(ordering: .acquiring) { break }
                report.entries += 1
                switch item {
                case .dropped(let d):
                    drop(d)
                case .directory(let m):
                    try checkCancelled(m)
                    current = m.path
                    pending.append(.directory(m))
                    report.directories += 1
                case .file(let m, let declared):
                    try checkCancelled(m)
                    current = m.path
                    let replaced = try replacedSize(m)
                    if let declared { try checkCap(adding: declared - replaced, m) }
                    pending.append(.fileStart(m))
                    var size: Int64 = 0
                    var index: Int64 = 0
                    while true {
                        let want: Int
                        if let declared {
                            want = Int(min(Int64(bs), declared - size))
                            if want == 0 { break }
                        } else {
                            want = bs
                        }
                        var data = Data(count: want)
                        let got = try data.withUnsafeMutableBytes { raw -> Int in
                            var got = 0
                            while got < want {
                                let n = try source.readData(into: UnsafeMutableRawBufferPointer(rebasing: raw[got...]))
                                if n == 0 { break }
                                got += n
                            }
                            return got
                        }
                        if got < want {
                            if declared != nil {
                                throw VolumeError.corrupt("entry \(m.entry) '\(m.path)' ended after \(size + Int64(got)) of its \(declared!) bytes")
                            }
                            if got == 0 { break }
                            data = data.prefix(got)
                        }
                        if declared == nil { try checkCap(adding: size + Int64(got) - replaced, m) }
                        pending.append(.block(index: index, data: data))
                        pendingBytes += got
                        size += Int64(got)
                        bytesOut += Int64(got)
                        index += 1
                        if pendingBytes >= Self.importBatchBytes {
                            try checkCancelled(m)
                            if storer.failed.load(ordering: .acquiring) { break }
                            flush(last: false)
                        }
                        progress()
                        if got < want { break }
                    }
                    growth += size - replaced
                    pending.append(.fileEnd(size: size))
                    report.files += 1
                    report.bytes += size
                }
                if pending.count >= Self.importBatchItems || pendingBytes >= Self.importBatchBytes { flush(last: false) }
                progress()
            }
            if !storer.failed.load(ordering: .acquiring) {
                try checkCancelled(nil)
                try source.finish()
            }
        } catch {
            readerError = error
        }
        if readerError != nil { pending = [] }
        flush(last: true)
        storer.done.wait()
        report.inputBytes = source.bytesConsumed
        if var e = readerError {
            if let ve = e as? VolumeError, !current.isEmpty, !"\(ve)".contains("entry ") {
                e = ve.prefixed("at entry \(report.entries) '\(current)'")
            }
            throw e
        }
        if let e = storer.error { throw e }

        // The chunks are durable before the catalog references them.
        if durability == .full { try chunks.sync() }
        try checkCancelled(nil)
        progress("committing")
        try commitImport(storer.log, dest: dest, options: options, report: &report) { progress("committing") }
        return report
    }

    /// A stable key for counting drop reasons ("symbolic link", "path contains '..'", ...).
    static func reasonKey(_ reason: String) -> String {
        if let i = reason.firstIndex(of: "(") { return reason[..<i].trimmingCharacters(in: .whitespaces) }
        if let i = reason.range(of: " '") { return String(reason[..<i.lowerBound]) }
        return reason
    }

    /// The final transaction of an import: every record becomes catalog rows, or none does.
    private func commitImport(_ log: RecordLog, dest: VolumePath, options: TransferOptions, report: inout ImportReport,
                              tick: () -> Void) throws {
        let caller = options.caller
        var drops: [DroppedEntry] = []
        var replaced = 0
        var committed = (files: 0, directories: 0, bytes: Int64(0))
        try mutate(origin: caller.origin) { db, events in
            drops = []
            replaced = 0
            let now = Nanos.now()
            let maxOld = try Int64.fetchOne(db, sql: "SELECT max(ino) FROM inode") ?? 0
            func isOld(_ ino: UInt64) -> Bool { Int64(ino) <= maxOld }
            var touchedOld: Set<UInt64> = []
            var oldDirTimes: [UInt64: Nanos] = [:]
            let insInode = try db.cachedStatement(sql: """
                INSERT INTO inode (kind, mode, uid, gid, size, nlink, atime, mtime, ctime) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            let insBlock = try db.cachedStatement(sql: "INSERT INTO block (ino, idx, chunk, len) VALUES (?, ?, ?, ?)")
            let addLink = try db.cachedStatement(sql: "UPDATE inode SET nlink = nlink + 1 WHERE ino = ?")
            let setDir = try db.cachedStatement(sql: "UPDATE inode SET mode = ?, uid = ?, gid = ?, mtime = ?, ctime = ? WHERE ino = ?")

            func newInode(_ kind: FileKind, mode: UInt32, uid: UInt32, gid: UInt32, size: Int64, mtime: Nanos) throws -> UInt64 {
                try insInode.execute(arguments: [kind.rawValue, Int64(mode & 0o7777), Int64(uid), Int64(gid), size,
                                                 kind == .directory ? 2 : 1, mtime, mtime, now])
                return UInt64(db.lastInsertedRowID)
            }
            /// Adds `parent/name -> ino`; when the name is taken, calls `existing` first (which must
            /// remove it, or throw) and retries.
            func link(_ parent: UInt64, _ name: Data, _ ino: UInt64, existing: (Attributes) throws -> Void) throws {
                do {
                    try Catalog.insertEntry(db, parent: parent, name: name, ino: ino)
                } catch let e as DatabaseError where e.resultCode == .SQLITE_CONSTRAINT {
                    guard let a = try Catalog.lookupAttributes(db, parent: parent, name: name) else { throw e }
                    try existing(a)
                    try Catalog.insertEntry(db, parent: parent, name: name, ino: ino)
                }
                if isOld(parent) {
                    touchedOld.insert(parent)
                    events.append(.entry(parent: parent, name: name))
                }
            }
            /// Unlinks a non-directory (or an empty directory) that an imported entry replaces.
            func unlinkExisting(_ parent: UInt64, _ name: Data, _ a: Attributes, _ m: ImportMeta, asDirectory: Bool) throws {
                if a.kind == .directory {
                    guard !asDirectory else { return }
                    guard try !Catalog.hasChildren(db, a.ino) else {
                        throw VolumeError.alreadyExists("entry \(m.entry) '\(m.path)': a non-empty directory of that name exists in the volume")
                    }
                    try Catalog.deleteEntry(db, parent: parent, name: name)
                    try db.execute(sql: "UPDATE inode SET nlink = nlink - 1 WHERE ino = ?", arguments: [Int64(parent)])
                    try Catalog.deleteInode(db, a)
                } else {
                    try Catalog.deleteEntry(db, parent: parent, name: name)
                    try Catalog.addLinks(db, a.ino, -1, now: now)
                    try dropIfUnlinked(db, a.ino)
                }
                if isOld(a.ino) { events.append(.inode(a.ino)) }
                replaced += 1
            }

            // The destination, created when missing (never through a symlink).
            var destIno = Catalog.rootIno
            for c in dest.components {
                let name = Data(c.utf8)
                if let a = try Catalog.lookupAttributes(db, parent: destIno, name: name) {
                    guard a.kind == .directory else {
                        throw a.kind == .symlink
                            ? VolumeError.invalidArgument("the destination \(dest) passes through a symbolic link; give the real directory")
                            : VolumeError.notADirectory("the destination \(dest) is not a directory")
                    }
                    destIno = a.ino
                } else {
                    let ino = try newInode(.directory, mode: 0o755, uid: caller.uid, gid: caller.gid, size: 0, mtime: now)
                    try link(destIno, name, ino) { _ in }
                    try addLink.execute(arguments: [Int64(destIno)])
                    destIno = ino
                }
            }

            // The directory chain of the last entry, relative to the destination.
            var stack: [(name: String, ino: UInt64)] = []
            /// The directory `comps` names, created as needed; nil (and a drop) when it passes through a symlink.
            func directory(_ comps: ArraySlice<String>, for m: ImportMeta) throws -> UInt64? {
                var common = 0
                while common < stack.count && common < comps.count && stack[common].name == comps[comps.startIndex + common] {
                    common += 1
                }
                stack.removeLast(stack.count - common)
                for c in comps.dropFirst(common) {
                    let parent = stack.last?.ino ?? destIno
                    let name = Data(c.utf8)
                    if let a = try Catalog.lookupAttributes(db, parent: parent, name: name) {
                        switch a.kind {
                        case .directory:
                            stack.append((c, a.ino))
                            continue
                        case .symlink:
                            let at = (stack.map(\.name) + [c]).joined(separator: "/")
                            drops.append(DroppedEntry(entry: m.entry, path: m.path,
                                                      reason: "passes through the symbolic link '\(at)' in the volume"))
                            return nil
                        default:
                            let at = (stack.map(\.name) + [c]).joined(separator: "/")
                            throw VolumeError.notADirectory("entry \(m.entry) '\(m.path)': '\(at)' is a \(a.kind.apiName) in the volume, not a directory")
                        }
                    }
                    let ino = try newInode(.directory, mode: 0o755, uid: caller.uid, gid: caller.gid, size: 0, mtime: now)
                    try link(parent, name, ino) { _ in }
                    try addLink.execute(arguments: [Int64(parent)])
                    stack.append((c, ino))
                }
                return stack.last?.ino ?? destIno
            }

            var usage: Int64 = 0
            var files: Int64 = 0
            var dirs = 0
            var done = 0
            let reader = log.reader()
            while let rec = try reader.next() {
                done += 1
                if done & 1023 == 0 {
                    tick()
                    if options.isCancelled() { throw VolumeError.interrupted("import interrupted while committing; the volume is unchanged") }
                }
                switch rec {
                case .directory(let m):
                    guard let parent = try directory(m.components.dropLast(), for: m) else { continue }
                    let name = Data(m.components.last!.utf8)
                    if let a = try Catalog.lookupAttributes(db, parent: parent, name: name), a.kind == .directory {
                        try setDir.execute(arguments: [Int64(m.mode & 0o7777), Int64(m.uid), Int64(m.gid), m.mtime, now, Int64(a.ino)])
                        if isOld(a.ino) { oldDirTimes[a.ino] = m.mtime; events.append(.inode(a.ino)) }
                        stack.append((m.components.last!, a.ino))
                        dirs += 1
                        continue
                    }
                    let ino = try newInode(.directory, mode: m.mode, uid: m.uid, gid: m.gid, size: 0, mtime: m.mtime)
                    try link(parent, name, ino) { a in try unlinkExisting(parent, name, a, m, asDirectory: true) }
                    try addLink.execute(arguments: [Int64(parent)])
                    stack.append((m.components.last!, ino))
                    dirs += 1
                case .file(let m, let size, let count):
                    let parent = try directory(m.components.dropLast(), for: m)
                    var ino: UInt64 = 0
                    if let parent {
                        let name = Data(m.components.last!.utf8)
                        ino = try newInode(.file, mode: m.mode, uid: m.uid, gid: m.gid, size: size, mtime: m.mtime)
                        try link(parent, name, ino) { a in try unlinkExisting(parent, name, a, m, asDirectory: false) }
                        usage += size
                        files += 1
                    }
                    for _ in 0..<count {
                        let (idx, ref) = try reader.block()
                        if parent != nil { try insBlock.execute(arguments: [Int64(ino), idx, ref.chunk.bytes, ref.len]) }
                    }
                }
            }
            for ino in touchedOld {
                try Catalog.touch(db, ino, now: now)
                events.append(.inode(ino))
            }
            for (ino, t) in oldDirTimes {
                try db.execute(sql: "UPDATE inode SET mtime = ? WHERE ino = ?", arguments: [t, Int64(ino)])
            }
            try checkQuota(db, adding: usage)
            try Catalog.addMeta(db, .usageBytes, usage)
            try Catalog.addMeta(db, .fileCount, files)
            committed = (Int(files), dirs, usage)
        }
        report.replaced = replaced
        report.files = committed.files
        report.directories = committed.directories
        report.bytes = committed.bytes
        for d in drops {
            report.droppedCount += 1
            report.droppedByReason[Self.reasonKey(d.reason), default: 0] += 1
            if report.dropped.count < options.maxListedDrops { report.dropped.append(d) } else { report.droppedTruncated = true }
            options.onDrop?(d)
        }
    }
}
