/* files.c - uploads (cli.md §7.10, §9.2.2, §9.2.3; api.md §6): the
 * SHA-256 of a file, the local upload cache, dedup against the server,
 * uploads, and the host-file walker of `run -F`.  Called by commands
 * and by long-lived processes: nothing here exits or keeps state
 * between calls. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bearssl.h>

#include "api.h"
#include "files.h"
#include "http.h"
#include "jobs.h"
#include "json.h"
#include "ops.h"
#include "prose.h"
#include "store.h"
#include "util.h"

#define UPLOAD_TTL (90LL * 86400)       /* upload cache lifetime, s */
#define HASHBUF    (1 << 18)
#define UPMAGIC    "contree-uploads 1\n"

static const char *const default_excludes[] = {
	".*", ".git", "*.pyc", "__pycache__", ".mypy_cache", ".pytest_cache",
	".venv", "node_modules", "dist", "build", NULL
};

/* ---- hashing ---- */

void
sha256_hex(const void *p, size_t n, char hex[65])
{
	br_sha256_context sc;
	unsigned char d[32];

	br_sha256_init(&sc);
	br_sha256_update(&sc, p, n);
	br_sha256_out(&sc, d);
	hexstr(hex, d, sizeof d);
}

int
sha256_fd(int fd, const char *name, char hex[65])
{
	br_sha256_context sc;
	unsigned char d[32];
	char *b = xmalloc(HASHBUF);
	ssize_t n;

	br_sha256_init(&sc);
	while ((n = read(fd, b, HASHBUF)) != 0) {
		if (n < 0) {
			if (errno == EINTR && !interrupted)
				continue;
			seterr("reading %s:", name);
			free(b);
			return -1;
		}
		br_sha256_update(&sc, b, (size_t)n);
	}
	free(b);
	br_sha256_out(&sc, d);
	hexstr(hex, d, sizeof d);
	return 0;
}

int
sha256_file(const char *path, char hex[65])
{
	int fd = open(path, O_RDONLY), rc;

	if (fd < 0) {
		seterr("cannot open %s:", path);
		return -1;
	}
	rc = sha256_fd(fd, path, hex);
	close(fd);
	return rc;
}

/* ---- the upload cache ---- */

static size_t
strhash(const char *s)
{
	size_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void
tab_add(struct upcache *u, size_t i)
{
	size_t h = strhash(u->e[i].path) & (u->tabn - 1);

	while (u->tab[h])
		h = (h + 1) & (u->tabn - 1);
	u->tab[h] = i + 1;
}

static void
rehash(struct upcache *u)
{
	size_t i;

	free(u->tab);
	u->tabn = 64;
	while (u->tabn < u->n * 2 + 2)
		u->tabn *= 2;
	u->tab = xcalloc(u->tabn, sizeof *u->tab);
	for (i = 0; i < u->n; i++)
		tab_add(u, i);
}

struct upent *
upcache_find(const struct upcache *u, const char *path)
{
	size_t h;

	if (!u->tabn)
		return NULL;
	for (h = strhash(path) & (u->tabn - 1); u->tab[h];
	    h = (h + 1) & (u->tabn - 1))
		if (strcmp(u->e[u->tab[h] - 1].path, path) == 0)
			return &u->e[u->tab[h] - 1];
	return NULL;
}

static long long
mtime_ns(const struct stat *st)
{
	return (long long)st->st_mtim.tv_sec * 1000000000LL +
	    st->st_mtim.tv_nsec;
}

struct upent *
upcache_match(const struct upcache *u, const char *path,
    const struct stat *st)
{
	struct upent *e = upcache_find(u, path);

	if (e && e->ino == (unsigned long long)st->st_ino &&
	    e->mtime_ns == mtime_ns(st) && e->size == (long long)st->st_size)
		return e;
	return NULL;
}

/* Add or replace by path; takes ownership of e->path. */
static void
put(struct upcache *u, const struct upent *e)
{
	struct upent *old = upcache_find(u, e->path);

	if (old) {
		free(old->path);
		*old = *e;
		return;
	}
	u->e = xreallocarray(u->e, u->n + 1, sizeof *u->e);
	u->e[u->n++] = *e;
	if (u->n * 2 + 2 > u->tabn)
		rehash(u);
	else
		tab_add(u, u->n - 1);
}

void
upcache_put(struct upcache *u, const struct upent *e)
{
	struct upent c = *e;

	c.path = xstrdup(e->path);
	c.mine = 1;
	put(u, &c);
}

const char *
upcache_source(const struct upcache *u, const char *uuid)
{
	size_t i;

	/* newest first: the same content may have come from several files */
	for (i = u->n; i-- > 0; )
		if (strcmp(u->e[i].uuid, uuid) == 0)
			return u->e[i].path;
	return NULL;
}

static char *
unescape(const char *s, size_t n)
{
	char *o = xmalloc(n + 1), *p = o;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			i++;
			*p++ = s[i] == 't' ? '\t' : s[i] == 'n' ? '\n' : s[i];
		} else {
			*p++ = s[i];
		}
	}
	*p = '\0';
	return o;
}

