/*
 * Failed-login throttling. See throttle.h.
 *
 * One array of entries, allocated at creation, indexed three ways by 32-bit indices:
 * - a chained hash table on the key's SipHash (buckets: a power of two, at least capacity);
 * - two lists in order of last failure, oldest first: "clear", the keys that have not gone past
 *   free_failures (never blocked), and "blocking", those that have (blocked now, or blocked
 *   again at their next failure); a failure moves its key to the tail of its list, so both heads
 *   are the longest idle and forgetting idle keys only ever looks at the heads;
 * - a free list of unused entries.
 * Every operation is a hash lookup plus O(1) list moves, under one mutex; eviction looks at the
 * head of "clear", or at most EVICT_SCAN entries of "blocking".
 */
#include "throttle.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

/* Keys not failed for this long are forgotten, unless max_ms is longer. */
#define IDLE_MIN_MS (15 * 60 * 1000)

/* The most "blocking" entries an eviction looks at for one whose block is over. */
#define EVICT_SCAN 8

enum { LIST_CLEAR, LIST_BLOCKING, LIST_COUNT };

struct entry {
    uint8_t id[crypto_shorthash_siphashx24_BYTES]; /* the key's hash: its identity */
    uint64_t last_fail;                            /* ms */
    uint64_t until;                                /* blocked before this, ms */
    uint32_t failures;
    uint32_t chain;      /* next in the bucket */
    uint32_t prev, next; /* in its list; next is the free list's link for an unused entry */
    uint8_t list;
};

struct list {
    uint32_t head, tail;
};

struct throttle {
    pthread_mutex_t lock;
    uint8_t hash_key[crypto_shorthash_siphashx24_KEYBYTES];
    unsigned free_failures;
    uint64_t base_ms, max_ms, idle_ms;
    struct entry *entries;
    uint32_t *buckets;
    uint32_t mask; /* buckets - 1 */
    uint32_t free; /* unused entries, linked by next */
    size_t count;
    struct list lists[LIST_COUNT];
};

struct throttle *throttle_new(size_t capacity, unsigned free_failures, uint64_t base_ms,
                              uint64_t max_ms)
{
    if (capacity == 0 || capacity > THROTTLE_CAPACITY_MAX) {
        errno = EINVAL;
        return NULL;
    }
    if (sodium_init() < 0) {
        errno = EIO;
        return NULL;
    }
    size_t nbuckets = 1;
    while (nbuckets < capacity)
        nbuckets <<= 1;
    struct throttle *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->entries = calloc(capacity, sizeof(*t->entries));
    t->buckets = malloc(nbuckets * sizeof(*t->buckets));
    if (!t->entries || !t->buckets)
        goto fail;
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        errno = ENOMEM;
        goto fail;
    }
    randombytes_buf(t->hash_key, sizeof(t->hash_key));
    t->free_failures = free_failures;
    t->base_ms = base_ms;
    t->max_ms = max_ms;
    t->idle_ms = max_ms > IDLE_MIN_MS ? max_ms : IDLE_MIN_MS;
    t->mask = (uint32_t)(nbuckets - 1);
    for (size_t b = 0; b < nbuckets; b++)
        t->buckets[b] = NIL;
    for (size_t i = 0; i < capacity; i++)
        t->entries[i].next = i + 1 < capacity ? (uint32_t)(i + 1) : NIL;
    t->free = 0;
    for (int l = 0; l < LIST_COUNT; l++)
        t->lists[l] = (struct list){NIL, NIL};
    return t;
fail:
    free(t->entries);
    free(t->buckets);
    free(t);
    return NULL;
}

void throttle_free(struct throttle *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t->entries);
    free(t->buckets);
    sodium_memzero(t->hash_key, sizeof(t->hash_key));
    free(t);
}

static void key_id(const struct throttle *t, const void *key, size_t len,
                   uint8_t id[crypto_shorthash_siphashx24_BYTES])
{
    crypto_shorthash_siphashx24(id, key, len, t->hash_key);
}

static uint32_t bucket_of(const struct throttle *t, const uint8_t *id)
{
    uint32_t b;
    memcpy(&b, id, sizeof(b));
    return b & t->mask;
}

static uint32_t find(const struct throttle *t, const uint8_t *id)
{
    for (uint32_t i = t->buckets[bucket_of(t, id)]; i != NIL; i = t->entries[i].chain) {
        if (memcmp(t->entries[i].id, id, sizeof(t->entries[i].id)) == 0)
            return i;
    }
    return NIL;
}

static void list_unlink(struct throttle *t, uint32_t i)
{
    struct entry *e = &t->entries[i];
    struct list *l = &t->lists[e->list];
    if (e->prev != NIL)
        t->entries[e->prev].next = e->next;
    else
        l->head = e->next;
    if (e->next != NIL)
        t->entries[e->next].prev = e->prev;
    else
        l->tail = e->prev;
}

