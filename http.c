/* http.c - HTTP/1.1 client: URL parsing, one keep-alive connection per
 * origin, request writing with bodies from memory or a file descriptor,
 * response framing (Content-Length, chunked, close-delimited), proxies,
 * timeouts, debug tracing, and the Server-Sent Events parser.
 *
 * The byte transport is a set of hooks (struct http_io) chosen when the
 * connection opens: a plain socket, a BearSSL session (tls.c), or a
 * memory buffer given by a test. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "util.h"
#include "http.h"
#include "tls.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

#define RBUFSZ  (HTTP_MAXLINE * 2)   /* receive buffer; holds a whole line */
#define WBUFSZ  16384                /* request head and small bodies */
#define IOBUFSZ 65536                /* body chunks read from a file */
#define IDLE_MS 1000                 /* "fresh" requests avoid older conns */

enum body {
	B_DONE, B_CLEN, B_CSIZE, B_CDATA, B_CCRLF, B_TRAILER, B_CLOSE
};

struct http {
	struct url u;
	struct url proxy;
	int useproxy;
	int connect_ms, read_ms;
	int64_t deadline;           /* absolute, 0 = none (http_deadline) */
	const char *cafile;

	/* the connection */
	int fd;
	struct tls *tls;
	struct http_io io;          /* active transport (valid if open) */
	struct http_io testio;      /* set by http_set_io */
	int hastestio;
	int open;                   /* a connection exists */
	int reusable;               /* server allows another request */
	int reused;                 /* the last request used an old conn */
	int broken;                 /* request not fully sent: close after */
	int64_t lastused;
	enum http_err err;
	long nconns, nreqs;

	/* receive side */
	char rbuf[RBUFSZ];
	size_t rpos, rlen;
	int gotbytes;               /* any byte of this response seen */

	/* response */
	struct http_resp resp;
	char hbuf[HTTP_MAXHEAD];
	size_t hlen;
	enum body state;
	unsigned long long remain;
	int closeafter;             /* Connection: close, HTTP/1.0, ... */
	int headreq;

	/* send side */
	char wbuf[WBUFSZ];
	size_t wlen;
	char *iobuf;
	struct buf head;
};

/* ---------------------------------------------------------------- URLs */

static int
badurl(const char *s, const char *why)
{
	seterr("invalid URL '%s': %s", s, why);
	return -1;
}

static int
validport(const char *s, size_t n)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/* The host of URL s between p and end (after any user info) into u;
 * *colon gets the ':' before the port, or NULL.  0 or -1. */
static int
urlhost(const char *s, const char *p, const char *end, struct url *u,
    const char **colon)
{
	const char *hs, *he, *q;
	int zone = 0;

	*colon = NULL;
	if (*p == '[') {
		hs = p + 1;
		he = memchr(hs, ']', (size_t)(end - hs));
		if (!he || he == hs)
			return badurl(s, "bad IPv6 literal");
		for (q = hs; q < he; q++) {
			if (*q == '%' && !zone && q > hs)
				zone = 1;
			else if (zone ? !isalnum((unsigned char)*q) &&
			    *q != '-' && *q != '_' && *q != '.' :
			    !isxdigit((unsigned char)*q) && *q != ':' &&
			    *q != '.')
				return badurl(s, "bad IPv6 literal");
		}
		if (he + 1 < end) {
			if (he[1] != ':')
				return badurl(s, "junk after ']'");
			*colon = he + 1;
		}
	} else {
		hs = p;
		he = memchr(p, ':', (size_t)(end - p));
		if (he)
			*colon = he;
		else
			he = end;
		for (q = hs; q < he; q++)
			if (!isalnum((unsigned char)*q) && *q != '-' &&
			    *q != '.' && *q != '_')
				return badurl(s, "bad character in "
				    "host name");
	}
	if (he == hs)
		return badurl(s, "no host");
	if ((size_t)(he - hs) >= sizeof u->host)
		return badurl(s, "host name too long");
	memcpy(u->host, hs, (size_t)(he - hs));
	if (*p == '[' && (q = strstr(u->host, "%25")))
		memmove((char *)q + 1, q + 3, strlen(q + 3) + 1); /* zone id */
	return 0;
}

int
url_parse(const char *s, struct url *u)
{
	const char *p, *end, *at = NULL, *colon, *q;
	size_t n;

	memset(u, 0, sizeof *u);
	if (!s || !*s) {
		seterr("invalid URL: empty");
		return -1;
	}
	p = strstr(s, "://");
	if (!p)
		return badurl(s, "no scheme (use https://host)");
	n = (size_t)(p - s);
	if (n == 5 && strncasecmp(s, "https", 5) == 0)
		u->tls = 1;
	else if (n == 4 && strncasecmp(s, "http", 4) == 0)
		u->tls = 0;
	else {
		seterr("invalid URL '%s': unsupported scheme '%.*s' "
		    "(only http and https)", s, (int)(n > 20 ? 20 : n), s);
		return -1;
	}
	p += 3;
	end = p + strcspn(p, "/?#");
	for (q = p; q < end; q++)           /* user info */
		if (*q == '@')
			at = q;
	if (at) {
		if ((size_t)(at - p) >= sizeof u->userinfo)
			return badurl(s, "user info too long");
		memcpy(u->userinfo, p, (size_t)(at - p));
		p = at + 1;
	}
	if (urlhost(s, p, end, u, &colon) < 0)
		return -1;
	if (colon) {
		if (!validport(colon + 1, (size_t)(end - colon - 1)))
			return badurl(s, "bad port");
		memcpy(u->port, colon + 1, (size_t)(end - colon - 1));
	} else {
		strcpy(u->port, u->tls ? "443" : "80");
	}
	/* path prefix: up to '?' or '#', trailing slashes removed */
	p = end;
	n = strcspn(p, "?#");
	while (n > 0 && p[n - 1] == '/')
		n--;
	if (n >= sizeof u->prefix)
		return badurl(s, "path too long");
	for (q = p; q < p + n; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return badurl(s, "bad character in path");
	memcpy(u->prefix, p, n);
	return 0;
}

void
url_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' ||
		    *p == '~')
			buf_addc(b, *p);
		else if (*p == ' ')
			buf_addc(b, '+');
		else {
			buf_addc(b, '%');
			buf_addc(b, hex[*p >> 4]);
			buf_addc(b, hex[*p & 15]);
		}
	}
}

