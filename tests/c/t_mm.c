/*
 * t_mm.c - the memory-mapping family: anonymous private/shared memory,
 * file mappings private/shared with msync seen through read(), MAP_FIXED,
 * partial munmap, mprotect with the fault caught through waitpid, mremap,
 * madvise, brk/sbrk, shm_open; Linux's flag and advice values and errnos
 * (docs/mm.md's table), the C library's edges (page size, the instruction
 * cache). Where Tessera decides differently from Linux, the case checks
 * Tessera's answer on Tessera and says on Linux what it skipped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctest.h"

#define PAGE 4096UL

/* Newer than some C libraries' headers. */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif

/* A Tessera decision: on Linux say what is not checked. */
__attribute__((unused)) static void linux_skips(const char *what)
{
#ifndef __tessera__
    printf("c-tests: skip on Linux: %s\n", what);
#else
    (void)what;
#endif
}

static void *anon(size_t len, int flags)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Child bodies that touch memory they should not: they die by a signal. */
static void write_byte(void *p)
{
    *(volatile char *)p = 1;
}

static void read_byte(void *p)
{
    (void)*(volatile char *)p;
}

/* A scratch file of `pages` pages: byte i of page k is (k * 31 + i) & 0xff. */
static int make_file(const char *path, int pages)
{
    unsigned char buf[PAGE];
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    for (int k = 0; k < pages; k++) {
        for (unsigned i = 0; i < PAGE; i++)
            buf[i] = (unsigned char)(k * 31 + i);
        if (write(fd, buf, PAGE) != (ssize_t)PAGE)
            return -1;
    }
    return fd;
}

static const char *t_anon_private(void)
{
    unsigned char *p = anon(16 * PAGE, MAP_PRIVATE);
    CHECK(p != NULL && ((uintptr_t)p & (PAGE - 1)) == 0);
    for (unsigned long i = 0; i < 16 * PAGE; i += 512)
        CHECK(p[i] == 0);
    for (unsigned long i = 0; i < 16 * PAGE; i++)
        p[i] = (unsigned char)i;
    for (unsigned long i = 0; i < 16 * PAGE; i += 997)
        CHECK(p[i] == (unsigned char)i);
    CHECK(munmap(p, 16 * PAGE) == 0);
    return NULL;
}

static void set_42(void *p)
{
    ((volatile int *)p)[100] = 42;
}

static const char *t_anon_shared_fork(void)
{
    int *p = anon(PAGE, MAP_SHARED), st;
    CHECK(p != NULL);
    st = in_child(set_42, p);
    CHECK(WIFEXITED(st) && p[100] == 42);
    CHECK(munmap(p, PAGE) == 0);
    return NULL;
}

static void cow_child(void *arg)
{
    volatile int *p = arg;
    if (p[0] != 1)
        _exit(2);
    p[0] = 2;
    _exit(p[0] == 2 ? 0 : 3);
}

static const char *t_private_cow_fork(void)
{
    int *p = anon(4 * PAGE, MAP_PRIVATE), st;
    CHECK(p != NULL);
    p[0] = 1;
    st = in_child(cow_child, p);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && p[0] == 1);
    CHECK(munmap(p, 4 * PAGE) == 0);
    return NULL;
}

static const char *t_file_private(void)
{
    const char *path = scratch("private.map");
    unsigned char buf[16], *p;
    int fd = make_file(path, 3);
    CHECK(fd >= 0);
    p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    CHECK(p != MAP_FAILED);
    CHECK(p[0] == 0 && p[PAGE + 5] == (unsigned char)(31 + 5) && p[2 * PAGE + 100] == (unsigned char)(62 + 100));
    p[PAGE] = 0xee;                       /* private: the file keeps its byte */
    CHECK(munmap(p, 3 * PAGE) == 0);
    CHECK(pread(fd, buf, 1, PAGE) == 1 && buf[0] == 31);
    /* A mapping at an offset into the file. */
    p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 2 * PAGE);
    CHECK(p != MAP_FAILED && p[1] == (unsigned char)(62 + 1));
    CHECK(munmap(p, PAGE) == 0 && close(fd) == 0 && unlink(path) == 0);
    return NULL;
}

static const char *t_file_shared_msync(void)
{
    const char *path = scratch("shared.map");
    unsigned char buf[PAGE], *p;
    int fd = make_file(path, 4), rfd;
    CHECK(fd >= 0);
    p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    memcpy(p + PAGE + 10, "written through the mapping", 27);
    p[3 * PAGE + 4095] = 0x77;
    CHECK(msync(p, 4 * PAGE, MS_SYNC) == 0);
    rfd = open(path, O_RDONLY);
    CHECK(rfd >= 0 && pread(rfd, buf, PAGE, PAGE) == (ssize_t)PAGE);
    CHECK(memcmp(buf + 10, "written through the mapping", 27) == 0 && buf[9] == (unsigned char)(31 + 9));
    CHECK(pread(rfd, buf, PAGE, 3 * PAGE) == (ssize_t)PAGE && buf[4095] == 0x77);
    /* write() is seen through the mapping too. */
    CHECK(pwrite(fd, "Z", 1, 2 * PAGE) == 1 && p[2 * PAGE] == 'Z');
    CHECK(munmap(p, 4 * PAGE) == 0);
    CHECK(close(rfd) == 0 && close(fd) == 0 && unlink(path) == 0);
    return NULL;
}