/* One line of the cache file (NUL-terminated, no LF) into e; 0 or -1. */
static int
parse_line(char *line, long long now, struct upent *e)
{
	char *f[7];
	int nf = 1;

	f[0] = line;
	for (char *p = line; *p && nf < 7; p++)
		if (*p == '\t') {
			*p = '\0';
			f[nf++] = p + 1;
		}
	if (nf != 7 || strlen(f[0]) != 36 || strlen(f[1]) != 64 || !*f[6])
		return -1;
	memset(e, 0, sizeof *e);
	memcpy(e->uuid, f[0], 37);
	memcpy(e->sha, f[1], 65);
	e->ino = strtoull(f[2], NULL, 10);
	e->mtime_ns = strtoll(f[3], NULL, 10);
	e->size = strtoll(f[4], NULL, 10);
	e->when = strtoll(f[5], NULL, 10);
	if (e->when > now || now - e->when >= UPLOAD_TTL)
		return -1;
	e->path = unescape(f[6], strlen(f[6]));
	return 0;
}

static void
load_file(struct upcache *u, const char *path)
{
	struct buf b = {0};
	char *line, *end, *nl;
	long long now = (long long)time(NULL);
	struct upent e;

	if (access(path, F_OK) == 0 && readfile(path, &b) < 0)
		logmsg(LOG_DEBUG, "upload cache: %s", geterr());
	line = b.p;
	end = b.p + b.len;
	if (b.len < strlen(UPMAGIC) || strncmp(b.p, UPMAGIC,
	    strlen(UPMAGIC)) != 0)
		line = end;     /* unknown format: start afresh */
	else
		line += strlen(UPMAGIC);
	for (; line < end && (nl = memchr(line, '\n', (size_t)(end - line)));
	    line = nl + 1) {
		*nl = '\0';
		if (parse_line(line, now, &e) == 0)
			put(u, &e);
	}
	if (!u->tab)
		rehash(u);
	buf_free(&b);
}

void
upcache_load(struct upcache *u, const char *home)
{
	memset(u, 0, sizeof *u);
	u->file = xasprintf("%s/cli/uploads", home);
	load_file(u, u->file);
}

static void
put_escaped(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_puts(b, "\\\\");
		else if (*s == '\t')
			buf_puts(b, "\\t");
		else if (*s == '\n')
			buf_puts(b, "\\n");
		else
			buf_addc(b, *s);
	}
}

int
upcache_save(const struct upcache *u)
{
	struct upcache disk;
	struct buf b = {0};
	char *dir, *slash;
	size_t i;
	int rc, mine = 0;

	for (i = 0; i < u->n; i++)
		mine |= u->e[i].mine;
	if (!mine || !u->file)
		return 0;
	memset(&disk, 0, sizeof disk);
	load_file(&disk, u->file);
	for (i = 0; i < u->n; i++)
		if (u->e[i].mine)
			upcache_put(&disk, &u->e[i]);
	buf_puts(&b, UPMAGIC);
	for (i = 0; i < disk.n; i++) {
		const struct upent *e = &disk.e[i];

		buf_printf(&b, "%s\t%s\t%llu\t%lld\t%lld\t%lld\t", e->uuid,
		    e->sha, e->ino, e->mtime_ns, e->size, e->when);
		put_escaped(&b, e->path);
		buf_addc(&b, '\n');
	}
	dir = xstrdup(u->file);
	if ((slash = strrchr(dir, '/')))
		*slash = '\0';
	mkdirs(dir, 0700);
	rc = writefile_cache(u->file, b.p, b.len);
	free(dir);
	buf_free(&b);
	upcache_free(&disk);
	return rc;
}

void
upcache_free(struct upcache *u)
{
	size_t i;

	for (i = 0; i < u->n; i++)
		free(u->e[i].path);
	free(u->e);
	free(u->tab);
	free(u->file);
	memset(u, 0, sizeof *u);
}

/* ---- uploads ---- */

/* ---- uploads in parallel ----
 *
 * files_upload works in two phases over the files the upload cache does
 * not know: hash (unless preset), then, once per distinct content, look
 * up and send.  A phase with enough work is split among up to
 * CONTREE_CONCURRENCY worker processes (jobs.c): each takes a share
 * balanced by bytes, works through it on one kept-alive connection of
 * its own and sends back one struct res per file; the parent fills in
 * the list and keeps the upload cache, so nothing is reported uploaded
 * that a worker did not confirm.  Processes rather than threads: tls.c
 * keeps one BearSSL engine per process and the error slot is per
 * process; rather than poll(2) over several connections: http.c and
 * tls.c are blocking, one exchange at a time.  A process costs a fork
 * and a connection (a TLS handshake), so small phases stay in the
 * parent on its connection. */

#define PAR_HASH_MIN  (8LL << 20)   /* bytes to hash before forking */
#define PAR_SEND_MIN  3             /* distinct contents before forking */

enum { PH_HASH, PH_SEND };

struct res {                    /* one file's outcome, parent or worker */
	size_t i;               /* index in the list */
	int cls;                /* 0: done; else the failure's class */
	int how;
	char sha[65], uuid[37];
	unsigned long long ino;
	long long mtime_ns, size;
	/* a failure's message follows in a worker's message */
};

struct share;

struct xfer {
	struct api *a;
	struct filelist *l;
	int phase;
	struct share *sh;
	int failed;             /* a file failed: */
	size_t failat;          /* the first in list order, */
	int failcls;            /* its error class */
	char *failmsg;          /* and message */
	int conc;               /* CONTREE_CONCURRENCY */
	int stopped;            /* the workers were told to stop */
	int stop[2];            /* its write end closed: workers stop
	                           between files */
};

