/*
 * Threads, loops and wiring. See server.h.
 */
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "app/app.h"
#include "app/db.h"
#include "core/clock.h"
#include "core/defs.h"
#include "core/notify.h"
#include "core/pool.h"
#include "core/sig.h"
#include "core/stats.h"
#include "core/tick.h"
#include "handlers/health.h"
#include "handlers/status.h"
#include "http/http_conn.h"
#include "http/http_route.h"
#include "net/listener.h"
#include "net/tls.h"

/* How long a client may keep sending after our last response before we close (nginx's
 * lingering_timeout). */
#define LINGER_TIMEOUT_MS 5000
/* fds left free beyond those open when the loops are set up: the main loop's and the signal
 * socketpair's (opened later), SIGHUP's log reopen, and per loop the fds it holds for a moment
 * (a socket accepted to be refused, a file read into the cache, the directories of the path
 * walk without openat2). */
#define FD_SPARE_BASE     16
#define FD_SPARE_PER_LOOP 4
/* Open at start when /proc cannot tell: stdio, logs, root, and per loop a handful. */
#define FD_FIXED_GUESS 64

/* Commands the main thread posts to a loop through its eventfd. */
enum { WAKE_STOP = 1, WAKE_RELOAD = 2 };

/* How long a reload waits for every loop to take the new settings before it retires the old
 * ones anyway (they are then freed at exit instead). Loops never block: microseconds, usually. */
#define RELOAD_WAIT_MS 5000

struct worker {
    struct server *srv;
    pthread_t thread;
    struct loop *loop;
    struct http_loop http;
    struct listener listeners[CONFIG_LISTEN_MAX]; /* one per listen address */
    int nlisteners;
    struct loop_io wake_io;
    int wake_fd;
    atomic_uint commands;  /* WAKE_* bits posted by the main thread */
    struct pool_port port; /* the worker pool's completions for this loop (--db) */
    bool port_open;
    int rc;
};

/*
 * One generation of what a reload can change: the configuration it was read from, the settings
 * the loops read, and what they refer to (root, logs). A reload builds the next one beside the
 * running one; the loops switch at their next wake-up, and the old one is retired once all have.
 */
struct generation {
    struct config cfg;
    struct http_settings settings;
    int root_fd;
    struct log *access_log, *error_log;
    unsigned number;
    struct generation *retired_next; /* retired but maybe still read (a loop did not answer) */
    struct http_routes routes;       /* the settings' handler table */
    struct status *status;           /* --status, or NULL */
    struct tls_ctx *tls;             /* the TLS listeners' context (cert read now), or NULL */
    char hsts[32];                   /* "max-age=N" (--hsts) */
};

struct server {
    struct generation *gen; /* the running one */
    const struct config *cfg;
    struct log *error_log; /* gen's, for the server's own lines */
    int nworkers;
    struct worker *workers;
    struct loop *main_loop; /* signals, when the loops run on threads of their own */
    bool stopping;
    /* --drain-delay: a stop signal came and the delay runs: --health answers 503 and every
     * response closes its connection (read by the loops); the timer ends the delay. */
    atomic_bool leaving;
    struct loop_io leave_io;
    int leave_fd;
    size_t fds_per_loop; /* each loop's share of the open-file limit (SIZE_MAX: no limit) */
    uint64_t nofile;     /* the open-file limit */
    _Atomic(struct generation *) next; /* the generation loops switch to on WAKE_RELOAD */
    atomic_int switched;               /* loops that took it */
    atomic_int kept;            /* loops that could not (no memory), and read the old one still */
    struct generation *retired; /* generations retired before every loop switched */
    _Atomic(const struct generation *) live; /* gen, for the stats registry's readers */
    struct stats *stats;                     /* every loop's counters and the process's */
    counter_t reloads[2];                    /* SIGHUPs that took effect, and that did not */
    struct pool *pool;                       /* blocking work of the application (--db), or NULL */
    struct app *app;                         /* --db, or NULL */
    uint64_t started_ns;                     /* CLOCK_MONOTONIC at start, for uptime */
    char https_port[8];   /* the first TLS listener's port, for --redirect-https */
    double started_epoch; /* the same moment in Unix time */
};

static void worker_stop(struct worker *w)
{
    for (int i = 0; i < w->nlisteners; i++)
        listener_close(&w->listeners[i]);
    http_loop_drain(&w->http);
}

static void on_wake(struct loop *loop, struct loop_io *io, uint32_t events)
{
    (void)loop;
    (void)events;
    struct worker *w = container_of(io, struct worker, wake_io);
    uint64_t n;
    /* Reading resets the eventfd; the commands themselves are in the atomic word. */
    ssize_t r = read(io->fd, &n, sizeof(n));
    (void)r;
    unsigned cmd = atomic_exchange(&w->commands, 0);
    if (cmd & WAKE_RELOAD) {
        struct generation *g = atomic_load(&w->srv->next);
        bool ok = http_loop_reconfigure(&w->http, &g->settings) == 0;
        atomic_fetch_add(ok ? &w->srv->switched : &w->srv->kept, 1);
    }
    if (cmd & WAKE_STOP)
        worker_stop(w);
}

static void post(struct worker *w, unsigned cmd)
{
    atomic_fetch_or(&w->commands, cmd);
    uint64_t one = 1;
    ssize_t r = write(w->wake_fd, &one, sizeof(one));
    (void)r;
}

/*
 * The stats registry's tables (core/stats.h): the counters each module keeps per loop, and the
 * process's own. Every series is read on demand with relaxed loads, by /status on any loop and
 * by the "stopped:" report at the end.
 */
