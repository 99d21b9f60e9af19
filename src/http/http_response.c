/*
 * Response heads and error pages. See http_response.h.
 */
#include "http_response.h"

#include <stdio.h>
#include <string.h>

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
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

/* Appends "Name: value\r\n" when value is set; tracks overflow in *len (> cap). */
static void field(char *out, size_t cap, size_t *len, const char *name, const char *value)
{
    if (!value || *len >= cap)
        return;
    int n = snprintf(out + *len, cap - *len, "%s: %s\r\n", name, value);
    *len += n < 0 ? cap : (size_t)n;
}

size_t http_head_write(char *out, size_t cap, const struct http_head *h)
{
    int n = snprintf(out, cap, "HTTP/1.1 %d %s\r\nServer: tinyweb\r\n", h->status,
                     http_reason(h->status));
    size_t len = n < 0 ? cap : (size_t)n;
    field(out, cap, &len, "Date", h->date);
    field(out, cap, &len, "Content-Type", h->content_type);
    if (h->content_length >= 0 && len < cap) {
        n = snprintf(out + len, cap - len, "Content-Length: %lld\r\n",
                     (long long)h->content_length);
        len += n < 0 ? cap : (size_t)n;
    }
    field(out, cap, &len, "Last-Modified", h->last_modified);
    field(out, cap, &len, "ETag", h->etag);
    field(out, cap, &len, "Content-Range", h->content_range);
    field(out, cap, &len, "Location", h->location);
    field(out, cap, &len, "Allow", h->allow);
    if (h->accept_ranges)
        field(out, cap, &len, "Accept-Ranges", "bytes");
    if (!h->keep_alive)
        field(out, cap, &len, "Connection", "close");
    else if (h->http10)
        field(out, cap, &len, "Connection", "keep-alive");
    if (len + 2 >= cap)
        return 0;
    memcpy(out + len, "\r\n", 2);
    return len + 2;
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
