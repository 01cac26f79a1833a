/* unit_diff.c - diff.c: Myers' edit script and unified hunks. */
#include <stdlib.h>
#include <string.h>

#include "../diff.h"
#include "../util.h"
#include "unit.h"

static const struct {
	const char *name, *a, *b, *want;
	int hunks;
} cases[] = {
	{"empty files", "", "", "", 0},
	{"identical", "a\nb\n", "a\nb\n", "", 0},
	{"identical without newline", "a\nb", "a\nb", "", 0},
	{"added to empty", "", "x\ny\n", "@@ -0,0 +1,2 @@\n+x\n+y\n", 1},
	{"all deleted", "x\ny\n", "", "@@ -1,2 +0,0 @@\n-x\n-y\n", 1},
	{"one line", "x\n", "y\n", "@@ -1 +1 @@\n-x\n+y\n", 1},
	{"no newline at end", "a\nb", "a\nc",
	    "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n"
	    "+c\n\\ No newline at end of file\n", 1},
	{"newline added", "a\nb", "a\nb\n",
	    "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n", 1},
	{"middle, three lines of context",
	    "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "1\n2\n3\n4\nX\n6\n7\n8\n9\n10\n",
	    "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+X\n 6\n 7\n 8\n", 1},
	{"additions only", "a\nb\n", "a\nx\nb\ny\n",
	    "@@ -1,2 +1,4 @@\n a\n+x\n b\n+y\n", 1},
	{"deletions only", "a\nx\nb\ny\n", "a\nb\n",
	    "@@ -1,4 +1,2 @@\n a\n-x\n b\n-y\n", 1},
	{"six equal lines apart: one hunk",
	    "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n",
	    "A\n2\n3\n4\n5\n6\n7\nB\n9\n10\n11\n12\n",
	    "@@ -1,11 +1,11 @@\n-1\n+A\n 2\n 3\n 4\n 5\n 6\n 7\n-8\n+B\n"
	    " 9\n 10\n 11\n", 1},
	{"seven equal lines apart: two hunks",
	    "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n",
	    "A\n2\n3\n4\n5\n6\n7\n8\nB\n10\n11\n12\n",
	    "@@ -1,4 +1,4 @@\n-1\n+A\n 2\n 3\n 4\n"
	    "@@ -6,7 +6,7 @@\n 6\n 7\n 8\n-9\n+B\n 10\n 11\n 12\n", 2},
	{"moved line", "a\nb\nc\nd\n", "b\nc\nd\na\n",
	    "@@ -1,4 +1,4 @@\n-a\n b\n c\n d\n+a\n", 1},
};

/* Apply ops to the lines of a and b; 1 if they give b from a. */
static int
applies(const char *a, const char *b, const char *ops)
{
	struct buf out = {0};
	const char *pa = a, *pb = b, *e;
	int ok;

	for (; *ops; ops++) {
		if (*ops == DIFF_ADD) {
			e = strchr(pb, '\n');
			e = e ? e + 1 : pb + strlen(pb);
			buf_add(&out, pb, (size_t)(e - pb));
			pb = e;
			continue;
		}
		e = strchr(pa, '\n');
		e = e ? e + 1 : pa + strlen(pa);
		if (*ops == DIFF_EQ) {
			buf_add(&out, pa, (size_t)(e - pa));
			pb += e - pa;
		}
		pa = e;
	}
	ok = *pa == '\0' && *pb == '\0' && strcmp(out.p ? out.p : "", b) == 0;
	buf_free(&out);
	return ok;
}

static size_t
edits(const char *ops)
{
	size_t n = 0;

	for (; *ops; ops++)
		n += *ops != DIFF_EQ;
	return n;
}

static void
table(void)
{
	struct buf out = {0};
	char *ops;
	size_t i;

	for (i = 0; i < LEN(cases); i++) {
		buf_reset(&out);
		T_INTEQ(diff_unified(&out, cases[i].a, strlen(cases[i].a),
		    cases[i].b, strlen(cases[i].b), 3), cases[i].hunks);
		T_STREQ(out.p ? out.p : "", cases[i].want);
		diff_script(cases[i].a, strlen(cases[i].a), cases[i].b,
		    strlen(cases[i].b), &ops);
		T_OK(applies(cases[i].a, cases[i].b, ops));
		free(ops);
	}
	buf_free(&out);
}

/* n numbered lines, every k-th replaced by "changed N" (k = 0: none). */
static char *
lines(int n, int k, int skip)
{
	struct buf b = {0};
	int i;

	for (i = 0; i < n; i++) {
		if (skip && i % skip == 0)
			continue;
		if (k && i % k == 0)
			buf_printf(&b, "changed %d\n", i);
		else
			buf_printf(&b, "line %d\n", i);
	}
	return b.p ? b.p : xstrdup("");
}

static void
large(void)
{
	char *a = lines(20000, 0, 0), *b = lines(20000, 500, 0);
	char *c = lines(20000, 0, 20), *d, *ops;
	struct buf out = {0};

	/* 40 lines replaced out of 20000: minimal, 40 hunks */
	diff_script(a, strlen(a), b, strlen(b), &ops);
	T_INTEQ(edits(ops), 80);
	T_OK(applies(a, b, ops));
	free(ops);
	T_INTEQ(diff_unified(&out, a, strlen(a), b, strlen(b), 3), 40);
	T_OK(strncmp(out.p, "@@ -1,4 +1,4 @@\n-line 0\n+changed 0\n", 34) == 0);
	/* every 20th line deleted: deletions only, minimal */
	diff_script(a, strlen(a), c, strlen(c), &ops);
	T_INTEQ(edits(ops), 1000);
	T_OK(strchr(ops, DIFF_ADD) == NULL);
	T_OK(applies(a, c, ops));
	free(ops);
	/* past DIFF_MAXD edits: still a correct script, no longer minimal */
	d = lines(3000, 1, 0);
	{
		char *e = lines(3000, 0, 0);

		diff_script(e, strlen(e), d, strlen(d), &ops);
		T_INTEQ(edits(ops), 6000);
		T_OK(applies(e, d, ops));
		free(ops);
		buf_reset(&out);
		T_INTEQ(diff_unified(&out, e, strlen(e), d, strlen(d), 3), 1);
		T_OK(strncmp(out.p, "@@ -1,3000 +1,3000 @@\n", 22) == 0);
		free(e);
	}
	free(d);
	buf_free(&out);
	free(a);
	free(b);
	free(c);
}

static void
binary(void)
{
	char big[9000];

	T_INTEQ(diff_binary("hello\n", 6), 0);
	T_INTEQ(diff_binary("", 0), 0);
	T_INTEQ(diff_binary("a\0b", 3), 1);
	T_INTEQ(diff_binary("caf\xc3\xa9\n", 6), 0);
	T_INTEQ(diff_binary("\xff\xfe", 2), 1);
	T_INTEQ(diff_binary("\xc3", 1), 1);            /* cut at the file's end */
	T_INTEQ(diff_binary("\xed\xa0\x80", 3), 1);    /* a surrogate */
	memset(big, 'a', sizeof big);
	big[7999] = '\xc3';                             /* cut by the block */
	big[8000] = '\xa9';
	T_INTEQ(diff_binary(big, sizeof big), 0);
	big[8500] = '\0';                               /* past the block */
	T_INTEQ(diff_binary(big, sizeof big), 0);
	big[10] = '\0';
	T_INTEQ(diff_binary(big, sizeof big), 1);
}

int
main(void)
{
	table();
	large();
	binary();
	return T_END("unit_diff");
}
