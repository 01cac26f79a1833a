/* cmd_session.c - the session commands (cli.md §7, §9.1, §9.14-9.18,
 * §9.23, §9.24): use, session and its subcommands (except wait), cd,
 * env, file edit and file cp.  All state goes through store.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api.h"
#include "cmds.h"
#include "contree.h"
#include "files.h"
#include "json.h"
#include "out.h"
#include "prose.h"
#include "store.h"
#include "util.h"

#define SHOW_DEFAULT 20

/* ---- small helpers ---- */

/* out_end, with a closed pipe counted as success (design.md §1). */
static int
finish(struct out *o)
{
	if (out_end(o) < 0)
		return errno == EPIPE ? 0 : -1;
	return 0;
}

static void
row_when(struct row *r, const char *name, long long t)
{
	char iso[48];

	ts_iso(iso, sizeof iso, (int64_t)t, 0);
	row_time(r, name, iso);
}

/* The session row of `use`, `session` (cli.md §9.1; full) and of
 * `session list` (after its "active"). */
static struct row *
session_row(struct row *r, const struct store_session *s, int full)
{
	row_str(r, "session_key", s->key);
	row_str(r, "active_branch", s->branch ? s->branch : "");
	row_str(r, "current_image", s->tip ? s->tip->image : "");
	if (full) {
		row_str(r, "last_kind", s->tip ? s->tip->kind : "");
		row_str(r, "last_title", s->tip ? s->tip->title : "");
	}
	row_when(r, "updated_at", s->updated);
	return r;
}

/* Find another session by key (cli.md §7.3): sessions whose key ends
 * with name and is longer, else the one equal to it.  The key (store
 * storage) or NULL with the slot set. */
static const char *
find_session(struct store *st, const char *name)
{
	const char **keys = NULL, *found = NULL;
	size_t n = store_match(st, name, &keys), i;
	struct buf amb = {0};

	if (n == 1) {
		found = keys[0];
	} else if (n == 0) {
		seterr("session '%s' not found", name);
	} else {
		for (i = 0; i < n; i++)
			buf_printf(&amb, "%s%s", i ? ", " : "", keys[i]);
		seterr("session '%s' is ambiguous; it matches: %s", name, amb.p);
		buf_free(&amb);
	}
	free(keys);
	return found;
}

/* Upload the local file path, shown as shown (cli.md §9.2.3), through
 * the upload cache of home (NULL: not remembered); sha: its SHA-256
 * when already known, else NULL.  0 or -1. */
static int
upload(struct ctx *c, const char *path, const char *shown, const char *home,
    const char *sha, char uuid[37])
{
	struct api *a = ctx_api(c);
	struct filelist l = {0};
	struct hostfile *f;
	int rc;

	if (!a || files_add(&l, path, shown) < 0)
		return -1;
	f = &l.f[0];
	f->name = shown;
	if (sha)
		memcpy(f->sha, sha, 65);
	if ((rc = files_upload(a, home, &l)) == 0) {
		memcpy(uuid, f->uuid, 37);
		if (f->how == UP_SENT)
			logmsg(LOG_INFO, "Uploaded %s as %s", shown, uuid);
		else if (f->how == UP_CACHED)
			logmsg(LOG_INFO, prose(P_SESSION_REUSING_UPLOADED),
			    uuid, shown);
	}
	files_free(&l);
	return rc;
}

/* Append an entry of kind with the image of the tip as of writing. */
static int
append_here(struct store *st, const char *key, struct store_new *e)
{
	const struct store_entry *tip;
	long long id;

	if (store_begin(st) < 0)
		return -1;
	if ((tip = store_tip(st, key)))
		e->image = tip->image;
	id = store_append(st, key, e, NULL);
	if (store_commit(st) < 0 || id < 0)
		return -1;
	return 0;
}

