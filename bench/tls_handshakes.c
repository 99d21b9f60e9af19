/* New-connection TLS load for bench/tls_bench.sh: N concurrent nonblocking connections (one epoll
 * loop, one thread), each doing connect, a TLS 1.3 handshake, one GET with `Connection: close`,
 * reading the whole response up to the server's close, and close; a finished connection is
 * replaced at once until the duration has passed. Then the connections in flight are allowed to
 * finish (at most 5 s) and one line is printed:
 *
 *   done mode=full|resumed conns=C secs=T ok=N rate=R errors=E connect=.. handshake=.. io=..
 *        http=.. timeout=.. offered=O reoffered=U resumed=S resumed_share=F tickets=K p50_ms=..
 *        p99_ms=..
 *        version=TLSv1.3 cipher=TLS_AES_128_GCM_SHA256 group=X25519 other_cipher=M
 *   first_error=...   (only when there was an error)
 *
 * rate is ok / secs, secs from the first connection to the last one finished. Full mode offers
 * no session. Resumed mode first makes one full handshake (not counted) to get a ticket, then
 * offers every new connection a session ticket saved from an earlier connection to the same
 * server (TLS 1.3 tickets come after the handshake, in front of the response: they are captured
 * by the new-session callback while the response is read). Each ticket is offered once, the
 * newest first, as RFC 8446 recommends; when none is unused (a server that sends no new ticket
 * on a resumed connection: h2o 2.2) a fresh copy of the newest is offered again (reoffered).
 * SSL_session_reused() counts the connections that did resume; p50/p99 are connect-to-close.
 *
 * Usage: tls_handshakes HOST PORT [-c CONNS] [-d SECONDS] [-n MAX] [-r] [-p PATH]
 *                       [-s CIPHERSUITES] [-A CAFILE]
 *   -c concurrent connections (50), -d duration in seconds (10), -n at most MAX connections in
 *   all (0: no limit), -r resumed mode, -p the path to GET (/index.html), -s TLS 1.3
 *   ciphersuites offered (OpenSSL's default list), -A verify the server's certificate against
 *   CAFILE (and its IP address); without -A it is not verified (the handshake still checks
 *   the server's signature). Only 127.0.0.0/8 is accepted as HOST: this is a load tool.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { FREE, CONNECTING, HANDSHAKE, WRITING, READING };
enum err { E_CONNECT, E_HANDSHAKE, E_IO, E_HTTP, E_TIMEOUT, E_COUNT };
static const char *const err_name[E_COUNT] = {"connect", "handshake", "io", "http", "timeout"};

#define CONN_TIMEOUT_NS (10 * 1000000000LL)
#define DRAIN_NS        (5 * 1000000000LL)
#define POOL_MAX        4096
#define LAT_MAX         (4u << 20)

struct conn {
    int fd;
    enum state st;
    SSL *ssl;
    uint32_t events; /* the epoll interest set now */
    int64_t t0;
    size_t sent;
    char head[2048];
    size_t head_len;
    bool head_done;
    int status;
    long long content_length; /* -1: none given */
    long long body;
    bool offered;
};

static struct {
    SSL_CTX *ctx;
    struct sockaddr_in addr;
    int ep;
    struct conn *c;
    int nconns;
    bool resume;
    char req[512];
    size_t req_len;
    const char *cafile;
    const char *host;
    /* session tickets */
    SSL_SESSION *pool[POOL_MAX];
    int npool;
    SSL_SESSION *last;
    /* counters */
    bool counting;
    long long started, ok, errors[E_COUNT], offered, reoffered, resumed, tickets, other_cipher;
    char version[32], cipher[64], group[32], first_error[256];
    uint32_t *lat_us;
    size_t nlat;
} g;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "tls_handshakes: %s\n", what);
    exit(1);
}

static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    (void)ssl;
    if (g.counting)
        g.tickets++;
    if (!g.resume || !SSL_SESSION_is_resumable(sess))
        return 0;
    /* A private copy of the newest ticket for reuse: a session given to a connection may be
     * changed by it (OpenSSL marks it not resumable after some uses). */
    SSL_SESSION *copy = SSL_SESSION_dup(sess);
    if (copy) {
        if (g.last)
            SSL_SESSION_free(g.last);
        g.last = copy;
    }
    if (g.npool == POOL_MAX) { /* drop the older half */
        for (int i = 0; i < POOL_MAX / 2; i++)
            SSL_SESSION_free(g.pool[i]);
        memmove(g.pool, g.pool + POOL_MAX / 2, (POOL_MAX / 2) * sizeof g.pool[0]);
        g.npool -= POOL_MAX / 2;
    }
    g.pool[g.npool++] = sess; /* takes the callback's reference */
    return 1;
}

