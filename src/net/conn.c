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

/* How much one read asks for: large enough that a typical request or burst is one syscall. */
#define CONN_READ_CHUNK 16384
/* How much of a file one write takes: the copy buffer, and the sendfile slice. */
#define CONN_FILE_CHUNK (64 * 1024)

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
}

void conn_set_free(struct conn_set *set)
{
    conn_set_close_all(set, CLOSE_SHUTDOWN);
    free(set->scratch);
    set->scratch = NULL;
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
    char byte;
    ssize_t n = recv(c->io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n >= 0 || (errno != EAGAIN && errno != EINTR);
}

bool conn_pending(const struct conn *c)
{
    return buf_readable(&c->out) > 0 || c->file_fd >= 0;
}

/* The one place that decides what epoll waits for. */
static int update_events(struct conn *c)
{
    uint32_t events = c->set->trigger;
    if (!c->read_paused)
        events |= EPOLLIN | EPOLLRDHUP;
    if (conn_pending(c))
        events |= EPOLLOUT;
    return loop_mod(c->set->loop, &c->io, events);
}

int conn_pause_read(struct conn *c, bool paused)
{
    c->read_paused = paused;
    return update_events(c);
}

void conn_send_file(struct conn *c, int fd, off_t off, off_t len)
{
    if (c->file_fd >= 0)
        close(c->file_fd);
    c->file_fd = fd;
    c->file_off = off;
    c->file_end = off + len;
}

static void file_done(struct conn *c)
{
    close(c->file_fd);
    c->file_fd = -1;
}

/*
 * One write of what is queued: the head bytes and, by copy, the next piece of the file in the
 * same writev (pread into the loop's scratch; measured faster than sendfile on loopback), or
 * the file by sendfile once the head is out. Returns bytes written, or -errno.
 */
static ssize_t write_some(struct conn *c)
{
    struct iovec iov[2];
    int n = 0;
    size_t head = buf_readable(&c->out);
    if (head > 0)
        iov[n++] = (struct iovec){c->out.data + c->out.off, head};
    off_t left = c->file_fd >= 0 ? c->file_end - c->file_off : 0;
    if (left > 0 && c->set->use_sendfile && head == 0) {
        ssize_t w = sendfile(c->io.fd, c->file_fd, &c->file_off,
                             left > CONN_FILE_CHUNK ? CONN_FILE_CHUNK : (size_t)left);
        /* 0 means the file shrank under us: the promised length can no longer be sent. */
        return w < 0 ? -errno : w == 0 ? -EIO : w;
    }
    if (left > 0 && !c->set->use_sendfile) {
        if (!c->set->scratch && !(c->set->scratch = malloc(CONN_FILE_CHUNK)))
            return -ENOMEM;
        ssize_t r = pread(c->file_fd, c->set->scratch,
                          left > CONN_FILE_CHUNK ? CONN_FILE_CHUNK : (size_t)left, c->file_off);
        if (r < 0)
            return -errno;
        /* The file shrank under us: the promised length can no longer be sent. */
        if (r == 0)
            return -EIO;
        iov[n++] = (struct iovec){c->set->scratch, (size_t)r};
    }
    if (n == 0)
        return 0;
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t w = sendmsg(c->io.fd, &msg, MSG_NOSIGNAL);
    if (w < 0)
        return -errno;
    size_t from_head = (size_t)w < head ? (size_t)w : head;
    buf_consume(&c->out, from_head);
    c->file_off += (off_t)((size_t)w - from_head);
    return w;
}

int conn_flush(struct conn *c, size_t *written)
{
    size_t total = 0;
    int rc = 0;
    for (;;) {
        if (c->file_fd >= 0 && c->file_off >= c->file_end)
            file_done(c);
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
    }
    if (written)
        *written = total;
    if (rc != 0 && rc != -EAGAIN)
        return rc;
    int mod = update_events(c);
    return rc ? rc : mod;
}

static void conn_ready(struct loop *loop, struct loop_io *io, uint32_t events)
{
    (void)loop;
    struct conn *c = container_of(io, struct conn, io);
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
    if (!c->read_paused && events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
        c->set->handler->on_readable(c);
}

struct conn *conn_open(struct conn_set *set, int fd, const struct sockaddr *peer, socklen_t len)
{
    struct conn *c = calloc(1, set->conn_size);
    if (!c) {
        close(fd);
        return NULL;
    }
    c->set = set;
    c->file_fd = -1;
    timer_node_init(&c->timer);
    if (len > sizeof(c->peer))
        len = sizeof(c->peer);
    memcpy(&c->peer, peer, len);
    c->peer_len = len;
    if (loop_add(set->loop, &c->io, fd, EPOLLIN | EPOLLRDHUP | set->trigger, conn_ready) != 0) {
        close(fd);
        free(c);
        return NULL;
    }
    c->next = set->first;
    if (set->first)
        set->first->prev = c;
    set->first = c;
    set->live++;
    set->opened++;
    return c;
}

ssize_t conn_read(struct conn *c)
{
    if (buf_reserve(&c->in, CONN_READ_CHUNK) != 0)
        return -ENOMEM;
    for (;;) {
        ssize_t n = recv(c->io.fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
        if (n > 0) {
            c->in.len += (size_t)n;
            return n;
        }
        if (n == 0) {
            c->eof = true;
            return 0;
        }
        if (errno != EINTR)
            break;
    }
    int err = errno;
    /* Nothing arrived: an idle connection keeps no buffer. */
    if (buf_readable(&c->in) == 0)
        buf_release(&c->in);
    return -err;
}

int conn_send(struct conn *c, const void *p, size_t n)
{
    int rc = buf_append(&c->out, p, n);
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
    loop_del(set->loop, &c->io);
    timers_cancel(loop_timers(set->loop), &c->timer);
    close(c->io.fd);
    if (c->file_fd >= 0)
        file_done(c);
    buf_release(&c->in);
    buf_release(&c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        set->first = c->next;
    if (c->next)
        c->next->prev = c->prev;
    set->live--;
    set->closed[why]++;
    free(c);
}
