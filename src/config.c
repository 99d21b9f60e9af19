/*
 * Command line and defaults. TinyWebServer's short options keep their meaning; everything else
 * is a long option. Every bad value is refused with one line naming the option (exit 2).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/tick.h"
#include "core/units.h"

#define TINYWEB_VERSION "0.1.0"
#define DAY_MS          (24u * 3600 * 1000)

static const char usage_text[] =
    "usage: tinyweb [options]\n"
    "Serves the files under --root over HTTP/1.1.\n"
    "\n"
    "TinyWebServer's options:\n"
    "  -p PORT            port to listen on (default 9006; 0 picks a free one)\n"
    "  -m 0|1|2|3         epoll trigger mode, listener+connections: 0 LT+LT, 1 LT+ET, 2 ET+LT,\n"
    "                     3 ET+ET (default 3)\n"
    "  -o 0|1             1: close every connection gracefully (shut down writing, drain\n"
    "                     what the client still sends, then close); 0: only when needed\n"
    "                     (default 0)\n"
    "  -t THREADS         event loops, one thread each (default: online CPUs)\n"
    "  -c 0|1             1: logging off (default 0)\n"
    "  -l 0|1             log writes: 0 synchronous, 1 from a background thread (default 0)\n"
    "\n"
    "  --root DIR                 document root (default www)\n"
    "  --listen ADDR:PORT         address to listen on: 0.0.0.0:9006 (default), 127.0.0.1:80,\n"
    "                             [::1]:8080\n"
    "  --timer fifo|list          timer container: fifo, O(1) per activity (default); list, the\n"
    "                             seeds' sorted list\n"
    "  --tick epoll|timerfd|alarm what wakes the loops to expire timers (default epoll);\n"
    "                             alarm is the seeds' SIGALRM and needs -t 1\n"
    "  --tick-ms DURATION         tick period and timeout granularity (default 100ms)\n"
    "  --header-timeout DURATION  a request head must arrive whole within it (default 10s)\n"
    "  --body-timeout DURATION    longest pause while reading a request body (default 30s)\n"
    "  --send-timeout DURATION    longest pause while the client takes a response (default 30s)\n"
    "  --idle-timeout DURATION    keep-alive: longest wait for the next request (default 15s)\n"
    "  --shutdown-timeout DURATION  on SIGTERM, how long responses in flight may take to\n"
    "                             finish (default 10s)\n"
    "  --sendfile on|off|SIZE     file bodies read from disk go by sendfile(2) (on), by pread +\n"
    "                             writev (off), or by sendfile from SIZE up (default off: faster\n"
    "                             for clients here; files in the file cache go from memory)\n"
    "  --file-cache N             files kept open and small files kept in memory, per loop\n"
    "                             (default 1024; 0: open every file per request)\n"
    "  --file-cache-bytes SIZE    memory for cached files per loop (default 32m); a file is\n"
    "                             kept in memory up to 1/16 of it\n"
    "  --file-cache-valid DURATION  how long a cached file is trusted before it is checked\n"
    "                             again (default 1s; 0: on every request)\n"
    "  --max-connections N        open connections, all loops together (default 10000)\n"
    "  --max-header-bytes SIZE    request line and headers (default 16k; over it: 431)\n"
    "  --max-headers N            header fields (default 100; over it: 431)\n"
    "  --max-uri-bytes SIZE       request target (default 8k; over it: 414)\n"
    "  --max-body-bytes SIZE      request body (default 1m; over it: 413)\n"
    "  --access-log FILE|-|off    Combined Log Format (default -, standard output)\n"
    "  --error-log FILE|-         errors and warnings (default -, standard error)\n"
    "  --log-not-found on|off     a line in the error log for every 404, as for every 403 and\n"
    "                             5xx (default on)\n"
    "  --user NAME                started as root: switch to this account (and its groups)\n"
    "                             once the port is bound and the logs and root are open\n"
    "  -h, --help                 this text\n"
    "  -V, --version              the version\n"
    "\n"
    "DURATION: 500ms, 15s, 2m (a bare number means seconds). SIZE: 512, 64k, 1m.\n"
    "Signals: SIGTERM/SIGINT stop gracefully, SIGHUP reopens the log files.\n";

enum {
    OPT_ROOT = 256,
    OPT_LISTEN,
    OPT_TIMER,
    OPT_TICK,
    OPT_TICK_MS,
    OPT_HEADER_TIMEOUT,
    OPT_BODY_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_SEND_TIMEOUT,
    OPT_SHUTDOWN_TIMEOUT,
    OPT_MAX_CONNECTIONS,
    OPT_MAX_HEADER_BYTES,
    OPT_MAX_HEADERS,
    OPT_MAX_URI_BYTES,
    OPT_MAX_BODY_BYTES,
    OPT_SENDFILE,
    OPT_FILE_CACHE,
    OPT_FILE_CACHE_BYTES,
    OPT_FILE_CACHE_VALID,
    OPT_ACCESS_LOG,
    OPT_ERROR_LOG,
    OPT_USER,
    OPT_LOG_NOT_FOUND,
};

static const struct option longopts[] = {
    {"port", required_argument, NULL, 'p'},
    {"threads", required_argument, NULL, 't'},
    {"root", required_argument, NULL, OPT_ROOT},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"timer", required_argument, NULL, OPT_TIMER},
    {"tick", required_argument, NULL, OPT_TICK},
    {"tick-ms", required_argument, NULL, OPT_TICK_MS},
    {"header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT},
    {"body-timeout", required_argument, NULL, OPT_BODY_TIMEOUT},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"send-timeout", required_argument, NULL, OPT_SEND_TIMEOUT},
    {"shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN_TIMEOUT},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"max-header-bytes", required_argument, NULL, OPT_MAX_HEADER_BYTES},
    {"max-headers", required_argument, NULL, OPT_MAX_HEADERS},
    {"max-uri-bytes", required_argument, NULL, OPT_MAX_URI_BYTES},
    {"max-body-bytes", required_argument, NULL, OPT_MAX_BODY_BYTES},
    {"sendfile", required_argument, NULL, OPT_SENDFILE},
    {"file-cache", required_argument, NULL, OPT_FILE_CACHE},
    {"file-cache-bytes", required_argument, NULL, OPT_FILE_CACHE_BYTES},
    {"file-cache-valid", required_argument, NULL, OPT_FILE_CACHE_VALID},
    {"access-log", required_argument, NULL, OPT_ACCESS_LOG},
    {"error-log", required_argument, NULL, OPT_ERROR_LOG},
    {"user", required_argument, NULL, OPT_USER},
    {"log-not-found", required_argument, NULL, OPT_LOG_NOT_FOUND},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static int bad(FILE *err, const char *opt, const char *value, const char *why)
{
    fprintf(err, "tinyweb: %s '%s': %s (see --help)\n", opt, value, why);
    return 2;
}

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

static int parse_port(const char *s, char *out, size_t outlen)
{
    uint64_t port;
    if (parse_uint(s, 0, 65535, &port) != 0)
        return -EINVAL;
    snprintf(out, outlen, "%u", (unsigned)port);
    return 0;
}

/* "0.0.0.0:80", "[::1]:8080", or a bare address (the port stays as it is). */
static int parse_listen(const char *s, struct config *cfg)
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
    unsigned char addr[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, host, addr) != 1 && inet_pton(AF_INET6, host, addr) != 1)
        return -EINVAL;
    if (port && parse_port(port, cfg->port, sizeof(cfg->port)) != 0)
        return -EINVAL;
    snprintf(cfg->host, sizeof(cfg->host), "%s", host);
    return 0;
}

