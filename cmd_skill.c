/* cmd_skill.c - skill list/install/remove/upgrade (cli.md §9.22, §11):
 * instruction files that teach coding agents to use contree.
 *
 * A skill directory holds SKILL.md, .version and agents/openai.yaml; it
 * is built in a temporary directory beside the target and renamed into
 * place.  The single-file kinds are written atomically.  Installed
 * locations are remembered in CONTREE_HOME/cli/skills, one
 * "kind<TAB>absolute path" per line. */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "contree.h"
#include "manual.h"
#include "out.h"
#include "prose.h"
#include "util.h"

enum { K_DIR, K_SUBAGENT, K_AGENT };

/* The kinds, in the order rows come out (cli.md §9.22 fix).  The
 * project location is ".<name up to '-'>/<sub>" under the current
 * directory; the claude kinds are installed by default only when
 * ~/.claude exists. */
static const struct kind {
	const char *name;
	const char *env;        /* overrides base, or NULL */
	const char *base;       /* under $HOME */
	const char *sub;        /* under the base: the target */
	int type;
} kinds[] = {
	{"codex", "CODEX_HOME", ".codex", "skills/contree", K_DIR},
	{"claude", NULL, ".claude", "skills/contree", K_DIR},
	{"opencode", "OPENCODE_HOME", ".config/opencode", "skills/contree",
	    K_DIR},
	{"amp", NULL, ".config/agents", "skills/contree", K_DIR},
	{"cline", "CLINE_DIR", ".cline", "skills/contree", K_DIR},
	{"claude-subagent", NULL, ".claude", "agents/contree-subagent.md",
	    K_SUBAGENT},
	{"claude-agent", NULL, ".claude", "agents/contree.md", K_AGENT},
};

static int
is_claude(const struct kind *k)
{
	return strncmp(k->name, "claude", 6) == 0;
}

/* One install location. */
struct loc {
	const struct kind *k;
	char *path;             /* absolute */
	int guessed;            /* kind guessed from a plain path */
};

struct locs {
	struct loc *v;
	size_t n;
};

static void
locs_add(struct locs *l, const struct kind *k, char *path)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	l->v[l->n].k = k;
	l->v[l->n].path = path;
	l->v[l->n].guessed = 0;
	l->n++;
}

static void
locs_free(struct locs *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static const struct kind *
kind_find(const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < LEN(kinds); i++)
		if (strlen(kinds[i].name) == n &&
		    strncmp(kinds[i].name, name, n) == 0)
			return &kinds[i];
	return NULL;
}

static const char *
home(void)
{
	const char *h = getenv("HOME");

	if (!h || !*h) {
		seterr("HOME is not set");
		return NULL;
	}
	return h;
}

/* The path as shown: $HOME replaced by ~. */
static char *
shown(const char *path)
{
	const char *h = getenv("HOME");
	size_t n;

	if (h && *h) {
		n = strlen(h);
		while (n > 1 && h[n - 1] == '/')
			n--;
		if (strncmp(path, h, n) == 0 && (path[n] == '/' || !path[n]))
			return xasprintf("~%s", path + n);
	}
	return xstrdup(path);
}

/* path made absolute (relative to the current directory, ~ expanded),
 * trailing slashes removed.  NULL with the slot set. */
static char *
absolute(const char *path)
{
	char cwd[4096], *r;
	size_t n;

	if (path[0] == '~' && (path[1] == '/' || !path[1])) {
		const char *h = home();

		if (!h)
			return NULL;
		r = xasprintf("%s%s", h, path + 1);
	} else if (path[0] == '/') {
		r = xstrdup(path);
	} else {
		if (!getcwd(cwd, sizeof cwd)) {
			seterr("cannot get the current directory:");
			return NULL;
		}
		r = xasprintf("%s/%s", cwd, path);
	}
	n = strlen(r);
	while (n > 1 && r[n - 1] == '/')
		r[--n] = '\0';
	if (n >= 2 && strcmp(r + n - 2, "/.") == 0)
		r[n - 2] = '\0';
	if (!*r)
		strcpy(r, "/");
	return r;
}

