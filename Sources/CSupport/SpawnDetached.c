// Starts a program in a new session without making it our child (fork, fork again, setsid, exec; the middle process exits at once).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include "CSupport.h"

#ifndef __NR_close_range
#define __NR_close_range 436
#endif

/// What the middle process reports through its pipe: the grandchild's pid, or the errno of its fork.
struct spawn_result { pid_t pid; int error; };

/// In the grandchild: a session of its own, default signal handling and an empty mask (dispositions
/// set to ignore survive exec, and volumed ignores SIGPIPE), stdin from /dev/null, stdout and stderr
/// to `out`, `ready` as descriptor 3, nothing else of the parent's. Only async-signal-safe calls: the
/// parent may have other threads. Exits 127 when a descriptor cannot be set up.
static void become_detached(int out, int ready) {
    setsid();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl;
    dfl.sa_handler = SIG_DFL;
    dfl.sa_flags = 0;
    sigemptyset(&dfl.sa_mask);
    for (int s = 1; s < NSIG; s++) {
        if (s != SIGKILL && s != SIGSTOP) sigaction(s, &dfl, NULL);
    }
    int null = open("/dev/null", O_RDONLY);
    // Move `ready` and `out` above 3 first, so that the dup2s below cannot overwrite one with another.
    int r = fcntl(ready, F_DUPFD, 10), o = fcntl(out, F_DUPFD, 10);
    if (null < 0 || r < 0 || o < 0) _exit(127);
    if (dup2(null, 0) < 0 || dup2(o, 1) < 0 || dup2(o, 2) < 0 || dup2(r, 3) < 0) _exit(127);
    // Everything above 3 goes (descriptors opened without O_CLOEXEC by any thread of the parent).
    if (syscall(__NR_close_range, 4, ~0U, 0) != 0) {
        long max = sysconf(_SC_OPEN_MAX);
        for (int fd = 4; fd < (max > 0 ? max : 65536); fd++) close(fd);
    }
}

/// Forks a middle process that forks the grandchild (set up by `become_detached`) and exits at once;
/// reaps the middle one. Returns 0 in the grandchild, its pid here, or -errno.
static pid_t fork_detached(int out, int ready) {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) return -errno;
    pid_t middle = fork();
    if (middle < 0) {
        int e = errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return -e;
    }
    if (middle == 0) {
        struct spawn_result r = { 0, 0 };
        pid_t g = fork();
        if (g == 0) {
            become_detached(out, ready);
            return 0;
        }
        if (g < 0) r.error = errno; else r.pid = g;
        ssize_t unused = write(pipefd[1], &r, sizeof r);
        (void)unused;
        _exit(0);
    }
    close(pipefd[1]);
    struct spawn_result r = { 0, 0 };
    ssize_t n;
    do { n = read(pipefd[0], &r, sizeof r); } while (n < 0 && errno == EINTR);
    close(pipefd[0]);
    int status = 0;
    while (waitpid(middle, &status, 0) < 0 && errno == EINTR) {}
    if (n != (ssize_t)sizeof r) return -ECHILD;
    if (r.error != 0) return -r.error;
    return r.pid;
}

int csupport_spawn_detached(const char *path, char *const argv[], char *const envp[], int out, int ready, int *pid) {
    *pid = 0;
    pid_t g = fork_detached(out, ready);
    if (g == 0) {
        execve(path, argv, envp);
        _exit(127);  // the parent sees EOF on `ready`
    }
    if (g < 0) return -g;
    *pid = g;
    return 0;
}

int csupport_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

// The mount launcher's side (volumectl mount-launcher, a warm process that forks mount servers): it is
// single-threaded, so fork() needs no care about other threads' locks.

int csupport_fork_detached(const char *log, int conn) {
    int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out < 0) out = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (out < 0) return -errno;
    pid_t g = fork_detached(out, conn);
    if (g != 0) close(out);
    return g;
}

long csupport_recv_with_fd(int sock, void *buf, unsigned long len, int *fd) {
    *fd = -1;
    struct iovec iov = { buf, len };
    union { char space[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    struct msghdr msg = { 0 };
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.space;
    msg.msg_controllen = sizeof control.space;
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
            memcpy(fd, CMSG_DATA(c), sizeof(int));
        }
    }
    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        if (*fd >= 0) close(*fd);
        *fd = -1;
        errno = EMSGSIZE;
        return -1;
    }
    return n;
}

int csupport_send_with_fd(int sock, const void *buf, unsigned long len, int fd) {
    struct iovec iov = { (void *)buf, len };
    union { char space[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = { 0 };
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.space;
    msg.msg_controllen = sizeof control.space;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    ssize_t n;
    do { n = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    if (n < 0) return errno;
    return n == (ssize_t)len ? 0 : EMSGSIZE;
}

int csupport_socketpair_cloexec(int type, int fds[2]) {
    return socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds);
}

void csupport_set_title(char **argv, int argc, const char *title) {
    if (argc < 1 || argv == NULL || argv[0] == NULL) return;
    char *start = argv[0];
    char *end = argv[argc - 1] + strlen(argv[argc - 1]);
    size_t room = (size_t)(end - start);
    size_t n = strlen(title);
    if (n > room) n = room;
    memcpy(start, title, n);
    memset(start + n, 0, room - n + 1);
}
