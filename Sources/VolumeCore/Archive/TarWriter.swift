// A tar writer: POSIX ustar headers, with a pax extended header only where ustar cannot hold a field.
import Foundation

/// Writes a tar stream to a sink: ustar headers, plus a pax `x` record before an entry whose path
/// or link does not fit ustar's name/prefix fields, whose size, uid or gid is too large for octal,
/// whose mtime has a fraction of a second, or whose long name is not UTF-8 (`hdrcharset=BINARY`).
/// GNU tar, bsdtar and Python's tarfile read the result.
public final class TarWriter {
    private let sink: ByteSink
    private var block = [UInt8](repeating: 0, count: 512)
    /// Bytes written so far (the tar stream offset).
    public private(set) var offset: Int64 = 0
    private var pendingPad = 0
    private var remaining: Int64 = 0

    public init(_ sink: ByteSink) { self.sink = sink }

    /// One entry to write. `path` is relative, `/`-separated; directories get a trailing `/`.
    public struct Entry {
        public var path: Data
        public var type: TarEntryType
        public var mode: UInt32
        public var uid: Int64 = 0
        public var gid: Int64 = 0
        public var size: Int64 = 0
        public var mtime: Nanos = 0
        public var linkPath = Data()
        /// A device node's major and minor numbers (written for block and character devices only).
        public var device = DeviceNumber(major: 0, minor: 0)
        public init(path: Data, type: TarEntryType, mode: UInt32, uid: Int64 = 0, gid: Int64 = 0, size: Int64 = 0,
                    mtime: Nanos = 0, linkPath: Data = Data()) {
            self.path = path; self.type = type; self.mode = mode; self.uid = uid; self.gid = gid
            self.size = size; self.mtime = mtime; self.linkPath = linkPath
        }
    }

    private static let maxOctal8: Int64 = 0o7777777
    private static let maxOctal12: Int64 = 0o77777777777

    /// Writes an entry's header(s). For a regular file, `write(data:)` must then supply exactly `size` bytes.
    public func begin(_ e: Entry) throws {
        guard remaining == 0 else { throw VolumeError.invalidArgument("tar entry started before the previous one's data was complete") }
        try finishData()
        var path = e.path
        if e.type == .directory && path.last != UInt8(ascii: "/") { path.append(UInt8(ascii: "/")) }
        var pax: [(String, Data)] = []
        let split = Self.split(path)
        if split == nil { pax.append(("path", path)) }
        if e.linkPath.count > 100 { pax.append(("linkpath", e.linkPath)) }
        if e.size > Self.maxOctal12 { pax.append(("size", Data(String(e.size).utf8))) }
        if e.uid < 0 || e.uid > Self.maxOctal8 { pax.append(("uid", Data(String(e.uid).utf8))) }
        if e.gid < 0 || e.gid > Self.maxOctal8 { pax.append(("gid", Data(String(e.gid).utf8))) }
        let secs = Self.floorDiv(e.mtime, 1_000_000_000)
        let frac = e.mtime - secs * 1_000_000_000
        if frac != 0 || secs < 0 || secs > Self.maxOctal12 { pax.append(("mtime", Data(Self.paxTime(secs, frac).utf8))) }
        let binary = pax.contains { ($0.0 == "path" || $0.0 == "linkpath") && String(data: $0.1, encoding: .utf8) == nil }
        if binary { pax.insert(("hdrcharset", Data("BINARY".utf8)), at: 0) }
        if !pax.isEmpty {
            var body = Data()
            for (k, v) in pax { body += Self.paxRecord(k, v) }
            // The pax header's own name, as GNU tar spells it (truncated to fit).
            var name = Data("PaxHeaders/".utf8) + Data((path.split(separator: UInt8(ascii: "/")).last ?? Data()).prefix(80))
            if String(data: name, encoding: .utf8) == nil { name = Data("PaxHeaders/entry".utf8) }
            try header(name: (Data(), name), type: UInt8(ascii: "x"), mode: 0o644, uid: 0, gid: 0, size: Int64(body.count),
                       mtime: max(0, min(secs, Self.maxOctal12)), link: Data())
            try raw(body)
            try pad(body.count)
        }
        let typeflag: UInt8
        switch e.type {
        case .file: typeflag = UInt8(ascii: "0")
        case .hardLink: typeflag = UInt8(ascii: "1")
        case .symlink: typeflag = UInt8(ascii: "2")
        case .characterDevice: typeflag = UInt8(ascii: "3")
        case .blockDevice: typeflag = UInt8(ascii: "4")
        case .directory: typeflag = UInt8(ascii: "5")
        case .fifo: typeflag = UInt8(ascii: "6")
        default: throw VolumeError.invalidArgument("cannot write a tar \(e.type.description)")
        }
        let names = split ?? (Data(), Self.truncatedName(path))
        let size = e.type == .file ? e.size : 0
        try header(name: names, type: typeflag, mode: e.mode, uid: min(max(e.uid, 0), Self.maxOctal8),
                   gid: min(max(e.gid, 0), Self.maxOctal8), size: size,
                   mtime: max(0, min(secs, Self.maxOctal12)), link: e.linkPath.prefix(100),
                   device: e.type == .blockDevice || e.type == .characterDevice ? e.device : nil)
        remaining = size
        pendingPad = Int((512 - size % 512) % 512)
    }

