/* cmd_run.c - `run` and `session wait`: build the spawn request (modes,
 * files, environment, stdin), upload attached files once per content,
 * spawn without ever sending twice, wait, print the output byte-exact,
 * record the result in the session (cli.md §9.2, §9.19, design.md §1). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "cmds.h"
#include "contree.h"
#include "files.h"
#include "json.h"
#include "ops.h"
#include "out.h"
#include "prose.h"
#include "store.h"
#include "util.h"

/* Seconds a run may take beyond its -t before the client stops waiting
 * (the operation may queue on the server first). */
#define RUN_MARGIN 120

#define ENVCACHE_MAX 1000               /* images remembered by --preserve-env */

static const char *const tail_error[] = { "error", NULL };

/* ---- small helpers ---- */

/* Escape sequences that would disturb a terminal (cli.md §9.2.4): CSI
 * sequences other than colour (final byte in ABCDEFGHJKSTfhlrsu, an
 * optional '?'), ESC c, ESC 7, ESC 8 and OSC strings.  Only used when
 * the destination is a terminal: design.md §1 wants the bytes unchanged
 * everywhere else (files, pipes), so `run cat x > y` copies exactly. */
static void
strip_escapes(struct buf *out, const char *p, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if (p[i] != 0x1b || i + 1 >= n) {
			buf_addc(out, p[i++]);
			continue;
		}
		switch (p[i + 1]) {
		case 'c': case '7': case '8':
			i += 2;
			continue;
		case ']':
			for (k = i + 2; k < n; k++)
				if (p[k] == 0x07 ||
				    (p[k] == 0x1b && k + 1 < n && p[k + 1] == '\\'))
					break;
			if (k < n) {
				i = k + (p[k] == 0x07 ? 1 : 2);
				continue;
			}
			break;
		case '[':
			k = i + 2;
			if (k < n && p[k] == '?')
				k++;
			while (k < n && ((p[k] >= '0' && p[k] <= '9') || p[k] == ';'))
				k++;
			if (k < n && p[k] && strchr("ABCDEFGHJKSTfhlrsu", p[k])) {
				i = k + 1;
				continue;
			}
			break;
		}
		buf_addc(out, p[i++]);
	}
}

/* Write a sandbox stream to fd.  A pipe or file gets the bytes exactly
 * as the command wrote them (design.md §1: byte-exact).  A terminal gets
 * what the reference shows: escape sequences that would disturb it
 * removed (colours kept) and a final newline if the output lacks one, so
 * the prompt starts on its own line. */
static int
emit_stream(int fd, const struct buf *b)
{
	struct buf clean = {0};
	int rc;

	if (!b->len)
		return 0;
	if (!isatty(fd))
		return writeall(fd, b->p, b->len);
	strip_escapes(&clean, b->p, b->len);
	/* fix: the newline rule and "nothing for an empty stream" apply
	 * to the cleaned text (`x\n` + ESC[?25h gets no blank line) */
	rc = writeall_nl(fd, clean.p, clean.len);
	buf_free(&clean);
	return rc;
}

/* POSIX shell quoting only where needed (cli.md §9.2.1). */
static void
shquote(struct buf *b, const char *w)
{
	const char *s;
	int safe = *w != '\0';

	for (s = w; *s && safe; s++)
		safe = isalnum((unsigned char)*s) || strchr("_@%+=:,./-", *s);
	if (safe) {
		buf_puts(b, w);
		return;
	}
	buf_addc(b, '\'');
	for (s = w; *s; s++) {
		if (*s == '\'')
			buf_puts(b, "'\"'\"'");
		else
			buf_addc(b, *s);
	}
	buf_addc(b, '\'');
}

/* Write a cache file; a failure only costs requests later. */
static void
cache_write(const char *path, const struct buf *b)
{
	if (writefile_cache(path, b->p ? b->p : "", b->len) < 0)
		logmsg(LOG_DEBUG, "cache: %s", geterr());
}