#define RESPONSES(c)                                                                               \
    STAT_LABELED(struct http_stats, responses[c], "tinyweb_responses_total", STAT_COUNTER,         \
                 "Responses by status class.", "class", #c "xx")
#define PHASE(p, v)                                                                                \
    STAT_LABELED(struct http_stats, phases[p], "tinyweb_connections", STAT_GAUGE,                  \
                 "Open connections by phase.", "phase", v)
#define TIMEOUT(t, v)                                                                              \
    STAT_LABELED(struct http_stats, expired[t], "tinyweb_timeouts_total", STAT_COUNTER,            \
                 "Timer expiries by timeout class.", "class", v)

static const struct stat_desc http_stat_descs[] = {
    STAT_FIELD(struct http_stats, requests, "tinyweb_requests_total", STAT_COUNTER,
               "Requests whose head was read and parsed."),
    RESPONSES(1),
    RESPONSES(2),
    RESPONSES(3),
    RESPONSES(4),
    RESPONSES(5),
    STAT_FIELD(struct http_stats, rejected, "tinyweb_connections_refused_total", STAT_COUNTER,
               "Connections answered 503 at accept: --max-connections, the loop's share of the "
               "open-file limit, or shutting down."),
    PHASE(PHASE_HEAD, "head"),
    PHASE(PHASE_BODY, "body"),
    PHASE(PHASE_SEND, "send"),
    PHASE(PHASE_IDLE, "idle"),
    PHASE(PHASE_APP, "app"),
    PHASE(PHASE_LINGER, "linger"),
    TIMEOUT(HTTP_TIMEOUT_HEADER, "header"),
    TIMEOUT(HTTP_TIMEOUT_BODY, "body"),
    TIMEOUT(HTTP_TIMEOUT_SEND, "send"),
    TIMEOUT(HTTP_TIMEOUT_IDLE, "idle"),
    TIMEOUT(HTTP_TIMEOUT_APP, "app"),
    TIMEOUT(HTTP_TIMEOUT_LINGER, "linger"),
    TIMEOUT(HTTP_TIMEOUT_SHUTDOWN, "shutdown"),
};

/* The values are close_reason_name()'s. */
#define CLOSED(r, v)                                                                               \
    STAT_LABELED(struct conn_set, closed[r], "tinyweb_connections_closed_total", STAT_COUNTER,     \
                 "Connections closed, by reason.", "reason", v)

static const struct stat_desc conn_stat_descs[] = {
    STAT_FIELD(struct conn_set, opened, "tinyweb_connections_accepted_total", STAT_COUNTER,
               "Connections accepted and served."),
    CLOSED(CLOSE_PEER, "peer_closed"),
    CLOSED(CLOSE_ERROR, "error"),
    CLOSED(CLOSE_DONE, "done"),
    CLOSED(CLOSE_IDLE_TIMEOUT, "idle_timeout"),
    CLOSED(CLOSE_HEADER_TIMEOUT, "header_timeout"),
    CLOSED(CLOSE_BODY_TIMEOUT, "body_timeout"),
    CLOSED(CLOSE_SEND_TIMEOUT, "send_timeout"),
    CLOSED(CLOSE_SHUTDOWN, "shutdown"),
    STAT_FIELD(struct conn_set, bytes_out, "tinyweb_sent_bytes_total", STAT_COUNTER,
               "Response bytes, heads included, that the sockets took."),
    STAT_FIELD(struct conn_set, tls_handshakes, "tinyweb_tls_handshakes_total", STAT_COUNTER,
               "TLS handshakes completed (resumed ones included)."),
    STAT_FIELD(struct conn_set, tls_resumed, "tinyweb_tls_resumed_total", STAT_COUNTER,
               "TLS handshakes that resumed a session (a ticket or the session cache)."),
    STAT_FIELD(struct conn_set, tls_failed, "tinyweb_tls_handshake_failures_total", STAT_COUNTER,
               "TLS handshakes that failed: an alert, bytes that are not TLS, plain HTTP."),
};

/* A loop's listeners (one per listen address) together. */
static uint64_t worker_shed(const void *block)
{
    const struct worker *w = block;
    uint64_t n = 0;
    for (int i = 0; i < w->nlisteners; i++)
        n += counter_get(&w->listeners[i].shed);
    return n;
}

static const struct stat_desc listener_stat_descs[] = {
    {.name = "tinyweb_listener_shed_total",
     .help = "Connections accepted and closed at once because the process ran out of fds.",
     .type = STAT_COUNTER,
     .read = worker_shed},
};

#define CACHE(m, name, kind, help) STAT_FIELD(struct file_cache_stats, m, name, kind, help)

static const struct stat_desc cache_stat_descs[] = {
    CACHE(hits, "tinyweb_file_cache_hits_total", STAT_COUNTER,
          "Requests answered from the open-file cache."),
    CACHE(misses, "tinyweb_file_cache_misses_total", STAT_COUNTER,
          "Requests whose file was looked up on disk."),
    CACHE(checks, "tinyweb_file_cache_checks_total", STAT_COUNTER,
          "Cached files checked again against the disk (--file-cache-valid)."),
    CACHE(stale, "tinyweb_file_cache_stale_total", STAT_COUNTER,
          "Cached files found changed on disk and dropped."),
    CACHE(evicted, "tinyweb_file_cache_evictions_total", STAT_COUNTER,
          "Cached files dropped to make room."),
    CACHE(entries, "tinyweb_file_cache_entries", STAT_GAUGE, "Files in the cache now."),
    CACHE(bytes, "tinyweb_file_cache_bytes", STAT_GAUGE, "File contents held in memory now."),
};

/* The generation in force, from any thread: a reload frees the one it replaces only once every
 * loop has switched, so a loop reading it here (not switched yet) keeps it alive. */
static const struct generation *live(const void *srv)
{
    return atomic_load_explicit(&((const struct server *)srv)->live, memory_order_acquire);
}

static uint64_t access_dropped(const void *srv)
{
    return log_dropped(live(srv)->access_log);
}

static uint64_t error_dropped(const void *srv)
{
    return log_dropped(live(srv)->error_log);
}

static uint64_t config_generation(const void *srv)
{
    return live(srv)->number;
}

static const struct stat_desc process_stat_descs[] = {
    {.name = "tinyweb_log_dropped_lines_total",
     .help = "Log lines lost: the async queue was full, or a write failed.",
     .type = STAT_COUNTER,
     .label = "log",
     .value = "access",
     .read = access_dropped},
    {.name = "tinyweb_log_dropped_lines_total",
     .help = "Log lines lost: the async queue was full, or a write failed.",
     .type = STAT_COUNTER,
     .label = "log",
     .value = "error",
     .read = error_dropped},
    STAT_LABELED(struct server, reloads[0], "tinyweb_config_reloads_total", STAT_COUNTER,
                 "Reloads (SIGHUP), by result.", "result", "ok"),
    STAT_LABELED(struct server, reloads[1], "tinyweb_config_reloads_total", STAT_COUNTER,
                 "Reloads (SIGHUP), by result.", "result", "failed"),
    {.name = "tinyweb_config_generation",
     .help = "The configuration in force: 1 at start, one more per successful reload.",
     .type = STAT_GAUGE,
     .read = config_generation},
};

/* Builds the registry once every loop is open (the file caches exist). 0 or -ENOMEM. */
static int stats_setup(struct server *srv)
{
    int n = srv->nworkers;
    const void **blocks = calloc((size_t)n * 4, sizeof(*blocks));
    srv->stats = stats_new(n);
    if (!blocks || !srv->stats) {
        free(blocks);
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        struct worker *w = &srv->workers[i];
        blocks[i] = &w->http.stats;
        blocks[n + i] = &w->http.conns;
        blocks[2 * n + i] = w;
        blocks[3 * n + i] = file_cache_stats(w->http.files);
    }
    const void *process = srv;
    int rc = stats_register(srv->stats, http_stat_descs, ARRAY_SIZE(http_stat_descs), blocks, true);
    if (rc == 0)
        rc = stats_register(srv->stats, conn_stat_descs, ARRAY_SIZE(conn_stat_descs), blocks + n,
                            true);
    if (rc == 0)
        rc = stats_register(srv->stats, listener_stat_descs, ARRAY_SIZE(listener_stat_descs),
                            blocks + 2 * n, true);
    if (rc == 0)
        rc = stats_register(srv->stats, cache_stat_descs, ARRAY_SIZE(cache_stat_descs),
                            blocks + 3 * n, true);
    if (rc == 0)
        rc = stats_register(srv->stats, process_stat_descs, ARRAY_SIZE(process_stat_descs),
                            &process, false);
    free(blocks);
    return rc;
}

/* A series' total, for the report. */
static unsigned long long total(const struct server *srv, const char *name, const char *value)
{
    return (unsigned long long)stats_total(srv->stats, name, value);
}

/* Logs the counters once the loops have stopped, from the registry (the "stopped:" lines that
 * scripts read; /status gives the same while the server runs). */
static void report(struct server *srv)
{
    if (!srv->stats || !srv->error_log)
        return;
    char line[768];
    int n = snprintf(line, sizeof(line), "stopped: %llu requests, %llu refused; closed:",
                     total(srv, "tinyweb_requests_total", NULL),
                     total(srv, "tinyweb_connections_refused_total", NULL));
    for (int r = 0; r < CLOSE_REASON_MAX && n > 0 && (size_t)n < sizeof(line); r++)
        n += snprintf(line + n, sizeof(line) - (size_t)n, " %s %llu", close_reason_name(r),
                      total(srv, "tinyweb_connections_closed_total", close_reason_name(r)));
    log_msg(srv->error_log, LOG_LEVEL_INFO, "%s", line);
#define R(c) total(srv, "tinyweb_responses_total", c)
#define P(p) total(srv, "tinyweb_connections", p)
#define T(t) total(srv, "tinyweb_timeouts_total", t)
#define C(x) total(srv, "tinyweb_file_cache_" x, NULL)
    log_msg(srv->error_log, LOG_LEVEL_INFO,
            "responses: 1xx %llu 2xx %llu 3xx %llu 4xx %llu 5xx %llu; connections shed for "
            "lack of fds %llu",
            R("1xx"), R("2xx"), R("3xx"), R("4xx"), R("5xx"),
            total(srv, "tinyweb_listener_shed_total", NULL));
    log_msg(srv->error_log, LOG_LEVEL_INFO,
            "connections: %llu accepted, open: head %llu body %llu app %llu send %llu idle %llu "
            "linger %llu; %llu bytes sent; timeouts: header %llu body %llu app %llu send %llu idle "
            "%llu linger %llu shutdown %llu",
            total(srv, "tinyweb_connections_accepted_total", NULL), P("head"), P("body"), P("app"),
            P("send"), P("idle"), P("linger"), total(srv, "tinyweb_sent_bytes_total", NULL),
            T("header"), T("body"), T("app"), T("send"), T("idle"), T("linger"), T("shutdown"));
    log_msg(srv->error_log, LOG_LEVEL_INFO,
            "file cache: %llu hits %llu misses %llu checks %llu stale %llu evicted; %llu files, "
            "%llu bytes",
            C("hits_total"), C("misses_total"), C("checks_total"), C("stale_total"),
            C("evictions_total"), C("entries"), C("bytes"));
#undef R
#undef P
#undef T
#undef C
}

/*
 * --status: g's status handler, its routes ahead of the static files' catch-all. Uptime counts
 * from the server's start, whichever generation answers. 0, or -1 with the reason in err.
 */
static int status_setup(struct server *srv, struct generation *g, char *err, size_t errlen)
{
    const struct config *cfg = &g->cfg;
    if (cfg->health && health_add_route(&g->routes, cfg->health, &srv->leaving) != 0) {
        snprintf(err, errlen, "--health %s: cannot add its route", cfg->health);
        return -1;
    }
    if (!cfg->status)
        return 0;
    struct status_config sc = {.path = cfg->status,
                               .metrics = cfg->metrics,
                               .allow = cfg->status_allow,
                               .version = TINYWEB_VERSION,
                               .started_ns = srv->started_ns,
                               .started_epoch = srv->started_epoch};
    g->status = status_new(&sc, srv->stats);
    if (!g->status || status_add_routes(g->status, &g->routes) != 0) {
        snprintf(err, errlen, "--status %s: cannot set up the status handler", cfg->status);
        return -1;
    }
    return 0;
}

/* How much the worker pool's threads lower their priority: password hashing yields the cores
 * to the loops (docs/PERFORMANCE.md). */
#define POOL_NICE 10

/* The application's templates: --templates, or ROOT/templates. */
static void templates_dir(const struct config *cfg, char *out, size_t len)
{
    if (cfg->templates)
        snprintf(out, len, "%s", cfg->templates);
    else
        snprintf(out, len, "%s/templates", cfg->root);
}

/*
 * The application's routes in g's table (--db). The application itself is made once, at start
 * (app_start); a reload reads its templates again first.
 */
static int app_setup(struct server *srv, struct generation *g, bool reload, char *err,
                     size_t errlen)
{
    const struct config *cfg = &g->cfg;
    if (!srv->app)
        return 0;
    char dir[4096];
    templates_dir(cfg, dir, sizeof(dir));
    if (reload && app_reload(srv->app, dir, cfg->session_ttl_ms, err, errlen) != 0)
        return -1;
    if (app_routes(srv->app, &g->routes) != 0) {
        snprintf(err, errlen, "the application's routes do not fit the route table");
        return -1;
    }
    return 0;
}

/* The application's options from cfg; dir holds the templates' directory. */
static struct app_options app_options_of(const struct config *cfg, char *dir, size_t dirlen)
{
    templates_dir(cfg, dir, dirlen);
    return (struct app_options){
        .db_url = cfg->db,
        .db_connections = (unsigned)cfg->db_connections,
        .on_workers = cfg->app_on_workers,
        .pwhash_ops = cfg->pwhash_ops,
        .pwhash_mem = (size_t)cfg->pwhash_mem,
        .login_failures = (unsigned)cfg->login_failures,
        .session_ttl_ms = cfg->session_ttl_ms,
        .templates = dir,
    };
}

/* --db: the worker pool, the application, and each loop's port for the pool's completions. */
/* The worker pool and each loop's port: blocking work of the application (--db) and the
 * compressed variants of files (--compress, which a reload may turn on). */
static int pool_start(struct server *srv, char *err, size_t errlen)
{
    const struct config *cfg = srv->cfg;
    srv->pool = pool_new((unsigned)cfg->workers, (size_t)cfg->worker_queue, POOL_NICE, err, errlen);
    if (!srv->pool)
        return -1;
    for (int i = 0; i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        int rc = pool_port_init(&w->port, w->loop);
        if (rc != 0) {
            snprintf(err, errlen, "worker pool: %s", strerror(-rc));
            return -1;
        }
        w->port_open = true;
        w->http.port = &w->port;
        w->http.pool = srv->pool;
    }
    return 0;
}

static int app_start(struct server *srv, char *err, size_t errlen)
{
    const struct config *cfg = srv->cfg;
    if (pool_start(srv, err, errlen) != 0)
        return -1;
    if (!cfg->db)
        return 0;
    char dir[4096];
    struct app_options o = app_options_of(cfg, dir, sizeof(dir));
    srv->app = app_new(&o, srv->pool, err, errlen);
    if (!srv->app)
        return -1;
    if (app_register_stats(srv->app, srv->stats) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return app_setup(srv, srv->gen, false, err, errlen);
}

static void reload(struct server *srv);

/* SIGUSR1 (nginx's logrotate recipe), and part of every reload: the logs open their files again.
 * A failed reopen keeps writing to the old file: the error log says which file, and why. */
static void reopen_logs(struct generation *g)
{
    int a = log_reopen(g->access_log), e = log_reopen(g->error_log);
    if (a != 0)
        log_msg(g->error_log, LOG_LEVEL_ERROR, "cannot reopen the access log %s: %s",
                g->cfg.access_log, strerror(-a));
    if (e != 0)
        log_msg(g->error_log, LOG_LEVEL_ERROR, "cannot reopen the error log %s: %s",
                g->cfg.error_log, strerror(-e));
    log_msg(g->error_log, LOG_LEVEL_INFO, "log files reopened%s", a || e ? " (with errors)" : "");
}

static const char *signal_name(int signo)
{
    switch (signo) {
    case SIGTERM:
        return "SIGTERM";
    case SIGINT:
        return "SIGINT";
    case SIGQUIT:
        return "SIGQUIT";
    case SIGHUP:
        return "SIGHUP";
    default:
        return "SIGUSR1";
    }
}

/* The loop the signals arrive on. */
static struct loop *signal_loop(struct server *srv)
{
    return srv->main_loop ? srv->main_loop : srv->workers[0].loop;
}

/* The drain delay's timer, if it runs, is removed. */
static void end_leave_timer(struct server *srv)
{
    if (srv->leave_fd < 0)
        return;
    loop_del(signal_loop(srv), &srv->leave_io);
    close(srv->leave_fd);
    srv->leave_fd = -1;
}

/* The graceful shutdown proper: the loops stop accepting, idle connections close, responses in
 * flight finish. */
static void begin_stop(struct server *srv, const char *why)
{
    end_leave_timer(srv);
    srv->stopping = true;
    log_msg(srv->error_log, LOG_LEVEL_INFO, "%s: stopping gracefully (up to %llu ms)", why,
            (unsigned long long)srv->gen->cfg.shutdown_timeout_ms);
    if (!srv->main_loop) {
        worker_stop(&srv->workers[0]);
        return;
    }
    for (int i = 0; i < srv->nworkers; i++)
        post(&srv->workers[i], WAKE_STOP);
    loop_stop(srv->main_loop);
}

static void on_leave_timer(struct loop *loop, struct loop_io *io, uint32_t events)
{
    (void)loop;
    (void)events;
    struct server *srv = container_of(io, struct server, leave_io);
    begin_stop(srv, "--drain-delay over");
}

/* --drain-delay: the server keeps serving for delay_ms, but tells a load balancer it is leaving
 * (--health: 503) and closes each connection after its response, so that the balancer takes it
 * out and no request can meet a closed keep-alive connection. 0, or -errno (stop at once). */
static int start_leaving(struct server *srv, uint64_t delay_ms)
{
    srv->leave_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (srv->leave_fd < 0)
        return -errno;
    struct itimerspec when = {.it_value = {.tv_sec = (time_t)(delay_ms / 1000),
                                           .tv_nsec = (long)(delay_ms % 1000) * 1000000}};
    int rc =
        timerfd_settime(srv->leave_fd, 0, &when, NULL) != 0
            ? -errno
            : loop_add(signal_loop(srv), &srv->leave_io, srv->leave_fd, EPOLLIN, on_leave_timer);
    if (rc != 0) {
        close(srv->leave_fd);
        srv->leave_fd = -1;
        return rc;
    }
    atomic_store(&srv->leaving, true);
    return 0;
}

static void on_signal(int signo, void *ctx)
{
    struct server *srv = ctx;
    if (signo == SIGUSR1) {
        log_msg(srv->error_log, LOG_LEVEL_INFO, "SIGUSR1: reopening the log files");
        reopen_logs(srv->gen);
        return;
    }
    if (signo == SIGHUP) {
        if (!srv->stopping)
            reload(srv);
        return;
    }
    if (srv->stopping)
        return;
    if (atomic_load(&srv->leaving)) {
        /* A second stop signal: the delay ends now. */
        begin_stop(srv, signal_name(signo));
        return;
    }
    notify_send("STOPPING=1");
    uint64_t delay = srv->gen->cfg.drain_delay_ms;
    if (delay > 0) {
        int rc = start_leaving(srv, delay);
        if (rc == 0) {
            log_msg(srv->error_log, LOG_LEVEL_INFO,
                    "%s: leaving: serving %llu ms more with connections closed after each "
                    "response%s, then stopping gracefully",
                    signal_name(signo), (unsigned long long)delay,
                    srv->gen->cfg.health ? " and --health answering 503" : "");
            return;
        }
        log_msg(srv->error_log, LOG_LEVEL_ERROR, "--drain-delay: no timer (%s): stopping now",
                strerror(-rc));
    }
    begin_stop(srv, signal_name(signo));
}

static void on_accept(struct listener *l, int fd, const struct sockaddr *peer, socklen_t len)
{
    struct worker *w = l->data;
    http_loop_accept(&w->http, fd, peer, len, l->tls);
}

/* ports[i]: the port of listen address i ("0" until the first loop's listener picked one). */
static int worker_open(struct server *srv, struct worker *w, char (*ports)[8], char *err,
                       size_t errlen)
{
    const struct config *cfg = srv->cfg;
    struct loop_config lc = {.timer = cfg->timer, .tick = cfg->tick, .tick_ms = cfg->tick_ms};
    w->srv = srv;
    w->wake_fd = -1;
    http_loop_configure(&w->http, &srv->gen->settings, &lc);
    w->loop = loop_new(&lc);
    if (!w->loop) {
        snprintf(err, errlen, "cannot create an event loop: %s", strerror(errno));
        return -errno;
    }
    int rc = http_loop_init(&w->http, w->loop, cfg->conn_et ? EPOLLET : 0);
    if (rc != 0) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    w->http.leaving = &srv->leaving;
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0 || (rc = loop_add(w->loop, &w->wake_io, w->wake_fd, EPOLLIN, on_wake))) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        return -errno;
    }
    for (int i = 0; i < cfg->nlisten && rc == 0; i++) {
        struct listener *l = &w->listeners[i];
        rc = listener_open(l, w->loop, cfg->listens[i].host, ports[i], SOMAXCONN,
                           cfg->listen_et ? EPOLLET : 0, srv->nworkers > 1, on_accept, err, errlen);
        if (rc != 0)
            break;
        w->nlisteners++;
        l->data = w;
        l->tls = cfg->listens[i].tls;
        snprintf(ports[i], sizeof(ports[i]), "%u", l->port);
    }
    /* nginx's `deferred` uses 1 s too: long enough for any client that sends its request at
     * once, short enough that a silent one is not held long before its header timeout. */
    for (int i = 0; i < w->nlisteners && rc == 0 && cfg->defer_accept; i++)
        if ((rc = listener_defer_accept(&w->listeners[i], 1)) != 0)
            snprintf(err, errlen, "TCP_DEFER_ACCEPT: %s", strerror(-rc));
    return rc;
}

