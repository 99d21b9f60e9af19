/*
 * The unified event source (the seeds' "统一事件源"): signals become events of the loop.
 *
 * The handler does one thing: it writes the signal number as one byte into a socketpair whose
 * write end is nonblocking (a full pipe drops the byte rather than block in a handler) and
 * whose read end sits in the loop's epoll set; errno is saved and restored around it. The loop
 * then does the real work: SIGALRM ticks the loop's timers (tick source "alarm"), and every
 * other watched signal (SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1) goes to the owner's callback.
 * Handlers use SA_RESTART and block every signal while they run. SIGPIPE is ignored: a write to a
 * closed socket returns EPIPE instead of killing the server.
 *
 * Signals are process-wide, so there is one source per process, owned by one loop.
 */
#ifndef TINYWEB_CORE_SIG_H
#define TINYWEB_CORE_SIG_H

#include "loop.h"

/* Called on the owning loop for SIGTERM, SIGINT, SIGQUIT, SIGHUP and SIGUSR1. */
typedef void (*sig_fn)(int signo, void *ctx);

/* Opens the source on loop and installs the handlers. 0, -EBUSY if already open, or -errno. */
int sig_source_open(struct loop *loop, sig_fn fn, void *ctx);

/* Restores default dispositions, removes the read end from its loop and closes the pair. */
void sig_source_close(void);

/* The loop the source is open on, or NULL. */
struct loop *sig_source_loop(void);

#endif