/* ------------------------------------------------------------- tracing */

static int
secret_header(const char *name, size_t n)
{
	static const char *const names[] = {
		"authorization", "proxy-authorization", "cookie",
		"set-cookie", "x-api-key", "x-auth-token"
	};
	size_t i;

	for (i = 0; i < LEN(names); i++)
		if (strlen(names[i]) == n && strncasecmp(name, names[i], n) == 0)
			return 1;
	return 0;
}

/* Escape control characters and non-ASCII for a log line. */
static void
addsafe(struct buf *b, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\n')
			buf_puts(b, "\\n");
		else if (c == '\r')
			buf_puts(b, "\\r");
		else if (c == '\t')
			buf_puts(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\x%02x", c);
		else
			buf_addc(b, (char)c);
	}
}

/* Log one header line (name: value) with secrets redacted. */
static void
logheader(int dir, const char *line, size_t n)
{
	struct buf b = {0};
	const char *colon = memchr(line, ':', n);

	buf_addc(&b, (char)dir);
	buf_addc(&b, ' ');
	if (colon && secret_header(line, (size_t)(colon - line))) {
		addsafe(&b, line, (size_t)(colon - line));
		buf_puts(&b, ": <redacted>");
	} else {
		addsafe(&b, line, n);
	}
	logmsg(LOG_DEBUG, "%s", b.p);
	buf_free(&b);
}

static int
textual(const char *ctype, const unsigned char *p, size_t n)
{
	size_t i;

	if (ctype && *ctype && strncasecmp(ctype, "text/", 5) != 0 &&
	    !strstr(ctype, "json") && !strstr(ctype, "xml") &&
	    !strstr(ctype, "x-www-form-urlencoded"))
		return 0;
	for (i = 0; i < n && i < 4096; i++)
		if (p[i] == 0)
			return 0;
	return 1;
}

void
http_logbody(int dir, const char *ctype, const void *p, size_t n)
{
	struct buf b = {0};

	if (loglevel > LOG_DEBUG)
		return;
	if (!p || n == 0) {
		logmsg(LOG_DEBUG, "%c <no body>", dir);
		return;
	}
	if (!textual(ctype, p, n)) {
		logmsg(LOG_DEBUG, "%c <binary body: %zu bytes, %s>", dir, n,
		    ctype && *ctype ? ctype : "no content type");
		return;
	}
	buf_printf(&b, "%c ", dir);
	addsafe(&b, p, n > 4096 ? 4096 : n);
	if (n > 4096)
		buf_printf(&b, " ... <truncated, %zu bytes in all>", n);
	logmsg(LOG_DEBUG, "%s", b.p);
	buf_free(&b);
}

/* ----------------------------------------------------- socket transport */

/* Poll timeout for the next wait: the read timeout, shortened to the
 * deadline; 0 once the deadline has passed, -1 for none. */
