/*
 * Connections. See conn.h.
 */
#include "conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/defs.h"
#include "net/tls.h"

/* How much one read asks for: large enough that a typical request or burst is one syscall. */
#define CONN_READ_CHUNK BUF_BLOCK
/* How much of a file one copy takes (the loop's scratch buffer); over TLS, the plaintext
 * sealed for one send. */
#define CONN_FILE_CHUNK (64 * 1024)
/* A response's first TLS record (head and body start) fits one pooled block once sealed. */
#define TLS_FIRST_RECORD (BUF_BLOCK - TLS_RECORD_OVERHEAD)
/* The plaintext sealed for one send: its records fit a 64 KiB buffer. */
#define TLS_BATCH (CONN_FILE_CHUNK - (CONN_FILE_CHUNK / TLS_RECORD_MAX + 1) * TLS_RECORD_OVERHEAD)
/* How much one sendfile call may take: the socket takes what fits, so this only bounds a turn. */
#define CONN_SENDFILE_SLICE (1024 * 1024)
/* Buffers and connections kept for reuse per loop: enough for a busy loop's working set,
 * few enough that memory returns to the allocator after a burst. */
#define CONN_POOL_BUFS  32
#define CONN_POOL_CONNS 64

/* Every idle keep-alive connection costs one of these (200 bytes in docs/PERFORMANCE.md, on
 * x86-64; 192 before the TLS pointer): growing it shows at 100k connections, so it takes a
 * decision, not an accident. */
_Static_assert(sizeof(void *) != 8 || sizeof(struct conn) <= 200, "struct conn grew");

static const char *const reason_names[CLOSE_REASON_MAX] = {
    [CLOSE_PEER] = "peer_closed",
    [CLOSE_ERROR] = "error",
    [CLOSE_DONE] = "done",
    [CLOSE_IDLE_TIMEOUT] = "idle_timeout",
    [CLOSE_HEADER_TIMEOUT] = "header_timeout",
    [CLOSE_BODY_TIMEOUT] = "body_timeout",
    [CLOSE_SEND_TIMEOUT] = "send_timeout",
    [CLOSE_SHUTDOWN] = "shutdown",
};

const char *close_reason_name(enum close_reason why)
{
    return (unsigned)why < CLOSE_REASON_MAX ? reason_names[why] : "unknown";
}

void conn_set_init(struct conn_set *set, struct loop *loop, const struct conn_handler *handler,
                   uint32_t trigger, size_t conn_size)
{
    memset(set, 0, sizeof(*set));
    set->loop = loop;
    set->handler = handler;
    set->trigger = trigger;
    set->conn_size = conn_size < sizeof(struct conn) ? sizeof(struct conn) : conn_size;
    set->sendfile_min = CONN_SENDFILE_OFF;
    set->bufs.blocks.max = CONN_POOL_BUFS;
    set->spare.max = CONN_POOL_CONNS;
}

void conn_set_free(struct conn_set *set)
{
    conn_set_close_all(set, CLOSE_SHUTDOWN);
    free(set->scratch);
    set->scratch = NULL;
    buf_pool_drain(&set->bufs);
    freelist_drain(&set->spare);
}

void conn_set_expire(struct timer_node *node, int cls, void *set)
{
    struct conn *c = container_of(node, struct conn, timer);
    (void)set;
    c->set->handler->on_timeout(c, cls);
}

void conn_set_close_all(struct conn_set *set, enum close_reason why)
{
    while (set->first)
        conn_close(set->first, why);
}

