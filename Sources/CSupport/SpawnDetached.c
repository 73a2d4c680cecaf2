// Starts a program in a new session without making it our child (fork, fork again, setsid, exec; the middle process exits at once).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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
/// to `out`, `ready` as descriptor 3, nothing else of the parent's, then exec. Only async-signal-safe
/// calls: the parent has other threads. Exits 127 when the exec fails (the parent then sees EOF on 3).
static void grandchild(const char *path, char *const argv[], char *const envp[], int out, int ready) {
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
    execve(path, argv, envp);
    _exit(127);
}

int csupport_spawn_detached(const char *path, char *const argv[], char *const envp[], int out, int ready, int *pid) {
    int pipefd[2];
    *pid = 0;
    if (pipe2(pipefd, O_CLOEXEC) != 0) return errno;
    pid_t middle = fork();
    if (middle < 0) {
        int e = errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return e;
    }
    if (middle == 0) {
        struct spawn_result r = { 0, 0 };
        pid_t g = fork();
        if (g == 0) grandchild(path, argv, envp, out, ready);
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
    if (n != (ssize_t)sizeof r) return ECHILD;
    if (r.error != 0) return r.error;
    *pid = r.pid;
    return 0;
}

int csupport_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
