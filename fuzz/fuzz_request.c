/*
 * libFuzzer harness for the request head parser and the chunked body decoder
 * (src/http/http_parser.h).
 *
 * The input is a byte stream as a client would send it. Each head in it is parsed in one call,
 * then again fed incrementally the way http_conn.c does: a growing prefix, cut at 1 to 4 points
 * drawn from a hash of the input (and, for short inputs, one byte at a time too), each call given
 * the previous incomplete length as the last_len hint. The incremental answer must be the
 * one-shot answer: the same length, the same status, and the same slices for every field. The
 * hint may only postpone an error until the head ends, as the header allows, so an incremental
 * INCOMPLETE against a one-shot error is accepted once the same error shows when the head ends.
 *
 * After a head, a chunked body is decoded whole and split the same way; when the input is not a
 * request at all, it is decoded as a chunked body from its first byte. Decoded bytes, the result
 * and the bytes left after the body must not depend on the split. Pipelined requests after a body
 * are checked in turn.
 *
 * Every difference or broken invariant calls abort() after a line on stderr saying what it was,
 * so that libFuzzer saves the input as a crash.
 */
#include "http/http_parser.h"
#include "fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* More than any limit below, so a 431 for too many fields comes from the limit, not the array. */
#define MAX_HEADERS 128
/* Requests checked per input: enough for pipelining, bounded so that one input stays fast. */
#define MAX_PIPELINE 8
/* Inputs up to this length are also fed one byte per call: O(n^2) one-shot checks are cheap. */
#define BYTEWISE_MAX 256

/* One parse result with its own header array, so two results can be compared. */
struct parsed {
    int ret;
    int status;
    struct http_request req;
    struct http_header headers[MAX_HEADERS];
};

/* A small deterministic generator (splitmix64): the same input always gives the same splits. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/*
 * Limits: usually generous, like the server's defaults, so that the interesting answers come from
 * the syntax; one input in four gets tight ones, so that 414, 431 and the hint's size limit are
 * reached too.
 */
static struct http_limits pick_limits(uint64_t *rnd)
{
    uint64_t r = next_random(rnd);
    if (r % 4 != 0)
        return (struct http_limits){
            .max_header_bytes = 16 * 1024, .max_headers = 100, .max_uri_bytes = 8 * 1024};
    return (struct http_limits){.max_header_bytes = 1 + (r >> 8) % 600,
                                .max_headers = (r >> 24) % 8,
                                .max_uri_bytes = (r >> 32) % 80};
}

static void parse(struct parsed *out, const char *buf, size_t len, size_t last_len,
                  const struct http_limits *lim)
{
    out->status = -1;
    out->req.headers = out->headers;
    out->ret = http_parse_request(buf, len, last_len, lim, &out->req, &out->status);
    CHECK(out->ret > 0 || out->ret == HTTP_PARSE_ERROR || out->ret == HTTP_PARSE_INCOMPLETE,
          "unexpected return value");
    /* The header promises the status only for errors; nothing else may write it. */
    if (out->ret != HTTP_PARSE_ERROR)
        CHECK(out->status == -1, "status written without an error");
    else
        CHECK(out->status == 400 || out->status == 414 || out->status == 417 ||
                  out->status == 431 || out->status == 501 || out->status == 505,
              "error status outside the documented set");
}

/* Whether the fields are meaningful: on success, and on 417 (the header says so). */
static bool has_fields(const struct parsed *p)
{
    return p->ret > 0 || (p->ret == HTTP_PARSE_ERROR && p->status == 417);
}

static void same_str(struct http_str a, struct http_str b, const char *what)
{
    /* Both parses read the same buffer, so equal fields are equal slices, pointers included. */
    CHECK(a.p == b.p && a.len == b.len, what);
}

