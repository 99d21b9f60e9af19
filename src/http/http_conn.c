/*
 * The per-connection HTTP state machine. See http_conn.h.
 */
#include "http_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/defs.h"
#include "http/http_cond.h"
#include "http/http_response.h"
#include "http/http_route.h"
#include "http/http_static.h"
#include "core/pool.h"
#include "http/autoindex.h"
#include "http/compress.h"
#include "net/tls.h"

/*
 * The access-log line of the response in flight, written when the response ends or the
 * connection closes, with the body bytes the client was actually sent (nginx's
 * $body_bytes_sent). The request's text stays where it is: the head is kept at the front of
 * conn.in until the response ends (reading is paused meanwhile), so only offsets are kept.
 */
struct resp_log {
    uint64_t sent;                     /* bytes the socket took of this response, head included */
    uint32_t head_bytes;               /* the response head's share of them */
    uint32_t referer_off, referer_len; /* the fields' values in conn.in; len 0: absent */
    uint32_t agent_off, agent_len;
    uint16_t status; /* 0: nothing to log */
};

/* What a step of the state machine left the connection in. */
enum step { STEP_NEXT, STEP_WAIT, STEP_CLOSED };

/* Reads of one connection per readiness event (16 KiB each) before the loop moves on. */
#define HTTP_READS_PER_TURN 16

struct http_conn {
    struct conn conn; /* first: the conn_set allocates struct http_conn */
    uint8_t phase;
    bool keep_alive;   /* keep the connection once this response is sent */
    bool http10;       /* the request was HTTP/1.0 */
    bool linger;       /* the client may still be sending: drain before closing */
    bool chunked;      /* the body being read is chunked */
    bool nodelay;      /* TCP_NODELAY is set */
    bool collect;      /* PHASE_BODY: the handler wants the body: it is kept after the head */
    uint32_t head_len; /* the request head, kept at the front of conn.in until answered */
    uint32_t body_len; /* the body kept after the head (HTTP_ROUTE_BODY), consumed with it */
    uint32_t scanned;  /* PHASE_HEAD: bytes of the head already found incomplete */
    union {
        struct {                /* PHASE_BODY */
            uint64_t body_left; /* Content-Length: bytes still to come */
            uint64_t body_seen; /* body bytes read so far */
            uint64_t body_max;  /* over it: 413 */
            struct http_chunked chunk;
        };
        struct resp_log resp; /* PHASE_SEND */
    };
    struct http_wait *wait; /* PHASE_APP: the suspended handler's; cleared when it ends */
};

static struct http_loop *loop_of(struct http_conn *hc)
{
    return container_of(hc->conn.set, struct http_loop, conns);
}

/* The loop's sockets and the fds its file cache holds open, with `extra` more, exceed its share
 * of the open-file limit: they would eat into the spare the process keeps (server.c). */
static bool fds_over(const struct http_loop *h, size_t extra)
{
    return h->conns.live + file_cache_fds(h->files) + extra > h->settings->max_fds;
}

/* The loop closes each connection after its response: draining, or the server is leaving. */
static bool closing(const struct http_loop *h)
{
    return h->draining || (h->leaving && atomic_load_explicit(h->leaving, memory_order_relaxed));
}

/* Every phase change goes through here, so the loop's per-phase gauges stay exact. */
static void set_phase(struct http_conn *hc, enum http_phase p)
{
    struct http_stats *st = &loop_of(hc)->stats;
    counter_add(&st->phases[hc->phase], (uint64_t)-1);
    counter_add(&st->phases[p], 1);
    hc->phase = (uint8_t)p;
}

static enum step process(struct http_conn *hc);

/* The Date header, formatted at most once per second of the wall clock (time(2), a vDSO call). */
static const char *date_now(struct http_loop *h)
{
    time_t now = time(NULL);
    if (now != h->date_sec) {
        h->date_sec = now;
        http_date_format(now, h->date);
    }
    return h->date;
}

static void peer_text(const struct conn *c, char *out, size_t len)
{
    const union conn_addr *a = &c->peer;
    const void *addr = a->sa.sa_family == AF_INET6 ? (const void *)&a->in6.sin6_addr
                                                   : (const void *)&a->in.sin_addr;
    if (!inet_ntop(a->sa.sa_family, addr, out, (socklen_t)len))
        snprintf(out, len, "-");
}

/* The request line as received, at the front of conn.in (after the empty lines a client may
 * send first): complete, or absent. Looked for only when a line is logged: the head stays at
 * the front of conn.in until its response ends. */
static struct log_str request_line(const struct http_conn *hc)
{
    const struct buf *in = &hc->conn.in;
    size_t n = buf_readable(in);
    if (n == 0)
        return (struct log_str){NULL, 0};
    const char *p = in->data + in->off, *q = p;
    while (q < p + n && (*q == '\r' || *q == '\n'))
        q++;
    const char *lf = memchr(q, '\n', n - (size_t)(q - p));
    if (!lf)
        return (struct log_str){NULL, 0};
    return (struct log_str){q, (size_t)(lf - q - (lf > q && lf[-1] == '\r'))};
}

/* Where a field of req (a slice of conn.in) starts, relative to the front of conn.in. */
static void field_at(const struct buf *in, struct http_str f, uint32_t *off, uint32_t *len)
{
    const char *p = in->data + in->off;
    if (f.len == 0 || f.p < p || f.p + f.len > p + buf_readable(in))
        return;
    *off = (uint32_t)(f.p - p);
    *len = (uint32_t)f.len;
}

/* A response of this status starts: counted now, logged when it ends (log_response). */
static void begin_response(struct http_conn *hc, const struct http_request *req, int status)
{
    struct http_loop *h = loop_of(hc);
    counter_add(&h->stats.responses[status / 100], 1);
    struct resp_log *r = &hc->resp;
    *r = (struct resp_log){.status = (uint16_t)status};
    if (req && log_enabled(h->settings->access_log)) {
        field_at(&hc->conn.in, req->referer, &r->referer_off, &r->referer_len);
        field_at(&hc->conn.in, req->user_agent, &r->agent_off, &r->agent_len);
    }
}

/* A slice of conn.in recorded in resp_log, or absent. */
static struct log_str in_slice(const struct http_conn *hc, uint32_t off, uint32_t len)
{
    const struct buf *in = &hc->conn.in;
    if (len == 0 || (size_t)off + len > buf_readable(in))
        return (struct log_str){NULL, 0};
    return (struct log_str){in->data + in->off + off, len};
}

/* The response ended (sent, or cut short by a close): its access-log line. */
static void log_response(struct http_conn *hc)
{
    struct resp_log *r = &hc->resp;
    if (r->status == 0)
        return;
    struct http_loop *h = loop_of(hc);
    struct log *l = h->settings->access_log;
    if (log_enabled(l)) {
        char client[INET6_ADDRSTRLEN];
        peer_text(&hc->conn, client, sizeof(client));
        date_now(h);
        struct log_access a = {
            .client = client,
            .time = h->date_sec,
            .status = r->status,
            .bytes = r->sent > r->head_bytes ? r->sent - r->head_bytes : 0,
            .request = request_line(hc),
            .referer = in_slice(hc, r->referer_off, r->referer_len),
            .user_agent = in_slice(hc, r->agent_off, r->agent_len),
        };
        log_access(l, &a);
    }
    r->status = 0;
}

/*
 * One error-log line for a response an operator must be able to explain (403, 404, 5xx): what
 * failed, for which client and request, as nginx writes it. The request line is the one being
 * answered (resp_log); log_msg() escapes its control bytes.
 */
