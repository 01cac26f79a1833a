/* unit_http.c - HTTP framing (cases in tests/http/NAME.txt fed whole, split
 * at every byte, and one byte at a time through a memory transport),
 * URL parsing, query encoding and the SSE parser.
 *
 * Case file format: "key: value" lines, then a line "---", then the
 * response bytes.  In the response, newlines of the file are ignored;
 * escapes \r \n \t \\ \xHH and \R{count}{text} (text repeated) make the
 * bytes.  Keys: status (expected), body (expected, same escapes), hdr
 * ("Name: value" expected), error (expected substring of the error),
 * head (1: answer to HEAD), reusable (1/0: connection kept after). */
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "../util.h"
#include "../http.h"
#include "../api.h"
#include "unit.h"

static const char *dir = "tests/http";

/* ------------------------------------------------------------ helpers */

static int
hexv(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Expand escapes of s[0..n) into out; newlines dropped if raw. */
static void
unescape(struct buf *out, const char *s, size_t n, int raw)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (raw && (c == '\n' || c == '\r'))
			continue;
		if (c != '\\' || i + 1 >= n) {
			buf_addc(out, c);
			continue;
		}
		c = s[++i];
		switch (c) {
		case 'r': buf_addc(out, '\r'); break;
		case 'n': buf_addc(out, '\n'); break;
		case 't': buf_addc(out, '\t'); break;
		case '\\': buf_addc(out, '\\'); break;
		case 'x':
			if (i + 2 < n) {
				buf_addc(out, (char)(hexv(s[i + 1]) * 16 +
				    hexv(s[i + 2])));
				i += 2;
			}
			break;
		case 'R': {
			/* \R{count}{text}, text may hold one nested \R */
			long cnt = strtol(s + i + 2, NULL, 10);
			const char *t = strchr(s + i, '}') + 2, *e = t;
			int depth = 1;
			struct buf one = {0};
			long k;

			while (depth) {
				if (*e == '{')
					depth++;
				else if (*e == '}')
					depth--;
				e++;
			}
			unescape(&one, t, (size_t)(e - 1 - t), raw);
			for (k = 0; k < cnt; k++)
				buf_add(out, one.p, one.len);
			buf_free(&one);
			i = (size_t)(e - s) - 1;
			break;
		}
		default:
			buf_addc(out, c);
		}
	}
}

struct kase {
	char name[256];
	int status, head, reusable;     /* reusable: -1 unchecked */
	int haveerr, havebody;
	char err[256];
	char hdrname[64], hdrval[256];
	struct buf body, raw;
};

static int
loadcase(const char *path, struct kase *k)
{
	struct buf f = {0};
	char *p, *sep;

	memset(k, 0, sizeof *k);
	k->reusable = -1;
	if (readfile(path, &f) < 0)
		return -1;
	sep = strstr(f.p, "\n---\n");
	if (!sep && strncmp(f.p, "---\n", 4) == 0)
		sep = f.p - 1;
	if (!sep) {
		buf_free(&f);
		return -1;
	}
	*sep = 0;
	for (p = f.p; p && *p; ) {
		char *nl = strchr(p, '\n'), *v;

		if (nl)
			*nl = 0;
		v = strchr(p, ':');
		if (*p != '#' && v) {
			*v++ = 0;
			if (*v == ' ')
				v++;
			if (strcmp(p, "status") == 0)
				k->status = atoi(v);
			else if (strcmp(p, "head") == 0)
				k->head = atoi(v);
			else if (strcmp(p, "reusable") == 0)
				k->reusable = atoi(v);
			else if (strcmp(p, "error") == 0) {
				k->haveerr = 1;
				snprintf(k->err, sizeof k->err, "%s", v);
			} else if (strcmp(p, "body") == 0) {
				k->havebody = 1;
				unescape(&k->body, v, strlen(v), 0);
			} else if (strcmp(p, "hdr") == 0) {
				char *c = strchr(v, ':');

				if (c) {
					*c = 0;
					snprintf(k->hdrname, sizeof k->hdrname,
					    "%s", v);
					snprintf(k->hdrval, sizeof k->hdrval,
					    "%s", c + 2);
				}
			}
		}
		p = nl ? nl + 1 : NULL;
	}
	p = sep + 5;
	unescape(&k->raw, p, strlen(p), 1);
	buf_free(&f);
	return 0;
}