static void same_result(const struct parsed *a, const struct parsed *b)
{
    CHECK(a->ret == b->ret, "return value differs");
    if (a->ret == HTTP_PARSE_ERROR)
        CHECK(a->status == b->status, "status differs");
    if (!has_fields(a))
        return;
    const struct http_request *x = &a->req, *y = &b->req;
    CHECK(x->method == y->method, "method differs");
    same_str(x->method_name, y->method_name, "method name differs");
    same_str(x->target, y->target, "target differs");
    same_str(x->path, y->path, "path differs");
    same_str(x->query, y->query, "query differs");
    CHECK(x->minor == y->minor, "minor version differs");
    CHECK(x->nheaders == y->nheaders, "header count differs");
    for (size_t i = 0; i < x->nheaders; i++) {
        same_str(x->headers[i].name, y->headers[i].name, "header name differs");
        same_str(x->headers[i].value, y->headers[i].value, "header value differs");
    }
    CHECK(x->keep_alive == y->keep_alive, "keep_alive differs");
    CHECK(x->chunked == y->chunked, "chunked differs");
    CHECK(x->has_content_length == y->has_content_length, "has_content_length differs");
    CHECK(x->content_length == y->content_length, "content_length differs");
    CHECK(x->expect_continue == y->expect_continue, "expect_continue differs");
    same_str(x->host, y->host, "host differs");
    same_str(x->if_match, y->if_match, "if_match differs");
    same_str(x->if_unmodified_since, y->if_unmodified_since, "if_unmodified_since differs");
    same_str(x->if_none_match, y->if_none_match, "if_none_match differs");
    same_str(x->if_modified_since, y->if_modified_since, "if_modified_since differs");
    same_str(x->range, y->range, "range differs");
    same_str(x->if_range, y->if_range, "if_range differs");
    same_str(x->referer, y->referer, "referer differs");
    same_str(x->user_agent, y->user_agent, "user_agent differs");
}

static bool ieq(struct http_str s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s.p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return false;
    }
    return true;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The next comma-separated element of *rest, trimmed of OWS; false when *rest is used up. */
/* An oracle: it re-derives the list rule on purpose rather than reuse the parser's list_next(). */
static bool next_element(struct http_str *rest, struct http_str *elem, bool *more)
{
    if (!*more)
        return false;
    const char *p = rest->p, *end = rest->p + rest->len;
    const char *comma = memchr(p, ',', rest->len);
    const char *e = comma ? comma : end;
    *more = comma != NULL;
    if (comma) {
        rest->p = comma + 1;
        rest->len = (size_t)(end - rest->p);
    }
    while (p < e && is_ows(*p))
        p++;
    while (e > p && is_ows(e[-1]))
        e--;
    elem->p = p;
    elem->len = (size_t)(e - p);
    return true;
}

static bool within(struct http_str s, const char *lo, const char *hi)
{
    return s.p >= lo && s.p + s.len <= hi;
}

/*
 * Invariants of a successful head, checked against the raw header fields rather than the parser's
 * own bookkeeping: the framing a proxy in front of us would see must be the framing we use, or a
 * request could be smuggled past it.
 */
