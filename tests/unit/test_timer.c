/*
 * Unit tests for the timer containers (src/core/timer.c, timer_fifo.c, timer_list.c).
 *
 * Every behavioural test runs once per kind (TIMER_FIFO and TIMER_LIST): the kind is the test's
 * cmocka state. The clock is fake: each call is handed `now` explicitly, and the clock given to
 * timers_arm() never goes back, as the fifo requires. A randomized differential test then drives
 * a fifo and a list container, plus a plain model of the expected deadlines, with one sequence of
 * operations and checks that all three agree after every step.
 */
#include "core/timer.h"

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The handlers timers_expire() is given: one for every class (single-threaded use). */
static struct timer_handler on[TIMER_CLASSES_MAX];

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The most callbacks one timers_expire() call of a unit test may record. */
#define MAX_FIRED 256

static enum timer_kind kind_fifo = TIMER_FIFO;
static enum timer_kind kind_list = TIMER_LIST;

/* An owner of a timer, with what its expiry callback should do. */
struct owner {
    int id;
    struct timer_node node;
    int rearm_cls;        /* The callback re-arms the node in this class, or -1. */
    struct owner *cancel; /* The callback cancels this owner's timer, or NULL. */
    bool free_cancel;     /* The callback also frees the cancelled owner (malloc'd). */
    bool free_self;       /* The callback frees this owner (malloc'd), last. */
};

#define OWNER_OF(n) ((struct owner *)((char *)(n)-offsetof(struct owner, node)))

/* What one timers_expire() call did, recorded by on_expire(). */
struct fired {
    struct timers *t;
    uint64_t now;
    size_t n;
    int id[MAX_FIRED];
    int cls[MAX_FIRED];
    size_t count_in_cb[MAX_FIRED]; /* timers_count() as the callback saw it. */
};

static enum timer_kind kind_of(void **state)
{
    return *(const enum timer_kind *)*state;
}

static struct timers *new_timers(enum timer_kind kind, const uint64_t *durations, int n,
                                 uint64_t granularity)
{
    struct timers *t = timers_new(kind, durations, n, granularity);
    assert_non_null(t);
    assert_int_equal(timers_count(t), 0);
    assert_true(timers_next_deadline(t) == TIMER_NEVER);
    assert_int_equal(timers_validate(t), 0);
    return t;
}

static void owner_init(struct owner *o, int id)
{
    memset(o, 0, sizeof(*o));
    o->id = id;
    o->rearm_cls = -1;
    timer_node_init(&o->node);
}

static struct owner *owner_new(int id)
{
    struct owner *o = malloc(sizeof(*o));
    assert_non_null(o);
    owner_init(o, id);
    return o;
}

static void on_expire(struct timer_node *node, int cls, void *ctx)
{
    struct fired *f = ctx;
    struct owner *o = OWNER_OF(node);

    /* The node is unlinked before its callback runs. */
    assert_false(timer_node_armed(node));
    assert_true(f->n < MAX_FIRED);
    f->id[f->n] = o->id;
    f->cls[f->n] = cls;
    f->count_in_cb[f->n] = timers_count(f->t);
    f->n++;

    if (o->cancel) {
        struct owner *victim = o->cancel;
        timers_cancel(f->t, &victim->node);
        assert_false(timer_node_armed(&victim->node));
        if (o->free_cancel)
            free(victim);
    }
    if (o->rearm_cls >= 0) {
        timers_arm(f->t, node, o->rearm_cls, f->now);
        assert_true(timer_node_armed(node));
        assert_int_equal(node->cls, o->rearm_cls);
    }
    if (o->free_self)
        free(o);
}

