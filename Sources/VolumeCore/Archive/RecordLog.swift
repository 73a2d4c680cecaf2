// The import's per-entry records: compact, append-only, kept in memory up to a limit and spilled to an
// unlinked file beside the catalogs after that, so an import's memory stays flat whatever its entry count.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Records of an import in progress, in source order: directories ('D'), files ('F') and the files'
/// stored blocks ('B', which may come after later files' records: chunk IDs arrive as blocks are
/// stored). Written by the catalog thread, then (after it is done) read once by the final catalog transaction.
final class RecordLog: @unchecked Sendable {
    static let memoryLimit = 4 << 20
    private var buf: [UInt8] = []
    private var fd: Int32 = -1
    private var spilled: Int64 = 0
    private let spillDir: String
    /// Records written.
    private(set) var count = 0

    init(spillDir: String) {
        self.spillDir = spillDir
        buf.reserveCapacity(Self.memoryLimit + 64 * 1024)
    }

    deinit { if fd >= 0 { close(fd) } }

    // MARK: Writing

    private func u8(_ v: UInt8) { buf.append(v) }
    private func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { buf.append(contentsOf: $0) } }
    private func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { buf.append(contentsOf: $0) } }
    private func i64(_ v: Int64) { withUnsafeBytes(of: v.littleEndian) { buf.append(contentsOf: $0) } }

    private func meta(_ m: ImportMeta) {
        u32(UInt32(truncatingIfNeeded: m.entry))
        u32(m.mode)
        u32(m.uid)
        u32(m.gid)
        i64(m.mtime)
        let path = Array(m.path.utf8)
        u16(UInt16(path.count))
        buf.append(contentsOf: path)
    }

    func directory(_ m: ImportMeta) throws {
        u8(UInt8(ascii: "D"))
        meta(m)
        count += 1
        try spillIfNeeded()
    }

    func file(_ m: ImportMeta, seq: Int, size: Int64, blocks: Int) throws {
        u8(UInt8(ascii: "F"))
        meta(m)
        i64(Int64(seq))
        i64(size)
        i64(Int64(blocks))
        count += 1
        try spillIfNeeded()
    }

    func block(seq: Int, index: Int64, id: ChunkID, len: Int) throws {
        u8(UInt8(ascii: "B"))
        i64(Int64(seq))
        i64(index)
        buf.append(contentsOf: id.bytes)
        u32(UInt32(len))
        try spillIfNeeded()
    }

    private func spillIfNeeded() throws {
        guard buf.count >= Self.memoryLimit else { return }
        if fd < 0 {
            var template = Array((spillDir + "/.import-records-XXXXXX").utf8CString)
            fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else { throw VolumeError.io("create the import's record file in \(spillDir)", errno: errno) }
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        }
        try buf.withUnsafeBytes { raw in try writeAll(fd, raw, at: spilled, "write the import's record file") }
        spilled += Int64(buf.count)
        buf.removeAll(keepingCapacity: true)
    }

    // MARK: Reading

    enum Record {
        case directory(ImportMeta)
        case file(ImportMeta, seq: Int, size: Int64, blocks: Int)
        case block(seq: Int, index: Int64, id: ChunkID, len: Int)
    }

    /// A sequential reader; call `next()` for each record and `block()` `blockCount` times after a file.
    final class Reader {
        private let log: RecordLog
        private var window: [UInt8] = []
        private var pos = 0
        private var fileOffset: Int64 = 0
        private var inMemory = false

        init(_ log: RecordLog) { self.log = log }

        /// Makes `n` bytes available at `pos`; false at the end of the log.
        private func ensure(_ n: Int) throws -> Bool {
            if window.count - pos >= n { return true }
            window.removeSubrange(0..<pos)
            pos = 0
            while window.count < n {
                if fileOffset < log.spilled {
                    let want = Int(min(Int64(1 << 20), log.spilled - fileOffset))
                    let old = window.count
                    window.append(contentsOf: repeatElement(0, count: want))
                    let got = try window.withUnsafeMutableBytes { raw -> Int in
                        var got = 0
                        while got < want {
                            let r = try syscall("read the import's record file") {
                                pread(log.fd, raw.baseAddress! + old + got, want - got, off_t(fileOffset) + off_t(got))
                            }
                            if r == 0 { break }
                            got += r
                        }
                        return got
                    }
                    guard got == want else { throw VolumeError.io("the import's record file is short", errno: EIO) }
                    fileOffset += Int64(want)
                } else if !inMemory {
                    inMemory = true
                    window.append(contentsOf: log.buf)
                } else {
                    return false
                }
            }
            return true
        }

        private func u32() -> UInt32 {
            var v: UInt32 = 0
            withUnsafeMutableBytes(of: &v) { $0.copyBytes(from: window[pos..<(pos + 4)]) }
            pos += 4
            return UInt32(littleEndian: v)
        }

        private func i64() -> Int64 {
            var v: Int64 = 0
            withUnsafeMutableBytes(of: &v) { $0.copyBytes(from: window[pos..<(pos + 8)]) }
            pos += 8
            return Int64(littleEndian: v)
        }

        private func meta() throws -> ImportMeta {
            guard try ensure(26) else { throw VolumeError.io("the import's record file is truncated", errno: EIO) }
            let entry = Int(u32()), mode = u32(), uid = u32(), gid = u32(), mtime = i64()
            let len = Int(UInt16(window[pos]) | UInt16(window[pos + 1]) << 8)
            pos += 2
            guard try ensure(len) else { throw VolumeError.io("the import's record file is truncated", errno: EIO) }
            let path = String(decoding: window[pos..<(pos + len)], as: UTF8.self)
            pos += len
            let comps = path.isEmpty ? [] : path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            return ImportMeta(components: comps, mode: mode, uid: uid, gid: gid, mtime: mtime, entry: entry)
        }

        func next() throws -> Record? {
            guard try ensure(1) else { return nil }
            let tag = window[pos]
            pos += 1
            switch tag {
            case UInt8(ascii: "D"):
                return .directory(try meta())
            case UInt8(ascii: "F"):
                let m = try meta()
                guard try ensure(24) else { throw VolumeError.io("the import's record file is truncated", errno: EIO) }
                let seq = Int(i64()), size = i64(), n = Int(i64())
                return .file(m, seq: seq, size: size, blocks: n)
            case UInt8(ascii: "B"):
                guard try ensure(52) else { throw VolumeError.io("the import's record file is truncated", errno: EIO) }
                let seq = Int(i64()), idx = i64()
                let id = ChunkID(bytes: Data(window[pos..<(pos + 32)]))!
                pos += 32
                return .block(seq: seq, index: idx, id: id, len: Int(u32()))
            default:
                throw VolumeError.io("the import's record file is damaged", errno: EIO)
            }
        }
    }

    func reader() -> Reader { Reader(self) }
}
