/* builtins.c - compiler-rt integer builtins that clang calls and the Rust
 * half's compiler_builtins does not export from libc.a: 128-bit division
 * and remainder (__udivmodti4, __udivti3, __umodti3, __divti3, __modti3).
 * Written with 64-bit division and 128-bit shifts and subtractions only,
 * which clang inlines, so none of them calls itself. Division by zero
 * traps, as the hardware's 64-bit division would fault. __clear_cache is
 * per arch (c/<arch>/clear_cache.S). */
typedef unsigned __int128 tu_int;
typedef __int128 ti_int;

tu_int __udivmodti4(tu_int n, tu_int d, tu_int *rem);
tu_int __udivti3(tu_int n, tu_int d);
tu_int __umodti3(tu_int n, tu_int d);
ti_int __divti3(ti_int a, ti_int b);
ti_int __modti3(ti_int a, ti_int b);

tu_int __udivmodti4(tu_int n, tu_int d, tu_int *rem)
{
    tu_int q = 0, r = 0;
    if (d == 0)
        __builtin_trap();
    if ((n >> 64) == 0 && (d >> 64) == 0) {
        unsigned long long nn = (unsigned long long)n, dd = (unsigned long long)d;
        if (rem)
            *rem = nn % dd;
        return nn / dd;
    }
    for (int i = 127; i >= 0; i--) {
        r = (r << 1) | ((n >> i) & 1);
        if (r >= d) {
            r -= d;
            q |= (tu_int)1 << i;
        }
    }
    if (rem)
        *rem = r;
    return q;
}

tu_int __udivti3(tu_int n, tu_int d)
{
    return __udivmodti4(n, d, 0);
}

tu_int __umodti3(tu_int n, tu_int d)
{
    tu_int r;
    __udivmodti4(n, d, &r);
    return r;
}

static tu_int magnitude(ti_int v)
{
    return v < 0 ? -(tu_int)v : (tu_int)v;
}

ti_int __divti3(ti_int a, ti_int b)
{
    tu_int q = __udivmodti4(magnitude(a), magnitude(b), 0);
    return (a < 0) != (b < 0) ? (ti_int)-q : (ti_int)q;
}

ti_int __modti3(ti_int a, ti_int b)
{
    tu_int r;
    __udivmodti4(magnitude(a), magnitude(b), &r);
    return a < 0 ? (ti_int)-r : (ti_int)r;
}
