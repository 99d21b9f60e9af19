/*
 * libFuzzer harness for conditional requests and byte ranges (src/http/http_cond.h).
 *
 * Input layout: a 20-byte binary prefix (zero-padded when the input is shorter), then text fields
 * separated by '\n':
 *   bytes 0-7   little-endian u64: the file size (see size_of() for the mapping)
 *   bytes 8-15  little-endian i64: the file's mtime, in seconds
 *   bytes 16-19 little-endian u32: the mtime's nanoseconds when below 10^9, otherwise 0
 *   field 0     Range            field 1  If-None-Match     field 2  If-Modified-Since
 *   field 3     If-Range         field 4  only a date       field 5  If-Match
 *   field 6     If-Unmodified-Since; every field is also parsed as a date
 * A field that is not in the input, or that starts with a NUL byte, is absent (a NULL pointer);
 * an empty one is present and empty.
 *
 * Range is checked against a reference parser written here from the header's contract (by
 * splitting on commas first, unlike the library's single scan), and an OK range must lie in
 * [0, size). A date that parses must format back to a date that parses to the same time, keep the
 * fields it was written with, and a leap second must be one second after :59. If-None-Match is
 * checked against a reference list matcher written here (cutting at commas first, unlike the
 * library's single scan), both ways, on the field and on lists built from it; the other
 * conditional functions against what the header says they compute. Values built to match (the
 * ETag itself, "W/" + ETag, "*", a list ending with the ETag, the formatted mtime) must match, and
 * values built not to (a different opaque-tag, an unclosed one) must not.
 *
 * If-Match and If-Unmodified-Since (RFC 9110 §13.1.1, §13.1.4) are checked against the same
 * reference list reader with the strong comparison of §8.8.3.2 (a match needs two strong tags
 * with equal opaque-tags), and the 412 decision against §13.2.2's steps 1 and 2 as written there:
 * If-Match, when present, alone decides; otherwise a valid If-Unmodified-Since earlier than the
 * mtime fails. Built values: our ETag, "*" and a list ending with it pass whatever the date says;
 * "W/" + ETag, another ETag and an empty value fail; the formatted mtime passes and one second
 * before it fails.
 *
 * Every broken property calls abort() after a line on stderr saying which, so that libFuzzer
 * saves the input as a crash.
 */
#include "http/http_cond.h"
#include "fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX     20
#define MAX_FIELDS 6
/* 0000-01-01 and 9999-12-31 23:59:59 UTC: the years an HTTP-date can spell. */
#define YEAR0_T    ((time_t)-62167219200LL)
#define YEAR9999_T ((time_t)253402300799LL)

/* A field value as the library takes it: NULL when absent. */
struct field {
    const char *p;
    size_t len;
};

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/*
 * Sizes of every magnitude: the low 6 bits shift the other 58 right, so 0, small and huge sizes
 * are all common; a shift of 63 gives a size just below INT64_MAX, where saturation matters.
 */
