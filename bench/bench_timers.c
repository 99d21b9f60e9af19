/*
 * Timer container microbenchmark; bench/run.sh runs it and writes docs/BENCHMARKS.md.
 *
 * For each container kind (fifo, list) and N live timers it prints a Markdown table of the
 * nanoseconds per:
 * - add: arming an unarmed node;
 * - re-arm: arming an armed node in its own class at a later clock, so that its deadline really
 *   moves (the refresh a server does on every read or write of a connection);
 * - delete: timers_cancel() of an armed node;
 * - expire: one timers_expire() call after every deadline has passed, per expired timer;
 * - lazy re-arm (fifo only): a re-arm whose rounded deadline is unchanged, which timers_arm()
 *   skips after two compares; it costs little more than touching the node, so it is also the
 *   memory floor under every other figure.
 *
 * The clock is fake (each call is handed `now`) and the granularity is 1 ms, 1000 ms for the lazy
 * re-arm. Nodes are embedded in 128-byte owners allocated as one array, like a connection table,
 * and every operation takes its node from a precomputed random permutation: at large N the
 * figures include the cache and TLB misses a server pays when activity hits random connections.
 * Time is read with CLOCK_MONOTONIC around batches of operations, never per operation, and the
 * bookkeeping between batches (choosing nodes, restoring the population) is not timed.
 *
 * Every measurement starts from a freshly populated container. A measurement stops after
 * max(N, 200k) operations or when its time budget is spent, but never before MIN_OPS operations:
 * the list's add and re-arm walk O(N) nodes each, so at 1M it only manages a few dozen. The fifo
 * figures are the median of several repetitions; the list repeats only where that is cheap.
 */
#ifndef _GNU_SOURCE
/* clock_gettime() under -std=c11; the build normally defines _GNU_SOURCE, which implies it. */
#define _POSIX_C_SOURCE 200809L
#endif

#include "core/timer.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The handlers timers_expire() is given: one for every class (single-threaded use). */
static struct timer_handler on[TIMER_CLASSES_MAX];

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* An idle-connection timeout. Nothing expires before the expiry measurement asks it to. */
#define DURATION_MS 60000u
/* Where the fake clock starts: far from zero, so the list's decreasing clock never wraps. */
#define CLOCK_BASE_MS (UINT64_C(1) << 40)
/* The granularities of the main measurements and of the lazy re-arm. */
#define GRAN_MS      1u
#define LAZY_GRAN_MS 1000u
/* Fewer operations than this make a figure mostly noise, whatever the budget says. */
#define MIN_OPS 20
/* At least this many operations per measurement, budget permitting, so small N is not noise. */
#define MAX_OPS_FLOOR 200000u
/* Batches double until one lasts this long, which makes the clock reads negligible. */
#define BATCH_TARGET_NS 50000u
#define BATCH_MAX       1024u
#define NS_PER_S        1000000000.0

/* A connection-like owner: the timer node sits among other per-connection state. */
struct owner {
    int fd;
    uint32_t state;
    uint64_t bytes_in;
    uint64_t bytes_out;
    struct timer_node timer;
    unsigned char scratch[72];
};
_Static_assert(sizeof(struct owner) == 128, "an owner is two cache lines, like a connection");

enum { OWNER_OPEN, OWNER_CLOSED };

enum op { OP_ADD, OP_REARM, OP_DELETE, OP_LAZY };

struct config {
    size_t max_n;
    int reps;
    double budget_s;
};

struct bench {
    enum timer_kind kind;
    uint64_t gran;
    size_t n;     /* timers armed by populate() */
    size_t total; /* owners: n to arm plus the spare pool */
    struct owner *owners;
    uint32_t *pop;       /* population order: a random permutation of [0, total) */
    uint32_t *pick;      /* operation order: another random permutation of [0, total) */
    size_t cursor;       /* the next position in pick */
    unsigned char *live; /* per owner, whether armed: choosing a node must not touch it */
    uint32_t *pool;      /* ring of unarmed owners, oldest first */
    size_t pool_cap, pool_head, pool_len;
    struct timers *t;
    uint64_t now; /* the fake clock, never decreasing */
    uint64_t low; /* the list's restore clock, always decreasing (see restore()) */
};

