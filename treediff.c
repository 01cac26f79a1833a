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
 * directory metadata proves nothing below it.  What is skipped: the
 * whole tree when both sides are the same image.
 *
 * Parallel listings.  The walk consumes directories in path order (a
 * directory's path with '/' appended, compared with strcmp, is exactly
 * the order of the walk).  As each listing arrives its subdirectories
 * become known and go into a min-heap (todo); listings are requested
 * from it, smallest path first, by up to CONTREE_CONCURRENCY workers
 * (jobs.h): long-lived child processes that take requests over a pipe
 * and keep one kept-alive connection each.  At most WINDOW listings per
 * worker are fetched ahead of the walk (the ahead list), so the
 * directory the walk needs next is always in ahead or at the top of
 * todo.  Workers start only when more than INLINE_MAX listings are
 * known to be needed (and never at concurrency 1): a small diff is
 * listed by this process alone, as before.  Cached listings are read
 * here, never sent to a worker.  Content comparisons and patches are
 * done here, in walk order.
 *
 * Memory: the two listings of each level being walked, the listings
 * read ahead (at most WINDOW x workers directories) and the names of
 * the subdirectories they and the walked levels hold, plus one changed
 * file pair for patches.  Changes are handed on, never kept. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "diff.h"
#include "jobs.h"
#include "json.h"
#include "prose.h"
#include "treediff.h"
#include "util.h"

#define CMP_MAX API_INSPECT_CACHE_MAX   /* larger files are not fetched */

#define D_MTIME 64                      /* internal: only for the walk */

struct ent {
	char *key;              /* name, '/' appended for a directory */
	struct td_ent e;        /* e.target owned */
};

#define WINDOW 4                        /* listings ahead per worker */
#define INLINE_MAX 4                    /* listings known: no workers */
#define SEND_MAX (32u << 20)            /* larger: listed by the parent */

/* States of one side of a directory to list. */
enum { S_NONE, S_TODO, S_SENT, S_DONE };

/* A directory to list (on one side or both) and, once done, its
 * listings. */
struct dl {
	char *dir, *key;        /* key: dir with '/' appended (walk order) */
	char st[2];             /* S_* of side a, b */
	int rc[2];              /* 0, 1 (missing), -1 (err[], cls[]) */
	int cls[2];
	char *err[2];
	struct ent *v[2];
	size_t n[2];
};

struct worker {
	int wfd, rfd;           /* requests: our end, the worker's end */
	struct dl *cur;         /* the listing it is at, or NULL */
	int side, alive;
	struct walk *w;
};

struct walk {
	struct api *api;
	const char *cache;
	const struct td_side *a, *b;
	int patch;
	td_fn fn;
	void *ctx;
	/* parallel listings */
	int max;                /* CONTREE_CONCURRENCY */
	struct jobs *js;        /* NULL: listing here */
	struct worker *wk;      /* [max] */
	int nw;                 /* workers added */
	struct dl **todo;       /* min-heap by key */
	size_t ntodo, atodo;
	struct dl **ahead;      /* requested, not yet walked */
	size_t nahead, aahead;
	long unsent;            /* sides in state S_TODO */
	struct dl dropped;      /* a worker's cur when its answer is not
	                           wanted any more */
};

const char *
td_type_name(char t)
{
	return t == 'f' ? "file" : t == 'd' ? "dir" : t == 'l' ? "symlink" :
	    "other";
}

/* A byte that makes td_quote quote a name. */
static int
odd(unsigned char c)
{
	return iscntrl(c) || c == '"' || c == '\\';
}

void
td_quote(struct buf *b, const char *pre, const char *path, const char *post)
{
	static const char esc[] = "\n\t\"\\\a\b\f\r\v", as[] = "nt\"\\abfrv";
	const unsigned char *p;
	const char *q = "", *e;

	for (p = (const unsigned char *)path; *p; p++)
		if (odd(*p))
			q = "\"";
	buf_printf(b, "%s%s", q, pre);
	for (p = (const unsigned char *)path; *p; p++) {
		if (!*q || !odd(*p))
			buf_addc(b, (char)*p);
		else if ((e = strchr(esc, *p)))
			buf_printf(b, "\\%c", as[e - esc]);
		else
			buf_printf(b, "\\%03o", *p);
	}
	buf_printf(b, "%s%s", post, q);
}

