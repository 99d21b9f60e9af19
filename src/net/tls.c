/*
 * TLS with OpenSSL 3. See tls.h.
 */
#include "tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

struct tls_ctx {
    SSL_CTX *ssl;
};

/* ---- Session-ticket keys: the process's, shared by every context and loop ---- */

struct ticket_key {
    unsigned char name[16];
    unsigned char aes[32];  /* AES-256-CBC */
    unsigned char hmac[32]; /* HMAC-SHA256 */
    uint64_t born_ms;       /* CLOCK_MONOTONIC */
    bool set;
};

/* The current key (new tickets) and the previous one (still accepted for one period, its
 * tickets renewed). Rotated lazily, when a ticket is made or read after the period is over. */
static struct {
    pthread_mutex_t lock;
    struct ticket_key cur, prev;
    uint64_t period_ms; /* the latest context's --tls-ticket-rotate */
} keys = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Under keys.lock: a new current key once the period is over (the old one becomes the
 * previous, unless it is two periods old). -1 when the random generator fails. */
static int rotate_locked(uint64_t now)
{
    if (keys.cur.set && now - keys.cur.born_ms < keys.period_ms)
        return 0;
    struct ticket_key k = {.born_ms = now, .set = true};
    if (RAND_bytes(k.name, sizeof(k.name)) != 1 || RAND_priv_bytes(k.aes, sizeof(k.aes)) != 1 ||
        RAND_priv_bytes(k.hmac, sizeof(k.hmac)) != 1) {
        OPENSSL_cleanse(&k, sizeof(k));
        return -1;
    }
    if (keys.cur.set && now - keys.cur.born_ms < 2 * keys.period_ms)
        keys.prev = keys.cur;
    else
        OPENSSL_cleanse(&keys.prev, sizeof(keys.prev));
    keys.cur = k;
    OPENSSL_cleanse(&k, sizeof(k));
    return 0;
}

/*
 * OpenSSL's ticket callback (TLS 1.2 tickets and TLS 1.3 stateless tickets alike). enc: a new
 * ticket with the current key (1). Else the key the ticket names: 2 (accepted, and OpenSSL
 * issues a fresh ticket, also under the current key: browsers use a TLS 1.3 ticket once, RFC
 * 8446 C.4, so a resumption without a new ticket would make their next connection a full
 * handshake), or 0 (unknown or expired: a full handshake).
 */
static int ticket_cb(SSL *s, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *cipher,
                     EVP_MAC_CTX *mac, int enc)
{
    (void)s;
    struct ticket_key k;
    pthread_mutex_lock(&keys.lock);
    if (rotate_locked(now_ms()) != 0) {
        pthread_mutex_unlock(&keys.lock);
        return enc ? -1 : 0;
    }
    if (enc) {
        k = keys.cur;
    } else if (memcmp(name, keys.cur.name, sizeof(keys.cur.name)) == 0) {
        k = keys.cur;
    } else if (keys.prev.set && memcmp(name, keys.prev.name, sizeof(keys.prev.name)) == 0) {
        k = keys.prev;
    } else {
        pthread_mutex_unlock(&keys.lock);
        return 0;
    }
    pthread_mutex_unlock(&keys.lock);

    int ok;
    if (enc) {
        memcpy(name, k.name, sizeof(k.name));
        ok = RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) == 1 &&
             EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), NULL, k.aes, iv) == 1;
    } else {
        ok = EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), NULL, k.aes, iv) == 1;
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac, sizeof(k.hmac)),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    ok = ok && EVP_MAC_CTX_set_params(mac, params) == 1;
    OPENSSL_cleanse(&k, sizeof(k));
    if (!ok)
        return enc ? -1 : 0;
    return enc ? 1 : 2;
}

/* ---- Contexts ---- */

/* ALPN: HTTP/1.1 (or 1.0) when the client offers it; a client that offers only protocols this
 * server does not speak (h2 alone) gets no_application_protocol, as from nginx. */
