/* sys/mman.h - memory mappings, as the Tessera kernel gives them.
 *
 * PROT_* are Redox relibc's values; mmap shifts them left by 16 into the
 * kernel's MapFlags (prot << 16), as Redox does. MAP_SHARED/PRIVATE/FIXED/
 * FIXED_NOREPLACE are the kernel's bits; MAP_POPULATE and MAP_GROWSDOWN are
 * Tessera's additions (tessera-abi mm). MAP_ANONYMOUS, MAP_NORESERVE and
 * MAP_STACK are libc-only bits that never reach the kernel: MAP_ANONYMOUS
 * makes mmap use the anonymous fd (!0). MS_* and MADV_* are Linux's values,
 * which the kernel uses; MREMAP_* are tessera-abi's. */
#ifndef _TESSERA_SYS_MMAN_H
#define _TESSERA_SYS_MMAN_H
#include <bits/types.h>

#define PROT_NONE 0x0
#define PROT_EXEC 0x1
#define PROT_WRITE 0x2
#define PROT_READ 0x4

#define MAP_SHARED 0x0001
#define MAP_PRIVATE 0x0002
#define MAP_TYPE 0x0003
#define MAP_FIXED 0x0004
#define MAP_FIXED_NOREPLACE 0x000C
#define MAP_POPULATE 0x0020
#define MAP_GROWSDOWN 0x0040
#define MAP_ANONYMOUS 0x0100
#define MAP_ANON MAP_ANONYMOUS
#define MAP_NORESERVE 0x0200
#define MAP_STACK 0x0400
#define MAP_FAILED ((void *)-1)

#define MS_ASYNC 1
#define MS_INVALIDATE 2
#define MS_SYNC 4

#define MADV_NORMAL 0
#define MADV_RANDOM 1
#define MADV_SEQUENTIAL 2
#define MADV_WILLNEED 3
#define MADV_DONTNEED 4
#define POSIX_MADV_NORMAL MADV_NORMAL
#define POSIX_MADV_RANDOM MADV_RANDOM
#define POSIX_MADV_SEQUENTIAL MADV_SEQUENTIAL
#define POSIX_MADV_WILLNEED MADV_WILLNEED
#define POSIX_MADV_DONTNEED MADV_DONTNEED

#define MREMAP_MAYMOVE 8
#define MREMAP_FIXED 3
#define MREMAP_DONTUNMAP 16

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset);
int munmap(void *addr, size_t len);
int mprotect(void *addr, size_t len, int prot);
void *mremap(void *old_addr, size_t old_len, size_t new_len, int flags, ...);
int msync(void *addr, size_t len, int flags);
int madvise(void *addr, size_t len, int advice);
int posix_madvise(void *addr, size_t len, int advice);
int shm_open(const char *name, int flags, mode_t mode);
int shm_unlink(const char *name);

#endif
