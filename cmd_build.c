/* cmd_build.c - `contree build` (cli.md §9.3, issue 12): a Dockerfile
 * run step by step in the build's own session, each RUN a layer cached
 * as a branch "layer:<16 hex>" keyed by a hash chain, so an unchanged
 * step is never spawned again.  The pure parts (parser, substitution,
 * .dockerignore, boundary, keys) are build.c's; spawning, waiting and
 * uploads are the layer's (ops.c, files.c, api.c). */
#define _XOPEN_SOURCE 700      /* realpath */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "build.h"
#include "cmds.h"
#include "contree.h"
#include "files.h"
#include "json.h"
#include "ops.h"
#include "out.h"
#include "prose.h"
#include "store.h"
#include "util.h"

#define BUILD_TRUNCATE 65536    /* truncate_output_at of every step */
#define BUILD_MARGIN 120        /* s a step may queue beyond its -t */

/* ---- the state of a build ---- */

/* Name/value lists (ENV, ARG, --build-arg) are struct op_env (ops.h):
 * a NULL value is declared without one. */

struct bstate {
	struct ctx *c;
	struct api *a;
	struct store *st;
	char *skey;             /* build:<16 hex> */
	char *ctxdir;           /* the context as given */
	char *ctxreal;          /* its resolved absolute path */
	struct ignore ig;
	struct upcache up;      /* for hashes without reading files */
	struct op_env bargs;        /* --build-arg */
	unsigned char *used;    /* bargs consumed by an ARG */
	struct op_env gargs;        /* ARGs before the first FROM */
	/* the stage */
	int stage;
	struct op_env env, args;
	char *workdir, *user;
	struct filelist held;   /* COPY/ADD files waiting for a RUN */
	struct urlheld *uh;     /* ADD <url> files waiting for a RUN */
	size_t nuh;
	char image[37];
	char key[65];
	long long entry;        /* the last layer's history entry, or 0 */
	/* progress */
	size_t step, nsteps;
	int nocache;
	long long timeout;
	int live;               /* the step's output came live */
};

/* A file fetched by ADD <url>: already uploaded. */
struct urlheld {
	char *url, *dest;
	struct urlfetch f;
	long long uid, gid;
	unsigned mode;
};

static void
urls_free(struct bstate *b)
{
	size_t i;

	for (i = 0; i < b->nuh; i++) {
		free(b->uh[i].url);
		free(b->uh[i].dest);
	}
	free(b->uh);
	b->uh = NULL;
	b->nuh = 0;
}

/* What a stage holds: dropped at a new FROM and at the end. */
static void
stage_free(struct bstate *b)
{
	files_free(&b->held);
	urls_free(b);
	op_env_free(&b->env);
	op_env_free(&b->args);
	free(b->workdir);
	free(b->user);
	b->workdir = NULL;
	b->user = NULL;
}

/* The host path of context path rel ("": the context itself). */
static char *
ctxpath(const struct bstate *b, const char *rel)
{
	return *rel ? xasprintf("%s/%s", b->ctxdir, rel) : xstrdup(b->ctxdir);
}

/* Substitution lookup: ENV wins over ARG; before the first FROM only
 * the global ARGs are known. */
static const char *
lookup(void *arg, const char *name)
{
	struct bstate *b = arg;
	const char *v;

	if (!b->stage)
		return op_env_get(&b->gargs, name);
	if ((v = op_env_get(&b->env, name)))
		return v;
	return op_env_get(&b->args, name);
}

static void
progress(struct bstate *b, const struct dinstr *d, const char *extra)
{
	if (loglevel > LOG_INFO)
		return;
	if (d)
		fprintf(stderr, "[%zu/%zu] %s %s%s\n", b->step, b->nsteps,
		    d->word, d->args, extra ? extra : "");
	fflush(stderr);
}

/* "build failed: step N/M WORD ARGS: <why>" */
static int
step_fail(struct bstate *b, const struct dinstr *d)
{
	if (geterrclass() == ERR_INTR)
		return -1;
	if (d)
		errwrap("build failed: step %zu/%zu %s %s", b->step,
		    b->nsteps, d->word, d->args);
	else
		errwrap("build failed");
	return -1;
}

static void
live_out(void *arg, int which, const char *p, size_t n)
{
	struct bstate *b = arg;

	(void)which;
	b->live = 1;
	writeall(2, p, n);      /* both streams: stdout is the result row */
}

/* Wait for operation op (a RUN's, live, or an import's) within -t and
 * the margin; on Ctrl-C cancel it ("<what> <op> cancelled").  0 with
 * *j, or -1. */
static int
wait_op(struct bstate *b, const char *op, int live, const char *what,
    struct buf *body, struct json *j)
{
	int rc;

	rc = op_wait_live(b->a, b->c->home, op, live, b->timeout + BUILD_MARGIN,
	    live ? live_out : NULL, b, body, j);
	if (rc < 0 && interrupted) {
		if (op_cancel(b->a, op) < 0 && live)
			logmsg(LOG_DEBUG, "cancel %s: %s", op, geterr());
		logmsg(LOG_INFO, "%s %s cancelled", what, op);
		seterrc(ERR_INTR, "User interrupted");
	}
	return rc;
}

/* "operation OP ended STATUS[: ERROR]" into the slot. */
static void
op_ended(const struct json *j, const char *op)
{
	char *stt = json_getstr(j, 0, "status"), *err = json_getstr(j, 0,
	    "error");

	seterr("operation %s ended %s%s%s", op, stt ? stt : "?",
	    err && *err ? ": " : "", err ? err : "");
	free(stt);
	free(err);
}

/* ---- FROM ---- */

