/*
 * t_libc.c - the math library against a table of glibc's results, the C
 * locale, stdio's locks and unlocked calls, popen/pclose/system through
 * the shell, realpath, the user database, getrusage, fchown/utimes and
 * ioctl.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>
#ifndef __tessera__
#include <pthread.h>
#endif

#include "ctest.h"

/* ---- math ---------------------------------------------------------------- */

/* One row: a function of one or two arguments, the argument(s), glibc's
 * result (computed on the host, printed with %a) and how many units in the
 * last place the result may differ: 0 (bit for bit, signed zeros
 * included; any NaN matches NaN) for the correctly rounded operations, 1
 * for the transcendental ones, where musl's and glibc's algorithms may
 * round differently. */
struct drow {
    const char *name;
    double (*f1)(double);
    double (*f2)(double, double);
    double x, y, want;
    int ulps;
};
struct frow {
    const char *name;
    float (*f1)(float);
    float (*f2)(float, float);
    float x, y, want;
    int ulps;
};
#define D1(f, x, w, u) {#f, f, NULL, x, 0, w, u}
#define D2(f, x, y, w, u) {#f, NULL, f, x, y, w, u}
#define F1(f, x, w, u) {#f, f, NULL, x, 0, w, u}
#define F2(f, x, y, w, u) {#f, NULL, f, x, y, w, u}

