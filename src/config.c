/*
 * The options table and everything it drives. See config.h.
 *
 * Each option is one row: its names, the text of --help and of the example file, its default as
 * written in the file, how its value is parsed and where it is stored, and whether a reload may
 * change it. Adding an option is adding a row (and the field it fills).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/tick.h"
#include "core/units.h"
#include "http/http_encoding.h"
#include "net/tls.h"

/* What --compress compresses by default: text (JavaScript and XML are text/ here, as in
 * mime.c), JSON, web manifests, WebAssembly and SVG. */
#define COMPRESS_TYPES_DEFAULT                                                                     \
    "text/*,application/json,application/manifest+json,application/wasm,image/svg+xml"

#define DAY_MS         (24u * 3600 * 1000)
#define LINE_MAX_BYTES 4096
#define HELP_COLUMN    29
#define HELP_WIDTH     99

/* How a value is parsed, and into what. */
enum kind {
    K_FLAG,     /* 0 or 1, into a bool */
    K_ONOFF,    /* on or off, into a bool */
    K_UINT,     /* a decimal integer in [min, max], into a uint64_t */
    K_SIZE,     /* "64k", in [min, max], into a uint64_t */
    K_DURATION, /* "15s", from min ms to 24h, into a uint64_t of ms */
    K_STRING,   /* any text, into a const char * */
    K_CUSTOM,   /* parse() does it */
    K_ACTION,   /* command line only: no value stored (-f, -T, -h, -V) */
};

/* Row flags. */
enum {
    F_RELOAD = 1,  /* a reload may change it */
    F_CMDLINE = 2, /* the command line only: not a setting of the file */
};

struct opt_def {
    const char *name; /* the long option and the file's key */
    int short_name;   /* 0: none */
    const char *arg;  /* the value's name in --help; NULL: takes no value */
    const char *help; /* one sentence, wrapped by --help */
    const char *def;  /* the default as the file would say it; NULL: none to show */
    uint8_t kind, flags;
    size_t off, size; /* the field in struct config (for K_CUSTOM: what reload compares) */
    uint64_t min, max;
    /* K_CUSTOM: 0, or -EINVAL with the expectation in why. */
    int (*parse)(struct config *cfg, const char *value, char *why, size_t whylen);
    const char *expect; /* K_STRING/K_UINT/...: what a bad value is told (NULL: generic) */
};

#define FIELD(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)

/* ---- Custom parsers ---- */

/* Parses a decimal integer in [min, max]. */
static int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_port_into(const char *s, char *out, size_t outlen)
{
    uint64_t port;
    if (parse_uint(s, 0, 65535, &port) != 0)
        return -EINVAL;
    snprintf(out, outlen, "%u", (unsigned)port);
    return 0;
}

static int set_port(struct config *cfg, const char *s, char *why, size_t len)
{
    if (parse_port_into(s, cfg->port, sizeof(cfg->port)) == 0)
        return 0;
    snprintf(why, len, "expected a port from 0 to 65535");
    return -EINVAL;
}

/* "0.0.0.0:80", "[::1]:8080", or a bare address (its port then comes from -p). */
static int parse_listen(const char *s, struct listen_addr *out)
{
    char host[64];
    const char *port = NULL;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || (size_t)(close - s - 1) >= sizeof(host))
            return -EINVAL;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        if (close[1] == ':')
            port = close + 2;
        else if (close[1] != '\0')
            return -EINVAL;
    } else {
        const char *colon = strrchr(s, ':');
        size_t n = colon ? (size_t)(colon - s) : strlen(s);
        if (n >= sizeof(host) || (colon && strchr(s, ':') != colon))
            return -EINVAL;
        memcpy(host, s, n);
        host[n] = '\0';
        port = colon ? colon + 1 : NULL;
    }
    unsigned char addr[16];
    if (inet_pton(AF_INET, host, addr) != 1 && inet_pton(AF_INET6, host, addr) != 1)
        return -EINVAL;
    out->port[0] = '\0';
    if (port && parse_port_into(port, out->port, sizeof(out->port)) != 0)
        return -EINVAL;
    snprintf(out->host, sizeof(out->host), "%s", host);
    return 0;
}

static int add_listen(struct config *cfg, const char *s, bool tls, char *why, size_t len)
{
    struct listen_addr a;
    if (parse_listen(s, &a) != 0) {
        snprintf(why, len,
                 "expected ADDR:PORT with a numeric address, e.g. 127.0.0.1:9006 or "
                 "[::1]:9006");
        return -EINVAL;
    }
    if (cfg->nlisten == CONFIG_LISTEN_MAX) {
        snprintf(why, len, "more than %d listen addresses", CONFIG_LISTEN_MAX);
        return -EINVAL;
    }
    a.tls = tls;
    cfg->listens[cfg->nlisten++] = a;
    return 0;
}

static int set_listen(struct config *cfg, const char *s, char *why, size_t len)
{
    return add_listen(cfg, s, false, why, len);
}

static int set_listen_tls(struct config *cfg, const char *s, char *why, size_t len)
{
    return add_listen(cfg, s, true, why, len);
}

/* "index.html,index.htm": names of files in the directory itself, tried in order. */
static int set_index(struct config *cfg, const char *s, char *why, size_t len)
{
    int n = 0;
    for (const char *p = s;; p++) {
        size_t name = strcspn(p, ",");
        bool dots = (name == 1 && p[0] == '.') || (name == 2 && p[0] == '.' && p[1] == '.');
        if (name == 0 || name > 255 || dots || memchr(p, '/', name) || ++n > 16) {
            snprintf(why, len,
                     "expected up to 16 file names separated by commas, e.g. "
                     "index.html,index.htm");
            return -EINVAL;
        }
        p += name;
        if (*p == '\0')
            break;
    }
    cfg->index = s;
    return 0;
}

static const char *keep(struct config *cfg, const char *s);

/* Whether s[0, n) is printable ASCII without the bytes that would end or split a header. */
static bool printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return true;
}

