/*
 * Passwords and session tokens, with libsodium.
 *
 * Passwords are hashed with Argon2id (crypto_pwhash_str_alg, ALG_ARGON2ID13): the stored string
 * ("$argon2id$v=19$m=...,t=...,p=1$salt$hash") carries its salt and its cost, so a hash made with
 * older parameters still verifies after they change. A login for an unknown user verifies the
 * password against a dummy hash of the same cost (auth_verify(NULL, ...)), so the answer's time
 * does not tell whether the name exists.
 *
 * A session token is 32 random bytes as base64url (43 characters); the database stores only its
 * BLAKE2b-256 hash, so a copy of the database does not hold usable tokens, and looking a token
 * up by its hash leaks nothing useful through timing.
 *
 * The caller wipes its passwords (sodium_memzero). Nothing here logs or keeps a password.
 */
#ifndef TINYWEB_APP_AUTH_H
#define TINYWEB_APP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Argon2id's cost: libsodium's opslimit (passes) and memlimit (bytes). */
struct auth_params {
    unsigned long long ops;
    size_t mem;
};

/* The sizes of a password hash (with its NUL, crypto_pwhash_STRBYTES), of a token (43
 * characters and a NUL) and of a token's hash. */
#define AUTH_HASH_MAX   128
#define AUTH_TOKEN_SIZE 44
#define AUTH_TOKEN_LEN  43

/* Checks p against libsodium's bounds (ops >= crypto_pwhash_OPSLIMIT_MIN = 1, mem >=
 * crypto_pwhash_MEMLIMIT_MIN = 8 KiB, and the maxima). 0, or -EINVAL with one line in err. */
int auth_params_check(const struct auth_params *p, char *err, size_t errlen);

/* Initialises libsodium and makes the dummy hash with p (costs one hash). Call at start, before
 * any thread uses this module, and again only while none does. 0, -EINVAL (p out of bounds),
 * -ENOMEM, or -EIO (libsodium cannot start: no entropy source). */
int auth_init(const struct auth_params *p);

/* Hashes pw[0, len) with p into out (NUL-terminated, < AUTH_HASH_MAX bytes). Costs p: tens of
 * milliseconds and p->mem bytes at sensible settings. Thread-safe. 0, -EINVAL (p out of
 * bounds), or -ENOMEM. */
int auth_hash(const struct auth_params *p, const char *pw, size_t len, char out[AUTH_HASH_MAX]);

/* Whether pw[0, len) matches stored (an auth_hash result): 0 match, -1 no match (or a malformed
 * stored hash). stored NULL: verifies against the dummy hash, at the cost of auth_init's p, and
 * returns -1. Costs the stored hash's parameters. Thread-safe after auth_init. */
int auth_verify(const char *stored, const char *pw, size_t len);

/* Whether stored was made with other costs than p (or is not an Argon2id hash): a login then
 * re-hashes the password, so that every account converges on the current cost. */
bool auth_needs_rehash(const struct auth_params *p, const char *stored);

/* A fresh session token: 32 bytes from libsodium's CSPRNG as base64url without padding (43
 * characters [A-Za-z0-9_-]) and a NUL. Thread-safe. */
void auth_token_new(char out[AUTH_TOKEN_SIZE]);

/* The token's database key: BLAKE2b-256 (crypto_generichash, no key) of token[0, len). Any bytes
 * are accepted (a forged cookie just hashes to a key that is not found). Thread-safe. */
void auth_token_hash(const char *token, size_t len, uint8_t out[32]);

#endif
