/*
 * The MariaDB (and MySQL) backend of app/db.h: "mysql://USER:PASSWORD@HOST:PORT/DB" or
 * "mysql://USER@/DB?socket=/run/mysqld/mysqld.sock", with MariaDB Connector/C's blocking API
 * (the operations run on the worker pool's threads, one MYSQL handle per pooled connection).
 *
 * URL: USER and PASSWORD are percent-decoded. The password may instead come from
 * ?password_file=PATH (its first line) or from the environment variable TINYWEB_DB_PASSWORD, so
 * that it need not appear in ps; the URL's wins, then the file's. HOST "localhost" or none means
 * the local socket (Connector/C's rule): a loopback TCP connection is HOST 127.0.0.1 or [::1].
 *
 * Availability: a server that cannot be reached does not stop tinyweb. open() tries one
 * connection: a server that answers with an error (a wrong password, no such database, a schema
 * newer than this server's) fails the start with that message; one that does not answer is
 * connected later. Each operation first makes sure its handle is alive (a poll(2) of its socket
 * costs one syscall and catches the connections that the server closed: a restart,
 * wait_timeout), connecting when it has none. Failed connections back off, shared by all the
 * handles (100 ms doubling to 2 s), so that while the database is down an operation answers
 * DB_ERROR at once instead of waiting for a connect timeout (2 s) each time. A statement whose
 * connection was lost is run again once on a new connection when that is safe: reads and the
 * idempotent writes always, the inserts only when the statement never reached the server.
 *
 * Schema: the same tables and semantics as db_sqlite.c, in InnoDB, versioned by schema_version
 * and created (or migrated) by the first connection that reaches the server, under a named lock
 * (GET_LOCK) so that servers starting together do not both create it. Names are utf8mb4 with
 * utf8mb4_nopad_bin: compared bytewise, trailing spaces included. The data go through prepared
 * statements only; the constant DDL through mysql_real_query.
 */
#include "db.h"

#include <errno.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <errmsg.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The schema version this server writes and reads. */
#define SCHEMA_VERSION 1

/* Connecting gives up after this long (a server that does not answer: DB_ERROR, not a hang). */
#define CONNECT_TIMEOUT_S 2
/* A statement's reads and writes give up after this long (a server that stopped answering). */
#define IO_TIMEOUT_S 10
/* Backoff between failed connections, shared by the pool. */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

/* Every session: strict (an over-long value is an error, never truncated), UTC, a row lock
 * waited for 5 s at most (SQLite's busy timeout). Constant SQL. */
#define INIT_COMMAND                                                                               \
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00',"     \
    " innodb_lock_wait_timeout = 5"

/* migrations[v] takes the schema from version v to v + 1: statements run in order, NULL ends. */
static const char *const migrations[SCHEMA_VERSION][4] = {
    {
        "CREATE TABLE IF NOT EXISTS users ("
        " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " name VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,"
        " hash VARBINARY(127) NOT NULL,"
        " created BIGINT NOT NULL,"
        " UNIQUE KEY users_name (name)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin",
        /* The index on expires is for db_session_purge, the one on user_id for the cascade. */
        "CREATE TABLE IF NOT EXISTS sessions ("
        " token_hash BINARY(32) NOT NULL PRIMARY KEY,"
        " user_id BIGINT NOT NULL,"
        " expires BIGINT NOT NULL,"
        " KEY sessions_expires (expires),"
        " KEY sessions_user (user_id),"
        " CONSTRAINT sessions_user_fk FOREIGN KEY (user_id) REFERENCES users(id)"
        " ON DELETE CASCADE"
        ") ENGINE=InnoDB",
        NULL,
    },
};

enum {
    ST_USER_CREATE,
    ST_USER_FIND,
    ST_USER_SET_HASH,
    ST_SESSION_CREATE,
    ST_SESSION_FIND,
    ST_SESSION_DELETE,
    ST_SESSION_PURGE,
    ST_COUNT
};

