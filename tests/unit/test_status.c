/*
 * Unit tests for the status handler's documents (src/handlers/status.c): the JSON shape (keys
 * from the series' names, labelled families as objects, totals equal to the sum of the loops,
 * process series apart), the Prometheus text (one HELP and TYPE per family, loop labels beside
 * the series' own), the routes it adds, and the configurations it refuses. The documents as
 * served (parsed by Python's json, checked by promtool) are tested in
 * tests/integration/test_status.py.
 */
#include "handlers/status.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct loop_counters {
    counter_t requests;
    counter_t responses[2];
    counter_t idle;
};

static const struct stat_desc loop_descs[] = {
    STAT_FIELD(struct loop_counters, requests, "tinyweb_requests_total", STAT_COUNTER, "Requests."),
    STAT_LABELED(struct loop_counters, responses[0], "tinyweb_responses_total", STAT_COUNTER,
                 "Responses by class.", "class", "2xx"),
    STAT_LABELED(struct loop_counters, responses[1], "tinyweb_responses_total", STAT_COUNTER,
                 "Responses by class.", "class", "4xx"),
    STAT_FIELD(struct loop_counters, idle, "tinyweb_idle_connections", STAT_GAUGE, "Idle now."),
};

struct process {
    counter_t generation, dropped;
};

static const struct stat_desc process_descs[] = {
    STAT_FIELD(struct process, generation, "tinyweb_config_generation", STAT_GAUGE,
               "Configuration generation."),
    STAT_LABELED(struct process, dropped, "tinyweb_log_dropped_lines_total", STAT_COUNTER,
                 "Dropped log lines.", "log", "access"),
};

struct fixture {
    struct loop_counters lc[2];
    struct process p;
    struct stats *stats;
    struct status *st;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->stats = stats_new(2);
    const void *blocks[2] = {&f->lc[0], &f->lc[1]};
    const void *pblock = &f->p;
    if (stats_register(f->stats, loop_descs, 4, blocks, true) ||
        stats_register(f->stats, process_descs, 2, &pblock, false))
        return -1;
    counter_add(&f->lc[0].requests, 10);
    counter_add(&f->lc[1].requests, 32);
    counter_add(&f->lc[0].responses[0], 9);
    counter_add(&f->lc[1].responses[0], 30);
    counter_add(&f->lc[1].responses[1], 2);
    counter_add(&f->lc[1].idle, 3);
    counter_add(&f->p.generation, 4);
    counter_add(&f->p.dropped, 1);
    struct status_config cfg = {.path = "/status", .version = "9.8.7"};
    char err[64];
    cidr_list_parse("127.0.0.0/8,::1", &cfg.allow, err, sizeof(err));
    f->st = status_new(&cfg, f->stats);
    *state = f;
    return f->st ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    status_free(f->st);
    stats_free(f->stats);
    free(f);
    return 0;
}

static void contains(const char *doc, const char *part)
{
    if (!strstr(doc, part))
        fail_msg("missing %s in:\n%s", part, doc);
}

static int occurrences(const char *doc, const char *part)
{
    int n = 0;
    for (const char *p = doc; (p = strstr(p, part)); p += strlen(part))
        n++;
    return n;
}

static void test_json(void **state)
{
    struct fixture *f = *state;
    size_t len = 0;
    char *doc = status_json(f->st, &len);
    assert_non_null(doc);
    assert_int_equal(strlen(doc), len);
    contains(doc, "{\"version\": \"9.8.7\", \"uptime_seconds\": ");
    contains(doc, "\"config_generation\": 4, \"loop_count\": 2,");
    contains(doc, "\"totals\": {\"requests\": 42, \"responses\": {\"2xx\": 39, \"4xx\": 2}, "
                  "\"idle_connections\": 3}");
    contains(doc, "{\"loop\": 0, \"requests\": 10, \"responses\": {\"2xx\": 9, \"4xx\": 0}, "
                  "\"idle_connections\": 0}");
    contains(doc, "{\"loop\": 1, \"requests\": 32, \"responses\": {\"2xx\": 30, \"4xx\": 2}, "
                  "\"idle_connections\": 3}");
    contains(doc, "\"process\": {\"config_generation\": 4, \"log_dropped_lines\": "
                  "{\"access\": 1}}}\n");
    /* Process series stay out of the loops, and loop series out of the process. */
    assert_int_equal(occurrences(doc, "log_dropped_lines"), 1);
    assert_int_equal(occurrences(doc, "\"requests\""), 3);
    free(doc);
}

