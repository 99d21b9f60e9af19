/*
 * Unit tests for the HTTP/1.1 request parser and the chunked decoder (src/http/http_parser.c).
 *
 * Every request in the valid and malformed tables is also fed incrementally: every prefix alone
 * (each copied into an allocation of exactly its length, so that AddressSanitizer catches any
 * read past len), then in steps of 1 to 7 bytes with the last_len hint, then split in two at
 * every position. The answer must be HTTP_PARSE_INCOMPLETE until the head is complete or wrong,
 * and then always the whole buffer's answer. The chunked bodies are fed the same ways.
 */
#include "http/http_parser.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A byte string with its length, so that a table entry may hold NUL bytes. */
#define S(lit) lit, sizeof(lit) - 1

#define MAX_HEADERS 16

static const struct http_limits limits = {
    .max_header_bytes = 4096,
    .max_headers = MAX_HEADERS,
    .max_uri_bytes = 1024,
};

/* One parse, with the request's header array beside it. */
struct parsed {
    int ret;
    int status;
    struct http_request req;
    struct http_header headers[MAX_HEADERS + 1];
};

static int parse_into(struct parsed *out, const char *buf, size_t len, size_t last_len,
                      const struct http_limits *lim)
{
    memset(out, 0, sizeof(*out));
    out->status = -1;
    out->req.headers = out->headers;
    out->ret = http_parse_request(buf, len, last_len, lim, &out->req, &out->status);
    if (out->ret != HTTP_PARSE_ERROR)
        assert_int_equal(out->status, -1); /* status is written only on errors */
    return out->ret;
}

/* A copy of s[0, len) in an allocation of exactly len bytes. */
static char *exact_copy(const char *s, size_t len)
{
    char *p = malloc(len);
    if (len > 0) {
        assert_non_null(p);
        memcpy(p, s, len);
    }
    return p;
}

static void assert_slice(struct http_str s, const char *expect)
{
    if (expect == NULL || expect[0] == '\0') {
        assert_int_equal(s.len, 0);
        return;
    }
    if (s.len != strlen(expect) || memcmp(s.p, expect, s.len) != 0)
        fail_msg("slice \"%.*s\" != \"%s\"", (int)s.len, s.p, expect);
}

static void assert_same_slice(struct http_str a, struct http_str b)
{
    assert_int_equal(a.p == NULL, b.p == NULL);
    assert_int_equal(a.len, b.len);
    if (a.len > 0)
        assert_memory_equal(a.p, b.p, a.len);
}

/* Two successful parses of equal bytes found the same request. */
static void assert_same_request(const struct http_request *a, const struct http_request *b)
{
    assert_int_equal(a->method, b->method);
    assert_same_slice(a->method_name, b->method_name);
    assert_same_slice(a->target, b->target);
    assert_same_slice(a->path, b->path);
    assert_same_slice(a->query, b->query);
    assert_int_equal(a->minor, b->minor);
    assert_int_equal(a->nheaders, b->nheaders);
    for (size_t i = 0; i < a->nheaders; i++) {
        assert_same_slice(a->headers[i].name, b->headers[i].name);
        assert_same_slice(a->headers[i].value, b->headers[i].value);
    }
    assert_int_equal(a->keep_alive, b->keep_alive);
    assert_int_equal(a->chunked, b->chunked);
    assert_int_equal(a->has_content_length, b->has_content_length);
    assert_int_equal(a->content_length, b->content_length);
    assert_int_equal(a->expect_continue, b->expect_continue);
    assert_same_slice(a->host, b->host);
    assert_same_slice(a->if_match, b->if_match);
    assert_same_slice(a->if_unmodified_since, b->if_unmodified_since);
    assert_same_slice(a->if_none_match, b->if_none_match);
    assert_same_slice(a->if_modified_since, b->if_modified_since);
    assert_same_slice(a->range, b->range);
    assert_same_slice(a->if_range, b->if_range);
    assert_same_slice(a->referer, b->referer);
    assert_same_slice(a->user_agent, b->user_agent);
}

static void assert_same_result(const struct parsed *got, const struct parsed *want, size_t at,
                               const char *how)
{
    if (got->ret != want->ret || got->status != want->status)
        fail_msg("%s at %zu: ret %d status %d, want ret %d status %d", how, at, got->ret,
                 got->status, want->ret, want->status);
    if (want->ret > 0)
        assert_same_request(&got->req, &want->req);
}

/*
 * Feeds s[0, len) in every incremental way (see the top of the file). The whole buffer's answer
 * must be a complete result, not HTTP_PARSE_INCOMPLETE; when it is a success, every shorter
 * prefix must be incomplete.
 */
static void check_incremental(const char *s, size_t len, const struct http_limits *lim)
{
    struct parsed *whole = malloc(sizeof(*whole)), *p = malloc(sizeof(*p));
    assert_non_null(whole);
    assert_non_null(p);
    char *full = exact_copy(s, len);
    parse_into(whole, full, len, 0, lim);
    assert_int_not_equal(whole->ret, HTTP_PARSE_INCOMPLETE);
    if (whole->ret > 0)
        assert_int_equal((size_t)whole->ret, len);

    /* Every prefix on its own: incomplete until the answer appears, then always the answer. */
    bool answered = false;
    for (size_t k = 0; k <= len; k++) {
        char *prefix = exact_copy(s, k);
        parse_into(p, prefix, k, 0, lim);
        if (p->ret == HTTP_PARSE_INCOMPLETE) {
            if (answered)
                fail_msg("prefix %zu is incomplete after an answer", k);
        } else {
            assert_same_result(p, whole, k, "prefix");
            if (whole->ret > 0)
                assert_int_equal(k, len);
            answered = true;
        }
        free(prefix);
    }

    /* Steps of 1..7 bytes with the hint: only the moment of the answer may move, not the answer. */
    for (size_t step = 1; step <= 7; step++) {
        size_t last = 0, k = 0;
        do {
            k = k + step < len ? k + step : len;
            char *prefix = exact_copy(s, k);
            parse_into(p, prefix, k, last, lim);
            last = k;
            if (p->ret != HTTP_PARSE_INCOMPLETE || k == len)
                assert_same_result(p, whole, k, "hinted steps");
            free(prefix);
        } while (p->ret == HTTP_PARSE_INCOMPLETE && k < len);
    }

    /* Two pieces at every position, the second call hinted. */
    for (size_t k = 0; k <= len; k++) {
        char *prefix = exact_copy(s, k);
        parse_into(p, prefix, k, 0, lim);
        if (p->ret == HTTP_PARSE_INCOMPLETE)
            parse_into(p, full, len, k, lim);
        assert_same_result(p, whole, k, "two pieces");
        free(prefix);
    }
    free(full);
    free(whole);
    free(p);
}

/* ---- Valid requests ---- */