static const char *const statements[ST_COUNT] = {
    [ST_USER_CREATE] = "INSERT INTO users(name, hash, created) VALUES(?, ?, UNIX_TIMESTAMP())",
    [ST_USER_FIND] = "SELECT id, name, hash FROM users WHERE name = ?",
    [ST_USER_SET_HASH] = "UPDATE users SET hash = ? WHERE id = ?",
    [ST_SESSION_CREATE] = "INSERT INTO sessions(token_hash, user_id, expires) VALUES(?, ?, ?)",
    [ST_SESSION_FIND] = "SELECT s.user_id, u.name, s.expires FROM sessions AS s"
                        " JOIN users AS u ON u.id = s.user_id"
                        " WHERE s.token_hash = ? AND s.expires > ?",
    [ST_SESSION_DELETE] = "DELETE FROM sessions WHERE token_hash = ?",
    [ST_SESSION_PURGE] = "DELETE FROM sessions WHERE expires <= ?",
};

/* Whether a statement may run a second time after its connection was lost during it: a read,
 * or a write whose repetition changes nothing (a second delete of a session finds none, which a
 * logout takes as done). The inserts are not: a repeated one would report DB_EXISTS. */
static const bool repeatable[ST_COUNT] = {
    [ST_USER_FIND] = true,      [ST_USER_SET_HASH] = true, [ST_SESSION_FIND] = true,
    [ST_SESSION_DELETE] = true, [ST_SESSION_PURGE] = true,
};

/* What the connections share: where the server is, and its state as the pool saw it. */
struct shared {
    char *host; /* NULL: the local socket */
    unsigned port;
    char *user;
    char *password; /* NULL: none */
    char *dbname;
    char *socket; /* NULL: Connector/C's default */
    pthread_mutex_t lock;
    bool schema_ok;      /* under lock: the schema was checked (or made) this run */
    int64_t retry_at_ms; /* under lock: no connection attempt before then (monotonic) */
    unsigned backoff_ms; /* under lock: the next failure's wait */
    char connect_error[DB_ERROR_TEXT_MAX]; /* under lock: why the last connection failed */
};

struct db_conn {
    struct shared *s;
    MYSQL *m;                      /* NULL: not connected */
    MYSQL_STMT *st[ST_COUNT];      /* prepared on first use on m */
    char error[DB_ERROR_TEXT_MAX]; /* why the last operation failed (describe) */
};

/* Records why an operation on c failed: the server's or the library's error number and text. */
static void set_error(struct db_conn *c, unsigned e, const char *text)
{
    snprintf(c->error, sizeof(c->error), "mysql error %u: %s", e, text);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------------------------ */
/* The URL */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A percent-decoded, NUL-terminated copy of s[0..len), or NULL (out of memory, a malformed
 * escape, or a decoded NUL). */
static char *decode(const char *s, size_t len)
{
    char *out = malloc(len + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        if (i + 2 >= len || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
            free(out);
            return NULL;
        }
        char c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
        if (c == '\0') {
            free(out);
            return NULL;
        }
        *o++ = c;
        i += 2;
    }
    *o = '\0';
    return out;
}

/* The first line of the file at path, without its line end: the password. NULL and err. */
static char *read_password_file(const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "re");
    if (!fp) {
        snprintf(err, errlen, "mysql: cannot read the password file %s: %s", path, strerror(errno));
        return NULL;
    }
    char buf[1024];
    char *line = fgets(buf, sizeof(buf), fp);
    fclose(fp);
    if (!line)
        buf[0] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    char *p = strdup(buf);
    explicit_bzero(buf, sizeof(buf));
    if (!p)
        snprintf(err, errlen, "mysql: out of memory");
    return p;
}

static void shared_free(struct shared *s)
{
    if (!s)
        return;
    if (s->password) {
        explicit_bzero(s->password, strlen(s->password));
        free(s->password);
    }
    free(s->host);
    free(s->user);
    free(s->dbname);
    free(s->socket);
    free(s);
}

#define URL_FORMS "mysql://USER:PASSWORD@HOST:PORT/DB or mysql://USER@/DB?socket=PATH"

/* Parses rest ("//USER:PASSWORD@HOST:PORT/DB?k=v&..."): the fields of s. 0, or -1 and a message
 * that names no password. */
