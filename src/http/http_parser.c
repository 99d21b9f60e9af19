/*
 * HTTP/1.1 request heads and chunked bodies. The head parser walks the bytes once, left to
 * right, with one table lookup per byte; it records what the framing fields say as each field
 * line completes and judges them once the head is complete. The chunked decoder is a byte state
 * machine for the framing that moves chunk data down with memmove, in bulk.
 */
#include "http/http_parser.h"

#include <limits.h>
#include <string.h>

/* Internal results: 0 is success, a positive value an HTTP status to answer. */
#define INCOMPLETE HTTP_PARSE_INCOMPLETE

/* The largest body length or chunk size accepted: it fits an off_t. */
#define BODY_MAX ((uint64_t)INT64_MAX)

/* Byte classes, as bits of cclass[]. */
enum {
    C_TCHAR = 1,  /* tchar (RFC 9110 §5.6.2): the bytes of methods, field names and codings */
    C_VALUE = 2,  /* field-value bytes: VCHAR, obs-text, SP, HTAB */
    C_TARGET = 4, /* request-target bytes: VCHAR and obs-text */
    C_HOST = 8,   /* reg-name bytes (RFC 3986): unreserved and sub-delims; '%' is handled apart */
    C_HEX = 16,   /* HEXDIG, either case */
};

/* clang-format off */
static const unsigned char cclass[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  2,  0,  0,  0,  0,  0,  0, /* 0x00 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, /* 0x10 */
     2, 15,  6,  7, 15,  7, 15, 15, 14, 14, 15, 15, 14, 15, 15,  6, /* 0x20 */
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31,  6, 14,  6, 14,  6,  6, /* 0x30 */
     6, 31, 31, 31, 31, 31, 31, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x40 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  6,  6,  6,  7, 15, /* 0x50 */
     7, 31, 31, 31, 31, 31, 31, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x60 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  6,  7,  6, 15,  0, /* 0x70 */
     6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6, /* 0x80 */
     6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6, /* 0x90 */
     6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6, /* 0xa0 */
     6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6, /* 0xb0 */
     6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6, /* 0xc0 */
     6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6, /* 0xd0 */
     6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6, /* 0xe0 */
     6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6, /* 0xf0 */
};
/* clang-format on */

static inline bool in_class(unsigned char c, int cls)
{
    return (cclass[c] & cls) != 0;
}

static inline bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static inline unsigned hex_value(unsigned char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Whether p[0, n) equals the lowercase literal lit, ignoring ASCII case. */
static bool ieq(const char *p, size_t n, const char *lit, size_t lit_len)
{
    if (n != lit_len)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        if (c != (unsigned char)lit[i])
            return false;
    }
    return true;
}

#define IEQ(s, lit) ieq((s).p, (s).len, lit, sizeof(lit) - 1)

static const char *const method_names[] = {
    [HTTP_GET] = "GET",     [HTTP_HEAD] = "HEAD",     [HTTP_POST] = "POST",
    [HTTP_PUT] = "PUT",     [HTTP_DELETE] = "DELETE", [HTTP_OPTIONS] = "OPTIONS",
    [HTTP_PATCH] = "PATCH", [HTTP_TRACE] = "TRACE",   [HTTP_CONNECT] = "CONNECT",
    [HTTP_OTHER] = "OTHER",
};

const char *http_method_name(enum http_method m)
{
    if ((unsigned)m > HTTP_OTHER)
        return "OTHER";
    return method_names[m];
}

static enum http_method method_of(const char *p, size_t n)
{
    for (int m = HTTP_GET; m < HTTP_OTHER; m++) {
        const char *name = method_names[m];
        if (strlen(name) == n && memcmp(name, p, n) == 0)
            return (enum http_method)m;
    }
    return HTTP_OTHER;
}

/* A comma-separated list (RFC 9110 §5.6.1) being walked. */
struct list {
    const char *p, *end;
    bool done;
};