static int parse_flag(const char *s, bool *out)
{
    if (strcmp(s, "0") != 0 && strcmp(s, "1") != 0)
        return -EINVAL;
    *out = s[0] == '1';
    return 0;
}

static void set_defaults(struct config *cfg)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    *cfg = (struct config){
        .root = "www",
        .listen_et = true,
        .conn_et = true,
        .threads = cpus > 0 ? (int)cpus : 1,
        .access_log = "-",
        .log_not_found = true,
        .error_log = "-",
        .timer = TIMER_FIFO,
        .tick = TICK_EPOLL,
        .tick_ms = 100,
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
    };
    snprintf(cfg->host, sizeof(cfg->host), "0.0.0.0");
    snprintf(cfg->port, sizeof(cfg->port), "9006");
}

/* A duration from min_ms (0 or 1) to 24h. */
static int parse_duration(FILE *err, const char *opt, const char *s, uint64_t min_ms, uint64_t *out)
{
    if (units_parse_duration_ms(s, out) != 0 || *out < min_ms || *out > DAY_MS)
        return bad(err, opt, s,
                   min_ms ? "expected a duration from 1ms to 24h, e.g. 500ms, 15s, 2m"
                          : "expected a duration from 0 to 24h, e.g. 0, 500ms, 1s");
    return 0;
}