struct result {
    double add, rearm, del, expire, lazy;
    size_t list_ops[2]; /* operations the list's add and re-arm managed within the budget */
};

/* Where populate() leaves the sum of its cache-warming reads, so they are not optimised away. */
static volatile uint64_t sink;

static void die(const char *what)
{
    fprintf(stderr, "bench_timers: %s\n", what);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift64(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

/* Fisher-Yates with a fixed-seed PRNG, so every run touches the same nodes in the same order. */
static void shuffle(uint32_t *a, size_t n, uint64_t *seed)
{
    for (size_t i = 0; i < n; i++)
        a[i] = (uint32_t)i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(xorshift64(seed) % i);
        uint32_t tmp = a[i - 1];
        a[i - 1] = a[j];
        a[j] = tmp;
    }
}

static void *xmalloc(size_t size)
{
    void *p = malloc(size);
    if (!p)
        die("out of memory");
    return p;
}

static void bench_init(struct bench *b, enum timer_kind kind, size_t n)
{
    memset(b, 0, sizeof(*b));
    b->kind = kind;
    b->n = n;
    /* The spare pool must outlast the batches drawn from it by more than a batch, so that a
     * node cancelled untimed is not re-armed while it is still hot in the cache. */
    size_t spare = n / 8 > BATCH_MAX ? n / 8 : BATCH_MAX;
    b->total = n + spare;
    b->owners = aligned_alloc(64, b->total * sizeof(struct owner));
    if (!b->owners)
        die("out of memory");
    memset(b->owners, 0, b->total * sizeof(struct owner));
    b->pop = xmalloc(b->total * sizeof(b->pop[0]));
    b->pick = xmalloc(b->total * sizeof(b->pick[0]));
    b->live = xmalloc(b->total);
    b->pool_cap = spare + BATCH_MAX;
    b->pool = xmalloc(b->pool_cap * sizeof(b->pool[0]));
    uint64_t seed = UINT64_C(0x9e3779b97f4a7c15) ^ n;
    shuffle(b->pop, b->total, &seed);
    shuffle(b->pick, b->total, &seed);
}

static void bench_free(struct bench *b)
{
    if (b->t)
        timers_free(b->t);
    free(b->owners);
    free(b->pop);
    free(b->pick);
    free(b->live);
    free(b->pool);
}

static struct timer_node *node_of(struct bench *b, uint32_t i)
{
    return &b->owners[i].timer;
}

static void pool_push(struct bench *b, uint32_t i)
{
    if (b->pool_len == b->pool_cap)
        die("spare pool overflow");
    b->pool[(b->pool_head + b->pool_len++) % b->pool_cap] = i;
}

static uint32_t pool_pop(struct bench *b)
{
    if (b->pool_len == 0)
        die("spare pool underflow");
    uint32_t i = b->pool[b->pool_head];
    b->pool_head = (b->pool_head + 1) % b->pool_cap;
    b->pool_len--;
    return i;
}

/*
 * Starts a measurement from a fresh container holding n timers, armed in random node order;
 * the other owners go to the spare pool, unarmed. With same_now (fifo only) every timer gets
 * the same deadline, as the lazy re-arm needs.
 *
 * The fifo is armed with a rising clock, as it requires. The list is armed with a falling one:
 * its add walks from the head and inserts after equal deadlines, so arming N timers at one clock
 * (or a rising one) costs O(N^2), hours at 1M; with each new deadline the smallest so far, every
 * insertion stops at the head, O(1). Both end with the same deadlines, one per clock tick.
 */
static void populate(struct bench *b, uint64_t gran, bool same_now)
{
    if (b->t)
        timers_free(b->t);
    const uint64_t durations[] = {DURATION_MS};
    b->gran = gran;
    b->t = timers_new(b->kind, durations, (int)ARRAY_LEN(durations), gran);
    if (!b->t)
        die("timers_new failed");
    for (size_t i = 0; i < b->total; i++) {
        timer_node_init(&b->owners[i].timer);
        b->owners[i].state = OWNER_OPEN;
    }
    memset(b->live, 0, b->total);
    for (size_t i = 0; i < b->n; i++) {
        uint64_t at;
        if (same_now)
            at = CLOCK_BASE_MS;
        else if (b->kind == TIMER_LIST)
            at = CLOCK_BASE_MS + (b->n - i) * gran;
        else
            at = CLOCK_BASE_MS + (i + 1) * gran;
        timers_arm(b->t, node_of(b, b->pop[i]), 0, at);
        b->live[b->pop[i]] = 1;
    }
    if (b->kind == TIMER_LIST && !same_now) {
        /* The falling clock leaves the list's head (the earliest deadline) the most recently
         * touched node, the fifo's the least. Touch the list once from head to tail so both
         * start with the same cache history; otherwise the list's expiry would look cheaper. */
        uint64_t sum = 0;
        for (size_t i = b->n; i-- > 0;)
            sum += node_of(b, b->pop[i])->deadline;
        sink = sum;
    }
    b->pool_head = b->pool_len = 0;
    for (size_t i = b->n; i < b->total; i++)
        pool_push(b, b->pop[i]);
    b->now = same_now ? CLOCK_BASE_MS : CLOCK_BASE_MS + (b->n + 1) * gran;
    b->low = CLOCK_BASE_MS;
    b->cursor = 0;
    if (timers_count(b->t) != b->n)
        die("populate: wrong timer count");
}

/*
 * Chooses count distinct armed owners, continuing the random permutation. Only the live array
 * is read, so the owners stay as cold as a server would find them.
 */
static void pick_live(struct bench *b, struct timer_node **nodes, uint32_t *idx, size_t count)
{
    for (size_t got = 0; got < count;) {
        uint32_t i = b->pick[b->cursor];
        b->cursor = (b->cursor + 1) % b->total;
        if (b->live[i]) {
            idx[got] = i;
            nodes[got++] = node_of(b, i);
        }
    }
}

/* Re-arms an owner untimed, cheaply: the fifo at the current clock (its tail), the list at a
 * deadline below every other one (its head), since its add would otherwise walk to the tail. */
static void restore(struct bench *b, uint32_t i)
{
    if (b->kind == TIMER_LIST) {
        timers_arm(b->t, node_of(b, i), 0, b->low);
        b->low -= b->gran;
    } else {
        timers_arm(b->t, node_of(b, i), 0, b->now);
    }
    b->live[i] = 1;
}

static uint64_t timed_arm(struct bench *b, struct timer_node **nodes, size_t count, bool advance)
{
    struct timers *t = b->t;
    uint64_t now = b->now, gran = advance ? b->gran : 0;
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < count; i++) {
        now += gran;
        timers_arm(t, nodes[i], 0, now);
    }
    uint64_t dt = now_ns() - t0;
    b->now = now;
    return dt;
}

