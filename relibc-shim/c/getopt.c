/* getopt.c - POSIX getopt: short options, clustering, required arguments
 * (`x:`), a leading ':' in optstring for silent errors; stops at the first
 * non-option or at "--". */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

char *optarg;
int optind = 1, opterr = 1, optopt;
static int next_char;                   /* position inside a cluster */

int getopt(int argc, char *const argv[], const char *optstring)
{
    const char *spec;
    char *arg;
    int c, silent = optstring[0] == ':';
    optarg = NULL;
    if (optind == 0) {                  /* a reset, as glibc allows */
        optind = 1;
        next_char = 0;
    }
    if (next_char == 0) {
        if (optind >= argc || !argv[optind] || argv[optind][0] != '-' || argv[optind][1] == 0)
            return -1;
        if (strcmp(argv[optind], "--") == 0) {
            optind++;
            return -1;
        }
        next_char = 1;
    }
    arg = argv[optind];
    c = (unsigned char)arg[next_char++];
    spec = c == ':' ? NULL : strchr(optstring + silent, c);
    if (arg[next_char] == 0) {
        optind++;
        next_char = 0;
    }
    if (!spec) {
        optopt = c;
        if (opterr && !silent)
            fprintf(stderr, "%s: invalid option -- '%c'\n", argv[0], c);
        return '?';
    }
    if (spec[1] == ':') {
        if (next_char != 0) {           /* the rest of this word */
            optarg = arg + next_char;
            optind++;
            next_char = 0;
        } else if (optind < argc) {
            optarg = argv[optind++];
        } else {
            optopt = c;
            if (silent)
                return ':';
            if (opterr)
                fprintf(stderr, "%s: option requires an argument -- '%c'\n", argv[0], c);
            return '?';
        }
    }
    return c;
}
