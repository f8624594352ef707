/*
 * bzip2-test.c - the guest test of the bzip2 port (cookbook/recipes/bzip2):
 * runs the `bzip2` program as a user at the shell would and checks what it
 * leaves behind, byte for byte.
 *
 * - `bzip2 -1 FILE` (three 100k blocks) replaces FILE by FILE.bz2, which
 *   starts with "BZh1" and is smaller; `bzip2 -t` accepts it; `bzip2 -d`
 *   gives FILE back with the same bytes and removes FILE.bz2;
 * - `bzip2 -c FILE > OUT` and `bzip2 -dc < OUT > BACK`: the same bytes;
 * - corrupted input is refused with exit status 2: a flipped byte (`-t`
 *   and `-d`, which also removes its partial output), a truncated file, a
 *   file that is not bzip2 at all; a missing input file is status 1.
 *
 *   bzip2-test [BZIP2]    default initfs:bin/bzip2
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/run.h"

#define DATA_LEN 300000

static unsigned char orig[DATA_LEN];
static unsigned char buf[DATA_LEN + 4096];
static char err[4096];
static int failed;

#define CHECK(cond, ...)                                                                                   \
    do {                                                                                                   \
        if (!(cond)) {                                                                                     \
            printf("bzip2-test: FAIL line %d: ", __LINE__);                                                \
            printf(__VA_ARGS__);                                                                           \
            printf("\n");                                                                                  \
            failed++;                                                                                      \
        }                                                                                                  \
    } while (0)

/* Runs argv with stdin from `in` and stdout into `out` (paths; NULL keeps
 * the test's own) and stderr into `err`; the wait status, or -1. */
static int run(char *const argv[], const char *in, const char *out)
{
    return run_capture(argv, in, out, 2, err, sizeof err);
}

