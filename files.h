/* files.h - uploads below the commands and above api.c: the SHA-256 of
 * a file (computed once), the local upload cache, dedup against the
 * server, uploads, and the host-file walker of `run -F` (cli.md §7.10,
 * §9.2.2, §9.2.3; api.md §6).  No exit, no static state: a long-lived
 * process (shell, mcp) may call everything any number of times. */
#ifndef FILES_H
#define FILES_H

#include <stddef.h>
#include <sys/stat.h>

struct api;
struct buf;

/* ---- hashing ---- */

/* SHA-256 of n bytes as 64 lowercase hex digits and a NUL. */
void sha256_hex(const void *p, size_t n, char hex[65]);
/* SHA-256 of what fd reads from where it is to the end; name is for
 * the message.  0, or -1 with the slot set. */
int sha256_fd(int fd, const char *name, char hex[65]);
/* The same for the file at path. */
int sha256_file(const char *path, char hex[65]);

/* The "uuid" member of a JSON reply into uuid; what names the request
 * in the message ("POST /files").  0, or -1 with the slot set. */

/* ---- the upload cache (cli.md §7.10) ----
 * HOME/cli/uploads: a line "contree-uploads 1", then one line per host
 * file:
 *   uuid TAB sha256 TAB inode TAB mtime_ns TAB size TAB recorded TAB path
 * path is absolute with '\\', TAB and LF escaped as \\ \t \n.  Entries
 * recorded 90 days ago or more (or in the future) are dropped on load;
 * so are lines that do not parse. */

struct upent {
	char *path;             /* absolute host path: the key */
	unsigned long long ino;
	long long mtime_ns, size, when;
	char uuid[37], sha[65];
	int mine;               /* put by this process: saved */
};

struct upcache {
	char *file;             /* the cache file */
	struct upent *e;
	size_t n;
	size_t *tab, tabn;      /* open addressing: index + 1, 0 empty */
};

/* Load HOME/cli/uploads into u (a missing or foreign file: empty). */
void upcache_load(struct upcache *u, const char *home);
/* The entry for path, or NULL. */
struct upent *upcache_find(const struct upcache *u, const char *path);
/* The entry for path if its inode, mtime and size still match st. */
struct upent *upcache_match(const struct upcache *u, const char *path,
    const struct stat *st);
/* Add or replace by path, marked mine; copies e->path. */
void upcache_put(struct upcache *u, const struct upent *e);
/* The host path file uuid was uploaded from (newest), or NULL; valid
 * until upcache_free. */
const char *upcache_source(const struct upcache *u, const char *uuid);
/* Merge the entries put by this process into the file as it is now
 * (another process may have written meanwhile) and write it (0600).
 * 0, or -1 with the slot set (a lost cache write only costs requests). */
int upcache_save(const struct upcache *u);
void upcache_free(struct upcache *u);

/* ---- host files and uploads (cli.md §9.2.3) ---- */

enum { UP_CACHED = 1, UP_FOUND, UP_SENT };      /* how a uuid was got */

struct hostfile {
	char *host;             /* path to open */
	char *abs;              /* absolute path: the cache key */
	char *dest;             /* destination in the sandbox */
	const char *name;       /* for messages when not host; not owned */
	long long uid, gid;
	unsigned mode;
	struct stat st;
	char sha[65];           /* "" until hashed; preset to skip hashing */
	char uuid[37];          /* set by files_upload */
	int how;                /* UP_* once uploaded */
};

struct filelist {
	struct hostfile *f;
	size_t n;
};

/* Add the regular readable file host, to land at dest, owner and mode
 * its own.  0, or -1 with the slot set ("HOST: not a regular file"). */
int files_add(struct filelist *l, const char *host, const char *dest);
void files_free(struct filelist *l);

/* Give every file of l its file UUID: the upload cache of home (NULL:
 * no cache), else its SHA-256 (hashed once, unless preset) looked up
 * with GET /v1/files/<sha256>, else POST /v1/files; files with the same
 * content share one lookup.  Many files are hashed and sent by up to
 * CONTREE_CONCURRENCY worker processes (jobs.c), each on a connection of
 * its own; a's own connection is left as it was.  What was learnt is
 * saved in the cache, also after a failure.  0, or -1 with the slot set:
 * the first failing file in list order is named ("uploading NAME:
 * ..."); "User interrupted" after Ctrl-C (the workers stop too).  Each
 * hostfile's st is refreshed from the file as read. */
int files_upload(struct api *a, const char *home, struct filelist *l);

/* ---- a URL streamed into an upload (build's ADD <url>, cli.md §9.3) */

struct urlfetch {
	char etag[256], lastmod[128];   /* validators: in, then out */
	char uuid[37], sha[65];         /* the upload ("" sha: unknown) */
};

/* GET url (http or https, up to 5 redirects), conditional on the
 * validators in f when not empty (If-None-Match, If-Modified-Since),
 * bounded by timeout_s.  A 200 body goes straight into POST /v1/files
 * through a pipe (flat memory, no local copy) and f gets the uuid, the
 * sha256 the server reports and the new validators: 0.  A 304: 1,
 * nothing uploaded, f unchanged.  -1 with the slot set. */
int files_upload_url(struct api *a, const char *url, long long timeout_s,
    struct urlfetch *f);

/* ---- --file specifications (cli.md §9.2.2) ---- */

struct spec {
	char *host, *dest;      /* dest NULL when not given */
	long long uid, gid;
	unsigned mode;
	int has_uid, has_gid, has_mode;
};

/* Parse HOST[:FIELD]...; 0 (caller frees host and dest) or -1 with
 * the slot set. */
int parse_spec(const char *text, struct spec *s);
/* 1 if the relative path rel or its last component name matches a
 * default exclude or one of pats (shell globs). */
int excluded(const char *rel, const char *name, char *const *pats,
    int npats);
/* Parse every spec and walk directories, appending to l; nothing is
 * sent.  0, or -1 with the slot set. */
int files_collect(char *const *specs, int nspecs, char *const *pats,
    int npats, struct filelist *l);

/* ---- download destinations (cp, the MCP server's download) ---- */

/* Open DEST for writing: a temporary file beside it (*tmp, caller
 * frees), renamed into place by dest_close; a device, FIFO or symlink
 * (cp X /dev/stdout) is written through, never replaced.  The fd, or
 * -1 with the slot set. */
int dest_open(const char *dest, char **tmp);
/* End the download that returned rc: sync, close and rename into place,
 * or remove the partial file.  *size gets the size written.  0 or -1
 * with the slot set, naming DEST for local errors. */
int dest_close(int fd, const char *tmp, const char *dest, int rc,
    off_t *size);

/* ---- what a run attaches ---- */

struct op_file;
struct store_file;
/* The files of a spawn: the staged ones (pend, from the store) first,
 * then l's (uploaded: uuid set); for one destination the later wins, so
 * an explicit --file beats a staged file.  The array (caller frees)
 * points into pend and l. */
struct op_file *files_merge(const struct store_file *pend, size_t npend,
    const struct filelist *l, size_t *n);

#endif
