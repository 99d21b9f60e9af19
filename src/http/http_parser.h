/*
 * HTTP/1.1 request heads and chunked request bodies (RFC 9112 message syntax and framing, with
 * the field semantics of RFC 9110 that decide framing and connection reuse).
 *
 * The head parser is stateless and zero-copy, like picohttpparser: the caller parses the bytes it
 * has buffered so far and, when told they are not enough, calls again with the grown buffer.
 * Every string in the result is a slice of that buffer, so the buffer must stay put while the
 * request is used. Nothing is allocated and nothing is copied.
 *
 * What is accepted and rejected follows nginx where the RFCs leave room:
 * - A single LF is accepted as a line terminator in the head (RFC 9112 §2.2 allows it, nginx does
 *   it); a CR that is not followed by LF is rejected anywhere. The chunked body framing, to which
 *   §2.2 does not extend, requires CRLF: lenient chunk line endings are a smuggling vector.
 * - Empty lines before the request line are skipped; they count towards the head's length.
 * - HTTP/1.x with x > 1 is handled as HTTP/1.1 (minor versions are compatible, RFC 9110 §2.5).
 * - Bytes 0x80-0xff (obs-text) pass in the request-target and in field values; every other
 *   control byte, DEL included, is rejected. A fragment ("#...") in the target is cut off.
 * - On an absolute-form target the request's host is the target's authority (RFC 9112 §3.2.2),
 *   but a Host field is still required in HTTP/1.1 and still validated (§3.2).
 *
 * Errors carry the status to answer. Byte-level errors are found in input order; the checks that
 * need the whole head run after it is complete, in this order: Host (400), Content-Length (400),
 * Transfer-Encoding (400, then 501), Expect (417). A 417 therefore means every other field is
 * valid; after any other error the body's framing is unknown and the connection must be closed.
 */
#ifndef TINYWEB_HTTP_HTTP_PARSER_H
#define TINYWEB_HTTP_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_PARSE_ERROR      (-1)
#define HTTP_PARSE_INCOMPLETE (-2)

/* The longest chunk-size line (size, whitespace, extensions, CRLF) the chunked decoder accepts. */
#define HTTP_CHUNK_LINE_MAX 4096
/* The longest trailer section (every trailer line and the final CRLF) the decoder accepts. */
#define HTTP_CHUNK_TRAILERS_MAX 8192

/* A slice of the caller's buffer, not NUL-terminated. */
struct http_str {
    const char *p;
    size_t len;
};

struct http_header {
    struct http_str name, value; /* value without its leading and trailing whitespace */
};

enum http_method {
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_OPTIONS,
    HTTP_PATCH,
    HTTP_TRACE,
    HTTP_CONNECT,
    HTTP_OTHER /* any other token; methods are case-sensitive, so "get" is one too */
};

/* Bounds on what one request head may hold. */
struct http_limits {
    size_t max_header_bytes; /* the whole head, leading empty lines included: >= 1 (431) */
    size_t max_headers;      /* header fields; the capacity of http_request.headers (431) */
    size_t max_uri_bytes;    /* the request-target as sent (414) */
};

struct http_request {
    enum http_method method;
    struct http_str method_name;
    struct http_str target; /* the request-target as sent */
    /*
     * The path, still percent-encoded: origin-form up to '?' or '#'; for absolute-form the path
     * after the authority, or a static "/" when it is empty; "*" for OPTIONS *; empty for CONNECT.
     */
    struct http_str path;
    struct http_str query;       /* after '?' (without it) up to any '#'; len 0 if none */
    int minor;                   /* HTTP/1.minor: 0 or 1 (1 also for 1.2 and later) */
    struct http_header *headers; /* set by the caller, with limits.max_headers entries */
    size_t nheaders;
    bool keep_alive; /* 1.1 unless Connection: close; 1.0 only with Connection: keep-alive */
    bool chunked;    /* Transfer-Encoding: chunked */
    bool has_content_length;
    uint64_t content_length; /* <= INT64_MAX */
    bool expect_continue;    /* Expect: 100-continue on an HTTP/1.1 request */
    /*
     * The first value of each field, len 0 when absent; p is NULL only when the field is absent,
     * so an empty value (which If-Match fails on) is told apart. Later lines of a field are not
     * combined with the first, list fields (If-Match, If-None-Match) included. host is the
     * target's authority for absolute-form and authority-form targets, otherwise the Host field.
     * Referer and User-Agent are kept for the access log.
     */
    struct http_str host, if_match, if_unmodified_since, if_none_match, if_modified_since, range,
        if_range, referer, user_agent;
    /* The body, for a handler that asked for it (http_route.h): set by the state machine once
     * the whole body is read (chunked framing removed); NULL here. */
    const char *body;
    size_t body_len;
};

/*
 * Parses a request head from buf[0, len). Returns the head's length in bytes (> 0) once it is
 * complete through the empty line, HTTP_PARSE_INCOMPLETE when more bytes are needed, or
 * HTTP_PARSE_ERROR with *status set to the status to answer (400, 414, 417, 431, 501, 505).
 * The caller sets req->headers; every other field of req is overwritten, and is meaningful only
 * on success (and on 417). At most min(len, max_header_bytes) bytes are read: once len reaches
 * max_header_bytes without a complete head the answer is 431, so buffering stays bounded.
 * last_len is a hint: the len of the previous call for this same request, which returned
 * HTTP_PARSE_INCOMPLETE, or 0. With it, a call whose new bytes cannot end the head returns
 * HTTP_PARSE_INCOMPLETE in O(new bytes) instead of re-parsing: errors in the head are then found
 * only once it ends or reaches the size limit, but with the same status as without the hint.
 * Otherwise one pass over the head; no allocation. max_header_bytes above INT_MAX acts as INT_MAX.
 */
int http_parse_request(const char *buf, size_t len, size_t last_len, const struct http_limits *lim,
                       struct http_request *req, int *status);

/* The state of one chunked body's decoding. Initialise with http_chunked_init(). */
struct http_chunked {
    uint64_t remaining; /* the chunk's size while it is read, then its data bytes still due */
    size_t line;        /* bytes of the current chunk-size line, or of the trailer section */
    int state;
};

/* Prepares d for a new body. */
void http_chunked_init(struct http_chunked *d);

/*
 * Decodes the next bytes of a chunked body, buf[0, *len), in place: the bytes given to the
 * previous calls are not given again. On return buf[0, *len) holds the chunk data found in these
 * bytes, with the framing removed. Returns HTTP_PARSE_INCOMPLETE when the body continues past
 * them, HTTP_PARSE_ERROR on malformed framing (answer 400: a bad or negative size, a size above
 * INT64_MAX, a missing CRLF, a bare CR or LF, a control byte in an extension or trailer, a line
 * longer than HTTP_CHUNK_LINE_MAX or trailers longer than HTTP_CHUNK_TRAILERS_MAX), or n >= 0
 * when the body ended: the last n bytes of the input, at buf + (the *len passed in) - n, follow
 * the body (the next pipelined request) and are left untouched. Extensions and trailer fields are
 * validated and discarded; whitespace between the size and CRLF is accepted, as nginx does.
 * After the end every call reports all its bytes as following, with *len = 0; after an error
 * every call returns HTTP_PARSE_ERROR. O(*len); works with any split, down to one byte per call.
 */
ssize_t http_chunked_decode(struct http_chunked *d, char *buf, size_t *len);

/* The method's name as sent on the wire ("GET"); "OTHER" for HTTP_OTHER. */
const char *http_method_name(enum http_method m);

#endif
