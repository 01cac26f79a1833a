/* nomcp.c - stands in for mcp.c and cmd_mcp.c in `make static-nomcp`:
 * the static binary linked without the MCP server, so that make bench
 * can weigh the server's share (full binary minus this one).  Only the
 * entry points the rest of the program references; never shipped. */
#include "../cmds.h"
#include "../util.h"

static int
nomcp(void)
{
	seterr("this build has no MCP server");
	return -1;
}

int
cmd_mcp(struct ctx *c)
{
	(void)c;
	return nomcp();
}

int
cmd_mcp_config(struct ctx *c)
{
	(void)c;
	return nomcp();
}