/* Calls timers_expire(t, now) and checks that its return value matches the callbacks. */
static void expire_at(struct timers *t, uint64_t now, struct fired *f)
{
    memset(f, 0, sizeof(*f));
    f->t = t;
    f->now = now;
    size_t n =
        timers_expire(t, now, SIZE_MAX, timer_handlers_fill(on, TIMER_CLASSES_MAX, on_expire, f));
    assert_int_equal(n, f->n);
    assert_int_equal(timers_validate(t), 0);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Checks that exactly the owners ids[0..n) fired, in any order. */
static void assert_fired_set(const struct fired *f, const int *ids, size_t n)
{
    int got[MAX_FIRED], want[MAX_FIRED];

    assert_int_equal(f->n, n);
    assert_true(n <= MAX_FIRED);
    memcpy(got, f->id, n * sizeof(int));
    memcpy(want, ids, n * sizeof(int));
    qsort(got, n, sizeof(int), cmp_int);
    qsort(want, n, sizeof(int), cmp_int);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(got[i], want[i]);
}

/* Returns the class owner id was expired in by the last call; fails if it did not fire. */
static int fired_cls(const struct fired *f, int id)
{
    for (size_t i = 0; i < f->n; i++) {
        if (f->id[i] == id)
            return f->cls[i];
    }
    fail_msg("owner %d did not fire", id);
    return -1;
}

/* The smallest multiple of g that is >= x, computed otherwise than the container does. */
static uint64_t round_up(uint64_t x, uint64_t g)
{
    return x % g == 0 ? x : x - x % g + g;
}

/*
 * 1. Ordering: timers armed at increasing times expire in deadline order, each exactly at its
 * deadline and not a millisecond before, and the next deadline is always the earliest one.
 */
static void test_ordering(void **state)
{
    const uint64_t dur[] = {100};
    struct timers *t = new_timers(kind_of(state), dur, 1, 1);
    struct owner o[5];
    struct fired f;

    for (int i = 0; i < 5; i++) {
        owner_init(&o[i], i);
        timers_arm(t, &o[i].node, 0, (uint64_t)i * 3);
        assert_true(timer_node_armed(&o[i].node));
        assert_int_equal(o[i].node.deadline, 100 + i * 3);
        assert_int_equal(o[i].node.cls, 0);
        assert_int_equal(timers_count(t), (size_t)i + 1);
        assert_int_equal(timers_next_deadline(t), 100);
    }

    for (int i = 0; i < 5; i++) {
        uint64_t deadline = 100 + (uint64_t)i * 3;
        expire_at(t, deadline - 1, &f);
        assert_int_equal(f.n, 0);
        assert_int_equal(timers_count(t), 5 - (size_t)i);
        assert_int_equal(timers_next_deadline(t), deadline);

        expire_at(t, deadline, &f);
        assert_int_equal(f.n, 1);
        assert_int_equal(f.id[0], i);
        assert_int_equal(f.cls[0], 0);
        assert_false(timer_node_armed(&o[i].node));
        assert_int_equal(timers_count(t), 4 - (size_t)i);
        if (i < 4)
            assert_int_equal(timers_next_deadline(t), deadline + 3);
    }
    assert_true(timers_next_deadline(t) == TIMER_NEVER);

    /* Armed in order, expired all at once: the callbacks run in deadline order. */
    for (int i = 0; i < 5; i++)
        timers_arm(t, &o[i].node, 0, 1000 + (uint64_t)i);
    expire_at(t, 5000, &f);
    assert_int_equal(f.n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(f.id[i], i);
    assert_int_equal(timers_count(t), 0);
    assert_true(timers_next_deadline(t) == TIMER_NEVER);

    /* Expiring an empty container is a no-op. */
    expire_at(t, UINT64_MAX - 1, &f);
    assert_int_equal(f.n, 0);
    timers_free(t);
}

/* Arms one node at now in class cls of a fresh container and checks where its deadline lands. */
static void check_rounding(enum timer_kind kind, const uint64_t *dur, int ndur, uint64_t g, int cls,
                           uint64_t now)
{
    struct timers *t = new_timers(kind, dur, ndur, g);
    struct owner o;
    struct fired f;
    uint64_t want = round_up(now + dur[cls], g);

    owner_init(&o, 1);
    timers_arm(t, &o.node, cls, now);
    assert_int_equal(o.node.deadline, want);
    assert_true(o.node.deadline >= now + dur[cls]);
    assert_true(o.node.deadline - (now + dur[cls]) < g);
    assert_int_equal(o.node.deadline % g, 0);
    assert_int_equal(timers_next_deadline(t), want);

    /* It never fires before now + duration, nor before its rounded deadline. */
    expire_at(t, now + dur[cls] - 1, &f);
    assert_int_equal(f.n, 0);
    expire_at(t, want - 1, &f);
    assert_int_equal(f.n, 0);
    assert_true(timer_node_armed(&o.node));
    expire_at(t, want, &f);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.cls[0], cls);
    timers_free(t);
}

/* 2. Rounding: deadline = ceil((now + duration) / g) * g, never early; lazy re-arm stays put. */
static void test_rounding(void **state)
{
    enum timer_kind kind = kind_of(state);
    const uint64_t dur[] = {10, 3, 1};

    for (uint64_t now = 0; now < 40; now++) {
        for (int cls = 0; cls < 3; cls++) {
            check_rounding(kind, dur, 3, 1, cls, now);
            check_rounding(kind, dur, 3, 7, cls, now);
            check_rounding(kind, dur, 3, 10, cls, now);
        }
    }

    /* Spot values, so that the formula itself is pinned down. */
    struct timers *t = new_timers(kind, dur, 3, 7);
    struct owner a, b;
    owner_init(&a, 1);
    owner_init(&b, 2);
    timers_arm(t, &a.node, 0, 0); /* ceil(10 / 7) * 7 */
    assert_int_equal(a.node.deadline, 14);
    timers_arm(t, &a.node, 0, 4); /* ceil(14 / 7) * 7: exact multiple */
    assert_int_equal(a.node.deadline, 14);
    timers_arm(t, &a.node, 0, 5); /* ceil(15 / 7) * 7 */
    assert_int_equal(a.node.deadline, 21);
    timers_arm(t, &b.node, 1, 5); /* ceil(8 / 7) * 7 */
    assert_int_equal(b.node.deadline, 14);
    assert_int_equal(timers_next_deadline(t), 14);
    assert_int_equal(timers_count(t), 2);
    timers_cancel(t, &a.node);
    timers_cancel(t, &b.node);
    timers_free(t);
}

static void test_lazy_rearm(void **state)
{
    const uint64_t dur[] = {10, 15};
    struct timers *t = new_timers(kind_of(state), dur, 2, 10);
    struct owner a, b;
    struct fired f;

    owner_init(&a, 1);
    owner_init(&b, 2);
    timers_arm(t, &a.node, 0, 1); /* ceil(11 / 10) * 10 = 20 */
    timers_arm(t, &b.node, 0, 2); /* 20 as well, queued behind a */
    assert_int_equal(a.node.deadline, 20);
    assert_int_equal(b.node.deadline, 20);

    /*
     * Re-arming a at 5 and 10 rounds to the same deadline, so nothing moves: a stays ahead of b.
     * A real move would put it behind b (the fifo appends, the list inserts after equals).
     */
    timers_arm(t, &a.node, 0, 5);
    timers_arm(t, &a.node, 0, 10);
    assert_int_equal(a.node.deadline, 20);
    assert_int_equal(a.node.cls, 0);
    assert_int_equal(timers_count(t), 2);
    expire_at(t, 19, &f);
    assert_int_equal(f.n, 0);
    expire_at(t, 20, &f);
    assert_int_equal(f.n, 2);
    assert_int_equal(f.id[0], 1);
    assert_int_equal(f.id[1], 2);

    /* A re-arm to a later rounded deadline does move: a at 50 now expires after b at 40. */
    timers_arm(t, &a.node, 0, 21); /* 40 */
    timers_arm(t, &b.node, 0, 21); /* 40 */
    timers_arm(t, &a.node, 0, 31); /* 50 */
    assert_int_equal(a.node.deadline, 50);
    expire_at(t, 40, &f);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.id[0], 2);
    expire_at(t, 49, &f);
    assert_int_equal(f.n, 0);
    expire_at(t, 50, &f);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.id[0], 1);

    /* The same rounded deadline in another class is not lazy: the class changes. */
    timers_arm(t, &a.node, 0, 51); /* 70 */
    timers_arm(t, &a.node, 1, 52); /* ceil(67 / 10) * 10 = 70, class 1 */
    assert_int_equal(a.node.deadline, 70);
    assert_int_equal(a.node.cls, 1);
    assert_int_equal(timers_count(t), 1);
    expire_at(t, 70, &f);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.cls[0], 1);
    timers_free(t);
}