    /// Writes data of the current regular file.
    public func write(data: UnsafeRawBufferPointer) throws {
        guard Int64(data.count) <= remaining else { throw VolumeError.invalidArgument("more tar data than the entry's size") }
        try sink.write(data)
        offset += Int64(data.count)
        remaining -= Int64(data.count)
    }

    public func write(data: Data) throws { try data.withUnsafeBytes { try write(data: $0) } }

    private func finishData() throws {
        if pendingPad > 0 {
            try raw(Data(count: pendingPad))
            pendingPad = 0
        }
    }

    /// Writes the end-of-archive marker (two zero blocks) and pads to a 10 KiB record, as tar does.
    public func finish() throws {
        guard remaining == 0 else { throw VolumeError.invalidArgument("the last tar entry's data is incomplete") }
        try finishData()
        try raw(Data(count: 1024))
        let record: Int64 = 10240
        let tail = Int((record - offset % record) % record)
        if tail > 0 { try raw(Data(count: tail)) }
        try sink.finish()
    }

    // MARK: Encoding

    private func raw(_ d: Data) throws {
        try sink.write(d)
        offset += Int64(d.count)
    }

    private func pad(_ n: Int) throws {
        let p = (512 - n % 512) % 512
        if p > 0 { try raw(Data(count: p)) }
    }

    private func header(name: (prefix: Data, name: Data), type: UInt8, mode: UInt32, uid: Int64, gid: Int64,
                        size: Int64, mtime: Int64, link: Data, device: DeviceNumber? = nil) throws {
        for i in 0..<512 { block[i] = 0 }
        put(name.name, at: 0, len: 100)
        octal(Int64(mode & 0o7777), at: 100, len: 8)
        octal(uid, at: 108, len: 8)
        octal(gid, at: 116, len: 8)
        if size > Self.maxOctal12 {
            // GNU base-256 in the header too (the pax size is authoritative).
            block[124] = 0x80
            var v = size
            for i in stride(from: 135, to: 124, by: -1) { block[i] = UInt8(v & 0xff); v >>= 8 }
        } else {
            octal(size, at: 124, len: 12)
        }
        octal(mtime, at: 136, len: 12)
        block[156] = type
        put(link, at: 157, len: 100)
        put(Data("ustar\0".utf8), at: 257, len: 6)
        put(Data("00".utf8), at: 263, len: 2)
        octal(min(Int64(device?.major ?? 0), Self.maxOctal8), at: 329, len: 8)
        octal(min(Int64(device?.minor ?? 0), Self.maxOctal8), at: 337, len: 8)
        put(name.prefix, at: 345, len: 155)
        for i in 148..<156 { block[i] = UInt8(ascii: " ") }
        let sum = block.reduce(0) { $0 + Int64($1) }
        let s = Array(String(format: "%06o", sum).utf8)
        for i in 0..<6 { block[148 + i] = s[i] }
        block[154] = 0
        block[155] = UInt8(ascii: " ")
        try block.withUnsafeBytes { try sink.write($0) }
        offset += 512
    }

    private func put(_ d: Data, at: Int, len: Int) {
        for (i, b) in d.prefix(len).enumerated() { block[at + i] = b }
    }

    /// Zero-padded octal with a NUL terminator, filling `len` bytes.
    private func octal(_ v: Int64, at: Int, len: Int) {
        let s = Array(String(v, radix: 8).utf8)
        let digits = len - 1
        let pad = max(0, digits - s.count)
        for i in 0..<pad { block[at + i] = UInt8(ascii: "0") }
        for (i, c) in s.suffix(digits).enumerated() { block[at + pad + i] = c }
        block[at + digits] = 0
    }

    /// Splits a path into ustar (prefix, name), or nil when it does not fit.
    static func split(_ path: Data) -> (Data, Data)? {
        if path.count <= 100 { return (Data(), path) }
        guard path.count <= 256 else { return nil }
        let bytes = [UInt8](path)
        // The last '/' that leaves the name at most 100 bytes and the prefix at most 155.
        // (A directory's trailing '/' stays with the name.)
        var i = min(155, bytes.count - 2)
        while i > 0 {
            if bytes[i] == UInt8(ascii: "/") && bytes.count - i - 1 <= 100 && bytes.count - i - 1 > 0 {
                return (Data(bytes[0..<i]), Data(bytes[(i + 1)...]))
            }
            i -= 1
        }
        return nil
    }

    static func truncatedName(_ path: Data) -> Data {
        // What a reader that ignores pax sees: the tail of the path.
        Data(path.suffix(100))
    }

    static func paxRecord(_ key: String, _ value: Data) -> Data {
        let body = Data(" \(key)=".utf8) + value + Data("\n".utf8)
        var len = body.count + 1
        while String(len).utf8.count + body.count != len { len = String(len).utf8.count + body.count }
        return Data(String(len).utf8) + body
    }

    static func paxTime(_ secs: Int64, _ frac: Int64) -> String {
        if frac == 0 { return String(secs) }
        if secs < 0 && frac > 0 {
            // Negative times: -(|t|) with its own fraction.
            let total = secs * 1_000_000_000 + frac
            let a = -total
            return "-" + paxTime(a / 1_000_000_000, a % 1_000_000_000)
        }
        var f = String(format: "%09lld", frac)
        while f.hasSuffix("0") { f.removeLast() }
        return "\(secs).\(f)"
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}
