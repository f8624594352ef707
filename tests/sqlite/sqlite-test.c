/*
 * sqlite-test.c - the guest test `sqlite` of the SQLite port
 * (cookbook/recipes/sqlite3): runs the `sqlite3` shell on databases in
 * files under /tmp and prints one line per check, `sqlite: ok NAME` or
 * `sqlite: FAIL NAME: why`; exit status 0 only when every check passed.
 *
 *   script     sqlite-test.sql (tables, an index, 10,000 rows in ten
 *              transactions, queries, update, delete, integrity check,
 *              PRAGMA mmap_size) on a new database: the output is the one
 *              below, line for line, and the status 0
 *   mmap       a shell kept running on that database with PRAGMA
 *              mmap_size=256 MiB, after a query that reads every row:
 *              sys:maps/PID has a shared read-only file mapping (`r--s
 *              fmap`) exactly the file's size, with pages resident (the
 *              rows were read through it); with PRAGMA mmap_size=0 the
 *              same query gives the same answer and the mapping is gone.
 *              Fails if SQLite silently fell back to read().
 *   wal        PRAGMA journal_mode=WAL; a reader shell opens a read
 *              transaction, a writer shell (another process) opens a write
 *              transaction and inserts 1000 rows: a third process does not
 *              see them and cannot write (database is locked: the WAL
 *              write lock is a real fcntl lock); both shells map the -shm
 *              file shared (`rw-s fmap` in both sys:maps); the writer
 *              commits 5 more transactions while the reader still sees its
 *              snapshot (100 rows); once the reader ends its transaction
 *              it sees all 1600; a checkpoint and the integrity check.
 *
 *   sqlite [SQLITE3 SCRIPT]   default initfs:bin/sqlite3 initfs:etc/sqlite-test.sql
 */
#define _GNU_SOURCE /* pipe2 in glibc, for trying the test on the host */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char expected_script[] =
    "268435456\n"
    "rows|10000|50005000|row-00001|row-10000\n"
    "k=7|10|753,1753,2753,3753,4753,5753,6753,7753,8753,9753\n"
    "QUERY PLAN\n"
    "`--SEARCH t USING COVERING INDEX t_k (k=?)\n"
    "totals|1000|10000|50005000|10|10\n"
    "join|10000\n"
    "updated|100\n"
    "deleted|100\n"
    "after|9900|89190|4950000\n"
    "top|321|999|row-00321\n"
    "top|1321|999|row-01321\n"
    "top|2321|999|row-02321\n"
    "ok\n"
    "268435456\n"
    "delete\n";

static const char *sqlite3 = "initfs:bin/sqlite3";
static int failed;
static char out[16384];
static char why[16640];

static void check(const char *name, int ok, const char *why)
{
    if (ok)
        printf("sqlite: ok %s\n", name);
    else {
        printf("sqlite: FAIL %s: %s\n", name, why);
        failed++;
    }
    fflush(stdout);
}

/* Forks `sqlite3 DB` with stdin from `in` (an fd) and stdout and stderr
 * into a pipe whose read end is returned in *from; the child's pid. Every
 * descriptor here is close-on-exec (dup2 clears it on 0, 1 and 2), so a
 * shell gets end-of-file once this process closes its end. */
