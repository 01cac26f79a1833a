/* explore.h - run N shell commands from one image at the same time and
 * collect each one's result (contree explore; the MCP server), then,
 * separately, record the results as branches of a session.  Nothing
 * here prints (but warnings through logmsg) or exits, and explore_run
 * does not touch the session store: the caller shows the results and
 * decides whether to record them. */
#ifndef EXPLORE_H
#define EXPLORE_H

#include <stddef.h>

#include "ops.h"
#include "util.h"

struct api;
struct store;

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

/* ---- recording the results as branches (store.h) ---- */

/* n branch names prefix-(k+1) ... prefix-(k+n), k the highest number
 * of the session's existing prefix-<number> branches (0 when none or
 * no session).  Caller frees each name and the array. */
char **explore_names(struct store *st, const char *key, const char *prefix,
    size_t n);
/* Record in session key every result of q that has an image (status
 * SUCCESS, whatever the exit code) as a `run` entry titled with its
 * command, operation set, on branch names[i], whose parent is entry
 * from; when from is 0 (the image is not a session entry), a `use`
 * entry of q->image titled ref comes first, off the tip and on the
 * first new branch (so that the active branch stays put), or starting
 * the session on main when it has no history.  The active branch never
 * moves.  All under one lock, fsynced once.  If another process took
 * one of the names meanwhile, every name is renumbered (names[i]
 * replaced) with a warning.  recorded[i] is set to 1 for each branch
 * made.  0, or -1 with the slot set (the branches made before the
 * failure stay, and stay marked in recorded[]). */
/* Does the result become a branch: the operation succeeded (whatever
 * the command's exit code) and left an image. */
int explore_keeps(const struct explore_res *r);
int explore_record(struct store *st, const char *key, const char *prefix,
    char **names, const struct explore_req *q, const struct explore_res *res,
    long long from, const char *ref, int *recorded);

#endif