static void set_interest(int i, uint32_t ev)
{
    struct conn *c = &g.c[i];
    if (c->events == ev)
        return;
    struct epoll_event e = {.events = ev, .data.u32 = (uint32_t)i};
    if (epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &e) != 0)
        die("epoll_ctl MOD failed");
    c->events = ev;
}

static void note_error(enum err e, const char *detail)
{
    if (!g.counting)
        return;
    g.errors[e]++;
    if (!g.first_error[0]) {
        char buf[160] = "";
        unsigned long code = ERR_peek_error();
        if (code)
            ERR_error_string_n(code, buf, sizeof buf);
        snprintf(g.first_error, sizeof g.first_error, "%s: %s%s%s", err_name[e], detail,
                 buf[0] ? " " : "", buf);
    }
}

static void finish(int i, bool ok)
{
    struct conn *c = &g.c[i];
    if (ok && g.counting) {
        g.ok++;
        if (g.nlat < LAT_MAX)
            g.lat_us[g.nlat++] = (uint32_t)((now_ns() - c->t0) / 1000);
    }
    if (c->ssl) {
        /* The response was read to the server's close: mark the connection as shut down, or
         * SSL_free() would mark its session (the newest ticket) not resumable. No I/O. */
        if (ok)
            SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_free(c->ssl);
    }
    ERR_clear_error();
    close(c->fd); /* also removes it from the epoll set */
    c->ssl = NULL;
    c->fd = -1;
    c->st = FREE;
}

static void fail(int i, enum err e, const char *detail)
{
    note_error(e, detail);
    finish(i, false);
}

static bool start(int i)
{
    struct conn *c = &g.c[i];
    memset(c, 0, sizeof *c);
    c->content_length = -1;
    c->t0 = now_ns();
    if (g.counting)
        g.started++;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        note_error(E_CONNECT, strerror(errno));
        c->st = FREE;
        return false;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->st = CONNECTING;
    if (connect(c->fd, (struct sockaddr *)&g.addr, sizeof g.addr) != 0 && errno != EINPROGRESS) {
        fail(i, E_CONNECT, strerror(errno));
        return false;
    }
    struct epoll_event e = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
    if (epoll_ctl(g.ep, EPOLL_CTL_ADD, c->fd, &e) != 0)
        die("epoll_ctl ADD failed");
    c->events = EPOLLOUT;
    return true;
}

/* Parses what has arrived of the head; returns false on a malformed one. */
static bool parse_head(struct conn *c)
{
    char *end = memmem(c->head, c->head_len, "\r\n\r\n", 4);
    if (!end) {
        return c->head_len < sizeof c->head - 1;
    }
    c->head_done = true;
    *end = '\0';
    if (sscanf(c->head, "HTTP/1.%*d %d", &c->status) != 1)
        return false;
    for (char *line = strstr(c->head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "content-length:", 15) == 0)
            c->content_length = strtoll(line + 17, NULL, 10);
    }
    c->body = (long long)c->head_len - (long long)(end + 4 - c->head);
    return true;
}

static void record_params(SSL *ssl)
{
    const char *v = SSL_get_version(ssl);
    const char *ci = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
    if (!g.version[0]) {
        snprintf(g.version, sizeof g.version, "%s", v);
        snprintf(g.cipher, sizeof g.cipher, "%s", ci);
        int nid = SSL_get_negotiated_group(ssl);
        const char *gn = nid ? OBJ_nid2sn(nid & ~TLSEXT_nid_unknown) : "none";
        snprintf(g.group, sizeof g.group, "%s", gn ? gn : "unknown");
    } else if (strcmp(v, g.version) != 0 || strcmp(ci, g.cipher) != 0) {
        g.other_cipher++;
    }
}

