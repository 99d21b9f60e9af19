/*
 * libFuzzer harness for form bodies and UTF-8 validation (src/app/form.h).
 *
 * The input is a form body. It is decoded for three wanted fields, "user", "password" and a name
 * taken from the body itself (so that duplicates and long values are found often), with buffer
 * sizes drawn from a hash of the input, and the answer is checked against a plain reference
 * decoder written here: each pair decoded whole into its own buffers, then judged in the order
 * the header gives (escapes, UTF-8 of the name, of the value, then duplicate, control
 * character, length). The same error, or the same fields with the same values. Any value
 * decoded is well-formed UTF-8 by the reference's own check, holds no control character, fits
 * its buffer with a NUL and is no longer than the body; after an error every field is empty.
 * A decoded value, encoded again and decoded, comes back unchanged. utf8_valid agrees with the
 * reference on the raw input.
 *
 * Every broken property calls abort() after a line on stderr saying which, so that libFuzzer
 * saves the input as a crash.
 */
#include "app/form.h"
#include "fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define NFIELDS 3

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * The reference UTF-8 check: decodes each sequence to its code point by arithmetic and applies
 * Unicode's rules (the shortest form, no surrogate, at most U+10FFFF), where form.c uses the
 * byte ranges of table 3-7.
 */
static bool ref_utf8(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned char b = p[i];
        size_t n;
        uint32_t cp, min;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xe0) == 0xc0) {
            n = 2, cp = b & 0x1f, min = 0x80;
        } else if ((b & 0xf0) == 0xe0) {
            n = 3, cp = b & 0x0f, min = 0x800;
        } else if ((b & 0xf8) == 0xf0) {
            n = 4, cp = b & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i < n)
            return false;
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n;
    }
    return true;
}

/* Decodes s[0, n) whole into out (n bytes suffice); the length, or -1 for a malformed escape. */
static ssize_t ref_unescape(const char *s, size_t n, unsigned char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (n - i < 3)
                return -1;
            int hi = hex_digit((unsigned char)s[i + 1]), lo = hex_digit((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        out[k++] = c;
    }
    return (ssize_t)k;
}

static bool has_control(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] == 0x7f)
            return true;
    return false;
}

/* What the reference found for one wanted field. */
struct ref_field {
    bool seen;
    size_t len;
    unsigned char *val; /* malloc'ed when seen */
};

/*
 * The reference decoder: splits the body into pairs, decodes each one's name and value whole,
 * then judges them. The wanted names are C strings; caps as in struct form_field.
 */
static int ref_decode(const char *in, size_t len, const char *const *names, const size_t *caps,
                      size_t nfields, struct ref_field *res)
{
    memset(res, 0, sizeof(*res) * nfields);
    unsigned char *name = malloc(len + 1), *value = malloc(len + 1);
    int rc = 0;
    size_t start = 0;
    while (start <= len && rc == 0) {
        const char *amp = memchr(in + start, '&', len - start);
        size_t end = amp ? (size_t)(amp - in) : len;
        size_t plen = end - start;
        const char *pair = in + start;
        start = end + 1;
        if (plen == 0)
            continue;
        const char *eq = memchr(pair, '=', plen);
        size_t nraw = eq ? (size_t)(eq - pair) : plen;
        ssize_t nlen = ref_unescape(pair, nraw, name);
        ssize_t vlen = eq ? ref_unescape(eq + 1, plen - nraw - 1, value) : 0;
        if (nlen < 0 || vlen < 0) {
            rc = FORM_EMALFORMED;
        } else if (!ref_utf8(name, (size_t)nlen) || !ref_utf8(value, (size_t)vlen)) {
            rc = FORM_EUTF8;
        } else {
            for (size_t k = 0; k < nfields; k++) {
                if (strlen(names[k]) != (size_t)nlen || memcmp(names[k], name, (size_t)nlen))
                    continue;
                if (res[k].seen)
                    rc = FORM_EDUP;
                else if (has_control(value, (size_t)vlen))
                    rc = FORM_ECTRL;
                else if ((size_t)vlen >= caps[k])
                    rc = FORM_ETOOLONG;
                else {
                    res[k].seen = true;
                    res[k].len = (size_t)vlen;
                    res[k].val = malloc((size_t)vlen + 1);
                    memcpy(res[k].val, value, (size_t)vlen);
                }
                break;
            }
        }
    }
    free(name);
    free(value);
    return rc;
}

