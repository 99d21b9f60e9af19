/*
 * Form bodies and UTF-8 validation (see form.h for the rules).
 *
 * form_decode walks the body one pair at a time and makes several short passes over each pair,
 * none of which writes anywhere but a wanted field's buffer: the escapes are checked first, so
 * that the later passes can decode without checking again; then the name and the value are
 * decoded byte by byte through the UTF-8 automaton; then the name is compared with each wanted
 * one; only a wanted value is decoded into its buffer. Decoding on the fly, rather than into a
 * scratch buffer, is what keeps it free of allocation and of any limit on a name's length.
 */
#include "app/form.h"

/*
 * The UTF-8 automaton of Unicode table 3-7: after a lead byte, the range the next byte must lie
 * in, and how many continuation bytes are still due. The first continuation byte's range is
 * what excludes overlong forms (E0 A0.., F0 90..), surrogates (ED ..9F) and code points above
 * U+10FFFF (F4 ..8F); the later ones are always 80..BF.
 */
struct utf8_state {
    unsigned need;
    unsigned char lo, hi;
};

#define UTF8_START ((struct utf8_state){0, 0x80, 0xbf})

/* Feeds one byte; false when the sequence so far cannot be well-formed. */
static bool utf8_step(struct utf8_state *st, unsigned char b)
{
    if (st->need > 0) {
        if (b < st->lo || b > st->hi)
            return false;
        st->need--;
        st->lo = 0x80;
        st->hi = 0xbf;
        return true;
    }
    if (b < 0x80)
        return true;
    if (b >= 0xc2 && b <= 0xdf)
        *st = (struct utf8_state){1, 0x80, 0xbf};
    else if (b == 0xe0)
        *st = (struct utf8_state){2, 0xa0, 0xbf};
    else if (b == 0xed)
        *st = (struct utf8_state){2, 0x80, 0x9f};
    else if (b >= 0xe1 && b <= 0xef)
        *st = (struct utf8_state){2, 0x80, 0xbf};
    else if (b == 0xf0)
        *st = (struct utf8_state){3, 0x90, 0xbf};
    else if (b >= 0xf1 && b <= 0xf3)
        *st = (struct utf8_state){3, 0x80, 0xbf};
    else if (b == 0xf4)
        *st = (struct utf8_state){3, 0x80, 0x8f};
    else
        return false; /* 80..C1 (a stray continuation or an overlong lead), F5..FF */
    return true;
}

bool utf8_valid(const char *p, size_t len)
{
    struct utf8_state st = UTF8_START;
    for (size_t i = 0; i < len; i++)
        if (!utf8_step(&st, (unsigned char)p[i]))
            return false;
    return st.need == 0;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Whether every '%' of s[0, n) starts a full escape ("%4" at the end of a pair is not one). */
static bool escapes_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%')
            continue;
        if (n - i < 3 || hex_value((unsigned char)s[i + 1]) < 0 ||
            hex_value((unsigned char)s[i + 2]) < 0)
            return false;
        i += 2;
    }
    return true;
}

/* The next decoded byte of s at *i, which it advances; the escapes were checked already. */
static unsigned char next_byte(const char *s, size_t *i)
{
    unsigned char c = (unsigned char)s[(*i)++];
    if (c == '+')
        return ' ';
    if (c != '%')
        return c;
    c = (unsigned char)(hex_value((unsigned char)s[*i]) << 4 | hex_value((unsigned char)s[*i + 1]));
    *i += 2;
    return c;
}

/* Whether s[0, n) decodes to well-formed UTF-8. */
static bool decoded_utf8_ok(const char *s, size_t n)
{
    struct utf8_state st = UTF8_START;
    for (size_t i = 0; i < n;)
        if (!utf8_step(&st, next_byte(s, &i)))
            return false;
    return st.need == 0;
}

/* Whether s[0, n) decodes to exactly the C string want. */
static bool decoded_equals(const char *s, size_t n, const char *want)
{
    size_t j = 0;
    for (size_t i = 0; i < n; j++) {
        unsigned char b = next_byte(s, &i);
        if (want[j] == '\0' || (unsigned char)want[j] != b)
            return false;
    }
    return want[j] == '\0';
}

/* Decodes a wanted value s[0, n) into f (whose seen is still false). */
static int decode_value(const char *s, size_t n, struct form_field *f)
{
    size_t len = 0;
    for (size_t i = 0; i < n;) {
        unsigned char b = next_byte(s, &i);
        if (b < 0x20 || b == 0x7f)
            return FORM_ECTRL;
        /* Past cap - 1 bytes, count on (a control character later still takes precedence). */
        if (len < f->cap - 1)
            f->out[len] = (char)b;
        len++;
    }
    if (len >= f->cap)
        return FORM_ETOOLONG;
    f->out[len] = '\0';
    f->len = len;
    f->seen = true;
    return 0;
}

static void reset(struct form_field *fields, size_t nfields)
{
    for (size_t k = 0; k < nfields; k++) {
        fields[k].out[0] = '\0';
        fields[k].len = 0;
        fields[k].seen = false;
    }
}

/* Checks one non-empty pair p[0, n) and, when its name is wanted, fills that field. */
static int decode_pair(const char *p, size_t n, struct form_field *fields, size_t nfields)
{
    if (!escapes_ok(p, n))
        return FORM_EMALFORMED;
    /* Only a literal '=' separates: "%3D" is part of the name. */
    size_t name_len = 0;
    while (name_len < n && p[name_len] != '=')
        name_len++;
    const char *value = p + name_len + (name_len < n);
    size_t value_len = n - name_len - (name_len < n);
    if (!decoded_utf8_ok(p, name_len) || !decoded_utf8_ok(value, value_len))
        return FORM_EUTF8;
    for (size_t k = 0; k < nfields; k++) {
        if (!decoded_equals(p, name_len, fields[k].name))
            continue;
        if (fields[k].seen)
            return FORM_EDUP;
        return decode_value(value, value_len, &fields[k]);
    }
    return 0;
}

int form_decode(const char *body, size_t len, struct form_field *fields, size_t nfields)
{
    reset(fields, nfields);
    for (size_t i = 0; i < len;) {
        size_t end = i;
        while (end < len && body[end] != '&')
            end++;
        if (end > i) {
            int rc = decode_pair(body + i, end - i, fields, nfields);
            if (rc != 0) {
                reset(fields, nfields);
                return rc;
            }
        }
        i = end + 1;
    }
    return 0;
}

const char *form_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case FORM_EMALFORMED:
        return "malformed escape";
    case FORM_EUTF8:
        return "invalid UTF-8";
    case FORM_EDUP:
        return "duplicate field";
    case FORM_ECTRL:
        return "control character in a value";
    case FORM_ETOOLONG:
        return "value too long";
    default:
        return "unknown error";
    }
}
