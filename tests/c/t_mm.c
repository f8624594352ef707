/*
 * t_mm.c - the memory-mapping family, and its table: anonymous private and
 * shared memory, MAP_FIXED, partial munmap, mprotect with the fault caught
 * through waitpid (PROT_GROWSDOWN too), mremap, MADV_DONTNEED, brk/sbrk,
 * shm_open; Linux's flag values and errnos (docs/mm.md's table), the C
 * library's edges (page size, the instruction cache). File mappings are in
 * t_mm_file.c, the other advice values in t_mm_advise.c; the helpers in
 * mm_common.c (t_mm.h). Where Tessera decides differently from Linux, the
 * case checks Tessera's answer on Tessera and says on Linux what it skipped.
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
#include "t_mm.h"

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

