/*
 * The handler table: the HTTP/1 state machine (http_conn) parses and frames each request, then
 * this table picks the handler that answers it, by path (exact, or a prefix) and method. Static
 * files are the catch-all handler; others (/status) take the paths they register.
 *
 * The table is built once (before the loops run, or as part of new settings on a reload) and
 * read by every loop without locks. Its cost on the request path: with no routes, none; with
 * some, one memcmp against the prefix that all their paths share (the gate, "/status" for the
 * status routes), which nearly every request of a static site fails at its first bytes.
 *
 * A handler answers through the small response API at the end of this file, implemented by the
 * state machine: status, content type, extra header fields and a body from memory. Paths are
 * compared as the client sent them, percent-encoding included, without the query.
 */
#ifndef TINYWEB_HTTP_HTTP_ROUTE_H
#define TINYWEB_HTTP_HTTP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "http/http_parser.h"

/* The request being answered, on its connection. Opaque: owned by the state machine. */
struct http_exchange;
struct pool_port;

/* Answers req through the response API below: 0, or -errno (the connection is then closed). */
typedef int (*http_handler_fn)(struct http_exchange *x, const struct http_request *req, void *ctx);

/* A method's bit in a route's method set. */
#define HTTP_METHOD_BIT(m) (1u << (m))
#define HTTP_METHODS_READ  (HTTP_METHOD_BIT(HTTP_GET) | HTTP_METHOD_BIT(HTTP_HEAD))

/* The most routes a table holds, besides its catch-all. */
#define HTTP_ROUTES_MAX 32

/* A route's flags. */
#define HTTP_ROUTE_BODY 1u /* its handler gets the request body (req->body), read whole first */

struct http_route {
    const char *path; /* the route's own copy: starts with '/' */
    size_t len;
    bool prefix;       /* every path that starts with it, not only this one */
    uint32_t methods;  /* HTTP_METHOD_BIT()s */
    uint32_t flags;    /* HTTP_ROUTE_* */
    uint64_t max_body; /* HTTP_ROUTE_BODY: the longest body it takes (0: --max-body-bytes) */
    http_handler_fn handle;
    void *ctx;
};

/* Routes, matched in the order added, then the catch-all. Copied by value. */
struct http_routes {
    size_t n;
    struct http_route routes[HTTP_ROUTES_MAX];
    size_t gate_len; /* the longest prefix every route's path shares: routes[0].path[0, gate) */
    struct http_route fallback; /* path and prefix unused: it takes whatever else comes */
};

/* What http_routes_match() found. */
struct http_match {
    const struct http_route *route; /* NULL: a route has the path, but not for this method */
    uint32_t allowed;               /* then: the methods the path's routes take (for Allow) */
};

/* An empty table whose catch-all is fallback (for methods). */
void http_routes_init(struct http_routes *r, http_handler_fn fallback, void *ctx, uint32_t methods);

/*
 * Adds a route for path (NUL-terminated, starting with '/'; the table keeps the pointer, which
 * must outlive it). 0, -EINVAL for a path that does not start with '/', -E2BIG when full. O(1).
 */
int http_routes_add(struct http_routes *r, const char *path, bool prefix, uint32_t methods,
                    http_handler_fn handle, void *ctx);

/* Sets the flags (HTTP_ROUTE_*) of the route last added, and with HTTP_ROUTE_BODY the longest
 * body it takes (within --max-body-bytes; 0: that limit): a longer one is answered 413. */
void http_routes_set_flags(struct http_routes *r, uint32_t flags, uint64_t max_body);

/* The rest of http_routes_match(), out of line: the gate's memcmp, then the routes. O(routes). */
struct http_match http_routes_match_slow(const struct http_routes *r, const char *path, size_t len,
                                         enum http_method m);