static off_t size_of(uint64_t u)
{
    unsigned shift = u & 63;
    uint64_t v = u >> 6;
    if (shift == 63)
        return (off_t)(INT64_MAX - (int64_t)(v & 0xffff));
    return (off_t)(v >> shift);
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const char *trim(const char *s, size_t *len)
{
    while (*len > 0 && is_ows(s[0])) {
        s++;
        (*len)--;
    }
    while (*len > 0 && is_ows(s[*len - 1]))
        (*len)--;
    return s;
}

/* Digits of s[*i, end) as an off_t that saturates at INT64_MAX; false if there are none. */
static bool ref_number(const char *s, size_t end, size_t *i, off_t *out)
{
    size_t start = *i;
    uint64_t v = 0;
    for (; *i < end && is_digit(s[*i]); (*i)++) {
        uint64_t d = (uint64_t)(s[*i] - '0');
        v = v > ((uint64_t)INT64_MAX - d) / 10 ? (uint64_t)INT64_MAX : v * 10 + d;
    }
    *out = (off_t)v;
    return *i > start;
}

/*
 * The reference for http_range_parse(), from the contract in http_cond.h and RFC 9110's own
 * terms: an element is satisfiable when its first-pos is below the length, or when it is a
 * suffix-range with a non-zero suffix-length (§14.1.1), so a suffix of an empty file is one.
 * Nothing satisfiable is 416 (§15.5.17); several elements are served whole; one satisfiable
 * element is the 206, unless the file is empty, where no Content-Range can express it.
 */
static enum http_range ref_range(const char *s, size_t len, off_t size, off_t *first, off_t *last)
{
    if (!s)
        return HTTP_RANGE_NONE;
    s = trim(s, &len);
    if (len < 6 || s[5] != '=')
        return HTTP_RANGE_NONE;
    for (int k = 0; k < 5; k++) {
        char c = s[k];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != "bytes"[k])
            return HTTP_RANGE_NONE;
    }
    size_t elements = 0;
    bool any_satisfiable = false;
    off_t f0 = 0, l0 = 0; /* the first element's bounds, when it is satisfiable */
    size_t pos = 6;
    while (pos <= len) {
        const char *comma = memchr(s + pos, ',', len - pos);
        size_t stop = comma ? (size_t)(comma - s) : len;
        size_t elen = stop - pos;
        const char *e = trim(s + pos, &elen);
        pos = stop + 1;
        if (elen == 0)
            continue;
        bool satisfiable;
        off_t f, l;
        size_t i = 0;
        if (e[0] == '-') {
            off_t n;
            for (i = 1; i < elen && is_ows(e[i]); i++)
                ;
            if (!ref_number(e, elen, &i, &n) || i != elen)
                return HTTP_RANGE_NONE;
            satisfiable = n > 0;
            f = n >= size ? 0 : size - n;
            l = size - 1;
        } else {
            off_t b = INT64_MAX;
            if (!ref_number(e, elen, &i, &f))
                return HTTP_RANGE_NONE;
            while (i < elen && is_ows(e[i]))
                i++;
            if (i == elen || e[i] != '-')
                return HTTP_RANGE_NONE;
            for (i++; i < elen && is_ows(e[i]); i++)
                ;
            if (i < elen && (!ref_number(e, elen, &i, &b) || i != elen || b < f))
                return HTTP_RANGE_NONE;
            satisfiable = f < size;
            l = b < size - 1 ? b : size - 1;
        }
        if (elements++ == 0) {
            f0 = f;
            l0 = l;
        }
        any_satisfiable |= satisfiable;
    }
    if (elements == 0)
        return HTTP_RANGE_NONE;
    if (!any_satisfiable)
        return HTTP_RANGE_UNSATISFIABLE;
    if (elements > 1 || size == 0)
        return elements > 1 ? HTTP_RANGE_MULTI : HTTP_RANGE_NONE;
    *first = f0;
    *last = l0;
    return HTTP_RANGE_OK;
}

static void check_range(struct field v, off_t size)
{
    off_t f = -7, l = -7, rf = -7, rl = -7;
    enum http_range got = http_range_parse(v.p, v.len, size, &f, &l);
    enum http_range want = ref_range(v.p, v.len, size, &rf, &rl);
    CHECK(got == want, "range answer differs from the reference");
    if (got == HTTP_RANGE_OK) {
        CHECK(0 <= f && f <= l && l < size, "OK range outside [0, size)");
        CHECK(f == rf && l == rl, "range bounds differ from the reference");
    } else {
        CHECK(f == -7 && l == -7, "range bounds written without OK");
    }
    if (v.p == NULL)
        return;
    /* OWS around the value is the field parser's to strip, so it must change nothing. */
    char *padded = malloc(v.len + 3);
    padded[0] = ' ';
    padded[1] = '\t';
    memcpy(padded + 2, v.p, v.len);
    padded[v.len + 2] = ' ';
    off_t pf = -7, pl = -7;
    CHECK(http_range_parse(padded, v.len + 3, size, &pf, &pl) == got && pf == f && pl == l,
          "OWS around a Range value changes the answer");
    free(padded);
}