static int parse_url(const char *rest, struct shared *s, char *err, size_t errlen)
{
    if (strncmp(rest, "//", 2) != 0)
        goto malformed;
    const char *auth = rest + 2;
    const char *slash = strchr(auth, '/');
    if (!slash)
        goto malformed;
    const char *at = memrchr(auth, '@', (size_t)(slash - auth));
    if (!at || at == auth)
        goto malformed; /* a user is needed */
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    const char *user_end = colon ? colon : at;
    s->user = decode(auth, (size_t)(user_end - auth));
    if (!s->user || !s->user[0])
        goto malformed;
    if (colon) {
        s->password = decode(colon + 1, (size_t)(at - colon - 1));
        if (!s->password)
            goto malformed;
    }

    /* HOST, [IPV6] or nothing, then :PORT. */
    const char *h = at + 1, *hend = slash, *port = NULL;
    if (h < hend && *h == '[') {
        const char *close = memchr(h, ']', (size_t)(hend - h));
        if (!close)
            goto malformed;
        s->host = strndup(h + 1, (size_t)(close - h - 1));
        if (close + 1 < hend) {
            if (close[1] != ':')
                goto malformed;
            port = close + 2;
        }
    } else {
        const char *pc = memchr(h, ':', (size_t)(hend - h));
        if (pc)
            port = pc + 1;
        if ((pc ? pc : hend) > h)
            s->host = strndup(h, (size_t)((pc ? pc : hend) - h));
    }
    if (port) {
        unsigned long p = 0;
        const char *q = port;
        for (; q < hend && *q >= '0' && *q <= '9' && p <= 65535; q++)
            p = p * 10 + (unsigned long)(*q - '0');
        if (q == port || q != hend || p < 1 || p > 65535) {
            snprintf(err, errlen, "mysql: the port is not a number in 1..65535 (%s)", URL_FORMS);
            return -1;
        }
        s->port = (unsigned)p;
    }

    const char *db = slash + 1, *query = strchr(db, '?');
    const char *dbend = query ? query : db + strlen(db);
    s->dbname = decode(db, (size_t)(dbend - db));
    if (!s->dbname || !s->dbname[0] || strchr(s->dbname, '/')) {
        snprintf(err, errlen, "mysql: the URL names no database (%s)", URL_FORMS);
        return -1;
    }

    char *password_file = NULL;
    for (const char *kv = query ? query + 1 : NULL; kv && *kv;) {
        const char *end = strchr(kv, '&');
        size_t len = end ? (size_t)(end - kv) : strlen(kv);
        const char *eq = memchr(kv, '=', len);
        size_t klen = eq ? (size_t)(eq - kv) : len;
        char **to = NULL;
        if (eq && klen == 6 && memcmp(kv, "socket", 6) == 0)
            to = &s->socket;
        else if (eq && klen == 13 && memcmp(kv, "password_file", 13) == 0)
            to = &password_file;
        if (!to || *to) {
            free(password_file);
            snprintf(err, errlen,
                     "mysql: unknown or repeated URL parameter \"%.*s\" (socket, "
                     "password_file)",
                     (int)(klen > 32 ? 32 : klen), kv);
            return -1;
        }
        *to = decode(eq + 1, len - klen - 1);
        if (!*to || !**to) {
            free(password_file);
            goto malformed;
        }
        kv = end ? end + 1 : NULL;
    }
    if (!s->password && password_file) {
        s->password = read_password_file(password_file, err, errlen);
        free(password_file);
        if (!s->password)
            return -1;
    } else {
        free(password_file);
        const char *env = getenv("TINYWEB_DB_PASSWORD");
        if (!s->password && env && !(s->password = strdup(env)))
            goto malformed;
    }
    return 0;

malformed:
    snprintf(err, errlen, "mysql: malformed URL (%s, percent-encoded)", URL_FORMS);
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Connections */

/* Errors that say the server is not there (or went away), as opposed to one that answered. */
static bool unreachable(unsigned e)
{
    return e == CR_CONNECTION_ERROR || e == CR_CONN_HOST_ERROR || e == CR_SERVER_GONE_ERROR ||
           e == CR_SERVER_LOST || e == ER_SERVER_SHUTDOWN || e == ER_CON_COUNT_ERROR ||
           e == ER_CONNECTION_KILLED || e == CR_SERVER_LOST_EXTENDED;
}

/* Errors that mean this connection is dead. */
static bool lost(unsigned e)
{
    return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == ER_CONNECTION_KILLED ||
           e == CR_SERVER_LOST_EXTENDED || e == ER_SERVER_SHUTDOWN;
}

/* Runs one constant statement; discards a result. 0, or the error number. */
static unsigned run_sql(MYSQL *m, const char *sql)
{
    if (mysql_real_query(m, sql, (unsigned long)strlen(sql)) != 0)
        return mysql_errno(m);
    MYSQL_RES *r = mysql_store_result(m);
    if (r)
        mysql_free_result(r);
    return mysql_errno(m);
}

/* The one integer of a constant query's one row (-1: NULL or none), or -2 on an error. */
static long long query_int(MYSQL *m, const char *sql)
{
    if (mysql_real_query(m, sql, (unsigned long)strlen(sql)) != 0)
        return -2;
    MYSQL_RES *r = mysql_store_result(m);
    if (!r)
        return -2;
    MYSQL_ROW row = mysql_fetch_row(r);
    long long v = row && row[0] ? strtoll(row[0], NULL, 10) : -1;
    mysql_free_result(r);
    return v;
}

/* Brings the schema to SCHEMA_VERSION on m. 0, or -1 and err. DDL commits implicitly in
 * MariaDB: a named lock, not a transaction, keeps two starting servers apart; every step is
 * idempotent, so one interrupted half-way is finished by the next start. */
static int migrate(MYSQL *m, const struct shared *s, char *err, size_t errlen)
{
    if (query_int(m, "SELECT GET_LOCK(CONCAT('tinyweb.schema.', DATABASE()), 30)") != 1)
        goto fail;
    int rc = -1;
    if (run_sql(m, "CREATE TABLE IF NOT EXISTS schema_version(version INT NOT NULL)"
                   " ENGINE=InnoDB") != 0)
        goto unlock;
    long long version = query_int(m, "SELECT MAX(version) FROM schema_version");
    if (version == -2)
        goto unlock;
    if (version < 0)
        version = 0;
    if (version > SCHEMA_VERSION) {
        snprintf(err, errlen,
                 "mysql: database %s: schema version %lld is newer than this server's (%d): "
                 "refusing it",
                 s->dbname, version, SCHEMA_VERSION);
        rc = -2;
        goto unlock;
    }
    for (long long v = version; v < SCHEMA_VERSION; v++) {
        for (int i = 0; migrations[v][i]; i++) {
            if (run_sql(m, migrations[v][i]) != 0)
                goto unlock;
        }
    }
    if (version < SCHEMA_VERSION) {
        /* The version is a constant: the SQL text holds no data. */
        char sql[64];
        snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES(%d)", SCHEMA_VERSION);
        if (run_sql(m, "DELETE FROM schema_version") != 0 || run_sql(m, sql) != 0)
            goto unlock;
    }
    rc = 0;
unlock:
    if (rc == -1)
        snprintf(err, errlen, "mysql: database %s: cannot create the schema: %s", s->dbname,
                 mysql_error(m));
    query_int(m, "SELECT RELEASE_LOCK(CONCAT('tinyweb.schema.', DATABASE()))");
    return rc == 0 ? 0 : -1;
fail:
    snprintf(err, errlen, "mysql: database %s: cannot lock the schema: %s", s->dbname,
             mysql_error(m));
    return -1;
}

/* A new handle, connected, with the schema checked once per run. NULL with *e (the error
 * number, 0 when not the server's) and err. */
static MYSQL *handle_open(struct shared *s, unsigned *e, char *err, size_t errlen)
{
    *e = 0;
    MYSQL *m = mysql_init(NULL);
    if (!m) {
        snprintf(err, errlen, "mysql: out of memory");
        return NULL;
    }
    unsigned timeout = CONNECT_TIMEOUT_S, io = IO_TIMEOUT_S;
    my_bool no = 0;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &io);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &io);
    mysql_options(m, MYSQL_OPT_RECONNECT, &no); /* ours: its statements must be prepared again */
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(m, MYSQL_INIT_COMMAND, INIT_COMMAND);
    mysql_optionsv(m, MYSQL_OPT_LOCAL_INFILE, &no);
    /* CLIENT_FOUND_ROWS: an UPDATE counts the rows it matched, not those it changed, so that
     * setting a hash to its own value is not DB_NOTFOUND. */
    if (!mysql_real_connect(m, s->host, s->user, s->password, s->dbname, s->port, s->socket,
                            CLIENT_FOUND_ROWS)) {
        *e = mysql_errno(m);
        snprintf(err, errlen, "mysql: cannot connect to database %s on %s as %s: %s", s->dbname,
                 s->host     ? s->host
                 : s->socket ? s->socket
                             : "the local socket",
                 s->user, mysql_error(m));
        mysql_close(m);
        return NULL;
    }
    pthread_mutex_lock(&s->lock);
    int rc = s->schema_ok ? 0 : migrate(m, s, err, errlen);
    if (rc == 0)
        s->schema_ok = true;
    pthread_mutex_unlock(&s->lock);
    if (rc != 0) {
        *e = mysql_errno(m);
        mysql_close(m);
        return NULL;
    }
    return m;
}

