/* http.h - HTTP/1.1 client: URLs, one keep-alive connection, response
 * framing, streaming bodies both ways, debug tracing, and the
 * Server-Sent Events parser.  TLS is only reached through transport
 * hooks chosen at connect time (tls.h); tests plug in memory buffers. */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* Limits.  Running into one is an error with its own message. */
#define HTTP_MAXLINE      8192   /* status line; one header line */
#define HTTP_MAXHDRS      100    /* header fields per response */
#define HTTP_MAXHEAD      65536  /* all header bytes of one response */
#define HTTP_MAXCHUNKLINE 1024   /* chunk-size line with extensions */
#define SSE_MAXFRAME      (4 << 20)  /* data of one SSE frame */

/* A parsed http:// or https:// URL.  Brackets of an IPv6 literal are
 * removed from host.  prefix is the path without trailing '/' ("" for
 * none); the query and fragment are dropped.  userinfo (proxies only)
 * is kept raw ("user:pass"). */
struct url {
	int tls;
	char host[256];
	char port[6];
	char prefix[1024];
	char userinfo[256];
};

/* Parse s into u.  0, or -1 with the error slot set: no scheme, a scheme
 * other than http/https, no host, bad port, bad IPv6 literal, too long. */
int url_parse(const char *s, struct url *u);

/* Append s to b percent-encoded as a form value (Python urlencode:
 * space is '+', everything but ALPHA DIGIT "-._~" is %XX). */
void url_encode(struct buf *b, const char *s);

/* Transport hooks.  read: >0 bytes, 0 at EOF, HTTP_IO_TRUNC for an EOF
 * that the transport knows is unclean (TLS without close_notify), -1 on
 * error (slot set; a timeout sets errno ETIMEDOUT).  write: bytes written
 * (>0) or -1.  flush: may be NULL.  close: releases ctx's connection. */
#define HTTP_IO_TRUNC (-2)
struct http_io {
	void *ctx;
	ssize_t (*read)(void *ctx, void *p, size_t n);
	ssize_t (*write)(void *ctx, const void *p, size_t n);
	int (*flush)(void *ctx);
	void (*close)(void *ctx);
};

/* What went wrong with the last failed call (for the retry policy). */
enum http_err {
	HTTP_OK,
	HTTP_ECONNECT,  /* no connection made (connect timeout, other);
	                   nothing was sent */
	HTTP_EDNS,      /* the host name does not resolve: nothing was sent */
	HTTP_EREFUSED,  /* connection refused or no route: nothing sent */
	HTTP_ETLS,      /* TLS handshake I/O failed before the request was
	                   sent */
	HTTP_ECERT,     /* certificate verification failed: never retry */
	HTTP_ETLSPROTO, /* TLS protocol failure (alert, version mismatch, not
	                   a TLS server): never retry */
	HTTP_EPROXY,    /* the proxy refused CONNECT: nothing was sent */
	HTTP_ESEND,     /* error while sending the request */
	HTTP_ELOST,     /* request sent; connection ended before any byte of
	                   the response */
	HTTP_ERECV,     /* connection failed (reset, error) while reading
	                   the response */
	HTTP_ETIMEOUT,  /* read timeout */
	HTTP_EPROTO,    /* malformed response: framing, limits, closed
	                   before the end it announced */
	HTTP_EENCODING, /* a Content-Encoding other than identity, which we
	                   never ask for: never retry */
	HTTP_ELOCAL     /* local error: reading the body file, writing output */
};

struct http;

/* A client for one origin (u is copied).  Proxies are taken from the
 * environment (HTTPS_PROXY/HTTP_PROXY/NO_PROXY, lower-case too).
 * Caller frees with http_free.  NULL with the slot set for a bad proxy
 * URL. */
struct http *http_new(const struct url *u);
void http_free(struct http *h);
/* Timeouts in ms; <= 0 leaves the default (connect 30 s, read 300 s). */
void http_timeouts(struct http *h, int connect_ms, int read_ms);
/* Absolute deadline (now_ms() clock) for every connect, handshake,
 * read and write from now on; 0 removes it.  Reaching it fails the I/O
 * with HTTP_ETIMEOUT.  The per-read timeout still applies. */
