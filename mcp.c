/* mcp.c - MCP over stdio: the JSON-RPC stream, lifecycle and jobs.
 *
 * The loop waits on stdin and on the jobs' pipes at once (jobs_step).
 * Input is read in chunks and cut into lines; a line longer than
 * LINE_MAX is not kept: the rest of it is skipped up to its newline and
 * answered with one error.  Each request gets a struct call that lives
 * until it is answered; a call handed to a job also stays while the
 * job runs, so that a cancellation finds it and its late answer is
 * dropped.  Only the parent writes to stdout, one write(2) per message,
 * so answers never interleave. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs.h"
#include "json.h"
#include "mcp.h"
#include "util.h"

#define LINE_MAX_ (8u << 20)    /* longest message kept */
#define TOK_MAX 200000          /* JSON values in one message */
#define CHUNK 65536
#define BEAT_MS 5000            /* progress while a call runs */
#define HELD_MAX (64u << 20)    /* bytes the calls in flight may hold */
#define CALLS_MAX 1024          /* calls in flight */
#define BATCH_MAX (64u << 20)   /* a batch's answers held: past it, an
                                   error per member */

static const char *const versions[] = {
	"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", NULL
};
/* notifications/message levels by util.h LOG_* */
static const char *const levels[] = {
	"debug", "info", "warning", "error", "critical"
};

/* A JSON-RPC batch (protocol 2025-03-26 only): its answers collected
 * into one array, written when the last of its requests is answered
 * (nothing when none is); refs counts the members not yet answered. */
struct batch {
	struct buf out;
	int refs;
};

struct call {
	struct mcp_req r;       /* first: a request is its call */
	struct batch *b;        /* the batch it came in, or NULL */
	struct json j;
	char *line;
	size_t linelen;         /* its bytes (a raw NUL may be among them) */
	char *id;               /* the id as JSON text */
	char *token;            /* _meta.progressToken as JSON, or NULL */
	int seq, cancelled, answered;
	size_t held;            /* its share of M.held */
	long prog;
	int64_t beat, t0;
	struct buf ops;         /* operations started, "uuid uuid " */
	char *starting;         /* the marker of a spawn not yet answered */
	struct buf temps;       /* its job's temporary files, "path\0..." */
	int (*fn)(struct mcp_req *);
	struct call *next;
};

static struct {
	const struct mcp_server *s;
	struct jobs *js;
	struct call *calls;     /* answered by jobs, in flight */
	int seq, inited, level, broken;
	int batches;            /* 2025-03-26 negotiated: batches allowed */
	int ncalls;             /* in calls */
	size_t held;            /* bytes their messages hold */
	struct buf in;          /* the line so far */
	int skipping;           /* inside a line that is too long */
	int stop;               /* ending: 1 on a signal, 2 stdin closed */
	struct buf left;        /* operations left running, "uuid uuid " */
} M;

/* ---- writing ---- */

static void
emit(struct buf *b)
{
	buf_addc(b, '\n');
	if (!M.broken && writeall(1, b->p, b->len) < 0)
		M.broken = 1;   /* the client is gone: the loop ends */
	buf_free(b);
}

/* An error response to id (NULL: null) into b. */
static void
error_msg(struct buf *b, const char *id, int code, const char *msg)
{
	struct jw w;

	buf_printf(b, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":%d,\"message\":",
	    id ? id : "null", code);
	jw_init(&w, b, 0);
	jw_str(&w, msg);
	buf_puts(b, "}}");
}

/* A response to id: written, or kept for the batch bt. */
static void
answer(struct batch *bt, const char *id, struct buf *b)
{
	if (!bt) {
		emit(b);
		return;
	}
	if (bt->out.len + b->len > BATCH_MAX) {
		buf_free(b);
		error_msg(b, id, MCP_EBUSY, mcp_text(M_E_BATCH_BUSY));
	}
	buf_addc(&bt->out, bt->out.len ? ',' : '[');
	buf_add(&bt->out, b->p, b->len);
	buf_free(b);
}

/* One member of batch bt is done: the array goes out after the last. */
static void
batch_unref(struct batch *bt)
{
	if (!bt || --bt->refs > 0)
		return;
	if (bt->out.len) {
		buf_addc(&bt->out, ']');
		emit(&bt->out);
	}
	buf_free(&bt->out);
	free(bt);
}

