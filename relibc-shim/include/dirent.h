/* dirent.h - reading directories (over the kernel's getdents). d_type
 * values are the kernel's DirentKind numbers, which equal POSIX's DT_*. */
#ifndef _TESSERA_DIRENT_H
#define _TESSERA_DIRENT_H
#include <bits/types.h>

struct dirent {
    ino_t d_ino;
    off_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[256];
};

typedef struct __tessera_dir DIR;

#define DT_UNKNOWN 0
#define DT_CHR 2
#define DT_DIR 4
#define DT_BLK 6
#define DT_REG 8
#define DT_LNK 10
#define DT_SOCK 12

DIR *opendir(const char *path);
DIR *fdopendir(int fd);
struct dirent *readdir(DIR *dir);
int closedir(DIR *dir);
void rewinddir(DIR *dir);
int dirfd(DIR *dir);

#endif
