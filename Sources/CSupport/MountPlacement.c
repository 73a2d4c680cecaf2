// Places a mount inside another process's mount namespace (open_tree + setns + move_mount in a forked child), and takes it out again.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "CSupport.h"

#ifndef __NR_open_tree
#define __NR_open_tree 428
#endif
#ifndef __NR_move_mount
#define __NR_move_mount 429
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

/// What the child reports through its pipe: the step that failed and its errno.
struct placement_result { int stage; int error; };

/// In the child (single-threaded, so setns(CLONE_NEWNS) is allowed): enter the namespace, take the
/// process's root as ours, then either create `target`'s directories and move `tree` there, or
/// detach the mount at `target`. Only async-signal-safe calls: the parent may have had other threads.
static void child(int nsfd, int rootfd, int tree, char *target, int pipefd) {
    struct placement_result r = { 0, 0 };
    if (setns(nsfd, CLONE_NEWNS) != 0) { r.stage = CSUPPORT_PLACE_SETNS; goto out; }
    // The namespace's root may not be the process's (a chroot): resolve `target` from the process's.
    if (fchdir(rootfd) != 0 || chroot(".") != 0 || chdir("/") != 0) { r.stage = CSUPPORT_PLACE_ROOT; goto out; }
    if (tree >= 0) {
        // mkdir -p: each prefix of target in turn (the buffer is ours to edit).
        for (char *p = target + 1; *p; p++) {
            if (*p != '/') continue;
            *p = '\0';
            if (mkdir(target, 0755) != 0 && errno != EEXIST) { r.stage = CSUPPORT_PLACE_MKDIR; goto out; }
            *p = '/';
        }
        if (mkdir(target, 0755) != 0 && errno != EEXIST) { r.stage = CSUPPORT_PLACE_MKDIR; goto out; }
        if (syscall(__NR_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) != 0) { r.stage = CSUPPORT_PLACE_MOVE; goto out; }
    } else {
        if (umount2(target, MNT_DETACH) != 0) { r.stage = CSUPPORT_PLACE_UMOUNT; goto out; }
    }
out:
    if (r.stage != 0) r.error = errno;
    ssize_t unused = write(pipefd, &r, sizeof r);
    (void)unused;
    _exit(r.stage == 0 ? 0 : 1);
}

/// Both directions: `source` NULL unplaces.
static int run(const char *source, int pid, const char *target, int *stage) {
    int tree = -1, nsfd = -1, rootfd = -1, pipefd[2] = { -1, -1 }, result = 0;
    char path[64], *buffer = NULL;
    *stage = 0;
    if (target == NULL || target[0] != '/' || pid <= 0) { *stage = CSUPPORT_PLACE_OPEN; return EINVAL; }
    // Everything that is not async-signal-safe happens here, before the fork.
    if ((buffer = strdup(target)) == NULL) { *stage = CSUPPORT_PLACE_OPEN; return ENOMEM; }
    snprintf(path, sizeof path, "/proc/%d/ns/mnt", pid);
    if ((nsfd = open(path, O_RDONLY | O_CLOEXEC)) < 0) { *stage = CSUPPORT_PLACE_OPEN; result = errno; goto done; }
    snprintf(path, sizeof path, "/proc/%d/root", pid);
    if ((rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) { *stage = CSUPPORT_PLACE_OPEN; result = errno; goto done; }
    if (source != NULL) {
        // A detached copy of the mount at `source` (the same FUSE connection, not a new mount).
        tree = (int)syscall(__NR_open_tree, AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0) { *stage = CSUPPORT_PLACE_TREE; result = errno; goto done; }
    }
    if (pipe2(pipefd, O_CLOEXEC) != 0) { *stage = CSUPPORT_PLACE_FORK; result = errno; goto done; }
    pid_t c = fork();
    if (c < 0) { *stage = CSUPPORT_PLACE_FORK; result = errno; goto done; }
    if (c == 0) {
        close(pipefd[0]);
        child(nsfd, rootfd, source != NULL ? tree : -1, buffer, pipefd[1]);
    }
    close(pipefd[1]);
    pipefd[1] = -1;
    struct placement_result r = { 0, 0 };
    ssize_t n;
    do { n = read(pipefd[0], &r, sizeof r); } while (n < 0 && errno == EINTR);
    int status = 0;
    while (waitpid(c, &status, 0) < 0 && errno == EINTR) {}
    if (n != (ssize_t)sizeof r) {
        *stage = CSUPPORT_PLACE_FORK;
        result = ECHILD;
    } else if (r.stage != 0) {
        *stage = r.stage;
        result = r.error != 0 ? r.error : EIO;
    }
done:
    // Closing the tree's descriptor drops the copy when it was not moved anywhere.
    if (tree >= 0) close(tree);
    if (nsfd >= 0) close(nsfd);
    if (rootfd >= 0) close(rootfd);
    if (pipefd[0] >= 0) close(pipefd[0]);
    if (pipefd[1] >= 0) close(pipefd[1]);
    free(buffer);
    return result;
}

int csupport_place_mount(const char *source, int pid, const char *target, int *stage) {
    if (source == NULL) { *stage = CSUPPORT_PLACE_OPEN; return EINVAL; }
    return run(source, pid, target, stage);
}

int csupport_unplace_mount(int pid, const char *target, int *stage) { return run(NULL, pid, target, stage); }