static int
waitms(const struct http *h)
{
	int64_t ms = h->read_ms > 0 ? h->read_ms : -1, left;

	if (h->deadline) {
		left = h->deadline - now_ms();
		if (left <= 0)
			return 0;
		if (ms < 0 || left < ms)
			ms = left;
	}
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

static ssize_t
sock_read(void *ctx, void *p, size_t n)
{
	struct http *h = ctx;
	ssize_t r;
	int rc;

	for (;;) {
		rc = waitms(h);
		if (rc != 0)
			rc = pollwait(h->fd, POLLIN, rc);
		if (rc < 0) {
			if (interrupted)
				seterrc(ERR_INTR, "interrupted");
			else
				neterr(ERR_NET, "poll:");
			return -1;
		}
		if (rc == 0) {
			neterr(ERR_TIMEOUT, "no answer from %s "
			    "(timeout)", h->u.host);
			errno = ETIMEDOUT;
			return -1;
		}
		r = recv(h->fd, p, n, 0);
		if (r >= 0)
			return r;
		if (errno == EINTR && !interrupted)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			continue;
		neterr(ERR_NET, "receiving from %s:", h->u.host);
		return -1;
	}
}

static ssize_t
sock_write(void *ctx, const void *p, size_t n)
{
	struct http *h = ctx;
	ssize_t r;
	int rc;

	for (;;) {
		r = send(h->fd, p, n, MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		if (errno == EINTR && !interrupted)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			neterr(ERR_NET, "sending to %s:", h->u.host);
			return -1;
		}
		rc = waitms(h);
		if (rc != 0)
			rc = pollwait(h->fd, POLLOUT, rc);
		if (rc == 0) {
			neterr(ERR_TIMEOUT, "sending to %s timed "
			    "out", h->u.host);
			errno = ETIMEDOUT;
			return -1;
		}
		if (rc < 0 && errno != EINTR) {
			neterr(ERR_NET, "poll:");
			return -1;
		}
		if (interrupted) {
			seterrc(ERR_INTR, "interrupted");
			return -1;
		}
	}
}

static ssize_t
tlsio_read(void *ctx, void *p, size_t n)
{
	struct http *h = ctx;
	ssize_t r = tls_read(h->tls, p, n);

	return r == -2 ? HTTP_IO_TRUNC : r;
}

static ssize_t
tlsio_write(void *ctx, const void *p, size_t n)
{
	return tls_write(((struct http *)ctx)->tls, p, n);
}

static int
tlsio_flush(void *ctx)
{
	return tls_flush(((struct http *)ctx)->tls);
}

/* ---------------------------------------------------------- connection */

/* Does NO_PROXY (or no_proxy) exempt host? */
static int
noproxy(const char *host)
{
	const char *p = getenv("no_proxy");
	size_t hl = strlen(host);

	if (!p || !*p)
		p = getenv("NO_PROXY");
	while (p && *p) {
		size_t n = strcspn(p, ", \t");
		const char *e = memchr(p, ':', n);
		size_t m = e ? (size_t)(e - p) : n;
		const char *d = p;

		if (m && *d == '.') {
			d++;
			m--;
		}
		if (n == 1 && *p == '*')
			return 1;
		if (m && m <= hl && strncasecmp(host + hl - m, d, m) == 0 &&
		    (m == hl || host[hl - m - 1] == '.'))
			return 1;
		p += n;
		p += strspn(p, ", \t");
	}
	return 0;
}

/* Take the proxy from env into h->proxy.  0 or -1 (slot set). */
static int
setproxy(struct http *h, const char *env)
{
	struct buf b = {0};

	if (!strstr(env, "://"))
		buf_puts(&b, "http://");
	buf_puts(&b, env);
	if (url_parse(b.p, &h->proxy) < 0) {
		seterr("bad proxy setting: %s", geterr());
		buf_free(&b);
		return -1;
	}
	buf_free(&b);
	if (h->proxy.tls) {
		seterr("bad proxy setting: https:// proxies are not "
		    "supported");
		return -1;
	}
	h->useproxy = 1;
	return 0;
}

struct http *
http_new(const struct url *u)
{
	struct http *h = xcalloc(1, sizeof *h);
	const char *env = NULL;
	static const char *const vars_tls[] = { "https_proxy", "HTTPS_PROXY" };
	static const char *const vars_plain[] = { "http_proxy", "HTTP_PROXY" };
	const char *const *vars = u->tls ? vars_tls : vars_plain;
	size_t i;

	h->u = *u;
	h->fd = -1;
	h->connect_ms = 30000;
	h->read_ms = 300000;
	h->iobuf = xmalloc(IOBUFSZ);
	for (i = 0; i < 2 && !(env && *env); i++)
		env = getenv(vars[i]);
	if (env && *env && !noproxy(u->host) && setproxy(h, env) < 0) {
		http_free(h);
		return NULL;
	}
	return h;
}

void
http_free(struct http *h)
{
	if (!h)
		return;
	http_close(h);
	free(h->iobuf);
	buf_free(&h->head);
	free(h);
}

void
http_timeouts(struct http *h, int connect_ms, int read_ms)
{
	if (connect_ms > 0)
		h->connect_ms = connect_ms;
	if (read_ms > 0)
		h->read_ms = read_ms;
	if (h->tls)
		tls_timeout(h->tls, h->read_ms);
}

void
http_deadline(struct http *h, int64_t abs_ms)
{
	h->deadline = abs_ms;
	if (h->tls)
		tls_deadline(h->tls, abs_ms);
}

void
http_cafile(struct http *h, const char *path)
{
	h->cafile = path;
}

void
http_set_io(struct http *h, const struct http_io *io)
{
	http_close(h);
	h->testio = *io;
	h->hastestio = 1;
}

enum http_err
http_errclass(const struct http *h)
{
	return h->err;
}

void
http_stats(const struct http *h, long *conns, long *reqs)
{
	*conns = h->nconns;
	*reqs = h->nreqs;
}

int
http_reused(const struct http *h)
{
	return h->reused;
}

/* Drop the connection without a word on it: it is shared with another
 * process (a forked job), whose it now is. */
void
http_forget(struct http *h)
{
	if (h->open && h->tls) {
		tls_forget(h->tls);
		h->tls = NULL;
	}
	http_close(h);
}

void
http_close(struct http *h)
{
	if (h->open) {
		if (h->tls) {
			tls_close(h->tls);
			h->tls = NULL;
		}
		if (h->io.close)
			h->io.close(h->io.ctx);
		if (h->fd >= 0)
			close(h->fd);
	}
	h->fd = -1;
	h->open = 0;
	h->reusable = 0;
	h->broken = 0;
	h->rpos = h->rlen = 0;
	h->wlen = 0;
	h->state = B_DONE;
}

static int
fail(struct http *h, enum http_err e)
{
	h->err = e;
	return -1;
}

/* Wait for a non-blocking connect on fd until deadline: 0 connected,
 * else an errno value. */
static int
connwait(int fd, int64_t deadline)
{
	socklen_t len;
	int64_t left = deadline - now_ms();
	int rc, err = 0;

	if (left <= 0)
		return ETIMEDOUT;
	rc = pollwait(fd, POLLOUT, left);
	if (rc == 0)
		return ETIMEDOUT;
	if (rc < 0)
		return errno;
	len = sizeof err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

/* Open a non-blocking socket to one address.  fd, or -1 with *err. */
static int
connect1(const struct addrinfo *ai, int64_t deadline, int *err)
{
	int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);

	if (fd < 0) {
		*err = errno;
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	*err = errno;
	if (*err == EINPROGRESS || *err == EINTR)
		*err = connwait(fd, deadline);
	if (*err == 0)
		return fd;
	close(fd);
	return -1;
}

/* Connect a TCP socket to host:port within the connect timeout (and the
 * deadline).  fd, or -1 with the slot set and h->err: HTTP_EDNS,
 * HTTP_EREFUSED (refused, unreachable) or HTTP_ECONNECT. */
static int
dial(struct http *h, const char *host, const char *port)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, rc, err = 0, one = 1;
	int64_t start = now_ms(), deadline = start + h->connect_ms;

	if (h->deadline && h->deadline < deadline)
		deadline = h->deadline;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		neterr(ERR_NET, "cannot resolve %s: %s", host,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return fail(h, rc == EAI_AGAIN ? HTTP_ECONNECT : HTTP_EDNS);
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = connect1(ai, deadline, &err);
		if (interrupted || err == ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (fd >= 0) {
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		return fd;
	}
	if (interrupted) {
		seterrc(ERR_INTR, "interrupted");
		return fail(h, HTTP_ECONNECT);
	}
	errno = err;
	if (err == ETIMEDOUT) {
		neterr(ERR_TIMEOUT, "connecting to %s port %s "
		    "timed out after %.1f s", host, port,
		    (now_ms() - start) / 1000.0);
		return fail(h, HTTP_ECONNECT);
	}
	neterr(ERR_NET, "cannot connect to %s port %s:", host,
	    port);
	return fail(h, err == ECONNREFUSED || err == ENETUNREACH ||
	    err == EHOSTUNREACH || err == EADDRNOTAVAIL ? HTTP_EREFUSED :
	    HTTP_ECONNECT);
}

static void
hostport(struct buf *b, const struct url *u)
{
	int v6 = strchr(u->host, ':') != NULL;

	buf_printf(b, "%s%s%s", v6 ? "[" : "", u->host, v6 ? "]" : "");
	if (strcmp(u->port, u->tls ? "443" : "80") != 0)
		buf_printf(b, ":%s", u->port);
}

static int wflush(struct http *h);
static int readhead(struct http *h);

/* Proxy-Authorization line for a proxy URL with user info. */
static void
proxyauth(struct http *h, struct buf *b)
{
	if (!h->proxy.userinfo[0])
		return;
	buf_puts(b, "Proxy-Authorization: Basic ");
	b64_encode(b, h->proxy.userinfo, strlen(h->proxy.userinfo));
	buf_puts(b, "\r\n");
}

/* Ask the proxy for a tunnel to the origin. */
static int
tunnel(struct http *h)
{
	struct buf b = {0};
	int rc;

	buf_printf(&b, "CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\n",
	    h->u.host, h->u.port, h->u.host, h->u.port);
	proxyauth(h, &b);
	buf_puts(&b, "\r\n");
	logmsg(LOG_DEBUG, "> CONNECT %s:%s HTTP/1.1 (proxy %s:%s)",
	    h->u.host, h->u.port, h->proxy.host, h->proxy.port);
	memcpy(h->wbuf, b.p, b.len < WBUFSZ ? b.len : WBUFSZ);
	h->wlen = b.len < WBUFSZ ? b.len : WBUFSZ;
	buf_free(&b);
	if (wflush(h) < 0)
		return fail(h, HTTP_ECONNECT);
	h->headreq = 1;             /* a 2xx to CONNECT has no body */
	rc = readhead(h);
	if (rc < 0)
		return fail(h, HTTP_EPROXY);
	if (h->resp.status / 100 != 2) {
		neterr(ERR_NET, "proxy %s refused the tunnel to %s: "
		    "%d %s", h->proxy.host, h->u.host, h->resp.status,
		    h->resp.reason);
		return fail(h, HTTP_EPROXY);
	}
	if (h->rpos != h->rlen) {
		neterr(ERR_NET, "proxy sent data after its answer");
		return fail(h, HTTP_EPROXY);
	}
	h->rpos = h->rlen = 0;
	return 0;
}

static int
openconn(struct http *h)
{
	const struct url *to = h->useproxy ? &h->proxy : &h->u;
	int certfail = 0;

	h->rpos = h->rlen = 0;
	h->wlen = 0;
	h->nconns++;
	logmsg(LOG_DEBUG, "opening connection %ld to %s port %s%s", h->nconns,
	    to->host, to->port, h->useproxy ? " (proxy)" : "");
	if (h->hastestio) {
		h->io = h->testio;
		h->open = 1;
		return 0;
	}
	h->fd = dial(h, to->host, to->port);
	if (h->fd < 0)
		return -1;
	h->io.ctx = h;
	h->io.read = sock_read;
	h->io.write = sock_write;
	h->io.flush = NULL;
	h->io.close = NULL;
	h->open = 1;
	if (h->useproxy && h->u.tls && tunnel(h) < 0) {
		enum http_err e = h->err;

		http_close(h);
		return fail(h, e);
	}
	if (h->u.tls) {
		int64_t dl = now_ms() + h->connect_ms;

		if (h->deadline && h->deadline < dl)
			dl = h->deadline;
		h->tls = tls_open(h->fd, h->u.host, h->cafile, h->read_ms, dl,
		    &certfail);
		if (!h->tls) {
			http_close(h);
			if (!certfail && geterrclass() == ERR_TIMEOUT)
				return fail(h, HTTP_ETIMEOUT);
			return fail(h, certfail == 1 ? HTTP_ECERT :
			    certfail == 2 ? HTTP_ETLSPROTO : HTTP_ETLS);
		}
		tls_deadline(h->tls, h->deadline);
		h->io.read = tlsio_read;
		h->io.write = tlsio_write;
		h->io.flush = tlsio_flush;
	}
	return 0;
}

/* Is an idle kept-alive connection still usable?  A readable socket
 * means the server closed it (or sent junk): either way, drop it. */
static int
stillgood(struct http *h, int fresh)
{
	struct pollfd pfd;

	if (h->hastestio)
		return 1;
	if (fresh && now_ms() - h->lastused > IDLE_MS)
		return 0;
	if (h->rpos != h->rlen)
		return 0;
	pfd.fd = h->fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 0) != 0)
		return 0;
	return 1;
}

/* ---------------------------------------------------------- send side */

static int
wflush(struct http *h)
{
	size_t off = 0;

	while (off < h->wlen) {
		ssize_t n = h->io.write(h->io.ctx, h->wbuf + off, h->wlen - off);

		if (n <= 0) {
			if (n == 0)
				neterr(ERR_NET, "connection closed "
				    "while sending");
			h->wlen = 0;
			return -1;
		}
		off += (size_t)n;
	}
	h->wlen = 0;
	return 0;
}

static int
wput(struct http *h, const void *p, size_t n)
{
	const char *s = p;

	if (h->wlen + n > WBUFSZ) {
		if (wflush(h) < 0)
			return -1;
		if (n >= WBUFSZ) {
			while (n > 0) {
				ssize_t w = h->io.write(h->io.ctx, s, n);

				if (w <= 0) {
					if (w == 0)
						neterr(ERR_NET, ""
						    "connection closed while "
						    "sending");
					return -1;
				}
				s += w;
				n -= (size_t)w;
			}
			return 0;
		}
	}
	memcpy(h->wbuf + h->wlen, s, n);
	h->wlen += n;
	return 0;
}

static void
loghead(int dir, const char *p, size_t n)
{
	while (n > 0) {
		const char *e = memchr(p, '\n', n);
		size_t l = e ? (size_t)(e - p) : n;
		size_t ll = l;

		if (ll && p[ll - 1] == '\r')
			ll--;
		if (ll)
			logheader(dir, p, ll);
		if (!e)
			break;
		p += l + 1;
		n -= l + 1;
	}
}

/* Send the body from rq->fd. */
static int
sendfd(struct http *h, const struct http_req *rq)
{
	off_t off = 0;
	char hdr[32];

	for (;;) {
		size_t want = IOBUFSZ;
		ssize_t n;

		if (rq->size >= 0) {
			if (off >= rq->size)
				break;
			if ((off_t)want > rq->size - off)
				want = (size_t)(rq->size - off);
			n = pread(rq->fd, h->iobuf, want, off);
		} else {
			n = read(rq->fd, h->iobuf, want);
		}
		if (n < 0) {
			if (errno == EINTR && !interrupted)
				continue;
			seterr("reading upload body:");
			return fail(h, HTTP_ELOCAL);
		}
		if (n == 0) {
			if (rq->size >= 0) {
				seterrc(ERR_IO, "reading upload body: file shrank "
				    "while uploading (%lld of %lld bytes)",
				    (long long)off, (long long)rq->size);
				return fail(h, HTTP_ELOCAL);
			}
			break;
		}
		off += n;
		if (rq->size < 0) {
			int l = snprintf(hdr, sizeof hdr, "%zx\r\n", (size_t)n);

			if (wput(h, hdr, (size_t)l) < 0)
				return fail(h, HTTP_ESEND);
		}
		if (wput(h, h->iobuf, (size_t)n) < 0 ||
		    (rq->size < 0 && wput(h, "\r\n", 2) < 0))
			return fail(h, HTTP_ESEND);
	}
	if (rq->size < 0 && wput(h, "0\r\n\r\n", 5) < 0)
		return fail(h, HTTP_ESEND);
	return 0;
}

/* After a failed send: is an answer from the server waiting? */
static int
earlyanswer(struct http *h)
{
	struct pollfd pfd;

	if (h->hastestio || h->fd < 0 || errno == ETIMEDOUT || interrupted)
		return 0;
	if (h->tls && tls_pending(h->tls))
		return 1;
	pfd.fd = h->fd;
	pfd.events = POLLIN;
	return poll(&pfd, 1, 200) > 0;
}

/* The request head of rq into h->head, traced with -L debug. */
static void
buildhead(struct http *h, const struct http_req *rq)
{
	struct buf *b = &h->head;

	buf_reset(b);
	buf_printf(b, "%s ", rq->method);
	if (h->useproxy && !h->u.tls) {
		buf_puts(b, "http://");
		hostport(b, &h->u);
	}
	buf_printf(b, "%s HTTP/1.1\r\nHost: ", rq->target);
	hostport(b, &h->u);
	buf_puts(b, "\r\n");
	if (h->useproxy && !h->u.tls)
		proxyauth(h, b);
	if (rq->headers)
		buf_puts(b, rq->headers);
	if (rq->ctype)
		buf_printf(b, "Content-Type: %s\r\n", rq->ctype);
	if (rq->fd >= 0 && rq->size < 0)
		buf_puts(b, "Transfer-Encoding: chunked\r\n");
	else if (rq->fd >= 0)
		buf_printf(b, "Content-Length: %lld\r\n", (long long)rq->size);
	else if (rq->body || strcmp(rq->method, "POST") == 0 ||
	    strcmp(rq->method, "PUT") == 0 || strcmp(rq->method, "PATCH") == 0)
		buf_printf(b, "Content-Length: %zu\r\n", rq->len);
	buf_puts(b, "\r\n");
	if (loglevel <= LOG_DEBUG) {
		loghead('>', b->p, b->len);
		if (rq->fd >= 0)
			logmsg(LOG_DEBUG, "> <streamed body from file%s>",
			    rq->size < 0 ? ", chunked" : "");
		else if (rq->logbody)
			http_logbody('>', rq->ctype, rq->logbody, rq->loglen);
		else
			http_logbody('>', rq->ctype, rq->body, rq->len);
	}
}

int
http_send(struct http *h, const struct http_req *rq)
{
	struct buf *b = &h->head;

	h->err = HTTP_OK;
	h->reused = 0;
	if (h->open && (!h->reusable || h->state != B_DONE ||
	    !stillgood(h, rq->fresh)))
		http_close(h);
	if (h->open)
		h->reused = 1;
	else if (openconn(h) < 0)
		return -1;
	buildhead(h, rq);
	h->nreqs++;
	if (wput(h, b->p, b->len) < 0)
		return fail(h, HTTP_ESEND);
	if (rq->fd >= 0) {
		if (sendfd(h, rq) < 0) {
			enum http_err e = h->err;

			if (e == HTTP_ESEND && earlyanswer(h))
				goto early;
			http_close(h);
			return fail(h, e);
		}
	} else if (rq->len && wput(h, rq->body, rq->len) < 0) {
		if (earlyanswer(h))
			goto early;
		return fail(h, HTTP_ESEND);
	}
	if (wflush(h) < 0 || (h->io.flush && h->io.flush(h->io.ctx) < 0)) {
		if (earlyanswer(h))
			goto early;
		return fail(h, HTTP_ESEND);
	}
	h->state = B_DONE;
	h->gotbytes = 0;
	return 0;
early:
	/* the server answered before taking the whole body (401, 413...):
	 * hand its answer to the caller; the connection goes after it */
	logmsg(LOG_DEBUG, "server answered before the whole request was "
	    "sent (%s)", geterr());
	h->err = HTTP_OK;
	h->broken = 1;
	h->wlen = 0;
	h->state = B_DONE;
	h->gotbytes = 0;
	return 0;
}

/* ------------------------------------------------------- receive side */

/* Read more into rbuf.  >0, 0 EOF, HTTP_IO_TRUNC, -1 error. */
static ssize_t
fill(struct http *h)
{
	ssize_t n;

	if (h->rpos == h->rlen)
		h->rpos = h->rlen = 0;
	else if (h->rlen == RBUFSZ && h->rpos > 0) {
		memmove(h->rbuf, h->rbuf + h->rpos, h->rlen - h->rpos);
		h->rlen -= h->rpos;
		h->rpos = 0;
	}
	if (h->rlen == RBUFSZ)
		return -1;              /* callers check line limits first */
	n = h->io.read(h->io.ctx, h->rbuf + h->rlen, RBUFSZ - h->rlen);
	if (n > 0) {
		h->rlen += (size_t)n;
		h->gotbytes = 1;
	}
	return n;
}

/* Set the error for a failed read (n <= 0) and classify it. */
static int
readfail(struct http *h, ssize_t n, const char *where)
{
	if (n == 0 || n == HTTP_IO_TRUNC) {
		if (!h->gotbytes) {
			neterr(ERR_NET, "server closed the connection "
			    "without answering");
			return fail(h, HTTP_ELOST);
		}
		/* a clean close in the middle: broken framing */
		neterr(ERR_NET, "connection closed %s", where);
		return fail(h, HTTP_EPROTO);
	}
	if (errno == ETIMEDOUT)
		return fail(h, HTTP_ETIMEOUT);
	return fail(h, h->gotbytes ? HTTP_ERECV : HTTP_ELOST);
}

static int
proto(struct http *h, const char *msg)
{
	neterr(ERR_NET, "malformed response from %s: %s", h->u.host,
	    msg);
	return fail(h, HTTP_EPROTO);
}

/* Get one line (without CR LF) into line and len, pointing into rbuf and
 * valid until the next fill.  max: limit with its own error message. */
static int
getline_(struct http *h, size_t max, const char *toolong, const char *where,
    char **line, size_t *len)
{
	size_t scanned = 0;

	for (;;) {
		char *s = h->rbuf + h->rpos;
		size_t avail = h->rlen - h->rpos;
		char *e = memchr(s + scanned, '\n', avail - scanned);
		ssize_t n;

		if (e) {
			size_t l = (size_t)(e - s);

			h->rpos += l + 1;
			if (l > 0 && s[l - 1] == '\r')
				l--;
			if (l > max)
				return proto(h, toolong);
			*line = s;
			*len = l;
			return 0;
		}
		scanned = avail;
		if (avail > max + 1)
			return proto(h, toolong);
		if (h->rpos > 0 && h->rlen == RBUFSZ) {
			memmove(h->rbuf, s, avail);
			h->rpos = 0;
			h->rlen = avail;
		}
		n = fill(h);
		if (n <= 0)
			return readfail(h, n, where);
	}
}

static int
hdrvalue_has(const char *v, const char *tok)
{
	size_t n = strlen(tok);

	while (*v) {
		size_t l;

		v += strspn(v, " \t,");
		l = strcspn(v, ",");
		while (l > 0 && (v[l - 1] == ' ' || v[l - 1] == '\t'))
			l--;
		if (l == n && strncasecmp(v, tok, n) == 0)
			return 1;
		v += strcspn(v, ",");
	}
	return 0;
}

static int
istchar(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Parse Content-Length values: digits only, all equal. */
static int
content_length(struct http *h, const char *v, long long *cl)
{
	if (!*v)
		return proto(h, "bad Content-Length");
	while (*v) {
		unsigned long long x = 0;
		const char *s;

		v += strspn(v, " \t");
		s = v;
		while (isdigit((unsigned char)*v)) {
			if (x > (unsigned long long)LLONG_MAX / 10)
				return proto(h, "Content-Length too large");
			x = x * 10 + (unsigned)(*v++ - '0');
			if (x > (unsigned long long)LLONG_MAX)
				return proto(h, "Content-Length too large");
		}
		if (v == s)
			return proto(h, "bad Content-Length");
		v += strspn(v, " \t");
		if (*v == ',')
			v++;
		else if (*v)
			return proto(h, "bad Content-Length");
		if (*cl >= 0 && (unsigned long long)*cl != x)
			return proto(h, "two different Content-Length values");
		*cl = (long long)x;
	}
	return 0;
}

/* Parse the status line into h->resp and h->hbuf. */
static int
statusline(struct http *h, const char *line, size_t len)
{
	struct http_resp *r = &h->resp;

	if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)line[7]) || line[8] != ' ' ||
	    !isdigit((unsigned char)line[9]) ||
	    !isdigit((unsigned char)line[10]) ||
	    !isdigit((unsigned char)line[11]) ||
	    (len > 12 && line[12] != ' '))
		return proto(h, "bad status line");
	if (memchr(line, 0, len))
		return proto(h, "NUL byte in status line");
	r->minor = line[7] - '0';
	r->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 +
	    (line[11] - '0');
	if (r->status < 100)
		return proto(h, "bad status code");
	memcpy(h->hbuf, line, len);
	h->hbuf[len] = 0;
	h->hlen = len + 1;
	r->reason = len > 13 ? h->hbuf + 13 : "";
	return 0;
}