/* 3. Adjust: activity pushes the deadline out; another class moves the timer, either way. */
static void test_adjust(void **state)
{
    const uint64_t dur[] = {10, 30, 5};
    struct timers *t = new_timers(kind_of(state), dur, 3, 1);
    struct owner a, b, c;
    struct fired f;

    owner_init(&a, 1);
    owner_init(&b, 2);
    owner_init(&c, 3);

    /* Activity on a at 5 moves its deadline from 10 to 15: it does not fire at 10 or 14. */
    timers_arm(t, &a.node, 0, 0);
    timers_arm(t, &b.node, 0, 1);
    timers_arm(t, &c.node, 0, 2);
    assert_int_equal(timers_next_deadline(t), 10);
    timers_arm(t, &a.node, 0, 5);
    assert_int_equal(a.node.deadline, 15);
    assert_int_equal(timers_count(t), 3);
    assert_int_equal(timers_next_deadline(t), 11);
    expire_at(t, 10, &f);
    assert_int_equal(f.n, 0);
    expire_at(t, 12, &f);
    {
        const int want[] = {2, 3};
        assert_fired_set(&f, want, 2);
    }
    assert_int_equal(f.id[0], 2);
    assert_int_equal(f.id[1], 3);
    expire_at(t, 14, &f);
    assert_int_equal(f.n, 0);
    expire_at(t, 15, &f);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.id[0], 1);
    assert_int_equal(timers_count(t), 0);

    /* Pushed past all of its successors: a (100 -> 139) now expires after b and c. */
    timers_arm(t, &a.node, 0, 90);
    timers_arm(t, &b.node, 0, 91);
    timers_arm(t, &c.node, 0, 92);
    timers_arm(t, &a.node, 1, 109);
    assert_int_equal(a.node.deadline, 139);
    assert_int_equal(a.node.cls, 1);
    assert_int_equal(timers_count(t), 3);
    assert_int_equal(timers_next_deadline(t), 101);
    expire_at(t, 138, &f);
    {
        const int want[] = {2, 3};
        assert_fired_set(&f, want, 2);
    }
    expire_at(t, 139, &f);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.id[0], 1);
    assert_int_equal(f.cls[0], 1);

    /*
     * Moved to a class with a shorter duration: a (class 1, 230) goes to class 2 at 202 (207),
     * ahead of b (210) and c (211). The list must move it toward the head: its next deadline is
     * read from the head only.
     */
    timers_arm(t, &a.node, 1, 200);
    timers_arm(t, &b.node, 0, 200);
    timers_arm(t, &c.node, 0, 201);
    assert_int_equal(timers_next_deadline(t), 210);
    timers_arm(t, &a.node, 2, 202);
    assert_int_equal(a.node.deadline, 207);
    assert_int_equal(a.node.cls, 2);
    assert_int_equal(timers_count(t), 3);
    assert_int_equal(timers_next_deadline(t), 207);
    assert_int_equal(timers_validate(t), 0);
    expire_at(t, 206, &f);
    assert_int_equal(f.n, 0);
    expire_at(t, 207, &f);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.id[0], 1);
    assert_int_equal(f.cls[0], 2);
    assert_int_equal(timers_next_deadline(t), 210);

    /* Moved to a longer class and back to a shorter one, landing behind its neighbours. */
    timers_arm(t, &a.node, 1, 208); /* 238 */
    timers_arm(t, &a.node, 2, 208); /* 213, behind b (210) and c (211) */
    assert_int_equal(timers_next_deadline(t), 210);
    timers_arm(t, &c.node, 1, 209); /* 239 */
    timers_arm(t, &b.node, 2, 209); /* 214 */
    assert_int_equal(timers_count(t), 3);
    assert_int_equal(timers_next_deadline(t), 213);
    expire_at(t, 214, &f);
    assert_int_equal(f.n, 2);
    assert_int_equal(f.id[0], 1);
    assert_int_equal(f.id[1], 2);
    assert_int_equal(f.cls[0], 2);
    assert_int_equal(f.cls[1], 2);
    expire_at(t, 238, &f);
    assert_int_equal(f.n, 0);
    expire_at(t, 239, &f);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.id[0], 3);
    assert_int_equal(f.cls[0], 1);
    assert_int_equal(timers_count(t), 0);
    assert_true(timers_next_deadline(t) == TIMER_NEVER);
    timers_free(t);
}

/* 4. Delete: cancel the head, a middle node, the tail, and unarmed nodes (a no-op). */
static void test_cancel(void **state)
{
    const uint64_t dur[] = {10, 20};
    struct timers *t = new_timers(kind_of(state), dur, 2, 1);
    struct owner o[6];
    struct fired f;

    for (int i = 0; i < 6; i++)
        owner_init(&o[i], i);

    /* Cancelling a never-armed node does nothing. */
    timers_cancel(t, &o[5].node);
    assert_false(timer_node_armed(&o[5].node));
    assert_int_equal(timers_count(t), 0);

    for (int i = 0; i < 5; i++)
        timers_arm(t, &o[i].node, 0, (uint64_t)i); /* 10, 11, 12, 13, 14 */
    assert_int_equal(timers_count(t), 5);

    timers_cancel(t, &o[0].node); /* the head */
    assert_false(timer_node_armed(&o[0].node));
    assert_int_equal(timers_count(t), 4);
    assert_int_equal(timers_next_deadline(t), 11);

    timers_cancel(t, &o[2].node); /* the middle */
    assert_int_equal(timers_count(t), 3);
    assert_int_equal(timers_next_deadline(t), 11);

    timers_cancel(t, &o[4].node); /* the tail */
    assert_int_equal(timers_count(t), 2);

    /* Cancelling again, or a node that was never armed, is a no-op. */
    timers_cancel(t, &o[0].node);
    timers_cancel(t, &o[4].node);
    timers_cancel(t, &o[5].node);
    assert_int_equal(timers_count(t), 2);
    assert_int_equal(timers_validate(t), 0);

    expire_at(t, 1000, &f);
    {
        const int want[] = {1, 3};
        assert_fired_set(&f, want, 2);
    }
    assert_int_equal(timers_count(t), 0);

    /* Across classes: cancel the overall earliest and a class's only timer. */
    timers_arm(t, &o[0].node, 1, 1000); /* 1020 */
    timers_arm(t, &o[1].node, 0, 1001); /* 1011 */
    timers_arm(t, &o[2].node, 0, 1002); /* 1012 */
    timers_arm(t, &o[3].node, 1, 1003); /* 1023 */
    assert_int_equal(timers_next_deadline(t), 1011);
    timers_cancel(t, &o[1].node);
    assert_int_equal(timers_next_deadline(t), 1012);
    timers_cancel(t, &o[2].node);
    assert_int_equal(timers_next_deadline(t), 1020);
    timers_cancel(t, &o[0].node);
    assert_int_equal(timers_next_deadline(t), 1023);
    assert_int_equal(timers_count(t), 1);
    expire_at(t, 5000, &f);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.id[0], 3);

    /* Cancelling the last timer empties the container. */
    timers_arm(t, &o[4].node, 1, 5000);
    timers_cancel(t, &o[4].node);
    assert_int_equal(timers_count(t), 0);
    assert_true(timers_next_deadline(t) == TIMER_NEVER);
    expire_at(t, 100000, &f);
    assert_int_equal(f.n, 0);

    /* A cancelled node can be armed again. */
    timers_arm(t, &o[4].node, 0, 100000);
    assert_int_equal(timers_count(t), 1);
    expire_at(t, 100010, &f);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.id[0], 4);
    timers_free(t);
}

