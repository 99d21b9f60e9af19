/*
 * A listening socket in a loop: binds an IPv4 or IPv6 address, accepts pending connections in
 * batches (edge-triggered mode never strands one in the backlog), and survives running out of
 * file descriptors without spinning: a spare fd is given up to accept and drop a connection, and
 * when even that fails (another thread took the freed fd) the listener stops watching the socket
 * and retries after LISTENER_RETRY_MS, as nginx disables accept events.
 */
#ifndef TINYWEB_NET_LISTENER_H
#define TINYWEB_NET_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/counter.h"
#include "core/loop.h"

struct listener;

/* Receives each accepted socket, already nonblocking and close-on-exec; it owns the fd. */
typedef void (*listener_accept_fn)(struct listener *l, int fd, const struct sockaddr *peer,
                                   socklen_t len);

/* How long a listener out of fds waits before it tries accepting again. */
#define LISTENER_RETRY_MS 100

struct listener {
    struct loop_io io;
    struct loop *loop;
    listener_accept_fn on_accept;
    void *data;              /* the owner's */
    uint32_t events;         /* what io waits for while accepting */
    int reserve_fd;          /* held open so that EMFILE can still accept and drop */
    struct loop_io retry_io; /* a one-shot timerfd: accepting resumes when it fires */
    uint16_t port;           /* the bound port (useful after binding port 0) */
    bool tls;                /* the owner's: its connections speak TLS */
    counter_t shed;          /* connections accepted and closed at once because fds ran out */
};

/*
 * Binds host:port ("127.0.0.1", "::1", "0" for an ephemeral port), listens, and adds the socket
 * to loop (trigger: 0 or EPOLLET). 0, or -errno with a one-line reason in err.
 */
int listener_open(struct listener *l, struct loop *loop, const char *host, const char *port,
                  int backlog, uint32_t trigger, bool reuseport, listener_accept_fn fn, char *err,
                  size_t errlen);

/*
 * Before the first listener_open() of an address whose listeners share it by SO_REUSEPORT:
 * -EADDRINUSE (with "cannot bind ...: Address already in use" in err) when any socket already
 * listens on host:port. A probe socket bound without SO_REUSEPORT finds it, whoever owns it;
 * otherwise the kernel would let our listeners join another process's group (same user) and
 * share its connections. 0 at once for port 0. Two syscalls and a bind; closes the probe.
 */
int listener_probe(const char *host, const char *port, char *err, size_t errlen);

/*
 * Once all n listeners of an address (ls) listen: -EADDRINUSE, with the other socket's address
 * and uid in err, when a socket outside ls listens on an overlapping address and the port (the
 * same address, or a wildcard of the family, or a dual-stack [::]). This closes the race of two
 * servers probing at the same instant: of two that both got past listener_probe(), at least
 * the later one to listen sees the other here. Two NETLINK_SOCK_DIAG dumps of the listening
 * TCP sockets (IPv4, IPv6), filtered by port in the kernel; another -errno if they fail.
 */
int listener_check_sole(struct listener *const *ls, int n, char *err, size_t errlen);

/*
 * TCP_DEFER_ACCEPT (nginx's `listen ... deferred`): the kernel completes a connection's
 * handshake but reports it to accept() only once its first bytes arrived, so that accepting,
 * reading and answering take one wake-up. A client that sends nothing is held (as a request
 * socket, no fd) for about `seconds` and then reported anyway. 0 turns it off. 0 or -errno.
 */
int listener_defer_accept(struct listener *l, int seconds);

/* Removes the socket from its loop and closes it; pending connections are refused. */
void listener_close(struct listener *l);

#endif
