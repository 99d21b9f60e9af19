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
 * A connection's TLS state is an SSL over a BIO of tinyweb's own: OpenSSL never touches the
 * socket. A read takes all the socket holds into a buffer (one recv for the records that
 * arrived together, a short read meaning drained, as on plain TCP) and OpenSSL decrypts from
 * there; a write seals records into a buffer that leaves in one send. So nothing waits inside
 * OpenSSL that epoll cannot see, and sealed bytes the socket did not take are the connection's
 * to flush when it becomes writable (tls_unsent). The handshake runs inside the first reads,
 * so it is covered by the connection's header timeout.
 */
#ifndef TINYWEB_NET_TLS_H
#define TINYWEB_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf_pool;
struct tls_conn;
struct tls_ctx;

/* The largest plaintext one TLS record carries: a read with this much room takes a whole
 * record, so OpenSSL never holds decrypted bytes back (epoll cannot see those). */
#define TLS_RECORD_MAX 16384
/* What sealing adds to a record with the AEAD ciphers (header, explicit nonce, tag, content
 * type: 22 to 29 bytes), with room to spare; a CBC cipher's record may need more (the buffer
 * then grows). */
#define TLS_RECORD_OVERHEAD 64

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

/* TLS for the accepted socket fd from t, its buffers from pool (the loop's), or NULL (out of
 * memory). */
struct tls_conn *tls_conn_new(struct tls_ctx *t, int fd, struct buf_pool *pool);

/*
 * Ends t: sends close_notify first when clean is true and the handshake finished (a
 * connection the server ends as done or idle; never after an error or a timeout mid-exchange),
 * best effort, without waiting for the peer's. Frees t and gives its buffers back.
 */
void tls_conn_free(struct tls_conn *t, bool clean);

/* Sends close_notify now (our side is done; the peer's bytes are drained after it). */
void tls_conn_shutdown(struct tls_conn *t);

/* Seals close_notify behind the sealed records without sending it (it leaves with them): the
 * last response of a connection. Once only; later shutdowns send nothing more. */
void tls_seal_close(struct tls_conn *t);

/*
 * Reads up to len (>= TLS_RECORD_MAX for a whole record) bytes of plaintext: bytes (> 0), 0 at
 * the peer's close (close_notify or EOF), -EAGAIN, TLS_ERR_PLAIN_HTTP, or another negative
 * error. hangup: the peer's FIN is known to be waiting (a short read then does not mean
 * drained). *drained: the socket was found empty and no record waits in the buffer, so the
 * next bytes raise a new edge. What the read made OpenSSL send (a handshake flight, an alert)
 * is flushed, and what the socket did not take stays tls_unsent(); when plaintext came too,
 * it stays unsent (session tickets after a handshake): the response to it takes it along.
 */
ssize_t tls_recv(struct tls_conn *t, void *buf, size_t len, bool hangup, bool *drained);

/* Makes room to seal n bytes of plaintext at once (one allocation rather than growing record
 * by record). 0 or -ENOMEM. */
int tls_reserve(struct tls_conn *t, size_t n);

/* Seals len bytes into records (16 KiB each at most) behind the unsent ones: len, or a negative
 * error. Nothing is sent: tls_flush() does. */
ssize_t tls_send(struct tls_conn *t, const void *buf, size_t len);

/* Sends the sealed bytes: 0 when all are out, -EAGAIN when the socket filled first, or -errno. */
int tls_flush(struct tls_conn *t);

/* How many sealed bytes wait for the socket. */
size_t tls_unsent(const struct tls_conn *t);

/* Whether the peer ended the connection with close_notify (or an EOF taken as one). */
bool tls_peer_closed(const struct tls_conn *t);

/* Whether the handshake is over, and whether it resumed a session. */
bool tls_handshake_done(const struct tls_conn *t);
bool tls_resumed(const struct tls_conn *t);

/* Whether a whole record of the peer (or its plaintext) waits in t: read from the socket but
 * not yet returned by tls_recv, so epoll will not report it. A partial record waits for the
 * socket. */
bool tls_pending(const struct tls_conn *t);

/* The TLS version of an established connection, for logs: "TLSv1.3". */
const char *tls_version(const struct tls_conn *t);

#endif
