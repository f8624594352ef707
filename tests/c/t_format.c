/*
 * t_format.c - printf/scanf/strtod cases, and the float ABI boundary
 * between the C half and the Rust half of the library.
 */
#define _GNU_SOURCE
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctest.h"

static char out[512];

/* snprintf into `out` and compare with the expected text. */
__attribute__((format(printf, 2, 3))) static int same(const char *expected, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(out, sizeof out, fmt, ap);
    va_end(ap);
    return n == (int)strlen(expected) && strcmp(out, expected) == 0;
}

static const char *t_printf_ints(void)
{
    CHECK(same("42 -7 4294967295", "%d %i %u", 42, -7, 4294967295u));
    CHECK(same("ff FF 777 0x1f 017", "%x %X %o %#x %#o", 255, 255, 511, 31, 15));
    CHECK(same("-9223372036854775808 18446744073709551615", "%ld %lu", (long)(-9223372036854775807L - 1), (unsigned long)-1));
    CHECK(same("123456789012 12345", "%lld %zu", 123456789012LL, (size_t)12345));
    /* Lengths hh/h narrow the int argument (on purpose: no warning). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
    CHECK(same("-1 255 -1 65535", "%hhd %hhu %hd %hu", 255, 255, 65535, 65535));
#pragma GCC diagnostic pop
    CHECK(same("[   42] [42   ] [00042] [+42] [ 42]", "[%5d] [%-5d] [%05d] [%+d] [% d]", 42, 42, 42, 42, 42));
    CHECK(same("[  007] [-007] [    x]", "[%5.3d] [%.3d] [%*s]", 7, -7, 5, "x"));
    CHECK(same("0 [] 0x0", "%d [%.0d] %#x", 0, 0, 0) || same("0 [] 0", "%d [%.0d] %#x", 0, 0, 0));
    CHECK(same("100%", "%d%%", 100));
    return NULL;
}

static const char *t_printf_strings(void)
{
    int n = 0;
    CHECK(same("[hello] [he] [     hi] [hi     ]", "[%s] [%.2s] [%7s] [%-7s]", "hello", "hello", "hi", "hi"));
    CHECK(same("[a] [  b] [c  ]", "[%c] [%3c] [%-3c]", 'a', 'b', 'c'));
    CHECK(same("abc", "ab%nc", &n) && n == 2);
    CHECK(snprintf(out, sizeof out, "%p", (void *)out) > 2 && strncmp(out, "0x", 2) == 0);
    return NULL;
}

static const char *t_printf_floats(void)
{
    CHECK(same("3.141590 2.67 0 2 2 -2", "%f %.2f %.0f %.0f %.0f %.0f", 3.14159, 2.675, 0.5, 1.5, 2.5, -2.5));
    CHECK(same("1.234568e+04 1.000000E-10 0.000000e+00", "%e %E %e", 12345.678, 1e-10, 0.0));
    CHECK(same("0.0001 1e-05 1.23457e+08 100000 1e+06 3.14", "%g %g %g %g %g %.3g", 0.0001, 0.00001, 123456789.0, 100000.0, 1e6, 3.14159));
    CHECK(same("1E-10 0 1.00000 0.3333333333", "%G %g %#g %.10g", 1e-10, 0.0, 1.0, 1.0 / 3));
    CHECK(same("[    -3.142] [3.1       ] +2.0 -0001.50", "[%10.3f] [%-10.1f] %+.1f %08.2f", -3.14159, 3.14159, 2.0, -1.5));
    CHECK(same("100000000000000000000.000000", "%f", 1e20));
    CHECK(same("0.10000000000000000555", "%.20f", 0.1));
    CHECK(same("-0.000000 inf -INF nan", "%f %f %F %f", -0.0, HUGE_VAL, -HUGE_VAL, NAN) ||
          same("-0.000000 inf -INF -nan", "%f %f %F %f", -0.0, HUGE_VAL, -HUGE_VAL, NAN));
    CHECK(same("0x1p+0 0x1p-1 0x1.8p+1", "%a %a %a", 1.0, 0.5, 3.0));
    CHECK(same("1.7976931348623157e+308 4.9406564584124654e-324", "%.16e %.16e", DBL_MAX, 4.9406564584124654e-324));
    CHECK(snprintf(out, sizeof out, "%f", 1e300) == 308 && strncmp(out, "10000000000000000525", 20) == 0);
    CHECK(same("2.5 0.125", "%g %g", 2.5f, 0.125));
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The Rust half returns a double (difftime) and calls a C comparison over
 * doubles (qsort): with a float-ABI mismatch these come out wrong. */
static const char *t_float_abi_boundary(void)
{
    double v[] = {3.5, -1.25, 2.0, 1e-3, -7.75};
    volatile double d = difftime((time_t)10, (time_t)4);
    CHECK(d == 6.0);
    CHECK(difftime((time_t)1, (time_t)1000001) == -1000000.0);
    qsort(v, 5, sizeof v[0], cmp_double);
    CHECK(v[0] == -7.75 && v[1] == -1.25 && v[2] == 1e-3 && v[3] == 2.0 && v[4] == 3.5);
    CHECK(same("6.000000 -7.75", "%f %g", d, v[0]));
    return NULL;
}

static const char *t_snprintf_limits(void)
{
    char small[5], *s = NULL;
    CHECK(snprintf(small, sizeof small, "hello world") == 11 && strcmp(small, "hell") == 0);
    CHECK(snprintf(NULL, 0, "%d", 12345) == 5);
    CHECK(asprintf(&s, "%s-%d", "x", 99) == 4 && s && strcmp(s, "x-99") == 0);
    free(s);
    CHECK(sprintf(out, "%05.1f|%-4s|", 3.14159, "ab") == 11 && strcmp(out, "003.1|ab  |") == 0);
    return NULL;
}

static const char *t_sscanf(void)
{
    int i = 0, x = 0, n = 0;
    unsigned u = 0;
    long l = 0;
    double d = 0;
    float f = 0;
    char word[16] = "", set[16] = "";
    CHECK(sscanf("42 abc 3.5 0x1f", "%d %15s %lf %x", &i, word, &d, &x) == 4);
    CHECK(i == 42 && strcmp(word, "abc") == 0 && d == 3.5 && x == 31);
    CHECK(sscanf("key=value;", "%15[a-z]=%15[^;]", word, set) == 2 && strcmp(word, "key") == 0 && strcmp(set, "value") == 0);
    CHECK(sscanf("10 20 30", "%*d %d %n", &i, &n) == 1 && i == 20 && n == 6);
    CHECK(sscanf("-123456789012 77 -2.5e2", "%ld %u %f", &l, &u, &f) == 3 && l == -123456789012L && u == 77 && f == -250.0f);
    CHECK(sscanf("abcdefgh", "%3s", word) == 1 && strcmp(word, "abc") == 0);
    CHECK(sscanf("", "%d", &i) == EOF && sscanf("x", "%d", &i) == 0);
    return NULL;
}

static const char *t_strtod(void)
{
    char *end;
    const char *s = "  .5x";
    CHECK(strtod("3.25", NULL) == 3.25 && strtod("1e10", NULL) == 1e10 && strtod("-2.5e-3", NULL) == -2.5e-3);
    CHECK(strtod("0.1", NULL) == 0.1 && strtod("123456789012345678", NULL) == 123456789012345678.0);
    CHECK(strtod("0x1.8p1", NULL) == 3.0 && strtod("1.7976931348623157e308", NULL) == DBL_MAX);
    CHECK(isinf(strtod("inf", NULL)) && isinf(strtod("-Infinity", NULL)) && isnan(strtod("nan", NULL)));
    CHECK(strtod(s, &end) == 0.5 && end == s + 4);
    s = "e5";
    CHECK(strtod(s, &end) == 0 && end == s);
    CHECK(atof("2.5e1") == 25.0 && strtof("0.25", NULL) == 0.25f);
    return NULL;
}

/* long double arithmetic at run time (binary128 on aarch64: compiler-rt's
 * __addtf3 and friends; x87 extended on x86_64), exact for these values,
 * its conversions, comparisons and printing. */
static const char *t_long_double(void)
{
    volatile long double a = 1.5L, b = 2.25L, one = 1.0L, tiny = 0x1p-60L, nan_value = NAN;
    volatile double d = 3.0;
    volatile float f = 0.5f;
    volatile int i = -7;
    volatile long l = 1L << 40;
    volatile unsigned u = 7u;
    volatile unsigned long ul = 1UL << 63;
    CHECK(LDBL_MANT_DIG >= 64);
    CHECK(a + b == 3.75L && a - b == -0.75L && a * b == 3.375L && b / a == 1.5L);
    CHECK(one + tiny != one && (one + tiny) - one == tiny); /* more than double's 53 bits */
    CHECK((long double)d == 3.0L && (long double)f == 0.5L && (long double)i == -7.0L);
    CHECK((long double)l == 1099511627776.0L && (long double)u == 7.0L && (long double)ul == 0x1p63L);
    CHECK((double)(a * b) == 3.375 && (float)(b / a) == 1.5f);
    CHECK((int)(b * 4) == 9 && (long)(-a * l) == -1649267441664L && (unsigned)(b * 4) == 9u);
    CHECK((unsigned long)(a * 0x1p62L) == 3UL << 61);
    CHECK(a < b && a <= b && b > a && b >= a && a != b && !(a == b) && a == 1.5L);
    CHECK(nan_value != nan_value && !(nan_value < a) && !(nan_value >= a) && isnan(nan_value));
    CHECK(same("3.750000 -0.75 3.375", "%Lf %Lg %.3Lf", a + b, a - b, a * b));
    return NULL;
}

const struct test format_tests[] = {
    {"printf-integers", t_printf_ints},
    {"printf-strings", t_printf_strings},
    {"printf-floats", t_printf_floats},
    {"float-abi-boundary", t_float_abi_boundary},
    {"snprintf-limits", t_snprintf_limits},
    {"sscanf", t_sscanf},
    {"strtod", t_strtod},
    {"long-double", t_long_double},
    {NULL, NULL},
};
