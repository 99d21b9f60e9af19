/*
 * A loop for unit tests that need one but no timers (test_loop.c, test_pool.c): include after
 * <cmocka.h>.
 */
#ifndef TINYWEB_TESTS_UNIT_LOOP_FIXTURE_H
#define TINYWEB_TESTS_UNIT_LOOP_FIXTURE_H

#include <stdint.h>

#include "core/loop.h"

static inline void fixture_no_timers(struct timer_node *node, int cls, void *ctx)
{
    (void)node;
    (void)cls;
    (void)ctx;
}

/* A loop with one unused timeout class and an epoll tick of tick_ms: it waits for its fds,
 * up to tick_ms at a time. */
static inline struct loop *fixture_loop_new(uint64_t tick_ms)
{
    static const uint64_t unused_ms = 1000;
    static const struct timer_handler no_handler = {fixture_no_timers, NULL};
    struct loop_config lc = {.timer = TIMER_FIFO,
                             .tick = TICK_EPOLL,
                             .tick_ms = tick_ms,
                             .timeouts_ms = &unused_ms,
                             .nclasses = 1,
                             .on_expire = &no_handler};
    struct loop *loop = loop_new(&lc);
    assert_non_null(loop);
    return loop;
}

#endif
