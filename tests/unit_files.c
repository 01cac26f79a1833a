/* unit_files.c - files.c through its interface: hashing, --file specs,
 * excludes, the upload cache file, the walker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../api.h"
#include "../files.h"
#include "../util.h"
#include "unit.h"

static char home[] = "/tmp/unit_files-XXXXXX";

static char *
path(const char *rel)
{
	return xasprintf("%s/%s", home, rel);
}

static void
put(const char *rel, const char *text)
{
	char *p = path(rel);
	FILE *f = fopen(p, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
	free(p);
}

static void
t_hash(void)
{
	char hex[65];
	char *p = path("abc");

	sha256_hex("abc", 3, hex);
	T_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_hex("", 0, hex);
	T_STREQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	put("abc", "abc");
	memset(hex, 0, sizeof hex);
	T_INTEQ(sha256_file(p, hex), 0);
	T_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	free(p);
	p = path("missing");
	T_INTEQ(sha256_file(p, hex), -1);
	T_OK(strstr(geterr(), "missing") != NULL);
	free(p);
}

static void
t_reply_uuid(void)
{
	struct buf b = {0};
	char u[37];

	buf_puts(&b, "{\"uuid\":\"0b5e2f8e-1c1d-4c4e-9a63-2f4f9f0e1a2b\",\"sha256\":\"x\"}");
	T_INTEQ(api_reply_uuid(&b, "POST /files", u), 0);
	T_STREQ(u, "0b5e2f8e-1c1d-4c4e-9a63-2f4f9f0e1a2b");
	buf_reset(&b);
	buf_puts(&b, "{\"uuid\":\"short\"}");
	T_INTEQ(api_reply_uuid(&b, "POST /files", u), -1);
	T_OK(strstr(geterr(), "POST /files") != NULL);
	buf_reset(&b);
	buf_puts(&b, "[1");
	T_INTEQ(api_reply_uuid(&b, "GET /files", u), -1);
	buf_free(&b);
}

static void
t_spec(void)
{
	struct spec s;

	T_INTEQ(parse_spec("a.txt", &s), 0);
	T_STREQ(s.host, "a.txt");
	T_OK(!s.dest && !s.has_uid && !s.has_gid && !s.has_mode);
	free(s.host);
	T_INTEQ(parse_spec("dir:m0640:/app:u1000:g0", &s), 0);
	T_STREQ(s.host, "dir");
	T_STREQ(s.dest, "/app");
	T_OK(s.has_uid && s.uid == 1000 && s.has_gid && s.gid == 0);
	T_OK(s.has_mode && s.mode == 0640);
	free(s.host);
	free(s.dest);
	T_INTEQ(parse_spec("x:uroot", &s), 0);
	T_OK(s.has_uid && s.uid == 0);
	free(s.host);
	T_INTEQ(parse_spec(":/a", &s), -1);
	T_OK(strstr(geterr(), "no host path") != NULL);
	T_INTEQ(parse_spec("x:/a:/b", &s), -1);
	T_OK(strstr(geterr(), "more than one destination") != NULL);
	T_OK(!s.host && !s.dest);
	T_INTEQ(parse_spec("x:m99", &s), -1);
	T_OK(strstr(geterr(), "octal") != NULL);
	T_INTEQ(parse_spec("x:m17777", &s), -1);
	T_INTEQ(parse_spec("x:m", &s), -1);
	T_INTEQ(parse_spec("x:u", &s), -1);
	T_OK(strstr(geterr(), "empty uid") != NULL);
	T_INTEQ(parse_spec("x:zzz", &s), -1);
	T_OK(strstr(geterr(), "unknown field 'zzz'") != NULL);
}

static void
t_excluded(void)
{
	char *pats[] = { "*.log", "deep" };

	T_OK(excluded(".git", ".git", NULL, 0));
	T_OK(excluded("sub/.env", ".env", NULL, 0));
	T_OK(excluded("a/b.pyc", "b.pyc", NULL, 0));
	T_OK(excluded("node_modules", "node_modules", NULL, 0));
	T_OK(!excluded("src/main.c", "main.c", NULL, 0));
	T_OK(!excluded("x.log", "x.log", NULL, 0));
	T_OK(excluded("x.log", "x.log", pats, 2));
	T_OK(excluded("a/deep", "deep", pats, 2));
	T_OK(!excluded("deeper", "deeper", pats, 2));
	T_OK(excluded("Build", "Build", NULL, 0) == 0);   /* case-sensitive */
}

static struct upent
entry(const char *p, const char *uuid, long long when)
{
	struct upent e;

	memset(&e, 0, sizeof e);
	e.path = (char *)p;
	memcpy(e.uuid, uuid, 37);
	memset(e.sha, 'a', 64);
	e.ino = 42;
	e.mtime_ns = 1700000000123456789LL;
	e.size = 7;
	e.when = when;
	return e;
}

