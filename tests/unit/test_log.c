/*
 * Unit tests for the logs (src/log/log.c).
 *
 * Formatting is checked against exact strings, the UTC conversion against gmtime_r() over many
 * random instants, and field cutting by a property test over random hostile fields. Everything
 * that writes goes to files in a mkdtemp() directory that the group teardown removes, or to a
 * pipe. The concurrent tests check every line whole: a line encodes its thread and sequence
 * number, is rebuilt from them and compared byte for byte, so a torn or interleaved line fails;
 * and per thread, sequence numbers only grow in file order, across rotated files too.
 */
#include "log/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define NTHREADS   4
#define PER_THREAD 10000
#define BURST      100000
#define BIG_QUEUE  (4u << 20) /* holds all NTHREADS * PER_THREAD lines: nothing can drop */

/* 2026-11-24 06:47:50 UTC, the example. */
#define T_EXAMPLE ((time_t)1795502870)

static char tmpdir[] = "/tmp/tinyweb-log-XXXXXX";

/* ---- Helpers ---- */

static void path_of(char *buf, size_t cap, const char *name)
{
    int n = snprintf(buf, cap, "%s/%s", tmpdir, name);
    assert_true(n > 0 && (size_t)n < cap);
}

/* The whole file, NUL-terminated (malloc'd); *len excludes the NUL. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (cap - n < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void assert_file_equals(const char *path, const char *want, size_t want_len)
{
    size_t len;
    char *got = read_file(path, &len);
    assert_int_equal(len, want_len);
    assert_memory_equal(got, want, want_len);
    free(got);
}

static struct log *open_log(const char *path, bool async, size_t queue, enum log_level level)
{
    char err[256] = "";
    struct log_config cfg = {
        .path = path, .std_fd = -1, .level = level, .async = async, .queue_bytes = queue};
    struct log *l = log_open(&cfg, err, sizeof(err));
    if (!l)
        fail_msg("log_open(%s): %s", path, err);
    assert_true(log_enabled(l));
    return l;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* A tiny xorshift generator, so every run sees the same "random" cases. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static struct log_str str(const char *s)
{
    return (struct log_str){s, s ? strlen(s) : 0};
}

/* ---- Numbered lines: "t<thread> s<seq> <padding>\n", 11 to 71 bytes ---- */

static size_t make_line(char *buf, int t, int seq)
{
    int n = sprintf(buf, "t%d s%05d ", t, seq);
    int pad = seq % 61;
    memset(buf + n, 'a' + t, (size_t)pad);
    n += pad;
    buf[n++] = '\n';
    return (size_t)n;
}

/* Checks every line of buf whole and, per thread, in order. Returns how many there are. */
static size_t check_lines(const char *buf, size_t len, int last[NTHREADS])
{
    size_t count = 0;
    const char *p = buf, *end = buf + len;
    if (len > 0)
        assert_int_equal(end[-1], '\n');
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        int t = -1, seq = -1;
        if (sscanf(p, "t%d s%d", &t, &seq) != 2 || t < 0 || t >= NTHREADS || seq < 0)
            fail_msg("malformed line %zu: %.*s", count, (int)(nl - p), p);
        char want[128];
        size_t n = make_line(want, t, seq);
        if ((size_t)(nl + 1 - p) != n || memcmp(p, want, n) != 0)
            fail_msg("torn line %zu: %.*s", count, (int)(nl - p), p);
        if (seq <= last[t])
            fail_msg("thread %d: seq %d after %d", t, seq, last[t]);
        last[t] = seq;
        count++;
        p = nl + 1;
    }
    return count;
}

struct worker {
    pthread_t thread;
    struct log *l;
    int t;
    pthread_barrier_t *start;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char line[128];
    pthread_barrier_wait(w->start);
    for (int i = 0; i < PER_THREAD; i++)
        log_line(w->l, line, make_line(line, w->t, i));
    return NULL;
}

