// C helpers the core needs that Swift cannot import directly: zlib's init macros, syncfs(2), sync_file_range(2), O_DIRECT and open file description locks.
#ifndef CSUPPORT_H
#define CSUPPORT_H
#include <zlib.h>

/// inflateInit2 (a macro in zlib.h).
int csupport_inflate_init2(z_streamp strm, int window_bits);
/// deflateInit2 with default memory level and strategy (a macro in zlib.h).
int csupport_deflate_init2(z_streamp strm, int level, int window_bits);
/// syncfs(2): flush every dirty page of the file system that holds fd (needs _GNU_SOURCE).
int csupport_syncfs(int fd);
/// sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE): start writing the file's dirty pages to disk
/// without waiting, so a later sync has less left to do.
int csupport_start_writeback(int fd);
/// open(path, O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC|O_DIRECT, mode): a new file whose writes skip the
/// page cache (O_DIRECT needs _GNU_SOURCE). -1 and errno on failure.
int csupport_create_direct(const char *path, unsigned int mode);
/// Clears O_DIRECT on fd, so that the unaligned tail of a file can be written through the page cache.
int csupport_clear_direct(int fd);
/// An open file description lock (F_OFD_SETLK, or F_OFD_SETLKW when `wait`) on the `count` bytes
/// from `byte` of fd: `type` 0 unlocks, 1 takes a read lock, 2 a write lock. The constants need
/// _GNU_SOURCE. 0, or -1 and errno (EAGAIN: another description holds a conflicting lock).
int csupport_ofd_lock(int fd, long long byte, long long count, int type, int wait);
#endif