/* Append a `file` entry staging uuid at dest (0/0/0644). */
static int
stage(struct store *st, const char *key, const char *image, const char *dest,
    const char *uuid)
{
	struct store_file f;
	struct store_new e;
	char *title = xasprintf("Change file %s", dest);
	int rc;

	memset(&f, 0, sizeof f);
	f.path = dest;
	f.uuid = uuid;
	f.uid = 0;
	f.gid = 0;
	f.mode = 0644;
	memset(&e, 0, sizeof e);
	e.kind = STORE_FILE;
	e.image = image;
	e.title = title;
	e.files = &f;
	e.nfiles = 1;
	rc = append_here(st, key, &e);
	free(title);
	if (rc < 0)
		return -1;
	logmsg(LOG_INFO, prose(P_SESSION_STAGED_WILL), dest);
	return 0;
}

/* The store and the current session's tip: 0; EXIT_ERR with the
 * no-session message printed; -1 on a store error. */
static int
need_session(struct ctx *c, struct store **st, const struct store_entry **tip)
{
	if (!(*st = ctx_store(c)))
		return -1;
	*tip = store_tip(*st, c->session);
	if (!*tip) {
		no_session();
		return EXIT_ERR;
	}
	return 0;
}

/* A random version-4 UUID. */
static int
uuid4(char out[37])
{
	unsigned char b[16];
	char hex[33];

	if (randbytes(b, sizeof b) < 0)
		return -1;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	hexstr(hex, b, sizeof b);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
	    hex + 16, hex + 20);
	return 0;
}

static int
fish(void)
{
	const char *sh = getenv("SHELL"), *b;

	if (!sh)
		return 0;
	b = strrchr(sh, '/');
	return strcmp(b ? b + 1 : sh, "fish") == 0;
}

/* ---- use / session ---- */

static int
show_session(struct ctx *c, int twoline)
{
	struct store *st = ctx_store(c);
	struct store_session s;

	if (!st)
		return -1;
	if (!store_get(st, c->session, &s)) {
		if (twoline)
			no_session();
		else
			logmsg(LOG_ERROR, "%s", prose(P_SESSION_ACTIVE_SESSION));
		return EXIT_ERR;
	}
	return out_one(c->fmt, session_row(row_new(), &s, 1));
}

/* The key as a shell word for eval: as is when nothing in it is special
 * to sh or fish (every automatic key but odd directory names), else in
 * single quotes (the Python client never quotes: a key with a space or
 * a ';' broke or ran through eval). */
static void
putkey(const char *key, int fish)
{
	const char *k;

	for (k = key; *k && (isalnum((unsigned char)*k) || (*k & 0x80) ||
	    strchr("_+-.,:@%/=", *k)); k++)
		;
	if (!*k && *key) {
		printf("%s\n", key);
		return;
	}
	putchar('\'');
	for (k = key; *k; k++)
		if (*k == '\'')
			fputs(fish ? "\\'" : "'\\''", stdout);
		else if (*k == '\\' && fish)
			fputs("\\\\", stdout);
		else
			putchar(*k);
	fputs("'\n", stdout);
}

int
cmd_use(struct ctx *c)
{
	int np, f, isnew = arg_flag(c, "new");
	char **img = arg_pos(c, "IMAGE", &np);
	char uuid[37], newkey[37];
	const char *key = c->session;
	struct store *st;
	struct store_new e;

	if (!np) {
		if (isnew) {
			logmsg(LOG_ERROR, "%s", prose(P_SESSION_NEW_NEEDS));
			return EXIT_ERR;
		}
		return show_session(c, 0);
	}
	if (api_image_resolve(ctx_api(c), img[0], uuid) < 0)
		return -1;
	/* a UUID is taken as given by the resolver: check it exists now,
	 * not at the next run */
	if (is_uuid(img[0]) && api_image_check(ctx_api(c), uuid) < 0)
		return -1;
	if (isnew) {
		if (uuid4(newkey) < 0)
			return -1;
		key = newkey;
	}
	if (!(st = ctx_store(c)))
		return -1;
	memset(&e, 0, sizeof e);
	e.kind = STORE_USE;
	e.image = uuid;
	e.title = img[0];
	if (store_append(st, key, &e, NULL) < 0)
		return -1;
	f = fish();
	fputs(f ? "set -gx CONTREE_SESSION " : "export CONTREE_SESSION=", stdout);
	putkey(key, f);
	if (isnew && isatty(1))
		logmsg(LOG_WARNING, prose(P_SESSION_NEW_SESSION),
		    f ? "eval (contree use -N IMAGE)" :
		    "eval $(contree use -N IMAGE)");
	return 0;
}

