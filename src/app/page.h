/*
 * Server-rendered pages: the application's HTML (landing, register, login, welcome, picture,
 * video, fans, error) from template files in the site folder (www/templates/NAME.html).
 *
 * A template is HTML with three variables, written {{user}}, {{message}} and {{title}}; nothing
 * else between double braces, no conditionals, no loops. Each value is HTML-escaped where it is
 * put, so a user name such as <script> shows as text. A template that wants an element only when
 * a value is there wraps it in one that CSS hides when empty (class="message", :empty): the
 * caller passes "" and the page stays free of conditionals.
 *
 * Loading parses every template once into literal runs and variable slots, so rendering is a
 * walk over that list: copies and escapes, no parsing, no allocation. A page_set is immutable once
 * loaded; a reload loads a new one and frees the old when no one renders from it any more.
 */
#ifndef TINYWEB_APP_PAGE_H
#define TINYWEB_APP_PAGE_H

#include <stddef.h>

/* The largest template file accepted, in bytes. */
#define PAGE_FILE_MAX (64 * 1024)

/* The pages, each from the template file of the same name: landing.html, register.html, ... */
enum page_id {
    PAGE_LANDING,
    PAGE_REGISTER,
    PAGE_LOGIN,
    PAGE_WELCOME,
    PAGE_PICTURE,
    PAGE_VIDEO,
    PAGE_FANS,
    PAGE_ERROR,
    PAGE_COUNT
};

/* The templates of one folder, loaded once. Opaque. */
struct page_set;

/* What a page shows. NULL is the same as "": renders nothing. Values are bytes ending at NUL;
 * the caller checks they are UTF-8 (form_decode, utf8_valid) before they get here. */
struct page_vars {
    const char *user;    /* {{user}}: the signed-in user's name */
    const char *message; /* {{message}}: one sentence, "Registered: now log in." */
    const char *title;   /* {{title}}: the error page's heading, "Wrong password" */
};

/* Loads NAME.html for every page from dir. NULL, with one line naming the file (and for a
 * template error its line) in err, when dir or a template is missing, unreadable, not a regular
 * file, empty or larger than PAGE_FILE_MAX, or a template has an unknown or unterminated
 * {{ }}. Blocking file I/O: at start-up or reload, not on a loop. */
struct page_set *page_set_load(const char *dir, char *err, size_t errlen);

/* Frees ps (NULL is fine). No page_render may be running on it. */
void page_set_free(struct page_set *ps);

/* Renders page id with v (NULL: every value "") into out[0, cap): returns the length written
 * (not NUL-terminated), or 0 when it does not fit (out's content is then unspecified).
 * Thread-safe (ps is read-only), no allocation; O(page size + escaped values). */
size_t page_render(const struct page_set *ps, enum page_id id, const struct page_vars *v, char *out,
                   size_t cap);

/* The most bytes page_render can write for id with v: the literal text plus each slot's value at
 * its worst escaping (6 bytes for '"'). A buffer this large never makes page_render fail. O(slots
 * + value lengths). */
size_t page_render_bound(const struct page_set *ps, enum page_id id, const struct page_vars *v);

/* Copies in[0, len) to out[0, cap) with & < > " ' as &amp; &lt; &gt; &quot; &#39; (safe in
 * element text and in quoted attribute values). Returns the length written (not NUL-terminated),
 * or 0 when it does not fit (or len is 0). No allocation, O(len). */
size_t page_escape_html(const char *in, size_t len, char *out, size_t cap);

/* The template file's name for id, "login.html"; NULL for an id out of range. */
const char *page_file_name(enum page_id id);

#endif
