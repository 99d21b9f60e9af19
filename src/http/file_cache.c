/*
 * The open-file cache. See file_cache.h.
 */
#include "file_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http/mime.h"

#define INDEX_DEFAULT "index.html"

struct file_cache {
    struct file_cache_config cfg;
    int root_fd;
    struct file_entry **buckets;
    uint32_t mask;                      /* buckets - 1, a power of two minus one */
    struct file_entry *newest, *oldest; /* the LRU order of cached entries */
    size_t fds;                         /* open in entries not kept in memory */
    struct file_cache_stats stats;
};

struct file_cache *file_cache_new(const struct file_cache_config *cfg, int root_fd)
{
    struct file_cache *fc = calloc(1, sizeof(*fc));
    if (!fc)
        return NULL;
    fc->cfg = *cfg;
    fc->root_fd = root_fd;
    uint32_t n = 1;
    while (n < cfg->max_entries && n < (1u << 30))
        n <<= 1;
    fc->mask = n - 1;
    fc->buckets = calloc(n, sizeof(*fc->buckets));
    if (!fc->buckets) {
        free(fc);
        return NULL;
    }
    return fc;
}

static void entry_close(struct file_entry *e)
{
    if (e->fd >= 0) {
        close(e->fd);
        e->fd = -1;
        e->cache->fds--;
    }
}

static void entry_free(struct file_entry *e)
{
    entry_close(e);
    for (int c = 0; c < HTTP_CODING_COUNT; c++) {
        if (e->variants[c]) {
            free(e->variants[c]->data);
            free(e->variants[c]);
        }
    }
    free((void *)e->data);
    free(e);
}

/* The bytes an entry holds in memory: the file and its variants. */
static size_t entry_bytes(const struct file_entry *e)
{
    size_t n = e->data ? (size_t)e->size : 0;
    for (int c = 0; c < HTTP_CODING_COUNT; c++)
        n += e->variants[c] ? e->variants[c]->len : 0;
    return n;
}

static void lru_unlink(struct file_cache *fc, struct file_entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        fc->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        fc->oldest = e->newer;
}

static void lru_push(struct file_cache *fc, struct file_entry *e)
{
    e->newer = NULL;
    e->older = fc->newest;
    if (fc->newest)
        fc->newest->newer = e;
    else
        fc->oldest = e;
    fc->newest = e;
}

/* Takes e out of the hash and the LRU order; it is freed now or by its last release. */
static void forget(struct file_cache *fc, struct file_entry *e)
{
    struct file_entry **pp = &fc->buckets[e->hash & fc->mask];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(fc, e);
    e->cached = false;
    counter_add(&fc->stats.entries, (uint64_t)-1);
    counter_add(&fc->stats.bytes, (uint64_t)-entry_bytes(e));
    if (e->refs == 0)
        entry_free(e);
}

void file_cache_free(struct file_cache *fc)
{
    if (!fc)
        return;
    while (fc->newest)
        forget(fc, fc->newest);
    free(fc->buckets);
    free(fc);
}

int file_cache_reconfigure(struct file_cache *fc, const struct file_cache_config *cfg, int root_fd)
{
    while (fc->newest)
        forget(fc, fc->newest);
    uint32_t n = 1;
    while (n < cfg->max_entries && n < (1u << 30))
        n <<= 1;
    int rc = 0;
    if (n != fc->mask + 1) {
        struct file_entry **b = calloc(n, sizeof(*b));
        if (b) {
            free(fc->buckets);
            fc->buckets = b;
            fc->mask = n - 1;
        } else {
            rc = -ENOMEM; /* the old table still works, only with more collisions */
        }
    }
    fc->cfg = *cfg;
    fc->root_fd = root_fd;
    return rc;
}

void file_entry_release(struct file_entry *e)
{
    if (--e->refs == 0 && !e->cached)
        entry_free(e);
}

size_t file_cache_fds(const struct file_cache *fc)
{
    return fc->fds;
}

const struct file_cache_stats *file_cache_stats(const struct file_cache *fc)
{
    return &fc->stats;
}

/* FNV-1a over the key; dir tells "a" from "a/". */
static uint32_t hash_key(const char *p, size_t len, bool dir)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return dir ? h ^ 0x5bd1e995u : h;
}

