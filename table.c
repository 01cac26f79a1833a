/* table.c - the one command table: every command, alias, option,
 * default and help string.  contree.c parses argv from it, prints help
 * from it, and the man-page check reads it through `contree --help`. */
#include <stddef.h>

#include "contree.h"
#include "cmds.h"
#include "out.h"
#include "util.h"

#define A(...) ((const char *const[]){__VA_ARGS__, NULL})
#define END {0, NULL, 0, NULL, NULL, NULL, NULL, NULL}
#define PEND {NULL, 0, NULL, NULL}

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

const struct opt global_opts[] = {
	{'v', "version", OPT_FLAG, NULL, NULL, "print the version and exit", NULL, NULL},
	{'p', "profile", OPT_STR, "NAME", NULL, "profile to use for this command", NULL, NULL},
	{0, "token", OPT_STR, "TOKEN", NULL, "API token for this command (replaces the profile's)", NULL, NULL},
	{'u', "url", OPT_STR, "URL", NULL, "API base URL for this command (replaces the profile's)", NULL, NULL},
	{'P', "project", OPT_STR, "ID", NULL, "project for this command (replaces the profile's)", NULL, NULL},
	{'c', "config", OPT_STR, "PATH", NULL, "credentials file (default: $CONTREE_HOME/auth.ini)", NULL, NULL},
	{'L', "log-level", OPT_CHOICE, "LEVEL", "info", "log level", log_names, NULL},
	{'f', "format", OPT_CHOICE, "FMT", "default", "output format", fmt_names, NULL},
	{'S', "session", OPT_STR, "KEY", NULL, "session key (default: $CONTREE_SESSION, else derived from directory, parent process and terminal)", NULL, NULL},
	{0, "request-timeout", OPT_STR, "SECONDS", NULL, "bound of each request: connect, TLS handshake, each read, the whole answer (default: $CONTREE_REQUEST_TIMEOUT, else 60)", NULL, NULL},
	END
};

/* --- completion --- */
static const struct opt completion_opts[] = {
	{0, "words", OPT_FLAG, NULL, NULL, "print the candidates for the last of ARGS (a partial command line, after --)", NULL, NULL},
	END
};
static const struct pos completion_pos[] = {
	{"ARGS", P_REST, "bash, zsh or fish; with --words: contree and the words typed so far", NULL},
	PEND
};

/* --- images --- */
static const struct opt images_opts[] = {
	{0, "prefix", OPT_STR, "P", NULL, "only images whose tag starts with P", NULL, NULL},
	{'i', "uuid", OPT_STR, "UUID", NULL, "only this image", NULL, NULL},
	{'a', "all", OPT_FLAG, NULL, NULL, "include untagged images", NULL, NULL},
	{0, "since", OPT_STR, "T", NULL, "created at or after T (2025-06-01, 10:00, 2h30m ago)", NULL, NULL},
	{0, "until", OPT_STR, "T", NULL, "created at or before T", NULL, NULL},
	{0, "limit", OPT_POSINT, "N", "3000", "stop after N images", NULL, NULL},
	END
};
static const struct opt import_opts[] = {
	{0, "username", OPT_STR, "U", NULL, "registry user name", NULL, NULL},
	{0, "password", OPT_STR, "P", NULL, "registry password (prompted when --username is given without it)", NULL, NULL},
	{'t', "timeout", OPT_INT, "N", NULL, "import time limit in seconds", NULL, NULL},
	END
};
static const struct pos import_pos[] = {
	{"REF", P_SOME, "image reference: ubuntu:24.04, ghcr.io/o/i:t, docker://..., REF?tag=NAME, ubuntu:{22.04,24.04}", NULL},
	PEND
};
static const struct cmd images_subs[] = {
	{"list", A("ls"), "list images", "List images (the same as `contree images`).",
	    images_opts, NULL, NULL, 0, cmd_images, 0,
	    "contree images list --prefix ubuntu"},
	{"import", NULL, "import images from an OCI registry",
	    "Import images from a container registry and wait for the imports to finish.",
	    import_opts, import_pos, NULL, 0, cmd_images_import, 0,
	    "contree images import alpine:3.19\ncontree images import 'ubuntu:{22.04,24.04}'"},
	{0}
};

