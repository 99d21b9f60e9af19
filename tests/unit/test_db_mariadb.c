/*
 * Unit tests for the MariaDB backend (src/app/db_mariadb.c) through app/db.h, against the server
 * named by the environment variable TINYWEB_TEST_MYSQL_URL, in the form that
 * `scripts/mariadb.sh url DIR` prints: mysql://USER@/DB?socket=PATH&password_file=PATH. Without
 * it every test is skipped. Each test starts from an empty database (it drops the tables).
 *
 * The same cases as test_db.c's for SQLite (URLs, schema, users, sessions, the races) and what
 * only a server has: credentials refused at start, a server that is not there (db_open succeeds,
 * operations fail at once), the password from the environment, and connections that the server
 * closed (a restart, wait_timeout: KILL here) taken up again without a failed operation.
 */
#include "app/db.h"

#include <mysql.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "db_contract.h"

/* The server, from the URL. */
static struct {
    const char *url;
    char user[64], db[64], socket[256], password[256], password_file[256];
} srv;

/* Parses TINYWEB_TEST_MYSQL_URL (the socket form only). 0, or -1: skip. */
static int parse_env(void)
{
    srv.url = getenv("TINYWEB_TEST_MYSQL_URL");
    if (!srv.url || !srv.url[0])
        return -1;
    if (sscanf(srv.url, "mysql://%63[^@]@/%63[^?]?socket=%255[^&]&password_file=%255s", srv.user,
               srv.db, srv.socket, srv.password_file) != 4) {
        fprintf(stderr, "TINYWEB_TEST_MYSQL_URL: expected %s\n",
                "mysql://USER@/DB?socket=PATH&password_file=PATH");
        exit(1);
    }
    FILE *fp = fopen(srv.password_file, "r");
    if (!fp || !fgets(srv.password, sizeof(srv.password), fp)) {
        fprintf(stderr, "cannot read %s\n", srv.password_file);
        exit(1);
    }
    fclose(fp);
    srv.password[strcspn(srv.password, "\r\n")] = '\0';
    return 0;
}

static MYSQL *raw_connect(void)
{
    MYSQL *m = mysql_init(NULL);
    assert_non_null(m);
    if (!mysql_real_connect(m, NULL, srv.user, srv.password, srv.db, 0, srv.socket, 0))
        fail_msg("raw connection: %s", mysql_error(m));
    return m;
}

/* Runs constant SQL on a connection of its own. */
static void raw_exec(const char *sql)
{
    MYSQL *m = raw_connect();
    if (mysql_query(m, sql) != 0)
        fail_msg("%s: %s", sql, mysql_error(m));
    mysql_close(m);
}

/* The first column of the first row, as an integer (-1: no row or NULL). */
static long long raw_int(const char *sql)
{
    MYSQL *m = raw_connect();
    if (mysql_query(m, sql) != 0)
        fail_msg("%s: %s", sql, mysql_error(m));
    MYSQL_RES *r = mysql_store_result(m);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
    long long v = row && row[0] ? strtoll(row[0], NULL, 10) : -1;
    mysql_free_result(r);
    mysql_close(m);
    return v;
}

/* Kills every connection of the test's user but the killer's: what a server restart or
 * wait_timeout does to the pool's connections. The number killed. */
static int kill_others(void)
{
    MYSQL *m = raw_connect();
    assert_int_equal(mysql_query(m, "SELECT id FROM information_schema.processlist"
                                    " WHERE user = CURRENT_USER() OR user = SUBSTRING_INDEX("
                                    "CURRENT_USER(), '@', 1)"),
                     0);
    MYSQL_RES *r = mysql_store_result(m);
    unsigned long self = mysql_thread_id(m);
    int n = 0;
    for (MYSQL_ROW row; (row = mysql_fetch_row(r));) {
        unsigned long id = strtoul(row[0], NULL, 10);
        if (id == self)
            continue;
        char sql[64];
        snprintf(sql, sizeof(sql), "KILL CONNECTION %lu", id);
        if (mysql_query(m, sql) == 0)
            n++;
    }
    mysql_free_result(r);
    mysql_close(m);
    return n;
}

/* Skips the test without a server. */
static void need_server(void)
{
    if (!srv.url)
        skip();
}

static int setup(void **state)
{
    (void)state;
    if (srv.url)
        raw_exec("DROP TABLE IF EXISTS sessions, users, schema_version");
    return 0;
}

static struct db *open_ok(unsigned n)
{
    char err[256];
    struct db *db = db_open(srv.url, n, err, sizeof(err));
    if (!db)
        fail_msg("db_open: %s", err);
    return db;
}