/* Starts NTHREADS writers on l and returns once they are all released at the same moment. */
static void start_workers(struct worker *w, pthread_barrier_t *start, struct log *l)
{
    assert_int_equal(pthread_barrier_init(start, NULL, NTHREADS + 1), 0);
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (struct worker){.l = l, .t = i, .start = start};
        assert_int_equal(pthread_create(&w[i].thread, NULL, worker_main, &w[i]), 0);
    }
    pthread_barrier_wait(start);
}

static void join_workers(struct worker *w, pthread_barrier_t *start)
{
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(w[i].thread, NULL), 0);
    pthread_barrier_destroy(start);
}

/* Reads a pipe to EOF on its own thread, so a writer blocked on it can finish. */
struct drain {
    pthread_t thread;
    int fd;
    char *buf;
    size_t len, cap;
};

static void *drain_main(void *arg)
{
    struct drain *d = arg;
    for (;;) {
        if (d->cap - d->len < 4096) {
            d->cap = d->cap ? d->cap * 2 : 1 << 16;
            d->buf = realloc(d->buf, d->cap);
            if (!d->buf)
                abort();
        }
        ssize_t n = read(d->fd, d->buf + d->len, d->cap - d->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        d->len += (size_t)n;
    }
    d->buf[d->len] = '\0';
    return NULL;
}

/* ---- Setup ---- */

static int group_setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    if (!d)
        return -1;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
        unlink(path);
    }
    closedir(d);
    return rmdir(tmpdir);
}

/* ---- Levels ---- */

static void test_level_names(void **state)
{
    (void)state;
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        enum log_level lv = LOG_LEVEL_DEBUG;
        assert_int_equal(log_level_parse(names[i], &lv), 0);
        assert_int_equal(lv, i);
        assert_string_equal(log_level_name(lv), names[i]);
    }
    enum log_level lv = LOG_LEVEL_WARN;
    assert_int_equal(log_level_parse("warning", &lv), -EINVAL);
    assert_int_equal(log_level_parse("", &lv), -EINVAL);
    assert_int_equal(lv, LOG_LEVEL_WARN);
}

/* ---- Access-line formatting ---- */

static void test_access_typical(void **state)
{
    (void)state;
    /* The request line as the parser leaves it: slices of one buffer, not NUL-terminated. */
    const char *req = "GET /index.html HTTP/1.1\r\n";
    struct log_access a = {
        .client = "127.0.0.1",
        .time = T_EXAMPLE,
        .method = {req, 3},
        .target = {req + 4, 11},
        .version = {req + 16, 8},
        .status = 200,
        .bytes = 612,
        .referer = str("http://ref/"),
        .user_agent = str("curl/7.88.1"),
    };
    char out[LOG_LINE_MAX];
    const char *want =
        "127.0.0.1 - - [24/Nov/2026:06:47:50 +0000] \"GET /index.html HTTP/1.1\" 200 "
        "612 \"http://ref/\" \"curl/7.88.1\"\n";
    size_t n = log_format_access(out, sizeof(out), &a);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);

    /* Absent fields are "-", a zero byte count stays 0 (as nginx prints it), IPv6 as given. */
    struct log_access b = {.client = "::1", .time = T_EXAMPLE, .status = 400};
    want = "::1 - - [24/Nov/2026:06:47:50 +0000] \"-\" 400 0 \"-\" \"-\"\n";
    n = log_format_access(out, sizeof(out), &b);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);

    /* An HTTP/0.9 request line has no version; a missing client is "-". */
    struct log_access c = {.time = 0,
                           .method = str("GET"),
                           .target = str("/"),
                           .status = 200,
                           .bytes = UINT64_MAX,
                           .referer = str(""),
                           .user_agent = str("x")};
    want = "- - - [01/Jan/1970:00:00:00 +0000] \"GET /\" 200 18446744073709551615 \"\" \"x\"\n";
    n = log_format_access(out, sizeof(out), &c);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
}