/* "404=/errors/404.html", "500,502,503=/50x.html": a page from the root for those statuses. */
static int set_error_page(struct config *cfg, const char *s, char *why, size_t len)
{
    const char *eq = strchr(s, '=');
    const char *path = eq ? eq + 1 : NULL;
    size_t plen = path ? strlen(path) : 0;
    bool ok = path && plen > 1 && path[0] == '/' && path[plen - 1] != '/' &&
              printable(path, plen) && !strpbrk(path, "%?#\\") && !strstr(path, "/../") &&
              !strstr(path, "/./") && strcmp(path + plen - (plen >= 3 ? 3 : plen), "/..") != 0;
    int codes[CONFIG_ERROR_PAGES_MAX], n = 0;
    for (const char *p = s; ok && p < eq;) {
        char *end;
        long code = strtol(p, &end, 10);
        if (end == p || code < 400 || code > 599 || n == CONFIG_ERROR_PAGES_MAX ||
            (*end != ',' && end != eq) || (*end == ',' && end + 1 == eq))
            ok = false;
        else
            codes[n++] = (int)code;
        p = *end == ',' ? end + 1 : end;
    }
    if (!ok || n == 0) {
        snprintf(why, len,
                 "expected STATUS[,STATUS...]=/PATH with statuses 400 to 599 and a path beneath "
                 "the root, e.g. 404=/errors/404.html");
        return -EINVAL;
    }
    for (int i = 0; i < n; i++) {
        int at = 0;
        while (at < cfg->nerror_pages && cfg->error_pages[at].status != codes[i])
            at++;
        if (at == CONFIG_ERROR_PAGES_MAX) {
            snprintf(why, len, "more than %d error pages", CONFIG_ERROR_PAGES_MAX);
            return -EINVAL;
        }
        cfg->error_pages[at] = (struct http_error_page){.status = codes[i], .path = path + 1};
        if (at == cfg->nerror_pages)
            cfg->nerror_pages++;
    }
    return 0;
}

/* The rule for type ("text/css", "image/" and a star, or a star) from "TYPE=VALUE", made if new;
 * *value points after the '='. NULL with why. */
static struct http_cache_rule *cache_rule(struct config *cfg, const char *s, const char **value,
                                          char *why, size_t len)
{
    const char *eq = strchr(s, '=');
    size_t tlen = eq ? (size_t)(eq - s) : 0;
    const char *slash = eq ? memchr(s, '/', tlen) : NULL;
    bool ok =
        eq && ((tlen == 1 && s[0] == '*') || (slash && slash > s && slash + 1 < eq &&
                                              !memchr(slash + 1, '/', (size_t)(eq - slash - 1))));
    for (size_t i = 0; ok && i < tlen; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
             (s[i] >= '0' && s[i] <= '9') || strchr("/*+-.", s[i]);
    if (!ok || (memchr(s, '*', tlen) && !(tlen == 1 || (eq[-1] == '*' && eq[-2] == '/')))) {
        snprintf(why, len,
                 "expected TYPE=VALUE with TYPE a media type (text/css), a family "
                 "(image/*) or *");
        return NULL;
    }
    *value = eq + 1;
    for (int i = 0; i < cfg->ncache_rules; i++)
        if (strlen(cfg->cache_rules[i].type) == tlen &&
            strncasecmp(cfg->cache_rules[i].type, s, tlen) == 0)
            return &cfg->cache_rules[i];
    if (cfg->ncache_rules == CONFIG_CACHE_RULES_MAX) {
        snprintf(why, len, "more than %d types", CONFIG_CACHE_RULES_MAX);
        return NULL;
    }
    char *type = (char *)keep(cfg, s);
    if (!type) {
        snprintf(why, len, "out of memory");
        return NULL;
    }
    type[tlen] = '\0';
    struct http_cache_rule *r = &cfg->cache_rules[cfg->ncache_rules++];
    *r = (struct http_cache_rule){.type = type};
    return r;
}

/* "text/css=max-age=31536000, immutable": the Cache-Control of that type's files. */
static int set_cache_control(struct config *cfg, const char *s, char *why, size_t len)
{
    const char *value;
    struct http_cache_rule *r = cache_rule(cfg, s, &value, why, len);
    if (!r)
        return -EINVAL;
    if (!*value || !printable(value, strlen(value))) {
        snprintf(why, len, "expected a Cache-Control value of printable characters after '='");
        return -EINVAL;
    }
    r->cache_control = value;
    return 0;
}

/* "text/css=30d": Expires now + 30 days, and Cache-Control: max-age (nginx's expires). */
static int set_expires(struct config *cfg, const char *s, char *why, size_t len)
{
    const char *value;
    struct http_cache_rule *r = cache_rule(cfg, s, &value, why, len);
    uint64_t ms;
    if (!r)
        return -EINVAL;
    if (units_parse_duration_ms(value, &ms) != 0 || ms > 3660ull * DAY_MS) {
        snprintf(why, len, "expected a duration after '=' up to 3660d, e.g. 12h, 30d");
        return -EINVAL;
    }
    r->expires = true;
    r->expires_s = ms / 1000;
    return 0;
}

/* "br,zstd,gzip": the codings of compressed variants, any of them, any order. */
static int set_compress_encodings(struct config *cfg, const char *s, char *why, size_t len)
{
    unsigned mask = 0;
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int c = HTTP_CODING_GZIP; c < HTTP_CODING_COUNT; c++) {
            const char *name = http_coding_name((enum http_coding)c);
            if (strlen(name) == n && strncmp(p, name, n) == 0)
                found = c;
        }
        if (found < 0) {
            mask = 0;
            break;
        }
        mask |= HTTP_CODING_BIT(found);
        p += n + (p[n] == ',');
    }
    if (!mask) {
        snprintf(why, len, "expected br, zstd and gzip, or some of them, comma-separated");
        return -EINVAL;
    }
    cfg->compress_encodings = mask;
    return 0;
}

/* "text/" and a star, "image/svg+xml", ...: media types and families. */
static int set_compress_types(struct config *cfg, const char *s, char *why, size_t len)
{
    bool ok = *s != '\0';
    for (const char *p = s; ok && *p;) {
        size_t n = strcspn(p, ",");
        const char *slash = memchr(p, '/', n);
        ok = n > 0 && slash && slash > p && slash + 1 < p + n &&
             !memchr(slash + 1, '/', (size_t)(p + n - slash - 1)) && printable(p, n) &&
             (!memchr(p, '*', n) ||
              (n >= 2 && p[n - 1] == '*' && p[n - 2] == '/' && !memchr(p, '*', n - 1)));
        p += n + (p[n] == ',');
    }
    if (!ok) {
        snprintf(why, len,
                 "expected media types or families separated by commas, e.g. "
                 "text/*,application/json");
        return -EINVAL;
    }
    cfg->compress_types = s;
    return 0;
}

/* "TLSv1.2,TLSv1.3", either alone, in any order. */
static int set_tls_protocols(struct config *cfg, const char *s, char *why, size_t len)
{
    bool v12 = false, v13 = false;
    const char *p = s;
    while (*p) {
        size_t n = strcspn(p, ", ");
        if (n == 7 && strncmp(p, "TLSv1.2", 7) == 0)
            v12 = true;
        else if (n == 7 && strncmp(p, "TLSv1.3", 7) == 0)
            v13 = true;
        else if (n > 0)
            break;
        p += n;
        p += strspn(p, ", ");
    }
    if (*p || (!v12 && !v13)) {
        snprintf(why, len, "expected TLSv1.2, TLSv1.3 or both, comma-separated");
        return -EINVAL;
    }
    cfg->tls12 = v12;
    cfg->tls13 = v13;
    return 0;
}