/* db_open refuses url with one line that does not contain secret (may be NULL). */
static void refused(const char *url, const char *secret)
{
    char err[256] = "";
    struct db *db = db_open(url, 1, err, sizeof(err));
    if (db)
        fail_msg("db_open(\"%s\") succeeded", url);
    assert_true(err[0] != '\0');
    assert_null(strchr(err, '\n'));
    if (secret && strstr(err, secret))
        fail_msg("the message repeats the password: %s", err);
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_open_refuses(void **state)
{
    (void)state;
    need_server();
    refused("mysql:", NULL);
    refused("mysql:/x", NULL);
    refused("mysql://bob:hunter2@localhost", "hunter2");
    refused("mysql://bob:hunter2@localhost/", "hunter2");
    refused("mysql://:hunter2@localhost/app", "hunter2");
    refused("mysql://bob:hunter2@localhost:0/app", "hunter2");
    refused("mysql://bob:hunter2@localhost:99999/app", "hunter2");
    refused("mysql://bob:hunter2@localhost:33x/app", "hunter2");
    refused("mysql://bob:hunt%zzer2@localhost/app", "hunt");
    refused("mysql://bob:hunter2@localhost/app?bogus=1", "hunter2");
    refused("mysql://bob:hunter2@localhost/app?socket=", "hunter2");
    refused("mysql://bob@localhost/app?password_file=/nonexistent/pw", NULL);
    /* The server answers: wrong password, unknown database. */
    char url[2048];
    snprintf(url, sizeof(url), "mysql://%s:wr0ngpassw0rd@/%s?socket=%s", srv.user, srv.db,
             srv.socket);
    refused(url, "wr0ngpassw0rd");
    snprintf(url, sizeof(url), "mysql://%s@/nosuchdb_tinyweb?socket=%s&password_file=%s", srv.user,
             srv.socket, srv.password_file);
    refused(url, srv.password);
}

/* A server that is not there: the start succeeds, the operations fail at once, and repeatedly
 * so (the backoff), with no wait for a timeout. */
static void test_unreachable(void **state)
{
    (void)state;
    need_server();
    char err[256];
    struct db *db =
        db_open("mysql://bob:hunter2@/app?socket=/nonexistent/mysqld.sock", 4, err, sizeof(err));
    if (!db)
        fail_msg("db_open: %s", err);
    /* A loopback port nobody listens on (refused at once). */
    struct db *tcp = db_open("mysql://bob:hunter2@127.0.0.1:1/app", 2, err, sizeof(err));
    if (!tcp)
        fail_msg("db_open: %s", err);
    double start = seconds();
    struct db_user u;
    uint8_t k[32];
    contract_hash_of(1, k);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(db_user_find(db, "alice", &u), DB_ERROR);
        assert_int_equal(db_user_create(db, "alice", "h", NULL), DB_ERROR);
        assert_int_equal(db_session_create(tcp, k, 1, 100), DB_ERROR);
        /* Why, for the error log: the refused connection, now or while backing off. */
        if (!strstr(db_error_text(), "mysql: cannot connect to database app on 127.0.0.1 as bob"))
            fail_msg("the cause: \"%s\"", db_error_text());
        assert_null(strstr(db_error_text(), "hunter2"));
    }
    double took = seconds() - start;
    if (took > 1.0)
        fail_msg("150 operations on a missing server took %.2f s", took);
    db_close(db);
    db_close(tcp);
}

static void test_password_from_env(void **state)
{
    (void)state;
    need_server();
    char url[2048];
    snprintf(url, sizeof(url), "mysql://%s@/%s?socket=%s", srv.user, srv.db, srv.socket);
    setenv("TINYWEB_DB_PASSWORD", srv.password, 1);
    char err[256];
    struct db *db = db_open(url, 1, err, sizeof(err));
    unsetenv("TINYWEB_DB_PASSWORD");
    if (!db)
        fail_msg("db_open with TINYWEB_DB_PASSWORD: %s", err);
    assert_int_equal(db_user_create(db, "env", "h", NULL), 0);
    db_close(db);
    /* Percent-encoded in the URL (the password has no reserved characters: encode them all). */
    char enc[3 * sizeof(srv.password)] = "";
    for (const char *p = srv.password; *p; p++)
        snprintf(enc + strlen(enc), 4, "%%%02X", (unsigned char)*p);
    snprintf(url, sizeof(url), "mysql://%s:%s@/%s?socket=%s", srv.user, enc, srv.db, srv.socket);
    db = db_open(url, 1, err, sizeof(err));
    if (!db)
        fail_msg("db_open with the password in the URL: %s", err);
    struct db_user u;
    assert_int_equal(db_user_find(db, "env", &u), 0);
    db_close(db);
}