struct share {
	struct xfer *x;
	size_t *idx, n;
	long long bytes;
	int reported;           /* a worker said why it failed */
};

/* f's content by hash on the server, else sent from fd. */
static int
lookup_or_send(struct api *a, int fd, off_t size, struct hostfile *f)
{
	const char *name = f->name ? f->name : f->host;
	struct buf body = {0};
	struct api_resp r;
	char *path = xasprintf("/files/%s", f->sha);
	int rc;

	memset(&r, 0, sizeof r);
	r.body = &body;
	rc = api_call(a, "GET", path, NULL, NULL, 0, &r);
	free(path);
	if (rc == 0) {
		f->how = UP_FOUND;
		if ((rc = api_reply_uuid(&body, "GET /files", f->uuid)) == 0)
			logmsg(LOG_INFO, "Reusing uploaded file %s for %s",
			    f->uuid, name);
	} else if (r.status == 404) {
		f->how = UP_SENT;
		buf_reset(&body);
		memset(&r, 0, sizeof r);
		r.body = &body;
		logmsg(LOG_DEBUG, "uploading %s (%lld bytes)", name,
		    (long long)size);
		if (lseek(fd, 0, SEEK_SET) < 0) {
			seterr("%s:", f->host);
			rc = -1;
		} else if ((rc = api_upload(a, fd, size, &r)) == 0) {
			rc = api_reply_uuid(&body, "POST /files", f->uuid);
		}
	}
	buf_free(&body);
	/* say which file, unless the message already does (local I/O) */
	if (rc < 0 && geterrclass() != ERR_INTR && geterrclass() != ERR_IO)
		errwrap("uploading %s", name);
	return rc;
}

/* One file of a phase: open it, hash it unless known, and in PH_SEND
 * look it up or send it.  r gets what was learnt.  0, or -1 (slot set). */
static int
work_one(struct api *a, int phase, struct hostfile *f, struct res *r)
{
	struct stat st;
	int fd, rc = 0;

	memset(r, 0, sizeof *r);
	if ((fd = open(f->host, O_RDONLY)) < 0 || fstat(fd, &st) < 0) {
		seterr("cannot open %s:", f->host);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!f->sha[0])
		rc = sha256_fd(fd, f->host, f->sha);
	if (rc == 0 && phase == PH_SEND)
		rc = lookup_or_send(a, fd, st.st_size, f);
	close(fd);
	if (rc < 0)
		return -1;
	memcpy(r->sha, f->sha, 65);
	memcpy(r->uuid, f->uuid, 37);
	r->how = f->how;
	r->ino = (unsigned long long)st.st_ino;
	r->mtime_ns = mtime_ns(&st);
	r->size = (long long)st.st_size;
	return 0;
}

/* In the parent: a file's result into the list. */
static void
apply(struct xfer *x, const struct res *r)
{
	struct hostfile *f = &x->l->f[r->i];

	memcpy(f->sha, r->sha, 65);
	f->st.st_ino = (ino_t)r->ino;
	f->st.st_mtim.tv_sec = (time_t)(r->mtime_ns / 1000000000LL);
	f->st.st_mtim.tv_nsec = (long)(r->mtime_ns % 1000000000LL);
	f->st.st_size = (off_t)r->size;
	if (x->phase == PH_SEND) {
		memcpy(f->uuid, r->uuid, 37);
		f->how = r->how;
	}
}

/* In the parent: file i failed with cls and msg.  The first failure in
 * list order is the one reported; an interruption we caused is not
 * one. */
static void
fail(struct xfer *x, size_t i, int cls, const char *msg)
{
	if (cls == ERR_INTR && (x->stopped || interrupted))
		return;
	if (x->failed && (x->failcls != ERR_INTR && i > x->failat))
		return;
	x->failed = 1;
	x->failat = i;
	x->failcls = cls;
	free(x->failmsg);
	x->failmsg = xstrdup(msg);
}

/* In a worker: 1 once the parent closed the stop pipe. */
static int
stopped(const struct xfer *x)
{
	struct pollfd p;

	p.fd = x->stop[0];
	p.events = POLLIN;
	return poll(&p, 1, 0) > 0;
}

/* A worker: its share, one result message per file; stops at the first
 * failure. */
static int
share_run(void *arg)
{
	struct share *s = arg;
	struct xfer *x = s->x;
	struct buf m = {0};
	struct res r;
	size_t k;
	int rc = 0;

	api_forget(x->a);
	close(x->stop[1]);      /* the parent's copy alone keeps it open */
	for (k = 0; k < s->n && rc == 0; k++) {
		if (stopped(x))
			break;
		if (interrupted) {
			seterrc(ERR_INTR, "User interrupted");
			rc = -1;
		} else {
			rc = work_one(x->a, x->phase, &x->l->f[s->idx[k]], &r);
		}
		if (rc < 0) {
			memset(&r, 0, sizeof r);
			r.cls = geterrclass() ? geterrclass() : ERR_OTHER;
		}
		r.i = s->idx[k];
		buf_reset(&m);
		buf_add(&m, &r, sizeof r);
		if (rc < 0)
			buf_puts(&m, geterr());
		if (job_send(m.p, m.len) < 0)
			rc = -1;
	}
	buf_free(&m);
	return rc < 0;
}