/* Generated from glibc 2.36 (x86_64): tests/c's rows printed with %a. */
static const struct drow drows[] = {
    D1(sin, 0x1p-1, 0x1.eaee8744b05fp-2, 1),
    D1(sin, 0x1.12e0be826d695p-30, 0x1.12e0be826d695p-30, 1),
    D1(sin, 0x1.8p+1, 0x1.210386db6d55bp-3, 1),
    D1(sin, 0x1.9p+6, -0x1.03425b78c4db8p-1, 1),
    D1(sin, -0x1.4p+1, -0x1.326af0dcfcab1p-1, 1),
    D1(sin, 0x1.e848p+19, -0x1.6664b2568d867p-2, 1),
    D1(cos, 0x1p-1, 0x1.c1528065b7d5p-1, 1),
    D1(cos, 0x1.8p+1, -0x1.fae04be85e5d2p-1, 1),
    D1(cos, 0x1.9p+6, 0x1.b981dbf665fdfp-1, 1),
    D1(cos, 0x1.e848p+19, 0x1.df9df9906d32cp-1, 1),
    D1(tan, 0x1p-1, 0x1.17b4f5bf3474ap-1, 1),
    D1(tan, 0x1.8p+0, 0x1.c33ed50b88777p+3, 1),
    D1(tan, -0x1.8p+1, 0x1.23ef71254b86fp-3, 1),
    D1(asin, 0x1p-1, 0x1.0c152382d7366p-1, 1),
    D1(asin, -0x1.ccccccccccccdp-1, -0x1.1ea93705fa172p+0, 1),
    D1(asin, 0x1p+1, NAN, 0),
    D1(acos, 0x1p-1, 0x1.0c152382d7366p+0, 1),
    D1(acos, -0x1.ccccccccccccdp-1, 0x1.586476251e745p+1, 1),
    D1(atan, 0x1p-1, 0x1.dac670561bb4fp-2, 1),
    D1(atan, 0x1.4p+3, 0x1.789bd2c160054p+0, 1),
    D1(atan, -0x1.2a05f2p+33, -0x1.921fb543d4dep+0, 1),
    D2(atan2, 0x1p+0, 0x1p+1, 0x1.dac670561bb4fp-2, 1),
    D2(atan2, -0x1p+0, -0x1p+1, -0x1.56c6e7397f5aep+1, 1),
    D2(atan2, 0x0p+0, -0x1p+0, 0x1.921fb54442d18p+1, 0),
    D1(sinh, 0x1p-1, 0x1.0acd00fe63b97p-1, 1),
    D1(sinh, -0x1.8p+1, -0x1.40926e70949aep+3, 1),
    D1(cosh, 0x1p-1, 0x1.20ac1862ae8dp+0, 1),
    D1(cosh, 0x1.8p+1, 0x1.422a497d6185ep+3, 1),
    D1(tanh, 0x1p-1, 0x1.d9353d7568af3p-2, 1),
    D1(tanh, -0x1.4p+4, -0x1p+0, 1),
    D1(exp, 0x1p+0, 0x1.5bf0a8b145769p+1, 1),
    D1(exp, -0x1.4p+3, 0x1.7cd79b5647c9bp-15, 1),
    D1(exp, 0x1.5ep+9, 0x1.d945df4f8ec8ep+1009, 1),
    D1(exp, 0x1.0624dd2f1a9fcp-10, 0x1.0041919b7ee34p+0, 1),
    D1(exp, 0x1.63p+9, INFINITY, 0),
    D1(exp2, 0x1p-1, 0x1.6a09e667f3bcdp+0, 1),
    D1(exp2, 0x1.4p+3, 0x1p+10, 0),
    D1(exp2, -0x1.0c8p+10, 0x0.0000000000001p-1022, 0),
    D1(log, 0x1p+1, 0x1.62e42fefa39efp-1, 1),
    D1(log, 0x1.4p+3, 0x1.26bb1bbb55516p+1, 1),
    D1(log, 0x1.56e1fc2f8f359p-997, -0x1.5963447f87fb5p+9, 1),
    D1(log, 0x1.ff7ced916872bp-1, -0x1.064670d979b73p-10, 1),
    D1(log, 0x0p+0, -INFINITY, 0),
    D1(log, -0x1p+0, NAN, 0),
    D1(log2, 0x1.8p+1, 0x1.95c01a39fbd68p+0, 1),
    D1(log2, 0x1p+10, 0x1.4p+3, 0),
    D1(log2, 0x1.249ad2594c37dp+332, 0x1.4c315bf6707b1p+8, 1),
    D1(log10, 0x1p+1, 0x1.34413509f79ffp-2, 1),
    D1(log10, 0x1.f4p+9, 0x1.8p+1, 0),
    D1(log10, 0x1.4f8b588e368f1p-17, -0x1.4p+2, 1),
    D1(log1p, 0x1.b7cdfd9d7bdbbp-34, 0x1.b7cdfd9d1d693p-34, 1),
    D1(log1p, 0x1p-1, 0x1.9f323ecbf984cp-2, 1),
    D1(log1p, -0x1p-1, -0x1.62e42fefa39efp-1, 1),
    D1(expm1, 0x1.b7cdfd9d7bdbbp-34, 0x1.b7cdfd9dda4e3p-34, 1),
    D1(expm1, 0x1p-1, 0x1.4c2531c3c0d38p-1, 1),
    D1(expm1, -0x1.8p+1, -0x1.e6824f33314f5p-1, 1),
    D2(pow, 0x1p+1, 0x1.4p+3, 0x1p+10, 0),
    D2(pow, 0x1p+1, 0x1p-1, 0x1.6a09e667f3bcdp+0, 1),
    D2(pow, -0x1p+3, 0x1.5555555555555p-2, NAN, 0),
    D2(pow, 0x1.4p+3, -0x1.8p+1, 0x1.0624dd2f1a9fcp-10, 1),
    D2(pow, 0x1.8p+0, 0x1.91p+6, 0x1.8f9f20247e3a3p+58, 1),
    D2(pow, -0x1p+1, 0x1.8p+1, -0x1p+3, 0),
    D2(pow, 0x0p+0, -0x1p+0, INFINITY, 0),
    D2(pow, 0x1p+0, 0x1.7e43c8800759cp+996, 0x1p+0, 0),
    D1(sqrt, 0x1p+1, 0x1.6a09e667f3bcdp+0, 0),
    D1(sqrt, 0x1.56e1fc2f8f359p-997, 0x1.a2fe76a3f9475p-499, 0),
    D1(sqrt, 0x1p+4, 0x1p+2, 0),
    D1(sqrt, -0x0p+0, -0x0p+0, 0),
    D1(sqrt, 0x1.8p+1, 0x1.bb67ae8584caap+0, 0),
    D1(cbrt, 0x1.bp+4, 0x1.8000000000001p+1, 1), /* glibc: 1 ulp above 3 */
    D1(cbrt, 0x1p+1, 0x1.428a2f98d728cp+0, 1),
    D1(cbrt, -0x1.f4p+9, -0x1.4p+3, 1),
    D2(hypot, 0x1.8p+1, 0x1p+2, 0x1.4p+2, 0),
    D2(hypot, 0x1.7e43c8800759cp+996, 0x1.7e43c8800759cp+996, 0x1.0e4d50f99b211p+997, 1),
    D2(hypot, 0x1.56e1fc2f8f359p-997, 0x1.56e1fc2f8f359p-997, 0x1.e4e8d12762225p-997, 1),
    D2(hypot, 0x1p+0, 0x1.b7cdfd9d7bdbbp-34, 0x1p+0, 1),
    D2(fmod, 0x1.ep+2, 0x1p+1, 0x1.8p+0, 0),
    D2(fmod, -0x1.ep+2, 0x1p+1, -0x1.8p+0, 0),
    D2(fmod, 0x1.7e43c8800759cp+996, 0x1.8p+1, 0x0p+0, 0),
    D2(fmod, 0x1.6p+2, 0x1.6p+2, 0x0p+0, 0),
    D2(fmod, 0x1p+0, 0x1.999999999999ap-4, 0x1.9999999999996p-4, 0),
    D2(fmod, 0x1p+0, 0x0p+0, NAN, 0),
    D1(floor, -0x1.8p+0, -0x1p+1, 0),
    D1(floor, 0x1p+1, 0x1p+1, 0),
    D1(floor, -0x0p+0, -0x0p+0, 0),
    D1(floor, 0x1.7e43c8800759cp+996, 0x1.7e43c8800759cp+996, 0),
    D1(floor, 0x1p-1, 0x0p+0, 0),
    D1(floor, -0x1p-1, -0x1p+0, 0),
    D1(ceil, 0x1.3333333333333p+0, 0x1p+1, 0),
    D1(ceil, -0x1.3333333333333p+0, -0x1p+0, 0),
    D1(ceil, -0x1p-1, -0x0p+0, 0),
    D1(ceil, 0x1.fffffffffffffp+51, 0x1p+52, 0),
    D1(round, 0x1.4p+1, 0x1.8p+1, 0),
    D1(round, -0x1.4p+1, -0x1.8p+1, 0),
    D1(round, 0x1.fffffffffffffp-2, 0x0p+0, 0),
    D1(round, 0x1p-1, 0x1p+0, 0),
    D1(round, -0x1.999999999999ap-2, -0x0p+0, 0),
    D1(trunc, -0x1.599999999999ap+1, -0x1p+1, 0),
    D1(trunc, 0x1.599999999999ap+1, 0x1p+1, 0),
    D1(trunc, 0x1.5af1d78b58c4p+66, 0x1.5af1d78b58c4p+66, 0),
    D1(trunc, -0x1p-1, -0x0p+0, 0),
    D1(fabs, -0x0p+0, 0x0p+0, 0),
    D1(fabs, -0x1.cp+1, 0x1.cp+1, 0),
    D2(copysign, 0x1.8p+1, -0x0p+0, -0x1.8p+1, 0),
    D2(copysign, -0x1p+1, 0x1p+0, 0x1p+1, 0),
    D2(nextafter, 0x1p+0, 0x1p+1, 0x1.0000000000001p+0, 0),
    D2(nextafter, 0x1p+0, 0x0p+0, 0x1.fffffffffffffp-1, 0),
    D2(nextafter, 0x0p+0, 0x1p+0, 0x0.0000000000001p-1022, 0),
    D2(nextafter, 0x0p+0, -0x1p+0, -0x0.0000000000001p-1022, 0),
    D2(fmin, 0x1p+0, 0x1p+1, 0x1p+0, 0),
    D2(fmin, NAN, 0x1p+0, 0x1p+0, 0),
    D2(fmax, 0x1p+0, 0x1p+1, 0x1p+1, 0),
    D2(fmax, -0x1p+0, NAN, -0x1p+0, 0),
};
static const struct frow frows[] = {
    F1(sinf, 0x1p-1f, 0x1.eaee88p-2f, 1),
    F1(sinf, 0x1.9p+6f, -0x1.03425cp-1f, 1),
    F1(cosf, 0x1p-1f, 0x1.c1528p-1f, 1),
    F1(cosf, 0x1.8p+1f, -0x1.fae04cp-1f, 1),
    F1(tanf, 0x1p-1f, 0x1.17b4f6p-1f, 1),
    F1(asinf, 0x1p-1f, 0x1.0c1524p-1f, 1),
    F1(acosf, 0x1p-1f, 0x1.0c1524p+0f, 1),
    F1(atanf, 0x1.4p+3f, 0x1.789bd2p+0f, 1),
    F2(atan2f, 0x1p+0f, 0x1p+1f, 0x1.dac67p-2f, 1),
    F1(sinhf, 0x1p-1f, 0x1.0acdp-1f, 1),
    F1(coshf, 0x1p-1f, 0x1.20ac18p+0f, 1),
    F1(tanhf, 0x1p-1f, 0x1.d9353ep-2f, 1),
    F1(expf, 0x1p+0f, 0x1.5bf0a8p+1f, 1),
    F1(expf, -0x1.4p+3f, 0x1.7cd79cp-15f, 1),
    F1(exp2f, 0x1p-1f, 0x1.6a09e6p+0f, 1),
    F1(logf, 0x1.4p+3f, 0x1.26bb1cp+1f, 1),
    F1(log2f, 0x1.8p+1f, 0x1.95c01ap+0f, 1),
    F1(log10f, 0x1p+1f, 0x1.344136p-2f, 1),
    F1(log1pf, 0x1p-1f, 0x1.9f323ep-2f, 1),
    F1(expm1f, 0x1p-1f, 0x1.4c2532p-1f, 1),
    F2(powf, 0x1p+1f, 0x1p-1f, 0x1.6a09e6p+0f, 1),
    F2(powf, 0x1.8p+0f, 0x1.48p+3f, 0x1.fe88ecp+5f, 1),
    F1(sqrtf, 0x1p+1f, 0x1.6a09e6p+0f, 0),
    F1(cbrtf, 0x1p+1f, 0x1.428a3p+0f, 1),
    F2(hypotf, 0x1.8p+1f, 0x1p+2f, 0x1.4p+2f, 0),
    F2(fmodf, 0x1.ep+2f, 0x1p+1f, 0x1.8p+0f, 0),
    F1(floorf, -0x1.8p+0f, -0x1p+1f, 0),
    F1(ceilf, 0x1.333334p+0f, 0x1p+1f, 0),
    F1(roundf, 0x1.4p+1f, 0x1.8p+1f, 0),
    F1(truncf, -0x1.59999ap+1f, -0x1p+1f, 0),
    F1(fabsf, -0x1.cp+1f, 0x1.cp+1f, 0),
    F2(copysignf, 0x1.8p+1f, -0x1p+0f, -0x1.8p+1f, 0),
    F2(nextafterf, 0x1p+0f, 0x1p+1f, 0x1.000002p+0f, 0),
    F2(fminf, 0x1p+0f, 0x1p+1f, 0x1p+0f, 0),
    F2(fmaxf, 0x1p+0f, 0x1p+1f, 0x1p+1f, 0),
};

