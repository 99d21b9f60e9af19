/*
 * Issue 12: "a loop never waits on the database" -- two designs, measured doing the logged-in
 * page's database work and nothing else. bench/db_modes.sh runs it and writes the figures into
 * docs/BENCHMARKS.md.
 *
 * The work is db_mariadb.c's ST_SESSION_FIND: the same prepared statement, a 32-byte BINARY token
 * hash and the current unix time bound, the one row fetched into (user_id, name, expires), the
 * result freed; the connections are opened with db_mariadb.c's options and init command. Every
 * result is checked against the rows loaded before the run (the row is found, its user id and
 * the user's name are the expected ones, it has not expired); anything else is an error.
 *
 *   pool   tinyweb's design (src/core/pool.c + src/app/db_mariadb.c): the calling thread is the
 *          "loop": it submits lookups into a bounded queue (mutex + condition variable) served by
 *          N worker threads at nice 10, each with its own blocking connection; a worker checks its
 *          socket with poll(2) before each statement (db_mariadb.c's ensure()), runs it, and
 *          posts the finished lookup to the loop's completion list (mutex + eventfd written when
 *          the list was empty); the loop, in epoll_wait on that eventfd, takes the whole list,
 *          checks each result and submits a new lookup for each, so that C stay in flight.
 *   async  Connector/C's nonblocking API on the loop itself: N connections opened with
 *          MYSQL_OPT_NONBLOCK (mysql_real_connect_start/_cont, mysql_stmt_prepare_start/_cont),
 *          each lookup mysql_stmt_execute_start/_cont, mysql_stmt_fetch_start/_cont,
 *          mysql_stmt_free_result_start/_cont; the status bits (MYSQL_WAIT_READ, _WRITE, _EXCEPT)
 *          become the epoll events of mysql_get_socket(), MYSQL_WAIT_TIMEOUT a timer per
 *          connection (mysql_get_timeout_value_ms, the read timeout: 10 s) in a deadline-ordered
 *          list whose head sets epoll_wait's timeout. Lookups beyond the N connections wait in an
 *          in-process FIFO, as the pool's queue.
 *
 * Both keep C lookups in flight (a new one, for a random existing token, as each finishes), for
 * a warm-up and then a measured window. Over the window: lookups/s; the process's CPU
 * (getrusage RUSAGE_SELF) and the loop thread's own (CLOCK_THREAD_CPUTIME_ID; in async the loop
 * is the whole client); the server's CPU (utime + stime of /proc/PID/stat, all its threads);
 * context switches; the loop's wake-ups; the CPU time used by anything else (other_cpus, in CPUs:
 * /proc/stat's busy time less the client's and the server's); each lookup's latency from its
 * submission to the loop's handling of its completion (queueing included), as p50 and p99.
 *
 * Usage:
 *   db_modes setup URL [--users N] [--sessions N]   the schema (db_mariadb.c's) and the rows
 *   db_modes run URL --mode pool|async [--conns N] [--inflight C] [--seconds S] [--warmup S]
 *                [--server-pid PID]
 * URL: mysql://USER[:PASSWORD]@[HOST[:PORT]]/DB[?socket=PATH&password_file=PATH], as printed by
 * scripts/mariadb.sh (no percent-escapes). run prints one line "result\tkey=value..." on stdout.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* gettid, memrchr, getrandom, eventfd; CMake defines it */
#endif

#include <errno.h>
#include <inttypes.h>
#include <mysql.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* As db_mariadb.c. */
#define CONNECT_TIMEOUT_S 2
#define IO_TIMEOUT_S      10
#define INIT_COMMAND                                                                               \
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00',"     \
    " innodb_lock_wait_timeout = 5"
#define SESSION_FIND                                                                               \
    "SELECT s.user_id, u.name, s.expires FROM sessions AS s"                                       \
    " JOIN users AS u ON u.id = s.user_id"                                                         \
    " WHERE s.token_hash = ? AND s.expires > ?"
#define NAME_MAX_BYTES 200  /* DB_NAME_MAX */
#define POOL_NICE      10   /* server.c */
#define QUEUE_MAX      1024 /* --worker-queue's default */

static const char *const schema[] = {
    "CREATE TABLE IF NOT EXISTS users ("
    " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " name VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,"
    " hash VARBINARY(127) NOT NULL,"
    " created BIGINT NOT NULL,"
    " UNIQUE KEY users_name (name)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin",
    "CREATE TABLE IF NOT EXISTS sessions ("
    " token_hash BINARY(32) NOT NULL PRIMARY KEY,"
    " user_id BIGINT NOT NULL,"
    " expires BIGINT NOT NULL,"
    " KEY sessions_expires (expires),"
    " KEY sessions_user (user_id),"
    " CONSTRAINT sessions_user_fk FOREIGN KEY (user_id) REFERENCES users(id)"
    " ON DELETE CASCADE"
    ") ENGINE=InnoDB",
};

/* ------------------------------------------------------------------------------------------ */
/* Options, clocks, helpers */

