/* table.c - the one command table: every command, alias, option,
 * default and help text (the texts packed in prose.def, H_*).  contree.c parses argv from it, prints help
 * from it, and the man-page check reads it through `contree --help`. */
#include <stddef.h>

#include "contree.h"
#include "cmds.h"
#include "out.h"
#include "prose.h"
#include "util.h"

#define A(...) ((const char *const[]){__VA_ARGS__, NULL})
#define END {NULL, 0, 0, 0, 0, 0, NULL, NULL}
#define PEND {NULL, 0, 0, 0}

static const char *const statuses[] = {
	"PENDING", "ASSIGNED", "EXECUTING", "SUCCESS", "FAILED", "CANCELLED",
	"P", "A", "E", "S", "F", "C", NULL
};
static const char *const kinds[] = { "image_import", "instance", NULL };
static const char *const types[] = { "iam", "jwt", NULL };
static const char *const topics[] = {
	"all", "core_workflow", "core", "sessions", "images_and_tags",
	"images", "files_and_directories", "files", "execution_modes",
	"execution", "tree_search", "search", "command_safety", "command",
	"output_formats", "output",
	"profiles", "mcp", "all_commands", NULL
};
static const char *const agents[] = {
	"claude-code", "claude-desktop", "cursor", "cline", "codex", NULL
};

enum { L_LOG = 1, L_FMT, L_STATUS, L_KINDS, L_TYPES, L_AGENTS, L_TOPICS, L_RM,
    L_NO_WAIT, L_YES };
const char *const *const opt_lists[] = {
	NULL, log_names, fmt_names, statuses, kinds, types, agents, topics,
	A("rm"), A("no-wait"), A("yes")
};

const struct opt global_opts[] = {
	{"version", 'v', OPT_FLAG, H_GLOBAL_VERSION, 0, 0, NULL, NULL},
	{"profile", 'p', OPT_STR, H_GLOBAL_PROFILE, 0, 0, "NAME", NULL},
	{"token", 0, OPT_STR, H_GLOBAL_TOKEN, 0, 0, "TOKEN", NULL},
	{"url", 'u', OPT_STR, H_GLOBAL_URL, 0, 0, "URL", NULL},
	{"project", 'P', OPT_STR, H_GLOBAL_PROJECT, 0, 0, "ID", NULL},
	{"config", 'c', OPT_STR, H_GLOBAL_CONFIG, 0, 0, "PATH", NULL},
	{"log-level", 'L', OPT_CHOICE, H_GLOBAL_LOG_LEVEL, L_LOG, 0, "LEVEL", "info"},
	{"format", 'f', OPT_CHOICE, H_GLOBAL_FORMAT, L_FMT, 0, "FMT", "default"},
	{"session", 'S', OPT_STR, H_GLOBAL_SESSION, 0, 0, "KEY", NULL},
	{"request-timeout", 0, OPT_STR, H_GLOBAL_REQUEST_TIMEOUT, 0, 0, "SECONDS", NULL},
	END
};

/* --- completion --- */
static const struct opt completion_opts[] = {
	{"words", 0, OPT_FLAG, H_COMPLETION_WORDS, 0, 0, NULL, NULL},
	END
};
static const struct pos completion_pos[] = {
	{"ARGS", P_REST, H_COMPLETION_ARGS, 0},
	PEND
};

