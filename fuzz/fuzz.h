/*
 * What the libFuzzer harnesses share: the CHECK that turns a broken property into a crash, and
 * the input hash. Only machinery lives here; every oracle (trimming, splitting, reference
 * parsers) stays in its own harness, so that no two harnesses share a mistake with each other or
 * with src/.
 */
#ifndef TINYWEB_FUZZ_FUZZ_H
#define TINYWEB_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * Every broken property calls abort() after a line on stderr saying where and which, so that
 * libFuzzer saves the input as a crash. __FILE__ names the harness, so the line needs no prefix.
 */
#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, what);                              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/*
 * FNV-1a (64-bit) over p[0, n): any mutation of the input moves what is drawn from it (split
 * points, buffer sizes), while the same input always draws the same, so crashes reproduce.
 */
static inline uint64_t fuzz_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h;
}

#endif