static struct {
    char *host, *user, *password, *db, *socket;
    unsigned port;
    const char *mode;
    unsigned conns, inflight, users, sessions;
    double seconds, warmup;
    long server_pid;
} opt = {.conns = 8, .inflight = 50, .users = 1000, .sessions = 100000, .seconds = 10, .warmup = 1};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("db_modes: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* utime + stime of the server (all its threads), in seconds; 0 without --server-pid. Fields are
 * counted after the last ')' (the command may hold spaces), as bench/lib.sh's cpu_ticks. */
static double server_cpu_s(void)
{
    if (opt.server_pid <= 0)
        return 0;
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%ld/stat", opt.server_pid);
    FILE *f = fopen(path, "re");
    if (!f)
        die("cannot read %s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    /* After ") ": state(3) ... utime(14) stime(15): skip 11 fields. */
    if (!p || sscanf(p + 2, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &ut, &st) != 2)
        die("cannot parse %s", path);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The machine's busy CPU time (all CPUs: user, nice, system, irq, softirq, steal of /proc/stat's
 * first line), in seconds: what else ran besides the client and the server. */
static double machine_busy_s(void)
{
    FILE *f = fopen("/proc/stat", "re");
    unsigned long long v[8] = {0};
    if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                     &v[4], &v[5], &v[6], &v[7]) != 8)
        die("cannot parse /proc/stat");
    fclose(f);
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

static uint64_t rng_state;
static uint64_t rng(void) /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static char *dup_n(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (!p)
        die("out of memory");
    return p;
}

/* mysql://USER[:PASSWORD]@[HOST[:PORT]]/DB[?socket=PATH&password_file=PATH] */
static void parse_url(const char *url)
{
    if (strncmp(url, "mysql://", 8) != 0 || strchr(url, '%'))
        die("URL: expected mysql://USER[:PASSWORD]@[HOST[:PORT]]/DB[?socket=P&password_file=P]");
    const char *a = url + 8, *slash = strchr(a, '/'),
               *at = slash ? memrchr(a, '@', (size_t)(slash - a)) : NULL;
    if (!at || at == a)
        die("URL: no user");
    const char *colon = memchr(a, ':', (size_t)(at - a));
    opt.user = dup_n(a, (size_t)((colon ? colon : at) - a));
    if (colon)
        opt.password = dup_n(colon + 1, (size_t)(at - colon - 1));
    const char *h = at + 1, *pc = memchr(h, ':', (size_t)(slash - h));
    if ((pc ? pc : slash) > h)
        opt.host = dup_n(h, (size_t)((pc ? pc : slash) - h));
    if (pc)
        opt.port = (unsigned)strtoul(pc + 1, NULL, 10);
    const char *q = strchr(slash, '?');
    opt.db = q ? dup_n(slash + 1, (size_t)(q - slash - 1)) : dup_n(slash + 1, strlen(slash + 1));
    char *pwfile = NULL;
    for (const char *kv = q ? q + 1 : NULL; kv && *kv;) {
        const char *end = strchr(kv, '&');
        size_t len = end ? (size_t)(end - kv) : strlen(kv);
        if (len > 7 && strncmp(kv, "socket=", 7) == 0)
            opt.socket = dup_n(kv + 7, len - 7);
        else if (len > 14 && strncmp(kv, "password_file=", 14) == 0)
            pwfile = dup_n(kv + 14, len - 14);
        else
            die("URL: unknown parameter %.*s", (int)len, kv);
        kv = end ? end + 1 : NULL;
    }
    if (!opt.password && pwfile) {
        FILE *f = fopen(pwfile, "re");
        char line[1024];
        if (!f || !fgets(line, sizeof(line), f))
            die("cannot read the password file %s", pwfile);
        fclose(f);
        line[strcspn(line, "\r\n")] = '\0';
        opt.password = dup_n(line, strlen(line));
    }
    free(pwfile);
}

/* A handle with db_mariadb.c's options (and MYSQL_OPT_NONBLOCK when asked), not connected. */
static MYSQL *handle_new(bool nonblock)
{
    MYSQL *m = mysql_init(NULL);
    if (!m)
        die("out of memory");
    unsigned timeout = CONNECT_TIMEOUT_S, io = IO_TIMEOUT_S;
    my_bool no = 0;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &io);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &io);
    mysql_options(m, MYSQL_OPT_RECONNECT, &no);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(m, MYSQL_INIT_COMMAND, INIT_COMMAND);
    mysql_optionsv(m, MYSQL_OPT_LOCAL_INFILE, &no);
    if (nonblock && mysql_options(m, MYSQL_OPT_NONBLOCK, 0) != 0)
        die("MYSQL_OPT_NONBLOCK: %s", mysql_error(m));
    return m;
}

static MYSQL *connect_blocking(void)
{
    MYSQL *m = handle_new(false);
    if (!mysql_real_connect(m, opt.host, opt.user, opt.password, opt.db, opt.port, opt.socket,
                            CLIENT_FOUND_ROWS))
        die("cannot connect: %s", mysql_error(m));
    return m;
}

static void sql(MYSQL *m, const char *q)
{
    if (mysql_real_query(m, q, (unsigned long)strlen(q)) != 0)
        die("%.60s...: %s", q, mysql_error(m));
    MYSQL_RES *r = mysql_store_result(m);
    if (r)
        mysql_free_result(r);
    else if (mysql_errno(m))
        die("%.60s...: %s", q, mysql_error(m));
}

/* ------------------------------------------------------------------------------------------ */
/* setup: the schema and the rows */

