/* unit_ini.c - the INI reader and writer (ini.c): configparser dialect,
 * DEFAULT fallback, interpolation, % round trip, continuation lines,
 * file:line errors, atomic 0600 writes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../ini.h"
#include "../util.h"
#include "unit.h"

static char dir[] = "/tmp/unit_ini.XXXXXX";

static char *
put(const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");

	if (!f) {
		perror(p);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
	return p;
}

static struct ini *
parse(const char *text)
{
	char *p = put("t.ini", text);
	struct ini *ini = ini_load(p, NULL);

	free(p);
	return ini;
}

/* Expect text to fail with an error "<path>:<line>: ..." */
static void
bad(const char *text, int line)
{
	char *p = put("bad.ini", text), *want = xasprintf("%s:%d: ", p, line);
	struct ini *ini = ini_load(p, NULL);

	T_OK(ini == NULL);
	if (!ini)
		T_OK(strncmp(geterr(), want, strlen(want)) == 0);
	else
		ini_free(ini);
	if (!ini && strncmp(geterr(), want, strlen(want)) != 0)
		fprintf(stderr, "  got error: %s (want prefix %s)\n", geterr(),
		    want);
	free(want);
	free(p);
}

static void
test_basic(void)
{
	struct ini *ini = parse(
	    "# comment\n"
	    "; another\n"
	    "[DEFAULT]\n"
	    "profile = staging\n"
	    "\n"
	    "[profile:default]\n"
	    "token = abc\n"
	    "URL: https://x.example/sandboxes  \n"
	    "  # indented comment\n"
	    "type=jwt\n"
	    "\n"
	    "[profile:staging]\n"
	    "Token = def=ghi:jkl\n"
	    "empty =\n"
	    "\n"
	    "[Profile:Case]\n"
	    "token = t\n");

	T_OK(ini != NULL);
	if (!ini)
		return;
	T_STREQ(ini_get(ini, "DEFAULT", "profile"), "staging");
	T_STREQ(ini_get(ini, "profile:default", "token"), "abc");
	/* keys are case-insensitive, values trimmed, ':' separator */
	T_STREQ(ini_get(ini, "profile:default", "url"), "https://x.example/sandboxes");
	T_STREQ(ini_get(ini, "profile:default", "URL"), "https://x.example/sandboxes");
	T_STREQ(ini_get(ini, "profile:default", "type"), "jwt");
	/* the first separator splits; the rest belongs to the value */
	T_STREQ(ini_get(ini, "profile:staging", "token"), "def=ghi:jkl");
	T_STREQ(ini_get(ini, "profile:staging", "empty"), "");
	/* DEFAULT values are visible in every section */
	T_STREQ(ini_get(ini, "profile:staging", "profile"), "staging");
	T_OK(ini_raw(ini, "profile:staging", "profile") == NULL);
	T_OK(ini_get(ini, "profile:staging", "project") == NULL);
	/* section names are case-sensitive */
	T_OK(ini_has(ini, "Profile:Case"));
	T_OK(!ini_has(ini, "profile:case"));
	T_OK(!ini_has(ini, "profile:nope"));
	T_OK(ini_get(ini, "profile:nope", "token") == NULL);
	/* a missing section still sees DEFAULT */
	T_STREQ(ini_get(ini, "profile:nope", "profile"), "staging");
	/* sections in file order, DEFAULT excluded */
	T_STREQ(ini_section(ini, 0), "profile:default");
	T_STREQ(ini_section(ini, 1), "profile:staging");
	T_STREQ(ini_section(ini, 2), "Profile:Case");
	T_OK(ini_section(ini, 3) == NULL);
	T_OK(ini_section(ini, -1) == NULL);
	ini_free(ini);
}

static void
test_continuation(void)
{
	struct ini *ini = parse(
	    "[s]\n"
	    "multi = first\n"
	    "  second\n"
	    "\tthird\n"
	    "next = x\n"
	    "\n"
	    "  orphan-looking = after blank\n");

	T_OK(ini != NULL);
	if (!ini)
		return;
	T_STREQ(ini_get(ini, "s", "multi"), "first\nsecond\nthird");
	T_STREQ(ini_get(ini, "s", "next"), "x");
	/* after a blank line an indented line is a new key */
	T_STREQ(ini_get(ini, "s", "orphan-looking"), "after blank");
	ini_free(ini);
}

