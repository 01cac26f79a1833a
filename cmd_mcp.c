/* cmd_mcp.c - `contree mcp`: the ConTree MCP server (mcp.c speaks the
 * protocol), and `contree mcp config`.
 *
 * Tools, resources and prompts are tables, their texts packed in
 * mcp.def (mcp_text).  A tool's arguments and its
 * result fields are rows of struct arg; the same rows give the JSON
 * Schemas of tools/list, the check of a call's arguments (done in the
 * parent, before any job starts: a bad call is answered at once) and
 * the defaults the tool reads.  Every tool that talks to the API runs in
 * a job (a child process, mcp_job); the few local ones run inline. */
#define _XOPEN_SOURCE 700    /* realpath */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "cmds.h"
#include "contree.h"
#include "explore.h"
#include "files.h"
#include "jobs.h"
#include "json.h"
#include "mcp.h"
#include "ops.h"
#include "store.h"
#include "treediff.h"
#include "util.h"

#define READ_MAX (1 << 20)      /* read_file refuses larger files */
#define WAIT_MARGIN 120         /* seconds a wait may exceed its timeout */

static struct ctx *C;           /* the command's context */
static char *root;              /* --root, resolved */
static char *inspect;           /* the inspect cache: HOME/cli/inspect */

/* ---- tables ---- */

/* A row of a tool's arguments or result fields (mcp.def has the
 * format); the same row gives the schema of tools/list, the check of a
 * call's arguments, and the default a tool reads. */
struct arg {
	const char *name, *choices, *def, *desc;
	int nname, nchoices, ndef, ndesc;
	char type;
	int req, nul;
	long lo, hi;            /* bounds, when hi >= lo */
};

enum {                          /* annotations; LOCAL: no job */
	RO = 1, DESTR = 2, IDEM = 4, OPEN = 8, LOCAL = 16
};
struct tc;
struct tool {
	int (*fn)(struct tc *);
	unsigned char text;     /* M_T_*: name, title, description,
	                           arguments, result fields */
	unsigned char flags;
};

/* What a tool runs with. */
struct tc {
	struct mcp_req *r;
	const struct tool *t;
	const char *in;         /* its arguments' rows */
	const struct json *j;
	int args;               /* token of arguments, or -1 */
	struct api *a;
	struct buf out;         /* the result object */
	void **keep;            /* freed with the call: S(), strs() */
	size_t nkeep;
	const char *const *kv;  /* a resource's arguments: name, value... */
	struct buf *raw;        /* for a resource: read_file's content */
	int bin;                /* ... is base64 */
	struct buf body;        /* a reply (get_json, op_get, op_list) */
	struct json rj;         /* ... parsed */
	struct jw w;            /* last: the fields above stay near */
};

static int t_run(struct tc *), t_images(struct tc *), t_image(struct tc *),
    t_import(struct tc *), t_tag(struct tc *), t_upload(struct tc *),
    t_download(struct tc *), t_rsync(struct tc *), t_ls(struct tc *),
    t_read(struct tc *), t_grep(struct tc *), t_whoami(struct tc *), t_ops(struct tc *),
    t_op(struct tc *), t_wait(struct tc *), t_cancel(struct tc *),
    t_regtok(struct tc *), t_regauth(struct tc *), t_guide(struct tc *),
    t_explore(struct tc *), t_diff(struct tc *);

/* Their texts are mcp.def's, in this order. */
static const struct tool tools[] = {
	{t_run, M_T_RUN, OPEN},
	{t_images, M_T_LIST_IMAGES, RO | IDEM | OPEN},
	{t_image, M_T_GET_IMAGE, RO | IDEM | OPEN},
	{t_import, M_T_IMPORT_IMAGE, OPEN},
	{t_tag, M_T_SET_TAG, DESTR | IDEM | OPEN},
	{t_upload, M_T_UPLOAD, IDEM | OPEN},
	{t_download, M_T_DOWNLOAD, DESTR | IDEM | OPEN},
	{t_rsync, M_T_RSYNC, IDEM | OPEN},
	{t_ls, M_T_LIST_FILES, RO | IDEM | OPEN},
	{t_read, M_T_READ_FILE, RO | IDEM | OPEN},
	{t_grep, M_T_GREP, RO | IDEM | OPEN},
	{t_whoami, M_T_WHOAMI, RO | IDEM | OPEN},
	{t_ops, M_T_LIST_OPERATIONS, RO | IDEM | OPEN},
	{t_op, M_T_GET_OPERATION, RO | IDEM | OPEN},
	{t_wait, M_T_WAIT_OPERATIONS, RO | IDEM | OPEN},
	{t_cancel, M_T_CANCEL_OPERATION, DESTR | IDEM | OPEN},
	{t_regtok, M_T_REGISTRY_TOKEN_OBTAIN, RO | IDEM | LOCAL},
	{t_regauth, M_T_REGISTRY_AUTH, IDEM | LOCAL},
	{t_explore, M_T_EXPLORE, OPEN},
	{t_diff, M_T_DIFF, RO | IDEM | OPEN},
	{t_guide, M_T_GET_GUIDE, RO | IDEM | LOCAL},
};

/* Field k of tool t's text: 0 name, 1 title, 2 description, 3
 * arguments, 4 result fields. */
static const char *
tool_text(const struct tool *t, int k)
{
	return mcp_field(mcp_text(t->text), k);
}

/* ---- writing results ---- */

/* A result {key: [...]} into res: begun, ended. */
static void
list_begin(struct jw *w, struct buf *res, const char *key)
{
	jw_init(w, res, 0);
	jw_obj(w);
	jw_key(w, key);
	jw_arr(w);
}

static int
list_end(struct jw *w)
{
	jw_arr_end(w);
	jw_obj_end(w);
	return 0;
}

/* ---- schemas and arguments ---- */

/* The row at *p into a, and *p past it; 0 at the end. */
static int
arg_next(const char **p, struct arg *a)
{
	const char *s = *p, *e;

	if (!*s)
		return 0;
	if (!(e = strchr(s, '\n')))
		e = s + strlen(s);
	*p = *e ? e + 1 : e;
	memset(a, 0, sizeof *a);
	a->hi = -1;
	a->name = s;
	while (*s != ':')
		s++;
	a->nname = (int)(s - a->name);
	a->type = *++s;
	for (s++; s < e && *s != ' '; s++) {
		if (*s == '!')
			a->req = 1;
		else if (*s == '?')
			a->nul = 1;
		else if (*s == '(') {
			for (a->choices = ++s; *s != ')'; s++)
				;
			a->nchoices = (int)(s - a->choices);
		} else if (*s == '#') {
			a->lo = atoi(++s);
			s += strspn(s, "0123456789");
			a->hi = LONG_MAX;
			if (*s == '-') {
				a->hi = atoi(++s);
				s += strspn(s, "0123456789");
			}
			s--;
		} else if (*s == '=') {
			if (*(a->def = ++s) == '"')     /* may hold spaces */
				while (*++s != '"')
					;
			while (s < e && *s != ' ')
				s++;
			a->ndef = (int)(s-- - a->def);
		}
	}
	if (s < e) {
		a->desc = s + 1;
		a->ndesc = (int)(e - s - 1);
	}
	return 1;
}

static int
arg_find(const char *spec, const char *name, struct arg *a)
{
	size_t n = strlen(name);

	while (arg_next(&spec, a))
		if ((size_t)a->nname == n && strncmp(a->name, name, n) == 0)
			return 1;
	return 0;
}

/* 1 if s is one of a's choices. */
static int
is_choice(const struct arg *a, const char *s)
{
	const char *c = a->choices, *end = c + a->nchoices, *bar;
	size_t n = strlen(s);

	for (; c < end; c = bar + 1) {
		if (!(bar = memchr(c, '|', (size_t)(end - c))))
			bar = end;
		if ((size_t)(bar - c) == n && strncmp(c, s, n) == 0)
			return 1;
	}
	return 0;
}

static void
key(struct jw *w, const char *p, int n)
{
	char *k = xstrndup(p, (size_t)n);

	jw_key(w, k);
	free(k);
}

static void
schema(struct jw *w, const char *spec, int input)
{
	static const char types[] = "sinboaAepu";
	static const char *const names[] = {
		"string", "integer", "number", "boolean", "object", "array",
		"array", "string", "string", "string"
	};
	const char *p = spec, *c, *bar;
	struct arg a;
	struct json d;

	jw_obj(w);
	jw_kstr(w, "type", "object");
	jw_kobj(w, "properties");
	while (arg_next(&p, &a)) {
		const char *ty = names[strchr(types, a.type) - types];

		key(w, a.name, a.nname);
		jw_obj(w);
		jw_key(w, "type");
		if (a.nul)
			jw_arr(w);
		jw_str(w, ty);
		if (a.nul) {
			jw_str(w, "null");
			jw_arr_end(w);
		}
		if (a.type == 'a' || a.type == 'A' || (input && a.type == 'o')) {
			jw_kobj(w, a.type == 'o' ? "additionalProperties" : "items");
			jw_kstr(w, "type", a.type == 'A' ? "object" : "string");
			jw_obj_end(w);
		}
		if (a.choices) {
			jw_key(w, "enum");
			jw_arr(w);
			for (c = a.choices; c < a.choices + a.nchoices; c = bar + 1) {
				if (!(bar = memchr(c, '|', (size_t)(a.choices +
				    a.nchoices - c))))
					bar = a.choices + a.nchoices;
				jw_strn(w, c, (size_t)(bar - c));
			}
			jw_arr_end(w);
		}
		if (a.hi >= a.lo) {
			jw_kint(w, "minimum", a.lo);
			if (a.hi < LONG_MAX)
				jw_kint(w, "maximum", a.hi);
		}
		if (a.def && json_parse_alloc(&d, a.def, (size_t)a.ndef) == 0) {
			jw_key(w, "default");
			jw_tok(w, &d, 0);
			json_free(&d);
		}
		if (a.desc) {
			jw_key(w, "description");
			jw_strn(w, a.desc, (size_t)a.ndesc);
		}
		jw_obj_end(w);
	}
	jw_obj_end(w);
	jw_key(w, "required");
	jw_arr(w);
	for (p = spec; arg_next(&p, &a);)
		if (a.req)
			jw_strn(w, a.name, (size_t)a.nname);
	jw_arr_end(w);
	if (input) {
		jw_kbool(w, "additionalProperties", 0);
	}
	jw_obj_end(w);
}

