/* treediff.h - what changed between the filesystem trees of two images,
 * from the inspect listings (api.md §2.18) and, where needed, the file
 * contents: no sandbox is started.  Changes are handed to a callback in
 * path order; nothing is printed, nothing exits (contree diff and the
 * MCP server call it). */
#ifndef TREEDIFF_H
#define TREEDIFF_H

#include <stddef.h>

struct api;

/* The ways two entries of one path differ (td_change.differ). */
enum { TD_TYPE = 1, TD_SIZE = 2, TD_MODE = 4, TD_UID = 8, TD_GID = 16,
	TD_TARGET = 32 };

/* One side of a change: an entry of a listing. */
struct td_ent {
	char type;              /* 'f' file, 'd' dir, 'l' symlink, 'o' other */
	long long size, mode, uid, gid, mtime;  /* mode: permission bits */
	const char *target;     /* symlink target ("" unknown); NULL if not
	                           a symlink */
};

struct td_change {
	char what;              /* 'A' added, 'C' changed, 'D' deleted */
	const char *path;       /* absolute, no trailing '/' ("/" itself) */
	const struct td_ent *old, *new; /* old NULL for A, new NULL for D */
	int differ;             /* C: the TD_* bits (0: only the content) */
	const char *patch;      /* with patch: a unified diff, "Binary files
	                           ... differ", or "" (not a text change) */
	size_t patchlen;
};

/* 0, or -1 (with the error slot set) to stop the walk, or TD_NOPATCH:
 * go on, but the changes after this one come without patches (nothing
 * more is downloaded to make them). */
#define TD_NOPATCH 1
typedef int (*td_fn)(void *ctx, const struct td_change *ch);

struct td_side {
	const char *ref;        /* as the user wrote it, for messages */
	char image[37];         /* UUID */
};

/* pre, path and post appended to b; inside double quotes, with \n, \t,
 * \", \\ and \ooo (other control bytes) escapes, when path holds a
 * control byte, a quote or a backslash (git's quoted names).  Other
 * bytes, UTF-8 included, are kept. */
struct buf;
void td_quote(struct buf *b, const char *pre, const char *path,
    const char *post);

/* "file", "dir", "symlink" or "other" for a td_ent type. */
const char *td_type_name(char type);

/* Compare the subtree path (absolute and normalised; "/" for all) of
 * image a with image b and call fn for each change, sorted by path.
 * cache: directory of the inspect cache (api.h), or NULL.  With patch,
 * every change of a regular file carries its patch.  The rule of
 * equality and the costs are described at the top of treediff.c.  0,
 * or -1 with the slot set (an unknown image, a path on neither side, a
 * network error, Ctrl-C (ERR_INTR), or fn's -1).  Directories may be
 * listed by up to CONTREE_CONCURRENCY child processes (jobs.h; also
 * from inside a job), each ended and reaped before treediff returns;
 * fn is always called in the calling process. */
int treediff(struct api *api, const char *cache, const struct td_side *a,
    const struct td_side *b, const char *path, int patch, td_fn fn,
    void *ctx);

#endif
