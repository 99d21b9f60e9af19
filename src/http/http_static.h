/*
 * Static files: maps a request to a file beneath the document root and decides the response
 * (200, 206, 304, 301 to the directory form, 403, 404, 416), with the metadata its head needs.
 *
 * Nothing outside the root is ever opened: the path is percent-decoded and normalised first
 * (http_path), then opened through the loop's file cache with openat2(RESOLVE_BENEATH), which
 * also refuses symlinks and ".." that lead outside the root at every step of the resolution.
 */
#ifndef TINYWEB_HTTP_STATIC_H
#define TINYWEB_HTTP_STATIC_H

#include <stdbool.h>
#include <sys/types.h>

#include "http/file_cache.h"
#include "http/http_cond.h"
#include "http/http_parser.h"

/* --error-page: the page served, with the original status, for an error status. */
struct http_error_page {
    int status;       /* 400..599 */
    const char *path; /* beneath the root, without the leading '/' (not percent-encoded) */
};

/* --cache-control and --expires for the files of one type. */
struct http_cache_rule {
    const char *type; /* "text/css"; "image/" and a star: a prefix through the slash; "*" */
    const char *cache_control; /* the Cache-Control value, or NULL */
    bool expires;              /* send Expires (now + expires_s) and, without cache_control,
                                  Cache-Control: max-age=expires_s */
    uint64_t expires_s;
};

/* The rule for content_type among rules[0, n): the first that matches, or NULL. */
const struct http_cache_rule *http_cache_rule_for(const struct http_cache_rule *rules, int n,
                                                  const char *content_type);

struct http_static {
    int status;
    struct file_entry *file; /* 200, 206, 304: the file (a reference the caller releases) */
    /* The representation chosen by Accept-Encoding: a compressed variant of the file (its
     * bytes, length and ETag replace the file's), or NULL for the file itself. vary: the file
     * has compressed representations, so every response for it says Vary: Accept-Encoding. */
    const struct file_variant *variant;
    enum http_coding coding;
    bool vary;
    off_t offset, length;   /* the body: length bytes from offset (also for HEAD) */
    char content_range[64]; /* for 206 and 416 */
    char *location;         /* for 301: points into the caller's scratch */
    /* Why the file could not be served: the errno of the path check or of file_cache_open()
     * (ENOENT, EACCES, ELOOP, FILE_CACHE_NO_INDEX's, ...), 0 when it was found. */
    int err;
    const char *path; /* the decoded path, relative to the root (in the caller's scratch) */
};

/*
 * Resolves req through the file cache into res. For a file with compressed variants the
 * representation follows Accept-Encoding (the acceptable one with the highest weight among the
 * file and its ready variants, the smallest on a tie; 406 when none is acceptable), and the
 * conditionals and Range apply to it. hidden, when not NULL, is a directory beneath
 * the root (decoded, relative: "templates") whose files are not served: 404 for it and for
 * everything under it, whatever spelling of the path the client used. scratch holds the decoded
 * path in its first half and a redirect target in its second: at least 8 * max URI bytes + 64, as
 * percent-encoding can make the target three times the path, plus the query. Always fills
 * res->status; res->file, when set, is a reference the caller gives back with file_entry_release().
 * A cached file costs no syscall.
 */
void http_static_resolve(struct file_cache *files, uint64_t now_ms, const struct http_request *req,
                         const char *hidden, char *scratch, size_t scratch_len,
                         struct http_static *res);

#endif