static const char *t_map_fixed(void)
{
    unsigned char *p = anon(4 * PAGE, MAP_PRIVATE), *q;
    CHECK(p != NULL);
    memset(p, 'A', 4 * PAGE);
    q = mmap(p + PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(q == p + PAGE);
    CHECK(q[0] == 0 && q[PAGE - 1] == 0 && p[PAGE - 1] == 'A' && p[2 * PAGE] == 'A');
    errno = 0;
    q = mmap(p + 2 * PAGE, PAGE, PROT_READ, MAP_FIXED_NOREPLACE | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(q == MAP_FAILED && errno == EEXIST && p[2 * PAGE] == 'A');
    errno = 0;
    q = mmap(p + 1, PAGE, PROT_READ, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(q == MAP_FAILED && errno == EINVAL);
    CHECK(munmap(p, 4 * PAGE) == 0);
    return NULL;
}

static const char *t_munmap_partial(void)
{
    unsigned char *p = anon(4 * PAGE, MAP_PRIVATE);
    int st;
    CHECK(p != NULL);
    memset(p, 'B', 4 * PAGE);
    CHECK(munmap(p + PAGE, PAGE) == 0);
    CHECK(p[0] == 'B' && p[2 * PAGE] == 'B' && p[4 * PAGE - 1] == 'B');
    st = in_child(read_byte, p + PAGE);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    errno = 0;
    CHECK(mprotect(p, 4 * PAGE, PROT_READ) == -1 && errno == ENOMEM);
    CHECK(munmap(p + PAGE, PAGE) == 0);       /* nothing there: still fine */
    CHECK(munmap(p, 4 * PAGE) == 0);
    errno = 0;
    CHECK(munmap(p + 1, PAGE) == -1 && errno == EINVAL);
    return NULL;
}

static const char *t_mprotect_fault(void)
{
    unsigned char *p = anon(2 * PAGE, MAP_PRIVATE);
    int st;
    CHECK(p != NULL);
    p[0] = 'x';
    p[PAGE] = 'y';
    CHECK(mprotect(p, PAGE, PROT_READ) == 0 && p[0] == 'x');
    st = in_child(write_byte, p);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    st = in_child(write_byte, p + PAGE);      /* the page next to it stays writable */
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(mprotect(p, PAGE, PROT_NONE) == 0);
    st = in_child(read_byte, p);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    CHECK(mprotect(p, 2 * PAGE, PROT_READ | PROT_WRITE) == 0 && p[0] == 'x');
    p[0] = 'z';
    CHECK(p[0] == 'z' && p[PAGE] == 'y');
    CHECK(munmap(p, 2 * PAGE) == 0);
    return NULL;
}

static const char *t_mremap(void)
{
    unsigned char *p = anon(PAGE, MAP_PRIVATE), *q, *target;
    CHECK(p != NULL);
    memset(p, 'm', PAGE);
    q = mremap(p, PAGE, 8 * PAGE, MREMAP_MAYMOVE);
    CHECK(q != MAP_FAILED && q[0] == 'm' && q[PAGE - 1] == 'm' && q[PAGE] == 0 && q[8 * PAGE - 1] == 0);
    q[8 * PAGE - 1] = 'e';
    /* Move to a chosen place, replacing what is there. */
    target = anon(8 * PAGE, MAP_PRIVATE);
    CHECK(target != NULL);
    p = mremap(q, 8 * PAGE, 8 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target);
    CHECK(p == target && p[0] == 'm' && p[8 * PAGE - 1] == 'e');
    /* Shrink in place. */
    q = mremap(p, 8 * PAGE, 2 * PAGE, 0);
    CHECK(q == p && q[0] == 'm');
    CHECK(munmap(q, 2 * PAGE) == 0);
    return NULL;
}

static const char *t_madvise(void)
{
    unsigned char *p = anon(4 * PAGE, MAP_PRIVATE);
    CHECK(p != NULL);
    memset(p, 0x33, 4 * PAGE);
    CHECK(madvise(p, 4 * PAGE, MADV_WILLNEED) == 0 && p[0] == 0x33);
    CHECK(madvise(p + PAGE, 2 * PAGE, MADV_DONTNEED) == 0);
    CHECK(p[0] == 0x33 && p[PAGE] == 0 && p[3 * PAGE - 1] == 0 && p[3 * PAGE] == 0x33);
    CHECK(munmap(p, 4 * PAGE) == 0);
    return NULL;
}

static const char *t_brk_sbrk(void)
{
    char *start = sbrk(0), *p;
    CHECK(start != (char *)-1);
    p = sbrk(10000);
    CHECK(p == start);
    memset(p, 'k', 10000);
    CHECK(sbrk(0) == start + 10000 && p[9999] == 'k');
    CHECK(sbrk(-5000) == start + 10000 && sbrk(0) == start + 5000 && p[4999] == 'k');
    CHECK(brk(start) == 0 && sbrk(0) == start);
    return NULL;
}

static void shm_child(void *name)
{
    int fd = shm_open(name, O_RDWR, 0);
    char *p;
    if (fd < 0)
        _exit(2);
    p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        _exit(3);
    strcpy(p + 100, "from the child");
    _exit(0);
}

static const char *t_shm_open(void)
{
    char name[64], *p;
    int fd, st;
    snprintf(name, sizeof name, "/c-tests-shm-%d", (int)getpid());
    fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    CHECK(fd >= 0 && ftruncate(fd, PAGE) == 0);
    p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    st = in_child(shm_child, name);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strcmp(p + 100, "from the child") == 0);
    CHECK(munmap(p, PAGE) == 0 && close(fd) == 0 && shm_unlink(name) == 0);
    errno = 0;
    CHECK(shm_open(name, O_RDWR, 0) == -1 && errno == ENOENT);
    return NULL;
}

static const char *t_mmap_errors(void)
{
    errno = 0;
    CHECK(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL);
    errno = 0;
    CHECK(mmap(NULL, PAGE, PROT_READ, MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL);
    errno = 0;
    CHECK(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, 1000, 0) == MAP_FAILED && errno == EBADF);
    return NULL;
}

static int file_byte(int fd, off_t off);
static const char *t_mremap_file(void);
static const char *t_mremap_file_pieces(void);
static const char *t_truncate_sigbus(void);
static const char *t_mremap_dontunmap_file(void);
static const char *t_mprotect_growsdown(void);
static const char *t_msync_invalidate(void);
static const char *t_mman_values(void)
{
    /* Linux's values, so that numbers hard-coded by Linux programs work. */
    CHECK(PROT_READ == 1 && PROT_WRITE == 2 && PROT_EXEC == 4 && PROT_NONE == 0);
    CHECK(PROT_GROWSDOWN == 0x01000000 && PROT_GROWSUP == 0x02000000);
    CHECK(MAP_SHARED == 1 && MAP_PRIVATE == 2 && MAP_SHARED_VALIDATE == 3 && MAP_TYPE == 0xf);
    CHECK(MAP_FIXED == 0x10 && MAP_ANONYMOUS == 0x20 && MAP_ANON == MAP_ANONYMOUS && MAP_FILE == 0);
    CHECK(MAP_GROWSDOWN == 0x100 && MAP_DENYWRITE == 0x800 && MAP_EXECUTABLE == 0x1000 && MAP_LOCKED == 0x2000);
    CHECK(MAP_NORESERVE == 0x4000 && MAP_POPULATE == 0x8000 && MAP_NONBLOCK == 0x10000 && MAP_STACK == 0x20000);
    CHECK(MAP_HUGETLB == 0x40000 && MAP_SYNC == 0x80000 && MAP_FIXED_NOREPLACE == 0x100000);
    CHECK(MAP_HUGE_SHIFT == 26 && MAP_HUGE_MASK == 0x3f);
    CHECK(MS_ASYNC == 1 && MS_INVALIDATE == 2 && MS_SYNC == 4);
    CHECK(MREMAP_MAYMOVE == 1 && MREMAP_FIXED == 2 && MREMAP_DONTUNMAP == 4);
    CHECK(MADV_NORMAL == 0 && MADV_RANDOM == 1 && MADV_SEQUENTIAL == 2 && MADV_WILLNEED == 3);
    CHECK(MADV_DONTNEED == 4 && MADV_FREE == 8 && MADV_REMOVE == 9 && MADV_DONTFORK == 10);
    CHECK(MADV_DOFORK == 11 && MADV_MERGEABLE == 12 && MADV_UNMERGEABLE == 13 && MADV_HUGEPAGE == 14);
    CHECK(MADV_NOHUGEPAGE == 15 && MADV_DONTDUMP == 16 && MADV_DODUMP == 17 && MADV_WIPEONFORK == 18);
    CHECK(MADV_KEEPONFORK == 19 && MADV_COLD == 20 && MADV_PAGEOUT == 21 && MADV_POPULATE_READ == 22);
    CHECK(MADV_POPULATE_WRITE == 23 && MADV_DONTNEED_LOCKED == 24 && MADV_HWPOISON == 100);
    CHECK(MADV_GUARD_INSTALL == 102 && MADV_GUARD_REMOVE == 103);
    CHECK(POSIX_MADV_DONTNEED == 4 && POSIX_MADV_WILLNEED == 3);
    return NULL;
}

/* mmap's flags as Linux takes them: MAP_SHARED ignores what it does not
 * know, MAP_SHARED_VALIDATE refuses it, no file is DAX (MAP_SYNC), no huge
 * pages are reserved, the hints are accepted. */
static const char *t_mmap_flags(void)
{
    const char *path = scratch("flags.map");
    int fd = make_file(path, 2);
    unsigned char *p;
    CHECK(fd >= 0);
    p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED_VALIDATE, fd, 0);
    CHECK(p != MAP_FAILED && p[1] == 1 && munmap(p, PAGE) == 0);
    errno = 0;
    CHECK(mmap(NULL, PAGE, PROT_READ, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0) == MAP_FAILED && errno == EOPNOTSUPP);
    errno = 0;
    CHECK(mmap(NULL, PAGE, PROT_READ, MAP_SHARED_VALIDATE | (1 << 10), fd, 0) == MAP_FAILED && errno == EOPNOTSUPP);
    errno = 0;
    CHECK(mmap(NULL, PAGE, PROT_READ, MAP_SHARED | MAP_SYNC, fd, 0) == MAP_FAILED && errno == EOPNOTSUPP);
    p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED | (1 << 10), fd, 0);
    CHECK(p != MAP_FAILED && p[2] == 2 && munmap(p, PAGE) == 0);
    errno = 0;
    CHECK(mmap(NULL, PAGE, PROT_READ, MAP_SHARED | MAP_HUGETLB, fd, 0) == MAP_FAILED && errno == EINVAL);
    /* Anonymous memory has no MAP_SHARED_VALIDATE and ignores MAP_SYNC. */
    errno = 0;
    CHECK(mmap(NULL, PAGE, PROT_READ, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL);
    p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_SYNC | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED && munmap(p, PAGE) == 0);
    errno = 0;
    CHECK(mmap(NULL, PAGE, PROT_READ, 0xf | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL);
    /* No huge pages are reserved: ENOMEM (a Linux host may have some). */
    errno = 0;
    p = mmap(NULL, 2UL << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
#ifdef __tessera__
    CHECK(p == MAP_FAILED && errno == ENOMEM);
#else
    CHECK(p == MAP_FAILED ? errno == ENOMEM : munmap(p, 2UL << 20) == 0);
#endif
    /* The hints. */
    p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK | MAP_LOCKED | MAP_DENYWRITE | MAP_EXECUTABLE, -1, 0);
    CHECK(p != MAP_FAILED && p[PAGE] == 0);
    p[PAGE] = 5;
    CHECK(p[PAGE] == 5 && munmap(p, 2 * PAGE) == 0);
    p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_NONBLOCK, -1, 0);
    CHECK(p != MAP_FAILED && p[0] == 0 && munmap(p, 2 * PAGE) == 0);
    CHECK(close(fd) == 0 && unlink(path) == 0);
    return NULL;
}

