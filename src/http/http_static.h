/*
 * Static files: maps a request to a file beneath the document root and decides the response
 * (200, 206, 304, 301 to the directory form, 403, 404, 416), with the metadata its head needs.
 *
 * Nothing outside the root is ever opened: the path is percent-decoded and normalised first
 * (http_path), then opened with openat2(RESOLVE_BENEATH), which also refuses symlinks and ".."
 * that lead outside the root at every step of the resolution.
 */
#ifndef TINYWEB_HTTP_STATIC_H
#define TINYWEB_HTTP_STATIC_H

#include <stdbool.h>
#include <sys/types.h>

#include "http/http_cond.h"
#include "http/http_parser.h"

struct http_static {
    int status;
    int fd;               /* the open file when a body follows; -1 otherwise */
    off_t offset, length; /* the body: length bytes from offset (also for HEAD) */
    const char *content_type;
    char etag[HTTP_ETAG_MAX];
    size_t etag_len;
    char last_modified[HTTP_DATE_LEN + 1];
    char content_range[64]; /* for 206 and 416 */
    char *location;         /* for 301: points into the caller's scratch */
};

/*
 * Resolves req beneath root_fd into res. scratch (at least 2 * max URI bytes + 32) holds the
 * decoded path and the redirect target. Always fills res->status; a file descriptor in res->fd
 * belongs to the caller. Costs one openat2 and one fstat (two of each for a directory index).
 */
void http_static_resolve(int root_fd, const struct http_request *req, char *scratch,
                         size_t scratch_len, struct http_static *res);

#endif
