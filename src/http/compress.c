/*
 * One-shot compression. Each coding writes into a buffer of the library's worst-case bound, so one
 * call does all the work, then the buffer is shrunk to what was written: a variant may be kept
 * for the life of the file version, and the bound is larger than the input.
 */
#include "http/compress.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>

#include <brotli/encode.h>
#define ZLIB_CONST
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

/* RFC 9659: the largest window a "zstd" coding may use, 8 MiB. */
#define ZSTD_HTTP_WINDOW_LOG 23

/* Bytes looked at to tell text from binary for brotli's mode hint. */
#define TEXT_SNIFF 4096

int compress_level(enum http_coding c, int level)
{
    int min, max, def;
    switch (c) {
    case HTTP_CODING_GZIP:
        min = COMPRESS_GZIP_MIN, max = COMPRESS_GZIP_MAX, def = COMPRESS_GZIP_DEFAULT;
        break;
    case HTTP_CODING_BR:
        min = COMPRESS_BR_MIN, max = COMPRESS_BR_MAX, def = COMPRESS_BR_DEFAULT;
        break;
    case HTTP_CODING_ZSTD:
        min = COMPRESS_ZSTD_MIN, max = COMPRESS_ZSTD_MAX, def = COMPRESS_ZSTD_DEFAULT;
        break;
    default:
        return -EINVAL;
    }
    if (level == COMPRESS_LEVEL_DEFAULT || (level == 0 && min > 0))
        return def;
    return level >= min && level <= max ? level : -EINVAL;
}

/* Gives back the unused tail of a buffer sized for the worst case; keeps it if realloc fails. */
static char *shrink(char *buf, size_t len)
{
    char *p = realloc(buf, len > 0 ? len : 1);
    return p ? p : buf;
}

static int gzip_compress(int level, const void *in, size_t len, char **out, size_t *out_len)
{
    z_stream zs = {0};
    /* windowBits 15 + 16: the gzip wrapper (RFC 1952) around a 32 KiB deflate window. */
    int rc = deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK)
        return rc == Z_MEM_ERROR ? -ENOMEM : -EIO;
    uLong bound = deflateBound(&zs, (uLong)len);
    char *buf = bound >= len ? malloc(bound) : NULL;
    if (!buf) {
        deflateEnd(&zs);
        return -ENOMEM;
    }
    /* zlib counts in uInt: feed and drain in pieces of at most UINT_MAX bytes. */
    const Bytef *ip = in;
    Bytef *op = (Bytef *)buf;
    size_t in_left = len, out_left = bound;
    do {
        if (zs.avail_in == 0 && in_left > 0) {
            zs.next_in = ip;
            zs.avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
            ip += zs.avail_in;
            in_left -= zs.avail_in;
        }
        if (zs.avail_out == 0 && out_left > 0) {
            zs.next_out = op;
            zs.avail_out = out_left > UINT_MAX ? UINT_MAX : (uInt)out_left;
            op += zs.avail_out;
            out_left -= zs.avail_out;
        }
        rc = deflate(&zs, in_left == 0 ? Z_FINISH : Z_NO_FLUSH);
    } while (rc == Z_OK);
    size_t written = (size_t)zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(buf);
        return rc == Z_MEM_ERROR ? -ENOMEM : -EIO;
    }
    *out = shrink(buf, written);
    *out_len = written;
    return 0;
}

/*
 * Text, for brotli's mode hint: no control bytes but HT, LF, FF and CR in the first bytes. The
 * hint is cheap and harmless; at quality 11 it changed no byte of the generated page's output.
 */
static bool looks_like_text(const unsigned char *p, size_t len)
{
    size_t n = len < TEXT_SNIFF ? len : TEXT_SNIFF;
    for (size_t i = 0; i < n; i++) {
        if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\f' && p[i] != '\r') ||
            p[i] == 0x7f)
            return false;
    }
    return true;
}

static int br_compress(int level, const void *in, size_t len, char **out, size_t *out_len)
{
    size_t bound = BrotliEncoderMaxCompressedSize(len);
    if (bound == 0)
        return -ENOMEM;
    /* The smallest window that holds the whole input: less memory for the decoder. */
    int lgwin = BROTLI_MIN_WINDOW_BITS;
    while (lgwin < BROTLI_MAX_WINDOW_BITS && ((size_t)1 << lgwin) - 16 < len)
        lgwin++;
    BrotliEncoderMode mode =
        len > 0 && looks_like_text(in, len) ? BROTLI_MODE_TEXT : BROTLI_MODE_GENERIC;
    char *buf = malloc(bound);
    if (!buf)
        return -ENOMEM;
    size_t written = bound;
    /* It fails only when it cannot allocate: the bound always suffices. */
    if (!BrotliEncoderCompress(level, lgwin, mode, len, in, &written, (uint8_t *)buf)) {
        free(buf);
        return -ENOMEM;
    }
    *out = shrink(buf, written);
    *out_len = written;
    return 0;
}

static int zstd_error(size_t r)
{
    return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? -ENOMEM : -EIO;
}

static int zstd_compress(int level, const void *in, size_t len, char **out, size_t *out_len)
{
    size_t bound = ZSTD_compressBound(len);
    if (ZSTD_isError(bound) || bound == 0)
        return -ENOMEM;
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    if (!cctx)
        return -ENOMEM;
    char *buf = NULL;
    size_t r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
    /* The frame says how long the content is, so a decoder can size its buffer at once. */
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
    /* Only levels 20-22 use windows over 8 MiB; a known small input shrinks it further. */
    if (!ZSTD_isError(r) && level > 19)
        r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, ZSTD_HTTP_WINDOW_LOG);
    if (ZSTD_isError(r)) {
        int err = zstd_error(r);
        ZSTD_freeCCtx(cctx);
        return err;
    }
    buf = malloc(bound);
    if (!buf) {
        ZSTD_freeCCtx(cctx);
        return -ENOMEM;
    }
    r = ZSTD_compress2(cctx, buf, bound, in, len);
    ZSTD_freeCCtx(cctx);
    if (ZSTD_isError(r)) {
        free(buf);
        return zstd_error(r);
    }
    *out = shrink(buf, r);
    *out_len = r;
    return 0;
}

int compress_buffer(enum http_coding c, int level, const void *in, size_t len, char **out,
                    size_t *out_len)
{
    level = compress_level(c, level);
    if (level < 0 || (!in && len > 0))
        return -EINVAL;
    static const unsigned char empty[1];
    if (!in)
        in = empty;
    switch (c) {
    case HTTP_CODING_GZIP:
        return gzip_compress(level, in, len, out, out_len);
    case HTTP_CODING_BR:
        return br_compress(level, in, len, out, out_len);
    case HTTP_CODING_ZSTD:
        return zstd_compress(level, in, len, out, out_len);
    default:
        return -EINVAL;
    }
}
