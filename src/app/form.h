/*
 * Form bodies (application/x-www-form-urlencoded) and UTF-8 validation, for the register and
 * login forms.
 *
 * The parser is the WHATWG URL standard's urlencoded parser made strict: the body splits on '&',
 * each pair on its first '=' (a pair without '=' is a name with an empty value), '+' decodes to a
 * space and %XX (either hex case) to its byte; empty pairs ("a=1&&b=2", a leading or trailing
 * '&') are skipped. Where WHATWG passes a malformed escape through as it is, this parser refuses
 * the body: "%zz", "%4" and a trailing '%' are errors, so that one value never has two readings.
 * Every decoded name and value, wanted or not, must be well-formed UTF-8 (Unicode table 3-7: no
 * overlong forms such as C0 80, no surrogates ED A0 80..ED BF BF, nothing above U+10FFFF, no
 * truncated sequence). A wanted value must also be free of control characters (U+0000..U+001F
 * and U+007F, "%00" included): values become user names and passwords, which end up in logs,
 * pages and C strings, and no browser sends them from a text or password input.
 *
 * The caller maps every error to 400. Pure functions; no allocation; thread-safe.
 */
#ifndef TINYWEB_APP_FORM_H
#define TINYWEB_APP_FORM_H

#include <stdbool.h>
#include <stddef.h>

/* form_decode's errors (0 is success). */
#define FORM_EMALFORMED (-1) /* a '%' not followed by two hex digits */
#define FORM_EUTF8      (-2) /* a decoded name or value is not well-formed UTF-8 */
#define FORM_EDUP       (-3) /* a wanted field appears twice */
#define FORM_ECTRL      (-4) /* a wanted value holds a control character (U+0000..1F, U+007F) */
#define FORM_ETOOLONG   (-5) /* a wanted value of cap bytes or more */

/* One field the caller wants; an array of them is form_decode's question and answer. */
struct form_field {
    const char *name; /* in: the field wanted (decoded name compared bytewise); distinct names */
    char *out;        /* in: where its decoded value goes, NUL-terminated */
    size_t cap;       /* in: out's size, at least 1; a value of cap bytes or more is an error */
    size_t len;       /* out: decoded length */
    bool seen;        /* out: present */
};

/*
 * Decodes the form body[0, len) and fills the wanted fields: each one present gets seen=true and
 * its decoded value in out (len bytes and a NUL); each one absent gets seen=false, out="" and
 * len=0 (the caller decides whether that is an error). Fields not wanted are skipped, but their
 * escapes and UTF-8 are checked all the same.
 * Returns 0, or FORM_EMALFORMED, FORM_EUTF8, FORM_EDUP, FORM_ECTRL or FORM_ETOOLONG. When the
 * body has several problems, the first pair with one decides, and within a pair the order is:
 * a malformed escape anywhere in the pair, then bad UTF-8 in its name, then in its value, then
 * (a wanted field) a duplicate, a control character, a value too long. On error every field is
 * reset as if absent (seen=false, out="", len=0), so nothing half-decoded is ever used.
 * O(len * nfields) (the pair's name is compared with each wanted one), no allocation.
 */
int form_decode(const char *body, size_t len, struct form_field *fields, size_t nfields);

/* A short English description of a form_decode result ("malformed escape"), for logs. */
const char *form_strerror(int err);

/*
 * True when p[0, len) is well-formed UTF-8 (Unicode table 3-7): no overlong form, no surrogate
 * (U+D800..U+DFFF), nothing above U+10FFFF, no stray continuation byte, no truncated sequence.
 * NUL and other control characters are valid UTF-8. O(len), no allocation.
 */
bool utf8_valid(const char *p, size_t len);

#endif