/* --- images --- */
static const struct opt images_opts[] = {
	{"prefix", 0, OPT_STR, H_IMAGES_PREFIX, 0, 0, "P", NULL},
	{"uuid", 'i', OPT_STR, H_IMAGES_UUID, 0, 0, "UUID", NULL},
	{"all", 'a', OPT_FLAG, H_IMAGES_ALL, 0, 0, NULL, NULL},
	{"since", 0, OPT_STR, H_IMAGES_SINCE, 0, 0, "T", NULL},
	{"until", 0, OPT_STR, H_IMAGES_UNTIL, 0, 0, "T", NULL},
	{"limit", 0, OPT_POSINT, H_IMAGES_LIMIT, 0, 0, "N", "3000"},
	END
};
static const struct opt import_opts[] = {
	{"username", 0, OPT_STR, H_IMPORT_USERNAME, 0, 0, "U", NULL},
	{"password", 0, OPT_STR, H_IMPORT_PASSWORD, 0, 0, "P", NULL},
	{"timeout", 't', OPT_INT, H_IMPORT_TIMEOUT, 0, 0, "N", NULL},
	END
};
static const struct pos import_pos[] = {
	{"REF", P_SOME, H_IMPORT_REF, 0},
	PEND
};
static const struct cmd images_subs[] = {
	{"list", A("ls"), images_opts, NULL, NULL,
	    cmd_images, H_IMAGES_LIST_SUM, H_IMAGES_LIST_DESC, H_IMAGES_LIST_EX, 0, 0},
	{"import", NULL, import_opts, import_pos, NULL,
	    cmd_images_import, H_IMAGES_IMPORT_SUM, H_IMAGES_IMPORT_DESC, H_IMAGES_IMPORT_EX, 0, 0},
	{0}
};

static const struct opt tag_opts[] = {
	{"delete", 'U', OPT_FLAG, H_TAG_DELETE, 0, L_RM, NULL, NULL},
	END
};
static const struct pos tag_pos[] = {
	{"ARGS", P_SOME, H_TAG_ARGS, 0},
	PEND
};

/* --- run --- */
static const struct opt run_opts[] = {
	{"timeout", 't', OPT_INT, H_RUN_TIMEOUT, 0, 0, "N", "120"},
	{"cwd", 'C', OPT_STR, H_RUN_CWD, 0, 0, "DIR", NULL},
	{"env", 'e', OPT_APPEND, H_RUN_ENV, 0, 0, "K=V", NULL},
	{"hostname", 'H', OPT_STR, H_RUN_HOSTNAME, 0, 0, "NAME", "linuxkit"},
	{"disposable", 'D', OPT_FLAG, H_RUN_DISPOSABLE, 0, 0, NULL, NULL},
	{"interpreter", 'I', OPT_FLAG, H_RUN_INTERPRETER, 0, 0, NULL, NULL},
	{"shell", 's', OPT_FLAG, H_RUN_SHELL, 0, 0, NULL, NULL},
	{"file", 'F', OPT_APPEND, H_RUN_FILE, 0, 0, "SPEC", NULL},
	{"file-excludes", 0, OPT_NARGS, H_RUN_FILE_EXCLUDES, 0, 0, "PAT", NULL},
	{"truncate", 'T', OPT_INT, H_RUN_TRUNCATE, 0, 0, "N", "65536"},
	{"preserve-env", 0, OPT_FLAG, H_RUN_PRESERVE_ENV, 0, 0, NULL, NULL},
	{"detach", 'd', OPT_FLAG, H_RUN_DETACH, 0, L_NO_WAIT, NULL, NULL},
	{"use", 0, OPT_STR, H_RUN_USE, 0, 0, "IMAGE", NULL},
	END
};
static const struct pos run_pos[] = {
	{"COMMAND", P_REST, H_RUN_COMMAND, 0},
	PEND
};

static const struct opt build_opts[] = {
	{"dockerfile", 0, OPT_STR, H_BUILD_DOCKERFILE, 0, 0, "PATH", NULL},
	{"tag", 0, OPT_STR, H_BUILD_TAG, 0, 0, "NAME[:TAG]", NULL},
	{"build-arg", 0, OPT_APPEND, H_BUILD_BUILD_ARG, 0, 0, "K=V", NULL},
	{"no-cache", 0, OPT_FLAG, H_BUILD_NO_CACHE, 0, 0, NULL, NULL},
	{"timeout", 't', OPT_INT, H_BUILD_TIMEOUT, 0, 0, "N", "600"},
	END
};
static const struct pos build_pos[] = {
	{"CONTEXT", P_OPT, H_BUILD_CONTEXT, 0},
	PEND
};