static void
on_msg(void *ctx, int id, const char *msg, size_t len)
{
	struct xfer *x = ctx;
	struct res r;

	if (len < sizeof r)
		return;
	memcpy(&r, msg, sizeof r);
	if (r.i >= x->l->n)
		return;
	if (r.cls) {
		x->sh[id].reported = 1;
		fail(x, r.i, r.cls, msg + sizeof r);
	} else {
		apply(x, &r);
	}
}

static void
on_end(void *ctx, int id, int status)
{
	struct xfer *x = ctx;
	struct share *s = &x->sh[id];

	if (status == 0 || s->reported || x->stopped || interrupted)
		return;
	if (status < 0)     /* not started: the slot says why */
		fail(x, s->idx[0], geterrclass(), geterr());
	else {
		char m[128];

		snprintf(m, sizeof m, "an upload worker ended with status %d",
		    status);
		fail(x, s->idx[0], ERR_OTHER, m);
	}
}

struct bysize {
	off_t size;
	size_t i;
};

static int
bysize(const void *a, const void *b)
{
	const struct bysize *x = a, *y = b;

	return x->size < y->size ? 1 : x->size > y->size ? -1 :
	    x->i < y->i ? -1 : x->i > y->i;
}

/* Split idx[0..n) among w shares, largest files first to the least
 * loaded share. */
static struct share *
split(struct xfer *x, const size_t *idx, size_t n, int w)
{
	struct share *sh = xcalloc((size_t)w, sizeof *sh);
	struct bysize *ord = xreallocarray(NULL, n, sizeof *ord);
	size_t k;
	int i, best;

	for (k = 0; k < n; k++) {
		ord[k].size = x->l->f[idx[k]].st.st_size;
		ord[k].i = idx[k];
	}
	if (n)
		qsort(ord, n, sizeof *ord, bysize);
	for (i = 0; i < w; i++) {
		sh[i].x = x;
		sh[i].idx = xreallocarray(NULL, n, sizeof *sh[i].idx);
	}
	for (k = 0; k < n; k++) {
		best = 0;
		for (i = 1; i < w; i++)
			if (sh[i].bytes < sh[best].bytes)
				best = i;
		sh[best].idx[sh[best].n++] = ord[k].i;
		/* a request costs something even for an empty file */
		sh[best].bytes += (long long)ord[k].size + 4096;
	}
	free(ord);
	return sh;
}

/* Run a phase over idx[0..n) in w workers; a failure sets x->failed. */
static void
run_workers(struct xfer *x, const size_t *idx, size_t n, int w)
{
	struct jobs *js;
	int i, nint = 0;

	if (pipe(x->stop) < 0) {
		seterr("pipe:");
		fail(x, idx[0], ERR_IO, geterr());
		return;
	}
	x->sh = split(x, idx, n, w);
	js = jobs_new(w, on_msg, on_end, x);
	for (i = 0; i < w; i++)
		jobs_add(js, i, share_run, &x->sh[i]);
	while (jobs_pending(js)) {
		/* bounded wait: a signal between the check and poll(2) must
		 * not leave us waiting for the workers to finish */
		jobs_step(js, -1, 250);
		/* after a failure the others end the file they are at (it
		 * is worth remembering); Ctrl-C stops them at once (from a
		 * terminal SIGINT reached them already) */
		if ((interrupted || x->failed) && !x->stopped) {
			x->stopped = 1;
			jobs_drop(js);
			close(x->stop[1]);
		}
		/* again at every step: a worker that took the signal just
		 * before its poll(2) sleeps until the next one; after 5 s
		 * (uploads are idempotent) no more waiting */
		if (interrupted)
			jobs_kill(js, -1, ++nint > 20 ? SIGKILL : SIGINT);
	}
	jobs_free(js);
	if (!x->stopped)
		close(x->stop[1]);
	close(x->stop[0]);
	for (i = 0; i < w; i++)
		free(x->sh[i].idx);
	free(x->sh);
	x->sh = NULL;
}

/* One phase over idx[0..n): in workers when worth it, else here. */
static void
run_phase(struct xfer *x, int phase, const size_t *idx, size_t n,
    int par)
{
	struct res r;
	size_t k;
	int w = x->conc;

	x->phase = phase;
	if ((size_t)w > n)
		w = (int)n;
	if (par && w >= 2) {
		run_workers(x, idx, n, w);
		return;
	}
	for (k = 0; k < n && !x->failed; k++) {
		if (interrupted) {
			fail(x, idx[k], ERR_INTR, "User interrupted");
			break;
		}
		if (work_one(x->a, phase, &x->l->f[idx[k]], &r) < 0) {
			fail(x, idx[k], geterrclass() ? geterrclass() :
			    ERR_OTHER, geterr());
			break;
		}
		r.i = idx[k];
		apply(x, &r);
	}
}

/* Remember in u what was learnt about f. */
static void
remember(struct upcache *u, const struct hostfile *f, long long now)
{
	struct upent ne;

	memset(&ne, 0, sizeof ne);
	ne.path = f->abs;
	ne.ino = (unsigned long long)f->st.st_ino;
	ne.mtime_ns = mtime_ns(&f->st);
	ne.size = (long long)f->st.st_size;
	ne.when = now;
	memcpy(ne.uuid, f->uuid, 37);
	memcpy(ne.sha, f->sha, 65);
	upcache_put(u, &ne);
}