bool conn_unread(const struct conn *c)
{
    if (c->tls && tls_pending(c->tls))
        return true;
    char byte;
    ssize_t n = recv(c->io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n >= 0 || (errno != EAGAIN && errno != EINTR);
}

bool conn_queued(const struct conn *c)
{
    return buf_readable(&c->out) > 0 || c->body_off < c->body_end;
}

bool conn_pending(const struct conn *c)
{
    return conn_queued(c) || (c->tls && tls_unsent(c->tls));
}

static void conn_ready(struct loop *loop, struct loop_io *io, uint32_t events);

/* The one place that decides what epoll waits for; the first call adds the socket. */
static int update_events(struct conn *c)
{
    uint32_t events = c->set->trigger;
    if (!c->read_paused)
        events |= EPOLLIN | EPOLLRDHUP;
    if (conn_pending(c))
        events |= EPOLLOUT;
    if (c->registered)
        return loop_mod(c->set->loop, &c->io, events);
    int rc = loop_add(c->set->loop, &c->io, c->io.fd, events, conn_ready);
    c->registered = rc == 0;
    return rc;
}

int conn_register(struct conn *c)
{
    return c->registered ? 0 : update_events(c);
}

int conn_yield(struct conn *c)
{
    return c->registered ? loop_rearm(c->set->loop, &c->io) : 0;
}

/* Records a TLS read took from the socket and did not hand out yet: epoll cannot see them, so
 * the connection is called again next turn (a no-op if they are gone by then). */
#define CONN_POSTED EPOLLMSG /* never reported by epoll */

static int post_tls(struct conn *c)
{
    if (c->posted || !c->tls || !tls_pending(c->tls))
        return 0;
    c->posted = loop_post(c->set->loop, &c->io, EPOLLIN | CONN_POSTED) == 0;
    return c->posted ? 0 : -ENOMEM;
}

int conn_pause_read(struct conn *c, bool paused)
{
    c->read_paused = paused;
    if (!paused && post_tls(c) != 0)
        return -ENOMEM;
    /* Not in epoll yet: conn_register() applies it. */
    return c->registered ? update_events(c) : 0;
}

/* Lets go of the queued body: back to its owner. */
static void body_done(struct conn *c)
{
    if (c->body_ref)
        c->set->handler->release_body(c->body_ref);
    c->body_ref = NULL;
    c->body_mem = NULL;
    c->body_fd = -1;
    c->body_off = c->body_end = 0;
}

void conn_send_body(struct conn *c, const char *mem, int fd, off_t off, off_t len, void *ref)
{
    body_done(c);
    c->body_mem = mem;
    c->body_fd = mem ? -1 : fd;
    c->body_ref = ref;
    c->body_off = off;
    c->body_end = off + len;
    c->body_sendfile = !mem && len >= c->set->sendfile_min;
}

char *conn_out_space(struct conn *c, size_t n)
{
    if (buf_reserve(&c->out, n, &c->set->bufs) != 0)
        return NULL;
    return c->out.data + c->out.len;
}

void conn_release_in(struct conn *c)
{
    buf_release(&c->in, &c->set->bufs);
}

/* The next piece of a file body by copy: into the loop's scratch. Bytes, or -errno. */
static ssize_t read_piece(struct conn *c, off_t left)
{
    if (!c->set->scratch && !(c->set->scratch = malloc(CONN_FILE_CHUNK)))
        return -ENOMEM;
    ssize_t r = pread(c->body_fd, c->set->scratch,
                      left > CONN_FILE_CHUNK ? CONN_FILE_CHUNK : (size_t)left, c->body_off);
    if (r < 0)
        return -errno;
    /* The file shrank under us: the promised length can no longer be sent. */
    return r == 0 ? -EIO : r;
}

/*
 * One write of what is queued: the head bytes and the next piece of the body in the same
 * writev (a memory body as it is, a file by copy through the loop's scratch: on loopback that
 * measured faster than sendfile), or a sendfile body once the head is out. Returns bytes
 * written, or -errno.
 */
/* Takes w bytes written from the head, then the body. */
static void consumed(struct conn *c, size_t head, size_t w)
{
    size_t from_head = w < head ? w : head;
    buf_consume(&c->out, from_head);
    c->body_off += (off_t)(w - from_head);
}

static ssize_t write_some_tls(struct conn *c);

static ssize_t write_some(struct conn *c)
{
    if (c->tls)
        return write_some_tls(c);
    struct iovec iov[2];
    int n = 0;
    size_t head = buf_readable(&c->out);
    if (head > 0)
        iov[n++] = (struct iovec){c->out.data + c->out.off, head};
    off_t left = c->body_end - c->body_off;
    if (left > 0 && c->body_mem) {
        iov[n++] = (struct iovec){(char *)c->body_mem + c->body_off, (size_t)left};
    } else if (left > 0 && c->body_sendfile) {
        if (head == 0) {
            ssize_t w = sendfile(c->io.fd, c->body_fd, &c->body_off,
                                 left > CONN_SENDFILE_SLICE ? CONN_SENDFILE_SLICE : (size_t)left);
            /* 0 means the file shrank under us: the promised length can no longer be sent. */
            return w < 0 ? -errno : w == 0 ? -EIO : w;
        }
    } else if (left > 0) {
        ssize_t r = read_piece(c, left);
        if (r < 0)
            return r;
        iov[n++] = (struct iovec){c->set->scratch, (size_t)r};
    }
    if (n == 0)
        return 0;
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t w = sendmsg(c->io.fd, &msg, MSG_NOSIGNAL);
    if (w < 0)
        return -errno;
    consumed(c, head, (size_t)w);
    return w;
}

/*
 * The TLS write: records are sealed into the TLS buffer, up to TLS_BATCH of plaintext, then
 * leave in one send. The head and the start of the body are copied together into the
 * loop's scratch and go as one record (a small response is one record and one syscall);
 * then the body in place (memory) or through the scratch (a file). Sealed records are never
 * taken back: what the socket did not take is sent first at the next call. Returns the
 * plaintext bytes sealed (consumed from the queue), 0 when nothing was left, or -errno.
 */
static ssize_t write_some_tls(struct conn *c)
{
    /* Sealed bytes the socket did not take go first; a few a read left (session tickets) go
     * along with this batch instead (so the buffer stays under a record plus a batch). */
    int rc = tls_unsent(c->tls) >= TLS_RECORD_MAX ? tls_flush(c->tls) : 0;
    if (rc != 0)
        return rc;
    off_t queued = (off_t)buf_readable(&c->out) + (c->body_end - c->body_off);
    size_t batch = queued > TLS_BATCH ? TLS_BATCH : (size_t)queued;
    if (batch == 0)
        return tls_flush(c->tls);
    if (tls_reserve(c->tls, batch) != 0 ||
        (!c->set->scratch && !(c->set->scratch = malloc(CONN_FILE_CHUNK))))
        return -ENOMEM;
    size_t sealed = 0;
    while (sealed < batch) {
        size_t head = buf_readable(&c->out);
        off_t left = c->body_end - c->body_off;
        size_t room = batch - sealed;
        const char *p;
        size_t n;
        if (head > 0 && (left == 0 || head >= TLS_FIRST_RECORD)) {
            p = c->out.data + c->out.off;
            n = head < room ? head : room;
        } else if (head > 0) {
            size_t take = TLS_FIRST_RECORD - head;
            if ((off_t)take > left)
                take = (size_t)left;
            memcpy(c->set->scratch, c->out.data + c->out.off, head);
            if (c->body_mem) {
                memcpy(c->set->scratch + head, c->body_mem + c->body_off, take);
            } else {
                ssize_t r = pread(c->body_fd, c->set->scratch + head, take, c->body_off);
                if (r < 0)
                    return -errno;
                if (r == 0)
                    return -EIO;
                take = (size_t)r;
            }
            p = c->set->scratch;
            n = head + take;
        } else if (c->body_mem) {
            p = c->body_mem + c->body_off;
            n = (off_t)room < left ? room : (size_t)left;
        } else {
            ssize_t r = read_piece(c, (off_t)room < left ? (off_t)room : left);
            if (r < 0)
                return r;
            p = c->set->scratch;
            n = (size_t)r;
        }
        ssize_t w = tls_send(c->tls, p, n);
        if (w < 0)
            return w;
        consumed(c, head, n);
        sealed += n;
    }
    /* The connection's last bytes: close_notify goes in the same send. */
    if (c->closing && !conn_queued(c))
        tls_seal_close(c->tls);
    rc = tls_flush(c->tls);
    return rc == 0 || rc == -EAGAIN ? (ssize_t)sealed : rc;
}

int conn_flush(struct conn *c, size_t *written)
{
    size_t total = 0;
    int rc = 0;
    for (;;) {
        if (c->body_off >= c->body_end && c->body_ref)
            body_done(c);
        if (!conn_pending(c))
            break;
        ssize_t w = write_some(c);
        if (w == -EINTR)
            continue;
        if (w < 0) {
            rc = (int)w;
            break;
        }
        total += (size_t)w;
        /* Over TLS the records are sealed but perhaps not all sent: the socket is full. */
        if (c->tls && tls_unsent(c->tls)) {
            rc = -EAGAIN;
            break;
        }
    }
    counter_add(&c->set->bytes_out, total);
    if (written)
        *written = total;
    if (buf_readable(&c->out) == 0)
        buf_release(&c->out, &c->set->bufs);
    if (rc != 0 && rc != -EAGAIN)
        return rc;
    /* A connection not yet in epoll joins it only when it has to wait. */
    int mod = c->registered || rc ? update_events(c) : 0;
    return rc ? rc : mod;
}

/* Called for the epoll events of a connection's socket. */
static void conn_ready(struct loop *loop, struct loop_io *io, uint32_t events)
{
    (void)loop;
    struct conn *c = container_of(io, struct conn, io);
    if (events & CONN_POSTED) {
        c->posted = false;
        if (c->read_paused || !c->tls || !tls_pending(c->tls))
            return;
        c->set->handler->on_readable(c);
        return;
    }
    c->hangup = events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR);
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP) && conn_pending(c)) {
        if (c->set->handler->on_writable) {
            c->set->handler->on_writable(c);
            /* The handler may have closed c; it then reads nothing more of this event. */
            return;
        }
        int rc = conn_flush(c, NULL);
        if (rc != 0 && rc != -EAGAIN) {
            conn_close(c, CLOSE_ERROR);
            return;
        }
    }
    /* Errors and hang-ups surface through the read that follows. */
    if (!c->read_paused && events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
        c->set->handler->on_readable(c);
        return;
    }
    /* A reset or a hang-up both ways while reading is paused and nothing is left to send (the
     * owner waits for other work): the connection is gone. epoll reports these whatever it was
     * asked for, so in level-triggered mode they would come back every turn until then. */
    if (c->read_paused && events & (EPOLLERR | EPOLLHUP) && !conn_pending(c))
        conn_close(c, CLOSE_PEER);
}

