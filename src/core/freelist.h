/*
 * A bounded list of freed blocks kept for reuse (pooled buffers, closed connections' memory):
 * a singly linked list threaded through the blocks themselves, so it costs no memory of its
 * own. Each block must hold at least a pointer. Owned by one loop; not thread-safe.
 */
#ifndef TINYWEB_CORE_FREELIST_H
#define TINYWEB_CORE_FREELIST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct freelist {
    void *head;
    uint32_t n, max; /* blocks held, and at most */
};

/* A block from the list, or NULL when it is empty. O(1). */
static inline void *freelist_get(struct freelist *fl)
{
    void *block = fl->head;
    if (block) {
        memcpy(&fl->head, block, sizeof(void *));
        fl->n--;
    }
    return block;
}

/* Keeps block for reuse; false when the list is full (the caller frees it). O(1). */
static inline bool freelist_put(struct freelist *fl, void *block)
{
    if (fl->n >= fl->max)
        return false;
    memcpy(block, &fl->head, sizeof(void *));
    fl->head = block;
    fl->n++;
    return true;
}

/* Frees every block held. O(blocks). */
static inline void freelist_drain(struct freelist *fl)
{
    for (void *block; (block = freelist_get(fl));)
        free(block);
}

#endif
