/* pwd.h - the user database (relibc-shim/c/pwd.c): Tessera has no users,
 * every process runs as uid 0, so the database has one entry, root
 * (uid 0, gid 0, home "/", shell the initfs's sh). */
#ifndef _TESSERA_PWD_H
#define _TESSERA_PWD_H
#include <bits/types.h>

struct passwd {
    char *pw_name;
    char *pw_passwd;
    uid_t pw_uid;
    gid_t pw_gid;
    char *pw_gecos;
    char *pw_dir;
    char *pw_shell;
};

struct passwd *getpwuid(uid_t uid);
struct passwd *getpwnam(const char *name);
int getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t size, struct passwd **result);
int getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t size, struct passwd **result);
void setpwent(void);
struct passwd *getpwent(void);
void endpwent(void);

#endif