static struct file_entry *lookup(struct file_cache *fc, const char *p, size_t len, bool dir,
                                 uint32_t hash)
{
    size_t key_len = len + dir;
    for (struct file_entry *e = fc->buckets[hash & fc->mask]; e; e = e->hnext) {
        /* The slash form's key ends in '/': "a/" must not find the file "ab". */
        if (e->hash == hash && e->key_len == key_len && memcmp(e->key, p, len) == 0 &&
            (!dir || e->key[len] == '/'))
            return e;
    }
    return NULL;
}

/* Moves e to the newest end of the LRU order. */
static void touch(struct file_cache *fc, struct file_entry *e)
{
    if (fc->newest == e)
        return;
    lru_unlink(fc, e);
    lru_push(fc, e);
}

/* The resolved path of e, stored after its key. */
static const char *entry_path(const struct file_entry *e)
{
    return e->key + e->key_len + 1;
}

static bool same_file(const struct file_entry *e, const struct stat *st)
{
    return S_ISREG(st->st_mode) && st->st_dev == e->dev && st->st_ino == e->ino &&
           st->st_size == e->size && st->st_mtim.tv_sec == e->mtime.tv_sec &&
           st->st_mtim.tv_nsec == e->mtime.tv_nsec && st->st_ctim.tv_sec == e->ctime.tv_sec &&
           st->st_ctim.tv_nsec == e->ctime.tv_nsec;
}

/*
 * Without openat2 (Linux before 5.6, or valgrind before 3.20): the normalised path (no "..",
 * no empty segment) is walked one component at a time with O_NOFOLLOW, so every symlink is
 * refused (ELOOP: 403). Stricter than openat2, which follows symlinks that stay beneath the root,
 * but never weaker.
 */
