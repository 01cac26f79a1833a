/* parse.c - the option parser and the help text, both driven by the
 * one command table (table.c).  Re-entrant: ctx_parse keeps nothing
 * between calls and never exits, so the shell parses line after line. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "contree.h"
#include "out.h"
#include "prose.h"
#include "util.h"

extern const struct opt global_opts[];
extern const struct cmd commands[];

#define AGENT_NOTE "Automated agents: read `contree agent` first."

/* ---- help ---- */

/* A help text of the table (contree.h): "" for none. */
static const char *
text(int id)
{
	return id ? prose(id) : "";
}

static int
nopts(const struct opt *o)
{
	int n = 0;

	while (o && o[n].l)
		n++;
	return n;
}

/* " META" or " META [META ...]" after an option taking values. */
static void
opt_meta(struct buf *b, const struct opt *o)
{
	const char *m = o->meta ? o->meta : "X";

	if (o->kind != OPT_FLAG)
		buf_printf(b, " %s", m);
	if (o->kind == OPT_NARGS)
		buf_printf(b, " [%s ...]", m);
}

static void
usage_opt(struct buf *b, const struct opt *o)
{
	if (o->s)
		buf_printf(b, " [-%c", o->s);
	else
		buf_printf(b, " [--%s", o->l);
	opt_meta(b, o);
	buf_puts(b, "]");
}

/* "  NAME, ALIAS...          summary" for each command of list. */
static void
list_cmds(struct buf *b, const struct cmd *list)
{
	int i, j;

	for (i = 0; list[i].name; i++) {
		struct buf n = {0};

		buf_puts(&n, list[i].name);
		for (j = 0; list[i].alias && list[i].alias[j]; j++)
			buf_printf(&n, ", %s", list[i].alias[j]);
		buf_printf(b, "  %-22s%s\n", n.p, text(list[i].summary));
		buf_free(&n);
	}
}

static void
usage_line(struct buf *b, const char *prog, const struct cmd *c)
{
	const struct pos *p;
	int i;

	buf_printf(b, "usage: %s [-h]", prog);
	for (i = 0; c->opts && c->opts[i].l; i++)
		usage_opt(b, &c->opts[i]);
	for (p = c->pos; p && p->name; p++) {
		switch (p->nargs) {
		case P_ONE: buf_printf(b, " %s", p->name); break;
		case P_OPT: buf_printf(b, " [%s]", p->name); break;
		case P_ANY: buf_printf(b, " [%s ...]", p->name); break;
		case P_SOME: buf_printf(b, " %s [%s ...]", p->name, p->name); break;
		case P_REST: buf_printf(b, " [--] %s ...", p->name); break;
		}
	}
	if (c->subs) {
		buf_puts(b, c->subreq ? " {" : " [{");
		for (i = 0; c->subs[i].name; i++)
			buf_printf(b, "%s%s", i ? "," : "", c->subs[i].name);
		buf_puts(b, c->subreq ? "} ..." : "} ...]");
	}
	buf_puts(b, "\n");
}

static void
help_opts(struct buf *b, const struct opt *o, int withhelp)
{
	int i, j;

	if (withhelp)
		buf_puts(b, prose(P_PARSE_HELP_SHOW));
	for (i = 0; o && o[i].l; i++) {
		const char *const *al = opt_lists[o[i].alias];
		const char *const *ch = opt_lists[o[i].choices];
		struct buf l = {0};

		if (o[i].s)
			buf_printf(&l, "  -%c, --%s", o[i].s, o[i].l);
		else
			buf_printf(&l, "  --%s", o[i].l);
		for (j = 0; al && al[j]; j++)
			buf_printf(&l, ", --%s", al[j]);
		opt_meta(&l, &o[i]);
		if (l.len < 24)
			buf_printf(b, "%-24s%s", l.p, text(o[i].help));
		else
			buf_printf(b, "%s\n%24s%s", l.p, "", text(o[i].help));
		if (ch) {
			buf_puts(b, " {");
			for (j = 0; ch[j]; j++)
				buf_printf(b, "%s%s", j ? "," : "", ch[j]);
			buf_puts(b, "}");
		}
		if (o[i].def && *o[i].def)
			buf_printf(b, " (default: %s)", o[i].def);
		buf_puts(b, "\n");
		buf_free(&l);
	}
}