/* Does value t fit a?  NULL, or what was expected. */
static const char *
misfit(const struct json *j, int t, const struct arg *a)
{
	static char range[48];
	enum json_type ty = j->tok[t].type;
	const char *why;
	int64_t v;
	char *s;
	int c, ok;

	switch (a->type) {
	case 's':
	case 'p':
	case 'u':
		if (ty != JSON_STRING)
			return "a string";
		/* U+0000 cannot be passed on (json_strdup refuses it) */
		s = json_strdup(j, t);
		why = !s ? "a string without U+0000" :
		    a->type == 'p' && *s != '/' ? "an absolute path" :
		    a->type == 'u' && !is_uuid(s) ? "a UUID" : NULL;
		free(s);
		return why;
	case 'i':
		if (ty != JSON_NUMBER || json_int64(j, t, &v) < 0)
			return "an integer";
		if (a->hi < a->lo || (v >= a->lo && v <= a->hi))
			return NULL;
		snprintf(range, sizeof range, a->hi < LONG_MAX ? "%ld to %ld" :
		    "%ld or more", a->lo, a->hi);
		return range;
	case 'n':
		return ty == JSON_NUMBER ? NULL : "a number";
	case 'b':
		return ty == JSON_TRUE || ty == JSON_FALSE ? NULL :
		    "true or false";
	case 'o':
	case 'a':
		if (ty != (a->type == 'o' ? JSON_OBJECT : JSON_ARRAY))
			return a->type == 'o' ? "an object of strings" :
			    "an array of strings";
		for (c = json_first(j, t); c >= 0; c = json_after(j, c)) {
			int e = c + (a->type == 'o');

			if (j->tok[e].type != JSON_STRING ||
			    !(s = json_strdup(j, e)))
				return a->type == 'o' ? "an object of strings" :
				    "an array of strings";
			free(s);
			if (e != c) {
				if (!(s = json_strdup(j, c)))
					return "an object of strings";
				free(s);
			}
		}
		return NULL;
	case 'e':
		s = json_strdup(j, t);
		ok = s && is_choice(a, s);
		free(s);
		return ok ? NULL : "one of the values its schema lists";
	}
	return NULL;
}

/* Check arguments token args (-1: none) against t's; -1 with the slot
 * naming the argument. */
static int
check_args(const struct tool *t, const struct json *j, int args)
{
	const char *in = tool_text(t, 3), *p = in, *why;
	struct arg a;
	char *k;
	int c;

	if (args >= 0 && j->tok[args].type != JSON_OBJECT) {
		seterr("arguments must be an object");
		return -1;
	}
	for (c = args < 0 ? -1 : json_first(j, args); c >= 0;
	    c = json_after(j, c)) {
		k = json_strdup(j, c);
		if (!k || !arg_find(in, k, &a)) {
			seterr("unknown argument '%s' for tool %s", k ? k : "?",
			    tool_text(t, 0));
			free(k);
			return -1;
		}
		free(k);
		if (j->tok[c + 1].type == JSON_NULL && !a.req)
			continue;
		if ((why = misfit(j, c + 1, &a))) {
			seterr("argument '%.*s' must be %s", a.nname, a.name, why);
			return -1;
		}
	}
	while (arg_next(&p, &a)) {
		if (!a.req)
			continue;
		k = xstrndup(a.name, (size_t)a.nname);
		c = args < 0 ? -1 : json_get(j, args, k);
		free(k);
		if (c < 0 || j->tok[c].type == JSON_NULL) {
			seterr("missing required argument '%.*s'", a.nname, a.name);
			return -1;
		}
	}
	return 0;
}

/* The value token of argument name, or -1 (absent or null). */
static int
T(struct tc *c, const char *name)
{
	int t = c->args < 0 ? -1 : json_get(c->j, c->args, name);

	return t >= 0 && c->j->tok[t].type != JSON_NULL ? t : -1;
}

static void *
keep(struct tc *c, void *p)
{
	c->keep = xreallocarray(c->keep, c->nkeep + 1, sizeof *c->keep);
	return c->keep[c->nkeep++] = p;
}

/* String argument (or its default), or NULL; valid during the call. */
static const char *
S(struct tc *c, const char *name)
{
	struct arg a;
	struct json d;
	char *s = NULL;
	int t = T(c, name);

	if (t >= 0)
		return keep(c, json_strdup(c->j, t));
	for (t = 0; c->kv && c->kv[t]; t += 2)
		if (strcmp(c->kv[t], name) == 0)
			return c->kv[t + 1];
	if (arg_find(c->in, name, &a) && a.def &&
	    json_parse_alloc(&d, a.def, (size_t)a.ndef) == 0) {
		s = json_strdup(&d, 0);
		json_free(&d);
	}
	return keep(c, s);
}

/* Argument name, an array of strings (into *v) or an object of strings
 * (keys into *k, values into *v): the count; all kept for the call. */
static size_t
strs(struct tc *c, const char *name, char ***k, char ***v)
{
	int t = T(c, name), e, obj = t >= 0 &&
	    c->j->tok[t].type == JSON_OBJECT;
	size_t n = 0;

	for (e = t < 0 ? -1 : json_first(c->j, t); e >= 0;
	    e = json_after(c->j, e))
		n++;
	*v = keep(c, xcalloc(n + 1, sizeof **v));
	if (k)
		*k = keep(c, xcalloc(n + 1, sizeof **k));
	n = 0;
	for (e = t < 0 ? -1 : json_first(c->j, t); e >= 0;
	    e = json_after(c->j, e)) {
		if (k)
			(*k)[n] = keep(c, json_strdup(c->j, e));
		(*v)[n++] = keep(c, json_strdup(c->j, e + obj));
	}
	return n;
}

static long long
I(struct tc *c, const char *name)
{
	struct arg a;
	int64_t v = 0;
	int t = T(c, name);

	if (t >= 0 && json_int64(c->j, t, &v) == 0)
		return v;
	return arg_find(c->in, name, &a) && a.def ? atoi(a.def) : 0;
}

static int
B(struct tc *c, const char *name)
{
	struct arg a;
	int t = T(c, name);

	if (t >= 0)
		return json_bool(c->j, t) == 1;
	return arg_find(c->in, name, &a) && a.def &&
	    strncmp(a.def, "true", 4) == 0;
}

/* ---- results ---- */

/* content + structuredContent from the object in c->out (closed here),
 * or an isError result from the slot. */
static void
tool_result(struct tc *c, int rc, struct buf *res)
{
	struct jw w;

	jw_obj_end(&c->w);
	jw_init(&w, res, 0);
	buf_puts(res, "{\"content\":[{\"type\":\"text\",\"text\":");
	if (rc < 0) {
		jw_str(&w, *geterr() ? geterr() : "failed");
		buf_puts(res, "}],\"isError\":true}");
		return;
	}
	jw_strn(&w, c->out.p, c->out.len);
	buf_puts(res, "}],\"structuredContent\":");
	buf_add(res, c->out.p, c->out.len);
	buf_addc(res, '}');
}

static void
tc_free(struct tc *c)
{
	while (c->nkeep)
		free(c->keep[--c->nkeep]);
	free(c->keep);
	buf_free(&c->out);
	buf_free(&c->body);
	json_free(&c->rj);
}

static void
tc_init(struct tc *c, struct mcp_req *r, const struct tool *t)
{
	memset(c, 0, sizeof *c);
	c->r = r;
	c->t = t;
	c->in = tool_text(t, 3);
	c->j = r->j;
	c->args = r->params < 0 ? -1 :
	    json_get(r->j, r->params, "arguments");
	if (c->args >= 0 && r->j->tok[c->args].type == JSON_NULL)
		c->args = -1;
	jw_init(&c->w, &c->out, 0);
	jw_obj(&c->w);          /* the result object, closed by tool_result */
}

/* In a job: the call's tool against the API. */
static int
tool_job(struct mcp_req *r)
{
	struct tc c;
	struct buf res = {0};
	int rc;

	tc_init(&c, r, r->user);
	clearerr_slot();
	if (!(c.a = ctx_api(C))) {
		rc = -1;
	} else {
		api_forget(c.a);
		rc = c.t->fn(&c);
	}
	tool_result(&c, rc, &res);
	mcp_answer(r, &res);
	buf_free(&res);
	tc_free(&c);
	return 0;
}

/* ---- methods ---- */

static const struct tool *
tool_find(const char *name)
{
	const struct tool *t;

	for (t = tools; t < tools + LEN(tools); t++)
		if (strcmp(tool_text(t, 0), name) == 0)
			return t;
	return NULL;
}

static int
m_tools_list(struct mcp_req *r, struct buf *res)
{
	const struct tool *t;
	struct jw w;

	(void)r;
	list_begin(&w, res, "tools");
	for (t = tools; t < tools + LEN(tools); t++) {
		jw_obj(&w);
		jw_kstr(&w, "name", tool_text(t, 0));
		jw_kstr(&w, "title", tool_text(t, 1));
		jw_kstr(&w, "description", tool_text(t, 2));
		jw_key(&w, "inputSchema");
		schema(&w, tool_text(t, 3), 1);
		jw_key(&w, "outputSchema");
		schema(&w, tool_text(t, 4), 0);
		jw_kobj(&w, "annotations");
		jw_kstr(&w, "title", tool_text(t, 1));
		jw_kbool(&w, "readOnlyHint", t->flags & RO);
		jw_kbool(&w, "destructiveHint", (t->flags & DESTR) != 0);
		jw_kbool(&w, "idempotentHint", (t->flags & IDEM) != 0);
		jw_kbool(&w, "openWorldHint", (t->flags & OPEN) != 0);
		jw_obj_end(&w);
		jw_obj_end(&w);
	}
	return list_end(&w);
}