static struct list list_of(struct http_str v)
{
    return (struct list){.p = v.p, .end = v.p + v.len, .done = false};
}

/*
 * The next element of l, without its surrounding whitespace. Empty elements are returned too,
 * so that callers that must not see them can refuse them. Returns false once l is exhausted.
 */
static bool list_next(struct list *l, struct http_str *elem)
{
    if (l->done)
        return false;
    const char *s = l->p;
    const char *e = memchr(s, ',', (size_t)(l->end - s));
    if (e != NULL) {
        l->p = e + 1;
    } else {
        e = l->end;
        l->done = true;
    }
    while (s < e && is_ows(*s))
        s++;
    while (e > s && is_ows(e[-1]))
        e--;
    elem->p = s;
    elem->len = (size_t)(e - s);
    return true;
}

/*
 * Whether p[0, n) is uri-host [":" port] (RFC 3986 §3.2.2; RFC 9110 §7.2): an IP-literal in
 * brackets (hex digits, ':' and '.'), or a reg-name of unreserved, sub-delims and
 * percent-escapes, which also covers IPv4 addresses. The host may be empty unless need_host; the
 * port must be present and non-empty when need_port. ".." is refused in a reg-name, as nginx does,
 * because a host name is sometimes used to pick a directory.
 */
static bool valid_host(const char *p, size_t n, bool need_host, bool need_port)
{
    size_t i = 0;
    if (n > 0 && p[0] == '[') {
        for (i = 1; i < n && p[i] != ']'; i++) {
            if (!in_class((unsigned char)p[i], C_HEX) && p[i] != ':' && p[i] != '.')
                return false;
        }
        if (i == n || i == 1)
            return false;
        i++;
    } else {
        while (i < n && p[i] != ':') {
            unsigned char c = (unsigned char)p[i];
            if (c == '%') {
                if (n - i < 3 || !in_class((unsigned char)p[i + 1], C_HEX) ||
                    !in_class((unsigned char)p[i + 2], C_HEX))
                    return false;
                i += 3;
            } else if (c == '.' && i > 0 && p[i - 1] == '.') {
                return false;
            } else if (in_class(c, C_HOST)) {
                i++;
            } else {
                return false;
            }
        }
        if (need_host && i == 0)
            return false;
    }
    if (i == n)
        return !need_port;
    if (p[i] != ':')
        return false;
    size_t port = ++i;
    while (i < n && is_digit(p[i]))
        i++;
    return i == n && !(need_port && i == port);
}

/* Splits the path of an origin-form target, or of an absolute-form one, from its query. */
static void split_path(struct http_request *req, const char *p, const char *end)
{
    const char *q = p;
    while (q < end && *q != '?' && *q != '#')
        q++;
    req->path.p = p;
    req->path.len = (size_t)(q - p);
    if (q < end && *q == '?') {
        const char *f = ++q;
        while (f < end && *f != '#')
            f++;
        req->query.p = q;
        req->query.len = (size_t)(f - q);
    }
}

/*
 * Classifies the request-target (RFC 9112 §3.2) and fills path, query and, for the forms that
 * carry an authority, host. Returns 0 or 400.
 */
static int parse_target(struct http_request *req)
{
    const char *t = req->target.p, *end = t + req->target.len;
    size_t n = req->target.len;

    if (t[0] == '/') {
        if (req->method == HTTP_CONNECT)
            return 400;
        split_path(req, t, end);
        return 0;
    }
    if (n == 1 && t[0] == '*') {
        if (req->method != HTTP_OPTIONS)
            return 400;
        req->path = req->target;
        return 0;
    }
    if (req->method == HTTP_CONNECT) {
        if (!valid_host(t, n, true, true))
            return 400;
        req->host = req->target;
        req->path.p = t;
        return 0;
    }

    size_t scheme;
    if (n >= 7 && ieq(t, 7, "http://", 7))
        scheme = 7;
    else if (n >= 8 && ieq(t, 8, "https://", 8))
        scheme = 8;
    else
        return 400;
    const char *a = t + scheme, *ae = a;
    while (ae < end && *ae != '/' && *ae != '?' && *ae != '#')
        ae++;
    if (!valid_host(a, (size_t)(ae - a), true, false))
        return 400;
    req->host.p = a;
    req->host.len = (size_t)(ae - a);
    split_path(req, ae, end);
    if (req->path.len == 0) {
        /* An empty path stands for "/" (RFC 9112 §3.2.1), which is not in the buffer. */
        req->path.p = "/";
        req->path.len = 1;
    }
    return 0;
}

