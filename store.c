/* store.c - the session store: an append-only log per session plus an
 * index per profile, each replayed into memory when first needed
 * (design.md §3, cli.md §7).
 *
 * LAYOUT
 *
 * $CONTREE_SESSION_DB, else $CONTREE_HOME/cli/sessions/<profile>.log, is
 * the profile's index; <that>.d/<key>.log (sess_name below) the log of
 * one session.  A command reads the index and the logs of the sessions
 * it asks about, nothing else: its cost does not depend on the other
 * sessions' history.  The index format and the write protocol are at
 * "the profile" below; a log's format follows.  Before this layout the
 * profile's file was one log holding every session; store_open moves it
 * once (migrate) and store_open_file still reads such a file.
 *
 * LOG FORMAT
 *
 * Mode 0600.  Text, one record per line.  Line 1 is the format line
 * "contree-log 1" ("contree-log 2" in the index).  Every other line is a
 * record:
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
 *   sess     (the index only; see "the profile" below)
 *
 * A session log holds the records of its own key only (others are bad
 * records); the index holds only sess and maxid records.
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
 * names another file rereads it.  Opening the store (the index) and the
 * first change of a session (its log) remove temporary files whose
 * process no longer exists. */
#define _DEFAULT_SOURCE         /* MAP_ANONYMOUS; MAP_POPULATE on Linux */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

#define HEADER "contree-log 1"  /* a log of sessions */
#define HEADER2 "contree-log 2" /* the index of a profile */
#define HDRLEN (sizeof HEADER - 1)
#define CRCLEN 8                /* hex digits of the checksum */
#define CHUNK (64 * 1024)       /* first arena block */
#define MAXCHUNK (8 << 20)      /* largest arena block */
#define BIGCHUNK (512 * 1024)   /* blocks this big are mapped */
#define HUGEBLOCK (2 << 20)     /* and these in huge pages */
#define ENTMAP (128 * 1024)     /* entry arrays this big, too */
#ifdef MAP_POPULATE
#define POPULATE MAP_POPULATE   /* fault the block in with one call */
#else
#define POPULATE 0
#endif
#define COMPACT_MIN 1024        /* records before auto compaction */
#define READBUF (64 * 1024)     /* replay reads this much at a time */
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
	int mapped;             /* from mmap: munmap it */
	/* data follows, aligned */
};
#define CHUNKHDR ((sizeof(struct chunk) + 7) & ~(size_t)7)


struct session {
	const char *key;
	size_t klen;                            /* strlen(key) */
	const struct store_entry **ent;         /* id order */
	size_t nent, cent;
	size_t entmap;                          /* ent is mapped: its bytes */
	struct store_branch *br;
	size_t nbr, cbr;
	const char *active;
	struct store_kv *env;
	size_t nenv, cenv;
	struct store_pending *pend;    /* kept as the queries return them */
	size_t npend, cpend;
	const char **hist;                      /* live: hist[hoff..nhist) */
	size_t hoff, nhist, chist;
	long long updated;
	unsigned long long seq;                 /* record of the last update */
	/* The index only: the summary of the session's own log. */
	long long isize;                        /* that log's size */
	long long imax;                         /* highest id it issued */
	size_t inent;
	const char *ibranch;                    /* NULL: none */
	const struct store_entry *itip;         /* NULL: none */
};

/* What a log file holds: any sessions (the single-file format, also
 * what migration reads), one session (key: only), or the index. */
enum { LOG_ANY, LOG_SESSION, LOG_INDEX };

struct log {
	char *path;
	int type;               /* LOG_* */
	const char *only;       /* LOG_SESSION: its key (NULL: learn it) */
	size_t onlylen;
	struct store *owner;    /* LOG_SESSION: whose index it updates */
	unsigned long long iseq; /* LOG_INDEX: highest SEQ seen */
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
	size_t chunkcap;        /* size of the next block */
	char **f;               /* fields of the record being replayed */
	size_t *fl;             /* and their lengths */
	size_t cf;
	long long v[13];        /* numeric fields of that record */
	struct buf rec;         /* record being written */
	struct buf scratch;     /* its copy, checked before writing */
	long long nbad;         /* corrupt records skipped in the file */
	int tornwarned;         /* warned about a torn last line */
};

/* A profile: its index and the session logs read so far; or, single,
 * one log file holding every session (idx). */
struct store {
	char *path;             /* the index (single: the log) */
	char *dir;              /* path ".d": the session logs */
	struct log *idx;
	int single;
	int locked;             /* transaction depth */
	struct log **logs;
	size_t nlogs, clogs;
	int64_t timeout_ms;
};

void (*store_test_hook)(const char *step);

static void
hook(const char *step)
{
	if (store_test_hook)
		store_test_hook(step);
}

/* ---- CRC-32: slicing by 8, or folding with carry-less multiplication
 * (replay checks every byte of the log) ---- */

static uint32_t crctab[8][256];
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
		for (k = 1; k < 8; k++)
			crctab[k][i] = crctab[k - 1][i] >> 8 ^
			    crctab[0][crctab[k - 1][i] & 0xff];
	crcready = 1;
}

#define LE32(p) ((uint32_t)(p)[0] | (uint32_t)(p)[1] << 8 | \
	(uint32_t)(p)[2] << 16 | (uint32_t)(p)[3] << 24)

/* The CRC register over p[0..n), without the inversions around it. */
static uint32_t
crc_table(uint32_t crc, const unsigned char *p, size_t n)
{
	uint32_t a, b;

	if (!crcready)
		crcinit();
	while (n >= 8) {
		a = crc ^ LE32(p);
		b = LE32(p + 4);
		crc = crctab[7][a & 0xff] ^ crctab[6][a >> 8 & 0xff] ^
		    crctab[5][a >> 16 & 0xff] ^ crctab[4][a >> 24] ^
		    crctab[3][b & 0xff] ^ crctab[2][b >> 8 & 0xff] ^
		    crctab[1][b >> 16 & 0xff] ^ crctab[0][b >> 24];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = crctab[0][(crc ^ *p++) & 0xff] ^ crc >> 8;
	return crc;
}

uint32_t
store_crc32_portable(uint32_t crc, const void *buf, size_t n)
{
	return ~crc_table(~crc, buf, n);
}

/* On x86-64 with PCLMULQDQ, 64 bytes at a time by carry-less
 * multiplication ("folding"), the same value.  The register is kept as
 * 128 bits: bit i of a 16-byte block read little-endian is the
 * coefficient of x^(127-i), as the CRC takes bits.  Moving a block F
 * bits further on multiplies it by x^F mod P: its first 64 bits (H, bit
 * j for x^(63-j)) by x^(63+F) mod P, its last 64 (L) by x^(F-1) mod P,
 * each constant a 32-bit remainder in the top half of a 64-bit lane,
 * so the 127-bit products line up with the block they are added to.
 * What is left, 16 bytes and a tail under 16, goes through the table. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(STORE_PORTABLE)
#include <cpuid.h>
#include <emmintrin.h>
#include <wmmintrin.h>
#define CLMUL_ATTR __attribute__((target("pclmul,sse2")))

static __m128i fold512, fold384, fold256, fold128;
static int clmul = -1;          /* -1: not yet asked */

/* x^k mod P, reflected, as bits 32..63 of a lane. */
static uint64_t
xpow(int k)
{
	uint32_t r = 0x80000000u;       /* x^0 */

	while (k-- > 0)
		r = r & 1 ? r >> 1 ^ 0xEDB88320u : r >> 1;
	return (uint64_t)r << 32;
}

static __m128i
foldk(int f)
{
	return _mm_set_epi64x((long long)xpow(f - 1), (long long)xpow(63 + f));
}

CLMUL_ATTR static __m128i
fold(__m128i x, __m128i k)
{
	return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),
	    _mm_clmulepi64_si128(x, k, 0x11));
}

#define LOAD(p) _mm_loadu_si128((const __m128i *)(const void *)(p))

CLMUL_ATTR static uint32_t
crc_clmul(uint32_t crc, const unsigned char *p, size_t n)
{
	__m128i x0, x1, x2, x3;
	unsigned char last[16];

	x0 = _mm_xor_si128(LOAD(p), _mm_cvtsi32_si128((int)crc));
	x1 = LOAD(p + 16);
	x2 = LOAD(p + 32);
	x3 = LOAD(p + 48);
	for (p += 64, n -= 64; n >= 64; p += 64, n -= 64) {
		x0 = _mm_xor_si128(fold(x0, fold512), LOAD(p));
		x1 = _mm_xor_si128(fold(x1, fold512), LOAD(p + 16));
		x2 = _mm_xor_si128(fold(x2, fold512), LOAD(p + 32));
		x3 = _mm_xor_si128(fold(x3, fold512), LOAD(p + 48));
	}
	x0 = _mm_xor_si128(_mm_xor_si128(fold(x0, fold384),
	    fold(x1, fold256)), _mm_xor_si128(fold(x2, fold128), x3));
	for (; n >= 16; p += 16, n -= 16)
		x0 = _mm_xor_si128(fold(x0, fold128), LOAD(p));
	_mm_storeu_si128((__m128i *)(void *)last, x0);
	return crc_table(crc_table(0, last, 16), p, n);
}

static uint32_t
crc_raw(uint32_t crc, const unsigned char *p, size_t n)
{
	unsigned a, b, c, d;

	if (clmul < 0) {
		fold512 = foldk(512);
		fold384 = foldk(384);
		fold256 = foldk(256);
		fold128 = foldk(128);
		clmul = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_PCLMUL);
	}
	if (clmul && n >= 64)
		return crc_clmul(crc, p, n);
	return crc_table(crc, p, n);
}
#else
#define crc_raw crc_table
#endif

uint32_t
store_crc32(uint32_t crc, const void *buf, size_t n)
{
	return ~crc_raw(~crc, buf, n);
}

/* ---- arena ---- */

/* 1 if the system gives transparent huge pages to the regions that
 * ask (Linux: "always" or "madvise" in sysfs); asked once. */
static int
thp(void)
{
	static int on = -1;
	char b[64] = "";
	int fd;
	ssize_t r;

	if (on >= 0)
		return on;
	on = 0;
	fd = open("/sys/kernel/mm/transparent_hugepage/enabled",
	    O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		r = read(fd, b, sizeof b - 1);
		b[r > 0 ? r : 0] = '\0';
		on = strstr(b, "[always]") || strstr(b, "[madvise]");
		close(fd);
	}
	return on;
}

/* A block of n bytes mapped for the arena.  One of a multiple of
 * HUGEBLOCK is aligned to it and asks for transparent huge pages: a
 * page fault, and in a virtual machine a miss in the host's tables,
 * per 2 MB instead of per 4 kB (replaying a big session otherwise
 * spends most of its time touching new memory), faulted in as it is
 * used.  Else the block is populated in one call.  NULL if mmap
 * fails. */
