/* cmd_diff.c - what changed between two images: contree diff.
 *
 * Both trees are walked together through the inspect listings (api.md
 * §2.18), one directory at a time: the two listings of a directory are
 * sorted by name (a directory's name with a '/' after it, so that the
 * output comes out sorted by the path as printed) and merged.
 *
 * Equality rule.  Two entries of one name are the same when type,
 * permission bits, uid, gid and symlink target are equal and, for
 * anything but a directory, the size too; then equal mtimes are taken
 * as equal content, as make and rsync's quick check do (a file
 * rewritten within the same second to the same size is missed: the
 * listing carries no content hash).  When only the mtime differs, both
 * files are downloaded and compared, unless one is larger than CMP_MAX:
 * then it is reported as changed with a warning.  A directory's size
 * and mtime are not compared: they change with its entries, which are
 * reported themselves.
 *
 * Every directory present on both sides is descended, even when its
 * listing entries are equal: a directory's mtime changes when entries
 * are added, removed or renamed, never when a file inside is rewritten
 * in place, and api.md gives no content hash for a subtree, so equal
 * directory metadata proves nothing below it.  Memory: the two listings
 * of each level being walked, plus one changed file pair for -p. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cmds.h"
#include "contree.h"
#include "diff.h"
#include "json.h"
#include "out.h"
#include "store.h"
#include "util.h"

#define CMP_MAX API_INSPECT_CACHE_MAX   /* larger files are not fetched */

enum { D_TYPE = 1, D_SIZE = 2, D_MODE = 4, D_UID = 8, D_GID = 16,
	D_TARGET = 32, D_MTIME = 64 };

struct ent {
	char *key;              /* name, '/' appended for a directory */
	char type;              /* 'f', 'd', 'l' or 'o' */
	long long size, mode, uid, gid, mtime;
	char *target;
};

struct side {
	const char *ref;        /* as the user wrote it, for messages */
	char image[37];
	char own[32];           /* ref of a default side ("@3") */
};

struct walk {
	struct ctx *c;
	struct api *api;
	char *cache;            /* CONTREE_HOME/cli/inspect */
	struct side a, b;
	struct out *o;          /* NULL: the default A/C/D lines */
	struct buf text;        /* default output, flushed now and then */
	int patch, changed;
};

static const char *
type_name(char t)
{
	return t == 'f' ? "file" : t == 'd' ? "dir" : t == 'l' ? "symlink" :
	    "other";
}

static long long
num(const struct json *j, int t, const char *k)
{
	int v = json_get(j, t, k);
	int64_t x;

	return v >= 0 && json_int64(j, v, &x) == 0 ? (long long)x : 0;
}

static int
flag(const struct json *j, int t, const char *k)
{
	int v = json_get(j, t, k);

	return v >= 0 && json_bool(j, v) == 1;
}

/* One FileItem; 0, or -1 if it has no usable name. */
static int
parse_ent(const struct json *j, int t, struct ent *e)
{
	char *p = json_getstr(j, t, "path"), *s;

	if (!p)
		return -1;
	/* some servers give absolute paths: the last component counts */
	while ((s = strrchr(p, '/')) && !s[1] && s != p)
		*s = '\0';
	s = (s = strrchr(p, '/')) ? s + 1 : p;
	if (!*s || !strcmp(s, ".") || !strcmp(s, "..")) {
		free(p);
		return -1;
	}
	e->type = flag(j, t, "is_dir") ? 'd' : flag(j, t, "is_symlink") ?
	    'l' : flag(j, t, "is_regular") ? 'f' : 'o';
	e->key = xasprintf("%s%s", s, e->type == 'd' ? "/" : "");
	free(p);
	e->size = num(j, t, "size");
	e->mode = num(j, t, "mode") & 07777;
	e->uid = num(j, t, "uid");
	e->gid = num(j, t, "gid");
	e->mtime = num(j, t, "mtime");
	e->target = e->type == 'l' ? json_getstr(j, t, "symlink_to") : NULL;
	if (e->type == 'l' && !e->target)
		e->target = xstrdup("");
	return 0;
}

static int
ent_cmp(const void *x, const void *y)
{
	return strcmp(((const struct ent *)x)->key,
	    ((const struct ent *)y)->key);
}

static void
ents_free(struct ent *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].target);
	}
	free(v);
}

/* 1 if image exists (GET /v1/inspect/<image>/), 0 if 404, -1. */
static int
image_exists(struct walk *w, const char *image)
{
	struct buf body = {0};
	struct api_resp r;
	char *url = xasprintf("/inspect/%s/", image);
	int rc;

	memset(&r, 0, sizeof r);
	r.body = &body;
	rc = api_call(w->api, "GET", url, NULL, NULL, 0, &r);
	free(url);
	buf_free(&body);
	if (rc < 0 && r.status == 404)
		return 0;
	return rc < 0 ? -1 : 1;
}

