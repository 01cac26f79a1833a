/* cmd_images.c - images, images import, tag. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "cmds.h"
#include "contree.h"
#include "json.h"
#include "out.h"
#include "store.h"
#include "util.h"

/* ---- images ---- */

struct listctx {
	struct out *o;
};

static int
img_row(void *arg, const struct json *j, int t)
{
	struct listctx *l = arg;
	struct row *r = row_new();

	row_json(r, j, t);
	out_row(l->o, r);
	return 0;
}

static void
batch(void *arg)
{
	out_batch(((struct listctx *)arg)->o);
}

int
cmd_images(struct ctx *c)
{
	struct listctx l;
	char since[32], until[32];
	const char *q[16];
	long long limit = arg_int(c, "limit");
	int nq = 0, more, r, re;

	if (arg_when_iso(c, "since", since, sizeof since) < 0 ||
	    arg_when_iso(c, "until", until, sizeof until) < 0)
		return EXIT_USAGE;
	if (!arg_flag(c, "all")) {
		q[nq++] = "tagged";
		q[nq++] = "1";
	}
	if (arg_str(c, "prefix")) {
		q[nq++] = "tag";
		q[nq++] = arg_str(c, "prefix");
	}
	if (arg_str(c, "uuid")) {
		q[nq++] = "uuid";
		q[nq++] = arg_str(c, "uuid");
	}
	if (*since) {
		q[nq++] = "since";
		q[nq++] = since;
	}
	if (*until) {
		q[nq++] = "until";
		q[nq++] = until;
	}
	q[nq] = NULL;
	l.o = out_new(c->fmt, 1);
	r = api_list_pages(ctx_api(c), "/images", q, "images", limit, img_row, batch, &l,
	    &more);
	re = out_end(l.o);
	if (r < 0)
		return -1;
	if (more)
		logmsg(LOG_WARNING, "Output truncated at --limit=%lld; raise --limit or narrow with --prefix/--since/--until",
		    limit);
	return re < 0 ? -1 : 0;
}

/* ---- tag ---- */

int
cmd_tag(struct ctx *c)
{
	struct api *a;
	struct buf body = {0}, js = {0};
	struct api_resp r;
	struct jw w;
	char uuid[37], *path;
	char **args;
	int n, rc;

	args = arg_pos(c, "ARGS", &n);
	if (n > 2) {
		usage_fail(c, "expected [IMAGE] TAG, got %d arguments", n);
		return EXIT_USAGE;
	}
	if (n == 1) {
		const struct store_entry *tip;
		struct store *st = ctx_store(c);

		if (!st)
			return -1;
		if (!(tip = store_tip(st, c->session))) {
			no_session();
			return EXIT_ERR;
		}
		memcpy(uuid, tip->image, 37);
	} else if (api_image_resolve(ctx_api(c), args[0], uuid) < 0) {
		return -1;
	}
	if (!(a = ctx_api(c)))
		return -1;
	path = xasprintf("/images/%s/tag", uuid);
	memset(&r, 0, sizeof r);
	r.body = &body;
	if (arg_flag(c, "delete")) {
		const char *q[] = {"tag", args[n - 1], NULL};

		rc = api_call(a, "DELETE", path, q, NULL, 0, &r);
		if (rc == 0)
			logmsg(LOG_INFO, "Removed tag '%s' from image %s",
			    args[n - 1], uuid);
	} else {
		jw_init(&w, &js, 0);
		jw_obj(&w);
		jw_key(&w, "tag");
		jw_str(&w, args[n - 1]);
		jw_obj_end(&w);
		rc = api_call(a, "PATCH", path, NULL, js.p, 0, &r);
		if (rc == 0)
			logmsg(LOG_INFO, "Tagged image %s as '%s'", uuid,
			    args[n - 1]);
	}
	free(path);
	buf_free(&body);
	buf_free(&js);
	return rc < 0 ? -1 : 0;
}

/* ---- images import ---- */

struct import {
	char *url, *tag, *op;
	int done;
};

