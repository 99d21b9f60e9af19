/*
 * The database's connection pool and dispatch. See db.h.
 *
 * The pool is a stack of free connections under one mutex, with a condition variable for the
 * threads that wait for one: taking and giving back are O(1), and the most recently used
 * connection goes out first (its pages and statements are warm). The backends (db_sqlite.c, and
 * db_mariadb.c) know the SQL; this file knows none.
 */
#include "db.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct db {
    const struct db_ops *ops;
    void *shared; /* the backend's, from ops->open */
    pthread_mutex_t lock;
    pthread_cond_t freed; /* signalled when a connection is given back */
    unsigned n;           /* connections */
    unsigned nfree;
    struct db_conn **all;  /* n of them, to close */
    struct db_conn **free; /* a stack: free[0..nfree) */
};

/* The backends, by scheme. */
#define SUPPORTED "sqlite:PATH, mysql://USER:PASSWORD@HOST:PORT/DB"
static const struct db_ops *const backends[] = {&db_sqlite_ops, &db_mariadb_ops};

/* The backend for url's scheme (the text before its first ':'), or NULL with a message that
 * names only the scheme: the rest of a URL may hold a password. Sets *rest after the ':'. */
static const struct db_ops *backend_for(const char *url, const char **rest, char *err,
                                        size_t errlen)
{
    const char *colon = strchr(url, ':');
    if (!colon) {
        snprintf(err, errlen, "database URL without a scheme (sqlite:PATH)");
        return NULL;
    }
    size_t len = (size_t)(colon - url);
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (strlen(backends[i]->scheme) == len && memcmp(backends[i]->scheme, url, len) == 0) {
            *rest = colon + 1;
            return backends[i];
        }
    }
    /* A scheme is short and made of letters, digits, '+', '-', '.' (RFC 3986 §3.1): anything
     * else is not repeated. */
    if (len > 0 && len <= 16 &&
        strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789+-.") >= len)
        snprintf(err, errlen, "unknown database scheme \"%.*s\" (supported: " SUPPORTED ")",
                 (int)len, url);
    else
        snprintf(err, errlen, "malformed database URL (supported: " SUPPORTED ")");
    return NULL;
}

struct db *db_open(const char *url, unsigned n, char *err, size_t errlen)
{
    if (n < 1 || n > DB_CONNECTIONS_MAX) {
        snprintf(err, errlen, "database connections: %u is not in 1..%u", n, DB_CONNECTIONS_MAX);
        return NULL;
    }
    const char *rest;
    const struct db_ops *ops = backend_for(url, &rest, err, errlen);
    if (!ops)
        return NULL;

    struct db *db = calloc(1, sizeof(*db));
    if (!db)
        goto nomem;
    db->ops = ops;
    db->all = calloc(n, sizeof(*db->all));
    db->free = calloc(n, sizeof(*db->free));
    if (!db->all || !db->free)
        goto nomem_db;
    if (pthread_mutex_init(&db->lock, NULL) != 0)
        goto nomem_db;
    if (pthread_cond_init(&db->freed, NULL) != 0)
        goto fail_lock;
    db->shared = ops->open(rest, err, errlen);
    if (!db->shared)
        goto fail_cond;
    for (; db->n < n; db->n++) {
        db->all[db->n] = ops->connect(db->shared, err, errlen);
        if (!db->all[db->n])
            goto fail_conns;
        db->free[db->n] = db->all[db->n];
    }
    db->nfree = n;
    return db;

fail_conns:
    for (unsigned i = 0; i < db->n; i++)
        ops->disconnect(db->all[i]);
    ops->close(db->shared);
fail_cond:
    pthread_cond_destroy(&db->freed);
fail_lock:
    pthread_mutex_destroy(&db->lock);
    free(db->all);
    free(db->free);
    free(db);
    return NULL;
nomem_db:
    free(db->all);
    free(db->free);
    free(db);
nomem:
    snprintf(err, errlen, "database: out of memory");
    return NULL;
}

char *db_url_redact(const char *url, char *out, size_t len)
{
    /* The userinfo is between "//" and the authority's last '@' (before the path); its
     * password follows the first ':'. */
    const char *auth = strstr(url, "://");
    const char *at = NULL, *colon = NULL;
    if (auth) {
        auth += 3;
        size_t alen = strcspn(auth, "/?#");
        at = memrchr(auth, '@', alen);
        colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    }
    if (colon)
        snprintf(out, len, "%.*s***%s", (int)(colon + 1 - url), url, at);
    else
        snprintf(out, len, "%s", url);
    return out;
}

