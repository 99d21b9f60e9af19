/*
 * The application. See app.h.
 *
 * Every request of the application becomes a job: what the handler read from the request
 * (the form's fields, the session token's hash, the client's address), then what answering
 * decided (status, page, redirect, cookie). compute() makes that decision; it runs on the loop
 * when it can without blocking (a form page, a cached session), otherwise on a worker, and the
 * answer is sent from the loop in both cases (answer_job). The job owns copies of everything it
 * needs: a worker never touches the connection, and a connection that closes meanwhile only
 * leaves the job's wait cleared (http_resume then does nothing but free it).
 */
#include "app.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "app/auth.h"
#include "app/cookie.h"
#include "app/db.h"
#include "app/form.h"
#include "app/page.h"
#include "app/session.h"
#include "app/throttle.h"
#include "core/counter.h"
#include "core/defs.h"
#include "core/stats.h"

/* The session cookie's name. */
#define COOKIE_NAME "session"
/* The longest password accepted, in bytes (Argon2 takes any length; a bound keeps jobs small). */
#define PASSWORD_MAX 1024
/* The longest user name, in characters (code points), and in bytes. */
#define NAME_CHARS_MAX 50
/* The longest form body: both fields at their longest, every byte percent-encoded, and room
 * for fields a page adds. A body is held in memory while it arrives: a form needs no more. */
#define FORM_BODY_MAX 16384
/* Sessions the process keeps in memory. */
#define SESSION_CACHE_SIZE 16384
/* Keys the login throttle tracks: client addresses and user names together. */
#define THROTTLE_KEYS 16384
/* The first refusal after the free failures lasts this long, then doubles up to the maximum. */
#define THROTTLE_BASE_MS 1000
#define THROTTLE_MAX_MS  (15 * 60 * 1000)
/* Expired sessions are deleted at most this often (by a login's worker). */
#define PURGE_EVERY_S 60

/* What a request of the application asks for. */
enum act {
    ACT_LANDING,
    ACT_REGISTER_FORM,
    ACT_LOGIN_FORM,
    ACT_REGISTER,
    ACT_LOGIN,
    ACT_LOGOUT,
    ACT_PAGE, /* a page that needs a session */
};

struct app_route {
    const char *path;
    uint32_t methods;
    enum act act;
    enum page_id page; /* ACT_PAGE */
};

#define READ HTTP_METHODS_READ
#define POST HTTP_METHOD_BIT(HTTP_POST)

static const struct app_route app_table[] = {
    {"/", READ, ACT_LANDING, 0},
    {"/register", READ, ACT_REGISTER_FORM, 0},
    {"/register", POST, ACT_REGISTER, 0},
    {"/login", READ, ACT_LOGIN_FORM, 0},
    {"/login", POST, ACT_LOGIN, 0},
    {"/logout", POST, ACT_LOGOUT, 0},
    {"/welcome", READ | POST, ACT_PAGE, PAGE_WELCOME},
    {"/picture", READ | POST, ACT_PAGE, PAGE_PICTURE},
    {"/video", READ | POST, ACT_PAGE, PAGE_VIDEO},
    {"/fans", READ | POST, ACT_PAGE, PAGE_FANS},
    /* TinyWebServer's routes: its buttons are POST forms. */
    {"/0", READ | POST, ACT_REGISTER_FORM, 0},
    {"/1", READ | POST, ACT_LOGIN_FORM, 0},
    {"/2CGISQL.cgi", READ, ACT_LOGIN_FORM, 0},
    {"/2CGISQL.cgi", POST, ACT_LOGIN, 0},
    {"/3CGISQL.cgi", READ, ACT_REGISTER_FORM, 0},
    {"/3CGISQL.cgi", POST, ACT_REGISTER, 0},
    {"/5", READ | POST, ACT_PAGE, PAGE_PICTURE},
    {"/6", READ | POST, ACT_PAGE, PAGE_VIDEO},
    {"/7", READ | POST, ACT_PAGE, PAGE_FANS},
};

#define NROUTES (sizeof(app_table) / sizeof(app_table[0]))

/* A route's handler context. */
struct route_ctx {
    struct app *app;
    const struct app_route *route;
};

/* Template sets replaced by reloads: kept until the app is freed (a job in flight may render
 * with the one it started with). A few KiB each. */
struct page_sets {
    struct page_set *set;
    struct page_sets *older;
};

/* What the application did: process-wide, written by the loops and the workers alike (an
 * atomic add each), read by /status and /metrics. */
