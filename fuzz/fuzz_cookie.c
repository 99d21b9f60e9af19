/*
 * libFuzzer harness for the Cookie header (src/app/cookie.h).
 *
 * The input is a Cookie header's value. A name is drawn from a hash of the input: a fixed one
 * ("sid", "a", the empty name) or the name of one of the header's own pieces, so that matches are
 * frequent. The answer is checked against a plain reference written here (the pieces listed
 * first, then searched; the cookie-octets as the RFC's exclusion list rather than ranges): the
 * same result and the same value, at the same place. Whatever the reference says, a value found
 * lies inside the header, is made of cookie-octets, and is preceded by '=' (or '=' and a DQUOTE)
 * and the name. Two metamorphic checks: a cookie of another name put in front, or a cookie of
 * the same name put at the end, changes nothing.
 *
 * Every broken property calls abort() after a line on stderr saying which, so that libFuzzer
 * saves the input as a crash.
 */
#include "app/cookie.h"
#include "fuzz.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* RFC 6265 cookie-octet, as the grammar's prose puts it: US-ASCII excluding CTLs, whitespace,
 * DQUOTE, comma, semicolon and backslash. */
static bool ref_octet(unsigned char c)
{
    return c > 0x20 && c < 0x7f && strchr("\",;\\", c) == NULL;
}

static bool ref_ws(char c)
{
    return c == ' ' || c == '\t';
}

struct piece {
    size_t start, end; /* [start, end) of the header, between separators */
};

/* Splits h[0, len) on ';' into pieces (at most len + 1 of them). */
static size_t split(const char *h, size_t len, struct piece *p)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || h[i] == ';') {
            p[n++] = (struct piece){start, i};
            start = i + 1;
        }
    }
    return n;
}

/* The reference lookup: 1 with *off and *vlen, 0 or -1 as cookie_find. */
static int ref_find(const char *h, size_t len, const char *name, size_t *off, size_t *vlen)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c == 0x7f || (c < 0x20 && c != '\t'))
            return -1;
    }
    if (name[0] == '\0')
        return 0;
    struct piece *p = malloc(sizeof(*p) * (len + 1));
    size_t n = split(h, len, p);
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        const char *eq = memchr(h + p[k].start, '=', p[k].end - p[k].start);
        if (eq == NULL)
            continue;
        size_t a = p[k].start, b = (size_t)(eq - h);
        while (a < b && ref_ws(h[a]))
            a++;
        while (b > a && ref_ws(h[b - 1]))
            b--;
        if (b - a != strlen(name) || strncmp(h + a, name, b - a) != 0)
            continue;
        a = (size_t)(eq - h) + 1, b = p[k].end;
        while (a < b && ref_ws(h[a]))
            a++;
        while (b > a && ref_ws(h[b - 1]))
            b--;
        if (b - a >= 2 && h[a] == '"' && h[b - 1] == '"')
            a++, b--;
        rc = 1;
        for (size_t i = a; i < b; i++)
            if (!ref_octet((unsigned char)h[i]))
                rc = -1;
        *off = a;
        *vlen = b - a;
    }
    free(p);
    return rc;
}

/* The name to look up: fixed ones, or the trimmed name of one of the header's pieces. */
static char *pick_name(const char *h, size_t len, uint64_t r)
{
    static const char *const fixed[] = {"sid", "a", ""};
    if (r % 4 < 3)
        return strdup(fixed[r % 4]);
    struct piece *p = malloc(sizeof(*p) * (len + 1));
    size_t n = split(h, len, p);
    struct piece q = p[(r / 4) % n];
    free(p);
    const char *eq = memchr(h + q.start, '=', q.end - q.start);
    size_t a = q.start, b = eq ? (size_t)(eq - h) : q.end;
    while (a < b && ref_ws(h[a]))
        a++;
    while (b > a && ref_ws(h[b - 1]))
        b--;
    return strndup(h + a, b - a); /* a NUL inside cuts it short: the header is malformed then */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *h = (const char *)data;
    uint64_t r = fuzz_hash(data, size);
    char *name = pick_name(h, size, r);
    size_t name_len = strlen(name);

    size_t want_off = 0, want_len = 0;
    int want = ref_find(h, size, name, &want_off, &want_len);
    const char *val = h;
    size_t vlen = 1;
    int got = cookie_find(h, size, name, &val, &vlen);
    CHECK(got == want, "cookie_find's answer differs from the reference");
    if (got != 1) {
        CHECK(val == NULL && vlen == 0, "no value, but the outputs are set");
    } else {
        CHECK(val >= h && vlen <= size && (size_t)(val - h) <= size - vlen,
              "value outside the header");
        CHECK((size_t)(val - h) == want_off && vlen == want_len,
              "value differs from the reference");
        for (size_t i = 0; i < vlen; i++)
            CHECK(ref_octet((unsigned char)val[i]), "value holds a byte that is no cookie-octet");
        /* Back from the value: an optional DQUOTE, whitespace, '=', whitespace, the name. */
        size_t i = (size_t)(val - h);
        if (i > 0 && h[i - 1] == '"')
            i--;
        while (i > 0 && ref_ws(h[i - 1]))
            i--;
        CHECK(i > 0 && h[i - 1] == '=', "value not preceded by '='");
        i--;
        while (i > 0 && ref_ws(h[i - 1]))
            i--;
        CHECK(i >= name_len && memcmp(h + i - name_len, name, name_len) == 0,
              "value not preceded by its name");
    }

    /* Another cookie in front changes nothing; nor does one of the same name at the end. */
    if (strcmp(name, "zz") != 0) {
        char *longer = malloc(size + 7 + name_len + 8);
        memcpy(longer, "zz=1; ", 6);
        memcpy(longer + 6, h, size);
        const char *v2;
        size_t l2;
        int again = cookie_find(longer, size + 6, name, &v2, &l2);
        CHECK(again == got, "a cookie of another name in front changes the answer");
        if (got == 1)
            CHECK(v2 - longer == val - h + 6 && l2 == vlen,
                  "a cookie of another name in front changes the value");
        /* The same name again at the end: a later duplicate is ignored. */
        size_t n = size + 6;
        memcpy(longer + n, ";", 1);
        memcpy(longer + n + 1, name, name_len);
        memcpy(longer + n + 1 + name_len, "=last", 5);
        n += 1 + name_len + 5;
        again = cookie_find(longer, n, name, &v2, &l2);
        if (got == 1)
            CHECK(again == 1 && v2 - longer == val - h + 6 && l2 == vlen,
                  "a later cookie of the same name changes the value");
        else if (got == -1)
            CHECK(again == -1, "a later cookie of the same name hides a malformed header");
        free(longer);
    }
    free(name);
    return 0;
}
