/*
 * Tick sources: what wakes a loop to expire its timers. One small ops table per source.
 *
 * - epoll (default): the wait's timeout is the time from a fresh clock reading to the earliest
 *   deadline, in nanoseconds (epoll_pwait2; epoll_wait's milliseconds, rounded up, on kernels
 *   before 5.11); none when nothing is armed. No extra fd, no extra syscall. Deadlines are
 *   rounded up to the tick, so expiries are batched at tick boundaries.
 * - timerfd: a per-loop timerfd in the same epoll set, set (absolute, CLOCK_MONOTONIC) for the
 *   earliest deadline whenever that comes earlier than what it is set for; a timer firing before
 *   the current earliest deadline (armed timers moved later meanwhile) only sets it again. It
 *   never wakes a loop with nothing due, and a timerfd has no timer slack.
 * - alarm: the seeds' SIGALRM every tick, re-armed after every tick and delivered through the
 *   unified event source (sig.h). SIGALRM is process-wide, so only one loop may use it.
 *
 * Whatever the source, a timer of duration T expires no earlier than T and no later than
 * T + one tick after it was armed, plus the time the loop takes to get there.
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
    uint64_t armed;    /* the deadline (ms) the timerfd is set for, or TIMER_NEVER */
};

struct tick_ops {
    const char *name;
    /* Deadlines are rounded up to this many ms. */
    uint64_t (*granularity)(const struct tick *tick);
    /* Starts ticking on loop. 0 or -errno. */
    int (*start)(struct tick *tick, struct loop *loop);
    void (*stop)(struct tick *tick, struct loop *loop);
    /* How long the loop may sleep in epoll before its next expiry, in ns, or -1 for no limit. */
    int64_t (*wait_ns)(struct tick *tick, struct loop *loop);
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
