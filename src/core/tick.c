/*
 * Tick sources. See tick.h.
 */
#include "tick.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "defs.h"
#include "sig.h"

/* Waits longer than this are cut short (see sleep_ns): 0.1 % of them is more than the timer
 * slack every wait has anyway (50 µs by default). */
#define TICK_LONG_WAIT_NS (50 * 1000000ull)

/*
 * How long to sleep to wake at a deadline ns from now. The kernel may end a wait late by its
 * timer slack: the thread's (PR_SET_TIMERSLACK, 50 µs by default) or 0.1 % of the wait (0.5 %
 * for a niced thread), whichever is larger (select_estimate_accuracy()): 15 ms for the 15 s
 * idle timeout. A long wait therefore asks for 1/128 less, ends early, and the next turn
 * sleeps the rest (whose slack is 1/128 as large): one or two more wake-ups per long sleep
 * instead of a close that late.
 */
static int64_t sleep_ns(uint64_t ns)
{
    if (ns > TICK_LONG_WAIT_NS)
        ns -= ns / 128;
    return ns > INT64_MAX ? INT64_MAX : (int64_t)ns;
}

/* ns from a fresh clock reading to the earliest deadline (ms): 0 when due, -1 when none. The
 * loop's cached clock was read when this turn began; the turn's work since then (I/O, expiries)
 * would make a timeout computed from it oversleep by as much. One vDSO clock read. */
static int64_t ns_to_next(uint64_t next_ms)
{
    if (next_ms == TIMER_NEVER)
        return -1;
    uint64_t now = clock_now_ns();
    uint64_t due = next_ms > UINT64_MAX / 1000000u ? UINT64_MAX : next_ms * 1000000u;
    return due <= now ? 0 : sleep_ns(due - now);
}

/* epoll: no fd of its own; the wait ends at the earliest deadline. */

static uint64_t period_granularity(const struct tick *tick)
{
    return tick->period_ms;
}

static int epoll_start(struct tick *tick, struct loop *loop)
{
    (void)tick;
    (void)loop;
    return 0;
}

static void epoll_stop(struct tick *tick, struct loop *loop)
{
    (void)tick;
    (void)loop;
}

static int64_t epoll_wait_ns(struct tick *tick, struct loop *loop)
{
    (void)tick;
    return ns_to_next(timers_next_deadline(loop_timers(loop)));
}

static bool epoll_take_due(struct tick *tick, struct loop *loop)
{
    (void)tick;
    return timers_next_deadline(loop_timers(loop)) <= loop_now(loop);
}

/* Sources that set tick->due from an event (timerfd readable, SIGALRM) and block otherwise. */

static int64_t block_wait_ns(struct tick *tick, struct loop *loop)
{
    (void)loop;
    return tick->due ? 0 : -1;
}

static bool flag_take_due(struct tick *tick, struct loop *loop)
{
    (void)loop;
    bool due = tick->due;
    tick->due = false;
    return due;
}

/* timerfd: one-shot, absolute, set for the earliest deadline (deadlines fall on ticks). */

static void timerfd_ready(struct loop *loop, struct loop_io *io, uint32_t events)
{
    (void)events;
    struct tick *tick = container_of(io, struct tick, io);
    uint64_t expirations;
    /* EAGAIN means a spurious wake-up; the timer is still set. */
    if (read(io->fd, &expirations, sizeof(expirations)) == (ssize_t)sizeof(expirations)) {
        tick->armed = TIMER_NEVER;
        loop_tick(loop);
    }
}

static int timerfd_start(struct tick *tick, struct loop *loop)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    tick->armed = TIMER_NEVER;
    int rc = loop_add(loop, &tick->io, fd, EPOLLIN, timerfd_ready);
    if (rc != 0)
        close(fd);
    return rc;
}

/*
 * Sets the timerfd only when the earliest deadline comes before what it is set for. Under load
 * the earliest deadline mostly moves later (its connection spoke and was re-armed); the timer
 * then fires early once and is set again, instead of one syscall per move.
 */
static int64_t timerfd_wait_ns(struct tick *tick, struct loop *loop)
{
    if (tick->due)
        return 0;
    uint64_t next = timers_next_deadline(loop_timers(loop));
    if (next >= tick->armed)
        return -1;
    uint64_t ns = next > UINT64_MAX / 1000000u ? UINT64_MAX / 2 : next * 1000000u;
    struct itimerspec its = {
        .it_value = {.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)}};
    if (ns == 0)
        its.it_value.tv_nsec = 1; /* zero would disarm it */
    if (timerfd_settime(tick->io.fd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
        return ns_to_next(next); /* epoll's own timeout does the job instead */
    tick->armed = next;
    return -1;
}

static void timerfd_stop(struct tick *tick, struct loop *loop)
{
    if (tick->io.fd < 0)
        return;
    loop_del(loop, &tick->io);
    close(tick->io.fd);
    tick->io.fd = -1;
}

/* alarm: the seeds' SIGALRM every period, re-armed after each tick like their timer_handler.
 * setitimer() is alarm() with ms resolution; the signal itself arrives through sig.c. */

static uint64_t unit_granularity(const struct tick *tick)
{
    (void)tick;
    return 1;
}

static int alarm_set(uint64_t ms)
{
    struct itimerval itv = {
        .it_value = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000 * 1000)}};
    return setitimer(ITIMER_REAL, &itv, NULL) == 0 ? 0 : -errno;
}

static int alarm_start(struct tick *tick, struct loop *loop)
{
    /* Without the unified event source SIGALRM would kill the process; only its loop ticks. */
    if (sig_source_loop() != loop)
        return -EINVAL;
    return alarm_set(tick->period_ms);
}

static void alarm_stop(struct tick *tick, struct loop *loop)
{
    (void)tick;
    (void)loop;
    alarm_set(0);
}

static bool alarm_take_due(struct tick *tick, struct loop *loop)
{
    if (!flag_take_due(tick, loop))
        return false;
    alarm_set(tick->period_ms);
    return true;
}

static const struct tick_ops tick_kinds[] = {
    [TICK_EPOLL] = {"epoll", period_granularity, epoll_start, epoll_stop, epoll_wait_ns,
                    epoll_take_due},
    [TICK_TIMERFD] = {"timerfd", period_granularity, timerfd_start, timerfd_stop, timerfd_wait_ns,
                      flag_take_due},
    [TICK_ALARM] = {"alarm", unit_granularity, alarm_start, alarm_stop, block_wait_ns,
                    alarm_take_due},
};

int tick_kind_parse(const char *name, enum tick_kind *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(tick_kinds); i++) {
        if (strcmp(name, tick_kinds[i].name) == 0) {
            *out = (enum tick_kind)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *tick_kind_name(enum tick_kind kind)
{
    return tick_kinds[kind].name;
}

const struct tick_ops *tick_ops_of(enum tick_kind kind)
{
    return (unsigned)kind < ARRAY_SIZE(tick_kinds) ? &tick_kinds[kind] : NULL;
}