static void test_get_with_headers(void **state)
{
    (void)state;
    static const char req[] = "GET /index.html?a=1&b=%20 HTTP/1.1\r\n"
                              "Host: example.com:8080\r\n"
                              "User-Agent: curl/8.0  \r\n"
                              "Accept:*/*\r\n"
                              "If-None-Match: \"abc\"\r\n"
                              "If-Modified-Since: Sat, 29 Oct 1994 19:43:31 GMT\r\n"
                              "Range: bytes=0-99\r\n"
                              "If-Range: \"abc\"\r\n"
                              "X-Empty:\r\n"
                              "\r\n"
                              "GET /next";
    size_t head = sizeof(req) - 1 - strlen("GET /next");
    struct parsed p;
    assert_int_equal(parse_into(&p, req, sizeof(req) - 1, 0, &limits), (int)head);
    const struct http_request *r = &p.req;
    assert_int_equal(r->method, HTTP_GET);
    assert_slice(r->method_name, "GET");
    assert_slice(r->target, "/index.html?a=1&b=%20");
    assert_slice(r->path, "/index.html");
    assert_slice(r->query, "a=1&b=%20");
    assert_int_equal(r->minor, 1);
    assert_true(r->keep_alive);
    assert_false(r->chunked);
    assert_false(r->has_content_length);
    assert_int_equal(r->content_length, 0);
    assert_false(r->expect_continue);
    assert_slice(r->host, "example.com:8080");
    assert_slice(r->if_none_match, "\"abc\"");
    assert_slice(r->if_modified_since, "Sat, 29 Oct 1994 19:43:31 GMT");
    assert_slice(r->range, "bytes=0-99");
    assert_slice(r->if_range, "\"abc\"");
    assert_slice(r->user_agent, "curl/8.0");
    assert_null(r->referer.p);

    static const char *const names[] = {
        "Host",  "User-Agent", "Accept", "If-None-Match", "If-Modified-Since",
        "Range", "If-Range",   "X-Empty"};
    static const char *const values[] = {
        "example.com:8080", "curl/8.0", "*/*", "\"abc\"", "Sat, 29 Oct 1994 19:43:31 GMT",
        "bytes=0-99",       "\"abc\"",  ""};
    assert_int_equal(r->nheaders, ARRAY_LEN(names));
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        assert_slice(r->headers[i].name, names[i]);
        assert_slice(r->headers[i].value, values[i]);
    }
    /* Slices point into the caller's buffer: zero-copy. */
    assert_ptr_equal(r->path.p, req + 4);
    assert_ptr_equal(r->headers[0].value.p, req + strlen("GET /index.html?a=1&b=%20 HTTP/1.1\r\n"
                                                         "Host: "));
}

/* A valid request and what the parser must find in it. NULL and "" both mean len 0. */
struct valid_case {
    const char *req;
    size_t len;
    enum http_method method;
    const char *method_name, *path, *query, *host;
    int minor;
    bool keep_alive, chunked, has_cl;
    uint64_t cl;
    bool expect;
    size_t nheaders;
    const char *if_none_match, *range;
};

#define GET11 HTTP_GET, "GET"