/* Import ref from its registry (cli.md §9.3): tagged as written. */
static int
from_import(struct bstate *b, const char *ref, char image[37])
{
	struct buf js = {0}, body = {0};
	struct json j;
	const char *tag = ref;
	char *url, op[37], *img;
	int rc;

	if (strncmp(tag, "docker://", 9) == 0)
		tag += 9;
	url = op_registry_url(ref);
	logmsg(LOG_INFO, "Image %s not found; importing %s", ref, url);
	op_import_json(url, tag, NULL, NULL, b->timeout, &js);
	free(url);
	rc = op_import(b->a, js.p, op);
	buf_free(&js);
	if (rc < 0)
		return -1;
	if (wait_op(b, op, 0, "Import", &body, &j) < 0) {
		buf_free(&body);
		return -1;
	}
	img = op_result_image(&j);
	if (op_status(&j, 0) != OP_SUCCESS || !img || !is_uuid(img)) {
		op_ended(&j, op);
		errwrap("importing %s", ref);
		rc = -1;
	} else {
		memcpy(image, img, 37);
	}
	free(img);
	json_free(&j);
	buf_free(&body);
	return rc;
}

static int
do_from(struct bstate *b, const struct dinstr *d)
{
	struct buf desc = {0};
	char **w, *ref;
	int n, i = 0, rc;

	if (df_words(d->args, lookup, b, &w, &n) < 0)
		return -1;
	while (i < n && strncmp(w[i], "--platform=", 11) == 0) {
		logmsg(LOG_WARNING, prose(P_BUILD_FROM_IGNORED),
		    w[i]);
		i++;
	}
	if (i >= n || (n - i != 1 && !(n - i == 3 &&
	    strcasecmp(w[i + 1], "AS") == 0)) || w[i][0] == '-') {
		seterr("expected FROM IMAGE [AS NAME]");
		freewords(w);
		return -1;
	}
	ref = w[i];
	/* a new stage: nothing carries over (issue 12) */
	if (b->held.n + b->nuh)
		logmsg(LOG_WARNING, prose(P_BUILD_DROPPED),
		    b->held.n + b->nuh, b->stage);
	stage_free(b);
	b->workdir = xstrdup("/");
	b->entry = 0;
	b->stage++;
	if (is_uuid(ref)) {
		rc = api_image_exists(b->a, ref);
		if (rc == 1)
			memcpy(b->image, ref, 37);
		rc = rc == 1 ? 0 : -1;
	} else if ((rc = api_image_resolve(b->a, ref, b->image)) < 0 &&
	    geterrclass() == ERR_OTHER && strstr(geterr(), "no image with tag")) {
		/* not on the server: import it (api_image_resolve's 404) */
		rc = from_import(b, ref, b->image);
	}
	freewords(w);
	if (rc < 0)
		return -1;
	key_field(&desc, "from", b->image);
	key_chain("", &desc, b->key);
	buf_free(&desc);
	logmsg(LOG_DEBUG, "FROM %s -> %s", d->args, b->image);
	return 0;
}

/* ---- ENV, ARG, WORKDIR, USER ---- */

