/* manual.c - the manual for coding agents: the text of `contree agent`
 * and of the installed skill files, one copy for both. */
#include <stddef.h>

#include "manual.h"
#include "prose.h"
#include "util.h"

const char manual_title[] = "contree manual for coding agents";

/* The bodies are packed (prose.def): filled in from prose() on first
 * use. */
static struct manual_section sect[] = {
	{"Core workflow", "core_workflow", "core", NULL},
	{"Sessions", "sessions", NULL, NULL},
	{"Images and tags", "images_and_tags", "images", NULL},
	{"Files and directories", "files_and_directories", "files", NULL},
	{"Execution modes", "execution_modes", "execution", NULL},
	{"Tree search", "tree_search", "search", NULL},
	{"Command safety", "command_safety", "command", NULL},
	{"Output formats", "output_formats", "output", NULL},
	{"Profiles", "profiles", NULL, NULL},
	{"MCP server", "mcp", NULL, NULL},
	{"All commands", "all_commands", NULL, NULL},
};

const struct manual_section *
manual_section(size_t i)
{
	static const unsigned char body[] = {
		P_MAN_CORE_WORKFLOW,
		P_MAN_SESSIONS,
		P_MAN_IMAGES_AND_TAGS,
		P_MAN_FILES_AND_DIRECTORIES,
		P_MAN_EXECUTION_MODES,
		P_MAN_TREE_SEARCH,
		P_MAN_COMMAND_SAFETY,
		P_MAN_OUTPUT_FORMATS,
		P_MAN_PROFILES,
		P_MAN_MCP,
		P_MAN_ALL_COMMANDS,
	};

	if (i >= LEN(sect))
		return NULL;
	if (!sect[i].body)
		sect[i].body = prose(body[i]);
	return &sect[i];
}