static void *
map_block(size_t n)
{
	char *m, *a;
	size_t head;

#ifdef MADV_HUGEPAGE
	if (n >= HUGEBLOCK && n % HUGEBLOCK == 0 && thp()) {
		m = mmap(NULL, n + HUGEBLOCK, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		a = (char *)(((uintptr_t)m + HUGEBLOCK - 1) &
		    ~(uintptr_t)(HUGEBLOCK - 1));
		head = (size_t)(a - m);
		if (head)
			munmap(m, head);
		munmap(a + n, HUGEBLOCK - head);
		(void)madvise(a, n, MADV_HUGEPAGE);
		return a;
	}
#endif
	m = mmap(NULL, n, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | POPULATE, -1, 0);
	return m == MAP_FAILED ? NULL : m;
}

/* Blocks grow with the log (a big session's replay then costs few
 * page faults: see map_block).  cap counts the block's header. */
static char *
chunk_new(struct log *s, size_t cap)
{
	struct chunk *c = NULL;

	if (cap >= BIGCHUNK && (c = map_block(cap))) {
		c->mapped = 1;
	} else {
		c = xmalloc(cap);
		c->mapped = 0;
	}
	c->used = 0;
	c->cap = cap - CHUNKHDR;
	c->next = s->chunks;
	s->chunks = c;
	return (char *)c + CHUNKHDR;
}

/* n bytes aligned to align (1 or 8). */
static void *
aalloc(struct log *s, size_t n, size_t align)
{
	struct chunk *c = s->cur;
	char *p;

	if (c)
		c->used = (c->used + align - 1) & ~(align - 1);
	if (!c || c->used > c->cap || c->cap - c->used < n) {
		if (n > CHUNK / 4)
			return chunk_new(s, CHUNKHDR + n);
		if (s->chunkcap < CHUNK)
			s->chunkcap = CHUNK;
		chunk_new(s, s->chunkcap);
		if (s->chunkcap < MAXCHUNK)
			s->chunkcap *= 2;
		c = s->cur = s->chunks;
	}
	p = (char *)c + CHUNKHDR + c->used;
	c->used += n;
	return p;
}

/* About to replay n bytes: let the next blocks be big enough for what
 * they will likely keep (a replayed entry keeps about 1.25 times its
 * record's bytes), in huge pages from the first when that is much. */
static void
arena_hint(struct log *s, off_t n)
{
	off_t want = n / 4 * 5;

	if (want < HUGEBLOCK)
		return;
	if (want > MAXCHUNK)
		want = MAXCHUNK;
	want = (want + HUGEBLOCK - 1) & ~(off_t)(HUGEBLOCK - 1);
	if (s->chunkcap < (size_t)want)
		s->chunkcap = (size_t)want;
}

/* A copy of p[0..n) and a NUL that lives until store_close. */
static const char *
keepn(struct log *s, const char *p, size_t n)
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
keep(struct log *s, const char *p)
{
	return keepn(s, p, strlen(p));
}

/* ---- arrays ---- */

/* p, an array of *cap elements of size bytes, with room for element n
 * (doubled when full). */
static void *
grow(void *p, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 8;
	return xreallocarray(p, *cap, size);
}

/* A malloc'd copy of v[0..n), each size bytes (room for one more). */
static void *
dup_array(const void *v, size_t n, size_t size)
{
	void *p = xreallocarray(NULL, n + 1, size);

	if (n)
		memcpy(p, v, n * size);
	return p;
}

/* The index of the element of v[0..n), each size bytes and a string
 * first, that is s; n if none is. */
static size_t
find_str(const void *v, size_t n, size_t size, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(*(const char *const *)(const void *)
		    ((const char *)v + i * size), s) == 0)
			break;
	return i;
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

/* Enters session i into the hash table. */
static void
ht_put(struct log *s, size_t i)
{
	size_t j = hashstr(s->sess[i].key, s->sess[i].klen) & (s->hcap - 1);

	while (s->htab[j])
		j = (j + 1) & (s->hcap - 1);
	s->htab[j] = (uint32_t)(i + 1);
}

static void
rehash(struct log *s)
{
	size_t i, cap = s->hcap ? s->hcap * 2 : 64;

	free(s->htab);
	s->htab = xcalloc(cap, sizeof *s->htab);
	s->hcap = cap;
	for (i = 0; i < s->nsess; i++)
		ht_put(s, i);
}

static int
sess_is(const struct session *se, const char *key, size_t n)
{
	return se->klen == n && memcmp(se->key, key, n) == 0;
}

/* The session called key[0..n) (no NUL in it); with create, made if
 * missing.  The pointer is valid until the next create. */
static struct session *
sess_find(struct log *s, const char *key, size_t n, int create)
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
	s->sess = grow(s->sess, s->nsess, &s->csess, sizeof *s->sess);
	key = keepn(s, key, n);
	se = &s->sess[s->nsess++];
	memset(se, 0, sizeof *se);
	se->key = key;
	se->klen = n;
	if (s->nsess * 2 > s->hcap)
		rehash(s);
	else
		ht_put(s, s->nsess - 1);
	return se;
}

static struct session *
sess_get(struct log *s, const char *key, int create)
{
	return sess_find(s, key, strlen(key), create);
}

