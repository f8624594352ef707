/*
 * stdio_impl.h - the FILE structure shared by stdio.c, printf.c and
 * scanf.c (private to libc).
 *
 * A stream is reading or writing at any moment, never both: `rpos..rlen`
 * of `buf` is read-ahead, `0..wlen` is data not yet written. Switching
 * direction flushes the writes or gives the read-ahead back by seeking.
 */
#ifndef _TESSERA_STDIO_IMPL_H
#define _TESSERA_STDIO_IMPL_H
#include <stdio.h>

#define F_READ 1    /* opened for reading */
#define F_WRITE 2   /* opened for writing */
#define F_EOF 4
#define F_ERR 8
#define F_APPEND 16 /* every write goes to the end (done here: schemes do not) */
#define F_OWNBUF 32 /* buf was malloc'ed by stdio */
#define F_STATIC 64 /* stdin/stdout/stderr: never freed */

/* A recursive lock (relibc-shim/src/lock.rs): a futex word, the owning
 * thread's id and the depth. All zero is free. */
struct __tessera_lock {
    unsigned word, owner, depth;
};
void __tessera_lock(struct __tessera_lock *l);
int __tessera_trylock(struct __tessera_lock *l);
void __tessera_unlock(struct __tessera_lock *l);
void __tessera_lock_after_fork(struct __tessera_lock *l, unsigned parent_tid);

struct __tessera_file {
    struct __tessera_lock lock; /* flockfile's; every stdio call takes it */
    int fd;
    int flags;
    int bufmode;         /* _IOFBF, _IOLBF, _IONBF; -1: not decided yet */
    unsigned char *buf;
    size_t cap;
    size_t rpos, rlen;   /* read-ahead */
    size_t wlen;         /* pending writes */
    int ungot;           /* a character pushed back by ungetc, or EOF */
    struct __tessera_file *next;
};

#define F_LOCK(f) __tessera_lock(&(f)->lock)
#define F_UNLOCK(f) __tessera_unlock(&(f)->lock)

/* Writes `n` bytes through the stream's buffer; the bytes taken. The
 * caller holds the stream's lock (as for every *_unlocked call). */
size_t __stdio_write(FILE *f, const void *data, size_t n);

/* Adds a stream made outside stdio.c (popen.c) to the list fflush(NULL)
 * and fork see. */
void __stdio_link(FILE *f);

#endif
