// The import engine: the caller's thread reads (inflates) the source, a second thread stores the file bytes
// as chunks, a third writes the catalog side; the whole tree becomes visible in one catalog transaction.
// Any failure before that commit leaves the volume as it was.
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

/// What the reading thread produces, in stream order: each file's blocks, then the file itself.
enum ImportOp: Sendable {
    case directory(ImportMeta)
    /// Block `index` of the file being read: `chunk` indexes the batch's chunks (all-zero blocks are not sent).
    case block(index: Int64, len: Int, chunk: Int)
    case file(ImportMeta, seq: Int, size: Int64)
}

/// The same, with chunk IDs filled in by the storing thread.
enum StoredOp: Sendable {
    case directory(ImportMeta)
    case block(index: Int64, id: ChunkID, len: Int)
    case file(ImportMeta, seq: Int, size: Int64)
}

/// Work from the reading thread to the storing thread.
struct StoreBatch: Sendable {
    var chunks: [Data] = []
    var ops: [ImportOp] = []
    var bytes = 0
    var first: String?
    var last: String?
    var end = false
    /// The reader gave up: the catalog side must roll back.
    var abort = false
}

/// Work from the storing thread to the catalog thread.
struct CatalogBatch: Sendable {
    var ops: [StoredOp] = []
    var end = false
    var abort = false
}

/// The storing side: hashes blocks and puts them into the chunk store (existing content costs nothing),
/// then passes the batch's entries on to the catalog thread with their chunk IDs, in order.
/// `error` is read only after `done` is signalled.
final class ImportStorer: @unchecked Sendable {
    let chunks: any ChunkStore
    let failed = Atomic<Bool>(false)
    let done = DispatchSemaphore(value: 0)
    var error: Error?
    /// Seconds spent hashing and storing (for VOLUMES_TRACE_IMPORT).
    var busy: Double = 0

    init(chunks: any ChunkStore) { self.chunks = chunks }

    func run(_ input: BoundedQueue<StoreBatch>, _ output: BoundedQueue<CatalogBatch>) {
        blockTransferSignals()
        while true {
            let batch = input.receive()
            if error == nil && !batch.abort {
                let t0 = DispatchTime.now().uptimeNanoseconds
                do {
                    let ids = batch.chunks.isEmpty ? [] : try chunks.put(batch: batch.chunks)
                    var ops: [StoredOp] = []
                    ops.reserveCapacity(batch.ops.count)
                    for op in batch.ops {
                        switch op {
                        case .directory(let m): ops.append(.directory(m))
                        case let .block(index, len, chunk): ops.append(.block(index: index, id: ids[chunk], len: len))
                        case let .file(m, seq, size): ops.append(.file(m, seq: seq, size: size))
                        }
                    }
                    busy += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                    output.send(CatalogBatch(ops: ops, end: batch.end))
                } catch let e as VolumeError {
                    let a = batch.first ?? "?", b = batch.last ?? "?"
                    error = e.prefixed(a == b ? "storing the data of \(a)" : "storing the data of \(a) to \(b)")
                    failed.store(true, ordering: .releasing)
                } catch {
                    self.error = error
                    failed.store(true, ordering: .releasing)
                }
            }
            if batch.end {
                if error != nil || batch.abort { output.send(CatalogBatch(end: true, abort: true)) }
                break
            }
        }
        done.signal()
    }
}

/// The catalog side: turns entries into rows (or records), on its own thread.
final class ImportCataloger: @unchecked Sendable {
    let failed = Atomic<Bool>(false)
    let done = DispatchSemaphore(value: 0)
    var error: Error?
    /// Seconds spent writing rows or records (for VOLUMES_TRACE_IMPORT).
    var busy: Double = 0
    private var blocks: [(index: Int64, id: ChunkID, len: Int)] = []
    private var sawEnd = false

    /// Receives and drops batches until the end (after a failure, so the storing thread never blocks).
    func drain(_ queue: BoundedQueue<CatalogBatch>) {
        while !sawEnd { sawEnd = queue.receive().end }
    }

