/*
 * Unit tests for the database (src/app/db.c, src/app/db_sqlite.c) on a SQLite file in a fresh
 * directory: URLs refused with one-line messages that never repeat a password; the file and its
 * WAL files created 0600 whatever the umask; the schema versioned (1), created once, kept across
 * restarts, and a newer one refused; users (UNIQUE names, bytewise, hostile names stored as
 * they are); sessions (expiry, delete, purge, unknown users, the cascade); and concurrency: of
 * concurrent creates of one name exactly one wins, many rounds; concurrent writers on several
 * connections wait for each other rather than fail; more threads than connections wait for one.
 */
#include "app/db.h"

#include <pthread.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "db_contract.h"

/* A fresh directory per test, and the database's path and URL in it. */
struct fixture {
    char dir[64];
    char path[96];
    char url[112];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_db.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/app.db", f->dir);
    snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char p[128];
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static struct db *open_ok(const struct fixture *f, unsigned n)
{
    char err[256];
    struct db *db = db_open(f->url, n, err, sizeof(err));
    if (!db)
        fail_msg("db_open(%s): %s", f->url, err);
    return db;
}

/* Runs one statement on the file directly (SQLite's own API), for what db.h does not offer. */
static void raw_exec(const struct fixture *f, const char *sql)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(f->path, &h), SQLITE_OK);
    if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    sqlite3_close(h);
}

/* The first column of the first row of a query, as an integer (-1: no row). */
static long long raw_int(const struct fixture *f, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(f->path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    long long v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* db_open refuses url with one line that does not contain secret (may be NULL). */
static void refused(const char *url, unsigned n, const char *secret)
{
    char err[256] = "";
    struct db *db = db_open(url, n, err, sizeof(err));
    if (db)
        fail_msg("db_open(\"%s\") succeeded", url);
    assert_true(err[0] != '\0');
    assert_null(strchr(err, '\n'));
    if (secret)
        assert_null(strstr(err, secret));
}

static void test_open_refuses(void **state)
{
    struct fixture *f = *state;
    refused("", 1, NULL);
    refused("app.db", 1, NULL);
    refused("postgres://bob:hunter2@db.example/app", 1, "hunter2");
    /* A MySQL URL without its database (one that names it is checked by test_db_mariadb.c). */
    refused("mysql://bob:hunter2@localhost", 1, "hunter2");
    refused("bob:hunter2@localhost", 1, "hunter2");
    refused("sqlite:", 1, NULL);
    refused("sqlite::memory:", 1, NULL);
    refused("sqlite:/nonexistent-directory/app.db", 1, NULL);
    refused(f->url, 0, NULL);
    refused(f->url, DB_CONNECTIONS_MAX + 1, NULL);
    /* A directory is not a database. */
    char url[128];
    snprintf(url, sizeof(url), "sqlite:%s", f->dir);
    refused(url, 1, NULL);
    /* Neither is a file of something else. */
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    fputs("not a database, but more than a header's worth of text, to be sure of it\n", fp);
    fclose(fp);
    refused(f->url, 1, NULL);
}

static void test_url_redact(void **state)
{
    (void)state;
    char out[128];
    assert_string_equal(db_url_redact("mysql://bob:hunter2@db.example:3306/app", out, sizeof(out)),
                        "mysql://bob:***@db.example:3306/app");
    assert_string_equal(db_url_redact("mysql://bob:p%40ss:w@/app?socket=/s", out, sizeof(out)),
                        "mysql://bob:***@/app?socket=/s");
    assert_string_equal(db_url_redact("mysql://bob@/app?socket=/s:x@y", out, sizeof(out)),
                        "mysql://bob@/app?socket=/s:x@y");
    assert_string_equal(db_url_redact("sqlite:/var/a:b@c.db", out, sizeof(out)),
                        "sqlite:/var/a:b@c.db");
    char small[12];
    assert_string_equal(db_url_redact("mysql://bob:hunter2@h/a", small, sizeof(small)),
                        "mysql://bob");
}

static void test_file_mode(void **state)
{
    struct fixture *f = *state;
    /* With no umask, a file SQLite created would be 0644. */
    mode_t old = umask(0);
    struct db *db = open_ok(f, 2);
    umask(old);
    assert_int_equal(db_user_create(db, "alice", "$argon2id$x", NULL), 0);
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[128];
        struct stat st;
        snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
        assert_int_equal(stat(p, &st), 0);
        if ((st.st_mode & 07777) != 0600)
            fail_msg("%s has mode %o", p, (unsigned)(st.st_mode & 07777));
    }
    db_close(db);
}

static void test_schema(void **state)
{
    struct fixture *f = *state;
    struct db *db = open_ok(f, 1);
    int64_t id;
    assert_int_equal(db_user_create(db, "alice", "h1", &id), 0);
    db_close(db);
    assert_int_equal(raw_int(f, "SELECT version FROM schema_version"), 1);
    sqlite3 *h;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(f->path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(h);

    /* A restart: the schema is not created again, the data stays. */
    db = open_ok(f, 3);
    struct db_user u;
    assert_int_equal(db_user_find(db, "alice", &u), 0);
    assert_int_equal(u.id, id);
    assert_string_equal(u.hash, "h1");
    db_close(db);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM schema_version"), 1);
    assert_int_equal(raw_int(f, "SELECT version FROM schema_version"), 1);

    /* A later server's schema is refused, and left as it is. */
    raw_exec(f, "UPDATE schema_version SET version = 2");
    char err[256];
    assert_null(db_open(f->url, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "newer"));
    assert_int_equal(raw_int(f, "SELECT version FROM schema_version"), 2);
}

/* The shared contract (db_contract.h) on a SQLite file of the fixture's. */
static struct db *backend_open(const struct db_backend *b, unsigned n)
{
    return open_ok(b->ctx, n);
}

static void backend_exec(const struct db_backend *b, const char *sql)
{
    raw_exec(b->ctx, sql);
}

static long long backend_query_int(const struct db_backend *b, const char *sql)
{
    return raw_int(b->ctx, sql);
}

static struct db_backend sqlite_backend(const struct fixture *f)
{
    return (struct db_backend){
        .open = backend_open,
        .exec = backend_exec,
        .query_int = backend_query_int,
        .delete_bob = "PRAGMA foreign_keys = ON; DELETE FROM users WHERE name = 'bob'",
        .race_rounds = 150,
        .writes = 60,
        .ctx = f,
    };
}

static void test_users(void **state)
{
    struct db_backend b = sqlite_backend(*state);
    contract_users(&b);
}

static void test_sessions(void **state)
{
    struct db_backend b = sqlite_backend(*state);
    contract_sessions(&b);
}

static void test_unique_race(void **state)
{
    struct db_backend b = sqlite_backend(*state);
    contract_unique_race(&b);
}

static void test_concurrent_writers(void **state)
{
    struct db_backend b = sqlite_backend(*state);
    contract_writers(&b, CONTRACT_WRITERS);
}

static void test_pool_waits(void **state)
{
    struct db_backend b = sqlite_backend(*state);
    contract_writers(&b, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_refuses, setup, teardown),
        cmocka_unit_test(test_url_redact),
        cmocka_unit_test_setup_teardown(test_file_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unique_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_waits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
