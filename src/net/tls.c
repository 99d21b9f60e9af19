/*
 * TLS with OpenSSL 3. See tls.h.
 */
#include "tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "net/buf.h"

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
    EVP_CIPHER *cipher; /* AES-256-CBC, fetched once (an implicit fetch per ticket costs) */
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
        ok = RAND_bytes(iv, EVP_CIPHER_get_iv_length(keys.cipher)) == 1 &&
             EVP_EncryptInit_ex2(cipher, keys.cipher, k.aes, iv, NULL) == 1;
    } else {
        ok = EVP_DecryptInit_ex2(cipher, keys.cipher, k.aes, iv, NULL) == 1;
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
    /* Idle connections give OpenSSL's buffers back (tinyweb's BIO gives its own back too). Its
     * writes never wait: the BIO takes every record. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
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
        if (!keys.cipher)
            keys.cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
        int rc = keys.cipher ? rotate_locked(now_ms()) : -1;
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

/* ---- Connections: SSL over tinyweb's own BIO ---- */

struct tls_conn {
    SSL *ssl;
    int fd;
    struct buf_pool *pool;
    struct buf in;   /* bytes of the peer read from the socket, not yet taken by OpenSSL */
    struct buf out;  /* sealed records not yet taken by the socket */
    int err;         /* the socket's errno when the BIO failed */
    bool sock_empty; /* this tls_recv found the socket empty: the BIO reads no more */
    bool hangup;     /* the peer's FIN waits: a short read is not the end of the bytes */
    bool eof;        /* the socket read 0 */
};

/* Room one socket read asks for in the BIO: a pooled block. */
#define TLS_READ_CHUNK BUF_BLOCK

/* OpenSSL asks for a record header, then the record: both come from t->in, which one recv
 * fills with whatever arrived. Within one tls_recv, once a read came back short the socket is
 * taken as empty (the next bytes raise a new edge); no further syscall is made. */
static int bio_read(BIO *b, char *out, size_t len, size_t *got)
{
    struct tls_conn *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    size_t have = buf_readable(&t->in);
    if (have == 0) {
        if (t->eof)
            return 0;
        if (t->sock_empty) {
            BIO_set_retry_read(b);
            return 0;
        }
        if (buf_reserve(&t->in, TLS_READ_CHUNK, t->pool) != 0) {
            t->err = ENOMEM;
            return 0;
        }
        size_t room = t->in.cap - t->in.len;
        ssize_t n;
        do
            n = recv(t->fd, t->in.data + t->in.len, room, 0);
        while (n < 0 && errno == EINTR);
        if (n <= 0) {
            int err = n == 0 ? 0 : errno;
            buf_release(&t->in, t->pool);
            t->eof = n == 0;
            t->sock_empty = err == EAGAIN;
            if (t->sock_empty)
                BIO_set_retry_read(b);
            else
                t->err = err;
            return 0;
        }
        t->in.len += (uint32_t)n;
        t->sock_empty = (size_t)n < room && !t->hangup;
        have = (size_t)n;
    }
    size_t take = len < have ? len : have;
    memcpy(out, t->in.data + t->in.off, take);
    buf_consume(&t->in, take);
    *got = take;
    return 1;
}

/* Sealed records go behind the unsent ones; the socket takes them in tls_flush(). */
static int bio_write(BIO *b, const char *in, size_t len, size_t *put)
{
    struct tls_conn *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (buf_append(&t->out, in, len, t->pool) != 0) {
        t->err = ENOMEM;
        return 0;
    }
    *put = len;
    return 1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    (void)ptr;
    struct tls_conn *t = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_EOF: /* OpenSSL asks after a failed read: an EOF, not an error */
        return t->eof;
    case BIO_CTRL_PENDING:
        return (long)buf_readable(&t->in);
    case BIO_CTRL_WPENDING:
        return (long)buf_readable(&t->out);
    default:
        return 0;
    }
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static void bio_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tinyweb socket");
    if (m && (BIO_meth_set_read_ex(m, bio_read) != 1 || BIO_meth_set_write_ex(m, bio_write) != 1 ||
              BIO_meth_set_ctrl(m, bio_ctrl) != 1)) {
        BIO_meth_free(m);
        m = NULL;
    }
    bio_method = m;
}

struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd, struct buf_pool *pool)
{
    pthread_once(&bio_once, bio_method_init);
    struct tls_conn *t = bio_method ? calloc(1, sizeof(*t)) : NULL;
    if (!t)
        return NULL;
    t->fd = fd;
    t->pool = pool;
    BIO *bio = NULL;
    if (!(t->ssl = SSL_new(ctx->ssl)) || !(bio = BIO_new(bio_method))) {
        SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return NULL;
    }
    BIO_set_data(bio, t);
    BIO_set_init(bio, 1);
    SSL_set_bio(t->ssl, bio, bio); /* one reference, owned by the SSL */
    SSL_set_accept_state(t->ssl);
    return t;
}

