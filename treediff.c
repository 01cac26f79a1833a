/* treediff.c - what changed between two images (treediff.h).
 *
 * Both trees are walked together through the inspect listings (api.md
 * §2.18), one directory at a time: the two listings of a directory are
 * sorted by name (a directory's name with a '/' after it, so that the
 * changes come out sorted by the path as contree diff prints it) and
 * merged.
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
 * of each level being walked, plus one changed file pair for patches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "diff.h"
#include "json.h"
#include "treediff.h"
#include "util.h"

#define CMP_MAX API_INSPECT_CACHE_MAX   /* larger files are not fetched */

#define D_MTIME 64                      /* internal: only for the walk */

struct ent {
	char *key;              /* name, '/' appended for a directory */
	struct td_ent e;        /* e.target owned */
};

struct walk {
	struct api *api;
	const char *cache;
	const struct td_side *a, *b;
	int patch;
	td_fn fn;
	void *ctx;
};

const char *
td_type_name(char t)
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
parse_ent(const struct json *j, int t, struct ent *x)
{
	char *p = json_getstr(j, t, "path"), *s;
	struct td_ent *e = &x->e;

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
	x->key = xasprintf("%s%s", s, e->type == 'd' ? "/" : "");
	free(p);
	e->size = num(j, t, "size");
	e->mode = num(j, t, "mode") & 07777;
	e->uid = num(j, t, "uid");
	e->gid = num(j, t, "gid");
	e->mtime = num(j, t, "mtime");
	e->target = NULL;
	if (e->type == 'l') {
		char *tg = json_getstr(j, t, "symlink_to");

		e->target = tg ? tg : xstrdup("");
	}
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
		free((char *)v[i].e.target);
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
missing(struct walk *w, const struct td_side *s)
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
list(struct walk *w, const struct td_side *s, const char *dir,
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

/* The TD_* (and D_MTIME) bits in which a and b differ. */
static int
differ(const struct td_ent *a, const struct td_ent *b)
{
	int d = 0;

	d |= a->type != b->type ? TD_TYPE : 0;
	d |= a->mode != b->mode ? TD_MODE : 0;
	d |= a->uid != b->uid ? TD_UID : 0;
	d |= a->gid != b->gid ? TD_GID : 0;
	if (a->type == 'd' && b->type == 'd')
		return d;
	d |= a->size != b->size ? TD_SIZE : 0;
	d |= a->mtime != b->mtime ? D_MTIME : 0;
	if (a->target && b->target && strcmp(a->target, b->target))
		d |= TD_TARGET;
	return d;
}

/* Contents of path in side s into b (cached).  -1 with the slot set. */
static int
fetch(struct walk *w, const struct td_side *s, const char *path,
    struct buf *b)
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
content_differs(struct walk *w, const char *path, const struct td_ent *a)
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
	rc = fetch(w, w->a, path, &x) < 0 || fetch(w, w->b, path, &y) < 0 ?
	    -1 : x.len != y.len || (x.len && memcmp(x.p, y.p, x.len) != 0);
	buf_free(&x);
	buf_free(&y);
	return rc;
}

/* The unified diff of a changed, added or deleted file (a or b NULL
 * when absent, or not a regular file) appended to out.  0 or -1. */
static int
patch(struct walk *w, const char *path, const struct td_ent *a,
    const struct td_ent *b, struct buf *out)
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
	if ((a && fetch(w, w->a, path, &x) < 0) ||
	    (b && fetch(w, w->b, path, &y) < 0)) {
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

/* Hand one change ('A', 'C' or 'D'; a absent for A, b for D) to the
 * caller. */
static int
report(struct walk *w, char what, const char *path, const struct td_ent *a,
    const struct td_ent *b, int d)
{
	struct buf p = {0};
	struct td_change ch;
	int rc;

	if (w->patch && patch(w, path, a, b, &p) < 0) {
		buf_free(&p);
		return -1;
	}
	memset(&ch, 0, sizeof ch);
	ch.what = what;
	ch.path = path;
	ch.old = a;
	ch.new = b;
	ch.differ = d;
	ch.patch = w->patch ? (p.p ? p.p : "") : NULL;
	ch.patchlen = p.len;
	rc = w->fn(w->ctx, &ch);
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
	    (int)(e->e.type == 'd' ? kl - 1 : kl), e->key);
	if (a && b && (d = differ(&a->e, &b->e)) == D_MTIME &&
	    (rc = content_differs(w, path, &a->e)) == 0)
		d = 0;
	if (rc >= 0 && (!a || !b || d))
		rc = report(w, !a ? 'A' : !b ? 'D' : 'C', path,
		    a ? &a->e : NULL, b ? &b->e : NULL, d & ~D_MTIME);
	if (rc >= 0 && e->e.type == 'd')
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
		rc = list(w, w->a, dir, &va, &na);
	if (rc == 0 && hb)
		rc = list(w, w->b, dir, &vb, &nb);
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

int
treediff(struct api *api, const char *cache, const struct td_side *a,
    const struct td_side *b, const char *p, int patchp, td_fn fn,
    void *ctx)
{
	struct ent *va = NULL, *vb = NULL;
	const struct ent *ea, *eb;
	struct walk w;
	size_t na = 0, nb = 0;
	char *dir, *base;
	int ra, rb, rc = -1;

	memset(&w, 0, sizeof w);
	w.api = api;
	w.cache = cache;
	w.a = a;
	w.b = b;
	w.patch = patchp;
	w.fn = fn;
	w.ctx = ctx;
	/* "/" is the roots; anything else is found in its parent's
	 * listings, so it may be missing on one side, and may be a file */
	if (!strcmp(p, "/"))
		return walk_dir(&w, "/", 1, 1);
	dir = xstrdup(p);
	base = strrchr(dir, '/');
	*base++ = '\0';
	if ((ra = list(&w, a, *dir ? dir : "/", &va, &na)) >= 0 &&
	    (rb = list(&w, b, *dir ? dir : "/", &vb, &nb)) >= 0) {
		ea = ra ? NULL : find(va, na, base);
		eb = rb ? NULL : find(vb, nb, base);
		if (!ea && !eb)
			seterr("%s: not found in '%s' nor in '%s'", p, a->ref,
			    b->ref);
		else
			rc = pair(&w, *dir ? dir : "/", ea, eb);
	}
	ents_free(va, na);
	ents_free(vb, nb);
	free(dir);
	return rc;
}