static void
sess_clear(struct session *se)
{
	const char *key = se->key;
	size_t klen = se->klen;

	if (se->entmap)
		munmap(se->ent, se->entmap);
	else
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
reset_state(struct log *s)
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

/* strcmp(a, b) == 0 for the short names replay compares per record
 * (record types, kinds, branches), without a call. */
static int
same(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static struct store_branch *
br_find(struct session *se, const char *name)
{
	size_t i;

	for (i = 0; i < se->nbr; i++)
		if (same(se->br[i].name, name))
			return &se->br[i];
	return NULL;
}

static const struct store_entry *
sess_tip(struct session *se)
{
	struct store_branch *b;

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

static struct store_branch *
br_set(struct log *s, struct session *se, const char *name,
    const struct store_entry *e)
{
	struct store_branch *b = br_find(se, name);

	if (!b) {
		se->br = grow(se->br, se->nbr, &se->cbr, sizeof *se->br);
		b = &se->br[se->nbr++];
		b->name = keep(s, name);
	}
	b->tip = e;
	return b;
}

static void
br_del(struct session *se, const char *name)
{
	struct store_branch *b = br_find(se, name);

	if (b) {
		*b = se->br[se->nbr - 1];
		se->nbr--;
	}
}

static void
touch(struct log *s, struct session *se, long long t)
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

/* Byte classes, filled on first use (replay looks up every byte of
 * checksums and images): hexval[c] is 1 + the value of a lowercase hex
 * digit, else 0; uuidw[c] the weight of c in a UUID (below). */
static unsigned char hexval[256], uuidw[256];

static void
classes(void)
{
	int c;

	for (c = 0; c < 256; c++) {
		hexval[c] = (unsigned char)(c >= '0' && c <= '9' ? c - '0' + 1 :
		    c >= 'a' && c <= 'f' ? c - 'a' + 11 : 0);
		uuidw[c] = hexval[c] ? 0 : c == '-' ? 1 : 64;
	}
}

/* Canonical lowercase UUID: 8-4-4-4-12 hex digits.  Branch-free (replay
 * checks one per entry): hex digits weigh 0, '-' 1, anything else 64,
 * so a weight of 4 with the four dashes in place is a UUID. */
static int
uuid_ok(const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	unsigned sum = 0;
	size_t i;

	if (!uuidw[0])
		classes();
	if (n != 36 || p[8] != '-' || p[13] != '-' || p[18] != '-' ||
	    p[23] != '-')
		return 0;
	for (i = 0; i < 36; i++)
		sum += uuidw[u[i]];
	return sum == 4;
}

#define NAME_OK(n) ((n) > 0 && (n) <= NAMEMAX)

static const char *
kind_of(const char *k)
{
	size_t i;

	for (i = 0; i < LEN(kinds); i++)
		if (same(k, kinds[i]))
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
 * A handler gets the unescaped fields f[0..nf) (f[0] is the type), their
 * lengths and the session of the key field (NULL if it has none yet),
 * after check_fields passed the record's number of fields, its fixed
 * fields and its key (s->v holds their numbers).  It checks the rest
 * and every reference against the state first and returns why the
 * record is bad, or NULL; with dry set it stops there (writers check a
 * record before writing it), else it applies the record. */

typedef const char *handler(struct log *, struct session *, char **,
    const size_t *, size_t, int);

/* The session of a record's key field, which must be sane. */
static const char *
keyed(struct log *s, int i, struct session **se)
{
	const char *key = s->f[i];
	size_t n = s->fl[i];

	if (!NAME_OK(n))
		return "bad session key";
	if (s->type == LOG_SESSION && s->only && (n != s->onlylen ||
	    memcmp(key, s->only, n) != 0))
		return "record of another session";
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
keep_files(struct log *s, char **g, const size_t *gl, size_t nfiles)
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

/* Room for more entries in se->ent.  A big session's array is mapped
 * in HUGEBLOCKs (one page fault per 2 MB where huge pages are given). */
static void
ent_grow(struct session *se)
{
	size_t cap = se->cent ? se->cent * 2 : 8, bytes = cap * sizeof *se->ent;
	const struct store_entry **v;

	if (bytes < ENTMAP || !thp() || cap > SIZE_MAX / 2 / sizeof *se->ent) {
		se->ent = xreallocarray(se->ent, cap, sizeof *se->ent);
		se->cent = cap;
		return;
	}
	bytes = (bytes + HUGEBLOCK - 1) & ~(size_t)(HUGEBLOCK - 1);
	if (!(v = map_block(bytes)) && !se->entmap) {
		se->ent = xreallocarray(se->ent, cap, sizeof *se->ent);
		se->cent = cap;
		return;
	}
	if (!v) {               /* mapped before: on to the heap */
		v = xreallocarray(NULL, cap, sizeof *v);
		bytes = 0;
	}
	memcpy(v, se->ent, se->nent * sizeof *v);
	if (se->entmap)
		munmap(se->ent, se->entmap);
	else
		free(se->ent);
	se->ent = v;
	se->entmap = bytes;
	se->cent = bytes ? bytes / sizeof *v : cap;
}

/* Adds entry e (fields f as h_entry checked them) to session se. */
static void
add_entry(struct log *s, struct session *se, struct store_entry *e,
    char **f, const size_t *fl)
{
	char *sp = (char *)(e + 1);

	e->key = se->key;
	if (!e->image)
		e->image = put(&sp, f[7], fl[7]);
	e->op = put(&sp, f[8], fl[8]);
	e->title = put(&sp, f[9], fl[9]);
	if (se->nent == se->cent)
		ent_grow(se);
	se->ent[se->nent++] = e;
	if (*f[5]) {
		struct store_branch *b = br_set(s, se, f[5], e);

		if (!se->active)
			se->active = b->name;
	}
	if (e->id > s->maxid)
		s->maxid = e->id;
	touch(s, se, e->created);
}

/* se, else the session of the key in f[1], made. */
static struct session *
made(struct log *s, struct session *se)
{
	return se ? se : sess_find(s, s->f[1], s->fl[1], 1);
}

/* entry ID KEY PARENT TIME BRANCH KIND IMAGE OP TITLE [files] */
static const char *
h_entry(struct log *s, struct session *se, char **f, const size_t *fl,
    size_t nf, int dry)
{
	long long id = s->v[1], parent = s->v[3];
	const struct store_entry *up = NULL;
	const char *kind, *why, *image;
	struct store_entry *e;
	size_t nfiles = (nf - 10) / 5;

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
	e->created = s->v[4];
	e->files = keep_files(s, f + 10, fl + 10, nfiles);
	e->nfiles = (int)nfiles;
	add_entry(s, se, e, f, fl);
	return NULL;
}

/* maxid ID */
static const char *
h_maxid(struct log *s, struct session *se, char **f, const size_t *fl,
    size_t nf, int dry)
{
	(void)se;
	(void)f;
	(void)fl;
	(void)nf;
	if (!dry && s->v[1] > s->maxid)
		s->maxid = s->v[1];
	return NULL;
}

/* branch KEY NAME ID, reset KEY NAME ID TIME */
static const char *
h_branch(struct log *s, struct session *se, char **f, const size_t *fl,
    size_t nf, int dry)
{
	int reset = nf == 5;
	const struct store_entry *e;

	if (!NAME_OK(fl[2]))
		return "bad branch name";
	if (!se || !(e = ent_find(se, s->v[3])))
		return "branch target not in session";
	if (reset && (!se->active || strcmp(se->active, f[2])))
		return "not the active branch";
	if (dry)
		return NULL;
	br_set(s, se, f[2], e);
	if (reset)
		touch(s, se, s->v[4]);
	return NULL;
}

/* unbranch KEY TIME NAME... */
static const char *
h_unbranch(struct log *s, struct session *se, char **f, const size_t *fl,
    size_t nf, int dry)
{
	size_t i;
	(void)fl;

	for (i = 3; i < nf; i++)
		if (!se || !se->active || !br_find(se, f[i]) ||
		    strcmp(f[i], se->active) == 0)
			return "cannot delete branch";
	if (dry)
		return NULL;
	for (i = 3; i < nf; i++)
		br_del(se, f[i]);
	touch(s, se, s->v[2]);
	return NULL;
}

/* checkout KEY NAME TIME */
static const char *
h_checkout(struct log *s, struct session *se, char **f, const size_t *fl,
    size_t nf, int dry)
{
	struct store_branch *b;

	(void)fl;
	(void)nf;
	if (!se || !(b = br_find(se, f[2])))
		return "no such branch";
	if (dry)
		return NULL;
	se->active = b->name;
	touch(s, se, s->v[3]);
	return NULL;
}

/* env KEY NAME VALUE [NAME VALUE]... */
static const char *
h_env(struct log *s, struct session *se, char **f, const size_t *fl,
    size_t nf, int dry)
{
	size_t i, j;

	for (i = 2; i < nf; i += 2)
		if (!NAME_OK(fl[i]) || strchr(f[i], '=') ||
		    fl[i + 1] > TEXTMAX)
			return "bad variable";
	if (dry)
		return NULL;
	se = made(s, se);
	for (i = 2; i < nf; i += 2) {
		j = find_str(se->env, se->nenv, sizeof *se->env, f[i]);
		if (j == se->nenv) {
			se->env = grow(se->env, j, &se->cenv, sizeof *se->env);
			se->nenv++;
			se->env[j].name = keepn(s, f[i], fl[i]);
		}
		se->env[j].value = keepn(s, f[i + 1], fl[i + 1]);
	}
	return NULL;
}

/* unenv KEY NAME... */
static const char *
h_unenv(struct log *s, struct session *se, char **f, const size_t *fl,
    size_t nf, int dry)
{
	size_t i, j;

	(void)s;
	for (i = 2; i < nf; i++)
		if (fl[i] > NAMEMAX)
			return "bad variable";
	for (i = 2; !dry && se && i < nf; i++)
		if ((j = find_str(se->env, se->nenv, sizeof *se->env, f[i])) <
		    se->nenv)
			se->env[j] = se->env[--se->nenv];
	return NULL;
}

/* pending KEY OP DISPOSABLE BRANCH TITLE */
static const char *
h_pending(struct log *s, struct session *se, char **f, const size_t *fl,
    size_t nf, int dry)
{
	size_t j;

	(void)nf;
	if (dry)
		return NULL;
	se = made(s, se);
	j = find_str(se->pend, se->npend, sizeof *se->pend, f[2]);
	if (j == se->npend) {
		se->pend = grow(se->pend, j, &se->cpend, sizeof *se->pend);
		se->npend++;
	}
	se->pend[j].op = keepn(s, f[2], fl[2]);
	se->pend[j].disposable = f[3][0] == '1';
	se->pend[j].branch = keepn(s, f[4], fl[4]);
	se->pend[j].title = keepn(s, f[5], fl[5]);
	return NULL;
}

/* done KEY OP */
static const char *
h_done(struct log *s, struct session *se, char **f, const size_t *fl,
    size_t nf, int dry)
{
	size_t j;

	(void)s;
	(void)fl;
	(void)nf;
	if (!dry && se && (j = find_str(se->pend, se->npend,
	    sizeof *se->pend, f[2])) < se->npend) {
		memmove(se->pend + j, se->pend + j + 1,
		    (se->npend - j - 1) * sizeof *se->pend);
		se->npend--;
	}
	return NULL;
}

static void
hist_push(struct log *s, struct session *se, const char *p, size_t n)
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
h_hist(struct log *s, struct session *se, char **f, const size_t *fl,
    size_t nf, int dry)
{
	size_t i;

	for (i = 2; i < nf; i++)
		if (fl[i] > TEXTMAX)
			return "history line too long";
	if (dry)
		return NULL;
	se = made(s, se);
	for (i = 2; i < nf; i++)
		hist_push(s, se, f[i], fl[i]);
	return NULL;
}

/* delete KEY */
static const char *
h_delete(struct log *s, struct session *se, char **f, const size_t *fl,
    size_t nf, int dry)
{
	(void)s;
	(void)f;
	(void)fl;
	(void)nf;
	if (!dry && se)
		sess_clear(se);
	return NULL;
}

/* sess KEY SIZE SEQ MAXID NENT UPDATED BRANCH TIPID KIND IMAGE OP CREATED
 * (the index): the summary of the session's own log, SIZE bytes long
 * when it was written. */
static const char *
h_sess(struct log *s, struct session *se, char **f, const size_t *fl,
    size_t nf, int dry)
{
	long long *v = s->v, tipid = v[8];
	struct store_entry *e = NULL;
	const char *kind = NULL;

	(void)nf;
	if (fl[7] > NAMEMAX || fl[11] > TOKMAX)
		return "bad fields";
	if (tipid && (!v[5] || !(kind = kind_of(f[9])) ||
	    !uuid_ok(f[10], fl[10])))
		return "bad tip";
	if (!tipid && (fl[9] || fl[10] || fl[11] || v[12]))
		return "bad tip";
	if (dry)
		return NULL;
	se = made(s, se);
	if (tipid) {
		e = aalloc(s, sizeof *e, 8);
		memset(e, 0, sizeof *e);
		e->id = tipid;
		e->key = se->key;
		e->kind = kind;
		e->image = keepn(s, f[10], fl[10]);
		e->title = "";
		e->op = keepn(s, f[11], fl[11]);
		e->created = v[12];
	}
	se->isize = v[2];
	se->imax = v[4];
	se->inent = (size_t)v[5];
	se->ibranch = fl[7] ? keepn(s, f[7], fl[7]) : NULL;
	se->itip = e;
	se->updated = v[6];
	se->seq = v[3];
	if (v[3] > (long long)s->iseq)
		s->iseq = (unsigned long long)v[3];
	if (v[4] > s->maxid)
		s->maxid = v[4];
	return NULL;
}

/* Record types, as the first field of a line, and what check_fields
 * checks before the handler runs, as spec says: "#" first if a bad
 * number of fields is "wrong number of fields" and a bad field "bad
 * number" (else both are "bad fields"); then a letter for each of the
 * fixed fields f[1], f[2]...; then, if more fields may follow, a digit:
 * they come in groups of that many (groups of 5 are staged files, at
 * most FILESMAX).  Letters: k the session key;
 * numbers: i an id 1..IDMAX, n 0..IDMAX, t a TIME, p 0..f[1] - 1 (a
 * parent, before its entry), m 0..f[4] (a tip, up to MAXID); lengths:
 * O 1..TOKMAX, P 0..TOKMAX, N 0..NAMEMAX, T 0..TEXTMAX; B "0" or "1";
 * "_" is checked by the handler.  The key is checked last. */
static const struct {
	const char *name;
	handler *fn;
	const char *spec;
} rtypes[] = {
	{ "entry", h_entry, "#ikpt_____5" }, { "maxid", h_maxid, "n" },
	{ "branch", h_branch, "k_i" }, { "reset", h_branch, "k_it" },
	{ "unbranch", h_unbranch, "kt_1" }, { "checkout", h_checkout, "k_t" },
	{ "env", h_env, "k__2" }, { "unenv", h_unenv, "k_1" },
	{ "pending", h_pending, "kOBNT" }, { "done", h_done, "kP" },
	{ "hist", h_hist, "k_1" }, { "delete", h_delete, "k" },
	{ "sess", h_sess, "#knnnnt_m___t" }
};

/* Checks the number of fields of a record of type rtypes[t], its fixed
 * fields (numbers to s->v) and its key (*se: its session, if any). */
static const char *
check_fields(struct log *s, int t, size_t nf, struct session **se)
{
	/* Per type, read from its spec once: 1 + the fixed fields, the
	 * group size, 1 + the last field checked here. */
	static unsigned char min[LEN(rtypes)], rep[LEN(rtypes)],
	    end[LEN(rtypes)];
	const char *spec = rtypes[t].spec;
	char **f = s->f;
	const size_t *fl = s->fl;
	int num = *spec == '#', ok;
	size_t i, key = 0;
	char c;

	*se = NULL;
	spec += num;
	if (!min[t]) {
		for (i = 1; (c = spec[i - 1]) > '9'; i++)
			if (c != '_')
				end[t] = (unsigned char)(i + 1);
		rep[t] = c ? (unsigned char)(c - '0') : 0;
		min[t] = (unsigned char)i;
	}
	i = min[t];
	/* groups of 1, 2 or 5: no division per record */
	if (nf < i || (!rep[t] ? nf != i : rep[t] == 5 ? (nf - i) % 5 != 0 ||
	    (nf - i) / 5 > FILESMAX : rep[t] == 2 && (nf - i) % 2 != 0))
		return num ? "wrong number of fields" : "bad fields";
	for (i = 1; i < end[t]; i++) {
		c = spec[i - 1];
		if (c == 'k')
			key = i;
		if (c == 'k' || c == '_')
			continue;
		if (c == 'B')
			ok = fl[i] == 1 && (f[i][0] | 1) == '1';
		else if (c < 'a')       /* a length */
			ok = fl[i] >= (c == 'O') && fl[i] <= (c == 'N' ?
			    NAMEMAX : c == 'T' ? TEXTMAX : TOKMAX);
		else                    /* a number */
			ok = inrange(f[i], c == 'i', c == 't' ? TIMEMAX :
			    c == 'p' ? s->v[1] - 1 : c == 'm' ? s->v[4] : IDMAX,
			    &s->v[i]);
		if (!ok)
			return num ? "bad number" : "bad fields";
	}
	return key ? keyed(s, key, se) : NULL;
}

static int
rtype_of(const char *p)
{
	int i;

	for (i = 0; i < (int)LEN(rtypes); i++)
		if (same(p, rtypes[i].name))
			return i;
	return -1;
}

/* Bytes equal to c in a word read from memory: 0x80 in each such byte,
 * 0 in the others (exact: no carry crosses bytes). */
#define LOW7 0x7f7f7f7f7f7f7f7fu
#define BYTES(c) (0x0101010101010101u * (unsigned char)(c))
#define MATCH(w, c) (~(((((w) ^ BYTES(c)) & LOW7) + LOW7) | \
	((w) ^ BYTES(c)) | LOW7))

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && \
    defined(__GNUC__)
#define FIRSTBYTE(m) ((size_t)__builtin_ctzll(m) >> 3)
#endif
/* Where SSE2 is there anyway (x86-64), 16 bytes at a time. */
#if defined(__SSE2__) && defined(__GNUC__) && !defined(STORE_PORTABLE)
#include <emmintrin.h>
#define SPLIT_SSE2
#endif

/* Records field f[nf] = q[0..t) (its TAB made a NUL). */
static void
field(struct log *s, size_t nf, char *q, char *t)
{
	if (nf == s->cf) {
		s->cf = s->cf ? s->cf * 2 : 32;
		s->f = xreallocarray(s->f, s->cf, sizeof *s->f);
		s->fl = xreallocarray(s->fl, s->cf, sizeof *s->fl);
	}
	s->f[nf] = q;
	s->fl[nf] = (size_t)(t - q);
	*t = '\0';
}

/* Cuts l[0..len) (checksum removed) into s->f/s->fl at the TABs and
 * unescapes the fields; returns the number of fields, or -1 (*why set)
 * if a field holds a NUL byte or a bad escape.  One pass, a word at a
 * time where the byte order allows (replay cuts every record). */
static long
split(struct log *s, char *l, size_t len, const char **why)
{
	char *end = l + len, *q = l, *p = l;
	size_t nf = 0, i;
	int nul = 0, bs = 0;
	long n;

#if defined(SPLIT_SSE2)
	const __m128i tab = _mm_set1_epi8('\t'), bsl = _mm_set1_epi8('\\');
	__m128i v;
	unsigned tabs, z = 0, b = 0;

	for (; end - p >= 16; p += 16) {
		v = _mm_loadu_si128((const __m128i *)(const void *)p);
		z |= (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v,
		    _mm_setzero_si128()));
		b |= (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, bsl));
		tabs = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, tab));
		for (; tabs; tabs &= tabs - 1) {
			field(s, nf++, q, p + __builtin_ctz(tabs));
			q = p + __builtin_ctz(tabs) + 1;
		}
	}
	nul = z != 0;
	bs = b != 0;
