/*
 * t_string.c - string, memory, conversion, sorting, allocation, ctype,
 * environment, errno, setjmp and math cases.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctest.h"

static const char *t_strlen_strcmp(void)
{
    CHECK(strlen("") == 0 && strlen("hello") == 5);
    CHECK(strnlen("hello", 3) == 3 && strnlen("hi", 10) == 2);
    CHECK(strcmp("abc", "abc") == 0);
    CHECK(strcmp("abc", "abd") < 0 && strcmp("b", "abc") > 0);
    CHECK(strcmp("ab", "abc") < 0 && strcmp("abc", "ab") > 0);
    CHECK(strcmp("\xff", "a") > 0);
    CHECK(strncmp("abcx", "abcy", 3) == 0 && strncmp("abcx", "abcy", 4) < 0);
    CHECK(strncmp("a", "b", 0) == 0);
    return NULL;
}

static const char *t_strcpy_family(void)
{
    char buf[32];
    strcpy(buf, "foo");
    CHECK(strcmp(buf, "foo") == 0);
    strcat(buf, "bar");
    CHECK(strcmp(buf, "foobar") == 0);
    strncat(buf, "bazqux", 3);
    CHECK(strcmp(buf, "foobarbaz") == 0);
    memset(buf, 'x', sizeof buf);
    strncpy(buf, "ab", 5);
    CHECK(buf[0] == 'a' && buf[1] == 'b' && buf[2] == 0 && buf[4] == 0 && buf[5] == 'x');
    strncpy(buf, "abcdef", 3);
    CHECK(memcmp(buf, "abc", 3) == 0 && buf[3] == 0);
    CHECK(stpcpy(buf, "hey") == buf + 3 && strcmp(buf, "hey") == 0);
    /* Through pointers, so the library's own functions run (the compiler
     * expands calls with constant strings itself). */
    char *(*volatile cpy)(char *, const char *) = strcpy;
    char *(*volatile cat)(char *, const char *) = strcat;
    memset(buf, 'x', sizeof buf);
    CHECK(cpy(buf, "copied") == buf && strcmp(buf, "copied") == 0);
    CHECK(cat(buf, "+cat") == buf && strcmp(buf, "copied+cat") == 0);
    return NULL;
}

static const char *t_search(void)
{
    const char *s = "hello, world";
    CHECK(strchr(s, 'o') == s + 4 && strrchr(s, 'o') == s + 8);
    CHECK(strchr(s, 'z') == NULL && strchr(s, 0) == s + 12);
    CHECK(strstr(s, "world") == s + 7 && strstr(s, "") == s && strstr(s, "worlds") == NULL);
    CHECK(strpbrk(s, ",w") == s + 5);
    CHECK(strspn("aabbcx", "abc") == 5 && strcspn("hello", "lo") == 2);
    CHECK(memchr(s, 'w', 12) == s + 7 && memchr(s, 'w', 7) == NULL);
    CHECK(memrchr(s, 'l', 12) == s + 10);
    return NULL;
}

static const char *t_memory(void)
{
    static unsigned char a[10000], b[10000];
    for (int i = 0; i < 10000; i++)
        a[i] = (unsigned char)(i * 7 + 3);
    memcpy(b, a, sizeof a);
    CHECK(memcmp(a, b, sizeof a) == 0);
    b[9999]++;
    CHECK(memcmp(a, b, sizeof a) < 0);
    /* Overlapping moves, both directions, odd sizes and offsets. */
    memcpy(b, a, sizeof a);
    memmove(b + 3, b, 5001);
    CHECK(memcmp(b + 3, a, 5001) == 0);
    memcpy(b, a, sizeof a);
    memmove(b, b + 17, 4999);
    CHECK(memcmp(b, a + 17, 4999) == 0);
    memset(b + 1, 0x5a, 1001);
    CHECK(b[0] == a[17] && b[1] == 0x5a && b[1001] == 0x5a && b[1002] == a[1002 + 17]);
    CHECK(memcmp("\x01", "\xff", 1) < 0);
    return NULL;
}

static const char *t_strtok_strsep(void)
{
    char text[] = "  one, two,,three ";
    char *save, *tok, *p;
    tok = strtok(text, " ,");
    CHECK(tok && strcmp(tok, "one") == 0);
    tok = strtok(NULL, " ,");
    CHECK(tok && strcmp(tok, "two") == 0);
    tok = strtok(NULL, " ,");
    CHECK(tok && strcmp(tok, "three") == 0);
    CHECK(strtok(NULL, " ,") == NULL);
    char text2[] = "a:b";
    CHECK(strcmp(strtok_r(text2, ":", &save), "a") == 0 && strcmp(strtok_r(NULL, ":", &save), "b") == 0);
    char text3[] = "x,,y";
    p = text3;
    CHECK(strcmp(strsep(&p, ","), "x") == 0 && strcmp(strsep(&p, ","), "") == 0);
    CHECK(strcmp(strsep(&p, ","), "y") == 0 && p == NULL);
    return NULL;
}

