/*
 * Timer containers for inactive-connection timeouts (the seeds' "timer per connection").
 *
 * A timer is a node embedded in its owner (a connection); the container links it into a queue.
 * Every timer belongs to a timeout class (header, body, send, idle, ...) whose duration is fixed
 * when the container is created, and at most one class is armed per node at a time: arming a
 * node in another class moves it. Deadlines are milliseconds on the owning loop's monotonic
 * clock, rounded up to the container's granularity, so a timer never fires early.
 *
 * Two implementations sit behind one ops table, chosen at start-up:
 * - TIMER_FIFO (default): one intrusive FIFO queue per class. With a fixed duration per class and
 *   a monotonic clock, a re-armed timer always belongs at the tail, so arming is unlink + append,
 *   O(1), and every queue stays sorted. Expiry pops only due timers from the queue heads.
 * - TIMER_LIST: the seeds' ascending doubly linked list (add / adjust / del / tick), kept as the
 *   reference and baseline: adding walks from the head, adjusting walks toward the tail, O(n).
 *
 * A container is owned by one event loop and is not thread-safe.
 */
#ifndef TINYWEB_CORE_TIMER_H
#define TINYWEB_CORE_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIMER_CLASSES_MAX 8
#define TIMER_UNARMED     (-1)
#define TIMER_NEVER       UINT64_MAX

/* A timer, embedded in its owner. Initialise with timer_node_init(); fields are read-only. */
struct timer_node {
    struct timer_node *prev, *next;
    uint64_t deadline; /* ms on the loop's monotonic clock; meaningful while armed */
    int cls;           /* the armed class, or TIMER_UNARMED */
};

enum timer_kind { TIMER_FIFO, TIMER_LIST };

/* Called for each expired timer, already unlinked; it may re-arm, cancel or free any timer. */
typedef void (*timer_expire_fn)(struct timer_node *node, int cls, void *ctx);

/* What the expiry of a timer of one class calls: fn(node, cls, ctx). Each class has its own, so
 * the owner of a class handles its timers without a dispatcher of all classes in between. */
struct timer_handler {
    timer_expire_fn fn;
    void *ctx;
};

struct timers;

/* Fills on[0, n) with one handler, for an owner that treats every class alike. Returns on. */
static inline const struct timer_handler *timer_handlers_fill(struct timer_handler *on, int n,
                                                              timer_expire_fn fn, void *ctx)
{
    for (int i = 0; i < n; i++)
        on[i] = (struct timer_handler){fn, ctx};
    return on;
}

/* Parses "fifo" or "list". Returns 0, or -EINVAL for an unknown name. */
int timer_kind_parse(const char *name, enum timer_kind *out);

/* The name of a kind, as timer_kind_parse() accepts it. */
const char *timer_kind_name(enum timer_kind kind);

/*
 * Creates a container with nclasses (1..TIMER_CLASSES_MAX) classes of the given durations (ms,
 * each >= 1) and a deadline granularity (ms, >= 1). Returns NULL with errno set on failure.
 */
struct timers *timers_new(enum timer_kind kind, const uint64_t *durations_ms, int nclasses,
                          uint64_t granularity_ms);

/* Frees the container. Armed nodes are left unlinked-in-place; cancel them first. */
void timers_free(struct timers *t);

/*
 * Arms node in class cls to expire at now + duration(cls), rounded up to the granularity.
 * Skips all work when the node is already armed in cls for that same deadline (a lazy re-arm).
 * O(1) for fifo; O(n) for list (the seeds' add and adjust walks).
 */
void timers_arm(struct timers *t, struct timer_node *node, int cls, uint64_t now);

/* Disarms node if it is armed. O(1) for every kind. */
void timers_cancel(struct timers *t, struct timer_node *node);

/* The earliest deadline of any armed timer, or TIMER_NEVER when none is armed. O(classes). */
uint64_t timers_next_deadline(const struct timers *t);

/*
 * Expires timers whose deadline is <= now, earliest deadline first (whatever the class), at
 * most max of them: unlinks each, then calls its class's handler, on[cls]. Returns how many
 * expired; max means some may be left due. Costs O(classes) per expired timer; timers not yet
 * due are never visited.
 */
size_t timers_expire(struct timers *t, uint64_t now, size_t max, const struct timer_handler *on);

/* The number of armed timers. O(1). */
size_t timers_count(const struct timers *t);

/*
 * Changes the duration of class cls to ms (a reload). Timers armed later get it; armed ones keep
 * their deadlines, except that none stays later than now + ms, so that the order holds (fifo).
 * O(timers of the class) when it shrinks, O(1) otherwise.
 */
void timers_set_duration(struct timers *t, int cls, uint64_t ms, uint64_t now);

/* The duration of class cls in ms. */
uint64_t timers_duration(const struct timers *t, int cls);

/*
 * Re-checks every invariant (links, ordering, classes, count). O(n); returns 0 or -EINVAL.
 * Built with -DTINYWEB_VALIDATE, every operation above calls it and aborts on failure.
 */
int timers_validate(const struct timers *t);

static inline void timer_node_init(struct timer_node *node)
{
    node->prev = node->next = NULL;
    node->deadline = 0;
    node->cls = TIMER_UNARMED;
}

static inline bool timer_node_armed(const struct timer_node *node)
{
    return node->cls != TIMER_UNARMED;
}

#endif
