/* store.c - the session store: an append-only log per profile, replayed
 * into memory at open (design.md §3, cli.md §7).
 *
 * FILE FORMAT
 *
 * $CONTREE_SESSION_DB, else $CONTREE_HOME/cli/sessions/<profile>.log,
 * mode 0600.  Text, one record per line.  Line 1 is the format line
 * "contree-log 1".  Every other line is a record:
 *
 *	TYPE <TAB> FIELD <TAB> ... <TAB> CRC <LF>
 *
 * CRC is the CRC-32 (IEEE, as zlib's crc32) of every byte before the TAB
 * that precedes it, as 8 lowercase hex digits.  In fields, backslash, TAB
 * and LF are written \\ \t \n; no other escapes exist.  Numbers are
 * decimal; TIME is Unix seconds (UTC); MODE is octal.  KEY is a session
 * key.  Records, in the order their fields appear:
 *
 *   entry    ID KEY PARENT TIME BRANCH KIND IMAGE OP TITLE
 *            [PATH UUID UID GID MODE]...
 *            history entry ID (PARENT 0: a root; else an earlier entry of
 *            the session); the 5-field groups are staged files.  If
 *            BRANCH is not empty it now points at ID, and becomes the
 *            active branch if the session had none.  updated_at = TIME.
 *   branch   KEY NAME ID         create or move branch NAME to entry ID
 *   reset    KEY NAME ID TIME    move the active branch NAME to ID
 *                                (rollback); updated_at = TIME
 *   unbranch KEY TIME NAME...    delete branches; updated_at = TIME
 *   checkout KEY NAME TIME       make NAME active; updated_at = TIME
 *   env      KEY NAME VALUE [NAME VALUE]...   set variables
 *   unenv    KEY NAME...         unset variables
 *   pending  KEY OP DISPOSABLE BRANCH TITLE   detached operation (0/1)
 *   done     KEY OP              forget a pending operation
 *   hist     KEY LINE...         shell-history lines (10,000 kept)
 *   delete   KEY                 drop everything of the session
 *   maxid    ID                  ids up to ID were issued (compaction)
 *
 * The next entry id is one more than the highest id or maxid seen.
 *
 * Every field is checked on replay (the handlers below): IDs 1..10^15-1,
 * TIME 0..253402300799, UID/GID 0..2^32-1, MODE <= 07777; IMAGE a
 * canonical lowercase UUID (the commands copy it into 37 bytes); KEY,
 * branch and variable names 1..1024 bytes (a variable name without
 * '='); OP and staged-file ids at most 64 bytes; PATH 1..4096 bytes;
 * titles, values and history lines at most 4 MiB; no NUL bytes, no
 * unknown escapes.  A record must also fit the state before it: parent
 * and branch targets are entries of the session, ids increase within a
 * session, checkout/reset/unbranch name existing branches.  Writers
 * check each record the same way before writing it.
 *
 * Writers lock the whole file (fcntl F_WRLCK), replay what others
 * appended since they last read, cut off a torn last line, append each
 * record with one write(2) on an O_APPEND descriptor and fsync before
 * unlocking; a failed write is cut off again.  Readers hold F_RDLCK
 * while reading.  A CR before an LF is ignored.  On read, a last line
 * without LF or with a bad checksum is a torn write: ignored with one
 * warning, cut off by the next writer.  Any other bad line (checksum,
 * fields, references) is skipped with one warning naming file and line,
 * and the next writer rewrites the file without it (a compaction).
 * Compaction (after "session delete", and when the file holds over
 * twice the records the live state needs) writes the live state to a
 * temporary file <log>.tmp.<pid>.XXXXXX, fsyncs it and renames it over
 * the log while holding the lock; a process that then finds the path
 * names another file rereads it.  Opening the store removes temporary
 * files whose process no longer exists. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

#define HEADER "contree-log 1"
#define CRCLEN 8                /* hex digits of the checksum */
#define CHUNK (64 * 1024)       /* arena block */
#define COMPACT_MIN 1024        /* records before auto compaction */
#define READBUF (256 * 1024)    /* replay reads this much at a time */
#define TMPSUF ".tmp."          /* compaction: <log>.tmp.<pid>.XXXXXX */

static const char *const kinds[] = {
	STORE_USE, STORE_RUN, STORE_RUN_DETACHED, STORE_RUN_DISPOSABLE,
	STORE_FILE, STORE_CD, STORE_SESSION_USE
};
enum { K_USE, K_RUN, K_RUN_DETACHED, K_RUN_DISPOSABLE, K_FILE, K_CD,
	K_SESSION_USE };

/* Memory that lives until store_close: entries, staged-file arrays and
 * the strings the state keeps.  Nothing in it is ever freed early, so
 * pointers handed to callers stay valid. */
struct chunk {
	struct chunk *next;
	size_t used, cap;
	/* data follows, aligned */
};
#define CHUNKHDR ((sizeof(struct chunk) + 7) & ~(size_t)7)

struct brn {
	const char *name;
	const struct store_entry *tip;
};

struct pend {
	const char *op, *title, *branch;
	int disp;
};

struct session {
	const char *key;
	size_t klen;                            /* strlen(key) */
	const struct store_entry **ent;         /* id order */
	size_t nent, cent;
	struct brn *br;
	size_t nbr, cbr;
	const char *active;
	struct store_kv *env;
	size_t nenv, cenv;
	struct pend *pend;
	size_t npend, cpend;
	const char **hist;                      /* live: hist[hoff..nhist) */
	size_t hoff, nhist, chist;
	long long updated;
	unsigned long long seq;                 /* record of the last update */
};

struct store {
	char *path;
	int fd;
	int rdonly;
	dev_t dev;
	ino_t ino;
	off_t off;              /* end of the last good record replayed */
	long long lineno;       /* lines replayed, format line included */
	long long nrec;         /* records in the file */
	int locked;             /* transaction depth */
	int dirty;              /* written since the last fsync */
	int64_t timeout_ms;
	long long maxid;
	unsigned long long seq;
	struct session *sess;
	size_t nsess, csess;
	uint32_t *htab;         /* session index + 1, open addressing */
	size_t hcap;
	size_t last;            /* session found last */
	struct chunk *chunks, *cur;
	char **f;               /* fields of the record being replayed */
	size_t *fl;             /* and their lengths */
	size_t cf;
	struct buf rec;         /* record being written */
	struct buf scratch;     /* its copy, checked before writing */
	long long nbad;         /* corrupt records skipped in the file */
	int tornwarned;         /* warned about a torn last line */
};

/* ---- CRC-32, slicing by 16 (replay checks every byte of the log) ---- */

static uint32_t crctab[16][256];
static int crcready;

static void
crcinit(void)
{
	uint32_t c;
	int i, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crctab[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 16; k++)
			crctab[k][i] = crctab[k - 1][i] >> 8 ^
			    crctab[0][crctab[k - 1][i] & 0xff];
	crcready = 1;
}

#define LE32(p) ((uint32_t)(p)[0] | (uint32_t)(p)[1] << 8 | \
	(uint32_t)(p)[2] << 16 | (uint32_t)(p)[3] << 24)

uint32_t
store_crc32(uint32_t crc, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	uint32_t a, b, c, d;

	if (!crcready)
		crcinit();
	crc = ~crc;
	while (n >= 16) {
		a = crc ^ LE32(p);
		b = LE32(p + 4);
		c = LE32(p + 8);
		d = LE32(p + 12);
		crc = crctab[15][a & 0xff] ^ crctab[14][a >> 8 & 0xff] ^
		    crctab[13][a >> 16 & 0xff] ^ crctab[12][a >> 24] ^
		    crctab[11][b & 0xff] ^ crctab[10][b >> 8 & 0xff] ^
		    crctab[9][b >> 16 & 0xff] ^ crctab[8][b >> 24] ^
		    crctab[7][c & 0xff] ^ crctab[6][c >> 8 & 0xff] ^
		    crctab[5][c >> 16 & 0xff] ^ crctab[4][c >> 24] ^
		    crctab[3][d & 0xff] ^ crctab[2][d >> 8 & 0xff] ^
		    crctab[1][d >> 16 & 0xff] ^ crctab[0][d >> 24];
		p += 16;
		n -= 16;
	}
	while (n >= 4) {
		a = crc ^ LE32(p);
		crc = crctab[3][a & 0xff] ^ crctab[2][a >> 8 & 0xff] ^
		    crctab[1][a >> 16 & 0xff] ^ crctab[0][a >> 24];
		p += 4;
		n -= 4;
	}
	while (n--)
		crc = crctab[0][(crc ^ *p++) & 0xff] ^ crc >> 8;
	return ~crc;
}

/* ---- arena ---- */

static char *
chunk_new(struct store *s, size_t cap)
{
	struct chunk *c = xmalloc(CHUNKHDR + cap);

	c->used = 0;
	c->cap = cap;
	c->next = s->chunks;
	s->chunks = c;
	return (char *)c + CHUNKHDR;
}

/* n bytes aligned to align (1 or 8). */
static void *
aalloc(struct store *s, size_t n, size_t align)
{
	struct chunk *c = s->cur;
	char *p;

	if (c)
		c->used = (c->used + align - 1) & ~(align - 1);
	if (!c || c->used > c->cap || c->cap - c->used < n) {
		if (n > CHUNK / 4)
			return chunk_new(s, n);
		chunk_new(s, CHUNK);
		c = s->cur = s->chunks;
	}
	p = (char *)c + CHUNKHDR + c->used;
	c->used += n;
	return p;
}

/* A copy of p[0..n) and a NUL that lives until store_close. */
static const char *
keepn(struct store *s, const char *p, size_t n)
{
	char *q;

	if (n == 0)
		return "";
	q = aalloc(s, n + 1, 1);
	memcpy(q, p, n);
	q[n] = '\0';
	return q;
}

