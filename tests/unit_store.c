/* unit_store.c - the session log through store.h, in temp directories. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../store.h"
#include "../util.h"
#include "unit.h"

/* mmap as store.c sees it: failing on demand (mmap_fail), else the
 * system call (glibc's own allocator does not come through here). */
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__linux__) && defined(__x86_64__) && \
    !defined(__SANITIZE_ADDRESS__) && !__has_feature(address_sanitizer)
#include <sys/syscall.h>
#define MMAP_HOOK
static int mmap_fail;
long syscall(long, ...);
void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long r;

	if (mmap_fail) {
		errno = ENOMEM;
		return (void *)-1;
	}
	r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return (void *)-1;
	}
	return (void *)r;
}
#endif

/* The tests up to test_full_disk check one log file (the engine every
 * session log and the index use) through store_open_file, or, where
 * profile is set, the same behaviour through a profile (store_open). */
static int profile;

static struct store *
open_store(const char *path)
{
	return profile ? store_open(path) : store_open_file(path);
}
#define store_open open_store

static char tmpdir[] = "/tmp/unit_store.XXXXXX";
static int nfile;

static void
rmtree(const char *p)
{
	DIR *d = opendir(p);
	struct dirent *de;

	if (d) {
		while ((de = readdir(d))) {
			char *q;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			q = xasprintf("%s/%s", p, de->d_name);
			rmtree(q);
			free(q);
		}
		closedir(d);
		rmdir(p);
	} else {
		unlink(p);
	}
}

/* A fresh log path in the temp dir (not created). */
static char *
newpath(void)
{
	return xasprintf("%s/d%d/s.log", tmpdir, ++nfile);
}

static char *
slurp(const char *path)
{
	struct buf b = {0};

	if (readfile(path, &b) < 0)
		return NULL;
	return b.p;
}

static void
spit(const char *path, const char *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || writeall(fd, p, n) < 0)
		perror(path);
	close(fd);
}

static char *
dumpstr(struct store *st)
{
	struct buf b = {0};

	store_dump(st, &b);
	return b.p;
}

/* Close st, open path again and check that it dumps as d1.  The new
 * handle, or NULL when it did not open (counted as a failure). */
static struct store *
reopen_same(struct store *st, const char *path, const char *d1)
{
	char *d2;

	store_close(st);
	st = store_open(path);
	T_OK(st != NULL);
	if (!st)
		return NULL;
	d2 = dumpstr(st);
	T_STREQ(d1, d2);
	free(d2);
	return st;
}

/* stderr goes to a file between quiet() and heard(), which returns
 * what was written (caller frees). */
static int saved_err = -1;
static char errpath[64];