/*
 * Picks the handler of a request for path[0, len) (http_request.path) and method m: the first
 * route whose path matches and that takes m; failing any route for the path, the catch-all if
 * it takes m; otherwise a NULL route and the methods allowed (answer 405 with them). Inline and
 * nearly free when only the catch-all matches: a length check and the gate's last byte rule out
 * nearly every other path; the rest goes out of line.
 */
static inline struct http_match http_routes_match(const struct http_routes *r, const char *path,
                                                  size_t len, enum http_method m)
{
    size_t g = r->gate_len; /* >= 1 once there is a route: every path starts with '/' */
    if (r->n == 0 || len < g || path[g - 1] != r->routes[0].path[g - 1]) {
        bool ok = r->fallback.methods & HTTP_METHOD_BIT(m);
        return (struct http_match){ok ? &r->fallback : NULL, r->fallback.methods};
    }
    return http_routes_match_slow(r, path, len, m);
}

/* Writes the methods of a set as an Allow value ("GET, HEAD"); returns the length (< cap). */
size_t http_methods_format(uint32_t methods, char *out, size_t cap);

/*
 * The response API, for handlers; implemented by the state machine (http_conn.c). Each answers
 * the exchange once: the response is queued, then sent as the connection allows.
 */

/* A response from memory. */
struct http_reply {
    int status;
    const char *content_type; /* NULL: no Content-Type */
    const char *headers;      /* extra fields, each "Name: value\r\n", or NULL */
    const char *body;         /* copied; a HEAD request gets its length, not its bytes */
    size_t body_len;
    const char *why; /* NULL, or an error-log line's cause (with the client and request line) */
    bool shed;       /* why is the server shedding load, as designed: a warning, not an error */
};

/* Queues r as the response. 0, or -ENOMEM. Costs one copy of the head and body. */
int http_reply_send(struct http_exchange *x, const struct http_reply *r);

/* Queues the standard error page of status; why (NULL: nothing) goes to the error log with the
 * client and request line, as the server's own 403s and 404s do. 0, or -ENOMEM. */
int http_reply_error(struct http_exchange *x, int status, const char *why);

/* The peer's address (AF_INET or AF_INET6). */
const struct sockaddr *http_exchange_peer(const struct http_exchange *x);

/* The worker pool's port of the exchange's loop (http_loop.port), where its jobs come back;
 * NULL when the server has no pool. */
struct pool_port *http_exchange_port(const struct http_exchange *x);

/* The loop's monotonic clock, in ms (read once per wake-up). */
uint64_t http_exchange_now(const struct http_exchange *x);

/* Whether the request came over TLS (a cookie then gets Secure). */
bool http_exchange_secure(const struct http_exchange *x);

/* The first value of the header field name (case-insensitive) of req; p NULL when absent. */
struct http_str http_request_field(const struct http_request *req, const char *name);

/*
 * Deferred answers. A handler whose answer needs blocking work (a database, password hashing)
 * suspends the exchange, hands the work to the worker pool, and resumes it from the loop when
 * the work is done. Meanwhile the connection is in its own phase with its own timeout
 * (--app-timeout: the client then gets 504), reading paused; the request head (and body) stay
 * in the connection's buffer, so the resumed handler sees the same request.
 *
 * The wait is the handler's (embedded in its job): if the connection closes or times out
 * first, the state machine clears w->conn, and http_resume() then touches nothing.
 */
struct http_wait {
    void *conn; /* the state machine's; NULL once the exchange is over */
};

/* The answer to x comes later, through http_resume(w). 0, or -errno (nothing was suspended:
 * answer now). On the loop thread, in the handler. */
int http_suspend(struct http_exchange *x, struct http_wait *w);

/*
 * Resumes the exchange w waits for: answer runs as a handler would, on the same request, and
 * answers through the response API (or suspends again). -ECANCELED when the exchange is over
 * (the client left, the app timeout answered): nothing is touched. Otherwise 0 (a failure of
 * answer closes the connection). On the loop thread that owns the connection: in a worker
 * pool job's done callback.
 */
int http_resume(struct http_wait *w, http_handler_fn answer, void *ctx);

#endif