static const struct opt tag_opts[] = {
	{'U', "delete", OPT_FLAG, NULL, NULL, "remove the tag instead of setting it", NULL, A("rm")},
	END
};
static const struct pos tag_pos[] = {
	{"ARGS", P_SOME, "[IMAGE] TAG: the image (default: the session's current image) and the tag", NULL},
	PEND
};

/* --- run --- */
static const struct opt run_opts[] = {
	{'t', "timeout", OPT_INT, "N", "120", "time limit in the sandbox, in seconds", NULL, NULL},
	{'C', "cwd", OPT_STR, "DIR", NULL, "working directory in the sandbox (default: the session's)", NULL, NULL},
	{'e', "env", OPT_APPEND, "K=V", NULL, "environment variable; repeat for more", NULL, NULL},
	{'H', "hostname", OPT_STR, "NAME", "linuxkit", "sandbox host name", NULL, NULL},
	{'D', "disposable", OPT_FLAG, NULL, NULL, "discard the filesystem changes", NULL, NULL},
	{'I', "interpreter", OPT_FLAG, NULL, NULL, "interpreter mode: COMMAND is a script whose body (after the #! line) runs under /bin/sh", NULL, NULL},
	{'s', "shell", OPT_FLAG, NULL, NULL, "run the command through the sandbox shell", NULL, NULL},
	{'F', "file", OPT_APPEND, "SPEC", NULL, "attach HOST[:/DEST][:uUID][:gGID][:mMODE]; repeat for more", NULL, NULL},
	{0, "file-excludes", OPT_NARGS, "PAT", NULL, "extra exclude globs for attached directories", NULL, NULL},
	{'T', "truncate", OPT_INT, "N", "65536", "cut stdout and stderr at N bytes", NULL, NULL},
	{0, "preserve-env", OPT_FLAG, NULL, NULL, "keep the environment in the new image", NULL, NULL},
	{'d', "detach", OPT_FLAG, NULL, NULL, "return right after starting", NULL, A("no-wait")},
	{0, "use", OPT_STR, "IMAGE", NULL, "switch the session to IMAGE first", NULL, NULL},
	END
};
static const struct pos run_pos[] = {
	{"COMMAND", P_REST, "the command and its arguments; everything after the command word belongs to it", NULL},
	PEND
};

static const struct opt build_opts[] = {
	{0, "dockerfile", OPT_STR, "PATH", NULL, "Dockerfile (default: CONTEXT/Dockerfile)", NULL, NULL},
	{0, "tag", OPT_STR, "NAME[:TAG]", NULL, "tag the final image", NULL, NULL},
	{0, "build-arg", OPT_APPEND, "K=V", NULL, "build argument; repeat for more", NULL, NULL},
	{0, "no-cache", OPT_FLAG, NULL, NULL, "ignore cached layers", NULL, NULL},
	{'t', "timeout", OPT_INT, "N", "600", "time limit for each RUN step and a FROM import", NULL, NULL},
	END
};
static const struct pos build_pos[] = {
	{"CONTEXT", P_OPT, "build context directory (default: .)", NULL},
	PEND
};

static const struct opt use_opts[] = {
	{'N', "new", OPT_FLAG, NULL, NULL, "start a new session with a random key", NULL, NULL},
	END
};
static const struct pos use_pos[] = {
	{"IMAGE", P_OPT, "tag:NAME, a tag, or an image UUID; without it, show the session", NULL},
	PEND
};