/* Add one header line (or an obsolete continuation) to h->resp. */
static int
headerline(struct http *h, char *line, size_t len)
{
	struct http_resp *r = &h->resp;
	char *p, *colon;
	size_t i;

	if (line[0] == ' ' || line[0] == '\t') {
		/* obsolete line folding: join to the last value */
		if (r->nhdr == 0)
			return proto(h, "bad header line");
		while (len && (*line == ' ' || *line == '\t')) {
			line++;
			len--;
		}
		if (h->hlen + len + 1 > HTTP_MAXHEAD)
			return proto(h, "headers too large");
		h->hbuf[h->hlen - 1] = ' ';
		memcpy(h->hbuf + h->hlen, line, len);
		h->hlen += len;
		h->hbuf[h->hlen++] = 0;
		return 0;
	}
	colon = memchr(line, ':', len);
	if (!colon || colon == line)
		return proto(h, "bad header line");
	for (p = line; p < colon; p++)
		if (!istchar((unsigned char)*p))
			return proto(h, "bad header name");
	if (r->nhdr == HTTP_MAXHDRS)
		return proto(h, "too many headers");
	if (h->hlen + len + 2 > HTTP_MAXHEAD)
		return proto(h, "headers too large");
	p = h->hbuf + h->hlen;
	memcpy(p, line, len);
	p[colon - line] = 0;
	p[len] = 0;
	r->hdr[r->nhdr].name = p;
	p += (colon - line) + 1;
	while (*p == ' ' || *p == '\t')
		p++;
	i = strlen(p);
	while (i > 0 && (p[i - 1] == ' ' || p[i - 1] == '\t'))
		p[--i] = 0;
	r->hdr[r->nhdr].value = p;
	r->nhdr++;
	h->hlen += len + 1;
	return 0;
}

