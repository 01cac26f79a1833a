/* contree.c - main: global options, the table-driven option parser,
 * help, profile and session resolution, dispatch and exit status. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "api.h"
#include "cmds.h"
#include "config.h"
#include "contree.h"
#include "out.h"
#include "store.h"
#include "util.h"

extern const struct opt global_opts[];
extern const struct cmd commands[];

#define AGENT_NOTE "Automated agents: read `contree agent` first."

/* ---- help ---- */

static int
nopts(const struct opt *o)
{
	int n = 0;

	while (o && o[n].l)
		n++;
	return n;
}

static void
usage_opt(struct buf *b, const struct opt *o)
{
	if (o->s)
		buf_printf(b, " [-%c", o->s);
	else
		buf_printf(b, " [--%s", o->l);
	if (o->kind != OPT_FLAG)
		buf_printf(b, " %s", o->meta ? o->meta : "X");
	if (o->kind == OPT_NARGS)
		buf_printf(b, " [%s ...]", o->meta ? o->meta : "X");
	buf_puts(b, "]");
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
		buf_puts(b, "  -h, --help            show this help and exit\n");
	for (i = 0; o && o[i].l; i++) {
		struct buf l = {0};

		if (o[i].s)
			buf_printf(&l, "  -%c, --%s", o[i].s, o[i].l);
		else
			buf_printf(&l, "  --%s", o[i].l);
		for (j = 0; o[i].alias && o[i].alias[j]; j++)
			buf_printf(&l, ", --%s", o[i].alias[j]);
		if (o[i].kind != OPT_FLAG)
			buf_printf(&l, " %s", o[i].meta ? o[i].meta : "X");
		if (o[i].kind == OPT_NARGS)
			buf_printf(&l, " [%s ...]", o[i].meta ? o[i].meta : "X");
		if (l.len < 24)
			buf_printf(b, "%-24s%s", l.p, o[i].help);
		else
			buf_printf(b, "%s\n%24s%s", l.p, "", o[i].help);
		if (o[i].choices) {
			buf_puts(b, " {");
			for (j = 0; o[i].choices[j]; j++)
				buf_printf(b, "%s%s", j ? "," : "",
				    o[i].choices[j]);
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
	int i;

	usage_line(&b, prog, c);
	buf_printf(&b, "\n%s\n", c->desc);
	if (c->pos && c->pos->name) {
		buf_puts(&b, "\npositional arguments:\n");
		for (p = c->pos; p->name; p++)
			buf_printf(&b, "  %-22s%s\n", p->name, p->help);
	}
	if (c->subs) {
		buf_puts(&b, "\nsubcommands:\n");
		for (i = 0; c->subs[i].name; i++) {
			struct buf n = {0};
			int j;

			buf_puts(&n, c->subs[i].name);
			for (j = 0; c->subs[i].alias && c->subs[i].alias[j]; j++)
				buf_printf(&n, ", %s", c->subs[i].alias[j]);
			buf_printf(&b, "  %-22s%s\n", n.p, c->subs[i].summary);
			buf_free(&n);
		}
	}
	buf_puts(&b, "\noptions:\n");
	help_opts(&b, c->opts, 1);
	if (c->examples) {
		const char *e;

		buf_puts(&b, "\nexamples:\n  ");
		for (e = c->examples; *e; e++) {
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
	int i, j;

	buf_puts(&b, "usage: contree [-h] [-v] [-p NAME] [--token TOKEN] [-u URL] "
	    "[-P ID] [-c PATH] [-L LEVEL] [-f FMT] [-S KEY] COMMAND ...\n\n"
	    "Command-line client for ConTree: run commands in VM-isolated "
	    "sandboxes whose\nfilesystem is snapshotted after every run, with "
	    "git-like sessions, branches and rollback.\n\ncommands:\n");
	for (i = 0; commands[i].name; i++) {
		struct buf n = {0};

		buf_puts(&n, commands[i].name);
		for (j = 0; commands[i].alias && commands[i].alias[j]; j++)
			buf_printf(&n, ", %s", commands[i].alias[j]);
		buf_printf(&b, "  %-22s%s\n", n.p, commands[i].summary);
		buf_free(&n);
	}
	buf_puts(&b, "\nglobal options (before the command):\n");
	help_opts(&b, global_opts, 1);
	buf_puts(&b, "\nexamples:\n"
	    "  eval $(contree use tag:ubuntu:latest)\n"
	    "  contree run apt-get update -qq\n"
	    "  contree session branch experiment\n"
	    "  contree session rollback -1\n"
	    "\nRun 'contree COMMAND --help' for a command; see contree(1).\n"
	    "\n" AGENT_NOTE "\n");
	fwrite(b.p, 1, b.len, stdout);
	buf_free(&b);
}

/* ---- parsing ---- */

char **arg_pos(struct ctx *c, const char *name, int *n);

/* Usage errors, --help and --version end parsing by jumping back to main
 * with the exit status + 1; main does the exiting. */
static jmp_buf parse_done;

struct parser {
	const char *prog;       /* "contree session show" */
	char *progbuf;          /* prog when allocated */
	const struct cmd *cmd;
	struct ctx *c;
};

static void
setprog(struct parser *p, char *s)
{
	free(p->progbuf);
	p->prog = p->progbuf = s;
}

/* A message buffer that usage_error frees once the message is formatted:
 * the longjmp would leave it behind. */
static struct buf *ue_buf;

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

static void PRINTFLIKE(2, 3)
usage_error(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vusage(p->prog, p->cmd, fmt, ap);
	va_end(ap);
	if (ue_buf)
		buf_free(ue_buf);
	ue_buf = NULL;
	longjmp(parse_done, EXIT_USAGE + 1);
}

/* "'a', 'b', 'c'": the names of a NULL-terminated list, or of a command
 * table when names is NULL.  Static storage, so it stays reachable when
 * usage_error jumps away. */
static const char *
quoted_list(const char *const *names, const struct cmd *cmds)
{
	static struct buf b;
	int k;

	buf_reset(&b);
	for (k = 0; names ? names[k] != NULL : cmds[k].name != NULL; k++)
		buf_printf(&b, "%s'%s'", k ? ", " : "",
		    names ? names[k] : cmds[k].name);
	return b.p ? b.p : "";
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

static const struct cmd *
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
checkval(struct parser *p, const struct opt *o, const char *val)
{
	long long n;
	int i;

	switch (o->kind) {
	case OPT_INT:
	case OPT_POSINT:
		if (parse_ll(val, o->kind == OPT_POSINT ? 1 : -(1LL << 62),
		    1LL << 62, &n, "int value") < 0) {
			if (o->kind == OPT_POSINT && parse_ll(val, -(1LL << 62),
			    1LL << 62, &n, "x") == 0)
				usage_error(p, "argument %s%s: must be a positive integer: '%s'",
				    o->s ? "-" : "--", o->s ? (char[]){o->s, 0} : o->l, val);
			usage_error(p, "argument %s%s: invalid int value: '%s'",
			    o->s ? "-" : "--", o->s ? (char[]){o->s, 0} : o->l, val);
		}
		break;
	case OPT_CHOICE:
		for (i = 0; o->choices[i]; i++)
			if (strcmp(o->choices[i], val) == 0)
				return;
		usage_error(p, "argument --%s: invalid choice: '%s' (choose from %s)",
		    o->l, val, quoted_list(o->choices, NULL));
	}
}

/* Find an option by long name or unambiguous prefix (aliases count). */
static const struct opt *
findlong(struct parser *p, const struct opt *opts, const char *name,
    size_t len, int *ishelp)
{
	const struct opt *hit = NULL;
	struct buf amb = {0};
	int i, j, exact = 0, nhit = 0;

	*ishelp = 0;
	if (len == 4 && strncmp(name, "help", 4) == 0) {
		*ishelp = 1;
		return NULL;
	}
	for (i = 0; opts && opts[i].l; i++) {
		const char *names[8];
		int nn = 0;

		names[nn++] = opts[i].l;
		for (j = 0; opts[i].alias && opts[i].alias[j] && nn < 8; j++)
			names[nn++] = opts[i].alias[j];
		for (j = 0; j < nn; j++) {
			if (strncmp(names[j], name, len) != 0)
				continue;
			if (strlen(names[j]) == len) {
				exact = 1;
				hit = &opts[i];
				break;
			}
			if (hit != &opts[i]) {
				buf_printf(&amb, "%s--%s", nhit ? ", " : "", names[j]);
				nhit++;
				hit = &opts[i];
			}
		}
		if (exact)
			break;
	}
	if (!exact && len <= 4 && strncmp("help", name, len) == 0) {
		if (nhit == 0) {
			*ishelp = 1;
			return NULL;
		}
		buf_printf(&amb, ", --help");
		nhit++;
	}
	if (!exact && nhit > 1) {
		ue_buf = &amb;
		usage_error(p, "ambiguous option: --%.*s could match %s",
		    (int)len, name, amb.p);
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

/* Parse argv[i..argc) for p->cmd (and its subcommands).  Global options
 * are parsed by the same code with the global table. */
static void
parse(struct parser *p, int argc, char **argv, int i, int global)
{
	struct ctx *c = p->c;
	const struct cmd *cmd = p->cmd;
	const struct opt *opts = global ? global_opts : cmd->opts;
	const struct pos *spec = global ? NULL : cmd->pos;
	int si = 0, taken = 0, run = 0, lastrun = -1, nomore = 0;
	struct buf extra = {0};

	for (; i < argc; i++) {
		char *a = argv[i];

		if (!nomore && strcmp(a, "--") == 0) {
			nomore = 1;
			run++;
			continue;
		}
		if (!nomore && a[0] == '-' && a[1] && !isnegnum(a)) {
			const struct opt *o = NULL;
			char *val = NULL;
			int ishelp;

			run++;
			if (a[1] == '-') {
				char *eq = strchr(a + 2, '=');
				size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);

				o = findlong(p, opts, a + 2, len, &ishelp);
				if (ishelp)
					goto help;
				if (!o)
					goto unknown;
				if (eq) {
					if (o->kind == OPT_FLAG)
						usage_error(p, "argument --%s: ignored explicit argument '%s'",
						    o->l, eq + 1);
					val = eq + 1;
				}
			} else {
				char *s;

				for (s = a + 1; *s; s++) {
					if (*s == 'h')
						goto help;
					o = findshort(opts, *s);
					if (!o)
						goto unknown;
					if (o->kind != OPT_FLAG) {
						/* -fjson, and -f=json as argparse */
						if (s == a + 1 && s[1] == '=')
							val = s + 2;
						else if (s[1])
							val = s + 1;
						break;
					}
					optslot(c, o)->count++;
					if (global && o->s == 'v')
						goto version;
					o = NULL;
				}
				if (!o)
					continue;
			}
			if (o->kind == OPT_FLAG) {
				optslot(c, o)->count++;
				if (global && strcmp(o->l, "version") == 0)
					goto version;
				continue;
			}
			if (!val) {
				if (i + 1 >= argc || (argv[i + 1][0] == '-' &&
				    argv[i + 1][1] && !isnegnum(argv[i + 1])))
					usage_error(p, "argument %s: expected %s",
					    a, o->kind == OPT_NARGS ?
					    "at least one argument" : "one argument");
				val = argv[++i];
			}
			checkval(p, o, val);
			addval(optslot(c, o), val);
			optslot(c, o)->count++;
			if (o->kind == OPT_NARGS)
				while (i + 1 < argc && (!(argv[i + 1][0] == '-' &&
				    argv[i + 1][1]) || isnegnum(argv[i + 1])))
					addval(optslot(c, o), argv[++i]);
			continue;
		}
		/* a positional */
		if (global) {
			/* the command word; the rest is the command's */
			const struct cmd *sub = findcmd(commands, a);

			if (!sub)
				usage_error(p, "argument COMMAND: invalid choice: '%s' (choose from %s)",
				    a, quoted_list(NULL, commands));
			p->cmd = sub;
			setprog(p, xasprintf("contree %s", sub->name));
			parse(p, argc, argv, i + 1, 0);
			return;
		}
		if (cmd->subs && taken == 0 && si == 0 && !nomore) {
			const struct cmd *sub = findcmd(cmd->subs, a);

			if (sub) {
				p->cmd = sub;
				setprog(p, xasprintf("%s %s", p->prog, sub->name));
				parse(p, argc, argv, i + 1, 0);
				buf_free(&extra);
				return;
			}
			if (!spec || !spec->name)
				usage_error(p, "argument command: invalid choice: '%s' (choose from %s)",
				    a, quoted_list(NULL, cmd->subs));
		}
		/* advance past finished positional specs */
		while (spec && spec[si].name && taken > 0 &&
		    (spec[si].nargs == P_ONE || spec[si].nargs == P_OPT ||
		    lastrun != run)) {
			si++;
			taken = 0;
		}
		if (!spec || !spec[si].name) {
			buf_printf(&extra, "%s%s", extra.len ? " " : "", a);
			continue;
		}
		if (spec[si].nargs == P_REST) {
			for (; i < argc; i++) {
				c->pos = xreallocarray(c->pos, (size_t)c->npos + 1,
				    sizeof *c->pos);
				c->posname = xreallocarray(c->posname,
				    (size_t)c->npos + 1, sizeof *c->posname);
				c->posname[c->npos] = spec[si].name;
				c->pos[c->npos++] = argv[i];
			}
			taken = 1;
			break;
		}
		if (spec[si].choices) {
			int k, ok = 0;

			for (k = 0; spec[si].choices[k]; k++)
				ok |= strcmp(spec[si].choices[k], a) == 0;
			if (!ok)
				usage_error(p, "argument %s: invalid choice: '%s' (choose from %s)",
				    spec[si].name, a, quoted_list(spec[si].choices, NULL));
		}
		c->pos = xreallocarray(c->pos, (size_t)c->npos + 1, sizeof *c->pos);
		c->posname = xreallocarray(c->posname, (size_t)c->npos + 1,
		    sizeof *c->posname);
		c->posname[c->npos] = spec[si].name;
		c->pos[c->npos++] = a;
		taken++;
		lastrun = run;
	}
	if (global) {
		p->cmd = NULL;
		return;
	}
	if (extra.len) {
		ue_buf = &extra;
		usage_error(p, "unrecognized arguments: %s", extra.p);
	}
	/* required positionals still missing */
	{
		struct buf miss = {0};
		int k;

		for (k = 0; spec && spec[k].name; k++) {
			int n;

			arg_pos(c, spec[k].name, &n);
			if (n == 0 && (spec[k].nargs == P_ONE ||
			    spec[k].nargs == P_SOME))
				buf_printf(&miss, "%s%s", miss.len ? ", " : "",
				    spec[k].name);
		}
		if (cmd->subs && cmd->subreq)
			buf_printf(&miss, "%scommand", miss.len ? ", " : "");
		if (miss.len) {
			ue_buf = &miss;
			usage_error(p, "the following arguments are required: %s",
			    miss.p);
		}
	}
	c->cmd = cmd;
	c->path = p->prog;
	return;
unknown:
	buf_printf(&extra, "%s%s", extra.len ? " " : "", argv[i]);
	ue_buf = &extra;
	usage_error(p, "unrecognized arguments: %s", extra.p);
help:
	if (global)
		print_top_help();
	else
		print_help(p->prog, cmd);
	longjmp(parse_done, EXIT_OK + 1);
version:
	{
		/* the User-Agent: contree-cli/<version> <runtime> <platform> */
		printf("%s\n", api_user_agent());
		longjmp(parse_done, EXIT_OK + 1);
	}
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

/* ---- configuration (config.c) ---- */

/* [cli] output_format and log_level, below -f and -L. */
static void
cli_defaults(struct ctx *c, const struct clidef *d)
{
	static const char *lv[] = {
		"debug", "info", "warning", "error", "critical"
	};
	size_t k;

	if (d->output_format && !getov(c, "format") &&
	    fmt_parse(d->output_format) >= 0)
		c->fmt = fmt_parse(d->output_format);
	if (d->log_level && !getov(c, "log-level"))
		for (k = 0; k < LEN(lv); k++)
			if (strcasecmp(d->log_level, lv[k]) == 0)
				loglevel = (int)k;
}

/* Load the configuration into cf (config.h) and point the context at
 * it; a command that needs no profile survives a malformed auth.ini. */
static int
resolve_profile(struct ctx *c, struct config *cf, int local)
{
	struct config_in in;
	char *home = config_home(NULL);
	int r;

	config_migrate(home);
	memset(&in, 0, sizeof in);
	in.home = home;
	in.config = c->config;
	in.profile = c->profile;
	in.token = c->token;
	in.url = c->url;
	in.project = c->project;
	in.lenient = local;
	r = config_load(cf, &in);
	free(home);
	if (r < 0)
		return -1;
	cli_defaults(c, &cf->def);
	c->conf = cf;
	c->home = cf->home;
	c->config = cf->path;
	c->prof_name = cf->prof.name;
	c->prof_token = cf->prof.token;
	c->prof_url = cf->prof.url;
	c->prof_type = cf->prof.type;
	c->prof_project = cf->prof.project;
	c->prof_found = cf->found;
	c->editor_default = cf->def.editor;
	return 0;
}

/* ---- lazily opened resources ---- */

struct api *
ctx_api(struct ctx *c)
{
	struct api_cfg cfg;

	if (c->api_)
		return c->api_;
	if (!c->prof_token || !*c->prof_token) {
		seterr("API 0: no token configured for profile '%s'; run 'contree auth'",
		    c->prof_name);
		return NULL;
	}
	if (strcmp(c->prof_type, "iam") == 0 &&
	    (!c->prof_project || !*c->prof_project)) {
		seterr("API 0: no project configured for IAM profile '%s'; run 'contree auth'",
		    c->prof_name);
		return NULL;
	}
	memset(&cfg, 0, sizeof cfg);
	cfg.url = c->prof_url;
	cfg.token = c->prof_token;
	cfg.iam = strcmp(c->prof_type, "iam") == 0;
	cfg.project = cfg.iam ? c->prof_project : NULL;
	cfg.cafile = config_env(NULL, "CONTREE_CA_FILE");
	c->api_ = api_new(&cfg);
	return c->api_;
}

struct store *
ctx_store(struct ctx *c)
{
	char *path;

	if (c->store_)
		return c->store_;
	path = store_path(c->home, c->prof_name);
	c->store_ = store_open(path);
	free(path);
	return c->store_;
}

void PRINTFLIKE(2, 3)
usage_fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vusage(c->path, c->cmd, fmt, ap);
	va_end(ap);
}

void
no_session(void)
{
	logmsg(LOG_ERROR, "No active session. Start one with 'contree use IMAGE'.");
	logmsg(LOG_ERROR, "Automated agents: read 'contree agent' first.");
}

int
ask_yn(const char *question)
{
	char line[256];

	fputs(question, stdout);
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin)) {
		fputs("\n", stdout);
		return 0;
	}
	return (line[0] == 'y' || line[0] == 'Y') &&
	    (line[1] == '\n' || line[1] == '\0');
}

int
read_line(const char *prompt, char *buf, size_t n)
{
	size_t len;

	fputs(prompt, stdout);
	fflush(stdout);
	if (!fgets(buf, (int)n, stdin)) {
		seterr("no input");
		return -1;
	}
	len = strlen(buf);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	return 0;
}

int
read_secret(const char *prompt, char *buf, size_t n)
{
	struct termios old, raw;
	FILE *in = fopen("/dev/tty", "r+");
	int fd, echo_off = 0;
	size_t len;
	char *r;

	if (!in)
		in = stdin;
	fd = fileno(in);
	fputs(prompt, stderr);
	fflush(stderr);
	if (isatty(fd) && tcgetattr(fd, &old) == 0) {
		raw = old;
		raw.c_lflag &= ~(tcflag_t)ECHO;
		echo_off = tcsetattr(fd, TCSAFLUSH, &raw) == 0;
	}
	r = fgets(buf, (int)n, in);
	if (echo_off) {
		tcsetattr(fd, TCSAFLUSH, &old);
		fputs("\n", stderr);
	}
	if (in != stdin)
		fclose(in);
	if (!r) {
		seterr("no input");
		return -1;
	}
	len = strlen(buf);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	return 0;
}

/* Flush standard output at the end: a failure other than a closed pipe
 * is an error (a full disk must not pass for success). */
static int
flushout(void)
{
	if (fflush(stdout) != 0 && errno != EPIPE) {
		logmsg(LOG_ERROR, "write error on standard output:");
		return EXIT_ERR;
	}
	return EXIT_OK;
}

static void
onint(int sig)
{
	(void)sig;
	interrupted = 1;
}

int
main(int argc, char **argv)
{
	static struct ctx ctx;
	static struct config conf;
	struct ctx *c = &ctx;
	static struct parser p;  /* static: prog stays reachable at exit */
	struct sigaction sa;
	const char *lv;
	int st, k;

	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = onint;
	sigaction(SIGINT, &sa, NULL);

	c->fmt = fmt_parse("default");
	p.prog = "contree";
	p.progbuf = NULL;
	p.cmd = &commands[0];
	p.c = c;
	if ((st = setjmp(parse_done)) != 0)
		return st - 1 == EXIT_OK ? flushout() : st - 1;
	if (argc < 2) {
		print_top_help();
		return flushout();
	}
	/* global options, then the command word and its own parse */
	{
		static const struct cmd top = {"contree", NULL, "", "",
		    global_opts, NULL, commands, 1, NULL, 0, NULL};

		p.cmd = &top;
		parse(&p, argc, argv, 1, 1);
	}
	if (!c->cmd) {
		print_top_help();
		return flushout();
	}
	/* global values (they were parsed into the same option slots) */
	{
		static const char *names[] = {
			"profile", "token", "url", "project", "config", "session"
		};
		const char **dst[] = {
			&c->profile, &c->token, &c->url, &c->project, &c->config,
			&c->session_opt
		};
		size_t i;

		for (i = 0; i < LEN(names); i++) {
			struct optval *v = getov(c, names[i]);

			/* a global value lives in a slot of the global table */
			if (v && v->o >= global_opts &&
			    v->o < global_opts + nopts(global_opts) && v->nv)
				*dst[i] = v->v[v->nv - 1];
		}
		if ((lv = NULL, getov(c, "log-level")) &&
		    getov(c, "log-level")->nv)
			lv = getov(c, "log-level")->v[getov(c, "log-level")->nv - 1];
		if (lv) {
			static const char *lvn[] = {
				"debug", "info", "warning", "error", "critical"
			};
			for (k = 0; k < 5; k++)
				if (strcmp(lv, lvn[k]) == 0)
					loglevel = k;
		}
		if (getov(c, "format") && getov(c, "format")->nv)
			c->fmt = fmt_parse(getov(c, "format")->v[getov(c, "format")->nv - 1]);
	}
	if (resolve_profile(c, &conf, c->cmd->flags & C_LOCAL) < 0 ||
	    (!(c->cmd->flags & C_LOCAL) && config_check(&conf) < 0)) {
		logmsg(LOG_ERROR, "%s", geterr());
		config_free(&conf);
		return EXIT_ERR;
	}
	c->session = config_session(&conf, c->session_opt, NULL);
	logmsg(LOG_DEBUG, "session key %s", c->session);

	clearerr_slot();
	errno = 0;
	st = c->cmd->fn(c);
	if (st < 0 && (geterrclass() == ERR_PIPE ||
	    (geterrclass() == ERR_NONE && errno == EPIPE))) {
		/* the reader went away (contree images | head -1): quiet */
		st = EXIT_OK;
	} else if (st < 0) {
		logmsg(LOG_ERROR, "%s", geterr());
		st = errexit();
	}
	if (interrupted && st == EXIT_ERR)
		st = EXIT_INTR;
	if (flushout() != EXIT_OK)
		st = EXIT_ERR;
	if (c->store_)
		store_close(c->store_);
	if (c->api_)
		api_free(c->api_);
	free(c->session);
	config_free(&conf);
	return st;
}