static int set_mode(struct config *cfg, const char *s, char *why, size_t len)
{
    if (parse_uint(s, 0, 3, &cfg->mode) == 0)
        return 0;
    snprintf(why, len, "expected 0 (LT+LT), 1 (LT+ET), 2 (ET+LT) or 3 (ET+ET)");
    return -EINVAL;
}

static int set_timer(struct config *cfg, const char *s, char *why, size_t len)
{
    if (timer_kind_parse(s, &cfg->timer) == 0)
        return 0;
    snprintf(why, len, "expected fifo or list");
    return -EINVAL;
}

static int set_tick(struct config *cfg, const char *s, char *why, size_t len)
{
    if (tick_kind_parse(s, &cfg->tick) == 0)
        return 0;
    snprintf(why, len, "expected epoll, timerfd or alarm");
    return -EINVAL;
}

static int set_sendfile(struct config *cfg, const char *s, char *why, size_t len)
{
    if (strcmp(s, "on") == 0)
        cfg->sendfile_min = 0;
    else if (strcmp(s, "off") == 0)
        cfg->sendfile_min = CONN_SENDFILE_OFF;
    else if (units_parse_size(s, &cfg->sendfile_min) != 0 ||
             cfg->sendfile_min > (UINT64_C(1) << 50)) {
        snprintf(why, len, "expected on, off or a size such as 256k");
        return -EINVAL;
    }
    return 0;
}

static int set_error_log(struct config *cfg, const char *s, char *why, size_t len)
{
    if (strcmp(s, "off") == 0) {
        snprintf(why, len, "expected a file or - (use -c 1 for none)");
        return -EINVAL;
    }
    cfg->error_log = s;
    return 0;
}

static int set_user(struct config *cfg, const char *s, char *why, size_t len)
{
    if (!s[0] || !getpwnam(s)) {
        snprintf(why, len, "no such user");
        return -EINVAL;
    }
    cfg->user = s;
    return 0;
}

/* --status, --metrics and --health: an absolute path of a URL, without a query; the status page
 * is PATH/, so PATH itself ends without a slash. */
static int set_url_path(const char **out, const char *s, bool page, const char *example, char *why,
                        size_t len)
{
    size_t n = strlen(s);
    if (s[0] != '/' || n < 2 || (page && s[n - 1] == '/') || strpbrk(s, "?# \t\r\n")) {
        snprintf(why, len, "expected an absolute path such as %s", example);
        return -EINVAL;
    }
    *out = s;
    return 0;
}

static int set_status(struct config *cfg, const char *s, char *why, size_t len)
{
    return set_url_path(&cfg->status, s, true, "/status", why, len);
}

static int set_metrics(struct config *cfg, const char *s, char *why, size_t len)
{
    return set_url_path(&cfg->metrics, s, false, "/metrics", why, len);
}

static int set_health(struct config *cfg, const char *s, char *why, size_t len)
{
    return set_url_path(&cfg->health, s, false, "/healthz", why, len);
}

/* --db: a URL of a backend this build has. */
static int set_db(struct config *cfg, const char *s, char *why, size_t len)
{
    if ((strncmp(s, "sqlite:", 7) == 0 && s[7] != '\0') ||
        (strncmp(s, "mysql://", 8) == 0 && s[8] != '\0')) {
        cfg->db = s;
        return 0;
    }
    snprintf(why, len,
             "expected sqlite:PATH (e.g. sqlite:/var/lib/tinyweb/app.db) or "
             "mysql://USER:PASSWORD@HOST:PORT/DB (or mysql://USER@/DB?socket=PATH)");
    return -EINVAL;
}

/* Loopback only, as nginx's stub_status is usually configured. */
#define STATUS_ALLOW_DEFAULT "127.0.0.0/8,::1"

static int set_status_allow(struct config *cfg, const char *s, char *why, size_t len)
{
    char what[96];
    if (cidr_list_parse(s, &cfg->status_allow, what, sizeof(what)) == 0)
        return 0;
    snprintf(why, len, "%s; expected addresses or ranges such as 127.0.0.0/8,::1", what);
    return -EINVAL;
}

/* ---- The table ---- */

