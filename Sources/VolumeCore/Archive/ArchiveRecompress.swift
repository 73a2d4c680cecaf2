// A tar.gz stream (e.g. a daemon's export) written out again at a chosen gzip level while its entries are
// counted, so a remote export writes and reports what a local one does, without holding the archive.
import Foundation

/// Copies archives through the core's tar reader and gzip writer.
public enum ArchiveRecompressor {
    /// Reads the tar.gz `input` (the export of `path` in volume `volumeId`), writes the same tar stream to
    /// `sink` compressed at `level`, and counts its entries as `Volume.exportArchive` reports them (files,
    /// their bytes, directories, symlinks, hard links; `outputBytes`). The whole input is verified (every
    /// gzip member's CRC) before it returns.
    public static func copy(from input: ByteSource, to sink: ByteSink, level: Int = 6, volumeId: String, path: String,
                            total: Int64? = nil, options: TransferOptions = TransferOptions()) throws -> ExportReport {
        let gzip = try GzipReader(input, name: "the downloaded archive")
        let out = try GzipWriter(sink, level: level)
        let tee = TeeByteSource(gzip, out)
        let tar = TarReader(tee)
        var report = ExportReport(volumeId: volumeId, path: path)
        var entries = 0
        while let h = try tar.next() {
            if options.isCancelled() { throw VolumeError.interrupted("export interrupted at '\(h.displayPath)'") }
            entries += 1
            switch h.type {
            case .directory: report.directories += 1
            case .file:
                report.files += 1
                report.bytes += h.size
            case .symlink: report.symlinks += 1
            case .hardLink: report.hardLinks += 1
            default: break
            }
            options.progress?(TransferProgress(bytesIn: report.bytes, totalIn: total, bytesOut: out.compressedBytes, entries: entries,
                                               current: h.displayPath, phase: "streaming"))
        }
        // The end-of-archive blocks and the record padding, byte for byte; then the gzip trailers are checked.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { buffer.deallocate() }
        while try tee.read(into: buffer) > 0 {}
        try out.finish()
        report.outputBytes = out.compressedBytes
        return report
    }
}

/// A byte source that also writes every byte it hands out to a sink.
final class TeeByteSource: ByteSource {
    private let source: ByteSource
    private let sink: ByteSink

    init(_ source: ByteSource, _ sink: ByteSink) { self.source = source; self.sink = sink }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try source.read(into: buffer)
        if n > 0 { try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
        return n
    }
}
