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

/// Chunks the reading thread hands the storing thread, with the entries they belong to (for messages).
struct StoreBatch: Sendable {
    var chunks: [Data] = []
    var bytes = 0
    var first: String?
    var last: String?
    var end = false
}

/// The storing side: hashes blocks, puts them into the chunk store (existing content costs nothing)
/// and hands their IDs back, in order. `error` is read only after `done` is signalled.
final class ImportStorer: @unchecked Sendable {
    let chunks: any ChunkStore
    let failed = Atomic<Bool>(false)
    let done = DispatchSemaphore(value: 0)
    /// IDs of stored chunks, in the order the chunks were sent; the reading thread takes them.
    let results = Mutex<[ChunkID]>([])
    var error: Error?
    /// Seconds spent hashing and storing (for VOLUMES_TRACE_IMPORT).
    var busy: Double = 0

    init(chunks: any ChunkStore) { self.chunks = chunks }

    func run(_ queue: BoundedQueue<StoreBatch>) {
        // Signals go to the reading thread, whose blocking reads they interrupt.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        while true {
            let batch = queue.receive()
            if error == nil && !batch.chunks.isEmpty {
                let t0 = DispatchTime.now().uptimeNanoseconds
                do {
                    let ids = try chunks.put(batch: batch.chunks)
                    results.withLock { $0.append(contentsOf: ids) }
                } catch let e as VolumeError {
                    let a = batch.first ?? "?", b = batch.last ?? "?"
                    error = e.prefixed(a == b ? "storing the data of \(a)" : "storing the data of \(a) to \(b)")
                    failed.store(true, ordering: .releasing)
                } catch {
                    self.error = error
                    failed.store(true, ordering: .releasing)
                }
                busy += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            }
            if batch.end { break }
        }
        done.signal()
    }
}

