/*
 * Unit tests for the Cookie header (src/app/cookie.c): the separators browsers send and the ones
 * they might, exact names, the first match, pieces without '=', empty and quoted values, the
 * grammar held for the cookie asked for and not for the others, control characters anywhere,
 * and no byte read past len.
 */
#include "app/cookie.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* Looks name up in header[0, len), checks the output contract, returns the result. */
static int find_n(const char *header, size_t len, const char *name, char *value, size_t cap)
{
    const char *val = (const char *)1;
    size_t vlen = 99;
    int rc = cookie_find(header, len, name, &val, &vlen);
    if (rc == 1) {
        assert_true(val >= header && val + vlen <= header + len);
        assert_true(vlen < cap);
        memcpy(value, val, vlen);
        value[vlen] = '\0';
    } else {
        assert_true(rc == 0 || rc == -1);
        assert_null(val);
        assert_int_equal(vlen, 0);
        value[0] = '\0';
    }
    return rc;
}

/* header must hold name with exactly value (NULL: absent, rc 0). */
static void expect(const char *header, const char *name, const char *value)
{
    char got[256];
    int rc = find_n(header, strlen(header), name, got, sizeof(got));
    if (value == NULL) {
        if (rc != 0)
            fail_msg("cookie_find(\"%s\", \"%s\") = %d (\"%s\"), wanted 0", header, name, rc, got);
        return;
    }
    if (rc != 1)
        fail_msg("cookie_find(\"%s\", \"%s\") = %d, wanted \"%s\"", header, name, rc, value);
    assert_string_equal(got, value);
}

static void expect_malformed(const char *header, size_t len, const char *name)
{
    char got[256];
    int rc = find_n(header, len, name, got, sizeof(got));
    if (rc != -1)
        fail_msg("cookie_find(\"%.*s\", \"%s\") = %d, wanted -1", (int)len, header, name, rc);
}

static void test_forms_browsers_send(void **state)
{
    (void)state;
    expect("sid=abc", "sid", "abc");
    expect("a=1; sid=abc; b=2", "sid", "abc");
    expect("a=1; b=2; sid=abc", "sid", "abc");
    expect("a=1; b=2", "a", "1");
    expect("a=1; b=2", "b", "2");
    expect("a=1;sid=abc", "sid", "abc"); /* no space after ';' */
    expect("a=1;    sid=abc", "sid", "abc");
    expect("a=1;\tsid=abc", "sid", "abc");
    expect("  sid=abc  ", "sid", "abc"); /* OWS the parser may have left */
    expect("sid = abc", "sid", "abc");   /* around '=' too, as RFC 6265 §5.2 trims */
    expect("a=1 ; sid=abc ;b=2", "sid", "abc");
    expect("sid=AZaz09-_.~!#$%&'()*+/:<=>?@[]^`{|}", "sid",
           "AZaz09-_.~!#$%&'()*+/:<=>?@[]^`{|}"); /* every cookie-octet class */
    expect("sid=a=b", "sid", "a=b");              /* the first '=' splits */
    expect("tinyweb_session=Xy-_09", "tinyweb_session", "Xy-_09");
}

static void test_names(void **state)
{
    (void)state;
    expect("SID=x", "sid", NULL); /* case-sensitive */
    expect("sid=x", "SID", NULL);
    expect("sidx=1; xsid=2; si=3", "sid", NULL);
    expect("s=1", "sid", NULL);
    expect("a=1; b=2", "sid", NULL);
    expect("", "sid", NULL);
    expect(";", "sid", NULL);
    expect("   ", "sid", NULL);
    expect(";;; ;", "sid", NULL);
    expect("x=sid=1", "sid", NULL); /* a value is not a name */
    expect("x=sid; sid=2", "sid", "2");
    expect("s id=1", "sid", NULL);
    /* The empty name matches nothing, not even a nameless pair. */
    expect("=x", "", NULL);
    expect("a=1", "", NULL);
}

static void test_first_match_wins(void **state)
{
    (void)state;
    expect("sid=one; sid=two", "sid", "one");
    expect("a=1; sid=one; b=2; sid=two", "sid", "one");
    expect("sid=; sid=two", "sid", "");
    /* The first one decides even when it is bad: no falling through to a later one. */
    char got[64];
    assert_int_equal(find_n("sid=a b; sid=good", 17, "sid", got, sizeof(got)), -1);
}

