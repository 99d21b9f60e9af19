/*
 * Unit tests for CIDR ranges (src/net/cidr.c): parsing (IPv4, IPv6, bare addresses, bad input),
 * matching at every prefix length, IPv4 peers and IPv4-mapped IPv6 peers against IPv4 ranges,
 * lists, and the text form.
 */
#include "net/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static struct cidr parse_ok(const char *s)
{
    struct cidr c;
    int rc = cidr_parse(s, strlen(s), &c);
    if (rc != 0)
        fail_msg("cidr_parse(\"%s\") = %d", s, rc);
    return c;
}

static const struct sockaddr *v4(const char *text, struct sockaddr_in *in)
{
    memset(in, 0, sizeof(*in));
    in->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, text, &in->sin_addr), 1);
    return (const struct sockaddr *)in;
}

static const struct sockaddr *v6(const char *text, struct sockaddr_in6 *in6)
{
    memset(in6, 0, sizeof(*in6));
    in6->sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
    return (const struct sockaddr *)in6;
}

/* Whether peer (IPv4 or IPv6 text) is in the list. */
static bool allowed(const char *list, const char *peer)
{
    struct cidr_list l;
    char err[128];
    if (cidr_list_parse(list, &l, err, sizeof(err)) != 0)
        fail_msg("cidr_list_parse(\"%s\"): %s", list, err);
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    return cidr_list_match(&l, strchr(peer, ':') ? v6(peer, &in6) : v4(peer, &in));
}

static void test_parse_forms(void **state)
{
    (void)state;
    char text[CIDR_TEXT_MAX];
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"127.0.0.0/8", "127.0.0.0/8"},
        {"127.0.0.1", "127.0.0.1/32"},
        {"10.1.2.3/8", "10.0.0.0/8"}, /* host bits ignored, as nginx does */
        {"0.0.0.0/0", "0.0.0.0/0"},
        {"192.168.1.128/25", "192.168.1.128/25"},
        {"::1", "::1/128"},
        {"2001:db8::/32", "2001:db8::/32"},
        {"2001:db8:ffff::1/33", "2001:db8:8000::/33"},
        {"::/0", "::/0"},
        {"::ffff:10.0.0.0/104", "10.0.0.0/8"}, /* a mapped range is an IPv4 range */
        {"fe80::1/010", "fe80::/10"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cidr c = parse_ok(cases[i].in);
        assert_true(cidr_format(&c, text, sizeof(text)) > 0);
        assert_string_equal(text, cases[i].out);
    }
}

static void test_parse_rejects(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "/8",
        "127.0.0.1/",
        "127.0.0.1/33",
        "127.0.0.1/-1",
        "127.0.0.1/+8",
        "127.0.0.1/ 8",
        "127.0.0.1/8a",
        "127.0.0.1/1000",
        "::1/129",
        "256.0.0.1",
        "1.2.3",
        "localhost",
        "::1::2",
        "127.0.0.1/8/8",
        " 127.0.0.1",
        "1.2.3.4 ",
        "aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa/128",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cidr c;
        if (cidr_parse(bad[i], strlen(bad[i]), &c) != -EINVAL)
            fail_msg("\"%s\" was accepted", bad[i]);
    }
    /* The length bounds the input: no NUL needed, nothing read past it. */
    struct cidr c;
    assert_int_equal(cidr_parse("10.0.0.1/8XYZ", 10, &c), 0);
    assert_int_equal(c.bits, 96 + 8);
}