static void worker_close(struct worker *w)
{
    if (!w->loop)
        return;
    for (int i = 0; i < w->nlisteners; i++)
        listener_close(&w->listeners[i]);
    /* The pool stopped first: every job of this loop comes back once the connections are
     * closed (an application job finds its connection gone; a compression job gives its file
     * back to the cache, which goes after it), and is freed. */
    if (w->http.scratch)
        conn_set_close_all(&w->http.conns, CLOSE_SHUTDOWN);
    if (w->port_open)
        pool_port_close(&w->port);
    if (w->http.scratch)
        http_loop_free(&w->http);
    if (w->wake_fd >= 0) {
        loop_del(w->loop, &w->wake_io);
        close(w->wake_fd);
    }
    loop_free(w->loop);
    w->loop = NULL;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    /* Signals belong to the main thread's unified event source. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    w->rc = loop_run(w->loop);
    return NULL;
}

/* fds open now, or -1 without /proc (the listing's own fd is left out). */
static long fds_open(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    for (struct dirent *de; (de = readdir(d));)
        n += de->d_name[0] != '.';
    closedir(d);
    return n - 1;
}

/*
 * Raises the soft fd limit to the hard one and shares what the fds open now (logs, root, loops,
 * listeners) and a spare leave among the loops (srv->fds_per_loop). A connection holds its
 * socket, and while it sends a file not held in memory, that file's fd too: a loop refuses
 * connections and such files with 503 past its share (http_conn.c), so accept() never meets
 * EMFILE because of the server's own fds, with any number of loops. (The listener's reserve fd
 * handles EMFILE from elsewhere: a limit lowered while running.)
 */
static void measure_fds(struct server *srv)
{
    size_t nw = (size_t)srv->nworkers;
    srv->fds_per_loop = SIZE_MAX;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY)
        return;
    srv->nofile = rl.rlim_cur;
    long open_now = fds_open();
    uint64_t used = (uint64_t)(open_now < 0 ? FD_FIXED_GUESS : open_now) + FD_SPARE_BASE +
                    FD_SPARE_PER_LOOP * nw;
    uint64_t room = rl.rlim_cur > used + nw ? rl.rlim_cur - used : nw;
    srv->fds_per_loop = (size_t)(room / nw);
}

