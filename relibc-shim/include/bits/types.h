/* bits/types.h - Tessera's basic C types (LP64 on x86_64 and aarch64),
 * shared by the headers that must name them without pulling in the rest.
 * Each type is defined once, guarded, so headers may include this freely. */
#ifndef _TESSERA_BITS_TYPES_H
#define _TESSERA_BITS_TYPES_H

typedef __SIZE_TYPE__ size_t;
typedef long ssize_t;
typedef long off_t;
typedef int pid_t;
typedef unsigned int uid_t;
typedef unsigned int gid_t;
typedef unsigned int mode_t;
typedef unsigned long ino_t;
typedef unsigned long dev_t;
typedef unsigned int nlink_t;
typedef long blksize_t;
typedef long blkcnt_t;
typedef long time_t;
typedef long clock_t;
typedef long suseconds_t;
typedef unsigned int useconds_t;
typedef int clockid_t;

#ifndef NULL
#define NULL ((void *)0)
#endif

#endif
