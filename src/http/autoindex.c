/*
 * Directory listings. See autoindex.h.
 *
 * Two passes: readdir fills one arena with packed records (size, time, kind, name), then an array
 * of pointers to them is sorted and the page is written in one growing buffer. Nothing is
 * allocated per entry, nothing recurses, and every buffer grows by doubling.
 */
#include "autoindex.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* nginx's autoindex columns: the link's text padded to NAME_COLS + 1, the size in SIZE_COLS. */
#define NAME_COLS 50
#define SIZE_COLS 19

/* What a line costs beyond its escaped name: tags, padding, time, size, with room to spare. */
#define LINE_EXTRA (NAME_COLS + 160)

/* One listed entry, packed in the arena; records are aligned for the next one. */
struct entry {
    int64_t size;
    int64_t mtime;
    uint32_t len; /* name[0, len), NUL-terminated */
    bool dir;
    char name[];
};

/* A buffer that grows by doubling: the arena of entries, then the page. */
struct grow {
    char *p;
    size_t len, cap;
};

static int grow_reserve(struct grow *g, size_t more)
{
    if (g->cap - g->len >= more)
        return 0;
    size_t cap = g->cap ? g->cap : 4096;
    while (cap - g->len < more) {
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    char *p = realloc(g->p, cap);
    if (!p)
        return -ENOMEM;
    g->p = p;
    g->cap = cap;
    return 0;
}

/* Appends n bytes; room must have been reserved. */
static void grow_put(struct grow *g, const char *s, size_t n)
{
    memcpy(g->p + g->len, s, n);
    g->len += n;
}

#define PUT_LIT(g, lit) grow_put((g), (lit), sizeof(lit) - 1)

size_t autoindex_encode_href(const char *in, size_t len, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 0xf];
        }
    }
    return n;
}

/* Writes the code point cp (at most U+FFFF here) as UTF-8. */
static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    out[0] = (char)(0xe0 | cp >> 12);
    out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
}

/* Writes the decoded character cp whose UTF-8 form is src[0, n), made safe for HTML. */
static size_t put_char(char *out, uint32_t cp, const char *src, size_t n)
{
    switch (cp) {
    case '&':
        memcpy(out, "&amp;", 5);
        return 5;
    case '<':
        memcpy(out, "&lt;", 4);
        return 4;
    case '>':
        memcpy(out, "&gt;", 4);
        return 4;
    case '"':
        memcpy(out, "&quot;", 6);
        return 6;
    case '\'':
        memcpy(out, "&#39;", 5);
        return 5;
    case 0x7f:
        return put_utf8(out, 0x2421); /* SYMBOL FOR DELETE */
    default:
        break;
    }
    /* HTML5 makes controls and noncharacters parse errors: show C0 ones, replace the rest. */
    if (cp < 0x20)
        return put_utf8(out, 0x2400 + cp);
    if ((cp >= 0x80 && cp <= 0x9f) || (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe)
        return put_utf8(out, 0xfffd);
    memcpy(out, src, n);
    return n;
}

/*
 * The WHATWG UTF-8 decoder: each maximal prefix of a valid sequence that cannot be completed
 * (or a byte that starts none) is one U+FFFD, and the byte that broke a sequence is read again
 * as a start. Overlong forms, surrogates and code points past U+10FFFF are invalid.
 */
size_t autoindex_escape_html(const char *in, size_t len, char *out, size_t *width)
{
    size_t n = 0, chars = 0;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        unsigned char c = (unsigned char)in[i++];
        uint32_t cp;
        size_t need;
        unsigned char lower = 0x80, upper = 0xbf;
        if (c < 0x80) {
            cp = c;
            need = 0;
        } else if (c >= 0xc2 && c <= 0xdf) {
            cp = c & 0x1f;
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            lower = c == 0xe0 ? 0xa0 : 0x80;
            upper = c == 0xed ? 0x9f : 0xbf;
            cp = c & 0x0f;
            need = 2;
        } else if (c >= 0xf0 && c <= 0xf4) {
            lower = c == 0xf0 ? 0x90 : 0x80;
            upper = c == 0xf4 ? 0x8f : 0xbf;
            cp = c & 0x07;
            need = 3;
        } else {
            n += put_utf8(out + n, 0xfffd);
            chars++;
            continue;
        }
        bool ok = true;
        for (; need > 0; need--) {
            unsigned char b = i < len ? (unsigned char)in[i] : 0;
            if (i == len || b < lower || b > upper) {
                ok = false;
                break;
            }
            lower = 0x80;
            upper = 0xbf;
            cp = cp << 6 | (b & 0x3f);
            i++;
        }
        n += ok ? put_char(out + n, cp, in + start, i - start) : put_utf8(out + n, 0xfffd);
        chars++;
    }
    if (width)
        *width = chars;
    return n;
}

