// C helpers the core needs that Swift cannot import directly: zlib's init macros, syncfs(2) and sync_file_range(2).
#define _GNU_SOURCE
#include <unistd.h>
#include <fcntl.h>
#include "CSupport.h"

int csupport_inflate_init2(z_streamp strm, int window_bits) { return inflateInit2(strm, window_bits); }

int csupport_deflate_init2(z_streamp strm, int level, int window_bits) {
    return deflateInit2(strm, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
}

int csupport_syncfs(int fd) { return syncfs(fd); }

int csupport_start_writeback(int fd) { return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE); }