/* The full year written in an IMF-fixdate, from its four digits. */
static int year_of(const char *imf)
{
    return (imf[12] - '0') * 1000 + (imf[13] - '0') * 100 + (imf[14] - '0') * 10 + (imf[15] - '0');
}

/*
 * Parses v as an HTTP-date and, when that works, checks that it formats back to a date that
 * parses to the same time and that keeps the day, month, year and time of day it was written with.
 */
static void check_date(struct field v, time_t now)
{
    if (v.p == NULL)
        return;
    time_t t;
    if (http_date_parse_at(v.p, v.len, now, &t) != 0)
        return;
    size_t len = v.len;
    const char *s = trim(v.p, &len);

    /* Where each form keeps its fields: day, month, two-digit year, time of day. */
    const char *day, *mon, *yy, *tod;
    char day2[2];
    if (len == 29 && s[3] == ',') {
        day = s + 5, mon = s + 8, yy = s + 14, tod = s + 17;
    } else if (len == 24 && s[3] == ' ') {
        day2[0] = s[8] == ' ' ? '0' : s[8];
        day2[1] = s[9];
        day = day2, mon = s + 4, yy = s + 22, tod = s + 11;
    } else {
        const char *p = memchr(s, ',', len);
        CHECK(p != NULL, "a date without a comma parsed as RFC 850");
        p++;
        day = p + 1, mon = p + 4, yy = p + 8, tod = p + 11;
    }
    bool leap = memcmp(tod + 6, "60", 2) == 0;

    char out[HTTP_DATE_LEN + 1];
    if (http_date_format(t, out) == 0) {
        CHECK(strlen(out) == HTTP_DATE_LEN, "formatted date of the wrong length");
        time_t back;
        CHECK(http_date_parse_at(out, HTTP_DATE_LEN, now, &back) == 0,
              "a formatted date does not parse");
        CHECK(back == t, "a formatted date parses to another time");
        if (!leap) {
            CHECK(memcmp(out + 5, day, 2) == 0, "day of the month changed");
            CHECK(memcmp(out + 8, mon, 3) == 0, "month changed");
            CHECK(memcmp(out + 14, yy, 2) == 0, "year changed");
            CHECK(memcmp(out + 17, tod, 8) == 0, "time of day changed");
            if (len == 29 && s[3] == ',')
                CHECK(memcmp(out + 3, s + 3, 26) == 0, "IMF-fixdate not formatted back as sent");
        }
        /* RFC 850's two-digit year lies in (now - 50, now + 50] (RFC 9110 §5.6.7). */
        bool rfc850 = !(len == 29 && s[3] == ',') && !(len == 24 && s[3] == ' ');
        char nowbuf[HTTP_DATE_LEN + 1];
        if (rfc850 && !leap && http_date_format(now, nowbuf) == 0) {
            int y = year_of(out), cur = year_of(nowbuf);
            CHECK(y > cur - 50 && y <= cur + 50, "two-digit year outside the 50-year window");
        }
    } else {
        /*
         * Four-digit years always format; only a leap second on 9999-12-31 or an RFC 850 year
         * windowed around a "now" near year 0 or 9999 can leave 0000..9999.
         */
        CHECK(t > YEAR9999_T || t < YEAR0_T, "a parsed date in 0000..9999 does not format");
    }

    if (leap) {
        /* A leap second rolls into the next minute: one second after :59. */
        char *copy = malloc(len);
        memcpy(copy, s, len);
        memcpy(copy + (tod - s) + 6, "59", 2);
        time_t t59;
        CHECK(http_date_parse_at(copy, len, now, &t59) == 0, ":59 does not parse where :60 does");
        CHECK(t == t59 + 1, "a leap second is not one second after :59");
        free(copy);
    }
}

