/*
 * Unit tests for the handler table (src/http/http_route.c): exact and prefix paths, methods and
 * the 405 answer's Allow set, the order of routes, the gate that lets requests for other paths
 * through to the catch-all at once, and the table's bounds.
 */
#include "http/http_route.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static int h_static, h_json, h_html, h_metrics, h_api, h_login;

static int handle(struct http_exchange *x, const struct http_request *req, void *ctx)
{
    (void)x;
    (void)req;
    (void)ctx;
    return 0;
}

/* Which handler's ctx path and method m reach, or NULL for a 405. */
static const void *pick(const struct http_routes *r, const char *path, enum http_method m,
                        uint32_t *allowed)
{
    struct http_match hit = http_routes_match(r, path, strlen(path), m);
    if (allowed)
        *allowed = hit.allowed;
    return hit.route ? hit.route->ctx : NULL;
}

static void status_table(struct http_routes *r)
{
    http_routes_init(r, handle, &h_static, HTTP_METHODS_READ);
    assert_int_equal(http_routes_add(r, "/status", false, HTTP_METHODS_READ, handle, &h_json), 0);
    assert_int_equal(http_routes_add(r, "/status/", false, HTTP_METHODS_READ, handle, &h_html), 0);
    assert_int_equal(
        http_routes_add(r, "/status/metrics", false, HTTP_METHODS_READ, handle, &h_metrics), 0);
}

static void test_catch_all_only(void **state)
{
    (void)state;
    struct http_routes r;
    http_routes_init(&r, handle, &h_static, HTTP_METHODS_READ);
    assert_ptr_equal(pick(&r, "/", HTTP_GET, NULL), &h_static);
    assert_ptr_equal(pick(&r, "/status", HTTP_HEAD, NULL), &h_static);
    uint32_t allowed;
    assert_null(pick(&r, "/index.html", HTTP_POST, &allowed));
    assert_int_equal(allowed, HTTP_METHODS_READ);
}

static void test_exact_paths(void **state)
{
    (void)state;
    struct http_routes r;
    status_table(&r);
    assert_int_equal(r.gate_len, strlen("/status"));
    assert_ptr_equal(pick(&r, "/status", HTTP_GET, NULL), &h_json);
    assert_ptr_equal(pick(&r, "/status/", HTTP_HEAD, NULL), &h_html);
    assert_ptr_equal(pick(&r, "/status/metrics", HTTP_GET, NULL), &h_metrics);
    /* Near misses go to the catch-all: exact routes take nothing but their path. */
    static const char *others[] = {"/",         "/statu",           "/statuses", "/status/x",
                                   "/status//", "/status/metrics/", "/Status",   "/status%2F",
                                   "/stat",     "/index.html",      "*",         ""};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        if (pick(&r, others[i], HTTP_GET, NULL) != &h_static)
            fail_msg("\"%s\" did not reach the catch-all", others[i]);
}

static void test_methods(void **state)
{
    (void)state;
    struct http_routes r;
    status_table(&r);
    uint32_t allowed = 0;
    assert_null(pick(&r, "/status", HTTP_POST, &allowed));
    assert_int_equal(allowed, HTTP_METHODS_READ);
    assert_null(pick(&r, "/status/metrics", HTTP_DELETE, &allowed));
    char allow[64];
    http_methods_format(allowed, allow, sizeof(allow));
    assert_string_equal(allow, "GET, HEAD");

    /* Two routes on one path with different methods: each its own; 405 names both. */
    http_routes_init(&r, handle, &h_static, HTTP_METHODS_READ);
    assert_int_equal(
        http_routes_add(&r, "/login", false, HTTP_METHOD_BIT(HTTP_GET), handle, &h_html), 0);
    assert_int_equal(
        http_routes_add(&r, "/login", false, HTTP_METHOD_BIT(HTTP_POST), handle, &h_login), 0);
    assert_ptr_equal(pick(&r, "/login", HTTP_GET, NULL), &h_html);
    assert_ptr_equal(pick(&r, "/login", HTTP_POST, NULL), &h_login);
    assert_null(pick(&r, "/login", HTTP_PUT, &allowed));
    http_methods_format(allowed, allow, sizeof(allow));
    assert_string_equal(allow, "GET, POST");
    /* The Allow text is cut whole-method when the buffer is short. */
    assert_int_equal(http_methods_format(allowed, allow, 6), 3);
    assert_string_equal(allow, "GET");
}

static void test_prefix_and_order(void **state)
{
    (void)state;
    struct http_routes r;
    http_routes_init(&r, handle, &h_static, HTTP_METHODS_READ);
    assert_int_equal(http_routes_add(&r, "/api/login", false, HTTP_METHODS_READ, handle, &h_login),
                     0);
    assert_int_equal(http_routes_add(&r, "/api/", true, HTTP_METHODS_READ, handle, &h_api), 0);
    assert_int_equal(r.gate_len, strlen("/api/"));
    assert_ptr_equal(pick(&r, "/api/login", HTTP_GET, NULL), &h_login);
    assert_ptr_equal(pick(&r, "/api/", HTTP_GET, NULL), &h_api);
    assert_ptr_equal(pick(&r, "/api/login/x", HTTP_GET, NULL), &h_api);
    assert_ptr_equal(pick(&r, "/api", HTTP_GET, NULL), &h_static);
    /* Another path shrinks the gate to what they share. */
    assert_int_equal(http_routes_add(&r, "/status", false, HTTP_METHODS_READ, handle, &h_json), 0);
    assert_int_equal(r.gate_len, 1);
    assert_ptr_equal(pick(&r, "/status", HTTP_GET, NULL), &h_json);
    assert_ptr_equal(pick(&r, "/api/x", HTTP_GET, NULL), &h_api);
    assert_ptr_equal(pick(&r, "/x", HTTP_GET, NULL), &h_static);
}

static void test_bounds(void **state)
{
    (void)state;
    struct http_routes r;
    http_routes_init(&r, handle, &h_static, HTTP_METHODS_READ);
    assert_int_equal(http_routes_add(&r, "status", false, HTTP_METHODS_READ, handle, NULL),
                     -EINVAL);
    assert_int_equal(http_routes_add(&r, "", false, HTTP_METHODS_READ, handle, NULL), -EINVAL);
    static char paths[HTTP_ROUTES_MAX + 1][16];
    for (int i = 0; i <= HTTP_ROUTES_MAX; i++) {
        snprintf(paths[i], sizeof(paths[i]), "/r%d", i);
        int rc = http_routes_add(&r, paths[i], false, HTTP_METHODS_READ, handle, &h_json);
        assert_int_equal(rc, i < HTTP_ROUTES_MAX ? 0 : -E2BIG);
    }
    char last[16], over[16];
    snprintf(last, sizeof(last), "/r%d", HTTP_ROUTES_MAX - 1);
    snprintf(over, sizeof(over), "/r%d", HTTP_ROUTES_MAX);
    assert_ptr_equal(pick(&r, last, HTTP_GET, NULL), &h_json);
    assert_ptr_equal(pick(&r, over, HTTP_GET, NULL), &h_static);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catch_all_only), cmocka_unit_test(test_exact_paths),
        cmocka_unit_test(test_methods),        cmocka_unit_test(test_prefix_and_order),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