/* Copy p[0..n) and a NUL to *sp (which has room) and advance it. */
static const char *
put(char **sp, const char *p, size_t n)
{
	char *q = *sp;

	if (n == 0)
		return "";
	memcpy(q, p, n);
	q[n] = '\0';
	*sp = q + n + 1;
	return q;
}

static const char *
keep(struct store *s, const char *p)
{
	return keepn(s, p, strlen(p));
}

/* ---- sessions ---- */

/* Hash of p[0..n), eight bytes at a time (replay hashes a key per
 * record).  Depends on byte order; it is never stored. */
static uint32_t
hashstr(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15u ^ n, w;

	for (; n >= 8; n -= 8, p += 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdu;
		h ^= h >> 32;
	}
	if (n) {
		w = 0;
		memcpy(&w, p, n);
		h = (h ^ w) * 0xff51afd7ed558ccdu;
	}
	h ^= h >> 29;
	h *= 0xc4ceb9fe1a85ec53u;
	return (uint32_t)(h ^ h >> 32);
}

static void
rehash(struct store *s)
{
	size_t i, j, cap = s->hcap ? s->hcap * 2 : 64;

	free(s->htab);
	s->htab = xcalloc(cap, sizeof *s->htab);
	s->hcap = cap;
	for (i = 0; i < s->nsess; i++) {
		j = hashstr(s->sess[i].key, s->sess[i].klen) & (cap - 1);
		while (s->htab[j])
			j = (j + 1) & (cap - 1);
		s->htab[j] = (uint32_t)(i + 1);
	}
}

static int
sess_is(const struct session *se, const char *key, size_t n)
{
	return se->klen == n && memcmp(se->key, key, n) == 0;
}

/* The session called key[0..n) (no NUL in it); with create, made if
 * missing.  The pointer is valid until the next create. */
static struct session *
sess_find(struct store *s, const char *key, size_t n, int create)
{
	size_t j;
	struct session *se;

	/* Records of one session tend to come in runs. */
	if (s->last < s->nsess && sess_is(&s->sess[s->last], key, n))
		return &s->sess[s->last];
	if (s->hcap) {
		j = hashstr(key, n) & (s->hcap - 1);
		for (; s->htab[j]; j = (j + 1) & (s->hcap - 1))
			if (sess_is(&s->sess[s->htab[j] - 1], key, n)) {
				s->last = s->htab[j] - 1;
				return &s->sess[s->last];
			}
	}
	if (!create)
		return NULL;
	if (s->nsess == s->csess) {
		s->csess = s->csess ? s->csess * 2 : 16;
		s->sess = xreallocarray(s->sess, s->csess, sizeof *s->sess);
	}
	key = keepn(s, key, n);
	se = &s->sess[s->nsess++];
	memset(se, 0, sizeof *se);
	se->key = key;
	se->klen = n;
	if (s->nsess * 2 > s->hcap) {
		rehash(s);
	} else {
		j = hashstr(key, n) & (s->hcap - 1);
		while (s->htab[j])
			j = (j + 1) & (s->hcap - 1);
		s->htab[j] = (uint32_t)s->nsess;
	}
	return se;
}

static struct session *
sess_get(struct store *s, const char *key, int create)
{
	return sess_find(s, key, strlen(key), create);
}

static void
sess_clear(struct session *se)
{
	const char *key = se->key;
	size_t klen = se->klen;

	free(se->ent);
	free(se->br);
	free(se->env);
	free(se->pend);
	free(se->hist);
	memset(se, 0, sizeof *se);
	se->key = key;
	se->klen = klen;
}

static int
sess_empty(const struct session *se)
{
	return !se->nent && !se->nbr && !se->nenv && !se->npend &&
	    se->nhist == se->hoff;
}

static void
reset_state(struct store *s)
{
	size_t i;

	for (i = 0; i < s->nsess; i++)
		sess_clear(&s->sess[i]);
	free(s->sess);
	free(s->htab);
	s->sess = NULL;
	s->htab = NULL;
	s->nsess = s->csess = s->hcap = 0;
	s->off = 0;
	s->lineno = s->nrec = s->nbad = 0;
	s->maxid = 0;
}

static struct brn *
br_find(struct session *se, const char *name)
{
	size_t i;

	for (i = 0; i < se->nbr; i++)
		if (se->br[i].name[0] == name[0] &&
		    strcmp(se->br[i].name, name) == 0)
			return &se->br[i];
	return NULL;
}

static const struct store_entry *
sess_tip(struct session *se)
{
	struct brn *b;

	if (!se || !se->active || !(b = br_find(se, se->active)))
		return NULL;
	return b->tip;
}

