// C helpers the core needs that Swift cannot import directly: zlib's init macros and syncfs(2).
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
#endif
