/* unit_util.c - util.c through its interface. */
#include <errno.h>
#include <fnmatch.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util.h"
#include "unit.h"

static void
t_b64(void)
{
	static const struct { const char *in, *out; } v[] = {
		{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
		{"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
		{"foobar", "Zm9vYmFy"},
	};
	size_t i;

	for (i = 0; i < LEN(v); i++) {
		struct buf e = {0}, d = {0};

		b64_encode(&e, v[i].in, strlen(v[i].in));
		T_STREQ(e.p ? e.p : "", v[i].out);
		T_INTEQ(b64_decode(&d, v[i].out, strlen(v[i].out)), 0);
		T_STREQ(d.p ? d.p : "", v[i].in);
		buf_free(&e);
		buf_free(&d);
	}
	{
		struct buf d = {0};
		unsigned char all[256];
		struct buf e = {0};

		for (i = 0; i < 256; i++)
			all[i] = (unsigned char)i;
		b64_encode(&e, all, sizeof all);
		T_INTEQ(b64_decode(&d, e.p, e.len), 0);
		T_INTEQ(d.len, 256);
		T_OK(memcmp(d.p, all, 256) == 0);
		buf_reset(&d);
		T_INTEQ(b64_decode(&d, "Zm9v!", 5), -1);
		buf_reset(&d);
		T_INTEQ(b64_decode(&d, "Zg=a", 4), -1);
		buf_reset(&d);
		T_INTEQ(b64_decode(&d, "Z", 1), -1);
		buf_free(&d);
		buf_free(&e);
	}
}

static void
t_parse_ll(void)
{
	long long v = 0;

	T_INTEQ(parse_ll("42", 0, 100, &v, "n"), 0);
	T_INTEQ(v, 42);
	T_INTEQ(parse_ll("-5", -10, 10, &v, "n"), 0);
	T_INTEQ(v, -5);
	T_INTEQ(parse_ll("-5", 0, 10, &v, "n"), -1);
	T_INTEQ(parse_ll("", 0, 10, &v, "n"), -1);
	T_INTEQ(parse_ll("1x", 0, 10, &v, "n"), -1);
	T_INTEQ(parse_ll("11", 0, 10, &v, "n"), -1);
	T_STREQ(geterr(), "n out of range: '11'");
	T_INTEQ(parse_ll("99999999999999999999", 0, 10, &v, "n"), -1);
	T_INTEQ(parse_ll("9223372036854775807", 0, 9223372036854775807LL, &v,
	    "n"), 0);
}

static void
t_buf(void)
{
	struct buf b = {0};
	int i;

	for (i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	T_INTEQ(strlen(b.p), b.len);
	T_OK(strncmp(b.p, "0,1,2,", 6) == 0);
	buf_reset(&b);
	T_INTEQ(b.len, 0);
	T_STREQ(b.p, "");
	buf_addc(&b, 'x');
	buf_puts(&b, "yz");
	T_STREQ(b.p, "xyz");
	buf_free(&b);
	T_OK(b.p == NULL);
}

static void
t_files(void)
{
	char dir[] = "/tmp/unit_utilXXXXXX", *p, *q;
	struct buf b = {0};
	struct stat st;

	T_OK(mkdtemp(dir) != NULL);
	p = xasprintf("%s/a/b/c", dir);
	T_INTEQ(mkdirs(p, 0700), 0);
	T_OK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
	q = xasprintf("%s/f", p);
	T_INTEQ(writefile_atomic(q, "hello", 5, 0600), 0);
	T_OK(stat(q, &st) == 0 && (st.st_mode & 0777) == 0600);
	T_INTEQ(readfile(q, &b), 0);
	T_STREQ(b.p, "hello");
	T_INTEQ(writefile_atomic("/nonexistent-dir/x", "a", 1, 0600), -1);
	T_INTEQ(mkdirs(q, 0700), -1);   /* a file is in the way */
	unlink(q);
	free(q);
	free(p);
	buf_free(&b);
	{
		char h[5];

		hexstr(h, "\x01\xab", 2);
		T_STREQ(h, "01ab");
	}
	p = xasprintf("rm -rf %s", dir);
	(void)!system(p);
	free(p);
}

/* shsplit: the words, joined with '|', or "MORE" for an unfinished
 * line. */
static const char *
split(const char *line)
{
	static char out[256];
	char **w;
	int n, i;

	out[0] = '\0';
	if (shsplit(line, &w, &n) != 0)
		return "MORE";
	for (i = 0; i < n; i++)
		snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s",
		    i ? "|" : "", w[i]);
	T_OK(w[n] == NULL);
	freewords(w);
	return out;
}

static void
t_shsplit(void)
{
	T_STREQ(split(""), "");
	T_STREQ(split("  \t "), "");
	T_STREQ(split("echo  a\tb"), "echo|a|b");
	T_STREQ(split("'a b' \"c d\""), "a b|c d");
	T_STREQ(split("a'b'\"c\"d"), "abcd");
	T_STREQ(split("'\\n $x'"), "\\n $x");
	T_STREQ(split("\"\\\" \\\\ \\$ \\` \\a\""), "\" \\ $ ` \\a");
	T_STREQ(split("a\\ b \\'c"), "a b|'c");
	T_STREQ(split("a\\\nb"), "ab");
	T_STREQ(split("'x\ny'"), "x\ny");
	T_STREQ(split("\"\""), "");
	T_STREQ(split("'open"), "MORE");
	T_STREQ(split("\"open \\\""), "MORE");
	T_STREQ(split("tail\\"), "MORE");
	T_STREQ(split("\"in\\"), "MORE");
}

/* globmatch against the C library's fnmatch(pat, s, 0): fixed cases,
 * then random patterns built from every construct it knows. */
static void
t_glob(void)
{
	static const struct { const char *p, *s; int m; } v[] = {
		{"*.pyc", "a/b.pyc", 1}, {"*.pyc", "x.py", 0},
		{"node_modules", "node_modules", 1}, {".git", "x.git", 0},
		{"a?c", "a/c", 1}, {"[!a]b", "ab", 0}, {"[^a]b", "cb", 1},
		{"[]]", "]", 1}, {"[a-c]x", "bx", 1}, {"[a-c]x", "dx", 0},
		{"[[:digit:]]*", "7up", 1}, {"[[:upper:]]", "a", 0},
		{"\\*", "*", 1}, {"\\*", "a", 0}, {"[ab", "[ab", 1},
		{"*a*b*", "xxaxxbxx", 1}, {"*a*b", "ab.", 0}, {"", "", 1},
		{"**", "", 1}, {"?", "", 0}, {"[\\]]", "]", 1},
		{"[[:nope:]a]", "a", 0}, {"[[.a.]]", "a", 1},
	};
	static const char *const tok[] = {
		"a", "b", "/", ".", "-", "*", "*", "?", "\\*", "\\a", "[ab]",
		"[!a]", "[^b]", "[a-c]", "[]a]", "[!]]", "[[:alpha:]]",
		"[[:punct:]b]", "[.-/]", "[\\]]", "[", "]", "!", "[[.a.]]",
		"[[=b=]c]",
	};
	static const char alpha[] = "ab/.-*]![c";
	unsigned seed = 12345;
	size_t i;
	int k, bad = 0;

	for (i = 0; i < LEN(v); i++) {
		T_INTEQ(globmatch(v[i].p, v[i].s), v[i].m);
		T_INTEQ(fnmatch(v[i].p, v[i].s, 0) == 0, v[i].m);
	}
	for (k = 0; k < 200000; k++) {
		char p[64] = "", s[16];
		int j, n;

		seed = seed * 1103515245 + 12345;
		n = (int)(seed >> 16) % 5;
		for (j = 0; j < n; j++) {
			seed = seed * 1103515245 + 12345;
			strcat(p, tok[(seed >> 16) % LEN(tok)]);
		}
		seed = seed * 1103515245 + 12345;
		n = (int)(seed >> 16) % 6;
		for (j = 0; j < n; j++) {
			seed = seed * 1103515245 + 12345;
			s[j] = alpha[(seed >> 16) % (sizeof alpha - 1)];
		}
		s[n] = 0;
		if (globmatch(p, s) != (fnmatch(p, s, 0) == 0) && bad++ < 10)
			fprintf(stderr, "glob '%s' '%s': %d\n", p, s,
			    globmatch(p, s));
	}
	T_INTEQ(bad, 0);
}

/* The HTTP-date of Retry-After. */
static void
t_httpdate(void)
{
	long long t = 0;

	T_INTEQ(parse_httpdate("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
	T_INTEQ(t, 784111777);
	T_INTEQ(parse_httpdate("Thu, 01 Jan 1970 00:00:00 GMT", &t), 0);
	T_INTEQ(t, 0);
	T_INTEQ(parse_httpdate("Tue, 29 Feb 2028 23:59:60 GMT", &t), 0);
	T_INTEQ(t, 1835481600);
	T_INTEQ(parse_httpdate("Sun, 6 Nov 1994 08:49:37 GMT", &t), 0);
	T_INTEQ(parse_httpdate("Sun, 06 Foo 1994 08:49:37 GMT", &t), -1);
	T_INTEQ(parse_httpdate("Sun, 06 Nov 1994 08:49:37", &t), -1);
	T_INTEQ(parse_httpdate("Sun, 06 Nov 1994 24:00:00 GMT", &t), -1);
	T_INTEQ(parse_httpdate("Sunday, 06-Nov-94 08:49:37 GMT", &t), -1);
	T_INTEQ(parse_httpdate("Sun, 06 Nov 94 08:49:37 GMT", &t), -1);
	T_INTEQ(parse_httpdate("", &t), -1);
}

static void
t_iso_utc(void)
{
	char b[32];

	iso_utc(0, b, sizeof b);
	T_STREQ(b, "1970-01-01T00:00:00Z");
	iso_utc(1733400000, b, sizeof b);
	T_STREQ(b, "2024-12-05T12:00:00Z");
	iso_utc(951868799, b, sizeof b);        /* a leap day */
	T_STREQ(b, "2000-02-29T23:59:59Z");
	iso_utc(-1, b, sizeof b);
	T_STREQ(b, "1969-12-31T23:59:59Z");
}

/* pollwait: ready at once, times out after its ms, and ends within a
 * slice once `interrupted` is set outside poll(2) (no signal in it). */
static void
t_pollwait(void)
{
	int p[2];
	int64_t t0;

	T_OK(pipe(p) == 0);
	t0 = now_ms();
	T_INTEQ(pollwait(p[0], POLLIN, 0), 0);
	T_INTEQ(pollwait(p[0], POLLIN, 600), 0);
	T_OK(now_ms() - t0 >= 600);
	T_OK(now_ms() - t0 < 2000);
	T_INTEQ(pollwait(p[1], POLLOUT, -1), 1);
	interrupted = 1;
	t0 = now_ms();
	errno = 0;
	T_INTEQ(pollwait(p[0], POLLIN, 20000), -1);
	T_INTEQ(errno, EINTR);
	T_INTEQ(pollwait(p[0], POLLIN, -1), -1);
	T_OK(now_ms() - t0 < 1000);
	interrupted = 0;
	T_INTEQ(write(p[1], "x", 1), 1);
	T_INTEQ(pollwait(p[0], POLLIN, 20000), 1);
	close(p[0]);
	close(p[1]);
}

/* sleep_ms: sleeps its ms; with `interrupted` already set (a signal
 * that landed after the caller's last look, before nanosleep) it ends
 * at once rather than after the whole sleep. */
static void
t_sleep_ms(void)
{
	int64_t t0 = now_ms();

	T_INTEQ(sleep_ms(0), 0);
	T_INTEQ(sleep_ms(300), 0);
	T_OK(now_ms() - t0 >= 300);
	interrupted = 1;
	t0 = now_ms();
	T_INTEQ(sleep_ms(20000), -1);
	T_INTEQ(sleep_ms(0), -1);
	T_OK(now_ms() - t0 < 1000);
	interrupted = 0;
}

int
main(void)
{
	t_iso_utc();
	t_shsplit();
	t_glob();
	t_httpdate();
	t_b64();
	t_parse_ll();
	t_buf();
	t_files();
	t_pollwait();
	t_sleep_ms();
	return T_END("unit_util");
}
