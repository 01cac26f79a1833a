/* cmd_ops.c - operations: ps / op list, show / op show, kill / op cancel,
 * op wait; operation references (@, @-1, HEAD~2 ...); and the helpers
 * that run and session wait share: fetching, caching and waiting for an
 * operation record and reading its result (cli.md §7.6, §9.7-9.10). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "cmds.h"
#include "contree.h"
#include "json.h"
#include "out.h"
#include "store.h"
#include "util.h"

static const char *const active_statuses[] = {
	"PENDING", "ASSIGNED", "EXECUTING", NULL
};
static const char *const tail_error[] = { "error", NULL };

/* ---- operation references (cli.md §7.6) ---- */

int
resolve_ops(struct ctx *c, char **args, int nargs, char ***out, int *n)
{
	struct store *st = NULL;
	struct buf bad = {0};
	char **ops = NULL;
	int i, nops = 0, nbad = 0;

	for (i = 0; i < nargs; i++) {
		char *copy = xstrdup(args[i]), *tok, *save = NULL;

		for (tok = strtok_r(copy, " \t\n\r\f\v", &save); tok;
		    tok = strtok_r(NULL, " \t\n\r\f\v", &save)) {
			const struct store_entry *e;
			int k;

			if (is_uuid(tok)) {
				ops = xreallocarray(ops, (size_t)nops + 1,
				    sizeof *ops);
				ops[nops++] = xstrdup(tok);
				continue;
			}
			if (!st)
				st = ctx_store(c);
			if (!st) {
				free(copy);
				goto fail_store;
			}
			/* decided (cli.md §7.6): @N must be of this session */
			if ((k = store_ref(st, c->session, tok, &e)) == 0) {
				buf_printf(&bad, "%s'%s'", nbad++ ? "; " : "", tok);
				continue;
			}
			if (k < 0) {
				buf_printf(&bad, "%s'%s' (%s)", nbad++ ? "; " : "",
				    tok, store_tip(st, c->session) ? geterr() :
				    "no active session");
				continue;
			}
			ops = xreallocarray(ops, (size_t)nops + 1, sizeof *ops);
			ops[nops++] = xstrdup(e->op);
		}
		free(copy);
	}
	if (nbad) {
		seterr("invalid operation UUID or reference: %s", bad.p);
		buf_free(&bad);
		for (i = 0; i < nops; i++)
			free(ops[i]);
		free(ops);
		return -1;
	}
	*out = ops;
	*n = nops;
	return 0;
fail_store:
	buf_free(&bad);
	for (i = 0; i < nops; i++)
		free(ops[i]);
	free(ops);
	return -1;
}

static void
free_ops(char **ops, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(ops[i]);
	free(ops);
}

/* ---- operation records ---- */

int
op_status_is(const struct json *j, const char *s)
{
	int t = json_get(j, 0, "status");

	return t >= 0 && json_streq(j, t, s);
}

int
op_terminal(const struct json *j)
{
	return op_status_is(j, "SUCCESS") || op_status_is(j, "FAILED") ||
	    op_status_is(j, "CANCELLED");
}

int
op_exit_code(const struct json *j, long long *code)
{
	int64_t v;
	int t = json_path(j, 0, "metadata", "result", "state", "exit_code",
	    (char *)NULL);

	if (t < 0 || json_int64(j, t, &v) < 0)
		t = json_path(j, 0, "result", "exit_code", (char *)NULL);
	if (t < 0 || json_int64(j, t, &v) < 0)
		return 0;
	*code = v;
	return 1;
}

int
op_timed_out(const struct json *j)
{
	int t = json_path(j, 0, "metadata", "result", "state", "timed_out",
	    (char *)NULL);

	return t >= 0 && json_bool(j, t) == 1;
}

char *
op_result_image(const struct json *j)
{
	int t = json_get(j, 0, "result");
	char *s = NULL;

	if (t >= 0 && j->tok[t].type == JSON_OBJECT)
		s = json_getstr(j, t, "image");
	if (!s || !*s) {
		free(s);
		s = json_getstr(j, 0, "result_image_uuid");
	}
	if (s && !*s) {
		free(s);
		s = NULL;
	}
	return s;
}

