/*
 * Accept-Encoding in one pass over the value: each member is read as a token and its parameters;
 * a member that breaks the grammar is skipped to the next ',' and the rest of the list still
 * counts. Nothing is copied and nothing is allocated.
 */
#include "http_encoding.h"

#include <string.h>

/* The lowest acceptable weight, "q=0.001": the implicit identity's. */
#define Q_MIN 1

/* What a member's token names: a coding, "*", or something ignored. */
#define TOKEN_STAR    HTTP_CODING_COUNT
#define TOKEN_UNKNOWN (HTTP_CODING_COUNT + 1)

static const char *const coding_name[HTTP_CODING_COUNT] = {NULL, "gzip", "br", "zstd"};
static const char *const coding_suffix[HTTP_CODING_COUNT] = {"", ".gz", ".br", ".zst"};

const char *http_coding_name(enum http_coding c)
{
    return (unsigned)c < HTTP_CODING_COUNT ? coding_name[c] : NULL;
}

const char *http_coding_suffix(enum http_coding c)
{
    return (unsigned)c < HTTP_CODING_COUNT ? coding_suffix[c] : NULL;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* tchar (RFC 9110 §5.6.2): the bytes of a token. */
static bool is_tchar(unsigned char c)
{
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return true;
    if (c >= '0' && c <= '9')
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static size_t skip_ows(const char *v, size_t n, size_t i)
{
    while (i < n && is_ows(v[i]))
        i++;
    return i;
}

/* The end of the token at v[i, n): i itself when there is none. */
static size_t skip_token(const char *v, size_t n, size_t i)
{
    while (i < n && is_tchar((unsigned char)v[i]))
        i++;
    return i;
}

/* Whether s[0, len) is lower (a lower-case ASCII word), ignoring case. */
static bool token_is(const char *s, size_t len, const char *lower)
{
    size_t k = 0;
    for (; k < len && lower[k] != '\0'; k++) {
        char c = s[k];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lower[k])
            return false;
    }
    return k == len && lower[k] == '\0';
}

static unsigned classify(const char *s, size_t len)
{
    if (token_is(s, len, "gzip") || token_is(s, len, "x-gzip"))
        return HTTP_CODING_GZIP;
    if (token_is(s, len, "br"))
        return HTTP_CODING_BR;
    if (token_is(s, len, "zstd"))
        return HTTP_CODING_ZSTD;
    if (token_is(s, len, "identity"))
        return HTTP_CODING_IDENTITY;
    if (len == 1 && s[0] == '*')
        return TOKEN_STAR;
    return TOKEN_UNKNOWN;
}

/*
 * qvalue (RFC 9110 §12.4.2): "0" [ "." 0*3DIGIT ] or "1" [ "." 0*3("0") ], as thousandths.
 * Returns -1 for anything else.
 */
static int parse_qvalue(const char *s, size_t len)
{
    if (len == 0 || (s[0] != '0' && s[0] != '1'))
        return -1;
    int q = (s[0] - '0') * 1000;
    if (len == 1)
        return q;
    if (s[1] != '.' || len > 5)
        return -1;
    int scale = 100;
    for (size_t k = 2; k < len; k++, scale /= 10) {
        if (s[k] < '0' || s[k] > '9')
            return -1;
        q += (s[k] - '0') * scale;
    }
    return q <= HTTP_ACCEPT_Q_MAX ? q : -1;
}

/*
 * Reads the quoted-string that starts at v[i] (a DQUOTE), leniently: any byte but DQUOTE and
 * backslash stands for itself, and a backslash escapes the next byte. Returns the index after the
 * closing DQUOTE, or n + 1 when the string is not closed.
 */
static size_t skip_quoted(const char *v, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        if (v[i] == '\\')
            i++;
        else if (v[i] == '"')
            return i + 1;
    }
    return n + 1;
}

/*
 * Reads the member at v[*i, n) (after any OWS and empty elements). Returns its weight (0..1000)
 * with *token set to what it names and *i at the ',' that ends it or at n; or -1 for a malformed
 * member or an invalid weight, with *i where it went wrong.
 */
