/*
 * The SQLite backend of app/db.h: "sqlite:PATH".
 *
 * One sqlite3 handle per pooled connection, opened SQLITE_OPEN_NOMUTEX (multi-thread mode: db.c
 * hands a connection to one thread at a time, so SQLite's per-handle mutex would only cost), with
 * its statements prepared once (SQLITE_PREPARE_PERSISTENT) and reset after every use, so that no
 * read transaction stays open and holds back the WAL checkpoints.
 *
 * Concurrency: the database is in WAL mode (readers never block the writer nor each other) and
 * each handle has a 5 s busy timeout, so writers on other connections wait for the write lock
 * instead of failing with SQLITE_BUSY. Every statement is a single autocommit statement that
 * takes the write lock before it reads, so the busy handler always applies (no deferred
 * transaction upgrading from a stale snapshot, which SQLite fails at once). synchronous=FULL: a
 * commit is on disk when the statement returns (one fsync of the WAL per write; registrations
 * and logins are rare next to the password hash they follow).
 *
 * Schema: versioned by the one-row table schema_version. Start-up runs the migrations from the
 * stored version to SCHEMA_VERSION in one IMMEDIATE transaction (so two servers starting on one
 * file do not both create it), and refuses a file whose version is newer than this server's.
 */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How long a connection waits for another one's write lock before DB_ERROR. */
#define BUSY_TIMEOUT_MS 5000

/* The schema version this server writes and reads. */
#define SCHEMA_VERSION 1

/* migrations[v] takes the schema from version v to v + 1 (0: an empty file). Constant SQL. */
static const char *const migrations[SCHEMA_VERSION] = {
    "CREATE TABLE users ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " hash TEXT NOT NULL,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE sessions ("
    " token_hash BLOB PRIMARY KEY,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " expires INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    /* For db_session_purge, and for the cascade when a user is deleted. */
    "CREATE INDEX sessions_expires ON sessions(expires);"
    "CREATE INDEX sessions_user ON sessions(user_id);",
};

/* The statements each connection prepares; ?N are bound, never spliced. */
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
    [ST_USER_CREATE] = "INSERT INTO users(name, hash, created)"
                       " VALUES(?1, ?2, CAST(strftime('%s', 'now') AS INTEGER))",
    [ST_USER_FIND] = "SELECT id, name, hash FROM users WHERE name = ?1",
    [ST_USER_SET_HASH] = "UPDATE users SET hash = ?2 WHERE id = ?1",
    [ST_SESSION_CREATE] = "INSERT INTO sessions(token_hash, user_id, expires) VALUES(?1, ?2, ?3)",
    [ST_SESSION_FIND] = "SELECT s.user_id, u.name, s.expires FROM sessions AS s"
                        " JOIN users AS u ON u.id = s.user_id"
                        " WHERE s.token_hash = ?1 AND s.expires > ?2",
    [ST_SESSION_DELETE] = "DELETE FROM sessions WHERE token_hash = ?1",
    [ST_SESSION_PURGE] = "DELETE FROM sessions WHERE expires <= ?1",
};

/* What the connections share: the file's path, as SQLite is to open it. */
struct shared {
    char path[1]; /* allocated longer */
};

struct db_conn {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
};

/* Opens path read-write (not creating it: open_shared did) with the per-connection settings:
 * extended result codes, the busy timeout, foreign keys, durable commits. NULL and err. */
static sqlite3 *handle_open(const char *path, char *err, size_t errlen)
{
    sqlite3 *h = NULL;
    int rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: cannot open %s: %s", path,
                 h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
        sqlite3_close(h);
        return NULL;
    }
    sqlite3_extended_result_codes(h, 1);
    sqlite3_busy_timeout(h, BUSY_TIMEOUT_MS);
    rc = sqlite3_exec(h, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s: %s", path, sqlite3_errmsg(h));
        sqlite3_close(h);
        return NULL;
    }
    return h;
}