static void test_access_hostile(void **state)
{
    (void)state;
    struct log_access a = {
        .client = "10.0.0.7",
        .time = T_EXAMPLE,
        .method = str("GET"),
        .target = str("/x\"\\\n127.0.0.1 - - [fake] \"GET / HTTP/1.1\" 200 1\x01"),
        .version = str("HTTP/1.1"),
        .status = 400,
        .bytes = 0,
        .referer = str("\x7f\x80"),
        .user_agent = str("evil\"agent\r\n\xff"),
    };
    char out[LOG_LINE_MAX];
    const char *want = "10.0.0.7 - - [24/Nov/2026:06:47:50 +0000] \"GET "
                       "/x\\x22\\x5C\\x0A127.0.0.1 - - [fake] \\x22GET / HTTP/1.1\\x22 200 1\\x01 "
                       "HTTP/1.1\" 400 0 \"\\x7F\\x80\" \"evil\\x22agent\\x0D\\x0A\\xFF\"\n";
    size_t n = log_format_access(out, sizeof(out), &a);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    /* Still exactly one line, with exactly the six quotes of the format. */
    size_t nl = 0, quotes = 0;
    for (size_t i = 0; i < n; i++) {
        nl += out[i] == '\n';
        quotes += out[i] == '"';
    }
    assert_int_equal(nl, 1);
    assert_int_equal(quotes, 6);
}

/* Escapes s as the formatter must; returns the length. */
static size_t escape(char *out, const unsigned char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f)
            w += (size_t)sprintf(out + w, "\\x%02X", c);
        else
            out[w++] = (char)c;
    }
    return w;
}

/* The field is the whole input escaped, or an escaped proper prefix of it followed by "...". */
static void assert_field(const char *field, size_t flen, const unsigned char *in, size_t n)
{
    static char full[4 * 8192];
    size_t w = escape(full, in, n);
    if (flen == w && memcmp(field, full, w) == 0)
        return;
    assert_true(flen >= 3 && memcmp(field + flen - 3, "...", 3) == 0);
    assert_true(flen - 3 < w);
    assert_memory_equal(field, full, flen - 3);
    /* The cut never splits an escape: what precedes "..." ends at an escape boundary. */
    size_t w2 = 0, i = 0;
    for (; w2 < flen - 3; i++)
        w2 += (in[i] < 0x20 || in[i] == '"' || in[i] == '\\' || in[i] >= 0x7f) ? 4 : 1;
    assert_int_equal(w2, flen - 3);
}

/* Random long, hostile fields: every line stays whole, parseable and within LOG_LINE_MAX. */
static void test_access_long_fields(void **state)
{
    (void)state;
    static const unsigned char alphabet[] = "ab/.\"\\\n\r\x01\x7f\xff ";
    static unsigned char target[6000], referer[3000], agent[3000];
    char out[LOG_LINE_MAX];
    for (int iter = 0; iter < 3000; iter++) {
        size_t tn = rnd() % sizeof(target), rn = rnd() % sizeof(referer),
               an = rnd() % sizeof(agent);
        /* Half the cases sit near the cut, where off-by-ones live. */
        if (iter % 2) {
            tn = 2030 + rnd() % 40;
            rn = 1010 + rnd() % 30;
            an = 750 + rnd() % 30;
        }
        int mode = (int)(rnd() % 3); /* plain, all escapes, or mixed */
        unsigned char *bufs[] = {target, referer, agent};
        size_t lens[] = {tn, rn, an};
        for (int b = 0; b < 3; b++) {
            for (size_t i = 0; i < lens[b]; i++) {
                bufs[b][i] = mode == 0   ? 'a'
                             : mode == 1 ? '"'
                                         : alphabet[rnd() % (sizeof(alphabet) - 1)];
            }
        }
        struct log_access a = {
            .client = "192.0.2.1",
            .time = T_EXAMPLE,
            .method = str("GET"),
            .target = {(const char *)target, tn},
            .version = str("HTTP/1.1"),
            .status = 200,
            .bytes = 1,
            .referer = {(const char *)referer, rn},
            .user_agent = {(const char *)agent, an},
        };
        size_t n = log_format_access(out, sizeof(out), &a);
        assert_true(n > 0 && n <= LOG_LINE_MAX);
        assert_int_equal(out[n - 1], '\n');
        assert_null(memchr(out, '\n', n - 1));
        /* Split on the six quotes: escaping leaves no other quote in the line. */
        const char *q[6];
        size_t nq = 0;
        for (size_t i = 0; i < n; i++) {
            if (out[i] == '"') {
                assert_true(nq < 6);
                q[nq++] = out + i;
            }
        }
        assert_int_equal(nq, 6);
        assert_ptr_equal(out + n - 2, q[5]);
        const char *req = q[0] + 1;
        size_t reqlen = (size_t)(q[1] - req);
        assert_true(reqlen >= 4 + 9);
        assert_memory_equal(req, "GET ", 4);
        assert_memory_equal(req + reqlen - 9, " HTTP/1.1", 9);
        assert_field(req + 4, reqlen - 4 - 9, target, tn);
        assert_memory_equal(q[1], "\" 200 1 \"", 9);
        assert_field(q[2] + 1, (size_t)(q[3] - q[2] - 1), referer, rn);
        assert_field(q[4] + 1, (size_t)(q[5] - q[4] - 1), agent, an);
    }
}

