/* store.h - the session store: every session of one profile, kept in
 * append-only log files, one per session, and a small index of them
 * (format: top of store.c).  Opening the store reads the index; a
 * session's log is read when the session is first asked about, so a
 * command's cost does not depend on other sessions' history.  Commands
 * use only this interface and never see the file format.
 *
 * Model (cli.md §7): a session is named by its key and has history
 * entries (ids global to the profile, never reused), branches (name ->
 * entry), one active branch whose entry is the tip, environment
 * variables, pending detached operations and shell-history lines.
 * A session "exists" once it has an entry.
 *
 * Lifetime: every pointer the store hands out (entries, strings) stays
 * valid and unchanged until store_close(), even across mutations;
 * entries are immutable.  Arrays returned by store_*() list functions
 * are malloc'd: the caller free()s the array, never the strings in it.
 *
 * Concurrency: each mutation takes an exclusive lock on the index and
 * the session's log, first
 * replays what other processes appended since (so "the tip" is the tip
 * at the moment of writing), appends one record with one write(2) and
 * fsyncs before returning.  Waiting for the lock is bounded by
 * $CONTREE_DB_TIMEOUT seconds (default 30).  Use one struct store per
 * file per process (fcntl locks are per process). */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* Entry kinds (cli.md §7.1); an entry's kind is one of these strings. */
#define STORE_USE            "use"
#define STORE_RUN            "run"
#define STORE_RUN_DETACHED   "run-detached"
#define STORE_RUN_DISPOSABLE "run-disposable"
#define STORE_FILE           "file"
#define STORE_CD             "cd"
#define STORE_SESSION_USE    "session use"

/* Lines of shell history kept per session; older ones are dropped. */
#define STORE_HIST_MAX 10000

/* A file staged by a `file` entry. */
struct store_file {
	const char *path;       /* destination in the sandbox */
	const char *uuid;       /* uploaded file UUID */
	long long uid, gid;
	unsigned mode;          /* permission bits, e.g. 0644 */
};

struct store_entry {
	long long id;                   /* > 0, unique in the profile */
	long long parent;               /* 0 for a root */
	const struct store_entry *up;   /* the parent entry; NULL for a root */
	const char *key;                /* session key */
	const char *kind;               /* STORE_* kind */
	const char *image;              /* a lowercase UUID, 36 chars */
	const char *title;              /* never NULL, may be "" */
	const char *op;                 /* operation UUID or "" */
	long long created;              /* Unix seconds, UTC */
	const struct store_file *files; /* `file` entries: staged files */
	int nfiles;
};

/* One session's summary (store_get, store_list). */
struct store_session {
	const char *key;
	const char *branch;             /* active branch; NULL if none */
	const struct store_entry *tip;  /* NULL if no history */
	long long updated;              /* Unix seconds of the last update */
	size_t nentries;
};

struct store_branch {
	const char *name;
	const struct store_entry *tip;
};

struct store_kv {
	const char *name, *value;
};

/* A detached operation not yet turned into history (cli.md §7.8). */
struct store_pending {
	const char *op;         /* operation UUID */
	const char *title;
	const char *branch;     /* detached-<op> or disposable-<op> */
	int disposable;
};

/* What store_append() records. */
struct store_new {
	const char *kind;       /* STORE_*, required */
	const char *image;      /* required: a canonical lowercase UUID */
	const char *title;      /* NULL means "" */
	const char *op;         /* NULL means "" */
	const struct store_file *files; /* STORE_FILE: the staged files */
	int nfiles;
	/* NULL: append to the active branch (a new session gets "main").
	 * Otherwise set this branch (e.g. "detached-<op>") to the new entry
	 * and leave the active branch where it is. */
	const char *branch;
	/* 0: the parent is the tip at the moment of writing.  > 0: the entry
	 * the work started from (design.md §1): it becomes the parent if it
	 * is still in the session, else the tip does; *forked reports
	 * whether the tip had moved away from it meanwhile. */
	long long from;
};

/* Path of the store: $CONTREE_SESSION_DB if set and non-empty, else
 * <home>/cli/sessions/<profile>.log (profile bytes other than
 * [A-Za-z0-9._-] and a leading '.' are written as %XX).  That file is
 * the index; the sessions' logs are in the directory <path>.d.  Caller
 * frees. */
char *store_path(const char *home, const char *profile);
/* The log file of session key in the store at path.  Caller frees. */
char *store_session_file(const char *path, const char *key);

