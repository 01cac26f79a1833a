/* api.c - the ConTree API over http.c: request building (base URL
 * prefix, /v1, query encoding, headers), the retry policy, uploads,
 * downloads and the events stream.
 *
 * Retry policy (design.md §1):
 * - idempotent requests (everything but API_NOREPLAY ones) retry on
 *   connect failure, a connection that dies before or during the answer,
 *   a malformed answer, 500/502/503/504, and 425/429;
 * - API_NOREPLAY requests (spawn, import) are re-sent only when the
 *   server provably did not act: no connection, a TLS handshake failure
 *   (both before anything was written), 425, 429, or 503 with
 *   Retry-After;
 * - certificate failures, timeouts and local errors never retry;
 * - sleeps follow the ladder 1, 2, 4, 5, 10, 10, 10 s (8 attempts), or
 *   Retry-After capped at RA_CAP_MS, all within DEADLINE_MS.
 * CONTREE_RETRY_SCALE (test hook) multiplies every sleep. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "json.h"
#include "http.h"
#include "api.h"

#include <bearssl.h>

#define MAXTRIES     8
#define DEADLINE_MS  (300 * 1000)    /* all attempts of one call */
#define RA_CAP_MS    (60 * 1000)     /* longest Retry-After we honour */
#define MAXBODY      (64 << 20)      /* JSON answers */
#define MAXERRBODY   (64 << 10)      /* error answers kept */
#define SSE_READ_MS  (120 * 1000)    /* idle events stream: reconnect */

static const int ladder[] = { 1000, 2000, 4000, 5000, 10000, 10000, 10000 };

struct api {
	struct url u;
	struct http *h;
	char *token, *project, *cafile;
	int iam, noretry, timeout_ms;
	double scale;
	struct buf target, hdrs;
};

/* One logical request; the body is either in memory or from a fd. */
struct call {
	const char *method, *path;
	const char *const *query;
	const char *ctype;
	const void *body;
	size_t len;
	int fd;
	off_t size;
	int flags;
	const char *accept;
	const char *extra;          /* extra header lines */
	int head;
};

/* What a body handler reports. */
enum { BODY_OK, BODY_RETRY, BODY_FAIL };

const char *
api_user_agent(void)
{
	static char ua[256];
	struct utsname un;

	if (ua[0])
		return ua;
	if (uname(&un) == 0)
		snprintf(ua, sizeof ua, "contree-cli/%s C/99 %s-%s-%s",
		    VERSION, un.sysname, un.release, un.machine);
	else
		snprintf(ua, sizeof ua, "contree-cli/%s C/99 unknown",
		    VERSION);
	return ua;
}

static int
headersafe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

struct api *
api_new(const struct api_cfg *cfg)
{
	struct api *a;
	const char *sc;

	a = xcalloc(1, sizeof *a);
	if (url_parse(cfg->url, &a->u) < 0) {
		free(a);
		return NULL;
	}
	if ((cfg->token && !headersafe(cfg->token)) ||
	    (cfg->project && !headersafe(cfg->project))) {
		seterr("the token or project contains control characters");
		free(a);
		return NULL;
	}
	a->h = http_new(&a->u);
	if (!a->h) {
		free(a);
		return NULL;
	}
	a->token = cfg->token ? xstrdup(cfg->token) : NULL;
	a->project = cfg->project ? xstrdup(cfg->project) : NULL;
	a->cafile = cfg->cafile ? xstrdup(cfg->cafile) : NULL;
	a->iam = cfg->iam;
	a->noretry = cfg->noretry;
	a->timeout_ms = cfg->timeout_ms;
	http_cafile(a->h, a->cafile);
	http_timeouts(a->h, cfg->timeout_ms > 0 && cfg->timeout_ms < 30000 ?
	    cfg->timeout_ms : 0, cfg->timeout_ms);
	a->scale = 1.0;
	if ((sc = getenv("CONTREE_RETRY_SCALE")) && *sc) {
		char *end;
		double d = strtod(sc, &end);

		if (!*end && d >= 0 && d <= 10)
			a->scale = d;
	}
	return a;
}

void
api_free(struct api *a)
{
	if (!a)
		return;
	http_free(a->h);
	free(a->token);
	free(a->project);
	free(a->cafile);
	buf_free(&a->target);
	buf_free(&a->hdrs);
	free(a);
}

