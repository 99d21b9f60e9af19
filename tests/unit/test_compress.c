/*
 * Unit tests for one-shot compression (src/http/compress.c): round trips through the reference
 * decoders (zlib's inflate, BrotliDecoderDecompress, ZSTD_decompress) of an empty input, one
 * byte, 100 KiB of HTML at every level of every coding, and 1 MiB of random bytes at the level
 * boundaries; the gzip header (RFC 1952, no name, zero mtime) and deterministic output; the zstd
 * frame's content size and its window within RFC 9659's 8 MiB at the ultra levels; levels out of
 * range and the identity refused; four threads at once.
 */
#include "http/compress.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <brotli/decode.h>
#define ZLIB_CONST
#include <zlib.h>
#include <zstd.h>

#include <cmocka.h>

#define KIB 1024
#define MIB (1024 * 1024)

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* len bytes of HTML-like text, made of tags and words drawn at random. */
static char *make_html(size_t len)
{
    static const char *const words[] = {"<div class=\"card\">",
                                        "</div>\n",
                                        "<p>",
                                        "</p>\n",
                                        "<a href=\"/page/",
                                        "\">",
                                        "</a>",
                                        "server",
                                        "file",
                                        "the",
                                        "connection timeout",
                                        "static ",
                                        "compression ",
                                        "loop",
                                        " ",
                                        " ",
                                        "request ",
                                        "42"};
    char *s = malloc(len + 1);
    assert_non_null(s);
    size_t n = 0;
    while (n < len) {
        const char *w = words[rng() % (sizeof(words) / sizeof(words[0]))];
        size_t wl = strlen(w);
        if (wl > len - n)
            wl = len - n;
        memcpy(s + n, w, wl);
        n += wl;
    }
    s[len] = '\0';
    return s;
}

static char *make_random(size_t len)
{
    char *s = malloc(len ? len : 1);
    assert_non_null(s);
    for (size_t i = 0; i < len; i++)
        s[i] = (char)(rng() >> 56);
    return s;
}

/* Decodes enc[0, enc_len) with coding c's reference decoder into a buffer of want_len + 1. */
static int decode(enum http_coding c, const char *enc, size_t enc_len, char *dec, size_t want_len,
                  size_t *dec_len)
{
    size_t cap = want_len + 1;
    switch (c) {
    case HTTP_CODING_GZIP: {
        z_stream zs = {0};
        if (inflateInit2(&zs, 15 + 16) != Z_OK)
            return -1;
        zs.next_in = (const Bytef *)enc;
        zs.avail_in = (uInt)enc_len;
        zs.next_out = (Bytef *)dec;
        zs.avail_out = (uInt)cap;
        int rc = inflate(&zs, Z_FINISH);
        *dec_len = (size_t)zs.total_out;
        bool all_read = zs.avail_in == 0;
        inflateEnd(&zs);
        return rc == Z_STREAM_END && all_read ? 0 : -1;
    }
    case HTTP_CODING_BR:
        *dec_len = cap;
        return BrotliDecoderDecompress(enc_len, (const uint8_t *)enc, dec_len, (uint8_t *)dec) ==
                       BROTLI_DECODER_RESULT_SUCCESS
                   ? 0
                   : -1;
    case HTTP_CODING_ZSTD: {
        /* The frame carries the content size (ZSTD_c_contentSizeFlag). */
        if (ZSTD_getFrameContentSize(enc, enc_len) != want_len)
            return -1;
        size_t r = ZSTD_decompress(dec, cap, enc, enc_len);
        if (ZSTD_isError(r))
            return -1;
        *dec_len = r;
        return 0;
    }
    default:
        return -1;
    }
}

/* Compresses in[0, len) with (c, level), checks the round trip, returns the compressed size. */
static size_t round_trip(enum http_coding c, int level, const char *in, size_t len)
{
    char *enc = NULL;
    size_t enc_len = 0;
    int rc = compress_buffer(c, level, in, len, &enc, &enc_len);
    if (rc != 0)
        fail_msg("coding %d level %d len %zu: %d", c, level, len, rc);
    assert_non_null(enc);
    char *dec = malloc(len + 1);
    assert_non_null(dec);
    size_t dec_len = 0;
    if (decode(c, enc, enc_len, dec, len, &dec_len) != 0)
        fail_msg("coding %d level %d len %zu: does not decode", c, level, len);
    assert_int_equal(dec_len, len);
    if (len > 0)
        assert_memory_equal(dec, in, len);
    free(dec);
    free(enc);
    return enc_len;
}

static const enum http_coding codings[] = {HTTP_CODING_GZIP, HTTP_CODING_BR, HTTP_CODING_ZSTD};

