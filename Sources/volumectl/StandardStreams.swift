// Writes to standard output and standard error that never trap (FileHandle.write traps when a write fails).
import Foundation
import VolumeCore

#if canImport(Glibc)
import Glibc
#endif

/// Writes `bytes` to `fd` with write(2), retrying EINTR and short writes; returns the errno that
/// stopped it, or nil when everything was written.
@discardableResult
func writeAll(_ fd: Int32, _ bytes: Data) -> Int32? {
    bytes.withUnsafeBytes { (buf: UnsafeRawBufferPointer) -> Int32? in
        var off = 0
        while off < buf.count {
            let n = write(fd, buf.baseAddress! + off, buf.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            off += n
        }
        return nil
    }
}

/// Writes a message to standard error. A message that cannot be written (a full disk under the log
/// file, a closed descriptor) is dropped: there is nowhere left to report it, and a diagnostic must
/// never be what kills the process.
func writeStderr(_ text: String) { writeAll(STDERR_FILENO, Data(text.utf8)) }

/// Writes bytes to stdout unbuffered (for `cat` of binary files); flushes print()'s buffer first.
/// A failed write is an error (a full disk or a closed pipe must not pass for a complete copy).
func writeStdout(_ data: Data) throws {
    fflush(nil)
    if let code = writeAll(STDOUT_FILENO, data) { throw VolumeError.io("cannot write standard output", errno: code) }
}