/* Cache files live in CONTREE_HOME/cli/.  Caller frees. */
static char *
cache_file(struct ctx *c, const char *name)
{
	char *dir = xasprintf("%s/cli", c->home), *p;

	mkdirs(dir, 0700);
	p = xasprintf("%s/%s", dir, name);
	free(dir);
	return p;
}

/* ---- attached files (cli.md §9.2.2, §9.2.3; the work is files.c's) ---- */

/* Parse every --file and walk directories; nothing is sent yet. */
static int
collect_files(struct ctx *c, struct filelist *l)
{
	char **specs, **pats;
	int nspecs, npats;

	specs = arg_list(c, "file", &nspecs);
	pats = arg_list(c, "file-excludes", &npats);
	return files_collect(specs, nspecs, pats, npats, l);
}

/* Give every attached file its uploaded UUID. */
static int
upload_files(struct ctx *c, struct api *a, struct filelist *l)
{
	return files_upload(a, c->home, l);
}

static void
free_files(struct filelist *l)
{
	files_free(l);
}

/* ---- environment ---- */

/* -e pairs, checked before anything is sent. */
static int
check_env_pairs(struct ctx *c)
{
	char **pairs;
	int n;

	pairs = arg_list(c, "env", &n);
	return op_env_check(pairs, n);
}

static int
cmpkey(const void *a, const void *b)
{
	return strcmp(**(char **const *)a, **(char **const *)b);
}

/* Digest of the environment independent of order. */
static void
env_digest(const struct op_env *e, char hex[65])
{
	struct buf b = {0};
	char ***idx = xcalloc(e->n + 1, sizeof *idx);
	size_t i, j;

	for (i = 0; i < e->n; i++)
		idx[i] = &e->k[i];
	qsort(idx, e->n, sizeof *idx, cmpkey);  /* keys are unique */
	for (i = 0; i < e->n; i++) {
		j = (size_t)(idx[i] - e->k);
		buf_add(&b, e->k[j], strlen(e->k[j]) + 1);
		buf_add(&b, e->v[j], strlen(e->v[j]) + 1);
	}
	sha256_hex(b.p ? b.p : "", b.len, hex);
	buf_free(&b);
	free(idx);
}

/* The --preserve-env memory (cli.md §7.10): CONTREE_HOME/cli/
 * preserved-env, lines "image TAB env-digest TAB recorded", at most
 * ENVCACHE_MAX, oldest first.  put: remember image with digest (its
 * older line dropped); else only look.  1 if image was remembered with
 * this digest. */
static int
envcache(struct ctx *c, const char *image, const char *digest, int put)
{
	struct buf b = {0}, out = {0};
	char *path = cache_file(c, "preserved-env"), *line, *nl;
	char *want = xasprintf("%s\t%s\t", image, digest);
	size_t nlines = 0, skip, il = strlen(image);
	int found = 0;

	if (access(path, F_OK) == 0 && readfile(path, &b) < 0)
		buf_reset(&b);
	for (line = b.p; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		nlines++;
		found |= strncmp(line, want, strlen(want)) == 0;
	}
	skip = nlines > ENVCACHE_MAX - 1 ? nlines - (ENVCACHE_MAX - 1) : 0;
	for (line = b.p; put && line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (skip) {
			skip--;
			continue;
		}
		if (strncmp(line, image, il) == 0 && line[il] == '\t')
			continue;
		buf_add(&out, line, nl ? (size_t)(nl - line) : strlen(line));
		buf_addc(&out, '\n');
	}
	if (put) {
		buf_printf(&out, "%s\t%s\t%lld\n", image, digest,
		    (long long)time(NULL));
		cache_write(path, &out);
	}
	buf_free(&out);
	buf_free(&b);
	free(want);
	free(path);
	return found;
}

/* ---- the spawn request (cli.md §9.2.1) ---- */

struct spawn {
	char image[37];
	char *command;
	char **args;
	size_t nargs;
	int shell;
	char *title;
	struct buf stdin_data;
	int has_stdin;
	char marker[33];        /* OP_MARKER_ENV: finds a lost spawn */
};

static void
spawn_free(struct spawn *s)
{
	free(s->command);
	freewords(s->args);
	free(s->title);
	buf_free(&s->stdin_data);
}