/* Puts the file in WAL mode (persistent: once per file, but asking again is cheap). */
static int use_wal(sqlite3 *h, const char *path, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(h, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    const unsigned char *mode = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    int ok = mode && strcmp((const char *)mode, "wal") == 0;
    if (!ok)
        snprintf(err, errlen, "sqlite: %s: cannot use WAL mode: %s", path,
                 rc == SQLITE_ROW ? "refused (a network file system?)" : sqlite3_errmsg(h));
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}

/* Brings the schema to SCHEMA_VERSION, in one transaction. 0, or -1 and err. */
static int migrate(sqlite3 *h, const char *path, char *err, size_t errlen)
{
    if (sqlite3_exec(h,
                     "BEGIN IMMEDIATE;"
                     "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL);",
                     NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, "SELECT max(version) FROM schema_version", -1, &st, NULL) !=
        SQLITE_OK)
        goto fail;
    sqlite3_int64 version = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (version < 0)
        goto fail;
    if (version > SCHEMA_VERSION) {
        snprintf(err, errlen,
                 "sqlite: %s: schema version %lld is newer than this server's (%d): refusing it",
                 path, (long long)version, SCHEMA_VERSION);
        sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    for (sqlite3_int64 v = version; v < SCHEMA_VERSION; v++) {
        if (sqlite3_exec(h, migrations[v], NULL, NULL, NULL) != SQLITE_OK)
            goto fail;
    }
    if (version < SCHEMA_VERSION) {
        /* The version is a constant: the SQL text holds no data. */
        char sql[96];
        snprintf(sql, sizeof(sql),
                 "DELETE FROM schema_version; INSERT INTO schema_version VALUES(%d);",
                 SCHEMA_VERSION);
        if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
            goto fail;
    }
    if (sqlite3_exec(h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    return 0;

fail:
    snprintf(err, errlen, "sqlite: %s: cannot create the schema: %s", path, sqlite3_errmsg(h));
    sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static void *open_shared(const char *rest, char *err, size_t errlen)
{
    if (rest[0] == '\0' || strcmp(rest, ":memory:") == 0) {
        /* Each connection would have its own database in memory. */
        snprintf(err, errlen, "sqlite: a file path is needed (sqlite:PATH)");
        return NULL;
    }
    /* This libsqlite3 may treat "file:..." as a URI (SQLITE_USE_URI): "./" keeps it a path. */
    const char *prefix = strncmp(rest, "file:", 5) == 0 ? "./" : "";
    size_t len = strlen(prefix) + strlen(rest);
    struct shared *s = malloc(sizeof(*s) + len);
    if (!s) {
        snprintf(err, errlen, "sqlite: out of memory");
        return NULL;
    }
    snprintf(s->path, len + 1, "%s%s", prefix, rest);

    /* SQLite would create the file 0644 (less the umask), and gives the -wal and -shm files the
     * database's mode: creating it first makes all three 0600. An existing file keeps its mode
     * (the administrator's choice). */
    int fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "sqlite: cannot open %s: %s", s->path, strerror(errno));
        free(s);
        return NULL;
    }
    close(fd);

    sqlite3 *h = handle_open(s->path, err, errlen);
    if (!h || use_wal(h, s->path, err, errlen) != 0 || migrate(h, s->path, err, errlen) != 0) {
        sqlite3_close(h);
        free(s);
        return NULL;
    }
    sqlite3_close(h);
    return s;
}

static void close_shared(void *shared)
{
    free(shared);
}

static void disconnect(struct db_conn *c)
{
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    free(c);
}

static struct db_conn *connect_one(void *shared, char *err, size_t errlen)
{
    const struct shared *s = shared;
    if (!sqlite3_threadsafe()) {
        snprintf(err, errlen, "sqlite: this libsqlite3 is built without thread support");
        return NULL;
    }
    struct db_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "sqlite: out of memory");
        return NULL;
    }
    c->db = handle_open(s->path, err, errlen);
    if (!c->db) {
        free(c);
        return NULL;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(c->db, statements[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i],
                               NULL) != SQLITE_OK) {
            snprintf(err, errlen, "sqlite: %s: %s", s->path, sqlite3_errmsg(c->db));
            disconnect(c);
            return NULL;
        }
    }
    return c;
}

