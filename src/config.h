/*
 * The server's configuration: one table of options (config.c) drives the command line, --help,
 * the configuration file, validation, the example file and what a reload may change.
 *
 * Sources, later ones winning: the defaults, the file given with -f (one "name value" a line,
 * the long options' names), then the command line. A repeatable setting (listen) given on the
 * command line replaces the file's list rather than adding to it.
 */
#ifndef TINYWEB_CONFIG_H
#define TINYWEB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/loop.h"
#include "http/http_static.h"
#include "net/cidr.h"
#include "net/conn.h"

/* What --version prints and /status reports. */
#define TINYWEB_VERSION "0.1.0"

/* --error-page and --cache-control/--expires entries, at most. */
#define CONFIG_ERROR_PAGES_MAX 32
#define CONFIG_CACHE_RULES_MAX 32

/* Addresses one server listens on, at most. */
#define CONFIG_LISTEN_MAX 16

struct listen_addr {
    char host[64]; /* numeric IPv4 or IPv6 address */
    char port[8];  /* decimal; "0" picks a free port; "" until config_parse() fills it from -p */
    bool tls;      /* --listen-tls: HTTPS */
};

struct config {
    struct listen_addr listens[CONFIG_LISTEN_MAX];
    int nlisten;
    char port[8];                /* -p: the port of listen addresses given without one */
    const char *root;            /* the document root */
    const char *index;           /* --index: a directory's index files, comma-separated, in order */
    bool autoindex;              /* --autoindex: directories without an index are listed */
    bool compress;               /* --compress: variants made on the worker pool */
    bool compress_static;        /* --compress-static: precompressed siblings */
    unsigned compress_encodings; /* --compress-encodings: HTTP_CODING_BIT set */
    uint64_t compress_min;       /* --compress-min-size */
    const char *compress_types;  /* --compress-types */
    struct http_error_page error_pages[CONFIG_ERROR_PAGES_MAX]; /* --error-page */
    int nerror_pages;
    struct http_cache_rule cache_rules[CONFIG_CACHE_RULES_MAX]; /* --cache-control, --expires */
    int ncache_rules;
    uint64_t mode;           /* -m: 0 LT+LT, 1 LT+ET, 2 ET+LT, 3 ET+ET */
    bool listen_et, conn_et; /* -m: epoll trigger mode of the listener and of connections */
    bool linger;             /* -o 1: lingering (graceful) close of every connection */
    uint64_t threads;        /* -t: event loops */
    bool log_off;            /* -c 1 */
    bool log_async;          /* -l 1 */
    uint64_t sendfile_min;   /* --sendfile: file bodies this long or longer by sendfile(2) */
    const char *access_log;  /* a path, "-" (stdout) or "off" */
    const char *error_log;   /* a path or "-" (stderr) */
    bool log_not_found;      /* --log-not-found: 404s in the error log */
    const char *user;        /* --user: the account to switch to after binding, or NULL */
    const char *pid_file;    /* --pid-file, or NULL */
    bool defer_accept;       /* --defer-accept: TCP_DEFER_ACCEPT on the listeners */
    enum timer_kind timer;
    enum tick_kind tick;
    uint64_t tick_ms;
    uint64_t header_timeout_ms, body_timeout_ms, idle_timeout_ms, send_timeout_ms;
    uint64_t shutdown_timeout_ms;
    uint64_t max_connections;
    uint64_t max_header_bytes, max_headers, max_uri_bytes, max_body_bytes;
    uint64_t file_cache_entries, file_cache_bytes, file_cache_valid_ms; /* per loop */
    const char *status;            /* --status PATH: JSON there, the page at PATH/; NULL: off */
    const char *metrics;           /* --metrics PATH: Prometheus text; NULL: PATH/metrics */
    struct cidr_list status_allow; /* --status-allow: who may read them */
    const char *health;            /* --health PATH, or NULL */
    uint64_t drain_delay_ms;       /* --drain-delay: serving on, closing, after a stop signal */

    /* HTTPS (src/net/tls.c): on the --listen-tls addresses. */
    const char *tls_cert, *tls_key; /* PEM files, read at start and at each reload */
    bool tls12, tls13;              /* --tls-protocols */
    const char *tls_ciphers;        /* TLS 1.2 */
    const char *tls_ciphersuites;   /* TLS 1.3 */
    uint64_t tls_session_cache;     /* entries; 0: off */
    uint64_t tls_ticket_rotate_ms;  /* 0: no session tickets */
    uint64_t hsts_s;                /* --hsts: Strict-Transport-Security max-age; 0: off */
    bool redirect_https;            /* plain listeners answer 301 to the TLS one */

    /* The application (register, log in, sessions: src/app/): on with --db. */
    const char *db;          /* --db URL ("sqlite:PATH"), or NULL: no application */
    uint64_t db_connections; /* -s: connections to the database */
    bool app_on_workers;     /* -a 1: every application request runs on the worker pool */
    uint64_t workers;        /* --workers: the worker pool's threads */
    uint64_t worker_queue;   /* --worker-queue: jobs waiting for a worker, at most */
    uint64_t app_timeout_ms; /* --app-timeout: longest wait for the application's answer */
    uint64_t session_ttl_ms; /* --session-ttl */
    const char *templates;   /* --templates DIR, or NULL: ROOT/templates */
    uint64_t pwhash_ops;     /* --pwhash-ops: Argon2id passes */
    uint64_t pwhash_mem;     /* --pwhash-mem: Argon2id memory, bytes */
    uint64_t login_failures; /* --login-throttle: failed logins before 429s (0: off) */

    /* Where it came from, for a reload, and what the parse owns. */
    const char *file; /* -f, or NULL */
    bool test_only;   /* -T: check and exit */
    int argc;
    char **argv;
    char **strings; /* values read from the file: copies, freed by config_free() */
    size_t nstrings;
};

/*
 * Fills cfg from the defaults, the file named by -f and argv (kept: a reload reads them again).
 * Returns 0 to run, 1 after printing --help, --version or the example file (exit 0), or 2 after
 * printing the errors to err, one line each naming the option or FILE:LINE (exit 2). cfg must be
 * freed with config_free() whatever the result.
 */
int config_parse(struct config *cfg, int argc, char **argv, FILE *err);

/* Frees what config_parse() allocated. */
void config_free(struct config *cfg);

/*
 * The settings that differ between a and b but cannot change while the server runs (listen,
 * -t, user, ...), as "listen, threads" in out. Returns how many. For a reload.
 */
int config_fixed_changes(const struct config *a, const struct config *b, char *out, size_t len);

/* Writes an example configuration file: every setting, commented out, with its default. */
void config_write_example(FILE *out);

#endif
