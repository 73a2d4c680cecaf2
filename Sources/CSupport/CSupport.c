// C helpers the core needs that Swift cannot import directly: zlib's init macros, syncfs(2), sync_file_range(2), O_DIRECT, open file description locks, atomics in shared memory and mallopt.
#define _GNU_SOURCE
#include <unistd.h>
#include <malloc.h>
#include <fcntl.h>
#include "CSupport.h"

int csupport_inflate_init2(z_streamp strm, int window_bits) { return inflateInit2(strm, window_bits); }

int csupport_deflate_init2(z_streamp strm, int level, int window_bits) {
    return deflateInit2(strm, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
}

int csupport_syncfs(int fd) { return syncfs(fd); }

int csupport_malloc_policy(int arenas, int mmap_threshold, int trim_threshold) {
    int ok = 1;
    if (arenas > 0) ok &= mallopt(M_ARENA_MAX, arenas);
    if (mmap_threshold > 0) ok &= mallopt(M_MMAP_THRESHOLD, mmap_threshold);
    if (trim_threshold > 0) ok &= mallopt(M_TRIM_THRESHOLD, trim_threshold);
    return ok;
}

unsigned long long csupport_shared_load(const unsigned long long *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }

unsigned long long csupport_shared_add(unsigned long long *p, unsigned long long n) { return __atomic_add_fetch(p, n, __ATOMIC_SEQ_CST); }

static _Thread_local int thread_mark;

void csupport_set_thread_mark(int mark) { thread_mark = mark; }

int csupport_thread_mark(void) { return thread_mark; }

int csupport_start_writeback(int fd) { return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE); }

int csupport_create_direct(const char *path, unsigned int mode) {
    return open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_DIRECT, (mode_t)mode);
}

int csupport_clear_direct(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags == -1) return -1;
    return fcntl(fd, F_SETFL, flags & ~O_DIRECT);
}

int csupport_ofd_lock(int fd, long long byte, long long count, int type, int wait) {
    struct flock l = {0};
    l.l_type = (short)(type == 0 ? F_UNLCK : type == 1 ? F_RDLCK : F_WRLCK);
    l.l_whence = SEEK_SET;
    l.l_start = (off_t)byte;
    l.l_len = (off_t)count;
    l.l_pid = 0;
    return fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &l) == 0 ? 0 : -1;
}
