/*
 * Unit tests for request path decoding and encoding (src/http/http_path.c).
 *
 * A table of concrete paths, hostile ones first, pins the results and error codes. A randomized
 * test then feeds 100k strings over a small alphabet rich in '/', '.' and escapes, checking the
 * output's invariants, agreement with a plain segment-stack model, and that encoding an output
 * and decoding it again gives it back.
 */
#include "http/http_path.h"

#include <errno.h>
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

/* One decoding case: out is the expected output when err is 0. */
struct decode_case {
    const char *in;
    int err;
    const char *out;
    bool dir;
};

static const struct decode_case decode_cases[] = {
    /* Climbing out of the root, plainly or encoded: 403. */
    {"/../etc/passwd", -EPERM, NULL, false},
    {"/..", -EPERM, NULL, false},
    {"/a/../../b", -EPERM, NULL, false},
    {"/a/b/../../..", -EPERM, NULL, false},
    {"/%2e%2e/x", -EPERM, NULL, false},
    {"/%2E%2e%2fetc", -EPERM, NULL, false},
    {"/a%2f..%2f..%2fb", -EPERM, NULL, false},
    {"/.%2e/x", -EPERM, NULL, false},
    {"/%2e./x", -EPERM, NULL, false},
    {"//..//x", -EPERM, NULL, false},
    {"/./../x", -EPERM, NULL, false},
    /* NUL, encoded or raw: 403. */
    {"/%00", -EPERM, NULL, false},
    {"/a%00.html", -EPERM, NULL, false},
    /* Malformed escapes: 400. */
    {"/a%zz", -EINVAL, NULL, false},
    {"/a%4", -EINVAL, NULL, false},
    {"/a%", -EINVAL, NULL, false},
    {"/%g0", -EINVAL, NULL, false},
    {"/%0g", -EINVAL, NULL, false},
    {"/%%41", -EINVAL, NULL, false},
    {"/% 1", -EINVAL, NULL, false},
    /* Not origin-form. */
    {"", -EINVAL, NULL, false},
    {"a/b", -EINVAL, NULL, false},
    {"%2fa", -EINVAL, NULL, false},
    {"*", -EINVAL, NULL, false},
    /* The first problem in input order decides. */
    {"/../%zz", -EPERM, NULL, false},
    {"/%zz/..", -EINVAL, NULL, false},
    {"/%00%zz", -EPERM, NULL, false},
    /* Normalisation. */
    {"/", 0, "", true},
    {"/index.html", 0, "index.html", false},
    {"/a/", 0, "a", true},
    {"/a", 0, "a", false},
    {"/a/b/../c", 0, "a/c", false},
    {"//a///b/./c/", 0, "a/b/c", true},
    {"//a///b/./c", 0, "a/b/c", false},
    {"/a/.", 0, "a", true},
    {"/a/..", 0, "", true},
    {"/a/b/..", 0, "a", true},
    {"/a/b/../../", 0, "", true},
    {"/.", 0, "", true},
    {"/./", 0, "", true},
    {"///", 0, "", true},
    {"/./a/./b/.", 0, "a/b", true},
    {"/a/./b/../../c/d/../e", 0, "c/e", false},
    {"/a%2f..%2fb", 0, "b", false},
    {"/a%2F", 0, "a", true},
    {"/%2fa", 0, "a", false},
    {"/a/%2e", 0, "a", true},
    {"/a/%2e%2e", 0, "", true},
    {"/a/.%2E/b", 0, "b", false},
    /* Names that only look like dot-segments stay. */
    {"/...", 0, "...", false},
    {"/.a", 0, ".a", false},
    {"/a..", 0, "a..", false},
    {"/a..b/..c/...d", 0, "a..b/..c/...d", false},
    {"/.../..", 0, "", true},
    /* Decoding is done once, and anything but '/' and NUL passes through. */
    {"/%41%62%63", 0, "Abc", false},
    {"/%2541", 0, "%41", false},
    {"/a%20b", 0, "a b", false},
    {"/%e2%82%AC", 0, "\xe2\x82\xac", false},
    {"/a\\..\\b", 0, "a\\..\\b", false},
    {"/a%5c..%5cb", 0, "a\\..\\b", false},
    {"/a?b#c", 0, "a?b#c", false},
    {"/%0d%0a", 0, "\r\n", false},
};

