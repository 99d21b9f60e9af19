/*
 * Address ranges in CIDR notation ("127.0.0.0/8", "::1", "2001:db8::/32") and lists of them, to
 * decide whether a peer may use something (--status-allow).
 *
 * Every address is kept as 16 bytes: an IPv4 address or range is its IPv4-mapped IPv6 form
 * (::ffff:a.b.c.d, the prefix length plus 96), so an IPv4 peer, and an IPv4 peer reaching a
 * dual-stack IPv6 socket (::ffff:127.0.0.1), both match "127.0.0.0/8"; "::/0" matches every
 * peer. Bits beyond the prefix length are ignored, as nginx's allow does ("10.1.2.3/8" is
 * 10.0.0.0/8). Pure functions; no allocation.
 */
#ifndef TINYWEB_NET_CIDR_H
#define TINYWEB_NET_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The most ranges a list holds. */
#define CIDR_LIST_MAX 32

/* The longest range as text: an IPv6 address, "/128", NUL. */
#define CIDR_TEXT_MAX 52

/* One range: addr's first bits bits (0..128), the rest zero. */
struct cidr {
    uint8_t addr[16];
    uint8_t bits;
};

/* A list of ranges, held by value (copied with =). */
struct cidr_list {
    size_t n;
    struct cidr items[CIDR_LIST_MAX];
};

/* Parses one range from s[0, len): an address with an optional "/bits"; without it, that one
 * address. 0, or -EINVAL. O(len). */
int cidr_parse(const char *s, size_t len, struct cidr *out);

/* Parses a comma-separated list (spaces around items allowed, at least one item). 0, or -EINVAL
 * (a bad item, named in err) or -E2BIG (more than CIDR_LIST_MAX). */
int cidr_list_parse(const char *s, struct cidr_list *out, char *err, size_t errlen);

/* True when addr (16 bytes, IPv4 in its mapped form) lies in c. O(1). */
bool cidr_match(const struct cidr *c, const uint8_t addr[16]);

/* True when the socket address (AF_INET or AF_INET6) lies in one of l's ranges; false for any
 * other family. O(ranges). */
bool cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa);

/* Writes c as text ("127.0.0.0/8", "::1/128"); returns the length (< cap), 0 if cap is short. */
size_t cidr_format(const struct cidr *c, char *out, size_t cap);

#endif