/* Distance in units in the last place of two values' bit patterns
 * (sign-magnitude, `min` the type's most negative integer). */
static uint64_t apart(int64_t ia, int64_t ib, int64_t min)
{
    if (ia < 0)
        ia = min - ia;
    if (ib < 0)
        ib = min - ib;
    return ia > ib ? (uint64_t)ia - (uint64_t)ib : (uint64_t)ib - (uint64_t)ia;
}

/* The same for doubles and floats; NaN to NaN is 0. */
static uint64_t ulps_apart(double a, double b)
{
    int64_t ia, ib;
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b) ? 0 : UINT64_MAX;
    memcpy(&ia, &a, 8);
    memcpy(&ib, &b, 8);
    return apart(ia, ib, INT64_MIN);
}

static uint64_t ulps_apartf(float a, float b)
{
    int32_t ia, ib;
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b) ? 0 : UINT64_MAX;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    return apart(ia, ib, INT32_MIN);
}

static const char *t_libm_table(void)
{
    static char why[256];
    /* Through volatile: the compiler must not fold the calls itself. */
    volatile double x, y;
    int bad = 0;
    for (size_t i = 0; i < sizeof drows / sizeof drows[0]; i++) {
        const struct drow *r = &drows[i];
        double got;
        x = r->x;
        y = r->y;
        got = r->f1 ? r->f1(x) : r->f2(x, y);
        if (ulps_apart(got, r->want) > (uint64_t)r->ulps) {
            snprintf(why, sizeof why, "%s(%a, %a) = %a, glibc %a", r->name, r->x, r->y, got, r->want);
            printf("c-tests: libm-table: %s\n", why);
            bad++;
        }
    }
    for (size_t i = 0; i < sizeof frows / sizeof frows[0]; i++) {
        const struct frow *r = &frows[i];
        volatile float fx = r->x, fy = r->y;
        float got = r->f1 ? r->f1(fx) : r->f2(fx, fy);
        if (ulps_apartf(got, r->want) > (uint64_t)r->ulps) {
            snprintf(why, sizeof why, "%s(%a, %a) = %a, glibc %a", r->name, (double)r->x, (double)r->y,
                     (double)got, (double)r->want);
            printf("c-tests: libm-table: %s\n", why);
            bad++;
        }
    }
    return bad ? why : NULL;
}

