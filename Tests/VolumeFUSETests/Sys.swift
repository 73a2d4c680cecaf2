// Thin, throwing wrappers over the system calls the POSIX checks make, so a check reads like C but
// fails with the errno and the call that produced it.
import CFuse3
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which one, on what, and its errno.
struct PosixError: Error, CustomStringConvertible {
    var call: String
    var errno: Int32
    var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// A check's expectation that did not hold.
struct CheckFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

private func cStat(_ p: String, _ st: inout stat) -> Int32 { stat(p, &st) }
private func cLstat(_ p: String, _ st: inout stat) -> Int32 { lstat(p, &st) }
private func cFstat(_ fd: Int32, _ st: inout stat) -> Int32 { fstat(fd, &st) }

enum Sys {
    /// Runs a call that returns -1 (or a negative value) with errno on failure.
    @discardableResult
    static func call<T: BinaryInteger>(_ what: @autoclosure () -> String, _ body: () -> T) throws -> T {
        let r = body()
        if r < 0 { throw PosixError(call: what(), errno: errno) }
        return r
    }

    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0o644) throws -> Int32 {
        try call("open \(path)") { Glibc.open(path, flags, mode) }
    }

    static func close(_ fd: Int32) throws { try call("close") { Glibc.close(fd) } }

    static func write(_ fd: Int32, _ bytes: [UInt8], at offset: Int64? = nil) throws {
        let n: Int = try call("write") {
            bytes.withUnsafeBytes { b in
                offset.map { Glibc.pwrite(fd, b.baseAddress, b.count, off_t($0)) } ?? Glibc.write(fd, b.baseAddress, b.count)
            }
        }
        if n != bytes.count { throw CheckFailure("short write: \(n) of \(bytes.count)") }
    }

    static func write(_ fd: Int32, _ s: String, at offset: Int64? = nil) throws { try write(fd, Array(s.utf8), at: offset) }