static int parse_member(const char *v, size_t n, size_t *i, unsigned *token)
{
    size_t p = *i;
    size_t end = skip_token(v, n, p);
    if (end == p)
        return -1;
    *token = classify(v + p, end - p);
    int q = HTTP_ACCEPT_Q_MAX;
    bool have_q = false;
    p = skip_ows(v, n, end);
    while (p < n && v[p] == ';') {
        p = skip_ows(v, n, p + 1);
        if (p == n || v[p] == ';' || v[p] == ',')
            continue; /* an empty parameter */
        size_t name = p;
        p = skip_token(v, n, p);
        size_t name_len = p - name;
        p = skip_ows(v, n, p);
        if (name_len == 0 || p == n || v[p] != '=')
            goto malformed;
        p = skip_ows(v, n, p + 1);
        size_t value = p;
        if (p < n && v[p] == '"') {
            p = skip_quoted(v, n, p);
            if (p > n) {
                p = n;
                goto malformed;
            }
        } else {
            p = skip_token(v, n, p);
            if (p == value)
                goto malformed;
        }
        if (name_len == 1 && (v[name] | 0x20) == 'q' && !have_q) {
            /* A quoted weight is not a qvalue: parse_qvalue() refuses its DQUOTE. */
            q = parse_qvalue(v + value, p - value);
            have_q = true;
        }
        p = skip_ows(v, n, p);
    }
    if (p < n && v[p] != ',')
        goto malformed;
    *i = p;
    return q;

malformed:
    *i = p;
    return -1;
}

/*
 * Skips what is left of a malformed member, from v[i] to the next ',' that is not inside a
 * quoted-string (or n), so that a list quoted inside a parameter never yields members.
 */
static size_t skip_junk(const char *v, size_t n, size_t i)
{
    while (i < n && v[i] != ',')
        i = v[i] == '"' ? skip_quoted(v, n, i) : i + 1;
    return i < n ? i : n;
}

void http_accept_encoding_parse(const char *v, size_t n, bool present, struct http_accept *out)
{
    if (!present) {
        for (int c = 0; c < HTTP_CODING_COUNT; c++)
            out->q[c] = c == HTTP_CODING_IDENTITY ? HTTP_ACCEPT_Q_MAX : Q_MIN;
        return;
    }
    unsigned seen = 0; /* a bit per coding, and TOKEN_STAR's, once it has its first member */
    int star = -1;
    memset(out, 0, sizeof(*out));
    size_t i = 0;
    while (i < n) {
        if (is_ows(v[i]) || v[i] == ',') {
            i++;
            continue;
        }
        unsigned token;
        int q = parse_member(v, n, &i, &token);
        if (q < 0) {
            i = skip_junk(v, n, i);
            continue;
        }
        if (token == TOKEN_UNKNOWN || (seen & (1u << token)))
            continue;
        seen |= 1u << token;
        if (token == TOKEN_STAR)
            star = q;
        else
            out->q[token] = (uint16_t)q;
    }
    for (int c = 0; c < HTTP_CODING_COUNT; c++) {
        if (seen & (1u << c))
            continue;
        if (star >= 0)
            out->q[c] = (uint16_t)star;
        else if (c == HTTP_CODING_IDENTITY)
            out->q[c] = Q_MIN;
    }
}

int http_accept_choose(const struct http_accept *a, unsigned available,
                       const uint64_t sizes[HTTP_CODING_COUNT])
{
    int best = -1;
    for (int c = 0; c < HTTP_CODING_COUNT; c++) {
        if (!(available & HTTP_CODING_BIT(c)) || a->q[c] == 0)
            continue;
        /* Ascending c: a tie on both q and size keeps the earlier coding. */
        if (best < 0 || a->q[c] > a->q[best] ||
            (a->q[c] == a->q[best] && sizes && sizes[c] < sizes[best]))
            best = c;
    }
    return best;
}