static void check_success(const struct parsed *p, const char *buf, size_t len,
                          const struct http_limits *lim)
{
    const struct http_request *r = &p->req;
    size_t head = (size_t)p->ret;
    const char *end = buf + head;
    CHECK(head <= len && head <= lim->max_header_bytes, "head longer than allowed");
    CHECK(buf[head - 1] == '\n', "head does not end with a line feed");
    CHECK(r->minor == 0 || r->minor == 1, "minor version not 0 or 1");
    CHECK(r->nheaders <= lim->max_headers, "more fields than max_headers");
    CHECK(within(r->method_name, buf, end) && r->method_name.len > 0, "method name outside head");
    if (r->method != HTTP_OTHER) {
        const char *name = http_method_name(r->method);
        CHECK(strlen(name) == r->method_name.len &&
                  memcmp(name, r->method_name.p, r->method_name.len) == 0,
              "method does not match its name");
    }
    CHECK(within(r->target, buf, end) && r->target.len > 0, "target outside head");
    CHECK(r->target.len <= lim->max_uri_bytes, "target longer than max_uri_bytes");
    for (size_t i = 0; i < r->target.len; i++) {
        unsigned char c = (unsigned char)r->target.p[i];
        CHECK(c > 0x20 && c != 0x7f, "control byte or space in the target");
    }
    bool static_root = r->path.len == 1 && r->path.p[0] == '/';
    CHECK(within(r->path, r->target.p, r->target.p + r->target.len) || static_root,
          "path outside target");
    CHECK(r->query.p == NULL || within(r->query, r->target.p, r->target.p + r->target.len),
          "query outside target");
    if (r->method != HTTP_CONNECT)
        CHECK(r->path.len > 0, "empty path");

    size_t hosts = 0, te = 0, cl = 0;
    bool close = false, keep = false;
    for (size_t i = 0; i < r->nheaders; i++) {
        struct http_str n = r->headers[i].name, v = r->headers[i].value;
        CHECK(within(n, buf, end) && within(v, buf, end), "field outside head");
        CHECK(n.len > 0, "empty field name");
        for (size_t k = 0; k < n.len; k++)
            CHECK(n.p[k] > 0x20 && n.p[k] != ':' && (unsigned char)n.p[k] < 0x7f,
                  "bad byte in a field name");
        for (size_t k = 0; k < v.len; k++)
            CHECK(v.p[k] != '\r' && v.p[k] != '\n' && v.p[k] != '\0', "CR, LF or NUL in a value");
        CHECK(v.len == 0 || (!is_ows(v.p[0]) && !is_ows(v.p[v.len - 1])), "value not trimmed");
        struct http_str rest = v, e;
        bool more = true;
        if (ieq(n, "host")) {
            hosts++;
        } else if (ieq(n, "transfer-encoding")) {
            te++;
        } else if (ieq(n, "content-length")) {
            cl++;
            /* Every element of every Content-Length field must be the one length we use. */
            while (next_element(&rest, &e, &more)) {
                uint64_t value = 0;
                CHECK(e.len > 0, "empty Content-Length element accepted");
                for (size_t k = 0; k < e.len; k++) {
                    CHECK(e.p[k] >= '0' && e.p[k] <= '9', "non-digit Content-Length accepted");
                    CHECK(value <= (UINT64_MAX - 9) / 10, "Content-Length overflow accepted");
                    value = value * 10 + (uint64_t)(e.p[k] - '0');
                }
                CHECK(value == r->content_length,
                      "Content-Length element differs from the one used");
            }
        } else if (ieq(n, "connection")) {
            while (next_element(&rest, &e, &more)) {
                close |= ieq(e, "close");
                keep |= ieq(e, "keep-alive");
            }
        }
    }
    CHECK(hosts <= 1, "several Host fields accepted");
    CHECK(r->minor == 0 || hosts == 1, "HTTP/1.1 without Host accepted");
    CHECK(r->minor == 0 || r->host.p != NULL, "HTTP/1.1 without a host");
    CHECK(r->has_content_length == (cl > 0), "has_content_length disagrees with the fields");
    CHECK(r->content_length <= (uint64_t)INT64_MAX, "content_length above INT64_MAX");
    CHECK(r->chunked == (te > 0), "chunked disagrees with Transfer-Encoding");
    CHECK(!(r->chunked && r->has_content_length), "both chunked and Content-Length");
    CHECK(!r->chunked || r->minor == 1, "chunked in HTTP/1.0");
    CHECK(!r->expect_continue || r->minor == 1, "100-continue in HTTP/1.0");
    CHECK(r->keep_alive == (r->minor == 1 ? !close : keep && !close),
          "keep_alive disagrees with Connection");
}

/*
 * Feeds buf[0, len) in growing prefixes ending at cuts[0..ncuts) and then at len, as the server
 * does, and returns the first answer that is not INCOMPLETE (or the last one) in *out. Every call
 * is also checked against a one-shot parse of the same prefix.
 */