/*
 * --max-connections shared evenly among the loops (as nginx's worker_connections is per worker),
 * within each loop's fd share: an eighth of it is left to files, so a loop full of connections
 * still sends some of them theirs.
 */
static void share_fds(struct server *srv, struct http_settings *s, uint64_t want)
{
    size_t nw = (size_t)srv->nworkers;
    s->max_connections = (size_t)(want + nw - 1) / nw;
    s->max_fds = srv->fds_per_loop;
    s->file_fds = s->max_fds == SIZE_MAX ? 0 : s->max_fds / 8;
    size_t fit = s->max_fds - s->file_fds;
    if (s->max_connections > fit) {
        log_msg(srv->error_log, LOG_LEVEL_WARN,
                "--max-connections %llu lowered to %llu: the open-file limit %llu leaves %llu "
                "fds for connections and the files they send",
                (unsigned long long)want, (unsigned long long)(fit * nw),
                (unsigned long long)srv->nofile, (unsigned long long)(s->max_fds * nw));
        s->max_connections = fit;
    }
}

/*
 * --user: started as root, the server binds its port and opens its logs and root first, then
 * takes the account's groups, gid and uid, in that order (the uid last, as it removes the right
 * to change the others), and checks that root cannot be regained. Like nginx's "user", but for
 * the whole process: there is no privileged master left to reopen logs or rebind.
 */