/* Ends a use of st: resets it (closing its read transaction) and drops the bindings, which
 * point at the caller's memory (SQLITE_STATIC). */
static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Copies a text column of at most max bytes into out (max + 1 bytes). 0, or -1 when longer. */
static int copy_text(sqlite3_stmt *st, int col, char *out, size_t max)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    int len = sqlite3_column_bytes(st, col);
    if (!text || len < 0 || (size_t)len > max)
        return -1;
    memcpy(out, text, (size_t)len);
    out[len] = '\0';
    return 0;
}

static int user_create(struct db_conn *c, const char *name, const char *hash, int64_t *id)
{
    sqlite3_stmt *st = c->st[ST_USER_CREATE];
    int rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    done(st);
    if (rc == SQLITE_DONE) {
        /* The connection is this thread's alone: no other insert came between. */
        *id = sqlite3_last_insert_rowid(c->db);
        return 0;
    }
    return rc == SQLITE_CONSTRAINT_UNIQUE ? DB_EXISTS : DB_ERROR;
}

static int user_set_hash(struct db_conn *c, int64_t id, const char *hash)
{
    sqlite3_stmt *st = c->st[ST_USER_SET_HASH];
    int rc = sqlite3_bind_int64(st, 1, id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    done(st);
    if (rc != SQLITE_DONE)
        return DB_ERROR;
    return sqlite3_changes(c->db) > 0 ? 0 : DB_NOTFOUND;
}

static int user_find(struct db_conn *c, const char *name, struct db_user *out)
{
    sqlite3_stmt *st = c->st[ST_USER_FIND];
    int rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    int ret = DB_ERROR;
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        if (copy_text(st, 1, out->name, DB_NAME_MAX) == 0 &&
            copy_text(st, 2, out->hash, DB_HASH_MAX - 1) == 0)
            ret = 0;
    } else if (rc == SQLITE_DONE) {
        ret = DB_NOTFOUND;
    }
    done(st);
    return ret;
}

static int session_create(struct db_conn *c, const uint8_t token_hash[32], int64_t user_id,
                          int64_t expires)
{
    sqlite3_stmt *st = c->st[ST_SESSION_CREATE];
    int rc = sqlite3_bind_blob(st, 1, token_hash, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, user_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 3, expires);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    done(st);
    switch (rc) {
    case SQLITE_DONE:
        return 0;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return DB_NOTFOUND;
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return DB_EXISTS;
    default:
        return DB_ERROR;
    }
}

static int session_find(struct db_conn *c, const uint8_t token_hash[32], int64_t now,
                        struct db_session *out)
{
    sqlite3_stmt *st = c->st[ST_SESSION_FIND];
    int rc = sqlite3_bind_blob(st, 1, token_hash, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, now);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    int ret = DB_ERROR;
    if (rc == SQLITE_ROW) {
        out->user_id = sqlite3_column_int64(st, 0);
        out->expires = sqlite3_column_int64(st, 2);
        if (copy_text(st, 1, out->name, DB_NAME_MAX) == 0)
            ret = 0;
    } else if (rc == SQLITE_DONE) {
        ret = DB_NOTFOUND;
    }
    done(st);
    return ret;
}

static int session_delete(struct db_conn *c, const uint8_t token_hash[32])
{
    sqlite3_stmt *st = c->st[ST_SESSION_DELETE];
    int rc = sqlite3_bind_blob(st, 1, token_hash, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    done(st);
    if (rc != SQLITE_DONE)
        return DB_ERROR;
    return sqlite3_changes(c->db) > 0 ? 0 : DB_NOTFOUND;
}

static int session_purge(struct db_conn *c, int64_t now)
{
    sqlite3_stmt *st = c->st[ST_SESSION_PURGE];
    int rc = sqlite3_bind_int64(st, 1, now);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    done(st);
    return rc == SQLITE_DONE ? 0 : DB_ERROR;
}

static void describe(struct db_conn *c, char *out, size_t len)
{
    snprintf(out, len, "sqlite error %d: %s", sqlite3_extended_errcode(c->db),
             sqlite3_errmsg(c->db));
}

const struct db_ops db_sqlite_ops = {
    .scheme = "sqlite",
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
