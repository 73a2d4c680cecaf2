// The core's chokepoint for raw system calls: retries EINTR and turns failures into typed VolumeErrors.
// Every raw call of VolumeCore that may fail with EINTR goes through `syscall` (or `writeAll`, built on it);
// calls through swift-system pass `retryOnInterrupt`. Outside the core, the FUSE request loop reads
// /dev/fuse itself (EINTR, EAGAIN and ENOENT mean "read again" there) and the CLI's signal and
// child-process waits keep their own loops.
import Foundation
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Runs a system call that returns -1 on failure, retrying on EINTR, and throws `VolumeError.io`.
/// `onInterrupt` runs before each retry: a reader that a signal should stop (SIGINT during an
/// import) throws from it.
@discardableResult
func syscall<T: FixedWidthInteger>(_ what: @autoclosure () -> String, onInterrupt: () throws -> Void = {},
                                   _ call: () -> T) throws -> T {
    while true {
        let r = call()
        if r != -1 { return r }
        let e = errno
        if e == EINTR {
            try onInterrupt()
            continue
        }
        throw VolumeError.io(what(), errno: e)
    }
}

/// Writes all of `bytes` to `fd`, at `offset` (pwrite) or else at its position, through `syscall`
/// (short writes continue, EINTR retries).
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64? = nil, _ what: @autoclosure () -> String,
              onInterrupt: () throws -> Void = {}) throws {
    guard let base = bytes.baseAddress else { return }
    var done = 0
    while done < bytes.count {
        let n = try syscall(what(), onInterrupt: onInterrupt) {
            offset.map { pwrite(fd, base + done, bytes.count - done, off_t($0) + off_t(done)) }
                ?? write(fd, base + done, bytes.count - done)
        }
        done += n
    }
}

extension stat {
    /// The modification time, to the nanosecond.
    var modified: Date { Date(timeIntervalSince1970: TimeInterval(st_mtim.tv_sec) + TimeInterval(st_mtim.tv_nsec) / 1e9) }
}

extension VolumeError {
    /// Wraps an `Errno` from swift-system.
    static func from(_ e: Errno, _ what: String) -> VolumeError {
        e == .noSuchFileOrDirectory ? .notFound(what) : .io(what, errno: e.rawValue)
    }
}

extension FileDescriptor {
    /// Writes all of `data` at the current position.
    func writeAll(_ data: Data) throws {
        try data.withUnsafeBytes { _ = try self.writeAll($0) }
    }

    /// Reads up to `count` bytes at `offset` (fewer only at end of file), into memory that is not
    /// zeroed first.
    func read(count: Int, at offset: Int64) throws -> Data {
        guard count > 0 else { return Data() }
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
        var got = 0
        do {
            while got < count {
                let n = try self.read(fromAbsoluteOffset: offset + Int64(got),
                                      into: UnsafeMutableRawBufferPointer(rebasing: buf[got...]),
                                      retryOnInterrupt: true)
                if n == 0 { break }
                got += n
            }
        } catch {
            buf.deallocate()
            throw error
        }
        if got < count / 2 {
            defer { buf.deallocate() }
            return Data(bytes: buf.baseAddress!, count: got)
        }
        return Data(bytesNoCopy: buf.baseAddress!, count: got, deallocator: .custom { p, _ in p.deallocate() })
    }
}
