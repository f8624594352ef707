/* memory.h - the BSD/System V name for string.h's memory functions. */
#ifndef _TESSERA_MEMORY_H
#define _TESSERA_MEMORY_H
#include <string.h>
#endif