static const char *t_libm_pointers(void)
{
    volatile double v = 8.0, w = -3.75, big = 1e300;
    volatile float vf = 12.0f;
    double ip;
    float ipf;
    int e = 0, q = 0;
    CHECK(frexp(v, &e) == 0.5 && e == 4);
    CHECK(frexp(0x1p-1074 * v, &e) == 0.5 && e == -1070);
    CHECK(frexpf(vf, &e) == 0.75f && e == 4);
    CHECK(modf(w, &ip) == -0.75 && ip == -3.0);
    CHECK(modff(vf + 0.5f, &ipf) == 0.5f && ipf == 12.0f);
    CHECK(modf(big, &ip) == 0 && ip == 1e300);
    CHECK(ldexp(0.75, 4) == 12.0 && ldexp(1.0, -1074) == 0x1p-1074 && isinf(ldexp(v, 1024)));
    CHECK(ldexpf(0.75f, 4) == 12.0f && scalbn(1.0, 10) == 1024.0);
    CHECK(remquo(v + 2, 3.0, &q) == 1.0 && (q & 7) == 3);
    CHECK(lround(-2.5) == -3 && llround(2.5) == 3 && lrint(2.5) == 2 && rint(3.5) == 4.0);
    CHECK(ilogb(v) == 3 && fma(2.0, 3.0, 1.0) == 7.0 && fdim(5.0, 3.0) == 2.0);
    CHECK(isnan(sqrt(w)) && signbit(copysign(1.0, -0.0)) && fpclassify(0x1p-1070) == FP_SUBNORMAL);
    CHECK(fabs(tgamma(5.0) - 24.0) < 1e-12 && fabs(erf(0.0)) == 0);
    return NULL;
}

