/*
 * Byte buffers and their block pool. See buf.h.
 */
#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The smallest malloc'd storage, for buffers grown without a pool. */
#define BUF_MIN 4096

static char *pool_get(struct buf_pool *pool)
{
    char *block = pool ? freelist_get(&pool->blocks) : NULL;
    return block ? block : malloc(BUF_BLOCK);
}

static void pool_put(struct buf_pool *pool, char *block, size_t cap)
{
    if (!pool || cap != BUF_BLOCK || !freelist_put(&pool->blocks, block))
        free(block);
}

int buf_reserve(struct buf *b, size_t want, struct buf_pool *pool)
{
    if (b->cap - b->len >= want)
        return 0;
    size_t live = b->len - b->off;
    /* Slide the live bytes to the front when that makes enough room; grow otherwise. */
    if (b->off > 0 && b->cap - live >= want) {
        memmove(b->data, b->data + b->off, live);
        b->off = 0;
        b->len = (uint32_t)live;
        return 0;
    }
    size_t cap = b->cap ? b->cap : pool ? BUF_BLOCK : BUF_MIN;
    while (cap - live < want) {
        if (cap > UINT32_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    char *data = cap == BUF_BLOCK ? pool_get(pool) : malloc(cap);
    if (!data)
        return -ENOMEM;
    if (live)
        memcpy(data, b->data + b->off, live);
    if (b->data)
        pool_put(pool, b->data, b->cap);
    b->data = data;
    b->cap = (uint32_t)cap;
    b->off = 0;
    b->len = (uint32_t)live;
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n, struct buf_pool *pool)
{
    int rc = buf_reserve(b, n, pool);
    if (rc != 0)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += (uint32_t)n;
    return 0;
}

void buf_consume(struct buf *b, size_t n)
{
    b->off += (uint32_t)n;
    if (b->off >= b->len)
        b->off = b->len = 0;
}

void buf_cut(struct buf *b, size_t at, size_t n)
{
    char *p = b->data + b->off + at;
    memmove(p, p + n, buf_readable(b) - at - n);
    b->len -= (uint32_t)n;
}

void buf_release(struct buf *b, struct buf_pool *pool)
{
    if (b->data)
        pool_put(pool, b->data, b->cap);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}

void buf_pool_drain(struct buf_pool *pool)
{
    freelist_drain(&pool->blocks);
}
