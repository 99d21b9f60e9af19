/*
 * libFuzzer harness for Accept-Encoding (src/http/http_encoding.h).
 *
 * Input layout: a 9-byte binary prefix (zero-padded when the input is shorter), then the field
 * value:
 *   byte 0      bits 0-3: the available set for http_accept_choose(); bit 4: the field is absent;
 *               bit 5: sizes NULL
 *   bytes 1-8   four little-endian u16: the sizes of identity, gzip, br and zstd (small numbers,
 *               so that ties on size are frequent)
 *
 * Properties: every weight is in 0..1000 and equals what a reference parser written here gives
 * (it cuts the value at commas and semicolons outside quoted-strings first, then judges each
 * piece, unlike the library's single scan); an absent field gives the fixed weights whatever
 * the bytes; http_accept_choose() returns -1 exactly when no available coding is acceptable, and
 * otherwise an available acceptable coding that no other beats by the header's order (higher q,
 * then smaller size, then lower enum). Metamorphic checks, each parsing a new buffer of exactly its
 * length so that ASan sees any over-read: the weights do not change when a space is put before and
 * after every ',' ';' and '='; when the value is followed by ", " and itself (the first member of
 * each coding decides, and the copy has the same members; not checked when the value ends inside
 * a quoted-string, which the copy would close);
 * when an unknown coding is put in front; when the ASCII letters are upper-cased.
 *
 * Every broken property calls abort() after a line on stderr saying which, so that libFuzzer
 * saves the input as a crash.
 */
#include "http/http_encoding.h"
#include "fuzz.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX 9

static void parse_copy(const char *v, size_t n, struct http_accept *out)
{
    /* Exactly n bytes (1 when empty, never read), poisoned around by ASan. */
    char *copy = malloc(n ? n : 1);
    CHECK(copy != NULL, "malloc");
    memcpy(copy, v, n);
    memset(out, 0xee, sizeof(*out));
    http_accept_encoding_parse(copy, n, true, out);
    free(copy);
}

static bool same(const struct http_accept *a, const struct http_accept *b)
{
    return memcmp(a->q, b->q, sizeof(a->q)) == 0;
}

/*
 * Whether v[0, n) ends inside a quoted-string. Quoted-strings are lexical: any DQUOTE outside one
 * starts one (in a parameter's value or in junk alike), and inside one a backslash escapes the
 * next byte.
 */
static bool ends_in_quotes(const char *v, size_t n)
{
    bool in = false;
    for (size_t i = 0; i < n; i++) {
        if (in && v[i] == '\\')
            i++;
        else if (v[i] == '"')
            in = !in;
    }
    return in;
}

/*
 * The reference parser, written from the header's rules in another shape than the library's
 * single scan: the value is first cut into members at the commas outside quoted-strings, each
 * member into pieces at the semicolons outside them, and each piece is then judged on its own.
 */
struct span {
    const char *p;
    size_t len;
};

static struct span ref_trim(struct span s)
{
    while (s.len > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.len--;
    }
    while (s.len > 0 && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
        s.len--;
    return s;
}

/* The next piece of s[*pos, len) up to sep outside quotes; false when s is used up. */
static bool ref_cut(struct span s, size_t *pos, char sep, struct span *piece)
{
    if (*pos > s.len)
        return false;
    size_t start = *pos, i = start;
    bool in = false;
    for (; i < s.len; i++) {
        if (in && s.p[i] == '\\')
            i++;
        else if (s.p[i] == '"')
            in = !in;
        else if (!in && s.p[i] == sep)
            break;
    }
    if (i > s.len)
        i = s.len;
    piece->p = s.p + start;
    piece->len = i - start;
    *pos = i + 1;
    return true;
}

static bool ref_is_token(struct span s)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        bool digit = c >= '0' && c <= '9';
        if (!alpha && !digit && (c == '\0' || !memchr(extra, c, sizeof(extra) - 1)))
            return false;
    }
    return true;
}

/* Whether s is exactly one quoted-string, closed, with backslash escapes. */
static bool ref_is_quoted(struct span s)
{
    if (s.len < 2 || s.p[0] != '"')
        return false;
    for (size_t i = 1; i < s.len; i++) {
        if (s.p[i] == '\\')
            i++;
        else if (s.p[i] == '"')
            return i == s.len - 1;
    }
    return false;
}

