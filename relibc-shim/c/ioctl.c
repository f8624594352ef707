/*
 * ioctl.c - device requests. The console (consoled) answers the window
 * size: TIOCGWINSZ reads and TIOCSWINSZ writes the 8 bytes of struct
 * winsize through its "winsize" handle (dup(fd, "winsize"), Redox's pty
 * convention; a serial line starts at 24 x 80). Every other request, and
 * these on anything that is not a terminal with such a handle, is ENOTTY
 * ("not a typewriter" for this request), as Linux answers a request a
 * device does not have; a closed fd is EBADF; a NULL argument EFAULT.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* The runtime's named dup (Redox's dup with a path): a new fd, or -1 and
 * errno. */
int __tessera_dup_named(int fd, const char *name);

static int winsize(int fd, struct winsize *ws, int set)
{
    if (!ws) {
        errno = EFAULT;
        return -1;
    }
    int h = __tessera_dup_named(fd, "winsize");
    if (h < 0) {
        if (errno != EBADF)
            errno = ENOTTY;
        return -1;
    }
    ssize_t n = set ? write(h, ws, sizeof *ws) : read(h, ws, sizeof *ws);
    int saved = errno;
    close(h);
    if (n != (ssize_t)sizeof *ws) {
        errno = n < 0 ? saved : EIO;
        return -1;
    }
    return 0;
}

int ioctl(int fd, unsigned long request, ...)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    if (request == TIOCGWINSZ || request == TIOCSWINSZ) {
        va_list ap;
        va_start(ap, request);
        struct winsize *ws = va_arg(ap, struct winsize *);
        va_end(ap);
        return winsize(fd, ws, request == TIOCSWINSZ);
    }
    errno = ENOTTY;
    return -1;
}