void
op_stream(const struct json *j, const char *which, struct buf *out,
    int *trunc)
{
	int t = json_path(j, 0, "metadata", "result", which, (char *)NULL);
	int v, enc, tr;
	struct buf raw = {0};

	if (trunc)
		*trunc = 0;
	if (t < 0 || j->tok[t].type != JSON_OBJECT)
		return;
	if (trunc && (tr = json_get(j, t, "truncated")) >= 0)
		*trunc = json_bool(j, tr) == 1;
	if ((v = json_get(j, t, "value")) < 0 || json_str(j, v, &raw) < 0)
		return;
	enc = json_get(j, t, "encoding");
	if (enc >= 0 && json_streq(j, enc, "base64")) {
		size_t before = out->len;

		/* invalid base64 decodes to nothing (api.md §3.1) */
		if (b64_decode(out, raw.p ? raw.p : "", raw.len) < 0) {
			out->len = before;
			if (out->p)
				out->p[before] = '\0';
		}
	} else if (raw.len) {
		buf_add(out, raw.p, raw.len);
	}
	buf_free(&raw);
}

void
op_row(struct row *r, const struct json *j)
{
	long long code;
	char *img;
	int res = json_get(j, 0, "result"), tag;

	row_json(r, j, 0);
	if (op_exit_code(j, &code))
		row_int(r, "exit_code", code);
	else
		row_null(r, "exit_code");
	img = op_result_image(j);
	row_str(r, "image", img ? img : "");
	free(img);
	tag = res >= 0 && j->tok[res].type == JSON_OBJECT ?
	    json_get(j, res, "tag") : -1;
	if (tag >= 0 && j->tok[tag].type == JSON_STRING) {
		struct buf b = {0};

		json_str(j, tag, &b);
		row_strn(r, "tag", b.p ? b.p : "", b.len);
		buf_free(&b);
	} else {
		row_str(r, "tag", "");
	}
	if (json_get(j, 0, "error") < 0)
		row_str(r, "error", "");
}

/* Cache of terminal records (cli.md §7.10): one file per operation,
 * CONTREE_HOME/cli/operations/<uuid>.json.  Losing it costs a request,
 * so it is written with rename() but without fsync. */
static char *
cache_path(struct ctx *c, const char *uuid)
{
	return xasprintf("%s/cli/operations/%s.json", c->home, uuid);
}

static void
cache_put(struct ctx *c, const char *uuid, const char *p, size_t n)
{
	char *path, *dir;

	if (!is_uuid(uuid))
		return;
	dir = xasprintf("%s/cli/operations", c->home);
	path = cache_path(c, uuid);
	if (mkdirs(dir, 0700) < 0 || writefile_cache(path, p, n) < 0)
		logmsg(LOG_DEBUG, "cache: %s", geterr());
	free(path);
	free(dir);
}

static int
parse_record(const char *uuid, struct buf *body, struct json *j)
{
	if (json_parse_alloc(j, body->p ? body->p : "", body->len) < 0) {
		seterr("malformed reply to GET /operations/%s: %s", uuid,
		    json_strerror(j));
		return -1;
	}
	if (j->tok[0].type != JSON_OBJECT) {
		json_free(j);
		seterr("malformed reply to GET /operations/%s: not an object",
		    uuid);
		return -1;
	}
	return 0;
}

int
op_get(struct ctx *c, const char *uuid, int cached, struct buf *body,
    struct json *j)
{
	struct api *a;
	struct api_resp r;
	char *path;
	int rc;

	memset(body, 0, sizeof *body);
	if (cached && is_uuid(uuid)) {
		path = cache_path(c, uuid);
		rc = access(path, R_OK) == 0 ? readfile(path, body) : -1;
		free(path);
		if (rc == 0 && parse_record(uuid, body, j) == 0) {
			if (op_terminal(j))
				return 0;
			json_free(j);
		}
		buf_free(body);
		geterr();
	}
	if (!(a = ctx_api(c)))
		return -1;
	path = xasprintf("/operations/%s", uuid);
	memset(&r, 0, sizeof r);
	r.body = body;
	rc = api_call(a, "GET", path, NULL, NULL, 0, &r);
	free(path);
	if (rc < 0 || parse_record(uuid, body, j) < 0) {
		buf_free(body);
		return -1;
	}
	if (op_terminal(j))
		cache_put(c, uuid, body->p, body->len);
	return 0;
}