static const struct opt use_opts[] = {
	{"new", 'N', OPT_FLAG, H_USE_NEW, 0, 0, NULL, NULL},
	END
};
static const struct pos use_pos[] = {
	{"IMAGE", P_OPT, H_USE_IMAGE, 0},
	PEND
};

/* --- operations --- */
static const struct opt ps_opts[] = {
	{"quiet", 'q', OPT_FLAG, H_PS_QUIET, 0, 0, NULL, NULL},
	{"all", 'a', OPT_FLAG, H_PS_ALL, 0, 0, NULL, NULL},
	{"status", 0, OPT_CHOICE, H_PS_STATUS, L_STATUS, 0, "S", NULL},
	{"kind", 'k', OPT_CHOICE, H_PS_KIND, L_KINDS, 0, "KIND", NULL},
	{"since", 0, OPT_STR, H_PS_SINCE, 0, 0, "T", NULL},
	{"until", 0, OPT_STR, H_IMAGES_UNTIL, 0, 0, "T", NULL},
	{"show-max", 'M', OPT_POSINT, H_PS_SHOW_MAX, 0, 0, "N", "1000"},
	END
};
static const struct opt kill_opts[] = {
	{"all", 'a', OPT_FLAG, H_KILL_ALL, 0, 0, NULL, NULL},
	END
};
static const struct pos ops_any[] = {
	{"UUID_OR_REF", P_ANY, H_OPS_ANY_UUID_OR_REF, 0},
	PEND
};
static const struct pos ops_some[] = {
	{"UUID_OR_REF", P_SOME, H_OPS_ANY_UUID_OR_REF, 0},
	PEND
};
static const struct opt show_opts[] = {
	{"raw", 0, OPT_FLAG, H_SHOW_RAW, 0, 0, NULL, NULL},
	END
};
static const struct opt wait_opts[] = {
	{"all", 'a', OPT_FLAG, H_WAIT_ALL, 0, 0, NULL, NULL},
	{"timeout", 't', OPT_POSINT, H_WAIT_TIMEOUT, 0, 0, "N", "60"},
	END
};
static const struct cmd op_subs[] = {
	{"list", A("ls"), ps_opts, NULL, NULL,
	    cmd_op_list, H_OP_LIST_SUM, H_OP_LIST_DESC, H_OP_LIST_EX, 0, 0},
	{"show", A("sh"), show_opts, ops_some, NULL,
	    cmd_op_show, H_OP_SHOW_SUM, H_OP_SHOW_DESC, H_OP_SHOW_EX, 0, 0},
	{"cancel", A("kill", "k"), kill_opts, ops_any, NULL,
	    cmd_op_cancel, H_OP_CANCEL_SUM, H_OP_CANCEL_DESC, H_OP_CANCEL_EX, 0, 0},
	{"wait", A("w"), wait_opts, ops_any, NULL,
	    cmd_op_wait, H_OP_WAIT_SUM, H_OP_WAIT_DESC, H_OP_WAIT_EX, 0, 0},
	{0}
};