static void test_decode_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(decode_cases); i++) {
        const struct decode_case *c = &decode_cases[i];
        char out[256];
        bool dir = !c->dir;
        ssize_t n = http_path_decode(c->in, strlen(c->in), out, sizeof(out), &dir);
        if (c->err != 0) {
            if (n != c->err)
                fail_msg("\"%s\": got %zd, want %d", c->in, n, c->err);
            continue;
        }
        if (n < 0)
            fail_msg("\"%s\": got error %zd, want \"%s\"", c->in, n, c->out);
        assert_int_equal(n, strlen(c->out));
        assert_string_equal(out, c->out);
        if (dir != c->dir)
            fail_msg("\"%s\": dir %d, want %d", c->in, dir, c->dir);
    }
}

static void test_decode_raw_nul(void **state)
{
    (void)state;
    static const char in[] = "/a\0b";
    char out[16];
    bool dir;
    assert_int_equal(http_path_decode(in, sizeof(in) - 1, out, sizeof(out), &dir), -EPERM);
    /* Only len bytes are read: a NUL just past them is not seen. */
    assert_int_equal(http_path_decode(in, 2, out, sizeof(out), &dir), 1);
    assert_string_equal(out, "a");
}

static void test_decode_cap(void **state)
{
    (void)state;
    char out[8];
    bool dir;
    /* The output and its NUL must fit. */
    assert_int_equal(http_path_decode("/abc", 4, out, 4, &dir), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(http_path_decode("/abc", 4, out, 3, &dir), -ENAMETOOLONG);
    assert_int_equal(http_path_decode("/", 1, out, 1, &dir), 0);
    assert_string_equal(out, "");
    assert_int_equal(http_path_decode("/", 1, out, 0, &dir), -ENAMETOOLONG);
    assert_int_equal(http_path_decode("/abc/", 5, out, 4, &dir), 3);
    assert_true(dir);
    assert_int_equal(http_path_decode("/ab/c", 5, out, 4, &dir), -ENAMETOOLONG);
    /* An intermediate result that does not fit fails, even if a later ".." would shorten it. */
    assert_int_equal(http_path_decode("/aaaa/../b", 10, out, 3, &dir), -ENAMETOOLONG);
    assert_int_equal(http_path_decode("/aaaa/../b", 10, out, 6, &dir), -ENAMETOOLONG);
    assert_int_equal(http_path_decode("/aaaa/../b", 10, out, 7, &dir), 1);
    assert_string_equal(out, "b");
    /* Escapes shrink: "/%41%41%41" (10 bytes) needs only 4. */
    assert_int_equal(http_path_decode("/%41%41%41", 10, out, 4, &dir), 3);
    assert_string_equal(out, "AAA");
}

static void test_decode_long(void **state)
{
    (void)state;
    enum { K = 30000 };
    size_t cap = 5 * K + 4;
    char *in = malloc(cap);
    char *out = malloc(cap);
    assert_non_null(in);
    assert_non_null(out);
    bool dir = false;

    /* K names then K "..": the path collapses to the root; one ".." more climbs out. */
    size_t len = 0;
    for (int i = 0; i < K; i++) {
        memcpy(in + len, "/a", 2);
        len += 2;
    }
    for (int i = 0; i < K; i++) {
        memcpy(in + len, "/..", 3);
        len += 3;
    }
    assert_int_equal(http_path_decode(in, len, out, cap, &dir), 0);
    assert_true(dir);
    memcpy(in + len, "/..", 3);
    assert_int_equal(http_path_decode(in, len + 3, out, cap, &dir), -EPERM);
    /* Without the ".." the output is "a/a/.../a": 2K - 1 bytes, and it needs cap 2K. */
    assert_int_equal(http_path_decode(in, 2 * K, out, 2 * K, &dir), 2 * K - 1);
    assert_int_equal(strlen(out), 2 * K - 1);
    assert_int_equal(http_path_decode(in, 2 * K, out, 2 * K - 1, &dir), -ENAMETOOLONG);

    /* A 10k-byte name fits with cap len + 1, not in a 4k buffer. */
    in[0] = '/';
    memset(in + 1, 'x', 10000);
    char small[4096];
    assert_int_equal(http_path_decode(in, 10001, small, sizeof(small), &dir), -ENAMETOOLONG);
    assert_int_equal(http_path_decode(in, 10001, out, 10002, &dir), 10000);
    assert_int_equal(strlen(out), 10000);
    assert_false(dir);
    free(in);
    free(out);
}

static void test_decode_climb_exact(void **state)
{
    (void)state;
    /* k names then k ".." is the root; k + 1 ".." is forbidden. */
    char in[4096], out[4096];
    for (int k = 0; k <= 50; k++) {
        size_t n = (size_t)sprintf(in, "/.");
        for (int i = 0; i < k; i++)
            n += (size_t)sprintf(in + n, "/d%d", i);
        for (int i = 0; i < k; i++)
            n += (size_t)sprintf(in + n, "/..");
        bool dir = false;
        assert_int_equal(http_path_decode(in, n, out, sizeof(out), &dir), 0);
        assert_true(dir);
        n += (size_t)sprintf(in + n, "/%%2E%%2E");
        assert_int_equal(http_path_decode(in, n, out, sizeof(out), &dir), -EPERM);
    }
}

/* The model: decode, split into segments, resolve with a stack of segments. */
static ssize_t model_decode(const char *in, size_t len, char *out, bool *dir)
{
    if (len == 0 || in[0] != '/')
        return -EINVAL;
    char seg[256][64];
    size_t seglen[256];
    size_t depth = 0;
    char cur[64];
    size_t cur_len = 0;
    for (size_t i = 1;; i++) {
        int c = '/';
        bool end = i >= len;
        if (!end) {
            c = (unsigned char)in[i];
            if (c == '%') {
                unsigned v;
                char hex[3] = {0};
                if (len - i < 3)
                    return -EINVAL;
                memcpy(hex, in + i + 1, 2);
                if (!strchr("0123456789abcdefABCDEF", hex[0]) ||
                    !strchr("0123456789abcdefABCDEF", hex[1]) || sscanf(hex, "%x", &v) != 1)
                    return -EINVAL;
                c = (int)v;
                i += 2;
            }
            if (c == 0)
                return -EPERM;
            if (c != '/') {
                cur[cur_len++] = (char)c;
                continue;
            }
        }
        bool name = false;
        if (cur_len == 2 && cur[0] == '.' && cur[1] == '.') {
            if (depth == 0)
                return -EPERM;
            depth--;
        } else if (cur_len > 0 && !(cur_len == 1 && cur[0] == '.')) {
            memcpy(seg[depth], cur, cur_len);
            seglen[depth++] = cur_len;
            name = true;
        }
        cur_len = 0;
        if (end) {
            *dir = !name;
            break;
        }
    }
    size_t n = 0;
    for (size_t d = 0; d < depth; d++) {
        if (d > 0)
            out[n++] = '/';
        memcpy(out + n, seg[d], seglen[d]);
        n += seglen[d];
    }
    out[n] = '\0';
    return (ssize_t)n;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Checks what every output must satisfy. */
static void check_output(const char *in, const char *out, ssize_t n)
{
    if (strlen(out) != (size_t)n)
        fail_msg("\"%s\": NUL inside the output", in);
    if (n == 0)
        return;
    if (out[0] == '/' || out[n - 1] == '/' || strstr(out, "//"))
        fail_msg("\"%s\": bad slashes in \"%s\"", in, out);
    /* No segment is "." or "..". */
    const char *p = out;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t seg = slash ? (size_t)(slash - p) : strlen(p);
        if ((seg == 1 && p[0] == '.') || (seg == 2 && p[0] == '.' && p[1] == '.'))
            fail_msg("\"%s\": dot-segment in \"%s\"", in, out);
        if (!slash)
            break;
        p = slash + 1;
    }
}

static void test_decode_random(void **state)
{
    (void)state;
    static const char alphabet[] = {'/', '.', '%', '2', 'e', 'f', 'a', '0'};
    uint64_t rng = 0x2545f4914f6cdd1dULL;
    size_t ok = 0, forbidden = 0, bad = 0;
    for (int iter = 0; iter < 100000; iter++) {
        char in[40], out[41], model[41];
        size_t len = (size_t)(rng_next(&rng) % 33);
        for (size_t i = 0; i < len; i++)
            in[i] = alphabet[rng_next(&rng) % sizeof(alphabet)];
        /* Mostly origin-form, so that the interesting paths are common. */
        if (len > 0 && rng_next(&rng) % 8 != 0)
            in[0] = '/';
        in[len] = '\0';

        bool dir = false, model_dir = false;
        memset(out, 0x55, sizeof(out));
        ssize_t n = http_path_decode(in, len, out, len + 1, &dir);
        ssize_t m = model_decode(in, len, model, &model_dir);
        if (n != m)
            fail_msg("\"%s\": got %zd, model %zd", in, n, m);
        if (n < 0) {
            assert_true(n == -EPERM || n == -EINVAL);
            if (n == -EPERM)
                forbidden++;
            else
                bad++;
            continue;
        }
        ok++;
        check_output(in, out, n);
        assert_string_equal(out, model);
        assert_int_equal(dir, model_dir);

        /* Encoding the output and decoding it again gives it back. */
        char enc[200], again[200];
        enc[0] = '/';
        size_t e = http_path_encode(out, (size_t)n, enc + 1, sizeof(enc) - 1);
        assert_true(e < sizeof(enc) - 1);
        bool dir2;
        assert_int_equal(http_path_decode(enc, e + 1, again, sizeof(again), &dir2), n);
        assert_string_equal(again, out);
        assert_int_equal(dir2, n == 0);
    }
    /* The alphabet must actually reach all three outcomes. */
    assert_true(ok > 1000 && forbidden > 1000 && bad > 1000);
}

/* One encoding case: the raw bytes (with their length, as they may hold NUL) and the result. */
struct encode_case {
    const char *in;
    size_t len;
    const char *out;
};

#define ENC(in, out)                                                                               \
    {                                                                                              \
        in, sizeof(in) - 1, out                                                                    \
    }

static const struct encode_case encode_cases[] = {
    ENC("", ""),
    ENC("index.html", "index.html"),
    ENC("a/b/c/", "a/b/c/"),
    ENC("a b", "a%20b"),
    ENC("x\r\nSet-Cookie: a=b", "x%0D%0ASet-Cookie:%20a=b"),
    ENC("100%", "100%25"),
    ENC("a?b#c", "a%3Fb%23c"),
    ENC("\"<>\\^`{|}", "%22%3C%3E%5C%5E%60%7B%7C%7D"),
    ENC("-._~!$&'()*+,;=:@", "-._~!$&'()*+,;=:@"),
    ENC("AZaz09", "AZaz09"),
    ENC("\xc3\xa9t\xc3\xa9", "%C3%A9t%C3%A9"),
    ENC("\x7f\x01\t", "%7F%01%09"),
    ENC("a\0b", "a%00b"),
};

static void test_encode_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(encode_cases); i++) {
        const struct encode_case *c = &encode_cases[i];
        char out[128];
        size_t n = http_path_encode(c->in, c->len, out, sizeof(out));
        assert_int_equal(n, strlen(c->out));
        assert_string_equal(out, c->out);
        assert_null(strpbrk(out, "\r\n \"?#"));
    }
}