/* The path of entry key (a directory's '/' dropped) inside dir. */
static char *
child(const char *dir, const char *key)
{
	size_t l = strlen(key);

	return xasprintf("%s%s%.*s", dir, strcmp(dir, "/") ? "/" : "",
	    (int)(l && key[l - 1] == '/' ? l - 1 : l), key);
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

/* The raw listing of dir in side s into body.  0; 1 when dir does not
 * exist there; -1. */
static int
list_raw(struct walk *w, const struct td_side *s, const char *dir,
    struct buf *body)
{
	int st;

	if (api_inspect_get(w->api, w->cache, s->image, "list", dir, 0, body,
	    &st) < 0)
		return st == 404 ? missing(w, s) : -1;
	return 0;
}

/* A listing's body, parsed and sorted.  0 or -1. */
static int
parse_list(const struct td_side *s, const struct buf *body, struct ent **out,
    size_t *n)
{
	struct json j;
	struct ent *v;
	int files, t, rc = 0;

	*out = NULL;
	*n = 0;
	if (json_parse_alloc(&j, body->p ? body->p : "", body->len) < 0 ||
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
	return rc;
}

/* The listing of dir in side s, sorted.  0; 1 when dir does not exist
 * there; -1. */
static int
list(struct walk *w, const struct td_side *s, const char *dir,
    struct ent **out, size_t *n)
{
	struct buf body = {0};
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = list_raw(w, s, dir, &body)) == 0)
		rc = parse_list(s, &body, out, n);
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
		logmsg(LOG_WARNING, prose(P_TREEDIFF_LARGE), path,
		    CMP_MAX >> 20);
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
	struct buf x = {0}, y = {0}, h = {0}, na = {0}, nb = {0};
	int rc = 0;

	if ((a && a->type != 'f') || (b && b->type != 'f'))
		return 0;
	if ((a && a->size > CMP_MAX) || (b && b->size > CMP_MAX)) {
		logmsg(LOG_WARNING, "%s: larger than %d MiB, %s", path,
		    CMP_MAX >> 20, "no patch");
		return 0;
	}
	/* the names, quoted as git does */
	td_quote(&na, "a", path, "");
	td_quote(&nb, "b", path, "");
	if ((a && fetch(w, w->a, path, &x) < 0) ||
	    (b && fetch(w, w->b, path, &y) < 0)) {
		rc = -1;
	} else if (diff_binary(x.p, x.len) || diff_binary(y.p, y.len)) {
		if (x.len != y.len || (x.len && memcmp(x.p, y.p, x.len)))
			buf_printf(out, "Binary files %s and %s differ\n",
			    a ? na.p : "/dev/null", b ? nb.p : "/dev/null");
	} else if (diff_unified(&h, x.p ? x.p : "", x.len, y.p ? y.p : "",
	    y.len, 3) > 0) {
		buf_printf(out, "--- %s\n+++ %s\n", a ? na.p : "/dev/null",
		    b ? nb.p : "/dev/null");
		buf_add(out, h.p, h.len);
	}
	buf_free(&x);
	buf_free(&y);
	buf_free(&h);
	buf_free(&na);
	buf_free(&nb);
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
	if (rc == TD_NOPATCH) {         /* enough patches: no more fetched */
		w->patch = 0;
		rc = 0;
	}
	return rc;
}

/* ---- parallel listings (see the top of this file) ---- */

static const struct td_side *
side_of(const struct walk *w, int s)
{
	return s ? w->b : w->a;
}