void
api_stats(const struct api *a, long *conns, long *reqs)
{
	http_stats(a->h, conns, reqs);
}

/* <prefix>/v1<path>?k=v&... */
static void
buildtarget(struct api *a, const char *path, const char *const *q)
{
	struct buf *b = &a->target;
	int first = 1;

	buf_reset(b);
	buf_printf(b, "%s/v1%s", a->u.prefix, path);
	for (; q && q[0]; q += 2) {
		if (!q[1])
			continue;
		buf_addc(b, first ? '?' : '&');
		first = 0;
		url_encode(b, q[0]);
		buf_addc(b, '=');
		url_encode(b, q[1]);
	}
}

static void
buildheaders(struct api *a, const struct call *c)
{
	struct buf *b = &a->hdrs;

	buf_reset(b);
	buf_printf(b, "User-Agent: %s\r\n", api_user_agent());
	buf_printf(b, "Accept: %s\r\n", c->accept ? c->accept :
	    "application/json");
	buf_puts(b, "Accept-Encoding: identity\r\n");
	buf_printf(b, "Authorization: Bearer %s\r\n", a->token);
	if (a->iam && a->project)
		buf_printf(b, "Project: %s\r\n", a->project);
	if (c->extra)
		buf_puts(b, c->extra);
}

static const char *
stdreason(int st)
{
	switch (st) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 425: return "Too Early";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "";
}

/* "API <status> <reason>: <body>", control characters escaped. */
static void
apierror(int status, const char *reason, const struct buf *body)
{
	struct buf m = {0};
	size_t i, n = body && body->p ? body->len : 0;

	while (n > 0 && isspace((unsigned char)body->p[n - 1]))
		n--;
	if (!reason || !*reason)
		reason = stdreason(status);
	buf_printf(&m, "API %d ", status);
	for (i = 0; reason[i] && i < 100; i++)
		buf_addc(&m, (unsigned char)reason[i] < 0x20 ||
		    reason[i] == 0x7f ? '?' : reason[i]);
	buf_addc(&m, ':');
	if (n)
		buf_addc(&m, ' ');
	for (i = 0; i < n && i < 1500; i++) {
		unsigned char ch = (unsigned char)body->p[i];

		if (ch < 0x20 || ch == 0x7f)
			buf_printf(&m, "\\x%02x", ch);
		else
			buf_addc(&m, (char)ch);
	}
	if (n > 1500)
		buf_printf(&m, "... (%zu bytes)", n);
	seterr("%s", m.p);
	buf_free(&m);
}

/* Retry-After in ms (seconds or an HTTP-date), or -1. */
static long long
retryafter(const char *v)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char m[4];
	int d, y, hh, mm, ss, i;
	long long secs, days;

	if (!v)
		return -1;
	while (*v == ' ')
		v++;
	if (isdigit((unsigned char)*v)) {
		char *end;
		double s = strtod(v, &end);

		if (*end && !isspace((unsigned char)*end))
			return -1;
		if (s > 86400)
			s = 86400;
		return (long long)(s * 1000);
	}
	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
	if (sscanf(v, "%*3s, %d %3s %d %d:%d:%d GMT", &d, m, &y, &hh, &mm,
	    &ss) != 6)
		return -1;
	for (i = 0; i < 12 && strcmp(m, mon[i]) != 0; i++)
		;
	if (i == 12)
		return -1;
	{
		int yy = y - (i < 2), mo = i + 1;
		long long era = (yy >= 0 ? yy : yy - 399) / 400;
		long long yoe = yy - era * 400;
		long long doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
		long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

		days = era * 146097 + doe - 719468;
	}
	secs = days * 86400 + hh * 3600 + mm * 60 + ss - (long long)time(NULL);
	return secs < 0 ? 0 : secs * 1000;
}

static void
fmtdelay(char *out, size_t n, long long ms)
{
	if (ms % 1000 == 0)
		snprintf(out, n, "%lld s", ms / 1000);
	else
		snprintf(out, n, "%.1f s", ms / 1000.0);
}

/* Sleep before attempt number `try` (1-based retry count) and log it.
 * ra: Retry-After ms or -1.  0 to go on, -1 to give up (slot kept or
 * set to "interrupted"). */