/* Content-Length and Transfer-Encoding of h->resp. */
static int
framing(struct http *h)
{
	struct http_resp *r = &h->resp;
	int i;

	r->chunked = 0;
	for (i = 0; i < r->nhdr; i++) {
		const char *n = r->hdr[i].name, *v = r->hdr[i].value;

		if (strcasecmp(n, "Content-Length") == 0) {
			if (content_length(h, v, &r->clen) < 0)
				return -1;
		} else if (strcasecmp(n, "Transfer-Encoding") == 0) {
			if (strcasecmp(v, "chunked") == 0)
				r->chunked = 1;
			else if (*v)
				return proto(h, "unsupported Transfer-Encoding");
		}
	}
	return 0;
}

/* Read one response head (status line and headers) into h->resp. */
static int
readhead(struct http *h)
{
	struct http_resp *r = &h->resp;
	char *line;
	size_t len;

	h->hlen = 0;
	memset(r, 0, offsetof(struct http_resp, hdr));
	r->nhdr = 0;
	r->clen = -1;
	if (getline_(h, HTTP_MAXLINE, "status line too long",
	    "before the status line", &line, &len) < 0 ||
	    statusline(h, line, len) < 0)
		return -1;
	if (loglevel <= LOG_DEBUG)
		logheader('<', line, len);
	for (;;) {
		if (getline_(h, HTTP_MAXLINE, "header line too long",
		    "in the headers", &line, &len) < 0)
			return -1;
		if (len == 0)
			break;
		if (memchr(line, 0, len))
			return proto(h, "NUL byte in header");
		if (loglevel <= LOG_DEBUG)
			logheader('<', line, len);
		if (headerline(h, line, len) < 0)
			return -1;
	}
	return framing(h);
}