/* Save the cache without losing the message of a failed upload. */
static void
save_keeping_error(struct upcache *u, int failed)
{
	char *msg = failed ? xstrdup(geterr()) : NULL;
	int cls = geterrclass();

	if (upcache_save(u) < 0)
		logmsg(LOG_DEBUG, "upload cache: %s", geterr());
	if (msg) {
		seterrc(cls, "%s", msg);
		free(msg);
	}
}

/* The files of l the cache u does not answer for (u may be NULL) into
 * todo; *hashbytes: the bytes still to hash. */
static size_t
from_cache(struct upcache *u, struct filelist *l, size_t *todo,
    long long *hashbytes)
{
	struct upent *e;
	size_t i, n = 0;

	*hashbytes = 0;
	for (i = 0; i < l->n; i++) {
		struct hostfile *f = &l->f[i];

		if (u && (e = upcache_match(u, f->abs, &f->st))) {
			memcpy(f->uuid, e->uuid, 37);
			memcpy(f->sha, e->sha, 65);
			f->how = UP_CACHED;
			logmsg(LOG_DEBUG, "upload cache: %s is %s", f->host,
			    f->uuid);
			continue;
		}
		if (!f->sha[0])
			*hashbytes += (long long)f->st.st_size;
		todo[n++] = i;
	}
	return n;
}

struct bysha {
	const char *sha;
	size_t i;
};

static int
bysha(const void *a, const void *b)
{
	const struct bysha *x = a, *y = b;
	int c = strcmp(x->sha, y->sha);

	return c ? c : x->i < y->i ? -1 : x->i > y->i;
}

/* Of todo[0..n) (all hashed), the first file of each content into uniq
 * (in list order); first[i]: for file i of l in todo, the file whose
 * upload it shares.  The number of distinct contents. */
static size_t
distinct(struct filelist *l, const size_t *todo, size_t n, size_t *uniq,
    size_t *first)
{
	struct bysha *o = xreallocarray(NULL, n ? n : 1, sizeof *o);
	size_t k, m = 0;

	for (k = 0; k < n; k++) {
		o[k].sha = l->f[todo[k]].sha;
		o[k].i = todo[k];
	}
	if (n)
		qsort(o, n, sizeof *o, bysha);
	for (k = 0; k < n; k++)
		first[o[k].i] = k && strcmp(o[k].sha, o[k - 1].sha) == 0 ?
		    first[o[k - 1].i] : o[k].i;
	for (k = 0; k < n; k++)
		if (first[todo[k]] == todo[k])
			uniq[m++] = todo[k];
	free(o);
	return m;
}

int
files_upload(struct api *a, const char *home, struct filelist *l)
{
	struct upcache u;
	struct xfer x;
	size_t *todo, *uniq, *first, n, m, k;
	long long hashbytes, now = (long long)time(NULL);

	if (!l->n)
		return 0;
	if (home)
		upcache_load(&u, home);
	memset(&x, 0, sizeof x);
	x.a = a;
	x.l = l;
	x.conc = jobs_concurrency();
	todo = xreallocarray(NULL, l->n, sizeof *todo);
	uniq = xreallocarray(NULL, l->n, sizeof *uniq);
	first = xreallocarray(NULL, l->n, sizeof *first);
	n = from_cache(home ? &u : NULL, l, todo, &hashbytes);
	run_phase(&x, PH_HASH, todo, n, hashbytes >= PAR_HASH_MIN);
	m = x.failed ? 0 : distinct(l, todo, n, uniq, first);
	if (m)
		run_phase(&x, PH_SEND, uniq, m, m >= PAR_SEND_MIN);
	for (k = 0; k < n && !x.failed; k++) {
		struct hostfile *f = &l->f[todo[k]];
		size_t o = first[todo[k]];

		if (o != todo[k]) {     /* the same content as file o */
			memcpy(f->uuid, l->f[o].uuid, 37);
			f->how = UP_FOUND;
			logmsg(LOG_DEBUG, "%s has the content of %s", f->host,
			    l->f[o].host);
		}
	}
	/* what was uploaded is worth remembering, also after a failure;
	 * only what a worker confirmed has a uuid */
	for (k = 0; home && k < n; k++)
		if (l->f[todo[k]].uuid[0])
			remember(&u, &l->f[todo[k]], now);
	if (x.failed || interrupted) {
		if (interrupted)
			seterrc(ERR_INTR, "User interrupted");
		else
			seterrc(x.failcls, "%s", x.failmsg);
	}
	if (home) {
		save_keeping_error(&u, x.failed || interrupted);
		upcache_free(&u);
	}
	free(x.failmsg);
	free(todo);
	free(uniq);
	free(first);
	return x.failed || interrupted ? -1 : 0;
}

/* ---- host files ---- */

static char *
join(const char *a, const char *b)
{
	size_t n = strlen(a);

	if (n && a[n - 1] == '/')
		return xasprintf("%s%s", a, b);
	return xasprintf("%s/%s", a, b);
}

/* host joined to the working directory unless absolute, without "."
 * segments and repeated '/' (".." stays: a symlink may come before it);
 * NULL with the slot set. */