static void
respond(struct batch *bt, const char *id, const char *result, size_t n)
{
	struct buf b = {0};

	buf_printf(&b, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":", id);
	buf_add(&b, result, n);
	buf_addc(&b, '}');
	answer(bt, id, &b);
}

static void
respond_err(struct batch *bt, const char *id, int code, const char *msg)
{
	struct buf b = {0};

	error_msg(&b, id, code, msg);
	answer(bt, id, &b);
}

/* A notification whose params are the object begun in params (freed
 * here), ended by the string text. */
static void
notify(const char *method, struct buf *params, const char *text)
{
	struct buf b = {0};
	struct jw w;

	jw_init(&w, params, 0);
	jw_str(&w, text);
	buf_printf(&b, "{\"jsonrpc\":\"2.0\",\"method\":\"%s\",\"params\":%s}}",
	    method, params->p);
	buf_free(params);
	emit(&b);
}

static void
progress(struct call *c, const char *msg)
{
	struct buf b = {0};

	if (!c->token || c->cancelled || c->answered)
		return;
	buf_printf(&b, "{\"progressToken\":%s,\"progress\":%ld,\"message\":",
	    c->token, ++c->prog);
	notify("notifications/progress", &b, msg);
	c->beat = now_ms();
}

static void
log_note(int level, const char *text)
{
	struct buf b = {0};

	if (level < M.level || !M.inited)
		return;
	if (level < 0 || level > LOG_CRITICAL)
		level = LOG_CRITICAL;
	buf_printf(&b, "{\"level\":\"%s\",\"logger\":\"contree\",\"data\":",
	    levels[level]);
	notify("notifications/message", &b, text);
}

/* ---- calls ---- */

static void
call_free(struct call *c)
{
	if (!c)
		return;
	batch_unref(c->b);
	json_free(&c->j);
	if (c->line)    /* registry_auth's carries a password */
		memzero(c->line, c->linelen);
	free(c->line);
	free(c->id);
	free(c->token);
	buf_free(&c->ops);
	buf_free(&c->temps);
	free(c->starting);
	free(c);
}

static struct call *
call_find(int seq)
{
	struct call *c;

	for (c = M.calls; c; c = c->next)
		if (c->seq == seq)
			return c;
	return NULL;
}

static void
call_drop(struct call *c)
{
	struct call **pp;

	for (pp = &M.calls; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			M.ncalls--;
			M.held -= c->held;
			break;
		}
	call_free(c);
}

/* The job of c was killed or died: remove the temporary files it left. */
static void
temps_unlink(struct call *c)
{
	size_t i;

	for (i = 0; i < c->temps.len; i += strlen(c->temps.p + i) + 1)
		unlink(c->temps.p + i);
	buf_free(&c->temps);
}

/* The JSON text of token t, re-encoded: ids compare by it. */
static char *
canon(const struct json *j, int t)
{
	struct buf b = {0};
	struct jw w;

	jw_init(&w, &b, 0);
	jw_tok(&w, j, t);
	return b.p ? b.p : xstrdup("null");
}

/* ---- jobs ---- */

/* Messages from a job: a letter and its text.  R the result, P a
 * progress message, E an error (code, space, message), O an operation,
 * T a temporary file, L a level digit and a log line. */
static void
on_msg(void *ctx, int seq, const char *msg, size_t len)
{
	struct call *c = call_find(seq);

	(void)ctx;
	if (!c || len < 1)
		return;
	switch (msg[0]) {
	case 'R':
		if (!c->cancelled && !c->answered)
			respond(c->b, c->id, msg + 1, len - 1);
		c->answered = 1;
		break;
	case 'E':
		if (!c->cancelled && !c->answered)
			respond_err(c->b, c->id, atoi(msg + 1), strchr(msg, ' ') ?
			    strchr(msg, ' ') + 1 : "failed");
		c->answered = 1;
		break;
	case 'P':
		progress(c, msg + 1);
		break;
	case 'O':
		buf_puts(&c->ops, msg + 1);
		buf_addc(&c->ops, ' ');
		free(c->starting);
		c->starting = NULL;
		break;
	case 'S':
		free(c->starting);
		c->starting = xstrdup(msg + 1);
		break;
	case 'T':
		buf_add(&c->temps, msg + 1, len - 1);
		buf_addc(&c->temps, '\0');
		break;
	case 'L':
		if (len >= 2 && !c->cancelled)
			log_note(msg[1] - '0', msg + 2);
		break;
	}
}

