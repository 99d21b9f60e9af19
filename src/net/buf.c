#include "buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The first allocation: one read's worth for a typical request or message. */
#define BUF_MIN 4096

int buf_reserve(struct buf *b, size_t want)
{
    if (b->cap - b->len >= want)
        return 0;
    size_t live = b->len - b->off;
    /* Slide the live bytes to the front when that makes enough room; grow otherwise. */
    if (b->off > 0 && b->cap - live >= want) {
        memmove(b->data, b->data + b->off, live);
        b->off = 0;
        b->len = live;
        return 0;
    }
    size_t cap = b->cap ? b->cap : BUF_MIN;
    while (cap - live < want) {
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    char *data = malloc(cap);
    if (!data)
        return -ENOMEM;
    if (live)
        memcpy(data, b->data + b->off, live);
    free(b->data);
    b->data = data;
    b->cap = cap;
    b->off = 0;
    b->len = live;
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc != 0)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void buf_consume(struct buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len)
        buf_release(b);
}

void buf_release(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}