static const struct opt_def opts[] = {
    /* TinyWebServer's options keep their letters. */
    {"port", 'p', "PORT", "port of the listen addresses given without one; 0 picks a free one",
     "9006", K_CUSTOM, 0, FIELD(port), 0, 0, set_port, NULL},
    {"trigger-mode", 'm', "0|1|2|3",
     "epoll trigger mode, listener+connections: 0 LT+LT, 1 LT+ET, 2 ET+LT, 3 ET+ET", "3", K_CUSTOM,
     0, FIELD(mode), 0, 0, set_mode, NULL},
    {"graceful-close", 'o', "0|1",
     "1: close every connection gracefully (shut down writing, drain what the client still "
     "sends, then close); 0: only when needed",
     "0", K_FLAG, F_RELOAD, FIELD(linger), 0, 1, NULL, NULL},
    {"threads", 't', "THREADS", "event loops, one thread each (default: online CPUs)", NULL, K_UINT,
     0, FIELD(threads), 1, 256, NULL, "expected 1 to 256 threads"},
    {"log-off", 'c', "0|1", "1: logging off", "0", K_FLAG, 0, FIELD(log_off), 0, 1, NULL, NULL},
    {"log-async", 'l', "0|1", "log writes: 0 synchronous, 1 from a background thread", "0", K_FLAG,
     0, FIELD(log_async), 0, 1, NULL, NULL},
    {"db-connections", 's', "N", "the application's connections to its database (--db)", "8",
     K_UINT, 0, FIELD(db_connections), 1, 256, NULL, "expected 1 to 256 connections"},
    {"actor-model", 'a', "0|1",
     "where application requests run: 0, on the loops, with only blocking work (the database, "
     "password hashing) on the worker pool; 1, all of them on the worker pool",
     "0", K_FLAG, 0, FIELD(app_on_workers), 0, 1, NULL, NULL},

    {"config", 'f', "FILE",
     "read settings from FILE (one \"name value\" a line, # comments); "
     "the command line overrides it",
     NULL, K_ACTION, F_CMDLINE, 0, 0, 0, 0, NULL, NULL},
    {"test-config", 'T', NULL, "check the configuration and the root, print the result and exit",
     NULL, K_ACTION, F_CMDLINE, 0, 0, 0, 0, NULL, NULL},
    {"root", 0, "DIR", "document root", "www", K_STRING, F_RELOAD, FIELD(root), 0, 0, NULL, NULL},
    {"index", 0, "LIST",
     "a directory asked with a trailing slash serves the first of these files that exists",
     "index.html", K_CUSTOM, F_RELOAD, FIELD(index), 0, 0, set_index, NULL},
    {"autoindex", 0, "on|off",
     "list a directory that has no index file (names escaped, sorted, dot-files hidden, "
     "links leaving the root left out)",
     "off", K_ONOFF, F_RELOAD, FIELD(autoindex), 0, 0, NULL, NULL},
    {"compress", 0, "on|off",
     "make compressed variants (br, zstd, gzip) of compressible static files held in memory, "
     "once per file version on the worker pool, and send the smallest the client accepts",
     "on", K_ONOFF, F_RELOAD, FIELD(compress), 0, 0, NULL, NULL},
    {"compress-static", 0, "on|off",
     "send precompressed siblings (x.css.br, x.css.zst, x.css.gz, as new as x.css) to clients "
     "that accept them",
     "on", K_ONOFF, F_RELOAD, FIELD(compress_static), 0, 0, NULL, NULL},
    {"compress-encodings", 0, "LIST", "the codings of compressed variants", "br,zstd,gzip",
     K_CUSTOM, F_RELOAD, FIELD(compress_encodings), 0, 0, set_compress_encodings, NULL},
    {"compress-min-size", 0, "SIZE", "smaller files are sent as they are", "256", K_SIZE, F_RELOAD,
     FIELD(compress_min), 0, UINT64_C(1) << 30, NULL, NULL},
    {"compress-types", 0, "LIST", "the media types compressed (a family as text/*)",
     COMPRESS_TYPES_DEFAULT, K_CUSTOM, F_RELOAD, FIELD(compress_types), 0, 0, set_compress_types,
     NULL},
    {"error-page", 0, "STATUS=/PATH",
     "serve this file from the root, with the original status, for these error statuses "
     "(404=/errors/404.html, 500,502,503=/50x.html); repeat it for more",
     NULL, K_CUSTOM, F_RELOAD, FIELD(error_pages), 0, 0, set_error_page, NULL},
    {"cache-control", 0, "TYPE=VALUE",
     "Cache-Control of static files of a media type (text/css=max-age=31536000,immutable; "
     "image/* or * match more); repeat it for more types",
     NULL, K_CUSTOM, F_RELOAD, FIELD(cache_rules), 0, 0, set_cache_control, NULL},
    {"expires", 0, "TYPE=DURATION",
     "Expires (now + DURATION) and Cache-Control: max-age on static files of a media type, as "
     "nginx's expires (text/css=30d); repeat it for more types",
     NULL, K_CUSTOM, F_RELOAD, FIELD(cache_rules), 0, 0, set_expires, NULL},
    {"listen", 0, "ADDR[:PORT]",
     "address to listen on, e.g. 0.0.0.0:9006, 127.0.0.1:80, [::1]:8080; repeat it for more",
     "0.0.0.0:9006", K_CUSTOM, 0, FIELD(listens), 0, 0, set_listen, NULL},
    {"listen-tls", 0, "ADDR[:PORT]",
     "address to serve HTTPS on, e.g. 0.0.0.0:9443; repeat it for more; with --listen, both "
     "(needs --tls-cert and --tls-key)",
     NULL, K_CUSTOM, 0, FIELD(listens), 0, 0, set_listen_tls, NULL},
    {"tls-cert", 0, "FILE",
     "the TLS certificate, PEM, followed by its chain (RSA or ECDSA); read again on reload", NULL,
     K_STRING, F_RELOAD, FIELD(tls_cert), 0, 0, NULL, NULL},
    {"tls-key", 0, "FILE", "the certificate's private key, PEM; read again on reload", NULL,
     K_STRING, F_RELOAD, FIELD(tls_key), 0, 0, NULL, NULL},
    {"tls-protocols", 0, "LIST", "TLS versions offered: TLSv1.2, TLSv1.3 or both",
     "TLSv1.2,TLSv1.3", K_CUSTOM, F_RELOAD, FIELD(tls12), 0, 0, set_tls_protocols, NULL},
    {"tls-ciphers", 0, "LIST",
     "TLS 1.2 ciphers in OpenSSL's syntax, the server's order preferred; intermediate is "
     "Mozilla's intermediate list",
     "intermediate", K_STRING, F_RELOAD, FIELD(tls_ciphers), 0, 0, NULL, NULL},
    {"tls-ciphersuites", 0, "LIST", "TLS 1.3 cipher suites", TLS_DEFAULT_CIPHERSUITES, K_STRING,
     F_RELOAD, FIELD(tls_ciphersuites), 0, 0, NULL, NULL},
    {"tls-session-cache", 0, "N",
     "TLS sessions kept by the server for resumption by session id (0: off; tickets resume "
     "without it)",
     "0", K_UINT, F_RELOAD, FIELD(tls_session_cache), 0, 10000000, NULL,
     "expected 0 to 10000000 sessions"},
    {"tls-ticket-rotate", 0, "DURATION",
     "session tickets: a new key this often, the previous one accepted one period more "
     "(0: no tickets)",
     "1h", K_DURATION, F_RELOAD, FIELD(tls_ticket_rotate_ms), 0, DAY_MS, NULL, NULL},
    {"hsts", 0, "SECONDS", "Strict-Transport-Security: max-age=SECONDS on HTTPS responses (0: off)",
     "0", K_UINT, F_RELOAD, FIELD(hsts_s), 0, 100000000, NULL, "expected 0 to 100000000 seconds"},
    {"redirect-https", 0, "0|1",
     "1: plain listeners answer every request with 301 to the same URL on the first "
     "--listen-tls port",
     "0", K_FLAG, F_RELOAD, FIELD(redirect_https), 0, 1, NULL, NULL},
    {"timer", 0, "fifo|list",
     "timer container: fifo, O(1) per activity; list, the seeds' sorted list", "fifo", K_CUSTOM, 0,
     FIELD(timer), 0, 0, set_timer, NULL},
    {"tick", 0, "epoll|timerfd|alarm",
     "what wakes the loops to expire timers; alarm is the seeds' SIGALRM and needs -t 1", "epoll",
     K_CUSTOM, 0, FIELD(tick), 0, 0, set_tick, NULL},
    {"tick-ms", 0, "DURATION",
     "timeout granularity; with --tick alarm also the SIGALRM period (its default: 100ms)", "1ms",
     K_DURATION, 0, FIELD(tick_ms), 1, DAY_MS, NULL, NULL},
    {"header-timeout", 0, "DURATION", "a request head must arrive whole within it", "10s",
     K_DURATION, F_RELOAD, FIELD(header_timeout_ms), 1, DAY_MS, NULL, NULL},
    {"body-timeout", 0, "DURATION", "longest pause while reading a request body", "30s", K_DURATION,
     F_RELOAD, FIELD(body_timeout_ms), 1, DAY_MS, NULL, NULL},
    {"send-timeout", 0, "DURATION", "longest pause while the client takes a response", "30s",
     K_DURATION, F_RELOAD, FIELD(send_timeout_ms), 1, DAY_MS, NULL, NULL},
    {"idle-timeout", 0, "DURATION", "keep-alive: longest wait for the next request", "15s",
     K_DURATION, F_RELOAD, FIELD(idle_timeout_ms), 1, DAY_MS, NULL, NULL},
    {"shutdown-timeout", 0, "DURATION",
     "on SIGTERM, SIGINT or SIGQUIT, how long responses in flight may take to finish", "10s",
     K_DURATION, F_RELOAD, FIELD(shutdown_timeout_ms), 1, DAY_MS, NULL, NULL},
    {"sendfile", 0, "on|off|SIZE",
     "file bodies read from disk go by sendfile(2) (on), by pread + writev (off), or by sendfile "
     "from SIZE up (off is faster for clients here; files in the file cache go from memory)",
     "off", K_CUSTOM, F_RELOAD, FIELD(sendfile_min), 0, 0, set_sendfile, NULL},
    {"file-cache", 0, "N",
     "files kept open and small files kept in memory, per loop (0: open every file per request)",
     "1024", K_UINT, F_RELOAD, FIELD(file_cache_entries), 0, 1000000, NULL,
     "expected 0 to 1000000 files"},
    {"file-cache-bytes", 0, "SIZE",
     "memory for cached files per loop; a file is kept in memory up to 1/16 of it", "32m", K_SIZE,
     F_RELOAD, FIELD(file_cache_bytes), 0, UINT64_C(1) << 40, NULL, NULL},
    {"file-cache-valid", 0, "DURATION",
     "how long a cached file is trusted before it is checked again (0: on every request)", "1s",
     K_DURATION, F_RELOAD, FIELD(file_cache_valid_ms), 0, DAY_MS, NULL, NULL},
    {"max-connections", 0, "N", "open connections, all loops together", "10000", K_UINT, F_RELOAD,
     FIELD(max_connections), 1, 10000000, NULL, "expected 1 to 10000000"},
    {"max-header-bytes", 0, "SIZE", "request line and headers (over it: 431)", "16k", K_SIZE,
     F_RELOAD, FIELD(max_header_bytes), 256, 1024 * 1024, NULL, NULL},
    {"max-headers", 0, "N", "header fields (over it: 431)", "100", K_UINT, F_RELOAD,
     FIELD(max_headers), 1, 10000, NULL, "expected 1 to 10000"},
    {"max-uri-bytes", 0, "SIZE", "request target (over it: 414)", "8k", K_SIZE, F_RELOAD,
     FIELD(max_uri_bytes), 16, 1024 * 1024, NULL, NULL},
    {"max-body-bytes", 0, "SIZE", "request body (over it: 413)", "1m", K_SIZE, F_RELOAD,
     FIELD(max_body_bytes), 0, UINT64_C(1) << 40, NULL, NULL},
    {"access-log", 0, "FILE|-|off", "Combined Log Format; - is standard output", "-", K_STRING,
     F_RELOAD, FIELD(access_log), 0, 0, NULL, NULL},
    {"error-log", 0, "FILE|-", "errors and warnings; - is standard error", "-", K_CUSTOM, F_RELOAD,
     FIELD(error_log), 0, 0, set_error_log, NULL},
    {"log-not-found", 0, "on|off",
     "a line in the error log for every 404, as for every 403 and 5xx", "on", K_ONOFF, F_RELOAD,
     FIELD(log_not_found), 0, 0, NULL, NULL},
    {"defer-accept", 0, "on|off",
     "accept a connection only once its first bytes arrived (TCP_DEFER_ACCEPT; a silent one "
     "after about 1s)",
     "off", K_ONOFF, 0, FIELD(defer_accept), 0, 0, NULL, NULL},
    {"status", 0, "PATH",
     "serve the server's counters at PATH as JSON, at PATH/metrics as Prometheus text and at "
     "PATH/ as a live page (off by default)",
     NULL, K_CUSTOM, F_RELOAD, FIELD(status), 0, 0, set_status, NULL},
    {"status-allow", 0, "CIDR[,...]",
     "the client addresses that may read --status and --metrics; others get 403",
     STATUS_ALLOW_DEFAULT, K_CUSTOM, F_RELOAD, FIELD(status_allow), 0, 0, set_status_allow, NULL},
    {"metrics", 0, "PATH", "serve the Prometheus text at PATH instead of --status PATH/metrics",
     NULL, K_CUSTOM, F_RELOAD, FIELD(metrics), 0, 0, set_metrics, NULL},
    {"db", 0, "URL",
     "turn the application on (register, log in, sessions) with this database: sqlite:PATH "
     "(created on first start) or mysql://USER:PASSWORD@HOST:PORT/DB (MariaDB; "
     "?socket=PATH, ?password_file=PATH or TINYWEB_DB_PASSWORD); off by default",
     NULL, K_CUSTOM, 0, FIELD(db), 0, 0, set_db, NULL},
    {"workers", 0, "N",
     "worker pool threads for blocking work: password hashing, the database (default: online "
     "CPUs)",
     NULL, K_UINT, 0, FIELD(workers), 1, 256, NULL, "expected 1 to 256 threads"},
    {"worker-queue", 0, "N", "jobs waiting for a worker, at most; beyond it: 503", "1024", K_UINT,
     0, FIELD(worker_queue), 1, 1000000, NULL, "expected 1 to 1000000 jobs"},
    {"app-timeout", 0, "DURATION", "longest wait for the application's answer (then: 504)", "30s",
     K_DURATION, F_RELOAD, FIELD(app_timeout_ms), 1, DAY_MS, NULL, NULL},
    {"session-ttl", 0, "DURATION", "how long a login lasts", "1d", K_DURATION, F_RELOAD,
     FIELD(session_ttl_ms), 1000, 366 * (uint64_t)DAY_MS, NULL, NULL},
    {"templates", 0, "DIR", "the application's page templates (default: ROOT/templates)", NULL,
     K_STRING, F_RELOAD, FIELD(templates), 0, 0, NULL, NULL},
    {"pwhash-ops", 0, "N", "Argon2id passes over memory per password hash (libsodium's opslimit)",
     "2", K_UINT, 0, FIELD(pwhash_ops), 1, 100, NULL, "expected 1 to 100 passes"},
    {"pwhash-mem", 0, "SIZE",
     "Argon2id memory per password hash; 8k is the minimum, for test runs under sanitizers", "64m",
     K_SIZE, 0, FIELD(pwhash_mem), 8192, UINT64_C(4) << 30, NULL, NULL},
    {"login-throttle", 0, "N",
     "failed logins, per client address and per user name, before each further one is refused "
     "(429) for a time that doubles; 0: off",
     "5", K_UINT, 0, FIELD(login_failures), 0, 1000, NULL, "expected 0 to 1000 failures"},
    {"health", 0, "PATH",
     "answer GET PATH with 200 while serving and 503 from a stop signal on, for load "
     "balancers' health checks (off by default)",
     NULL, K_CUSTOM, F_RELOAD, FIELD(health), 0, 0, set_health, NULL},
    {"drain-delay", 0, "DURATION",
     "on a stop signal, keep serving this long first, --health answering 503 and every "
     "response closing its connection, so that a load balancer takes the server out; then stop "
     "gracefully (a second signal ends the delay)",
     "0", K_DURATION, F_RELOAD, FIELD(drain_delay_ms), 0, DAY_MS, NULL, NULL},
    {"pid-file", 0, "FILE",
     "the server's process id, written once the port is bound and removed "
     "at exit",
     NULL, K_STRING, 0, FIELD(pid_file), 0, 0, NULL, NULL},
    {"user", 0, "NAME",
     "started as root: switch to this account (and its groups) once the port is bound and the "
     "logs and root are open",
     NULL, K_CUSTOM, 0, FIELD(user), 0, 0, set_user, NULL},
    {"example-config", 0, NULL,
     "print an example configuration file (every setting, commented "
     "out, with its default) and exit",
     NULL, K_ACTION, F_CMDLINE, 0, 0, 0, 0, NULL, NULL},
    {"help", 'h', NULL, "this text", NULL, K_ACTION, F_CMDLINE, 0, 0, 0, 0, NULL, NULL},
    {"version", 'V', NULL, "the version", NULL, K_ACTION, F_CMDLINE, 0, 0, 0, 0, NULL, NULL},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static const struct opt_def *find_long(const char *name)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strcmp(opts[i].name, name) == 0)
            return &opts[i];
    return NULL;
}

