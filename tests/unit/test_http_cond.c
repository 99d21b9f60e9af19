/*
 * Unit tests for conditional requests and ranges (src/http/http_cond.c): HTTP-date formatting
 * and parsing (fixed values, round trips across four centuries, the three forms, the two-digit
 * year window, invalid dates), the ETag format, If-None-Match and If-Match lists, the §13.2.2
 * precedence of If-Match over If-Unmodified-Since and of If-None-Match over If-Modified-Since,
 * Range forms and boundaries, and If-Range.
 */
#include "http/http_cond.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* 1994-11-06 08:49:37 UTC, the RFC's example. */
#define EXAMPLE ((time_t)784111777)

/* 2025-06-01 00:00:00 UTC: "now" for the two-digit year window. */
#define NOW_2025 ((time_t)1748736000)

static int parse(const char *s, time_t *t)
{
    return http_date_parse_at(s, strlen(s), NOW_2025, t);
}

struct date_case {
    time_t t;
    const char *s;
};

static const struct date_case date_cases[] = {
    {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
    {-1, "Wed, 31 Dec 1969 23:59:59 GMT"},
    {EXAMPLE, "Sun, 06 Nov 1994 08:49:37 GMT"},
    {2147483647, "Tue, 19 Jan 2038 03:14:07 GMT"},
    {2147483648, "Tue, 19 Jan 2038 03:14:08 GMT"},
    {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
    {1483228799, "Sat, 31 Dec 2016 23:59:59 GMT"},
    {1623233894, "Wed, 09 Jun 2021 10:18:14 GMT"},
    {-2203891200, "Thu, 01 Mar 1900 00:00:00 GMT"},
    {-11670955200, "Tue, 29 Feb 1600 12:00:00 GMT"},
    {13574563200, "Tue, 29 Feb 2400 00:00:00 GMT"},
    {253402300799, "Fri, 31 Dec 9999 23:59:59 GMT"},
    {-62167219200, "Sat, 01 Jan 0000 00:00:00 GMT"},
};

static void test_date_format(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(date_cases); i++) {
        char out[HTTP_DATE_LEN + 1];
        memset(out, 'x', sizeof(out));
        assert_int_equal(http_date_format(date_cases[i].t, out), 0);
        assert_string_equal(out, date_cases[i].s);
        assert_int_equal(strlen(out), HTTP_DATE_LEN);
        time_t t;
        assert_int_equal(parse(out, &t), 0);
        assert_true(t == date_cases[i].t);
    }
    char out[HTTP_DATE_LEN + 1];
    assert_int_equal(http_date_format(253402300800, out), -EOVERFLOW); /* year 10000 */
    assert_int_equal(http_date_format(-62167219201, out), -EOVERFLOW); /* year -1 */
    assert_int_equal(http_date_format(INT64_MAX, out), -EOVERFLOW);
    assert_int_equal(http_date_format(INT64_MIN, out), -EOVERFLOW);
}

static void test_date_round_trip(void **state)
{
    (void)state;
    /* 1900..2100 by an odd stride, so every field takes many values; then random times. */
    const time_t from = -2208988800, to = 4102444800;
    size_t n = 0;
    for (time_t t = from; t < to; t += 86400 * 3 + 3607) {
        char out[HTTP_DATE_LEN + 1];
        time_t back;
        assert_int_equal(http_date_format(t, out), 0);
        assert_int_equal(parse(out, &back), 0);
        if (back != t)
            fail_msg("%lld: \"%s\" parsed as %lld", (long long)t, out, (long long)back);
        n++;
    }
    uint64_t rng = 88172645463325252ULL;
    for (int i = 0; i < 100000; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        /* 0000-01-01 .. 9999-12-31 */
        time_t t = -62167219200 + (time_t)(rng % (253402300799ULL + 62167219200ULL + 1));
        char out[HTTP_DATE_LEN + 1];
        time_t back;
        assert_int_equal(http_date_format(t, out), 0);
        assert_int_equal(parse(out, &back), 0);
        assert_true(back == t);
        n++;
    }
    assert_true(n > 120000);
    /* Every leap day of 1968..2104 (2100 is not one) and the day after. */
    for (int year = 1968; year <= 2104; year += 4) {
        char s[HTTP_DATE_LEN + 8];
        time_t t;
        snprintf(s, sizeof(s), "Mon, 29 Feb %04d 00:00:00 GMT", year);
        assert_int_equal(parse(s, &t), year == 2100 ? -EINVAL : 0);
        snprintf(s, sizeof(s), "Mon, 01 Mar %04d 00:00:00 GMT", year);
        time_t next;
        assert_int_equal(parse(s, &next), 0);
        if (year != 2100)
            assert_true(next - t == 86400);
    }
}

/* Parsing must not depend on the local time zone. */
static void test_date_time_zone(void **state)
{
    (void)state;
    const char *saved = getenv("TZ");
    char *copy = saved ? strdup(saved) : NULL;
    setenv("TZ", "America/New_York", 1);
    tzset();
    time_t t;
    assert_int_equal(parse("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    assert_true(t == EXAMPLE);
    char out[HTTP_DATE_LEN + 1];
    assert_int_equal(http_date_format(EXAMPLE, out), 0);
    assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    if (copy)
        setenv("TZ", copy, 1);
    else
        unsetenv("TZ");
    tzset();
    free(copy);
}

struct parse_case {
    const char *s;
    int err;
    time_t t;
};

static const struct parse_case parse_cases[] = {
    /* The three forms of RFC 9110 §5.6.7. */
    {"Sun, 06 Nov 1994 08:49:37 GMT", 0, EXAMPLE},
    {"Sunday, 06-Nov-94 08:49:37 GMT", 0, EXAMPLE},
    {"Sun Nov  6 08:49:37 1994", 0, EXAMPLE},
    {"Sun Nov 06 08:49:37 1994", 0, EXAMPLE},
    {"Wed Jun  9 10:18:14 2021", 0, 1623233894},
    {"Wednesday, 09-Jun-21 10:18:14 GMT", 0, 1623233894},
    /* The day name must exist, but need not match the date (nginx ignores it entirely). */
    {"Mon, 06 Nov 1994 08:49:37 GMT", 0, EXAMPLE},
    {"Friday, 06-Nov-94 08:49:37 GMT", 0, EXAMPLE},
    /* OWS around the value is not part of it. */
    {" Sun, 06 Nov 1994 08:49:37 GMT\t", 0, EXAMPLE},
    /* A leap second is the first second of the next minute. */
    {"Sat, 31 Dec 2016 23:59:60 GMT", 0, 1483228800},
    /* Leap years. */
    {"Tue, 29 Feb 2000 00:00:00 GMT", 0, 951782400},
    {"Thu, 29 Feb 2024 00:00:00 GMT", 0, 1709164800},
    {"Thu, 29 Feb 1900 00:00:00 GMT", -EINVAL, 0},
    {"Thu, 29 Feb 2001 00:00:00 GMT", -EINVAL, 0},
    {"Thu, 30 Feb 2000 00:00:00 GMT", -EINVAL, 0},
    {"Thu, 31 Nov 1994 00:00:00 GMT", -EINVAL, 0},
    {"Thu, 00 Nov 1994 00:00:00 GMT", -EINVAL, 0},
    {"Thu, 32 Jan 1994 00:00:00 GMT", -EINVAL, 0},
    /* Out-of-range times. */
    {"Sun, 06 Nov 1994 24:00:00 GMT", -EINVAL, 0},
    {"Sun, 06 Nov 1994 08:60:00 GMT", -EINVAL, 0},
    {"Sun, 06 Nov 1994 08:49:61 GMT", -EINVAL, 0},
    {"Sun, 06 Nov 1994 8:49:37 GMT ", -EINVAL, 0},
    {"Sun, 06 Nov 1994 08-49-37 GMT", -EINVAL, 0},
    /* Wrong names, case, zone or shape. */
    {"", -EINVAL, 0},
    {"   ", -EINVAL, 0},
    {"yesterday", -EINVAL, 0},
    {"784111777", -EINVAL, 0},
    {"sun, 06 Nov 1994 08:49:37 GMT", -EINVAL, 0},
    {"Sun, 06 nov 1994 08:49:37 GMT", -EINVAL, 0},
    {"Sun, 06 Nov 1994 08:49:37 gmt", -EINVAL, 0},
    {"Sun, 06 Nov 1994 08:49:37 UTC", -EINVAL, 0},
    {"Sun, 06 Nov 1994 08:49:37 GMTx", -EINVAL, 0},
    {"Sun, 06 Nov 1994 08:49:37 +0000", -EINVAL, 0},
    {"Xyz, 06 Nov 1994 08:49:37 GMT", -EINVAL, 0},
    {"Sun, 06 Xyz 1994 08:49:37 GMT", -EINVAL, 0},
    {"Sun, 6 Nov 1994 08:49:37 GMT", -EINVAL, 0},
    {"Sun, 06 Nov 94 08:49:37 GMT", -EINVAL, 0},
    {"Sun, 06 Nov 19a4 08:49:37 GMT", -EINVAL, 0},
    {"Sun,  06 Nov 1994 08:49:37 GMT", -EINVAL, 0},
    {"Sun 06 Nov 1994 08:49:37 GMT", -EINVAL, 0},
    {"Sun, 06-Nov-94 08:49:37 GMT", -EINVAL, 0},
    {"Sundae, 06-Nov-94 08:49:37 GMT", -EINVAL, 0},
    {"Sunday, 06-Nov-1994 08:49:37 GMT", -EINVAL, 0},
    {"Sunday, 06 Nov 94 08:49:37 GMT", -EINVAL, 0},
    {"Sunday, 06-Nov-94 08:49:37 UTC", -EINVAL, 0},
    {", 06-Nov-94 08:49:37 GMT", -EINVAL, 0},
    {"Sun Nov  6 08:49:37 94", -EINVAL, 0},
    {"Sun Nov 6 08:49:37 1994", -EINVAL, 0},
    {"Sun Nov  6 08:49:37 1994 GMT", -EINVAL, 0},
    {"Sun Nov   6 08:49:37 199", -EINVAL, 0},
    {"Sun Nov  0 08:49:37 1994", -EINVAL, 0},
    /* Two dates, as a list: not a valid If-Modified-Since. */
    {"Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT", -EINVAL, 0},
};

static void test_date_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(parse_cases); i++) {
        const struct parse_case *c = &parse_cases[i];
        time_t t = 12345;
        int rc = parse(c->s, &t);
        if (rc != c->err)
            fail_msg("\"%s\": got %d, want %d", c->s, rc, c->err);
        if (rc == 0 && t != c->t)
            fail_msg("\"%s\": got %lld, want %lld", c->s, (long long)t, (long long)c->t);
        if (rc != 0)
            assert_true(t == 12345);
    }
    /* Only len bytes are read. */
    time_t t;
    assert_int_equal(http_date_parse_at("Sun, 06 Nov 1994 08:49:37 GMTxyz", 29, NOW_2025, &t), 0);
    assert_true(t == EXAMPLE);
    assert_int_equal(http_date_parse_at("Sun, 06 Nov 1994 08:49:37 GMT", 28, NOW_2025, &t),
                     -EINVAL);
    /* The clock-reading form agrees for a four-digit year. */
    assert_int_equal(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", 29, &t), 0);
    assert_true(t == EXAMPLE);
    /* "94" is 1994 until 2044, whatever today is. */
    assert_int_equal(http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", 30, &t), 0);
    assert_true(t == EXAMPLE);
}

/* The year of an RFC 850 date parsed with the given now. */
static int rfc850_year(int yy, time_t now)
{
    char s[64];
    snprintf(s, sizeof(s), "Monday, 01-Jan-%02d 00:00:00 GMT", yy);
    time_t t;
    assert_int_equal(http_date_parse_at(s, strlen(s), now, &t), 0);
    struct tm tm;
    assert_non_null(gmtime_r(&t, &tm));
    return tm.tm_year + 1900;
}

static void test_date_two_digit_year(void **state)
{
    (void)state;
    /* In 2025, years up to 50 ahead (2075) are taken as future, later ones as past. */
    assert_int_equal(rfc850_year(25, NOW_2025), 2025);
    assert_int_equal(rfc850_year(0, NOW_2025), 2000);
    assert_int_equal(rfc850_year(70, NOW_2025), 2070);
    assert_int_equal(rfc850_year(75, NOW_2025), 2075);
    assert_int_equal(rfc850_year(76, NOW_2025), 1976);
    assert_int_equal(rfc850_year(94, NOW_2025), 1994);
    assert_int_equal(rfc850_year(99, NOW_2025), 1999);
    /* A clock near the end of int's years (found by fuzz/fuzz_cond.c's review): no overflow,
     * and a year past 9999 is refused. */
    time_t t;
    const char *s = "Sunday, 06-Nov-94 08:49:37 GMT";
    assert_int_equal(http_date_parse_at(s, strlen(s), (time_t)67767976233316800LL, &t), -EINVAL);
    /* In 2090 (window 2041..2140): "10" is 2110, "40" is 2140, "41" is 2041. */
    const time_t now_2090 = 3786912000;
    assert_int_equal(rfc850_year(10, now_2090), 2110);
    assert_int_equal(rfc850_year(40, now_2090), 2140);
    assert_int_equal(rfc850_year(41, now_2090), 2041);
    assert_int_equal(rfc850_year(90, now_2090), 2090);
    /* In 1970 (window 1921..2020). */
    assert_int_equal(rfc850_year(20, 0), 2020);
    assert_int_equal(rfc850_year(21, 0), 1921);
    assert_int_equal(rfc850_year(69, 0), 1969);
}

static void test_etag_format(void **state)
{
    (void)state;
    char out[HTTP_ETAG_MAX];
    struct timespec mtime = {.tv_sec = 0x5c5b5d4a, .tv_nsec = 0};
    /* nginx's format when the mtime is whole seconds. */
    assert_int_equal(http_etag_format(out, 500, mtime), 14);
    assert_string_equal(out, "\"5c5b5d4a-1f4\"");
    assert_int_equal(http_etag_format(out, 0, mtime), 12);
    assert_string_equal(out, "\"5c5b5d4a-0\"");
    /* Nanoseconds, when present, keep same-second writes apart. */
    mtime.tv_nsec = 0x1a2b;
    http_etag_format(out, 500, mtime);
    assert_string_equal(out, "\"5c5b5d4a.1a2b-1f4\"");
    struct timespec other = mtime;
    other.tv_nsec++;
    char out2[HTTP_ETAG_MAX];
    http_etag_format(out2, 500, other);
    assert_string_not_equal(out, out2);
    mtime.tv_sec = 0;
    mtime.tv_nsec = 0;
    http_etag_format(out, 1, mtime);
    assert_string_equal(out, "\"0-1\"");
    /* The widest value fits: 16 + 8 + 16 hex digits, '.', '-', quotes and NUL. */
    mtime.tv_sec = -1;
    mtime.tv_nsec = 999999999;
    memset(out, 'x', sizeof(out));
    size_t n = http_etag_format(out, INT64_MAX, mtime);
    assert_string_equal(out, "\"ffffffffffffffff.3b9ac9ff-7fffffffffffffff\"");
    assert_int_equal(n, strlen(out));
    assert_true(n < HTTP_ETAG_MAX);
    /* What it formats, If-None-Match and If-Range accept. */
    assert_true(http_etag_match_weak(out, n, out, n));
    assert_true(http_if_range_ok(out, n, out, n, 0));
}

struct match_case {
    const char *list;
    const char *etag;
    bool match;
};

static const struct match_case match_cases[] = {
    {"*", "\"a\"", true},
    {" * ", "\"a\"", true},
    {"*", "W/\"a\"", true},
    {"\"a\"", "\"a\"", true},
    {"W/\"a\"", "\"a\"", true},
    {"\"a\"", "W/\"a\"", true},
    {"W/\"a\"", "W/\"a\"", true},
    {"\"b\", \"a\"", "\"a\"", true},
    {"\"b\",W/\"a\"", "\"a\"", true},
    {"\"b\" ,\t \"a\" ", "\"a\"", true},
    {",, \"a\" ,,", "\"a\"", true},
    {"\"a,b\"", "\"a,b\"", true},
    {"\"\"", "\"\"", true},
    {"\"5c5b5d4a-1f4\"", "\"5c5b5d4a-1f4\"", true},
    /* A malformed element matches nothing; the rest of the list still counts. */
    {"garbage, \"a\"", "\"a\"", true},
    {"*, \"a\"", "\"a\"", true},
    {"\"x\" junk, W/\"a\"", "\"a\"", true},
    /* No match. */
    {"\"b\"", "\"a\"", false},
    {"\"ab\"", "\"a\"", false},
    {"\"a\"", "\"ab\"", false},
    {"\"A\"", "\"a\"", false},
    {"\"a,b\"", "\"a\"", false},
    {"\"b\", \"c\"", "\"a\"", false},
    {"", "\"a\"", false},
    {" ", "\"a\"", false},
    {",", "\"a\"", false},
    {"a", "\"a\"", false},
    {"\"a", "\"a\"", false},
    {"a\"", "\"a\"", false},
    {"w/\"a\"", "\"a\"", false},
    {"W/ \"a\"", "\"a\"", false},
    {"\"a\"x", "\"a\"", false},
    {"\"a\" \"a\"", "\"a\"", false},
    {"\"a b\"", "\"a b\"", false},
    {"**", "\"a\"", false},
    {"*, \"b\"", "\"a\"", false},
    /* An ETag that is not an entity-tag matches nothing but "*". */
    {"a", "a", false},
    {"\"a\"", "", false},
    {"*", "", true},
};

static void test_etag_match(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(match_cases); i++) {
        const struct match_case *c = &match_cases[i];
        bool got = http_etag_match_weak(c->list, strlen(c->list), c->etag, strlen(c->etag));
        if (got != c->match)
            fail_msg("[%s] vs %s: got %d", c->list, c->etag, got);
    }
}

/* If-Match: the weak cases' list syntax, but a weak tag on either side never matches. */
static const struct match_case strong_cases[] = {
    {"*", "\"a\"", true},
    {" * ", "\"a\"", true},
    {"*", "W/\"a\"", true},
    {"\"a\"", "\"a\"", true},
    {"\"b\", \"a\"", "\"a\"", true},
    {"\"b\" ,\t \"a\" ", "\"a\"", true},
    {",, \"a\" ,,", "\"a\"", true},
    {"W/\"a\", \"a\"", "\"a\"", true},
    {"\"a,b\"", "\"a,b\"", true},
    {"\"5c5b5d4a-1f4\"", "\"5c5b5d4a-1f4\"", true},
    {"garbage, \"a\"", "\"a\"", true},
    {"\"x\" junk, \"a\"", "\"a\"", true},
    /* Weak on either side. */
    {"W/\"a\"", "\"a\"", false},
    {"\"a\"", "W/\"a\"", false},
    {"W/\"a\"", "W/\"a\"", false},
    {"\"b\",W/\"a\"", "\"a\"", false},
    /* No match, as for If-None-Match; an empty list matches nothing. */
    {"\"b\"", "\"a\"", false},
    {"\"A\"", "\"a\"", false},
    {"\"ab\"", "\"a\"", false},
    {"", "\"a\"", false},
    {" ", "\"a\"", false},
    {",", "\"a\"", false},
    {"a", "\"a\"", false},
    {"\"a", "\"a\"", false},
    {"\"a\" \"a\"", "\"a\"", false},
    {"**", "\"a\"", false},
    {"*, \"b\"", "\"a\"", false},
    {"\"a\"", "", false},
};

static void test_etag_match_strong(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(strong_cases); i++) {
        const struct match_case *c = &strong_cases[i];
        bool got = http_etag_match_strong(c->list, strlen(c->list), c->etag, strlen(c->etag));
        if (got != c->match)
            fail_msg("[%s] vs %s: got %d", c->list, c->etag, got);
    }
}

#define S(s) s, strlen(s)

static void test_precondition_failed(void **state)
{
    (void)state;
    const char *etag = "\"5c5b5d4a-1f4\"";
    size_t el = strlen(etag);
    const char *date = "Sun, 06 Nov 1994 08:49:37 GMT";
    /* Neither field. */
    assert_false(http_precondition_failed(NULL, 0, NULL, 0, etag, el, EXAMPLE));
    /* If-Match: the strong comparison; "*" matches; an empty value is present and fails. */
    assert_false(http_precondition_failed(S("\"5c5b5d4a-1f4\""), NULL, 0, etag, el, EXAMPLE));
    assert_false(http_precondition_failed(S("\"x\", \"5c5b5d4a-1f4\""), NULL, 0, etag, el, 0));
    assert_false(http_precondition_failed(S("*"), NULL, 0, etag, el, EXAMPLE));
    assert_true(http_precondition_failed(S("\"other\""), NULL, 0, etag, el, EXAMPLE));
    assert_true(http_precondition_failed(S("W/\"5c5b5d4a-1f4\""), NULL, 0, etag, el, EXAMPLE));
    assert_true(http_precondition_failed(S(""), NULL, 0, etag, el, EXAMPLE));
    /* If-Match alone decides, whatever If-Unmodified-Since says. */
    assert_false(http_precondition_failed(S("*"), S(date), etag, el, EXAMPLE + 10));
    assert_true(http_precondition_failed(S("\"other\""), S(date), etag, el, EXAMPLE - 10));
    /* If-Unmodified-Since: fails when mtime is later than the date. */
    assert_false(http_precondition_failed(NULL, 0, S(date), etag, el, EXAMPLE));
    assert_false(http_precondition_failed(NULL, 0, S(date), etag, el, EXAMPLE - 1));
    assert_true(http_precondition_failed(NULL, 0, S(date), etag, el, EXAMPLE + 1));
    assert_true(http_precondition_failed(NULL, 0, S("Sunday, 06-Nov-94 08:49:37 GMT"), etag, el,
                                         EXAMPLE + 1));
    assert_true(
        http_precondition_failed(NULL, 0, S("Sun Nov  6 08:49:37 1994"), etag, el, EXAMPLE + 1));
    /* An invalid date is ignored. */
    assert_false(http_precondition_failed(NULL, 0, S("yesterday"), etag, el, EXAMPLE));
    assert_false(http_precondition_failed(NULL, 0, S(""), etag, el, EXAMPLE));
    assert_false(http_precondition_failed(NULL, 0, S("Sun, 06 Nov 1994 08:49:37 GMT, x"), etag, el,
                                          EXAMPLE));
}

static void test_not_modified(void **state)
{
    (void)state;
    const char *etag = "\"5c5b5d4a-1f4\"";
    size_t el = strlen(etag);
    const char *date = "Sun, 06 Nov 1994 08:49:37 GMT";
    /* Neither field. */
    assert_false(http_not_modified(NULL, 0, NULL, 0, etag, el, EXAMPLE));
    /* If-None-Match alone decides, whatever If-Modified-Since says. */
    assert_true(http_not_modified(S("\"5c5b5d4a-1f4\""), NULL, 0, etag, el, EXAMPLE));
    assert_true(http_not_modified(S("W/\"5c5b5d4a-1f4\""), S(date), etag, el, EXAMPLE + 10));
    assert_true(http_not_modified(S("*"), NULL, 0, etag, el, EXAMPLE));
    assert_false(http_not_modified(S("\"other\""), S(date), etag, el, EXAMPLE));
    assert_false(http_not_modified(S(""), S(date), etag, el, EXAMPLE));
    /* If-Modified-Since: not modified when mtime <= the date. */
    assert_true(http_not_modified(NULL, 0, S(date), etag, el, EXAMPLE));
    assert_true(http_not_modified(NULL, 0, S(date), etag, el, EXAMPLE - 1));
    assert_true(http_not_modified(NULL, 0, S(date), etag, el, 0));
    assert_false(http_not_modified(NULL, 0, S(date), etag, el, EXAMPLE + 1));
    assert_true(http_not_modified(NULL, 0, S("Sunday, 06-Nov-94 08:49:37 GMT"), etag, el, EXAMPLE));
    assert_true(http_not_modified(NULL, 0, S("Sun Nov  6 08:49:37 1994"), etag, el, EXAMPLE));
    /* An invalid date is ignored. */
    assert_false(http_not_modified(NULL, 0, S("yesterday"), etag, el, 0));
    assert_false(http_not_modified(NULL, 0, S(""), etag, el, 0));
    assert_false(http_not_modified(NULL, 0, S("Sun, 06 Nov 1994 08:49:37 GMT, x"), etag, el, 0));
}

struct range_case {
    const char *s;
    off_t size;
    enum http_range want;
    off_t first, last;
};

#define BIG "99999999999999999999999"

static const struct range_case range_cases[] = {
    /* The three forms. */
    {"bytes=0-499", 1000, HTTP_RANGE_OK, 0, 499},
    {"bytes=500-999", 1000, HTTP_RANGE_OK, 500, 999},
    {"bytes=500-", 1000, HTTP_RANGE_OK, 500, 999},
    {"bytes=-500", 1000, HTTP_RANGE_OK, 500, 999},
    {"bytes=0-", 1000, HTTP_RANGE_OK, 0, 999},
    /* Boundaries. */
    {"bytes=0-0", 1000, HTTP_RANGE_OK, 0, 0},
    {"bytes=999-", 1000, HTTP_RANGE_OK, 999, 999},
    {"bytes=999-999", 1000, HTTP_RANGE_OK, 999, 999},
    {"bytes=999-5000", 1000, HTTP_RANGE_OK, 999, 999},
    {"bytes=0-1000", 1000, HTTP_RANGE_OK, 0, 999},
    {"bytes=-1000", 1000, HTTP_RANGE_OK, 0, 999},
    {"bytes=-1001", 1000, HTTP_RANGE_OK, 0, 999},
    {"bytes=-1", 1000, HTTP_RANGE_OK, 999, 999},
    {"bytes=1000-", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=1000-1000", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=5000-6000", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=-0", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0},
    /* A one-byte file. */
    {"bytes=0-0", 1, HTTP_RANGE_OK, 0, 0},
    {"bytes=0-", 1, HTTP_RANGE_OK, 0, 0},
    {"bytes=0-10", 1, HTTP_RANGE_OK, 0, 0},
    {"bytes=-1", 1, HTTP_RANGE_OK, 0, 0},
    {"bytes=-5", 1, HTTP_RANGE_OK, 0, 0},
    {"bytes=1-", 1, HTTP_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=1-1", 1, HTTP_RANGE_UNSATISFIABLE, 0, 0},
    /* An empty file: no int-range is satisfiable; a suffix means all of nothing, so 200. */
    {"bytes=0-", 0, HTTP_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=0-0", 0, HTTP_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=-5", 0, HTTP_RANGE_NONE, 0, 0},
    {"bytes=-0", 0, HTTP_RANGE_UNSATISFIABLE, 0, 0},
    /* Invalid syntax: ignored. */
    {"bytes=5-4", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytes=abc", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytes=", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytes=,", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytes=, ,", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytes=-", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytes=--5", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytes=1-2-3", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytes=+1-2", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytes=-+2", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytes=1", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytes=1-a", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytes=0x10-", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytes=1 2-3", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytes=0-1;", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytes 0-1", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytes =0-1", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytes:0-1", 1000, HTTP_RANGE_NONE, 0, 0},
    {"byte=0-1", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytesx=0-1", 1000, HTTP_RANGE_NONE, 0, 0},
    {"items=0-1", 1000, HTTP_RANGE_NONE, 0, 0},
    {"=0-1", 1000, HTTP_RANGE_NONE, 0, 0},
    {"", 1000, HTTP_RANGE_NONE, 0, 0},
    {"0-1", 1000, HTTP_RANGE_NONE, 0, 0},
    /* Leniency: the unit's case, OWS around the value, elements and '-', empty elements. */
    {" bytes=0-1", 1000, HTTP_RANGE_OK, 0, 1},
    {"bytes=0-1 \t", 1000, HTTP_RANGE_OK, 0, 1},
    {"BYTES=0-1", 1000, HTTP_RANGE_OK, 0, 1},
    {"Bytes=0-1", 1000, HTTP_RANGE_OK, 0, 1},
    {"bytes= 0 - 1 ", 1000, HTTP_RANGE_OK, 0, 1},
    {"bytes=- 5", 1000, HTTP_RANGE_OK, 995, 999},
    {"bytes=0-1,", 1000, HTTP_RANGE_OK, 0, 1},
    {"bytes=, 0-1 ,,", 1000, HTTP_RANGE_OK, 0, 1},
    {"bytes=007-0010", 1000, HTTP_RANGE_OK, 7, 10},
    /* Several ranges: 200 with everything, unless none is satisfiable. */
    {"bytes=0-1,5-6", 1000, HTTP_RANGE_MULTI, 0, 0},
    {"bytes=0-1, 5-6, -3", 1000, HTTP_RANGE_MULTI, 0, 0},
    {"bytes=0-1,0-1", 1000, HTTP_RANGE_MULTI, 0, 0},
    {"bytes=0-1, 2000-3000", 1000, HTTP_RANGE_MULTI, 0, 0},
    {"bytes=0-1,-0", 1000, HTTP_RANGE_MULTI, 0, 0},
    {"bytes=2000-,3000-", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=2000-,-0", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=-5,-6", 0, HTTP_RANGE_MULTI, 0, 0},
    {"bytes=0-1,abc", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytes=0-1,5-4", 1000, HTTP_RANGE_NONE, 0, 0},
    {"bytes=0-1 5-6", 1000, HTTP_RANGE_NONE, 0, 0},
    /* Numbers beyond off_t saturate. */
    {"bytes=" BIG "-", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=" BIG "-" BIG, 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=0-" BIG, 1000, HTTP_RANGE_OK, 0, 999},
    {"bytes=10-" BIG, 1000, HTTP_RANGE_OK, 10, 999},
    {"bytes=-" BIG, 1000, HTTP_RANGE_OK, 0, 999},
    {"bytes=9223372036854775806-", INT64_MAX, HTTP_RANGE_OK, INT64_MAX - 1, INT64_MAX - 1},
    {"bytes=9223372036854775807-", INT64_MAX, HTTP_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=-1", INT64_MAX, HTTP_RANGE_OK, INT64_MAX - 1, INT64_MAX - 1},
};

static const char *range_name(enum http_range r)
{
    static const char *const names[] = {"NONE", "OK", "MULTI", "UNSATISFIABLE"};
    return names[r];
}

static void test_range(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(range_cases); i++) {
        const struct range_case *c = &range_cases[i];
        off_t first = -7, last = -7;
        enum http_range got = http_range_parse(c->s, strlen(c->s), c->size, &first, &last);
        if (got != c->want)
            fail_msg("\"%s\" size %lld: got %s, want %s", c->s, (long long)c->size, range_name(got),
                     range_name(c->want));
        if (got == HTTP_RANGE_OK) {
            if (first != c->first || last != c->last)
                fail_msg("\"%s\" size %lld: got %lld-%lld, want %lld-%lld", c->s,
                         (long long)c->size, (long long)first, (long long)last, (long long)c->first,
                         (long long)c->last);
            assert_true(first <= last && last < c->size);
        } else {
            /* Untouched unless OK. */
            assert_true(first == -7 && last == -7);
        }
    }
    off_t first, last;
    assert_int_equal(http_range_parse(NULL, 0, 1000, &first, &last), HTTP_RANGE_NONE);
    assert_int_equal(http_range_parse("bytes=0-1", 9, -1, &first, &last), HTTP_RANGE_NONE);
    /* Only len bytes are read. */
    assert_int_equal(http_range_parse("bytes=0-199", 10, 1000, &first, &last), HTTP_RANGE_OK);
    assert_true(first == 0 && last == 19);
}

/* Every int-range of every small size agrees with the definition. */
static void test_range_exhaustive(void **state)
{
    (void)state;
    for (off_t size = 0; size < 12; size++) {
        for (off_t a = 0; a < 14; a++) {
            for (off_t b = -1; b < 14; b++) {
                char s[64];
                if (b < 0)
                    snprintf(s, sizeof(s), "bytes=%lld-", (long long)a);
                else
                    snprintf(s, sizeof(s), "bytes=%lld-%lld", (long long)a, (long long)b);
                off_t first = -7, last = -7;
                enum http_range got = http_range_parse(s, strlen(s), size, &first, &last);
                if (b >= 0 && b < a) {
                    assert_int_equal(got, HTTP_RANGE_NONE);
                } else if (a >= size) {
                    assert_int_equal(got, HTTP_RANGE_UNSATISFIABLE);
                } else {
                    assert_int_equal(got, HTTP_RANGE_OK);
                    assert_true(first == a);
                    assert_true(last == (b < 0 || b >= size ? size - 1 : b));
                }
            }
            /* Suffixes: a = suffix length. */
            char s[64];
            snprintf(s, sizeof(s), "bytes=-%lld", (long long)a);
            off_t first = -7, last = -7;
            enum http_range got = http_range_parse(s, strlen(s), size, &first, &last);
            if (a == 0) {
                assert_int_equal(got, HTTP_RANGE_UNSATISFIABLE);
            } else if (size == 0) {
                assert_int_equal(got, HTTP_RANGE_NONE);
            } else {
                assert_int_equal(got, HTTP_RANGE_OK);
                assert_true(first == (a >= size ? 0 : size - a) && last == size - 1);
            }
        }
    }
}

static void test_if_range(void **state)
{
    (void)state;
    const char *etag = "\"5c5b5d4a-1f4\"";
    const char *weak = "W/\"5c5b5d4a-1f4\"";
    size_t el = strlen(etag), wl = strlen(weak);
    /* Absent: Range applies. */
    assert_true(http_if_range_ok(NULL, 0, etag, el, EXAMPLE));
    /* Entity-tags: strong comparison only. */
    assert_true(http_if_range_ok(S("\"5c5b5d4a-1f4\""), etag, el, EXAMPLE));
    assert_true(http_if_range_ok(S(" \"5c5b5d4a-1f4\" "), etag, el, EXAMPLE));
    assert_false(http_if_range_ok(S("W/\"5c5b5d4a-1f4\""), etag, el, EXAMPLE));
    assert_false(http_if_range_ok(S("\"5c5b5d4a-1f4\""), weak, wl, EXAMPLE));
    assert_false(http_if_range_ok(S("W/\"5c5b5d4a-1f4\""), weak, wl, EXAMPLE));
    assert_false(http_if_range_ok(S("\"5c5b5d4a-1f5\""), etag, el, EXAMPLE));
    assert_false(http_if_range_ok(S("\"5c5b5d4a-1f4\", \"x\""), etag, el, EXAMPLE));
    assert_false(http_if_range_ok(S("\"5c5b5d4a-1f4"), etag, el, EXAMPLE));
    assert_false(http_if_range_ok(S("*"), etag, el, EXAMPLE));
    /* Dates: exactly Last-Modified. */
    assert_true(http_if_range_ok(S("Sun, 06 Nov 1994 08:49:37 GMT"), etag, el, EXAMPLE));
    assert_true(http_if_range_ok(S("Sunday, 06-Nov-94 08:49:37 GMT"), etag, el, EXAMPLE));
    assert_false(http_if_range_ok(S("Sun, 06 Nov 1994 08:49:37 GMT"), etag, el, EXAMPLE - 1));
    assert_false(http_if_range_ok(S("Sun, 06 Nov 1994 08:49:37 GMT"), etag, el, EXAMPLE + 1));
    /* A date starting with "W" is still a date. */
    assert_true(http_if_range_ok(S("Wed, 09 Jun 2021 10:18:14 GMT"), etag, el, 1623233894));
    /* Anything else: ignore Range. */
    assert_false(http_if_range_ok(S(""), etag, el, EXAMPLE));
    assert_false(http_if_range_ok(S("yesterday"), etag, el, EXAMPLE));
    assert_false(http_if_range_ok(S("W/"), etag, el, EXAMPLE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_date_format),
        cmocka_unit_test(test_date_round_trip),
        cmocka_unit_test(test_date_time_zone),
        cmocka_unit_test(test_date_parse),
        cmocka_unit_test(test_date_two_digit_year),
        cmocka_unit_test(test_etag_format),
        cmocka_unit_test(test_etag_match),
        cmocka_unit_test(test_etag_match_strong),
        cmocka_unit_test(test_precondition_failed),
        cmocka_unit_test(test_not_modified),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_range_exhaustive),
        cmocka_unit_test(test_if_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