/* The global location of kind k. */
static char *
global_path(const struct kind *k)
{
	const char *e = k->env ? getenv(k->env) : NULL, *h;
	char *base, *r;

	if (e && *e) {
		if (!(base = absolute(e)))
			return NULL;
	} else {
		if (!(h = home()))
			return NULL;
		base = xasprintf("%s/%s", h, k->base);
	}
	r = xasprintf("%s/%s", base, k->sub);
	free(base);
	return r;
}

/* The kind a path suggests (cli.md §9.22): a component names it. */
static const struct kind *
guess(const char *path)
{
	static const char comps[][10] = {
		".claude", ".codex", "opencode", ".opencode", "agents", ".amp",
		".cline"
	};
	static const unsigned char kind[] = {1, 0, 2, 2, 3, 3, 4};
	size_t n = strlen(path), i;
	const char *s, *e;

	if (n >= 3 && strcmp(path + n - 3, ".md") == 0)
		return &kinds[5];       /* claude-subagent */
	for (i = 0; i < LEN(comps); i++)
		for (s = path; *s; s = *e ? e + 1 : e) {
			e = s + strcspn(s, "/");
			if ((size_t)(e - s) == strlen(comps[i]) &&
			    strncmp(s, comps[i], (size_t)(e - s)) == 0)
				return &kinds[kind[i]];
		}
	return &kinds[1];               /* claude */
}

/* One spec to a location.  -1 with the slot set. */
static int
parse_spec(const char *spec, struct loc *l)
{
	const char *colon = strchr(spec, ':');
	const struct kind *k = colon ? kind_find(spec, (size_t)(colon - spec)) :
	    NULL;

	if (!*spec) {
		seterr("empty skill spec");
		return -1;
	}
	if (colon && !k && strcspn(spec, "/.~") > (size_t)(colon - spec)) {
		struct buf names = {0};
		size_t i;

		for (i = 0; i < LEN(kinds); i++)
			buf_printf(&names, "%s%s", i ? ", " : "", kinds[i].name);
		seterrc(ERR_USAGE, prose(P_SKILL_AGENT),
		    (int)(colon - spec), spec, spec, names.p, spec);
		buf_free(&names);
		return -1;
	}
	if (k) {
		const char *rest = colon + 1;

		l->k = k;
		l->guessed = 0;
		if (strcmp(rest, "~") == 0)
			l->path = global_path(k);
		else if (!*rest) {
			char *p = xasprintf(".%.*s/%s",
			    (int)strcspn(k->name, "-"), k->name, k->sub);

			l->path = absolute(p);
			free(p);
		}
		else {
			while (*rest == '/')    /* peer quirk, kept */
				rest++;
			l->path = absolute(*rest ? rest : ".");
		}
	} else {
		l->k = guess(spec);
		l->guessed = 1;
		l->path = absolute(spec);
	}
	return l->path ? 0 : -1;
}

static int
parse_specs(struct ctx *c, struct locs *out)
{
	int n, i;
	char **p = arg_pos(c, "SPEC", &n);

	for (i = 0; i < n; i++) {
		struct loc l;

		if (parse_spec(p[i], &l) < 0) {
			locs_free(out);
			return -1;
		}
		locs_add(out, l.k, l.path);
		out->v[out->n - 1].guessed = l.guessed;
	}
	return 0;
}

/* ---- the registry -------------------------------------------------------- */

static char *
reg_path(struct ctx *c)
{
	return xasprintf("%s/cli/skills", c->home);
}

/* Read the remembered installs.  A missing file is an empty list;
 * lines with an unknown kind are dropped. */
static int
reg_load(struct ctx *c, struct locs *l)
{
	char *path = reg_path(c), *s, *nl, *tab;
	struct buf b = {0};
	struct stat st;

	if (stat(path, &st) < 0 && errno == ENOENT) {
		free(path);
		return 0;
	}
	if (readfile(path, &b) < 0) {
		free(path);
		return -1;
	}
	free(path);
	for (s = b.p; s && *s; s = nl ? nl + 1 : s + strlen(s)) {
		const struct kind *k;

		nl = strchr(s, '\n');
		if (nl)
			*nl = '\0';
		if (!(tab = strchr(s, '\t')) || tab[1] != '/')
			continue;
		if ((k = kind_find(s, (size_t)(tab - s))))
			locs_add(l, k, xstrdup(tab + 1));
		if (!nl)
			break;
	}
	buf_free(&b);
	return 0;
}