/* --- operations --- */
static const struct opt ps_opts[] = {
	{'q', "quiet", OPT_FLAG, NULL, NULL, "print only operation UUIDs", NULL, NULL},
	{'a', "all", OPT_FLAG, NULL, NULL, "all statuses (default: only EXECUTING)", NULL, NULL},
	{0, "status", OPT_CHOICE, "S", NULL, "only this status (or its first letter)", statuses, NULL},
	{'k', "kind", OPT_CHOICE, "KIND", NULL, "only this kind", kinds, NULL},
	{0, "since", OPT_STR, "T", NULL, "created at or after T", NULL, NULL},
	{0, "until", OPT_STR, "T", NULL, "created at or before T", NULL, NULL},
	{'M', "show-max", OPT_POSINT, "N", "1000", "show at most N operations", NULL, NULL},
	END
};
static const struct opt kill_opts[] = {
	{'a', "all", OPT_FLAG, NULL, NULL, "cancel every active operation", NULL, NULL},
	END
};
static const struct pos ops_any[] = {
	{"UUID_OR_REF", P_ANY, "operation UUIDs or session references (@, @-1, HEAD~2, @N ...)", NULL},
	PEND
};
static const struct pos ops_some[] = {
	{"UUID_OR_REF", P_SOME, "operation UUIDs or session references (@, @-1, HEAD~2, @N ...)", NULL},
	PEND
};
static const struct opt show_opts[] = {
	{0, "raw", OPT_FLAG, NULL, NULL, "print the server's JSON only", NULL, NULL},
	END
};
static const struct opt wait_opts[] = {
	{'a', "all", OPT_FLAG, NULL, NULL, "wait for every active operation", NULL, NULL},
	{'t', "timeout", OPT_POSINT, "N", "60", "overall deadline in seconds", NULL, NULL},
	END
};
static const struct cmd op_subs[] = {
	{"list", A("ls"), "list operations", "List operations (the same as `contree ps`).",
	    ps_opts, NULL, NULL, 0, cmd_op_list, 0, "contree op ls -a --status FAILED"},
	{"show", A("sh"), "show operation results", "Show operations and their output (the same as `contree show`).",
	    show_opts, ops_some, NULL, 0, cmd_op_show, 0, "contree op show @"},
	{"cancel", A("kill", "k"), "cancel operations", "Cancel operations (the same as `contree kill`).",
	    kill_opts, ops_any, NULL, 0, cmd_op_cancel, 0, "contree op cancel @"},
	{"wait", A("w"), "wait for operations", "Wait until operations finish; exit with the largest exit code seen.",
	    wait_opts, ops_any, NULL, 0, cmd_op_wait, 0, "contree op wait -t 300 @"},
	{0}
};

/* --- files in the image --- */
static const struct pos path_opt[] = {
	{"PATH", P_OPT, "path in the image (default: the working directory)", NULL},
	PEND
};
static const struct pos path_one[] = {
	{"PATH", P_ONE, "path in the image", NULL},
	PEND
};
static const struct pos cp_pos[] = {
	{"PATH", P_ONE, "file in the image", NULL},
	{"DEST", P_ONE, "local file to write", NULL},
	PEND
};
static const struct opt edit_opts[] = {
	{'E', "editor", OPT_STR, "EDITOR", NULL, "editor command (default: $EDITOR, [cli] editor, vim, nano, vi)", NULL, NULL},
	END
};
static const struct pos filecp_pos[] = {
	{"SRC", P_ONE, "local file", NULL},
	{"DEST", P_ONE, "path in the sandbox for the next run", NULL},
	PEND
};
static const struct opt filels_opts[] = {
	{0, "since", OPT_STR, "T", NULL, "uploaded at or after T", NULL, NULL},
	{0, "until", OPT_STR, "T", NULL, "uploaded at or before T", NULL, NULL},
	{0, "limit", OPT_POSINT, "N", "1000", "stop after N files", NULL, NULL},
	{'q', "quiet", OPT_FLAG, NULL, NULL, "only uuid, sha256 and source", NULL, NULL},
	END
};
static const struct cmd file_subs[] = {
	{"edit", A("e"), "edit a file for the next run",
	    "Download a file of the current image, open it in an editor and stage the result for the next run.",
	    edit_opts, path_one, NULL, 0, cmd_file_edit, 0, "contree file edit /etc/hosts"},
	{"cp", NULL, "stage a local file for the next run",
	    "Upload a local file and stage it at DEST for the next run.",
	    NULL, filecp_pos, NULL, 0, cmd_file_cp, 0, "contree file cp ./app.py /app/app.py"},
	{"ls", A("list"), "list uploaded files", "List files uploaded to the API.",
	    filels_opts, NULL, NULL, 0, cmd_file_ls, 0, "contree file ls --since 1d"},
	{0}
};

