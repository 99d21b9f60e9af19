/*
 * Unit tests for Content-Type by extension (src/http/mime.c): every type in the table, case
 * folding, names without a usable extension, and lengths that cut a name short.
 */
#include "http/mime.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define HTML "text/html; charset=utf-8"
#define JS   "text/javascript; charset=utf-8"

struct mime_case {
    const char *name;
    const char *type;
};

static const struct mime_case cases[] = {
    /* Text, with a charset. */
    {"index.html", HTML},
    {"index.htm", HTML},
    {"style.css", "text/css; charset=utf-8"},
    {"app.js", JS},
    {"mod.mjs", JS},
    {"readme.txt", "text/plain; charset=utf-8"},
    {"feed.xml", "text/xml; charset=utf-8"},
    {"data.csv", "text/csv; charset=utf-8"},
    {"README.md", "text/markdown; charset=utf-8"},
    /* Checksum lists, which nginx's mime.types leaves to the default (a download). */
    {"sample-4MiB.bin.sha256", "text/plain; charset=utf-8"},
    {"a.iso.SHA512", "text/plain; charset=utf-8"},
    {"a.tar.md5", "text/plain; charset=utf-8"},
    /* Structured text without one. */
    {"data.json", "application/json"},
    {"app.js.map", "application/json"},
    {"site.webmanifest", "application/manifest+json"},
    {"page.xhtml", "application/xhtml+xml"},
    {"feed.atom", "application/atom+xml"},
    {"feed.rss", "application/rss+xml"},
    {"logo.svg", "image/svg+xml"},
    /* Images. */
    {"a.png", "image/png"},
    {"a.apng", "image/apng"},
    {"a.jpg", "image/jpeg"},
    {"a.jpeg", "image/jpeg"},
    {"a.gif", "image/gif"},
    {"a.webp", "image/webp"},
    {"a.avif", "image/avif"},
    {"favicon.ico", "image/x-icon"},
    {"a.bmp", "image/bmp"},
    {"a.tif", "image/tiff"},
    {"a.tiff", "image/tiff"},
    /* Fonts. */
    {"f.woff", "font/woff"},
    {"f.woff2", "font/woff2"},
    {"f.ttf", "font/ttf"},
    {"f.otf", "font/otf"},
    /* Audio and video. */
    {"v.mp4", "video/mp4"},
    {"v.webm", "video/webm"},
    {"v.ogv", "video/ogg"},
    {"v.mov", "video/quicktime"},
    {"v.mkv", "video/x-matroska"},
    {"v.avi", "video/x-msvideo"},
    {"v.mpeg", "video/mpeg"},
    {"v.mpg", "video/mpeg"},
    {"s.ogg", "audio/ogg"},
    {"s.oga", "audio/ogg"},
    {"s.opus", "audio/ogg"},
    {"s.mp3", "audio/mpeg"},
    {"s.wav", "audio/wav"},
    {"s.m4a", "audio/mp4"},
    {"s.flac", "audio/flac"},
    {"s.aac", "audio/aac"},
    /* Documents, archives, code. */
    {"doc.pdf", "application/pdf"},
    {"a.zip", "application/zip"},
    {"a.gz", "application/gzip"},
    {"a.tar.gz", "application/gzip"},
    {"a.tgz", "application/gzip"},
    {"a.tar", "application/x-tar"},
    {"a.bz2", "application/x-bzip2"},
    {"a.xz", "application/x-xz"},
    {"a.7z", "application/x-7z-compressed"},
    {"m.wasm", "application/wasm"},
    /* Case does not matter. */
    {"INDEX.HTML", HTML},
    {"a.HtMl", HTML},
    {"a.JPG", "image/jpeg"},
    {"f.WOFF2", "font/woff2"},
    {"s.WebManifest", "application/manifest+json"},
    /* Paths: only the last segment's extension counts. */
    {"/var/www/a.png", "image/png"},
    {"dir.d/file", MIME_DEFAULT},
    {"dir.html/", MIME_DEFAULT},
    {"a/b.c/d.css", "text/css; charset=utf-8"},
    /* Nothing usable. */
    {"", MIME_DEFAULT},
    {".", MIME_DEFAULT},
    {"a.", MIME_DEFAULT},
    {"Makefile", MIME_DEFAULT},
    {"a.exe", MIME_DEFAULT},
    {"a.htmlx", MIME_DEFAULT},
    {"a.htm l", MIME_DEFAULT},
    {"a.ht", MIME_DEFAULT},
    {"a.j", MIME_DEFAULT},
    {"a.webmanifestx", MIME_DEFAULT},
    {"a.abcdefghijklmnopqrstuvwxyz", MIME_DEFAULT},
    {"a.\xc3\xa9", MIME_DEFAULT},
    /* A leading dot counts, as in nginx. */
    {".png", "image/png"},
    {".htaccess", MIME_DEFAULT},
    {"a/.css", "text/css; charset=utf-8"},
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const char *got = mime_type(cases[i].name, strlen(cases[i].name));
        if (strcmp(got, cases[i].type) != 0)
            fail_msg("\"%s\": got \"%s\", want \"%s\"", cases[i].name, got, cases[i].type);
    }
}

