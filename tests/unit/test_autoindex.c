/*
 * Unit tests for directory listings (src/http/autoindex.c).
 *
 * A tree in a mkdtemp() directory holds hostile names (markup, quotes, '%', '#', '?', controls,
 * UTF-8 and invalid UTF-8, 255 bytes), hidden names, a FIFO, a socket, and symbolic links that
 * stay beneath the root, leave it, dangle or loop. The pages are checked by exact lines and
 * substrings, by order, and by what must never appear: raw markup or quotes from a name, and
 * every entry the static handler would refuse. A last test lists 100,000 files in a tmpfs.
 */
#include "http/autoindex.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* 2026-12-05 04:43:00 UTC, nginx's "05-Dec-2026 04:43". */
#define MTIME      1796445780
#define MTIME_TEXT "05-Dec-2026 04:43"

/* U+FFFD, and the Control Pictures for LF and TAB. */
#define FFFD    "\xEF\xBF\xBD"
#define PIC_LF  "\xE2\x90\x8A"
#define PIC_TAB "\xE2\x90\x89"

static char tmpdir[] = "/tmp/tw-autoindex-XXXXXX";
static char rootdir[64];
static int root_fd = -1;

static void must(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "setup: %s: %s\n", what, strerror(errno));
        abort();
    }
}

static void make_file(int dir, const char *name, size_t size)
{
    int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    must(fd >= 0, name);
    must(ftruncate(fd, (off_t)size) == 0, name);
    close(fd);
}

/* Sets the time of name (not following a link) to MTIME. */
static void set_time(int dir, const char *name)
{
    struct timespec ts[2] = {{MTIME, 0}, {MTIME, 0}};
    must(utimensat(dir, name, ts, AT_SYMLINK_NOFOLLOW) == 0, name);
}

/* A 255-byte name, the most NAME_MAX allows. */
static char long_name[256];

static const char *const hostile_files[] = {
    "<script>alert(1)<\\script>", /* a name cannot hold '/': "</script>" is impossible */
    "<img src=x onerror=alert(1)>",
    "a\"b",
    "a'b",
    "a&b",
    "a%b",
    "%2e%2e",
    "a#b",
    "a?b",
    "a b",
    "a\nb",
    "a\tb",
    "\xE5\x90\x8D\xE5\x89\x8D.txt", /* 名前.txt */
    "caf\xC3\xA9",                  /* café */
    "\xFF\xFE",
    "javascript:alert(1)",
};

