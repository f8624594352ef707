/*
 * t_file.c - file descriptors, stdio streams, directories, pipes and fcntl.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctest.h"

static const char *t_record_locks(void);

static const char *t_file_read_write(void)
{
    static unsigned char data[10000], back[10000];
    const char *path = scratch("rw.dat");
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(fd >= 0);
    for (int i = 0; i < 10000; i++)
        data[i] = (unsigned char)(i * 13);
    CHECK(write(fd, data, sizeof data) == (ssize_t)sizeof data);
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    CHECK(read(fd, back, sizeof back) == (ssize_t)sizeof back && memcmp(data, back, sizeof data) == 0);
    CHECK(read(fd, back, 1) == 0);
    CHECK(lseek(fd, 5000, SEEK_SET) == 5000 && read(fd, back, 10) == 10 && memcmp(back, data + 5000, 10) == 0);
    CHECK(close(fd) == 0 && unlink(path) == 0);
    return NULL;
}

static const char *t_lseek_ftruncate_fstat(void)
{
    const char *path = scratch("trunc.dat");
    char buf[100];
    struct stat st;
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(fd >= 0);
    memset(buf, 'z', sizeof buf);
    CHECK(write(fd, buf, 100) == 100);
    CHECK(fstat(fd, &st) == 0 && st.st_size == 100 && S_ISREG(st.st_mode));
    CHECK(lseek(fd, 0, SEEK_END) == 100 && lseek(fd, -10, SEEK_CUR) == 90);
    CHECK(ftruncate(fd, 50) == 0 && fstat(fd, &st) == 0 && st.st_size == 50);
    CHECK(ftruncate(fd, 8192) == 0 && stat(path, &st) == 0 && st.st_size == 8192);
    CHECK(lseek(fd, 4000, SEEK_SET) == 4000 && read(fd, buf, 10) == 10);
    for (int i = 0; i < 10; i++)
        CHECK(buf[i] == 0);
    CHECK(lseek(fd, 49, SEEK_SET) == 49 && read(fd, buf, 2) == 2 && buf[0] == 'z' && buf[1] == 0);
    CHECK(fsync(fd) == 0 && close(fd) == 0 && unlink(path) == 0);
    return NULL;
}

static const char *t_unlink_enoent(void)
{
    const char *path = scratch("gone.dat");
    struct stat st;
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0 && close(fd) == 0);
    CHECK(access(path, F_OK) == 0);
    CHECK(unlink(path) == 0);
    errno = 0;
    CHECK(open(path, O_RDONLY) == -1 && errno == ENOENT);
    CHECK(stat(path, &st) == -1 && errno == ENOENT);
    CHECK(unlink(path) == -1 && errno == ENOENT);
    CHECK(access(path, F_OK) == -1);
    fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
    CHECK(fd >= 0 && close(fd) == 0);
    CHECK(open(path, O_CREAT | O_EXCL | O_WRONLY, 0644) == -1 && errno == EEXIST);
    CHECK(unlink(path) == 0);
    return NULL;
}

static const char *t_stdio_text(void)
{
    const char *path = scratch("text.txt");
    char line[64];
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    CHECK(fprintf(f, "line %d\n", 1) == 7);
    CHECK(fputs("second\n", f) >= 0 && fputc('3', f) == '3' && fputc('\n', f) == '\n');
    CHECK(fclose(f) == 0);
    f = fopen(path, "r");
    CHECK(f != NULL);
    CHECK(fgets(line, sizeof line, f) && strcmp(line, "line 1\n") == 0);
    CHECK(fgets(line, sizeof line, f) && strcmp(line, "second\n") == 0);
    CHECK(fgetc(f) == '3' && ungetc('3', f) == '3' && fgetc(f) == '3' && fgetc(f) == '\n');
    CHECK(fgetc(f) == EOF && feof(f) && !ferror(f));
    CHECK(fgets(line, sizeof line, f) == NULL);
    CHECK(fclose(f) == 0 && remove(path) == 0);
    return NULL;
}

static const char *t_stdio_binary_seek(void)
{
    const char *path = scratch("bin.dat");
    int v[3000], w[100];
    FILE *f = fopen(path, "w+");
    CHECK(f != NULL);
    for (int i = 0; i < 3000; i++)
        v[i] = i * i;
    CHECK(fwrite(v, sizeof v[0], 3000, f) == 3000);
    CHECK(ftell(f) == (long)sizeof v);
    CHECK(fseek(f, 1000 * sizeof v[0], SEEK_SET) == 0 && fread(w, sizeof w[0], 100, f) == 100);
    CHECK(memcmp(w, v + 1000, sizeof w) == 0 && ftell(f) == 1100 * (long)sizeof v[0]);
    CHECK(fseek(f, -4, SEEK_END) == 0 && fread(w, 4, 1, f) == 1 && w[0] == v[2999]);
    CHECK(fread(w, 4, 1, f) == 0 && feof(f));
    rewind(f);
    CHECK(!feof(f) && fread(w, 4, 2, f) == 2 && w[1] == 1);
    /* Writing after reading, at the current position. */
    CHECK(fseek(f, 0, SEEK_CUR) == 0 && fwrite(&v[0], 4, 1, f) == 1 && ftell(f) == 12);
    CHECK(fclose(f) == 0 && unlink(path) == 0);
    return NULL;
}

