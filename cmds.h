/* cmds.h - the command entry points, one per row of the command table
 * (table.c); nothing else.  Who prints what: a command prints its own
 * output and warnings, and a usage error (usage_fail) itself, returning
 * EXIT_USAGE.  On any other failure it returns -1 with the message and
 * its class in the error slot (util.h); main prints "[ERROR] message"
 * and maps the class to the exit status (a closed pipe: quiet, 0;
 * Ctrl-C: 130; usage: 2; else 1).  A returned value >= 0 is the exit
 * status (a sandbox command's own exit code for run). */
#ifndef CMDS_H
#define CMDS_H

struct ctx;

/* cmd_images.c */
int cmd_images(struct ctx *);
int cmd_images_import(struct ctx *);
int cmd_tag(struct ctx *);
/* cmd_diff.c */
int cmd_diff(struct ctx *);
/* cmd_explore.c */
int cmd_explore(struct ctx *);
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
/* cmd_run.c */
int cmd_run(struct ctx *);
int cmd_session_wait(struct ctx *);
/* cmd_ops.c */
int cmd_op_list(struct ctx *);
int cmd_op_show(struct ctx *);
int cmd_op_cancel(struct ctx *);
int cmd_op_wait(struct ctx *);
/* cmd_misc.c */
int cmd_agent(struct ctx *);
/* cmd_build.c */
int cmd_build(struct ctx *);
/* cmd_shell.c */
int cmd_shell(struct ctx *);
int cmd_completion(struct ctx *);
/* cmd_mcp.c */
int cmd_mcp(struct ctx *);
int cmd_mcp_config(struct ctx *);
/* cmd_skill.c */
int cmd_skill_list(struct ctx *);
int cmd_skill_install(struct ctx *);
int cmd_skill_remove(struct ctx *);
int cmd_skill_upgrade(struct ctx *);

#endif
