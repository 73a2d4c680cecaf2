// Reads a /proc file whole: String(contentsOfFile:) trusts the file's size (0 for /proc) and stops after one page.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `/proc` files report size 0 and are produced a page per read: `String(contentsOfFile:)` returned only
/// the first page of `/proc/self/mountinfo`, so past about 25 mounts the table came back cut and
/// reconcile took live mounts for gone ones (found by `tools/bench-attach.sh` with 40 attachments).
public enum ProcFile {
    /// The whole file as text (read(2) until end of file), or nil when it cannot be opened.
    public static func text(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return nil }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
