/*
 * The stats registry: every module's counters and gauges, registered once as a table of
 * descriptors (name, help, type, an optional label, where to read the value), with the block
 * of each loop that holds them. Readers (/status, /metrics, the "stopped:" lines) sum across the
 * loops on demand with relaxed loads (core/counter.h): the loops never take a lock or make an
 * atomic read-modify-write for it, and a reader never stops them.
 *
 * Series: each descriptor is one time series. Consecutive descriptors with the same name form a
 * family (Prometheus' "metric"), told apart by their label value: {"tinyweb_responses_total",
 * "class", "2xx"}. Names follow Prometheus' conventions (counters end in _total, units are
 * base units: _bytes, _seconds).
 *
 * A table is per loop (one block per loop: the value has a loop="N" label and a total) or
 * global (one block, for the process). The registry is built before the loops run and only
 * read afterwards; the blocks must outlive it.
 */
#ifndef TINYWEB_CORE_STATS_H
#define TINYWEB_CORE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/counter.h"

enum stat_type { STAT_COUNTER, STAT_GAUGE };

/* One series: where its value lies in a block, or how to compute it. */
struct stat_desc {
    const char *name; /* "tinyweb_responses_total" */
    const char *help; /* one line, for # HELP: no newline or backslash */
    enum stat_type type;
    const char *label; /* a label's name ("class"), or NULL */
    const char *value; /* its value ("2xx"), when label is set */
    size_t offset;     /* of a counter_t in the block, when read is NULL */
    /* Reads the value from the block, from any thread, without locks. NULL: the counter_t at
     * offset, read with counter_get(). */
    uint64_t (*read)(const void *block);
};

/* A descriptor for the counter_t `member` of struct `type`. */
#define STAT_FIELD(type_, member_, name_, kind_, help_)                                            \
    {                                                                                              \
        .name = (name_), .help = (help_), .type = (kind_), .offset = offsetof(type_, member_)      \
    }

/* The same with a label. */
#define STAT_LABELED(type_, member_, name_, kind_, help_, label_, value_)                          \
    {                                                                                              \
        .name = (name_), .help = (help_), .type = (kind_), .label = (label_), .value = (value_),   \
        .offset = offsetof(type_, member_)                                                         \
    }

struct stats;

/* An empty registry for nloops loops. NULL when out of memory. */
struct stats *stats_new(int nloops);

/* Frees the registry (not the blocks). */
void stats_free(struct stats *s);

/*
 * Registers a table of n descriptors. Per loop: blocks[i] is loop i's block (nloops of them);
 * global: blocks[0] is the only one. The table must outlive the registry; blocks is copied.
 * Not thread-safe: call before the loops start. 0 or -ENOMEM.
 */
int stats_register(struct stats *s, const struct stat_desc *descs, size_t n,
                   const void *const *blocks, bool per_loop);

/* The number of loops, and of series registered. O(1). */
int stats_loops(const struct stats *s);
size_t stats_count(const struct stats *s);

/* Series i's descriptor, and whether it is per loop. O(1). */
const struct stat_desc *stats_desc(const struct stats *s, size_t i);
bool stats_per_loop(const struct stats *s, size_t i);

/*
 * Reads series i: per_loop[l] gets loop l's value (when per_loop is not NULL and the series is
 * per loop), and the total is returned (a global series' one value). Each block is read once,
 * so the total is the sum of what per_loop got. O(loops); any thread.
 */
uint64_t stats_read(const struct stats *s, size_t i, uint64_t *per_loop);

/* The index of the series with this name and label value (NULL: none, or the first of the
 * family), or -1. O(series). */
long stats_find(const struct stats *s, const char *name, const char *value);

/* The total of that series, 0 when there is none. O(series + loops). */
uint64_t stats_total(const struct stats *s, const char *name, const char *value);

#endif