static void
quiet(void)
{
	int fd;

	snprintf(errpath, sizeof errpath, "%s/stderr", tmpdir);
	fflush(stderr);
	saved_err = dup(2);
	if ((fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0) {
		dup2(fd, 2);
		close(fd);
	}
}

static char *
heard(void)
{
	fflush(stderr);
	dup2(saved_err, 2);
	close(saved_err);
	return slurp(errpath);
}

/* Occurrences of needle in hay. */
static int
count_of(const char *hay, const char *needle)
{
	int n = 0;

	while (hay && (hay = strstr(hay, needle))) {
		n++;
		hay++;
	}
	return n;
}

/* One record line with a correct checksum. */
static void
crafted(struct buf *b, const char *rec)
{
	buf_printf(b, "%s\t%08x\n", rec,
	    (unsigned)store_crc32(0, rec, strlen(rec)));
}

/* Images must be UUIDs: the one a test calls name (itself if it is
 * one).  The result lives until 16 more calls. */
static const char *
U(const char *name)
{
	static char ring[16][37];
	static int next;
	char *u = ring[next++ % 16];
	uint32_t a = store_crc32(0, name, strlen(name));
	uint32_t b = store_crc32(a, name, strlen(name));

	if (strlen(name) == 36 && name[8] == '-' && name[14] == '4')
		return name;
	snprintf(u, 37, "%08x-%04x-4%03x-8%03x-%08x%04x", (unsigned)a,
	    (unsigned)(b & 0xffff), (unsigned)(b >> 16 & 0xfff),
	    (unsigned)(strlen(name) & 0xfff), (unsigned)b,
	    (unsigned)(a >> 16));
	return u;
}

static long long
add(struct store *st, const char *key, const char *kind, const char *image,
    const char *title, const char *op)
{
	struct store_new n;

	memset(&n, 0, sizeof n);
	n.kind = kind;
	n.image = *image ? U(image) : image;
	n.title = title;
	n.op = op;
	return store_append(st, key, &n, NULL);
}

static int
contains(const char *hay, const char *needle)
{
	return hay && needle && strstr(hay, needle) != NULL;
}

static void
test_crc(void)
{
	T_INTEQ(store_crc32(0, "123456789", 9), 0xCBF43926u);
	T_INTEQ(store_crc32(0, "", 0), 0);
	/* incremental equals one-shot, across the 8-byte stride */
	T_INTEQ(store_crc32(store_crc32(0, "The quick brown ", 16),
	    "fox jumps over the lazy dog", 27),
	    store_crc32(0, "The quick brown fox jumps over the lazy dog", 43));
	T_INTEQ(store_crc32(0, "The quick brown fox jumps over the lazy dog",
	    43), 0x414FA339u);
	T_INTEQ(store_crc32_portable(0, "123456789", 9), 0xCBF43926u);
	T_INTEQ(store_crc32_portable(0, "The quick brown fox jumps over the "
	    "lazy dog", 43), 0x414FA339u);
	{
		/* the fast path (64 bytes and up, where the CPU has it)
		 * against the table at every length, offset and start */
		static unsigned char b[1200];
		uint32_t x = 2463534242u, c;
		size_t off, n;
		int bad = 0;

		for (n = 0; n < sizeof b; n++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			b[n] = (unsigned char)x;
		}
		for (off = 0; off < 16; off++)
			for (n = 0; n + off <= sizeof b - 16; n++) {
				x ^= x << 13, x ^= x >> 17, x ^= x << 5;
				c = n % 3 ? x : 0;
				if (store_crc32(c, b + off, n) !=
				    store_crc32_portable(c, b + off, n))
					bad++;
			}
		T_INTEQ(bad, 0);
		memset(b, 0xff, sizeof b);
		/* 1000 bytes of 0xff, as zlib's crc32() gives it */
		T_INTEQ(store_crc32(0, b, 1000), 0xe0533230u);
	}
}

static void
test_path(void)
{
	char *p;

	unsetenv("CONTREE_SESSION_DB");
	p = store_path("/h", "default");
	T_STREQ(p, "/h/cli/sessions/default.log");
	free(p);
	p = store_path("/h", "../x y.z");
	T_STREQ(p, "/h/cli/sessions/%2E.%2Fx%20y.z.log");
	free(p);
	setenv("CONTREE_SESSION_DB", "", 1);
	p = store_path("/h", "a");
	T_STREQ(p, "/h/cli/sessions/a.log");
	free(p);
	setenv("CONTREE_SESSION_DB", "/elsewhere/db", 1);
	p = store_path("/h", "a");
	T_STREQ(p, "/elsewhere/db");
	free(p);
	unsetenv("CONTREE_SESSION_DB");
}

static void
test_create(void)
{
	char *path = newpath(), *s, *dir;
	struct store *st = store_open(path);
	struct stat sb;
	size_t n;
	struct store_session *l;

	T_OK(st != NULL);
	T_OK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	dir = xstrdup(path);
	*strrchr(dir, '/') = '\0';
	T_OK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
	free(dir);
	s = slurp(path);
	T_STREQ(s, "contree-log 1\n");
	free(s);
	T_OK(store_tip(st, "k") == NULL);
	T_OK(!store_get(st, "k", NULL));
	l = store_list(st, &n);
	T_INTEQ(n, 0);
	free(l);
	T_STREQ(store_file(st), path);
	store_close(st);
	/* an empty file and a file that died while its format line was
	 * written both get the format line */
	spit(path, "", 0);
	st = store_open(path);
	T_OK(st != NULL);
	store_close(st);
	s = slurp(path);
	T_STREQ(s, "contree-log 1\n");
	free(s);
	spit(path, "contree-l", 9);
	st = store_open(path);
	T_OK(st != NULL);
	T_OK(add(st, "k", STORE_USE, "img", "t", NULL) == 1);
	store_close(st);
	s = slurp(path);
	T_OK(s && strncmp(s, "contree-log 1\nentry\t1\tk\t0\t", 26) == 0);
	free(s);
	free(path);
}

/* Build a state with every record type.  Returns the store. */
static struct store *
build_all(const char *path, long long *ids)
{
	struct store *st = store_open(path);
	struct store_file files[2] = {
		{ "/etc/a b\tc", "f-1", 0, 0, 0644 },
		{ "/root/x", "f-2", 1000, 100, 0755 }
	};
	struct store_new n;
	const char *names[] = { "A", "EMPTY", "Z" }, *vals[] = { "1", "", "=z" };
	const char *un[] = { "Z" };
	const char *hist[] = { "ls -l", "echo 'a\tb'\nsecond" };
	int forked = -1;

	if (!st)
		return NULL;
	ids[0] = add(st, "s1", STORE_USE, "img-0", "tag:ubuntu:latest", NULL);
	ids[1] = add(st, "s1", STORE_RUN, "img-1", "uname -a", "op-1");
	memset(&n, 0, sizeof n);
	n.kind = STORE_FILE;
	n.image = U("img-1");
	n.title = "Change file /etc/a b\tc";
	n.files = files;
	n.nfiles = 2;
	ids[2] = store_append(st, "s1", &n, &forked);
	T_INTEQ(forked, 0);
	ids[3] = add(st, "s1", STORE_CD, "img-1", "/work", NULL);
	memset(&n, 0, sizeof n);
	n.kind = STORE_RUN_DETACHED;
	n.image = U("img-1");
	n.title = "sleep 100";
	n.op = "op-2";
	n.branch = "detached-op-2";
	ids[4] = store_append(st, "s1", &n, NULL);
	ids[5] = add(st, "s2", STORE_USE, "img-9", "u", NULL);
	ids[6] = add(st, "s1", STORE_SESSION_USE, "img-9", "s2", NULL);
	T_INTEQ(store_branch_create(st, "s1", "exp", NULL), 0);
	T_INTEQ(store_branch_create(st, "s1", "gone", "exp"), 0);
	T_INTEQ(store_branch_delete(st, "s1", "gone"), 0);
	T_INTEQ(store_checkout(st, "s1", "exp"), 0);
	T_INTEQ(store_reset(st, "s1", ids[3]), 0);
	T_INTEQ(store_env_set(st, "s1", names, vals, 3), 0);
	T_INTEQ(store_env_unset(st, "s1", un, 1), 0);
	T_INTEQ(store_env_set(st, "envonly", names, vals, 1), 0);
	T_INTEQ(store_pending_add(st, "s1", "op-2", "sleep 100",
	    "detached-op-2", 0), 0);
	T_INTEQ(store_pending_add(st, "s1", "op-3", "x", "disposable-op-3",
	    1), 0);
	T_INTEQ(store_pending_done(st, "s1", "op-3"), 1);
	T_INTEQ(store_pending_done(st, "s1", "op-3"), 0);
	T_INTEQ(store_history_add(st, "s1", hist, 2), 0);
	ids[7] = add(st, "s3", STORE_USE, "img-3", "doomed", NULL);
	T_INTEQ(store_history_add(st, "s3", hist, 1), 0);
	T_INTEQ(store_delete(st, "s3"), 1);
	T_INTEQ(store_delete(st, "s3"), 0);
	T_INTEQ(store_delete(st, "never"), 0);
	return st;
}

static void
check_all(struct store *st, const long long *ids)
{
	const struct store_entry *e, **ev;
	struct store_session si;
	struct store_branch *br;
	struct store_kv *env;
	struct store_pending *pd;
	struct store_file *pf;
	const char **h;
	size_t n;
	long long have;

	T_OK(ids[0] == 1 && ids[1] == 2 && ids[7] == 8);
	T_OK(store_get(st, "s1", &si));
	T_STREQ(si.branch, "exp");
	T_OK(si.tip && si.tip->id == ids[3]);
	T_INTEQ(si.nentries, 6);
	T_STREQ(store_active(st, "s1"), "exp");
	e = store_entry(st, "s1", ids[2]);
	T_OK(e != NULL);
	if (e) {
		T_STREQ(e->kind, STORE_FILE);
		T_STREQ(e->title, "Change file /etc/a b\tc");
		T_INTEQ(e->nfiles, 2);
		T_INTEQ(e->parent, ids[1]);
		T_OK(e->up && e->up->id == ids[1]);
		if (e->nfiles == 2) {
			T_STREQ(e->files[0].path, "/etc/a b\tc");
			T_STREQ(e->files[1].uuid, "f-2");
			T_INTEQ(e->files[1].uid, 1000);
			T_INTEQ(e->files[1].gid, 100);
			T_INTEQ(e->files[1].mode, 0755);
			T_INTEQ(e->files[0].mode, 0644);
		}
		T_OK(e->created > 1600000000);
	}
	e = store_entry(st, "s1", ids[1]);
	T_OK(e && !strcmp(e->op, "op-1") && !strcmp(e->image, U("img-1")));
	T_OK(store_entry(st, "s1", ids[5]) == NULL);    /* other session */
	T_OK(store_entry(st, "s3", ids[7]) == NULL);    /* deleted */
	T_OK(!store_get(st, "s3", NULL));
	T_OK(!store_get(st, "envonly", NULL));
	T_STREQ(store_cwd(st, "s1"), "/work");
	T_INTEQ(store_depth(st, "s1"), 4);
	pf = store_pending_files(st, "s1", &n);
	T_INTEQ(n, 2);
	free(pf);
	ev = store_entries(st, "s1", &n);
	T_INTEQ(n, 6);
	if (n == 6) {
		T_STREQ(ev[4]->kind, STORE_RUN_DETACHED);
		T_INTEQ(ev[4]->parent, ids[3]);
		T_STREQ(ev[5]->kind, STORE_SESSION_USE);
		T_STREQ(ev[5]->title, "s2");
		T_INTEQ(ev[5]->parent, ids[3]);
	}
	free(ev);
	br = store_branches(st, "s1", &n);
	T_INTEQ(n, 3);
	if (n == 3) {
		T_STREQ(br[0].name, "detached-op-2");
		T_INTEQ(br[0].tip->id, ids[4]);
		T_STREQ(br[1].name, "exp");
		T_INTEQ(br[1].tip->id, ids[3]);
		T_STREQ(br[2].name, "main");
		T_INTEQ(br[2].tip->id, ids[6]);
	}
	free(br);
	env = store_env(st, "s1", &n);
	T_INTEQ(n, 2);
	if (n == 2) {
		T_STREQ(env[0].name, "A");
		T_STREQ(env[0].value, "1");
		T_STREQ(env[1].name, "EMPTY");
		T_STREQ(env[1].value, "");
	}
	free(env);
	env = store_env(st, "envonly", &n);
	T_INTEQ(n, 1);
	free(env);
	pd = store_pending(st, "s1", &n);
	T_INTEQ(n, 1);
	if (n == 1) {
		T_STREQ(pd[0].op, "op-2");
		T_STREQ(pd[0].branch, "detached-op-2");
		T_STREQ(pd[0].title, "sleep 100");
		T_INTEQ(pd[0].disposable, 0);
	}
	free(pd);
	h = store_history(st, "s1", &n);
	T_INTEQ(n, 2);
	if (n == 2)
		T_STREQ(h[1], "echo 'a\tb'\nsecond");
	free(h);
	h = store_history(st, "s3", &n);
	T_INTEQ(n, 0);
	free(h);
	e = store_tip(st, "s1");
	T_OK(store_back(e, 3, &have) && store_back(e, 3, NULL)->id == ids[0]);
	T_OK(store_back(e, 4, &have) == NULL);
	T_INTEQ(have, 3);
	T_OK(store_back(e, 0, NULL) == e);
}

static void
test_roundtrip(void)
{
	char *path = newpath(), *d1, *d2, *d3, *raw;
	long long ids[8];
	struct store *st = build_all(path, ids);
	struct stat sb;

	T_OK(st != NULL);
	if (!st)
		return;
	check_all(st, ids);
	d1 = dumpstr(st);
	store_close(st);
	/* store_delete compacted the file: it holds the live state only */
	raw = slurp(path);
	T_OK(raw && !contains(raw, "doomed") && !contains(raw, "\tgone\t"));
	T_OK(contains(raw, "maxid\t8\t"));
	free(raw);
	st = store_open(path);
	T_OK(st != NULL);
	if (!st)
		return;
	check_all(st, ids);
	d2 = dumpstr(st);
	T_STREQ(d1, d2);
	/* explicit compaction keeps state and mode */
	T_INTEQ(store_compact(st), 0);
	T_OK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	check_all(st, ids);
	d3 = dumpstr(st);
	T_STREQ(d1, d3);
	T_INTEQ(add(st, "s1", STORE_RUN, "img-x", "ls", "op-x"), 9);
	store_close(st);
	st = store_open(path);
	T_OK(st && store_tip(st, "s1") && store_tip(st, "s1")->id == 9 &&
	    store_tip(st, "s1")->parent == ids[3]);
	store_close(st);
	free(d1);
	free(d2);
	free(d3);
	free(path);
}

static void
test_escape(void)
{
	static const char *const weird[] = {
		"tab\there", "nl\nthere", "back\\slash", "\\t literal",
		"\\", "\\\\n", "ünïcødé ✓ 日本", "trailing\t", "\n", " ",
		"cr\r\n", "a\\\tb\\\nc"
	};
	char *path = newpath(), *raw;
	struct store *st = store_open(path);
	const char *names[LEN(weird)], *vals[LEN(weird)];
	char nb[LEN(weird)][16];
	const struct store_entry **ev;
	struct store_kv *env;
	const char **h;
	size_t i, n, lines = 0;
	const char *key = "my\tkey\\with\nstuff";
	int round;

	for (i = 0; i < LEN(weird); i++) {
		T_OK(add(st, key, STORE_RUN, weird[i], weird[i], weird[i]) > 0);
		snprintf(nb[i], sizeof nb[i], "K%zu\t\\", i);
		names[i] = nb[i];
		vals[i] = weird[i];
	}
	T_INTEQ(store_env_set(st, key, names, vals, LEN(weird)), 0);
	T_INTEQ(store_history_add(st, key, weird, LEN(weird)), 0);
	T_INTEQ(store_branch_create(st, key, "br\tanch\n", NULL), 0);
	store_close(st);
	raw = slurp(path);
	for (i = 0; raw && raw[i]; i++)
		lines += raw[i] == '\n';
	T_INTEQ(lines, 1 + LEN(weird) + 3);
	free(raw);
	for (round = 0; round < 2; round++) {
		st = store_open(path);
		T_OK(st != NULL);
		if (!st)
			break;
		ev = store_entries(st, key, &n);
		T_INTEQ(n, LEN(weird));
		for (i = 0; i < n && i < LEN(weird); i++) {
			T_STREQ(ev[i]->title, weird[i]);
			T_STREQ(ev[i]->image, U(weird[i]));
			T_STREQ(ev[i]->op, weird[i]);
			T_STREQ(ev[i]->key, key);
		}
		free(ev);
		env = store_env(st, key, &n);
		T_INTEQ(n, LEN(weird));
		for (i = 0; i < n; i++) {
			size_t j;

			for (j = 0; j < LEN(weird); j++)
				if (!strcmp(names[j], env[i].name))
					break;
			T_OK(j < LEN(weird) && !strcmp(env[i].value, vals[j]));
		}
		free(env);
		h = store_history(st, key, &n);
		T_INTEQ(n, LEN(weird));
		for (i = 0; i < n; i++)
			T_STREQ(h[i], weird[i]);
		free(h);
		T_OK(store_branch_tip(st, key, "br\tanch\n") != NULL);
		if (round == 0)
			T_INTEQ(store_compact(st), 0);
		store_close(st);
	}
	free(path);
}

/* Byte offset where the last record starts. */
static size_t
last_record(const char *s)
{
	size_t n = strlen(s);

	if (n < 2)
		return 0;
	n -= 2;
	while (n > 0 && s[n] != '\n')
		n--;
	return n + 1;
}

static void
test_torn(void)
{
	char *path = newpath(), *good, *full, *before, *after, *s;
	long long ids[8];
	struct store *st = build_all(path, ids);
	size_t start, len, cut;
	int bad = 0, badrepair = 0;

	if (!st)
		return;
	before = dumpstr(st);
	good = slurp(path);
	T_OK(add(st, "s1", STORE_RUN, "img-t", "torn\ttitle", "op-t") == 9);
	after = dumpstr(st);
	store_close(st);
	full = slurp(path);
	start = last_record(full);
	len = strlen(full);
	T_OK(start == strlen(good) && len > start + 20);
	/* every truncation inside the last record (its LF included) */
	for (cut = start; cut < len; cut++) {
		char *d;

		spit(path, full, cut);
		st = store_open(path);
		if (!st) {
			bad++;
			fprintf(stderr, "cut %zu: %s\n", cut, geterr());
			continue;
		}
		d = dumpstr(st);
		if (strcmp(d, before) != 0)
			bad++;
		free(d);
		/* the next writer cuts the torn tail off and appends */
		if (add(st, "s1", STORE_RUN, "img-t", "torn\ttitle", "op-t") != 9)
			badrepair++;
		store_close(st);
		st = store_open(path);
		if (!st) {
			badrepair++;
			continue;
		}
		s = slurp(path);
		if (!s || strncmp(s, good, start) != 0 ||
		    store_tip(st, "s1") == NULL ||
		    store_tip(st, "s1")->id != 9 ||
		    strcmp(store_tip(st, "s1")->title, "torn\ttitle"))
			badrepair++;
		free(s);
		store_close(st);
	}
	T_INTEQ(bad, 0);
	T_INTEQ(badrepair, 0);
	/* a complete last line with a bad checksum is a torn write too */
	s = xstrdup(full);
	s[start + 7] ^= 1;
	spit(path, s, len);
	st = store_open(path);
	T_OK(st != NULL);
	if (st) {
		char *d = dumpstr(st);

		T_STREQ(d, before);
		free(d);
		T_INTEQ(add(st, "s1", STORE_CD, "i", "/", NULL), 9);
		store_close(st);
	}
	free(s);
	s = slurp(path);
	T_OK(s && strlen(s) > start && strncmp(s, full, start) == 0 &&
	    contains(s + start, "\tcd\t"));
	free(s);
	/* appending to an intact file yields the full state */
	spit(path, full, len);
	st = store_open(path);
	if (st) {
		char *d = dumpstr(st);

		T_STREQ(d, after);
		free(d);
		store_close(st);
	}
	free(good);
	free(full);
	free(before);
	free(after);
	free(path);
}

static long long count_lines(const char *path);

static void
test_corrupt(void)
{
	char *path = newpath(), *full, *bad, *now;
	long long ids[8];
	struct store *st = build_all(path, ids);
	size_t start, len, second;

	if (!st)
		return;
	T_OK(add(st, "s1", STORE_RUN, "img-t", "x", "op-t") > 0);
	store_close(st);
	full = slurp(path);
	len = strlen(full);
	start = last_record(full);
	second = strchr(full, '\n') - full + 1;
	/* flipped byte in a middle record: skipped with a warning naming
	 * the file and line; reading leaves the file alone */
	bad = xstrdup(full);
	bad[second + 3] ^= 0x20;
	spit(path, bad, len);
	quiet();
	st = store_open(path);
	now = heard();
	T_OK(st != NULL);
	{
		char *where = xasprintf("%s:2: ", path);

		T_OK(count_of(now, where) == 1 && contains(now, "checksum"));
		free(where);
	}
	T_OK(st && store_tip(st, "s1") != NULL);
	store_close(st);
	free(now);
	now = slurp(path);
	T_OK(now && memcmp(now, bad, len) == 0 && strlen(now) == len);
	free(now);
	free(bad);
	/* a valid-checksum record that makes no sense is skipped too */
	{
		struct buf b = {0};
		char *where;

		buf_add(&b, full, start);
		crafted(&b, "branch\ts1\tx\t999");
		buf_add(&b, full + start, len - start);
		spit(path, b.p, b.len);
		quiet();
		st = store_open(path);
		now = heard();
		where = xasprintf("%s:%lld: ", path, count_lines(path) - 1);
		T_OK(st != NULL && count_of(now, where) == 1 &&
		    contains(now, "branch target not in session"));
		T_OK(st && store_branch_tip(st, "s1", "x") == NULL);
		T_OK(st && store_tip(st, "s1")->id == 9);
		store_close(st);
		free(where);
		free(now);
		buf_free(&b);
	}
	/* a line without checksum in the middle */
	{
		struct buf b = {0};

		buf_add(&b, full, start);
		buf_puts(&b, "garbage\n");
		buf_add(&b, full + start, len - start);
		spit(path, b.p, b.len);
		quiet();
		st = store_open(path);
		now = heard();
		T_OK(st != NULL && contains(now, path) &&
		    count_of(now, "WARNING") == 1);
		store_close(st);
		free(now);
		buf_free(&b);
	}
	/* foreign format lines */
	spit(path, "SQLite format 3\0\0\0", 18);
	st = store_open(path);
	T_OK(st == NULL && contains(geterr(), path) &&
	    contains(geterr(), "not a contree session log"));
	now = slurp(path);
	T_OK(now && !strcmp(now, "SQLite format 3"));
	free(now);
	spit(path, "contree-log 2\nwhatever\n", 23);
	st = store_open(path);
	T_OK(st == NULL && contains(geterr(), path) &&
	    contains(geterr(), "version"));
	spit(path, "hello", 5);
	st = store_open(path);
	T_OK(st == NULL && contains(geterr(), path));
	now = slurp(path);
	T_STREQ(now, "hello");
	free(now);
	/* a directory where the file should be */
	{
		char *d = xasprintf("%s.dir", path);

		mkdir(d, 0700);
		st = store_open(d);
		T_OK(st == NULL && contains(geterr(), d));
		free(d);
	}
	free(full);
	free(path);
}

/* Run f in a child as user nobody when we are root; its exit status is
 * the number of failures. */
static int
as_nobody(const char *path, int (*f)(const char *))
{
	pid_t pid;
	int ws;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(99);
		_exit(f(path));
	}
	if (pid < 0 || waitpid(pid, &ws, 0) < 0 || !WIFEXITED(ws))
		return 98;
	return WEXITSTATUS(ws);
}

