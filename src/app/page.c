/*
 * Server-rendered pages. See page.h.
 *
 * Each template is kept as its file's text and a list of parts: a literal run (an offset and a
 * length into the text) or a variable slot. page_render walks the parts, copying runs and
 * escaping values; nothing is searched or parsed per request.
 */
#include "page.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum page_var { VAR_USER, VAR_MESSAGE, VAR_TITLE, VAR_COUNT, VAR_NONE = -1 };

static const char *const var_names[VAR_COUNT] = {"user", "message", "title"};

static const char *const file_names[PAGE_COUNT] = {
    [PAGE_LANDING] = "landing.html", [PAGE_REGISTER] = "register.html", [PAGE_LOGIN] = "login.html",
    [PAGE_WELCOME] = "welcome.html", [PAGE_PICTURE] = "picture.html",   [PAGE_VIDEO] = "video.html",
    [PAGE_FANS] = "fans.html",       [PAGE_ERROR] = "error.html",
};

/* A literal run text[off, off + len), or (var != VAR_NONE) a variable slot. */
struct page_part {
    uint32_t off;
    uint32_t len;
    int var;
};

struct page {
    char *text;
    struct page_part *parts;
    size_t nparts;
    size_t literal; /* the sum of the literal runs' lengths */
};

struct page_set {
    struct page pages[PAGE_COUNT];
};

/* The longest an escaped byte becomes: '"' is "&quot;". */
#define ESCAPE_MAX 6

/* The entity for each byte that needs one; NULL for every other byte. */
static const char *const entities[256] = {
    ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&#39;",
};

size_t page_escape_html(const char *in, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    size_t i = 0;
    while (i < len) {
        /* A run of bytes that stay as they are, copied at once. */
        size_t run = i;
        while (run < len && !entities[(unsigned char)in[run]])
            run++;
        if (run > i) {
            if (run - i > cap - n)
                return 0;
            memcpy(out + n, in + i, run - i);
            n += run - i;
            i = run;
            if (i == len)
                break;
        }
        const char *e = entities[(unsigned char)in[i]];
        size_t elen = strlen(e);
        if (elen > cap - n)
            return 0;
        memcpy(out + n, e, elen);
        n += elen;
        i++;
    }
    return n;
}

static const char *value_of(const struct page_vars *v, int var)
{
    const char *s = NULL;
    if (v) {
        switch (var) {
        case VAR_USER:
            s = v->user;
            break;
        case VAR_MESSAGE:
            s = v->message;
            break;
        case VAR_TITLE:
            s = v->title;
            break;
        }
    }
    return s ? s : "";
}

size_t page_render(const struct page_set *ps, enum page_id id, const struct page_vars *v, char *out,
                   size_t cap)
{
    if ((unsigned)id >= PAGE_COUNT)
        return 0;
    const struct page *pg = &ps->pages[id];
    size_t n = 0;
    for (size_t i = 0; i < pg->nparts; i++) {
        const struct page_part *p = &pg->parts[i];
        if (p->var == VAR_NONE) {
            if (p->len > cap - n)
                return 0;
            memcpy(out + n, pg->text + p->off, p->len);
            n += p->len;
            continue;
        }
        const char *s = value_of(v, p->var);
        size_t len = strlen(s);
        if (len == 0)
            continue;
        size_t w = page_escape_html(s, len, out + n, cap - n);
        if (w == 0)
            return 0;
        n += w;
    }
    return n;
}

size_t page_render_bound(const struct page_set *ps, enum page_id id, const struct page_vars *v)
{
    if ((unsigned)id >= PAGE_COUNT)
        return 0;
    const struct page *pg = &ps->pages[id];
    size_t lens[VAR_COUNT];
    for (int var = 0; var < VAR_COUNT; var++)
        lens[var] = strlen(value_of(v, var));
    size_t n = pg->literal;
    for (size_t i = 0; i < pg->nparts; i++) {
        if (pg->parts[i].var != VAR_NONE)
            n += ESCAPE_MAX * lens[pg->parts[i].var];
    }
    return n;
}

const char *page_file_name(enum page_id id)
{
    return (unsigned)id < PAGE_COUNT ? file_names[id] : NULL;
}

