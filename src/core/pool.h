/*
 * The worker pool: N threads that run the jobs too slow for an event loop (password hashing,
 * database queries), and the completion ports through which finished jobs come back to the loop
 * that submitted them.
 *
 * A loop submits an intrusive job (embedded in its owner: no allocation) with the port it owns.
 * A worker takes it from the pool's one bounded FIFO, runs job->work, and appends the job to its
 * port's completion list; the loop wakes on the port's eventfd, takes the whole list and calls
 * each job's done on its own thread, where the job may touch the loop's state again. The eventfd
 * is written only when that list goes from empty to non-empty: a burst of completions costs the
 * loop one wake-up, and the workers one write(2) per burst.
 *
 * Thread-safety, in short: pool_submit and pool_queued from any thread; a port belongs to its
 * loop's thread (init, the dones, close); pool_new, pool_stop and pool_free from one controlling
 * thread, never from a work function.
 */
#ifndef TINYWEB_CORE_POOL_H
#define TINYWEB_CORE_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/loop.h"

struct pool;
struct pool_port;

/* One unit of work, embedded in its owner (recover it with container_of). The pool never copies
 * or frees it: it must stay valid from pool_submit until its done is called. */
struct pool_job {
    void (*work)(struct pool_job *j); /* on a worker thread; must not touch loop-owned state */
    void (*done)(struct pool_job *j); /* on the port's loop thread, exactly once per submission;
                                         it may free j, or submit it (or others) again */
    bool ran;                         /* set before done: false when the pool stopped first */
    /* Private. */
    struct pool_job *next;
    struct pool_port *port;
};

/* Where the finished jobs of one loop come back; embedded in the loop's owner. Private fields. */
struct pool_port {
    struct loop *loop;
    struct loop_io io;      /* the eventfd, io.fd (-1 once closed) */
    pthread_mutex_t mu;     /* guards head, tail, and the eventfd's writes */
    struct pool_job *head;  /* finished jobs not yet done, in completion order */
    struct pool_job **tail; /* &head when empty */
    atomic_size_t pending;  /* submitted through this port, not yet on the list */
};

/* Starts `threads` (>= 1) workers named "tinyweb-work", each niced by nice_inc (0: unchanged) so
 * that hashing yields to the loops, with every signal blocked (signals reach the main thread
 * only). queue_max (>= 1): jobs that may wait for a worker, besides the running ones. Returns
 * NULL with errno set and a one-line message in err. */
struct pool *pool_new(unsigned threads, size_t queue_max, int nice_inc, char *err, size_t errlen);

/* Queues j for a worker; its done will be called on port's loop. 0; -EAGAIN when queue_max jobs
 * already wait (the caller answers 503); -ESHUTDOWN after pool_stop. A refused job gets no done.
 * Thread-safe; normally called on port's loop, and for a port being closed only from the dones
 * that pool_port_close calls. O(1), no allocation: one short critical section on the pool's
 * mutex, and a futex wake when a worker sleeps. */
int pool_submit(struct pool *p, struct pool_port *port, struct pool_job *j);

/* Jobs waiting for a worker now, for /status. Thread-safe, lock-free, O(1). */
size_t pool_queued(const struct pool *p);

/* Stops the pool: the running jobs finish and come back with ran=true, the waiting ones are not
 * run and go to their ports (ran=false, from the calling thread); joins the workers. Every port
 * that jobs were submitted through must still be open. Idempotent; not from a work function. */
void pool_stop(struct pool *p);

/* Stops the pool if it still runs (see pool_stop), then frees it. NULL is fine. */
void pool_free(struct pool *p);

/* Opens a port on loop: an eventfd registered with loop_add. When it fires, the loop takes the
 * finished jobs (swapped out whole under the port's mutex) and calls each one's done, in
 * completion order; jobs finished meanwhile wait for the next turn. 0 or -errno. Loop thread. */
int pool_port_init(struct pool_port *port, struct loop *loop);

/* Closes the port once its loop no longer runs (on the thread that owned it, or one that joined
 * it): waits, without spinning, until every job submitted through it has finished (or was
 * cancelled by pool_stop), calls their done here (jobs those submit are waited for too, so a
 * done that always resubmits never lets it return), removes the eventfd from the loop and
 * closes it. The pool may be running, stopped or freed. Before loop_free; again: nothing. */
void pool_port_close(struct pool_port *port);

#endif
