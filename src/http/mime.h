/*
 * Content-Type by file name extension, from a built-in table of the web's common types.
 *
 * The extension is what follows the last '.' of the last path segment, compared without regard
 * to ASCII case; as in nginx, a leading dot counts too (".png" is a PNG). text types carry
 * "; charset=utf-8": a static tree is UTF-8 in practice, and without it browsers guess. JSON
 * (RFC 8259 §11 defines no charset parameter) and SVG (XML declares its own encoding) do not.
 * Anything else is application/octet-stream, which browsers download rather than render.
 */
#ifndef TINYWEB_HTTP_MIME_H
#define TINYWEB_HTTP_MIME_H

#include <stdbool.h>
#include <stddef.h>

#define MIME_DEFAULT "application/octet-stream"

/*
 * The Content-Type for the file name or path p[0, len) (need not be NUL-terminated); never
 * NULL, MIME_DEFAULT when the extension is absent or unknown. The result is a static string.
 * O(log types): a bounded scan for the '.', then a binary search; no allocation.
 */
const char *mime_type(const char *p, size_t len);

/*
 * Whether content_type (its parameters after ';' ignored) is in the media range range[0, len):
 * a type ("text/css"), a family ("text/" and a star) or a star alone (every type); ASCII case
 * ignored. The one matcher of the type lists (--compress-types, --cache-control, --expires).
 * O(len).
 */
bool mime_type_in(const char *range, size_t len, const char *content_type);

/* Re-checks that the table is sorted, unique and lower case. O(types); 0 or -EINVAL. */
int mime_validate(void);

#endif
