/*
 * Unit tests for the worker pool (src/core/pool.c): jobs run on workers (named, niced, signals
 * blocked) and come back on their loop's thread in completion order; a full queue refuses with
 * -EAGAIN; pool_stop hands the waiting jobs back unrun, each done called once; pool_port_close
 * waits for running and queued jobs, and for those their dones submit; wake-ups are coalesced;
 * two loops on two threads share one pool under load.
 */
#include "core/pool.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/defs.h"
#include "loop_fixture.h"

/* What the jobs of one test share. */
struct ctx {
    struct loop *loop;
    pthread_t loop_thread;
    struct pool *pool;
    struct pool_port port;
    int expect;              /* dones after which the loop stops */
    int dones;               /* done calls, all jobs */
    int order[256];          /* ids in done order */
    bool wrong_thread;       /* a done ran off the loop thread, or a work on it */
    pthread_mutex_t gate_mu; /* a gated job's work waits for gate_open */
    pthread_cond_t gate_cv;
    bool gate_open;
    sem_t started;         /* posted when a gated job's work begins */
    int resubmits;         /* jobs whose done submits them again once */
    int nice_expected;     /* -100: not checked */
    atomic_int bad_worker; /* a work saw a wrong name, nice value or signal mask */
};

struct tjob {
    struct pool_job job;
    struct ctx *ctx;
    int id;
    bool gated;
    bool resubmit; /* done submits the job again, once */
    int dones;
    bool ran;
};

/* A loop without timers: the pool's ports are all it waits for. */
static struct loop *new_loop(void)
{
    return fixture_loop_new(1000);
}

static void ctx_init(struct ctx *c, unsigned threads, size_t queue_max, int nice_inc)
{
    memset(c, 0, sizeof(*c));
    c->nice_expected = -100;
    pthread_mutex_init(&c->gate_mu, NULL);
    pthread_cond_init(&c->gate_cv, NULL);
    sem_init(&c->started, 0, 0);
    char err[128] = "";
    c->pool = pool_new(threads, queue_max, nice_inc, err, sizeof(err));
    if (!c->pool)
        fail_msg("pool_new: %s", err);
    c->loop_thread = pthread_self();
    c->loop = new_loop();
    assert_int_equal(pool_port_init(&c->port, c->loop), 0);
}

static void ctx_fini(struct ctx *c)
{
    pool_port_close(&c->port);
    assert_int_equal(c->port.io.fd, -1);
    pool_free(c->pool);
    loop_free(c->loop);
    sem_destroy(&c->started);
    pthread_cond_destroy(&c->gate_cv);
    pthread_mutex_destroy(&c->gate_mu);
}