/* 404 on a listing: the path is missing (1), or the image (-1). */
static int
missing(struct walk *w, const struct side *s)
{
	int k = image_exists(w, s->image);

	if (k == 0)
		seterrc(ERR_API, "unknown image '%s' (%s): no such image",
		    s->ref, s->image);
	return k == 1 ? 1 : -1;
}

/* The listing of dir in side s, sorted.  0; 1 when dir does not exist
 * there; -1. */
static int
list(struct walk *w, const struct side *s, const char *dir,
    struct ent **out, size_t *n)
{
	struct buf body = {0};
	struct json j;
	struct ent *v;
	int files, t, st, rc = 0;

	*out = NULL;
	*n = 0;
	if (api_inspect_get(w->api, w->cache, s->image, "list", dir, 0, &body,
	    &st) < 0) {
		buf_free(&body);
		return st == 404 ? missing(w, s) : -1;
	}
	if (json_parse_alloc(&j, body.p ? body.p : "", body.len) < 0 ||
	    (files = json_get(&j, 0, "files")) < 0 ||
	    j.tok[files].type != JSON_ARRAY) {
		seterr("malformed reply to GET /inspect/%s/list", s->image);
		rc = -1;
	} else {
		v = xcalloc((size_t)j.tok[files].size + 1, sizeof *v);
		for (t = json_first(&j, files); t >= 0; t = json_after(&j, t))
			if (parse_ent(&j, t, &v[*n]) == 0)
				++*n;
		qsort(v, *n, sizeof *v, ent_cmp);
		*out = v;
	}
	json_free(&j);
	buf_free(&body);
	return rc;
}

/* The D_* bits in which a and b differ. */
static int
differ(const struct ent *a, const struct ent *b)
{
	int d = 0;

	d |= a->type != b->type ? D_TYPE : 0;
	d |= a->mode != b->mode ? D_MODE : 0;
	d |= a->uid != b->uid ? D_UID : 0;
	d |= a->gid != b->gid ? D_GID : 0;
	if (a->type == 'd' && b->type == 'd')
		return d;
	d |= a->size != b->size ? D_SIZE : 0;
	d |= a->mtime != b->mtime ? D_MTIME : 0;
	if (a->target && b->target && strcmp(a->target, b->target))
		d |= D_TARGET;
	return d;
}

/* Contents of path in side s into b (cached).  -1 with the slot set. */
static int
fetch(struct walk *w, const struct side *s, const char *path, struct buf *b)
{
	if (api_inspect_get(w->api, w->cache, s->image, "file", path, 0, b,
	    NULL) < 0) {
		errwrap("%s in '%s'", path, s->ref);
		return -1;
	}
	return 0;
}

/* mtime alone differs: 1 if the contents differ too, 0 if not, -1. */
static int
content_differs(struct walk *w, const char *path, const struct ent *a)
{
	struct buf x = {0}, y = {0};
	int rc;

	if (a->type != 'f')
		return 0;
	if (a->size > CMP_MAX) {
		logmsg(LOG_WARNING, "%s: larger than %d MiB, reported as changed without comparing contents",
		    path, CMP_MAX >> 20);
		return 1;
	}
	rc = fetch(w, &w->a, path, &x) < 0 || fetch(w, &w->b, path, &y) < 0 ?
	    -1 : x.len != y.len || (x.len && memcmp(x.p, y.p, x.len) != 0);
	buf_free(&x);
	buf_free(&y);
	return rc;
}

/* The unified diff of a changed, added or deleted file (a or b NULL
 * when absent, or not a regular file) appended to out.  0 or -1. */
static int
patch(struct walk *w, const char *path, const struct ent *a,
    const struct ent *b, struct buf *out)
{
	struct buf x = {0}, y = {0}, h = {0};
	int rc = 0;

	if ((a && a->type != 'f') || (b && b->type != 'f'))
		return 0;
	if ((a && a->size > CMP_MAX) || (b && b->size > CMP_MAX)) {
		logmsg(LOG_WARNING, "%s: larger than %d MiB, no patch", path,
		    CMP_MAX >> 20);
		return 0;
	}
	if ((a && fetch(w, &w->a, path, &x) < 0) ||
	    (b && fetch(w, &w->b, path, &y) < 0)) {
		rc = -1;
	} else if (diff_binary(x.p, x.len) || diff_binary(y.p, y.len)) {
		if (x.len != y.len || (x.len && memcmp(x.p, y.p, x.len)))
			buf_printf(out, "Binary files %s%s and %s%s differ\n",
			    a ? "a" : "/dev/null", a ? path : "",
			    b ? "b" : "/dev/null", b ? path : "");
	} else if (diff_unified(&h, x.p ? x.p : "", x.len, y.p ? y.p : "",
	    y.len, 3) > 0) {
		buf_printf(out, "--- %s%s\n+++ %s%s\n", a ? "a" : "/dev/null",
		    a ? path : "", b ? "b" : "/dev/null", b ? path : "");
		buf_add(out, h.p, h.len);
	}
	buf_free(&x);
	buf_free(&y);
	buf_free(&h);
	return rc;
}

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

