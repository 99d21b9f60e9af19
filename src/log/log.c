/*
 * Logs. See log.h.
 *
 * The async ring is one byte array with two positions that count bytes since open and never
 * wrap (pos % cap is the index): producers append whole lines at tail under the mutex, and the
 * writer owns [head, tail). It snapshots both under the mutex, writes that range straight from
 * the ring with the mutex released, then advances head. Producers only ever copy into the free
 * part, so the bytes being written never change under the writer, and a line is either wholly
 * in the ring or dropped: a batch holds whole lines only and cannot tear one.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define OPEN_FLAGS (O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC)
#define OPEN_MODE  0644

#define TRUNC_LEN (sizeof(LOG_TRUNCATED) - 1)

/* Output caps of the access line's fields, escapes and "..." included. */
#define CAP_CLIENT  64
#define CAP_METHOD  32
#define CAP_TARGET  2048
#define CAP_VERSION 16
#define CAP_REFERER 1024
#define CAP_AGENT   768

/* The rest of an access line at its longest: ` - - [`, a time with a signed 12-digit year
 * (time_t's limit), `] "`, two spaces, `" `, a status, a space, a byte count, ` "`, `" "`, `"`
 * and '\n'. */
#define ACCESS_FIXED (6 + 35 + 3 + 2 + 2 + 11 + 1 + 20 + 2 + 3 + 1 + 1)

_Static_assert(CAP_CLIENT + CAP_METHOD + CAP_TARGET + CAP_VERSION + CAP_REFERER + CAP_AGENT +
                       ACCESS_FIXED <=
                   LOG_LINE_MAX - TRUNC_LEN,
               "a full access line must fit LOG_LINE_MAX without being cut");

struct log {
    int fd;      /* the sink; when async only the writer writes to it, and it swaps it */
    bool own_fd; /* false for "-" */
    bool async;
    enum log_level level;
    char *path; /* NULL for "-" */
    _Atomic uint64_t dropped;

    /* Async only; everything below the mutex is guarded by it, except the ring's bytes. */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* the writer waits here for lines, a reopen or the close */
    pthread_t writer;
    bool mu_ready, wake_ready, writer_running;
    char *ring;
    size_t cap;
    uint64_t head;    /* bytes the writer is done with */
    uint64_t tail;    /* bytes enqueued */
    bool writer_idle; /* the writer is waiting: whoever gives it work signals wake */
    bool stopping;
    int reopen_fd; /* the file to switch to once head reaches reopen_at, or -1 */
    uint64_t reopen_at;
};