static void
test_indented_keys(void)
{
	/* as configparser: a line continues a value only when indented
	 * deeper than its key, so indented keys stay keys */
	struct ini *ini = parse(
	    "  [s]\n"
	    "  token = x\n"
	    "  url = y\n"
	    "# a comment does not end a value\n"
	    "    more\n"
	    "type = jwt\n");

	T_OK(ini != NULL);
	if (!ini)
		return;
	T_STREQ(ini_get(ini, "s", "token"), "x");
	T_STREQ(ini_get(ini, "s", "url"), "y\nmore");
	T_STREQ(ini_get(ini, "s", "type"), "jwt");
	ini_free(ini);
}

static void
test_interpolation(void)
{
	struct ini *ini = parse(
	    "[DEFAULT]\n"
	    "host = example.net\n"
	    "\n"
	    "[a]\n"
	    "url = https://%(host)s/x\n"
	    "pct = 100%% sure\n"
	    "lone = 5% off\n"
	    "self = %(self)s\n"
	    "unknown = %(nope)s\n"
	    "local = v\n"
	    "uses = [%(local)s]\n");

	T_OK(ini != NULL);
	if (!ini)
		return;
	T_STREQ(ini_get(ini, "a", "url"), "https://example.net/x");
	T_STREQ(ini_get(ini, "a", "pct"), "100% sure");
	T_STREQ(ini_raw(ini, "a", "pct"), "100%% sure");
	T_STREQ(ini_get(ini, "a", "lone"), "5% off");
	T_STREQ(ini_get(ini, "a", "uses"), "[v]");
	/* self reference ends (bounded depth), never loops */
	T_OK(ini_get(ini, "a", "self") != NULL);
	T_STREQ(ini_get(ini, "a", "unknown"), "%(nope)s");
	ini_free(ini);
}

static void
test_errors(void)
{
	int missing = 0;
	char *p;
	struct ini *ini;

	bad("token = x\n", 1);
	bad("# c\n\n[s]\nok = 1\nnovalue\n", 5);
	bad("[s]\n= value\n", 2);
	bad("[s]\n[unclosed\n", 2);
	bad("[]\n", 1);
	/* a missing file is an empty config, flagged */
	p = xasprintf("%s/does-not-exist.ini", dir);
	ini = ini_load(p, &missing);
	T_OK(ini != NULL);
	T_INTEQ(missing, 1);
	T_OK(ini && ini_section(ini, 0) == NULL);
	ini_free(ini);
	free(p);
	/* an empty file is an empty config */
	p = put("empty.ini", "");
	ini = ini_load(p, &missing);
	T_OK(ini != NULL);
	T_INTEQ(missing, 0);
	T_OK(ini && ini_section(ini, 0) == NULL);
	T_OK(ini && ini_get(ini, "DEFAULT", "profile") == NULL);
	ini_free(ini);
	free(p);
	/* a present file clears *missing */
	p = put("ok.ini", "[s]\nk = v\n");
	missing = 7;
	ini = ini_load(p, &missing);
	T_INTEQ(missing, 0);
	ini_free(ini);
	free(p);
	/* unreadable: an error naming the file (skip when root can read) */
	p = put("noperm.ini", "[s]\nk = v\n");
	chmod(p, 0);
	if (access(p, R_OK) != 0) {
		ini = ini_load(p, &missing);
		T_OK(ini == NULL);
		T_OK(strstr(geterr(), p) != NULL);
		ini_free(ini);
	}
	free(p);
}