/* ---- locale -------------------------------------------------------------- */

static const char *t_locale(void)
{
    static const char *const vars[] = {"LC_ALL", "LC_CTYPE", "LC_NUMERIC", "LC_TIME", "LC_COLLATE",
                                       "LC_MONETARY", "LC_MESSAGES", "LANG", "LANGUAGE"};
    struct lconv *lc;
    const char *s;
    /* A program starts in the C locale; "" then asks the environment,
     * which here names none (glibc would take LANG). */
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    CHECK((s = setlocale(LC_ALL, NULL)) && strcmp(s, "C") == 0);
    CHECK((s = setlocale(LC_ALL, "")) && strcmp(s, "C") == 0);
    CHECK((s = setlocale(LC_NUMERIC, "C")) && strcmp(s, "C") == 0);
    CHECK((s = setlocale(LC_CTYPE, "POSIX")) && strcmp(s, "C") == 0);
    CHECK(setlocale(LC_ALL, "xx_XX.no-such-locale") == NULL);
    CHECK((s = setlocale(LC_COLLATE, NULL)) && strcmp(s, "C") == 0);
    lc = localeconv();
    CHECK(lc && strcmp(lc->decimal_point, ".") == 0 && strcmp(lc->thousands_sep, "") == 0);
    CHECK(strcmp(lc->grouping, "") == 0 && strcmp(lc->currency_symbol, "") == 0);
    CHECK(lc->frac_digits == CHAR_MAX && lc->n_sign_posn == CHAR_MAX);
    CHECK(strcoll("abc", "abd") < 0 && strcoll("b", "a") > 0 && strcoll("x", "x") == 0);
    return NULL;
}

/* ---- stdio locks --------------------------------------------------------- */

static const char *t_stdio_locks(void)
{
    const char *path = scratch("locks.txt");
    char line[32];
    FILE *f = fopen(path, "w+");
    CHECK(f);
    /* Recursive: the holder locks again, tries and succeeds, writes with
     * the locking calls (which take the lock once more) and unlocks as
     * often as it locked. */
    flockfile(f);
    flockfile(f);
    CHECK(ftrylockfile(f) == 0);
    CHECK(fputc('a', f) == 'a' && fputs("bc", f) >= 0 && fprintf(f, "%d", 42) == 2);
    CHECK(putc_unlocked('\n', f) == '\n' && fputc_unlocked('x', f) == 'x');
    CHECK(fwrite_unlocked("yz\n", 1, 3, f) == 3 && fputs_unlocked("end\n", f) >= 0);
    CHECK(fflush_unlocked(f) == 0);
    funlockfile(f);
    funlockfile(f);
    funlockfile(f);
    /* Free again: another lock/unlock pair does not block. */
    CHECK(ftrylockfile(f) == 0);
    funlockfile(f);
    rewind(f);
    flockfile(f);
    CHECK(getc_unlocked(f) == 'a' && fgetc_unlocked(f) == 'b');
    CHECK(fgets_unlocked(line, sizeof line, f) && strcmp(line, "c42\n") == 0);
    CHECK(fread_unlocked(line, 1, 4, f) == 4 && memcmp(line, "xyz\n", 4) == 0);
    CHECK(fgets(line, sizeof line, f) && strcmp(line, "end\n") == 0);
    CHECK(getc_unlocked(f) == EOF && feof_unlocked(f) && !ferror_unlocked(f));
    clearerr_unlocked(f);
    CHECK(!feof(f) && fileno_unlocked(f) == fileno(f));
    funlockfile(f);
    CHECK(fclose(f) == 0);
    return NULL;
}