/* Forgets c's handle and its statements (a dead connection, or a closing one). */
static void drop(struct db_conn *c)
{
    for (int i = 0; i < ST_COUNT; i++) {
        if (c->st[i])
            mysql_stmt_close(c->st[i]);
        c->st[i] = NULL;
    }
    if (c->m)
        mysql_close(c->m);
    c->m = NULL;
}

/* Whether c's socket says the server has closed it (or sent something unasked: an error packet
 * before closing). Idle, a healthy connection has nothing to read. One poll(2). */
static bool closed_by_server(struct db_conn *c)
{
    struct pollfd p = {.fd = (int)mysql_get_socket(c->m), .events = POLLIN | POLLRDHUP};
    return p.fd < 0 || poll(&p, 1, 0) != 0;
}

/* Makes sure c has a live handle, connecting when it has none unless the pool is backing off.
 * 0, or -1 (DB_ERROR for the operation). */
static int ensure(struct db_conn *c)
{
    if (c->m && !closed_by_server(c))
        return 0;
    drop(c);
    struct shared *s = c->s;
    pthread_mutex_lock(&s->lock);
    bool wait = now_ms() < s->retry_at_ms;
    if (wait)
        snprintf(c->error, sizeof(c->error), "not connected (retrying shortly): %.*s",
                 (int)sizeof(c->error) - 40, s->connect_error);
    pthread_mutex_unlock(&s->lock);
    if (wait)
        return -1;
    char err[DB_ERROR_TEXT_MAX];
    unsigned e;
    c->m = handle_open(s, &e, err, sizeof(err));
    pthread_mutex_lock(&s->lock);
    if (c->m) {
        s->backoff_ms = BACKOFF_MIN_MS;
    } else {
        snprintf(s->connect_error, sizeof(s->connect_error), "%s", err);
        snprintf(c->error, sizeof(c->error), "%s", err);
        s->retry_at_ms = now_ms() + s->backoff_ms;
        s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
    }
    pthread_mutex_unlock(&s->lock);
    return c->m ? 0 : -1;
}