static int cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static void setup(void)
{
    MYSQL *m = connect_blocking();
    for (size_t i = 0; i < sizeof(schema) / sizeof(schema[0]); i++)
        sql(m, schema[i]);
    MYSQL_RES *r;
    sql(m, "START TRANSACTION");
    size_t cap = 64 + (size_t)opt.users * 128 + (size_t)1000 * 128;
    char *q = malloc(cap), *p;
    if (!q)
        die("out of memory");
    p = q + sprintf(q, "INSERT INTO users(name, hash, created) VALUES ");
    for (unsigned i = 0; i < opt.users; i++)
        p += sprintf(p,
                     "%s('bench-user-%05u','$argon2id$v=19$m=65536,t=2,p=1$bench$bench',"
                     "UNIX_TIMESTAMP())",
                     i ? "," : "", i);
    sql(m, q);
    /* The users' ids, to spread the sessions over them. */
    if (mysql_real_query(m, "SELECT id FROM users", 20) != 0 || !(r = mysql_store_result(m)))
        die("SELECT id FROM users: %s", mysql_error(m));
    size_t nu = (size_t)mysql_num_rows(r);
    long long *ids = calloc(nu ? nu : 1, sizeof(*ids));
    if (!ids || nu == 0)
        die("no users");
    for (size_t i = 0; i < nu; i++)
        ids[i] = strtoll(mysql_fetch_row(r)[0], NULL, 10);
    mysql_free_result(r);
    /* Random hashes, inserted in key order: a fast load, and full pages (the random order of
     * real sessions leaves them half full, a bigger table for the same rows). */
    uint8_t(*h)[32] = malloc((size_t)opt.sessions * 32);
    if (!h || getrandom(h, (size_t)opt.sessions * 32, 0) != (ssize_t)opt.sessions * 32)
        die("getrandom: %s", strerror(errno));
    qsort(h, opt.sessions, 32, cmp_hash);
    long long expires = (long long)time(NULL) + 30 * 86400;
    sql(m, "SET SESSION foreign_key_checks = 0, unique_checks = 0");
    for (unsigned done = 0; done < opt.sessions;) {
        unsigned batch = opt.sessions - done < 1000 ? opt.sessions - done : 1000;
        p = q + sprintf(q, "INSERT INTO sessions(token_hash, user_id, expires) VALUES ");
        for (unsigned i = 0; i < batch; i++) {
            p += sprintf(p, "%s(X'", i ? "," : "");
            for (int k = 0; k < 32; k++)
                p += sprintf(p, "%02x", h[done + i][k]);
            p += sprintf(p, "',%lld,%lld)", ids[rng() % nu], expires);
        }
        sql(m, q);
        done += batch;
    }
    free(h);
    sql(m, "COMMIT");
    sql(m, "ANALYZE TABLE users, sessions");
    free(ids);
    free(q);
    mysql_close(m);
    fprintf(stderr, "db_modes: %u users, %u sessions in %s\n", opt.users, opt.sessions, opt.db);
}

/* ------------------------------------------------------------------------------------------ */
/* The expected rows, loaded before a run (not the statement under test) */

struct token {
    uint8_t hash[32];
    int64_t user_id;
};
static struct token *tokens;
static size_t ntokens;
static char **names; /* by user id */
static int64_t max_user;

static void load(void)
{
    MYSQL *m = connect_blocking();
    MYSQL_RES *r;
    MYSQL_ROW row;
    const char *q1 = "SELECT id, name FROM users ORDER BY id DESC";
    if (mysql_real_query(m, q1, (unsigned long)strlen(q1)) != 0 || !(r = mysql_store_result(m)))
        die("%s: %s", q1, mysql_error(m));
    while ((row = mysql_fetch_row(r))) {
        int64_t id = strtoll(row[0], NULL, 10);
        if (!names) {
            max_user = id;
            if (id < 1 || id > 100000000 || !(names = calloc((size_t)id + 1, sizeof(*names))))
                die("unexpected user ids (max %" PRId64 ")", id);
        }
        names[id] = dup_n(row[1], strlen(row[1]));
    }
    mysql_free_result(r);
    const char *q2 = "SELECT token_hash, user_id FROM sessions";
    if (mysql_real_query(m, q2, (unsigned long)strlen(q2)) != 0 || !(r = mysql_store_result(m)))
        die("%s: %s", q2, mysql_error(m));
    ntokens = (size_t)mysql_num_rows(r);
    if (!ntokens || !names || !(tokens = calloc(ntokens, sizeof(*tokens))))
        die("no sessions or no users: run db_modes setup first");
    for (size_t i = 0; (row = mysql_fetch_row(r)); i++) {
        unsigned long *len = mysql_fetch_lengths(r);
        if (len[0] != 32)
            die("a token hash of %lu bytes", len[0]);
        memcpy(tokens[i].hash, row[0], 32);
        tokens[i].user_id = strtoll(row[1], NULL, 10);
    }
    mysql_free_result(r);
    mysql_close(m);
}

/* ------------------------------------------------------------------------------------------ */
/* Lookups, phases and figures: the loop thread's, shared by both modes */

