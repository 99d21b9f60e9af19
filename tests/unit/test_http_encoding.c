/*
 * Unit tests for Accept-Encoding (src/http/http_encoding.c): the values real clients send, the
 * absent and empty fields, case, x-gzip, "*", the identity's default and its exclusion, qvalues
 * valid and invalid, unknown codings and parameters, repeated codings, malformed members, a long
 * field, OWS around the separators, and http_accept_choose()'s order and tie-breaks.
 */
#include "http/http_encoding.h"

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

#define ID   HTTP_CODING_IDENTITY
#define GZIP HTTP_CODING_GZIP
#define BR   HTTP_CODING_BR
#define ZSTD HTTP_CODING_ZSTD
#define ALL                                                                                        \
    (HTTP_CODING_BIT(ID) | HTTP_CODING_BIT(GZIP) | HTTP_CODING_BIT(BR) | HTTP_CODING_BIT(ZSTD))

/* Typical sizes of one file's representations: br < zstd < gzip < identity. */
static const uint64_t sizes[HTTP_CODING_COUNT] = {
    [ID] = 10000, [GZIP] = 3000, [BR] = 2500, [ZSTD] = 2700};

static struct http_accept parse(const char *v)
{
    struct http_accept a;
    memset(&a, 0xab, sizeof(a));
    http_accept_encoding_parse(v, strlen(v), true, &a);
    return a;
}

/* The weights a value gives identity, gzip, br and zstd, in that order. */
struct q_case {
    const char *value;
    int q[HTTP_CODING_COUNT];
};

static void check_cases(const struct q_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct http_accept a = parse(cases[i].value);
        for (int c = 0; c < HTTP_CODING_COUNT; c++) {
            if (a.q[c] != cases[i].q[c])
                fail_msg("\"%s\": coding %d has q %d, want %d", cases[i].value, c, a.q[c],
                         cases[i].q[c]);
        }
    }
}

static int choose(const char *v, unsigned available)
{
    struct http_accept a = parse(v);
    return http_accept_choose(&a, available, sizes);
}

static void test_names(void **state)
{
    (void)state;
    assert_null(http_coding_name(HTTP_CODING_IDENTITY));
    assert_string_equal(http_coding_name(HTTP_CODING_GZIP), "gzip");
    assert_string_equal(http_coding_name(HTTP_CODING_BR), "br");
    assert_string_equal(http_coding_name(HTTP_CODING_ZSTD), "zstd");
    assert_null(http_coding_name(HTTP_CODING_COUNT));
    assert_null(http_coding_name((enum http_coding) - 1));
    assert_string_equal(http_coding_suffix(HTTP_CODING_IDENTITY), "");
    assert_string_equal(http_coding_suffix(HTTP_CODING_GZIP), ".gz");
    assert_string_equal(http_coding_suffix(HTTP_CODING_BR), ".br");
    assert_string_equal(http_coding_suffix(HTTP_CODING_ZSTD), ".zst");
    assert_null(http_coding_suffix(HTTP_CODING_COUNT));
}

static void test_absent_and_empty(void **state)
{
    (void)state;
    /* Absent: everything acceptable, the identity first; v is not read. */
    struct http_accept a;
    http_accept_encoding_parse(NULL, 0, false, &a);
    assert_int_equal(a.q[ID], 1000);
    assert_int_equal(a.q[GZIP], 1);
    assert_int_equal(a.q[BR], 1);
    assert_int_equal(a.q[ZSTD], 1);
    http_accept_encoding_parse("gzip;q=0", 8, false, &a);
    assert_int_equal(a.q[GZIP], 1);
    assert_int_equal(http_accept_choose(&a, ALL, sizes), ID);
    /* ... and without an identity representation, the smallest variant. */
    assert_int_equal(http_accept_choose(&a, ALL & ~HTTP_CODING_BIT(ID), sizes), BR);
    assert_int_equal(http_accept_choose(&a, HTTP_CODING_BIT(GZIP), sizes), GZIP);

    /* Empty, or nothing but OWS and empty elements: only the identity. */
    static const struct q_case cases[] = {
        {"", {1, 0, 0, 0}},  {" ", {1, 0, 0, 0}},        {"\t", {1, 0, 0, 0}},
        {",", {1, 0, 0, 0}}, {" , ,\t, ", {1, 0, 0, 0}},
    };
    check_cases(cases, ARRAY_LEN(cases));
    assert_int_equal(choose("", ALL), ID);
    assert_int_equal(choose("", ALL & ~HTTP_CODING_BIT(ID)), -1);
}

