/*
 * start.c - from crt0's _start to main and back out: argc/argv/envp from
 * the initial stack (System V layout, which the kernel's exec builds),
 * environ, then exit(main(...)); exit runs the atexit handlers in reverse
 * order, flushes every stdio stream and ends the process.
 */
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv, char **envp);
void __stdio_exit(void);

/* The auxiliary vector (AT_* key/value pairs), for programs that want it. */
unsigned long *__auxv;

#define ATEXIT_MAX 64
static void (*handlers[ATEXIT_MAX])(void);
static int handler_count;

int atexit(void (*fn)(void))
{
    if (handler_count == ATEXIT_MAX)
        return -1;
    handlers[handler_count++] = fn;
    return 0;
}

_Noreturn void exit(int status)
{
    while (handler_count > 0)
        handlers[--handler_count]();
    __stdio_exit();
    _exit(status);
}

/* Called by _start with the stack pointer the kernel gave the program:
 * sp[0] = argc, then argv[], NULL, envp[], NULL, auxv pairs. */
_Noreturn void __libc_start_main(long *sp)
{
    int argc = (int)sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    char **p = envp;
    while (*p)
        p++;
    __auxv = (unsigned long *)(p + 1);
    environ = envp;
    exit(main(argc, argv, envp));
}
