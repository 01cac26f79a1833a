/* cmd_explore.c - contree explore: run several shell commands from one
 * image at the same time and keep each result as a branch of the
 * session (PREFIX-1, PREFIX-2, ...), leaving the active branch where it
 * is, so that the caller compares (contree diff) and checks out the
 * winner.  The runs are explore.c's; here are the arguments, the
 * uploads, the recording and the output. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "cmds.h"
#include "contree.h"
#include "explore.h"
#include "files.h"
#include "ops.h"
#include "out.h"
#include "prose.h"
#include "store.h"
#include "util.h"

struct xp {
	struct ctx *c;
	char **cmds;
	size_t n;
	char **label;           /* PREFIX-k, or "#i" with -D */
	int *recorded;          /* the branch exists */
};

/* ---- the request ---- */

/* The session's environment overlaid by -e (as run).  -1 on a bad
 * pair, before anything is sent. */
static int
build_env(struct ctx *c, struct store *st, struct op_env *e)
{
	char **pairs;
	int np;

	pairs = arg_list(c, "env", &np);
	if (op_env_check(pairs, np) < 0)
		return -1;
	op_env_session(e, st, c->session, pairs, np);
	return 0;
}

/* ---- output ---- */

/* A command finished (explore_run's callback): its header, then its
 * output, at once. */
static void
shown(void *arg, size_t i, const struct explore_res *r)
{
	struct xp *x = arg;

	if (x->c->fmt != FMT_DEFAULT)
		return;
	/* the name is the command's; a failed one makes no branch */
	printf("==> %s%s: %s\n", x->label[i], x->label[i][0] != '#' &&
	    !explore_keeps(r) ? " (no branch)" : "", x->cmds[i]);
	fflush(stdout);
	writeall_nl(1, r->out.p, r->out.len);
	writeall_nl(2, r->err.p, r->err.len);
	if (r->error && r->op[0])
		logmsg(LOG_ERROR, "%s: %s (details: contree show %s)",
		    x->label[i], r->error, r->op);
	else if (r->error)
		logmsg(LOG_ERROR, "%s: %s", x->label[i], r->error);
	if (r->timed_out)
		logmsg(LOG_WARNING, "%s: timed out", x->label[i]);
	if (r->trunc_out || r->trunc_err)
		logmsg(LOG_WARNING, "%s: the server truncated its output",
		    x->label[i]);
}

static int
summary(struct xp *x, const struct explore_res *res)
{
	struct out *o = out_new(x->c->fmt, 1);
	size_t i;

	for (i = 0; i < x->n; i++) {
		const struct explore_res *r = &res[i];
		const char *st = op_status_name(r->status);
		struct row *w = row_new();

		row_str(w, "branch", x->recorded[i] ? x->label[i] : "");
		op_row_code(w, r->has_exit, r->exit_code);
		row_str(w, "status", st ? st : "ERROR");
		row_float(w, "duration", r->duration);
		row_str(w, "image", r->image ? r->image : "");
		row_str(w, "command", x->cmds[i]);
		if (x->c->fmt != FMT_DEFAULT) {
			op_row_streams(w, &r->out, &r->err);
			row_str(w, "operation", r->op);
			row_str(w, "error", r->error ? r->error : "");
		}
		if (out_row(o, w) < 0)
			break;
	}
	return out_end(o);
}

/* ---- the command ---- */

struct start {
	char image[37];
	long long from;         /* entry id, or 0: image is not one */
	const char *ref;        /* --from as given */
	int tip;                /* starting from the tip: staged files */
};

/* The image every command starts from.  0, 1 (no session: message
 * printed), -1. */
static int
start_image(struct ctx *c, struct store *st, struct start *s)
{
	const struct store_entry *tip = store_tip(st, c->session), *e = NULL;
	struct api *a;

	s->ref = arg_str(c, "from");
	if (!s->ref) {
		if (!tip) {
			no_session();
			return 1;
		}
		memcpy(s->image, tip->image, 37);
		s->from = tip->id;
		s->tip = 1;
		return 0;
	}
	if (!(a = ctx_api(c)) ||
	    resolve_image(a, st, c->session, s->ref, s->image, &e) < 0)
		return -1;
	s->from = e ? e->id : 0;
	s->tip = e && tip && e->id == tip->id;
	return 0;
}