int
cmd_session(struct ctx *c)
{
	return show_session(c, 1);
}

int
cmd_session_list(struct ctx *c)
{
	struct store *st = ctx_store(c);
	struct store_session *s;
	const char *filter = arg_str(c, "filter");
	struct out *o;
	size_t n, i, shown = 0;
	int rc;

	if (!st)
		return -1;
	s = store_list(st, &n);
	o = out_new(c->fmt, 1);
	for (i = 0; i < n; i++) {
		struct row *r;

		if (filter && !strstr(s[i].key, filter))
			continue;
		r = row_new();
		row_bool(r, "active", strcmp(s[i].key, c->session) == 0);
		session_row(r, &s[i], 0);
		shown++;
		if (out_row(o, r) < 0)
			break;
	}
	rc = finish(o);
	free(s);
	if (rc == 0 && shown == 0)
		logmsg(LOG_INFO, "No sessions found.");
	return rc;
}

int
cmd_session_use(struct ctx *c)
{
	int np;
	char **k = arg_pos(c, "KEY", &np);
	struct store *st = ctx_store(c);
	const struct store_entry *tip;
	const char *other;
	struct store_new e;
	struct row *r;
	char *okey, *img;

	if (!st)
		return -1;
	if (!(other = find_session(st, k[0])))
		return -1;
	if (!(tip = store_tip(st, other))) {
		seterr("session '%s' has no history", other);
		return -1;
	}
	okey = xstrdup(other);
	img = xstrdup(tip->image);
	memset(&e, 0, sizeof e);
	e.kind = STORE_SESSION_USE;
	e.image = img;
	e.title = okey;
	if (store_append(st, c->session, &e, NULL) < 0) {
		free(okey);
		free(img);
		return -1;
	}
	r = row_new();
	row_str(r, "image", img);
	row_str(r, "from_session", okey);
	free(okey);
	free(img);
	return out_one(c->fmt, r);
}

/* ---- branches ---- */

static int
branch_list(struct ctx *c, struct store *st)
{
	struct store_branch *b;
	const char *act;
	struct out *o;
	size_t n, i;
	int rc;

	if (!store_get(st, c->session, NULL)) {
		logmsg(LOG_INFO, "No branches (no active session).");
		return 0;
	}
	act = store_active(st, c->session);
	b = store_branches(st, c->session, &n);
	o = out_new(c->fmt, 1);
	for (i = 0; i < n; i++) {
		struct row *r = row_new();
		int on = act && strcmp(act, b[i].name) == 0;

		if (c->fmt == FMT_DEFAULT) {
			row_str(r, "marker", on ? "*" : "");
			row_str(r, "branch", b[i].name);
		} else {
			row_str(r, "branch", b[i].name);
			row_bool(r, "active", on);
		}
		if (out_row(o, r) < 0)
			break;
	}
	rc = finish(o);
	free(b);
	return rc;
}

int
cmd_session_branch(struct ctx *c)
{
	struct store *st = ctx_store(c);
	int np;
	char **nm = arg_pos(c, "NAME", &np);
	const char *name = np ? nm[0] : NULL, *from = arg_str(c, "from");

	if (!st)
		return -1;
	if (arg_flag(c, "delete")) {
		const char *act;

		if (!name) {
			seterr("branch name required for --delete");
			return -1;
		}
		if (!store_branch_tip(st, c->session, name)) {
			seterr("branch '%s' does not exist", name);
			return -1;
		}
		act = store_active(st, c->session);
		if (act && strcmp(act, name) == 0) {
			seterr("cannot delete the active branch '%s'", name);
			return -1;
		}
		if (store_branch_delete(st, c->session, name) < 0)
			return -1;
		printf("Deleted branch '%s'\n", name);
		return 0;
	}
	if (arg_flag(c, "prune")) {
		const char **names = NULL;
		size_t n = 0, i;

		if (store_get(st, c->session, NULL) &&
		    store_prune(st, c->session, &names, &n) < 0)
			return -1;
		for (i = 0; i < n; i++)
			printf("Pruned branch '%s'\n", names[i]);
		if (n == 0)
			printf("Nothing to prune.\n");
		free(names);
		return 0;
	}
	if (name) {
		if (!store_get(st, c->session, NULL)) {
			no_session();
			return EXIT_ERR;
		}
		if (store_branch_tip(st, c->session, name)) {
			seterr("branch '%s' already exists", name);
			return -1;
		}
		if (from && !store_branch_tip(st, c->session, from)) {
			seterr("source branch '%s' does not exist", from);
			return -1;
		}
		if (store_branch_create(st, c->session, name, from) < 0)
			return -1;
		printf("Created branch '%s'\n", name);
		return 0;
	}
	return branch_list(c, st);
}

