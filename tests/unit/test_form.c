/*
 * Unit tests for form bodies and UTF-8 validation (src/app/form.c): the WHATWG pair rules ('&',
 * the first '=', '+', empty pairs), strict escapes, UTF-8 of names and values whether wanted or
 * not, control characters, duplicates, lengths at the edge of the buffer, which error wins when
 * there are several, no byte read past len, and utf8_valid against a decoder by arithmetic on
 * every string of up to three bytes.
 */
#include "app/form.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* The login form's two fields, filled with garbage first to see that absent ones are reset. */
struct login {
    char user[16], password[16];
    struct form_field f[2];
};

static int decode_n(struct login *l, const char *body, size_t len)
{
    memset(l->user, 'U', sizeof(l->user));
    memset(l->password, 'P', sizeof(l->password));
    l->f[0] = (struct form_field){
        .name = "user", .out = l->user, .cap = sizeof(l->user), .len = 99, .seen = true};
    l->f[1] = (struct form_field){.name = "password",
                                  .out = l->password,
                                  .cap = sizeof(l->password),
                                  .len = 99,
                                  .seen = true};
    int rc = form_decode(body, len, l->f, 2);
    /* Whatever the result, every field is a proper string of its length. */
    for (int k = 0; k < 2; k++) {
        assert_true(l->f[k].len < l->f[k].cap);
        assert_int_equal(strlen(l->f[k].out), l->f[k].len);
        if (!l->f[k].seen)
            assert_int_equal(l->f[k].len, 0);
        if (rc != 0)
            assert_false(l->f[k].seen);
    }
    return rc;
}

static int decode(struct login *l, const char *body)
{
    return decode_n(l, body, strlen(body));
}

/* Decodes body, which must succeed, and checks both fields (NULL: absent). */
static void expect(const char *body, const char *user, const char *password)
{
    struct login l;
    int rc = decode(&l, body);
    if (rc != 0)
        fail_msg("form_decode(\"%s\") = %d (%s)", body, rc, form_strerror(rc));
    const char *want[2] = {user, password};
    for (int k = 0; k < 2; k++) {
        if (want[k] == NULL) {
            if (l.f[k].seen)
                fail_msg("\"%s\": %s seen as \"%s\"", body, l.f[k].name, l.f[k].out);
            assert_string_equal(l.f[k].out, "");
        } else {
            if (!l.f[k].seen)
                fail_msg("\"%s\": %s not seen", body, l.f[k].name);
            assert_string_equal(l.f[k].out, want[k]);
            assert_int_equal(l.f[k].len, strlen(want[k]));
        }
    }
}

static void expect_error(const char *body, int err)
{
    struct login l;
    int rc = decode(&l, body);
    if (rc != err)
        fail_msg("form_decode(\"%s\") = %d (%s), wanted %d (%s)", body, rc, form_strerror(rc), err,
                 form_strerror(err));
}

static void test_pairs(void **state)
{
    (void)state;
    expect("user=alice&password=secret", "alice", "secret");
    expect("password=secret&user=alice", "alice", "secret");
    expect("user=alice", "alice", NULL);
    expect("", NULL, NULL);
    expect("&", NULL, NULL);
    expect("&&&", NULL, NULL);
    expect("=", NULL, NULL);
    expect("=&=x", NULL, NULL);
    expect("&&user=a&&&password=b&&", "a", "b");
    expect("user=", "", NULL);
    expect("user", "", NULL); /* no '=': a name with an empty value */
    expect("user&password", "", "");
    expect("user=a=b", "a=b", NULL); /* the first '=' splits */
    expect("user==", "=", NULL);
    expect("other=1&user=a&more=2", "a", NULL);
    expect("User=a&USER=b&user =c& user=d", NULL, NULL); /* names compared bytewise */
    expect("users=a&use=b&passwordx=c", NULL, NULL);
    expect("user%3D=x", NULL, NULL);                     /* an escaped '=' is part of the name */
    expect("user=a%26password=b", "a&password=b", NULL); /* and an escaped '&' of the value */
    expect("%75ser=a&pass%77ord=b", "a", "b");           /* names are decoded before comparing */
    expect("us%65r=a", "a", NULL);
}