static int
reg_save(struct ctx *c, const struct locs *l)
{
	char *path = reg_path(c), *dir = xasprintf("%s/cli", c->home);
	struct buf b = {0};
	size_t i;
	int rc = -1;

	for (i = 0; i < l->n; i++)
		buf_printf(&b, "%s\t%s\n", l->v[i].k->name, l->v[i].path);
	if (mkdirs(dir, 0700) == 0)
		rc = writefile_atomic(path, b.p ? b.p : "", b.len, 0600);
	buf_free(&b);
	free(path);
	free(dir);
	return rc;
}

static ptrdiff_t
reg_find(const struct locs *l, const char *path)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].path, path) == 0)
			return (ptrdiff_t)i;
	return -1;
}

/* Remember (add or update) or forget one location. */
static int
reg_update(struct ctx *c, const struct loc *loc, int add)
{
	struct locs l = {0};
	ptrdiff_t i;
	int rc;

	if (reg_load(c, &l) < 0)
		return -1;
	i = reg_find(&l, loc->path);
	if (add && i < 0)
		locs_add(&l, loc->k, xstrdup(loc->path));
	else if (add)
		l.v[i].k = loc->k;
	else if (i >= 0) {
		free(l.v[i].path);
		memmove(l.v + i, l.v + i + 1,
		    (l.n - (size_t)i - 1) * sizeof *l.v);
		l.n--;
	} else {
		locs_free(&l);
		return 0;
	}
	rc = reg_save(c, &l);
	locs_free(&l);
	return rc;
}

/* Kind table order, then path. */
static int
cmp_kind(const void *a, const void *b)
{
	const struct loc *x = a, *y = b;

	if (x->k != y->k)
		return x->k < y->k ? -1 : 1;
	return strcmp(x->path, y->path);
}

static int
cmp_path(const void *a, const void *b)
{
	return strcmp(((const struct loc *)a)->path,
	    ((const struct loc *)b)->path);
}

/* The locations named by the specs, or every remembered one. */
static int
targets(struct ctx *c, struct locs *l)
{
	int n;

	arg_pos(c, "SPEC", &n);
	if (n) {
		struct locs r = {0};
		size_t i;
		ptrdiff_t j;

		if (parse_specs(c, l) < 0)
			return -1;
		if (reg_load(c, &r) < 0) {
			locs_free(l);
			return -1;
		}
		/* a plain path takes the kind it was installed as */
		for (i = 0; i < l->n; i++)
			if (l->v[i].guessed &&
			    (j = reg_find(&r, l->v[i].path)) >= 0)
				l->v[i].k = r.v[j].k;
		locs_free(&r);
		return 0;
	}
	if (reg_load(c, l) < 0)
		return -1;
	if (!l->n) {
		seterr("No installed skills found");
		return -1;
	}
	qsort(l->v, l->n, sizeof *l->v, cmp_kind);
	return 0;
}

/* ---- content (the long texts are in prose.def) --------------------------- */

/* A manual section as Markdown. */
static void
add_section(struct buf *b, const char *title, const char *body)
{
	buf_printf(b, "## %s\n\n```text\n%s```\n\n", title, body);
}

/* The body shared by SKILL.md (full) and the subagent file. */
static void
skill_body(struct buf *b, int full)
{
	const struct manual_section *m;
	size_t i;

	buf_printf(b, prose(P_SKILL_TOP), VERSION);
	buf_puts(b, prose(P_INSTALL_HINT));
	buf_puts(b, prose(P_CODEX_PERMS));
	for (i = 0; (m = manual_section(i)); i++) {
		if (strcmp(m->topic, "core_workflow") == 0) {
			buf_printf(b, "## Required workflow\n\n```text\n%s%s```\n\n",
			    m->body, prose(P_WORKFLOW_EXTRA));
		} else if (strcmp(m->topic, "all_commands") != 0 || full)
			add_section(b, m->title, m->body);
	}
	buf_puts(b, prose(P_HISTORY_REFS));
	buf_puts(b, prose(P_SUBAGENT_RULES));
	if (!full)
		return;
	buf_puts(b, prose(P_SKILL_MORE));
	for (i = 0; (m = manual_section(i)); i++)
		buf_printf(b, "%s\n`%s`", i ? "," : "", m->topic);
	buf_puts(b, ".\n`contree COMMAND --help` describes each command.\n");
}