void db_close(struct db *db)
{
    if (!db)
        return;
    for (unsigned i = 0; i < db->n; i++)
        db->ops->disconnect(db->all[i]);
    db->ops->close(db->shared);
    pthread_cond_destroy(&db->freed);
    pthread_mutex_destroy(&db->lock);
    free(db->all);
    free(db->free);
    free(db);
}

/* A free connection, waiting for one while all are in use. O(1) once one is free. */
static struct db_conn *take(struct db *db)
{
    pthread_mutex_lock(&db->lock);
    while (db->nfree == 0)
        pthread_cond_wait(&db->freed, &db->lock);
    struct db_conn *c = db->free[--db->nfree];
    pthread_mutex_unlock(&db->lock);
    return c;
}

/* The cause of the calling thread's last DB_ERROR (db_error_text). */
static _Thread_local char error_text[DB_ERROR_TEXT_MAX];

const char *db_error_text(void)
{
    return error_text;
}

/* Records why an operation failed: printable ASCII only, so that a server's message quoting a
 * value (a name's bytes) cannot break a log line. */
static void set_error_text(const char *text)
{
    size_t i = 0;
    for (; text[i] && i + 1 < sizeof(error_text); i++)
        error_text[i] = text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?';
    error_text[i] = '\0';
}

/* Gives c back after an operation that returned rc, waking one waiter; a DB_ERROR's cause is
 * taken from c first, while c is still this thread's. O(1). */
static int give(struct db *db, struct db_conn *c, int rc)
{
    if (rc == DB_ERROR) {
        char text[DB_ERROR_TEXT_MAX];
        text[0] = '\0';
        db->ops->describe(c, text, sizeof(text));
        set_error_text(text);
    }
    pthread_mutex_lock(&db->lock);
    db->free[db->nfree++] = c;
    pthread_cond_signal(&db->freed);
    pthread_mutex_unlock(&db->lock);
    return rc;
}

/* Whether s is a NUL-terminated string of 1..max bytes (strnlen stops at max + 1). */
static bool length_ok(const char *s, size_t max)
{
    size_t len = strnlen(s, max + 1);
    return len >= 1 && len <= max;
}

int db_user_create(struct db *db, const char *name, const char *hash, int64_t *id)
{
    if (!length_ok(name, DB_NAME_MAX) || !length_ok(hash, DB_HASH_MAX - 1)) {
        set_error_text("a name or hash of the wrong length");
        return DB_ERROR;
    }
    int64_t ignored;
    struct db_conn *c = take(db);
    return give(db, c, db->ops->user_create(c, name, hash, id ? id : &ignored));
}

int db_user_find(struct db *db, const char *name, struct db_user *out)
{
    if (!length_ok(name, DB_NAME_MAX))
        return DB_NOTFOUND;
    struct db_conn *c = take(db);
    return give(db, c, db->ops->user_find(c, name, out));
}

int db_user_set_hash(struct db *db, int64_t id, const char *hash)
{
    if (!length_ok(hash, DB_HASH_MAX - 1)) {
        set_error_text("a hash of the wrong length");
        return DB_ERROR;
    }
    struct db_conn *c = take(db);
    return give(db, c, db->ops->user_set_hash(c, id, hash));
}

int db_session_create(struct db *db, const uint8_t token_hash[32], int64_t user_id, int64_t expires)
{
    struct db_conn *c = take(db);
    return give(db, c, db->ops->session_create(c, token_hash, user_id, expires));
}

int db_session_find(struct db *db, const uint8_t token_hash[32], int64_t now,
                    struct db_session *out)
{
    struct db_conn *c = take(db);
    return give(db, c, db->ops->session_find(c, token_hash, now, out));
}

int db_session_delete(struct db *db, const uint8_t token_hash[32])
{
    struct db_conn *c = take(db);
    return give(db, c, db->ops->session_delete(c, token_hash));
}

int db_session_purge(struct db *db, int64_t now)
{
    struct db_conn *c = take(db);
    return give(db, c, db->ops->session_purge(c, now));
}