/*
 * Runs statement i with params on c, reconnecting once when the connection was lost and running
 * it again when that is safe (see repeatable[]). 0 with *out the executed statement (its result,
 * if any, to fetch), -1 when there was no connection, or the server's error number.
 */
static int execute(struct db_conn *c, int i, MYSQL_BIND *params, MYSQL_STMT **out)
{
    for (int attempt = 0;; attempt++) {
        if (ensure(c) != 0)
            return -1;
        if (!c->st[i]) {
            MYSQL_STMT *st = mysql_stmt_init(c->m);
            if (!st) {
                set_error(c, mysql_errno(c->m), mysql_error(c->m));
                return -1;
            }
            if (mysql_stmt_prepare(st, statements[i], (unsigned long)strlen(statements[i]))) {
                unsigned e = mysql_stmt_errno(st);
                set_error(c, e, mysql_stmt_error(st));
                mysql_stmt_close(st);
                /* Nothing ran yet: any statement may be tried again. */
                if (attempt == 0 && lost(e)) {
                    drop(c);
                    continue;
                }
                return (int)e;
            }
            c->st[i] = st;
        }
        MYSQL_STMT *st = c->st[i];
        if (mysql_stmt_bind_param(st, params) == 0 && mysql_stmt_execute(st) == 0) {
            *out = st;
            return 0;
        }
        unsigned e = mysql_stmt_errno(st);
        set_error(c, e, mysql_stmt_error(st));
        /* A deadlock rolled the statement back (autocommit): it may run again, whatever it is. */
        if (attempt == 0 && e == ER_LOCK_DEADLOCK)
            continue;
        if (!lost(e))
            return e ? (int)e : -1;
        drop(c);
        /* CR_SERVER_GONE_ERROR: the statement could not be sent, so it did not run. */
        if (attempt == 0 && (repeatable[i] || e == CR_SERVER_GONE_ERROR))
            continue;
        return (int)e;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* The backend */

static void *open_shared(const char *rest, char *err, size_t errlen)
{
    struct shared *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "mysql: out of memory");
        return NULL;
    }
    if (parse_url(rest, s, err, errlen) != 0) {
        shared_free(s);
        return NULL;
    }
    /* Not thread-safe: called here, at start, before any worker uses the library. */
    if (mysql_library_init(0, NULL, NULL) != 0 || pthread_mutex_init(&s->lock, NULL) != 0) {
        snprintf(err, errlen, "mysql: cannot initialise the client library");
        shared_free(s);
        return NULL;
    }
    s->backoff_ms = BACKOFF_MIN_MS;
    /* One connection now: a server that answers with an error fails the start; one that is
     * not there is left for later (the application answers 503 meanwhile). */
    unsigned e;
    MYSQL *m = handle_open(s, &e, err, errlen);
    if (m) {
        mysql_close(m);
    } else if (!unreachable(e)) {
        pthread_mutex_destroy(&s->lock);
        shared_free(s);
        return NULL;
    }
    err[0] = '\0';
    return s;
}

