/*
 * The default container: one FIFO queue per timeout class.
 *
 * Every timer of a class has the same duration and the clock never goes back, so a timer armed
 * now expires no earlier than any timer already in its class's queue: appending keeps the queue
 * sorted. Arming is therefore unlink + append, O(1), with no walk and no allocation, and expiry
 * pops due timers from the heads (lwan's timeout queue and libevent's common timeouts work so).
 */
#include "timer_impl.h"

#include <assert.h>

static void fifo_arm(struct timers *t, struct timer_node *node, int cls, uint64_t deadline)
{
    if (timer_node_armed(node))
        timer_unlink(node);
    else
        t->count++;
    struct timer_node *q = timer_queue_of(t, cls);
    assert(q->prev == q || q->prev->deadline <= deadline);
    node->deadline = deadline;
    node->cls = cls;
    timer_link_before(q, node);
}

const struct timer_ops timer_fifo_ops = {
    .name = "fifo",
    .queue_per_class = true,
    .arm = fifo_arm,
    .cancel = timer_queue_cancel,
    .next_deadline = timer_queue_next_deadline,
    .expire = timer_queue_expire,
};
