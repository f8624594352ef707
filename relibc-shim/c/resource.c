/*
 * resource.c - getrusage and times. The kernel counts no CPU time, faults or peak
 * size per process (sys:processes shows current pages only), so there is
 * nothing true to report: the struct is zeroed (a caller that ignores the
 * result reads zeros, not garbage) and the call fails with ENOSYS. An
 * unknown `who` is EINVAL, as Linux.
 */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/times.h>

int getrusage(int who, struct rusage *usage)
{
    if (who != RUSAGE_SELF && who != RUSAGE_CHILDREN && who != RUSAGE_THREAD) {
        errno = EINVAL;
        return -1;
    }
    if (usage)
        memset(usage, 0, sizeof *usage);
    errno = ENOSYS;
    return -1;
}

/* times: the same; the caller's struct is zeroed, (clock_t)-1 and ENOSYS. */
clock_t times(struct tms *buf)
{
    if (buf)
        memset(buf, 0, sizeof *buf);
    errno = ENOSYS;
    return (clock_t)-1;
}
