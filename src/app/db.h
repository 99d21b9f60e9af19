/*
 * The application's database: users and their sessions, behind one small API that worker
 * threads call (a loop never waits on a database: it submits a job to core/pool).
 *
 * A struct db is a pool of n connections to one database, named by a URL whose scheme picks a
 * backend: "sqlite:PATH" (db_sqlite.c) or "mysql://..." (db_mariadb.c). Each backend is
 * one const struct db_ops (below); db.c holds the pool and the dispatch and knows no SQL. Every
 * query is a statement prepared once per connection, with the values bound: no SQL text is ever
 * built from data. The schema is created on the first start and carries a version (table
 * schema_version, version 1) so that a later server can migrate it.
 *
 * Errors: an operation returns 0 or one of the DB_* codes; db_open writes one line to err, and
 * db_error_text() says why the calling thread's last operation failed. No message ever holds a
 * password, a password hash or a session token, and nothing here logs.
 */
#ifndef TINYWEB_APP_DB_H
#define TINYWEB_APP_DB_H

#include <stddef.h>
#include <stdint.h>

/* A pool of connections to one database. Thread-safe. */
struct db;

/* The longest user name, in bytes: 50 characters of UTF-8 at most 4 bytes each. */
#define DB_NAME_MAX 200

/* The size of a stored password hash with its NUL (libsodium's crypto_pwhash_STRBYTES). */
#define DB_HASH_MAX 128

struct db_user {
    int64_t id;
    char name[DB_NAME_MAX + 1];
    char hash[DB_HASH_MAX]; /* as auth_hash wrote it, NUL-terminated */
};

struct db_session {
    int64_t user_id;
    char name[DB_NAME_MAX + 1]; /* the user's */
    int64_t expires;            /* unix seconds: valid while now < expires */
};

/* The operations' results besides 0. */
#define DB_EXISTS   (-1) /* the user name is taken: of two concurrent creates, exactly one wins */
#define DB_NOTFOUND (-2) /* no such row (or the user of a new session does not exist) */
#define DB_ERROR    (-3) /* the database failed (or an argument is out of range): answer 503 */

/* The most connections a pool may hold. */
#define DB_CONNECTIONS_MAX 1024

/*
 * Opens the database named by url with n connections (1..DB_CONNECTIONS_MAX, -s N), all of them
 * now, so a bad URL shows at start. "sqlite:PATH": the file is created when missing, with mode
 * 0600, and put in WAL mode. "mysql://...": a server that answers with an error (credentials, no
 * such database) fails the start, but one that cannot be reached does not: its connections are
 * made at their first use, and the operations answer DB_ERROR until it is back. Creates the
 * schema on the first start (idempotent); refuses a schema newer than this server's. NULL, with
 * one line in err (which never repeats a URL's password), on any failure. Blocking; call it at
 * start.
 */
struct db *db_open(const char *url, unsigned n, char *err, size_t errlen);

/* url as it may be shown (a log line): the password of a "scheme://user:password@..." URL
 * replaced by "***". Writes at most len bytes into out, NUL-terminated (truncated if need be);
 * returns out. */
char *db_url_redact(const char *url, char *out, size_t len);

/* Closes every connection and frees db (NULL: nothing). No operation may be running. */
void db_close(struct db *db);

/*
 * The operations. Each takes a free connection for its duration (waiting, on a condition
 * variable, while all n are in use), runs one prepared statement, and gives the connection back.
 * Thread-safe; blocking (made for worker threads). Concurrent writers wait for each other (SQLite:
 * WAL and a 5 s busy timeout) rather than fail. Strings are NUL-terminated.
 */

/* A new user: name (1..DB_NAME_MAX bytes; the caller checks it is UTF-8) and its password hash
 * (< DB_HASH_MAX bytes). Sets *id (may be NULL). 0, DB_EXISTS, or DB_ERROR. */
int db_user_create(struct db *db, const char *name, const char *hash, int64_t *id);

/* The user of that name (compared bytewise). 0, DB_NOTFOUND (also for a name too long to exist),
 * or DB_ERROR. */
int db_user_find(struct db *db, const char *name, struct db_user *out);

/* Replaces user id's password hash (< DB_HASH_MAX bytes): a login re-hashes a password whose
 * hash was made with older costs. 0, DB_NOTFOUND, or DB_ERROR. */
int db_user_set_hash(struct db *db, int64_t id, const char *hash);

/* A session of user_id, keyed by its token's hash (auth_token_hash), valid until expires.
 * 0, DB_NOTFOUND (no such user), DB_EXISTS (that key is taken), or DB_ERROR. */
int db_session_create(struct db *db, const uint8_t token_hash[32], int64_t user_id,
                      int64_t expires);

/* The session of that key if it is still valid at now (now < expires), with its user's name.
 * 0, DB_NOTFOUND (unknown or expired), or DB_ERROR. */
int db_session_find(struct db *db, const uint8_t token_hash[32], int64_t now,
                    struct db_session *out);

/* Deletes the session of that key (a logout). 0, DB_NOTFOUND (there was none: not a failure for
 * a logout), or DB_ERROR. */
int db_session_delete(struct db *db, const uint8_t token_hash[32]);

/* Deletes the sessions expired at now (expires <= now). 0 or DB_ERROR. O(expired) (an index). */
int db_session_purge(struct db *db, int64_t now);

/* The longest cause db_error_text gives, with its NUL. */
#define DB_ERROR_TEXT_MAX 200

/* Why the calling thread's last operation that returned DB_ERROR failed, for the error log: one
 * printable line such as "mysql error 2013: Lost connection to server during query" (bytes
 * outside printable ASCII become '?'); "" before any failure. Valid until the thread's next
 * operation. */
const char *db_error_text(void);

/*
 * For backends only. A backend is one file defining a const struct db_ops; db.c lists them and
 * picks one by the URL's scheme. db.c guarantees that a connection is used by one thread at a
 * time, so a backend needs no locks of its own. Each backend defines its struct db_conn.
 */
struct db_conn;

struct db_ops {
    const char *scheme; /* "sqlite": matches the URL up to its first ':' */
    /* Parses the rest of the URL (after "scheme:"), creates the database or checks it can be
     * reached, and creates or migrates the schema. Returns what the connections share (never
     * NULL on success), or NULL and one line in err. */
    void *(*open)(const char *rest, char *err, size_t errlen);
    void (*close)(void *shared);
    /* One connection, its statements prepared. NULL and one line in err. */
    struct db_conn *(*connect)(void *shared, char *err, size_t errlen);
    void (*disconnect)(struct db_conn *c);
    /* The operations, with the contracts above (arguments already checked by db.c). */
    int (*user_create)(struct db_conn *c, const char *name, const char *hash, int64_t *id);
    int (*user_find)(struct db_conn *c, const char *name, struct db_user *out);
    int (*user_set_hash)(struct db_conn *c, int64_t id, const char *hash);
    int (*session_create)(struct db_conn *c, const uint8_t token_hash[32], int64_t user_id,
                          int64_t expires);
    int (*session_find)(struct db_conn *c, const uint8_t token_hash[32], int64_t now,
                        struct db_session *out);
    int (*session_delete)(struct db_conn *c, const uint8_t token_hash[32]);
    int (*session_purge)(struct db_conn *c, int64_t now);
    /* Right after an operation on c returned DB_ERROR: its cause, one line into out. */
    void (*describe)(struct db_conn *c, char *out, size_t len);
};

extern const struct db_ops db_sqlite_ops;
extern const struct db_ops db_mariadb_ops;

#endif