/* --- sessions --- */
static const struct opt slist_opts[] = {
	{0, "filter", OPT_STR, "TEXT", NULL, "only keys containing TEXT", NULL, NULL},
	END
};
static const struct pos key_one[] = {
	{"KEY", P_ONE, "session key or a unique suffix of it", NULL},
	PEND
};
static const struct opt branch_opts[] = {
	{0, "from", OPT_STR, "BRANCH", NULL, "start the new branch at BRANCH's tip (default: the active branch)", NULL, NULL},
	{'U', "delete", OPT_FLAG, NULL, NULL, "delete branch NAME", NULL, A("rm")},
	{0, "prune", OPT_FLAG, NULL, NULL, "delete all inactive detached-* and disposable-* branches", NULL, NULL},
	END
};
static const struct pos branch_pos[] = {
	{"NAME", P_OPT, "branch to create (or delete with -U)", NULL},
	PEND
};
static const struct pos co_pos[] = {
	{"BRANCH", P_ONE, "branch to make active", NULL},
	PEND
};
static const struct pos rb_pos[] = {
	{"TARGET", P_OPT, "-N: N steps back (default -1); +N: N steps forward; N: entry id N (absolute, as shown by session show)", NULL},
	PEND
};
static const struct opt sshow_opts[] = {
	{'a', "all", OPT_FLAG, NULL, NULL, "show every entry (default: the last 20)", NULL, NULL},
	{'k', "kind", OPT_STR, "KIND", NULL, "only entries of this kind (run includes run-detached and run-disposable)", NULL, NULL},
	{'l', "last", OPT_INT, "N", NULL, "only the last N entries (0: all; -N: all but the first N)", NULL, NULL},
	{0, "since", OPT_STR, "T", NULL, "created at or after T", NULL, NULL},
	{0, "until", OPT_STR, "T", NULL, "created at or before T", NULL, NULL},
	END
};
static const struct pos sshow_pos[] = {
	{"KEY", P_OPT, "another session (key or unique suffix)", NULL},
	PEND
};
static const struct opt yes_opts[] = {
	{'y', "force", OPT_FLAG, NULL, NULL, "do not ask", NULL, A("yes")},
	END
};
static const struct pos keys_some[] = {
	{"KEY", P_SOME, "exact session keys", NULL},
	PEND
};
static const struct cmd session_subs[] = {
	{"list", A("ls"), "list sessions", "List the sessions of this profile, most recently updated first.",
	    slist_opts, NULL, NULL, 0, cmd_session_list, 0, "contree session list --filter myproj"},
	{"use", NULL, "continue from another session's image", "Append the current image of another session to this one.",
	    NULL, key_one, NULL, 0, cmd_session_use, 0, "contree session use 7521a664"},
	{"branch", A("br"), "list, create or delete branches", "List branches; create NAME; delete with -U; prune placeholder branches.",
	    branch_opts, branch_pos, NULL, 0, cmd_session_branch, 0, "contree session branch experiment\ncontree session branch -U experiment"},
	{"checkout", A("co"), "switch branch", "Make BRANCH the active branch.",
	    NULL, co_pos, NULL, 0, cmd_session_checkout, 0, "contree session checkout main"},
	{"rollback", A("rb"), "move the active branch back or forward",
	    "Move the active branch. A plain number is an absolute entry id (see `contree session show`); use -N to go back N steps.",
	    NULL, rb_pos, NULL, 0, cmd_session_rollback, 0, "contree session rollback       # one step back\ncontree session rollback -2    # two steps back\ncontree session rollback 17    # to entry 17"},
	{"show", NULL, "show history", "Show the history entries of this (or another) session.",
	    sshow_opts, sshow_pos, NULL, 0, cmd_session_show, 0, "contree session show -k run -l 5"},
	{"wait", NULL, "wait for detached runs", "Wait for detached runs of this session and record their results; with arguments, wait for those operations only.",
	    NULL, ops_any, NULL, 0, cmd_session_wait, 0, "contree session wait"},
	{"delete", A("rm", "del"), "delete sessions", "Delete sessions: entries, branches, staged files, environment and shell history.",
	    yes_opts, keys_some, NULL, 0, cmd_session_delete, 0, "contree session delete -y old+1234abcd"},
	{0}
};