static void test_browsers(void **state)
{
    (void)state;
    static const struct q_case cases[] = {
        /* Chrome 123+, Firefox 126+, Edge. */
        {"gzip, deflate, br, zstd", {1, 1000, 1000, 1000}},
        /* curl --compressed (with zstd and brotli built in). */
        {"deflate, gzip, br, zstd", {1, 1000, 1000, 1000}},
        /* Chrome 50-122, Safari, Googlebot. */
        {"gzip, deflate, br", {1, 1000, 1000, 0}},
        /* Firefox over plain HTTP before 2024, Python requests, Internet Explorer. */
        {"gzip, deflate", {1, 1000, 0, 0}},
        /* Older Firefox and Java. */
        {"gzip,deflate", {1, 1000, 0, 0}},
        {"gzip, x-gzip, deflate", {1, 1000, 0, 0}},
        /* Go's net/http, and wget (which asks for nothing compressed). */
        {"gzip", {1, 1000, 0, 0}},
        {"identity", {1000, 0, 0, 0}},
        /* Lynx. */
        {"gzip, compress, bzip2", {1, 1000, 0, 0}},
        /* Opera 9-12. */
        {"deflate, gzip, x-gzip, identity, *;q=0", {1000, 1000, 0, 0}},
        /* Old Netscape-era weights; a proxy that forbids compression. */
        {"gzip;q=1.0, identity; q=0.5, *;q=0", {500, 1000, 0, 0}},
        {"identity;q=1, *;q=0", {1000, 0, 0, 0}},
        /* RFC 9110 §12.5.3's own examples. */
        {"compress, gzip", {1, 1000, 0, 0}},
        {"*", {1000, 1000, 1000, 1000}},
        {"compress;q=0.5, gzip;q=1.0", {1, 1000, 0, 0}},
        {"gzip;q=1.0, identity; q=0.5, *;q=0", {500, 1000, 0, 0}},
    };
    check_cases(cases, ARRAY_LEN(cases));
    /* Every modern browser gets the smallest variant; old ones gzip; wget the file. */
    assert_int_equal(choose("gzip, deflate, br, zstd", ALL), BR);
    assert_int_equal(choose("deflate, gzip, br, zstd", ALL & ~HTTP_CODING_BIT(BR)), ZSTD);
    assert_int_equal(choose("gzip, deflate, br", ALL), BR);
    assert_int_equal(choose("gzip, deflate", ALL), GZIP);
    assert_int_equal(choose("gzip, deflate", HTTP_CODING_BIT(ID)), ID);
    assert_int_equal(choose("identity", ALL), ID);
    assert_int_equal(choose("deflate, gzip, x-gzip, identity, *;q=0", ALL), GZIP);
}

static void test_case_and_aliases(void **state)
{
    (void)state;
    static const struct q_case cases[] = {
        {"GZIP, Br, ZSTD", {1, 1000, 1000, 1000}},
        {"gZiP;Q=0.8", {1, 800, 0, 0}},
        {"x-gzip", {1, 1000, 0, 0}},
        {"X-GZIP;q=0.5", {1, 500, 0, 0}},
        {"IDENTITY;q=0.2", {200, 0, 0, 0}},
        {"x-br, x-zstd, gzip2, gzi, zst, b", {1, 0, 0, 0}},
    };
    check_cases(cases, ARRAY_LEN(cases));
}

