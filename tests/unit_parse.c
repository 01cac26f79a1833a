/* unit_parse.c - the option parser (parse.c) through ctx_parse, with a
 * command table of its own: options and prefixes, ambiguity, short
 * clusters, positionals, subcommands, usage errors and help; and that
 * one process can parse line after line (the shell), errors included. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../contree.h"
#include "../out.h"
#include "../util.h"
#include "unit.h"

#define A(...) ((const char *const[]){__VA_ARGS__, NULL})
#define END {NULL, 0, 0, 0, 0, 0, NULL, NULL}
#define PEND {NULL, 0, 0, 0}

static int dummy(struct ctx *c) { (void)c; return 0; }

const char *const *const opt_lists[] = {
	NULL, log_names, fmt_names, A("silent"), A("red", "blue")
};

const struct opt global_opts[] = {
	{"version", 'v', OPT_FLAG, 0, 0, 0, NULL, NULL},
	{"profile", 'p', OPT_STR, 0, 0, 0, "NAME", NULL},
	{"log-level", 'L', OPT_CHOICE, 0, 1, 0, "LEVEL", "info"},
	{"format", 'f', OPT_CHOICE, 0, 2, 0, "FMT", "default"},
	END
};
static const struct opt img_opts[] = {
	{"limit", 0, OPT_POSINT, 0, 0, 0, "N", "3000"},
	{"list", 0, OPT_FLAG, 0, 0, 0, NULL, NULL},
	{"all", 'a', OPT_FLAG, 0, 0, 0, NULL, NULL},
	{"quiet", 'q', OPT_FLAG, 0, 0, 3, NULL, NULL},
	{"timeout", 't', OPT_INT, 0, 0, 0, "N", NULL},
	{"env", 'e', OPT_APPEND, 0, 0, 0, "K=V", NULL},
	{"excl", 0, OPT_NARGS, 0, 0, 0, "P", NULL},
	END
};
static const struct pos img_pos[] = {
	{"NAME", P_ONE, 0, 0},
	{"MORE", P_ANY, 0, 0},
	PEND
};
static const struct pos run_pos[] = {
	{"COMMAND", P_REST, 0, 0},
	PEND
};
static const struct pos pick_pos[] = {
	{"WHICH", P_ONE, 0, 4},
	PEND
};
static const struct cmd grp_subs[] = {
	{"sub", A("s"), NULL, img_pos, NULL, dummy, 0, 0, 0, 0, 0},
	{"pick", NULL, NULL, pick_pos, NULL, dummy, 0, 0, 0, 0, 0},
	{NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0}
};
const struct cmd commands[] = {
	{"img", A("i"), img_opts, img_pos, NULL, dummy, 0, 0, 0, 0, 0},
	{"run", NULL, img_opts, run_pos, NULL, dummy, 0, 0, 0, 0, 0},
	{"grp", NULL, NULL, NULL, grp_subs, dummy, 0, 0, 0, 1, 0},
	{NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0}
};

static struct ctx c;
static char out[8192], err[8192];
static int status;

/* Parse the words of line (split at spaces) with stdout and stderr
 * captured into out and err; the ctx_parse result. */