/*
 * Parses the request line from buf[*pos, n), after the leading empty lines. On success *pos is
 * past its line terminator. Returns 0, INCOMPLETE, or 400, 414 or 505.
 */
static int parse_request_line(const char *buf, size_t n, size_t *pos, const struct http_limits *lim,
                              struct http_request *req)
{
    size_t i = *pos;

    size_t m = i;
    while (i < n && in_class((unsigned char)buf[i], C_TCHAR))
        i++;
    if (i == n)
        return INCOMPLETE;
    if (buf[i] != ' ' || i == m)
        return 400;
    req->method_name.p = buf + m;
    req->method_name.len = i - m;
    req->method = method_of(buf + m, i - m);

    /* Exactly one SP: a second one makes an empty target. */
    size_t t = ++i;
    while (i < n && buf[i] != ' ') {
        if (!in_class((unsigned char)buf[i], C_TARGET))
            return 400;
        if (i - t == lim->max_uri_bytes)
            return 414;
        i++;
    }
    if (i == n)
        return INCOMPLETE;
    if (i == t)
        return 400;
    req->target.p = buf + t;
    req->target.len = i - t;
    i++;

    /* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3). */
    static const char version[] = "HTTP/x.y";
    for (size_t k = 0; k < sizeof(version) - 1; k++, i++) {
        if (i == n)
            return INCOMPLETE;
        char c = buf[i];
        bool ok = (version[k] == 'x' || version[k] == 'y') ? is_digit(c) : c == version[k];
        if (!ok)
            return 400;
    }
    int major = buf[i - 3] - '0', minor = buf[i - 1] - '0';
    if (i == n)
        return INCOMPLETE;
    if (buf[i] == '\r') {
        if (++i == n)
            return INCOMPLETE;
    }
    if (buf[i] != '\n')
        return 400;
    *pos = i + 1;

    if (major != 1)
        return 505;
    req->minor = minor == 0 ? 0 : 1;
    return parse_target(req);
}

/* What the framing fields said, gathered while the field lines are read. */
struct fields {
    size_t hosts;
    struct http_str host;
    bool bad_content_length;
    bool te;
    bool te_bad;     /* a malformed element, a doubled "chunked", or an empty list */
    bool te_unknown; /* a coding other than chunked, or chunked with parameters */
    bool te_last_chunked;
    size_t te_elements, te_chunked;
    bool conn_close, conn_keep_alive;
    bool expect_continue, expect_bad;
};

enum field_kind {
    F_OTHER,
    F_HOST,
    F_CONNECTION,
    F_TRANSFER_ENCODING,
    F_CONTENT_LENGTH,
    F_EXPECT,
    F_IF_MATCH,
    F_IF_UNMODIFIED_SINCE,
    F_IF_NONE_MATCH,
    F_IF_MODIFIED_SINCE,
    F_RANGE,
    F_IF_RANGE,
    F_REFERER,
    F_USER_AGENT,
};