static int drop_privileges(const char *name, char *err, size_t errlen)
{
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        snprintf(err, errlen, "--user %s: no such user", name);
        return -1;
    }
    if (geteuid() != 0) {
        if (pw->pw_uid == geteuid())
            return 0;
        snprintf(err, errlen, "--user %s: only root can switch users (running as uid %u)", name,
                 (unsigned)geteuid());
        return -1;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        snprintf(err, errlen, "--user %s: %s", name, strerror(errno));
        return -1;
    }
    if (pw->pw_uid != 0 && setuid(0) == 0) {
        snprintf(err, errlen, "--user %s: root privileges could be regained", name);
        return -1;
    }
    return 0;
}

static struct log *open_log(const char *path, int std_fd, bool async, char *err, size_t errlen)
{
    struct log_config lc = {
        .path = path, .std_fd = std_fd, .level = LOG_LEVEL_INFO, .async = async};
    return log_open(&lc, err, errlen);
}

/*
 * Opens g's logs, or takes prev's where the path did not change (a reload then reopens them,
 * as logrotate expects of SIGHUP). 0, or -1 with the reason in err.
 */
static int open_logs(struct generation *g, const struct generation *prev, char *err, size_t errlen)
{
    const struct config *cfg = &g->cfg;
    if (cfg->log_off)
        return 0;
    if (prev && prev->error_log && strcmp(prev->cfg.error_log, cfg->error_log) == 0)
        g->error_log = prev->error_log;
    else if (!(g->error_log = open_log(cfg->error_log, STDERR_FILENO, cfg->log_async, err, errlen)))
        return -1;
    if (strcmp(cfg->access_log, "off") == 0)
        return 0;
    if (prev && prev->access_log && strcmp(prev->cfg.access_log, cfg->access_log) == 0)
        g->access_log = prev->access_log;
    else if (!(g->access_log =
                   open_log(cfg->access_log, STDOUT_FILENO, cfg->log_async, err, errlen)))
        return -1;
    return 0;
}

/* Frees g and what it holds that keep (the generation that follows it, or NULL) does not. */
static void generation_free(struct generation *g, const struct generation *keep)
{
    if (!g)
        return;
    if (!keep || g->access_log != keep->access_log)
        log_close(g->access_log);
    if (!keep || g->error_log != keep->error_log)
        log_close(g->error_log);
    if (g->root_fd >= 0)
        close(g->root_fd);
    status_free(g->status);
    tls_ctx_free(g->tls);
    config_free(&g->cfg);
    free(g);
}

