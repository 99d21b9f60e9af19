/*
 * The event loop. See loop.h.
 */
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "defs.h"
#include "tick.h"

/* Events taken per epoll_wait; more simply wait for the next turn. */
#define LOOP_MAX_EVENTS 256
/* Timers expired per turn at most; the rest wait for the next turn, after its I/O, so that a
 * mass expiry (thousands of connections armed together, or a loop that was stalled) delays
 * the loop's active connections by a bounded amount. */
#define LOOP_EXPIRE_BUDGET 256

/* glibc has epoll_pwait2 (nanosecond timeouts) from 2.35, the kernel from 5.11. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#define LOOP_HAVE_PWAIT2 1
#endif

struct loop {
    int epfd;
    bool stopping;
    /* The clock read at this wake-up, in ms rounded down: deadlines are due once it reaches
     * them, so never early. */
    uint64_t now;
    struct timers *timers;
    struct timer_handler on_expire[TIMER_CLASSES_MAX];
    bool expire_more; /* the last expiry stopped at its budget with timers still due */
    bool pwait2;      /* epoll_pwait2 works here */
    struct tick tick;
    /* This turn's events; loop_forget() blanks entries for an fd removed mid-turn. */
    int nevents;
    struct epoll_event events[LOOP_MAX_EVENTS];
    /* Posted events (loop_post): for the next turn, and those being dispatched in this one. */
    struct posted {
        struct epoll_event *ev;
        int n, cap;
    } post, run;
};

static void read_clock(struct loop *loop)
{
    loop->now = clock_now_ns() / 1000000u;
}

struct loop *loop_new(const struct loop_config *cfg)
{
    if (cfg->tick_ms < 1 || !cfg->on_expire || !tick_ops_of(cfg->tick)) {
        errno = EINVAL;
        return NULL;
    }
    struct loop *loop = calloc(1, sizeof(*loop));
    if (!loop)
        return NULL;
    loop->epfd = -1;
    loop->tick.ops = tick_ops_of(cfg->tick);
    loop->tick.period_ms = cfg->tick_ms;
    loop->tick.io.fd = -1;
    for (int i = 0; i < cfg->nclasses && i < TIMER_CLASSES_MAX; i++) {
        if (!cfg->on_expire[i].fn) {
            free(loop);
            errno = EINVAL;
            return NULL;
        }
        loop->on_expire[i] = cfg->on_expire[i];
    }
#ifdef LOOP_HAVE_PWAIT2
    loop->pwait2 = true;
#endif
    read_clock(loop);
    loop->timers = timers_new(cfg->timer, cfg->timeouts_ms, cfg->nclasses,
                              loop->tick.ops->granularity(&loop->tick));
    if (!loop->timers)
        goto fail;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        goto fail;
    return loop;
fail:;
    int saved = errno;
    loop_free(loop);
    errno = saved;
    return NULL;
}

void loop_free(struct loop *loop)
{
    if (!loop)
        return;
    if (loop->epfd >= 0)
        close(loop->epfd);
    timers_free(loop->timers);
    free(loop->post.ev);
    free(loop->run.ev);
    free(loop);
}

int loop_add(struct loop *loop, struct loop_io *io, int fd, uint32_t events, loop_io_fn fn)
{
    io->fd = fd;
    io->events = events;
    io->fn = fn;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

int loop_mod(struct loop *loop, struct loop_io *io, uint32_t events)
{
    if (events == io->events)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) != 0)
        return -errno;
    io->events = events;
    return 0;
}

int loop_rearm(struct loop *loop, struct loop_io *io)
{
    struct epoll_event ev = {.events = io->events, .data.ptr = io};
    return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) == 0 ? 0 : -errno;
}

int loop_post(struct loop *loop, struct loop_io *io, uint32_t events)
{
    struct posted *p = &loop->post;
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 16;
        struct epoll_event *ev = realloc(p->ev, (size_t)cap * sizeof(*ev));
        if (!ev)
            return -ENOMEM;
        p->ev = ev;
        p->cap = cap;
    }
    p->ev[p->n++] = (struct epoll_event){.events = events, .data.ptr = io};
    return 0;
}