static uint64_t timed_cancel(struct bench *b, struct timer_node **nodes, size_t count)
{
    struct timers *t = b->t;
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < count; i++)
        timers_cancel(t, nodes[i]);
    return now_ns() - t0;
}

/* Runs one operation in timed batches until the op cap or the budget; returns ns per op. */
static double measure(struct bench *b, enum op op, const struct config *cfg, size_t *ops_out)
{
    struct timer_node *nodes[BATCH_MAX];
    uint32_t idx[BATCH_MAX];
    size_t max_ops = b->n > MAX_OPS_FLOOR ? b->n : MAX_OPS_FLOOR;
    size_t batch_max = b->n < BATCH_MAX ? b->n : BATCH_MAX;
    uint64_t budget = (uint64_t)(cfg->budget_s * NS_PER_S);
    uint64_t start = now_ns(), timed = 0;
    size_t ops = 0, bs = 1;

    while (ops < max_ops) {
        bool over = now_ns() - start >= budget;
        if (over && ops >= MIN_OPS)
            break;
        size_t want = bs;
        if (want > max_ops - ops)
            want = max_ops - ops;
        if (over && want > MIN_OPS - ops)
            want = MIN_OPS - ops;
        uint64_t dt = 0;
        switch (op) {
        case OP_ADD:
            /* Arm spare owners, then cancel as many random ones untimed to keep N level. */
            for (size_t i = 0; i < want; i++) {
                idx[i] = pool_pop(b);
                nodes[i] = node_of(b, idx[i]);
            }
            dt = timed_arm(b, nodes, want, true);
            for (size_t i = 0; i < want; i++)
                b->live[idx[i]] = 1;
            pick_live(b, nodes, idx, want);
            for (size_t i = 0; i < want; i++) {
                timers_cancel(b->t, nodes[i]);
                b->live[idx[i]] = 0;
                pool_push(b, idx[i]);
            }
            break;
        case OP_DELETE:
            /* Cancel random armed owners, then re-arm as many old spares untimed. */
            pick_live(b, nodes, idx, want);
            dt = timed_cancel(b, nodes, want);
            for (size_t i = 0; i < want; i++) {
                b->live[idx[i]] = 0;
                pool_push(b, idx[i]);
            }
            for (size_t i = 0; i < want; i++)
                restore(b, pool_pop(b));
            break;
        case OP_REARM:
        case OP_LAZY:
            pick_live(b, nodes, idx, want);
            dt = timed_arm(b, nodes, want, op == OP_REARM);
            break;
        }
        timed += dt;
        ops += want;
        if (dt < BATCH_TARGET_NS && bs < batch_max)
            bs *= 2;
        if (bs > batch_max)
            bs = batch_max;
    }
    if (timers_count(b->t) != b->n)
        die("measure: wrong timer count");
    if (ops_out)
        *ops_out = ops;
    return (double)timed / (double)ops;
}