#elif defined(FIRSTBYTE)
	uint64_t w, tabs, z = 0, b = 0;

	for (; end - p >= 8; p += 8) {
		memcpy(&w, p, 8);
		z |= MATCH(w, 0);
		b |= MATCH(w, '\\');
		for (tabs = MATCH(w, '\t'); tabs; tabs &= tabs - 1) {
			field(s, nf++, q, p + FIRSTBYTE(tabs));
			q = p + FIRSTBYTE(tabs) + 1;
		}
	}
	nul = z != 0;
	bs = b != 0;
#endif
	for (; p < end; p++) {
		nul |= *p == '\0';
		bs |= *p == '\\';
		if (*p == '\t') {
			field(s, nf++, q, p);
			q = p + 1;
		}
	}
	if (nul) {
		*why = "NUL byte";
		return -1;
	}
	field(s, nf++, q, end);
	if (bs)
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
apply_line(struct log *s, char *l, size_t len, int dry)
{
	const char *why = NULL;
	struct session *se;
	handler *fn;
	long nf;
	int t;

	if ((nf = split(s, l, len, &why)) < 0)
		return why;
	if ((t = rtype_of(s->f[0])) < 0)
		return "unknown record type";
	fn = rtypes[t].fn;
	if (fn != h_maxid && (fn == h_sess) != (s->type == LOG_INDEX))
		return s->type == LOG_INDEX ? "not an index record" :
		    "unknown record type";
	if (!dry)
		s->seq++;
	if ((why = check_fields(s, t, (size_t)nf, &se)))
		return why;
	return fn(s, se, s->f, s->fl, (size_t)nf, dry);
}

static int
crc_ok(const char *l, size_t len)
{
	const unsigned char *h;
	uint32_t want = 0;
	int i, ok = 1;

	if (len < CRCLEN + 2 || l[len - CRCLEN - 1] != '\t')
		return 0;
	h = (const unsigned char *)l + len - CRCLEN;
	if (!uuidw[0])
		classes();
	for (i = 0; i < CRCLEN; i++) {  /* no branch per digit */
		want = want << 4 | ((hexval[h[i]] - 1u) & 15);
		ok &= hexval[h[i]] != 0;
	}
	return ok && store_crc32(0, l, len - CRCLEN - 1) == want;
}

static const char *
hdr(const struct log *s)
{
	return s->type == LOG_INDEX ? HEADER2 : HEADER;
}

/* The format line p[0..len) (CR stripped); 0 or -1 (error slot set). */
static int
check_header(struct log *s, const char *p, size_t len)
{
	if (len == HDRLEN && memcmp(p, hdr(s), len) == 0)
		return 0;
	if (len > 12 && memcmp(p, "contree-log ", 12) == 0)
		seterr("%s: unsupported session log version '%.*s'", s->path,
		    (int)(len > 40 ? 40 : len), p);
	else
		seterr("%s: not a contree session log (first line is not '%s')",
		    s->path, hdr(s));
	return -1;
}

/* Replays the complete line l[0..len) (LF excluded, a CR before it
 * stripped); last: it ends the file.  A bad record is skipped with one
 * warning and counted in s->nbad (the next writer rewrites the file
 * without it); 1 if it is instead a torn write (the last line, with a
 * bad checksum), else 0. */