static void
print_help(const char *prog, const struct cmd *c)
{
	struct buf b = {0};
	const struct pos *p;

	usage_line(&b, prog, c);
	buf_printf(&b, "\n%s\n", text(c->desc));
	if (c->pos && c->pos->name) {
		buf_puts(&b, "\npositional arguments:\n");
		for (p = c->pos; p->name; p++)
			buf_printf(&b, "  %-22s%s\n", p->name, text(p->help));
	}
	if (c->subs) {
		buf_puts(&b, "\nsubcommands:\n");
		list_cmds(&b, c->subs);
	}
	buf_puts(&b, "\noptions:\n");
	help_opts(&b, c->opts, 1);
	if (c->examples) {
		const char *e;

		buf_puts(&b, "\nexamples:\n  ");
		for (e = text(c->examples); *e; e++) {
			buf_addc(&b, *e);
			if (*e == '\n')
				buf_puts(&b, "  ");
		}
		buf_puts(&b, "\n");
	}
	if (strcmp(c->name, "agent") != 0)
		buf_printf(&b, "\n%s\n", AGENT_NOTE);
	fwrite(b.p, 1, b.len, stdout);
	buf_free(&b);
}

static void
print_top_help(void)
{
	struct buf b = {0};

	buf_puts(&b, prose(H_TOP_HEAD));
	list_cmds(&b, commands);
	buf_puts(&b, "\nglobal options (before the command):\n");
	help_opts(&b, global_opts, 1);
	buf_puts(&b, prose(H_TOP_TAIL));
	fwrite(b.p, 1, b.len, stdout);
	buf_free(&b);
}

/* ---- parsing ---- */

/* One parse of one command line.  Every step returns 0 to go on or -1
 * when parsing ended early: a usage error (printed, status 2), --help
 * or --version (printed, status 0); status then holds the exit status.
 * Nothing is static, so the shell can parse one line after another. */
struct parser {
	const char *prog;       /* "contree session show" */
	char *progbuf;          /* prog when allocated */
	const struct cmd *cmd;
	struct ctx *c;
	int global;             /* parsing the global options */
	const struct opt *opts;
	const struct pos *spec;
	int si, taken, run, lastrun, nomore;
	struct buf extra;       /* unrecognized words */
	int status;
};

static void
setprog(struct parser *p, char *s)
{
	free(p->progbuf);
	p->prog = p->progbuf = s;
}

/* The usage line of cmd and "PROG: error: MESSAGE" on stderr. */
static void
vusage(const char *prog, const struct cmd *cmd, const char *fmt, va_list ap)
{
	struct buf b = {0};
	char msg[1024];

	vsnprintf(msg, sizeof msg, fmt, ap);
	usage_line(&b, prog, cmd);
	fprintf(stderr, "%s%s: error: %s\n", b.p, prog, msg);
	buf_free(&b);
}

static int PRINTFLIKE(2, 3)
usage_error(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vusage(p->prog, p->cmd, fmt, ap);
	va_end(ap);
	p->status = EXIT_USAGE;
	return -1;
}

/* Parsing ends with status 0 after help or the version. */
static int
parse_end(struct parser *p, int help)
{
	if (!help)
		printf("%s\n", api_user_agent());
	else if (p->global)
		print_top_help();
	else
		print_help(p->prog, p->cmd);
	p->status = EXIT_OK;
	return -1;
}

/* "'a', 'b', 'c'" into b: the names of a NULL-terminated list, or of a
 * command table when names is NULL. */
static const char *
quoted_list(struct buf *b, const char *const *names, const struct cmd *cmds)
{
	int k;

	buf_reset(b);
	for (k = 0; names ? names[k] != NULL : cmds[k].name != NULL; k++)
		buf_printf(b, "%s'%s'", k ? ", " : "",
		    names ? names[k] : cmds[k].name);
	return b->p ? b->p : "";
}

/* usage_error for a word that is not one of the choices. */
static int
bad_choice(struct parser *p, const char *what, const char *w,
    const char *const *names, const struct cmd *cmds)
{
	struct buf b = {0};
	int r;

	r = usage_error(p, prose(P_PARSE_ARGUMENT_INVALID),
	    what, w, quoted_list(&b, names, cmds));
	buf_free(&b);
	return r;
}

static int
matchname(const char *name, const char *const *alias, const char *w)
{
	int i;

	if (strcmp(name, w) == 0)
		return 1;
	for (i = 0; alias && alias[i]; i++)
		if (strcmp(alias[i], w) == 0)
			return 1;
	return 0;
}