struct conn *conn_open(struct conn_set *set, int fd, const struct sockaddr *peer, socklen_t len)
{
    struct conn *c = freelist_get(&set->spare);
    if (!c && !(c = malloc(set->conn_size))) {
        close(fd);
        return NULL;
    }
    memset(c, 0, set->conn_size);
    c->set = set;
    c->body_fd = -1;
    timer_node_init(&c->timer);
    memcpy(&c->peer, peer, len < sizeof(c->peer) ? len : sizeof(c->peer));
    c->io.fd = fd;
    c->io.fn = conn_ready; /* loop_add() sets it too; a post may come first */
    c->next = set->first;
    if (set->first)
        set->first->prev = c;
    set->first = c;
    set->live++;
    counter_add(&set->opened, 1);
    return c;
}

static ssize_t read_tls(struct conn *c);

ssize_t conn_read(struct conn *c)
{
    if (c->tls)
        return read_tls(c);
    /* The rest of a block while the unread bytes fit in one: they slide to its front rather
     * than growing the buffer out of the pool (a head in two segments, a body behind its head). */
    size_t live = buf_readable(&c->in);
    size_t want = live < CONN_READ_CHUNK ? CONN_READ_CHUNK - live : CONN_READ_CHUNK;
    if (buf_reserve(&c->in, want, &c->set->bufs) != 0)
        return -ENOMEM;
    size_t room = c->in.cap - c->in.len;
    for (;;) {
        ssize_t n = recv(c->io.fd, c->in.data + c->in.len, room, 0);
        if (n > 0) {
            c->in.len += (uint32_t)n;
            c->drained = (size_t)n < room && !c->hangup;
            return n;
        }
        if (n == 0)
            return 0;
        if (errno != EINTR)
            break;
    }
    int err = errno;
    c->drained = err == EAGAIN;
    /* Nothing arrived: an idle connection keeps no buffer. */
    if (buf_readable(&c->in) == 0)
        conn_release_in(c);
    return -err;
}

