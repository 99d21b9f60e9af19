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
#include <unistd.h>

#include "core/defs.h"
#include "core/sig.h"
#include "core/tick.h"
#include "http/http_conn.h"
#include "net/listener.h"

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
enum { WAKE_STOP = 1 };

struct worker {
    struct server *srv;
    pthread_t thread;
    struct loop *loop;
    struct http_loop http;
    struct listener listener;
    struct loop_io wake_io;
    int wake_fd;
    atomic_uint commands; /* WAKE_* bits posted by the main thread */
    int rc;
};

struct server {
    const struct config *cfg;
    struct http_settings settings;
    struct log *access_log, *error_log;
    int nworkers;
    struct worker *workers;
    struct loop *main_loop; /* signals, when the loops run on threads of their own */
    bool stopping;
};

static void worker_stop(struct worker *w)
{
    listener_close(&w->listener);
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

/* The loops' counters summed, read while they run (core/counter.h). */
struct totals {
    uint64_t requests, rejected, responses[6], phases[PHASE_COUNT], expired[HTTP_TIMEOUT_COUNT];
    uint64_t opened, closed[CLOSE_REASON_MAX], bytes_out, shed;
    uint64_t cache_hits, cache_misses, cache_checks, cache_stale, cache_evicted;
    uint64_t cache_entries, cache_bytes;
};

static void sum_counters(const struct server *srv, struct totals *t)
{
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < srv->nworkers; i++) {
        const struct worker *w = &srv->workers[i];
        const struct http_stats *st = &w->http.stats;
        t->requests += counter_get(&st->requests);
        t->rejected += counter_get(&st->rejected);
        for (int c = 1; c < 6; c++)
            t->responses[c] += counter_get(&st->responses[c]);
        for (int p = 0; p < PHASE_COUNT; p++)
            t->phases[p] += counter_get(&st->phases[p]);
        for (int x = 0; x < HTTP_TIMEOUT_COUNT; x++)
            t->expired[x] += counter_get(&st->expired[x]);
        t->opened += counter_get(&w->http.conns.opened);
        for (int r = 0; r < CLOSE_REASON_MAX; r++)
            t->closed[r] += counter_get(&w->http.conns.closed[r]);
        t->bytes_out += counter_get(&w->http.conns.bytes_out);
        t->shed += counter_get(&w->listener.shed);
        if (w->http.files) {
            const struct file_cache_stats *fs = file_cache_stats(w->http.files);
            t->cache_hits += counter_get(&fs->hits);
            t->cache_misses += counter_get(&fs->misses);
            t->cache_checks += counter_get(&fs->checks);
            t->cache_stale += counter_get(&fs->stale);
            t->cache_evicted += counter_get(&fs->evicted);
            t->cache_entries += counter_get(&fs->entries);
            t->cache_bytes += counter_get(&fs->bytes);
        }
    }
}

#define LLU(x) ((unsigned long long)(x))