static int alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)s;
    (void)arg;
    static const unsigned char ours[] = "\x08http/1.1\x08http/1.0";
    unsigned char *chosen;
    if (SSL_select_next_proto(&chosen, outlen, ours, sizeof(ours) - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

/* OpenSSL's reason for the latest failure, as one line into err after what. */
static void fail(char *err, size_t errlen, const char *what, const char *path)
{
    unsigned long e = ERR_peek_last_error();
    char reason[256];
    if (e)
        ERR_error_string_n(e, reason, sizeof(reason));
    else
        snprintf(reason, sizeof(reason), "%s", strerror(errno ? errno : EINVAL));
    snprintf(err, errlen, "%s%s%s: %s", what, path ? " " : "", path ? path : "", reason);
    ERR_clear_error();
}

struct tls_ctx *tls_ctx_new(const struct tls_config *cfg, char *err, size_t errlen)
{
    ERR_clear_error();
    if (!cfg->cert || !cfg->key) {
        snprintf(err, errlen, "a TLS listener needs --tls-cert and --tls-key");
        return NULL;
    }
    if (!cfg->tls12 && !cfg->tls13) {
        snprintf(err, errlen, "--tls-protocols: no protocol left");
        return NULL;
    }
    struct tls_ctx *t = calloc(1, sizeof(*t));
    SSL_CTX *ctx = t ? SSL_CTX_new(TLS_server_method()) : NULL;
    if (!ctx) {
        free(t);
        fail(err, errlen, "TLS: cannot create a context", NULL);
        return NULL;
    }
    t->ssl = ctx;
    /* Nothing older than TLS 1.2; no renegotiation, no compression; the server's cipher order
     * for TLS 1.2; a peer's EOF without close_notify is an end, not an error (requests carry
     * their own framing). */
    SSL_CTX_set_min_proto_version(ctx, cfg->tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx, cfg->tls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (cfg->ticket_rotate_ms == 0)
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    /* Idle connections give their buffers back. A write takes all it is given, records after
     * records, or nothing: after WANT_WRITE conn.c offers the same bytes again, perhaps from
     * another address (a piece of a file read again into the loop's scratch). */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    const char *ciphers =
        strcmp(cfg->ciphers, "intermediate") == 0 ? TLS_DEFAULT_CIPHERS : cfg->ciphers;
    if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
        fail(err, errlen, "--tls-ciphers: no usable cipher in", cfg->ciphers);
        goto fail;
    }
    if (SSL_CTX_set_ciphersuites(ctx, cfg->ciphersuites) != 1) {
        fail(err, errlen, "--tls-ciphersuites: no usable suite in", cfg->ciphersuites);
        goto fail;
    }
    SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384");
    SSL_CTX_set_dh_auto(ctx, 1);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1) {
        fail(err, errlen, "--tls-cert: cannot use", cfg->cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1) {
        fail(err, errlen, "--tls-key: cannot use", cfg->key);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        fail(err, errlen, "--tls-key: does not match the certificate of --tls-cert", NULL);
        goto fail;
    }
    SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
    static const unsigned char sid_ctx[] = "tinyweb";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    if (cfg->session_cache) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(ctx, (long)cfg->session_cache);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    if (cfg->ticket_rotate_ms) {
        pthread_mutex_lock(&keys.lock);
        keys.period_ms = cfg->ticket_rotate_ms;
        int rc = rotate_locked(now_ms());
        pthread_mutex_unlock(&keys.lock);
        if (rc != 0) {
            fail(err, errlen, "TLS: no random bytes for the ticket keys", NULL);
            goto fail;
        }
        SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
    }
    /* A session lives as long as its ticket's key is current at least (the TLS 1.3 ticket's
     * lifetime hint). */
    uint64_t life_s = (cfg->ticket_rotate_ms ? cfg->ticket_rotate_ms : 300000) / 1000;
    SSL_CTX_set_timeout(ctx, (long)(life_s ? life_s : 1));
    return t;
fail:
    SSL_CTX_free(ctx);
    free(t);
    return NULL;
}

void tls_ctx_free(struct tls_ctx *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ssl);
    free(t);
}

/* ---- Connections ---- */

SSL *tls_conn_new(struct tls_ctx *t, int fd)
{
    SSL *ssl = SSL_new(t->ssl);
    if (!ssl)
        return NULL;
    if (SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_accept_state(ssl);
    return ssl;
}

void tls_conn_shutdown(SSL *ssl)
{
    if (SSL_is_init_finished(ssl) && !SSL_get_quiet_shutdown(ssl)) {
        ERR_clear_error();
        SSL_shutdown(ssl);
        ERR_clear_error();
    }
    SSL_set_quiet_shutdown(ssl, 1);
}

void tls_conn_free(SSL *ssl, bool clean)
{
    if (!ssl)
        return;
    if (clean)
        tls_conn_shutdown(ssl);
    SSL_free(ssl);
}

/* After a failed call: -EAGAIN, or a fatal error (no close_notify is sent after one). */
static ssize_t failure(SSL *ssl, int rc, bool *want_write)
{
    int saved = errno;
    int e = SSL_get_error(ssl, rc);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return -EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        if (want_write)
            *want_write = true;
        return -EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    default:
        break;
    }
    SSL_set_quiet_shutdown(ssl, 1);
    unsigned long err = ERR_peek_error();
    ERR_clear_error();
    if (e == SSL_ERROR_SYSCALL)
        return saved ? -saved : -ECONNRESET;
    if (ERR_GET_LIB(err) == ERR_LIB_SSL && ERR_GET_REASON(err) == SSL_R_HTTP_REQUEST)
        return TLS_ERR_PLAIN_HTTP;
    return -EPROTO;
}

ssize_t tls_recv(SSL *ssl, void *buf, size_t len, bool *want_write)
{
    *want_write = false;
    ERR_clear_error();
    size_t n;
    int rc = SSL_read_ex(ssl, buf, len, &n);
    if (rc == 1)
        return (ssize_t)n;
    return failure(ssl, rc, want_write);
}

ssize_t tls_send(SSL *ssl, const void *buf, size_t len)
{
    ERR_clear_error();
    size_t n;
    int rc = SSL_write_ex(ssl, buf, len, &n);
    if (rc == 1)
        return (ssize_t)n;
    bool want_write = false;
    ssize_t r = failure(ssl, rc, &want_write);
    /* A write that must read first (renegotiation, which is off) would wait on the wrong
     * event: it ends the connection instead. A close_notify met here ends it too. */
    return r == -EAGAIN && !want_write ? -EPROTO : r == 0 ? -EPIPE : r;
}

bool tls_peer_closed(const SSL *ssl)
{
    return (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN) != 0;
}

bool tls_handshake_done(const SSL *ssl)
{
    return SSL_is_init_finished(ssl) != 0;
}

bool tls_resumed(const SSL *ssl)
{
    return SSL_session_reused(ssl) != 0;
}

bool tls_pending(const SSL *ssl)
{
    return SSL_has_pending(ssl) != 0;
}

const char *tls_version(const SSL *ssl)
{
    return SSL_get_version(ssl);
}
