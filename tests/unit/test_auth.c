/*
 * Unit tests for passwords and session tokens (src/app/auth.c): Argon2id hashes verify, salted,
 * of the right algorithm, across parameter changes; bad parameters are refused; tokens are 43
 * base64url characters and differ; a token's key is BLAKE2b-256; and the timing claim: a login
 * for an unknown user (auth_verify(NULL, ...)) takes about as long as a wrong password for a real
 * one. The hashes use libsodium's minimum cost (1 pass, 8 KiB) so the tests are quick, except the
 * timing test, which needs a cost well above the clock's noise.
 */
#include "app/auth.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static const struct auth_params quick = {.ops = 1, .mem = 8192};

static int setup(void **state)
{
    (void)state;
    return auth_init(&quick);
}

static void test_params(void **state)
{
    (void)state;
    char err[128];
    assert_int_equal(auth_params_check(&quick, err, sizeof(err)), 0);
    struct auth_params p = {.ops = 0, .mem = 8192};
    assert_int_equal(auth_params_check(&p, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "passes"));
    p = (struct auth_params){.ops = 1, .mem = 8191};
    assert_int_equal(auth_params_check(&p, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "memory"));
    char out[AUTH_HASH_MAX];
    assert_int_equal(auth_hash(&p, "pw", 2, out), -EINVAL);
    assert_int_equal(auth_init(&p), -EINVAL);
}

static void test_hash_verify(void **state)
{
    (void)state;
    char h[AUTH_HASH_MAX];
    const char *pw = "correct horse battery staple";
    assert_int_equal(auth_hash(&quick, pw, strlen(pw), h), 0);
    assert_true(strlen(h) < AUTH_HASH_MAX);
    /* Argon2id, version 0x13, the parameters asked for (m in KiB). */
    assert_memory_equal(h, "$argon2id$v=19$m=8,t=1,p=1$", 27);
    assert_null(strstr(h, pw));
    assert_int_equal(auth_verify(h, pw, strlen(pw)), 0);
    assert_int_equal(auth_verify(h, "correct horse battery stapler", 29), -1);
    assert_int_equal(auth_verify(h, pw, strlen(pw) - 1), -1);
    assert_int_equal(auth_verify(h, "", 0), -1);

    /* The length counts, not a NUL: "a\0b" is not "a". */
    assert_int_equal(auth_hash(&quick, "a\0b", 3, h), 0);
    assert_int_equal(auth_verify(h, "a\0b", 3), 0);
    assert_int_equal(auth_verify(h, "a", 1), -1);

    /* The empty password is a password like any other (the application refuses it). */
    assert_int_equal(auth_hash(&quick, "", 0, h), 0);
    assert_int_equal(auth_verify(h, "", 0), 0);
}

