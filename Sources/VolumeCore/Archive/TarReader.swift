// A streaming tar reader written for this project (no Swift tar package is available here):
// POSIX ustar, pax extended and global headers, GNU long names and links, base-256 numbers.
import Foundation

/// What a tar entry is.
public enum TarEntryType: Equatable, Sendable {
    case file, hardLink, symlink, characterDevice, blockDevice, directory, fifo
    /// An old GNU ('S') or pax GNU.sparse file: its data is stored in a compacted form.
    case sparse
    /// A GNU volume label ('V') or multi-volume continuation ('M').
    case gnuVolume(UInt8)
    /// Any other type letter.
    case other(UInt8)

    /// A short description for reports.
    public var description: String {
        switch self {
        case .file: return "file"
        case .hardLink: return "hard link"
        case .symlink: return "symbolic link"
        case .characterDevice: return "character device"
        case .blockDevice: return "block device"
        case .directory: return "directory"
        case .fifo: return "FIFO"
        case .sparse: return "sparse file"
        case .gnuVolume(let c), .other(let c):
            return c >= 0x20 && c < 0x7f ? "entry of type '\(Character(UnicodeScalar(c)))'" : "entry of type \(c)"
        }
    }
}

/// One entry's header, with pax and GNU long-name records already applied.
public struct TarHeader: Sendable {
    /// 1-based position among the archive's entries (pax and long-name records are not entries).
    public var index: Int
    /// Byte offset of the entry's (first) header in the uncompressed tar stream.
    public var offset: Int64
    /// The path as stored: raw bytes, not necessarily UTF-8.
    public var path: Data
    public var linkPath: Data
    public var type: TarEntryType
    /// Permission bits (07777).
    public var mode: UInt32
    public var uid: Int64
    public var gid: Int64
    /// Bytes of data that follow the header (for regular files, the file's size).
    public var size: Int64
    /// Modification time in nanoseconds since the epoch (pax mtimes keep their fraction).
    public var mtime: Nanos

    /// The path for messages: UTF-8 where valid, `\xNN` escapes elsewhere.
    public var displayPath: String { TarHeader.display(path) }

    static func display(_ bytes: Data) -> String {
        if let s = String(data: bytes, encoding: .utf8) { return s }
        var out = ""
        var i = bytes.startIndex
        while i < bytes.endIndex {
            // Decode the longest valid UTF-8 run, escape the byte that breaks it.
            var j = i
            while j < bytes.endIndex, bytes[j] < 0x80 { j += 1 }
            out += String(decoding: bytes[i..<j], as: UTF8.self)
            if j < bytes.endIndex {
                out += String(format: "\\x%02x", bytes[j])
                j += 1
            }
            i = j
        }
        return out
    }
}

/// Reads tar entries from an uncompressed byte stream.
///
/// `next()` returns each entry's header; `readData(into:)` then reads that entry's data (whatever is
/// not read is skipped by the next `next()`). Formats: v7, POSIX ustar (name + prefix), pax `x` and
/// `g` records (path, linkpath, size, mtime with fraction, uid, gid; empty values unset),
/// GNU `L`/`K` long names and links, GNU and old-GNU base-256 numbers, old-GNU sparse headers
/// (recognised and skipped). Errors name the entry and its offset: a bad header checksum, a number
/// field that is not a number, a stream that ends inside a header or inside data.
public final class TarReader {
    public static let blockSize = 512
    /// Largest pax record set or GNU long name accepted (they are held in memory).
    public static let maxMetaSize = 1 << 20

    private let source: ByteSource
    private let buffer: UnsafeMutableRawBufferPointer
    private var bufPos = 0
    private var bufEnd = 0
    private var sourceEOF = false
    /// Bytes consumed from the source so far (the tar stream offset).
    public private(set) var offset: Int64 = 0
    /// Data bytes of the current entry not read yet, and the padding after them.
    private var remaining: Int64 = 0
    private var padding: Int64 = 0
    private var current: TarHeader?
    private var globals: [String: Data] = [:]
    private var entries = 0
    /// The header being parsed (reused).
    private var block = [UInt8](repeating: 0, count: 512)
    /// Whether the end-of-archive marker (a zero block) has been read.
    public private(set) var reachedEnd = false

