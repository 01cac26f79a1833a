/* ops.c - operations: statuses, references, records and their cache,
 * waiting (events stream, polling fallback), spawning without ever
 * sending twice (a per-spawn marker finds a lost one), cancelling and
 * image import (api.md §3.6, §4, §7; cli.md §7.6, §7.10; design.md
 * §1). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "json.h"
#include "ops.h"
#include "out.h"
#include "store.h"
#include "util.h"

/* ---- status ---- */

static const char *const status_names[] = {
	NULL, "PENDING", "ASSIGNED", "EXECUTING", "SUCCESS", "FAILED",
	"CANCELLED"
};

enum opstatus
op_status_parse(const char *s, int abbrev)
{
	size_t i;

	for (i = 1; s && i < LEN(status_names); i++)
		if (strcmp(s, status_names[i]) == 0 ||
		    (abbrev && s[0] == status_names[i][0] && !s[1]))
			return (enum opstatus)i;
	return OP_UNKNOWN;
}

const char *
op_status_name(enum opstatus s)
{
	return (size_t)s < LEN(status_names) ? status_names[s] : NULL;
}

enum opstatus
op_status(const struct json *j, int t)
{
	int s = json_get(j, t, "status");
	size_t i;

	for (i = 1; s >= 0 && i < LEN(status_names); i++)
		if (json_streq(j, s, status_names[i]))
			return (enum opstatus)i;
	return OP_UNKNOWN;
}

int
op_terminal(enum opstatus s)
{
	return s == OP_SUCCESS || s == OP_FAILED || s == OP_CANCELLED;
}

int
op_active(enum opstatus s)
{
	return s == OP_PENDING || s == OP_ASSIGNED || s == OP_EXECUTING;
}

/* ---- references (cli.md §7.6) ---- */

void
free_ops(char **ops, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(ops[i]);
	free(ops);
}

static void
add_op(char ***ops, int *n, const char *uuid)
{
	*ops = xreallocarray(*ops, (size_t)*n + 1, sizeof **ops);
	(*ops)[(*n)++] = xstrdup(uuid);
}

/* One token: its UUID added to ops, or its complaint to bad. */
static void
resolve_one(struct store *st, const char *session, const char *tok,
    char ***ops, int *n, struct buf *bad)
{
	const struct store_entry *e;
	const char *sep = bad->len ? "; " : "";
	int k;

	if (is_uuid(tok)) {
		add_op(ops, n, tok);
		return;
	}
	if (!st) {
		buf_printf(bad, "%s'%s' (no session store)", sep, tok);
		return;
	}
	/* decided (cli.md §7.6): @N must be of this session */
	if ((k = store_ref(st, session, tok, &e)) == 0)
		buf_printf(bad, "%s'%s'", sep, tok);
	else if (k < 0)
		buf_printf(bad, "%s'%s' (%s)", sep, tok,
		    store_tip(st, session) ? geterr() : "no active session");
	else
		add_op(ops, n, e->op);
}

int
resolve_ops(struct store *st, const char *session, char **args,
    int nargs, char ***out, int *n)
{
	struct buf bad = {0};
	char **ops = NULL;
	int i, nops = 0;

	for (i = 0; i < nargs; i++) {
		char *copy = xstrdup(args[i]), *tok, *save = NULL;

		for (tok = strtok_r(copy, " \t\n\r\f\v", &save); tok;
		    tok = strtok_r(NULL, " \t\n\r\f\v", &save))
			resolve_one(st, session, tok, &ops, &nops, &bad);
		free(copy);
	}
	if (bad.len) {
		seterr("invalid operation UUID or reference: %s", bad.p);
		buf_free(&bad);
		free_ops(ops, nops);
		return -1;
	}
	*out = ops;
	*n = nops;
	return 0;
}

int
resolve_image(struct api *a, struct store *st, const char *session,
    const char *ref, char image[37], const struct store_entry **entry)
{
	const struct store_entry *e = NULL;
	int k = 0;

	if (entry)
		*entry = NULL;
	if (st && !is_uuid(ref) && strncmp(ref, "tag:", 4) != 0) {
		if ((k = store_ref_entry(st, session, ref, &e)) < 0) {
			errwrap("image reference '%s'", ref);
			return -1;
		}
		if (k == 0 && (e = store_branch_tip(st, session, ref)))
			k = 1;
	}
	if (k == 1) {
		memcpy(image, e->image, 37);
		if (entry)
			*entry = e;
		return 0;
	}
	if (!a)
		return -1;
	if (api_image_resolve(a, ref, image) < 0) {
		errwrap("unknown image '%s'", ref);
		return -1;
	}
	return 0;
}