static int
replay_line(struct log *s, char *l, size_t len, int last)
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
warn_torn(struct log *s)
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
replay(struct log *s, char *p, size_t n, off_t end, int *torn)
{
	size_t pos = 0, len;
	char *l, *nl;

	*torn = 0;
	if (s->off == 0 && n) {
		nl = memchr(p, '\n', n);
		len = nl ? (size_t)(nl - p) : n;
		if (!nl && (off_t)n < end)
			return 0;               /* need more */
		if (!nl && len <= HDRLEN && memcmp(p, hdr(s), len) == 0) {
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

/* Open the file (create: if missing).  1 if it is missing and not
 * created, 0, or -1 with the error slot set. */
static int
openfd_how(struct log *s, int create)
{
	struct stat st;

	s->rdonly = 0;
	s->fd = open(s->path, O_RDWR | O_APPEND | O_CLOEXEC |
	    (create ? O_CREAT : 0), 0600);
	if (s->fd < 0 && errno == ENOENT && !create)
		return 1;
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
openfd(struct log *s)
{
	return openfd_how(s, 1);
}

static int setlock(int fd, short type, int wait);
static int lockfile(struct log *s, short type);
static int catchup(struct log *s, int *torn);

/* Open the file (create: if missing) and replay it under a read lock:
 * 0; 1 if it is missing and not created; -1 with the error slot set. */
static int
lg_read(struct log *s, int create)
{
	int rc, torn;

	if ((rc = openfd_how(s, create)) != 0)
		return rc;
	if (lockfile(s, F_RDLCK) < 0)
		return -1;
	rc = catchup(s, &torn);
	setlock(s->fd, F_UNLCK, 0);
	return rc;
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
unlock(struct log *s)
{
	setlock(s->fd, F_UNLCK, 0);
}

/* Lock the file, waiting at most the timeout; if the path no longer
 * names our file (compacted, removed), reopen it and start over with an
 * empty state. */
static int
lockfile(struct log *s, short type)
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
catchup(struct log *s, int *torn)
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
	arena_hint(s, end - s->off);
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

	if (!p)
		p = "";
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

/* Appends the record TYPE to b, its fields as fmt says, a letter each:
 * s a string (NULL: ""), n a long long, v size_t n and n strings
 * (const char *const *), f int n and n staged files. */
static void
vrec(struct buf *b, const char *type, const char *fmt, va_list ap)
{
	size_t start = rec_begin(b, type), n;
	const struct store_file *f;
	const char *const *v;
	int k;

	for (; *fmt; fmt++) {
		if (*fmt == 's') {
			rec_str(b, va_arg(ap, const char *));
		} else if (*fmt == 'n') {
			rec_num(b, va_arg(ap, long long));
		} else if (*fmt == 'v') {
			n = va_arg(ap, size_t);
			for (v = va_arg(ap, const char *const *); n--; v++)
				rec_str(b, *v);
		} else {
			k = va_arg(ap, int);
			for (f = va_arg(ap, const struct store_file *);
			    k-- > 0; f++) {
				rec_str(b, f->path);
				rec_str(b, f->uuid);
				rec_num(b, f->uid);
				rec_num(b, f->gid);
				buf_printf(b, "\t%04o", f->mode);
			}
		}
	}
	rec_end(b, start);
}

static void
rec(struct buf *b, const char *type, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vrec(b, type, fmt, ap);
	va_end(ap);
}

static int emit_noted(struct log *s);

/* Append s->rec to the file with one write; a failed write is cut off
 * again. */
static int
write_rec(struct log *s)
{
	int e;

	if (writeall(s->fd, s->rec.p, s->rec.len) < 0) {
		e = errno;
		if (ftruncate(s->fd, s->off) < 0)
			logmsg(LOG_WARNING, "%s: cannot undo a short write:",
			    s->path);
		errno = e;
		seterr("%s: write:", s->path);
		return -1;
	}
	s->dirty = 1;
	s->lineno++;
	s->nrec++;
	s->off += (off_t)s->rec.len;
	return 0;
}

/* apply_line() on a copy of s->rec (one record, ended). */
static const char *
apply_rec(struct log *s, int dry)
{
	buf_reset(&s->scratch);
	buf_add(&s->scratch, s->rec.p, s->rec.len);
	return apply_line(s, s->scratch.p, s->rec.len - CRCLEN - 2, dry);
}

/* Write s->rec (one record, ended) with one write and replay it. */
static int
emit(struct log *s)
{
	size_t len = s->rec.len - CRCLEN - 2;
	const char *why;

	if ((why = apply_rec(s, 1))) {
		seterr("%s: refusing to write an invalid record (%s)", s->path,
		    why);
		return -1;
	}
	if (s->owner)
		return emit_noted(s);
	if (write_rec(s) < 0)
		return -1;
	if ((why = apply_line(s, s->rec.p, len, 0))) {
		seterr("%s: internal error: wrote a bad record (%s)", s->path,
		    why);
		return -1;
	}
	return 0;
}

/* Write the record TYPE with fields as for rec(). */
static int
wrec(struct log *s, const char *type, const char *fmt, ...)
{
	va_list ap;

	buf_reset(&s->rec);
	va_start(ap, fmt);
	vrec(&s->rec, type, fmt, ap);
	va_end(ap);
	return emit(s);
}

static int
write_header(struct log *s)
{
	char h[HDRLEN + 1];

	memcpy(h, hdr(s), HDRLEN);
	h[HDRLEN] = '\n';
	if (writeall(s->fd, h, sizeof h) < 0) {
		seterr("%s: write:", s->path);
		if (ftruncate(s->fd, 0) < 0)
			logmsg(LOG_WARNING, "%s: truncate:", s->path);
		return -1;
	}
	s->dirty = 1;
	s->off = sizeof h;
	s->lineno = 1;
	return 0;
}

static int compact_locked(struct log *s);
static void lg_close(struct log *s);
static int note(struct store *st, struct log *l, long long size,
    int touched);
static struct store_branch *se_branches(struct session *se, size_t *n);
static struct store_kv *se_env(struct session *se, size_t *n);

/* Under the write lock: rewrite a log in which replay skipped corrupt
 * records without them.  A failure leaves the log as it was. */
static void
repair(struct log *s)
{
	long long n = s->nbad;

	if (compact_locked(s) < 0)
		logmsg(LOG_WARNING, "%s", geterr());
	else
		logmsg(LOG_WARNING, "%s: rewrote the log without %lld corrupt "
		    "record%s", s->path, n, n == 1 ? "" : "s");
}

static int
lg_begin(struct log *s)
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
live_records(struct log *s)
{
	long long n = 1;
	size_t i;
	const struct session *se;

	for (i = 0; i < s->nsess; i++) {
		se = &s->sess[i];
		if (s->type == LOG_INDEX) {
			n += se->inent > 0;
			continue;
		}
		n += (long long)(se->nent + se->nbr + se->npend) +
		    !!se->active + !!se->nenv + (se->nhist > se->hoff);
	}
	return n;
}

/* fsync the file if written since the last: 0, or -1 (error slot). */
static int
lg_sync(struct log *s)
{
	int rc = 0;

	if (s->dirty && fsync(s->fd) < 0) {
		seterr("%s: fsync:", s->path);
		rc = -1;
	}
	s->dirty = 0;
	return rc;
}

static int
lg_commit(struct log *s)
{
	int rc;

	if (!s->locked || --s->locked)
		return 0;
	if ((rc = lg_sync(s)) == 0 && s->nrec >= COMPACT_MIN &&
	    s->nrec > 2 * live_records(s) && compact_locked(s) < 0)
		logmsg(LOG_WARNING, "%s", geterr());
	unlock(s);
	return rc;
}

/* End of a one-shot mutation: keeps rc's error message. */
static int
finish(struct log *s, int rc)
{
	if (lg_commit(s) < 0)
		return -1;
	return rc;
}

/* ---- dump and compaction ---- */

/* Sessions in the order of their last update: time, then sequence,
 * then key (sessions without history). */
static int
order(long long t1, unsigned long long q1, const char *k1, long long t2,
    unsigned long long q2, const char *k2)
{
	if (t1 != t2)
		return t1 < t2 ? -1 : 1;
	if (q1 != q2)
		return q1 < q2 ? -1 : 1;
	return strcmp(k1, k2);
}

static int
cmp_sess(const void *a, const void *b)
{
	const struct session *x = *(struct session *const *)a;
	const struct session *y = *(struct session *const *)b;

	return order(x->updated, x->seq, x->key, y->updated, y->seq, y->key);
}

/* The sessions of s with history (hist), else those a dump keeps (in
 * the index: with history; in a log: with any state), oldest update
 * first.  Caller frees. */
static struct session **
sessions(struct log *s, int hist, size_t *n)
{
	struct session **v = xreallocarray(NULL, s->nsess + 1, sizeof *v);
	struct session *se;
	size_t i, k = 0;

	for (i = 0; i < s->nsess; i++) {
		se = &s->sess[i];
		if (hist || s->type == LOG_INDEX ? se->nent || se->inent :
		    !sess_empty(se))
			v[k++] = se;
	}
	qsort(v, k, sizeof *v, cmp_sess);
	*n = k;
	return v;
}

/* Strings, or structures that start with one, by that string. */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}


/* Session se as records; returns how many. */
static long long
dump_session(struct session *se, struct buf *b)
{
	struct store_branch *br;
	struct store_kv *env;
	const struct store_entry *e;
	size_t j, nb, st;
	long long nrec = (long long)se->nent;

	for (j = 0; j < se->nent; j++) {
		e = se->ent[j];
		rec(b, "entry", "nsnnsssssf", e->id, se->key, e->parent,
		    e->created, "", e->kind, e->image, e->op, e->title,
		    e->nfiles, e->files);
	}
	br = se_branches(se, &nb);
	for (j = 0; j < nb; j++)
		rec(b, "branch", "ssn", se->key, br[j].name, br[j].tip->id);
	nrec += (long long)nb;
	free(br);
	if (se->active) {
		rec(b, "checkout", "ssn", se->key, se->active, se->updated);
		nrec++;
	}
	if (se->nenv) {
		env = se_env(se, &nb);
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
	for (j = 0; j < se->npend; j++)
		rec(b, "pending", "sssss", se->key, se->pend[j].op,
		    se->pend[j].disposable ? "1" : "0", se->pend[j].branch,
		    se->pend[j].title);
	nrec += (long long)se->npend;
	if (se->nhist > se->hoff) {
		rec(b, "hist", "sv", se->key, se->nhist - se->hoff,
		    (const char *const *)se->hist + se->hoff);
		nrec++;
	}
	return nrec;
}

/* An index summary record: a session whose log is size bytes long. */
static void
rec_sum(struct buf *b, const char *key, long long size,
    unsigned long long seq, long long max, size_t nent, long long updated,
    const char *branch, const struct store_entry *tip)
{
	rec(b, "sess", "snnnnnsnsssn", key, size, (long long)seq, max,
	    (long long)nent, updated, branch, tip ? tip->id : 0,
	    tip ? tip->kind : "", tip ? tip->image : "", tip ? tip->op : "",
	    tip ? tip->created : 0);
}

/* The summary record of the index for key: the session se (NULL: none)
 * of a log whose highest id is max and which is size bytes long. */
static void
rec_sess(struct buf *b, const char *key, struct session *se, long long max,
    long long size, unsigned long long seq)
{
	rec_sum(b, key, size, seq, max, se ? se->nent : 0,
	    se ? se->updated : 0, se ? se->active : NULL, sess_tip(se));
}

static void
dump_maxid(struct buf *b, long long maxid)
{
	if (maxid)
		rec(b, "maxid", "n", maxid);
}

/* The live state as a log; returns the number of records.  The index
 * keeps the sessions that have history. */
static long long
dump(struct log *s, struct buf *b)
{
	size_t i, n;
	struct session **v = sessions(s, 0, &n);
	long long nrec = !!s->maxid;

	buf_puts(b, hdr(s));
	buf_addc(b, '\n');
	dump_maxid(b, s->maxid);
	for (i = 0; i < n; i++) {
		if (s->type == LOG_INDEX) {
			rec_sum(b, v[i]->key, v[i]->isize, v[i]->seq,
			    v[i]->imax, v[i]->inent, v[i]->updated,
			    v[i]->ibranch, v[i]->itip);
			nrec++;
		} else {
			nrec += dump_session(v[i], b);
		}
	}
	free(v);
	return nrec;
}

static void
lg_dump(struct log *s, struct buf *out)
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

/* A temporary file next to path holding b, synced: its descriptor, and
 * *tmp its name (caller frees).  -1 with the error slot set ("TMP" what
 * ":"), nothing left behind. */
static int
tmp_write(const char *path, const struct buf *b, char **tmp,
    const char *what)
{
	int fd;

	*tmp = xasprintf("%s" TMPSUF "%ld.XXXXXX", path, (long)getpid());
	if ((fd = mkstemp(*tmp)) < 0 || fchmod(fd, 0600) < 0 ||
	    writeall(fd, b->p, b->len) < 0 || fsync(fd) < 0) {
		seterr("%s%s:", *tmp, what);
		if (fd >= 0) {
			close(fd);
			unlink(*tmp);
		}
		return -1;
	}
	return fd;
}

/* Holding the lock: write the live state to a temp file, lock it, and
 * rename it over the log.  Our state does not change; only the file. */
static int
compact_locked(struct log *s)
{
	struct buf b = {0};
	struct stat st;
	char *tmp;
	long long nrec = dump(s, &b);
	int fd = tmp_write(s->path, &b, &tmp, ": compaction");

	if (fd < 0)
		goto fail;
	if (fcntl(fd, F_SETFL, O_APPEND) < 0 ||
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
	if (s->owner && note(s->owner, s, (long long)s->off, 0) < 0)
		logmsg(LOG_WARNING, "%s", geterr());
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

static int
lg_compact(struct log *s)
{
	if (lg_begin(s) < 0)
		return -1;
	return finish(s, compact_locked(s));
}

/* ---- open, close ---- */

/* Appends s as a file name: bytes other than [A-Za-z0-9_-] and a
 * non-leading '.' as %XX; stops once that added more than max bytes.
 * Returns where it stopped. */
static const char *
fname(struct buf *b, const char *s, size_t max)
{
	size_t start = b->len;
	const char *p;

	for (p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		    (c == '.' && p != s))
			buf_addc(b, c);
		else
			buf_printf(b, "%%%02X", c);
		if (b->len - start > max)
			break;
	}
	return p;
}

char *
store_path(const char *home, const char *profile)
{
	const char *db = getenv("CONTREE_SESSION_DB");
	struct buf b = {0};

	if (db && *db)
		return xstrdup(db);
	buf_printf(&b, "%s/cli/sessions/", home);
	fname(&b, profile, SIZE_MAX);
	buf_puts(&b, ".log");
	return b.p;
}

/* The pid in p if p is <pid> "." XXXXXX (what follows TMPSUF in the
 * name of a temporary file) and that process no longer exists; else 0. */
static long
dead_pid(const char *p)
{
	const char *q;
	long pid = 0;

	for (q = p; *q >= '0' && *q <= '9' && q - p < 9; q++)
		pid = pid * 10 + (*q - '0');
	return pid > 0 && *q == '.' && strlen(q + 1) == 6 &&
	    kill((pid_t)pid, 0) < 0 && errno == ESRCH ? pid : 0;
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
		if (strncmp(d->d_name, base, bl) == 0 &&
		    strncmp(d->d_name + bl, TMPSUF, sizeof TMPSUF - 1) == 0 &&
		    (pid = dead_pid(d->d_name + bl + sizeof TMPSUF - 1))) {
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

static struct log *log_new(const char *path, int type, int64_t timeout_ms);

/* Make directory dir (mode 0700) if missing: 0, or -1 (error slot). */
static int
need_dir(const char *dir)
{
	return access(dir, F_OK) < 0 && mkdirs(dir, 0700) < 0 ? -1 : 0;
}

static struct log *
lg_open(const char *path, int type)
{
	struct log *s = log_new(path, type, db_timeout());
	char *dir = xstrdup(path), *sl = strrchr(dir, '/');

	if (sl && sl != dir)
		*sl = '\0';
	if (sl && sl != dir && need_dir(dir) < 0) {
		free(dir);
		goto fail;
	}
	free(dir);
	if (lg_read(s, 1) < 0)
		goto fail;
	if (s->off == 0 && !s->rdonly) {
		/* New file (or one that died being created): format line. */
		if (lg_begin(s) < 0 || lg_commit(s) < 0)
			goto fail;
	}
	if (!s->rdonly)
		sweep(s->path);
	return s;
fail:
	lg_close(s);
	return NULL;
}


static void
lg_close(struct log *s)
{
	struct chunk *c, *next;

	if (!s)
		return;
	if (s->locked) {
		s->locked = 1;
		if (lg_commit(s) < 0)
			logmsg(LOG_WARNING, "%s", geterr());
	}
	if (s->fd >= 0)
		close(s->fd);
	reset_state(s);
	for (c = s->chunks; c; c = next) {
		next = c->next;
		if (c->mapped)
			munmap(c, CHUNKHDR + c->cap);
		else
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

static int
lg_get(struct log *s, const char *key, struct store_session *out)
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

static struct store_session *
lg_list(struct log *s, size_t *n)
{
	struct store_session *v;
	size_t i, k;
	/* Oldest first by (updated, seq); reversed below. */
	struct session **o = sessions(s, 1, &k);

	v = xreallocarray(NULL, k + 1, sizeof *v);
	for (i = 0; i < k; i++)
		lg_get(s, o[k - 1 - i]->key, &v[i]);
	free(o);
	*n = k;
	return v;
}

static const struct store_entry *
lg_tip(struct log *s, const char *key)
{
	return sess_tip(sess_get(s, key, 0));
}

static const struct store_entry *
lg_entry(struct log *s, const char *key, long long id)
{
	struct session *se = sess_get(s, key, 0);

	return se ? ent_find(se, id) : NULL;
}

static const struct store_entry **
se_entries(struct session *se, size_t *n)
{
	*n = se ? se->nent : 0;
	return dup_array(se ? se->ent : NULL, *n, sizeof *se->ent);
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

static const struct store_entry *
lg_forward(struct log *s, const struct store_entry *e, long long n,
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
walk(struct log *s, const char *key, int dir, long long n)
{
	const struct store_entry *tip = lg_tip(s, key), *e = NULL;
	long long have = 0;

	if (!tip) {
		seterr("no session '%s'", key);
		return NULL;
	}
	if (dir < 0 && !(e = store_back(tip, n, &have)))
		seterr("cannot go back %lld steps, only %lld ancestors", n,
		    have);
	else if (dir > 0 && !(e = lg_forward(s, tip, n, &have)))
		seterr("cannot go forward %lld steps, only %lld", n, have);
	else if (dir == 0 && !(e = lg_entry(s, key, n)))
		seterr("entry %lld not found in this session", n);
	return e;
}

static const struct store_entry *
lg_target(struct log *s, const char *key, const char *t)
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

static int
lg_ref_entry(struct log *s, const char *key, const char *t,
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

/* Below: what the queries return about the tip e (NULL: none). */

static long long
lg_depth(const struct store_entry *e)
{
	long long n = 0;

	for (; e; e = e->up)
		n++;
	return n;
}

static const char *
lg_cwd(const struct store_entry *e)
{
	for (; e; e = e->up)
		if (e->kind == kinds[K_CD])
			return *e->title ? e->title : NULL;
	return NULL;
}

static struct store_file *
lg_pending_files(const struct store_entry *e, size_t *n)
{
	struct store_file *v = NULL;
	size_t k = 0, cap = 0;
	int i;

	for (; e && e->kind != kinds[K_RUN]; e = e->up) {
		if (e->kind != kinds[K_FILE])
			continue;
		for (i = e->nfiles - 1; i >= 0; i--)
			if (find_str(v, k, sizeof *v, e->files[i].path) == k) {
				v = grow(v, k, &cap, sizeof *v);
				v[k++] = e->files[i];
			}
	}
	*n = k;
	return v;
}

/* Below: what the queries return about session se (NULL: none). */

static const char *
se_active(struct session *se)
{
	return se ? se->active : NULL;
}

static const struct store_entry *
se_branch_tip(struct session *se, const char *name)
{
	struct store_branch *b = se ? br_find(se, name) : NULL;

	return b ? b->tip : NULL;
}

/* A malloc'd copy of v[0..n), each size bytes and a string first,
 * sorted by those strings. */
static void *
sorted(const void *v, size_t n, size_t size)
{
	void *p = dup_array(v, n, size);

	qsort(p, n, size, cmp_str);
	return p;
}

static struct store_branch *
se_branches(struct session *se, size_t *n)
{
	*n = se ? se->nbr : 0;
	return sorted(se ? se->br : NULL, *n, sizeof *se->br);
}

static struct store_kv *
se_env(struct session *se, size_t *n)
{
	*n = se ? se->nenv : 0;
	return sorted(se ? se->env : NULL, *n, sizeof *se->env);
}

static struct store_pending *
se_pending(struct session *se, size_t *n)
{
	*n = se ? se->npend : 0;
	return dup_array(se ? se->pend : NULL, *n, sizeof *se->pend);
}

static const char **
se_history(struct session *se, size_t *n)
{
	*n = se ? se->nhist - se->hoff : 0;
	return dup_array(se ? se->hist + se->hoff : NULL, *n, sizeof *se->hist);
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
need_session(struct log *s, const char *key, struct session **out,
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

static int
lg_ref(struct log *s, const char *key, const char *t,
    const struct store_entry **out)
{
	int k = lg_ref_entry(s, key, t, out);

	if (k == 1 && !*(*out)->op) {
		seterr("entry %lld (%s) has no operation", (*out)->id,
		    (*out)->kind);
		*out = NULL;
		return -1;
	}
	return k;
}

/* ==== the profile: an index and one log per session ====
 *
 * <path> is the index (format line "contree-log 2"): maxid records and
 * one "sess" record per change of a session, summarising that session's
 * log as it is after the change; <path>.d/<name>.log is the log of one
 * session (the format above, every record of that key).  A writer locks
 * the index, then the session's log; it applies the record in memory,
 * appends the new summary to the index (with the log's size after the
 * record), then appends the record to the session's log; fsyncs the
 * index, then the log.  So ids are issued under the index lock, and a
 * crash between the two appends leaves a summary whose size the log
 * does not have: whoever sees that (session list, the next writer of
 * the session) replays that log and appends a correct summary. */

#define NAMEFILE 160            /* longer encoded names are hashed */

/* Session key -> file name below <path>.d: bytes other than
 * [A-Za-z0-9_-] and a non-leading '.' as %XX, then ".log"; a name that
 * gets too long keeps its first part and adds 128 bits of hash. */
static void
sess_name(struct buf *b, const char *key)
{
	size_t start = b->len, n = strlen(key), i;
	uint64_t h1 = 0xcbf29ce484222325u, h2 = 0x84222325cbf29ce4u;

	if (*fname(b, key, NAMEFILE)) {
		b->len = start + NAMEFILE - 40;
		while (b->len > start && b->len - start >= 2 &&
		    (b->p[b->len - 1] == '%' || b->p[b->len - 2] == '%'))
			b->len--;
		for (i = 0; i < n; i++) {
			h1 = (h1 ^ (unsigned char)key[i]) * 0x100000001b3u;
			h2 = (h2 ^ (unsigned char)key[n - 1 - i]) *
			    0x100000001b3u;
			h2 ^= h2 >> 29;
		}
		buf_printf(b, "~%016llx%016llx", (unsigned long long)h1,
		    (unsigned long long)h2);
	}
	buf_puts(b, ".log");
}

static char *
sess_file(const char *dir, const char *key)
{
	struct buf b = {0};

	buf_printf(&b, "%s/", dir);
	sess_name(&b, key);
	return b.p;
}

char *
store_session_file(const char *path, const char *key)
{
	char *dir = xasprintf("%s.d", path), *f = sess_file(dir, key);

	free(dir);
	return f;
}

static struct log *
log_new(const char *path, int type, int64_t timeout_ms)
{
	struct log *l = xcalloc(1, sizeof *l);

	l->fd = -1;
	l->type = type;
	l->path = xstrdup(path);
	l->timeout_ms = timeout_ms;
	return l;
}

/* The session log of key, if read already. */
static struct log *
slog_find(struct store *st, const char *key)
{
	size_t i;

	for (i = 0; i < st->nlogs; i++)
		if (strcmp(st->logs[i]->only, key) == 0)
			return st->logs[i];
	return NULL;
}

static void
slog_add(struct store *st, struct log *l)
{
	st->logs = grow(st->logs, st->nlogs, &st->clogs, sizeof *st->logs);
	st->logs[st->nlogs++] = l;
}

/* Read the log of key (missing: empty).  Never fails: a log that cannot
 * be read is empty, with a warning; writing it then fails. */
static struct log *
slog_load(struct store *st, const char *key)
{
	char *path = sess_file(st->dir, key);
	struct log *l = log_new(path, LOG_SESSION, st->timeout_ms);

	free(path);
	l->owner = st;
	l->onlylen = strlen(key);
	l->only = keepn(l, key, l->onlylen);
	slog_add(st, l);
	if (lg_read(l, 0) < 0) {
		logmsg(LOG_WARNING, "%s", geterr());
		reset_state(l);
	}
	/* A process may read many sessions (the MCP server): no
	 * descriptor kept; wlog opens it again. */
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	return l;
}

static struct session *
slog_sess(struct log *l)
{
	return sess_find(l, l->only, l->onlylen, 0);
}

/* Index summary of key, or NULL. */
static struct session *
isum(struct store *st, const char *key, size_t n)
{
	return sess_find(st->idx, key, n, 0);
}

/* Append to the index (locked) the summary of session log l, size bytes
 * long; touched: the change counts as an update (moves the session to
 * the top of the list). */
static int
note(struct store *st, struct log *l, long long size, int touched)
{
	struct log *ix = st->idx;
	struct session *is = isum(st, l->only, l->onlylen);
	unsigned long long seq = touched || !is ? ix->iseq + 1 : is->seq;

	if (!ix->locked) {
		seterr("%s: internal error: index not locked", ix->path);
		return -1;
	}
	buf_reset(&ix->rec);
	rec_sess(&ix->rec, l->only, slog_sess(l), l->maxid, size, seq);
	return emit(ix);
}

/* Under both locks: if the index does not describe l as it is (a writer
 * died between the index and the log, or a log was repaired), say
 * what it is now. */
static void
check_sum(struct store *st, struct log *l, int quiet)
{
	struct session *is = isum(st, l->only, l->onlylen), *se = slog_sess(l);

	if (is ? is->isize != (long long)l->off : se && !sess_empty(se)) {
		if (note(st, l, (long long)l->off, 0) < 0 && !quiet)
			logmsg(LOG_WARNING, "%s", geterr());
	}
}

/* emit() for a session log of a profile: apply, note the index, write. */
static int
emit_noted(struct log *s)
{
	size_t len = s->rec.len;
	struct session *se = slog_sess(s);
	unsigned long long before = se ? se->seq : 0;
	int had = se != NULL, torn;
	const char *why;

	if ((why = apply_rec(s, 0))) {
		seterr("%s: internal error: a bad record (%s)", s->path, why);
		goto reload;
	}
	se = slog_sess(s);
	if (note(s->owner, s, (long long)s->off + (long long)len,
	    !had || !se || se->seq != before) < 0)
		goto reload;
	hook("append: index written");
	if (write_rec(s) == 0)
		return 0;
reload:
	/* Our state is ahead of the file: read the file again. */
	reset_state(s);
	if (catchup(s, &torn) < 0)
		logmsg(LOG_WARNING, "%s", geterr());
	else {
		/* best effort, quietly: the write failure is the error
		 * reported (and the next writer repairs the index) */
		char *e = xstrdup(geterr());
		int cls = geterrclass();

		check_sum(s->owner, s, 1);
		seterrc(cls, "%s", e);
		free(e);
	}
	return -1;
}

/* In a transaction: the log of key, locked, newest state.  NULL with
 * the error slot set. */
static struct log *
wlog(struct store *st, const char *key)
{
	struct log *l = slog_find(st, key);

	if (!l)
		l = slog_load(st, key);
	if (l->locked)
		return l;
	if (l->fd < 0) {
		dev_t dev = l->dev;
		ino_t ino = l->ino;

		if (need_dir(st->dir) < 0 || openfd(l) < 0)
			return NULL;
		if (l->dev != dev || l->ino != ino)
			reset_state(l);         /* not the file we read */
	}
	if (lg_begin(l) < 0)
		return NULL;
	check_sum(st, l, 0);
	sweep(l->path);
	return l;
}

/* For a query: the log of key (in a transaction: locked, newest). */
static struct log *
qlog(struct store *st, const char *key)
{
	struct log *l;

	if (st->single)
		return st->idx;
	if (!key)
		key = "";
	if (!(l = slog_find(st, key)))
		l = slog_load(st, key);
	if (st->locked && !l->locked && *key && !wlog(st, key))
		logmsg(LOG_WARNING, "%s", geterr());
	return l;
}

int
store_begin(struct store *st)
{
	if (st->single)
		return lg_begin(st->idx);
	if (st->locked) {
		st->locked++;
		return 0;
	}
	if (lg_begin(st->idx) < 0)
		return -1;
	st->locked = 1;
	return 0;
}

int
store_commit(struct store *st)
{
	struct log *ix = st->idx;
	size_t i;
	int rc = 0;

	if (st->single)
		return lg_commit(ix);
	if (!st->locked || --st->locked)
		return 0;
	/* The index first: it never lags behind a session's log. */
	rc = lg_sync(ix);
	for (i = 0; i < st->nlogs; i++)
		if (st->logs[i]->locked) {
			st->logs[i]->locked = 1;
			if (lg_commit(st->logs[i]) < 0)
				rc = -1;
		}
	if (lg_commit(ix) < 0)
		rc = -1;
	return rc;
}

/* A mutation of session key starts: the transaction and the session's
 * log, locked and caught up.  NULL with the error slot set. */
static struct log *
mbegin(struct store *st, const char *key)
{
	struct log *l;
	char *e;

	if (need_key(key) < 0 || store_begin(st) < 0)
		return NULL;
	if (st->single)
		return st->idx;
	if (!(l = wlog(st, key))) {
		e = xstrdup(geterr());
		store_commit(st);
		seterr("%s", e);
		free(e);
	}
	return l;
}

/* The end of a mutation that returns rc: -1 if the commit fails. */
static long long
mend(struct store *st, long long rc)
{
	return store_commit(st) < 0 ? -1 : rc;
}

/* ---- migration from one log per profile, rebuilding the index ---- */

/* Write b to path atomically (temp + fsync + rename), mode 0600. */
static int
write_atomic(const char *path, const struct buf *b)
{
	char *tmp;
	int fd = tmp_write(path, b, &tmp, ""), rc = -1;

	if (fd < 0) {
		free(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0)
		seterr("%s: rename:", path);
	else
		rc = 0;
	close(fd);
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

/* Is name a temporary file (TMPSUF pid . XXXXXX) of a dead process? */
static int
stale_tmp(const char *name)
{
	const char *p = NULL, *q;

	for (q = name; (q = strstr(q, TMPSUF)); q++)
		p = q;
	return p && dead_pid(p + sizeof TMPSUF - 1);
}

/* Is name that of a session log (not a temporary file)? */
static int
is_log(const char *name)
{
	size_t n = strlen(name);

	return n >= 5 && strcmp(name + n - 4, ".log") == 0 &&
	    !strstr(name, TMPSUF);
}

/* Remove the files of directory dir (open as dp, closed here): all, or
 * the logs and the temporary files of dead processes. */
static void
unlink_in(const char *dir, DIR *dp, int all)
{
	struct dirent *d;
	char *f;

	while ((d = readdir(dp))) {
		if (all ? strcmp(d->d_name, ".") == 0 ||
		    strcmp(d->d_name, "..") == 0 :
		    !stale_tmp(d->d_name) && !is_log(d->d_name))
			continue;
		f = xasprintf("%s/%s", dir, d->d_name);
		unlink(f);
		free(f);
	}
	closedir(dp);
}

/* Remove from dir (made if missing) every log and the temporary files
 * of dead processes: a migration starts over. */
static int
clean_dir(const char *dir)
{
	DIR *dp;

	if (!(dp = opendir(dir))) {
		if (errno == ENOENT)
			return mkdirs(dir, 0700);
		seterr("%s:", dir);
		return -1;
	}
	unlink_in(dir, dp, 0);
	return 0;
}

static long long
last_id(const struct session *se)
{
	return se->nent ? se->ent[se->nent - 1]->id : 0;
}

/* The profile's log is a single-file log: split it into one log per
 * session and an index, which replaces it (rename) as the last step.
 * Until then the old log is untouched; a crash leaves it, and the
 * next open starts over.  Holds the old log's lock throughout. */
static int
migrate(struct store *st)
{
	struct log *v = log_new(st->path, LOG_ANY, st->timeout_ms);
	struct buf ib = {0}, b = {0};
	struct session **ss = NULL;
	char h[HDRLEN], *f;
	size_t i, n = 0;
	int torn, rc = -1;

	if (openfd(v) < 0 || lockfile(v, F_WRLCK) < 0)
		goto out;
	if (pread(v->fd, h, HDRLEN, 0) != (ssize_t)HDRLEN ||
	    memcmp(h, HEADER, HDRLEN) != 0) {
		rc = 0;                 /* migrated by another process */
		goto out;
	}
	if (catchup(v, &torn) < 0)
		goto out;
	hook("migrate: read");
	if (clean_dir(st->dir) < 0)
		goto out;
	ss = sessions(v, 0, &n);
	buf_puts(&ib, HEADER2 "\n");
	dump_maxid(&ib, v->maxid);
	for (i = 0; i < n; i++) {
		buf_reset(&b);
		buf_puts(&b, HEADER "\n");
		dump_session(ss[i], &b);
		f = sess_file(st->dir, ss[i]->key);
		rc = write_atomic(f, &b);
		free(f);
		if (rc < 0)
			goto out;
		rc = -1;
		rec_sess(&ib, ss[i]->key, ss[i], last_id(ss[i]),
		    (long long)b.len, i + 1);
		hook("migrate: session written");
	}
	f = xasprintf("%s/.", st->dir);
	syncdir(f);
	free(f);
	hook("migrate: sessions written");
	if (write_atomic(st->path, &ib) < 0)
		goto out;
	syncdir(st->path);
	hook("migrate: index written");
	logmsg(LOG_INFO, "%s: moved %zu session%s to one log each in %s",
	    st->path, n, n == 1 ? "" : "s", st->dir);
	rc = 0;
out:
	free(ss);
	buf_free(&b);
	buf_free(&ib);
	lg_close(v);
	return rc;
}

static int
cmp_log_updated(const void *a, const void *b)
{
	struct log *x = *(struct log *const *)a, *y = *(struct log *const *)b;
	struct session *p = slog_sess(x), *q = slog_sess(y);

	return order(p->updated, 0, p->key, q->updated, 0, q->key);
}

/* A session log of dir, read to learn its key (NULL: not one). */
static struct log *
orphan(struct store *st, const char *name)
{
	char *path = xasprintf("%s/%s", st->dir, name), *want;
	struct log *l = log_new(path, LOG_SESSION, st->timeout_ms);
	size_t i;
	int ok;

	free(path);
	l->owner = st;
	ok = lg_read(l, 0) == 0;
	for (i = 0; ok && i < l->nsess; i++)
		if (l->sess[i].nent)
			break;
	if (!ok || i >= l->nsess) {
		lg_close(l);
		return NULL;
	}
	l->only = l->sess[i].key;
	l->onlylen = l->sess[i].klen;
	want = sess_file(st->dir, l->only);
	if (strcmp(want, l->path) != 0 || slog_find(st, l->only)) {
		logmsg(LOG_WARNING, "%s: not the log of session '%s'; ignored",
		    l->path, l->only);
		lg_close(l);
		l = NULL;
	}
	free(want);
	return l;
}

/* The index is empty but session logs exist (the index was lost):
 * summarise every session log into it again. */
static void
rebuild(struct store *st)
{
	struct log **v = NULL, *l;
	size_t n = 0, cap = 0, i;
	struct dirent *d;
	DIR *dp;

	if (!(dp = opendir(st->dir)))
		return;
	if (store_begin(st) < 0) {
		logmsg(LOG_WARNING, "%s", geterr());
		closedir(dp);
		return;
	}
	while (!st->idx->nsess && (d = readdir(dp))) {
		if (!is_log(d->d_name) || !(l = orphan(st, d->d_name)))
			continue;
		v = grow(v, n, &cap, sizeof *v);
		v[n++] = l;
		slog_add(st, l);
	}
	closedir(dp);
	if (n)
		qsort(v, n, sizeof *v, cmp_log_updated);
	for (i = 0; i < n; i++)
		if (!wlog(st, v[i]->only))
			logmsg(LOG_WARNING, "%s", geterr());
	if (store_commit(st) < 0)
		logmsg(LOG_WARNING, "%s", geterr());
	else if (n)
		logmsg(LOG_WARNING, "%s: rebuilt the index from %zu session "
		    "log%s", st->path, n, n == 1 ? "" : "s");
	free(v);
}

/* ---- open, close (the interface) ---- */

/* The first bytes of path; 0 if missing or empty. */
static ssize_t
peek(const char *path, char *h, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return 0;
	r = pread(fd, h, n, 0);
	close(fd);
	return r < 0 ? 0 : r;
}

static struct store *
store_new(const char *path)
{
	struct store *st = xcalloc(1, sizeof *st);

	st->path = xstrdup(path);
	st->dir = xasprintf("%s.d", path);
	st->timeout_ms = db_timeout();
	return st;
}

/* Open st as one single-file log; NULL (st freed) on failure. */
static struct store *
open_single(struct store *st)
{
	st->single = 1;
	if (!(st->idx = lg_open(st->path, LOG_ANY))) {
		store_close(st);
		return NULL;
	}
	return st;
}

struct store *
store_open(const char *path)
{
	struct store *st = store_new(path);
	char h[HDRLEN + 1];

	if (peek(path, h, sizeof h) == (ssize_t)sizeof h &&
	    memcmp(h, HEADER "\n", sizeof h) == 0) {
		if (access(path, W_OK) < 0)
			return open_single(st); /* read the old log as it is */
		if (migrate(st) < 0)
			goto fail;
	}
	if (!(st->idx = lg_open(path, LOG_INDEX)))
		goto fail;
	if (!st->idx->nsess && !st->idx->maxid && !st->idx->rdonly)
		rebuild(st);
	return st;
fail:
	store_close(st);
	return NULL;
}

struct store *
store_open_file(const char *path)
{
	return open_single(store_new(path));
}

const char *
store_file(const struct store *st)
{
	return st->path;
}

void
store_close(struct store *st)
{
	size_t i;

	if (!st)
		return;
	if (!st->single && st->locked) {
		st->locked = 1;
		if (store_commit(st) < 0)
			logmsg(LOG_WARNING, "%s", geterr());
	}
	for (i = 0; i < st->nlogs; i++)
		lg_close(st->logs[i]);
	free(st->logs);
	lg_close(st->idx);
	free(st->dir);
	free(st->path);
	free(st);
}

int
store_remove(const char *path)
{
	char *dir = xasprintf("%s.d", path);
	int rc = unlink(path), e = errno;
	DIR *dp;

	if ((dp = opendir(dir))) {
		unlink_in(dir, dp, 1);
		if (rmdir(dir) == 0 && rc < 0)
			rc = 0;
	}
	free(dir);
	errno = e;
	return rc;
}

int
store_compact(struct store *st)
{
	size_t i;
	int rc;

	if (st->single)
		return lg_compact(st->idx);
	if (store_begin(st) < 0)
		return -1;
	rc = compact_locked(st->idx);
	for (i = 0; rc == 0 && i < st->nlogs; i++)
		if (wlog(st, st->logs[i]->only) == NULL ||
		    compact_locked(st->logs[i]) < 0)
			rc = -1;
	return mend(st, rc) < 0 ? -1 : 0;
}

struct dumped {
	struct session *se;
	unsigned long long seq;
};

static int
cmp_dumped(const void *a, const void *b)
{
	const struct dumped *x = a, *y = b;

	return order(x->se->updated, x->seq, x->se->key, y->se->updated,
	    y->seq, y->se->key);
}

void
store_dump(struct store *st, struct buf *out)
{
	struct log *ix = st->idx;
	struct dumped *v;
	struct session *se;
	size_t i, n = 0;

	if (st->single) {
		lg_dump(ix, out);
		return;
	}
	v = xreallocarray(NULL, ix->nsess + 1, sizeof *v);
	for (i = 0; i < ix->nsess; i++) {
		if ((se = slog_sess(qlog(st, ix->sess[i].key))) &&
		    !sess_empty(se)) {
			v[n].se = se;
			n++;
		}
	}
	/* Ordered as one log would be: by update, then index order. */
	for (i = 0; i < n; i++) {
		struct session *is = isum(st, v[i].se->key, v[i].se->klen);

		v[i].seq = is->seq;
	}
	qsort(v, n, sizeof *v, cmp_dumped);
	buf_puts(out, HEADER "\n");
	dump_maxid(out, ix->maxid);
	for (i = 0; i < n; i++)
		dump_session(v[i].se, out);
	free(v);
}

/* ---- queries ---- */

/* For a query: the session key, or NULL. */
static struct session *
qsess(struct store *st, const char *key)
{
	return sess_get(qlog(st, key), key, 0);
}

int
store_get(struct store *st, const char *key, struct store_session *out)
{
	return lg_get(qlog(st, key), key, out);
}

/* Sessions with history, each with the sequence number that orders
 * updates at the same second. */
struct listed {
	struct store_session s;
	unsigned long long seq;
};

static int
cmp_listed(const void *a, const void *b)
{
	const struct listed *x = a, *y = b;

	/* newest first; keys still in ascending order */
	return order(y->s.updated, y->seq, x->s.key, x->s.updated, x->seq,
	    y->s.key);
}

/* The index's view of a session is right if its log has the size the
 * index noted; else read the log (and correct the index). */
static int
list_one(struct store *st, const char *key, struct listed *out)
{
	struct session *is = isum(st, key, strlen(key));
	struct stat sb;
	struct log *l;
	char *f;
	int same;

	if (!is)
		return 0;
	f = sess_file(st->dir, is->key);
	same = stat(f, &sb) == 0 ? sb.st_size == is->isize : is->isize == 0;
	free(f);
	if (same) {
		if (!is->inent)
			return 0;
		out->s.key = is->key;
		out->s.branch = is->ibranch;
		out->s.tip = is->itip;
		out->s.updated = is->updated;
		out->s.nentries = is->inent;
		out->seq = is->seq;
		return 1;
	}
	if (!st->idx->rdonly && !st->locked) {
		if (store_begin(st) == 0) {
			if (!wlog(st, is->key))
				logmsg(LOG_WARNING, "%s", geterr());
			store_commit(st);
		} else {
			logmsg(LOG_WARNING, "%s", geterr());
		}
	}
	/* The repair may have reread the index: find it again. */
	is = isum(st, key, strlen(key));
	l = qlog(st, key);
	out->seq = is ? is->seq : 0;
	return lg_get(l, key, &out->s);
}

struct store_session *
store_list(struct store *st, size_t *n)
{
	struct store_session *v;
	struct listed *w;
	const char **keys;
	size_t i, k = 0, ns;

	if (st->single)
		return lg_list(st->idx, n);
	/* list_one may reread the index: go by keys (they stay) */
	ns = st->idx->nsess;
	keys = xreallocarray(NULL, ns + 1, sizeof *keys);
	for (i = 0; i < ns; i++)
		keys[i] = st->idx->sess[i].key;
	w = xreallocarray(NULL, ns + 1, sizeof *w);
	for (i = 0; i < ns; i++)
		k += (size_t)list_one(st, keys[i], &w[k]);
	free(keys);
	qsort(w, k, sizeof *w, cmp_listed);
	v = xreallocarray(NULL, k + 1, sizeof *v);
	for (i = 0; i < k; i++)
		v[i] = w[i].s;
	free(w);
	*n = k;
	return v;
}

size_t
store_match(struct store *st, const char *name, const char ***keys)
{
	struct store_session *l, one;
	const char **v;
	size_t i, k = 0, n, nl = strlen(name), kl;

	l = store_list(st, &n);
	v = xreallocarray(NULL, n + 1, sizeof *v);
	for (i = 0; i < n; i++) {
		kl = strlen(l[i].key);
		if (kl > nl && memcmp(l[i].key + kl - nl, name, nl) == 0)
			v[k++] = l[i].key;
	}
	free(l);
	if (!k && store_get(st, name, &one))
		v[k++] = one.key;
	qsort(v, k, sizeof *v, cmp_str);
	if (keys)
		*keys = v;
	else
		free(v);
	return k;
}

const struct store_entry *
store_tip(struct store *st, const char *key)
{
	return sess_tip(qsess(st, key));
}

const struct store_entry *
store_entry(struct store *st, const char *key, long long id)
{
	return lg_entry(qlog(st, key), key, id);
}

const struct store_entry **
store_entries(struct store *st, const char *key, size_t *n)
{
	return se_entries(qsess(st, key), n);
}

const struct store_entry *
store_forward(struct store *st, const struct store_entry *e, long long n,
    long long *have)
{
	return lg_forward(qlog(st, e ? e->key : ""), e, n, have);
}

const struct store_entry *
store_target(struct store *st, const char *key, const char *target)
{
	return lg_target(qlog(st, key), key, target);
}

int
store_ref(struct store *st, const char *key, const char *token,
    const struct store_entry **out)
{
	return lg_ref(qlog(st, key), key, token, out);
}

int
store_ref_entry(struct store *st, const char *key, const char *token,
    const struct store_entry **out)
{
	return lg_ref_entry(qlog(st, key), key, token, out);
}

long long
store_depth(struct store *st, const char *key)
{
	return lg_depth(store_tip(st, key));
}

const char *
store_cwd(struct store *st, const char *key)
{
	return lg_cwd(store_tip(st, key));
}

struct store_file *
store_pending_files(struct store *st, const char *key, size_t *n)
{
	return lg_pending_files(store_tip(st, key), n);
}

const char *
store_active(struct store *st, const char *key)
{
	return se_active(qsess(st, key));
}

const struct store_entry *
store_branch_tip(struct store *st, const char *key, const char *name)
{
	return se_branch_tip(qsess(st, key), name);
}

struct store_branch *
store_branches(struct store *st, const char *key, size_t *n)
{
	return se_branches(qsess(st, key), n);
}

struct store_kv *
store_env(struct store *st, const char *key, size_t *n)
{
	return se_env(qsess(st, key), n);
}

struct store_pending *
store_pending(struct store *st, const char *key, size_t *n)
{
	return se_pending(qsess(st, key), n);
}

const char **
store_history(struct store *st, const char *key, size_t *n)
{
	return se_history(qsess(st, key), n);
}

/* ---- mutations ---- */

/* 0 if n may be appended, else -1 with the error slot set. */
static int
check_new(const struct store_new *n)
{
	const struct store_file *f;
	int i;

	if (!n->kind || !kind_of(n->kind))
		seterr("unknown history entry kind '%s'",
		    n->kind ? n->kind : "(null)");
	else if (!n->image || !*n->image)
		seterr("history entry without an image");
	else if (!uuid_ok(n->image, strlen(n->image)))
		seterr("history entry image '%s' is not a UUID", n->image);
	else if (n->branch && !*n->branch)
		seterr("empty branch name");
	else
		for (i = 0;; i++) {
			if (i == n->nfiles)
				return 0;
			f = &n->files[i];
			if (!f->path || !*f->path || !f->uuid || f->uid < 0 ||
			    f->gid < 0 || f->mode > 07777) {
				seterr("bad staged file");
				break;
			}
		}
	return -1;
}

long long
store_append(struct store *st, const char *key, const struct store_new *n,
    int *forked)
{
	struct log *s;
	const struct store_entry *tip, *parent, *from;
	struct session *se;
	long long id;

	if (forked)
		*forked = 0;
	/* before the lock: a bad entry must not write a header or repair */
	if (check_new(n) < 0 || !(s = mbegin(st, key)))
		return -1;
	se = sess_get(s, key, 0);
	tip = parent = sess_tip(se);
	if (n->from > 0) {
		if ((from = se ? ent_find(se, n->from) : NULL))
			parent = from;
		if (forked)
			*forked = !tip || tip->id != n->from;
	}
	id = s->maxid + 1;
	if (s->owner && s->owner->idx->maxid >= id)
		id = s->owner->idx->maxid + 1;
	return mend(st, wrec(s, "entry", "nsnnsssssf", id, key,
	    parent ? parent->id : 0, (long long)time(NULL),
	    n->branch ? n->branch : se && se->active ? se->active : "main",
	    kind_of(n->kind), n->image, n->op, n->title, n->nfiles, n->files)
	    < 0 ? -1 : id);
}

/* "branch 'NAME' not found" unless se has branch name. */
static struct store_branch *
need_branch(struct session *se, const char *name)
{
	struct store_branch *b = name ? br_find(se, name) : NULL;

	if (!b)
		seterr("branch '%s' not found", name ? name : "");
	return b;
}

int
store_branch_create(struct store *st, const char *key, const char *name,
    const char *from)
{
	struct log *s = mbegin(st, key);
	struct session *se;
	struct store_branch *src;
	int rc = -1;

	if (!s)
		return -1;
	if (!name || !*name) {
		seterr("empty branch name");
		goto out;
	}
	if (need_session(s, key, &se, 1) < 0)
		goto out;
	if (br_find(se, name)) {
		seterr("branch '%s' already exists", name);
		goto out;
	}
	if ((src = need_branch(se, from ? from : se->active)))
		rc = wrec(s, "branch", "ssn", key, name, src->tip->id);
out:
	return (int)mend(st, rc);
}

int
store_branch_delete(struct store *st, const char *key, const char *name)
{
	struct log *s = mbegin(st, key);
	struct session *se;
	int rc = -1;

	if (!s)
		return -1;
	if (need_session(s, key, &se, 1) < 0 || !need_branch(se, name))
		goto out;
	if (strcmp(name, se->active) == 0)
		seterr("cannot delete the active branch '%s'", name);
	else
		rc = wrec(s, "unbranch", "snv", key, (long long)time(NULL),
		    (size_t)1, &name);
out:
	return (int)mend(st, rc);
}

int
store_prune(struct store *st, const char *key, const char ***names,
    size_t *n)
{
	struct log *s = mbegin(st, key);
	struct session *se;
	const char **v = NULL;
	size_t i, k = 0;
	int rc = 0;

	*n = 0;
	if (names)
		*names = NULL;
	if (!s)
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
	if (k)
		rc = wrec(s, "unbranch", "snv", key, (long long)time(NULL), k,
		    v);
	rc = (int)mend(st, rc);
	if (rc < 0 || !names || !k) {
		free(v);
		return rc;
	}
	*names = v;
	*n = k;
	return 0;
}

int
store_checkout(struct store *st, const char *key, const char *name)
{
	struct log *s = mbegin(st, key);
	struct session *se;
	int rc = -1;

	if (!s)
		return -1;
	if (need_session(s, key, &se, 0) == 0 && need_branch(se, name))
		rc = wrec(s, "checkout", "ssn", key, name,
		    (long long)time(NULL));
	return (int)mend(st, rc);
}

int
store_reset(struct store *st, const char *key, long long id)
{
	struct log *s = mbegin(st, key);
	struct session *se;
	int rc = -1;

	if (!s)
		return -1;
	if (need_session(s, key, &se, 1) < 0)
		;
	else if (!ent_find(se, id))
		seterr("entry %lld not found in this session", id);
	else
		rc = wrec(s, "reset", "ssnn", key, se->active, id,
		    (long long)time(NULL));
	return (int)mend(st, rc);
}

int
store_env_set(struct store *st, const char *key, const char *const *names,
    const char *const *values, size_t n)
{
	struct log *s = mbegin(st, key);
	const char **v;
	size_t i;
	int rc = 0;

	if (!s)
		return -1;
	for (i = 0; i < n; i++)
		if (!names[i] || !*names[i] || strchr(names[i], '=') ||
		    !values[i]) {
			seterr("invalid environment variable name '%s'",
			    names[i] ? names[i] : "");
			return (int)mend(st, -1);
		}
	v = xreallocarray(NULL, 2 * n + 1, sizeof *v);
	for (i = 0; i < n; i++) {
		v[2 * i] = names[i];
		v[2 * i + 1] = values[i];
	}
	if (n)
		rc = wrec(s, "env", "sv", key, 2 * n, v);
	free(v);
	return (int)mend(st, rc);
}

/* A record TYPE of key and the n strings v, in one write; none of them
 * may be NULL (else the error what). */
static int
store_strings(struct store *st, const char *key, const char *type,
    const char *const *v, size_t n, const char *what)
{
	struct log *s = mbegin(st, key);
	size_t i;
	int rc = 0;

	if (!s)
		return -1;
	for (i = 0; i < n; i++)
		if (!v[i]) {
			seterr("%s", what);
			return (int)mend(st, -1);
		}
	if (n)
		rc = wrec(s, type, "sv", key, n, v);
	return (int)mend(st, rc);
}

int
store_env_unset(struct store *st, const char *key, const char *const *names,
    size_t n)
{
	return store_strings(st, key, "unenv", names, n,
	    "invalid environment variable name");
}

int
store_history_add(struct store *st, const char *key,
    const char *const *lines, size_t n)
{
	return store_strings(st, key, "hist", lines, n, "null history line");
}

int
store_pending_add(struct store *st, const char *key, const char *op,
    const char *title, const char *branch, int disposable)
{
	struct log *s = mbegin(st, key);

	if (!s)
		return -1;
	if (!op || !*op) {
		seterr("empty operation id");
		return (int)mend(st, -1);
	}
	return (int)mend(st, wrec(s, "pending", "sssss", key, op,
	    disposable ? "1" : "0", branch, title));
}

int
store_pending_done(struct store *st, const char *key, const char *op)
{
	struct log *s = mbegin(st, key);
	struct session *se;
	int rc = 0;

	if (!s)
		return -1;
	if (!op)
		return (int)mend(st, -1);
	se = sess_get(s, key, 0);
	if (se && find_str(se->pend, se->npend, sizeof *se->pend, op) <
	    se->npend)
		rc = wrec(s, "done", "ss", key, op) < 0 ? -1 : 1;
	return (int)mend(st, rc);
}

int
store_delete(struct store *st, const char *key)
{
	struct log *s = mbegin(st, key);
	struct session *se;
	int rc = 0;

	if (!s)
		return -1;
	se = sess_get(s, key, 0);
	if (se && !sess_empty(se)) {
		rc = wrec(s, "delete", "s", key) < 0 ? -1 : 1;
		if (rc == 1 && compact_locked(s) < 0)
			logmsg(LOG_WARNING, "%s", geterr());
	}
	return (int)mend(st, rc);
}
