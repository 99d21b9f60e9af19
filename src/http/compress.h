/*
 * One-shot compression of a buffer into a content coding (RFC 9110 §8.4.1): gzip (RFC 1952, by
 * zlib), br (RFC 7932, by libbrotlienc) and zstd (RFC 8878, by libzstd), for the variants of a
 * static file made once per file version on a worker thread. No global state: every call has its
 * own encoder, so any thread may call at any time.
 *
 * The output is what a browser decodes: a brotli window of at most 16 MiB (lgwin 24, no large
 * window), and a zstd window of at most 8 MiB (RFC 9659: browsers refuse larger ones for the
 * "zstd" coding, which zstd's levels 20-22 would otherwise use on big inputs). The gzip header
 * has no name and a zero mtime, so the same input always gives the same bytes.
 *
 * Levels: COMPRESS_LEVEL_DEFAULT (-1) picks the coding's default below, for every coding. 0 also
 * picks the default for gzip and zstd (zstd's own convention; gzip's range starts at 1), but is a
 * real quality for brotli, whose range starts at 0. Anything else outside a range is -EINVAL.
 * The defaults favour ratio, because the work is done once and served many times. Measured with
 * bench/bench_compress.c over a generated 100 KiB page, the bundled site's text files and
 * jQuery (475 KiB in all; size in % of the input, CPU ms per 100 KiB, one core of a shared
 * 2-core machine): gzip 6: 30.0 %, 3.8 ms; gzip 9: 29.8 %, 6.4 ms; br 6: 28.4 %, 2.9 ms;
 * br 9: 27.8 %, 14 ms; br 10: 26.0 %, 53 ms; br 11: 25.5 %, 128 ms; zstd 3: 31.3 %, 0.4 ms;
 * zstd 19: 26.9 %, 28 ms; zstd 22: 26.9 %, 29 ms. Brotli 11 thus costs about 1.3 s per MiB: fine
 * once per version of a page or a script, worth a lower level (10, or 9) for multi-MiB files.
 */
#ifndef TINYWEB_HTTP_COMPRESS_H
#define TINYWEB_HTTP_COMPRESS_H

#include "http/http_encoding.h"

#include <stddef.h>

/* Picks the coding's default level. */
#define COMPRESS_LEVEL_DEFAULT (-1)

/* gzip: zlib's levels. */
#define COMPRESS_GZIP_MIN     1
#define COMPRESS_GZIP_MAX     9
#define COMPRESS_GZIP_DEFAULT 9

/* br: brotli's qualities. */
#define COMPRESS_BR_MIN     0
#define COMPRESS_BR_MAX     11
#define COMPRESS_BR_DEFAULT 11

/* zstd: the regular levels and the "ultra" ones (20-22, with the window capped at 8 MiB). */
#define COMPRESS_ZSTD_MIN     1
#define COMPRESS_ZSTD_MAX     22
#define COMPRESS_ZSTD_DEFAULT 19

/*
 * Compresses in[0, len) with coding c at level into a malloc'd buffer that the caller frees:
 * 0 with *out and *out_len set (*out is never NULL, even for an empty result), or -EINVAL (c is
 * the identity or unknown, or level is outside c's range), -ENOMEM (memory, or len too large for
 * the coding), -EIO (the library failed otherwise). in may be NULL when len is 0. Thread-safe;
 * O(len), with a time per byte that grows steeply with the level (see the top of this file).
 */
int compress_buffer(enum http_coding c, int level, const void *in, size_t len, char **out,
                    size_t *out_len);

/* The level compress_buffer() uses for (c, level): level itself, or the default it stands for;
 * -EINVAL as compress_buffer() would say it. */
int compress_level(enum http_coding c, int level);

#endif
