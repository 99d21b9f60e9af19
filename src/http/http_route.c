/*
 * The handler table. See http_route.h.
 */
#include "http_route.h"

#include <errno.h>
#include <stdio.h>
#include <strings.h>

void http_routes_init(struct http_routes *r, http_handler_fn fallback, void *ctx, uint32_t methods)
{
    memset(r, 0, sizeof(*r));
    r->fallback = (struct http_route){
        .path = "/", .len = 1, .prefix = true, .methods = methods, .handle = fallback, .ctx = ctx};
}

int http_routes_add(struct http_routes *r, const char *path, bool prefix, uint32_t methods,
                    http_handler_fn handle, void *ctx)
{
    if (!path || path[0] != '/')
        return -EINVAL;
    if (r->n == HTTP_ROUTES_MAX)
        return -E2BIG;
    size_t len = strlen(path);
    r->routes[r->n] = (struct http_route){.path = path,
                                          .len = len,
                                          .prefix = prefix,
                                          .methods = methods,
                                          .handle = handle,
                                          .ctx = ctx};
    /* The gate shrinks to what the new path shares with it. */
    if (r->n == 0) {
        r->gate_len = len;
    } else {
        size_t g = 0;
        while (g < r->gate_len && g < len && path[g] == r->routes[0].path[g])
            g++;
        r->gate_len = g;
    }
    r->n++;
    return 0;
}

void http_routes_set_flags(struct http_routes *r, uint32_t flags, uint64_t max_body)
{
    if (r->n) {
        r->routes[r->n - 1].flags = flags;
        r->routes[r->n - 1].max_body = max_body;
    }
}

struct http_str http_request_field(const struct http_request *req, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct http_header *h = &req->headers[i];
        if (h->name.len == len && strncasecmp(h->name.p, name, len) == 0)
            return h->value;
    }
    return (struct http_str){NULL, 0};
}

struct http_match http_routes_match_slow(const struct http_routes *r, const char *path, size_t len,
                                         enum http_method m)
{
    uint32_t allowed = 0;
    /* Every route's path starts with the gate: a path without it matches none. */
    size_t n = len >= r->gate_len && memcmp(path, r->routes[0].path, r->gate_len) == 0 ? r->n : 0;
    for (size_t i = 0; i < n; i++) {
        const struct http_route *rt = &r->routes[i];
        bool hit = rt->prefix ? len >= rt->len && memcmp(path, rt->path, rt->len) == 0
                              : len == rt->len && memcmp(path, rt->path, len) == 0;
        if (!hit)
            continue;
        if (rt->methods & HTTP_METHOD_BIT(m))
            return (struct http_match){rt, 0};
        allowed |= rt->methods;
    }
    if (allowed)
        return (struct http_match){NULL, allowed};
    bool ok = r->fallback.methods & HTTP_METHOD_BIT(m);
    return (struct http_match){ok ? &r->fallback : NULL, r->fallback.methods};
}

size_t http_methods_format(uint32_t methods, char *out, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return 0;
    out[0] = '\0';
    for (int m = HTTP_GET; m < HTTP_OTHER; m++) {
        if (!(methods & HTTP_METHOD_BIT(m)))
            continue;
        int w = snprintf(out + n, cap - n, "%s%s", n ? ", " : "",
                         http_method_name((enum http_method)m));
        if (w < 0 || (size_t)w >= cap - n) {
            out[n] = '\0';
            break;
        }
        n += (size_t)w;
    }
    return n;
}