/* A child that takes the lock another process holds: locks are per
 * process (fork copies the stream), so it never waits for the parent. */
static void lock_in_child(void *arg)
{
    FILE *f = arg;
    if (ftrylockfile(f) != 0)
        _exit(2);
    fputc('c', f);
    funlockfile(f);
    _exit(fflush(f) == 0 ? 0 : 3);
}

static const char *t_stdio_lock_fork(void)
{
    FILE *f = fopen(scratch("lockfork.txt"), "w");
    int st;
    CHECK(f);
    st = in_child(lock_in_child, f);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(ftrylockfile(f) == 0);
    funlockfile(f);
    CHECK(fclose(f) == 0);
    return NULL;
}

/* A second thread of this process. relibc-shim has no pthreads, so on
 * Tessera the test makes one with the kernel's own calls (docs/kernel.md,
 * "Processes and threads": clone_thread 435, exit_thread 60, futex 240),
 * the way the Rust runtime's thread::spawn does; on Linux, pthreads. */
struct thread {
    void *(*fn)(void *);
    void *arg;
#ifdef __tessera__
    unsigned done; /* 1 while running; the kernel zeroes it and wakes us */
    unsigned char *stack;
#else
    pthread_t id;
#endif
};

#ifdef __tessera__
#define STACK_BYTES 65536
static long raw_syscall4(long n, long a, long b, long c, long d)
{
#if defined(__x86_64__)
    long ret;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = n, x0 __asm__("x0") = a, x1 __asm__("x1") = b, x2 __asm__("x2") = c,
                  x3 __asm__("x3") = d;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
#endif
}

static _Noreturn void thread_entry(struct thread *t)
{
    t->fn(t->arg);
    raw_syscall4(60, 0, (long)&t->done, 0, 0);
    for (;;)
        ;
}

static int thread_start(struct thread *t)
{
    uintptr_t top;
    long r;
    t->done = 1;
    t->stack = malloc(STACK_BYTES);
    if (!t->stack)
        return -1;
    top = ((uintptr_t)t->stack + STACK_BYTES) & ~(uintptr_t)15;
#if defined(__x86_64__)
    top -= 8; /* as if `call` had pushed a return address */
#endif
    r = raw_syscall4(435, (long)thread_entry, (long)top, (long)t, 0);
    return r < 0 && r > -4096 ? -1 : 0;
}

static void thread_join(struct thread *t)
{
    while (__atomic_load_n(&t->done, __ATOMIC_ACQUIRE) != 0)
        raw_syscall4(240, (long)&t->done, 0, 1, 0);
    free(t->stack);
}
#else
static int thread_start(struct thread *t) { return pthread_create(&t->id, NULL, t->fn, t->arg) == 0 ? 0 : -1; }
static void thread_join(struct thread *t) { pthread_join(t->id, NULL); }
#endif

static void pause_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

struct lock_race {
    FILE *f;
    volatile int tried; /* 1: ftrylockfile found the stream taken */
    volatile int done;
};

static void *lock_racer(void *arg)
{
    struct lock_race *r = arg;
    r->tried = ftrylockfile(r->f) != 0 ? 1 : 2;
    if (r->tried == 2)
        funlockfile(r->f);
    flockfile(r->f); /* waits until the main thread lets go */
    fputs("T", r->f);
    funlockfile(r->f);
    r->done = 1;
    return NULL;
}

/* Another thread finds the stream taken (ftrylockfile), waits in flockfile
 * while the holder writes, and writes after it: "MT", never "TM". */
static const char *t_stdio_lock_threads(void)
{
    struct lock_race race = {0};
    struct thread t = {.fn = lock_racer, .arg = &race};
    char buf[8] = "";
    race.f = fopen(scratch("lockthreads.txt"), "w+");
    CHECK(race.f);
    flockfile(race.f);
    CHECK(thread_start(&t) == 0);
    for (int i = 0; i < 5000 && !race.tried; i++)
        pause_ms(1);
    CHECK(race.tried == 1);
    pause_ms(30);
    CHECK(!race.done);
    fputs("M", race.f);
    funlockfile(race.f);
    thread_join(&t);
    CHECK(race.done);
    rewind(race.f);
    CHECK(fgets(buf, sizeof buf, race.f) && strcmp(buf, "MT") == 0);
    CHECK(fclose(race.f) == 0);
    return NULL;
}

/* ---- popen, pclose, system ----------------------------------------------- */

