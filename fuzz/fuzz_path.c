/*
 * libFuzzer harness for request path decoding and encoding (src/http/http_path.h).
 *
 * The input is a request path as it would come out of the parser, percent-escapes and all. It is
 * decoded with a buffer that always suffices and with one of a size drawn from a hash of the
 * input, and both answers are checked against a plain reference normaliser written here (a stack
 * of segments, no in-place tricks): the same result, the same error, and, with the smaller
 * buffer, either the same answer or -ENAMETOOLONG. A decoded path must stay beneath the root:
 * no leading '/', no "//", no "." or ".." segment, no NUL, and it fits the buffer. Encoding it
 * and decoding the result must give it back; encoding any bytes must give only URI-safe bytes
 * that percent-decode to those bytes.
 *
 * Every broken property calls abort() after a line on stderr saying which, so that libFuzzer
 * saves the input as a crash.
 */
#include "http/http_path.h"
#include "fuzz.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * The reference: decodes byte by byte in input order (so the first problem decides, as the
 * header requires), collects each segment, and keeps a list of the segments' start offsets as a
 * stack. Returns the length written to out (which has len + 1 bytes) or a negative errno.
 */
static ssize_t reference_decode(const char *in, size_t len, char *out, bool *dir)
{
    if (len == 0 || in[0] != '/')
        return -EINVAL;
    size_t *starts = malloc(sizeof(size_t) * (len + 1));
    char *seg = malloc(len);
    size_t depth = 0, n = 0, seglen = 0;
    ssize_t ret = 0;
    for (size_t i = 1;;) {
        bool end = i == len;
        unsigned char c = '/';
        if (!end) {
            c = (unsigned char)in[i++];
            if (c == '%') {
                if (len - i < 2 || hex_digit((unsigned char)in[i]) < 0 ||
                    hex_digit((unsigned char)in[i + 1]) < 0) {
                    ret = -EINVAL;
                    break;
                }
                c = (unsigned char)(hex_digit((unsigned char)in[i]) * 16 +
                                    hex_digit((unsigned char)in[i + 1]));
                i += 2;
            }
            if (c == '\0') {
                ret = -EPERM;
                break;
            }
            if (c != '/') {
                seg[seglen++] = (char)c;
                continue;
            }
        }
        bool dot = seglen == 1 && seg[0] == '.';
        bool dotdot = seglen == 2 && seg[0] == '.' && seg[1] == '.';
        if (dotdot) {
            if (depth == 0) {
                ret = -EPERM;
                break;
            }
            n = starts[--depth];
        } else if (seglen > 0 && !dot) {
            starts[depth++] = n;
            if (n > 0)
                out[n++] = '/';
            memcpy(out + n, seg, seglen);
            n += seglen;
        }
        if (end) {
            *dir = seglen == 0 || dot || dotdot;
            ret = (ssize_t)n;
            break;
        }
        seglen = 0;
    }
    free(seg);
    free(starts);
    if (ret >= 0)
        out[n] = '\0';
    return ret;
}

/* The properties of any successful decode, whatever the reference says. */
static void check_beneath_root(const char *out, ssize_t n, size_t cap)
{
    CHECK((size_t)n < cap, "decoded path does not fit the buffer with its NUL");
    CHECK(out[n] == '\0', "decoded path not NUL-terminated");
    CHECK(memchr(out, '\0', (size_t)n) == NULL, "NUL byte inside a decoded path");
    if (n == 0)
        return;
    CHECK(out[0] != '/', "decoded path has a leading slash");
    CHECK(out[n - 1] != '/', "decoded path has a trailing slash");
    CHECK(strstr(out, "//") == NULL, "decoded path has an empty segment");
    const char *s = out;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t l = slash ? (size_t)(slash - s) : strlen(s);
        CHECK(!(l == 2 && s[0] == '.' && s[1] == '.'), "decoded path has a .. segment");
        CHECK(!(l == 1 && s[0] == '.'), "decoded path has a . segment");
        if (!slash)
            break;
        s = slash + 1;
    }
}

/* RFC 3986 pchar and '/', without '%': what the encoder may leave as it is. */
static bool is_safe(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("-._~!$&'()*+,;=:@/", c) != NULL;
}

/*
 * Encodes in[0, len) and checks the result: only safe bytes and well-formed upper-case escapes,
 * which percent-decode to exactly the input. Returns the NUL-terminated encoding (malloc'ed).
 */
