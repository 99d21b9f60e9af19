/*
 * Request path decoding and normalisation, in one left-to-right pass over the input: each byte
 * is decoded as it is read and appended to out, and each separator closes a segment, which is
 * then kept, dropped (".", empty) or resolved against the previous one (".."). Every byte of out
 * is written once and removed at most once, so the pass is O(len) however many ".." there are.
 */
#include "http_path.h"

#include <errno.h>
#include <string.h>

/* The value of an ASCII hex digit, or -1. */
static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20; /* ASCII lower case; maps no non-letter onto 'a'..'f' */
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

ssize_t http_path_decode(const char *in, size_t len, char *out, size_t cap, bool *dir)
{
    if (len == 0 || in[0] != '/')
        return -EINVAL;

    size_t n = 0;   /* bytes in out */
    size_t seg = 0; /* where the open segment starts in out */
    size_t i = 1;
    for (;;) {
        bool end = i == len;
        unsigned char c = '/';
        if (!end) {
            c = (unsigned char)in[i++];
            if (c == '%') {
                int hi = len - i >= 2 ? hex_value((unsigned char)in[i]) : -1;
                int lo = hi >= 0 ? hex_value((unsigned char)in[i + 1]) : -1;
                if (lo < 0)
                    return -EINVAL;
                c = (unsigned char)(hi << 4 | lo);
                i += 2;
            }
            /* A NUL would silently cut the name short in every system call. */
            if (c == '\0')
                return -EPERM;
            if (c != '/') {
                if (n == cap)
                    return -ENAMETOOLONG;
                out[n++] = (char)c;
                continue;
            }
        }

        /* A separator or the end closes the segment out[seg, n). */
        size_t seglen = n - seg;
        bool named = false;
        if (seglen == 1 && out[seg] == '.') {
            n = seg;
        } else if (seglen == 2 && out[seg] == '.' && out[seg + 1] == '.') {
            if (seg == 0)
                return -EPERM;
            /* Drop the separator before this segment, then the segment before that. */
            n = seg - 1;
            while (n > 0 && out[n - 1] != '/')
                n--;
            seg = n;
        } else if (seglen > 0) {
            named = true;
            if (!end) {
                if (n == cap)
                    return -ENAMETOOLONG;
                out[n++] = '/';
                seg = n;
            }
        }
        if (end) {
            /* Only a final name makes a file form; "", "." and ".." leave a slash form. */
            *dir = !named;
            break;
        }
    }
    if (n > 0 && out[n - 1] == '/')
        n--;
    if (n >= cap)
        return -ENAMETOOLONG;
    out[n] = '\0';
    return (ssize_t)n;
}

/* RFC 3986 unreserved, sub-delims, ':', '@' and '/': the bytes a path may carry unescaped. */
static bool is_path_char(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("-._~!$&'()*+,;=:@/", c) != NULL;
}

size_t http_path_encode(const char *in, size_t len, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (is_path_char(c)) {
            if (n + 1 < cap)
                out[n] = (char)c;
            n++;
        } else {
            if (n + 3 < cap) {
                out[n] = '%';
                out[n + 1] = hex[c >> 4];
                out[n + 2] = hex[c & 0xf];
            }
            n += 3;
        }
    }
    /* Never hand out a truncated escape: all or nothing. */
    if (n < cap)
        out[n] = '\0';
    else if (cap > 0)
        out[0] = '\0';
    return n;
}