/* Read all of stdin if it is not a terminal and has data ready now
 * (zero-timeout poll; cli.md §9.2.1).  -1 on a read error. */
static int
read_piped_stdin(struct buf *b, int *has)
{
	struct pollfd p;
	char tmp[65536];
	ssize_t n;

	*has = 0;
	if (isatty(0))
		return 0;
	p.fd = 0;
	p.events = POLLIN;
	p.revents = 0;
	if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP)))
		return 0;
	for (;;) {
		n = read(0, tmp, sizeof tmp);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR && !interrupted)
				continue;
			if (interrupted)
				return user_interrupted();
			seterr("reading standard input:");
			return -1;
		}
		buf_add(b, tmp, (size_t)n);
	}
	*has = b->len > 0;
	return 0;
}

/* Mode, command, args, title, stdin (cli.md §9.2.1). */
static int
build_command(struct ctx *c, struct spawn *s)
{
	char **w;
	int nw, i, script_body = 0, interp;
	struct buf t = {0};

	w = arg_pos(c, "COMMAND", &nw);
	for (i = 0; i < nw; i++)
		buf_printf(&t, "%s%s", i ? " " : "", w[i]);
	s->title = xstrdup(t.p ? t.p : "");
	buf_reset(&t);
	interp = arg_flag(c, "interpreter") && nw > 0;
	s->args = xcalloc((size_t)nw + 2, sizeof *s->args);
	if (interp) {
		struct buf sc = {0};
		size_t k;
		const char *nl;

		if (readfile(w[0], &sc) < 0) {
			buf_free(&t);
			return -1;
		}
		for (k = 0; k < sc.len; k++)
			if (!(sc.p[k] == '\r' && k + 1 < sc.len && sc.p[k + 1] == '\n'))
				buf_addc(&t, sc.p[k]);
		buf_free(&sc);
		nl = t.p ? memchr(t.p, '\n', t.len) : NULL;
		if (nl && (size_t)(nl + 1 - t.p) < t.len) {
			buf_add(&s->stdin_data, nl + 1,
			    t.len - (size_t)(nl + 1 - t.p));
			s->has_stdin = 1;
			script_body = 1;
		}
		buf_reset(&t);
		s->command = xstrdup("/bin/sh");
		s->shell = 1;
		s->args[s->nargs++] = xstrdup("-s");
		if (nw > 1)
			s->args[s->nargs++] = xstrdup("--");
	} else if (arg_flag(c, "shell")) {
		s->shell = 1;
		for (i = 0; i < nw && nw > 1; i++) {
			if (i)
				buf_addc(&t, ' ');
			shquote(&t, w[i]);
		}
		s->command = xstrdup(nw == 1 ? w[0] : t.p ? t.p : "");
		nw = 0;         /* no args */
	} else {
		s->command = xstrdup(nw ? w[0] : "");
	}
	for (i = 1; i < nw; i++)
		s->args[s->nargs++] = xstrdup(w[i]);
	buf_free(&t);
	if (!script_body &&
	    read_piped_stdin(&s->stdin_data, &s->has_stdin) < 0)
		return -1;
	return 0;
}

static void
spawn_body(struct ctx *c, const struct spawn *s, const struct op_env *env,
    int send_env, const char *cwd, const struct op_file *files,
    size_t nfiles, struct buf *out)
{
	struct op_run r;

	memset(&r, 0, sizeof r);
	r.image = s->image;
	r.command = s->command;
	r.args = s->args;
	r.nargs = s->nargs;
	r.shell = s->shell;
	r.disposable = arg_flag(c, "disposable") > 0;
	r.hostname = arg_str(c, "hostname");
	r.truncate = arg_int(c, "truncate");
	r.timeout = arg_int(c, "timeout");
	r.cwd = cwd;
	if (send_env) {
		r.envk = env->k;
		r.envv = env->v;
		r.nenv = env->n;
	}
	r.preserve_env = arg_flag(c, "preserve-env") > 0;
	r.files = files;
	r.nfiles = nfiles;
	r.has_stdin = s->has_stdin;
	r.stdin_data = s->stdin_data.p;
	r.stdin_len = s->stdin_data.len;
	op_run_json(&r, s->marker, out);
}