static void test_match_v4(void **state)
{
    (void)state;
    assert_true(allowed("127.0.0.0/8", "127.0.0.1"));
    assert_true(allowed("127.0.0.0/8", "127.255.255.255"));
    assert_false(allowed("127.0.0.0/8", "128.0.0.1"));
    assert_false(allowed("127.0.0.0/8", "126.255.255.255"));
    assert_true(allowed("0.0.0.0/0", "203.0.113.9"));
    assert_true(allowed("192.168.1.128/25", "192.168.1.200"));
    assert_false(allowed("192.168.1.128/25", "192.168.1.127"));
    assert_true(allowed("10.0.0.1", "10.0.0.1"));
    assert_false(allowed("10.0.0.1", "10.0.0.2"));
    /* Every prefix length: the boundary address in and just out. */
    for (unsigned bits = 1; bits <= 32; bits++) {
        char list[32];
        snprintf(list, sizeof(list), "10.0.0.0/%u", bits);
        uint32_t last_in = 0x0a000000u | (bits == 32 ? 0 : (0xffffffffu >> bits));
        uint32_t first_out = 0x0a000000u + (bits == 32 ? 1 : (0xffffffffu >> bits) + 1);
        char a[16], b[16];
        snprintf(a, sizeof(a), "%u.%u.%u.%u", last_in >> 24, (last_in >> 16) & 255,
                 (last_in >> 8) & 255, last_in & 255);
        snprintf(b, sizeof(b), "%u.%u.%u.%u", first_out >> 24, (first_out >> 16) & 255,
                 (first_out >> 8) & 255, first_out & 255);
        if (!allowed(list, a) || (bits > 4 && allowed(list, b)))
            fail_msg("%s: %s should match, %s not", list, a, b);
    }
}

static void test_match_v6(void **state)
{
    (void)state;
    assert_true(allowed("::1", "::1"));
    assert_false(allowed("::1", "::2"));
    assert_true(allowed("2001:db8::/32", "2001:db8:1234::1"));
    assert_false(allowed("2001:db8::/32", "2001:db9::1"));
    assert_true(allowed("2001:db8:8000::/33", "2001:db8:ffff::1"));
    assert_false(allowed("2001:db8:8000::/33", "2001:db8:7fff::1"));
    assert_true(allowed("::/0", "fe80::1"));
    /* IPv6 ranges never match IPv4 peers, except those covering the mapped block. */
    assert_false(allowed("::1", "127.0.0.1"));
    assert_false(allowed("2001:db8::/32", "127.0.0.1"));
    assert_true(allowed("::/0", "127.0.0.1"));
}

static void test_mapped_peers(void **state)
{
    (void)state;
    /* A dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d: IPv4 ranges take them. */
    assert_true(allowed("127.0.0.0/8", "::ffff:127.0.0.1"));
    assert_false(allowed("127.0.0.0/8", "::ffff:128.0.0.1"));
    assert_true(allowed("10.0.0.0/8", "::ffff:10.9.8.7"));
    /* ...but not an IPv4-compatible or other look-alike address. */
    assert_false(allowed("127.0.0.0/8", "::127.0.0.1"));
    assert_false(allowed("127.0.0.0/8", "::fffe:127.0.0.1"));
    assert_false(allowed("127.0.0.0/8", "64:ff9b::127.0.0.1"));
}

static void test_lists(void **state)
{
    (void)state;
    assert_true(allowed("127.0.0.0/8,::1", "127.0.0.1"));
    assert_true(allowed("127.0.0.0/8,::1", "::1"));
    assert_false(allowed("127.0.0.0/8,::1", "192.0.2.1"));
    assert_true(allowed(" 10.0.0.0/8 , 192.0.2.0/24 ", "192.0.2.77"));

    struct cidr_list l;
    char err[128];
    assert_int_equal(cidr_list_parse("127.0.0.1,,::1", &l, err, sizeof(err)), -EINVAL);
    assert_int_equal(cidr_list_parse("", &l, err, sizeof(err)), -EINVAL);
    assert_int_equal(cidr_list_parse("127.0.0.1,", &l, err, sizeof(err)), -EINVAL);
    assert_int_equal(cidr_list_parse("127.0.0.1,nope/8", &l, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "\"nope/8\""));

    char many[CIDR_LIST_MAX * 16 + 16] = "";
    for (int i = 0; i <= CIDR_LIST_MAX; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s10.0.0.%d", i ? "," : "", i);
    assert_int_equal(cidr_list_parse(many, &l, err, sizeof(err)), -E2BIG);
    *strrchr(many, ',') = '\0';
    assert_int_equal(cidr_list_parse(many, &l, err, sizeof(err)), 0);
    assert_int_equal(l.n, CIDR_LIST_MAX);

    /* Another family never matches. */
    struct sockaddr sa = {.sa_family = AF_UNIX};
    assert_int_equal(cidr_list_parse("::/0,0.0.0.0/0", &l, err, sizeof(err)), 0);
    assert_false(cidr_list_match(&l, &sa));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_forms),  cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_match_v4),     cmocka_unit_test(test_match_v6),
        cmocka_unit_test(test_mapped_peers), cmocka_unit_test(test_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