static const char *t_mremap_flags(void)
{
    unsigned char *p = anon(PAGE, MAP_PRIVATE), *q;
    CHECK(p != NULL);
    errno = 0;
    CHECK(mremap(p, PAGE, PAGE, MREMAP_MAYMOVE | 0x10) == MAP_FAILED && errno == EINVAL);
    errno = 0;
    CHECK(mremap(p, PAGE, PAGE, MREMAP_MAYMOVE | 8) == MAP_FAILED && errno == EINVAL);
    /* Known flags still work. */
    p[0] = 'd';
    q = mremap(p, PAGE, 3 * PAGE, MREMAP_MAYMOVE);
    CHECK(q != MAP_FAILED && q[0] == 'd' && munmap(q, 3 * PAGE) == 0);
    return NULL;
}

static const char *t_madvise_values(void)
{
    unsigned char *p = anon(4 * PAGE, MAP_PRIVATE), *s = anon(PAGE, MAP_SHARED);
    static const int hints[] = {MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_HUGEPAGE,
                                MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP, MADV_COLD, MADV_PAGEOUT};
    static const int unknown[] = {5, 6, 7, 26, 99, 104, 1000};
    /* Linux has these; Tessera answers as a Linux kernel without them. */
    static const int not_built[] = {MADV_MERGEABLE, MADV_UNMERGEABLE};
    CHECK(p != NULL && s != NULL);
    memset(p, 0x33, 4 * PAGE);
    for (unsigned i = 0; i < sizeof hints / sizeof hints[0]; i++)
        CHECK(madvise(p, 4 * PAGE, hints[i]) == 0 && p[0] == 0x33 && p[4 * PAGE - 1] == 0x33);
    for (unsigned i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        errno = 0;
        CHECK(madvise(p, PAGE, unknown[i]) == -1 && errno == EINVAL);
    }
    /* MADV_FREE: the old data or zeroes; private anonymous memory only. */
    CHECK(madvise(p, PAGE, MADV_FREE) == 0 && (p[0] == 0x33 || p[0] == 0) && p[PAGE] == 0x33);
    errno = 0;
    CHECK(madvise(s, PAGE, MADV_FREE) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(madvise(p, PAGE, MADV_REMOVE) == -1 && errno == EINVAL);      /* private */
    CHECK(madvise(p + PAGE, PAGE, MADV_DONTNEED_LOCKED) == 0 && p[PAGE] == 0 && p[2 * PAGE] == 0x33);
    /* POSIX_MADV_DONTNEED keeps the data (glibc makes it a no-op). */
    CHECK(posix_madvise(p + 2 * PAGE, PAGE, POSIX_MADV_DONTNEED) == 0 && p[2 * PAGE] == 0x33);
#ifdef __tessera__
    for (unsigned i = 0; i < sizeof not_built / sizeof not_built[0]; i++) {
        errno = 0;
        CHECK(madvise(p, PAGE, not_built[i]) == -1 && errno == EINVAL);
    }
#else
    (void)not_built;
    linux_skips("MADV_MERGEABLE/UNMERGEABLE (EINVAL on Tessera: no KSM)");
#endif
    CHECK(munmap(p, 4 * PAGE) == 0 && munmap(s, PAGE) == 0);
    return NULL;
}

static void read_first(void *arg)
{
    _exit(*(volatile unsigned char *)arg);
}

static void fork_again(void *arg)
{
    int st = in_child(read_first, arg);
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 200);
}

/* What fork copies: MADV_DONTFORK leaves a range out of the child (it
 * faults there), MADV_WIPEONFORK gives it the range empty, to
 * grandchildren too; DOFORK and KEEPONFORK undo them. */
static const char *t_madvise_fork(void)
{
    unsigned char *p = anon(3 * PAGE, MAP_PRIVATE), *s = anon(PAGE, MAP_SHARED);
    int st;
    CHECK(p != NULL && s != NULL);
    memset(p, 0x55, 3 * PAGE);
    CHECK(madvise(p, PAGE, MADV_DONTFORK) == 0 && madvise(p + PAGE, PAGE, MADV_WIPEONFORK) == 0);
    st = in_child(read_byte, p);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    st = in_child(read_first, p + PAGE);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = in_child(fork_again, p + PAGE);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = in_child(read_first, p + 2 * PAGE);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0x55);
    CHECK(p[0] == 0x55 && p[PAGE] == 0x55);
    errno = 0;
    CHECK(madvise(s, PAGE, MADV_WIPEONFORK) == -1 && errno == EINVAL);
    CHECK(madvise(p, 3 * PAGE, MADV_DOFORK) == 0 && madvise(p, 3 * PAGE, MADV_KEEPONFORK) == 0);
    st = in_child(read_first, p);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0x55);
    st = in_child(read_first, p + PAGE);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0x55);
    CHECK(munmap(p, 3 * PAGE) == 0 && munmap(s, PAGE) == 0);
    return NULL;
}