/* What the events stream told about a run (api.md §4.5), enough to stand
 * in for the final GET when the caller needs only status, exit code,
 * result image and output. */
struct evrun {
	struct buf out, err;    /* decoded stdout/stderr chunks of spid 1 */
	int tso, tse;           /* a `truncated` event for the stream */
	int exited, timed_out;  /* the `exit` event of spid 1 */
	long long code;
	int done;               /* the `completion` event */
	char *status, *image, *error;
	double duration;
	int bad;                /* something we could not read: use GET */
};

static int
ev_collect(void *arg, const char *type, const char *data, size_t len)
{
	struct evrun *e = arg;
	struct json j;
	int d, t, spid = -1;
	int64_t v;

	if (interrupted)
		return 1;
	if (!e || e->bad)
		return 0;
	if (json_parse_alloc(&j, data, len) < 0) {
		e->bad = 1;
		return 0;
	}
	d = json_get(&j, 0, "data");
	if ((t = json_get(&j, 0, "spid")) >= 0 && json_int64(&j, t, &v) == 0)
		spid = (int)v;
	if (d < 0 || j.tok[d].type != JSON_OBJECT) {
		json_free(&j);
		return 0;
	}
	if ((strcmp(type, "stdout") == 0 || strcmp(type, "stderr") == 0) &&
	    spid == 1) {
		struct buf *b = type[3] == 'o' ? &e->out : &e->err;
		int val = json_get(&j, d, "value");
		int enc = json_get(&j, d, "encoding");

		if (val < 0)
			e->bad = 1;
		else if (enc >= 0 && json_streq(&j, enc, "base64")) {
			struct buf raw = {0};

			json_str(&j, val, &raw);
			if (b64_decode(b, raw.p ? raw.p : "", raw.len) < 0)
				e->bad = 1;
			buf_free(&raw);
		} else {
			json_str(&j, val, b);
		}
	} else if (strcmp(type, "truncated") == 0) {
		int st = json_get(&j, d, "stream");

		if (st >= 0 && json_streq(&j, st, "stdout"))
			e->tso = 1;
		else if (st >= 0 && json_streq(&j, st, "stderr"))
			e->tse = 1;
	} else if (strcmp(type, "exit") == 0 && spid == 1) {
		int to = json_get(&j, d, "timed_out");

		if ((t = json_get(&j, d, "code")) >= 0 &&
		    json_int64(&j, t, &v) == 0) {
			e->exited = 1;
			e->code = v;
		}
		e->timed_out = to >= 0 && json_bool(&j, to) == 1;
	} else if (strcmp(type, "completion") == 0) {
		double ms;

		e->done = 1;
		e->status = json_getstr(&j, d, "status");
		e->image = json_getstr(&j, d, "result_image_uuid");
		if (!e->image)
			e->image = json_getstr(&j, d, "result_image");
		e->error = json_getstr(&j, d, "error");
		if ((t = json_get(&j, d, "duration_ms")) >= 0 &&
		    json_double(&j, t, &ms) == 0)
			e->duration = ms / 1000.0;
		else if ((t = json_get(&j, d, "duration")) >= 0)
			json_double(&j, t, &e->duration);
	}
	json_free(&j);
	return 0;
}

static void
ev_stream(struct jw *w, const char *name, const struct buf *b, int trunc)
{
	struct buf enc = {0};

	b64_encode(&enc, b->p ? b->p : "", b->len);
	jw_key(w, name);
	jw_obj(w);
	jw_key(w, "value");
	jw_strn(w, enc.p ? enc.p : "", enc.len);
	jw_key(w, "encoding");
	jw_str(w, "base64");
	jw_key(w, "truncated");
	jw_bool(w, trunc);
	jw_obj_end(w);
	buf_free(&enc);
}

