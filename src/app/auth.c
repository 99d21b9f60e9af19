/*
 * Passwords and session tokens. See auth.h.
 */
#include "auth.h"

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

_Static_assert(AUTH_HASH_MAX == crypto_pwhash_STRBYTES, "AUTH_HASH_MAX is libsodium's size");
_Static_assert(AUTH_TOKEN_SIZE ==
                   sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
               "a token is 32 bytes in base64url without padding");

/* The hash that unknown users' logins are verified against (of a random password nobody
 * knows), set by auth_init; empty before. */
static char dummy[AUTH_HASH_MAX];

static bool ops_ok(const struct auth_params *p)
{
    return p->ops >= crypto_pwhash_OPSLIMIT_MIN && p->ops <= crypto_pwhash_OPSLIMIT_MAX;
}

static bool mem_ok(const struct auth_params *p)
{
    return p->mem >= crypto_pwhash_MEMLIMIT_MIN && p->mem <= crypto_pwhash_MEMLIMIT_MAX;
}

int auth_params_check(const struct auth_params *p, char *err, size_t errlen)
{
    if (!ops_ok(p)) {
        snprintf(err, errlen, "Argon2id passes: %llu is not in %llu..%llu", p->ops,
                 (unsigned long long)crypto_pwhash_OPSLIMIT_MIN,
                 (unsigned long long)crypto_pwhash_OPSLIMIT_MAX);
        return -EINVAL;
    }
    if (!mem_ok(p)) {
        snprintf(err, errlen, "Argon2id memory: %zu bytes is not in %zu..%zu", p->mem,
                 (size_t)crypto_pwhash_MEMLIMIT_MIN, (size_t)crypto_pwhash_MEMLIMIT_MAX);
        return -EINVAL;
    }
    return 0;
}

int auth_init(const struct auth_params *p)
{
    if (!ops_ok(p) || !mem_ok(p))
        return -EINVAL;
    if (sodium_init() < 0)
        return -EIO;
    unsigned char secret[32];
    randombytes_buf(secret, sizeof(secret));
    int rc = auth_hash(p, (const char *)secret, sizeof(secret), dummy);
    sodium_memzero(secret, sizeof(secret));
    return rc;
}

int auth_hash(const struct auth_params *p, const char *pw, size_t len, char out[AUTH_HASH_MAX])
{
    if (!ops_ok(p) || !mem_ok(p))
        return -EINVAL;
    /* libsodium fails only when it cannot allocate mem bytes (or for a password over 4 GiB,
     * which no request body reaches). */
    if (crypto_pwhash_str_alg(out, pw, len, p->ops, p->mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return -ENOMEM;
    return 0;
}

int auth_verify(const char *stored, const char *pw, size_t len)
{
    if (!stored) {
        /* The same work as a wrong password for a real user; the result is thrown away. An
         * uninitialised dummy (empty) fails at once: auth_init is part of the contract. */
        int ignored = crypto_pwhash_str_verify(dummy, pw, len);
        (void)ignored;
        return -1;
    }
    return crypto_pwhash_str_verify(stored, pw, len) == 0 ? 0 : -1;
}

bool auth_needs_rehash(const struct auth_params *p, const char *stored)
{
    return strncmp(stored, crypto_pwhash_argon2id_STRPREFIX,
                   sizeof(crypto_pwhash_argon2id_STRPREFIX) - 1) != 0 ||
           crypto_pwhash_str_needs_rehash(stored, p->ops, p->mem) != 0;
}

void auth_token_new(char out[AUTH_TOKEN_SIZE])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(out, AUTH_TOKEN_SIZE, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
}

void auth_token_hash(const char *token, size_t len, uint8_t out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)token, len, NULL, 0);
}