static void gate_open(struct ctx *c)
{
    pthread_mutex_lock(&c->gate_mu);
    c->gate_open = true;
    pthread_cond_broadcast(&c->gate_cv);
    pthread_mutex_unlock(&c->gate_mu);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Checks that this worker is one the pool set up: name, nice value, signals blocked. */
static void check_worker(struct ctx *c)
{
    char name[16] = "";
    pthread_getname_np(pthread_self(), name, sizeof(name));
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    bool bad = strcmp(name, "tinyweb-work") != 0 || !sigismember(&mask, SIGTERM) ||
               !sigismember(&mask, SIGINT) || !sigismember(&mask, SIGHUP) ||
               !sigismember(&mask, SIGPIPE) || !sigismember(&mask, SIGUSR1);
    if (c->nice_expected != -100) {
        errno = 0;
        int prio = getpriority(PRIO_PROCESS, (id_t)gettid());
        bad |= errno != 0 || prio != c->nice_expected;
    }
    if (bad)
        atomic_store(&c->bad_worker, 1);
}

static void tjob_work(struct pool_job *j)
{
    struct tjob *t = container_of(j, struct tjob, job);
    struct ctx *c = t->ctx;
    if (pthread_equal(pthread_self(), c->loop_thread))
        c->wrong_thread = true;
    check_worker(c);
    if (t->gated) {
        sem_post(&c->started);
        pthread_mutex_lock(&c->gate_mu);
        while (!c->gate_open)
            pthread_cond_wait(&c->gate_cv, &c->gate_mu);
        pthread_mutex_unlock(&c->gate_mu);
    }
}

static void tjob_done(struct pool_job *j)
{
    struct tjob *t = container_of(j, struct tjob, job);
    struct ctx *c = t->ctx;
    if (!pthread_equal(pthread_self(), c->loop_thread))
        c->wrong_thread = true;
    t->dones++;
    t->ran = j->ran;
    if (c->dones < (int)ARRAY_SIZE(c->order))
        c->order[c->dones] = t->id;
    c->dones++;
    if (t->resubmit) {
        t->resubmit = false;
        assert_int_equal(pool_submit(c->pool, &c->port, j), 0);
    }
    if (c->dones == c->expect)
        loop_stop(c->loop);
}

static void tjob_init(struct tjob *t, struct ctx *c, int id)
{
    memset(t, 0, sizeof(*t));
    t->job.work = tjob_work;
    t->job.done = tjob_done;
    t->ctx = c;
    t->id = id;
}

/* One worker: jobs come back in submission order, on the loop thread, each once. */
static void test_order_and_threads(void **state)
{
    (void)state;
    struct ctx c;
    errno = 0;
    int base = getpriority(PRIO_PROCESS, 0);
    assert_int_equal(errno, 0);
    ctx_init(&c, 1, 256, 3);
    c.nice_expected = base + 3 > 19 ? 19 : base + 3;
    static struct tjob jobs[200];
    c.expect = 200;
    for (int i = 0; i < 200; i++) {
        tjob_init(&jobs[i], &c, i);
        assert_int_equal(pool_submit(c.pool, &c.port, &jobs[i].job), 0);
    }
    assert_int_equal(loop_run(c.loop), 0);
    assert_int_equal(c.dones, 200);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(c.order[i], i);
        assert_int_equal(jobs[i].dones, 1);
        assert_true(jobs[i].ran);
    }
    assert_false(c.wrong_thread);
    assert_int_equal(atomic_load(&c.bad_worker), 0);
    assert_int_equal(pool_queued(c.pool), 0);
    ctx_fini(&c);
}

/* Several workers: all come back, on the loop thread, each once. */
static void test_many_workers(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, 4, 1000, 0);
    static struct tjob jobs[1000];
    c.expect = 1000;
    for (int i = 0; i < 1000; i++) {
        tjob_init(&jobs[i], &c, i);
        assert_int_equal(pool_submit(c.pool, &c.port, &jobs[i].job), 0);
    }
    assert_int_equal(loop_run(c.loop), 0);
    assert_int_equal(c.dones, 1000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(jobs[i].dones, 1);
    assert_false(c.wrong_thread);
    assert_int_equal(atomic_load(&c.bad_worker), 0);
    ctx_fini(&c);
}

/* queue_max jobs waiting (besides the running one): the next is refused, and runs later. */
static void test_queue_full(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, 1, 2, 0);
    struct tjob a, b, d, e;
    tjob_init(&a, &c, 0);
    tjob_init(&b, &c, 1);
    tjob_init(&d, &c, 2);
    tjob_init(&e, &c, 3);
    a.gated = true;
    assert_int_equal(pool_submit(c.pool, &c.port, &a.job), 0);
    sem_wait(&c.started); /* the worker holds a: the queue is empty */
    assert_int_equal(pool_queued(c.pool), 0);
    assert_int_equal(pool_submit(c.pool, &c.port, &b.job), 0);
    assert_int_equal(pool_submit(c.pool, &c.port, &d.job), 0);
    assert_int_equal(pool_submit(c.pool, &c.port, &e.job), -EAGAIN);
    assert_int_equal(pool_queued(c.pool), 2);
    gate_open(&c);
    c.expect = 3;
    assert_int_equal(loop_run(c.loop), 0);
    assert_int_equal(e.dones, 0);
    assert_int_equal(c.order[0], 0);
    assert_int_equal(c.order[1], 1);
    assert_int_equal(c.order[2], 2);
    /* The refused job can go again once there is room. */
    c.expect = 4;
    assert_int_equal(pool_submit(c.pool, &c.port, &e.job), 0);
    assert_int_equal(loop_run(c.loop), 0);
    assert_int_equal(e.dones, 1);
    assert_true(e.ran);
    ctx_fini(&c);
}