/* Linux's errnos for lengths, offsets and addresses, and its protection
 * rules. */
static const char *t_mmap_errnos(void)
{
    const char *path = scratch("errnos.map");
    int fd = make_file(path, 2);
    unsigned char *p, *q;
    CHECK(fd >= 0);
    errno = 0;
    CHECK(mmap(NULL, (size_t)-100, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == ENOMEM);
    errno = 0;
    CHECK(mmap(NULL, (size_t)1 << 62, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == ENOMEM);
    errno = 0;
    CHECK(mmap((void *)(1UL << 60), PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED &&
          errno == ENOMEM);
    /* A file offset whose end is past the largest offset; a negative one. */
    errno = 0;
    CHECK(mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, (off_t)0x7ffffffffffff000LL) == MAP_FAILED &&
          errno == EOVERFLOW);
    errno = 0;
    CHECK(mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, -(off_t)PAGE) == MAP_FAILED && errno == EOVERFLOW);
    p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, -(off_t)PAGE);   /* anonymous: ignored */
    CHECK(p != MAP_FAILED && munmap(p, PAGE) == 0);
    /* An unaligned hint is a hint: the page it is in or the next one when
     * free (Linux rounds down on x86_64, up on aarch64; Tessera up). */
    p = anon(4 * PAGE, MAP_PRIVATE);
    CHECK(p != NULL && munmap(p, 4 * PAGE) == 0);
    q = mmap(p + PAGE + 0x123, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK((q == p + PAGE || q == p + 2 * PAGE) && munmap(q, PAGE) == 0);
    /* Below the lowest mappable address: EPERM (Linux lets a privileged
     * process map page 0). */
    errno = 0;
    q = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
#ifdef __tessera__
    CHECK(q == MAP_FAILED && errno == EPERM);
#else
    if (q != MAP_FAILED) {
        CHECK(munmap(q, PAGE) == 0);
        linux_skips("MAP_FIXED at page 0 succeeded (privileged process); EPERM expected otherwise");
    } else {
        CHECK(errno == EPERM);
    }
#endif
    /* mmap ignores protection bits it does not know; mprotect does not. */
    p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE | 0x100 | 0x10000000, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    p[0] = 7;
    errno = 0;
    CHECK(mprotect(p, PAGE, PROT_READ | 0x100) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(mprotect(p, PAGE, PROT_READ | PROT_GROWSUP) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(mprotect(p, PAGE, PROT_READ | PROT_GROWSDOWN) == -1 && errno == EINVAL);   /* not grows-down */
    CHECK(p[0] == 7 && munmap(p, PAGE) == 0);
    /* A shared mapping of a file open for writing may be made writable. */
    p = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED && p[PAGE + 1] == 32);
    CHECK(mprotect(p, 2 * PAGE, PROT_READ | PROT_WRITE) == 0);
    p[PAGE + 1] = 'w';
    CHECK(mprotect(p, PAGE, PROT_WRITE) == 0);
    p[0] = 'W';
    CHECK(msync(p, 2 * PAGE, MS_SYNC) == 0 && munmap(p, 2 * PAGE) == 0);
    {
        char b[2];
        CHECK(pread(fd, b, 1, 0) == 1 && b[0] == 'W' && pread(fd, b, 1, PAGE + 1) == 1 && b[0] == 'w');
    }
    CHECK(close(fd) == 0 && unlink(path) == 0);
    return NULL;
}

void __clear_cache(void *start, void *end);

/* Machine code of `int f(void) { return 42; }`. */
#if defined(__x86_64__)
static const unsigned char ret42[] = {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3};
#elif defined(__aarch64__)
static const unsigned char ret42[] = {0x40, 0x05, 0x80, 0x52, 0xc0, 0x03, 0x5f, 0xd6};
#endif

/* A JIT's steps under W^X: write the code read-write, make it
 * read-execute, flush the instruction cache, call it. */
static const char *t_jit_clear_cache(void)
{
    unsigned char *p = anon(PAGE, MAP_PRIVATE);
    int (*fn)(void);
    volatile unsigned __int128 n = ((unsigned __int128)1 << 100) + 12345, d = ((unsigned __int128)1 << 70) + 3;
    volatile __int128 sn = -(__int128)n, sd = 7;
    /* compiler-rt's 128-bit division, which clang calls on both arches. */
    unsigned __int128 q = n / d, r = n % d;
    CHECK(q == ((unsigned __int128)1 << 30) - 1 && r < d && q * d + r == n);
    CHECK(sn / sd == -(__int128)(n / 7) && sn % sd == -(__int128)(n % 7) && (n % 7) != 0);
    CHECK(p != NULL);
    memcpy(p, ret42, sizeof ret42);
    CHECK(mprotect(p, PAGE, PROT_READ | PROT_EXEC) == 0);
    __builtin___clear_cache((char *)p, (char *)p + sizeof ret42);
    __clear_cache(p, p + sizeof ret42);
    fn = (int (*)(void))(uintptr_t)p;
    CHECK(fn() == 42);
    CHECK(munmap(p, PAGE) == 0);
    return NULL;
}

/* The C library's edges: the page size, the variadic mremap. */
static const char *t_libc_edges(void)
{
    unsigned char *p = anon(PAGE, MAP_PRIVATE), *target = anon(2 * PAGE, MAP_PRIVATE), *q;
    CHECK(sysconf(_SC_PAGESIZE) == (long)PAGE && sysconf(_SC_PAGE_SIZE) == (long)PAGE && getpagesize() == (int)PAGE);
    CHECK(p != NULL && target != NULL);
    p[0] = 'v';
    /* The fifth argument is read with MREMAP_FIXED only. */
    q = mremap(p, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target + PAGE);
    CHECK(q == target + PAGE && q[0] == 'v' && target[0] == 0);
    q = mremap(q, PAGE, 2 * PAGE, MREMAP_MAYMOVE, (void *)1);
    CHECK(q != MAP_FAILED && q[0] == 'v');
    CHECK(munmap(q, 2 * PAGE) == 0 && munmap(target, PAGE) == 0);
    return NULL;
}

/* ---- MADV_FREE, MADV_REMOVE, guard pages, POPULATE_*, WILLNEED ---- */

/* The mappings listing (Tessera: sys:maps, `START-END PERMS KIND RESIDENT`;
 * Linux: /proc/self/maps): how many entries overlap [p, p + len), and on
 * Tessera the resident pages they hold (-1 on Linux, which does not say). */
static int maps_of(void *p, size_t len, long *resident)
{
#ifdef __tessera__
    FILE *f = fopen("sys:maps", "r");
#else
    FILE *f = fopen("/proc/self/maps", "r");
#endif
    char line[256];
    int entries = 0;
    uintptr_t lo = (uintptr_t)p, hi = lo + len;
    *resident = 0;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long start, end;
        if (sscanf(line, "%lx-%lx", &start, &end) != 2 || end <= lo || start >= hi)
            continue;
        entries++;
#ifdef __tessera__
        const char *last = strrchr(line, ' ');
        *resident += last != NULL ? atol(last + 1) : 0;
#else
        *resident = -1;
#endif
    }
    fclose(f);
    return entries;
}

#ifdef __tessera__
/* Tessera's test knob: the n-th next frame allocation of this process
 * fails, once, as if memory had run out. */
static int inject_frame_failure(int n)
{
    char command[32];
    int len = snprintf(command, sizeof command, "frame %d", n);
    int fd = open("sys:inject", O_WRONLY);
    int ok = fd >= 0 && write(fd, command, (size_t)len) == len;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* In a child (its pages are its own): MADV_FREE, then a frame allocation
 * that fails; the freeable pages are reclaimed and it succeeds. Exits 0,
 * or the number of the check that failed. */
static void free_then_run_out(void *arg)
{
    unsigned char *p = anon(4 * PAGE, MAP_PRIVATE), *q = anon(PAGE, MAP_PRIVATE);
    (void)arg;
    if (p == NULL || q == NULL)
        _exit(10);
    memset(p, 0x33, 4 * PAGE);
    if (madvise(p, 4 * PAGE, MADV_FREE) != 0)
        _exit(11);
    p[PAGE] = 0x44;                     /* written after the advice: kept */
    (void)*(volatile unsigned char *)q; /* its page table exists now */
    if (!inject_frame_failure(0))
        _exit(12);
    q[0] = 1; /* the frame allocation fails; pages 0, 2 and 3 are reclaimed */
    if (p[0] != 0 || p[2 * PAGE] != 0 || p[4 * PAGE - 1] != 0)
        _exit(13);
    if (p[PAGE] != 0x44 || p[2 * PAGE - 1] != 0x33 || q[0] != 1)
        _exit(14);
    _exit(0);
}

/* The pipes between free_and_wait (another process) and the test. */
static int ready_pipe[2], go_pipe[2];

/* Marks 8 pages freeable, says so, waits, then checks that a shortage in
 * another process took them (they read zero). */
static void free_and_wait(void *arg)
{
    unsigned char *p = anon(8 * PAGE, MAP_PRIVATE);
    char c;
    (void)arg;
    if (p == NULL)
        _exit(20);
    memset(p, 0x77, 8 * PAGE);
    if (madvise(p, 8 * PAGE, MADV_FREE) != 0 || write(ready_pipe[1], "r", 1) != 1 || read(go_pipe[0], &c, 1) != 1)
        _exit(21);
    for (unsigned i = 0; i < 8; i++)
        if (p[i * PAGE] != 0 || p[i * PAGE + PAGE - 1] != 0)
            _exit(22);
    _exit(0);
}

/* Runs out of frames (injected) with no freeable page of its own. */
static void run_out(void *arg)
{
    unsigned char *q = anon(PAGE, MAP_PRIVATE);
    (void)arg;
    if (q == NULL)
        _exit(30);
    (void)*(volatile unsigned char *)q;
    if (!inject_frame_failure(0))
        _exit(31);
    q[0] = 1; /* reclaims the other process's pages, then succeeds */
    _exit(q[0] == 1 ? 0 : 32);
}

/* Frames run out in one process; another's freeable pages are reclaimed. */
static const char *reclaim_across_processes(void)
{
    char c;
    int ready, st = -1, held;
    pid_t holder;
    CHECK(pipe(ready_pipe) == 0 && pipe(go_pipe) == 0);
    holder = fork();
    CHECK(holder >= 0);
    if (holder == 0)
        free_and_wait(NULL);
    ready = read(ready_pipe[0], &c, 1) == 1;
    if (ready)
        st = in_child(run_out, NULL);
    /* Whatever happened, the holder is let go (EOF if not "g"). */
    (void)!write(go_pipe[1], "g", 1);
    for (int i = 0; i < 2; i++) {
        close(ready_pipe[i]);
        close(go_pipe[i]);
    }
    held = wait_for(holder);
    CHECK(ready && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(WIFEXITED(held) && WEXITSTATUS(held) == 0);
    return NULL;
}
#endif

static const char *t_madvise_free(void)
{
    unsigned char *p = anon(4 * PAGE, MAP_PRIVATE);
    long resident;
    CHECK(p != NULL);
    memset(p, 0x33, 4 * PAGE);
    CHECK(madvise(p, 4 * PAGE, MADV_FREE) == 0);
    p[PAGE] = 0x44; /* a write after the advice keeps the page */
    CHECK(p[0] == 0x33 || p[0] == 0);
    CHECK(p[PAGE] == 0x44 && (p[2 * PAGE - 1] == 0x33 || p[2 * PAGE - 1] == 0));
#ifdef __tessera__
    /* Nothing is short of memory: every page is kept. */
    CHECK(p[0] == 0x33 && p[2 * PAGE - 1] == 0x33 && p[3 * PAGE] == 0x33);
    CHECK(maps_of(p, 4 * PAGE, &resident) == 1 && resident == 4);
#else
    (void)resident;
    linux_skips("MADV_FREE reclaim under memory pressure (Tessera's sys:inject knob)");
#endif
    CHECK(munmap(p, 4 * PAGE) == 0);
#ifdef __tessera__
    /* Reclaim (this process has no freeable page left to take instead). */
    int st = in_child(free_then_run_out, NULL);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return reclaim_across_processes();
#else
    return NULL;
#endif
}

static const char *t_madvise_remove(void)
{
    unsigned char *s = anon(2 * PAGE, MAP_SHARED), *p = anon(PAGE, MAP_PRIVATE), *s2;
    const char *path = scratch("remove.dat");
    int fd = make_file(path, 2);
    CHECK(s != NULL && p != NULL && fd >= 0);
    memset(s, 0x55, 2 * PAGE);
    /* A second mapping of the same shared memory. */
    s2 = mremap(s, 0, 2 * PAGE, MREMAP_MAYMOVE);
    CHECK(s2 != MAP_FAILED && s2 != s && s2[0] == 0x55);
    CHECK(madvise(s, PAGE, MADV_REMOVE) == 0);
    CHECK(s[0] == 0 && s[PAGE - 1] == 0 && s2[0] == 0 && s2[PAGE] == 0x55 && s[PAGE] == 0x55);
    s2[0] = 9;
    CHECK(s[0] == 9);
    CHECK(madvise(s2, 2 * PAGE, MADV_REMOVE) == 0 && s[0] == 0 && s[PAGE] == 0);
    errno = 0;
    CHECK(madvise(p, PAGE, MADV_REMOVE) == -1 && errno == EINVAL); /* private anonymous */
    unsigned char *fp = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    unsigned char *fs = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(fp != MAP_FAILED && fs != MAP_FAILED);
    errno = 0;
    CHECK(madvise(fp, PAGE, MADV_REMOVE) == -1 && errno == EACCES); /* private file */
    /* A shared file mapping: the filesystem punches the hole (ramfs on
     * Tessera); the bytes read zero through the mapping and read(), the
     * size stays. */
    CHECK(fs[1] == 1 && file_byte(fd, PAGE + 1) == (unsigned char)(31 + 1));
    CHECK(madvise(fs, PAGE, MADV_REMOVE) == 0);
    CHECK(fs[1] == 0 && fs[PAGE - 1] == 0 && file_byte(fd, 1) == 0 && file_byte(fd, PAGE - 1) == 0);
    struct stat st_file;
    CHECK(fstat(fd, &st_file) == 0 && st_file.st_size == (off_t)(2 * PAGE));
    CHECK(file_byte(fd, PAGE + 1) == (unsigned char)(31 + 1));
#ifdef __tessera__
    /* A memory: object mapped twice: a hole through one mapping shows in both. */
    int mfd = open("memory:shared", O_RDWR);
    CHECK(mfd >= 0 && ftruncate(mfd, 2 * PAGE) == 0);
    unsigned char *m1 = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    unsigned char *m2 = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    CHECK(m1 != MAP_FAILED && m2 != MAP_FAILED);
    memset(m1, 0x5a, 2 * PAGE);
    CHECK(m2[PAGE] == 0x5a && madvise(m2 + PAGE, PAGE, MADV_REMOVE) == 0);
    CHECK(m1[PAGE] == 0 && m2[2 * PAGE - 1] == 0 && m1[0] == 0x5a && m2[0] == 0x5a);
    CHECK(munmap(m1, 2 * PAGE) == 0 && munmap(m2, 2 * PAGE) == 0 && close(mfd) == 0);
#else
    linux_skips("MADV_REMOVE of a memory: object (Tessera's scheme)");
#endif
    CHECK(munmap(fp, PAGE) == 0 && munmap(fs, PAGE) == 0 && close(fd) == 0 && unlink(path) == 0);
    CHECK(munmap(s, 2 * PAGE) == 0 && munmap(s2, 2 * PAGE) == 0 && munmap(p, PAGE) == 0);
    return NULL;
}

static const char *t_madvise_guard(void)
{
    unsigned char *p = anon(4 * PAGE, MAP_PRIVATE), *q;
    long resident;
    int st, pipe_fds[2];
    CHECK(p != NULL && pipe(pipe_fds) == 0);
    memset(p, 0x66, 4 * PAGE);
    CHECK(madvise(p + PAGE, 2 * PAGE, MADV_GUARD_INSTALL) == 0);
    CHECK(maps_of(p, 4 * PAGE, &resident) == 1); /* no split */
#ifdef __tessera__
    CHECK(resident == 2); /* the guarded pages' frames went */
#endif
    CHECK(p[0] == 0x66 && p[4 * PAGE - 1] == 0x66);
    /* Any access faults; fork copies the markers (the child is a fork). */
    st = in_child(read_byte, p + PAGE);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    st = in_child(write_byte, p + 3 * PAGE - 1);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    /* The kernel's own copies fail with EFAULT. */
    CHECK(write(pipe_fds[1], "x", 1) == 1);
    errno = 0;
    CHECK(read(pipe_fds[0], p + PAGE, 1) == -1 && errno == EFAULT);
    errno = 0;
    CHECK(madvise(p, 4 * PAGE, MADV_POPULATE_READ) == -1 && errno == EFAULT);
    /* DONTNEED and mprotect keep them. */
    CHECK(madvise(p, 4 * PAGE, MADV_DONTNEED) == 0 && mprotect(p, 4 * PAGE, PROT_READ) == 0);
    CHECK(mprotect(p, 4 * PAGE, PROT_READ | PROT_WRITE) == 0);
    st = in_child(read_byte, p + 2 * PAGE);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    /* mremap carries them along. */
    q = mremap(p, 4 * PAGE, 8 * PAGE, MREMAP_MAYMOVE);
    CHECK(q != MAP_FAILED);
    st = in_child(read_byte, q + PAGE);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    /* REMOVE: the pages read zero again. */
    CHECK(madvise(q, 8 * PAGE, MADV_GUARD_REMOVE) == 0);
    CHECK(q[PAGE] == 0 && q[3 * PAGE - 1] == 0 && q[0] == 0);
    q[PAGE] = 1;
    CHECK(q[PAGE] == 1 && maps_of(q, 8 * PAGE, &resident) == 1);
    CHECK(munmap(q, 8 * PAGE) == 0 && close(pipe_fds[0]) == 0 && close(pipe_fds[1]) == 0);
    return NULL;
}

static const char *t_madvise_populate(void)
{
    unsigned char *p = anon(4 * PAGE, MAP_PRIVATE), *ro, *f, *big;
    const char *path = scratch("populate.dat"), *big_path = scratch("willneed.dat");
    int fd = make_file(path, 1), big_fd = make_file(big_path, 80);
    long resident = 0;
    CHECK(p != NULL && fd >= 0 && big_fd >= 0);
    (void)resident;
    CHECK(madvise(p, 2 * PAGE, MADV_POPULATE_WRITE) == 0 && madvise(p, 4 * PAGE, MADV_POPULATE_READ) == 0);
#ifdef __tessera__
    CHECK(maps_of(p, 4 * PAGE, &resident) == 1 && resident == 2); /* read-populated pages map the zero page */
#endif
    CHECK(p[0] == 0 && p[4 * PAGE - 1] == 0);
    ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(ro != MAP_FAILED);
    errno = 0;
    CHECK(madvise(ro, PAGE, MADV_POPULATE_WRITE) == -1 && errno == EINVAL);
    CHECK(madvise(ro, PAGE, MADV_POPULATE_READ) == 0 && mprotect(ro, PAGE, PROT_NONE) == 0);
    errno = 0;
    CHECK(madvise(ro, PAGE, MADV_POPULATE_READ) == -1 && errno == EINVAL);
    CHECK(munmap(p + PAGE, PAGE) == 0);
    errno = 0;
    CHECK(madvise(p, 3 * PAGE, MADV_POPULATE_READ) == -1 && errno == ENOMEM);
    errno = 0;
    CHECK(madvise(p, 3 * PAGE, MADV_WILLNEED) == -1 && errno == ENOMEM);
    /* A file of one page mapped over three: past its end is SIGBUS, so EFAULT. */
    f = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(f != MAP_FAILED);
    CHECK(madvise(f, PAGE, MADV_POPULATE_WRITE) == 0 && f[1] == 1);
    errno = 0;
    CHECK(madvise(f, 3 * PAGE, MADV_POPULATE_READ) == -1 && errno == EFAULT);
    CHECK(madvise(f, 3 * PAGE, MADV_WILLNEED) == 0); /* read-ahead: failures ignored */
    /* WILLNEED fetches a large (lazily mapped) file's pages ahead. */
    big = mmap(NULL, 80 * PAGE, PROT_READ, MAP_PRIVATE, big_fd, 0);
    CHECK(big != MAP_FAILED);
    CHECK(madvise(big + 8 * PAGE, 70 * PAGE, MADV_WILLNEED) == 0);
#ifdef __tessera__
    CHECK(maps_of(big, 80 * PAGE, &resident) == 1 && resident >= 70);
#endif
    CHECK(big[8 * PAGE + 1] == (unsigned char)(8 * 31 + 1) && big[79 * PAGE] == (unsigned char)(79 * 31));
    CHECK(munmap(big, 80 * PAGE) == 0 && munmap(f, 3 * PAGE) == 0 && munmap(ro, PAGE) == 0);
    CHECK(munmap(p, PAGE) == 0 && munmap(p + 2 * PAGE, 2 * PAGE) == 0);
    CHECK(close(fd) == 0 && close(big_fd) == 0 && unlink(path) == 0 && unlink(big_path) == 0);
    return NULL;
}

const struct test mm_tests[] = {
    {"mmap-anon-private", t_anon_private},
    {"mmap-anon-shared-fork", t_anon_shared_fork},
    {"mmap-private-cow-fork", t_private_cow_fork},
    {"mmap-file-private", t_file_private},
    {"mmap-file-shared-msync", t_file_shared_msync},
    {"mmap-fixed", t_map_fixed},
    {"munmap-partial", t_munmap_partial},
    {"mprotect-fault", t_mprotect_fault},
    {"mremap-grow-move", t_mremap},
    {"mremap-file", t_mremap_file},
    {"mremap-file-pieces", t_mremap_file_pieces},
    {"madvise-dontneed", t_madvise},
    {"brk-sbrk", t_brk_sbrk},
    {"shm-open", t_shm_open},
    {"mmap-errors", t_mmap_errors},
    {"mman-values", t_mman_values},
    {"mmap-flags", t_mmap_flags},
    {"mremap-flags", t_mremap_flags},
    {"madvise-values", t_madvise_values},
    {"madvise-fork", t_madvise_fork},
    {"mmap-errnos", t_mmap_errnos},
    {"libc-edges", t_libc_edges},
    {"jit-clear-cache", t_jit_clear_cache},
    {"mremap-dontunmap-file", t_mremap_dontunmap_file},
    {"mprotect-growsdown", t_mprotect_growsdown},
    {"truncate-sigbus", t_truncate_sigbus},
    {"msync-invalidate", t_msync_invalidate},
    {"madvise-free", t_madvise_free},
    {"madvise-remove", t_madvise_remove},
    {"madvise-guard", t_madvise_guard},
    {"madvise-populate", t_madvise_populate},
    {NULL, NULL},
};

/* The byte at `off` in the file, through read(). */
static int file_byte(int fd, off_t off)
{
    unsigned char c;
    return pread(fd, &c, 1, off) == 1 ? c : -1;
}

/* Whether touching `p` kills a child with SIGSEGV (nothing mapped there). */
static int unmapped(void *p)
{
    int st = in_child(read_byte, p);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV;
}

/* mremap of a shared file mapping: grow in place, grow by moving, move to a
 * FIXED address, shrink. Each keeps the data, a write through the mapping
 * reaches read(), and the old range is unmapped after a move. */
static const char *t_mremap_file(void)
{
    const char *path = scratch("remap.map");
    unsigned char *p, *q, *t, *blocker;
    int fd = make_file(path, 8);
    CHECK(fd >= 0);
    p = mmap(NULL, 6 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED && munmap(p + 2 * PAGE, 4 * PAGE) == 0);
    p[1] = 'a';
    /* In place, over the pages just unmapped. */
    q = mremap(p, 2 * PAGE, 4 * PAGE, 0);
    CHECK(q == p && p[1] == 'a' && p[2 * PAGE + 1] == (unsigned char)(2 * 31 + 1));
    p[3 * PAGE] = 'b';
    CHECK(file_byte(fd, 3 * PAGE) == 'b');
    /* Blocked right after: it moves. */
    blocker = mmap(p + 4 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(blocker == p + 4 * PAGE);
    q = mremap(p, 4 * PAGE, 6 * PAGE, MREMAP_MAYMOVE);
    CHECK(q != MAP_FAILED && q != p && q[1] == 'a' && q[3 * PAGE] == 'b' && unmapped(p));
    q[5 * PAGE] = 'c';
    CHECK(file_byte(fd, 5 * PAGE) == 'c');
    /* To a chosen address, replacing what is there. */
    t = anon(6 * PAGE, MAP_PRIVATE);
    CHECK(t != NULL);
    p = mremap(q, 6 * PAGE, 6 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, t);
    CHECK(p == t && p[1] == 'a' && p[5 * PAGE] == 'c' && unmapped(q));
    p[4 * PAGE] = 'd';
    CHECK(file_byte(fd, 4 * PAGE) == 'd');
    /* Shrink: the tail goes. */
    q = mremap(p, 6 * PAGE, 3 * PAGE, 0);
    CHECK(q == p && p[2 * PAGE] == (unsigned char)(2 * 31) && unmapped(p + 3 * PAGE));
    p[2 * PAGE] = 'e';
    CHECK(munmap(p, 3 * PAGE) == 0 && munmap(blocker, PAGE) == 0);
    CHECK(file_byte(fd, 2 * PAGE) == 'e' && file_byte(fd, 5 * PAGE) == 'c');
    CHECK(close(fd) == 0 && unlink(path) == 0);
    return NULL;
}

/* Pieces of one shared file mapping moved with MREMAP_FIXED, out past its
 * end and back into the hole, with one page made read-only in between (as
 * LTP's mremap06): every page keeps its file page. */
static const char *t_mremap_file_pieces(void)
{
    const char *path = scratch("pieces.map");
    unsigned char *p, *q;
    int fd = make_file(path, 4);
    CHECK(fd >= 0);
    /* No page, or page 0, 2 or 3 made read-only while page 1 is away. */
    static const int ro_pages[] = {-1, 0, 2, 3};
    for (unsigned i = 0; i < sizeof ro_pages / sizeof ro_pages[0]; i++) {
        int ro = ro_pages[i];
        p = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        CHECK(p != MAP_FAILED && munmap(p + 4 * PAGE, 4 * PAGE) == 0);
        q = mremap(p + PAGE, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, p + 4 * PAGE);
        CHECK(q == p + 4 * PAGE && q[5] == (unsigned char)(31 + 5) && unmapped(p + PAGE));
        if (ro >= 0)
            CHECK(mprotect(p + ro * PAGE, PAGE, PROT_READ) == 0);
        q = mremap(p + 4 * PAGE, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, p + PAGE);
        CHECK(q == p + PAGE && unmapped(p + 4 * PAGE));
        for (int k = 0; k < 4; k++)
            CHECK(p[k * PAGE + 7] == (unsigned char)(k * 31 + 7));
        p[PAGE + 9] = 'f';
        CHECK(file_byte(fd, PAGE + 9) == 'f');
        /* The whole range, as one call, whatever the pieces. */
        CHECK(munmap(p, 4 * PAGE) == 0);
    }
    CHECK(close(fd) == 0 && unlink(path) == 0);
    return NULL;
}

/* Whether touching `p` kills a child with SIGBUS. */
static int bus_error(void *p)
{
    int st = in_child(read_byte, p);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS;
}

/* The mapping process of t_truncate_sigbus: maps the file shared and
 * private, touches every page (and copies page 3 of the private mapping),
 * says so on `ready`, waits for the truncate on `go`, then checks what it
 * sees. Exits 0 if all is as Linux has it, else the failed check's number. */
static void truncated_mapper(int fd, int ready, int go)
{
    unsigned char *s = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    unsigned char *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    char c;
    if (s == MAP_FAILED || p == MAP_FAILED)
        _exit(10);
    for (unsigned k = 0; k < 4; k++) {
        read_byte(s + k * PAGE);
        read_byte(p + k * PAGE);
    }
    p[3 * PAGE] = 0x5a;                        /* a private copy */
    if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 1)
        _exit(11);
    /* The file is now PAGE + 100 bytes long. */
    if (s[PAGE + 50] != (unsigned char)(31 + 50) || p[PAGE + 50] != (unsigned char)(31 + 50))
        _exit(12);
    if (s[PAGE + 200] != 0 || p[PAGE + 200] != 0) /* the tail of the last page: zeroes */
        _exit(13);
    if (!bus_error(s + 2 * PAGE) || !bus_error(s + 3 * PAGE))
        _exit(14);
    if (!bus_error(p + 2 * PAGE))
        _exit(15);
    if (!bus_error(p + 3 * PAGE))                /* the copy went too */
        _exit(16);
    /* Grown again: the pages are back, as zeroes, in both mappings. */
    if (write(ready, "t", 1) != 1 || read(go, &c, 1) != 1)
        _exit(17);
    if (s[3 * PAGE + 7] != 0 || p[3 * PAGE + 7] != 0 || s[2 * PAGE] != 'N' || p[2 * PAGE] != 'N')
        _exit(18);
    if (munmap(s, 4 * PAGE) != 0 || munmap(p, 4 * PAGE) != 0)
        _exit(19);
    _exit(0);
}

/* ftruncate shrinking a file that another process maps shared and private:
 * touching past the new end is SIGBUS there (private copies included), the
 * last page's tail reads zeroes, and growing the file again brings zeroed
 * pages back (Linux's behaviour). */
static const char *t_truncate_sigbus(void)
{
    const char *path = scratch("truncate.map");
    int to_parent[2], to_child[2], st;
    char c;
    int fd = make_file(path, 4);
    CHECK(fd >= 0 && pipe(to_parent) == 0 && pipe(to_child) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        truncated_mapper(fd, to_parent[1], to_child[0]);
    CHECK(read(to_parent[0], &c, 1) == 1 && c == 'r');
    CHECK(ftruncate(fd, PAGE + 100) == 0);
    CHECK(write(to_child[1], "g", 1) == 1);
    CHECK(read(to_parent[0], &c, 1) == 1 && c == 't');
    CHECK(ftruncate(fd, 4 * PAGE) == 0 && pwrite(fd, "N", 1, 2 * PAGE) == 1);
    CHECK(write(to_child[1], "g", 1) == 1);
    st = wait_for(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(close(to_parent[0]) == 0 && close(to_parent[1]) == 0);
    CHECK(close(to_child[0]) == 0 && close(to_child[1]) == 0);
    CHECK(close(fd) == 0 && unlink(path) == 0);
    return NULL;
}

/* msync(MS_INVALIDATE): accepted on file and anonymous mappings, alone or
 * with MS_SYNC / MS_ASYNC; a private mapping keeps its copies and shows the
 * file's current data in the pages it did not copy; with MS_SYNC and
 * MS_ASYNC together EINVAL. */
static const char *t_msync_invalidate(void)
{
    const char *path = scratch("invalidate.map");
    unsigned char *p, *s, *a;
    int fd = make_file(path, 3);
    CHECK(fd >= 0);
    p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    s = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    a = anon(PAGE, MAP_PRIVATE);
    CHECK(p != MAP_FAILED && s != MAP_FAILED && a != NULL);
    CHECK(p[5] == 5 && p[PAGE + 5] == (unsigned char)(31 + 5));
    p[0] = 0xaa;                                  /* copied */
    s[2 * PAGE] = 0xbb;
    CHECK(pwrite(fd, "W", 1, PAGE) == 1);
    CHECK(msync(p, 3 * PAGE, MS_INVALIDATE) == 0);
    CHECK(p[0] == 0xaa && p[1] == 1);             /* the copy stays */
    CHECK(p[PAGE] == 'W' && p[2 * PAGE] == 0xbb); /* the file's pages, as they are now */
    CHECK(msync(s, 3 * PAGE, MS_INVALIDATE | MS_SYNC) == 0 && s[2 * PAGE] == 0xbb && s[PAGE] == 'W');
    CHECK(msync(s, 3 * PAGE, MS_INVALIDATE | MS_ASYNC) == 0);
    CHECK(msync(a, PAGE, MS_INVALIDATE) == 0);
    errno = 0;
    CHECK(msync(s, PAGE, MS_SYNC | MS_ASYNC) == -1 && errno == EINVAL);
    CHECK(munmap(p, 3 * PAGE) == 0 && munmap(s, 3 * PAGE) == 0 && munmap(a, PAGE) == 0);
    CHECK(file_byte(fd, 2 * PAGE) == 0xbb && file_byte(fd, 0) == 0);
    CHECK(close(fd) == 0 && unlink(path) == 0);
    return NULL;
}

/* MREMAP_DONTUNMAP of file mappings (Linux >= 5.13): the pages move, the
 * old range stays a mapping of the file, empty, and shows the file again
 * (a private copy moved away); a shared one stays the same file pages. */
static const char *t_mremap_dontunmap_file(void)
{
    const char *path = scratch("dontunmap.map");
    unsigned char *p, *q, *s, *t;
    int fd = make_file(path, 2);
    CHECK(fd >= 0);
    p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    CHECK(p != MAP_FAILED);
    p[PAGE] = 0xcc;                               /* a private copy */
    q = mremap(p, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
    CHECK(q != MAP_FAILED && q != p);
    CHECK(q[PAGE] == 0xcc && q[3] == 3);          /* moved, the copy too */
    CHECK(p[PAGE] == 31 && p[3] == 3);            /* the old range: the file again */
    s = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(s != MAP_FAILED);
    t = mremap(s, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
    CHECK(t != MAP_FAILED && t != s);
    t[9] = 'd';
    CHECK(s[9] == 'd' && file_byte(fd, 9) == 'd');
    errno = 0;
    CHECK(mremap(t, 2 * PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL) == MAP_FAILED && errno == EINVAL);
    CHECK(munmap(p, 2 * PAGE) == 0 && munmap(q, 2 * PAGE) == 0);
    CHECK(munmap(s, 2 * PAGE) == 0 && munmap(t, 2 * PAGE) == 0);
    CHECK(close(fd) == 0 && unlink(path) == 0);
    return NULL;
}

/* mprotect with PROT_GROWSDOWN: the change reaches down to the start of the
 * grows-down mapping; on any other mapping EINVAL; PROT_GROWSUP EINVAL. */
static const char *t_mprotect_growsdown(void)
{
    unsigned char *s = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0);
    unsigned char *a = anon(2 * PAGE, MAP_PRIVATE);
    int st;
    CHECK(s != MAP_FAILED && a != NULL);
    s[0] = s[3 * PAGE] = 1;
    CHECK(mprotect(s + 3 * PAGE, PAGE, PROT_READ | PROT_GROWSDOWN) == 0);
    st = in_child(write_byte, s);                 /* the lowest page too */
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    st = in_child(write_byte, s + 2 * PAGE);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    CHECK(s[0] == 1 && s[3 * PAGE] == 1);
    errno = 0;
    CHECK(mprotect(a + PAGE, PAGE, PROT_READ | PROT_GROWSDOWN) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(mprotect(a, PAGE, PROT_READ | PROT_GROWSUP) == -1 && errno == EINVAL);
    CHECK(munmap(s, 4 * PAGE) == 0 && munmap(a, 2 * PAGE) == 0);
    return NULL;
}
