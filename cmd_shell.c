/* cmd_shell.c - the interactive shell (cli.md §10): the line editor of
 * edit.c, builtins, sandbox runs and contree commands dispatched through
 * the command table in this process; and `contree completion`: bash, zsh
 * and fish scripts, each a thin wrapper that asks `contree completion
 * --words -- WORDS...` (complete.c, from the command table). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api.h"
#include "cmds.h"
#include "complete.h"
#include "contree.h"
#include "edit.h"
#include "json.h"
#include "out.h"
#include "prose.h"
#include "store.h"
#include "util.h"

int
cmd_completion(struct ctx *c)
{
	static const struct {
		const char *name;
		int text;               /* prose.h */
	} scripts[] = {
		{"bash", P_BASH_SCRIPT}, {"zsh", P_ZSH_SCRIPT},
		{"fish", P_FISH_SCRIPT}
	};
	struct buf out = {0};
	char **w;
	int n, r;
	size_t i;

	w = arg_pos(c, "ARGS", &n);
	if (arg_flag(c, "words")) {
		complete_words(c, w, n, &out);
		r = writeall(1, out.p ? out.p : "", out.len);
		buf_free(&out);
		return r < 0 ? (seterr("writing output:"), -1) : 0;
	}
	for (i = 0; n == 1 && i < LEN(scripts); i++)
		if (strcmp(w[0], scripts[i].name) == 0) {
			const char *t = prose(scripts[i].text);

			if (writeall(1, t, strlen(t)) < 0)
				return seterr("writing output:"), -1;
			return 0;
		}
	if (n == 1)
		usage_fail(c, prose(P_SHELL_CHOICE),
		    w[0]);
	else
		usage_fail(c, "%s", prose(P_SHELL_ONE));
	return EXIT_USAGE;
}

/* ---- contree shell (cli.md §10) ---- */

struct shell {
	struct ctx *c;          /* the shell's own: profile, session, API */
	int tty;                /* standard input is a terminal */
	int fmt;                /* -f of the shell */
	char *prevdir;          /* for cd - */
	struct ed ed;
	int status;             /* of the last command */
	int done;               /* exit or quit */
};

/* The builtins, in B_* order. */
enum { B_CD, B_CLEAR, B_CONTREE, B_EXIT, B_HELP, B_HISTORY, B_PWD, B_QUIT,
	B_TIMEOUT, B_F, B_FORMAT, B_NONE };
static const char *const builtins[] = {
	"cd", "clear", "contree", "exit", "help", "history", "pwd", "quit",
	"timeout", "-f", "--format", NULL
};
static const char *const editors[] = {"vim", "vi", "nvim", "nano", NULL};
static const char *const inspectors[] = {"ls", "cat", NULL};

/* The index of w in l (NULL-terminated), or the count if absent. */
static int
inlist_at(const char *const *l, const char *w)
{
	int i;

	for (i = 0; l[i] && strcmp(l[i], w); i++)
		;
	return i;
}

static int
inlist(const char *const *l, const char *w)
{
	return l[inlist_at(l, w)] != NULL;
}

/* The store for one step, closed again right after: other processes
 * (and the commands the shell runs) write the same log, and a process
 * keeps one store per file open at a time. */
static struct store *
sh_store(struct shell *sh)
{
	return ctx_store(sh->c);
}

static void
sh_store_done(struct shell *sh)
{
	if (sh->c->store_)
		store_close(sh->c->store_);
	sh->c->store_ = NULL;
}

/* The session as the prompt shows it, read afresh each time: other
 * processes and the commands the shell runs change it.  Strings are
 * malloc'd, NULL when not set. */
struct view {
	char *key, *branch, *cwd, *image;
	long long depth;
	int staged;             /* files are staged for the next run */
};

static void
view_free(struct view *v)
{
	free(v->branch);
	free(v->cwd);
	free(v->image);
}

static void
sh_view(struct shell *sh, struct view *v)
{
	struct store *st = sh_store(sh);
	const struct store_entry *tip;
	const char *s;
	size_t n = 0;

	memset(v, 0, sizeof *v);
	v->key = sh->c->session;
	if (st && (tip = store_tip(st, sh->c->session))) {
		v->image = xstrdup(tip->image);
		v->depth = store_depth(st, sh->c->session);
		if ((s = store_active(st, sh->c->session)))
			v->branch = xstrdup(s);
		free(store_pending_files(st, sh->c->session, &n));
		v->staged = n > 0;
	}
	if (st && (s = store_cwd(st, sh->c->session)) && *s)
		v->cwd = xstrdup(s);
	sh_store_done(sh);
}