/* The row of one change: the new values (the old ones for D), then the
 * old values that changed. */
static struct row *
change_row(char what, const char *path, const struct ent *a,
    const struct ent *b, int d)
{
	struct row *r = row_new();
	const struct ent *e = b ? b : a;
	char k[2] = {what, '\0'};

	row_str(r, "change", k);
	row_str(r, "path", path);
	row_str(r, "type", type_name(e->type));
	row_int(r, "size", e->size);
	row_int(r, "mode", e->mode);
	row_int(r, "uid", e->uid);
	row_int(r, "gid", e->gid);
	if (e->target)
		row_str(r, "target", e->target);
	if (d & D_TYPE)
		row_str(r, "old_type", type_name(a->type));
	if (d & D_SIZE)
		row_int(r, "old_size", a->size);
	if (d & D_MODE)
		octal(r, "old_mode", a->mode);
	if (d & D_UID)
		row_int(r, "old_uid", a->uid);
	if (d & D_GID)
		row_int(r, "old_gid", a->gid);
	if ((d & D_TARGET) || ((d & D_TYPE) && a->target))
		row_str(r, "old_target", a->target);
	return r;
}

/* Report one change ('A', 'C' or 'D'; a absent for A, b for D). */
static int
report(struct walk *w, char what, const char *path, const struct ent *a,
    const struct ent *b, int d)
{
	struct buf p = {0};
	const struct ent *e = b ? b : a;
	int rc = 0;

	w->changed = 1;
	if (w->patch && patch(w, path, a, b, &p) < 0) {
		buf_free(&p);
		return -1;
	}
	if (w->o) {
		struct row *r = change_row(what, path, a, b, d);

		if (w->patch)
			row_strn(r, "patch", p.p ? p.p : "", p.len);
		rc = out_row(w->o, r);
	} else {
		buf_printf(&w->text, "%c %s%s\n", what, path,
		    e->type == 'd' && strcmp(path, "/") ? "/" : "");
		buf_add(&w->text, p.p, p.len);
		if (w->text.len > (64 << 10))
			rc = flush(w);
	}
	buf_free(&p);
	return rc;
}

static int walk_dir(struct walk *w, const char *dir, int ha, int hb);

/* One name of directory dir, present in a, b or both. */
static int
pair(struct walk *w, const char *dir, const struct ent *a,
    const struct ent *b)
{
	const struct ent *e = a ? a : b;
	char *path;
	size_t kl = strlen(e->key);
	int d = 0, rc = 0;

	path = xasprintf("%s%s%.*s", dir, strcmp(dir, "/") ? "/" : "",
	    (int)(e->type == 'd' ? kl - 1 : kl), e->key);
	if (a && b && (d = differ(a, b)) == D_MTIME &&
	    (rc = content_differs(w, path, a)) == 0)
		d = 0;
	if (rc >= 0 && (!a || !b || d))
		rc = report(w, !a ? 'A' : !b ? 'D' : 'C', path, a, b,
		    d & ~D_MTIME);
	if (rc >= 0 && e->type == 'd')
		rc = walk_dir(w, path, a != NULL, b != NULL);
	free(path);
	return rc < 0 ? -1 : 0;
}

/* Compare directory dir of both sides (ha, hb: present on that side). */
static int
walk_dir(struct walk *w, const char *dir, int ha, int hb)
{
	struct ent *va = NULL, *vb = NULL;
	size_t na = 0, nb = 0, i = 0, k = 0;
	int c, rc = 0;

	if (ha)
		rc = list(w, &w->a, dir, &va, &na);
	if (rc == 0 && hb)
		rc = list(w, &w->b, dir, &vb, &nb);
	if (rc > 0)
		seterr("%s: listed as a directory, but not found", dir);
	while (rc == 0 && (i < na || k < nb)) {
		c = i == na ? 1 : k == nb ? -1 : strcmp(va[i].key, vb[k].key);
		rc = pair(w, dir, c <= 0 ? &va[i] : NULL, c >= 0 ? &vb[k] : NULL);
		i += c <= 0;
		k += c >= 0;
	}
	ents_free(va, na);
	ents_free(vb, nb);
	return rc;
}

/* The entry named base in v, or NULL. */
static const struct ent *
find(const struct ent *v, size_t n, const char *base)
{
	size_t i, l = strlen(base);

	for (i = 0; i < n; i++)
		if (strncmp(v[i].key, base, l) == 0 &&
		    (!v[i].key[l] || !strcmp(v[i].key + l, "/")))
			return &v[i];
	return NULL;
}

