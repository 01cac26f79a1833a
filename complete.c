/* complete.c - completion candidates for a partial command line, read
 * from the one command table: commands, aliases, subcommands, options,
 * choices; and values by kind (branches, sessions, profiles, image tags,
 * operations, environment keys, agents, local and sandbox paths).  Used by `contree completion`
 * (the bash, zsh and fish scripts call it) and by the shell's Tab. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "api.h"
#include "complete.h"
#include "config.h"
#include "contree.h"
#include "ini.h"
#include "json.h"
#include "store.h"
#include "util.h"

extern const struct opt global_opts[];
extern const struct cmd commands[];

enum { V_NONE, V_BRANCH, V_SESSION, V_PROFILE, V_IMAGE, V_REF, V_OP, V_ENV,
    V_AGENT, V_EDITOR, V_LOCAL, V_SANDBOX };

/* Values that are not choices: "NAME" is the option or positional NAME
 * of any command, "PATH NAME" that of the command PATH ("file cp"). */
static const struct {
	const char *name;
	unsigned char kind;
} kinds[] = {
	{"profile", V_PROFILE},
	{"session", V_SESSION},
	{"use", V_IMAGE},
	{"editor", V_EDITOR},
	{"BRANCH", V_BRANCH},
	{"session branch from", V_BRANCH},
	{"session branch NAME", V_BRANCH},
	{"session use KEY", V_SESSION},
	{"session show KEY", V_SESSION},
	{"session delete KEY", V_SESSION},
	{"auth switch NAME", V_PROFILE},
	{"auth remove NAME", V_PROFILE},
	{"use IMAGE", V_IMAGE},
	{"tag ARGS", V_IMAGE},
	{"UUID_OR_REF", V_OP},
	{"env PAIRS", V_ENV},
	{"skill install SPEC", V_AGENT},
	{"skill remove SPEC", V_AGENT},
	{"config", V_LOCAL},
	{"dockerfile", V_LOCAL},
	{"CONTEXT", V_LOCAL},
	{"file", V_LOCAL},
	{"file cp SRC", V_LOCAL},
	{"file cp DEST", V_SANDBOX},
	{"file edit PATH", V_SANDBOX},
	{"cp DEST", V_LOCAL},
	{"PATH", V_SANDBOX},
	{"cwd", V_SANDBOX},
	{"explore from", V_REF},
	{"diff FROM", V_REF},
	{"diff TO", V_REF},
	{"diff path", V_SANDBOX},
};

struct cands {
	const char *prefix;
	char **v;
	size_t n;
};

static void
add(struct cands *k, const char *s)
{
	if (strncmp(s, k->prefix, strlen(k->prefix)) != 0)
		return;
	k->v = xreallocarray(k->v, k->n + 1, sizeof *k->v);
	k->v[k->n++] = xstrdup(s);
}

static void
addlist(struct cands *k, const char *const *l)
{
	for (; l && *l; l++)
		add(k, *l);
}

static const struct opt *
findopt(const struct opt *o, const char *w)
{
	int i;

	for (; o && o->l; o++) {
		if (w[1] != '-' && w[1] == o->s && !w[2])
			return o;
		if (w[1] == '-' && strcmp(w + 2, o->l) == 0)
			return o;
		for (i = 0; w[1] == '-' && opt_lists[o->alias] &&
		    opt_lists[o->alias][i]; i++)
			if (strcmp(w + 2, opt_lists[o->alias][i]) == 0)
				return o;
	}
	return NULL;
}

/* ---- values ---- */

static void
sessions(struct ctx *c, struct cands *k)
{
	struct store *st = ctx_store(c);
	struct store_session *s;
	size_t i, n;

	if (!st || !(s = store_list(st, &n)))
		return;
	for (i = 0; i < n; i++)
		add(k, s[i].key);
	free(s);
}

static void
branches(struct ctx *c, const char *key, struct cands *k)
{
	struct store *st = ctx_store(c);
	struct store_branch *b;
	size_t i, n;

	if (!st || !(b = store_branches(st, key, &n)))
		return;
	for (i = 0; i < n; i++)
		add(k, b[i].name);
	free(b);
}