/* ---- run ---- */

static int
status_of(const struct json *j, long long *code, int *has)
{
	*has = op_exit_code(j, code);
	if (*has)
		return (int)(*code & 255);
	return op_status(j, 0) == OP_SUCCESS ? 0 : EXIT_ERR;
}

/* Ctrl-C: cancel the run and say so. */
static void
cancel_run(struct api *a, const char *uuid)
{
	if (op_cancel(a, uuid) < 0)
		logmsg(LOG_DEBUG, "cancel %s: %s", uuid, geterr());
	logmsg(LOG_INFO, "Operation %s cancelled", uuid);
	user_interrupted();
}

/* The row of cli.md §9.2.4 for structured formats. */
static int
print_row(struct ctx *c, const struct json *j, const struct buf *so,
    const struct buf *se)
{
	struct out *o = out_new(c->fmt, 1);
	struct row *r = row_new();

	out_pin(o, NULL, tail_error);
	op_row(r, j);
	op_row_streams(r, so, se);
	out_row(o, r);
	return out_end(o);
}

static int
detached(struct ctx *c, struct store *st, const struct spawn *s,
    const char *useimg, long long from, const char *uuid,
    const struct buf *reply)
{
	struct op_rec rec = { c->session, useimg, arg_str(c, "use"), s->image,
	    s->title, uuid, from, arg_flag(c, "disposable") > 0 };
	struct out *o;
	struct row *r;
	struct json j;
	int rc = 0;

	if (op_record(st, &rec, NULL, NULL) < 0)
		return -1;
	o = out_new(c->fmt, 1);
	r = row_new();
	row_str(r, "uuid", uuid);
	row_str(r, "status", "PENDING");
	if (reply->len && json_parse_alloc(&j, reply->p, reply->len) == 0) {
		row_json(r, &j, 0);
		json_free(&j);
	}
	out_row(o, r);
	if (out_end(o) < 0 && errno != EPIPE)
		rc = -1;
	return rc;
}

/* Record a finished run (cli.md §9.2.5).  0 or -1. */
static int
record_run(struct ctx *c, struct store *st, const struct spawn *s,
    const char *useimg, long long from, const char *uuid,
    const struct json *j, const struct op_env *env)
{
	struct op_rec rec = { c->session, useimg, arg_str(c, "use"), s->image,
	    s->title, uuid, from, arg_flag(c, "disposable") > 0 };
	int forked = 0;
	long long id = op_record(st, &rec, j, &forked);

	if (id > 0 && forked)
		logmsg(LOG_WARNING, prose(P_RUN_FORKED),
		    id);
	if (id > 0 && !rec.disp && arg_flag(c, "preserve-env")) {
		char dig[65], *img = op_result_image(j);

		env_digest(env, dig);
		envcache(c, img, dig, 1);
		free(img);
	}
	return id < 0 ? -1 : 0;
}

/* A run the platform did not complete: name the operation, so that
 * `contree show` finds its record. */
static void
report_failed(const struct json *j, const char *uuid)
{
	char *stt = json_getstr(j, 0, "status");
	char *err = json_getstr(j, 0, "error");

	logmsg(LOG_CRITICAL, prose(P_RUN_STATUS),
	    uuid, stt ? stt : "?", err && *err ? ": " : "", err ? err : "",
	    uuid);
	free(stt);
	free(err);
}

