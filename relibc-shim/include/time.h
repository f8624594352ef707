/* time.h - clocks, sleeping and calendar time (UTC only: no time zones). */
#ifndef _TESSERA_TIME_H
#define _TESSERA_TIME_H
#include <bits/types.h>

struct timespec {
    time_t tv_sec;
    long tv_nsec;
};

struct tm {
    int tm_sec, tm_min, tm_hour, tm_mday, tm_mon, tm_year, tm_wday, tm_yday, tm_isdst;
    long tm_gmtoff;
    const char *tm_zone;
};

/* The kernel's clock ids (Redox's values). */
#define CLOCK_REALTIME 1
#define CLOCK_MONOTONIC 4
#define CLOCKS_PER_SEC 1000000L
#define TIME_UTC 1

int clock_gettime(clockid_t clock, struct timespec *ts);
int clock_getres(clockid_t clock, struct timespec *res);
int nanosleep(const struct timespec *req, struct timespec *rem);
time_t time(time_t *out);
clock_t clock(void);
double difftime(time_t end, time_t start);
struct tm *gmtime(const time_t *t);
struct tm *gmtime_r(const time_t *restrict t, struct tm *restrict out);
struct tm *localtime(const time_t *t);
struct tm *localtime_r(const time_t *restrict t, struct tm *restrict out);
time_t mktime(struct tm *tm);
time_t timegm(struct tm *tm);
size_t strftime(char *restrict s, size_t max, const char *restrict fmt, const struct tm *restrict tm);
char *asctime(const struct tm *tm);
char *ctime(const time_t *t);
int timespec_get(struct timespec *ts, int base);

#endif
