/*
 * main.c - the runner of tests/c (program c-tests): runs every case in a
 * child process of its own, so that a crash fails one case only, and
 * prints one line per case, "c-tests: ok NAME" or "c-tests: FAIL NAME: why",
 * then "c-tests: N passed, M failed". Exits 1 if any failed. The prefix
 * keeps these lines apart from the guest test runner's own "ok NAME".
 *
 *   c-tests [NAME...]        run all cases, or the ones named
 *   c-tests --exit N         exit with N at once (exec tests)
 *   c-tests --env-check V    exit 0 iff CTEST_VAR is V (exec tests)
 *
 * The scratch files live in /tmp/c-tests-PID — on Tessera in
 * /scheme/tmp/c-tests-PID, ramfs's tmp:, the counterpart of Linux's tmpfs
 * /tmp (the root file: is redoxfsd, which has no holes to punch:
 * MADV_REMOVE there is EOPNOTSUPP, as on a Linux filesystem without
 * punch-hole) — or in DIR/c-tests-PID when CTEST_SCRATCH=DIR is set
 * (redoxfs-files runs the file and mapping cases on a redoxfsd scheme that
 * way).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctest.h"

const char *self_path;
static char scratch_dir[64];

const char *fail_at(const char *file, int line, const char *what)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s:%d: %s (errno %d)", file, line, what, errno);
    return buf;
}

const char *scratch(const char *name)
{
    static char bufs[4][128];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", scratch_dir, name);
    return b;
}

int wait_for(pid_t pid)
{
    int status;
    pid_t r;
    do
        r = waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    return r == pid ? status : -1;
}

int in_child(void (*fn)(void *), void *arg)
{
    pid_t pid;
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        fn(arg);
        _exit(0);
    }
    return wait_for(pid);
}

static int wanted(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct test *const groups[] = {string_tests, format_tests, file_tests, proc_tests, mm_tests, libc_tests};
    static char self[256];
    int passed = 0, failed = 0;

    if (argc == 3 && strcmp(argv[1], "--exit") == 0)
        return atoi(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--env-check") == 0) {
        const char *v = getenv("CTEST_VAR");
        return v && strcmp(v, argv[2]) == 0 ? 0 : 1;
    }
#ifdef __tessera__
    /* The test runner starts programs as initfs:bin/NAME with argv[0] NAME. */
    if (!strchr(argv[0], '/') && !strchr(argv[0], ':'))
        snprintf(self, sizeof self, "initfs:bin/%s", argv[0]);
    else
#endif
        snprintf(self, sizeof self, "%s", argv[0]);
    self_path = self;

    const char *base = getenv("CTEST_SCRATCH");
    if (!base) {
#ifdef __tessera__
        base = "/scheme/tmp";
#else
        base = "/tmp";
#endif
        mkdir(base, 0777);
    }
    snprintf(scratch_dir, sizeof scratch_dir, "%s/c-tests-%d", base, (int)getpid());
    if (mkdir(scratch_dir, 0777) != 0) {
        printf("c-tests: FAIL setup: mkdir %s: %s\n", scratch_dir, strerror(errno));
        return 1;
    }

    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        for (const struct test *t = groups[g]; t->name; t++) {
            pid_t pid;
            int status;
            if (!wanted(t->name, argc, argv))
                continue;
            fflush(stdout);
            pid = fork();
            if (pid == 0) {
                const char *why = t->fn();
                if (why)
                    printf("c-tests: FAIL %s: %s\n", t->name, why);
                else
                    printf("c-tests: ok %s\n", t->name);
                exit(why ? 1 : 0);
            }
            status = pid < 0 ? -1 : wait_for(pid);
            if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                passed++;
                continue;
            }
            failed++;
            if (status < 0)
                printf("c-tests: FAIL %s: could not run it (errno %d)\n", t->name, errno);
            else if (WIFSIGNALED(status))
                printf("c-tests: FAIL %s: killed by signal %d\n", t->name, WTERMSIG(status));
        }
    rmdir(scratch_dir);
    printf("c-tests: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
