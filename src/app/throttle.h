/*
 * Failed-login throttling, per key (the caller passes "a:<address>" and "u:<name>"), for the
 * whole process, in memory fixed at creation.
 *
 * A key may fail free_failures times; each further failure blocks it for base_ms, then twice
 * that, and so on up to max_ms, counted from that failure. A success (throttle_forget) clears
 * it. A key that has not failed for max(max_ms, 15 minutes) is forgotten.
 *
 * Keys are identified by a 128-bit SipHash (libsodium crypto_shorthash_siphashx24) under a
 * random key drawn at creation, so a client can neither aim collisions at one bucket nor make two
 * keys share an entry. When the table is full, a new key takes the place of the key least
 * recently failed that has never gone past free_failures; failing that, of one whose block is
 * over (among the longest idle); never of a blocked key, so a flood of new keys cannot unblock
 * one. If every candidate is blocked, the new key's failure is not recorded.
 */
#ifndef TINYWEB_APP_THROTTLE_H
#define TINYWEB_APP_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

/* The most keys a table holds. */
#define THROTTLE_CAPACITY_MAX (1u << 24)

/* A table of keys and their failures. Opaque; thread-safe (one mutex). */
struct throttle;

/* A table for capacity keys (1..THROTTLE_CAPACITY_MAX; about 64 bytes each, allocated now).
 * NULL (errno set) for a bad capacity, when libsodium cannot start, or out of memory. */
struct throttle *throttle_new(size_t capacity, unsigned free_failures, uint64_t base_ms,
                              uint64_t max_ms);

/* Frees t (NULL is fine). */
void throttle_free(struct throttle *t);

/* The milliseconds key[0, len) must still wait before it may try again; 0 when it may now.
 * now_ms: a monotonic clock (the loop's). Thread-safe, O(1) expected. */
uint64_t throttle_wait(struct throttle *t, const void *key, size_t len, uint64_t now_ms);

/* Records a failure of key at now_ms: past free_failures failures, blocks it for base_ms
 * doubling per failure up to max_ms. Thread-safe, O(1) expected, no allocation. */
void throttle_fail(struct throttle *t, const void *key, size_t len, uint64_t now_ms);

/* Forgets key (a success). Thread-safe, O(1) expected. */
void throttle_forget(struct throttle *t, const void *key, size_t len);

/* The keys held now (for /status and tests). Thread-safe, O(1). */
size_t throttle_count(struct throttle *t);

#endif