/* The record of api.md §3.6 built from the events, in the shape the
 * accessors above read.  -1 if the events were not complete. */
static int
ev_record(const struct evrun *e, const char *uuid, struct buf *body,
    struct json *j)
{
	struct jw w;

	/* fix: a cancelled run's record carries no result (no exit code:
	 * `run` exits 1, cli.md §9.2.5) although the stream saw the
	 * process die; take the record itself */
	if (!e->done || e->bad || !e->status || !e->exited ||
	    strcmp(e->status, "CANCELLED") == 0)
		return -1;
	jw_init(&w, body, 0);
	jw_obj(&w);
	jw_key(&w, "uuid");
	jw_str(&w, uuid);
	jw_key(&w, "kind");
	jw_str(&w, "instance");
	jw_key(&w, "status");
	jw_str(&w, e->status);
	jw_key(&w, "error");
	jw_str(&w, e->error);   /* NULL writes null */
	jw_key(&w, "duration");
	jw_double(&w, e->duration);
	jw_key(&w, "metadata");
	jw_obj(&w);
	jw_key(&w, "result");
	jw_obj(&w);
	jw_key(&w, "state");
	jw_obj(&w);
	jw_key(&w, "exit_code");
	jw_int(&w, e->code);
	jw_key(&w, "timed_out");
	jw_bool(&w, e->timed_out);
	jw_obj_end(&w);
	ev_stream(&w, "stdout", &e->out, e->tso);
	ev_stream(&w, "stderr", &e->err, e->tse);
	jw_obj_end(&w);
	jw_obj_end(&w);
	jw_key(&w, "result");
	jw_obj(&w);
	jw_key(&w, "image");
	jw_str(&w, e->image);
	jw_obj_end(&w);
	jw_key(&w, "result_image_uuid");
	jw_str(&w, e->image);
	jw_obj_end(&w);
	if (json_parse_alloc(j, body->p, body->len) < 0) {
		buf_free(body);
		return -1;
	}
	return 0;
}

static void
ev_free(struct evrun *e)
{
	buf_free(&e->out);
	buf_free(&e->err);
	free(e->status);
	free(e->image);
	free(e->error);
}

int
op_wait(struct ctx *c, const char *uuid, int fromevents, struct buf *body,
    struct json *j)
{
	struct api *a = ctx_api(c);
	struct evrun ev;
	int64_t delay = 100;
	int rc;

	if (!a)
		return -1;
	memset(&ev, 0, sizeof ev);
	rc = interrupted ? -1 : api_events(a, uuid, ev_collect, &ev);
	if (interrupted) {
		ev_free(&ev);
		seterr("User interrupted");
		return -1;
	}
	if (rc < 0) {
		/* the stream failed for good: polling still works if the
		 * server does */
		logmsg(LOG_DEBUG, "events: %s; polling instead", geterr());
	}
	/* the whole run came with the stream: no GET needed */
	if (rc == 0 && fromevents && ev_record(&ev, uuid, body, j) == 0) {
		ev_free(&ev);
		return 0;
	}
	ev_free(&ev);
	for (;;) {
		if (op_get(c, uuid, 0, body, j) < 0)
			return -1;
		if (op_terminal(j))
			return 0;
		json_free(j);
		buf_free(body);
		if (sleep_ms(delay) < 0 || interrupted) {
			seterr("User interrupted");
			return -1;
		}
		delay = delay * 2 > 2000 ? 2000 : delay * 2;
	}
}

/* ---- ps / operation list ---- */

static const char *
full_status(const char *s)
{
	static const char *const names[] = {
		"PENDING", "ASSIGNED", "EXECUTING", "SUCCESS", "FAILED",
		"CANCELLED"
	};
	size_t i;

	for (i = 0; i < LEN(names); i++)
		if (strcmp(s, names[i]) == 0 || (s[0] == names[i][0] && !s[1]))
			return names[i];
	return s;
}

struct psctx {
	struct out *o;
	int quiet, werr;
};

