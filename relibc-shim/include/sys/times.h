/* sys/times.h - times (relibc-shim/c/resource.c). The kernel keeps no CPU
 * time per process, so times fills the struct with zeros and fails with
 * ENOSYS, as getrusage. */
#ifndef _TESSERA_SYS_TIMES_H
#define _TESSERA_SYS_TIMES_H
#include <bits/types.h>

struct tms {
    clock_t tms_utime;
    clock_t tms_stime;
    clock_t tms_cutime;
    clock_t tms_cstime;
};

clock_t times(struct tms *buf);

#endif
