// The C trampolines: non-capturing closures libfuse calls, each reaching the mount's Swift object
// through the session's userdata.
import CFuse3
import Foundation
import VolumeCore

#if canImport(Glibc)
import Glibc
#endif

/// The mount behind a request (the session's userdata, retained by `FUSEMount`).
@inline(__always)
private func fs(_ req: fuse_req_t?) -> FUSEFileSystem {
    Unmanaged<FUSEFileSystem>.fromOpaque(fuse_req_userdata(req)!).takeUnretainedValue()
}

/// The low-level operations table. libfuse copies it into the session.
func makeOperations() -> fuse_lowlevel_ops {
    var ops = fuse_lowlevel_ops()
    ops.`init` = { userdata, conn in
        guard let userdata, let conn else { return }
        Unmanaged<FUSEFileSystem>.fromOpaque(userdata).takeUnretainedValue().configure(conn)
    }
    ops.lookup = { req, parent, name in fs(req).lookup(req!, parent, name!) }
    ops.forget = { req, ino, n in
        fs(req).forget(ino, n)
        fuse_reply_none(req)
    }
    ops.forget_multi = { req, count, forgets in
        let f = fs(req)
        if let forgets { for i in 0..<count { f.forget(forgets[i].ino, forgets[i].nlookup) } }
        fuse_reply_none(req)
    }
    ops.getattr = { req, ino, _ in fs(req).getattr(req!, ino) }
    ops.setattr = { req, ino, attr, toSet, _ in fs(req).setattr(req!, ino, attr!, toSet) }
    ops.readlink = { req, ino in fs(req).readlink(req!, ino) }
    ops.mknod = { req, parent, name, mode, rdev in fs(req).mknod(req!, parent, name!, mode, rdev) }
    ops.mkdir = { req, parent, name, mode in fs(req).mkdir(req!, parent, name!, mode) }
    ops.unlink = { req, parent, name in fs(req).unlink(req!, parent, name!) }
    ops.rmdir = { req, parent, name in fs(req).rmdir(req!, parent, name!) }
    ops.symlink = { req, link, parent, name in fs(req).symlink(req!, link!, parent, name!) }
    ops.rename = { req, parent, name, newParent, newName, flags in
        fs(req).rename(req!, parent, name!, newParent, newName!, flags)
    }
    ops.link = { req, ino, newParent, newName in fs(req).link(req!, ino, newParent, newName!) }
    ops.open = { req, ino, fi in fs(req).open(req!, ino, fi!) }
    ops.read = { req, ino, size, off, _ in fs(req).read(req!, ino, size, Int64(off)) }
    ops.write = { req, ino, buf, size, off, _ in fs(req).write(req!, ino, buf!, size, Int64(off)) }
    ops.flush = { req, ino, _ in fs(req).flush(req!, ino) }
    ops.release = { req, ino, fi in fs(req).release(req!, ino, fi!.pointee.fh) }
    ops.fsync = { req, ino, _, _ in fs(req).fsync(req!, ino) }
    ops.opendir = { req, ino, fi in fs(req).opendir(req!, ino, fi!) }
    ops.readdir = { req, ino, size, off, fi in fs(req).readdir(req!, ino, size, Int64(off), fi!.pointee.fh, plus: false) }
    ops.readdirplus = { req, ino, size, off, fi in fs(req).readdir(req!, ino, size, Int64(off), fi!.pointee.fh, plus: true) }
    ops.releasedir = { req, _, fi in fs(req).releasedir(req!, fi!.pointee.fh) }
    ops.fsyncdir = { req, _, _, _ in fs(req).fsyncdir(req!) }
    ops.statfs = { req, _ in fs(req).statfs(req!) }
    ops.setxattr = { req, ino, name, value, size, flags in fs(req).setxattr(req!, ino, name!, value, size, flags) }
    ops.getxattr = { req, ino, name, size in fs(req).getxattr(req!, ino, name!, size) }
    ops.listxattr = { req, ino, size in fs(req).listxattr(req!, ino, size) }
    ops.removexattr = { req, ino, name in fs(req).removexattr(req!, ino, name!) }
    ops.create = { req, parent, name, mode, fi in fs(req).create(req!, parent, name!, mode, fi!) }
    ops.fallocate = { req, ino, mode, off, len, _ in fs(req).fallocate(req!, ino, mode, Int64(off), Int64(len)) }
    return ops
}

extension FUSEFileSystem {
    /// Negotiates the connection: what the kernel should do itself and what it may cache.
    func configure(_ conn: UnsafeMutablePointer<fuse_conn_info>) {
        var want = conn.pointee.want
        let capable = conn.pointee.capable
        // The kernel clears setuid/setgid on write and chown itself.
        want &= ~UInt32(FUSE_CAP_HANDLE_KILLPRIV)
        // Page-cache writeback would make the kernel ignore sizes other writers set; exports would
        // let file handles reach inodes outside a subpath.
        want &= ~UInt32(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_EXPORT_SUPPORT)
        for cap in [FUSE_CAP_ASYNC_READ, FUSE_CAP_PARALLEL_DIROPS, FUSE_CAP_AUTO_INVAL_DATA, FUSE_CAP_ATOMIC_O_TRUNC,
                    FUSE_CAP_READDIRPLUS, FUSE_CAP_READDIRPLUS_AUTO, FUSE_CAP_CACHE_SYMLINKS] where capable & UInt32(cap) != 0 {
            want |= UInt32(cap)
        }
        conn.pointee.want = want
        // A write fits the request loop's buffers (libfuse 3.14's default too).
        conn.pointee.max_write = min(conn.pointee.max_write, UInt32(SessionLoop.maxWrite))
        conn.pointee.max_background = 64
        conn.pointee.congestion_threshold = 48
        conn.pointee.time_gran = 1
    }
}
