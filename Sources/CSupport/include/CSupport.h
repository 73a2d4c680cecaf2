// C helpers Swift cannot import directly: zlib's init macros, syncfs(2), sync_file_range(2), O_DIRECT, open file description locks, atomics in shared memory, placing a mount in another mount namespace, starting a detached process, and the mount launcher's fork and descriptor passing.
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
/// Atomic (sequentially consistent) load and add of a 64-bit counter in memory shared between processes
/// (a MAP_SHARED mapping of a file): Swift's atomics cannot be placed at such an address.
unsigned long long csupport_shared_load(const unsigned long long *p);
unsigned long long csupport_shared_add(unsigned long long *p, unsigned long long n);
/// A flag of the calling thread (a C11 _Thread_local): set by the threads of the HTTP handlers' executor,
/// read by the bridge to run short core calls in place there.
void csupport_set_thread_mark(int mark);
int csupport_thread_mark(void);
/// mallopt(M_ARENA_MAX, arenas), mallopt(M_MMAP_THRESHOLD, mmap_threshold) and mallopt(M_TRIM_THRESHOLD,
/// trim_threshold) (malloc.h, which Swift's Glibc module does not export); a value <= 0 leaves that
/// setting alone. 1 when every call succeeded.
int csupport_malloc_policy(int arenas, int mmap_threshold, int trim_threshold);

/// The step of a placement that failed (`stage` of csupport_place_mount and csupport_unplace_mount).
enum {
    CSUPPORT_PLACE_OPEN = 1,    ///< opening /proc/PID/ns/mnt or /proc/PID/root (the process is gone?)
    CSUPPORT_PLACE_TREE = 2,    ///< open_tree(source, OPEN_TREE_CLONE)
    CSUPPORT_PLACE_FORK = 3,    ///< the pipe, fork or the child's report
    CSUPPORT_PLACE_SETNS = 4,   ///< setns(CLONE_NEWNS) in the child
    CSUPPORT_PLACE_ROOT = 5,    ///< taking the process's root (fchdir, chroot)
    CSUPPORT_PLACE_MKDIR = 6,   ///< creating target's directories
    CSUPPORT_PLACE_MOVE = 7,    ///< move_mount(tree, target)
    CSUPPORT_PLACE_UMOUNT = 8,  ///< umount2(target, MNT_DETACH)
};
/// Places a copy of the mount at `source` (a path in this mount namespace) at `target` inside the
/// mount namespace of process `pid`, resolved from that process's root, creating `target`'s
/// directories when missing: open_tree(OPEN_TREE_CLONE) here, then in a forked child (single-
/// threaded, as setns(CLONE_NEWNS) requires) setns, chroot to the process's root, mkdir -p and
/// move_mount. The copy shares the mount's superblock: the same FUSE connection, read-only when it
/// is. 0, or an errno value with `*stage` saying which step failed.
int csupport_place_mount(const char *source, int pid, const char *target, int *stage);
/// Detaches (umount2 MNT_DETACH) the mount at `target` inside the mount namespace of process `pid`,
/// in a forked child as above. 0, or an errno value with `*stage`.
int csupport_unplace_mount(int pid, const char *target, int *stage);

/// Starts `path` (execve with `argv` and `envp`, both NULL-terminated) in a new session, as a
/// grandchild: a forked middle process forks it and exits at once (and is reaped here), so the
/// program is not our child (it outlives us, and its exit leaves no zombie of ours). It gets
/// /dev/null as stdin, `out` as stdout and stderr, `ready` as descriptor 3, no other descriptor,
/// default signal dispositions and an empty signal mask. 0 and `*pid`, or an errno value. An exec
/// that fails exits 127, which the caller sees as EOF on its end of `ready`.
int csupport_spawn_detached(const char *path, char *const argv[], char *const envp[], int out, int ready, int *pid);
/// pipe2(fds, O_CLOEXEC) (needs _GNU_SOURCE): no descriptor of it leaks into a program another thread starts meanwhile.
int csupport_pipe_cloexec(int fds[2]);
/// In a single-threaded process (volumectl mount-launcher): forks a grandchild in a new session, as
/// csupport_spawn_detached does but without exec: it returns 0 in the grandchild, whose stdin is
/// /dev/null, stdout and stderr `log` (appended; /dev/null when it cannot be opened), descriptor 3
/// `conn`, no other descriptor and an empty signal mask; in the caller the grandchild's pid, or -errno.
int csupport_fork_detached(const char *log, int conn);
/// recvmsg of one message of at most `len` bytes with at most one descriptor (SCM_RIGHTS, received
/// close-on-exec) in `*fd` (-1 when none). The message's length (0: the peer closed), or -1 and errno.
long csupport_recv_with_fd(int sock, void *buf, unsigned long len, int *fd);
/// sendmsg of `len` bytes and descriptor `fd` (SCM_RIGHTS), without SIGPIPE. 0 or an errno value.
int csupport_send_with_fd(int sock, const void *buf, unsigned long len, int fd);
/// socketpair(AF_UNIX, type | SOCK_CLOEXEC) (SOCK_CLOEXEC needs _GNU_SOURCE).
int csupport_socketpair_cloexec(int type, int fds[2]);
/// Writes `title` over this process's argument strings (what ps and /proc/PID/cmdline show), cut to
/// the room they take, the rest zeroed.
void csupport_set_title(char **argv, int argc, const char *title);
#endif