int tls_flush(struct tls_conn *t)
{
    while (buf_readable(&t->out) > 0) {
        ssize_t w = send(t->fd, t->out.data + t->out.off, buf_readable(&t->out), MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        buf_consume(&t->out, (size_t)w);
        if (buf_readable(&t->out) > 0)
            return -EAGAIN; /* a short send: the socket is full */
    }
    buf_release(&t->out, t->pool);
    return 0;
}

size_t tls_unsent(const struct tls_conn *t)
{
    return buf_readable(&t->out);
}

void tls_seal_close(struct tls_conn *t)
{
    if (SSL_is_init_finished(t->ssl) && !SSL_get_quiet_shutdown(t->ssl)) {
        ERR_clear_error();
        SSL_shutdown(t->ssl);
        ERR_clear_error();
    }
    SSL_set_quiet_shutdown(t->ssl, 1);
}

void tls_conn_shutdown(struct tls_conn *t)
{
    tls_seal_close(t);
    tls_flush(t);
}

void tls_conn_free(struct tls_conn *t, bool clean)
{
    if (!t)
        return;
    if (clean)
        tls_conn_shutdown(t);
    SSL_free(t->ssl);
    buf_release(&t->in, t->pool);
    buf_release(&t->out, t->pool);
    free(t);
}

/* After a failed call: -EAGAIN, or a fatal error (no close_notify is sent after one). */
static ssize_t failure(struct tls_conn *t, int rc)
{
    int e = SSL_get_error(t->ssl, rc);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return -EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    default:
        break;
    }
    SSL_set_quiet_shutdown(t->ssl, 1);
    unsigned long err = ERR_peek_error();
    ERR_clear_error();
    if (e == SSL_ERROR_SYSCALL)
        return t->err ? -t->err : -ECONNRESET;
    if (ERR_GET_LIB(err) == ERR_LIB_SSL && ERR_GET_REASON(err) == SSL_R_HTTP_REQUEST)
        return TLS_ERR_PLAIN_HTTP;
    return -EPROTO;
}

ssize_t tls_recv(struct tls_conn *t, void *buf, size_t len, bool hangup, bool *drained)
{
    t->sock_empty = false;
    t->hangup = hangup;
    /* A flight the socket did not take before goes first: the peer answers it. */
    int fl = tls_flush(t);
    if (fl != 0 && fl != -EAGAIN)
        return fl;
    ERR_clear_error();
    size_t n;
    int rc = SSL_read_ex(t->ssl, buf, len, &n);
    ssize_t r = rc == 1 ? (ssize_t)n : failure(t, rc);
    /* What the read made OpenSSL say (a handshake flight, an alert) is sent now, best effort;
     * the rest waits for writability. When plaintext came too, all it said waits for the
     * response to it, one send for both: the session tickets that follow a handshake (and,
     * rarer, a TLS 1.2 False Start's Finished or a KeyUpdate's answer; no client waits for
     * those before it has a response). */
    if (r <= 0)
        tls_flush(t);
    *drained = t->sock_empty && !tls_pending(t);
    if (buf_readable(&t->in) == 0)
        buf_release(&t->in, t->pool);
    return r;
}

int tls_reserve(struct tls_conn *t, size_t n)
{
    return buf_reserve(&t->out, n + (n / TLS_RECORD_MAX + 1) * TLS_RECORD_OVERHEAD, t->pool);
}

ssize_t tls_send(struct tls_conn *t, const void *buf, size_t len)
{
    ERR_clear_error();
    size_t n;
    if (SSL_write_ex(t->ssl, buf, len, &n) == 1)
        return (ssize_t)n;
    /* The BIO takes every record, so only a failure lands here (out of memory, a connection
     * already failed or closed). */
    SSL_set_quiet_shutdown(t->ssl, 1);
    ERR_clear_error();
    return t->err ? -t->err : -EPIPE;
}

bool tls_peer_closed(const struct tls_conn *t)
{
    return (SSL_get_shutdown(t->ssl) & SSL_RECEIVED_SHUTDOWN) != 0;
}

bool tls_handshake_done(const struct tls_conn *t)
{
    return SSL_is_init_finished(t->ssl) != 0;
}

bool tls_resumed(const struct tls_conn *t)
{
    return SSL_session_reused(t->ssl) != 0;
}

/* Whether t->in holds a whole record. OpenSSL takes all of t->in whenever it stops inside a
 * record, so what is left there always starts at a record's header. */
static bool whole_record(const struct tls_conn *t)
{
    size_t have = buf_readable(&t->in);
    if (have < 5)
        return false; /* (a released buffer has no data pointer to read from) */
    const unsigned char *h = (const unsigned char *)t->in.data + t->in.off;
    return have >= 5 + ((size_t)h[3] << 8 | h[4]);
}

bool tls_pending(const struct tls_conn *t)
{
    return whole_record(t) || SSL_pending(t->ssl) > 0;
}

const char *tls_version(const struct tls_conn *t)
{
    return SSL_get_version(t->ssl);
}
