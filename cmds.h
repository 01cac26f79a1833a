/* cmds.h - command entry points; each returns the exit status (0, 1, or
 * a sandbox exit code) and leaves an error message in the slot when it
 * returns 1 with something to say (main prints "[ERROR] <message>"). 
 * Returning -1 means: error, message in the slot, status 1. */
#ifndef CMDS_H
#define CMDS_H

#include <stddef.h>

struct ctx;
struct json;

/* ---- shared helpers (cmd_images.c) ---- */

/* Resolve an image reference (cli.md §8): a lowercase canonical UUID is
 * used as is; "tag:NAME" or any other text is looked up with
 * GET /v1/images?tag=NAME, preferring an exact tag match over the first
 * prefix match.  uuid gets 36 chars + NUL.  -1 with the slot set ("API
 * 404 Not Found: no image with tag NAME" when nothing matches). */
int resolve_image(struct ctx *c, const char *ref, char uuid[37]);
/* 1 if s is a lowercase canonical 8-4-4-4-12 UUID. */
int is_uuid(const char *s);
/* Time expression of cli.md §9.4.1 (--since/--until) to Unix seconds.
 * -1 with the slot set for an impossible date (a usage error). */
int parse_when(const char *s, long long *out);
/* The option `name` (--since/--until) as Unix seconds in *t, *set = 1
 * when given.  -1: a usage error, already printed with the command's
 * name (exit status 2). */
int when_arg(struct ctx *c, const char *name, long long *t, int *set);
/* The same as the ISO form the API takes, in
 * iso ("" when not given).  -1: a usage error, already printed with the
 * command's name (exit status 2). */
int when_opt(struct ctx *c, const char *name, char *iso, size_t n);
/* Unix seconds to "YYYY-MM-DDTHH:MM:SSZ" (buf of 21+ bytes). */
void iso_utc(long long t, char *buf, size_t n);
/* Page through a listing (cli.md §8, api.md §5.1): GET path with query
 * plus offset/limit, page size min(1000, limit + 1), until a short or
 * empty page or limit + 1 items.  arraykey names the array member of the
 * reply object ("images"), or NULL for a bare array.  row() is called for
 * each of the first `limit` items; endbatch() (may be NULL) after each
 * page that produced rows.  *more is set when more than limit exist.
 * Returns 0, or -1 with the slot set. */
int list_pages(struct ctx *c, const char *path, const char *const *query,
    const char *arraykey, long long limit,
    int (*row)(void *arg, const struct json *j, int t),
    void (*endbatch)(void *arg), void *arg, int *more);

/* ---- shared helpers (cmd_fs.c) ---- */

/* Join p to cwd (NULL or "" means "/") unless p is absolute, and
 * normalise: ".", ".." and repeated '/' removed.  Caller frees. */
char *join_path(const char *cwd, const char *p);

/* ---- shared helpers (cmd_run.c) ---- */

/* The host path this machine uploaded file uuid from, per the local
 * upload cache (cli.md §7.10), or NULL.  Storage lives until exit. */
char *upload_source(struct ctx *c, const char *uuid);

/* cmd_images.c */
int cmd_images(struct ctx *);
int cmd_images_import(struct ctx *);
int cmd_tag(struct ctx *);
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
/* Section i of the agent manual (cmd_misc.c), for the skill files
 * (cmd_skill.c): 1 with title, topic and body set, 0 past the end. */
int agent_section(size_t i, const char **title, const char **topic,
    const char **body);
int cmd_agent(struct ctx *);
int cmd_shell(struct ctx *);
/* cmd_skill.c */
int cmd_skill_list(struct ctx *);
int cmd_skill_install(struct ctx *);
int cmd_skill_remove(struct ctx *);
int cmd_skill_upgrade(struct ctx *);

#endif