static int
backoff(struct api *a, int try, long long ra, int64_t start)
{
	long long ms = try - 1 < (int)LEN(ladder) ? ladder[try - 1] :
	    ladder[LEN(ladder) - 1];
	char what[2048], d[32];

	if (ra >= 0)
		ms = ra > RA_CAP_MS ? RA_CAP_MS : ra;
	if (now_ms() - start + ms > DEADLINE_MS)
		return -1;
	snprintf(what, sizeof what, "%s", geterr());
	fmtdelay(d, sizeof d, ms);
	logmsg(LOG_WARNING, "%s; retrying in %s (attempt %d of %d)", what, d,
	    try + 1, MAXTRIES);
	if (sleep_ms((int64_t)(ms * a->scale)) < 0) {
		seterr("interrupted");
		return -1;
	}
	return 0;
}

static int
netretry(enum http_err e, int noreplay)
{
	switch (e) {
	case HTTP_ECONNECT:
	case HTTP_ETLS:
		return 1;
	case HTTP_ESEND:
	case HTTP_ELOST:
	case HTTP_ERECV:
	case HTTP_EPROTO:
		return !noreplay;
	default:
		return 0;
	}
}

static int
statusretry(int st, int noreplay, int hasra)
{
	if (st == 425 || st == 429)
		return 1;
	if (noreplay)
		return st == 503 && hasra;
	return st == 500 || st == 502 || st == 503 || st == 504;
}

typedef int (*bodyfn)(struct api *a, const struct http_resp *rs,
    void *arg, int replayable);

/* Run call c with retries.  On a 2xx answer, fn reads the body.  r gets
 * status and Location of the final answer; a non-2xx body goes to
 * r->body.  0 or -1 (slot set). */
static int
run(struct api *a, const struct call *c, struct api_resp *r, bodyfn fn,
    void *arg)
{
	int64_t start = now_ms();
	int noreplay = (c->flags & API_NOREPLAY) != 0;
	int try, stale = 0;
	struct buf err = {0};

	if (!a->token || !*a->token) {
		seterr("no token configured; run 'contree auth'");
		return -1;
	}
	if (a->iam && (!a->project || !*a->project)) {
		seterr("IAM profile without a project; run 'contree auth'");
		return -1;
	}
	buildtarget(a, c->path, c->query);
	buildheaders(a, c);
	if (r) {
		r->status = 0;
		r->location[0] = 0;
	}
	for (try = 1;; try++) {
		struct http_req rq;
		const struct http_resp *rs = NULL;
		enum http_err e;
		long long ra = -1;
		int retry = 0, st;
		const char *loc;

		memset(&rq, 0, sizeof rq);
		rq.method = c->method;
		rq.target = a->target.p;
		rq.headers = a->hdrs.p;
		rq.ctype = c->ctype;
		rq.body = c->body;
		rq.len = c->len;
		rq.fd = c->fd;
		rq.size = c->size;
		rq.fresh = noreplay;
		if (interrupted) {
			seterr("interrupted");
			return -1;
		}
		if (http_send(a->h, &rq) == 0)
			rs = http_recv(a->h, c->head);
		if (!rs) {
			e = http_errclass(a->h);
			/* a kept-alive connection the server had closed:
			 * re-open at once, once, if the request may be
			 * replayed */
			if (http_reused(a->h) && !stale && !noreplay &&
			    (e == HTTP_ESEND || e == HTTP_ELOST) &&
			    !(c->fd >= 0 && c->size < 0)) {
				stale = 1;
				try--;
				logmsg(LOG_DEBUG, "stale connection (%s); "
				    "reconnecting", geterr());
				continue;
			}
			retry = netretry(e, noreplay);
			if (c->fd >= 0 && c->size < 0)
				retry = 0;      /* body cannot be rewound */
			if (e == HTTP_ELOST && noreplay)
				seterr("%s; the request may have been "
				    "processed, so it is not re-sent", geterr());
			goto next;
		}
		st = rs->status;
		if (r) {
			r->status = st;
			loc = http_hdr(rs, "Location");
			if (loc)
				snprintf(r->location, sizeof r->location, "%s",
				    loc);
		}
		if (st / 100 == 2) {
			int rc = fn(a, rs, arg, !noreplay);

			if (rc == BODY_OK) {
				http_done(a->h);
				buf_free(&err);
				return 0;
			}
			retry = rc == BODY_RETRY;
			goto next;
		}
		ra = retryafter(http_hdr(rs, "Retry-After"));
		retry = statusretry(st, noreplay, ra >= 0);
		{
			char reason[128];

			snprintf(reason, sizeof reason, "%s", rs->reason);
			buf_reset(&err);
			if (!c->head && http_body(a->h, &err, MAXERRBODY) < 0)
				buf_reset(&err);
			if (loglevel <= LOG_DEBUG)
				http_logbody('<', http_hdr(rs, "Content-Type"),
				    err.p, err.len);
			http_done(a->h);
			apierror(st, reason, &err);
			if (!retry && r && r->body && err.len)
				buf_add(r->body, err.p, err.len);
		}
next:
		if (!retry || a->noretry || try >= MAXTRIES ||
		    backoff(a, try, ra, start) < 0) {
			buf_free(&err);
			return -1;
		}
		if (r)
			r->status = 0;
	}
}