static const struct store_entry *
ent_find(const struct session *se, long long id)
{
	size_t lo = 0, hi = se->nent, mid;

	if (hi && se->ent[hi - 1]->id == id)
		return se->ent[hi - 1];
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (se->ent[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < se->nent && se->ent[lo]->id == id ? se->ent[lo] : NULL;
}

static struct brn *
br_set(struct store *s, struct session *se, const char *name,
    const struct store_entry *e)
{
	struct brn *b = br_find(se, name);

	if (!b) {
		if (se->nbr == se->cbr) {
			se->cbr = se->cbr ? se->cbr * 2 : 4;
			se->br = xreallocarray(se->br, se->cbr, sizeof *se->br);
		}
		b = &se->br[se->nbr++];
		b->name = keep(s, name);
	}
	b->tip = e;
	return b;
}

static void
br_del(struct session *se, const char *name)
{
	struct brn *b = br_find(se, name);

	if (b) {
		*b = se->br[se->nbr - 1];
		se->nbr--;
	}
}

static void
touch(struct store *s, struct session *se, long long t)
{
	se->updated = t;
	se->seq = s->seq;
}

/* ---- validation (every field of every record, before it is used) ---- */

#define NAMEMAX 1024            /* session key, branch, variable name */
#define TOKMAX 64               /* operation id, staged file id */
#define PATHMAX 4096            /* staged file destination */
#define TEXTMAX (4 << 20)       /* title, variable value, history line */
#define FILESMAX 65536          /* staged files of one entry */
#define IDMAX 999999999999999LL
#define TIMEMAX 253402300799LL  /* 9999-12-31T23:59:59Z */
#define UGMAX 4294967295LL

/* Strict decimal: 1..18 digits. */
static int
num(const char *p, long long *v)
{
	unsigned long long n = 0;       /* may wrap; then refused below */
	const char *q;

	for (q = p; (unsigned)(*q - '0') <= 9; q++)
		n = n * 10 + (unsigned)(*q - '0');
	if (*q || q == p || q - p > 18)
		return -1;
	*v = (long long)n;
	return 0;
}

/* 1 if p is a decimal in [min, max]; *v gets it. */
static int
inrange(const char *p, long long min, long long max, long long *v)
{
	return num(p, v) == 0 && *v >= min && *v <= max;
}

static int
octal(const char *p, unsigned *v)
{
	unsigned n = 0;
	int i;

	for (i = 0; p[i]; i++) {
		if (p[i] < '0' || p[i] > '7' || i == 6)
			return -1;
		n = n * 8 + (unsigned)(p[i] - '0');
	}
	if (i == 0 || n > 07777)
		return -1;
	*v = n;
	return 0;
}

/* Canonical lowercase UUID: 8-4-4-4-12 hex digits.  Branch-free (replay
 * checks one per entry): hex digits weigh 0, '-' 1, anything else 64,
 * so a weight of 4 with the four dashes in place is a UUID. */
static int
uuid_ok(const char *p, size_t n)
{
	static unsigned char w[256];
	const unsigned char *u = (const unsigned char *)p;
	unsigned sum = 0;
	size_t i;

	if (!w['-']) {
		memset(w, 64, sizeof w);
		memset(&w['0'], 0, 10);
		memset(&w['a'], 0, 6);
		w['-'] = 1;
	}
	if (n != 36 || p[8] != '-' || p[13] != '-' || p[18] != '-' ||
	    p[23] != '-')
		return 0;
	for (i = 0; i < 36; i++)
		sum += w[u[i]];
	return sum == 4;
}

#define NAME_OK(n) ((n) > 0 && (n) <= NAMEMAX)

static const char *
kind_of(const char *k)
{
	size_t i;

	for (i = 0; i < LEN(kinds); i++)
		if (k[0] == kinds[i][0] && strcmp(k, kinds[i]) == 0)
			return kinds[i];
	return NULL;
}

/* Unescapes the string p, n bytes up to its final NUL, in place;
 * returns the new n, -1 if bad. */
static long
unescape(char *p, size_t n)
{
	char *w, *start = p;

	if (!(p = strchr(p, '\\')))
		return (long)n;
	for (w = p; *p; p++) {
		if (*p != '\\') {
			*w++ = *p;
			continue;
		}
		switch (*++p) {
		case '\\': *w++ = '\\'; break;
		case 't': *w++ = '\t'; break;
		case 'n': *w++ = '\n'; break;
		default: return -1;
		}
	}
	*w = '\0';
	return (long)(w - start);
}

/* ---- replay: one handler per record type ----
 *
 * A handler gets the unescaped fields f[0..nf) (f[0] is the type) and
 * their lengths.  It checks every field and every reference against the
 * state first and returns why the record is bad, or NULL; with dry set
 * it stops there (writers check a record before writing it), else it
 * applies the record. */

typedef const char *handler(struct store *, char **, const size_t *, size_t,
    int);

/* The session of a record's key field, which must be sane. */
static const char *
keyed(struct store *s, const char *key, size_t n, struct session **se)
{
	if (!NAME_OK(n))
		return "bad session key";
	*se = sess_find(s, key, n, 0);
	return NULL;
}

/* Checks the staged-file groups of an entry record. */
static const char *
check_files(char **g, const size_t *gl, size_t nfiles)
{
	long long v;
	unsigned mode;
	size_t i;

	for (i = 0; i < nfiles; i++, g += 5, gl += 5)
		if (gl[0] == 0 || gl[0] > PATHMAX || gl[1] == 0 ||
		    gl[1] > TOKMAX || !inrange(g[2], 0, UGMAX, &v) ||
		    !inrange(g[3], 0, UGMAX, &v) || octal(g[4], &mode) < 0)
			return "bad staged file";
	return NULL;
}

static struct store_file *
keep_files(struct store *s, char **g, const size_t *gl, size_t nfiles)
{
	struct store_file *files;
	size_t i;

	if (!nfiles)
		return NULL;
	files = aalloc(s, nfiles * sizeof *files, 8);
	for (i = 0; i < nfiles; i++, g += 5, gl += 5) {
		files[i].path = keepn(s, g[0], gl[0]);
		files[i].uuid = keepn(s, g[1], gl[1]);
		num(g[2], &files[i].uid);
		num(g[3], &files[i].gid);
		octal(g[4], &files[i].mode);
	}
	return files;
}

/* Adds entry e (fields f as h_entry checked them) to session se. */
static void
add_entry(struct store *s, struct session *se, struct store_entry *e,
    char **f, const size_t *fl)
{
	char *sp = (char *)(e + 1);

	e->key = se->key;
	if (!e->image)
		e->image = put(&sp, f[7], fl[7]);
	e->op = put(&sp, f[8], fl[8]);
	e->title = put(&sp, f[9], fl[9]);
	if (se->nent == se->cent) {
		se->cent = se->cent ? se->cent * 2 : 8;
		se->ent = xreallocarray(se->ent, se->cent, sizeof *se->ent);
	}
	se->ent[se->nent++] = e;
	if (*f[5]) {
		struct brn *b = br_set(s, se, f[5], e);

		if (!se->active)
			se->active = b->name;
	}
	if (e->id > s->maxid)
		s->maxid = e->id;
	touch(s, se, e->created);
}

/* entry ID KEY PARENT TIME BRANCH KIND IMAGE OP TITLE [files] */
static const char *
h_entry(struct store *s, char **f, const size_t *fl, size_t nf, int dry)
{
	long long id, parent, t;
	const struct store_entry *up = NULL;
	const char *kind, *why, *image;
	struct store_entry *e;
	struct session *se;
	size_t nfiles = (nf - 10) / 5;

	if (nf < 10 || (nf - 10) % 5 || nfiles > FILESMAX)
		return "wrong number of fields";
	if (!inrange(f[1], 1, IDMAX, &id) ||
	    !inrange(f[3], 0, id - 1, &parent) ||
	    !inrange(f[4], 0, TIMEMAX, &t))
		return "bad number";
	if ((why = keyed(s, f[2], fl[2], &se)))
		return why;
	if (fl[5] > NAMEMAX)
		return "bad branch name";
	if (!(kind = kind_of(f[6])))
		return "unknown entry kind";
	if (!uuid_ok(f[7], fl[7]))
		return "image is not a UUID";
	if (fl[8] > TOKMAX || fl[9] > TEXTMAX)
		return "operation id or title too long";
	if ((why = check_files(f + 10, fl + 10, nfiles)))
		return why;
	if (se && se->nent && se->ent[se->nent - 1]->id >= id)
		return "entry id not increasing";
	if (parent && (!se || !(up = ent_find(se, parent))))
		return "parent not in session";
	if (dry)
		return NULL;
	if (!se)
		se = sess_find(s, f[2], fl[2], 1);
	/* One allocation: the entry, then its strings.  Entries that keep
	 * their parent's image share the string. */
	image = up && memcmp(up->image, f[7], 37) == 0 ? up->image : NULL;
	e = aalloc(s, sizeof *e + (image ? 0 : 37) + fl[8] + 1 + fl[9] + 1,
	    8);
	e->image = image;
	e->id = id;
	e->parent = parent;
	e->up = up;
	e->kind = kind;
	e->created = t;
	e->files = keep_files(s, f + 10, fl + 10, nfiles);
	e->nfiles = (int)nfiles;
	add_entry(s, se, e, f, fl);
	return NULL;
}

/* maxid ID */
static const char *
h_maxid(struct store *s, char **f, const size_t *fl, size_t nf, int dry)
{
	long long id;

	(void)fl;
	if (nf != 2 || !inrange(f[1], 0, IDMAX, &id))
		return "bad fields";
	if (!dry && id > s->maxid)
		s->maxid = id;
	return NULL;
}

/* branch KEY NAME ID, reset KEY NAME ID TIME */
static const char *
h_branch(struct store *s, char **f, const size_t *fl, size_t nf, int dry)
{
	int reset = f[0][0] == 'r';
	const struct store_entry *e;
	struct session *se;
	long long id, tm = 0;
	const char *why;

	if (nf != 4u + reset || !inrange(f[3], 1, IDMAX, &id) ||
	    (reset && !inrange(f[4], 0, TIMEMAX, &tm)))
		return "bad fields";
	if ((why = keyed(s, f[1], fl[1], &se)))
		return why;
	if (!NAME_OK(fl[2]))
		return "bad branch name";
	if (!se || !(e = ent_find(se, id)))
		return "branch target not in session";
	if (reset && (!se->active || strcmp(se->active, f[2])))
		return "not the active branch";
	if (dry)
		return NULL;
	br_set(s, se, f[2], e);
	if (reset)
		touch(s, se, tm);
	return NULL;
}

/* unbranch KEY TIME NAME... */
static const char *
h_unbranch(struct store *s, char **f, const size_t *fl, size_t nf, int dry)
{
	struct session *se;
	const char *why;
	long long tm;
	size_t i;

	if (nf < 4 || !inrange(f[2], 0, TIMEMAX, &tm))
		return "bad fields";
	if ((why = keyed(s, f[1], fl[1], &se)))
		return why;
	for (i = 3; i < nf; i++)
		if (!se || !se->active || !br_find(se, f[i]) ||
		    strcmp(f[i], se->active) == 0)
			return "cannot delete branch";
	if (dry)
		return NULL;
	for (i = 3; i < nf; i++)
		br_del(se, f[i]);
	touch(s, se, tm);
	return NULL;
}

/* checkout KEY NAME TIME */
static const char *
h_checkout(struct store *s, char **f, const size_t *fl, size_t nf, int dry)
{
	struct session *se;
	struct brn *b;
	const char *why;
	long long tm;

	if (nf != 4 || !inrange(f[3], 0, TIMEMAX, &tm))
		return "bad fields";
	if ((why = keyed(s, f[1], fl[1], &se)))
		return why;
	if (!se || !(b = br_find(se, f[2])))
		return "no such branch";
	if (dry)
		return NULL;
	se->active = b->name;
	touch(s, se, tm);
	return NULL;
}

/* env KEY NAME VALUE [NAME VALUE]... */
static const char *
h_env(struct store *s, char **f, const size_t *fl, size_t nf, int dry)
{
	struct session *se;
	const char *why;
	size_t i, j;

	if (nf < 4 || nf % 2)
		return "bad fields";
	if ((why = keyed(s, f[1], fl[1], &se)))
		return why;
	for (i = 2; i < nf; i += 2)
		if (!NAME_OK(fl[i]) || strchr(f[i], '=') ||
		    fl[i + 1] > TEXTMAX)
			return "bad variable";
	if (dry)
		return NULL;
	if (!se)
		se = sess_find(s, f[1], fl[1], 1);
	for (i = 2; i < nf; i += 2) {
		for (j = 0; j < se->nenv; j++)
			if (strcmp(se->env[j].name, f[i]) == 0)
				break;
		if (j == se->nenv) {
			if (se->nenv == se->cenv) {
				se->cenv = se->cenv ? se->cenv * 2 : 8;
				se->env = xreallocarray(se->env, se->cenv,
				    sizeof *se->env);
			}
			se->nenv++;
			se->env[j].name = keepn(s, f[i], fl[i]);
		}
		se->env[j].value = keepn(s, f[i + 1], fl[i + 1]);
	}
	return NULL;
}

/* unenv KEY NAME... */
static const char *
h_unenv(struct store *s, char **f, const size_t *fl, size_t nf, int dry)
{
	struct session *se;
	const char *why;
	size_t i, j;

	if (nf < 3)
		return "bad fields";
	if ((why = keyed(s, f[1], fl[1], &se)))
		return why;
	for (i = 2; i < nf; i++)
		if (fl[i] > NAMEMAX)
			return "bad variable";
	for (i = 2; !dry && se && i < nf; i++)
		for (j = 0; j < se->nenv; j++)
			if (strcmp(se->env[j].name, f[i]) == 0) {
				se->env[j] = se->env[--se->nenv];
				break;
			}
	return NULL;
}

/* pending KEY OP DISPOSABLE BRANCH TITLE */
static const char *
h_pending(struct store *s, char **f, const size_t *fl, size_t nf, int dry)
{
	struct session *se;
	const char *why;
	size_t j;

	if (nf != 6 || fl[2] == 0 || fl[2] > TOKMAX ||
	    (strcmp(f[3], "0") && strcmp(f[3], "1")) || fl[4] > NAMEMAX ||
	    fl[5] > TEXTMAX)
		return "bad fields";
	if ((why = keyed(s, f[1], fl[1], &se)) || dry)
		return why;
	if (!se)
		se = sess_find(s, f[1], fl[1], 1);
	for (j = 0; j < se->npend; j++)
		if (strcmp(se->pend[j].op, f[2]) == 0)
			break;
	if (j == se->npend) {
		if (se->npend == se->cpend) {
			se->cpend = se->cpend ? se->cpend * 2 : 4;
			se->pend = xreallocarray(se->pend, se->cpend,
			    sizeof *se->pend);
		}
		se->npend++;
	}
	se->pend[j].op = keepn(s, f[2], fl[2]);
	se->pend[j].disp = f[3][0] == '1';
	se->pend[j].branch = keepn(s, f[4], fl[4]);
	se->pend[j].title = keepn(s, f[5], fl[5]);
	return NULL;
}

/* done KEY OP */
static const char *
h_done(struct store *s, char **f, const size_t *fl, size_t nf, int dry)
{
	struct session *se;
	const char *why;
	size_t j;

	if (nf != 3 || fl[2] > TOKMAX)
		return "bad fields";
	if ((why = keyed(s, f[1], fl[1], &se)) || dry)
		return why;
	for (j = 0; se && j < se->npend; j++)
		if (strcmp(se->pend[j].op, f[2]) == 0) {
			memmove(se->pend + j, se->pend + j + 1,
			    (se->npend - j - 1) * sizeof *se->pend);
			se->npend--;
			break;
		}
	return NULL;
}

static void
hist_push(struct store *s, struct session *se, const char *p, size_t n)
{
	if (se->nhist == se->chist) {
		/* Drop dead lines before growing. */
		if (se->hoff >= STORE_HIST_MAX) {
			memmove(se->hist, se->hist + se->hoff,
			    (se->nhist - se->hoff) * sizeof *se->hist);
			se->nhist -= se->hoff;
			se->hoff = 0;
		} else {
			se->chist = se->chist ? se->chist * 2 : 64;
			se->hist = xreallocarray(se->hist, se->chist,
			    sizeof *se->hist);
		}
	}
	se->hist[se->nhist++] = keepn(s, p, n);
	if (se->nhist - se->hoff > STORE_HIST_MAX)
		se->hoff++;
}

/* hist KEY LINE... */
static const char *
h_hist(struct store *s, char **f, const size_t *fl, size_t nf, int dry)
{
	struct session *se;
	const char *why;
	size_t i;

	if (nf < 3)
		return "bad fields";
	if ((why = keyed(s, f[1], fl[1], &se)))
		return why;
	for (i = 2; i < nf; i++)
		if (fl[i] > TEXTMAX)
			return "history line too long";
	if (dry)
		return NULL;
	if (!se)
		se = sess_find(s, f[1], fl[1], 1);
	for (i = 2; i < nf; i++)
		hist_push(s, se, f[i], fl[i]);
	return NULL;
}

/* delete KEY */
static const char *
h_delete(struct store *s, char **f, const size_t *fl, size_t nf, int dry)
{
	struct session *se;
	const char *why;

	if (nf != 2)
		return "bad fields";
	if ((why = keyed(s, f[1], fl[1], &se)) || dry)
		return why;
	if (se)
		sess_clear(se);
	return NULL;
}

/* Record types, as the first field of a line. */
static const struct {
	const char *name;
	handler *fn;
} rtypes[] = {
	{ "entry", h_entry }, { "maxid", h_maxid }, { "branch", h_branch },
	{ "reset", h_branch }, { "unbranch", h_unbranch },
	{ "checkout", h_checkout }, { "env", h_env }, { "unenv", h_unenv },
	{ "pending", h_pending }, { "done", h_done }, { "hist", h_hist },
	{ "delete", h_delete }
};

static handler *
handler_of(const char *p)
{
	size_t i;

	for (i = 0; i < LEN(rtypes); i++)
		if (p[0] == rtypes[i].name[0] && strcmp(p, rtypes[i].name) == 0)
			return rtypes[i].fn;
	return NULL;
}

/* Cuts l[0..len) (checksum removed) into s->f/s->fl at the TABs and
 * unescapes the fields; returns the number of fields, or -1 (*why set)
 * if a field holds a NUL byte or a bad escape. */
static long
split(struct store *s, char *l, size_t len, const char **why)
{
	char *end = l + len, *q = l, *t;
	size_t nf = 0, i;
	long n;

	if (memchr(l, '\0', len)) {
		*why = "NUL byte";
		return -1;
	}
	for (;;) {
		if (nf == s->cf) {
			s->cf = s->cf ? s->cf * 2 : 32;
			s->f = xreallocarray(s->f, s->cf, sizeof *s->f);
			s->fl = xreallocarray(s->fl, s->cf, sizeof *s->fl);
		}
		s->f[nf] = q;
		if (!(t = memchr(q, '\t', (size_t)(end - q))))
			break;
		*t = '\0';
		s->fl[nf++] = (size_t)(t - q);
		q = t + 1;
	}
	*end = '\0';
	s->fl[nf++] = (size_t)(end - q);
	if (memchr(l, '\\', len))
		for (i = 0; i < nf; i++) {
			if ((n = unescape(s->f[i], s->fl[i])) < 0) {
				*why = "bad escape";
				return -1;
			}
			s->fl[i] = (size_t)n;
		}
	return (long)nf;
}

/* Checks the record l[0..len) (checksum removed; rewritten in place)
 * and, unless dry, applies it.  NULL, or why it is bad. */
static const char *
apply_line(struct store *s, char *l, size_t len, int dry)
{
	const char *why = NULL;
	handler *fn;
	long nf;

	if ((nf = split(s, l, len, &why)) < 0)
		return why;
	if (!(fn = handler_of(s->f[0])))
		return "unknown record type";
	if (!dry)
		s->seq++;
	return fn(s, s->f, s->fl, (size_t)nf, dry);
}

static int
crc_ok(const char *l, size_t len)
{
	const char *h;
	uint32_t want = 0;
	unsigned d;
	int i;

	if (len < CRCLEN + 2 || l[len - CRCLEN - 1] != '\t')
		return 0;
	h = l + len - CRCLEN;
	for (i = 0; i < CRCLEN; i++) {         /* lowercase hex only */
		if ((d = (unsigned)(h[i] - '0')) > 9 &&
		    (d = (unsigned)(h[i] - 'a') + 10) - 10 > 5)
			return 0;
		want = want << 4 | d;
	}
	return store_crc32(0, l, len - CRCLEN - 1) == want;
}

/* The format line p[0..len) (CR stripped); 0 or -1 (error slot set). */
static int
check_header(struct store *s, const char *p, size_t len)
{
	if (len == sizeof HEADER - 1 && memcmp(p, HEADER, len) == 0)
		return 0;
	if (len > 12 && memcmp(p, "contree-log ", 12) == 0)
		seterr("%s: unsupported session log version '%.*s'", s->path,
		    (int)(len > 40 ? 40 : len), p);
	else
		seterr("%s: not a contree session log (first line is not '"
		    HEADER "')", s->path);
	return -1;
}

/* Replays the complete line l[0..len) (LF excluded, a CR before it
 * stripped); last: it ends the file.  A bad record is skipped with one
 * warning and counted in s->nbad (the next writer rewrites the file
 * without it); 1 if it is instead a torn write (the last line, with a
 * bad checksum), else 0. */
static int
replay_line(struct store *s, char *l, size_t len, int last)
{
	const char *why = "bad checksum";

	if (len && l[len - 1] == '\r')
		len--;
	if (crc_ok(l, len)) {
		if (!(why = apply_line(s, l, len - CRCLEN - 1, 0)))
			return 0;
	} else if (last) {
		return 1;
	}
	logmsg(LOG_WARNING, "%s:%lld: skipping a corrupt record (%s); the "
	    "next change rewrites the log without it", s->path,
	    s->lineno + 1, why);
	s->nbad++;
	return 0;
}

static void
warn_torn(struct store *s)
{
	if (s->tornwarned)
		return;
	s->tornwarned = 1;
	logmsg(LOG_WARNING, "%s:%lld: ignoring an incomplete last record (an "
	    "interrupted write); the next change removes it", s->path,
	    s->lineno + 1);
}

/* Replay the complete lines of p[0..n), which holds the file from
 * offset s->off on; end is the file's size.  Lines are rewritten in place
 * (fields cut and unescaped); what the state keeps is copied.  Advances
 * s->off over the lines and returns how many bytes of p it used.
 * *torn: the rest of the file, from there on, is a torn write.  -1 (error
 * slot set) on a foreign format line. */
static long long
replay(struct store *s, char *p, size_t n, off_t end, int *torn)
{
	size_t pos = 0, len;
	char *l, *nl;

	*torn = 0;
	if (s->off == 0 && n) {
		nl = memchr(p, '\n', n);
		len = nl ? (size_t)(nl - p) : n;
		if (!nl && (off_t)n < end)
			return 0;               /* need more */
		if (!nl && len < sizeof HEADER &&
		    memcmp(p, HEADER "\n", len) == 0) {
			*torn = 1;      /* died while creating the file */
			return 0;
		}
		if (check_header(s, p, len && p[len - 1] == '\r' ? len - 1 :
		    len) < 0)
			return -1;
		pos = len + 1;
		s->off = (off_t)pos;
		s->lineno = 1;
	}
	while (pos < n) {
		l = p + pos;
		if (!(nl = memchr(l, '\n', n - pos))) {
			if (s->off + (off_t)(n - pos) >= end) {
				*torn = 1;
				warn_torn(s);
			}
			return (long long)pos;
		}
		len = (size_t)(nl - l);
		if (replay_line(s, l, len, s->off + (off_t)(len + 1) >= end)) {
			*torn = 1;
			warn_torn(s);
			return (long long)pos;
		}
		s->lineno++;
		s->nrec++;
		pos += len + 1;
		s->off += (off_t)(len + 1);
	}
	return (long long)pos;
}

/* ---- file, lock ---- */

static int
openfd(struct store *s)
{
	struct stat st;

	s->rdonly = 0;
	s->fd = open(s->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (s->fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM)) {
		int e = errno;

		s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
		if (s->fd < 0)
			errno = e;
		else
			s->rdonly = 1;
	}
	if (s->fd < 0) {
		seterr("%s:", s->path);
		return -1;
	}
	if (fstat(s->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (errno = EINVAL, fstat(s->fd, &st) < 0)
			seterr("%s:", s->path);
		else
			seterr("%s: not a regular file", s->path);
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return 0;
}

static int
setlock(int fd, short type, int wait)
{
	struct flock fl;

	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	return fcntl(fd, wait ? F_SETLKW : F_SETLK, &fl);
}

static void
unlock(struct store *s)
{
	setlock(s->fd, F_UNLCK, 0);
}

/* Lock the file, waiting at most the timeout; if the path no longer
 * names our file (compacted, removed), reopen it and start over with an
 * empty state. */
static int
lockfile(struct store *s, short type)
{
	int64_t deadline = now_ms() + s->timeout_ms, nap = 1;
	struct stat st;

	for (;;) {
		if (setlock(s->fd, type, 0) < 0) {
			if (errno != EACCES && errno != EAGAIN &&
			    errno != EINTR) {
				seterr("%s: cannot lock:", s->path);
				return -1;
			}
			if (now_ms() >= deadline) {
				seterr("%s: timed out after %lld ms waiting "
				    "for the lock held by another contree "
				    "(CONTREE_DB_TIMEOUT)", s->path,
				    (long long)s->timeout_ms);
				return -1;
			}
			if (sleep_ms(nap) < 0) {
				seterr("%s: interrupted while waiting for "
				    "the lock", s->path);
				return -1;
			}
			if (nap < 16)
				nap *= 2;
			continue;
		}
		if (stat(s->path, &st) == 0 && st.st_dev == s->dev &&
		    st.st_ino == s->ino)
			return 0;
		unlock(s);
		close(s->fd);
		reset_state(s);
		if (openfd(s) < 0)
			return -1;
		if (type == F_WRLCK && s->rdonly) {
			seterr("%s: read-only (no write permission)", s->path);
			return -1;
		}
	}
}

/* Under a lock: replay what was appended since s->off, reading through
 * a buffer that grows only for a line longer than it.  *torn as for
 * replay().  Starts over if the file shrank below what we read. */
static int
catchup(struct store *s, int *torn)
{
	struct stat st;
	char *b = NULL;
	size_t cap, have = 0;
	off_t rd, end;
	ssize_t r;
	long long k;
	int rc = 0;

	for (;;) {
		if (fstat(s->fd, &st) < 0) {
			seterr("%s:", s->path);
			return -1;
		}
		if (st.st_size >= s->off)
			break;
		reset_state(s);
	}
	*torn = 0;
	end = st.st_size;
	if (end == s->off)
		return 0;
	cap = end - s->off < READBUF ? (size_t)(end - s->off) + 1 : READBUF;
	b = xmalloc(cap);
	for (rd = s->off; !*torn && s->off < end;) {
		if (have == cap)
			b = xreallocarray(b, cap *= 2, 1);
		r = pread(s->fd, b + have, cap - have, rd);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			seterr("%s: read:", s->path);
			rc = -1;
			break;
		}
		if (r == 0)
			end = rd;       /* shorter than it was: ends here */
		have += (size_t)r;
		rd += r;
		if ((k = replay(s, b, have, end, torn)) < 0) {
			rc = -1;
			break;
		}
		have -= (size_t)k;
		memmove(b, b + k, have);
	}
	free(b);
	return rc;
}

/* ---- writing ---- */

static size_t
rec_begin(struct buf *b, const char *type)
{
	size_t start = b->len;

	buf_puts(b, type);
	return start;
}

static void
rec_str(struct buf *b, const char *p)
{
	const char *q;

	buf_addc(b, '\t');
	for (;;) {
		for (q = p; *q && *q != '\\' && *q != '\t' && *q != '\n'; q++)
			;
		buf_add(b, p, (size_t)(q - p));
		if (!*q)
			return;
		buf_addc(b, '\\');
		buf_addc(b, *q == '\t' ? 't' : *q == '\n' ? 'n' : '\\');
		p = q + 1;
	}
}

static void
rec_num(struct buf *b, long long v)
{
	char d[24], *p = d + sizeof d;
	unsigned long long u = v < 0 ? 0 - (unsigned long long)v :
	    (unsigned long long)v;

	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	*--p = '\t';
	buf_add(b, p, (size_t)(d + sizeof d - p));
}

static void
rec_end(struct buf *b, size_t start)
{
	buf_printf(b, "\t%08x\n", (unsigned)store_crc32(0, b->p + start,
	    b->len - start));
}

/* Write s->rec (one record, ended) with one write and replay it. */
static int
emit(struct store *s)
{
	size_t len = s->rec.len;
	char *l = s->rec.p;
	const char *why;

	buf_reset(&s->scratch);
	buf_add(&s->scratch, l, len);
	if ((why = apply_line(s, s->scratch.p, len - CRCLEN - 2, 1))) {
		seterr("%s: refusing to write an invalid record (%s)", s->path,
		    why);
		return -1;
	}
	if (writeall(s->fd, l, len) < 0) {
		int e = errno;

		if (ftruncate(s->fd, s->off) < 0)
			logmsg(LOG_WARNING, "%s: cannot undo a short write:",
			    s->path);
		errno = e;
		seterr("%s: write:", s->path);
		return -1;
	}
	s->dirty = 1;
	if ((why = apply_line(s, l, len - CRCLEN - 2, 0))) {
		seterr("%s: internal error: wrote a bad record (%s)", s->path,
		    why);
		return -1;
	}
	s->lineno++;
	s->nrec++;
	s->off += (off_t)len;
	return 0;
}

static int
write_header(struct store *s)
{
	static const char h[] = HEADER "\n";

	if (writeall(s->fd, h, sizeof h - 1) < 0) {
		seterr("%s: write:", s->path);
		if (ftruncate(s->fd, 0) < 0)
			logmsg(LOG_WARNING, "%s: truncate:", s->path);
		return -1;
	}
	s->dirty = 1;
	s->off = sizeof h - 1;
	s->lineno = 1;
	return 0;
}

static int compact_locked(struct store *s);

/* Under the write lock: rewrite a log in which replay skipped corrupt
 * records without them.  A failure leaves the log as it was. */
static void
repair(struct store *s)
{
	long long n = s->nbad;

	if (compact_locked(s) < 0)
		logmsg(LOG_WARNING, "%s", geterr());
	else
		logmsg(LOG_WARNING, "%s: rewrote the log without %lld corrupt "
		    "record%s", s->path, n, n == 1 ? "" : "s");
}

int
store_begin(struct store *s)
{
	int torn;

	if (s->locked) {
		s->locked++;
		return 0;
	}
	if (s->rdonly) {
		seterr("%s: read-only (no write permission)", s->path);
		return -1;
	}
	if (lockfile(s, F_WRLCK) < 0)
		return -1;
	if (catchup(s, &torn) < 0)
		goto fail;
	if (torn && ftruncate(s->fd, s->off) < 0) {
		seterr("%s: cannot cut off a torn record:", s->path);
		goto fail;
	}
	if (s->off == 0 && write_header(s) < 0)
		goto fail;
	if (s->nbad)
		repair(s);
	s->locked = 1;
	return 0;
fail:
	unlock(s);
	return -1;
}

/* Records that compaction would write. */
static long long
live_records(struct store *s)
{
	long long n = 1;
	size_t i;
	const struct session *se;

	for (i = 0; i < s->nsess; i++) {
		se = &s->sess[i];
		n += (long long)(se->nent + se->nbr + se->npend) +
		    !!se->active + !!se->nenv + (se->nhist > se->hoff);
	}
	return n;
}

int
store_commit(struct store *s)
{
	int rc = 0;

	if (!s->locked || --s->locked)
		return 0;
	if (s->dirty) {
		if (fsync(s->fd) < 0) {
			seterr("%s: fsync:", s->path);
			rc = -1;
		}
		s->dirty = 0;
	}
	if (rc == 0 && s->nrec >= COMPACT_MIN &&
	    s->nrec > 2 * live_records(s) && compact_locked(s) < 0)
		logmsg(LOG_WARNING, "%s", geterr());
	unlock(s);
	return rc;
}

/* End of a one-shot mutation: keeps rc's error message. */
static int
finish(struct store *s, int rc)
{
	if (store_commit(s) < 0)
		return -1;
	return rc;
}

/* ---- dump and compaction ---- */

static int
cmp_sess(const void *a, const void *b)
{
	const struct session *x = *(struct session *const *)a;
	const struct session *y = *(struct session *const *)b;

	if (x->updated != y->updated)
		return x->updated < y->updated ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return strcmp(x->key, y->key);      /* sessions without history */
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
cmp_br(const void *a, const void *b)
{
	return strcmp(((const struct store_branch *)a)->name,
	    ((const struct store_branch *)b)->name);
}

static int
cmp_kv(const void *a, const void *b)
{
	return strcmp(((const struct store_kv *)a)->name,
	    ((const struct store_kv *)b)->name);
}

/* The live state as a log; returns the number of records. */
static long long
dump(struct store *s, struct buf *b)
{
	struct session **v = xreallocarray(NULL, s->nsess + 1, sizeof *v);
	struct store_branch *br;
	struct store_kv *env;
	const struct store_entry *e;
	size_t i, j, k, n = 0, nb;
	size_t st;
	long long nrec = 0;

	buf_puts(b, HEADER "\n");
	if (s->maxid) {
		st = rec_begin(b, "maxid");
		rec_num(b, s->maxid);
		rec_end(b, st);
		nrec++;
	}
	for (i = 0; i < s->nsess; i++)
		if (!sess_empty(&s->sess[i]))
			v[n++] = &s->sess[i];
	qsort(v, n, sizeof *v, cmp_sess);
	for (i = 0; i < n; i++) {
		struct session *se = v[i];

		for (j = 0; j < se->nent; j++) {
			e = se->ent[j];
			st = rec_begin(b, "entry");
			rec_num(b, e->id);
			rec_str(b, se->key);
			rec_num(b, e->parent);
			rec_num(b, e->created);
			rec_str(b, "");
			rec_str(b, e->kind);
			rec_str(b, e->image);
			rec_str(b, e->op);
			rec_str(b, e->title);
			for (k = 0; k < (size_t)e->nfiles; k++) {
				rec_str(b, e->files[k].path);
				rec_str(b, e->files[k].uuid);
				rec_num(b, e->files[k].uid);
				rec_num(b, e->files[k].gid);
				buf_printf(b, "\t%04o", e->files[k].mode);
			}
			rec_end(b, st);
		}
		nrec += (long long)se->nent;
		br = store_branches(s, se->key, &nb);
		for (j = 0; j < nb; j++) {
			st = rec_begin(b, "branch");
			rec_str(b, se->key);
			rec_str(b, br[j].name);
			rec_num(b, br[j].tip->id);
			rec_end(b, st);
		}
		nrec += (long long)nb;
		free(br);
		if (se->active) {
			st = rec_begin(b, "checkout");
			rec_str(b, se->key);
			rec_str(b, se->active);
			rec_num(b, se->updated);
			rec_end(b, st);
			nrec++;
		}
		if (se->nenv) {
			env = store_env(s, se->key, &nb);
			st = rec_begin(b, "env");
			rec_str(b, se->key);
			for (j = 0; j < nb; j++) {
				rec_str(b, env[j].name);
				rec_str(b, env[j].value);
			}
			rec_end(b, st);
			free(env);
			nrec++;
		}
		for (j = 0; j < se->npend; j++) {
			st = rec_begin(b, "pending");
			rec_str(b, se->key);
			rec_str(b, se->pend[j].op);
			rec_str(b, se->pend[j].disp ? "1" : "0");
			rec_str(b, se->pend[j].branch);
			rec_str(b, se->pend[j].title);
			rec_end(b, st);
			nrec++;
		}
		if (se->nhist > se->hoff) {
			st = rec_begin(b, "hist");
			rec_str(b, se->key);
			for (j = se->hoff; j < se->nhist; j++)
				rec_str(b, se->hist[j]);
			rec_end(b, st);
			nrec++;
		}
	}
	free(v);
	return nrec;
}

void
store_dump(struct store *s, struct buf *out)
{
	dump(s, out);
}

static void
syncdir(const char *path)
{
	char *d = xstrdup(path), *sl = strrchr(d, '/');
	int fd;

	if (sl == d)
		sl[1] = '\0';
	else if (sl)
		*sl = '\0';
	else
		strcpy(d, ".");
	if ((fd = open(d, O_RDONLY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
	free(d);
}

/* Holding the lock: write the live state to a temp file, lock it, and
 * rename it over the log.  Our state does not change; only the file. */
static int
compact_locked(struct store *s)
{
	struct buf b = {0};
	struct stat st;
	char *tmp = xasprintf("%s" TMPSUF "%ld.XXXXXX", s->path,
	    (long)getpid());
	long long nrec;
	int fd;

	nrec = dump(s, &b);
	if ((fd = mkstemp(tmp)) < 0) {
		seterr("%s: compaction:", tmp);
		goto fail;
	}
	if (fchmod(fd, 0600) < 0 || writeall(fd, b.p, b.len) < 0 ||
	    fsync(fd) < 0 || fcntl(fd, F_SETFL, O_APPEND) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || fstat(fd, &st) < 0 ||
	    setlock(fd, F_WRLCK, 0) < 0) {
		seterr("%s: compaction:", tmp);
		goto fail;
	}
	if (rename(tmp, s->path) < 0) {
		seterr("%s: compaction: rename:", s->path);
		goto fail;
	}
	syncdir(s->path);
	close(s->fd);           /* drops our lock on the old file */
	s->fd = fd;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->off = (off_t)b.len;
	s->nrec = nrec;
	s->lineno = nrec + 1;
	s->nbad = 0;
	s->dirty = 0;
	free(tmp);
	buf_free(&b);
	return 0;
fail:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	buf_free(&b);
	return -1;
}

int
store_compact(struct store *s)
{
	if (store_begin(s) < 0)
		return -1;
	return finish(s, compact_locked(s));
}

/* ---- open, close ---- */

char *
store_path(const char *home, const char *profile)
{
	const char *db = getenv("CONTREE_SESSION_DB");
	struct buf b = {0};
	const char *p;

	if (db && *db)
		return xstrdup(db);
	buf_printf(&b, "%s/cli/sessions/", home);
	for (p = profile; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		    (c == '.' && p != profile))
			buf_addc(&b, c);
		else
			buf_printf(&b, "%%%02X", c);
	}
	buf_puts(&b, ".log");
	return b.p;
}

/* The pid in name if it is base TMPSUF <pid> "." XXXXXX; else 0. */
static long
tmp_pid(const char *name, const char *base, size_t bl)
{
	const char *p = name + bl + sizeof TMPSUF - 1, *q;
	long pid = 0;

	if (strncmp(name, base, bl) || strncmp(name + bl, TMPSUF,
	    sizeof TMPSUF - 1))
		return 0;
	for (q = p; *q >= '0' && *q <= '9' && q - p < 9; q++)
		pid = pid * 10 + (*q - '0');
	return q > p && *q == '.' && strlen(q + 1) == 6 ? pid : 0;
}

/* Remove the temp files that compactions of processes which no longer
 * exist left next to the log (killed between mkstemp and rename). */
static void
sweep(const char *path)
{
	const char *sl = strrchr(path, '/'), *base = sl ? sl + 1 : path;
	char *dir = sl ? xstrndup(path, (size_t)(sl - path + 1)) :
	    xstrdup("./");
	size_t bl = strlen(base);
	struct dirent *d;
	DIR *dp;
	char *f;
	long pid;

	if (!(dp = opendir(dir))) {
		free(dir);
		return;
	}
	while ((d = readdir(dp)))
		if ((pid = tmp_pid(d->d_name, base, bl)) > 0 &&
		    kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
			f = xasprintf("%s%s", dir, d->d_name);
			if (unlink(f) == 0)
				logmsg(LOG_INFO, "%s: removed a stale temporary "
				    "file of process %ld", f, pid);
			free(f);
		}
	closedir(dp);
	free(dir);
}

static int64_t
db_timeout(void)
{
	const char *v = getenv("CONTREE_DB_TIMEOUT");
	char *end;
	double d;

	if (!v || !*v)
		return 30000;
	d = strtod(v, &end);
	if (*end || !(d >= 0) || d > 1e6)
		return 30000;
	return (int64_t)(d * 1000);
}

struct store *
store_open(const char *path)
{
	struct store *s = xcalloc(1, sizeof *s);
	char *dir = xstrdup(path), *sl = strrchr(dir, '/');
	int torn, rc;

	s->fd = -1;
	s->path = xstrdup(path);
	s->timeout_ms = db_timeout();
	if (sl && sl != dir) {
		*sl = '\0';
		if (access(dir, F_OK) < 0 && mkdirs(dir, 0700) < 0) {
			free(dir);
			goto fail;
		}
	}
	free(dir);
	if (openfd(s) < 0 || lockfile(s, F_RDLCK) < 0)
		goto fail;
	rc = catchup(s, &torn);
	unlock(s);
	if (rc < 0)
		goto fail;
	if (s->off == 0 && !s->rdonly) {
		/* New file (or one that died being created): format line. */
		if (store_begin(s) < 0 || store_commit(s) < 0)
			goto fail;
	}
	if (!s->rdonly)
		sweep(s->path);
	return s;
fail:
	store_close(s);
	return NULL;
}

const char *
store_file(const struct store *s)
{
	return s->path;
}

void
store_close(struct store *s)
{
	struct chunk *c, *next;

	if (!s)
		return;
	if (s->locked) {
		s->locked = 1;
		if (store_commit(s) < 0)
			logmsg(LOG_WARNING, "%s", geterr());
	}
	if (s->fd >= 0)
		close(s->fd);
	reset_state(s);
	for (c = s->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	free(s->f);
	free(s->fl);
	buf_free(&s->rec);
	buf_free(&s->scratch);
	free(s->path);
	free(s);
}

/* ---- queries ---- */

int
store_get(struct store *s, const char *key, struct store_session *out)
{
	struct session *se = sess_get(s, key, 0);

	if (!se || !se->nent)
		return 0;
	if (out) {
		out->key = se->key;
		out->branch = se->active;
		out->tip = sess_tip(se);
		out->updated = se->updated;
		out->nentries = se->nent;
	}
	return 1;
}

struct store_session *
store_list(struct store *s, size_t *n)
{
	struct store_session *v;
	struct session **o;
	size_t i, k = 0;

	o = xreallocarray(NULL, s->nsess + 1, sizeof *o);
	for (i = 0; i < s->nsess; i++)
		if (s->sess[i].nent)
			o[k++] = &s->sess[i];
	/* Oldest first by (updated, seq); reversed below. */
	qsort(o, k, sizeof *o, cmp_sess);
	v = xreallocarray(NULL, k + 1, sizeof *v);
	for (i = 0; i < k; i++)
		store_get(s, o[k - 1 - i]->key, &v[i]);
	free(o);
	*n = k;
	return v;
}

size_t
store_match(struct store *s, const char *name, const char ***keys)
{
	const char **v = xreallocarray(NULL, s->nsess + 1, sizeof *v);
	size_t i, k = 0, nl = strlen(name), kl;

	for (i = 0; i < s->nsess; i++) {
		const char *key = s->sess[i].key;

		kl = strlen(key);
		if (s->sess[i].nent && kl > nl &&
		    memcmp(key + kl - nl, name, nl) == 0)
			v[k++] = key;
	}
	if (!k && store_get(s, name, NULL))
		v[k++] = sess_get(s, name, 0)->key;
	qsort(v, k, sizeof *v, cmp_str);
	if (keys)
		*keys = v;
	else
		free(v);
	return k;
}

const struct store_entry *
store_tip(struct store *s, const char *key)
{
	return sess_tip(sess_get(s, key, 0));
}

const struct store_entry *
store_entry(struct store *s, const char *key, long long id)
{
	struct session *se = sess_get(s, key, 0);

	return se ? ent_find(se, id) : NULL;
}

const struct store_entry **
store_entries(struct store *s, const char *key, size_t *n)
{
	struct session *se = sess_get(s, key, 0);
	const struct store_entry **v;

	*n = se ? se->nent : 0;
	v = xreallocarray(NULL, *n + 1, sizeof *v);
	if (*n)
		memcpy(v, se->ent, *n * sizeof *v);
	return v;
}

const struct store_entry *
store_back(const struct store_entry *e, long long n, long long *have)
{
	long long i;

	for (i = 0; e && i < n; i++)
		e = e->up;
	if (have)
		*have = e ? i : i > 0 ? i - 1 : 0;
	return e;
}

const struct store_entry *
store_forward(struct store *s, const struct store_entry *e, long long n,
    long long *have)
{
	struct session *se = e ? sess_get(s, e->key, 0) : NULL;
	long long step;
	size_t i;

	for (step = 0; se && e && step < n; step++) {
		const struct store_entry *child = NULL;

		for (i = se->nent; i > 0 && se->ent[i - 1]->id > e->id; i--)
			if (se->ent[i - 1]->parent == e->id) {
				child = se->ent[i - 1];
				break;
			}
		if (!child) {
			if (have)
				*have = step;
			return NULL;
		}
		e = child;
	}
	if (have)
		*have = step;
	return se ? e : NULL;
}

/* Strict 1..18 digits after p; -1 otherwise. */
static long long
count(const char *p)
{
	long long v;

	return num(p, &v) < 0 ? -1 : v;
}

/* Move from the tip: dir -1 back, +1 forward, 0 to id n. */
static const struct store_entry *
walk(struct store *s, const char *key, int dir, long long n)
{
	const struct store_entry *tip = store_tip(s, key), *e = NULL;
	long long have = 0;

	if (!tip) {
		seterr("no session '%s'", key);
		return NULL;
	}
	if (dir < 0 && !(e = store_back(tip, n, &have)))
		seterr("cannot go back %lld steps, only %lld ancestors", n,
		    have);
	else if (dir > 0 && !(e = store_forward(s, tip, n, &have)))
		seterr("cannot go forward %lld steps, only %lld", n, have);
	else if (dir == 0 && !(e = store_entry(s, key, n)))
		seterr("entry %lld not found in this session", n);
	return e;
}

const struct store_entry *
store_target(struct store *s, const char *key, const char *t)
{
	int dir = 0;
	long long n;

	if (!t || !*t)
		t = "-1";
	if (*t == '-' || *t == '+')
		dir = *t == '-' ? -1 : 1;
	if ((n = count(t + (dir != 0))) < 0) {
		seterr("invalid rollback target '%s' (use N, -N or +N)", t);
		return NULL;
	}
	if (n == 0) {
		seterr("rollback target must not be 0");
		return NULL;
	}
	return walk(s, key, dir, n);
}

int
store_ref_entry(struct store *s, const char *key, const char *t,
    const struct store_entry **out)
{
	const struct store_entry *e;
	const char *p;
	int dir = 0;
	long long n;

	*out = NULL;
	if (t[0] == '@' || t[0] == ':')
		p = t + 1;
	else if (strncmp(t, "HEAD", 4) == 0)
		p = t + 4;
	else if (count(t) >= 0)
		p = t;
	else
		return 0;
	if (!*p) {
		dir = -1;
		n = 0;
	} else if (p != t + 1 && strcmp(p, "~") == 0) {
		dir = -1;
		n = 1;
	} else {
		if (*p == '-' || *p == '+' || (*p == '~' && p == t + 4)) {
			dir = *p == '+' ? 1 : -1;
			p++;
		}
		if ((n = count(p)) < 0)
			return 0;
	}
	if (!(e = walk(s, key, dir, n)))
		return -1;
	*out = e;
	return 1;
}

long long
store_depth(struct store *s, const char *key)
{
	const struct store_entry *e = store_tip(s, key);
	long long n = 0;

	for (; e; e = e->up)
		n++;
	return n;
}

const char *
store_cwd(struct store *s, const char *key)
{
	const struct store_entry *e = store_tip(s, key);

	for (; e; e = e->up)
		if (e->kind == kinds[K_CD])
			return *e->title ? e->title : NULL;
	return NULL;
}

struct store_file *
store_pending_files(struct store *s, const char *key, size_t *n)
{
	const struct store_entry *e = store_tip(s, key);
	struct store_file *v = NULL;
	size_t k = 0, cap = 0, j;
	int i;

	for (; e && e->kind != kinds[K_RUN]; e = e->up) {
		if (e->kind != kinds[K_FILE])
			continue;
		for (i = e->nfiles - 1; i >= 0; i--) {
			for (j = 0; j < k; j++)
				if (strcmp(v[j].path, e->files[i].path) == 0)
					break;
			if (j < k)
				continue;
			if (k == cap) {
				cap = cap ? cap * 2 : 8;
				v = xreallocarray(v, cap, sizeof *v);
			}
			v[k++] = e->files[i];
		}
	}
	*n = k;
	return v;
}

const char *
store_active(struct store *s, const char *key)
{
	struct session *se = sess_get(s, key, 0);

	return se ? se->active : NULL;
}

const struct store_entry *
store_branch_tip(struct store *s, const char *key, const char *name)
{
	struct session *se = sess_get(s, key, 0);
	struct brn *b = se ? br_find(se, name) : NULL;

	return b ? b->tip : NULL;
}

struct store_branch *
store_branches(struct store *s, const char *key, size_t *n)
{
	struct session *se = sess_get(s, key, 0);
	struct store_branch *v;
	size_t i;

	*n = se ? se->nbr : 0;
	v = xreallocarray(NULL, *n + 1, sizeof *v);
	for (i = 0; i < *n; i++) {
		v[i].name = se->br[i].name;
		v[i].tip = se->br[i].tip;
	}
	qsort(v, *n, sizeof *v, cmp_br);
	return v;
}

struct store_kv *
store_env(struct store *s, const char *key, size_t *n)
{
	struct session *se = sess_get(s, key, 0);
	struct store_kv *v;

	*n = se ? se->nenv : 0;
	v = xreallocarray(NULL, *n + 1, sizeof *v);
	if (*n)
		memcpy(v, se->env, *n * sizeof *v);
	qsort(v, *n, sizeof *v, cmp_kv);
	return v;
}

struct store_pending *
store_pending(struct store *s, const char *key, size_t *n)
{
	struct session *se = sess_get(s, key, 0);
	struct store_pending *v;
	size_t i;

	*n = se ? se->npend : 0;
	v = xreallocarray(NULL, *n + 1, sizeof *v);
	for (i = 0; i < *n; i++) {
		v[i].op = se->pend[i].op;
		v[i].title = se->pend[i].title;
		v[i].branch = se->pend[i].branch;
		v[i].disposable = se->pend[i].disp;
	}
	return v;
}

const char **
store_history(struct store *s, const char *key, size_t *n)
{
	struct session *se = sess_get(s, key, 0);
	const char **v;

	*n = se ? se->nhist - se->hoff : 0;
	v = xreallocarray(NULL, *n + 1, sizeof *v);
	if (*n)
		memcpy(v, se->hist + se->hoff, *n * sizeof *v);
	return v;
}

/* ---- mutations ---- */

static int
need_key(const char *key)
{
	if (!key || !*key) {
		seterr("empty session key");
		return -1;
	}
	return 0;
}

/* The session must exist and (with active) have an active branch,
 * which only a damaged log can lack. */
static int
need_session(struct store *s, const char *key, struct session **out,
    int active)
{
	struct session *se = sess_get(s, key, 0);

	if (!se || !se->nent) {
		seterr("no session '%s'", key);
		return -1;
	}
	if (active && !se->active) {
		seterr("session '%s' has no active branch", key);
		return -1;
	}
	*out = se;
	return 0;
}

long long
store_append(struct store *s, const char *key, const struct store_new *n,
    int *forked)
{
	const struct store_entry *tip, *parent;
	struct session *se;
	const char *kind, *branch;
	long long id;
	size_t st;
	int i;

	if (forked)
		*forked = 0;
	if (need_key(key) < 0)
		return -1;
	if (!n->kind || !(kind = kind_of(n->kind))) {
		seterr("unknown history entry kind '%s'",
		    n->kind ? n->kind : "(null)");
		return -1;
	}
	if (!n->image || !*n->image) {
		seterr("history entry without an image");
		return -1;
	}
	if (!uuid_ok(n->image, strlen(n->image))) {
		seterr("history entry image '%s' is not a UUID", n->image);
		return -1;
	}
	if (n->branch && !*n->branch) {
		seterr("empty branch name");
		return -1;
	}
	for (i = 0; i < n->nfiles; i++) {
		const struct store_file *f = &n->files[i];

		if (!f->path || !*f->path || !f->uuid || f->uid < 0 ||
		    f->gid < 0 || f->mode > 07777) {
			seterr("bad staged file");
			return -1;
		}
	}
	if (store_begin(s) < 0)
		return -1;
	se = sess_get(s, key, 0);
	tip = parent = sess_tip(se);
	if (n->from > 0) {
		const struct store_entry *from = se ? ent_find(se, n->from) :
		    NULL;

		if (from)
			parent = from;
		if (forked)
			*forked = !tip || tip->id != n->from;
	}
	branch = n->branch ? n->branch : se && se->active ? se->active :
	    "main";
	id = s->maxid + 1;
	buf_reset(&s->rec);
	st = rec_begin(&s->rec, "entry");
	rec_num(&s->rec, id);
	rec_str(&s->rec, key);
	rec_num(&s->rec, parent ? parent->id : 0);
	rec_num(&s->rec, (long long)time(NULL));
	rec_str(&s->rec, branch);
	rec_str(&s->rec, kind);
	rec_str(&s->rec, n->image);
	rec_str(&s->rec, n->op ? n->op : "");
	rec_str(&s->rec, n->title ? n->title : "");
	for (i = 0; i < n->nfiles; i++) {
		rec_str(&s->rec, n->files[i].path);
		rec_str(&s->rec, n->files[i].uuid);
		rec_num(&s->rec, n->files[i].uid);
		rec_num(&s->rec, n->files[i].gid);
		buf_printf(&s->rec, "\t%04o", n->files[i].mode);
	}
	rec_end(&s->rec, st);
	return finish(s, emit(s)) < 0 ? -1 : id;
}

int
store_branch_create(struct store *s, const char *key, const char *name,
    const char *from)
{
	struct session *se;
	struct brn *src;
	size_t st;
	int rc = -1;

	if (need_key(key) < 0)
		return -1;
	if (!name || !*name) {
		seterr("empty branch name");
		return -1;
	}
	if (store_begin(s) < 0)
		return -1;
	if (need_session(s, key, &se, 1) < 0)
		goto out;
	if (!from)
		from = se->active;
	if (br_find(se, name)) {
		seterr("branch '%s' already exists", name);
		goto out;
	}
	if (!from || !(src = br_find(se, from))) {
		seterr("branch '%s' not found", from ? from : "");
		goto out;
	}
	buf_reset(&s->rec);
	st = rec_begin(&s->rec, "branch");
	rec_str(&s->rec, key);
	rec_str(&s->rec, name);
	rec_num(&s->rec, src->tip->id);
	rec_end(&s->rec, st);
	rc = emit(s);
out:
	return finish(s, rc);
}

static void
rec_unbranch(struct store *s, const char *key, const char **names, size_t n)
{
	size_t st, i;

	buf_reset(&s->rec);
	st = rec_begin(&s->rec, "unbranch");
	rec_str(&s->rec, key);
	rec_num(&s->rec, (long long)time(NULL));
	for (i = 0; i < n; i++)
		rec_str(&s->rec, names[i]);
	rec_end(&s->rec, st);
}

int
store_branch_delete(struct store *s, const char *key, const char *name)
{
	struct session *se;
	int rc = -1;

	if (need_key(key) < 0)
		return -1;
	if (store_begin(s) < 0)
		return -1;
	if (need_session(s, key, &se, 1) < 0)
		goto out;
	if (!name || !br_find(se, name)) {
		seterr("branch '%s' not found", name ? name : "");
		goto out;
	}
	if (strcmp(name, se->active) == 0) {
		seterr("cannot delete the active branch '%s'", name);
		goto out;
	}
	rec_unbranch(s, key, &name, 1);
	rc = emit(s);
out:
	return finish(s, rc);
}

int
store_prune(struct store *s, const char *key, const char ***names,
    size_t *n)
{
	struct session *se;
	const char **v = NULL;
	size_t i, k = 0;
	int rc = 0;

	*n = 0;
	if (names)
		*names = NULL;
	if (need_key(key) < 0)
		return -1;
	if (store_begin(s) < 0)
		return -1;
	se = sess_get(s, key, 0);
	if (se && se->nbr && se->active) {
		v = xreallocarray(NULL, se->nbr, sizeof *v);
		for (i = 0; i < se->nbr; i++) {
			const char *b = se->br[i].name;

			if (strcmp(b, se->active) != 0 &&
			    (strncmp(b, "detached-", 9) == 0 ||
			    strncmp(b, "disposable-", 11) == 0))
				v[k++] = b;
		}
		qsort(v, k, sizeof *v, cmp_str);
	}
	if (k) {
		rec_unbranch(s, key, v, k);
		rc = emit(s);
	}
	rc = finish(s, rc);
	if (rc < 0 || !names || !k) {
		free(v);
		return rc;
	}
	*names = v;
	*n = k;
	return 0;
}

int
store_checkout(struct store *s, const char *key, const char *name)
{
	struct session *se;
	size_t st;
	int rc = -1;

	if (need_key(key) < 0)
		return -1;
	if (store_begin(s) < 0)
		return -1;
	if (need_session(s, key, &se, 0) < 0)
		goto out;
	if (!name || !br_find(se, name)) {
		seterr("branch '%s' not found", name ? name : "");
		goto out;
	}
	buf_reset(&s->rec);
	st = rec_begin(&s->rec, "checkout");
	rec_str(&s->rec, key);
	rec_str(&s->rec, name);
	rec_num(&s->rec, (long long)time(NULL));
	rec_end(&s->rec, st);
	rc = emit(s);
out:
	return finish(s, rc);
}

int
store_reset(struct store *s, const char *key, long long id)
{
	struct session *se;
	size_t st;
	int rc = -1;

	if (need_key(key) < 0)
		return -1;
	if (store_begin(s) < 0)
		return -1;
	if (need_session(s, key, &se, 1) < 0)
		goto out;
	if (!ent_find(se, id)) {
		seterr("entry %lld not found in this session", id);
		goto out;
	}
	buf_reset(&s->rec);
	st = rec_begin(&s->rec, "reset");
	rec_str(&s->rec, key);
	rec_str(&s->rec, se->active);
	rec_num(&s->rec, id);
	rec_num(&s->rec, (long long)time(NULL));
	rec_end(&s->rec, st);
	rc = emit(s);
out:
	return finish(s, rc);
}

int
store_env_set(struct store *s, const char *key, const char *const *names,
    const char *const *values, size_t n)
{
	size_t i, st;

	if (need_key(key) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (!names[i] || !*names[i] || strchr(names[i], '=') ||
		    !values[i]) {
			seterr("invalid environment variable name '%s'",
			    names[i] ? names[i] : "");
			return -1;
		}
	if (!n)
		return 0;
	if (store_begin(s) < 0)
		return -1;
	buf_reset(&s->rec);
	st = rec_begin(&s->rec, "env");
	rec_str(&s->rec, key);
	for (i = 0; i < n; i++) {
		rec_str(&s->rec, names[i]);
		rec_str(&s->rec, values[i]);
	}
	rec_end(&s->rec, st);
	return finish(s, emit(s));
}

int
store_env_unset(struct store *s, const char *key, const char *const *names,
    size_t n)
{
	size_t i, st;

	if (need_key(key) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (!names[i]) {
			seterr("invalid environment variable name");
			return -1;
		}
	if (!n)
		return 0;
	if (store_begin(s) < 0)
		return -1;
	buf_reset(&s->rec);
	st = rec_begin(&s->rec, "unenv");
	rec_str(&s->rec, key);
	for (i = 0; i < n; i++)
		rec_str(&s->rec, names[i]);
	rec_end(&s->rec, st);
	return finish(s, emit(s));
}

int
store_pending_add(struct store *s, const char *key, const char *op,
    const char *title, const char *branch, int disposable)
{
	size_t st;

	if (need_key(key) < 0)
		return -1;
	if (!op || !*op) {
		seterr("empty operation id");
		return -1;
	}
	if (store_begin(s) < 0)
		return -1;
	buf_reset(&s->rec);
	st = rec_begin(&s->rec, "pending");
	rec_str(&s->rec, key);
	rec_str(&s->rec, op);
	rec_str(&s->rec, disposable ? "1" : "0");
	rec_str(&s->rec, branch ? branch : "");
	rec_str(&s->rec, title ? title : "");
	rec_end(&s->rec, st);
	return finish(s, emit(s));
}

int
store_pending_done(struct store *s, const char *key, const char *op)
{
	struct session *se;
	size_t i, st;
	int rc = 0;

	if (need_key(key) < 0 || !op)
		return -1;
	if (store_begin(s) < 0)
		return -1;
	se = sess_get(s, key, 0);
	for (i = 0; se && i < se->npend; i++)
		if (strcmp(se->pend[i].op, op) == 0)
			break;
	if (se && i < se->npend) {
		buf_reset(&s->rec);
		st = rec_begin(&s->rec, "done");
		rec_str(&s->rec, key);
		rec_str(&s->rec, op);
		rec_end(&s->rec, st);
		rc = emit(s) < 0 ? -1 : 1;
	}
	return finish(s, rc);
}

int
store_history_add(struct store *s, const char *key, const char *const *lines,
    size_t n)
{
	size_t i, st;

	if (need_key(key) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (!lines[i]) {
			seterr("null history line");
			return -1;
		}
	if (!n)
		return 0;
	if (store_begin(s) < 0)
		return -1;
	buf_reset(&s->rec);
	st = rec_begin(&s->rec, "hist");
	rec_str(&s->rec, key);
	for (i = 0; i < n; i++)
		rec_str(&s->rec, lines[i]);
	rec_end(&s->rec, st);
	return finish(s, emit(s));
}

int
store_delete(struct store *s, const char *key)
{
	struct session *se;
	size_t st;
	int rc = 0;

	if (need_key(key) < 0)
		return -1;
	if (store_begin(s) < 0)
		return -1;
	se = sess_get(s, key, 0);
	if (se && !sess_empty(se)) {
		buf_reset(&s->rec);
		st = rec_begin(&s->rec, "delete");
		rec_str(&s->rec, key);
		rec_end(&s->rec, st);
		rc = emit(s) < 0 ? -1 : 1;
		if (rc == 1 && compact_locked(s) < 0)
			logmsg(LOG_WARNING, "%s", geterr());
	}
	return finish(s, rc);
}

int
store_ref(struct store *s, const char *key, const char *t,
    const struct store_entry **out)
{
	int k = store_ref_entry(s, key, t, out);

	if (k == 1 && !*(*out)->op) {
		seterr("entry %lld (%s) has no operation", (*out)->id,
		    (*out)->kind);
		*out = NULL;
		return -1;
	}
	return k;
}