static const char *const level_names[] = {
    [LOG_LEVEL_ERROR] = "error",
    [LOG_LEVEL_WARN] = "warn",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

int log_level_parse(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
    return level_names[level];
}

/* ---- Bounded line building ---- */

/* A line under construction. lim keeps room for LOG_TRUNCATED, so finishing always fits. */
struct out {
    char *p;
    size_t len, lim;
    bool cut;
};

static bool out_init(struct out *o, char *p, size_t cap)
{
    o->p = p;
    o->len = 0;
    o->lim = cap >= sizeof(LOG_TRUNCATED) ? cap - TRUNC_LEN : 0;
    o->cut = false;
    return cap >= sizeof(LOG_TRUNCATED);
}

/* Appends what fits of s; a plain string may be cut anywhere. */
static void put(struct out *o, const char *s, size_t n)
{
    if (o->cut)
        return;
    if (n > o->lim - o->len) {
        n = o->lim - o->len;
        o->cut = true;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

/* Appends s whole or, when it does not fit, nothing: an escape is never split. */
static void put_atom(struct out *o, const char *s, size_t n)
{
    if (o->cut)
        return;
    if (n > o->lim - o->len) {
        o->cut = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

/* Appends v in decimal, zero-padded to width digits. */
static void put_uint(struct out *o, uint64_t v, int width)
{
    char buf[24];
    int i = sizeof(buf);
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
        width--;
    } while (v != 0 || width > 0);
    put(o, buf + i, sizeof(buf) - (size_t)i);
}

static void put_int(struct out *o, int64_t v, int width)
{
    if (v < 0) {
        put(o, "-", 1);
        put_uint(o, 0 - (uint64_t)v, width);
    } else {
        put_uint(o, (uint64_t)v, width);
    }
}

/* Ends the line with '\n', or with LOG_TRUNCATED if anything was cut. Returns its length. */
static size_t out_finish(struct out *o)
{
    if (o->cut) {
        memcpy(o->p + o->len, LOG_TRUNCATED, TRUNC_LEN);
        o->len += TRUNC_LEN;
    } else {
        o->p[o->len++] = '\n';
    }
    return o->len;
}

/* ---- Escaping ---- */

/* nginx's access-log set: controls, '"', '\' and every byte from DEL up. */
static bool clf_escaped(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\' || c >= 0x7f;
}

/* The error log has no quoting to protect, only line structure; UTF-8 stays readable. */
static bool msg_escaped(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

static void put_byte(struct out *o, unsigned char c, bool escape)
{
    static const char hex[] = "0123456789ABCDEF";
    if (escape) {
        char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
        put_atom(o, e, sizeof(e));
    } else {
        put_atom(o, (const char *)&c, 1);
    }
}

/*
 * Appends an access-line field escaped, "-" when absent. Past cap output bytes the field is cut
 * and ends in "...", so the quotes around it still close and the line still parses.
 */
static void put_field(struct out *o, const char *p, size_t n, size_t cap)
{
    if (!p) {
        put(o, "-", 1);
        return;
    }
    const unsigned char *s = (const unsigned char *)p;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        size_t e = clf_escaped(s[i]) ? 4 : 1;
        if (w + e > cap - 3) {
            /* Keep the tail whole when it fits where the "..." would go. */
            size_t rest = 0, j = i;
            while (j < n && rest <= cap - w)
                rest += clf_escaped(s[j++]) ? 4 : 1;
            if (j == n && rest <= cap - w) {
                for (; i < n; i++)
                    put_byte(o, s[i], clf_escaped(s[i]));
            } else {
                put(o, "...", 3);
            }
            return;
        }
        put_byte(o, s[i], e == 4);
        w += e;
    }
}

/* ---- Time ---- */

static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct civil {
    int64_t year;
    int mon, day, hour, min, sec; /* mon 1..12 */
};

/* UTC from arithmetic alone (Howard Hinnant's civil_from_days), for times localtime_r() cannot
 * represent. */
static void civil_utc(time_t t, struct civil *c)
{
    int64_t s = (int64_t)t;
    int64_t days = s / 86400, rem = s % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    c->hour = (int)(rem / 3600);
    c->min = (int)(rem / 60 % 60);
    c->sec = (int)(rem % 60);
    days += 719468; /* from 1970-01-01 to 0000-03-01 */
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    c->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    c->mon = (int)(mp < 10 ? mp + 3 : mp - 9);
    c->year = yoe + era * 400 + (c->mon <= 2);
}

static void put_hms(struct out *o, const struct civil *c)
{
    put_uint(o, (uint64_t)c->hour, 2);
    put(o, ":", 1);
    put_uint(o, (uint64_t)c->min, 2);
    put(o, ":", 1);
    put_uint(o, (uint64_t)c->sec, 2);
}

/* One second of the wall clock in local time, with its offset from UTC in seconds. */
struct local_second {
    time_t t;
    bool valid;
    long gmtoff;
    struct civil c;
};

/*
 * The local time of t, as the TZ environment variable or /etc/localtime says (read once, at the
 * first call or tzset()). localtime_r() takes glibc's time zone lock, so its answer is kept per
 * thread: a thread calls it once per second of log times, never per line. A time that
 * localtime_r() cannot represent (a year past INT_MAX) is shown in UTC.
 */
static const struct local_second *local_time(time_t t)
{
    static _Thread_local struct local_second cache;
    if (cache.valid && cache.t == t)
        return &cache;
    struct tm tm;
    cache.t = t;
    cache.valid = true;
    if (localtime_r(&t, &tm)) {
        cache.gmtoff = tm.tm_gmtoff;
        cache.c = (struct civil){.year = (int64_t)tm.tm_year + 1900,
                                 .mon = tm.tm_mon + 1,
                                 .day = tm.tm_mday,
                                 .hour = tm.tm_hour,
                                 .min = tm.tm_min,
                                 .sec = tm.tm_sec};
    } else {
        cache.gmtoff = 0;
        civil_utc(t, &cache.c);
    }
    return &cache;
}

/* "24/Nov/2026:06:47:50 +0100", as nginx's $time_local prints it: local time and its offset. */
static void put_time_clf(struct out *o, time_t t)
{
    const struct local_second *ls = local_time(t);
    const struct civil *c = &ls->c;
    put_uint(o, (uint64_t)c->day, 2);
    put(o, "/", 1);
    put(o, month_names[c->mon - 1], 3);
    put(o, "/", 1);
    put_int(o, c->year, 4);
    put(o, ":", 1);
    put_hms(o, c);
    long off = ls->gmtoff / 60;
    put(o, off < 0 ? " -" : " +", 2);
    off = off < 0 ? -off : off;
    put_uint(o, (uint64_t)(off / 60), 2);
    put_uint(o, (uint64_t)(off % 60), 2);
}

/* "2026/11/24 06:47:50" in local time, as nginx's error log prints it. */
static void put_time_err(struct out *o, time_t t)
{
    const struct civil *c = &local_time(t)->c;
    put_int(o, c->year, 4);
    put(o, "/", 1);
    put_uint(o, (uint64_t)c->mon, 2);
    put(o, "/", 1);
    put_uint(o, (uint64_t)c->day, 2);
    put(o, " ", 1);
    put_hms(o, c);
}

/* ---- Writing ---- */

static void count_dropped(struct log *l, uint64_t lines)
{
    atomic_fetch_add_explicit(&l->dropped, lines, memory_order_relaxed);
}

/*
 * Writes all of iov, resuming after short writes. On an error (a full disk, a closed pipe) the
 * rest is given up rather than retried forever, and every line not wholly written is counted.
 */
static void write_all(struct log *l, int fd, struct iovec *iov, int cnt)
{
    while (cnt > 0) {
        ssize_t n = writev(fd, iov, cnt);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t done = (size_t)n;
        while (cnt > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + done;
            iov->iov_len -= done;
        }
    }
    uint64_t lost = 0;
    for (int i = 0; i < cnt; i++) {
        const char *p = iov[i].iov_base, *end = p + iov[i].iov_len;
        while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
            lost++;
            p++;
        }
    }
    if (lost)
        count_dropped(l, lost);
}

/* Copies n bytes into the ring at position pos, wrapping at the end. Called under the mutex. */
static void ring_put(struct log *l, uint64_t pos, const char *p, size_t n)
{
    size_t i = (size_t)(pos % l->cap);
    size_t first = n < l->cap - i ? n : l->cap - i;
    memcpy(l->ring + i, p, first);
    memcpy(l->ring, p + first, n - first);
}

/* Hands the writer work; it is told only when it sleeps, so a busy writer costs no syscall. */
static bool writer_wake_locked(struct log *l)
{
    bool was_idle = l->writer_idle;
    l->writer_idle = false;
    return was_idle;
}

static void enqueue(struct log *l, const char *line, size_t len, const char *end, size_t endlen)
{
    size_t n = len + endlen;
    pthread_mutex_lock(&l->mu);
    if (n > l->cap - (size_t)(l->tail - l->head)) {
        pthread_mutex_unlock(&l->mu);
        count_dropped(l, 1);
        return;
    }
    ring_put(l, l->tail, line, len);
    ring_put(l, l->tail + len, end, endlen);
    l->tail += n;
    bool wake = writer_wake_locked(l);
    pthread_mutex_unlock(&l->mu);
    if (wake)
        pthread_cond_signal(&l->wake);
}

/* Writes the ring's bytes [start, end) to fd: one writev of at most two pieces. */
static void write_ring(struct log *l, int fd, uint64_t start, uint64_t end)
{
    size_t i = (size_t)(start % l->cap), n = (size_t)(end - start);
    size_t first = n < l->cap - i ? n : l->cap - i;
    struct iovec iov[2] = {{l->ring + i, first}, {l->ring, n - first}};
    write_all(l, fd, iov, n > first ? 2 : 1);
}

static void *writer_main(void *arg)
{
    struct log *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        /* Everything logged before log_reopen() has been written to the old file: switch. */
        if (l->reopen_fd >= 0 && l->head == l->reopen_at) {
            int old = l->fd;
            l->fd = l->reopen_fd;
            l->reopen_fd = -1;
            pthread_mutex_unlock(&l->mu);
            close(old);
            pthread_mutex_lock(&l->mu);
            continue;
        }
        uint64_t end = l->tail;
        if (l->reopen_fd >= 0 && l->reopen_at < end)
            end = l->reopen_at;
        if (end == l->head) {
            if (l->stopping)
                break;
            l->writer_idle = true;
            pthread_cond_wait(&l->wake, &l->mu);
            l->writer_idle = false;
            continue;
        }
        uint64_t start = l->head;
        int fd = l->fd;
        pthread_mutex_unlock(&l->mu);
        write_ring(l, fd, start, end);
        pthread_mutex_lock(&l->mu);
        l->head = end;
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Signals are for the loops (the unified event source): the writer runs with all blocked, so a
 * handler never interrupts its writes and a signal's default action never lands on it. */
static int start_writer(struct log *l)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&l->writer, NULL, writer_main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        l->writer_running = true;
    return rc;
}

/* ---- The API ---- */

static void log_free(struct log *l)
{
    if (l->own_fd && l->fd >= 0)
        close(l->fd);
    if (l->reopen_fd >= 0)
        close(l->reopen_fd);
    if (l->wake_ready)
        pthread_cond_destroy(&l->wake);
    if (l->mu_ready)
        pthread_mutex_destroy(&l->mu);
    free(l->ring);
    free(l->path);
    free(l);
}

struct log *log_open(const struct log_config *cfg, char *err, size_t errlen)
{
    if (!cfg->path || (unsigned)cfg->level > LOG_LEVEL_DEBUG ||
        (strcmp(cfg->path, "-") == 0 && cfg->std_fd < 0)) {
        snprintf(err, errlen, "bad log config");
        errno = EINVAL;
        return NULL;
    }
    struct log *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* The time zone is read now, at start, rather than by the first line. */
    tzset();
    l->fd = l->reopen_fd = -1;
    l->level = cfg->level;
    l->async = cfg->async;
    int rc;
    if (strcmp(cfg->path, "-") == 0) {
        l->fd = cfg->std_fd;
    } else {
        l->path = strdup(cfg->path);
        if (!l->path) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        l->fd = open(l->path, OPEN_FLAGS, OPEN_MODE);
        if (l->fd < 0) {
            snprintf(err, errlen, "cannot open log %s: %s", l->path, strerror(errno));
            goto fail;
        }
        l->own_fd = true;
    }
    if (!cfg->async)
        return l;
    l->cap = cfg->queue_bytes ? cfg->queue_bytes : LOG_QUEUE_DEFAULT;
    l->ring = malloc(l->cap);
    if (!l->ring) {
        snprintf(err, errlen, "out of memory for a %zu-byte log queue", l->cap);
        goto fail;
    }
    if ((rc = pthread_mutex_init(&l->mu, NULL)) != 0) {
        errno = rc;
        snprintf(err, errlen, "pthread_mutex_init: %s", strerror(rc));
        goto fail;
    }
    l->mu_ready = true;
    if ((rc = pthread_cond_init(&l->wake, NULL)) != 0) {
        errno = rc;
        snprintf(err, errlen, "pthread_cond_init: %s", strerror(rc));
        goto fail;
    }
    l->wake_ready = true;
    if ((rc = start_writer(l)) != 0) {
        errno = rc;
        snprintf(err, errlen, "cannot start the log writer: %s", strerror(rc));
        goto fail;
    }
    return l;
fail:;
    int saved = errno;
    log_free(l);
    errno = saved;
    return NULL;
}

void log_close(struct log *l)
{
    if (!l)
        return;
    if (l->writer_running) {
        pthread_mutex_lock(&l->mu);
        l->stopping = true;
        pthread_mutex_unlock(&l->mu);
        pthread_cond_signal(&l->wake);
        pthread_join(l->writer, NULL);
    }
    log_free(l);
}

int log_reopen(struct log *l)
{
    if (!l || !l->path)
        return 0;
    int saved = errno, rc = 0;
    int fd = open(l->path, OPEN_FLAGS, OPEN_MODE);
    if (fd < 0) {
        rc = -errno;
        errno = saved;
        return rc;
    }
    if (!l->async) {
        /* One atomic swap under the same fd number: a write racing it lands whole in either
         * file, and no thread can ever write to a closed or reused fd. dup3 keeps O_CLOEXEC,
         * which dup2 would drop. */
        if (dup3(fd, l->fd, O_CLOEXEC) < 0)
            rc = -errno;
        close(fd);
        errno = saved;
        return rc;
    }
    pthread_mutex_lock(&l->mu);
    /* A reopen the writer has not reached yet is superseded: its lines go to the older file
     * instead, and nothing is lost. */
    int stale = l->reopen_fd;
    l->reopen_fd = fd;
    l->reopen_at = l->tail;
    bool wake = writer_wake_locked(l);
    pthread_mutex_unlock(&l->mu);
    if (wake)
        pthread_cond_signal(&l->wake);
    if (stale >= 0)
        close(stale);
    errno = saved;
    return 0;
}

bool log_wants(const struct log *l, enum log_level level)
{
    return l && level <= l->level;
}

void log_line(struct log *l, const char *line, size_t len)
{
    if (!l || len == 0)
        return;
    int saved = errno;
    const char *end = "";
    size_t endlen = 0;
    bool nl = line[len - 1] == '\n';
    if (len + !nl > LOG_LINE_MAX) {
        len = LOG_LINE_MAX - TRUNC_LEN;
        end = LOG_TRUNCATED;
        endlen = TRUNC_LEN;
    } else if (!nl) {
        end = "\n";
        endlen = 1;
    }
    if (l->async) {
        enqueue(l, line, len, end, endlen);
    } else {
        struct iovec iov[2] = {{(void *)line, len}, {(void *)end, endlen}};
        write_all(l, l->fd, iov, endlen ? 2 : 1);
    }
    errno = saved;
}

void log_msg(struct log *l, enum log_level level, const char *fmt, ...)
{
    if (!log_wants(l, level))
        return;
    int saved = errno; /* for %m, and for the caller */
    char msg[LOG_LINE_MAX], line[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t mlen = n < 0 ? 0 : (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
    /* The line supplies its own '\n'; one the caller added out of habit would end up escaped. */
    while (mlen > 0 && msg[mlen - 1] == '\n')
        mlen--;
    struct out o;
    out_init(&o, line, sizeof(line));
    put_time_err(&o, time(NULL));
    put(&o, " [", 2);
    put(&o, level_names[level], strlen(level_names[level]));
    put(&o, "] ", 2);
    for (size_t i = 0; i < mlen; i++)
        put_byte(&o, (unsigned char)msg[i], msg_escaped((unsigned char)msg[i]));
    if (n >= (int)sizeof(msg))
        o.cut = true;
    log_line(l, line, out_finish(&o));
    errno = saved;
}

size_t log_format_access(char *out, size_t cap, const struct log_access *a)
{
    struct out o;
    if (!out_init(&o, out, cap))
        return 0;
    put_field(&o, a->client, a->client ? strlen(a->client) : 0, CAP_CLIENT);
    put(&o, " - - [", 6);
    put_time_clf(&o, a->time);
    put(&o, "] \"", 3);
    const struct log_str *req[] = {&a->method, &a->target, &a->version};
    const size_t req_cap[] = {CAP_METHOD, CAP_TARGET, CAP_VERSION};
    bool any = false;
    if (a->request.p) {
        put_field(&o, a->request.p, a->request.len, CAP_METHOD + 1 + CAP_TARGET + 1 + CAP_VERSION);
        any = true;
    }
    for (size_t i = 0; i < 3 && !a->request.p; i++) {
        if (!req[i]->p)
            continue;
        if (any)
            put(&o, " ", 1);
        put_field(&o, req[i]->p, req[i]->len, req_cap[i]);
        any = true;
    }
    if (!any)
        put(&o, "-", 1);
    put(&o, "\" ", 2);
    put_int(&o, a->status, 1);
    put(&o, " ", 1);
    put_uint(&o, a->bytes, 1);
    put(&o, " \"", 2);
    put_field(&o, a->referer.p, a->referer.len, CAP_REFERER);
    put(&o, "\" \"", 3);
    put_field(&o, a->user_agent.p, a->user_agent.len, CAP_AGENT);
    put(&o, "\"", 1);
    return out_finish(&o);
}

void log_access(struct log *l, const struct log_access *a)
{
    if (!l)
        return;
    char line[LOG_LINE_MAX];
    log_line(l, line, log_format_access(line, sizeof(line), a));
}

uint64_t log_dropped(const struct log *l)
{
    return l ? atomic_load_explicit(&l->dropped, memory_order_relaxed) : 0;
}