int
cmd_session_checkout(struct ctx *c)
{
	struct store *st;
	const struct store_entry *tip;
	int np, rc;
	char **b = arg_pos(c, "BRANCH", &np);
	struct row *r;

	if ((rc = need_session(c, &st, &tip)) != 0)
		return rc;
	if (!(tip = store_branch_tip(st, c->session, b[0]))) {
		seterr("branch '%s' does not exist", b[0]);
		return -1;
	}
	if (store_checkout(st, c->session, b[0]) < 0)
		return -1;
	r = row_new();
	row_str(r, "branch", b[0]);
	row_str(r, "image", tip->image);
	return out_one(c->fmt, r);
}

/* ---- rollback ---- */

int
cmd_session_rollback(struct ctx *c)
{
	struct store *st;
	const struct store_entry *tip, *to = NULL;
	int np, rc;
	char **t = arg_pos(c, "TARGET", &np);
	const char *arg = np ? t[0] : "-1", *digits = arg;
	long long n;
	struct row *r;

	if (*digits == '-' || *digits == '+')
		digits++;
	if (parse_ll(digits, 0, 1LL << 62, &n, "x") < 0 || *digits == '+' ||
	    *digits == '-') {
		seterr(prose(P_SESS_ROLLBACK),
		    arg);
		return -1;
	}
	if (n == 0) {
		seterr("rollback target must not be 0");
		return -1;
	}
	if ((rc = need_session(c, &st, &tip)) != 0)
		return rc;
	if (store_begin(st) < 0)
		return -1;
	tip = store_tip(st, c->session);
	if (!tip) {
		store_commit(st);
		no_session();
		return EXIT_ERR;
	}
	to = store_target(st, c->session, arg);
	if (!to || store_reset(st, c->session, to->id) < 0) {
		store_commit(st);
		return -1;
	}
	if (store_commit(st) < 0)
		return -1;
	r = row_new();
	row_str(r, "image", to->image);
	row_str(r, "kind", to->kind);
	row_str(r, "title", to->title);
	row_when(r, "created_at", to->created);
	return out_one(c->fmt, r);
}

/* ---- show ---- */

