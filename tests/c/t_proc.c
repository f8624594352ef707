/*
 * t_proc.c - processes (fork, exec, exit status, wait, kill, atexit),
 * clocks and calendar time, getopt.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctest.h"

static const char *t_fork_exit_status(void)
{
    pid_t pid = fork();
    int st;
    CHECK(pid >= 0);
    if (pid == 0)
        _exit(42);
    st = wait_for(pid);
    CHECK(st >= 0 && WIFEXITED(st) && !WIFSIGNALED(st) && WEXITSTATUS(st) == 42);
    errno = 0;
    CHECK(waitpid(pid, &st, 0) == -1 && errno == ECHILD);
    return NULL;
}

static const char *t_fork_pipe(void)
{
    int p[2], st;
    char buf[32] = "";
    pid_t pid;
    CHECK(pipe(p) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        dprintf(p[1], "child %d", (int)getppid());
        _exit(0);
    }
    close(p[1]);
    for (ssize_t got = 0, n; (n = read(p[0], buf + got, 15 - (size_t)got)) > 0;)
        got += n;
    st = wait_for(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    snprintf(buf + 16, 16, "%d", (int)getpid());
    CHECK(strncmp(buf, "child ", 6) == 0 && strcmp(buf + 6, buf + 16) == 0);
    close(p[0]);
    return NULL;
}

static const char *t_waitpid_wnohang(void)
{
    int st = 0;
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct timespec t = {0, 200 * 1000 * 1000};
        nanosleep(&t, NULL);
        _exit(3);
    }
    CHECK(waitpid(pid, &st, WNOHANG) == 0);
    CHECK(waitpid(-1, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 3);
    return NULL;
}

static const char *t_kill_child(void)
{
    int p[2], st;
    char c;
    pid_t pid;
    CHECK(pipe(p) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        write(p[1], "r", 1);
        for (;;)
            sleep(1);
    }
    CHECK(read(p[0], &c, 1) == 1);
    CHECK(kill(pid, SIGKILL) == 0);
    st = wait_for(pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && !WIFEXITED(st));
    CHECK(kill(pid, SIGKILL) == -1 && errno == ESRCH);
    close(p[0]);
    close(p[1]);
    return NULL;
}

static void do_abort(void *unused)
{
    (void)unused;
    abort();
}

static const char *t_abort_sigabrt(void)
{
    int st = in_child(do_abort, NULL);
    CHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    return NULL;
}

static const char *t_exec_self(void)
{
    int st;
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char *argv[] = {"c-tests", "--exit", "7", NULL};
        execv(self_path, argv);
        _exit(100 + errno);
    }
    st = wait_for(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char *argv[] = {"c-tests", "--env-check", "hello", NULL};
        char *envp[] = {"CTEST_VAR=hello", NULL};
        execve(self_path, argv, envp);
        _exit(100 + errno);
    }
    st = wait_for(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* execlp searches PATH: make it the directory this program is in. */
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char dir[256];
#ifdef __tessera__
        snprintf(dir, sizeof dir, "/scheme/initfs/bin");
#else
        snprintf(dir, sizeof dir, "%s", self_path);
        *strrchr(dir, '/') = 0;
#endif
        setenv("PATH", dir, 1);
        execlp("c-tests", "c-tests", "--exit", "9", (char *)NULL);
        _exit(100 + errno);
    }
    st = wait_for(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 9);
    errno = 0;
    CHECK(execv("/no/such/program", (char *[]){"x", NULL}) == -1 && errno == ENOENT);
    return NULL;
}

static int atexit_fd = -1;

static void on_exit_handler(void)
{
    write(atexit_fd, "A", 1);
}

static void exit_with_buffered_output(void *arg)
{
    FILE *f = fdopen(*(int *)arg, "w");
    atexit_fd = *(int *)arg;
    atexit(on_exit_handler);
    fputs("buffered", f);
    exit(0);
}