/* ---- running contree commands in this process ---- */

/* What the line's context takes from the shell's. */
static void
inherit(struct ctx *l, const struct ctx *c)
{
	l->home = c->home;
	l->prof_name = c->prof_name;
	l->prof_token = c->prof_token;
	l->prof_url = c->prof_url;
	l->prof_type = c->prof_type;
	l->prof_project = c->prof_project;
	l->prof_found = c->prof_found;
	l->editor_default = c->editor_default;
	l->conf = c->conf;
	l->config = c->config;
	l->session = l->session_opt && *l->session_opt ?
	    (char *)l->session_opt : c->session;
	l->api_ = c->api_;
}

/* A usage problem with the line: what the parser would print. */
static int
refuse(const char *msg)
{
	fprintf(stderr, "contree: error: %s\n", msg);
	return EXIT_USAGE;
}

static int
finish_cmd(struct ctx *l, int st)
{
	if (st < 0 && geterrclass() == ERR_PIPE)
		st = EXIT_OK;
	else if (st < 0) {
		logmsg(LOG_ERROR, "%s", geterr());
		st = errexit();
	}
	if (interrupted && st == EXIT_ERR)
		st = EXIT_INTR;
	interrupted = 0;
	fflush(stdout);
	if (l->store_)
		store_close(l->store_);
	return st;
}

/* Run argv (argv[0] is "contree") as on the command line, in this
 * process: the shell's profile and session, its API connection, its
 * format unless the line gives -f. */
static int
dispatch(struct shell *sh, int argc, char **argv)
{
	struct ctx l;
	int st, level = loglevel;

	memset(&l, 0, sizeof l);
	if (!ctx_parse(&l, argc, argv, &st)) {
		ctx_free_args(&l);
		return st;
	}
	if (l.cmd->fn == cmd_shell)
		st = refuse("already in the shell");
	else if (l.profile || l.token || l.url || l.project || l.config)
		st = refuse(prose(P_SHELL_GLOBALS));
	else {
		inherit(&l, sh->c);
		if (!arg_given(&l, "format"))
			l.fmt = sh->fmt;
		sh_store_done(sh);
		clearerr_slot();
		errno = 0;
		st = finish_cmd(&l, l.cmd->fn(&l));
		sh->c->api_ = l.api_;
	}
	loglevel = level;
	ctx_free_args(&l);
	return st;
}

/* dispatch with the words given as a list. */
static int
dispatchv(struct shell *sh, const char *const *w)
{
	char *argv[32];
	int n;

	for (n = 0; w[n] && n < 31; n++)
		argv[n] = (char *)w[n];
	argv[n] = NULL;
	return dispatch(sh, n, argv);
}

/* The whole line in the sandbox (run -s) with the shell's directory;
 * timeout is "" for run's default.  Standard input is not the run's:
 * in a script it holds the next lines. */
static int
sandbox(struct shell *sh, const char *line, const char *timeout)
{
	struct view v;
	const char *w[12];
	int n = 0, st, in = -1, null;

	sh_view(sh, &v);
	w[n++] = "contree";
	w[n++] = "run";
	w[n++] = "-s";
	w[n++] = "-C";
	w[n++] = v.cwd ? v.cwd : "/";
	if (*timeout) {
		w[n++] = "-t";
		w[n++] = timeout;
	}
	w[n++] = "--";
	w[n++] = line;
	w[n] = NULL;
	if (!sh->tty && (null = open("/dev/null", O_RDONLY)) >= 0) {
		in = dup(0);
		dup2(null, 0);
		close(null);
	}
	st = dispatchv(sh, w);
	if (in >= 0) {
		dup2(in, 0);
		close(in);
	}
	view_free(&v);
	return st;
}

/* ---- builtins ---- */

static int
b_cd(struct shell *sh, char **w, int n)
{
	struct store *st;
	struct store_new e;
	const struct store_entry *tip;
	struct view v;
	char *dir;
	int rc = -1;

	sh_view(sh, &v);
	if (n > 2)
		return view_free(&v), refuse("cd: too many arguments");
	if (n == 1)
		dir = xstrdup("");
	else if (strcmp(w[1], "-") == 0) {
		dir = xstrdup(sh->prevdir ? sh->prevdir : "/");
		printf("%s\n", dir);
	} else
		dir = join_path(v.cwd, w[1]);
	if ((st = sh_store(sh)) && store_begin(st) == 0) {
		if ((tip = store_tip(st, sh->c->session))) {
			memset(&e, 0, sizeof e);
			e.kind = STORE_CD;
			e.image = tip->image;
			e.title = dir;
			rc = store_append(st, sh->c->session, &e, NULL) < 0 ? -1 : 0;
		} else {
			no_session();
			rc = 1;
		}
		if (store_commit(st) < 0)
			rc = -1;
	}
	sh_store_done(sh);
	if (rc == 0) {
		free(sh->prevdir);
		sh->prevdir = xstrdup(v.cwd ? v.cwd : "/");
	} else if (rc < 0) {
		logmsg(LOG_ERROR, "%s", geterr());
	}
	free(dir);
	view_free(&v);
	return rc == 0 ? 0 : EXIT_ERR;
}