/* Failures that say the listing as a whole failed, not that one entry went away. */
static bool is_fatal(int err)
{
    return err == ENOMEM || err == EMFILE || err == ENFILE || err == EIO;
}

/*
 * Follows the symbolic link path (relative to root_fd) as the static handler would, and puts
 * what it points to in *st. 1 if it is allowed, 0 if not, or -errno for a fatal failure.
 */
static int follow_link(int root_fd, const char *path, struct stat *st)
{
    static atomic_bool no_openat2;
    if (atomic_load_explicit(&no_openat2, memory_order_relaxed))
        return 0;
    /* O_PATH: nothing is opened for reading, so a device or FIFO target has no side effect. */
    struct open_how how = {
        .flags = O_PATH | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
    if (fd < 0) {
        /* Without openat2 the static handler refuses every symbolic link: so do we. */
        if (errno == ENOSYS)
            atomic_store_explicit(&no_openat2, true, memory_order_relaxed);
        return is_fatal(errno) ? -errno : 0;
    }
    int rc = fstat((int)fd, st) == 0 ? 1 : is_fatal(errno) ? -errno : 0;
    close((int)fd);
    return rc;
}

/* The arena bytes of an entry whose name has len bytes. */
static size_t record_size(size_t len)
{
    size_t size = offsetof(struct entry, name) + len + 1;
    return (size + alignof(struct entry) - 1) & ~(alignof(struct entry) - 1);
}

/* Appends one entry's record to the arena. */
static int arena_add(struct grow *arena, const char *name, size_t len, const struct stat *st)
{
    size_t size = record_size(len);
    if (grow_reserve(arena, size) != 0)
        return -ENOMEM;
    struct entry *e = (struct entry *)(arena->p + arena->len);
    e->size = (int64_t)st->st_size;
    e->mtime = (int64_t)st->st_mtim.tv_sec;
    e->len = (uint32_t)len;
    e->dir = S_ISDIR(st->st_mode);
    memcpy(e->name, name, len + 1);
    arena->len += size;
    return 0;
}

/*
 * Reads the directory into the arena: one record per shown entry. rel is the directory's path
 * from the root; the links' paths are built after it in path. Returns the count or -errno.
 */
static ssize_t read_entries(int root_fd, const char *rel, int dir_fd, const char *skip,
                            struct grow *arena)
{
    /* A descriptor of its own: the caller's offset stays where it was, and closedir closes it. */
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int err = errno;
        close(fd);
        return -err;
    }
    char path[PATH_MAX];
    size_t rel_len = strlen(rel);
    if (rel_len > 0 && rel[rel_len - 1] == '/')
        rel_len--;
    size_t prefix = rel_len ? rel_len + 1 : 0;
    if (prefix < sizeof(path)) {
        memcpy(path, rel, rel_len);
        path[rel_len] = '/';
    }
    ssize_t count = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno != 0)
                count = -errno;
            break;
        }
        const char *name = de->d_name;
        /* ".", ".." and every hidden name, and the one the server does not serve. */
        if (name[0] == '.' || (skip && strcmp(name, skip) == 0))
            continue;
        if (de->d_type == DT_FIFO || de->d_type == DT_SOCK || de->d_type == DT_CHR ||
            de->d_type == DT_BLK)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (is_fatal(errno)) {
                count = -errno;
                break;
            }
            continue; /* gone meanwhile */
        }
        size_t len = strlen(name);
        if (S_ISLNK(st.st_mode)) {
            if (prefix + len >= sizeof(path))
                continue;
            memcpy(path + prefix, name, len + 1);
            int rc = follow_link(root_fd, path, &st);
            if (rc < 0) {
                count = rc;
                break;
            }
            if (rc == 0)
                continue;
        }
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
            continue;
        if (arena_add(arena, name, len, &st) != 0) {
            count = -ENOMEM;
            break;
        }
        count++;
    }
    closedir(d);
    return count;
}