static char *check_encode(const char *in, size_t len, uint64_t h)
{
    size_t need = 3 * len + 1;
    char *enc = malloc(need);
    size_t n = http_path_encode(in, len, enc, need);
    CHECK(n < need && n <= 3 * len, "encoded length beyond 3 * len");
    CHECK(enc[n] == '\0' && strlen(enc) == n, "encoding not NUL-terminated at its length");
    size_t k = 0;
    for (size_t i = 0; i < n; k++) {
        unsigned char c = (unsigned char)enc[i];
        CHECK(k < len, "encoding decodes to more bytes than its input");
        if (c == '%') {
            CHECK(i + 3 <= n, "truncated escape");
            int hi = hex_digit((unsigned char)enc[i + 1]),
                lo = hex_digit((unsigned char)enc[i + 2]);
            CHECK(hi >= 0 && lo >= 0, "malformed escape in the encoding");
            CHECK(!(enc[i + 1] >= 'a' && enc[i + 1] <= 'f') &&
                      !(enc[i + 2] >= 'a' && enc[i + 2] <= 'f'),
                  "lower-case escape in the encoding");
            CHECK((unsigned char)(hi * 16 + lo) == (unsigned char)in[k],
                  "escape does not decode to the input byte");
            CHECK(!is_safe((unsigned char)in[k]), "safe byte escaped needlessly");
            i += 3;
        } else {
            CHECK(is_safe(c), "unsafe byte left unescaped");
            CHECK(c == (unsigned char)in[k], "encoding changed a byte");
            i++;
        }
    }
    CHECK(k == len, "encoding decodes to fewer bytes than its input");

    /* Like snprintf: a short buffer gets the same length back and holds "" (or nothing). */
    size_t cap = (size_t)(h % (need + 1));
    char *small = malloc(cap ? cap : 1);
    size_t m = http_path_encode(in, len, small, cap);
    CHECK(m == n, "encoded length depends on the buffer");
    if (cap > 0) {
        if (n < cap)
            CHECK(memcmp(small, enc, n + 1) == 0, "encoding differs in a buffer that fits it");
        else
            CHECK(small[0] == '\0', "a buffer too small does not hold an empty string");
    }
    free(small);
    return enc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    uint64_t h = fuzz_hash(data, size);

    char *want = malloc(size + 1);
    bool want_dir = false;
    ssize_t ref = reference_decode(in, size, want, &want_dir);

    /* A buffer of len + 1 always suffices, so the answer is the reference's. */
    size_t cap = size + 1;
    char *out = malloc(cap);
    bool dir = false;
    ssize_t got = http_path_decode(in, size, out, cap, &dir);
    CHECK(got == ref, "decode answer differs from the reference");
    if (got >= 0) {
        check_beneath_root(out, got, cap);
        CHECK(memcmp(out, want, (size_t)got) == 0, "decoded path differs from the reference");
        CHECK(dir == want_dir, "dir differs from the reference");
    }
    free(out);

    /* A buffer of any size: the same answer, or -ENAMETOOLONG when the result cannot fit. */
    size_t small = (size_t)((h >> 16) % (size + 2));
    out = malloc(small ? small : 1);
    got = http_path_decode(in, size, out, small, &dir);
    if (ref >= 0 && (size_t)ref >= small)
        CHECK(got == -ENAMETOOLONG, "result longer than the buffer not refused");
    CHECK(got == ref || got == -ENAMETOOLONG, "decode answer depends on the buffer");
    if (got >= 0) {
        check_beneath_root(out, got, small);
        CHECK(memcmp(out, want, (size_t)got) == 0, "decoded path depends on the buffer");
        CHECK(dir == want_dir, "dir depends on the buffer");
    }
    free(out);

    /* Any bytes encode to safe bytes. */
    free(check_encode(in, size, h));

    /* A decoded path survives encoding: "/" + encode(path) decodes back to it. */
    if (ref >= 0) {
        char *enc = check_encode(want, (size_t)ref, h >> 32);
        size_t elen = strlen(enc);
        char *again = malloc(elen + 2);
        again[0] = '/';
        memcpy(again + 1, enc, elen);
        char *back = malloc(elen + 2);
        bool back_dir;
        ssize_t r = http_path_decode(again, elen + 1, back, elen + 2, &back_dir);
        CHECK(r == ref && memcmp(back, want, (size_t)ref) == 0,
              "encode then decode does not give the path back");
        CHECK(back_dir == (ref == 0), "encode then decode changes dir");
        free(back);
        free(again);
        free(enc);
    }
    free(want);
    return 0;
}