static bool ref_equal_nocase(struct span s, const char *word)
{
    if (s.len != strlen(word))
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != word[i])
            return false;
    }
    return true;
}

/* RFC 9110 §12.4.2's qvalue, as thousandths; -1 if s is not one. */
static int ref_qvalue(struct span s)
{
    static const char *const zero[] = {"0", "0."}, *const one[] = {"1", "1.", "1.0", "1.00",
                                                                   "1.000"};
    for (size_t i = 0; i < 2; i++)
        if (s.len == strlen(zero[i]) && memcmp(s.p, zero[i], s.len) == 0)
            return 0;
    for (size_t i = 0; i < 5; i++)
        if (s.len == strlen(one[i]) && memcmp(s.p, one[i], s.len) == 0)
            return 1000;
    if (s.len < 3 || s.len > 5 || s.p[0] != '0' || s.p[1] != '.')
        return -1;
    char frac[4] = "000";
    for (size_t i = 2; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return -1;
        frac[i - 2] = s.p[i];
    }
    return atoi(frac);
}

/* A member's coding (0..3, 4 for "*", 5 unknown) and weight; -1 when it is to be ignored. */
static int ref_member(struct span m, int *coding)
{
    size_t pos = 0;
    struct span piece;
    ref_cut(m, &pos, ';', &piece);
    piece = ref_trim(piece);
    if (!ref_is_token(piece))
        return -1;
    static const char *const names[] = {"identity", "gzip", "br", "zstd", "*", "x-gzip"};
    *coding = 5;
    for (int c = 0; c < 6; c++)
        if (ref_equal_nocase(piece, names[c]))
            *coding = c == 5 ? HTTP_CODING_GZIP : c;
    int q = 1000;
    bool have_q = false;
    while (ref_cut(m, &pos, ';', &piece)) {
        piece = ref_trim(piece);
        if (piece.len == 0)
            continue;
        size_t eq = 0;
        while (eq < piece.len && piece.p[eq] != '=' && piece.p[eq] != '"')
            eq++;
        if (eq == piece.len || piece.p[eq] != '=')
            return -1;
        struct span name = ref_trim((struct span){piece.p, eq});
        struct span value = ref_trim((struct span){piece.p + eq + 1, piece.len - eq - 1});
        if (!ref_is_token(name) || !(ref_is_token(value) || ref_is_quoted(value)))
            return -1;
        if (!have_q && ref_equal_nocase(name, "q")) {
            have_q = true;
            q = ref_qvalue(value);
        }
    }
    return q;
}

static void ref_parse(const char *v, size_t n, struct http_accept *out)
{
    int q[HTTP_CODING_COUNT + 1];
    bool seen[HTTP_CODING_COUNT + 1] = {false};
    struct span all = {v, n}, m;
    size_t pos = 0;
    while (ref_cut(all, &pos, ',', &m)) {
        m = ref_trim(m);
        int coding, w;
        if (m.len == 0 || (w = ref_member(m, &coding)) < 0 || coding > HTTP_CODING_COUNT ||
            seen[coding])
            continue;
        seen[coding] = true;
        q[coding] = w;
    }
    for (int c = 0; c < HTTP_CODING_COUNT; c++) {
        if (seen[c])
            out->q[c] = (uint16_t)q[c];
        else if (seen[HTTP_CODING_COUNT])
            out->q[c] = (uint16_t)q[HTTP_CODING_COUNT];
        else
            out->q[c] = c == HTTP_CODING_IDENTITY ? 1 : 0;
    }
}

/* The header's order: whether coding x is preferred to coding y. */
static bool better(const struct http_accept *a, const uint64_t *sizes, int x, int y)
{
    if (a->q[x] != a->q[y])
        return a->q[x] > a->q[y];
    if (sizes && sizes[x] != sizes[y])
        return sizes[x] < sizes[y];
    return x < y;
}