/* Returns a malloc'ed concatenation of a[0, alen) and b (NUL-terminated). */
static char *concat(const char *a, size_t alen, const char *b, size_t *len)
{
    size_t blen = strlen(b);
    char *p = malloc(alen + blen + 1);
    memcpy(p, a, alen);
    memcpy(p + alen, b, blen + 1);
    *len = alen + blen;
    return p;
}

/* etagc (RFC 9110 §8.8.3): %x21 / %x23-7E / obs-text, that is any visible byte but DQUOTE. */
static bool ref_etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

/*
 * Whether s[0, n) is exactly one entity-tag, [ "W/" ] DQUOTE *etagc DQUOTE; *opaque and *olen
 * are then its opaque-tag, quotes included, which is all the weak comparison looks at, and *weak
 * tells whether it had the "W/" that the strong comparison looks at too.
 */
static bool ref_etag(const char *s, size_t n, const char **opaque, size_t *olen, bool *weak)
{
    *weak = n >= 2 && s[0] == 'W' && s[1] == '/';
    if (*weak) {
        s += 2;
        n -= 2;
    }
    if (n < 2 || s[0] != '"' || s[n - 1] != '"')
        return false;
    for (size_t i = 1; i + 1 < n; i++) {
        if (!ref_etagc((unsigned char)s[i]))
            return false;
    }
    *opaque = s;
    *olen = n;
    return true;
}

/*
 * The reference for http_etag_match_weak() and, with strong set, http_etag_match_strong(), from
 * RFC 9110 §13.1.2 (If-None-Match = "*" / #entity-tag), §13.1.1 (If-Match, the same syntax) and
 * the contract in http_cond.h. The weak comparison (§8.8.3.2) looks at the opaque-tags alone; the
 * strong one also needs both entity-tags to be strong. It cuts the value at every comma first, as
 * the list rule reads; but ',' is an etagc, so a piece that opens an opaque-tag without closing it
 * runs on to the piece that holds the next DQUOTE, and is one element when the whole run is a
 * well-formed entity-tag. Otherwise the piece alone is a malformed element: it matches nothing
 * and the list goes on at the next piece. "*" counts only as the whole value.
 */
static bool ref_match(const char *v, size_t len, const char *etag, size_t etag_len, bool strong)
{
    v = trim(v, &len);
    if (len == 1 && v[0] == '*')
        return true;
    const char *own;
    size_t own_len, elen = etag_len;
    bool own_weak;
    const char *e = trim(etag, &elen);
    if (!ref_etag(e, elen, &own, &own_len, &own_weak))
        return false;

    size_t start = 0;
    while (start <= len) {
        const char *comma = memchr(v + start, ',', len - start);
        size_t stop = comma ? (size_t)(comma - v) : len;
        size_t end = stop;
        size_t plen = stop - start;
        const char *piece = trim(v + start, &plen);
        size_t q = plen >= 2 && piece[0] == 'W' && piece[1] == '/' ? 2 : 0;
        if (q < plen && piece[q] == '"' && !memchr(piece + q + 1, '"', plen - q - 1) &&
            stop < len) {
            /* An unclosed opaque-tag: the element may end after the piece with the next DQUOTE. */
            const char *close = memchr(v + stop, '"', len - stop);
            if (close) {
                const char *after = memchr(close, ',', (size_t)(v + len - close));
                end = after ? (size_t)(after - v) : len;
            }
        }
        size_t tlen = end - start;
        const char *tag = trim(v + start, &tlen);
        const char *opaque;
        size_t olen;
        bool weak;
        if (ref_etag(tag, tlen, &opaque, &olen, &weak)) {
            bool equal = olen == own_len && memcmp(opaque, own, olen) == 0;
            if (equal && (!strong || (!weak && !own_weak)))
                return true;
            start = end + 1;
        } else {
            start = stop + 1;
        }
    }
    return false;
}

static bool ref_inm(const char *v, size_t len, const char *etag, size_t etag_len)
{
    return ref_match(v, len, etag, etag_len, false);
}

static bool ref_im(const char *v, size_t len, const char *etag, size_t etag_len)
{
    return ref_match(v, len, etag, etag_len, true);
}