/* Logs the counters: on SIGUSR1 while serving, and once at the end. */
static void report(struct server *srv, bool final)
{
    struct totals t;
    sum_counters(srv, &t);
    char line[768];
    int n = snprintf(line, sizeof(line),
                     "%s: %llu requests, %llu refused; closed:", final ? "stopped" : "status",
                     LLU(t.requests), LLU(t.rejected));
    for (int r = 0; r < CLOSE_REASON_MAX && n > 0 && (size_t)n < sizeof(line); r++)
        n += snprintf(line + n, sizeof(line) - (size_t)n, " %s %llu", close_reason_name(r),
                      LLU(t.closed[r]));
    log_msg(srv->error_log, LOG_LEVEL_INFO, "%s", line);
    log_msg(srv->error_log, LOG_LEVEL_INFO,
            "responses: 1xx %llu 2xx %llu 3xx %llu 4xx %llu 5xx %llu; connections shed for "
            "lack of fds %llu",
            LLU(t.responses[1]), LLU(t.responses[2]), LLU(t.responses[3]), LLU(t.responses[4]),
            LLU(t.responses[5]), LLU(t.shed));
    log_msg(srv->error_log, LOG_LEVEL_INFO,
            "connections: %llu accepted, open: head %llu body %llu send %llu idle %llu linger "
            "%llu; %llu bytes sent; timeouts: header %llu body %llu send %llu idle %llu linger "
            "%llu shutdown %llu",
            LLU(t.opened), LLU(t.phases[PHASE_HEAD]), LLU(t.phases[PHASE_BODY]),
            LLU(t.phases[PHASE_SEND]), LLU(t.phases[PHASE_IDLE]), LLU(t.phases[PHASE_LINGER]),
            LLU(t.bytes_out), LLU(t.expired[HTTP_TIMEOUT_HEADER]),
            LLU(t.expired[HTTP_TIMEOUT_BODY]), LLU(t.expired[HTTP_TIMEOUT_SEND]),
            LLU(t.expired[HTTP_TIMEOUT_IDLE]), LLU(t.expired[HTTP_TIMEOUT_LINGER]),
            LLU(t.expired[HTTP_TIMEOUT_SHUTDOWN]));
    log_msg(srv->error_log, LOG_LEVEL_INFO,
            "file cache: %llu hits %llu misses %llu checks %llu stale %llu evicted; %llu files, "
            "%llu bytes",
            LLU(t.cache_hits), LLU(t.cache_misses), LLU(t.cache_checks), LLU(t.cache_stale),
            LLU(t.cache_evicted), LLU(t.cache_entries), LLU(t.cache_bytes));
}

static void on_signal(int signo, void *ctx)
{
    struct server *srv = ctx;
    if (signo == SIGUSR1) {
        report(srv, false);
        return;
    }
    if (signo == SIGHUP) {
        int a = log_reopen(srv->access_log), e = log_reopen(srv->error_log);
        /* A failed reopen keeps writing to the old file: say which file, and why. */
        if (a != 0)
            log_msg(srv->error_log, LOG_LEVEL_ERROR, "cannot reopen the access log %s: %s",
                    srv->cfg->access_log, strerror(-a));
        if (e != 0)
            log_msg(srv->error_log, LOG_LEVEL_ERROR, "cannot reopen the error log %s: %s",
                    srv->cfg->error_log, strerror(-e));
        log_msg(srv->error_log, LOG_LEVEL_INFO, "SIGHUP: log files reopened%s",
                a || e ? " (with errors)" : "");
        return;
    }
    if (srv->stopping)
        return;
    srv->stopping = true;
    log_msg(srv->error_log, LOG_LEVEL_INFO, "%s: stopping gracefully (up to %llu ms)",
            signo == SIGTERM ? "SIGTERM" : "SIGINT",
            (unsigned long long)srv->cfg->shutdown_timeout_ms);
    if (!srv->main_loop) {
        worker_stop(&srv->workers[0]);
        return;
    }
    for (int i = 0; i < srv->nworkers; i++)
        post(&srv->workers[i], WAKE_STOP);
    loop_stop(srv->main_loop);
}

static void on_accept(struct listener *l, int fd, const struct sockaddr *peer, socklen_t len)
{
    struct worker *w = l->data;
    http_loop_accept(&w->http, fd, peer, len);
}

static int worker_open(struct server *srv, struct worker *w, const char *port, char *err,
                       size_t errlen)
{
    const struct config *cfg = srv->cfg;
    struct loop_config lc = {.timer = cfg->timer, .tick = cfg->tick, .tick_ms = cfg->tick_ms};
    w->srv = srv;
    w->wake_fd = -1;
    http_loop_configure(&w->http, &srv->settings, &lc);
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
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0 || (rc = loop_add(w->loop, &w->wake_io, w->wake_fd, EPOLLIN, on_wake))) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        return -errno;
    }
    rc = listener_open(&w->listener, w->loop, cfg->host, port, SOMAXCONN,
                       cfg->listen_et ? EPOLLET : 0, srv->nworkers > 1, on_accept, err, errlen);
    w->listener.data = w;
    return rc;
}