static char *
abspath(const char *host)
{
	char cwd[4096], *s, *r, *w;

	if (host[0] == '/')
		s = xstrdup(host);
	else if (getcwd(cwd, sizeof cwd))
		s = join(cwd, host);
	else {
		seterr("cannot get the current directory:");
		return NULL;
	}
	for (r = w = s; *r; ) {
		if (r[0] == '/' && (r[1] == '/' || (r[1] == '.' &&
		    (r[2] == '/' || !r[2])))) {
			r += r[1] == '/' ? 1 : 2;
			continue;
		}
		*w++ = *r++;
	}
	if (w == s)
		*w++ = '/';
	*w = '\0';
	return s;
}

static void
add_file(struct filelist *l, const struct spec *s, const char *host,
    const char *abs, const char *dest, const struct stat *st)
{
	struct hostfile *f;

	l->f = xreallocarray(l->f, l->n + 1, sizeof *l->f);
	f = &l->f[l->n++];
	memset(f, 0, sizeof *f);
	f->host = xstrdup(host);
	f->abs = xstrdup(abs);
	f->dest = xstrdup(dest);
	f->uid = s && s->has_uid ? s->uid : (long long)st->st_uid;
	f->gid = s && s->has_gid ? s->gid : (long long)st->st_gid;
	f->mode = s && s->has_mode ? s->mode :
	    (unsigned)(st->st_mode & 07777);
	f->st = *st;
}

int
files_add(struct filelist *l, const char *host, const char *dest)
{
	struct stat st;
	char *abs;

	if (stat(host, &st) < 0) {
		seterr("%s:", host);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		seterr("%s: not a regular file", host);
		return -1;
	}
	if (access(host, R_OK) < 0) {
		seterr("cannot read %s:", host);
		return -1;
	}
	if (!(abs = abspath(host)))
		return -1;
	add_file(l, NULL, host, abs, dest, &st);
	free(abs);
	return 0;
}

void
files_free(struct filelist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->f[i].host);
		free(l->f[i].abs);
		free(l->f[i].dest);
	}
	free(l->f);
	l->f = NULL;
	l->n = 0;
}

/* ---- --file specifications ---- */

static int
parse_id(const char *field, const char *v, int user, long long *out)
{
	struct passwd *pw;
	struct group *gr;

	if (!*v) {
		seterr("invalid --file field '%s': empty %s", field,
		    user ? "uid" : "gid");
		return -1;
	}
	if (parse_ll(v, 0, 4294967295LL, out, "id") == 0)
		return 0;
	if (user && (pw = getpwnam(v))) {
		*out = pw->pw_uid;
		return 0;
	}
	if (!user && (gr = getgrnam(v))) {
		*out = gr->gr_gid;
		return 0;
	}
	logmsg(LOG_WARNING, "Unknown %s '%s' in --file; using 0",
	    user ? "user" : "group", v);
	*out = 0;
	return 0;
}

/* decided (cli.md §9.2.2): a mode that is not octal is an error, not a
 * silent 0 */
static int
parse_mode(const char *text, const char *v, unsigned *mode)
{
	char *end;
	unsigned long m;

	errno = 0;
	m = strtoul(v, &end, 8);
	if (!*v || *end || errno || m > 07777 ||
	    !isdigit((unsigned char)*v)) {
		seterr(prose(P_FILE_MODE),
		    text, v);
		return -1;
	}
	*mode = (unsigned)m;
	return 0;
}

static int
parse_field(const char *text, char *p, struct spec *s)
{
	if (p[0] == '/') {
		if (s->dest) {
			seterr(prose(P_FILES_INVALID_FILE),
			    text);
			return -1;
		}
		s->dest = xstrdup(p);
	} else if (p[0] == 'u') {
		if (parse_id(p, p + 1, 1, &s->uid) < 0)
			return -1;
		s->has_uid = 1;
	} else if (p[0] == 'g') {
		if (parse_id(p, p + 1, 0, &s->gid) < 0)
			return -1;
		s->has_gid = 1;
	} else if (p[0] == 'm') {
		if (parse_mode(text, p + 1, &s->mode) < 0)
			return -1;
		s->has_mode = 1;
	} else {
		seterr(prose(P_FILE_FIELD),
		    text, p);
		return -1;
	}
	return 0;
}

int
parse_spec(const char *text, struct spec *s)
{
	char *copy = xstrdup(text), *p, *next;

	memset(s, 0, sizeof *s);
	next = strchr(copy, ':');
	if (next)
		*next++ = '\0';
	if (!*copy) {
		seterr("invalid --file '%s': no host path", text);
		goto fail;
	}
	s->host = xstrdup(copy);
	for (p = next; p; p = next) {
		next = strchr(p, ':');
		if (next)
			*next++ = '\0';
		if (parse_field(text, p, s) < 0)
			goto fail;
	}
	free(copy);
	return 0;
fail:
	free(copy);
	free(s->host);
	free(s->dest);
	s->host = s->dest = NULL;
	return -1;
}

int
excluded(const char *rel, const char *name, char *const *pats, int npats)
{
	int i;

	for (i = 0; default_excludes[i]; i++)
		if (globmatch(default_excludes[i], name) ||
		    globmatch(default_excludes[i], rel))
			return 1;
	for (i = 0; i < npats; i++)
		if (globmatch(pats[i], name) ||
		    globmatch(pats[i], rel))
			return 1;
	return 0;
}

struct walk {
	struct filelist *l;
	const struct spec *s;
	char *const *pats;
	int npats;
};

/* One directory entry h (a for the cache, d in the sandbox, r relative
 * to the spec's directory). */
static int
walk_entry(const struct walk *w, const char *h, const char *a,
    const char *d, const char *r);