static void *field(struct config *cfg, const struct opt_def *d)
{
    return (char *)cfg + d->off;
}

/*
 * Parses value into cfg for d. 0, or -EINVAL with why (what was expected) and noun (what kind
 * of value: "duration", "size", ...) filled.
 */
static int apply(struct config *cfg, const struct opt_def *d, const char *value, char *why,
                 size_t len, const char **noun)
{
    uint64_t v;
    *noun = "value";
    switch (d->kind) {
    case K_FLAG:
        if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0)
            break;
        *(bool *)field(cfg, d) = value[0] == '1';
        return 0;
    case K_ONOFF:
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
            snprintf(why, len, "expected on or off");
            return -EINVAL;
        }
        *(bool *)field(cfg, d) = strcmp(value, "on") == 0;
        return 0;
    case K_UINT:
        *noun = "number";
        if (parse_uint(value, d->min, d->max, &v) != 0)
            break;
        *(uint64_t *)field(cfg, d) = v;
        return 0;
    case K_SIZE:
        *noun = "size";
        if (units_parse_size(value, &v) != 0 || v < d->min || v > d->max) {
            snprintf(why, len, "expected a size from %llu to %llu bytes (k, m suffixes)",
                     (unsigned long long)d->min, (unsigned long long)d->max);
            return -EINVAL;
        }
        *(uint64_t *)field(cfg, d) = v;
        return 0;
    case K_DURATION:
        *noun = "duration";
        if (units_parse_duration_ms(value, &v) != 0 || v < d->min || v > d->max) {
            snprintf(why, len,
                     d->max > DAY_MS ? "expected a duration from 1s to 366d, e.g. 30m, 12h, 7d"
                     : d->min        ? "expected a duration from 1ms to 24h, e.g. 500ms, 15s, 2m"
                                     : "expected a duration from 0 to 24h, e.g. 0, 500ms, 1s");
            return -EINVAL;
        }
        *(uint64_t *)field(cfg, d) = v;
        return 0;
    case K_STRING:
        *(const char **)field(cfg, d) = value;
        return 0;
    case K_CUSTOM:
        return d->parse(cfg, value, why, len);
    default:
        break;
    }
    snprintf(why, len, "%s",
             d->expect           ? d->expect
             : d->kind == K_FLAG ? "expected 0 or 1"
                                 : "bad value");
    return -EINVAL;
}

