/* explore.c - N commands from one image at once (explore.h).
 *
 * Why processes and not threads or one event loop: tls.c keeps one
 * BearSSL engine (and its static I/O buffer) per process, and the error
 * slot is one per process, so a second request in flight in the same
 * process would need a second TLS engine and a second slot, i.e. a
 * rewrite of the layers below.  A forked child (jobs.c) is a whole
 * client with its own connection, its own slot and its own Ctrl-C
 * handling; a crash or a hang in one command's job cannot take the
 * others down, nor a long-lived parent (the MCP server).  The cost, a
 * fork per command, is nothing next to a sandbox run.
 *
 * A job: api_forget() on the inherited handle (the parent's connection
 * is not ours), the request body from op_run_json, a fresh marker, one
 * op_spawn (never sent twice: a lost answer is looked up by the
 * marker), then these messages to the parent, each one JSON object:
 *	{"op": UUID}              first, as soon as the operation exists
 *	{"result": {...}}         last: status, exit code, image, output
 *	                          (base64, so that any bytes survive)...
 *	{"cancelled": true}       instead of a result after Ctrl-C, once
 *	                          its operation was cancelled
 *
 * Ctrl-C: the terminal sends SIGINT to the whole process group, so each
 * job sees it, cancels its own operation (op_cancel is let through) and
 * ends; the parent also forwards it (a SIGINT sent to the parent alone),
 * starts no queued job, and cancels any operation whose job ended
 * without saying it did.
 *
 * Recording (explore_record) is apart from the runs so that the caller
 * records nothing after Ctrl-C, and uses only store.h. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "explore.h"
#include "jobs.h"
#include "json.h"
#include "ops.h"
#include "prose.h"
#include "store.h"
#include "util.h"

/* Seconds a command may take beyond its timeout before the job stops
 * waiting (the operation may queue on the server first), as for run. */
#define EXPLORE_MARGIN 120
#define EXPLORE_TRUNCATE 65536

struct xjob {
	struct api *a;
	const char *home;
	const struct explore_req *q;
	size_t i;
};

struct xstate {
	struct explore_res *res;
	size_t n;
	char *got, *cancelled;  /* per command: a result came; its job
	                           cancelled the operation */
	explore_fn done;
	void *ctx;
};

/* ---- in the job ---- */

static int
send_json(struct buf *b)
{
	int rc = job_send(b->p, b->len);

	buf_free(b);
	return rc;
}

static int
send_op(const char *uuid)
{
	struct buf b = {0};
	struct jw w;

	jw_init(&w, &b, 0);
	jw_obj(&w);
	jw_key(&w, "op");
	jw_str(&w, uuid);
	jw_obj_end(&w);
	return send_json(&b);
}

static void
send_cancelled(void)
{
	struct buf b = {0};

	buf_puts(&b, "{\"cancelled\":true}");
	send_json(&b);
}

static void
put_b64(struct jw *w, const char *key, const struct buf *v)
{
	struct buf e = {0};

	b64_encode(&e, v->p ? v->p : "", v->len);
	jw_key(w, key);
	jw_strn(w, e.p ? e.p : "", e.len);
	buf_free(&e);
}

/* The result message: from the record j (NULL when there is none) and
 * the error in err (NULL: none). */