static void worker_close(struct worker *w)
{
    if (!w->loop)
        return;
    /* listener_open() sets the listener's loop first: before it ran, its fds are not -1 yet. */
    if (w->listener.loop)
        listener_close(&w->listener);
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
 * listeners) and a spare leave among the loops. A connection holds its socket, and while it
 * sends a file not held in memory, that file's fd too: a loop refuses connections and such
 * files with 503 past its share (http_conn.c), so accept() never meets EMFILE because of the
 * server's own fds, with any number of loops. (The listener's reserve fd handles EMFILE from
 * elsewhere: a limit lowered while running.) An eighth of each share is left to files, so a
 * loop full of connections still sends some of them theirs: --max-connections fits under the
 * rest.
 */
static void fit_fds(struct server *srv)
{
    struct http_settings *s = &srv->settings;
    size_t nw = (size_t)srv->nworkers;
    uint64_t want = srv->cfg->max_connections;
    /* An even share per loop, as nginx's worker_connections is per worker. */
    s->max_connections = (size_t)(want + nw - 1) / nw;
    s->max_fds = SIZE_MAX;
    s->file_fds = 0;
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
    long open_now = fds_open();
    uint64_t used = (uint64_t)(open_now < 0 ? FD_FIXED_GUESS : open_now) + FD_SPARE_BASE +
                    FD_SPARE_PER_LOOP * nw;
    uint64_t room = rl.rlim_cur > used + nw ? rl.rlim_cur - used : nw;
    s->max_fds = (size_t)(room / nw);
    s->file_fds = s->max_fds / 8;
    size_t fit = s->max_fds - s->file_fds;
    if (s->max_connections > fit) {
        log_msg(srv->error_log, LOG_LEVEL_WARN,
                "--max-connections %llu lowered to %llu: the open-file limit %llu leaves %llu "
                "fds for connections and the files they send",
                (unsigned long long)want, (unsigned long long)(fit * nw),
                (unsigned long long)rl.rlim_cur, (unsigned long long)(s->max_fds * nw));
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

static int open_logs(struct server *srv, char *err, size_t errlen)
{
    const struct config *cfg = srv->cfg;
    if (cfg->log_off)
        return 0;
    srv->error_log = open_log(cfg->error_log, STDERR_FILENO, cfg->log_async, err, errlen);
    if (!srv->error_log)
        return -1;
    if (strcmp(cfg->access_log, "off") != 0) {
        srv->access_log = open_log(cfg->access_log, STDOUT_FILENO, cfg->log_async, err, errlen);
        if (!srv->access_log)
            return -1;
    }
    return 0;
}

static void no_timers(struct timer_node *node, int cls, void *ctx)
{
    (void)node;
    (void)cls;
    (void)ctx;
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
        sig_source_close();
        return rc;
    }
    static const uint64_t unused_ms = 1000;
    struct loop_config lc = {.timer = TIMER_FIFO,
                             .tick = TICK_EPOLL,
                             .tick_ms = 1000,
                             .timeouts_ms = &unused_ms,
                             .nclasses = 1,
                             .on_expire = no_timers};
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
    sig_source_close();
    loop_free(srv->main_loop);
    srv->main_loop = NULL;
    return rc;
}

static void settings_init(struct server *srv, int root_fd)
{
    const struct config *cfg = srv->cfg;
    struct http_settings *s = &srv->settings;
    s->root_fd = root_fd;
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
    };
    s->timeouts_ms[HTTP_TIMEOUT_HEADER] = cfg->header_timeout_ms;
    s->timeouts_ms[HTTP_TIMEOUT_BODY] = cfg->body_timeout_ms;
    s->timeouts_ms[HTTP_TIMEOUT_SEND] = cfg->send_timeout_ms;
    s->timeouts_ms[HTTP_TIMEOUT_IDLE] = cfg->idle_timeout_ms;
    s->timeouts_ms[HTTP_TIMEOUT_LINGER] = LINGER_TIMEOUT_MS;
    s->timeouts_ms[HTTP_TIMEOUT_SHUTDOWN] = cfg->shutdown_timeout_ms;
    s->access_log = srv->access_log;
    s->error_log = srv->error_log;
    s->root_path = cfg->root;
    s->log_not_found = cfg->log_not_found;
}

