/*
 * Compression levels for static-file variants (src/http/compress.c): for each coding and level,
 * the compressed size as a percentage of the input and the CPU time per 100 KiB of input, over a
 * generated 100 KiB HTML page and the files named on the command line (the bundled site's text
 * files, a library's JavaScript...). Prints a Markdown table.
 *
 * Usage: bench_compress [--quick] [FILE...]
 * Time is the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so other work on a shared
 * machine inflates it less than wall time would; each case repeats until it has used 0.2 s of CPU
 * (0.05 s with --quick), and at least once. A summary of one run is in src/http/compress.h.
 */
#include "http/compress.h"

#include <brotli/encode.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_INPUTS 16
#define KIB        1024

struct input {
    const char *name;
    char *data;
    size_t len;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A word from a vocabulary of about 2,000, the common ones far more often (roughly Zipf). */
static void append_word(char *s, size_t *n, size_t cap)
{
    static const char *const syl[] = {"ba",  "con", "de", "en", "fi", "ga",  "hel",  "in",  "ka",
                                      "lo",  "ma",  "ne", "or", "pe", "qui", "re",   "sta", "ti",
                                      "un",  "ver", "wa", "xe", "yo", "ze",  "th",   "er",  "an",
                                      "ing", "ion", "al", "es", "ed", "ly",  "ment", "ous"};
    size_t nsyl = sizeof(syl) / sizeof(syl[0]);
    /* The minimum of two draws skews toward the small (frequent) words. */
    uint64_t a = rng() % 2048, b = rng() % 2048;
    uint64_t w = a < b ? a : b;
    size_t parts = 1 + w % 3;
    for (size_t i = 0; i < parts && *n + 6 < cap; i++) {
        const char *p = syl[(w / (i + 1) + i * 7) % nsyl];
        size_t l = strlen(p);
        memcpy(s + *n, p, l);
        *n += l;
    }
}

static void append(char *s, size_t *n, size_t cap, const char *text)
{
    size_t l = strlen(text);
    if (*n >= cap)
        return;
    if (l > cap - *n)
        l = cap - *n;
    memcpy(s + *n, text, l);
    *n += l;
}

/* About len bytes of a page: a head, then articles of headings, paragraphs, lists and links. */
static struct input make_html(size_t len)
{
    char *s = malloc(len + 64);
    if (!s) {
        perror("bench_compress");
        exit(1);
    }
    size_t n = 0, cap = len;
    append(s, &n, cap,
           "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
           "<title>Generated page</title>\n<link rel=\"stylesheet\" href=\"/style.css\">\n"
           "</head>\n<body>\n<main class=\"content\">\n");
    int id = 0;
    while (n + 200 < cap) {
        char buf[160];
        snprintf(buf, sizeof(buf), "<article id=\"post-%d\" class=\"post\">\n  <h2>", id++);
        append(s, &n, cap, buf);
        for (int w = 0; w < 4; w++) {
            append_word(s, &n, cap);
            append(s, &n, cap, " ");
        }
        append(s, &n, cap, "</h2>\n");
        int paras = 1 + (int)(rng() % 3);
        for (int p = 0; p < paras && n + 200 < cap; p++) {
            append(s, &n, cap, "  <p>");
            int words = 20 + (int)(rng() % 40);
            for (int w = 0; w < words && n + 200 < cap; w++) {
                if (rng() % 17 == 0) {
                    snprintf(buf, sizeof(buf), "<a href=\"/posts/%d.html\">", (int)(rng() % 500));
                    append(s, &n, cap, buf);
                    append_word(s, &n, cap);
                    append(s, &n, cap, "</a>");
                } else {
                    append_word(s, &n, cap);
                }
                append(s, &n, cap, rng() % 11 == 0 ? ", " : " ");
            }
            append(s, &n, cap, "</p>\n");
        }
        if (rng() % 3 == 0) {
            append(s, &n, cap, "  <ul class=\"tags\">\n");
            for (int i = 0; i < 3; i++) {
                append(s, &n, cap, "    <li class=\"tag\">");
                append_word(s, &n, cap);
                append(s, &n, cap, "</li>\n");
            }
            append(s, &n, cap, "  </ul>\n");
        }
        append(s, &n, cap, "</article>\n");
    }
    append(s, &n, len + 64, "</main>\n</body>\n</html>\n");
    return (struct input){"generated.html", s, n};
}

static int read_file(const char *path, struct input *in)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *p = realloc(buf, cap *= 2);
            if (!p) {
                free(buf);
                buf = NULL;
            }
            buf = p;
        }
    }
    fclose(f);
    if (!buf)
        return -ENOMEM;
    const char *slash = strrchr(path, '/');
    *in = (struct input){slash ? slash + 1 : path, buf, n};
    return 0;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Compresses in with (c, level) until min_cpu seconds have passed: *out_len, CPU s per call. */
