/*
 * Listening sockets. See listener.h.
 */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/defs.h"

/* Connections accepted per readiness event before the loop serves its other fds. */
#define LISTENER_BATCH 64

static int open_reserve(void)
{
    return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/*
 * Out of fds, a pending connection would keep the listener readable forever (a busy loop in
 * level-triggered mode, a stranded backlog in edge-triggered mode). Give the reserve fd up,
 * accept the connection and close it at once, then take the reserve back. Another thread may
 * take the freed fd first (the fd table is the process's): the reserve is then gone until
 * fds free up, and false tells the caller to pause.
 */
static bool shed_one(struct listener *l)
{
    if (l->reserve_fd < 0 && (l->reserve_fd = open_reserve()) < 0)
        return false;
    close(l->reserve_fd);
    int fd = accept4(l->io.fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        counter_add(&l->shed, 1);
    }
    l->reserve_fd = open_reserve();
    return fd >= 0;
}

/* Stops watching the socket (io waits for nothing) and arms the retry: no spinning, nothing
 * stranded. Should either call fail, the next readiness event retries instead. */
static void pause_accepting(struct listener *l)
{
    struct itimerspec its = {.it_value = {.tv_nsec = LISTENER_RETRY_MS * 1000000L}};
    if (timerfd_settime(l->retry_io.fd, 0, &its, NULL) == 0)
        loop_mod(l->loop, &l->io, 0);
}

static void retry_ready(struct loop *loop, struct loop_io *io, uint32_t events)
{
    (void)loop;
    (void)events;
    struct listener *l = container_of(io, struct listener, retry_io);
    uint64_t expirations;
    ssize_t r = read(io->fd, &expirations, sizeof(expirations));
    (void)r;
    if (l->io.events != 0)
        return; /* not paused */
    if (l->reserve_fd < 0)
        l->reserve_fd = open_reserve();
    /* Watching again re-checks readiness (edge-triggered too): a waiting backlog is reported. */
    loop_mod(l->loop, &l->io, l->events);
}

static void listener_ready(struct loop *loop, struct loop_io *io, uint32_t events)
{
    (void)events;
    struct listener *l = container_of(io, struct listener, io);
    for (int taken = 0;; taken++) {
        /* A flood of connections must not starve the loop's other clients and timers: after
         * a batch, the rest waits for the next turn (edge-triggered: reported again). */
        if (taken == LISTENER_BATCH) {
            if (io->events & EPOLLET)
                loop_rearm(loop, io);
            return;
        }
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);
        int fd = accept4(io->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            l->on_accept(l, fd, (struct sockaddr *)&peer, len);
            continue;
        }
        switch (errno) {
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
            continue;
        case EMFILE:
        case ENFILE:
            if (shed_one(l))
                continue;
            pause_accepting(l);
            return;
        default:
            /* EAGAIN: the backlog is drained. ENOBUFS/ENOMEM: retry on the next event. */
            return;
        }
    }
}

static int resolve(const char *host, const char *port, struct addrinfo **ai, char *err,
                   size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
    int gai = getaddrinfo(host, port, &hints, ai);
    if (gai != 0) {
        snprintf(err, errlen, "bad listen address %s:%s: %s", host, port, gai_strerror(gai));
        return -EINVAL;
    }
    return 0;
}

static uint16_t sockaddr_port(const struct sockaddr *sa)
{
    return ntohs(sa->sa_family == AF_INET6 ? ((const struct sockaddr_in6 *)sa)->sin6_port
                                           : ((const struct sockaddr_in *)sa)->sin_port);
}

int listener_probe(const char *host, const char *port, char *err, size_t errlen)
{
    struct addrinfo *ai = NULL;
    int rc = resolve(host, port, &ai, err, errlen);
    if (rc != 0)
        return rc;
    if (sockaddr_port(ai->ai_addr) == 0) {
        freeaddrinfo(ai); /* an ephemeral port is nobody's yet */
        return 0;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "socket: %s", strerror(errno));
    } else {
        /* SO_REUSEADDR as the real sockets: connections of an earlier server in TIME_WAIT do
         * not count. Without SO_REUSEPORT: any listening socket on the address does. */
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            rc = -errno;
            snprintf(err, errlen, "cannot bind %s:%s: %s", host, port, strerror(errno));
        }
        close(fd);
    }
    freeaddrinfo(ai);
    return rc;
}