/* ------------------------------------------------------------ calls */

struct membody {
	struct buf *b;
	size_t start;
	struct buf own;
};

static int
readmem(struct api *a, const struct http_resp *rs, void *arg, int replayable)
{
	struct membody *m = arg;
	struct buf *b = m->b ? m->b : &m->own;

	if (b->p)
		b->len = m->start;
	if (http_body(a->h, b, MAXBODY) < 0) {
		if (b->p) {
			b->len = m->start;
			b->p[b->len] = 0;
		}
		return replayable && http_errclass(a->h) != HTTP_ETIMEOUT ?
		    BODY_RETRY : BODY_FAIL;
	}
	if (loglevel <= LOG_DEBUG)
		http_logbody('<', http_hdr(rs, "Content-Type"),
		    b->p ? b->p + m->start : NULL, b->len - m->start);
	if (!m->b)
		buf_reset(&m->own);
	return BODY_OK;
}

int
api_call(struct api *a, const char *method, const char *path,
    const char *const *query, const char *json, int flags,
    struct api_resp *r)
{
	struct call c;
	struct membody m;
	int rc;

	memset(&c, 0, sizeof c);
	c.method = method;
	c.path = path;
	c.query = query;
	c.body = json;
	c.len = json ? strlen(json) : 0;
	c.ctype = json ? "application/json" : NULL;
	c.fd = -1;
	c.flags = flags;
	c.head = strcmp(method, "HEAD") == 0;
	memset(&m, 0, sizeof m);
	m.b = r ? r->body : NULL;
	m.start = m.b ? m.b->len : 0;
	rc = run(a, &c, r, readmem, &m);
	buf_free(&m.own);
	return rc;
}

int
api_upload(struct api *a, int fd, off_t size, struct api_resp *r)
{
	struct call c;
	struct membody m;
	int rc;

	memset(&c, 0, sizeof c);
	c.method = "POST";
	c.path = "/files";
	c.ctype = "application/octet-stream";
	c.fd = fd;
	c.size = size;
	memset(&m, 0, sizeof m);
	m.b = r ? r->body : NULL;
	m.start = m.b ? m.b->len : 0;
	rc = run(a, &c, r, readmem, &m);
	buf_free(&m.own);
	return rc;
}

struct dlbody {
	int fd;
	off_t start;            /* -1: fd cannot be rewound */
	void (*progress)(void *, off_t, off_t);
	void *arg;
	char *buf;
};

static int
readdl(struct api *a, const struct http_resp *rs, void *arg, int replayable)
{
	struct dlbody *d = arg;
	off_t done = 0, total = rs->clen >= 0 && !rs->chunked ?
	    (off_t)rs->clen : -1;

	if (loglevel <= LOG_DEBUG)
		logmsg(LOG_DEBUG, "< <body streamed to file: %lld bytes, %s>",
		    (long long)total, http_hdr(rs, "Content-Type") ?
		    http_hdr(rs, "Content-Type") : "no content type");
	for (;;) {
		ssize_t n = http_read(a->h, d->buf, 1 << 17);

		if (n < 0) {
			if (!replayable || http_errclass(a->h) == HTTP_ETIMEOUT)
				return BODY_FAIL;
			if (done == 0)
				return BODY_RETRY;
			if (d->start < 0 || lseek(d->fd, d->start, SEEK_SET) < 0 ||
			    ftruncate(d->fd, d->start) < 0)
				return BODY_FAIL;
			return BODY_RETRY;
		}
		if (n == 0)
			break;
		if (writeall(d->fd, d->buf, (size_t)n) < 0) {
			int e = errno;

			seterr("write:");
			http_close(a->h);
			errno = e;
			return BODY_FAIL;
		}
		done += n;
		if (d->progress)
			d->progress(d->arg, done, total);
	}
	return BODY_OK;
}

