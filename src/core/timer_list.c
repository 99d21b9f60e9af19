/*
 * The seeds' container, kept as the reference: one list of every timer in ascending deadline
 * order, whatever its class, with the seeds' operations.
 *
 * - add: insert before the first timer that expires later, walking from the head. O(n).
 * - adjust (a deadline that grew): if the timer still expires before its successor nothing
 *   moves; otherwise it is taken out and re-inserted by walking from its old successor. O(n).
 * - del: unlink. O(1).
 * - tick: pop and call back every timer at the head whose deadline has passed.
 *
 * The seeds only ever lengthen a deadline; a timer moved to a class with a shorter duration may
 * need to move toward the head, so it is re-added from the head instead.
 */
#include "timer_impl.h"

/* The seeds' add_timer(timer, lst_head): walks from start (inclusive) toward the tail. */
static void list_add_from(struct timer_node *q, struct timer_node *start, struct timer_node *node)
{
    struct timer_node *pos = start;
    while (pos != q && pos->deadline <= node->deadline)
        pos = pos->next;
    timer_link_before(pos, node);
}

static void list_arm(struct timers *t, struct timer_node *node, int cls, uint64_t deadline)
{
    struct timer_node *q = &t->queue[0];
    if (!timer_node_armed(node)) {
        t->count++;
        node->deadline = deadline;
        node->cls = cls;
        list_add_from(q, q->next, node);
        return;
    }
    struct timer_node *next = node->next;
    bool grew = deadline >= node->deadline;
    node->deadline = deadline;
    node->cls = cls;
    if (grew) {
        /* adjust_timer: still before its successor, so the order holds as it is. */
        if (next == q || deadline < next->deadline)
            return;
        timer_unlink(node);
        list_add_from(q, next, node);
    } else {
        timer_unlink(node);
        list_add_from(q, q->next, node);
    }
}

const struct timer_ops timer_list_ops = {
    .name = "list",
    .queue_per_class = false,
    .arm = list_arm,
    .cancel = timer_queue_cancel,
    .next_deadline = timer_queue_next_deadline,
    .expire = timer_queue_expire,
};