/* A buffer smaller than a line cuts it and says so; one too small for that writes nothing. */
static void test_access_small_buffer(void **state)
{
    (void)state;
    struct log_access a = {.client = "127.0.0.1",
                           .time = T_EXAMPLE,
                           .method = str("GET"),
                           .target = str("/"),
                           .version = str("HTTP/1.1"),
                           .status = 200};
    char out[64];
    size_t n = log_format_access(out, 40, &a);
    assert_int_equal(n, 40);
    assert_memory_equal(out, "127.0.0.1 - - [24/Nov/2026:06:47:50 +00", 40 - strlen(LOG_TRUNCATED));
    assert_memory_equal(out + n - strlen(LOG_TRUNCATED), LOG_TRUNCATED, strlen(LOG_TRUNCATED));
    assert_int_equal(log_format_access(out, sizeof(LOG_TRUNCATED) - 1, &a), 0);
    assert_int_equal(log_format_access(out, sizeof(LOG_TRUNCATED), &a), sizeof(LOG_TRUNCATED));
}

/*
 * Access-line times are local, with the zone's offset, and agree with localtime_r() and
 * strftime("%z") from 1900 to 2200, in zones with and without daylight saving. The zones are
 * POSIX TZ strings, which need no tzdata.
 */
static void test_access_time_vs_localtime(void **state)
{
    (void)state;
    static const char *const zones[] = {"UTC0", "XST-05:30", "CET-1CEST,M3.5.0,M10.5.0/3",
                                        "PST8PDT,M3.2.0,M11.1.0", "NST3:30NDT,M3.2.0,M11.1.0"};
    const time_t lo = -2208988800, span = 9467280000; /* 1900-01-01, 300 years */
    time_t fixed[] = {0,
                      -1,
                      951782400 /* 2000-03-01 */,
                      951868799,
                      1709251199 /* 2024-02-29 */,
                      1711846800 /* 2024-03-31 01:00 UTC: CET becomes CEST */,
                      1711846799,
                      4107542399 /* 2100-02-28 23:59:59 */,
                      T_EXAMPLE,
                      lo};
    char out[LOG_LINE_MAX], want[64];
    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        setenv("TZ", zones[z], 1);
        tzset();
        /* The formatter keeps one second per thread, and a server's zone never changes while it
         * runs: a time none of the checks uses makes it convert afresh in the new zone. */
        struct log_access flush = {.time = -987654321 - (time_t)z, .status = 200};
        log_format_access(out, sizeof(out), &flush);
        for (size_t i = 0; i < 40000; i++) {
            time_t t =
                i < sizeof(fixed) / sizeof(fixed[0]) ? fixed[i] : lo + (time_t)(rnd() % span);
            struct tm tm;
            assert_non_null(localtime_r(&t, &tm));
            size_t wn = strftime(want, sizeof(want), "[%d/%b/%Y:%H:%M:%S %z]", &tm);
            struct log_access a = {.time = t, .status = 200};
            size_t n = log_format_access(out, sizeof(out), &a);
            assert_true(n > 6 + wn);
            if (memcmp(out + 6, want, wn) != 0)
                fail_msg("TZ %s, time %lld: got %.*s, want %s", zones[z], (long long)t, (int)wn,
                         out + 6, want);
        }
    }
    setenv("TZ", "UTC0", 1);
    tzset();
    struct log_access flush = {.time = -987654320, .status = 200};
    log_format_access(out, sizeof(out), &flush);
}