static void test_plus_and_escapes(void **state)
{
    (void)state;
    expect("user=a+b", "a b", NULL);
    expect("user=+++", "   ", NULL);
    expect("user=a%2Bb", "a+b", NULL);
    expect("user=a%2bb", "a+b", NULL);
    expect("user=%41%42%43", "ABC", NULL);
    expect("user=%c3%a9&password=%C3%A9", "\xc3\xa9", "\xc3\xa9");
    expect("user=%25", "%", NULL);
    expect("user=%2525", "%25", NULL); /* decoded once only */
    expect("user=%20", " ", NULL);
    expect("pass+word=x", NULL, NULL); /* '+' is a space in names too */
    char name[] = "a b";
    char out[8];
    struct form_field f = {.name = name, .out = out, .cap = sizeof(out)};
    assert_int_equal(form_decode("a+b=1", 5, &f, 1), 0);
    assert_true(f.seen);
    assert_string_equal(out, "1");
    assert_int_equal(form_decode("a%20b=2", 7, &f, 1), 0);
    assert_string_equal(out, "2");
}

static void test_bad_escapes(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "user=%zz",
        "user=%4",
        "user=%",
        "user=%%41",
        "user=%4g",
        "user=%g4",
        "user=a%",
        "user=%-1",
        "user=% 41",
        "user=%+4",
        "%=x",
        "us%er=x",
        "user%=x",
        "%4=x",
        "x=%zz&user=a",
        "user=a&x=%zz",
        "x=1&y=%&z=2",
        "%",
        "%%",
        "a%&user=b",
        "user=%4&=1",
        "user=%0x41",
        "user=%\xc3\xa9",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(bad[i], FORM_EMALFORMED);
    /* An escape cut by '&' is malformed even when the next pair starts with hex digits. */
    expect_error("user=%4&1=x", FORM_EMALFORMED);
    expect_error("user=%&41", FORM_EMALFORMED);
}