/* --- files in the image --- */
static const struct pos path_opt[] = {
	{"PATH", P_OPT, H_PATH_OPT_PATH, 0},
	PEND
};
static const struct pos path_one[] = {
	{"PATH", P_ONE, H_PATH_ONE_PATH, 0},
	PEND
};
static const struct pos cp_pos[] = {
	{"PATH", P_ONE, H_CP_PATH, 0},
	{"DEST", P_ONE, H_CP_DEST, 0},
	PEND
};
static const struct opt edit_opts[] = {
	{"editor", 'E', OPT_STR, H_EDIT_EDITOR, 0, 0, "EDITOR", NULL},
	END
};
static const struct pos filecp_pos[] = {
	{"SRC", P_ONE, H_FILECP_SRC, 0},
	{"DEST", P_ONE, H_FILECP_DEST, 0},
	PEND
};
static const struct opt filels_opts[] = {
	{"since", 0, OPT_STR, H_FILELS_SINCE, 0, 0, "T", NULL},
	{"until", 0, OPT_STR, H_FILELS_UNTIL, 0, 0, "T", NULL},
	{"limit", 0, OPT_POSINT, H_FILELS_LIMIT, 0, 0, "N", "1000"},
	{"quiet", 'q', OPT_FLAG, H_FILELS_QUIET, 0, 0, NULL, NULL},
	END
};
static const struct cmd file_subs[] = {
	{"edit", A("e"), edit_opts, path_one, NULL,
	    cmd_file_edit, H_FILE_EDIT_SUM, H_FILE_EDIT_DESC, H_FILE_EDIT_EX, 0, 0},
	{"cp", NULL, NULL, filecp_pos, NULL,
	    cmd_file_cp, H_FILE_CP_SUM, H_FILE_CP_DESC, H_FILE_CP_EX, 0, 0},
	{"ls", A("list"), filels_opts, NULL, NULL,
	    cmd_file_ls, H_FILE_LS_SUM, H_FILE_LS_DESC, H_FILE_LS_EX, 0, 0},
	{0}
};

/* --- sessions --- */
static const struct opt slist_opts[] = {
	{"filter", 0, OPT_STR, H_SLIST_FILTER, 0, 0, "TEXT", NULL},
	END
};
static const struct pos key_one[] = {
	{"KEY", P_ONE, H_KEY_ONE_KEY, 0},
	PEND
};
static const struct opt branch_opts[] = {
	{"from", 0, OPT_STR, H_BRANCH_FROM, 0, 0, "BRANCH", NULL},
	{"delete", 'U', OPT_FLAG, H_BRANCH_DELETE, 0, L_RM, NULL, NULL},
	{"prune", 0, OPT_FLAG, H_BRANCH_PRUNE, 0, 0, NULL, NULL},
	END
};
static const struct pos branch_pos[] = {
	{"NAME", P_OPT, H_BRANCH_NAME, 0},
	PEND
};
static const struct pos co_pos[] = {
	{"BRANCH", P_ONE, H_CO_BRANCH, 0},
	PEND
};
static const struct pos rb_pos[] = {
	{"TARGET", P_OPT, H_RB_TARGET, 0},
	PEND
};
static const struct opt sshow_opts[] = {
	{"all", 'a', OPT_FLAG, H_SSHOW_ALL, 0, 0, NULL, NULL},
	{"kind", 'k', OPT_STR, H_SSHOW_KIND, 0, 0, "KIND", NULL},
	{"last", 'l', OPT_INT, H_SSHOW_LAST, 0, 0, "N", NULL},
	{"since", 0, OPT_STR, H_PS_SINCE, 0, 0, "T", NULL},
	{"until", 0, OPT_STR, H_IMAGES_UNTIL, 0, 0, "T", NULL},
	END
};
static const struct pos sshow_pos[] = {
	{"KEY", P_OPT, H_SSHOW_KEY, 0},
	PEND
};
static const struct opt yes_opts[] = {
	{"force", 'y', OPT_FLAG, H_YES_FORCE, 0, L_YES, NULL, NULL},
	END
};
static const struct pos keys_some[] = {
	{"KEY", P_SOME, H_KEYS_SOME_KEY, 0},
	PEND
};
static const struct cmd session_subs[] = {
	{"list", A("ls"), slist_opts, NULL, NULL,
	    cmd_session_list, H_SESSION_LIST_SUM, H_SESSION_LIST_DESC, H_SESSION_LIST_EX, 0, 0},
	{"use", NULL, NULL, key_one, NULL,
	    cmd_session_use, H_SESSION_USE_SUM, H_SESSION_USE_DESC, H_SESSION_USE_EX, 0, 0},
	{"branch", A("br"), branch_opts, branch_pos, NULL,
	    cmd_session_branch, H_SESSION_BRANCH_SUM, H_SESSION_BRANCH_DESC, H_SESSION_BRANCH_EX, 0, 0},
	{"checkout", A("co"), NULL, co_pos, NULL,
	    cmd_session_checkout, H_SESSION_CHECKOUT_SUM, H_SESSION_CHECKOUT_DESC, H_SESSION_CHECKOUT_EX, 0, 0},
	{"rollback", A("rb"), NULL, rb_pos, NULL,
	    cmd_session_rollback, H_SESSION_ROLLBACK_SUM, H_SESSION_ROLLBACK_DESC, H_SESSION_ROLLBACK_EX, 0, 0},
	{"show", NULL, sshow_opts, sshow_pos, NULL,
	    cmd_session_show, H_SESSION_SHOW_SUM, H_SESSION_SHOW_DESC, H_SESSION_SHOW_EX, 0, 0},
	{"wait", NULL, NULL, ops_any, NULL,
	    cmd_session_wait, H_SESSION_WAIT_SUM, H_SESSION_WAIT_DESC, H_SESSION_WAIT_EX, 0, 0},
	{"delete", A("rm", "del"), yes_opts, keys_some, NULL,
	    cmd_session_delete, H_SESSION_DELETE_SUM, H_SESSION_DELETE_DESC, H_SESSION_DELETE_EX, 0, 0},
	{0}
};

