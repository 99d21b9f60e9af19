/*
 * The Cookie request header (RFC 6265 §4.2.1, §5.4): "a=1; b=2", read as browsers send it and
 * leniently where they differ from the grammar.
 *
 * The header splits on ';'; spaces and tabs around each cookie, its name and its value are
 * ignored ("a=1;b=2", "a = 1"), empty pieces are skipped, and so is a piece without '=' (what
 * some browsers send for a cookie with an empty name). Only the cookie asked for is held to the
 * grammar: its value must be cookie-octets (no space, '"', ',', ';', '\' or non-ASCII byte),
 * optionally inside one pair of DQUOTEs. Other cookies on the same host are not ours to judge,
 * so an odd value there (JSON, spaces) does not spoil the lookup. A header holding a control
 * character other than HTAB (NUL, CR, LF, DEL...) is malformed as a whole.
 *
 * Pure functions; no allocation; thread-safe.
 */
#ifndef TINYWEB_APP_COOKIE_H
#define TINYWEB_APP_COOKIE_H

#include <stddef.h>

/*
 * Finds the first cookie named name (exact, case-sensitive; a non-empty token) in the Cookie
 * header's value header[0, len). Returns 1 with *val pointing into header at its value, without
 * surrounding DQUOTEs, and *vlen its length (0 for "name=" or "name=\"\""); 0 when no cookie has
 * that name; -1 when the header is malformed (a control character) or the first cookie with that
 * name has a value outside the grammar. The caller treats -1 as absent. On 0 and -1, *val is
 * NULL and *vlen 0. Later cookies of the same name are ignored, as RFC 6265 §5.4 orders the
 * longer paths first. O(len), no allocation.
 */
int cookie_find(const char *header, size_t len, const char *name, const char **val, size_t *vlen);

#endif
