/* cmd_ops.c - the operation commands: ps / op list, show / op show,
 * kill / op cancel, op wait (cli.md §7.6, §9.7-9.10).  Records, statuses
 * and references come from ops.c. */
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
#include "ops.h"
#include "out.h"
#include "prose.h"
#include "store.h"
#include "util.h"

static const char *const tail_error[] = { "error", NULL };

/* A record for show / wait: the local cache, else one GET. */
static int
get_op(struct ctx *c, const char *uuid, struct buf *body, struct json *j)
{
	struct api *a;

	if (op_cached(c->home, uuid, body, j) == 0)
		return 0;
	if (!(a = ctx_api(c)))
		return -1;
	return op_get(a, c->home, uuid, body, j);
}

/* Operation references from the command line (cli.md §7.6). */
static int
refs(struct ctx *c, char **args, int nargs, char ***ops, int *n)
{
	struct store *st = ctx_store(c);

	if (!st)
		return -1;
	return resolve_ops(st, c->session, args, nargs, ops, n);
}

/* ---- ps / operation list ---- */

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
	const char *q[16], *status = arg_str(c, "status");
	long long max = arg_int(c, "show-max");
	int nq = 0, more = 0, rc, re = 0;

	if (arg_when_iso(c, "since", since, sizeof since) < 0 ||
	    arg_when_iso(c, "until", until, sizeof until) < 0)
		return EXIT_USAGE;
	if (status) {
		/* "S" for SUCCESS ...; anything else goes as typed */
		const char *full = op_status_name(op_status_parse(status, 1));

		status = full ? full : status;
	} else if (!arg_flag(c, "all"))
		status = "EXECUTING";
	{
		const char *fk[] = {"status", "kind", "since", "until"};
		const char *fv[] = {status, arg_str(c, "kind"), *since ? since :
		    NULL, *until ? until : NULL};
		size_t k;

		for (k = 0; k < LEN(fk); k++)
			if (fv[k]) {
				q[nq++] = fk[k];
				q[nq++] = fv[k];
				buf_printf(&filt, "%s%s=%s", filt.len ? ", " : "",
				    fk[k], fv[k]);
			}
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
		logmsg(LOG_WARNING, prose(P_OPS_TRUNC),
		    max, filt.len ? filt.p : "none");
	buf_free(&filt);
	if (p.werr || re < 0)
		return errno == EPIPE ? 0 : -1;
	return rc < 0 ? -1 : 0;
}

/* ---- show / operation show ---- */

