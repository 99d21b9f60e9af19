/*
 * A byte buffer that owns memory only while it holds bytes: an idle connection's buffers cost
 * nothing. Readable bytes are data[off, len); free space is data[len, cap).
 */
#ifndef TINYWEB_NET_BUF_H
#define TINYWEB_NET_BUF_H

#include <stddef.h>

struct buf {
    char *data;
    size_t off, len, cap;
};

/* Makes room for at least want bytes after len, moving or growing the storage. 0 or -ENOMEM. */
int buf_reserve(struct buf *b, size_t want);

/* Appends n bytes. 0 or -ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);

/* Drops n readable bytes from the front; frees the storage once nothing is left. */
void buf_consume(struct buf *b, size_t n);

/* Frees the storage and empties the buffer. */
void buf_release(struct buf *b);

static inline size_t buf_readable(const struct buf *b)
{
    return b->len - b->off;
}

#endif
