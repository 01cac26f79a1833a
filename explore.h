/* explore.h - run N shell commands from one image at the same time and
 * collect each one's result (contree explore; the MCP server).  Nothing
 * here prints, touches the session store or exits: the caller records
 * and shows the results. */
#ifndef EXPLORE_H
#define EXPLORE_H

#include <stddef.h>

#include "ops.h"
#include "util.h"

struct api;

/* What to run.  Every command gets the same request but its command
 * (a shell expression, as `run -s`). */
struct explore_req {
	const char *image;              /* UUID all commands start from */
	char *const *cmds;              /* ncmds shell expressions */
	size_t ncmds;
	long long timeout;              /* seconds in the sandbox */
	long long truncate;             /* output limit; 0: 65536 */
	const char *cwd;                /* NULL: the image's */
	char *const *envk, *const *envv; /* nenv pairs */
	size_t nenv;
	const struct op_file *files;    /* uploaded already */
	size_t nfiles;
	int disposable;
	int jobs;                       /* at most this many at once; < 1:
	                                   all of them */
};

/* The result of one command. */
struct explore_res {
	char op[37];            /* its operation; "" when none was started */
	enum opstatus status;   /* OP_UNKNOWN when it did not run to an end
	                           (error says why) */
	int has_exit;           /* exit_code is set */
	long long exit_code;
	int timed_out;
	char *image;            /* result image, or NULL */
	struct buf out, err;    /* stdout and stderr, decoded bytes */
	int trunc_out, trunc_err; /* the server cut them */
	double duration;        /* seconds (the operation's, else measured) */
	char *error;            /* spawn, wait or operation error, or NULL */
};

/* In the caller's process, as soon as command i has finished. */
typedef void (*explore_fn)(void *ctx, size_t i, const struct explore_res *r);

/* Run every command of q from q->image, at most q->jobs at once, over
 * connections of their own; res (q->ncmds of them, zeroed by the
 * caller) gets the results and done (may be NULL) is called for each
 * as it finishes.  A command that fails to spawn or to finish fails its
 * own result, not the others.  home: CONTREE_HOME (operation cache).
 * 0 when every command has a result; -1 on Ctrl-C (class ERR_INTR):
 * every started operation was cancelled and queued ones never began.
 * Free res with explore_res_free. */
int explore_run(struct api *a, const char *home, const struct explore_req *q,
    struct explore_res *res, explore_fn done, void *ctx);
void explore_res_free(struct explore_res *res, size_t n);

#endif