static int
send_result(const struct json *j, double wall, const char *err)
{
	struct buf b = {0}, so = {0}, se = {0};
	struct jw w;
	long long code;
	double d = wall;
	int t, tso = 0, tse = 0;
	char *img = NULL, *e = NULL;

	jw_init(&w, &b, 0);
	jw_obj(&w);
	jw_key(&w, "result");
	jw_obj(&w);
	if (j) {
		const char *stn = op_status_name(op_status(j, 0));

		jw_key(&w, "status");
		jw_str(&w, stn);
		jw_key(&w, "exit_code");
		if (op_exit_code(j, &code))
			jw_int(&w, code);
		else
			jw_null(&w);
		jw_key(&w, "timed_out");
		jw_bool(&w, op_timed_out(j));
		img = op_result_image(j);
		jw_key(&w, "image");
		jw_str(&w, img);
		op_stream(j, "stdout", &so, &tso);
		op_stream(j, "stderr", &se, &tse);
		put_b64(&w, "stdout", &so);
		put_b64(&w, "stderr", &se);
		jw_key(&w, "trunc_out");
		jw_bool(&w, tso);
		jw_key(&w, "trunc_err");
		jw_bool(&w, tse);
		if ((t = json_get(j, 0, "duration")) >= 0)
			json_double(j, t, &d);
		if (!err && op_status(j, 0) != OP_SUCCESS) {
			char *why = json_getstr(j, 0, "error");

			e = xasprintf("operation ended %s%s%s", stn ? stn : "?",
			    why && *why ? ": " : "", why ? why : "");
			free(why);
			err = e;
		}
	}
	jw_key(&w, "duration");
	jw_double(&w, d);
	jw_key(&w, "error");
	jw_str(&w, err);
	jw_obj_end(&w);
	jw_obj_end(&w);
	free(img);
	free(e);
	buf_free(&so);
	buf_free(&se);
	return send_json(&b);
}

/* Ctrl-C with an operation running: cancel it and say so. */
static int
job_cancel(struct api *a, const char *uuid)
{
	if (op_cancel(a, uuid) < 0) {
		logmsg(LOG_WARNING, "cancelling %s: %s", uuid, geterr());
		return EXIT_INTR;
	}
	logmsg(LOG_INFO, "Operation %s cancelled", uuid);
	send_cancelled();
	return EXIT_INTR;
}

static int
job(void *arg)
{
	struct xjob *x = arg;
	const struct explore_req *q = x->q;
	struct op_run r;
	struct buf rec = {0};
	struct json j;
	char uuid[37];
	int64_t t0;
	double wall = 0;
	int rc;

	api_forget(x->a);
	if (interrupted)
		return EXIT_INTR;
	memset(&r, 0, sizeof r);
	r.image = q->image;
	r.command = q->cmds[x->i];
	r.shell = 1;
	r.disposable = q->disposable;
	r.truncate = q->truncate > 0 ? q->truncate : EXPLORE_TRUNCATE;
	r.timeout = q->timeout;
	r.cwd = q->cwd;
	r.envk = q->envk;
	r.envv = q->envv;
	r.nenv = q->nenv;
	r.files = q->files;
	r.nfiles = q->nfiles;
	t0 = now_ms();
	rc = op_spawn_run(x->a, &r, uuid);
	if (rc < 0) {
		if (interrupted)
			return EXIT_INTR;
		goto failed;
	}
	if (send_op(uuid) < 0 || interrupted)
		return job_cancel(x->a, uuid);
	rc = op_wait_live(x->a, x->home, uuid, 1, q->timeout + EXPLORE_MARGIN,
	    NULL, NULL, &rec, &j);
	wall = (double)(now_ms() - t0) / 1000;
	if (rc < 0) {
		if (interrupted)
			return job_cancel(x->a, uuid);
		goto failed;
	}
	rc = send_result(&j, wall, NULL);
	json_free(&j);
	buf_free(&rec);
	return rc < 0 ? 1 : 0;
failed:                 /* no record: the error as the result */
	return send_result(NULL, wall, geterr()) < 0 ? 1 : 0;
}

/* ---- in the parent ---- */

static void
set_error(struct explore_res *r, const char *msg)
{
	free(r->error);
	r->error = xstrdup(msg);
}

static int
jtrue(const struct json *j, int t, const char *key)
{
	int v = json_get(j, t, key);

	return v >= 0 && json_bool(j, v) == 1;
}

