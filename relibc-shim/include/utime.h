/* utime.h - utime: ENOSYS, as utimes (no scheme call sets file times;
 * docs/relibc.md). */
#ifndef _TESSERA_UTIME_H
#define _TESSERA_UTIME_H
#include <bits/types.h>

struct utimbuf {
    time_t actime;
    time_t modtime;
};

int utime(const char *path, const struct utimbuf *times);

#endif