/* An address as the kernel's bind conflict check sees it: IPv4, or IPv6 (v4-mapped IPv6
 * addresses count as IPv4), whether it is the wildcard, and for IPv6 whether it is v6-only. */
struct ip_addr {
    int family;
    uint8_t bytes[16];
    bool any, v6only;
};

static void ip_addr_set(struct ip_addr *a, int family, const void *bytes, bool v6only)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t zero[16];
    memset(a, 0, sizeof(*a));
    a->family = family;
    a->v6only = v6only;
    if (family == AF_INET6 && memcmp(bytes, mapped, sizeof(mapped)) == 0) {
        a->family = AF_INET;
        bytes = (const uint8_t *)bytes + 12;
    }
    memcpy(a->bytes, bytes, a->family == AF_INET ? 4 : 16);
    a->any = memcmp(a->bytes, zero, a->family == AF_INET ? 4 : 16) == 0;
}

/* Whether one address can receive connections meant for the other: the same address, or a
 * wildcard of the same family, or a dual-stack IPv6 wildcard against any IPv4 address. */
static bool ip_addr_overlap(const struct ip_addr *a, const struct ip_addr *b)
{
    if (a->family != b->family) {
        const struct ip_addr *v6 = a->family == AF_INET6 ? a : b;
        return v6->any && !v6->v6only;
    }
    return a->any || b->any || memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16) == 0;
}

static void ip_addr_format(const struct ip_addr *a, uint16_t port, char *out, size_t len)
{
    char text[INET6_ADDRSTRLEN] = "?";
    inet_ntop(a->family, a->bytes, text, sizeof(text));
    snprintf(out, len, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", text, port);
}

/* Whether the socket with this inode is one of ls. O(n) fstat calls: a handful of loops. */
static bool is_ours(struct listener *const *ls, int n, uint32_t inode)
{
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (fstat(ls[i]->io.fd, &st) == 0 && st.st_ino == (ino_t)inode)
            return true;
    }
    return false;
}

/*
 * One NETLINK_SOCK_DIAG dump of the TCP sockets of family listening on port. Returns 0 and
 * sets *foreign (with its address in what) when one overlaps addr and is none of ls; -errno
 * when the query fails.
 */
static int diag_listeners(int nl, int family, const struct ip_addr *addr, uint16_t port,
                          struct listener *const *ls, int n, bool *foreign, char *what,
                          size_t whatlen)
{
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 req;
    } msg = {
        .nlh = {.nlmsg_len = sizeof(msg),
                .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
        .req = {.sdiag_family = (uint8_t)family,
                .sdiag_protocol = IPPROTO_TCP,
                .idiag_states = 1u << TCP_LISTEN,
                .id = {.idiag_sport = htons(port)}},
    };
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(nl, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
        return -errno;
    long buf[8192 / sizeof(long)];
    for (;;) {
        ssize_t got = recv(nl, buf, sizeof(buf), 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (got == 0)
            return -EPROTO;
        size_t left = (size_t)got;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left);
             h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_type == NLMSG_DONE)
                return 0;
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(h);
                return e->error != 0 ? e->error : -EPROTO;
            }
            if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
                h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
                continue;
            const struct inet_diag_msg *m = NLMSG_DATA(h);
            if (m->idiag_state != TCP_LISTEN || ntohs(m->id.idiag_sport) != port)
                continue;
            bool v6only = false;
            unsigned alen = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
            for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, alen);
                 a = RTA_NEXT(a, alen))
                if (a->rta_type == INET_DIAG_SKV6ONLY && RTA_PAYLOAD(a) >= 1)
                    v6only = *(const uint8_t *)RTA_DATA(a) != 0;
            struct ip_addr theirs;
            ip_addr_set(&theirs, m->idiag_family, m->id.idiag_src, v6only);
            if (!ip_addr_overlap(addr, &theirs))
                continue;
            if (!*foreign && !is_ours(ls, n, m->idiag_inode)) {
                *foreign = true;
                char at[INET6_ADDRSTRLEN + 16];
                ip_addr_format(&theirs, port, at, sizeof(at));
                snprintf(what, whatlen, "%s, uid %u", at, m->idiag_uid);
            }
        }
    }
}