/* The server ends with c unanswered: named on stderr.  A job never
 * started (queued, dropped): "not started"; one killed because stdin
 * closed: by what it started (the operations, or the marker of a
 * spawn not yet answered), else "stopped". */
static void
left(struct call *c, int queued)
{
	char *m, *n;

	if (c->answered)
		return;
	buf_add(&M.left, c->ops.p, c->ops.len);
	if (c->starting)
		fprintf(stderr, mcp_text(M_E_LEFT_STARTING), argv0, c->starting);
	if (c->cancelled || c->ops.len || c->starting)
		return;
	m = json_getstr(&c->j, 0, "method");
	n = json_getstr(&c->j, c->r.params, "name");   /* a tool's */
	fprintf(stderr, "%s mcp: %s; request %s (%s%s%s) %s\n", argv0,
	    M.stop < 2 ? "interrupted" : M.broken ? "output closed" :
	    "input closed", c->id, m,
	    n ? " " : "", n ? n : "", queued ? "not started" : "stopped");
	free(m);
	free(n);
}

static void
on_end(void *ctx, int seq, int status)
{
	struct call *c = call_find(seq);
	char *m;

	(void)ctx;
	if (!c)
		return;
	if (status != 0)
		temps_unlink(c);
	if (M.stop && (status < 0 || (M.stop > 1 && status)))
		left(c, status < 0);
	else if (!c->answered && !c->cancelled) {
		m = status < 0 ? xasprintf("%s", geterr()) :
		    xasprintf("the call ended without an answer (status %d)",
		    status);
		respond_err(c->b, c->id, MCP_EINTERNAL, m);
		free(m);
	}
	call_drop(c);
}

static struct call *cur;        /* in a job: its call */

static int
job_main(void *arg)
{
	struct call *c = arg;

	if (c->cancelled)
		return 0;
	cur = c;
	return c->fn(&c->r) < 0;
}

int
mcp_job(struct mcp_req *r, int (*fn)(struct mcp_req *))
{
	struct call *c = (struct call *)r;

	c->fn = fn;
	c->seq = ++M.seq;
	c->beat = c->t0 = now_ms();
	c->held = strlen(c->line) + 1 +
	    (size_t)c->j.ntok * sizeof *c->j.tok;
	c->next = M.calls;
	M.calls = c;
	M.ncalls++;
	M.held += c->held;
	jobs_add(M.js, c->seq, job_main, c);
	return MCP_ASYNC;
}

static int
send_msg(int type, const char *p, size_t n)
{
	struct buf b = {0};
	int rc;

	if (!job_child())
		return 0;
	buf_addc(&b, type);
	buf_add(&b, p, n);
	rc = job_send(b.p, b.len);
	buf_free(&b);
	return rc;
}

int
mcp_answer(struct mcp_req *r, const struct buf *res)
{
	(void)r;
	return send_msg('R', res->p ? res->p : "{}", res->p ? res->len : 2);
}

int
mcp_fail(struct mcp_req *r, int code, const char *msg)
{
	char *m = xasprintf("%d %s", code, msg);
	int rc;

	(void)r;
	rc = send_msg('E', m, strlen(m));
	free(m);
	return rc;
}

void
mcp_progress(struct mcp_req *r, const char *msg)
{
	(void)r;
	send_msg('P', msg, strlen(msg));
}

void
mcp_started(struct mcp_req *r, const char *op)
{
	(void)r;
	send_msg('O', op, strlen(op));
}

void
mcp_starting(struct mcp_req *r, const char *marker)
{
	(void)r;
	send_msg('S', marker, strlen(marker));
}

void
mcp_temp(struct mcp_req *r, const char *path)
{
	(void)r;
	send_msg('T', path, strlen(path));
}

void
mcp_log(int level, const char *text)
{
	char *m;

	if (!job_child()) {
		log_note(level, text);
		return;
	}
	m = xasprintf("%c%s", '0' + (level < 0 ? 0 : level > 4 ? 4 : level),
	    text);
	send_msg('L', m, strlen(m));
	free(m);
}

/* ---- the methods this layer answers itself ---- */