static int exit_code(int status)
{
    return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The whole file into buf; its length, or -1. */
static long slurp(const char *path)
{
    long got = 0;
    ssize_t n;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    while (got < (long)sizeof buf && (n = read(fd, buf + got, sizeof buf - (size_t)got)) > 0)
        got += n;
    close(fd);
    return got;
}

static int spit(const char *path, const unsigned char *data, size_t len)
{
    size_t done = 0;
    ssize_t n;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    while (done < len && (n = write(fd, data + done, len - done)) > 0)
        done += (size_t)n;
    close(fd);
    return done == len ? 0 : -1;
}

static int same_as_orig(const char *path)
{
    long len = slurp(path);
    return len == DATA_LEN && memcmp(buf, orig, DATA_LEN) == 0;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Text-like data (words from a fixed generator) with runs of binary bytes:
 * compressible, but not trivially. */
static void make_data(void)
{
    static const char *words[] = {"tessera ", "scheme ", "grant ", "mapping ", "kernel ", "page ",
                                  "fault ",   "lender ", "\n",      "daemon ",  "bzip2 ",  "block "};
    unsigned int x = 12345;
    size_t i = 0;
    while (i < DATA_LEN) {
        x = x * 1103515245u + 12345u;
        if ((x >> 16) % 29 == 0) {
            for (int k = 0; k < 16 && i < DATA_LEN; k++) {
                x = x * 1103515245u + 12345u;
                orig[i++] = (unsigned char)(x >> 24);
            }
        } else {
            const char *w = words[(x >> 16) % 12];
            while (*w && i < DATA_LEN)
                orig[i++] = (unsigned char)*w++;
        }
    }
}

int main(int argc, char **argv)
{
    char *bzip2 = argc > 1 ? argv[1] : "initfs:bin/bzip2";
    char dir[64], data[96], data_bz2[96], copy_bz2[96], back[96], bad_bz2[96], bad[96], short_bz2[96],
        none_bz2[96];
    long len;
    int st;

    mkdir("/tmp", 0777);
    snprintf(dir, sizeof dir, "/tmp/bzip2-test-%d", (int)getpid());
    if (mkdir(dir, 0777) != 0) {
        printf("bzip2-test: FAIL mkdir %s: %s\n", dir, strerror(errno));
        return 1;
    }
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(data_bz2, sizeof data_bz2, "%s/data.bz2", dir);
    snprintf(copy_bz2, sizeof copy_bz2, "%s/copy.bz2", dir);
    snprintf(back, sizeof back, "%s/back", dir);
    snprintf(bad_bz2, sizeof bad_bz2, "%s/bad.bz2", dir);
    snprintf(bad, sizeof bad, "%s/bad", dir);
    snprintf(short_bz2, sizeof short_bz2, "%s/short.bz2", dir);
    snprintf(none_bz2, sizeof none_bz2, "%s/none.bz2", dir);
    make_data();
    if (spit(data, orig, DATA_LEN) != 0) {
        printf("bzip2-test: FAIL writing %s: %s\n", data, strerror(errno));
        return 1;
    }

    /* bzip2 FILE: FILE.bz2 in its place. */
    st = run((char *[]){bzip2, "-1", data, NULL}, NULL, NULL);
    CHECK(exit_code(st) == 0, "bzip2 -1 %s: wait status %#x, stderr \"%s\"", data, st, err);
    CHECK(!exists(data), "%s still there after compressing it", data);
    len = slurp(data_bz2);
    CHECK(len > 4 && len < DATA_LEN / 2 && memcmp(buf, "BZh1", 4) == 0, "%s: %ld bytes, starts %.4s", data_bz2,
          len, len > 4 ? (char *)buf : "");
    printf("bzip2-test: compressed %d bytes to %ld\n", DATA_LEN, len);

    st = run((char *[]){bzip2, "-t", data_bz2, NULL}, NULL, NULL);
    CHECK(exit_code(st) == 0, "bzip2 -t %s: wait status %#x, stderr \"%s\"", data_bz2, st, err);

    /* bzip2 -d FILE.bz2: FILE back, the same bytes. */
    st = run((char *[]){bzip2, "-d", data_bz2, NULL}, NULL, NULL);
    CHECK(exit_code(st) == 0, "bzip2 -d %s: wait status %#x, stderr \"%s\"", data_bz2, st, err);
    CHECK(!exists(data_bz2), "%s still there after decompressing it", data_bz2);
    CHECK(same_as_orig(data), "%s differs from what was compressed", data);
    printf("bzip2-test: file round trip ok\n");

    /* Through stdin and stdout. */
    st = run((char *[]){bzip2, "-c", data, NULL}, NULL, copy_bz2);
    CHECK(exit_code(st) == 0, "bzip2 -c: wait status %#x, stderr \"%s\"", st, err);
    CHECK(exists(data), "bzip2 -c removed its input");
    st = run((char *[]){bzip2, "-dc", NULL}, copy_bz2, back);
    CHECK(exit_code(st) == 0, "bzip2 -dc: wait status %#x, stderr \"%s\"", st, err);
    CHECK(same_as_orig(back), "bzip2 -dc gave other bytes");
    printf("bzip2-test: pipe round trip ok\n");

    /* A flipped byte in the middle: a CRC error, status 2. */
    len = slurp(copy_bz2);
    CHECK(len > 1000, "%s: %ld bytes", copy_bz2, len);
    if (len > 1000) {
        buf[len / 2] ^= 0x55;
        CHECK(spit(bad_bz2, buf, (size_t)len) == 0, "writing %s", bad_bz2);
        st = run((char *[]){bzip2, "-t", bad_bz2, NULL}, NULL, NULL);
        CHECK(exit_code(st) == 2, "bzip2 -t on a corrupted file: wait status %#x, stderr \"%s\"", st, err);
        st = run((char *[]){bzip2, "-d", bad_bz2, NULL}, NULL, NULL);
        CHECK(exit_code(st) == 2 && strstr(err, "integrity"),
              "bzip2 -d on a corrupted file: wait status %#x, stderr \"%s\"", st, err);
        CHECK(!exists(bad), "bzip2 -d left its partial output %s", bad);
        CHECK(exists(bad_bz2), "bzip2 -d removed its corrupted input");

        /* Cut short: "ends unexpectedly", status 2. */
        CHECK(spit(short_bz2, buf, 300) == 0, "writing %s", short_bz2);
        st = run((char *[]){bzip2, "-dc", short_bz2, NULL}, NULL, back);
        CHECK(exit_code(st) == 2 && strstr(err, "ends unexpectedly"),
              "bzip2 -dc on a truncated file: wait status %#x, stderr \"%s\"", st, err);
    }

    /* Not bzip2 at all. */
    st = run((char *[]){bzip2, "-dc", NULL}, data, back);
    CHECK(exit_code(st) == 2 && strstr(err, "not a bzip2 file"),
          "bzip2 -dc on plain data: wait status %#x, stderr \"%s\"", st, err);
    /* No such file: status 1. */
    st = run((char *[]){bzip2, "-d", none_bz2, NULL}, NULL, NULL);
    CHECK(exit_code(st) == 1 && strstr(err, "Can't open input file"),
          "bzip2 -d on a missing file: wait status %#x, stderr \"%s\"", st, err);
    printf("bzip2-test: corrupted and missing input refused\n");

    unlink(data);
    unlink(copy_bz2);
    unlink(back);
    unlink(bad_bz2);
    unlink(short_bz2);
    rmdir(dir);
    printf("bzip2-test: %s\n", failed ? "FAIL" : "ok");
    return failed ? 1 : 0;
}