static double measure(enum http_coding c, int level, const struct input *in, double min_cpu,
                      size_t *out_len)
{
    int reps = 0;
    double start = cpu_now(), elapsed;
    do {
        char *out;
        int rc = compress_buffer(c, level, in->data, in->len, &out, out_len);
        if (rc != 0) {
            fprintf(stderr, "bench_compress: %s: coding %d level %d: %s\n", in->name, c, level,
                    strerror(-rc));
            exit(1);
        }
        free(out);
        reps++;
        elapsed = cpu_now() - start;
    } while (elapsed < min_cpu);
    return elapsed / reps;
}

int main(int argc, char **argv)
{
    double min_cpu = 0.2;
    struct input inputs[MAX_INPUTS];
    size_t ninputs = 0;
    inputs[ninputs++] = make_html(100 * KIB);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            min_cpu = 0.05;
            continue;
        }
        if (ninputs == MAX_INPUTS) {
            fprintf(stderr, "bench_compress: at most %d inputs\n", MAX_INPUTS);
            return 2;
        }
        int rc = read_file(argv[i], &inputs[ninputs]);
        if (rc != 0) {
            fprintf(stderr, "bench_compress: %s: %s\n", argv[i], strerror(-rc));
            return 1;
        }
        ninputs++;
    }

    static const struct {
        enum http_coding c;
        int level;
    } cases[] = {
        {HTTP_CODING_GZIP, 1},  {HTTP_CODING_GZIP, 6},  {HTTP_CODING_GZIP, 9},
        {HTTP_CODING_BR, 1},    {HTTP_CODING_BR, 4},    {HTTP_CODING_BR, 6},
        {HTTP_CODING_BR, 9},    {HTTP_CODING_BR, 10},   {HTTP_CODING_BR, 11},
        {HTTP_CODING_ZSTD, 3},  {HTTP_CODING_ZSTD, 9},  {HTTP_CODING_ZSTD, 15},
        {HTTP_CODING_ZSTD, 19}, {HTTP_CODING_ZSTD, 22},
    };

    printf("Compressed size in %% of the input; CPU ms per 100 KiB of input over all inputs.\n\n");
    printf("| coding | level |");
    for (size_t i = 0; i < ninputs; i++)
        printf(" %s (%zu B) |", inputs[i].name, inputs[i].len);
    printf(" all, %% | ms / 100 KiB |\n|---|---|");
    for (size_t i = 0; i < ninputs; i++)
        printf("---|");
    printf("---|---|\n");
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        printf("| %s | %d |", http_coding_name(cases[k].c), cases[k].level);
        size_t in_total = 0, out_total = 0;
        double cpu_total = 0;
        for (size_t i = 0; i < ninputs; i++) {
            size_t out_len;
            double t = measure(cases[k].c, cases[k].level, &inputs[i], min_cpu, &out_len);
            printf(" %.1f |", 100.0 * (double)out_len / (double)inputs[i].len);
            in_total += inputs[i].len;
            out_total += out_len;
            cpu_total += t;
        }
        printf(" %.1f | %.2f |\n", 100.0 * (double)out_total / (double)in_total,
               cpu_total * 1000.0 * (100.0 * KIB) / (double)in_total);
        fflush(stdout);
    }

    /* Brotli's mode hint, which compress_buffer() sets from a sniff of the input. */
    printf("\nBrotli 11 on %s: ", inputs[0].name);
    const BrotliEncoderMode modes[] = {BROTLI_MODE_GENERIC, BROTLI_MODE_TEXT};
    const char *const mode_names[] = {"GENERIC", "TEXT"};
    for (int m = 0; m < 2; m++) {
        size_t cap = BrotliEncoderMaxCompressedSize(inputs[0].len), n = cap;
        uint8_t *out = malloc(cap);
        BrotliEncoderCompress(11, 17, modes[m], inputs[0].len, (const uint8_t *)inputs[0].data, &n,
                              out);
        printf("%s %zu B%s", mode_names[m], n, m == 0 ? ", " : "\n");
        free(out);
    }
    for (size_t i = 0; i < ninputs; i++)
        free(inputs[i].data);
    return 0;
}
