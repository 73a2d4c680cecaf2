// An import source (a local directory tree) written as a tar.gz stream, e.g. to send an upload to a daemon's
// archive route: the same walk, the same drops and the same tar writer as the rest of the core.
import Foundation

/// Writes import sources as gzip-compressed tar archives.
public enum SourceArchiver {
    /// Writes every directory and file `source` yields (paths relative to the destination, with mode, owner and
    /// nanosecond mtime) to `sink` as a tar.gz, streamed. Dropped items are counted and passed to `options.onDrop`
    /// as an import counts them, and are not written. Returns a report with `entries`, the drops and `inputBytes`
    /// filled in (what the source itself knows; the receiver counts files, directories and bytes).
    /// `options.isCancelled` stops it with `interrupted`.
    public static func write(_ source: ImportSource, to sink: ByteSink, level: Int = 6, volumeId: String, destination: String,
                             options: TransferOptions = TransferOptions()) throws -> ImportReport {
        let gz = try GzipWriter(sink, level: level)
        let tar = TarWriter(gz)
        var report = ImportReport(volumeId: volumeId, destination: destination)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var bytes: Int64 = 0
        func progress(_ current: String) {
            options.progress?(TransferProgress(bytesIn: source.bytesConsumed, totalIn: source.totalBytes, bytesOut: bytes,
                                               entries: report.entries, current: current, phase: "streaming"))
        }
        func cancelled(_ m: ImportMeta) throws {
            if options.isCancelled() { throw VolumeError.interrupted("import interrupted at entry \(m.entry) '\(m.path)'; the volume is unchanged") }
        }
        while let item = try source.next() {
            report.entries += 1
            switch item {
            case .dropped(let d):
                report.droppedCount += 1
                report.droppedByReason[Volume.reasonKey(d.reason), default: 0] += 1
                if report.dropped.count < options.maxListedDrops { report.dropped.append(d) } else { report.droppedTruncated = true }
                options.onDrop?(d)
            case .directory(let m):
                try cancelled(m)
                try tar.begin(TarWriter.Entry(path: Data(m.path.utf8), type: .directory, mode: m.mode, uid: Int64(m.uid), gid: Int64(m.gid),
                                              mtime: m.mtime))
                progress(m.path)
            case .file(let m, let declared):
                try cancelled(m)
                guard let size = declared else { throw VolumeError.invalidArgument("'\(m.path)' has no known size; a tar entry needs one") }
                try tar.begin(TarWriter.Entry(path: Data(m.path.utf8), type: .file, mode: m.mode, uid: Int64(m.uid), gid: Int64(m.gid),
                                              size: size, mtime: m.mtime))
                var left = size
                while left > 0 {
                    try cancelled(m)
                    let n = try source.readData(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(min(Int64(buffer.count), left))]))
                    guard n > 0 else { throw VolumeError.io("'\(m.path)' shrank while it was being uploaded", errno: EIO) }
                    try tar.write(data: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                    left -= Int64(n)
                    bytes += Int64(n)
                    progress(m.path)
                }
            }
        }
        try source.finish()
        try tar.finish()
        report.inputBytes = source.bytesConsumed
        return report
    }
}