static int
child_noperm(const char *path)
{
	struct store *st = store_open(path);
	int fails = 0;

	if (st) {
		fails++;
		store_close(st);
	}
	if (!contains(geterr(), path) || !contains(geterr(), "denied")) {
		fprintf(stderr, "noperm: %s\n", geterr());
		fails++;
	}
	return fails;
}

static int
child_readonly(const char *path)
{
	struct store *st = store_open(path);
	const struct store_entry *e;
	int fails = 0;

	if (!st) {
		fprintf(stderr, "readonly open: %s\n", geterr());
		return 1;
	}
	e = store_tip(st, "k");
	if (!e || strcmp(e->image, U("img")))
		fails++;
	if (add(st, "k", STORE_RUN, "i2", "t", "o") != -1 ||
	    !contains(geterr(), path) || !contains(geterr(), "read-only")) {
		fprintf(stderr, "readonly append: %s\n", geterr());
		fails++;
	}
	store_close(st);
	return fails;
}

static void
test_permission(void)
{
	char *path = newpath(), *dir, *before, *after;
	struct store *st = store_open(path);

	T_OK(st != NULL);
	T_OK(add(st, "k", STORE_USE, "img", "t", NULL) == 1);
	store_close(st);
	dir = xstrdup(path);
	*strrchr(dir, '/') = '\0';
	chmod(tmpdir, 0755);
	chmod(dir, 0755);
	before = slurp(path);
	chmod(path, 0);
	T_INTEQ(as_nobody(path, child_noperm), 0);
	chmod(path, 0444);
	T_INTEQ(as_nobody(path, child_readonly), 0);
	chmod(path, 0600);
	after = slurp(path);
	T_STREQ(before, after);
	chmod(dir, 0700);
	chmod(tmpdir, 0700);
	free(before);
	free(after);
	free(dir);
	free(path);
}

static void
test_ids_and_delete(void)
{
	char *path = newpath();
	struct store *st = store_open(path);
	const struct store_entry *keep;
	size_t n;
	struct store_session *l;
	const char *nm[] = { "X" }, *vl[] = { "1" };

	T_INTEQ(add(st, "a", STORE_USE, "i", "", NULL), 1);
	T_INTEQ(add(st, "b", STORE_USE, "i", "", NULL), 2);
	T_INTEQ(add(st, "b", STORE_RUN, "i", "", "o"), 3);
	keep = store_tip(st, "b");
	T_INTEQ(store_delete(st, "b"), 1);
	/* pointers handed out earlier stay valid */
	T_OK(keep->id == 3 && !strcmp(keep->key, "b"));
	T_INTEQ(add(st, "a", STORE_RUN, "i", "", "o"), 4);
	T_INTEQ(add(st, "b", STORE_USE, "i", "", NULL), 5);
	T_OK(store_tip(st, "b")->parent == 0);
	T_INTEQ(store_depth(st, "b"), 1);
	T_INTEQ(store_delete(st, "b"), 1);
	T_INTEQ(store_delete(st, "a"), 1);
	l = store_list(st, &n);
	T_INTEQ(n, 0);
	free(l);
	store_close(st);
	/* highest ids belonged to deleted sessions; still not reused */
	st = store_open(path);
	T_INTEQ(add(st, "c", STORE_USE, "i", "", NULL), 6);
	/* env-only session can be deleted */
	T_INTEQ(store_env_set(st, "e", nm, vl, 1), 0);
	T_INTEQ(store_delete(st, "e"), 1);
	T_INTEQ(store_compact(st), 0);
	store_close(st);
	st = store_open(path);
	T_INTEQ(add(st, "c", STORE_RUN, "i", "", "o"), 7);
	{
		size_t ne;
		struct store_kv *env = store_env(st, "e", &ne);

		T_INTEQ(ne, 0);
		free(env);
	}
	store_close(st);
	free(path);
}

static void
test_derived(void)
{
	char *path = newpath();
	struct store *st = store_open(path);
	struct store_file f1 = { "/a", "u1", 0, 0, 0644 };
	struct store_file f2 = { "/a", "u2", 0, 0, 0600 };
	struct store_file f3 = { "/b", "u3", 1, 2, 0755 };
	struct store_new n;
	struct store_file *pf;
	const struct store_entry *e, *r;
	size_t cnt;
	long long use1, run1, c1, have;
	const char **names;

	use1 = add(st, "k", STORE_USE, "i0", "img", NULL);
	T_OK(store_cwd(st, "k") == NULL);
	memset(&n, 0, sizeof n);
	n.kind = STORE_FILE;
	n.image = U("i0");
	n.files = &f1;
	n.nfiles = 1;
	store_append(st, "k", &n, NULL);
	run1 = add(st, "k", STORE_RUN, "i1", "make", "op1");
	pf = store_pending_files(st, "k", &cnt);
	T_INTEQ(cnt, 0);                /* consumed by the run */
	free(pf);
	store_append(st, "k", &n, NULL);        /* /a u1 */
	c1 = add(st, "k", STORE_CD, "i1", "/src", NULL);
	n.files = &f2;
	store_append(st, "k", &n, NULL);        /* /a u2 wins */
	add(st, "k", STORE_USE, "i5", "other", NULL);   /* does not stop */
	n.files = &f3;
	store_append(st, "k", &n, NULL);
	add(st, "k", STORE_RUN_DETACHED, "i5", "x", "op9");     /* not "run" */
	pf = store_pending_files(st, "k", &cnt);
	T_INTEQ(cnt, 2);
	if (cnt == 2) {
		T_STREQ(pf[0].path, "/b");
		T_STREQ(pf[1].path, "/a");
		T_STREQ(pf[1].uuid, "u2");
		T_INTEQ(pf[1].mode, 0600);
	}
	free(pf);
	T_STREQ(store_cwd(st, "k"), "/src");
	add(st, "k", STORE_CD, "i5", "", NULL);
	T_OK(store_cwd(st, "k") == NULL);       /* reset */
	T_INTEQ(store_depth(st, "k"), 10);
	/* rollback to the cd entry: derived state follows the chain */
	T_INTEQ(store_reset(st, "k", c1), 0);
	T_STREQ(store_cwd(st, "k"), "/src");
	T_INTEQ(store_depth(st, "k"), 5);
	pf = store_pending_files(st, "k", &cnt);
	T_INTEQ(cnt, 1);
	free(pf);
	/* forward: highest-id child, whatever its branch */
	e = store_tip(st, "k");
	{
		struct store_new d;

		memset(&d, 0, sizeof d);
		d.kind = STORE_RUN_DISPOSABLE;
		d.image = U("i1");
		d.op = "opd";
		d.branch = "disposable-opd";
		T_OK(store_append(st, "k", &d, NULL) > 0);
	}
	T_OK(store_tip(st, "k") == e);  /* active branch did not move */
	r = store_forward(st, e, 1, &have);
	T_OK(r && !strcmp(r->kind, STORE_RUN_DISPOSABLE) && have == 1);
	r = store_forward(st, store_entry(st, "k", use1), 2, &have);
	T_OK(r && r->id == run1 && have == 2);
	r = store_forward(st, e, 3, &have);
	T_OK(r == NULL && have == 1);
	/* errors */
	T_INTEQ(store_reset(st, "k", 999), -1);
	T_OK(contains(geterr(), "999"));
	T_INTEQ(store_reset(st, "nokey", use1), -1);
	T_INTEQ(store_checkout(st, "k", "nope"), -1);
	T_OK(contains(geterr(), "nope"));
	T_INTEQ(store_branch_create(st, "k", "main", NULL), -1);
	T_OK(contains(geterr(), "exists"));
	T_INTEQ(store_branch_create(st, "k", "x", "nope"), -1);
	T_INTEQ(store_branch_create(st, "nokey", "x", NULL), -1);
	T_INTEQ(store_branch_delete(st, "k", "main"), -1);
	T_OK(contains(geterr(), "active"));
	T_INTEQ(store_branch_delete(st, "k", "nope"), -1);
	{
		const char *nm[] = { "OK", "BAD=1" }, *vl[] = { "1", "2" };
		struct store_kv *env;

		T_INTEQ(store_env_set(st, "k", nm, vl, 2), -1);
		env = store_env(st, "k", &cnt);
		T_INTEQ(cnt, 0);        /* all or nothing */
		free(env);
	}
	memset(&n, 0, sizeof n);
	n.kind = "bogus";
	n.image = U("i");
	T_INTEQ(store_append(st, "k", &n, NULL), -1);
	n.kind = STORE_RUN;
	n.image = "";
	T_INTEQ(store_append(st, "k", &n, NULL), -1);
	/* prune removes non-active detached-/disposable- branches */
	{
		struct store_new d;

		memset(&d, 0, sizeof d);
		d.kind = STORE_RUN_DETACHED;
		d.image = U("i1");
		d.op = "opq";
		d.branch = "detached-opq";
		store_append(st, "k", &d, NULL);
	}
	T_INTEQ(store_branch_create(st, "k", "detached-mine", NULL), 0);
	T_INTEQ(store_checkout(st, "k", "detached-mine"), 0);
	T_INTEQ(store_prune(st, "k", &names, &cnt), 0);
	T_INTEQ(cnt, 2);
	if (cnt == 2) {
		T_STREQ(names[0], "detached-opq");
		T_STREQ(names[1], "disposable-opd");
	}
	free(names);
	T_INTEQ(store_prune(st, "k", &names, &cnt), 0);
	T_INTEQ(cnt, 0);
	free(names);
	T_OK(store_branch_tip(st, "k", "detached-mine") != NULL);
	T_OK(store_branch_tip(st, "k", "main") != NULL);
	store_close(st);
	free(path);
}