/* Directories first, then bytewise by name. */
static int entry_cmp(const void *a, const void *b)
{
    const struct entry *x = *(const struct entry *const *)a;
    const struct entry *y = *(const struct entry *const *)b;
    if (x->dir != y->dir)
        return x->dir ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Room reserved for this, for the title. */
static void put_escaped(struct grow *g, const char *s, size_t n)
{
    g->len += autoindex_escape_html(s, n, g->p + g->len, NULL);
}

static int put_head(struct grow *page, const char *url_path, size_t url_len, bool parent)
{
    static const char head1[] = "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
                                "<title>Index of ";
    static const char head2[] = "</title>\n</head>\n<body>\n<h1>Index of ";
    static const char head3[] = "</h1>\n<hr>\n<pre>\n";
    static const char up[] = "<a href=\"../\">../</a>\n";
    if (grow_reserve(page, sizeof(head1) + sizeof(head2) + sizeof(head3) + sizeof(up) +
                               2 * AUTOINDEX_HTML_MAX(url_len)) != 0)
        return -ENOMEM;
    PUT_LIT(page, head1);
    put_escaped(page, url_path, url_len);
    PUT_LIT(page, head2);
    put_escaped(page, url_path, url_len);
    PUT_LIT(page, head3);
    if (parent)
        PUT_LIT(page, up);
    return 0;
}

/* "05-Dec-2026 04:43" in UTC, as nginx; room for LINE_EXTRA reserved. */
static void put_time(struct grow *page, int64_t mtime)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    time_t t = (time_t)mtime;
    int n;
    if (gmtime_r(&t, &tm))
        n = snprintf(page->p + page->len, 32, "%02d-%s-%d %02d:%02d", tm.tm_mday, months[tm.tm_mon],
                     tm.tm_year + 1900, tm.tm_hour, tm.tm_min);
    else
        n = snprintf(page->p + page->len, 32, "%-17s", "-");
    page->len += (size_t)n;
}

static int put_entry(struct grow *page, const struct entry *e)
{
    if (grow_reserve(page, AUTOINDEX_HREF_MAX(e->len) + AUTOINDEX_HTML_MAX(e->len) + LINE_EXTRA) !=
        0)
        return -ENOMEM;
    PUT_LIT(page, "<a href=\"");
    page->len += autoindex_encode_href(e->name, e->len, page->p + page->len);
    if (e->dir)
        PUT_LIT(page, "/");
    PUT_LIT(page, "\">");
    size_t width;
    page->len += autoindex_escape_html(e->name, e->len, page->p + page->len, &width);
    if (e->dir) {
        PUT_LIT(page, "/");
        width++;
    }
    PUT_LIT(page, "</a>");
    /* Padded to nginx's column; a longer name only pushes the line right. */
    size_t pad = width < NAME_COLS ? NAME_COLS + 1 - width : 1;
    memset(page->p + page->len, ' ', pad);
    page->len += pad;
    put_time(page, e->mtime);
    int n;
    if (e->dir)
        n = snprintf(page->p + page->len, 32, " %*s\n", SIZE_COLS, "-");
    else
        n = snprintf(page->p + page->len, 32, " %*lld\n", SIZE_COLS, (long long)e->size);
    page->len += (size_t)n;
    return 0;
}

int autoindex_render(int root_fd, const char *rel, int dir_fd, const char *url_path, size_t url_len,
                     const char *skip, char **out, size_t *out_len)
{
    static const char tail[] = "</pre>\n<hr>\n</body>\n</html>\n";
    struct grow arena = {0}, page = {0};
    struct entry **sorted = NULL;
    ssize_t n = read_entries(root_fd, rel, dir_fd, skip, &arena);
    int rc = n < 0 ? (int)n : 0;
    if (rc != 0)
        goto fail;
    rc = -ENOMEM;
    if (n > 0) {
        sorted = malloc((size_t)n * sizeof(*sorted));
        if (!sorted)
            goto fail;
        size_t off = 0;
        for (ssize_t i = 0; i < n; i++) {
            struct entry *e = (struct entry *)(arena.p + off);
            sorted[i] = e;
            off += record_size(e->len);
        }
        qsort(sorted, (size_t)n, sizeof(*sorted), entry_cmp);
    }
    if (put_head(&page, url_path, url_len, rel[0] != '\0') != 0)
        goto fail;
    for (ssize_t i = 0; i < n; i++) {
        if (put_entry(&page, sorted[i]) != 0)
            goto fail;
    }
    if (grow_reserve(&page, sizeof(tail)) != 0)
        goto fail;
    grow_put(&page, tail, sizeof(tail)); /* with its NUL, which *out_len leaves out */
    free(sorted);
    free(arena.p);
    *out = page.p;
    *out_len = page.len - 1;
    return 0;
fail:
    free(sorted);
    free(arena.p);
    free(page.p);
    return rc;
}