#define U1 "11111111-1111-4111-8111-111111111111"
#define U2 "22222222-2222-4222-8222-222222222222"

static void
t_cache_roundtrip(void)
{
	struct upcache u, v;
	struct upent e;
	struct stat st;
	const char *odd = "/odd\tname\nwith \\ slash";
	long long now = (long long)time(NULL);
	char *cli = path("cli"), *f;

	upcache_load(&u, home);         /* nothing yet */
	T_INTEQ(u.n, 0);
	T_OK(upcache_find(&u, "/a") == NULL);
	e = entry("/a", U1, now);
	upcache_put(&u, &e);
	e = entry(odd, U2, now);
	upcache_put(&u, &e);
	e = entry("/b", U1, now);
	upcache_put(&u, &e);
	T_INTEQ(upcache_save(&u), 0);
	upcache_free(&u);

	upcache_load(&v, home);
	T_INTEQ(v.n, 3);
	T_OK(upcache_find(&v, odd) != NULL);
	T_STREQ(upcache_find(&v, odd)->uuid, U2);
	T_OK(upcache_find(&v, "/a")->mtime_ns == 1700000000123456789LL);
	T_STREQ(upcache_source(&v, U1), "/b");          /* newest */
	T_STREQ(upcache_source(&v, U2), odd);
	T_OK(upcache_source(&v, "33333333-3333-4333-8333-333333333333") == NULL);
	memset(&st, 0, sizeof st);
	st.st_ino = 42;
	st.st_size = 7;
	st.st_mtim.tv_sec = 1700000000;
	st.st_mtim.tv_nsec = 123456789;
	T_OK(upcache_match(&v, "/a", &st) != NULL);
	st.st_size = 8;
	T_OK(upcache_match(&v, "/a", &st) == NULL);
	st.st_size = 7;
	st.st_mtim.tv_nsec = 0;
	T_OK(upcache_match(&v, "/a", &st) == NULL);
	upcache_free(&v);

	f = path("cli/uploads");
	T_OK(stat(f, &st) == 0 && (st.st_mode & 0777) == 0600);
	free(f);
	free(cli);
}

/* Another process wrote meanwhile: saving merges, never drops. */
static void
t_cache_merge(void)
{
	struct upcache a, b, c;
	struct upent e;
	long long now = (long long)time(NULL);

	upcache_load(&a, home);
	upcache_load(&b, home);
	e = entry("/from-a", U1, now);
	upcache_put(&a, &e);
	e = entry("/from-b", U2, now);
	upcache_put(&b, &e);
	T_INTEQ(upcache_save(&a), 0);
	T_INTEQ(upcache_save(&b), 0);
	upcache_load(&c, home);
	T_OK(upcache_find(&c, "/from-a") && upcache_find(&c, "/from-b"));
	T_OK(upcache_find(&c, "/a") != NULL);
	upcache_free(&a);
	upcache_free(&b);
	upcache_free(&c);
}

static void
t_cache_damaged(void)
{
	struct upcache u;
	struct buf b = {0};
	long long now = (long long)time(NULL);
	const char *sha = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

	buf_puts(&b, "contree-uploads 1\n");
	buf_printf(&b, "%s\t%s\t1\t2\t3\t%lld\t/fresh\n", U1, sha, now);
	buf_printf(&b, "%s\t%s\t1\t2\t3\t%lld\t/old\n", U1, sha,
	    now - 90LL * 86400);
	buf_printf(&b, "%s\t%s\t1\t2\t3\t%lld\t/future\n", U1, sha, now + 3600);
	buf_printf(&b, "%s\tshort\t1\t2\t3\t%lld\t/badsha\n", U1, now);
	buf_printf(&b, "%s\t%s\t1\t2\t3\n", U1, sha);
	buf_printf(&b, "%s\t%s\t1\t2\t3\t%lld\t/torn", U1, sha, now);
	put("cli/uploads", b.p);
	upcache_load(&u, home);
	T_INTEQ(u.n, 1);
	T_OK(upcache_find(&u, "/fresh") != NULL);
	upcache_free(&u);

	put("cli/uploads", "something else 2\n" U1 "\tx\n");
	upcache_load(&u, home);
	T_INTEQ(u.n, 0);
	upcache_free(&u);
	buf_free(&b);
}