static void close_shared(void *shared)
{
    struct shared *s = shared;
    pthread_mutex_destroy(&s->lock);
    shared_free(s);
}

static void disconnect(struct db_conn *c)
{
    drop(c);
    free(c);
}

/* A connection object; connected now if the server is there, else at its first use. */
static struct db_conn *connect_one(void *shared, char *err, size_t errlen)
{
    struct db_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "mysql: out of memory");
        return NULL;
    }
    c->s = shared;
    ensure(c);
    return c;
}

static void bind_text(MYSQL_BIND *b, const char *s, unsigned long *len)
{
    *len = (unsigned long)strlen(s);
    b->buffer_type = MYSQL_TYPE_STRING;
    b->buffer = (void *)s;
    b->buffer_length = *len;
    b->length = len;
}

static void bind_blob(MYSQL_BIND *b, const uint8_t *p, unsigned long *len)
{
    b->buffer_type = MYSQL_TYPE_BLOB;
    b->buffer = (void *)p;
    b->buffer_length = *len;
    b->length = len;
}

static void bind_int(MYSQL_BIND *b, int64_t *v)
{
    b->buffer_type = MYSQL_TYPE_LONGLONG;
    b->buffer = v;
}

/* Fetches the one row of st into its bound results: 0, DB_NOTFOUND, or DB_ERROR (also for a
 * value too long for its buffer). Frees the result. */
static int fetch_one(struct db_conn *c, MYSQL_STMT *st, MYSQL_BIND *results)
{
    int ret = DB_ERROR;
    if (mysql_stmt_bind_result(st, results) == 0) {
        int rc = mysql_stmt_fetch(st);
        ret = rc == 0 ? 0 : rc == MYSQL_NO_DATA ? DB_NOTFOUND : DB_ERROR;
        if (rc == MYSQL_DATA_TRUNCATED)
            snprintf(c->error, sizeof(c->error), "a stored value longer than its buffer");
        else if (ret == DB_ERROR)
            set_error(c, mysql_stmt_errno(st), mysql_stmt_error(st));
    } else {
        set_error(c, mysql_stmt_errno(st), mysql_stmt_error(st));
    }
    mysql_stmt_free_result(st);
    return ret;
}

static int user_create(struct db_conn *c, const char *name, const char *hash, int64_t *id)
{
    MYSQL_BIND p[2] = {0};
    unsigned long nlen, hlen;
    bind_text(&p[0], name, &nlen);
    bind_text(&p[1], hash, &hlen);
    MYSQL_STMT *st;
    int rc = execute(c, ST_USER_CREATE, p, &st);
    if (rc == 0) {
        *id = (int64_t)mysql_stmt_insert_id(st);
        return 0;
    }
    return rc == ER_DUP_ENTRY ? DB_EXISTS : DB_ERROR;
}

