/*
 * The HTTP/1.1 side of one event loop: every connection's state machine, its per-phase
 * timeouts, and graceful shutdown.
 *
 * A connection's life: accept -> reading head (header timeout: the whole head must arrive in
 * time, never extended) -> reading body (body timeout, extended by progress) -> waiting for the
 * application, when a handler suspended (app timeout; reading paused) -> responding (send
 * timeout, extended by progress; reading paused) -> keep-alive idle (idle timeout; buffers
 * released) -> reading head again when bytes arrive, or close. Pipelined requests are answered
 * in order. Every close goes through conn_close() and is counted by reason.
 */
#ifndef TINYWEB_HTTP_HTTP_CONN_H
#define TINYWEB_HTTP_HTTP_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/counter.h"
#include "core/loop.h"
#include "http/file_cache.h"
#include "http/http_parser.h"
#include "http/http_route.h"
#include "http/http_static.h"
#include "log/log.h"
#include "net/conn.h"

/* The timeout classes of the loop's timer container, in this order. */
enum http_timeout {
    HTTP_TIMEOUT_HEADER,
    HTTP_TIMEOUT_BODY,
    HTTP_TIMEOUT_SEND,
    HTTP_TIMEOUT_IDLE,
    HTTP_TIMEOUT_APP,      /* waiting for the application's answer (worker pool work) */
    HTTP_TIMEOUT_LINGER,   /* draining a client's bytes after the last response */
    HTTP_TIMEOUT_SHUTDOWN, /* the loop's graceful-shutdown deadline */
    HTTP_TIMEOUT_COUNT
};

/* Settings every loop reads and none writes. */
struct http_settings {
    int root_fd;
    /* The handler table (http_route.h); NULL: static files only. */
    const struct http_routes *routes;
    struct http_limits limits;
    uint64_t max_body_bytes;
    size_t max_connections; /* per loop */
    size_t max_fds;         /* per loop: sockets and file bodies' fds together */
    size_t file_fds;        /* of max_fds, kept for file bodies: new connections stop short */
    bool linger_always;     /* -o 1 */
    int64_t sendfile_min;   /* --sendfile: bodies this long by sendfile(2) */
    struct file_cache_config file_cache;
    uint64_t timeouts_ms[HTTP_TIMEOUT_COUNT];
    struct log *access_log; /* NULL: off */
    struct log *error_log;  /* NULL: off */
    const char *root_path;  /* --root as given, for error-log lines */
    const char *hidden_dir; /* beneath the root, not served (the templates); NULL: none */
    bool log_not_found;     /* --log-not-found: 404s in the error log too */
    bool compress;          /* --compress: variants made on the worker pool */
    bool autoindex;         /* --autoindex: a directory without an index is listed */
    const struct http_error_page *error_pages; /* --error-page */
    int nerror_pages;
    const struct http_cache_rule *cache_rules; /* --cache-control, --expires */
    int ncache_rules;
    struct tls_ctx *tls;    /* the TLS listeners' context, or NULL */
    const char *hsts;       /* "max-age=N" on TLS responses, or NULL */
    const char *https_port; /* --redirect-https: plain requests go to this TLS port; NULL: off */
    unsigned generation;    /* counts reloads: 1 at start */
};

/* Where a connection is in its life (its timeout class follows from it). */
enum http_phase {
    PHASE_HEAD,   /* reading a request head (header timeout) */
    PHASE_BODY,   /* reading and discarding a request body (body timeout) */
    PHASE_SEND,   /* writing a response; reading paused (send timeout) */
    PHASE_IDLE,   /* keep-alive, between requests (idle timeout) */
    PHASE_APP,    /* the handler suspended: its answer comes later (app timeout) */
    PHASE_LINGER, /* done: our side is shut down, the client's bytes are drained */
    PHASE_COUNT
};

/* Counters of one loop: written by its thread, readable from any (see core/counter.h). */
struct http_stats {
    counter_t requests;
    counter_t responses[6]; /* by status class: [1] 1xx ... [5] 5xx ([0] unused) */
    counter_t rejected;     /* connections refused: --max-connections, the fd share, or draining */
    counter_t phases[PHASE_COUNT];         /* connections in each phase now */
    counter_t expired[HTTP_TIMEOUT_COUNT]; /* timer expiries by class */
};

/* One loop's HTTP state. Owned by the loop's thread. */
struct http_loop {
    const struct http_settings *settings;
    struct loop *loop;
    struct conn_set conns;
    struct timer_node shutdown_timer;
    bool draining;
    struct http_stats stats;
    struct timer_handler on_expire[HTTP_TIMEOUT_COUNT]; /* each timeout class's handler */
    time_t date_sec;                                    /* the second date[] shows */
    char date[32]; /* the Date header, formatted once per second */
    char *scratch; /* path decoding and redirect targets */
    size_t scratch_len;
    struct http_header *headers; /* the parser's field array */
    struct file_cache *files;
    struct pool_port *port; /* the worker pool's port on this loop (set by the owner), or NULL */
    struct pool *pool;      /* the worker pool (set by the owner): compression; or NULL */
    /* Set by the owner: while true, every response closes its connection (--drain-delay). */
    const atomic_bool *leaving;
    time_t refused_logged_sec; /* the last warning about refused connections */
    uint64_t refused_unlogged; /* refused since then */
};

/* Fills the loop_config fields that route timer expiries here. Call before loop_new(). */
void http_loop_configure(struct http_loop *h, const struct http_settings *s,
                         struct loop_config *cfg);

/* Initialises h on loop (created with http_loop_configure's config). 0 or -ENOMEM. */
int http_loop_init(struct http_loop *h, struct loop *loop, uint32_t trigger);

/* Takes over an accepted socket (a listener_accept_fn's work). */
void http_loop_accept(struct http_loop *h, int fd, const struct sockaddr *peer, socklen_t len,
                      bool tls);

/*
 * Starts a graceful shutdown: idle connections close now, responses in flight finish with
 * "Connection: close", and the loop stops once no connection is left or the shutdown timeout
 * passes (the rest are then closed). The caller stops accepting first.
 */
void http_loop_drain(struct http_loop *h);

/*
 * A reload: the loop reads s from now on (the caller keeps the old settings alive until every
 * loop has switched). Timeouts change for timers armed from now on (armed ones are capped at the
 * new duration); the file cache starts afresh. Requests that start later see the new limits.
 * 0, or -ENOMEM when the buffers for the new limits could not be had: the loop then keeps the
 * old settings (the caller must keep them alive). O(connections with a shortened timeout +
 * cached files).
 */
int http_loop_reconfigure(struct http_loop *h, const struct http_settings *s);

/* Closes every connection and frees h's memory. */
void http_loop_free(struct http_loop *h);

/* The catch-all handler of a route table (http_route.h): static files beneath the root. */
int http_static_handler(struct http_exchange *x, const struct http_request *req, void *ctx);

#endif