static void *stopper(void *arg)
{
    pool_stop(arg);
    return NULL;
}

/* pool_stop while one job runs and five wait: the running one finishes (ran), the five come back
 * unrun, each done once; submitting afterwards is refused. by_close: the dones are called by
 * pool_port_close instead of the loop. */
static void stop_with_queued(bool by_close)
{
    struct ctx c;
    ctx_init(&c, 1, 8, 0);
    struct tjob jobs[7];
    for (int i = 0; i < 7; i++)
        tjob_init(&jobs[i], &c, i);
    jobs[0].gated = true;
    assert_int_equal(pool_submit(c.pool, &c.port, &jobs[0].job), 0);
    sem_wait(&c.started);
    for (int i = 1; i < 6; i++)
        assert_int_equal(pool_submit(c.pool, &c.port, &jobs[i].job), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stopper, c.pool), 0);
    /* The stop takes the queue at once, then waits for the running job to join the worker. */
    while (pool_queued(c.pool) != 0)
        sleep_ms(1);
    assert_int_equal(pool_submit(c.pool, &c.port, &jobs[6].job), -ESHUTDOWN);
    gate_open(&c);
    pthread_join(t, NULL);
    c.expect = 6;
    if (!by_close)
        assert_int_equal(loop_run(c.loop), 0);
    else
        pool_port_close(&c.port);
    assert_int_equal(c.dones, 6);
    assert_true(jobs[0].ran);
    for (int i = 0; i < 7; i++)
        assert_int_equal(jobs[i].dones, i < 6 ? 1 : 0);
    for (int i = 1; i < 6; i++)
        assert_false(jobs[i].ran);
    assert_false(c.wrong_thread);
    pool_stop(c.pool); /* again: nothing */
    ctx_fini(&c);
}

static void test_stop_with_queued(void **state)
{
    (void)state;
    stop_with_queued(false);
}

static void test_stop_then_close(void **state)
{
    (void)state;
    stop_with_queued(true);
}

static void *opener(void *arg)
{
    sleep_ms(20);
    gate_open(arg);
    return NULL;
}

/* pool_port_close with a job running and four waiting, the pool still running: it waits for all
 * (no loop runs), calls their dones on this thread, and those a done submits too. */
static void test_close_waits(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, 1, 8, 0);
    struct tjob jobs[5];
    for (int i = 0; i < 5; i++)
        tjob_init(&jobs[i], &c, i);
    jobs[0].gated = true;
    jobs[4].resubmit = true;
    for (int i = 0; i < 5; i++)
        assert_int_equal(pool_submit(c.pool, &c.port, &jobs[i].job), 0);
    sem_wait(&c.started);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, opener, &c), 0);
    pool_port_close(&c.port);
    pthread_join(t, NULL);
    assert_int_equal(c.dones, 6);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(jobs[i].dones, i == 4 ? 2 : 1);
        assert_true(jobs[i].ran);
    }
    int want[6] = {0, 1, 2, 3, 4, 4};
    assert_memory_equal(c.order, want, sizeof(want));
    assert_false(c.wrong_thread);
    ctx_fini(&c); /* closing again is nothing */
}

/* A burst of completions writes the eventfd once: only the empty list's first job wakes. */
static void test_wakeups_coalesced(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, 2, 128, 0);
    static struct tjob jobs[100];
    for (int i = 0; i < 100; i++) {
        tjob_init(&jobs[i], &c, i);
        assert_int_equal(pool_submit(c.pool, &c.port, &jobs[i].job), 0);
    }
    while (atomic_load(&c.port.pending) != 0)
        sleep_ms(1);
    uint64_t writes = 0;
    assert_int_equal(read(c.port.io.fd, &writes, sizeof(writes)), (ssize_t)sizeof(writes));
    assert_int_equal(writes, 1);
    /* The loop, woken by nothing now, would not see them: close delivers them. */
    pool_port_close(&c.port);
    assert_int_equal(c.dones, 100);
    ctx_fini(&c);
}