/* ---- The error log ---- */

static void test_error_lines(void **state)
{
    (void)state;
    char path[512];
    path_of(path, sizeof(path), "error.log");
    struct log *l = open_log(path, false, 0, LOG_LEVEL_INFO);
    assert_true(log_wants(l, LOG_LEVEL_ERROR));
    assert_true(log_wants(l, LOG_LEVEL_INFO));
    assert_false(log_wants(l, LOG_LEVEL_DEBUG));

    time_t before = time(NULL);
    log_msg(l, LOG_LEVEL_DEBUG, "hidden %d", 1);
    log_msg(l, LOG_LEVEL_INFO, "listening on %s:%d", "127.0.0.1", 9006);
    log_msg(l, LOG_LEVEL_ERROR, "bad header \"%s\"\n",
            "x\r\n2026/11/24 00:00:00 [error] forged\ttab");
    errno = EBADF;
    log_msg(l, LOG_LEVEL_WARN, "close: %m");
    assert_int_equal(errno, EBADF); /* logging leaves errno alone */
    static char big[5000];
    memset(big, 'm', sizeof(big) - 1);
    log_msg(l, LOG_LEVEL_ERROR, "%s", big);
    time_t after = time(NULL);
    log_close(l);

    const char *rest[] = {
        " [info] listening on 127.0.0.1:9006\n",
        " [error] bad header \"x\\x0D\\x0A2026/11/24 00:00:00 [error] forged\\x09tab\"\n",
        " [warn] close: Bad file descriptor\n",
        " [error] mmmm",
    };
    size_t len;
    char *buf = read_file(path, &len);
    const char *p = buf;
    for (size_t i = 0; i < 4; i++) {
        /* The time is one of the seconds the calls ran in, formatted "2026/11/24 06:47:50". */
        bool time_ok = false;
        for (time_t t = before; t <= after && !time_ok; t++) {
            struct tm tm;
            char want[32];
            gmtime_r(&t, &tm);
            strftime(want, sizeof(want), "%Y/%m/%d %H:%M:%S", &tm);
            time_ok = strncmp(p, want, 19) == 0;
        }
        if (!time_ok)
            fail_msg("line %zu: bad time in %.40s", i, p);
        assert_memory_equal(p + 19, rest[i], strlen(rest[i]));
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        if (i == 3) {
            /* Cut at LOG_LINE_MAX, and marked. */
            assert_int_equal(nl + 1 - p, LOG_LINE_MAX);
            size_t tl = strlen(LOG_TRUNCATED);
            assert_memory_equal(nl + 1 - tl, LOG_TRUNCATED, tl);
        }
        p = nl + 1;
    }
    assert_int_equal(p, buf + len);
    free(buf);
}

/* ---- Sync writing ---- */

static void test_sync_lines(void **state)
{
    (void)state;
    char path[512];
    path_of(path, sizeof(path), "sync.log");
    struct log *l = open_log(path, false, 0, LOG_LEVEL_ERROR);
    static char exact[LOG_LINE_MAX], over[LOG_LINE_MAX], want[4 * LOG_LINE_MAX];
    memset(exact, 'e', sizeof(exact) - 1);
    exact[LOG_LINE_MAX - 1] = '\n';  /* LOG_LINE_MAX with its '\n': kept whole */
    memset(over, 'o', sizeof(over)); /* LOG_LINE_MAX without one: no room for it, cut */

    log_line(l, "one\n", 4);
    log_line(l, "two", 3);
    log_line(l, "", 0);
    log_line(l, exact, sizeof(exact));
    log_line(l, over, sizeof(over));
    char line[LOG_LINE_MAX];
    struct log_access a = {.client = "127.0.0.1", .time = T_EXAMPLE, .status = 204};
    log_access(l, &a);
    assert_int_equal(log_dropped(l), 0);
    log_close(l);

    size_t w = 0, tl = strlen(LOG_TRUNCATED);
    memcpy(want + w, "one\ntwo\n", 8);
    w += 8;
    memcpy(want + w, exact, sizeof(exact));
    w += sizeof(exact);
    memcpy(want + w, over, LOG_LINE_MAX - tl);
    w += LOG_LINE_MAX - tl;
    memcpy(want + w, LOG_TRUNCATED, tl);
    w += tl;
    size_t n = log_format_access(line, sizeof(line), &a);
    memcpy(want + w, line, n);
    w += n;
    assert_file_equals(path, want, w);
}