static void test_pieces_without_equals(void **state)
{
    (void)state;
    expect("sid; a=1", "sid", NULL); /* "sid" alone is a nameless cookie's value */
    expect("sid", "sid", NULL);
    expect("abc; sid=x", "sid", "x");
    expect("sid; sid=x", "sid", "x");
    expect(";;sid=x;", "sid", "x");
    expect("a=1;;; sid=x", "sid", "x");
}

static void test_values(void **state)
{
    (void)state;
    expect("sid=", "sid", "");
    expect("sid=;a=1", "sid", "");
    expect("sid=   ", "sid", "");
    expect("sid=\"\"", "sid", "");
    expect("sid=\"abc\"", "sid", "abc");
    expect("sid= \"abc\" ; a=1", "sid", "abc");

    static const char *const bad[] = {
        "sid=\"abc",    "sid=abc\"", "sid=\"",      "sid=\"a\"b\"", "sid=a\"b",
        "sid=\"\"\"",   "sid=a b",   "sid=\"a b\"", "sid=a,b",      "sid=a\\b",
        "sid=\xc3\xa9", "sid=\x80",  "sid=a\tb",    "sid=abc, a=1", "sid=\" abc \"",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_malformed(bad[i], strlen(bad[i]), "sid");
}

static void test_others_not_judged(void **state)
{
    (void)state;
    expect("prefs={\"a\": \"b, c\"}; sid=x", "sid", "x");
    expect("name=J\xc3\xa9r\xc3\xb4me; sid=x", "sid", "x");
    expect("a=\"unbalanced; sid=x", "sid", "x");
    expect("a=b\\c; sid=x; d=e f", "sid", "x");
    expect("=nameless; sid=x", "sid", "x");
}

static void test_control_characters(void **state)
{
    (void)state;
    expect_malformed("sid=x\r\nSet-Cookie: y", 22, "sid");
    expect_malformed("sid=x\0", 6, "sid");
    expect_malformed("\0sid=x", 6, "sid");
    expect_malformed("sid=x; a=\x7f", 10, "sid"); /* after the match, still the whole header */
    expect_malformed("a=\x01; sid=x", 10, "sid");
    expect_malformed("sid=x\n", 6, "sid");
    expect_malformed("a=1\x1f", 4, "nothere");
    char got[16];
    for (unsigned c = 0; c < 0x20; c++) {
        char h[] = "sid=x; a=?";
        h[9] = (char)c;
        assert_int_equal(find_n(h, 10, "sid", got, sizeof(got)), c == '\t' ? 1 : -1);
    }
    expect("sid=x;\ta=1\t", "sid", "x"); /* HTAB is whitespace, not a control here */
}

static void test_bounds(void **state)
{
    (void)state;
    char got[64];
    assert_int_equal(find_n("sid=abcdef", 6, "sid", got, sizeof(got)), 1);
    assert_string_equal(got, "ab");
    assert_int_equal(find_n("a=1; sid=xyz", 7, "sid", got, sizeof(got)), 0); /* "a=1; si" */
    assert_int_equal(find_n("a=1; sid=xyz", 8, "sid", got, sizeof(got)), 0); /* "a=1; sid" */
    assert_int_equal(find_n("a=1; sid=xyz", 9, "sid", got, sizeof(got)), 1);
    assert_string_equal(got, "");
    assert_int_equal(find_n("sid=\"abc\"", 8, "sid", got, sizeof(got)), -1); /* cut quote */
    assert_int_equal(find_n("sid=x\r\n", 5, "sid", got, sizeof(got)), 1);
    assert_int_equal(find_n(NULL, 0, "sid", got, sizeof(got)), 0);

    /* A long header with the cookie at its end. */
    char big[8192];
    size_t n = 0;
    while (n + 16 < sizeof(big))
        n += (size_t)snprintf(big + n, sizeof(big) - n, "c%zu=%zu; ", n, n);
    n += (size_t)snprintf(big + n, sizeof(big) - n, "sid=end");
    assert_int_equal(find_n(big, n, "sid", got, sizeof(got)), 1);
    assert_string_equal(got, "end");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms_browsers_send),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_first_match_wins),
        cmocka_unit_test(test_pieces_without_equals),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_others_not_judged),
        cmocka_unit_test(test_control_characters),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