/* The result object at token t into r. */
static int
take_result(struct explore_res *r, const struct json *j, int t)
{
	struct buf tmp = {0};
	int64_t code;
	int v, k;

	r->status = OP_UNKNOWN;
	if ((v = json_get(j, t, "status")) >= 0 &&
	    j->tok[v].type == JSON_STRING) {
		json_str(j, v, &tmp);
		r->status = op_status_parse(tmp.p ? tmp.p : "", 0);
		buf_reset(&tmp);
	}
	if ((v = json_get(j, t, "exit_code")) >= 0 &&
	    json_int64(j, v, &code) == 0) {
		r->has_exit = 1;
		r->exit_code = code;
	}
	r->timed_out = jtrue(j, t, "timed_out");
	r->trunc_out = jtrue(j, t, "trunc_out");
	r->trunc_err = jtrue(j, t, "trunc_err");
	r->image = json_getstr(j, t, "image");
	r->error = json_getstr(j, t, "error");
	if ((v = json_get(j, t, "duration")) >= 0)
		json_double(j, v, &r->duration);
	for (k = 0; k < 2; k++) {
		buf_reset(&tmp);
		if ((v = json_get(j, t, k ? "stderr" : "stdout")) >= 0 &&
		    json_str(j, v, &tmp) == 0 && b64_decode(k ? &r->err :
		    &r->out, tmp.p ? tmp.p : "", tmp.len) < 0)
			break;
	}
	buf_free(&tmp);
	return k < 2 ? -1 : 0;
}

static void
onmsg(void *arg, int id, const char *msg, size_t len)
{
	struct xstate *s = arg;
	struct explore_res *r;
	struct json j;
	char *op;
	int t;

	if (id < 0 || (size_t)id >= s->n)
		return;
	r = &s->res[id];
	if (json_parse_alloc(&j, msg, len) < 0) {
		set_error(r, "malformed message from the command's job");
		return;
	}
	if ((op = json_getstr(&j, 0, "op")) && is_uuid(op))
		memcpy(r->op, op, 37);
	free(op);
	if (json_get(&j, 0, "cancelled") >= 0)
		s->cancelled[id] = 1;
	if ((t = json_get(&j, 0, "result")) >= 0 && !s->got[id]) {
		s->got[id] = 1;
		if (take_result(r, &j, t) < 0)
			set_error(r, "malformed result from the command's job");
		if (s->done && !interrupted)
			s->done(s->ctx, (size_t)id, r);
	}
	json_free(&j);
}

static void
onend(void *arg, int id, int status)
{
	struct xstate *s = arg;
	struct explore_res *r;

	if (id < 0 || (size_t)id >= s->n || s->got[id])
		return;
	r = &s->res[id];
	if (status == -1 && interrupted)
		set_error(r, "not started: interrupted");
	else if (status == -1)
		set_error(r, geterr());
	else if (interrupted)
		set_error(r, "interrupted");
	else {
		free(r->error);
		r->error = xasprintf(prose(P_EXPLORE_COMMAND_JOB),
		    status);
	}
	s->got[id] = 1;
	if (s->done && !interrupted)
		s->done(s->ctx, (size_t)id, r);
}

int
explore_run(struct api *a, const char *home, const struct explore_req *q,
    struct explore_res *res, explore_fn done, void *ctx)
{
	struct xstate s;
	struct xjob *x;
	struct jobs *js;
	size_t i;
	int stopping = 0;

	if (q->ncmds == 0)
		return 0;
	memset(&s, 0, sizeof s);
	s.res = res;
	s.n = q->ncmds;
	s.got = xcalloc(q->ncmds, 1);
	s.cancelled = xcalloc(q->ncmds, 1);
	s.done = done;
	s.ctx = ctx;
	x = xcalloc(q->ncmds, sizeof *x);
	js = jobs_new(q->jobs < 1 || (size_t)q->jobs > q->ncmds ?
	    (int)q->ncmds : q->jobs, onmsg, onend, &s);
	for (i = 0; i < q->ncmds; i++) {
		x[i].a = a;
		x[i].home = home;
		x[i].q = q;
		x[i].i = i;
		jobs_add(js, (int)i, job, &x[i]);
	}
	while (jobs_pending(js)) {
		/* a bounded wait: a signal that lands just before poll()
		 * is seen within a quarter second */
		jobs_step(js, -1, 250);
		if (interrupted && !stopping) {
			stopping = 1;
			jobs_drop(js);
			jobs_kill(js, -1, SIGINT);
		}
	}
	jobs_free(js);
	if (interrupted) {
		for (i = 0; i < q->ncmds; i++)
			if (res[i].op[0] && !s.cancelled[i] &&
			    (res[i].status == OP_UNKNOWN ||
			    op_active(res[i].status)) &&
			    op_cancel(a, res[i].op) == 0)
				logmsg(LOG_INFO, "Operation %s cancelled",
				    res[i].op);
	}
	free(x);
	free(s.got);
	free(s.cancelled);
	if (interrupted)
		return user_interrupted();
	return 0;
}

