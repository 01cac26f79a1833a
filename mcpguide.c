/* mcpguide.c - the MCP server's texts (mcp.def: its instructions,
 * tools, guide, resource templates and prompts), stored packed in
 * mcp_z.h and unpacked on the first call (mcp.h).  A file of its own
 * so that a binary without the MCP server carries none of its text. */
#include <string.h>

#include "mcp.h"
#include "prose.h"
#include "util.h"
#include "mcp_z.h"              /* made by `textpack mcp` from mcp.def */

const char *
mcp_text(int id)
{
	static char *text;      /* not static storage: the static binary's
	                           bss would grow, and with it its padding */

	if (!text) {
		text = xmalloc(MCP_LEN);
		/* mcp_z.h is ours, made at build time: cannot fail */
		lz_unpack_dict(mcp_z, sizeof mcp_z, text, MCP_LEN);
	}
	return text + mcp_off[id];
}

const char *
mcp_field(const char *s, int k)
{
	while (k-- > 0)
		s += strlen(s) + 1;
	return s;
}
