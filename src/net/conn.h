/*
 * Connections: an accepted socket with its buffers and its timer, owned by one loop's conn_set.
 *
 * Everything that ends a connection goes through conn_close(): it cancels the timer, closes the
 * fd (which takes it out of epoll), keeps the memory for the next connection (or frees it) and
 * counts the reason. The timer node lives
 * inside the connection, so an expiry can only ever reach the connection it was armed for, never
 * a newer one that got the same fd number.
 */
#ifndef TINYWEB_NET_CONN_H
#define TINYWEB_NET_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "core/counter.h"
#include "core/loop.h"
#include "net/buf.h"

enum close_reason {
    CLOSE_PEER,           /* the peer closed or reset the connection */
    CLOSE_ERROR,          /* a socket error, or out of memory */
    CLOSE_DONE,           /* the server finished with it (Connection: close, protocol error) */
    CLOSE_IDLE_TIMEOUT,   /* inactive between messages or requests */
    CLOSE_HEADER_TIMEOUT, /* a request head did not arrive in time */
    CLOSE_BODY_TIMEOUT,   /* a request body stalled */
    CLOSE_SEND_TIMEOUT,   /* the peer stopped reading */
    CLOSE_SHUTDOWN,       /* the server is stopping */
    CLOSE_REASON_MAX
};

struct conn;
struct tls_conn;
struct tls_ctx;

/* What the owner of a conn_set does with its connections. */
struct conn_handler {
    /* Bytes or EOF are waiting: call conn_read(). Edge-triggered, read until -EAGAIN or
     * c->drained, or call conn_yield() to leave the rest for the next turn. */
    void (*on_readable)(struct conn *c);
    /* The connection's timer of class cls expired (through conn_set_expire, for owners that
     * give every class that one handler; may be NULL for an owner with a timer_handler per
     * class, as HTTP has); the handler usually closes it. */
    void (*on_timeout)(struct conn *c, int cls);
    /* The socket took bytes after a full send buffer: call conn_flush(). NULL: flush here and
     * close on error. */
    void (*on_writable)(struct conn *c);
    /* Called by conn_close() while the fd is still open; may be NULL. */
    void (*on_close)(struct conn *c, enum close_reason why);
    /* A body queued with conn_send_body() is sent or dropped: its owner may let go of it. */
    void (*release_body)(void *ref);
};

/* Bodies at least this long go by sendfile(2) (CONN_SENDFILE_OFF: never, 0: always). */
#define CONN_SENDFILE_OFF INT64_MAX

/* One loop's connections and their counters. Embedded in its owner; not thread-safe. */
struct conn_set {
    struct loop *loop;
    const struct conn_handler *handler;
    uint32_t trigger;     /* 0 (level-triggered) or EPOLLET */
    size_t conn_size;     /* the owner's struct, which starts with a struct conn */
    int64_t sendfile_min; /* file bodies this long or longer by sendfile(2), else pread + write */
    char *scratch;        /* the copy buffer for file bodies, shared by the loop's connections */
    struct conn *first;
    struct buf_pool bufs;  /* read and write buffers between uses */
    struct freelist spare; /* closed connections' memory, for the next ones */
    size_t live;
    counter_t opened;
    counter_t closed[CLOSE_REASON_MAX];
    counter_t bytes_out; /* response bytes the sockets took */
    /* TLS handshakes: completed (of which resumed from a ticket or the cache), and failed (an
     * alert, garbage, plain HTTP; not a client that left or stalled). */
    counter_t tls_handshakes, tls_resumed, tls_failed;
};

/* The peer's address: IPv4 or IPv6, whichever the family says. */
union conn_addr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
};

/* A connection: kept small, as every idle keep-alive connection is one of these and no more. */
struct conn {
    struct loop_io io; /* io.fd is the socket */
    struct timer_node timer;
    struct conn_set *set;
    struct conn *prev, *next;
    struct buf in, out;
    /* The body queued behind out: bytes in memory, or a file; [body_off, body_end) is left. */
    const char *body_mem;
    void *body_ref; /* handed to release_body() when the body is done */
    off_t body_off, body_end;
    struct tls_conn *tls; /* TLS (net/tls.h), or NULL: plain TCP */
    int body_fd;
    bool body_sendfile; /* the file goes by sendfile(2) */
    bool read_paused;   /* not reading: epoll waits for writability only */
    bool hangup;        /* the last event carried EPOLLRDHUP: the peer's FIN is waiting */
    bool drained;       /* the last read found the socket empty (a short read, no FIN waiting) */
    bool registered;    /* in the loop's epoll set */
    bool closing;       /* the queued response is the last (TLS: close_notify goes along) */
    bool posted;        /* in the loop's posted events (TLS records held: conn.c) */
    union conn_addr peer;
};

/* The reason's name for logs and counters ("idle_timeout"). */
const char *close_reason_name(enum close_reason why);