static int
m_tools_call(struct mcp_req *r, struct buf *res)
{
	const struct tool *t;
	struct tc c;
	char *name;
	int rc, nt;

	nt = r->params < 0 ? -1 : json_get(r->j, r->params, "name");
	name = nt < 0 ? NULL : json_strdup(r->j, nt);
	if (!name || !(t = tool_find(name))) {
		seterr("Unknown tool: %s", name ? name : "(no name)");
		free(name);
		return MCP_EPARAMS;
	}
	free(name);
	tc_init(&c, r, t);
	r->user = t;
	if (check_args(t, r->j, c.args) < 0) {
		rc = -1;
	} else if (!(t->flags & LOCAL)) {
		tc_free(&c);
		return mcp_job(r, tool_job);
	} else {
		rc = t->fn(&c);
	}
	tool_result(&c, rc, res);
	tc_free(&c);
	return 0;
}

/* ---- helpers of the tools ---- */

static int
resolve(struct tc *c, const char *ref, char uuid[37])
{
	if (!ref || !*ref) {
		seterr("no image given");
		return -1;
	}
	return api_image_resolve(c->a, ref, uuid);
}

/* A string member of object t (or null) under key. */
static void
copy_str(struct jw *w, const struct json *j, int t, const char *key,
    const char *as)
{
	int v = t < 0 ? -1 : json_get(j, t, key);

	jw_key(w, as ? as : key);
	if (v >= 0 && j->tok[v].type == JSON_STRING)
		jw_tok(w, j, v);
	else
		jw_null(w);
}

/* key: the bytes of b as a string; key: an exit code, or null without
 * one; key "status": the status's name. */
static void
kbuf(struct jw *w, const char *k, const struct buf *b)
{
	jw_key(w, k);
	jw_strn(w, b->p ? b->p : "", b->len);
}

static void
kcode(struct jw *w, int has, long long code)
{
	jw_key(w, "exit_code");
	if (has)
		jw_int(w, code);
	else
		jw_null(w);
}

static void
kstatus(struct jw *w, enum opstatus st)
{
	jw_kstr(w, "status", op_status_name(st) ? op_status_name(st) :
	    "UNKNOWN");
}

/* The flat shape of an operation record j (token 0). */
static void
op_flat(struct jw *w, const struct json *j, const char *uuid,
    const char *image)
{
	struct buf b = {0};
	long long code;
	char *s;
	int t, tr, inst, has;

	jw_kstr(w, "operation_id", uuid);
	jw_kstr(w, "uuid", uuid);
	copy_str(w, j, 0, "kind", NULL);
	kstatus(w, op_status(j, 0));
	copy_str(w, j, 0, "error", NULL);
	copy_str(w, j, 0, "created_at", NULL);
	t = json_get(j, 0, "duration");
	jw_key(w, "duration");
	if (t >= 0 && j->tok[t].type == JSON_NUMBER)
		jw_tok(w, j, t);
	else
		jw_null(w);
	t = json_get(j, 0, "kind");
	inst = t < 0 || json_streq(j, t, "instance");
	if (inst) {
		has = op_exit_code(j, &code);   /* before code is read */
		kcode(w, has, code);
		jw_kbool(w, "timed_out", op_timed_out(j));
		op_stream(j, "stdout", &b, &tr);
		kbuf(w, "stdout", &b);
		jw_kbool(w, "stdout_truncated", tr);
		buf_reset(&b);
		op_stream(j, "stderr", &b, &tr);
		kbuf(w, "stderr", &b);
		jw_kbool(w, "stderr_truncated", tr);
		buf_free(&b);
		if (image) {
			jw_kstr(w, "image_uuid", image);
		} else {
			copy_str(w, j, json_get(j, 0, "metadata"), "image",
			    "image_uuid");
		}
	}
	s = op_result_image(j);
	jw_kstr(w, "result_image_uuid", s);
	free(s);
	copy_str(w, j, json_get(j, 0, "result"), "tag", NULL);
}

/* The newest entry of the session log that holds img as its own image
 * (a use or a kept run; not a disposable or detached run, whose image
 * is where it started), or NULL. */
static const struct store_entry *
producer(const struct store_entry **e, size_t n, const char *img)
{
	while (n-- > 0)
		if (strcmp(e[n]->image, img) == 0 &&
		    strcmp(e[n]->kind, STORE_RUN_DISPOSABLE) != 0 &&
		    strcmp(e[n]->kind, STORE_RUN_DETACHED) != 0)
			return e[n];
	return NULL;
}

/* Record a run in the session log (design.md §3): the image it started
 * from (a `use` entry unless an entry of the session already has it),
 * then the run.  Failures are logged, never the call's failure. */
static void
record(const char *img, const char *ref, const char *title,
    const char *uuid, const struct json *j, int disp)
{
	struct store *st = ctx_store(C);
	const struct store_entry **e, *p;
	struct op_rec rec = { C->session, NULL, ref, img, title, uuid, 0,
	    disp };
	size_t ne = 0;

	if (st) {
		e = store_entries(st, C->session, &ne);
		if ((p = producer(e, ne, img)))
			rec.from = p->id;
		else
			rec.useimg = img;
		free(e);
		if (op_record(st, &rec, j, NULL) >= 0)
			return;
	}
	mcp_log(LOG_WARNING, geterr());
	logmsg(LOG_WARNING, "not recorded in the session log: %s", geterr());
}

/* The files of a directory state (rsync) as op_file rows appended to
 * *f; its lines "mode uuid dest".  0 or -1. */
static char *
state_path(const char *id)
{
	return xasprintf("%s/cli/mcp-states/%s", C->home, id);
}

static int
state_load(const char *id, struct buf *text, struct op_file **f,
    size_t *n)
{
	char *path, *p, *nl;

	if (strspn(id, "0123456789abcdef") != 64 || id[64]) {
		seterr("directory_state_id '%s' is not one rsync gave", id);
		return -1;
	}
	path = state_path(id);
	if (readfile(path, text) < 0) {
		free(path);
		seterr(mcp_text(M_E_STATE_UNKNOWN), id);
		return -1;
	}
	free(path);
	for (p = text->p; p && *p; p = nl) {
		char *sp1, *sp2;

		if ((nl = strchr(p, '\n')))
			*nl++ = '\0';
		if (!(sp1 = strchr(p, ' ')) || !(sp2 = strchr(sp1 + 1, ' ')))
			continue;
		*sp1 = *sp2 = '\0';
		*f = xreallocarray(*f, *n + 1, sizeof **f);
		memset(&(*f)[*n], 0, sizeof **f);
		(*f)[*n].mode = (unsigned)strtoul(p, NULL, 8);
		(*f)[*n].uuid = sp1 + 1;
		(*f)[*n].dest = sp2 + 1;
		(*n)++;
	}
	return 0;
}

/* POST a run (mk set) or an import, the cancel (SIGINT, mcp.c) held
 * back until the server's answer names the operation: a call cancelled
 * meanwhile cancels it then, so nothing is left running and nothing is
 * recorded.  0 with uuid set, or -1. */
static int
spawn(struct tc *c, const char *body, const char *mk, char uuid[37])
{
	struct buf reply = {0};
	sigset_t s, old;
	int rc;

	sigemptyset(&s);
	sigaddset(&s, SIGINT);
	sigprocmask(SIG_BLOCK, &s, &old);
	if (mk)
		mcp_starting(c->r, mk);
	rc = mk ? op_spawn(c->a, body, mk, &reply, uuid) :
	    op_import(c->a, body, uuid);
	sigprocmask(SIG_SETMASK, &old, NULL);   /* a held SIGINT lands */
	buf_free(&reply);
	if (rc == 0 && interrupted) {
		op_cancel(c->a, uuid);
		seterrc(ERR_INTR, "cancelled");
		return -1;
	}
	if (rc == 0)
		mcp_started(c->r, uuid);
	return rc;
}

/* Wait for the operation uuid the call started; a cancelled call
 * cancels it.  0, or -1 with the slot set. */
static int
await(struct tc *c, const char *uuid, int fromevents, struct buf *b,
    struct json *j)
{
	if (op_wait(c->a, C->home, uuid, fromevents, b, j) == 0)
		return 0;
	api_set_deadline(c->a, 0);
	if (geterrclass() == ERR_INTR) {
		op_cancel(c->a, uuid);
		seterrc(ERR_INTR, "cancelled");
	} else {
		errwrap(mcp_text(M_E_MAY_RUN), uuid);
	}
	return -1;
}

/* ---- tools ---- */