int
api_download(struct api *a, const char *path, const char *const *query,
    int fd, void (*progress)(void *arg, off_t done, off_t total),
    void *arg, struct api_resp *r)
{
	struct call c;
	struct dlbody d;
	struct stat st;
	int rc;

	memset(&c, 0, sizeof c);
	c.method = "GET";
	c.path = path;
	c.query = query;
	c.fd = -1;
	c.accept = "*/*";
	d.fd = fd;
	d.start = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		d.start = lseek(fd, 0, SEEK_CUR);
	d.progress = progress;
	d.arg = arg;
	d.buf = xmalloc(1 << 17);
	rc = run(a, &c, r, readdl, &d);
	free(d.buf);
	return rc;
}

/* ----------------------------------------------------------- events */

struct ev {
	struct api *a;
	int (*cb)(void *, const char *, const char *, size_t);
	void *arg;
	long long lastid;       /* -1: none yet */
	int progress;           /* events delivered on this connection */
	int done;               /* completion seen */
	int stopped;            /* cb asked to stop */
	int broken;             /* sse_error or bad frame */
};

enum { EV_STOP = 1, EV_BREAK = 2 };

static int
evframe(void *arg, const char *event, const char *data, size_t len)
{
	struct ev *e = arg;
	struct json j;

	if (strcmp(event, "sse_error") == 0) {
		logmsg(LOG_DEBUG, "events stream error frame: %.200s", data);
		e->broken = 1;
		return EV_BREAK;
	}
	if (json_parse(&j, data, len, NULL, 0) < 0) {
		logmsg(LOG_DEBUG, "events stream: malformed frame (%s)",
		    json_strerror(&j));
		e->broken = 1;
		return EV_BREAK;
	}
	return 0;
}

/* Status of an operation: 1 terminal, 0 active, -1 error (slot set). */
static int
opterminal(struct api *a, const char *op)
{
	struct buf b = {0}, path = {0};
	struct api_resp r;
	struct json j;
	char *st;
	int rc = -1;

	buf_printf(&path, "/operations/%s", op);
	memset(&r, 0, sizeof r);
	r.body = &b;
	if (api_call(a, "GET", path.p, NULL, NULL, 0, &r) == 0) {
		if (json_parse_alloc(&j, b.p ? b.p : "", b.len) < 0) {
			seterr("malformed reply to GET /v1%s: %s", path.p,
			    json_strerror(&j));
		} else {
			st = json_getstr(&j, 0, "status");
			rc = st && (strcmp(st, "SUCCESS") == 0 ||
			    strcmp(st, "FAILED") == 0 ||
			    strcmp(st, "CANCELLED") == 0);
			free(st);
			json_free(&j);
		}
	}
	buf_free(&b);
	buf_free(&path);
	return rc;
}

/* Frame callback wrapper: drop repeats, pass on, note completion. */
struct evwrap {
	struct ev *e;
	struct sse *s;
};

static int
evdeliver(void *arg, const char *event, const char *data, size_t len)
{
	struct evwrap *w = arg;
	struct ev *e = w->e;
	int rc = evframe(e, event, data, len);

	if (rc)
		return rc;
	if (w->s->frameid) {
		if (e->lastid >= 0 && w->s->lastid <= e->lastid)
			return 0;   /* already seen before a resume */
		e->lastid = w->s->lastid;
	}
	e->progress++;
	if (e->cb(e->arg, event, data, len)) {
		e->stopped = 1;
		return EV_STOP;
	}
	if (strcmp(event, "completion") == 0) {
		e->done = 1;
		return EV_STOP;
	}
	return 0;
}

static const int evladder[] = { 100, 200, 500, 1000, 2000, 5000 };

