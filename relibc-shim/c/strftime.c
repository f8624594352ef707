/* strftime.c - calendar time as text (UTC, the "C" locale): strftime,
 * asctime, ctime. */
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const days[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
static const char *const months[] = {"January", "February", "March", "April", "May", "June", "July",
                                     "August", "September", "October", "November", "December"};

size_t strftime(char *restrict s, size_t max, const char *restrict fmt, const struct tm *restrict tm)
{
    size_t n = 0;
    char tmp[64];
    for (; *fmt; fmt++) {
        const char *piece = tmp;
        size_t len;
        if (*fmt != '%') {
            tmp[0] = *fmt;
            tmp[1] = 0;
        } else {
            switch (*++fmt) {
            case 'a': snprintf(tmp, sizeof tmp, "%.3s", days[tm->tm_wday % 7]); break;
            case 'A': piece = days[tm->tm_wday % 7]; break;
            case 'b': case 'h': snprintf(tmp, sizeof tmp, "%.3s", months[tm->tm_mon % 12]); break;
            case 'B': piece = months[tm->tm_mon % 12]; break;
            case 'c':
                snprintf(tmp, sizeof tmp, "%.3s %.3s %2d %02d:%02d:%02d %d", days[tm->tm_wday % 7],
                         months[tm->tm_mon % 12], tm->tm_mday, tm->tm_hour, tm->tm_min, tm->tm_sec,
                         tm->tm_year + 1900);
                break;
            case 'C': snprintf(tmp, sizeof tmp, "%02d", (tm->tm_year + 1900) / 100); break;
            case 'd': snprintf(tmp, sizeof tmp, "%02d", tm->tm_mday); break;
            case 'D': snprintf(tmp, sizeof tmp, "%02d/%02d/%02d", tm->tm_mon + 1, tm->tm_mday, tm->tm_year % 100); break;
            case 'e': snprintf(tmp, sizeof tmp, "%2d", tm->tm_mday); break;
            case 'F': snprintf(tmp, sizeof tmp, "%d-%02d-%02d", tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday); break;
            case 'H': snprintf(tmp, sizeof tmp, "%02d", tm->tm_hour); break;
            case 'I': snprintf(tmp, sizeof tmp, "%02d", tm->tm_hour % 12 ? tm->tm_hour % 12 : 12); break;
            case 'j': snprintf(tmp, sizeof tmp, "%03d", tm->tm_yday + 1); break;
            case 'm': snprintf(tmp, sizeof tmp, "%02d", tm->tm_mon + 1); break;
            case 'M': snprintf(tmp, sizeof tmp, "%02d", tm->tm_min); break;
            case 'n': piece = "\n"; break;
            case 'p': piece = tm->tm_hour < 12 ? "AM" : "PM"; break;
            case 'R': snprintf(tmp, sizeof tmp, "%02d:%02d", tm->tm_hour, tm->tm_min); break;
            case 'S': snprintf(tmp, sizeof tmp, "%02d", tm->tm_sec); break;
            case 's': {
                struct tm copy = *tm;
                snprintf(tmp, sizeof tmp, "%ld", (long)timegm(&copy));
                break;
            }
            case 't': piece = "\t"; break;
            case 'T': snprintf(tmp, sizeof tmp, "%02d:%02d:%02d", tm->tm_hour, tm->tm_min, tm->tm_sec); break;
            case 'u': snprintf(tmp, sizeof tmp, "%d", tm->tm_wday ? tm->tm_wday : 7); break;
            case 'w': snprintf(tmp, sizeof tmp, "%d", tm->tm_wday); break;
            case 'y': snprintf(tmp, sizeof tmp, "%02d", tm->tm_year % 100); break;
            case 'Y': snprintf(tmp, sizeof tmp, "%d", tm->tm_year + 1900); break;
            case 'z': piece = "+0000"; break;
            case 'Z': piece = "UTC"; break;
            case '%': piece = "%"; break;
            case 0: fmt--; piece = ""; break;
            default: snprintf(tmp, sizeof tmp, "%%%c", *fmt); break;
            }
        }
        len = strlen(piece);
        if (n + len >= max)
            return 0;
        memcpy(s + n, piece, len);
        n += len;
    }
    if (n >= max)
        return 0;
    s[n] = 0;
    return n;
}

char *asctime(const struct tm *tm)
{
    static char buf[32];
    snprintf(buf, sizeof buf, "%.3s %.3s%3d %02d:%02d:%02d %d\n", days[tm->tm_wday % 7], months[tm->tm_mon % 12],
             tm->tm_mday, tm->tm_hour, tm->tm_min, tm->tm_sec, tm->tm_year + 1900);
    return buf;
}

char *ctime(const time_t *t)
{
    struct tm *tm = localtime(t);
    return tm ? asctime(tm) : NULL;
}