/* 5a. The callback sees its node unlinked and counted out, with the class it was armed in. */
static void test_callback_unlinked(void **state)
{
    const uint64_t dur[] = {10, 5};
    struct timers *t = new_timers(kind_of(state), dur, 2, 1);
    struct owner o[4];
    struct fired f;

    for (int i = 0; i < 4; i++)
        owner_init(&o[i], i);
    timers_arm(t, &o[0].node, 0, 0); /* 10 */
    timers_arm(t, &o[1].node, 1, 3); /* 8 */
    timers_arm(t, &o[2].node, 0, 4); /* 14 */
    timers_arm(t, &o[3].node, 1, 9); /* 14 */
    timers_arm(t, &o[2].node, 1, 9); /* 14, class 1 */

    expire_at(t, 14, &f);
    assert_int_equal(f.n, 4);
    assert_int_equal(fired_cls(&f, 0), 0);
    assert_int_equal(fired_cls(&f, 1), 1);
    assert_int_equal(fired_cls(&f, 2), 1);
    assert_int_equal(fired_cls(&f, 3), 1);
    /* The count drops before each callback runs. */
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(f.count_in_cb[i], 3 - i);
    timers_free(t);
}

/* 5b. A callback cancels another timer that is due in the same call: it never fires. */
static void test_callback_cancels_other(void **state)
{
    const uint64_t dur[] = {10, 12};
    struct timers *t = new_timers(kind_of(state), dur, 2, 1);
    struct owner a, b, c, d;
    struct fired f;

    owner_init(&a, 1);
    owner_init(&b, 2);
    owner_init(&c, 3);
    owner_init(&d, 4);
    a.cancel = &b;
    b.cancel = &a;
    c.cancel = &d;
    d.cancel = &c;
    timers_arm(t, &a.node, 0, 0); /* 10 */
    timers_arm(t, &b.node, 0, 0); /* 10 */
    timers_arm(t, &d.node, 1, 0); /* 12, class 1 */
    timers_arm(t, &c.node, 0, 1); /* 11, class 0 */

    expire_at(t, 20, &f);
    /* Whichever of each pair fires first cancels the other. */
    assert_int_equal(f.n, 2);
    assert_true(f.id[0] == 1 || f.id[0] == 2);
    assert_true(f.id[1] == 3 || f.id[1] == 4);
    assert_false(timer_node_armed(&a.node));
    assert_false(timer_node_armed(&b.node));
    assert_false(timer_node_armed(&c.node));
    assert_false(timer_node_armed(&d.node));
    assert_int_equal(timers_count(t), 0);

    /* A callback cancels a timer that is not due: it is gone too. */
    owner_init(&a, 1);
    owner_init(&b, 2);
    a.cancel = &b;
    timers_arm(t, &a.node, 0, 20); /* 30 */
    timers_arm(t, &b.node, 1, 20); /* 32 */
    expire_at(t, 30, &f);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.id[0], 1);
    assert_int_equal(timers_count(t), 0);
    assert_true(timers_next_deadline(t) == TIMER_NEVER);
    expire_at(t, 1000, &f);
    assert_int_equal(f.n, 0);
    timers_free(t);
}

/* 5c. A callback re-arms its own timer, in the same class or another: it fires once per call. */
static void test_callback_rearms_self(void **state)
{
    const uint64_t dur[] = {10, 20};
    struct timers *t = new_timers(kind_of(state), dur, 2, 1);
    struct owner a, b, c;
    struct fired f;

    owner_init(&a, 1);
    owner_init(&b, 2);
    owner_init(&c, 3);
    a.rearm_cls = 1;              /* to another class */
    b.rearm_cls = 0;              /* to the queue being expired */
    timers_arm(t, &a.node, 0, 0); /* 10 */
    timers_arm(t, &b.node, 0, 0); /* 10 */
    timers_arm(t, &c.node, 0, 5); /* 15 */

    expire_at(t, 10, &f);
    {
        const int want[] = {1, 2};
        assert_fired_set(&f, want, 2);
    }
    assert_true(timer_node_armed(&a.node));
    assert_true(timer_node_armed(&b.node));
    assert_int_equal(a.node.cls, 1);
    assert_int_equal(a.node.deadline, 30);
    assert_int_equal(b.node.cls, 0);
    assert_int_equal(b.node.deadline, 20);
    assert_int_equal(timers_count(t), 3);
    assert_int_equal(timers_next_deadline(t), 15);

    a.rearm_cls = -1;
    b.rearm_cls = -1;
    expire_at(t, 15, &f);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.id[0], 3);
    expire_at(t, 19, &f);
    assert_int_equal(f.n, 0);
    expire_at(t, 20, &f);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.id[0], 2);
    assert_int_equal(f.cls[0], 0);
    expire_at(t, 29, &f);
    assert_int_equal(f.n, 0);
    expire_at(t, 30, &f);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.id[0], 1);
    assert_int_equal(f.cls[0], 1);
    assert_int_equal(timers_count(t), 0);
    timers_free(t);
}

/*
 * 5d. Callbacks free their owners, and some cancel and free another owner whose timer is due in
 * the same call but later in its queue. Run under ASan: any access to a freed owner would trap.
 */
