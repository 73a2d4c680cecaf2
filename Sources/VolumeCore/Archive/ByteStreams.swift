// Byte sources and sinks for the archive code: file descriptors with counting, a byte limit and cancellation.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Somewhere bytes come from, read in order. Single-threaded.
public protocol ByteSource: AnyObject {
    /// Reads up to `buffer.count` bytes into `buffer`; returns 0 only at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// Somewhere bytes go, in order. Single-threaded.
public protocol ByteSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Writes out anything buffered (a compressor's trailer, for instance).
    func finish() throws
}

extension ByteSink {
    public func write(_ data: Data) throws { try data.withUnsafeBytes { try write($0) } }
}

extension ByteSource {
    /// Reads until `buffer` is full or the source ends; returns how many bytes were read.
    public func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var got = 0
        while got < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[got...]))
            if n == 0 { break }
            got += n
        }
        return got
    }
}

/// Reads a file descriptor (a file, a pipe, stdin), counting bytes, refusing more than `limit`
/// and giving up with `interrupted` as soon as `isCancelled` says so (a signal that interrupts a
/// blocking read is noticed at once).
public final class FileByteSource: ByteSource {
    public let fd: Int32
    /// What the source is, for messages: a path, or "standard input".
    public let name: String
    /// Most bytes accepted; reading more fails with `tooLarge`.
    public let limit: Int64?
    /// The size when known up front (a regular file), for progress and ETA.
    public let knownSize: Int64?
    public private(set) var bytesRead: Int64 = 0
    private let isCancelled: @Sendable () -> Bool
    private let ownsDescriptor: Bool

    /// Wraps an open descriptor; `owns` closes it on deinit.
    public init(fd: Int32, name: String, limit: Int64? = nil, owns: Bool = false,
                isCancelled: @escaping @Sendable () -> Bool = { false }) {
        self.fd = fd
        self.name = name
        self.limit = limit
        self.ownsDescriptor = owns
        self.isCancelled = isCancelled
        var st = stat()
        knownSize = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? Int64(st.st_size) : nil
    }

    /// Opens a file for reading.
    public convenience init(path: String, limit: Int64? = nil, isCancelled: @escaping @Sendable () -> Bool = { false }) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { throw VolumeError.notFound(path) }
            throw VolumeError.io("cannot open \(path)", errno: e)
        }
        self.init(fd: fd, name: path, limit: limit, owns: true, isCancelled: isCancelled)
    }

    deinit { if ownsDescriptor { close(fd) } }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        let checkCancelled = { [name, isCancelled] in
            if isCancelled() { throw VolumeError.interrupted("reading \(name) was interrupted") }
        }
        try checkCancelled()
        let n = try syscall("read \(name)", onInterrupt: checkCancelled) { Glibc.read(fd, buffer.baseAddress, buffer.count) }
        // A signal may have been delivered to another thread while this one waited.
        try checkCancelled()
        bytesRead += Int64(n)
        if let limit, bytesRead > limit {
            throw VolumeError.tooLarge("\(name) is larger than \(ByteSize.format(limit)), the most accepted")
        }
        return n
    }
}

/// Writes to a file descriptor (a file, a pipe, stdout), retrying short writes and EINTR (`writeAll`).
public final class FileByteSink: ByteSink {
    public let fd: Int32
    public let name: String
    public private(set) var bytesWritten: Int64 = 0
    private let isCancelled: @Sendable () -> Bool

    public init(fd: Int32, name: String, isCancelled: @escaping @Sendable () -> Bool = { false }) {
        self.fd = fd
        self.name = name
        self.isCancelled = isCancelled
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        let checkCancelled = { [name, isCancelled] in
            if isCancelled() { throw VolumeError.interrupted("writing \(name) was interrupted") }
        }
        try checkCancelled()
        try writeAll(fd, bytes, "write \(name)", onInterrupt: checkCancelled)
        bytesWritten += Int64(bytes.count)
    }

    public func finish() throws {}
}

/// Bytes held in memory, as a source (tests, small inputs).
public final class DataByteSource: ByteSource {
    private let data: Data
    private var offset = 0
    public init(_ data: Data) { self.data = data }
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, data.count - offset)
        guard n > 0 else { return 0 }
        data.withUnsafeBytes { src in
            buffer.baseAddress!.copyMemory(from: src.baseAddress! + offset, byteCount: n)
        }
        offset += n
        return n
    }
}

/// Collects everything written, in memory (tests, small outputs).
public final class DataByteSink: ByteSink {
    public private(set) var data = Data()
    public init() {}
    public func write(_ bytes: UnsafeRawBufferPointer) throws { data.append(contentsOf: bytes) }
    public func finish() throws {}
}