const struct http_resp *
http_recv(struct http *h, int head)
{
	struct http_resp *r = &h->resp;
	const char *c;

	h->err = HTTP_OK;
	if (!h->open) {
		neterr(ERR_NET, "no connection");
		fail(h, HTTP_ELOST);
		return NULL;
	}
	h->headreq = head;
	for (;;) {
		if (readhead(h) < 0) {
			http_close(h);
			return NULL;
		}
		if (r->status >= 200)
			break;
		/* 1xx: interim, skip it (101 would switch protocols: we
		 * never ask for that) */
		if (r->status == 101) {
			proto(h, "unexpected 101 Switching Protocols");
			http_close(h);
			return NULL;
		}
	}
	if (!head && r->status != 204 && r->status != 304 && r->clen != 0 &&
	    (c = http_hdr(r, "Content-Encoding")) && *c &&
	    strcasecmp(c, "identity") != 0) {
		neterr(ERR_NET, "%s answered with "
		    "Content-Encoding '%.40s' although we asked for identity "
		    "(no compression)", h->u.host, c);
		http_close(h);
		fail(h, HTTP_EENCODING);
		return NULL;
	}
	c = http_hdr(r, "Connection");
	h->closeafter = (c && hdrvalue_has(c, "close")) ||
	    (r->minor == 0 && !(c && hdrvalue_has(c, "keep-alive")));
	if (head || r->status == 204 || r->status == 304) {
		h->state = B_DONE;
	} else if (r->chunked) {
		h->state = B_CSIZE;
		if (r->clen >= 0)       /* both: trust chunked, then close */
			h->closeafter = 1;
	} else if (r->clen >= 0) {
		h->state = r->clen ? B_CLEN : B_DONE;
		h->remain = (unsigned long long)r->clen;
	} else {
		h->state = B_CLOSE;
		h->closeafter = 1;
	}
	h->reusable = !h->closeafter && !h->broken;
	return r;
}

