/*
 * Counters a loop updates and any thread may read while it runs ("summed on demand without
 * stopping the loops"). Only the owning loop writes a counter, so an update is a relaxed load
 * and store (plain moves on x86-64, no locked instruction); readers see a recent value, never a
 * torn one.
 */
#ifndef TINYWEB_CORE_COUNTER_H
#define TINYWEB_CORE_COUNTER_H

#include <stdatomic.h>
#include <stdint.h>

typedef _Atomic uint64_t counter_t;

/* Adds n (wrapping; a gauge goes down by adding -n). Owner thread only. O(1). */
static inline void counter_add(counter_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* The current value, from any thread. O(1). */
static inline uint64_t counter_get(const counter_t *c)
{
    return atomic_load_explicit((counter_t *)c, memory_order_relaxed);
}

#endif