static const int mins[] = {COMPRESS_GZIP_MIN, COMPRESS_BR_MIN, COMPRESS_ZSTD_MIN};
static const int maxs[] = {COMPRESS_GZIP_MAX, COMPRESS_BR_MAX, COMPRESS_ZSTD_MAX};
static const int defaults[] = {COMPRESS_GZIP_DEFAULT, COMPRESS_BR_DEFAULT, COMPRESS_ZSTD_DEFAULT};

static void test_levels(void **state)
{
    (void)state;
    for (size_t k = 0; k < 3; k++) {
        enum http_coding c = codings[k];
        assert_true(mins[k] <= defaults[k] && defaults[k] <= maxs[k]);
        assert_int_equal(compress_level(c, COMPRESS_LEVEL_DEFAULT), defaults[k]);
        assert_int_equal(compress_level(c, mins[k]), mins[k]);
        assert_int_equal(compress_level(c, maxs[k]), maxs[k]);
        assert_int_equal(compress_level(c, maxs[k] + 1), -EINVAL);
        assert_int_equal(compress_level(c, -2), -EINVAL);
        assert_int_equal(compress_level(c, -100), -EINVAL);
        assert_int_equal(compress_level(c, 1000), -EINVAL);
    }
    /* 0 is the default where no level 0 exists, and brotli's quality 0. */
    assert_int_equal(compress_level(HTTP_CODING_GZIP, 0), COMPRESS_GZIP_DEFAULT);
    assert_int_equal(compress_level(HTTP_CODING_ZSTD, 0), COMPRESS_ZSTD_DEFAULT);
    assert_int_equal(compress_level(HTTP_CODING_BR, 0), 0);
    assert_int_equal(compress_level(HTTP_CODING_IDENTITY, -1), -EINVAL);
    assert_int_equal(compress_level(HTTP_CODING_COUNT, -1), -EINVAL);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    static const struct {
        enum http_coding c;
        int level;
    } bad[] = {
        {HTTP_CODING_GZIP, 10},  {HTTP_CODING_GZIP, -2},      {HTTP_CODING_BR, 12},
        {HTTP_CODING_BR, -2},    {HTTP_CODING_ZSTD, 23},      {HTTP_CODING_ZSTD, -2},
        {HTTP_CODING_ZSTD, -5},  {HTTP_CODING_IDENTITY, -1},  {HTTP_CODING_IDENTITY, 1},
        {HTTP_CODING_COUNT, -1}, {(enum http_coding) - 1, 1},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *out = (char *)&out;
        size_t out_len = 77;
        assert_int_equal(compress_buffer(bad[i].c, bad[i].level, "abc", 3, &out, &out_len),
                         -EINVAL);
        assert_ptr_equal(out, (char *)&out);
        assert_int_equal(out_len, 77);
    }
    char *out;
    size_t out_len;
    assert_int_equal(compress_buffer(HTTP_CODING_GZIP, -1, NULL, 1, &out, &out_len), -EINVAL);
    /* NULL with no bytes is an empty input. */
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(compress_buffer(codings[k], -1, NULL, 0, &out, &out_len), 0);
        assert_non_null(out);
        assert_true(out_len > 0);
        free(out);
    }
}

static void test_small(void **state)
{
    (void)state;
    for (size_t k = 0; k < 3; k++) {
        int levels[] = {mins[k], defaults[k], maxs[k], COMPRESS_LEVEL_DEFAULT, 0};
        for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
            round_trip(codings[k], levels[l], "", 0);
            round_trip(codings[k], levels[l], "x", 1);
            round_trip(codings[k], levels[l], "\0", 1);
            round_trip(codings[k], levels[l], "<!doctype html>\n", 16);
        }
    }
}

static void test_html_every_level(void **state)
{
    (void)state;
    size_t len = 100 * KIB;
    char *html = make_html(len);
    for (size_t k = 0; k < 3; k++) {
        size_t prev = SIZE_MAX;
        for (int level = mins[k]; level <= maxs[k]; level++) {
            size_t n = round_trip(codings[k], level, html, len);
            /* Text compresses well at any level; the top level beats the bottom one. */
            assert_true(n < len / 2);
            if (level == mins[k])
                prev = n;
            if (level == maxs[k])
                assert_true(n < prev);
        }
    }
    free(html);
}

static void test_random(void **state)
{
    (void)state;
    size_t len = MIB;
    char *bytes = make_random(len);
    for (size_t k = 0; k < 3; k++) {
        int levels[] = {mins[k], defaults[k], maxs[k]};
        for (size_t l = 0; l < 3; l++) {
            /* Incompressible: a little larger than the input, never much. */
            size_t n = round_trip(codings[k], levels[l], bytes, len);
            assert_true(n < len + len / 100 + 64);
        }
    }
    free(bytes);
}

