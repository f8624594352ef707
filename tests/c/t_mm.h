/*
 * t_mm.h - what the memory-mapping groups of tests/c share: the helpers
 * (mm_common.c) and the cases of t_mm_file.c and t_mm_advise.c, which the
 * table in t_mm.c lists.
 */
#ifndef T_MM_H
#define T_MM_H
#include <stddef.h>
#include <sys/types.h>

#define PAGE 4096UL

/* Newer than some C libraries' headers. */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif

/* A Tessera decision: on Linux say what is not checked. */
void linux_skips(const char *what);
/* A fresh read-write anonymous mapping of `len` bytes (MAP_ANONYMOUS is
 * added to `flags`), or NULL. */
void *anon(size_t len, int flags);
/* Child bodies that touch memory they should not: they die by a signal. */
void write_byte(void *p);
void read_byte(void *p);
/* A scratch file of `pages` pages: byte i of page k is (k * 31 + i) & 0xff. */
int make_file(const char *path, int pages);
/* The byte at `off` in the file, through read(). */
int file_byte(int fd, off_t off);
/* Whether touching `p` kills a child with SIGSEGV (nothing mapped there). */
int unmapped(void *p);
/* Whether touching `p` kills a child with SIGBUS. */
int bus_error(void *p);

/* t_mm_file.c: file mappings. */
const char *t_file_private(void);
const char *t_file_shared_msync(void);
const char *t_mremap_file(void);
const char *t_mremap_file_pieces(void);
const char *t_truncate_sigbus(void);
const char *t_msync_invalidate(void);
const char *t_mremap_dontunmap_file(void);

/* t_mm_advise.c: madvise. */
const char *t_madvise_values(void);
const char *t_madvise_fork(void);
const char *t_madvise_free(void);
const char *t_madvise_remove(void);
const char *t_madvise_guard(void);
const char *t_madvise_populate(void);

#endif