/* --- auth --- */
static const struct opt auth_opts[] = {
	{"token", 0, OPT_STR, H_AUTH_TOKEN, 0, 0, "T", NULL},
	{"url", 'u', OPT_STR, H_AUTH_URL, 0, 0, "URL", NULL},
	{"type", 0, OPT_CHOICE, H_AUTH_TYPE, L_TYPES, 0, "TYPE", "iam"},
	{"project", 'P', OPT_STR, H_AUTH_PROJECT, 0, 0, "ID", NULL},
	{"profile", 'p', OPT_STR, H_AUTH_PROFILE, 0, 0, "NAME", "default"},
	{"force", 'y', OPT_FLAG, H_AUTH_FORCE, 0, 0, NULL, NULL},
	END
};
static const struct opt alist_opts[] = {
	{"offline", 'O', OPT_FLAG, H_ALIST_OFFLINE, 0, 0, NULL, NULL},
	END
};
static const struct pos name_one[] = {
	{"NAME", P_ONE, H_NAME_ONE_NAME, 0},
	PEND
};
static const struct cmd auth_subs[] = {
	{"list", A("ls", "profiles"), alist_opts, NULL, NULL,
	    cmd_auth_list, H_AUTH_LIST_SUM, H_AUTH_LIST_DESC, H_AUTH_LIST_EX, 0, C_LOCAL},
	{"switch", NULL, NULL, name_one, NULL,
	    cmd_auth_switch, H_AUTH_SWITCH_SUM, H_AUTH_SWITCH_DESC, H_AUTH_SWITCH_EX, 0, C_LOCAL},
	{"remove", A("rm", "del"), yes_opts, name_one, NULL,
	    cmd_auth_remove, H_AUTH_REMOVE_SUM, H_AUTH_REMOVE_DESC, H_AUTH_REMOVE_EX, 0, C_LOCAL},
	{0}
};

/* --- skills --- */
static const struct pos specs_any[] = {
	{"SPEC", P_ANY, H_SPECS_ANY_SPEC, 0},
	PEND
};
static const struct cmd skill_subs[] = {
	{"list", A("ls"), NULL, NULL, NULL,
	    cmd_skill_list, H_SKILL_LIST_SUM, H_SKILL_LIST_DESC, H_SKILL_LIST_EX, 0, C_LOCAL},
	{"install", A("i"), yes_opts, specs_any, NULL,
	    cmd_skill_install, H_SKILL_INSTALL_SUM, H_SKILL_INSTALL_DESC, H_SKILL_INSTALL_EX, 0, C_LOCAL},
	{"remove", A("r", "rm", "del"), yes_opts, specs_any, NULL,
	    cmd_skill_remove, H_SKILL_REMOVE_SUM, H_SKILL_REMOVE_DESC, H_SKILL_REMOVE_EX, 0, C_LOCAL},
	{"upgrade", A("u", "update"), NULL, specs_any, NULL,
	    cmd_skill_upgrade, H_SKILL_UPGRADE_SUM, H_SKILL_UPGRADE_DESC, H_SKILL_UPGRADE_EX, 0, C_LOCAL},
	{0}
};