void http_deadline(struct http *h, int64_t abs_ms);
/* Extra trust anchors (PEM file) for https; the path must outlive h. */
void http_cafile(struct http *h, const char *path);
/* Tests and fuzzers: use io instead of opening connections.  Each time
 * a connection would be opened, io is used again (it is never closed by
 * h unless io->close is set). */
void http_set_io(struct http *h, const struct http_io *io);
/* Drop the connection (if any). */
void http_close(struct http *h);
/* Drop it without sending anything on it (a forked child's copy). */
void http_forget(struct http *h);
enum http_err http_errclass(const struct http *h);
/* 1 if the last http_send went out on a kept-alive connection (so a
 * failure may just mean the server had closed it while idle). */
int http_reused(const struct http *h);
/* Counters for benchmarks: connections opened, requests sent. */
void http_stats(const struct http *h, long *conns, long *reqs);

struct http_req {
	const char *method;
	const char *target;     /* origin-form, e.g. "/pfx/v1/images?x=1" */
	const char *headers;    /* extra header lines, each ending "\r\n" */
	const char *ctype;      /* Content-Type of the body, or NULL */
	const void *body;       /* in-memory body (len bytes), or */
	size_t len;
	int fd;                 /* fd >= 0: body is size bytes of fd read with
	                           pread from offset 0; size < 0: read() to EOF
	                           and send chunked (not replayable) */
	off_t size;
	int fresh;              /* 1: do not reuse a connection idle > 1 s */
	const char *logbody;    /* if not NULL: what -L debug shows of the
	                           body instead of it (secrets redacted) */
	size_t loglen;
};

/* Send a request, opening (or re-opening) the connection as needed.
 * 0, or -1 with the slot set and http_errclass() telling what failed.
 * Adds Host, Content-Length or Transfer-Encoding, Content-Type. */
int http_send(struct http *h, const struct http_req *rq);

struct http_hdr {
	const char *name, *value;
};
struct http_resp {
	int status;
	const char *reason;
	int minor;              /* HTTP/1.<minor> */
	int nhdr;
	struct http_hdr hdr[HTTP_MAXHDRS];
	long long clen;         /* Content-Length, -1 if none */
	int chunked;
};

/* Read the response head (1xx responses are skipped).  head: the
 * request was HEAD (no body follows).  The result points into h and is
 * valid until the next http_send/http_recv.  NULL on error (slot set). */
const struct http_resp *http_recv(struct http *h, int head);
/* Value of header name (case-insensitive), first occurrence, or NULL. */
const char *http_hdr(const struct http_resp *r, const char *name);
/* Read body bytes: >0, 0 at the end of the body, -1 on error (slot set;
 * a short body is an error). */
ssize_t http_read(struct http *h, void *p, size_t n);
/* Append the rest of the body to b; more than max bytes is an error. */
int http_body(struct http *h, struct buf *b, size_t max);
/* Done with this response: keeps the connection when the body was read
 * to the end and the server allows reuse, else closes it. */
void http_done(struct http *h);

/* Debug tracing of a body (cli.md §5): dir is '>' or '<'. */
void http_logbody(int dir, const char *ctype, const void *p, size_t n);

/* Server-Sent Events parser.  Zero-initialise, feed bytes as they come,
 * sse_free at the end.  For every frame with data, cb gets the event
 * name ("message" if none), the data (lines joined with '\n',
 * NUL-terminated) and its length; a non-zero return from cb stops and is
 * returned by sse_feed.  lastid is the id of the latest frame that
 * carried a numeric one (hasid set; frames without data count too);
 * frameid tells whether the frame being delivered carried it.  -1 (slot
 * set) for a frame or line too large. */
struct sse {
	struct buf line, data;   /* internal: partial line, frame data */
	char event[64];
	char id[64];
	int gotid, gotdata, cr;
	long long lastid;
	int hasid, frameid;
};
typedef int (*sse_cb)(void *arg, const char *event, const char *data,
    size_t len);
int sse_feed(struct sse *s, const char *p, size_t n, sse_cb cb, void *arg);
void sse_free(struct sse *s);

#endif