/* --- auth --- */
static const struct opt auth_opts[] = {
	{0, "token", OPT_STR, "T", NULL, "API token (default: $CONTREE_TOKEN, $NEBIUS_API_KEY, or a prompt)", NULL, NULL},
	{'u', "url", OPT_STR, "URL", NULL, "API URL (default: $CONTREE_URL; IAM: https://api.tokenfactory.nebius.com/sandboxes)", NULL, NULL},
	{0, "type", OPT_CHOICE, "TYPE", "iam", "profile type", types, NULL},
	{'P', "project", OPT_STR, "ID", NULL, "project (IAM; default: $CONTREE_PROJECT, $NEBIUS_AI_PROJECT, or a prompt)", NULL, NULL},
	{'p', "profile", OPT_STR, "NAME", "default", "profile to write", NULL, NULL},
	{'y', "force", OPT_FLAG, NULL, NULL, "overwrite without asking", NULL, NULL},
	END
};
static const struct opt alist_opts[] = {
	{'O', "offline", OPT_FLAG, NULL, NULL, "do not probe the servers", NULL, NULL},
	END
};
static const struct pos name_one[] = {
	{"NAME", P_ONE, "profile name", NULL},
	PEND
};
static const struct cmd auth_subs[] = {
	{"list", A("ls", "profiles"), "list profiles", "List profiles and probe each server.",
	    alist_opts, NULL, NULL, 0, cmd_auth_list, C_LOCAL, "contree auth list -O"},
	{"switch", NULL, "set the active profile", "Make NAME the active profile.",
	    NULL, name_one, NULL, 0, cmd_auth_switch, C_LOCAL, "contree auth switch staging"},
	{"remove", A("rm", "del"), "remove a profile", "Remove a profile and its sessions.",
	    yes_opts, name_one, NULL, 0, cmd_auth_remove, C_LOCAL, "contree auth remove -y staging"},
	{0}
};

/* --- skills --- */
static const struct pos specs_any[] = {
	{"SPEC", P_ANY, "KIND:~, KIND:, KIND:PATH or a path (kinds: codex claude opencode amp cline claude-subagent claude-agent)", NULL},
	PEND
};
static const struct cmd skill_subs[] = {
	{"list", A("ls"), "list installed skills", "List the skill files this tool installed.",
	    NULL, NULL, NULL, 0, cmd_skill_list, C_LOCAL, "contree skill list"},
	{"install", A("i"), "install skills", "Install the contree skill for coding agents.",
	    yes_opts, specs_any, NULL, 0, cmd_skill_install, C_LOCAL, "contree skill install claude:~"},
	{"remove", A("r", "rm", "del"), "remove skills", "Remove installed skills.",
	    yes_opts, specs_any, NULL, 0, cmd_skill_remove, C_LOCAL, "contree skill remove -y"},
	{"upgrade", A("u", "update"), "rewrite installed skills", "Rewrite installed skills with this version.",
	    NULL, specs_any, NULL, 0, cmd_skill_upgrade, C_LOCAL, "contree skill upgrade"},
	{0}
};

/* --- diff --- */
static const struct opt diff_opts[] = {
	{0, "path", OPT_STR, "P", NULL, "compare only P and what is below it (relative: to the working directory)", NULL, NULL},
	{'p', "patch", OPT_FLAG, NULL, NULL, "add a unified diff for each changed text file", NULL, NULL},
	{0, "exit-code", OPT_FLAG, NULL, NULL, "exit 1 when the images differ, as git diff", NULL, NULL},
	END
};
static const struct pos diff_pos[] = {
	{"FROM", P_OPT, "image to compare from (default: the session's image before the current one)", NULL},
	{"TO", P_OPT, "image to compare with (default: the session's current image)", NULL},
	PEND
};

/* --- explore --- */
static const struct opt explore_opts[] = {
	{0, "prefix", OPT_STR, "NAME", "explore", "name the branches NAME-1, NAME-2, ... (numbered after existing ones)", NULL, NULL},
	{'j', "jobs", OPT_POSINT, "N", NULL, "run at most N commands at once (default: all)", NULL, NULL},
	{0, "from", OPT_STR, "REF", NULL, "start from this image: UUID, tag:NAME, @-N, a branch... (default: the session's current image)", NULL, NULL},
	{'t', "timeout", OPT_INT, "N", "120", "time limit of each command in the sandbox, in seconds", NULL, NULL},
	{'e', "env", OPT_APPEND, "K=V", NULL, "environment variable for every command; repeat for more", NULL, NULL},
	{'C', "cwd", OPT_STR, "DIR", NULL, "working directory in the sandbox (default: the session's)", NULL, NULL},
	{'F', "file", OPT_APPEND, "SPEC", NULL, "attach HOST[:/DEST][:uUID][:gGID][:mMODE] to every command (uploaded once); repeat for more", NULL, NULL},
	{'D', "disposable", OPT_FLAG, NULL, NULL, "discard the filesystem changes: no branches", NULL, NULL},
	END
};
static const struct pos explore_pos[] = {
	{"CMD", P_SOME, "shell expressions, one sandbox run and one branch each", NULL},
	PEND
};

