/*
 * printf.c - the printf family: one formatter writing to a sink (a FILE,
 * a buffer, a file descriptor or a growing allocation).
 *
 * Conversions: d i u o x X c s p n % and the floating-point f F e E g G a A;
 * flags - + space # 0; width and precision (also `*`); length hh h l ll j z
 * t L q. Floating-point values are converted exactly: the double's binary
 * value is expanded to all its decimal digits with a small bignum, then
 * rounded half-to-even at the requested digit, so the output matches glibc's
 * digit for digit. `long double` is converted through double. Not
 * supported: positional arguments (`%1$d`) and wide characters (%lc %ls).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stdio_impl.h"

struct sink {
    void (*put)(struct sink *, const char *, size_t);
    size_t count;            /* characters produced (what printf returns) */
    /* buffer sinks */
    char *buf;
    size_t cap, len;
    int failed;              /* allocation failed (asprintf) */
    FILE *file;              /* FILE sinks */
    int fd;                  /* fd sinks */
};

static void out(struct sink *s, const char *p, size_t n)
{
    if (n) {
        s->put(s, p, n);
        s->count += n;
    }
}

static void pad(struct sink *s, char c, int n)
{
    char block[32];
    memset(block, c, sizeof block);
    while (n > 0) {
        int k = n > 32 ? 32 : n;
        out(s, block, (size_t)k);
        n -= k;
    }
}

struct spec {
    int minus, plus, space, hash, zero;
    int width, prec;         /* prec < 0: none */
    char conv;
};

/* Writes prefix + zeros + body with the width rules. `zeros` are the
 * precision's leading zeros (integers) already decided by the caller. */
static void emit(struct sink *s, const struct spec *sp, const char *prefix, size_t plen,
                 int zeros, const char *body, size_t blen, const char *tail, size_t tlen)
{
    int total = (int)(plen + blen + tlen) + zeros;
    int fill = sp->width > total ? sp->width - total : 0;
    if (!sp->minus && !sp->zero)
        pad(s, ' ', fill);
    out(s, prefix, plen);
    if (!sp->minus && sp->zero)
        pad(s, '0', fill);
    pad(s, '0', zeros);
    out(s, body, blen);
    out(s, tail, tlen);
    if (sp->minus)
        pad(s, ' ', fill);
}

static void fmt_int(struct sink *s, struct spec sp, uintmax_t v, int negative)
{
    char digits[72], prefix[3];
    size_t plen = 0, n = 0;
    unsigned base = 10;
    const char *alphabet = "0123456789abcdef";
    int zeros;
    if (sp.conv == 'x' || sp.conv == 'p')
        base = 16;
    else if (sp.conv == 'X') {
        base = 16;
        alphabet = "0123456789ABCDEF";
    } else if (sp.conv == 'o')
        base = 8;
    while (v) {
        digits[sizeof digits - ++n] = alphabet[v % base];
        v /= base;
    }
    if (negative)
        prefix[plen++] = '-';
    else if (sp.plus && (sp.conv == 'd' || sp.conv == 'i'))
        prefix[plen++] = '+';
    else if (sp.space && (sp.conv == 'd' || sp.conv == 'i'))
        prefix[plen++] = ' ';
    if ((sp.hash && base == 16 && n) || sp.conv == 'p') {
        prefix[plen++] = '0';
        prefix[plen++] = sp.conv == 'X' ? 'X' : 'x';
    }
    if (sp.prec >= 0)
        sp.zero = 0;
    else
        sp.prec = 1;
    zeros = sp.prec > (int)n ? sp.prec - (int)n : 0;
    if (sp.hash && base == 8 && zeros == 0 && (n == 0 || digits[sizeof digits - n] != '0'))
        zeros = 1;
    emit(s, &sp, prefix, plen, zeros, digits + sizeof digits - n, n, "", 0);
}

/* ---- exact decimal expansion of a double ---------------------------------- */

#define LIMBS 128
#define LIMB_BASE 1000000000u

/* Multiplies the little-endian base-1e9 number by m (m < 2^32). */
static void big_mul(uint32_t *limb, int *n, uint32_t m)
{
    uint64_t carry = 0;
    for (int i = 0; i < *n; i++) {
        uint64_t v = (uint64_t)limb[i] * m + carry;
        limb[i] = (uint32_t)(v % LIMB_BASE);
        carry = v / LIMB_BASE;
    }
    while (carry) {
        limb[(*n)++] = (uint32_t)(carry % LIMB_BASE);
        carry /= LIMB_BASE;
    }
}