static struct dl *
dl_new(struct walk *w, const char *dir, int ha, int hb)
{
	struct dl *d = xcalloc(1, sizeof *d);

	d->dir = xstrdup(dir);
	d->key = child(dir, "");        /* dir with '/' appended */
	d->st[0] = ha ? S_TODO : S_NONE;
	d->st[1] = hb ? S_TODO : S_NONE;
	w->unsent += (ha != 0) + (hb != 0);
	return d;
}

static void
dl_free(struct dl *d)
{
	int s;

	if (!d)
		return;
	for (s = 0; s < 2; s++) {
		free(d->err[s]);
		ents_free(d->v[s], d->n[s]);
	}
	free(d->dir);
	free(d->key);
	free(d);
}

static int
dl_less(const struct dl *x, const struct dl *y)
{
	return strcmp(x->key, y->key) < 0;
}

static void
todo_push(struct walk *w, struct dl *d)
{
	size_t i, up;
	struct dl *t;

	if (w->ntodo == w->atodo) {
		w->atodo = w->atodo ? 2 * w->atodo : 64;
		w->todo = xreallocarray(w->todo, w->atodo, sizeof *w->todo);
	}
	w->todo[i = w->ntodo++] = d;
	for (; i > 0 && dl_less(w->todo[i], w->todo[up = (i - 1) / 2]);
	    i = up) {
		t = w->todo[i];
		w->todo[i] = w->todo[up];
		w->todo[up] = t;
	}
}

static struct dl *
todo_pop(struct walk *w)
{
	struct dl *top = w->todo[0], *t;
	size_t i = 0, c;

	w->todo[0] = w->todo[--w->ntodo];
	while ((c = 2 * i + 1) < w->ntodo) {
		if (c + 1 < w->ntodo && dl_less(w->todo[c + 1], w->todo[c]))
			c++;
		if (!dl_less(w->todo[c], w->todo[i]))
			break;
		t = w->todo[i];
		w->todo[i] = w->todo[c];
		w->todo[c] = t;
		i = c;
	}
	return top;
}

static void
ahead_push(struct walk *w, struct dl *d)
{
	if (w->nahead == w->aahead) {
		w->aahead = w->aahead ? 2 * w->aahead : 16;
		w->ahead = xreallocarray(w->ahead, w->aahead, sizeof *w->ahead);
	}
	w->ahead[w->nahead++] = d;
}

/* A listing's subdirectories, to be listed in their turn. */
static void
discover(struct walk *w, const struct dl *d)
{
	const struct ent *va = d->v[0], *vb = d->v[1];
	size_t na = d->n[0], nb = d->n[1], i = 0, k = 0;
	const struct ent *e;
	char *path;
	int c;

	while (i < na || k < nb) {
		c = i == na ? 1 : k == nb ? -1 : strcmp(va[i].key, vb[k].key);
		e = c <= 0 ? &va[i] : &vb[k];
		if (e->e.type == 'd') {
			path = child(d->dir, e->key);
			todo_push(w, dl_new(w, path, c <= 0, c >= 0));
			free(path);
		}
		i += c <= 0;
		k += c >= 0;
	}
}

/* Side s of d is done: rc 0 with its body, 1 (missing), or -1 with
 * cls and msg. */
static void
store(struct walk *w, struct dl *d, int s, int rc, int cls, const char *msg,
    const struct buf *body)
{
	if (rc == 0 && parse_list(side_of(w, s), body, &d->v[s], &d->n[s]) <
	    0) {
		rc = -1;
		cls = geterrclass();
		msg = geterr();
	}
	d->st[s] = S_DONE;
	d->rc[s] = rc;
	d->cls[s] = cls ? cls : ERR_OTHER;
	if (rc < 0)
		d->err[s] = xstrdup(msg ? msg : "listing failed");
	clearerr_slot();
	if ((d->st[0] == S_NONE || (d->st[0] == S_DONE && d->rc[0] == 0)) &&
	    (d->st[1] == S_NONE || (d->st[1] == S_DONE && d->rc[1] == 0)))
		discover(w, d);
}