const char *
http_hdr(const struct http_resp *r, const char *name)
{
	int i;

	for (i = 0; i < r->nhdr; i++)
		if (strcasecmp(r->hdr[i].name, name) == 0)
			return r->hdr[i].value;
	return NULL;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
chunksize(struct http *h)
{
	char *line;
	size_t len, i = 0;
	unsigned long long v = 0;

	if (getline_(h, HTTP_MAXCHUNKLINE, "chunk size line too long",
	    "in the middle of a chunked body", &line, &len) < 0)
		return -1;
	while (i < len && hexval((unsigned char)line[i]) >= 0) {
		if (v >> 56)
			return proto(h, "chunk size too large");
		v = v * 16 + (unsigned)hexval((unsigned char)line[i++]);
	}
	if (i == 0)
		return proto(h, "bad chunk size");
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i < len && line[i] != ';')
		return proto(h, "bad chunk size");
	/* chunk extensions after ';' are ignored */
	h->remain = v;
	h->state = v ? B_CDATA : B_TRAILER;
	return 0;
}

/* Copy up to n body bytes from rbuf or straight from the transport. */
static ssize_t
bodybytes(struct http *h, void *p, size_t n)
{
	size_t avail = h->rlen - h->rpos;
	ssize_t r;

	if (h->state != B_CLOSE && n > h->remain)
		n = (size_t)h->remain;
	if (avail) {
		if (n > avail)
			n = avail;
		memcpy(p, h->rbuf + h->rpos, n);
		h->rpos += n;
		return (ssize_t)n;
	}
	if (n >= RBUFSZ / 2) {
		r = h->io.read(h->io.ctx, p, n);
		if (r > 0)
			return r;
	} else {
		r = fill(h);
		if (r > 0)
			return bodybytes(h, p, n);
	}
	if (h->state == B_CLOSE) {
		if (r == 0)
			return 0;
		if (r == HTTP_IO_TRUNC) {
			seterrc(ERR_TLS, "TLS error: connection truncated (closed "
			    "without close_notify)");
			return fail(h, HTTP_EPROTO);
		}
	}
	if (r == 0 || r == HTTP_IO_TRUNC) {
		/* the server closed before the end it announced */
		if (h->resp.chunked)
			neterr(ERR_NET, "connection closed in "
			    "the middle of a chunked body (no last chunk)");
		else
			neterr(ERR_NET, "connection closed "
			    "before the end of the body (%llu of %lld bytes "
			    "missing)", h->remain, h->resp.clen);
		return fail(h, HTTP_EPROTO);
	}
	return fail(h, errno == ETIMEDOUT ? HTTP_ETIMEOUT : HTTP_ERECV);
}

/* The CRLF after a chunk's data.  0 or -1 (slot set). */
static int
chunkend(struct http *h)
{
	ssize_t r;

	while (h->rlen - h->rpos < 2) {
		r = fill(h);
		if (r == 0 || r == HTTP_IO_TRUNC) {
			neterr(ERR_NET, "connection closed in "
			    "the middle of a chunked body");
			return fail(h, HTTP_EPROTO);
		}
		if (r < 0)
			return fail(h, errno == ETIMEDOUT ? HTTP_ETIMEOUT :
			    HTTP_ERECV);
	}
	if (memcmp(h->rbuf + h->rpos, "\r\n", 2) != 0)
		return proto(h, "missing CRLF after chunk data");
	h->rpos += 2;
	h->state = B_CSIZE;
	return 0;
}

