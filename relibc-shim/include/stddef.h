/* stddef.h - C99 standard definitions (freestanding). */
#ifndef _TESSERA_STDDEF_H
#define _TESSERA_STDDEF_H

#include <bits/types.h>

typedef __PTRDIFF_TYPE__ ptrdiff_t;
#ifndef __cplusplus
typedef __WCHAR_TYPE__ wchar_t;
#endif
typedef struct { long long __ll; long double __ld; } max_align_t;

#define offsetof(type, member) __builtin_offsetof(type, member)

#endif