static void
skill_md(struct buf *b, const struct kind *k)
{
	buf_printf(b, "---\nname: contree\ndescription: %s\n",
	    prose(P_DESCRIPTION));
	if (strcmp(k->name, "claude") == 0)
		buf_puts(b, "allowed-tools: Bash(contree:*)\n");
	buf_puts(b, "---\n\n");
	skill_body(b, 1);
}

static void
single_file(struct buf *b, const struct kind *k)
{
	if (k->type == K_SUBAGENT) {
		/* P_SUBAGENT_HEAD: one %s */
		buf_printf(b, prose(P_SUBAGENT_HEAD), prose(P_DESCRIPTION));
		skill_body(b, 0);
	} else {
		buf_puts(b, prose(P_AGENT_HEAD));
		buf_puts(b, prose(P_AGENT_BODY));
	}
}

/* ---- files --------------------------------------------------------------- */

static int
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static int
isdir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* 1 if what is at l->path may be replaced or removed: for a skill
 * directory, a directory holding SKILL.md, or an empty one; for the
 * single-file kinds, a regular file.  0 with the slot set. */
static int
ours(const struct loc *l)
{
	struct stat st;
	char *p;
	int r;
	DIR *d;
	struct dirent *e;

	if (lstat(l->path, &st) < 0) {
		seterr("cannot use %s:", l->path);
		return 0;
	}
	if (l->k->type != K_DIR) {
		if (S_ISREG(st.st_mode))
			return 1;
		seterr("%s is not a file; not touching it", l->path);
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		seterr("%s is not a directory; not touching it", l->path);
		return 0;
	}
	p = xasprintf("%s/SKILL.md", l->path);
	r = lstat(p, &st) == 0 && S_ISREG(st.st_mode);
	free(p);
	if (!r && (d = opendir(l->path))) {
		r = 1;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") != 0 &&
			    strcmp(e->d_name, "..") != 0)
				r = 0;
		closedir(d);
	}
	if (!r)
		seterr(prose(P_SKILL_HAS_SKILL),
		    l->path);
	return r;
}

static char *
parent_of(const char *path)
{
	const char *s = strrchr(path, '/');

	if (!s || s == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(s - path));
}

/* The codex rules file of a codex skill at path: <codex home>/rules/
 * contree.rules when path ends in skills/contree, else NULL. */
static char *
rules_path(const char *path)
{
	size_t n = strlen(path), m = strlen("/skills/contree");

	if (n <= m || strcmp(path + n - m, "/skills/contree") != 0)
		return NULL;
	return xasprintf("%.*s/rules/contree.rules", (int)(n - m), path);
}

static int
put(const char *path, const char *data, size_t n)
{
	return writefile_atomic(path, data, n, 0644);
}

/* put dir/name. */
static int
put_at(const char *dir, const char *name, const char *data, size_t n)
{
	char *q = xasprintf("%s/%s", dir, name);
	int rc = put(q, data, n);

	free(q);
	return rc;
}

