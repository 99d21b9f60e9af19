/*
 * The worker pool and its completion ports. See pool.h.
 *
 * Locks: the pool's mutex guards its queue; each port's mutex guards its completion list and the
 * writes to its eventfd. No thread holds both at once, so they cannot deadlock. A job belongs to
 * whoever holds it: the submitting loop until pool_submit, the queue (pool mutex), one worker
 * while it runs, the port's list (port mutex), then the loop again from its done on; nothing
 * touches a job after handing it on, since done may free it.
 */
#include "pool.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "defs.h"

struct pool {
    pthread_mutex_t mu;
    pthread_cond_t ready;   /* a job was queued, or the pool is stopping */
    struct pool_job *head;  /* waiting jobs, oldest first */
    struct pool_job **tail; /* &head when empty */
    atomic_size_t queued;   /* written under mu; read without it by pool_queued */
    size_t queue_max;
    bool stopping;
    bool joined;
    int nice_inc;
    unsigned nthreads; /* started */
    pthread_t threads[];
};

/* Appends j to its port's completion list; wakes the loop when the list was empty. The last
 * touch of j, and of port but for the mutex's release. */
static void port_deliver(struct pool_job *j)
{
    struct pool_port *port = j->port;
    j->next = NULL;
    pthread_mutex_lock(&port->mu);
    bool was_empty = port->head == NULL;
    *port->tail = j;
    port->tail = &j->next;
    atomic_fetch_sub(&port->pending, 1);
    /* Written under the mutex: once pool_port_close has seen the job here with nothing pending,
     * no worker can still be about to write to an fd that close is going to close (and that a
     * new file could then reuse). A write is a few hundred ns, once per burst. */
    if (was_empty) {
        uint64_t one = 1;
        ssize_t r = write(port->io.fd, &one, sizeof(one));
        (void)r; /* only fails when the counter is near 2^64: the loop is already woken */
    }
    pthread_mutex_unlock(&port->mu);
}

static void *worker_main(void *arg)
{
    struct pool *p = arg;
    pthread_setname_np(pthread_self(), "tinyweb-work");
    if (p->nice_inc != 0) {
        /* Linux nice values are per thread: this lowers this worker only, not the loops. A
         * failure (a seccomp filter, or raising priority without the privilege) leaves it as is. */
        pid_t tid = gettid();
        errno = 0;
        int prio = getpriority(PRIO_PROCESS, (id_t)tid);
        if (errno == 0)
            setpriority(PRIO_PROCESS, (id_t)tid, prio + p->nice_inc);
    }
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stopping && !p->head)
            pthread_cond_wait(&p->ready, &p->mu);
        if (p->stopping)
            break;
        struct pool_job *j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = &p->head;
        atomic_fetch_sub_explicit(&p->queued, 1, memory_order_relaxed);
        pthread_mutex_unlock(&p->mu);
        j->work(j);
        j->ran = true;
        port_deliver(j);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct pool *pool_new(unsigned threads, size_t queue_max, int nice_inc, char *err, size_t errlen)
{
    if (threads < 1 || queue_max < 1) {
        snprintf(err, errlen, "the worker pool needs at least one thread and one queue slot");
        errno = EINVAL;
        return NULL;
    }
    struct pool *p = calloc(1, sizeof(*p) + threads * sizeof(p->threads[0]));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->tail = &p->head;
    p->queue_max = queue_max;
    p->nice_inc = nice_inc;
    int rc = pthread_mutex_init(&p->mu, NULL);
    if (rc == 0 && (rc = pthread_cond_init(&p->ready, NULL)) != 0)
        pthread_mutex_destroy(&p->mu);
    if (rc != 0) {
        free(p);
        snprintf(err, errlen, "worker pool: %s", strerror(rc));
        errno = rc;
        return NULL;
    }
    /* The threads inherit the creator's mask: blocked from their first instruction, signals
     * reach only the main thread's unified event source (and never interrupt a job). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (; p->nthreads < threads; p->nthreads++) {
        rc = pthread_create(&p->threads[p->nthreads], NULL, worker_main, p);
        if (rc != 0)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start worker thread %u of %u: %s", p->nthreads + 1, threads,
                 strerror(rc));
        pool_free(p);
        errno = rc;
        return NULL;
    }
    return p;
}

int pool_submit(struct pool *p, struct pool_port *port, struct pool_job *j)
{
    j->port = port;
    j->next = NULL;
    j->ran = false;
    /* Counted before the job can reach a worker, so that its delivery never sees it uncounted. */
    atomic_fetch_add(&port->pending, 1);
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    size_t queued = atomic_load_explicit(&p->queued, memory_order_relaxed);
    if (p->stopping)
        rc = -ESHUTDOWN;
    else if (queued >= p->queue_max)
        rc = -EAGAIN;
    if (rc == 0) {
        *p->tail = j;
        p->tail = &j->next;
        atomic_store_explicit(&p->queued, queued + 1, memory_order_relaxed);
        /* One waiter is enough: each job needs one worker. No syscall when none waits. */
        pthread_cond_signal(&p->ready);
    }
    pthread_mutex_unlock(&p->mu);
    if (rc != 0)
        atomic_fetch_sub(&port->pending, 1);
    return rc;
}

