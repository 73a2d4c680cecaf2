// A volume or one of its directories back out as a tar.gz, streamed from one consistent snapshot.
import Foundation
import GRDB

extension Volume {
    /// Writes the tree at `path` as a gzip-compressed tar archive to `sink`.
    ///
    /// The whole export reads one snapshot of the catalog (later writes do not tear it). Entries
    /// are named relative to `path` (a file exports as its own name), in name order, parents
    /// before children. Directories, files (holes written as zeros), symlinks, FIFOs and hard links
    /// (the second and later names of a file become hard-link entries) keep mode, owner and mtime
    /// (nanoseconds through a pax record); sockets cannot be archived and are reported as skipped.
    public func exportArchive(_ path: String = "/", to sink: ByteSink, level: Int = 6,
                              options: TransferOptions = TransferOptions()) throws -> ExportReport {
        let gz = try GzipWriter(sink, level: level)
        let tar = TarWriter(gz)
        var report = try writeTar(path, to: tar, options: options)
        try tar.finish()
        report.outputBytes = gz.compressedBytes
        return report
    }

    /// Writes the tree at `path` as tar entries (no end marker; the caller finishes the writer).
    func writeTar(_ path: String, to tar: TarWriter, options: TransferOptions) throws -> ExportReport {
        let p = try VolumePath(path)
        try flushAll()
        let usage = try statfs().usedBytes
        return try read { db -> ExportReport in
            let (canon, top) = try resolve(db, p)
            var report = ExportReport(volumeId: id, path: canon.description)
            var firstName: [UInt64: Data] = [:]
            var entries = 0
            let total: Int64? = canon.isRoot ? usage : nil
            func progress(_ current: String) {
                options.progress?(TransferProgress(bytesIn: report.bytes, totalIn: total, bytesOut: report.bytes, entries: entries,
                                                   current: current, phase: "streaming"))
            }
            func emit(_ a: Attributes, name: Data) throws {
                if options.isCancelled() { throw VolumeError.interrupted("export interrupted at '\(TarHeader.display(name))'") }
                entries += 1
                let display = TarHeader.display(name)
                progress(display)
                var e = TarWriter.Entry(path: name, type: .file, mode: a.mode, uid: Int64(a.uid), gid: Int64(a.gid),
                                        size: 0, mtime: a.mtime)
                switch a.kind {
                case .directory:
                    e.type = .directory
                    try tar.begin(e)
                    report.directories += 1
                    for child in try Catalog.children(db, of: a.ino) {
                        try emit(child.attributes, name: name + Data("/".utf8) + child.name)
                    }
                case .symlink:
                    e.type = .symlink
                    e.linkPath = try Catalog.target(db, a.ino) ?? Data()
                    try tar.begin(e)
                    report.symlinks += 1
                case .fifo:
                    e.type = .fifo
                    try tar.begin(e)
                case .blockDevice, .characterDevice:
                    // Kept as tar keeps them, with their device numbers (an import drops them again).
                    e.type = a.kind == .blockDevice ? .blockDevice : .characterDevice
                    e.device = DeviceNumber(a.rdev)
                    try tar.begin(e)
                case .socket:
                    report.skipped.append(display)
                case .file:
                    if a.nlink > 1 {
                        if let first = firstName[a.ino] {
                            e.type = .hardLink
                            e.linkPath = first
                            try tar.begin(e)
                            report.hardLinks += 1
                            return
                        }
                        firstName[a.ino] = name
                    }
                    e.size = a.size
                    try tar.begin(e)
                    try writeFileData(db, a, to: tar) { n in
                        report.bytes += Int64(n)
                        progress(display)
                    }
                    report.files += 1
                }
            }
            if top.kind == .directory {
                for child in try Catalog.children(db, of: top.ino) { try emit(child.attributes, name: child.name) }
            } else {
                try emit(top, name: Data((canon.isRoot ? "root" : canon.name).utf8))
            }
            return report
        }
    }

    /// Streams a file's bytes block by block: stored chunks (verified against their hash), zeros for holes.
    private func writeFileData(_ db: Database, _ a: Attributes, to tar: TarWriter, wrote: (Int) -> Void) throws {
        guard a.size > 0 else { return }
        let blocks = try Catalog.blocks(db, a.ino)
        let bs = Int64(blockSize)
        let count = Int((a.size + bs - 1) / bs)
        var zeros: Data?
        for idx in 0..<count {
            let want = Int(min(bs, a.size - Int64(idx) * bs))
            if let ref = blocks[idx] {
                let data = try chunks.read(ref.chunk)
                guard data.count == ref.len else { throw VolumeError.corrupt("chunk \(ref.chunk.short) is \(data.count) bytes, its block says \(ref.len)") }
                let n = min(want, data.count)
                try tar.write(data: data.prefix(n))
                if n < want { try tar.write(data: Data(count: want - n)) }
            } else {
                if zeros == nil || zeros!.count < want { zeros = Data(count: Int(bs)) }
                try tar.write(data: zeros!.prefix(want))
            }
            wrote(want)
        }
    }
}