static const char *t_stdio_append_getline(void)
{
    const char *path = scratch("append.txt");
    char *line = NULL;
    size_t cap = 0;
    FILE *f = fopen(path, "w");
    CHECK(f && fputs("one\n", f) >= 0 && fclose(f) == 0);
    f = fopen(path, "a");
    CHECK(f && fputs("two\nthree", f) >= 0 && fclose(f) == 0);
    f = fopen(path, "r");
    CHECK(f != NULL);
    CHECK(getline(&line, &cap, f) == 4 && strcmp(line, "one\n") == 0);
    CHECK(getline(&line, &cap, f) == 4 && strcmp(line, "two\n") == 0);
    CHECK(getline(&line, &cap, f) == 5 && strcmp(line, "three") == 0);
    CHECK(getline(&line, &cap, f) == -1);
    free(line);
    CHECK(fclose(f) == 0 && unlink(path) == 0);
    return NULL;
}

static const char *t_directories(void)
{
    const char *dir = scratch("dir"), *names[] = {"a", "bb", "ccc"};
    char path[256], path2[256];
    int seen = 0, fd;
    struct stat st;
    DIR *d;
    struct dirent *e;
    CHECK(mkdir(dir, 0755) == 0);
    CHECK(mkdir(dir, 0755) == -1 && errno == EEXIST);
    CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        fd = open(path, O_CREAT | O_WRONLY, 0644);
        CHECK(fd >= 0 && close(fd) == 0);
    }
    d = opendir(dir);
    CHECK(d != NULL);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        for (int i = 0; i < 3; i++)
            if (strcmp(e->d_name, names[i]) == 0) {
                CHECK(e->d_type == DT_REG || e->d_type == DT_UNKNOWN);
                seen |= 1 << i;
            }
    }
    CHECK(seen == 7 && closedir(d) == 0);
    snprintf(path, sizeof path, "%s/a", dir);
    snprintf(path2, sizeof path2, "%s/z", dir);
    CHECK(rename(path, path2) == 0 && stat(path2, &st) == 0 && stat(path, &st) == -1 && errno == ENOENT);
    CHECK(rmdir(dir) == -1 && (errno == ENOTEMPTY || errno == EEXIST));
    CHECK(unlink(path2) == 0);
    for (int i = 1; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        CHECK(unlink(path) == 0);
    }
    CHECK(rmdir(dir) == 0 && opendir(dir) == NULL && errno == ENOENT);
    return NULL;
}