/* Record, report and print a finished run; its exit status. */
static int
finish_run(struct ctx *c, struct store *st, const struct spawn *s,
    const char *useimg, long long from, const char *uuid,
    const struct json *j, const struct op_env *env)
{
	struct buf so = {0}, se = {0};
	long long code;
	int rc = 0, has, tso, tse, status;

	if (record_run(c, st, s, useimg, from, uuid, j, env) < 0) {
		char *img = op_result_image(j);

		if (img)
			logmsg(LOG_ERROR, prose(P_RUN_NOTREC),
			    geterr(), uuid, img, img);
		else
			logmsg(LOG_ERROR, prose(P_RUN_OPERATION_SESSION),
			    geterr(), uuid);
		free(img);
		rc = -2;
	}
	status = status_of(j, &code, &has);
	if (op_timed_out(j))
		logmsg(LOG_WARNING, "Operation %s timed out after %lld second%s",
		    uuid, arg_int(c, "timeout"), arg_int(c, "timeout") == 1 ?
		    "" : "s");
	else if (op_status(j, 0) != OP_SUCCESS)
		report_failed(j, uuid);
	op_stream(j, "stdout", &so, &tso);
	op_stream(j, "stderr", &se, &tse);
	if (c->fmt == FMT_DEFAULT) {
		fflush(stdout);
		if (emit_stream(1, &so) < 0 && errno != EPIPE) {
			logmsg(LOG_ERROR, "writing output:");
			rc = -2;
		}
		emit_stream(2, &se);
	} else if (print_row(c, j, &so, &se) < 0 && errno != EPIPE) {
		logmsg(LOG_ERROR, "%s", geterr());
		rc = -2;
	}
	if (tso || tse)
		logmsg(LOG_WARNING, prose(P_RUN_SERVER_TRUNCATED),
		    !tse ? "stdout" : !tso ? "stderr" : "stdout and stderr",
		    arg_int(c, "truncate"));
	buf_free(&so);
	buf_free(&se);
	return rc == -2 ? EXIT_ERR : status;
}

/* Uploads, then the spawn request in body (cli.md §9.2.1); env gets
 * the environment of the run.  0 or -1. */
static int
make_request(struct ctx *c, struct api *a, struct store *st,
    const struct spawn *s, struct filelist *files, struct op_env *env,
    struct buf *body)
{
	struct store_file *pend;
	struct op_file *fe;
	size_t npend = 0, nfe = 0;
	const char *cwd = arg_str(c, "cwd");
	char dig[65], **pairs;
	int send_env = 1, np;

	if (upload_files(c, a, files) < 0)
		return -1;
	pend = store_pending_files(st, c->session, &npend);
	fe = files_merge(pend, npend, files, &nfe);
	pairs = arg_list(c, "env", &np);
	op_env_session(env, st, c->session, pairs, np);
	env_digest(env, dig);
	if (env->n && envcache(c, s->image, dig, 0))
		send_env = 0;
	if (!cwd || !*cwd)
		cwd = store_cwd(st, c->session);
	spawn_body(c, s, env, send_env, cwd, fe, nfe, body);
	free(fe);
	free(pend);
	return 0;
}

int
cmd_run(struct ctx *c)
{
	struct spawn s;
	struct filelist files;
	struct store *st;
	struct api *a;
	struct op_env env;
	struct buf body = {0}, reply = {0}, rec = {0};
	struct json j;
	const struct store_entry *tip;
	const char *useref = arg_str(c, "use");
	char uuid[37], useimg[37];
	long long from = 0;
	int rc = -1;

	memset(&s, 0, sizeof s);
	memset(&files, 0, sizeof files);
	memset(&env, 0, sizeof env);
	if (!arg_pos(c, "COMMAND", &rc)) {
		usage_fail(c, "%s", prose(P_RUN_FOLLOWING_ARGUMENTS));
		return EXIT_USAGE;
	}
	rc = -1;
	/* 1. everything local first: nothing is sent if any of it fails */
	if (check_env_pairs(c) < 0 || collect_files(c, &files) < 0 ||
	    build_command(c, &s) < 0 || op_marker(s.marker) < 0)
		goto out;
	if (!(st = ctx_store(c)))
		goto out;
	tip = store_tip(st, c->session);
	if (!useref && !tip) {
		no_session();
		rc = EXIT_ERR;
		goto out;
	}
	if (!(a = ctx_api(c)))
		goto out;
	/* 2. the image */
	if (useref) {
		if (api_image_resolve(ctx_api(c), useref, useimg) < 0)
			goto out;
		memcpy(s.image, useimg, 37);
	} else {
		memcpy(s.image, tip->image, 37);
	}
	from = tip ? tip->id : 0;
	/* 3. uploads, then the request */
	if (make_request(c, a, st, &s, &files, &env, &body) < 0)
		goto out;
	if (interrupted) {
		user_interrupted();
		goto out;
	}
	if (op_spawn(a, body.p, s.marker, &reply, uuid) < 0) {
		if (interrupted)
			seterr("%s", prose(P_RUN_INTR));
		goto out;
	}
	logmsg(LOG_DEBUG, "operation %s", uuid);
	if (interrupted) {
		cancel_run(a, uuid);
		goto out;
	}
	if (arg_flag(c, "detach")) {
		rc = detached(c, st, &s, useref ? useimg : NULL, from, uuid, &reply);
		goto out;
	}
	/* 4. wait, at most the run's time limit plus a margin for a queue
	 * on the server (every request inside, the final fetch too);
	 * Ctrl-C cancels and records nothing */
	rc = op_wait_live(a, c->home, uuid, c->fmt == FMT_DEFAULT,
	    arg_int(c, "timeout") + RUN_MARGIN, NULL, NULL, &rec, &j);
	if (rc < 0) {
		rc = -1;
		if (interrupted)
			cancel_run(a, uuid);
		goto out;
	}
	/* 5. record, report, print */
	rc = finish_run(c, st, &s, useref ? useimg : NULL, from, uuid, &j,
	    &env);
	json_free(&j);
out:
	buf_free(&rec);
	buf_free(&body);
	buf_free(&reply);
	op_env_free(&env);
	free_files(&files);
	spawn_free(&s);
	return rc;
}

