/*
 * fcntl.c - the variadic system-call wrappers: open/openat/creat (the
 * mode argument), fcntl (its optional argument), mremap (its optional new
 * address) and execl/execlp (argument lists). Each reads its varargs and
 * calls the fixed-argument function in the Rust half.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <unistd.h>

int __tessera_open(const char *path, int flags);
int __tessera_fcntl(int fd, int cmd, long arg);
void *__tessera_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr);

int open(const char *path, int flags, ...)
{
    /* The kernel keeps no permissions, so the mode (read only with
     * O_CREAT, as C requires) is not passed on. */
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        (void)va_arg(ap, int);
        va_end(ap);
    }
    return __tessera_open(path, flags);
}

int openat(int dir_fd, const char *path, int flags, ...)
{
    /* No working directories or directory fds: only absolute paths (or
     * AT_FDCWD, where relative paths start at the root of file:). */
    if (dir_fd != AT_FDCWD && path[0] != '/') {
        errno = ENOSYS;
        return -1;
    }
    return __tessera_open(path, flags);
}

int creat(const char *path, mode_t mode)
{
    return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int fcntl(int fd, int cmd, ...)
{
    long arg = 0;
    va_list ap;
    va_start(ap, cmd);
    if (cmd == F_DUPFD || cmd == F_SETFD || cmd == F_SETFL || cmd == F_DUPFD_CLOEXEC)
        arg = va_arg(ap, int);
    else if (cmd == F_GETLK || cmd == F_SETLK || cmd == F_SETLKW)
        arg = (long)va_arg(ap, struct flock *);
    va_end(ap);
    return __tessera_fcntl(fd, cmd, arg);
}

void *mremap(void *old_addr, size_t old_len, size_t new_len, int flags, ...)
{
    void *new_addr = 0;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        new_addr = va_arg(ap, void *);
        va_end(ap);
    }
    return __tessera_mremap(old_addr, old_len, new_len, flags, new_addr);
}

#define EXECL_MAX 256

/* Collects the NULL-terminated argument list after `arg` into argv. */
#define COLLECT_ARGS(argv, arg)                                   \
    do {                                                          \
        va_list ap;                                               \
        int n = 0;                                                \
        argv[n++] = (char *)(arg);                                \
        va_start(ap, arg);                                        \
        while (argv[n - 1] && n < EXECL_MAX)                      \
            argv[n++] = va_arg(ap, char *);                       \
        va_end(ap);                                               \
        if (argv[n - 1]) {                                        \
            errno = E2BIG;                                        \
            return -1;                                            \
        }                                                         \
    } while (0)

int execl(const char *path, const char *arg, ...)
{
    char *argv[EXECL_MAX];
    COLLECT_ARGS(argv, arg);
    return execv(path, argv);
}

int execlp(const char *file, const char *arg, ...)
{
    char *argv[EXECL_MAX];
    COLLECT_ARGS(argv, arg);
    return execvp(file, argv);
}