static void test_utf8_in_forms(void **state)
{
    (void)state;
    /* Well-formed: the first and last code point of each length, the edges of the gaps. */
    expect("user=%C2%80", "\xc2\x80", NULL);
    expect("user=%DF%BF", "\xdf\xbf", NULL);
    expect("user=%E0%A0%80", "\xe0\xa0\x80", NULL);
    expect("user=%ED%9F%BF", "\xed\x9f\xbf", NULL);        /* U+D7FF */
    expect("user=%EE%80%80", "\xee\x80\x80", NULL);        /* U+E000 */
    expect("user=%EF%BF%BF", "\xef\xbf\xbf", NULL);        /* U+FFFF */
    expect("user=%F0%90%80%80", "\xf0\x90\x80\x80", NULL); /* U+10000 */
    expect("user=%F0%9F%98%80", "\xf0\x9f\x98\x80", NULL); /* an emoji */
    expect("user=%F4%8F%BF%BF", "\xf4\x8f\xbf\xbf", NULL); /* U+10FFFF */
    expect("user=caf\xc3\xa9", "caf\xc3\xa9", NULL);       /* raw bytes */
    expect("user=caf%C3\xa9", "caf\xc3\xa9", NULL);        /* half escaped, half raw */
    expect("user=%E2\x82%AC", "\xe2\x82\xac", NULL);
    expect("%C3%A9=%E2%82%AC&user=ok", "ok", NULL); /* an unwanted non-ASCII pair */

    static const char *const bad[] = {
        "user=%C0%80",             /* overlong NUL */
        "user=%C1%BF",             /* overlong DEL */
        "user=%E0%80%80",          /* overlong 3-byte */
        "user=%E0%9F%BF",          /* overlong U+07FF */
        "user=%F0%80%80%80",       /* overlong 4-byte */
        "user=%F0%8F%BF%BF",       /* overlong U+FFFF */
        "user=%ED%A0%80",          /* U+D800, a surrogate */
        "user=%ED%BF%BF",          /* U+DFFF */
        "user=%ED%A0%BD%ED%B8%80", /* a surrogate pair (CESU-8) */
        "user=%F4%90%80%80",       /* U+110000 */
        "user=%F5%80%80%80",       /* no such lead byte */
        "user=%F8%88%80%80%80",    /* 5-byte form */
        "user=%FE",
        "user=%FF",
        "user=%80", /* a stray continuation */
        "user=a%BFb",
        "user=%C3", /* truncated at the end */
        "user=%E2%82",
        "user=%F0%9F%98",
        "user=%C3A", /* truncated by an ASCII byte */
        "user=%E2%82A",
        "user=%C3%C3%A9",
        "user=%C3%A9%A9", /* one continuation too many */
        "user=\xc0\x80",  /* raw */
        "user=\xed\xa0\x80",
        "user=\xf4\x90\x80\x80",
        "user=\xc3",
        "user=%C3&password=%A9", /* not joined across pairs */
        "user=%C3+%A9",          /* '+' is a space, not a continuation */
        "%C3=x",                 /* in a name */
        "u%C3=x",
        "%ED%A0%80=1",
        "x=%C0%80&user=a", /* in an unwanted value */
        "user=a&x=%FF",
        "%C3",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(bad[i], FORM_EUTF8);
    /* The name and the value are separate strings: a sequence cannot run across the '='. */
    expect_error("x%C3=%A9", FORM_EUTF8);
}

static void test_control_characters(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "user=%00",    "user=a%00", "user=%00a",    "user=%01",          "user=%09",   "user=%0A",
        "user=%0d%0a", "user=%1F",  "user=%1f",     "user=%7F",          "user=a%0Ab", "user=\t",
        "user=a\nb",   "user=\x7f", "password=%00", "password=\x1b[31m",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(bad[i], FORM_ECTRL);
    /* A raw NUL inside len is a control character too, not an end of string. */
    struct login l;
    assert_int_equal(decode_n(&l, "user=a\0b", 8), FORM_ECTRL);
    /* Unwanted values and names may hold them: they are checked, not used. */
    expect("x=%00%1F%7F&user=a", "a", NULL);
    expect("user%00=a", NULL, NULL);
    assert_int_equal(decode_n(&l, "x=\0&user=a", 10), 0);
    assert_string_equal(l.user, "a");
    /* The edges: space, '~' and U+0080 (C1 controls are ordinary UTF-8 here) pass. */
    expect("user=%20%7E%C2%80%C2%9F", " ~\xc2\x80\xc2\x9f", NULL);
}

static void test_duplicates(void **state)
{
    (void)state;
    expect_error("user=a&user=b", FORM_EDUP);
    expect_error("user=a&user=a", FORM_EDUP);
    expect_error("user=a&password=b&user=c", FORM_EDUP);
    expect_error("user=a&%75ser=b", FORM_EDUP); /* the same name once decoded */
    expect_error("user&user", FORM_EDUP);
    expect_error("user=&user=", FORM_EDUP);
    expect_error("password=&x=1&password=2", FORM_EDUP);
    expect("x=1&x=2&user=a", "a", NULL); /* unwanted duplicates are nobody's business */
}

static void test_lengths(void **state)
{
    (void)state;
    char out[8];
    struct form_field f = {.name = "v", .out = out, .cap = sizeof(out)};
    assert_int_equal(form_decode("v=1234567", 9, &f, 1), 0); /* cap - 1 bytes fit */
    assert_string_equal(out, "1234567");
    assert_int_equal(f.len, 7);
    assert_int_equal(form_decode("v=12345678", 10, &f, 1), FORM_ETOOLONG);
    assert_false(f.seen);
    assert_string_equal(out, "");
    assert_int_equal(form_decode("v=123456789012345678901234567890", 32, &f, 1), FORM_ETOOLONG);

    /* Decoded bytes count, not input bytes. */
    const char *seven = "v=%41%42%43%44%45%46%47";
    assert_int_equal(form_decode(seven, strlen(seven), &f, 1), 0);
    assert_string_equal(out, "ABCDEFG");
    const char *eight = "v=%41%42%43%44%45%46%47%48";
    assert_int_equal(form_decode(eight, strlen(eight), &f, 1), FORM_ETOOLONG);
    assert_int_equal(form_decode("v=+++++++", 9, &f, 1), 0);
    assert_int_equal(form_decode("v=++++++++", 10, &f, 1), FORM_ETOOLONG);
    /* Multi-byte characters count as their bytes: 3 x 2 fits, 4 x 2 does not. */
    const char *three = "v=%C3%A9%C3%A9%C3%A9";
    assert_int_equal(form_decode(three, strlen(three), &f, 1), 0);
    assert_int_equal(f.len, 6);
    const char *four = "v=%C3%A9%C3%A9%C3%A9%C3%A9";
    assert_int_equal(form_decode(four, strlen(four), &f, 1), FORM_ETOOLONG);

    /* A one-byte buffer holds only the empty value. */
    char one[1] = {'X'};
    struct form_field g = {.name = "v", .out = one, .cap = 1};
    assert_int_equal(form_decode("v=", 2, &g, 1), 0);
    assert_true(g.seen);
    assert_int_equal(one[0], '\0');
    assert_int_equal(form_decode("v=a", 3, &g, 1), FORM_ETOOLONG);
    assert_int_equal(one[0], '\0');

    /* An unwanted value has no limit. */
    char big[4096];
    memset(big, 'a', sizeof(big));
    memcpy(big, "x=", 2);
    assert_int_equal(form_decode(big, sizeof(big), &f, 1), 0);
    assert_false(f.seen);
    /* Nor has a name. */
    memset(big, 'n', sizeof(big));
    assert_int_equal(form_decode(big, sizeof(big), &f, 1), 0);
}

static void test_first_error_wins(void **state)
{
    (void)state;
    /* Within a pair: escapes, then the name's UTF-8, then the value's, then the wanted checks. */
    expect_error("user=%C0%zz", FORM_EMALFORMED);
    expect_error("%C0=%zz", FORM_EMALFORMED);
    expect_error("%zz=%C0", FORM_EMALFORMED);
    expect_error("%C0=%C0", FORM_EUTF8);
    expect_error("user=x&user=%C0", FORM_EUTF8);
    expect_error("user=x&user=%00", FORM_EDUP);
    expect_error("user=x&user=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", FORM_EDUP);
    expect_error("user=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa%00", FORM_ECTRL);
    expect_error("user=%00aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", FORM_ECTRL);
    /* Across pairs, the first pair with a problem decides. */
    expect_error("user=%C0&x=%zz", FORM_EUTF8);
    expect_error("user=aaaaaaaaaaaaaaaaaaaaaaaaa&x=%zz", FORM_ETOOLONG);
    expect_error("password=%01&user=%FF", FORM_ECTRL);
    expect_error("x=%FF&user=%01", FORM_EUTF8);
    expect_error("user=a&password=%zz&user=b", FORM_EMALFORMED);
}

static void test_bounds(void **state)
{
    (void)state;
    /* Nothing past len is read: these bodies are cut short in a larger buffer. */
    struct login l;
    assert_int_equal(decode_n(&l, "user=%41", 7), FORM_EMALFORMED); /* "user=%4" */
    assert_int_equal(decode_n(&l, "user=%41", 6), FORM_EMALFORMED); /* "user=%" */
    assert_int_equal(decode_n(&l, "user=abcdef", 6), 0);
    assert_string_equal(l.user, "a");
    assert_int_equal(decode_n(&l, "user=%C3%A9", 8), FORM_EUTF8); /* "user=%C3" */
    assert_int_equal(decode_n(&l, "user=a&user=b", 7), 0);
    assert_int_equal(decode_n(&l, "user=a&user=b", 8), 0); /* "user=a&u" */
    assert_int_equal(decode_n(&l, "user=a&user=b", 11), FORM_EDUP);
    assert_int_equal(decode_n(&l, "user", 3), 0);
    assert_false(l.f[0].seen);
    assert_int_equal(decode_n(&l, "", 0), 0);
    assert_int_equal(decode_n(&l, NULL, 0), 0);

    /* No wanted fields: a validation of the whole body. */
    assert_int_equal(form_decode("a=1&b=%C3%A9", 12, NULL, 0), 0);
    assert_int_equal(form_decode("a=1&b=%C3", 9, NULL, 0), FORM_EUTF8);
    assert_int_equal(form_decode("a=%00", 5, NULL, 0), 0);
}

static void test_strerror(void **state)
{
    (void)state;
    const int codes[] = {0, FORM_EMALFORMED, FORM_EUTF8, FORM_EDUP, FORM_ECTRL, FORM_ETOOLONG};
    const size_t n = sizeof(codes) / sizeof(codes[0]);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(form_strerror(codes[i]));
        assert_string_not_equal(form_strerror(codes[i]), form_strerror(-100));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(form_strerror(codes[i]), form_strerror(codes[j]));
    }
}