/* All decimal digits of finite v > 0: value = 0.DIGITS * 10^(*dexp).
 * Returns the digit count (no leading or trailing zeros). */
static int exact_digits(double v, char *dig, int *dexp)
{
    union { double d; uint64_t u; } bits = {v};
    uint64_t mant = bits.u & ((1ULL << 52) - 1);
    int e2 = (int)((bits.u >> 52) & 0x7ff), n = 0, nd = 0, k;
    uint32_t limb[LIMBS];
    if (e2 == 0)
        e2 = 1;
    else
        mant |= 1ULL << 52;
    e2 -= 1075;
    limb[n++] = (uint32_t)(mant % LIMB_BASE);
    if (mant / LIMB_BASE) limb[n++] = (uint32_t)(mant / LIMB_BASE % LIMB_BASE);
    if (mant / LIMB_BASE / LIMB_BASE) limb[n++] = (uint32_t)(mant / LIMB_BASE / LIMB_BASE);
    k = 0;
    if (e2 >= 0) {
        for (int left = e2; left > 0; left -= 29)
            big_mul(limb, &n, 1u << (left > 29 ? 29 : left));
    } else {
        k = -e2;                                 /* value = N * 5^k / 10^k */
        for (int left = k; left > 0; left -= 13) {
            uint32_t m = 1;
            for (int i = 0; i < (left > 13 ? 13 : left); i++)
                m *= 5;
            big_mul(limb, &n, m);
        }
    }
    while (n > 1 && limb[n - 1] == 0)
        n--;
    /* Most significant limb without leading zeros, then 9 digits each. */
    {
        char tmp[10];
        int t = 0;
        uint32_t top = limb[n - 1];
        do {
            tmp[t++] = (char)('0' + top % 10);
            top /= 10;
        } while (top);
        while (t)
            dig[nd++] = tmp[--t];
        for (int i = n - 2; i >= 0; i--) {
            uint32_t l = limb[i];
            for (int j = 8; j >= 0; j--) {
                dig[nd + j] = (char)('0' + l % 10);
                l /= 10;
            }
            nd += 9;
        }
    }
    *dexp = nd - k;
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    return nd;
}

/* Rounds the digits to `keep` digits (half to even); updates nd/dexp.
 * keep <= 0 leaves 0 or 1 (in 10^dexp units) as rounding says. */
static int round_digits(char *dig, int nd, int *dexp, int keep)
{
    int up;
    if (keep >= nd)
        return nd;
    if (keep < 0) {
        dig[0] = '0';
        return 1;
    }
    if (dig[keep] > '5')
        up = 1;
    else if (dig[keep] < '5')
        up = 0;
    else {
        up = keep + 1 < nd;                     /* anything after the 5 */
        if (!up)
            up = keep > 0 && ((dig[keep - 1] - '0') & 1);
    }
    if (!up) {
        if (keep == 0) {
            dig[0] = '0';
            return 1;
        }
        return keep;
    }
    for (int i = keep - 1; i >= 0; i--) {
        if (dig[i] == '9') {
            dig[i] = '0';
            continue;
        }
        dig[i]++;
        return keep;
    }
    /* Carried out of the first digit (or keep == 0): 1 followed by zeros. */
    dig[0] = '1';
    (*dexp)++;
    return 1;
}

/* The digit at decimal position `pos` (0 = first digit), '0' outside. */
static char digit_at(const char *dig, int nd, int pos)
{
    return pos >= 0 && pos < nd ? dig[pos] : '0';
}

