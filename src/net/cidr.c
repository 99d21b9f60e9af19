/*
 * CIDR ranges. See cidr.h.
 */
#include "cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Zeroes the bits of addr beyond the first bits. */
static void mask(uint8_t addr[16], unsigned bits)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * i : 0;
        addr[i] &= (uint8_t)(0xff00u >> keep);
    }
}

int cidr_parse(const char *s, size_t len, struct cidr *out)
{
    char text[CIDR_TEXT_MAX];
    if (len == 0 || len >= sizeof(text))
        return -EINVAL;
    memcpy(text, s, len);
    text[len] = '\0';
    char *slash = strchr(text, '/');
    int bits = -1;
    if (slash) {
        *slash = '\0';
        const char *d = slash + 1;
        /* One to three digits, no sign, no leading space: strtol would take both. */
        if (*d == '\0' || strlen(d) > 3 || strspn(d, "0123456789") != strlen(d))
            return -EINVAL;
        bits = 0;
        for (; *d; d++)
            bits = bits * 10 + (*d - '0');
    }
    struct cidr c = {.bits = 0};
    struct in_addr a4;
    if (inet_pton(AF_INET, text, &a4) == 1) {
        if (bits > 32)
            return -EINVAL;
        memcpy(c.addr, v4_mapped_prefix, 12);
        memcpy(c.addr + 12, &a4, 4);
        c.bits = (uint8_t)(96 + (bits < 0 ? 32 : bits));
    } else if (inet_pton(AF_INET6, text, c.addr) == 1) {
        if (bits > 128)
            return -EINVAL;
        c.bits = (uint8_t)(bits < 0 ? 128 : bits);
    } else {
        return -EINVAL;
    }
    mask(c.addr, c.bits);
    *out = c;
    return 0;
}

int cidr_list_parse(const char *s, struct cidr_list *out, char *err, size_t errlen)
{
    struct cidr_list l = {.n = 0};
    const char *p = s;
    for (;;) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        if (l.n == CIDR_LIST_MAX) {
            snprintf(err, errlen, "more than %d address ranges", CIDR_LIST_MAX);
            return -E2BIG;
        }
        if (cidr_parse(a, (size_t)(b - a), &l.items[l.n]) != 0) {
            snprintf(err, errlen, "\"%.*s\" is not an address or address/prefix",
                     (int)(b - a < 64 ? b - a : 64), a);
            return -EINVAL;
        }
        l.n++;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    *out = l;
    return 0;
}

bool cidr_match(const struct cidr *c, const uint8_t addr[16])
{
    unsigned whole = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, addr, whole) != 0)
        return false;
    return rest == 0 || ((c->addr[whole] ^ addr[whole]) & (uint8_t)(0xff00u >> rest)) == 0;
}

bool cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa)
{
    uint8_t addr[16];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        memcpy(addr, v4_mapped_prefix, 12);
        memcpy(addr + 12, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(addr, &in6->sin6_addr, 16);
    } else {
        return false;
    }
    for (size_t i = 0; i < l->n; i++)
        if (cidr_match(&l->items[i], addr))
            return true;
    return false;
}

size_t cidr_format(const struct cidr *c, char *out, size_t cap)
{
    char text[INET6_ADDRSTRLEN];
    bool v4 = c->bits >= 96 && memcmp(c->addr, v4_mapped_prefix, 12) == 0;
    if (!inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? c->addr + 12 : c->addr, text, sizeof(text)))
        return 0;
    int n = snprintf(out, cap, "%s/%u", text, v4 ? c->bits - 96u : c->bits);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}