/*
 * The TLS read: room for a whole record, so that OpenSSL keeps no decrypted bytes back (epoll
 * would not report them). Drained as on plain TCP: the socket read came back short and no
 * record waits in the TLS buffer. Sealed bytes the read left unsent (a handshake flight that
 * did not fit) make the connection wait for writability, and stop it when they are out.
 */
static ssize_t read_tls(struct conn *c)
{
    if (buf_reserve(&c->in, TLS_RECORD_MAX, &c->set->bufs) != 0)
        return -ENOMEM;
    bool handshaking = !tls_handshake_done(c->tls);
    bool unsent = tls_unsent(c->tls) > 0;
    bool drained = false;
    ssize_t n =
        tls_recv(c->tls, c->in.data + c->in.len, c->in.cap - c->in.len, c->hangup, &drained);
    if (handshaking && tls_handshake_done(c->tls)) {
        counter_add(&c->set->tls_handshakes, 1);
        if (tls_resumed(c->tls))
            counter_add(&c->set->tls_resumed, 1);
    } else if (handshaking && n < 0 && n != -EAGAIN && n != -ECONNRESET && n != -EPIPE) {
        counter_add(&c->set->tls_failed, 1);
    }
    /* Writability is awaited for sealed bytes the socket did not take, and no longer once
     * they went out; those left unsent along with plaintext go with the response to it
     * (tls_recv), which waits for writability itself if it must. */
    bool now = tls_unsent(c->tls) > 0;
    if (((n <= 0 && !unsent && now) || (unsent && !now)) && c->registered) {
        int rc = update_events(c);
        if (rc != 0)
            return rc;
    }
    if (n > 0) {
        c->in.len += (uint32_t)n;
        c->drained = drained;
        return post_tls(c) == 0 ? n : -ENOMEM;
    }
    c->drained = n == -EAGAIN;
    if (buf_readable(&c->in) == 0)
        conn_release_in(c);
    return n;
}