static void
envkeys(struct ctx *c, const char *key, struct cands *k)
{
	struct store *st = ctx_store(c);
	struct store_kv *e;
	size_t i, n;

	if (!st || !(e = store_env(st, key, &n)))
		return;
	for (i = 0; i < n; i++) {
		char *s = xasprintf("%s=", e[i].name);

		add(k, s);
		free(s);
	}
	free(e);
}

static void
profiles(struct ctx *c, struct cands *k)
{
	struct ini *auth = NULL, *cli = NULL;
	struct profile *p = NULL;
	size_t i, n = 0;

	if (c->config && config_files(c->config, c->home, &auth, &cli) == 0)
		p = profile_list(auth, cli, &n);
	for (i = 0; i < n; i++)
		add(k, p[i].name);
	profiles_free(p, n);
	if (auth)
		ini_free(auth);
	if (cli)
		ini_free(cli);
}

/* The API listing of path (100 newest), one field per line, cached for
 * ttl seconds under CONTREE_HOME/cli/complete/<name>. */
struct listing {
	struct buf out;
	const char *field, *prefix;
};

static int
listing_row(void *arg, const struct json *j, int t)
{
	struct listing *l = arg;
	char *v = json_getstr(j, t, l->field);

	if (v && *v)
		buf_printf(&l->out, "%s%s\n", l->prefix, v);
	free(v);
	return 0;
}

static void
listing(struct ctx *c, struct cands *k, const char *name, const char *path,
    const char *arraykey, const char *const *fields, int ttl)
{
	char *cache = xasprintf("%s/cli/complete/%s-%s", c->home, c->prof_name,
	    name), *p, *nl;
	struct listing l = {{0}, NULL, NULL};
	struct stat sb;
	int more, i;

	if (stat(cache, &sb) < 0 || sb.st_mtime + ttl < time(NULL) ||
	    readfile(cache, &l.out) < 0) {
		buf_reset(&l.out);
		for (i = 0; fields[i]; i += 2) {
			l.field = fields[i];
			l.prefix = fields[i + 1];
			if (api_list_pages(ctx_api(c), path, NULL, arraykey, 100,
			    listing_row, NULL, &l, &more) < 0)
				break;
		}
		if (!fields[i]) {
			char *dir = xasprintf("%s/cli/complete", c->home);

			if (mkdirs(dir, 0700) == 0)
				writefile_cache(cache, l.out.p ? l.out.p : "",
				    l.out.len);
			free(dir);
		}
	}
	for (p = l.out.p; p && *p; p = nl + 1) {
		if (!(nl = strchr(p, '\n')))
			break;
		*nl = '\0';
		add(k, p);
	}
	buf_free(&l.out);
	free(cache);
}

/* Entries of the local directory part of word that start with its
 * last part; directories end in '/'. */
static void
localpaths(struct cands *k)
{
	const char *slash = strrchr(k->prefix, '/');
	char *dir = slash ? xstrndup(k->prefix, (size_t)(slash - k->prefix + 1)) :
	    xstrdup("");
	const char *base = slash ? slash + 1 : k->prefix;
	DIR *d = opendir(*dir ? dir : ".");
	struct dirent *de;
	struct stat sb;

	while (d && (de = readdir(d))) {
		char *p;

		if (de->d_name[0] == '.' && base[0] != '.')
			continue;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		p = xasprintf("%s%s", dir, de->d_name);
		if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			free(p);
			p = xasprintf("%s%s/", dir, de->d_name);
		}
		add(k, p);
		free(p);
	}
	if (d)
		closedir(d);
	free(dir);
}

/* The inspect listing of dir in image, from a 30-second cache. */
static int
sandbox_listing(struct ctx *c, const char *image, const char *dir,
    struct buf *out)
{
	const char *q[] = {"path", NULL, NULL};
	char *name, *cache, *path, hex[9];
	struct api_resp r;
	struct stat sb;
	int rc = 0;