static pid_t spawn(const char *db, int in, int *from)
{
    int p[2];
    pid_t pid;
    if (pipe2(p, O_CLOEXEC) != 0 || (pid = fork()) < 0)
        return -1;
    if (pid == 0) {
        if (dup2(in, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
            _exit(125);
        execv(sqlite3, (char *[]){(char *)sqlite3, (char *)db, NULL});
        _exit(126);
    }
    close(p[1]);
    *from = p[0];
    return pid;
}

static int wait_for(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return status;
}

/* Runs `sqlite3 DB` on the SQL in `sql` (text) or in the file `path`;
 * stdout and stderr into `out`; the wait status. */
static int run(const char *db, const char *path, const char *sql)
{
    int in, from, p[2] = {-1, -1};
    size_t got = 0;
    ssize_t n;
    pid_t pid;
    if (path)
        in = open(path, O_RDONLY | O_CLOEXEC);
    else {
        if (pipe2(p, O_CLOEXEC) != 0)
            return -1;
        in = p[0];
    }
    if (in < 0)
        return -1;
    pid = spawn(db, in, &from);
    close(in);
    if (pid < 0)
        return -1;
    if (!path) {
        /* Small scripts fit in the pipe's buffer. */
        if (write(p[1], sql, strlen(sql)) != (ssize_t)strlen(sql))
            return -1;
        close(p[1]);
    }
    while (got + 1 < sizeof out && (n = read(from, out + got, sizeof out - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = 0;
    close(from);
    return wait_for(pid);
}

/* A shell kept running: SQL goes in through `to`, its output comes out of
 * `from`. */
struct shell {
    pid_t pid;
    int to, from;
};

static int shell_start(struct shell *s, const char *db)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    s->pid = spawn(db, p[0], &s->from);
    close(p[0]);
    s->to = p[1];
    return s->pid < 0 ? -1 : 0;
}

/* Sends `sql` and `.print --done--`, then reads into `out` until the
 * marker (the shell flushes its output before reading each line), without
 * it; 0, or -1 if the shell ended first. The shell then waits for input,
 * with its connection and mappings as the statements left them. */
static int shell_ask(struct shell *s, const char *sql)
{
    static const char marker[] = "--done--\n";
    size_t got = 0, m = strlen(marker);
    ssize_t n;
    if (write(s->to, sql, strlen(sql)) < 0 || write(s->to, "\n.print --done--\n", 17) != 17)
        return -1;
    for (;;) {
        if (got >= m && strcmp(out + got - m, marker) == 0) {
            out[got - m] = 0;
            return 0;
        }
        if (got + 1 >= sizeof out || (n = read(s->from, out + got, sizeof out - 1 - got)) <= 0) {
            out[got] = 0;
            return -1;
        }
        got += (size_t)n;
        out[got] = 0;
    }
}

static int shell_end(struct shell *s)
{
    char buf[256];
    close(s->to);
    while (read(s->from, buf, sizeof buf) > 0)
        ;
    close(s->from);
    return wait_for(s->pid);
}

/* The shared file mappings of process `pid` in sys:maps/PID with
 * permissions `perms` (e.g. "r--s"): how many, and the length in bytes
 * and the resident pages of the largest. */
struct maps {
    int count;
    unsigned long bytes, resident;
};

static int shared_maps(pid_t pid, const char *perms, struct maps *m)
{
    char path[32], line[512], p[8], kind[256];
    unsigned long start, end, resident;
    FILE *f;
#ifdef __linux__
    /* To try the test on the host: /proc/PID/maps names the file, not
     * the kind, and not the resident pages (taken as all). */
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
#else
    snprintf(path, sizeof path, "sys:maps/%d", (int)pid);
#endif
    memset(m, 0, sizeof *m);
    if (!(f = fopen(path, "r")))
        return -1;
    while (fgets(line, sizeof line, f))
#ifdef __linux__
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &start, &end, p, kind) == 4 &&
            strcmp(p, perms) == 0 && strstr(kind, "/sqlite-test-") && (resident = (end - start) / 4096, 1)) {
#else
        if (sscanf(line, "%lx-%lx %7s %15s %lu", &start, &end, p, kind, &resident) == 5 &&
            strcmp(p, perms) == 0 && strcmp(kind, "fmap") == 0) {
#endif
            m->count++;
            if (end - start > m->bytes) {
                m->bytes = end - start;
                m->resident = resident;
            }
        }
    fclose(f);
    return 0;
}

static int exited_ok(int status)
{
    return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void script(const char *db, const char *path)
{

    int status = run(db, path, NULL);
    fputs(out, stdout);
    snprintf(why, sizeof why, "wait status %#x, output %s", status,
             strcmp(out, expected_script) == 0 ? "as expected" : "differs (above)");
    check("script", exited_ok(status) && strcmp(out, expected_script) == 0, why);
    if (strcmp(out, expected_script) != 0)
        printf("sqlite: expected:\n%s", expected_script);
}

static void mmap_check(const char *db)
{
    static const char query[] = "SELECT count(*), sum(length(v)), sum(k) FROM t;";
    static const char answer[] = "9900|89190|4950000\n";
    char sql[160];
    struct shell s;
    struct maps m;
    struct stat st;
    unsigned long size;

    if (stat(db, &st) != 0 || shell_start(&s, db) != 0) {
        check("mmap", 0, "cannot stat the database or start sqlite3");
        return;
    }
    size = (unsigned long)st.st_size;
    snprintf(sql, sizeof sql, "PRAGMA mmap_size=268435456;\n%s", query);
    if (shell_ask(&s, sql) != 0 || strcmp(out, "268435456\n9900|89190|4950000\n") != 0 ||
        shared_maps(s.pid, "r--s", &m) != 0) {
        snprintf(why, sizeof why, "query with mmap_size: \"%s\"", out);
        check("mmap", 0, why);
    } else {
        printf("sqlite: database %lu bytes; sys:maps: %d r--s fmap, %lu bytes, %lu pages resident\n",
               size, m.count, m.bytes, m.resident);
        snprintf(why, sizeof why, "no r--s fmap grant of the database's %lu bytes with pages resident", size);
        check("mmap", m.count == 1 && m.bytes == (size + 4095) / 4096 * 4096 && m.resident * 2 >= m.bytes / 4096,
              why);
    }
    /* The control: without mmap the answer is the same, and no mapping. */
    snprintf(sql, sizeof sql, "PRAGMA mmap_size=0;\n%s", query);
    if (shell_ask(&s, sql) != 0 || strncmp(out, "0\n", 2) != 0 || strcmp(out + 2, answer) != 0 ||
        shared_maps(s.pid, "r--s", &m) != 0) {
        snprintf(why, sizeof why, "query with mmap_size=0: \"%s\"", out);
        check("mmap-off", 0, why);
    } else {
        check("mmap-off", m.count == 0, "a shared file mapping is left after PRAGMA mmap_size=0");
    }
    check("mmap-shell-exit", exited_ok(shell_end(&s)), "the shell did not exit 0");
}

/* Asks `s` and compares with `want`; a check line. */
static void ask_check(const char *name, struct shell *s, const char *sql, const char *want)
{

    int rc = shell_ask(s, sql);
    snprintf(why, sizeof why, "got \"%s\", want \"%s\"", out, want);
    check(name, rc == 0 && strcmp(out, want) == 0, why);
}

static void wal(const char *db)
{
    char shm[96];
    struct shell reader, writer;
    struct maps mr, mw;
    struct stat st;
    int status, i;

    status = run(db, NULL,
                 "PRAGMA journal_mode=WAL;\n"
                 "CREATE TABLE w(id INTEGER PRIMARY KEY, x INTEGER NOT NULL);\n"
                 "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<100)\n"
                 "  INSERT INTO w SELECT i, i*2 FROM c;\n"
                 "SELECT count(*), sum(x) FROM w;\n");
    snprintf(why, sizeof why, "wait status %#x, output \"%s\"", status, out);
    check("wal-create", exited_ok(status) && strcmp(out, "wal\n100|10100\n") == 0, why);

    if (shell_start(&reader, db) != 0 || shell_start(&writer, db) != 0) {
        check("wal-shells", 0, "cannot start sqlite3");
        return;
    }
    /* The reader's snapshot: a read transaction with the first 100 rows. */
    ask_check("wal-reader-begin", &reader, "BEGIN; SELECT count(*), sum(x) FROM w;", "100|10100\n");
    /* The writer holds a write transaction open with 1000 rows in it. */
    ask_check("wal-writer-insert", &writer,
              "BEGIN IMMEDIATE;\n"
              "WITH RECURSIVE c(i) AS (SELECT 101 UNION ALL SELECT i+1 FROM c WHERE i<1100)\n"
              "  INSERT INTO w SELECT i, i*2 FROM c;\n"
              "SELECT count(*) FROM w;",
              "1100\n");
    status = run(db, NULL, "SELECT count(*) FROM w;\n");
    snprintf(why, sizeof why, "a third process: wait status %#x, \"%s\"", status, out);
    check("wal-uncommitted-invisible", exited_ok(status) && strcmp(out, "100\n") == 0, why);
    status = run(db, NULL, "PRAGMA busy_timeout=0;\nINSERT INTO w VALUES (5000, 0);\n");
    snprintf(why, sizeof why, "a second writer: wait status %#x, \"%s\"", status, out);
    check("wal-second-writer-locked",
          status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1 && strstr(out, "database is locked"), why);

    /* Both shells map the -shm file shared, read-write. */
    snprintf(shm, sizeof shm, "%s-shm", db);
    if (shared_maps(reader.pid, "rw-s", &mr) != 0 || shared_maps(writer.pid, "rw-s", &mw) != 0 || stat(shm, &st) != 0) {
        check("wal-shm-mapped", 0, "cannot read sys:maps or stat the -shm file");
    } else {
        printf("sqlite: %s %ld bytes; rw-s fmap: reader %d (%lu bytes), writer %d (%lu bytes)\n", shm,
               (long)st.st_size, mr.count, mr.bytes, mw.count, mw.bytes);
        check("wal-shm-mapped", mr.count >= 1 && mw.count >= 1 && mr.bytes >= 32768 && mw.bytes >= 32768,
              "the -shm file is not mapped rw-s by both shells");
    }

    ask_check("wal-writer-commit", &writer, "COMMIT;", "");
    /* The writer goes on committing while the reader keeps its snapshot. */
    for (i = 0; i < 5; i++) {
        char sql[200];
        snprintf(sql, sizeof sql,
                 "WITH RECURSIVE c(i) AS (SELECT %d UNION ALL SELECT i+1 FROM c WHERE i<%d)\n"
                 "  INSERT INTO w SELECT i, i*2 FROM c;\nSELECT count(*) FROM w;",
                 1101 + i * 100, 1200 + i * 100);
        snprintf(why, sizeof why, "%d\n", 1200 + i * 100);
        if (shell_ask(&writer, sql) != 0 || strcmp(out, why) != 0)
            break;
        if (shell_ask(&reader, "SELECT count(*), sum(x) FROM w;") != 0 || strcmp(out, "100|10100\n") != 0)
            break;
    }
    snprintf(why, sizeof why, "round %d: \"%s\"", i, out);
    check("wal-snapshot", i == 5, why);
    ask_check("wal-reader-sees-commits", &reader, "COMMIT; SELECT count(*), sum(x) FROM w;", "1600|2561600\n");
    ask_check("wal-checkpoint", &writer, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA integrity_check;", "0|0|0\nok\n");
    status = shell_end(&reader);
    check("wal-shells-exit", exited_ok(status) && exited_ok(shell_end(&writer)), "a shell did not exit 0");
    status = run(db, NULL, "PRAGMA journal_mode; SELECT count(*), sum(x), max(id) FROM w;\n");
    snprintf(why, sizeof why, "wait status %#x, \"%s\"", status, out);
    check("wal-reopen", exited_ok(status) && strcmp(out, "wal\n1600|2561600|1600\n") == 0, why);
}

int main(int argc, char **argv)
{
    const char *path = argc > 2 ? argv[2] : "initfs:etc/sqlite-test.sql";
    char dir[64], db[96];

    if (argc > 2)
        sqlite3 = argv[1];
    mkdir("/tmp", 0777);
    snprintf(dir, sizeof dir, "/tmp/sqlite-test-%d", (int)getpid());
    if (mkdir(dir, 0777) != 0) {
        printf("sqlite: FAIL mkdir %s: %s\n", dir, strerror(errno));
        return 1;
    }
    snprintf(db, sizeof db, "%s/test.db", dir);
    script(db, path);
    mmap_check(db);
    snprintf(db, sizeof db, "%s/wal.db", dir);
    wal(db);

    for (const char **f = (const char *[]){"test.db", "wal.db", "wal.db-wal", "wal.db-shm", NULL}; *f; f++) {
        snprintf(db, sizeof db, "%s/%s", dir, *f);
        unlink(db);
    }
    rmdir(dir);

    printf("sqlite: %s\n", failed ? "FAIL" : "ok");
    return failed ? 1 : 0;
}