/* List side s of d in this process. */
static void
list_here(struct walk *w, struct dl *d, int s)
{
	struct buf body = {0};
	int rc;

	if (d->st[s] == S_TODO)
		w->unsent--;
	rc = list_raw(w, side_of(w, s), d->dir, &body);
	store(w, d, s, rc, geterrclass(), geterr(), &body);
	buf_free(&body);
}

/* Side s of d from the cache: 1 (stored), 0 (not there). */
static int
from_cache(struct walk *w, struct dl *d, int s)
{
	struct buf body = {0};
	int rc = 0;

	if (w->cache && api_inspect_get(NULL, w->cache, side_of(w, s)->image,
	    "list", d->dir, 0, &body, NULL) == 0) {
		w->unsent--;
		store(w, d, s, 0, 0, NULL, &body);
		rc = 1;
	}
	clearerr_slot();
	buf_free(&body);
	return rc;
}

/* The next listing to send to a worker into *dp, *sp: 1, or 0 when
 * there is none (or the window is full).  Cache hits are stored on
 * the way. */
static int
next_req(struct walk *w, struct dl **dp, int *sp)
{
	size_t i;
	int s;

	for (;;) {
		for (i = 0; i < w->nahead; i++)
			for (s = 0; s < 2; s++)
				if (w->ahead[i]->st[s] == S_TODO)
					goto found;
		if (!w->ntodo || w->nahead >= (size_t)(WINDOW * w->max))
			return 0;
		ahead_push(w, todo_pop(w));
		continue;
found:
		if (from_cache(w, w->ahead[i], s))
			continue;
		*dp = w->ahead[i];
		*sp = s;
		return 1;
	}
}

/* No more workers can start: max is the ones alive. */
static void
no_more_workers(struct walk *w)
{
	int i;

	for (w->max = 0, i = 0; i < w->nw; i++)
		w->max += w->wk[i].alive;
	clearerr_slot();
}

/* In a worker: read exactly n bytes.  1, 0 at EOF (or a signal), -1. */
static int
readn(int fd, void *p, size_t n)
{
	size_t off = 0;
	ssize_t r;

	while (off < n) {
		r = read(fd, (char *)p + off, n - off);
		if (r < 0 && errno == EINTR && !interrupted)
			continue;
		if (r <= 0)
			return r == 0 || interrupted ? 0 : -1;
		off += (size_t)r;
	}
	return 1;
}

/* A worker: requests (4-byte length, side byte, path) in, one message
 * (rc, error class, then the body or the error) out per request, until
 * the parent closes the pipe. */
static int
worker_run(void *arg)
{
	struct worker *me = arg, *o;
	struct walk *w = me->w;
	struct buf body = {0}, m = {0};
	uint32_t len;
	int32_t hdr[2];
	char *req = NULL;
	int i, rc = 0;

	api_forget(w->api);     /* the parent's connection is not ours */
	for (i = 0; i < w->nw; i++) {
		o = &w->wk[i];
		if (o->wfd >= 0)
			close(o->wfd);
		if (o != me && o->rfd >= 0)
			close(o->rfd);
	}
	while (readn(me->rfd, &len, sizeof len) == 1) {
		if (len < 2 || len > (1u << 20)) {
			rc = 1;
			break;
		}
		req = xrealloc(req, len + 1);
		if (readn(me->rfd, req, len) != 1)
			break;
		req[len] = '\0';
		buf_reset(&body);
		hdr[0] = list_raw(w, side_of(w, req[0] == 'b'), req + 1, &body);
		if (hdr[0] == 0 && body.len > SEND_MAX)
			hdr[0] = 2;     /* too big for a message: parent lists */
		hdr[1] = hdr[0] < 0 ? geterrclass() : 0;
		buf_reset(&m);
		buf_add(&m, hdr, sizeof hdr);
		if (hdr[0] == 0)
			buf_add(&m, body.p ? body.p : "", body.len);
		else if (hdr[0] < 0)
			buf_puts(&m, geterr());
		clearerr_slot();
		if (job_send(m.p, m.len) < 0)
			break;
	}
	free(req);
	buf_free(&body);
	buf_free(&m);
	return rc;
}