struct app_stats {
    counter_t registered, name_taken;
    counter_t logins_ok, logins_failed, logins_throttled;
    counter_t forgery_refused;
    counter_t sessions_memory, sessions_database; /* where a session page found its session */
    counter_t unavailable;                        /* 503: queue full, database failed */
};

static void bump(counter_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

struct app {
    struct app_stats stats;
    struct db *db;
    struct pool *pool;
    struct session_cache *sessions;
    struct throttle *throttle; /* NULL: off */
    struct auth_params pw;
    bool on_workers;
    _Atomic(struct page_set *) pages;
    struct page_sets *retired;
    _Atomic uint64_t session_ttl_ms;
    _Atomic int64_t purged_unix;    /* when expired sessions were last deleted */
    _Atomic uint64_t shed_unlogged; /* 503s for a full queue since the last line about them */
    _Atomic int64_t shed_logged;    /* the second of that line */
    struct route_ctx routes[NROUTES];
};

/* One request's work and its answer. */
struct app_job {
    struct pool_job pj;
    struct http_wait wait;
    struct app *app;
    struct page_set *pages;
    enum act act;
    enum page_id page;
    uint64_t now_ms; /* the loop's clock when the request came */
    bool registered; /* the login form after a registration (?registered) */
    bool has_token;
    bool secure; /* over TLS: the cookie gets Secure */
    uint8_t token_hash[32];
    char user[DB_NAME_MAX + 1];
    char password[PASSWORD_MAX + 1];
    size_t password_len;
    char client_key[2 + INET6_ADDRSTRLEN]; /* "a:" and the address: the throttle's key */

    /* The answer. */
    int status;
    enum page_id show; /* the page to render, when no location */
    const char *title; /* {{title}}, {{message}}: static text */
    const char *message;
    const char *location; /* a 303's target */
    const char *why;      /* an error-log line */
    bool shed;            /* why is load shedding, as designed: a warning */
    char why_text[64 + DB_ERROR_TEXT_MAX];
    unsigned retry_after;       /* s; 0: none */
    char name[DB_NAME_MAX + 1]; /* {{user}} */
    char cookie[160];           /* a Set-Cookie value, or "" */
    char *out;                  /* the page rendered on a worker (-a 1), or NULL */
    size_t out_len;
};

/* compute() needs the worker pool for the rest. */
#define NEEDS_POOL 1

/* ---- Answers ---- */

static void answer_page(struct app_job *j, int status, enum page_id page, const char *title,
                        const char *message)
{
    j->status = status;
    j->show = page;
    j->title = title;
    j->message = message;
}

static void answer_redirect(struct app_job *j, const char *location)
{
    j->status = 303;
    j->location = location;
}

static void answer_unavailable(struct app_job *j, const char *why)
{
    answer_page(j, 503, PAGE_ERROR, "Try again shortly",
                "The server is busy or its database is unavailable. Please try again.");
    j->retry_after = 1;
    j->why = why;
    bump(&j->app->stats.unavailable);
}

/* 503 for a failed database operation: what failed, and the database's cause, in the error log. */
static void answer_db_failed(struct app_job *j, const char *what)
{
    answer_unavailable(j, NULL);
    snprintf(j->why_text, sizeof(j->why_text), "%s: database error: %s", what, db_error_text());
    j->why = j->why_text;
}

static void set_session_cookie(struct app_job *j, const char *token, uint64_t ttl_s)
{
    snprintf(j->cookie, sizeof(j->cookie),
             COOKIE_NAME "=%s; Path=/; Max-Age=%llu; HttpOnly; SameSite=Lax%s", token,
             (unsigned long long)ttl_s, j->secure ? "; Secure" : "");
}

static void clear_session_cookie(struct app_job *j)
{
    snprintf(j->cookie, sizeof(j->cookie),
             COOKIE_NAME "=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax%s",
             j->secure ? "; Secure" : "");
}

/* ---- The work ---- */

static void do_register(struct app_job *j)
{
    char hash[AUTH_HASH_MAX];
    if (auth_hash(&j->app->pw, j->password, j->password_len, hash) != 0) {
        answer_unavailable(j, "password hashing failed: out of memory");
        return;
    }
    int64_t id;
    int rc = db_user_create(j->app->db, j->user, hash, &id);
    sodium_memzero(hash, sizeof(hash));
    if (rc == 0)
        bump(&j->app->stats.registered);
    else if (rc == DB_EXISTS)
        bump(&j->app->stats.name_taken);
    if (rc == 0)
        answer_redirect(j, "/login?registered");
    else if (rc == DB_EXISTS)
        answer_page(j, 409, PAGE_REGISTER, "Name taken",
                    "That user name is taken: please choose another.");
    else
        answer_db_failed(j, "registration failed");
}

static void purge_sessions(struct app *app, int64_t now)
{
    int64_t last = atomic_load(&app->purged_unix);
    if (now - last < PURGE_EVERY_S ||
        !atomic_compare_exchange_strong(&app->purged_unix, &last, now))
        return;
    db_session_purge(app->db, now);
}

static uint64_t throttled(struct app_job *j);
static void answer_throttled(struct app_job *j, uint64_t wait);

static void do_login(struct app_job *j)
{
    struct app *app = j->app;
    /* Again, now that the failures of the attempts queued before this one are counted: a burst
     * of attempts that all passed the loop's check gets at most one per worker past the limit. */
    uint64_t wait = throttled(j);
    if (wait) {
        answer_throttled(j, wait);
        return;
    }
    struct db_user u;
    int rc = db_user_find(app->db, j->user, &u);
    if (rc != 0 && rc != DB_NOTFOUND) {
        answer_db_failed(j, "login failed");
        return;
    }
    /* An unknown user costs the same hash as a known one with a wrong password. */
    bool ok = auth_verify(rc == 0 ? u.hash : NULL, j->password, j->password_len) == 0;
    if (ok && auth_needs_rehash(&app->pw, u.hash)) {
        /* Made with older costs: re-hashed at the current ones, once, so that every account's
         * check comes to cost what an unknown name's does. A failure leaves the old hash. */
        char hash[AUTH_HASH_MAX];
        if (auth_hash(&app->pw, j->password, j->password_len, hash) == 0)
            db_user_set_hash(app->db, u.id, hash);
        sodium_memzero(hash, sizeof(hash));
    }
    sodium_memzero(u.hash, sizeof(u.hash));
    if (!ok) {
        bump(&app->stats.logins_failed);
        if (app->throttle) {
            char ukey[2 + DB_NAME_MAX + 1];
            int n = snprintf(ukey, sizeof(ukey), "u:%s", j->user);
            throttle_fail(app->throttle, ukey, (size_t)n, j->now_ms);
            throttle_fail(app->throttle, j->client_key, strlen(j->client_key), j->now_ms);
        }
        answer_page(j, 403, PAGE_LOGIN, "Wrong name or password",
                    "Wrong user name or password: please try again.");
        return;
    }
    if (app->throttle) {
        char ukey[2 + DB_NAME_MAX + 1];
        int n = snprintf(ukey, sizeof(ukey), "u:%s", j->user);
        throttle_forget(app->throttle, ukey, (size_t)n);
    }
    int64_t now = (int64_t)time(NULL);
    /* The session ends ttl after now, rounded up to the second the database keeps: it may last
     * up to a second longer, never shorter (the cookie's Max-Age rounds up too). */
    uint64_t ttl_ms = atomic_load(&app->session_ttl_ms);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    uint64_t wall_ms = (uint64_t)wall.tv_sec * 1000 + (uint64_t)wall.tv_nsec / 1000000;
    uint64_t ttl_s = (ttl_ms + 999) / 1000;
    char token[AUTH_TOKEN_SIZE];
    struct db_session s = {.user_id = u.id, .expires = (int64_t)((wall_ms + ttl_ms + 999) / 1000)};
    snprintf(s.name, sizeof(s.name), "%s", u.name);
    auth_token_new(token);
    auth_token_hash(token, AUTH_TOKEN_LEN, j->token_hash);
    if (db_session_create(app->db, j->token_hash, u.id, s.expires) != 0) {
        sodium_memzero(token, sizeof(token));
        answer_db_failed(j, "login failed");
        return;
    }
    session_cache_put(app->sessions, j->token_hash, &s, j->now_ms);
    bump(&app->stats.logins_ok);
    set_session_cookie(j, token, ttl_s);
    sodium_memzero(token, sizeof(token));
    answer_redirect(j, "/welcome");
    purge_sessions(app, now);
}

/* A page behind the login: the session from the cache, or from the database when allowed. */
static int do_page(struct app_job *j, bool may_block)
{
    struct app *app = j->app;
    if (!j->has_token) {
        answer_redirect(j, "/login");
        return 0;
    }
    int64_t now = (int64_t)time(NULL);
    struct db_session s;
    if (session_cache_get(app->sessions, j->token_hash, j->now_ms, now, &s) != 0) {
        if (!may_block)
            return NEEDS_POOL;
        int rc = db_session_find(app->db, j->token_hash, now, &s);
        if (rc == DB_NOTFOUND) {
            session_cache_drop(app->sessions, j->token_hash, j->now_ms);
            clear_session_cookie(j);
            answer_redirect(j, "/login");
            return 0;
        }
        if (rc != 0) {
            answer_db_failed(j, "session lookup failed");
            return 0;
        }
        session_cache_put(app->sessions, j->token_hash, &s, j->now_ms);
        bump(&app->stats.sessions_database);
    } else {
        bump(&app->stats.sessions_memory);
    }
    snprintf(j->name, sizeof(j->name), "%s", s.name);
    answer_page(j, 200, j->page, NULL, NULL);
    return 0;
}

/* Decides the answer of j: 0, or NEEDS_POOL when that would block and may_block is false. */
static int compute(struct app_job *j, bool may_block)
{
    switch (j->act) {
    case ACT_LANDING:
        answer_page(j, 200, PAGE_LANDING, NULL, NULL);
        return 0;
    case ACT_REGISTER_FORM:
        answer_page(j, 200, PAGE_REGISTER, NULL, NULL);
        return 0;
    case ACT_LOGIN_FORM:
        answer_page(j, 200, PAGE_LOGIN, NULL,
                    j->registered ? "Your account is ready: log in." : NULL);
        return 0;
    case ACT_PAGE:
        return do_page(j, may_block);
    case ACT_REGISTER:
    case ACT_LOGIN:
    case ACT_LOGOUT:
        if (!may_block)
            return NEEDS_POOL;
        if (j->act == ACT_REGISTER) {
            do_register(j);
        } else if (j->act == ACT_LOGIN) {
            do_login(j);
        } else {
            if (j->has_token && db_session_delete(j->app->db, j->token_hash) == DB_ERROR) {
                answer_db_failed(j, "logout failed");
                return 0;
            }
            clear_session_cookie(j);
            answer_redirect(j, "/login");
        }
        return 0;
    }
    return 0;
}

/* The values j's page shows. */
static struct page_vars vars_of(const struct app_job *j)
{
    return (struct page_vars){
        .user = j->name[0] ? j->name : j->user,
        .message = j->message ? j->message : "",
        .title = j->title ? j->title : "",
    };
}

/* Renders j's page into out (cap bytes). The length, or 0. */
static size_t render(const struct app_job *j, char *out, size_t cap)
{
    struct page_vars v = vars_of(j);
    return page_render(j->pages, j->show, &v, out, cap);
}

static size_t render_bound(const struct app_job *j)
{
    struct page_vars v = vars_of(j);
    return page_render_bound(j->pages, j->show, &v);
}

/* Sends j's answer on x. */
static int send_answer(struct http_exchange *x, struct app_job *j)
{
    char headers[384];
    int n = snprintf(headers, sizeof(headers), "Cache-Control: no-store\r\n");
    if (j->location)
        n += snprintf(headers + n, sizeof(headers) - (size_t)n, "Location: %s\r\n", j->location);
    if (j->cookie[0])
        n += snprintf(headers + n, sizeof(headers) - (size_t)n, "Set-Cookie: %s\r\n", j->cookie);
    if (j->retry_after)
        snprintf(headers + n, sizeof(headers) - (size_t)n, "Retry-After: %u\r\n", j->retry_after);
    struct http_reply r = {
        .status = j->status,
        .headers = headers,
        .why = j->why,
        .shed = j->shed,
    };
    if (j->location)
        return http_reply_send(x, &r);
    r.content_type = "text/html; charset=utf-8";
    if (j->out) {
        r.body = j->out;
        r.body_len = j->out_len;
        return http_reply_send(x, &r);
    }
    /* Most pages fit on the stack; a large template gets the heap. */
    char small[16384];
    size_t cap = render_bound(j);
    char *buf = cap <= sizeof(small) ? small : malloc(cap);
    if (!buf)
        return http_reply_error(x, 503, "out of memory rendering a page");
    r.body = buf;
    r.body_len = render(j, buf, cap);
    int rc = r.body_len ? http_reply_send(x, &r) : http_reply_error(x, 500, "page too large");
    if (buf != small)
        free(buf);
    return rc;
}

static void job_free(struct app_job *j)
{
    free(j->out);
    sodium_memzero(j->password, sizeof(j->password));
    free(j);
}

/* On a worker. */
static void job_work(struct pool_job *pj)
{
    struct app_job *j = container_of(pj, struct app_job, pj);
    compute(j, true);
    if (j->app->on_workers && !j->location) {
        size_t cap = render_bound(j);
        j->out = malloc(cap);
        if (j->out)
            j->out_len = render(j, j->out, cap);
    }
    sodium_memzero(j->password, sizeof(j->password));
}

static int answer_job(struct http_exchange *x, const struct http_request *req, void *ctx)
{
    struct app_job *j = ctx;
    (void)req;
    if (!j->pj.ran)
        answer_unavailable(j, "the worker pool stopped before the request ran");
    return send_answer(x, j);
}

/* Back on the loop. */
static void job_done(struct pool_job *pj)
{
    struct app_job *j = container_of(pj, struct app_job, pj);
    http_resume(&j->wait, answer_job, j);
    job_free(j);
}

/* ---- The handler ---- */

/* The authority of an Origin or Referer value ("https://host:port/..."), or len 0. */
static struct http_str authority_of(struct http_str v)
{
    const char *p = v.p, *end = v.p + v.len;
    const char *s = memchr(p, ':', v.len);
    if (!s || end - s < 3 || memcmp(s, "://", 3) != 0)
        return (struct http_str){NULL, 0};
    p = s + 3;
    const char *q = p;
    while (q < end && *q != '/' && *q != '?' && *q != '#')
        q++;
    return (struct http_str){p, (size_t)(q - p)};
}

/*
 * A POST from another site (cross-site request forgery): its Origin, or failing one its Referer,
 * names another host than the request's. Browsers send Origin with every form POST; a client
 * that sends neither is not a browser acting for someone else.
 */
static bool cross_site(const struct http_request *req)
{
    struct http_str from = http_request_field(req, "Origin");
    if (!from.p)
        from = http_request_field(req, "Referer");
    if (!from.p)
        return false;
    struct http_str a = authority_of(from);
    return a.len == 0 || a.len != req->host.len || strncasecmp(a.p, req->host.p, a.len) != 0;
}

/* The code point at p (valid UTF-8, as the form decoder checked), and its length in *n. */
static uint32_t utf8_next(const unsigned char *p, size_t *n)
{
    if (p[0] < 0x80) {
        *n = 1;
        return p[0];
    }
    if (p[0] < 0xe0) {
        *n = 2;
        return (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
    }
    if (p[0] < 0xf0) {
        *n = 3;
        return (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
    }
    *n = 4;
    return (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
           (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
}

/* Blanks: a name neither starts nor ends with one. */
static bool is_blank(uint32_t c)
{
    return c == ' ' || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

/* Characters that do not show, or change how what follows shows: controls (C0, DEL, C1),
 * format and bidirectional controls, line separators, tags, noncharacters. A name holding one
 * could pass for another ("alice" and "alice" with a zero-width space). */
static bool is_invisible(uint32_t c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0xad || c == 0x34f || c == 0x61c ||
           c == 0x115f || c == 0x1160 || c == 0x180e || (c >= 0x200b && c <= 0x200f) ||
           (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x206f) || c == 0x3164 ||
           (c >= 0xfdd0 && c <= 0xfdef) || c == 0xfeff || c == 0xffa0 ||
           (c >= 0xfff0 && c <= 0xfffb) || (c & 0xfffe) == 0xfffe || (c >= 0xe0000 && c <= 0xe0fff);
}

/* A user name: printable UTF-8, without blanks at either end. Its length in characters in
 * *chars. */
static bool name_ok(const char *name, size_t len, size_t *chars)
{
    const unsigned char *p = (const unsigned char *)name, *end = p + len;
    uint32_t c = 0;
    *chars = 0;
    for (size_t n; p < end; p += n) {
        c = utf8_next(p, &n);
        if (is_invisible(c) || (*chars == 0 && is_blank(c)))
            return false;
        (*chars)++;
    }
    return !is_blank(c);
}

/*
 * The session cookie among every Cookie line of req: 1 (in *v), 0 when there is none, -1 when
 * there are two or more. Two are not a choice to make: a cookie set for this host by a sibling
 * domain (cookie tossing) could come first, so the request counts as having no session.
 */
static int session_cookie(const struct http_request *req, const char **v, size_t *vlen)
{
    int found = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct http_header *h = &req->headers[i];
        if (h->name.len != 6 || strncasecmp(h->name.p, "Cookie", 6) != 0)
            continue;
        const char *p = h->value.p, *end = h->value.p + h->value.len, *val;
        size_t len;
        while (p < end && cookie_find(p, (size_t)(end - p), COOKIE_NAME, &val, &len) == 1) {
            if (found++)
                return -1;
            *v = val;
            *vlen = len;
            p = val + len;
        }
    }
    return found;
}

/* The session token of the request's cookie, hashed: false when there is none of the right
 * shape (then nothing is looked up). */
static bool read_token(const struct http_request *req, uint8_t hash[32])
{
    const char *v = NULL;
    size_t vlen = 0;
    if (session_cookie(req, &v, &vlen) != 1 || vlen != AUTH_TOKEN_LEN)
        return false;
    for (size_t i = 0; i < vlen; i++) {
        unsigned char ch = (unsigned char)v[i];
        bool b64url = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
        if (!b64url)
            return false;
    }
    auth_token_hash(v, vlen, hash);
    return true;
}

/* Answers j now (on the loop) and frees it. */
static int answer_now(struct http_exchange *x, struct app_job *j)
{
    int rc = send_answer(x, j);
    job_free(j);
    return rc;
}

/* Reads the register or login form into j. 0, or an answer (400, 415) was set. */
static int read_form(struct app_job *j, const struct http_request *req)
{
    enum page_id form = j->act == ACT_REGISTER ? PAGE_REGISTER : PAGE_LOGIN;
    struct http_str type = http_request_field(req, "Content-Type");
    static const char urlenc[] = "application/x-www-form-urlencoded";
    size_t ulen = sizeof(urlenc) - 1;
    if (!type.p || type.len < ulen || strncasecmp(type.p, urlenc, ulen) != 0 ||
        (type.len > ulen && type.p[ulen] != ';' && type.p[ulen] != ' ')) {
        answer_page(j, 415, form, "Unsupported form",
                    "The form must be sent as application/x-www-form-urlencoded.");
        return -1;
    }
    struct form_field f[2] = {
        {.name = "user", .out = j->user, .cap = sizeof(j->user)},
        {.name = "password", .out = j->password, .cap = sizeof(j->password)},
    };
    int rc = form_decode(req->body ? req->body : "", req->body_len, f, 2);
    if (rc == FORM_ETOOLONG) {
        answer_page(j, 400, form, "Too long",
                    "User names have 1 to 50 characters, passwords at most 1024 bytes.");
        return -1;
    }
    if (rc != 0) {
        answer_page(j, 400, form, "Unreadable form", form_strerror(rc));
        return -1;
    }
    j->password_len = f[1].len;
    size_t chars;
    if (!f[0].seen || !f[1].seen || f[0].len == 0 || f[1].len == 0) {
        answer_page(j, 400, form, "Missing field", "Fill in both the user name and the password.");
        return -1;
    }
    if (!name_ok(j->user, f[0].len, &chars)) {
        answer_page(j, 400, form, "Unusable name",
                    "User names are printable characters, without spaces at either end.");
        return -1;
    }
    if (chars > NAME_CHARS_MAX) {
        answer_page(j, 400, form, "Too long", "User names have 1 to 50 characters.");
        return -1;
    }
    return 0;
}

/* The client's address as the throttle's key: an IPv4 address (also mapped into IPv6), or an
 * IPv6 /64, what one subscriber is usually given whole (keying /128s would give each of them
 * 2^64 fresh keys). */
static void client_key(struct http_exchange *x, char *out, size_t cap)
{
    const struct sockaddr *sa = http_exchange_peer(x);
    char text[INET6_ADDRSTRLEN] = "-";
    if (sa->sa_family == AF_INET6) {
        struct in6_addr a = ((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&a)) {
            inet_ntop(AF_INET, &a.s6_addr[12], text, sizeof(text));
        } else {
            memset(&a.s6_addr[8], 0, 8);
            inet_ntop(AF_INET6, &a, text, sizeof(text));
        }
    } else {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, text, sizeof(text));
    }
    snprintf(out, cap, "a:%s", text);
}

static void answer_throttled(struct app_job *j, uint64_t wait)
{
    answer_page(j, 429, PAGE_LOGIN, "Too many attempts",
                "Too many failed logins: wait a little, then try again.");
    j->retry_after = (unsigned)((wait + 999) / 1000);
    bump(&j->app->stats.logins_throttled);
}

/* A login refused for now: the longer of the address's and the name's waits, or 0. */
static uint64_t throttled(struct app_job *j)
{
    struct throttle *t = j->app->throttle;
    if (!t)
        return 0;
    char ukey[2 + DB_NAME_MAX + 1];
    int n = snprintf(ukey, sizeof(ukey), "u:%s", j->user);
    uint64_t a = throttle_wait(t, j->client_key, strlen(j->client_key), j->now_ms);
    uint64_t u = throttle_wait(t, ukey, (size_t)n, j->now_ms);
    return a > u ? a : u;
}

/* A 503 of load shedding: one warning a second at most, with the count, so that a flood of
 * requests cannot flood the log. */
static void shed_line(struct app_job *j, const char *what)
{
    struct app *app = j->app;
    uint64_t n = atomic_fetch_add(&app->shed_unlogged, 1) + 1;
    int64_t now = (int64_t)time(NULL), last = atomic_load(&app->shed_logged);
    if (now == last || !atomic_compare_exchange_strong(&app->shed_logged, &last, now))
        return;
    atomic_fetch_sub(&app->shed_unlogged, n);
    snprintf(j->why_text, sizeof(j->why_text), "%s: %llu request(s) answered 503", what,
             (unsigned long long)n);
    j->why = j->why_text;
    j->shed = true;
}

static int handle(struct http_exchange *x, const struct http_request *req, void *ctx)
{
    const struct route_ctx *rc = ctx;
    struct app *app = rc->app;
    struct app_job *j = calloc(1, sizeof(*j));
    if (!j)
        return http_reply_error(x, 503, "out of memory");
    j->app = app;
    j->pages = atomic_load(&app->pages);
    j->act = rc->route->act;
    j->page = rc->route->page;
    j->now_ms = http_exchange_now(x);
    j->secure = http_exchange_secure(x);
    j->has_token = read_token(req, j->token_hash);
    j->registered = req->query.len == 10 && memcmp(req->query.p, "registered", 10) == 0;
    /* The throttle's key: only a login needs it (an inet_ntop the other pages are spared). */
    if (j->act == ACT_LOGIN)
        client_key(x, j->client_key, sizeof(j->client_key));

    if (req->method == HTTP_POST && cross_site(req)) {
        answer_page(j, 403, PAGE_ERROR, "Refused",
                    "This form was sent from another site: it was refused.");
        j->why = "cross-site POST refused (Origin or Referer of another host)";
        bump(&app->stats.forgery_refused);
        return answer_now(x, j);
    }
    if (j->act == ACT_REGISTER || j->act == ACT_LOGIN) {
        if (read_form(j, req) != 0)
            return answer_now(x, j);
        uint64_t wait = j->act == ACT_LOGIN ? throttled(j) : 0;
        if (wait) {
            answer_throttled(j, wait);
            return answer_now(x, j);
        }
    }
    if (j->act == ACT_LOGOUT && j->has_token) {
        /* At once, for every loop of the process; the database follows on a worker. */
        session_cache_drop(app->sessions, j->token_hash, j->now_ms);
    }
    if (!app->on_workers && compute(j, false) == 0)
        return answer_now(x, j);

    j->pj.work = job_work;
    j->pj.done = job_done;
    struct pool_port *port = http_exchange_port(x);
    int err = port ? pool_submit(app->pool, port, &j->pj) : -ESHUTDOWN;
    if (err != 0) {
        answer_unavailable(j, NULL);
        shed_line(j, err == -EAGAIN ? "the worker pool's queue is full (--worker-queue)"
                                    : "the worker pool is stopping");
        return answer_now(x, j);
    }
    /* The job comes back to this loop, after this returns: suspending now is in time. If it
     * fails, the job finds the exchange over and is freed. */
    if (http_suspend(x, &j->wait) != 0)
        return http_reply_error(x, 500, "could not suspend the request");
    return 0;
}

/* ---- Life ---- */

#define APP_STAT(member, name, value, help)                                                        \
    STAT_LABELED(struct app, stats.member, name, STAT_COUNTER, help, value ? "result" : NULL, value)

static uint64_t read_queued(const void *block)
{
    return pool_queued(((const struct app *)block)->pool);
}

static const struct stat_desc app_stat_descs[] = {
    APP_STAT(registered, "tinyweb_app_registrations_total", "ok",
             "Registrations, by result: ok, or the name was taken."),
    APP_STAT(name_taken, "tinyweb_app_registrations_total", "taken",
             "Registrations, by result: ok, or the name was taken."),
    APP_STAT(logins_ok, "tinyweb_app_logins_total", "ok",
             "Logins, by result: ok, failed (wrong name or password), throttled (429)."),
    APP_STAT(logins_failed, "tinyweb_app_logins_total", "failed",
             "Logins, by result: ok, failed (wrong name or password), throttled (429)."),
    APP_STAT(logins_throttled, "tinyweb_app_logins_total", "throttled",
             "Logins, by result: ok, failed (wrong name or password), throttled (429)."),
    STAT_FIELD(struct app, stats.forgery_refused, "tinyweb_app_forgery_refused_total", STAT_COUNTER,
               "POSTs refused because their Origin or Referer is another site."),
    STAT_LABELED(struct app, stats.sessions_memory, "tinyweb_app_session_lookups_total",
                 STAT_COUNTER, "Sessions of the pages behind the login, by where they were found.",
                 "source", "memory"),
    STAT_LABELED(struct app, stats.sessions_database, "tinyweb_app_session_lookups_total",
                 STAT_COUNTER, "Sessions of the pages behind the login, by where they were found.",
                 "source", "database"),
    STAT_FIELD(struct app, stats.unavailable, "tinyweb_app_unavailable_total", STAT_COUNTER,
               "Answers 503: the worker queue was full or the database failed."),
    {.name = "tinyweb_worker_queue_jobs",
     .help = "Jobs waiting for a worker of the pool.",
     .type = STAT_GAUGE,
     .read = read_queued},
};

int app_register_stats(struct app *app, struct stats *s)
{
    const void *block = app;
    return stats_register(s, app_stat_descs, sizeof(app_stat_descs) / sizeof(app_stat_descs[0]),
                          &block, false);
}

int app_routes(struct app *app, struct http_routes *r)
{
    for (size_t i = 0; i < NROUTES; i++) {
        const struct app_route *rt = &app_table[i];
        int rc = http_routes_add(r, rt->path, false, rt->methods, handle, &app->routes[i]);
        if (rc != 0)
            return rc;
        if (rt->methods & POST)
            http_routes_set_flags(r, HTTP_ROUTE_BODY, FORM_BODY_MAX);
    }
    return 0;
}

int app_reload(struct app *app, const char *dir, uint64_t session_ttl_ms, char *err, size_t errlen)
{
    if (dir) {
        struct page_sets *keep = malloc(sizeof(*keep));
        struct page_set *ps = keep ? page_set_load(dir, err, errlen) : NULL;
        if (!ps) {
            if (!keep)
                snprintf(err, errlen, "out of memory");
            free(keep);
            return -1;
        }
        keep->set = atomic_exchange(&app->pages, ps);
        keep->older = app->retired;
        app->retired = keep;
    }
    atomic_store(&app->session_ttl_ms, session_ttl_ms);
    return 0;
}

int app_check(const struct app_options *o, char *err, size_t errlen)
{
    struct auth_params pw = {.ops = o->pwhash_ops, .mem = o->pwhash_mem};
    struct page_set *ps = page_set_load(o->templates, err, errlen);
    if (!ps)
        return -1;
    page_set_free(ps);
    return auth_params_check(&pw, err, errlen) == 0 ? 0 : -1;
}

struct app *app_new(const struct app_options *o, struct pool *pool, char *err, size_t errlen)
{
    struct app *app = calloc(1, sizeof(*app));
    if (!app) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    app->pool = pool;
    app->on_workers = o->on_workers;
    app->pw = (struct auth_params){.ops = o->pwhash_ops, .mem = o->pwhash_mem};
    atomic_store(&app->session_ttl_ms, o->session_ttl_ms);
    for (size_t i = 0; i < NROUTES; i++)
        app->routes[i] = (struct route_ctx){app, &app_table[i]};
    struct page_set *ps = page_set_load(o->templates, err, errlen);
    if (!ps)
        goto fail;
    atomic_store(&app->pages, ps);
    if (auth_params_check(&app->pw, err, errlen) != 0)
        goto fail;
    if (auth_init(&app->pw) != 0) {
        snprintf(err, errlen, "libsodium could not start (entropy source, or memory)");
        goto fail;
    }
    app->sessions = session_cache_new(SESSION_CACHE_SIZE);
    if (o->login_failures)
        app->throttle =
            /* The N-th failure sets the first block: the next attempt is refused. */
            throttle_new(THROTTLE_KEYS, o->login_failures - 1, THROTTLE_BASE_MS, THROTTLE_MAX_MS);
    if (!app->sessions || (o->login_failures && !app->throttle)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    app->db = db_open(o->db_url, o->db_connections, err, errlen);
    if (!app->db)
        goto fail;
    return app;
fail:
    app_free(app);
    return NULL;
}

void app_free(struct app *app)
{
    if (!app)
        return;
    db_close(app->db);
    session_cache_free(app->sessions);
    throttle_free(app->throttle);
    page_set_free(atomic_load(&app->pages));
    while (app->retired) {
        struct page_sets *next = app->retired->older;
        page_set_free(app->retired->set);
        free(app->retired);
        app->retired = next;
    }
    free(app);
}
