/* cmds.h - command entry points; each returns the exit status (0, 1, or
 * a sandbox exit code) and leaves an error message in the slot when it
 * returns 1 with something to say (main prints "[ERROR] <message>"). 
 * Returning -1 means: error, message in the slot, status 1. */
#ifndef CMDS_H
#define CMDS_H

#include <stddef.h>

struct ctx;
struct json;

/* ---- shared helpers (cmd_run.c) ---- */

/* The host path this machine uploaded file uuid from, per the local
 * upload cache (cli.md §7.10), or NULL.  Storage lives until exit. */
char *upload_source(struct ctx *c, const char *uuid);

/* ---- shared helpers (cmd_ops.c) ---- */

/* Operation references (cli.md §7.6): split each argument on white
 * space; each token is a UUID or a reference to an entry of the current
 * session.  On success *out (caller frees the array and strings) holds
 * the operation UUIDs in order.  All bad tokens are reported together in
 * the slot; -1. */
int resolve_ops(struct ctx *c, char **args, int nargs, char ***out, int *n);

/* Operation records (GET /v1/operations/<uuid>), shared by run, session
 * wait and the operation commands.  body receives the server's JSON and
 * j is parsed over it (token 0 is the object); on success the caller
 * json_free()s j and buf_free()s body; on failure both are released. */
struct buf;
struct row;
/* One GET; with cached, a terminal record from the local cache
 * (CONTREE_HOME/cli/operations/) is used when present.  Terminal
 * records fetched are cached.  -1 with the slot set. */
int op_get(struct ctx *c, const char *uuid, int cached, struct buf *body,
    struct json *j);
/* Wait until the operation is terminal: the /events stream, polling
 * (100 ms doubling to 2 s) when the server has none, then one GET of the
 * full record (cached).  With fromevents, a stream that carried the
 * whole run (output, exit, completion) stands in for the GET: *j then
 * holds only uuid, kind, status, error, duration, metadata.result and
 * result (enough for `run` in the default format).  -1 with the slot
 * set; on Ctrl-C the slot says "User interrupted" and `interrupted` is
 * set. */
int op_wait(struct ctx *c, const char *uuid, int fromevents,
    struct buf *body, struct json *j);
/* 1 if the record's status is SUCCESS, FAILED or CANCELLED. */
int op_terminal(const struct json *j);
/* 1 if the status equals s. */
int op_status_is(const struct json *j, const char *s);
/* The sandbox exit code (metadata.result.state.exit_code, else
 * result.exit_code): 1 and *code set, or 0 if there is none. */
int op_exit_code(const struct json *j, long long *code);
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
 * null), image and tag (result values or ""); pin "error" last. */
void op_row(struct row *r, const struct json *j);

/* cmd_images.c */
int cmd_images(struct ctx *);
int cmd_images_import(struct ctx *);
int cmd_tag(struct ctx *);
/* cmd_diff.c */
int cmd_diff(struct ctx *);
/* cmd_fs.c */
int cmd_ls(struct ctx *);
int cmd_cat(struct ctx *);
int cmd_cp(struct ctx *);
int cmd_file_ls(struct ctx *);
/* cmd_session.c */
int cmd_use(struct ctx *);
int cmd_session(struct ctx *);
int cmd_session_list(struct ctx *);
int cmd_session_use(struct ctx *);
int cmd_session_branch(struct ctx *);
int cmd_session_checkout(struct ctx *);
int cmd_session_rollback(struct ctx *);
int cmd_session_show(struct ctx *);
int cmd_session_delete(struct ctx *);
int cmd_cd(struct ctx *);
int cmd_env(struct ctx *);
int cmd_file_edit(struct ctx *);
int cmd_file_cp(struct ctx *);
/* cmd_auth.c */
int cmd_auth(struct ctx *);
int cmd_auth_list(struct ctx *);
int cmd_auth_switch(struct ctx *);
int cmd_auth_remove(struct ctx *);
/* Move the legacy layout into home (cli.md §3.5); never fails. */
void migrate_layout(const char *home);
/* cmd_run.c */
int cmd_run(struct ctx *);
int cmd_session_wait(struct ctx *);
/* cmd_ops.c */
int cmd_op_list(struct ctx *);
int cmd_op_show(struct ctx *);
int cmd_op_cancel(struct ctx *);
int cmd_op_wait(struct ctx *);
/* cmd_misc.c */
int cmd_build(struct ctx *);
int cmd_agent(struct ctx *);
int cmd_shell(struct ctx *);
/* cmd_skill.c */
int cmd_skill_list(struct ctx *);
int cmd_skill_install(struct ctx *);
int cmd_skill_remove(struct ctx *);
int cmd_skill_upgrade(struct ctx *);

#endif
