// A tar.gz of a directory (as `exportArchive` writes it, e.g. streamed from a daemon) unpacked into the local
// file system through the same writer as a local download, so both leave the same tree.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Unpacks directory archives to local paths.
public enum ArchiveExtractor {
    /// Unpacks the tar.gz read from `input`, the export of directory `path` of volume `volumeId` (entries named
    /// relative to it), to `local` as `Volume.download` writes that directory: into `local` when it is an
    /// existing directory (under the directory's own name; a volume root's contents straight into it), else as
    /// `local` itself. `top` is the directory's own mode, owner and times. Entries with an absolute path or a
    /// `..` component are refused (`corrupt`) before anything is written for them; no symlink is followed (see
    /// `LocalTreeWriter`); FIFOs, sockets and device nodes are skipped and reported. The whole gzip stream is
    /// verified (every member's CRC) before the report is returned.
    public static func extract(from input: ByteSource, volumeId: String, path: VolumePath, top: LocalEntryAttributes,
                               to local: String, total: Int64? = nil, options: TransferOptions = TransferOptions()) throws -> ExportReport {
        let gzip = try GzipReader(input, name: "the downloaded archive")
        let tar = TarReader(gzip)
        let out = LocalTreeWriter(report: ExportReport(volumeId: volumeId, path: path.description), total: total, options: options)
        let base: (fd: Int32, shown: String)
        switch try out.placeTop(isDirectory: true, isRoot: path.isRoot, name: path.name, attrs: top, local: local) {
        case let .contents(fd, shown):
            base = (fd, shown)
        case let .named(pfd, name, shown):
            base = (try out.openDirectory(pfd, name, shown: shown, attrs: top), shown)
        }
        // Directories written so far, by their path in the archive ("" is the top).
        var dirs: [String: Int32] = ["": base.fd]
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }

        /// The descriptor of directory `comps` (made when the archive skipped it).
        func directory(_ comps: ArraySlice<String>) throws -> Int32 {
            let key = comps.joined(separator: "/")
            if let fd = dirs[key] { return fd }
            let parent = try directory(comps.dropLast())
            let fd = try out.openDirectory(parent, comps.last!, shown: base.shown + "/" + key, attrs: nil)
            dirs[key] = fd
            return fd
        }

        while let h = try tar.next() {
            out.counted()
            let comps = try components(h)
            if comps.isEmpty { continue } // "./": the top itself
            let name = comps.last!
            let key = comps.joined(separator: "/")
            let shown = base.shown + "/" + key
            let parent = try directory(comps.dropLast())
            let attrs = LocalEntryAttributes(mode: h.mode & 0o7777, uid: UInt32(clamping: h.uid), gid: UInt32(clamping: h.gid),
                                             atime: h.mtime, mtime: h.mtime)
            switch h.type {
            case .directory:
                if dirs[key] == nil { dirs[key] = try out.openDirectory(parent, name, shown: shown, attrs: attrs) }
            case .file:
                try out.writeFile(parent, name, attrs, size: h.size, shown: shown, linkKey: key) { put in
                    while true {
                        let n = try tar.readData(into: buffer)
                        if n == 0 { break }
                        try put(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                    }
                }
            case .hardLink:
                let target = try components(h, h.linkPath).joined(separator: "/")
                guard out.link(target, parent, name) else {
                    throw VolumeError.corrupt("entry \(h.index) '\(h.displayPath)' is a hard link to '\(TarHeader.display(h.linkPath))', which the archive did not hold before it")
                }
            case .symlink:
                out.symlink(parent, name, target: h.linkPath)
            default:
                out.skip(shown)
            }
        }
        _ = try gzip.drain(limit: 64 << 20)
        return try out.finish()
    }

    /// The components of an entry's path (or of `raw`), refusing what could leave the target directory.
    private static func components(_ h: TarHeader, _ raw: Data? = nil) throws -> [String] {
        let raw = raw ?? h.path
        if raw.first == UInt8(ascii: "/") {
            throw VolumeError.corrupt("entry \(h.index) '\(h.displayPath)' names an absolute path; nothing is written outside the target directory")
        }
        var out: [String] = []
        for part in raw.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            let name = String(decoding: part, as: UTF8.self)
            if name == "." { continue }
            if name == ".." || part.contains(0) {
                throw VolumeError.corrupt("entry \(h.index) '\(h.displayPath)' has a '..' component; nothing is written outside the target directory")
            }
            out.append(name)
        }
        return out
    }
}
