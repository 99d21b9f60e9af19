/*
 * The extension table, sorted by extension (lower case, byte order) for the binary search.
 * Keep it sorted when adding a type: mime_validate() and its unit test catch a slip.
 */
#include "mime.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#define UTF8 "; charset=utf-8"

/* The longest extension in the table; a longer one cannot match and is not copied. */
#define EXT_MAX 11

struct mime_entry {
    const char *ext;
    const char *type;
};

static const struct mime_entry table[] = {
    {"7z", "application/x-7z-compressed"},
    {"aac", "audio/aac"},
    {"apng", "image/apng"},
    {"atom", "application/atom+xml"},
    {"avi", "video/x-msvideo"},
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"bz2", "application/x-bzip2"},
    {"css", "text/css" UTF8},
    {"csv", "text/csv" UTF8},
    {"flac", "audio/flac"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html" UTF8},
    {"html", "text/html" UTF8},
    {"ico", "image/x-icon"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript" UTF8}, /* RFC 9239 */
    {"json", "application/json"},
    {"m4a", "audio/mp4"},
    {"map", "application/json"},
    {"md", "text/markdown" UTF8}, /* RFC 7763 makes charset required */
    {"md5", "text/plain" UTF8},   /* checksum lists (md5sum's output), shown, not downloaded */
    {"mjs", "text/javascript" UTF8},
    {"mkv", "video/x-matroska"},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"mpeg", "video/mpeg"},
    {"mpg", "video/mpeg"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"opus", "audio/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"rss", "application/rss+xml"},
    {"sha256", "text/plain" UTF8}, /* sha256sum's output */
    {"sha512", "text/plain" UTF8},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"tgz", "application/gzip"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain" UTF8},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xhtml", "application/xhtml+xml"},
    {"xml", "text/xml" UTF8},
    {"xz", "application/x-xz"},
    {"zip", "application/zip"},
};

#define TABLE_LEN (sizeof(table) / sizeof(table[0]))

/* Compares the n bytes at a with the string b, in strcmp's order. */
static int ext_cmp(const char *a, size_t n, const char *b)
{
    size_t m = strlen(b);
    int cmp = memcmp(a, b, n < m ? n : m);
    if (cmp != 0)
        return cmp;
    return (n > m) - (n < m);
}

const char *mime_type(const char *p, size_t len)
{
    /* Look back at most EXT_MAX + 1 bytes: a '.' further away starts no known extension. */
    size_t stop = len > EXT_MAX + 1 ? len - (EXT_MAX + 1) : 0;
    size_t i = len;
    while (i > stop && p[i - 1] != '.' && p[i - 1] != '/')
        i--;
    size_t n = len - i;
    if (i == 0 || p[i - 1] != '.' || n == 0 || n > EXT_MAX)
        return MIME_DEFAULT;

    /* ASCII lower case by hand: tolower() would consult the locale. */
    char ext[EXT_MAX];
    for (size_t k = 0; k < n; k++) {
        char c = p[i + k];
        ext[k] = c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : c;
    }

    size_t lo = 0, hi = TABLE_LEN;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = ext_cmp(ext, n, table[mid].ext);
        if (cmp == 0)
            return table[mid].type;
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return MIME_DEFAULT;
}

int mime_validate(void)
{
    for (size_t i = 0; i < TABLE_LEN; i++) {
        size_t n = strlen(table[i].ext);
        if (n == 0 || n > EXT_MAX)
            return -EINVAL;
        for (size_t k = 0; k < n; k++) {
            char c = table[i].ext[k];
            if ((c >= 'A' && c <= 'Z') || c == '.' || c == '/')
                return -EINVAL;
        }
        if (i > 0 && strcmp(table[i - 1].ext, table[i].ext) >= 0)
            return -EINVAL;
    }
    return 0;
}

bool mime_type_in(const char *range, size_t len, const char *content_type)
{
    size_t tlen = strcspn(content_type, ";");
    if (len == 1 && range[0] == '*')
        return true;
    if (len >= 2 && range[len - 1] == '*' && range[len - 2] == '/')
        return tlen >= len - 1 && strncasecmp(content_type, range, len - 1) == 0;
    return tlen == len && strncasecmp(content_type, range, len) == 0;
}