/* Index of entry x in shown (ascending ids), or -1. */
static long
shown_at(const struct store_entry *const *shown, size_t n,
    const struct store_entry *x)
{
	size_t lo = 0, hi = n, mid;

	while (x && lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (shown[mid]->id == x->id)
			return shown[mid] == x ? (long)mid : -1;
		if (shown[mid]->id < x->id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

struct named {
	const struct store_entry *kid;
	const char *name;
	size_t at;              /* the parent's index in shown */
};

static int
cmp_kid(const void *x, const void *y)
{
	const struct named *a = x, *b = y;

	if (a->at != b->at)
		return a->at < b->at ? -1 : 1;
	return a->kid->id < b->kid->id ? -1 : a->kid->id > b->kid->id;
}

/* The default format's fan-out lines (explore, detached runs, work
 * after a rollback): for every shown entry with two or more children,
 * "Entry 4 forks into 3 branches: explore-1 (5), explore-2 (6), 7",
 * each child named by the branches whose tip is it or below it.  One
 * pass over the entries, and a walk up from each branch tip that stops
 * below the oldest shown entry (a child's id is above its parent's). */
static void
show_forks(const struct store_entry **all, size_t nall,
    const struct store_entry *const *shown, size_t nshown,
    const struct store_branch *br, size_t nb)
{
	size_t *kids = xcalloc(nshown + 1, sizeof *kids), i, k, nn = 0;
	struct named *nm = NULL, *kv = NULL;
	struct buf l = {0};
	size_t nkv = 0;
	const struct store_entry *e;
	long at;

	if (!nshown)
		goto out;
	for (k = 0; k < nall; k++)
		if ((at = shown_at(shown, nshown, all[k]->up)) >= 0)
			kids[at]++;
	for (i = 0; i < nb; i++)
		for (e = br[i].tip; e && e->id > shown[0]->id; e = e->up)
			if ((at = shown_at(shown, nshown, e->up)) >= 0 &&
			    kids[at] > 1) {
				nm = xreallocarray(nm, nn + 1, sizeof *nm);
				nm[nn].kid = e;
				nm[nn++].name = br[i].name;
			}
	/* the children of forks, grouped by parent, in id order */
	for (k = 0; k < nall; k++)
		if ((at = shown_at(shown, nshown, all[k]->up)) >= 0 &&
		    kids[at] > 1) {
			kv = xreallocarray(kv, nkv + 1, sizeof *kv);
			kv[nkv].at = (size_t)at;
			kv[nkv++].kid = all[k];
		}
	if (nkv)
		qsort(kv, nkv, sizeof *kv, cmp_kid);
	for (i = 0; i < nkv; i++) {
		const char *sep = "";
		size_t j;

		if (i == 0 || kv[i].at != kv[i - 1].at)
			buf_reset(&l);
		else
			buf_puts(&l, ", ");
		for (j = 0; j < nn; j++)
			if (nm[j].kid == kv[i].kid) {
				buf_printf(&l, "%s%s", sep, nm[j].name);
				sep = "+";
			}
		buf_printf(&l, *sep ? " (%lld)" : "%lld", kv[i].kid->id);
		if (i + 1 == nkv || kv[i + 1].at != kv[i].at)
			printf("Entry %lld forks into %zu branches: %s\n",
			    shown[kv[i].at]->id, kids[kv[i].at], l.p);
	}
out:
	buf_free(&l);
	free(nm);
	free(kv);
	free(kids);
}

int
cmd_session_show(struct ctx *c)
{
	struct store *st = ctx_store(c);
	const struct store_entry **e;
	struct store_branch *br;
	const char *key = c->session, *kind = arg_str(c, "kind");
	long long since, until;
	size_t n, nb, i, k, m = 0, first;
	int np, hs, hu, rc;
	char **kp = arg_pos(c, "KEY", &np);
	struct out *o;

	if (arg_when(c, "since", &since, &hs) < 0 ||
	    arg_when(c, "until", &until, &hu) < 0)
		return EXIT_USAGE;
	if (!st)
		return -1;
	if (np && !(key = find_session(st, kp[0])))
		return -1;
	e = store_entries(st, key, &n);
	for (i = 0; i < n; i++) {
		size_t kl = kind ? strlen(kind) : 0;

		if (kind && strcmp(e[i]->kind, kind) != 0 &&
		    !(strncmp(e[i]->kind, kind, kl) == 0 &&
		    e[i]->kind[kl] == '-'))
			continue;
		if ((hs && e[i]->created < since) || (hu && e[i]->created > until))
			continue;
		e[m++] = e[i];
	}
	/* -l N as the reference slices [-N:]: the last N; 0 keeps all, and
	 * a negative N drops the first -N */
	first = 0;
	if (arg_given(c, "last")) {
		long long l = arg_int(c, "last");

		if (l > 0 && (size_t)l < m)
			first = m - (size_t)l;
		else if (l < 0)
			first = (size_t)-l < m ? (size_t)-l : m;
	}
	if (first == m) {       /* also when nothing matched */
		free(e);
		logmsg(LOG_INFO, "No history.");
		return 0;
	}
	/* the cap of 20 is for a bare show: -l N asked for N (the Python
	 * client capped -l 30 at 20 too) */
	if (!arg_flag(c, "all") && !arg_given(c, "last") &&
	    m - first > SHOW_DEFAULT) {
		logmsg(LOG_INFO, prose(P_SESS_SHOWING),
		    SHOW_DEFAULT, m - first);
		first = m - SHOW_DEFAULT;
	}
	br = store_branches(st, key, &nb);
	o = out_new(c->fmt, 1);
	for (i = first; i < m; i++) {
		struct row *r = row_new();
		struct buf names = {0};

		row_int(r, "id", e[i]->id);
		row_str(r, "image", e[i]->image);
		if (e[i]->parent > 0)
			row_int(r, "parent_id", e[i]->parent);
		else
			row_null(r, "parent_id");
		row_str(r, "kind", e[i]->kind);
		row_str(r, "title", e[i]->title);
		row_str(r, "operation", e[i]->op);
		row_when(r, "created_at", e[i]->created);
		for (k = 0; k < nb; k++)
			if (br[k].tip && br[k].tip->id == e[i]->id)
				buf_printf(&names, "%s%s", names.len ? ", " : "",
				    br[k].name);
		row_str(r, "branches", names.p ? names.p : "");
		buf_free(&names);
		if (out_row(o, r) < 0)
			break;
	}
	rc = finish(o);
	if (rc == 0 && c->fmt == FMT_DEFAULT) {
		const struct store_entry **all = store_entries(st, key, &n);

		show_forks(all, n, e + first, m - first, br, nb);
		free(all);
	}
	free(br);
	free(e);
	return rc;
}

/* ---- delete ---- */

static int
anything_stored(struct store *st, const char *key)
{
	size_t n = 0;
	void *p;

	if (store_get(st, key, NULL))
		return 1;
	p = store_env(st, key, &n);
	free(p);
	if (n)
		return 1;
	p = store_pending(st, key, &n);
	free(p);
	if (n)
		return 1;
	p = (void *)store_history(st, key, &n);
	free(p);
	return n > 0;
}

int
cmd_session_delete(struct ctx *c)
{
	struct store *st = ctx_store(c);
	int nk, i, rc = 0, r;
	char **keys = arg_pos(c, "KEY", &nk);

	if (!st)
		return -1;
	for (i = 0; i < nk; i++) {
		if (!anything_stored(st, keys[i])) {
			logmsg(LOG_ERROR, "Session '%s' not found", keys[i]);
			rc = EXIT_ERR;
			continue;
		}
		if (!arg_flag(c, "force")) {
			char *q = xasprintf("Delete session '%s'? [y/N] ", keys[i]);
			int yes = ask_yn(q);

			free(q);
			if (!yes) {
				printf("Aborted.\n");
				rc = EXIT_ERR;
				continue;
			}
		}
		r = store_delete(st, keys[i]);
		if (r < 0)
			return -1;
		if (r == 0) {
			logmsg(LOG_ERROR, "Session '%s' not found", keys[i]);
			rc = EXIT_ERR;
		} else {
			logmsg(LOG_INFO, "Deleted session '%s'", keys[i]);
		}
	}
	return rc;
}

/* ---- cd ---- */

/* 1 if the JSON reply is "empty" in the Python sense (no body, null,
 * false, 0, "", {}, []), 0 if not, -1 if it is not JSON. */
static int
falsy(const struct buf *b)
{
	struct json j;
	const struct json_tok *t;
	int r;

	if (!b->p || b->len == 0)
		return 1;
	memset(&j, 0, sizeof j);
	if (json_parse_alloc(&j, b->p, b->len) < 0) {
		json_free(&j);
		return -1;
	}
	t = &j.tok[0];
	r = t->type == JSON_NULL || t->type == JSON_FALSE ||
	    ((t->type == JSON_OBJECT || t->type == JSON_ARRAY) && t->size == 0) ||
	    (t->type == JSON_STRING && t->len == 0) ||
	    (t->type == JSON_NUMBER && strspn(b->p + t->start, "-0.eE+") >= t->len);
	json_free(&j);
	return r;
}

int
cmd_cd(struct ctx *c)
{
	struct store *st;
	const struct store_entry *tip;
	struct api *a;
	struct api_resp r;
	struct buf body = {0};
	struct store_new e;
	int np, rc;
	char **p = arg_pos(c, "PATH", &np), *dir, *path, *img;
	const char *q[3];

	if (!(st = ctx_store(c)))
		return -1;
	if (!np) {
		const char *cwd = store_cwd(st, c->session);

		printf("%s\n", cwd ? cwd : "/");
		return 0;
	}
	if (!(tip = store_tip(st, c->session))) {
		no_session();
		return EXIT_ERR;
	}
	dir = join_path(store_cwd(st, c->session), p[0]);
	img = xstrdup(tip->image);
	if (!(a = ctx_api(c))) {
		free(dir);
		free(img);
		return -1;
	}
	path = xasprintf("/inspect/%s/list", img);
	q[0] = "path";
	q[1] = dir;
	q[2] = NULL;
	memset(&r, 0, sizeof r);
	r.body = &body;
	rc = api_call(a, "GET", path, q, NULL, 0, &r);
	free(path);
	if (rc < 0 && r.status == 404) {
		seterr("no such directory: %s", dir);
	} else if (rc == 0 && falsy(&body) < 0) {
		seterr(prose(P_SESSION_MALFORMED_REPLY), img);
		rc = -1;
	} else if ((rc < 0 && r.status == 422) || (rc == 0 && falsy(&body))) {
		seterr("not a directory: %s", dir);
		rc = -1;
	}
	buf_free(&body);
	if (rc == 0) {
		memset(&e, 0, sizeof e);
		e.kind = STORE_CD;
		e.image = img;
		e.title = dir;
		rc = append_here(st, c->session, &e);
	}
	free(img);
	free(dir);
	return rc;
}

/* ---- env ---- */

int
cmd_env(struct ctx *c)
{
	struct store *st = ctx_store(c);
	int n, i;
	char **args = arg_pos(c, "PAIRS", &n);

	if (!st)
		return -1;
	if (arg_flag(c, "delete")) {
		if (n == 0) {
			seterr("%s", prose(P_SESSION_KEYS_GIVEN));
			return -1;
		}
		if (store_env_unset(st, c->session, (const char *const *)args,
		    (size_t)n) < 0)
			return -1;
		for (i = 0; i < n; i++)
			logmsg(LOG_INFO, "Unset %s", args[i]);
		return 0;
	}
	if (n == 0) {
		struct store_kv *kv;
		struct out *o;
		size_t m, k;
		int rc;

		kv = store_env(st, c->session, &m);
		if (m == 0) {
			free(kv);
			printf("No session environment variables set.\n");
			return 0;
		}
		o = out_new(c->fmt, 1);
		for (k = 0; k < m; k++) {
			struct row *r = row_new();

			row_str(r, "key", kv[k].name);
			row_str(r, "value", kv[k].value);
			if (out_row(o, r) < 0)
				break;
		}
		rc = finish(o);
		free(kv);
		return rc;
	}
	/* all or nothing: check every pair before saving any */
	{
		const char **vals = xcalloc((size_t)n, sizeof *vals);
		char **names = xcalloc((size_t)n, sizeof *names);
		int rc = 0;

		for (i = 0; i < n; i++) {
			char *eq = strchr(args[i], '=');

			if (!eq || eq == args[i]) {
				seterr("invalid argument '%s': expected KEY=VALUE",
				    args[i]);
				rc = -1;
				break;
			}
			names[i] = xstrndup(args[i], (size_t)(eq - args[i]));
			vals[i] = eq + 1;
		}
		if (rc == 0 && store_env_set(st, c->session,
		    (const char **)names, vals, (size_t)n) < 0)
			rc = -1;
		for (i = 0; rc == 0 && i < n; i++)
			logmsg(LOG_INFO, "Set %s", names[i]);
		for (i = 0; i < n; i++)
			free(names[i]);
		free(names);
		free(vals);
		return rc;
	}
}

/* ---- file edit / file cp ---- */

static int
onpath(const char *prog)
{
	const char *path = getenv("PATH"), *p, *e;
	int found = 0;

	for (p = path; p && *p && !found; p = *e ? e + 1 : e) {
		char *f;

		e = strchr(p, ':');
		if (!e)
			e = p + strlen(p);
		f = xasprintf("%.*s/%s", (int)(e - p), e == p ? "." : p, prog);
		found = access(f, X_OK) == 0;
		free(f);
	}
	return found;
}

static const char *
editor(struct ctx *c)
{
	const char *e = arg_str(c, "editor");

	if (e && *e)
		return e;
	if ((e = getenv("EDITOR")) && *e)
		return e;
	if (c->editor_default && *c->editor_default)
		return c->editor_default;
	if (onpath("vim"))
		return "vim";
	if (onpath("nano"))
		return "nano";
	return "vi";
}

/* /bin/sh -c '<editor> <quoted file>'; its exit status or -1. */
static int
run_editor(const char *ed, const char *file)
{
	struct buf cmd = {0};
	const char *s;
	pid_t pid;
	int status;

	buf_printf(&cmd, "%s '", ed);
	for (s = file; *s; s++) {
		if (*s == '\'')
			buf_puts(&cmd, "'\\''");
		else
			buf_addc(&cmd, *s);
	}
	buf_puts(&cmd, "'");
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		seterr("cannot start the editor:");
		buf_free(&cmd);
		return -1;
	}
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd.p, (char *)NULL);
		_exit(127);
	}
	buf_free(&cmd);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			seterr("waiting for the editor:");
			return -1;
		}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int