ssize_t
http_read(struct http *h, void *p, size_t n)
{
	ssize_t r;
	char *line;
	size_t len;
	int ntrail = 0;

	h->err = HTTP_OK;
	if (n == 0)
		return 0;
	for (;;) {
		switch (h->state) {
		case B_DONE:
			return 0;
		case B_CLEN:
		case B_CDATA:
			r = bodybytes(h, p, n);
			if (r < 0)
				goto bad;
			h->remain -= (unsigned long long)r;
			if (h->remain == 0)
				h->state = h->state == B_CLEN ? B_DONE :
				    B_CCRLF;
			return r;
		case B_CLOSE:
			r = bodybytes(h, p, n);
			if (r < 0)
				goto bad;
			if (r == 0)
				h->state = B_DONE;
			return r;
		case B_CSIZE:
			if (chunksize(h) < 0)
				goto bad;
			break;
		case B_CCRLF:
			if (chunkend(h) < 0)
				goto bad;
			break;
		case B_TRAILER:
			if (getline_(h, HTTP_MAXLINE, "trailer line too long",
			    "in the trailers", &line, &len) < 0)
				goto bad;
			if (len == 0) {
				h->state = B_DONE;
				return 0;
			}
			if (++ntrail > HTTP_MAXHDRS) {
				proto(h, "too many trailers");
				goto bad;
			}
			break;
		}
	}
bad:
	if (h->err == HTTP_OK)
		h->err = HTTP_ERECV;
	{
		enum http_err e = h->err;

		http_close(h);
		h->err = e;
	}
	return -1;
}

int
http_body(struct http *h, struct buf *b, size_t max)
{
	for (;;) {
		ssize_t n;

		buf_grow(b, 16384);
		n = http_read(h, b->p + b->len, b->cap - b->len - 1);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		b->len += (size_t)n;
		b->p[b->len] = 0;
		if (b->len > max) {
			neterr(ERR_NET, "response body larger than "
			    "%zu bytes", max);
			http_close(h);
			return fail(h, HTTP_EPROTO);
		}
	}
	return 0;
}

void
http_done(struct http *h)
{
	if (h->open && (h->state != B_DONE || !h->reusable)) {
		http_close(h);
		return;
	}
	h->lastused = now_ms();
}

/* ------------------------------------------------------------------ SSE */

static int
sse_line(struct sse *s, const char *l, size_t n, sse_cb cb, void *arg)
{
	const char *colon, *v;
	size_t fl, vl;
	int rc;

	if (n == 0) {
		/* end of frame */
		s->frameid = 0;
		if (s->gotid) {
			char *end;
			long long id;

			errno = 0;
			id = strtoll(s->id, &end, 10);
			if (s->id[0] && !*end && errno == 0) {
				s->lastid = id;
				s->hasid = 1;
				s->frameid = 1;
			}
		}
		rc = 0;
		if (s->gotdata) {
			if (!s->data.p)
				buf_grow(&s->data, 1);
			rc = cb(arg, s->event[0] ? s->event : "message",
			    s->data.p, s->data.len);
		}
		buf_reset(&s->data);
		if (s->data.p)
			s->data.p[0] = 0;
		s->event[0] = 0;
		s->gotid = s->gotdata = 0;
		return rc;
	}
	if (l[0] == ':')
		return 0;               /* comment */
	colon = memchr(l, ':', n);
	fl = colon ? (size_t)(colon - l) : n;
	v = colon ? colon + 1 : l + n;
	vl = colon ? n - fl - 1 : 0;
	if (vl && *v == ' ') {
		v++;
		vl--;
	}
	if (fl == 4 && memcmp(l, "data", 4) == 0) {
		if (s->data.len + vl + 1 > SSE_MAXFRAME) {
			neterr(ERR_NET, "event stream frame larger than "
			    "%d bytes", SSE_MAXFRAME);
			return -1;
		}
		if (s->gotdata)
			buf_addc(&s->data, '\n');
		buf_add(&s->data, v, vl);
		s->gotdata = 1;
	} else if (fl == 5 && memcmp(l, "event", 5) == 0) {
		if (vl >= sizeof s->event)
			vl = sizeof s->event - 1;
		memcpy(s->event, v, vl);
		s->event[vl] = 0;
	} else if (fl == 2 && memcmp(l, "id", 2) == 0) {
		if (!memchr(v, 0, vl)) {
			if (vl >= sizeof s->id)
				vl = sizeof s->id - 1;
			memcpy(s->id, v, vl);
			s->id[vl] = 0;
			s->gotid = 1;
		}
	}
	/* "retry" and unknown fields are ignored */
	return 0;
}

int
sse_feed(struct sse *s, const char *p, size_t n, sse_cb cb, void *arg)
{
	size_t i = 0;
	int rc;

	while (i < n) {
		const char *e;
		size_t k, m;

		if (s->cr) {
			/* the CR that ended the last line may be followed
			 * by its LF */
			s->cr = 0;
			if (p[i] == '\n') {
				i++;
				continue;
			}
		}
		for (k = i; k < n && p[k] != '\n' && p[k] != '\r'; k++)
			;
		e = p + k;
		m = k - i;
		if (k == n) {
			if (s->line.len + m > SSE_MAXFRAME + 64) {
				neterr(ERR_NET, "event stream line "
				    "too long");
				return -1;
			}
			buf_add(&s->line, p + i, m);
			return 0;
		}
		if (*e == '\r')
			s->cr = 1;
		if (s->line.len) {
			if (s->line.len + m > SSE_MAXFRAME + 64) {
				neterr(ERR_NET, "event stream line "
				    "too long");
				return -1;
			}
			buf_add(&s->line, p + i, m);
			rc = sse_line(s, s->line.p, s->line.len, cb, arg);
			buf_reset(&s->line);
		} else {
			rc = sse_line(s, p + i, m, cb, arg);
		}
		if (rc)
			return rc;
		i = k + 1;
	}
	return 0;
}

void
sse_free(struct sse *s)
{
	buf_free(&s->line);
	buf_free(&s->data);
}
