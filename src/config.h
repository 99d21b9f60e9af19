/*
 * The server's configuration: defaults, the command line, and validation.
 */
#ifndef TINYWEB_CONFIG_H
#define TINYWEB_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/loop.h"
#include "net/conn.h"

struct config {
    char host[64];           /* numeric IPv4 or IPv6 address to bind */
    char port[8];            /* decimal; "0" picks a free port */
    const char *root;        /* the document root */
    bool listen_et, conn_et; /* -m: epoll trigger mode of the listener and of connections */
    bool linger;             /* -o 1: lingering (graceful) close of every connection */
    int threads;             /* -t: event loops */
    bool log_off;            /* -c 1 */
    bool log_async;          /* -l 1 */
    uint64_t sendfile_min;   /* --sendfile: file bodies this long or longer by sendfile(2) */
    const char *access_log;  /* a path, "-" (stdout) or "off" */
    const char *error_log;   /* a path or "-" (stderr) */
    const char *user;        /* --user: the account to switch to after binding, or NULL */
    bool log_not_found;      /* --log-not-found: 404s in the error log */
    enum timer_kind timer;
    enum tick_kind tick;
    uint64_t tick_ms;
    uint64_t header_timeout_ms, body_timeout_ms, idle_timeout_ms, send_timeout_ms;
    uint64_t shutdown_timeout_ms;
    uint64_t max_connections;
    uint64_t max_header_bytes, max_headers, max_uri_bytes, max_body_bytes;
    uint64_t file_cache_entries, file_cache_bytes, file_cache_valid_ms; /* per loop */
};

/*
 * Fills cfg from the defaults and argv. Returns 0 to run, 1 after printing --help or --version
 * (exit 0), or 2 after printing one line naming the bad option to err (exit 2).
 */
int config_parse(struct config *cfg, int argc, char **argv, FILE *err);

#endif
