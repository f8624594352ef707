/*
 * scanf.c - the scanf family over one reader (a string or a FILE).
 *
 * Conversions: d i u o x X c s [ p n % and the floating-point e f g a
 * (through strtod); `*` suppression, widths, and the lengths hh h l ll j z
 * t L q. Returns the number of assignments, or EOF when input ends before
 * the first conversion.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stdio_impl.h"

struct reader {
    FILE *file;              /* or NULL: reading `str` */
    const unsigned char *str;
    size_t pos;
    size_t consumed;         /* for %n */
};

static int next(struct reader *r)
{
    int c;
    if (r->file)
        c = fgetc_unlocked(r->file);
    else
        c = r->str[r->pos] ? r->str[r->pos++] : EOF;
    if (c != EOF)
        r->consumed++;
    return c;
}

static void back(struct reader *r, int c)
{
    if (c == EOF)
        return;
    r->consumed--;
    if (r->file)
        ungetc(c, r->file);
    else
        r->pos--;
}

static void skip_space(struct reader *r)
{
    int c;
    while ((c = next(r)) != EOF && isspace(c))
        ;
    back(r, c);
}

/* Whether the input is used up (then a conversion is an input failure,
 * EOF, rather than a matching failure). */
static int at_end(struct reader *r)
{
    int c = next(r);
    back(r, c);
    return c == EOF;
}

static void store_int(void *p, int len, uintmax_t v)
{
    switch (len) {
    case 1: *(char *)p = (char)v; break;
    case 2: *(short *)p = (short)v; break;
    case 3: case 4: *(long *)p = (long)v; break;
    default: *(int *)p = (int)v;
    }
}

/* Collects the characters of a number into buf (at most width), in the
 * shape strtol/strtod accept; the count taken. */
static size_t collect_number(struct reader *r, char *buf, size_t width, int is_float, int base)
{
    size_t n = 0;
    int c, seen_e = 0, seen_dot = 0, prev = 0;
    if (width > 510)
        width = 510;
    while (n < width && (c = next(r)) != EOF) {
        size_t lead = n && (buf[0] == '+' || buf[0] == '-');
        int ok;
        if ((c == '+' || c == '-') &&
            (n == 0 || (is_float && (prev == 'e' || prev == 'E' || prev == 'p' || prev == 'P'))))
            ok = 1;
        else if ((c == 'x' || c == 'X') && n == lead + 1 && buf[lead] == '0' && (base == 0 || base == 16 || is_float)) {
            ok = 1;
            base = 16;
        } else if (is_float) {
            if (isdigit(c) || (base == 16 && isxdigit(c) && !seen_e))
                ok = 1;
            else if (c == '.' && !seen_dot && !seen_e)
                ok = seen_dot = 1;
            else if (!seen_e && (base == 16 ? (c == 'p' || c == 'P') : (c == 'e' || c == 'E')))
                ok = seen_e = 1;
            else
                ok = 0;
        } else {
            int b = base ? base : (n > lead && buf[lead] == '0') ? 8 : 10;
            ok = isdigit(c) ? c - '0' < b : (b > 10 && isalpha(c) && tolower(c) - 'a' + 10 < b);
        }
        if (!ok) {
            back(r, c);
            break;
        }
        buf[n++] = (char)c;
        prev = c;
    }
    buf[n] = 0;
    return n;
}