static void test_length_bounds(void **state)
{
    (void)state;
    /* Only len bytes count: the name need not be NUL-terminated. */
    assert_string_equal(mime_type("a.pngX", 5), "image/png");
    assert_string_equal(mime_type("a.png", 4), MIME_DEFAULT); /* "a.pn" */
    assert_string_equal(mime_type("a.html.gz", 6), HTML);
    assert_string_equal(mime_type("x.css\0.png", 10), "image/png");
    /* A NUL inside the extension is part of it, so it matches nothing. */
    assert_string_equal(mime_type("x.cs\0s", 6), MIME_DEFAULT);
    assert_string_equal(mime_type(NULL, 0), MIME_DEFAULT);
}

static void test_long_names(void **state)
{
    (void)state;
    /* A long name without a dot costs a bounded look-back and gives the default. */
    char name[10000];
    memset(name, 'a', sizeof(name));
    assert_string_equal(mime_type(name, sizeof(name)), MIME_DEFAULT);
    memcpy(name + sizeof(name) - 5, ".woff", 5);
    assert_string_equal(mime_type(name, sizeof(name)), "font/woff");
    /* The longest extension in the table is found; one byte more is not. */
    char lng[64];
    int n = snprintf(lng, sizeof(lng), "%s", "a.webmanifest");
    assert_string_equal(mime_type(lng, (size_t)n), "application/manifest+json");
    n = snprintf(lng, sizeof(lng), "%s", "a.xwebmanifest");
    assert_string_equal(mime_type(lng, (size_t)n), MIME_DEFAULT);
    n = snprintf(lng, sizeof(lng), "%s", ".webmanifest");
    assert_string_equal(mime_type(lng, (size_t)n), "application/manifest+json");
}

static void test_validate(void **state)
{
    (void)state;
    assert_int_equal(mime_validate(), 0);
}

/* Media ranges: a type, a family, "*"; parameters ignored, case ignored, no prefix match. */
static void test_type_in(void **state)
{
    (void)state;
    static const struct {
        const char *range, *type;
        bool in;
    } ranges[] = {
        {"text/css", "text/css", true},
        {"text/css", "TEXT/CSS; charset=utf-8", true},
        {"text/css", "text/cs", false},
        {"text/css", "text/css2", false},
        {"text/*", "text/html; charset=utf-8", true},
        {"text/*", "Text/plain", true},
        {"text/*", "textual/plain", false},
        {"text/*", "image/png", false},
        {"image/*", "image", false},
        {"*", "application/octet-stream", true},
        {"application/json", "application/json;x=1", true},
    };
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        bool in = mime_type_in(ranges[i].range, strlen(ranges[i].range), ranges[i].type);
        if (in != ranges[i].in)
            fail_msg("%s in %s: %d", ranges[i].type, ranges[i].range, in);
    }
    /* A range need not be NUL-terminated: an item of a list. */
    assert_true(mime_type_in("text/*,image/png", 6, "text/x"));
    assert_false(mime_type_in("image/png,text/*", 9, "image/png,"));
    assert_true(mime_type_in("image/png,text/*", 9, "image/png"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),      cmocka_unit_test(test_length_bounds),
        cmocka_unit_test(test_long_names), cmocka_unit_test(test_type_in),
        cmocka_unit_test(test_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