    /// Applies batches to `sink` until the end; an abort, or an error, throws (after draining the queue).
    func consume(_ queue: BoundedQueue<CatalogBatch>, into sink: ImportSink) throws {
        var failure: Error?
        while true {
            let batch = queue.receive()
            if failure == nil {
                if batch.abort {
                    failure = VolumeError.interrupted("import stopped")
                } else {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    do {
                        for op in batch.ops {
                            switch op {
                            case .directory(let m):
                                try sink.directory(m)
                            case let .block(index, id, len):
                                blocks.append((index, id, len))
                            case let .file(m, seq, size):
                                try sink.file(m, seq: seq, size: size, blocks: blocks.count)
                                for b in blocks { try sink.block(seq: seq, index: b.index, id: b.id, len: b.len) }
                                blocks.removeAll(keepingCapacity: true)
                            }
                        }
                    } catch {
                        failure = error
                        self.error = error
                        failed.store(true, ordering: .releasing)
                    }
                    busy += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                }
            }
            if batch.end { sawEnd = true; break }
        }
        if let failure { throw failure }
    }
}

/// What the catalog side committed, handed from the catalog thread (written before `done`).
final class ImportCatalogResult: @unchecked Sendable {
    var files = 0, directories = 0, replaced = 0
    var usage: Int64 = 0
    var drops: [DroppedEntry] = []
    var syncSeconds = 0.0

    func take(_ w: CatalogImportWriter) {
        files = w.files
        directories = w.directories
        usage = w.usage
        replaced = w.replaced
        drops = w.drops
    }
}

/// Blocks SIGINT and SIGTERM in a helper thread: they go to the reading thread, whose blocking reads they interrupt.
func blockTransferSignals() {
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    pthread_sigmask(SIG_BLOCK, &set, nil)
}

/// Where an import's entries go: catalog rows now, or records for later.
protocol ImportSink: AnyObject {
    func directory(_ m: ImportMeta) throws
    func file(_ m: ImportMeta, seq: Int, size: Int64, blocks: Int) throws
    func block(seq: Int, index: Int64, id: ChunkID, len: Int) throws
}

extension CatalogImportWriter: ImportSink {}
extension RecordLog: ImportSink {}

