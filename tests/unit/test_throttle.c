/*
 * Unit tests for failed-login throttling (src/app/throttle.c): free failures, doubling blocks up
 * to the cap, success, idle keys forgotten, a full table that keeps its blocked keys through a
 * flood of new ones, binary keys, and many threads at once.
 */
#include "app/throttle.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define MIN (60 * 1000)

static void fail_n(struct throttle *t, const char *key, int n, uint64_t now)
{
    for (int i = 0; i < n; i++)
        throttle_fail(t, key, strlen(key), now);
}

static uint64_t wait_of(struct throttle *t, const char *key, uint64_t now)
{
    return throttle_wait(t, key, strlen(key), now);
}

static void test_new(void **state)
{
    (void)state;
    errno = 0;
    assert_null(throttle_new(0, 5, 1000, MIN));
    assert_int_equal(errno, EINVAL);
    assert_null(throttle_new((size_t)THROTTLE_CAPACITY_MAX + 1, 5, 1000, MIN));
    struct throttle *t = throttle_new(1, 5, 1000, MIN);
    assert_non_null(t);
    assert_int_equal(throttle_count(t), 0);
    throttle_free(t);
    throttle_free(NULL);
}

static void test_doubling(void **state)
{
    (void)state;
    struct throttle *t = throttle_new(16, 3, 1000, 10000);
    uint64_t now = 5000000;
    assert_int_equal(wait_of(t, "a:1", now), 0);
    fail_n(t, "a:1", 3, now);
    assert_int_equal(wait_of(t, "a:1", now), 0); /* three free failures */
    assert_int_equal(throttle_count(t), 1);
    static const uint64_t blocks[] = {1000, 2000, 4000, 8000, 10000, 10000, 10000};
    for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
        fail_n(t, "a:1", 1, now);
        assert_int_equal(wait_of(t, "a:1", now), blocks[i]);
        assert_int_equal(wait_of(t, "a:1", now + blocks[i] - 1), 1);
        assert_int_equal(wait_of(t, "a:1", now + blocks[i]), 0);
        now += blocks[i];
    }
    /* Other keys are not touched; a key is its exact bytes. */
    assert_int_equal(wait_of(t, "a:2", now), 0);
    assert_int_equal(wait_of(t, "a:1 ", now), 0);
    fail_n(t, "a:1", 1, now);
    assert_int_equal(wait_of(t, "a:1", now), 10000);
    /* A success clears the key: its free failures again. */
    throttle_forget(t, "a:1", 3);
    assert_int_equal(throttle_count(t), 0);
    assert_int_equal(wait_of(t, "a:1", now), 0);
    fail_n(t, "a:1", 3, now);
    assert_int_equal(wait_of(t, "a:1", now), 0);
    fail_n(t, "a:1", 1, now);
    assert_int_equal(wait_of(t, "a:1", now), 1000);
    throttle_forget(t, "nobody", 6);
    throttle_free(t);

    /* No free failures: the first one blocks. A block of 0 ms never blocks. */
    t = throttle_new(4, 0, 250, 1000);
    fail_n(t, "u:x", 1, 0);
    assert_int_equal(wait_of(t, "u:x", 0), 250);
    throttle_free(t);
    t = throttle_new(4, 0, 0, 0);
    fail_n(t, "u:x", 100, 0);
    assert_int_equal(wait_of(t, "u:x", 0), 0);
    throttle_free(t);
    /* Huge settings do not overflow. */
    t = throttle_new(4, 0, UINT64_MAX / 2, UINT64_MAX);
    fail_n(t, "u:x", 70, 10);
    assert_int_equal(wait_of(t, "u:x", 10), UINT64_MAX - 10);
    throttle_free(t);
}

static void test_binary_keys(void **state)
{
    (void)state;
    struct throttle *t = throttle_new(8, 0, 1000, 1000);
    const char a[] = {'u', ':', 0, 'x'}, b[] = {'u', ':', 0, 'y'};
    throttle_fail(t, a, sizeof(a), 0);
    assert_int_equal(throttle_wait(t, a, sizeof(a), 0), 1000);
    assert_int_equal(throttle_wait(t, b, sizeof(b), 0), 0);
    assert_int_equal(throttle_wait(t, a, 2, 0), 0);
    throttle_fail(t, "", 0, 0);
    assert_int_equal(throttle_wait(t, "", 0, 0), 1000);
    throttle_free(t);
}