/*
 * Initialises set on loop. Each connection is a zeroed block of conn_size bytes that starts with
 * its struct conn (the owner's struct embeds it first). Timer expiries reach handler->on_timeout
 * when the loop was created with conn_set_expire (below) and the set as its ctx.
 */
void conn_set_init(struct conn_set *set, struct loop *loop, const struct conn_handler *handler,
                   uint32_t trigger, size_t conn_size);

/* Closes every connection of set with reason CLOSE_SHUTDOWN and frees the set's memory. */
void conn_set_free(struct conn_set *set);

/* The loop's timer_expire_fn, with the set as its ctx: routes expiries to on_timeout. */
void conn_set_expire(struct timer_node *node, int cls, void *set);

/* Closes every connection of set with reason why. O(connections). */
void conn_set_close_all(struct conn_set *set, enum close_reason why);

/* Takes over the accepted, nonblocking fd. NULL (fd closed) when out of memory. The memory
 * comes from the set's spare connections when there is one. The socket is not in epoll yet:
 * the owner may read it at once (a request often arrives with the connection) and must then
 * call conn_register(), unless it closed the connection meanwhile. */
struct conn *conn_open(struct conn_set *set, int fd, const struct sockaddr *peer, socklen_t len);

/* Adds c's socket to the loop's epoll set (for reading, and writing if output waits); the
 * first wait for writability does it too. 0 or -errno. */
int conn_register(struct conn *c);

/* Stops reading c for this turn with bytes maybe left: epoll reports it again next turn (an
 * unregistered socket is checked when it joins). 0 or -errno. */
int conn_yield(struct conn *c);

/*
 * Reads once into c->in: bytes read (> 0), 0 at EOF, -EAGAIN when drained, or -errno. After a
 * short read with no FIN pending, c->drained is set: edge-triggered readers may stop there, as
 * bytes that arrive later raise a new edge (nginx does the same). Over TLS a read returns one
 * record's plaintext (the handshake runs inside the first reads), and c->drained is set when
 * the socket read came back short and no whole record waits in TLS's buffer (records held
 * there are posted to the loop: the connection is called again next turn);
 * TLS_ERR_PLAIN_HTTP (net/tls.h) when the client spoke plain HTTP to the TLS port.
 */
ssize_t conn_read(struct conn *c);

/* Sends n bytes, queueing what the socket does not take now. 0 or -errno. */
int conn_send(struct conn *c, const void *p, size_t n);

/*
 * Queues a body behind c->out: len bytes from off of mem, or of the file fd when mem is NULL.
 * ref owns them: when the body is sent (or the connection closes) the handler's
 * release_body(ref) is called.
 */
void conn_send_body(struct conn *c, const char *mem, int fd, off_t off, off_t len, void *ref);

/* Room for n more bytes in c->out (from the loop's pool): the caller writes there, then
 * conn_commit(). NULL when out of memory. */
char *conn_out_space(struct conn *c, size_t n);

/* Adds n bytes written at conn_out_space() to c->out. */
static inline void conn_commit(struct conn *c, size_t n)
{
    c->out.len += (uint32_t)n;
}

/* Makes c a TLS connection on ctx (net/tls.h), before its first read. 0 or -ENOMEM. */
int conn_start_tls(struct conn *c, struct tls_ctx *ctx);

/* Our side is done writing: close_notify over TLS, then shutdown(SHUT_WR). */
void conn_shutdown_write(struct conn *c);

/* Gives c->in's storage back to the loop's pool (an idle connection keeps no buffer). */
void conn_release_in(struct conn *c);

/*
 * Writes what is queued (c->out, then the file). Returns 0 when all of it is sent, -EAGAIN when
 * the socket is full (writability is then awaited), or -errno. *written counts the bytes sent.
 */
int conn_flush(struct conn *c, size_t *written);

/*
 * True when the peer's bytes (or its EOF) wait unread in the socket (or in OpenSSL). A timeout
 * handler asks it before closing a read-side phase as inactive: after a stall, a ready event may
 * still sit in a later epoll batch than the expiry. One recv(MSG_PEEK) syscall (none when TLS
 * holds read bytes).
 */
bool conn_unread(const struct conn *c);

/* True while bytes or a file body are queued (over TLS, or sealed records the socket has not
 * taken yet). */
bool conn_pending(const struct conn *c);

/* True while bytes or a file body of a response are queued (TLS's own records aside). */
bool conn_queued(const struct conn *c);

/* Stops (or resumes) reading: a paused connection waits for writability only. 0 or -errno. */
int conn_pause_read(struct conn *c, bool paused);

/* The single close path. c is freed on return. A TLS connection sends close_notify when it
 * ends cleanly (done, idle, shutdown), not after an error or a timeout mid-exchange. */
void conn_close(struct conn *c, enum close_reason why);

/* Arms c's timer in class cls from a fresh clock reading (re-arms it on activity). O(1) with
 * fifo. */
static inline void conn_arm(struct conn *c, int cls)
{
    loop_arm(c->set->loop, &c->timer, cls);
}

#endif