/* Two loops on two threads share a pool; each keeps WINDOW jobs in flight, resubmitting from
 * its dones, until TOTAL have come back. */
#define WINDOW 32
#define TOTAL  20000

struct side {
    struct loop *loop;
    struct pool_port port;
    struct pool *pool;
    pthread_t thread;
    int submitted, dones;
    bool wrong_thread;
    int refused;
    struct sjob {
        struct pool_job job;
        struct side *side;
        uint64_t work_count;
        int done_count;
    } jobs[WINDOW];
    atomic_ullong works;
};

static void sjob_work(struct pool_job *j)
{
    struct sjob *s = container_of(j, struct sjob, job);
    s->work_count++; /* the pool hands the job over: no two threads touch it at once */
    atomic_fetch_add_explicit(&s->side->works, 1, memory_order_relaxed);
}

static void sjob_done(struct pool_job *j)
{
    struct sjob *s = container_of(j, struct sjob, job);
    struct side *d = s->side;
    if (!pthread_equal(pthread_self(), d->thread) || !j->ran)
        d->wrong_thread = true;
    s->done_count++;
    d->dones++;
    if (d->submitted < TOTAL) {
        if (pool_submit(d->pool, &d->port, j) == 0)
            d->submitted++;
        else
            d->refused++;
    }
    if (d->dones == d->submitted)
        loop_stop(d->loop);
}

static void *side_main(void *arg)
{
    struct side *d = arg;
    d->thread = pthread_self();
    for (int i = 0; i < WINDOW; i++) {
        d->jobs[i].job.work = sjob_work;
        d->jobs[i].job.done = sjob_done;
        d->jobs[i].side = d;
        if (pool_submit(d->pool, &d->port, &d->jobs[i].job) == 0)
            d->submitted++;
    }
    loop_run(d->loop);
    pool_port_close(&d->port);
    return NULL;
}

static void test_two_loops(void **state)
{
    (void)state;
    char err[128];
    struct pool *p = pool_new(4, 2 * WINDOW, 0, err, sizeof(err));
    assert_non_null(p);
    static struct side sides[2];
    for (int k = 0; k < 2; k++) {
        memset(&sides[k], 0, sizeof(sides[k]));
        sides[k].pool = p;
        sides[k].loop = new_loop();
        assert_int_equal(pool_port_init(&sides[k].port, sides[k].loop), 0);
    }
    pthread_t t[2];
    for (int k = 0; k < 2; k++)
        assert_int_equal(pthread_create(&t[k], NULL, side_main, &sides[k]), 0);
    for (int k = 0; k < 2; k++)
        pthread_join(t[k], NULL);
    for (int k = 0; k < 2; k++) {
        struct side *d = &sides[k];
        assert_false(d->wrong_thread);
        assert_int_equal(d->refused, 0); /* 2 * WINDOW in flight fit in the queue */
        assert_int_equal(d->submitted, TOTAL);
        assert_int_equal(d->dones, TOTAL);
        assert_int_equal(atomic_load(&d->works), TOTAL);
        uint64_t sum = 0;
        for (int i = 0; i < WINDOW; i++) {
            assert_int_equal(d->jobs[i].work_count, d->jobs[i].done_count);
            sum += d->jobs[i].work_count;
        }
        assert_int_equal(sum, TOTAL);
        loop_free(d->loop);
    }
    pool_free(p);
}

/* Bad arguments are refused with a message. */
static void test_bad_args(void **state)
{
    (void)state;
    char err[128] = "";
    errno = 0;
    assert_null(pool_new(0, 8, 0, err, sizeof(err)));
    assert_int_equal(errno, EINVAL);
    assert_true(err[0] != '\0');
    assert_null(pool_new(2, 0, 0, err, sizeof(err)));
    pool_free(NULL);
}

int main(void)
{
    alarm(120); /* a lost wake-up hangs: fail instead */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_threads), cmocka_unit_test(test_many_workers),
        cmocka_unit_test(test_queue_full),        cmocka_unit_test(test_stop_with_queued),
        cmocka_unit_test(test_stop_then_close),   cmocka_unit_test(test_close_waits),
        cmocka_unit_test(test_wakeups_coalesced), cmocka_unit_test(test_two_loops),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
