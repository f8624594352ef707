/*
 * mm_common.c - the helpers the memory-mapping groups share (t_mm.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctest.h"
#include "t_mm.h"

void linux_skips(const char *what)
{
#ifndef __tessera__
    printf("c-tests: skip on Linux: %s\n", what);
#else
    (void)what;
#endif
}

void *anon(size_t len, int flags)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void write_byte(void *p)
{
    *(volatile char *)p = 1;
}

void read_byte(void *p)
{
    (void)*(volatile char *)p;
}

int make_file(const char *path, int pages)
{
    unsigned char buf[PAGE];
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    for (int k = 0; k < pages; k++) {
        for (unsigned i = 0; i < PAGE; i++)
            buf[i] = (unsigned char)(k * 31 + i);
        if (write(fd, buf, PAGE) != (ssize_t)PAGE)
            return -1;
    }
    return fd;
}


int file_byte(int fd, off_t off)
{
    unsigned char c;
    return pread(fd, &c, 1, off) == 1 ? c : -1;
}

int unmapped(void *p)
{
    int st = in_child(read_byte, p);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV;
}

int bus_error(void *p)
{
    int st = in_child(read_byte, p);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS;
}