/* ---- session wait (cli.md §9.19) ---- */

struct waited {
	char *op, *title, *branch;
	int disposable;
};

static int
fallback_active(struct ctx *c, struct waited **w, size_t *n)
{
	struct api *a = ctx_api(c);
	struct buf body = {0};
	struct json j;
	int t;

	if (!a || (t = op_list(a, NULL, &body, &j)) < 0)
		return -1;
	for (t = json_first(&j, t); t >= 0; t = json_after(&j, t)) {
		int sk = json_get(&j, t, "session_key");
		char *u;

		if (sk < 0 || !json_streq(&j, sk, c->session) ||
		    !op_active(op_status(&j, t)))
			continue;
		if (!(u = json_getstr(&j, t, "uuid")))
			continue;
		*w = xreallocarray(*w, *n + 1, sizeof **w);
		memset(&(*w)[*n], 0, sizeof **w);
		(*w)[(*n)++].op = u;
	}
	json_free(&j);
	buf_free(&body);
	return 0;
}

/* Turn a finished detached operation into history. */
static int
record_waited(struct ctx *c, struct store *st, const struct waited *w,
    const struct json *j)
{
	long long code, id = 0;
	struct store_new e;
	const struct store_entry *base;
	char *own;
	int t = json_get(j, 0, "kind");

	if (op_status(j, 0) != OP_SUCCESS || (op_exit_code(j, &code) && code) ||
	    t < 0 || !json_streq(j, t, "instance"))
		return 0;
	memset(&e, 0, sizeof e);
	e.title = w->title;
	e.op = w->op;
	if (w->disposable) {
		e.kind = STORE_RUN_DISPOSABLE;
		e.branch = own = xasprintf("disposable-%s", w->op);
		/* fix (cli.md §9.19): `run -d -D` made this entry already */
		if (!store_branch_tip(st, c->session, own) &&
		    ((base = store_branch_tip(st, c->session, w->branch)) ||
		    (base = store_tip(st, c->session))))
			e.image = base->image;
	} else {
		e.kind = STORE_RUN;
		e.image = own = op_result_image(j);
	}
	if (e.image)
		id = store_append(st, c->session, &e, NULL);
	free(own);
	return id < 0 ? -1 : 0;
}

static void
free_waited(struct waited *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(w[i].op);
		free(w[i].title);
		free(w[i].branch);
	}
	free(w);
}

/* The operations named on the command line, with their titles when
 * this session started them.  -1 with the slot set. */