static int
b_history(struct shell *sh, char **w, int n)
{
	struct store *st = sh_store(sh);
	const char **h;
	size_t i, k, nh = 0, shown = 0;

	h = st ? store_history(st, sh->c->session, &nh) : NULL;
	for (i = 0; i < nh; i++) {
		if (n > 1) {
			for (k = 0; h[i][k] && strncasecmp(h[i] + k, w[1],
			    strlen(w[1])) != 0; k++)
				;
			if (!h[i][k])
				continue;
		}
		printf(" %5zu  %s\n", i + 1, h[i]);
		shown++;
	}
	if (!shown && n > 1)
		printf("(no matches for '%s')\n", w[1]);
	else if (!shown)
		printf("(no history)\n");
	free(h);
	sh_store_done(sh);
	return 0;
}

static int
b_format(struct shell *sh, char **w, int n)
{
	struct buf b = {0};
	int f, i;

	if (n == 1) {
		printf("%s\n", fmt_name(sh->fmt));
		return 0;
	}
	if ((f = fmt_parse(w[1])) >= 0) {
		sh->fmt = f;
		return 0;
	}
	for (i = 0; fmt_names[i]; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", fmt_names[i]);
	fprintf(stderr, "unknown format '%s' (choose from %s)\n", w[1], b.p);
	buf_free(&b);
	return EXIT_USAGE;
}

static int
b_help(struct shell *sh, char **w, int n)
{
	const char *argv[4] = {"contree", NULL, "--help", NULL};

	if (n == 1 || inlist(builtins, w[1]) || inlist(editors, w[1]) ||
	    inlist(inspectors, w[1])) {
		fputs(prose(P_SHELL_HELP), stdout);
		return 0;
	}
	argv[1] = w[1];
	return dispatchv(sh, argv);
}

/* DUR of `timeout`: digits with an optional fraction and unit s, m, h
 * or d, at least one second; whole seconds into out, else 0. */
static int
duration(const char *s, char *out, size_t n)
{
	char *end;
	double v = strtod(s, &end);
	double unit = 1;

	if (!(*s >= '0' && *s <= '9'))
		return 0;
	if (*end && end[1])
		return 0;
	switch (*end) {
	case '\0': case 's': break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return 0;
	}
	if (v * unit < 1 || v * unit > 1e9)
		return 0;
	snprintf(out, n, "%lld", (long long)(v * unit));
	return 1;
}

/* ls/cat through the API when that is exact, else in the sandbox. */
static int
b_inspect(struct shell *sh, const char *line, char **w, int n)
{
	struct view v;
	int i, api = n <= 2 && (n == 2 || strcmp(w[0], "ls") == 0);
	const char *argv[4] = {"contree", w[0], n > 1 ? w[1] : NULL, NULL};

	for (i = 1; i < n; i++)
		if (w[i][0] == '-' || strpbrk(w[i], "*?["))
			api = 0;
	sh_view(sh, &v);
	if (v.staged)
		api = 0;
	view_free(&v);
	return api ? dispatchv(sh, argv) : sandbox(sh, line, "");
}

/* One complete line. */
static int
execute(struct shell *sh, const char *line)
{
	char **w, t[32];
	int n, st, k;

	if (shsplit(line, &w, &n) != 0)
		return refuse(prose(P_SHELL_UNEXPECTED_END));
	if (n == 0) {
		freewords(w);
		return sh->status;
	}
	k = inlist_at(builtins, w[0]);
	if (k == B_EXIT || k == B_QUIT) {
		sh->done = 1;
		st = n > 1 ? atoi(w[1]) & 0xff : sh->status;
	} else if (k == B_CONTREE)
		st = n == 1 ? (fputs(prose(P_SHELL_HELP), stdout), 0) :
		    dispatch(sh, n, w);
	else if (k == B_CD)
		st = b_cd(sh, w, n);
	else if (k == B_PWD) {
		struct view v;

		sh_view(sh, &v);
		printf("%s\n", v.cwd ? v.cwd : "/");
		view_free(&v);
		st = 0;
	} else if (k == B_HISTORY)
		st = b_history(sh, w, n);
	else if (k == B_HELP)
		st = b_help(sh, w, n);
	else if (k == B_CLEAR)
		st = (fputs("\033[2J\033[H", stdout), 0);
	else if (k == B_F || k == B_FORMAT)
		st = b_format(sh, w, n);
	else if (inlist(inspectors, w[0]))
		st = b_inspect(sh, line, w, n);
	else if (inlist(editors, w[0])) {
		const char *argv[] = {"contree", "file", "edit", "--editor", w[0],
		    n > 1 ? w[1] : NULL, NULL};

		st = n == 2 ? dispatchv(sh, argv) :
		    refuse(prose(P_SHELL_USAGE_EDITOR));
	} else if (k == B_TIMEOUT && n > 2 && duration(w[1], t, sizeof t)) {
		const char *rest = line + strspn(line, " \t");

		rest += strcspn(rest, " \t");          /* timeout */
		rest += strspn(rest, " \t");
		rest += strcspn(rest, " \t");          /* DUR */
		st = sandbox(sh, rest + strspn(rest, " \t"), t);
	} else
		st = sandbox(sh, line, "");
	freewords(w);
	fflush(stdout);
	return st;
}

/* ---- Tab ---- */

/* Split out into lines (in place). */
static size_t
lines(struct buf *out, char ***v)
{
	char *p, *nl;
	size_t n = 0;

	*v = NULL;
	for (p = out->p; p && *p; p = nl + 1) {
		if (!(nl = strchr(p, '\n')))
			break;
		*nl = '\0';
		*v = xreallocarray(*v, n + 1, sizeof **v);
		(*v)[n++] = p;
	}
	return n;
}

/* n bytes of a candidate as one shell word: what the line splitter
 * would split or expand gets a backslash ("my dir" -> my\ dir). */
static void
addword(struct buf *b, const char *w, size_t n)
{
	for (; n--; w++) {
		if (strchr(" \t\\'\"$`*?[]{}()<>|&;#~!", *w))
			buf_addc(b, '\\');
		buf_addc(b, *w);
	}
}

/* Replace the word [start, cur), typed as the words splitter read it,
 * with the candidates' common part, or show them all. */
static void
apply(struct ed *e, size_t start, const char *typed, char **c, size_t n)
{
	size_t i, common = n ? strlen(c[0]) : 0;
	struct buf b = {0};

	if (n == 0) {
		writeall(1, "\a", 1);
		return;
	}
	for (i = 1; i < n; i++)
		while (common && strncmp(c[0], c[i], common) != 0)
			common--;
	if (n == 1) {
		char last = c[0][common ? common - 1 : 0];

		addword(&b, c[0], strlen(c[0]));
		if (!strchr("/=:", last))
			buf_addc(&b, ' ');
		ed_replace(e, start, e->cur, b.p);
	} else if (common > strlen(typed)) {
		addword(&b, c[0], common);
		ed_replace(e, start, e->cur, b.p);
	} else {
		buf_puts(&b, "\n");
		for (i = 0; i < n; i++)
			buf_printf(&b, "%s%s", c[i], i + 1 < n ? "  " : "\n");
		writeall(1, b.p, b.len);
	}
	buf_free(&b);
}

static void
complete_tab(void *arg, struct ed *e)
{
	struct shell *sh = arg;
	char *before = xstrndup(e->line.p, e->cur), **w, **c;
	size_t start = e->cur, n, i;
	struct buf out = {0};
	int nw;

	/* back to the space before the word, not an escaped one */
	while (start > 0 && (e->line.p[start - 1] != ' ' ||
	    (start > 1 && e->line.p[start - 2] == '\\')))
		start--;
	if (shsplit(before, &w, &nw) != 0) {
		free(before);
		return;
	}
	if (start == e->cur) {          /* a new, empty word */
		w = xreallocarray(w, (size_t)nw + 2, sizeof *w);
		w[nw++] = xstrdup("");
		w[nw] = NULL;
	}
	if (nw == 1) {
		const char *const *l[] = {builtins, editors};

		for (i = 0; i < 2; i++)
			for (c = (char **)l[i]; *c; c++)
				if (strncmp(*c, w[0], strlen(w[0])) == 0)
					buf_printf(&out, "%s\n", *c);
	} else if (strcmp(w[0], "contree") == 0) {
		complete_words(sh->c, w, nw, &out);
		sh_store_done(sh);
	} else {
		complete_sandbox_path(sh->c, w[nw - 1], &out);
		sh_store_done(sh);
	}
	n = lines(&out, &c);
	apply(e, start, w[nw - 1], c, n);
	free(c);
	buf_free(&out);
	freewords(w);
	free(before);
}

/* ---- reading lines ---- */

static void
prompt(struct shell *sh, struct buf *p)
{
	struct view v;
	int colour = isatty(1) && !getenv("NO_COLOR");

	sh_view(sh, &v);
	fprintf(stderr, "session: %s [%lld] image: %s\n", v.key, v.depth,
	    v.image ? v.image : "(none)");
	/* the README's "contree:/etc> ", with the branch */
	buf_reset(p);
	buf_puts(p, "contree");
	if (v.branch)
		buf_printf(p, colour ? "(\033[35m%s\033[0m)" : "(%s)", v.branch);
	buf_printf(p, colour ? ":\033[1;34m%s\033[0m> " : ":%s> ",
	    v.cwd ? v.cwd : "/");
	view_free(&v);
}

/* One line without the newline from a script; 0, or -1 at its end. */
static int
scriptline(struct buf *b)
{
	int ch;

	buf_reset(b);
	buf_add(b, "", 0);
	while ((ch = getchar()) != EOF && ch != '\n')
		buf_addc(b, ch);
	return ch == EOF && !b->len ? -1 : 0;
}

/* A whole logical line into out: continuation lines after a trailing
 * backslash (removed with its newline) or inside quotes (the newline is
 * kept).  ED_LINE, ED_EOF or ED_INTR. */
static int
readlogical(struct shell *sh, const char *first, struct buf *out)
{
	struct buf part = {0};
	char **w;
	int n, r, more;

	buf_reset(out);
	buf_add(out, "", 0);
	for (more = 0;; more = 1) {
		if (sh->tty)
			r = ed_readline(&sh->ed, more ? "> " : first, complete_tab,
			    sh);
		else
			r = scriptline(&part) < 0 ? ED_EOF : ED_LINE;
		if (r != ED_LINE) {
			if (r < 0)
				logmsg(LOG_ERROR, "%s", geterr());
			buf_free(&part);
			return r < 0 ? ED_EOF : more && r == ED_EOF ? ED_LINE : r;
		}
		buf_puts(out, sh->tty ? sh->ed.line.p : part.p);
		if (shsplit(out->p, &w, &n) == 0)
			break;
		if (out->len && out->p[out->len - 1] == '\\' &&
		    (out->len < 2 || out->p[out->len - 2] != '\\'))
			out->p[--out->len] = '\0';
		else
			buf_addc(out, '\n');
	}
	freewords(w);
	buf_free(&part);
	return ED_LINE;
}

static void
remember(struct shell *sh, const char *line)
{
	struct store *st;

	if (!*line)
		return;
	if (sh->tty)
		ed_hist_add(&sh->ed, line);
	if ((st = sh_store(sh)) && store_history_add(st, sh->c->session,
	    &line, 1) < 0)
		logmsg(LOG_WARNING, "history not saved: %s", geterr());
	sh_store_done(sh);
}

static void
load_history(struct shell *sh)
{
	struct store *st = sh_store(sh);
	const char **h;
	size_t i, n = 0;

	if (st && (h = store_history(st, sh->c->session, &n))) {
		for (i = 0; i < n; i++)
			ed_hist_add(&sh->ed, h[i]);
		free(h);
	}
	sh_store_done(sh);
}

int
cmd_shell(struct ctx *c)
{
	struct shell sh;
	struct buf line = {0}, p = {0};
	int r;

	memset(&sh, 0, sizeof sh);
	sh.c = c;
	sh.fmt = c->fmt;
	sh.tty = isatty(0);
	ed_init(&sh.ed, STORE_HIST_MAX);
	if (sh.tty) {
		load_history(&sh);
		fputs(prose(P_SHELL_WELCOME), stderr);
	}
	while (!sh.done && !terminated) {
		if (sh.tty)
			prompt(&sh, &p);
		r = readlogical(&sh, p.p ? p.p : "contree> ", &line);
		if (r == ED_EOF)
			break;
		if (r == ED_INTR)
			continue;
		remember(&sh, line.p);
		sh.status = execute(&sh, line.p);
	}
	buf_free(&line);
	buf_free(&p);
	ed_free(&sh.ed);
	free(sh.prevdir);
	sh_store_done(&sh);
	return sh.status;
}