static void
test_roundtrip(void)
{
	static const char *const tokens[] = {
		"plain",
		"100%",
		"%%",
		"%(token)s",
		"a%b%%c%(d)s%",
		"with = equals : colon",
		"# not a comment",
		"; nor this",
		"[bracket]",
		"tab\tinside",
		"unicode \xc3\xa9\xe2\x82\xac",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl+/=",
	};
	char *p = xasprintf("%s/rt.ini", dir), *cont;
	struct ini *ini = ini_new(), *back;
	struct buf b = {0};
	struct stat st;
	size_t i;

	ini_set(ini, "DEFAULT", "profile", "p0");
	for (i = 0; i < LEN(tokens); i++) {
		char *s = xasprintf("profile:p%zu", i);

		ini_set(ini, s, "token", tokens[i]);
		ini_set(ini, s, "url", "https://h/x");
		/* the in-memory value reads back literally too */
		T_STREQ(ini_get(ini, s, "token"), tokens[i]);
		free(s);
	}
	umask(0);
	T_INTEQ(ini_save(ini, p), 0);
	umask(022);
	T_OK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0600);
	back = ini_load(p, NULL);
	T_OK(back != NULL);
	for (i = 0; back && i < LEN(tokens); i++) {
		char *s = xasprintf("profile:p%zu", i);

		T_STREQ(ini_get(back, s, "token"), tokens[i]);
		T_STREQ(ini_get(back, s, "url"), "https://h/x");
		T_STREQ(ini_section(back, (int)i), s);
		free(s);
	}
	/* layout: DEFAULT first, key order kept, blank line after sections */
	T_INTEQ(readfile(p, &b), 0);
	T_OK(b.p && strncmp(b.p, "[DEFAULT]\nprofile = p0\n\n[profile:p0]\n"
	    "token = plain\nurl = https://h/x\n\n", 58) == 0);
	T_OK(b.p && strstr(b.p, "token = 100%%\n") != NULL);
	/* an empty value round-trips */
	ini_set(ini, "s", "empty", "");
	T_STREQ(ini_raw(ini, "s", "empty"), "");
	T_STREQ(ini_get(ini, "s", "empty"), "");
	/* a newline cannot be stored: it would start a new key */
	ini_set(ini, "s", "k", "line1\nline2");
	T_OK(strchr(ini_raw(ini, "s", "k"), '\n') == NULL);
	/* rewriting an existing file keeps it 0600 */
	chmod(p, 0644);
	T_INTEQ(ini_save(ini, p), 0);
	T_OK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0600);
	/* no temp files left behind */
	cont = xasprintf("ls -A %s | grep -c tmp >/dev/null", dir);
	T_OK(system(cont) != 0);
	free(cont);
	/* saving into a missing directory fails with the path */
	free(p);
	p = xasprintf("%s/no/such/dir/x.ini", dir);
	T_INTEQ(ini_save(ini, p), -1);
	T_OK(strstr(geterr(), "/no/such/dir/x.ini") != NULL);
	buf_free(&b);
	free(p);
	ini_free(ini);
	ini_free(back);
}

static void
test_edit(void)
{
	struct ini *ini = parse(
	    "[DEFAULT]\nprofile = b\n\n[a]\nx = 1\ny = 2\n\n[b]\nz = 3\n");

	T_OK(ini != NULL);
	if (!ini)
		return;
	ini_set(ini, "a", "X", "one");          /* case-insensitive replace */
	T_STREQ(ini_get(ini, "a", "x"), "one");
	ini_unset(ini, "a", "x");
	T_OK(ini_raw(ini, "a", "x") == NULL);
	T_STREQ(ini_get(ini, "a", "y"), "2");
	ini_unset(ini, "a", "nothing");
	ini_unset(ini, "nosect", "x");
	ini_del(ini, "a");
	T_OK(!ini_has(ini, "a"));
	T_STREQ(ini_section(ini, 0), "b");
	ini_del(ini, "DEFAULT");                /* DEFAULT cannot be deleted */
	T_STREQ(ini_get(ini, "DEFAULT", "profile"), "b");
	ini_set(ini, "new", "k", "v");
	T_STREQ(ini_section(ini, 1), "new");
	ini_free(ini);
}

int
main(void)
{
	int r;
	char *cmd;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	test_basic();
	test_continuation();
	test_indented_keys();
	test_interpolation();
	test_errors();
	test_roundtrip();
	test_edit();
	cmd = xasprintf("rm -rf %s", dir);
	r = system(cmd);
	(void)r;
	free(cmd);
	return T_END("unit_ini");
}