/* Reads dir/name whole into a new NUL-terminated buffer; NULL with err set. */
static char *read_template(int dfd, const char *dir, const char *name, size_t *len, char *err,
                           size_t errlen)
{
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s/%s: %s", dir, name, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "%s/%s: %s", dir, name, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s/%s: not a regular file", dir, name);
        goto fail;
    }
    /* One byte more than the limit, to see a file that grew past it since fstat. */
    text = malloc(PAGE_FILE_MAX + 2);
    if (!text) {
        snprintf(err, errlen, "%s/%s: out of memory", dir, name);
        goto fail;
    }
    size_t n = 0;
    while (n <= PAGE_FILE_MAX) {
        ssize_t r = read(fd, text + n, PAGE_FILE_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s/%s: %s", dir, name, strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > PAGE_FILE_MAX) {
        snprintf(err, errlen, "%s/%s: larger than %d bytes", dir, name, PAGE_FILE_MAX);
        goto fail;
    }
    if (n == 0) {
        snprintf(err, errlen, "%s/%s: empty", dir, name);
        goto fail;
    }
    text[n] = '\0';
    close(fd);
    *len = n;
    return text;
fail:
    free(text);
    close(fd);
    return NULL;
}

static void add_part(struct page *pg, size_t off, size_t len, int var)
{
    if (var == VAR_NONE) {
        if (len == 0)
            return;
        pg->literal += len;
    }
    pg->parts[pg->nparts++] =
        (struct page_part){.off = (uint32_t)off, .len = (uint32_t)len, .var = var};
}

/* Splits pg->text[0, len) into parts. 0, or -1 with err naming the file and line. */
static int parse_template(struct page *pg, size_t len, const char *dir, const char *name, char *err,
                          size_t errlen)
{
    const char *t = pg->text;
    /* The shortest slot, {{user}}, is 8 bytes: at most len / 8 slots, each with a run before it,
     * and a last run. A bound that needs no first pass. */
    pg->parts = malloc((len / 4 + 2) * sizeof(*pg->parts));
    if (!pg->parts) {
        snprintf(err, errlen, "%s/%s: out of memory", dir, name);
        return -1;
    }
    size_t line = 1, counted = 0, start = 0;
    for (;;) {
        const char *open = memmem(t + start, len - start, "{{", 2);
        if (!open)
            break;
        size_t at = (size_t)(open - t);
        for (; counted < at; counted++)
            line += t[counted] == '\n';
        /* The name ends at the first "}}" on the same line. */
        size_t end = at + 2;
        while (end + 1 < len && t[end] != '\n' && !(t[end] == '}' && t[end + 1] == '}'))
            end++;
        if (end + 1 >= len || t[end] == '\n') {
            snprintf(err, errlen, "%s/%s:%zu: unterminated {{ (no }} on the same line)", dir, name,
                     line);
            return -1;
        }
        const char *vname = t + at + 2;
        size_t vlen = end - (at + 2);
        int var = VAR_NONE;
        for (int k = 0; k < VAR_COUNT; k++) {
            if (strlen(var_names[k]) == vlen && memcmp(var_names[k], vname, vlen) == 0)
                var = k;
        }
        if (var == VAR_NONE) {
            snprintf(err, errlen,
                     "%s/%s:%zu: unknown variable {{%.*s}} (known: {{user}}, {{message}}, "
                     "{{title}})",
                     dir, name, line, vlen > 40 ? 40 : (int)vlen, vname);
            return -1;
        }
        add_part(pg, start, at - start, VAR_NONE);
        add_part(pg, at, end + 2 - at, var);
        start = end + 2;
    }
    add_part(pg, start, len - start, VAR_NONE);
    if (pg->literal == 0) {
        snprintf(err, errlen, "%s/%s: nothing but variables", dir, name);
        return -1;
    }
    return 0;
}

struct page_set *page_set_load(const char *dir, char *err, size_t errlen)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        snprintf(err, errlen, "template folder %s: %s", dir, strerror(errno));
        return NULL;
    }
    struct page_set *ps = calloc(1, sizeof(*ps));
    if (!ps) {
        snprintf(err, errlen, "template folder %s: out of memory", dir);
        goto fail;
    }
    for (int id = 0; id < PAGE_COUNT; id++) {
        struct page *pg = &ps->pages[id];
        size_t len;
        pg->text = read_template(dfd, dir, file_names[id], &len, err, errlen);
        if (!pg->text || parse_template(pg, len, dir, file_names[id], err, errlen) < 0)
            goto fail;
    }
    close(dfd);
    return ps;
fail:
    page_set_free(ps);
    close(dfd);
    return NULL;
}

void page_set_free(struct page_set *ps)
{
    if (!ps)
        return;
    for (int id = 0; id < PAGE_COUNT; id++) {
        free(ps->pages[id].text);
        free(ps->pages[id].parts);
    }
    free(ps);
}
