/*
 * strtod.c - decimal and hexadecimal text to floating point: strtod,
 * strtof, strtold, atof. Values with at most 19 significant digits whose
 * mantissa fits in 53 bits and whose decimal exponent is within +-22 are
 * converted with one correctly rounded operation (the common case: "3.25",
 * "1e10", "0.001"); other values are scaled in long double and are then
 * within one unit in the last place. Hexadecimal floats ("0x1.8p3") are
 * exact. Kept in C: these functions return floating-point values.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

static const double exact_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* 10^e in long double by repeated squaring. */
static long double pow10l_(int e)
{
    long double result = 1, base = 10;
    unsigned n = (unsigned)(e < 0 ? -e : e);
    while (n) {
        if (n & 1)
            result *= base;
        base *= base;
        n >>= 1;
    }
    return e < 0 ? 1 / result : result;
}

static double scale2(double x, int e)
{
    union { double d; uint64_t u; } p;
    while (e > 1000) {
        p.u = (uint64_t)(1023 + 1000) << 52;
        x *= p.d;
        e -= 1000;
    }
    while (e < -1000) {
        p.u = (uint64_t)(1023 - 1000) << 52;
        x *= p.d;
        e += 1000;
    }
    p.u = (uint64_t)(1023 + e) << 52;
    return x * p.d;
}

static double parse_hex(const char *p, const char **end)
{
    uint64_t m = 0;
    int e = 0, digits = 0, dot = 0, sticky = 0;
    for (;; p++) {
        int d;
        if (*p == '.' && !dot) {
            dot = 1;
            continue;
        }
        if (!isxdigit((unsigned char)*p))
            break;
        d = isdigit((unsigned char)*p) ? *p - '0' : (tolower((unsigned char)*p) - 'a' + 10);
        digits++;
        if (m >> 56) {
            /* Keep 60 bits; later digits only shift or round. */
            sticky |= d != 0;
            if (!dot)
                e += 4;
        } else {
            m = m * 16 + (uint64_t)d;
            if (dot)
                e -= 4;
        }
    }
    if (!digits)
        return -1;
    if ((*p == 'p' || *p == 'P')) {
        const char *q = p + 1;
        int neg = 0, x = 0, any = 0;
        if (*q == '+' || *q == '-')
            neg = *q++ == '-';
        while (isdigit((unsigned char)*q)) {
            if (x < 100000)
                x = x * 10 + (*q - '0');
            q++;
            any = 1;
        }
        if (any) {
            e += neg ? -x : x;
            p = q;
        }
    }
    *end = p;
    m |= (uint64_t)sticky;
    return scale2((double)m, e);
}

double strtod(const char *restrict s, char **restrict end)
{
    const char *p = s;
    int neg = 0, frac = 0, dropped = 0, any = 0, exp10 = 0, sig = 0;
    uint64_t m = 0;
    double v;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (strncasecmp(p, "inf", 3) == 0) {
        p += 3;
        if (strncasecmp(p, "inity", 5) == 0)
            p += 5;
        if (end)
            *end = (char *)p;
        return neg ? -__builtin_inf() : __builtin_inf();
    }
    if (strncasecmp(p, "nan", 3) == 0) {
        p += 3;
        if (*p == '(') {
            const char *q = p + 1;
            while (isalnum((unsigned char)*q) || *q == '_')
                q++;
            if (*q == ')')
                p = q + 1;
        }
        if (end)
            *end = (char *)p;
        return neg ? -__builtin_nan("") : __builtin_nan("");
    }
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        const char *q;
        v = parse_hex(p + 2, &q);
        if (v >= 0) {
            if (end)
                *end = (char *)q;
            if (v == __builtin_inf())
                errno = ERANGE;
            return neg ? -v : v;
        }
        /* "0x" without digits: the "0" alone is the number. */
        if (end)
            *end = (char *)p + 1;
        return neg ? -0.0 : 0.0;
    }
    for (int dot = 0;; p++) {
        if (*p == '.' && !dot) {
            dot = 1;
            continue;
        }
        if (!isdigit((unsigned char)*p))
            break;
        any = 1;
        if (m == 0 && *p == '0') {
            if (dot)
                frac++;
            continue;
        }
        if (sig < 19) {
            m = m * 10 + (uint64_t)(*p - '0');
            sig++;
            if (dot)
                frac++;
        } else if (!dot)
            dropped++;
    }
    if (!any) {
        if (end)
            *end = (char *)s;
        return 0;
    }
    if (*p == 'e' || *p == 'E') {
        const char *q = p + 1;
        int eneg = 0, x = 0, eany = 0;
        if (*q == '+' || *q == '-')
            eneg = *q++ == '-';
        while (isdigit((unsigned char)*q)) {
            if (x < 100000)
                x = x * 10 + (*q - '0');
            q++;
            eany = 1;
        }
        if (eany) {
            exp10 = eneg ? -x : x;
            p = q;
        }
    }
    if (end)
        *end = (char *)p;
    exp10 += dropped - frac;
    if (m == 0)
        return neg ? -0.0 : 0.0;
    if (m <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22)
        v = exp10 >= 0 ? (double)m * exact_pow10[exp10] : (double)m / exact_pow10[-exp10];
    else if (exp10 + sig > 310) {
        v = __builtin_inf();
    } else if (exp10 + sig < -330) {
        v = 0;
    } else {
        v = (double)((long double)m * pow10l_(exp10));
    }
    if (v == __builtin_inf() || v == 0)
        errno = ERANGE;
    return neg ? -v : v;
}

float strtof(const char *restrict s, char **restrict end) { return (float)strtod(s, end); }
long double strtold(const char *restrict s, char **restrict end) { return strtod(s, end); }
double atof(const char *s) { return strtod(s, NULL); }