/* ---- records ---- */

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
op_outcome(const struct json *j)
{
	long long code;

	if (op_status(j, 0) != OP_SUCCESS)
		return 1;
	return op_exit_code(j, &code) ? (int)(code & 255) : 0;
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
op_row_code(struct row *r, int has, long long code)
{
	if (has)
		row_int(r, "exit_code", code);
	else
		row_null(r, "exit_code");
}

void
op_row_streams(struct row *r, const struct buf *so, const struct buf *se)
{
	row_strn(r, "stdout", so->p ? so->p : "", so->len);
	row_strn(r, "stderr", se->p ? se->p : "", se->len);
}

void
op_row_head(struct row *r, const struct json *j, const char *uuid)
{
	long long code = 0;
	int has = op_exit_code(j, &code);

	row_json(r, j, 0);
	if (uuid)
		row_str(r, "uuid", uuid);
	op_row_code(r, has, code);
}

void
op_row(struct row *r, const struct json *j)
{
	char *img;
	int res = json_get(j, 0, "result"), tag;

	op_row_head(r, j, NULL);
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
cache_path(const char *home, const char *uuid)
{
	return xasprintf("%s/cli/operations/%s.json", home, uuid);
}

static void
cache_put(const char *home, const char *uuid, const char *p, size_t n)
{
	char *path, *dir;

	if (!home || !is_uuid(uuid))
		return;
	dir = xasprintf("%s/cli/operations", home);
	path = cache_path(home, uuid);
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
op_cached(const char *home, const char *uuid, struct buf *body,
    struct json *j)
{
	char *path;
	int rc;

	memset(body, 0, sizeof *body);
	if (!home || !is_uuid(uuid))
		return -1;
	path = cache_path(home, uuid);
	rc = access(path, R_OK) == 0 ? readfile(path, body) : -1;
	free(path);
	if (rc == 0 && parse_record(uuid, body, j) == 0) {
		if (op_terminal(op_status(j, 0)))
			return 0;
		json_free(j);
	}
	buf_free(body);
	return -1;
}

int
op_get(struct api *a, const char *home, const char *uuid,
    struct buf *body, struct json *j)
{
	struct api_resp r;
	char *path;
	int rc;

	memset(body, 0, sizeof *body);
	path = xasprintf("/operations/%s", uuid);
	memset(&r, 0, sizeof r);
	r.body = body;
	rc = api_call(a, "GET", path, NULL, NULL, 0, &r);
	free(path);
	if (rc < 0 || parse_record(uuid, body, j) < 0) {
		buf_free(body);
		return -1;
	}
	if (op_terminal(op_status(j, 0)))
		cache_put(home, uuid, body->p, body->len);
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
	op_live_fn live;        /* op_wait_live's hook, or NULL */
	void *livearg;
};

/* A stdout/stderr event's bytes, appended to b. */
static void
ev_output(struct evrun *e, struct buf *b, const struct json *j, int d)
{
	int val = json_get(j, d, "value"), enc = json_get(j, d, "encoding");
	struct buf raw = {0};
	size_t before = b->len;

	if (val < 0) {
		e->bad = 1;
	} else if (enc >= 0 && json_streq(j, enc, "base64")) {
		json_str(j, val, &raw);
		if (b64_decode(b, raw.p ? raw.p : "", raw.len) < 0)
			e->bad = 1;
		buf_free(&raw);
	} else {
		json_str(j, val, b);
	}
	if (e->live && b->len > before)
		e->live(e->livearg, b == &e->out ? 1 : 2, b->p + before,
		    b->len - before);
}

static void
ev_exit(struct evrun *e, const struct json *j, int d)
{
	int to = json_get(j, d, "timed_out"), t = json_get(j, d, "code");
	int64_t v;

	if (t >= 0 && json_int64(j, t, &v) == 0) {
		e->exited = 1;
		e->code = v;
	}
	e->timed_out = to >= 0 && json_bool(j, to) == 1;
}

static void
ev_completion(struct evrun *e, const struct json *j, int d)
{
	double ms;
	int t;

	e->done = 1;
	e->status = json_getstr(j, d, "status");
	e->image = json_getstr(j, d, "result_image_uuid");
	if (!e->image)
		e->image = json_getstr(j, d, "result_image");
	e->error = json_getstr(j, d, "error");
	if ((t = json_get(j, d, "duration_ms")) >= 0 &&
	    json_double(j, t, &ms) == 0)
		e->duration = ms / 1000.0;
	else if ((t = json_get(j, d, "duration")) >= 0)
		json_double(j, t, &e->duration);
}

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
	if (strcmp(type, "stdout") == 0 && spid == 1)
		ev_output(e, &e->out, &j, d);
	else if (strcmp(type, "stderr") == 0 && spid == 1)
		ev_output(e, &e->err, &j, d);
	else if (strcmp(type, "truncated") == 0) {
		int st = json_get(&j, d, "stream");

		if (st >= 0 && json_streq(&j, st, "stdout"))
			e->tso = 1;
		else if (st >= 0 && json_streq(&j, st, "stderr"))
			e->tse = 1;
	} else if (strcmp(type, "exit") == 0 && spid == 1)
		ev_exit(e, &j, d);
	else if (strcmp(type, "completion") == 0)
		ev_completion(e, &j, d);
	json_free(&j);
	return 0;
}

static void
ev_stream(struct jw *w, const char *name, const struct buf *b, int trunc)
{
	struct buf enc = {0};

	b64_encode(&enc, b->p ? b->p : "", b->len);
	jw_kobj(w, name);
	jw_key(w, "value");
	jw_strn(w, enc.p ? enc.p : "", enc.len);
	jw_kstr(w, "encoding", "base64");
	jw_kbool(w, "truncated", trunc);
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
	jw_kstr(&w, "uuid", uuid);
	jw_kstr(&w, "kind", "instance");
	jw_kstr(&w, "status", e->status);
	jw_kstr(&w, "error", e->error);   /* NULL writes null */
	jw_key(&w, "duration");
	jw_double(&w, e->duration);
	jw_kobj(&w, "metadata");
	jw_kobj(&w, "result");
	jw_kobj(&w, "state");
	jw_kint(&w, "exit_code", e->code);
	jw_kbool(&w, "timed_out", e->timed_out);
	jw_obj_end(&w);
	ev_stream(&w, "stdout", &e->out, e->tso);
	ev_stream(&w, "stderr", &e->err, e->tse);
	jw_obj_end(&w);
	jw_obj_end(&w);
	jw_kobj(&w, "result");
	jw_kstr(&w, "image", e->image);
	jw_obj_end(&w);
	jw_kstr(&w, "result_image_uuid", e->image);
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

static int wait_live(struct api *, const char *, const char *, int,
    op_live_fn, void *, struct buf *, struct json *);

int
op_wait(struct api *a, const char *home, const char *uuid, int fromevents,
    struct buf *body, struct json *j)
{
	return wait_live(a, home, uuid, fromevents, NULL, NULL, body, j);
}

int
op_wait_live(struct api *a, const char *home, const char *uuid,
    int fromevents, long long secs, op_live_fn live, void *arg,
    struct buf *body, struct json *j)
{
	int rc;

	api_set_deadline(a, now_ms() + secs * 1000);
	rc = wait_live(a, home, uuid, fromevents, live, arg, body, j);
	api_set_deadline(a, 0);
	return rc;
}

static int
wait_live(struct api *a, const char *home, const char *uuid,
    int fromevents, op_live_fn live, void *arg, struct buf *body,
    struct json *j)
{
	struct evrun ev;
	int64_t delay = 100;
	int rc;

	memset(&ev, 0, sizeof ev);
	ev.live = live;
	ev.livearg = arg;
	rc = interrupted ? -1 : api_events(a, uuid, ev_collect, &ev);
	if (interrupted) {
		ev_free(&ev);
		seterrc(ERR_INTR, "User interrupted");
		return -1;
	}
	/* a stream that failed for good: polling still works if the
	 * server does */
	if (rc < 0)
		logmsg(LOG_DEBUG, "events: %s; polling instead", geterr());
	/* the whole run came with the stream: no GET needed */
	if (rc == 0 && fromevents && ev_record(&ev, uuid, body, j) == 0) {
		ev_free(&ev);
		return 0;
	}
	ev_free(&ev);
	for (;;) {
		if (op_get(a, home, uuid, body, j) < 0)
			return -1;
		if (op_terminal(op_status(j, 0)))
			return 0;
		json_free(j);
		buf_free(body);
		if (sleep_ms(delay) < 0 || interrupted) {
			seterrc(ERR_INTR, "User interrupted");
			return -1;
		}
		delay = delay * 2 > 2000 ? 2000 : delay * 2;
	}
}

/* ---- the environment of a run ---- */

static long
env_find(const struct op_env *e, const char *k, size_t klen)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (strlen(e->k[i]) == klen && strncmp(e->k[i], k, klen) == 0)
			return (long)i;
	return -1;
}

static void
env_set(struct op_env *e, const char *k, size_t klen, const char *v)
{
	long i = env_find(e, k, klen);

	if (i >= 0) {
		free(e->v[i]);
		e->v[i] = v ? xstrdup(v) : NULL;
		return;
	}
	e->k = xreallocarray(e->k, e->n + 1, sizeof *e->k);
	e->v = xreallocarray(e->v, e->n + 1, sizeof *e->v);
	e->k[e->n] = xstrndup(k, klen);
	e->v[e->n++] = v ? xstrdup(v) : NULL;
}

long
op_env_find(const struct op_env *e, const char *k)
{
	return env_find(e, k, strlen(k));
}

const char *
op_env_get(const struct op_env *e, const char *k)
{
	long i = op_env_find(e, k);

	return i >= 0 ? e->v[i] : NULL;
}

void
op_env_set(struct op_env *e, const char *k, const char *v)
{
	env_set(e, k, strlen(k), v);
}

/* Drop k: the marker is ours, set anew for every spawn (and kept out
 * of run's digest of --preserve-env). */
static void
env_del(struct op_env *e, const char *k)
{
	long i = op_env_find(e, k);

	if (i < 0)
		return;
	logmsg(LOG_WARNING, "%s is set by contree for every run; the value given is ignored",
	    k);
	free(e->k[i]);
	free(e->v[i]);
	e->k[i] = e->k[e->n - 1];
	e->v[i] = e->v[--e->n];
}

int
op_env_check(char *const *pairs, int npairs)
{
	int i;

	for (i = 0; i < npairs; i++)
		if (pairs[i][0] == '=' || pairs[i][0] == '\0') {
			seterr("invalid -e '%s': expected NAME=VALUE with a non-empty NAME",
			    pairs[i]);
			return -1;
		}
	return 0;
}

void
op_env_build(struct op_env *e, const struct store_kv *base, size_t nbase,
    char *const *pairs, int npairs)
{
	size_t i;
	int k;

	for (i = 0; i < nbase; i++)
		env_set(e, base[i].name, strlen(base[i].name), base[i].value);
	for (k = 0; k < npairs; k++) {
		const char *eq = strchr(pairs[k], '=');

		if (eq)
			env_set(e, pairs[k], (size_t)(eq - pairs[k]), eq + 1);
		else
			env_set(e, pairs[k], strlen(pairs[k]), "");
	}
	env_del(e, OP_MARKER_ENV);
}

void
op_env_session(struct op_env *e, struct store *st, const char *session,
    char *const *pairs, int npairs)
{
	struct store_kv *kv;
	size_t n;

	memset(e, 0, sizeof *e);
	kv = store_env(st, session, &n);
	op_env_build(e, kv, n, pairs, npairs);
	free(kv);
}

void
op_env_free(struct op_env *e)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		free(e->k[i]);
		free(e->v[i]);
	}
	free(e->k);
	free(e->v);
	memset(e, 0, sizeof *e);
}

