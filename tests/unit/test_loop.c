/*
 * Unit tests for the loop's posted events (src/core/loop.c, loop_post): a posted io is called
 * at the next turn, after that turn's epoll events, with the events it was posted with; each
 * post is a call, in order; what a handler posts while posted events are dispatched waits for
 * the turn after; loop_forget drops a posted event, in the list being dispatched too; a pending
 * post keeps the next wait from blocking.
 */
#include "core/loop.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/defs.h"
#include "loop_fixture.h"

/* A tick of 10 s: a wait that blocks shows as a run that takes seconds. */
static struct loop *new_loop(void)
{
    return fixture_loop_new(10000);
}

/* One io and what happened to it. */
struct probe {
    struct loop_io io;
    struct loop *loop;
    int calls;
    uint32_t events[8];
    int seq[8];              /* the global order of each call */
    struct probe *post_next; /* posted by this one's handler on its first call */
    struct probe *forget;    /* forgotten by this one's handler on its first call */
    bool stop;               /* stops the loop when called */
    int fd[2];               /* a pipe, for probes that epoll watches */
};

static int order;

static void on_event(struct loop *loop, struct loop_io *io, uint32_t events)
{
    struct probe *p = container_of(io, struct probe, io);
    if (p->calls < 8) {
        p->events[p->calls] = events;
        p->seq[p->calls] = order++;
    }
    p->calls++;
    if (p->calls == 1 && p->post_next)
        assert_int_equal(loop_post(loop, &p->post_next->io, EPOLLIN), 0);
    if (p->calls == 1 && p->forget)
        loop_forget(loop, &p->forget->io);
    if (p->fd[0] > 0) {
        char b;
        assert_int_equal(read(p->fd[0], &b, 1), 1);
    }
    if (p->stop)
        loop_stop(loop);
}

static void probe_init(struct probe *p)
{
    memset(p, 0, sizeof(*p));
    p->io.fn = on_event;
    p->io.fd = -1;
}

static uint64_t run_ms(struct loop *loop)
{
    uint64_t t0 = clock_now_ns();
    assert_int_equal(loop_run(loop), 0);
    return (clock_now_ns() - t0) / 1000000u;
}

/* A posted io comes after the turn's epoll events, with its events, and without blocking. */
static void test_post_after_epoll_events(void **state)
{
    (void)state;
    order = 0;
    struct loop *loop = new_loop();
    struct probe ready, posted;
    probe_init(&ready);
    probe_init(&posted);
    assert_int_equal(pipe(ready.fd), 0);
    assert_int_equal(loop_add(loop, &ready.io, ready.fd[0], EPOLLIN, on_event), 0);
    assert_int_equal(write(ready.fd[1], "x", 1), 1);
    posted.stop = true;
    assert_int_equal(loop_post(loop, &posted.io, EPOLLIN | EPOLLMSG), 0);
    assert_true(run_ms(loop) < 2000);
    assert_int_equal(ready.calls, 1);
    assert_int_equal(posted.calls, 1);
    assert_int_equal(posted.events[0], EPOLLIN | EPOLLMSG);
    assert_true(ready.seq[0] < posted.seq[0]);
    loop_del(loop, &ready.io);
    close(ready.fd[0]);
    close(ready.fd[1]);
    loop_free(loop);
}

/* Each post is a call, in the order posted (the owner posts once: conn.c keeps a flag). */
static void test_posts_in_order(void **state)
{
    (void)state;
    order = 0;
    struct loop *loop = new_loop();
    struct probe p;
    probe_init(&p);
    p.stop = true;
    assert_int_equal(loop_post(loop, &p.io, EPOLLIN), 0);
    assert_int_equal(loop_post(loop, &p.io, EPOLLOUT), 0);
    assert_true(run_ms(loop) < 2000);
    assert_int_equal(p.calls, 2);
    assert_int_equal(p.events[0], EPOLLIN);
    assert_int_equal(p.events[1], EPOLLOUT);
    assert_true(p.seq[0] < p.seq[1]);
    loop_free(loop);
}

/* What a posted handler posts runs at the next turn (a handler posting itself again cannot
 * keep the loop in one turn), and many posts grow the list. */
static void test_post_from_posted_waits_a_turn(void **state)
{
    (void)state;
    order = 0;
    struct loop *loop = new_loop();
    struct probe first, second, many[40];
    probe_init(&first);
    probe_init(&second);
    first.post_next = &second;
    second.stop = true;
    assert_int_equal(loop_post(loop, &first.io, EPOLLIN), 0);
    for (int i = 0; i < 40; i++) {
        probe_init(&many[i]);
        assert_int_equal(loop_post(loop, &many[i].io, EPOLLIN), 0);
    }
    assert_true(run_ms(loop) < 2000);
    assert_int_equal(first.calls, 1);
    assert_int_equal(second.calls, 1);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(many[i].calls, 1);
        /* All of the first turn's posts ran before the one posted during it. */
        assert_true(many[i].seq[0] < second.seq[0]);
    }
    loop_free(loop);
}

/* loop_forget drops a posted event: one posted for the next turn, and one later in the list
 * being dispatched now. */
static void test_forget_drops_posts(void **state)
{
    (void)state;
    struct loop *loop = new_loop();
    struct probe a, b, c, last;
    probe_init(&a);
    probe_init(&b);
    probe_init(&c);
    probe_init(&last);
    a.forget = &b; /* b comes after a in this turn's list */
    assert_int_equal(loop_post(loop, &a.io, EPOLLIN), 0);
    assert_int_equal(loop_post(loop, &b.io, EPOLLIN), 0);
    assert_int_equal(loop_post(loop, &c.io, EPOLLIN), 0);
    loop_forget(loop, &c.io);
    /* The loop must stop: last runs in the same turn. */
    last.stop = true;
    assert_int_equal(loop_post(loop, &last.io, EPOLLIN), 0);
    assert_true(run_ms(loop) < 2000);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 0);
    assert_int_equal(c.calls, 0);
    assert_int_equal(last.calls, 1);
    loop_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_after_epoll_events),
        cmocka_unit_test(test_posts_in_order),
        cmocka_unit_test(test_post_from_posted_waits_a_turn),
        cmocka_unit_test(test_forget_drops_posts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