/*
 * A name for the third field, taken from the body: the decoded name of the pair the hash picks,
 * when it decodes and holds no NUL (a C string cannot ask for it). NULL otherwise.
 */
static char *name_from_body(const char *in, size_t len, uint64_t h)
{
    size_t pairs = 1;
    for (size_t i = 0; i < len; i++)
        pairs += in[i] == '&';
    size_t want = (size_t)(h % pairs), start = 0;
    for (size_t p = 0; p < want; p++)
        start += (size_t)((const char *)memchr(in + start, '&', len - start) - (in + start)) + 1;
    const char *amp = memchr(in + start, '&', len - start);
    size_t plen = amp ? (size_t)(amp - (in + start)) : len - start;
    const char *eq = memchr(in + start, '=', plen);
    size_t nraw = eq ? (size_t)(eq - (in + start)) : plen;
    char *name = malloc(nraw + 1);
    ssize_t n = ref_unescape(in + start, nraw, (unsigned char *)name);
    if (n < 0 || memchr(name, '\0', (size_t)n) != NULL) {
        free(name);
        return NULL;
    }
    name[n] = '\0';
    return name;
}

/* Encodes value as a browser would ("name=" then %XX for all but alphanumerics, '+' for a
 * space), decodes that and checks that value comes back. */
static void check_round_trip(const char *value, size_t len)
{
    char *enc = malloc(5 + 3 * len);
    size_t n = 0;
    memcpy(enc, "name=", 5);
    n = 5;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            enc[n++] = (char)c;
        } else if (c == ' ') {
            enc[n++] = '+';
        } else {
            enc[n++] = '%';
            enc[n++] = "0123456789ABCDEF"[c >> 4];
            enc[n++] = "0123456789abcdef"[c & 15]; /* both hex cases */
        }
    }
    char *out = malloc(len + 1);
    struct form_field f = {.name = "name", .out = out, .cap = len + 1};
    int rc = form_decode(enc, n, &f, 1);
    CHECK(rc == 0, "an encoded value does not decode");
    CHECK(f.seen && f.len == len && memcmp(out, value, len) == 0,
          "encode then decode does not give the value back");
    free(out);
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    uint64_t h = fuzz_hash(data, size);

    CHECK(utf8_valid(in, size) == ref_utf8(data, size), "utf8_valid differs from the reference");

    char *third = name_from_body(in, size, h);
    const char *names[NFIELDS] = {"user", "password", third ? third : "x"};
    if (strcmp(names[2], "user") == 0 || strcmp(names[2], "password") == 0)
        names[2] = "x"; /* the wanted names must be distinct */
    size_t caps[NFIELDS];
    struct form_field fields[NFIELDS];
    for (size_t k = 0; k < NFIELDS; k++) {
        /* Mostly small buffers, sometimes one that always suffices. */
        uint64_t r = h >> (16 * k);
        caps[k] = (r & 0x8000) ? size + 1 : 1 + (size_t)(r % 24);
        fields[k] = (struct form_field){.name = names[k], .out = malloc(caps[k]), .cap = caps[k]};
        memset(fields[k].out, 'Z', caps[k]);
    }

    struct ref_field ref[NFIELDS];
    int want = ref_decode(in, size, names, caps, NFIELDS, ref);
    int got = form_decode(in, size, fields, NFIELDS);
    CHECK(got == want, "form_decode's answer differs from the reference");
    CHECK(form_strerror(got) != NULL, "no text for an answer");

    for (size_t k = 0; k < NFIELDS; k++) {
        struct form_field *f = &fields[k];
        CHECK(f->len < f->cap && f->out[f->len] == '\0', "value not NUL-terminated in its buffer");
        if (got != 0) {
            CHECK(!f->seen && f->len == 0, "a field left filled after an error");
            continue;
        }
        CHECK(f->seen == ref[k].seen, "seen differs from the reference");
        if (!f->seen) {
            CHECK(f->len == 0, "an absent field has a length");
            continue;
        }
        CHECK(f->len == ref[k].len && memcmp(f->out, ref[k].val, f->len) == 0,
              "value differs from the reference");
        CHECK(f->len <= size, "value longer than the body");
        CHECK(ref_utf8((const unsigned char *)f->out, f->len), "value is not valid UTF-8");
        CHECK(!has_control((const unsigned char *)f->out, f->len), "control character in a value");
        check_round_trip(f->out, f->len);
    }

    for (size_t k = 0; k < NFIELDS; k++) {
        free(ref[k].val);
        free(fields[k].out);
    }
    free(third);
    return 0;
}
