/*
 * run.h - for the guest tests of ported programs (tests/lua, tests/bzip2):
 * run a program as a shell would and collect what it says.
 *
 *   run_capture(argv, in, out, which, buf, cap)
 *     forks, gives the child stdin from the file `in` and stdout into the
 *     file `out` (paths; NULL keeps the caller's), and fd `which` (1 or 2)
 *     into a pipe whose bytes end up in `buf` (NUL-terminated, at most
 *     cap - 1 of them); execv(argv[0], argv). Returns the wait status, or
 *     -1 if the pipe, fork or wait failed. A child that cannot open its
 *     files exits 125, one that cannot exec 126.
 */
#ifndef TESSERA_TESTS_RUN_H
#define TESSERA_TESTS_RUN_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static int redirect(const char *path, int flags, int fd)
{
    int got = open(path, flags, 0644);
    if (got < 0 || dup2(got, fd) < 0)
        return -1;
    close(got);
    return 0;
}

static int run_capture(char *const argv[], const char *in, const char *out, int which, char *buf, size_t cap)
{
    int p[2], status;
    size_t got = 0;
    ssize_t n;
    pid_t pid;
    if (pipe(p) != 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(p[0]);
        if ((in && redirect(in, O_RDONLY, 0) != 0) || (out && redirect(out, O_WRONLY | O_CREAT | O_TRUNC, 1) != 0))
            _exit(125);
        dup2(p[1], which);
        close(p[1]);
        execv(argv[0], argv);
        _exit(126);
    }
    close(p[1]);
    while (got + 1 < cap && (n = read(p[0], buf + got, cap - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = 0;
    close(p[0]);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return status;
}

#endif
