/*
 * mem.c - memcpy, memmove, memset, memcmp and strlen.
 *
 * Built with -ffreestanding (no builtins), so the compiler cannot turn
 * these loops back into calls to the functions themselves. Every other
 * part of libc (the Rust half included) calls these. Word-at-a-time for
 * the bulk, bytes for the edges; unaligned word access is fine on both
 * arches.
 */
#include <stddef.h>
#include <stdint.h>

typedef uint64_t __attribute__((may_alias, aligned(1))) word_t;

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n >= 32) {
        word_t a = ((const word_t *)s)[0], b = ((const word_t *)s)[1];
        word_t c = ((const word_t *)s)[2], e = ((const word_t *)s)[3];
        ((word_t *)d)[0] = a;
        ((word_t *)d)[1] = b;
        ((word_t *)d)[2] = c;
        ((word_t *)d)[3] = e;
        d += 32;
        s += 32;
        n -= 32;
    }
    while (n >= 8) {
        *(word_t *)d = *(const word_t *)s;
        d += 8;
        s += 8;
        n -= 8;
    }
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d == s || n == 0)
        return dst;
    if (d < s || d >= s + n)
        return memcpy(dst, src, n);
    /* Overlapping with dst above src: copy backwards. */
    d += n;
    s += n;
    while (n >= 8) {
        d -= 8;
        s -= 8;
        *(word_t *)d = *(const word_t *)s;
        n -= 8;
    }
    while (n--)
        *--d = *--s;
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    uint64_t w = (unsigned char)c * 0x0101010101010101ULL;
    while (n >= 32) {
        ((word_t *)d)[0] = w;
        ((word_t *)d)[1] = w;
        ((word_t *)d)[2] = w;
        ((word_t *)d)[3] = w;
        d += 32;
        n -= 32;
    }
    while (n >= 8) {
        *(word_t *)d = w;
        d += 8;
        n -= 8;
    }
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    while (n >= 8 && *(const word_t *)x == *(const word_t *)y) {
        x += 8;
        y += 8;
        n -= 8;
    }
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

size_t strlen(const char *s)
{
    const char *p = s;
    while (*p)
        p++;
    return (size_t)(p - s);
}