static void test_star_and_identity(void **state)
{
    (void)state;
    static const struct q_case cases[] = {
        /* "*" covers every coding not listed, the identity included. */
        {"*", {1000, 1000, 1000, 1000}},
        {"*;q=0.3", {300, 300, 300, 300}},
        {"br, *;q=0.1", {100, 100, 1000, 100}},
        {"*;q=0.1, br", {100, 100, 1000, 100}},
        {"*, gzip;q=0", {1000, 0, 1000, 1000}},
        /* Excluding the identity: explicitly, or by "*;q=0" without an explicit identity. */
        {"identity;q=0", {0, 0, 0, 0}},
        {"*;q=0", {0, 0, 0, 0}},
        {"gzip, identity;q=0", {0, 1000, 0, 0}},
        {"gzip, *;q=0", {0, 1000, 0, 0}},
        {"*;q=0, identity", {1000, 0, 0, 0}},
        {"identity;q=0.5, *;q=0", {500, 0, 0, 0}},
        {"identity, *;q=0", {1000, 0, 0, 0}},
        {"*;q=0, gzip", {0, 1000, 0, 0}},
        /* The identity neither listed nor covered: acceptable, with the lowest weight. */
        {"gzip;q=0.5", {1, 500, 0, 0}},
        {"gzip;q=0", {1, 0, 0, 0}},
        {"br;q=0.001", {1, 0, 1, 0}},
        {"identity;q=0.001", {1, 0, 0, 0}},
    };
    check_cases(cases, ARRAY_LEN(cases));
    /* Nothing acceptable available: 406. */
    assert_int_equal(choose("identity;q=0", ALL), -1);
    assert_int_equal(choose("*;q=0", ALL), -1);
    assert_int_equal(choose("gzip, identity;q=0", HTTP_CODING_BIT(ID) | HTTP_CODING_BIT(BR)), -1);
    assert_int_equal(choose("gzip, identity;q=0", ALL), GZIP);
    assert_int_equal(choose("*;q=0, identity", ALL), ID);
    /* The implicit identity is the fallback: never preferred to a coding asked for... */
    assert_int_equal(choose("gzip;q=0.5", ALL), GZIP);
    assert_int_equal(choose("gzip;q=0", ALL), ID);
    /* ... unless the coding is as little wanted and larger. */
    uint64_t big[HTTP_CODING_COUNT] = {[ID] = 100, [GZIP] = 120, [BR] = 110, [ZSTD] = 115};
    struct http_accept a = parse("br;q=0.001");
    assert_int_equal(http_accept_choose(&a, ALL, big), ID);
    assert_int_equal(http_accept_choose(&a, ALL, sizes), BR);
    /* An explicit identity weight counts as any other. */
    assert_int_equal(choose("identity, gzip;q=0.9", ALL), ID);
    assert_int_equal(choose("identity;q=0.9, gzip", ALL), GZIP);
}

static void test_qvalues(void **state)
{
    (void)state;
    static const struct q_case cases[] = {
        {"gzip;q=1", {1, 1000, 0, 0}},
        {"gzip;q=1.", {1, 1000, 0, 0}},
        {"gzip;q=1.0", {1, 1000, 0, 0}},
        {"gzip;q=1.000", {1, 1000, 0, 0}},
        {"gzip;q=0", {1, 0, 0, 0}},
        {"gzip;q=0.", {1, 0, 0, 0}},
        {"gzip;q=0.000", {1, 0, 0, 0}},
        {"gzip;q=0.5", {1, 500, 0, 0}},
        {"gzip;q=0.05", {1, 50, 0, 0}},
        {"gzip;q=0.12", {1, 120, 0, 0}},
        {"gzip;q=0.001", {1, 1, 0, 0}},
        {"gzip;q=0.999", {1, 999, 0, 0}},
        {"gzip;Q=0.8", {1, 800, 0, 0}},
        /* OWS around ';' and '=', spaces or tabs. */
        {"gzip ; q = 0.5", {1, 500, 0, 0}},
        {"gzip;\tq=0.5", {1, 500, 0, 0}},
        {"gzip\t;\tq\t=\t0.5\t,\tbr", {1, 500, 1000, 0}},
        {"  gzip;q=0.5  ,  br;q=0.25  ", {1, 500, 250, 0}},
    };
    check_cases(cases, ARRAY_LEN(cases));
}