/* ---- spawn (never twice), cancel, import ---- */

#define LOST_WINDOW 60          /* s before the spawn a lost op may date */
#define LOST_TRIES  3           /* lookups, 1 s apart */
#define LOST_PAGES  10          /* pages of 100 operations per lookup */

void
op_run_json(const struct op_run *r, const char *marker, struct buf *out)
{
	struct jw w;
	size_t i;

	jw_init(&w, out, 0);
	jw_obj(&w);
	jw_kstr(&w, "image", r->image);
	jw_kstr(&w, "command", r->command ? r->command : "");
	if (r->nargs) {
		jw_key(&w, "args");
		jw_arr(&w);
		for (i = 0; i < r->nargs; i++)
			jw_str(&w, r->args[i]);
		jw_arr_end(&w);
	}
	jw_kbool(&w, "shell", r->shell);
	jw_kbool(&w, "disposable", r->disposable);
	jw_kstr(&w, "hostname", r->hostname ? r->hostname : "linuxkit");
	jw_kint(&w, "truncate_output_at", r->truncate);
	jw_kint(&w, "timeout", r->timeout);
	if (r->cwd && *r->cwd) {
		jw_kstr(&w, "cwd", r->cwd);
	}
	if (r->has_user) {
		jw_kint(&w, "uid", r->uid);
		jw_kint(&w, "gid", r->gid);
	}
	/* always sent: the marker rides along even when the rest of
	 * the environment is baked into the image */
	jw_kobj(&w, "env");
	for (i = 0; i < r->nenv; i++) {
		jw_kstr(&w, r->envk[i], r->envv[i]);
	}
	jw_kstr(&w, OP_MARKER_ENV, marker);
	jw_obj_end(&w);
	if (r->preserve_env) {
		jw_kbool(&w, "preserve_env", 1);
	}
	if (r->nfiles) {
		char mode[16];

		jw_kobj(&w, "files");
		for (i = 0; i < r->nfiles; i++) {
			jw_kobj(&w, r->files[i].dest);
			jw_kstr(&w, "uuid", r->files[i].uuid);
			jw_kint(&w, "uid", r->files[i].uid);
			jw_kint(&w, "gid", r->files[i].gid);
			jw_key(&w, "mode");
			snprintf(mode, sizeof mode, "%04o",
			    r->files[i].mode & 07777);
			jw_str(&w, mode);
			jw_obj_end(&w);
		}
		jw_obj_end(&w);
	}
	if (r->has_stdin) {
		struct buf b64 = {0};

		b64_encode(&b64, r->stdin_data, r->stdin_len);
		jw_kobj(&w, "stdin");
		jw_key(&w, "value");
		jw_strn(&w, b64.p ? b64.p : "", b64.len);
		jw_kstr(&w, "encoding", "base64");
		jw_obj_end(&w);
		buf_free(&b64);
	}
	jw_obj_end(&w);
}