	name = xasprintf("%s:%s", image, dir);
	snprintf(hex, sizeof hex, "%08lx",
	    (unsigned long)store_crc32(0, name, strlen(name)));
	cache = xasprintf("%s/cli/complete/ls-%.8s-%s", c->home, image, hex);
	free(name);
	if (stat(cache, &sb) == 0 && sb.st_mtime + 30 >= time(NULL) &&
	    readfile(cache, out) == 0) {
		free(cache);
		return 0;
	}
	buf_reset(out);
	memset(&r, 0, sizeof r);
	r.body = out;
	q[1] = dir;
	path = xasprintf("/inspect/%s/list", image);
	if (api_call(ctx_api(c), "GET", path, q, NULL, 0, &r) == 0) {
		char *d = xasprintf("%s/cli/complete", c->home);

		if (mkdirs(d, 0700) == 0)
			writefile_cache(cache, out->p ? out->p : "", out->len);
		free(d);
	} else {
		rc = -1;
	}
	free(path);
	free(cache);
	return rc;
}

/* Paths in the session's image: the directory part of the word
 * resolved against the session's working directory. */
static void
sandboxpaths(struct ctx *c, const char *key, struct cands *k)
{
	struct store *st = ctx_store(c);
	const struct store_entry *tip = st ? store_tip(st, key) : NULL;
	const char *slash = strrchr(k->prefix, '/');
	char *pre = xstrndup(k->prefix, slash ? (size_t)(slash - k->prefix + 1) :
	    0), *dir, *image;
	const char *base = slash ? slash + 1 : k->prefix;
	struct buf b = {0};
	struct json j;
	int f, t;

	if (!tip) {
		free(pre);
		return;
	}
	image = xstrdup(tip->image);
	dir = join_path(store_cwd(st, key), *pre ? pre : ".");
	if (sandbox_listing(c, image, dir, &b) == 0 &&
	    json_parse_alloc(&j, b.p ? b.p : "", b.len) == 0) {
		f = json_get(&j, 0, "files");
		for (t = f >= 0 ? json_first(&j, f) : -1; t >= 0;
		    t = json_after(&j, t)) {
			char *n = json_getstr(&j, t, "path");
			const char *nm = n && strrchr(n, '/') ? strrchr(n, '/') + 1 : n;
			int d = json_get(&j, t, "is_dir");
			char *s;

			if (nm && strncmp(nm, base, strlen(base)) == 0) {
				s = xasprintf("%s%s%s", pre, nm, d >= 0 &&
				    j.tok[d].type == JSON_TRUE ? "/" : "");
				add(k, s);
				free(s);
			}
			free(n);
		}
		json_free(&j);
	}
	buf_free(&b);
	free(dir);
	free(image);
	free(pre);
}

void
complete_sandbox_path(struct ctx *c, const char *word, struct buf *out)
{
	struct cands k = {0};
	size_t i;

	k.prefix = word;
	sandboxpaths(c, c->session, &k);
	if (k.n)
		qsort(k.v, k.n, sizeof *k.v, cmpstr);
	for (i = 0; i < k.n; i++) {
		buf_printf(out, "%s\n", k.v[i]);
		free(k.v[i]);
	}
	free(k.v);
}

/* Values of kind; key is the session of the command line. */
static void
values(struct ctx *c, const char *key, int kind, struct cands *k)
{
	static const char *const agents[] = {"claude", "codex", "claude:~",
	    "codex:~", "claude-subagent", "claude-agent", NULL};
	static const char *const editors[] = {"vim", "vi", "nvim", "nano",
	    "emacs", NULL};
	static const char *const images[] = {"tag", "tag:", "uuid", "", NULL};
	static const char *const ops[] = {"uuid", "", NULL};

	switch (kind) {
	case V_BRANCH: branches(c, key, k); break;
	case V_SESSION: sessions(c, k); break;
	case V_PROFILE: profiles(c, k); break;
	case V_ENV: envkeys(c, key, k); break;
	case V_AGENT: addlist(k, agents); break;
	case V_EDITOR: addlist(k, editors); break;
	case V_REF:             /* what use takes, and branches */
		branches(c, key, k);
		/* FALLTHROUGH */
	case V_IMAGE:
		listing(c, k, "images", "/images", "images", images, 60);
		break;
	case V_OP:
		listing(c, k, "operations", "/operations", NULL, ops, 5);
		break;
	case V_LOCAL: localpaths(k); break;
	case V_SANDBOX: sandboxpaths(c, key, k); break;
	}
}

