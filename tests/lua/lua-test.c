/*
 * lua-test.c - the guest test of the Lua port (cookbook/recipes/lua54):
 * runs `lua lua-test.lua DIR` (strings, patterns, math, tables, closures,
 * coroutines, pcall, io on files, os.time, os.execute, io.popen; the
 * script asserts each and prints one line per part) and compares its
 * output with the lines below and its exit status with 0; then checks that
 * an uncaught error ends lua with status 1 and the message on stderr.
 *
 *   lua-test [LUA SCRIPT]    default initfs:bin/lua initfs:etc/lua-test.lua
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/run.h"

static const char expected[] =
    "strings: aresseT ,olleH|xxx|3\n"
    "math: 0.8414709848 2.718282 1.41421 3\n"
    "tables: 100,9,8,5,3,2\n"
    "closures: 11 13 4\n"
    "coroutines: 1 4 9 16 done\n"
    "errors: msg\n"
    "io: 31 bytes, 3 lines\n"
    "os: from the shell, exit 3\n"
    "lua-test: all passed\n";

/* Runs argv with fd `which` (1 or 2) into `out`; the wait status, or -1. */
static int run(char *const argv[], int which, char *out, size_t cap)
{
    return run_capture(argv, NULL, NULL, which, out, cap);
}

int main(int argc, char **argv)
{
    char *lua = argc > 2 ? argv[1] : "initfs:bin/lua";
    char *script = argc > 2 ? argv[2] : "initfs:etc/lua-test.lua";
    static char out[8192];
    char dir[64];
    int status, failed = 0;

    mkdir("/tmp", 0777);
    snprintf(dir, sizeof dir, "/tmp/lua-test-%d", (int)getpid());
    if (mkdir(dir, 0777) != 0) {
        printf("lua-test: FAIL mkdir %s: %s\n", dir, strerror(errno));
        return 1;
    }

    status = run((char *[]){lua, script, dir, NULL}, 1, out, sizeof out);
    fputs(out, stdout);
    if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("lua-test: FAIL script: wait status %#x\n", status);
        failed++;
    } else if (strcmp(out, expected) != 0) {
        printf("lua-test: FAIL script: output differs; expected:\n%s", expected);
        failed++;
    }

    status = run((char *[]){lua, "-e", "error('boom: ' .. 6 * 7)", NULL}, 2, out, sizeof out);
    if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 1 || !strstr(out, "boom: 42")) {
        printf("lua-test: FAIL uncaught error: wait status %#x, stderr \"%s\"\n", status, out);
        failed++;
    }

    rmdir(dir);
    printf("lua-test: %s\n", failed ? "FAIL" : "ok");
    return failed ? 1 : 0;
}
