/*
 * TinyWebServer's application, done right: register, log in, a session, and the pages behind it
 * (welcome, picture, video, fans), on the HTTP handler table.
 *
 * Routes (each GET and HEAD, POST where it acts; every POST must come from this site):
 *   /            the landing page                     /welcome  needs a session
 *   /register    the form; POST registers             /picture  needs a session
 *   /login       the form; POST logs in               /video    needs a session
 *   /logout      POST: ends the session               /fans     needs a session
 * and TinyWebServer's own, answering the same way: /0 (register form), /1 (login form),
 * /3CGISQL.cgi (register), /2CGISQL.cgi (log in), /5 /6 /7 (picture, video, fans), GET or POST.
 *
 * Blocking work (password hashing, the database) runs on the worker pool; the loop answers
 * from what it holds (the form pages, a session in the session cache) and suspends the
 * exchange for the rest (http_suspend). With on_workers (-a 1) every request of the
 * application goes through the pool, rendering included.
 */
#ifndef TINYWEB_APP_APP_H
#define TINYWEB_APP_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"
#include "http/http_route.h"

struct app;

struct app_options {
    const char *db_url;      /* --db */
    unsigned db_connections; /* -s */
    bool on_workers;         /* -a 1 */
    unsigned long long pwhash_ops;
    size_t pwhash_mem;
    unsigned login_failures; /* --login-throttle: 0 off */
    uint64_t session_ttl_ms; /* --session-ttl (a reload changes it: app_reload) */
    const char *templates;   /* the templates' directory */
};

/*
 * Opens the database (creating its schema), loads the templates and prepares passwords (one
 * hash, at the configured cost). pool runs the blocking work. NULL with one line in err.
 */
struct app *app_new(const struct app_options *o, struct pool *pool, char *err, size_t errlen);

/* What -T checks without opening the database: the templates load and the password costs are
 * within libsodium's bounds. 0, or -1 with one line in err. */
int app_check(const struct app_options *o, char *err, size_t errlen);

/* Adds the application's routes to r (the app outlives r). 0, or -E2BIG (table full). */
int app_routes(struct app *app, struct http_routes *r);

/*
 * A reload: templates from dir (NULL: unchanged) and a new session lifetime. Requests that
 * start after it use them. 0, or -1 with one line in err (the old ones stay). Main thread.
 */
int app_reload(struct app *app, const char *dir, uint64_t session_ttl_ms, char *err, size_t errlen);

struct stats;

/* Registers the application's counters (tinyweb_app_*, tinyweb_worker_queue_jobs) in s, for
 * /status and /metrics. Before the loops run. 0 or -ENOMEM. */
int app_register_stats(struct app *app, struct stats *s);

/* Frees the app. The pool must be stopped and every port closed first. */
void app_free(struct app *app);

#endif
