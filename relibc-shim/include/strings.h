/* strings.h - BSD string functions (case-insensitive compares, bzero). */
#ifndef _TESSERA_STRINGS_H
#define _TESSERA_STRINGS_H
#include <bits/types.h>

int strcasecmp(const char *a, const char *b);
int strncasecmp(const char *a, const char *b, size_t n);
void bzero(void *s, size_t n);
void bcopy(const void *src, void *dst, size_t n);
int bcmp(const void *a, const void *b, size_t n);
int ffs(int v);
char *index(const char *s, int c);
char *rindex(const char *s, int c);

#endif
