/*
 * ctest.h - the tiny framework of tests/c: a case is a function returning
 * NULL on success or a message saying what failed; CHECK() returns
 * "file:line: expression (errno N)" when its condition is false. The same
 * sources build for Tessera (relibc-shim) and for the host (glibc).
 */
#ifndef CTEST_H
#define CTEST_H
#include <stddef.h>
#include <sys/types.h>

typedef const char *(*test_fn)(void);
struct test {
    const char *name;
    test_fn fn;
};

/* Each group ends with {NULL, NULL}. */
extern const struct test string_tests[], format_tests[], file_tests[], proc_tests[], mm_tests[], libc_tests[];

const char *fail_at(const char *file, int line, const char *what);
#define CHECK(cond)                                       \
    do {                                                  \
        if (!(cond))                                      \
            return fail_at(__FILE__, __LINE__, #cond);    \
    } while (0)

/* A path in the suite's scratch directory (several may be live at once). */
const char *scratch(const char *name);
/* The path that runs this program again (for exec tests). */
extern const char *self_path;
/* Waits for pid; its wait status, or -1. */
int wait_for(pid_t pid);
/* Runs fn in a child process and returns the child's wait status. */
int in_child(void (*fn)(void *), void *arg);

#endif