static const struct {
    const char *name;
    size_t len;
    enum field_kind kind;
} known_fields[] = {
    {"host", 4, F_HOST},
    {"connection", 10, F_CONNECTION},
    {"transfer-encoding", 17, F_TRANSFER_ENCODING},
    {"content-length", 14, F_CONTENT_LENGTH},
    {"expect", 6, F_EXPECT},
    {"if-match", 8, F_IF_MATCH},
    {"if-unmodified-since", 19, F_IF_UNMODIFIED_SINCE},
    {"if-none-match", 13, F_IF_NONE_MATCH},
    {"if-modified-since", 17, F_IF_MODIFIED_SINCE},
    {"range", 5, F_RANGE},
    {"if-range", 8, F_IF_RANGE},
    {"referer", 7, F_REFERER},
    {"user-agent", 10, F_USER_AGENT},
};

static enum field_kind field_kind(struct http_str name)
{
    for (size_t i = 0; i < sizeof(known_fields) / sizeof(known_fields[0]); i++) {
        if (ieq(name.p, name.len, known_fields[i].name, known_fields[i].len))
            return known_fields[i].kind;
    }
    return F_OTHER;
}

/*
 * Content-Length = 1*DIGIT, possibly repeated as a list or in several fields (RFC 9110 §8.6):
 * identical values are one value, differing ones or anything but digits make the framing unknown.
 */
static void note_content_length(struct http_request *req, struct fields *f, struct http_str v)
{
    struct list l = list_of(v);
    struct http_str e;
    while (list_next(&l, &e)) {
        if (e.len == 0) {
            f->bad_content_length = true;
            return;
        }
        uint64_t n = 0;
        for (size_t i = 0; i < e.len; i++) {
            unsigned d = (unsigned)(e.p[i] - '0');
            if (d > 9 || n > (BODY_MAX - d) / 10) {
                f->bad_content_length = true;
                return;
            }
            n = n * 10 + d;
        }
        if (req->has_content_length && req->content_length != n) {
            f->bad_content_length = true;
            return;
        }
        req->has_content_length = true;
        req->content_length = n;
    }
}

/*
 * Transfer-Encoding = #transfer-coding (RFC 9112 §6.1), where a coding is a token with optional
 * parameters. Several fields form one list, in order.
 */
static void note_transfer_encoding(struct fields *f, struct http_str v)
{
    struct list l = list_of(v);
    struct http_str e;
    f->te = true;
    while (list_next(&l, &e)) {
        if (e.len == 0)
            continue;
        size_t i = 0;
        while (i < e.len && in_class((unsigned char)e.p[i], C_TCHAR))
            i++;
        size_t tok = i;
        while (i < e.len && is_ows(e.p[i]))
            i++;
        if (tok == 0 || (i < e.len && e.p[i] != ';')) {
            f->te_bad = true;
            continue;
        }
        f->te_elements++;
        f->te_last_chunked = i == e.len && ieq(e.p, tok, "chunked", 7);
        if (f->te_last_chunked)
            f->te_chunked++;
        else
            f->te_unknown = true;
    }
}

/* Connection = #connection-option; only "close" and "keep-alive" matter here. */
static void note_connection(struct fields *f, struct http_str v)
{
    struct list l = list_of(v);
    struct http_str e;
    while (list_next(&l, &e)) {
        if (IEQ(e, "close"))
            f->conn_close = true;
        else if (IEQ(e, "keep-alive"))
            f->conn_keep_alive = true;
    }
}

/* Expect = #expectation; "100-continue" is the only one defined (RFC 9110 §10.1.1). */
static void note_expect(struct fields *f, struct http_str v)
{
    struct list l = list_of(v);
    struct http_str e;
    while (list_next(&l, &e)) {
        if (IEQ(e, "100-continue"))
            f->expect_continue = true;
        else if (e.len != 0)
            f->expect_bad = true;
    }
}

static void note_first(struct http_str *slot, struct http_str v)
{
    if (slot->p == NULL)
        *slot = v;
}