static void
test_refs(void)
{
	char *path = newpath();
	struct store *st = store_open(path);
	const struct store_entry *e;
	long long u, r1, r2, r3, other;
	static const struct {
		const char *tok;
		int rc;
		int which;      /* index into ids, -1 none */
	} cases[] = {
		{ "@", 1, 3 }, { ":", 1, 3 }, { "HEAD", 1, 3 },
		{ "@-1", 1, 2 }, { ":-2", 1, 1 }, { "HEAD-1", 1, 2 },
		{ "HEAD~2", 1, 1 }, { "HEAD~", 1, 2 }, { "@-0", 1, 3 },
		{ "@-3", -1, -1 },      /* the use entry: no operation */
		{ "@-4", -1, -1 },      /* past the root */
		{ "@2", 1, 1 }, { ":3", 1, 2 }, { "2", 1, 1 }, { "HEAD4", 1, 3 },
		{ "@5", -1, -1 },       /* another session's entry */
		{ "@0", -1, -1 }, { "@1", -1, -1 },
		{ "@+1", -1, -1 },      /* nothing after the tip */
		{ "@x", 0, -1 }, { "HEAD~x", 0, -1 }, { "@~", 0, -1 },
		{ "~1", 0, -1 }, { "abc", 0, -1 }, { "", 0, -1 },
		{ "473b32e9-3e54-48a1-82b4-4760a120b15b", 0, -1 },
		{ "@--1", 0, -1 }, { "HEAD+", 0, -1 }
	};
	long long ids[4];
	size_t i;

	u = add(st, "k", STORE_USE, "i0", "img", NULL);
	r1 = add(st, "k", STORE_RUN, "i1", "a", "op1");
	r2 = add(st, "k", STORE_RUN, "i2", "b", "op2");
	r3 = add(st, "k", STORE_RUN, "i3", "c", "op3");
	other = add(st, "j", STORE_RUN, "i9", "c", "op9");
	T_INTEQ(other, 5);
	ids[0] = u;
	ids[1] = r1;
	ids[2] = r2;
	ids[3] = r3;
	for (i = 0; i < LEN(cases); i++) {
		int rc = store_ref(st, "k", cases[i].tok, &e);

		if (rc != cases[i].rc || (rc == 1 &&
		    e->id != ids[cases[i].which]) || (rc != 1 && e)) {
			fprintf(stderr, "ref '%s': rc %d (want %d): %s\n",
			    cases[i].tok, rc, cases[i].rc, geterr());
			T_OK(0);
		} else {
			T_OK(1);
		}
	}
	T_INTEQ(store_ref(st, "k", "@-4", &e), -1);
	T_OK(contains(geterr(), "cannot go back 4 steps, only 3 ancestors"));
	T_INTEQ(store_ref(st, "k", "@-3", &e), -1);
	T_OK(contains(geterr(), "no operation"));
	T_INTEQ(store_ref(st, "k", "@5", &e), -1);
	T_OK(contains(geterr(), "entry 5 not found in this session"));
	T_INTEQ(store_ref(st, "nokey", "@", &e), -1);
	/* rollback targets */
	e = store_target(st, "k", NULL);
	T_OK(e && e->id == r2);
	e = store_target(st, "k", "-3");
	T_OK(e && e->id == u);
	T_OK(store_target(st, "k", "-4") == NULL);
	T_OK(contains(geterr(), "cannot go back 4 steps, only 3 ancestors"));
	e = store_target(st, "k", "1");
	T_OK(e && e->id == u);
	T_OK(store_target(st, "k", "5") == NULL);
	T_OK(contains(geterr(), "entry 5 not found in this session"));
	T_OK(store_target(st, "k", "0") == NULL);
	T_OK(contains(geterr(), "must not be 0"));
	T_OK(store_target(st, "k", "+0") == NULL);
	T_OK(contains(geterr(), "must not be 0"));
	T_OK(store_target(st, "k", "two") == NULL);
	T_OK(contains(geterr(), "'two'"));
	T_OK(store_target(st, "k", "-") == NULL);
	T_OK(store_target(st, "k", "1.5") == NULL);
	T_OK(store_target(st, "k", "+1") == NULL);
	T_OK(contains(geterr(), "forward"));
	T_INTEQ(store_reset(st, "k", u), 0);
	e = store_target(st, "k", "+2");
	T_OK(e && e->id == r2);
	T_OK(store_target(st, "nokey", "-1") == NULL);
	store_close(st);
	free(path);
}

static void
test_list_order(void)
{
	char *path = newpath();
	struct store *st = store_open(path);
	struct store_session *l;
	size_t n;

	add(st, "old", STORE_USE, "i", "", NULL);
	add(st, "mid", STORE_USE, "i", "", NULL);
	add(st, "new", STORE_USE, "i", "", NULL);
	store_branch_create(st, "old", "b", NULL);      /* no refresh */
	l = store_list(st, &n);
	T_INTEQ(n, 3);
	if (n == 3) {
		T_STREQ(l[0].key, "new");
		T_STREQ(l[2].key, "old");
	}
	free(l);
	store_checkout(st, "old", "b");                 /* refresh */
	l = store_list(st, &n);
	if (n == 3) {
		T_STREQ(l[0].key, "old");
		T_STREQ(l[1].key, "new");
		T_STREQ(l[2].key, "mid");
		T_STREQ(l[0].branch, "b");
		T_INTEQ(l[0].nentries, 1);
	}
	free(l);
	T_INTEQ(store_compact(st), 0);
	store_close(st);
	st = store_open(path);
	l = store_list(st, &n);
	T_INTEQ(n, 3);
	if (n == 3) {
		T_STREQ(l[0].key, "old");
		T_STREQ(l[1].key, "new");
		T_STREQ(l[2].key, "mid");
	}
	free(l);
	store_close(st);
	free(path);
}

static void
test_match(void)
{
	char *path = newpath();
	struct store *st = store_open(path);
	const char **k;
	const char *nm[] = { "A" }, *vl[] = { "1" };

	add(st, "proj+7521a664", STORE_USE, "i", "", NULL);
	add(st, "other+7521a664", STORE_USE, "i", "", NULL);
	add(st, "7521a664", STORE_USE, "i", "", NULL);
	add(st, "build", STORE_USE, "i", "", NULL);
	store_env_set(st, "x+build", nm, vl, 1);        /* no history */
	T_INTEQ(store_match(st, "7521a664", &k), 2);    /* suffix first */
	T_STREQ(k[0], "other+7521a664");
	T_STREQ(k[1], "proj+7521a664");
	free(k);
	T_INTEQ(store_match(st, "proj+7521a664", &k), 1);       /* exact */
	T_STREQ(k[0], "proj+7521a664");
	free(k);
	T_INTEQ(store_match(st, "build", &k), 1);
	T_STREQ(k[0], "build");
	free(k);
	T_INTEQ(store_match(st, "a664", NULL), 3);
	T_INTEQ(store_match(st, "nothing", NULL), 0);
	store_close(st);
	free(path);
}

static void
test_history_cap(void)
{
	char *path = newpath();
	struct store *st = store_open(path);
	const char **lines = xreallocarray(NULL, 4000, sizeof *lines);
	char (*txt)[16] = xreallocarray(NULL, 4000, 16);
	const char **h;
	size_t i, n, r;
	int round;

	for (r = 0; r < 3; r++) {
		for (i = 0; i < 4000; i++) {
			snprintf(txt[i], 16, "cmd %zu", r * 4000 + i);
			lines[i] = txt[i];
		}
		T_INTEQ(store_history_add(st, "k", lines, 4000), 0);
	}
	for (round = 0; round < 3; round++) {
		h = store_history(st, "k", &n);
		T_INTEQ(n, STORE_HIST_MAX);
		if (n == STORE_HIST_MAX) {
			T_STREQ(h[0], "cmd 2000");
			T_STREQ(h[n - 1], "cmd 11999");
		}
		free(h);
		if (round == 1)
			T_INTEQ(store_compact(st), 0);
		store_close(st);
		st = store_open(path);
	}
	store_close(st);
	free(lines);
	free(txt);
	free(path);
}

static long long
count_lines(const char *path)
{
	char *s = slurp(path);
	long long n = 0;
	size_t i;

	for (i = 0; s && s[i]; i++)
		n += s[i] == '\n';
	free(s);
	return n;
}

/* Logs bigger than the replay buffer, lines longer than it. */
static void
test_big(void)
{
	char *path = newpath(), *d1, *full;
	struct store *st = store_open(path);
	char *title = xmalloc(700), *huge = xmalloc(600001);
	const char *lines[2];
	int i, ok = 1;
	size_t len, cut;

	T_OK(store_begin(st) == 0);
	for (i = 0; i < 3000; i++) {
		memset(title, 'a' + i % 26, (size_t)(i % 691));
		title[i % 691] = '\0';
		if (i % 97 == 0 && i % 691)
			title[0] = '\t';
		if (add(st, i % 3 ? "k" : "j", STORE_RUN, "img", title,
		    "op") < 0)
			ok = 0;
	}
	memset(huge, 'x', 600000);
	huge[600000] = '\0';
	huge[300000] = '\n';
	lines[0] = huge;
	lines[1] = "after";
	T_INTEQ(store_history_add(st, "k", lines, 2), 0);
	T_OK(add(st, "k", STORE_CD, "img", "/end", NULL) > 0);
	T_INTEQ(store_commit(st), 0);
	T_OK(ok);
	d1 = dumpstr(st);
	if (!(st = reopen_same(st, path, d1)))
		goto out;
	T_STREQ(store_cwd(st, "k"), "/end");
	{
		size_t n;
		const char **h = store_history(st, "k", &n);

		T_INTEQ(n, 2);
		T_OK(n == 2 && strlen(h[0]) == 600000 && h[0][300000] == '\n');
		free(h);
	}
	store_close(st);
	/* torn inside the huge record, which is the second last line */
	full = slurp(path);
	len = strlen(full);
	cut = last_record(full);
	full[cut - 1] = '\0';
	cut = last_record(full) + 123456;
	spit(path, full, cut);
	st = store_open(path);
	T_OK(st != NULL);
	if (st) {
		size_t n;
		const char **h = store_history(st, "k", &n);

		T_INTEQ(n, 0);
		free(h);
		free(store_entries(st, "k", &n));
		T_INTEQ(n, 2000);
		store_close(st);
	}
	(void)len;
	free(full);
out:
	free(d1);
	free(title);
	free(huge);
	free(path);
}

