/*
 * Timer containers: the public entry points, the queue operations both kinds share, and the
 * debug validator. The kind-specific arm lives in timer_fifo.c and timer_list.c.
 */
#include "timer_impl.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifdef TINYWEB_VALIDATE
#include <stdio.h>
#define VALIDATE(t)                                                                                \
    do {                                                                                           \
        if (timers_validate(t) != 0) {                                                             \
            fprintf(stderr, "timers_validate failed at %s:%d\n", __FILE__, __LINE__);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)
#else
#define VALIDATE(t) ((void)0)
#endif

static const struct timer_ops *const kinds[] = {
    [TIMER_FIFO] = &timer_fifo_ops,
    [TIMER_LIST] = &timer_list_ops,
};

int timer_kind_parse(const char *name, enum timer_kind *out)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(name, kinds[i]->name) == 0) {
            *out = (enum timer_kind)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *timer_kind_name(enum timer_kind kind)
{
    return kinds[kind]->name;
}

struct timers *timers_new(enum timer_kind kind, const uint64_t *durations_ms, int nclasses,
                          uint64_t granularity_ms)
{
    if ((unsigned)kind >= sizeof(kinds) / sizeof(kinds[0]) || nclasses < 1 ||
        nclasses > TIMER_CLASSES_MAX || granularity_ms < 1) {
        errno = EINVAL;
        return NULL;
    }
    for (int i = 0; i < nclasses; i++) {
        if (durations_ms[i] < 1) {
            errno = EINVAL;
            return NULL;
        }
    }
    struct timers *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->ops = kinds[kind];
    t->granularity = granularity_ms;
    t->nclasses = nclasses;
    t->nqueues = t->ops->queue_per_class ? nclasses : 1;
    memcpy(t->duration, durations_ms, sizeof(durations_ms[0]) * (size_t)nclasses);
    for (int i = 0; i < t->nqueues; i++) {
        t->queue[i].prev = t->queue[i].next = &t->queue[i];
        t->queue[i].cls = TIMER_UNARMED;
    }
    return t;
}

void timers_free(struct timers *t)
{
    free(t);
}

void timers_arm(struct timers *t, struct timer_node *node, int cls, uint64_t now)
{
    assert(cls >= 0 && cls < t->nclasses);
    uint64_t g = t->granularity;
    uint64_t deadline = (now + t->duration[cls] + g - 1) / g * g;
    /* Nothing to do when the deadline would not change at this granularity (nginx's lazy
     * re-arm): under load most activity lands here and costs two compares. */
    if (node->cls == cls && node->deadline == deadline)
        return;
    t->ops->arm(t, node, cls, deadline);
    VALIDATE(t);
}

void timers_cancel(struct timers *t, struct timer_node *node)
{
    if (!timer_node_armed(node))
        return;
    t->ops->cancel(t, node);
    VALIDATE(t);
}

uint64_t timers_next_deadline(const struct timers *t)
{
    return t->ops->next_deadline(t);
}

size_t timers_expire(struct timers *t, uint64_t now, size_t max, const struct timer_handler *on)
{
    size_t n = t->ops->expire(t, now, max, on);
    VALIDATE(t);
    return n;
}

size_t timers_count(const struct timers *t)
{
    return t->count;
}

uint64_t timers_duration(const struct timers *t, int cls)
{
    assert(cls >= 0 && cls < t->nclasses);
    return t->duration[cls];
}

void timer_queue_cancel(struct timers *t, struct timer_node *node)
{
    timer_unlink(node);
    node->cls = TIMER_UNARMED;
    t->count--;
}

uint64_t timer_queue_next_deadline(const struct timers *t)
{
    uint64_t next = TIMER_NEVER;
    for (int i = 0; i < t->nqueues; i++) {
        const struct timer_node *head = t->queue[i].next;
        if (head != &t->queue[i] && head->deadline < next)
            next = head->deadline;
    }
    return next;
}

size_t timer_queue_expire(struct timers *t, uint64_t now, size_t max,
                          const struct timer_handler *on)
{
    size_t expired = 0;
    while (expired < max) {
        /* The earliest head of all queues, so that a budget (max) takes the oldest first. The
         * heads are re-read after every callback: it may have armed or cancelled others. */
        struct timer_node *node = NULL;
        for (int i = 0; i < t->nqueues; i++) {
            struct timer_node *head = t->queue[i].next;
            if (head != &t->queue[i] && head->deadline <= now &&
                (!node || head->deadline < node->deadline))
                node = head;
        }
        if (!node)
            break;
        int cls = node->cls;
        timer_queue_cancel(t, node);
        expired++;
        on[cls].fn(node, cls, on[cls].ctx);
    }
    return expired;
}

int timers_validate(const struct timers *t)
{
    size_t seen = 0;
    for (int i = 0; i < t->nqueues; i++) {
        const struct timer_node *q = &t->queue[i];
        uint64_t last = 0;
        for (const struct timer_node *n = q->next; n != q; n = n->next) {
            if (!n->next || n->next->prev != n || n->prev->next != n)
                return -EINVAL;
            if (n->cls < 0 || n->cls >= t->nclasses || (t->ops->queue_per_class && n->cls != i))
                return -EINVAL;
            if (n->deadline < last || n->deadline % t->granularity != 0)
                return -EINVAL;
            last = n->deadline;
            if (++seen > t->count)
                return -EINVAL;
        }
    }
    return seen == t->count ? 0 : -EINVAL;
}

void timers_set_duration(struct timers *t, int cls, uint64_t ms, uint64_t now)
{
    assert(cls >= 0 && cls < t->nclasses && ms >= 1);
    uint64_t old = t->duration[cls];
    t->duration[cls] = ms;
    if (ms >= old)
        return;
    /* Shorter: a timer armed from now on would be due before those already armed, behind them
     * in a fifo queue. Capping those at what a timer armed now gets keeps every queue sorted
     * (the minimum of a sorted sequence and a constant is sorted). */
    uint64_t g = t->granularity;
    uint64_t cap = (now + ms + g - 1) / g * g;
    struct timer_node *q = timer_queue_of(t, cls);
    /* In the sorted list (one queue for every class) the capped timers move ahead of later
     * ones of other classes: they are taken out as one run, in order, and put back before the
     * first timer due after cap. O(timers) either way. */
    struct timer_node run = {.prev = &run, .next = &run};
    for (struct timer_node *node = q->next, *next; node != q; node = next) {
        next = node->next;
        if (node->cls != cls || node->deadline <= cap)
            continue;
        node->deadline = cap;
        if (!t->ops->queue_per_class) {
            timer_unlink(node);
            timer_link_before(&run, node);
        }
    }
    if (run.next != &run) {
        struct timer_node *pos = q->next;
        while (pos != q && pos->deadline <= cap)
            pos = pos->next;
        while (run.next != &run) {
            struct timer_node *node = run.next;
            timer_unlink(node);
            timer_link_before(pos, node);
        }
    }
    VALIDATE(t);
}