static void no_timers(struct timer_node *node, int cls, void *ctx)
{
    (void)node;
    (void)cls;
    (void)ctx;
}

/*
 * The loops are done: the signals the source watched stay blocked from now on, before it gives
 * them back their default action, so that one more SIGTERM (a supervisor that repeats it) or a
 * last SIGALRM of the alarm tick cannot kill the process while it tears down. A blocked signal
 * stays pending and is dropped at exit: the exit status stays 0.
 */
static void close_signals(void)
{
    static const int handled[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGALRM};
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < ARRAY_SIZE(handled); i++)
        sigaddset(&set, handled[i]);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sig_source_close();
}

/*
 * One loop: it runs here, with the unified event source on it, exactly the seeds' shape. More:
 * each runs on a thread of its own and this thread keeps a small loop for signals only.
 */
static int run_loops(struct server *srv)
{
    int rc;
    if (srv->nworkers == 1) {
        rc = sig_source_open(srv->workers[0].loop, on_signal, srv);
        if (rc == 0)
            rc = loop_run(srv->workers[0].loop);
        end_leave_timer(srv);
        close_signals();
        return rc;
    }
    static const uint64_t unused_ms = 1000;
    struct loop_config lc = {.timer = TIMER_FIFO,
                             .tick = TICK_EPOLL,
                             .tick_ms = 1000,
                             .timeouts_ms = &unused_ms,
                             .nclasses = 1,
                             .on_expire = &(const struct timer_handler){no_timers, NULL}};
    srv->main_loop = loop_new(&lc);
    if (!srv->main_loop)
        return -errno;
    if ((rc = sig_source_open(srv->main_loop, on_signal, srv)) != 0)
        goto out;
    /* Threads inherit this mask: signals reach this thread only, so the loops' epoll_wait is
     * never interrupted (the handler would work on any thread; this keeps EINTR away). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int started = 0;
    for (; started < srv->nworkers; started++) {
        struct worker *w = &srv->workers[started];
        if ((rc = -pthread_create(&w->thread, NULL, worker_main, w)) != 0)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        rc = loop_run(srv->main_loop);
    /* Stop whatever still runs (the signal path posted WAKE_STOP already, unless a failure
     * brought us here), then wait for every loop to drain. */
    for (int i = 0; i < started; i++)
        post(&srv->workers[i], WAKE_STOP);
    for (int i = 0; i < started; i++) {
        pthread_join(srv->workers[i].thread, NULL);
        if (rc == 0)
            rc = srv->workers[i].rc;
    }
out:
    end_leave_timer(srv);
    close_signals();
    loop_free(srv->main_loop);
    srv->main_loop = NULL;
    return rc;
}

static void settings_init(struct generation *g)
{
    const struct config *cfg = &g->cfg;
    struct http_settings *s = &g->settings;
    s->root_fd = g->root_fd;
    s->limits = (struct http_limits){.max_header_bytes = cfg->max_header_bytes,
                                     .max_headers = cfg->max_headers,
                                     .max_uri_bytes = cfg->max_uri_bytes};
    s->max_body_bytes = cfg->max_body_bytes;
    s->linger_always = cfg->linger;
    s->sendfile_min = (int64_t)cfg->sendfile_min;
    s->file_cache = (struct file_cache_config){
        .max_entries = (uint32_t)cfg->file_cache_entries,
        .max_bytes = (size_t)cfg->file_cache_bytes,
        .max_file = (size_t)cfg->file_cache_bytes / 16,
        .valid_ms = cfg->file_cache_valid_ms,
        .index = cfg->index,
        .compress = cfg->compress || cfg->compress_static ? cfg->compress_encodings : 0,
        .min_compress = (size_t)cfg->compress_min,
        .compress_types = cfg->compress_types,
        .siblings = cfg->compress_static,
    };
    s->compress = cfg->compress;
    s->autoindex = cfg->autoindex;
    s->timeouts_ms[HTTP_TIMEOUT_HEADER] = cfg->header_timeout_ms;
    s->timeouts_ms[HTTP_TIMEOUT_BODY] = cfg->body_timeout_ms;
    s->timeouts_ms[HTTP_TIMEOUT_SEND] = cfg->send_timeout_ms;
    s->timeouts_ms[HTTP_TIMEOUT_IDLE] = cfg->idle_timeout_ms;
    s->timeouts_ms[HTTP_TIMEOUT_APP] = cfg->app_timeout_ms;
    s->timeouts_ms[HTTP_TIMEOUT_LINGER] = LINGER_TIMEOUT_MS;
    s->timeouts_ms[HTTP_TIMEOUT_SHUTDOWN] = cfg->shutdown_timeout_ms;
    s->access_log = g->access_log;
    s->error_log = g->error_log;
    s->root_path = cfg->root;
    s->log_not_found = cfg->log_not_found;
    /* The application's default templates are beneath the root: their raw text is not a page. */
    s->hidden_dir = cfg->db && !cfg->templates ? "templates" : NULL;
    s->generation = g->number;
    s->tls = g->tls;
    s->error_pages = cfg->error_pages;
    s->nerror_pages = cfg->nerror_pages;
    s->cache_rules = cfg->cache_rules;
    s->ncache_rules = cfg->ncache_rules;
    if (cfg->hsts_s) {
        snprintf(g->hsts, sizeof(g->hsts), "max-age=%llu", (unsigned long long)cfg->hsts_s);
        s->hsts = g->hsts;
    }
    /* Static files answer everything; --status adds its routes once the registry exists. */
    http_routes_init(&g->routes, http_static_handler, NULL, HTTP_METHODS_READ);
    s->routes = &g->routes;
}

/* The TLS context of g's listeners, its certificate and key read now (at start, and again at
 * each reload: a renewed certificate is picked up, a bad one refused). 0, or -1 and err. */
static int tls_setup(struct generation *g, char *err, size_t errlen)
{
    const struct config *cfg = &g->cfg;
    bool any = false;
    for (int i = 0; i < cfg->nlisten; i++)
        any |= cfg->listens[i].tls;
    if (!any)
        return 0;
    struct tls_config tc = {
        .cert = cfg->tls_cert,
        .key = cfg->tls_key,
        .tls12 = cfg->tls12,
        .tls13 = cfg->tls13,
        .ciphers = cfg->tls_ciphers,
        .ciphersuites = cfg->tls_ciphersuites,
        .session_cache = cfg->tls_session_cache,
        .ticket_rotate_ms = cfg->tls_ticket_rotate_ms,
    };
    g->tls = tls_ctx_new(&tc, err, errlen);
    return g->tls ? 0 : -1;
}

/*
 * A generation from argv (and the file it names), with its root and logs open; prev is the
 * running one, whose logs it shares where their paths are the same. NULL, with each reason
 * already written to err (one line each), on failure.
 */
