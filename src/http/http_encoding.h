/*
 * Content codings and Accept-Encoding (RFC 9110 §8.4.1, §12.5.3): which representation of a
 * static file to send, among the identity and its gzip, br and zstd variants. Pure functions of
 * their arguments: no allocation, no clock, no locale; safe from any thread.
 *
 * The parser is lenient where it costs nothing and strict where a mistake would send a client
 * bytes it cannot decode:
 * - codings are case-insensitive tokens; "x-gzip" is gzip (§8.4.1.3); unknown codings
 *   ("deflate", "compress", "foo") are ignored;
 * - OWS is allowed around ',' ';' and '=' (the RFC's weight allows none around '='; nginx and
 *   browsers' parsers accept it); empty list elements and empty parameters are skipped;
 * - the weight is the first parameter named q (any case); other parameters are ignored, and their
 *   values may be tokens or quoted-strings (a ',' inside quotes does not end the member);
 * - a member whose weight is not a valid qvalue (§12.4.2: "q=2", "q=0.1234", "q=abc", "q=.5",
 *   "q=") or that is malformed (not a token, junk after it, a parameter with no '=') is ignored
 *   as a whole, as if it were not in the list. Ignoring rather than reading it as q=0 keeps the
 *   identity acceptable when a broken client sends "identity;q=abc" or "*;q=bogus", instead of
 *   answering 406; for a coding it makes no difference (an absent coding is not acceptable);
 * - a coding listed twice (gzip and x-gzip are one coding) takes its first valid member, as
 *   nginx does: "gzip;q=0, gzip" refuses gzip;
 * - "*" gives its weight to every coding not listed (the identity included);
 * - the identity, when neither listed nor covered by "*", is acceptable with the lowest weight,
 *   0.001: it is the fallback, never preferred over a coding the client asked for;
 * - an empty value (or one with no valid member) accepts only the identity;
 * - an absent field accepts everything, the identity first: q = 1 for it and 0.001 for the
 *   others (what nginx does, and what keeps old clients that send nothing safe).
 *
 * The caller adds "Vary: Accept-Encoding" to every response of a resource that has variants,
 * whichever one it sends, and answers 406 when http_accept_choose() returns -1.
 */
#ifndef TINYWEB_HTTP_HTTP_ENCODING_H
#define TINYWEB_HTTP_HTTP_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The order is the last tie-break of http_accept_choose(): lower wins. */
enum http_coding {
    HTTP_CODING_IDENTITY,
    HTTP_CODING_GZIP,
    HTTP_CODING_BR,
    HTTP_CODING_ZSTD,
    HTTP_CODING_COUNT
};

/* The weight "q=1", as stored in struct http_accept (qvalue x 1000). */
#define HTTP_ACCEPT_Q_MAX 1000

/* The bit of a coding in http_accept_choose()'s available set. */
#define HTTP_CODING_BIT(c) (1u << (c))

/* Every coding's weight once the field's defaults are applied: 0 (not acceptable) .. 1000. */
struct http_accept {
    uint16_t q[HTTP_CODING_COUNT];
};

/* The token sent in Content-Encoding ("gzip", "br", "zstd"); NULL for the identity or c invalid. */
const char *http_coding_name(enum http_coding c);

/* The suffix of a precompressed sibling (".gz", ".br", ".zst"); "" for the identity, NULL if c
 * is invalid. */
const char *http_coding_suffix(enum http_coding c);

/*
 * Parses one Accept-Encoding field value v[0, n) (present = false: the field is absent, and v is
 * not read) into *out, with the rules at the top of this file. Several Accept-Encoding lines
 * are one value joined with ", " (RFC 9110 §5.3): the caller joins them.
 * O(n), one pass, no allocation.
 */
void http_accept_encoding_parse(const char *v, size_t n, bool present, struct http_accept *out);

/*
 * The representation to send: among the codings whose bit is in available (HTTP_CODING_BIT(c);
 * the caller clears the identity's bit when it has no identity representation), the acceptable
 * one (q > 0) with the highest q; on equal q the smallest sizes[c] in bytes; on equal size the
 * lowest enum value (identity, gzip, br, zstd). sizes may be NULL: equal sizes. Returns the
 * coding, or -1 when nothing available is acceptable (answer 406). O(HTTP_CODING_COUNT).
 */
int http_accept_choose(const struct http_accept *a, unsigned available,
                       const uint64_t sizes[HTTP_CODING_COUNT]);

#endif
