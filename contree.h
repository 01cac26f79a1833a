/* contree.h - the command table, parsed arguments and the context that
 * every command receives.  Commands live in cmd_*.c; contree.c parses
 * the command line from the one table and dispatches. */
#ifndef CONTREE_H
#define CONTREE_H

#include <stddef.h>

struct api;
struct config;
struct store;

/* Option kinds. */
enum {
	OPT_FLAG,     /* no value; counted */
	OPT_STR,      /* one value; last wins */
	OPT_INT,      /* integer */
	OPT_POSINT,   /* integer >= 1 */
	OPT_CHOICE,   /* one of .choices */
	OPT_APPEND,   /* one value per use, collected */
	OPT_NARGS     /* one or more values per use, collected (--file-excludes) */
};

/* The help texts of the table (help, summary, desc, examples) are ids
 * of packed texts (prose.h; prose.def's H_*), unpacked only when help
 * is printed; 0: none (id 0 is never a help text). */
struct opt {
	const char *l;          /* long name without "--"; the lookup key */
	char s;                 /* short letter or 0 */
	unsigned char kind;
	unsigned short help;
	unsigned char choices;  /* opt_lists index: the values of OPT_CHOICE */
	unsigned char alias;    /* opt_lists index: extra long names ("rm") */
	const char *meta;       /* value name in help, e.g. "N" */
	const char *def;        /* default as text, or NULL */
};

/* The NULL-terminated name lists of the table (choices, aliases),
 * shared by the options and positionals that name them by index; entry
 * 0 is NULL: none. */
extern const char *const *const opt_lists[];

/* Positional arity. */
enum { P_ONE = 1, P_OPT, P_ANY, P_SOME, P_REST };

struct pos {
	const char *name;       /* lookup key and help name */
	unsigned char nargs;
	unsigned short help;
	unsigned char choices;  /* opt_lists index, 0: any word */
};

/* Command flags. */
enum {
	C_LOCAL = 1,            /* needs no configured profile (auth, agent, skill) */
	C_NOSTORE = 2           /* does not open the session store */
};

struct ctx;

struct cmd {
	const char *name;
	const char *const *alias;
	const struct opt *opts;
	const struct pos *pos;
	const struct cmd *subs; /* NULL-name-terminated array, or NULL */
	int (*fn)(struct ctx *);
	unsigned short summary; /* one line for lists */
	unsigned short desc;    /* paragraph(s) for --help */
	unsigned short examples;
	unsigned char subreq;   /* 1: a subcommand is required */
	unsigned char flags;
};

/* Parsed values of one option (by long name). */
struct optval {
	const struct opt *o;
	int count;              /* times given (flags) */
	char **v;               /* values given, in order */
	int nv;
};

struct ctx {
	/* global options */
	const char *profile, *token, *url, *project, *config, *session_opt;
	int fmt;                /* out.h FMT_* */
	/* resolved at start-up (config.h); the strings belong to conf */
	struct config *conf;
	char *home;             /* CONTREE_HOME */
	char *prof_name;        /* resolved profile */
	char *prof_token, *prof_url, *prof_type, *prof_project;
	int prof_found;
	char *session;          /* session key */
	char *editor_default;   /* [cli] editor */
	/* the command */
	const struct cmd *cmd;  /* leaf command */
	const char *path;       /* "contree session show" */
	char *pathbuf;          /* path's storage */
	struct optval *ov;
	int nov;
	char **pos;             /* positional tokens in order */
	int npos;
	const char **posname;   /* which positional each token was given to */
	/* lazily opened */
	struct api *api_;
	struct store *store_;
};

/* Parse a command line (argv[0] is the program name) into c, which
 * the caller zeroed (or emptied with ctx_free_args).  1: c->cmd is the
 * command to run, the global options are in c.  0: nothing to run; the
 * line was handled (help, the version, a usage error: printed) and
 * *status is the exit status.  Re-entrant: nothing static, no exit. */
int ctx_parse(struct ctx *c, int argc, char **argv, int *status);
/* The command of list (a table as struct cmd's subs) named or aliased
 * w, or NULL. */
const struct cmd *findcmd(const struct cmd *list, const char *w);
/* Free what ctx_parse allocated in c (not the argv strings). */
void ctx_free_args(struct ctx *c);

/* Option access by long name; values are defaults when not given. */
int arg_flag(struct ctx *c, const char *name);          /* count */
const char *arg_str(struct ctx *c, const char *name);   /* NULL if none */
long long arg_int(struct ctx *c, const char *name);
char **arg_list(struct ctx *c, const char *name, int *n);
int arg_given(struct ctx *c, const char *name);
/* Positional tokens given to the positional `name`. */
char **arg_pos(struct ctx *c, const char *name, int *n);

/* The option `name` (--since/--until), a time expression (util.h
 * parse_when), as Unix seconds in *t, *set = 1 when given.  -1: a usage
 * error, already printed with the command's name (exit status 2). */
int arg_when(struct ctx *c, const char *name, long long *t, int *set);
/* The same in the ISO form the API takes, in iso ("" when not given). */
int arg_when_iso(struct ctx *c, const char *name, char *iso, size_t n);

/* The API client for the resolved profile; NULL with the error slot set
 * when credentials are missing (status 0 "API error") or the URL is bad. */
struct api *ctx_api(struct ctx *c);
/* The profile's session store, opened on first use; NULL + error. */
struct store *ctx_store(struct ctx *c);

/* Print the command's usage line and "<path>: error: <msg>" to stderr,
 * as the parser does for a usage error (cli.md §1); the caller then
 * returns EXIT_USAGE. */
void usage_fail(struct ctx *c, const char *fmt, ...);

/* Print the "no active session" error (cli.md §6), with its hint. */
void no_session(void);

#endif