static int
initialize(struct call *c, struct buf *res)
{
	const struct mcp_server *s = M.s;
	const char *v = versions[0];
	struct jw w;
	int t, i;

	if (M.inited) {
		seterr("Invalid Request: initialize was already done");
		return MCP_EINVALID;
	}
	t = c->r.params < 0 ? -1 : json_get(&c->j, c->r.params,
	    "protocolVersion");
	if (t < 0 || c->j.tok[t].type != JSON_STRING) {
		seterr("Invalid params: protocolVersion (a string) is required");
		return MCP_EPARAMS;
	}
	for (i = 0; versions[i]; i++)
		if (json_streq(&c->j, t, versions[i]))
			v = versions[i];
	/* the names are plain words, the capabilities JSON text */
	buf_printf(res, mcp_text(M_INITIALIZE),
	    v, s->capabilities, s->name, s->title, s->version);
	jw_init(&w, res, 0);
	jw_str(&w, s->instructions);
	buf_addc(res, '}');
	M.inited = 1;
	M.batches = strcmp(v, "2025-03-26") == 0;
	return 0;
}

static int
set_level(struct call *c, struct buf *res)
{
	static const char *const names[] = {
		"debug", "info", "notice", "warning", "error", "critical",
		"alert", "emergency"
	};
	static const int map[] = {
		LOG_DEBUG, LOG_INFO, LOG_INFO, LOG_WARNING, LOG_ERROR,
		LOG_CRITICAL, LOG_CRITICAL, LOG_CRITICAL
	};
	int t = c->r.params < 0 ? -1 : json_get(&c->j, c->r.params, "level");
	size_t i;

	for (i = 0; t >= 0 && i < LEN(names); i++)
		if (json_streq(&c->j, t, names[i])) {
			M.level = map[i];
			buf_puts(res, "{}");
			return 0;
		}
	seterr("%s", mcp_text(M_E_LEVEL));
	return MCP_EPARAMS;
}

/* notifications/cancelled: stop the call, never answer it. */
static void
cancel(const struct json *j, int params)
{
	int t = params < 0 ? -1 : json_get(j, params, "requestId");
	struct call *c;
	char *id;

	if (t < 0)
		return;
	id = canon(j, t);
	for (c = M.calls; c; c = c->next)
		if (!c->answered && !c->cancelled && strcmp(c->id, id) == 0) {
			c->cancelled = 1;
			if (jobs_pid(M.js, c->seq))
				jobs_kill(M.js, c->seq, SIGINT);
			logmsg(LOG_DEBUG, "request %s cancelled", id);
		}
	free(id);
}

/* ---- one message ---- */

static int
id_in_use(const char *id)
{
	struct call *c;

	for (c = M.calls; c; c = c->next)
		if (!c->answered && !c->cancelled && strcmp(c->id, id) == 0)
			return 1;
	return 0;
}

static int
dispatch(struct call *c, const char *method, struct buf *res)
{
	const struct mcp_method *m;

	if (strcmp(method, "initialize") == 0)
		return initialize(c, res);
	if (strcmp(method, "ping") == 0) {
		buf_puts(res, "{}");
		return 0;
	}
	if (!M.inited) {
		seterr("Invalid Request: %s before initialize", method);
		return MCP_EINVALID;
	}
	if (strcmp(method, "logging/setLevel") == 0)
		return set_level(c, res);
	for (m = M.s->methods; m->name; m++)
		if (strcmp(m->name, method) == 0)
			return m->fn(&c->r, res);
	seterr("Method not found: %s", method);
	return MCP_EMETHOD;
}

/* The envelope checks; a request's id into c->id.  0 to go on, or an
 * error code with the slot set. */