/* A worker's answer. */
static void
on_msg(void *ctx, int id, const char *msg, size_t len)
{
	struct walk *w = ctx;
	struct worker *k = &w->wk[id];
	struct dl *d = k->cur;
	struct buf body = {0};
	int32_t hdr[2];

	if (!d || len < sizeof hdr)
		return;
	k->cur = NULL;
	if (d == &w->dropped)
		return;
	memcpy(hdr, msg, sizeof hdr);
	if (hdr[0] == 2) {
		d->st[k->side] = S_TODO;
		w->unsent++;
		list_here(w, d, k->side);
		return;
	}
	body.p = (char *)msg + sizeof hdr;
	body.len = len - sizeof hdr;
	store(w, d, k->side, hdr[0], hdr[1], body.p, &body);
}

/* A worker ended (or could not start: status -1, the slot says why). */
static void
on_end(void *ctx, int id, int status)
{
	struct walk *w = ctx;
	struct worker *k = &w->wk[id];
	struct dl *d;
	char m[96];

	k->alive = 0;
	close(k->wfd);
	close(k->rfd);
	k->wfd = k->rfd = -1;
	if (status < 0)         /* fork failed: no more workers */
		no_more_workers(w);
	if (!k->cur || k->cur == &w->dropped) {
		k->cur = NULL;
		return;
	}
	if (status < 0) {       /* its listing is done here */
		d = k->cur;
		k->cur = NULL;
		d->st[k->side] = S_TODO;
		w->unsent++;
		list_here(w, d, k->side);
		return;
	}
	snprintf(m, sizeof m, "a listing worker ended with status %d", status);
	store(w, k->cur, k->side, -1, interrupted ? ERR_INTR : ERR_OTHER,
	    interrupted ? "interrupted" : m, NULL);
	k->cur = NULL;
}

/* A new worker (it starts at the next jobs_step); NULL if no pipe. */
static struct worker *
worker_add(struct walk *w)
{
	struct worker *k;
	int i, p[2];

	for (i = 0; i < w->nw && w->wk[i].alive; i++)
		;               /* a slot of a worker that ended, or a new one */
	k = &w->wk[i];
	if (pipe(p) < 0)
		return NULL;
	fcntl(p[0], F_SETFD, FD_CLOEXEC);
	fcntl(p[1], F_SETFD, FD_CLOEXEC);
	k->rfd = p[0];
	k->wfd = p[1];
	k->w = w;
	k->alive = 1;
	k->cur = NULL;
	jobs_add(w->js, i, worker_run, k);
	if (i == w->nw)
		w->nw++;
	return k;
}

/* Hand side s of d to worker k. */
static void
send_req(struct walk *w, struct worker *k, struct dl *d, int s)
{
	size_t l = strlen(d->dir);
	uint32_t len = (uint32_t)l + 1;
	char *m = xmalloc(4 + len);

	memcpy(m, &len, 4);
	m[4] = s ? 'b' : 'a';
	memcpy(m + 5, d->dir, l);
	d->st[s] = S_SENT;
	w->unsent--;
	k->cur = d;
	k->side = s;
	if (writeall(k->wfd, m, 4 + len) < 0) {
		k->cur = NULL;
		store(w, d, s, -1, ERR_IO, "a listing worker is gone", NULL);
	}
	free(m);
}

/* Give every idle worker a listing, adding workers up to max while
 * there are listings to send. */