/* ---- Help and the example file ---- */

/* Writes text from column col (the cursor is there), wrapped at HELP_WIDTH and indented to
 * indent on the lines after the first. */
static void put_wrapped(FILE *out, const char *text, int col, int indent, const char *prefix)
{
    const char *p = text;
    while (*p) {
        const char *end = p;
        const char *brk = NULL;
        for (int c = col; *end && (c < HELP_WIDTH || !brk); end++, c++)
            if (*end == ' ')
                brk = end;
        if (!*end)
            brk = end;
        fprintf(out, "%.*s\n", (int)(brk - p), p);
        p = *brk ? brk + 1 : brk;
        if (*p)
            col = fprintf(out, "%s%*s", prefix, indent - (int)strlen(prefix), "");
    }
}

/* TinyWebServer's letters come first in --help, in a section of their own. */
static bool from_tinywebserver(const struct opt_def *d)
{
    return d->short_name && strchr("pmotcl", d->short_name);
}

static void usage(FILE *out)
{
    fputs("usage: tinyweb [options]\n"
          "Serves the files under --root over HTTP/1.1.\n"
          "\n"
          "TinyWebServer's options:\n",
          out);
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt_def *d = &opts[i];
        if (i > 0 && from_tinywebserver(&opts[i - 1]) && !from_tinywebserver(d))
            fputs("\n", out);
        char left[64];
        const char *sp = d->arg ? " " : "", *arg = d->arg ? d->arg : "";
        if (d->short_name)
            snprintf(left, sizeof(left), "  -%c, --%s%s%s", d->short_name, d->name, sp, arg);
        else
            snprintf(left, sizeof(left), "  --%s%s%s", d->name, sp, arg);
        int col = fprintf(out, "%s", left);
        col += fprintf(out, "%*s", col < HELP_COLUMN ? HELP_COLUMN - col : 1, "");
        char text[512];
        if (d->def)
            snprintf(text, sizeof(text), "%s (default %s)", d->help, d->def);
        else
            snprintf(text, sizeof(text), "%s", d->help);
        put_wrapped(out, text, col, HELP_COLUMN, "");
    }
    fputs("\nDURATION: 500ms, 15s, 2m (a bare number means seconds). SIZE: 512, 64k, 1m.\n"
          "The configuration file takes every option above but -f, -T, -h, -V and\n"
          "--example-config, by its long name: \"idle-timeout 15s\", \"listen 127.0.0.1:8080\".\n"
          "Signals: SIGTERM, SIGINT and SIGQUIT stop gracefully; SIGHUP reloads the\n"
          "configuration (and reopens the logs); SIGUSR1 reopens the logs.\n",
          out);
}

