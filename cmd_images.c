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
#include "ops.h"
#include "out.h"
#include "prose.h"
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
	{
		const char *fk[] = {"tagged", "tag", "uuid", "since", "until"};
		const char *fv[] = {arg_flag(c, "all") ? NULL : "1",
		    arg_str(c, "prefix"), arg_str(c, "uuid"),
		    *since ? since : NULL, *until ? until : NULL};
		size_t k;

		for (k = 0; k < LEN(fk); k++)
			if (fv[k]) {
				q[nq++] = fk[k];
				q[nq++] = fv[k];
			}
	}
	q[nq] = NULL;
	l.o = out_new(c->fmt, 1);
	r = api_list_pages(ctx_api(c), "/images", q, "images", limit, img_row, batch, &l,
	    &more);
	re = out_end(l.o);
	if (r < 0)
		return -1;
	if (more)
		logmsg(LOG_WARNING, prose(P_TRUNC_LIMIT),
		    limit, "--prefix/");
	return re < 0 ? -1 : 0;
}

/* ---- tag ---- */

int
cmd_tag(struct ctx *c)
{
	struct api *a;
	char uuid[37];
	char **args;
	const char *tag;
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
	tag = args[n - 1];
	if (arg_flag(c, "delete")) {
		struct buf body = {0};
		struct api_resp r;
		char *path = xasprintf("/images/%s/tag", uuid);
		const char *q[] = {"tag", tag, NULL};

		memset(&r, 0, sizeof r);
		r.body = &body;
		rc = api_call(a, "DELETE", path, q, NULL, 0, &r);
		if (rc == 0)
			logmsg(LOG_INFO, "Removed tag '%s' from image %s", tag,
			    uuid);
		free(path);
		buf_free(&body);
	} else {
		rc = api_image_tag(a, uuid, tag);
		if (rc == 0)
			logmsg(LOG_INFO, "Tagged image %s as '%s'", uuid, tag);
	}
	return rc < 0 ? -1 : 0;
}

/* ---- images import ---- */

struct import {
	char *url, *tag, *op;
};

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
	const char *p, *q;

	if (!e)                 /* no group: the reference as it is */
		o = e = ref + strlen(ref);
	for (p = o + 1;; p = q + 1) {
		for (q = p; q < e && *q != ','; q++)
			;
		*out = xreallocarray(*out, (size_t)*n + 1, sizeof **out);
		(*out)[(*n)++] = xasprintf("%.*s%.*s%s", (int)(o - ref), ref,
		    (int)(q - p), p, *e ? e + 1 : e);
		if (q >= e)
			break;
	}
}

/* Start importing ref ("REF" or "REF?tag=T"): im gets url, tag and, on
 * success, op.  0, or -1 (logged). */
static int
import_start(struct ctx *c, struct api *a, char *ref, struct import *im,
    const char *user, const char *pass)
{
	struct buf js = {0};
	char *q = strstr(ref, "?tag="), uuid[37];
	int rc;

	if (q) {
		im->tag = xstrdup(q + 5);
		*q = '\0';
	}
	im->url = op_registry_url(ref);
	if (!im->tag)
		im->tag = default_tag(im->url);
	/* the reference shows the password's first three characters; we
	 * show none of it */
	if (user)
		logmsg(LOG_INFO, prose(P_IMAGES_IMPORTING_USER),
		    im->url, im->tag, user);
	else
		logmsg(LOG_INFO, "Importing %s as %s (anonymous)", im->url,
		    im->tag);
	op_import_json(im->url, im->tag, user, pass,
	    arg_given(c, "timeout") ? arg_int(c, "timeout") : -1, &js);
	rc = op_import(a, js.p, uuid);
	memzero(js.p, js.len);
	buf_free(&js);
	if (rc < 0) {
		logmsg(LOG_ERROR, "import of %s: %s", im->url, geterr());
		return -1;
	}
	im->op = xstrdup(uuid);
	return 0;
}

/* Wait for im's operation and print its row.  1 if it did not end
 * SUCCESS, 0, or -1 on Ctrl-C. */
static int
import_wait(struct ctx *c, struct api *a, struct out *o,
    const struct import *im)
{
	struct buf body;
	struct json j;
	struct row *row;
	char *img;
	int bad;

	if (op_wait(a, c->home, im->op, 0, &body, &j) < 0) {
		if (interrupted)
			return -1;
		logmsg(LOG_ERROR, "%s: %s", im->op, geterr());
		return 1;
	}
	img = op_result_image(&j);
	row = row_new();
	row_json(row, &j, 0);
	row_str(row, "uuid", im->op);
	row_str(row, "registry_url", im->url);
	row_str(row, "image", img ? img : "");
	out_row(o, row);
	out_batch(o);
	bad = op_status(&j, 0) != OP_SUCCESS;
	free(img);
	json_free(&j);
	buf_free(&body);
	return bad;
}

/* Ctrl-C: cancel the imports from im[from] on. */
static void
import_cancel(struct api *a, const struct import *im, int from, int n)
{
	int i;

	for (i = from; i < n; i++)
		if (im[i].op && op_cancel(a, im[i].op) == 0)
			logmsg(LOG_INFO, "Cancelled import %s", im[i].op);
	user_interrupted();
}

int
cmd_images_import(struct ctx *c)
{
	static const char *const tail[] = {"error", NULL};
	struct api *a = ctx_api(c);
	struct import *im;
	struct out *o;
	char **refs = NULL, **args, pw[512];
	const char *user = arg_str(c, "username"), *pass = arg_str(c, "password");
	int nrefs = 0, nargs, i, failed = 0, rc = 0, k;

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
	im = xcalloc((size_t)nrefs + 1, sizeof *im);
	for (i = 0; i < nrefs && !interrupted; i++)
		if (import_start(c, a, refs[i], &im[i], user, pass) < 0)
			failed = 1;
	memzero(pw, sizeof pw);
	o = out_new(c->fmt, 1);
	out_pin(o, NULL, tail);
	for (i = 0; i < nrefs; i++) {
		if (!im[i].op)
			continue;
		if (interrupted || (k = import_wait(c, a, o, &im[i])) < 0) {
			import_cancel(a, im, i, nrefs);
			rc = -1;
			break;
		}
		failed |= k;
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