/* Blanks io's entries in n events. */
static void blank(struct epoll_event *ev, int n, const struct loop_io *io)
{
    for (int i = 0; i < n; i++) {
        if (ev[i].data.ptr == io)
            ev[i].data.ptr = NULL;
    }
}

/* Dispatches n events; entries blanked meanwhile are skipped. */
static void dispatch(struct loop *loop, const struct epoll_event *ev, int n)
{
    for (int i = 0; i < n; i++) {
        struct loop_io *io = ev[i].data.ptr;
        if (io)
            io->fn(loop, io, ev[i].events);
    }
}

void loop_del(struct loop *loop, struct loop_io *io)
{
    /* Failure means the fd was never added or is already closed: nothing left to remove. */
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    loop_forget(loop, io);
}

void loop_forget(struct loop *loop, struct loop_io *io)
{
    /* The owner may be freed right after this; later events of this turn must not reach it.
     * A turn holds at most LOOP_MAX_EVENTS entries, so the scan is short and cache-hot; posted
     * events are few. */
    blank(loop->events, loop->nevents, io);
    blank(loop->post.ev, loop->post.n, io);
    blank(loop->run.ev, loop->run.n, io);
}

/* One epoll wait of at most ns (-1: no limit): to the nanosecond with epoll_pwait2, else in ms
 * rounded up, never shorter than asked. */
static int loop_wait(struct loop *loop, int64_t ns)
{
#ifdef LOOP_HAVE_PWAIT2
    if (loop->pwait2) {
        struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000),
                              .tv_nsec = (long)(ns % 1000000000)};
        int n = epoll_pwait2(loop->epfd, loop->events, LOOP_MAX_EVENTS, ns < 0 ? NULL : &ts, NULL);
        if (n >= 0 || (errno != ENOSYS && errno != EPERM))
            return n;
        /* A kernel before 5.11, or a seccomp filter that does not know it (EPERM). */
        loop->pwait2 = false;
    }
#endif
    int ms = ns < 0                             ? -1
             : ns >= (int64_t)INT_MAX * 1000000 ? INT_MAX
                                                : (int)((ns + 999999) / 1000000);
    return epoll_wait(loop->epfd, loop->events, LOOP_MAX_EVENTS, ms);
}

int loop_run(struct loop *loop)
{
    struct tick *tick = &loop->tick;
    int rc = tick->ops->start(tick, loop);
    if (rc != 0)
        return rc;
    loop->stopping = false;
    while (!loop->stopping) {
        bool busy = loop->expire_more || loop->post.n > 0;
        int n = loop_wait(loop, busy ? 0 : tick->ops->wait_ns(tick, loop));
        read_clock(loop);
        if (n < 0) {
            /* A signal interrupted the wait; its byte is waiting in the socketpair. */
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        loop->nevents = n;
        dispatch(loop, loop->events, n);
        loop->nevents = 0;
        if (loop->post.n > 0) {
            /* What this turn posts waits for the next one. */
            struct posted p = loop->run;
            loop->run = loop->post;
            loop->post = (struct posted){p.ev, 0, p.cap};
            dispatch(loop, loop->run.ev, loop->run.n);
            loop->run.n = 0;
        }
        /* I/O first, then expiry, as in the seeds: a connection that just spoke is not closed. */
        if (tick->ops->take_due(tick, loop) || loop->expire_more)
            loop->expire_more = timers_expire(loop->timers, loop->now, LOOP_EXPIRE_BUDGET,
                                              loop->on_expire) == LOOP_EXPIRE_BUDGET;
    }
    tick->ops->stop(tick, loop);
    return rc;
}

void loop_stop(struct loop *loop)
{
    loop->stopping = true;
}

void loop_tick(struct loop *loop)
{
    loop->tick.due = true;
}

uint64_t loop_now(const struct loop *loop)
{
    return loop->now;
}

struct timers *loop_timers(struct loop *loop)
{
    return loop->timers;
}

void loop_arm(struct loop *loop, struct timer_node *node, int cls)
{
    /* A fresh reading, not the turn's: bytes read late in a long turn arrived after it began,
     * and a deadline armed from the turn's start would close that client early. */
    timers_arm(loop->timers, node, cls, (clock_now_ns() + 999999u) / 1000000u);
}