static int open_walk(int root_fd, const char *path, int flags)
{
    if (!path[0]) {
        int fd = openat(root_fd, ".", flags);
        return fd < 0 ? -errno : fd;
    }
    int dir = root_fd;
    for (const char *p = path;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char name[NAME_MAX + 1];
        if (n > NAME_MAX) {
            if (dir != root_fd)
                close(dir);
            return -ENAMETOOLONG;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        bool last = !slash || !slash[1];
        int fd = openat(dir, name, flags | O_NOFOLLOW | (last ? 0 : O_DIRECTORY));
        int err = errno;
        if (dir != root_fd)
            close(dir);
        if (fd < 0)
            return -err;
        if (last)
            return fd;
        dir = fd;
        p = slash + 1;
    }
}

/*
 * Opens path beneath the root. RESOLVE_BENEATH fails with EXDEV on any ".." or symlink
 * (absolute or relative) that would leave the root; RESOLVE_NO_MAGICLINKS keeps /proc-style
 * links out. O_NONBLOCK: opening a FIFO someone placed in the root must not block the loop.
 */
static int open_beneath(int root_fd, const char *path)
{
    static atomic_bool no_openat2;
    int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    if (!atomic_load_explicit(&no_openat2, memory_order_relaxed)) {
        struct open_how how = {
            .flags = (uint64_t)flags,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, root_fd, path[0] ? path : ".", &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno != ENOSYS)
            return -errno;
        atomic_store_explicit(&no_openat2, true, memory_order_relaxed);
    }
    return open_walk(root_fd, path, flags);
}

/* Opens the first of the index files (a comma-separated list) in directory name[0, n) (n 0: the
 * root) that exists, its path then in name. The fd, -ENOENT when none does, or -errno. */
static int open_index(int root_fd, const char *index, char *name, size_t n)
{
    if (n > 0)
        name[n++] = '/';
    for (const char *i = index;;) {
        size_t ilen = strcspn(i, ",");
        if (n + ilen >= PATH_MAX)
            return -ENAMETOOLONG;
        memcpy(name + n, i, ilen);
        name[n + ilen] = '\0';
        /* The index is opened from the root again, so it too must resolve beneath it. */
        int fd = open_beneath(root_fd, name);
        if (fd != -ENOENT || i[ilen] == '\0')
            return fd;
        i += ilen + 1;
    }
}

/* Opens and stats the file path names; a directory in slash form gives its index, whose path
 * then replaces *path (in name, room for PATH_MAX). The fd, or -errno. */
static int resolve(int root_fd, const char *index, const char *p, size_t len, bool dir, char *name,
                   struct stat *st)
{
    if (len >= PATH_MAX - 1)
        return -ENAMETOOLONG;
    memcpy(name, p, len + 1);
    int fd = open_beneath(root_fd, name);
    if (fd < 0)
        return fd;
    if (fstat(fd, st) != 0)
        goto fail;
    if (S_ISDIR(st->st_mode)) {
        close(fd);
        if (!dir && len > 0)
            return -EISDIR;
        fd = open_index(root_fd, index ? index : INDEX_DEFAULT, name, len);
        /* A directory without an index is not listed. */
        if (fd < 0)
            return fd == -ENOENT ? FILE_CACHE_NO_INDEX : fd;
        if (fstat(fd, st) != 0)
            goto fail;
    } else if (dir) {
        /* A path that ends in a slash names a directory, as in nginx: "/a.html/" is not the
         * file, and relative links on it would resolve against the wrong base. */
        close(fd);
        return -ENOTDIR;
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        return FILE_CACHE_NOT_REGULAR;
    }
    return fd;
fail:;
    int err = errno;
    close(fd);
    return -err;
}

/* Reads the whole file into memory; NULL if it is not as long as fstat said, or no memory. */
static char *read_whole(int fd, size_t size)
{
    char *data = malloc(size ? size : 1);
    size_t got = 0;
    while (data && got < size) {
        ssize_t r = pread(fd, data + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            free(data);
            return NULL;
        }
        got += (size_t)r;
    }
    return data;
}

static void evict_for(struct file_cache *fc, size_t bytes)
{
    /* The owner reads its own counters: plain loads (core/counter.h). */
    while (fc->oldest && (counter_get(&fc->stats.entries) + 1 > fc->cfg.max_entries ||
                          counter_get(&fc->stats.bytes) + bytes > fc->cfg.max_bytes)) {
        forget(fc, fc->oldest);
        counter_add(&fc->stats.evicted, 1);
    }
}

static struct file_entry *entry_new(struct file_cache *fc, const char *p, size_t len, bool dir,
                                    const char *name, int fd, const struct stat *st)
{
    size_t name_len = strlen(name);
    struct file_entry *e = calloc(1, sizeof(*e) + len + dir + 1 + name_len + 1);
    if (!e)
        return NULL;
    e->cache = fc;
    e->fd = fd;
    fc->fds++;
    e->size = st->st_size;
    e->mtime = st->st_mtim;
    e->ctime = st->st_ctim;
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->refs = 1;
    memcpy(e->key, p, len);
    if (dir)
        e->key[len] = '/';
    e->key_len = (uint32_t)(len + dir);
    memcpy(e->key + e->key_len + 1, name, name_len + 1);
    e->content_type = mime_type(name, name_len);
    e->etag_len = http_etag_format(e->etag, st->st_size, st->st_mtim);
    /* An mtime beyond year 9999 has no HTTP-date: the response goes without Last-Modified. */
    if (http_date_format(st->st_mtim.tv_sec, e->last_modified) != 0)
        e->last_modified[0] = '\0';
    return e;
}

static void load_siblings(struct file_cache *fc, struct file_entry *e);

/* Keeps e (a fresh entry whose fd is still open) in memory and in the cache, if it fits. */
static void keep(struct file_cache *fc, struct file_entry *e, uint32_t hash, uint64_t now_ms)
{
    size_t size = (size_t)e->size;
    if (fc->cfg.max_entries == 0 || size > fc->cfg.max_file || size > fc->cfg.max_bytes)
        return;
    char *data = read_whole(e->fd, size);
    if (!data)
        return;
    entry_close(e);
    e->data = data;
    evict_for(fc, size);
    e->hash = hash;
    e->checked_ms = now_ms;
    e->cached = true;
    e->hnext = fc->buckets[hash & fc->mask];
    fc->buckets[hash & fc->mask] = e;
    lru_push(fc, e);
    counter_add(&fc->stats.entries, 1);
    counter_add(&fc->stats.bytes, size);
    if (fc->cfg.compress && size >= fc->cfg.min_compress &&
        file_cache_type_in(fc->cfg.compress_types, e->content_type)) {
        e->compress_mask = fc->cfg.compress;
        if (fc->cfg.siblings)
            load_siblings(fc, e);
    }
}

bool file_cache_type_in(const char *list, const char *content_type)
{
    if (!list)
        return false;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (mime_type_in(p, n, content_type))
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

/* The variant's ETag: the file's with the coding's name before the closing quote, so that
 * each representation has its own (RFC 9110 8.8.3.3). */
static void variant_etag(const struct file_entry *e, enum http_coding c, struct file_variant *v)
{
    const char *name = http_coding_name(c);
    size_t n = e->etag_len;
    if (n >= 2 && e->etag[n - 1] == '"')
        v->etag_len =
            (size_t)snprintf(v->etag, sizeof(v->etag), "%.*s-%s\"", (int)(n - 1), e->etag, name);
    else
        v->etag_len = (size_t)snprintf(v->etag, sizeof(v->etag), "%.*s", (int)n, e->etag);
}

/* Attaches a variant to a cached entry, counting its bytes. */
static int attach(struct file_cache *fc, struct file_entry *e, enum http_coding c, char *data,
                  size_t len, bool sibling)
{
    struct file_variant *v = malloc(sizeof(*v));
    if (!v) {
        free(data);
        return -ENOMEM;
    }
    *v = (struct file_variant){.data = data, .len = len, .sibling = sibling};
    variant_etag(e, c, v);
    /* Room in bytes (the entry count does not change); the entry itself is not evicted. */
    lru_unlink(fc, e);
    while (fc->oldest && counter_get(&fc->stats.bytes) + len > fc->cfg.max_bytes) {
        forget(fc, fc->oldest);
        counter_add(&fc->stats.evicted, 1);
    }
    lru_push(fc, e);
    e->variants[c] = v;
    counter_add(&fc->stats.bytes, len);
    return 0;
}

/* Precompressed siblings of a cached entry (nginx's gzip_static): x.css.br, .zst, .gz beneath
 * the root, regular, as new as the file or newer, and smaller. One openat2 per coding. */
static void load_siblings(struct file_cache *fc, struct file_entry *e)
{
    const char *path = entry_path(e);
    size_t plen = strlen(path);
    for (int c = HTTP_CODING_GZIP; c < HTTP_CODING_COUNT; c++) {
        if (!(e->compress_mask & HTTP_CODING_BIT(c)))
            continue;
        char name[PATH_MAX];
        const char *suffix = http_coding_suffix((enum http_coding)c);
        if (plen + strlen(suffix) >= sizeof(name))
            continue;
        memcpy(name, path, plen);
        strcpy(name + plen, suffix);
        int fd = open_beneath(fc->root_fd, name);
        if (fd < 0)
            continue;
        struct stat st;
        char *data = NULL;
        bool fresh =
            fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < e->size &&
            (st.st_mtim.tv_sec > e->mtime.tv_sec ||
             (st.st_mtim.tv_sec == e->mtime.tv_sec && st.st_mtim.tv_nsec >= e->mtime.tv_nsec));
        if (fresh)
            data = read_whole(fd, (size_t)st.st_size);
        close(fd);
        if (data)
            attach(fc, e, (enum http_coding)c, data, (size_t)st.st_size, true);
    }
}

int file_cache_open_path(struct file_cache *fc, const char *path)
{
    return open_beneath(fc->root_fd, path);
}

int file_cache_add_variant(struct file_cache *fc, struct file_entry *e, enum http_coding c,
                           char *data, size_t len)
{
    if (!e->cached || e->variants[c] || len >= (size_t)e->size || len > fc->cfg.max_bytes) {
        free(data);
        return -ESTALE;
    }
    return attach(fc, e, c, data, len, false);
}

int file_cache_open(struct file_cache *fc, const char *p, size_t len, bool dir, uint64_t now_ms,
                    struct file_entry **out)
{
    uint32_t hash = hash_key(p, len, dir);
    struct file_entry *e = fc->cfg.max_entries ? lookup(fc, p, len, dir, hash) : NULL;
    if (e && now_ms - e->checked_ms >= fc->cfg.valid_ms) {
        /* Due for a check: the same inode, size and times, or it is loaded again. */
        struct stat st;
        counter_add(&fc->stats.checks, 1);
        if (fstatat(fc->root_fd, entry_path(e), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            same_file(e, &st)) {
            e->checked_ms = now_ms;
        } else {
            counter_add(&fc->stats.stale, 1);
            forget(fc, e);
            e = NULL;
        }
    }
    if (e) {
        counter_add(&fc->stats.hits, 1);
        e->refs++;
        touch(fc, e);
        *out = e;
        return 0;
    }
    counter_add(&fc->stats.misses, 1);
    char name[PATH_MAX];
    struct stat st;
    int fd = resolve(fc->root_fd, fc->cfg.index, p, len, dir, name, &st);
    if (fd < 0)
        return fd;
    e = entry_new(fc, p, len, dir, name, fd, &st);
    if (!e) {
        close(fd);
        return -ENOMEM;
    }
    keep(fc, e, hash, now_ms);
    *out = e;
    return 0;
}