    static func read(_ fd: Int32, count: Int, at offset: Int64) throws -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n: Int = try call("pread") {
                buf.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress! + got, count - got, off_t(offset) + off_t(got)) }
            }
            if n == 0 { break }
            got += n
        }
        return Array(buf[0..<got])
    }

    static func stat(_ path: String) throws -> stat {
        var st = Glibc.stat()
        try call("stat \(path)") { cStat(path, &st) }
        return st
    }

    static func lstat(_ path: String) throws -> stat {
        var st = Glibc.stat()
        try call("lstat \(path)") { cLstat(path, &st) }
        return st
    }

    static func fstat(_ fd: Int32) throws -> stat {
        var st = Glibc.stat()
        try call("fstat") { cFstat(fd, &st) }
        return st
    }

    /// Writes `content` to a new (or truncated) file.
    static func writeFile(_ path: String, _ content: String, mode: mode_t = 0o644) throws {
        let fd = try open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        defer { Glibc.close(fd) }
        try write(fd, content)
    }

    static func readFile(_ path: String) throws -> String {
        let fd = try open(path, O_RDONLY)
        defer { Glibc.close(fd) }
        let size = Int(try fstat(fd).st_size)
        return String(decoding: try read(fd, count: size + 16, at: 0), as: UTF8.self)
    }

    static func mkdir(_ path: String, _ mode: mode_t = 0o755) throws { try call("mkdir \(path)") { Glibc.mkdir(path, mode) } }
    static func rmdir(_ path: String) throws { try call("rmdir \(path)") { Glibc.rmdir(path) } }
    static func unlink(_ path: String) throws { try call("unlink \(path)") { Glibc.unlink(path) } }
    static func rename(_ a: String, _ b: String) throws { try call("rename \(a) \(b)") { Glibc.rename(a, b) } }
    static func link(_ a: String, _ b: String) throws { try call("link \(a) \(b)") { Glibc.link(a, b) } }
    static func symlink(_ target: String, _ path: String) throws { try call("symlink \(path)") { Glibc.symlink(target, path) } }
    static func chmod(_ path: String, _ mode: mode_t) throws { try call("chmod \(path)") { Glibc.chmod(path, mode) } }
    static func chown(_ path: String, _ uid: uid_t, _ gid: gid_t) throws { try call("chown \(path)") { Glibc.chown(path, uid, gid) } }
    static func truncate(_ path: String, _ size: Int64) throws { try call("truncate \(path)") { Glibc.truncate(path, off_t(size)) } }
    static func ftruncate(_ fd: Int32, _ size: Int64) throws { try call("ftruncate") { Glibc.ftruncate(fd, off_t(size)) } }
    static func fsync(_ fd: Int32) throws { try call("fsync") { Glibc.fsync(fd) } }
    static func mkfifo(_ path: String, _ mode: mode_t = 0o644) throws { try call("mkfifo \(path)") { Glibc.mkfifo(path, mode) } }
    static func mknod(_ path: String, _ mode: mode_t, dev: dev_t = 0) throws { try call("mknod \(path)") { Glibc.mknod(path, mode, dev) } }

    static func readlink(_ path: String) throws -> String {
        var buf = [CChar](repeating: 0, count: 4097)
        let n = try call("readlink \(path)") { Glibc.readlink(path, &buf, 4096) }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func utimens(_ path: String, atime: timespec, mtime: timespec, noFollow: Bool = false) throws {
        var times = [atime, mtime]
        try call("utimensat \(path)") { utimensat(AT_FDCWD, path, &times, noFollow ? AT_SYMLINK_NOFOLLOW : 0) }
    }

    static func setxattr(_ path: String, _ name: String, _ value: String, flags: Int32 = 0) throws {
        try call("setxattr \(path) \(name)") { value.withCString { CFuse3.setxattr(path, name, $0, strlen($0), flags) } }
    }

    static func getxattr(_ path: String, _ name: String) throws -> String {
        var buf = [UInt8](repeating: 0, count: 65536)
        let n = try call("getxattr \(path) \(name)") { CFuse3.getxattr(path, name, &buf, buf.count) }
        return String(decoding: buf[0..<n], as: UTF8.self)
    }

    static func listxattr(_ path: String) throws -> [String] {
        var buf = [CChar](repeating: 0, count: 65536)
        let n = try call("listxattr \(path)") { CFuse3.listxattr(path, &buf, buf.count) }
        return buf[0..<n].split(separator: 0).map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    }

    static func removexattr(_ path: String, _ name: String) throws {
        try call("removexattr \(path) \(name)") { CFuse3.removexattr(path, name) }
    }

    // GNU calls Swift's Glibc module does not import, found at run time.
    private typealias Renameat2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    private typealias Fallocate = @convention(c) (Int32, Int32, Int, Int) -> Int32

    static func rename(_ a: String, _ b: String, flags: UInt32) throws {
        let fn = unsafeBitCast(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2"), to: Renameat2.self)
        try call("renameat2 \(a) \(b)") { fn(AT_FDCWD, a, AT_FDCWD, b, flags) }
    }

    static func fallocate(_ fd: Int32, mode: Int32, offset: Int64, length: Int64) throws {
        let fn = unsafeBitCast(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "fallocate"), to: Fallocate.self)
        try call("fallocate") { fn(fd, mode, Int(offset), Int(length)) }
    }

    /// Names in a directory (without . and ..), read with readdir(3).
    static func list(_ path: String) throws -> [String] {
        guard let d = opendir(path) else { throw PosixError(call: "opendir \(path)", errno: errno) }
        defer { closedir(d) }
        var out: [String] = []
        errno = 0
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { out.append(name) }
        }
        if errno != 0 { throw PosixError(call: "readdir \(path)", errno: errno) }
        return out
    }
}

/// Fails unless `body` fails with `code`.
func expectErrno(_ code: Int32, _ what: String = "", _ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as PosixError {
        if e.errno == code { return }
        throw CheckFailure("\(what.isEmpty ? e.call : what): expected \(String(cString: strerror(code))), got \(e)")
    }
    throw CheckFailure("\(what): expected \(String(cString: strerror(code))), but it succeeded")
}

func expectEqual<T: Equatable>(_ a: T, _ b: T, _ what: String) throws {
    if a != b { throw CheckFailure("\(what): \(a) != \(b)") }
}

func expectTrue(_ c: Bool, _ what: String) throws {
    if !c { throw CheckFailure(what) }
}

extension stat {
    var fileType: mode_t { st_mode & S_IFMT }
    var mtimeNanos: Int64 { Int64(st_mtim.tv_sec) * 1_000_000_000 + Int64(st_mtim.tv_nsec) }
    var ctimeNanos: Int64 { Int64(st_ctim.tv_sec) * 1_000_000_000 + Int64(st_ctim.tv_nsec) }
    var atimeNanos: Int64 { Int64(st_atim.tv_sec) * 1_000_000_000 + Int64(st_atim.tv_nsec) }
}
