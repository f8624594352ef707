/* sys/time.h - gettimeofday, utimes and struct timeval. */
#ifndef _TESSERA_SYS_TIME_H
#define _TESSERA_SYS_TIME_H
#include <bits/types.h>
#include <time.h>

struct timeval {
    time_t tv_sec;
    suseconds_t tv_usec;
};
struct timezone {
    int tz_minuteswest;
    int tz_dsttime;
};

int gettimeofday(struct timeval *restrict tv, void *restrict tz);
/* ENOSYS: no scheme call sets file times (docs/relibc.md). */
int utimes(const char *path, const struct timeval times[2]);

#endif
