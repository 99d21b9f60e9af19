/*
 * A health endpoint for load balancers (--health PATH): GET or HEAD answers 200 "ok" while the
 * server serves, and 503 "draining" from the moment a stop signal came, through --drain-delay,
 * so that a balancer's health check takes the server out before it stops accepting.
 */
#ifndef TINYWEB_HANDLERS_HEALTH_H
#define TINYWEB_HANDLERS_HEALTH_H

#include <stdatomic.h>

#include "http/http_route.h"

/* Adds the route for path (kept: it must outlive r); leaving is read on every check (any loop)
 * and must outlive r too. 0, -EINVAL, or -E2BIG. */
int health_add_route(struct http_routes *r, const char *path, const atomic_bool *leaving);

#endif