static const char *t_strtol(void)
{
    char *end;
    const char *s = "  -42xyz";
    CHECK(strtol(s, &end, 10) == -42 && end == s + 5);
    CHECK(strtol("0x1f", NULL, 16) == 31 && strtol("0x1f", NULL, 0) == 31);
    CHECK(strtol("017", NULL, 0) == 15 && strtol("17", NULL, 0) == 17 && strtol("z", NULL, 36) == 35);
    CHECK(strtoul("ffffffffffffffff", NULL, 16) == ULONG_MAX);
    CHECK(strtoul("-1", NULL, 10) == ULONG_MAX);
    errno = 0;
    CHECK(strtol("99999999999999999999", NULL, 10) == LONG_MAX && errno == ERANGE);
    errno = 0;
    CHECK(strtoll("-9223372036854775808", NULL, 10) == LLONG_MIN && errno == 0);
    s = "xyz";
    CHECK(strtol(s, &end, 10) == 0 && end == s);
    s = "0x";
    CHECK(strtol(s, &end, 16) == 0 && end == s + 1);
    return NULL;
}

static const char *t_atoi_abs_div(void)
{
    div_t d = div(7, -2);
    ldiv_t l = ldiv(-7L, 2L);
    CHECK(atoi("123") == 123 && atoi(" -5") == -5 && atol("2147483648") == 2147483648L);
    CHECK(atoll("-9000000000") == -9000000000LL);
    CHECK(abs(-3) == 3 && labs(-4L) == 4 && llabs(-5LL) == 5);
    CHECK(d.quot == -3 && d.rem == 1 && l.quot == -3 && l.rem == -1);
    return NULL;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static const char *t_qsort_bsearch(void)
{
    static int v[1000];
    int key;
    srand(7);
    for (int i = 0; i < 1000; i++)
        v[i] = rand() % 5000;
    v[500] = 4242;
    qsort(v, 1000, sizeof v[0], cmp_int);
    for (int i = 1; i < 1000; i++)
        CHECK(v[i - 1] <= v[i]);
    key = 4242;
    CHECK(bsearch(&key, v, 1000, sizeof v[0], cmp_int) != NULL);
    key = -1;
    CHECK(bsearch(&key, v, 1000, sizeof v[0], cmp_int) == NULL);
    return NULL;
}

static const char *t_malloc_small(void)
{
    static unsigned char *p[2000];
    static size_t n[2000];
    srand(11);
    for (int i = 0; i < 2000; i++) {
        n[i] = (size_t)(rand() % 3000) + 1;
        p[i] = malloc(n[i]);
        CHECK(p[i] != NULL && ((uintptr_t)p[i] & 15) == 0);
        memset(p[i], i & 0xff, n[i]);
    }
    for (int i = 0; i < 2000; i += 2)
        free(p[i]);
    for (int i = 1; i < 2000; i += 2) {
        unsigned char *q = realloc(p[i], n[i] * 2);
        CHECK(q != NULL);
        for (size_t k = 0; k < n[i]; k++)
            CHECK(q[k] == (i & 0xff));
        free(q);
    }
    free(NULL);
    return NULL;
}

static const char *t_malloc_large(void)
{
    size_t big = 5u << 20;
    unsigned char *p = malloc(big), *q;
    CHECK(p != NULL);
    p[0] = 1;
    p[big - 1] = 2;
    q = realloc(p, 4 * big);
    CHECK(q != NULL && q[0] == 1 && q[big - 1] == 2);
    q[4 * big - 1] = 3;
    p = realloc(q, 100);
    CHECK(p != NULL && p[0] == 1);
    free(p);
    return NULL;
}

static const char *t_calloc_aligned(void)
{
    unsigned char *dirty = malloc(8000), *zero;
    void *a = NULL;
    CHECK(dirty != NULL);
    memset(dirty, 0xaa, 8000);
    free(dirty);
    zero = calloc(1000, 8);
    CHECK(zero != NULL);
    for (int i = 0; i < 8000; i++)
        CHECK(zero[i] == 0);
    free(zero);
    dirty = aligned_alloc(64, 128);
    CHECK(dirty && ((uintptr_t)dirty & 63) == 0);
    free(dirty);
    CHECK(posix_memalign(&a, 4096, 10000) == 0 && ((uintptr_t)a & 4095) == 0);
    memset(a, 1, 10000);
    free(a);
    CHECK(posix_memalign(&a, 3, 16) == EINVAL);
    return NULL;
}

static const char *t_ctype(void)
{
    CHECK(isalpha('a') && !isalpha('1') && isdigit('7') && !isdigit('x'));
    CHECK(isspace(' ') && isspace('\n') && !isspace('a') && isxdigit('F') && !isxdigit('g'));
    CHECK(isupper('Q') && islower('q') && ispunct('!') && isalnum('z') && !isprint('\x01'));
    CHECK(toupper('a') == 'A' && tolower('Z') == 'z' && toupper('5') == '5' && toupper(EOF) == EOF);
    return NULL;
}

static const char *t_environment(void)
{
    static char entry[] = "CTEST_PUT=yes";
    CHECK(getenv("CTEST_NOPE") == NULL);
    CHECK(setenv("CTEST_A", "1", 1) == 0 && strcmp(getenv("CTEST_A"), "1") == 0);
    CHECK(setenv("CTEST_A", "2", 0) == 0 && strcmp(getenv("CTEST_A"), "1") == 0);
    CHECK(setenv("CTEST_A", "3", 1) == 0 && strcmp(getenv("CTEST_A"), "3") == 0);
    CHECK(unsetenv("CTEST_A") == 0 && getenv("CTEST_A") == NULL);
    CHECK(putenv(entry) == 0 && strcmp(getenv("CTEST_PUT"), "yes") == 0);
    CHECK(setenv("BAD=NAME", "x", 1) == -1 && errno == EINVAL);
    return NULL;
}

static const char *t_strdup_case(void)
{
    char *d = strdup("Hello"), *n = strndup("Hello", 2);
    CHECK(d && strcmp(d, "Hello") == 0 && n && strcmp(n, "He") == 0);
    free(d);
    free(n);
    CHECK(strcasecmp("HeLLo", "hello") == 0 && strcasecmp("a", "B") < 0);
    CHECK(strncasecmp("ABCx", "abcy", 3) == 0);
    return NULL;
}

static const char *t_errno_strerror(void)
{
    errno = 0;
    CHECK(open("/no-such-dir/no-such-file", O_RDONLY) == -1 && errno == ENOENT);
    CHECK(strstr(strerror(ENOENT), "No such file") != NULL);
    CHECK(strlen(strerror(EINVAL)) > 0);
    errno = 0;
    CHECK(close(-1) == -1 && errno == EBADF);
    return NULL;
}

static jmp_buf env;
static int depth;

/* Recurses until depth 10, then jumps back out of every frame. */
static void dive(int n)
{
    volatile char pad[64];
    pad[0] = (char)n;
    depth = pad[0];
    if (n >= 10)
        longjmp(env, 5);
    if (n < 100)
        dive(n + 1);
}

static const char *t_setjmp(void)
{
    volatile int counter = 0;
    int r = setjmp(env);
    if (r == 0) {
        counter = 1;
        dive(0);
    }
    CHECK(r == 5 && counter == 1 && depth == 10);
    r = setjmp(env);
    if (r == 0)
        longjmp(env, 0);
    CHECK(r == 1);
    return NULL;
}

static const char *t_math(void)
{
    int e;
    double ip;
    CHECK(floor(-1.5) == -2 && floor(2.0) == 2 && ceil(1.2) == 2 && ceil(-1.2) == -1);
    CHECK(trunc(-2.7) == -2 && round(2.5) == 3 && round(-2.5) == -3 && round(0.49) == 0);
    CHECK(fmod(7.5, 2) == 1.5 && fmod(-7.5, 2) == -1.5 && fmod(1e300, 3) == fmod(1e300, 3));
    CHECK(fmod(10, 3) == 1 && fmod(5.5, 5.5) == 0);
    CHECK(fabs(sqrt(2.0) * sqrt(2.0) - 2.0) < 1e-15 && sqrt(16.0) == 4.0);
    CHECK(frexp(8.0, &e) == 0.5 && e == 4 && ldexp(0.75, 4) == 12.0 && ldexp(1.0, -1074) > 0);
    CHECK(modf(3.25, &ip) == 0.25 && ip == 3.0);
    CHECK(fabs(-0.0) == 0 && fmin(1, 2) == 1 && fmax(1, 2) == 2 && isnan(fmin(NAN, NAN)));
    return NULL;
}

const struct test string_tests[] = {
    {"strlen-strcmp", t_strlen_strcmp},
    {"strcpy-family", t_strcpy_family},
    {"string-search", t_search},
    {"mem-functions", t_memory},
    {"strtok-strsep", t_strtok_strsep},
    {"strtol-family", t_strtol},
    {"atoi-abs-div", t_atoi_abs_div},
    {"qsort-bsearch", t_qsort_bsearch},
    {"malloc-small", t_malloc_small},
    {"malloc-large-realloc", t_malloc_large},
    {"calloc-aligned", t_calloc_aligned},
    {"ctype", t_ctype},
    {"environment", t_environment},
    {"strdup-strcasecmp", t_strdup_case},
    {"errno-strerror", t_errno_strerror},
    {"setjmp-longjmp", t_setjmp},
    {"math", t_math},
    {NULL, NULL},
};