static void log_failure(struct http_conn *hc, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void log_failure(struct http_conn *hc, enum log_level level, const char *fmt, ...)
{
    struct log *l = loop_of(hc)->settings->error_log;
    if (!log_wants(l, level))
        return;
    char what[1536], client[INET6_ADDRSTRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    peer_text(&hc->conn, client, sizeof(client));
    struct log_str line = request_line(hc);
    if (line.p)
        log_msg(l, level, "%s, client: %s, request: \"%.*s\"", what, client,
                (int)(line.len < 2048 ? line.len : 2048), line.p);
    else
        log_msg(l, level, "%s, client: %s", what, client);
}

/* Why a static file got a 403, 404 or 5xx, in the error log; 404s only with --log-not-found. */
static void explain_static(struct http_conn *hc, const struct http_static *res)
{
    const struct http_settings *s = loop_of(hc)->settings;
    int err = res->err;
    if (res->status == 404 && !s->log_not_found)
        return;
    if (res->status != 403 && res->status != 404 && res->status < 500)
        return;
    /* The file's path as the operator knows it: the root, then the decoded request path (a
     * long one is cut: the request line follows in full). */
    char file[1024];
    int n = snprintf(file, sizeof(file), "%s/%s%s", s->root_path ? s->root_path : ".",
                     res->path ? res->path : "", err == -FILE_CACHE_NO_INDEX ? "/" : "");
    if (n >= (int)sizeof(file))
        memcpy(file + sizeof(file) - 4, "...", 4);
    switch (err) {
    case 0:
        /* The server protecting itself under load, as designed: a warning. */
        log_failure(hc, LOG_LEVEL_WARN,
                    "no file descriptor left for \"%s\" (the loop's share of "
                    "the open-file limit is in use)",
                    file);
        break;
    case EPERM:
        log_failure(hc, LOG_LEVEL_ERROR, "path refused: \"..\" above the root or a NUL byte");
        break;
    case -FILE_CACHE_NO_INDEX:
        log_failure(hc, LOG_LEVEL_ERROR, "directory index of \"%s\" is forbidden", file);
        break;
    case -FILE_CACHE_NOT_REGULAR:
        log_failure(hc, LOG_LEVEL_ERROR, "\"%s\" is not a regular file", file);
        break;
    default:
        /* Out of fds or memory is the server shedding load (503): a warning, as above. */
        log_failure(hc, res->status == 503 ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR,
                    "open() \"%s\" failed (%d: %s)%s", file, err, strerror(err),
                    err == EXDEV   ? ": a symbolic link or \"..\" leads outside the root"
                    : err == ELOOP ? ": symbolic link refused"
                                   : "");
        break;
    }
}

/* The decoded path, then a redirect target: percent-encoding can triple the path. */
static size_t scratch_size(const struct http_limits *limits)
{
    return 8 * limits->max_uri_bytes + 64;
}

/* The fields every response head of hc carries. */
static struct http_head head_for(struct http_conn *hc, int status)
{
    return (struct http_head){
        .status = status,
        .keep_alive = hc->keep_alive,
        .http10 = hc->http10,
        .date = date_now(loop_of(hc)),
        .content_length = -1,
        .hsts = hc->conn.tls ? loop_of(hc)->settings->hsts : NULL,
    };
}

/* Queues a head, extra header lines (each ending in CRLF, or NULL) and an optional body in
 * conn.out (a pooled block when small: no allocation, and one write carries both); the
 * connection then enters PHASE_SEND. */
static int queue_reply(struct http_conn *hc, const struct http_head *head, const char *extra,
                       const char *body, size_t body_len)
{
    /* Every field but a redirect's Location is short and bounded (HTTP_HEAD_MAX). */
    size_t extra_len = extra ? strlen(extra) : 0;
    size_t room = HTTP_HEAD_MAX + (head->location ? strlen(head->location) : 0) + extra_len;
    char *p = conn_out_space(&hc->conn, room + body_len);
    if (!p)
        return -ENOMEM;
    size_t n = http_head_write(p, room - extra_len, head);
    if (n == 0)
        return -ENOSPC;
    if (extra_len) {
        /* Before the empty line that ends the head. */
        memcpy(p + n - 2, extra, extra_len);
        memcpy(p + n - 2 + extra_len, "\r\n", 2);
        n += extra_len;
    }
    if (body_len)
        memcpy(p + n, body, body_len);
    conn_commit(&hc->conn, n + body_len);
    hc->resp.head_bytes = (uint32_t)n;
    set_phase(hc, PHASE_SEND);
    return 0;
}

static int queue_head(struct http_conn *hc, const struct http_head *head, const char *body,
                      size_t body_len)
{
    return queue_reply(hc, head, NULL, body, body_len);
}

/* The --error-page file for status, if one is set and can be served: a reference to release,
 * or NULL (the built-in page then). */
static struct file_entry *custom_error_page(struct http_conn *hc, int status)
{
    const struct http_settings *s = loop_of(hc)->settings;
    for (int i = 0; i < s->nerror_pages; i++) {
        if (s->error_pages[i].status != status)
            continue;
        const char *p = s->error_pages[i].path;
        struct file_entry *e;
        struct http_loop *h = loop_of(hc);
        if (file_cache_open(h->files, p, strlen(p), false, loop_now(h->loop), &e) != 0)
            return NULL;
        return e;
    }
    return NULL;
}

/* Queues an error response of status with the --error-page file e as its body (a reference,
 * given to the response). */
static int queue_custom_error(struct http_conn *hc, struct http_head *head, const char *extra,
                              struct file_entry *e, bool head_only)
{
    head->content_type = e->content_type;
    head->content_length = (int64_t)e->size;
    int rc = queue_reply(hc, head, extra, NULL, 0);
    if (rc == 0 && !head_only && e->size > 0)
        conn_send_body(&hc->conn, e->data, e->fd, 0, e->size, e);
    else
        file_entry_release(e);
    return rc;
}

/* An error page, with extra header lines (or NULL). Errors found while parsing leave the
 * framing in doubt: those close. why, when not NULL, is the error-log line's cause (a 5xx has a
 * default one). */
static int respond_error_with(struct http_conn *hc, const struct http_request *req, int status,
                              bool head_only, const char *allow, const char *why, const char *extra)
{
    char page[512];
    size_t len = http_error_page(page, sizeof(page), status);
    struct http_head head = head_for(hc, status);
    head.content_type = "text/html; charset=utf-8";
    head.content_length = (int64_t)len;
    head.allow = allow;
    begin_response(hc, req, status);
    if (why)
        log_failure(hc, LOG_LEVEL_ERROR, "%s", why);
    else if (status == 501)
        log_failure(hc, LOG_LEVEL_INFO, "client sent an unknown method");
    else if (status == 505)
        log_failure(hc, LOG_LEVEL_INFO, "client sent an unsupported HTTP version");
    else if (status >= 500)
        log_failure(hc, LOG_LEVEL_ERROR, "%d: %s", status, http_reason(status));
    struct file_entry *custom =
        loop_of(hc)->settings->nerror_pages ? custom_error_page(hc, status) : NULL;
    if (custom)
        return queue_custom_error(hc, &head, extra, custom, head_only);
    return queue_reply(hc, &head, extra, page, head_only ? 0 : len);
}

static int respond_error(struct http_conn *hc, const struct http_request *req, int status,
                         bool head_only, const char *allow, const char *why)
{
    return respond_error_with(hc, req, status, head_only, allow, why, NULL);
}

/* The Cache-Control and Expires lines (--cache-control, --expires) for a file of content_type,
 * in buf, or NULL when no rule matches. */
static const char *cache_headers(struct http_loop *h, const char *content_type, char *buf,
                                 size_t len)
{
    const struct http_cache_rule *r =
        http_cache_rule_for(h->settings->cache_rules, h->settings->ncache_rules, content_type);
    if (!r)
        return NULL;
    int n = 0;
    if (r->cache_control)
        n = snprintf(buf, len, "Cache-Control: %s\r\n", r->cache_control);
    else if (r->expires)
        n = snprintf(buf, len, "Cache-Control: max-age=%llu\r\n", (unsigned long long)r->expires_s);
    if (r->expires && n >= 0 && (size_t)n < len) {
        /* From the second the response's Date shows (head_for read the clock just before). */
        char date[HTTP_DATE_LEN + 1];
        if (http_date_format(h->date_sec + (time_t)r->expires_s, date) == 0)
            n += snprintf(buf + n, len - (size_t)n, "Expires: %s\r\n", date);
    }
    return n > 0 && (size_t)n < len ? buf : NULL;
}

/* A file's compressed variants, made by the worker pool (compress_later). */
struct compress_job {
    struct pool_job job;
    struct http_loop *h;
    struct file_entry *e; /* a reference, given back by compress_done */
    unsigned mask;        /* the codings to make */
    char *out[HTTP_CODING_COUNT];
    size_t out_len[HTTP_CODING_COUNT];
};

/* brotli's best level costs about 1.3 s of a worker per MiB (docs/PERFORMANCE.md): files above
 * this size get level 9, about 10x faster for 2 % more bytes. */
#define COMPRESS_BR_BEST_MAX (256 * 1024)

/* On a worker: each missing coding of the file, whose bytes stay put while the job holds its
 * reference. */
static void compress_work(struct pool_job *pj)
{
    struct compress_job *j = container_of(pj, struct compress_job, job);
    size_t size = (size_t)j->e->size;
    for (int c = HTTP_CODING_GZIP; c < HTTP_CODING_COUNT; c++) {
        if (!(j->mask & HTTP_CODING_BIT(c)))
            continue;
        int level = c == HTTP_CODING_BR && size > COMPRESS_BR_BEST_MAX ? 9 : COMPRESS_LEVEL_DEFAULT;
        if (compress_buffer((enum http_coding)c, level, j->e->data, size, &j->out[c],
                            &j->out_len[c]) != 0)
            j->out[c] = NULL;
    }
}

/* On the loop: the variants join the entry (if it is still cached), the reference goes back. */
static void compress_done(struct pool_job *pj)
{
    struct compress_job *j = container_of(pj, struct compress_job, job);
    j->e->compressing = false;
    j->e->compress_tried |= j->mask;
    for (int c = HTTP_CODING_GZIP; c < HTTP_CODING_COUNT; c++) {
        if (!j->out[c])
            continue;
        if (pj->ran)
            file_cache_add_variant(j->h->files, j->e, (enum http_coding)c, j->out[c],
                                   j->out_len[c]);
        else
            free(j->out[c]);
    }
    file_entry_release(j->e);
    free(j);
}

/* Asks the worker pool for the compressed variants e lacks, once per file version: the request
 * that asked goes on with what is ready (never a wait). A full queue: the next request asks
 * again. */
static void compress_later(struct http_loop *h, struct file_entry *e)
{
    unsigned missing = 0;
    for (int c = HTTP_CODING_GZIP; c < HTTP_CODING_COUNT; c++)
        if (e->compress_mask & ~e->compress_tried & HTTP_CODING_BIT(c) && !e->variants[c])
            missing |= HTTP_CODING_BIT(c);
    if (!missing || !e->cached)
        return;
    struct compress_job *j = calloc(1, sizeof(*j));
    if (!j)
        return;
    j->job.work = compress_work;
    j->job.done = compress_done;
    j->h = h;
    j->e = e;
    j->mask = missing;
    e->refs++;
    if (pool_submit(h->pool, h->port, &j->job) != 0) {
        e->refs--;
        free(j);
        return;
    }
    e->compressing = true;
}

/*
 * --autoindex: the listing of the directory res names (it has no index). 0 with the response
 * queued, or -errno when it cannot be listed (the caller answers as without --autoindex). On the
 * loop, as nginx's autoindex: one readdir pass and an fstatat per entry.
 */
static int respond_listing(struct http_conn *hc, const struct http_request *req,
                           const struct http_static *res)
{
    struct http_loop *h = loop_of(hc);
    const char *path = res->path;
    int fd = file_cache_open_path(h->files, path);
    if (fd < 0)
        return fd;
    /* The hidden directory is left out of its parent's listing. */
    const char *hidden = h->settings->hidden_dir;
    const char *skip = NULL;
    if (hidden) {
        const char *slash = strrchr(hidden, '/');
        size_t parent = slash ? (size_t)(slash - hidden) : 0;
        if (strlen(path) == parent && strncmp(path, hidden, parent) == 0)
            skip = slash ? slash + 1 : hidden;
    }
    /* The title shows the path as the client asked it, decoded, with its slashes. */
    char url[PATH_MAX + 2];
    int ulen = snprintf(url, sizeof(url), "/%s%s", path, path[0] ? "/" : "");
    char *page = NULL;
    size_t len = 0;
    int rc =
        ulen > 0 && (size_t)ulen < sizeof(url)
            ? autoindex_render(h->settings->root_fd, path, fd, url, (size_t)ulen, skip, &page, &len)
            : -ENAMETOOLONG;
    close(fd);
    if (rc != 0)
        return rc;
    struct http_head head = head_for(hc, 200);
    head.content_type = "text/html; charset=utf-8";
    head.content_length = (int64_t)len;
    begin_response(hc, req, 200);
    rc = queue_reply(hc, &head, NULL, page, req->method == HTTP_HEAD ? 0 : len);
    free(page);
    return rc;
}

/* GET or HEAD of a static file. */
static int respond_static(struct http_conn *hc, const struct http_request *req)
{
    struct http_loop *h = loop_of(hc);
    struct http_static res;
    http_static_resolve(h->files, loop_now(h->loop), req, h->settings->hidden_dir, h->scratch,
                        h->scratch_len, &res);
    bool head_only = req->method == HTTP_HEAD;
    if (res.status == 403 && res.err == -FILE_CACHE_NO_INDEX && h->settings->autoindex &&
        respond_listing(hc, req, &res) == 0)
        return 0;
    bool file_body = res.file && res.status != 304 && !head_only && res.length > 0;
    /* A file not held in memory keeps its fd (counted by the cache) while it is sent: past the
     * loop's share of the open-file limit, 503 now, rather than the fds running out under
     * accept(). */
    if (file_body && res.file->fd >= 0 && fds_over(h, 0)) {
        file_entry_release(res.file);
        res = (struct http_static){.status = 503};
        file_body = false;
    }
    struct http_head head = head_for(hc, res.status);
    const struct file_entry *f = res.file;
    char page[512];
    size_t page_len = 0;
    struct file_entry *custom = NULL;
    char caching[64 + HTTP_DATE_LEN + 160];
    const char *extra = NULL;
    if (f && h->settings->ncache_rules)
        extra = cache_headers(h, f->content_type, caching, sizeof(caching));
    const struct file_variant *v = res.variant;
    head.vary = res.vary;
    switch (res.status) {
    case 200:
    case 206:
        head.content_type = f->content_type;
        head.content_encoding = v ? http_coding_name(res.coding) : NULL;
        head.content_length = res.length;
        head.last_modified = f->last_modified[0] ? f->last_modified : NULL;
        head.etag = v ? v->etag : f->etag;
        head.accept_ranges = true;
        head.content_range = res.status == 206 ? res.content_range : NULL;
        break;
    case 304:
        head.last_modified = f->last_modified[0] ? f->last_modified : NULL;
        head.etag = v ? v->etag : f->etag;
        break;
    default:
        page_len = http_error_page(page, sizeof(page), res.status);
        head.content_type = "text/html; charset=utf-8";
        head.content_length = (int64_t)page_len;
        head.location = res.location;
        head.content_range = res.status == 416 ? res.content_range : NULL;
        if (res.status >= 400 && h->settings->nerror_pages)
            custom = custom_error_page(hc, res.status);
        break;
    }
    begin_response(hc, req, res.status);
    explain_static(hc, &res);
    if (custom) {
        if (f)
            file_entry_release(res.file);
        return queue_custom_error(hc, &head, NULL, custom, head_only);
    }
    int rc = queue_reply(hc, &head, extra, page, head_only ? 0 : page_len);
    if (f && f->compress_mask && !f->compressing && h->pool && h->settings->compress)
        compress_later(h, res.file);
    if (file_body && rc == 0)
        conn_send_body(&hc->conn, v ? v->data : f->data, v ? -1 : f->fd, res.offset, res.length,
                       res.file);
    else if (f)
        file_entry_release(res.file);
    return rc;
}

/* The request a handler answers (http_route.h): lives on the stack of respond(). */
struct http_exchange {
    struct http_conn *hc;
    const struct http_request *req;
};

int http_static_handler(struct http_exchange *x, const struct http_request *req, void *ctx)
{
    (void)ctx;
    return respond_static(x->hc, req);
}

/* Without routes in the settings: static files only (read, never written). */
static const struct http_routes static_only = {
    .fallback = {.methods = HTTP_METHODS_READ, .handle = http_static_handler}};

/* What is not a static file: 501 for an unknown method, 405 when the path's routes do not take
 * the method, or another handler. Out of line, so that respond() stays small enough to inline. */
static __attribute__((noinline)) int
respond_routed(struct http_conn *hc, const struct http_request *req, struct http_match m)
{
    if (req->method == HTTP_OTHER)
        return respond_error(hc, req, 501, false, NULL, NULL);
    if (!m.route) {
        char allow[96];
        http_methods_format(m.allowed, allow, sizeof(allow));
        return respond_error(hc, req, 405, req->method == HTTP_HEAD, allow, NULL);
    }
    struct http_exchange x = {hc, req};
    int rc = m.route->handle(&x, req, m.route->ctx);
    if (rc == 0 && hc->phase != PHASE_SEND && hc->phase != PHASE_APP) {
        /* A handler that neither answered nor suspended: a bug, answered rather than hung. */
        return respond_error(hc, req, 500, false, NULL, "handler gave no answer");
    }
    return rc;
}

/* Whether s[0, n) may stand as the host of a redirect target: a name or an address literal. */
static bool host_ok(const char *s, size_t n)
{
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '[' || ch == ']' ||
                  ch == ':';
        if (!ok)
            return false;
    }
    return true;
}

/*
 * --redirect-https, on a plain listener: 301 to the same target on the TLS port, as nginx's
 * "return 301 https://$host$request_uri": the host of the request (its Host field without the
 * port) or, without one, the address the client reached.
 */
static __attribute__((noinline)) int respond_https_redirect(struct http_conn *hc,
                                                            const struct http_request *req)
{
    struct http_loop *h = loop_of(hc);
    const char *host = req->host.p;
    size_t hlen = host ? req->host.len : 0;
    if (hlen && host[0] == '[') {
        const char *end = memchr(host, ']', hlen);
        hlen = end ? (size_t)(end - host) + 1 : 0;
    } else if (hlen) {
        const char *colon = memchr(host, ':', hlen);
        if (colon)
            hlen = (size_t)(colon - host);
    }
    char local[INET6_ADDRSTRLEN + 2];
    if (!host_ok(host, hlen)) {
        union conn_addr a;
        socklen_t alen = sizeof(a);
        char text[INET6_ADDRSTRLEN] = "localhost";
        bool v6 = false;
        if (getsockname(hc->conn.io.fd, &a.sa, &alen) == 0) {
            v6 = a.sa.sa_family == AF_INET6;
            const void *bytes = v6 ? (const void *)&a.in6.sin6_addr : (const void *)&a.in.sin_addr;
            if (!inet_ntop(a.sa.sa_family, bytes, text, sizeof(text)))
                snprintf(text, sizeof(text), "localhost");
        }
        snprintf(local, sizeof(local), v6 ? "[%s]" : "%s", text);
        host = local;
        hlen = strlen(local);
    }
    const char *port = h->settings->https_port;
    bool default_port = strcmp(port, "443") == 0;
    bool origin = req->path.len > 0 && req->path.p[0] == '/';
    int n =
        snprintf(h->scratch, h->scratch_len, "https://%.*s%s%s%.*s%s%.*s", (int)hlen, host,
                 default_port ? "" : ":", default_port ? "" : port, origin ? (int)req->path.len : 1,
                 origin ? req->path.p : "/", req->query.len ? "?" : "", (int)req->query.len,
                 req->query.len ? req->query.p : "");
    if (n < 0 || (size_t)n >= h->scratch_len)
        return respond_error(hc, req, 414, req->method == HTTP_HEAD, NULL, NULL);
    char page[512];
    size_t len = http_error_page(page, sizeof(page), 301);
    struct http_head head = head_for(hc, 301);
    head.content_type = "text/html; charset=utf-8";
    head.content_length = (int64_t)len;
    head.location = h->scratch;
    begin_response(hc, req, 301);
    return queue_head(hc, &head, page, req->method == HTTP_HEAD ? 0 : len);
}

/* The response to a complete request (its body, if any, already read): the route table picks
 * its handler. Static files, the catch-all, are called directly, and this is inlined: with no
 * route for the path, that costs about 10 instructions more per request than the direct call
 * before the table (docs/PERFORMANCE.md). */
static inline __attribute__((always_inline)) int respond(struct http_conn *hc,
                                                         const struct http_request *req)
{
    const struct http_routes *routes = loop_of(hc)->settings->routes;
    if (__builtin_expect(loop_of(hc)->settings->https_port != NULL, 0) && !hc->conn.tls)
        return respond_https_redirect(hc, req);
    if (!routes)
        routes = &static_only;
    struct http_match m = http_routes_match(routes, req->path.p, req->path.len, req->method);
    if (m.route && m.route->handle == http_static_handler)
        return respond_static(hc, req);
    return respond_routed(hc, req, m);
}

int http_reply_send(struct http_exchange *x, const struct http_reply *r)
{
    struct http_conn *hc = x->hc;
    struct http_head head = head_for(hc, r->status);
    head.content_type = r->content_type;
    head.content_length = (int64_t)r->body_len;
    begin_response(hc, x->req, r->status);
    if (r->why)
        log_failure(hc, r->status >= 500 && !r->shed ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN, "%s",
                    r->why);
    bool head_only = x->req->method == HTTP_HEAD;
    return queue_reply(hc, &head, r->headers, r->body, head_only ? 0 : r->body_len);
}

int http_reply_error(struct http_exchange *x, int status, const char *why)
{
    return respond_error(x->hc, x->req, status, x->req->method == HTTP_HEAD, NULL, why);
}

const struct sockaddr *http_exchange_peer(const struct http_exchange *x)
{
    return &x->hc->conn.peer.sa;
}

struct pool_port *http_exchange_port(const struct http_exchange *x)
{
    return loop_of(x->hc)->port;
}

uint64_t http_exchange_now(const struct http_exchange *x)
{
    return loop_now(loop_of(x->hc)->loop);
}

bool http_exchange_secure(const struct http_exchange *x)
{
    return x->hc->conn.tls != NULL;
}

int http_suspend(struct http_exchange *x, struct http_wait *w)
{
    struct http_conn *hc = x->hc;
    if (hc->phase == PHASE_SEND || hc->wait)
        return -EALREADY;
    if (!hc->conn.read_paused && conn_pause_read(&hc->conn, true) != 0)
        return -EIO;
    w->conn = hc;
    hc->wait = w;
    set_phase(hc, PHASE_APP);
    conn_arm(&hc->conn, HTTP_TIMEOUT_APP);
    return 0;
}

/* The suspended exchange is over (answered, timed out, or its connection closed). */
static void end_wait(struct http_conn *hc)
{
    if (hc->wait) {
        hc->wait->conn = NULL;
        hc->wait = NULL;
    }
}

/* A request that cannot be answered in sync with the stream: answer, then close. */
/* After a response was queued (rc 0) or could not be (the connection is closed). */
static enum step responded(struct http_conn *hc, int rc)
{
    if (rc == 0)
        return STEP_NEXT;
    end_wait(hc);
    conn_close(&hc->conn, CLOSE_ERROR);
    return STEP_CLOSED;
}

/* The connection ends after its next response, draining what the client still sends. */
static void close_after_response(struct http_conn *hc)
{
    hc->keep_alive = false;
    hc->linger = true;
}

static enum step reject(struct http_conn *hc, const struct http_request *req, int status)
{
    close_after_response(hc);
    /* Without req (an invalid head, or a bad body behind a valid one), the head is still at the
     * front of the buffer: a HEAD gets no body. The buffer stays until the response ends (its
     * log line quotes the request line); then the connection lingers and drops it. */
    const struct buf *in = &hc->conn.in;
    bool head_only = req ? req->method == HTTP_HEAD
                         : buf_readable(in) >= 5 && memcmp(in->data + in->off, "HEAD ", 5) == 0;
    hc->head_len = 0;
    return responded(hc, respond_error(hc, req, status, head_only, NULL, NULL));
}

static enum step parse_head(struct http_conn *hc, struct http_request *req, int *head_len)
{
    struct http_loop *h = loop_of(hc);
    struct buf *in = &hc->conn.in;
    int status = 400;
    req->headers = h->headers;
    size_t len = buf_readable(in);
    *head_len = http_parse_request(in->data + in->off, len, hc->scanned, &h->settings->limits, req,
                                   &status);
    if (*head_len == HTTP_PARSE_INCOMPLETE) {
        /* Only new bytes are scanned next time (a byte-at-a-time head costs O(n), not O(n^2)). */
        hc->scanned = (uint32_t)len;
        return STEP_WAIT;
    }
    hc->scanned = 0;
    if (*head_len < 0) {
        hc->http10 = false;
        return reject(hc, NULL, status);
    }
    return STEP_NEXT;
}

/* The handler of req reads its body (HTTP_ROUTE_BODY): the most it takes (its route's limit
 * within --max-body-bytes), or 0 when the body is not wanted. Only requests with a body ask. */
static uint64_t wants_body(const struct http_loop *h, const struct http_request *req)
{
    const struct http_routes *routes = h->settings->routes;
    if (!routes || req->method == HTTP_OTHER)
        return 0;
    struct http_match m = http_routes_match(routes, req->path.p, req->path.len, req->method);
    if (!m.route || !(m.route->flags & HTTP_ROUTE_BODY))
        return 0;
    uint64_t max = h->settings->max_body_bytes;
    return m.route->max_body && m.route->max_body < max ? m.route->max_body : max;
}

/* Reads req's body next: kept after the head for its handler (collect), or discarded as it
 * arrives so that the connection stays in sync for the next request. */
static enum step start_body(struct http_conn *hc, const struct http_request *req, bool collect,
                            uint64_t max)
{
    set_phase(hc, PHASE_BODY);
    hc->body_max = max;
    hc->collect = collect;
    hc->chunked = req->chunked;
    hc->body_left = req->chunked ? 0 : req->content_length;
    hc->body_seen = 0;
    if (req->chunked)
        http_chunked_init(&hc->chunk);
    conn_arm(&hc->conn, HTTP_TIMEOUT_BODY);
    return STEP_NEXT;
}

/* A complete head is at the front of conn.in: answer it, or start reading its body. */
static enum step on_head(struct http_conn *hc)
{
    struct http_loop *h = loop_of(hc);
    struct http_request req;
    int head_len;
    enum step s = parse_head(hc, &req, &head_len);
    if (s != STEP_NEXT || head_len < 0)
        return s;
    counter_add(&h->stats.requests, 1);
    hc->http10 = req.minor == 0;
    hc->keep_alive = req.keep_alive && !closing(h);
    bool has_body = req.chunked || (req.has_content_length && req.content_length > 0);
    bool needs_length =
        req.method == HTTP_POST || req.method == HTTP_PUT || req.method == HTTP_PATCH;
    hc->head_len = (uint32_t)head_len;
    if (!has_body) {
        if (needs_length && !req.has_content_length)
            return reject(hc, &req, 411);
        return responded(hc, respond(hc, &req));
    }
    if (req.has_content_length && req.content_length > h->settings->max_body_bytes)
        return reject(hc, &req, 413);
    uint64_t keep = wants_body(h, &req);
    if (keep && req.has_content_length && req.content_length > keep)
        return reject(hc, &req, 413);
    if (keep) {
        /* A client that waits for "100 Continue" is told to go on; what the socket does not
         * take at once is queued and sent as the body is read (on_writable). */
        if (req.expect_continue && !conn_queued(&hc->conn)) {
            static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
            int rc = conn_send(&hc->conn, go_on, sizeof(go_on) - 1);
            if (rc != 0) {
                conn_close(&hc->conn, rc == -EPIPE || rc == -ECONNRESET ? CLOSE_PEER : CLOSE_ERROR);
                return STEP_CLOSED;
            }
        }
        return start_body(hc, &req, true, keep);
    }
    if (req.expect_continue) {
        /* The client waits before sending the body; nothing here needs it, so answer now
         * without reading it (RFC 9110 §10.1.1) and close. */
        close_after_response(hc);
        return responded(hc, respond(hc, &req));
    }
    /* The head stays in place: the answer is built from it once the body is read. */
    return start_body(hc, &req, false, h->settings->max_body_bytes);
}

/* The request whose body was read: answered, with its body when collected. */
static enum step body_complete(struct http_conn *hc, size_t body_len)
{
    struct http_loop *h = loop_of(hc);
    /* Parse the kept head again: the buffer may have moved while the body was read. */
    struct http_request req;
    int head_len;
    enum step s = parse_head(hc, &req, &head_len);
    if (s != STEP_NEXT || head_len < 0)
        return s;
    hc->keep_alive = req.keep_alive && !closing(h);
    if (hc->collect) {
        hc->body_len = (uint32_t)body_len;
        req.body = hc->conn.in.data + hc->conn.in.off + hc->head_len;
        req.body_len = body_len;
    }
    return responded(hc, respond(hc, &req));
}

/* Keeps the body bytes after the head, chunked framing removed. STEP_WAIT until complete. */
static enum step collect_body(struct http_conn *hc)
{
    struct buf *in = &hc->conn.in;
    size_t kept = hc->head_len + (size_t)hc->body_seen;
    size_t avail = buf_readable(in) - kept; /* bytes not looked at yet */
    if (avail == 0)
        return STEP_WAIT;
    if (!hc->chunked) {
        size_t take = avail < hc->body_left ? avail : (size_t)hc->body_left;
        hc->body_seen += take;
        hc->body_left -= take;
        conn_arm(&hc->conn, HTTP_TIMEOUT_BODY);
        return hc->body_left ? STEP_WAIT : body_complete(hc, (size_t)hc->body_seen);
    }
    size_t len = avail;
    ssize_t rest = http_chunked_decode(&hc->chunk, in->data + in->off + kept, &len);
    if (rest == HTTP_PARSE_ERROR)
        return reject(hc, NULL, 400);
    /* The framing leaves; the decoded data stays after what was kept before. */
    size_t after = rest >= 0 ? (size_t)rest : 0;
    buf_cut(in, kept + len, avail - len - after);
    hc->body_seen += len;
    if (hc->body_seen + hc->chunk.remaining > hc->body_max)
        return reject(hc, NULL, 413);
    conn_arm(&hc->conn, HTTP_TIMEOUT_BODY);
    return rest >= 0 ? body_complete(hc, (size_t)hc->body_seen) : STEP_WAIT;
}

/* Discards the body bytes buffered after the head. STEP_WAIT until the body is complete. */
static enum step on_body(struct http_conn *hc)
{
    if (hc->collect)
        return collect_body(hc);
    struct buf *in = &hc->conn.in;
    size_t avail = buf_readable(in) - hc->head_len;
    if (avail == 0)
        return STEP_WAIT;
    bool done;
    if (!hc->chunked) {
        size_t take = avail < hc->body_left ? avail : (size_t)hc->body_left;
        buf_cut(in, hc->head_len, take);
        hc->body_left -= take;
        done = hc->body_left == 0;
    } else {
        size_t len = avail;
        ssize_t rest = http_chunked_decode(&hc->chunk, in->data + in->off + hc->head_len, &len);
        if (rest == HTTP_PARSE_ERROR)
            return reject(hc, NULL, 400);
        hc->body_seen += len;
        /* A chunk announced larger than what is left of the limit is refused at its size line,
         * not once its bytes have arrived. */
        if (hc->body_seen + hc->chunk.remaining > hc->body_max)
            return reject(hc, NULL, 413);
        /* The decoded data is dropped; bytes after the body (the next request) move up. */
        size_t after = rest >= 0 ? (size_t)rest : 0;
        buf_cut(in, hc->head_len, avail - after);
        done = rest >= 0;
    }
    conn_arm(&hc->conn, HTTP_TIMEOUT_BODY);
    return done ? body_complete(hc, 0) : STEP_WAIT;
}

/*
 * Nagle's algorithm only delays a small write while earlier bytes are unacknowledged: the next
 * response on a kept connection (pipelined ones back to back), or the tail of a body that did
 * not fit at once. A response written whole on a connection that then closes needs nothing,
 * so TCP_NODELAY is set at those two points, once (as nginx's tcp_nodelay does).
 */
static void set_nodelay(struct http_conn *hc)
{
    if (hc->nodelay)
        return;
    int one = 1;
    setsockopt(hc->conn.io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    hc->nodelay = true;
}

/* Our side is done but the client may still be sending: shut down writing and drain. */
static enum step start_linger(struct http_conn *hc)
{
    set_phase(hc, PHASE_LINGER);
    conn_shutdown_write(&hc->conn);
    conn_release_in(&hc->conn);
    conn_arm(&hc->conn, HTTP_TIMEOUT_LINGER);
    return conn_pause_read(&hc->conn, false) == 0
               ? STEP_WAIT
               : (conn_close(&hc->conn, CLOSE_ERROR), STEP_CLOSED);
}

/* The response is sent: keep the connection for the next request, or end it. */
static enum step finish_response(struct http_conn *hc)
{
    struct conn *c = &hc->conn;
    log_response(hc);
    /* The answered head (and its kept body) leave the buffer; a pipelined request may follow. */
    size_t used = (size_t)hc->head_len + hc->body_len;
    if (used <= buf_readable(&c->in))
        buf_consume(&c->in, used);
    hc->head_len = 0;
    hc->body_len = 0;
    if (!hc->keep_alive) {
        if (hc->linger || loop_of(hc)->settings->linger_always)
            return start_linger(hc);
        conn_close(c, CLOSE_DONE);
        return STEP_CLOSED;
    }
    set_phase(hc, PHASE_IDLE);
    set_nodelay(hc);
    if (c->read_paused && conn_pause_read(c, false) != 0) {
        conn_close(c, CLOSE_ERROR);
        return STEP_CLOSED;
    }
    if (buf_readable(&c->in) == 0) {
        /* An idle keep-alive connection holds no buffers. */
        conn_release_in(c);
        conn_arm(&hc->conn, HTTP_TIMEOUT_IDLE);
    }
    return STEP_NEXT;
}

static enum step on_send(struct http_conn *hc)
{
    struct conn *c = &hc->conn;
    c->closing = !hc->keep_alive;
    size_t written = 0;
    int rc = conn_flush(c, &written);
    hc->resp.sent += written;
    if (rc == 0)
        return finish_response(hc);
    if (rc == -EAGAIN) {
        set_nodelay(hc);
        /* The send timeout runs from the last write that made progress. */
        if (written > 0 || c->timer.cls != HTTP_TIMEOUT_SEND)
            conn_arm(&hc->conn, HTTP_TIMEOUT_SEND);
        if (!c->read_paused && conn_pause_read(c, true) != 0) {
            conn_close(c, CLOSE_ERROR);
            return STEP_CLOSED;
        }
        return STEP_WAIT;
    }
    conn_close(c, rc == -EPIPE || rc == -ECONNRESET ? CLOSE_PEER : CLOSE_ERROR);
    return STEP_CLOSED;
}

static enum step process(struct http_conn *hc)
{
    for (;;) {
        enum step s;
        switch (hc->phase) {
        case PHASE_IDLE:
            if (buf_readable(&hc->conn.in) == 0)
                return STEP_WAIT;
            /* The first bytes of the next request. A head that came whole is answered in this
             * turn and needs no timer of its own; otherwise the rest must arrive in time. */
            set_phase(hc, PHASE_HEAD);
            s = on_head(hc);
            if (s == STEP_WAIT && hc->phase == PHASE_HEAD)
                conn_arm(&hc->conn, HTTP_TIMEOUT_HEADER);
            break;
        case PHASE_HEAD:
            s = buf_readable(&hc->conn.in) ? on_head(hc) : STEP_WAIT;
            break;
        case PHASE_BODY:
            s = on_body(hc);
            break;
        case PHASE_SEND:
            s = on_send(hc);
            break;
        case PHASE_APP:
            return STEP_WAIT;
        default:
            conn_release_in(&hc->conn);
            s = STEP_WAIT;
            break;
        }
        if (s != STEP_NEXT)
            return s;
    }
}

/*
 * Plain HTTP came to a TLS port: nginx's 400 "The plain HTTP request was sent to HTTPS port",
 * in clear, and the connection closes. The rest of the request is read and dropped first, so
 * that closing does not reset the connection before the client reads the answer.
 */
static void plain_http_on_tls(struct http_conn *hc)
{
    struct conn *c = &hc->conn;
    static const char page[] =
        "<!DOCTYPE html>\n<html><head><title>400 The plain HTTP request was sent to HTTPS port"
        "</title></head>\n<body><h1>400 Bad Request</h1>\n<p>The plain HTTP request was sent to "
        "HTTPS port</p><hr><p>tinyweb</p></body></html>\n";
    char head[HTTP_HEAD_MAX];
    struct http_head h = head_for(hc, 400);
    h.keep_alive = false;
    h.hsts = NULL;
    h.content_type = "text/html; charset=utf-8";
    h.content_length = (int64_t)(sizeof(page) - 1);
    size_t n = http_head_write(head, sizeof(head), &h);
    char drop[4096];
    for (int i = 0; i < 16 && recv(c->io.fd, drop, sizeof(drop), MSG_DONTWAIT) > 0; i++)
        ;
    struct iovec iov[2] = {{head, n}, {(char *)page, sizeof(page) - 1}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    ssize_t w = sendmsg(c->io.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    counter_add(&loop_of(hc)->stats.responses[4], 1);
    shutdown(c->io.fd, SHUT_WR);
    conn_close(c, CLOSE_DONE);
}

/* Reads and answers what the socket holds. STEP_CLOSED when the connection is gone. */
static enum step read_and_process(struct http_conn *hc)
{
    struct conn *c = &hc->conn;
    bool edge = c->set->trigger & EPOLLET;
    int reads = 0;
    do {
        /* A client that keeps the socket full (pipelining, a large body) gets a batch of reads
         * per turn, then yields to the others. */
        if (reads++ == HTTP_READS_PER_TURN)
            return conn_yield(c) == 0 ? STEP_WAIT : (conn_close(c, CLOSE_ERROR), STEP_CLOSED);
        ssize_t n = conn_read(c);
        if (n == -EAGAIN)
            return STEP_WAIT;
        if (n == TLS_ERR_PLAIN_HTTP) {
            plain_http_on_tls(hc);
            return STEP_CLOSED;
        }
        if (n <= 0) {
            /* EOF while lingering is the goal; elsewhere the client left or failed. */
            conn_close(c, hc->phase == PHASE_LINGER ? CLOSE_DONE
                          : n == 0                  ? CLOSE_PEER
                                                    : CLOSE_ERROR);
            return STEP_CLOSED;
        }
        if (process(hc) == STEP_CLOSED)
            return STEP_CLOSED;
        /* A short read emptied the socket: the next bytes raise a new edge. */
    } while (edge && !c->read_paused && !c->drained);
    return STEP_WAIT;
}

static void on_readable(struct conn *c)
{
    read_and_process((struct http_conn *)c);
}

static void on_writable(struct conn *c)
{
    struct http_conn *hc = (struct http_conn *)c;
    if (hc->phase != PHASE_SEND) {
        /* A 100 Continue the socket did not take at once: sent now, and the body read on. */
        int rc = conn_flush(c, NULL);
        if (rc != 0 && rc != -EAGAIN) {
            conn_close(c, rc == -EPIPE || rc == -ECONNRESET ? CLOSE_PEER : CLOSE_ERROR);
            return;
        }
        if (!c->read_paused)
            read_and_process(hc);
        return;
    }
    /* When the response completes, reading resumes through epoll_ctl(MOD), which reports bytes
     * that arrived meanwhile, in edge-triggered mode too. */
    process(hc);
}

int http_resume(struct http_wait *w, http_handler_fn answer, void *ctx)
{
    struct http_conn *hc = w->conn;
    if (!hc)
        return -ECANCELED;
    end_wait(hc);
    /* The request is still at the front of conn.in, its body (if kept) after it. */
    struct http_request req;
    int head_len;
    if (parse_head(hc, &req, &head_len) != STEP_NEXT || head_len < 0) {
        conn_close(&hc->conn, CLOSE_ERROR); /* cannot be: it parsed before */
        return 0;
    }
    if (hc->body_len) {
        req.body = hc->conn.in.data + hc->conn.in.off + hc->head_len;
        req.body_len = hc->body_len;
    }
    /* The answer's state: back to the phase of an answer being made (the timer is re-armed
     * by the send, or by a new suspend). */
    set_phase(hc, PHASE_HEAD);
    struct http_exchange x = {hc, &req};
    int rc = answer(&x, &req, ctx);
    if (rc == 0 && hc->phase == PHASE_APP)
        return 0;
    if (rc == 0 && hc->phase != PHASE_SEND)
        rc = respond_error(hc, &req, 500, false, NULL, "handler gave no answer");
    if (responded(hc, rc) == STEP_CLOSED)
        return 0;
    process(hc);
    return 0;
}

/* A 408 is sent only while no byte of a response has been; it is best effort before closing. */
static void send_timeout_page(struct http_conn *hc)
{
    struct conn *c = &hc->conn;
    if (conn_queued(c))
        return;
    hc->keep_alive = false;
    size_t written = 0;
    if (respond_error(hc, NULL, 408, false, NULL, NULL) == 0) {
        conn_flush(c, &written);
        hc->resp.sent += written;
    }
}

/* Each timeout class has its handler: the connection whose timer expired, counted. */
static struct http_conn *expired(struct timer_node *node, int cls, void *loop)
{
    counter_add(&((struct http_loop *)loop)->stats.expired[cls], 1);
    return (struct http_conn *)container_of(node, struct conn, timer);
}

/* Body bytes or the next request waiting unread (their event in a later epoll batch, after a
 * stall) are activity the loop has not reached yet, not inactivity. */
static bool unread_activity(struct http_conn *hc)
{
    if (!conn_unread(&hc->conn))
        return false;
    on_readable(&hc->conn);
    return true;
}

/* The whole head had to arrive in time: no excuse for unread bytes. A connection that never sent
 * a byte gets no answer, as in nginx; one with part of a head gets a 408. */
static void header_timeout(struct timer_node *node, int cls, void *loop)
{
    struct http_conn *hc = expired(node, cls, loop);
    if (buf_readable(&hc->conn.in) > 0)
        send_timeout_page(hc);
    conn_close(&hc->conn, CLOSE_HEADER_TIMEOUT);
}

static void body_timeout(struct timer_node *node, int cls, void *loop)
{
    struct http_conn *hc = expired(node, cls, loop);
    if (unread_activity(hc))
        return;
    send_timeout_page(hc);
    conn_close(&hc->conn, CLOSE_BODY_TIMEOUT);
}

/* The application did not answer in time: 504, as a proxy's upstream timeout. Its late answer
 * finds the exchange over (end_wait) and touches nothing. The request was read whole, so the
 * connection stays in sync and may be kept. */
static void app_timeout(struct timer_node *node, int cls, void *loop)
{
    struct http_conn *hc = expired(node, cls, loop);
    end_wait(hc);
    struct http_request req;
    int head_len;
    if (parse_head(hc, &req, &head_len) != STEP_NEXT || head_len < 0)
        return;
    set_phase(hc, PHASE_HEAD);
    /* An application's answer, as the late one would have been: not to be stored. */
    int rc = respond_error_with(hc, &req, 504, req.method == HTTP_HEAD, NULL,
                                "the application did not answer within --app-timeout",
                                "Cache-Control: no-store\r\n");
    if (responded(hc, rc) != STEP_CLOSED)
        process(hc);
}

static void send_timeout(struct timer_node *node, int cls, void *loop)
{
    conn_close(&expired(node, cls, loop)->conn, CLOSE_SEND_TIMEOUT);
}

static void idle_timeout(struct timer_node *node, int cls, void *loop)
{
    struct http_conn *hc = expired(node, cls, loop);
    if (!unread_activity(hc))
        conn_close(&hc->conn, CLOSE_IDLE_TIMEOUT);
}

/* The client's bytes after our last response were drained long enough. */
static void linger_timeout(struct timer_node *node, int cls, void *loop)
{
    conn_close(&expired(node, cls, loop)->conn, CLOSE_DONE);
}

/* The graceful shutdown's deadline: whatever is still open closes now. */
static void shutdown_timeout(struct timer_node *node, int cls, void *loop)
{
    struct http_loop *h = loop;
    (void)node;
    counter_add(&h->stats.expired[cls], 1);
    conn_set_close_all(&h->conns, CLOSE_SHUTDOWN);
    loop_stop(h->loop);
}

static void on_close(struct conn *c, enum close_reason why)
{
    struct http_conn *hc = (struct http_conn *)c;
    struct http_loop *h = loop_of(hc);
    (void)why;
    /* A response cut short (the client left, a send timeout, shutdown) is logged with what was
     * sent of it. A suspended handler's answer will find the exchange over. */
    if (hc->phase == PHASE_SEND)
        log_response(hc);
    end_wait(hc);
    counter_add(&h->stats.phases[hc->phase], (uint64_t)-1);
    /* The last connection of a draining loop: the loop's work is done. */
    if (h->draining && c->set->live == 1)
        loop_stop(h->loop);
}

static void release_body(void *ref)
{
    file_entry_release(ref);
}

static const struct conn_handler http_handler = {
    .on_readable = on_readable,
    .on_writable = on_writable,
    .on_close = on_close,
    .release_body = release_body,
};

void http_loop_configure(struct http_loop *h, const struct http_settings *s,
                         struct loop_config *cfg)
{
    memset(h, 0, sizeof(*h));
    h->settings = s;
    cfg->timeouts_ms = s->timeouts_ms;
    cfg->nclasses = HTTP_TIMEOUT_COUNT;
    static const timer_expire_fn fns[HTTP_TIMEOUT_COUNT] = {
        [HTTP_TIMEOUT_HEADER] = header_timeout,     [HTTP_TIMEOUT_BODY] = body_timeout,
        [HTTP_TIMEOUT_SEND] = send_timeout,         [HTTP_TIMEOUT_IDLE] = idle_timeout,
        [HTTP_TIMEOUT_APP] = app_timeout,           [HTTP_TIMEOUT_LINGER] = linger_timeout,
        [HTTP_TIMEOUT_SHUTDOWN] = shutdown_timeout,
    };
    for (int i = 0; i < HTTP_TIMEOUT_COUNT; i++)
        h->on_expire[i] = (struct timer_handler){fns[i], h};
    cfg->on_expire = h->on_expire;
}

int http_loop_init(struct http_loop *h, struct loop *loop, uint32_t trigger)
{
    h->loop = loop;
    timer_node_init(&h->shutdown_timer);
    conn_set_init(&h->conns, loop, &http_handler, trigger, sizeof(struct http_conn));
    h->conns.sendfile_min = h->settings->sendfile_min;
    /* The decoded path, then a redirect target: percent-encoding can triple the path. */
    h->scratch_len = scratch_size(&h->settings->limits);
    h->scratch = malloc(h->scratch_len);
    h->headers = calloc(h->settings->limits.max_headers, sizeof(*h->headers));
    h->files = file_cache_new(&h->settings->file_cache, h->settings->root_fd);
    if (!h->scratch || !h->headers || !h->files) {
        http_loop_free(h);
        return -ENOMEM;
    }
    return 0;
}

/*
 * A new connection got the canned 503 (--max-connections, or the loop's share of the open-file
 * limit): one warning per second at most, with the count, so that a flood of refusals cannot
 * flood the log.
 */
static void log_refused(struct http_loop *h, bool full)
{
    h->refused_unlogged++;
    date_now(h);
    if (h->date_sec == h->refused_logged_sec)
        return;
    h->refused_logged_sec = h->date_sec;
    log_msg(h->settings->error_log, LOG_LEVEL_WARN, "503 to %llu new connection(s) of one loop: %s",
            (unsigned long long)h->refused_unlogged,
            full ? "--max-connections reached"
                 : "the loop's share of the open-file limit is in use (raise ulimit -n)");
    h->refused_unlogged = 0;
}

void http_loop_accept(struct http_loop *h, int fd, const struct sockaddr *peer, socklen_t len,
                      bool tls)
{
    /* The accepted socket, and file_fds left to files, so that a loop full of connections
     * still finds fds to send some of them their files: it keeps making progress. */
    bool full = h->conns.live >= h->settings->max_connections;
    if (h->draining || full || fds_over(h, 1 + h->settings->file_fds)) {
        static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nServer: tinyweb\r\n"
                                   "Content-Length: 0\r\nConnection: close\r\n\r\n";
        /* Best effort: a fresh socket's buffer takes it whole, or the client sees a close. A
         * TLS client, which cannot read a plain answer, sees the close. */
        if (!tls) {
            ssize_t n = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)n;
        }
        close(fd);
        counter_add(&h->stats.rejected, 1);
        if (!h->draining)
            log_refused(h, full);
        return;
    }
    struct conn *c = conn_open(&h->conns, fd, peer, len);
    if (!c)
        return;
    /* A fresh connection is zeroed: phase 0 is PHASE_HEAD, counted here. */
    counter_add(&h->stats.phases[PHASE_HEAD], 1);
    /* Over TLS the handshake runs in the first reads: the header timeout covers it. */
    conn_arm(c, HTTP_TIMEOUT_HEADER);
    if (tls && (!h->settings->tls || conn_start_tls(c, h->settings->tls) != 0)) {
        conn_close(c, CLOSE_ERROR);
        return;
    }
    /* The request usually came with the connection: answer it before the socket joins epoll,
     * so a one-request connection costs no epoll_ctl at all (an empty socket costs one recv). */
    if (read_and_process((struct http_conn *)c) != STEP_CLOSED && conn_register(c) != 0)
        conn_close(c, CLOSE_ERROR);
}

void http_loop_drain(struct http_loop *h)
{
    if (h->draining)
        return;
    h->draining = true;
    /* Idle connections, those with no byte of a request yet, and those only draining the
     * client's bytes after their last response close now. */
    struct conn *next;
    for (struct conn *c = h->conns.first; c; c = next) {
        next = c->next;
        struct http_conn *hc = (struct http_conn *)c;
        bool idle = hc->phase == PHASE_IDLE || hc->phase == PHASE_LINGER ||
                    (hc->phase == PHASE_HEAD && buf_readable(&c->in) == 0);
        if (idle)
            conn_close(c, CLOSE_SHUTDOWN);
        else
            hc->keep_alive = false;
    }
    if (h->conns.live == 0) {
        loop_stop(h->loop);
        return;
    }
    loop_arm(h->loop, &h->shutdown_timer, HTTP_TIMEOUT_SHUTDOWN);
}

int http_loop_reconfigure(struct http_loop *h, const struct http_settings *s)
{
    const struct http_settings *old = h->settings;
    /* The parser's buffers follow the limits; growing them may fail: the loop then keeps the
     * old settings (they fit the old buffers), and says so. */
    size_t scratch_len = scratch_size(&s->limits);
    char *scratch = scratch_len > h->scratch_len ? malloc(scratch_len) : NULL;
    struct http_header *headers = s->limits.max_headers > old->limits.max_headers
                                      ? calloc(s->limits.max_headers, sizeof(*headers))
                                      : NULL;
    if ((scratch_len > h->scratch_len && !scratch) ||
        (s->limits.max_headers > old->limits.max_headers && !headers)) {
        free(scratch);
        free(headers);
        log_msg(s->error_log, LOG_LEVEL_ERROR, "reload: out of memory for the new limits");
        return -ENOMEM;
    }
    if (scratch) {
        free(h->scratch);
        h->scratch = scratch;
        h->scratch_len = scratch_len;
    }
    if (headers) {
        free(h->headers);
        h->headers = headers;
    }
    struct timers *t = loop_timers(h->loop);
    for (int cls = 0; cls < HTTP_TIMEOUT_COUNT; cls++)
        if (s->timeouts_ms[cls] != old->timeouts_ms[cls])
            timers_set_duration(t, cls, s->timeouts_ms[cls], loop_now(h->loop));
    /* The root may be another directory now (a deploy that swapped a symlink), or the cache's
     * limits changed: cached entries would answer for the old ones. */
    file_cache_reconfigure(h->files, &s->file_cache, s->root_fd);
    h->conns.sendfile_min = s->sendfile_min;
    h->settings = s;
    return 0;
}

void http_loop_free(struct http_loop *h)
{
    timers_cancel(loop_timers(h->loop), &h->shutdown_timer);
    conn_set_free(&h->conns);
    file_cache_free(h->files);
    h->files = NULL;
    free(h->scratch);
    free(h->headers);
    h->scratch = NULL;
    h->headers = NULL;
}