static int
ps_row(void *arg, const struct json *j, int t)
{
	struct psctx *p = arg;

	if (p->werr)
		return 0;
	if (p->quiet) {
		int u = json_get(j, t, "uuid");
		struct buf b = {0};

		if (u >= 0 && json_str(j, u, &b) == 0) {
			buf_addc(&b, '\n');
			if (writeall(1, b.p, b.len) < 0) {
				p->werr = 1;
				seterr("writing output:");
			}
		}
		buf_free(&b);
		return 0;
	} else {
		struct row *r = row_new();

		row_json(r, j, t);
		if (out_row(p->o, r) < 0)
			p->werr = 1;
	}
	return 0;
}

static void
ps_batch(void *arg)
{
	struct psctx *p = arg;

	if (p->o && !p->werr && out_batch(p->o) < 0)
		p->werr = 1;
}

int
cmd_op_list(struct ctx *c)
{
	struct psctx p;
	struct buf filt = {0};
	char since[32], until[32];
	const char *q[16], *status = NULL;
	long long max = arg_int(c, "show-max");
	int nq = 0, more = 0, rc, re = 0;

	if (arg_when_iso(c, "since", since, sizeof since) < 0 ||
	    arg_when_iso(c, "until", until, sizeof until) < 0)
		return EXIT_USAGE;
	if (arg_str(c, "status"))
		status = full_status(arg_str(c, "status"));
	else if (!arg_flag(c, "all"))
		status = "EXECUTING";
	if (status) {
		q[nq++] = "status";
		q[nq++] = status;
		buf_printf(&filt, "status=%s", status);
	}
	if (arg_str(c, "kind")) {
		q[nq++] = "kind";
		q[nq++] = arg_str(c, "kind");
		buf_printf(&filt, "%skind=%s", filt.len ? ", " : "",
		    arg_str(c, "kind"));
	}
	if (*since) {
		q[nq++] = "since";
		q[nq++] = since;
		buf_printf(&filt, "%ssince=%s", filt.len ? ", " : "", since);
	}
	if (*until) {
		q[nq++] = "until";
		q[nq++] = until;
		buf_printf(&filt, "%suntil=%s", filt.len ? ", " : "", until);
	}
	q[nq] = NULL;
	memset(&p, 0, sizeof p);
	p.quiet = arg_flag(c, "quiet");
	if (!p.quiet) {
		p.o = out_new(c->fmt, 1);
		out_pin(p.o, NULL, tail_error);
	}
	rc = api_list_pages(ctx_api(c), "/operations", q, NULL, max, ps_row, ps_batch, &p,
	    &more);
	if (p.o)
		re = out_end(p.o);
	if (rc == 0 && more)
		logmsg(LOG_WARNING, "Output truncated at --show-max=%lld (filters: %s); raise --show-max or narrow the filters",
		    max, filt.len ? filt.p : "none");
	buf_free(&filt);
	if (p.werr || re < 0)
		return errno == EPIPE ? 0 : -1;
	return rc < 0 ? -1 : 0;
}

/* ---- show / operation show ---- */

/* Write bytes with a newline added when missing (cli.md §9.2.4). */
static int
put_stream(int fd, const struct buf *b)
{
	if (!b->len)
		return 0;
	if (writeall(fd, b->p, b->len) < 0)
		return -1;
	if (b->p[b->len - 1] != '\n' && writeall(fd, "\n", 1) < 0)
		return -1;
	return 0;
}