static void test_callback_frees_owner(void **state)
{
    enum { N = 64 };
    const uint64_t dur[] = {10, 25, 7};
    struct timers *t = new_timers(kind_of(state), dur, 3, 1);
    struct owner *o[N];
    struct fired f;

    /* Owners 2k and 2k + 1 share class k % 3; 2k + 1 is armed 1 ms later, so it expires later. */
    for (int i = 0; i < N; i++) {
        o[i] = owner_new(i);
        o[i]->free_self = true;
        timers_arm(t, &o[i]->node, (i / 2) % 3, (uint64_t)i);
    }
    /* Every fourth owner cancels and frees its (later) successor, which is due as well. */
    for (int i = 0; i < N; i += 4) {
        o[i]->cancel = o[i + 1];
        o[i]->free_cancel = true;
    }
    assert_int_equal(timers_count(t), N);

    /* Only part of them is due first: deadlines up to 40. */
    int want[N];
    size_t nwant = 0;
    for (int i = 0; i < N; i++) {
        if ((uint64_t)i + dur[(i / 2) % 3] <= 40 && i % 4 != 1)
            want[nwant++] = i;
    }
    /* Left armed: the owners not yet due, less the victims whose canceller was due. */
    size_t left = 0;
    for (int i = 0; i < N; i++) {
        bool due = (uint64_t)i + dur[(i / 2) % 3] <= 40;
        bool cancelled = i % 4 == 1 && (uint64_t)(i - 1) + dur[(i / 2) % 3] <= 40;
        if (!due && !cancelled)
            left++;
    }
    /* Owner 30 (class 0, due at 40) cancels owner 31 (due at 41): check that this case is hit. */
    assert_int_equal(30 + dur[(30 / 2) % 3], 40);
    expire_at(t, 40, &f);
    assert_fired_set(&f, want, nwant);
    for (size_t i = 0; i < f.n; i++)
        assert_int_equal(f.cls[i], (f.id[i] / 2) % 3);
    assert_int_equal(timers_count(t), left);

    /* Then the rest; the victims never fire, their cancellers always run first. */
    nwant = 0;
    for (int i = 0; i < N; i++) {
        if ((uint64_t)i + dur[(i / 2) % 3] > 40 && i % 4 != 1)
            want[nwant++] = i;
    }
    expire_at(t, 1000, &f);
    assert_fired_set(&f, want, nwant);
    assert_int_equal(timers_count(t), 0);
    assert_true(timers_next_deadline(t) == TIMER_NEVER);
    timers_free(t);
}

/* 5e. A callback frees its owner and cancels and frees a later timer of the same class. */
static void test_callback_frees_later_victim(void **state)
{
    const uint64_t dur[] = {10, 30};
    struct timers *t = new_timers(kind_of(state), dur, 2, 1);
    struct owner *a = owner_new(1), *b = owner_new(2), *c = owner_new(3);
    struct fired f;

    a->free_self = true;
    a->cancel = b;
    a->free_cancel = true;
    c->free_self = true;
    timers_arm(t, &a->node, 0, 0); /* 10 */
    timers_arm(t, &c->node, 1, 0); /* 30 */
    timers_arm(t, &b->node, 0, 1); /* 11 */

    expire_at(t, 100, &f);
    {
        const int want[] = {1, 3};
        assert_fired_set(&f, want, 2);
    }
    assert_int_equal(timers_count(t), 0);
    timers_free(t);
}

/* 6. Several classes expire correctly in one call, each in deadline order. */
static void test_multi_class(void **state)
{
    const uint64_t dur[] = {10, 30, 30, 15};
    struct timers *t = new_timers(kind_of(state), dur, 4, 1);
    static const struct {
        int cls;
        uint64_t at;
        uint64_t deadline;
    } plan[] = {
        {0, 0, 10}, {1, 0, 30}, {2, 0, 30}, {3, 0, 15}, {0, 5, 15},
        {3, 5, 20}, {1, 5, 35}, {2, 8, 38}, {0, 8, 18}, {3, 8, 23},
    };
    struct owner o[ARRAY_LEN(plan)];
    struct fired f;

    for (size_t i = 0; i < ARRAY_LEN(plan); i++) {
        owner_init(&o[i], (int)i);
        timers_arm(t, &o[i].node, plan[i].cls, plan[i].at);
        assert_int_equal(o[i].node.deadline, plan[i].deadline);
    }
    assert_int_equal(timers_count(t), ARRAY_LEN(plan));
    assert_int_equal(timers_next_deadline(t), 10);

    static const uint64_t steps[] = {9, 15, 30, 37, 38};
    size_t left = ARRAY_LEN(plan);
    for (size_t s = 0; s < ARRAY_LEN(steps); s++) {
        uint64_t lo = s ? steps[s - 1] : 0, now = steps[s];
        int want[ARRAY_LEN(plan)];
        size_t nwant = 0;
        for (size_t i = 0; i < ARRAY_LEN(plan); i++) {
            if (plan[i].deadline > lo && plan[i].deadline <= now)
                want[nwant++] = (int)i;
        }
        expire_at(t, now, &f);
        assert_fired_set(&f, want, nwant);
        /* Each fired in its own class; within a class, in deadline order. */
        uint64_t last[ARRAY_LEN(dur)] = {0};
        for (size_t k = 0; k < f.n; k++) {
            int id = f.id[k];
            assert_int_equal(f.cls[k], plan[id].cls);
            assert_true(plan[id].deadline >= last[plan[id].cls]);
            last[plan[id].cls] = plan[id].deadline;
            assert_false(timer_node_armed(&o[id].node));
        }
        left -= nwant;
        assert_int_equal(timers_count(t), left);
        uint64_t next = TIMER_NEVER;
        for (size_t i = 0; i < ARRAY_LEN(plan); i++) {
            if (plan[i].deadline > now && plan[i].deadline < next)
                next = plan[i].deadline;
        }
        assert_true(timers_next_deadline(t) == next);
    }
    assert_int_equal(left, 0);
    timers_free(t);
}

/*
 * A reload shortens a class (timers_set_duration): armed timers of it are capped at what a timer
 * armed now gets, so the order holds, also in the list that mixes the classes; timers armed
 * later get the new duration; a longer duration leaves armed timers as they are.
 */