static void test_prometheus(void **state)
{
    struct fixture *f = *state;
    size_t len = 0;
    char *doc = status_prometheus(f->st, &len);
    assert_non_null(doc);
    assert_int_equal(strlen(doc), len);
    contains(doc, "# HELP tinyweb_build_info The version of tinyweb that runs.\n"
                  "# TYPE tinyweb_build_info gauge\ntinyweb_build_info{version=\"9.8.7\"} 1\n");
    contains(doc, "# TYPE tinyweb_uptime_seconds gauge\ntinyweb_uptime_seconds ");
    contains(doc, "# HELP tinyweb_requests_total Requests.\n# TYPE tinyweb_requests_total "
                  "counter\ntinyweb_requests_total{loop=\"0\"} 10\n"
                  "tinyweb_requests_total{loop=\"1\"} 32\n");
    contains(doc, "tinyweb_responses_total{loop=\"0\",class=\"2xx\"} 9\n"
                  "tinyweb_responses_total{loop=\"0\",class=\"4xx\"} 0\n"
                  "tinyweb_responses_total{loop=\"1\",class=\"2xx\"} 30\n"
                  "tinyweb_responses_total{loop=\"1\",class=\"4xx\"} 2\n");
    contains(doc, "# TYPE tinyweb_idle_connections gauge\n");
    contains(doc, "\ntinyweb_config_generation 4\n");
    contains(doc, "\ntinyweb_log_dropped_lines_total{log=\"access\"} 1\n");
    /* One HELP and one TYPE per family, every line ends. */
    assert_int_equal(occurrences(doc, "# TYPE tinyweb_responses_total "), 1);
    assert_int_equal(occurrences(doc, "# HELP tinyweb_responses_total "), 1);
    assert_int_equal(occurrences(doc, "# TYPE "), 9);
    assert_true(len > 0 && doc[len - 1] == '\n');
    free(doc);
}

static int noop(struct http_exchange *x, const struct http_request *req, void *ctx)
{
    (void)x;
    (void)req;
    (void)ctx;
    return 0;
}

static void test_routes(void **state)
{
    struct fixture *f = *state;
    struct http_routes r;
    http_routes_init(&r, noop, NULL, HTTP_METHODS_READ);
    assert_int_equal(status_add_routes(f->st, &r), 0);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.routes[0].path, "/status");
    assert_string_equal(r.routes[1].path, "/status/");
    assert_string_equal(r.routes[2].path, "/status/metrics");
    for (size_t i = 0; i < r.n; i++) {
        assert_false(r.routes[i].prefix);
        assert_int_equal(r.routes[i].methods, HTTP_METHODS_READ);
        assert_ptr_equal(r.routes[i].ctx, f->st);
    }
    struct http_match m = http_routes_match(&r, "/status", 7, HTTP_POST);
    assert_null(m.route);
    assert_int_equal(m.allowed, HTTP_METHODS_READ);

    /* A metrics path of its own. */
    struct status_config cfg = {.path = "/_/status", .metrics = "/metrics", .version = "1"};
    struct status *st = status_new(&cfg, f->stats);
    assert_non_null(st);
    http_routes_init(&r, noop, NULL, HTTP_METHODS_READ);
    assert_int_equal(status_add_routes(st, &r), 0);
    assert_string_equal(r.routes[2].path, "/metrics");
    assert_int_equal(r.gate_len, 1);
    status_free(st);
}

static void test_bad_config(void **state)
{
    struct fixture *f = *state;
    static const char *bad[] = {NULL, "", "/", "status", "/status/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct status_config cfg = {.path = bad[i]};
        assert_null(status_new(&cfg, f->stats));
    }
    struct status_config cfg = {.path = "/s", .metrics = "metrics"};
    assert_null(status_new(&cfg, f->stats));
}

static void test_page(void **state)
{
    (void)state;
    assert_int_equal(strlen(status_page), status_page_len);
    assert_true(status_page_len > 1000);
    assert_int_equal(strncmp(status_page, "<!DOCTYPE html>", 15), 0);
    /* Self-contained: nothing loaded from elsewhere. */
    assert_null(strstr(status_page, "src=\"http"));
    assert_null(strstr(status_page, "href=\"http"));
    assert_null(strstr(status_page, "<link"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prometheus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
        cmocka_unit_test(test_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