struct req {
    struct req *next;
    uint32_t tok; /* index in tokens */
    uint64_t t0;  /* submitted (ns, monotonic) */
    int64_t now;  /* the statement's now */
    int rc;       /* 0, MYSQL_NO_DATA, MYSQL_DATA_TRUNCATED, or 1 (error: err) */
    unsigned err; /* the library's error number */
    int64_t user_id, expires;
    char name[NAME_MAX_BYTES + 1];
    unsigned long name_len;
    MYSQL_BIND p[2], r[3]; /* the statement's parameters and results */
    unsigned long klen;
    char errtext[128];
};

enum phase { WARMUP, MEASURE, DRAIN };
static enum phase phase = WARMUP;
static uint64_t t_measure, t_end; /* the window */
static unsigned inflight;
static uint64_t n_done, n_errors, n_wakes;
static uint32_t *lat; /* ns, capped; the window's lookups */
static size_t nlat, caplat;

struct snap {
    uint64_t t, done, wakes;
    double self_cpu, loop_cpu, server_cpu, machine_cpu;
    long vcsw, ivcsw;
};
static struct snap s0, s1;

static void take_snap(struct snap *s, uint64_t t)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    s->t = t;
    s->done = n_done;
    s->wakes = n_wakes;
    s->self_cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                  (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    s->loop_cpu = thread_cpu_s();
    s->server_cpu = server_cpu_s();
    s->machine_cpu = machine_busy_s();
    s->vcsw = ru.ru_nvcsw;
    s->ivcsw = ru.ru_nivcsw;
}

/* Moves the phase on at t (the loop's clock); the ms to the next boundary (-1: none). */
static int phase_tick(uint64_t t)
{
    if (phase == WARMUP && t >= t_measure) {
        take_snap(&s0, t);
        phase = MEASURE;
    }
    if (phase == MEASURE && t >= t_end) {
        take_snap(&s1, t);
        phase = DRAIN;
    }
    if (phase == DRAIN) {
        if (t > t_end + 15000000000ull)
            die("%u lookups still in flight 15 s after the end", inflight);
        return 100;
    }
    uint64_t next = phase == WARMUP ? t_measure : t_end;
    return (int)((next - t + 999999) / 1000000);
}

static void req_error(struct req *r, const char *what, unsigned e, const char *text)
{
    r->rc = 1;
    r->err = e;
    snprintf(r->errtext, sizeof(r->errtext), "%s: %u %s", what, e, text);
}

/* Binds r's parameters and results on st (as db_mariadb.c's session_find, per execution). */
static bool req_bind(struct req *r, MYSQL_STMT *st)
{
    memset(r->p, 0, sizeof(r->p));
    memset(r->r, 0, sizeof(r->r));
    r->klen = 32;
    r->p[0].buffer_type = MYSQL_TYPE_BLOB;
    r->p[0].buffer = tokens[r->tok].hash;
    r->p[0].buffer_length = 32;
    r->p[0].length = &r->klen;
    r->p[1].buffer_type = MYSQL_TYPE_LONGLONG;
    r->p[1].buffer = &r->now;
    r->r[0].buffer_type = MYSQL_TYPE_LONGLONG;
    r->r[0].buffer = &r->user_id;
    r->r[1].buffer_type = MYSQL_TYPE_STRING;
    r->r[1].buffer = r->name;
    r->r[1].buffer_length = sizeof(r->name);
    r->r[1].length = &r->name_len;
    r->r[2].buffer_type = MYSQL_TYPE_LONGLONG;
    r->r[2].buffer = &r->expires;
    if (mysql_stmt_bind_param(st, r->p) != 0) {
        req_error(r, "bind_param", mysql_stmt_errno(st), mysql_stmt_error(st));
        return false;
    }
    return true;
}

static bool req_bind_result(struct req *r, MYSQL_STMT *st)
{
    if (mysql_stmt_bind_result(st, r->r) != 0) {
        req_error(r, "bind_result", mysql_stmt_errno(st), mysql_stmt_error(st));
        return false;
    }
    return true;
}

/* A new lookup in r: a random existing token, submitted now. */
static void req_new(struct req *r, uint64_t t)
{
    r->tok = (uint32_t)(rng() % ntokens);
    r->t0 = t;
    r->now = (int64_t)time(NULL);
    r->rc = 0;
    r->err = 0;
    r->user_id = r->expires = -1;
    r->name_len = 0;
    r->errtext[0] = '\0';
}

