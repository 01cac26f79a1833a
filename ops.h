/* ops.h - operations: one status enum, records (with the local cache of
 * terminal ones), waiting (events stream, polling fallback), spawning
 * without ever sending twice, cancelling, image import.  Nothing here
 * takes the command context or exits: the shell and the MCP server call
 * these many times in one process.  Functions that fail return -1 with
 * the error slot set. */
#ifndef OPS_H
#define OPS_H

#include <stddef.h>

struct api;
struct buf;
struct json;
struct row;
struct store;

/* ---- status (api.md §4.3) ---- */

enum opstatus {
	OP_UNKNOWN, OP_PENDING, OP_ASSIGNED, OP_EXECUTING,
	OP_SUCCESS, OP_FAILED, OP_CANCELLED
};
/* "SUCCESS" -> OP_SUCCESS; with abbrev also its first letter ("S").
 * OP_UNKNOWN for anything else. */
enum opstatus op_status_parse(const char *s, int abbrev);
/* "SUCCESS" for OP_SUCCESS; NULL for OP_UNKNOWN. */
const char *op_status_name(enum opstatus s);
/* The status of the record (or list item) at token t of j. */
enum opstatus op_status(const struct json *j, int t);
/* The one terminal test: SUCCESS, FAILED or CANCELLED. */
int op_terminal(enum opstatus s);
/* PENDING, ASSIGNED or EXECUTING. */
int op_active(enum opstatus s);

/* ---- references (cli.md §7.6) ---- */

/* Split each argument on white space; each token is a UUID or a
 * reference to an entry of session `session` in st (st may be NULL when
 * every token is a UUID).  On success *out (caller frees the array and
 * strings) holds the UUIDs in order.  All bad tokens are reported
 * together; -1. */
int resolve_ops(struct store *st, const char *session, char **args,
    int nargs, char ***out, int *n);
void free_ops(char **ops, int n);

/* An image reference as every command takes it (cli.md §7.6, §8): a
 * UUID; tag:NAME; a session reference (@, @-N, HEAD~N, @N ...) or a
 * branch of session in st (st NULL: neither is looked up); else a tag
 * name (api_image_resolve).  0 with image set and *entry (entry may be
 * NULL) the session entry named, NULL for a UUID or tag; -1 with the
 * slot set ("image reference 'X': ...", "unknown image 'X': ..."), or
 * kept as it is when the API is needed and a is NULL. */
struct store_entry;
int resolve_image(struct api *a, struct store *st, const char *session,
    const char *ref, char image[37], const struct store_entry **entry);

/* ---- records (GET /v1/operations/<uuid>) ----
 * body receives the JSON and j is parsed over it (token 0 is the
 * object); on success the caller json_free()s j and buf_free()s body; on
 * failure both are released.  home is CONTREE_HOME: terminal records
 * are cached in home/cli/operations/ (cli.md §7.10). */

/* A terminal record from the cache: 0, or -1 when none is usable (not
 * an error: the caller asks the server). */
int op_cached(const char *home, const char *uuid, struct buf *body,
    struct json *j);
/* GET /v1/operations with query (name, value, ..., NULL; may be NULL):
 * the token of the list of operations in *j, parsed over body (a bare
 * array, or the "operations" member of an object; the caller frees
 * both), or -1 (both released). */
int op_list(struct api *a, const char *const *query, struct buf *body,
    struct json *j);
/* One GET; a terminal record is cached. */
int op_get(struct api *a, const char *home, const char *uuid,
    struct buf *body, struct json *j);
/* Wait until the operation is terminal: the /events stream, polling
 * (100 ms doubling to 2 s) when the server has none, then one GET of the
 * full record.  With fromevents, a stream that carried the whole run
 * (output, exit, completion) stands in for the GET: *j then holds only
 * uuid, kind, status, error, duration, metadata.result and result.  On
 * Ctrl-C the slot says "User interrupted" (class ERR_INTR). */
int op_wait(struct api *a, const char *home, const char *uuid,
    int fromevents, struct buf *body, struct json *j);
/* op_wait that also hands every stdout (which 1) and stderr (2) chunk
 * of the main process to live as the events stream delivers it (build
 * shows each step's output as it runs).  Polling delivers nothing
 * live: the caller then prints the record's output.  Every request
 * inside (the final fetch too) ends within secs from now; live may be
 * NULL. */
typedef void (*op_live_fn)(void *arg, int which, const char *p, size_t n);
int op_wait_live(struct api *a, const char *home, const char *uuid,
    int fromevents, long long secs, op_live_fn live, void *arg,
    struct buf *body, struct json *j);

/* The sandbox exit code (metadata.result.state.exit_code, else
 * result.exit_code): 1 and *code set, or 0 if there is none. */
int op_exit_code(const struct json *j, long long *code);
/* What a finished operation adds to the exit status of `op wait` and
 * `session wait` (api.md §4.3): 1 if it did not end SUCCESS, else its
 * exit code & 255 (0 without one). */
int op_outcome(const struct json *j);
/* metadata.result.state.timed_out */
int op_timed_out(const struct json *j);
/* Result image (result.image, else result_image_uuid), malloc'd, or
 * NULL. */
char *op_result_image(const struct json *j);
/* Decoded bytes of metadata.result.<which> ("stdout"/"stderr") appended
 * to out; *trunc (may be NULL) gets its `truncated` flag. */
void op_stream(const struct json *j, const char *which, struct buf *out,
    int *trunc);