int
cmd_op_show(struct ctx *c)
{
	struct out *o = NULL;
	char **args, **ops;
	int nargs, nops, i, failed = 0, raw = arg_flag(c, "raw"), werr = 0;

	args = arg_pos(c, "UUID_OR_REF", &nargs);
	if (resolve_ops(c, args, nargs, &ops, &nops) < 0)
		return -1;
	for (i = 0; i < nops && !werr; i++) {
		struct buf body, line = {0};
		struct json j;

		if (op_get(c, ops[i], 1, &body, &j) < 0) {
			logmsg(LOG_ERROR, "operation %s: %s", ops[i], geterr());
			failed = 1;
			if (interrupted)
				break;
			continue;
		}
		if (raw) {
			struct jw w;

			jw_init(&w, &line, JW_SPACED | JW_ASCII);
			jw_tok(&w, &j, 0);
			buf_addc(&line, '\n');
			if (writeall(1, line.p, line.len) < 0)
				werr = 1;
		} else {
			struct row *r = row_new();

			/* default: one table per operation, followed by its
			 * output (a fix: other formats get the row only, so
			 * JSON Lines stay parsable, cli.md §9.8) */
			if (!o) {
				o = out_new(c->fmt, 1);
				out_pin(o, NULL, tail_error);
			}
			op_row(r, &j);
			if (out_row(o, r) < 0 || out_batch(o) < 0)
				werr = 1;
			if (c->fmt == FMT_DEFAULT) {
				struct buf so = {0}, se = {0};

				if (out_end(o) < 0)
					werr = 1;
				o = NULL;
				fflush(stdout);
				op_stream(&j, "stdout", &so, NULL);
				op_stream(&j, "stderr", &se, NULL);
				if (!werr && put_stream(1, &so) < 0)
					werr = 1;
				put_stream(2, &se);
				buf_free(&so);
				buf_free(&se);
			}
		}
		buf_free(&line);
		json_free(&j);
		buf_free(&body);
	}
	if (o && out_end(o) < 0)
		werr = 1;
	free_ops(ops, nops);
	if (werr) {
		if (errno == EPIPE)
			return failed;
		seterr("writing output:");
		return -1;
	}
	return failed ? EXIT_ERR : 0;
}

/* ---- kill / operation cancel ---- */

/* UUIDs of every PENDING, ASSIGNED or EXECUTING operation, listed with
 * limit=100 pages per status (cli.md §9.9).  -1 with the slot set. */
static int
list_active(struct ctx *c, char ***out, int *n)
{
	struct api *a = ctx_api(c);
	char **ops = NULL;
	int nops = 0, s;

	*out = NULL;
	*n = 0;
	if (!a)
		return -1;
	for (s = 0; active_statuses[s]; s++) {
		long long offset = 0;

		for (;;) {
			struct buf body = {0};
			struct api_resp r;
			struct json j;
			char off[32];
			const char *q[] = {"status", active_statuses[s],
			    "limit", "100", "offset", off, NULL};
			int t, cnt = 0;

			snprintf(off, sizeof off, "%lld", offset);
			memset(&r, 0, sizeof r);
			r.body = &body;
			if (api_call(a, "GET", "/operations", q, NULL, 0, &r) < 0) {
				buf_free(&body);
				free_ops(ops, nops);
				return -1;
			}
			if (json_parse_alloc(&j, body.p ? body.p : "",
			    body.len) < 0 || j.tok[0].type != JSON_ARRAY) {
				if (j.err == JSON_OK)
					json_free(&j);
				buf_free(&body);
				free_ops(ops, nops);
				seterr("malformed reply to GET /operations");
				return -1;
			}
			for (t = json_first(&j, 0); t >= 0; t = json_after(&j, t)) {
				char *u = json_getstr(&j, t, "uuid");
				int k, dup = 0;

				cnt++;
				if (!u)
					continue;
				for (k = 0; k < nops; k++)
					dup |= strcmp(ops[k], u) == 0;
				if (dup) {
					free(u);
					continue;
				}
				ops = xreallocarray(ops, (size_t)nops + 1,
				    sizeof *ops);
				ops[nops++] = u;
			}
			json_free(&j);
			buf_free(&body);
			if (cnt < 100)
				break;
			offset += cnt;
		}
	}
	*out = ops;
	*n = nops;
	return 0;
}

/* Operations named on the command line or, with --all, every active
 * one.  1 = nothing to do (message printed), 0 = *ops filled, -1. */
static int
targets(struct ctx *c, char ***ops, int *nops)
{
	char **args;
	int nargs;

	args = arg_pos(c, "UUID_OR_REF", &nargs);
	if (arg_flag(c, "all")) {
		if (nargs)
			logmsg(LOG_WARNING, "--all takes precedence over the operations given");
		if (list_active(c, ops, nops) < 0)
			return -1;
		if (*nops == 0) {
			logmsg(LOG_INFO, "No active operations");
			free(*ops);
			return 1;
		}
		return 0;
	}
	if (nargs == 0) {
		seterr("give at least one operation UUID or reference, or --all");
		return -1;
	}
	return resolve_ops(c, args, nargs, ops, nops);
}