/*
 * The loops' SO_REUSEPORT listeners would let another server of the same user join the port
 * (listener_probe() refused a port already in use; two servers starting at the same instant
 * both get past it). Another process on the port is an error, exit 1; being unable to check
 * (no sock_diag in this kernel) is only a warning, as the probe did its part.
 */
static int check_sole_listeners(struct server *srv, char *err, size_t errlen)
{
    struct listener **ls = calloc((size_t)srv->nworkers, sizeof(*ls));
    if (!ls) {
        fprintf(stderr, "tinyweb: out of memory\n");
        return -ENOMEM;
    }
    for (int i = 0; i < srv->nworkers; i++)
        ls[i] = &srv->workers[i].listener;
    int rc = listener_check_sole(ls, srv->nworkers, err, errlen);
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

int server_run(const struct config *cfg)
{
    struct server srv = {.cfg = cfg, .nworkers = cfg->threads};
    char err[512];
    int root_fd = -1, rc = 0, exit_code = 1;
    if (open_logs(&srv, err, sizeof(err)) != 0) {
        fprintf(stderr, "tinyweb: %s\n", err);
        goto out;
    }
    root_fd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        fprintf(stderr, "tinyweb: cannot read the root %s: %s\n", cfg->root, strerror(errno));
        goto out;
    }
    settings_init(&srv, root_fd);
    srv.workers = calloc((size_t)srv.nworkers, sizeof(*srv.workers));
    if (!srv.workers) {
        fprintf(stderr, "tinyweb: out of memory\n");
        goto out;
    }
    /* With port 0 the first listener picks the port and the others share it. */
    char port[8];
    snprintf(port, sizeof(port), "%s", cfg->port);
    if (srv.nworkers > 1 && listener_probe(cfg->host, port, err, sizeof(err)) != 0) {
        fprintf(stderr, "tinyweb: %s\n", err);
        goto out;
    }
    for (int i = 0; i < srv.nworkers; i++) {
        if (worker_open(&srv, &srv.workers[i], port, err, sizeof(err)) != 0) {
            fprintf(stderr, "tinyweb: %s\n", err);
            goto out;
        }
        snprintf(port, sizeof(port), "%u", srv.workers[0].listener.port);
    }
    if (srv.nworkers > 1 && check_sole_listeners(&srv, err, sizeof(err)) != 0)
        goto out;
    fit_fds(&srv);
    if (cfg->user && drop_privileges(cfg->user, err, sizeof(err)) != 0) {
        fprintf(stderr, "tinyweb: %s\n", err);
        goto out;
    }
    if (!cfg->user && geteuid() == 0)
        log_msg(srv.error_log, LOG_LEVEL_WARN,
                "running as root: consider --user NAME to drop privileges after binding");
    bool v6 = strchr(cfg->host, ':') != NULL;
    fprintf(stderr,
            "tinyweb: listening on http://%s%s%s:%s/ (root %s, %d loop%s, timer %s, tick %s)\n",
            v6 ? "[" : "", cfg->host, v6 ? "]" : "", port, cfg->root, srv.nworkers,
            srv.nworkers > 1 ? "s" : "", timer_kind_name(cfg->timer), tick_kind_name(cfg->tick));
    rc = run_loops(&srv);
    if (rc != 0)
        fprintf(stderr, "tinyweb: event loop failed: %s\n", strerror(-rc));
    else
        exit_code = 0;
    report(&srv, true);
out:
    for (int i = 0; srv.workers && i < srv.nworkers; i++)
        worker_close(&srv.workers[i]);
    free(srv.workers);
    if (root_fd >= 0)
        close(root_fd);
    log_close(srv.access_log);
    log_close(srv.error_log);
    return exit_code;
}