static void test_set_duration(void **state)
{
    const uint64_t dur[] = {100, 50};
    struct timers *t = new_timers(kind_of(state), dur, 2, 1);
    struct owner o[7];
    static const struct {
        int cls;
        uint64_t at;
    } plan[] = {{0, 0}, {0, 10}, {1, 0}, {0, 20}, {1, 40}, {0, 30}};
    for (size_t i = 0; i < ARRAY_LEN(plan); i++) {
        owner_init(&o[i], (int)i);
        timers_arm(t, &o[i].node, plan[i].cls, plan[i].at);
    }
    /* Deadlines: class 0 at 100, 110, 120, 130; class 1 at 50, 90. Class 0 becomes 30 ms at
     * 40: capped at 70, ahead of class 1's 90 in the list. */
    timers_set_duration(t, 0, 30, 40);
    assert_int_equal(timers_validate(t), 0);
    for (size_t i = 0; i < ARRAY_LEN(plan); i++)
        assert_int_equal(o[i].node.deadline, plan[i].cls == 0 ? 70 : plan[i].at + 50);
    owner_init(&o[6], 6);
    timers_arm(t, &o[6].node, 0, 45);
    assert_int_equal(o[6].node.deadline, 75);
    /* Longer: nothing armed moves. */
    timers_set_duration(t, 1, 200, 45);
    assert_int_equal(o[4].node.deadline, 90);
    assert_int_equal(timers_validate(t), 0);
    struct fired f;
    expire_at(t, 69, &f);
    assert_fired_set(&f, (int[]){2}, 1);
    expire_at(t, 70, &f);
    assert_fired_set(&f, (int[]){0, 1, 3, 5}, 4);
    expire_at(t, 89, &f);
    assert_fired_set(&f, (int[]){6}, 1);
    expire_at(t, 90, &f);
    assert_fired_set(&f, (int[]){4}, 1);
    assert_int_equal(timers_count(t), 0);
    timers_free(t);
}

/*
 * A budget: timers_expire(t, now, max) expires at most max timers, earliest deadline first
 * whatever the class (fifo keeps one queue per class), and leaves the rest due for the next
 * call; ties go to the lower class.
 */
static void test_expire_budget(void **state)
{
    const uint64_t dur[] = {10, 4, 7};
    struct timers *t = new_timers(kind_of(state), dur, 3, 1);
    /* Deadlines: 0:10 1:4 2:7 3:11 4:5 5:8 6:12 7:6 8:9 (owner i armed at i / 3 in class i % 3). */
    struct owner o[9];
    for (int i = 0; i < 9; i++) {
        owner_init(&o[i], i);
        timers_arm(t, &o[i].node, i % 3, (uint64_t)(i / 3));
    }
    static const int order[] = {1, 4, 7, 2, 5, 8, 0, 3, 6};
    struct fired f;
    size_t done = 0;
    for (size_t max = 1; done < 9; max++) {
        memset(&f, 0, sizeof(f));
        f.t = t;
        f.now = 20;
        size_t n =
            timers_expire(t, 20, max, timer_handlers_fill(on, TIMER_CLASSES_MAX, on_expire, &f));
        size_t want = 9 - done < max ? 9 - done : max;
        assert_int_equal(n, want);
        assert_int_equal(f.n, want);
        for (size_t k = 0; k < n; k++)
            assert_int_equal(f.id[k], order[done + k]);
        done += n;
        assert_int_equal(timers_count(t), 9 - done);
        assert_int_equal(timers_validate(t), 0);
    }
    /* max 0 expires nothing; nothing due expires nothing. */
    timers_arm(t, &o[0].node, 0, 20);
    memset(&f, 0, sizeof(f));
    f.t = t;
    assert_int_equal(
        timers_expire(t, 30, 0, timer_handlers_fill(on, TIMER_CLASSES_MAX, on_expire, &f)), 0);
    assert_int_equal(
        timers_expire(t, 29, SIZE_MAX, timer_handlers_fill(on, TIMER_CLASSES_MAX, on_expire, &f)),
        0);
    assert_int_equal(
        timers_expire(t, 30, SIZE_MAX, timer_handlers_fill(on, TIMER_CLASSES_MAX, on_expire, &f)),
        1);
    timers_free(t);
}

/* 7. Bad arguments are refused with EINVAL; kind names parse and round-trip. */
static void test_new_rejects_bad_args(void **state)
{
    (void)state;
    uint64_t dur[TIMER_CLASSES_MAX + 1];
    for (int i = 0; i <= TIMER_CLASSES_MAX; i++)
        dur[i] = 10 + (uint64_t)i;

    const enum timer_kind kinds[] = {TIMER_FIFO, TIMER_LIST};
    for (size_t k = 0; k < ARRAY_LEN(kinds); k++) {
        errno = 0;
        assert_null(timers_new(kinds[k], dur, 0, 1));
        assert_int_equal(errno, EINVAL);
        errno = 0;
        assert_null(timers_new(kinds[k], dur, -1, 1));
        assert_int_equal(errno, EINVAL);
        errno = 0;
        assert_null(timers_new(kinds[k], dur, TIMER_CLASSES_MAX + 1, 1));
        assert_int_equal(errno, EINVAL);
        errno = 0;
        assert_null(timers_new(kinds[k], dur, 2, 0));
        assert_int_equal(errno, EINVAL);

        const uint64_t zero_first[] = {0, 10};
        const uint64_t zero_last[] = {10, 20, 0};
        errno = 0;
        assert_null(timers_new(kinds[k], zero_first, 2, 1));
        assert_int_equal(errno, EINVAL);
        errno = 0;
        assert_null(timers_new(kinds[k], zero_last, 3, 1));
        assert_int_equal(errno, EINVAL);

        /* The limits themselves are accepted. */
        struct timers *t = timers_new(kinds[k], dur, TIMER_CLASSES_MAX, 1);
        assert_non_null(t);
        for (int i = 0; i < TIMER_CLASSES_MAX; i++)
            assert_int_equal(timers_duration(t, i), 10 + (uint64_t)i);
        timers_free(t);
        const uint64_t one[] = {1};
        t = timers_new(kinds[k], one, 1, 1);
        assert_non_null(t);
        assert_int_equal(timers_duration(t, 0), 1);
        timers_free(t);
    }

    /* An unknown kind. */
    errno = 0;
    assert_null(timers_new((enum timer_kind)2, dur, 1, 1));
    assert_int_equal(errno, EINVAL);
}

