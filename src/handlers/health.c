/*
 * The health endpoint. See health.h.
 */
#include "health.h"

static int handle(struct http_exchange *x, const struct http_request *req, void *ctx)
{
    (void)req;
    bool leaving = atomic_load_explicit((const atomic_bool *)ctx, memory_order_relaxed);
    struct http_reply r = {
        .status = leaving ? 503 : 200,
        .content_type = "text/plain; charset=utf-8",
        .headers = "Cache-Control: no-store\r\n",
        .body = leaving ? "draining\n" : "ok\n",
        .body_len = leaving ? 9 : 3,
    };
    return http_reply_send(x, &r);
}

int health_add_route(struct http_routes *r, const char *path, const atomic_bool *leaving)
{
    return http_routes_add(r, path, false, HTTP_METHODS_READ, handle, (void *)leaving);
}