static int
walk(const struct walk *w, const char *host, const char *abs,
    const char *dest, const char *rel)
{
	struct dirent **ents;
	int n, i, rc = 0;

	if ((n = scandir(host, &ents, NULL, alphasort)) < 0) {
		seterr("cannot read directory %s:", host);
		return -1;
	}
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char *h, *a, *d, *r;

		if (rc < 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		r = *rel ? join(rel, name) : xstrdup(name);
		if (!excluded(r, name, w->pats, w->npats)) {
			h = join(host, name);
			a = join(abs, name);
			d = join(dest, name);
			rc = walk_entry(w, h, a, d, r);
			free(h);
			free(a);
			free(d);
		}
		free(r);
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return rc;
}

static int
walk_entry(const struct walk *w, const char *h, const char *a,
    const char *d, const char *r)
{
	struct stat st;

	if (lstat(h, &st) < 0) {
		seterr("cannot access %s:", h);
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return walk(w, h, a, d, r);
	/* symbolic links to regular files count as files; links to
	 * directories are not followed */
	if (S_ISLNK(st.st_mode) && stat(h, &st) < 0)
		st.st_mode = 0;
	if (!S_ISREG(st.st_mode))
		return 0;
	if (access(h, R_OK) < 0) {
		seterr("cannot read %s:", h);
		return -1;
	}
	add_file(w->l, w->s, h, a, d, &st);
	return 0;
}

/* One parsed spec (dest set) into l. */
static int
collect_one(const char *text, const struct spec *s, char *const *pats,
    int npats, struct filelist *l)
{
	struct walk w;
	struct stat st;
	char *abs;
	int rc = 0;

	if (!(abs = abspath(s->host)))
		return -1;
	w.l = l;
	w.s = s;
	w.pats = pats;
	w.npats = npats;
	if (stat(s->host, &st) < 0) {
		seterr("--file %s: cannot access %s:", text, s->host);
		rc = -1;
	} else if (S_ISREG(st.st_mode)) {
		if (access(s->host, R_OK) < 0) {
			seterr("--file %s: cannot read %s:", text, s->host);
			rc = -1;
		} else {
			add_file(l, s, s->host, abs, s->dest, &st);
		}
	} else if (S_ISDIR(st.st_mode)) {
		rc = walk(&w, s->host, abs, s->dest, "");
	} else {
		seterr(prose(P_FILES_FILE_NEITHER),
		    text, s->host);
		rc = -1;
	}
	free(abs);
	return rc;
}

int
files_collect(char *const *specs, int nspecs, char *const *pats,
    int npats, struct filelist *l)
{
	int i, rc = 0;

	for (i = 0; i < nspecs && rc == 0; i++) {
		struct spec s;

		if (parse_spec(specs[i], &s) < 0)
			return -1;
		if (!s.dest)
			s.dest = xstrdup(s.host);   /* as written (cli.md, keep) */
		rc = collect_one(specs[i], &s, pats, npats, l);
		free(s.host);
		free(s.dest);
	}
	return rc;
}

/* ---- a URL streamed into an upload ---- */

#define URL_REDIRECTS 5

static void
copy_hdr(char *dst, size_t n, const struct http_resp *r, const char *name)
{
	const char *v = http_hdr(r, name);

	snprintf(dst, n, "%s", v ? v : "");
}

/* The child's half: the rest of the body into fd; exit 0 when all of
 * it went through. */
static void
pump(struct http *h, int fd)
{
	char b[1 << 16];
	ssize_t n;

	while ((n = http_read(h, b, sizeof b)) > 0)
		if (writeall(fd, b, (size_t)n) < 0)
			_exit(2);
	_exit(n == 0 ? 0 : 1);
}

/* Upload what h has still to read through a pipe; 0 or -1. */
static int
stream_upload(struct api *a, struct http *h, const char *url,
    struct urlfetch *f)
{
	struct buf body = {0};
	struct api_resp r;
	struct json j;
	int p[2], st = 0, rc;
	pid_t pid;

	if (pipe(p) < 0) {
		seterr("pipe:");
		return -1;
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		seterr("fork:");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		pump(h, p[1]);
	}
	close(p[1]);
	http_forget(h);         /* the child owns the connection now */
	memset(&r, 0, sizeof r);
	r.body = &body;
	rc = api_upload(a, p[0], -1, &r);
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (rc == 0 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
		seterr("fetching %s: the download broke off", url);
		rc = -1;
	}
	if (rc == 0)
		rc = api_reply_uuid(&body, "POST /files", f->uuid);
	f->sha[0] = '\0';
	if (rc == 0 && json_parse_alloc(&j, body.p, body.len) == 0) {
		char *sha = json_getstr(&j, 0, "sha256");

		if (sha && strlen(sha) == 64)
			memcpy(f->sha, sha, 65);
		free(sha);
		json_free(&j);
	}
	buf_free(&body);
	return rc;
}

int
files_upload_url(struct api *a, const char *url, long long timeout_s,
    struct urlfetch *f)
{
	char *cur = xstrdup(url);
	int hop, rc = -1;

	for (hop = 0; hop <= URL_REDIRECTS; hop++) {
		const struct http_resp *rs;
		struct http_req rq;
		struct buf hdrs = {0}, target = {0};
		struct http *h;
		struct url u;
		const char *q, *loc;

		if (url_parse(cur, &u) < 0 || !(h = http_new(&u)))
			break;
		http_deadline(h, now_ms() + timeout_s * 1000);
		/* the origin-form target: path and query of the URL */
		q = strstr(cur, "://");
		q = q ? strchr(q + 3, '/') : NULL;
		buf_puts(&target, q ? q : "/");
		if (strchr(target.p, '#'))
			*strchr(target.p, '#') = '\0';
		if (f->etag[0])
			buf_printf(&hdrs, "If-None-Match: %s\r\n", f->etag);
		if (f->lastmod[0])
			buf_printf(&hdrs, "If-Modified-Since: %s\r\n", f->lastmod);
		memset(&rq, 0, sizeof rq);
		rq.method = "GET";
		rq.target = target.p;
		rq.headers = hdrs.p;
		rq.fd = -1;
		rs = http_send(h, &rq) == 0 ? http_recv(h, 0) : NULL;
		buf_free(&hdrs);
		buf_free(&target);
		if (!rs) {
			errwrap("fetching %s", cur);
		} else if (rs->status == 304) {
			rc = 1;
		} else if (rs->status / 100 == 3 && rs->status != 304 &&
		    (loc = http_hdr(rs, "Location"))) {
			char *next;

			if (strstr(loc, "://"))
				next = xstrdup(loc);
			else if (loc[0] == '/')
				next = xasprintf("%s://%s:%s%s", u.tls ? "https" :
				    "http", u.host, u.port, loc);
			else
				next = NULL;
			http_free(h);
			free(cur);
			if (!next) {
				seterr("fetching %s: unsupported redirect to '%s'",
				    url, loc);
				return -1;
			}
			cur = next;
			continue;
		} else if (rs->status != 200) {
			seterr("fetching %s: HTTP %d %s", cur, rs->status,
			    rs->reason ? rs->reason : "");
		} else {
			copy_hdr(f->etag, sizeof f->etag, rs, "ETag");
			copy_hdr(f->lastmod, sizeof f->lastmod, rs,
			    "Last-Modified");
			rc = stream_upload(a, h, cur, f) < 0 ? -1 : 0;
		}
		http_free(h);
		free(cur);
		return rc;
	}
	if (hop > URL_REDIRECTS)
		seterr("fetching %s: more than %d redirects", url,
		    URL_REDIRECTS);
	free(cur);
	return -1;
}

/* ---- download destinations ---- */

/* DEST for writing: a temporary file beside it (*tmp), renamed into
 * place when complete; but a device, FIFO or symlink (cp X /dev/stdout)
 * is written through, as "created or truncated" says: never replaced.
 * -1 with the slot set. */
int
dest_open(const char *dest, char **tmp)
{
	struct stat sb;
	mode_t um;
	int fd;

	*tmp = NULL;
	if (lstat(dest, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		fd = open(dest, O_WRONLY | O_TRUNC | O_CREAT, 0666);
	} else {
		*tmp = xasprintf("%s.contree-XXXXXX", dest);
		if ((fd = mkstemp(*tmp)) >= 0) {
			um = umask(0);
			umask(um);
			fchmod(fd, 0666 & ~um);
		}
	}
	if (fd < 0) {
		seterr("%s:", dest);
		free(*tmp);
		*tmp = NULL;
	}
	return fd;
}

/* End the download that returned rc: sync, close and rename into place,
 * or remove the partial file.  *size: the size written, when known.
 * 0 or -1 with the slot set, naming DEST for local errors. */
int
dest_close(int fd, const char *tmp, const char *dest, int rc, off_t *size)
{
	struct stat sb;

	if (rc < 0 && geterrclass() == ERR_IO)
		errwrap("writing %s", dest);    /* a full disk, say */
	if (rc == 0 && ((tmp && fsync(fd) < 0) || fstat(fd, &sb) < 0)) {
		seterr("%s:", dest);
		rc = -1;
	}
	if (close(fd) < 0 && rc == 0) {
		seterr("%s:", dest);
		rc = -1;
	}
	if (rc == 0 && interrupted)
		rc = -1;
	if (rc < 0 && interrupted)
		seterrc(ERR_INTR, "User interrupted");
	if (rc == 0 && tmp && rename(tmp, dest) < 0) {
		seterr("%s:", dest);
		rc = -1;
	}
	if (rc < 0 && tmp)
		unlink(tmp);
	if (rc == 0 && tmp)
		*size = sb.st_size;
	return rc;
}

/* ---- what a run attaches ---- */

struct op_file *
files_merge(const struct store_file *pend, size_t npend,
    const struct filelist *l, size_t *n)
{
	struct op_file *f = xcalloc(npend + l->n + 1, sizeof *f), e;
	size_t i, k, m = 0;

	for (i = 0; i < npend + l->n; i++) {
		if (i < npend) {
			e.dest = pend[i].path;
			e.uuid = pend[i].uuid;
			e.uid = pend[i].uid;
			e.gid = pend[i].gid;
			e.mode = pend[i].mode;
		} else {
			const struct hostfile *h = &l->f[i - npend];

			e.dest = h->dest;
			e.uuid = h->uuid;
			e.uid = h->uid;
			e.gid = h->gid;
			e.mode = h->mode;
		}
		for (k = 0; k < m && strcmp(f[k].dest, e.dest) != 0; k++)
			;
		f[k] = e;
		m += k == m;
	}
	*n = m;
	return f;
}
