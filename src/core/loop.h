/*
 * The event loop: one epoll set through which everything the loop reacts to arrives (sockets,
 * the unified event source's signals, timerfd ticks), the loop's timers, and its cached clock.
 *
 * Each turn: wait in epoll (epoll_pwait2 where the kernel has it: the tick source's timeout to
 * the nanosecond), read the monotonic clock once, dispatch I/O, then expire due timers, as in the
 * seeds, at most 256 per turn (the rest after the next turn's I/O). A loop is owned by one
 * thread; nothing here is thread-safe.
 */
#ifndef TINYWEB_CORE_LOOP_H
#define TINYWEB_CORE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "timer.h"

struct loop;
struct loop_io;

/* Called with the epoll events that fired for io (EPOLLIN, EPOLLOUT, EPOLLERR, ...). */
typedef void (*loop_io_fn)(struct loop *loop, struct loop_io *io, uint32_t events);

/* An fd registered with a loop, embedded in its owner (recover it with container_of). */
struct loop_io {
    int fd;
    uint32_t events; /* as registered, EPOLLET included for edge-triggered fds */
    loop_io_fn fn;
};

/* The tick sources, described in tick.h. */
enum tick_kind { TICK_EPOLL, TICK_TIMERFD, TICK_ALARM };

struct loop_config {
    enum timer_kind timer;       /* the timer container */
    enum tick_kind tick;         /* what wakes the loop to expire timers */
    uint64_t tick_ms;            /* the tick period and deadline granularity, >= 1 */
    const uint64_t *timeouts_ms; /* one duration per timeout class */
    int nclasses;                /* 1..TIMER_CLASSES_MAX */
    /* One handler per class, called for each of its expired timers (copied by loop_new). */
    const struct timer_handler *on_expire;
};

/* Creates a loop. Returns NULL with errno set (EINVAL for a bad config). */
struct loop *loop_new(const struct loop_config *cfg);

/* Frees the loop. Every fd must have been removed and every timer cancelled. */
void loop_free(struct loop *loop);

/* Registers fd for events (add EPOLLET for edge-triggered) with fn. 0 or -errno. */
int loop_add(struct loop *loop, struct loop_io *io, int fd, uint32_t events, loop_io_fn fn);

/* Changes the events io waits for. 0 or -errno. */
int loop_mod(struct loop *loop, struct loop_io *io, uint32_t events);

/* Has epoll report io again next turn if it is still ready (EPOLL_CTL_MOD re-checks readiness,
 * for edge-triggered fds too): an owner that stops before draining an fd, to be fair to the
 * others, yields with it. One syscall. 0 or -errno. */
int loop_rearm(struct loop *loop, struct loop_io *io);

/*
 * Calls io->fn with events at the next turn, after that turn's epoll events, as if epoll had
 * reported them: for bytes an owner holds in its own buffers, which epoll cannot see (records a
 * TLS read took from the socket and did not hand out yet). Posting io again before then calls it
 * again: the owner keeps track (O(1) per post). The next wait does not block. 0 or -ENOMEM.
 */
int loop_post(struct loop *loop, struct loop_io *io, uint32_t events);

/* Removes io; events of this turn not yet dispatched for it are dropped. O(events of the turn). */
void loop_del(struct loop *loop, struct loop_io *io);

/* Forgets io without epoll_ctl, for an fd about to be closed that no other fd refers to (close
 * then takes it out of the epoll set): drops this turn's pending events for it, and its posted
 * ones. */
void loop_forget(struct loop *loop, struct loop_io *io);

/* Runs until loop_stop(). Returns 0, or -errno if epoll or the tick source failed. */
int loop_run(struct loop *loop);

/* Makes loop_run() return after the current turn. */
void loop_stop(struct loop *loop);

/* A tick arrived from outside the loop (SIGALRM through the unified event source). */
void loop_tick(struct loop *loop);

/* The monotonic time in ms, read once per wake-up. */
uint64_t loop_now(const struct loop *loop);

/* The loop's timer container; prefer loop_arm(), which arms from a fresh clock, rounded up. */
struct timers *loop_timers(struct loop *loop);

/* Arms node in class cls from the clock read now and rounded up to the next ms, so that it never
 * expires sooner than its duration after the activity. One vDSO clock read; O(1) with fifo. */
void loop_arm(struct loop *loop, struct timer_node *node, int cls);

#endif