size_t pool_queued(const struct pool *p)
{
    return atomic_load_explicit(&p->queued, memory_order_relaxed);
}

void pool_stop(struct pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    struct pool_job *cancelled = p->head;
    p->head = NULL;
    p->tail = &p->head;
    atomic_store_explicit(&p->queued, 0, memory_order_relaxed);
    pthread_cond_broadcast(&p->ready);
    pthread_mutex_unlock(&p->mu);
    /* Outside the pool's mutex: a port's lock is never taken under it. */
    while (cancelled) {
        struct pool_job *j = cancelled;
        cancelled = j->next;
        j->ran = false;
        port_deliver(j);
    }
    if (p->joined)
        return;
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    p->joined = true;
}

void pool_free(struct pool *p)
{
    if (!p)
        return;
    pool_stop(p);
    pthread_cond_destroy(&p->ready);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* Takes the port's whole completion list, oldest first. The eventfd is reset before, not after:
 * a job delivered between the two then either is in the list taken, or wrote the eventfd again
 * after the reset (its list was empty), so that no completion is left without a wake-up. */
static struct pool_job *port_take(struct pool_port *port, size_t *pending)
{
    uint64_t n;
    ssize_t r = read(port->io.fd, &n, sizeof(n));
    (void)r; /* EAGAIN: a wake-up whose jobs an earlier take already had */
    pthread_mutex_lock(&port->mu);
    struct pool_job *list = port->head;
    port->head = NULL;
    port->tail = &port->head;
    if (pending)
        *pending = atomic_load(&port->pending);
    pthread_mutex_unlock(&port->mu);
    return list;
}

/* Calls done for each job of list. Each is unlinked first: done may free it or submit it. */
static void port_run(struct pool_job *list)
{
    while (list) {
        struct pool_job *j = list;
        list = j->next;
        j->next = NULL;
        j->done(j);
    }
}

static void on_port(struct loop *loop, struct loop_io *io, uint32_t events)
{
    (void)loop;
    (void)events;
    struct pool_port *port = container_of(io, struct pool_port, io);
    /* Only the jobs finished by now: those completed while their dones run (or submitted by
     * them) wait for the next turn, so that a busy pool cannot keep the loop here. */
    port_run(port_take(port, NULL));
}

int pool_port_init(struct pool_port *port, struct loop *loop)
{
    port->loop = loop;
    port->head = NULL;
    port->tail = &port->head;
    atomic_init(&port->pending, 0);
    port->io.fd = -1;
    int rc = pthread_mutex_init(&port->mu, NULL);
    if (rc != 0)
        return -rc;
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        goto fail;
    }
    if ((rc = loop_add(loop, &port->io, fd, EPOLLIN, on_port)) != 0) {
        close(fd);
        port->io.fd = -1;
        goto fail;
    }
    return 0;
fail:
    pthread_mutex_destroy(&port->mu);
    return rc;
}

void pool_port_close(struct pool_port *port)
{
    if (port->io.fd < 0)
        return;
    for (;;) {
        size_t pending;
        struct pool_job *list = port_take(port, &pending);
        if (!list && pending == 0)
            break;
        if (!list) {
            /* Jobs are queued or running: the first to finish writes the eventfd (the list is
             * empty), which wakes this poll. Blocking: the loop no longer runs. */
            struct pollfd pfd = {.fd = port->io.fd, .events = POLLIN};
            while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
                ;
            continue;
        }
        port_run(list);
    }
    loop_del(port->loop, &port->io);
    close(port->io.fd);
    port->io.fd = -1;
    pthread_mutex_destroy(&port->mu);
}
