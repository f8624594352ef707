/*
 * stdio.c - buffered streams over file descriptors: fopen and friends,
 * character and block I/O, seeking, and the flush at exit. The format
 * functions are in printf.c and scanf.c, popen in popen.c.
 *
 * Every stream has a recursive lock (flockfile); each call below takes it
 * for its duration, the *_unlocked forms (glibc's set) do not. The list of
 * open streams has a lock of its own, taken before any stream's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stdio_impl.h"

static unsigned char stdin_buf[BUFSIZ], stdout_buf[BUFSIZ];
static struct __tessera_file std_files[3] = {
    {.fd = 0, .flags = F_READ | F_STATIC, .bufmode = _IOFBF, .buf = stdin_buf, .cap = BUFSIZ, .ungot = EOF},
    {.fd = 1, .flags = F_WRITE | F_STATIC, .bufmode = -1, .buf = stdout_buf, .cap = BUFSIZ, .ungot = EOF},
    {.fd = 2, .flags = F_WRITE | F_STATIC, .bufmode = _IONBF, .ungot = EOF},
};
FILE *const stdin = &std_files[0];
FILE *const stdout = &std_files[1];
FILE *const stderr = &std_files[2];

/* Every stream not closed yet besides the three above, for exit's flush. */
static FILE *open_files;
static struct __tessera_lock list_lock;

void flockfile(FILE *f) { F_LOCK(f); }
int ftrylockfile(FILE *f) { return __tessera_trylock(&f->lock); }
void funlockfile(FILE *f) { F_UNLOCK(f); }

/* In a fork's child (called by fork): locks held by the forking thread
 * stay held, by its new id; the others are freed. */
void __stdio_after_fork(unsigned parent_tid)
{
    __tessera_lock_after_fork(&list_lock, parent_tid);
    for (int i = 0; i < 3; i++)
        __tessera_lock_after_fork(&std_files[i].lock, parent_tid);
    for (FILE *g = open_files; g; g = g->next)
        __tessera_lock_after_fork(&g->lock, parent_tid);
}

/* stdout is line-buffered on a terminal, fully buffered otherwise;
 * decided at the first write (POSIX's rule). */
static void decide_mode(FILE *f)
{
    if (f->bufmode < 0)
        f->bufmode = isatty(f->fd) ? _IOLBF : _IOFBF;
}