static struct generation *generation_new(int argc, char **argv, const struct generation *prev,
                                         FILE *err, int *exit_code)
{
    struct generation *g = calloc(1, sizeof(*g));
    if (!g) {
        fprintf(err, "tinyweb: out of memory\n");
        return NULL;
    }
    g->root_fd = -1;
    g->number = prev ? prev->number + 1 : 1;
    int rc = config_parse(&g->cfg, argc, argv, err);
    if (rc != 0) {
        *exit_code = rc == 1 ? 0 : rc;
        generation_free(g, prev);
        return NULL;
    }
    *exit_code = 1;
    char msg[512];
    if (tls_setup(g, msg, sizeof(msg)) != 0) {
        fprintf(err, "tinyweb: %s\n", msg);
        generation_free(g, prev);
        return NULL;
    }
    if (g->cfg.test_only)
        return g;
    g->root_fd = open(g->cfg.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (g->root_fd < 0) {
        fprintf(err, "tinyweb: cannot read the root %s: %s\n", g->cfg.root, strerror(errno));
        generation_free(g, prev);
        return NULL;
    }
    if (open_logs(g, prev, msg, sizeof(msg)) != 0) {
        fprintf(err, "tinyweb: %s\n", msg);
        generation_free(g, prev);
        return NULL;
    }
    settings_init(g);
    return g;
}

/* Each line of text (a reload's errors) as an error-log line. */
static void log_lines(struct log *l, const char *prefix, const char *text)
{
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        log_msg(l, LOG_LEVEL_ERROR, "%s%.*s", prefix, (int)n, p);
        p += n + (p[n] == '\n');
    }
}

/*
 * SIGHUP: reads the configuration again, as nginx does. Settings that can change live go to
 * every loop at its next wake-up and apply to the requests that start after it; nothing is
 * dropped. A configuration with an error, or one that changes what only a restart can (listen,
 * -t, user, ...), changes nothing and the error log says why. The logs are reopened either way.
 */
static void reload(struct server *srv)
{
    struct generation *cur = srv->gen;
    notify_reloading();
    log_msg(srv->error_log, LOG_LEVEL_INFO, "SIGHUP: reloading the configuration%s%s",
            cur->cfg.file ? " from " : "", cur->cfg.file ? cur->cfg.file : "");
    char *errors = NULL;
    size_t errlen = 0;
    FILE *err = open_memstream(&errors, &errlen);
    int exit_code;
    struct generation *g =
        err ? generation_new(cur->cfg.argc, cur->cfg.argv, cur, err, &exit_code) : NULL;
    if (err)
        fclose(err);
    char fixed[512];
    if (g && config_fixed_changes(&cur->cfg, &g->cfg, fixed, sizeof(fixed)) > 0) {
        log_msg(srv->error_log, LOG_LEVEL_ERROR,
                "reload refused: %s cannot change without a restart; the running configuration "
                "stays",
                fixed);
        generation_free(g, cur);
        g = NULL;
    } else if (!g) {
        log_lines(srv->error_log, "reload failed, the running configuration stays: ",
                  errors && *errors ? errors : "out of memory\n");
    } else if (status_setup(srv, g, fixed, sizeof(fixed)) != 0 ||
               app_setup(srv, g, true, fixed, sizeof(fixed)) != 0) {
        log_msg(srv->error_log, LOG_LEVEL_ERROR, "reload failed: %s", fixed);
        generation_free(g, cur);
        g = NULL;
    }
    free(errors);
    counter_add(&srv->reloads[g ? 0 : 1], 1);
    if (!g) {
        reopen_logs(cur);
        notify_send("READY=1");
        return;
    }
    share_fds(srv, &g->settings, g->cfg.max_connections);
    g->settings.https_port = g->cfg.redirect_https ? srv->https_port : NULL;
    /* The loops switch to g at their next wake-up (at once when this is the only loop). */
    /* The counters first: a loop that takes next adds to this round's. And /status reads the
     * live generation: before any loop can switch, so a switched loop never reads cur, which
     * is freed below. */
    atomic_store(&srv->switched, 0);
    atomic_store(&srv->kept, 0);
    atomic_store_explicit(&srv->live, g, memory_order_release);
    atomic_store(&srv->next, g);
    if (!srv->main_loop) {
        bool ok = http_loop_reconfigure(&srv->workers[0].http, &g->settings) == 0;
        atomic_store(ok ? &srv->switched : &srv->kept, 1);
    } else {
        for (int i = 0; i < srv->nworkers; i++)
            post(&srv->workers[i], WAKE_RELOAD);
    }
    for (int waited = 0; atomic_load(&srv->switched) + atomic_load(&srv->kept) < srv->nworkers &&
                         waited < RELOAD_WAIT_MS;
         waited++)
        usleep(1000);
    srv->gen = g;
    srv->cfg = &g->cfg;
    srv->error_log = g->error_log;
    if (atomic_load(&srv->switched) == srv->nworkers) {
        generation_free(cur, g);
    } else {
        /* A loop still reads it (it could not switch, or did not answer): freed at exit. Its logs
         * stay open until then; those g shares are g's from now on, so each log has one owner. */
        int kept = atomic_load(&srv->kept);
        log_msg(srv->error_log, LOG_LEVEL_WARN,
                "%d loop(s) kept the previous configuration, %d did not answer within %d ms", kept,
                srv->nworkers - atomic_load(&srv->switched) - kept, RELOAD_WAIT_MS);
        if (cur->access_log == g->access_log)
            cur->access_log = NULL;
        if (cur->error_log == g->error_log)
            cur->error_log = NULL;
        cur->retired_next = srv->retired;
        srv->retired = cur;
    }
    reopen_logs(g);
    log_msg(srv->error_log, LOG_LEVEL_INFO, "configuration reloaded (generation %u)", g->number);
    notify_send("READY=1");
}

/*
 * The loops' SO_REUSEPORT listeners would let another server of the same user join the port
 * (listener_probe() refused a port already in use; two servers starting at the same instant
 * both get past it). Another process on the port is an error, exit 1; being unable to check
 * (no sock_diag in this kernel) is only a warning, as the probe did its part. For each address,
 * every listener of this process counts as ours (two addresses of one port may overlap).
 */
static int check_sole_listeners(struct server *srv, char *err, size_t errlen)
{
    int nl = srv->workers[0].nlisteners, total = srv->nworkers * nl;
    struct listener **ls = calloc((size_t)total, sizeof(*ls));
    if (!ls) {
        fprintf(stderr, "tinyweb: out of memory\n");
        return -ENOMEM;
    }
    int rc = 0;
    for (int a = 0; a < nl && rc == 0; a++) {
        /* ls[0] names the address to check; the rest are this process's other listeners. */
        int n = 0;
        ls[n++] = &srv->workers[0].listeners[a];
        for (int i = 0; i < srv->nworkers; i++)
            for (int b = 0; b < nl; b++)
                if (i != 0 || b != a)
                    ls[n++] = &srv->workers[i].listeners[b];
        rc = listener_check_sole(ls, n, err, errlen);
    }
    free(ls);
    if (rc == -EADDRINUSE) {
        fprintf(stderr, "tinyweb: %s\n", err);
        return rc;
    }
    if (rc != 0)
        log_msg(srv->error_log, LOG_LEVEL_WARN, "cannot check that the port is ours alone: %s",
                err);
    return 0;
}

