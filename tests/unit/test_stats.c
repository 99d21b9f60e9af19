/*
 * Unit tests for the stats registry (src/core/stats.c): per-loop and global tables, offsets and
 * read callbacks, sums, families and lookups by name, and reads that race the writers (a
 * thread updating its counters while another sums them: every total is one the writer could
 * have had, and counters never go backwards).
 */
#include "core/stats.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

struct loop_counters {
    counter_t requests;
    counter_t responses[3];
    counter_t open;
};

static const struct stat_desc loop_descs[] = {
    STAT_FIELD(struct loop_counters, requests, "t_requests_total", STAT_COUNTER, "Requests."),
    STAT_LABELED(struct loop_counters, responses[1], "t_responses_total", STAT_COUNTER,
                 "Responses.", "class", "2xx"),
    STAT_LABELED(struct loop_counters, responses[2], "t_responses_total", STAT_COUNTER,
                 "Responses.", "class", "4xx"),
    STAT_FIELD(struct loop_counters, open, "t_open", STAT_GAUGE, "Open now."),
};

struct process {
    counter_t reloads;
    uint64_t plain; /* not a counter_t: read through a callback */
};

static uint64_t read_plain(const void *block)
{
    return ((const struct process *)block)->plain * 10;
}

static const struct stat_desc process_descs[] = {
    STAT_FIELD(struct process, reloads, "t_reloads_total", STAT_COUNTER, "Reloads."),
    {.name = "t_plain", .help = "Computed.", .type = STAT_GAUGE, .read = read_plain},
};

static void test_register_and_read(void **state)
{
    (void)state;
    struct loop_counters lc[3];
    memset(lc, 0, sizeof(lc));
    struct process p = {.plain = 7};
    struct stats *s = stats_new(3);
    assert_non_null(s);
    const void *blocks[3] = {&lc[0], &lc[1], &lc[2]};
    assert_int_equal(stats_register(s, loop_descs, 4, blocks, true), 0);
    const void *pblock = &p;
    assert_int_equal(stats_register(s, process_descs, 2, &pblock, false), 0);
    assert_int_equal(stats_loops(s), 3);
    assert_int_equal(stats_count(s), 6);

    for (int l = 0; l < 3; l++) {
        counter_add(&lc[l].requests, (uint64_t)(l + 1) * 100);
        counter_add(&lc[l].responses[1], (uint64_t)l + 1);
        counter_add(&lc[l].open, 5);
    }
    counter_add(&lc[1].open, (uint64_t)-2); /* a gauge goes down */
    counter_add(&lc[2].responses[2], 4);
    counter_add(&p.reloads, 2);

    uint64_t per[3];
    assert_int_equal(stats_read(s, 0, per), 600);
    assert_int_equal(per[0], 100);
    assert_int_equal(per[2], 300);
    assert_int_equal(stats_read(s, 3, per), 13);
    assert_int_equal(per[1], 3);
    assert_true(stats_per_loop(s, 3));
    assert_false(stats_per_loop(s, 4));
    /* A global series has one value; per_loop is left alone. */
    per[0] = 12345;
    assert_int_equal(stats_read(s, 4, per), 2);
    assert_int_equal(per[0], 12345);
    assert_int_equal(stats_read(s, 5, NULL), 70);

    /* Families and lookups. */
    assert_int_equal(stats_find(s, "t_responses_total", NULL), 1);
    assert_int_equal(stats_find(s, "t_responses_total", "4xx"), 2);
    assert_int_equal(stats_find(s, "t_responses_total", "5xx"), -1);
    assert_int_equal(stats_find(s, "nothing", NULL), -1);
    assert_int_equal(stats_total(s, "t_responses_total", "2xx"), 6);
    assert_int_equal(stats_total(s, "t_responses_total", "4xx"), 4);
    assert_int_equal(stats_total(s, "t_plain", NULL), 70);
    assert_int_equal(stats_total(s, "nothing", NULL), 0);
    assert_string_equal(stats_desc(s, 2)->label, "class");
    assert_string_equal(stats_desc(s, 2)->value, "4xx");
    assert_int_equal(stats_desc(s, 3)->type, STAT_GAUGE);
    stats_free(s);
}

static void test_empty(void **state)
{
    (void)state;
    struct stats *s = stats_new(0); /* at least one loop */
    assert_non_null(s);
    assert_int_equal(stats_loops(s), 1);
    assert_int_equal(stats_count(s), 0);
    assert_int_equal(stats_find(s, "t_requests_total", NULL), -1);
    stats_free(s);
    stats_free(NULL);
}

/* A writer thread bumps requests and, in the same step, the 2xx responses; the reader sums
 * while it runs: each value only grows, and never past what was written. */
struct race {
    struct loop_counters lc[2];
    atomic_bool stop;
};

#define RACE_STEPS 200000

static void *writer(void *arg)
{
    struct race *r = arg;
    for (uint64_t i = 0; i < RACE_STEPS; i++) {
        counter_add(&r->lc[i & 1].requests, 1);
        counter_add(&r->lc[i & 1].responses[1], 1);
    }
    atomic_store(&r->stop, true);
    return NULL;
}

static void test_reads_race_writers(void **state)
{
    (void)state;
    static struct race r;
    memset(&r, 0, sizeof(r));
    struct stats *s = stats_new(2);
    const void *blocks[2] = {&r.lc[0], &r.lc[1]};
    assert_int_equal(stats_register(s, loop_descs, 4, blocks, true), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer, &r), 0);
    uint64_t last = 0, reads = 0;
    while (!atomic_load(&r.stop) || reads == 0) {
        uint64_t v = stats_read(s, 0, NULL);
        assert_true(v >= last);
        assert_true(v <= RACE_STEPS);
        last = v;
        reads++;
    }
    pthread_join(t, NULL);
    assert_int_equal(stats_read(s, 0, NULL), RACE_STEPS);
    assert_int_equal(stats_total(s, "t_responses_total", "2xx"), RACE_STEPS);
    stats_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_and_read),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_reads_race_writers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