cmd_file_edit(struct ctx *c)
{
	struct store *st;
	const struct store_entry *tip;
	struct api *a;
	struct api_resp r;
	int np, rc, fd, code;
	char **pp = arg_pos(c, "PATH", &np);
	const char *path = pp[0], *base, *tmpdir = getenv("TMPDIR");
	const char *q[3];
	char *dir, *file, *img, *url, before[65], after[65], uuid[37];

	if ((rc = need_session(c, &st, &tip)) != 0)
		return rc;
	if (!(a = ctx_api(c)))
		return -1;
	img = xstrdup(tip->image);
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		base = "file";
	dir = xasprintf("%s/contree-edit-XXXXXX", tmpdir && *tmpdir ? tmpdir :
	    "/tmp");
	if (!mkdtemp(dir)) {
		seterr("cannot create a temporary directory %s:", dir);
		free(dir);
		free(img);
		return -1;
	}
	file = xasprintf("%s/%s", dir, base);
	rc = -1;
	if ((fd = open(file, O_RDWR | O_CREAT | O_EXCL, 0600)) < 0) {
		seterr("%s:", file);
		goto done;
	}
	url = xasprintf("/inspect/%s/download", img);
	q[0] = "path";
	q[1] = path;
	q[2] = NULL;
	memset(&r, 0, sizeof r);
	code = api_download(a, url, q, fd, NULL, NULL, &r);
	free(url);
	if (code < 0 && r.status == 404) {
		logmsg(LOG_INFO, prose(P_SESSION_DOES_EXIST),
		    path);
		if (ftruncate(fd, 0) < 0) {
			seterr("%s:", file);
			close(fd);
			goto done;
		}
	} else if (code < 0) {
		if (geterrclass() == ERR_IO)
			errwrap("writing %s", file);    /* a full disk, say */
		close(fd);
		goto done;
	}
	if (close(fd) < 0) {
		seterr("%s:", file);
		goto done;
	}
	if (sha256_file(file, before) < 0)
		goto done;
	code = run_editor(editor(c), file);
	if (code < 0)
		goto done;
	if (code != 0) {
		seterr(prose(P_SESSION_EDITOR_EXITED), code);
		goto done;
	}
	if (sha256_file(file, after) < 0)
		goto done;
	if (strcmp(before, after) == 0) {
		logmsg(LOG_INFO, "%s: nothing changed", path);
		rc = 0;
		goto done;
	}
	/* a temporary file: nothing for the upload cache to remember */
	if (upload(c, file, path, NULL, after, uuid) < 0)
		goto done;
	rc = stage(st, c->session, img, path, uuid);
done:
	remove_tree(dir, 0);
	free(file);
	free(dir);
	free(img);
	return rc;
}

int
cmd_file_cp(struct ctx *c)
{
	struct store *st;
	const struct store_entry *tip;
	int np, rc;
	char **src = arg_pos(c, "SRC", &np), **dst = arg_pos(c, "DEST", &np);
	char uuid[37], *img;

	if ((rc = need_session(c, &st, &tip)) != 0)
		return rc;
	img = xstrdup(tip->image);
	rc = upload(c, src[0], src[0], c->home, NULL, uuid);
	if (rc == 0)
		rc = stage(st, c->session, img, dst[0], uuid);
	free(img);
	return rc;
}
