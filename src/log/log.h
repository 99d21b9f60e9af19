/*
 * Logs: the error log (leveled lines, "2026/11/24 06:47:50 [error] message") and the access log
 * (Combined Log Format, as nginx's "combined" writes it, so goaccess and awstats read it as is).
 *
 * A log is one sink: a file opened O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC with mode 0644, or "-"
 * for a standard stream. Off is the NULL logger: every function here accepts NULL and returns at
 * once, and log_enabled() is an inline NULL check a caller makes before formatting anything.
 *
 * Callers format on their own stack into at most LOG_LINE_MAX bytes; nothing is allocated per
 * line. Longer lines are cut and end with LOG_TRUNCATED; the access formatter instead shortens
 * the long fields inside their quotes so a cut line still parses. Two write modes:
 * - sync: every line is one write(2). O_APPEND keeps lines from several threads (or processes)
 *   whole in a regular file, and a line of at most PIPE_BUF bytes is whole in a pipe too.
 * - async: callers copy the line into a bounded ring under a mutex the writer thread only holds
 *   for bookkeeping, never across I/O; when the ring is full the line is dropped and counted. The
 *   writer thread writes whatever is queued with one writev(2) per batch, straight from the ring.
 *
 * Times are local, as nginx writes them, with the numeric offset in access lines
 * ("[24/Nov/2026:06:47:50 +0100]"); the zone comes from TZ or /etc/localtime, read once.
 * localtime_r() runs at most once per second per thread (its answer is cached per thread), so
 * no line takes a libc lock.
 *
 * Every function is thread-safe, except that log_close() must not race any other call on the
 * same log. log_line(), log_msg(), log_access() and log_reopen() leave errno as they found it.
 */
#ifndef TINYWEB_LOG_LOG_H
#define TINYWEB_LOG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The longest line, '\n' included: PIPE_BUF on Linux, so a line is one atomic pipe write. */
#define LOG_LINE_MAX 4096

/* How a cut line ends. */
#define LOG_TRUNCATED "[truncated]\n"

/* The async ring's size when log_config.queue_bytes is 0. */
#define LOG_QUEUE_DEFAULT (1u << 20)

/* Error-log levels, most severe first; a log keeps the lines at or above its minimum. */
enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

struct log_config {
    const char *path;     /* a file, or "-" for std_fd; off is no log at all (NULL) */
    int std_fd;           /* the fd behind "-": STDERR_FILENO or STDOUT_FILENO; never closed */
    enum log_level level; /* the minimum log_msg() level; access lines ignore it */
    bool async;           /* write from a background thread */
    size_t queue_bytes;   /* async: the ring's size (0: LOG_QUEUE_DEFAULT) */
};

/* A text field that need not be NUL-terminated (a slice of the request buffer). */
struct log_str {
    const char *p; /* NULL: absent, logged as "-" */
    size_t len;
};

/* The fields of one access-log line. Every text field is escaped as nginx escapes it. */
struct log_access {
    const char *client;     /* the peer's address as text ("127.0.0.1", "::1"); NULL: "-" */
    time_t time;            /* wall clock, when the response ended */
    struct log_str request; /* the request line as received; when absent, the next three */
    struct log_str method, target, version; /* the request line's parts; all absent: "-" */
    int status;
    uint64_t bytes;                     /* body bytes sent; 0 is printed as 0, as nginx does */
    struct log_str referer, user_agent; /* absent: "-" */
};

struct log;

/* Parses "error", "warn", "info" or "debug". Returns 0, or -EINVAL for an unknown name. */
int log_level_parse(const char *name, enum log_level *out);

/* The name of a level, as log_level_parse() accepts it and log_msg() prints it. */
const char *log_level_name(enum log_level level);

/*
 * Opens a sink and, when async, starts its writer thread with every signal blocked. Returns NULL
 * with errno set and a one-line reason in err on failure. Not a hot path: it allocates and opens.
 */
struct log *log_open(const struct log_config *cfg, char *err, size_t errlen);

/*
 * Writes out everything queued, stops the writer, closes the file and frees l. Blocks on I/O.
 * No other call on l may run concurrently or follow.
 */
void log_close(struct log *l);

/*
 * Opens the path again, for logrotate's SIGHUP (call it from the loop, not a signal handler):
 * lines logged before the call go to the old file, lines logged after to the new one. Sync logs
 * swap the file under the same fd with dup2(); async logs hand the new fd to the writer, which
 * switches once it has written everything queued before the call. Costs one open(2); never waits
 * for the writer. 0 (also for "-" and NULL), or -errno with the old file still in use.
 */
int log_reopen(struct log *l);

/* False for the off logger: check it before building a line. Inline, free. */
static inline bool log_enabled(const struct log *l)
{
    return l != NULL;
}

/* Whether log_msg() at level would write a line: check it before costly arguments. O(1). */
bool log_wants(const struct log *l, enum log_level level);

/*
 * Logs one complete line of len bytes; a '\n' is added if it does not end in one, and a line
 * longer than LOG_LINE_MAX is cut. Sync: one write(2), blocking. Async: one memcpy under the
 * mutex, never blocking on I/O or on the writer; a line that does not fit is dropped and counted.
 */
void log_line(struct log *l, const char *line, size_t len);

/*
 * Logs "2026/11/24 06:47:50 [warn] message\n" if level is at or above the log's minimum. Control
 * bytes in the message are written as \xHH, so a value quoted from a request cannot forge lines.
 * Formats on the stack (2 * LOG_LINE_MAX), then costs what log_line() costs.
 */
void log_msg(struct log *l, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Formats one Combined Log Format line, '\n' included, into out and returns its length (not
 * NUL-terminated). With cap >= LOG_LINE_MAX nothing is cut but over-long fields, which end in
 * "..." inside their quotes; a smaller cap cuts the line and ends it with LOG_TRUNCATED; a cap
 * below sizeof(LOG_TRUNCATED) writes nothing and returns 0. O(line); the local time of a new
 * second costs one localtime_r() (see the top of this file).
 */
size_t log_format_access(char *out, size_t cap, const struct log_access *a);

/* Formats a with log_format_access() on the stack and logs it with log_line(). */
void log_access(struct log *l, const struct log_access *a);

/* Lines lost so far: dropped because the async ring was full, or failed to write. O(1). */
uint64_t log_dropped(const struct log *l);

#endif
