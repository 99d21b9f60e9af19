/*
 * The session cache. See session.h.
 *
 * A set-associative table: a token hash picks a bucket of SESSION_WAYS entries by its first
 * bytes (already uniform: it is a BLAKE2b digest an attacker cannot choose without a token the
 * server issued); a full bucket gives up its entry checked longest ago.
 */
#include "session.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_WAYS 4

struct entry {
    uint8_t key[32];
    bool used;
    bool revoked;        /* dropped: a tombstone until checked_ms + SESSION_TRUST_MS */
    uint64_t checked_ms; /* when the database last vouched for it, or when it was dropped */
    struct db_session s;
};

struct session_cache {
    pthread_mutex_t mu;
    size_t nbuckets; /* a power of two */
    struct entry *slots;
};

struct session_cache *session_cache_new(size_t capacity)
{
    size_t n = 1;
    while (n * SESSION_WAYS < capacity)
        n *= 2;
    struct session_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->slots = calloc(n * SESSION_WAYS, sizeof(*c->slots));
    if (!c->slots) {
        free(c);
        return NULL;
    }
    c->nbuckets = n;
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void session_cache_free(struct session_cache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c->slots);
    free(c);
}

static struct entry *bucket(struct session_cache *c, const uint8_t key[32])
{
    uint64_t h;
    memcpy(&h, key, sizeof(h));
    return &c->slots[(h & (c->nbuckets - 1)) * SESSION_WAYS];
}

/* The entry of key in its bucket b, or NULL. */
static struct entry *find(struct entry *b, const uint8_t key[32])
{
    for (int i = 0; i < SESSION_WAYS; i++)
        if (b[i].used && memcmp(b[i].key, key, 32) == 0)
            return &b[i];
    return NULL;
}

/* The entry for key: its own, a free one, or the one of its bucket checked longest ago. */
static struct entry *slot(struct session_cache *c, const uint8_t key[32])
{
    struct entry *b = bucket(c, key);
    struct entry *e = find(b, key);
    for (int i = 0; !e && i < SESSION_WAYS; i++)
        if (!b[i].used)
            e = &b[i];
    if (!e) {
        e = &b[0];
        for (int i = 1; i < SESSION_WAYS; i++)
            if (b[i].checked_ms < e->checked_ms)
                e = &b[i];
    }
    memcpy(e->key, key, 32);
    e->used = true;
    return e;
}

int session_cache_get(struct session_cache *c, const uint8_t token_hash[32], uint64_t now_ms,
                      int64_t now_unix, struct db_session *out)
{
    int rc = -1;
    pthread_mutex_lock(&c->mu);
    struct entry *e = find(bucket(c, token_hash), token_hash);
    if (e && !e->revoked && now_ms - e->checked_ms < SESSION_TRUST_MS && now_unix < e->s.expires) {
        *out = e->s;
        rc = 0;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void session_cache_put(struct session_cache *c, const uint8_t token_hash[32],
                       const struct db_session *s, uint64_t now_ms)
{
    pthread_mutex_lock(&c->mu);
    struct entry *e = find(bucket(c, token_hash), token_hash);
    /* now_ms is when the request came: it may precede the drop (another loop's clock). */
    if (!e || !e->revoked || now_ms >= e->checked_ms + SESSION_TRUST_MS) {
        e = slot(c, token_hash);
        e->revoked = false;
        e->checked_ms = now_ms;
        e->s = *s;
    }
    pthread_mutex_unlock(&c->mu);
}

void session_cache_drop(struct session_cache *c, const uint8_t token_hash[32], uint64_t now_ms)
{
    pthread_mutex_lock(&c->mu);
    struct entry *e = slot(c, token_hash);
    e->revoked = true;
    e->checked_ms = now_ms;
    memset(&e->s, 0, sizeof(e->s));
    pthread_mutex_unlock(&c->mu);
}