static void test_invalid_weights(void **state)
{
    (void)state;
    /* A member with an invalid weight is ignored as a whole; the rest of the list counts. */
    static const struct q_case cases[] = {
        {"gzip;q=2", {1, 0, 0, 0}},
        {"gzip;q=0.1234", {1, 0, 0, 0}},
        {"gzip;q=abc", {1, 0, 0, 0}},
        {"gzip;q=.5", {1, 0, 0, 0}},
        {"gzip;q=", {1, 0, 0, 0}},
        {"gzip;q=1.001", {1, 0, 0, 0}},
        {"gzip;q=1.5", {1, 0, 0, 0}},
        {"gzip;q=-1", {1, 0, 0, 0}},
        {"gzip;q=01", {1, 0, 0, 0}},
        {"gzip;q=0.5.", {1, 0, 0, 0}},
        {"gzip;q=0x1", {1, 0, 0, 0}},
        {"gzip;q=\"0.5\"", {1, 0, 0, 0}},
        {"gzip;q=1e0", {1, 0, 0, 0}},
        {"gzip;q=0.5x, br", {1, 0, 1000, 0}},
        {"gzip;q=2, br;q=0.5", {1, 0, 500, 0}},
        /* For "*" and the identity, ignoring keeps the identity acceptable (no 406). */
        {"identity;q=abc", {1, 0, 0, 0}},
        {"*;q=bogus", {1, 0, 0, 0}},
        {"*;q=2, gzip", {1, 1000, 0, 0}},
        /* An ignored member does not count as the coding's first. */
        {"gzip;q=5, gzip;q=0.4", {1, 400, 0, 0}},
    };
    check_cases(cases, ARRAY_LEN(cases));
    assert_int_equal(choose("identity;q=abc", ALL), ID);
    assert_int_equal(choose("*;q=bogus", ALL), ID);
}

static void test_parameters_and_unknown(void **state)
{
    (void)state;
    static const struct q_case cases[] = {
        /* Unknown codings are ignored. */
        {"deflate, compress, foo, bzip2, xz, lzma, sdch", {1, 0, 0, 0}},
        {"deflate;q=1, br;q=0.5", {1, 0, 500, 0}},
        /* Other parameters are ignored, before or after q; the first q decides. */
        {"br;level=5", {1, 0, 1000, 0}},
        {"gzip;foo=bar;q=0.3", {1, 300, 0, 0}},
        {"gzip;q=0.3;foo=bar", {1, 300, 0, 0}},
        {"gzip;q=0.5;q=0", {1, 500, 0, 0}},
        {"gzip;q=0.5;q=abc", {1, 500, 0, 0}},
        {"gzip;qq=0;q=0.7", {1, 700, 0, 0}},
        /* Quoted-strings: a ',' or ';' inside one does not end the member or the parameter. */
        {"gzip;x=\"a,b\";q=0.3, br", {1, 300, 1000, 0}},
        {"gzip;x=\"br, zstd\"", {1, 1000, 0, 0}},
        {"gzip;x=\"a;q=0\"", {1, 1000, 0, 0}},
        {"gzip;x=\"say \\\"hi\\\", zstd\", br", {1, 1000, 1000, 0}},
        {"gzip;x=\"\", br", {1, 1000, 1000, 0}},
        /* Empty parameters are skipped. */
        {"gzip;", {1, 1000, 0, 0}},
        {"gzip;;q=0.5", {1, 500, 0, 0}},
        {"gzip; ;q=0.5 ;, br", {1, 500, 1000, 0}},
    };
    check_cases(cases, ARRAY_LEN(cases));
}

static void test_repeated(void **state)
{
    (void)state;
    /* The first valid member of a coding decides (gzip and x-gzip are one coding). */
    static const struct q_case cases[] = {
        {"gzip;q=0, gzip", {1, 0, 0, 0}},
        {"gzip, gzip;q=0", {1, 1000, 0, 0}},
        {"x-gzip;q=0.2, gzip;q=0.9", {1, 200, 0, 0}},
        {"gzip;q=0.9, x-gzip;q=0", {1, 900, 0, 0}},
        {"br, br, br;q=0", {1, 0, 1000, 0}},
        {"*;q=0.5, *", {500, 500, 500, 500}},
        {"identity;q=0, identity", {0, 0, 0, 0}},
        {"identity, identity;q=0", {1000, 0, 0, 0}},
        /* Two field lines joined by the field parser. */
        {"gzip, deflate, br;q=0, br, zstd", {1, 1000, 0, 1000}},
    };
    check_cases(cases, ARRAY_LEN(cases));
}

