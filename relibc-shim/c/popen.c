/*
 * popen.c - commands run by the shell: popen, pclose, system.
 *
 * The shell is Tessera's sh (programs/sh), run as `sh -c COMMAND` with the
 * caller's environment: /bin/sh if the root filesystem has one, else the
 * initfs's, /scheme/initfs/bin/sh. popen connects the child's stdout
 * ("r") or stdin ("w") to a pipe whose other end becomes the stream; the
 * child closes the streams of earlier popens (POSIX), and exits 127 when
 * no shell could be started. pclose closes the stream, waits for the
 * child and returns its wait status. system waits likewise; no signal is
 * ignored or blocked meanwhile (signals have no handlers here anyway).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stdio_impl.h"

static const char *const shells[] = {"/bin/sh", "/scheme/initfs/bin/sh"};

/* The streams popen made and not yet closed, with their children. */
struct child {
    FILE *f;
    pid_t pid;
    struct child *next;
};
static struct child *children;
static struct __tessera_lock children_lock;

/* In the child: runs COMMAND with the first shell that exists. */
static _Noreturn void run_shell(const char *command)
{
    char *argv[] = {"sh", "-c", (char *)command, NULL};
    for (size_t i = 0; i < sizeof shells / sizeof shells[0]; i++)
        execve(shells[i], argv, environ);
    _exit(127);
}

static int wait_child(pid_t pid)
{
    int status;
    pid_t r;
    do
        r = waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -1 : status;
}

FILE *popen(const char *command, const char *mode)
{
    int p[2], reading, mine, theirs;
    struct child *c;
    FILE *f;
    pid_t pid;

    if (!command || !mode || (mode[0] != 'r' && mode[0] != 'w') ||
        (mode[1] && (mode[1] != 'e' || mode[2]))) {
        errno = EINVAL;
        return NULL;
    }
    reading = mode[0] == 'r';
    c = malloc(sizeof *c);
    if (!c)
        return NULL;
    /* Both ends close-on-exec: the child dup2s its end onto 0 or 1 (which
     * clears the flag there); the parent's end keeps it only with "e". */
    if (pipe2(p, O_CLOEXEC) != 0) {
        free(c);
        return NULL;
    }
    mine = reading ? p[0] : p[1];
    theirs = reading ? p[1] : p[0];
    __tessera_lock(&children_lock);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int target = reading ? 1 : 0;
        for (struct child *o = children; o; o = o->next)
            close(fileno(o->f));
        if (theirs != target) {
            if (dup2(theirs, target) < 0)
                _exit(127);
        } else if (fcntl(target, F_SETFD, 0) < 0) {
            _exit(127);
        }
        run_shell(command);
    }
    close(theirs);
    if (pid < 0 || (mode[1] != 'e' && fcntl(mine, F_SETFD, 0) < 0) || !(f = fdopen(mine, reading ? "r" : "w"))) {
        int e = errno;
        close(mine);
        if (pid > 0)
            wait_child(pid);
        __tessera_unlock(&children_lock);
        free(c);
        errno = e;
        return NULL;
    }
    c->f = f;
    c->pid = pid;
    c->next = children;
    children = c;
    __tessera_unlock(&children_lock);
    return f;
}

int pclose(FILE *f)
{
    struct child *c = NULL;
    pid_t pid;
    __tessera_lock(&children_lock);
    for (struct child **p = &children; *p; p = &(*p)->next)
        if ((*p)->f == f) {
            c = *p;
            *p = c->next;
            break;
        }
    __tessera_unlock(&children_lock);
    if (!c) {
        errno = ECHILD;
        return -1;
    }
    pid = c->pid;
    free(c);
    fclose(f);
    return wait_child(pid);
}

int system(const char *command)
{
    pid_t pid;
    if (!command) {
        for (size_t i = 0; i < sizeof shells / sizeof shells[0]; i++)
            if (access(shells[i], X_OK) == 0)
                return 1;
        return 0;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        run_shell(command);
    return wait_child(pid);
}