/* A log of several MB replays into big arena blocks (huge pages where
 * the system has them): the state is the one written, and what an
 * earlier replay handed out stays valid while a catch-up adds more. */
static void
test_big_replay(void)
{
	char *path = newpath(), *d1 = NULL, title[160], prev[160] = "a";
	struct store *st = store_open(path), *other;
	const struct store_entry *tip, *e;
	const struct store_entry **all;
	size_t n;
	int i, ok = 1;

	T_OK(st && store_begin(st) == 0);
	for (i = 0; st && i < 30000; i++) {
		snprintf(title, sizeof title, "python3 -m pytest tests/test_%d"
		    ".py -x -q --some-long-option=%0*d", i, 60, i);
		if (add(st, "k", i % 10 == 3 ? STORE_CD : STORE_RUN,
		    i % 10 == 3 ? prev : title, title, NULL) < 0)
			ok = 0;
		if (i % 10 != 3)
			memcpy(prev, title, sizeof prev);
	}
	T_OK(st && store_commit(st) == 0 && ok);
	if (st)
		d1 = dumpstr(st);
	T_OK(d1 && strlen(d1) > (3 << 20));
	if (!(st = reopen_same(st, path, d1)))
		goto out;
	tip = store_tip(st, "k");
	T_OK(tip && tip->id == 30000 && strstr(tip->title, "test_29999.py"));
	/* another handle appends as much again; ours catches up */
	other = store_open(path);
	T_OK(other && store_begin(other) == 0);
	for (i = 30000; other && i < 60000; i++) {
		snprintf(title, sizeof title, "second half %d %0*d", i, 100, i);
		if (add(other, "k", STORE_RUN, title, title, NULL) < 0)
			ok = 0;
	}
	T_OK(other && store_commit(other) == 0 && ok);
	store_close(other);
	T_OK(add(st, "k", STORE_CD, "a", "/end", NULL) == 60001);
	T_OK(strstr(tip->title, "test_29999.py") && tip->id == 30000);
	all = store_entries(st, "k", &n);
	T_INTEQ(n, 60001);
	for (i = 0, ok = 1; all && i < (int)n; i++) {
		e = all[i];
		if (e->id != i + 1 || (i && e->up != all[i - 1]) ||
		    strlen(e->image) != 36 || (i >= 30000 && i < 60000 &&
		    strtol(strrchr(e->title, ' ') + 1, NULL, 10) != i))
			ok = 0;
	}
	T_OK(ok);
	free(all);
	T_STREQ(store_cwd(st, "k"), "/end");
	/* dropping the big session frees its mapped entry array */
	T_INTEQ(store_delete(st, "k"), 1);
	T_OK(!store_get(st, "k", NULL) && store_tip(st, "k") == NULL);
	T_OK(add(st, "k", STORE_USE, "a", "again", NULL) == 60002);
	store_close(st);
	st = store_open(path);
	T_OK(st && store_tip(st, "k") && store_tip(st, "k")->id == 60002);
	n = 0;
	free(st ? store_entries(st, "k", &n) : NULL);
	T_INTEQ(n, 1);
	store_close(st);
out:
	free(d1);
	free(path);
}

static void
test_autocompact(void)
{
	char *path = newpath();
	struct store *st = store_open(path);
	int i, ok = 1;

	add(st, "k", STORE_USE, "i", "", NULL);
	store_branch_create(st, "k", "b", NULL);
	for (i = 0; i < 3000; i++)
		if (store_checkout(st, "k", i % 2 ? "main" : "b") < 0)
			ok = 0;
	T_OK(ok);
	T_OK(count_lines(path) < 1100);
	T_STREQ(store_active(st, "k"), "main");
	store_close(st);
	st = store_open(path);
	T_STREQ(store_active(st, "k"), "main");
	T_INTEQ(store_depth(st, "k"), 1);
	store_close(st);
	free(path);
}

/* Two handles on one file (as two processes would be): each sees the
 * other's records before writing, and survives the other's compaction. */
static void
test_two_handles(void)
{
	char *path = newpath();
	struct store *a = store_open(path), *b = store_open(path);
	const struct store_entry *old;
	int forked = -1;
	long long id;
	struct store_new n;

	T_INTEQ(add(a, "k", STORE_USE, "i", "", NULL), 1);
	T_OK(store_tip(b, "k") == NULL);        /* b has not looked yet */
	T_INTEQ(add(b, "k", STORE_RUN, "i2", "", "o"), 2);
	T_OK(store_tip(b, "k")->parent == 1);   /* tip at the time of writing */
	old = store_tip(b, "k");
	T_INTEQ(add(a, "k", STORE_RUN, "i3", "", "o"), 3);
	T_OK(store_tip(a, "k")->parent == 2);
	T_INTEQ(store_compact(a), 0);
	T_INTEQ(add(a, "k", STORE_RUN, "i4", "", "o"), 4);
	/* b started work from entry 2 before a appended 3 and 4 */
	memset(&n, 0, sizeof n);
	n.kind = STORE_RUN;
	n.image = U("i5");
	n.from = 2;
	id = store_append(b, "k", &n, &forked);
	T_INTEQ(id, 5);
	T_INTEQ(forked, 1);
	T_OK(store_tip(b, "k")->parent == 2);
	T_OK(old->id == 2 && !strcmp(old->image, U("i2")));
	T_INTEQ(store_entry(b, "k", 4) != NULL, 1);
	n.from = 5;
	T_INTEQ(store_append(b, "k", &n, &forked), 6);
	T_INTEQ(forked, 0);
	/* a entry gone from the session: falls back to the tip */
	n.from = 77;
	T_INTEQ(store_append(a, "k", &n, &forked), 7);
	T_INTEQ(forked, 1);
	T_OK(store_tip(a, "k")->parent == 6);
	T_INTEQ(store_depth(a, "k"), 5);        /* 1 2 5 6 7 */
	store_close(a);
	store_close(b);
	free(path);
}

static int
child_append(const char *path, int who, int count)
{
	struct store *st = store_open(path);
	int i, fails = 0;
	char title[32];

	if (!st) {
		fprintf(stderr, "child %d: %s\n", who, geterr());
		return 1;
	}
	for (i = 0; i < count; i++) {
		snprintf(title, sizeof title, "w%d-%d", who, i);
		if (add(st, "shared", i ? STORE_RUN : STORE_USE, "img", title,
		    "op") < 0) {
			fprintf(stderr, "child %d: %s\n", who, geterr());
			fails++;
		}
	}
	store_close(st);
	return fails;
}

static int
child_compact(const char *path, int count)
{
	struct store *st = store_open(path);
	int i, fails = 0;

	if (!st)
		return 1;
	for (i = 0; i < count; i++) {
		if (store_compact(st) < 0) {
			fprintf(stderr, "compactor: %s\n", geterr());
			fails++;
		}
		sleep_ms(2);
	}
	store_close(st);
	return fails;
}

static void
concurrent(int compactor)
{
	char *path = newpath();
	struct store *st = store_open(path);
	pid_t pids[9];
	int i, ws, fails = 0, nproc = 8 + compactor;
	const struct store_entry **ev;
	size_t n, k;
	char *seen;
	int badparent = 0, dup = 0, titles = 0;

	store_close(st);
	fflush(NULL);
	for (i = 0; i < nproc; i++) {
		if ((pids[i] = fork()) == 0)
			_exit(i < 8 ? child_append(path, i, 50) :
			    child_compact(path, 40));
	}
	for (i = 0; i < nproc; i++)
		if (waitpid(pids[i], &ws, 0) < 0 || !WIFEXITED(ws) ||
		    WEXITSTATUS(ws))
			fails++;
	T_INTEQ(fails, 0);
	st = store_open(path);
	T_OK(st != NULL);
	if (!st)
		return;
	ev = store_entries(st, "shared", &n);
	T_INTEQ(n, 400);
	seen = xcalloc(402, 1);
	for (k = 0; k < n; k++) {
		if (ev[k]->id < 1 || ev[k]->id > 400 || seen[ev[k]->id]++)
			dup++;
		if (ev[k]->parent && (!ev[k]->up ||
		    !store_entry(st, "shared", ev[k]->parent)))
			badparent++;
		if (!ev[k]->parent && k)
			badparent++;
		if (ev[k]->title[0] == 'w')
			titles++;
	}
	T_INTEQ(dup, 0);
	T_INTEQ(badparent, 0);
	T_INTEQ(titles, 400);
	/* each append went onto the tip of its moment: one chain */
	T_INTEQ(store_depth(st, "shared"), 400);
	free(seen);
	free(ev);
	store_close(st);
	free(path);
}

static void
test_concurrency(void)
{
	concurrent(0);
	concurrent(1);
}

static void
test_lock_timeout(void)
{
	char *path = newpath();
	struct store *st = store_open(path);
	int up[2], down[2], ws;
	pid_t pid;
	char c;
	int64_t t0;

	if (pipe(up) < 0 || pipe(down) < 0)
		return;
	fflush(NULL);
	if ((pid = fork()) == 0) {
		struct store *cs = store_open(path);

		if (!cs || store_begin(cs) < 0)
			_exit(1);
		(void)!write(up[1], "x", 1);
		(void)!read(down[0], &c, 1);
		store_commit(cs);
		store_close(cs);
		_exit(0);
	}
	T_OK(read(up[0], &c, 1) == 1);
	setenv("CONTREE_DB_TIMEOUT", "0.3", 1);
	store_close(st);
	t0 = now_ms();
	st = store_open(path);          /* even reading waits for the lock */
	T_OK(st == NULL && contains(geterr(), "timed out") &&
	    contains(geterr(), path));
	T_OK(now_ms() - t0 >= 250);
	(void)!write(down[1], "x", 1);
	T_OK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) &&
	    WEXITSTATUS(ws) == 0);
	st = store_open(path);
	T_OK(st != NULL);
	T_INTEQ(add(st, "k", STORE_USE, "i", "", NULL), 1);
	/* and a writer that finds the lock held */
	if ((pid = fork()) == 0) {
		struct store *cs = store_open(path);

		if (!cs || store_begin(cs) < 0)
			_exit(1);
		(void)!write(up[1], "x", 1);
		(void)!read(down[0], &c, 1);
		store_close(cs);        /* commits */
		_exit(0);
	}
	T_OK(read(up[0], &c, 1) == 1);
	T_INTEQ(add(st, "k", STORE_RUN, "i", "", "o"), -1);
	T_OK(contains(geterr(), "timed out"));
	(void)!write(down[1], "x", 1);
	waitpid(pid, &ws, 0);
	T_INTEQ(add(st, "k", STORE_RUN, "i", "", "o"), 2);
	unsetenv("CONTREE_DB_TIMEOUT");
	store_close(st);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
	free(path);
}