int
op_marker(char hex[33])
{
	unsigned char r[16];

	if (randbytes(r, sizeof r) < 0)
		return -1;
	hexstr(hex, r, sizeof r);
	return 0;
}

/* Does the operation uuid carry marker in metadata.env?  1, 0, -1. */
static int
marked(struct api *a, const char *uuid, const char *marker)
{
	struct buf body;
	struct json j;
	int t, yes;

	if (op_get(a, NULL, uuid, &body, &j) < 0)
		return -1;
	t = json_path(&j, 0, "metadata", "env", OP_MARKER_ENV, (char *)NULL);
	yes = t >= 0 && json_streq(&j, t, marker);
	json_free(&j);
	buf_free(&body);
	return yes;
}

/* GET /v1/operations with query (NULL-terminated name, value pairs). */
int
op_list(struct api *a, const char *const *query, struct buf *body,
    struct json *j)
{
	struct api_resp r;
	int t = 0;

	memset(&r, 0, sizeof r);
	r.body = body;
	if (api_call(a, "GET", "/operations", query, NULL, 0, &r) < 0) {
		buf_free(body);
		return -1;
	}
	if (json_parse_alloc(j, body->p ? body->p : "", body->len) < 0) {
		buf_free(body);
		seterr("malformed reply to GET /operations");
		return -1;
	}
	/* a bare array (api.md §2.12), or {"operations": [...]} */
	if (j->tok[0].type == JSON_OBJECT)
		t = json_get(j, 0, "operations");
	if (t < 0 || j->tok[t].type != JSON_ARRAY) {
		json_free(j);
		buf_free(body);
		seterr("malformed reply to GET /operations: not a list");
		return -1;
	}
	return t;
}