/// Where an import's entries go as they are read: catalog rows now, or records for later.
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
    /// Two threads. The caller's reads the source (inflating an archive), checks the cap as entries
    /// arrive (a file whose declared size would pass the cap stops the import before its bytes are
    /// read; streamed bytes are counted as they come), cuts files into blocks and hashes them
    /// (all-zero blocks become holes), and writes the catalog side; the other stores the blocks as
    /// chunks (existing content costs nothing). The catalog side depends on the volume:
    ///
    /// - into an empty volume (`volumectl import --create`), the rows are written while streaming,
    ///   inside one write transaction held until the end: no one else has work in an empty volume;
    /// - into a volume with content, compact records are kept (spilled to an unlinked file past a
    ///   few MiB) and written in one final transaction, so the write lock is held only for that.
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

        let storer = ImportStorer(chunks: chunks)
        let queue = BoundedQueue<StoreBatch>(capacity: Self.importQueueDepth)
        let thread = Thread { storer.run(queue) }
        thread.name = "volume-import-store"
        thread.start()
        var storerRunning = true
        func stopStorer(_ last: StoreBatch) {
            guard storerRunning else { return }
            storerRunning = false
            var b = last
            b.end = true
            queue.send(b)
            storer.done.wait()
        }
        defer { stopStorer(StoreBatch()) }

        var batch = StoreBatch()
        var growth: Int64 = 0
        var bytesOut: Int64 = 0
        var current = ""
        var tStream: UInt64 = 0, tSync: UInt64 = 0
        let bs = blockSize
        // Blocks sent to be stored whose IDs have not come back yet: (file sequence number, index, length).
        var pending: [(seq: Int, index: Int64, len: Int)] = []
        var pendingHead = 0
        var fileSeq = 0
        var openFile: Int?

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
        func checkStorer() throws {
            if storer.failed.load(ordering: .acquiring) {
                stopStorer(StoreBatch())
                throw storer.error ?? VolumeError.io("storing chunks failed", errno: EIO)
            }
        }
        func send() throws {
            try checkStorer()
            queue.send(batch)
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
        /// Hands the IDs that came back from the storing thread to `sink`, in order, up to the file
        /// still being read (its record does not exist yet).
        func collect(_ sink: ImportSink) throws {
            let ids = storer.results.withLock { r -> [ChunkID] in let all = r; r.removeAll(keepingCapacity: true); return all }
            var taken = 0
            for id in ids {
                let p = pending[pendingHead]
                if p.seq == openFile {
                    break
                }
                try sink.block(seq: p.seq, index: p.index, id: id, len: p.len)
                pendingHead += 1
                taken += 1
            }
            if taken < ids.count {
                let rest = ids[taken...]
                storer.results.withLock { $0.insert(contentsOf: rest, at: 0) }
            }
            if pendingHead > 4096 && pendingHead * 2 > pending.count {
                pending.removeFirst(pendingHead)
                pendingHead = 0
            }
        }

        /// Reads the whole source into `sink`, waits for every chunk to be stored and syncs them.
        func stream(_ sink: ImportSink) throws {
            progress()
            while let item = try source.next() {
                try checkStorer()
                report.entries += 1
                switch item {
                case .dropped(let d):
                    drop(d)
                case .directory(let m):
                    try checkCancelled(m)
                    current = m.path
                    try sink.directory(m)
                case .file(let m, let declared):
                    try checkCancelled(m)
                    current = m.path
                    let label = "entry \(m.entry) '\(m.path)'"
                    let replaced = try replacedSize(m)
                    if let declared { try checkCap(adding: declared - replaced, m) }
                    fileSeq += 1
                    openFile = fileSeq
                    var stored = 0
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
                        if declared == nil { try checkCap(adding: size + Int64(got) - replaced, m) }
                        if !isAllZero(data) {
                            pending.append((fileSeq, index, got))
                            stored += 1
                            batch.chunks.append(data)
                            batch.bytes += got
                            if batch.first == nil { batch.first = label }
                            batch.last = label
                            if batch.bytes >= Self.importBatchBytes || batch.chunks.count >= Self.importBatchChunks {
                                try checkCancelled(m)
                                try send()
                                try collect(sink)
                            }
                        }
                        size += Int64(got)
                        bytesOut += Int64(got)
                        index += 1
                        progress()
                        if got < want { break }
                    }
                    growth += size - replaced
                    try sink.file(m, seq: fileSeq, size: size, blocks: stored)
                    openFile = nil
                }
                progress()
            }
            try checkCancelled(nil)
            try source.finish()
            try checkStorer()
            stopStorer(batch)
            batch = StoreBatch()
            if let e = storer.error { throw e }
            try collect(sink)
            guard pendingHead == pending.count else {
                throw VolumeError.io("\(pending.count - pendingHead) stored blocks did not report back", errno: EIO)
            }
            tStream = DispatchTime.now().uptimeNanoseconds
            // The chunks are durable before the catalog references them.
            if durability == .full { try chunks.sync() }
            tSync = DispatchTime.now().uptimeNanoseconds
            try checkCancelled(nil)
            progress("committing")
        }

        func finishReport(_ w: CatalogImportWriter) {
            report.files = w.files
            report.directories = w.directories
            report.bytes = w.usage
            report.replaced = w.replaced
            for d in w.drops { drop(d) }
        }

        do {
            if volumeEmpty {
                // Rows written while streaming, in the one transaction.
                try mutate(origin: options.caller.origin) { db, events in
                    // A larger page cache for this transaction: fewer dirty pages spilled to the WAL and rewritten.
                    try db.execute(sql: "PRAGMA cache_size = -\(Self.importCacheKiB)")
                    defer { try? db.execute(sql: "PRAGMA cache_size = -16000") }
                    let w = try CatalogImportWriter(db, volume: self, destination: dest, caller: options.caller)
                    try stream(w)
                    try w.finish()
                    events = w.events
                    finishReport(w)
                }
            } else {
                // Records now, rows in one final transaction.
                let log = RecordLog(spillDir: (pool.path as NSString).deletingLastPathComponent)
                try stream(log)
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
                    finishReport(w)
                }
            }
        } catch {
            stopStorer(StoreBatch())
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
        report.inputBytes = source.bytesConsumed
        if ProcessInfo.processInfo.environment["VOLUMES_TRACE_IMPORT"] != nil {
            let tEnd = DispatchTime.now().uptimeNanoseconds
            func s(_ a: UInt64, _ b: UInt64) -> String { String(format: "%.2fs", Double(b &- a) / 1e9) }
            FileHandle.standardError.write(Data(("import phases (\(volumeEmpty ? "rows while streaming" : "records, then rows")): "
                + "stream \(s(tStart, tStream)) (storing busy \(String(format: "%.2fs", storer.busy))), "
                + "sync \(s(tStream, tSync)), commit \(s(tSync, tEnd))\n").utf8))
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