void config_write_example(FILE *out)
{
    fputs("# tinyweb configuration: one setting a line, \"name value\", with the names of the\n"
          "# long command-line options; '#' starts a comment. Command-line options override\n"
          "# this file. Every setting below is commented out and shows its default; settings\n"
          "# marked (reload) change on SIGHUP, the others need a restart.\n"
          "# Check a file with: tinyweb -f FILE -T\n",
          out);
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt_def *d = &opts[i];
        if (d->flags & F_CMDLINE)
            continue;
        char text[512];
        snprintf(text, sizeof(text), "%s%s", d->help, d->flags & F_RELOAD ? " (reload)" : "");
        fputs("\n# ", out);
        put_wrapped(out, text, 2, 2, "#");
        if (d->def)
            fprintf(out, "#%s %s\n", d->name, d->def);
        else
            fprintf(out, "#%s %s\n", d->name, d->arg);
    }
}

/* ---- Parsing ---- */

static void set_defaults(struct config *cfg)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    *cfg = (struct config){
        .root = "www",
        .index = "index.html",
        .compress = true,
        .compress_static = true,
        .compress_encodings = HTTP_CODING_BIT(HTTP_CODING_BR) | HTTP_CODING_BIT(HTTP_CODING_ZSTD) |
                              HTTP_CODING_BIT(HTTP_CODING_GZIP),
        .compress_min = 256,
        .compress_types = COMPRESS_TYPES_DEFAULT,
        .mode = 3,
        .threads = cpus > 0 ? (uint64_t)cpus : 1,
        .access_log = "-",
        .error_log = "-",
        .log_not_found = true,
        .timer = TIMER_FIFO,
        .tick = TICK_EPOLL,
        .tick_ms = 0, /* finish(): 1 ms, or 100 ms for alarm */
        .header_timeout_ms = 10000,
        .body_timeout_ms = 30000,
        .idle_timeout_ms = 15000,
        .send_timeout_ms = 30000,
        .shutdown_timeout_ms = 10000,
        .max_connections = 10000,
        .max_header_bytes = 16 * 1024,
        .max_headers = 100,
        .max_uri_bytes = 8 * 1024,
        .max_body_bytes = 1024 * 1024,
        .sendfile_min = CONN_SENDFILE_OFF,
        .file_cache_entries = 1024,
        .file_cache_bytes = 32 * 1024 * 1024,
        .file_cache_valid_ms = 1000,
        .db_connections = 8,
        .workers = cpus > 0 ? (uint64_t)cpus : 1,
        .worker_queue = 1024,
        .app_timeout_ms = 30000,
        .session_ttl_ms = DAY_MS,
        .pwhash_ops = 2,
        .pwhash_mem = 64 * 1024 * 1024,
        .login_failures = 5,
        .tls12 = true,
        .tls13 = true,
        .tls_ciphers = "intermediate",
        .tls_ciphersuites = TLS_DEFAULT_CIPHERSUITES,
        .tls_ticket_rotate_ms = 3600 * 1000,
    };
    snprintf(cfg->port, sizeof(cfg->port), "9006");
    char why[160];
    set_status_allow(cfg, STATUS_ALLOW_DEFAULT, why, sizeof(why));
}

/* A copy of s that lives as long as cfg. */
static const char *keep(struct config *cfg, const char *s)
{
    char **grown = realloc(cfg->strings, (cfg->nstrings + 1) * sizeof(*grown));
    char *copy = strdup(s);
    if (!grown || !copy) {
        free(copy);
        if (grown)
            cfg->strings = grown;
        return NULL;
    }
    cfg->strings = grown;
    cfg->strings[cfg->nstrings++] = copy;
    return copy;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Reads the file's settings into cfg. The number of errors, each printed as FILE:LINE: ... */
static int read_file(struct config *cfg, const char *path, FILE *err)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        fprintf(err, "tinyweb: cannot read the configuration %s: %s\n", path, strerror(errno));
        return 1;
    }
    char line[LINE_MAX_BYTES + 2];
    int errors = 0, lineno = 0;
    bool listen_seen = false;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
            fprintf(err, "%s:%d: line longer than %d bytes\n", path, lineno, LINE_MAX_BYTES);
            errors++;
            int c;
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            continue;
        }
        /* A comment: a line that starts with '#', or '#' after a blank. */
        for (char *h = line; (h = strchr(h, '#')); h++)
            if (h == line || h[-1] == ' ' || h[-1] == '\t') {
                *h = '\0';
                break;
            }
        char *s = trim(line);
        if (!*s)
            continue;
        char *value = s + strcspn(s, " \t");
        if (*value)
            *value++ = '\0';
        value = trim(value);
        const struct opt_def *d = find_long(s);
        if (!d || (d->flags & F_CMDLINE)) {
            fprintf(err, "%s:%d: unknown setting \"%s\"\n", path, lineno, s);
            errors++;
            continue;
        }
        if (!*value) {
            fprintf(err, "%s:%d: %s: missing value (expected %s)\n", path, lineno, d->name, d->arg);
            errors++;
            continue;
        }
        const char *v = keep(cfg, value);
        if (!v) {
            fprintf(err, "%s:%d: out of memory\n", path, lineno);
            errors++;
            break;
        }
        /* The file's listen lines make the list: the default address is replaced. */
        if ((d->parse == set_listen || d->parse == set_listen_tls) && !listen_seen) {
            cfg->nlisten = 0;
            listen_seen = true;
        }
        char why[160];
        const char *noun;
        if (apply(cfg, d, v, why, sizeof(why), &noun) != 0) {
            fprintf(err, "%s:%d: %s: bad %s \"%s\" (%s)\n", path, lineno, d->name, noun, value,
                    why);
            errors++;
        }
    }
    if (ferror(f)) {
        fprintf(err, "tinyweb: cannot read the configuration %s: %s\n", path, strerror(errno));
        errors++;
    }
    fclose(f);
    return errors;
}

static int bad(FILE *err, const char *opt, const char *value, const char *why)
{
    fprintf(err, "tinyweb: %s '%s': %s (see --help)\n", opt, value, why);
    return 2;
}