/* One page of instance operations created since `since`: 1 with uuid
 * set if one carries marker, else 0 and *cnt items seen; -1. */
static int
find_page(struct api *a, const char *since, long long offset,
    const char *marker, char uuid[37], int *cnt)
{
	struct buf body = {0};
	struct json j;
	char off[32];
	const char *q[] = {"kind", "instance", "since", since, "limit", "100",
	    "offset", off, NULL};
	int t, arr, found = 0;

	*cnt = 0;
	snprintf(off, sizeof off, "%lld", offset);
	if ((arr = op_list(a, q, &body, &j)) < 0)
		return -1;
	for (t = json_first(&j, arr); t >= 0 && !found; t = json_after(&j, t)) {
		char *u = json_getstr(&j, t, "uuid");

		++*cnt;
		if (u && is_uuid(u) && marked(a, u, marker) == 1) {
			memcpy(uuid, u, 37);
			found = 1;
		}
		free(u);
	}
	json_free(&j);
	buf_free(&body);
	return found;
}

/* The instance operation whose metadata carries marker, created since
 * LOST_WINDOW s before t0; a few lookups for a server slow to list it.
 * 1 found (uuid set), 0 none (slot set), -1. */
static int
find_marked(struct api *a, const char *marker, long long t0,
    char uuid[37])
{
	char since[32];
	int try, page, cnt, rc;

	iso_utc(t0 - LOST_WINDOW, since, sizeof since);
	for (try = 0; try < LOST_TRIES; try++) {
		if (try && sleep_ms(1000) < 0)
			break;
		for (page = 0; page < LOST_PAGES; page++) {
			rc = find_page(a, since, page * 100LL, marker, uuid,
			    &cnt);
			if (rc != 0)
				return rc;
			if (cnt < 100)
				break;
		}
	}
	seterr("no operation carries this run's marker %s=%s",
	    OP_MARKER_ENV, marker);
	return 0;
}