/* --- diff --- */
static const struct opt diff_opts[] = {
	{"path", 0, OPT_STR, H_DIFF_PATH, 0, 0, "P", NULL},
	{"patch", 'p', OPT_FLAG, H_DIFF_PATCH, 0, 0, NULL, NULL},
	{"exit-code", 0, OPT_FLAG, H_DIFF_EXIT_CODE, 0, 0, NULL, NULL},
	END
};
static const struct pos diff_pos[] = {
	{"FROM", P_OPT, H_DIFF_FROM, 0},
	{"TO", P_OPT, H_DIFF_TO, 0},
	PEND
};

/* --- explore --- */
static const struct opt explore_opts[] = {
	{"prefix", 0, OPT_STR, H_EXPLORE_PREFIX, 0, 0, "NAME", "explore"},
	{"jobs", 'j', OPT_POSINT, H_EXPLORE_JOBS, 0, 0, "N", NULL},
	{"from", 0, OPT_STR, H_EXPLORE_FROM, 0, 0, "REF", NULL},
	{"timeout", 't', OPT_INT, H_EXPLORE_TIMEOUT, 0, 0, "N", "120"},
	{"env", 'e', OPT_APPEND, H_EXPLORE_ENV, 0, 0, "K=V", NULL},
	{"cwd", 'C', OPT_STR, H_RUN_CWD, 0, 0, "DIR", NULL},
	{"file", 'F', OPT_APPEND, H_EXPLORE_FILE, 0, 0, "SPEC", NULL},
	{"disposable", 'D', OPT_FLAG, H_EXPLORE_DISPOSABLE, 0, 0, NULL, NULL},
	END
};
static const struct pos explore_pos[] = {
	{"CMD", P_SOME, H_EXPLORE_CMD, 0},
	PEND
};

static const struct opt env_opts[] = {
	{"delete", 'U', OPT_FLAG, H_ENV_DELETE, 0, L_RM, NULL, NULL},
	END
};
static const struct pos env_pos[] = {
	{"PAIRS", P_ANY, H_ENV_PAIRS, 0},
	PEND
};
/* --- mcp --- */
static const struct opt mcp_opts[] = {
	{"root", 0, OPT_STR, H_MCP_ROOT, 0, 0, "DIR", NULL},
	END
};
static const struct opt mcpconf_opts[] = {
	{"agent", 0, OPT_CHOICE, H_MCPCONF_AGENT, L_AGENTS, 0, "NAME", NULL},
	END
};
static const struct cmd mcp_subs[] = {
	{"config", NULL, mcpconf_opts, NULL, NULL,
	    cmd_mcp_config, H_MCP_CONFIG_SUM, H_MCP_CONFIG_DESC, H_MCP_CONFIG_EX, 0, C_LOCAL | C_NOSTORE},
	{0}
};

static const struct pos topic_pos[] = {
	{"TOPIC", P_OPT, H_TOPIC_TOPIC, L_TOPICS},
	PEND
};

