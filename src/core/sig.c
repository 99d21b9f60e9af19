/*
 * The unified event source. See sig.h.
 */
#include "sig.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "defs.h"

static const int watched[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGALRM};

/* Process-wide, like the signals themselves. pair[1] is the only thing the handler touches. */
static struct {
    int pair[2];
    struct loop *loop;
    struct loop_io io;
    sig_fn fn;
    void *ctx;
} source = {.pair = {-1, -1}};

static void sig_handler(int signo)
{
    int saved = errno;
    unsigned char msg = (unsigned char)signo;
    /* Nonblocking: with the pipe full the byte is lost, and so is at most one tick, as in the
     * seeds; a pending SIGTERM's byte is already in the pipe. */
    ssize_t n = send(source.pair[1], &msg, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)n;
    errno = saved;
}

static void sig_ready(struct loop *loop, struct loop_io *io, uint32_t events)
{
    (void)events;
    unsigned char buf[256];
    /* Edge-triggered: drain until EAGAIN. */
    for (;;) {
        ssize_t n = recv(io->fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == SIGALRM)
                loop_tick(loop);
            else
                source.fn(buf[i], source.ctx);
        }
    }
}

static int install(int signo, void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigfillset(&sa.sa_mask);
    return sigaction(signo, &sa, NULL) == 0 ? 0 : -errno;
}

int sig_source_open(struct loop *loop, sig_fn fn, void *ctx)
{
    if (source.loop)
        return -EBUSY;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, source.pair) != 0)
        return -errno;
    source.fn = fn;
    source.ctx = ctx;
    int rc = loop_add(loop, &source.io, source.pair[0], EPOLLIN | EPOLLET, sig_ready);
    if (rc != 0)
        goto fail;
    source.loop = loop;
    if ((rc = install(SIGPIPE, SIG_IGN)) != 0)
        goto fail;
    for (size_t i = 0; i < ARRAY_SIZE(watched); i++) {
        if ((rc = install(watched[i], sig_handler)) != 0)
            goto fail;
    }
    return 0;
fail:
    sig_source_close();
    return rc;
}

void sig_source_close(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(watched); i++)
        install(watched[i], SIG_DFL);
    if (source.loop)
        loop_del(source.loop, &source.io);
    for (int i = 0; i < 2; i++) {
        if (source.pair[i] >= 0)
            close(source.pair[i]);
        source.pair[i] = -1;
    }
    source.loop = NULL;
}

struct loop *sig_source_loop(void)
{
    return source.loop;
}
