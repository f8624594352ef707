/*
 * math.c - the few <math.h> functions libc carries, exact by construction
 * (bit manipulation rather than library calls: the compiler would turn
 * floor() and friends back into calls to themselves on x86_64 without
 * SSE4.1). sqrt uses the hardware instruction.
 */
#include <math.h>
#include <stdint.h>

union bits {
    double d;
    uint64_t u;
};

double fabs(double x)
{
    union bits b = {x};
    b.u &= ~(1ULL << 63);
    return b.d;
}

float fabsf(float x)
{
    union { float f; uint32_t u; } b = {x};
    b.u &= ~(1U << 31);
    return b.f;
}

double sqrt(double x) { return __builtin_sqrt(x); }
float sqrtf(float x) { return __builtin_sqrtf(x); }

double trunc(double x)
{
    union bits b = {x};
    int e = (int)((b.u >> 52) & 0x7ff) - 1023;
    if (e >= 52)
        return x;                              /* integral, inf or nan */
    if (e < 0) {
        b.u &= 1ULL << 63;                     /* |x| < 1: signed zero */
        return b.d;
    }
    b.u &= ~((1ULL << (52 - e)) - 1);
    return b.d;
}

double floor(double x)
{
    double t = trunc(x);
    return (x < 0 && t != x) ? t - 1 : t;
}

double ceil(double x)
{
    double t = trunc(x);
    return (x > 0 && t != x) ? t + 1 : t;
}

/* Halfway cases away from zero, as C says. */
double round(double x)
{
    double t = trunc(x);
    if (fabs(x - t) >= 0.5)
        t += x < 0 ? -1 : 1;
    return t;
}

double frexp(double x, int *exp)
{
    union bits b = {x};
    int e = (int)((b.u >> 52) & 0x7ff);
    if (e == 0) {
        if (x == 0) {
            *exp = 0;
            return x;
        }
        x = frexp(x * 0x1p64, exp);            /* subnormal: scale up first */
        *exp -= 64;
        return x;
    }
    if (e == 0x7ff) {
        *exp = 0;
        return x;
    }
    *exp = e - 1022;
    b.u = (b.u & ~(0x7ffULL << 52)) | (1022ULL << 52);
    return b.d;
}

double ldexp(double x, int n)
{
    union bits p;
    while (n > 1023) {
        x *= 0x1p1023;
        n -= 1023;
    }
    while (n < -1022) {
        x *= 0x1p-1022;
        n += 1022;
    }
    p.u = (uint64_t)(1023 + n) << 52;
    return x * p.d;
}

double modf(double x, double *ip)
{
    *ip = trunc(x);
    if (isinf(x))
        return x < 0 ? -0.0 : 0.0;
    return x - *ip;
}

/* The exact remainder x - n*y with n = trunc(x/y), by long division on
 * the mantissas. */
double fmod(double x, double y)
{
    union bits ux = {x}, uy = {y};
    int ex = (int)((ux.u >> 52) & 0x7ff), ey = (int)((uy.u >> 52) & 0x7ff);
    uint64_t sign = ux.u & (1ULL << 63), mx, my;
    if (y == 0 || isnan(y) || ex == 0x7ff)
        return (x * y) / (x * y);              /* nan */
    if ((ux.u << 1) <= (uy.u << 1))
        return (ux.u << 1) == (uy.u << 1) ? x * 0 : x;
    /* Mantissas with the implicit bit; subnormals normalised. */
    if (!ex) {
        for (mx = ux.u << 12; !(mx >> 63); mx <<= 1)
            ex--;
        mx = ux.u << (1 - ex);
    } else
        mx = (ux.u & ((1ULL << 52) - 1)) | (1ULL << 52);
    if (!ey) {
        for (my = uy.u << 12; !(my >> 63); my <<= 1)
            ey--;
        my = uy.u << (1 - ey);
    } else
        my = (uy.u & ((1ULL << 52) - 1)) | (1ULL << 52);
    for (; ex > ey; ex--) {
        if (mx >= my)
            mx -= my;
        mx <<= 1;
    }
    if (mx >= my)
        mx -= my;
    if (mx == 0)
        return x * 0;
    while (mx < (1ULL << 52)) {
        mx <<= 1;
        ex--;
    }
    if (ex > 0)
        ux.u = ((mx - (1ULL << 52)) | ((uint64_t)ex << 52));
    else
        ux.u = mx >> (1 - ex);
    ux.u |= sign;
    return ux.d;
}

double fmin(double a, double b)
{
    if (isnan(a))
        return b;
    if (isnan(b))
        return a;
    return a < b ? a : b;
}

double fmax(double a, double b)
{
    if (isnan(a))
        return b;
    if (isnan(b))
        return a;
    return a > b ? a : b;
}