/* Open (creating directories, mode 0700, and the index, mode 0600, with
 * its format line) and read the index.  A single-file log of the
 * previous format at path is first moved, once, to one log per session
 * (the index replaces it by rename as the last step: a crash leaves the
 * old log, and the next open starts over).  An index we may read but
 * not write opens read-only: mutations then fail.  NULL with the error
 * slot set (naming the file) on: no permission, a foreign format line,
 * lock timeout.  The rest applies to each file, the index and every
 * session log, when it is read:  A torn last line is ignored with a warning and cut off by
 * the next mutation; any other corrupt record (bad checksum, a field
 * out of bounds, a reference to a missing entry or branch) is skipped
 * with a warning naming file and line, and the next mutation rewrites
 * the file without it.  Removes temporary files of compactions whose
 * process no longer exists. */
struct store *store_open(const char *path);
/* Open one log file holding any number of sessions (the format before
 * the per-session layout, and still each session log's format), with
 * the same interface: for tests, the fuzzer and reading an old log
 * that we may not write. */
struct store *store_open_file(const char *path);
/* Remove the store at path (index and session logs): 0, or -1 with
 * errno as unlink(path) left it. */
int store_remove(const char *path);
/* Commits an open transaction; frees everything. NULL is allowed. */
void store_close(struct store *st);
const char *store_file(const struct store *st);

/* ---- queries (never fail; they see the state as of the last open or
 * mutation, plus what other processes wrote before our last lock) ---- */

/* 1 and *out filled if the session exists (has history), else 0.
 * out may be NULL. */
int store_get(struct store *st, const char *key, struct store_session *out);
/* Sessions with history, most recently updated first.  Caller frees.
 * Read from the index: a tip has id, kind, image, op and created (title
 * "", no parent, no files); ask store_tip for the whole entry.  A
 * session whose log does not have the size the index noted (a writer
 * was killed between the two) is read from its log, and the index
 * corrected. */
struct store_session *store_list(struct store *st, size_t *n);
/* Find a session by name (cli.md §7.3): the sessions whose key ends with
 * name and is longer than it; if there are none, the session whose key is
 * name.  Returns how many matched (only sessions with history); *keys
 * (may be NULL; caller frees the array) gets their keys, sorted.
 * 0: not found; more than 1: ambiguous. */
size_t store_match(struct store *st, const char *name, const char ***keys);
/* The tip (current image = tip->image); NULL if no history. */
const struct store_entry *store_tip(struct store *st, const char *key);
/* Entry id of this session, or NULL. */
const struct store_entry *store_entry(struct store *st, const char *key,
    long long id);
/* All entries of the session in id order.  Caller frees the array. */
const struct store_entry **store_entries(struct store *st, const char *key,
    size_t *n);
/* n parents back from e (n >= 0).  NULL if the root comes first; then
 * *have (if not NULL) is the number of ancestors e has. */
const struct store_entry *store_back(const struct store_entry *e, long long n,
    long long *have);
/* n steps forward from e: each step takes the child (an entry of the
 * same session whose parent is the current one) with the highest id.
 * NULL if some step has no child; *have is the steps possible. */
const struct store_entry *store_forward(struct store *st,
    const struct store_entry *e, long long n, long long *have);
/* A rollback TARGET (cli.md §7.5) from the session's tip: NULL or ""
 * means -1; "-N" N parents back; "+N" N steps forward; "N" entry id N of
 * this session.  NULL with the error slot set: no session, "target must
 * not be 0", "invalid rollback target 'X'", "cannot go back N steps,
 * only I ancestors", "cannot go forward N steps, only I", "entry N not
 * found in this session". */
const struct store_entry *store_target(struct store *st, const char *key,
    const char *target);
/* An operation reference token (cli.md §7.6): "@" ":" "HEAD" the tip;
 * "@N" ":N" "N" "HEADN" entry N (of this session only); "@-N" ":-N"
 * "HEAD-N" "HEAD~N" N back; "HEAD~" one back; "@+N" ":+N" "HEAD+N" N
 * forward.  1: *out is the entry, which has an operation.  0: token is
 * not reference syntax (maybe a UUID).  -1: a reference that fails; the
 * error slot holds the reason without the token ("no session", "cannot
 * go back ...", "entry N not found in this session", "entry N (use) has
 * no operation"). */
int store_ref(struct store *st, const char *key, const char *token,
    const struct store_entry **out);
/* The same syntax for an image reference (diff): any entry, with or
 * without an operation; 1, 0 or -1 as store_ref. */
int store_ref_entry(struct store *st, const char *key, const char *token,
    const struct store_entry **out);
/* Entries from the root to the tip (1 for a root tip); 0 if no history. */
long long store_depth(struct store *st, const char *key);
/* Working directory: title of the nearest `cd` entry from the tip;
 * NULL if none or if that title is empty (reset). */
const char *store_cwd(struct store *st, const char *key);
/* Pending files: from the tip towards the root, files of `file` entries
 * up to the first `run` entry; for a path staged twice the newest wins.
 * Newest first.  Caller frees the array (NULL when *n == 0). */