static int scan(struct reader *r, const char *fmt, va_list ap)
{
    int assigned = 0, any = 0;
    while (*fmt) {
        int suppress = 0, len = 0, c;
        size_t width = SIZE_MAX;
        void *dst = NULL;
        if (isspace((unsigned char)*fmt)) {
            skip_space(r);
            fmt++;
            continue;
        }
        if (*fmt != '%' || fmt[1] == '%') {
            if (*fmt == '%') {
                skip_space(r);
                fmt++;
            }
            c = next(r);
            if (c != (unsigned char)*fmt) {
                back(r, c);
                return c == EOF && !any ? EOF : assigned;
            }
            fmt++;
            continue;
        }
        fmt++;
        if (*fmt == '*') {
            suppress = 1;
            fmt++;
        }
        if (isdigit((unsigned char)*fmt)) {
            width = 0;
            while (isdigit((unsigned char)*fmt))
                width = width * 10 + (size_t)(*fmt++ - '0');
        }
        switch (*fmt) {
        case 'h': len = fmt[1] == 'h' ? (fmt++, 1) : 2; fmt++; break;
        case 'l': len = fmt[1] == 'l' ? (fmt++, 4) : 3; fmt++; break;
        case 'q': case 'j': case 'z': case 't': len = 4; fmt++; break;
        case 'L': len = 5; fmt++; break;
        }
        if (!suppress && *fmt != '%')
            dst = va_arg(ap, void *);
        switch (*fmt) {
        case 'n':
            if (dst)
                store_int(dst, len, r->consumed);
            fmt++;
            continue;
        case 'c': {
            size_t n = width == SIZE_MAX ? 1 : width;
            for (size_t i = 0; i < n; i++) {
                c = next(r);
                if (c == EOF)
                    return any ? assigned : EOF;
                if (dst)
                    ((char *)dst)[i] = (char)c;
            }
            break;
        }
        case 's': {
            size_t i = 0;
            skip_space(r);
            while (i < width && (c = next(r)) != EOF && !isspace(c)) {
                if (dst)
                    ((char *)dst)[i] = (char)c;
                i++;
            }
            if (i < width)
                back(r, c);
            if (i == 0)
                return any ? assigned : EOF;
            if (dst)
                ((char *)dst)[i] = 0;
            break;
        }
        case '[': {
            int negate = 0;
            unsigned char set[256] = {0};
            size_t i = 0;
            fmt++;
            if (*fmt == '^') {
                negate = 1;
                fmt++;
            }
            if (*fmt == ']')
                set[(unsigned char)*fmt++] = 1;
            for (; *fmt && *fmt != ']'; fmt++) {
                if (fmt[1] == '-' && fmt[2] && fmt[2] != ']') {
                    for (int ch = (unsigned char)fmt[0]; ch <= (unsigned char)fmt[2]; ch++)
                        set[ch] = 1;
                    fmt += 2;
                } else
                    set[(unsigned char)*fmt] = 1;
            }
            while (i < width && (c = next(r)) != EOF && set[c] != negate) {
                if (dst)
                    ((char *)dst)[i] = (char)c;
                i++;
            }
            if (i < width)
                back(r, c);
            if (i == 0)
                return any ? assigned : (c == EOF ? EOF : assigned);
            if (dst)
                ((char *)dst)[i] = 0;
            break;
        }
        case 'd': case 'i': case 'u': case 'o': case 'x': case 'X': case 'p': {
            char buf[512];
            int base = *fmt == 'o' ? 8 : (*fmt == 'x' || *fmt == 'X' || *fmt == 'p') ? 16 : *fmt == 'i' ? 0 : 10;
            skip_space(r);
            if (at_end(r))
                return any ? assigned : EOF;
            if (collect_number(r, buf, width, 0, base) == 0)
                return assigned;
            if (dst) {
                if (*fmt == 'p')
                    *(void **)dst = (void *)strtoul(buf, NULL, 16);
                else if (*fmt == 'd' || *fmt == 'i')
                    store_int(dst, len, (uintmax_t)strtoll(buf, NULL, base));
                else
                    store_int(dst, len, strtoull(buf, NULL, base));
            }
            break;
        }
        case 'e': case 'E': case 'f': case 'F': case 'g': case 'G': case 'a': case 'A': {
            char buf[512], *end;
            double v;
            skip_space(r);
            if (at_end(r))
                return any ? assigned : EOF;
            if (collect_number(r, buf, width, 1, 10) == 0)
                return assigned;
            v = strtod(buf, &end);
            if (end == buf)
                return assigned;
            if (dst) {
                if (len == 3) *(double *)dst = v;
                else if (len == 5) *(long double *)dst = v;
                else *(float *)dst = (float)v;
            }
            break;
        }
        default:
            return assigned;
        }
        any = 1;
        if (dst)
            assigned++;
        fmt++;
    }
    return assigned;
}

int vsscanf(const char *restrict s, const char *restrict fmt, va_list ap)
{
    struct reader r = {.str = (const unsigned char *)s};
    return scan(&r, fmt, ap);
}

int vfscanf(FILE *restrict f, const char *restrict fmt, va_list ap)
{
    struct reader r = {.file = f};
    int n;
    F_LOCK(f);
    n = scan(&r, fmt, ap);
    F_UNLOCK(f);
    return n;
}

int vscanf(const char *restrict fmt, va_list ap) { return vfscanf(stdin, fmt, ap); }

#define VARIADIC(call)           \
    int ret;                     \
    va_list ap;                  \
    va_start(ap, fmt);           \
    ret = call;                  \
    va_end(ap);                  \
    return ret

int sscanf(const char *restrict s, const char *restrict fmt, ...) { VARIADIC(vsscanf(s, fmt, ap)); }
int fscanf(FILE *restrict f, const char *restrict fmt, ...) { VARIADIC(vfscanf(f, fmt, ap)); }
int scanf(const char *restrict fmt, ...) { VARIADIC(vfscanf(stdin, fmt, ap)); }