static void note_field(struct http_request *req, struct fields *f, const struct http_header *h)
{
    switch (field_kind(h->name)) {
    case F_HOST:
        if (f->hosts++ == 0)
            f->host = h->value;
        break;
    case F_CONNECTION:
        note_connection(f, h->value);
        break;
    case F_TRANSFER_ENCODING:
        note_transfer_encoding(f, h->value);
        break;
    case F_CONTENT_LENGTH:
        note_content_length(req, f, h->value);
        break;
    case F_EXPECT:
        note_expect(f, h->value);
        break;
    case F_IF_MATCH:
        note_first(&req->if_match, h->value);
        break;
    case F_IF_UNMODIFIED_SINCE:
        note_first(&req->if_unmodified_since, h->value);
        break;
    case F_IF_NONE_MATCH:
        note_first(&req->if_none_match, h->value);
        break;
    case F_IF_MODIFIED_SINCE:
        note_first(&req->if_modified_since, h->value);
        break;
    case F_RANGE:
        note_first(&req->range, h->value);
        break;
    case F_IF_RANGE:
        note_first(&req->if_range, h->value);
        break;
    case F_REFERER:
        note_first(&req->referer, h->value);
        break;
    case F_USER_AGENT:
        note_first(&req->user_agent, h->value);
        break;
    case F_OTHER:
        break;
    }
}

/* Judges the head once it is complete, in the order the header file documents. */
static int finish(struct http_request *req, struct fields *f)
{
    if (f->hosts > 1 || (req->minor == 1 && f->hosts == 0))
        return 400;
    if (f->hosts == 1 && !valid_host(f->host.p, f->host.len, false, false))
        return 400;
    if (req->host.p == NULL && f->hosts == 1)
        req->host = f->host;
    if (f->bad_content_length)
        return 400;
    if (f->te) {
        /*
         * RFC 9112 §6.1 and §6.3: Transfer-Encoding in HTTP/1.0 or next to Content-Length makes
         * the framing faulty. We decode chunked only, so any other coding is not implemented.
         */
        if (req->minor == 0 || req->has_content_length)
            return 400;
        if (f->te_bad || f->te_elements == 0 || f->te_chunked > 1)
            return 400;
        if (f->te_unknown || !f->te_last_chunked)
            return 501;
        req->chunked = true;
    }
    if (req->minor == 1)
        req->keep_alive = !f->conn_close;
    else
        req->keep_alive = f->conn_keep_alive && !f->conn_close;
    /* An HTTP/1.0 client cannot wait for 100 Continue: RFC 9110 §10.1.1 says to ignore it. */
    req->expect_continue = f->expect_continue && req->minor == 1;
    if (f->expect_bad)
        return 417;
    return 0;
}

/*
 * Parses a whole head from buf[0, n). Returns its length, INCOMPLETE, or minus the status of an
 * error, so that one int carries all three.
 */
static int parse_head(const char *buf, size_t n, const struct http_limits *lim,
                      struct http_request *req)
{
    size_t i = 0;

    /* RFC 9112 §2.2: empty lines before the request line are ignored. */
    for (;;) {
        if (i == n)
            return INCOMPLETE;
        if (buf[i] == '\n') {
            i++;
        } else if (buf[i] == '\r') {
            if (i + 1 == n)
                return INCOMPLETE;
            if (buf[i + 1] != '\n')
                return -400;
            i += 2;
        } else {
            break;
        }
    }

    int r = parse_request_line(buf, n, &i, lim, req);
    if (r != 0)
        return r == INCOMPLETE ? INCOMPLETE : -r;

