/*
 * The sessions the process has seen lately, in memory, so that a logged-in page costs no trip to
 * the database: keyed by the token's hash (never the token), holding the user and the session's
 * expiry. The database stays the truth: an entry is trusted for a short while (SESSION_TRUST_MS)
 * and then checked there again, so a logout through another instance sharing the database takes
 * effect within that time; a logout through this process removes the entry at once, for every
 * loop (the cache is process-wide).
 *
 * Bounded: a fixed table, the oldest entry of a full bucket replaced. Thread-safe: one mutex,
 * held for a lookup or an insert (tens of ns); the loops and the workers share it.
 */
#ifndef TINYWEB_APP_SESSION_H
#define TINYWEB_APP_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "app/db.h"

/* How long a cached session is trusted before the database is asked again. */
#define SESSION_TRUST_MS 5000

struct session_cache;

/* A cache of about `capacity` sessions. NULL when out of memory. */
struct session_cache *session_cache_new(size_t capacity);
void session_cache_free(struct session_cache *c);

/*
 * The session of token_hash, when cached, checked in the database less than SESSION_TRUST_MS
 * before now_ms (monotonic) and not expired at now_unix: 0 with *out filled. -1 otherwise (ask
 * the database). O(1).
 */
int session_cache_get(struct session_cache *c, const uint8_t token_hash[32], uint64_t now_ms,
                      int64_t now_unix, struct db_session *out);

/* Remembers s (just read from, or written to, the database at now_ms). O(1). */
void session_cache_put(struct session_cache *c, const uint8_t token_hash[32],
                       const struct db_session *s, uint64_t now_ms);

/*
 * Forgets token_hash (a logout, or a session the database no longer has), and for
 * SESSION_TRUST_MS from now_ms refuses to take it back: a request that read the session from
 * the database just before a logout deleted it cannot put it back in the cache after. O(1).
 */
void session_cache_drop(struct session_cache *c, const uint8_t token_hash[32], uint64_t now_ms);

#endif
