// A POSIX conformance table in the spirit of go-fuse's posixtest: each check runs on a plain temp
// directory first (proving the check), then on read-write, read-only and subpath mounts.
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Where a check runs.
enum CheckSite: String {
    case plain, mount, readOnly, subpath
}

/// What a check sees: its own directory, and whether the file system refuses changes.
struct CheckContext {
    let dir: String
    let site: CheckSite
    var readOnly: Bool { site == .readOnly }
    var isMount: Bool { site != .plain }

    func path(_ p: String) -> String { dir + "/" + p }

    /// Stops a check on a read-only mount once a change has been refused.
    struct Refused: Error {}

    /// Runs a change. On a read-only mount it must fail with EROFS, and the check ends there.
    func mutate(_ what: String = "", _ body: () throws -> Void) throws {
        guard readOnly else { return try body() }
        do {
            try body()
        } catch let e as PosixError where e.errno == EROFS {
            throw Refused()
        } catch let e as ShellError {
            if case let .failed(_, r) = e, r.stderr.contains("Read-only file system") { throw Refused() }
            throw CheckFailure("\(what): expected EROFS, got \(e)")
        } catch {
            throw CheckFailure("\(what): expected EROFS, got \(error)")
        }
        throw CheckFailure("\(what): a change succeeded on a read-only mount")
    }

    /// Expects `code`; on a read-only mount EROFS is as good (the kernel may check that first).
    func expectFailure(_ code: Int32, _ what: String, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let e as PosixError {
            if e.errno == code || (readOnly && e.errno == EROFS) { return }
            throw CheckFailure("\(what): expected \(String(cString: strerror(code))), got \(e)")
        }
        throw CheckFailure("\(what): expected \(String(cString: strerror(code))), but it succeeded")
    }
}

/// One conformance check: `arrange` builds what it needs (always on a writable file system; for
/// a read-only run it runs first on a read-write mount of the same volume), `act` checks.
struct PosixCheck: Sendable {
    let name: String
    var arrange: @Sendable (String) throws -> Void = { _ in }
    let act: @Sendable (CheckContext) throws -> Void
}

/// The other user permission checks run as.
let otherUID: UInt32 = 1000