int
api_events(struct api *a, const char *op,
    int (*cb)(void *arg, const char *type, const char *data, size_t len),
    void *arg)
{
	struct ev e;
	struct buf path = {0}, extra = {0};
	const char *q[] = { "follow", "1", NULL };
	const char *p;
	int fails = 0, rc = -1, terminal = 0, step = 0;
	char *rbuf = xmalloc(16384);

	for (p = op; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
			seterr("bad operation id '%s'", op);
			free(rbuf);
			return -1;
		}
	memset(&e, 0, sizeof e);
	e.a = a;
	e.cb = cb;
	e.arg = arg;
	e.lastid = -1;
	buf_printf(&path, "/operations/%s/events", op);
	for (;;) {
		struct http_req rq;
		const struct http_resp *rs = NULL;
		struct sse s;
		struct evwrap w;
		long long ra = -1, wait;
		int st, brk = 0, saved = a->noretry;

		if (interrupted) {
			seterr("interrupted");
			break;
		}
		if (!a->token || !*a->token) {
			seterr("no token configured; run 'contree auth'");
			break;
		}
		buildtarget(a, path.p, q);
		buf_reset(&extra);
		if (e.lastid >= 0)
			buf_printf(&extra, "Last-Event-Id: %lld\r\n", e.lastid);
		{
			struct call c;

			memset(&c, 0, sizeof c);
			c.accept = "text/event-stream";
			c.extra = extra.p;
			buildheaders(a, &c);
		}
		memset(&rq, 0, sizeof rq);
		rq.method = "GET";
		rq.target = a->target.p;
		rq.headers = a->hdrs.p;
		rq.fd = -1;
		http_timeouts(a->h, 0, SSE_READ_MS);
		if (http_send(a->h, &rq) == 0)
			rs = http_recv(a->h, 0);
		if (!rs) {
			enum http_err ec = http_errclass(a->h);

			http_timeouts(a->h, 0, a->timeout_ms > 0 ?
			    a->timeout_ms : 300000);
			if (ec == HTTP_ECERT || ec == HTTP_ETLSPROTO ||
			    ec == HTTP_ELOCAL ||
			    ec == HTTP_EPROXY || interrupted)
				break;
			if (http_reused(a->h) && (ec == HTTP_ESEND ||
			    ec == HTTP_ELOST) && fails == 0) {
				fails++;
				continue;
			}
			if (++fails >= MAXTRIES)
				break;
			logmsg(LOG_WARNING, "%s; reconnecting to the events "
			    "stream", geterr());
			wait = ladder[fails - 1 < (int)LEN(ladder) ? fails - 1 :
			    (int)LEN(ladder) - 1];
			if (sleep_ms((int64_t)(wait * a->scale)) < 0) {
				seterr("interrupted");
				break;
			}
			continue;
		}
		st = rs->status;
		if (st != 200) {
			struct buf body = {0};
			char reason[128];

			snprintf(reason, sizeof reason, "%s", rs->reason);
			ra = retryafter(http_hdr(rs, "Retry-After"));
			if (http_body(a->h, &body, MAXERRBODY) < 0)
				buf_reset(&body);
			http_done(a->h);
			http_timeouts(a->h, 0, a->timeout_ms > 0 ?
			    a->timeout_ms : 300000);
			apierror(st, reason, &body);
			buf_free(&body);
			if (st == 400 || st == 404 || st == 405 || st == 406) {
				rc = 1;
				break;
			}
			if (st != 410 && st != 425 && st / 100 != 5)
				break;
			if (++fails >= MAXTRIES * 4)
				break;
			a->noretry = 1;
			terminal = opterminal(a, op);
			a->noretry = saved;
			if (terminal < 0)
				break;
			if (terminal) {
				rc = 1;     /* caller reads the final record */
				break;
			}
			wait = ra >= 0 ? (ra > RA_CAP_MS ? RA_CAP_MS : ra) :
			    evladder[step < (int)LEN(evladder) ? step++ :
			    (int)LEN(evladder) - 1];
			logmsg(LOG_DEBUG, "events: %d, retrying in %lld ms", st,
			    wait);
			if (sleep_ms((int64_t)(wait * a->scale)) < 0) {
				seterr("interrupted");
				break;
			}
			continue;
		}
		if (loglevel <= LOG_DEBUG)
			logmsg(LOG_DEBUG, "< <event stream>");
		/* the stream */
		memset(&s, 0, sizeof s);
		w.e = &e;
		w.s = &s;
		e.progress = 0;
		e.broken = 0;
		for (;;) {
			ssize_t n = http_read(a->h, rbuf, 16384);

			if (n < 0) {
				logmsg(LOG_DEBUG, "events stream broke: %s",
				    geterr());
				brk = 1;
				break;
			}
			if (n == 0)
				break;
			n = sse_feed(&s, rbuf, (size_t)n, evdeliver, &w);
			if (n == EV_STOP || n == EV_BREAK)
				break;
			if (n < 0) {
				brk = 1;
				break;
			}
			/* frames with an id but no data advance the cursor */
			if (s.hasid && s.lastid > e.lastid)
				e.lastid = s.lastid;
		}
		sse_free(&s);
		if (e.done || e.stopped) {
			/* let the server end the stream so the connection
			 * can serve the next request; else drop it */
			http_timeouts(a->h, 0, 1000);
			while (http_read(a->h, rbuf, 16384) > 0)
				;
			http_done(a->h);
			http_timeouts(a->h, 0, a->timeout_ms > 0 ?
			    a->timeout_ms : 300000);
			rc = 0;
			break;
		}
		http_close(a->h);
		http_timeouts(a->h, 0, a->timeout_ms > 0 ? a->timeout_ms :
		    300000);
		(void)brk;
		if (e.progress)
			fails = 0, step = 0;
		else if (++fails >= MAXTRIES * 2) {
			seterr("Network error: the events stream of %s keeps "
			    "breaking", op);
			break;
		}
		/* stream ended without completion */
		a->noretry = 1;
		terminal = opterminal(a, op);
		a->noretry = saved;
		if (terminal < 0)
			break;
		if (terminal && !e.progress) {
			rc = 1;
			break;
		}
		if (!e.progress && sleep_ms((int64_t)(500 * a->scale)) < 0) {
			seterr("interrupted");
			break;
		}
	}
	free(rbuf);
	buf_free(&path);
	buf_free(&extra);
	return rc;
}

