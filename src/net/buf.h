/*
 * A byte buffer that owns memory only while it is in use: an idle connection's buffers cost
 * nothing. Readable bytes are data[off, len); free space is data[len, cap).
 *
 * Storage of the common size (BUF_BLOCK) comes from, and goes back to, a buf_pool owned by the
 * loop, so a request served in steady state calls malloc() not at all; larger storage (a long
 * head, a big error page) is malloc'd and freed as needed.
 */
#ifndef TINYWEB_NET_BUF_H
#define TINYWEB_NET_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/freelist.h"

/* The pooled block size: a typical request, or a response head with a small body. */
#define BUF_BLOCK 16384

struct buf {
    char *data;
    uint32_t off, len, cap;
};

/* Free BUF_BLOCK blocks, at most max of them. Owned by one loop; not thread-safe. */
struct buf_pool {
    struct freelist blocks;
};

/* Makes room for at least want bytes after len, moving or growing the storage; an empty buffer
 * takes a block from pool (may be NULL) when want fits one. 0 or -ENOMEM. */
int buf_reserve(struct buf *b, size_t want, struct buf_pool *pool);

/* Appends n bytes. 0 or -ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n, struct buf_pool *pool);

/* Drops n readable bytes from the front; the storage is kept (buf_release() returns it). */
void buf_consume(struct buf *b, size_t n);

/* Removes n readable bytes at offset at; the bytes after them move up. O(bytes after). */
void buf_cut(struct buf *b, size_t at, size_t n);

/* Returns the storage (to pool when it is a block and the pool has room) and empties b. */
void buf_release(struct buf *b, struct buf_pool *pool);

/* Frees the pool's blocks. */
void buf_pool_drain(struct buf_pool *pool);

static inline size_t buf_readable(const struct buf *b)
{
    return b->len - b->off;
}

#endif
