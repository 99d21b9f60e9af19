/*
 * Conditional requests and byte ranges for static files (RFC 9110 §13, §14): HTTP-dates, the
 * ETag, If-Match / If-Unmodified-Since, If-None-Match / If-Modified-Since, Range and If-Range. Pure
 * functions of their arguments (only http_date_parse() reads the clock, for the obsolete two-digit
 * years).
 *
 * A header field's value is passed as (pointer, length), and a NULL pointer means the field is
 * absent. Leading and trailing OWS in a value are ignored, as a field parser would strip them.
 * Deciding what applies to which method (GET and HEAD only) is the caller's.
 *
 * The ETag is nginx's "<mtime-hex>-<size-hex>", in seconds, when the mtime has no nanoseconds;
 * otherwise "<mtime-hex>.<nsec-hex>-<size-hex>", so two same-size writes within one second still
 * get different strong validators (nginx would answer 304 with the older content).
 */
#ifndef TINYWEB_HTTP_HTTP_COND_H
#define TINYWEB_HTTP_HTTP_COND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* The length of an IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT". */
#define HTTP_DATE_LEN 29

/* A buffer that holds any ETag this module formats, with its NUL. */
#define HTTP_ETAG_MAX 48

enum http_range {
    HTTP_RANGE_NONE,          /* absent, another unit or invalid: ignore it and send 200 */
    HTTP_RANGE_OK,            /* one satisfiable range in [*first, *last]: send 206 */
    HTTP_RANGE_MULTI,         /* several ranges, some satisfiable: send 200 with everything */
    HTTP_RANGE_UNSATISFIABLE, /* nothing satisfiable: send 416 with the unsatisfied-range form */
};

/*
 * Formats t as an IMF-fixdate into out, NUL-terminated, with fixed English names whatever the
 * locale. Returns 0, or -EOVERFLOW when the year is outside 0000..9999. O(1), no allocation.
 */
int http_date_format(time_t t, char out[HTTP_DATE_LEN + 1]);

/*
 * Parses an HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, or the obsolete RFC 850
 * ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994") forms, with
 * the RFC's exact spacing and case. The day name must be a real one but need not agree with the
 * date; a leap second (:60) rolls into the next minute. A two-digit year is taken within 50
 * years of the current one. Returns 0 with *out set, or -EINVAL. O(len), no allocation.
 */
int http_date_parse(const char *s, size_t len, time_t *out);

/* http_date_parse() with the current time given: only the two-digit year of RFC 850 uses it. */
int http_date_parse_at(const char *s, size_t len, time_t now, time_t *out);

/*
 * Formats the strong ETag of a file of the given size and mtime, quoted, into out (see the top
 * of this file). Returns its length without the NUL. O(1), no allocation.
 */
size_t http_etag_format(char out[HTTP_ETAG_MAX], off_t size, struct timespec mtime);

/*
 * If-None-Match: whether the field value list[0, len) matches etag[0, etag_len) by the weak
 * comparison (RFC 9110 §8.8.3.2: a "W/" on either side is ignored). "*" matches; otherwise the
 * value is a comma-separated list of entity-tags with OWS and empty elements allowed; a
 * malformed element matches nothing and the rest of the list still counts. O(len + etag_len).
 */
bool http_etag_match_weak(const char *list, size_t len, const char *etag, size_t etag_len);

/*
 * If-Match: whether the field value list[0, len) matches etag[0, etag_len) by the strong
 * comparison (RFC 9110 §8.8.3.2: both entity-tags strong and their opaque-tags equal, so a "W/"
 * on either side never matches). "*" matches (the caller has a current representation). The list
 * syntax is http_etag_match_weak()'s: a malformed element matches nothing and the rest of the
 * list still counts; an empty list matches nothing. O(len + etag_len).
 */
bool http_etag_match_strong(const char *list, size_t len, const char *etag, size_t etag_len);

/*
 * Whether a GET or HEAD must be answered 412 Precondition Failed, by steps 1 and 2 of RFC 9110
 * §13.2.2: when If-Match (im) is present it alone decides (no strong match means 412, so an empty
 * value fails); otherwise a valid If-Unmodified-Since (ius) means 412 when mtime is later than its
 * date, and an invalid one is ignored. Ask this before http_not_modified(), and only for a
 * response that would otherwise be 2xx (§13.2.1). mtime as for http_not_modified().
 * O(field lengths).
 */
bool http_precondition_failed(const char *im, size_t im_len, const char *ius, size_t ius_len,
                              const char *etag, size_t etag_len, time_t mtime);

/*
 * Whether a GET or HEAD should be answered 304, by steps 3 and 4 of RFC 9110 §13.2.2: when
 * If-None-Match (inm) is present it alone decides (a weak match means 304); otherwise a valid
 * If-Modified-Since (ims) means 304 when mtime is no later than its date, and an invalid one is
 * ignored. mtime is the file's, in whole seconds as Last-Modified shows it. O(field lengths).
 */
bool http_not_modified(const char *inm, size_t inm_len, const char *ims, size_t ims_len,
                       const char *etag, size_t etag_len, time_t mtime);

/*
 * Evaluates a Range field value s[0, len) against a representation of size bytes, serving only
 * a single range (RFC 9110 §14.2 lets a server ignore Range, so anything else means 200):
 * - "bytes=0-499", "bytes=500-" and "bytes=-500" (a suffix; longer than size means all of it)
 *   give HTTP_RANGE_OK with *first and *last (inclusive) set, last clamped to size - 1;
 * - NONE when s is NULL, the unit is not "bytes" (any case), or the syntax is invalid anywhere
 *   (including last < first, as in "bytes=5-4"), and for a suffix range of an empty file, whose
 *   "whole representation" is empty and has no Content-Range to express it;
 * - MULTI for two or more ranges of which at least one is satisfiable;
 * - UNSATISFIABLE when no range is: a first-pos >= size (so any int-range of an empty file), or
 *   a suffix length of 0.
 * OWS is tolerated around elements and around '-', as nginx does. Numbers too large for off_t
 * saturate: a huge first-pos is unsatisfiable, a huge last-pos or suffix means "to the end".
 * *first and *last are written only for HTTP_RANGE_OK. O(len), no allocation.
 */
enum http_range http_range_parse(const char *s, size_t len, off_t size, off_t *first, off_t *last);

/*
 * If-Range (RFC 9110 §13.1.5): whether Range may be honoured. True when the field is absent (s
 * is NULL); for an entity-tag, when it matches etag by the strong comparison (a weak tag on
 * either side never does); for an HTTP-date, when it equals mtime exactly. Anything else,
 * invalid values included, is false: ignore Range and send 200. O(len + etag_len).
 */
bool http_if_range_ok(const char *s, size_t len, const char *etag, size_t etag_len, time_t mtime);

#endif