int
cmd_explore(struct ctx *c)
{
	struct xp x;
	struct start s;
	struct explore_req q;
	struct explore_res *res = NULL;
	struct filelist files;
	struct store_file *pend = NULL;
	struct op_file *fe = NULL;
	struct store *st;
	struct api *a;
	const char *prefix = arg_str(c, "prefix");
	struct op_env env;
	char **specs;
	size_t npend = 0, nfe = 0, i;
	int nspecs, ncmds, rc = -1, k = 0;
	int disp = arg_flag(c, "disposable") > 0;

	memset(&x, 0, sizeof x);
	memset(&s, 0, sizeof s);
	memset(&q, 0, sizeof q);
	memset(&files, 0, sizeof files);
	memset(&env, 0, sizeof env);
	x.c = c;
	x.cmds = arg_pos(c, "CMD", &ncmds);
	x.n = (size_t)ncmds;
	if (!prefix || !*prefix || strpbrk(prefix, " \t\n\r")) {
		usage_fail(c, "%s", prose(P_EXPLORE_PREFIX_MUST));
		return EXIT_USAGE;
	}
	for (i = 0; i < x.n; i++)
		if (!*x.cmds[i]) {
			usage_fail(c, "command %zu is empty", i + 1);
			return EXIT_USAGE;
		}
	/* 1. everything local first: nothing is sent if any of it fails */
	specs = arg_list(c, "file", &nspecs);
	if (!(st = ctx_store(c)) ||
	    build_env(c, st, &env) < 0 ||
	    files_collect(specs, nspecs, NULL, 0, &files) < 0)
		goto out;
	/* 2. the image, the names, the uploads (once for all) */
	if ((rc = start_image(c, st, &s)) != 0) {
		rc = rc < 0 ? -1 : EXIT_ERR;
		goto out;
	}
	rc = -1;
	x.recorded = xcalloc(x.n, sizeof *x.recorded);
	if (disp) {
		x.label = xcalloc(x.n + 1, sizeof *x.label);
		for (i = 0; i < x.n; i++)
			x.label[i] = xasprintf("#%zu", i + 1);
	} else {
		x.label = explore_names(st, c->session, prefix, x.n);
	}
	if (!(a = ctx_api(c)) || files_upload(a, c->home, &files) < 0)
		goto out;
	if (s.tip)
		pend = store_pending_files(st, c->session, &npend);
	fe = files_merge(pend, npend, &files, &nfe);
	/* 3. run them all */
	q.image = s.image;
	q.cmds = x.cmds;
	q.ncmds = x.n;
	q.timeout = arg_int(c, "timeout");
	q.cwd = arg_str(c, "cwd");
	if (!q.cwd || !*q.cwd)
		q.cwd = store_cwd(st, c->session);
	q.envk = env.k;
	q.envv = env.v;
	q.nenv = env.n;
	q.files = fe;
	q.nfiles = nfe;
	q.disposable = disp;
	q.jobs = (int)arg_int(c, "jobs");
	res = xcalloc(x.n, sizeof *res);
	logmsg(LOG_DEBUG, "explore: %zu commands from %s", x.n, s.image);
	if (explore_run(a, c->home, &q, res, shown, &x) < 0)
		goto out;       /* Ctrl-C: cancelled, nothing recorded */
	/* 4. record, then the summary */
	if (!disp && (k = explore_record(st, c->session, prefix, x.label, &q,
	    res, s.from, s.ref ? s.ref : "", x.recorded)) < 0)
		logmsg(LOG_ERROR, "recording the branches: %s", geterr());
	if (summary(&x, res) < 0 && errno != EPIPE)
		goto out;
	rc = EXIT_ERR;
	for (i = 0; i < x.n && k == 0; i++)
		if (res[i].status == OP_SUCCESS && res[i].has_exit &&
		    res[i].exit_code == 0)
			rc = 0;
out:
	if (res)
		explore_res_free(res, x.n);
	free(res);
	freewords(x.label);     /* NULL-terminated */
	free(x.recorded);
	op_env_free(&env);
	free(fe);
	free(pend);
	files_free(&files);
	return rc;
}