static void
test_transaction(void)
{
	char *path = newpath();
	struct store *st = store_open(path), *other;
	const struct store_entry *t;
	pid_t pid;
	int ws;

	add(st, "k", STORE_USE, "i", "", NULL);
	T_INTEQ(store_begin(st), 0);
	T_INTEQ(store_begin(st), 0);    /* nests */
	t = store_back(store_tip(st, "k"), 0, NULL);
	T_INTEQ(add(st, "k", STORE_RUN, "i", "", "o"), 2);
	T_INTEQ(store_reset(st, "k", t->id), 0);
	T_INTEQ(store_commit(st), 0);
	/* still locked: another process times out */
	fflush(NULL);
	if ((pid = fork()) == 0) {
		setenv("CONTREE_DB_TIMEOUT", "0.1", 1);
		other = store_open(path);
		_exit(other == NULL ? 0 : 1);
	}
	T_OK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) &&
	    WEXITSTATUS(ws) == 0);
	T_INTEQ(store_commit(st), 0);
	if ((pid = fork()) == 0) {
		other = store_open(path);
		_exit(other && store_tip(other, "k")->id == 1 &&
		    store_entry(other, "k", 2) ? 0 : 1);
	}
	T_OK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) &&
	    WEXITSTATUS(ws) == 0);
	T_INTEQ(store_commit(st), 0);   /* extra commit is harmless */
	store_close(st);
	free(path);
}

/* A log: session k with entry 1 (image U("a")), then extra, then a good
 * env record; returns the path.  *want (if not NULL) gets the state the
 * log has without extra. */
static char *
with_record(const char *extra, size_t n, long long *line, char **want)
{
	char *path = newpath();
	struct store *st = store_open(path);
	struct buf b = {0};
	char *base;

	add(st, "k", STORE_USE, "a", "t", NULL);
	store_close(st);
	base = slurp(path);
	*line = count_lines(path) + 1;
	buf_puts(&b, base);
	crafted(&b, "env\tk\tA\t1");
	if (want) {
		spit(path, b.p, b.len);
		st = store_open(path);
		*want = st ? dumpstr(st) : NULL;
		store_close(st);
	}
	buf_reset(&b);
	buf_puts(&b, base);
	buf_add(&b, extra, n);
	crafted(&b, "env\tk\tA\t1");
	spit(path, b.p, b.len);
	buf_free(&b);
	free(base);
	return path;
}

/* A bad entry is refused before the log is locked: nothing is written,
 * not even the header of a new log. */
static void
test_bad_entry_writes_nothing(void)
{
	char *path = newpath();
	struct store *st;
	struct store_new n;
	struct stat sb;
	off_t before;
	char *dir = xstrdup(path);
	int fd;

	*strrchr(dir, '/') = '\0';
	mkdir(dir, 0700);
	free(dir);
	if ((fd = open(path, O_WRONLY | O_CREAT, 0600)) >= 0)
		close(fd);          /* an empty log: the next writer adds a header */
	st = store_open(path);

	T_OK(st != NULL);
	if (!st) {
		free(path);
		return;
	}
	before = stat(path, &sb) == 0 ? sb.st_size : -1;
	memset(&n, 0, sizeof n);
	n.kind = "bogus";
	n.image = "0123abcd-0000-4000-8000-000000000001";
	T_INTEQ(store_append(st, "k", &n, NULL), -1);
	T_OK(strstr(geterr(), "unknown history entry kind") != NULL);
	T_INTEQ(stat(path, &sb) == 0 ? sb.st_size : -1, before);
	store_close(st);
	free(path);
}

static void
test_validate(void)
{
	static const char *const bad[] = {
		/* the crash: a 60-character image with a valid checksum */
		"entry\t2\tk\t1\t1700000000\t\trun\t"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "\t\tboom",
		"entry\t2\tk\t1\t1\t\trun\t0123ABCD-0000-4000-8000-000000000001"
		    "\t\tupper",
		"entry\t2\tk\t1\t1\t\trun\t0123abcd-0000-4000-8000-00000000001"
		    "\t\tshort",
		"entry\t2\tk\t1\t1\t\trun\t0123abcd-0000-4000-8000-00000000000g"
		    "\t\tnot hex",
		"entry\t2\tk\t1\t1\t\trun\t0123abcd00000-4000-8000-000000000001"
		    "\t\tno dash",
		"entry\t2\tk\t1\t1\t\trun\t\t\tempty image",
		"entry\t0\tk\t0\t1\tmain\tuse\t%U\t\tid 0",
		"entry\t1234567890123456789\tk\t0\t1\tmain\tuse\t%U\t\tbig id",
		"entry\t2\tk\t5\t1\t\trun\t%U\t\tparent missing",
		"entry\t2\tk\t2\t1\t\trun\t%U\t\tparent is itself",
		"entry\t2\tk\t1\t253402300800\t\trun\t%U\t\ttime",
		"entry\t2\tk\t1\t-1\t\trun\t%U\t\tnegative time",
		"entry\t2\t\t0\t1\tmain\tuse\t%U\t\tempty key",
		"entry\t2\t%K\t0\t1\tmain\tuse\t%U\t\tlong key",
		"entry\t2\tk\t1\t1\t%K\trun\t%U\t\tlong branch",
		"entry\t2\tk\t1\t1\t\tbogus\t%U\t\tkind",
		"entry\t2\tk\t1\t1\t\trun\t%U\t%K\tlong op",
		"entry\t2\tk\t1\t1\t\tfile\t%U\t\tt\t/p\tf\t4294967296\t0\t0644",
		"entry\t2\tk\t1\t1\t\tfile\t%U\t\tt\t/p\tf\t0\t0\t0648",
		"entry\t2\tk\t1\t1\t\tfile\t%U\t\tt\t\tf\t0\t0\t0644",
		"entry\t2\tk\t1\t1\t\tfile\t%U\t\tt\t/p\tf\t0\t0",
		"entry\t1\tk\t0\t1\tmain\tuse\t%U\t\tid again",
		"branch\tk\tb\t7",
		"branch\tk\t\t1",
		"reset\tk\tother\t1\t1",
		"checkout\tk\tnosuch\t1",
		"unbranch\tk\t1\tmain",
		"env\tk\tA=B\tv",
		"env\tk\t\tv",
		"env\tk\tA",
		"pending\tk\top\t2\t\tt",
		"pending\tk\t%K\t1\t\tt",
		"done\tk",
		"hist\tk",
		"delete\tk\textra",
		"maxid\t-1",
		"maxid\tx",
		"nosuch\tk",
		"env\tk\tA\tx\\q",
		"env\t%K\tA\t1",
	};
	const char *u = U("a");
	struct buf rec = {0}, line = {0};
	char *want, *path, *got, *err, *where;
	struct store *st;
	long long at;
	size_t i;
	int badwarn = 0, badstate = 0;

	for (i = 0; i <= LEN(bad); i++) {
		const char *p;

		buf_reset(&rec);
		buf_reset(&line);
		if (i == LEN(bad)) {    /* a NUL byte in a field */
			buf_add(&rec, "env\tk\tA\tx\0y", 11);
		} else {
			for (p = bad[i]; *p; p++)
				if (p[0] == '%' && p[1] == 'U')
					buf_puts(&rec, u), p++;
				else if (p[0] == '%' && p[1] == 'K')
					buf_printf(&rec, "%01025d", 0), p++;
				else
					buf_addc(&rec, *p);
		}
		buf_add(&line, rec.p, rec.len);
		buf_printf(&line, "\t%08x\n", (unsigned)store_crc32(0, rec.p,
		    rec.len));
		path = with_record(line.p, line.len, &at, &want);
		where = xasprintf("%s:%lld: skipping a corrupt record", path,
		    at);
		quiet();
		st = store_open(path);
		err = heard();
		got = st ? dumpstr(st) : NULL;
		if (!err || count_of(err, where) != 1 ||
		    count_of(err, "WARNING") != 1) {
			badwarn++;
			fprintf(stderr, "record %zu: %s\n", i, err);
		}
		if (!got || !want || strcmp(got, want) != 0) {
			badstate++;
			fprintf(stderr, "record %zu kept: %s\n", i, got);
		}
		store_close(st);
		free(got);
		free(want);
		free(err);
		free(where);
		free(path);
	}
	T_INTEQ(badwarn, 0);
	T_INTEQ(badstate, 0);
	/* the largest values the rules allow are kept, without a word */
	buf_reset(&line);
	{
		char *r = xasprintf("entry\t2\tk\t1\t253402300799\tb2\tfile\t%s\t"
		    "%s\tt\t/p\tf\t4294967295\t0\t7777", u, u);

		crafted(&line, r);
		free(r);
	}
	path = with_record(line.p, line.len, &at, NULL);
	quiet();
	st = store_open(path);
	err = heard();
	T_OK(st && err && !contains(err, "WARNING"));
	T_OK(st && store_branch_tip(st, "k", "b2") &&
	    store_branch_tip(st, "k", "b2")->files[0].uid == 4294967295LL);
	store_close(st);
	free(err);
	free(path);
	/* writers refuse what replay would skip */
	st = store_open(path = newpath());
	T_INTEQ(add(st, "k", STORE_USE, "a", "t", NULL), 1);
	{
		struct store_new n;

		memset(&n, 0, sizeof n);
		n.kind = STORE_RUN;
		n.image = "0123ABCD-0000-4000-8000-000000000001";
		T_INTEQ(store_append(st, "k", &n, NULL), -1);
		T_OK(contains(geterr(), "not a UUID"));
		n.image = u;
		n.op = "0123456789012345678901234567890123456789012345678901234567890123456789";
		T_INTEQ(store_append(st, "k", &n, NULL), -1);
		T_OK(contains(geterr(), path) && contains(geterr(), "invalid"));
	}
	T_OK(store_tip(st, "k")->id == 1);
	store_close(st);
	free(path);
	buf_free(&rec);
	buf_free(&line);
}

/* Replay cuts records a word at a time: TABs, escapes, NUL bytes and
 * bad escapes at every offset from a word's start, and checksums that
 * are not 8 lowercase hex digits. */
