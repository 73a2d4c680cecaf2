// Streaming gzip through the system zlib: a reader that inflates multi-member streams, and a writer.
import CSupport
import Foundation

/// Inflates a gzip stream read from `source`, member after member (`cat a.gz b.gz` is one stream).
///
/// Every member's CRC-32 and length are checked by zlib when the member ends, so reading to the
/// end (`read` returns 0) proves the whole stream intact. A stream that stops before its last
/// member's trailer is `corrupt` ("truncated"); bytes after the last member that are not another
/// member are `corrupt` ("trailing garbage"), except zero padding, which gzip(1) also accepts.
public final class GzipReader: ByteSource {
    private let source: ByteSource
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutableRawBufferPointer
    private var inputEOF = false
    private var memberEnded = false
    private var finished = false
    private var started = false
    /// Members fully read so far.
    public private(set) var members = 0
    /// Compressed bytes consumed by the inflater so far.
    public private(set) var compressedBytes: Int64 = 0
    /// Decompressed bytes produced so far.
    public private(set) var uncompressedBytes: Int64 = 0
    /// What the input is called in messages.
    public let name: String

    public init(_ source: ByteSource, name: String = "the archive", bufferSize: Int = 256 * 1024) throws {
        self.source = source
        self.name = name
        input = .allocate(byteCount: bufferSize, alignment: 16)
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // 15 + 16: a gzip wrapper only (a raw zlib or deflate stream is not a Phase 1 blob).
        let r = csupport_inflate_init2(stream, 15 + 16)
        guard r == Z_OK else {
            stream.deallocate()
            input.deallocate()
            throw VolumeError.io("zlib inflateInit2 failed (\(r))", errno: ENOMEM)
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        input.deallocate()
    }

    private func refill() throws {
        guard stream.pointee.avail_in == 0, !inputEOF else { return }
        let n = try source.read(into: input)
        if n == 0 { inputEOF = true; return }
        stream.pointee.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_in = uInt(n)
        if !started {
            started = true
            let p = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
            if n >= 2 && !(p[0] == 0x1f && p[1] == 0x8b) {
                throw VolumeError.invalidArgument("\(name) is not gzip data (it starts with \(Self.hex(p, min(n, 4)))); a Phase 1 blob is a gzip-compressed tar archive")
            }
        }
    }

    private static func hex(_ p: UnsafePointer<UInt8>, _ n: Int) -> String {
        (0..<n).map { String(format: "%02x", p[$0]) }.joined(separator: " ")
    }

    /// After a member's trailer: the end, zero padding, another member, or garbage.
    private func startNextMember() throws -> Bool {
        while true {
            try refill()
            if stream.pointee.avail_in == 0 { finished = true; return false }
            let p = stream.pointee.next_in!
            // Skip zero padding (some writers pad the blob to a block size).
            var zeros = 0
            while zeros < Int(stream.pointee.avail_in) && p[zeros] == 0 { zeros += 1 }
            if zeros > 0 {
                stream.pointee.next_in = p + zeros
                stream.pointee.avail_in -= uInt(zeros)
                compressedBytes += Int64(zeros)
                continue
            }
            if p[0] != 0x1f {
                throw VolumeError.corrupt("\(name) has trailing garbage after gzip member \(members) (at compressed byte \(compressedBytes))")
            }
            inflateReset(stream)
            memberEnded = false
            return true
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        while true {
            if finished { return 0 }
            if memberEnded, try !startNextMember() { return 0 }
            try refill()
            if !started && inputEOF { throw VolumeError.corrupt("\(name) is empty: no gzip data at all") }
            let availIn = stream.pointee.avail_in
            stream.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(min(buffer.count, Int(UInt32.max)))
            let r = inflate(stream, Z_NO_FLUSH)
            let produced = min(buffer.count, Int(UInt32.max)) - Int(stream.pointee.avail_out)
            compressedBytes += Int64(availIn - stream.pointee.avail_in)
            uncompressedBytes += Int64(produced)
            switch r {
            case Z_OK:
                break
            case Z_BUF_ERROR:
                // No progress was possible: more input comes from refill, unless there is none.
                if produced == 0 && stream.pointee.avail_in == 0 && inputEOF {
                    throw VolumeError.corrupt("\(name) is truncated: the gzip stream ends after \(compressedBytes) compressed bytes, before its trailer")
                }
            case Z_STREAM_END:
                members += 1
                memberEnded = true
            case Z_DATA_ERROR, Z_NEED_DICT:
                let msg = stream.pointee.msg.map { String(cString: $0) } ?? "invalid data"
                let what = msg == "incorrect data check" ? "incorrect data check (CRC-32 mismatch)"
                    : msg == "incorrect length check" ? "incorrect length check (ISIZE mismatch)" : msg
                throw VolumeError.corrupt("\(name) has corrupt gzip data near compressed byte \(compressedBytes): \(what)")
            case Z_MEM_ERROR:
                throw VolumeError.io("zlib is out of memory", errno: ENOMEM)
            default:
                throw VolumeError.corrupt("\(name): zlib inflate failed (\(r))")
            }
            if produced > 0 { return produced }
        }
    }

    /// Reads and discards the rest of the stream, at most `limit` bytes, so every CRC is checked.
    /// Returns how many bytes were discarded; fails when more than `limit` remain.
    @discardableResult
    public func drain(limit: Int64) throws -> Int64 {
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        defer { buf.deallocate() }
        var total: Int64 = 0
        while true {
            let n = try read(into: buf)
            if n == 0 { return total }
            total += Int64(n)
            if total > limit {
                throw VolumeError.corrupt("\(name) holds more than \(ByteSize.format(limit)) after the end of the tar archive")
            }
        }
    }
}

/// Compresses everything written to it as one gzip member into `sink`.
public final class GzipWriter: ByteSink {
    private let sink: ByteSink
    private let stream: UnsafeMutablePointer<z_stream>
    private let output: UnsafeMutableRawBufferPointer
    private var finished = false
    public private(set) var uncompressedBytes: Int64 = 0
    public private(set) var compressedBytes: Int64 = 0

    /// `level` 1 (fast) to 9 (small); 6 is gzip's default.
    public init(_ sink: ByteSink, level: Int = 6, bufferSize: Int = 256 * 1024) throws {
        guard (0...9).contains(level) else { throw VolumeError.invalidArgument("compression level must be 0 to 9") }
        self.sink = sink
        output = .allocate(byteCount: bufferSize, alignment: 16)
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let r = csupport_deflate_init2(stream, Int32(level), 15 + 16)
        guard r == Z_OK else {
            stream.deallocate()
            output.deallocate()
            throw VolumeError.io("zlib deflateInit2 failed (\(r))", errno: ENOMEM)
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
        output.deallocate()
    }

    private func run(_ flush: Int32) throws {
        repeat {
            stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(output.count)
            let r = deflate(stream, flush)
            guard r == Z_OK || r == Z_STREAM_END || r == Z_BUF_ERROR else {
                throw VolumeError.io("zlib deflate failed (\(r))", errno: EIO)
            }
            let n = output.count - Int(stream.pointee.avail_out)
            if n > 0 {
                try sink.write(UnsafeRawBufferPointer(rebasing: output[0..<n]))
                compressedBytes += Int64(n)
            }
            if flush == Z_FINISH && r == Z_STREAM_END { return }
        } while stream.pointee.avail_out == 0 || (flush == Z_FINISH)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !finished else { throw VolumeError.invalidArgument("write after finish") }
        guard bytes.count > 0 else { return }
        var off = 0
        while off < bytes.count {
            let n = min(bytes.count - off, Int(UInt32.max))
            stream.pointee.next_in = UnsafeMutablePointer(mutating: (bytes.baseAddress! + off).assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(n)
            try run(Z_NO_FLUSH)
            off += n
        }
        uncompressedBytes += Int64(bytes.count)
    }

    /// Writes the gzip trailer and finishes the sink.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        stream.pointee.next_in = nil
        stream.pointee.avail_in = 0
        try run(Z_FINISH)
        try sink.finish()
    }
}
