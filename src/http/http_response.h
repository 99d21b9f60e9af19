/*
 * Response heads and error pages, written into caller-provided memory. Pure functions: the
 * caller supplies the cached Date and the representation's metadata.
 */
#ifndef TINYWEB_HTTP_RESPONSE_H
#define TINYWEB_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a response head says. NULL strings and a negative length are left out. */
struct http_head {
    int status;
    bool keep_alive;  /* false: "Connection: close" */
    bool http10;      /* the request was HTTP/1.0: say "Connection: keep-alive" to keep it */
    const char *date; /* IMF-fixdate, cached per second by the caller */
    const char *content_type;
    int64_t content_length;
    const char *last_modified;
    const char *etag;
    const char *content_range;    /* "bytes 0-9/100" or "bytes * /100" (206, 416) */
    const char *location;         /* 301 */
    const char *allow;            /* 405 */
    const char *hsts;             /* Strict-Transport-Security (over TLS, with --hsts) */
    const char *content_encoding; /* "br", "zstd", "gzip" */
    bool vary;                    /* Vary: Accept-Encoding */
    bool accept_ranges;
};

/* The longest head http_head_write() produces, given fields of sane length. */
#define HTTP_HEAD_MAX 1024

/* The reason phrase of status ("Not Found"); "Unknown" for codes not listed. */
const char *http_reason(int status);

/* Writes the status line and header fields, through the blank line. Returns the length, or 0
 * when cap is too small. */
size_t http_head_write(char *out, size_t cap, const struct http_head *h);

/* Writes the small HTML page sent with an error status. Returns the length (< cap). */
size_t http_error_page(char *out, size_t cap, int status);

#endif
