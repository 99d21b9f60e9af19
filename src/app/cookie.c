/*
 * The Cookie request header (see cookie.h for the rules). One pass checks the whole header for
 * control characters, a second walks the pieces between ';' and stops at the first cookie with
 * the name asked for.
 */
#include "app/cookie.h"

#include <stdbool.h>
#include <string.h>

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 6265 §4.1.1 cookie-octet: US-ASCII without CTLs, whitespace, DQUOTE, comma, semicolon and
 * backslash. */
static bool is_cookie_octet(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
           (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

/* Narrows [*b, *e) of s to exclude spaces and tabs at either end. */
static void trim(const char *s, size_t *b, size_t *e)
{
    while (*b < *e && is_ows(s[*b]))
        (*b)++;
    while (*e > *b && is_ows(s[*e - 1]))
        (*e)--;
}

int cookie_find(const char *header, size_t len, const char *name, const char **val, size_t *vlen)
{
    *val = NULL;
    *vlen = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)header[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return -1;
    }
    size_t name_len = strlen(name);
    if (name_len == 0)
        return 0;
    for (size_t i = 0; i < len;) {
        size_t end = i;
        while (end < len && header[end] != ';')
            end++;
        size_t eq = i;
        while (eq < end && header[eq] != '=')
            eq++;
        if (eq < end) {
            size_t nb = i, ne = eq, vb = eq + 1, ve = end;
            trim(header, &nb, &ne);
            if (ne - nb == name_len && memcmp(header + nb, name, name_len) == 0) {
                trim(header, &vb, &ve);
                if (ve - vb >= 2 && header[vb] == '"' && header[ve - 1] == '"') {
                    vb++;
                    ve--;
                }
                for (size_t k = vb; k < ve; k++)
                    if (!is_cookie_octet((unsigned char)header[k]))
                        return -1;
                *val = header + vb;
                *vlen = ve - vb;
                return 1;
            }
        }
        i = end + 1;
    }
    return 0;
}