/* http_etag_match_weak() must give the reference's answer, for our ETag strong and weak. */
static void check_inm(const char *list, size_t len, const char *etag, size_t etag_len,
                      const char *weak, size_t weak_len, const char *what)
{
    CHECK(http_etag_match_weak(list, len, etag, etag_len) == ref_inm(list, len, etag, etag_len),
          what);
    CHECK(http_etag_match_weak(list, len, weak, weak_len) == ref_inm(list, len, weak, weak_len),
          what);
}

/*
 * http_etag_match_strong() must give the reference's answer for our ETag; against a weak ETag of
 * ours, only "*" may match.
 */
static void check_im(const char *list, size_t len, const char *etag, size_t etag_len,
                     const char *weak, size_t weak_len, const char *what)
{
    bool got = http_etag_match_strong(list, len, etag, etag_len);
    CHECK(got == ref_im(list, len, etag, etag_len), what);
    size_t tlen = len;
    const char *t = trim(list, &tlen);
    bool star = tlen == 1 && t[0] == '*';
    CHECK(http_etag_match_strong(list, len, weak, weak_len) == star,
          "If-Match matched a weak ETag of ours");
    CHECK(!got || http_etag_match_weak(list, len, etag, etag_len),
          "If-Match matched strongly but not weakly");
}

/*
 * The 412 decision (RFC 9110 §13.2.2 steps 1 and 2) against the reference, and on values built
 * to pass or to fail, whatever the input's If-Match and If-Unmodified-Since are.
 */
static void check_preconditions(struct field im, struct field ius, const char *etag,
                                size_t etag_len, const char *weak, size_t wn, time_t mtime)
{
    time_t since;
    size_t n, on;
    char *other = concat(etag, etag_len, "", &on);
    other[1] = 'x'; /* a different opaque-tag, as in check_conditionals() */
    check_im(etag, etag_len, etag, etag_len, weak, wn, "If-Match with our ETag wrong");
    check_im(weak, wn, etag, etag_len, weak, wn, "If-Match with W/ our ETag wrong");
    check_im(other, on, etag, etag_len, weak, wn, "If-Match with another ETag wrong");
    check_im("*", 1, etag, etag_len, weak, wn, "If-Match * wrong");
    CHECK(http_etag_match_strong(etag, etag_len, etag, etag_len), "If-Match missed our ETag");
    CHECK(!http_etag_match_strong(weak, wn, etag, etag_len), "If-Match matched W/ our ETag");
    CHECK(!http_etag_match_strong(other, on, etag, etag_len), "If-Match matched another ETag");
    if (im.p) {
        check_im(im.p, im.len, etag, etag_len, weak, wn, "If-Match differs from the reference");
        char *list = concat(im.p, im.len, ",", &n);
        char *full = concat(list, n, etag, &n);
        check_im(full, n, etag, etag_len, weak, wn, "If-Match list differs from the reference");
        free(full);
        free(list);
        list = concat(im.p, im.len, ", ", &n);
        full = concat(list, n, etag, &n);
        CHECK(http_etag_match_strong(full, n, etag, etag_len), "If-Match ETag after others missed");
        free(full);
        free(list);
    }

    /* Step 1, then step 2 only when If-Match is absent; an invalid date is no condition. */
    bool want = im.p ? !ref_im(im.p, im.len, etag, etag_len)
                     : ius.p && http_date_parse(ius.p, ius.len, &since) == 0 && mtime > since;
    CHECK(http_precondition_failed(im.p, im.len, ius.p, ius.len, etag, etag_len, mtime) == want,
          "precondition_failed differs from the reference");
    CHECK(!http_precondition_failed(NULL, 0, NULL, 0, etag, etag_len, mtime),
          "412 with no condition");
    CHECK(!http_precondition_failed("*", 1, ius.p, ius.len, etag, etag_len, mtime),
          "412 with If-Match: *");
    CHECK(!http_precondition_failed(etag, etag_len, ius.p, ius.len, etag, etag_len, mtime),
          "412 with If-Match: our ETag");
    CHECK(http_precondition_failed(weak, wn, ius.p, ius.len, etag, etag_len, mtime),
          "no 412 with If-Match: W/ our ETag");
    CHECK(http_precondition_failed(other, on, ius.p, ius.len, etag, etag_len, mtime),
          "no 412 with If-Match: another ETag");
    CHECK(http_precondition_failed("", 0, ius.p, ius.len, etag, etag_len, mtime),
          "no 412 with an empty If-Match");
    free(other);
    char date[HTTP_DATE_LEN + 1];
    if (http_date_format(mtime, date) == 0)
        CHECK(!http_precondition_failed(NULL, 0, date, HTTP_DATE_LEN, etag, etag_len, mtime),
              "412 with If-Unmodified-Since: our Last-Modified");
    if (mtime > YEAR0_T && http_date_format(mtime - 1, date) == 0)
        CHECK(http_precondition_failed(NULL, 0, date, HTTP_DATE_LEN, etag, etag_len, mtime),
              "no 412 with If-Unmodified-Since a second before our Last-Modified");
}

