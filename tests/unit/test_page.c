/*
 * Unit tests for server-rendered pages (src/app/page.c): escaping, rendering (values in every
 * slot, empty and NULL values, hostile values, buffers too small by one byte), templates refused
 * at load with the file and line named, and the bundled templates (www/templates) loading and
 * rendering with the form ids the browser test uses.
 */
#include "app/page.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static const char *const names[PAGE_COUNT] = {
    "landing.html", "register.html", "login.html", "welcome.html",
    "picture.html", "video.html",    "fans.html",  "error.html",
};

/* A fresh folder with every template holding "<p>NAME</p>". */
static char *make_dir(void)
{
    char *dir = strdup("/tmp/test_page.XXXXXX");
    assert_non_null(mkdtemp(dir));
    for (int i = 0; i < PAGE_COUNT; i++) {
        char path[256], text[64];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        snprintf(text, sizeof(text), "<p>%s</p>", names[i]);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
    }
    return dir;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void remove_dir(char *dir)
{
    for (int i = 0; i < PAGE_COUNT; i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (unlink(path) < 0)
            rmdir(path);
    }
    assert_int_equal(rmdir(dir), 0);
    free(dir);
}

/* Renders id with v and compares the result with want. */
static void render_is(const struct page_set *ps, enum page_id id, const struct page_vars *v,
                      const char *want)
{
    char out[4096];
    size_t n = page_render(ps, id, v, out, sizeof(out));
    if (n != strlen(want) || memcmp(out, want, n) != 0)
        fail_msg("rendered \"%.*s\", want \"%s\"", (int)n, out, want);
    assert_true(page_render_bound(ps, id, v) >= n);
}

/* Loads a folder whose login.html is text; returns the error (empty when it loaded). */
static const char *load_error(const char *text)
{
    static char err[512];
    char *dir = make_dir();
    write_file(dir, "login.html", text);
    err[0] = '\0';
    struct page_set *ps = page_set_load(dir, err, sizeof(err));
    if (ps)
        assert_string_equal(err, "");
    else
        assert_string_not_equal(err, "");
    page_set_free(ps);
    remove_dir(dir);
    return err;
}

static void test_escape(void **state)
{
    (void)state;
    char out[256];
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"alice", "alice"},
        {"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
        {"a&b", "a&amp;b"},
        {"\"'", "&quot;&#39;"},
        {"' OR 1=1 --", "&#39; OR 1=1 --"},
        {"\" onmouseover=\"x", "&quot; onmouseover=&quot;x"},
        {"&amp;", "&amp;amp;"},
        {"中文 é", "中文 é"},
        {"<<>>", "&lt;&lt;&gt;&gt;"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = page_escape_html(cases[i].in, strlen(cases[i].in), out, sizeof(out));
        assert_int_equal(n, strlen(cases[i].out));
        assert_memory_equal(out, cases[i].out, n);
        /* One byte short never writes past cap and reports 0. */
        char small[256];
        memset(small, 'X', sizeof(small));
        assert_int_equal(page_escape_html(cases[i].in, strlen(cases[i].in), small, n - 1), 0);
        assert_int_equal(small[n - 1], 'X');
        assert_int_equal(page_escape_html(cases[i].in, strlen(cases[i].in), small, n), n);
    }
    assert_int_equal(page_escape_html("", 0, out, sizeof(out)), 0);
}

static void test_render(void **state)
{
    (void)state;
    char *dir = make_dir();
    write_file(dir, "welcome.html", "<h1>Welcome, {{user}}</h1>\n<p class=\"m\">{{message}}</p>");
    write_file(dir, "error.html",
               "<title>{{title}}</title>{{title}}|{{message}}|{{user}}{{user}}\n");
    char err[256] = "";
    struct page_set *ps = page_set_load(dir, err, sizeof(err));
    if (!ps)
        fail_msg("%s", err);

    struct page_vars v = {.user = "alice", .message = "Hello."};
    render_is(ps, PAGE_WELCOME, &v, "<h1>Welcome, alice</h1>\n<p class=\"m\">Hello.</p>");
    /* An empty or absent value renders nothing. */
    v.message = "";
    render_is(ps, PAGE_WELCOME, &v, "<h1>Welcome, alice</h1>\n<p class=\"m\"></p>");
    render_is(ps, PAGE_WELCOME, NULL, "<h1>Welcome, </h1>\n<p class=\"m\"></p>");
    render_is(ps, PAGE_LANDING, &v, "<p>landing.html</p>");

    struct page_vars e = {.user = "<b>", .message = "a & b", .title = "\"Oops\""};
    render_is(ps, PAGE_ERROR, &e,
              "<title>&quot;Oops&quot;</title>&quot;Oops&quot;|a &amp; b|&lt;b&gt;&lt;b&gt;\n");

    /* Every buffer shorter than the page fails whole; the exact size fits. */
    char out[512];
    size_t full = page_render(ps, PAGE_ERROR, &e, out, sizeof(out));
    assert_true(full > 0);
    assert_true(page_render_bound(ps, PAGE_ERROR, &e) >= full);
    for (size_t cap = 0; cap < full; cap++)
        assert_int_equal(page_render(ps, PAGE_ERROR, &e, out, cap), 0);
    assert_int_equal(page_render(ps, PAGE_ERROR, &e, out, full), full);

    /* The bound holds for the worst value: all quotes. */
    char quotes[101];
    memset(quotes, '"', 100);
    quotes[100] = '\0';
    struct page_vars q = {.user = quotes, .message = quotes, .title = quotes};
    size_t bound = page_render_bound(ps, PAGE_ERROR, &q);
    char *big = malloc(bound);
    assert_int_equal(page_render(ps, PAGE_ERROR, &q, big, bound), bound);
    free(big);

    assert_int_equal(page_render(ps, PAGE_COUNT, &v, out, sizeof(out)), 0);
    assert_string_equal(page_file_name(PAGE_FANS), "fans.html");
    assert_null(page_file_name(PAGE_COUNT));
    page_set_free(ps);
    remove_dir(dir);
}

static void test_bad_templates(void **state)
{
    (void)state;
    const char *err = load_error("<p>\n\n<b>{{usr}}</b>");
    assert_non_null(strstr(err, "/login.html:3: unknown variable {{usr}}"));
    err = load_error("{{ user }}");
    assert_non_null(strstr(err, "login.html:1: unknown variable {{ user }}"));
    err = load_error("{{User}}");
    assert_non_null(strstr(err, "unknown variable {{User}}"));
    err = load_error("{{{user}}}");
    assert_non_null(strstr(err, "unknown variable {{{user}}"));
    err = load_error("a\nb {{user");
    assert_non_null(strstr(err, "login.html:2: unterminated {{"));
    err = load_error("a {{user\n}}");
    assert_non_null(strstr(err, "login.html:1: unterminated {{"));
    err = load_error("a {{user}");
    assert_non_null(strstr(err, "unterminated"));
    err = load_error("a {{");
    assert_non_null(strstr(err, "unterminated"));
    err = load_error("{{}}");
    assert_non_null(strstr(err, "unknown variable {{}}"));
    err = load_error("");
    assert_non_null(strstr(err, "login.html: empty"));
    err = load_error("{{user}}{{message}}");
    assert_non_null(strstr(err, "login.html: nothing but variables"));
    /* Text around braces that do not open a variable is fine; so are }} alone. */
    assert_string_equal(load_error("a { b } }} {user} {{user}}{{title}}"), "");

    char *big = malloc(PAGE_FILE_MAX + 2);
    memset(big, 'a', PAGE_FILE_MAX + 1);
    big[PAGE_FILE_MAX + 1] = '\0';
    assert_non_null(strstr(load_error(big), "larger than"));
    big[PAGE_FILE_MAX] = '\0';
    assert_string_equal(load_error(big), "");
    free(big);

    /* A missing template, a folder in its place, a missing folder. */
    char e2[256];
    char *dir = make_dir();
    char path[256];
    snprintf(path, sizeof(path), "%s/fans.html", dir);
    assert_int_equal(unlink(path), 0);
    assert_null(page_set_load(dir, e2, sizeof(e2)));
    assert_non_null(strstr(e2, "/fans.html: No such file or directory"));
    assert_int_equal(mkdir(path, 0700), 0);
    assert_null(page_set_load(dir, e2, sizeof(e2)));
    assert_non_null(strstr(e2, "/fans.html: not a regular file"));
    remove_dir(dir);
    assert_null(page_set_load("/nonexistent/templates", e2, sizeof(e2)));
    assert_non_null(strstr(e2, "/nonexistent/templates"));
}

/* The bundled templates: www/templates beside this file's tests/unit. */
static void test_bundled(void **state)
{
    (void)state;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", __FILE__);
    char *cut = strstr(dir, "tests/unit/test_page.c");
    assert_non_null(cut);
    strcpy(cut, "www/templates");
    char err[512];
    struct page_set *ps = page_set_load(dir, err, sizeof(err));
    if (!ps)
        fail_msg("%s", err);
    const char *hostile = "<script>alert('x')</script>\"&";
    struct page_vars v = {.user = hostile, .message = hostile, .title = hostile};
    for (int id = 0; id < PAGE_COUNT; id++) {
        char out[16384];
        size_t n = page_render(ps, id, &v, out, sizeof(out) - 1);
        assert_true(n > 0);
        out[n] = '\0';
        /* The hostile value shows as text; the only script is the pages' own /app.js. */
        for (const char *sc = strstr(out, "<script"); sc; sc = strstr(sc + 1, "<script"))
            assert_memory_equal(sc, "<script src=\"/app.js\" defer></script>", 37);
        assert_null(strstr(out, "{{"));
        assert_non_null(strstr(out, "<!DOCTYPE html>"));
        assert_non_null(strstr(out, "name=\"viewport\""));
        assert_non_null(strstr(out, "href=\"/style.css\""));
        if (id == PAGE_REGISTER || id == PAGE_LOGIN) {
            assert_non_null(strstr(out, "method=\"post\""));
            assert_non_null(strstr(out, "id=\"user\" name=\"user\""));
            assert_non_null(strstr(out, "id=\"password\" name=\"password\""));
            assert_non_null(strstr(out, "id=\"submit\""));
            assert_non_null(
                strstr(out, id == PAGE_LOGIN ? "action=\"/login\"" : "action=\"/register\""));
            assert_non_null(strstr(out, "&lt;script&gt;")); /* the message */
        }
        if (id == PAGE_WELCOME) {
            assert_non_null(strstr(out, "Welcome, &lt;script&gt;"));
            assert_non_null(strstr(out, "href=\"/picture\""));
            assert_non_null(strstr(out, "href=\"/video\""));
            assert_non_null(strstr(out, "href=\"/fans\""));
            assert_non_null(strstr(out, "action=\"/logout\""));
        }
        if (id == PAGE_PICTURE)
            assert_non_null(strstr(out, "src=\"/images/grid.png\""));
        if (id == PAGE_VIDEO)
            assert_non_null(strstr(out, "src=\"/media/clip.webm\""));
    }
    page_set_free(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_bad_templates),
        cmocka_unit_test(test_bundled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