/* Creates with mode 0644 (less the umask), close-on-exec, and appends to what is there. */
static void test_open_appends(void **state)
{
    (void)state;
    char path[512];
    path_of(path, sizeof(path), "append.log");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("old\n", f);
    fclose(f);
    chmod(path, 0600);
    struct log *l = open_log(path, false, 0, LOG_LEVEL_ERROR);
    log_line(l, "new\n", 4);
    log_close(l);
    assert_file_equals(path, "old\nnew\n", 8);

    path_of(path, sizeof(path), "created.log");
    mode_t old = umask(022);
    l = open_log(path, true, 0, LOG_LEVEL_ERROR);
    umask(old);
    log_close(l);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
}

static void test_open_errors(void **state)
{
    (void)state;
    char path[512], err[256] = "";
    path_of(path, sizeof(path), "missing/dir.log");
    struct log_config cfg = {.path = path, .std_fd = -1};
    errno = 0;
    assert_null(log_open(&cfg, err, sizeof(err)));
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, path));

    cfg.async = true;
    errno = 0;
    assert_null(log_open(&cfg, err, sizeof(err)));
    assert_int_equal(errno, ENOENT);

    cfg.path = NULL;
    errno = 0;
    assert_null(log_open(&cfg, err, sizeof(err)));
    assert_int_equal(errno, EINVAL);

    cfg.path = "-"; /* with no fd behind it */
    errno = 0;
    assert_null(log_open(&cfg, err, sizeof(err)));
    assert_int_equal(errno, EINVAL);
}

/* "-" writes to the given standard fd, never closes it, and ignores reopen. */
static void test_std_stream(void **state)
{
    (void)state;
    for (int async = 0; async < 2; async++) {
        int pfd[2];
        assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
        char err[256];
        struct log_config cfg = {
            .path = "-", .std_fd = pfd[1], .level = LOG_LEVEL_ERROR, .async = async};
        struct log *l = log_open(&cfg, err, sizeof(err));
        assert_non_null(l);
        log_line(l, "hello", 5);
        assert_int_equal(log_reopen(l), 0);
        log_line(l, "world\n", 6);
        log_close(l);
        assert_int_not_equal(fcntl(pfd[1], F_GETFD), -1);
        close(pfd[1]);
        char buf[64];
        ssize_t n = read(pfd[0], buf, sizeof(buf));
        assert_int_equal(n, 12);
        assert_memory_equal(buf, "hello\nworld\n", 12);
        close(pfd[0]);
    }
}

/* ---- Concurrency ---- */

/* NTHREADS threads log PER_THREAD lines each; whatever is not counted dropped is there, whole. */
static void concurrent(const char *name, bool async, size_t queue, bool no_drops)
{
    char path[512];
    path_of(path, sizeof(path), name);
    struct log *l = open_log(path, async, queue, LOG_LEVEL_ERROR);
    struct worker w[NTHREADS];
    pthread_barrier_t start;
    start_workers(w, &start, l);
    join_workers(w, &start);
    uint64_t dropped = log_dropped(l);
    log_close(l);

    size_t len;
    char *buf = read_file(path, &len);
    int last[NTHREADS] = {-1, -1, -1, -1};
    size_t count = check_lines(buf, len, last);
    free(buf);
    assert_int_equal(count + dropped, NTHREADS * PER_THREAD);
    if (no_drops) {
        assert_int_equal(dropped, 0);
        for (int t = 0; t < NTHREADS; t++)
            assert_int_equal(last[t], PER_THREAD - 1);
    }
}