int conn_start_tls(struct conn *c, struct tls_ctx *ctx)
{
    c->tls = tls_conn_new(ctx, c->io.fd, &c->set->bufs);
    return c->tls ? 0 : -ENOMEM;
}

void conn_shutdown_write(struct conn *c)
{
    if (c->tls)
        tls_conn_shutdown(c->tls);
    /* Sealed bytes the socket has not taken (close_notify behind a response still going out)
     * leave when it is writable: no FIN before them. */
    if (!c->tls || !tls_unsent(c->tls))
        shutdown(c->io.fd, SHUT_WR);
}

int conn_send(struct conn *c, const void *p, size_t n)
{
    int rc = buf_append(&c->out, p, n, &c->set->bufs);
    if (rc != 0)
        return rc;
    rc = conn_flush(c, NULL);
    return rc == -EAGAIN ? 0 : rc;
}

void conn_close(struct conn *c, enum close_reason why)
{
    struct conn_set *set = c->set;
    if (set->handler->on_close)
        set->handler->on_close(c, why);
    /* Closing the socket takes it out of the epoll set (no other fd refers to it), so only
     * this turn's pending events need forgetting: one syscall less per connection. */
    loop_forget(set->loop, &c->io);
    timers_cancel(loop_timers(set->loop), &c->timer);
    if (c->tls) {
        /* A peer that ended with close_notify (CLOSE_PEER, no error) gets ours in reply. */
        bool clean = why == CLOSE_DONE || why == CLOSE_IDLE_TIMEOUT || why == CLOSE_SHUTDOWN ||
                     (why == CLOSE_PEER && tls_peer_closed(c->tls));
        tls_conn_free(c->tls, clean && !conn_pending(c));
        c->tls = NULL;
    }
    close(c->io.fd);
    body_done(c);
    conn_release_in(c);
    buf_release(&c->out, &set->bufs);
    if (c->prev)
        c->prev->next = c->next;
    else
        set->first = c->next;
    if (c->next)
        c->next->prev = c->prev;
    set->live--;
    counter_add(&set->closed[why], 1);
    if (!freelist_put(&set->spare, c))
        free(c);
}