/* The spawn was sent, its answer lost (status 0) or unreadable (a 2xx
 * status: it did start): adopt the operation carrying marker, or fail
 * saying what may have happened.  Ctrl-C is held back meanwhile. */
static int
find_lost(struct api *a, const char *marker, long long t0, int status,
    char uuid[37])
{
	char *why = xstrdup(geterr());
	int saved = interrupted, found;

	interrupted = 0;
	logmsg(LOG_WARNING, "%s answer to the spawn request (%s); looking for the operation by its marker",
	    status ? "Unreadable" : "No", why);
	found = find_marked(a, marker, t0, uuid);
	interrupted = saved || interrupted;
	if (found == 1) {
		logmsg(LOG_WARNING, "Found operation %s started by this run",
		    uuid);
		free(why);
		return 0;
	}
	if (status)
		seterr("the server accepted the spawn request (HTTP %d) but its answer was unreadable (%s), and the operation could not be identified (%s): check 'contree ps -a'",
		    status, why, geterr());
	else
		seterrc(ERR_NET, "the spawn request was sent but its answer was lost (%s), and the operation could not be identified (%s): the command MAY have started; check 'contree ps -a' before running it again",
		    why, geterr());
	free(why);
	return -1;
}

int
op_spawn(struct api *a, const char *json, const char *marker,
    struct buf *reply, char uuid[37])
{
	struct api_resp r;
	long long t0 = (long long)time(NULL);
	int rc;

	memset(&r, 0, sizeof r);
	r.body = reply;
	rc = api_call(a, "POST", "/instances", NULL, json, API_NOREPLAY, &r);
	if (rc == 0 && api_reply_uuid(reply, "POST /instances", uuid) == 0)
		return 0;
	if (rc < 0 && r.status / 100 != 2 && r.status != 0)
		return -1;      /* the server said no: nothing started */
	if (rc < 0 && r.status == 0 && !api_sent(a))
		return -1;      /* never sent (refused): nothing started */
	buf_reset(reply);
	return find_lost(a, marker, t0, r.status, uuid);
}

int
op_spawn_run(struct api *a, const struct op_run *r, char uuid[37])
{
	struct buf body = {0}, reply = {0};
	char marker[33];
	int rc;

	if (op_marker(marker) < 0)
		return -1;
	op_run_json(r, marker, &body);
	rc = op_spawn(a, body.p, marker, &reply, uuid);
	buf_free(&body);
	buf_free(&reply);
	return rc;
}