static int
parse(const char *line)
{
	static char copy[1024];
	char *argv[64], *w, *save;
	int argc = 0, r, fd1, fd2;
	FILE *o = tmpfile(), *e = tmpfile();
	size_t n;

	snprintf(copy, sizeof copy, "contree %s", line);
	for (w = strtok_r(copy, " ", &save); w && argc < 63;
	    w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	ctx_free_args(&c);
	fflush(stdout);
	fflush(stderr);
	fd1 = dup(1);
	fd2 = dup(2);
	dup2(fileno(o), 1);
	dup2(fileno(e), 2);
	r = ctx_parse(&c, argc, argv, &status);
	fflush(stdout);
	fflush(stderr);
	dup2(fd1, 1);
	dup2(fd2, 2);
	close(fd1);
	close(fd2);
	rewind(o);
	rewind(e);
	n = fread(out, 1, sizeof out - 1, o);
	out[n] = '\0';
	n = fread(err, 1, sizeof err - 1, e);
	err[n] = '\0';
	fclose(o);
	fclose(e);
	return r;
}

static const char *
pos(const char *name, int i)
{
	int n;
	char **p = arg_pos(&c, name, &n);

	return i < n ? p[i] : NULL;
}

static void
test_options(void)
{
	char **v;
	int n;

	T_INTEQ(parse("-f json -p dev img --limit 5 x y z"), 1);
	T_STREQ(c.cmd->name, "img");
	T_STREQ(c.path, "contree img");
	T_INTEQ(c.fmt, FMT_JSON);
	T_STREQ(c.profile, "dev");
	T_INTEQ(arg_int(&c, "limit"), 5);
	T_STREQ(pos("NAME", 0), "x");
	T_STREQ(pos("MORE", 0), "y");
	T_STREQ(pos("MORE", 1), "z");
	T_INTEQ(parse("i --lim=7 -aq name"), 1);
	T_STREQ(c.cmd->name, "img");
	T_INTEQ(arg_int(&c, "limit"), 7);
	T_INTEQ(arg_flag(&c, "all"), 1);
	T_INTEQ(arg_flag(&c, "quiet"), 1);
	T_INTEQ(c.fmt, FMT_DEFAULT);
	T_INTEQ(parse("img --silent -t-3 -e A=1 -e B=2 --excl a b -- n"), 1);
	T_INTEQ(arg_flag(&c, "quiet"), 1);
	T_INTEQ(arg_int(&c, "timeout"), -3);
	v = arg_list(&c, "env", &n);
	T_INTEQ(n, 2);
	T_STREQ(n == 2 ? v[1] : NULL, "B=2");
	arg_list(&c, "excl", &n);
	T_INTEQ(n, 2);
	T_STREQ(pos("NAME", 0), "n");
	/* defaults when not given */
	T_INTEQ(parse("img n"), 1);
	T_INTEQ(arg_int(&c, "limit"), 3000);
	T_OK(!arg_given(&c, "limit"));
	T_INTEQ(parse("img -5"), 1);
	T_STREQ(pos("NAME", 0), "-5");
}

static void
test_errors(void)
{
	T_INTEQ(parse("img --bogus n"), 0);
	T_INTEQ(status, EXIT_USAGE);
	T_OK(strstr(err, "usage: contree img [-h]") != NULL);
	T_OK(strstr(err, "contree img: error: unrecognized arguments: --bogus") != NULL);
	T_OK(c.cmd == NULL);
	T_INTEQ(parse("img --li n"), 0);
	T_OK(strstr(err, "ambiguous option: --li could match --limit, --list") != NULL);
	T_INTEQ(parse("img --limit 0 n"), 0);
	T_OK(strstr(err, "argument --limit: must be a positive integer: '0'") != NULL);
	T_INTEQ(parse("img -t x n"), 0);
	T_OK(strstr(err, "argument -t: invalid int value: 'x'") != NULL);
	T_INTEQ(parse("img --list=1 n"), 0);
	T_OK(strstr(err, "ignored explicit argument '1'") != NULL);
	T_INTEQ(parse("img --limit"), 0);
	T_OK(strstr(err, "argument --limit: expected one argument") != NULL);
	T_INTEQ(parse("img"), 0);
	T_OK(strstr(err, "the following arguments are required: NAME") != NULL);
	T_INTEQ(parse("nope"), 0);
	T_OK(strstr(err, "argument COMMAND: invalid choice: 'nope' (choose from 'img', 'run', 'grp')") != NULL);
	T_INTEQ(parse("-L loud img n"), 0);
	T_OK(strstr(err, "argument --log-level: invalid choice: 'loud'") != NULL);
	T_INTEQ(parse("grp"), 0);
	T_OK(strstr(err, "the following arguments are required: command") != NULL);
	T_INTEQ(parse("grp pick green"), 0);
	T_OK(strstr(err, "contree grp pick: error: argument WHICH: invalid choice: 'green' (choose from 'red', 'blue')") != NULL);
	T_INTEQ(parse("img a --x"), 0);
	T_OK(strstr(err, "unrecognized arguments: --x") != NULL);
	T_INTEQ(status, EXIT_USAGE);
}

static void
test_subcommands_rest_help(void)
{
	T_INTEQ(parse("grp s a b"), 1);
	T_STREQ(c.cmd->name, "sub");
	T_STREQ(c.path, "contree grp sub");
	T_STREQ(pos("NAME", 0), "a");
	T_INTEQ(parse("run -q -- ls -l --all"), 1);
	T_STREQ(pos("COMMAND", 0), "ls");
	T_STREQ(pos("COMMAND", 2), "--all");
	T_OK(arg_flag(&c, "all") == 0);
	T_INTEQ(parse("img --help"), 0);
	T_INTEQ(status, EXIT_OK);
	T_OK(strncmp(out, "usage: contree img [-h] [--limit N]", 35) == 0);
	T_INTEQ(parse("grp sub -h"), 0);
	T_OK(strncmp(out, "usage: contree grp sub [-h] NAME", 32) == 0);
	T_INTEQ(parse("--he"), 0);
	T_INTEQ(status, EXIT_OK);
	T_OK(strstr(out, "commands:\n  img, i") != NULL);
	T_INTEQ(parse(""), 0);
	T_INTEQ(status, EXIT_OK);
	T_OK(strstr(out, "usage: contree") != NULL);
	T_INTEQ(parse("-v img n"), 0);
	T_INTEQ(status, EXIT_OK);
	T_OK(strncmp(out, "contree-cli/", 12) == 0);
}

/* The shell's case: a usage error, then good lines, many times over,
 * each parse independent of the one before. */
static void
test_reentrant(void)
{
	int i, bad = 0;

	for (i = 0; i < 500; i++) {
		if (parse(i % 2 ? "img --li n" : "-f csv img --limit 9 a") !=
		    (i % 2 ? 0 : 1))
			bad++;
		else if (i % 2 == 0 && (arg_int(&c, "limit") != 9 ||
		    c.nov != 2 || c.npos != 1 || c.fmt != FMT_CSV))
			bad++;
	}
	T_INTEQ(bad, 0);
	T_INTEQ(parse("img n"), 1);
	T_INTEQ(c.fmt, FMT_DEFAULT);
	T_INTEQ(c.npos, 1);
}

int
main(void)
{
	test_options();
	test_errors();
	test_subcommands_rest_help();
	test_reentrant();
	ctx_free_args(&c);
	return T_END("unit_parse");
}