static void on_expire(struct timer_node *node, int cls, void *ctx)
{
    (void)cls;
    /* What a server does first: find the connection and mark it for closing. */
    struct owner *o = (struct owner *)((char *)node - offsetof(struct owner, timer));
    o->state = OWNER_CLOSED;
    ++*(size_t *)ctx;
}

/* Advances the clock past every deadline and expires the whole population in one call. */
static double measure_expire(struct bench *b)
{
    size_t fired = 0;
    uint64_t when = b->now + DURATION_MS + b->gran;
    uint64_t t0 = now_ns();
    size_t n = timers_expire(b->t, when, SIZE_MAX,
                             timer_handlers_fill(on, TIMER_CLASSES_MAX, on_expire, &fired));
    uint64_t dt = now_ns() - t0;
    if (n != b->n || fired != n || timers_count(b->t) != 0)
        die("expire: not every timer expired");
    return (double)dt / (double)(n ? n : 1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static struct result run_one(enum timer_kind kind, size_t n, const struct config *cfg)
{
    struct bench b;
    struct result r = {0};
    /* The list's add and re-arm exhaust the budget at every N, so repeating them at large N
     * would only multiply the run time; at small N a repetition is cheap enough. */
    int reps = kind == TIMER_LIST && n > 10000 ? 1 : cfg->reps;
    double add[16], rearm[16], del[16], expire[16], lazy[16];

    bench_init(&b, kind, n);
    for (int rep = 0; rep < reps; rep++) {
        populate(&b, GRAN_MS, false);
        add[rep] = measure(&b, OP_ADD, cfg, &r.list_ops[0]);
        populate(&b, GRAN_MS, false);
        rearm[rep] = measure(&b, OP_REARM, cfg, &r.list_ops[1]);
        populate(&b, GRAN_MS, false);
        del[rep] = measure(&b, OP_DELETE, cfg, NULL);
        populate(&b, GRAN_MS, false);
        expire[rep] = measure_expire(&b);
        if (kind == TIMER_FIFO) {
            populate(&b, LAZY_GRAN_MS, true);
            lazy[rep] = measure(&b, OP_LAZY, cfg, NULL);
        }
    }
    r.add = median(add, reps);
    r.rearm = median(rearm, reps);
    r.del = median(del, reps);
    r.expire = median(expire, reps);
    r.lazy = kind == TIMER_FIFO ? median(lazy, reps) : -1;
    bench_free(&b);
    return r;
}

static void format_n(char *buf, size_t len, size_t n)
{
    if (n >= 1000000 && n % 1000000 == 0)
        snprintf(buf, len, "%zuM", n / 1000000);
    else if (n >= 1000 && n % 1000 == 0)
        snprintf(buf, len, "%zuk", n / 1000);
    else
        snprintf(buf, len, "%zu", n);
}

/* One decimal below 100 ns, where it means something; thousands separators above. */
static void format_ns(char *buf, size_t len, double ns)
{
    if (ns < 0) {
        snprintf(buf, len, "n/a");
        return;
    }
    if (ns < 100) {
        snprintf(buf, len, "%.1f", ns);
        return;
    }
    char digits[32];
    snprintf(digits, sizeof(digits), "%.0f", ns);
    size_t nd = strlen(digits), o = 0;
    for (size_t i = 0; i < nd && o + 2 < len; i++) {
        if (i > 0 && (nd - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_timers [--quick] [--max-n N]\n");
}

int main(int argc, char **argv)
{
    struct config cfg = {.max_n = 1000000, .reps = 5, .budget_s = 0.5};
    size_t max_n_arg = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            cfg.max_n = 100000;
            cfg.reps = 3;
            cfg.budget_s = 0.1;
        } else if (strcmp(argv[i], "--max-n") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || v < 1 || v > 10000000) {
                usage(stderr);
                return 2;
            }
            max_n_arg = (size_t)v;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (max_n_arg)
        cfg.max_n = max_n_arg;

    static const size_t std_sizes[] = {1000, 10000, 100000, 1000000};
    size_t sizes[ARRAY_LEN(std_sizes)], nsizes = 0;
    for (size_t i = 0; i < ARRAY_LEN(std_sizes); i++) {
        if (std_sizes[i] <= cfg.max_n)
            sizes[nsizes++] = std_sizes[i];
    }
    if (nsizes == 0)
        sizes[nsizes++] = cfg.max_n;

    /* A throw-away round first: the opening measurements otherwise pay for page faults, cold
     * caches and the CPU leaving an idle state, and the fifo's 1k row comes out slower. */
    struct config warm = {.max_n = 1000, .reps = 1, .budget_s = 0.05};
    run_one(TIMER_FIFO, 1000, &warm);

    printf(
        "| container | N | add ns | re-arm ns | delete ns | expire ns/timer | lazy re-arm ns |\n");
    printf("|---|--:|--:|--:|--:|--:|--:|\n");
    static const enum timer_kind kinds[] = {TIMER_FIFO, TIMER_LIST};
    for (size_t k = 0; k < ARRAY_LEN(kinds); k++) {
        for (size_t s = 0; s < nsizes; s++) {
            uint64_t t0 = now_ns();
            struct result r = run_one(kinds[k], sizes[s], &cfg);
            char n[24], add[32], rearm[32], del[32], expire[32], lazy[32];
            format_n(n, sizeof(n), sizes[s]);
            format_ns(add, sizeof(add), r.add);
            format_ns(rearm, sizeof(rearm), r.rearm);
            format_ns(del, sizeof(del), r.del);
            format_ns(expire, sizeof(expire), r.expire);
            format_ns(lazy, sizeof(lazy), r.lazy);
            printf("| %s | %s | %s | %s | %s | %s | %s |\n", timer_kind_name(kinds[k]), n, add,
                   rearm, del, expire, lazy);
            fflush(stdout);
            fprintf(stderr, "bench_timers: %s N=%s done in %.1f s", timer_kind_name(kinds[k]), n,
                    (double)(now_ns() - t0) / NS_PER_S);
            if (kinds[k] == TIMER_LIST)
                fprintf(stderr, " (last rep: %zu adds, %zu re-arms)", r.list_ops[0], r.list_ops[1]);
            fprintf(stderr, "\n");
        }
    }
    return 0;
}