static void
t_collect(void)
{
	struct filelist l = {0};
	char *d = path("proj"), *spec, *sub, *pats[] = { "*.log" };
	size_t i;
	int sawa = 0, sawb = 0;

	mkdir(d, 0700);
	sub = path("proj/sub");
	mkdir(sub, 0700);
	free(sub);
	sub = path("proj/.git");
	mkdir(sub, 0700);
	free(sub);
	put("proj/a.txt", "a");
	put("proj/sub/b.txt", "b");
	put("proj/sub/x.log", "l");
	put("proj/.git/config", "g");
	put("proj/c.pyc", "c");
	spec = xasprintf("%s:/app:m0600", d);
	T_INTEQ(files_collect(&spec, 1, pats, 1, &l), 0);
	T_INTEQ(l.n, 2);
	for (i = 0; i < l.n; i++) {
		sawa |= strcmp(l.f[i].dest, "/app/a.txt") == 0;
		sawb |= strcmp(l.f[i].dest, "/app/sub/b.txt") == 0;
		T_INTEQ(l.f[i].mode, 0600);
		T_OK(l.f[i].abs[0] == '/');
	}
	T_OK(sawa && sawb);
	files_free(&l);
	free(spec);
	spec = xasprintf("%s/nothing", d);
	T_INTEQ(files_collect(&spec, 1, NULL, 0, &l), -1);
	T_OK(strstr(geterr(), "cannot access") != NULL);
	files_free(&l);
	T_INTEQ(files_add(&l, d, "/x"), -1);
	T_OK(strstr(geterr(), "not a regular file") != NULL);
	free(spec);
	spec = path("proj/a.txt");
	T_INTEQ(files_add(&l, spec, "/x"), 0);
	T_OK(l.n == 1 && strcmp(l.f[0].abs, spec) == 0 && !l.f[0].sha[0]);
	files_free(&l);
	free(spec);
	free(d);
}

/* files_upload without a server: cached files need no request; files
 * to hash past the parallel threshold are hashed in workers (their
 * results reach the list) and a refused connection fails the upload
 * naming a file, with nothing remembered. */
static void
t_upload_offline(void)
{
	struct api_cfg cfg;
	struct api *a;
	struct filelist l = {0};
	struct upcache u;
	struct upent e;
	char *p, hex[65], name[32];
	size_t i;
	int j;

	memset(&cfg, 0, sizeof cfg);
	cfg.url = "http://127.0.0.1:1";
	cfg.token = "t";
	cfg.noretry = 1;
	cfg.timeout_ms = 2000;
	a = api_new(&cfg);
	T_OK(a != NULL);
	setenv("CONTREE_CONCURRENCY", "3", 1);
	/* four 3 MiB files, each its own content */
	for (j = 0; j < 4; j++) {
		FILE *f;
		int k;

		snprintf(name, sizeof name, "big%d", j);
		p = path(name);
		f = fopen(p, "w");
		for (k = 0; k < 3 << 20; k++)
			fputc((k * (j + 3)) & 0xff, f);
		fclose(f);
		T_INTEQ(files_add(&l, p, "/x"), 0);
		free(p);
	}
	T_INTEQ(files_upload(a, home, &l), -1);
	T_INTEQ(geterrclass(), ERR_NET);
	T_OK(strstr(geterr(), "uploading ") != NULL &&
	    strstr(geterr(), home) != NULL);
	for (i = 0; i < l.n; i++) {
		T_INTEQ(sha256_file(l.f[i].host, hex), 0);
		T_STREQ(l.f[i].sha, hex);
		T_OK(l.f[i].uuid[0] == 0 && l.f[i].how == 0);
	}
	upcache_load(&u, home);
	for (i = 0; i < l.n; i++)
		T_OK(upcache_find(&u, l.f[i].abs) == NULL);
	/* now say the cache knows them all: no request at all */
	for (i = 0; i < l.n; i++) {
		memset(&e, 0, sizeof e);
		e.path = l.f[i].abs;
		e.ino = (unsigned long long)l.f[i].st.st_ino;
		e.mtime_ns = (long long)l.f[i].st.st_mtim.tv_sec * 1000000000LL +
		    l.f[i].st.st_mtim.tv_nsec;
		e.size = (long long)l.f[i].st.st_size;
		e.when = (long long)time(NULL);
		snprintf(e.uuid, sizeof e.uuid,
		    "00000000-0000-4000-8000-%012d", (int)i);
		memcpy(e.sha, l.f[i].sha, 65);
		upcache_put(&u, &e);
	}
	T_INTEQ(upcache_save(&u), 0);
	upcache_free(&u);
	for (i = 0; i < l.n; i++)
		l.f[i].sha[0] = 0;
	T_INTEQ(files_upload(a, home, &l), 0);
	for (i = 0; i < l.n; i++) {
		T_INTEQ(l.f[i].how, UP_CACHED);
		T_OK(strncmp(l.f[i].uuid, "00000000-0000-4000-8000-", 24) == 0);
	}
	files_free(&l);
	api_free(a);
	unsetenv("CONTREE_CONCURRENCY");
}

int
main(void)
{
	char *cmd;

	if (!mkdtemp(home)) {
		perror("mkdtemp");
		return 1;
	}
	loglevel = LOG_ERROR;
	t_hash();
	t_reply_uuid();
	t_spec();
	t_excluded();
	t_cache_roundtrip();
	t_cache_merge();
	t_cache_damaged();
	t_collect();
	t_upload_offline();
	cmd = xasprintf("rm -rf '%s'", home);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", home);
	free(cmd);
	return T_END("unit_files");
}