const struct cmd *
findcmd(const struct cmd *list, const char *w)
{
	for (; list && list->name; list++)
		if (matchname(list->name, list->alias, w))
			return list;
	return NULL;
}

/* argparse's negative number: -N or -[N].N */
static int
isnegnum(const char *s)
{
	size_t n;

	if (*s++ != '-')
		return 0;
	n = strspn(s, "0123456789");
	if (s[n] == '.')
		return s[n + 1] && strspn(s + n + 1, "0123456789") ==
		    strlen(s + n + 1);
	return n > 0 && !s[n];
}

/* An option word: "-x" or "--x", not "-", not a negative number. */
static int
isopt(const char *s)
{
	return s[0] == '-' && s[1] && !isnegnum(s);
}

static struct optval *
optslot(struct ctx *c, const struct opt *o)
{
	int i;

	for (i = 0; i < c->nov; i++)
		if (strcmp(c->ov[i].o->l, o->l) == 0) {
			c->ov[i].o = o;
			return &c->ov[i];
		}
	c->ov = xreallocarray(c->ov, (size_t)c->nov + 1, sizeof *c->ov);
	memset(&c->ov[c->nov], 0, sizeof *c->ov);
	c->ov[c->nov].o = o;
	return &c->ov[c->nov++];
}

static void
addval(struct optval *v, char *s)
{
	v->v = xreallocarray(v->v, (size_t)v->nv + 1, sizeof *v->v);
	v->v[v->nv++] = s;
}

static void
addpos(struct ctx *c, const char *name, char *w)
{
	c->pos = xreallocarray(c->pos, (size_t)c->npos + 1, sizeof *c->pos);
	c->posname = xreallocarray(c->posname, (size_t)c->npos + 1,
	    sizeof *c->posname);
	c->posname[c->npos] = name;
	c->pos[c->npos++] = w;
}

static int
checkval(struct parser *p, const struct opt *o, const char *val)
{
	char sh[2] = {o->s, '\0'};
	long long n;

	switch (o->kind) {
	case OPT_INT:
	case OPT_POSINT:
		if (parse_ll(val, o->kind == OPT_POSINT ? 1 : -(1LL << 62),
		    1LL << 62, &n, "int value") == 0)
			return 0;
		if (o->kind == OPT_POSINT && parse_ll(val, -(1LL << 62),
		    1LL << 62, &n, "x") == 0)
			return usage_error(p, prose(P_PARSE_ARGUMENT_MUST),
			    o->s ? "-" : "--", o->s ? sh : o->l, val);
		return usage_error(p, "argument %s%s: invalid int value: '%s'",
		    o->s ? "-" : "--", o->s ? sh : o->l, val);
	case OPT_CHOICE:
		for (n = 0; opt_lists[o->choices][n]; n++)
			if (strcmp(opt_lists[o->choices][n], val) == 0)
				return 0;
		{
			char what[64];

			snprintf(what, sizeof what, "--%s", o->l);
			return bad_choice(p, what, val, opt_lists[o->choices],
			    NULL);
		}
	default:
		/* -S "$KEY" with KEY unset must not fall back to another
		 * session (the Python client does) */
		if (o->s == 'S' && (!*val || ctrlchar(val)))
			return usage_error(p, "argument -S/--session: %s "
			    "session key", *val ? "a control character in the" :
			    "empty");
		if (!o->s && strcmp(o->l, "request-timeout") == 0) {
			int ms;

			if (api_parse_timeout(val, &ms) < 0)
				return usage_error(p, "argument "
				    "--request-timeout: %s", geterr());
		}
	}
	return 0;
}

/* Does the option name (or alias) n match the word w of length len?
 * 2 exactly, 1 as a prefix, 0 not. */
static int
optmatch(const char *n, const char *w, size_t len)
{
	if (strncmp(n, w, len) != 0)
		return 0;
	return strlen(n) == len ? 2 : 1;
}

/* Find an option by long name or unambiguous prefix (aliases count).
 * *help is set for --help (or a prefix of it only).  NULL and no help:
 * unknown; -1 in *err after an ambiguity (printed). */
