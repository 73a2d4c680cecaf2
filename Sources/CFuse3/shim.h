// Imports libfuse3's low-level API at version 3.14 (sessions, replies, notifications; the request loop is ours), and glibc's malloc tuning (mallopt, mallinfo2, malloc_trim).
#ifndef CFUSE3_SHIM_H
#define CFUSE3_SHIM_H
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <fcntl.h>
#include <errno.h>
#include <malloc.h>
#endif
