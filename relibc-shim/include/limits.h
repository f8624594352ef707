/* limits.h - sizes of integer types (LP64) and POSIX limits. */
#ifndef _TESSERA_LIMITS_H
#define _TESSERA_LIMITS_H

#define CHAR_BIT 8
#define SCHAR_MIN (-128)
#define SCHAR_MAX 127
#define UCHAR_MAX 255
#ifdef __CHAR_UNSIGNED__
#define CHAR_MIN 0
#define CHAR_MAX UCHAR_MAX
#else
#define CHAR_MIN SCHAR_MIN
#define CHAR_MAX SCHAR_MAX
#endif
#define MB_LEN_MAX 4
#define SHRT_MIN (-32768)
#define SHRT_MAX 32767
#define USHRT_MAX 65535
#define INT_MIN (-INT_MAX - 1)
#define INT_MAX 2147483647
#define UINT_MAX 4294967295U
#define LONG_MIN (-LONG_MAX - 1)
#define LONG_MAX 9223372036854775807L
#define ULONG_MAX 18446744073709551615UL
#define LLONG_MIN (-LLONG_MAX - 1)
#define LLONG_MAX 9223372036854775807LL
#define ULLONG_MAX 18446744073709551615ULL
#define SSIZE_MAX LONG_MAX

/* POSIX: the kernel's limits (tessera-abi: 4096-byte paths, 255-byte names). */
#define PATH_MAX 4096
#define NAME_MAX 255
#define PAGE_SIZE 4096
#define PAGESIZE 4096
#define PIPE_BUF 4096
#define ARG_MAX 65536
#define OPEN_MAX 1024
#define IOV_MAX 1024

#endif