static void feed(struct parsed *out, const char *buf, size_t len, const size_t *cuts, size_t ncuts,
                 const struct http_limits *lim)
{
    static struct parsed alone;
    size_t last = 0;
    for (size_t k = 0; k <= ncuts; k++) {
        size_t upto = k < ncuts ? cuts[k] : len;
        if (upto <= last)
            continue;
        parse(out, buf, upto, last, lim);
        parse(&alone, buf, upto, 0, lim);
        if (out->ret == HTTP_PARSE_INCOMPLETE && alone.ret == HTTP_PARSE_ERROR) {
            /* The hint only postpones errors; the final comparison checks the status. */
        } else {
            same_result(out, &alone);
        }
        if (out->ret != HTTP_PARSE_INCOMPLETE)
            return;
        last = upto;
    }
}

/*
 * The hint postponed an error the one-shot parse found: end the head with an empty line, as the
 * client eventually would, and the same status must come out, with and without the hint.
 */
static void check_postponed(const char *buf, size_t len, const struct parsed *whole,
                            const struct http_limits *lim)
{
    static struct parsed p;
    char *ext = malloc(len + 4);
    memcpy(ext, buf, len);
    memcpy(ext + len, "\r\n\r\n", 4);
    parse(&p, ext, len + 4, len, lim);
    CHECK(p.ret == HTTP_PARSE_ERROR && p.status == whole->status,
          "postponed error differs once the head ends");
    parse(&p, ext, len + 4, 0, lim);
    CHECK(p.ret == HTTP_PARSE_ERROR && p.status == whole->status,
          "error not kept by a longer buffer");
    free(ext);
}

/* Checks one head at buf[0, len); returns the one-shot answer in *whole. */
static void check_head(struct parsed *whole, const char *buf, size_t len, uint64_t *rnd)
{
    static struct parsed inc;
    struct http_limits lim = pick_limits(rnd);

    parse(whole, buf, len, 0, &lim);
    if (whole->ret > 0)
        check_success(whole, buf, len, &lim);

    /* 1 to 4 cut points in [1, len), ascending; feed() skips a repeated one. */
    size_t cuts[4], ncuts = 0;
    if (len >= 2) {
        size_t want = 1 + next_random(rnd) % 4;
        for (size_t i = 0; i < want; i++)
            cuts[ncuts++] = 1 + next_random(rnd) % (len - 1);
        for (size_t i = 1; i < ncuts; i++) {
            for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                size_t t = cuts[j];
                cuts[j] = cuts[j - 1];
                cuts[j - 1] = t;
            }
        }
    }
    feed(&inc, buf, len, cuts, ncuts, &lim);
    if (inc.ret == HTTP_PARSE_INCOMPLETE && whole->ret == HTTP_PARSE_ERROR)
        check_postponed(buf, len, whole, &lim);
    else
        same_result(&inc, whole);

    if (len <= BYTEWISE_MAX) {
        size_t every[BYTEWISE_MAX];
        for (size_t i = 0; i + 1 < len; i++)
            every[i] = i + 1;
        feed(&inc, buf, len, every, len > 0 ? len - 1 : 0, &lim);
        if (inc.ret == HTTP_PARSE_INCOMPLETE && whole->ret == HTTP_PARSE_ERROR)
            check_postponed(buf, len, whole, &lim);
        else
            same_result(&inc, whole);
    }
}

/* The outcome of decoding one chunked body. */
struct decoded {
    ssize_t ret; /* as http_chunked_decode(): bytes after the body, or an error */
    char *data;  /* the decoded chunk data */
    size_t len;  /* its length */
};