static int
envelope(struct call *c, char **method)
{
	struct json *j = &c->j;
	int t;

	if (j->tok[0].type == JSON_ARRAY && !c->b) {
		seterr(mcp_text(M_E_NO_BATCHES),
		    M.inited ? ", not the one negotiated" : ", after initialize");
		return MCP_EINVALID;
	}
	if (j->tok[0].type != JSON_OBJECT) {
		seterr("Invalid Request: a message is a JSON object");
		return MCP_EINVALID;
	}
	if ((t = json_get(j, 0, "id")) >= 0) {
		int64_t v;

		if (j->tok[t].type != JSON_STRING &&
		    (j->tok[t].type != JSON_NUMBER || json_int64(j, t, &v) < 0)) {
			seterr("Invalid Request: id must be a string or an integer");
			return MCP_EINVALID;
		}
		c->id = canon(j, t);
	}
	t = json_get(j, 0, "jsonrpc");
	if (t < 0 || !json_streq(j, t, "2.0")) {
		seterr("Invalid Request: \"jsonrpc\": \"2.0\" is required");
		return MCP_EINVALID;
	}
	t = json_get(j, 0, "method");
	if (t < 0) {
		if (c->id && (json_get(j, 0, "result") >= 0 ||
		    json_get(j, 0, "error") >= 0))
			return 1;       /* a response: we send no requests */
		seterr("Invalid Request: no method");
		return MCP_EINVALID;
	}
	if (!(*method = json_strdup(j, t)) || !**method) {
		seterr("Invalid Request: method must be a non-empty string");
		return MCP_EINVALID;
	}
	c->r.params = json_get(j, 0, "params");
	if (c->r.params >= 0 && j->tok[c->r.params].type != JSON_OBJECT) {
		seterr("Invalid params: params must be an object");
		return MCP_EPARAMS;
	}
	return 0;
}

static void batch(struct call *c);

/* One message (of batch bt, or NULL), n > 0 bytes at p. */
static void
message(const char *p, size_t n, struct batch *bt)
{
	struct call *c;
	struct buf res = {0};
	char *method = NULL;
	int rc, t;

	c = xcalloc(1, sizeof *c);
	c->line = xmalloc(n + 1);
	c->linelen = n;
	memcpy(c->line, p, n);
	c->line[n] = '\0';
	c->r.j = &c->j;
	c->r.params = -1;
	clearerr_slot();
	rc = json_parse(&c->j, c->line, n, NULL, 0);
	if (rc < 0 || rc > TOK_MAX) {
		seterr("%s", rc < 0 ? json_strerror(&c->j) :
		    "Invalid Request: too many JSON values in one message");
		rc = rc < 0 ? MCP_EPARSE : MCP_EINVALID;
		goto fail;
	}
	json_parse_alloc(&c->j, c->line, n);
	if (bt) {
		c->b = bt;
		bt->refs++;
	} else if (c->j.tok[0].type == JSON_ARRAY && M.batches) {
		batch(c);
		return;
	}
	if ((rc = envelope(c, &method)) != 0) {
		if (rc < 0 && (c->id || rc != MCP_EPARAMS))
			goto fail;
		goto done;
	}
	if (!c->id) {           /* a notification: never answered */
		if (strcmp(method, "notifications/cancelled") == 0)
			cancel(&c->j, c->r.params);
		goto done;
	}
	rc = MCP_EINVALID;
	if (id_in_use(c->id)) {
		seterr(mcp_text(M_E_ID_IN_USE), c->id);
		goto fail;
	}
	/* a client sending faster than the jobs answer must not make us
	 * hold its requests without bound */
	rc = MCP_EBUSY;
	if (M.ncalls >= CALLS_MAX ||
	    M.held + n + (size_t)c->j.ntok * sizeof *c->j.tok > HELD_MAX) {
		seterr(mcp_text(M_E_BUSY), M.ncalls);
		goto fail;
	}
	if (c->r.params >= 0 && (t = json_path(&c->j, c->r.params, "_meta",
	    "progressToken", (char *)NULL)) >= 0 &&
	    (c->j.tok[t].type == JSON_STRING || c->j.tok[t].type == JSON_NUMBER))
		c->token = canon(&c->j, t);
	rc = dispatch(c, method, &res);
	if (rc == MCP_ASYNC)
		c = NULL;       /* the call is in M.calls now */
	else if (rc == 0)
		respond(c->b, c->id, res.p ? res.p : "{}", res.p ? res.len : 2);
	if (rc >= 0)
		goto done;
fail:
	respond_err(c->b, c->id, rc, geterr());
done:
	free(method);
	buf_free(&res);
	call_free(c);
}

/* A batch (an array, c's message): each member a message of its own;
 * an empty one is an invalid request. */