/* ---- paged listings and image references ---- */

#define MAXPAGES 1000

int
api_list_pages(struct api *a, const char *path, const char *const *query,
    const char *arraykey, long long limit,
    int (*row)(void *arg, const struct json *j, int t),
    void (*endbatch)(void *arg), void *arg, int *more)
{
	long long page = limit + 1 < 1000 ? limit + 1 : 1000, seen = 0;
	long long offset = 0;
	const char *q[64];
	char off[32], lim[32];
	int nq = 0, pages;

	*more = 0;
	if (!a)
		return -1;
	while (query && query[nq] && nq < 58) {
		q[nq] = query[nq];
		q[nq + 1] = query[nq + 1];
		nq += 2;
	}
	q[nq] = "offset";
	q[nq + 1] = off;
	q[nq + 2] = "limit";
	q[nq + 3] = lim;
	q[nq + 4] = NULL;
	snprintf(lim, sizeof lim, "%lld", page);
	for (pages = 0; pages < MAXPAGES; pages++) {
		struct buf body = {0};
		struct api_resp r;
		struct json j;
		int arr, t, n = 0, emitted = 0;

		snprintf(off, sizeof off, "%lld", offset);
		memset(&r, 0, sizeof r);
		r.body = &body;
		if (api_call(a, "GET", path, q, NULL, 0, &r) < 0) {
			buf_free(&body);
			return -1;
		}
		if (json_parse_alloc(&j, body.p ? body.p : "", body.len) < 0) {
			seterr("malformed reply to GET %s: %s", path,
			    json_strerror(&j));
			buf_free(&body);
			return -1;
		}
		arr = arraykey ? json_get(&j, 0, arraykey) : 0;
		if (arr < 0 || j.tok[arr].type != JSON_ARRAY) {
			seterr("malformed reply to GET %s: no %s list", path,
			    arraykey ? arraykey : "JSON");
			json_free(&j);
			buf_free(&body);
			return -1;
		}
		for (t = json_first(&j, arr); t >= 0; t = json_after(&j, t)) {
			n++;
			if (seen >= limit) {
				*more = 1;
				continue;
			}
			seen++;
			emitted = 1;
			if (row(arg, &j, t) < 0) {
				json_free(&j);
				buf_free(&body);
				return -1;
			}
		}
		json_free(&j);
		buf_free(&body);
		if (emitted && endbatch)
			endbatch(arg);
		if (*more || n < page || n == 0)
			break;
		offset += n;
	}
	return 0;
}

