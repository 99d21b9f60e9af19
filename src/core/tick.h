/*
 * Tick sources: what wakes a loop to expire its timers. One small ops table per source.
 *
 * - epoll (default): epoll_wait's timeout is the time to the earliest deadline, rounded up;
 *   -1 when nothing is armed. No extra fd, no extra syscall. Deadlines are rounded up to the
 *   tick, so expiries are batched at tick boundaries.
 * - timerfd: a per-loop timerfd in the same epoll set, firing on absolute multiples of the tick
 *   so a deadline rounded up to the tick is expired by the tick at that very instant.
 * - alarm: the seeds' SIGALRM, re-armed after every tick and delivered through the unified event
 *   source (sig.h). SIGALRM is process-wide, so only one loop may use it.
 *
 * Whatever the source, a timer of duration T expires no earlier than T and no later than
 * T + one tick after it was armed.
 */
#ifndef TINYWEB_CORE_TICK_H
#define TINYWEB_CORE_TICK_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"

struct tick_ops;

/* A loop's tick source and its state. Embedded in the loop. */
struct tick {
    const struct tick_ops *ops;
    uint64_t period_ms;
    bool due;          /* a timerfd or SIGALRM tick arrived and awaits expiry */
    struct loop_io io; /* the timerfd */
};

struct tick_ops {
    const char *name;
    /* Deadlines are rounded up to this many ms. */
    uint64_t (*granularity)(const struct tick *tick);
    /* Starts ticking on loop. 0 or -errno. */
    int (*start)(struct tick *tick, struct loop *loop);
    void (*stop)(struct tick *tick, struct loop *loop);
    /* The epoll_wait timeout in ms, or -1. */
    int (*wait_ms)(struct tick *tick, struct loop *loop);
    /* True when the loop should expire its timers now; consumes the tick. */
    bool (*take_due)(struct tick *tick, struct loop *loop);
};

/* Parses "epoll", "timerfd" or "alarm". Returns 0, or -EINVAL for an unknown name. */
int tick_kind_parse(const char *name, enum tick_kind *out);

/* The name of a kind, as tick_kind_parse() accepts it. */
const char *tick_kind_name(enum tick_kind kind);

/* The ops table of a kind. */
const struct tick_ops *tick_ops_of(enum tick_kind kind);

#endif
