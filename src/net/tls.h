/*
 * TLS (OpenSSL 3) for connections: the transport under conn (conn.c) when a connection came in
 * on a TLS listener.
 *
 * A struct tls_ctx is one SSL_CTX with tinyweb's settings (certificate chain and key, protocols,
 * ciphers, ALPN http/1.1, tickets, the session cache): made at start and at each reload, shared
 * by every loop (OpenSSL's SSL_CTX is thread-safe for making connections), and kept alive by
 * the connections made from it after the reload that replaced it. Session-ticket keys are the
 * process's, shared by every context and loop and rotated: a ticket issued by any loop, before
 * or after a reload, resumes on any other while its key is the current or the previous one.
 *
 * A connection's TLS state is an SSL on its nonblocking socket. Reads and writes map OpenSSL's
 * WANT_READ / WANT_WRITE onto the loop's events: -EAGAIN, with *want_write set when the socket
 * must become writable before the read can go on (a handshake flight that did not fit). The
 * handshake runs inside the first reads, so it is covered by the connection's header timeout.
 */
#ifndef TINYWEB_NET_TLS_H
#define TINYWEB_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ssl_st;
struct tls_ctx;

/* The largest plaintext one TLS record carries: a read with this much room takes a whole
 * record, so OpenSSL never holds decrypted bytes back (epoll cannot see those). */
#define TLS_RECORD_MAX 16384

/* A read found plain HTTP on the TLS port (nginx answers 400 "The plain HTTP request was sent
 * to HTTPS port"). */
#define TLS_ERR_PLAIN_HTTP (-1000)

/* Mozilla's "intermediate" configuration (v5.7): TLS 1.2 ciphers and TLS 1.3 suites. */
#define TLS_DEFAULT_CIPHERS                                                                        \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"       \
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
#define TLS_DEFAULT_CIPHERSUITES                                                                   \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

struct tls_config {
    const char *cert;          /* PEM: the certificate, then its chain */
    const char *key;           /* PEM: its private key (RSA or ECDSA) */
    bool tls12, tls13;         /* the protocols offered (at least one) */
    const char *ciphers;       /* TLS 1.2, OpenSSL's syntax; "intermediate": TLS_DEFAULT_CIPHERS */
    const char *ciphersuites;  /* TLS 1.3 */
    uint64_t session_cache;    /* server-side session cache entries; 0: off */
    uint64_t ticket_rotate_ms; /* ticket key lifetime; 0: no tickets */
};

/* A context for cfg, its files read now. NULL with one line in err (the file, OpenSSL's reason). */
struct tls_ctx *tls_ctx_new(const struct tls_config *cfg, char *err, size_t errlen);

/* Lets go of t; connections made from it keep it until they close. NULL: nothing. */
void tls_ctx_free(struct tls_ctx *t);

/* A server-side SSL on fd from t, or NULL (out of memory). */
struct ssl_st *tls_conn_new(struct tls_ctx *t, int fd);

/*
 * Ends ssl: sends close_notify first when clean is true and the handshake finished (a
 * connection the server ends as done or idle; never after an error or a timeout mid-exchange),
 * best effort, without waiting for the peer's. Frees ssl.
 */
void tls_conn_free(struct ssl_st *ssl, bool clean);

/* Sends close_notify now (our side is done; the peer's bytes are drained after it). */
void tls_conn_shutdown(struct ssl_st *ssl);

/* Reads up to len (>= TLS_RECORD_MAX for a whole record) bytes of plaintext: bytes (> 0), 0 at
 * the peer's close (close_notify or EOF), -EAGAIN (then *want_write says whether writability
 * is awaited), TLS_ERR_PLAIN_HTTP, or another negative error. */
ssize_t tls_recv(struct ssl_st *ssl, void *buf, size_t len, bool *want_write);

/* Writes len bytes as records (16 KiB each at most): len, -EAGAIN when the socket filled first
 * (some records may be out already), or a negative error. After -EAGAIN, the next call must
 * offer the same bytes again (it may be from another address: the write buffer may move). */
ssize_t tls_send(struct ssl_st *ssl, const void *buf, size_t len);

/* Whether the peer ended the connection with close_notify (or an EOF taken as one). */
bool tls_peer_closed(const struct ssl_st *ssl);

/* Whether the handshake is over, and whether it resumed a session. */
bool tls_handshake_done(const struct ssl_st *ssl);
bool tls_resumed(const struct ssl_st *ssl);

/* Whether OpenSSL holds bytes of ssl not yet returned by tls_recv. */
bool tls_pending(const struct ssl_st *ssl);

/* The ALPN protocol and TLS version of an established connection, for logs: "TLSv1.3". */
const char *tls_version(const struct ssl_st *ssl);

#endif
