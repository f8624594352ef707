/* hello.c - the smallest relibc-shim program: arguments, environment,
 * printf with integers, strings and a float, and the exit status. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    printf("c-hello: hello from C, argc=%d argv[0]=%s\n", argc, argv[0]);
    printf("c-hello: %d %s %.3f %g\n", 42, "text", 3.14159, 0.5);
    if (getenv("PATH"))
        printf("c-hello: PATH=%s\n", getenv("PATH"));
    return 0;
}