static void
test_split(void)
{
	char *path = newpath(), *err, *val, *name;
	struct buf b = {0}, rec = {0};
	struct store *st;
	struct store_kv *kv;
	size_t n = 0, i;
	int k, j, good = 0, bad = 0, wrong = 0;
	static const char *const esc[] = { "\\t", "\\n", "\\\\" };
	static const char raw[] = { '\t', '\n', '\\' };
	static const char zs[] = "zzzzzzzzzzzzzzzzzzzzzzzzz";

	st = store_open(path);
	T_INTEQ(add(st, "k", STORE_USE, "a", "t", NULL), 1);
	store_close(st);
	b.p = slurp(path);
	b.len = b.p ? strlen(b.p) : 0;
	b.cap = b.len + 1;
	for (k = 0; k < 24; k++) {
		for (j = 0; j < 3; j++) {       /* an escape at offset k */
			buf_reset(&rec);
			buf_printf(&rec, "env\tk\tV%d_%d\t%.*s%sy", k, j, k,
			    "xxxxxxxxxxxxxxxxxxxxxxxxxxxx", esc[j]);
			crafted(&b, rec.p);
			good++;
		}
		/* empty fields: TABs side by side at offset k */
		buf_reset(&rec);
		buf_printf(&rec, "pending\tk\t%.*so\t0\t\t", k + 1,
		    "ppppppppppppppppppppppppppppp");
		crafted(&b, rec.p);
		/* a NUL byte, a bad escape, a lone final backslash */
		buf_reset(&rec);
		buf_printf(&rec, "env\tk\tN%d\t%.*s", k, k, zs);
		buf_add(&rec, "\0q", 2);
		buf_add(&b, rec.p, rec.len);
		buf_printf(&b, "\t%08x\n", (unsigned)store_crc32(0, rec.p,
		    rec.len));
		buf_reset(&rec);
		buf_printf(&rec, "env\tk\tE%d\t%.*s\\q", k, k, zs);
		crafted(&b, rec.p);
		buf_reset(&rec);
		buf_printf(&rec, "env\tk\tF%d\t%.*s\\", k, k, zs);
		crafted(&b, rec.p);
		bad += 3;
	}
	/* checksums in uppercase or with a non-hex digit: corrupt */
	buf_reset(&rec);
	buf_printf(&rec, "env\tk\tUP\t1");
	buf_printf(&b, "%s\t%08X\n", rec.p, (unsigned)store_crc32(0, rec.p,
	    rec.len));
	T_OK(strcspn(b.p + b.len - 9, "ABCDEF") < 8);  /* has a letter */
	buf_printf(&b, "%s\t%07xg\n", rec.p, (unsigned)store_crc32(0, rec.p,
	    rec.len) >> 4);
	bad += 2;
	crafted(&b, "env\tk\tLAST\t1");
	spit(path, b.p, b.len);
	quiet();
	st = store_open(path);
	err = heard();
	T_OK(st != NULL);
	T_INTEQ(count_of(err, "skipping a corrupt record"), bad);
	T_INTEQ(count_of(err, "(NUL byte)"), 24);
	T_INTEQ(count_of(err, "(bad escape)"), 48);
	T_INTEQ(count_of(err, "(bad checksum)"), 2);
	kv = st ? store_env(st, "k", &n) : NULL;
	T_INTEQ(n, good + 1);
	for (k = 0; kv && k < 24; k++)
		for (j = 0; j < 3; j++) {
			name = xasprintf("V%d_%d", k, j);
			val = xasprintf("%.*s%cy", k,
			    "xxxxxxxxxxxxxxxxxxxxxxxxxxxx", raw[j]);
			for (i = 0; i < n && strcmp(kv[i].name, name); i++)
				;
			if (i == n || strcmp(kv[i].value, val) != 0)
				wrong++;
			free(name);
			free(val);
		}
	T_INTEQ(wrong, 0);
	free(kv);
	{
		struct store_pending *p;

		p = st ? store_pending(st, "k", &n) : NULL;

		T_INTEQ(n, 24);
		for (i = 0, wrong = 0; p && i < n; i++)
			if (strlen(p[i].op) != i + 2 || p[i].op[i + 1] != 'o' ||
			    *p[i].branch || *p[i].title || p[i].disposable)
				wrong++;
		T_INTEQ(wrong, 0);
		free(p);
	}
	store_close(st);
	free(err);
	buf_free(&b);
	buf_free(&rec);
	free(path);
}

static void
test_crlf(void)
{
	char *path = newpath(), *raw, *want, *got, *err;
	struct store *st = build_all(path, (long long[8]){0});
	struct buf b = {0};
	size_t i;

	if (!st)
		return;
	want = dumpstr(st);
	store_close(st);
	raw = slurp(path);
	for (i = 0; raw[i]; i++) {
		if (raw[i] == '\n')
			buf_addc(&b, '\r');
		buf_addc(&b, raw[i]);
	}
	spit(path, b.p, b.len);
	quiet();
	st = store_open(path);
	err = heard();
	T_OK(st != NULL && err && !contains(err, "WARNING"));
	got = st ? dumpstr(st) : NULL;
	T_STREQ(got, want);
	T_OK(st && add(st, "s1", STORE_CD, "a", "/x", NULL) == 9);
	store_close(st);
	st = store_open(path);
	T_OK(st && store_tip(st, "s1")->id == 9 && store_cwd(st, "s1") &&
	    !strcmp(store_cwd(st, "s1"), "/x"));
	store_close(st);
	free(got);
	free(err);
	free(raw);
	free(want);
	buf_free(&b);
	free(path);
}

/* A torn last line and a bad middle line: one warning each, the rest
 * kept, and the next writer rewrites the file without them. */
static void
test_repair(void)
{
	char *path = newpath(), *full, *err, *raw, *where, *want;
	long long ids[8], lines;
	struct store *st = build_all(path, ids);
	struct buf b = {0};
	size_t second;

	if (!st)
		return;
	want = dumpstr(st);
	store_close(st);
	full = slurp(path);
	lines = count_lines(path);
	second = strchr(full, '\n') - full + 1;
	buf_add(&b, full, second);
	buf_puts(&b, "junk that is no record\n");
	buf_puts(&b, full + second);
	buf_puts(&b, "entry\t99\ts1\t0\t1");       /* torn */
	spit(path, b.p, b.len);
	quiet();
	st = store_open(path);
	T_OK(st && add(st, "s1", STORE_CD, "a", "/r", NULL) == 9);
	store_close(st);
	err = heard();
	where = xasprintf("%s:2: skipping a corrupt record", path);
	T_INTEQ(count_of(err, where), 1);
	free(where);
	where = xasprintf("%s:%lld: ignoring an incomplete last record", path,
	    lines + 2);
	T_INTEQ(count_of(err, where), 1);
	T_INTEQ(count_of(err, "incomplete"), 1);
	T_OK(contains(err, "rewrote the log without 1 corrupt record"));
	free(where);
	free(err);
	raw = slurp(path);
	T_OK(raw && !contains(raw, "junk") && !contains(raw, "entry\t99\t"));
	free(raw);
	quiet();
	st = store_open(path);
	err = heard();
	T_OK(st && err && !contains(err, "WARNING"));
	T_OK(st && store_tip(st, "s1")->id == 9 && store_reset(st, "s1",
	    store_tip(st, "s1")->parent) == 0);
	store_close(st);
	free(err);
	free(want);
	free(full);
	buf_free(&b);
	free(path);
}

static void
test_sweep(void)
{
	char *path = newpath(), *dead, *live, *other;
	struct store *st = store_open(path);
	pid_t pid;
	int ws;

	store_close(st);
	fflush(NULL);
	if ((pid = fork()) == 0)
		_exit(0);
	waitpid(pid, &ws, 0);           /* reaped: the pid is free */
	dead = xasprintf("%s.tmp.%ld.AbC123", path, (long)pid);
	live = xasprintf("%s.tmp.%ld.AbC123", path, (long)getpid());
	other = xasprintf("%s.tmp.%ld.x", path, (long)pid);
	spit(dead, "contree-log 1\n", 14);
	spit(live, "contree-log 1\n", 14);
	spit(other, "contree-log 1\n", 14);
	st = store_open(path);
	T_OK(st != NULL);
	T_OK(access(dead, F_OK) < 0 && errno == ENOENT);
	T_OK(access(live, F_OK) == 0);
	T_OK(access(other, F_OK) == 0);
	/* our own compaction leaves nothing behind */
	unlink(live);
	unlink(other);
	T_INTEQ(add(st, "k", STORE_USE, "a", "", NULL), 1);
	T_INTEQ(store_compact(st), 0);
	store_close(st);
	{
		char *dir = xstrdup(path), *sl = strrchr(dir, '/');
		DIR *dp;
		struct dirent *d;
		int n = 0;

		*sl = '\0';
		if ((dp = opendir(dir))) {
			while ((d = readdir(dp)))
				n += d->d_name[0] != '.';
			closedir(dp);
		}
		T_INTEQ(n, 1);
		free(dir);
	}
	free(dead);
	free(live);
	free(other);
	free(path);
}

/* A file-size limit stands in for a full disk (EFBIG instead of
 * ENOSPC): the error names the file being written and the log stays
 * as it was. */
static int
child_full(const char *path, long long room)
{
	struct store *st = store_open(path);
	struct rlimit rl;
	struct stat sb;
	char title[400];
	int fails = 0;

	signal(SIGXFSZ, SIG_IGN);
	if (!st || stat(path, &sb) < 0)
		return 1;
	rl.rlim_cur = rl.rlim_max = (rlim_t)(sb.st_size + room);
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
		return 1;
	memset(title, 'x', sizeof title - 1);
	title[sizeof title - 1] = '\0';
	if (add(st, "s1", STORE_RUN, "a", title, NULL) != -1 ||
	    !contains(geterr(), path))
		fails++;
	rl.rlim_cur = rl.rlim_max = 64;         /* and the compacted copy */
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0 || store_compact(st) != -1 ||
	    !contains(geterr(), path) || !contains(geterr(), ".tmp."))
		fails++;
	store_close(st);
	return fails;
}

static void
test_full_disk(void)
{
	char *path = newpath(), *before, *after, *d1, *d2;
	long long ids[8];
	struct store *st = build_all(path, ids);
	pid_t pid;
	int ws;

	if (!st)
		return;
	d1 = dumpstr(st);
	store_close(st);
	before = slurp(path);
	fflush(NULL);
	if ((pid = fork()) == 0)
		_exit(child_full(path, 100));
	T_OK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) &&
	    WEXITSTATUS(ws) == 0);
	after = slurp(path);
	T_STREQ(after, before);
	st = store_open(path);
	d2 = st ? dumpstr(st) : NULL;
	T_STREQ(d2, d1);
	store_close(st);
	free(d1);
	free(d2);
	free(before);
	free(after);
	free(path);
}

/* ---- the profile layout: an index and one log per session ---- */

static char *
sfile(const char *path, const char *key)
{
	return store_session_file(path, key);
}

static void
test_layout(void)
{
	char *path = newpath(), *s, *fa, *fb;
	struct store *st = store_open(path);
	struct store_session *l;
	size_t n;

	T_OK(st != NULL);
	if (!st)
		return;
	T_INTEQ(add(st, "a", STORE_USE, "i1", "", NULL), 1);
	T_INTEQ(add(st, "b/x", STORE_USE, "i2", "", NULL), 2);
	T_INTEQ(add(st, "a", STORE_CD, "i1", "/etc", NULL), 3);
	store_close(st);
	s = slurp(path);
	T_OK(s && strncmp(s, "contree-log 2\nsess\ta\t", 20) == 0);
	free(s);
	fa = sfile(path, "a");
	fb = sfile(path, "b/x");
	T_OK(contains(fb, ".log.d/b%2Fx.log"));
	s = slurp(fa);
	T_OK(s && strncmp(s, "contree-log 1\nentry\t1\ta\t0\t", 26) == 0 &&
	    contains(s, "entry\t3\ta\t1\t") && !contains(s, "b/x"));
	free(s);
	/* reading session a never reads b's log: garbage there is unseen */
	spit(fb, "garbage", 7);
	quiet();
	st = store_open(path);
	T_OK(st && store_tip(st, "a") && store_tip(st, "a")->id == 3);
	T_STREQ(st ? store_cwd(st, "a") : NULL, "/etc");
	/* the list comes from the index; b's log has another size now, so
	 * it is read (and found broken) */
	n = 0;
	l = st ? store_list(st, &n) : NULL;
	s = heard();
	T_INTEQ(n, 1);
	T_OK(l && n && strcmp(l[0].key, "a") == 0 && l[0].tip->id == 3 &&
	    l[0].nentries == 2);
	T_OK(contains(s, fb) && !contains(s, fa));
	free(s);
	free(l);
	store_close(st);
	/* read by one handle, rewritten by another, then written by the
	 * first: it rereads the new file instead of trusting its offset */
	{
		struct store *a = store_open(path), *b = store_open(path);
		const struct store_entry *t;

		T_OK(a && store_tip(a, "a") && store_tip(a, "a")->id == 3);
		T_OK(add(b, "a", STORE_CD, "i1", "/b", NULL) == 4);
		T_INTEQ(store_compact(b), 0);
		store_close(b);
		quiet();
		T_OK(add(a, "a", STORE_CD, "i1", "/a", NULL) == 5);
		s = heard();
		T_OK(s && !contains(s, "corrupt") && !contains(s, "rewrote"));
		free(s);
		t = store_tip(a, "a");
		T_OK(t && t->id == 5 && t->parent == 4 && t->up &&
		    strcmp(t->up->title, "/b") == 0);
		store_close(a);
		a = store_open(path);
		T_INTEQ(store_depth(a, "a"), 4);
		store_close(a);
	}
	/* a long key gets a hashed name, still its own file */
	{
		char key[600];
		char *f;

		memset(key, 'k', sizeof key - 1);
		key[sizeof key - 1] = '\0';
		st = store_open(path);
		T_OK(add(st, key, STORE_USE, "i", "", NULL) == 6);
		store_close(st);
		f = sfile(path, key);
		T_OK(strlen(strrchr(f, '/')) < 200 && access(f, F_OK) == 0);
		st = store_open(path);
		T_OK(store_tip(st, key) && store_tip(st, key)->id == 6);
		store_close(st);
		free(f);
	}
	free(fa);
	free(fb);
	free(path);
}