int
op_cancel(struct api *a, const char *uuid)
{
	struct api_resp r;
	char *path = xasprintf("/operations/%s", uuid);
	int saved = interrupted, rc;

	interrupted = 0;        /* let the cancel through */
	memset(&r, 0, sizeof r);
	rc = api_call(a, "DELETE", path, NULL, NULL, 0, &r);
	interrupted = saved || interrupted;
	free(path);
	return rc;
}

int
op_import(struct api *a, const char *json, char uuid[37])
{
	struct buf body = {0};
	struct api_resp r;
	int rc;

	memset(&r, 0, sizeof r);
	r.body = &body;
	rc = api_call(a, "POST", "/images/import", NULL, json, API_NOREPLAY,
	    &r);
	if (rc == 0)
		rc = api_reply_uuid(&body, "POST /images/import", uuid);
	buf_free(&body);
	return rc;
}

/* docker://<registry>/<path>:<tag> for a user's reference (cli.md §9.5). */
char *
op_registry_url(const char *ref)
{
	const char *slash;
	char *first, *r, *last;

	if (strncmp(ref, "docker://", 9) == 0)
		return xstrdup(ref);
	slash = strchr(ref, '/');
	if (!slash) {
		r = xasprintf("docker.io/library/%s", ref);
	} else {
		first = xstrndup(ref, (size_t)(slash - ref));
		if (strpbrk(first, ".:")) {
			if (strcmp(first, "docker.io") == 0 &&
			    !strchr(slash + 1, '/'))
				r = xasprintf("docker.io/library/%s", slash + 1);
			else
				r = xstrdup(ref);
		} else {
			r = xasprintf("docker.io/%s", ref);
		}
		free(first);
	}
	last = strrchr(r, '/');
	if (!strchr(last ? last : r, ':')) {
		char *t = xasprintf("%s:latest", r);

		free(r);
		r = t;
	}
	first = xasprintf("docker://%s", r);
	free(r);
	return first;
}

void
op_import_json(const char *url, const char *tag, const char *user,
    const char *pass, long long timeout, struct buf *js)
{
	struct jw w;

	jw_init(&w, js, 0);
	jw_obj(&w);
	jw_kobj(&w, "registry");
	jw_kstr(&w, "url", url);
	if (user) {
		jw_kobj(&w, "credentials");
		jw_kstr(&w, "username", user);
		jw_kstr(&w, "password", pass);
		jw_obj_end(&w);
	}
	jw_obj_end(&w);
	jw_kstr(&w, "tag", tag);
	if (timeout >= 0) {
		jw_kint(&w, "timeout", timeout);
	}
	jw_obj_end(&w);
}

long long
op_record(struct store *st, const struct op_rec *r, const struct json *j,
    int *forked)
{
	struct store_new e;
	char *res = NULL, *branch = NULL;
	long long id = 0, from = r->from;

	memset(&e, 0, sizeof e);
	if (r->useimg) {
		e.kind = STORE_USE;
		e.image = r->useimg;
		e.title = r->usetitle;
		if ((from = store_append(st, r->key, &e, NULL)) < 0)
			return -1;
		memset(&e, 0, sizeof e);
	}
	e.title = r->title;
	e.op = r->op;
	e.from = from;
	e.image = r->image;
	if (!j) {
		branch = xasprintf("%s-%s", r->disp ? "disposable" : "detached",
		    r->op);
		e.kind = r->disp ? STORE_RUN_DISPOSABLE : STORE_RUN_DETACHED;
		e.branch = branch;
		if ((id = store_append(st, r->key, &e, NULL)) >= 0 &&
		    store_pending_add(st, r->key, r->op, r->title, branch,
		    r->disp) < 0)
			id = -1;
	} else if (op_status(j, 0) == OP_SUCCESS) {
		if (r->disp) {
			branch = xasprintf("disposable-%s", r->op);
			e.kind = STORE_RUN_DISPOSABLE;
			e.branch = branch;
		} else if ((res = op_result_image(j))) {
			e.kind = STORE_RUN;
			e.image = res;
		}
		if (e.kind)
			id = store_append(st, r->key, &e, r->disp ? NULL : forked);
	}
	free(branch);
	free(res);
	return id;
}