int listener_check_sole(struct listener *const *ls, int n, char *err, size_t errlen)
{
    if (n <= 0)
        return 0;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    if (getsockname(ls[0]->io.fd, (struct sockaddr *)&bound, &blen) != 0) {
        int e = errno;
        snprintf(err, errlen, "getsockname: %s", strerror(e));
        return -e;
    }
    struct ip_addr addr;
    if (bound.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&bound;
        int v6only = 0;
        socklen_t olen = sizeof(v6only);
        getsockopt(ls[0]->io.fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &olen);
        ip_addr_set(&addr, AF_INET6, &s6->sin6_addr, v6only != 0);
    } else {
        ip_addr_set(&addr, AF_INET, &((const struct sockaddr_in *)&bound)->sin_addr, false);
    }
    uint16_t port = sockaddr_port((const struct sockaddr *)&bound);
    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0) {
        int e = errno;
        snprintf(err, errlen, "netlink sock_diag: %s", strerror(e));
        return -e;
    }
    bool foreign = false;
    char what[INET6_ADDRSTRLEN + 48] = "";
    int rc = diag_listeners(nl, AF_INET, &addr, port, ls, n, &foreign, what, sizeof(what));
    if (rc == 0 && !foreign)
        rc = diag_listeners(nl, AF_INET6, &addr, port, ls, n, &foreign, what, sizeof(what));
    close(nl);
    if (rc != 0) {
        snprintf(err, errlen, "netlink sock_diag: %s", strerror(-rc));
        return rc;
    }
    if (foreign) {
        char at[INET6_ADDRSTRLEN + 16];
        ip_addr_format(&addr, port, at, sizeof(at));
        snprintf(err, errlen, "cannot bind %s: %s (another socket listens on %s)", at,
                 strerror(EADDRINUSE), what);
        return -EADDRINUSE;
    }
    return 0;
}

int listener_open(struct listener *l, struct loop *loop, const char *host, const char *port,
                  int backlog, uint32_t trigger, bool reuseport, listener_accept_fn fn, char *err,
                  size_t errlen)
{
    memset(l, 0, sizeof(*l));
    l->io.fd = -1;
    l->reserve_fd = -1;
    l->retry_io.fd = -1;
    l->loop = loop;
    l->on_accept = fn;

    struct addrinfo *ai = NULL;
    int rc = resolve(host, port, &ai, err, errlen);
    if (rc != 0)
        return rc;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto fail;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        rc = -errno;
        snprintf(err, errlen, "SO_REUSEPORT: %s", strerror(errno));
        goto fail;
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot bind %s:%s: %s", host, port, strerror(errno));
        goto fail;
    }
    if (listen(fd, backlog) != 0) {
        rc = -errno;
        snprintf(err, errlen, "listen on %s:%s: %s", host, port, strerror(errno));
        goto fail;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    getsockname(fd, (struct sockaddr *)&bound, &blen);
    l->port = sockaddr_port((struct sockaddr *)&bound);
    l->reserve_fd = open_reserve();
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd < 0 || (rc = loop_add(loop, &l->retry_io, tfd, EPOLLIN, retry_ready)) != 0) {
        rc = tfd < 0 ? -errno : rc;
        snprintf(err, errlen, "timerfd: %s", strerror(-rc));
        if (tfd >= 0)
            close(tfd);
        l->retry_io.fd = -1;
        goto fail;
    }
    l->events = EPOLLIN | trigger;
    if ((rc = loop_add(loop, &l->io, fd, l->events, listener_ready)) != 0) {
        snprintf(err, errlen, "epoll_ctl: %s", strerror(-rc));
        goto fail;
    }
    freeaddrinfo(ai);
    return 0;
fail:
    freeaddrinfo(ai);
    if (fd >= 0)
        close(fd);
    l->io.fd = -1;
    listener_close(l);
    return rc;
}

int listener_defer_accept(struct listener *l, int seconds)
{
    return setsockopt(l->io.fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof(seconds)) == 0
               ? 0
               : -errno;
}

void listener_close(struct listener *l)
{
    if (l->io.fd >= 0) {
        loop_del(l->loop, &l->io);
        close(l->io.fd);
        l->io.fd = -1;
    }
    if (l->reserve_fd >= 0) {
        close(l->reserve_fd);
        l->reserve_fd = -1;
    }
    if (l->retry_io.fd >= 0) {
        loop_del(l->loop, &l->retry_io);
        close(l->retry_io.fd);
        l->retry_io.fd = -1;
    }
}
