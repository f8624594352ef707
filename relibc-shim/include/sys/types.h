/* sys/types.h - POSIX system data types. */
#ifndef _TESSERA_SYS_TYPES_H
#define _TESSERA_SYS_TYPES_H
#include <bits/types.h>
#include <stdint.h>

typedef long blkcnt64_t;
typedef long off64_t;
typedef unsigned long u_long;
typedef unsigned int u_int;
typedef unsigned short u_short;
typedef unsigned char u_char;
typedef int id_t;
typedef unsigned int key_t;

#endif