/* exit() runs atexit handlers, then flushes streams; _exit() neither. */
static const char *t_atexit_flush(void)
{
    int p[2], st;
    char buf[32] = "";
    ssize_t n, got = 0;
    CHECK(pipe(p) == 0);
    st = in_child(exit_with_buffered_output, &p[1]);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(p[1]);
    while ((n = read(p[0], buf + got, sizeof buf - 1 - (size_t)got)) > 0)
        got += n;
    CHECK(strcmp(buf, "Abuffered") == 0);
    close(p[0]);
    return NULL;
}

static const char *t_clock_sleep(void)
{
    struct timespec a, b, r, d = {0, 20 * 1000 * 1000};
    long long ns;
    CHECK(clock_gettime(CLOCK_MONOTONIC, &a) == 0);
    CHECK(nanosleep(&d, NULL) == 0);
    CHECK(clock_gettime(CLOCK_MONOTONIC, &b) == 0);
    ns = (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
    CHECK(ns >= 20 * 1000 * 1000 && ns < 10LL * 1000 * 1000 * 1000);
    CHECK(a.tv_nsec >= 0 && a.tv_nsec < 1000000000L);
    CHECK(clock_gettime(CLOCK_REALTIME, &r) == 0 && r.tv_sec > 0 && time(NULL) >= r.tv_sec);
    d.tv_nsec = 1000000000L;
    CHECK(nanosleep(&d, NULL) == -1 && errno == EINVAL);
    CHECK(usleep(1000) == 0 && clock() >= 0);
    return NULL;
}

static const char *t_calendar(void)
{
    time_t t = 1700000000;
    struct tm tm, *g = gmtime_r(&t, &tm);
    char buf[64];
    CHECK(g == &tm && tm.tm_year == 123 && tm.tm_mon == 10 && tm.tm_mday == 14);
    CHECK(tm.tm_hour == 22 && tm.tm_min == 13 && tm.tm_sec == 20 && tm.tm_wday == 2 && tm.tm_yday == 317);
    CHECK(strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %a %b %j", &tm) == 31);
    CHECK(strcmp(buf, "2023-11-14 22:13:20 Tue Nov 318") == 0);
    CHECK(timegm(&tm) == t);
    t = 951782400; /* 2000-02-29, a leap day */
    CHECK(gmtime_r(&t, &tm) && tm.tm_mon == 1 && tm.tm_mday == 29 && tm.tm_year == 100);
    return NULL;
}

static const char *t_getopt(void)
{
    char *argv[] = {"prog", "-a", "-b", "val", "-cfoo", "rest", NULL};
    int c, a = 0;
    char *b = NULL, *cv = NULL;
    optind = 1;
    while ((c = getopt(6, argv, "ab:c:")) != -1) {
        if (c == 'a')
            a = 1;
        else if (c == 'b')
            b = optarg;
        else if (c == 'c')
            cv = optarg;
        else
            return "unexpected option";
    }
    CHECK(a == 1 && b && strcmp(b, "val") == 0 && cv && strcmp(cv, "foo") == 0 && optind == 5);
    return NULL;
}

static const char *t_ids_sysconf(void)
{
    CHECK(getpid() > 0 && getppid() >= 0 && getpid() != getppid());
    CHECK(sysconf(_SC_PAGESIZE) == 4096 && getpagesize() == 4096);
    CHECK(sysconf(_SC_CLK_TCK) > 0);
    return NULL;
}

const struct test proc_tests[] = {
    {"fork-exit-status", t_fork_exit_status},
    {"fork-pipe", t_fork_pipe},
    {"waitpid-wnohang", t_waitpid_wnohang},
    {"kill-child", t_kill_child},
    {"abort-sigabrt", t_abort_sigabrt},
    {"exec-self-execlp", t_exec_self},
    {"atexit-flush", t_atexit_flush},
    {"clock-nanosleep", t_clock_sleep},
    {"gmtime-strftime", t_calendar},
    {"getopt", t_getopt},
    {"pids-sysconf", t_ids_sysconf},
    {NULL, NULL},
};
