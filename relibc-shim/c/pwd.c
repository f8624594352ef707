/*
 * pwd.c - the user database. Tessera has no users: getuid() and friends
 * are 0 and no file is owned by anyone else, so the database is the one
 * entry root (uid 0, gid 0, home "/", shell /scheme/initfs/bin/sh, where
 * every image has sh). Other uids and names are not found (NULL, errno
 * untouched, as glibc for a missing entry).
 */
#include <errno.h>
#include <pwd.h>
#include <string.h>

static char root_name[] = "root", root_passwd[] = "x", root_gecos[] = "root", root_dir[] = "/",
            root_shell[] = "/scheme/initfs/bin/sh";

static struct passwd root_entry;
static int next_entry;

static struct passwd *root(void)
{
    root_entry = (struct passwd){root_name, root_passwd, 0, 0, root_gecos, root_dir, root_shell};
    return &root_entry;
}

struct passwd *getpwuid(uid_t uid) { return uid == 0 ? root() : NULL; }

struct passwd *getpwnam(const char *name)
{
    return name && strcmp(name, root_name) == 0 ? root() : NULL;
}

void setpwent(void) { next_entry = 0; }
void endpwent(void) { next_entry = 0; }
struct passwd *getpwent(void) { return next_entry++ == 0 ? root() : NULL; }

/* The _r forms copy the strings into `buf`: ERANGE when it is too small. */
static int copy_root(struct passwd *pw, char *buf, size_t size, struct passwd **result)
{
    const char *const from[] = {root_name, root_passwd, root_gecos, root_dir, root_shell};
    char **to[] = {&pw->pw_name, &pw->pw_passwd, &pw->pw_gecos, &pw->pw_dir, &pw->pw_shell};
    size_t used = 0;
    *result = NULL;
    for (size_t i = 0; i < 5; i++) {
        size_t n = strlen(from[i]) + 1;
        if (size - used < n)
            return ERANGE;
        memcpy(buf + used, from[i], n);
        *to[i] = buf + used;
        used += n;
    }
    pw->pw_uid = 0;
    pw->pw_gid = 0;
    *result = pw;
    return 0;
}

int getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t size, struct passwd **result)
{
    *result = NULL;
    return uid == 0 ? copy_root(pw, buf, size, result) : 0;
}

int getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t size, struct passwd **result)
{
    *result = NULL;
    return name && strcmp(name, root_name) == 0 ? copy_root(pw, buf, size, result) : 0;
}
