/*
 * libFuzzer harness for the escaping of names in directory listings (src/http/autoindex.h).
 *
 * The input is a file name (or a request path for the title): any bytes. Its HTML text must be
 * within AUTOINDEX_HTML_MAX (the buffer is exactly that long, so ASan sees any overrun), carry no
 * raw '<', '>', '"' or '\'' and no '&' but the five entities, and be valid UTF-8 with no control,
 * C1 control or noncharacter (checked here by Unicode's table 3-7, not by the WHATWG decoder the
 * module uses), its width the count of characters shown. When the input itself is such clean
 * UTF-8, undoing the entities and the Control Pictures must give it back exactly; otherwise the
 * output must hold a U+FFFD. Its link must be within AUTOINDEX_HREF_MAX, hold only unreserved
 * bytes and upper-case escapes of the other bytes, and percent-decode to exactly the input.
 *
 * Every broken property calls abort() after a line on stderr saying which, so that libFuzzer
 * saves the input as a crash.
 */
#include "http/autoindex.h"
#include "fuzz.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * The length of the well-formed UTF-8 sequence at s[0, n) (Unicode table 3-7), its code point
 * in *cp; 0 when it is not one.
 */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
    else
        return 0;
    /* The second byte's narrower ranges: no overlong form, surrogate, or past U+10FFFF. */
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    }
    uint32_t v = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
    for (size_t i = 1; i < len; i++)
        v = v << 6 | (s[i] & 0x3f);
    *cp = v;
    return len;
}

/* What HTML5 would report as a parse error in the input stream, or a name could not show. */
static bool is_unclean(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0xfdd0 && cp <= 0xfdef) ||
           (cp & 0xfffe) == 0xfffe;
}

/* The input is valid UTF-8 with no unclean character and no Control Picture of its own. */
static bool is_clean_input(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = utf8_seq(s + i, n - i, &cp);
        if (l == 0 || is_unclean(cp) || (cp >= 0x2400 && cp <= 0x2421))
            return false;
        i += l;
    }
    return true;
}

static const char *const entities[][2] = {
    {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"},
};

/*
 * Checks the escaped text out[0, n) and undoes it into back (room for n bytes): entities to their
 * byte, Control Pictures to the control. Returns the length of back; *fffd tells whether a
 * U+FFFD was seen; *chars counts the characters.
 */
static size_t check_and_unescape(const unsigned char *out, size_t n, char *back, bool *fffd,
                                 size_t *chars)
{
    size_t k = 0;
    *fffd = false;
    *chars = 0;
    for (size_t i = 0; i < n; (*chars)++) {
        unsigned char c = out[i];
        CHECK(c != '<' && c != '>' && c != '"' && c != '\'', "raw markup byte in the text");
        if (c == '&') {
            size_t e = 0;
            while (e < 5 &&
                   strncmp((const char *)out + i, entities[e][0], strlen(entities[e][0])) != 0)
                e++;
            CHECK(e < 5 && i + strlen(entities[e][0]) <= n, "'&' starts no known entity");
            back[k++] = entities[e][1][0];
            i += strlen(entities[e][0]);
            continue;
        }
        uint32_t cp;
        size_t l = utf8_seq(out + i, n - i, &cp);
        CHECK(l > 0, "text is not valid UTF-8");
        CHECK(!is_unclean(cp), "control or noncharacter in the text");
        if (cp >= 0x2400 && cp <= 0x241f) {
            back[k++] = (char)(cp - 0x2400);
        } else if (cp == 0x2421) {
            back[k++] = 0x7f;
        } else {
            if (cp == 0xfffd)
                *fffd = true;
            memcpy(back + k, out + i, l);
            k += l;
        }
        i += l;
    }
    return k;
}

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1; /* lower case is not what the encoder writes */
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static void check_href(const unsigned char *in, size_t size)
{
    size_t cap = AUTOINDEX_HREF_MAX(size);
    unsigned char *out = malloc(cap ? cap : 1);
    size_t n = autoindex_encode_href((const char *)in, size, (char *)out);
    CHECK(n <= cap, "link longer than AUTOINDEX_HREF_MAX");
    size_t k = 0;
    for (size_t i = 0; i < n; k++) {
        CHECK(k < size, "link decodes to more bytes than its input");
        if (out[i] == '%') {
            CHECK(i + 3 <= n, "truncated escape in the link");
            int hi = hex_digit(out[i + 1]), lo = hex_digit(out[i + 2]);
            CHECK(hi >= 0 && lo >= 0, "malformed escape in the link");
            CHECK((unsigned char)(hi << 4 | lo) == in[k], "escape does not decode to the input");
            CHECK(!is_unreserved(in[k]), "unreserved byte escaped");
            i += 3;
        } else {
            CHECK(is_unreserved(out[i]), "reserved byte left raw in the link");
            CHECK(out[i] == in[k], "link changed a byte");
            i++;
        }
    }
    CHECK(k == size, "link decodes to fewer bytes than its input");
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cap = AUTOINDEX_HTML_MAX(size);
    unsigned char *out = malloc(cap ? cap : 1);
    size_t width = 0;
    size_t n = autoindex_escape_html((const char *)data, size, (char *)out, &width);
    CHECK(n <= cap, "text longer than AUTOINDEX_HTML_MAX");
    CHECK(autoindex_escape_html((const char *)data, size, (char *)out, NULL) == n,
          "text length depends on width");

    char *back = malloc(n ? n : 1);
    bool fffd;
    size_t chars;
    size_t k = check_and_unescape(out, n, back, &fffd, &chars);
    CHECK(chars == width, "width is not the characters shown");
    if (is_clean_input(data, size)) {
        CHECK(k == size && memcmp(back, data, size) == 0, "clean text does not come back");
    } else {
        /* Every byte but invalid UTF-8, C1 controls and noncharacters comes back as it was. */
        bool has_picture = false;
        for (size_t i = 0; i + 2 < size; i++) {
            if (data[i] == 0xe2 && data[i + 1] == 0x90 && data[i + 2] >= 0x80 &&
                data[i + 2] <= 0xa1)
                has_picture = true;
        }
        bool controls_only = true;
        for (size_t i = 0; i < size;) {
            uint32_t cp;
            size_t l = utf8_seq(data + i, size - i, &cp);
            if (l == 0 || (cp >= 0x80 && cp <= 0x9f) || (cp >= 0xfdd0 && cp <= 0xfdef) ||
                (cp & 0xfffe) == 0xfffe) {
                controls_only = false;
                break;
            }
            i += l;
        }
        if (controls_only && !has_picture)
            CHECK(k == size && memcmp(back, data, size) == 0, "controls do not come back");
        else if (!controls_only)
            CHECK(fffd, "invalid or unclean input without a U+FFFD");
    }
    free(back);
    free(out);

    check_href(data, size);
    return 0;
}
