/* Parsing the units operators type: durations ("500ms", "15s", "2m") and sizes ("64k"). */
#ifndef TINYWEB_CORE_UNITS_H
#define TINYWEB_CORE_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* "250ms", "15s", "2m", "1h"; a bare number means seconds. 0 or -EINVAL (also on overflow). */
int units_parse_duration_ms(const char *s, uint64_t *ms);

/* "512", "64k", "8m", "1g" (powers of 1024). 0 or -EINVAL (also on overflow). */
int units_parse_size(const char *s, uint64_t *bytes);

/* Writes v in decimal at the end of buf, without printf; returns where its digits start. */
static inline size_t units_u64_digits(char buf[20], uint64_t v)
{
    size_t n = 20;
    do {
        buf[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return n;
}

#endif
