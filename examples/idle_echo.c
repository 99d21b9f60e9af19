/*
 * idle_echo: seed 000's server (游双, ch. 11: closing inactive connections) rebuilt on the core.
 *
 * It accepts connections, prints and echoes what each client sends, and closes a connection that
 * has been silent for three timeslots. Every message re-arms the connection's timer. Signals are
 * events of the loop (the unified event source); SIGTERM or SIGINT stop it cleanly, exit 0.
 *
 *   idle_echo 127.0.0.1 9006                               the defaults: fifo, epoll, ET
 *   idle_echo 127.0.0.1 9006 --timer list --tick alarm     the seeds' own mechanism
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "core/loop.h"
#include "core/sig.h"
#include "core/tick.h"
#include "core/units.h"
#include "net/conn.h"
#include "net/listener.h"

/* The seeds' TIMESLOT, and their idle timeout of three timeslots. */
#define DEFAULT_TIMESLOT_MS 5000
#define TIMESLOTS_IDLE      3
#define CLASS_IDLE          0
/* What one "get" line shows of a message. */
#define PRINT_MAX 200

struct options {
    const char *ip, *port;
    uint64_t timeslot_ms;
    enum timer_kind timer;
    enum tick_kind tick;
    uint32_t trigger;
};

struct server {
    struct loop *loop;
    struct conn_set conns;
    struct listener listener;
};

static void usage(FILE *to)
{
    fprintf(to, "usage: idle_echo IP PORT [--timeslot DURATION] [--timer fifo|list]\n"
                "                 [--tick epoll|timerfd|alarm] [--trigger et|lt]\n"
                "  --timeslot  the tick; idle connections close after 3 timeslots (default 5s;\n"
                "              units ms, s, m; a bare number means seconds)\n"
                "  --timer     timer container: fifo (O(1), default) or list (the seeds')\n"
                "  --tick      tick source: epoll timeout (default), timerfd, or SIGALRM\n"
                "  --trigger   epoll mode for every socket: et (default) or lt\n");
}

static int bad_option(const char *what, const char *value)
{
    fprintf(stderr, "idle_echo: invalid %s '%s'\n", what, value);
    usage(stderr);
    return 2;
}

/* Returns 0, 1 for --help, or 2 after printing why the arguments are wrong. */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"timeslot", required_argument, NULL, 's'}, {"timer", required_argument, NULL, 'T'},
        {"tick", required_argument, NULL, 'k'},     {"trigger", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    *o = (struct options){.timeslot_ms = DEFAULT_TIMESLOT_MS,
                          .timer = TIMER_FIFO,
                          .tick = TICK_EPOLL,
                          .trigger = EPOLLET};
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            /* Three timeslots must fit an hour-scale range without overflow. */
            if (units_parse_duration_ms(optarg, &o->timeslot_ms) != 0 || o->timeslot_ms == 0 ||
                o->timeslot_ms > 24u * 3600 * 1000)
                return bad_option("--timeslot", optarg);
            break;
        case 'T':
            if (timer_kind_parse(optarg, &o->timer) != 0)
                return bad_option("--timer", optarg);
            break;
        case 'k':
            if (tick_kind_parse(optarg, &o->tick) != 0)
                return bad_option("--tick", optarg);
            break;
        case 'g':
            if (strcmp(optarg, "et") != 0 && strcmp(optarg, "lt") != 0)
                return bad_option("--trigger", optarg);
            o->trigger = optarg[0] == 'e' ? EPOLLET : 0;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            return bad_option("option", argv[optind - 1]);
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "idle_echo: expected IP and PORT\n");
        usage(stderr);
        return 2;
    }
    o->ip = argv[optind];
    o->port = argv[optind + 1];
    unsigned char addr[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, o->ip, addr) != 1 && inet_pton(AF_INET6, o->ip, addr) != 1)
        return bad_option("IP", o->ip);
    char *end;
    errno = 0;
    long port = strtol(o->port, &end, 10);
    if (errno || *end || end == o->port || port < 0 || port > 65535)
        return bad_option("PORT", o->port);
    return 0;
}