static void test_malformed(void **state)
{
    (void)state;
    /* A malformed member is skipped to the next ',' outside quotes; the rest still counts. */
    static const struct q_case cases[] = {
        {"gzip br", {1, 0, 0, 0}},
        {"gzip br, zstd", {1, 0, 0, 1000}},
        {", , gzip ,, ", {1, 1000, 0, 0}},
        {"gzip;q", {1, 0, 0, 0}},
        {"gzip;q, br", {1, 0, 1000, 0}},
        {"gzip;=1, br", {1, 0, 1000, 0}},
        {";q=1, br", {1, 0, 1000, 0}},
        {"=, br", {1, 0, 1000, 0}},
        {"gzip;q=0.5 x, br", {1, 0, 1000, 0}},
        {"gzip;x=, br", {1, 0, 1000, 0}},
        {"gzip;x=\"unclosed, br", {1, 0, 0, 0}},
        {"gzip;x=\"unclosed\\\", br", {1, 0, 0, 0}},
        {"\"gzip\", br", {1, 0, 1000, 0}},
        {"gz\"ip, br\", zstd", {1, 0, 0, 1000}},
        {"gzip x;a=\"1, br, 2\", zstd", {1, 0, 0, 1000}},
        {"foo;a=\"1, br, 2\";b, zstd", {1, 0, 0, 1000}},
        {"gzip/1, br", {1, 0, 1000, 0}},
        {"(gzip), br", {1, 0, 1000, 0}},
        {"g\xc3\xa9zip, br", {1, 0, 1000, 0}},
        {"gzip\r\n, br", {1, 0, 1000, 0}},
        {"gzip\x7f, br", {1, 0, 1000, 0}},
    };
    check_cases(cases, ARRAY_LEN(cases));
    /* A NUL inside the value is a byte like any other, not its end. */
    struct http_accept a;
    http_accept_encoding_parse("gzip\0, br", 9, true, &a);
    assert_int_equal(a.q[GZIP], 0);
    assert_int_equal(a.q[BR], 1000);
    http_accept_encoding_parse("br, gzip", 2, true, &a); /* only "br" is the value */
    assert_int_equal(a.q[GZIP], 0);
    assert_int_equal(a.q[BR], 1000);
}

/* A value of count members "<filler>, " and then tail, in a malloc'd buffer of exactly *len. */
static char *repeat(const char *filler, size_t count, const char *tail, size_t *len)
{
    size_t fl = strlen(filler), tl = strlen(tail);
    *len = count * (fl + 2) + tl;
    char *v = malloc(*len ? *len : 1);
    assert_non_null(v);
    for (size_t i = 0; i < count; i++) {
        memcpy(v + i * (fl + 2), filler, fl);
        memcpy(v + i * (fl + 2) + fl, ", ", 2);
    }
    memcpy(v + count * (fl + 2), tail, tl);
    return v;
}

static void test_long_field(void **state)
{
    (void)state;
    /* 200,000 members of each kind: one pass each (a quadratic parser would take minutes). */
    static const char *const fillers[] = {"deflate;q=0.5", "gzip;q=0", "x;a=\"b,c\"",
                                          "junk x",        "br;q=2",   ""};
    for (size_t k = 0; k < ARRAY_LEN(fillers); k++) {
        size_t len;
        char *v = repeat(fillers[k], 200000, "zstd;q=0.5", &len);
        struct http_accept a;
        http_accept_encoding_parse(v, len, true, &a);
        assert_int_equal(a.q[ZSTD], 500);
        assert_int_equal(a.q[GZIP], 0);
        free(v);
    }
    /* An unclosed quote near the start swallows a long rest in one pass. */
    size_t len;
    char *v = repeat("gzip", 200000, "br", &len);
    memcpy(v, "a=\"", 3);
    struct http_accept a;
    http_accept_encoding_parse(v, len, true, &a);
    assert_int_equal(a.q[GZIP], 0);
    assert_int_equal(a.q[BR], 0);
    free(v);
}

/* value with a space put before and after every ',' ';' and '='. */
static char *spaced(const char *value, size_t *len)
{
    size_t n = strlen(value);
    char *out = malloc(3 * n + 1);
    assert_non_null(out);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool sep = value[i] == ',' || value[i] == ';' || value[i] == '=';
        if (sep)
            out[k++] = ' ';
        out[k++] = value[i];
        if (sep)
            out[k++] = ' ';
    }
    *len = k;
    return out;
}