static void
dispatch(struct walk *w)
{
	struct worker *k;
	struct dl *d;
	int i, s;

	for (;;) {
		for (k = NULL, i = 0; i < w->nw && !k; i++)
			if (w->wk[i].alive && !w->wk[i].cur)
				k = &w->wk[i];
		for (i = 0; i < w->nw && !k; i++)
			if (!w->wk[i].alive)
				break;
		if (!k && i >= w->max)
			return;
		if (!next_req(w, &d, &s))
			return;
		if (!k && !(k = worker_add(w))) {
			/* no pipe (EMFILE): no more workers, this one here */
			no_more_workers(w);
			list_here(w, d, s);
			return;
		}
		send_req(w, k, d, s);
	}
}

/* Stop the workers: they end at the end of their requests (ok), or
 * are killed (after an error or Ctrl-C). */
static void
workers_stop(struct walk *w, int ok)
{
	int i, n;

	for (i = 0; i < w->nw; i++)
		if (w->wk[i].wfd >= 0) {
			close(w->wk[i].wfd);
			w->wk[i].wfd = -1;
		}
	for (n = 0; ok && w->js && jobs_pending(w->js) && n < 8; n++)
		jobs_step(w->js, -1, 250);
	jobs_free(w->js);       /* kills and reaps what still runs */
	w->js = NULL;
	for (i = 0; i < w->nw; i++)
		if (w->wk[i].rfd >= 0)
			close(w->wk[i].rfd);
	w->nw = 0;
}

/* List here the sides of d still to do (side b only if side a did
 * not fail). */
static void
list_rest(struct walk *w, struct dl *d)
{
	int s;

	for (s = 0; s < 2; s++)
		if (d->st[s] == S_TODO && (s == 0 || d->st[0] == S_NONE ||
		    d->rc[0] == 0))
			list_here(w, d, s);
}

/* The listings of dir (ha, hb: present on that side), in walk order,
 * in *dp (NULL after Ctrl-C; the caller frees it): 0, 1 when dir is
 * missing on a side, -1. */
static int
get(struct walk *w, const char *dir, int ha, int hb, struct dl **dp)
{
	struct dl *d = NULL;
	size_t i;
	int s, rc = 0;

	for (i = 0; i < w->nahead && !d; i++)
		if (!strcmp(w->ahead[i]->dir, dir))
			d = w->ahead[i];
	if (!d) {
		if (w->ntodo && !strcmp(w->todo[0]->dir, dir))
			d = todo_pop(w);
		else {          /* not discovered (the start of the walk) */
			if (w->ntodo)
				logmsg(LOG_DEBUG, "diff: %s listed out of turn",
				    dir);
			d = dl_new(w, dir, ha, hb);
		}
		ahead_push(w, d);
	}
	if (!w->js && w->max > 1 && w->unsent > INLINE_MAX) {
		w->js = jobs_new(w->max, on_msg, on_end, w);
		w->wk = xcalloc((size_t)w->max, sizeof *w->wk);
	}
	if (!w->js)
		list_rest(w, d);
	while (w->js && ((d->st[0] != S_NONE && d->st[0] != S_DONE) ||
	    (d->st[1] != S_NONE && d->st[1] != S_DONE &&
	    !(d->st[0] == S_DONE && d->rc[0])))) {
		if (interrupted) {
			seterrc(ERR_INTR, "interrupted");
			return -1;
		}
		dispatch(w);
		if (d->st[0] != S_TODO && d->st[0] != S_SENT &&
		    d->st[1] != S_TODO && d->st[1] != S_SENT)
			break;
		if (!jobs_pending(w->js)) {     /* no worker could start */
			list_rest(w, d);
			continue;
		}
		jobs_step(w->js, -1, 250);
	}
	for (i = 0; i < w->nahead; i++)
		if (w->ahead[i] == d) {
			memmove(w->ahead + i, w->ahead + i + 1,
			    (w->nahead - i - 1) * sizeof *w->ahead);
			w->nahead--;
			break;
		}
	for (s = 0; s < 2 && rc == 0; s++)
		if (d->st[s] == S_DONE && (rc = d->rc[s]) < 0)
			seterrc(d->cls[s], "%s", d->err[s]);
	/* after a failure the other side may still be listed or to be */
	for (s = 0; s < 2; s++)
		w->unsent -= d->st[s] == S_TODO;
	for (i = 0; i < (size_t)w->nw; i++)
		if (w->wk[i].cur == d)
			w->wk[i].cur = &w->dropped;
	*dp = d;
	return rc;
}