static void test_schema(void **state)
{
    (void)state;
    need_server();
    struct db *db = open_ok(1);
    int64_t id;
    assert_int_equal(db_user_create(db, "alice", "h1", &id), 0);
    db_close(db);
    assert_int_equal(raw_int("SELECT version FROM schema_version"), 1);
    assert_int_equal(raw_int("SELECT count(*) FROM information_schema.tables WHERE"
                             " table_schema = DATABASE() AND engine = 'InnoDB' AND table_name IN"
                             " ('users', 'sessions', 'schema_version')"),
                     3);
    db = open_ok(3);
    struct db_user u;
    assert_int_equal(db_user_find(db, "alice", &u), 0);
    assert_int_equal(u.id, id);
    assert_string_equal(u.hash, "h1");
    db_close(db);
    assert_int_equal(raw_int("SELECT count(*) FROM schema_version"), 1);

    raw_exec("UPDATE schema_version SET version = 2");
    char err[256];
    assert_null(db_open(srv.url, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "newer"));
    assert_int_equal(raw_int("SELECT version FROM schema_version"), 2);
}

/* The shared contract (db_contract.h) against the server. */
static struct db *backend_open(const struct db_backend *b, unsigned n)
{
    (void)b;
    return open_ok(n);
}

static void backend_exec(const struct db_backend *b, const char *sql)
{
    (void)b;
    raw_exec(sql);
}

static long long backend_query_int(const struct db_backend *b, const char *sql)
{
    (void)b;
    return raw_int(sql);
}

static const struct db_backend mariadb = {
    .open = backend_open,
    .exec = backend_exec,
    .query_int = backend_query_int,
    .delete_bob = "DELETE FROM users WHERE name = 'bob'",
    .race_rounds = 100,
    .writes = 40,
};

static void test_users(void **state)
{
    (void)state;
    need_server();
    contract_users(&mariadb);
}

static void test_sessions(void **state)
{
    (void)state;
    need_server();
    contract_sessions(&mariadb);
}

/* Connections the server closed under the pool are made again, and no operation fails: every
 * statement's handle is found dead before the statement is sent. */
static void test_reconnect(void **state)
{
    (void)state;
    need_server();
    struct db *db = open_ok(3);
    int64_t id;
    assert_int_equal(db_user_create(db, "alice", "h", &id), 0);
    for (int round = 0; round < 5; round++) {
        struct db_user u;
        struct db_session s;
        uint8_t k[32];
        contract_hash_of(round, k);
        for (int i = 0; i < 3; i++)
            assert_int_equal(db_user_find(db, "alice", &u), 0);
        if (kill_others() < 1)
            fail_msg("round %d: no connection killed", round);
        /* Each kind of statement first, right after the kill. */
        switch (round) {
        case 0:
            assert_int_equal(db_user_find(db, "alice", &u), 0);
            break;
        case 1: {
            char name[32];
            snprintf(name, sizeof(name), "user-%d", round);
            assert_int_equal(db_user_create(db, name, "h", NULL), 0);
            break;
        }
        case 2:
            assert_int_equal(db_session_create(db, k, id, 100), 0);
            assert_int_equal(db_session_find(db, k, 0, &s), 0);
            break;
        case 3:
            assert_int_equal(db_user_set_hash(db, id, "h2"), 0);
            break;
        default:
            assert_int_equal(db_session_purge(db, 1000), 0);
        }
        for (int i = 0; i < 6; i++)
            assert_int_equal(db_user_find(db, "alice", &u), 0);
    }
    db_close(db);
}

static void test_unique_race(void **state)
{
    (void)state;
    need_server();
    contract_unique_race(&mariadb);
}

static void test_concurrent_writers(void **state)
{
    (void)state;
    need_server();
    contract_writers(&mariadb, CONTRACT_WRITERS);
}

static void test_pool_waits(void **state)
{
    (void)state;
    need_server();
    contract_writers(&mariadb, 1);
}

int main(void)
{
    if (parse_env() != 0)
        fprintf(stderr, "TINYWEB_TEST_MYSQL_URL is not set: skipping (scripts/mariadb.sh start "
                        "DIR prints one)\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_open_refuses, setup),
        cmocka_unit_test_setup(test_unreachable, setup),
        cmocka_unit_test_setup(test_password_from_env, setup),
        cmocka_unit_test_setup(test_schema, setup),
        cmocka_unit_test_setup(test_users, setup),
        cmocka_unit_test_setup(test_sessions, setup),
        cmocka_unit_test_setup(test_reconnect, setup),
        cmocka_unit_test_setup(test_unique_race, setup),
        cmocka_unit_test_setup(test_concurrent_writers, setup),
        cmocka_unit_test_setup(test_pool_waits, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