static void test_ows_invariance(void **state)
{
    (void)state;
    static const char *const values[] = {
        "gzip, deflate, br, zstd",   "gzip;q=1.0, identity; q=0.5, *;q=0",
        "gzip;x=\"a,b\";q=0.3, br",  "gzip;x=\"a\\,b\\;c\\=\", br;q=0.2",
        "gzip;q, br;=1, zstd;q=0.5", "gzip x;a=\"1, br, 2\", zstd",
        "*;q=0, identity;q=0.5",
    };
    for (size_t i = 0; i < ARRAY_LEN(values); i++) {
        struct http_accept a = parse(values[i]), b;
        size_t len;
        char *v = spaced(values[i], &len);
        http_accept_encoding_parse(v, len, true, &b);
        assert_memory_equal(&a, &b, sizeof(a));
        free(v);
    }
}

static void test_choose(void **state)
{
    (void)state;
    struct http_accept a = parse("gzip, br, zstd, identity");
    /* Equal q: the smallest. */
    assert_int_equal(http_accept_choose(&a, ALL, sizes), BR);
    assert_int_equal(http_accept_choose(&a, ALL & ~HTTP_CODING_BIT(BR), sizes), ZSTD);
    assert_int_equal(http_accept_choose(&a, HTTP_CODING_BIT(ID) | HTTP_CODING_BIT(GZIP), sizes),
                     GZIP);
    /* Equal q and size: identity, then gzip, br, zstd. */
    uint64_t same[HTTP_CODING_COUNT] = {7, 7, 7, 7};
    assert_int_equal(http_accept_choose(&a, ALL, same), ID);
    assert_int_equal(http_accept_choose(&a, ALL & ~HTTP_CODING_BIT(ID), same), GZIP);
    assert_int_equal(http_accept_choose(&a, HTTP_CODING_BIT(BR) | HTTP_CODING_BIT(ZSTD), same), BR);
    assert_int_equal(http_accept_choose(&a, ALL, NULL), ID);
    assert_int_equal(http_accept_choose(&a, HTTP_CODING_BIT(ZSTD) | HTTP_CODING_BIT(BR), NULL), BR);
    /* An incompressible file: the identity is smallest. */
    uint64_t worse[HTTP_CODING_COUNT] = {100, 130, 105, 109};
    assert_int_equal(http_accept_choose(&a, ALL, worse), ID);
    /* A higher q wins whatever the size. */
    a = parse("gzip;q=0.9, br;q=0.8, zstd");
    assert_int_equal(http_accept_choose(&a, ALL, sizes), ZSTD);
    assert_int_equal(http_accept_choose(&a, ALL & ~HTTP_CODING_BIT(ZSTD), sizes), GZIP);
    assert_int_equal(http_accept_choose(&a, HTTP_CODING_BIT(ID) | HTTP_CODING_BIT(BR), sizes), BR);
    /* Not available, or q = 0: never chosen; nothing left: -1. */
    a = parse("br;q=0, gzip");
    assert_int_equal(http_accept_choose(&a, HTTP_CODING_BIT(BR), sizes), -1);
    assert_int_equal(http_accept_choose(&a, HTTP_CODING_BIT(BR) | HTTP_CODING_BIT(ID), sizes), ID);
    assert_int_equal(http_accept_choose(&a, 0, sizes), -1);
    /* Bits past the last coding mean nothing. */
    assert_int_equal(http_accept_choose(&a, ~0u & ~HTTP_CODING_BIT(GZIP), sizes), ID);
    assert_int_equal(http_accept_choose(&a, 1u << HTTP_CODING_COUNT, sizes), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_absent_and_empty),
        cmocka_unit_test(test_browsers),
        cmocka_unit_test(test_case_and_aliases),
        cmocka_unit_test(test_star_and_identity),
        cmocka_unit_test(test_qvalues),
        cmocka_unit_test(test_invalid_weights),
        cmocka_unit_test(test_parameters_and_unknown),
        cmocka_unit_test(test_repeated),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_long_field),
        cmocka_unit_test(test_ows_invariance),
        cmocka_unit_test(test_choose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
