// The one chokepoint for raw system calls: retries EINTR and turns failures into typed VolumeErrors.
import Foundation
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Runs a system call that returns -1 on failure, retrying on EINTR, and throws `VolumeError.io`.
@discardableResult
func syscall<T: FixedWidthInteger>(_ what: @autoclosure () -> String, _ call: () -> T) throws -> T {
    while true {
        let r = call()
        if r != -1 { return r }
        let e = errno
        if e == EINTR { continue }
        throw VolumeError.io(what(), errno: e)
    }
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

    /// Reads up to `count` bytes at `offset` (fewer only at end of file).
    func read(count: Int, at offset: Int64) throws -> Data {
        var out = Data(count: count)
        var got = 0
        try out.withUnsafeMutableBytes { buf in
            while got < count {
                let n = try self.read(fromAbsoluteOffset: offset + Int64(got),
                                      into: UnsafeMutableRawBufferPointer(rebasing: buf[got...]),
                                      retryOnInterrupt: true)
                if n == 0 { break }
                got += n
            }
        }
        if got < count { out.removeSubrange(got...) }
        return out
    }
}