/* Compare the subtree p (absolute, normalised) of both images: "/" is
 * the roots; anything else is found in its parent's listings, so it
 * may be missing on one side, and may be a file. */
static int
walk_top(struct walk *w, const char *p)
{
	struct ent *va = NULL, *vb = NULL;
	const struct ent *ea, *eb;
	size_t na = 0, nb = 0;
	char *dir = xstrdup(p), *base = strrchr(dir, '/');
	int ra, rb, rc = -1;

	if (!strcmp(p, "/")) {
		free(dir);
		return walk_dir(w, "/", 1, 1);
	}
	*base++ = '\0';
	if ((ra = list(w, &w->a, *dir ? dir : "/", &va, &na)) >= 0 &&
	    (rb = list(w, &w->b, *dir ? dir : "/", &vb, &nb)) >= 0) {
		ea = ra ? NULL : find(va, na, base);
		eb = rb ? NULL : find(vb, nb, base);
		if (!ea && !eb)
			seterr("%s: not found in '%s' nor in '%s'", p, w->a.ref,
			    w->b.ref);
		else
			rc = pair(w, *dir ? dir : "/", ea, eb);
	}
	ents_free(va, na);
	ents_free(vb, nb);
	free(dir);
	return rc;
}

/* An image reference as the other commands take it (cli.md §8, §7.6):
 * a UUID; tag:NAME; a session reference (@, @-N, HEAD~N, @N ...); a
 * branch of the session; else a tag name. */
static int
resolve(struct ctx *c, const char *ref, struct side *s)
{
	const struct store_entry *e = NULL;
	struct store *st;
	int k = 0;

	s->ref = ref;
	if (!is_uuid(ref) && strncmp(ref, "tag:", 4) != 0) {
		if (!(st = ctx_store(c)))
			return -1;
		if ((k = store_ref_entry(st, c->session, ref, &e)) < 0) {
			errwrap("image reference '%s'", ref);
			return -1;
		}
		if (k == 0 && (e = store_branch_tip(st, c->session, ref)))
			k = 1;
	}
	if (k == 1) {
		memcpy(s->image, e->image, 37);
		return 0;
	}
	if (api_image_resolve(ctx_api(c), ref, s->image) < 0) {
		errwrap("unknown image '%s'", ref);
		return -1;
	}
	return 0;
}

/* FROM and TO: the arguments, or the session's image (TO) and the
 * newest earlier image of its history (FROM).  0, 1 (no session:
 * message printed), -1. */
static int
sides(struct ctx *c, const char *from, const char *to, struct walk *w)
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
	if (to && resolve(c, to, &w->b) < 0)
		return -1;
	if (!to) {
		snprintf(w->b.own, sizeof w->b.own, "@%lld", tip->id);
		w->b.ref = w->b.own;
		memcpy(w->b.image, tip->image, 37);
	}
	if (from)
		return resolve(c, from, &w->a) < 0 ? -1 : 0;
	for (e = tip->up; e && !strcmp(e->image, tip->image); e = e->up)
		;
	if (!e) {
		seterr("the session's history has no image before %s; name one: contree diff FROM",
		    tip->image);
		return -1;
	}
	snprintf(w->a.own, sizeof w->a.own, "@%lld", e->id);
	w->a.ref = w->a.own;
	memcpy(w->a.image, e->image, 37);
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
	char **from, **to, *path;
	int nf, nt, rc;

	memset(&w, 0, sizeof w);
	from = arg_pos(c, "FROM", &nf);
	to = arg_pos(c, "TO", &nt);
	if ((rc = sides(c, nf ? from[0] : NULL, nt ? to[0] : NULL, &w)) != 0)
		return rc;
	if (!(path = subtree(c, arg_str(c, "path"))))
		return -1;
	if (!(w.api = ctx_api(c))) {
		free(path);
		return -1;
	}
	w.c = c;
	w.cache = xasprintf("%s/cli/inspect", c->home);
	w.patch = arg_flag(c, "patch");
	w.o = c->fmt == FMT_DEFAULT ? NULL : out_new(c->fmt, 1);
	logmsg(LOG_DEBUG, "diff %s (%s) %s (%s) under %s", w.a.ref, w.a.image,
	    w.b.ref, w.b.image, path);
	rc = walk_top(&w, path);
	if (w.o) {
		if (out_end(w.o) < 0 && rc == 0)
			rc = -1;
	} else if (rc == 0) {
		rc = flush(&w);
	}
	buf_free(&w.text);
	free(w.cache);
	free(path);
	if (rc < 0)
		return -1;
	return arg_flag(c, "exit-code") && w.changed ? 1 : 0;
}