const struct cmd commands[] = {
	{"use", A("ci"), use_opts, use_pos, NULL,
	    cmd_use, H_USE_SUM, H_USE_DESC, H_USE_EX, 0, 0},
	{"run", A("r"), run_opts, run_pos, NULL,
	    cmd_run, H_RUN_SUM, H_RUN_DESC, H_RUN_EX, 0, 0},
	{"build", A("bd"), build_opts, build_pos, NULL,
	    cmd_build, H_BUILD_SUM, H_BUILD_DESC, H_BUILD_EX, 0, 0},
	{"images", A("i", "img"), images_opts, NULL, images_subs,
	    cmd_images, H_IMAGES_SUM, H_IMAGES_DESC, H_IMAGES_EX, 0, 0},
	{"tag", A("t"), tag_opts, tag_pos, NULL,
	    cmd_tag, H_TAG_SUM, H_TAG_DESC, H_TAG_EX, 0, 0},
	{"ps", NULL, ps_opts, NULL, NULL,
	    cmd_op_list, H_OP_LIST_SUM, H_PS_DESC, H_PS_EX, 0, 0},
	{"kill", NULL, kill_opts, ops_any, NULL,
	    cmd_op_cancel, H_OP_CANCEL_SUM, H_KILL_DESC, H_KILL_EX, 0, 0},
	{"show", NULL, show_opts, ops_some, NULL,
	    cmd_op_show, H_OP_SHOW_SUM, H_SHOW_DESC, H_SHOW_EX, 0, 0},
	{"operation", A("op"), NULL, NULL, op_subs,
	    NULL, H_OPERATION_SUM, H_OPERATION_DESC, H_OPERATION_EX, 1, 0},
	{"ls", NULL, NULL, path_opt, NULL,
	    cmd_ls, H_LS_SUM, H_LS_DESC, H_LS_EX, 0, 0},
	{"cat", NULL, NULL, path_one, NULL,
	    cmd_cat, H_CAT_SUM, H_CAT_DESC, H_CAT_EX, 0, 0},
	{"cp", NULL, NULL, cp_pos, NULL,
	    cmd_cp, H_CP_SUM, H_CP_DESC, H_CP_EX, 0, 0},
	{"diff", NULL, diff_opts, diff_pos, NULL,
	    cmd_diff, H_DIFF_SUM, H_DIFF_DESC, H_DIFF_EX, 0, 0},
	{"explore", NULL, explore_opts, explore_pos, NULL,
	    cmd_explore, H_EXPLORE_SUM, H_EXPLORE_DESC, H_EXPLORE_EX, 0, 0},
	{"file", A("f"), NULL, NULL, file_subs,
	    NULL, H_FILE_SUM, H_FILE_DESC, H_FILE_EX, 1, 0},
	{"session", A("s"), NULL, NULL, session_subs,
	    cmd_session, H_SESSION_SUM, H_SESSION_DESC, H_SESSION_EX, 0, 0},
	{"auth", NULL, auth_opts, NULL, auth_subs,
	    cmd_auth, H_AUTH_SUM, H_AUTH_DESC, H_AUTH_EX, 0, C_LOCAL},
	{"skill", NULL, NULL, NULL, skill_subs,
	    NULL, H_SKILL_SUM, H_SKILL_DESC, H_SKILL_EX, 1, C_LOCAL},
	{"cd", NULL, NULL, path_opt, NULL,
	    cmd_cd, H_CD_SUM, H_CD_DESC, H_CD_EX, 0, 0},
	{"env", NULL, env_opts, env_pos, NULL,
	    cmd_env, H_ENV_SUM, H_ENV_DESC, H_ENV_EX, 0, 0},
	{"agent", A("man"), NULL, topic_pos, NULL,
	    cmd_agent, H_AGENT_SUM, H_AGENT_DESC, H_AGENT_EX, 0, C_LOCAL},
	{"mcp", NULL, mcp_opts, NULL, mcp_subs,
	    cmd_mcp, H_MCP_SUM, H_MCP_DESC, H_MCP_EX, 0, C_LOCAL | C_NOSTORE},
	{"shell", A("sh"), NULL, NULL, NULL,
	    cmd_shell, H_SHELL_SUM, H_SHELL_DESC, H_SHELL_EX, 0, 0},
	{"completion", NULL, completion_opts, completion_pos, NULL,
	    cmd_completion, H_COMPLETION_SUM, H_COMPLETION_DESC, H_COMPLETION_EX, 0, C_LOCAL},
	{0}
};