static const struct opt *
findlong(struct parser *p, const char *name, size_t len, int *help,
    int *err)
{
	const struct opt *opts = p->opts, *hit = NULL;
	struct buf amb = {0};
	int i, j, m, nhit = 0;

	*help = *err = 0;
	if (len == 4 && strncmp(name, "help", 4) == 0)
		return *help = 1, NULL;
	for (i = 0; opts && opts[i].l; i++) {
		const char *const *al = opt_lists[opts[i].alias];

		for (j = -1; j < 0 || (al && al[j]); j++) {
			const char *n = j < 0 ? opts[i].l : al[j];

			if ((m = optmatch(n, name, len)) == 2) {
				buf_free(&amb);
				return &opts[i];
			}
			if (m && hit != &opts[i]) {
				buf_printf(&amb, "%s--%s", nhit++ ? ", " : "", n);
				hit = &opts[i];
			}
		}
	}
	if (len <= 4 && strncmp("help", name, len) == 0) {
		if (nhit == 0)
			return *help = 1, NULL;
		buf_printf(&amb, ", --help");
		nhit++;
	}
	if (nhit > 1) {
		*err = usage_error(p, "ambiguous option: --%.*s could match %s",
		    (int)len, name, amb.p);
		hit = NULL;
	}
	buf_free(&amb);
	return hit;
}

static const struct opt *
findshort(const struct opt *opts, char ch)
{
	int i;

	for (i = 0; opts && opts[i].l; i++)
		if (opts[i].s == ch)
			return &opts[i];
	return NULL;
}

static int
unknown(struct parser *p, const char *w)
{
	buf_printf(&p->extra, "%s%s", p->extra.len ? " " : "", w);
	return usage_error(p, "unrecognized arguments: %s", p->extra.p);
}

/* A flag was given; --version/-v among the global ones ends parsing. */
static int
flag(struct parser *p, const struct opt *o)
{
	optslot(p->c, o)->count++;
	if (p->global && strcmp(o->l, "version") == 0)
		return parse_end(p, 0);
	return 0;
}

/* The option o of argv[*i] with val (NULL: the value is the next word). */
static int
optvalue(struct parser *p, const struct opt *o, char *val, int argc,
    char **argv, int *i)
{
	struct optval *v;

	if (!val) {
		if (*i + 1 >= argc || isopt(argv[*i + 1]))
			return usage_error(p, "argument %s: expected %s",
			    argv[*i], o->kind == OPT_NARGS ?
			    "at least one argument" : "one argument");
		val = argv[++*i];
	}
	if (checkval(p, o, val) < 0)
		return -1;
	v = optslot(p->c, o);
	addval(v, val);
	v->count++;
	if (o->kind == OPT_NARGS)
		while (*i + 1 < argc && !(argv[*i + 1][0] == '-' &&
		    argv[*i + 1][1] && !isnegnum(argv[*i + 1])))
			addval(v, argv[++*i]);
	return 0;
}

/* "--name", "--name=value" */
static int
longopt(struct parser *p, int argc, char **argv, int *i)
{
	char *a = argv[*i], *eq = strchr(a + 2, '=');
	size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
	const struct opt *o;
	int help, err;

	o = findlong(p, a + 2, len, &help, &err);
	if (help)
		return parse_end(p, 1);
	if (err)
		return -1;
	if (!o)
		return unknown(p, a);
	if (o->kind == OPT_FLAG) {
		if (eq)
			return usage_error(p, prose(P_PARSE_ARGUMENT_IGNORED),
			    o->l, eq + 1);
		return flag(p, o);
	}
	return optvalue(p, o, eq ? eq + 1 : NULL, argc, argv, i);
}

/* "-abc", "-fjson", "-f=json", "-f json" */
static int
shortopts(struct parser *p, int argc, char **argv, int *i)
{
	char *a = argv[*i], *s;
	const struct opt *o;

	for (s = a + 1; *s; s++) {
		if (*s == 'h')
			return parse_end(p, 1);
		if (!(o = findshort(p->opts, *s)))
			return unknown(p, a);
		if (o->kind != OPT_FLAG)
			return optvalue(p, o, s == a + 1 && s[1] == '=' ?
			    s + 2 : s[1] ? s + 1 : NULL, argc, argv, i);
		if (flag(p, o) < 0)
			return -1;
	}
	return 0;
}

static int parse_words(struct parser *p, int argc, char **argv, int i);

/* Descend into the command (or subcommand) sub named by argv[i]. */
static int
descend(struct parser *p, const struct cmd *sub, int argc, char **argv,
    int i)
{
	p->cmd = sub;
	setprog(p, p->global ? xasprintf("contree %s", sub->name) :
	    xasprintf("%s %s", p->prog, sub->name));
	p->global = 0;
	p->opts = sub->opts;
	p->spec = sub->pos;
	p->si = p->taken = p->run = p->nomore = 0;
	p->lastrun = -1;
	buf_reset(&p->extra);
	return parse_words(p, argc, argv, i + 1);
}