/* Row of cli.md §9.8: the record's scalar fields, then exit_code (or
 * null), image and tag (result values or ""); "error" always present. */
void op_row(struct row *r, const struct json *j);
/* Its first columns: the record's scalar fields, uuid (when not NULL)
 * over them, then exit_code (or null). */
void op_row_head(struct row *r, const struct json *j, const char *uuid);
/* stdout and stderr columns: the bytes of so and se. */
void op_row_streams(struct row *r, const struct buf *so, const struct buf *se);
/* exit_code: code when has, else null. */
void op_row_code(struct row *r, int has, long long code);

/* ---- spawn, cancel, import ---- */

/* The environment of a run (cli.md §9.2.1): the session's variables,
 * then -e pairs over them.  k[i] = v[i], n of them; free with
 * op_env_free. */
struct op_env {
	char **k, **v;
	size_t n;
};
struct store_kv;
/* Check -e pairs ("K=V", or "K" for an empty value): -1 with the slot
 * set ("invalid -e 'X': ...") for one with an empty name. */
int op_env_check(char *const *pairs, int npairs);
/* e (zeroed by the caller) gets base (may be NULL), then the pairs
 * (checked already) over it; OP_MARKER_ENV is dropped with a warning:
 * contree sets it for every spawn. */
void op_env_build(struct op_env *e, const struct store_kv *base,
    size_t nbase, char *const *pairs, int npairs);
/* e (zeroed here) gets the environment of session in st with the pairs
 * (checked already) over it. */
struct store;
void op_env_session(struct op_env *e, struct store *st, const char *session,
    char *const *pairs, int npairs);
/* The index of name k in e, or -1; its value (NULL when absent); set
 * it (v NULL: declared without a value) or add it last. */
long op_env_find(const struct op_env *e, const char *k);
const char *op_env_get(const struct op_env *e, const char *k);
void op_env_set(struct op_env *e, const char *k, const char *v);
void op_env_free(struct op_env *e);

/* What POST /v1/instances is asked to run (cli.md §9.2.1, api.md).
 * Strings may be NULL where optional. */
struct op_file {
	const char *dest, *uuid;        /* path in the sandbox, upload uuid */
	long long uid, gid;
	unsigned mode;
};
struct op_run {
	const char *image;              /* UUID */
	const char *command;
	char *const *args;              /* nargs of them */
	size_t nargs;
	int shell, disposable, preserve_env;
	const char *hostname;           /* NULL: "linuxkit" */
	long long truncate, timeout;
	const char *cwd;
	char *const *envk, *const *envv; /* nenv pairs */
	size_t nenv;
	const struct op_file *files;
	size_t nfiles;
	const char *stdin_data;         /* sent when has_stdin */
	size_t stdin_len;
	int has_stdin;
	int has_user;                   /* send uid and gid (build's USER) */
	long long uid, gid;
};
/* The request body for r; the marker rides in env as OP_MARKER_ENV. */
void op_run_json(const struct op_run *r, const char *marker, struct buf *out);

/* The environment variable that carries a spawn's marker. */
#define OP_MARKER_ENV "CONTREE_SPAWN_ID"

/* A fresh marker: 128 random bits (randbytes) as 32 lowercase hex
 * digits. */
int op_marker(char hex[33]);
/* POST /v1/instances with the request json, whose env carries
 * OP_MARKER_ENV = marker.  Never re-sent once written (design.md §1):
 * when the answer is lost or unreadable, the instance operation whose
 * metadata.env carries this marker is looked up and adopted; without
 * one, never another.  0 with uuid set and reply holding the server's
 * answer (empty when looked up), or -1. */
int op_spawn(struct api *a, const char *json, const char *marker,
    struct buf *reply, char uuid[37]);
/* op_spawn of r with a fresh marker: 0 with uuid set, or -1. */
int op_spawn_run(struct api *a, const struct op_run *r, char uuid[37]);
/* DELETE /v1/operations/<uuid>, let through even after Ctrl-C (the flag
 * is kept).  0 or -1. */
int op_cancel(struct api *a, const char *uuid);
/* POST /v1/images/import with the request json, never re-sent once
 * written: 0 with uuid set, or -1. */
int op_import(struct api *a, const char *json, char uuid[37]);
/* docker://<registry>/<path>:<tag> for a user's image reference
 * (cli.md §9.5; `images import` and build's FROM).  Caller frees. */
char *op_registry_url(const char *ref);
/* The import request (api.md §2.3) into js: credentials when user is
 * set, timeout when >= 0. */
void op_import_json(const char *url, const char *tag, const char *user,
    const char *pass, long long timeout, struct buf *js);

/* A run in the session log (cli.md §9.2.5). */
struct op_rec {
	const char *key;        /* the session */
	const char *useimg;     /* non-NULL: a use entry of it comes first */
	const char *usetitle;   /* that entry's title */
	const char *image;      /* the image the run started from */
	const char *title;      /* the command */
	const char *op;         /* the operation's UUID */
	long long from;         /* the entry the run started from; 0: tip */
	int disp;               /* disposable: a branch, never the tip */
};

/* Record run r whose operation ended as j; j NULL: it runs on
 * (detached, or disposable), and a pending entry names its branch.  A
 * run that did not succeed records only the use entry.  The run's entry
 * id, 0 when none was due, -1 (slot set) on failure; forked as
 * store_append's (may be NULL). */
struct store;
long long op_record(struct store *st, const struct op_rec *r,
    const struct json *j, int *forked);

#endif
