/*
 * The status handler: the stats registry (core/stats) as JSON (PATH), as Prometheus text format
 * 0.0.4 (PATH/metrics, or a path of its own), and a live page that polls the JSON (PATH/),
 * for GET and HEAD from the peers --status-allow lets in (403 for the others), always with
 * "Cache-Control: no-store". A response is built on the loop that received the request, from
 * relaxed loads of every loop's counters: no lock, no pause of the other loops.
 *
 * The JSON document, stable (new keys may be added; none renamed or removed):
 *   {"version": "0.1.0", "uptime_seconds": 12.345, "start_time_seconds": 1732431234.567,
 *    "config_generation": 1, "loop_count": 2,
 *    "totals": {SERIES}, "loops": [{"loop": 0, SERIES}, ...], "process": {SERIES}}
 * where SERIES holds every series registered, per loop ("totals": their sums, read in the same
 * pass as "loops") or for the process ("process"), each under its Prometheus name without the
 * "tinyweb_" prefix and the "_total" suffix: "requests": 5; a labelled family is an object by
 * label value: "responses": {"1xx": 0, "2xx": 4, ...}.
 */
#ifndef TINYWEB_HANDLERS_STATUS_H
#define TINYWEB_HANDLERS_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "core/stats.h"
#include "http/http_route.h"
#include "net/cidr.h"

struct status_config {
    const char *path;    /* "/status": no trailing slash; the page is path + "/" */
    const char *metrics; /* the Prometheus path; NULL: path + "/metrics" */
    struct cidr_list allow;
    const char *version;
    /* When the server started, for uptime (a reload's handler keeps the first's): CLOCK_MONOTONIC
     * ns and Unix time in seconds. 0: now. */
    uint64_t started_ns;
    double started_epoch;
};

struct status;

/* A status handler over stats (which must outlive it). NULL when out of memory or when a path
 * does not start with '/' (or path ends with one). */
struct status *status_new(const struct status_config *cfg, const struct stats *stats);

/* Frees st; its routes must no longer be in use. */
void status_free(struct status *st);

/* Adds st's routes (JSON, page, metrics) to r. 0, or -E2BIG. */
int status_add_routes(struct status *st, struct http_routes *r);

/* The JSON document, NUL-terminated, malloc'd (the caller frees it); *len its length. NULL when
 * out of memory. O(series x loops). */
char *status_json(const struct status *st, size_t *len);

/* The Prometheus text, as status_json(). */
char *status_prometheus(const struct status *st, size_t *len);

/* The live page (self-contained HTML: inline style and script, no outside asset). */
extern const char status_page[];
extern const size_t status_page_len;

#endif