int
cmd_op_show(struct ctx *c)
{
	struct out *o = NULL;
	char **args, **ops;
	int nargs, nops, i, failed = 0, raw = arg_flag(c, "raw"), werr = 0;

	args = arg_pos(c, "UUID_OR_REF", &nargs);
	if (refs(c, args, nargs, &ops, &nops) < 0)
		return -1;
	for (i = 0; i < nops && !werr; i++) {
		struct buf body, line = {0}, so = {0}, se = {0};
		struct json j;

		if (get_op(c, ops[i], &body, &j) < 0) {
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
			 * output; other formats carry the output in the row as
			 * stdout and stderr, as run's row does, so JSON Lines
			 * stay parsable (cli.md §9.8, issue 11) */
			if (!o) {
				o = out_new(c->fmt, 1);
				out_pin(o, NULL, tail_error);
			}
			op_row(r, &j);
			op_stream(&j, "stdout", &so, NULL);
			op_stream(&j, "stderr", &se, NULL);
			if (c->fmt != FMT_DEFAULT)
				op_row_streams(r, &so, &se);
			if (out_row(o, r) < 0 || out_batch(o) < 0)
				werr = 1;
			if (c->fmt == FMT_DEFAULT) {
				if (out_end(o) < 0)
					werr = 1;
				o = NULL;
				fflush(stdout);
				/* a newline added when missing (cli.md
				 * §9.2.4) */
				if (!werr && writeall_nl(1, so.p, so.len) < 0)
					werr = 1;
				writeall_nl(2, se.p, se.len);
			}
		}
		buf_free(&so);
		buf_free(&se);
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
	for (s = OP_PENDING; op_active((enum opstatus)s); s++) {
		const char *name = op_status_name((enum opstatus)s);
		long long offset = 0;

		for (;;) {
			struct buf body = {0};
			struct json j;
			char off[32];
			const char *q[] = {"status", name,
			    "limit", "100", "offset", off, NULL};
			int t, cnt = 0;

			snprintf(off, sizeof off, "%lld", offset);
			if ((t = op_list(a, q, &body, &j)) < 0) {
				free_ops(ops, nops);
				return -1;
			}
			for (t = json_first(&j, t); t >= 0; t = json_after(&j, t)) {
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
			logmsg(LOG_WARNING, "%s", prose(P_OPS_ALL_TAKES));
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
		seterr("%s", prose(P_OPS_GIVE_LEAST));
		return -1;
	}
	return refs(c, args, nargs, ops, nops);
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
		if (op_cancel(a, ops[i]) < 0) {
			logmsg(LOG_ERROR, "Failed to cancel operation %s: %s",
			    ops[i], geterr());
			failed = 1;
		} else {
			logmsg(LOG_INFO, "Cancelled operation %s", ops[i]);
		}
	}
	free_ops(ops, nops);
	return failed ? EXIT_ERR : 0;
}

/* ---- operation wait ---- */

static void
wait_row(struct out *o, const struct json *j, int timed_out)
{
	struct row *r = row_new();

	op_row_head(r, j, NULL);
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
	int nops, i, rc, left, st = 0, *done, final;
	long long secs = arg_int(c, "timeout");
	int64_t deadline, delay = 100;

	if ((rc = targets(c, &ops, &nops)) != 0)
		return rc < 0 ? -1 : 0;
	deadline = now_ms() + secs * 1000;
	/* every request inside the wait, the final fetch included, ends by
	 * the deadline (plus a moment for that fetch) */
	if (ctx_api(c))
		api_set_deadline(ctx_api(c), deadline + 2000);
	done = xcalloc((size_t)nops, sizeof *done);
	o = out_new(c->fmt, 1);
	out_pin(o, head, tail_error);
	left = nops;
	/* polls until all are done or the deadline; then a final pass
	 * prints the rest as timed out */
	for (final = 0;;) {
		for (i = 0; i < nops; i++) {
			struct buf body;
			struct json j;

			if (done[i])
				continue;
			if (get_op(c, ops[i], &body, &j) < 0)
				goto fail;
			if (final) {
				wait_row(o, &j, 1);
			} else if (op_terminal(op_status(&j, 0))) {
				int e = op_outcome(&j);

				done[i] = 1;
				left--;
				wait_row(o, &j, 0);
				st = st > e ? st : e;
			}
			json_free(&j);
			buf_free(&body);
		}
		rc = out_batch(o);
		if (left == 0 || final)
			break;
		if (rc < 0 || now_ms() >= deadline) {
			final = 1;
			continue;
		}
		{
			int64_t rest = deadline - now_ms();

			if (sleep_ms(delay < rest ? delay : rest) < 0 ||
			    interrupted) {
				user_interrupted();
				goto fail;
			}
		}
		delay = delay * 2 > 2000 ? 2000 : delay * 2;
	}
	if (final) {
		logmsg(LOG_WARNING, prose(P_OPS_OPERATION_DID),
		    left, left == 1 ? "" : "s", secs, secs == 1 ? "" : "s");
		st = st > 1 ? st : 1;
	}
	free(done);
	free_ops(ops, nops);
	if (c->api_)
		api_set_deadline(c->api_, 0);
	if (out_end(o) < 0 && errno != EPIPE)
		return -1;
	return st;
fail:
	out_end(o);
	free(done);
	free_ops(ops, nops);
	if (c->api_)
		api_set_deadline(c->api_, 0);
	return -1;
}