static const char *t_pipe_dup(void)
{
    int p[2], copy;
    char buf[16] = "";
    CHECK(pipe(p) == 0);
    CHECK(write(p[1], "ping", 4) == 4 && read(p[0], buf, sizeof buf) == 4 && memcmp(buf, "ping", 4) == 0);
    copy = dup(p[1]);
    CHECK(copy >= 0 && copy != p[1]);
    CHECK(write(copy, "dup", 3) == 3 && read(p[0], buf, sizeof buf) == 3 && memcmp(buf, "dup", 3) == 0);
    CHECK(dup2(p[1], 40) == 40 && write(40, "x", 1) == 1 && read(p[0], buf, 1) == 1 && buf[0] == 'x');
    CHECK(close(40) == 0 && close(copy) == 0 && close(p[1]) == 0);
    CHECK(read(p[0], buf, sizeof buf) == 0);
    CHECK(close(p[0]) == 0);
    return NULL;
}

static const char *t_fcntl(void)
{
    const char *path = scratch("fcntl.dat");
    int fd = open(path, O_CREAT | O_RDWR, 0644), copy;
    CHECK(fd >= 0);
    CHECK(fcntl(fd, F_GETFD) == 0);
    CHECK(fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC);
    CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);
    copy = fcntl(fd, F_DUPFD, 20);
    CHECK(copy >= 20 && fcntl(copy, F_GETFD) == 0);
    CHECK(close(copy) == 0 && close(fd) == 0 && unlink(path) == 0);
    CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF);
    fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    CHECK(fd >= 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC && close(fd) == 0 && unlink(path) == 0);
    return NULL;
}

static const char *t_pread_pwrite_isatty(void)
{
    const char *path = scratch("pio.dat");
    char buf[8];
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, "0123456789", 10) == 10);
    CHECK(pread(fd, buf, 3, 4) == 3 && memcmp(buf, "456", 3) == 0 && lseek(fd, 0, SEEK_CUR) == 10);
    CHECK(pwrite(fd, "ab", 2, 1) == 2 && pread(fd, buf, 4, 0) == 4 && memcmp(buf, "0ab3", 4) == 0);
    CHECK(isatty(fd) == 0);
    CHECK(close(fd) == 0 && unlink(path) == 0);
    return NULL;
}

const struct test file_tests[] = {
    {"file-read-write", t_file_read_write},
    {"lseek-ftruncate-fstat", t_lseek_ftruncate_fstat},
    {"unlink-enoent-excl", t_unlink_enoent},
    {"stdio-text", t_stdio_text},
    {"stdio-binary-seek", t_stdio_binary_seek},
    {"stdio-append-getline", t_stdio_append_getline},
    {"directories", t_directories},
    {"pipe-dup", t_pipe_dup},
    {"fcntl", t_fcntl},
    {"pread-pwrite-isatty", t_pread_pwrite_isatty},
    {"record-locks", t_record_locks},
    {NULL, NULL},
};

static int set_lock(int fd, int cmd, short type, off_t start, off_t len)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &fl);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The other process of t_record_locks: sees the parent's lock, takes what
 * does not conflict, then waits (F_SETLKW) for the parent's release.
 * Exits with the number of the failed check, 0 if all held. */
static void lock_child(const char *path, pid_t parent, int ready, int go)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 10};
    char c;
    int fd = open(path, O_RDWR);
    if (fd < 0)
        _exit(20);
    errno = 0;
    if (set_lock(fd, F_SETLK, F_WRLCK, 50, 10) != -1 || (errno != EAGAIN && errno != EACCES))
        _exit(21);
    if (set_lock(fd, F_SETLK, F_RDLCK, 50, 10) != -1)       /* a reader conflicts with a writer */
        _exit(22);
    if (fcntl(fd, F_GETLK, &fl) != 0 || fl.l_type != F_WRLCK || fl.l_pid != parent || fl.l_start != 0 ||
        fl.l_len != 100)
        _exit(23);
    if (set_lock(fd, F_SETLK, F_WRLCK, 100, 0) != 0)         /* from 100 to EOF: free */
        _exit(24);
    if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 1)
        _exit(25);
    long before = now_ms();
    if (set_lock(fd, F_SETLKW, F_WRLCK, 0, 10) != 0)         /* waits for the parent */
        _exit(26);
    if (now_ms() - before < 50)
        _exit(27);
    _exit(0);
}

