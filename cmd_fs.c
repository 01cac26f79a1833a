/* cmd_fs.c - read the session's image without a sandbox: ls, cat, cp;
 * and the list of uploaded files (file ls). */
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
#include "files.h"
#include "json.h"
#include "out.h"
#include "prose.h"
#include "store.h"
#include "util.h"

/* The session's tip and the argument resolved against its working
 * directory.  0, 1 (no session: message printed), -1. */
static int
session_path(struct ctx *c, const char *arg, char image[37], char **path)
{
	struct store *st = ctx_store(c);
	const struct store_entry *tip;

	if (!st)
		return -1;
	if (!(tip = store_tip(st, c->session))) {
		no_session();
		return 1;
	}
	memcpy(image, tip->image, 37);
	*path = join_path(store_cwd(st, c->session), arg ? arg : ".");
	return 0;
}

/* A 404 or 422 of the inspect API as the user asked it: "cat: /root/x:
 * not found in image 1d98a3b2..." (the server's words kept for others). */
static void
notfound(struct ctx *c, const char *path, const char *image, int status,
    int wantdir)
{
	const char *cmd = c->path && strncmp(c->path, "contree ", 8) == 0 ?
	    c->path + 8 : "contree";

	/* 422: a file where ls wants a directory, a directory (or other)
	 * where cat and cp want a file */
	if (status == 404 || status == 422)
		seterrc(ERR_API, "%s: %s: not %s in image %.8s...", cmd, path,
		    status == 404 ? "found" : wantdir ? "a directory" :
		    "a regular file", image);
}

/* GET list or file of path in image (api_inspect_get), through the
 * cache in CONTREE_HOME/cli/inspect unless text.  0 or -1 (slot set). */
static int
inspect_get(struct ctx *c, const char *image, const char *what,
    const char *path, int text, struct buf *body)
{
	char *dir = xasprintf("%s/cli/inspect", c->home);
	int rc, status;

	rc = api_inspect_get(ctx_api(c), dir, image, what, path, text, body,
	    &status);
	if (rc < 0)
		notfound(c, path, image, status, !strcmp(what, "list"));
	free(dir);
	return rc;
}

static int
row_entry(struct out *o, const struct json *j, int t)
{
	static const char *const names[] = {"owner", "uid", "group", "gid"};
	struct row *r = row_new();
	int dir = json_get(j, t, "is_dir"), lnk = json_get(j, t, "is_symlink");
	int k, v;
	int64_t id;

	row_json(r, j, t);
	/* empty owner/group: the numeric ids */
	for (k = 0; k < 4; k += 2) {
		v = json_get(j, t, names[k]);
		if ((v < 0 || (j->tok[v].type == JSON_STRING &&
		    j->tok[v].len == 0) || j->tok[v].type == JSON_NULL) &&
		    (v = json_get(j, t, names[k + 1])) >= 0 &&
		    json_int64(j, v, &id) == 0)
			row_int(r, names[k], id);
	}
	row_str(r, "type", dir >= 0 && json_bool(j, dir) == 1 ? "d" :
	    lnk >= 0 && json_bool(j, lnk) == 1 ? "l" : "-");
	out_row(o, r);
	return 0;
}

int
cmd_ls(struct ctx *c)
{
	struct buf body = {0};
	char image[37], *path = NULL;
	char **p;
	int n, rc;

	p = arg_pos(c, "PATH", &n);
	if ((rc = session_path(c, n ? p[0] : NULL, image, &path)) != 0)
		return rc;
	rc = inspect_get(c, image, "list", path, c->fmt == FMT_DEFAULT, &body);
	if (rc == 0 && c->fmt == FMT_DEFAULT) {
		/* the server's own ls-style text, unchanged */
		if (body.len && writeall(1, body.p, body.len) < 0 &&
		    errno != EPIPE) {
			seterr("standard output:");
			rc = -1;
		}
	} else if (rc == 0) {
		static const char *const tail[] = {"type", NULL};
		struct json j;
		struct out *o;
		int files, t;

		if (json_parse_alloc(&j, body.p ? body.p : "", body.len) < 0 ||
		    (files = json_get(&j, 0, "files")) < 0 ||
		    j.tok[files].type != JSON_ARRAY) {
			seterr("malformed reply to GET /inspect/%s/list", image);
			json_free(&j);
			rc = -1;
		} else {
			o = out_new(c->fmt, 1);
			out_pin(o, NULL, tail);
			for (t = json_first(&j, files); t >= 0;
			    t = json_after(&j, t))
				row_entry(o, &j, t);
			rc = out_end(o);
			json_free(&j);
		}
	}
	free(path);
	buf_free(&body);
	return rc < 0 ? -1 : 0;
}