int
cmd_op_cancel(struct ctx *c)
{
	struct api *a;
	char **ops;
	int nops, i, failed = 0, rc;

	if ((rc = targets(c, &ops, &nops)) != 0)
		return rc < 0 ? -1 : 0;
	if (!(a = ctx_api(c))) {
		free_ops(ops, nops);
		return -1;
	}
	for (i = 0; i < nops; i++) {
		struct api_resp r;
		char *path = xasprintf("/operations/%s", ops[i]);

		memset(&r, 0, sizeof r);
		if (api_call(a, "DELETE", path, NULL, NULL, 0, &r) < 0) {
			logmsg(LOG_ERROR, "Failed to cancel operation %s: %s",
			    ops[i], geterr());
			failed = 1;
		} else {
			logmsg(LOG_INFO, "Cancelled operation %s", ops[i]);
		}
		free(path);
	}
	free_ops(ops, nops);
	return failed ? EXIT_ERR : 0;
}

/* ---- operation wait ---- */

static void
wait_row(struct out *o, const struct json *j, int timed_out)
{
	struct row *r = row_new();
	long long code;

	row_json(r, j, 0);
	if (op_exit_code(j, &code))
		row_int(r, "exit_code", code);
	else
		row_null(r, "exit_code");
	row_bool(r, "timed_out", timed_out);
	if (json_get(j, 0, "duration") < 0)
		row_null(r, "duration");
	if (json_get(j, 0, "error") < 0)
		row_str(r, "error", "");
	out_row(o, r);
}

int
cmd_op_wait(struct ctx *c)
{
	static const char *const head[] = {
		"uuid", "status", "exit_code", "timed_out", "duration", NULL
	};
	struct out *o;
	char **ops;
	int nops, i, rc, left, st = 0, *done;
	long long secs = arg_int(c, "timeout");
	int64_t deadline, delay = 100;

	if ((rc = targets(c, &ops, &nops)) != 0)
		return rc < 0 ? -1 : 0;
	deadline = now_ms() + secs * 1000;
	done = xcalloc((size_t)nops, sizeof *done);
	o = out_new(c->fmt, 1);
	out_pin(o, head, tail_error);
	left = nops;
	for (;;) {
		for (i = 0; i < nops; i++) {
			struct buf body;
			struct json j;
			long long code;

			if (done[i])
				continue;
			if (op_get(c, ops[i], 1, &body, &j) < 0)
				goto fail;
			if (op_terminal(&j)) {
				done[i] = 1;
				left--;
				wait_row(o, &j, 0);
				if (!op_status_is(&j, "SUCCESS"))
					st = st > 1 ? st : 1;
				else if (op_exit_code(&j, &code) && code != 0) {
					int e = (int)(code & 255);

					st = st > e ? st : e;
				}
			}
			json_free(&j);
			buf_free(&body);
		}
		if (out_batch(o) < 0)
			break;
		if (left == 0 || now_ms() >= deadline)
			break;
		{
			int64_t rest = deadline - now_ms();

			if (sleep_ms(delay < rest ? delay : rest) < 0 ||
			    interrupted) {
				seterr("User interrupted");
				goto fail;
			}
		}
		delay = delay * 2 > 2000 ? 2000 : delay * 2;
	}
	if (left > 0) {
		for (i = 0; i < nops; i++) {
			struct buf body;
			struct json j;

			if (done[i])
				continue;
			if (op_get(c, ops[i], 1, &body, &j) < 0)
				goto fail;
			wait_row(o, &j, 1);
			json_free(&j);
			buf_free(&body);
		}
		out_batch(o);
		logmsg(LOG_WARNING, "%d operation%s did not finish within %lld seconds",
		    left, left == 1 ? "" : "s", secs);
		st = st > 1 ? st : 1;
	}
	free(done);
	free_ops(ops, nops);
	if (out_end(o) < 0 && errno != EPIPE)
		return -1;
	return st;
fail:
	out_end(o);
	free(done);
	free_ops(ops, nops);
	return -1;
}