/* Write the kind's files at l->path, replacing what is there. */
static int
write_loc(const struct loc *l)
{
	char *parent = parent_of(l->path), *tmp = NULL, *p = NULL, *q = NULL;
	struct buf b = {0};
	int rc = -1;

	if (exists(l->path) && !ours(l))
		goto out;
	if (mkdirs(parent, 0755) < 0)
		goto out;
	if (l->k->type != K_DIR) {
		single_file(&b, l->k);
		rc = put(l->path, b.p, b.len);
		goto out;
	}
	tmp = xasprintf("%s/.contree-skill.XXXXXX", parent);
	if (!mkdtemp(tmp)) {
		seterr("cannot create a directory in %s:", parent);
		free(tmp);
		tmp = NULL;
		goto out;
	}
	p = xasprintf("%s/new", tmp);
	q = xasprintf("%s/new/agents", tmp);
	if (mkdirs(q, 0755) < 0)
		goto out;
	free(q);
	q = NULL;
	skill_md(&b, l->k);
	if (put_at(p, "SKILL.md", b.p, b.len) < 0 ||
	    put_at(p, ".version", VERSION "\n", sizeof VERSION) < 0 ||
	    put_at(p, "agents/openai.yaml", prose(P_OPENAI_YAML),
	    strlen(prose(P_OPENAI_YAML))) < 0)
		goto out;
	q = xasprintf("%s/old", tmp);
	if (exists(l->path) && rename(l->path, q) < 0) {
		seterr("cannot replace %s:", l->path);
		goto out;
	}
	if (rename(p, l->path) < 0) {
		seterr("cannot install %s:", l->path);
		if (exists(q))
			(void)rename(q, l->path);
		goto out;
	}
	if (strcmp(l->k->name, "codex") == 0) {
		char *r = rules_path(l->path), *rd;

		if (r) {
			rd = parent_of(r);
			rc = mkdirs(rd, 0755) < 0 ? -1 :
			    put(r, prose(P_CODEX_RULES),
			    strlen(prose(P_CODEX_RULES)));
			free(rd);
			free(r);
			if (rc < 0)
				goto out;
		}
	}
	rc = 0;
out:
	if (tmp)
		(void)remove_tree(tmp, 0);
	buf_free(&b);
	free(parent);
	free(tmp);
	free(p);
	free(q);
	return rc;
}

/* ---- commands ------------------------------------------------------------ */

enum { A_INSTALL, A_UPGRADE, A_REMOVE };

/* Remove the skill at l (asked unless yes); 0 done, -1 logged. */
static int
remove_one(struct ctx *c, const struct loc *l, const char *s, int yes)
{
	char *q;
	int rc;

	if (!ours(l)) {
		logmsg(LOG_ERROR, "%s", geterr());
		return -1;
	}
	if (!yes) {
		q = xasprintf("Remove 'contree' from %s? [y/N] ", s);
		rc = ask_yn(q);
		free(q);
		if (!rc) {
			logmsg(LOG_WARNING, "Not removed: %s", s);
			return -1;
		}
	}
	rc = remove_tree(l->path, 1);
	if (rc == 0 && strcmp(l->k->name, "codex") == 0) {
		char *r = rules_path(l->path);

		if (r)
			rc = remove_tree(r, 1);
		free(r);
	}
	if (rc == 0)
		rc = reg_update(c, l, 0);
	if (rc < 0) {
		logmsg(LOG_ERROR, "%s", geterr());
		return -1;
	}
	logmsg(LOG_INFO, "Removed contree skill (%s) from %s", l->k->name, s);
	return 0;
}

/* One location of install, upgrade or remove, its row added when done.
 * 0, or 1 when it failed (already logged). */
static int
skill_one(struct ctx *c, struct out *o, const struct loc *l, int act,
    int yes)
{
	static const char *const action[] = {"install", "upgrade", "remove"};
	char *s = shown(l->path);
	int failed = 0;

	if (act == A_INSTALL && exists(l->path) && !yes) {
		logmsg(LOG_WARNING, prose(P_SKILL_INSTALLED), l->k->name, s);
		goto out;
	}
	if (act != A_INSTALL && !exists(l->path)) {
		logmsg(LOG_ERROR, "contree skill (%s) is not installed "
		    "at %s", l->k->name, s);
		if (act == A_REMOVE)
			(void)reg_update(c, l, 0);
		failed = 1;
		goto out;
	}
	if (act == A_REMOVE) {
		failed = remove_one(c, l, s, yes) < 0;
	} else if (write_loc(l) < 0 || reg_update(c, l, 1) < 0) {
		logmsg(LOG_ERROR, "%s", geterr());
		failed = 1;
	} else {
		logmsg(LOG_INFO, "%s contree skill (%s) at %s",
		    act == A_INSTALL ? "Installed" : "Upgraded", l->k->name, s);
	}
	if (!failed) {
		struct row *r = row_new();

		row_str(r, "action", action[act]);
		row_str(r, "name", "contree");
		row_str(r, "kind", l->k->name);
		row_str(r, "path", s);
		out_row(o, r);
	}
out:
	free(s);
	return failed;
}