struct store_file *store_pending_files(struct store *st, const char *key,
    size_t *n);
/* Active branch name or NULL. */
const char *store_active(struct store *st, const char *key);
/* Tip of branch name, or NULL if there is no such branch. */
const struct store_entry *store_branch_tip(struct store *st, const char *key,
    const char *name);
/* Branches sorted by name (strcmp).  Caller frees the array. */
struct store_branch *store_branches(struct store *st, const char *key,
    size_t *n);
/* Environment sorted by name (strcmp).  Caller frees the array. */
struct store_kv *store_env(struct store *st, const char *key, size_t *n);
/* Pending detached operations, oldest first.  Caller frees the array. */
struct store_pending *store_pending(struct store *st, const char *key,
    size_t *n);
/* Shell-history lines, oldest first (at most STORE_HIST_MAX).  Caller
 * frees the array. */
const char **store_history(struct store *st, const char *key, size_t *n);

/* ---- mutations: 0 (or the documented value) on success; -1 with the
 * error slot set on failure, and then nothing was recorded ---- */

/* Append a history entry (see struct store_new); updated_at = now.
 * Returns the new id.  forked may be NULL. */
long long store_append(struct store *st, const char *key,
    const struct store_new *e, int *forked);
/* Create branch name at the tip of branch from (NULL: the active one);
 * does not switch.  Errors: name exists, from unknown, no session. */
int store_branch_create(struct store *st, const char *key, const char *name,
    const char *from);
/* Delete a branch (its entries stay).  Errors: unknown, active. */
int store_branch_delete(struct store *st, const char *key, const char *name);
/* Delete every non-active detached-* and disposable-* branch in one
 * record.  *names (caller frees; may be NULL when *n == 0) gets their
 * names, sorted.  names may be NULL. */
int store_prune(struct store *st, const char *key, const char ***names,
    size_t *n);
/* Make branch name active.  Error: unknown branch. */
int store_checkout(struct store *st, const char *key, const char *name);
/* Point the active branch at entry id of this session (rollback).
 * Error: id not in this session. */
int store_reset(struct store *st, const char *key, long long id);
/* Set n variables (names[i] = values[i]) in one record; all or nothing.
 * Error: an empty name or one containing '='.  Works without history. */
int store_env_set(struct store *st, const char *key,
    const char *const *names, const char *const *values, size_t n);
/* Unset n variables in one record (absent ones are fine). */
int store_env_unset(struct store *st, const char *key,
    const char *const *names, size_t n);
/* Remember a detached operation (replaces one with the same op). */
int store_pending_add(struct store *st, const char *key, const char *op,
    const char *title, const char *branch, int disposable);
/* Forget a detached operation: 1 removed, 0 it was not pending, -1. */
int store_pending_done(struct store *st, const char *key, const char *op);
/* Append n shell-history lines in one record. */
int store_history_add(struct store *st, const char *key,
    const char *const *lines, size_t n);
/* Delete the session: entries, branches, environment, pending
 * operations, history (ids are not reused), then compact the file.
 * 1 deleted, 0 no such session (nothing stored under key), -1 error. */
int store_delete(struct store *st, const char *key);
/* Rewrite the live state into a new file (temp + fsync + rename): the
 * index and the session logs read so far.  Done automatically, per
 * file, after store_delete and when a file holds much more than its
 * live state. */
int store_compact(struct store *st);

/* Transactions: between store_begin and store_commit the index's lock
 * is held, and the lock of each session log used in between from its
 * first use; queries see the newest state, and mutations are fsynced
 * once at commit.  Use to read-then-write atomically (e.g. rollback -N); never
 * hold it across network I/O.  They nest.  store_commit always unlocks
 * (-1 if the fsync failed). */
int store_begin(struct store *st);
int store_commit(struct store *st);

/* ---- for tests, benchmarks and debugging ---- */

/* CRC-32 (IEEE 802.3, as in zlib's crc32()) of p[0..n), continuing crc
 * (start with 0). */
uint32_t store_crc32(uint32_t crc, const void *p, size_t n);
/* The same by table lookups alone (store_crc32 may use the CPU's
 * carry-less multiplication): tests compare the two. */
uint32_t store_crc32_portable(uint32_t crc, const void *p, size_t n);
/* Append the live state, as one compacted single-file log would hold it,
 * to out (a struct buf from util.h).  Reads every session the index
 * names. */
struct buf;
void store_dump(struct store *st, struct buf *out);
/* Called, when set, between the steps of a migration and of a write
 * (tests simulate a crash there); NULL in the program. */
extern void (*store_test_hook)(const char *step);

#endif