static void
batch(struct call *c)
{
	struct batch *bt;
	struct buf m = {0};
	struct jw w;
	int e = json_first(&c->j, 0);

	if (e < 0) {
		respond_err(NULL, NULL, MCP_EINVALID, "Invalid Request: an empty batch");
		call_free(c);
		return;
	}
	bt = xcalloc(1, sizeof *bt);
	bt->refs = 1;           /* until every member was read */
	for (; e >= 0; e = json_after(&c->j, e)) {
		jw_init(&w, &m, 0);
		jw_tok(&w, &c->j, e);
		message(m.p, m.len, bt);
		memzero(m.p, m.len);
		buf_reset(&m);
	}
	buf_free(&m);
	call_free(c);
	batch_unref(bt);
}

static void
on_line(const char *p, size_t n)
{
	while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	if (n)
		message(p, n, NULL);
}

/* Cut what was read into lines. */
static void
feed(const char *p, size_t n)
{
	const char *nl;
	size_t len;

	while (n) {
		nl = memchr(p, '\n', n);
		len = nl ? (size_t)(nl - p) : n;
		if (!M.skipping && M.in.len + len > LINE_MAX_) {
			M.skipping = 1;
			memzero(M.in.p, M.in.len);
			buf_free(&M.in);
		}
		if (M.skipping) {
			if (!nl)
				return;
			M.skipping = 0;
			respond_err(NULL, NULL, MCP_EINVALID,
			    "Invalid Request: message longer than 8 MiB refused");
		} else if (!nl) {
			buf_add(&M.in, p, n);
			return;
		} else if (M.in.len) {
			buf_add(&M.in, p, len);
			on_line(M.in.p, M.in.len);
			memzero(M.in.p, M.in.len);
			if (M.in.cap > CHUNK)
				buf_free(&M.in);
			else
				buf_reset(&M.in);
		} else {
			on_line(p, len);
		}
		p = nl + 1;
		n -= len + 1;
	}
}

/* ---- the loop ---- */

static int
beat(void)
{
	struct call *c;
	int64_t now = now_ms();
	int any = 0;

	for (c = M.calls; c; c = c->next) {
		if (!c->token || c->cancelled || c->answered ||
		    !jobs_pid(M.js, c->seq))
			continue;
		any = 1;
		if (now - c->beat >= BEAT_MS) {
			char msg[64];

			snprintf(msg, sizeof msg, "working (%lld s)",
			    (long long)(now - c->t0) / 1000);
			progress(c, msg);
		}
	}
	return any;
}

int
mcp_serve(const struct mcp_server *s)
{
	static char chunk[CHUNK];
	struct pollfd in = { 0, POLLIN, 0 };
	ssize_t n = -1;
	int more = 0;

	memset(&M, 0, sizeof M);
	M.s = s;
	M.level = LOG_WARNING;
	M.js = jobs_new(jobs_concurrency(), on_msg, on_end, NULL);
	while (!M.broken) {
		if (!more && jobs_step(M.js, 0, beat() ? 1000 : -1) != 1) {
			if (interrupted)
				break;
			continue;
		}
		n = read(0, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR && !interrupted)
			continue;
		if (n <= 0)
			break;
		feed(chunk, (size_t)n);
		memzero(chunk, (size_t)n);
		/* input that ends right after a read (a piped batch) ends
		 * before its jobs start: one more read first, if ready */
		more = !more && poll(&in, 1, 0) > 0;
	}
	if (n == 0)
		feed("\n", 1);         /* a last line without its newline */
	/* What was read and not answered is named on stderr (left): the
	 * queued calls never start.  On a signal the jobs cancel their
	 * operations and answer (the signal may have reached only us);
	 * stdin closed, they are killed and what they started keeps
	 * running.  Answers they sent before still go out, a batch's too. */
	M.stop = interrupted && !M.broken ? 1 : 2;
	jobs_drop(M.js);
	jobs_kill(M.js, -1, M.stop > 1 ? SIGKILL : SIGINT);
	jobs_wait(M.js);
	jobs_free(M.js);
	if (M.left.len) {
		M.left.p[--M.left.len] = '\0';
		fprintf(stderr, mcp_text(M_E_LEFT_RUNNING), argv0,
		    strchr(M.left.p, ' ') ? "s" : "", M.left.p);
	}
	buf_free(&M.left);
	memzero(M.in.p, M.in.len);
	buf_free(&M.in);
	return M.stop > 1 ? 0 : EXIT_INTR;
}