/* A positional word at argv[*i]; 1 when it started a subcommand (whose
 * parse then ended). */
static int
positional(struct parser *p, int argc, char **argv, int *i)
{
	const struct pos *spec = p->spec;
	const struct cmd *sub;
	const char *const *ch;
	char *a = argv[*i];
	int k, ok = 0;

	if (p->global) {
		if (!(sub = findcmd(commands, a)))
			return bad_choice(p, "COMMAND", a, NULL, commands);
		return descend(p, sub, argc, argv, *i) < 0 ? -1 : 1;
	}
	if (p->cmd->subs && p->taken == 0 && p->si == 0 && !p->nomore) {
		if ((sub = findcmd(p->cmd->subs, a)))
			return descend(p, sub, argc, argv, *i) < 0 ? -1 : 1;
		if (!spec || !spec->name)
			return bad_choice(p, "command", a, NULL, p->cmd->subs);
	}
	/* advance past finished positional specs */
	while (spec && spec[p->si].name && p->taken > 0 &&
	    (spec[p->si].nargs == P_ONE || spec[p->si].nargs == P_OPT ||
	    p->lastrun != p->run)) {
		p->si++;
		p->taken = 0;
	}
	if (!spec || !spec[p->si].name) {
		buf_printf(&p->extra, "%s%s", p->extra.len ? " " : "", a);
		return 0;
	}
	spec += p->si;
	if (spec->nargs == P_REST) {
		for (; *i < argc; ++*i)
			addpos(p->c, spec->name, argv[*i]);
		p->taken = 1;
		return 0;
	}
	ch = opt_lists[spec->choices];
	for (k = 0; ch && ch[k]; k++)
		ok |= strcmp(ch[k], a) == 0;
	if (ch && !ok)
		return bad_choice(p, spec->name, a, ch, NULL);
	addpos(p->c, spec->name, a);
	p->taken++;
	p->lastrun = p->run;
	return 0;
}

/* After the last word: nothing extra, every required positional. */
static int
finish(struct parser *p)
{
	const struct pos *spec = p->spec;
	struct buf miss = {0};
	int k, n, r = 0;

	if (p->extra.len)
		return usage_error(p, "unrecognized arguments: %s", p->extra.p);
	for (k = 0; spec && spec[k].name; k++) {
		arg_pos(p->c, spec[k].name, &n);
		if (n == 0 && (spec[k].nargs == P_ONE || spec[k].nargs == P_SOME))
			buf_printf(&miss, "%s%s", miss.len ? ", " : "",
			    spec[k].name);
	}
	if (p->cmd->subs && p->cmd->subreq)
		buf_printf(&miss, "%scommand", miss.len ? ", " : "");
	if (miss.len)
		r = usage_error(p, "the following arguments are required: %s",
		    miss.p);
	buf_free(&miss);
	if (r == 0) {
		p->c->cmd = p->cmd;
		p->c->path = p->prog;
	}
	return r;
}

/* Parse argv[i..argc) for p->cmd (the global options first, then the
 * command word and its own words). */
static int
parse_words(struct parser *p, int argc, char **argv, int i)
{
	int r;

	for (; i < argc; i++) {
		char *a = argv[i];

		if (!p->nomore && strcmp(a, "--") == 0) {
			p->nomore = 1;
			p->run++;
			continue;
		}
		if (!p->nomore && isopt(a)) {
			p->run++;
			r = a[1] == '-' ? longopt(p, argc, argv, &i) :
			    shortopts(p, argc, argv, &i);
		} else {
			r = positional(p, argc, argv, &i);
		}
		if (r != 0)
			return r < 0 ? -1 : 0;
	}
	return p->global ? 0 : finish(p);
}

/* ---- argument access ---- */

static struct optval *
getov(struct ctx *c, const char *name)
{
	int i;

	for (i = 0; i < c->nov; i++)
		if (strcmp(c->ov[i].o->l, name) == 0)
			return &c->ov[i];
	return NULL;
}

static const struct opt *
getopt_def(struct ctx *c, const char *name)
{
	const struct opt *o = c->cmd ? c->cmd->opts : NULL;

	for (; o && o->l; o++)
		if (strcmp(o->l, name) == 0)
			return o;
	return NULL;
}

