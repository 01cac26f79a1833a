/* manual.c - the manual for coding agents: the text of `contree agent`
 * and of the installed skill files, one copy for both. */
#include <stddef.h>

#include "manual.h"
#include "util.h"

const char manual_title[] = "contree manual for coding agents";

static const struct manual_section sect[] = {
	{"Core workflow", "core_workflow", "core",
	"1. Pick one session key for your task and pass it on every command:\n"
	"   contree -S mytask+1 ...  (or export CONTREE_SESSION once).\n"
	"2. Find a base image before you start: contree images --prefix ubuntu\n"
	"3. Start the session: contree -S KEY use tag:ubuntu:latest\n"
	"4. Set the working directory early: contree -S KEY cd /app\n"
	"5. Look before you change: contree ls, contree cat, contree session show.\n"
	"6. Make one mutating step per run: contree -S KEY run -- apt-get install -y curl\n"
	"   Every run whose operation completes records a new image, even when\n"
	"   the command exits non-zero (roll back a bad step with\n"
	"   contree session rollback -1); the next run starts from it.  A run\n"
	"   whose operation fails, is cancelled or interrupted records nothing.\n"
	"7. Tag images worth keeping: contree -S KEY tag mybase:v1\n"},
	{"Sessions", "sessions", NULL,
	"A session is a local, per-profile history of images with branches.\n"
	"Without -S or CONTREE_SESSION the key is derived from the directory,\n"
	"the parent process and the terminal, so it changes between shells:\n"
	"agents should always pass -S.\n"
	"  contree session                 the current session\n"
	"  contree session show            history entries (ids, images, operations)\n"
	"  contree session branch NAME     create a branch at the tip (no switch)\n"
	"  contree session checkout NAME   switch branch\n"
	"  contree session rollback        one step back (same as -1)\n"
	"  contree session rollback -N     N steps back\n"
	"  contree session rollback N      jump to entry id N: positive numbers are\n"
	"                                  ABSOLUTE ids, not step counts\n"
	"Operation references accepted by show/kill/op wait/session wait:\n"
	"  @ (tip), @-N or HEAD~N (N back), @N (entry id N), @+N (N forward).\n"},
	{"Images and tags", "images_and_tags", "images",
	"Images are immutable filesystem snapshots named by UUID; tags are\n"
	"movable names.  IMAGE arguments accept tag:NAME, a bare tag, or a UUID.\n"
	"  contree images --prefix python     tagged images\n"
	"  contree images import alpine:3.19  import from a registry\n"
	"  contree tag [IMAGE] TAG            tag (default: current image)\n"
	"  contree tag -U [IMAGE] TAG         untag\n"},
	{"Files and directories", "files_and_directories", "files",
	"Reading needs no sandbox: contree ls [PATH], contree cat PATH,\n"
	"contree cp PATH LOCALFILE.\n"
	"Inputs for one run: contree run -F ./src:/app/src -- make\n"
	"(HOST[:/DEST][:uUID][:gGID][:mMODE]; directories are walked, .git and\n"
	"friends excluded).\n"
	"Staged inputs: contree file cp LOCAL /dest and contree file edit /path\n"
	"are kept pending and included in the NEXT run, then consumed.\n"
	"contree cd DIR sets the working directory of later runs.\n"},
	{"Execution modes", "execution_modes", "execution",
	"Direct (default): contree run CMD ARG...  no shell; safest.\n"
	"Shell: contree run -s 'cmd | other > file'  when you need pipes,\n"
	"globs, redirections or variables.\n"
	"Interpreter: contree run -I script.sh ARGS  runs the script body.\n"
	"Piped input: echo data | contree run cat\n"
	"Disposable: contree run -D ...  discards filesystem changes.\n"
	"Detached: contree run -d ...  returns at once; later\n"
	"contree session wait records the results, contree op wait just waits.\n"
	"Everything after the command word belongs to the command:\n"
	"contree run ls -t 5 runs `ls -t 5`.  contree's exit status is the\n"
	"sandbox command's exit status.\n"},
	{"Tree search", "tree_search", "search",
	"When there are several ways to solve a task, try them side by side\n"
	"from the same image instead of one after another:\n"
	"1. contree -S KEY explore 'fix A && make test' 'fix B && make test'\n"
	"   runs each shell expression in its own sandbox at the same time and\n"
	"   keeps the result of the i-th as branch explore-i (--prefix NAME for\n"
	"   NAME-i; -j N for at most N at once; --from REF to start elsewhere).\n"
	"   The active branch and current image do not move.  Each command's\n"
	"   output is shown as it finishes, then a summary (BRANCH EXIT_CODE\n"
	"   STATUS ...; -f json gives one row per command).  Exit status 0 when\n"
	"   at least one command exited 0.\n"
	"2. Compare: contree -S KEY diff explore-1 explore-2 (A/C/D lines; -p\n"
	"   adds patches); contree -S KEY diff @ explore-2 against the current\n"
	"   image; contree -S KEY session show lists the fan-out.\n"
	"3. Keep the winner: contree -S KEY session checkout explore-2, and go\n"
	"   on from there with run (or explore again).\n"
	"Ctrl-C cancels every command and records nothing.  -D runs them\n"
	"disposable: outputs only, no branches.\n"},
	{"Command safety", "command_safety", "command",
	"Read-only: images, ps, show, ls, cat, cp, diff, session, session show,\n"
	"session list, session branch (listing), env (listing), auth list, agent.\n"
	"Mutating local state: use, cd, env K=V, file cp, file edit, session\n"
	"branch/checkout/rollback/delete.\n"
	"Mutating remote state: run, explore, tag, images import, kill, build.\n"
	"Do not run mutating auth commands (auth, auth switch, auth remove).\n"},
	{"Output formats", "output_formats", "output",
	"Global -f goes BEFORE the command: contree -f json images\n"
	"Formats: default, table, json (one object per line), json-pretty, csv,\n"
	"tsv, plain, toml.  Use json for parsing; diagnostics go to stderr as\n"
	"[LEVEL] lines, data to stdout.\n"},
	{"Profiles", "profiles", NULL,
	"Profiles live in auth.ini under CONTREE_HOME (default\n"
	"~/.config/contree).  -p NAME picks one for a command; CONTREE_TOKEN,\n"
	"CONTREE_URL and CONTREE_PROJECT supply credentials without a file.\n"
	"contree auth list shows profiles and whether they work.\n"},
	{"MCP server", "mcp", NULL,
	"contree mcp is an MCP server on stdin/stdout with the same profile,\n"
	"upload cache and session log as the commands.  Register it with your\n"
	"agent: contree mcp config --agent claude-code (also claude-desktop,\n"
	"cursor, cline, codex) prints the line or snippet to add.  Its runs are\n"
	"recorded in the session \"mcp\" (-S KEY picks another): contree -S mcp\n"
	"session show lists what an agent did.  upload, download and rsync\n"
	"touch only files under the directory it started in (--root DIR).\n"},
	{"All commands", "all_commands", NULL,
	"use run explore build images tag ps kill show operation ls cat cp diff\n"
	"file session auth skill cd env agent shell mcp.\n"
	"contree COMMAND --help describes each; man contree has everything.\n"},
};

