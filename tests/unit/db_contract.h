/*
 * The contract every database backend keeps (src/app/db.h), as test bodies that test_db.c
 * (SQLite) and test_db_mariadb.c (MariaDB) share: sessions (expiry, delete, purge, unknown
 * users, the cascade), concurrent creates of one name (exactly one wins, many rounds), and many
 * writers on n connections (they wait for each other rather than fail). Each test file gives a
 * struct db_backend: how to open a fresh database and how to reach it beside db.h. Included by
 * those two files only (static functions), after <cmocka.h>.
 */
#ifndef TINYWEB_TESTS_UNIT_DB_CONTRACT_H
#define TINYWEB_TESTS_UNIT_DB_CONTRACT_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "app/db.h"

struct db_backend {
    /* A database of n connections, schema made (fails the test otherwise). */
    struct db *(*open)(const struct db_backend *b, unsigned n);
    /* Runs SQL beside db.h, and reads the first column of a query's first row (-1: none). */
    void (*exec)(const struct db_backend *b, const char *sql);
    long long (*query_int)(const struct db_backend *b, const char *sql);
    const char *delete_bob; /* SQL that deletes the user "bob" with foreign keys enforced */
    int race_rounds;        /* rounds of concurrent creates (at most CONTRACT_ROUNDS_MAX) */
    int writes;             /* per writer thread */
    const void *ctx;        /* the test file's own */
};

/* A distinct token hash for each i. */
static void contract_hash_of(int i, uint8_t out[32])
{
    memset(out, 0, 32);
    memcpy(out, &i, sizeof(i));
    out[31] = 0xa5;
}

/* Users: create, find, names compared bytewise, hostile names as data, the length limits (a
 * DB_ERROR that says why), a new hash. */
static void contract_users(const struct db_backend *b)
{
    struct db *db = b->open(b, 2);
    int64_t a, bob;
    struct db_user u;
    assert_int_equal(db_user_create(db, "alice", "$argon2id$alice", &a), 0);
    assert_int_equal(db_user_create(db, "bob", "$argon2id$bob", &bob), 0);
    assert_true(a > 0 && bob > 0 && a != bob);
    assert_int_equal(db_user_create(db, "alice", "$argon2id$other", NULL), DB_EXISTS);
    assert_int_equal(db_user_find(db, "alice", &u), 0);
    assert_int_equal(u.id, a);
    assert_string_equal(u.name, "alice");
    assert_string_equal(u.hash, "$argon2id$alice");
    assert_int_equal(db_user_find(db, "carol", &u), DB_NOTFOUND);
    /* Bytewise: case, trailing spaces and accents all count. */
    assert_int_equal(db_user_find(db, "Alice", &u), DB_NOTFOUND);
    assert_int_equal(db_user_find(db, "alice ", &u), DB_NOTFOUND);
    assert_int_equal(db_user_create(db, "Alice", "h", NULL), 0);
    assert_int_equal(db_user_create(db, "alice ", "h", NULL), 0);
    assert_int_equal(db_user_create(db, "élan", "h", NULL), 0);
    assert_int_equal(db_user_create(db, "elan", "h", NULL), 0);

    static const char *const hostile[] = {
        "'; DROP TABLE users; --", "x' OR '1'='1", "\"quoted\"", "a%b_c", "?", "名前", "\\", "😀",
    };
    assert_int_equal(db_user_find(db, "x' OR 'a'='a", &u), DB_NOTFOUND);
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        int64_t id;
        assert_int_equal(db_user_create(db, hostile[i], "h", &id), 0);
        assert_int_equal(db_user_find(db, hostile[i], &u), 0);
        assert_int_equal(u.id, id);
        assert_string_equal(u.name, hostile[i]);
    }
    assert_int_equal(db_user_find(db, "a_b%c", &u), DB_NOTFOUND);
    assert_int_equal(b->query_int(b, "SELECT count(*) FROM users"), 14);

    char name[DB_NAME_MAX + 2];
    memset(name, 'n', DB_NAME_MAX);
    name[DB_NAME_MAX] = '\0';
    assert_int_equal(db_user_create(db, name, "h", NULL), 0);
    assert_int_equal(db_user_find(db, name, &u), 0);
    assert_string_equal(u.name, name);
    /* 50 four-byte characters: 200 bytes. */
    char wide[DB_NAME_MAX + 1] = "";
    for (int i = 0; i < 50; i++)
        strcat(wide, "😀");
    assert_int_equal(db_user_create(db, wide, "h", NULL), 0);
    assert_int_equal(db_user_find(db, wide, &u), 0);
    assert_string_equal(u.name, wide);
    name[DB_NAME_MAX] = 'n';
    name[DB_NAME_MAX + 1] = '\0';
    assert_int_equal(db_user_create(db, name, "h", NULL), DB_ERROR);
    assert_non_null(strstr(db_error_text(), "wrong length"));
    assert_int_equal(db_user_find(db, name, &u), DB_NOTFOUND);
    char hash[DB_HASH_MAX + 1];
    memset(hash, 'h', DB_HASH_MAX);
    hash[DB_HASH_MAX] = '\0';
    assert_int_equal(db_user_create(db, "longhash", hash, NULL), DB_ERROR);
    assert_int_equal(db_user_create(db, "", "h", NULL), DB_ERROR);
    assert_int_equal(db_user_find(db, "", &u), DB_NOTFOUND);
    hash[DB_HASH_MAX - 1] = '\0';
    assert_int_equal(db_user_create(db, "longhash", hash, NULL), 0);
    assert_int_equal(db_user_find(db, "longhash", &u), 0);
    assert_string_equal(u.hash, hash);

    /* A new hash; the same one again is not "not found". */
    assert_int_equal(db_user_set_hash(db, a, "$argon2id$new"), 0);
    assert_int_equal(db_user_set_hash(db, a, "$argon2id$new"), 0);
    assert_int_equal(db_user_find(db, "alice", &u), 0);
    assert_string_equal(u.hash, "$argon2id$new");
    assert_int_equal(db_user_set_hash(db, a + 1000, "h"), DB_NOTFOUND);
    db_close(db);
}

