/*
 * Tick sources. See tick.h.
 */
#include "tick.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "defs.h"
#include "sig.h"

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

static int epoll_wait_ms(struct tick *tick, struct loop *loop)
{
    (void)tick;
    uint64_t next = timers_next_deadline(loop_timers(loop));
    uint64_t now = loop_now(loop);
    if (next == TIMER_NEVER)
        return -1;
    if (next <= now)
        return 0;
    /* now is truncated to the ms, so waiting next - now ms never wakes before next. */
    return next - now > INT_MAX ? INT_MAX : (int)(next - now);
}

static bool epoll_take_due(struct tick *tick, struct loop *loop)
{
    (void)tick;
    return timers_next_deadline(loop_timers(loop)) <= loop_now(loop);
}

/* Sources that set tick->due from an event (timerfd readable, SIGALRM) and block otherwise. */

static int block_wait_ms(struct tick *tick, struct loop *loop)
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

/* timerfd: periodic, on absolute multiples of the period, so rounded deadlines fall on ticks. */

static void timerfd_ready(struct loop *loop, struct loop_io *io, uint32_t events)
{
    (void)events;
    uint64_t expirations;
    /* EAGAIN means a spurious wake-up; the tick is taken either way on the next read. */
    if (read(io->fd, &expirations, sizeof(expirations)) == (ssize_t)sizeof(expirations))
        loop_tick(loop);
}

static int timerfd_start(struct tick *tick, struct loop *loop)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    uint64_t period_ns = tick->period_ms * 1000000u;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    uint64_t first = (now_ns / period_ns + 1) * period_ns;
    struct itimerspec its = {
        .it_interval = {.tv_sec = (time_t)(period_ns / 1000000000u),
                        .tv_nsec = (long)(period_ns % 1000000000u)},
        .it_value = {.tv_sec = (time_t)(first / 1000000000u),
                     .tv_nsec = (long)(first % 1000000000u)},
    };
    int rc = 0;
    if (timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
        rc = -errno;
    else
        rc = loop_add(loop, &tick->io, fd, EPOLLIN, timerfd_ready);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    return 0;
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
    [TICK_EPOLL] = {"epoll", period_granularity, epoll_start, epoll_stop, epoll_wait_ms,
                    epoll_take_due},
    [TICK_TIMERFD] = {"timerfd", period_granularity, timerfd_start, timerfd_stop, block_wait_ms,
                      flag_take_due},
    [TICK_ALARM] = {"alarm", unit_granularity, alarm_start, alarm_stop, block_wait_ms,
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
