// Streaming bodies: a local file read in 1 MiB buffers for uploads, and a download written to a file as it arrives.
import AsyncHTTPClient
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A local file as an async sequence of byte buffers (1 MiB each), for streamed uploads. The file is
/// opened when iteration starts and closed at its end (or when the iterator goes away).
public struct FileChunks: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    /// The path read.
    public let path: String
    /// The file's size when the sequence was made.
    public let size: Int64
    let chunkSize: Int
    let progress: (@Sendable (Int64) -> Void)?

    /// Fails (with `not_found` and the like as a transport-free error) when the file cannot be opened or is a directory.
    public init(path: String, chunkSize: Int = 1 << 20, progress: (@Sendable (Int64) -> Void)? = nil) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw VolumeClientError(status: 0, code: errno == ENOENT ? "local_not_found" : "local_io",
                                    message: "cannot read local file '\(path)': \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) != S_IFDIR else {
            throw VolumeClientError(status: 0, code: "local_is_a_directory", message: "local path '\(path)' is a directory; give one file")
        }
        self.path = path
        self.size = Int64(st.st_size)
        self.chunkSize = chunkSize
        self.progress = progress
    }

    public func makeAsyncIterator() -> Iterator { Iterator(path: path, chunkSize: chunkSize, progress: progress) }

    /// Reads the next buffer with read(2); nil at the end of the file.
    public final class Iterator: AsyncIteratorProtocol {
        let path: String
        let chunkSize: Int
        let progress: (@Sendable (Int64) -> Void)?
        var fd: Int32 = -1
        var done = false
        var total: Int64 = 0

        init(path: String, chunkSize: Int, progress: (@Sendable (Int64) -> Void)?) {
            self.path = path; self.chunkSize = chunkSize; self.progress = progress
        }

        public func next() async throws -> ByteBuffer? {
            if done { return nil }
            if fd < 0 {
                fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else {
                    done = true
                    throw VolumeClientError(status: 0, code: "local_io", message: "cannot read local file '\(path)': \(String(cString: strerror(errno)))")
                }
            }
            var buffer = ByteBufferAllocator().buffer(capacity: chunkSize)
            let n = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: chunkSize) { ptr -> Int in
                while true {
                    let r = read(fd, ptr.baseAddress, chunkSize)
                    if r < 0 && errno == EINTR { continue }
                    if r < 0 {
                        throw VolumeClientError(status: 0, code: "local_io", message: "cannot read local file '\(path)': \(String(cString: strerror(errno)))")
                    }
                    return r
                }
            }
            if n == 0 {
                finish()
                return nil
            }
            total += Int64(n)
            progress?(total)
            return buffer
        }

        func finish() {
            done = true
            if fd >= 0 { close(fd); fd = -1 }
        }

        deinit { if fd >= 0 { close(fd) } }
    }
}

/// A file being downloaded: its headers, and `body`, the bytes as they arrive.
public struct FileDownload: Sendable {
    let response: HTTPClientResponse
    let endpoint: String

    /// 200 for the whole file, 206 for a range.
    public var status: Int { Int(response.status.code) }
    /// Bytes this answer carries (`Content-Length`).
    public var length: Int64? { response.headers.first(name: "Content-Length").flatMap { Int64($0) } }
    /// `Content-Range` of a ranged read.
    public var contentRange: String? { response.headers.first(name: "Content-Range") }
    /// `Last-Modified`.
    public var lastModified: String? { response.headers.first(name: "Last-Modified") }
    /// The bytes, as an async sequence of byte buffers.
    public var body: HTTPClientResponse.Body { response.body }

    /// Writes the body to `destination` through a temporary file beside it, renamed into place at the end
    /// (removed if anything fails). Returns the bytes written.
    @discardableResult
    public func write(to destination: URL, progress: (@Sendable (Int64) -> Void)? = nil) async throws -> Int64 {
        let dir = destination.deletingLastPathComponent().path
        let tmp = dir + "/." + destination.lastPathComponent + ".part-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw VolumeClientError(status: 0, code: "local_io", message: "cannot write local file '\(destination.path)': \(String(cString: strerror(errno)))")
        }
        var total: Int64 = 0
        var isOpen = true
        do {
            do {
                for try await buffer in response.body {
                    try buffer.withUnsafeReadableBytes { raw in
                        var off = 0
                        while off < raw.count {
                            let n = Glibc.write(fd, raw.baseAddress! + off, raw.count - off)
                            if n < 0 {
                                if errno == EINTR { continue }
                                throw VolumeClientError(status: 0, code: "local_io",
                                                        message: "cannot write local file '\(destination.path)': \(String(cString: strerror(errno)))")
                            }
                            off += n
                        }
                    }
                    total += Int64(buffer.readableBytes)
                    progress?(total)
                }
            } catch let e as VolumeClientError {
                throw e
            } catch {
                throw VolumeClientError.transport(error, endpoint: endpoint)
            }
            if let expected = length, expected != total {
                throw VolumeClientError(status: 0, code: "transport", message: "the download ended after \(total) of \(expected) bytes")
            }
            guard fsync(fd) == 0 || errno == EINVAL else {
                throw VolumeClientError(status: 0, code: "local_io", message: "cannot write local file '\(destination.path)': \(String(cString: strerror(errno)))")
            }
            close(fd)
            isOpen = false
            guard rename(tmp, destination.path) == 0 else {
                throw VolumeClientError(status: 0, code: "local_io", message: "cannot write local file '\(destination.path)': \(String(cString: strerror(errno)))")
            }
            return total
        } catch {
            if isOpen { close(fd) }
            unlink(tmp)
            throw error
        }
    }
}