static void contract_sessions(const struct db_backend *b)
{
    struct db *db = b->open(b, 2);
    int64_t alice, bob;
    assert_int_equal(db_user_create(db, "alice", "h", &alice), 0);
    assert_int_equal(db_user_create(db, "bob", "h", &bob), 0);
    uint8_t k1[32], k2[32], k3[32], k4[32], unknown[32];
    contract_hash_of(1, k1);
    contract_hash_of(2, k2);
    contract_hash_of(3, k3);
    contract_hash_of(4, k4);
    contract_hash_of(99, unknown);

    assert_int_equal(db_session_create(db, k1, alice, 1000), 0);
    assert_int_equal(db_session_create(db, k2, bob, 2000), 0);
    assert_int_equal(db_session_create(db, k1, bob, 3000), DB_EXISTS);
    assert_int_equal(db_session_create(db, k3, bob + 100, 3000), DB_NOTFOUND);

    struct db_session s;
    assert_int_equal(db_session_find(db, k1, 999, &s), 0);
    assert_int_equal(s.user_id, alice);
    assert_string_equal(s.name, "alice");
    assert_int_equal(s.expires, 1000);
    /* Valid while now < expires. */
    assert_int_equal(db_session_find(db, k1, 1000, &s), DB_NOTFOUND);
    assert_int_equal(db_session_find(db, k1, 5000, &s), DB_NOTFOUND);
    assert_int_equal(db_session_find(db, unknown, 0, &s), DB_NOTFOUND);
    assert_int_equal(db_session_find(db, k2, 1500, &s), 0);
    assert_string_equal(s.name, "bob");

    /* Logout. */
    assert_int_equal(db_session_delete(db, k2), 0);
    assert_int_equal(db_session_find(db, k2, 1500, &s), DB_NOTFOUND);
    assert_int_equal(db_session_delete(db, k2), DB_NOTFOUND);

    /* Purge deletes what expired at now (expires <= now) and nothing else. */
    assert_int_equal(db_session_create(db, k2, bob, 2000), 0);
    assert_int_equal(db_session_create(db, k3, bob, 3000), 0);
    assert_int_equal(db_session_purge(db, 2000), 0);
    assert_int_equal(b->query_int(b, "SELECT count(*) FROM sessions"), 1);
    assert_int_equal(db_session_find(db, k3, 0, &s), 0);
    assert_int_equal(db_session_purge(db, 0), 0);
    assert_int_equal(db_session_find(db, k3, 0, &s), 0);

    /* A user's deletion takes the sessions with it. */
    assert_int_equal(db_session_create(db, k4, alice, 3000), 0);
    b->exec(b, b->delete_bob);
    assert_int_equal(db_session_find(db, k3, 0, &s), DB_NOTFOUND);
    assert_int_equal(b->query_int(b, "SELECT count(*) FROM sessions"), 1);
    assert_int_equal(db_session_find(db, k4, 0, &s), 0);
    db_close(db);
}

