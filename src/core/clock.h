/* The monotonic clock every deadline is measured on. */
#ifndef TINYWEB_CORE_CLOCK_H
#define TINYWEB_CORE_CLOCK_H

#include <stdint.h>

/* Nanoseconds of CLOCK_MONOTONIC. One vDSO call, no syscall; loops cache it per wake-up. */
uint64_t clock_now_ns(void);

#endif