const struct manual_section *
manual_section(size_t i)
{
	return i < LEN(sect) ? &sect[i] : NULL;
}

/* ---- the MCP server's instructions and guide (contree mcp) ---- */

const char mcp_instructions[] =
	"ConTree runs commands in disposable microVM sandboxes started from "
	"immutable images.  Work like this:\n"
	"1. Look for a prepared image first: list_images with tag_prefix "
	"(tags look like scope/purpose/base:version).\n"
	"2. None yet: start from a base image (import_image if needed), "
	"install with run(disposable=false), one step per run, each from the "
	"previous result_image_uuid, then set_tag the result.\n"
	"3. Run the real work from that image; disposable=true (the default) "
	"keeps nothing.\n"
	"4. Read images with list_files and read_file instead of run(\"ls\") "
	"or run(\"cat\"): no sandbox is started.\n"
	"5. Local code goes in with rsync (a directory_state_id for run) or "
	"upload (a file UUID for run's files).\n"
	"6. Long or many commands: run(wait=false), then wait_operations.\n"
	"Every image stays: a failed step is undone by running again from the "
	"image before it.  get_guide has more.";

static const struct manual_section guide[] = {
	{"Workflow", "workflow", NULL,
	"# Workflow\n"
	"- Find: list_images(tag_prefix=...) for a prepared image.\n"
	"- Prepare: run(command, image, disposable=false) per step; chain\n"
	"  result_image_uuid; set_tag(image_uuid, tag) at the end.\n"
	"- Use: run(command, image=\"tag:NAME\") for the work itself.\n"
	"- Inspect: list_files / read_file / download, no sandbox needed.\n"},
	{"Reference", "reference", NULL,
	"# Reference\n"
	"run: command, image, shell=true, env, cwd=/root, timeout=30,\n"
	"  disposable=true, stdin, directory_state_id, files, wait=true,\n"
	"  truncate_output_at=8000.  Result: status, exit_code, timed_out,\n"
	"  stdout, stderr, result_image_uuid.\n"
	"Images: list_images, get_image, import_image, set_tag.\n"
	"Files: upload, download, rsync, list_files, read_file (1 MiB at most),\n"
	"  grep (pattern, path, glob).\n"
	"explore: several commands from one image at once, each result a\n"
	"  branch.  diff: what changed between two images.\n"
	"Operations: list_operations, get_operation, wait_operations,\n"
	"  cancel_operation.  Account: whoami, registry_auth.\n"},
	{"Quick start", "quickstart", NULL,
	"# Quick start\n"
	"1. list_images(tag_prefix=\"ubuntu\")\n"
	"2. run(command=\"uname -a\", image=\"tag:ubuntu:24.04\")\n"
	"3. run(command=\"apt-get update && apt-get install -y git\",\n"
	"   image=\"tag:ubuntu:24.04\", disposable=false, timeout=300)\n"
	"4. set_tag(image_uuid=<result_image_uuid>, tag=\"me/dev/ubuntu:1\")\n"},
	{"State", "state", NULL,
	"# State\n"
	"Images never change: a run with disposable=false makes a new image\n"
	"(result_image_uuid) and leaves its input as it was, so any step can\n"
	"be repeated or undone by starting again from an earlier image.  Runs\n"
	"are recorded in the contree session log (session \"mcp\"); the\n"
	"resource contree://image/{image}/lineage shows an image's history.\n"},
	{"Async", "async", NULL,
	"# Async\n"
	"run(wait=false) and import_image(wait=false) return operation_id at\n"
	"once.  Start several, then wait_operations(operation_ids, mode=all\n"
	"or any, timeout).  get_operation reads one; cancel_operation stops\n"
	"one.  Operations keep running when this server exits.\n"},
	{"Tagging", "tagging", NULL,
	"# Tagging\n"
	"Tag prepared images scope/purpose/base:version, e.g.\n"
	"acme/ci/python3.12:2.  A tag names one image; setting it again moves\n"
	"it.  set_tag with an empty tag removes it.  Use tag:NAME wherever an\n"
	"image is asked for.\n"},
	{"Errors", "errors", NULL,
	"# Errors\n"
	"A tool failure is a result with isError and one line saying why.\n"
	"exit_code is the command's own; status FAILED means the platform did\n"
	"not run it; timed_out means timeout was reached (raise it).  Read\n"
	"stderr, fix, and run again from the same image.\n"},
};

const struct manual_section *
mcp_guide(size_t i)
{
	return i < LEN(guide) ? &guide[i] : NULL;
}
