/*
 * The status handler. See status.h.
 */
#include "status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/units.h"

#define PREFIX "tinyweb_"
#define SUFFIX "_total"

/* Every status response: never cached, never sniffed as another type. */
#define NO_STORE "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
/* The page may run its own inline script and style and fetch from this server, nothing else. */
#define PAGE_HEADERS                                                                               \
    NO_STORE "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "           \
             "style-src 'unsafe-inline'; connect-src 'self'; img-src data:\r\n"

#define TYPE_JSON    "application/json"
#define TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define TYPE_HTML    "text/html; charset=utf-8"

struct status {
    const struct stats *stats;
    struct cidr_list allow;
    char *version;
    char *json_path, *page_path, *metrics_path;
    uint64_t start_ns;  /* CLOCK_MONOTONIC */
    double start_epoch; /* the wall clock at the same moment, for start_time_seconds */
};

/* A growing text buffer; once an allocation fails, failed stays set and nothing is added. */
struct text {
    char *p;
    size_t len, cap;
    bool failed;
};

static void grow(struct text *t, size_t more)
{
    if (t->failed || t->len + more + 1 <= t->cap)
        return;
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->len + more + 1)
        cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p) {
        t->failed = true;
        return;
    }
    t->p = p;
    t->cap = cap;
}

/* The series are written with put() and put_u64(), the few other lines with add(): printf
 * per value made a document cost ~280k instructions with one loop, this ~10x less. */
static void put(struct text *t, const char *s, size_t n)
{
    grow(t, n);
    if (t->failed)
        return;
    memcpy(t->p + t->len, s, n);
    t->len += n;
}

static void put_str(struct text *t, const char *s)
{
    put(t, s, strlen(s));
}

static void put_u64(struct text *t, uint64_t v)
{
    char digits[20];
    size_t n = units_u64_digits(digits, v);
    put(t, digits + n, sizeof(digits) - n);
}

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    grow(t, (size_t)n);
    if (t->failed)
        return;
    va_start(ap, fmt);
    vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

static char *finish(struct text *t, size_t *len)
{
    if (t->failed || !t->p) {
        free(t->p);
        return NULL;
    }
    t->p[t->len] = '\0'; /* grow() keeps a byte for it */
    *len = t->len;
    return t->p;
}

/* Every series read once: vals[i * (loops + 1)] is series i's total, then its per-loop values. */
static uint64_t *read_all(const struct stats *s)
{
    size_t n = stats_count(s), stride = (size_t)stats_loops(s) + 1;
    uint64_t *vals = calloc(n ? n * stride : 1, sizeof(*vals));
    if (!vals)
        return NULL;
    for (size_t i = 0; i < n; i++)
        vals[i * stride] = stats_read(s, i, vals + i * stride + 1);
    return vals;
}

/* The JSON key of a family: its name without the prefix and the _total suffix. */
static void json_key(const char *name, const char **p, int *len)
{
    size_t n = strlen(name), pre = strlen(PREFIX), suf = strlen(SUFFIX);
    if (n > pre && strncmp(name, PREFIX, pre) == 0) {
        name += pre;
        n -= pre;
    }
    if (n > suf && strcmp(name + n - suf, SUFFIX) == 0)
        n -= suf;
    *p = name;
    *len = (int)n;
}

/* The members of the series of one scope (per loop or process); col 0: totals, l + 1: loop l. */
static void json_series(struct text *t, const struct stats *s, const uint64_t *vals, bool per_loop,
                        size_t col)
{
    size_t n = stats_count(s), stride = (size_t)stats_loops(s) + 1;
    bool first = true;
    for (size_t i = 0; i < n;) {
        const struct stat_desc *d = stats_desc(s, i);
        /* The family: this series and the next ones of the same name. */
        size_t end = i + 1;
        while (end < n && strcmp(stats_desc(s, end)->name, d->name) == 0)
            end++;
        if (stats_per_loop(s, i) != per_loop) {
            i = end;
            continue;
        }
        const char *key;
        int klen;
        json_key(d->name, &key, &klen);
        put_str(t, first ? "\"" : ", \"");
        put(t, key, (size_t)klen);
        put_str(t, "\": ");
        first = false;
        if (!d->label) {
            put_u64(t, vals[i * stride + col]);
        } else {
            put_str(t, "{");
            for (size_t j = i; j < end; j++) {
                put_str(t, j > i ? ", \"" : "\"");
                put_str(t, stats_desc(s, j)->value);
                put_str(t, "\": ");
                put_u64(t, vals[j * stride + col]);
            }
            put_str(t, "}");
        }
        i = end;
    }
}