static int parse_size(FILE *err, const char *opt, const char *s, uint64_t min, uint64_t max,
                      uint64_t *out)
{
    if (units_parse_size(s, out) != 0 || *out < min || *out > max) {
        char why[96];
        snprintf(why, sizeof(why), "expected a size from %llu to %llu bytes (k, m suffixes)",
                 (unsigned long long)min, (unsigned long long)max);
        return bad(err, opt, s, why);
    }
    return 0;
}

/* Checks that hold between options, and the root. */
static int validate(struct config *cfg, FILE *err)
{
    if (cfg->tick == TICK_ALARM && cfg->threads != 1)
        return bad(err, "--tick", "alarm", "SIGALRM is process-wide: it needs -t 1");
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

int config_parse(struct config *cfg, int argc, char **argv, FILE *err)
{
    set_defaults(cfg);
    uint64_t v;
    int opt;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":p:m:o:t:c:l:hV", longopts, NULL)) != -1) {
        int rc = 0;
        switch (opt) {
        case 'p':
            if (parse_port(optarg, cfg->port, sizeof(cfg->port)) != 0)
                rc = bad(err, "-p", optarg, "expected a port from 0 to 65535");
            break;
        case 'm':
            if (parse_uint(optarg, 0, 3, &v) != 0) {
                rc =
                    bad(err, "-m", optarg, "expected 0 (LT+LT), 1 (LT+ET), 2 (ET+LT) or 3 (ET+ET)");
                break;
            }
            cfg->listen_et = v & 2;
            cfg->conn_et = v & 1;
            break;
        case 'o':
            if (parse_flag(optarg, &cfg->linger) != 0)
                rc = bad(err, "-o", optarg, "expected 0 or 1");
            break;
        case 't':
            if (parse_uint(optarg, 1, 256, &v) != 0)
                rc = bad(err, "-t", optarg, "expected 1 to 256 threads");
            else
                cfg->threads = (int)v;
            break;
        case 'c':
            if (parse_flag(optarg, &cfg->log_off) != 0)
                rc = bad(err, "-c", optarg, "expected 0 or 1");
            break;
        case 'l':
            if (parse_flag(optarg, &cfg->log_async) != 0)
                rc = bad(err, "-l", optarg, "expected 0 or 1");
            break;
        case OPT_ROOT:
            cfg->root = optarg;
            break;
        case OPT_LISTEN:
            if (parse_listen(optarg, cfg) != 0)
                rc = bad(err, "--listen", optarg,
                         "expected ADDR:PORT with a numeric address, e.g. 127.0.0.1:9006 or "
                         "[::1]:9006");
            break;
        case OPT_TIMER:
            if (timer_kind_parse(optarg, &cfg->timer) != 0)
                rc = bad(err, "--timer", optarg, "expected fifo or list");
            break;
        case OPT_TICK:
            if (tick_kind_parse(optarg, &cfg->tick) != 0)
                rc = bad(err, "--tick", optarg, "expected epoll, timerfd or alarm");
            break;
        case OPT_TICK_MS:
            rc = parse_duration(err, "--tick-ms", optarg, 1, &cfg->tick_ms);
            break;
        case OPT_HEADER_TIMEOUT:
            rc = parse_duration(err, "--header-timeout", optarg, 1, &cfg->header_timeout_ms);
            break;
        case OPT_BODY_TIMEOUT:
            rc = parse_duration(err, "--body-timeout", optarg, 1, &cfg->body_timeout_ms);
            break;
        case OPT_IDLE_TIMEOUT:
            rc = parse_duration(err, "--idle-timeout", optarg, 1, &cfg->idle_timeout_ms);
            break;
        case OPT_SEND_TIMEOUT:
            rc = parse_duration(err, "--send-timeout", optarg, 1, &cfg->send_timeout_ms);
            break;
        case OPT_SHUTDOWN_TIMEOUT:
            rc = parse_duration(err, "--shutdown-timeout", optarg, 1, &cfg->shutdown_timeout_ms);
            break;
        case OPT_MAX_CONNECTIONS:
            if (parse_uint(optarg, 1, 10000000, &cfg->max_connections) != 0)
                rc = bad(err, "--max-connections", optarg, "expected 1 to 10000000");
            break;
        case OPT_MAX_HEADER_BYTES:
            rc = parse_size(err, "--max-header-bytes", optarg, 256, 1024 * 1024,
                            &cfg->max_header_bytes);
            break;
        case OPT_MAX_HEADERS:
            if (parse_uint(optarg, 1, 10000, &cfg->max_headers) != 0)
                rc = bad(err, "--max-headers", optarg, "expected 1 to 10000");
            break;
        case OPT_MAX_URI_BYTES:
            rc = parse_size(err, "--max-uri-bytes", optarg, 16, 1024 * 1024, &cfg->max_uri_bytes);
            break;
        case OPT_MAX_BODY_BYTES:
            rc = parse_size(err, "--max-body-bytes", optarg, 0, UINT64_C(1) << 40,
                            &cfg->max_body_bytes);
            break;
        case OPT_SENDFILE:
            if (strcmp(optarg, "on") == 0)
                cfg->sendfile_min = 0;
            else if (strcmp(optarg, "off") == 0)
                cfg->sendfile_min = CONN_SENDFILE_OFF;
            else if (units_parse_size(optarg, &cfg->sendfile_min) != 0 ||
                     cfg->sendfile_min > (UINT64_C(1) << 50))
                rc = bad(err, "--sendfile", optarg, "expected on, off or a size such as 256k");
            break;
        case OPT_FILE_CACHE:
            if (parse_uint(optarg, 0, 1000000, &cfg->file_cache_entries) != 0)
                rc = bad(err, "--file-cache", optarg, "expected 0 to 1000000 files");
            break;
        case OPT_FILE_CACHE_BYTES:
            rc = parse_size(err, "--file-cache-bytes", optarg, 0, UINT64_C(1) << 40,
                            &cfg->file_cache_bytes);
            break;
        case OPT_FILE_CACHE_VALID:
            rc = parse_duration(err, "--file-cache-valid", optarg, 0, &cfg->file_cache_valid_ms);
            break;
        case OPT_ACCESS_LOG:
            cfg->access_log = optarg;
            break;
        case OPT_ERROR_LOG:
            if (strcmp(optarg, "off") == 0)
                rc = bad(err, "--error-log", optarg, "expected a file or - (use -c 1 for none)");
            cfg->error_log = optarg;
            break;
        case OPT_LOG_NOT_FOUND:
            if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0)
                rc = bad(err, "--log-not-found", optarg, "expected on or off");
            cfg->log_not_found = strcmp(optarg, "on") == 0;
            break;
        case OPT_USER:
            if (!optarg[0] || !getpwnam(optarg))
                rc = bad(err, "--user", optarg, "no such user");
            cfg->user = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 1;
        case 'V':
            printf("tinyweb " TINYWEB_VERSION "\n");
            return 1;
        case ':':
            rc = bad(err, argv[optind - 1], "", "missing value");
            break;
        default:
            rc = bad(err, "option", argv[optind - 1], "unknown option");
            break;
        }
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return bad(err, "argument", argv[optind], "unexpected; options only");
    return validate(cfg, err);
}