/* fcntl record locks between two processes: conflicts (F_SETLK EAGAIN),
 * F_GETLK naming the holder, F_SETLKW waiting until the holder's release,
 * locks dropped at exit and when any descriptor of the file is closed,
 * kept across stat and access of the file (none taken through an O_STAT
 * descriptor on Tessera);
 * EBADF for a write lock through a read-only descriptor, EINVAL for a bad
 * type. */
static const char *t_record_locks(void)
{
    const char *path = scratch("locks.dat");
    int to_parent[2], to_child[2], st;
    char c;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, "0123456789", 10) == 10);
    CHECK(pipe(to_parent) == 0 && pipe(to_child) == 0);
    CHECK(set_lock(fd, F_SETLK, F_WRLCK, 0, 100) == 0);
    CHECK(set_lock(fd, F_SETLK, F_WRLCK, 0, 100) == 0);      /* again: one's own lock */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        lock_child(path, getppid(), to_parent[1], to_child[0]);
    CHECK(read(to_parent[0], &c, 1) == 1);
    /* The child holds [100, EOF): ours conflicts there. */
    CHECK(fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_WRLCK && fl.l_pid == pid && fl.l_start == 100 &&
          fl.l_len == 0);
    CHECK(write(to_child[1], "g", 1) == 1);
    struct timespec pause = {0, 200 * 1000000};
    nanosleep(&pause, NULL);
    CHECK(set_lock(fd, F_SETLK, F_UNLCK, 0, 100) == 0);      /* the waiting child gets it */
    st = wait_for(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* The child's locks went with it. */
    fl.l_type = F_WRLCK, fl.l_start = 0, fl.l_len = 0;
    CHECK(fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_UNLCK);
    /* stat and access of the locked file close no descriptor of ours: the
     * lock stays (libc's probe opens are O_STAT on Tessera). */
    struct stat sb;
    CHECK(set_lock(fd, F_SETLK, F_WRLCK, 0, 5) == 0);
    CHECK(stat(path, &sb) == 0 && sb.st_size == 10 && access(path, F_OK) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int mine = open(path, O_RDWR);
        _exit(mine >= 0 && set_lock(mine, F_SETLK, F_WRLCK, 0, 5) == -1 ? 0 : 1);
    }
    st = wait_for(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(set_lock(fd, F_SETLK, F_UNLCK, 0, 5) == 0);
    /* Closing another descriptor of the file drops our locks (POSIX). */
    int other = open(path, O_RDONLY);
    CHECK(other >= 0 && set_lock(fd, F_SETLK, F_WRLCK, 0, 5) == 0);
    CHECK(close(other) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int mine = open(path, O_RDWR);
        _exit(mine >= 0 && set_lock(mine, F_SETLK, F_WRLCK, 0, 5) == 0 ? 0 : 1);
    }
    st = wait_for(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* Errors. */
    int reader = open(path, O_RDONLY);
    CHECK(reader >= 0);
    errno = 0;
    CHECK(set_lock(reader, F_SETLK, F_WRLCK, 0, 1) == -1 && errno == EBADF);
    CHECK(set_lock(reader, F_SETLK, F_RDLCK, 0, 1) == 0);
#ifdef O_STAT
    /* Tessera: a descriptor for looking (stat's) takes no locks. */
    int probe = open(path, O_RDONLY | O_STAT);
    errno = 0;
    CHECK(probe >= 0 && set_lock(probe, F_SETLK, F_RDLCK, 0, 1) == -1 && errno == EBADF && close(probe) == 0);
#endif
    errno = 0;
    CHECK(set_lock(fd, F_SETLK, 7, 0, 1) == -1 && errno == EINVAL);
    errno = 0;
    fl.l_type = F_UNLCK;
    CHECK(fcntl(fd, F_GETLK, &fl) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(set_lock(fd, F_SETLK, F_WRLCK, -5, 1) == -1 && errno == EINVAL);
    CHECK(close(reader) == 0 && close(fd) == 0 && unlink(path) == 0);
    CHECK(close(to_parent[0]) == 0 && close(to_parent[1]) == 0);
    CHECK(close(to_child[0]) == 0 && close(to_child[1]) == 0);
    return NULL;
}