static double uptime(const struct status *st)
{
    return (double)(clock_now_ns() - st->start_ns) / 1e9;
}

static uint64_t generation(const struct status *st)
{
    long i = stats_find(st->stats, "tinyweb_config_generation", NULL);
    return i < 0 ? 1 : stats_read(st->stats, (size_t)i, NULL);
}

char *status_json(const struct status *st, size_t *len)
{
    const struct stats *s = st->stats;
    int loops = stats_loops(s);
    uint64_t *vals = read_all(s);
    if (!vals)
        return NULL;
    struct text t = {0};
    add(&t,
        "{\"version\": \"%s\", \"uptime_seconds\": %.3f, \"start_time_seconds\": %.3f, "
        "\"config_generation\": %llu, \"loop_count\": %d,\n\"totals\": {",
        st->version, uptime(st), st->start_epoch, (unsigned long long)generation(st), loops);
    json_series(&t, s, vals, true, 0);
    add(&t, "},\n\"loops\": [");
    for (int l = 0; l < loops; l++) {
        put_str(&t, l ? ",\n{\"loop\": " : "\n{\"loop\": ");
        put_u64(&t, (uint64_t)l);
        put_str(&t, ", ");
        json_series(&t, s, vals, true, (size_t)l + 1);
        put_str(&t, "}");
    }
    add(&t, "],\n\"process\": {");
    json_series(&t, s, vals, false, 0);
    add(&t, "}}\n");
    free(vals);
    return finish(&t, len);
}

/* "# HELP" and "# TYPE" of a family. */
static void prom_family(struct text *t, const char *name, const char *help, const char *type)
{
    put_str(t, "# HELP ");
    put_str(t, name);
    put_str(t, " ");
    put_str(t, help);
    put_str(t, "\n# TYPE ");
    put_str(t, name);
    put_str(t, " ");
    put_str(t, type);
    put_str(t, "\n");
}

char *status_prometheus(const struct status *st, size_t *len)
{
    const struct stats *s = st->stats;
    size_t n = stats_count(s), loops = (size_t)stats_loops(s), stride = loops + 1;
    uint64_t *vals = read_all(s);
    if (!vals)
        return NULL;
    struct text t = {0};
    prom_family(&t, "tinyweb_build_info", "The version of tinyweb that runs.", "gauge");
    add(&t, "tinyweb_build_info{version=\"%s\"} 1\n", st->version);
    prom_family(&t, "tinyweb_start_time_seconds", "When the server started, in Unix time.",
                "gauge");
    add(&t, "tinyweb_start_time_seconds %.3f\n", st->start_epoch);
    prom_family(&t, "tinyweb_uptime_seconds", "Time since the server started.", "gauge");
    add(&t, "tinyweb_uptime_seconds %.3f\n", uptime(st));
    prom_family(&t, "tinyweb_loops", "Event loops (threads) serving connections.", "gauge");
    add(&t, "tinyweb_loops %zu\n", loops);
    for (size_t i = 0; i < n;) {
        const struct stat_desc *d = stats_desc(s, i);
        size_t end = i + 1;
        while (end < n && strcmp(stats_desc(s, end)->name, d->name) == 0)
            end++;
        prom_family(&t, d->name, d->help, d->type == STAT_COUNTER ? "counter" : "gauge");
        bool per_loop = stats_per_loop(s, i);
        for (size_t l = 0; l < (per_loop ? loops : 1); l++) {
            for (size_t j = i; j < end; j++) {
                const struct stat_desc *dj = stats_desc(s, j);
                put_str(&t, dj->name);
                if (per_loop || dj->label)
                    put_str(&t, "{");
                if (per_loop) {
                    put_str(&t, "loop=\"");
                    put_u64(&t, l);
                    put_str(&t, dj->label ? "\"," : "\"");
                }
                if (dj->label) {
                    put_str(&t, dj->label);
                    put_str(&t, "=\"");
                    put_str(&t, dj->value);
                    put_str(&t, "\"");
                }
                put_str(&t, per_loop || dj->label ? "} " : " ");
                put_u64(&t, vals[j * stride + (per_loop ? l + 1 : 0)]);
                put_str(&t, "\n");
            }
        }
        i = end;
    }
    free(vals);
    return finish(&t, len);
}

