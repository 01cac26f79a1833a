/* cmd_diff.c - what changed between two images: contree diff.  The
 * arguments (image references, the default FROM and TO, --path) and
 * the output (A/C/D lines, rows, patches) are here; the comparison
 * itself, and its rule of equality, is treediff.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cmds.h"
#include "contree.h"
#include "ops.h"
#include "out.h"
#include "prose.h"
#include "store.h"
#include "treediff.h"
#include "util.h"

struct side {
	struct td_side s;
	char own[32];           /* ref of a default side ("@3") */
};

struct walk {
	struct out *o;          /* NULL: the default A/C/D lines */
	struct buf text;        /* default output, flushed now and then */
	int patch, changed;
};

static int
flush(struct walk *w)
{
	if (w->text.len && writeall(1, w->text.p, w->text.len) < 0) {
		seterr("standard output:");
		return -1;
	}
	buf_reset(&w->text);
	return 0;
}

static void
octal(struct row *r, const char *name, long long mode)
{
	char o[32];

	snprintf(o, sizeof o, "%llo", mode);
	row_str(r, name, o);
}

/* The fields of change_row in order, then the patch (-p only: the
 * last one). */
static const char *const cols[] = {
	"change", "path", "type", "size", "mode", "uid", "gid", "target",
	"old_type", "old_size", "old_mode", "old_uid", "old_gid",
	"old_target", "patch"
};

/* The row of one change: the new values (the old ones for D), then the
 * old values that changed. */
static struct row *
change_row(const struct td_change *ch)
{
	struct row *r = row_new();
	const struct td_ent *e = ch->new ? ch->new : ch->old, *a = ch->old;
	char k[2] = {ch->what, '\0'};
	int d = ch->differ;

	row_str(r, "change", k);
	row_str(r, "path", ch->path);
	row_str(r, "type", td_type_name(e->type));
	row_int(r, "size", e->size);
	row_int(r, "mode", e->mode);
	row_int(r, "uid", e->uid);
	row_int(r, "gid", e->gid);
	if (e->target)
		row_str(r, "target", e->target);
	if (d & TD_TYPE)
		row_str(r, "old_type", td_type_name(a->type));
	if (d & TD_SIZE)
		row_int(r, "old_size", a->size);
	if (d & TD_MODE)
		octal(r, "old_mode", a->mode);
	if (d & TD_UID)
		row_int(r, "old_uid", a->uid);
	if (d & TD_GID)
		row_int(r, "old_gid", a->gid);
	if ((d & TD_TARGET) || ((d & TD_TYPE) && a->target))
		row_str(r, "old_target", a->target);
	return r;
}

/* Print one change (treediff's callback). */
static int
report(void *arg, const struct td_change *ch)
{
	struct walk *w = arg;
	const struct td_ent *e = ch->new ? ch->new : ch->old;

	w->changed = 1;
	if (w->o) {
		struct row *r = change_row(ch);

		if (w->patch)
			row_strn(r, "patch", ch->patch, ch->patchlen);
		return out_row(w->o, r);
	}
	buf_printf(&w->text, "%c ", ch->what);
	td_quote(&w->text, "", ch->path, e->type == 'd' &&
	    strcmp(ch->path, "/") ? "/" : "");
	buf_addc(&w->text, '\n');
	if (ch->patch)
		buf_add(&w->text, ch->patch, ch->patchlen);
	if (w->text.len > (64 << 10))
		return flush(w);
	return 0;
}

/* An image reference as the other commands take it (ops.h
 * resolve_image). */
static int
resolve(struct ctx *c, const char *ref, struct side *s)
{
	struct store *st = NULL;

	s->s.ref = ref;
	if (!is_uuid(ref) && strncmp(ref, "tag:", 4) != 0 &&
	    !(st = ctx_store(c)))
		return -1;
	return resolve_image(ctx_api(c), st, c->session, ref, s->s.image,
	    NULL);
}

/* A side that is entry e of the session ("@ID"). */
static void
entry_side(struct side *s, const struct store_entry *e)
{
	snprintf(s->own, sizeof s->own, "@%lld", e->id);
	s->s.ref = s->own;
	memcpy(s->s.image, e->image, 37);
}

/* FROM and TO: the arguments, or the session's image (TO) and the
 * newest earlier image of its history (FROM).  0, 1 (no session:
 * message printed), -1. */
static int
sides(struct ctx *c, const char *from, const char *to, struct side *a,
    struct side *b)
{
	const struct store_entry *tip = NULL, *e;
	struct store *st;

	if (!from || !to) {
		if (!(st = ctx_store(c)))
			return -1;
		if (!(tip = store_tip(st, c->session))) {
			no_session();
			return 1;
		}
	}
	if (to && resolve(c, to, b) < 0)
		return -1;
	if (!to)
		entry_side(b, tip);
	if (from)
		return resolve(c, from, a) < 0 ? -1 : 0;
	for (e = tip->up; e && !strcmp(e->image, tip->image); e = e->up)
		;
	if (!e) {
		seterr(prose(P_DIFF_NOBASE),
		    tip->image);
		return -1;
	}
	entry_side(a, e);
	return 0;
}

/* --path, relative to the session's working directory (as ls). */
static char *
subtree(struct ctx *c, const char *p)
{
	struct store *st;

	if (!p || !*p)
		return xstrdup("/");
	if (*p == '/')
		return join_path("/", p);
	if (!(st = ctx_store(c)))
		return NULL;
	return join_path(store_cwd(st, c->session), p);
}

int
cmd_diff(struct ctx *c)
{
	struct walk w;
	struct side a, b;
	struct api *api;
	char **from, **to, *path, *cache;
	int nf, nt, rc;

	memset(&w, 0, sizeof w);
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	from = arg_pos(c, "FROM", &nf);
	to = arg_pos(c, "TO", &nt);
	if ((rc = sides(c, nf ? from[0] : NULL, nt ? to[0] : NULL, &a, &b)) !=
	    0)
		return rc;
	if (!(path = subtree(c, arg_str(c, "path"))))
		return -1;
	if (!(api = ctx_api(c))) {
		free(path);
		return -1;
	}
	cache = xasprintf("%s/cli/inspect", c->home);
	w.patch = arg_flag(c, "patch");
	if (c->fmt != FMT_DEFAULT) {
		/* every field a row can have: csv and tsv then write
		 * each row at once (a diff is one batch, patches and
		 * all) */
		w.o = out_new(c->fmt, 1);
		out_cols(w.o, cols, LEN(cols) - !w.patch);
	}
	logmsg(LOG_DEBUG, "diff %s (%s) %s (%s) under %s", a.s.ref, a.s.image,
	    b.s.ref, b.s.image, path);
	rc = treediff(api, cache, &a.s, &b.s, path, w.patch, report, &w);
	if (w.o) {
		if (out_end(w.o) < 0 && rc == 0)
			rc = -1;
	} else if (rc == 0) {
		rc = flush(&w);
	}
	buf_free(&w.text);
	free(cache);
	free(path);
	if (rc < 0)
		return -1;
	return arg_flag(c, "exit-code") && w.changed ? 1 : 0;
}