/* cat streams the file to stdout: memory does not grow with it.  On a
 * terminal the first CAT_PEEK bytes are held back until they are known
 * to be text (a binary file is refused before a byte is written). */
#define CAT_PEEK (64 << 10)

struct catout {
	const char *path;
	int tty, checked, epipe;
	struct buf head;        /* held back on a terminal */
	off_t written;
};

static int
cat_write(struct catout *o, const char *p, size_t n)
{
	if (n && writeall(1, p, n) < 0) {
		o->epipe = errno == EPIPE;
		seterr("standard output:");
		return -1;
	}
	o->written += (off_t)n;
	return 0;
}

/* The held-back first block: checked, then written.  more: the file
 * goes on after it. */
static int
cat_release(struct catout *o, int more)
{
	int rc;

	o->checked = 1;
	if (!utf8_valid(o->head.p, o->head.len, more)) {
		seterr(prose(P_FS_BINARY),
		    o->path);
		rc = -1;
	} else {
		rc = cat_write(o, o->head.p, o->head.len);
	}
	buf_free(&o->head);
	return rc;
}

static int
cat_sink(void *arg, const char *p, size_t n, off_t total)
{
	struct catout *o = arg;

	(void)total;
	if (!p) {               /* a retry from the start */
		buf_reset(&o->head);
		return o->written ? -1 : 0;
	}
	if (o->tty && !o->checked) {
		buf_add(&o->head, p, n);
		return o->head.len < CAT_PEEK ? 0 : cat_release(o, 1);
	}
	return cat_write(o, p, n);
}

int
cmd_cat(struct ctx *c)
{
	struct catout o;
	char image[37], *path = NULL, *dir;
	char **p;
	int n, rc, status;

	if (c->fmt != FMT_DEFAULT)
		logmsg(LOG_WARNING, "--format is ignored by %s", "cat");
	p = arg_pos(c, "PATH", &n);
	if ((rc = session_path(c, p[0], image, &path)) != 0)
		return rc;
	memset(&o, 0, sizeof o);
	o.path = path;
	o.tty = isatty(1);
	dir = xasprintf("%s/cli/inspect", c->home);
	rc = api_inspect_stream(ctx_api(c), dir, image, path, cat_sink, &o,
	    &status);
	if (rc < 0)
		notfound(c, path, image, status, 0);
	if (rc == 0 && o.tty && !o.checked)
		rc = cat_release(&o, 0);
	if (rc < 0 && o.epipe) {
		clearerr_slot();        /* a closed pipe ends cat quietly */
		rc = 0;
	}
	buf_free(&o.head);
	free(dir);
	free(path);
	return rc < 0 ? -1 : 0;
}

static void
human(char *out, size_t n, double v)
{
	static const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(out, n, "%.1f %s", v, u[i]);
}