    struct fields f = {0};
    for (;;) {
        if (i == n)
            return INCOMPLETE;
        char c = buf[i];
        if (c == '\r') {
            if (i + 1 == n)
                return INCOMPLETE;
            if (buf[i + 1] != '\n')
                return -400;
            i += 2;
            break;
        }
        if (c == '\n') {
            i++;
            break;
        }
        /* A line that starts with whitespace is obs-fold, or whitespace before the first field. */
        if (is_ows(c))
            return -400;
        if (req->nheaders == lim->max_headers)
            return -431;

        size_t name = i;
        while (i < n && in_class((unsigned char)buf[i], C_TCHAR))
            i++;
        if (i == n)
            return INCOMPLETE;
        if (buf[i] != ':' || i == name)
            return -400;
        size_t name_end = i++;
        while (i < n && is_ows(buf[i]))
            i++;
        size_t value = i;
        while (i < n && in_class((unsigned char)buf[i], C_VALUE))
            i++;
        if (i == n)
            return INCOMPLETE;
        size_t value_end = i;
        if (buf[i] == '\r') {
            if (++i == n)
                return INCOMPLETE;
        }
        if (buf[i] != '\n')
            return -400;
        i++;
        while (value_end > value && is_ows(buf[value_end - 1]))
            value_end--;

        struct http_header *h = &req->headers[req->nheaders++];
        h->name.p = buf + name;
        h->name.len = name_end - name;
        h->value.p = buf + value;
        h->value.len = value_end - value;
        note_field(req, &f, h);
    }

    r = finish(req, &f);
    if (r != 0)
        return -r;
    return (int)i;
}

/*
 * Whether buf[from, len) may end a head: it holds the end of an empty line, "\n\n" or "\n\r\n",
 * reaching back three bytes to catch one split across calls.
 */