static int
do_env(struct bstate *b, const struct dinstr *d)
{
	const char *sp = d->args + strcspn(d->args, " \t");
	char **w, *k, *v;
	int n, i;

	if (!memchr(d->args, '=', (size_t)(sp - d->args))) {
		/* old form: ENV NAME VALUE... */
		if (!*sp) {
			seterr("%s", prose(P_BUILD_EXPECTED_ENV));
			return -1;
		}
		k = xstrndup(d->args, (size_t)(sp - d->args));
		if (df_subst(sp + strspn(sp, " \t"), lookup, b, &v) < 0) {
			free(k);
			return -1;
		}
		op_env_set(&b->env, k, v);
		free(k);
		free(v);
		return 0;
	}
	if (df_words(d->args, lookup, b, &w, &n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		char *eq = strchr(w[i], '=');

		if (!eq || eq == w[i]) {
			seterr("expected NAME=VALUE, got '%s'", w[i]);
			freewords(w);
			return -1;
		}
		*eq = '\0';
		op_env_set(&b->env, w[i], eq + 1);
	}
	freewords(w);
	return 0;
}

static int
do_arg(struct bstate *b, const struct dinstr *d)
{
	char **w;
	int n, i;

	if (df_words(d->args, lookup, b, &w, &n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		char *eq = strchr(w[i], '=');
		const char *v, *p;
		long k;

		if (eq)
			*eq = '\0';
		for (p = w[i]; isalnum((unsigned char)*p) || *p == '_'; p++)
			;
		if (!*w[i] || *p) {
			seterr("bad ARG name '%s'", w[i]);
			freewords(w);
			return -1;
		}
		v = eq ? eq + 1 : NULL;
		if ((k = op_env_find(&b->bargs, w[i])) >= 0) {
			v = b->bargs.v[k];
			b->used[k] = 1;
		} else if (!v && b->stage) {
			v = op_env_get(&b->gargs, w[i]);   /* the global default */
		}
		op_env_set(b->stage ? &b->args : &b->gargs, w[i], v);
	}
	freewords(w);
	return 0;
}

static int
do_workdir(struct bstate *b, const struct dinstr *d)
{
	char *v, *p;

	if (df_subst(d->args, lookup, b, &v) < 0)
		return -1;
	p = join_path(b->workdir, v);
	free(v);
	free(b->workdir);
	b->workdir = p;
	return 0;
}

static int
do_user(struct bstate *b, const struct dinstr *d)
{
	char *v;

	if (df_subst(d->args, lookup, b, &v) < 0)
		return -1;
	if (!*v || strchr(v, ' ') || strchr(v, '\t')) {
		seterr("expected USER NAME[:GROUP], got '%s'", v);
		free(v);
		return -1;
	}
	free(b->user);
	b->user = v;
	return 0;
}

/* ---- COPY and ADD ---- */

struct copyopt {
	long long uid, gid;
	unsigned mode;
	int has_mode;
};

/* A uid or gid. */
static int
idnum(const char *s, long long *v, const char *what)
{
	return parse_ll(s, 0, 4294967295LL, v, what);
}

/* --chown=U[:G] with numbers (names: 0 with a warning, cli.md §9.3). */
static long long
owner_id(const char *s, const char *what)
{
	long long v;

	if (idnum(s, &v, what) == 0)
		return v;
	clearerr_slot();
	logmsg(LOG_WARNING, "--chown %s '%s' is not a number; using 0", what,
	    s);
	return 0;
}

/* The leading options of words w (cut up). */
static int
copy_flags(char **w, int n, struct copyopt *o)
{
	int i;

	memset(o, 0, sizeof *o);
	for (i = 0; i < n && strncmp(w[i], "--", 2) == 0; i++) {
		const char *f = w[i];

		if (strncmp(f, "--chown=", 8) == 0) {
			char *g = strchr(f + 8, ':');

			if (g)
				*g++ = '\0';
			o->uid = owner_id(f + 8, "user");
			o->gid = g ? owner_id(g, "group") : o->uid;
		} else if (strncmp(f, "--chmod=", 8) == 0) {
			char *end;
			unsigned long m = strtoul(f + 8, &end, 8);

			if (!f[8] || *end || m > 07777) {
				seterr("--chmod '%s' is not an octal mode", f + 8);
				return -1;
			}
			o->mode = (unsigned)m;
			o->has_mode = 1;
		} else {        /* "--": df_check refused the others */
			seterr("unsupported option '%s'", f);
			return -1;
		}
	}
	return 0;
}

/* The hash of a file to copy: the upload cache's when the file is
 * unchanged, else read. */
static int
hash_held(struct bstate *b, struct hostfile *h)
{
	struct upent *e = upcache_match(&b->up, h->abs, &h->st);

	if (e) {
		memcpy(h->sha, e->sha, 65);
		return 0;
	}
	return sha256_file(h->host, h->sha);
}

/* Hold host file rel (inside the context) for dest. */
static int
hold(struct bstate *b, const char *rel, const char *dest,
    const struct copyopt *o)
{
	char *host = ctxpath(b, rel);
	struct hostfile *h;
	size_t i;
	int rc;

	/* a later copy to the same place replaces the earlier one */
	for (i = 0; i < b->held.n; i++)
		if (strcmp(b->held.f[i].dest, dest) == 0) {
			free(b->held.f[i].host);
			free(b->held.f[i].abs);
			free(b->held.f[i].dest);
			memmove(&b->held.f[i], &b->held.f[i + 1],
			    (b->held.n - i - 1) * sizeof *b->held.f);
			b->held.n--;
			break;
		}
	rc = files_add(&b->held, host, dest);
	free(host);
	if (rc < 0)
		return -1;
	h = &b->held.f[b->held.n - 1];
	h->uid = o->uid;
	h->gid = o->gid;
	if (o->has_mode)
		h->mode = o->mode;
	return hash_held(b, h);
}

/* 1 if rel must not reach a COPY: .dockerignore or run's default
 * excludes (cli.md §9.2.2) on any of its components. */
static int
ignored(struct bstate *b, const char *rel, int isdir)
{
	char *p, *s, *e;
	int ex = 0;

	if (!*rel)
		return 0;
	p = xstrdup(rel);
	for (s = p; !ex && s; s = e) {
		e = strchr(s, '/');
		if (e)
			*e = '\0';
		ex = excluded(p, s, NULL, 0);
		if (e)
			*e++ = '/';
	}
	free(p);
	return ex || ignore_match(&b->ig, rel, isdir);
}

/* The context path of rel after symbolic links: refused when it leaves
 * the context (issue 12: "..", links, a sibling with a common prefix). */
static int
inside(struct bstate *b, const char *rel)
{
	char *host = ctxpath(b, rel);
	char real[PATH_MAX];
	int rc = 0;

	if (!realpath(host, real)) {
		seterr("%s:", rel);
		rc = -1;
	} else if (!path_inside(b->ctxreal, real)) {
		seterr(prose(P_BUILD_RESOLVES_OUTSIDE),
		    rel, real, b->ctxreal);
		rc = -1;
	}
	free(host);
	return rc;
}

static char *
relcat(const char *a, const char *b)
{
	return *a ? xasprintf("%s/%s", a, b) : xstrdup(b);
}

/* Every file under context directory rel, to dest/<path below rel>. */
static int
copy_dir(struct bstate *b, const char *rel, const char *dest,
    const struct copyopt *o)
{
	char *host = ctxpath(b, rel);
	struct dirent **ents;
	int n, i, rc = 0;

	n = scandir(host, &ents, NULL, alphasort);
	free(host);
	if (n < 0) {
		seterr("cannot read directory %s:", *rel ? rel : ".");
		return -1;
	}
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char *r, *h, *dd;
		struct stat st;

		if (rc < 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		r = relcat(rel, name);
		h = ctxpath(b, r);
		dd = join_path(dest, name);
		if (lstat(h, &st) < 0) {
			seterr("cannot access %s:", r);
			rc = -1;
		} else if (S_ISDIR(st.st_mode)) {
			if (!ignored(b, r, 1) || (ignore_descend(&b->ig, r) &&
			    !excluded(r, name, NULL, 0)))
				rc = copy_dir(b, r, dd, o);
		} else if (!ignored(b, r, 0)) {
			if (S_ISLNK(st.st_mode)) {
				if ((rc = inside(b, r)) == 0 &&
				    stat(h, &st) == 0 && S_ISREG(st.st_mode))
					rc = hold(b, r, dd, o);
			} else if (S_ISREG(st.st_mode)) {
				rc = hold(b, r, dd, o);
			}
		}
		free(r);
		free(h);
		free(dd);
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return rc;
}

static void
push(char ***v, int *n, char *s)
{
	*v = xreallocarray(*v, (size_t)*n + 1, sizeof **v);
	(*v)[(*n)++] = s;
}

static void glob_ctx(struct bstate *, const char *, const char *, char ***,
    int *);

/* Context path r matched the pattern so far: go on with rest, or keep
 * it (r is taken). */
static void
glob_hit(struct bstate *b, char *r, const char *rest, char ***out,
    int *nout)
{
	if (!rest) {
		push(out, nout, r);
		return;
	}
	glob_ctx(b, r, rest, out, nout);
	free(r);
}

/* Expand a cleaned source pattern component by component into the
 * context paths it names (sorted). */
static void
glob_ctx(struct bstate *b, const char *rel, const char *pat, char ***out,
    int *nout)
{
	const char *sl = strchr(pat, '/');
	char *comp = sl ? xstrndup(pat, (size_t)(sl - pat)) : xstrdup(pat);
	const char *rest = sl ? sl + 1 : NULL;
	char *h;

	if (!has_glob(comp)) {
		char *r = relcat(rel, comp);
		struct stat st;

		h = xasprintf("%s/%s", b->ctxdir, r);
		if (lstat(h, &st) == 0)
			glob_hit(b, r, rest, out, nout);
		else
			free(r);
	} else {
		struct dirent **ents;
		int n, i;

		h = ctxpath(b, rel);
		n = scandir(h, &ents, NULL, alphasort);
		for (i = 0; i < n; i++) {
			const char *name = ents[i]->d_name;

			if (strcmp(name, ".") && strcmp(name, "..") &&
			    glob_path(comp, name))
				glob_hit(b, relcat(rel, name), rest, out, nout);
			free(ents[i]);
		}
		if (n >= 0)
			free(ents);
	}
	free(h);
	free(comp);
}

/* One local source: its context paths and what they hold. */
static int
copy_source(struct bstate *b, const char *src, const char *dest,
    int dirdest, const struct copyopt *o)
{
	char *clean = ctx_clean(src), **m = NULL;
	int nm = 0, i, rc = 0, named;

	if (!clean)
		return -1;
	named = !has_glob(clean);
	if (named) {
		push(&m, &nm, xstrdup(clean));
	} else {
		glob_ctx(b, "", clean, &m, &nm);
	}
	for (i = 0; i < nm && rc == 0; i++) {
		char *h = ctxpath(b, m[i]);
		struct stat st;

		if ((rc = inside(b, m[i])) < 0) {
			if (errno == ENOENT && named)
				seterr(prose(P_BUILD_SOURCE_FOUND),
				    src);
		} else if (stat(h, &st) < 0) {
			seterr("%s:", src);
			rc = -1;
		} else if (S_ISDIR(st.st_mode)) {
			if (named && ignored(b, m[i], 1) &&
			    !ignore_descend(&b->ig, m[i])) {
				seterr(prose(P_BUILD_EXCLUDED_DOCKERIGNORE),
				    src);
				rc = -1;
			} else {
				rc = copy_dir(b, m[i], dest, o);
			}
		} else if (ignored(b, m[i], 0)) {
			if (named) {
				seterr(prose(P_BUILD_EXCLUDED_DOCKERIGNORE),
				    src);
				rc = -1;
			}
		} else if (S_ISREG(st.st_mode)) {
			char *base = strrchr(m[i], '/'), *dd;

			base = base ? base + 1 : m[i];
			dd = dirdest ? join_path(dest, base) : xstrdup(dest);
			rc = hold(b, m[i], dd, o);
			free(dd);
		}
		free(h);
	}
	if (rc == 0 && nm == 0) {
		seterr("no file in the build context matches '%s'", src);
		rc = -1;
	}
	for (i = 0; i < nm; i++)
		free(m[i]);
	free(m);
	free(clean);
	return rc;
}

/* ---- ADD <url> ----
 * HOME/cli/build-urls remembers what each URL gave: lines
 * "url TAB etag TAB last-modified TAB uuid TAB sha256 TAB recorded";
 * the next build asks the origin with those validators and reuses the
 * upload on 304 Not Modified. */

#define URLCACHE_MAX 1000

/* Look url up in the cache file (put NULL: into f, 1 if found, else 0),
 * or record put for it (dropping its older line and the oldest beyond
 * URLCACHE_MAX; 0). */
static int
urlcache(struct bstate *b, const char *url, struct urlfetch *f,
    const struct urlfetch *put)
{
	struct buf t = {0}, out = {0};
	char *dir = xasprintf("%s/cli", b->c->home), *path, *line, *save = NULL;
	size_t n = 0, ulen = strlen(url);
	int found = 0;

	mkdirs(dir, 0700);
	path = xasprintf("%s/build-urls", dir);
	free(dir);
	if (access(path, F_OK) == 0 && readfile(path, &t) < 0)
		buf_reset(&t);
	for (line = t.p ? strtok_r(t.p, "\n", &save) : NULL; line && !found;
	    line = strtok_r(NULL, "\n", &save)) {
		char *fl[6], *p = line;
		int k;

		if (put) {
			if (!(strncmp(line, url, ulen) == 0 &&
			    line[ulen] == '\t') && n++ < URLCACHE_MAX - 1)
				buf_printf(&out, "%s\n", line);
			continue;
		}
		for (k = 0; k < 6 && p; k++) {
			fl[k] = p;
			if ((p = strchr(p, '\t')))
				*p++ = '\0';
		}
		if (k < 6 || strcmp(fl[0], url) != 0 || !is_uuid(fl[3]) ||
		    strlen(fl[1]) >= sizeof f->etag ||
		    strlen(fl[2]) >= sizeof f->lastmod ||
		    (*fl[4] && strlen(fl[4]) != 64))
			continue;
		strcpy(f->etag, fl[1]);
		strcpy(f->lastmod, fl[2]);
		memcpy(f->uuid, fl[3], 37);
		snprintf(f->sha, sizeof f->sha, "%s", fl[4]);
		found = 1;
	}
	if (put) {
		buf_printf(&out, "%s\t%s\t%s\t%s\t%s\t%lld\n", url, put->etag,
		    put->lastmod, put->uuid, put->sha, (long long)time(NULL));
		if (writefile_cache(path, out.p, out.len) < 0)
			logmsg(LOG_DEBUG, "cache: %s", geterr());
	}
	clearerr_slot();
	buf_free(&t);
	buf_free(&out);
	free(path);
	return found;
}

static int
add_url(struct bstate *b, const char *url, const char *dest, int dirdest,
    const struct copyopt *o)
{
	struct urlheld u;
	const char *p;
	int had, rc;

	memset(&u, 0, sizeof u);
	for (p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			seterr("ADD: bad URL '%s'", url);
			return -1;
		}
	if (dirdest) {
		size_t n = strcspn(url, "?#");
		const char *s = url + n;

		while (s > url && s[-1] != '/')
			s--;
		if (s == url + n || strstr(url, "://") + 3 > s) {
			seterr(prose(P_BUILD_ADD_FILE),
			    url);
			return -1;
		}
		p = xstrndup(s, (size_t)(url + n - s));
		u.dest = join_path(dest, p);
		free((char *)p);
	} else {
		u.dest = xstrdup(dest);
	}
	had = urlcache(b, url, &u.f, NULL);
	rc = files_upload_url(b->a, url, b->timeout, &u.f);
	if (rc < 0 || (rc == 1 && !had)) {
		if (rc == 1)
			seterr(prose(P_BUILD_ADD_SERVER),
			    url);
		free(u.dest);
		return -1;
	}
	if (rc == 1)
		logmsg(LOG_INFO, "ADD %s: unchanged (304), upload %s reused", url,
		    u.f.uuid);
	else
		urlcache(b, url, NULL, &u.f);
	u.url = xstrdup(url);
	u.uid = o->uid;
	u.gid = o->gid;
	u.mode = o->has_mode ? o->mode : 0644;
	b->uh = xreallocarray(b->uh, b->nuh + 1, sizeof *b->uh);
	b->uh[b->nuh++] = u;
	return 0;
}

/* Split COPY/ADD arguments: options first (substituted), then the
 * JSON array form or shell-like words. */
static int
copy_words(struct bstate *b, const struct dinstr *d, struct copyopt *o,
    char ***w, int *n)
{
	const char *p = d->args;
	char *opts, **jw;
	int k, nj, rc;

	while (strncmp(p, "--", 2) == 0) {
		p += strcspn(p, " \t");
		p += strspn(p, " \t");
	}
	opts = xstrndup(d->args, (size_t)(p - d->args));
	rc = df_words(opts, lookup, b, w, n);
	free(opts);
	if (rc < 0 || copy_flags(*w, *n, o) < 0)
		goto fail;
	freewords(*w);
	*w = NULL;
	if (df_json_words(p, &jw, &nj) == 1) {
		for (k = 0; k < nj; k++) {
			char *s;

			if (df_subst(jw[k], lookup, b, &s) < 0) {
				freewords(jw);
				return -1;
			}
			free(jw[k]);
			jw[k] = s;
		}
		*w = jw;
		*n = nj;
		return 0;
	}
	return df_words(p, lookup, b, w, n);
fail:
	if (*w)
		freewords(*w);
	return -1;
}

static int
do_copy(struct bstate *b, const struct dinstr *d)
{
	struct copyopt o;
	char **w, *dest;
	int n, i, rc = 0, dirdest;
	size_t before = b->held.n;

	if (copy_words(b, d, &o, &w, &n) < 0)
		return -1;
	if (n < 2) {
		seterr(prose(P_BUILD_EXPECTED_CHOWN),
		    d->word);
		freewords(w);
		return -1;
	}
	dest = join_path(b->workdir, w[n - 1]);
	dirdest = n > 2 || !*w[n - 1] || w[n - 1][strlen(w[n - 1]) - 1] == '/';
	for (i = 0; i < n - 1 && rc == 0; i++) {
		if (d->kind == DI_ADD && (strncmp(w[i], "http://", 7) == 0 ||
		    strncmp(w[i], "https://", 8) == 0)) {
			rc = add_url(b, w[i], dest, dirdest, &o);
		} else {
			/* a glob may match several files: a directory */
			rc = copy_source(b, w[i], dest, dirdest || has_glob(w[i]),
			    &o);
		}
	}
	if (rc == 0)
		logmsg(LOG_DEBUG, "%s: %zu file(s) held for the next RUN",
		    d->word, b->held.n - before);
	free(dest);
	freewords(w);
	return rc;
}

/* ---- RUN ---- */

/* A file of the current image (through the inspect cache) into body;
 * a file the image lacks leaves body empty.  0 or -1. */
static int
image_file(struct bstate *b, const char *path, struct buf *body)
{
	char *dir = xasprintf("%s/cli/inspect", b->c->home);
	int rc, status = 0;

	rc = api_inspect_get(b->a, dir, b->image, "file", path, 0, body,
	    &status);
	free(dir);
	if (rc < 0 && status == 404) {
		clearerr_slot();
		buf_reset(body);
		rc = 0;
	}
	return rc;
}

/* The entry of /etc/passwd or /etc/group text named key (byid: or
 * with the id key): 1 with its id, and for passwd its gid and home
 * (malloc'd), else 0.  text is cut up. */
static int
id_find(char *text, const char *key, int byid, long long *id,
    long long *gid, char **home)
{
	char *line, *save = NULL;

	for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
	    line = strtok_r(NULL, "\n", &save)) {
		char *f[7] = {0}, *p = line;
		int k;

		for (k = 0; k < 7 && p; k++) {
			f[k] = p;
			if ((p = strchr(p, ':')))
				*p++ = '\0';
		}
		if (k < 3 || (strcmp(f[0], key) != 0 &&
		    !(byid && strcmp(f[2], key) == 0)) ||
		    idnum(f[2], id, "id") < 0)
			continue;
		if (gid && k >= 4 && idnum(f[3], gid, "id") < 0)
			*gid = 0;
		if (home && k >= 6)
			*home = xstrdup(f[5]);
		return 1;
	}
	return 0;
}

/* The uid and gid of USER name[:group]: names looked up in the current
 * image's /etc/passwd and /etc/group, numbers as they are; *home from
 * passwd when the user is there (else NULL).  0 or -1. */
static int
user_ids(struct bstate *b, long long *uid, long long *gid, char **home)
{
	struct buf pw = {0}, gr = {0};
	char *u = xstrdup(b->user), *g = strchr(u, ':');
	int rc = -1;

	if (g)
		*g++ = '\0';
	*gid = 0;
	*home = NULL;
	if (image_file(b, "/etc/passwd", &pw) < 0)
		goto out;
	if (!id_find(pw.p, u, 1, uid, gid, home) &&
	    idnum(u, uid, "id") < 0) {
		seterr(prose(P_BUILD_USER_USER),
		    b->user, u);
		goto out;
	}
	if (g && idnum(g, gid, "id") < 0) {
		if (image_file(b, "/etc/group", &gr) < 0)
			goto out;
		if (!id_find(gr.p, g, 0, gid, NULL, NULL)) {
			seterr(prose(P_BUILD_USER_GROUP),
			    b->user, g);
			goto out;
		}
	}
	clearerr_slot();
	rc = 0;
out:
	buf_free(&pw);
	buf_free(&gr);
	free(u);
	return rc;
}

/* A held file in a key's description. */
static void
desc_file(struct buf *desc, const char *dest, const char *sha,
    long long uid, long long gid, unsigned mode)
{
	char attr[96];

	snprintf(attr, sizeof attr, "%lld:%lld:%04o", uid, gid, mode & 07777);
	key_field(desc, "file", dest);
	key_field(desc, "sha256", sha);
	key_field(desc, "attr", attr);
}

/* The description a RUN's key is made of (cli.md §9.3). */
static void
run_desc(struct bstate *b, const struct dinstr *d, struct buf *desc)
{
	size_t i;

	key_field(desc, "workdir", b->workdir);
	key_field(desc, "user", b->user ? b->user : "");
	for (i = 0; i < b->env.n; i++) {
		key_field(desc, "env", b->env.k[i]);
		key_field(desc, "=", b->env.v[i] ? b->env.v[i] : "");
	}
	for (i = 0; i < b->args.n; i++)
		if (b->args.v[i]) {
			key_field(desc, "arg", b->args.k[i]);
			key_field(desc, "=", b->args.v[i]);
		}
	key_field(desc, "run", d->args);
	for (i = 0; i < b->held.n; i++) {
		const struct hostfile *h = &b->held.f[i];

		desc_file(desc, h->dest, h->sha, h->uid, h->gid, h->mode);
	}
	for (i = 0; i < b->nuh; i++) {
		const struct urlheld *u = &b->uh[i];

		key_field(desc, "url", u->url);
		key_field(desc, "etag", u->f.etag);
		key_field(desc, "last-modified", u->f.lastmod);
		desc_file(desc, u->dest, u->f.sha[0] ? u->f.sha : u->f.uuid,
		    u->uid, u->gid, u->mode);
	}
}

/* The environment of a step: ARG values, then ENV (which wins), then
 * HOME of a USER when ENV has none. */
static void
run_env(struct bstate *b, struct op_env *e, const char *home)
{
	size_t i;

	for (i = 0; i < b->args.n; i++)
		if (b->args.v[i])
			op_env_set(e, b->args.k[i], b->args.v[i]);
	for (i = 0; i < b->env.n; i++)
		op_env_set(e, b->env.k[i], b->env.v[i] ? b->env.v[i] : "");
	if (home && !op_env_get(&b->env, "HOME"))
		op_env_set(e, "HOME", home);
}

/* What a finished step says: 0 with image set, or -1. */
static int
run_result(struct bstate *b, const struct json *j, const char *op,
    char image[37])
{
	struct buf so = {0}, se = {0};
	long long code = 0;
	int has = op_exit_code(j, &code), rc = -1;
	char *img = op_result_image(j);

	if (!b->live) {         /* polled: show the output now */
		op_stream(j, "stdout", &so, NULL);
		op_stream(j, "stderr", &se, NULL);
		writeall(2, so.p ? so.p : "", so.len);
		writeall(2, se.p ? se.p : "", se.len);
	}
	if (op_timed_out(j))
		seterr(prose(P_BUILD_TIMED_OUT),
		    b->timeout, b->timeout == 1 ? "" : "s", op);
	else if (op_status(j, 0) != OP_SUCCESS)
		op_ended(j, op);
	else if (has && code != 0)
		seterr(prose(P_BUILD_COMMAND_EXITED), code,
		    op);
	else if (!img || !is_uuid(img))
		seterr("operation %s gave no result image", op);
	else {
		memcpy(image, img, 37);
		rc = 0;
	}
	free(img);
	buf_free(&so);
	buf_free(&se);
	return rc;
}

/* The files of the step (uploaded): local ones, then those of URLs.
 * The array points into b. */
static struct op_file *
held_files(struct bstate *b)
{
	struct op_file *fe = xcalloc(b->held.n + b->nuh + 1, sizeof *fe);
	size_t i;

	for (i = 0; i < b->held.n; i++) {
		fe[i].dest = b->held.f[i].dest;
		fe[i].uuid = b->held.f[i].uuid;
		fe[i].uid = b->held.f[i].uid;
		fe[i].gid = b->held.f[i].gid;
		fe[i].mode = b->held.f[i].mode;
	}
	for (i = 0; i < b->nuh; i++) {
		struct op_file *o = &fe[b->held.n + i];

		o->dest = b->uh[i].dest;
		o->uuid = b->uh[i].f.uuid;
		o->uid = b->uh[i].uid;
		o->gid = b->uh[i].gid;
		o->mode = b->uh[i].mode;
	}
	return fe;
}

/* Spawn the step and wait for it, its output live on stderr. */
static int
run_spawn(struct bstate *b, const struct dinstr *d, char op[37],
    char image[37])
{
	struct op_run r;
	struct op_file *fe = NULL;
	struct op_env env = {0};
	struct buf rec = {0};
	struct json j;
	char **w = NULL, *home = NULL;
	int nw = 0, rc = -1;

	memset(&r, 0, sizeof r);
	if (b->user && user_ids(b, &r.uid, &r.gid, &home) < 0)
		goto out;
	r.has_user = b->user != NULL;
	if (df_json_words(d->args, &w, &nw) == 1) {
		if (nw == 0) {
			seterr("RUN [] has no command");
			goto out;
		}
		r.command = w[0];
		r.args = w + 1;
		r.nargs = (size_t)nw - 1;
	} else {
		r.command = d->args;
		r.shell = 1;
	}
	if (files_upload(b->a, b->c->home, &b->held) < 0)
		goto out;
	fe = held_files(b);
	run_env(b, &env, home);
	r.image = b->image;
	r.truncate = BUILD_TRUNCATE;
	r.timeout = b->timeout;
	r.cwd = strcmp(b->workdir, "/") ? b->workdir : NULL;
	r.envk = env.k;
	r.envv = env.v;
	r.nenv = env.n;
	r.files = fe;
	r.nfiles = b->held.n + b->nuh;
	if (interrupted) {
		seterrc(ERR_INTR, "User interrupted");
		goto out;
	}
	if (op_spawn_run(b->a, &r, op) < 0)
		goto out;
	logmsg(LOG_DEBUG, "step %zu: operation %s", b->step, op);
	b->live = 0;
	if ((rc = wait_op(b, op, 1, "Operation", &rec, &j)) < 0)
		goto out;
	rc = run_result(b, &j, op, image);
	json_free(&j);
out:
	if (w)
		freewords(w);
	op_env_free(&env);
	free(home);
	free(fe);
	buf_free(&rec);
	return rc;
}

/* The layer of a RUN is the build's state now; its files are in it. */
static void
layer_done(struct bstate *b, const char *image, const char *key)
{
	memcpy(b->image, image, 37);
	memcpy(b->key, key, 65);
	files_free(&b->held);
	urls_free(b);
}

/* A RUN: reuse its layer when the key is known and its image is still
 * there, else spawn it and remember the layer. */
static int
do_run(struct bstate *b, const struct dinstr *d)
{
	struct buf desc = {0};
	const struct store_entry *e;
	struct store_new ne;
	char key[65], branch[32], op[37], image[37];
	int ex;

	run_desc(b, d, &desc);
	key_chain(b->key, &desc, key);
	buf_free(&desc);
	snprintf(branch, sizeof branch, "layer:%.16s", key);
	e = b->nocache ? NULL : store_branch_tip(b->st, b->skey, branch);
	if (e && (ex = api_image_exists(b->a, e->image)) != 0) {
		if (ex < 0)
			return -1;
		progress(b, d, " ... CACHED");
		logmsg(LOG_DEBUG, "CACHED: %s %s -> %s", d->word, d->args,
		    e->image);
		b->entry = e->id;
		layer_done(b, e->image, key);
		return 0;
	}
	if (e) {
		clearerr_slot();
		logmsg(LOG_INFO, prose(P_BUILD_GONE),
		    e->image);
	}
	progress(b, d, NULL);
	if (run_spawn(b, d, op, image) < 0)
		return -1;
	memset(&ne, 0, sizeof ne);
	ne.kind = STORE_RUN;
	ne.image = image;
	ne.title = d->args;
	ne.op = op;
	ne.branch = branch;
	ne.from = b->entry;     /* the history follows the chain */
	if ((b->entry = store_append(b->st, b->skey, &ne, NULL)) < 0) {
		logmsg(LOG_WARNING, "the layer cache was not updated: %s",
		    geterr());
		b->entry = 0;
	}
	layer_done(b, image, key);
	return 0;
}

/* ---- the build ---- */

static int
step(struct bstate *b, const struct dinstr *d)
{
	if (d->kind == DI_RUN)
		return do_run(b, d);
	progress(b, d, NULL);
	switch (d->kind) {
	case DI_FROM:
		return do_from(b, d);
	case DI_SKIP:
		logmsg(LOG_WARNING, prose(P_BUILD_EXECUTED_BUILD),
		    d->word);
		return 0;
	case DI_COPY: case DI_ADD:
		return do_copy(b, d);
	case DI_ENV:
		return do_env(b, d);
	case DI_ARG:
		return do_arg(b, d);
	case DI_WORKDIR:
		return do_workdir(b, d);
	case DI_USER:
		return do_user(b, d);
	}
	return 0;
}

/* --build-arg K=V (without '=': an error, cli.md §9.3). */
static int
build_args(struct ctx *c, struct bstate *b)
{
	char **v;
	int n, i;

	v = arg_list(c, "build-arg", &n);
	for (i = 0; i < n; i++) {
		char *eq = strchr(v[i], '='), *k;

		if (!eq || eq == v[i]) {
			seterr(prose(P_BUILD_INVALID_BUILD),
			    v[i]);
			return -1;
		}
		k = xstrndup(v[i], (size_t)(eq - v[i]));
		op_env_set(&b->bargs, k, eq + 1);
		free(k);
	}
	b->used = xcalloc(b->bargs.n + 1, 1);
	return 0;
}

/* The context, the Dockerfile (parsed), .dockerignore, the session
 * key: everything local, before anything is sent. */
static int
prepare(struct ctx *c, struct bstate *b, struct dockerfile *df)
{
	char **pos, real[PATH_MAX], hex[65];
	const char *dfpath = arg_str(c, "dockerfile");
	struct buf text = {0};
	struct stat st;
	char *path, *ign;
	int np, rc;

	pos = arg_pos(c, "CONTEXT", &np);
	b->ctxdir = xstrdup(np ? pos[0] : ".");
	if (stat(b->ctxdir, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    !realpath(b->ctxdir, real)) {
		seterr("build context '%s' is not a directory", b->ctxdir);
		return -1;
	}
	b->ctxreal = xstrdup(real);
	path = dfpath ? xstrdup(dfpath) : xasprintf("%s/Dockerfile", b->ctxdir);
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		seterr("Dockerfile '%s' is not a file", path);
		free(path);
		return -1;
	}
	rc = readfile(path, &text);
	if (rc == 0)
		rc = df_parse(text.p ? text.p : "", text.len, path, df);
	if (rc < 0 && geterrclass() != ERR_IO)
		errwrap("Dockerfile parse error");
	free(path);
	buf_free(&text);
	if (rc < 0)
		return -1;
	ign = xasprintf("%s/.dockerignore", b->ctxdir);
	if (access(ign, F_OK) == 0 && (rc = readfile(ign, &text)) == 0)
		ignore_parse(text.p ? text.p : "", text.len, &b->ig);
	free(ign);
	buf_free(&text);
	if (rc < 0)
		return -1;
	sha256_hex(real, strlen(real), hex);
	b->skey = xasprintf("build:%.16s", hex);
	return build_args(c, b);
}

static void
bstate_free(struct bstate *b)
{
	free(b->skey);
	free(b->ctxdir);
	free(b->ctxreal);
	ignore_free(&b->ig);
	upcache_free(&b->up);
	op_env_free(&b->bargs);
	free(b->used);
	op_env_free(&b->gargs);
	stage_free(b);
}

/* One row IMAGE TAG SESSION in the chosen format. */
static int
result_row(struct ctx *c, const struct bstate *b, const char *tag)
{
	struct row *r = row_new();

	row_str(r, "image", b->image);
	row_str(r, "tag", tag ? tag : "");
	row_str(r, "session", b->skey);
	return out_one(c->fmt, r);
}

int
cmd_build(struct ctx *c)
{
	static const struct dinstr commit = {DI_RUN, 0, "RUN", ":"};
	struct bstate b;
	struct dockerfile df = {0};
	const char *tag = arg_str(c, "tag");
	size_t i;
	int rc = -1;

	memset(&b, 0, sizeof b);
	b.c = c;
	b.nocache = arg_flag(c, "no-cache") > 0;
	b.timeout = arg_int(c, "timeout");
	b.workdir = xstrdup("/");
	if (prepare(c, &b, &df) < 0)
		goto out;
	if (!(b.a = ctx_api(c)) || !(b.st = ctx_store(c)))
		goto out;
	upcache_load(&b.up, c->home);
	b.nsteps = df.n;
	for (i = 0; i < df.n; i++) {
		b.step = i + 1;
		if (step(&b, &df.v[i]) < 0) {
			step_fail(&b, &df.v[i]);
			goto out;
		}
	}
	if (b.held.n || b.nuh) {        /* files copied after the last RUN */
		b.step = ++b.nsteps;
		if (do_run(&b, &commit) < 0) {
			step_fail(&b, &commit);
			goto out;
		}
	}
	for (i = 0; i < b.bargs.n; i++)
		if (!b.used[i])
			logmsg(LOG_WARNING, "--build-arg %s was not used by any ARG",
			    b.bargs.k[i]);
	if (tag && api_image_tag(b.a, b.image, tag) < 0) {
		errwrap("build failed: tagging %s as '%s'", b.image, tag);
		goto out;
	}
	rc = result_row(c, &b, tag);
out:
	if (rc < 0 && geterrclass() != ERR_INTR &&
	    strncmp(geterr(), "build failed", 12) != 0 &&
	    strncmp(geterr(), "Dockerfile", 10) != 0)
		errwrap("build failed");
	df_free(&df);
	bstate_free(&b);
	return rc;
}