static void print_peer(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        snprintf(out, outlen, "?");
    else
        snprintf(out, outlen, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

/* Prints and echoes everything buffered, then re-arms the idle timer: the client is active. */
static int echo_buffered(struct conn *c)
{
    size_t n = buf_readable(&c->in);
    char shown[PRINT_MAX + 1];
    size_t k = n < PRINT_MAX ? n : PRINT_MAX;
    for (size_t i = 0; i < k; i++) {
        unsigned char ch = (unsigned char)c->in.data[c->in.off + i];
        shown[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '.';
    }
    shown[k] = '\0';
    printf("get %zu bytes of client data %s%s from %d\n", n, shown, n > k ? "..." : "", c->io.fd);
    int rc = conn_send(c, c->in.data + c->in.off, n);
    /* Everything is echoed: the buffer goes back to the pool while the client is quiet. */
    conn_release_in(c);
    conn_arm(c, CLASS_IDLE);
    return rc;
}

static void on_readable(struct conn *c)
{
    bool edge = c->set->trigger & EPOLLET;
    /* Edge-triggered: read until EAGAIN or the edge is lost. Level-triggered: one read per
     * event, as the seeds' LT mode does; epoll reports the rest. */
    do {
        ssize_t n = conn_read(c);
        if (n == -EAGAIN)
            return;
        if (n == 0) {
            conn_close(c, CLOSE_PEER);
            return;
        }
        if (n < 0) {
            conn_close(c, CLOSE_ERROR);
            return;
        }
        if (echo_buffered(c) != 0) {
            conn_close(c, CLOSE_ERROR);
            return;
        }
    } while (edge);
}

static void on_timeout(struct conn *c, int cls)
{
    (void)cls;
    /* A message that waits unread (its event is in a later batch) is activity, not silence. */
    if (conn_unread(c)) {
        on_readable(c);
        return;
    }
    conn_close(c, CLOSE_IDLE_TIMEOUT);
}

static void on_close(struct conn *c, enum close_reason why)
{
    printf("close fd %d (%s)\n", c->io.fd, close_reason_name(why));
}

static const struct conn_handler echo_handler = {
    .on_readable = on_readable,
    .on_timeout = on_timeout,
    .on_close = on_close,
};

static void on_accept(struct listener *l, int fd, const struct sockaddr *peer, socklen_t len)
{
    struct server *srv = l->data;
    struct conn *c = conn_open(&srv->conns, fd, peer, len);
    if (!c) {
        fprintf(stderr, "idle_echo: cannot take connection fd %d: out of memory\n", fd);
        return;
    }
    char who[NI_MAXHOST + NI_MAXSERV + 4];
    print_peer(peer, len, who, sizeof(who));
    printf("accept fd %d from %s\n", fd, who);
    if (conn_register(c) != 0) {
        conn_close(c, CLOSE_ERROR);
        return;
    }
    conn_arm(c, CLASS_IDLE);
}

static void on_signal(int signo, void *ctx)
{
    struct server *srv = ctx;
    if (signo == SIGHUP) {
        printf("SIGHUP: nothing to reopen\n");
        return;
    }
    printf("%s: stopping\n", signo == SIGTERM ? "SIGTERM" : "SIGINT");
    loop_stop(srv->loop);
}

int main(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    /* Lines must reach a pipe or file as they happen, as they would on a terminal. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct server srv;
    uint64_t idle_ms = TIMESLOTS_IDLE * o.timeslot_ms;
    struct loop_config cfg = {
        .timer = o.timer,
        .tick = o.tick,
        .tick_ms = o.timeslot_ms,
        .timeouts_ms = &idle_ms,
        .nclasses = 1,
        .on_expire = &(const struct timer_handler){conn_set_expire, &srv.conns},
    };
    srv.loop = loop_new(&cfg);
    if (!srv.loop) {
        fprintf(stderr, "idle_echo: cannot create the event loop: %s\n", strerror(errno));
        return 1;
    }
    conn_set_init(&srv.conns, srv.loop, &echo_handler, o.trigger, sizeof(struct conn));
    char err[256];
    rc = listener_open(&srv.listener, srv.loop, o.ip, o.port, SOMAXCONN, o.trigger, false,
                       on_accept, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "idle_echo: %s\n", err);
        loop_free(srv.loop);
        return 1;
    }
    srv.listener.data = &srv;
    if ((rc = sig_source_open(srv.loop, on_signal, &srv)) != 0) {
        fprintf(stderr, "idle_echo: cannot set up signals: %s\n", strerror(-rc));
        listener_close(&srv.listener);
        loop_free(srv.loop);
        return 1;
    }
    printf("listening on %s:%u (timer %s, tick %s, trigger %s, timeslot %llu ms, idle timeout "
           "%llu ms)\n",
           o.ip, srv.listener.port, timer_kind_name(o.timer), tick_kind_name(o.tick),
           o.trigger ? "et" : "lt", (unsigned long long)o.timeslot_ms, (unsigned long long)idle_ms);

    rc = loop_run(srv.loop);
    if (rc != 0)
        fprintf(stderr, "idle_echo: event loop failed: %s\n", strerror(-rc));

    listener_close(&srv.listener);
    conn_set_free(&srv.conns);
    sig_source_close();
    printf("stopped: %llu accepted", (unsigned long long)counter_get(&srv.conns.opened));
    for (int r = 0; r < CLOSE_REASON_MAX; r++) {
        if (counter_get(&srv.conns.closed[r]))
            printf(", %s %llu", close_reason_name(r),
                   (unsigned long long)counter_get(&srv.conns.closed[r]));
    }
    printf("\n");
    loop_free(srv.loop);
    return rc == 0 ? 0 : 1;
}