static const char *crash_at;

static void
crash_hook(const char *step)
{
	if (strcmp(step, crash_at) == 0)
		raise(SIGKILL);
}

/* In a child, run f with the hook set to die at step; 1 if it died. */
static int
die_at(const char *step, const char *path, int (*f)(const char *))
{
	pid_t pid;
	int ws;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		crash_at = step;
		store_test_hook = crash_hook;
		_exit(f(path));
	}
	return waitpid(pid, &ws, 0) == pid && WIFSIGNALED(ws) &&
	    WTERMSIG(ws) == SIGKILL;
}

static int
child_open(const char *path)
{
	struct store *st = store_open(path);

	store_close(st);
	return st ? 0 : 1;
}

static void
test_migration(void)
{
	char *path = newpath(), *v1, *before, *now, *s;
	const char *steps[] = { "migrate: read", "migrate: session written",
	    "migrate: sessions written" };
	long long ids[8];
	struct store *st;
	size_t i;

	profile = 0;
	st = build_all(path, ids);
	profile = 1;
	if (!st)
		return;
	T_OK(store_env_set(st, "envonly", (const char *[]){ "A" },
	    (const char *[]){ "1" }, 1) == 0);
	before = dumpstr(st);
	store_close(st);
	v1 = slurp(path);
	T_OK(v1 && strncmp(v1, "contree-log 1\n", 14) == 0);
	/* a stale log from an earlier, interrupted try must not count */
	{
		char *d = xasprintf("%s.d", path), *f = sfile(path, "ghost");

		mkdir(d, 0700);
		spit(f, "contree-log 1\n", 14);
		free(d);
		free(f);
	}
	/* killed between any two steps: the old log is as it was */
	for (i = 0; i < LEN(steps); i++) {
		T_OK(die_at(steps[i], path, child_open));
		s = slurp(path);
		T_STREQ(s, v1);
		free(s);
	}
	/* then the migration is done again, and loses nothing */
	quiet();
	st = store_open(path);
	free(heard());
	T_OK(st != NULL);
	now = st ? dumpstr(st) : NULL;
	T_STREQ(now, before);
	T_OK(st && store_tip(st, "ghost") == NULL);
	T_OK(st && store_get(st, "s1", NULL));
	free(now);
	store_close(st);
	s = slurp(path);
	T_OK(s && strncmp(s, "contree-log 2\n", 14) == 0);
	free(s);
	/* once: opening again changes nothing */
	st = store_open(path);
	now = st ? dumpstr(st) : NULL;
	T_STREQ(now, before);
	free(now);
	/* and ids go on after the old ones */
	T_OK(st && add(st, "s1", STORE_CD, "i", "/", NULL) > ids[7]);
	store_close(st);
	free(before);
	free(v1);
	free(path);
}

static int
child_add_a(const char *path)
{
	struct store *st = store_open(path);

	return st && add(st, "a", STORE_CD, "i1", "/lost", NULL) > 0 ? 0 : 1;
}

/* The last sess record of key in the index at path: its size field. */
static long long
indexed_size(const char *path, const char *key)
{
	char *s = slurp(path), *p, *want = xasprintf("\nsess\t%s\t", key);
	long long size = -1;

	for (p = s; p && (p = strstr(p, want)); p++)
		size = atoll(p + strlen(want));
	free(want);
	free(s);
	return size;
}

static void
test_kill_mid_append(void)
{
	char *path = newpath(), *fa, *s;
	struct store *st = store_open(path);
	struct store_session *l;
	struct stat sb;
	size_t n, k;

	add(st, "a", STORE_USE, "i1", "", NULL);
	add(st, "b", STORE_USE, "i2", "", NULL);
	store_close(st);
	fa = sfile(path, "a");
	/* killed after the index got the summary, before the log: */
	T_OK(die_at("append: index written", path, child_add_a));
	stat(fa, &sb);
	T_OK(indexed_size(path, "a") > (long long)sb.st_size);
	/* session list reads that session's log and corrects the index */
	st = store_open(path);
	l = store_list(st, &n);
	T_INTEQ(n, 2);
	k = n == 2 && strcmp(l[1].key, "a") == 0;
	T_OK(n == 2 && strcmp(l[k].key, "a") == 0 && l[k].tip->id == 1 &&
	    l[k].nentries == 1);
	free(l);
	store_close(st);
	T_INTEQ(indexed_size(path, "a"), (long long)sb.st_size);
	/* a torn record in the log (killed mid-write): the same */
	st = store_open(path);
	T_OK(add(st, "a", STORE_CD, "i1", "/x", NULL) == 4);
	store_close(st);
	s = slurp(fa);
	stat(fa, &sb);
	spit(fa, s, (size_t)sb.st_size - 5);
	free(s);
	quiet();
	st = store_open(path);
	l = store_list(st, &n);
	free(heard());
	T_OK(n == 2 && strcmp(l[0].key, "a") == 0 && l[0].tip->id == 1);
	free(l);
	T_OK(store_tip(st, "a") && store_tip(st, "a")->id == 1);
	/* the next id is still new: 4 was issued */
	T_INTEQ(add(st, "b", STORE_CD, "i2", "/y", NULL), 5);
	store_close(st);
	stat(fa, &sb);
	T_INTEQ(indexed_size(path, "a"), (long long)sb.st_size);
	/* the index lost: rebuilt from the session logs */
	unlink(path);
	quiet();
	st = store_open(path);
	s = heard();
	T_OK(contains(s, "rebuilt the index"));
	free(s);
	n = 0;
	l = st ? store_list(st, &n) : NULL;
	T_INTEQ(n, 2);
	T_OK(l && n == 2 && strcmp(l[0].key, "b") == 0 &&
	    l[0].tip->id == 5 && strcmp(l[1].key, "a") == 0);
	free(l);
	T_INTEQ(add(st, "a", STORE_CD, "i1", "/z", NULL), 6);
	store_close(st);
	free(fa);
	free(path);
}

static int
child_sessions(const char *path, int who, int count)
{
	struct store *st = store_open(path);
	char key[16];
	int i, fails = 0;

	snprintf(key, sizeof key, "p%d", who % 3);
	for (i = 0; st && i < count; i++)
		if (add(st, key, i ? STORE_RUN : STORE_USE, "img", "t", "op") < 0)
			fails++;
	store_close(st);
	return st ? fails : 1;
}

/* Several processes, some in the same session, some in others. */
static void
test_profile_concurrency(void)
{
	char *path = newpath(), *seen;
	struct store *st;
	struct store_session *l;
	const struct store_entry **ev;
	pid_t pids[6];
	int i, ws, fails = 0, dup = 0;
	size_t n, k, tot = 0;
	char key[16];

	for (i = 0; i < 6; i++)
		if ((pids[i] = fork()) == 0)
			_exit(child_sessions(path, i, 30));
	for (i = 0; i < 6; i++)
		if (waitpid(pids[i], &ws, 0) < 0 || !WIFEXITED(ws) ||
		    WEXITSTATUS(ws))
			fails++;
	T_INTEQ(fails, 0);
	st = store_open(path);
	seen = xcalloc(181, 1);
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof key, "p%d", i);
		ev = store_entries(st, key, &n);
		T_INTEQ(n, 60);
		T_INTEQ(store_depth(st, key), 60);
		for (k = 0; k < n; k++)
			if (ev[k]->id < 1 || ev[k]->id > 180 || seen[ev[k]->id]++)
				dup++;
		tot += n;
		free(ev);
	}
	T_INTEQ(dup, 0);
	T_INTEQ(tot, 180);
	l = store_list(st, &n);
	T_INTEQ(n, 3);
	for (k = 0; k < n; k++)
		T_INTEQ(l[k].nentries, 60);
	free(l);
	free(seen);
	store_close(st);
	free(path);
}


/* A session whose mapped entry array must grow while mmap fails: the
 * array moves to the heap (it was realloc'ed as if from malloc). */
static void
test_ent_grow_nomap(void)
{
#ifdef MMAP_HOOK
	char *path = newpath();
	struct store *st = store_open(path);
	const struct store_entry **all;
	size_t n = 0;
	int i, ok = 1, want = 262144 + 10;

	T_OK(st && store_begin(st) == 0);
	for (i = 0; st && i < want; i++) {
		if (i == 262144 - 1)
			mmap_fail = 1;
		if (add(st, "k", STORE_RUN, "a", "t", NULL) != i + 1)
			ok = 0;
	}
	mmap_fail = 0;
	T_OK(st && store_commit(st) == 0 && ok);
	all = st ? store_entries(st, "k", &n) : NULL;
	T_INTEQ(n, want);
	for (i = 0, ok = 1; all && i < (int)n; i++)
		if (all[i]->id != i + 1)
			ok = 0;
	T_OK(ok);
	free(all);
	T_INTEQ(st ? store_delete(st, "k") : -1, 1);
	store_close(st);
	free(path);
#endif
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_crc();
	test_path();
	test_create();
	test_roundtrip();
	test_escape();
	test_torn();
	test_corrupt();
	test_permission();
	test_ids_and_delete();
	test_derived();
	test_refs();
	test_list_order();
	test_match();
	test_history_cap();
	test_big();
	test_big_replay();
	test_ent_grow_nomap();
	test_autocompact();
	test_two_handles();
	test_concurrency();
	test_lock_timeout();
	test_transaction();
	test_validate();
	test_bad_entry_writes_nothing();
	test_split();
	test_crlf();
	test_repair();
	test_sweep();
	test_full_disk();
	/* the same behaviour through a profile */
	profile = 1;
	test_ids_and_delete();
	test_derived();
	test_refs();
	test_list_order();
	test_match();
	test_history_cap();
	test_transaction();
	test_concurrency();
	test_layout();
	test_migration();
	test_kill_mid_append();
	test_profile_concurrency();
	rmtree(tmpdir);
	return T_END("unit_store");
}