static void list_append(struct throttle *t, uint32_t i, uint8_t list)
{
    struct entry *e = &t->entries[i];
    struct list *l = &t->lists[list];
    e->list = list;
    e->next = NIL;
    e->prev = l->tail;
    if (l->tail != NIL)
        t->entries[l->tail].next = i;
    else
        l->head = i;
    l->tail = i;
}

/* Removes entry i from its bucket and its list, and frees it. O(chain). */
static void drop(struct throttle *t, uint32_t i)
{
    struct entry *e = &t->entries[i];
    uint32_t *link = &t->buckets[bucket_of(t, e->id)];
    while (*link != i)
        link = &t->entries[*link].chain;
    *link = e->chain;
    list_unlink(t, i);
    e->next = t->free;
    t->free = i;
    t->count--;
}

static bool idle(const struct throttle *t, const struct entry *e, uint64_t now)
{
    return now >= e->last_fail && now - e->last_fail >= t->idle_ms;
}

/* Forgets the keys idle too long: the heads of the lists. Each entry is dropped once, so this
 * is O(1) amortised. */
static void forget_idle(struct throttle *t, uint64_t now)
{
    for (int l = 0; l < LIST_COUNT; l++) {
        while (t->lists[l].head != NIL && idle(t, &t->entries[t->lists[l].head], now))
            drop(t, t->lists[l].head);
    }
}

/* Frees an entry for a new key (see throttle.h for which): the entry, now on the free list, or
 * NIL when every candidate is blocked. */
static uint32_t evict(struct throttle *t, uint64_t now)
{
    uint32_t i = t->lists[LIST_CLEAR].head;
    if (i == NIL) {
        i = t->lists[LIST_BLOCKING].head;
        for (int n = 0; i != NIL && t->entries[i].until > now; n++)
            i = n + 1 < EVICT_SCAN ? t->entries[i].next : NIL;
    }
    if (i != NIL)
        drop(t, i);
    return i;
}

/* The block for a key's failures-th failure, past free_failures: base_ms doubled
 * (failures - free_failures - 1) times, at most max_ms. */
static uint64_t block_ms(const struct throttle *t, uint32_t failures)
{
    uint64_t d = t->base_ms;
    for (uint32_t k = failures - t->free_failures - 1; k > 0 && d != 0 && d < t->max_ms; k--)
        d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
    return d < t->max_ms ? d : t->max_ms;
}

uint64_t throttle_wait(struct throttle *t, const void *key, size_t len, uint64_t now_ms)
{
    uint8_t id[crypto_shorthash_siphashx24_BYTES];
    key_id(t, key, len, id);
    uint64_t wait = 0;
    pthread_mutex_lock(&t->lock);
    forget_idle(t, now_ms);
    uint32_t i = find(t, id);
    if (i != NIL && t->entries[i].until > now_ms)
        wait = t->entries[i].until - now_ms;
    pthread_mutex_unlock(&t->lock);
    return wait;
}

void throttle_fail(struct throttle *t, const void *key, size_t len, uint64_t now_ms)
{
    uint8_t id[crypto_shorthash_siphashx24_BYTES];
    key_id(t, key, len, id);
    pthread_mutex_lock(&t->lock);
    forget_idle(t, now_ms);
    uint32_t i = find(t, id);
    if (i == NIL) {
        if (t->free == NIL && evict(t, now_ms) == NIL)
            goto out;
        i = t->free;
        t->free = t->entries[i].next;
        struct entry *e = &t->entries[i];
        memcpy(e->id, id, sizeof(e->id));
        e->failures = 0;
        e->until = 0;
        uint32_t *b = &t->buckets[bucket_of(t, id)];
        e->chain = *b;
        *b = i;
        t->count++;
    } else {
        list_unlink(t, i);
    }
    struct entry *e = &t->entries[i];
    if (e->failures < UINT32_MAX)
        e->failures++;
    e->last_fail = now_ms;
    if (e->failures > t->free_failures) {
        uint64_t d = block_ms(t, e->failures);
        e->until = now_ms > UINT64_MAX - d ? UINT64_MAX : now_ms + d;
        list_append(t, i, LIST_BLOCKING);
    } else {
        list_append(t, i, LIST_CLEAR);
    }
out:
    pthread_mutex_unlock(&t->lock);
}

void throttle_forget(struct throttle *t, const void *key, size_t len)
{
    uint8_t id[crypto_shorthash_siphashx24_BYTES];
    key_id(t, key, len, id);
    pthread_mutex_lock(&t->lock);
    uint32_t i = find(t, id);
    if (i != NIL)
        drop(t, i);
    pthread_mutex_unlock(&t->lock);
}

size_t throttle_count(struct throttle *t)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->count;
    pthread_mutex_unlock(&t->lock);
    return n;
}