/* docker://<registry>/<path>:<tag> for a user's reference (cli.md §9.5). */
static char *
registry_url(const char *ref)
{
	const char *slash;
	char *first, *r, *last;

	if (strncmp(ref, "docker://", 9) == 0)
		return xstrdup(ref);
	slash = strchr(ref, '/');
	if (!slash) {
		r = xasprintf("docker.io/library/%s", ref);
	} else {
		first = xstrndup(ref, (size_t)(slash - ref));
		if (strpbrk(first, ".:")) {
			if (strcmp(first, "docker.io") == 0 &&
			    !strchr(slash + 1, '/'))
				r = xasprintf("docker.io/library/%s", slash + 1);
			else
				r = xstrdup(ref);
		} else {
			r = xasprintf("docker.io/%s", ref);
		}
		free(first);
	}
	last = strrchr(r, '/');
	if (!strchr(last ? last : r, ':')) {
		char *t = xasprintf("%s:latest", r);

		free(r);
		r = t;
	}
	first = xasprintf("docker://%s", r);
	free(r);
	return first;
}

/* The tag an import gets by default: the reference without docker://,
 * without a registry host and without a leading library/. */
static char *
default_tag(const char *ref)
{
	const char *s = ref, *slash;

	if (strncmp(s, "docker://", 9) == 0)
		s += 9;
	slash = strchr(s, '/');
	if (slash && memchr(s, '.', (size_t)(slash - s)))
		s = slash + 1;
	if (strncmp(s, "library/", 8) == 0)
		s += 8;
	return xstrdup(s);
}

/* Expand the first {a,b,c} group; no closing brace: literal. */
static void
brace(const char *ref, char ***out, int *n)
{
	const char *o = strchr(ref, '{'), *e = o ? strchr(o, '}') : NULL;
	const char *p;

	if (!o || !e) {
		*out = xreallocarray(*out, (size_t)*n + 1, sizeof **out);
		(*out)[(*n)++] = xstrdup(ref);
		return;
	}
	for (p = o + 1;; ) {
		const char *q = p;

		while (q < e && *q != ',')
			q++;
		*out = xreallocarray(*out, (size_t)*n + 1, sizeof **out);
		(*out)[(*n)++] = xasprintf("%.*s%.*s%s", (int)(o - ref), ref,
		    (int)(q - p), p, e + 1);
		if (q >= e)
			break;
		p = q + 1;
	}
}