static void check_choose(const struct http_accept *a, unsigned available, const uint64_t *sizes)
{
    int got = http_accept_choose(a, available, sizes);
    bool any = false;
    for (int c = 0; c < HTTP_CODING_COUNT; c++)
        any |= (available & HTTP_CODING_BIT(c)) && a->q[c] > 0;
    if (!any) {
        CHECK(got == -1, "a coding chosen though none available is acceptable");
        return;
    }
    CHECK(got >= 0 && got < HTTP_CODING_COUNT, "no coding chosen though one is acceptable");
    CHECK(available & HTTP_CODING_BIT(got), "an unavailable coding chosen");
    CHECK(a->q[got] > 0, "an unacceptable coding chosen");
    for (int c = 0; c < HTTP_CODING_COUNT; c++) {
        if (c != got && (available & HTTP_CODING_BIT(c)) && a->q[c] > 0)
            CHECK(!better(a, sizes, c, got), "a better coding was available");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t prefix[PREFIX] = {0};
    memcpy(prefix, data, size < PREFIX ? size : PREFIX);
    unsigned available = prefix[0] & 0xf;
    bool absent = prefix[0] & 0x10;
    uint64_t sizes_buf[HTTP_CODING_COUNT];
    for (int c = 0; c < HTTP_CODING_COUNT; c++)
        sizes_buf[c] = (uint64_t)prefix[1 + 2 * c] | (uint64_t)prefix[2 + 2 * c] << 8;
    const uint64_t *sizes = prefix[0] & 0x20 ? NULL : sizes_buf;
    const char *v = size > PREFIX ? (const char *)data + PREFIX : "";
    size_t n = size > PREFIX ? size - PREFIX : 0;

    struct http_accept a;
    if (absent) {
        memset(&a, 0xee, sizeof(a));
        http_accept_encoding_parse(v, n, false, &a);
        CHECK(a.q[HTTP_CODING_IDENTITY] == HTTP_ACCEPT_Q_MAX, "absent: identity not q=1");
        for (int c = 1; c < HTTP_CODING_COUNT; c++)
            CHECK(a.q[c] == 1, "absent: a coding not q=0.001");
        check_choose(&a, available, sizes);
        return 0;
    }

    parse_copy(v, n, &a);
    for (int c = 0; c < HTTP_CODING_COUNT; c++)
        CHECK(a.q[c] <= HTTP_ACCEPT_Q_MAX, "q out of 0..1000");
    struct http_accept r;
    ref_parse(v, n, &r);
    CHECK(same(&a, &r), "weights differ from the reference parser");
    check_choose(&a, available, sizes);

    /* Spaces around every ',' ';' and '='. */
    char *buf = malloc(3 * n + 16);
    CHECK(buf != NULL, "malloc");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool sep = v[i] == ',' || v[i] == ';' || v[i] == '=';
        if (sep)
            buf[k++] = ' ';
        buf[k++] = v[i];
        if (sep)
            buf[k++] = ' ';
    }
    struct http_accept b;
    parse_copy(buf, k, &b);
    CHECK(same(&a, &b), "spaces around , ; = change the weights");

    /*
     * The list twice: the first member of each coding still decides. Not when the value ends
     * inside a quoted-string, which the copy's first DQUOTE would close.
     */
    free(buf);
    buf = malloc(2 * n + 2);
    CHECK(buf != NULL, "malloc");
    if (!ends_in_quotes(v, n)) {
        if (n > 0)
            memcpy(buf, v, n);
        memcpy(buf + n, ", ", 2);
        if (n > 0)
            memcpy(buf + n + 2, v, n);
        parse_copy(buf, 2 * n + 2, &b);
        CHECK(same(&a, &b), "repeating the list changes the weights");
    }

    /* An unknown coding in front. */
    free(buf);
    buf = malloc(n + 16);
    CHECK(buf != NULL, "malloc");
    memcpy(buf, "foo;x=1, ", 9);
    if (n > 0)
        memcpy(buf + 9, v, n);
    parse_copy(buf, n + 9, &b);
    CHECK(same(&a, &b), "an unknown coding in front changes the weights");

    /* Upper case: codings and parameter names are case-insensitive, the rest is ignored. */
    for (size_t i = 0; i < n; i++)
        buf[i] = v[i] >= 'a' && v[i] <= 'z' ? (char)(v[i] - 'a' + 'A') : v[i];
    parse_copy(buf, n, &b);
    CHECK(same(&a, &b), "upper case changes the weights");
    free(buf);
    return 0;
}