int
arg_flag(struct ctx *c, const char *name)
{
	struct optval *v = getov(c, name);

	return v ? v->count : 0;
}

int
arg_given(struct ctx *c, const char *name)
{
	return getov(c, name) != NULL;
}

const char *
arg_str(struct ctx *c, const char *name)
{
	struct optval *v = getov(c, name);
	const struct opt *o;

	if (v && v->nv)
		return v->v[v->nv - 1];
	o = getopt_def(c, name);
	return o ? o->def : NULL;
}

long long
arg_int(struct ctx *c, const char *name)
{
	const char *s = arg_str(c, name);

	/* values were validated while parsing */
	return s ? strtoll(s, NULL, 10) : 0;
}

char **
arg_list(struct ctx *c, const char *name, int *n)
{
	struct optval *v = getov(c, name);

	*n = v ? v->nv : 0;
	return v ? v->v : NULL;
}

char **
arg_pos(struct ctx *c, const char *name, int *n)
{
	int i;

	for (i = 0; i < c->npos; i++)
		if (strcmp(c->posname[i], name) == 0)
			break;
	*n = 0;
	while (i + *n < c->npos && strcmp(c->posname[i + *n], name) == 0)
		(*n)++;
	return *n ? &c->pos[i] : NULL;
}

int
arg_when(struct ctx *c, const char *name, long long *t, int *set)
{
	const char *v = arg_str(c, name);

	*set = 0;
	if (!v)
		return 0;
	if (parse_when(v, t) < 0) {
		usage_fail(c, "argument --%s: %s", name, geterr());
		return -1;
	}
	*set = 1;
	return 0;
}

int
arg_when_iso(struct ctx *c, const char *name, char *iso, size_t n)
{
	long long t;
	int set;

	iso[0] = '\0';
	if (arg_when(c, name, &t, &set) < 0)
		return -1;
	if (set)
		iso_utc(t, iso, n);
	return 0;
}

/* ---- the whole command line ---- */

/* The value of a global option, last one given. */
static const char *
global_val(struct ctx *c, const char *name)
{
	const struct optval *v = getov(c, name);

	/* a global value lives in a slot of the global table */
	if (v && v->o >= global_opts && v->o < global_opts +
	    nopts(global_opts) && v->nv)
		return v->v[v->nv - 1];
	return NULL;
}

static void
globals(struct ctx *c)
{
	const char *lv = global_val(c, "log-level");
	const char *f = global_val(c, "format");

	c->profile = global_val(c, "profile");
	c->token = global_val(c, "token");
	c->url = global_val(c, "url");
	c->project = global_val(c, "project");
	c->config = global_val(c, "config");
	c->session_opt = global_val(c, "session");
	if (lv)
		loglevel = log_parse(lv);
	c->fmt = fmt_parse(f ? f : "default");
}

int
ctx_parse(struct ctx *c, int argc, char **argv, int *status)
{
	static const struct cmd top = {"contree", NULL, global_opts, NULL,
	    commands, NULL, 0, 0, 0, 1, 0};
	struct parser p;
	int r;

	memset(&p, 0, sizeof p);
	p.prog = "contree";
	p.cmd = &top;
	p.c = c;
	p.global = 1;
	p.opts = global_opts;
	p.lastrun = -1;
	c->fmt = fmt_parse("default");
	*status = EXIT_OK;
	if (argc < 2) {
		print_top_help();
		return 0;
	}
	r = parse_words(&p, argc, argv, 1);
	buf_free(&p.extra);
	if (r < 0 || !c->cmd) {
		free(p.progbuf);
		if (r < 0)
			*status = p.status;
		else
			print_top_help();
		c->cmd = NULL;
		c->path = NULL;
		return 0;
	}
	c->pathbuf = p.progbuf;
	globals(c);
	return 1;
}

void
ctx_free_args(struct ctx *c)
{
	int i;

	for (i = 0; i < c->nov; i++)
		free(c->ov[i].v);
	free(c->ov);
	free(c->pos);
	free(c->posname);
	free(c->pathbuf);
	c->ov = NULL;
	c->pos = NULL;
	c->posname = NULL;
	c->pathbuf = NULL;
	c->nov = c->npos = 0;
	c->cmd = NULL;
	c->path = NULL;
}

void PRINTFLIKE(2, 3)
usage_fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vusage(c->path, c->cmd, fmt, ap);
	va_end(ap);
}