static void test_sync_threads(void **state)
{
    (void)state;
    concurrent("sync-threads.log", false, 0, true);
}

static void test_async_threads(void **state)
{
    (void)state;
    concurrent("async-threads.log", true, BIG_QUEUE, true);
}

/* A queue much smaller than the burst: lines may drop, but each is counted or written whole. */
static void test_async_threads_small_queue(void **state)
{
    (void)state;
    concurrent("async-small.log", true, 8192, false);
}

/*
 * The writer is stuck on a pipe nobody reads, and the ring holds a few lines: the burst must
 * neither block nor lose track. Every line is then either counted dropped or delivered whole.
 */
static void test_async_drops_never_block(void **state)
{
    (void)state;
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    char err[256];
    struct log_config cfg = {.path = "-",
                             .std_fd = pfd[1],
                             .level = LOG_LEVEL_ERROR,
                             .async = true,
                             .queue_bytes = 1024};
    struct log *l = log_open(&cfg, err, sizeof(err));
    assert_non_null(l);
    char line[128];
    double t0 = now_s();
    for (int i = 0; i < BURST; i++)
        log_line(l, line, make_line(line, 0, i));
    double elapsed = now_s() - t0;
    uint64_t dropped = log_dropped(l);
    /* A pipe holds 64 KiB, the ring 1 KiB: most of the ~4 MB burst cannot have gone anywhere. */
    assert_true(dropped > BURST / 2);
    if (elapsed >= 2.0)
        fail_msg("%d enqueues took %.3f s: the callers blocked", BURST, elapsed);

    struct drain d = {.fd = pfd[0]};
    assert_int_equal(pthread_create(&d.thread, NULL, drain_main, &d), 0);
    log_close(l); /* flushes the ring once the drain makes room */
    close(pfd[1]);
    assert_int_equal(pthread_join(d.thread, NULL), 0);
    close(pfd[0]);
    int last[NTHREADS] = {-1, -1, -1, -1};
    size_t count = check_lines(d.buf, d.len, last);
    free(d.buf);
    assert_true(count > 0);
    assert_int_equal(count + dropped, BURST);
}

/* ---- Reopen ---- */

static void reopen_case(bool async)
{
    char path[512], rotated[600];
    path_of(path, sizeof(path), async ? "reopen-async.log" : "reopen-sync.log");
    snprintf(rotated, sizeof(rotated), "%s.1", path);
    struct log *l = open_log(path, async, BIG_QUEUE, LOG_LEVEL_ERROR);
    static char want_old[100 * 128], want_new[100 * 128];
    size_t wo = 0, wn = 0;
    char line[128];
    for (int i = 0; i < 100; i++) {
        size_t n = make_line(line, 0, i);
        log_line(l, line, n);
        memcpy(want_old + wo, line, n);
        wo += n;
    }
    /* logrotate's order: move the file away, then signal. Until the reopen, lines still go to
     * the moved file (async: lines queued before it are written there too). */
    assert_int_equal(rename(path, rotated), 0);
    size_t n = make_line(line, 0, 100);
    log_line(l, line, n);
    memcpy(want_old + wo, line, n);
    wo += n;
    assert_int_equal(log_reopen(l), 0);
    for (int i = 0; i < 100; i++) {
        n = make_line(line, 1, i);
        log_line(l, line, n);
        memcpy(want_new + wn, line, n);
        wn += n;
    }
    assert_int_equal(log_dropped(l), 0);
    log_close(l);
    assert_file_equals(rotated, want_old, wo);
    assert_file_equals(path, want_new, wn);
}

static void test_reopen_sync(void **state)
{
    (void)state;
    reopen_case(false);
}

static void test_reopen_async(void **state)
{
    (void)state;
    reopen_case(true);
}

