/* sys/ioctl.h - ioctl (relibc-shim/c/ioctl.c) with Linux's request
 * numbers. The console answers TIOCGWINSZ and TIOCSWINSZ (a serial line
 * starts at 24 x 80); every other request, and these on a file, is
 * ENOTTY. */
#ifndef _TESSERA_SYS_IOCTL_H
#define _TESSERA_SYS_IOCTL_H

#define TCGETS 0x5401
#define TCSETS 0x5402
#define TIOCGPGRP 0x540F
#define TIOCSPGRP 0x5410
#define TIOCGWINSZ 0x5413
#define TIOCSWINSZ 0x5414
#define FIONREAD 0x541B
#define FIONBIO 0x5421

struct winsize {
    unsigned short ws_row;
    unsigned short ws_col;
    unsigned short ws_xpixel;
    unsigned short ws_ypixel;
};

int ioctl(int fd, unsigned long request, ...);

#endif