static const struct opt env_opts[] = {
	{'U', "delete", OPT_FLAG, NULL, NULL, "unset the named keys", NULL, A("rm")},
	END
};
static const struct pos env_pos[] = {
	{"PAIRS", P_ANY, "KEY=VALUE pairs to set (or KEYs with -U)", NULL},
	PEND
};
/* --- mcp --- */
static const struct opt mcp_opts[] = {
	{0, "root", OPT_STR, "DIR", NULL, "upload, download and rsync touch only files under DIR (default: the current directory)", NULL, NULL},
	END
};
static const char *const agents[] = {
	"claude-code", "claude-desktop", "cursor", "cline", "codex", NULL
};
static const struct opt mcpconf_opts[] = {
	{0, "agent", OPT_CHOICE, "NAME", NULL, "only the snippet for this agent", agents, NULL},
	END
};
static const struct cmd mcp_subs[] = {
	{"config", NULL, "print the snippet that registers the MCP server",
	    "Print what registers `contree mcp` with a coding agent: the `claude mcp add` line, the mcpServers JSON of Claude Desktop, Cursor and Cline, the TOML of Codex.",
	    mcpconf_opts, NULL, NULL, 0, cmd_mcp_config, C_LOCAL | C_NOSTORE,
	    "contree mcp config --agent codex >> ~/.codex/config.toml"},
	{0}
};

static const struct pos topic_pos[] = {
	{"TOPIC", P_OPT, "section to print (default: all)", topics},
	PEND
};