/* Rotations while NTHREADS threads log: no line lost, torn, or out of order across the files. */
static void reopen_under_load(bool async)
{
    enum { ROTATIONS = 6 };
    char path[512], rotated[ROTATIONS][600];
    path_of(path, sizeof(path), async ? "load-async.log" : "load-sync.log");
    struct log *l = open_log(path, async, BIG_QUEUE, LOG_LEVEL_ERROR);
    struct worker w[NTHREADS];
    pthread_barrier_t start;
    start_workers(w, &start, l);
    for (int r = 0; r < ROTATIONS; r++) {
        sleep_ms(2);
        snprintf(rotated[r], sizeof(rotated[r]), "%s.%d", path, r);
        assert_int_equal(rename(path, rotated[r]), 0);
        assert_int_equal(log_reopen(l), 0);
    }
    join_workers(w, &start);
    uint64_t dropped = log_dropped(l);
    log_close(l);
    assert_int_equal(dropped, 0);

    int last[NTHREADS] = {-1, -1, -1, -1};
    size_t count = 0, len;
    for (int r = 0; r <= ROTATIONS; r++) {
        char *buf = read_file(r < ROTATIONS ? rotated[r] : path, &len);
        count += check_lines(buf, len, last);
        free(buf);
    }
    assert_int_equal(count, NTHREADS * PER_THREAD);
    for (int t = 0; t < NTHREADS; t++)
        assert_int_equal(last[t], PER_THREAD - 1);
}

static void test_reopen_under_load_sync(void **state)
{
    (void)state;
    reopen_under_load(false);
}

static void test_reopen_under_load_async(void **state)
{
    (void)state;
    reopen_under_load(true);
}

/* A failed reopen keeps the old file. */
static void test_reopen_failure(void **state)
{
    (void)state;
    char sub[512], path[600];
    path_of(sub, sizeof(sub), "gone");
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(path, sizeof(path), "%s/x.log", sub);
    for (int async = 0; async < 2; async++) {
        struct log *l = open_log(path, async, 0, LOG_LEVEL_ERROR);
        log_line(l, "a\n", 2);
        char moved[600];
        path_of(moved, sizeof(moved), "gone.log");
        assert_int_equal(rename(path, moved), 0);
        assert_int_equal(rmdir(sub), 0);
        assert_int_equal(log_reopen(l), -ENOENT);
        log_line(l, "b\n", 2);
        log_close(l);
        assert_file_equals(moved, "a\nb\n", 4);
        assert_int_equal(unlink(moved), 0);
        assert_int_equal(mkdir(sub, 0755), 0);
    }
    rmdir(sub);
}

/* ---- Off ---- */

static void test_off(void **state)
{
    (void)state;
    struct log *l = NULL;
    assert_false(log_enabled(l));
    assert_false(log_wants(l, LOG_LEVEL_ERROR));
    log_line(l, "x\n", 2);
    log_msg(l, LOG_LEVEL_ERROR, "x %d", 1);
    struct log_access a = {.status = 200};
    log_access(l, &a);
    assert_int_equal(log_reopen(l), 0);
    assert_int_equal(log_dropped(l), 0);
    log_close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_names),
        cmocka_unit_test(test_access_typical),
        cmocka_unit_test(test_access_hostile),
        cmocka_unit_test(test_access_long_fields),
        cmocka_unit_test(test_access_small_buffer),
        cmocka_unit_test(test_access_time_vs_localtime),
        cmocka_unit_test(test_error_lines),
        cmocka_unit_test(test_sync_lines),
        cmocka_unit_test(test_open_appends),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_std_stream),
        cmocka_unit_test(test_sync_threads),
        cmocka_unit_test(test_async_threads),
        cmocka_unit_test(test_async_threads_small_queue),
        cmocka_unit_test(test_async_drops_never_block),
        cmocka_unit_test(test_reopen_sync),
        cmocka_unit_test(test_reopen_async),
        cmocka_unit_test(test_reopen_under_load_sync),
        cmocka_unit_test(test_reopen_under_load_async),
        cmocka_unit_test(test_reopen_failure),
        cmocka_unit_test(test_off),
    };
    /* The expected lines are written in UTC, whatever zone the machine is set to. */
    setenv("TZ", "UTC0", 1);
    tzset();
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