static void fmt_float(struct sink *s, struct spec sp, double v)
{
    static char dig[1200];
    char body[1400], prefix[2];
    char exp_text[8];
    size_t plen = 0, blen = 0, elen = 0;
    int nd, dexp, upper = sp.conv >= 'A' && sp.conv <= 'Z';
    char conv = (char)(sp.conv | 0x20);
    union { double d; uint64_t u; } bits = {v};
    if (bits.u >> 63) {
        prefix[plen++] = '-';
        v = -v;
    } else if (sp.plus)
        prefix[plen++] = '+';
    else if (sp.space)
        prefix[plen++] = ' ';
    if (v != v || v > 1.7976931348623157e308) {
        const char *word = v != v ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf");
        sp.zero = 0;
        emit(s, &sp, prefix, plen, 0, word, 3, "", 0);
        return;
    }
    if (sp.prec < 0)
        sp.prec = 6;
    if (conv == 'a') {
        /* Hexadecimal: 0x1.<13 hex digits, trailing zeros trimmed>p±e. */
        uint64_t m = bits.u & ((1ULL << 52) - 1);
        int e = (int)((bits.u >> 52) & 0x7ff), nh = 13;
        const char *hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
        char *p = body;
        if (v == 0)
            e = 0;
        else if (e == 0)
            e = -1022;
        else
            e -= 1023;
        while (nh > 0 && !((m >> (4 * (13 - nh))) & 0xf))
            nh--;
        *p++ = '0';
        *p++ = upper ? 'X' : 'x';
        *p++ = (v != 0 && ((bits.u >> 52) & 0x7ff)) ? '1' : '0';
        if (nh || sp.hash)
            *p++ = '.';
        for (int i = 0; i < nh; i++)
            *p++ = hex[(m >> (48 - 4 * i)) & 0xf];
        blen = (size_t)(p - body);
        elen = (size_t)snprintf(exp_text, sizeof exp_text, "%c%+d", upper ? 'P' : 'p', e);
        emit(s, &sp, prefix, plen, 0, body, blen, exp_text, elen);
        return;
    }
    if (v == 0) {
        dig[0] = '0';
        nd = 1;
        dexp = 1;
    } else {
        nd = exact_digits(v, dig, &dexp);
    }
    if (conv == 'g') {
        int P = sp.prec == 0 ? 1 : sp.prec, X;
        if (v != 0)
            nd = round_digits(dig, nd, &dexp, P);
        X = dexp - 1;
        if (P > X && X >= -4) {
            conv = 'f';
            sp.prec = P - 1 - X;
        } else {
            conv = 'e';
            sp.prec = P - 1;
        }
        if (!sp.hash) {
            /* Drop trailing zeros: only `nd` significant digits remain. */
            int sig = nd;
            while (sig > 1 && dig[sig - 1] == '0')
                sig--;
            int frac_needed = conv == 'f' ? sig - dexp : sig - 1;
            if (frac_needed < 0)
                frac_needed = 0;
            if (frac_needed < sp.prec)
                sp.prec = frac_needed;
        }
    }
    if (conv == 'f') {
        if (v != 0)
            nd = round_digits(dig, nd, &dexp, dexp + sp.prec);
        if (dig[0] == '0' && nd == 1)
            dexp = 1;
        if (dexp <= 0)
            body[blen++] = '0';
        for (int i = 0; i < dexp; i++)
            body[blen++] = digit_at(dig, nd, i);
        if (sp.prec || sp.hash)
            body[blen++] = '.';
        for (int i = 0; i < sp.prec && blen < sizeof body - 1; i++)
            body[blen++] = digit_at(dig, nd, dexp + i);
        emit(s, &sp, prefix, plen, 0, body, blen, "", 0);
        return;
    }
    /* 'e' */
    if (v != 0)
        nd = round_digits(dig, nd, &dexp, sp.prec + 1);
    body[blen++] = dig[0];
    if (sp.prec || sp.hash)
        body[blen++] = '.';
    for (int i = 1; i <= sp.prec && blen < sizeof body; i++)
        body[blen++] = digit_at(dig, nd, i);
    {
        int e = v == 0 ? 0 : dexp - 1;
        char *p = exp_text;
        *p++ = upper ? 'E' : 'e';
        *p++ = e < 0 ? '-' : '+';
        if (e < 0)
            e = -e;
        if (e >= 100)
            *p++ = (char)('0' + e / 100);
        *p++ = (char)('0' + e / 10 % 10);
        *p++ = (char)('0' + e % 10);
        elen = (size_t)(p - exp_text);
    }
    emit(s, &sp, prefix, plen, 0, body, blen, exp_text, elen);
}

/* ---- the format loop -------------------------------------------------------- */