/* --pid-file: written once the ports are bound (before --user drops the right to). */
static int write_pid_file(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    char text[24];
    int n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    if (fd < 0 || write(fd, text, (size_t)n) != n) {
        snprintf(err, errlen, "cannot write the pid file %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* "http://127.0.0.1:9006/, http://[::1]:8080/" */
static void format_addresses(const struct config *cfg, char (*ports)[8], char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < cfg->nlisten && used < len; i++) {
        const char *host = cfg->listens[i].host;
        bool v6 = strchr(host, ':') != NULL;
        int w =
            snprintf(out + used, len - used, "%shttp%s://%s%s%s:%s/", i ? ", " : "",
                     cfg->listens[i].tls ? "s" : "", v6 ? "[" : "", host, v6 ? "]" : "", ports[i]);
        used += w > 0 ? (size_t)w : 0;
    }
}

int server_main(int argc, char **argv)
{
    struct server srv = {.leave_fd = -1};
    char err[512];
    int rc = 0, exit_code = 1;
    struct generation *g = generation_new(argc, argv, NULL, stderr, &exit_code);
    if (!g)
        return exit_code;
    if (g->cfg.test_only) {
        char dir[4096];
        struct app_options o = app_options_of(&g->cfg, dir, sizeof(dir));
        if (g->cfg.db && app_check(&o, err, sizeof(err)) != 0) {
            fprintf(stderr, "tinyweb: %s\n", err);
            generation_free(g, NULL);
            return 1;
        }
        fprintf(stderr, "tinyweb: configuration ok%s%s\n", g->cfg.file ? ": " : "",
                g->cfg.file ? g->cfg.file : "");
        generation_free(g, NULL);
        return 0;
    }
    const struct config *cfg = &g->cfg;
    srv.gen = g;
    atomic_init(&srv.live, g);
    srv.started_ns = clock_now_ns();
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    srv.started_epoch = (double)wall.tv_sec + (double)wall.tv_nsec / 1e9;
    srv.cfg = cfg;
    srv.error_log = g->error_log;
    srv.nworkers = (int)cfg->threads;
    srv.workers = calloc((size_t)srv.nworkers, sizeof(*srv.workers));
    if (!srv.workers) {
        fprintf(stderr, "tinyweb: out of memory\n");
        goto out;
    }
    /* With port 0 the first loop's listener picks the port and the others share it. */
    char ports[CONFIG_LISTEN_MAX][8];
    for (int i = 0; i < cfg->nlisten; i++) {
        snprintf(ports[i], sizeof(ports[i]), "%s", cfg->listens[i].port);
        if (srv.nworkers > 1 &&
            listener_probe(cfg->listens[i].host, ports[i], err, sizeof(err)) != 0) {
            fprintf(stderr, "tinyweb: %s\n", err);
            goto out;
        }
    }
    for (int i = 0; i < srv.nworkers; i++) {
        if (worker_open(&srv, &srv.workers[i], ports, err, sizeof(err)) != 0) {
            fprintf(stderr, "tinyweb: %s\n", err);
            goto out;
        }
    }
    if (srv.nworkers > 1 && check_sole_listeners(&srv, err, sizeof(err)) != 0)
        goto out;
    for (int i = cfg->nlisten - 1; i >= 0; i--)
        if (cfg->listens[i].tls)
            snprintf(srv.https_port, sizeof(srv.https_port), "%s", ports[i]);
    g->settings.https_port = cfg->redirect_https ? srv.https_port : NULL;
    if (stats_setup(&srv) != 0) {
        fprintf(stderr, "tinyweb: out of memory\n");
        goto out;
    }
    if (status_setup(&srv, g, err, sizeof(err)) != 0) {
        fprintf(stderr, "tinyweb: %s\n", err);
        goto out;
    }
    measure_fds(&srv);
    share_fds(&srv, &g->settings, cfg->max_connections);
    if (cfg->pid_file && write_pid_file(cfg->pid_file, err, sizeof(err)) != 0) {
        fprintf(stderr, "tinyweb: %s\n", err);
        goto out;
    }
    if (cfg->user && drop_privileges(cfg->user, err, sizeof(err)) != 0) {
        fprintf(stderr, "tinyweb: %s\n", err);
        goto out_pid;
    }
    if (!cfg->user && geteuid() == 0)
        log_msg(srv.error_log, LOG_LEVEL_WARN,
                "running as root: consider --user NAME to drop privileges after binding");
    /* After --user: the database's files belong to the account that serves. */
    if (app_start(&srv, err, sizeof(err)) != 0) {
        fprintf(stderr, "tinyweb: %s\n", err);
        goto out_pid;
    }
    char addrs[1024];
    format_addresses(cfg, ports, addrs, sizeof(addrs));
    fprintf(stderr, "tinyweb: listening on %s (root %s, %d loop%s, timer %s, tick %s)\n", addrs,
            cfg->root, srv.nworkers, srv.nworkers > 1 ? "s" : "", timer_kind_name(cfg->timer),
            tick_kind_name(cfg->tick));
    if (srv.app) {
        char shown[512]; /* a URL's password stays out of the log */
        fprintf(stderr, "tinyweb: application on: database %s, %llu worker%s, -a %d\n",
                db_url_redact(cfg->db, shown, sizeof(shown)), (unsigned long long)cfg->workers,
                cfg->workers > 1 ? "s" : "", cfg->app_on_workers ? 1 : 0);
    }
    notify_ready(addrs);
    rc = run_loops(&srv);
    if (rc != 0)
        fprintf(stderr, "tinyweb: event loop failed: %s\n", strerror(-rc));
    else
        exit_code = 0;
    report(&srv);
out_pid:
    /* After --user the directory may no longer be ours to change: say so, once. */
    if (srv.gen->cfg.pid_file && unlink(srv.gen->cfg.pid_file) != 0)
        log_msg(srv.error_log, LOG_LEVEL_WARN, "cannot remove the pid file %s: %s",
                srv.gen->cfg.pid_file, strerror(errno));
out:
    /* Jobs still waiting are not run (their connections are closed below); running ones end. */
    if (srv.pool)
        pool_stop(srv.pool);
    for (int i = 0; srv.workers && i < srv.nworkers; i++)
        worker_close(&srv.workers[i]);
    free(srv.workers);
    pool_free(srv.pool);
    app_free(srv.app);
    while (srv.retired) {
        struct generation *r = srv.retired;
        srv.retired = r->retired_next;
        generation_free(r, NULL);
    }
    generation_free(srv.gen, NULL);
    stats_free(srv.stats);
    return exit_code;
}
