/*
 * Listening sockets. See listener.h.
 */
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
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

    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "bad listen address %s:%s: %s", host, port, gai_strerror(gai));
        return -EINVAL;
    }
    int rc = 0;
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
    l->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
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