static int walk_dir(struct walk *w, const char *dir, int ha, int hb);

/* One name of directory dir, present in a, b or both. */
static int
pair(struct walk *w, const char *dir, const struct ent *a,
    const struct ent *b)
{
	const struct ent *e = a ? a : b;
	char *path = child(dir, e->key);
	int d = 0, rc = 0;

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
	struct dl *d = NULL;
	size_t i = 0, k = 0;
	int c, rc = 0;

	rc = get(w, dir, ha, hb, &d);
	if (rc > 0) {
		seterr("%s: listed as a directory, but not found", dir);
		rc = -1;
	}
	/* d's listings: [0] side a, [1] side b */
	while (rc == 0 && (i < d->n[0] || k < d->n[1])) {
		c = i == d->n[0] ? 1 : k == d->n[1] ? -1 :
		    strcmp(d->v[0][i].key, d->v[1][k].key);
		rc = pair(w, dir, c <= 0 ? &d->v[0][i] : NULL,
		    c >= 0 ? &d->v[1][k] : NULL);
		i += c <= 0;
		k += c >= 0;
	}
	dl_free(d);
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

/* Compare subtree p (the walk proper). */
static int
compare(struct walk *w, const char *p)
{
	struct ent *va = NULL, *vb = NULL;
	const struct ent *ea, *eb;
	size_t na = 0, nb = 0;
	char *dir, *base;
	int ra, rb = 0, rc = -1, same = !strcmp(w->a->image, w->b->image);

	/* "/" is the roots; anything else is found in its parent's
	 * listings, so it may be missing on one side, and may be a file.
	 * One image on both sides: nothing differs once it is found. */
	if (!strcmp(p, "/") && !same)
		return walk_dir(w, "/", 1, 1);
	if (!strcmp(p, "/")) {
		if ((rc = list(w, w->a, "/", &va, &na)) > 0)
			seterr("/: listed as a directory, but not found");
		ents_free(va, na);
		return rc ? -1 : 0;
	}
	dir = xstrdup(p);
	base = strrchr(dir, '/');
	*base++ = '\0';
	if ((ra = list(w, w->a, *dir ? dir : "/", &va, &na)) >= 0 &&
	    (same || (rb = list(w, w->b, *dir ? dir : "/", &vb, &nb)) >= 0)) {
		ea = ra ? NULL : find(va, na, base);
		eb = same ? ea : rb ? NULL : find(vb, nb, base);
		if (!ea && !eb)
			seterr("%s: not found in '%s' nor in '%s'", p,
			    w->a->ref, w->b->ref);
		else
			rc = same ? 0 : pair(w, *dir ? dir : "/", ea, eb);
	}
	ents_free(va, na);
	ents_free(vb, nb);
	free(dir);
	return rc;
}

int
treediff(struct api *api, const char *cache, const struct td_side *a,
    const struct td_side *b, const char *p, int patchp, td_fn fn,
    void *ctx)
{
	struct walk w;
	size_t i;
	int rc;

	memset(&w, 0, sizeof w);
	w.api = api;
	w.cache = cache;
	w.a = a;
	w.b = b;
	w.patch = patchp;
	w.fn = fn;
	w.ctx = ctx;
	w.max = jobs_concurrency();
	rc = compare(&w, p);
	if (w.js)
		workers_stop(&w, rc == 0);
	for (i = 0; i < w.ntodo; i++)
		dl_free(w.todo[i]);
	for (i = 0; i < w.nahead; i++)
		dl_free(w.ahead[i]);
	free(w.todo);
	free(w.ahead);
	free(w.wk);
	return rc;
}
