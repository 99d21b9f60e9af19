/*
 * Static files. See http_static.h.
 */
#include "http_static.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http/http_cond.h"
#include "http/http_path.h"
#include "http/http_route.h"
#include "http/mime.h"

static int status_of_errno(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        return 404;
    case EACCES:
    case EPERM:
    case EXDEV:
    case ELOOP:
    case -FILE_CACHE_NO_INDEX:
    case -FILE_CACHE_NOT_REGULAR:
        return 403;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
        return 503;
    default:
        return 500;
    }
}

static void fail(struct http_static *res, int status)
{
    if (res->file)
        file_entry_release(res->file);
    res->file = NULL;
    res->status = status;
    res->length = 0;
}

/*
 * 301 to the slash form of a directory. The path is percent-encoded for the header; the query
 * is copied as sent (the parser admits no control bytes in it, so it cannot split the header).
 */
static void redirect_to_dir(const struct http_request *req, const char *path, size_t path_len,
                            char *scratch, size_t scratch_len, struct http_static *res)
{
    size_t n = http_path_encode(path, path_len, scratch + 1, scratch_len - 1);
    if (n + 1 + 1 + 1 + req->query.len + 1 > scratch_len) {
        fail(res, 414);
        return;
    }
    scratch[0] = '/';
    n += 1;
    scratch[n++] = '/';
    if (req->query.len > 0) {
        scratch[n++] = '?';
        memcpy(scratch + n, req->query.p, req->query.len);
        n += req->query.len;
    }
    scratch[n] = '\0';
    res->location = scratch;
    fail(res, 301);
}

/* The conditional helpers take NULL for an absent field. */
static const char *field_or_null(const struct http_str *f)
{
    return f->len > 0 ? f->p : NULL;
}

/* Chooses among the file and its ready compressed variants by Accept-Encoding. false: nothing
 * acceptable (406). */
static bool negotiate(const struct http_request *req, struct http_static *res)
{
    const struct file_entry *f = res->file;
    res->vary = true;
    struct http_str ae = http_request_field(req, "accept-encoding");
    struct http_accept accept;
    http_accept_encoding_parse(ae.p, ae.len, ae.p != NULL, &accept);
    unsigned available = HTTP_CODING_BIT(HTTP_CODING_IDENTITY);
    uint64_t sizes[HTTP_CODING_COUNT] = {[HTTP_CODING_IDENTITY] = (uint64_t)f->size};
    for (int c = HTTP_CODING_GZIP; c < HTTP_CODING_COUNT; c++) {
        if (f->variants[c]) {
            available |= HTTP_CODING_BIT(c);
            sizes[c] = f->variants[c]->len;
        }
    }
    int c = http_accept_choose(&accept, available, sizes);
    if (c < 0)
        return false;
    res->coding = (enum http_coding)c;
    res->variant = c == HTTP_CODING_IDENTITY ? NULL : f->variants[c];
    return true;
}

/* Decides 412 / 304 / 206 / 416 / 200 for an open regular file, on the representation chosen
 * (its ETag and length: RFC 9110 §14 and §13 apply to the selected representation). */
static void select_representation(const struct http_request *req, struct http_static *res)
{
    const struct file_entry *f = res->file;
    const struct file_variant *v = res->variant;
    const char *etag = v ? v->etag : f->etag;
    size_t etag_len = v ? v->etag_len : f->etag_len;
    off_t size = v ? (off_t)v->len : f->size;
    res->status = 200;
    res->offset = 0;
    res->length = size;
    /*
     * RFC 9110 §13.2.2: If-Match (or If-Unmodified-Since without it) first, then 304, then
     * If-Range and Range. An empty If-Match is present (p set) and matches nothing.
     */
    if (http_precondition_failed(req->if_match.p, req->if_match.len, req->if_unmodified_since.p,
                                 req->if_unmodified_since.len, etag, etag_len, f->mtime.tv_sec)) {
        fail(res, 412);
        return;
    }
    if (http_not_modified(field_or_null(&req->if_none_match), req->if_none_match.len,
                          field_or_null(&req->if_modified_since), req->if_modified_since.len, etag,
                          etag_len, f->mtime.tv_sec)) {
        /* The file stays with the response: its validators go into the 304's head. */
        res->status = 304;
        res->length = 0;
        return;
    }
    if (req->range.len == 0 || !http_if_range_ok(field_or_null(&req->if_range), req->if_range.len,
                                                 etag, etag_len, f->mtime.tv_sec))
        return;
    off_t first, last;
    switch (http_range_parse(req->range.p, req->range.len, size, &first, &last)) {
    case HTTP_RANGE_OK:
        res->status = 206;
        res->offset = first;
        res->length = last - first + 1;
        snprintf(res->content_range, sizeof(res->content_range), "bytes %lld-%lld/%lld",
                 (long long)first, (long long)last, (long long)size);
        break;
    case HTTP_RANGE_UNSATISFIABLE:
        snprintf(res->content_range, sizeof(res->content_range), "bytes */%lld", (long long)size);
        fail(res, 416);
        break;
    default:
        /* No valid range, or several: the whole file, as RFC 9110 §14.2 allows. */
        break;
    }
}

const struct http_cache_rule *http_cache_rule_for(const struct http_cache_rule *rules, int n,
                                                  const char *content_type)
{
    for (int i = 0; i < n; i++) {
        if (mime_type_in(rules[i].type, strlen(rules[i].type), content_type))
            return &rules[i];
    }
    return NULL;
}

/* Whether the decoded path is the hidden directory or beneath it. */
static bool is_hidden(const char *hidden, const char *path, size_t len)
{
    size_t n = strlen(hidden);
    return len >= n && memcmp(path, hidden, n) == 0 && (len == n || path[n] == '/');
}

void http_static_resolve(struct file_cache *files, uint64_t now_ms, const struct http_request *req,
                         const char *hidden, char *scratch, size_t scratch_len,
                         struct http_static *res)
{
    memset(res, 0, sizeof(*res));
    /* The decoded path takes the first half of scratch; a redirect is built in the second. */
    size_t half = scratch_len / 2;
    bool dir_form = false;
    ssize_t len = http_path_decode(req->path.p, req->path.len, scratch, half, &dir_form);
    if (len < 0) {
        res->err = (int)-len;
        fail(res, len == -EPERM ? 403 : len == -ENAMETOOLONG ? 414 : 400);
        return;
    }
    scratch[len] = '\0';
    res->path = scratch;
    if (hidden && is_hidden(hidden, scratch, (size_t)len)) {
        res->err = ENOENT;
        fail(res, 404);
        return;
    }
    int rc = file_cache_open(files, scratch, (size_t)len, dir_form, now_ms, &res->file);
    if (rc == -EISDIR) {
        redirect_to_dir(req, scratch, (size_t)len, scratch + half, scratch_len - half, res);
        return;
    }
    if (rc != 0) {
        res->err = -rc;
        fail(res, status_of_errno(-rc));
        return;
    }
    if (res->file->compress_mask && !negotiate(req, res)) {
        fail(res, 406);
        return;
    }
    select_representation(req, res);
}