static int
t_run(struct tc *c)
{
	struct op_run o;
	struct op_file *f = NULL;
	struct buf body = {0}, reply = {0}, st = {0};
	struct json j;
	char img[37], uuid[37], mk[33];
	const char *ref = S(c, "image"), *in, *cmd = S(c, "command");
	char **ek, **ev, **av = NULL;
	size_t nf = 0, k, n;
	int rc = -1, disp = B(c, "disposable");

	if (resolve(c, ref, img) < 0)
		return -1;
	memset(&o, 0, sizeof o);
	o.image = img;
	o.shell = B(c, "shell");
	o.disposable = disp;
	o.cwd = S(c, "cwd");
	o.timeout = I(c, "timeout");
	o.truncate = I(c, "truncate_output_at");
	if (o.shell) {
		o.command = cmd;
	} else {
		int nw;

		if (shsplit(cmd, &av, &nw) != 0 || nw < 1) {
			if (av)
				freewords(av);
			seterr("argument 'command' has no program to run");
			return -1;
		}
		o.command = av[0];
		o.args = av + 1;
		o.nargs = (size_t)nw - 1;
	}
	o.nenv = strs(c, "env", &ek, &ev);
	o.envk = ek;
	o.envv = ev;
	if ((in = S(c, "stdin"))) {
		o.stdin_data = in;
		o.stdin_len = strlen(in);
		o.has_stdin = 1;
	}
	if ((in = S(c, "directory_state_id")) && state_load(in, &st, &f, &nf) < 0)
		goto out;
	n = strs(c, "files", &ek, &ev);
	for (k = 0; k < n; k++) {
		if (*ek[k] != '/' || !is_uuid(ev[k])) {
			seterr("%s", mcp_text(M_E_FILES));
			goto out;
		}
		f = xreallocarray(f, nf + 1, sizeof *f);
		memset(&f[nf], 0, sizeof *f);
		f[nf].dest = ek[k];
		f[nf].uuid = ev[k];
		f[nf++].mode = 0644;
	}
	o.files = f;
	o.nfiles = nf;
	if (op_marker(mk) < 0)
		goto out;
	op_run_json(&o, mk, &body);
	if (spawn(c, body.p, mk, uuid) < 0)
		goto out;
	if (!B(c, "wait")) {
		record(img, ref, cmd, uuid, NULL, disp);
		jw_kstr(&c->w, "operation_id", uuid);
		jw_kstr(&c->w, "uuid", uuid);
		jw_kstr(&c->w, "status", "PENDING");
		jw_kstr(&c->w, "image_uuid", img);
		rc = 0;
		goto out;
	}
	api_set_deadline(c->a, now_ms() + (o.timeout + WAIT_MARGIN) * 1000);
	if (await(c, uuid, 1, &reply, &j) < 0)
		goto out;
	record(img, ref, cmd, uuid, &j, disp);
	op_flat(&c->w, &j, uuid, img);
	json_free(&j);
	rc = 0;
out:
	if (av)
		freewords(av);
	free(f);
	buf_free(&body);
	buf_free(&reply);
	buf_free(&st);
	return rc;
}

/* GET path (query may be NULL) into c->body, parsed into c->rj (both
 * freed with the call).  0 or -1. */
static int
get_json(struct tc *c, const char *path, const char *const *query)
{
	struct api_resp r;

	memset(&r, 0, sizeof r);
	r.body = &c->body;
	if (api_call(c->a, "GET", path, query, NULL, 0, &r) < 0)
		return -1;
	if (json_parse_alloc(&c->rj, c->body.p ? c->body.p : "",
	    c->body.len) < 0) {
		seterr("malformed reply to GET %s: %s", path,
		    json_strerror(&c->rj));
		return -1;
	}
	return 0;
}

/* The string members keys ("a\0b\0", NULL if absent) of object t. */
static void
copy_strs(struct jw *w, const struct json *j, int t, const char *keys)
{
	for (; *keys; keys += strlen(keys) + 1)
		copy_str(w, j, t, keys, NULL);
}

/* The objects of array arr of c->rj (-1: none) as key: [...], their
 * string members keys. */
static void
copy_rows(struct tc *c, const char *key, int arr, const char *keys)
{
	const struct json *j = &c->rj;
	int e;

	jw_key(&c->w, key);
	jw_arr(&c->w);
	for (e = arr < 0 ? -1 : json_first(j, arr); e >= 0;
	    e = json_after(j, e)) {
		jw_obj(&c->w);
		copy_strs(&c->w, j, e, keys);
		jw_obj_end(&c->w);
	}
	jw_arr_end(&c->w);
}

#define IMAGE_KEYS "uuid\0tag\0created_at\0"

/* Query pairs into q (NULL ended) from the arguments names, words ARG or
 * ARG=NAME: integers in digits, a true boolean as 1, since and until as
 * UTC times, other strings as given; absent, false or empty ones left
 * out.  0, or -1 with the slot set. */
static int
query(struct tc *c, const char **q, const char *names)
{
	const char *p = names, *v;
	char *w, *eq;
	struct arg a;
	long long t;
	int n = 0;

	while (*p) {
		w = keep(c, xstrndup(p, strcspn(p, " ")));
		p += strlen(w) + (p[strlen(w)] == ' ');
		if ((eq = strchr(w, '=')))
			*eq++ = '\0';
		arg_find(c->in, w, &a);
		if (a.type == 'i')
			v = keep(c, xasprintf("%lld", I(c, w)));
		else if (a.type == 'b')
			v = B(c, w) ? "1" : NULL;
		else if ((v = S(c, w)) && *v && strstr("since until", w)) {
			if (parse_when(v, &t) < 0)
				return errwrap("argument '%s'", w), -1;
			iso_utc(t, keep(c, xmalloc(32)), 32);
			v = c->keep[c->nkeep - 1];
		}
		if (v && *v) {
			q[n++] = eq ? eq : w;
			q[n++] = v;
		}
	}
	q[n] = NULL;
	return 0;
}

static int
t_images(struct tc *c)
{
	const char *q[16];

	if (query(c, q, "limit offset tagged tag_prefix=tag since until") < 0 ||
	    get_json(c, "/images", q) < 0)
		return -1;
	copy_rows(c, "images", c->rj.tok[0].type == JSON_ARRAY ? 0 :
	    json_get(&c->rj, 0, "images"), IMAGE_KEYS);
	return 0;
}

static int
image_get(struct tc *c, const char *uuid)
{
	char *path = xasprintf("/inspect/%s/", uuid);
	int rc = get_json(c, path, NULL);

	if (rc == 0)
		copy_strs(&c->w, &c->rj, 0, IMAGE_KEYS);
	free(path);
	return rc;
}

static int
t_image(struct tc *c)
{
	char u[37];

	if (resolve(c, S(c, "image"), u) < 0)
		return -1;
	return image_get(c, u);
}

static int
t_tag(struct tc *c)
{
	struct api_resp r;
	const char *tag = S(c, "tag");
	char u[37], *path;
	int rc;

	if (resolve(c, S(c, "image_uuid"), u) < 0)
		return -1;
	if (tag && *tag)
		return api_image_tag(c->a, u, tag) < 0 ? -1 : image_get(c, u);
	path = xasprintf("/images/%s/tag", u);
	memset(&r, 0, sizeof r);
	rc = api_call(c->a, "DELETE", path, NULL, NULL, 0, &r);
	free(path);
	return rc < 0 ? -1 : image_get(c, u);
}

/* ---- local files under the root ---- */