static const char *t_popen_read(void)
{
    char line[64] = "";
    FILE *p = popen("echo hi; echo there", "r");
    int st;
    CHECK(p);
    CHECK(fgets(line, sizeof line, p) && strcmp(line, "hi\n") == 0);
    CHECK(fgets(line, sizeof line, p) && strcmp(line, "there\n") == 0);
    CHECK(fgets(line, sizeof line, p) == NULL && feof(p));
    st = pclose(p);
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* The command's status comes back through pclose. */
    p = popen("exit 5", "r");
    CHECK(p);
    st = pclose(p);
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 5);
    errno = 0;
    CHECK(popen("true", "x") == NULL && errno == EINVAL);
    return NULL;
}

static const char *t_popen_write(void)
{
    char cmd[256], buf[64] = "";
    const char *path = scratch("popen-out.txt");
    FILE *p, *in;
    size_t n;
    int st;
    snprintf(cmd, sizeof cmd, "cat > %s", path);
    p = popen(cmd, "w");
    CHECK(p);
    CHECK(fputs("through the pipe\n", p) >= 0 && fprintf(p, "line %d\n", 2) > 0);
    st = pclose(p);
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    in = fopen(path, "r");
    CHECK(in);
    n = fread(buf, 1, sizeof buf - 1, in);
    fclose(in);
    CHECK(n == 24 && strcmp(buf, "through the pipe\nline 2\n") == 0);
    unlink(path);
    return NULL;
}

static const char *t_system_status(void)
{
    int st;
    CHECK(system(NULL) != 0);
    st = system("exit 3");
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 3);
    st = system("true");
    CHECK(st == 0);
    /* A program the shell cannot find: 127, the shell's answer. */
    st = system("no-such-program-anywhere");
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 127);
    return NULL;
}

/* ---- files, users, resources, devices ------------------------------------ */

static const char *t_realpath(void)
{
    char dir[128], file[160], in[256], out[4096];
    char *r;
    snprintf(dir, sizeof dir, "%s", scratch("rp"));
    snprintf(file, sizeof file, "%s/f", dir);
    CHECK(mkdir(dir, 0777) == 0);
    CHECK(mkdir(scratch("rp/sub"), 0777) == 0);
    {
        FILE *f = fopen(file, "w");
        CHECK(f && fclose(f) == 0);
    }
    snprintf(in, sizeof in, "%s/./sub/..//f", dir);
    CHECK(realpath(in, out) == out && strcmp(out, file) == 0);
    snprintf(in, sizeof in, "/..%s/sub/.", dir);
    r = realpath(in, NULL);
    CHECK(r && strncmp(r, dir, strlen(dir)) == 0 && strcmp(r + strlen(dir), "/sub") == 0);
    free(r);
    CHECK(realpath("/", out) && strcmp(out, "/") == 0);
    errno = 0;
    snprintf(in, sizeof in, "%s/missing/..", dir);
    CHECK(realpath(in, out) == NULL && errno == ENOENT);
    errno = 0;
    snprintf(in, sizeof in, "%s/f/..", dir);
    CHECK(realpath(in, out) == NULL && errno == ENOTDIR);
    errno = 0;
    CHECK(realpath("", out) == NULL && errno == ENOENT);
    unlink(file);
    rmdir(scratch("rp/sub"));
    rmdir(dir);
    return NULL;
}

static const char *t_getpwuid(void)
{
    struct passwd *pw = getpwuid(0), pwbuf, *res = NULL;
    char buf[256];
    CHECK(pw && strcmp(pw->pw_name, "root") == 0 && pw->pw_uid == 0 && pw->pw_gid == 0);
    CHECK(pw->pw_shell && access(pw->pw_shell, X_OK) == 0);
#ifdef __tessera__
    CHECK(strcmp(pw->pw_dir, "/") == 0 && strcmp(pw->pw_shell, "/scheme/initfs/bin/sh") == 0);
    CHECK(getpwuid(1000) == NULL);
#endif
    pw = getpwnam("root");
    CHECK(pw && pw->pw_uid == 0);
    CHECK(getpwnam("no-such-user-here") == NULL);
    CHECK(getpwuid_r(0, &pwbuf, buf, sizeof buf, &res) == 0 && res == &pwbuf);
    CHECK(strcmp(res->pw_name, "root") == 0 && res->pw_name >= buf && res->pw_name < buf + sizeof buf);
    CHECK(getpwuid_r(0, &pwbuf, buf, 3, &res) == ERANGE && res == NULL);
    CHECK(getpwnam_r("no-such-user-here", &pwbuf, buf, sizeof buf, &res) == 0 && res == NULL);
    return NULL;
}