static void check_conditionals(const struct field *fl, const char *etag, size_t etag_len,
                               time_t mtime)
{
    struct field inm = fl[1], ims = fl[2], ir = fl[3];
    time_t since;
    size_t n, wn;
    char *weak = concat("W/", 2, etag, &wn);

    /*
     * If-None-Match against the reference, both ways, so that neither a matcher that always says
     * yes nor one that always says no survives: first on values built from our ETag, whatever
     * the input, then on the field and on lists that end with our ETag after it.
     */
    char *other = concat(etag, etag_len, "", &n);
    other[1] = 'x'; /* a different opaque-tag: an ETag has a hex digit there */
    CHECK(!http_etag_match_weak(other, n, etag, etag_len), "another ETag matches ours");
    CHECK(!ref_inm(other, n, etag, etag_len), "the reference matches another ETag");
    CHECK(!http_etag_match_weak(etag, etag_len - 1, etag, etag_len), "an unclosed ETag matches");
    free(other);
    check_inm(etag, etag_len, etag, etag_len, weak, wn, "If-None-Match with our ETag wrong");
    check_inm("*", 1, etag, etag_len, weak, wn, "If-None-Match * wrong");
    if (inm.p) {
        check_inm(inm.p, inm.len, etag, etag_len, weak, wn,
                  "If-None-Match answer differs from the reference");
        /* Without OWS after the comma, an unclosed tag in the field may swallow the comma. */
        char *list = concat(inm.p, inm.len, ",", &n);
        char *full = concat(list, n, etag, &n);
        check_inm(full, n, etag, etag_len, weak, wn,
                  "If-None-Match list differs from the reference");
        free(full);
        free(list);
    }

    /* http_not_modified(): If-None-Match alone decides when present, else If-Modified-Since. */
    bool want = inm.p ? ref_inm(inm.p, inm.len, etag, etag_len)
                      : ims.p && http_date_parse(ims.p, ims.len, &since) == 0 && mtime <= since;
    CHECK(http_not_modified(inm.p, inm.len, ims.p, ims.len, etag, etag_len, mtime) == want,
          "not_modified differs from the reference");
    CHECK(!http_not_modified(NULL, 0, NULL, 0, etag, etag_len, mtime), "304 with no condition");
    CHECK(http_not_modified("*", 1, ims.p, ims.len, etag, etag_len, mtime), "* does not match");
    CHECK(http_not_modified(etag, etag_len, ims.p, ims.len, etag, etag_len, mtime),
          "the ETag does not match itself");
    CHECK(http_etag_match_weak(weak, wn, etag, etag_len), "W/ETag does not match weakly");
    CHECK(!http_if_range_ok(weak, wn, etag, etag_len, mtime), "a weak If-Range matched");
    check_preconditions(fl[5], fl[6], etag, etag_len, weak, wn, mtime);
    free(weak);
    if (inm.p) {
        /* A malformed element matches nothing, and the rest of the list still counts. */
        char *list = concat(inm.p, inm.len, ", ", &n);
        char *full = concat(list, n, etag, &n);
        CHECK(http_etag_match_weak(full, n, etag, etag_len), "ETag after other elements missed");
        free(full);
        free(list);
    }

    /* http_if_range_ok(): a strong ETag equal to ours, or exactly our date. */
    CHECK(http_if_range_ok(NULL, 0, etag, etag_len, mtime), "an absent If-Range refused");
    CHECK(http_if_range_ok(etag, etag_len, etag, etag_len, mtime), "our ETag refused by If-Range");
    char date[HTTP_DATE_LEN + 1];
    if (http_date_format(mtime, date) == 0)
        CHECK(http_if_range_ok(date, HTTP_DATE_LEN, etag, etag_len, mtime),
              "our Last-Modified refused by If-Range");
    if (ir.p) {
        bool ok = http_if_range_ok(ir.p, ir.len, etag, etag_len, mtime);
        size_t len = ir.len;
        const char *s = trim(ir.p, &len);
        bool tag = (len > 0 && s[0] == '"') || (len > 1 && s[0] == 'W' && s[1] == '/');
        time_t t;
        if (tag)
            CHECK(ok == (len == etag_len && memcmp(s, etag, len) == 0),
                  "If-Range entity-tag answer wrong");
        else
            CHECK(ok == (http_date_parse(s, len, &t) == 0 && t == mtime),
                  "If-Range date answer wrong");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t prefix[PREFIX] = {0};
    memcpy(prefix, data, size < PREFIX ? size : PREFIX);
    off_t fsize = size_of(le64(prefix));
    time_t mtime = (time_t)(int64_t)le64(prefix + 8);
    uint32_t ns = (uint32_t)prefix[16] | (uint32_t)prefix[17] << 8 | (uint32_t)prefix[18] << 16 |
                  (uint32_t)prefix[19] << 24;
    struct timespec ts = {.tv_sec = mtime, .tv_nsec = ns < 1000000000u ? (long)ns : 0};

    /*
     * The clock for two-digit years: once kept within the years a date can spell, where the
     * window checks apply, and once the mtime as it is, anywhere in time_t, because a "now" near
     * the end of int's years overflowed an int in http_cond.c's full_year() (fixed in 27711a3).
     */
    time_t now = mtime < YEAR0_T ? YEAR0_T : mtime > YEAR9999_T ? YEAR9999_T : mtime;

    /* Each field in its own allocation of exactly its length, so ASan sees any over-read. */
    struct field fl[MAX_FIELDS + 1] = {{0}};
    char *copies[MAX_FIELDS + 1] = {0};
    size_t nfields = 0;
    if (size >= PREFIX) {
        const char *p = (const char *)data + PREFIX, *end = (const char *)data + size;
        while (nfields <= MAX_FIELDS) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *e = nl ? nl : end;
            size_t n = (size_t)(e - p);
            copies[nfields] = malloc(n ? n : 1);
            memcpy(copies[nfields], p, n);
            /* A leading NUL, which no field value can hold, marks the field absent. */
            if (n == 0 || p[0] != '\0') {
                fl[nfields].p = copies[nfields];
                fl[nfields].len = n;
            }
            nfields++;
            if (!nl)
                break;
            p = nl + 1;
        }
    }

    check_range(fl[0], fsize);
    for (size_t i = 0; i <= MAX_FIELDS; i++) {
        check_date(fl[i], now);
        if (now != mtime)
            check_date(fl[i], mtime);
    }

    char etag[HTTP_ETAG_MAX];
    size_t etag_len = http_etag_format(etag, fsize, ts);
    CHECK(etag_len < HTTP_ETAG_MAX && strlen(etag) == etag_len, "ETag overflows its buffer");
    check_conditionals(fl, etag, etag_len, mtime);

    for (size_t i = 0; i < nfields; i++)
        free(copies[i]);
    return 0;
}