static int
within(const char *p)
{
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return 1;
	return strncmp(p, root, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

/* Argument arg's local path p, resolved (symlinks too) under the root:
 * malloc'd, or NULL with the slot set.  With must_exist 0 the file may
 * be missing, but its directory must be there. */
static char *
local_path(const char *arg, const char *p, int must_exist)
{
	struct stat sb;
	char *lex = join_path(root, p), *real = NULL, *slash, *dir;

	if (!within(lex))
		goto out;
	if (must_exist || lstat(lex, &sb) == 0) {
		if (!(real = realpath(lex, NULL))) {
			seterr("argument '%s': %s:", arg, p);
			free(lex);
			return NULL;
		}
	} else {
		slash = strrchr(lex, '/');
		dir = slash == lex ? xstrdup("/") :
		    xstrndup(lex, (size_t)(slash - lex));
		if ((real = realpath(dir, NULL))) {
			char *full = xasprintf("%s/%s", strcmp(real, "/") ?
			    real : "", slash + 1);

			free(real);
			real = full;
		} else {
			seterr("argument '%s': directory of %s:", arg, p);
			free(dir);
			free(lex);
			return NULL;
		}
		free(dir);
	}
	if (within(real)) {
		free(lex);
		return real;
	}
out:
	seterr(mcp_text(M_E_OUTSIDE_ROOT), arg, p,
	    root);
	free(real);
	free(lex);
	return NULL;
}

static int
upload_one(struct tc *c, const char *host, const char *home, long long *size)
{
	struct filelist l;
	int rc;

	memset(&l, 0, sizeof l);
	if (files_add(&l, host, "/upload") < 0 ||
	    files_upload(c->a, home, &l) < 0) {
		files_free(&l);
		return -1;
	}
	jw_kstr(&c->w, "uuid", l.f[0].uuid);
	jw_kstr(&c->w, "sha256", l.f[0].sha);
	*size = l.f[0].st.st_size;
	jw_kint(&c->w, "size", *size);
	rc = 0;
	files_free(&l);
	return rc;
}

static int
t_upload(struct tc *c)
{
	const char *p = S(c, "path"), *text = S(c, "content");
	const char *b64 = S(c, "content_base64"), *dir;
	struct buf bytes = {0};
	char *host, *tmp;
	long long size;
	int fd, rc;

	if (!!p + !!text + !!b64 != 1) {
		seterr("%s", mcp_text(M_E_UPLOAD_ONE));
		return -1;
	}
	if (p) {
		if (!(host = local_path("path", p, 1)))
			return -1;
		rc = upload_one(c, host, C->home, &size);
		free(host);
		return rc;
	}
	if (text)
		buf_add(&bytes, text, strlen(text));
	else if (b64_decode(&bytes, b64, strlen(b64)) < 0) {
		buf_free(&bytes);
		seterr("argument 'content_base64' is not valid base64");
		return -1;
	}
	dir = getenv("TMPDIR");
	tmp = xasprintf("%s/contree-mcp-XXXXXX", dir && *dir ? dir : "/tmp");
	if ((fd = mkstemp(tmp)) >= 0)
		mcp_temp(c->r, tmp);
	if (fd < 0 ||
	    writeall(fd, bytes.p ? bytes.p : "", bytes.len) < 0) {
		seterr("temporary file %s:", tmp);
		rc = -1;
	} else {
		rc = upload_one(c, tmp, NULL, &size);
	}
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	buf_free(&bytes);
	return rc;
}

static int
t_download(struct tc *c)
{
	const char *path = S(c, "path"), *dest = S(c, "destination");
	const char *q[3];
	struct api_resp r;
	struct stat sb;
	char u[37], *local, *tmp, *url;
	off_t size = 0;
	int fd, rc, x = B(c, "executable");

	if (!(local = local_path("destination", dest, 0)))
		return -1;
	if (stat(local, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		seterr(mcp_text(M_E_DESTINATION_DIR), dest);
		free(local);
		return -1;
	}
	if (resolve(c, S(c, "image"), u) < 0 ||
	    (fd = dest_open(local, &tmp)) < 0) {
		free(local);
		return -1;
	}
	if (tmp)
		mcp_temp(c->r, tmp);
	url = xasprintf("/inspect/%s/download", u);
	q[0] = "path";
	q[1] = path;
	q[2] = NULL;
	memset(&r, 0, sizeof r);
	rc = api_download(c->a, url, q, fd, NULL, NULL, &r);
	if (rc < 0 && r.status == 404)
		seterr("no file %s in image %s", path, u);
	rc = dest_close(fd, tmp, local, rc, &size);
	if (rc == 0 && x && chmod(local, 0755) < 0) {
		seterr("%s:", local);
		rc = -1;
	}
	if (rc == 0) {
		jw_kbool(&c->w, "success", 1);
		jw_kobj(&c->w, "source");
		jw_kstr(&c->w, "image", u);
		jw_kstr(&c->w, "path", path);
		jw_obj_end(&c->w);
		jw_kstr(&c->w, "destination", local);
		jw_kint(&c->w, "size", (int64_t)size);
		jw_kbool(&c->w, "executable", x);
	}
	free(url);
	free(tmp);
	free(local);
	return rc;
}

static int
cmpfile(const void *a, const void *b)
{
	return strcmp(((const struct hostfile *)a)->dest,
	    ((const struct hostfile *)b)->dest);
}

static int
t_rsync(struct tc *c)
{
	const char *dst = S(c, "destination");
	struct filelist l;
	struct buf st = {0};
	char **pats, *src, *spec, *path, id[65];
	size_t i, k, up = 0;
	int rc = -1;

	if (!(src = keep(c, local_path("source", S(c, "source"), 1))))
		return -1;
	i = strs(c, "exclude", NULL, &pats);
	memset(&l, 0, sizeof l);
	spec = keep(c, xasprintf("%s:%s", src, dst));
	if (files_collect(&spec, 1, pats, (int)i, &l) < 0)
		goto out;
	/* a symlink inside that leads out of the root stays home (the
	 * result's members are written as they come: failed, it is unused) */
	jw_key(&c->w, "skipped");
	jw_arr(&c->w);
	for (i = k = 0; i < l.n; i++) {
		char *real = realpath(l.f[i].host, NULL);

		if (real && within(real)) {
			l.f[k++] = l.f[i];
		} else {
			jw_str(&c->w, l.f[i].host);
			free(l.f[i].host);
			free(l.f[i].abs);
			free(l.f[i].dest);
		}
		free(real);
	}
	l.n = k;
	jw_arr_end(&c->w);
	if (files_upload(c->a, C->home, &l) < 0)
		goto out;
	if (l.n)
		qsort(l.f, l.n, sizeof *l.f, cmpfile);
	for (i = 0; i < l.n; i++) {
		buf_printf(&st, "%04o %s %s\n", l.f[i].mode & 07777,
		    l.f[i].uuid, l.f[i].dest);
		up += l.f[i].how == UP_SENT;
	}
	sha256_hex(st.p ? st.p : "", st.len, id);
	path = state_path(id);
	*strrchr(path, '/') = '\0';
	mkdirs(path, 0700);
	path[strlen(path)] = '/';
	if (writefile_cache(path, st.p ? st.p : "", st.len) < 0) {
		free(path);
		goto out;
	}
	free(path);
	jw_kstr(&c->w, "directory_state_id", id);
	jw_kstr(&c->w, "destination", dst);
	jw_kint(&c->w, "files", (int64_t)l.n);
	jw_kint(&c->w, "uploaded", (int64_t)up);
	rc = 0;
out:
	files_free(&l);
	buf_free(&st);
	return rc;
}

/* ---- reading images ---- */

/* The JSON listing of directory path of image u into body/j; -1 with
 * the slot set ("no directory ..." for a 404). */
static int
listing(struct tc *c, const char *u, const char *path, struct buf *body,
    struct json *j)
{
	int rc, status = 0;

	rc = api_inspect_get(c->a, inspect, u, "list", path, 0, body, &status);
	if (rc < 0) {
		if (status == 404 || status == 422)
			seterr("no directory %s in image %s", path, u);
		return -1;
	}
	if (json_parse_alloc(j, body->p ? body->p : "", body->len) < 0 ||
	    j->tok[0].type != JSON_OBJECT) {
		if (j->tok)
			json_free(j);
		seterr("no directory %s in image %s", path, u);
		return -1;
	}
	return 0;
}

static int
flag(const struct json *j, int t, const char *key)
{
	int v = json_get(j, t, key);

	return v >= 0 && json_bool(j, v) == 1;
}

static int
t_ls(struct tc *c)
{
	const char *path = S(c, "path");
	struct buf body = {0};
	struct json j;
	char u[37], mode[16], *name, *full;
	int arr, e, n = 0, v;
	int64_t m;

	if (resolve(c, S(c, "image"), u) < 0 ||
	    listing(c, u, path, &body, &j) < 0) {
		buf_free(&body);
		return -1;
	}
	arr = json_get(&j, 0, "files");
	jw_kstr(&c->w, "path", path);
	jw_key(&c->w, "files");
	jw_arr(&c->w);
	for (e = arr < 0 ? -1 : json_first(&j, arr); e >= 0;
	    e = json_after(&j, e), n++) {
		name = json_getstr(&j, e, "path");
		if (!name)
			continue;
		full = strchr(name, '/') ? xstrdup(name) :
		    xasprintf("%s/%s", strcmp(path, "/") ? path : "", name);
		jw_obj(&c->w);
		jw_kstr(&c->w, "name", strrchr(full, '/') + 1);
		jw_kstr(&c->w, "path", full);
		jw_kstr(&c->w, "type", flag(&j, e, "is_dir") ? "directory" :
		    flag(&j, e, "is_symlink") ? "symlink" :
		    flag(&j, e, "is_regular") ? "file" : "other");
		jw_key(&c->w, "size");
		v = json_get(&j, e, "size");
		jw_int(&c->w, v >= 0 && json_int64(&j, v, &m) == 0 ? m : 0);
		v = json_get(&j, e, "mode");
		if (v < 0 || json_int64(&j, v, &m) < 0)
			m = 0;
		snprintf(mode, sizeof mode, "%04o", (unsigned)m & 07777);
		jw_kstr(&c->w, "mode", mode);
		if (flag(&j, e, "is_symlink"))
			copy_str(&c->w, &j, e, "symlink_to", "target");
		jw_obj_end(&c->w);
		free(name);
		free(full);
	}
	jw_arr_end(&c->w);
	jw_kint(&c->w, "count", n);
	json_free(&j);
	buf_free(&body);
	return 0;
}

static int
t_read(struct tc *c)
{
	const char *path = S(c, "path");
	struct buf body = {0}, b64 = {0};
	struct json j;
	char u[37], *dir, *name;
	const char *base;
	int arr, e, found = -1, rc, status = 0, v;
	int64_t size = 0;

	if (*path != '/' || !path[1]) {
		seterr("argument 'path' must be an absolute path of a file");
		return -1;
	}
	if (resolve(c, S(c, "image"), u) < 0)
		return -1;
	/* the size first, from the (cached) listing of its directory */
	base = strrchr(path, '/') + 1;
	dir = base - 1 == path ? xstrdup("/") :
	    xstrndup(path, (size_t)(base - 1 - path));
	rc = listing(c, u, dir, &body, &j);
	free(dir);
	if (rc < 0) {
		buf_free(&body);
		seterr("no file %s in image %s", path, u);
		return -1;
	}
	arr = json_get(&j, 0, "files");
	for (e = arr < 0 ? -1 : json_first(&j, arr); e >= 0 && found < 0;
	    e = json_after(&j, e)) {
		name = json_getstr(&j, e, "path");
		if (name && strcmp(strrchr(name, '/') ? strrchr(name, '/') + 1 :
		    name, base) == 0)
			found = e;
		free(name);
	}
	if (found >= 0 && (v = json_get(&j, found, "size")) >= 0)
		json_int64(&j, v, &size);
	rc = found < 0 ? -1 : flag(&j, found, "is_dir") ? -2 : 0;
	json_free(&j);
	buf_reset(&body);
	if (rc == -1) {
		seterr("no file %s in image %s", path, u);
	} else if (rc == -2) {
		seterr("%s is a directory; use list_files", path);
		rc = -1;
	} else if (size > READ_MAX) {
		seterr(mcp_text(M_E_TOO_BIG),
		    path, (long long)size, READ_MAX);
		rc = -1;
	} else {
		rc = api_inspect_get(c->a, inspect, u, "file", path, 0, &body,
		    &status);
		if (rc < 0 && status == 404)
			seterr("no file %s in image %s", path, u);
	}
	if (rc == 0) {
		int text = !memchr(body.p ? body.p : "", 0, body.len) &&
		    utf8_valid(body.p, body.len, 0);
		struct buf *b = text ? &body : &b64;

		if (!text)
			b64_encode(&b64, body.p, body.len);
		jw_kstr(&c->w, "path", path);
		kbuf(&c->w, "content", b);
		jw_kstr(&c->w, "encoding", text ? "utf-8" : "base64");
		jw_kint(&c->w, "bytes_size", (int64_t)body.len);
		if (c->raw) {           /* a resource: the content itself */
			*c->raw = *b;
			memset(b, 0, sizeof *b);
			c->bin = !text;
		}
	}
	buf_free(&body);
	buf_free(&b64);
	return rc;
}

static int
t_grep(struct tc *c)
{
	const struct json *j = &c->rj;
	const char *q[10], *s;
	char u[37], *path, *file, *last = NULL;
	long long per = I(c, "max_count"), total = I(c, "max_total");
	long long n = 0, inf = 0;
	int k = 0, arr, e, more = 0;

	if (resolve(c, S(c, "image"), u) < 0)
		return -1;
	q[k++] = "pattern", q[k++] = S(c, "pattern");
	q[k++] = "path", q[k++] = S(c, "path");
	if ((s = S(c, "glob")))
		q[k++] = "glob", q[k++] = s;
	if (strcmp(S(c, "case"), "insensitive") == 0)
		q[k++] = "case", q[k++] = "insensitive";
	q[k] = NULL;
	path = xasprintf("/inspect/%s/grep", u);
	k = get_json(c, path, q);
	free(path);
	if (k < 0)
		return -1;
	arr = json_get(j, 0, "matches");
	jw_key(&c->w, "matches");
	jw_arr(&c->w);
	for (e = arr < 0 ? -1 : json_first(j, arr); e >= 0;
	    e = json_after(j, e)) {
		file = json_getstr(j, e, "path");
		if (!file || !last || strcmp(file, last) != 0)
			inf = 0;
		free(last);
		last = file;
		if ((per > 0 && inf >= per) || (total > 0 && n >= total)) {
			more = 1;
			continue;
		}
		inf++;
		n++;
		jw_obj(&c->w);
		copy_str(&c->w, j, e, "path", NULL);
		jw_key(&c->w, "line_number");
		if ((k = json_get(j, e, "line_number")) >= 0 &&
		    j->tok[k].type == JSON_NUMBER)
			jw_tok(&c->w, j, k);
		else
			jw_null(&c->w);
		copy_str(&c->w, j, e, "line_text", NULL);
		jw_obj_end(&c->w);
	}
	free(last);
	jw_arr_end(&c->w);
	jw_kbool(&c->w, "truncated", more);
	return 0;
}

/* ---- explore and diff (explore.c, treediff.c) ---- */

static int
t_explore(struct tc *c)
{
	struct explore_req q;
	struct explore_res *res;
	struct store *st = NULL;
	const struct store_entry **e, *from;
	char u[37], **cmds, **names = NULL, **ek, **ev;
	const char *ref = S(c, "image");
	int k, *rec = NULL;
	size_t n, i;

	memset(&q, 0, sizeof q);
	q.disposable = B(c, "disposable");
	q.timeout = I(c, "timeout");
	q.truncate = I(c, "truncate_output_at");
	q.cwd = S(c, "cwd");
	q.jobs = jobs_concurrency();
	if (resolve(c, ref, u) < 0 || (!q.disposable && !(st = ctx_store(C))))
		return -1;
	q.image = u;
	q.ncmds = n = strs(c, "commands", NULL, &cmds);
	q.cmds = cmds;
	q.nenv = strs(c, "env", &ek, &ev);
	q.envk = ek;
	q.envv = ev;
	res = xcalloc(n ? n : 1, sizeof *res);
	rec = xcalloc(n ? n : 1, sizeof *rec);
	mcp_progress(c->r, "running");
	k = n ? explore_run(c->a, C->home, &q, res, NULL, NULL) : 0;
	if (k == 0 && !q.disposable) {
		e = store_entries(st, C->session, &i);
		from = producer(e, i, u);
		free(e);
		names = explore_names(st, C->session, "explore", n);
		if (explore_record(st, C->session, "explore", names, &q, res,
		    from ? from->id : 0, ref, rec) < 0)
			mcp_log(LOG_WARNING, geterr());
	}
	if (k == 0) {
		jw_key(&c->w, "results");
		jw_arr(&c->w);
		for (i = 0; i < n; i++) {
			const struct explore_res *x = &res[i];

			jw_obj(&c->w);
			jw_kstr(&c->w, "command", cmds[i]);
			jw_kstr(&c->w, "operation_id", *x->op ? x->op : NULL);
			kstatus(&c->w, x->status);
			kcode(&c->w, x->has_exit, x->exit_code);
			jw_kbool(&c->w, "timed_out", x->timed_out);
			kbuf(&c->w, "stdout", &x->out);
			kbuf(&c->w, "stderr", &x->err);
			jw_kstr(&c->w, "result_image_uuid", x->image);
			jw_kstr(&c->w, "branch", names && rec[i] ? names[i] : NULL);
			jw_kstr(&c->w, "error", x->error);
			jw_obj_end(&c->w);
		}
		jw_arr_end(&c->w);
	}
	explore_res_free(res, n);
	free(res);
	free(rec);
	for (i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	return k < 0 ? -1 : 0;
}

struct dw {
	struct jw *w;
	long long n, max;
};

static int
diff_change(void *ctx, const struct td_change *ch)
{
	static const char *const bits[] = {
		"type", "size", "mode", "uid", "gid", "target"
	};
	struct dw *d = ctx;
	char what[2] = {ch->what, 0};
	size_t i;

	if (d->n++ >= d->max)
		return 0;
	jw_obj(d->w);
	jw_kstr(d->w, "what", what);
	jw_kstr(d->w, "path", ch->path);
	jw_kstr(d->w, "type", td_type_name((ch->new ? ch->new : ch->old)->type));
	if (ch->what == 'C') {
		jw_key(d->w, "differ");
		jw_arr(d->w);
		for (i = 0; i < LEN(bits); i++)
			if (ch->differ & (1 << i))
				jw_str(d->w, bits[i]);
		if (!ch->differ)
			jw_str(d->w, "content");
		jw_arr_end(d->w);
	}
	if (ch->patch && ch->patchlen) {
		jw_key(d->w, "patch");
		jw_strn(d->w, ch->patch, ch->patchlen);
	}
	jw_obj_end(d->w);
	/* the rest are only counted: no patch downloads for them */
	return d->n >= d->max ? TD_NOPATCH : 0;
}

static int
t_diff(struct tc *c)
{
	struct td_side a, b;
	struct dw d;
	const char *path = S(c, "path");
	char *p;
	int rc;

	a.ref = S(c, "from");
	b.ref = S(c, "to");
	if (resolve(c, a.ref, a.image) < 0 || resolve(c, b.ref, b.image) < 0)
		return -1;
	d.w = &c->w;
	d.n = 0;
	d.max = I(c, "max_changes");
	p = join_path("/", path);
	jw_key(&c->w, "changes");
	jw_arr(&c->w);
	rc = treediff(c->a, inspect, &a, &b, p, B(c, "patch"), diff_change, &d);
	jw_arr_end(&c->w);
	jw_kint(&c->w, "count", d.n);
	jw_kbool(&c->w, "truncated", d.n > d.max);
	free(p);
	return rc;
}

/* ---- the token, operations ---- */

static int
t_whoami(struct tc *c)
{
	const struct json *j = &c->rj;
	int k;

	if (get_json(c, "/whoami", NULL) < 0)
		return -1;
	for (k = json_first(j, 0); k >= 0; k = json_after(j, k)) {
		char *key = json_strdup(j, k);

		if (key) {
			jw_key(&c->w, key);
			jw_tok(&c->w, j, k + 1);
		}
		free(key);
	}
	return 0;
}

static int
t_ops(struct tc *c)
{
	const char *q[12];
	int arr;

	if (query(c, q, "limit status type=kind since") < 0 ||
	    (arr = op_list(c->a, q, &c->body, &c->rj)) < 0)
		return -1;
	copy_rows(c, "operations", arr,
	    "uuid\0kind\0status\0error\0created_at\0");
	return 0;
}

static int
t_op(struct tc *c)
{
	const char *id = S(c, "operation_id");

	if (op_get(c->a, C->home, id, &c->body, &c->rj) < 0)
		return -1;
	op_flat(&c->w, &c->rj, id, NULL);
	return 0;
}

static int
t_cancel(struct tc *c)
{
	const char *id = S(c, "operation_id");

	if (op_cancel(c->a, id) < 0)
		return -1;
	jw_kbool(&c->w, "cancelled", 1);
	jw_kstr(&c->w, "operation_id", id);
	return 0;
}

struct waitop {
	char *id;
	struct buf body;
	struct json j;
	int have, done;
};

static void
id_list(struct jw *w, const char *key, const struct waitop *o, int n,
    int which)
{
	int i;

	jw_key(w, key);
	jw_arr(w);
	for (i = 0; i < n; i++)
		if ((which == 0 && o[i].done) || (which == 1 && !o[i].done) ||
		    (which == 2 && o[i].have &&
		    op_status(&o[i].j, 0) == OP_CANCELLED))
			jw_str(w, o[i].id);
	jw_arr_end(w);
}

static int
t_wait(struct tc *c)
{
	struct waitop *o;
	int64_t deadline = now_ms() + I(c, "timeout") * 1000, delay = 100, now;
	int n, i, ndone = 0, rc = -1, late = 0;
	int any = strcmp(S(c, "mode"), "any") == 0;
	char msg[128], **ids;

	n = (int)strs(c, "operation_ids", NULL, &ids);
	if (n == 0) {
		seterr("argument 'operation_ids' is empty");
		return -1;
	}
	o = xcalloc((size_t)n, sizeof *o);
	for (i = 0; i < n; i++)
		if (!is_uuid(o[i].id = ids[i])) {
			seterr(mcp_text(M_E_NOT_OPERATION), ids[i]);
			goto out;
		}
	for (;;) {
		for (i = 0; i < n; i++) {
			if (o[i].done)
				continue;
			if (o[i].have)
				json_free(&o[i].j);
			buf_reset(&o[i].body);
			o[i].have = 0;
			if (op_get(c->a, C->home, o[i].id, &o[i].body, &o[i].j) < 0)
				goto out;
			o[i].have = 1;
			if (op_terminal(op_status(&o[i].j, 0))) {
				o[i].done = 1;
				snprintf(msg, sizeof msg, "%s ended %s (%d of %d)",
				    o[i].id, op_status_name(op_status(&o[i].j, 0)),
				    ++ndone, n);
				mcp_progress(c->r, msg);
			}
		}
		if (ndone == n || (any && ndone))
			break;
		if ((now = now_ms()) >= deadline) {
			late = 1;
			break;
		}
		if (sleep_ms(delay < deadline - now ? delay : deadline - now) < 0 ||
		    interrupted) {
			seterrc(ERR_INTR, "cancelled");
			goto out;
		}
		delay = delay * 2 > 2000 ? 2000 : delay * 2;
	}
	jw_kobj(&c->w, "results");
	for (i = 0; i < n; i++) {
		jw_kobj(&c->w, o[i].id);
		op_flat(&c->w, &o[i].j, o[i].id, NULL);
		jw_obj_end(&c->w);
	}
	jw_obj_end(&c->w);
	id_list(&c->w, "completed", o, n, 0);
	id_list(&c->w, "pending", o, n, 1);
	id_list(&c->w, "cancelled", o, n, 2);
	jw_kbool(&c->w, "timed_out", late);
	rc = 0;
out:
	for (i = 0; i < n; i++) {
		if (o[i].have)
			json_free(&o[i].j);
		buf_free(&o[i].body);
	}
	free(o);
	return rc;
}

/* ---- registries ---- */

/* Credentials given to registry_auth: in the server's memory only
 * (jobs get them with the fork), never written anywhere. */
struct cred {
	char *host, *user, *token;
};
static struct cred *creds;
static size_t ncreds;

/* The registry host of docker://HOST/..., HOST/PATH, a bare HOST
 * (ghcr.io) or an image name (alpine:3.20: docker.io); malloc'd. */
static char *
reg_host(const char *url)
{
	const char *p = strncmp(url, "docker://", 9) == 0 ? url + 9 : url;
	size_t n = strcspn(p, "/");

	/* a first segment is a host with a dot or a port; alone, with a
	 * dot and no colon (alpine:3.20 is an image) */
	if (p == url && strncmp(p, "localhost", 9) != 0 &&
	    (p[n] ? !memchr(p, '.', n) && !memchr(p, ':', n) :
	    !memchr(p, '.', n) || memchr(p, ':', n)))
		return xstrdup("docker.io");
	return xstrndup(p, n);
}

static const struct cred *
cred_find(const char *host)
{
	size_t i;

	for (i = 0; i < ncreds; i++)
		if (strcmp(creds[i].host, host) == 0)
			return &creds[i];
	return NULL;
}

static int
t_import(struct tc *c)
{
	const char *url = S(c, "registry_url"), *tag = S(c, "tag");
	const struct cred *cr;
	struct buf body = {0}, b = {0};
	struct json j;
	char *host = reg_host(url), *full, uuid[37];
	int rc = -1;

	full = op_registry_url(url);
	if (!(cr = cred_find(host)) &&
	    !B(c, "i_accept_that_anonymous_access_might_be_rate_limited")) {
		seterr(mcp_text(M_E_NO_CREDENTIALS), host);
		goto out;
	}
	op_import_json(full, tag && *tag ? tag : NULL, cr ? cr->user : NULL,
	    cr ? cr->token : NULL, -1, &body);
	rc = spawn(c, body.p, NULL, uuid);
	memzero(body.p, body.len);
	if (rc < 0)
		goto out;
	if (!B(c, "wait")) {
		jw_kstr(&c->w, "operation_id", uuid);
		jw_kstr(&c->w, "status", "PENDING");
		goto out;
	}
	mcp_progress(c->r, "importing");
	if ((rc = await(c, uuid, 0, &b, &j)) < 0)
		goto out;
	op_flat(&c->w, &j, uuid, NULL);
	json_free(&j);
out:
	buf_free(&body);
	buf_free(&b);
	free(host);
	free(full);
	return rc;
}

static int
t_regtok(struct tc *c)
{
	char *host = reg_host(S(c, "registry_url"));
	const char *p = mcp_text(M_REGISTRIES), *url = NULL;

	for (; *p; p = mcp_field(p, 2))
		if (strcmp(host, p) == 0)
			url = mcp_field(p, 1);
	jw_kstr(&c->w, "registry", host);
	jw_kstr(&c->w, "url", url ? url : mcp_field(p, 1));
	jw_kstr(&c->w, "instructions", mcp_field(p, 2));
	free(host);
	return 0;
}

static int
t_regauth(struct tc *c)
{
	char *host = reg_host(S(c, "registry_url"));
	struct cred *cr = (struct cred *)cred_find(host);
	const char *tok;

	if (!cr) {
		creds = xreallocarray(creds, ncreds + 1, sizeof *creds);
		cr = &creds[ncreds++];
		cr->host = host;
	} else {
		free(host);
		free(cr->user);
		memzero(cr->token, strlen(cr->token));
		free(cr->token);
	}
	cr->user = xstrdup(S(c, "username"));
	cr->token = xstrdup(tok = S(c, "token"));
	memzero((char *)tok, strlen(tok));
	jw_kstr(&c->w, "registry", cr->host);
	jw_kstr(&c->w, "username", cr->user);
	jw_kbool(&c->w, "stored", 1);
	jw_kstr(&c->w, "note", mcp_text(M_REGAUTH_NOTE));
	return 0;
}

/* The guide's sections: title, name, text each (mcp.def). */
static const char *
guide_next(const char *g)
{
	return mcp_field(g, 3);
}

static const char *
guide_find(const char *name)
{
	const char *g;

	for (g = mcp_text(M_GUIDE); *g; g = guide_next(g))
		if (strcmp(mcp_field(g, 1), name) == 0)
			return g;
	return NULL;
}

static int
t_guide(struct tc *c)
{
	const char *s = S(c, "section"), *g;

	jw_kstr(&c->w, "section", s);
	if ((g = guide_find(s)))
		jw_kstr(&c->w, "content", mcp_field(g, 2));
	jw_key(&c->w, "available_sections");
	jw_arr(&c->w);
	for (g = mcp_text(M_GUIDE); *g; g = guide_next(g))
		jw_str(&c->w, mcp_field(g, 1));
	jw_arr_end(&c->w);
	return 0;
}

/* ---- resources ---- */

enum { R_GUIDE = 1, R_READ, R_LS, R_LINEAGE, R_INSTANCE, R_IMPORT };

/* Decode %XX in place. */
static void
unpercent(char *s)
{
	char *o = s;
	int i, v;

	for (; *s; s++) {
		if (*s == '%' && strspn(s + 1, "0123456789abcdefABCDEF") >= 2) {
			for (v = 0, i = 1; i <= 2; i++)   /* a digit's value */
				v = v << 4 | ((s[i] & 15) + (s[i] > '9' ? 9 : 0));
			*o++ = (char)v;
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* The kind of uri and its two parts (malloc'd, *b may be NULL), or 0. */
static int
res_parse(const char *uri, char **a, char **b)
{
	const char *p, *s;
	int k = 0;

	*a = *b = NULL;
	if (strncmp(uri, "contree://guide/", 16) == 0) {
		*a = xstrdup(uri + 16);
		return R_GUIDE;
	}
	if (strncmp(uri, "contree://operations/instance/", 30) == 0)
		k = R_INSTANCE, p = uri + 30;
	else if (strncmp(uri, "contree://operations/import/", 28) == 0)
		k = R_IMPORT, p = uri + 28;
	if (k) {
		*a = xstrdup(p);
		return is_uuid(*a) ? k : (free(*a), *a = NULL, 0);
	}
	if (strncmp(uri, "contree://image/", 16) != 0)
		return 0;
	p = uri + 16;
	if (!(s = strchr(p, '/')) || s == p)
		return 0;
	*a = xstrndup(p, (size_t)(s - p));
	unpercent(*a);
	if (strcmp(s, "/lineage") == 0)
		return R_LINEAGE;
	if (strncmp(s, "/read/", 6) == 0 && s[6])
		k = R_READ, p = s + 6;
	else if (strncmp(s, "/ls/", 4) == 0 || strcmp(s, "/ls") == 0)
		k = R_LS, p = s[3] ? s + 4 : s + 3;
	if (!k) {
		free(*a);
		*a = NULL;
		return 0;
	}
	*b = xasprintf("/%s", p);
	unpercent(*b);
	return k;
}

static void
contents(struct buf *res, const char *uri, const char *mime,
    const char *key, const char *p, size_t n)
{
	struct jw w;

	list_begin(&w, res, "contents");
	jw_obj(&w);
	jw_kstr(&w, "uri", uri);
	jw_kstr(&w, "mimeType", mime);
	jw_key(&w, key);
	jw_strn(&w, p, n);
	jw_obj_end(&w);
	list_end(&w);
}

static void
entry(struct jw *w, const struct store_entry *x)
{
	jw_obj(w);
	jw_kint(w, "entry", x->id);
	jw_kstr(w, "image", x->image);
	jw_kstr(w, "kind", x->kind);
	jw_kstr(w, "title", x->title);
	jw_obj_end(w);
}

static int
lineage(struct tc *c, const char *ref)
{
	struct store *st;
	const struct store_entry **e, *me = NULL, *x;
	struct jw *w = &c->w;
	const char *top;
	char u[37];
	size_t n = 0, i;
	int depth = 0;

	if (resolve(c, ref, u) < 0 || !(st = ctx_store(C)))
		return -1;
	e = store_entries(st, C->session, &n);
	me = producer(e, n, u);
	jw_kstr(w, "image", u);
	jw_kstr(w, "session", C->session);
	jw_kbool(w, "known", me != NULL);
	if (me) {
		jw_kint(w, "entry", me->id);
		jw_kstr(w, "parent", me->up ? me->up->image : NULL);
		jw_key(w, "ancestors");
		jw_arr(w);
		top = me->image;
		for (x = me->up; x; x = x->up, depth++) {
			entry(w, x);
			top = x->image;
		}
		jw_arr_end(w);
		jw_kstr(w, "root", top);
		jw_kint(w, "depth", depth);
		jw_key(w, "children");
		jw_arr(w);
		for (i = 0; i < n; i++)
			if (e[i]->parent == me->id)
				entry(w, e[i]);
		jw_arr_end(w);
	}
	free(e);
	return 0;
}

/* In a job: read a resource whose URI was checked by m_res_read: the
 * tool it stands for, its arguments from the URI. */
static int
res_job(struct mcp_req *r)
{
	struct tc c;
	struct buf res = {0}, raw = {0};
	const char *kv[5] = {0}, *m;
	char *uri = json_getstr(r->j, r->params, "uri"), *a, *b;
	int k = res_parse(uri, &a, &b), rc = -1;

	tc_init(&c, r, tool_find(k == R_READ ? "read_file" : k == R_LS ?
	    "list_files" : "get_operation"));
	kv[0] = k >= R_INSTANCE ? "operation_id" : "image";
	kv[1] = a;
	kv[2] = "path";
	kv[3] = b;
	c.kv = kv;
	c.raw = &raw;
	clearerr_slot();
	if ((c.a = ctx_api(C))) {
		api_forget(c.a);
		rc = k == R_LINEAGE ? lineage(&c, a) : c.t->fn(&c);
		jw_obj_end(&c.w);
	}
	if (rc < 0) {
		m = geterr();
		mcp_fail(r, strstr(m, " 404 ") || strncmp(m, "no ", 3) == 0 ?
		    MCP_ENORESOURCE : MCP_EINTERNAL, m);
	} else {
		if (k == R_READ)
			contents(&res, uri, c.bin ? "application/octet-stream" :
			    "text/plain", c.bin ? "blob" : "text", raw.p ? raw.p :
			    "", raw.len);
		else
			contents(&res, uri, "application/json", "text",
			    c.out.p, c.out.len);
		mcp_answer(r, &res);
	}
	tc_free(&c);
	buf_free(&raw);
	buf_free(&res);
	free(uri);
	free(a);
	free(b);
	return 0;
}

static int
m_res_read(struct mcp_req *r, struct buf *res)
{
	const char *g;
	char *uri = r->params < 0 ? NULL : json_getstr(r->j, r->params, "uri");
	char *a, *b;
	int k;

	if (!uri) {
		seterr("Invalid params: uri (a string) is required");
		return MCP_EPARAMS;
	}
	k = res_parse(uri, &a, &b);
	if (k == R_GUIDE && (g = guide_find(a)))
		contents(res, uri, "text/markdown", "text", mcp_field(g, 2),
		    strlen(mcp_field(g, 2)));
	free(a);
	free(b);
	if (!k || (k == R_GUIDE && !res->len)) {
		seterr("Resource not found: %s", uri);
		free(uri);
		return MCP_ENORESOURCE;
	}
	free(uri);
	return k == R_GUIDE ? 0 : mcp_job(r, res_job);
}

static int
m_res_list(struct mcp_req *r, struct buf *res)
{
	const char *g;
	struct jw w;
	char *uri;

	(void)r;
	list_begin(&w, res, "resources");
	for (g = mcp_text(M_GUIDE); *g; g = guide_next(g)) {
		uri = xasprintf("contree://guide/%s", mcp_field(g, 1));
		jw_obj(&w);
		jw_kstr(&w, "uri", uri);
		jw_kstr(&w, "name", mcp_field(g, 1));
		jw_kstr(&w, "title", g);
		jw_kstr(&w, "mimeType", "text/markdown");
		jw_obj_end(&w);
		free(uri);
	}
	return list_end(&w);
}

static int
m_res_templates(struct mcp_req *r, struct buf *res)
{
	static const char *const keys[] = {
		"uriTemplate", "name", "title", "description", "mimeType"
	};
	const char *p = mcp_text(M_TEMPLATES);
	struct jw w;
	size_t i;

	(void)r;
	list_begin(&w, res, "resourceTemplates");
	while (*p) {
		jw_obj(&w);
		for (i = 0; i < LEN(keys); i++, p = mcp_field(p, 1))
			jw_kstr(&w, keys[i], p);
		jw_obj_end(&w);
	}
	return list_end(&w);
}

/* ---- prompts ---- */

/* A prompt (mcp.def): name, description, arguments (rows as a tool's,
 * all strings), text; {name} in its text is the argument's value, or
 * its default. */
static const char *
prompt_next(const char *p)
{
	return mcp_field(p, 4);
}

static int
m_prompts_list(struct mcp_req *r, struct buf *res)
{
	const char *p, *pr;
	struct arg a;
	struct jw w;

	(void)r;
	list_begin(&w, res, "prompts");
	for (pr = mcp_text(M_PROMPTS); *pr; pr = prompt_next(pr)) {
		jw_obj(&w);
		jw_kstr(&w, "name", pr);
		jw_kstr(&w, "description", mcp_field(pr, 1));
		jw_key(&w, "arguments");
		jw_arr(&w);
		for (p = mcp_field(pr, 2); arg_next(&p, &a);) {
			jw_obj(&w);
			jw_key(&w, "name");
			jw_strn(&w, a.name, (size_t)a.nname);
			jw_key(&w, "description");
			jw_strn(&w, a.desc, (size_t)a.ndesc);
			jw_kbool(&w, "required", a.req);
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
		jw_obj_end(&w);
	}
	return list_end(&w);
}

/* The value of prompt argument a: given (not empty), or its default. */
static char *
prompt_arg(const struct json *j, int args, const struct arg *a)
{
	struct json d;
	char *k = xstrndup(a->name, (size_t)a->nname), *v;
	int t = args < 0 ? -1 : json_get(j, args, k);

	free(k);
	v = t < 0 ? NULL : json_strdup(j, t);
	if ((!v || !*v) && a->def &&
	    json_parse_alloc(&d, a->def, (size_t)a->ndef) == 0) {
		free(v);
		v = json_strdup(&d, 0);
		json_free(&d);
	}
	return v;
}

static int
m_prompts_get(struct mcp_req *r, struct buf *res)
{
	const char *p = NULL, *pr, *s, *e, *q;
	struct buf text = {0};
	struct arg a;
	struct jw w;
	char *name, *v;
	int args, t;

	name = r->params < 0 ? NULL : json_getstr(r->j, r->params, "name");
	for (pr = mcp_text(M_PROMPTS); name && *pr; pr = prompt_next(pr))
		if (strcmp(pr, name) == 0)
			p = pr;
	if (!p)
		seterr("Invalid params: unknown prompt %s", name ? name : "(none)");
	free(name);
	if (!p)
		return MCP_EPARAMS;
	args = json_get(r->j, r->params, "arguments");
	for (q = mcp_field(p, 2); arg_next(&q, &a);) {
		name = xstrndup(a.name, (size_t)a.nname);
		t = args < 0 ? -1 : json_get(r->j, args, name);
		if (a.req && (t < 0 || r->j->tok[t].type != JSON_STRING)) {
			seterr("Invalid params: prompt %s needs the argument %s",
			    p, name);
			free(name);
			return MCP_EPARAMS;
		}
		free(name);
	}
	for (s = mcp_field(p, 3); (e = strchr(s, '{'));
	    s = strchr(e, '}') + 1) {
		buf_add(&text, s, (size_t)(e - s));
		name = xstrndup(e + 1, strcspn(e + 1, "}"));
		v = arg_find(mcp_field(p, 2), name, &a) ?
		    prompt_arg(r->j, args, &a) :
		    NULL;
		buf_puts(&text, v ? v : "");
		free(name);
		free(v);
	}
	buf_puts(&text, s);
	jw_init(&w, res, 0);
	jw_obj(&w);
	jw_kstr(&w, "description", mcp_field(p, 1));
	jw_key(&w, "messages");
	jw_arr(&w);
	jw_obj(&w);
	jw_kstr(&w, "role", "user");
	jw_kobj(&w, "content");
	jw_kstr(&w, "type", "text");
	jw_kstr(&w, "text", text.p);
	jw_obj_end(&w);
	jw_obj_end(&w);
	jw_arr_end(&w);
	jw_obj_end(&w);
	buf_free(&text);
	return 0;
}

/* ---- the commands ---- */

static const struct mcp_method methods[] = {
	{"tools/list", m_tools_list},
	{"tools/call", m_tools_call},
	{"resources/list", m_res_list},
	{"resources/templates/list", m_res_templates},
	{"resources/read", m_res_read},
	{"prompts/list", m_prompts_list},
	{"prompts/get", m_prompts_get},
	{NULL, NULL}
};

int
cmd_mcp(struct ctx *c)
{
	struct mcp_server s;
	const char *r = arg_str(c, "root");
	int rc;

	if (!(root = realpath(r ? r : ".", NULL))) {
		seterr("--root %s:", r ? r : ".");
		return -1;
	}
	C = c;
	inspect = xasprintf("%s/cli/inspect", c->home);
	free(c->session);
	c->session = xstrdup(c->session_opt ? c->session_opt : "mcp");
	memset(&s, 0, sizeof s);
	s.methods = methods;
	s.name = "contree";
	s.title = "ConTree sandboxes";
	s.version = VERSION;
	s.instructions = mcp_text(M_INSTRUCTIONS);
	s.capabilities = mcp_text(M_CAPABILITIES);
	rc = mcp_serve(&s);
	free(root);
	free(inspect);
	while (ncreds--) {
		free(creds[ncreds].host);
		free(creds[ncreds].user);
		memzero(creds[ncreds].token, strlen(creds[ncreds].token));
		free(creds[ncreds].token);
	}
	free(creds);
	return rc;
}

int
cmd_mcp_config(struct ctx *c)
{
	const char *agent = arg_str(c, "agent"), *cf = mcp_text(M_CONFIG);
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	char *exe;
	struct buf q = {0};
	struct jw w;
	int all = !agent;

	if (n > 0) {
		self[n] = '\0';
		exe = xstrdup(self);
	} else if (!(exe = realpath(argv0, NULL))) {
		exe = xstrdup("contree");
	}
	jw_init(&w, &q, 0);
	jw_str(&w, exe);            /* the path as a JSON (and TOML) string */
	if (all || strcmp(agent, "claude-code") == 0)
		printf("%s%s mcp add contree -- %s mcp\n", all ?
		    "# Claude Code\n" : "", "claude", exe);
	if (all || strcmp(agent, "claude-desktop") == 0 ||
	    strcmp(agent, "cursor") == 0 || strcmp(agent, "cline") == 0)
		printf(mcp_field(cf, 1), all ? cf : "", q.p);
	if (all || strcmp(agent, "codex") == 0)
		printf(mcp_field(cf, 3), all ? mcp_field(cf, 2) : "", q.p);
	buf_free(&q);
	free(exe);
	return 0;
}