static void test_salted(void **state)
{
    (void)state;
    char a[AUTH_HASH_MAX], b[AUTH_HASH_MAX];
    assert_int_equal(auth_hash(&quick, "same", 4, a), 0);
    assert_int_equal(auth_hash(&quick, "same", 4, b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(auth_verify(a, "same", 4), 0);
    assert_int_equal(auth_verify(b, "same", 4), 0);
}

static void test_other_parameters(void **state)
{
    (void)state;
    /* A hash carries its cost: one made before the parameters changed still verifies. */
    const struct auth_params older = {.ops = 2, .mem = 16384};
    char h[AUTH_HASH_MAX];
    assert_int_equal(auth_hash(&older, "pw", 2, h), 0);
    assert_memory_equal(h, "$argon2id$v=19$m=16,t=2,p=1$", 28);
    assert_int_equal(auth_verify(h, "pw", 2), 0);
    assert_int_equal(auth_verify(h, "pW", 2), -1);
}

static void test_verify_refuses(void **state)
{
    (void)state;
    /* Unknown users never log in, whatever the password (the dummy's is random). */
    assert_int_equal(auth_verify(NULL, "", 0), -1);
    assert_int_equal(auth_verify(NULL, "pw", 2), -1);
    /* Malformed stored hashes never match. */
    assert_int_equal(auth_verify("", "", 0), -1);
    assert_int_equal(auth_verify("pw", "pw", 2), -1);
    assert_int_equal(auth_verify("$argon2id$v=19$m=8,t=1,p=1$", "pw", 2), -1);
}

static int compare_tokens(const void *a, const void *b)
{
    return memcmp(a, b, AUTH_TOKEN_SIZE);
}

static void test_tokens(void **state)
{
    (void)state;
    enum { N = 2000 };
    static char tokens[N][AUTH_TOKEN_SIZE];
    for (int i = 0; i < N; i++) {
        memset(tokens[i], 'X', AUTH_TOKEN_SIZE);
        auth_token_new(tokens[i]);
        assert_int_equal(strlen(tokens[i]), AUTH_TOKEN_LEN);
        assert_int_equal(strspn(tokens[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                           "0123456789-_"),
                         AUTH_TOKEN_LEN);
    }
    qsort(tokens, N, AUTH_TOKEN_SIZE, compare_tokens);
    for (int i = 1; i < N; i++)
        assert_int_not_equal(memcmp(tokens[i - 1], tokens[i], AUTH_TOKEN_SIZE), 0);
}

static void test_token_hash(void **state)
{
    (void)state;
    /* BLAKE2b-256 test values (RFC 7693's function, 32-byte output, no key). */
    static const uint8_t empty[32] = {0x0e, 0x57, 0x51, 0xc0, 0x26, 0xe5, 0x43, 0xb2,
                                      0xe8, 0xab, 0x2e, 0xb0, 0x60, 0x99, 0xda, 0xa1,
                                      0xd1, 0xe5, 0xdf, 0x47, 0x77, 0x8f, 0x77, 0x87,
                                      0xfa, 0xab, 0x45, 0xcd, 0xf1, 0x2f, 0xe3, 0xa8};
    static const uint8_t abc[32] = {0xbd, 0xdd, 0x81, 0x3c, 0x63, 0x42, 0x39, 0x72,
                                    0x31, 0x71, 0xef, 0x3f, 0xee, 0x98, 0x57, 0x9b,
                                    0x94, 0x96, 0x4e, 0x3b, 0xb1, 0xcb, 0x3e, 0x42,
                                    0x72, 0x62, 0xc8, 0xc0, 0x68, 0xd5, 0x23, 0x19};
    uint8_t out[32];
    auth_token_hash("", 0, out);
    assert_memory_equal(out, empty, 32);
    auth_token_hash("abcdef", 3, out);
    assert_memory_equal(out, abc, 32);

    char t[AUTH_TOKEN_SIZE];
    uint8_t again[32];
    auth_token_new(t);
    auth_token_hash(t, AUTH_TOKEN_LEN, out);
    auth_token_hash(t, AUTH_TOKEN_LEN, again);
    assert_memory_equal(out, again, 32);
    t[0] ^= 1;
    auth_token_hash(t, AUTH_TOKEN_LEN, again);
    assert_memory_not_equal(out, again, 32);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double min2(double a, double b)
{
    return a < b ? a : b;
}

/*
 * The timing claim. Each round times, interleaved, k verifications of a wrong password against a
 * real hash, k against the dummy (auth_verify(NULL, ...)), and k hashes with the same parameters
 * as an independent reference of that cost; the minimum of each is compared (the minimum is what
 * the work costs; preemption only adds). The dummy must cost 0.5x..2x a wrong password. A round
 * outside that is retried only when it was late: the dummy slow (above 2x), or the wrong-password
 * minimum itself slow next to the reference. A dummy that is fast while the measurement was
 * clean (a shortcut for unknown users) fails at once.
 */
static void test_unknown_user_timing(void **state)
{
    (void)state;
    /* 2 passes over 4 MiB: milliseconds per verification, well above the clock's noise. */
    const struct auth_params p = {.ops = 2, .mem = 4u << 20};
    assert_int_equal(auth_init(&p), 0);
    char real[AUTH_HASH_MAX], scratch[AUTH_HASH_MAX];
    assert_int_equal(auth_hash(&p, "the real password", 17, real), 0);

    enum { K = 5, ROUNDS = 5 };
    double ratio = 0;
    int round;
    for (round = 0; round < ROUNDS; round++) {
        double wrong = 1e9, dummy = 1e9, ref = 1e9;
        for (int i = 0; i < K; i++) {
            double t0 = now_s();
            assert_int_equal(auth_verify(real, "a wrong password", 16), -1);
            double t1 = now_s();
            assert_int_equal(auth_verify(NULL, "a wrong password", 16), -1);
            double t2 = now_s();
            assert_int_equal(auth_hash(&p, "a wrong password", 16, scratch), 0);
            double t3 = now_s();
            wrong = min2(wrong, t1 - t0);
            dummy = min2(dummy, t2 - t1);
            ref = min2(ref, t3 - t2);
        }
        ratio = dummy / wrong;
        print_message(
            "timing round %d: wrong %.2f ms, unknown user %.2f ms (%.2fx), hash %.2f ms\n", round,
            wrong * 1e3, dummy * 1e3, ratio, ref * 1e3);
        if (ratio >= 0.5 && ratio <= 2.0)
            break;
        bool late = ratio > 2.0 || wrong > 1.5 * ref;
        if (!late)
            fail_msg("an unknown user costs %.2fx a wrong password (%.2f vs %.2f ms)", ratio,
                     dummy * 1e3, wrong * 1e3);
    }
    if (round == ROUNDS)
        fail_msg("an unknown user costs %.2fx a wrong password, %d rounds", ratio, ROUNDS);
    assert_int_equal(auth_init(&quick), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params),         cmocka_unit_test(test_hash_verify),
        cmocka_unit_test(test_salted),         cmocka_unit_test(test_other_parameters),
        cmocka_unit_test(test_verify_refuses), cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_token_hash),     cmocka_unit_test(test_unknown_user_timing),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