/*
 * The reference for utf8_valid: decodes each sequence to its code point by arithmetic and then
 * applies the rules as Unicode states them (the shortest form, not a surrogate, at most
 * U+10FFFF), rather than by the byte ranges of table 3-7 as form.c does.
 */
static bool reference_valid(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned char b = p[i];
        size_t n;
        uint32_t cp, min;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xe0) == 0xc0) {
            n = 2, cp = b & 0x1f, min = 0x80;
        } else if ((b & 0xf0) == 0xe0) {
            n = 3, cp = b & 0x0f, min = 0x800;
        } else if ((b & 0xf8) == 0xf0) {
            n = 4, cp = b & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i < n)
            return false;
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n;
    }
    return true;
}

static void test_utf8_exhaustive(void **state)
{
    (void)state;
    unsigned char s[4];
    size_t valid[4] = {0};
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (unsigned char)a;
        assert_int_equal(utf8_valid((char *)s, 1), reference_valid(s, 1));
        valid[1] += utf8_valid((char *)s, 1);
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (unsigned char)b;
            bool v2 = utf8_valid((char *)s, 2);
            if (v2 != reference_valid(s, 2))
                fail_msg("%02x %02x: %d", a, b, v2);
            valid[2] += v2;
            for (unsigned c = 0; c < 256; c++) {
                s[2] = (unsigned char)c;
                bool v3 = utf8_valid((char *)s, 3);
                if (v3 != reference_valid(s, 3))
                    fail_msg("%02x %02x %02x: %d", a, b, c, v3);
                valid[3] += v3;
            }
        }
    }
    /* Counts worked out by hand: 128 ASCII; 128^2 + 1920 two-byte (U+0080..07FF); three bytes:
     * ASCII^3 + 2 x 128 x 1920 + 61440 (U+0800..FFFF without 2048 surrogates). */
    assert_int_equal(valid[1], 128);
    assert_int_equal(valid[2], 128 * 128 + 1920);
    assert_int_equal(valid[3], 128 * 128 * 128 + 2 * 128 * 1920 + 61440);

    /* Four bytes: every lead and first continuation, with the last two taken from a set that
     * covers the edges of the continuation range. */
    static const unsigned char tail[] = {0x00, 0x41, 0x7f, 0x80, 0x81, 0x8f, 0x90,
                                         0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xf4, 0xff};
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            for (size_t c = 0; c < sizeof(tail); c++)
                for (size_t d = 0; d < sizeof(tail); d++) {
                    s[0] = (unsigned char)a, s[1] = (unsigned char)b;
                    s[2] = tail[c], s[3] = tail[d];
                    if (utf8_valid((char *)s, 4) != reference_valid(s, 4))
                        fail_msg("%02x %02x %02x %02x", a, b, s[2], s[3]);
                }
    assert_true(utf8_valid("", 0));
    assert_true(utf8_valid(NULL, 0));
    assert_true(utf8_valid("a\0b", 3)); /* NUL is valid UTF-8; form_decode refuses it itself */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_plus_and_escapes),
        cmocka_unit_test(test_bad_escapes),
        cmocka_unit_test(test_utf8_in_forms),
        cmocka_unit_test(test_control_characters),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_first_error_wins),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_utf8_exhaustive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