static int format(struct sink *s, const char *fmt, va_list ap)
{
    while (*fmt) {
        struct spec sp = {0};
        int len = 0;  /* 0 int, 1 char, 2 short, 3 long, 4 long long/intmax/size/ptrdiff, 5 long double */
        const char *start = fmt;
        if (*fmt != '%') {
            const char *next = strchr(fmt, '%');
            size_t n = next ? (size_t)(next - fmt) : strlen(fmt);
            out(s, fmt, n);
            fmt += n;
            continue;
        }
        fmt++;
        for (;; fmt++) {
            if (*fmt == '-') sp.minus = 1;
            else if (*fmt == '+') sp.plus = 1;
            else if (*fmt == ' ') sp.space = 1;
            else if (*fmt == '#') sp.hash = 1;
            else if (*fmt == '0') sp.zero = 1;
            else break;
        }
        if (*fmt == '*') {
            sp.width = va_arg(ap, int);
            if (sp.width < 0) {
                sp.minus = 1;
                sp.width = -sp.width;
            }
            fmt++;
        } else
            while (*fmt >= '0' && *fmt <= '9')
                sp.width = sp.width * 10 + (*fmt++ - '0');
        sp.prec = -1;
        if (*fmt == '.') {
            fmt++;
            sp.prec = 0;
            if (*fmt == '*') {
                sp.prec = va_arg(ap, int);
                if (sp.prec < 0)
                    sp.prec = -1;
                fmt++;
            } else
                while (*fmt >= '0' && *fmt <= '9')
                    sp.prec = sp.prec * 10 + (*fmt++ - '0');
        }
        if (sp.minus)
            sp.zero = 0;
        switch (*fmt) {
        case 'h': len = fmt[1] == 'h' ? (fmt++, 1) : 2; fmt++; break;
        case 'l': len = fmt[1] == 'l' ? (fmt++, 4) : 3; fmt++; break;
        case 'q': case 'j': case 'z': case 't': len = 4; fmt++; break;
        case 'L': len = 5; fmt++; break;
        }
        sp.conv = *fmt;
        switch (*fmt) {
        case 'd': case 'i': {
            intmax_t v;
            if (len == 3 || len == 4) v = va_arg(ap, long);
            else v = va_arg(ap, int);
            if (len == 1) v = (signed char)v;
            else if (len == 2) v = (short)v;
            fmt_int(s, sp, v < 0 ? -(uintmax_t)v : (uintmax_t)v, v < 0);
            break;
        }
        case 'u': case 'o': case 'x': case 'X': {
            uintmax_t v;
            if (len == 3 || len == 4) v = va_arg(ap, unsigned long);
            else v = va_arg(ap, unsigned int);
            if (len == 1) v = (unsigned char)v;
            else if (len == 2) v = (unsigned short)v;
            fmt_int(s, sp, v, 0);
            break;
        }
        case 'p':
            sp.hash = 1;
            fmt_int(s, sp, (uintptr_t)va_arg(ap, void *), 0);
            break;
        case 'c': {
            char c = (char)va_arg(ap, int);
            sp.zero = 0;
            emit(s, &sp, "", 0, 0, &c, 1, "", 0);
            break;
        }
        case 's': {
            const char *str = va_arg(ap, const char *);
            size_t n;
            if (!str)
                str = "(null)";
            n = sp.prec >= 0 ? strnlen(str, (size_t)sp.prec) : strlen(str);
            sp.zero = 0;
            emit(s, &sp, "", 0, 0, str, n, "", 0);
            break;
        }
        case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': case 'a': case 'A': {
            double v = len == 5 ? (double)va_arg(ap, long double) : va_arg(ap, double);
            fmt_float(s, sp, v);
            break;
        }
        case 'n': {
            void *p = va_arg(ap, void *);
            if (len == 1) *(signed char *)p = (signed char)s->count;
            else if (len == 2) *(short *)p = (short)s->count;
            else if (len >= 3) *(long *)p = (long)s->count;
            else *(int *)p = (int)s->count;
            break;
        }
        case '%':
            out(s, "%", 1);
            break;
        default:
            /* Unknown conversion: print it as written. */
            out(s, start, (size_t)(fmt - start) + (*fmt != 0));
            if (!*fmt)
                return (int)s->count;
        }
        fmt++;
    }
    return s->count > INT_MAX ? -1 : (int)s->count;
}

/* ---- sinks -------------------------------------------------------------------- */