/* Feeds body[0, len) to a new decoder in pieces ending at cuts[] and at len. */
static void decode_pieces(struct decoded *out, const char *body, size_t len, const size_t *cuts,
                          size_t ncuts)
{
    struct http_chunked d;
    http_chunked_init(&d);
    /* An allocation of exactly len bytes: ASan catches any access past the body. */
    char *buf = malloc(len ? len : 1);
    memcpy(buf, body, len);
    out->data = malloc(len ? len : 1);
    out->len = 0;
    out->ret = HTTP_PARSE_INCOMPLETE;

    size_t start = 0;
    for (size_t k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        if (end <= start)
            continue;
        size_t n = end - start;
        ssize_t r = http_chunked_decode(&d, buf + start, &n);
        /* In-place decoding may only touch the bytes it was given. */
        CHECK(memcmp(buf + end, body + end, len - end) == 0, "decoder wrote past its input");
        if (out->ret == HTTP_PARSE_INCOMPLETE) {
            CHECK(n <= end - start, "decoded more bytes than given");
            CHECK(r == HTTP_PARSE_INCOMPLETE || r == HTTP_PARSE_ERROR ||
                      (r >= 0 && (size_t)r <= end - start),
                  "unexpected chunked result");
            memcpy(out->data + out->len, buf + start, n);
            out->len += n;
            if (r >= 0) {
                CHECK(n + (size_t)r <= end - start, "decoded data overlaps what follows");
                CHECK(memcmp(buf + end - r, body + end - r, (size_t)r) == 0,
                      "bytes after the body were changed");
                out->ret = r + (ssize_t)(len - end);
            } else {
                out->ret = r;
            }
        } else if (out->ret >= 0) {
            /* After the end, every byte belongs to what follows the body. */
            CHECK(r == (ssize_t)(end - start) && n == 0, "call after the end consumed bytes");
            CHECK(memcmp(buf + start, body + start, end - start) == 0,
                  "call after the end changed bytes");
        } else {
            CHECK(r == HTTP_PARSE_ERROR, "call after an error did not fail");
        }
        start = end;
    }
    free(buf);
}

/*
 * Checks a chunked body at body[0, len), whole and split. Returns the number of bytes the body
 * took, or 0 when it did not end within len (or was malformed).
 */
static size_t check_chunked(const char *body, size_t len, uint64_t *rnd)
{
    struct decoded whole, split;
    decode_pieces(&whole, body, len, NULL, 0);

    size_t cuts[4], ncuts = 0;
    if (len >= 2) {
        size_t want = 1 + next_random(rnd) % 4;
        for (size_t i = 0; i < want; i++) {
            size_t c = 1 + next_random(rnd) % (len - 1);
            size_t j = ncuts++;
            for (; j > 0 && cuts[j - 1] > c; j--)
                cuts[j] = cuts[j - 1];
            cuts[j] = c;
        }
    }
    decode_pieces(&split, body, len, cuts, ncuts);
    CHECK(split.ret == whole.ret, "chunked result differs between whole and split");
    CHECK(split.len == whole.len && memcmp(split.data, whole.data, whole.len) == 0,
          "chunked data differs between whole and split");
    free(split.data);

    if (len <= BYTEWISE_MAX) {
        size_t every[BYTEWISE_MAX];
        for (size_t i = 0; i + 1 < len; i++)
            every[i] = i + 1;
        decode_pieces(&split, body, len, every, len > 0 ? len - 1 : 0);
        CHECK(split.ret == whole.ret, "chunked result differs fed byte by byte");
        CHECK(split.len == whole.len && memcmp(split.data, whole.data, whole.len) == 0,
              "chunked data differs fed byte by byte");
        free(split.data);
    }
    free(whole.data);
    return whole.ret >= 0 ? len - (size_t)whole.ret : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct parsed whole;
    const char *buf = (const char *)data;
    /* Seeded by the whole input, so that any mutation moves the split points. */
    uint64_t rnd = fuzz_hash(data, size);

    size_t off = 0;
    for (int n = 0; n < MAX_PIPELINE && off < size; n++) {
        check_head(&whole, buf + off, size - off, &rnd);
        if (whole.ret <= 0) {
            /* Not a request: try the bytes as a chunked body, which covers the decoder alone. */
            if (n == 0)
                check_chunked(buf, size, &rnd);
            break;
        }
        off += (size_t)whole.ret;
        if (whole.req.chunked) {
            size_t used = check_chunked(buf + off, size - off, &rnd);
            if (used == 0)
                break;
            off += used;
        } else if (whole.req.has_content_length) {
            if (whole.req.content_length > size - off)
                break;
            off += (size_t)whole.req.content_length;
        }
    }
    return 0;
}