/* Concurrent creates of one name. */
enum { CONTRACT_RACERS = 4, CONTRACT_ROUNDS_MAX = 150 };

struct contract_race {
    struct db *db;
    int rounds;
    pthread_barrier_t start, end;
    int results[CONTRACT_ROUNDS_MAX][CONTRACT_RACERS];
};

struct contract_racer {
    struct contract_race *race;
    int index;
};

static void *contract_racer_main(void *arg)
{
    struct contract_racer *r = arg;
    for (int round = 0; round < r->race->rounds; round++) {
        char name[32];
        snprintf(name, sizeof(name), "race-%d", round);
        pthread_barrier_wait(&r->race->start);
        r->race->results[round][r->index] = db_user_create(r->race->db, name, "h", NULL);
        pthread_barrier_wait(&r->race->end);
    }
    return NULL;
}

static void contract_unique_race(const struct db_backend *b)
{
    static struct contract_race race;
    race.db = b->open(b, CONTRACT_RACERS);
    race.rounds = b->race_rounds;
    pthread_barrier_init(&race.start, NULL, CONTRACT_RACERS);
    pthread_barrier_init(&race.end, NULL, CONTRACT_RACERS);
    pthread_t threads[CONTRACT_RACERS];
    struct contract_racer racers[CONTRACT_RACERS];
    for (int i = 0; i < CONTRACT_RACERS; i++) {
        racers[i] = (struct contract_racer){&race, i};
        assert_int_equal(pthread_create(&threads[i], NULL, contract_racer_main, &racers[i]), 0);
    }
    for (int i = 0; i < CONTRACT_RACERS; i++)
        pthread_join(threads[i], NULL);
    for (int round = 0; round < race.rounds; round++) {
        int won = 0, exists = 0;
        for (int i = 0; i < CONTRACT_RACERS; i++) {
            won += race.results[round][i] == 0;
            exists += race.results[round][i] == DB_EXISTS;
        }
        if (won != 1 || exists != CONTRACT_RACERS - 1)
            fail_msg("round %d: %d created, %d DB_EXISTS of %d", round, won, exists,
                     CONTRACT_RACERS);
    }
    assert_int_equal(b->query_int(b, "SELECT count(*) FROM users"), race.rounds);
    pthread_barrier_destroy(&race.start);
    pthread_barrier_destroy(&race.end);
    db_close(race.db);
}

/* Many writers (and readers) at once. */
enum { CONTRACT_WRITERS = 8 };

struct contract_writer {
    struct db *db;
    int index, writes;
    int64_t user;
    int failures;
};

static void *contract_writer_main(void *arg)
{
    struct contract_writer *w = arg;
    for (int i = 0; i < w->writes; i++) {
        uint8_t k[32];
        struct db_session s;
        struct db_user u;
        contract_hash_of(w->index * w->writes + i + 1000, k);
        if (db_session_create(w->db, k, w->user, 100) != 0)
            w->failures++;
        if (db_session_find(w->db, k, 0, &s) != 0 || s.user_id != w->user)
            w->failures++;
        if (db_user_find(w->db, "writer", &u) != 0)
            w->failures++;
        if (i % 2 && db_session_delete(w->db, k) != 0)
            w->failures++;
    }
    return NULL;
}

/* CONTRACT_WRITERS threads on n connections: with n = CONTRACT_WRITERS they contend in the
 * database (SQLite: its busy timeout), with n = 1 for the pool's one connection. */
static void contract_writers(const struct db_backend *b, unsigned n)
{
    struct db *db = b->open(b, n);
    int64_t user;
    assert_int_equal(db_user_create(db, "writer", "h", &user), 0);
    pthread_t threads[CONTRACT_WRITERS];
    struct contract_writer ws[CONTRACT_WRITERS];
    for (int i = 0; i < CONTRACT_WRITERS; i++) {
        ws[i] = (struct contract_writer){.db = db, .index = i, .writes = b->writes, .user = user};
        assert_int_equal(pthread_create(&threads[i], NULL, contract_writer_main, &ws[i]), 0);
    }
    for (int i = 0; i < CONTRACT_WRITERS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(ws[i].failures, 0);
    }
    assert_int_equal(b->query_int(b, "SELECT count(*) FROM sessions"),
                     CONTRACT_WRITERS * b->writes / 2);
    assert_int_equal(db_session_purge(db, 100), 0);
    assert_int_equal(b->query_int(b, "SELECT count(*) FROM sessions"), 0);
    db_close(db);
}

#endif
