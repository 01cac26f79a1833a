/* api.h - the ConTree API over HTTP: credentials, base URL, retries.
 * (Owned by the http helper; this is the contract the commands use.) */
#ifndef API_H
#define API_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf;

struct api_cfg {
	const char *url;        /* profile base URL, e.g. https://h/sandboxes */
	const char *token;      /* bearer token; NULL -> every call fails locally */
	const char *project;    /* IAM: sent as Project header; NULL for jwt */
	int iam;                /* 1: IAM profile (project required) */
	int timeout_ms;         /* request timeout (--request-timeout);
	                           0: $CONTREE_REQUEST_TIMEOUT, else
	                           API_TIMEOUT_MS */
	int noretry;            /* 1: single attempt (auth list probes) */
	const char *cafile;     /* extra trust anchors (CONTREE_CA_FILE) */
	const char *token_from; /* "$CONTREE_TOKEN", "--token", "profile 'x'
	                           in PATH": named when the token is refused */
};

struct api;

/* The default bound of one request: connecting and the TLS handshake
 * (each at most 30 s), each read, and the whole wait for an in-memory
 * answer (a streamed body - download, events - is bounded per read). */
#define API_TIMEOUT_MS (60 * 1000)

/* Parse a request timeout in seconds ("30", "0.5") into *ms: 0, or -1
 * with the slot set (class ERR_USAGE). */
int api_parse_timeout(const char *s, int *ms);

/* NULL with the error slot set for a bad URL.  Caller frees. */
struct api *api_new(const struct api_cfg *cfg);
void api_free(struct api *a);
/* In a forked child: let go of the parent's kept-alive connection
 * without a byte on it; the next call opens its own. */
void api_forget(struct api *a);

struct api_resp {
	int status;             /* HTTP status; 0 = no response */
	struct buf *body;       /* caller-provided, appended to; may be NULL */
	char location[512];     /* Location header, if any */
};

enum {
	API_NOREPLAY = 1        /* spawn/import: never re-send once written */
};

/* Bound every request, retry sleep and events stream of a from now on
 * by the absolute time abs_ms (now_ms() clock); 0 clears it.  A call
 * that runs into it fails with class ERR_TIMEOUT. */
void api_set_deadline(struct api *a, int64_t abs_ms);

/* After a failed call: 1 if the request may have reached the server,
 * 0 if it was provably never sent (refused connection, unknown host,
 * TLS handshake failure): an API_NOREPLAY request then did not act. */
int api_sent(const struct api *a);

/* Query parameters: NULL-terminated array of key, value pairs; values
 * are percent-encoded by api.  NULL values are skipped. */

/* One API call: METHOD <base>/v1<path>?<query>.  json may be NULL.
 * Returns 0 for a 2xx answer; else -1 with the error slot set to the
 * user-facing message and its class: ERR_API "API 404 Not Found: <body>"
 * (r->status the HTTP status), ERR_NET "Network error: ...", ERR_TLS
 * "TLS error: ...", ERR_TIMEOUT "Network timeout: ...", ERR_INTR
 * (r->status 0 for all but ERR_API). */
int api_call(struct api *a, const char *method, const char *path,
    const char *const *query, const char *json, int flags,
    struct api_resp *r);

/* POST /v1/files with the bytes of fd (from offset 0, size bytes);
 * retried by re-reading from offset 0.  Body of the reply into r. */
int api_upload(struct api *a, int fd, off_t size, struct api_resp *r);

/* GET path?query, the 2xx body given to sink piece by piece (total:
 * its Content-Length, -1 when not known); sink returns 0, or -1 with
 * the slot set to stop the call.  A body that breaks is fetched again
 * from its start if sink(arg, NULL, 0, -1) returns 0 (it undid what it
 * was given; no Range requests: api.md does not promise them), else the
 * call fails.  Memory: one 128 KiB buffer whatever the size.  0, or -1
 * with the slot set. */
int api_fetch(struct api *a, const char *path, const char *const *query,
    int (*sink)(void *arg, const char *p, size_t n, off_t total),
    void *arg, struct api_resp *r);

/* GET path?query streaming the 2xx body to fd (through api_fetch; a
 * regular file is rewound for a retry, anything else is not).  progress, if not NULL,
 * is called with bytes so far and total (-1 unknown). */
int api_download(struct api *a, const char *path, const char *const *query,
    int fd, void (*progress)(void *arg, off_t done, off_t total),
    void *arg, struct api_resp *r);