/* Peers outside --status-allow get 403, with the reason in the error log. */
static bool admitted(struct http_exchange *x, const struct status *st)
{
    return cidr_list_match(&st->allow, http_exchange_peer(x));
}

static int reply(struct http_exchange *x, const char *type, const char *headers, char *body,
                 size_t len)
{
    if (!body)
        return http_reply_error(x, 500, "out of memory building the status response");
    struct http_reply r = {
        .status = 200, .content_type = type, .headers = headers, .body = body, .body_len = len};
    int rc = http_reply_send(x, &r);
    free(body);
    return rc;
}

#define FORBIDDEN "access forbidden by rule (--status-allow)"

static int handle_json(struct http_exchange *x, const struct http_request *req, void *ctx)
{
    (void)req;
    const struct status *st = ctx;
    if (!admitted(x, st))
        return http_reply_error(x, 403, FORBIDDEN);
    size_t len = 0;
    char *body = status_json(st, &len);
    return reply(x, TYPE_JSON, NO_STORE, body, len);
}

static int handle_metrics(struct http_exchange *x, const struct http_request *req, void *ctx)
{
    (void)req;
    const struct status *st = ctx;
    if (!admitted(x, st))
        return http_reply_error(x, 403, FORBIDDEN);
    size_t len = 0;
    char *body = status_prometheus(st, &len);
    return reply(x, TYPE_METRICS, NO_STORE, body, len);
}

static int handle_page(struct http_exchange *x, const struct http_request *req, void *ctx)
{
    (void)req;
    const struct status *st = ctx;
    if (!admitted(x, st))
        return http_reply_error(x, 403, FORBIDDEN);
    struct http_reply r = {.status = 200,
                           .content_type = TYPE_HTML,
                           .headers = PAGE_HEADERS,
                           .body = status_page,
                           .body_len = status_page_len};
    return http_reply_send(x, &r);
}

static char *concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 1);
    if (p) {
        memcpy(p, a, la);
        memcpy(p + la, b, lb + 1);
    }
    return p;
}

struct status *status_new(const struct status_config *cfg, const struct stats *stats)
{
    size_t plen = cfg->path ? strlen(cfg->path) : 0;
    if (plen < 2 || cfg->path[0] != '/' || cfg->path[plen - 1] == '/' ||
        (cfg->metrics && cfg->metrics[0] != '/'))
        return NULL;
    struct status *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->stats = stats;
    st->allow = cfg->allow;
    st->version = strdup(cfg->version ? cfg->version : "");
    st->json_path = strdup(cfg->path);
    st->page_path = concat(cfg->path, "/");
    st->metrics_path = cfg->metrics ? strdup(cfg->metrics) : concat(cfg->path, "/metrics");
    if (!st->version || !st->json_path || !st->page_path || !st->metrics_path) {
        status_free(st);
        return NULL;
    }
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    st->start_ns = cfg->started_ns ? cfg->started_ns : clock_now_ns();
    st->start_epoch = cfg->started_epoch > 0 ? cfg->started_epoch
                                             : (double)wall.tv_sec + (double)wall.tv_nsec / 1e9;
    return st;
}

void status_free(struct status *st)
{
    if (!st)
        return;
    free(st->version);
    free(st->json_path);
    free(st->page_path);
    free(st->metrics_path);
    free(st);
}

int status_add_routes(struct status *st, struct http_routes *r)
{
    int rc = http_routes_add(r, st->json_path, false, HTTP_METHODS_READ, handle_json, st);
    if (rc == 0)
        rc = http_routes_add(r, st->page_path, false, HTTP_METHODS_READ, handle_page, st);
    if (rc == 0)
        rc = http_routes_add(r, st->metrics_path, false, HTTP_METHODS_READ, handle_metrics, st);
    return rc;
}