static void test_idle_forgotten(void **state)
{
    (void)state;
    /* max 1 min: forgotten after 15 min idle. */
    struct throttle *t = throttle_new(8, 2, 1000, MIN);
    fail_n(t, "a:1", 2, 0);
    fail_n(t, "a:2", 5, 0);
    assert_int_equal(throttle_count(t), 2);
    fail_n(t, "a:1", 1, 15 * MIN - 1);
    assert_int_equal(wait_of(t, "a:1", 15 * MIN - 1), 1000); /* still remembered */
    assert_int_equal(wait_of(t, "a:2", 15 * MIN), 0);
    assert_int_equal(throttle_count(t), 1); /* a:2 forgotten */
    fail_n(t, "a:2", 2, 15 * MIN);
    assert_int_equal(wait_of(t, "a:2", 15 * MIN), 0); /* its free failures again */
    throttle_free(t);

    /* max 1 h: remembered for an hour, so a blocked key stays blocked. */
    t = throttle_new(8, 0, 60 * MIN, 60 * MIN);
    fail_n(t, "a:1", 1, 0);
    assert_int_equal(wait_of(t, "a:1", 30 * MIN), 30 * MIN);
    assert_int_equal(wait_of(t, "a:1", 60 * MIN - 1), 1);
    assert_int_equal(throttle_count(t), 1);
    assert_int_equal(wait_of(t, "a:1", 60 * MIN), 0);
    assert_int_equal(throttle_count(t), 0);
    throttle_free(t);
}

static void test_full_table(void **state)
{
    (void)state;
    struct throttle *t = throttle_new(4, 1, 1000, 60000);
    fail_n(t, "blocked", 2, 0);
    assert_int_equal(wait_of(t, "blocked", 0), 1000);
    fail_n(t, "slow", 2, 0); /* blocked until 1000 */
    /* A flood of new keys, one failure each, fills the table but keeps the blocked keys. */
    for (int i = 0; i < 1000; i++) {
        char key[32];
        snprintf(key, sizeof(key), "flood:%d", i);
        throttle_fail(t, key, strlen(key), 10);
        assert_true(throttle_count(t) <= 4);
    }
    assert_int_equal(throttle_count(t), 4);
    assert_int_equal(wait_of(t, "blocked", 10), 990);
    assert_int_equal(wait_of(t, "slow", 10), 990);
    /* The newest flood keys are there, the oldest went first. */
    fail_n(t, "flood:999", 1, 10);
    assert_int_equal(wait_of(t, "flood:999", 10), 1000);
    throttle_free(t);

    /* Every entry blocked: a new key is not recorded, and blocks survive. */
    t = throttle_new(2, 0, 1000, 1000);
    fail_n(t, "a", 1, 0);
    fail_n(t, "b", 1, 500);
    fail_n(t, "c", 1, 600);
    assert_int_equal(wait_of(t, "c", 600), 0);
    assert_int_equal(wait_of(t, "a", 600), 400);
    assert_int_equal(wait_of(t, "b", 600), 900);
    /* Once a's block is over, a new key may take its place. */
    fail_n(t, "c", 1, 1000);
    assert_int_equal(wait_of(t, "c", 1000), 1000);
    assert_int_equal(wait_of(t, "b", 1000), 500);
    assert_int_equal(throttle_count(t), 2);
    throttle_free(t);
}

struct worker {
    struct throttle *t;
    int seed;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 20000; i++) {
        char key[32];
        snprintf(key, sizeof(key), "k:%d", (i * 7 + w->seed) % 300);
        uint64_t now = (uint64_t)i;
        switch (i % 5) {
        case 0:
            throttle_forget(w->t, key, strlen(key));
            break;
        case 1:
        case 2:
            throttle_fail(w->t, key, strlen(key), now);
            break;
        default:
            (void)throttle_wait(w->t, key, strlen(key), now);
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct throttle *t = throttle_new(64, 2, 10, 100);
    pthread_t th[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){t, i * 13};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_true(throttle_count(t) <= 64);
    throttle_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new),         cmocka_unit_test(test_doubling),
        cmocka_unit_test(test_binary_keys), cmocka_unit_test(test_idle_forgotten),
        cmocka_unit_test(test_full_table),  cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
