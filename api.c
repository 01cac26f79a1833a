/* api.c - the ConTree API over http.c: request building (base URL
 * prefix, /v1, query encoding, headers), the one retry loop, uploads,
 * downloads and the events stream (a body handler of that loop).
 *
 * Retry policy (design.md §1):
 * - idempotent requests (everything but API_NOREPLAY ones) retry on a
 *   connection that dies before the answer, 500/502/503/504, and
 *   425/429, on the ladder 1, 2, 4, 5, 10, 10, 10 s (8 attempts), or
 *   Retry-After capped at RA_CAP_MS, all within DEADLINE_MS;
 * - a refused connection or a host name that does not resolve is almost
 *   always a wrong URL: a short ladder (0.5, 1, 2 s), then the error
 *   names the URL.  Nothing was sent, so API_NOREPLAY requests retry
 *   too, and api_sent() tells the caller the request never left;
 * - a reply that arrived broken (bad framing, a body cut short) is
 *   retried at most once;
 * - API_NOREPLAY requests (spawn, import) are re-sent only when the
 *   server provably did not act: no connection, a TLS handshake failure
 *   (both before anything was written), 425, 429, or 503 with
 *   Retry-After;
 * - certificate failures, an unasked Content-Encoding, timeouts, local
 *   errors and Ctrl-C never retry.
 *
 * Deadlines: every attempt is bounded by the request timeout (connect,
 * TLS handshake, each read, and the wait for a whole in-memory answer);
 * streamed bodies (downloads, events) by the time between reads.
 * api_set_deadline() bounds everything, sleeps included.
 * CONTREE_RETRY_SCALE (test hook) multiplies every sleep. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
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
#include "jobs.h"
#include "json.h"
#include "http.h"
#include "api.h"

#include <bearssl.h>

#define MAXTRIES     8
#define DEADLINE_MS  (300 * 1000)    /* all attempts of one call */
#define RA_CAP_MS    (60 * 1000)     /* longest Retry-After we honour */
#define MAXBODY      (64 << 20)      /* JSON answers */
#define MAXERRBODY   (64 << 10)      /* error answers kept */
#define SSE_IDLE_MS  (120 * 1000)    /* silent events stream: reconnect */
#define CONNECT_MS   (30 * 1000)     /* longest connect (and handshake) */
#define DLBUF        (1 << 17)       /* one read of a streamed body */

static const int ladder[] = { 1000, 2000, 4000, 5000, 10000, 10000, 10000 };
static const int quickladder[] = { 500, 1000, 2000 };   /* wrong URL? */
static const int evladder[] = { 100, 200, 500, 1000, 2000, 5000 };

struct api {
	struct url u;
	struct http *h;
	char *token, *project, *cafile;
	char *tokenfrom;            /* where the token came from, for 401 */
	char origin[400];           /* scheme://host:port/prefix, for errors */
	int iam, noretry, req_ms;
	int64_t deadline;           /* api_set_deadline, 0 = none */
	int sent;                   /* last failed call may have arrived */
	double scale;
	struct buf target, hdrs, logb;
};

/* What a handler reports. */
enum {
	BODY_OK,        /* done: run() returns 0 */
	BODY_OTHER,     /* done the other way: run() returns 1 */
	BODY_FAIL,      /* give up (slot set) */
	BODY_RETRY,     /* try again after the back-off (or c->wait) */
	BODY_NET,       /* body I/O failed: the network policy decides */
	BODY_AGAIN      /* send again at once, as a new call */
};

struct call;
/* A 2xx answer: read the body. */
typedef int (*bodyfn)(struct api *a, const struct http_resp *rs,
    struct call *c);
/* A non-2xx answer (body read, slot set to the API error). */
typedef int (*statusfn)(struct api *a, int st, long long ra,
    struct call *c);

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
	bodyfn onbody;
	statusfn onstatus;          /* NULL: the retry policy */
	void *arg;
	int stream;                 /* long body: bounded per read only */
	int maxtries;               /* 0: MAXTRIES */
	long long wait;             /* set by a handler: next sleep, ms */
};

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

int
api_parse_timeout(const char *s, int *ms)
{
	char *end;
	double d;

	errno = 0;
	d = s && *s ? strtod(s, &end) : -1;
	if (!s || !*s || *end || errno || !(d > 0) || d > 86400) {
		seterrc(ERR_USAGE, "invalid request timeout '%s' (want seconds, "
		    "more than 0 and at most 86400)", s ? s : "");
		return -1;
	}
	*ms = d * 1000 < 1 ? 1 : (int)(d * 1000);
	return 0;
}

/* scheme://host[:port]/prefix, without user info: for messages. */
static void
setorigin(struct api *a)
{
	int v6 = strchr(a->u.host, ':') != NULL;

	snprintf(a->origin, sizeof a->origin, "%s://%s%.256s%s:%s%.100s",
	    a->u.tls ? "https" : "http", v6 ? "[" : "", a->u.host,
	    v6 ? "]" : "", a->u.port, a->u.prefix);
}

