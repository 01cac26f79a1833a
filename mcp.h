/* mcp.h - the Model Context Protocol over stdio: JSON-RPC 2.0, one
 * message per line (MCP 2024-11-05 ... 2025-11-25).  This layer owns
 * the stream: reading stdin in bounded chunks, the envelope checks and
 * error codes, initialize and version negotiation, ping,
 * logging/setLevel, cancellation, progress, and writing each message
 * with one write.  What the methods do is the caller's (cmd_mcp.c):
 * a table of handlers.  A slow handler hands its work to a job (a child
 * process, jobs.h) and the loop keeps reading, so a call in flight
 * never blocks another. */
#ifndef MCP_H
#define MCP_H

#include <stddef.h>

struct buf;
struct json;

/* JSON-RPC and MCP error codes. */
enum {
	MCP_EPARSE = -32700, MCP_EINVALID = -32600, MCP_EMETHOD = -32601,
	MCP_EPARAMS = -32602, MCP_EINTERNAL = -32603, MCP_ENORESOURCE = -32002,
	MCP_EBUSY = -32000
};
/* A handler's return when it started a job (mcp_job). */
#define MCP_ASYNC 1

/* One request as a handler sees it; valid until it is answered. */
struct mcp_req {
	const struct json *j;   /* the message; token 0 is its object */
	int params;             /* token of "params" (an object), or -1 */
	const void *user;       /* for the handler and its job */
};

/* A handler: 0 with the result object's JSON in res; MCP_ASYNC after
 * mcp_job; or an error code above with the message in the error slot. */
typedef int (*mcp_fn)(struct mcp_req *r, struct buf *res);

struct mcp_method {
	const char *name;
	mcp_fn fn;
};

struct mcp_server {
	const struct mcp_method *methods;       /* ends with a NULL name */
	const char *name, *title, *version;
	const char *instructions;
	const char *capabilities;               /* JSON object text */
};

/* Serve stdin/stdout until stdin ends: 0.  Calls still running then are
 * killed, not waited for; the operations they started are named on
 * stderr and keep running on the server.  Calls not started yet never
 * start and are named on stderr, as are calls killed with nothing left
 * running.  On a signal (`interrupted`): the running calls cancel and
 * answer, the queued ones are named; EXIT_INTR. */
int mcp_serve(const struct mcp_server *s);

/* In a handler: answer this request from a job, fn run in a child
 * process (at most CONTREE_CONCURRENCY at once; more wait in a queue).
 * fn answers with mcp_answer; a job that ends without an answer gets an
 * internal error.  Always MCP_ASYNC. */
int mcp_job(struct mcp_req *r, int (*fn)(struct mcp_req *r));

/* In a job (or in a handler, where they do nothing but mcp_answer's
 * return): the result object for the request; a progress message (a
 * notification when the client asked for progress); the operation the
 * call started (named on stderr if the server must exit first).  The
 * parent drops all of them once the request was cancelled. */
int mcp_answer(struct mcp_req *r, const struct buf *res);
void mcp_progress(struct mcp_req *r, const char *msg);
/* In a job: answer with a JSON-RPC error instead (code as above). */
int mcp_fail(struct mcp_req *r, int code, const char *msg);
void mcp_started(struct mcp_req *r, const char *op);
/* In a job, before a spawn request: its marker (CONTREE_SPAWN_ID), named
 * on stderr if the server must exit before the answer names the
 * operation. */
void mcp_starting(struct mcp_req *r, const char *marker);
/* In a job: path is a temporary file of this call, which the job
 * removes or renames itself; the server removes it if the job is killed
 * (stdin closed) or dies. */
void mcp_temp(struct mcp_req *r, const char *path);
/* A notifications/message at level (util.h LOG_*), when the client's
 * logging/setLevel lets it through. */
void mcp_log(int level, const char *text);

/* The server's texts (mcp.def, packed; mcpguide.c): text id M_*, never
 * NULL, for the life of the process.  A text of several fields (each
 * ended by a NUL): mcp_field(s, k) is the k-th after s. */
enum {
#define P(id, text) id,
#include "mcp.def"
#undef P
	M_COUNT
};
const char *mcp_text(int id);
const char *mcp_field(const char *s, int k);

#endif
