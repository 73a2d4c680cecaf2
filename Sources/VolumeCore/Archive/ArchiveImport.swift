// Phase 1 tar.gz blobs as an import source: gzip + tar, with the Phase 1 safety rules applied entry by entry.
import Foundation

/// The upload-body cap of a Phase 1 blob: 4 GiB of compressed input.
public let phase1BlobLimit: Int64 = 4 << 30

/// Normalises archive paths and says why one cannot be imported.
enum EntryPath {
    /// The components of `raw` (a stored path, relative to the archive root), or why it is dropped.
    /// `.` components and repeated or trailing slashes go; an empty result is the archive root.
    static func components(_ raw: Data) -> Result<[String], EntryDrop> {
        if raw.first == UInt8(ascii: "/") { return .failure(.absolute) }
        guard let text = String(data: raw, encoding: .utf8) else { return .failure(.notUTF8) }
        guard raw.count <= VolumePath.maxLength else { return .failure(.pathTooLong) }
        var out: [String] = []
        for part in text.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { return .failure(.dotDot) }
            guard part.utf8.count <= VolumePath.maxNameLength else { return .failure(.nameTooLong) }
            out.append(String(part))
        }
        return .success(out)
    }
}

/// Why an entry is left out.
enum EntryDrop: Error {
    case absolute, dotDot, notUTF8, nameTooLong, pathTooLong

    var reason: String {
        switch self {
        case .absolute: return "absolute path"
        case .dotDot: return "path contains '..'"
        case .notUTF8: return "name is not valid UTF-8"
        case .nameTooLong: return "a name is longer than 255 bytes"
        case .pathTooLong: return "path is longer than 4096 bytes"
        }
    }
}

/// A gzip-compressed tar archive read as an import source, with the Phase 1 safety rules:
/// symbolic links, hard links, character and block devices, FIFOs, sparse files and unknown entry
/// types are dropped, and so are entries with an absolute path, a `..` component, a name that is
/// not UTF-8 or too long, and entries below a dropped link (a file "written through" a symlink).
/// Each drop names the entry and the reason. Regular files and directories keep mode, owner and mtime
/// (the owner is the caller's instead when `keepOwners` is false).
public final class TarArchiveSource: ImportSource {
    private let input: ByteSource
    private let gzip: GzipReader
    private let tar: TarReader
    private let caller: Caller
    private let keepOwners: Bool
    public let totalBytes: Int64?
    /// Hashes of the paths of dropped links; entries below them are dropped too.
    private var droppedLinks: Set<Int> = []

    /// Reads `input` (compressed bytes); `name` is used in messages, `totalBytes` for progress.
    public init(input: ByteSource, name: String = "the archive", totalBytes: Int64? = nil, caller: Caller = .root,
                keepOwners: Bool = true) throws {
        self.input = input
        self.totalBytes = totalBytes
        self.caller = caller
        self.keepOwners = keepOwners
        gzip = try GzipReader(input, name: name)
        tar = TarReader(gzip)
    }

    public var bytesConsumed: Int64 { gzip.compressedBytes }
    /// Bytes inflated so far (the tar stream read).
    public var uncompressedBytes: Int64 { gzip.uncompressedBytes }

    private static func key(_ comps: ArraySlice<String>) -> Int {
        var h = Hasher()
        for c in comps { h.combine(c) }
        return h.finalize()
    }

    private func clamp(_ v: Int64, _ fallback: UInt32) -> UInt32 {
        keepOwners && v >= 0 && v <= Int64(UInt32.max) ? UInt32(v) : fallback
    }

    public func next() throws -> ImportItem? {
        while let h = try tar.next() {
            func dropped(_ reason: String) -> ImportItem {
                .dropped(DroppedEntry(entry: h.index, path: h.displayPath, reason: reason))
            }
            let comps: [String]
            switch EntryPath.components(h.path) {
            case .failure(let why): return dropped(why.reason)
            case .success(let c): comps = c
            }
            // Below a link this archive had (and we dropped)?
            if !droppedLinks.isEmpty && comps.count > 1 {
                for n in 1..<comps.count where droppedLinks.contains(Self.key(comps[0..<n])) {
                    let kind = h.type == .directory ? "directory" : "entry"
                    return dropped("\(kind) below the dropped link '\(comps[0..<n].joined(separator: "/"))'")
                }
            }
            let meta = ImportMeta(components: comps, mode: h.mode, uid: clamp(h.uid, caller.uid), gid: clamp(h.gid, caller.gid),
                                  mtime: h.mtime, entry: h.index)
            switch h.type {
            case .file:
                if comps.isEmpty { return dropped("a file cannot be the archive root") }
                return .file(meta, declaredSize: h.size)
            case .directory:
                if comps.isEmpty { continue } // "./": the destination itself
                return .directory(meta)
            case .symlink, .hardLink:
                if !comps.isEmpty { droppedLinks.insert(Self.key(comps[...])) }
                let target = TarHeader.display(h.linkPath)
                return dropped(h.type == .symlink ? "symbolic link (to '\(target)')" : "hard link (to '\(target)')")
            case .characterDevice, .blockDevice, .fifo, .sparse:
                return dropped(h.type.description)
            case .gnuVolume(let c):
                if c == UInt8(ascii: "V") { continue } // a volume label is not an entry
                return dropped("multi-volume continuation")
            case .other:
                return dropped("unsupported \(h.type.description)")
            }
        }
        return nil
    }

    public func readData(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try tar.readData(into: buffer)
    }

    /// Reads the rest of the gzip stream (tar's zero padding) so every member's CRC is verified.
    public func finish() throws {
        try gzip.drain(limit: 64 << 20)
    }
}

extension Volume {
    /// Imports a gzip-compressed tar archive read from `input` into `destination`, atomically.
    /// See `importTree` for the guarantees and `TarArchiveSource` for the safety rules.
    public func importArchive(from input: ByteSource, name: String = "the archive", totalBytes: Int64? = nil,
                              into destination: String = "/", options: TransferOptions = TransferOptions()) throws -> ImportReport {
        let source = try TarArchiveSource(input: input, name: name, totalBytes: totalBytes, caller: options.caller,
                                          keepOwners: options.keepSourceOwners)
        return try importTree(from: source, into: destination, options: options)
    }
}