static void
dur(char *out, size_t n, long long s)
{
	if (s < 60)
		snprintf(out, n, "%llds", s);
	else if (s < 3600)
		snprintf(out, n, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(out, n, "%lldh%02lldm%02llds", s / 3600, s / 60 % 60,
		    s % 60);
}

struct progress {
	int64_t start, last;
	off_t done;
};

static void
cp_progress(void *arg, off_t done, off_t total)
{
	struct progress *pg = arg;
	int64_t now = now_ms();
	double secs = (double)(now - pg->start) / 1000.0, speed;
	char a[32], b[32], e[32];

	pg->done = done;
	if (now - pg->last < 5000)
		return;
	pg->last = now;
	speed = secs > 0 ? (double)done / secs : 0;
	human(a, sizeof a, (double)done);
	human(b, sizeof b, speed);
	if (total > 0 && speed > 0) {
		dur(e, sizeof e, (long long)((double)(total - done) / speed));
		logmsg(LOG_INFO, "%s downloaded | %d%% | ETA %s | %s/s", a,
		    (int)(done * 100 / total), e, b);
	} else {
		logmsg(LOG_INFO, "%s downloaded | %s/s", a, b);
	}
}

int
cmd_cp(struct ctx *c)
{
	struct api *a;
	struct api_resp r;
	struct progress pg;
	struct stat sb;
	char image[37], *path = NULL, *url, *tmp, sz[32], sp[32];
	const char *dest, *q[3];
	char **p;
	int n, rc, fd;
	off_t size;
	double secs;

	if (c->fmt != FMT_DEFAULT)
		logmsg(LOG_WARNING, "--format is ignored by %s", "cp");
	p = arg_pos(c, "PATH", &n);
	dest = arg_pos(c, "DEST", &n)[0];
	if (stat(dest, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		seterr("%s is a directory; name the file to write", dest);
		return -1;
	}
	if ((rc = session_path(c, p[0], image, &path)) != 0)
		return rc;
	if (!(a = ctx_api(c))) {
		free(path);
		return -1;
	}
	if ((fd = dest_open(dest, &tmp)) < 0) {
		free(path);
		return -1;
	}
	url = xasprintf("/inspect/%s/download", image);
	q[0] = "path";
	q[1] = path;
	q[2] = NULL;
	memset(&r, 0, sizeof r);
	pg.start = pg.last = now_ms();
	pg.done = 0;
	rc = api_download(a, url, q, fd, cp_progress, &pg, &r);
	if (rc < 0)
		notfound(c, path, image, r.status, 0);
	size = pg.done;
	rc = dest_close(fd, tmp, dest, rc, &size);
	if (rc == 0) {
		secs = (double)(now_ms() - pg.start) / 1000.0;
		human(sz, sizeof sz, (double)size);
		human(sp, sizeof sp, secs > 0 ? (double)size / secs :
		    (double)size);
		logmsg(LOG_INFO, "Downloaded %s to %s (%s/s)", sz, dest, sp);
	}
	free(tmp);
	free(url);
	free(path);
	return rc < 0 ? -1 : 0;
}

/* ---- file ls ---- */

struct filels {
	struct out *o;
	int quiet;
	struct upcache up;      /* for the source column */
};

static int
file_row(void *arg, const struct json *j, int t)
{
	struct filels *f = arg;
	struct row *r = row_new();
	char *uuid = json_getstr(j, t, "uuid");
	const char *src = uuid ? upcache_source(&f->up, uuid) : NULL;

	if (f->quiet) {
		char *s = json_getstr(j, t, "sha256");

		row_str(r, "uuid", uuid ? uuid : "");
		row_str(r, "sha256", s ? s : "");
		free(s);
	} else {
		row_json(r, j, t);
	}
	free(uuid);
	row_str(r, "source", src ? src : "");
	out_row(f->o, r);
	return 0;
}

static void
file_batch(void *arg)
{
	out_batch(((struct filels *)arg)->o);
}

int
cmd_file_ls(struct ctx *c)
{
	struct filels f;
	char since[32] = "", until[32] = "";
	const char *q[8];
	long long limit = arg_int(c, "limit");
	int nq = 0, more, rc, re;

	if (arg_when_iso(c, "since", since, sizeof since) < 0 ||
	    arg_when_iso(c, "until", until, sizeof until) < 0)
		return EXIT_USAGE;
	if (*since) {
		q[nq++] = "since";
		q[nq++] = since;
	}
	if (*until) {
		q[nq++] = "until";
		q[nq++] = until;
	}
	q[nq] = NULL;
	f.o = out_new(c->fmt, 1);
	f.quiet = arg_flag(c, "quiet");
	upcache_load(&f.up, c->home);
	rc = api_list_pages(ctx_api(c), "/files", q, "files", limit, file_row, file_batch,
	    &f, &more);
	re = out_end(f.o);
	upcache_free(&f.up);
	if (rc < 0)
		return -1;
	if (more)
		logmsg(LOG_WARNING, prose(P_TRUNC_LIMIT),
		    limit, "");
	return re < 0 ? -1 : 0;
}
