/*
 * Directory listings (--autoindex): the HTML page for a directory that has no index, modelled on
 * nginx's autoindex. One line per entry, directories first and then files, each group sorted
 * bytewise by name (strcmp order, as nginx); names starting with '.' are hidden, and only regular
 * files, directories and symbolic links that stay beneath the root are listed (never a FIFO, a
 * socket or a device, which the static handler refuses to serve anyway).
 *
 * The page is HTML5 in UTF-8. Each line is nginx's: the link, padded to 51 columns, then the
 * modification time in UTC as nginx prints it ("05-Dec-2026 04:43"), then the size in bytes
 * right-aligned in 19 columns ("-" for a directory). Unlike nginx, a long name is never cut short
 * (it only pushes the columns right), a line ending is LF, and the root has no "../" link.
 *
 * A name is hostile input. Its link is percent-encoded except for RFC 3986 unreserved bytes
 * (so '%', '#', '?', ':', '"', '\'', '<', space, controls and non-ASCII bytes are all escaped,
 * and decoding gives back the exact bytes); its text is HTML-escaped and made valid UTF-8.
 */
#ifndef TINYWEB_HTTP_AUTOINDEX_H
#define TINYWEB_HTTP_AUTOINDEX_H

#include <stddef.h>

/* The most bytes autoindex_escape_html() writes for len input bytes ("&quot;" per byte). */
#define AUTOINDEX_HTML_MAX(len) (6 * (size_t)(len))

/* The most bytes autoindex_encode_href() writes for len input bytes ("%XX" per byte). */
#define AUTOINDEX_HREF_MAX(len) (3 * (size_t)(len))

/*
 * Writes the listing of dir_fd (a directory the caller opened beneath the root through openat2's
 * RESOLVE_BENEATH, and keeps; it is neither moved nor closed) into *out: a malloc'd page of
 * *out_len bytes, NUL-terminated, for the caller to free. url_path[0, url_len) is the decoded
 * request path ending in '/', shown in the title. rel is the directory's path relative to root_fd
 * as http_path_decode() gives it ("" for the root itself, which gets no "../" link). skip, when
 * not NULL, is a name in this directory left out (a directory the server does not serve).
 *
 * A symbolic link is listed only if openat2(root_fd, rel + "/" + name, O_PATH, RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS) succeeds, as the static handler's open would, and only as what it
 * points to (a regular file or a directory, with that one's size and time); a dangling link,
 * one leaving the root, or any link when openat2 is unavailable, is left out. An entry that
 * vanishes or cannot be stat'ed meanwhile is left out too.
 *
 * Returns 0, or -errno: -ENOMEM, or what openat, readdir, fstatat and openat2 fail with for the
 * directory or for want of resources (-EBADF, -EACCES, -EMFILE, -ENFILE, -EIO, ...).
 *
 * Cost: one fstatat per entry (and one openat2 and fstat per symbolic link), then a sort,
 * O(n log n); no allocation per entry, no recursion. Memory, all freed before it returns but the
 * page: the entries in one arena of 22 + the name's length bytes each, rounded up to 8, plus an
 * 8-byte pointer each for the sort (and glibc qsort's scratch of as much); then the page, 104
 * bytes + the name's length per line for a short plain name (padding fills the difference), at
 * most 55 + 9 times its length for a long one that is all escapes.
 * Both buffers grow by doubling, so each may hold up to twice what it uses. 100,000 entries named
 * "f000000" make 3.2 MB of arena and an 11 MB page, listed in about 0.2 s on tmpfs (80% of it
 * in the kernel's fstatat). It blocks on the file system: a large directory or a slow disk
 * belongs on the worker pool, not on an event loop.
 */
int autoindex_render(int root_fd, const char *rel, int dir_fd, const char *url_path, size_t url_len,
                     const char *skip, char **out, size_t *out_len);

/*
 * HTML-escapes the bytes in[0, len) into out (room for AUTOINDEX_HTML_MAX(len) bytes, not
 * NUL-terminated) for element text or a quoted attribute: '&', '<', '>', '"' and '\'' become
 * entities; C0 controls and DEL become their visible Control Pictures (U+2400 + c, U+2421: a
 * newline shows as "␊"); each maximal invalid UTF-8 sequence (WHATWG decoding), C1 control and
 * Unicode noncharacter becomes U+FFFD. The result is valid UTF-8 that HTML5 parses without error.
 * Returns the bytes written; *width (if not NULL) gets the characters shown, an entity counting
 * as one. O(len), no allocation.
 */
size_t autoindex_escape_html(const char *in, size_t len, char *out, size_t *width);

/*
 * Percent-encodes the bytes in[0, len) into out (room for AUTOINDEX_HREF_MAX(len) bytes, not
 * NUL-terminated) for a relative link to a name: every byte but ALPHA, DIGIT and "-._~" becomes
 * %XX (upper case), so the link is one path segment with no scheme, query or fragment that
 * decodes to exactly in. Returns the bytes written. O(len), no allocation.
 */
size_t autoindex_encode_href(const char *in, size_t len, char *out);

#endif