struct api *
api_new(const struct api_cfg *cfg)
{
	struct api *a;
	const char *sc, *rt;

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
	a->req_ms = API_TIMEOUT_MS;
	if (cfg->timeout_ms > 0)
		a->req_ms = cfg->timeout_ms;
	else if ((rt = getenv("CONTREE_REQUEST_TIMEOUT")) && *rt &&
	    api_parse_timeout(rt, &a->req_ms) < 0) {
		errwrap("CONTREE_REQUEST_TIMEOUT");
		free(a);
		return NULL;
	}
	a->h = http_new(&a->u);
	if (!a->h) {
		free(a);
		return NULL;
	}
	setorigin(a);
	a->token = cfg->token ? xstrdup(cfg->token) : NULL;
	a->project = cfg->project ? xstrdup(cfg->project) : NULL;
	a->cafile = cfg->cafile ? xstrdup(cfg->cafile) : NULL;
	a->tokenfrom = cfg->token_from ? xstrdup(cfg->token_from) : NULL;
	a->iam = cfg->iam;
	a->noretry = cfg->noretry;
	http_cafile(a->h, a->cafile);
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
api_set_deadline(struct api *a, int64_t abs_ms)
{
	a->deadline = abs_ms > 0 ? abs_ms : 0;
}

int
api_sent(const struct api *a)
{
	return a->sent;
}

void
api_forget(struct api *a)
{
	if (a)
		http_forget(a->h);
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
	free(a->tokenfrom);
	buf_free(&a->target);
	buf_free(&a->hdrs);
	buf_free(&a->logb);
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

/* ------------------------------------------------------ debug log */

/* Does the JSON key t name a secret?  (Case-insensitive substrings.) */
static int
secretkey(const struct json *j, int t)
{
	static const char *const words[] = {
		"token", "secret", "pass", "key", "credential", "auth"
	};
	struct buf k = {0};
	size_t i;
	int hit = 0;

	if (json_str(j, t, &k) < 0 || !k.p) {
		buf_free(&k);
		return 0;
	}
	for (i = 0; k.p[i]; i++)
		k.p[i] = (char)tolower((unsigned char)k.p[i]);
	for (i = 0; i < LEN(words) && !hit; i++)
		hit = strstr(k.p, words[i]) != NULL;
	buf_free(&k);
	return hit;
}

/* Is object token o the value of a key "env"? */
static int
envobj(const struct json *j, int o)
{
	int q = j->tok[o].parent;

	return q >= 0 && j->tok[q].type == JSON_OBJECT &&
	    json_streq(j, o - 1, "env");
}

/* A JSON request body for the debug log: string values of keys that
 * look secret, and every value of an "env" object, become <redacted>.
 * A body that does not parse is not shown. */
static void
redact(struct buf *out, const char *p, size_t n)
{
	struct json j;
	char *mark;
	size_t at = 0;
	int o, k;

	buf_reset(out);
	if (json_parse_alloc(&j, p, n) < 0) {
		buf_printf(out, "<%zu bytes, not shown: not JSON>", n);
		return;
	}
	mark = xcalloc((size_t)j.ntok + 1, 1);
	for (o = 0; o < j.ntok; o++) {
		int env;

		if (j.tok[o].type != JSON_OBJECT)
			continue;
		env = envobj(&j, o);
		for (k = json_first(&j, o); k >= 0; k = json_after(&j, k))
			if (j.tok[k + 1].type == JSON_STRING &&
			    (env || secretkey(&j, k)))
				mark[k + 1] = 1;
	}
	for (k = 0; k < j.ntok; k++) {
		if (!mark[k])
			continue;
		buf_add(out, p + at, j.tok[k].start - at);
		buf_puts(out, "<redacted>");
		at = j.tok[k].start + j.tok[k].len;
	}
	buf_add(out, p + at, n - at);
	free(mark);
	json_free(&j);
}

/* -L debug trace of a response body; JSON has its secrets redacted
 * (an operation's metadata echoes the env of its spawn). */
static void
logbody(struct api *a, const struct http_resp *rs, const char *p, size_t n)
{
	struct json j;

	if (loglevel > LOG_DEBUG)
		return;
	if (p && n && json_parse(&j, p, n, NULL, 0) >= 0) {
		redact(&a->logb, p, n);
		p = a->logb.p;
		n = a->logb.len;
	}
	http_logbody('<', http_hdr(rs, "Content-Type"), p, n);
}

static const char *
stdreason(int st)
{
	/* the codes and their reasons packed in one string, in order */
	static const short codes[] = {
		200, 201, 202, 204, 302, 304, 400, 401, 403, 404, 405, 406,
		409, 410, 413, 422, 425, 429, 500, 501, 502, 503, 504
	};
	static const char reasons[] =
	    "OK\0"
	    "Created\0"
	    "Accepted\0"
	    "No Content\0"
	    "Found\0"
	    "Not Modified\0"
	    "Bad Request\0"
	    "Unauthorized\0"
	    "Forbidden\0"
	    "Not Found\0"
	    "Method Not Allowed\0"
	    "Not Acceptable\0"
	    "Conflict\0"
	    "Gone\0"
	    "Payload Too Large\0"
	    "Unprocessable Entity\0"
	    "Too Early\0"
	    "Too Many Requests\0"
	    "Internal Server Error\0"
	    "Not Implemented\0"
	    "Bad Gateway\0"
	    "Service Unavailable\0"
	    "Gateway Timeout";
	const char *p = reasons;
	size_t i;

	for (i = 0; i < LEN(codes); i++, p += strlen(p) + 1)
		if (codes[i] == st)
			return p;
	return "";
}

/* The server's own words in an error body: the "error", "detail" or
 * "message" string of a JSON object (api.md §1.8), or NULL. */
static char *
errtext(const struct buf *body)
{
	static const char *const keys[] = {"error", "detail", "message"};
	struct json j;
	char *s = NULL;
	size_t i;

	if (!body || !body->len ||
	    json_parse_alloc(&j, body->p, body->len) < 0)
		return NULL;
	for (i = 0; !s && j.tok[0].type == JSON_OBJECT && i < LEN(keys); i++)
		s = json_getstr(&j, 0, keys[i]);
	json_free(&j);
	return s;
}

/* What to do about a refused token or project. */
static void
errhint(const struct api *a, int status, struct buf *m)
{
	if (status == 401)
		buf_printf(m, " (the token%s%s was refused: run 'contree auth' "
		    "to store a new one%s)", a->tokenfrom ? " from " : "",
		    a->tokenfrom ? a->tokenfrom : "",
		    a->tokenfrom && a->tokenfrom[0] == '$' ?
		    ", or set that variable to a valid token" : "");
	else if (status == 403 && a->project)
		buf_printf(m, " (project %s: check that the token may use it)",
		    a->project);
	else if (status == 403)
		buf_puts(m, " (the token may not do this)");
}

/* "API <status> <reason>: <the server's message, or its body>", control
 * characters escaped, with a hint for 401 and 403. */
static void
apierror(const struct api *a, int status, const char *reason,
    const struct buf *body)
{
	struct buf m = {0};
	char *text = errtext(body);
	const char *p = text ? text : body && body->p ? body->p : "";
	size_t i, n = text ? strlen(text) : body && body->p ? body->len : 0;

	while (n > 0 && isspace((unsigned char)p[n - 1]))
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
		unsigned char ch = (unsigned char)p[i];

		if (ch < 0x20 || ch == 0x7f)
			buf_printf(&m, "\\x%02x", ch);
		else
			buf_addc(&m, (char)ch);
	}
	if (n > 1500)
		buf_printf(&m, "... (%zu bytes)", n);
	errhint(a, status, &m);
	seterrc(ERR_API, "%s", m.p);
	buf_free(&m);
	free(text);
}

/* Retry-After in ms (seconds or an HTTP-date), or -1. */
static long long
retryafter(const char *v)
{
	long long secs;

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
	if (parse_httpdate(v, &secs) < 0)
		return -1;
	secs -= (long long)time(NULL);
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

/* ------------------------------------------------------ retry loop */

/* The slot for an attempt that ran into a timeout: waiting for the
 * answer (idle_ms 0), or idle_ms without a byte of a streamed body. */
static void
timeoutmsg(struct api *a, int idle_ms)
{
	char d[32];

	if (a->deadline && now_ms() >= a->deadline - 50) {
		seterrc(ERR_TIMEOUT, "Network timeout: the deadline passed "
		    "while waiting for %s", a->origin);
		return;
	}
	fmtdelay(d, sizeof d, idle_ms ? idle_ms : a->req_ms);
	seterrc(ERR_TIMEOUT, idle_ms ? "Network timeout: %s sent nothing "
	    "for %s" : "Network timeout: no answer from %s in %s", a->origin,
	    d);
}

/* Bound from now by ms, and by the call's deadline. */
static int64_t
bound(const struct api *a, int64_t ms)
{
	int64_t t = now_ms() + ms;

	return a->deadline && a->deadline < t ? a->deadline : t;
}

enum { NORETRY, LONG, QUICK, ONCE };

/* How a failed exchange may be retried (before any 2xx body). */
static int
netpolicy(enum http_err e, int noreplay)
{
	switch (e) {
	case HTTP_EDNS:
	case HTTP_EREFUSED:
		return QUICK;
	case HTTP_ECONNECT:
	case HTTP_ETLS:
		return LONG;
	case HTTP_ESEND:
	case HTTP_ELOST:
	case HTTP_ERECV:
		return noreplay ? NORETRY : LONG;
	case HTTP_EPROTO:
		return noreplay ? NORETRY : ONCE;
	default:
		return NORETRY;
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

/* Retry state of one call. */
struct tries {
	int64_t start;
	int n;                  /* attempts made */
	int nnet;               /* of them failed in the network */
	int quick, once;
	int stale;              /* 1: reconnecting now, 2: done once */
	int kind;               /* retry kind of a BODY_NET */
	long long ra;           /* Retry-After of the last answer, or -1 */
};

/* Sleep before the next attempt and log it.  0 to go on, -1 to give
 * up (slot kept, or set for Ctrl-C). */
static int
backoff(struct api *a, struct call *c, struct tries *t, int kind)
{
	int max = a->noretry ? 1 : c->maxtries ? c->maxtries : MAXTRIES;
	long long ms;
	char what[2048], d[32];

	if (max <= 1)
		return -1;
	if (kind == QUICK) {
		if (t->quick >= (int)LEN(quickladder))
			return -1;
		ms = quickladder[t->quick++];
		max = (int)LEN(quickladder) + 1;
	} else {
		if (t->n >= max)
			return -1;
		ms = c->wait >= 0 ? c->wait : t->ra >= 0 ?
		    (t->ra > RA_CAP_MS ? RA_CAP_MS : t->ra) :
		    ladder[t->n - 1 < (int)LEN(ladder) ? t->n - 1 :
		    (int)LEN(ladder) - 1];
	}
	/* (a stream may wait for a long operation: its handler counts) */
	if ((!c->stream && now_ms() - t->start + ms > DEADLINE_MS) ||
	    (a->deadline && now_ms() + (int64_t)(ms * a->scale) >=
	    a->deadline))
		return -1;
	snprintf(what, sizeof what, "%s", geterr());
	fmtdelay(d, sizeof d, ms);
	logmsg(c->wait >= 0 ? LOG_DEBUG : LOG_WARNING, "%s; retrying in %s "
	    "(attempt %d of %d)", what, d, (kind == QUICK ? t->quick :
	    t->n) + 1, max);
	if (sleep_ms((int64_t)(ms * a->scale)) < 0) {
		seterrc(ERR_INTR, "interrupted");
		return -1;
	}
	return 0;
}

/* The final words for a connection that was never made. */
static void
wrongurl(struct api *a, const struct call *c)
{
	char m[1024];

	snprintf(m, sizeof m, "%s", geterr());
	seterrc(ERR_NET, "%s (is the URL %s right?)%s", m, a->origin,
	    c->flags & API_NOREPLAY ? "; the request was not sent" : "");
}

/* Send c once and read the answer head.  NULL on failure (slot set). */
static const struct http_resp *
exchange(struct api *a, const struct call *c)
{
	struct http_req rq;

	memset(&rq, 0, sizeof rq);
	rq.method = c->method;
	rq.target = a->target.p;
	rq.headers = a->hdrs.p;
	rq.ctype = c->ctype;
	rq.body = c->body;
	rq.len = c->len;
	rq.fd = c->fd;
	rq.size = c->size;
	rq.fresh = (c->flags & API_NOREPLAY) != 0;
	if (loglevel <= LOG_DEBUG && c->body && c->len) {
		redact(&a->logb, c->body, c->len);
		rq.logbody = a->logb.p;
		rq.loglen = a->logb.len;
	}
	http_timeouts(a->h, a->req_ms < CONNECT_MS ? a->req_ms : CONNECT_MS,
	    a->req_ms);
	/* a body from a file may take long to send: only its answer is
	 * bounded as a whole */
	http_deadline(a->h, c->fd >= 0 ? a->deadline : bound(a, a->req_ms));
	if (http_send(a->h, &rq) < 0)
		return NULL;
	if (c->fd >= 0)
		http_deadline(a->h, bound(a, a->req_ms));
	return http_recv(a->h, c->head);
}

/* A failed exchange: BODY_AGAIN for a stale connection, else BODY_NET
 * with t->kind (slot set). */
static int
netfail(struct api *a, const struct call *c, struct tries *t)
{
	enum http_err e = http_errclass(a->h);
	int noreplay = (c->flags & API_NOREPLAY) != 0, k;

	a->sent = !(e == HTTP_EDNS || e == HTTP_EREFUSED ||
	    e == HTTP_ECONNECT || e == HTTP_ETLS || e == HTTP_ECERT ||
	    e == HTTP_ETLSPROTO || e == HTTP_EPROXY);
	if (e == HTTP_ETIMEOUT)
		timeoutmsg(a, 0);
	/* a kept-alive connection the server had closed: re-open at once,
	 * once, if the request may be replayed */
	if (http_reused(a->h) && !t->stale && !noreplay &&
	    (e == HTTP_ESEND || e == HTTP_ELOST) &&
	    !(c->fd >= 0 && c->size < 0)) {
		t->stale = 1;
		logmsg(LOG_DEBUG, "stale connection (%s); reconnecting",
		    geterr());
		return BODY_AGAIN;
	}
	k = netpolicy(e, noreplay);
	if (c->fd >= 0 && c->size < 0 && a->sent)
		k = NORETRY;            /* body cannot be rewound */
	if (k == ONCE && t->once++)
		k = NORETRY;
	if (e == HTTP_ELOST && noreplay)
		seterrc(ERR_NET, "%s; the request may have been processed, "
		    "so it is not re-sent", geterr());
	t->kind = k;
	return BODY_NET;
}

/* A non-2xx answer: read its body into r (if kept), set the slot. */
static int
apifail(struct api *a, struct call *c, const struct http_resp *rs,
    struct api_resp *r, struct tries *t)
{
	struct buf err = {0};
	char reason[128];
	int st = rs->status, rc;

	snprintf(reason, sizeof reason, "%s", rs->reason);
	t->ra = retryafter(http_hdr(rs, "Retry-After"));
	if (!c->head && http_body(a->h, &err, MAXERRBODY) < 0)
		buf_reset(&err);
	logbody(a, rs, err.p, err.len);
	http_done(a->h);
	apierror(a, st, reason, &err);
	if (c->onstatus)
		rc = c->onstatus(a, st, t->ra, c);
	else
		rc = statusretry(st, (c->flags & API_NOREPLAY) != 0,
		    t->ra >= 0) ? BODY_RETRY : BODY_FAIL;
	if (rc != BODY_RETRY && r && r->body && err.len)
		buf_add(r->body, err.p, err.len);
	buf_free(&err);
	return rc;
}

/* One attempt: a BODY_* code; BODY_NET with t->kind for a network
 * failure. */
static int
attempt(struct api *a, struct call *c, struct api_resp *r, struct tries *t)
{
	const struct http_resp *rs;
	const char *loc;
	int rc;

	buildtarget(a, c->path, c->query);
	buildheaders(a, c);
	rs = exchange(a, c);
	if (!rs)
		return netfail(a, c, t);
	a->sent = 1;
	if (r) {
		r->status = rs->status;
		loc = http_hdr(rs, "Location");
		if (loc)
			snprintf(r->location, sizeof r->location, "%s", loc);
	}
	if (rs->status / 100 != 2)
		return apifail(a, c, rs, r, t);
	if (c->stream)
		http_deadline(a->h, a->deadline);
	rc = c->onbody(a, rs, c);
	if (rc == BODY_OK)
		http_done(a->h);
	if (rc != BODY_NET)
		return rc;
	if (http_errclass(a->h) == HTTP_ETIMEOUT)
		timeoutmsg(a, c->stream ? a->req_ms : 0);
	t->kind = netpolicy(http_errclass(a->h), (c->flags & API_NOREPLAY) !=
	    0);
	if (t->kind == ONCE && t->once++)
		t->kind = NORETRY;
	return BODY_NET;
}

/* Run call c with retries.  r gets status and Location of the final
 * answer; a non-2xx body goes to r->body.  0, 1 (a handler's
 * BODY_OTHER) or -1 (slot set). */
static int
run(struct api *a, struct call *c, struct api_resp *r)
{
	struct tries t;
	int rc, kind;

	if (!a->token || !*a->token) {
		seterr("no token configured; run 'contree auth'");
		return -1;
	}
	if (a->iam && (!a->project || !*a->project)) {
		seterr("IAM profile without a project; run 'contree auth'");
		return -1;
	}
	memset(&t, 0, sizeof t);
	t.start = now_ms();
	a->sent = 0;
	for (;;) {
		if (r) {
			r->status = 0;
			r->location[0] = 0;
		}
		if (interrupted) {
			seterrc(ERR_INTR, "interrupted");
			return -1;
		}
		c->wait = -1;
		t.ra = -1;
		t.n++;
		rc = attempt(a, c, r, &t);
		if (rc == BODY_OK || rc == BODY_OTHER)
			return rc == BODY_OK ? 0 : 1;
		if (interrupted) {
			seterrc(ERR_INTR, "interrupted");
			return -1;
		}
		switch (rc) {
		case BODY_AGAIN:
			if (t.stale == 1) {
				t.stale = 2;    /* not counted */
				t.n--;
			} else {
				t.n = t.nnet = 0;   /* progress: a new call */
				t.start = now_ms();
			}
			continue;
		case BODY_RETRY:
			kind = LONG;
			break;
		case BODY_NET:
			kind = ++t.nnet < MAXTRIES ? t.kind : NORETRY;
			break;
		default:
			return -1;
		}
		if (kind == NORETRY)
			return -1;
		if (backoff(a, c, &t, kind) < 0) {
			if (kind == QUICK && geterrclass() != ERR_INTR)
				wrongurl(a, c);
			return -1;
		}
	}
}

/* ------------------------------------------------------------ calls */

struct membody {
	struct buf *b;
	size_t start;
	struct buf own;
};

static int
readmem(struct api *a, const struct http_resp *rs, struct call *c)
{
	struct membody *m = c->arg;
	struct buf *b = m->b ? m->b : &m->own;

	if (b->p)
		b->len = m->start;
	if (http_body(a->h, b, MAXBODY) < 0) {
		if (b->p) {
			b->len = m->start;
			b->p[b->len] = 0;
		}
		return BODY_NET;
	}
	logbody(a, rs, b->p ? b->p + m->start : NULL, b->len - m->start);
	if (!m->b)
		buf_reset(&m->own);
	return BODY_OK;
}

/* Run c with its answer into r->body (if any). */
static int
runmem(struct api *a, struct call *c, struct api_resp *r)
{
	struct membody m;
	int rc;

	memset(&m, 0, sizeof m);
	m.b = r ? r->body : NULL;
	m.start = m.b ? m.b->len : 0;
	c->onbody = readmem;
	c->arg = &m;
	rc = run(a, c, r);
	buf_free(&m.own);
	return rc;
}

int
api_call(struct api *a, const char *method, const char *path,
    const char *const *query, const char *json, int flags,
    struct api_resp *r)
{
	struct call c;

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
	return runmem(a, &c, r);
}

int
api_upload(struct api *a, int fd, off_t size, struct api_resp *r)
{
	struct call c;

	memset(&c, 0, sizeof c);
	c.method = "POST";
	c.path = "/files";
	c.ctype = "application/octet-stream";
	c.fd = fd;
	c.size = size;
	return runmem(a, &c, r);
}

struct dlbody {
	int (*sink)(void *arg, const char *p, size_t n, off_t total);
	void *arg;
	char *buf;
};

/* A body that broke after done bytes reached the sink: the sink starts
 * again from byte 0 (no Range requests: api.md does not promise them),
 * or the call ends here. */
static int
dlbroken(struct dlbody *d, off_t done)
{
	char m[1024];

	if (done == 0 || d->sink(d->arg, NULL, 0, -1) == 0)
		return BODY_NET;
	snprintf(m, sizeof m, "%s", geterr());
	seterrc(ERR_NET, "%s after %lld bytes (they cannot be taken back, "
	    "so the download is not retried)", m, (long long)done);
	return BODY_FAIL;
}

static int
readdl(struct api *a, const struct http_resp *rs, struct call *c)
{
	struct dlbody *d = c->arg;
	off_t done = 0, total = rs->clen >= 0 && !rs->chunked ?
	    (off_t)rs->clen : -1;

	if (loglevel <= LOG_DEBUG)
		logmsg(LOG_DEBUG, "< <body streamed: %lld bytes, %s>",
		    (long long)total, http_hdr(rs, "Content-Type") ?
		    http_hdr(rs, "Content-Type") : "no content type");
	for (;;) {
		ssize_t n = http_read(a->h, d->buf, DLBUF);

		if (n < 0)
			return dlbroken(d, done);
		if (n == 0)
			break;
		if (d->sink(d->arg, d->buf, (size_t)n, total) < 0) {
			int e = errno;

			http_close(a->h);
			errno = e;
			return BODY_FAIL;
		}
		done += n;
	}
	return BODY_OK;
}

int
api_fetch(struct api *a, const char *path, const char *const *query,
    int (*sink)(void *arg, const char *p, size_t n, off_t total),
    void *arg, struct api_resp *r)
{
	struct call c;
	struct dlbody d;
	int rc;

	memset(&c, 0, sizeof c);
	c.method = "GET";
	c.path = path;
	c.query = query;
	c.fd = -1;
	c.accept = "*/*";
	c.stream = 1;
	c.onbody = readdl;
	c.arg = &d;
	d.sink = sink;
	d.arg = arg;
	d.buf = xmalloc(DLBUF);
	rc = run(a, &c, r);
	free(d.buf);
	return rc;
}

struct fdsink {
	int fd;
	off_t start, done;      /* start -1: fd cannot be rewound */
	void (*progress)(void *, off_t, off_t);
	void *arg;
};

static int
fdsink(void *arg, const char *p, size_t n, off_t total)
{
	struct fdsink *f = arg;

	if (!p) {               /* again from the start */
		if (f->start < 0 || lseek(f->fd, f->start, SEEK_SET) < 0 ||
		    ftruncate(f->fd, f->start) < 0)
			return -1;
		f->done = 0;
		return 0;
	}
	if (writeall(f->fd, p, n) < 0) {
		seterr("write:");
		return -1;
	}
	f->done += (off_t)n;
	if (f->progress)
		f->progress(f->arg, f->done, total);
	return 0;
}

int
api_download(struct api *a, const char *path, const char *const *query,
    int fd, void (*progress)(void *arg, off_t done, off_t total),
    void *arg, struct api_resp *r)
{
	struct fdsink f;
	struct stat st;

	f.fd = fd;
	f.start = -1;
	f.done = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		f.start = lseek(fd, 0, SEEK_CUR);
	f.progress = progress;
	f.arg = arg;
	return api_fetch(a, path, query, fdsink, &f, r);
}

/* ----------------------------------------------------------- events */

struct ev {
	const char *op;
	int (*cb)(void *, const char *, const char *, size_t);
	void *arg;
	long long lastid;       /* -1: none yet */
	int progress;           /* events delivered on this connection */
	int done;               /* completion seen */
	int stopped;            /* cb asked to stop */
	int fails, step;        /* broken streams and 425s in a row */
	char *rbuf;
	struct buf *extra;      /* the Last-Event-Id header */
};

enum { EV_STOP = 1, EV_BREAK = 2 };

static int
evframe(const char *event, const char *data, size_t len)
{
	struct json j;

	if (strcmp(event, "sse_error") == 0) {
		logmsg(LOG_DEBUG, "events stream error frame: %.200s", data);
		return EV_BREAK;
	}
	if (json_parse(&j, data, len, NULL, 0) < 0) {
		logmsg(LOG_DEBUG, "events stream: malformed frame (%s)",
		    json_strerror(&j));
		return EV_BREAK;
	}
	return 0;
}

/* Status of an operation, one attempt: 1 terminal, 0 active, -1 error
 * (slot set). */
static int
opterminal(struct api *a, const char *op)
{
	struct buf b = {0}, path = {0};
	struct api_resp r;
	struct call c;
	struct json j;
	char *st;
	int rc = -1;

	buf_printf(&path, "/operations/%s", op);
	memset(&c, 0, sizeof c);
	c.method = "GET";
	c.path = path.p;
	c.fd = -1;
	c.maxtries = 1;
	memset(&r, 0, sizeof r);
	r.body = &b;
	if (runmem(a, &c, &r) == 0) {
		if (json_parse_alloc(&j, b.p ? b.p : "", b.len) < 0) {
			seterrc(ERR_API, "malformed reply to GET /v1%s: %s",
			    path.p, json_strerror(&j));
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
	int rc = evframe(event, data, len);

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

/* Read the stream until completion, a stop, its end or a break. */
static void
evread(struct api *a, struct ev *e)
{
	struct sse s;
	struct evwrap w;
	ssize_t n;

	memset(&s, 0, sizeof s);
	w.e = e;
	w.s = &s;
	e->progress = 0;
	http_timeouts(a->h, a->req_ms, SSE_IDLE_MS);
	for (;;) {
		n = http_read(a->h, e->rbuf, 16384);
		if (n < 0)
			logmsg(LOG_DEBUG, "events stream broke: %s", geterr());
		if (n <= 0)
			break;
		n = sse_feed(&s, e->rbuf, (size_t)n, evdeliver, &w);
		if (n != 0)
			break;      /* stop, break, or a frame too large */
		/* frames with an id but no data advance the cursor */
		if (s.hasid && s.lastid > e->lastid)
			e->lastid = s.lastid;
	}
	sse_free(&s);
}

/* The events stream (a 2xx body): deliver, then decide how to go on. */
static int
evbody(struct api *a, const struct http_resp *rs, struct call *c)
{
	struct ev *e = c->arg;
	int t;

	(void)rs;
	logmsg(LOG_DEBUG, "< <event stream>");
	evread(a, e);
	if (e->done || e->stopped) {
		/* let the server end the stream so the connection can
		 * serve the next request; else it is dropped */
		http_timeouts(a->h, a->req_ms, 1000);
		while (http_read(a->h, e->rbuf, 16384) > 0)
			;
		return BODY_OK;
	}
	http_close(a->h);
	if (a->deadline && now_ms() >= a->deadline) {
		timeoutmsg(a, 0);
		return BODY_FAIL;
	}
	buf_reset(e->extra);
	if (e->lastid >= 0)
		buf_printf(e->extra, "Last-Event-Id: %lld\r\n", e->lastid);
	c->extra = e->extra->p;
	if (e->progress) {
		e->fails = e->step = 0;
		return BODY_AGAIN;
	}
	if (++e->fails >= MAXTRIES * 2) {
		neterr(ERR_NET, "the events stream of %s keeps "
		    "breaking", e->op);
		return BODY_FAIL;
	}
	/* ended without completion or anything new */
	if ((t = opterminal(a, e->op)) != 0)
		return t < 0 ? BODY_FAIL : BODY_OTHER;
	seterrc(ERR_NET, "the events stream of %s ended early", e->op);
	c->wait = 500;
	return BODY_RETRY;
}

/* A non-2xx answer to the events request (api.md §4.5). */
static int
evstatus(struct api *a, int st, long long ra, struct call *c)
{
	struct ev *e = c->arg;
	char msg[1024];
	int t;

	if (st == 400 || st == 404 || st == 405 || st == 406)
		return BODY_OTHER;      /* no events route: poll instead */
	if (st != 410 && st != 425 && st / 100 != 5)
		return BODY_FAIL;
	snprintf(msg, sizeof msg, "%s", geterr());
	if ((t = opterminal(a, e->op)) != 0)
		return t < 0 ? BODY_FAIL : BODY_OTHER;
	seterrc(ERR_API, "%s", msg);
	c->wait = ra >= 0 ? (ra > RA_CAP_MS ? RA_CAP_MS : ra) :
	    evladder[e->step < (int)LEN(evladder) ? e->step++ :
	    (int)LEN(evladder) - 1];
	return BODY_RETRY;
}

int
api_events(struct api *a, const char *op,
    int (*cb)(void *arg, const char *type, const char *data, size_t len),
    void *arg)
{
	struct ev e;
	struct call c;
	struct buf path = {0}, extra = {0};
	const char *q[] = { "follow", "1", NULL };
	const char *p;
	char *rbuf;
	int rc;

	for (p = op; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
			seterr("bad operation id '%s'", op);
			return -1;
		}
	rbuf = xmalloc(16384);
	memset(&e, 0, sizeof e);
	e.op = op;
	e.cb = cb;
	e.arg = arg;
	e.lastid = -1;
	e.rbuf = rbuf;
	e.extra = &extra;
	buf_printf(&path, "/operations/%s/events", op);
	memset(&c, 0, sizeof c);
	c.method = "GET";
	c.path = path.p;
	c.query = q;
	c.fd = -1;
	c.accept = "text/event-stream";
	c.stream = 1;
	c.maxtries = MAXTRIES * 4;
	c.onbody = evbody;
	c.onstatus = evstatus;
	c.arg = &e;
	rc = run(a, &c, NULL);
	http_timeouts(a->h, a->req_ms, a->req_ms);
	free(rbuf);
	buf_free(&path);
	buf_free(&extra);
	return rc;
}

/* ---- paged listings and image references ---- */

#define MAXPAGES 1000

/* One listing (api_list_pages): what to ask and where the rows go. */
struct lister {
	const char *path, *arraykey;
	long long limit, size, seen;    /* size: items asked per page */
	int (*row)(void *arg, const struct json *j, int t);
	void (*endbatch)(void *arg);
	void *arg;
	int *more;
	const char *q[64];              /* the caller's query + offset, limit */
	char off[32], lim[32];
};

/* GET the page at offset, its body appended to body.  0, or -1. */
static int
page_get(struct api *a, struct lister *L, long long offset,
    struct buf *body)
{
	struct api_resp r;

	snprintf(L->off, sizeof L->off, "%lld", offset);
	memset(&r, 0, sizeof r);
	r.body = body;
	return api_call(a, "GET", L->path, L->q, NULL, 0, &r);
}

/* Parse a page: the token of its array (j then to be freed), or -1
 * with the slot set (j freed). */
static int
page_parse(const struct lister *L, const char *p, size_t len,
    struct json *j)
{
	int arr;

	if (json_parse_alloc(j, p ? p : "", len) < 0) {
		seterr("malformed reply to GET %s: %s", L->path,
		    json_strerror(j));
		json_free(j);
		return -1;
	}
	arr = L->arraykey ? json_get(j, 0, L->arraykey) : 0;
	if (arr < 0 || j->tok[arr].type != JSON_ARRAY) {
		seterr("malformed reply to GET %s: no %s list", L->path,
		    L->arraykey ? L->arraykey : "JSON");
		json_free(j);
		return -1;
	}
	return arr;
}

static long long
page_count(const struct json *j, int arr)
{
	long long n = 0;
	int t;

	for (t = json_first(j, arr); t >= 0; t = json_after(j, t))
		n++;
	return n;
}

/* Hand the items of a parsed page to row() while fewer than limit were
 * given (*more once one is left over), then endbatch().  The number of
 * items, or -1 when row() failed. */
static long long
page_emit(struct lister *L, const struct json *j, int arr)
{
	long long n = 0;
	int t, emitted = 0;

	for (t = json_first(j, arr); t >= 0; t = json_after(j, t)) {
		n++;
		if (L->seen >= L->limit) {
			*L->more = 1;
			continue;
		}
		L->seen++;
		emitted = 1;
		if (L->row(L->arg, j, t) < 0)
			return -1;
	}
	if (emitted && L->endbatch)
		L->endbatch(L->arg);
	return n;
}

/* 1 when a page of n items ends the listing: a short or empty page
 * (api.md §5.1), or the item past the limit seen. */
static int
page_last(const struct lister *L, long long n)
{
	return *L->more || n < L->size || n == 0;
}

/* Fetch, parse and emit the page at offset here: its item count, or
 * -1 with the slot set. */
static long long
page_here(struct api *a, struct lister *L, long long offset)
{
	struct buf body = {0};
	struct json j;
	long long n = -1;
	int arr;

	if (page_get(a, L, offset, &body) == 0 &&
	    (arr = page_parse(L, body.p, body.len, &j)) >= 0) {
		n = page_emit(L, &j, arr);
		json_free(&j);
	}
	buf_free(&body);
	return n;
}

/* ---- the pages after the first in parallel (CONTREE_CONCURRENCY)
 *
 * w fetchers: this process, which GETs page 1 over the connection page
 * 0 came on while w - 1 jobs (jobs.h) start, and the jobs, whole
 * clients each on a kept-alive connection of its own.  The parent hands
 * out the page numbers from 2 on ("tickets", 4 bytes each) through one
 * pipe all jobs read; a job GETs its page at number * size and sends
 * {page, class} + the body (or the error message) back.  The parent
 * keeps at most w pages ahead of the next one to emit (a window of w
 * slots, page % w), emits them in order with
 * the same rules as the sequential walk, hands out no ticket past a
 * short page, and ends the jobs (SIGKILL: GETs only) when done.  So at
 * most w - 1 requests go past the end, as in the reference client, and
 * memory is w pages whatever the listing's size. */

#define PAGE_REPORTED 3         /* a job's exit status after it sent an
                                   error: not a crash */

struct pagehdr {
	int32_t page, cls;
};

struct pslot {
	int state;                      /* PS_* */
	int arr, cls;
	long long n;
	struct buf body;
	struct json j;
	char *msg;
};

enum { PS_NONE, PS_PAGE, PS_ERR };

struct par {
	struct api *a;
	struct lister *L;
	int w;
	long long npages;       /* pages the listing may need (limit + 1) */
	long long next;         /* the next page to emit */
	long long issued;       /* pages asked for: [1, issued) (1: ours,
	                           the rest: tickets handed out) */
	long long end;          /* first short page seen (npages: none) */
	int tix[2];             /* ticket pipe; tix[1] -1 once closed */
	struct pslot *slot;     /* w of them */
	int crashed;            /* a job ended without saying why */
	int nostart;            /* jobs that could not start (fork) */
	char *why;              /* ... or could not start: what it said */
	int whycls;
};

static void
pslot_clear(struct pslot *s)
{
	if (s->state == PS_PAGE)
		json_free(&s->j);
	buf_free(&s->body);
	free(s->msg);
	memset(s, 0, sizeof *s);
}

/* In a job: the pages named by tickets until there are none. */
static int
page_job(void *arg)
{
	struct par *p = arg;
	struct buf m = {0};
	struct pagehdr h;
	uint32_t t;
	ssize_t r;
	int rc;

	api_forget(p->a);
	if (p->tix[1] >= 0)
		close(p->tix[1]);
	for (;;) {
		r = read(p->tix[0], &t, sizeof t);
		if (r < 0 && errno == EINTR && !interrupted)
			continue;
		if (r <= 0 || r != (ssize_t)sizeof t)
			break;
		memset(&h, 0, sizeof h);
		h.page = (int32_t)t;
		buf_reset(&m);
		buf_add(&m, &h, sizeof h);
		if ((rc = page_get(p->a, p->L, (long long)t * p->L->size,
		    &m)) < 0) {
			h.cls = geterrclass() ? geterrclass() : ERR_OTHER;
			buf_reset(&m);
			buf_add(&m, &h, sizeof h);
			buf_puts(&m, geterr());
		}
		if (job_send(m.p, m.len) < 0 || rc < 0) {
			buf_free(&m);
			return rc < 0 ? PAGE_REPORTED : 1;
		}
	}
	buf_free(&m);
	return 0;
}

/* In the parent: page (cls 0: its body; else the error message) into
 * its slot. */
static void
page_store(struct par *p, long long page, int cls, const char *msg,
    size_t len)
{
	struct pslot *s;

	if (page < p->next || page >= p->issued)
		return;
	s = &p->slot[page % p->w];
	pslot_clear(s);
	if (!cls) {
		buf_add(&s->body, msg, len);
		if ((s->arr = page_parse(p->L, s->body.p, s->body.len,
		    &s->j)) >= 0) {
			s->state = PS_PAGE;
			s->n = page_count(&s->j, s->arr);
			if (s->n < p->L->size && page < p->end)
				p->end = page;
			return;
		}
		cls = geterrclass();
		msg = geterr();
		len = strlen(msg);
	}
	s->state = PS_ERR;
	s->cls = cls;
	s->msg = xstrndup(msg, len);
}

static void
page_msg(void *ctx, int id, const char *msg, size_t len)
{
	struct pagehdr h;

	(void)id;
	if (len < sizeof h)
		return;
	memcpy(&h, msg, sizeof h);
	page_store(ctx, h.page, h.cls, msg + sizeof h, len - sizeof h);
}

/* In the parent: the page over the connection page 0 came on (page 1
 * while the jobs start on theirs; any page when none could start). */
static void
page_ours(struct par *p, long long page)
{
	struct buf b = {0};

	if (page_get(p->a, p->L, page * p->L->size, &b) == 0)
		page_store(p, page, 0, b.p ? b.p : "", b.len);
	else
		page_store(p, page, geterrclass() ? geterrclass() : ERR_OTHER,
		    geterr(), strlen(geterr()));
	buf_free(&b);
}

static void
page_end(void *ctx, int id, int status)
{
	struct par *p = ctx;

	(void)id;
	if (status == 0 || status == PAGE_REPORTED || interrupted)
		return;
	if (status > 0) {
		p->crashed = 1;
		free(p->why);
		p->why = xasprintf("a listing job ended with status %d", status);
		p->whycls = ERR_OTHER;
	} else {                /* not started: the slot says why */
		p->nostart++;
		if (!p->why) {
			p->why = xstrdup(geterr());
			p->whycls = geterrclass();
		}
		clearerr_slot();
	}
}

/* Hand out the tickets the window allows; close the pipe once no more
 * will ever be. */
static void
page_issue(struct par *p)
{
	uint32_t t[64];
	int k = 0;

	while (p->issued < p->next + p->w && p->issued < p->npages &&
	    p->issued <= p->end && k < (int)LEN(t))
		t[k++] = (uint32_t)p->issued++;
	if (k && writeall(p->tix[1], t, (size_t)k * sizeof t[0]) < 0)
		p->crashed = 1;         /* no reader left: stuck */
	if (p->tix[1] >= 0 && (p->issued >= p->npages || p->issued > p->end)) {
		close(p->tix[1]);
		p->tix[1] = -1;
	}
}

/* Emit the slots that are next in order.  1 when the listing is over
 * (0 returned by the caller), 0 to wait for more, -1 on failure. */
static int
page_drain(struct par *p)
{
	struct pslot *s;
	long long n;

	while ((s = &p->slot[p->next % p->w])->state != PS_NONE) {
		if (s->state == PS_ERR) {
			seterrc(s->cls ? s->cls : ERR_OTHER, "%s", s->msg);
			return -1;
		}
		n = page_emit(p->L, &s->j, s->arr);
		pslot_clear(s);
		if (n < 0)
			return -1;
		if (page_last(p->L, n) || p->next + 1 >= p->npages)
			return 1;
		p->next++;
		page_issue(p);
	}
	return 0;
}

/* Pages 1 .. npages - 1 by w fetchers: this process (page 1, on its
 * kept-alive connection) and w - 1 jobs (the rest).  0, -1, or 1 when
 * nothing was fetched (no pipe). */
static int
list_parallel(struct api *a, struct lister *L, int w, long long npages)
{
	struct par p;
	struct jobs *js;
	int i, rc = 0;

	memset(&p, 0, sizeof p);
	p.a = a;
	p.L = L;
	p.w = w;
	p.npages = npages;
	p.next = 1;
	p.issued = 2;           /* page 1 is ours */
	p.end = npages;
	if (pipe(p.tix) < 0)
		return 1;       /* (EMFILE) the caller fetches them alone */
	fcntl(p.tix[0], F_SETFD, FD_CLOEXEC);
	fcntl(p.tix[1], F_SETFD, FD_CLOEXEC);
	p.slot = xcalloc((size_t)w, sizeof *p.slot);
	page_issue(&p);
	js = jobs_new(w - 1, page_msg, page_end, &p);
	for (i = 0; i < w - 1; i++)
		jobs_add(js, i, page_job, &p);
	jobs_step(js, -1, 0);   /* start them */
	page_ours(&p, 1);
	for (;;) {
		if ((rc = page_drain(&p)) != 0)
			break;
		if (interrupted) {
			seterrc(ERR_INTR, "interrupted");
			rc = -1;
			break;
		}
		if (!p.crashed && !jobs_pending(js) && p.nostart == w - 1) {
			/* no job could start (fork: EAGAIN): the rest here */
			page_ours(&p, p.next);
			continue;
		}
		if (p.crashed || !jobs_pending(js)) {
			seterrc(p.why ? p.whycls : ERR_OTHER, "%s", p.why ?
			    p.why : "the listing jobs ended early");
			rc = -1;
			break;
		}
		/* bounded: a signal just before poll(2) must not hang us */
		jobs_step(js, -1, 250);
	}
	jobs_free(js);          /* what still runs went past the end */
	if (p.tix[1] >= 0)
		close(p.tix[1]);
	close(p.tix[0]);
	for (i = 0; i < w; i++)
		pslot_clear(&p.slot[i]);
	free(p.slot);
	free(p.why);
	return rc < 0 ? -1 : 0;
}

int
api_list_pages(struct api *a, const char *path, const char *const *query,
    const char *arraykey, long long limit,
    int (*row)(void *arg, const struct json *j, int t),
    void (*endbatch)(void *arg), void *arg, int *more)
{
	struct lister L;
	long long n, offset, npages;
	int nq = 0, pages, w, rc;

	*more = 0;
	if (!a)
		return -1;
	memset(&L, 0, sizeof L);
	L.path = path;
	L.arraykey = arraykey;
	L.limit = limit;
	L.size = limit + 1 < 1000 ? limit + 1 : 1000;
	L.row = row;
	L.endbatch = endbatch;
	L.arg = arg;
	L.more = more;
	while (query && query[nq] && nq < 58) {
		L.q[nq] = query[nq];
		L.q[nq + 1] = query[nq + 1];
		nq += 2;
	}
	L.q[nq] = "offset";
	L.q[nq + 1] = L.off;
	L.q[nq + 2] = "limit";
	L.q[nq + 3] = L.lim;
	L.q[nq + 4] = NULL;
	snprintf(L.lim, sizeof L.lim, "%lld", L.size);
	/* the first page here, as a small listing is all one page */
	if ((n = page_here(a, &L, 0)) < 0)
		return -1;
	if (page_last(&L, n))
		return 0;
	/* pages that can hold limit + 1 items: the rest in parallel when
	 * there are at least two more to fetch */
	npages = limit / L.size + 1;
	if (npages > MAXPAGES)
		npages = MAXPAGES;
	if (n == L.size && npages > 2 && (w = jobs_concurrency()) > 1 &&
	    (rc = list_parallel(a, &L, w < npages - 1 ? w :
	    (int)(npages - 1), npages)) <= 0)
		return rc;
	/* CONTREE_CONCURRENCY=1: one page after the other, one connection */
	offset = n;
	for (pages = 1; pages < MAXPAGES; pages++) {
		if ((n = page_here(a, &L, offset)) < 0)
			return -1;
		if (page_last(&L, n))
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
	if (!*name) {   /* the server's filter would match every image */
		seterr("empty image reference '%s': give a UUID or a tag", ref);
		return -1;
	}
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

int
api_image_exists(struct api *a, const char *uuid)
{
	struct api_resp r;
	char *path;
	int rc;

	if (!a)
		return -1;
	path = xasprintf("/inspect/%s/", uuid);
	memset(&r, 0, sizeof r);
	rc = api_call(a, "GET", path, NULL, NULL, 0, &r);
	free(path);
	if (rc < 0 && r.status == 404) {
		seterrc(ERR_API, "no image %s on the server ('contree images -a' lists them)",
		    uuid);
		return 0;
	}
	return rc < 0 ? -1 : 1;
}

int
api_image_check(struct api *a, const char *uuid)
{
	return api_image_exists(a, uuid) == 1 ? 0 : -1;
}

int
api_image_tag(struct api *a, const char *uuid, const char *tag)
{
	struct buf js = {0};
	struct api_resp r;
	struct jw w;
	char *path;
	int rc;

	if (!a)
		return -1;
	jw_init(&w, &js, 0);
	jw_obj(&w);
	jw_key(&w, "tag");
	jw_str(&w, tag);
	jw_obj_end(&w);
	path = xasprintf("/images/%s/tag", uuid);
	memset(&r, 0, sizeof r);
	rc = api_call(a, "PATCH", path, NULL, js.p, 0, &r);
	free(path);
	buf_free(&js);
	return rc;
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

/* The cached copy at path to sink, a block at a time.  0, -1 (slot
 * set: the sink's error), 1 when there is no readable copy. */
static int
cache_to_sink(const char *path,
    int (*sink)(void *arg, const char *p, size_t n, off_t total), void *arg)
{
	struct stat st;
	char *b;
	ssize_t n;
	int fd = open(path, O_RDONLY), rc = 0;

	if (fd < 0)
		return 1;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return 1;
	}
	b = xmalloc(DLBUF);
	while (rc == 0 && (n = read(fd, b, DLBUF)) != 0) {
		if (n < 0 && errno == EINTR && !interrupted)
			continue;
		if (n < 0) {
			seterr("reading %s:", path);
			rc = -1;
		} else {
			rc = sink(arg, b, (size_t)n, st.st_size);
		}
	}
	free(b);
	close(fd);
	return rc;
}

/* A sink that also keeps the body in a cache file while it stays small:
 * a file over API_INSPECT_CACHE_MAX is not kept (nor held anywhere). */
struct tee {
	int (*sink)(void *arg, const char *p, size_t n, off_t total);
	void *arg;
	int fd;                 /* the temporary cache file, -1: none */
	char *tmp;
	off_t n;
};

static void
tee_drop(struct tee *t)
{
	if (t->fd < 0)
		return;
	close(t->fd);
	unlink(t->tmp);
	t->fd = -1;
}

static int
teesink(void *arg, const char *p, size_t n, off_t total)
{
	struct tee *t = arg;

	if (!p && t->fd >= 0 && (lseek(t->fd, 0, SEEK_SET) < 0 ||
	    ftruncate(t->fd, 0) < 0))
		tee_drop(t);
	if (!p) {
		t->n = 0;
		return t->sink(t->arg, NULL, 0, -1);
	}
	if (t->sink(t->arg, p, n, total) < 0)
		return -1;
	if (t->fd >= 0 && (total > API_INSPECT_CACHE_MAX ||
	    t->n + (off_t)n > API_INSPECT_CACHE_MAX ||
	    writeall(t->fd, p, n) < 0))
		tee_drop(t);
	t->n += (off_t)n;
	return 0;
}

int
api_inspect_stream(struct api *a, const char *cachedir, const char *image,
    const char *path, int (*sink)(void *arg, const char *p, size_t n,
    off_t total), void *arg, int *status)
{
	struct api_resp r;
	struct tee t;
	char *url, *cache = NULL, *d;
	const char *q[3] = {"path", path, NULL};
	int rc;

	if (status)
		*status = 0;
	if (cachedir && is_uuid(image))
		cache = inspect_cache(cachedir, image, "file", path);
	if (cache && (rc = cache_to_sink(cache, sink, arg)) <= 0) {
		logmsg(LOG_DEBUG, "cache: file %s in %s", path, image);
		free(cache);
		if (status && rc == 0)
			*status = 200;
		return rc;
	}
	if (!a) {
		free(cache);
		return -1;
	}
	memset(&t, 0, sizeof t);
	t.sink = sink;
	t.arg = arg;
	t.fd = -1;
	if (cache) {
		d = xasprintf("%s/%s", cachedir, image);
		t.tmp = xasprintf("%s.tmp-XXXXXX", cache);
		if (mkdirs(d, 0700) == 0)
			t.fd = mkstemp(t.tmp);
		free(d);
	}
	url = xasprintf("/inspect/%s/download", image);
	memset(&r, 0, sizeof r);
	rc = api_fetch(a, url, q, teesink, &t, &r);
	if (status)
		*status = r.status;
	if (t.fd >= 0) {
		int kept = rc == 0 && close(t.fd) == 0 &&
		    rename(t.tmp, cache) == 0;

		if (rc != 0)
			close(t.fd);
		if (!kept)
			unlink(t.tmp);
	}
	free(t.tmp);
	free(url);
	free(cache);
	return rc;
}

/* The "uuid" of a POST reply.  0, or -1 with the slot set. */
int
api_reply_uuid(const struct buf *body, const char *what, char uuid[37])
{
	struct json j;
	char *u;

	if (json_parse_alloc(&j, body->p ? body->p : "", body->len) < 0) {
		seterr("malformed reply to %s: %s", what, json_strerror(&j));
		return -1;
	}
	u = j.tok[0].type == JSON_OBJECT ? json_getstr(&j, 0, "uuid") : NULL;
	json_free(&j);
	if (!u || !is_uuid(u)) {
		free(u);
		seterr("malformed reply to %s: no uuid", what);
		return -1;
	}
	memcpy(uuid, u, 37);
	free(u);
	return 0;
}
