/*
 * t_mm_advise.c - madvise: Linux's advice values, what fork copies
 * (DONTFORK, WIPEONFORK), lazy MADV_FREE and reclaim, MADV_REMOVE, guard
 * pages, MADV_POPULATE_* and WILLNEED.
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

const char *t_madvise_values(void)
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
const char *t_madvise_fork(void)
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
    /* Its page table exists now, and its page maps the zero page: read
     * before p is written, whose run of writes would otherwise fill it (q
     * may follow p in one mapping: write-around, docs/mm.md). */
    (void)*(volatile unsigned char *)q;
    memset(p, 0x33, 4 * PAGE);
    if (madvise(p, 4 * PAGE, MADV_FREE) != 0)
        _exit(11);
    p[PAGE] = 0x44; /* written after the advice: kept */
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

const char *t_madvise_free(void)
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

const char *t_madvise_remove(void)
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

const char *t_madvise_guard(void)
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

const char *t_madvise_populate(void)
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