void
explore_res_free(struct explore_res *res, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(res[i].image);
		free(res[i].error);
		buf_free(&res[i].out);
		buf_free(&res[i].err);
	}
}

/* ---- recording the results as branches ---- */

/* The highest k of the session's branches named prefix-k (0: none). */
static long long
last_number(struct store *st, const char *key, const char *prefix)
{
	struct store_branch *b;
	size_t n, i, pl = strlen(prefix);
	long long max = 0, k;

	b = store_branches(st, key, &n);
	for (i = 0; i < n; i++) {
		const char *s = b[i].name, *d = s + pl + 1;

		if (strncmp(s, prefix, pl) || s[pl] != '-' || !*d ||
		    *d == '0' || strspn(d, "0123456789") != strlen(d) ||
		    strlen(d) > 15)
			continue;
		k = strtoll(d, NULL, 10);
		max = k > max ? k : max;
	}
	free(b);
	return max;
}

char **
explore_names(struct store *st, const char *key, const char *prefix,
    size_t n)
{
	char **v = xcalloc(n + 1, sizeof *v);
	long long base = last_number(st, key, prefix);
	size_t i;

	for (i = 0; i < n; i++)
		v[i] = xasprintf("%s-%lld", prefix, base + (long long)i + 1);
	return v;
}

int
explore_keeps(const struct explore_res *r)
{
	return r->status == OP_SUCCESS && r->image && is_uuid(r->image);
}

int
explore_record(struct store *st, const char *key, const char *prefix,
    char **names, const struct explore_req *q, const struct explore_res *res,
    long long from, const char *ref, int *recorded)
{
	struct store_new e;
	size_t i, n = q->ncmds, first = n;

	for (i = n; i-- > 0; )
		if (explore_keeps(&res[i]))
			first = i;
	if (first == n)
		return 0;
	if (store_begin(st) < 0)
		return -1;
	/* another explore may have taken the names meanwhile */
	for (i = 0; i < n; i++)
		if (explore_keeps(&res[i]) && store_branch_tip(st, key, names[i]))
			break;
	if (i < n) {
		char **v = explore_names(st, key, prefix, n);

		logmsg(LOG_WARNING, prose(P_EXPL_APPEARED),
		    names[i]);
		for (i = 0; i < n; i++) {
			free(names[i]);
			names[i] = v[i];
		}
		free(v);
	}
	memset(&e, 0, sizeof e);
	if (!from) {
		e.kind = STORE_USE;
		e.image = q->image;
		e.title = ref;
		e.branch = store_get(st, key, NULL) ? names[first] : NULL;
		if ((from = store_append(st, key, &e, NULL)) < 0)
			goto fail;
	}
	for (i = 0; i < n; i++) {
		if (!explore_keeps(&res[i]))
			continue;
		e.kind = STORE_RUN;     /* every field the use entry set too */
		e.image = res[i].image;
		e.title = q->cmds[i];
		e.op = res[i].op;
		e.branch = names[i];
		e.from = from;
		if (store_append(st, key, &e, NULL) < 0)
			goto fail;
		recorded[i] = 1;
	}
	return store_commit(st);
fail:
	store_commit(st);       /* recorded[] keeps the branches made */
	return -1;
}