static void put_file(struct sink *s, const char *p, size_t n)
{
    if (__stdio_write(s->file, p, n) != n)
        s->failed = 1;
}

static void put_buffer(struct sink *s, const char *p, size_t n)
{
    if (s->len + 1 < s->cap) {
        size_t room = s->cap - 1 - s->len;
        memcpy(s->buf + s->len, p, n < room ? n : room);
    }
    s->len += n;
}

/* dprintf gathers its output and writes it in as few write() calls as
 * possible (one for short output), so that a line reaches a pipe whole. */
static void flush_fd(struct sink *s)
{
    const char *p = s->buf;
    size_t n = s->len;
    while (n && !s->failed) {
        ssize_t w = write(s->fd, p, n);
        if (w <= 0) {
            s->failed = 1;
            break;
        }
        p += w;
        n -= (size_t)w;
    }
    s->len = 0;
}

static void put_fd(struct sink *s, const char *p, size_t n)
{
    while (n) {
        size_t room = s->cap - s->len, take = n < room ? n : room;
        memcpy(s->buf + s->len, p, take);
        s->len += take;
        p += take;
        n -= take;
        if (s->len == s->cap)
            flush_fd(s);
    }
}

static void put_grow(struct sink *s, const char *p, size_t n)
{
    if (s->failed)
        return;
    if (s->len + n + 1 > s->cap) {
        size_t want = (s->len + n + 1) * 2;
        char *grown = realloc(s->buf, want);
        if (!grown) {
            s->failed = 1;
            return;
        }
        s->buf = grown;
        s->cap = want;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

int vfprintf(FILE *restrict f, const char *restrict fmt, va_list ap)
{
    struct sink s = {.put = put_file, .file = f};
    int r;
    F_LOCK(f);
    r = format(&s, fmt, ap);
    F_UNLOCK(f);
    return s.failed ? -1 : r;
}

int vprintf(const char *restrict fmt, va_list ap) { return vfprintf(stdout, fmt, ap); }

int vsnprintf(char *restrict buf, size_t n, const char *restrict fmt, va_list ap)
{
    struct sink s = {.put = put_buffer, .buf = buf, .cap = n};
    int r = format(&s, fmt, ap);
    if (n)
        buf[s.len < n ? s.len : n - 1] = 0;
    return r;
}

int vsprintf(char *restrict buf, const char *restrict fmt, va_list ap)
{
    return vsnprintf(buf, (size_t)INT_MAX + 1, fmt, ap);
}

int vdprintf(int fd, const char *restrict fmt, va_list ap)
{
    char buf[1024];
    struct sink s = {.put = put_fd, .fd = fd, .buf = buf, .cap = sizeof buf};
    int r = format(&s, fmt, ap);
    flush_fd(&s);
    return s.failed ? -1 : r;
}

int vasprintf(char **restrict out_str, const char *restrict fmt, va_list ap)
{
    struct sink s = {.put = put_grow};
    int r = format(&s, fmt, ap);
    if (!s.failed && !s.buf)
        s.buf = malloc(1), s.failed = !s.buf;
    if (s.failed) {
        free(s.buf);
        *out_str = NULL;
        errno = ENOMEM;
        return -1;
    }
    s.buf[s.len] = 0;
    *out_str = s.buf;
    return r;
}

#define VARIADIC(call)           \
    int r;                       \
    va_list ap;                  \
    va_start(ap, fmt);           \
    r = call;                    \
    va_end(ap);                  \
    return r

int printf(const char *restrict fmt, ...) { VARIADIC(vfprintf(stdout, fmt, ap)); }
int fprintf(FILE *restrict f, const char *restrict fmt, ...) { VARIADIC(vfprintf(f, fmt, ap)); }
int dprintf(int fd, const char *restrict fmt, ...) { VARIADIC(vdprintf(fd, fmt, ap)); }
int sprintf(char *restrict buf, const char *restrict fmt, ...) { VARIADIC(vsprintf(buf, fmt, ap)); }
int snprintf(char *restrict buf, size_t n, const char *restrict fmt, ...) { VARIADIC(vsnprintf(buf, n, fmt, ap)); }
int asprintf(char **restrict out_str, const char *restrict fmt, ...) { VARIADIC(vasprintf(out_str, fmt, ap)); }