static const char *t_getrusage(void)
{
    struct rusage ru;
    memset(&ru, 0xff, sizeof ru);
    errno = 0;
    CHECK(getrusage(12345, &ru) == -1 && errno == EINVAL);
#ifdef __tessera__
    /* No CPU time or peak size is kept: ENOSYS, and zeros. */
    errno = 0;
    CHECK(getrusage(RUSAGE_SELF, &ru) == -1 && errno == ENOSYS);
    CHECK(ru.ru_utime.tv_sec == 0 && ru.ru_utime.tv_usec == 0 && ru.ru_maxrss == 0 && ru.ru_nivcsw == 0);
#else
    CHECK(getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_maxrss > 0);
#endif
    return NULL;
}

static const char *t_fchown_utimes(void)
{
    const char *path = scratch("owned");
    int fd = open(path, O_CREAT | O_RDWR, 0644);
    struct timeval tv[2] = {{1, 0}, {2, 0}};
    CHECK(fd >= 0);
    errno = 0;
    CHECK(fchown(-1, 0, 0) == -1 && errno == EBADF);
    errno = 0;
    CHECK(utimes(scratch("not-there"), tv) == -1 && errno == ENOENT);
    errno = 0;
    CHECK(chown(scratch("not-there"), 0, 0) == -1 && errno == ENOENT);
    errno = 0;
    CHECK(utime(scratch("not-there"), NULL) == -1 && errno == ENOENT);
#ifdef __tessera__
    /* The kernel has no call for either: ENOSYS, nothing pretends. */
    errno = 0;
    CHECK(fchown(fd, 0, 0) == -1 && errno == ENOSYS);
    errno = 0;
    CHECK(utimes(path, tv) == -1 && errno == ENOSYS);
    errno = 0;
    CHECK(utime(path, NULL) == -1 && errno == ENOSYS);
#else
    if (getuid() == 0)
        CHECK(fchown(fd, 0, 0) == 0);
    CHECK(utimes(path, tv) == 0 && utime(path, NULL) == 0);
#endif
    close(fd);
    unlink(path);
    return NULL;
}

static const char *t_ioctl_winsize(void)
{
    struct winsize ws;
    int fd = open(scratch("ioctl"), O_CREAT | O_RDWR, 0644);
    CHECK(fd >= 0);
    errno = 0;
    CHECK(ioctl(fd, TIOCGWINSZ, &ws) == -1 && errno == ENOTTY);
    errno = 0;
    CHECK(ioctl(-1, TIOCGWINSZ, &ws) == -1 && errno == EBADF);
    close(fd);
    unlink(scratch("ioctl"));
#ifdef __tessera__
    /* On the console (the console boot test types `CTEST_CONSOLE=1 c-tests
     * ioctl-winsize` at the prompt): consoled answers, 24 x 80 until set;
     * TIOCSWINSZ sets what TIOCGWINSZ then reads (docs/relibc.md). The
     * kernel's debug: (the test runner's stdout) is a character device
     * without a window size: ENOTTY. */
    if (getenv("CTEST_CONSOLE")) {
        struct winsize set = {33, 101, 0, 0}, got;
        CHECK(ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0);
        CHECK(ioctl(1, TIOCSWINSZ, &set) == 0);
        CHECK(ioctl(1, TIOCGWINSZ, &got) == 0 && got.ws_row == 33 && got.ws_col == 101);
        CHECK(ioctl(1, TIOCSWINSZ, &ws) == 0);
        errno = 0;
        CHECK(ioctl(1, TIOCGWINSZ, NULL) == -1 && errno == EFAULT);
        printf("c-tests: the console's window size is %d x %d\n", ws.ws_row, ws.ws_col);
    } else if (isatty(1)) {
        errno = 0;
        CHECK(ioctl(1, TIOCGWINSZ, &ws) == -1 && errno == ENOTTY);
    }
#endif
    return NULL;
}

const struct test libc_tests[] = {
    {"libm-table", t_libm_table},
    {"libm-pointers", t_libm_pointers},
    {"locale", t_locale},
    {"stdio-locks", t_stdio_locks},
    {"stdio-lock-fork", t_stdio_lock_fork},
    {"stdio-lock-threads", t_stdio_lock_threads},
    {"popen-read", t_popen_read},
    {"popen-write", t_popen_write},
    {"system-status", t_system_status},
    {"realpath", t_realpath},
    {"getpwuid", t_getpwuid},
    {"getrusage", t_getrusage},
    {"fchown-utimes", t_fchown_utimes},
    {"ioctl-winsize", t_ioctl_winsize},
    {NULL, NULL},
};
