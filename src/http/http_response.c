/*
 * Response heads and error pages. See http_response.h.
 */
#include "http_response.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/units.h"

const char *http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

/* A bounded writer: once something does not fit, len passes cap and stays there. */
struct out {
    char *p;
    size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->len + n > o->cap) {
        o->len = o->cap + 1;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

/* A string literal, its length counted by the compiler. */
#define PUT_LIT(o, lit) put(o, lit, sizeof(lit) - 1)

static void put_str(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* Appends "Name: value\r\n" when value is set; name_sep is "Name: ". */
static void field(struct out *o, const char *name_sep, size_t name_len, const char *value)
{
    if (!value)
        return;
    put(o, name_sep, name_len);
    put_str(o, value);
    PUT_LIT(o, "\r\n");
}

#define FIELD(o, name, value) field(o, name ": ", sizeof(name ": ") - 1, value)

static void put_uint(struct out *o, uint64_t v)
{
    char digits[20];
    size_t n = units_u64_digits(digits, v);
    put(o, digits + n, sizeof(digits) - n);
}

/* Built without printf: the head is written for every response. */
size_t http_head_write(char *out, size_t cap, const struct http_head *h)
{
    struct out o = {out, 0, cap};
    PUT_LIT(&o, "HTTP/1.1 ");
    put_uint(&o, (uint64_t)h->status % 1000);
    PUT_LIT(&o, " ");
    put_str(&o, http_reason(h->status));
    PUT_LIT(&o, "\r\nServer: tinyweb\r\n");
    FIELD(&o, "Date", h->date);
    FIELD(&o, "Content-Type", h->content_type);
    FIELD(&o, "Content-Encoding", h->content_encoding);
    if (h->vary)
        PUT_LIT(&o, "Vary: Accept-Encoding\r\n");
    if (h->content_length >= 0) {
        PUT_LIT(&o, "Content-Length: ");
        put_uint(&o, (uint64_t)h->content_length);
        PUT_LIT(&o, "\r\n");
    }
    FIELD(&o, "Last-Modified", h->last_modified);
    FIELD(&o, "ETag", h->etag);
    FIELD(&o, "Content-Range", h->content_range);
    FIELD(&o, "Location", h->location);
    FIELD(&o, "Allow", h->allow);
    FIELD(&o, "Strict-Transport-Security", h->hsts);
    if (h->accept_ranges)
        PUT_LIT(&o, "Accept-Ranges: bytes\r\n");
    if (!h->keep_alive)
        PUT_LIT(&o, "Connection: close\r\n");
    else if (h->http10)
        PUT_LIT(&o, "Connection: keep-alive\r\n");
    PUT_LIT(&o, "\r\n");
    return o.len <= cap ? o.len : 0;
}

size_t http_error_page(char *out, size_t cap, int status)
{
    const char *reason = http_reason(status);
    int n = snprintf(out, cap,
                     "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>\n"
                     "<body><h1>%d %s</h1><hr><p>tinyweb</p></body></html>\n",
                     status, reason, status, reason);
    return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}