enum PosixTable {
    static let checks: [PosixCheck] = [
        PosixCheck(name: "create_write_read") { c in
            try c.mutate("create") {
                let fd = try Sys.open(c.path("f"), O_CREAT | O_EXCL | O_RDWR, 0o640)
                try Sys.write(fd, "hello world")
                try expectEqual(String(decoding: try Sys.read(fd, count: 100, at: 6), as: UTF8.self), "world", "read back")
                try Sys.close(fd)
            }
            let st = try Sys.stat(c.path("f"))
            try expectEqual(st.st_size, 11, "size")
            try expectEqual(st.st_mode & 0o7777, 0o640, "mode")
            try expectEqual(st.st_nlink, 1, "nlink")
            try expectEqual(st.st_uid, getuid(), "owner")
        },
        PosixCheck(name: "read_existing", arrange: { d in try Sys.writeFile(d + "/r", String(repeating: "0123456789", count: 1000)) }) { c in
            try expectEqual(try Sys.readFile(c.path("r")).count, 10_000, "content length")
            let fd = try Sys.open(c.path("r"), O_RDONLY)
            defer { close(fd) }
            try expectEqual(String(decoding: try Sys.read(fd, count: 5, at: 9_995), as: UTF8.self), "56789", "tail")
            try expectEqual(try Sys.read(fd, count: 5, at: 20_000).count, 0, "read past the end")
            try c.expectFailure(EBADF, "write on a read-only descriptor") { try Sys.write(fd, "x") }
        },
        PosixCheck(name: "append") { c in
            try c.mutate("append") {
                try Sys.writeFile(c.path("a"), "one")
                let fd = try Sys.open(c.path("a"), O_WRONLY | O_APPEND)
                try Sys.write(fd, "two")
                try Sys.close(fd)
            }
            try expectEqual(try Sys.readFile(c.path("a")), "onetwo", "appended")
        },
        PosixCheck(name: "open_truncate", arrange: { d in try Sys.writeFile(d + "/t", "long content") }) { c in
            try c.mutate("O_TRUNC") { try Sys.close(try Sys.open(c.path("t"), O_WRONLY | O_TRUNC)) }
            try expectEqual(try Sys.stat(c.path("t")).st_size, 0, "size after O_TRUNC")
        },
        PosixCheck(name: "truncate_up_down", arrange: { d in try Sys.writeFile(d + "/t", "abcdefghij") }) { c in
            try c.mutate("truncate down") { try Sys.truncate(c.path("t"), 4) }
            try expectEqual(try Sys.readFile(c.path("t")), "abcd", "cut")
            let fd = try Sys.open(c.path("t"), O_RDWR)
            defer { close(fd) }
            try Sys.ftruncate(fd, 3_000_000)
            try expectEqual(try Sys.fstat(fd).st_size, 3_000_000, "grown")
            try expectEqual(try Sys.read(fd, count: 8, at: 0), Array("abcd".utf8) + [0, 0, 0, 0], "zeros after the old end")
            try expectEqual(try Sys.read(fd, count: 4, at: 2_999_996), [0, 0, 0, 0], "zeros at the new end")
            try Sys.ftruncate(fd, 2)
            try Sys.ftruncate(fd, 6)
            try expectEqual(try Sys.read(fd, count: 10, at: 0), Array("ab".utf8) + [0, 0, 0, 0], "regrown after a cut reads zeros")
        },
        PosixCheck(name: "sparse_and_overwrite") { c in
            var fd: Int32 = -1
            try c.mutate("create") { fd = try Sys.open(c.path("s"), O_CREAT | O_RDWR, 0o644) }
            defer { close(fd) }
            let block = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            try Sys.write(fd, block, at: 10_000_000)
            try Sys.write(fd, Array("MIDDLE".utf8), at: 10_050_000)
            try Sys.write(fd, Array("head".utf8), at: 0)
            try expectEqual(try Sys.fstat(fd).st_size, 10_100_000, "size")
            try expectEqual(try Sys.read(fd, count: 6, at: 10_050_000), Array("MIDDLE".utf8), "overwritten middle")
            try expectEqual(try Sys.read(fd, count: 16, at: 5_000_000), [UInt8](repeating: 0, count: 16), "hole")
            var expect = block
            expect.replaceSubrange(50_000..<50_006, with: Array("MIDDLE".utf8))
            try Sys.fsync(fd)
            try expectEqual(try Sys.read(fd, count: 100_000, at: 10_000_000), expect, "data block")
        },
        PosixCheck(name: "large_offset_over_4GiB") { c in
            var fd: Int32 = -1
            try c.mutate("create") { fd = try Sys.open(c.path("big"), O_CREAT | O_RDWR, 0o644) }
            defer { close(fd) }
            let off: Int64 = 5 << 30
            try Sys.write(fd, "past four gibibytes", at: off)
            try expectEqual(try Sys.fstat(fd).st_size, off_t(off + 19), "size")
            try expectEqual(String(decoding: try Sys.read(fd, count: 19, at: off), as: UTF8.self), "past four gibibytes", "read back")
            try expectEqual(try Sys.read(fd, count: 8, at: 4 << 30), [UInt8](repeating: 0, count: 8), "hole at 4 GiB")
            try Sys.ftruncate(fd, 1)
        },
        PosixCheck(name: "open_unlinked", arrange: { d in try Sys.writeFile(d + "/u", "before") }) { c in
            let ro = try Sys.open(c.path("u"), O_RDONLY)
            defer { close(ro) }
            var fd: Int32 = -1
            try c.mutate("open for writing") { fd = try Sys.open(c.path("u"), O_RDWR) }
            defer { close(fd) }
            try Sys.unlink(c.path("u"))
            try expectErrno(ENOENT, "stat after unlink") { _ = try Sys.stat(c.path("u")) }
            try Sys.write(fd, "after!", at: 0)
            try expectEqual(String(decoding: try Sys.read(fd, count: 10, at: 0), as: UTF8.self), "after!", "read through the open handle")
            try expectEqual(String(decoding: try Sys.read(ro, count: 10, at: 0), as: UTF8.self), "after!", "read through another handle")
            try expectEqual(try Sys.fstat(fd).st_nlink, 0, "nlink of an unlinked open file")
            try Sys.ftruncate(fd, 2)
            try expectEqual(try Sys.fstat(ro).st_size, 2, "size seen by the other handle")
            try expectEqual(try Sys.list(c.dir), [], "directory is empty")
        },
        PosixCheck(name: "rename_file_over_file", arrange: { d in
            try Sys.writeFile(d + "/a", "A")
            try Sys.writeFile(d + "/b", "B")
        }) { c in
            let inoA = try Sys.stat(c.path("a")).st_ino
            try c.mutate("rename") { try Sys.rename(c.path("a"), c.path("b")) }
            try expectEqual(try Sys.readFile(c.path("b")), "A", "target content")
            try expectEqual(try Sys.stat(c.path("b")).st_ino, inoA, "target inode")
            try expectErrno(ENOENT, "source gone") { _ = try Sys.stat(c.path("a")) }
            try Sys.rename(c.path("b"), c.path("b"))
            try expectEqual(try Sys.readFile(c.path("b")), "A", "rename onto itself")
        },
        PosixCheck(name: "rename_directories", arrange: { d in
            for p in ["d1", "d2", "full", "d1/sub"] { try Sys.mkdir(d + "/" + p) }
            try Sys.writeFile(d + "/full/x", "x")
            try Sys.writeFile(d + "/file", "f")
        }) { c in
            try c.expectFailure(ENOTEMPTY, "dir over a non-empty dir") { try Sys.rename(c.path("d1"), c.path("full")) }
            try c.expectFailure(ENOTDIR, "dir over a file") { try Sys.rename(c.path("d1"), c.path("file")) }
            try c.expectFailure(EISDIR, "file over a dir") { try Sys.rename(c.path("file"), c.path("d2")) }
            try c.expectFailure(EINVAL, "dir into itself") { try Sys.rename(c.path("d1"), c.path("d1/sub/inside")) }
            let parentLinks = try Sys.stat(c.dir).st_nlink
            try c.mutate("dir over an empty dir") { try Sys.rename(c.path("d1"), c.path("d2")) }
            try expectTrue(try Sys.stat(c.path("d2/sub")).fileType == S_IFDIR, "moved tree")
            try expectEqual(try Sys.stat(c.dir).st_nlink, parentLinks - 1, "parent link count")
            try Sys.mkdir(c.path("other"))
            try Sys.rename(c.path("d2/sub"), c.path("other/sub"))
            try expectEqual(try Sys.stat(c.path("d2")).st_nlink, 2, "old parent's links")
            try expectEqual(try Sys.stat(c.path("other")).st_nlink, 3, "new parent's links")
        },
        PosixCheck(name: "rename_noreplace_exchange", arrange: { d in
            try Sys.writeFile(d + "/a", "A")
            try Sys.writeFile(d + "/b", "B")
            try Sys.mkdir(d + "/dir")
        }) { c in
            try c.expectFailure(EEXIST, "RENAME_NOREPLACE onto an existing name") { try Sys.rename(c.path("a"), c.path("b"), flags: 1) }
            try c.mutate("RENAME_EXCHANGE") { try Sys.rename(c.path("a"), c.path("b"), flags: 2) }
            try expectEqual(try Sys.readFile(c.path("a")), "B", "exchanged a")
            try expectEqual(try Sys.readFile(c.path("b")), "A", "exchanged b")
            try Sys.rename(c.path("a"), c.path("dir"), flags: 2)
            try expectTrue(try Sys.stat(c.path("a")).fileType == S_IFDIR, "a is now the directory")
            try expectEqual(try Sys.readFile(c.path("dir")), "B", "dir is now the file")
            try expectErrno(ENOENT, "RENAME_EXCHANGE with a missing target") { try Sys.rename(c.path("b"), c.path("nope"), flags: 2) }
            try Sys.rename(c.path("b"), c.path("c"), flags: 1)
            try expectEqual(try Sys.readFile(c.path("c")), "A", "RENAME_NOREPLACE onto a free name")
            try expectErrno(EINVAL, "both flags") { try Sys.rename(c.path("c"), c.path("d"), flags: 3) }
        },
        PosixCheck(name: "hard_links", arrange: { d in try Sys.writeFile(d + "/orig", "shared") }) { c in
            try c.mutate("link") { try Sys.link(c.path("orig"), c.path("alias")) }
            let a = try Sys.stat(c.path("orig")), b = try Sys.stat(c.path("alias"))
            try expectEqual(a.st_ino, b.st_ino, "same inode")
            try expectEqual(b.st_nlink, 2, "nlink")
            let fd = try Sys.open(c.path("alias"), O_WRONLY | O_APPEND)
            try Sys.write(fd, "!")
            try Sys.close(fd)
            try expectEqual(try Sys.readFile(c.path("orig")), "shared!", "write through one name, read through the other")
            try Sys.unlink(c.path("orig"))
            try expectEqual(try Sys.stat(c.path("alias")).st_nlink, 1, "nlink after unlink")
            try expectEqual(try Sys.readFile(c.path("alias")), "shared!", "data survives")
            try Sys.mkdir(c.path("dir"))
            try expectErrno(EPERM, "hard link to a directory") { try Sys.link(c.path("dir"), c.path("dirlink")) }
            try expectErrno(EEXIST, "link onto an existing name") { try Sys.link(c.path("alias"), c.path("dir")) }
        },
        PosixCheck(name: "symlinks", arrange: { d in try Sys.writeFile(d + "/target", "through the link") }) { c in
            try c.mutate("symlink") { try Sys.symlink("target", c.path("ln")) }
            try expectEqual(try Sys.readlink(c.path("ln")), "target", "readlink")
            try expectTrue(try Sys.lstat(c.path("ln")).fileType == S_IFLNK, "lstat type")
            try expectEqual(try Sys.readFile(c.path("ln")), "through the link", "follows")
            try Sys.symlink("missing", c.path("dangling"))
            try expectErrno(ENOENT, "dangling") { _ = try Sys.stat(c.path("dangling")) }
            let long = String(repeating: "x/", count: 1000) + "end"
            try Sys.symlink(long, c.path("long"))
            try expectEqual(try Sys.readlink(c.path("long")), long, "long target")
            try expectErrno(EINVAL, "readlink of a file") { _ = try Sys.readlink(c.path("target")) }
        },
        PosixCheck(name: "mkdir_rmdir_errors", arrange: { d in
            try Sys.mkdir(d + "/full")
            try Sys.writeFile(d + "/full/f", "")
            try Sys.writeFile(d + "/file", "")
        }) { c in
            try c.expectFailure(EEXIST, "mkdir over a dir") { try Sys.mkdir(c.path("full")) }
            try c.expectFailure(EEXIST, "O_EXCL on an existing file") { _ = try Sys.open(c.path("file"), O_CREAT | O_EXCL | O_WRONLY) }
            try c.expectFailure(ENOTEMPTY, "rmdir a non-empty dir") { try Sys.rmdir(c.path("full")) }
            try c.expectFailure(ENOTDIR, "rmdir a file") { try Sys.rmdir(c.path("file")) }
            try c.expectFailure(EISDIR, "unlink a dir") { try Sys.unlink(c.path("full")) }
            try expectErrno(ENOENT, "missing") { _ = try Sys.stat(c.path("nope")) }
            try expectErrno(ENOTDIR, "a file as a directory") { _ = try Sys.stat(c.path("file/x")) }
            try expectErrno(EISDIR, "open a dir for writing") { _ = try Sys.open(c.path("full"), O_WRONLY) }
            let links = try Sys.stat(c.dir).st_nlink
            try c.mutate("mkdir") { try Sys.mkdir(c.path("new"), 0o750) }
            try expectEqual(try Sys.stat(c.dir).st_nlink, links + 1, "parent nlink after mkdir")
            try expectEqual(try Sys.stat(c.path("new")).st_nlink, 2, "new dir nlink")
            try expectEqual(try Sys.stat(c.path("new")).st_mode & 0o7777, 0o750, "new dir mode")
            try Sys.rmdir(c.path("new"))
            try expectEqual(try Sys.stat(c.dir).st_nlink, links, "parent nlink after rmdir")
        },
        PosixCheck(name: "names_255_bytes") { c in
            let name = String(repeating: "n", count: 253) + "é" // 255 bytes, not all ASCII
            try c.mutate("create a 255-byte name") { try Sys.writeFile(c.path(name), "ok") }
            try expectEqual(try Sys.readFile(c.path(name)), "ok", "read")
            try expectEqual(try Sys.list(c.dir), [name], "listed")
            try expectErrno(ENAMETOOLONG, "256-byte name") { try Sys.writeFile(c.path(String(repeating: "m", count: 256)), "") }
            try expectErrno(ENAMETOOLONG, "stat of a 256-byte name") { _ = try Sys.stat(c.path(String(repeating: "m", count: 256))) }
        },
        PosixCheck(name: "chmod_chown_utimens", arrange: { d in try Sys.writeFile(d + "/f", "x") }) { c in
            try c.mutate("chmod") { try Sys.chmod(c.path("f"), 0o4711) }
            try expectEqual(try Sys.stat(c.path("f")).st_mode & 0o7777, 0o4711, "mode")
            try Sys.chown(c.path("f"), 1234, 5678)
            let st = try Sys.stat(c.path("f"))
            try expectEqual(st.st_uid, 1234, "uid")
            try expectEqual(st.st_gid, 5678, "gid")
            try Sys.utimens(c.path("f"), atime: timespec(tv_sec: 1_000_000, tv_nsec: 5), mtime: timespec(tv_sec: 2_000_000, tv_nsec: 7))
            var t = try Sys.stat(c.path("f"))
            try expectEqual(t.atimeNanos, 1_000_000_000_000_005, "atime")
            try expectEqual(t.mtimeNanos, 2_000_000_000_000_007, "mtime")
            // UTIME_OMIT keeps, UTIME_NOW sets the current time.
            let before = Int64(Date().timeIntervalSince1970) - 2
            try Sys.utimens(c.path("f"), atime: timespec(tv_sec: 0, tv_nsec: Int((1 << 30) - 2)), mtime: timespec(tv_sec: 0, tv_nsec: Int((1 << 30) - 1)))
            t = try Sys.stat(c.path("f"))
            try expectEqual(t.atimeNanos, 1_000_000_000_000_005, "atime kept by UTIME_OMIT")
            try expectTrue(Int64(t.st_mtim.tv_sec) >= before, "mtime set by UTIME_NOW")
            try Sys.utimens(c.path("f"), atime: timespec(tv_sec: -5, tv_nsec: 1), mtime: timespec(tv_sec: 3, tv_nsec: 0))
            try expectEqual(try Sys.stat(c.path("f")).atimeNanos, -4_999_999_999, "time before the epoch")
        },
        PosixCheck(name: "times_follow_posix", arrange: { d in try Sys.writeFile(d + "/f", "x") }) { c in
            let old = timespec(tv_sec: 1_000, tv_nsec: 0)
            try c.mutate("utimens") { try Sys.utimens(c.path("f"), atime: old, mtime: old) }
            let s0 = try Sys.stat(c.path("f"))
            try Sys.chmod(c.path("f"), 0o600)
            let s1 = try Sys.stat(c.path("f"))
            try expectEqual(s1.mtimeNanos, s0.mtimeNanos, "chmod keeps mtime")
            try expectTrue(s1.ctimeNanos >= s0.ctimeNanos && s1.ctimeNanos > s1.mtimeNanos, "chmod sets ctime")
            let fd = try Sys.open(c.path("f"), O_WRONLY)
            try Sys.write(fd, "y")
            try Sys.close(fd)
            let s2 = try Sys.stat(c.path("f"))
            try expectTrue(s2.mtimeNanos > s0.mtimeNanos, "write sets mtime")
            let d0 = try Sys.stat(c.dir)
            usleep(2_000)
            try Sys.writeFile(c.path("g"), "")
            let d1 = try Sys.stat(c.dir)
            try expectTrue(d1.mtimeNanos > d0.mtimeNanos, "create sets the directory's mtime")
            // relatime: reading a file whose atime is older than its mtime sets the atime.
            try Sys.utimens(c.path("g"), atime: old, mtime: timespec(tv_sec: 2_000, tv_nsec: 0))
            _ = try Sys.readFile(c.path("g"))
            // A mount tells its kernel off the request thread: allow the attribute timeout.
            let deadline = Date().addingTimeInterval(c.isMount ? 3 : 0)
            var g = try Sys.stat(c.path("g"))
            while g.st_atim.tv_sec <= 2_000 && Date() < deadline {
                usleep(10_000)
                g = try Sys.stat(c.path("g"))
            }
            try expectTrue(g.st_atim.tv_sec > 2_000, "read sets an atime older than the mtime (relatime): \(g.st_atim.tv_sec)")
        },
        PosixCheck(name: "fifo_and_socket_nodes") { c in
            try c.mutate("mkfifo") { try Sys.mkfifo(c.path("fifo"), 0o640) }
            try expectTrue(try Sys.stat(c.path("fifo")).fileType == S_IFIFO, "fifo type")
            try Sys.mknod(c.path("sock"), S_IFSOCK | 0o600)
            try expectTrue(try Sys.stat(c.path("sock")).fileType == S_IFSOCK, "socket type")
            try Sys.mknod(c.path("reg"), S_IFREG | 0o600)
            try expectTrue(try Sys.stat(c.path("reg")).fileType == S_IFREG, "regular file through mknod")
            // A FIFO carries data between a writer and a reader in this kernel.
            try sh("(echo through-the-fifo > fifo &) ; cat fifo > out", cwd: c.dir)
            try expectEqual(try Sys.readFile(c.path("out")), "through-the-fifo\n", "fifo data")
        },
        PosixCheck(name: "device_nodes") { c in
            // Numbers no driver answers to (240-254 are for local use), as dev_t: (major << 8) | minor.
            let blk = dev_t((240 << 8) | 77), chr = dev_t((241 << 8) | 5)
            try c.mutate("mknod b") { try Sys.mknod(c.path("blk"), S_IFBLK | 0o640, dev: blk) }
            var st = try Sys.stat(c.path("blk"))
            try expectTrue(st.fileType == S_IFBLK, "block device type")
            try expectEqual(UInt64(st.st_rdev), UInt64(blk), "block device number")
            try expectEqual(st.st_mode & 0o7777, 0o640, "block device mode")
            try Sys.mknod(c.path("chr"), S_IFCHR | 0o600, dev: chr)
            st = try Sys.stat(c.path("chr"))
            try expectTrue(st.fileType == S_IFCHR, "character device type")
            try expectEqual(UInt64(st.st_rdev), UInt64(chr), "character device number")
            // Never opened as a device: a mount is nodev (EACCES); here no driver has the number (ENXIO).
            try expectErrno(c.isMount ? EACCES : ENXIO, "open a character device node") { _ = try Sys.open(c.path("chr"), O_RDONLY) }
            try expectErrno(c.isMount ? EACCES : ENXIO, "open a block device node") { _ = try Sys.open(c.path("blk"), O_RDONLY) }
            // chmod, chown, utimens, link, rename, unlink work on them as on any node.
            try Sys.chmod(c.path("chr"), 0o604)
            try Sys.chown(c.path("chr"), 12, 34)
            try Sys.utimens(c.path("chr"), atime: timespec(tv_sec: 1_000, tv_nsec: 0), mtime: timespec(tv_sec: 2_000, tv_nsec: 5))
            st = try Sys.stat(c.path("chr"))
            try expectEqual(st.st_mode & 0o7777, 0o604, "chmod")
            try expectEqual([st.st_uid, st.st_gid], [12, 34], "chown")
            try expectEqual(st.st_mtim.tv_sec, 2_000, "utimens")
            try Sys.link(c.path("chr"), c.path("chr-link"))
            try expectEqual(try Sys.stat(c.path("chr-link")).st_ino, st.st_ino, "a hard link to the node")
            try expectEqual(try Sys.stat(c.path("chr")).st_nlink, 2, "two names")
            try Sys.rename(c.path("chr-link"), c.path("chr-moved"))
            try Sys.unlink(c.path("chr"))
            st = try Sys.stat(c.path("chr-moved"))
            try expectEqual(st.st_nlink, 1, "one name left")
            try expectEqual(UInt64(st.st_rdev), UInt64(chr), "the number through it all")
            try Sys.rename(c.path("blk"), c.path("blk-moved"))
            try Sys.unlink(c.path("blk-moved"))
            try expectErrno(ENOENT, "unlinked") { _ = try Sys.stat(c.path("blk-moved")) }
        },
        PosixCheck(name: "xattrs", arrange: { d in try Sys.writeFile(d + "/f", "") }) { c in
            try expectErrno(ENODATA, "missing xattr") { _ = try Sys.getxattr(c.path("f"), "user.none") }
            try c.mutate("setxattr") { try Sys.setxattr(c.path("f"), "user.color", "blue") }
            try expectEqual(try Sys.getxattr(c.path("f"), "user.color"), "blue", "value")
            try Sys.setxattr(c.path("f"), "user.size", "")
            try expectEqual(try Sys.listxattr(c.path("f")).sorted(), ["user.color", "user.size"], "list")
            try expectErrno(EEXIST, "XATTR_CREATE on an existing name") { try Sys.setxattr(c.path("f"), "user.color", "red", flags: 1) }
            try expectErrno(ENODATA, "XATTR_REPLACE on a missing name") { try Sys.setxattr(c.path("f"), "user.new", "x", flags: 2) }
            try Sys.setxattr(c.path("f"), "user.color", "red", flags: 2)
            try expectEqual(try Sys.getxattr(c.path("f"), "user.color"), "red", "replaced")
            try Sys.removexattr(c.path("f"), "user.color")
            try expectErrno(ENODATA, "removed") { _ = try Sys.getxattr(c.path("f"), "user.color") }
            try expectErrno(ENODATA, "remove a missing xattr") { try Sys.removexattr(c.path("f"), "user.color") }
        },
        PosixCheck(name: "readdir_small", arrange: { d in
            for i in 0..<100 { try Sys.writeFile(d + "/file-\(i)", "\(i)") }
            try Sys.mkdir(d + "/sub")
        }) { c in
            let names = try Sys.list(c.dir)
            try expectEqual(names.count, 101, "entry count")
            try expectEqual(Set(names), Set((0..<100).map { "file-\($0)" } + ["sub"]), "names")
            let all = try FileManager.default.contentsOfDirectory(atPath: c.dir)
            try expectEqual(all.count, 101, "Foundation listing")
            try c.mutate("delete while listing") {
                guard let d = opendir(c.dir) else { throw PosixError(call: "opendir", errno: errno) }
                defer { closedir(d) }
                var seen = Set<String>()
                while let e = readdir(d) {
                    let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                    if name == "." || name == ".." || name == "sub" { continue }
                    if !seen.insert(name).inserted { throw CheckFailure("\(name) listed twice") }
                    try Sys.unlink(c.path(name))
                }
            }
            try expectEqual(try Sys.list(c.dir), ["sub"], "all deleted")
        },
        PosixCheck(name: "directory_of_10000_entries", arrange: { d in
            for i in 0..<10_000 { try Sys.writeFile(d + "/e\(i)", "") }
        }) { c in
            let names = try Sys.list(c.dir)
            try expectEqual(names.count, 10_000, "entries")
            try expectEqual(Set(names).count, 10_000, "distinct entries")
            for i in stride(from: 0, to: 10_000, by: 997) { _ = try Sys.stat(c.path("e\(i)")) }
            try c.mutate("unlink") { for i in 0..<10_000 { try Sys.unlink(c.path("e\(i)")) } }
            try expectEqual(try Sys.list(c.dir), [], "empty again")
        },
        PosixCheck(name: "fsync_and_fallocate") { c in
            var fd: Int32 = -1
            try c.mutate("create") { fd = try Sys.open(c.path("f"), O_CREAT | O_RDWR, 0o644) }
            defer { close(fd) }
            try Sys.write(fd, "synced")
            try Sys.fsync(fd)
            try Sys.fallocate(fd, mode: 0, offset: 0, length: 100_000)
            try expectEqual(try Sys.fstat(fd).st_size, 100_000, "fallocate grows")
            try Sys.fallocate(fd, mode: 1, offset: 0, length: 500_000)
            try expectEqual(try Sys.fstat(fd).st_size, 100_000, "FALLOC_FL_KEEP_SIZE keeps the size")
            try expectEqual(String(decoding: try Sys.read(fd, count: 6, at: 0), as: UTF8.self), "synced", "data kept")
        },
        PosixCheck(name: "mmap_shared_write") { c in
            var fd: Int32 = -1
            try c.mutate("create") { fd = try Sys.open(c.path("m"), O_CREAT | O_RDWR, 0o644) }
            defer { close(fd) }
            try Sys.ftruncate(fd, 8192)
            guard let p = mmap(nil, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
                throw PosixError(call: "mmap", errno: errno)
            }
            memcpy(p + 4096, "mapped", 6)
            msync(p, 8192, MS_SYNC)
            munmap(p, 8192)
            try expectEqual(String(decoding: try Sys.read(fd, count: 6, at: 4096), as: UTF8.self), "mapped", "written through the mapping")
        },
        PosixCheck(name: "close_to_open_with_two_descriptors") { c in
            var w: Int32 = -1
            try c.mutate("create") { w = try Sys.open(c.path("f"), O_CREAT | O_WRONLY, 0o644) }
            let w2 = dup(w)
            try Sys.write(w, "first")
            try Sys.close(w)
            try expectEqual(try Sys.readFile(c.path("f")), "first", "visible after one close")
            try Sys.write(w2, "+second")
            try Sys.close(w2)
            try expectEqual(try Sys.readFile(c.path("f")), "first+second", "visible after the last close")
        },
        PosixCheck(name: "permissions_as_another_user", arrange: { d in
            try Sys.writeFile(d + "/secret", "root only", mode: 0o600)
            try Sys.chmod(d + "/secret", 0o600)
            try Sys.writeFile(d + "/public", "everyone", mode: 0o644)
            try Sys.chmod(d + "/public", 0o644)
            try Sys.mkdir(d + "/closed", 0o755)
            try Sys.chmod(d + "/closed", 0o755)
            try Sys.mkdir(d + "/open", 0o777)
            try Sys.chmod(d + "/open", 0o777)
            try Sys.mkdir(d + "/sticky", 0o777)
            try Sys.chmod(d + "/sticky", 0o1777)
            try Sys.writeFile(d + "/sticky/roots", "r")
            try Sys.mkdir(d + "/private", 0o700)
            try Sys.chmod(d + "/private", 0o700)
        }) { c in
            let u = otherUID
            func denied(_ cmd: String, _ what: String) throws {
                let r = try sh(cmd, cwd: c.dir, uid: u, check: false)
                if r.status == 0 { throw CheckFailure("\(what): allowed for uid \(u)") }
                if !(r.stderr.contains("Permission denied") || r.stderr.contains("Operation not permitted")
                    || (c.readOnly && r.stderr.contains("Read-only file system"))) {
                    throw CheckFailure("\(what): unexpected error \(r.stderr)")
                }
            }
            try expectEqual(try sh("cat public", cwd: c.dir, uid: u).stdout, "everyone", "read a 0644 file")
            try denied("cat secret", "read a 0600 file")
            try denied("ls private", "list a 0700 directory")
            try denied("echo x >> public", "write a 0644 file of root")
            try denied("touch closed/new", "create in a 0755 directory of root")
            try denied("chmod 777 public", "chmod another user's file")
            try denied("rm sticky/roots", "remove root's file from a sticky directory")
            try c.mutate("create as another user") { try sh("echo mine > open/theirs && mkdir open/d", cwd: c.dir, uid: u) }
            let st = try Sys.stat(c.path("open/theirs"))
            try expectEqual(st.st_uid, u, "created with the caller's uid")
            try expectEqual(st.st_gid, u, "created with the caller's gid")
            try expectEqual(try Sys.stat(c.path("open/d")).st_uid, u, "directory created with the caller's uid")
            try sh("chmod 600 open/theirs && cat open/theirs", cwd: c.dir, uid: u)
            try expectEqual(try Sys.readFile(c.path("open/theirs")), "mine\n", "root reads anything")
            try denied("chown 0 open/theirs", "give a file away")
        },
        PosixCheck(name: "setgid_directory", arrange: { d in
            try Sys.mkdir(d + "/g", 0o775)
            try Sys.chown(d + "/g", 0, 4321)
            try Sys.chmod(d + "/g", 0o2775)
        }) { c in
            try c.mutate("create in a setgid directory") {
                try Sys.writeFile(c.path("g/f"), "")
                try Sys.mkdir(c.path("g/sub"))
            }
            try expectEqual(try Sys.stat(c.path("g/f")).st_gid, 4321, "file inherits the group")
            let sub = try Sys.stat(c.path("g/sub"))
            try expectEqual(sub.st_gid, 4321, "directory inherits the group")
            try expectTrue(sub.st_mode & 0o2000 != 0, "directory inherits setgid")
        },
    ]

    /// Runs every check in a fresh subdirectory of `root` and returns the failures, one line each.
    /// `arrangeIn` is where arrange runs (a writable view of the same directory); nil: `root`.
    static func run(in root: String, site: CheckSite, arrangeIn: String? = nil, only: Set<String>? = nil) -> [String] {
        var failures: [String] = []
        for check in checks where only?.contains(check.name) ?? true {
            do {
                try check.act(CheckContext(dir: root + "/" + check.name, site: site))
            } catch is CheckContext.Refused {
            } catch {
                failures.append("[\(site.rawValue)] \(check.name): \(error)")
            }
        }
        return failures
    }

    /// Creates each check's directory under `root` and runs its `arrange`.
    static func arrange(in root: String, only: Set<String>? = nil) throws {
        for check in checks where only?.contains(check.name) ?? true {
            let d = root + "/" + check.name
            try Sys.mkdir(d, 0o755)
            try Sys.chmod(d, 0o755)
            do { try check.arrange(d) } catch { throw CheckFailure("arrange \(check.name): \(error)") }
        }
    }
}
