/*
 * locale.c - the C locale, the only one: setlocale says which locale a
 * category has ("C") and takes "C", "POSIX" and "" (the environment's
 * choice, which can only be "C"); any other name is NULL, as for a locale
 * that is not installed. localeconv gives the C locale's values (POSIX:
 * "." and empty strings, CHAR_MAX for the numbers).
 */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <string.h>

static char c_locale[] = "C";

char *setlocale(int category, const char *locale)
{
    if (category < LC_CTYPE || category > LC_ALL) {
        errno = EINVAL;
        return NULL;
    }
    if (!locale || !locale[0] || strcmp(locale, "C") == 0 || strcmp(locale, "POSIX") == 0)
        return c_locale;
    return NULL;
}

struct lconv *localeconv(void)
{
    static char dot[] = ".", empty[] = "";
    static struct lconv c = {
        .decimal_point = dot,
        .thousands_sep = empty,
        .grouping = empty,
        .int_curr_symbol = empty,
        .currency_symbol = empty,
        .mon_decimal_point = empty,
        .mon_thousands_sep = empty,
        .mon_grouping = empty,
        .positive_sign = empty,
        .negative_sign = empty,
        .int_frac_digits = CHAR_MAX,
        .frac_digits = CHAR_MAX,
        .p_cs_precedes = CHAR_MAX,
        .p_sep_by_space = CHAR_MAX,
        .n_cs_precedes = CHAR_MAX,
        .n_sep_by_space = CHAR_MAX,
        .p_sign_posn = CHAR_MAX,
        .n_sign_posn = CHAR_MAX,
        .int_p_cs_precedes = CHAR_MAX,
        .int_p_sep_by_space = CHAR_MAX,
        .int_n_cs_precedes = CHAR_MAX,
        .int_n_sep_by_space = CHAR_MAX,
        .int_p_sign_posn = CHAR_MAX,
        .int_n_sign_posn = CHAR_MAX,
    };
    return &c;
}