const struct cmd commands[] = {
	{"use", A("ci"), "set or show the session's image",
	    "Start or continue a session from IMAGE and print the export line for eval; without IMAGE, show the session.",
	    use_opts, use_pos, NULL, 0, cmd_use, 0,
	    "eval $(contree use tag:ubuntu:latest)\ncontree use"},
	{"run", A("r"), "run a command in a sandbox",
	    "Run a command in a sandbox started from the session's image. A non-disposable run records the resulting image in the session. Exits with the command's exit code.",
	    run_opts, run_pos, NULL, 0, cmd_run, 0,
	    "contree run uname -a\ncontree run -s 'echo $HOME > /tmp/x'\ncontree run -F ./src:/app -C /app -- make test"},
	{"build", A("bd"), "build an image from a Dockerfile",
	    "Build an image from a Dockerfile, one sandbox run per RUN step, with a layer cache.",
	    build_opts, build_pos, NULL, 0, cmd_build, 0, "contree build --tag demo:1 ."},
	{"images", A("i", "img"), "list and import images",
	    "List images (tagged ones unless --all).",
	    images_opts, NULL, images_subs, 0, cmd_images, 0,
	    "contree images --prefix ubuntu\ncontree -f json images -a --since 1d"},
	{"tag", A("t"), "tag or untag an image",
	    "Set TAG on IMAGE (default: the session's current image), or remove it with -U.",
	    tag_opts, tag_pos, NULL, 0, cmd_tag, 0,
	    "contree tag myimage:v1\ncontree tag -U 0b9f6a1e-2c1d-4e7a-9a55-3f2f1c0d9e11 old:1"},
	{"ps", NULL, "list operations", "List operations (EXECUTING ones unless --all or --status).",
	    ps_opts, NULL, NULL, 0, cmd_op_list, 0, "contree ps -a\ncontree ps -q --status F"},
	{"kill", NULL, "cancel operations", "Cancel operations.",
	    kill_opts, ops_any, NULL, 0, cmd_op_cancel, 0, "contree kill @\ncontree kill --all"},
	{"show", NULL, "show operation results", "Show operations and their output.",
	    show_opts, ops_some, NULL, 0, cmd_op_show, 0, "contree show @\ncontree show --raw @-1"},
	{"operation", A("op"), "list, show, cancel and wait for operations",
	    "Operations: list, show, cancel, wait.",
	    NULL, NULL, op_subs, 1, NULL, 0, "contree op wait @"},
	{"ls", NULL, "list a directory of the session's image",
	    "List a directory of the current image (no sandbox is started).",
	    NULL, path_opt, NULL, 0, cmd_ls, 0, "contree ls /etc"},
	{"cat", NULL, "print a file of the session's image",
	    "Print a file of the current image (no sandbox is started).",
	    NULL, path_one, NULL, 0, cmd_cat, 0, "contree cat /etc/os-release"},
	{"cp", NULL, "download a file of the session's image",
	    "Download a file of the current image to a local file.",
	    NULL, cp_pos, NULL, 0, cmd_cp, 0, "contree cp /app/out.log ./out.log"},
	{"diff", NULL, "show what changed between two images",
	    "List the files added (A), changed (C) and deleted (D) between two images (no sandbox is started). FROM and TO take a UUID, tag:NAME, a tag, a session reference (@, @-N, HEAD~N, @N) or a branch name. With -p, unified diffs of text files follow.",
	    diff_opts, diff_pos, NULL, 0, cmd_diff, 0,
	    "contree diff\ncontree diff -p --path /etc @-2\ncontree diff --exit-code tag:app:1 tag:app:2"},
	{"explore", NULL, "run several commands in parallel branches",
	    "Run each CMD (a shell expression, as run -s) in its own sandbox, all from the same image and at the same time. The result of the i-th becomes branch PREFIX-i of the session; the active branch and the current image do not move. Each command's output is shown as it finishes, then a summary. Exits 0 when at least one command exited 0.",
	    explore_opts, explore_pos, NULL, 0, cmd_explore, 0,
	    "contree explore 'make test CC=gcc' 'make test CC=clang'\ncontree explore -j 2 --from tag:app:1 'pip install a' 'pip install b' 'pip install c'\ncontree diff explore-1 explore-2 && contree session checkout explore-2"},
	{"file", A("f"), "stage files for the next run and list uploads",
	    "Files: edit or copy files into the next run; list uploads.",
	    NULL, NULL, file_subs, 1, NULL, 0, "contree file cp ./conf.ini /etc/app.ini"},
	{"session", A("s"), "show and manage sessions",
	    "Show the current session, or manage sessions, branches and history.",
	    NULL, NULL, session_subs, 0, cmd_session, 0,
	    "contree session\ncontree session show\ncontree session branch experiment"},
	{"auth", NULL, "register a profile",
	    "Register or update a profile: verify the token with the API, then save it in auth.ini.",
	    auth_opts, NULL, auth_subs, 0, cmd_auth, C_LOCAL,
	    "contree auth --type jwt --url https://contree.example --token $TOKEN -p dev"},
	{"skill", NULL, "install instructions for coding agents",
	    "Install, list, upgrade or remove the contree skill for coding agents.",
	    NULL, NULL, skill_subs, 1, NULL, C_LOCAL, "contree skill install"},
	{"cd", NULL, "set or show the sandbox working directory",
	    "Set the working directory for later runs (checked against the image), or print it.",
	    NULL, path_opt, NULL, 0, cmd_cd, 0, "contree cd /app"},
	{"env", NULL, "set, unset or list session environment variables",
	    "Environment variables sent with every run of this session.",
	    env_opts, env_pos, NULL, 0, cmd_env, 0, "contree env DEBUG=1 LANG=C.UTF-8\ncontree env -U DEBUG"},
	{"agent", A("man"), "print the manual for coding agents",
	    "Print the built-in manual for coding agents.",
	    NULL, topic_pos, NULL, 0, cmd_agent, C_LOCAL, "contree agent sessions"},
	{"mcp", NULL, "serve the ConTree MCP server on stdin/stdout",
	    "Serve the Model Context Protocol on standard input and output for coding agents: the tools, resources and prompts of the ConTree MCP server, with runs recorded in the session log (session \"mcp\" unless -S).",
	    mcp_opts, NULL, mcp_subs, 0, cmd_mcp, C_LOCAL | C_NOSTORE,
	    "contree mcp\ncontree mcp config --agent claude-code"},
	{"shell", A("sh"), "interactive shell bound to the session",
	    "Start an interactive shell: lines run in the sandbox, contree commands run locally.",
	    NULL, NULL, NULL, 0, cmd_shell, 0, "contree shell"},
	{"completion", NULL, "print a shell completion script",
	    "Print the completion script for bash, zsh or fish.  The script asks contree itself for the candidates: commands, options, choices, branches, sessions, profiles, image tags and operations.  With --words, print the candidates for the last of WORDS, one per line.",
	    completion_opts, completion_pos, NULL, 0, cmd_completion, C_LOCAL,
	    "eval \"$(contree completion bash)\"\ncontree completion fish > ~/.config/fish/completions/contree.fish"},
	{0}
};