    public init(_ source: ByteSource, bufferSize: Int = 128 * 1024) {
        self.source = source
        buffer = .allocate(byteCount: bufferSize, alignment: 16)
    }

    deinit { buffer.deallocate() }

    // MARK: Buffered input

    private func fill() throws {
        if bufPos == bufEnd { bufPos = 0; bufEnd = 0 }
        guard !sourceEOF, bufEnd < buffer.count else { return }
        let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[bufEnd...]))
        if n == 0 { sourceEOF = true } else { bufEnd += n }
    }

    /// Reads up to `dest.count` bytes: from the buffer, or straight from the source for large reads.
    private func readSome(into dest: UnsafeMutableRawBufferPointer) throws -> Int {
        if bufPos == bufEnd {
            if dest.count >= buffer.count / 2 && !sourceEOF {
                let n = try source.read(into: dest)
                if n == 0 { sourceEOF = true }
                offset += Int64(n)
                return n
            }
            try fill()
            if bufPos == bufEnd { return 0 }
        }
        let n = min(dest.count, bufEnd - bufPos)
        dest.baseAddress!.copyMemory(from: buffer.baseAddress! + bufPos, byteCount: n)
        bufPos += n
        offset += Int64(n)
        return n
    }

    /// Reads exactly one 512-byte block; returns false at a clean end of stream (nothing read).
    private func readBlock(_ block: inout [UInt8]) throws -> Bool {
        var got = 0
        try block.withUnsafeMutableBytes { dest in
            while got < Self.blockSize {
                let n = try readSome(into: UnsafeMutableRawBufferPointer(rebasing: dest[got...]))
                if n == 0 { break }
                got += n
            }
        }
        if got == 0 { return false }
        if got < Self.blockSize {
            throw VolumeError.corrupt("the tar stream ends inside a header at byte \(offset) (after entry \(entries)): the archive is truncated")
        }
        return true
    }

    private func skip(_ count: Int64, what: @autoclosure () -> String) throws {
        var left = count
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { scratch.deallocate() }
        while left > 0 {
            let n = try readSome(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<Int(min(left, Int64(scratch.count)))]))
            if n == 0 { throw VolumeError.corrupt("\(what()): the archive is truncated") }
            left -= Int64(n)
        }
    }

    // MARK: Entries

    /// The next entry's header, or nil at the end of the archive.
    public func next() throws -> TarHeader? {
        if let cur = current {
            if remaining > 0 {
                try skip(remaining, what: "entry \(cur.index) '\(cur.displayPath)' declares \(cur.size) bytes but the stream ends before them")
                remaining = 0
            }
            if padding > 0 {
                try skip(padding, what: "entry \(cur.index) '\(cur.displayPath)': the stream ends in its padding")
                padding = 0
            }
            current = nil
        }
        guard !reachedEnd else { return nil }
        var local: [String: Data] = [:]
        var longName: Data?
        var longLink: Data?
        while true {
            let start = offset
            guard try readBlock(&block) else {
                // The stream ended without an end-of-archive marker; if there were pending records, that is truncation.
                if !local.isEmpty || longName != nil || longLink != nil {
                    throw VolumeError.corrupt("the tar stream ends after a pax or long-name record at byte \(start), before its entry: the archive is truncated")
                }
                reachedEnd = true
                return nil
            }
            if block.withUnsafeBytes({ Self.isZero($0) }) {
                reachedEnd = true
                return nil
            }
            let index = entries + 1
            try verifyChecksum(block, index: index, at: start)
            let typeflag = block[156]
            let size = try number(block, 124, 12, "size", index: index, at: start)
            guard size >= 0 else { throw VolumeError.corrupt("entry \(index) at byte \(start) declares a negative size") }
            switch typeflag {
            case UInt8(ascii: "x"), UInt8(ascii: "g"), UInt8(ascii: "X"):
                let data = try readMeta(size, what: "pax header", index: index, at: start)
                let records = try Self.parsePax(data, index: index, at: start)
                if typeflag == UInt8(ascii: "g") {
                    for (k, v) in records { if v.isEmpty { globals[k] = nil } else { globals[k] = v } }
                } else {
                    for (k, v) in records { local[k] = v }
                }
                continue
            case UInt8(ascii: "L"):
                longName = Self.cString(try readMeta(size, what: "GNU long name", index: index, at: start))
                continue
            case UInt8(ascii: "K"):
                longLink = Self.cString(try readMeta(size, what: "GNU long link", index: index, at: start))
                continue
            default:
                break
            }
            entries += 1
            var h = try header(block, index: index, at: start)
            var sparse = false
            // Old GNU sparse: extension headers follow the header and are not counted in size.
            if typeflag == UInt8(ascii: "S") {
                sparse = true
                var extended = block[482] != 0
                while extended {
                    guard try readBlock(&block) else {
                        throw VolumeError.corrupt("entry \(index) at byte \(start): the stream ends inside its sparse headers: the archive is truncated")
                    }
                    extended = block[504] != 0
                }
            }
            // pax records: global ones, then this entry's (an empty value unsets a global one).
            var pax = globals
            for (k, v) in local { if v.isEmpty { pax[k] = nil } else { pax[k] = v } }
            if let p = pax["path"] { h.path = p }
            if let l = pax["linkpath"] { h.linkPath = l }
            if let s = pax["size"] {
                guard let v = Int64(String(decoding: s, as: UTF8.self)), v >= 0 else {
                    throw VolumeError.corrupt("entry \(index) at byte \(start): pax size '\(String(decoding: s, as: UTF8.self))' is not a size")
                }
                h.size = v
            }
            if let m = pax["mtime"] {
                guard let v = Self.parsePaxTime(m) else {
                    throw VolumeError.corrupt("entry \(index) at byte \(start): pax mtime '\(String(decoding: m, as: UTF8.self))' is not a time")
                }
                h.mtime = v
            }
            if let u = pax["uid"], let v = Int64(String(decoding: u, as: UTF8.self)) { h.uid = v }
            if let g = pax["gid"], let v = Int64(String(decoding: g, as: UTF8.self)) { h.gid = v }
            if pax.keys.contains(where: { $0.hasPrefix("GNU.sparse.") }) { sparse = true }
            if let n = longName { h.path = n }
            if let l = longLink { h.linkPath = l }
            if sparse { h.type = .sparse }
            // Directories carry no data we keep, but a size may be declared (GNU dumpdir); skip it.
            remaining = h.size
            padding = (Int64(Self.blockSize) - h.size % Int64(Self.blockSize)) % Int64(Self.blockSize)
            // Hard links and symlinks store no data whatever their size field says (POSIX).
            if h.type == .hardLink || h.type == .symlink || h.type == .characterDevice || h.type == .blockDevice || h.type == .fifo {
                if pax["size"] == nil { remaining = 0; padding = 0; h.size = 0 }
            }
            current = h
            return h
        }
    }

    /// Reads up to `dest.count` bytes of the current entry's data; 0 at its end.
    /// Fails when the stream ends before the size the header declared.
    public func readData(into dest: UnsafeMutableRawBufferPointer) throws -> Int {
        guard remaining > 0, let cur = current else { return 0 }
        let want = Int(min(Int64(dest.count), remaining))
        let n = try readSome(into: UnsafeMutableRawBufferPointer(rebasing: dest[0..<want]))
        if n == 0 {
            throw VolumeError.corrupt("entry \(cur.index) '\(cur.displayPath)' declares \(cur.size) bytes but the stream ends after \(cur.size - remaining): the archive is truncated or the header lies about the size")
        }
        remaining -= Int64(n)
        return n
    }

    /// Data bytes of the current entry still to read.
    public var remainingData: Int64 { remaining }

    // MARK: Header fields

    private func header(_ b: [UInt8], index: Int, at start: Int64) throws -> TarHeader {
        // "ustar\0": POSIX (prefix field in use); "ustar " is GNU, whose bytes there mean something else.
        let isPosix = b[257] == 0x75 && b[258] == 0x73 && b[259] == 0x74 && b[260] == 0x61 && b[261] == 0x72 && b[262] == 0
        var name = Self.field(b, 0, 100)
        if isPosix {
            let prefix = Self.field(b, 345, 155)
            if !prefix.isEmpty { name = prefix + Data("/".utf8) + name }
        }
        let typeflag = b[156]
        let type: TarEntryType
        switch typeflag {
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"):
            // v7 archives mark directories with a trailing slash only.
            type = name.last == UInt8(ascii: "/") ? .directory : .file
        case UInt8(ascii: "1"): type = .hardLink
        case UInt8(ascii: "2"): type = .symlink
        case UInt8(ascii: "3"): type = .characterDevice
        case UInt8(ascii: "4"): type = .blockDevice
        case UInt8(ascii: "5"), UInt8(ascii: "D"): type = .directory
        case UInt8(ascii: "6"): type = .fifo
        case UInt8(ascii: "S"): type = .sparse
        case UInt8(ascii: "V"), UInt8(ascii: "M"): type = .gnuVolume(typeflag)
        default: type = .other(typeflag)
        }
        let mode = try number(b, 100, 8, "mode", index: index, at: start)
        let mtime = try number(b, 136, 12, "mtime", index: index, at: start)
        let (secs, overflow) = mtime.multipliedReportingOverflow(by: 1_000_000_000)
        return TarHeader(
            index: index, offset: start, path: name, linkPath: Self.field(b, 157, 100), type: type,
            mode: UInt32(truncatingIfNeeded: mode) & 0o7777,
            uid: try number(b, 108, 8, "uid", index: index, at: start),
            gid: try number(b, 116, 8, "gid", index: index, at: start),
            size: try number(b, 124, 12, "size", index: index, at: start),
            mtime: overflow ? (mtime < 0 ? Int64.min : Int64.max) : secs)
    }

    private func verifyChecksum(_ b: [UInt8], index: Int, at start: Int64) throws {
        // The sum of all bytes with the checksum field counted as spaces; old tars summed signed bytes.
        let (unsigned, signed) = b.withUnsafeBufferPointer { p -> (Int64, Int64) in
            var u = 0, s = 0
            for i in 0..<Self.blockSize {
                let c = i >= 148 && i < 156 ? UInt8(ascii: " ") : p[i]
                u &+= Int(c)
                s &+= Int(Int8(bitPattern: c))
            }
            return (Int64(u), Int64(s))
        }
        guard let stored = Self.octal(b, 148, 8) else {
            throw VolumeError.corrupt("entry \(index) at byte \(start) is not a tar header (its checksum field is not a number): the archive is corrupt, or the previous entry's size is wrong")
        }
        guard stored == unsigned || stored == signed else {
            throw VolumeError.corrupt("entry \(index) at byte \(start) has a bad header checksum (stored \(stored), computed \(unsigned)): the archive is corrupt, or the previous entry's size is wrong")
        }
    }

    private func number(_ b: [UInt8], _ at: Int, _ len: Int, _ what: String, index: Int, at start: Int64) throws -> Int64 {
        if b[at] & 0x80 != 0 {
            // GNU base-256: big-endian two's complement; the first byte's top bit marks the format.
            let negative = b[at] & 0x40 != 0
            var v: Int64 = negative ? -1 : 0
            for i in 0..<len {
                let byte = i == 0 ? (negative ? b[at] : b[at] & 0x7f) : b[at + i]
                guard negative ? v >= (Int64.min >> 8) : v <= (Int64.max >> 8) else {
                    throw VolumeError.corrupt("entry \(index) at byte \(start): field '\(what)' is out of range")
                }
                v = (v << 8) | Int64(byte)
            }
            return v
        }
        guard let v = Self.octal(b, at, len) else {
            throw VolumeError.corrupt("entry \(index) at byte \(start): field '\(what)' is not an octal number")
        }
        return v
    }

    static func isZero(_ raw: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        while i + 8 <= raw.count {
            if raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) != 0 { return false }
            i += 8
        }
        while i < raw.count { if raw[i] != 0 { return false }; i += 1 }
        return true
    }

    /// Parses an octal field: optional leading spaces, digits, then space or NUL. Empty is 0.
    static func octal(_ b: [UInt8], _ at: Int, _ len: Int) -> Int64? {
        var i = at
        let end = at + len
        while i < end && (b[i] == UInt8(ascii: " ") || b[i] == 0) {
            if b[i] == 0 && i == at { return 0 } // a field of NULs is 0
            i += 1
        }
        var v: Int64 = 0
        var digits = 0
        while i < end, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "7") {
            guard v <= (Int64.max >> 3) else { return nil }
            v = v << 3 | Int64(b[i] - UInt8(ascii: "0"))
            i += 1
            digits += 1
        }
        while i < end {
            guard b[i] == UInt8(ascii: " ") || b[i] == 0 else { return nil }
            i += 1
        }
        return v
    }

    /// A NUL-terminated (or full-width) field.
    static func field(_ b: [UInt8], _ at: Int, _ len: Int) -> Data {
        var end = at
        while end < at + len && b[end] != 0 { end += 1 }
        return Data(b[at..<end])
    }

    static func cString(_ d: Data) -> Data {
        if let z = d.firstIndex(of: 0) { return d[d.startIndex..<z] }
        return d
    }

    private func readMeta(_ size: Int64, what: String, index: Int, at start: Int64) throws -> Data {
        guard size <= Int64(Self.maxMetaSize) else {
            throw VolumeError.corrupt("entry \(index) at byte \(start): a \(what) of \(size) bytes is larger than the \(Self.maxMetaSize) accepted")
        }
        var data = Data(count: Int(size))
        let got = try data.withUnsafeMutableBytes { dest -> Int in
            var got = 0
            while got < dest.count {
                let n = try readSome(into: UnsafeMutableRawBufferPointer(rebasing: dest[got...]))
                if n == 0 { break }
                got += n
            }
            return got
        }
        if got < Int(size) {
            throw VolumeError.corrupt("entry \(index) at byte \(start): the stream ends inside a \(what): the archive is truncated")
        }
        let pad = (Int64(Self.blockSize) - size % Int64(Self.blockSize)) % Int64(Self.blockSize)
        try skip(pad, what: "entry \(index) at byte \(start): the stream ends after a \(what)")
        return data
    }

    /// Parses pax records: "LEN key=value\n", LEN counting the whole record.
    static func parsePax(_ data: Data, index: Int, at start: Int64) throws -> [(String, Data)] {
        var out: [(String, Data)] = []
        var i = data.startIndex
        func bad(_ why: String) -> VolumeError { .corrupt("entry \(index) at byte \(start): malformed pax header (\(why))") }
        while i < data.endIndex {
            if data[i] == 0 { break } // some writers pad with NULs
            var len = 0
            var j = i
            while j < data.endIndex, data[j] >= UInt8(ascii: "0"), data[j] <= UInt8(ascii: "9") {
                len = len * 10 + Int(data[j] - UInt8(ascii: "0"))
                guard len <= data.count else { throw bad("record length out of range") }
                j += 1
            }
            guard j < data.endIndex, data[j] == UInt8(ascii: " "), len > j - i + 1 else { throw bad("no record length") }
            let recEnd = i + len
            guard recEnd <= data.endIndex, data[recEnd - 1] == UInt8(ascii: "\n") else { throw bad("record length does not match") }
            let body = data[(j + 1)..<(recEnd - 1)]
            guard let eq = body.firstIndex(of: UInt8(ascii: "=")) else { throw bad("record without '='") }
            let key = String(decoding: body[body.startIndex..<eq], as: UTF8.self)
            out.append((key, Data(body[(eq + 1)...])))
            i = recEnd
        }
        return out
    }

    /// Parses a pax time: "[-]seconds[.fraction]", to nanoseconds.
    static func parsePaxTime(_ d: Data) -> Nanos? {
        let s = String(decoding: d, as: UTF8.self)
        var text = Substring(s)
        var negative = false
        if text.hasPrefix("-") { negative = true; text = text.dropFirst() }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let secPart = parts.first, !secPart.isEmpty, secPart.allSatisfy(\.isASCII), let secs = Int64(secPart) else { return nil }
        var nanos: Int64 = 0
        if parts.count == 2 {
            let frac = parts[1]
            guard frac.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            let digits = String(frac.prefix(9)).padding(toLength: 9, withPad: "0", startingAt: 0)
            nanos = Int64(digits) ?? 0
        }
        let (a, o1) = secs.multipliedReportingOverflow(by: 1_000_000_000)
        let (v, o2) = a.addingReportingOverflow(nanos)
        guard !o1, !o2 else { return nil }
        return negative ? -v : v
    }
}
