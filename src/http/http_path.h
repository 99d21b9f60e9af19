/*
 * Request paths: from the percent-encoded path of a request target to a normalised path relative
 * to the document root, and from such a path back to a percent-encoded one for a Location header.
 *
 * Decoding happens before normalisation, as in nginx: "%2e%2e" is "..", and "%2f" is a separator,
 * so an encoded dot-segment or slash cannot slip past the check that keeps the result beneath the
 * root. The caller maps the results to statuses:
 * - -EINVAL (bad): a malformed escape ("%zz", "%4") or a path that does not start with '/': 400.
 * - -EPERM (forbidden): a ".." that climbs above the root, or a NUL byte (raw or "%00"): 403.
 *   nginx answers 400 to both; 403 says "we understood, and will not serve that".
 * - -ENAMETOOLONG: the result does not fit the caller's buffer: 414 (or 400).
 * When a path has several problems, the first one in input order decides.
 */
#ifndef TINYWEB_HTTP_HTTP_PATH_H
#define TINYWEB_HTTP_HTTP_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Decodes and normalises the request path in[0, len) (origin-form, query already cut off) into
 * out: percent-escapes decoded (either hex case), then repeated slashes collapsed, "." segments
 * dropped and ".." segments resolved. The result has no leading slash ("" is the root itself)
 * and never contains a ".." segment, "//" or NUL; it is NUL-terminated. Every other byte,
 * backslash included, passes through unchanged, as it is an ordinary file name byte on Linux.
 * *dir tells whether the normalised path ends with a slash: the input ended with '/' (or "%2f"),
 * or with a "." or ".." segment (RFC 3986 §5.2.4), and for the root.
 * Returns the length of out without its NUL, or -EINVAL, -EPERM or -ENAMETOOLONG (see above).
 * cap >= len + 1 always suffices; a smaller cap fails as soon as any intermediate result does
 * not fit, such as "a/.." before the ".." is resolved. O(len), no allocation; out is garbage on
 * error.
 */
ssize_t http_path_decode(const char *in, size_t len, char *out, size_t cap, bool *dir);

/*
 * Percent-encodes the raw bytes in[0, len) for a Location header (such as the 301 to a
 * directory's slash form): every byte outside unreserved, sub-delims, ':', '@' and '/' (RFC 3986
 * pchar and separators) becomes %XX, so CR, LF, SP, '"', '%', '?', '#' and non-ASCII bytes can
 * neither split the header nor change the URI's meaning. Returns the encoded length without the
 * NUL, like snprintf: out holds the NUL-terminated result only when the return is < cap,
 * otherwise it holds "" (if cap > 0). At most 3 * len bytes. O(len), no allocation.
 */
size_t http_path_encode(const char *in, size_t len, char *out, size_t cap);

#endif
