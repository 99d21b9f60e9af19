/*
 * Unit tests for the session cache (src/app/session.c): a hit returns what was put, a session
 * is trusted only SESSION_TRUST_MS and only until it expires, a drop is at once and keeps a
 * lookup that raced it from putting the session back, a full bucket
 * gives up its entry checked longest ago, and the loops and workers may share it (threads).
 */
#include "app/session.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void key_of(unsigned n, uint8_t key[32])
{
    memset(key, 0, 32);
    /* The bucket comes from the first 8 bytes: spread them, as a digest would. */
    uint64_t h = n * 0x9e3779b97f4a7c15ull;
    memcpy(key, &h, sizeof(h));
    memcpy(key + 8, &n, sizeof(n));
}

static struct db_session session_of(int64_t id, const char *name, int64_t expires)
{
    struct db_session s = {.user_id = id, .expires = expires};
    snprintf(s.name, sizeof(s.name), "%s", name);
    return s;
}

static void test_hit_trust_expiry_drop(void **state)
{
    (void)state;
    struct session_cache *c = session_cache_new(64);
    assert_non_null(c);
    uint8_t k[32], other[32];
    key_of(1, k);
    key_of(2, other);
    struct db_session s = session_of(7, "alice", 1000), out;
    assert_int_equal(session_cache_get(c, k, 0, 10, &out), -1);
    session_cache_put(c, k, &s, 100);
    assert_int_equal(session_cache_get(c, k, 100, 10, &out), 0);
    assert_int_equal(out.user_id, 7);
    assert_string_equal(out.name, "alice");
    assert_int_equal(session_cache_get(c, other, 100, 10, &out), -1);
    /* Trusted for SESSION_TRUST_MS after the database vouched for it, not a ms more. */
    assert_int_equal(session_cache_get(c, k, 100 + SESSION_TRUST_MS - 1, 10, &out), 0);
    assert_int_equal(session_cache_get(c, k, 100 + SESSION_TRUST_MS, 10, &out), -1);
    /* Valid while now < expires. */
    assert_int_equal(session_cache_get(c, k, 200, 999, &out), 0);
    assert_int_equal(session_cache_get(c, k, 200, 1000, &out), -1);
    /* A put refreshes the trust; a drop is at once. */
    session_cache_put(c, k, &s, 100 + SESSION_TRUST_MS);
    assert_int_equal(session_cache_get(c, k, 100 + SESSION_TRUST_MS, 10, &out), 0);
    uint64_t t = 100 + SESSION_TRUST_MS;
    session_cache_drop(c, k, t);
    assert_int_equal(session_cache_get(c, k, t, 10, &out), -1);
    /* A lookup that read the database before the drop cannot put it back for a while... */
    session_cache_put(c, k, &s, t - 1); /* a request that came just before the drop */
    assert_int_equal(session_cache_get(c, k, t + 1, 10, &out), -1);
    session_cache_put(c, k, &s, t + 1);
    assert_int_equal(session_cache_get(c, k, t + 1, 10, &out), -1);
    session_cache_put(c, k, &s, t + SESSION_TRUST_MS - 1);
    assert_int_equal(session_cache_get(c, k, t + SESSION_TRUST_MS - 1, 10, &out), -1);
    /* ... then it may (the database is the truth again). */
    session_cache_put(c, k, &s, t + SESSION_TRUST_MS);
    assert_int_equal(session_cache_get(c, k, t + SESSION_TRUST_MS, 10, &out), 0);
    session_cache_drop(c, other, t); /* absent: a tombstone all the same */
    assert_int_equal(session_cache_get(c, other, t, 10, &out), -1);
    session_cache_free(c);
}

static void test_full_bucket_evicts_oldest(void **state)
{
    (void)state;
    /* Capacity 1 gives one bucket: every key shares it. */
    struct session_cache *c = session_cache_new(1);
    assert_non_null(c);
    uint8_t keys[6][32];
    struct db_session s = session_of(1, "u", 1 << 30), out;
    for (unsigned i = 0; i < 6; i++)
        key_of(i, keys[i]);
    for (unsigned i = 0; i < 4; i++)
        session_cache_put(c, keys[i], &s, 10 + i);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(session_cache_get(c, keys[i], 20, 0, &out), 0);
    /* Key 0 is refreshed; key 1 is now the oldest and makes room for key 4. */
    session_cache_put(c, keys[0], &s, 30);
    session_cache_put(c, keys[4], &s, 31);
    assert_int_equal(session_cache_get(c, keys[1], 40, 0, &out), -1);
    assert_int_equal(session_cache_get(c, keys[0], 40, 0, &out), 0);
    assert_int_equal(session_cache_get(c, keys[4], 40, 0, &out), 0);
    session_cache_free(c);
}

struct shared {
    struct session_cache *c;
    unsigned base;
};

static void *hammer(void *arg)
{
    struct shared *sh = arg;
    for (unsigned round = 0; round < 20000; round++) {
        uint8_t k[32];
        key_of(sh->base + round % 512, k);
        struct db_session s = session_of(sh->base + round % 512, "name", 1 << 30), out;
        session_cache_put(sh->c, k, &s, round);
        if (session_cache_get(sh->c, k, round, 0, &out) == 0 &&
            out.user_id != (int64_t)(sh->base + round % 512))
            return (void *)1; /* another key's entry: a torn or mixed-up slot */
        if (round % 7 == 0)
            session_cache_drop(sh->c, k, round);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct session_cache *c = session_cache_new(256);
    assert_non_null(c);
    pthread_t t[4];
    struct shared sh[4];
    for (unsigned i = 0; i < 4; i++) {
        sh[i] = (struct shared){c, i * 100000};
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &sh[i]), 0);
    }
    for (unsigned i = 0; i < 4; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_null(rc);
    }
    session_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_trust_expiry_drop),
        cmocka_unit_test(test_full_bucket_evicts_oldest),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
