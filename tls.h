/* tls.h - TLS client over a connected socket (BearSSL).  One connection
 * at a time: the engine and its I/O buffer are static, nothing is
 * allocated per connection.  Trust anchors are loaded once. */
#ifndef TLS_H
#define TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tls;

/* Start TLS on the connected socket fd for host (SNI and name check;
 * an IPv4/IPv6 literal gets no SNI and must be an iPAddress in the
 * leaf's subjectAltName), with socket timeouts of timeout_ms (<= 0:
 * none) and the handshake done by deadline (0: none).  extra_ca: a PEM file
 * of additional trust anchors or NULL.  Resumes the previous session
 * with the same host when it can.  Returns the (static) connection, or
 * NULL with the slot set ("TLS error: ..."); *certfail is set to 1 when
 * verification of the server certificate failed or no trust anchors
 * could be loaded, 2 for another protocol
 * failure (alert, version or cipher mismatch, not TLS): neither is worth
 * a retry; 0 for an I/O failure. */
struct tls *tls_open(int fd, const char *host, const char *extra_ca,
    int timeout_ms, int64_t deadline, int *certfail);
void tls_timeout(struct tls *t, int timeout_ms);
/* Absolute deadline (now_ms() clock) for all I/O; 0 = none. */
void tls_deadline(struct tls *t, int64_t abs_ms);
/* >0 bytes, 0 after close_notify, -2 at an EOF without close_notify,
 * -1 on error (slot set; errno ETIMEDOUT for a timeout). */
ssize_t tls_read(struct tls *t, void *p, size_t n);
/* Queue bytes; records go out as the buffer fills.  >0 or -1. */
ssize_t tls_write(struct tls *t, const void *p, size_t n);
/* Send everything queued.  0 or -1. */
int tls_flush(struct tls *t);
/* 1 if application data from the peer is waiting to be read. */
int tls_pending(struct tls *t);
/* Send close_notify (best effort) and forget the connection; the caller
 * closes fd. */
void tls_close(struct tls *t);
/* Mark t closed without sending anything (another process owns the
 * connection now); the caller closes the descriptor. */
void tls_forget(struct tls *t);

/* Load the trust anchors now (also done by the first tls_open): 0 or -1
 * with the slot set when no usable bundle exists.  *where gets the
 * source used. */
int tls_anchors(const char *extra_ca, const char **where);

/* 1 if the DER certificate cert lists the IP address ip (4 or 16
 * bytes) as an iPAddress subjectAltName, 0 if not, -1 if the DER is
 * malformed.  DNS names never match an IP. */
int tls_san_ip(const unsigned char *cert, size_t len,
    const unsigned char *ip, size_t iplen);

#endif