int
api_image_resolve(struct api *a, const char *ref, char uuid[37])
{
	struct buf body = {0};
	struct api_resp r;
	struct json j;
	const char *name = ref;
	const char *q[] = {"tag", NULL, "limit", "1000", NULL};
	int imgs, t, pick = -1;

	if (is_uuid(ref)) {
		memcpy(uuid, ref, 37);
		return 0;
	}
	if (strncmp(name, "tag:", 4) == 0)
		name += 4;
	if (!a)
		return -1;
	q[1] = name;
	memset(&r, 0, sizeof r);
	r.body = &body;
	if (api_call(a, "GET", "/images", q, NULL, 0, &r) < 0) {
		buf_free(&body);
		return -1;
	}
	if (json_parse_alloc(&j, body.p ? body.p : "", body.len) < 0 ||
	    (imgs = json_get(&j, 0, "images")) < 0 ||
	    j.tok[imgs].type != JSON_ARRAY) {
		seterr("malformed reply to GET /images");
		json_free(&j);
		buf_free(&body);
		return -1;
	}
	/* the tag filter matches prefixes: prefer the exact tag */
	for (t = json_first(&j, imgs); t >= 0; t = json_after(&j, t)) {
		int tag = json_get(&j, t, "tag");

		if (pick < 0)
			pick = t;
		if (tag >= 0 && json_streq(&j, tag, name)) {
			pick = t;
			break;
		}
	}
	if (pick >= 0) {
		char *u = json_getstr(&j, pick, "uuid");

		if (u && strlen(u) == 36) {
			memcpy(uuid, u, 37);
			free(u);
			json_free(&j);
			buf_free(&body);
			return 0;
		}
		free(u);
	}
	json_free(&j);
	buf_free(&body);
	seterr("API 404 Not Found: no image with tag %s", name);
	return -1;
}

/* ---- image inspection, through the local cache ---- */

/* The cache file for what ("list" or "file") of path in image. */
static char *
inspect_cache(const char *dir, const char *image, const char *what,
    const char *path)
{
	br_sha256_context sc;
	unsigned char d[32];
	char hex[65];

	br_sha256_init(&sc);
	br_sha256_update(&sc, path, strlen(path));
	br_sha256_out(&sc, d);
	hexstr(hex, d, sizeof d);
	return xasprintf("%s/%s/%s-%s", dir, image, what, hex);
}

int
api_inspect_get(struct api *a, const char *cachedir, const char *image,
    const char *what, const char *path, int text, struct buf *body,
    int *status)
{
	struct api_resp r;
	char *url, *cache = NULL;
	const char *q[5] = {"path", path, NULL, NULL, NULL};
	int rc;

	if (status)
		*status = 0;
	if (cachedir && !text && is_uuid(image))
		cache = inspect_cache(cachedir, image, what, path);
	buf_reset(body);
	if (cache && access(cache, R_OK) == 0 && readfile(cache, body) == 0) {
		logmsg(LOG_DEBUG, "cache: %s of %s in %s", what, path, image);
		free(cache);
		if (status)
			*status = 200;
		return 0;
	}
	buf_reset(body);
	if (!a) {
		free(cache);
		return -1;
	}
	if (text) {
		q[2] = "text";
		q[3] = "1";
	}
	url = xasprintf("/inspect/%s/%s", image,
	    strcmp(what, "file") == 0 ? "download" : "list");
	memset(&r, 0, sizeof r);
	r.body = body;
	rc = api_call(a, "GET", url, q, NULL, 0, &r);
	if (status)
		*status = r.status;
	if (rc == 0 && cache && body->len <= API_INSPECT_CACHE_MAX) {
		char *d = xasprintf("%s/%s", cachedir, image);

		if (mkdirs(d, 0700) < 0 ||
		    writefile_cache(cache, body->p ? body->p : "", body->len) < 0)
			logmsg(LOG_DEBUG, "cache: %s", geterr());
		free(d);
	}
	free(url);
	free(cache);
	return rc;
}