int
cmd_images_import(struct ctx *c)
{
	struct api *a = ctx_api(c);
	struct import *im = NULL;
	struct out *o;
	char **refs = NULL, **args, pw[512];
	const char *user = arg_str(c, "username"), *pass = arg_str(c, "password");
	int nrefs = 0, nargs, i, left, failed = 0, rc = 0;
	int64_t delay = 0;

	if (!a)
		return -1;
	args = arg_pos(c, "REF", &nargs);
	for (i = 0; i < nargs; i++)
		brace(args[i], &refs, &nrefs);
	if (user && !pass) {
		if (read_secret("Registry password: ", pw, sizeof pw) < 0)
			return -1;
		pass = pw;
	}
	im = xcalloc((size_t)nrefs, sizeof *im);
	for (i = 0; i < nrefs; i++) {
		char *q = strstr(refs[i], "?tag=");
		struct buf js = {0}, body = {0};
		struct api_resp r;
		struct jw w;

		if (q) {
			im[i].tag = xstrdup(q + 5);
			*q = '\0';
		}
		im[i].url = registry_url(refs[i]);
		if (!im[i].tag)
			im[i].tag = default_tag(im[i].url);
		/* the reference shows the password's first three
		 * characters; we show none of it */
		if (user)
			logmsg(LOG_INFO, "Importing %s as %s (user:%s, password ***)",
			    im[i].url, im[i].tag, user);
		else
			logmsg(LOG_INFO, "Importing %s as %s (anonymous)",
			    im[i].url, im[i].tag);
		jw_init(&w, &js, 0);
		jw_obj(&w);
		jw_key(&w, "registry");
		jw_obj(&w);
		jw_key(&w, "url");
		jw_str(&w, im[i].url);
		if (user) {
			jw_key(&w, "credentials");
			jw_obj(&w);
			jw_key(&w, "username");
			jw_str(&w, user);
			jw_key(&w, "password");
			jw_str(&w, pass);
			jw_obj_end(&w);
		}
		jw_obj_end(&w);
		jw_key(&w, "tag");
		jw_str(&w, im[i].tag);
		if (arg_given(c, "timeout")) {
			jw_key(&w, "timeout");
			jw_int(&w, arg_int(c, "timeout"));
		}
		jw_obj_end(&w);
		memset(&r, 0, sizeof r);
		r.body = &body;
		if (api_call(a, "POST", "/images/import", NULL, js.p,
		    API_NOREPLAY, &r) == 0) {
			struct json j;

			if (json_parse_alloc(&j, body.p ? body.p : "", body.len) == 0) {
				im[i].op = json_getstr(&j, 0, "uuid");
				json_free(&j);
			}
			if (!im[i].op)
				logmsg(LOG_ERROR, "import of %s: no operation in the reply",
				    im[i].url);
		} else {
			logmsg(LOG_ERROR, "import of %s: %s", im[i].url, geterr());
		}
		if (!im[i].op) {
			im[i].done = 1;
			failed = 1;
		}
		buf_free(&js);
		buf_free(&body);
	}
	memzero(pw, sizeof pw);
	o = out_new(c->fmt, 1);
	{
		static const char *const tail[] = {"error", NULL};

		out_pin(o, NULL, tail);
	}
	for (;;) {
		left = 0;
		for (i = 0; i < nrefs; i++)
			left += !im[i].done;
		if (!left)
			break;
		if (sleep_ms(delay) < 0)
			break;
		delay = 5000;
		for (i = 0; i < nrefs; i++) {
			struct buf body = {0};
			struct api_resp r;
			struct json j;
			char *path, *st;

			if (im[i].done)
				continue;
			path = xasprintf("/operations/%s", im[i].op);
			memset(&r, 0, sizeof r);
			r.body = &body;
			if (api_call(a, "GET", path, NULL, NULL, 0, &r) < 0) {
				logmsg(LOG_ERROR, "%s: %s", im[i].op, geterr());
				im[i].done = 1;
				failed = 1;
			} else if (json_parse_alloc(&j, body.p, body.len) == 0) {
				st = json_getstr(&j, 0, "status");
				if (st && (!strcmp(st, "SUCCESS") ||
				    !strcmp(st, "FAILED") ||
				    !strcmp(st, "CANCELLED"))) {
					struct row *row = row_new();
					int res = json_get(&j, 0, "result");
					char *img = res >= 0 ?
					    json_getstr(&j, res, "image") : NULL;

					row_json(row, &j, 0);
					row_str(row, "uuid", im[i].op);
					row_str(row, "registry_url", im[i].url);
					row_str(row, "image", img ? img : "");
					out_row(o, row);
					out_batch(o);
					free(img);
					im[i].done = 1;
					failed |= strcmp(st, "SUCCESS") != 0;
				}
				free(st);
				json_free(&j);
			}
			free(path);
			buf_free(&body);
		}
	}
	if (interrupted) {
		for (i = 0; i < nrefs; i++) {
			struct api_resp r;
			char *path;

			if (im[i].done)
				continue;
			path = xasprintf("/operations/%s", im[i].op);
			memset(&r, 0, sizeof r);
			interrupted = 0;  /* let the cancel through */
			if (api_call(a, "DELETE", path, NULL, NULL, 0, &r) == 0)
				logmsg(LOG_INFO, "Cancelled import %s", im[i].op);
			free(path);
		}
		interrupted = 1;
		seterr("User interrupted");
		rc = -1;
	}
	if (out_end(o) < 0)
		rc = -1;
	for (i = 0; i < nrefs; i++) {
		free(im[i].url);
		free(im[i].tag);
		free(im[i].op);
		free(refs[i]);
	}
	free(im);
	free(refs);
	if (rc < 0)
		return rc;
	return failed ? EXIT_ERR : 0;
}
