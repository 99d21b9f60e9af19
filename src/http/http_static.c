/*
 * Static files. See http_static.h.
 */
#include "http_static.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http/http_cond.h"
#include "http/http_path.h"
#include "http/mime.h"

#define INDEX_FILE "index.html"

/*
 * Opens path beneath root_fd. RESOLVE_BENEATH fails with EXDEV on any ".." or symlink (absolute
 * or relative) that would leave the root; RESOLVE_NO_MAGICLINKS keeps /proc-style links out.
 * O_NONBLOCK: opening a FIFO someone placed in the root must not block the loop.
 */
static int open_beneath(int root_fd, const char *path)
{
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, root_fd, path[0] ? path : ".", &how, sizeof(how));
    return fd < 0 ? -errno : (int)fd;
}

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
    if (res->fd >= 0)
        close(res->fd);
    res->fd = -1;
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

static void describe(const struct stat *st, const char *path, size_t len, struct http_static *res)
{
    res->content_type = mime_type(path, len);
    res->etag_len = http_etag_format(res->etag, st->st_size, st->st_mtim);
    /* An mtime beyond year 9999 has no HTTP-date: the response goes without Last-Modified. */
    if (http_date_format(st->st_mtim.tv_sec, res->last_modified) != 0)
        res->last_modified[0] = '\0';
}

/* The conditional helpers take NULL for an absent field. */
static const char *field_or_null(const struct http_str *f)
{
    return f->len > 0 ? f->p : NULL;
}

/* Decides 304 / 206 / 416 / 200 for an open regular file. */
static void select_representation(const struct http_request *req, const struct stat *st,
                                  struct http_static *res)
{
    res->status = 200;
    res->offset = 0;
    res->length = st->st_size;
    if (http_not_modified(field_or_null(&req->if_none_match), req->if_none_match.len,
                          field_or_null(&req->if_modified_since), req->if_modified_since.len,
                          res->etag, res->etag_len, st->st_mtim.tv_sec)) {
        fail(res, 304);
        return;
    }
    if (req->range.len == 0 || !http_if_range_ok(field_or_null(&req->if_range), req->if_range.len,
                                                 res->etag, res->etag_len, st->st_mtim.tv_sec))
        return;
    off_t first, last;
    switch (http_range_parse(req->range.p, req->range.len, st->st_size, &first, &last)) {
    case HTTP_RANGE_OK:
        res->status = 206;
        res->offset = first;
        res->length = last - first + 1;
        snprintf(res->content_range, sizeof(res->content_range), "bytes %lld-%lld/%lld",
                 (long long)first, (long long)last, (long long)st->st_size);
        break;
    case HTTP_RANGE_UNSATISFIABLE:
        snprintf(res->content_range, sizeof(res->content_range), "bytes */%lld",
                 (long long)st->st_size);
        fail(res, 416);
        break;
    default:
        /* No valid range, or several: the whole file, as RFC 9110 §14.2 allows. */
        break;
    }
}

void http_static_resolve(int root_fd, const struct http_request *req, char *scratch,
                         size_t scratch_len, struct http_static *res)
{
    memset(res, 0, sizeof(*res));
    res->fd = -1;
    /* The decoded path takes the first half of scratch; a redirect is built in the second. */
    size_t half = scratch_len / 2;
    bool dir_form = false;
    ssize_t len = http_path_decode(req->path.p, req->path.len, scratch,
                                   half - sizeof(INDEX_FILE) - 1, &dir_form);
    if (len < 0) {
        fail(res, len == -EPERM ? 403 : len == -ENAMETOOLONG ? 414 : 400);
        return;
    }
    scratch[len] = '\0';
    int fd = open_beneath(root_fd, scratch);
    if (fd < 0) {
        fail(res, status_of_errno(-fd));
        return;
    }
    res->fd = fd;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fail(res, 500);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        if (!dir_form && len > 0) {
            redirect_to_dir(req, scratch, (size_t)len, scratch + half, scratch_len - half, res);
            return;
        }
        close(fd);
        res->fd = -1;
        /* The index is opened from the root again, so it too must resolve beneath it. */
        size_t n = (size_t)len;
        if (n > 0)
            scratch[n++] = '/';
        memcpy(scratch + n, INDEX_FILE, sizeof(INDEX_FILE));
        len = (ssize_t)(n + sizeof(INDEX_FILE) - 1);
        fd = open_beneath(root_fd, scratch);
        if (fd < 0) {
            /* A directory without an index is not listed. */
            fail(res, fd == -ENOENT ? 403 : status_of_errno(-fd));
            return;
        }
        res->fd = fd;
        if (fstat(fd, &st) != 0) {
            fail(res, 500);
            return;
        }
    }
    if (!S_ISREG(st.st_mode)) {
        fail(res, 403);
        return;
    }
    describe(&st, scratch, (size_t)len, res);
    select_representation(req, &st, res);
}
