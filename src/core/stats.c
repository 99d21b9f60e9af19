/*
 * The stats registry. See stats.h.
 */
#include "stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One registered table. */
struct stats_table {
    const struct stat_desc *descs;
    size_t n;
    bool per_loop;
    const void **blocks; /* nloops of them, or one */
};

/* One series: a descriptor of a table. */
struct stats_series {
    const struct stat_desc *desc;
    size_t table; /* an index: the table array moves while tables are added */
};

struct stats {
    int nloops;
    struct stats_table *tables;
    size_t ntables;
    struct stats_series *series;
    size_t nseries;
};

struct stats *stats_new(int nloops)
{
    if (nloops < 1)
        nloops = 1;
    struct stats *s = calloc(1, sizeof(*s));
    if (s)
        s->nloops = nloops;
    return s;
}

void stats_free(struct stats *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ntables; i++)
        free(s->tables[i].blocks);
    free(s->tables);
    free(s->series);
    free(s);
}

int stats_register(struct stats *s, const struct stat_desc *descs, size_t n,
                   const void *const *blocks, bool per_loop)
{
    size_t nblocks = per_loop ? (size_t)s->nloops : 1;
    const void **copy = malloc(nblocks * sizeof(*copy));
    struct stats_table *t = realloc(s->tables, (s->ntables + 1) * sizeof(*t));
    if (t)
        s->tables = t;
    struct stats_series *sr = realloc(s->series, (s->nseries + n) * sizeof(*sr));
    if (sr)
        s->series = sr;
    if (!copy || !t || !sr) {
        free(copy);
        return -ENOMEM;
    }
    memcpy(copy, blocks, nblocks * sizeof(*copy));
    s->tables[s->ntables] = (struct stats_table){descs, n, per_loop, copy};
    for (size_t i = 0; i < n; i++)
        s->series[s->nseries + i] = (struct stats_series){&descs[i], s->ntables};
    s->ntables++;
    s->nseries += n;
    return 0;
}

int stats_loops(const struct stats *s)
{
    return s->nloops;
}

size_t stats_count(const struct stats *s)
{
    return s->nseries;
}

const struct stat_desc *stats_desc(const struct stats *s, size_t i)
{
    return s->series[i].desc;
}

static const struct stats_table *table_of(const struct stats *s, size_t i)
{
    return &s->tables[s->series[i].table];
}

bool stats_per_loop(const struct stats *s, size_t i)
{
    return table_of(s, i)->per_loop;
}

static uint64_t read_one(const struct stat_desc *d, const void *block)
{
    if (d->read)
        return d->read(block);
    return counter_get((const counter_t *)(const void *)((const char *)block + d->offset));
}

uint64_t stats_read(const struct stats *s, size_t i, uint64_t *per_loop)
{
    const struct stats_table *t = table_of(s, i);
    const struct stat_desc *d = s->series[i].desc;
    if (!t->per_loop)
        return read_one(d, t->blocks[0]);
    uint64_t total = 0;
    for (int l = 0; l < s->nloops; l++) {
        uint64_t v = read_one(d, t->blocks[l]);
        if (per_loop)
            per_loop[l] = v;
        total += v;
    }
    return total;
}

long stats_find(const struct stats *s, const char *name, const char *value)
{
    for (size_t i = 0; i < s->nseries; i++) {
        const struct stat_desc *d = s->series[i].desc;
        if (strcmp(d->name, name) != 0)
            continue;
        if (!value || (d->value && strcmp(d->value, value) == 0))
            return (long)i;
    }
    return -1;
}

uint64_t stats_total(const struct stats *s, const char *name, const char *value)
{
    long i = stats_find(s, name, value);
    return i < 0 ? 0 : stats_read(s, (size_t)i, NULL);
}