static int
kindof(const char *path, const char *name)
{
	size_t i, n = strlen(path);

	for (i = 0; i < LEN(kinds); i++) {
		const char *s = kinds[i].name;

		if (strncmp(s, path, n) == 0 && s[n] == ' ')
			s += n + 1;
		if (strcmp(s, name) == 0)
			return kinds[i].kind;
	}
	return V_NONE;
}

/* ---- the command line ---- */

struct walk {
	const struct cmd *cmd;  /* NULL: still among the global options */
	const char *session;    /* -S KEY among the words */
	struct buf path;        /* "session show" */
	const struct opt *want; /* the last word is this option's value */
	int npos;               /* positional words given to cmd */
	int rest;               /* after "--" */
};

static void
options(const struct opt *o, struct cands *k)
{
	char s[64];
	int i;

	for (; o && o->l; o++) {
		snprintf(s, sizeof s, "--%s", o->l);
		add(k, s);
		for (i = 0; opt_lists[o->alias] && opt_lists[o->alias][i]; i++) {
			snprintf(s, sizeof s, "--%s", opt_lists[o->alias][i]);
			add(k, s);
		}
	}
	add(k, "--help");
}

/* Follow words[1..n-1) (the last word is being completed). */
static void
walk(struct walk *w, char **words, int n)
{
	const struct cmd *sub;
	const struct opt *o;
	int i;

	memset(w, 0, sizeof *w);
	for (i = 1; i < n - 1; i++) {
		const char *a = words[i];

		if (w->rest || (a[0] != '-' || !a[1])) {
			const struct cmd *list = w->cmd ? w->cmd->subs : commands;

			if (!w->rest && w->npos == 0 &&
			    (sub = findcmd(list, a))) {
				w->cmd = sub;
				buf_printf(&w->path, "%s%s", w->path.len ? " " :
				    "", sub->name);
			} else {
				w->npos++;
			}
			continue;
		}
		if (strcmp(a, "--") == 0) {
			w->rest = 1;
			continue;
		}
		o = findopt(w->cmd ? w->cmd->opts : global_opts, a);
		if (o && o->kind != OPT_FLAG && !strchr(a, '=') && i + 1 < n) {
			if (i + 1 == n - 1)
				w->want = o;
			else if (!w->cmd && strcmp(o->l, "session") == 0)
				w->session = words[i + 1];
			i++;
		}
	}
}

/* The positional spec the next positional word goes to. */
static const struct pos *
nextpos(const struct cmd *cmd, int npos)
{
	const struct pos *p = cmd->pos;

	for (; p && p->name; p++) {
		if (p->nargs == P_ANY || p->nargs == P_SOME || p->nargs == P_REST)
			return p;
		if (npos-- == 0)
			return p;
	}
	return NULL;
}

void
complete_words(struct ctx *c, char **words, int n, struct buf *out)
{
	struct cands k = {0};
	struct walk w;
	const struct pos *p;
	const char *key;
	size_t i;

	if (n < 2)
		return;
	k.prefix = words[n - 1];
	walk(&w, words, n);
	key = w.session ? w.session : c->session;
	if (w.want) {
		addlist(&k, opt_lists[w.want->choices]);
		values(c, key, kindof(w.path.p ? w.path.p : "", w.want->l), &k);
	} else if (k.prefix[0] == '-' && !w.rest) {
		options(w.cmd ? w.cmd->opts : global_opts, &k);
	} else if (!w.cmd) {
		for (i = 0; w.npos == 0 && commands[i].name; i++)
			add(&k, commands[i].name);
	} else {
		if (w.cmd->subs && w.npos == 0)
			for (i = 0; w.cmd->subs[i].name; i++)
				add(&k, w.cmd->subs[i].name);
		if ((p = nextpos(w.cmd, w.npos)) && p->nargs != P_REST) {
			addlist(&k, opt_lists[p->choices]);
			values(c, key, kindof(w.path.p, p->name), &k);
		}
	}
	if (k.n)
		qsort(k.v, k.n, sizeof *k.v, cmpstr);
	for (i = 0; i < k.n; i++)
		if (i == 0 || strcmp(k.v[i], k.v[i - 1]) != 0)
			buf_printf(out, "%s\n", k.v[i]);
	for (i = 0; i < k.n; i++)
		free(k.v[i]);
	free(k.v);
	buf_free(&w.path);
}