static int group_setup(void **state)
{
    (void)state;
    must(mkdtemp(tmpdir) != NULL, tmpdir);
    snprintf(rootdir, sizeof(rootdir), "%s/root", tmpdir);
    must(mkdir(rootdir, 0755) == 0, rootdir);
    root_fd = open(rootdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    must(root_fd >= 0, rootdir);

    /* Outside the root, beside it. */
    int top = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    must(top >= 0, tmpdir);
    make_file(top, "secret", 6);
    close(top);

    for (size_t i = 0; i < ARRAY_LEN(hostile_files); i++) {
        make_file(root_fd, hostile_files[i], 0);
        set_time(root_fd, hostile_files[i]);
    }
    memset(long_name, 'x', 255);
    make_file(root_fd, long_name, 1);
    make_file(root_fd, "big", 5000);
    make_file(root_fd, ".hidden", 1);
    static const char *const dirs[] = {"sub", "d ir", ".hdir", "zdir"};
    for (size_t i = 0; i < ARRAY_LEN(dirs); i++)
        must(mkdirat(root_fd, dirs[i], 0755) == 0, dirs[i]);
    make_file(root_fd, ".hdir/in_hidden", 1);
    must(mkfifoat(root_fd, "fifo", 0644) == 0, "fifo");

    char sock_path[128];
    snprintf(sock_path, sizeof(sock_path), "%s/sock", rootdir);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    must(strlen(sock_path) < sizeof(sun.sun_path), "socket path");
    strcpy(sun.sun_path, sock_path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    must(s >= 0 && bind(s, (struct sockaddr *)&sun, sizeof(sun)) == 0, "socket");
    close(s);

    static const char *const links[][2] = {
        {"big", "link_file"},
        {"sub", "link_dir"},
        {"../../../../../../../../../../etc/passwd", "link_out"},
        {"/etc/passwd", "link_abs"},
        {"../secret", "link_secret"},
        {"../root/big", "link_back_in"}, /* leaves the root, then comes back */
        {"nowhere", "link_dangling"},
        {"fifo", "link_fifo"},
        {"sock", "link_sock"},
        {"link_loop", "link_loop"},
        {"/proc/self/root/etc/passwd", "link_magic"},
        {".hidden", "link_to_hidden"}, /* a visible name: listed, as nginx does */
        {"sub/inner.txt", "link_deep"},
        {"../big", "sub/up_link"},
        {"../../secret", "sub/up_out"},
        {"..", "sub/up_dir"},
    };
    for (size_t i = 0; i < ARRAY_LEN(links); i++)
        must(symlinkat(links[i][0], root_fd, links[i][1]) == 0, links[i][1]);
    make_file(root_fd, "sub/inner.txt", 3);
    make_file(root_fd, "d ir/f", 3);
    must(mkdirat(root_fd, "d ir/d", 0755) == 0, "d ir/d");
    make_file(root_fd, "plain.txt", 0);
    must(mkdirat(root_fd, "zdir/empty", 0755) == 0, "zdir/empty");

    /* Fixed times for the exact lines. */
    static const char *const timed[] = {"big",           "sub",    "d ir",   "zdir",
                                        "sub/inner.txt", "d ir/f", "d ir/d", long_name};
    for (size_t i = 0; i < ARRAY_LEN(timed); i++)
        set_time(root_fd, timed[i]);
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_teardown(void **state)
{
    (void)state;
    if (root_fd >= 0)
        close(root_fd);
    return nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The listing of rel (opened beneath the root like the static handler does) as url. */
static char *render(const char *rel, const char *url, size_t *len)
{
    int dir_fd = rel[0] ? openat(root_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                        : open(rootdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dir_fd >= 0);
    char *page = NULL;
    size_t n = 0;
    assert_int_equal(autoindex_render(root_fd, rel, dir_fd, url, strlen(url), NULL, &page, &n), 0);
    close(dir_fd);
    assert_non_null(page);
    assert_int_equal(strlen(page), n);
    if (len)
        *len = n;
    return page;
}

static void assert_has(const char *page, const char *s)
{
    if (!strstr(page, s))
        fail_msg("missing from the page: \"%s\"", s);
}

static void assert_lacks(const char *page, const char *s)
{
    if (strstr(page, s))
        fail_msg("unexpected in the page: \"%s\"", s);
}

static size_t count(const char *page, const char *s)
{
    size_t n = 0;
    for (const char *p = page; (p = strstr(p, s)) != NULL; p += strlen(s))
        n++;
    return n;
}

/* Each href="X" of hrefs appears once, in this order. */
static void assert_order(const char *page, const char *const *hrefs, size_t n)
{
    const char *prev = page;
    for (size_t i = 0; i < n; i++) {
        char needle[1024];
        snprintf(needle, sizeof(needle), "<a href=\"%s\">", hrefs[i]);
        const char *at = strstr(page, needle);
        if (!at)
            fail_msg("missing link %s", needle);
        if (at < prev)
            fail_msg("out of order: %s", needle);
        assert_null(strstr(at + 1, needle));
        prev = at;
    }
}

/* The page has no control byte but LF, and is valid UTF-8 (escaping it adds no U+FFFD). */
static void assert_clean_text(const char *page, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)page[i];
        if ((c < 0x20 && c != '\n') || c == 0x7f)
            fail_msg("control byte 0x%02x at %zu", c, i);
    }
    char *esc = malloc(AUTOINDEX_HTML_MAX(len) + 1);
    size_t n = autoindex_escape_html(page, len, esc, NULL);
    esc[n] = '\0';
    assert_int_equal(count(esc, FFFD), count(page, FFFD));
    free(esc);
}

/* ---- The root's page ---- */

static void test_root_page(void **state)
{
    (void)state;
    size_t len;
    char *page = render("", "/", &len);

    assert_true(strncmp(page, "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n", 52) ==
                0);
    assert_has(page, "<title>Index of /</title>");
    assert_has(page, "<h1>Index of /</h1>\n<hr>\n<pre>\n<a href=\"d%20ir/\">");
    static const char tail[] = "</pre>\n<hr>\n</body>\n</html>\n";
    assert_true(len > sizeof(tail) && strcmp(page + len - (sizeof(tail) - 1), tail) == 0);
    /* No way up from the root. */
    assert_lacks(page, "href=\"../\"");
    assert_lacks(page, "href=\"..");

    /* Exact lines: nginx's columns, UTC time, exact size, "-" for a directory. */
    assert_has(
        page, "\n<a href=\"big\">big</a>                                                " MTIME_TEXT
              "                5000\n");
    assert_has(
        page,
        "\n<a href=\"sub/\">sub/</a>                                               " MTIME_TEXT
        "                   -\n");
    assert_has(
        page,
        "\n<a href=\"d%20ir/\">d ir/</a>                                              " MTIME_TEXT
        "                   -\n");
    /* Links as what they point to, with its size and time. */
    assert_has(
        page,
        "\n<a href=\"link_file\">link_file</a>                                          " MTIME_TEXT
        "                5000\n");
    assert_has(
        page,
        "\n<a href=\"link_dir/\">link_dir/</a>                                          " MTIME_TEXT
        "                   -\n");
    assert_has(page, "\n<a href=\"link_deep\">link_deep</a>");
    assert_has(page, "\n<a href=\"link_to_hidden\">link_to_hidden</a>");
    /* A long name is not cut: one space, then the time. */
    char line[1024];
    snprintf(line, sizeof(line), "\n<a href=\"%s\">%s</a> " MTIME_TEXT "                   1\n",
             long_name, long_name);
    assert_has(page, line);

    /* Hostile names: escaped text, encoded link. */
    static const char *const lines[] = {
        "<a href=\"%3Cscript%3Ealert%281%29%3C%5Cscript%3E\">&lt;script&gt;alert(1)&lt;\\script&gt;"
        "</a>",
        "<a href=\"%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E\">&lt;img src=x "
        "onerror=alert(1)&gt;</a>",
        "<a href=\"a%22b\">a&quot;b</a>",
        "<a href=\"a%27b\">a&#39;b</a>",
        "<a href=\"a%26b\">a&amp;b</a>",
        "<a href=\"a%25b\">a%b</a>",
        "<a href=\"%252e%252e\">%2e%2e</a>",
        "<a href=\"a%23b\">a#b</a>",
        "<a href=\"a%3Fb\">a?b</a>",
        "<a href=\"a%20b\">a b</a>",
        "<a href=\"a%0Ab\">a" PIC_LF "b</a>",
        "<a href=\"a%09b\">a" PIC_TAB "b</a>",
        "<a href=\"%E5%90%8D%E5%89%8D.txt\">\xE5\x90\x8D\xE5\x89\x8D.txt</a>",
        "<a href=\"caf%C3%A9\">caf\xC3\xA9</a>",
        "<a href=\"%FF%FE\">" FFFD FFFD "</a>",
        "<a href=\"javascript%3Aalert%281%29\">javascript:alert(1)</a>",
    };
    for (size_t i = 0; i < ARRAY_LEN(lines); i++) {
        snprintf(line, sizeof(line), "\n%s", lines[i]);
        assert_has(page, line);
    }
    /* Padding counts characters, not bytes: 名前.txt is 6 wide, the two U+FFFD 2. */
    assert_has(page,
               "\xE5\x89\x8D.txt</a>                                             " MTIME_TEXT);
    assert_has(page, FFFD FFFD "</a>                                                 " MTIME_TEXT);
    assert_has(page, "a&quot;b</a>                                                " MTIME_TEXT);

    /* Nothing from a name may open markup or close an attribute. */
    assert_lacks(page, "<script");
    assert_lacks(page, "<img");
    assert_lacks(page, "<\\");
    assert_lacks(page, "'");
    assert_lacks(page, "a\"b");
    size_t links = count(page, "<a href=\"");
    assert_int_equal(count(page, "\""), 2 + 2 * links);
    assert_int_equal(count(page, "<"), 16 + 2 * links);
    assert_int_equal(count(page, ">"), 16 + 2 * links);
    assert_clean_text(page, len);

    /* Refused: outside the root, dangling, looping, magic, not a file or directory, hidden. */
    static const char *const absent[] = {
        "link_out",  "link_abs",  "link_secret", "link_back_in", "link_dangling", "link_fifo",
        "link_sock", "link_loop", "link_magic",  "fifo",         "sock",          ".hidden",
        ".hdir",     "in_hidden", "passwd",      "secret",
    };
    for (size_t i = 0; i < ARRAY_LEN(absent); i++)
        assert_lacks(page, absent[i]);

    /* Directories first, then bytewise. */
    static const char *const order[] = {
        "d%20ir/",
        "link_dir/",
        "sub/",
        "zdir/",
        "%252e%252e",
        "%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E",
        "%3Cscript%3Ealert%281%29%3C%5Cscript%3E",
        "a%09b",
        "a%0Ab",
        "a%20b",
        "a%22b",
        "a%23b",
        "a%25b",
        "a%26b",
        "a%27b",
        "a%3Fb",
        "big",
        "caf%C3%A9",
        "javascript%3Aalert%281%29",
        "link_deep",
        "link_file",
        "link_to_hidden",
        "plain.txt",
        long_name,
        "%E5%90%8D%E5%89%8D.txt",
        "%FF%FE",
    };
    assert_order(page, order, ARRAY_LEN(order));
    assert_int_equal(links, ARRAY_LEN(order));
    free(page);
}

/* ---- Below the root ---- */

static void test_sub_page(void **state)
{
    (void)state;
    char *page = render("sub", "/sub/", NULL);
    assert_has(page, "<title>Index of /sub/</title>");
    /* The parent link comes first. */
    assert_has(page, "<hr>\n<pre>\n<a href=\"../\">../</a>\n<a href=\"up_dir/\">up_dir/</a>");
    assert_has(
        page,
        "\n<a href=\"inner.txt\">inner.txt</a>                                          " MTIME_TEXT
        "                   3\n");
    /* "../big" stays beneath the root, "../../secret" does not. */
    assert_has(
        page,
        "\n<a href=\"up_link\">up_link</a>                                            " MTIME_TEXT
        "                5000\n");
    assert_lacks(page, "up_out");
    assert_lacks(page, "secret");
    static const char *const order[] = {"../", "up_dir/", "inner.txt", "up_link"};
    assert_order(page, order, ARRAY_LEN(order));
    assert_int_equal(count(page, "<a href="), ARRAY_LEN(order));
    free(page);

    /* rel with a trailing slash works as well. */
    page = render("sub/", "/sub/", NULL);
    assert_has(page, "<a href=\"up_link\">");
    assert_lacks(page, "up_out");
    free(page);
}

/* The whole page, byte for byte. */
static void test_exact_page(void **state)
{
    (void)state;
    char *page = render("d ir", "/d ir/", NULL);
    assert_string_equal(page, "<!DOCTYPE html>\n"
                              "<html>\n"
                              "<head>\n"
                              "<meta charset=\"utf-8\">\n"
                              "<title>Index of /d ir/</title>\n"
                              "</head>\n"
                              "<body>\n"
                              "<h1>Index of /d ir/</h1>\n"
                              "<hr>\n"
                              "<pre>\n"
                              "<a href=\"../\">../</a>\n"
                              "<a href=\"d/\">d/</a>                                               "
                              "  05-Dec-2026 04:43                   -\n"
                              "<a href=\"f\">f</a>                                                 "
                              " 05-Dec-2026 04:43                   3\n"
                              "</pre>\n"
                              "<hr>\n"
                              "</body>\n"
                              "</html>\n");
    free(page);
}

static void test_empty_dir(void **state)
{
    (void)state;
    char *page = render("zdir/empty", "/zdir/empty/", NULL);
    assert_has(page, "<pre>\n<a href=\"../\">../</a>\n</pre>\n");
    assert_int_equal(count(page, "<a href="), 1);
    free(page);
}

/* The request path in the title is escaped like a name. */
static void test_hostile_url(void **state)
{
    (void)state;
    static const char url[] = "/<script>\"x'&\n\xFF/";
    int dir_fd = openat(root_fd, "zdir", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dir_fd >= 0);
    char *page;
    size_t len;
    assert_int_equal(
        autoindex_render(root_fd, "zdir", dir_fd, url, sizeof(url) - 1, NULL, &page, &len), 0);
    close(dir_fd);
    assert_has(page, "<title>Index of /&lt;script&gt;&quot;x&#39;&amp;" PIC_LF FFFD "/</title>");
    assert_has(page, "<h1>Index of /&lt;script&gt;&quot;x&#39;&amp;" PIC_LF FFFD "/</h1>");
    assert_lacks(page, "<script");
    free(page);
}

/* The caller's descriptor is neither closed nor moved; errors come back as -errno. */
static void test_fd_and_errors(void **state)
{
    (void)state;
    int dir_fd = openat(root_fd, "sub", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dir_fd >= 0);
    char *page = NULL;
    size_t len = 0;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(autoindex_render(root_fd, "sub", dir_fd, "/sub/", 5, NULL, &page, &len),
                         0);
        assert_has(page, "inner.txt");
        free(page);
    }
    assert_int_equal(lseek(dir_fd, 0, SEEK_CUR), 0);
    close(dir_fd);
    page = NULL;
    assert_int_equal(autoindex_render(root_fd, "sub", -1, "/sub/", 5, NULL, &page, &len), -EBADF);
    assert_null(page);
    int file_fd = openat(root_fd, "big", O_RDONLY | O_CLOEXEC);
    assert_int_equal(autoindex_render(root_fd, "", file_fd, "/", 1, NULL, &page, &len), -ENOTDIR);
    close(file_fd);
}

/* ---- The escaping functions ---- */

struct html_case {
    const char *in;
    const char *out;
    size_t width;
};

static const struct html_case html_cases[] = {
    {"", "", 0},
    {"plain.txt", "plain.txt", 9},
    {"&<>\"'", "&amp;&lt;&gt;&quot;&#39;", 5},
    {"%2e%2e", "%2e%2e", 6},
    {"a\nb\tc\rd",
     "a" PIC_LF "b" PIC_TAB "c\xE2\x90\x8D"
     "d",
     7},
    {"\x7f", "\xE2\x90\xA1", 1},
    {"\x1b[31m", "\xE2\x90\x9B[31m", 5},
    {"caf\xC3\xA9", "caf\xC3\xA9", 4},
    {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80", 1},  /* U+1F600, four bytes */
    {"\xFF\xFE", FFFD FFFD, 2},                   /* never valid */
    {"\xC0\xAF", FFFD FFFD, 2},                   /* overlong '/' */
    {"\xE0\x80\xAF", FFFD FFFD FFFD, 3},          /* overlong, three bytes */
    {"\xED\xA0\x80", FFFD FFFD FFFD, 3},          /* a surrogate */
    {"\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD, 4}, /* past U+10FFFF */
    {"\xE5\x90", FFFD, 1},                        /* cut short at the end */
    {"\xE5\x90<", FFFD "&lt;", 2},                /* cut short, the breaker read again */
    {"\xF0\x9F\x98"
     "a",
     FFFD "a", 2},                                  /* one U+FFFD for the maximal prefix */
    {"\x80\x80", FFFD FFFD, 2},                     /* lone continuation bytes */
    {"\xC2\x85", FFFD, 1},                          /* C1 control NEL */
    {"\xEF\xB7\x90", FFFD, 1},                      /* noncharacter U+FDD0 */
    {"\xEF\xBF\xBE\xF4\x8F\xBF\xBF", FFFD FFFD, 2}, /* U+FFFE, U+10FFFF */
    {"\xEF\xBF\xBD", FFFD, 1},                      /* U+FFFD itself */
    {"\xC2\xA0", "\xC2\xA0", 1},                    /* NBSP is fine */
};

static void test_escape_html(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(html_cases); i++) {
        const struct html_case *c = &html_cases[i];
        size_t len = strlen(c->in);
        char out[128];
        size_t width = 99;
        size_t n = autoindex_escape_html(c->in, len, out, &width);
        assert_true(n <= AUTOINDEX_HTML_MAX(len));
        if (n != strlen(c->out) || memcmp(out, c->out, n) != 0)
            fail_msg("case %zu: got \"%.*s\"", i, (int)n, out);
        assert_int_equal(width, c->width);
        assert_int_equal(autoindex_escape_html(c->in, len, out, NULL), n);
    }
    /* A NUL is a control like the others. */
    char out[AUTOINDEX_HTML_MAX(3)];
    assert_int_equal(autoindex_escape_html("\0", 1, out, NULL), 3);
    assert_memory_equal(out, "\xE2\x90\x80", 3);
    /* The bound is reached. */
    assert_int_equal(autoindex_escape_html("\"\"\"", 3, out, NULL), AUTOINDEX_HTML_MAX(3));
}

static bool is_unreserved(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-._~", c) != NULL);
}

static void test_encode_href(void **state)
{
    (void)state;
    char in[256], out[AUTOINDEX_HREF_MAX(256)];
    for (int i = 0; i < 256; i++)
        in[i] = (char)i;
    size_t n = autoindex_encode_href(in, 256, out);
    /* 66 unreserved bytes stay: 62 alphanumerics and "-._~". */
    assert_int_equal(n, 66 + 3 * (256 - 66));
    for (size_t i = 0, k = 0; i < n; k++) {
        if (out[i] == '%') {
            unsigned v;
            char hex[3] = {out[i + 1], out[i + 2], 0};
            assert_int_equal(sscanf(hex, "%2X", &v), 1);
            assert_int_equal(v, k);
            assert_false(hex[0] >= 'a' || hex[1] >= 'a');
            i += 3;
        } else {
            assert_int_equal((unsigned char)out[i], k);
            assert_true(is_unreserved(out[i]));
            i++;
        }
    }
    static const char *const cases[][2] = {
        {"a b", "a%20b"},
        {"%", "%25"},
        {"#?", "%23%3F"},
        {"\"'<>&", "%22%27%3C%3E%26"},
        {"\r\n", "%0D%0A"},
        {"x:y", "x%3Ay"},
        {"caf\xC3\xA9", "caf%C3%A9"},
        {"A-Z_a.z~09", "A-Z_a.z~09"},
        {"\\/", "%5C%2F"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        n = autoindex_encode_href(cases[i][0], strlen(cases[i][0]), out);
        assert_int_equal(n, strlen(cases[i][1]));
        assert_memory_equal(out, cases[i][1], n);
    }
}

/* ---- 100,000 files ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_hundred_thousand(void **state)
{
    (void)state;
    enum { N = 100000 };
    /* A tmpfs keeps the 200,000 file system calls of setup and cleanup off the disk. */
    char dir[] = "/dev/shm/tw-autoindex-XXXXXX";
    char alt[] = "/tmp/tw-autoindex-big-XXXXXX";
    char *base = mkdtemp(dir);
    if (!base)
        base = mkdtemp(alt);
    assert_non_null(base);
    int fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    char name[32];
    double t0 = now_s();
    /* Created in a scrambled order: the listing must sort them. */
    for (unsigned i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "f%06u", (unsigned)((i * 7919u) % N));
        int f = openat(fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(f >= 0);
        close(f);
    }
    double t1 = now_s();
    char *page = NULL;
    size_t len = 0;
    int rc = autoindex_render(fd, "", fd, "/big/", 5, NULL, &page, &len);
    double t2 = now_s();
    assert_int_equal(rc, 0);

    /* Line by line by hand: ASan's strstr measures the whole haystack on every call. */
    size_t seen = 0;
    for (size_t i = 0; i < len; i++) {
        if (page[i] != '\n' || strncmp(page + i + 1, "<a href=\"", 9) != 0)
            continue;
        snprintf(name, sizeof(name), "f%06zu\"", seen);
        if (strncmp(page + i + 10, name, 8) != 0)
            fail_msg("entry %zu is \"%.8s\"", seen, page + i + 10);
        seen++;
    }
    assert_int_equal(seen, N);
    print_message("autoindex: %d files: created in %.3f s, listed in %.3f s, page %zu bytes\n", N,
                  t1 - t0, t2 - t1, len);
    free(page);

    for (unsigned i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "f%06u", i);
        assert_int_equal(unlinkat(fd, name, 0), 0);
    }
    close(fd);
    assert_int_equal(rmdir(base), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_page),        cmocka_unit_test(test_sub_page),
        cmocka_unit_test(test_exact_page),       cmocka_unit_test(test_empty_dir),
        cmocka_unit_test(test_hostile_url),      cmocka_unit_test(test_fd_and_errors),
        cmocka_unit_test(test_escape_html),      cmocka_unit_test(test_encode_href),
        cmocka_unit_test(test_hundred_thousand),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