static void drive(int i)
{
    struct conn *c = &g.c[i];
    int r, e;
    switch (c->st) {
    case FREE:
        return;
    case CONNECTING: {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
            fail(i, E_CONNECT, strerror(soerr ? soerr : errno));
            return;
        }
        c->ssl = SSL_new(g.ctx);
        if (!c->ssl || !SSL_set_fd(c->ssl, c->fd))
            die("SSL_new failed");
        SSL_set_connect_state(c->ssl);
        if (g.cafile && !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), g.host))
            die("X509_VERIFY_PARAM_set1_ip_asc failed");
        if (g.resume) {
            SSL_SESSION *s = NULL;
            if (g.npool > 0)
                s = g.pool[--g.npool]; /* the newest unused ticket; its reference is ours */
            else if (g.last && (s = SSL_SESSION_dup(g.last)) != NULL && g.counting)
                g.reoffered++; /* none unused: the newest again, a fresh copy */
            if (s) {
                SSL_set_session(c->ssl, s);
                SSL_SESSION_free(s);
                c->offered = true;
            }
        }
        c->st = HANDSHAKE;
    }
        /* fall through */
    case HANDSHAKE:
        r = SSL_connect(c->ssl);
        if (r != 1) {
            e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ)
                set_interest(i, EPOLLIN);
            else if (e == SSL_ERROR_WANT_WRITE)
                set_interest(i, EPOLLOUT);
            else
                fail(i, E_HANDSHAKE, e == SSL_ERROR_SYSCALL ? "syscall" : "ssl");
            return;
        }
        if (g.counting) {
            if (c->offered) {
                g.offered++;
                if (SSL_session_reused(c->ssl))
                    g.resumed++;
            }
            record_params(c->ssl);
        }
        c->st = WRITING;
        /* fall through */
    case WRITING:
        r = SSL_write(c->ssl, g.req + c->sent, (int)(g.req_len - c->sent));
        if (r <= 0) {
            e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ)
                set_interest(i, EPOLLIN);
            else if (e == SSL_ERROR_WANT_WRITE)
                set_interest(i, EPOLLOUT);
            else
                fail(i, E_IO, "write");
            return;
        }
        c->sent += (size_t)r;
        if (c->sent < g.req_len) {
            set_interest(i, EPOLLOUT);
            return;
        }
        c->st = READING;
        set_interest(i, EPOLLIN);
        /* fall through */
    case READING:
        for (;;) {
            char buf[16384];
            r = SSL_read(c->ssl, buf, sizeof buf);
            if (r > 0) {
                if (!c->head_done) {
                    size_t room = sizeof c->head - 1 - c->head_len;
                    size_t n = (size_t)r < room ? (size_t)r : room;
                    memcpy(c->head + c->head_len, buf, n);
                    c->head_len += n;
                    if (!parse_head(c)) {
                        fail(i, E_HTTP, "malformed response head");
                        return;
                    }
                    if (c->head_done)
                        c->body += (long long)((size_t)r - n);
                } else {
                    c->body += r;
                }
                continue;
            }
            e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ) {
                set_interest(i, EPOLLIN);
                return;
            }
            if (e == SSL_ERROR_WANT_WRITE) {
                set_interest(i, EPOLLOUT);
                return;
            }
            if (e != SSL_ERROR_ZERO_RETURN) { /* unexpected EOF is ZERO_RETURN (see main) */
                fail(i, E_IO, e == SSL_ERROR_SYSCALL ? "read: syscall" : "read: ssl");
                return;
            }
            break;
        }
        if (!c->head_done || c->status != 200 ||
            (c->content_length >= 0 && c->body != c->content_length)) {
            char d[96];
            snprintf(d, sizeof d, "status %d, body %lld of %lld bytes", c->status, c->body,
                     c->content_length);
            fail(i, E_HTTP, d);
            return;
        }
        finish(i, true);
        return;
    }
}

static void check_timeouts(int64_t now)
{
    for (int i = 0; i < g.nconns; i++)
        if (g.c[i].st != FREE && now - g.c[i].t0 > CONN_TIMEOUT_NS)
            fail(i, E_TIMEOUT, "no answer within 10 s");
}

static int inflight(void)
{
    int n = 0;
    for (int i = 0; i < g.nconns; i++)
        n += g.c[i].st != FREE;
    return n;
}

/* Runs the loop: while `more` holds, free slots start new connections (up to `width` of them),
 * until `until` returns true or `deadline` passes. */
static void run(int width, int64_t deadline, bool (*more)(void), bool (*until)(void))
{
    struct epoll_event evs[256];
    for (;;) {
        if (more())
            for (int i = 0; i < width; i++)
                if (g.c[i].st == FREE && more())
                    start(i);
        int64_t now = now_ns();
        if (until() || now >= deadline)
            return;
        int n = epoll_wait(g.ep, evs, 256, 50);
        if (n < 0 && errno != EINTR)
            die("epoll_wait failed");
        for (int k = 0; k < n; k++)
            drive((int)evs[k].data.u32);
        check_timeouts(now_ns());
    }
}