/* act at every location of l (freed); the status. */
static int
skill_all(struct ctx *c, struct locs *l, int act)
{
	struct out *o = out_new(c->fmt, 1);
	size_t i;
	int failed = 0, yes = act != A_UPGRADE && arg_flag(c, "force");

	for (i = 0; i < l->n; i++)
		failed |= skill_one(c, o, &l->v[i], act, yes);
	locs_free(l);
	if (out_end(o) < 0)
		return -1;
	return failed ? EXIT_ERR : EXIT_OK;
}

int
cmd_skill_install(struct ctx *c)
{
	struct locs l = {0};
	size_t i;
	int n;

	arg_pos(c, "SPEC", &n);
	if (n) {
		if (parse_specs(c, &l) < 0)
			return -1;
	} else {
		const char *h = home();
		char *cl;
		int claude;

		if (!h)
			return -1;
		cl = xasprintf("%s/.claude", h);
		claude = isdir(cl);
		free(cl);
		for (i = 0; i < LEN(kinds); i++) {
			char *p;

			if (is_claude(&kinds[i]) && !claude)
				continue;
			if (!(p = global_path(&kinds[i]))) {
				locs_free(&l);
				return -1;
			}
			locs_add(&l, &kinds[i], p);
		}
	}
	return skill_all(c, &l, A_INSTALL);
}

int
cmd_skill_upgrade(struct ctx *c)
{
	struct locs l = {0};

	if (targets(c, &l) < 0)
		return -1;
	return skill_all(c, &l, A_UPGRADE);
}

int
cmd_skill_remove(struct ctx *c)
{
	struct locs l = {0};

	if (targets(c, &l) < 0)
		return -1;
	return skill_all(c, &l, A_REMOVE);
}

/* -1, 0, 1 as dotted version a is older than, equal to, newer than b. */
static int
vercmp(const char *a, const char *b)
{
	while (*a || *b) {
		unsigned long x = strtoul(a, (char **)&a, 10);
		unsigned long y = strtoul(b, (char **)&b, 10);

		if (x != y)
			return x < y ? -1 : 1;
		if (*a == '.')
			a++;
		else if (*a)
			return -1;      /* not a plain version: treat as older */
		if (*b == '.')
			b++;
		else if (*b)
			break;
	}
	return 0;
}

int
cmd_skill_list(struct ctx *c)
{
	struct locs l = {0};
	struct out *o;
	size_t i, kept = 0;
	int rc = 0;

	if (reg_load(c, &l) < 0)
		return -1;
	if (l.n)  /* qsort wants a non-NULL base even for no elements */
		qsort(l.v, l.n, sizeof *l.v, cmp_path);
	o = out_new(c->fmt, 1);
	for (i = 0; i < l.n; i++) {
		struct row *r = row_new();
		char *s = shown(l.v[i].path), *vp;
		struct buf v = {0};
		int ex = exists(l.v[i].path), have = 0;

		if (ex && l.v[i].k->type == K_DIR) {
			vp = xasprintf("%s/.version", l.v[i].path);
			if (readfile(vp, &v) == 0) {
				while (v.len && (v.p[v.len - 1] == '\n' ||
				    v.p[v.len - 1] == '\r' || v.p[v.len - 1] == ' '))
					v.p[--v.len] = '\0';
				have = v.len > 0;
			}
			free(vp);
		}
		row_str(r, "name", "contree");
		row_str(r, "path", s);
		row_str(r, "kind", l.v[i].k->name);
		row_str(r, "version", have ? v.p : "?");
		row_str(r, "latest", VERSION);
		row_bool(r, "outdated", !have || vercmp(v.p, VERSION) < 0);
		row_bool(r, "exists", ex);
		out_row(o, r);
		buf_free(&v);
		free(s);
		if (ex)
			l.v[kept++] = l.v[i];
		else
			free(l.v[i].path);
	}
	if (kept != l.n) {
		/* forget what is gone; it was listed one last time */
		l.n = kept;
		if (reg_save(c, &l) < 0)
			logmsg(LOG_WARNING, "%s", geterr());
	}
	locs_free(&l);
	if (out_end(o) < 0)
		rc = -1;
	return rc;
}