static int user_find(struct db_conn *c, const char *name, struct db_user *out)
{
    MYSQL_BIND p[1] = {0}, r[3] = {0};
    unsigned long nlen, rname, rhash;
    bind_text(&p[0], name, &nlen);
    MYSQL_STMT *st;
    if (execute(c, ST_USER_FIND, p, &st) != 0)
        return DB_ERROR;
    bind_int(&r[0], &out->id);
    r[1].buffer_type = MYSQL_TYPE_STRING;
    r[1].buffer = out->name;
    r[1].buffer_length = sizeof(out->name);
    r[1].length = &rname;
    r[2].buffer_type = MYSQL_TYPE_STRING;
    r[2].buffer = out->hash;
    r[2].buffer_length = sizeof(out->hash);
    r[2].length = &rhash;
    int ret = fetch_one(c, st, r);
    /* Connector/C NUL-terminates a string that fits with its NUL; the lengths say so. */
    if (ret == 0 && (rname >= sizeof(out->name) || rhash >= sizeof(out->hash))) {
        snprintf(c->error, sizeof(c->error), "a stored name or hash longer than its buffer");
        ret = DB_ERROR;
    }
    if (ret == 0) {
        out->name[rname] = '\0';
        out->hash[rhash] = '\0';
    }
    return ret;
}

static int user_set_hash(struct db_conn *c, int64_t id, const char *hash)
{
    MYSQL_BIND p[2] = {0};
    unsigned long hlen;
    bind_text(&p[0], hash, &hlen);
    bind_int(&p[1], &id);
    MYSQL_STMT *st;
    if (execute(c, ST_USER_SET_HASH, p, &st) != 0)
        return DB_ERROR;
    return mysql_stmt_affected_rows(st) > 0 ? 0 : DB_NOTFOUND;
}

static int session_create(struct db_conn *c, const uint8_t token_hash[32], int64_t user_id,
                          int64_t expires)
{
    MYSQL_BIND p[3] = {0};
    unsigned long klen = 32;
    bind_blob(&p[0], token_hash, &klen);
    bind_int(&p[1], &user_id);
    bind_int(&p[2], &expires);
    MYSQL_STMT *st;
    switch (execute(c, ST_SESSION_CREATE, p, &st)) {
    case 0:
        return 0;
    case ER_NO_REFERENCED_ROW_2:
    case ER_NO_REFERENCED_ROW:
        return DB_NOTFOUND;
    case ER_DUP_ENTRY:
        return DB_EXISTS;
    default:
        return DB_ERROR;
    }
}

static int session_find(struct db_conn *c, const uint8_t token_hash[32], int64_t now,
                        struct db_session *out)
{
    MYSQL_BIND p[2] = {0}, r[3] = {0};
    unsigned long klen = 32, rname;
    bind_blob(&p[0], token_hash, &klen);
    bind_int(&p[1], &now);
    MYSQL_STMT *st;
    if (execute(c, ST_SESSION_FIND, p, &st) != 0)
        return DB_ERROR;
    bind_int(&r[0], &out->user_id);
    r[1].buffer_type = MYSQL_TYPE_STRING;
    r[1].buffer = out->name;
    r[1].buffer_length = sizeof(out->name);
    r[1].length = &rname;
    bind_int(&r[2], &out->expires);
    int ret = fetch_one(c, st, r);
    if (ret == 0 && rname >= sizeof(out->name)) {
        snprintf(c->error, sizeof(c->error), "a stored name longer than its buffer");
        ret = DB_ERROR;
    }
    if (ret == 0)
        out->name[rname] = '\0';
    return ret;
}

static int session_delete(struct db_conn *c, const uint8_t token_hash[32])
{
    MYSQL_BIND p[1] = {0};
    unsigned long klen = 32;
    bind_blob(&p[0], token_hash, &klen);
    MYSQL_STMT *st;
    if (execute(c, ST_SESSION_DELETE, p, &st) != 0)
        return DB_ERROR;
    return mysql_stmt_affected_rows(st) > 0 ? 0 : DB_NOTFOUND;
}

static int session_purge(struct db_conn *c, int64_t now)
{
    MYSQL_BIND p[1] = {0};
    bind_int(&p[0], &now);
    MYSQL_STMT *st;
    return execute(c, ST_SESSION_PURGE, p, &st) == 0 ? 0 : DB_ERROR;
}

static void describe(struct db_conn *c, char *out, size_t len)
{
    snprintf(out, len, "%s", c->error);
}

const struct db_ops db_mariadb_ops = {
    .scheme = "mysql",
    .open = open_shared,
    .close = close_shared,
    .connect = connect_one,
    .disconnect = disconnect,
    .user_create = user_create,
    .user_find = user_find,
    .user_set_hash = user_set_hash,
    .session_create = session_create,
    .session_find = session_find,
    .session_delete = session_delete,
    .session_purge = session_purge,
    .describe = describe,
};