static void test_encode_cap(void **state)
{
    (void)state;
    char out[8];
    /* "a b" encodes to 5 bytes: it needs cap 6, and a short buffer gets "" and the length. */
    memset(out, 'z', sizeof(out));
    assert_int_equal(http_path_encode("a b", 3, out, 6), 5);
    assert_string_equal(out, "a%20b");
    memset(out, 'z', sizeof(out));
    assert_int_equal(http_path_encode("a b", 3, out, 5), 5);
    assert_string_equal(out, "");
    memset(out, 'z', sizeof(out));
    assert_int_equal(http_path_encode("a b", 3, out, 3), 5);
    assert_string_equal(out, "");
    assert_int_equal(out[3], 'z'); /* nothing written past cap */
    memset(out, 'z', sizeof(out));
    assert_int_equal(http_path_encode("a b", 3, out, 0), 5);
    assert_int_equal(out[0], 'z');
    assert_int_equal(http_path_encode("abc", 3, out, 4), 3);
    assert_string_equal(out, "abc");
}

/* No encoded output contains a byte that could end or split a header line. */
static void test_encode_all_bytes(void **state)
{
    (void)state;
    char in[256], out[256 * 3 + 1];
    for (int i = 0; i < 256; i++)
        in[i] = (char)i;
    size_t n = http_path_encode(in, 256, out, sizeof(out));
    assert_int_equal(n, strlen(out));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        assert_true(c > 0x20 && c < 0x7f && c != '"' && c != '?' && c != '#' && c != '\\');
    }
    /* 80 bytes stay: 62 alphanumerics, "-._~", the 11 sub-delims and ":@/". */
    assert_int_equal(n, 80 + 3 * (256 - 80));
    /* Decoding refuses the NUL; without it (and '/'), it gives every byte back. */
    char enc[800], back[300];
    bool dir;
    enc[0] = '/';
    memcpy(enc + 1, out, n);
    assert_int_equal(http_path_decode(enc, n + 1, back, sizeof(back), &dir), -EPERM);
    size_t k = 0;
    for (int i = 1; i < 256; i++) {
        if (i != '/')
            in[k++] = (char)i;
    }
    n = http_path_encode(in, k, enc + 1, sizeof(enc) - 1);
    assert_int_equal(http_path_decode(enc, n + 1, back, sizeof(back), &dir), k);
    assert_memory_equal(back, in, k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_table),       cmocka_unit_test(test_decode_raw_nul),
        cmocka_unit_test(test_decode_cap),         cmocka_unit_test(test_decode_long),
        cmocka_unit_test(test_decode_climb_exact), cmocka_unit_test(test_decode_random),
        cmocka_unit_test(test_encode_table),       cmocka_unit_test(test_encode_cap),
        cmocka_unit_test(test_encode_all_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
