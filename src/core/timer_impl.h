/*
 * Internals shared by the timer containers: the ops table behind struct timers and the
 * intrusive circular queue both implementations are built from. Not part of the public API.
 */
#ifndef TINYWEB_CORE_TIMER_IMPL_H
#define TINYWEB_CORE_TIMER_IMPL_H

#include "timer.h"

struct timer_ops {
    const char *name;
    /* Queues used: one per class (fifo), or a single sorted one (list). */
    bool queue_per_class;
    /* Links node (armed in another queue, or unarmed) so that it expires at deadline. */
    void (*arm)(struct timers *t, struct timer_node *node, int cls, uint64_t deadline);
    void (*cancel)(struct timers *t, struct timer_node *node);
    uint64_t (*next_deadline)(const struct timers *t);
    size_t (*expire)(struct timers *t, uint64_t now, size_t max, const struct timer_handler *on);
};

struct timers {
    const struct timer_ops *ops;
    uint64_t granularity;
    size_t count;
    int nclasses;
    int nqueues;
    uint64_t duration[TIMER_CLASSES_MAX];
    /* Sentinels of circular doubly linked queues: queue[i].next is the head, .prev the tail. */
    struct timer_node queue[TIMER_CLASSES_MAX];
};

extern const struct timer_ops timer_fifo_ops;
extern const struct timer_ops timer_list_ops;

/* Operations both containers share: O(1) unlink, head scans, and popping due heads. */
void timer_queue_cancel(struct timers *t, struct timer_node *node);
uint64_t timer_queue_next_deadline(const struct timers *t);
size_t timer_queue_expire(struct timers *t, uint64_t now, size_t max,
                          const struct timer_handler *on);

static inline struct timer_node *timer_queue_of(struct timers *t, int cls)
{
    return &t->queue[t->ops->queue_per_class ? cls : 0];
}

static inline void timer_link_before(struct timer_node *pos, struct timer_node *node)
{
    node->prev = pos->prev;
    node->next = pos;
    pos->prev->next = node;
    pos->prev = node;
}

static inline void timer_unlink(struct timer_node *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = NULL;
}

#endif
