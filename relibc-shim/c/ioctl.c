/*
 * ioctl.c - device requests. No scheme implements any yet: the console
 * (consoled) is a serial line that does not know its window size and has
 * no termios, so every request on a valid fd is ENOTTY ("not a typewriter"
 * for this request), as Linux answers a request a device does not have;
 * a closed fd is EBADF.
 */
#include <errno.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

int ioctl(int fd, unsigned long request, ...)
{
    struct stat st;
    (void)request;
    if (fstat(fd, &st) != 0)
        return -1;
    errno = ENOTTY;
    return -1;
}
