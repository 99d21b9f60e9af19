/* Small helpers every module uses. */
#ifndef TINYWEB_CORE_DEFS_H
#define TINYWEB_CORE_DEFS_H

#include <stddef.h>

/* The struct that embeds member, from a pointer to that member. */
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