static void test_gzip_format(void **state)
{
    (void)state;
    char *a, *b;
    size_t al, bl;
    const char *text = "hello, hello, hello, hello";
    assert_int_equal(compress_buffer(HTTP_CODING_GZIP, -1, text, strlen(text), &a, &al), 0);
    assert_int_equal(compress_buffer(HTTP_CODING_GZIP, -1, text, strlen(text), &b, &bl), 0);
    /* RFC 1952: ID1 ID2 CM=8 FLG=0 (no name, no extra), MTIME=0; then the same bytes each time. */
    assert_true(al >= 18);
    assert_int_equal((unsigned char)a[0], 0x1f);
    assert_int_equal((unsigned char)a[1], 0x8b);
    assert_int_equal(a[2], 8);
    assert_int_equal(a[3], 0);
    assert_memory_equal(a + 4, "\0\0\0\0", 4);
    /* The trailer: ISIZE, the input length modulo 2^32, little-endian. */
    assert_int_equal((unsigned char)a[al - 4], strlen(text));
    assert_int_equal(al, bl);
    assert_memory_equal(a, b, al);
    free(a);
    free(b);
}

/* The window a zstd frame asks its decoder for (RFC 8878 §3.1.1.1.2). */
static uint64_t zstd_window(const unsigned char *f, size_t len)
{
    assert_true(len >= 6);
    assert_int_equal(f[0] | f[1] << 8 | f[2] << 16 | (uint32_t)f[3] << 24, 0xFD2FB528u);
    unsigned fhd = f[4];
    if (fhd & 0x20) /* Single_Segment_flag: the window is the content size */
        return ZSTD_getFrameContentSize(f, len);
    unsigned wd = f[5];
    uint64_t base = (uint64_t)1 << (10 + (wd >> 3));
    return base + base / 8 * (wd & 7);
}

static void test_zstd_window(void **state)
{
    (void)state;
    /* 9 MiB of low-entropy text: the ultra levels would use a 32-128 MiB window on it. */
    size_t len = 9 * MIB;
    char *big = malloc(len);
    assert_non_null(big);
    char *chunk = make_html(64 * KIB);
    for (size_t i = 0; i < len; i += 64 * KIB)
        memcpy(big + i, chunk, 64 * KIB);
    free(chunk);
    int levels[] = {19, 22};
    for (size_t l = 0; l < 2; l++) {
        char *enc;
        size_t enc_len;
        assert_int_equal(compress_buffer(HTTP_CODING_ZSTD, levels[l], big, len, &enc, &enc_len), 0);
        uint64_t w = zstd_window((const unsigned char *)enc, enc_len);
        if (w > 8 * MIB)
            fail_msg("level %d: window %llu", levels[l], (unsigned long long)w);
        assert_int_equal(ZSTD_getFrameContentSize(enc, enc_len), len);
        char *dec = malloc(len);
        assert_non_null(dec);
        assert_int_equal(ZSTD_decompress(dec, len, enc, enc_len), len);
        assert_memory_equal(dec, big, len);
        free(dec);
        free(enc);
    }
    /* A small input gets a single segment: a window no larger than itself. */
    char *enc;
    size_t enc_len;
    assert_int_equal(compress_buffer(HTTP_CODING_ZSTD, 22, big, 1000, &enc, &enc_len), 0);
    assert_true(zstd_window((const unsigned char *)enc, enc_len) <= 1000);
    free(enc);
    free(big);
}

struct job {
    const char *in;
    size_t len;
    int failures;
};

static void *worker(void *arg)
{
    struct job *job = arg;
    for (int round = 0; round < 4; round++) {
        for (size_t k = 0; k < 3; k++) {
            char *enc;
            size_t enc_len, dec_len = 0;
            if (compress_buffer(codings[k], 5, job->in, job->len, &enc, &enc_len) != 0) {
                job->failures++;
                continue;
            }
            char *dec = malloc(job->len + 1);
            if (!dec || decode(codings[k], enc, enc_len, dec, job->len, &dec_len) != 0 ||
                dec_len != job->len || memcmp(dec, job->in, job->len) != 0)
                job->failures++;
            free(dec);
            free(enc);
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    enum { THREADS = 4 };
    pthread_t t[THREADS];
    struct job jobs[THREADS];
    char *inputs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        inputs[i] = make_html(50 * KIB + (size_t)i * 1000);
        jobs[i] = (struct job){inputs[i], 50 * KIB + (size_t)i * 1000, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(jobs[i].failures, 0);
        free(inputs[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),      cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_small),       cmocka_unit_test(test_html_every_level),
        cmocka_unit_test(test_random),      cmocka_unit_test(test_gzip_format),
        cmocka_unit_test(test_zstd_window), cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
