/*
 * Conditional requests and ranges. Dates use gmtime_r() and timegm(), which never consult the
 * time zone or the locale, with the names spelled out here so that no LC_TIME changes them.
 */
#include "http_cond.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static const char wday_short[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const wday_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};
static const char month_name[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* The largest off_t, without assuming its width. */
#define OFF_T_MAX ((off_t)(((uint64_t)1 << (sizeof(off_t) * 8 - 1)) - 1))

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Strips leading and trailing OWS from s[0, *len), returning the new start. */
static const char *trim_ows(const char *s, size_t *len)
{
    size_t n = *len;
    while (n > 0 && is_ows(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_ows(s[n - 1]))
        n--;
    *len = n;
    return s;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Writes the n decimal digits of v, zero-padded, at p. */
static void put_digits(char *p, unsigned v, int n)
{
    while (n-- > 0) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* The value of the n decimal digits at p, or -1 if one is not a digit. */
static int get_digits(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

int http_date_format(time_t t, char out[HTTP_DATE_LEN + 1])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
        return -EOVERFLOW;
    memcpy(out, wday_short[tm.tm_wday], 3);
    memcpy(out + 3, ", 00 ", 5);
    put_digits(out + 5, (unsigned)tm.tm_mday, 2);
    memcpy(out + 8, month_name[tm.tm_mon], 3);
    out[11] = ' ';
    put_digits(out + 12, (unsigned)(tm.tm_year + 1900), 4);
    memcpy(out + 16, " 00:00:00 GMT", 14); /* with the NUL */
    put_digits(out + 17, (unsigned)tm.tm_hour, 2);
    put_digits(out + 20, (unsigned)tm.tm_min, 2);
    put_digits(out + 23, (unsigned)tm.tm_sec, 2);
    return 0;
}

/* The month whose three-letter name is at p (exact case), 0..11, or -1. */
static int parse_month(const char *p)
{
    for (int m = 0; m < 12; m++) {
        if (memcmp(p, month_name[m], 3) == 0)
            return m;
    }
    return -1;
}

static bool is_wday_short(const char *p)
{
    for (int d = 0; d < 7; d++) {
        if (memcmp(p, wday_short[d], 3) == 0)
            return true;
    }
    return false;
}

static bool is_wday_long(const char *p, size_t n)
{
    for (int d = 0; d < 7; d++) {
        if (strlen(wday_long[d]) == n && memcmp(p, wday_long[d], n) == 0)
            return true;
    }
    return false;
}

/* Parses "HH:MM:SS" at p into tm; a second of 60 is a leap second. */
static bool parse_time_of_day(const char *p, struct tm *tm)
{
    if (p[2] != ':' || p[5] != ':')
        return false;
    tm->tm_hour = get_digits(p, 2);
    tm->tm_min = get_digits(p + 3, 2);
    tm->tm_sec = get_digits(p + 6, 2);
    return tm->tm_hour >= 0 && tm->tm_hour <= 23 && tm->tm_min >= 0 && tm->tm_min <= 59 &&
           tm->tm_sec >= 0 && tm->tm_sec <= 60;
}

static bool is_leap(long year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* Checks the day of the month, which timegm() would silently carry into the next month. */
static bool valid_mday(const struct tm *tm)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    long year = (long)tm->tm_year + 1900;
    int max = mdays[tm->tm_mon] + (tm->tm_mon == 1 && is_leap(year));
    return tm->tm_mday >= 1 && tm->tm_mday <= max;
}

/*
 * RFC 9110 §5.6.7: a two-digit year that would be more than 50 years in the future is the most
 * recent past year with those digits; so the year is the one in (now - 50, now + 50].
 */
static long long full_year(int yy, time_t now)
{
    struct tm tm;
    /* 64-bit: a clock near the end of int's years must not overflow (the caller range-checks). */
    long long cur = gmtime_r(&now, &tm) ? (long long)tm.tm_year + 1900 : 1970;
    long long year = cur - cur % 100 + yy;
    if (year > cur + 50)
        year -= 100;
    else if (year <= cur - 50)
        year += 100;
    return year;
}

int http_date_parse_at(const char *s, size_t len, time_t now, time_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    s = trim_ows(s, &len);

    if (len == 29 && s[3] == ',') {
        /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
        if (!is_wday_short(s) || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
            s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0 || !parse_time_of_day(s + 17, &tm))
            return -EINVAL;
        tm.tm_mday = get_digits(s + 5, 2);
        tm.tm_mon = parse_month(s + 8);
        int year = get_digits(s + 12, 4);
        if (year < 0)
            return -EINVAL;
        tm.tm_year = year - 1900;
    } else if (len == 24 && s[3] == ' ') {
        /* asctime: "Sun Nov  6 08:49:37 1994", the day as two digits or SP and one digit */
        if (!is_wday_short(s) || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' ||
            !parse_time_of_day(s + 11, &tm))
            return -EINVAL;
        tm.tm_mon = parse_month(s + 4);
        tm.tm_mday = s[8] == ' ' ? get_digits(s + 9, 1) : get_digits(s + 8, 2);
        int year = get_digits(s + 20, 4);
        if (year < 0)
            return -EINVAL;
        tm.tm_year = year - 1900;
    } else {
        /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
        const char *comma = memchr(s, ',', len);
        if (!comma)
            return -EINVAL;
        size_t name = (size_t)(comma - s);
        if (len != name + 24 || !is_wday_long(s, name))
            return -EINVAL;
        const char *p = comma + 1;
        if (p[0] != ' ' || p[3] != '-' || p[7] != '-' || p[10] != ' ' || p[19] != ' ' ||
            memcmp(p + 20, "GMT", 3) != 0 || !parse_time_of_day(p + 11, &tm))
            return -EINVAL;
        tm.tm_mday = get_digits(p + 1, 2);
        tm.tm_mon = parse_month(p + 4);
        int yy = get_digits(p + 8, 2);
        if (yy < 0)
            return -EINVAL;
        long long year = full_year(yy, now);
        if (year < 0 || year > 9999)
            return -EINVAL;
        tm.tm_year = (int)year - 1900;
    }
    if (tm.tm_mon < 0 || !valid_mday(&tm))
        return -EINVAL;

    /* timegm() returns -1 both for an error and for 1969-12-31 23:59:59; errno tells them apart. */
    int saved = errno;
    errno = 0;
    time_t t = timegm(&tm);
    bool failed = t == (time_t)-1 && errno != 0;
    errno = saved;
    if (failed)
        return -EINVAL;
    *out = t;
    return 0;
}

int http_date_parse(const char *s, size_t len, time_t *out)
{
    return http_date_parse_at(s, len, time(NULL), out);
}

/* Appends v in lower-case hex without leading zeros at p; returns the digits written. */
static size_t put_hex(char *p, uint64_t v)
{
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 0xf];
        v >>= 4;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

size_t http_etag_format(char out[HTTP_ETAG_MAX], off_t size, struct timespec mtime)
{
    size_t n = 0;
    out[n++] = '"';
    n += put_hex(out + n, (uint64_t)mtime.tv_sec);
    if (mtime.tv_nsec != 0) {
        out[n++] = '.';
        n += put_hex(out + n, (uint64_t)mtime.tv_nsec);
    }
    out[n++] = '-';
    n += put_hex(out + n, (uint64_t)size);
    out[n++] = '"';
    out[n] = '\0';
    return n;
}

/* An entity-tag found in a field value: its opaque-tag, quotes included, and its weakness. */
struct etag {
    const char *opaque;
    size_t len;
    bool weak;
};

/* etagc (RFC 9110 §8.8.3): any visible byte but DQUOTE, and obs-text. */
static bool is_etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

/* Parses the entity-tag at s[*i, len), advancing *i past it; false if there is none. */
static bool parse_etag(const char *s, size_t len, size_t *i, struct etag *tag)
{
    size_t p = *i;
    tag->weak = len - p >= 2 && s[p] == 'W' && s[p + 1] == '/';
    if (tag->weak)
        p += 2;
    if (p == len || s[p] != '"')
        return false;
    size_t start = p++;
    while (p < len && is_etagc((unsigned char)s[p]))
        p++;
    if (p == len || s[p] != '"')
        return false;
    p++;
    tag->opaque = s + start;
    tag->len = p - start;
    *i = p;
    return true;
}

/* Parses a whole value (the server's own ETag, or If-Range) as exactly one entity-tag. */
static bool parse_one_etag(const char *s, size_t len, struct etag *tag)
{
    size_t i = 0;
    s = trim_ows(s, &len);
    return parse_etag(s, len, &i, tag) && i == len;
}

static bool same_opaque(const struct etag *a, const struct etag *b)
{
    return a->len == b->len && memcmp(a->opaque, b->opaque, a->len) == 0;
}

/*
 * Whether the list in list[0, len) holds an entity-tag that matches own: by opaque-tag alone for
 * the weak comparison, and only between two strong tags for the strong one.
 */
static bool etag_list_match(const char *list, size_t len, const char *etag, size_t etag_len,
                            bool strong)
{
    list = trim_ows(list, &len);
    if (len == 1 && list[0] == '*')
        return true;
    struct etag own;
    if (!parse_one_etag(etag, etag_len, &own) || (strong && own.weak))
        return false;

    size_t i = 0;
    while (i < len) {
        if (is_ows(list[i]) || list[i] == ',') {
            i++;
            continue;
        }
        struct etag tag;
        size_t p = i;
        if (parse_etag(list, len, &p, &tag)) {
            size_t q = p;
            while (q < len && is_ows(list[q]))
                q++;
            if (q == len || list[q] == ',') {
                if (same_opaque(&tag, &own) && !(strong && tag.weak))
                    return true;
                i = q;
                continue;
            }
        }
        /* A malformed element: skip to the next comma and go on with the rest of the list. */
        while (i < len && list[i] != ',')
            i++;
    }
    return false;
}

bool http_etag_match_weak(const char *list, size_t len, const char *etag, size_t etag_len)
{
    return etag_list_match(list, len, etag, etag_len, false);
}

bool http_etag_match_strong(const char *list, size_t len, const char *etag, size_t etag_len)
{
    return etag_list_match(list, len, etag, etag_len, true);
}

bool http_precondition_failed(const char *im, size_t im_len, const char *ius, size_t ius_len,
                              const char *etag, size_t etag_len, time_t mtime)
{
    if (im)
        return !http_etag_match_strong(im, im_len, etag, etag_len);
    time_t since;
    if (ius && http_date_parse(ius, ius_len, &since) == 0)
        return mtime > since;
    return false;
}

bool http_not_modified(const char *inm, size_t inm_len, const char *ims, size_t ims_len,
                       const char *etag, size_t etag_len, time_t mtime)
{
    if (inm)
        return http_etag_match_weak(inm, inm_len, etag, etag_len);
    time_t since;
    if (ims && http_date_parse(ims, ims_len, &since) == 0)
        return mtime <= since;
    return false;
}

/*
 * Parses the decimal digits at s[*i, len), saturating at OFF_T_MAX; advances *i past them.
 * False if there are none.
 */
static bool parse_pos(const char *s, size_t len, size_t *i, off_t *out)
{
    size_t p = *i;
    off_t v = 0;
    while (p < len && is_digit(s[p])) {
        off_t d = s[p] - '0';
        v = v > (OFF_T_MAX - d) / 10 ? OFF_T_MAX : v * 10 + d;
        p++;
    }
    if (p == *i)
        return false;
    *i = p;
    *out = v;
    return true;
}

static size_t skip_ows(const char *s, size_t len, size_t i)
{
    while (i < len && is_ows(s[i]))
        i++;
    return i;
}

enum http_range http_range_parse(const char *s, size_t len, off_t size, off_t *first, off_t *last)
{
    if (!s || size < 0)
        return HTTP_RANGE_NONE;
    s = trim_ows(s, &len);
    if (len < 6 || s[5] != '=')
        return HTTP_RANGE_NONE;
    /* The unit is a token, compared without regard to case. */
    for (size_t k = 0; k < 5; k++) {
        if ((s[k] | 0x20) != "bytes"[k])
            return HTTP_RANGE_NONE;
    }

    size_t elements = 0, satisfiable = 0;
    bool empty_whole = false; /* a suffix range of an empty representation */
    off_t f = 0, l = 0;
    size_t i = 6;
    for (;;) {
        i = skip_ows(s, len, i);
        if (i == len)
            break;
        if (s[i] == ',') {
            i++;
            continue;
        }
        elements++;
        if (s[i] == '-') {
            off_t n;
            i = skip_ows(s, len, i + 1);
            if (!parse_pos(s, len, &i, &n))
                return HTTP_RANGE_NONE;
            if (n > 0 && size == 0) {
                empty_whole = true;
            } else if (n > 0) {
                f = n >= size ? 0 : size - n;
                l = size - 1;
                satisfiable++;
            }
        } else {
            off_t a, b = OFF_T_MAX;
            if (!parse_pos(s, len, &i, &a))
                return HTTP_RANGE_NONE;
            i = skip_ows(s, len, i);
            if (i == len || s[i] != '-')
                return HTTP_RANGE_NONE;
            i = skip_ows(s, len, i + 1);
            if (i < len && is_digit(s[i])) {
                (void)parse_pos(s, len, &i, &b);
                if (b < a)
                    return HTTP_RANGE_NONE;
            }
            if (a < size) {
                f = a;
                l = b < size - 1 ? b : size - 1;
                satisfiable++;
            }
        }
        i = skip_ows(s, len, i);
        if (i < len && s[i] != ',')
            return HTTP_RANGE_NONE;
    }

    if (elements == 0)
        return HTTP_RANGE_NONE;
    if (elements > 1)
        return satisfiable > 0 || empty_whole ? HTTP_RANGE_MULTI : HTTP_RANGE_UNSATISFIABLE;
    if (empty_whole)
        return HTTP_RANGE_NONE;
    if (satisfiable == 0)
        return HTTP_RANGE_UNSATISFIABLE;
    *first = f;
    *last = l;
    return HTTP_RANGE_OK;
}

bool http_if_range_ok(const char *s, size_t len, const char *etag, size_t etag_len, time_t mtime)
{
    if (!s)
        return true;
    s = trim_ows(s, &len);
    /* "W/" or a quote starts an entity-tag; a date starts with a day name (maybe "Wed"). */
    if ((len > 0 && s[0] == '"') || (len > 1 && s[0] == 'W' && s[1] == '/')) {
        struct etag tag, own;
        return parse_one_etag(s, len, &tag) && parse_one_etag(etag, etag_len, &own) && !tag.weak &&
               !own.weak && same_opaque(&tag, &own);
    }
    time_t date;
    return http_date_parse(s, len, &date) == 0 && date == mtime;
}
