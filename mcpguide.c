/* mcpguide.c - the MCP server's instructions and guide sections
 * (contree mcp; declared in manual.h).  A file of its own so that a
 * binary without the MCP server carries none of its text: string
 * literals of a file that is linked at all stay, used or not. */
#include <stddef.h>

#include "manual.h"
#include "util.h"

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