/* Checks that hold between options, and the root. */
static int validate(struct config *cfg, FILE *err)
{
    if (cfg->tick == TICK_ALARM && cfg->threads != 1)
        return bad(err, "--tick", "alarm", "SIGALRM is process-wide: it needs -t 1");
    if (cfg->metrics && !cfg->status)
        return bad(err, "--metrics", cfg->metrics, "needs --status");
    bool tls = false;
    for (int i = 0; i < cfg->nlisten; i++)
        tls |= cfg->listens[i].tls;
    if (tls && !cfg->tls_cert)
        return bad(err, "--listen-tls", "", "needs --tls-cert and --tls-key");
    if (tls && !cfg->tls_key)
        return bad(err, "--tls-cert", cfg->tls_cert, "needs --tls-key too");
    if (cfg->redirect_https && !tls)
        return bad(err, "--redirect-https", "1", "needs a --listen-tls address to redirect to");
    if (cfg->max_uri_bytes > cfg->max_header_bytes)
        fprintf(err, "tinyweb: note: --max-uri-bytes is above --max-header-bytes; a request "
                     "head can never be longer than --max-header-bytes\n");
    struct stat st;
    if (stat(cfg->root, &st) != 0)
        return bad(err, "--root", cfg->root, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return bad(err, "--root", cfg->root, "not a directory");
    return 0;
}

/* What the table leaves to derive: the trigger modes, and the ports listen addresses lack. */
static void finish(struct config *cfg)
{
    /* epoll and timerfd sleep until the earliest deadline, so a fine tick costs wake-ups only
     * when timers are due (docs/BENCHMARKS.md, "Timer ticks"); alarm ticks whether or not. */
    if (cfg->tick_ms == 0)
        cfg->tick_ms = cfg->tick == TICK_ALARM ? 100 : 1;
    cfg->listen_et = cfg->mode & 2;
    cfg->conn_et = cfg->mode & 1;
    if (cfg->nlisten == 0) {
        cfg->nlisten = 1;
        snprintf(cfg->listens[0].host, sizeof(cfg->listens[0].host), "0.0.0.0");
        cfg->listens[0].port[0] = '\0';
    }
    for (int i = 0; i < cfg->nlisten; i++)
        if (!cfg->listens[i].port[0])
            memcpy(cfg->listens[i].port, cfg->port, sizeof(cfg->port));
}

/* getopt_long's tables, built from opts[] once per parse. */
struct getopt_tables {
    struct option longopts[NOPTS + 1];
    char shortopts[2 * NOPTS + 2];
};

static void build_getopt(struct getopt_tables *t)
{
    size_t n = 0;
    t->shortopts[n++] = ':';
    for (size_t i = 0; i < NOPTS; i++) {
        t->longopts[i] = (struct option){
            opts[i].name, opts[i].arg ? required_argument : no_argument, NULL, (int)(256 + i)};
        if (opts[i].short_name) {
            t->shortopts[n++] = (char)opts[i].short_name;
            if (opts[i].arg)
                t->shortopts[n++] = ':';
        }
    }
    t->shortopts[n] = '\0';
    t->longopts[NOPTS] = (struct option){NULL, 0, NULL, 0};
}

static const struct opt_def *def_of(int opt)
{
    if (opt >= 256 && opt < 256 + (int)NOPTS)
        return &opts[opt - 256];
    for (size_t i = 0; i < NOPTS; i++)
        if (opts[i].short_name == opt)
            return &opts[i];
    return NULL;
}

/* How an option was written on the command line (token: its argv element), for its error. */
static void spelled(const struct opt_def *d, const char *token, char *out, size_t len)
{
    if (d->short_name && token && token[0] == '-' && token[1] == d->short_name)
        snprintf(out, len, "-%c", d->short_name);
    else
        snprintf(out, len, "--%s", d->name);
}

int config_parse(struct config *cfg, int argc, char **argv, FILE *err)
{
    set_defaults(cfg);
    cfg->argc = argc;
    cfg->argv = argv;
    struct getopt_tables t;
    build_getopt(&t);
    /* Two passes: the first finds -f and the actions, the second applies the command line over
     * the file's settings. */
    for (int pass = 0; pass < 2; pass++) {
        int opt;
        bool listen_cleared = false;
        opterr = 0;
        optind = 1;
        for (;;) {
            /* The element the option is in (getopt_long moves optind past its value too). */
            int at = optind;
            if ((opt = getopt_long(argc, argv, t.shortopts, t.longopts, NULL)) == -1)
                break;
            const char *arg = at < argc ? argv[at] : argv[optind - 1];
            if (opt == ':') {
                const struct opt_def *d = def_of(optopt);
                char name[64];
                if (d)
                    spelled(d, arg, name, sizeof(name));
                return bad(err, d ? name : arg, "", "missing value");
            }
            const struct opt_def *d = def_of(opt);
            if (!d)
                return bad(err, "option", arg, "unknown option");
            if (d->kind == K_ACTION) {
                if (pass == 1)
                    continue;
                if (d->short_name == 'h') {
                    usage(stdout);
                    return 1;
                }
                if (d->short_name == 'V') {
                    printf("tinyweb " TINYWEB_VERSION "\n");
                    return 1;
                }
                if (d->short_name == 'f')
                    cfg->file = optarg;
                else if (d->short_name == 'T')
                    cfg->test_only = true;
                else {
                    config_write_example(stdout);
                    return 1;
                }
                continue;
            }
            if (pass == 0)
                continue;
            if ((d->parse == set_listen || d->parse == set_listen_tls) && !listen_cleared) {
                cfg->nlisten = 0;
                listen_cleared = true;
            }
            char why[160], name[64];
            const char *noun;
            if (apply(cfg, d, optarg, why, sizeof(why), &noun) != 0) {
                spelled(d, arg, name, sizeof(name));
                return bad(err, name, optarg, why);
            }
        }
        if (pass == 0) {
            if (optind < argc)
                return bad(err, "argument", argv[optind], "unexpected; options only");
            if (cfg->file && read_file(cfg, cfg->file, err) != 0)
                return 2;
        }
    }
    finish(cfg);
    return validate(cfg, err);
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < cfg->nstrings; i++)
        free(cfg->strings[i]);
    free(cfg->strings);
    cfg->strings = NULL;
    cfg->nstrings = 0;
}

static bool same_value(const struct opt_def *d, const struct config *a, const struct config *b)
{
    const char *x = (const char *)a + d->off, *y = (const char *)b + d->off;
    if (d->kind == K_STRING || (d->kind == K_CUSTOM && d->size == sizeof(const char *) &&
                                (d->parse == set_user || d->parse == set_error_log))) {
        const char *s = *(const char *const *)x, *u = *(const char *const *)y;
        return s == u || (s && u && strcmp(s, u) == 0);
    }
    /* One list for both: the listen row compares it, TLS flags included. */
    if (d->parse == set_listen_tls)
        return true;
    if (d->parse == set_listen) {
        if (a->nlisten != b->nlisten)
            return false;
        for (int i = 0; i < a->nlisten; i++)
            if (strcmp(a->listens[i].host, b->listens[i].host) != 0 ||
                strcmp(a->listens[i].port, b->listens[i].port) != 0 ||
                a->listens[i].tls != b->listens[i].tls)
                return false;
        return true;
    }
    if (d->parse == set_port)
        return strcmp(a->port, b->port) == 0;
    return memcmp(x, y, d->size) == 0;
}

int config_fixed_changes(const struct config *a, const struct config *b, char *out, size_t len)
{
    int n = 0;
    size_t used = 0;
    if (len)
        out[0] = '\0';
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt_def *d = &opts[i];
        if ((d->flags & (F_RELOAD | F_CMDLINE)) || d->kind == K_ACTION || same_value(d, a, b))
            continue;
        int w = snprintf(out + used, len - used, "%s%s", n ? ", " : "", d->name);
        if (w > 0 && (size_t)w < len - used)
            used += (size_t)w;
        n++;
    }
    return n;
}
