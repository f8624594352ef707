/*
 * t_mm_file.c - file mappings: private and shared with msync seen through
 * read(), mremap of a file mapping (grow, move, FIXED pieces, DONTUNMAP),
 * ftruncate of a mapped file (SIGBUS past the new end in another process),
 * msync(MS_INVALIDATE).
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

const char *t_file_private(void)
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

const char *t_file_shared_msync(void)
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

/* mremap of a shared file mapping: grow in place, grow by moving, move to a
 * FIXED address, shrink. Each keeps the data, a write through the mapping
 * reaches read(), and the old range is unmapped after a move. */
const char *t_mremap_file(void)
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
const char *t_mremap_file_pieces(void)
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
const char *t_truncate_sigbus(void)
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
const char *t_msync_invalidate(void)
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
const char *t_mremap_dontunmap_file(void)
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

