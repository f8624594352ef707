/* features.h - feature-test macros; Tessera's headers declare everything
 * unconditionally, so this is empty apart from identifying the library. */
#ifndef _TESSERA_FEATURES_H
#define _TESSERA_FEATURES_H
#define __TESSERA_LIBC__ 1
#endif