static void test_kind_names(void **state)
{
    (void)state;
    enum timer_kind k = TIMER_LIST;

    assert_int_equal(timer_kind_parse("fifo", &k), 0);
    assert_int_equal(k, TIMER_FIFO);
    assert_int_equal(timer_kind_parse("list", &k), 0);
    assert_int_equal(k, TIMER_LIST);

    const char *bad[] = {"", "FIFO", "List", "fif", "fifo ", "lists", "wheel", "heap"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        assert_int_equal(timer_kind_parse(bad[i], &k), -EINVAL);

    assert_string_equal(timer_kind_name(TIMER_FIFO), "fifo");
    assert_string_equal(timer_kind_name(TIMER_LIST), "list");
    const enum timer_kind kinds[] = {TIMER_FIFO, TIMER_LIST};
    for (size_t i = 0; i < ARRAY_LEN(kinds); i++) {
        enum timer_kind back = kinds[i] == TIMER_FIFO ? TIMER_LIST : TIMER_FIFO;
        assert_int_equal(timer_kind_parse(timer_kind_name(kinds[i]), &back), 0);
        assert_int_equal(back, kinds[i]);
    }
}

/* 9. The validator passes healthy containers and catches a broken order or granularity. */
static void test_validate(void **state)
{
    const uint64_t dur[] = {10, 40, 20};
    struct timers *t = new_timers(kind_of(state), dur, 3, 5);
    struct owner o[12];
    struct fired f;

    for (int i = 0; i < 12; i++) {
        owner_init(&o[i], i);
        timers_arm(t, &o[i].node, i % 3, (uint64_t)i * 2);
        assert_int_equal(timers_validate(t), 0);
    }
    timers_arm(t, &o[0].node, 2, 30);
    timers_cancel(t, &o[5].node);
    assert_int_equal(timers_validate(t), 0);

    /*
     * Deliberately break the read-only fields, check, and restore before any other call (with
     * -DTINYWEB_VALIDATE every operation would abort on the broken container). o[3] (class 0,
     * 20) is at the head of both the list and class 0's fifo queue, ahead of o[6] (25).
     */
    uint64_t saved = o[3].node.deadline;
    assert_int_equal(saved, 20);
    o[3].node.deadline = saved + 1; /* off the granularity */
    assert_int_equal(timers_validate(t), -EINVAL);
    o[3].node.deadline = saved + 500; /* out of order */
    assert_int_equal(timers_validate(t), -EINVAL);
    o[3].node.deadline = saved;
    int saved_cls = o[3].node.cls;
    o[3].node.cls = 7; /* no such class */
    assert_int_equal(timers_validate(t), -EINVAL);
    o[3].node.cls = saved_cls;
    assert_int_equal(timers_validate(t), 0);

    expire_at(t, 40, &f);
    assert_int_equal(timers_validate(t), 0);
    expire_at(t, 1000, &f);
    assert_int_equal(timers_count(t), 0);
    assert_int_equal(timers_validate(t), 0);
    timers_free(t);
}

/*
 * 8. The randomized differential test: one fifo, one list and a model, driven alike.
 *
 * Each owner has one node per container. The model keeps each owner's expected class and
 * deadline; at every expiry the sets of expired owners of both containers must equal the
 * model's set of due owners. Owners whose id is a multiple of REARM_EVERY re-arm themselves from
 * their callback, so callback re-arming is exercised too.
 */
#define DIFF_OWNERS 1000
#define DIFF_OPS    100000
#define DIFF_CHECK  1000
#define REARM_EVERY 5

struct diff_owner {
    int id;
    struct timer_node node[2]; /* [0] in the fifo container, [1] in the list container. */
    int cls;                   /* The model: the armed class, or TIMER_UNARMED. */
    uint64_t deadline;         /* The model: the deadline while armed. */
};

struct diff_ctx {
    struct timers *t;
    int which;
    int nclasses;
    uint64_t now;
    size_t n;
    int ids[DIFF_OWNERS];
};

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

static uint64_t rnd(uint64_t *s, uint64_t n)
{
    return xorshift64(s) % n;
}

static struct diff_owner *diff_owner_of(struct timer_node *node, int which)
{
    return (struct diff_owner *)((char *)node - offsetof(struct diff_owner, node) -
                                 (size_t)which * sizeof(struct timer_node));
}

static void diff_expire_cb(struct timer_node *node, int cls, void *ctx)
{
    struct diff_ctx *c = ctx;
    struct diff_owner *o = diff_owner_of(node, c->which);

    assert_ptr_equal(&o->node[c->which], node);
    assert_false(timer_node_armed(node));
    /* The model is updated after both containers expired, so it still shows the armed state. */
    assert_int_equal(cls, o->cls);
    assert_true(o->deadline <= c->now);
    assert_true(c->n < DIFF_OWNERS);
    c->ids[c->n++] = o->id;
    if (o->id % REARM_EVERY == 0)
        timers_arm(c->t, node, o->id % c->nclasses, c->now);
}

static void diff_compare_node(const struct diff_owner *o)
{
    for (int w = 0; w < 2; w++) {
        const struct timer_node *n = &o->node[w];
        assert_int_equal(n->cls, o->cls);
        if (o->cls != TIMER_UNARMED)
            assert_int_equal(n->deadline, o->deadline);
    }
}

static void run_differential(const uint64_t *dur, int nclasses, uint64_t g, uint64_t seed)
{
    struct timers *t[2] = {new_timers(TIMER_FIFO, dur, nclasses, g),
                           new_timers(TIMER_LIST, dur, nclasses, g)};
    struct diff_owner *owners = calloc(DIFF_OWNERS, sizeof(*owners));
    struct diff_ctx *ctx = calloc(2, sizeof(*ctx));
    int *want = calloc(DIFF_OWNERS, sizeof(*want));
    assert_non_null(owners);
    assert_non_null(ctx);
    assert_non_null(want);

    for (int i = 0; i < DIFF_OWNERS; i++) {
        owners[i].id = i;
        owners[i].cls = TIMER_UNARMED;
        timer_node_init(&owners[i].node[0]);
        timer_node_init(&owners[i].node[1]);
    }

    uint64_t s = seed, now = 1000;
    size_t live = 0, max_live = 0, expired = 0, expiries = 0, arms = 0, cancels = 0;
    print_message("differential: seed 0x%016" PRIx64 ", %d classes, granularity %" PRIu64
                  ", %d owners, %d ops\n",
                  seed, nclasses, g, DIFF_OWNERS, DIFF_OPS);

    for (int op = 1; op <= DIFF_OPS; op++) {
        uint64_t r = rnd(&s, 100);
        if (r < 58) {
            /* Arm (or re-arm) a random owner in a random class at the current time. */
            struct diff_owner *o = &owners[rnd(&s, DIFF_OWNERS)];
            int cls = (int)rnd(&s, (uint64_t)nclasses);
            timers_arm(t[0], &o->node[0], cls, now);
            timers_arm(t[1], &o->node[1], cls, now);
            if (o->cls == TIMER_UNARMED)
                live++;
            o->cls = cls;
            o->deadline = round_up(now + dur[cls], g);
            diff_compare_node(o);
            arms++;
        } else if (r < 70) {
            /* Cancel a random owner, armed or not. */
            struct diff_owner *o = &owners[rnd(&s, DIFF_OWNERS)];
            timers_cancel(t[0], &o->node[0]);
            timers_cancel(t[1], &o->node[1]);
            if (o->cls != TIMER_UNARMED)
                live--;
            o->cls = TIMER_UNARMED;
            diff_compare_node(o);
            cancels++;
        } else {
            /* Advance the clock by a little (now and then a lot) and expire both. */
            now += rnd(&s, 100) == 0 ? rnd(&s, 400) : rnd(&s, 4);
            for (int w = 0; w < 2; w++) {
                ctx[w].t = t[w];
                ctx[w].which = w;
                ctx[w].nclasses = nclasses;
                ctx[w].now = now;
                ctx[w].n = 0;
                size_t n = timers_expire(
                    t[w], now, SIZE_MAX,
                    timer_handlers_fill(on, TIMER_CLASSES_MAX, diff_expire_cb, &ctx[w]));
                assert_int_equal(n, ctx[w].n);
            }
            /* The model: who was due, and who re-armed from the callback. */
            size_t nwant = 0;
            uint64_t next = TIMER_NEVER;
            for (int i = 0; i < DIFF_OWNERS; i++) {
                struct diff_owner *o = &owners[i];
                if (o->cls == TIMER_UNARMED)
                    continue;
                if (o->deadline <= now) {
                    want[nwant++] = i;
                    if (i % REARM_EVERY == 0) {
                        o->cls = i % nclasses;
                        o->deadline = round_up(now + dur[o->cls], g);
                    } else {
                        o->cls = TIMER_UNARMED;
                        live--;
                    }
                    diff_compare_node(o);
                }
                if (o->cls != TIMER_UNARMED && o->deadline < next)
                    next = o->deadline;
            }
            qsort(ctx[0].ids, ctx[0].n, sizeof(int), cmp_int);
            qsort(ctx[1].ids, ctx[1].n, sizeof(int), cmp_int);
            assert_int_equal(ctx[0].n, nwant);
            assert_int_equal(ctx[1].n, nwant);
            for (size_t i = 0; i < nwant; i++) {
                assert_int_equal(ctx[0].ids[i], want[i]);
                assert_int_equal(ctx[1].ids[i], want[i]);
            }
            assert_true(timers_next_deadline(t[0]) == next);
            expired += nwant;
            expiries++;
        }

        /* After every operation both agree with each other and with the model's count. */
        assert_int_equal(timers_count(t[0]), live);
        assert_int_equal(timers_count(t[1]), live);
        assert_true(timers_next_deadline(t[0]) == timers_next_deadline(t[1]));
        if (live > max_live)
            max_live = live;

        if (op % DIFF_CHECK == 0) {
            assert_int_equal(timers_validate(t[0]), 0);
            assert_int_equal(timers_validate(t[1]), 0);
            uint64_t next = TIMER_NEVER;
            for (int i = 0; i < DIFF_OWNERS; i++) {
                diff_compare_node(&owners[i]);
                if (owners[i].cls != TIMER_UNARMED && owners[i].deadline < next)
                    next = owners[i].deadline;
            }
            assert_true(timers_next_deadline(t[0]) == next);
        }
    }
    print_message("differential: %zu arms, %zu cancels, %zu expiry calls, %zu expired, "
                  "max %zu live\n",
                  arms, cancels, expiries, expired, max_live);
    /* The run must have exercised something, or it proves nothing. */
    assert_true(expired > DIFF_OPS / 10);
    assert_true(max_live > 100);

    for (int i = 0; i < DIFF_OWNERS; i++) {
        timers_cancel(t[0], &owners[i].node[0]);
        timers_cancel(t[1], &owners[i].node[1]);
    }
    assert_int_equal(timers_count(t[0]), 0);
    assert_int_equal(timers_count(t[1]), 0);
    timers_free(t[0]);
    timers_free(t[1]);
    free(want);
    free(ctx);
    free(owners);
}

static void test_differential_g1(void **state)
{
    (void)state;
    const uint64_t dur[] = {30, 150, 400, 60};
    run_differential(dur, 4, 1, 0x9e3779b97f4a7c15u);
}

static void test_differential_g7(void **state)
{
    (void)state;
    const uint64_t dur[] = {25, 300, 90};
    run_differential(dur, 3, 7, 0xd1b54a32d192ed03u);
}

/* A test entry run against one kind: the kind is the test's initial state. */
#define KIND_TEST(f, k)                                                                            \
    {                                                                                              \
        .name = #f "/" #k, .test_func = f, .initial_state = &kind_##k                              \
    }

int main(void)
{
    const struct CMUnitTest tests[] = {
        KIND_TEST(test_ordering, fifo),
        KIND_TEST(test_ordering, list),
        KIND_TEST(test_rounding, fifo),
        KIND_TEST(test_rounding, list),
        KIND_TEST(test_lazy_rearm, fifo),
        KIND_TEST(test_lazy_rearm, list),
        KIND_TEST(test_adjust, fifo),
        KIND_TEST(test_adjust, list),
        KIND_TEST(test_cancel, fifo),
        KIND_TEST(test_cancel, list),
        KIND_TEST(test_callback_unlinked, fifo),
        KIND_TEST(test_callback_unlinked, list),
        KIND_TEST(test_callback_cancels_other, fifo),
        KIND_TEST(test_callback_cancels_other, list),
        KIND_TEST(test_callback_rearms_self, fifo),
        KIND_TEST(test_callback_rearms_self, list),
        KIND_TEST(test_callback_frees_owner, fifo),
        KIND_TEST(test_callback_frees_owner, list),
        KIND_TEST(test_callback_frees_later_victim, fifo),
        KIND_TEST(test_callback_frees_later_victim, list),
        KIND_TEST(test_multi_class, fifo),
        KIND_TEST(test_multi_class, list),
        KIND_TEST(test_set_duration, fifo),
        KIND_TEST(test_set_duration, list),
        KIND_TEST(test_expire_budget, fifo),
        KIND_TEST(test_expire_budget, list),
        KIND_TEST(test_validate, fifo),
        KIND_TEST(test_validate, list),
        cmocka_unit_test(test_new_rejects_bad_args),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_differential_g1),
        cmocka_unit_test(test_differential_g7),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