static int write_all(FILE *f, const unsigned char *p, size_t n)
{
    if (f->flags & F_APPEND)
        lseek(f->fd, 0, SEEK_END);
    while (n > 0) {
        ssize_t w = write(f->fd, p, n);
        if (w <= 0) {
            f->flags |= F_ERR;
            return EOF;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Flushes pending writes, or gives read-ahead back to the file. */
static int settle(FILE *f)
{
    if (f->wlen) {
        size_t n = f->wlen;
        f->wlen = 0;
        return write_all(f, f->buf, n);
    }
    if (f->rlen > f->rpos || f->ungot != EOF) {
        off_t back = (off_t)(f->rlen - f->rpos) + (f->ungot != EOF);
        /* Pipes and consoles cannot seek: their read-ahead stays lost. */
        lseek(f->fd, -back, SEEK_CUR);
    }
    f->rpos = f->rlen = 0;
    f->ungot = EOF;
    return 0;
}

int fflush_unlocked(FILE *f)
{
    if (!f)
        return fflush(NULL);
    if (f->wlen)
        return settle(f);
    return 0;
}

int fflush(FILE *f)
{
    int r;
    if (!f) {
        r = fflush(stdout) | fflush(stderr);
        __tessera_lock(&list_lock);
        for (FILE *g = open_files; g; g = g->next)
            r |= fflush(g);
        __tessera_unlock(&list_lock);
        return r ? EOF : 0;
    }
    F_LOCK(f);
    r = fflush_unlocked(f);
    F_UNLOCK(f);
    return r;
}

void __stdio_exit(void)
{
    fflush(NULL);
}

size_t __stdio_write(FILE *f, const void *data, size_t n)
{
    const unsigned char *p = data;
    if (!(f->flags & F_WRITE)) {
        f->flags |= F_ERR;
        errno = EBADF;
        return 0;
    }
    if (f->rlen || f->ungot != EOF)
        settle(f);
    decide_mode(f);
    if (f->bufmode == _IONBF || !f->buf) {
        return write_all(f, p, n) == 0 ? n : 0;
    }
    if (f->wlen + n > f->cap) {
        if (settle(f) != 0)
            return 0;
        if (n >= f->cap)
            return write_all(f, p, n) == 0 ? n : 0;
    }
    memcpy(f->buf + f->wlen, p, n);
    f->wlen += n;
    if (f->bufmode == _IOLBF && memchr(p, '\n', n))
        if (settle(f) != 0)
            return 0;
    return n;
}

/* Refills the read-ahead; 0 on success, EOF at end or on error. */
static int refill(FILE *f)
{
    ssize_t n;
    if (!(f->flags & F_READ)) {
        f->flags |= F_ERR;
        errno = EBADF;
        return EOF;
    }
    if (f->wlen && settle(f) != 0)
        return EOF;
    /* Reading stdin flushes a line-buffered stdout (a prompt shows). */
    if (f == stdin && stdout->bufmode == _IOLBF)
        fflush(stdout);
    n = read(f->fd, f->buf, f->cap);
    if (n <= 0) {
        f->flags |= n == 0 ? F_EOF : F_ERR;
        return EOF;
    }
    f->rpos = 0;
    f->rlen = (size_t)n;
    return 0;
}

int fgetc_unlocked(FILE *f)
{
    if (f->ungot != EOF) {
        int c = f->ungot;
        f->ungot = EOF;
        return c;
    }
    if (f->rpos == f->rlen && refill(f) != 0)
        return EOF;
    return f->buf[f->rpos++];
}

int fgetc(FILE *f)
{
    int c;
    F_LOCK(f);
    c = fgetc_unlocked(f);
    F_UNLOCK(f);
    return c;
}

int getc(FILE *f) { return fgetc(f); }
int getchar(void) { return fgetc(stdin); }
int getc_unlocked(FILE *f) { return fgetc_unlocked(f); }
int getchar_unlocked(void) { return fgetc_unlocked(stdin); }

int ungetc(int c, FILE *f)
{
    F_LOCK(f);
    if (c == EOF || f->ungot != EOF) {
        F_UNLOCK(f);
        return EOF;
    }
    if (f->wlen)
        settle(f);
    f->ungot = (unsigned char)c;
    f->flags &= ~F_EOF;
    F_UNLOCK(f);
    return (unsigned char)c;
}

size_t fread_unlocked(void *restrict ptr, size_t size, size_t count, FILE *restrict f)
{
    unsigned char *p = ptr;
    size_t want, got = 0;
    if (size == 0 || count == 0)
        return 0;
    want = size * count;
    if (f->ungot != EOF && want > 0) {
        p[got++] = (unsigned char)f->ungot;
        f->ungot = EOF;
    }
    while (got < want) {
        size_t avail = f->rlen - f->rpos;
        if (avail) {
            size_t take = avail < want - got ? avail : want - got;
            memcpy(p + got, f->buf + f->rpos, take);
            f->rpos += take;
            got += take;
            continue;
        }
        if (want - got >= f->cap) {
            /* Large reads bypass the buffer. */
            ssize_t n;
            if (f->wlen && settle(f) != 0)
                break;
            n = read(f->fd, p + got, want - got);
            if (n <= 0) {
                f->flags |= n == 0 ? F_EOF : F_ERR;
                break;
            }
            got += (size_t)n;
            continue;
        }
        if (refill(f) != 0)
            break;
    }
    return got / size;
}

size_t fread(void *restrict ptr, size_t size, size_t count, FILE *restrict f)
{
    size_t r;
    F_LOCK(f);
    r = fread_unlocked(ptr, size, count, f);
    F_UNLOCK(f);
    return r;
}

size_t fwrite_unlocked(const void *restrict ptr, size_t size, size_t count, FILE *restrict f)
{
    if (size == 0 || count == 0)
        return 0;
    return __stdio_write(f, ptr, size * count) / size;
}

size_t fwrite(const void *restrict ptr, size_t size, size_t count, FILE *restrict f)
{
    size_t r;
    F_LOCK(f);
    r = fwrite_unlocked(ptr, size, count, f);
    F_UNLOCK(f);
    return r;
}

int fputc_unlocked(int c, FILE *f)
{
    unsigned char b = (unsigned char)c;
    return __stdio_write(f, &b, 1) == 1 ? b : EOF;
}

int fputc(int c, FILE *f)
{
    int r;
    F_LOCK(f);
    r = fputc_unlocked(c, f);
    F_UNLOCK(f);
    return r;
}

int putc(int c, FILE *f) { return fputc(c, f); }
int putchar(int c) { return fputc(c, stdout); }
int putc_unlocked(int c, FILE *f) { return fputc_unlocked(c, f); }
int putchar_unlocked(int c) { return fputc_unlocked(c, stdout); }

int fputs_unlocked(const char *restrict s, FILE *restrict f)
{
    size_t n = strlen(s);
    return __stdio_write(f, s, n) == n ? 0 : EOF;
}

int fputs(const char *restrict s, FILE *restrict f)
{
    int r;
    F_LOCK(f);
    r = fputs_unlocked(s, f);
    F_UNLOCK(f);
    return r;
}

int puts(const char *s)
{
    int r = 0;
    F_LOCK(stdout);
    if (fputs_unlocked(s, stdout) == EOF || fputc_unlocked('\n', stdout) == EOF)
        r = EOF;
    F_UNLOCK(stdout);
    return r;
}

char *fgets_unlocked(char *restrict s, int size, FILE *restrict f)
{
    int i = 0, c = 0;
    if (size <= 0)
        return NULL;
    while (i < size - 1 && (c = fgetc_unlocked(f)) != EOF) {
        s[i++] = (char)c;
        if (c == '\n')
            break;
    }
    if (i == 0 && c == EOF)
        return NULL;
    s[i] = 0;
    return s;
}

char *fgets(char *restrict s, int size, FILE *restrict f)
{
    char *r;
    F_LOCK(f);
    r = fgets_unlocked(s, size, f);
    F_UNLOCK(f);
    return r;
}

static ssize_t getdelim_unlocked(char **restrict line, size_t *restrict cap, int delim, FILE *restrict f)
{
    size_t n = 0;
    int c;
    if (!line || !cap) {
        errno = EINVAL;
        return -1;
    }
    for (;;) {
        c = fgetc_unlocked(f);
        if (c == EOF && n == 0)
            return -1;
        if (n + 2 > *cap || !*line) {
            size_t want = *cap < 64 ? 128 : *cap * 2;
            char *grown = realloc(*line, want);
            if (!grown) {
                f->flags |= F_ERR;
                return -1;
            }
            *line = grown;
            *cap = want;
        }
        if (c == EOF)
            break;
        (*line)[n++] = (char)c;
        if (c == delim)
            break;
    }
    (*line)[n] = 0;
    return (ssize_t)n;
}

ssize_t getdelim(char **restrict line, size_t *restrict cap, int delim, FILE *restrict f)
{
    ssize_t r;
    F_LOCK(f);
    r = getdelim_unlocked(line, cap, delim, f);
    F_UNLOCK(f);
    return r;
}

ssize_t getline(char **restrict line, size_t *restrict cap, FILE *restrict f)
{
    return getdelim(line, cap, '\n', f);
}

/* open(2) flags for an fopen mode; -1 if the mode is invalid. */
static int mode_flags(const char *mode, int *stream_flags)
{
    int flags;
    switch (mode[0]) {
    case 'r': flags = O_RDONLY; *stream_flags = F_READ; break;
    case 'w': flags = O_WRONLY | O_CREAT | O_TRUNC; *stream_flags = F_WRITE; break;
    case 'a': flags = O_WRONLY | O_CREAT | O_APPEND; *stream_flags = F_WRITE | F_APPEND; break;
    default: return -1;
    }
    for (const char *m = mode + 1; *m; m++) {
        if (*m == '+') {
            flags = (flags & ~O_ACCMODE) | O_RDWR;
            *stream_flags |= F_READ | F_WRITE;
        } else if (*m == 'x') {
            flags |= O_EXCL;
        } else if (*m == 'e') {
            flags |= O_CLOEXEC;
        }
    }
    return flags;
}

static FILE *new_stream(int fd, int stream_flags)
{
    FILE *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->buf = malloc(BUFSIZ);
    if (!f->buf) {
        free(f);
        return NULL;
    }
    f->fd = fd;
    f->flags = stream_flags | F_OWNBUF;
    f->bufmode = -1;
    f->cap = BUFSIZ;
    f->ungot = EOF;
    __stdio_link(f);
    return f;
}

void __stdio_link(FILE *f)
{
    __tessera_lock(&list_lock);
    f->next = open_files;
    open_files = f;
    __tessera_unlock(&list_lock);
}

FILE *fopen(const char *restrict path, const char *restrict mode)
{
    int stream_flags, fd, flags = mode_flags(mode, &stream_flags);
    FILE *f;
    if (flags < 0) {
        errno = EINVAL;
        return NULL;
    }
    fd = open(path, flags, 0666);
    if (fd < 0)
        return NULL;
    f = new_stream(fd, stream_flags);
    if (!f)
        close(fd);
    return f;
}

FILE *fdopen(int fd, const char *mode)
{
    int stream_flags;
    if (mode_flags(mode, &stream_flags) < 0) {
        errno = EINVAL;
        return NULL;
    }
    return new_stream(fd, stream_flags);
}

FILE *freopen(const char *restrict path, const char *restrict mode, FILE *restrict f)
{
    int stream_flags, fd, flags = mode_flags(mode, &stream_flags);
    FILE *r = NULL;
    F_LOCK(f);
    fflush_unlocked(f);
    if (flags < 0 || !path) {
        errno = flags < 0 ? EINVAL : ENOSYS;
        goto out;
    }
    fd = open(path, flags, 0666);
    if (fd < 0)
        goto out;
    if (dup2(fd, f->fd) < 0) {
        close(fd);
        goto out;
    }
    close(fd);
    f->flags = (f->flags & (F_OWNBUF | F_STATIC)) | stream_flags;
    f->rpos = f->rlen = f->wlen = 0;
    f->ungot = EOF;
    r = f;
out:
    F_UNLOCK(f);
    return r;
}

int fclose(FILE *f)
{
    int r = fflush(f);
    if (close(f->fd) != 0)
        r = EOF;
    if (f->flags & F_STATIC)
        return r;
    __tessera_lock(&list_lock);
    for (FILE **p = &open_files; *p; p = &(*p)->next)
        if (*p == f) {
            *p = f->next;
            break;
        }
    __tessera_unlock(&list_lock);
    if (f->flags & F_OWNBUF)
        free(f->buf);
    free(f);
    return r;
}

int fileno_unlocked(FILE *f) { return f->fd; }
int feof_unlocked(FILE *f) { return !!(f->flags & F_EOF); }
int ferror_unlocked(FILE *f) { return !!(f->flags & F_ERR); }
void clearerr_unlocked(FILE *f) { f->flags &= ~(F_EOF | F_ERR); }
/* One int read or written: the lock would order nothing. */
int fileno(FILE *f) { return f->fd; }
int feof(FILE *f) { return !!(f->flags & F_EOF); }
int ferror(FILE *f) { return !!(f->flags & F_ERR); }

void clearerr(FILE *f)
{
    F_LOCK(f);
    clearerr_unlocked(f);
    F_UNLOCK(f);
}

int setvbuf(FILE *restrict f, char *restrict buf, int mode, size_t size)
{
    if (mode != _IOFBF && mode != _IOLBF && mode != _IONBF) {
        errno = EINVAL;
        return -1;
    }
    F_LOCK(f);
    fflush_unlocked(f);
    if (buf && size) {
        if (f->flags & F_OWNBUF)
            free(f->buf);
        f->flags &= ~F_OWNBUF;
        f->buf = (unsigned char *)buf;
        f->cap = size;
    }
    f->bufmode = mode;
    F_UNLOCK(f);
    return 0;
}

void setbuf(FILE *restrict f, char *restrict buf)
{
    setvbuf(f, buf, buf ? _IOFBF : _IONBF, BUFSIZ);
}

int fseeko(FILE *f, off_t offset, int whence)
{
    int r = -1;
    F_LOCK(f);
    if (settle(f) == 0 && lseek(f->fd, offset, whence) >= 0) {
        f->flags &= ~F_EOF;
        r = 0;
    }
    F_UNLOCK(f);
    return r;
}

int fseek(FILE *f, long offset, int whence) { return fseeko(f, offset, whence); }

off_t ftello(FILE *f)
{
    off_t pos;
    F_LOCK(f);
    pos = lseek(f->fd, 0, SEEK_CUR);
    if (pos >= 0)
        pos = pos - (off_t)(f->rlen - f->rpos) - (f->ungot != EOF) + (off_t)f->wlen;
    F_UNLOCK(f);
    return pos < 0 ? -1 : pos;
}

long ftell(FILE *f) { return ftello(f); }
void rewind(FILE *f) { fseek(f, 0, SEEK_SET); clearerr(f); }

int fgetpos(FILE *restrict f, fpos_t *restrict pos)
{
    off_t p = ftello(f);
    if (p < 0)
        return -1;
    *pos = p;
    return 0;
}

int fsetpos(FILE *f, const fpos_t *pos) { return fseek(f, *pos, SEEK_SET); }

void perror(const char *s)
{
    int e = errno;
    if (s && *s) {
        fputs(s, stderr);
        fputs(": ", stderr);
    }
    fputs(strerror(e), stderr);
    fputc('\n', stderr);
}

int remove(const char *path)
{
    if (unlink(path) == 0)
        return 0;
    if (errno == EISDIR)
        return rmdir(path);
    return -1;
}

/* A scratch file under /tmp, removed at once (it lives while open). */
FILE *tmpfile(void)
{
    char name[] = "/tmp/tmpfileXXXXXX";
    int fd;
    FILE *f;
    mkdir("/tmp", 0777);
    fd = mkstemp(name);
    if (fd < 0)
        return NULL;
    unlink(name);
    f = fdopen(fd, "w+");
    if (!f)
        close(fd);
    return f;
}

char *tmpnam(char *s)
{
    static char internal[L_tmpnam];
    char *out = s ? s : internal;
    strcpy(out, "/tmp/tmpnamXXXXXX");
    mktemp(out);
    return out[0] ? out : NULL;
}