/* Memory transport: serves raw, splitting reads at `split`, or one byte
 * per read. */
struct mem {
	const char *p;
	size_t len, pos, split;
	int onebyte;
};

static ssize_t
mread(void *ctx, void *buf, size_t n)
{
	struct mem *m = ctx;
	size_t avail = m->len - m->pos;

	if (!avail)
		return 0;
	if (m->onebyte)
		n = 1;
	else if (m->pos < m->split && n > m->split - m->pos)
		n = m->split - m->pos;
	if (n > avail)
		n = avail;
	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static ssize_t
mwrite(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	(void)p;
	return (ssize_t)n;
}

/* Run one case through a memory transport; returns NULL if it behaved
 * as expected, else a description (static). */
static const char *
runcase(struct kase *k, size_t split, int onebyte, size_t rdsz)
{
	static char why[512];
	struct url u;
	struct http *h;
	struct http_io io;
	struct http_req rq;
	struct mem m;
	const struct http_resp *rs;
	struct buf got = {0};
	char tmp[8192];
	const char *res = NULL;
	long conns, reqs;

	url_parse("http://example.test", &u);
	h = http_new(&u);
	m.p = k->raw.p ? k->raw.p : "";
	m.len = k->raw.len;
	m.pos = 0;
	m.split = split;
	m.onebyte = onebyte;
	memset(&io, 0, sizeof io);
	io.ctx = &m;
	io.read = mread;
	io.write = mwrite;
	http_set_io(h, &io);
	memset(&rq, 0, sizeof rq);
	rq.method = k->head ? "HEAD" : "GET";
	rq.target = "/x";
	rq.fd = -1;
	clearerr_slot();
	if (http_send(h, &rq) < 0) {
		snprintf(why, sizeof why, "send failed: %s", geterr());
		res = why;
		goto out;
	}
	rs = http_recv(h, k->head);
	if (rs) {
		if (k->hdrname[0]) {
			const char *v = http_hdr(rs, k->hdrname);

			if (!v || strcmp(v, k->hdrval) != 0) {
				snprintf(why, sizeof why, "header %s: got "
				    "'%s'", k->hdrname, v ? v : "(none)");
				res = why;
				goto out;
			}
		}
		if (!k->haveerr && rs->status != k->status) {
			snprintf(why, sizeof why, "status %d, want %d",
			    rs->status, k->status);
			res = why;
			goto out;
		}
		for (;;) {
			ssize_t n = http_read(h, tmp, rdsz);

			if (n < 0) {
				rs = NULL;
				break;
			}
			if (n == 0)
				break;
			buf_add(&got, tmp, (size_t)n);
		}
	}
	if (!rs) {
		if (!k->haveerr) {
			snprintf(why, sizeof why, "unexpected error: %s",
			    geterr());
			res = why;
		} else if (!strstr(geterr(), k->err)) {
			snprintf(why, sizeof why, "error '%s', want '%s'",
			    geterr(), k->err);
			res = why;
		}
		goto out;
	}
	if (k->haveerr) {
		snprintf(why, sizeof why, "no error, want '%s'", k->err);
		res = why;
		goto out;
	}
	if (k->havebody && (got.len != k->body.len || (got.len &&
	    memcmp(got.p, k->body.p, got.len) != 0))) {
		snprintf(why, sizeof why, "body '%.*s' (%zu bytes), want "
		    "'%.*s'", (int)(got.len > 100 ? 100 : got.len),
		    got.p ? got.p : "", got.len,
		    (int)(k->body.len > 100 ? 100 : k->body.len),
		    k->body.p ? k->body.p : "");
		res = why;
		goto out;
	}
	if (k->reusable >= 0) {
		http_done(h);
		http_send(h, &rq);
		http_stats(h, &conns, &reqs);
		if ((conns == 1) != (k->reusable == 1)) {
			snprintf(why, sizeof why, "reusable: %ld connections "
			    "for 2 requests", conns);
			res = why;
		}
	}
out:
	buf_free(&got);
	http_free(h);
	return res;
}

static void
framing(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *names[512];
	int n = 0, i;

	T_OK(d != NULL);
	if (!d)
		return;
	while ((e = readdir(d)) && n < 512) {
		size_t l = strlen(e->d_name);

		if (l > 4 && strcmp(e->d_name + l - 4, ".txt") == 0)
			names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof *names, cmpstr);
	T_OK(n >= 40);
	for (i = 0; i < n; i++) {
		struct kase k;
		char path[1024];
		const char *why;
		size_t s, step;
		int bad = 0;

		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (loadcase(path, &k) < 0) {
			fprintf(stderr, "FAIL %s: cannot load\n", path);
			T_OK(0);
			continue;
		}
		/* whole */
		why = runcase(&k, 0, 0, 8192);
		if (why)
			fprintf(stderr, "FAIL %s (whole): %s\n", names[i], why);
		T_OK(!why);
		/* split at every byte (sampled for big inputs) */
		step = k.raw.len > 3000 ? k.raw.len / 1500 : 1;
		for (s = 1; s < k.raw.len && !bad; s += step) {
			why = runcase(&k, s, 0, 8192);
			if (why) {
				fprintf(stderr, "FAIL %s (split at %zu): %s\n",
				    names[i], s, why);
				bad = 1;
			}
		}
		T_OK(!bad);
		/* one byte per read, small reads of the body */
		why = runcase(&k, 0, 1, 3);
		if (why)
			fprintf(stderr, "FAIL %s (bytewise): %s\n", names[i],
			    why);
		T_OK(!why);
		buf_free(&k.body);
		buf_free(&k.raw);
		free(names[i]);
	}
}

/* -------------------------------------------------------------- URLs */

static void
urls(void)
{
	struct url u;
	struct buf b = {0};

	T_INTEQ(url_parse("https://api.example.com/sandboxes", &u), 0);
	T_INTEQ(u.tls, 1);
	T_STREQ(u.host, "api.example.com");
	T_STREQ(u.port, "443");
	T_STREQ(u.prefix, "/sandboxes");

	T_INTEQ(url_parse("http://127.0.0.1:8080", &u), 0);
	T_INTEQ(u.tls, 0);
	T_STREQ(u.host, "127.0.0.1");
	T_STREQ(u.port, "8080");
	T_STREQ(u.prefix, "");

	T_INTEQ(url_parse("HTTP://Host/a/b///", &u), 0);
	T_STREQ(u.port, "80");
	T_STREQ(u.prefix, "/a/b");

	T_INTEQ(url_parse("http://h/?x=1#frag", &u), 0);
	T_STREQ(u.prefix, "");

	T_INTEQ(url_parse("https://[::1]:8443/p", &u), 0);
	T_STREQ(u.host, "::1");
	T_STREQ(u.port, "8443");
	T_STREQ(u.prefix, "/p");

	T_INTEQ(url_parse("http://[fe80::1%25eth0]/", &u), 0);
	T_STREQ(u.host, "fe80::1%eth0");
	T_STREQ(u.port, "80");

	T_INTEQ(url_parse("https://[2001:db8::7]", &u), 0);
	T_STREQ(u.host, "2001:db8::7");
	T_STREQ(u.port, "443");

	T_INTEQ(url_parse("http://user:pw@proxy:3128", &u), 0);
	T_STREQ(u.userinfo, "user:pw");
	T_STREQ(u.host, "proxy");
	T_STREQ(u.port, "3128");

	T_INTEQ(url_parse("https://h:65535", &u), 0);
	T_INTEQ(url_parse("https://h:65536", &u), -1);
	T_OK(strstr(geterr(), "bad port") != NULL);
	T_INTEQ(url_parse("https://h:0", &u), -1);
	T_INTEQ(url_parse("https://h:", &u), -1);
	T_INTEQ(url_parse("https://h:80x", &u), -1);
	T_INTEQ(url_parse("api.example.com/sandboxes", &u), -1);
	T_OK(strstr(geterr(), "no scheme") != NULL);
	T_INTEQ(url_parse("ftp://h/", &u), -1);
	T_OK(strstr(geterr(), "unsupported scheme") != NULL);
	T_INTEQ(url_parse("httpx://h/", &u), -1);
	T_INTEQ(url_parse("https://", &u), -1);
	T_OK(strstr(geterr(), "no host") != NULL);
	T_INTEQ(url_parse("https:///path", &u), -1);
	T_INTEQ(url_parse("https://[::1/", &u), -1);
	T_OK(strstr(geterr(), "IPv6") != NULL);
	T_INTEQ(url_parse("https://[]/", &u), -1);
	T_INTEQ(url_parse("https://[::1]x/", &u), -1);
	T_INTEQ(url_parse("https://[zz::1]/", &u), -1);
	T_INTEQ(url_parse("https://ho st/", &u), -1);
	T_INTEQ(url_parse("https://h/pa th", &u), -1);
	T_INTEQ(url_parse("", &u), -1);
	T_INTEQ(url_parse(NULL, &u), -1);

	url_encode(&b, "a b/c:d+e&f=g~h.i_j-k%\xc3\xa9");
	T_STREQ(b.p, "a+b%2Fc%3Ad%2Be%26f%3Dg~h.i_j-k%25%C3%A9");
	buf_reset(&b);
	url_encode(&b, "");
	T_INTEQ(b.len, 0);
	buf_free(&b);
}

/* --------------------------------------------------------------- SSE */

static int
ssecb(void *arg, const char *event, const char *data, size_t len)
{
	struct buf *b = arg;

	T_INTEQ(strlen(data), len);     /* NUL-terminated, no NUL inside */
	buf_printf(b, "[%s|%s]", event, data);
	return 0;
}

static struct sse *idsse;

static int
idcb(void *arg, const char *event, const char *data, size_t len)
{
	int *calls = arg;

	(void)event;
	(void)len;
	(*calls)++;
	/* first frame carries id 4, the second none */
	T_INTEQ(idsse->frameid, strcmp(data, "a") == 0);
	return 0;
}

static int
stopcb(void *arg, const char *event, const char *data, size_t len)
{
	(void)data;
	(void)len;
	(*(int *)arg)++;
	return strcmp(event, "stop") == 0 ? 7 : 0;
}

/* Feed s whole, split at every byte and byte by byte; all must give
 * want and the last id lastid (-1: none). */
static void
ssecase(const char *s, const char *want, long long lastid)
{
	size_t n = strlen(s), k;
	int bad = 0;

	for (k = 0; k <= n; k++) {
		struct sse p;
		struct buf out = {0};

		memset(&p, 0, sizeof p);
		if (sse_feed(&p, s, k, ssecb, &out) != 0 ||
		    sse_feed(&p, s + k, n - k, ssecb, &out) != 0)
			bad = 1;
		if (strcmp(out.p ? out.p : "", want) != 0) {
			if (!bad)
				fprintf(stderr, "FAIL sse split %zu: got %s "
				    "want %s\n", k, out.p ? out.p : "", want);
			bad = 1;
		}
		if ((lastid < 0 && p.hasid) || (lastid >= 0 &&
		    (!p.hasid || p.lastid != lastid)))
			bad = 1;
		sse_free(&p);
		buf_free(&out);
	}
	{
		struct sse p;
		struct buf out = {0};

		memset(&p, 0, sizeof p);
		for (k = 0; k < n; k++)
			sse_feed(&p, s + k, 1, ssecb, &out);
		if (strcmp(out.p ? out.p : "", want) != 0)
			bad = 1;
		sse_free(&p);
		buf_free(&out);
	}
	if (bad)
		fprintf(stderr, "FAIL sse case: %s\n", s);
	T_OK(!bad);
}

static void
sse(void)
{
	struct sse p;
	struct buf big = {0};
	int calls = 0;

	ssecase("data: a\n\n", "[message|a]", -1);
	ssecase("id: 7\nevent: stdout\ndata: {\"id\":7}\n\n",
	    "[stdout|{\"id\":7}]", 7);
	ssecase(": keepalive\n\n: another\r\n\r\nid: 1\r\nevent: x\r\n"
	    "data: y\r\n\r\n", "[x|y]", 1);
	ssecase("data: line1\ndata: line2\ndata:\ndata:  sp\n\n",
	    "[message|line1\nline2\n\n sp]", -1);
	ssecase("data:nospace\r\rdata: cr only\r\r",
	    "[message|nospace][message|cr only]", -1);
	/* an id without data advances the cursor but is no event */
	ssecase("id: 5\n\nid: 6\nevent: e\n\n", "", 6);
	ssecase("id: 3\ndata: a\n\nid: bogus\ndata: b\n\n",
	    "[message|a][message|b]", 3);
	/* in-band error frame */
	ssecase(": please resume\n\nevent: sse_error\ndata: upstream "
	    "went away\n\n", "[sse_error|upstream went away]", -1);
	/* unknown fields, retry, field without colon */
	ssecase("retry: 100\nfoo: bar\ndata\ndata: x\n\n",
	    "[message|\nx]", -1);
	/* an unfinished frame is not dispatched */
	ssecase("id: 9\ndata: partial\n", "", -1);
	ssecase("event: a\ndata: 1\n\nevent: b\ndata: 2\n\n",
	    "[a|1][b|2]", -1);

	/* frameid: only frames that carry an id */
	memset(&p, 0, sizeof p);
	idsse = &p;
	calls = 0;
	T_INTEQ(sse_feed(&p, "id: 4\ndata: a\n\n", 15, idcb, &calls), 0);
	T_INTEQ(calls, 1);
	T_INTEQ(sse_feed(&p, "data: b\n\n", 9, idcb, &calls), 0);
	T_INTEQ(calls, 2);
	T_INTEQ(p.lastid, 4);
	sse_free(&p);

	/* the callback's return value stops feeding */
	memset(&p, 0, sizeof p);
	calls = 0;
	T_INTEQ(sse_feed(&p, "event: a\ndata: 1\n\nevent: stop\ndata: 2\n\n"
	    "event: c\ndata: 3\n\n", 48, stopcb, &calls), 7);
	T_INTEQ(calls, 2);
	sse_free(&p);

	/* a frame over the limit is an error */
	memset(&p, 0, sizeof p);
	buf_puts(&big, "data: ");
	while (big.len < SSE_MAXFRAME + 100)
		buf_puts(&big, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	T_INTEQ(sse_feed(&p, big.p, big.len, stopcb, &calls), -1);
	T_OK(strstr(geterr(), "too") != NULL);
	sse_free(&p);
	memset(&p, 0, sizeof p);
	buf_reset(&big);
	while (big.len < SSE_MAXFRAME + SSE_MAXFRAME / 2)
		buf_puts(&big, "data: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
	T_INTEQ(sse_feed(&p, big.p, big.len, stopcb, &calls), -1);
	sse_free(&p);
	buf_free(&big);
}

/* ------------------------------------------------------- deadlines */

/* A port that accepts connections (the kernel does) and never answers;
 * *fd keeps it open. */
static int
silent_port(int *fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (*fd < 0 || bind(*fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    listen(*fd, 8) < 0 ||
	    getsockname(*fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	return ntohs(sa.sin_port);
}

static int
evcb(void *arg, const char *type, const char *data, size_t len)
{
	(void)arg, (void)type, (void)data, (void)len;
	return 0;
}

/* api_set_deadline bounds a call, the events stream and retry sleeps;
 * the request timeout bounds a silent server. */
static void
deadlines(void)
{
	struct api_cfg cfg;
	struct api *a;
	struct api_resp r;
	char url[64], want[128];
	int fd, port = silent_port(&fd);
	int64_t t0;

	T_OK(port > 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
	memset(&cfg, 0, sizeof cfg);
	cfg.url = url;
	cfg.token = "t";
	cfg.timeout_ms = 20000;
	a = api_new(&cfg);
	T_OK(a != NULL);
	memset(&r, 0, sizeof r);
	t0 = now_ms();
	api_set_deadline(a, t0 + 300);
	T_INTEQ(api_call(a, "GET", "/images", NULL, NULL, 0, &r), -1);
	T_INTEQ(geterrclass(), ERR_TIMEOUT);
	T_OK(strstr(geterr(), "deadline passed") != NULL);
	T_OK(now_ms() - t0 < 2000);
	T_INTEQ(api_sent(a), 1);
	t0 = now_ms();
	api_set_deadline(a, t0 + 300);
	T_INTEQ(api_events(a, "op-1", evcb, NULL), -1);
	T_INTEQ(geterrclass(), ERR_TIMEOUT);
	T_OK(now_ms() - t0 < 2000);
	api_free(a);

	cfg.timeout_ms = 300;
	a = api_new(&cfg);
	t0 = now_ms();
	T_INTEQ(api_call(a, "GET", "/images", NULL, NULL, 0, &r), -1);
	T_INTEQ(geterrclass(), ERR_TIMEOUT);
	snprintf(want, sizeof want, "no answer from %s in 0.3 s", url);
	T_OK(strstr(geterr(), want) != NULL);
	T_OK(now_ms() - t0 < 2000);
	api_free(a);
	close(fd);

	/* refused: the deadline cuts the retry sleeps short; not sent */
	cfg.timeout_ms = 0;
	a = api_new(&cfg);
	t0 = now_ms();
	api_set_deadline(a, t0 + 700);
	T_INTEQ(api_call(a, "POST", "/instances", NULL, "{}", API_NOREPLAY,
	    &r), -1);
	T_INTEQ(geterrclass(), ERR_NET);
	T_INTEQ(api_sent(a), 0);
	T_OK(now_ms() - t0 < 1500);
	api_set_deadline(a, 0);
	api_free(a);
}

/* A signal that only set `interrupted` (it landed outside poll(2)) ends
 * the wait for an answer at once, not after the read timeout. */
static void
interrupt_outside_poll(void)
{
	struct url u;
	struct http *h;
	struct http_req rq;
	char url[64];
	int fd, port = silent_port(&fd);
	int64_t t0;

	T_OK(port > 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
	T_INTEQ(url_parse(url, &u), 0);
	h = http_new(&u);
	http_timeouts(h, 5000, 20000);
	memset(&rq, 0, sizeof rq);
	rq.method = "GET";
	rq.target = "/v1/images";
	rq.fd = -1;
	T_INTEQ(http_send(h, &rq), 0);
	interrupted = 1;
	t0 = now_ms();
	T_OK(http_recv(h, 0) == NULL);
	T_INTEQ(geterrclass(), ERR_INTR);
	T_OK(now_ms() - t0 < 2000);
	interrupted = 0;
	http_free(h);
	close(fd);
}

int
main(int argc, char **argv)
{
	if (argc > 1)
		dir = argv[1];
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	loglevel = LOG_CRITICAL + 1;
	framing();
	urls();
	sse();
	deadlines();
	interrupt_outside_poll();
	return T_END("unit_http");
}