/* Follow /v1/operations/<op>/events?follow=1 until the completion event.
 * cb is called for every event with its type and data JSON (the whole
 * envelope); returning non-zero stops.  Resumes with Last-Event-Id after
 * a broken stream.  Returns 0 after completion, 1 when the server has no
 * events route (caller polls instead), -1 on error (slot set). */
int api_events(struct api *a, const char *op,
    int (*cb)(void *arg, const char *type, const char *data, size_t len),
    void *arg);

/* Page through a listing (cli.md §8, api.md §5.1): GET path with query
 * plus offset/limit, page size min(1000, limit + 1), until a short or
 * empty page or limit + 1 items.  arraykey names the array member of the
 * reply object ("images"), or NULL for a bare array.  row() is called for
 * each of the first `limit` items; endbatch() (may be NULL) after each
 * page that produced rows.  *more is set when more than limit exist.
 * The first page is fetched here; when it is full and at least two
 * more may be needed, the rest come from up to CONTREE_CONCURRENCY
 * fetchers at once: this process (page 1, on a's connection) and jobs
 * (jobs.h: forked clients, each on a kept-alive connection of its own,
 * several pages each), at most that many pages ahead of the output,
 * given to row() in order with the same rules; up to that many - 1
 * requests may go past the end.  CONTREE_CONCURRENCY=1: one page after
 * the other on a's connection.  A failing page fails the listing after
 * the rows before it, as in order.  a may be NULL (the slot then
 * already says why).  0, or -1 with the slot set. */
struct json;
int api_list_pages(struct api *a, const char *path,
    const char *const *query, const char *arraykey, long long limit,
    int (*row)(void *arg, const struct json *j, int t),
    void (*endbatch)(void *arg), void *arg, int *more);

/* Resolve an image reference (cli.md §8): a lowercase canonical UUID is
 * used as is (a may then be NULL); "tag:NAME" or any other text is
 * looked up with GET /v1/images?tag=NAME, preferring an exact tag match
 * over the first prefix match.  uuid gets 36 chars + NUL.  -1 with the
 * slot set ("API 404 Not Found: no image with tag NAME" when nothing
 * matches). */
int api_image_resolve(struct api *a, const char *ref, char uuid[37]);

/* The "uuid" of a POST reply (spawn, import, upload): a canonical
 * UUID into uuid.  0, or -1 with the slot set ("malformed reply to
 * WHAT: ..."). */
int api_reply_uuid(const struct buf *body, const char *what, char uuid[37]);

/* GET /v1/inspect/<uuid>/: 0 when the image exists; -1 with the slot
 * set ("no image UUID on the server ..." for a 404). */
int api_image_check(struct api *a, const char *uuid);
/* The same as 1 (exists), 0 (the server answered 404: the slot says
 * so) or -1 (any other failure). */
int api_image_exists(struct api *a, const char *uuid);
/* PATCH /v1/images/<uuid>/tag with {"tag": tag}.  0, or -1. */
int api_image_tag(struct api *a, const char *uuid, const char *tag);

/* "contree-cli/<version> C/99 <sysname>-<release>-<machine>", sent as
 * User-Agent (also fit for -v).  Static storage. */
const char *api_user_agent(void);

/* Connections opened and requests sent so far (benchmarks, -L debug). */
void api_stats(const struct api *a, long *conns, long *reqs);

/* Images never change, so what the server said about (image, path)
 * holds forever (cli.md §7.10).  api_inspect_get: GET
 * /v1/inspect/<image>/list?path=P (what "list"; text: &text=1, the
 * server's ls-style text) or /download?path=P (what "file") into body.
 * With cachedir (NULL: no cache), JSON listings and files up to
 * API_INSPECT_CACHE_MAX bytes are read from and kept in
 * <cachedir>/<image>/<what>-<sha256 of path>; text listings never.
 * a may be NULL (a cache miss then fails; the slot says why).  0, or -1
 * with the slot set; *status (may be NULL) the HTTP status (0: none). */
#define API_INSPECT_CACHE_MAX (8 << 20)
int api_inspect_get(struct api *a, const char *cachedir, const char *image,
    const char *what, const char *path, int text, struct buf *body,
    int *status);
/* The same for a file, streamed to sink (as api_fetch): the cached copy,
 * else the download, kept in the cache beside as it arrives when it is
 * at most API_INSPECT_CACHE_MAX bytes.  Memory does not grow with the
 * file.  0, or -1 with the slot set; *status as above. */
int api_inspect_stream(struct api *a, const char *cachedir, const char *image,
    const char *path, int (*sink)(void *arg, const char *p, size_t n,
    off_t total), void *arg, int *status);

#endif