static int
waited_args(struct ctx *c, struct store *st, char **args, int nargs,
    struct waited **w, size_t *n)
{
	struct store_pending *p;
	char **ops;
	int nops, k;
	size_t np, m;

	if (resolve_ops(st, c->session, args, nargs, &ops, &nops) < 0)
		return -1;
	p = store_pending(st, c->session, &np);
	*w = xcalloc((size_t)nops + 1, sizeof **w);
	for (k = 0; k < nops; k++) {
		(*w)[k].op = ops[k];
		for (m = 0; m < np; m++)
			if (strcmp(p[m].op, ops[k]) == 0)
				(*w)[k].title = xstrdup(p[m].title);
	}
	*n = (size_t)nops;
	free(ops);
	free(p);
	return 0;
}

/* The session's detached runs (*record = 1: they become history), else
 * its active operations on the server.  -1, or 1: no session (message
 * printed). */
static int
waited_session(struct ctx *c, struct store *st, struct waited **w,
    size_t *n, int *record)
{
	struct store_pending *p;
	size_t np, i;

	if (!store_get(st, c->session, NULL)) {
		no_session();
		return 1;
	}
	p = store_pending(st, c->session, &np);
	*w = xcalloc(np + 1, sizeof **w);
	for (i = 0; i < np; i++) {
		(*w)[i].op = xstrdup(p[i].op);
		(*w)[i].title = xstrdup(p[i].title);
		(*w)[i].branch = xstrdup(p[i].branch);
		(*w)[i].disposable = p[i].disposable;
	}
	*n = np;
	free(p);
	*record = np > 0;
	if (np == 0 && fallback_active(c, w, n) < 0) {
		free_waited(*w, *n);
		return -1;
	}
	return 0;
}

/* Wait for w, record it when asked, print its row; its share of the
 * exit status (op wait's rule), or -1 on Ctrl-C. */
static int
wait_one(struct ctx *c, struct api *a, struct store *st, struct out *o,
    const struct waited *w, int record)
{
	struct buf body;
	struct json j;
	struct row *r;
	int status;

	if (op_wait(a, c->home, w->op, 0, &body, &j) < 0) {
		if (interrupted)
			return -1;
		logmsg(LOG_ERROR, "operation %s: %s", w->op, geterr());
		return 1;
	}
	status = op_outcome(&j);
	if (record && (record_waited(c, st, w, &j) < 0 ||
	    store_pending_done(st, c->session, w->op) < 0)) {
		logmsg(LOG_ERROR, "recording %s: %s", w->op, geterr());
		status = status > 1 ? status : 1;
	}
	r = row_new();
	op_row_head(r, &j, w->op);
	row_str(r, "title", w->title ? w->title : "");
	if (json_get(&j, 0, "error") < 0)
		row_str(r, "error", "");
	out_row(o, r);
	out_batch(o);
	json_free(&j);
	buf_free(&body);
	return status;
}

int
cmd_session_wait(struct ctx *c)
{
	struct store *st = ctx_store(c);
	struct api *a;
	struct waited *w = NULL;
	struct out *o;
	char **args;
	size_t n = 0, i;
	int nargs, record = 0, status = 0, k;

	if (!st)
		return -1;
	args = arg_pos(c, "UUID_OR_REF", &nargs);
	k = nargs ? waited_args(c, st, args, nargs, &w, &n) :
	    waited_session(c, st, &w, &n, &record);
	if (k != 0)
		return k < 0 ? -1 : EXIT_ERR;
	if (n == 0) {
		fputs("No active operations for this session.\n", stderr);
		free_waited(w, n);
		return 0;
	}
	if (!(a = ctx_api(c))) {
		free_waited(w, n);
		return -1;
	}
	logmsg(LOG_INFO, "Waiting for %zu operation%s", n, n == 1 ? "" : "s");
	o = out_new(c->fmt, 1);
	out_pin(o, NULL, tail_error);
	for (i = 0; i < n && (k = wait_one(c, a, st, o, &w[i], record)) >= 0;
	    i++)
		status = status > k ? status : k;
	out_end(o);
	free_waited(w, n);
	if (interrupted)
		return user_interrupted();
	return status;
}