/// Heap bytes read into directly (no zero-filling) and handed over as `Data` without a copy.
func uninitializedData(_ count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Int) rethrows -> Data {
    let p = malloc(max(count, 1))!
    let n: Int
    do { n = try fill(UnsafeMutableRawBufferPointer(start: p, count: count)) } catch { free(p); throw error }
    return Data(bytesNoCopy: p, count: n, deallocator: .free)
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
    /// Bytes of chunk data handed to the storing thread at once, and batches in flight.
    static let importBatchBytes = 4 << 20
    static let importBatchChunks = 1024
    static let importQueueDepth = 3
    /// The catalog's page cache during an import transaction, KiB.
    static let importCacheKiB = Int(ProcessInfo.processInfo.environment["VOLUMES_IMPORT_CACHE_KIB"] ?? "") ?? 32768

    /// Imports a tree into directory `destination` (created when missing), atomically.
    ///
    /// Three threads. The caller's reads the source (inflating an archive), checks the cap as entries
    /// arrive (a file whose declared size would pass the cap stops the import before its bytes are
    /// read; streamed bytes are counted as they come) and cuts files into blocks (all-zero blocks
    /// become holes); a storing thread hashes and stores the blocks as chunks (existing content costs
    /// nothing) and passes the entries on with their chunk IDs; a catalog thread writes them:
    ///
    /// - into an empty volume (`volumectl import --create`), as rows, while streaming, inside one
    ///   write transaction held until the end: no one else has work in an empty volume;
    /// - into a volume with content, as compact records (spilled to an unlinked file past a few MiB),
    ///   written as rows in one final transaction, so the write lock is held only for that.
    ///
    /// Either way the chunks are synced before the transaction commits, and until it commits nothing
    /// in the volume changes: an error, the cap, a full disk or `options.isCancelled` leave it as it
    /// was (chunks already stored are unreferenced, and gc collects them after its grace period).
    ///
    /// Existing files at imported paths are replaced (unlinked first, as tar does), existing
    /// directories are merged (an archive's directory entry sets their mode and mtime), a file
    /// cannot replace a non-empty directory, and an entry whose parent is a symlink in the volume is
    /// dropped: nothing is ever written through a symlink.
    public func importTree(from source: ImportSource, into destination: String = "/",
                           options: TransferOptions = TransferOptions()) throws -> ImportReport {
        let dest = try VolumePath(destination)
        let tStart = DispatchTime.now().uptimeNanoseconds
        var report = ImportReport(volumeId: id, destination: dest.description)
        // Where we start: usage, cap, whether the destination holds anything, whether the volume is empty.
        let (base, cap, destNonEmpty, volumeEmpty) = try read { db -> (Int64, Int64, Bool, Bool) in
            let usage = try Catalog.meta(db, .usageBytes) + reserved.withLock { $0 }
            let cap = try Catalog.meta(db, .capBytes)
            let empty = try !Catalog.hasChildren(db, Catalog.rootIno)
            var ino = Catalog.rootIno
            for c in dest.components {
                guard let a = try Catalog.lookupAttributes(db, parent: ino, name: Data(c.utf8)) else { return (usage, cap, false, empty) }
                guard a.kind == .directory else {
                    throw a.kind == .symlink
                        ? VolumeError.invalidArgument("the destination \(dest) passes through a symbolic link; give the real directory")
                        : VolumeError.notADirectory("the destination \(dest) is not a directory")
                }
                ino = a.ino
            }
            return (usage, cap, try Catalog.hasChildren(db, ino), empty)
        }

        // Chunks are stored while the archive streams and referenced only by the final commit: held
        // until then, so gc keeps them however long the import runs (see `WriteHolds`).
        let hold = try beginHold()
        defer { endHold(hold) }
        let storer = ImportStorer(chunks: chunks)
        let cataloger = ImportCataloger()
        let toStore = BoundedQueue<StoreBatch>(capacity: Self.importQueueDepth)
        let toCatalog = BoundedQueue<CatalogBatch>(capacity: Self.importQueueDepth)
        let storeThread = Thread { storer.run(toStore, toCatalog) }
        storeThread.name = "volume-import-store"
        storeThread.start()

        // The catalog thread: into an empty volume, rows inside the one transaction, committed once every
        // chunk is stored and synced; otherwise records, replayed below in one final transaction.
        let log: RecordLog? = volumeEmpty && options.holdWriteLockWhenEmpty ? nil : RecordLog(spillDir: (pool.path as NSString).deletingLastPathComponent)
        let result = ImportCatalogResult()
        let syncChunks = durability == .full
        let catalogThread = Thread { [self] in
            blockTransferSignals()
            do {
                if let log {
                    try cataloger.consume(toCatalog, into: log)
                } else {
                    try mutate(origin: options.caller.origin) { db, events in
                        // A larger page cache for this transaction: fewer dirty pages spilled to the WAL and rewritten.
                        try db.execute(sql: "PRAGMA cache_size = -\(Self.importCacheKiB)")
                        defer { try? db.execute(sql: "PRAGMA cache_size = -16000") }
                        let w = try CatalogImportWriter(db, volume: self, destination: dest, caller: options.caller)
                        try cataloger.consume(toCatalog, into: w)
                        // The storing thread passes the end on after its last put: every chunk is stored.
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        if syncChunks { try chunks.sync() }
                        result.syncSeconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                        if options.isCancelled() { throw VolumeError.interrupted("import interrupted while committing; the volume is unchanged") }
                        try w.finish()
                        events = w.events
                        result.take(w)
                    }
                }
            } catch {
                if cataloger.error == nil { cataloger.error = error }
                cataloger.failed.store(true, ordering: .releasing)
                cataloger.drain(toCatalog)
            }
            cataloger.done.signal()
        }
        catalogThread.name = "volume-import-catalog"
        catalogThread.start()

        var batch = StoreBatch()
        var helpersStopped = false
        /// Sends the last batch (or an abort) and waits for both helper threads.
        func stopHelpers(abort: Bool) {
            guard !helpersStopped else { return }
            helpersStopped = true
            var last = abort ? StoreBatch() : batch
            last.end = true
            last.abort = abort
            batch = StoreBatch()
            toStore.send(last)
            storer.done.wait()
            cataloger.done.wait()
        }
        defer { stopHelpers(abort: true) }

        var growth: Int64 = 0
        var bytesOut: Int64 = 0
        var current = ""
        var tStream: UInt64 = 0, tSync: UInt64 = 0
        let bs = blockSize
        var fileSeq = 0

        func progress(_ phase: String = "streaming") {
            options.progress?(TransferProgress(bytesIn: source.bytesConsumed, totalIn: source.totalBytes, bytesOut: bytesOut,
                                               entries: report.entries, current: current, phase: phase))
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
        /// Stops with the helpers' error when one of them failed (a full disk, a conflict in the volume).
        func checkHelpers() throws {
            if storer.failed.load(ordering: .acquiring) || cataloger.failed.load(ordering: .acquiring) {
                stopHelpers(abort: true)
                throw storer.error ?? cataloger.error ?? VolumeError.io("the import failed", errno: EIO)
            }
        }
        func send() throws {
            try checkHelpers()
            toStore.send(batch)
            batch = StoreBatch()
        }
        /// The size of the file an entry would replace (only when the destination held something).
        func replacedSize(_ m: ImportMeta) throws -> Int64 {
            guard destNonEmpty else { return 0 }
            return try read { db -> Int64 in
                var ino = Catalog.rootIno
                let all = dest.components + m.components
                for (i, c) in all.enumerated() {
                    guard let a = try Catalog.lookupAttributes(db, parent: ino, name: Data(c.utf8)) else { return 0 }
                    if i == all.count - 1 { return a.kind == .file ? a.size : 0 }
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

        do {
            progress()
            while let item = try source.next() {
                try checkHelpers()
                report.entries += 1
                switch item {
                case .dropped(let d):
                    drop(d)
                case .directory(let m):
                    try checkCancelled(m)
                    current = m.path
                    batch.ops.append(.directory(m))
                case .file(let m, let declared):
                    try checkCancelled(m)
                    current = m.path
                    let label = "entry \(m.entry) '\(m.path)'"
                    let replaced = try replacedSize(m)
                    if let declared {
                        try Volume.checkFileEnd(offset: declared, "import stopped at \(label)")
                        try checkCap(adding: declared - replaced, m)
                    }
                    fileSeq += 1
                    var size: Int64 = 0
                    var index: Int64 = 0
                    while true {
                        let want = declared.map { Int(min(Int64(bs), $0 - size)) } ?? bs
                        if want == 0 { break }
                        let data = try uninitializedData(want) { raw -> Int in
                            var got = 0
                            while got < want {
                                let n = try source.readData(into: UnsafeMutableRawBufferPointer(rebasing: raw[got...]))
                                if n == 0 { break }
                                got += n
                            }
                            return got
                        }
                        let got = data.count
                        if got < want, let declared {
                            throw VolumeError.corrupt("entry \(m.entry) '\(m.path)' ended after \(size + Int64(got)) of its \(declared) bytes")
                        }
                        if got == 0 { break }
                        if declared == nil {
                            try Volume.checkFileEnd(offset: size, count: Int64(got), "import stopped at \(label)")
                            try checkCap(adding: size + Int64(got) - replaced, m)
                        }
                        if !isAllZero(data) {
                            batch.ops.append(.block(index: index, len: got, chunk: batch.chunks.count))
                            batch.chunks.append(data)
                            batch.bytes += got
                            if batch.first == nil { batch.first = label }
                            batch.last = label
                            if batch.bytes >= Self.importBatchBytes || batch.chunks.count >= Self.importBatchChunks {
                                try checkCancelled(m)
                                try send()
                            }
                        }
                        size += Int64(got)
                        bytesOut += Int64(got)
                        index += 1
                        // A long run of zeros fills no batch: poll for a signal here too.
                        if index & 63 == 0 { try checkCancelled(m) }
                        progress()
                        if got < want { break }
                    }
                    growth += size - replaced
                    batch.ops.append(.file(m, seq: fileSeq, size: size))
                }
                if batch.ops.count >= 2 * Self.importBatchChunks { try send() }
                progress()
            }
            try checkCancelled(nil)
            try source.finish()
            try checkHelpers()
            progress("committing")
            stopHelpers(abort: false)
            if let e = storer.error ?? cataloger.error { throw e }
            tStream = DispatchTime.now().uptimeNanoseconds
            tSync = tStream
            if let log {
                // The chunks are durable before the catalog references them.
                if syncChunks { try chunks.sync() }
                tSync = DispatchTime.now().uptimeNanoseconds
                try checkCancelled(nil)
                let (entries, inputBytes, total, out) = (report.entries, source.bytesConsumed, source.totalBytes, bytesOut)
                try mutate(origin: options.caller.origin) { db, events in
                    let w = try CatalogImportWriter(db, volume: self, destination: dest, caller: options.caller)
                    let reader = log.reader()
                    var done = 0
                    while let rec = try reader.next() {
                        done += 1
                        if done & 1023 == 0 {
                            options.progress?(TransferProgress(bytesIn: inputBytes, totalIn: total, bytesOut: out,
                                                               entries: min(done, entries), current: "", phase: "committing"))
                            if options.isCancelled() {
                                throw VolumeError.interrupted("import interrupted while committing; the volume is unchanged")
                            }
                        }
                        switch rec {
                        case .directory(let m): try w.directory(m)
                        case let .file(m, seq, size, blocks): try w.file(m, seq: seq, size: size, blocks: blocks)
                        case let .block(seq, index, id, len): try w.block(seq: seq, index: index, id: id, len: len)
                        }
                    }
                    try w.finish()
                    events = w.events
                    result.take(w)
                }
            }
        } catch {
            stopHelpers(abort: true)
            report.inputBytes = source.bytesConsumed
            var e = error
            if options.isCancelled(), (e as? VolumeError)?.code != "interrupted" {
                // A signal that cut a read short shows up as a short stream: say what really happened.
                e = VolumeError.interrupted("import interrupted at entry \(report.entries) '\(current)'; the volume is unchanged")
            }
            if let ve = e as? VolumeError, !current.isEmpty, !"\(ve)".contains("entry ") {
                e = ve.prefixed("at entry \(report.entries) '\(current)'")
            }
            throw e
        }
        report.files = result.files
        report.directories = result.directories
        report.bytes = result.usage
        report.replaced = result.replaced
        for d in result.drops { drop(d) }
        report.inputBytes = source.bytesConsumed
        if ProcessInfo.processInfo.environment["VOLUMES_TRACE_IMPORT"] != nil {
            let tEnd = DispatchTime.now().uptimeNanoseconds
            func s(_ a: UInt64, _ b: UInt64) -> String { String(format: "%.2fs", Double(b &- a) / 1e9) }
            FileHandle.standardError.write(Data(("import phases (\(volumeEmpty ? "rows while streaming" : "records, then rows")): "
                + "stream \(s(tStart, tStream)) (storing busy \(String(format: "%.2fs", storer.busy)), catalog busy "
                + "\(String(format: "%.2fs", cataloger.busy)), chunk sync \(String(format: "%.2fs", result.syncSeconds))), "
                + "then sync \(s(tStream, tSync)), commit \(s(tSync, tEnd))\n").utf8))
        }
        return report
    }

    /// A stable key for counting drop reasons ("symbolic link", "path contains '..'", ...).
    static func reasonKey(_ reason: String) -> String {
        if reason.hasPrefix("passes through the symbolic link") { return "passes through a symbolic link in the volume" }
        if reason.contains("below the dropped link") { return "below a dropped link" }
        if let i = reason.range(of: " (") { return String(reason[..<i.lowerBound]) }
        return reason
    }
}