static bool may_end_head(const char *buf, size_t from, size_t len)
{
    size_t i = from >= 3 ? from - 3 : 0;
    for (;;) {
        const char *lf = memchr(buf + i, '\n', len - i);
        if (lf == NULL)
            return false;
        i = (size_t)(lf - buf) + 1;
        if (i == len)
            return false;
        if (buf[i] == '\n' || (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n'))
            return true;
    }
}

int http_parse_request(const char *buf, size_t len, size_t last_len, const struct http_limits *lim,
                       struct http_request *req, int *status)
{
    size_t max = lim->max_header_bytes < INT_MAX ? lim->max_header_bytes : INT_MAX;

    /*
     * Bytes past the limit are never looked at, so the answer for a prefix never depends on what
     * follows it: every call returns the same status once one has found an error.
     */
    if (last_len > 0 && last_len <= len && len < max && !may_end_head(buf, last_len, len))
        return HTTP_PARSE_INCOMPLETE;

    struct http_header *headers = req->headers;
    memset(req, 0, sizeof(*req));
    req->headers = headers;

    int r = parse_head(buf, len < max ? len : max, lim, req);
    if (r == INCOMPLETE && len >= max)
        r = -431;
    if (r == INCOMPLETE)
        return HTTP_PARSE_INCOMPLETE;
    if (r < 0) {
        *status = -r;
        return HTTP_PARSE_ERROR;
    }
    return r;
}

/* The chunked decoder's states, one per place in the grammar (RFC 9112 §7.1). */
enum {
    CH_SIZE_FIRST, /* the first hex digit of a chunk-size */
    CH_SIZE,       /* more hex digits, BWS, ';' or CR */
    CH_SIZE_BWS,   /* whitespace after the size: more of it, ';' or CR */
    CH_EXT,        /* a chunk-ext, up to CR */
    CH_SIZE_LF,    /* the LF that ends the chunk-size line */
    CH_DATA,       /* chunk data: remaining bytes to go */
    CH_DATA_CR,    /* the CRLF after the data */
    CH_DATA_LF,
    CH_TRAILER, /* the start of a trailer line, or the CR of the final CRLF */
    CH_TRAILER_NAME,
    CH_TRAILER_VALUE,
    CH_TRAILER_LF,
    CH_END_LF, /* the LF of the final CRLF */
    CH_DONE,
    CH_ERROR,
};

void http_chunked_init(struct http_chunked *d)
{
    d->remaining = 0;
    d->line = 0;
    d->state = CH_SIZE_FIRST;
}

/* The state after c, once a chunk-size has its first digit: BWS, an extension or the CR. */
static int after_size(unsigned char c)
{
    if (is_ows((char)c))
        return CH_SIZE_BWS;
    if (c == ';')
        return CH_EXT;
    if (c == '\r')
        return CH_SIZE_LF;
    return CH_ERROR;
}

/* The state after c in any framing state, or CH_ERROR. May update d->remaining and d->line. */
static int chunk_step(struct http_chunked *d, unsigned char c)
{
    switch (d->state) {
    case CH_SIZE_FIRST:
        if (!in_class(c, C_HEX))
            return CH_ERROR;
        d->remaining = hex_value(c);
        return CH_SIZE;
    case CH_SIZE:
        if (in_class(c, C_HEX)) {
            unsigned v = hex_value(c);
            if (d->remaining > (BODY_MAX - v) / 16)
                return CH_ERROR;
            d->remaining = d->remaining * 16 + v;
            return CH_SIZE;
        }
        return after_size(c);
    case CH_SIZE_BWS:
        return after_size(c);
    case CH_EXT:
        if (c == '\r')
            return CH_SIZE_LF;
        return in_class(c, C_VALUE) ? CH_EXT : CH_ERROR;
    case CH_SIZE_LF:
        if (c != '\n')
            return CH_ERROR;
        if (d->remaining > 0)
            return CH_DATA;
        d->line = 0;
        return CH_TRAILER;
    case CH_DATA_CR:
        return c == '\r' ? CH_DATA_LF : CH_ERROR;
    case CH_DATA_LF:
        return c == '\n' ? CH_SIZE_FIRST : CH_ERROR;
    case CH_TRAILER:
        if (c == '\r')
            return CH_END_LF;
        return in_class(c, C_TCHAR) ? CH_TRAILER_NAME : CH_ERROR;
    case CH_TRAILER_NAME:
        if (c == ':')
            return CH_TRAILER_VALUE;
        return in_class(c, C_TCHAR) ? CH_TRAILER_NAME : CH_ERROR;
    case CH_TRAILER_VALUE:
        if (c == '\r')
            return CH_TRAILER_LF;
        return in_class(c, C_VALUE) ? CH_TRAILER_VALUE : CH_ERROR;
    case CH_TRAILER_LF:
        return c == '\n' ? CH_TRAILER : CH_ERROR;
    case CH_END_LF:
        return c == '\n' ? CH_DONE : CH_ERROR;
    default:
        return CH_ERROR;
    }
}

ssize_t http_chunked_decode(struct http_chunked *d, char *buf, size_t *len)
{
    size_t n = *len, src = 0, dst = 0;

    if (d->state == CH_DONE) {
        *len = 0;
        return (ssize_t)n;
    }
    while (src < n && d->state != CH_ERROR) {
        if (d->state == CH_DATA) {
            size_t take = n - src;
            if (d->remaining < take)
                take = (size_t)d->remaining;
            if (dst != src)
                memmove(buf + dst, buf + src, take);
            dst += take;
            src += take;
            d->remaining -= take;
            if (d->remaining == 0)
                d->state = CH_DATA_CR;
            continue;
        }

        /* Size lines and the trailer section are bounded, so that neither can go on forever. */
        if (d->state == CH_SIZE_FIRST)
            d->line = 0;
        size_t max = d->state <= CH_SIZE_LF ? HTTP_CHUNK_LINE_MAX : HTTP_CHUNK_TRAILERS_MAX;
        if (d->state >= CH_DATA_CR && d->state <= CH_DATA_LF)
            max = SIZE_MAX;
        if (++d->line > max) {
            d->state = CH_ERROR;
            break;
        }
        d->state = chunk_step(d, (unsigned char)buf[src++]);
        if (d->state == CH_DONE) {
            *len = dst;
            return (ssize_t)(n - src);
        }
    }
    *len = dst;
    return d->state == CH_ERROR ? HTTP_PARSE_ERROR : HTTP_PARSE_INCOMPLETE;
}