static const struct valid_case valid_cases[] = {
    {S("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), GET11, "/", NULL, "a", 1, true, .nheaders = 1},
    /* Leading empty lines, CRLF or LF, are skipped and counted in the head. */
    {S("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), GET11, "/", NULL, "a", 1, true, .nheaders = 1},
    {S("\n\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), GET11, "/", NULL, "a", 1, true, .nheaders = 1},
    /* Bare LF terminators, alone or mixed with CRLF. */
    {S("GET /x HTTP/1.1\nHost: a\n\n"), GET11, "/x", NULL, "a", 1, true, .nheaders = 1},
    {S("GET /x HTTP/1.1\r\nHost: a\nX: y\r\n\n"), GET11, "/x", NULL, "a", 1, true, .nheaders = 2},
    /* HTTP/1.0: Host optional, keep-alive only on request. */
    {S("GET / HTTP/1.0\r\n\r\n"), GET11, "/", NULL, NULL, 0, false, .nheaders = 0},
    {S("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), GET11, "/", NULL, NULL, 0, true,
     .nheaders = 1},
    {S("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), GET11, "/", NULL, NULL, 0, true,
     .nheaders = 1},
    {S("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"), GET11, "/", NULL, NULL, 0, false,
     .nheaders = 1},
    {S("GET / HTTP/1.0\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n"), GET11, "/", NULL,
     NULL, 0, false, .nheaders = 2},
    {S("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"), GET11, "/", NULL, "a", 1, false,
     .nheaders = 2},
    {S("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n"), GET11, "/", NULL, "a", 1,
     false, .nheaders = 2},
    {S("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive,,upgrade\r\n\r\n"), GET11, "/", NULL,
     "a", 1, true, .nheaders = 2},
    {S("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n"), GET11, "/", NULL, "a", 1, true,
     .nheaders = 2},
    /* Later HTTP/1 minor versions are HTTP/1.1. */
    {S("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), GET11, "/", NULL, "a", 1, true, .nheaders = 1},
    {S("GET / HTTP/1.9\r\nHost: a\r\n\r\n"), GET11, "/", NULL, "a", 1, true, .nheaders = 1},
    /* Absolute-form: the target's authority is the host; an empty path is "/". */
    {S("GET http://example.com:8080/a/b?x=1 HTTP/1.1\r\nHost: other\r\n\r\n"), GET11, "/a/b", "x=1",
     "example.com:8080", 1, true, .nheaders = 1},
    {S("GET HTTPS://Example.COM HTTP/1.1\r\nHost: other\r\n\r\n"), GET11, "/", NULL, "Example.COM",
     1, true, .nheaders = 1},
    {S("GET hTtP://example.com?q HTTP/1.1\r\nHost: example.com\r\n\r\n"), GET11, "/", "q",
     "example.com", 1, true, .nheaders = 1},
    {S("GET http://[::1]:80/p HTTP/1.0\r\n\r\n"), GET11, "/p", NULL, "[::1]:80", 0, false,
     .nheaders = 0},
    /* OPTIONS * and CONNECT's authority-form. */
    {S("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_OPTIONS, "OPTIONS", "*", NULL, "a", 1, true,
     .nheaders = 1},
    {S("OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_OPTIONS, "OPTIONS", "/x", NULL, "a", 1, true,
     .nheaders = 1},
    {S("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"), HTTP_CONNECT,
     "CONNECT", "", NULL, "example.com:443", 1, true, .nheaders = 1},
    {S("CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: x\r\n\r\n"), HTTP_CONNECT, "CONNECT", "", NULL,
     "[2001:db8::1]:443", 1, true, .nheaders = 1},
    /* A fragment is cut off; an empty query is still a query. */
    {S("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n"), GET11, "/a", NULL, "a", 1, true, .nheaders = 1},
    {S("GET /a?b#c?d HTTP/1.1\r\nHost: a\r\n\r\n"), GET11, "/a", "b", "a", 1, true, .nheaders = 1},
    {S("GET /a? HTTP/1.1\r\nHost: a\r\n\r\n"), GET11, "/a", NULL, "a", 1, true, .nheaders = 1},
    {S("GET /a?b?c HTTP/1.1\r\nHost: a\r\n\r\n"), GET11, "/a", "b?c", "a", 1, true, .nheaders = 1},
    /* obs-text in the target and in values. */
    {S("GET /caf\xc3\xa9?\xff HTTP/1.1\r\nHost: a\r\nX: \x80\xff\r\n\r\n"), GET11, "/caf\xc3\xa9",
     "\xff", "a", 1, true, .nheaders = 2},
    /* Whitespace around values is trimmed, inside it is kept. */
    {S("GET / HTTP/1.1\r\nHost: \t a \t \r\nX: a \t b\r\nY: \t \r\n\r\n"), GET11, "/", NULL, "a", 1,
     true, .nheaders = 3},
    /* Framing. */
    {S("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"), HTTP_POST, "POST",
     "/up", NULL, "a", 1, true, true, .nheaders = 2},
    {S("POST /up HTTP/1.1\r\nHost: a\r\ntransfer-encoding:  Chunked \r\n\r\n"), HTTP_POST, "POST",
     "/up", NULL, "a", 1, true, true, .nheaders = 2},
    {S("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked,\r\n\r\n"), HTTP_POST, "POST",
     "/up", NULL, "a", 1, true, true, .nheaders = 2},
    {S("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\nTransfer-Encoding: chunked\r\n\r\n"),
     HTTP_POST, "POST", "/up", NULL, "a", 1, true, true, .nheaders = 3},
    {S("PUT /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"), HTTP_PUT, "PUT", "/up", NULL,
     "a", 1, true, false, true, 5, .nheaders = 2},
    {S("PUT /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\ncontent-length:005\r\n\r\n"),
     HTTP_PUT, "PUT", "/up", NULL, "a", 1, true, false, true, 5, .nheaders = 3},
    {S("PUT /up HTTP/1.0\r\nCONTENT-LENGTH: 0\r\n\r\n"), HTTP_PUT, "PUT", "/up", NULL, NULL, 0,
     false, false, true, 0, .nheaders = 1},
    {S("PUT /up HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n"), HTTP_PUT,
     "PUT", "/up", NULL, "a", 1, true, false, true, 9223372036854775807u, .nheaders = 2},
    /* Expect: 100-continue, ignored in HTTP/1.0; empty Expect is no expectation. */
    {S("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"), HTTP_PUT,
     "PUT", "/", NULL, "a", 1, true, false, true, 1, true, .nheaders = 3},
    {S("PUT / HTTP/1.1\r\nHost: a\r\nexpect: 100-Continue\r\nContent-Length: 1\r\n\r\n"), HTTP_PUT,
     "PUT", "/", NULL, "a", 1, true, false, true, 1, true, .nheaders = 3},
    {S("PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"), HTTP_PUT, "PUT", "/",
     NULL, NULL, 0, false, false, true, 1, false, .nheaders = 2},
    {S("GET / HTTP/1.1\r\nHost: a\r\nExpect:\r\n\r\n"), GET11, "/", NULL, "a", 1, true,
     .nheaders = 2},
    /* Host forms; an empty Host is valid (RFC 9112 §3.2). */
    {S("GET / HTTP/1.1\r\nHost: 192.0.2.1:80\r\n\r\n"), GET11, "/", NULL, "192.0.2.1:80", 1, true,
     .nheaders = 1},
    {S("GET / HTTP/1.1\r\nHost: [::ffff:192.0.2.1]:8080\r\n\r\n"), GET11, "/", NULL,
     "[::ffff:192.0.2.1]:8080", 1, true, .nheaders = 1},
    {S("GET / HTTP/1.1\r\nHost:\r\n\r\n"), GET11, "/", NULL, "", 1, true, .nheaders = 1},
    {S("GET / HTTP/1.1\r\nHost: a%41b.example.:\r\n\r\n"), GET11, "/", NULL, "a%41b.example.:", 1,
     true, .nheaders = 1},
    {S("GET / HTTP/1.1\r\nhOST: x-y_z~!$&'()*+,;=\r\n\r\n"), GET11, "/", NULL,
     "x-y_z~!$&'()*+,;=", 1, true, .nheaders = 1},
    /* Methods: case-sensitive tokens. */
    {S("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_HEAD, "HEAD", "/", NULL, "a", 1, true,
     .nheaders = 1},
    {S("DELETE / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_DELETE, "DELETE", "/", NULL, "a", 1, true,
     .nheaders = 1},
    {S("PATCH / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_PATCH, "PATCH", "/", NULL, "a", 1, true,
     .nheaders = 1},
    {S("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_TRACE, "TRACE", "/", NULL, "a", 1, true,
     .nheaders = 1},
    {S("PURGE / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_OTHER, "PURGE", "/", NULL, "a", 1, true,
     .nheaders = 1},
    {S("get / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_OTHER, "get", "/", NULL, "a", 1, true,
     .nheaders = 1},
    {S("GETS / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_OTHER, "GETS", "/", NULL, "a", 1, true,
     .nheaders = 1},
    {S("!#$%&'*+-.^_`|~09azAZ / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_OTHER, "!#$%&'*+-.^_`|~09azAZ",
     "/", NULL, "a", 1, true, .nheaders = 1},
    /* Every tchar in a field name; first occurrences of the captured fields. */
    {S("GET / HTTP/1.1\r\nHost: a\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n"), GET11, "/", NULL, "a", 1,
     true, .nheaders = 2},
    {S("GET / HTTP/1.1\r\nIf-None-Match: \"1\"\r\nRange: bytes=1-\r\nHost: a\r\n"
       "if-none-match: \"2\"\r\nRANGE: bytes=2-\r\n\r\n"),
     GET11, "/", NULL, "a", 1, true, .nheaders = 5, .if_none_match = "\"1\"", .range = "bytes=1-"},
};

/*
 * If-Match and If-Unmodified-Since are captured like the other conditional fields: any case,
 * the first line kept. An empty value is present (p set, len 0), which If-Match fails on.
 */
static void test_precondition_fields(void **state)
{
    (void)state;
    struct parsed p;
    static const char both[] = "GET / HTTP/1.1\r\nHost: a\r\nif-match: \"1\", W/\"2\" \r\n"
                               "IF-UNMODIFIED-SINCE: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                               "If-Match: \"3\"\r\nIf-Unmodified-Since: x\r\n\r\n";
    assert_int_equal(parse_into(&p, both, sizeof(both) - 1, 0, &limits), (int)sizeof(both) - 1);
    assert_slice(p.req.if_match, "\"1\", W/\"2\"");
    assert_slice(p.req.if_unmodified_since, "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_null(p.req.if_none_match.p);
    check_incremental(both, sizeof(both) - 1, &limits);

    static const char empty[] = "GET / HTTP/1.1\r\nHost: a\r\nIf-Match:\r\nIf-Match: *\r\n\r\n";
    assert_int_equal(parse_into(&p, empty, sizeof(empty) - 1, 0, &limits), (int)sizeof(empty) - 1);
    assert_non_null(p.req.if_match.p);
    assert_int_equal(p.req.if_match.len, 0);
    assert_null(p.req.if_unmodified_since.p);

    static const char none[] = "GET / HTTP/1.1\r\nHost: a\r\nIf-Matches: *\r\n\r\n";
    assert_int_equal(parse_into(&p, none, sizeof(none) - 1, 0, &limits), (int)sizeof(none) - 1);
    assert_null(p.req.if_match.p);
    assert_null(p.req.if_unmodified_since.p);
}

static void test_valid_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(valid_cases); i++) {
        const struct valid_case *c = &valid_cases[i];
        struct parsed p;
        parse_into(&p, c->req, c->len, 0, &limits);
        if (p.ret != (int)c->len)
            fail_msg("valid case %zu: ret %d status %d, want %zu", i, p.ret, p.status, c->len);
        const struct http_request *r = &p.req;
        assert_int_equal(r->method, c->method);
        assert_slice(r->method_name, c->method_name);
        assert_slice(r->path, c->path);
        assert_slice(r->query, c->query);
        assert_slice(r->host, c->host);
        assert_int_equal(r->minor, c->minor);
        assert_int_equal(r->keep_alive, c->keep_alive);
        assert_int_equal(r->chunked, c->chunked);
        assert_int_equal(r->has_content_length, c->has_cl);
        assert_int_equal(r->content_length, c->cl);
        assert_int_equal(r->expect_continue, c->expect);
        assert_int_equal(r->nheaders, c->nheaders);
        assert_slice(r->if_none_match, c->if_none_match);
        assert_slice(r->range, c->range);
        assert_true(r->target.len > 0);
    }
}

static void test_target_forms_detail(void **state)
{
    (void)state;
    struct parsed p;
    static const char abs[] = "GET http://h/p?q HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(parse_into(&p, abs, sizeof(abs) - 1, 0, &limits), (int)sizeof(abs) - 1);
    assert_slice(p.req.target, "http://h/p?q");
    assert_ptr_equal(p.req.host.p, abs + 11);
    assert_ptr_equal(p.req.path.p, abs + 12);

    /* The empty path of an absolute-form target is a "/" that is not in the buffer. */
    static const char bare[] = "GET http://h HTTP/1.1\r\nHost: h\r\n\r\n";
    assert_int_equal(parse_into(&p, bare, sizeof(bare) - 1, 0, &limits), (int)sizeof(bare) - 1);
    assert_slice(p.req.path, "/");
    assert_slice(p.req.query, NULL);

    static const char star[] = "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n";
    assert_int_equal(parse_into(&p, star, sizeof(star) - 1, 0, &limits), (int)sizeof(star) - 1);
    assert_ptr_equal(p.req.path.p, star + 8);
    assert_int_equal(p.req.path.len, 1);
}

static void test_method_names(void **state)
{
    (void)state;
    assert_string_equal(http_method_name(HTTP_GET), "GET");
    assert_string_equal(http_method_name(HTTP_HEAD), "HEAD");
    assert_string_equal(http_method_name(HTTP_POST), "POST");
    assert_string_equal(http_method_name(HTTP_PUT), "PUT");
    assert_string_equal(http_method_name(HTTP_DELETE), "DELETE");
    assert_string_equal(http_method_name(HTTP_OPTIONS), "OPTIONS");
    assert_string_equal(http_method_name(HTTP_PATCH), "PATCH");
    assert_string_equal(http_method_name(HTTP_TRACE), "TRACE");
    assert_string_equal(http_method_name(HTTP_CONNECT), "CONNECT");
    assert_string_equal(http_method_name(HTTP_OTHER), "OTHER");
}

/* ---- Malformed requests ---- */

struct bad_case {
    const char *req;
    size_t len;
    int status;
};

#define H "\r\nHost: a\r\n\r\n"

static const struct bad_case bad_cases[] = {
    /* Bare CR: in leading empty lines, the request line, a field line, the final empty line. */
    {S("\rGET / HTTP/1.1" H), 400},
    {S("\r\rGET / HTTP/1.1" H), 400},
    {S("GET / HTTP/1.1\rHost: a\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n\r\n"), 400},
    {S("GET /a\rb HTTP/1.1" H), 400},
    /* Method: a non-empty token followed by exactly one SP. */
    {S("G@T / HTTP/1.1" H), 400},
    {S("G\"T / HTTP/1.1" H), 400},
    {S(" GET / HTTP/1.1" H), 400},
    {S("GET\t/ HTTP/1.1" H), 400},
    {S("GET\r\n\r\n"), 400},
    {S("G\xc3\x89T / HTTP/1.1" H), 400},
    /* Exactly one SP between the parts. */
    {S("GET  / HTTP/1.1" H), 400},
    {S("GET /  HTTP/1.1" H), 400},
    {S("GET / HTTP/1.1 " H), 400},
    {S("GET /\tHTTP/1.1" H), 400},
    /* Control bytes and DEL in the target. */
    {S("GET /a\x01 HTTP/1.1" H), 400},
    {S("GET /a\x7f HTTP/1.1" H), 400},
    {S("GET /a\0b HTTP/1.1" H), 400},
    {S("GET /a\tb HTTP/1.1" H), 400},
    /* Target forms. */
    {S("GET a HTTP/1.1" H), 400},
    {S("GET * HTTP/1.1" H), 400},
    {S("OPTIONS ** HTTP/1.1" H), 400},
    {S("GET example.com:80 HTTP/1.1" H), 400},
    {S("CONNECT / HTTP/1.1" H), 400},
    {S("CONNECT * HTTP/1.1" H), 400},
    {S("CONNECT example.com HTTP/1.1" H), 400},
    {S("CONNECT example.com: HTTP/1.1" H), 400},
    {S("CONNECT :443 HTTP/1.1" H), 400},
    {S("CONNECT http://a/ HTTP/1.1" H), 400},
    {S("GET ftp://a/ HTTP/1.1" H), 400},
    {S("GET http:/a HTTP/1.1" H), 400},
    {S("GET http:// HTTP/1.1" H), 400},
    {S("GET http:///x HTTP/1.1" H), 400},
    {S("GET http://u@a/ HTTP/1.1" H), 400},
    {S("GET http://a:b/ HTTP/1.1" H), 400},
    {S("GET http://[::1/ HTTP/1.1" H), 400},
    /* Versions: malformed is 400, another major is 505. */
    {S("GET / http/1.1" H), 400},
    {S("GET / HTTP/1" H), 400},
    {S("GET / HTTP/1." H), 400},
    {S("GET / HTTP/1.1x" H), 400},
    {S("GET / HTTP/1.a" H), 400},
    {S("GET / HTTP/11.1" H), 400},
    {S("GET / HTTP/1.10" H), 400},
    {S("GET / HTTP 1.1" H), 400},
    {S("GET / HTTPS/1.1" H), 400},
    {S("GET /\r\n\r\n"), 400},
    {S("GET / \r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\r\nHost: a\r\n\r\n"), 400},
    {S("GET / HTTP/2.0" H), 505},
    {S("GET / HTTP/0.9" H), 505},
    {S("GET / HTTP/3.0" H), 505},
    {S("GET / HTTP/9.1" H), 505},
    /* Field names: a token right before the colon. */
    {S("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a\r\nX Y: b\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: b\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a\r\nX(: b\r\n\r\n"), 400},
    /* obs-fold, and whitespace before the first field. */
    {S("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), 400},
    /* Control bytes in values. */
    {S("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a\r\nX: a\x1b[0m\r\n\r\n"), 400},
    /* Host: required in 1.1, at most once, valid. */
    {S("GET / HTTP/1.1\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nX: a\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), 400},
    {S("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n"), 400},
    {S("GET http://a/ HTTP/1.1\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a..b\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: ..\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a%4\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: []\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: [g::1]\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: a,\xc3\xa9\r\n\r\n"), 400},
    {S("GET / HTTP/1.0\r\nHost: <a>\r\n\r\n"), 400},
    {S("GET / HTTP/1.1\r\nHost: http://a/\r\n\r\n"), 400},
    /* Transfer-Encoding. */
    {S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
     400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\n"), 400},
    {S("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
       "Transfer-Encoding: chunked\r\n\r\n"),
     400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , ,\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked x\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), 501},
    {S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501},
    {S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
       "Transfer-Encoding: chunked\r\n\r\n"),
     501},
    {S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), 501},
    {S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n"), 501},
    {S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;foo=bar\r\n\r\n"), 501},
    {S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunkedx\r\n\r\n"), 501},
    /* Content-Length. */
    {S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1a\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1.0\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,,5\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n"), 400},
    /* Expect. */
    {S("PUT / HTTP/1.1\r\nHost: a\r\nExpect: foo\r\n\r\n"), 417},
    {S("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, foo\r\n\r\n"), 417},
    {S("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue;x=1\r\n\r\n"), 417},
    {S("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n"), 417},
    {S("PUT / HTTP/1.0\r\nExpect: foo\r\n\r\n"), 417},
    /* The order of the checks on a complete head: Host, Content-Length, Transfer-Encoding. */
    {S("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), 400},
    {S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nExpect: foo\r\n\r\n"), 501},
    {S("GET / HTTP/2.0\r\nHost: a\r\nX: \x01\r\n\r\n"), 505},
};

static void test_bad_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        struct parsed p;
        parse_into(&p, c->req, c->len, 0, &limits);
        if (p.ret != HTTP_PARSE_ERROR || p.status != c->status)
            fail_msg("bad case %zu \"%.*s\": ret %d status %d, want status %d", i, (int)c->len,
                     c->req, p.ret, p.status, c->status);
    }
}

/* A 417 still describes the request completely, so the caller may answer it and go on. */
static void test_expect_failed_fills_request(void **state)
{
    (void)state;
    static const char req[] =
        "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: x\r\nContent-Length: 3\r\n\r\n";
    struct parsed p;
    assert_int_equal(parse_into(&p, req, sizeof(req) - 1, 0, &limits), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 417);
    assert_slice(p.req.path, "/f");
    assert_slice(p.req.host, "a");
    assert_true(p.req.has_content_length);
    assert_int_equal(p.req.content_length, 3);
    assert_true(p.req.keep_alive);
}

/* ---- Every byte value, in each place it can appear ---- */

static bool in_set(int c, const char *set)
{
    return c != 0 && strchr(set, c) != NULL;
}

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

static bool ref_tchar(int c)
{
    return in_set(c, ALNUM "!#$%&'*+-.^_`|~");
}

/* Parses pre + one byte c + post as a whole buffer. */
static struct parsed *parse_with_byte(const char *pre, int c, const char *post)
{
    static struct parsed p;
    char buf[256];
    size_t a = strlen(pre), b = strlen(post);
    memcpy(buf, pre, a);
    buf[a] = (char)c;
    memcpy(buf + a + 1, post, b);
    parse_into(&p, buf, a + 1 + b, 0, &limits);
    assert_int_not_equal(p.ret, HTTP_PARSE_INCOMPLETE);
    if (p.ret == HTTP_PARSE_ERROR)
        assert_int_equal(p.status, 400);
    return &p;
}

static void test_every_byte(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        bool ok;

        ok = parse_with_byte("G", c, "T / HTTP/1.1\r\nHost: a\r\n\r\n")->ret > 0;
        if (ok != ref_tchar(c))
            fail_msg("method byte 0x%02x: ok %d", c, ok);

        /* A SP in the target splits it, which leaves a bad version. */
        ok = parse_with_byte("GET /a", c, "b HTTP/1.1\r\nHost: a\r\n\r\n")->ret > 0;
        if (ok != (c > 0x20 && c != 0x7f))
            fail_msg("target byte 0x%02x: ok %d", c, ok);

        /* A ':' in a name ends it, which leaves a valid value. */
        ok = parse_with_byte("GET / HTTP/1.1\r\nHost: a\r\nX", c, "Y: v\r\n\r\n")->ret > 0;
        if (ok != (ref_tchar(c) || c == ':'))
            fail_msg("name byte 0x%02x: ok %d", c, ok);

        /* A LF in a value ends the line, which leaves "b" as a line without a colon. */
        ok = parse_with_byte("GET / HTTP/1.1\r\nHost: a\r\nX: a", c, "b\r\n\r\n")->ret > 0;
        if (ok != (c == '\t' || (c >= 0x20 && c != 0x7f)))
            fail_msg("value byte 0x%02x: ok %d", c, ok);

        ok = parse_with_byte("GET / HTTP/1.1\r\nHost: a", c, "b\r\n\r\n")->ret > 0;
        if (ok != in_set(c, ALNUM "-._~!$&'()*+,;="))
            fail_msg("host byte 0x%02x: ok %d", c, ok);
    }
}

/* ---- Incremental feeding ---- */

static void test_incremental_valid(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(valid_cases); i++)
        check_incremental(valid_cases[i].req, valid_cases[i].len, &limits);
}

static void test_incremental_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(bad_cases); i++)
        check_incremental(bad_cases[i].req, bad_cases[i].len, &limits);
}

/* A head of about 4 KiB, byte by byte without the hint: the O(n^2) worst case stays cheap. */
static void test_incremental_large(void **state)
{
    (void)state;
    char *req = malloc(4096);
    assert_non_null(req);
    int n = snprintf(req, 4096, "GET /%0600d HTTP/1.1\r\nHost: a\r\n", 7);
    for (int i = 0; i < 12; i++)
        n += snprintf(req + n, (size_t)(4096 - n), "X-Field-%02d: %0250d\r\n", i, i);
    n += snprintf(req + n, (size_t)(4096 - n), "\r\n");
    assert_true(n < 4096);
    check_incremental(req, (size_t)n, &limits);
    free(req);
}

/* The hint skips the re-parse until an empty line may have arrived: errors wait for it. */
static void test_hint_defers_errors(void **state)
{
    (void)state;
    static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n";
    size_t first = strlen("GET / HTTP/1.1\r\nHost: a\r\n");
    size_t len = sizeof(req) - 1;
    struct parsed p;
    assert_int_equal(parse_into(&p, req, first, 0, &limits), HTTP_PARSE_INCOMPLETE);
    assert_int_equal(parse_into(&p, req, len - 1, first, &limits), HTTP_PARSE_INCOMPLETE);
    assert_int_equal(parse_into(&p, req, len - 1, 0, &limits), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 400);
    /* "\r\n" then "\r" then "\n": the empty line ends across calls and is still seen. */
    assert_int_equal(parse_into(&p, req, len, len - 1, &limits), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 400);

    static const char ok[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(parse_into(&p, ok, sizeof(ok) - 2, 0, &limits), HTTP_PARSE_INCOMPLETE);
    assert_int_equal(parse_into(&p, ok, sizeof(ok) - 1, sizeof(ok) - 2, &limits),
                     (int)sizeof(ok) - 1);
    /* No new bytes at all: still incomplete, without work. */
    assert_int_equal(parse_into(&p, ok, 10, 10, &limits), HTTP_PARSE_INCOMPLETE);
}

/* ---- Pipelining ---- */

static void test_pipelining(void **state)
{
    (void)state;
    static const char two[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                              "POST /b?c HTTP/1.1\r\nHost: y\r\nContent-Length: 5\r\n"
                              "Connection: close\r\n\r\nhello"
                              "GET /c HTTP/1.1\r\nHo";
    size_t len = sizeof(two) - 1;
    size_t first = strlen("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    size_t second = strlen("POST /b?c HTTP/1.1\r\nHost: y\r\nContent-Length: 5\r\n"
                           "Connection: close\r\n\r\n");
    struct parsed p;

    assert_int_equal(parse_into(&p, two, len, 0, &limits), (int)first);
    assert_slice(p.req.path, "/a");
    assert_slice(p.req.host, "x");
    assert_true(p.req.keep_alive);

    assert_int_equal(parse_into(&p, two + first, len - first, 0, &limits), (int)second);
    assert_int_equal(p.req.method, HTTP_POST);
    assert_slice(p.req.path, "/b");
    assert_slice(p.req.query, "c");
    assert_slice(p.req.host, "y");
    assert_int_equal(p.req.content_length, 5);
    assert_false(p.req.keep_alive);

    size_t third = first + second + 5;
    assert_memory_equal(two + first + second, "hello", 5);
    assert_int_equal(parse_into(&p, two + third, len - third, 0, &limits), HTTP_PARSE_INCOMPLETE);
}

/* ---- Limits ---- */

static void test_limit_headers(void **state)
{
    (void)state;
    struct http_limits lim = limits;
    static const char four[] = "GET / HTTP/1.1\r\nHost: a\r\nB: b\r\nC: c\r\nD: d\r\n\r\n";
    static const char five[] = "GET / HTTP/1.1\r\nHost: a\r\nB: b\r\nC: c\r\nD: d\r\nE: e\r\n\r\n";
    struct parsed p;

    lim.max_headers = 4;
    assert_int_equal(parse_into(&p, four, sizeof(four) - 1, 0, &lim), (int)sizeof(four) - 1);
    assert_int_equal(p.req.nheaders, 4);
    assert_int_equal(parse_into(&p, five, sizeof(five) - 1, 0, &lim), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 431);
    /* The fifth field is refused as soon as it starts. */
    size_t at = strlen("GET / HTTP/1.1\r\nHost: a\r\nB: b\r\nC: c\r\nD: d\r\nE");
    assert_int_equal(parse_into(&p, five, at - 1, 0, &lim), HTTP_PARSE_INCOMPLETE);
    assert_int_equal(parse_into(&p, five, at, 0, &lim), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 431);
    check_incremental(four, sizeof(four) - 1, &lim);
    check_incremental(five, sizeof(five) - 1, &lim);
    /* A folded line after the last allowed field is obs-fold (400), not one field too many. */
    static const char fold[] = "GET / HTTP/1.1\r\nHost: a\r\nB: b\r\nC: c\r\nD: d\r\n e\r\n\r\n";
    assert_int_equal(parse_into(&p, fold, sizeof(fold) - 1, 0, &lim), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 400);

    /* No fields at all: an HTTP/1.0 request without any still passes. */
    lim.max_headers = 0;
    static const char none[] = "GET / HTTP/1.0\r\n\r\n";
    assert_int_equal(parse_into(&p, none, sizeof(none) - 1, 0, &lim), (int)sizeof(none) - 1);
    assert_int_equal(parse_into(&p, four, sizeof(four) - 1, 0, &lim), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 431);
}

static void test_limit_header_bytes(void **state)
{
    (void)state;
    static const char req[] = "\r\nGET /abc HTTP/1.1\r\nHost: a\r\nX: 0123456789\r\n\r\n";
    size_t len = sizeof(req) - 1;
    struct http_limits lim = limits;
    struct parsed p;

    lim.max_header_bytes = len;
    assert_int_equal(parse_into(&p, req, len, 0, &lim), (int)len);
    check_incremental(req, len, &lim);
    /* Exactly at the limit: the head's last byte arrives with len == limit. */
    assert_int_equal(parse_into(&p, req, len - 1, 0, &lim), HTTP_PARSE_INCOMPLETE);
    /* Bytes after a complete head do not count against it. */
    char more[256];
    memcpy(more, req, len);
    memset(more + len, 'x', sizeof(more) - len);
    assert_int_equal(parse_into(&p, more, sizeof(more), 0, &lim), (int)len);

    lim.max_header_bytes = len - 1;
    assert_int_equal(parse_into(&p, req, len, 0, &lim), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 431);
    /* Incomplete and already at the limit: no point waiting for more. */
    assert_int_equal(parse_into(&p, req, len - 1, 0, &lim), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 431);
    assert_int_equal(parse_into(&p, req, len - 1, len - 2, &lim), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 431);
    assert_int_equal(parse_into(&p, req, len - 2, 0, &lim), HTTP_PARSE_INCOMPLETE);
    check_incremental(req, len, &lim);

    /* A byte error before the limit wins over the limit, whatever follows. */
    static const char bad[] = "GET / HTTP/1.1\r\nX\x01: y\r\nPadding: pppppppppppppppppppp\r\n\r\n";
    lim.max_header_bytes = 24;
    assert_int_equal(parse_into(&p, bad, sizeof(bad) - 1, 0, &lim), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 400);
    check_incremental(bad, sizeof(bad) - 1, &lim);

    /* Endless empty lines are bounded too. */
    char crlf[200];
    for (size_t i = 0; i < sizeof(crlf); i += 2)
        memcpy(crlf + i, "\r\n", 2);
    lim.max_header_bytes = 100;
    assert_int_equal(parse_into(&p, crlf, 98, 0, &lim), HTTP_PARSE_INCOMPLETE);
    assert_int_equal(parse_into(&p, crlf, 100, 0, &lim), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 431);
    assert_int_equal(parse_into(&p, crlf, sizeof(crlf), 98, &lim), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 431);
}

static void test_limit_uri(void **state)
{
    (void)state;
    struct http_limits lim = limits;
    static const char req[] = "GET /0123456789?q=1 HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t target = strlen("/0123456789?q=1");
    struct parsed p;

    lim.max_uri_bytes = target;
    assert_int_equal(parse_into(&p, req, sizeof(req) - 1, 0, &lim), (int)sizeof(req) - 1);
    assert_slice(p.req.target, "/0123456789?q=1");
    check_incremental(req, sizeof(req) - 1, &lim);

    lim.max_uri_bytes = target - 1;
    assert_int_equal(parse_into(&p, req, sizeof(req) - 1, 0, &lim), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 414);
    check_incremental(req, sizeof(req) - 1, &lim);
    /* Refused while the request line is still incomplete, as soon as the target is too long. */
    assert_int_equal(parse_into(&p, req, 4 + target - 1, 0, &lim), HTTP_PARSE_INCOMPLETE);
    assert_int_equal(parse_into(&p, req, 4 + target, 0, &lim), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 414);

    /* An absolute-form target counts whole. */
    static const char abs[] = "GET http://example.com/ HTTP/1.1\r\nHost: a\r\n\r\n";
    lim.max_uri_bytes = strlen("http://example.com/");
    assert_true(parse_into(&p, abs, sizeof(abs) - 1, 0, &lim) > 0);
    lim.max_uri_bytes--;
    assert_int_equal(parse_into(&p, abs, sizeof(abs) - 1, 0, &lim), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 414);

    /* An unbounded request line with a huge target never waits for the header limit. */
    lim = limits;
    char *big = malloc(lim.max_uri_bytes + 10);
    assert_non_null(big);
    memcpy(big, "GET /", 5);
    memset(big + 5, 'a', lim.max_uri_bytes + 5);
    assert_int_equal(parse_into(&p, big, lim.max_uri_bytes + 4, 0, &lim), HTTP_PARSE_INCOMPLETE);
    assert_int_equal(parse_into(&p, big, lim.max_uri_bytes + 5, 0, &lim), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 414);
    free(big);
}

/* ---- Chunked bodies ---- */

/* What feeding a chunked body produced. */
struct fed {
    ssize_t ret;       /* the last call's result */
    size_t calls_done; /* how many calls returned >= 0: must be at most 1 before the end */
    char data[512];
    size_t data_len;
    char follow[512];
    size_t follow_len;
};

/*
 * Feeds in[0, len) in pieces that end at cuts[0] < cuts[1] < ... (the last cut is len), each
 * piece copied into an exact allocation. Data go to out->data; once the body ends, the rest of
 * that piece and all later pieces go to out->follow. Stops at the first error.
 */
static void feed_chunked(const char *in, size_t len, const size_t *cuts, size_t ncuts,
                         struct fed *out)
{
    struct http_chunked d;
    http_chunked_init(&d);
    memset(out, 0, sizeof(*out));
    out->ret = HTTP_PARSE_INCOMPLETE;
    size_t from = 0;
    assert_true(ncuts > 0 && cuts[ncuts - 1] == len);
    for (size_t i = 0; i < ncuts; i++) {
        size_t n = cuts[i] - from;
        char *piece = exact_copy(in + from, n);
        if (out->ret >= 0) {
            memcpy(out->follow + out->follow_len, piece, n);
            out->follow_len += n;
        } else {
            size_t got = n;
            out->ret = http_chunked_decode(&d, piece, &got);
            if (out->ret == HTTP_PARSE_ERROR) {
                free(piece);
                return;
            }
            assert_true(got <= n);
            memcpy(out->data + out->data_len, piece, got);
            out->data_len += got;
            if (out->ret >= 0) {
                assert_true((size_t)out->ret <= n - got);
                /* The following bytes are untouched, at the end of the original piece. */
                assert_memory_equal(piece + n - out->ret, in + cuts[i] - out->ret,
                                    (size_t)out->ret);
                memcpy(out->follow + out->follow_len, piece + n - out->ret, (size_t)out->ret);
                out->follow_len += (size_t)out->ret;
                out->calls_done++;
            }
        }
        free(piece);
        from = cuts[i];
    }
}

/* Checks one way of feeding a valid body against the expected data and following bytes. */
static void expect_fed(const struct fed *f, const char *data, size_t data_len, const char *follow,
                       size_t follow_len, const char *how, size_t arg)
{
    if (f->ret < 0)
        fail_msg("%s %zu: ret %zd", how, arg, f->ret);
    assert_int_equal(f->calls_done, 1);
    assert_int_equal(f->data_len, data_len);
    assert_memory_equal(f->data, data, data_len);
    assert_int_equal(f->follow_len, follow_len);
    if (follow_len > 0)
        assert_memory_equal(f->follow, follow, follow_len);
}

struct chunk_case {
    const char *in;
    size_t len;
    const char *data;   /* the decoded body */
    const char *follow; /* the bytes after the body, at the end of in */
};

static const struct chunk_case chunk_cases[] = {
    {S("5\r\nhello\r\n0\r\n\r\n"), "hello", ""},
    {S("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), "hello world", ""},
    {S("0\r\n\r\n"), "", ""},
    {S("000\r\n\r\n"), "", ""},
    {S("A\r\n0123456789\r\n0\r\n\r\n"), "0123456789", ""},
    {S("a\r\n0123456789\r\n0\r\n\r\n"), "0123456789", ""},
    {S("1A\r\n0123456789abcdef0123456789\r\n0\r\n\r\n"), "0123456789abcdef0123456789", ""},
    {S("0000000000000000000005\r\nhello\r\n0\r\n\r\n"), "hello", ""},
    /* Extensions, with BWS and quoted values, on data chunks and the last chunk. */
    {S("5;name=value\r\nhello\r\n0;last\r\n\r\n"), "hello", ""},
    {S("5 ; a=\"q s;,\" ;b\r\nhello\r\n0\t;x\r\n\r\n"), "hello", ""},
    {S("5 \r\nhello\r\n0\r\n\r\n"), "hello", ""},
    {S("5;\xc3\xa9\r\nhello\r\n0\r\n\r\n"), "hello", ""},
    /* Trailers. */
    {S("5\r\nhello\r\n0\r\nX-Trailer: yes\r\nOther:a  b\r\nEmpty:\r\n\r\n"), "hello", ""},
    /* Framing look-alikes inside the data are data. */
    {S("7\r\n0\r\n\r\n\r\n\r\n0\r\n\r\n"), "0\r\n\r\n\r\n", ""},
    /* The next pipelined request follows. */
    {S("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n"), "abc", "GET / HTTP/1.1\r\n"},
    {S("0\r\n\r\nX"), "", "X"},
};

static void check_chunked_valid(const char *in, size_t len, const char *data, size_t data_len,
                                const char *follow, size_t follow_len)
{
    struct fed f;
    size_t cuts[600];
    assert_true(len < ARRAY_LEN(cuts));

    /* Whole. */
    cuts[0] = len;
    feed_chunked(in, len, cuts, 1, &f);
    expect_fed(&f, data, data_len, follow, follow_len, "whole", len);

    /* In steps of 1..9 bytes, 1 being byte by byte. */
    for (size_t step = 1; step <= 9; step++) {
        size_t n = 0;
        for (size_t at = step; at < len + step; at += step)
            cuts[n++] = at < len ? at : len;
        feed_chunked(in, len, cuts, n, &f);
        expect_fed(&f, data, data_len, follow, follow_len, "step", step);
    }

    /* In two pieces, at every position (an empty piece included). */
    for (size_t k = 0; k <= len; k++) {
        cuts[0] = k;
        cuts[1] = len;
        feed_chunked(in, len, cuts, 2, &f);
        expect_fed(&f, data, data_len, follow, follow_len, "split", k);
    }
}

static void test_chunked_valid(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(chunk_cases); i++) {
        const struct chunk_case *c = &chunk_cases[i];
        check_chunked_valid(c->in, c->len, c->data, strlen(c->data), c->follow, strlen(c->follow));
    }

    /* Binary data, NUL bytes included. */
    static const char bin[] = "4\r\n\0\r\n\xff\r\n2\r\n\n\0\r\n0\r\n\r\n";
    check_chunked_valid(bin, sizeof(bin) - 1, "\0\r\n\xff\n\0", 6, "", 0);
}

/* The in-place contract on one buffer: data moved to the front, the rest left where it was. */
static void test_chunked_in_place(void **state)
{
    (void)state;
    char buf[] = "4\r\nWiki\r\n5;x=y\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\nNEXT";
    size_t len = sizeof(buf) - 1;
    struct http_chunked d;
    http_chunked_init(&d);
    ssize_t r = http_chunked_decode(&d, buf, &len);
    assert_int_equal(r, 4);
    assert_int_equal(len, 23);
    assert_memory_equal(buf, "Wikipedia in\r\n\r\nchunks.", 23);
    assert_memory_equal(buf + sizeof(buf) - 1 - r, "NEXT", 4);

    /* After the end, every byte follows the body. */
    char more[] = "abc";
    len = 3;
    assert_int_equal(http_chunked_decode(&d, more, &len), 3);
    assert_int_equal(len, 0);

    /* A chunk cut short: its data so far is delivered, and the size carries over. */
    http_chunked_init(&d);
    char part[] = "a\r\n01234";
    len = sizeof(part) - 1;
    assert_int_equal(http_chunked_decode(&d, part, &len), HTTP_PARSE_INCOMPLETE);
    assert_int_equal(len, 5);
    assert_memory_equal(part, "01234", 5);
    char rest[] = "56789\r\n0\r\n\r\n";
    len = sizeof(rest) - 1;
    assert_int_equal(http_chunked_decode(&d, rest, &len), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(rest, "56789", 5);

    /* An empty call changes nothing. */
    http_chunked_init(&d);
    len = 0;
    assert_int_equal(http_chunked_decode(&d, part, &len), HTTP_PARSE_INCOMPLETE);
    assert_int_equal(len, 0);

    /* The largest size is accepted (and then waits for its data). */
    http_chunked_init(&d);
    char max[] = "7fffffffffffffff\r\nab";
    len = sizeof(max) - 1;
    assert_int_equal(http_chunked_decode(&d, max, &len), HTTP_PARSE_INCOMPLETE);
    assert_int_equal(len, 2);
    assert_true(d.remaining == (uint64_t)INT64_MAX - 2);
}

/* A head, its chunked body and the next head, in one buffer. */
static void test_chunked_pipelined(void **state)
{
    (void)state;
    char buf[] = "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "3\r\nabc\r\n0\r\n\r\n"
                 "GET /next HTTP/1.1\r\nHost: b\r\n\r\n";
    size_t len = sizeof(buf) - 1;
    struct parsed p;
    int head = parse_into(&p, buf, len, 0, &limits);
    assert_true(head > 0);
    assert_true(p.req.chunked);

    struct http_chunked d;
    http_chunked_init(&d);
    size_t body = len - (size_t)head;
    ssize_t r = http_chunked_decode(&d, buf + head, &body);
    assert_int_equal(body, 3);
    assert_memory_equal(buf + head, "abc", 3);
    assert_int_equal(r, strlen("GET /next HTTP/1.1\r\nHost: b\r\n\r\n"));

    const char *next = buf + len - r;
    assert_int_equal(parse_into(&p, next, (size_t)r, 0, &limits), (int)r);
    assert_slice(p.req.path, "/next");
    assert_slice(p.req.host, "b");
}

static const struct chunk_case chunk_bad[] = {
    {S("x\r\n"), NULL, NULL},
    {S("-5\r\nhello\r\n0\r\n\r\n"), NULL, NULL},
    {S("+5\r\nhello\r\n0\r\n\r\n"), NULL, NULL},
    {S(" 5\r\nhello\r\n0\r\n\r\n"), NULL, NULL},
    {S("0x5\r\nhello\r\n0\r\n\r\n"), NULL, NULL},
    {S("\r\n"), NULL, NULL},
    {S(";x\r\n"), NULL, NULL},
    {S("5 5\r\nhello\r\n0\r\n\r\n"), NULL, NULL},
    {S("5x\r\nhello\r\n0\r\n\r\n"), NULL, NULL},
    /* Missing or wrong CRLF after the data. */
    {S("5\r\nhelloX\r\n0\r\n\r\n"), NULL, NULL},
    {S("5\r\nhello0\r\n\r\n"), NULL, NULL},
    {S("5\r\nhello\rX0\r\n\r\n"), NULL, NULL},
    /* Bare LF and bare CR in the framing. */
    {S("5\nhello\r\n0\r\n\r\n"), NULL, NULL},
    {S("5\r\nhello\n0\r\n\r\n"), NULL, NULL},
    {S("5\r\nhello\r\n0\n\n"), NULL, NULL},
    {S("5\r\nhello\r\n0\r\n\n"), NULL, NULL},
    {S("5\rhello\r\n0\r\n\r\n"), NULL, NULL},
    {S("5;a\nb\r\nhello\r\n0\r\n\r\n"), NULL, NULL},
    {S("0\r\n\r\r"), NULL, NULL},
    /* Sizes past INT64_MAX. */
    {S("8000000000000000\r\n"), NULL, NULL},
    {S("10000000000000000\r\n"), NULL, NULL},
    {S("ffffffffffffffffff\r\n"), NULL, NULL},
    /* Control bytes in extensions. */
    {S("5;\x01\r\nhello\r\n0\r\n\r\n"), NULL, NULL},
    {S("5;a\0\r\nhello\r\n0\r\n\r\n"), NULL, NULL},
    {S("5;\x7f\r\nhello\r\n0\r\n\r\n"), NULL, NULL},
    /* Malformed trailers. */
    {S("0\r\n X: y\r\n\r\n"), NULL, NULL},
    {S("0\r\nX y\r\n\r\n"), NULL, NULL},
    {S("0\r\nX : y\r\n\r\n"), NULL, NULL},
    {S("0\r\n: y\r\n\r\n"), NULL, NULL},
    {S("0\r\nX: \x7f\r\n\r\n"), NULL, NULL},
    {S("0\r\nX: y\ry\r\n\r\n"), NULL, NULL},
    {S("0\r\nX: y\nZ: w\r\n\r\n"), NULL, NULL},
};

static void check_chunked_bad(const char *in, size_t len, size_t idx)
{
    struct fed f;
    size_t cuts[256];
    assert_true(len < ARRAY_LEN(cuts));

    cuts[0] = len;
    feed_chunked(in, len, cuts, 1, &f);
    if (f.ret != HTTP_PARSE_ERROR)
        fail_msg("bad chunked %zu whole: ret %zd", idx, f.ret);
    assert_int_equal(f.calls_done, 0);

    for (size_t k = 0; k < len; k++)
        cuts[k] = k + 1;
    feed_chunked(in, len, cuts, len, &f);
    if (f.ret != HTTP_PARSE_ERROR)
        fail_msg("bad chunked %zu byte by byte: ret %zd", idx, f.ret);
    assert_int_equal(f.calls_done, 0);

    for (size_t k = 0; k <= len; k++) {
        cuts[0] = k;
        cuts[1] = len;
        feed_chunked(in, len, cuts, 2, &f);
        if (f.ret != HTTP_PARSE_ERROR)
            fail_msg("bad chunked %zu split at %zu: ret %zd", idx, k, f.ret);
    }
}

static void test_chunked_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(chunk_bad); i++)
        check_chunked_bad(chunk_bad[i].in, chunk_bad[i].len, i);

    /* An error is sticky. */
    struct http_chunked d;
    http_chunked_init(&d);
    char bad[] = "z";
    size_t len = 1;
    assert_int_equal(http_chunked_decode(&d, bad, &len), HTTP_PARSE_ERROR);
    char good[] = "0\r\n\r\n";
    len = sizeof(good) - 1;
    assert_int_equal(http_chunked_decode(&d, good, &len), HTTP_PARSE_ERROR);
    len = 0;
    assert_int_equal(http_chunked_decode(&d, good, &len), HTTP_PARSE_ERROR);
}

/* Size lines and trailer sections are bounded: exactly at the bound passes, one more fails. */
static void test_chunked_limits(void **state)
{
    (void)state;
    size_t cap = HTTP_CHUNK_TRAILERS_MAX + 64;
    char *in = malloc(cap);
    assert_non_null(in);
    struct fed f;
    size_t cut;

    /* A size line of HTTP_CHUNK_LINE_MAX bytes, CRLF included: "1;xxxx...\r\n". */
    size_t line = HTTP_CHUNK_LINE_MAX;
    for (int extra = 0; extra <= 1; extra++) {
        size_t n = 0;
        in[n++] = '1';
        in[n++] = ';';
        while (n < line + (size_t)extra - 2)
            in[n++] = 'x';
        memcpy(in + n, "\r\nA\r\n0\r\n\r\n", 10);
        n += 10;
        cut = n;
        feed_chunked(in, n, &cut, 1, &f);
        if (extra == 0)
            expect_fed(&f, "A", 1, "", 0, "line", line);
        else
            assert_int_equal(f.ret, HTTP_PARSE_ERROR);
    }

    /* A trailer section of HTTP_CHUNK_TRAILERS_MAX bytes, final CRLF included. */
    for (int extra = 0; extra <= 1; extra++) {
        size_t n = 0;
        memcpy(in, "0\r\nT: ", 6);
        n = 6;
        size_t end = 3 + HTTP_CHUNK_TRAILERS_MAX + (size_t)extra;
        while (n < end - 4)
            in[n++] = 'v';
        memcpy(in + n, "\r\n\r\n", 4);
        n += 4;
        cut = n;
        feed_chunked(in, n, &cut, 1, &f);
        if (extra == 0)
            expect_fed(&f, "", 0, "", 0, "trailers", n);
        else
            assert_int_equal(f.ret, HTTP_PARSE_ERROR);
    }
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_with_headers),
        cmocka_unit_test(test_valid_table),
        cmocka_unit_test(test_precondition_fields),
        cmocka_unit_test(test_target_forms_detail),
        cmocka_unit_test(test_method_names),
        cmocka_unit_test(test_bad_table),
        cmocka_unit_test(test_expect_failed_fills_request),
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_incremental_valid),
        cmocka_unit_test(test_incremental_bad),
        cmocka_unit_test(test_incremental_large),
        cmocka_unit_test(test_hint_defers_errors),
        cmocka_unit_test(test_pipelining),
        cmocka_unit_test(test_limit_headers),
        cmocka_unit_test(test_limit_header_bytes),
        cmocka_unit_test(test_limit_uri),
        cmocka_unit_test(test_chunked_valid),
        cmocka_unit_test(test_chunked_in_place),
        cmocka_unit_test(test_chunked_pipelined),
        cmocka_unit_test(test_chunked_bad),
        cmocka_unit_test(test_chunked_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
