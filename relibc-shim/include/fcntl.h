/* fcntl.h - open flags and fcntl commands: the kernel's values (Redox's
 * O_* bits; O_CLOEXEC is classic Redox's, from tessera-abi). */
#ifndef _TESSERA_FCNTL_H
#define _TESSERA_FCNTL_H
#include <bits/types.h>

#define O_RDONLY 0x00010000
#define O_WRONLY 0x00020000
#define O_RDWR 0x00030000
#define O_ACCMODE 0x00030000
#define O_NONBLOCK 0x00040000
#define O_NDELAY O_NONBLOCK
#define O_APPEND 0x00080000
#define O_SHLOCK 0x00100000
#define O_EXLOCK 0x00200000
#define O_ASYNC 0x00400000
#define O_FSYNC 0x00800000
#define O_SYNC O_FSYNC
#define O_DSYNC O_FSYNC
#define O_CLOEXEC 0x01000000
#define O_CREAT 0x02000000
#define O_TRUNC 0x04000000
#define O_EXCL 0x08000000
#define O_DIRECTORY 0x10000000
#define O_STAT 0x20000000
#define O_SYMLINK 0x40000000
#define O_NOFOLLOW 0x80000000
/* Accepted and ignored (no controlling terminals, no large-file split). */
#define O_NOCTTY 0
#define O_LARGEFILE 0

#define F_DUPFD 0
#define F_GETFD 1
#define F_SETFD 2
#define F_GETFL 3
#define F_SETFL 4
#define F_DUPFD_CLOEXEC 1030
#define FD_CLOEXEC 1

/* Advisory record locks (Linux's values and layout; tessera-abi `lock`):
 * kept by the file's scheme, per process; a process's locks on a file go
 * when it closes any descriptor of the file. */
#define F_GETLK 5
#define F_SETLK 6
#define F_SETLKW 7
#define F_RDLCK 0
#define F_WRLCK 1
#define F_UNLCK 2

struct flock {
    short l_type;
    short l_whence;
    off_t l_start;
    off_t l_len;
    pid_t l_pid;
};

#define AT_FDCWD (-100)
#define AT_REMOVEDIR 0x200

int open(const char *path, int flags, ...);
int openat(int dir_fd, const char *path, int flags, ...);
int creat(const char *path, mode_t mode);
int fcntl(int fd, int cmd, ...);

#endif
