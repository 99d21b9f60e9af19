/*
 * The open-file cache of one loop: request paths resolved beneath the document root to regular
 * files, small files held in memory with their response metadata (type, ETag, Last-Modified), so
 * a hot file costs no open, fstat, read or close per request. nginx's open_file_cache is the
 * model: bounded in entries and bytes, least recently used out first, and each entry checked
 * against the file system at most once per interval (one fstatat: a changed inode, size, mtime
 * or ctime drops the entry and the next request loads the file again through openat2's
 * RESOLVE_BENEATH, so the confinement to the root is re-established on every change).
 *
 * Larger files (and every file when the cache is off) are opened per request: the caller gets an
 * uncached entry holding the open fd, closed and freed when released. Only such entries hold
 * fds, and the cache counts them (file_cache_fds()).
 *
 * Entries are shared by reference: an entry replaced or evicted while a response still sends it
 * lives on until its last reference goes. Owned by one loop; not thread-safe.
 */
#ifndef TINYWEB_HTTP_FILE_CACHE_H
#define TINYWEB_HTTP_FILE_CACHE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "core/counter.h"
#include "http/http_cond.h"
#include "http/http_encoding.h"

struct file_cache;

/* A compressed representation of a file held in memory: a precompressed sibling read from disk
 * (x.css.br beside x.css) or made by the worker pool. It lives as long as its entry. */
struct file_variant {
    char *data;
    size_t len;
    char etag[HTTP_ETAG_MAX + 8];
    size_t etag_len;
    bool sibling; /* read from a precompressed file */
};

/* A resolved regular file. Everything public is read-only for holders of a reference. */
struct file_entry {
    const char *data; /* the whole file when held in memory, else NULL */
    int fd;           /* the open file when data is NULL; -1 otherwise */
    off_t size;
    struct timespec mtime;
    const char *content_type;
    char etag[HTTP_ETAG_MAX];
    size_t etag_len;
    char last_modified[HTTP_DATE_LEN + 1]; /* "" when the mtime has no HTTP-date */
    /* Compression (--compress): the codings this file should have (0: not compressible, or not
     * held in memory), those ready, and whether the pool is making the missing ones. */
    unsigned compress_mask;
    unsigned compress_tried; /* made once already, kept or not (a variant not smaller is not) */
    struct file_variant *variants[HTTP_CODING_COUNT];
    bool compressing;
    /* The cache's own. */
    struct file_cache *cache; /* counts the entry's fd while it holds one */
    struct file_entry *hnext, *newer, *older;
    uint64_t checked_ms;
    dev_t dev;
    ino_t ino;
    struct timespec ctime;
    uint32_t hash, refs;
    uint32_t key_len; /* the key is key[0, key_len); the resolved path follows, NUL-terminated */
    bool cached;
    char key[];
};

/* file_cache_open()'s answer for a directory without an index (it is not listed). */
#define FILE_CACHE_NO_INDEX (-ENODATA)

/* file_cache_open()'s answer for anything but a regular file or a directory (a FIFO, a device). */
#define FILE_CACHE_NOT_REGULAR (-ENODEV)

struct file_cache_config {
    uint32_t max_entries; /* 0: no caching, every request opens its file */
    size_t max_bytes;     /* file bytes held in memory, all entries together */
    size_t max_file;      /* the largest file held in memory */
    uint64_t valid_ms;    /* how long an entry is trusted before it is checked again */
    /* Compression: the codings wanted (HTTP_CODING_BIT; 0: off) for files held in memory, at
     * least min_compress bytes long, of a type in compress_types ("text/" and a star for a family,
     * "image/svg+xml"); siblings: look for precompressed siblings (x.css.br, .zst, .gz, as new as
     * x.css). */
    unsigned compress;
    size_t min_compress;
    const char *compress_types;
    bool siblings;
    /* A directory's index files, tried in order: names separated by commas (--index), each
     * without '/'; NULL: "index.html". */
    const char *index;
};

/* Counters of one cache: written by its loop, readable from any thread. */
struct file_cache_stats {
    counter_t hits, misses, checks, stale, evicted;
    counter_t entries, bytes; /* held now */
};

/* A cache for files beneath root_fd (kept open by the caller). NULL when out of memory. */
struct file_cache *file_cache_new(const struct file_cache_config *cfg, int root_fd);

/* Frees the cache; every reference must have been released. */
void file_cache_free(struct file_cache *fc);

/*
 * Resolves the decoded path p[0, len) (relative to the root, NUL-terminated; dir: it ended with
 * a slash) to a regular file; a directory asked in slash form serves its first index file that
 * exists (--index). now_ms is
 * the loop's clock. Returns 0 with *out holding a reference, or -errno: -EISDIR for a directory
 * asked without the slash (redirect it), -ENOTDIR for a file asked with it,
 * FILE_CACHE_NO_INDEX, FILE_CACHE_NOT_REGULAR, and what openat2 and fstat fail with (-ENOENT,
 * -EACCES, -EXDEV outside the root, -ELOOP, -EMFILE, ...). A hit costs no syscall; a miss one
 * openat2 and one fstat (two of each for an index; without openat2, an openat per path component),
 * plus the read of a file small enough to keep.
 */
int file_cache_open(struct file_cache *fc, const char *p, size_t len, bool dir, uint64_t now_ms,
                    struct file_entry **out);

/*
 * A reload: forgets every entry (those in use live on until released) and takes cfg and root_fd
 * (which may be a new directory) from now on. 0, or -ENOMEM when the hash table could not be
 * resized (the cache then works with the old one). O(entries).
 */
int file_cache_reconfigure(struct file_cache *fc, const struct file_cache_config *cfg, int root_fd);

/* Adds a compressed representation of e made elsewhere (the worker pool): data (malloc'd, taken
 * over) of len bytes for coding c. Dropped (freed) when e left the cache meanwhile, already has
 * one, or the variant is not smaller than the file; else counted in the cache's bytes, evicting
 * others if need be. 0 when kept, or -errno. */
int file_cache_add_variant(struct file_cache *fc, struct file_entry *e, enum http_coding c,
                           char *data, size_t len);

/* Whether a media type is in a comma-separated list of types and families (a family as "text/" and
 * a star). */
bool file_cache_type_in(const char *list, const char *content_type);

/* Opens path (decoded, relative to the root) beneath the root as file_cache_open() would
 * (openat2 RESOLVE_BENEATH), read-only: an fd, or -errno. For a directory's listing. */
int file_cache_open_path(struct file_cache *fc, const char *path);

/* Gives back a reference from file_cache_open(). O(1). */
void file_entry_release(struct file_entry *e);

/* The fds held open now by entries not kept in memory. O(1); the owning loop only. */
size_t file_cache_fds(const struct file_cache *fc);

/* The counters, to read with counter_get() from any thread. */
const struct file_cache_stats *file_cache_stats(const struct file_cache *fc);

#endif