/* Checks r's result; counts it; true when a new lookup should replace it. */
static bool req_finish(struct req *r, uint64_t t)
{
    const struct token *k = &tokens[r->tok];
    const char *bad = NULL;
    if (r->rc == 1)
        bad = r->errtext;
    else if (r->rc == MYSQL_NO_DATA)
        bad = "row not found";
    else if (r->rc != 0)
        bad = "fetch: truncated";
    else if (r->user_id != k->user_id)
        bad = "another user id";
    else if (r->user_id < 1 || r->user_id > max_user || !names[r->user_id] ||
             r->name_len != strlen(names[r->user_id]) ||
             memcmp(r->name, names[r->user_id], r->name_len) != 0)
        bad = "another name";
    else if (r->expires <= r->now)
        bad = "expired";
    if (bad) {
        if (n_errors++ < 5)
            fprintf(stderr, "db_modes: lookup error: %s\n", bad);
    }
    if (phase == MEASURE) {
        n_done++;
        if (nlat == caplat) {
            caplat = caplat ? caplat * 2 : 1 << 20;
            if (!(lat = realloc(lat, caplat * sizeof(*lat))))
                die("out of memory");
        }
        uint64_t d = t - r->t0;
        lat[nlat++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    }
    if (phase == DRAIN) {
        inflight--;
        return false;
    }
    return true;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void report(void)
{
    double secs = (double)(s1.t - s0.t) / 1e9;
    uint64_t n = s1.done - s0.done;
    qsort(lat, nlat, sizeof(*lat), cmp_u32);
    double p50 = nlat ? lat[nlat / 2] / 1e3 : 0, p99 = nlat ? lat[(nlat * 99) / 100] / 1e3 : 0;
    double k = n ? 1000.0 / (double)n : 0;
    printf("result\tmode=%s\tconns=%u\tinflight=%u\tseconds=%.3f\tlookups=%" PRIu64
           "\trate=%.1f\tclient_cpu_s=%.3f\tloop_cpu_s=%.3f\tserver_cpu_s=%.3f"
           "\tclient_ms_per_k=%.2f\tloop_ms_per_k=%.2f\tserver_ms_per_k=%.2f"
           "\tp50_us=%.1f\tp99_us=%.1f\tvcsw_per_lookup=%.2f\tivcsw_per_lookup=%.3f"
           "\twakes_per_lookup=%.3f\tother_cpus=%.3f\terrors=%" PRIu64 "\n",
           opt.mode, opt.conns, opt.inflight, secs, n, (double)n / secs, s1.self_cpu - s0.self_cpu,
           s1.loop_cpu - s0.loop_cpu, s1.server_cpu - s0.server_cpu,
           (s1.self_cpu - s0.self_cpu) * 1e3 * k, (s1.loop_cpu - s0.loop_cpu) * 1e3 * k,
           (s1.server_cpu - s0.server_cpu) * 1e3 * k, p50, p99,
           (double)(s1.vcsw - s0.vcsw) * k / 1000, (double)(s1.ivcsw - s0.ivcsw) * k / 1000,
           (double)(s1.wakes - s0.wakes) * k / 1000,
           ((s1.machine_cpu - s0.machine_cpu) - (s1.self_cpu - s0.self_cpu) -
            (s1.server_cpu - s0.server_cpu)) /
               secs,
           n_errors);
}

static struct req *reqs_new(void)
{
    struct req *r = calloc(opt.inflight, sizeof(*r));
    if (!r)
        die("out of memory");
    return r;
}

/* ------------------------------------------------------------------------------------------ */
/* pool: blocking calls on N worker threads */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t ready; /* a job was queued, or stopping */
    pthread_cond_t up;    /* a worker connected */
    struct req *head, **tail;
    size_t queued;
    bool stopping;
    unsigned nup;
    pthread_mutex_t port_mu; /* the loop's completion list */
    struct req *done_head, **done_tail;
    int efd;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .ready = PTHREAD_COND_INITIALIZER,
       .up = PTHREAD_COND_INITIALIZER,
       .port_mu = PTHREAD_MUTEX_INITIALIZER};

/* One lookup on a blocking connection, as db_mariadb.c's session_find (with ensure()'s poll). */
static void lookup_blocking(MYSQL *m, MYSQL_STMT *st, struct req *r)
{
    struct pollfd pf = {.fd = (int)mysql_get_socket(m), .events = POLLIN | POLLRDHUP};
    if (pf.fd < 0 || poll(&pf, 1, 0) != 0) {
        req_error(r, "connection closed by the server", 0, "");
        return;
    }
    if (!req_bind(r, st))
        return;
    if (mysql_stmt_execute(st) != 0) {
        req_error(r, "execute", mysql_stmt_errno(st), mysql_stmt_error(st));
        return;
    }
    if (req_bind_result(r, st)) {
        int rc = mysql_stmt_fetch(st);
        if (rc == 1)
            req_error(r, "fetch", mysql_stmt_errno(st), mysql_stmt_error(st));
        else
            r->rc = rc;
    }
    mysql_stmt_free_result(st);
}

static void *worker_main(void *arg)
{
    (void)arg;
    pid_t tid = gettid();
    errno = 0;
    int prio = getpriority(PRIO_PROCESS, (id_t)tid);
    if (errno == 0)
        setpriority(PRIO_PROCESS, (id_t)tid, prio + POOL_NICE);
    MYSQL *m = connect_blocking();
    MYSQL_STMT *st = mysql_stmt_init(m);
    if (!st || mysql_stmt_prepare(st, SESSION_FIND, (unsigned long)strlen(SESSION_FIND)) != 0)
        die("prepare: %s", mysql_error(m));
    pthread_mutex_lock(&P.mu);
    P.nup++;
    pthread_cond_broadcast(&P.up);
    for (;;) {
        while (!P.stopping && !P.head)
            pthread_cond_wait(&P.ready, &P.mu);
        if (P.stopping)
            break;
        struct req *j = P.head;
        P.head = j->next;
        if (!P.head)
            P.tail = &P.head;
        P.queued--;
        pthread_mutex_unlock(&P.mu);
        lookup_blocking(m, st, j);
        /* port_deliver: append, and wake the loop when the list was empty. */
        j->next = NULL;
        pthread_mutex_lock(&P.port_mu);
        bool was_empty = P.done_head == NULL;
        *P.done_tail = j;
        P.done_tail = &j->next;
        if (was_empty) {
            uint64_t one = 1;
            ssize_t w = write(P.efd, &one, sizeof(one));
            (void)w;
        }
        pthread_mutex_unlock(&P.port_mu);
        pthread_mutex_lock(&P.mu);
    }
    pthread_mutex_unlock(&P.mu);
    mysql_stmt_close(st);
    mysql_close(m);
    mysql_thread_end();
    return NULL;
}

static void pool_submit(struct req *j)
{
    j->next = NULL;
    pthread_mutex_lock(&P.mu);
    if (P.queued >= QUEUE_MAX)
        die("the queue is full");
    *P.tail = j;
    P.tail = &j->next;
    P.queued++;
    pthread_cond_signal(&P.ready);
    pthread_mutex_unlock(&P.mu);
}

static void run_pool(void)
{
    P.tail = &P.head;
    P.done_tail = &P.done_head;
    if ((P.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        die("eventfd: %s", strerror(errno));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, P.efd, &ev) != 0)
        die("epoll: %s", strerror(errno));
    pthread_t *th = calloc(opt.conns, sizeof(*th));
    if (!th)
        die("out of memory");
    for (unsigned i = 0; i < opt.conns; i++)
        if (pthread_create(&th[i], NULL, worker_main, NULL) != 0)
            die("pthread_create");
    pthread_mutex_lock(&P.mu);
    while (P.nup < opt.conns)
        pthread_cond_wait(&P.up, &P.mu);
    pthread_mutex_unlock(&P.mu);

    struct req *reqs = reqs_new();
    uint64_t t = now_ns();
    t_measure = t + (uint64_t)(opt.warmup * 1e9);
    t_end = t_measure + (uint64_t)(opt.seconds * 1e9);
    for (unsigned i = 0; i < opt.inflight; i++) {
        req_new(&reqs[i], now_ns());
        pool_submit(&reqs[i]);
    }
    inflight = opt.inflight;
    int timeout = phase_tick(t);
    while (!(phase == DRAIN && inflight == 0)) {
        int n = epoll_wait(ep, &ev, 1, timeout);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        if (n > 0) {
            n_wakes++;
            uint64_t cnt;
            ssize_t rd = read(P.efd, &cnt, sizeof(cnt));
            (void)rd;
            pthread_mutex_lock(&P.port_mu);
            struct req *list = P.done_head;
            P.done_head = NULL;
            P.done_tail = &P.done_head;
            pthread_mutex_unlock(&P.port_mu);
            while (list) {
                struct req *j = list;
                list = j->next;
                uint64_t tj = now_ns();
                if (req_finish(j, tj)) {
                    req_new(j, tj);
                    pool_submit(j);
                }
            }
        }
        timeout = phase_tick(now_ns());
    }
    pthread_mutex_lock(&P.mu);
    P.stopping = true;
    pthread_cond_broadcast(&P.ready);
    pthread_mutex_unlock(&P.mu);
    for (unsigned i = 0; i < opt.conns; i++)
        pthread_join(th[i], NULL);
    free(th);
    free(reqs);
    close(ep);
    close(P.efd);
}

/* ------------------------------------------------------------------------------------------ */
/* async: the nonblocking API on the loop's epoll */

enum astate { A_CONNECT, A_PREPARE, A_IDLE, A_EXEC, A_FETCH, A_FREE };

struct aconn {
    MYSQL *m;
    MYSQL_STMT *st;
    enum astate state;
    int fd;          /* registered in epoll, or -1 */
    uint32_t events; /* registered */
    struct req *req; /* the lookup it runs */
    struct aconn *next_free;
    /* The timer: in the deadline-ordered list while armed. */
    uint64_t deadline;
    struct aconn *tprev, *tnext;
    bool armed;
};

static struct {
    int ep;
    struct aconn *conns;
    struct aconn *free;          /* idle connections, a stack */
    struct req *head, **tail;    /* lookups waiting for a connection */
    struct aconn *thead, *ttail; /* armed timers, earliest first */
    unsigned nready;
} A;

static void timer_disarm(struct aconn *c)
{
    if (!c->armed)
        return;
    if (c->tprev)
        c->tprev->tnext = c->tnext;
    else
        A.thead = c->tnext;
    if (c->tnext)
        c->tnext->tprev = c->tprev;
    else
        A.ttail = c->tprev;
    c->armed = false;
}

/* Every query waits with the same timeout (the connect's differs): the new deadline almost
 * always belongs at the tail, and the walk back from there is O(1) then. */
static void timer_arm(struct aconn *c, uint64_t deadline)
{
    timer_disarm(c);
    c->deadline = deadline;
    struct aconn *after = A.ttail;
    while (after && after->deadline > deadline)
        after = after->tprev;
    c->tprev = after;
    c->tnext = after ? after->tnext : A.thead;
    if (c->tnext)
        c->tnext->tprev = c;
    else
        A.ttail = c;
    if (after)
        after->tnext = c;
    else
        A.thead = c;
    c->armed = true;
}

/* Makes epoll watch c's socket for what status asks (a change only when it differs), and the
 * timer when it asks for one. */
static void await(struct aconn *c, int status, uint64_t t)
{
    uint32_t ev = 0;
    if (status & MYSQL_WAIT_READ)
        ev |= EPOLLIN;
    if (status & MYSQL_WAIT_WRITE)
        ev |= EPOLLOUT;
    if (status & MYSQL_WAIT_EXCEPT)
        ev |= EPOLLPRI;
    int fd = (int)mysql_get_socket(c->m);
    if (fd != c->fd) {
        if (c->fd >= 0)
            epoll_ctl(A.ep, EPOLL_CTL_DEL, c->fd, NULL); /* may be closed already */
        c->fd = fd;
        c->events = 0;
    }
    if (fd >= 0 && ev != c->events) {
        struct epoll_event e = {.events = ev, .data.ptr = c};
        if (epoll_ctl(A.ep, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &e) != 0)
            die("epoll_ctl: %s", strerror(errno));
        c->events = ev;
    }
    if (status & MYSQL_WAIT_TIMEOUT)
        timer_arm(c, t + (uint64_t)mysql_get_timeout_value_ms(c->m) * 1000000u);
    else
        timer_disarm(c);
}

static void async_dispatch(uint64_t t);

/* Runs c's state machine from a _start or _cont that returned status. */
static void advance(struct aconn *c, int status, int ret, uint64_t t)
{
    for (;;) {
        if (status != 0) {
            await(c, status, t);
            return;
        }
        timer_disarm(c);
        struct req *r = c->req;
        my_bool bret;
        switch (c->state) {
        case A_CONNECT:
            die("cannot connect: %s", mysql_error(c->m)); /* ret is passed as 0 on a failure */
        case A_PREPARE:
            if (ret != 0)
                die("prepare: %s", mysql_stmt_error(c->st));
            c->state = A_IDLE;
            A.nready++;
            break;
        case A_EXEC:
            if (ret != 0) {
                req_error(r, "execute", mysql_stmt_errno(c->st), mysql_stmt_error(c->st));
            } else if (req_bind_result(r, c->st)) {
                c->state = A_FETCH;
                status = mysql_stmt_fetch_start(&ret, c->st);
                continue;
            }
            c->state = A_FREE;
            status = mysql_stmt_free_result_start(&bret, c->st);
            continue;
        case A_FETCH:
            if (ret == 1)
                req_error(r, "fetch", mysql_stmt_errno(c->st), mysql_stmt_error(c->st));
            else
                r->rc = ret;
            c->state = A_FREE;
            status = mysql_stmt_free_result_start(&bret, c->st);
            continue;
        case A_FREE:
            c->state = A_IDLE;
            c->req = NULL;
            {
                uint64_t tj = now_ns();
                if (req_finish(r, tj)) {
                    req_new(r, tj);
                    r->next = NULL;
                    *A.tail = r;
                    A.tail = &r->next;
                }
            }
            break;
        case A_IDLE:
            break;
        }
        /* Idle: watch for reading only (the server closing it), never for writing. */
        if (c->events != EPOLLIN)
            await(c, MYSQL_WAIT_READ, t);
        c->next_free = A.free;
        A.free = c;
        async_dispatch(t);
        return;
    }
}

/* Starts the waiting lookups on the idle connections. */
static void async_dispatch(uint64_t t)
{
    while (A.head && A.free) {
        struct aconn *c = A.free;
        A.free = c->next_free;
        struct req *r = A.head;
        A.head = r->next;
        if (!A.head)
            A.tail = &A.head;
        c->req = r;
        int ret = 0;
        if (!req_bind(r, c->st)) {
            my_bool bret;
            c->state = A_FREE;
            advance(c, mysql_stmt_free_result_start(&bret, c->st), 0, t);
            continue;
        }
        c->state = A_EXEC;
        int status = mysql_stmt_execute_start(&ret, c->st);
        advance(c, status, ret, t);
    }
}

/* Continues c after epoll events or its timeout (status: MYSQL_WAIT_*). */
static void async_resume(struct aconn *c, int status, uint64_t t)
{
    int ret = 0;
    my_bool bret = 0;
    MYSQL *mret = NULL;
    switch (c->state) {
    case A_CONNECT:
        status = mysql_real_connect_cont(&mret, c->m, status);
        if (status == 0 && mret) {
            c->st = mysql_stmt_init(c->m);
            if (!c->st)
                die("mysql_stmt_init: %s", mysql_error(c->m));
            c->state = A_PREPARE;
            status = mysql_stmt_prepare_start(&ret, c->st, SESSION_FIND,
                                              (unsigned long)strlen(SESSION_FIND));
        }
        break;
    case A_PREPARE:
        status = mysql_stmt_prepare_cont(&ret, c->st, status);
        break;
    case A_EXEC:
        status = mysql_stmt_execute_cont(&ret, c->st, status);
        break;
    case A_FETCH:
        status = mysql_stmt_fetch_cont(&ret, c->st, status);
        break;
    case A_FREE:
        status = mysql_stmt_free_result_cont(&bret, c->st, status);
        break;
    case A_IDLE:
        /* Something to read on an idle connection: the server closed it (or sent an error). */
        die("an idle connection became readable: the server closed it?");
    }
    advance(c, status, ret, t);
}

static void run_async(void)
{
    if ((A.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die("epoll_create1: %s", strerror(errno));
    A.tail = &A.head;
    A.conns = calloc(opt.conns, sizeof(*A.conns));
    if (!A.conns)
        die("out of memory");
    uint64_t t = now_ns();
    for (unsigned i = 0; i < opt.conns; i++) {
        struct aconn *c = &A.conns[i];
        c->fd = -1;
        c->m = handle_new(true);
        c->state = A_CONNECT;
        MYSQL *mret = NULL;
        int status = mysql_real_connect_start(&mret, c->m, opt.host, opt.user, opt.password, opt.db,
                                              opt.port, opt.socket, CLIENT_FOUND_ROWS);
        if (status == 0) {
            if (!mret)
                die("cannot connect: %s", mysql_error(c->m));
            int ret = 0;
            c->st = mysql_stmt_init(c->m);
            if (!c->st)
                die("mysql_stmt_init: %s", mysql_error(c->m));
            c->state = A_PREPARE;
            status = mysql_stmt_prepare_start(&ret, c->st, SESSION_FIND,
                                              (unsigned long)strlen(SESSION_FIND));
            advance(c, status, ret, t);
        } else {
            await(c, status, t);
        }
    }
    struct epoll_event evs[64];
    uint64_t give_up = t + 10000000000ull;
    struct req *reqs = reqs_new();
    bool started = false;
    int timeout = 100;
    while (!(phase == DRAIN && inflight == 0)) {
        if (!started && A.nready == opt.conns) {
            started = true;
            t = now_ns();
            t_measure = t + (uint64_t)(opt.warmup * 1e9);
            t_end = t_measure + (uint64_t)(opt.seconds * 1e9);
            for (unsigned i = 0; i < opt.inflight; i++) {
                req_new(&reqs[i], now_ns());
                reqs[i].next = NULL;
                *A.tail = &reqs[i];
                A.tail = &reqs[i].next;
            }
            inflight = opt.inflight;
            async_dispatch(t);
            timeout = phase_tick(t);
        }
        if (A.thead) {
            uint64_t tn = now_ns();
            int tt =
                A.thead->deadline <= tn ? 0 : (int)((A.thead->deadline - tn + 999999) / 1000000);
            if (timeout < 0 || tt < timeout)
                timeout = tt;
        }
        int n = epoll_wait(A.ep, evs, 64, timeout);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        t = now_ns();
        if (n > 0)
            n_wakes++;
        for (int i = 0; i < n; i++) {
            struct aconn *c = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            int st = 0;
            if (e & (EPOLLIN | EPOLLERR | EPOLLHUP))
                st |= MYSQL_WAIT_READ;
            if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                st |= MYSQL_WAIT_WRITE;
            if (e & EPOLLPRI)
                st |= MYSQL_WAIT_EXCEPT;
            async_resume(c, st, t);
        }
        while (A.thead && A.thead->deadline <= t) {
            struct aconn *c = A.thead;
            timer_disarm(c);
            async_resume(c, MYSQL_WAIT_TIMEOUT, t);
        }
        if (!started) {
            if (t > give_up)
                die("%u of %u connections ready after 10 s", A.nready, opt.conns);
            timeout = 100;
        } else {
            timeout = phase_tick(t);
        }
    }
    for (unsigned i = 0; i < opt.conns; i++) {
        mysql_stmt_close(A.conns[i].st);
        mysql_close(A.conns[i].m);
    }
    free(A.conns);
    close(A.ep);
}

/* ------------------------------------------------------------------------------------------ */

static void usage(void)
{
    fputs("usage: db_modes setup URL [--users N] [--sessions N]\n"
          "       db_modes run URL --mode pool|async [--conns N] [--inflight C] [--seconds S]\n"
          "                [--warmup S] [--server-pid PID]\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        usage();
    bool is_setup = strcmp(argv[1], "setup") == 0;
    if (!is_setup && strcmp(argv[1], "run") != 0)
        usage();
    parse_url(argv[2]);
    for (int i = 3; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (strcmp(o, "--mode") == 0)
            opt.mode = v;
        else if (strcmp(o, "--conns") == 0)
            opt.conns = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(o, "--inflight") == 0)
            opt.inflight = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(o, "--seconds") == 0)
            opt.seconds = strtod(v, NULL);
        else if (strcmp(o, "--warmup") == 0)
            opt.warmup = strtod(v, NULL);
        else if (strcmp(o, "--server-pid") == 0)
            opt.server_pid = strtol(v, NULL, 10);
        else if (strcmp(o, "--users") == 0)
            opt.users = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(o, "--sessions") == 0)
            opt.sessions = (unsigned)strtoul(v, NULL, 10);
        else
            usage();
        i++;
    }
    uint64_t seed;
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        seed = now_ns();
    rng_state = seed | 1;
    if (mysql_library_init(0, NULL, NULL) != 0)
        die("mysql_library_init failed");
    if (is_setup) {
        if (opt.users < 1 || opt.users > 100000 || opt.sessions < 1)
            usage();
        setup();
    } else {
        if (!opt.mode || opt.conns < 1 || opt.conns > 1000 || opt.inflight < 1 ||
            opt.inflight > QUEUE_MAX || opt.seconds <= 0 || opt.warmup < 0)
            usage();
        load();
        if (strcmp(opt.mode, "pool") == 0)
            run_pool();
        else if (strcmp(opt.mode, "async") == 0)
            run_async();
        else
            usage();
        report();
    }
    mysql_library_end();
    return n_errors ? 1 : 0;
}