static int64_t t_end;
static long long max_total;
static bool prime_more(void)
{
    return inflight() == 0 && g.last == NULL;
}
static bool prime_done(void)
{
    return g.last != NULL && inflight() == 0;
}
static bool load_more(void)
{
    return now_ns() < t_end && (max_total == 0 || g.started < max_total);
}
static bool load_done(void)
{
    return !load_more() && inflight() == 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void usage(void)
{
    fprintf(stderr, "usage: tls_handshakes HOST PORT [-c CONNS] [-d SECONDS] [-n MAX] [-r] "
                    "[-p PATH] [-s CIPHERSUITES] [-A CAFILE]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int conns = 50, opt;
    double secs = 10;
    const char *path = "/index.html", *suites = NULL;
    while ((opt = getopt(argc, argv, "c:d:n:rp:s:A:")) != -1) {
        switch (opt) {
        case 'c':
            conns = atoi(optarg);
            break;
        case 'd':
            secs = atof(optarg);
            break;
        case 'n':
            max_total = atoll(optarg);
            break;
        case 'r':
            g.resume = true;
            break;
        case 'p':
            path = optarg;
            break;
        case 's':
            suites = optarg;
            break;
        case 'A':
            g.cafile = optarg;
            break;
        default:
            usage();
        }
    }
    if (argc - optind != 2 || conns < 1 || conns > 10000 || secs <= 0 || secs > 600 ||
        max_total < 0)
        usage();
    g.host = argv[optind];
    g.addr.sin_family = AF_INET;
    int port = atoi(argv[optind + 1]);
    if (inet_pton(AF_INET, g.host, &g.addr.sin_addr) != 1 || port < 1 || port > 65535)
        usage();
    if ((ntohl(g.addr.sin_addr.s_addr) >> 24) != 127)
        die("only 127.0.0.0/8 is allowed: this is a load tool");
    g.addr.sin_port = htons((uint16_t)port);
    if (strlen(path) > 200 || path[0] != '/')
        usage();
    g.req_len = (size_t)snprintf(g.req, sizeof g.req,
                                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: tls_handshakes\r\n"
                                 "Connection: close\r\n\r\n",
                                 path, g.host, port);
    signal(SIGPIPE, SIG_IGN);

    g.ctx = SSL_CTX_new(TLS_client_method());
    if (!g.ctx)
        die("SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(g.ctx, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(g.ctx, TLS1_3_VERSION);
    /* A server that closes without close_notify after `Connection: close` ends the response. */
    SSL_CTX_set_options(g.ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (suites && !SSL_CTX_set_ciphersuites(g.ctx, suites))
        die("bad -s ciphersuites");
    if (g.cafile) {
        if (!SSL_CTX_load_verify_locations(g.ctx, g.cafile, NULL))
            die("cannot load -A CAFILE");
        SSL_CTX_set_verify(g.ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(g.ctx, SSL_VERIFY_NONE, NULL);
    }
    SSL_CTX_set_session_cache_mode(g.ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(g.ctx, new_session_cb);

    g.ep = epoll_create1(EPOLL_CLOEXEC);
    g.nconns = conns;
    g.c = calloc((size_t)conns, sizeof *g.c);
    g.lat_us = malloc(LAT_MAX * sizeof *g.lat_us);
    if (g.ep < 0 || !g.c || !g.lat_us)
        die("out of memory");
    for (int i = 0; i < conns; i++)
        g.c[i].fd = -1;

    if (g.resume) { /* one full handshake, not counted, for the first ticket */
        run(1, now_ns() + 5000000000LL, prime_more, prime_done);
        if (!g.last)
            die("no session ticket from the server within 5 s: cannot test resumption");
    }
    g.counting = true;
    int64_t t0 = now_ns();
    t_end = t0 + (int64_t)(secs * 1e9);
    run(conns, t_end + DRAIN_NS, load_more, load_done);
    int64_t t1 = now_ns();
    for (int i = 0; i < conns; i++)
        if (g.c[i].st != FREE)
            fail(i, E_TIMEOUT, "still in flight after the drain");

    double el = (double)(t1 - t0) / 1e9;
    long long nerr = 0;
    for (int e = 0; e < E_COUNT; e++)
        nerr += g.errors[e];
    qsort(g.lat_us, g.nlat, sizeof *g.lat_us, cmp_u32);
    double p50 = g.nlat ? g.lat_us[g.nlat / 2] / 1000.0 : 0;
    double p99 = g.nlat ? g.lat_us[(size_t)((double)g.nlat * 0.99)] / 1000.0 : 0;
    printf("done mode=%s conns=%d secs=%.3f ok=%lld rate=%.1f errors=%lld",
           g.resume ? "resumed" : "full", conns, el, g.ok, g.ok / el, nerr);
    for (int e = 0; e < E_COUNT; e++)
        printf(" %s=%lld", err_name[e], g.errors[e]);
    printf(" offered=%lld reoffered=%lld resumed=%lld resumed_share=%.4f tickets=%lld p50_ms=%.2f "
           "p99_ms=%.2f version=%s cipher=%s group=%s other_cipher=%lld\n",
           g.offered, g.reoffered, g.resumed, g.ok ? (double)g.resumed / (double)g.ok : 0.0,
           g.tickets, p50, p99, g.version[0] ? g.version : "none", g.cipher[0] ? g.cipher : "none",
           g.group[0] ? g.group : "none", g.other_cipher);
    if (g.first_error[0])
        printf("first_error=%s\n", g.first_error);
    fflush(stdout);
    return 0;
}
