/* unit_build.c - build.c as tables: the Dockerfile reader, variable
 * substitution and word splitting, the .dockerignore matcher, globs,
 * the context boundary and the key chain. */
#include <stdlib.h>
#include <string.h>

#include "../build.h"
#include "../util.h"
#include "unit.h"

/* ---- the Dockerfile reader ---- */

static const struct {
	const char *text;
	const char *want;       /* "WORD|args@line;..." or "!error part" */
} dfcases[] = {
	{"FROM alpine\nRUN echo hi\n", "FROM|alpine@1;RUN|echo hi@2"},
	{"from alpine\nrun echo hi", "FROM|alpine@1;RUN|echo hi@2"},
	{"FROM a\nRUN a \\\n   b \\\n  c\n", "FROM|a@1;RUN|a b c@2"},
	/* blank and comment lines dropped, also inside a continuation */
	{"# c\n\nFROM a\nRUN a \\\n# comment\n\n  b\n", "FROM|a@3;RUN|a b@4"},
	{"FROM a\r\nRUN x\r\n", "FROM|a@1;RUN|x@2"},
	{"ARG V=1\nFROM a:$V\n", "ARG|V=1@1;FROM|a:$V@2"},
	{"FROM a\nCMD [\"x\"]\nLABEL a=b\n", "FROM|a@1;CMD|[\"x\"]@2;LABEL|a=b@3"},
	{"  FROM   a   AS  b  \n", "FROM|a   AS  b@1"},
	{"FROM a\nRUN x \\", "FROM|a@1;RUN|x@2"},
	{"FROM a\nFOO bar\n", "!Dockerfile:2: unknown instruction 'FOO'"},
	{"RUN x\n", "!Dockerfile:1: the first instruction other than ARG must be FROM"},
	{"ARG x\nCOPY a b\n", "!Dockerfile:2: the first instruction other than ARG must be FROM"},
	{"FROM a\nRUN\n", "!Dockerfile:2: RUN needs arguments"},
	{"\n# only\n", "!Dockerfile: no instructions"},
	{"FROM a\nCOPY --chown=1:2 --chmod=644 a b\n",
	    "FROM|a@1;COPY|--chown=1:2 --chmod=644 a b@2"},
	{"FROM a\nRUN true\nRUN --network=none x\n",
	    "!Dockerfile:3: RUN option '--network=none' is not supported"},
	{"FROM a\nCOPY --from=b /x /y\n",
	    "!Dockerfile:2: COPY --from is not supported"},
	{"FROM a\nADD --checksum=x u /y\n",
	    "!Dockerfile:2: ADD: unsupported option '--checksum=x'"},
	{"FROM a\nRUN -- x\n", "FROM|a@1;RUN|-- x@2"},
};

static void
test_parse(void)
{
	size_t i, k;

	for (i = 0; i < LEN(dfcases); i++) {
		struct dockerfile df;
		struct buf b = {0};
		int rc = df_parse(dfcases[i].text, strlen(dfcases[i].text),
		    "Dockerfile", &df);

		if (dfcases[i].want[0] == '!') {
			T_INTEQ(rc, -1);
			if (!strstr(geterr(), dfcases[i].want + 1))
				T_STREQ(geterr(), dfcases[i].want + 1);
			continue;
		}
		T_INTEQ(rc, 0);
		if (rc < 0)
			continue;
		for (k = 0; k < df.n; k++)
			buf_printf(&b, "%s%s|%s@%d", k ? ";" : "", df.v[k].word,
			    df.v[k].args, df.v[k].line);
		T_STREQ(b.p, dfcases[i].want);
		buf_free(&b);
		df_free(&df);
	}
}

/* ---- substitution ---- */

static const char *
look(void *arg, const char *name)
{
	static const char *const vars[][2] = {
		{"A", "one"}, {"B", "two words"}, {"E", ""}, {"P", "/p"},
	};
	size_t i;

	(void)arg;
	for (i = 0; i < LEN(vars); i++)
		if (strcmp(vars[i][0], name) == 0)
			return vars[i][1];
	return NULL;
}

static const struct {
	const char *in, *subst;         /* df_subst; NULL: error */
	const char *words;              /* df_words joined by '|'; NULL: error */
} subcases[] = {
	{"$A", "one", "one"},
	{"${A}x", "onex", "onex"},
	{"$Ax", "", ""},                        /* the name is Ax: unset */
	{"a$A-b", "aone-b", "aone-b"},
	{"${U:-def}", "def", "def"},
	{"${E:-def}", "def", "def"},
	{"${E-def}", "", ""},
	{"${A:-def}", "one", "one"},
	{"${A:+alt}", "alt", "alt"},
	{"${U:+alt}", "", ""},
	{"${U:-$P/x}", "/p/x", "/p/x"},
	{"\\$A", "$A", "$A"},
	{"$", "$", "$"},
	{"a $ b", "a $ b", "a|$|b"},
	{"$B", "two words", "two words"},       /* values are not split */
	{"x=1 y='$A z' w=\"$A z\"", "x=1 y='one z' w=\"one z\"",
	    "x=1|y=$A z|w=one z"},
	{"a\\ b c", "a\\ b c", "a b|c"},
	{"'it''s'", "'it''s'", "its"},
	{"\"a\\\"b\"", "\"a\\\"b\"", "a\"b"},
	{"${A", NULL, NULL},
	{"${A?x}", NULL, NULL},
	{"'open", "'open", NULL},
	{"", "", ""},
};

static void
test_subst(void)
{
	size_t i;

	for (i = 0; i < LEN(subcases); i++) {
		char *out = NULL, **w = NULL;
		int n = 0, rc;

		rc = df_subst(subcases[i].in, look, NULL, &out);
		if (!subcases[i].subst) {
			T_INTEQ(rc, -1);
		} else {
			T_INTEQ(rc, 0);
			T_STREQ(out, subcases[i].subst);
			free(out);
		}
		rc = df_words(subcases[i].in, look, NULL, &w, &n);
		if (!subcases[i].words) {
			T_INTEQ(rc, -1);
		} else {
			struct buf b = {0};
			int k;

			T_INTEQ(rc, 0);
			for (k = 0; rc == 0 && k < n; k++)
				buf_printf(&b, "%s%s", k ? "|" : "", w[k]);
			T_STREQ(b.p ? b.p : "", subcases[i].words);
			T_OK(rc < 0 || w[n] == NULL);
			buf_free(&b);
			if (rc == 0)
				freewords(w);
		}
	}
}

static void
test_json_words(void)
{
	char **w;
	int n;

	T_INTEQ(df_json_words(" [\"sh\", \"-c\", \"echo $X\"]", &w, &n), 1);
	T_INTEQ(n, 3);
	T_STREQ(w[2], "echo $X");
	freewords(w);
	T_INTEQ(df_json_words("[]", &w, &n), 1);
	T_INTEQ(n, 0);
	freewords(w);
	T_INTEQ(df_json_words("[ -f x ] && echo", &w, &n), 0);
	T_INTEQ(df_json_words("[1, 2]", &w, &n), 0);
	T_INTEQ(df_json_words("echo [x]", &w, &n), 0);
}

/* ---- globs and .dockerignore ---- */

static const struct {
	const char *pat, *s;
	int want;
} globs[] = {
	{"*.txt", "a.txt", 1}, {"*.txt", "d/a.txt", 0}, {"*/*.txt", "d/a.txt", 1},
	{"a?c", "abc", 1}, {"a?c", "a/c", 0}, {"[ab]x", "bx", 1},
	{"[!ab]x", "bx", 0}, {"[!ab]x", "cx", 1}, {"[a-c]", "b", 1},
	{"[a-c]", "d", 0}, {"[^a]", "b", 1}, {"[]]", "]", 1},
	{"**", "a/b/c", 1}, {"**/x", "x", 1}, {"**/x", "a/b/x", 1},
	{"**/x", "a/bx", 0}, {"a/**/b", "a/b", 1}, {"a/**/b", "a/x/y/b", 1},
	{"a/**", "a/x/y", 1}, {"**/*.go", "a/b.go", 1}, {"\\*", "*", 1},
	{"\\*", "a", 0}, {"[", "[", 1}, {"a*", "a", 1}, {"*a*b", "xaab", 1},
	{"*", "", 1}, {"*x", "a/x", 0},
};

static void
test_glob(void)
{
	size_t i;

	for (i = 0; i < LEN(globs); i++)
		if (glob_path(globs[i].pat, globs[i].s) != globs[i].want) {
			T_OK(!"glob");
			fprintf(stderr, "  glob %s %s\n", globs[i].pat, globs[i].s);
		} else {
			T_OK(1);
		}
}

static const struct {
	const char *file, *rel;
	int isdir, want;
} igcases[] = {
	{"*.log\n", "a.log", 0, 1},
	{"*.log\n", "d/a.log", 0, 0},
	{"**/*.log\n", "d/e/a.log", 0, 1},
	{"secret\n", "secret/key", 0, 1},            /* under an ignored dir */
	{"/secret\n", "secret", 1, 1},
	{"./secret/\n", "secret", 0, 0},             /* '/': directories only */
	{"secret/\n", "secret", 1, 1},
	{"secret/\n", "secret/x", 0, 1},
	{"d\n!d/keep\n", "d/keep", 0, 0},
	{"d\n!d/keep\n", "d/other", 0, 1},
	{"!d/keep\nd\n", "d/keep", 0, 1},            /* last match wins */
	{"*\n!*.c\n", "a.c", 0, 0},
	{"*\n!*.c\n", "a.h", 0, 1},
	{"# comment\n\n  x  \n", "x", 0, 1},
	{"# comment\n", "# comment", 0, 0},
	{"a?\n", "ab", 0, 1},
	{"[ab]*\n", "bcd", 0, 1},
	{"docs/**/*.md\n", "docs/a/b/c.md", 0, 1},
	{"docs/**/*.md\n", "docs/c.md", 0, 1},
	{"docs/**/*.md\n", "src/c.md", 0, 0},
	{"/\n.\n", "x", 0, 0},
};

static void
test_ignore(void)
{
	size_t i;
	struct ignore ig;

	for (i = 0; i < LEN(igcases); i++) {
		ignore_parse(igcases[i].file, strlen(igcases[i].file), &ig);
		if (ignore_match(&ig, igcases[i].rel, igcases[i].isdir) !=
		    igcases[i].want) {
			T_OK(!"ignore");
			fprintf(stderr, "  ignore %s: %s\n", igcases[i].file,
			    igcases[i].rel);
		} else {
			T_OK(1);
		}
		ignore_free(&ig);
	}
	ignore_parse("d\n!d/keep\n", 10, &ig);
	T_INTEQ(ignore_descend(&ig, "d"), 1);
	T_INTEQ(ignore_descend(&ig, "e"), 0);
	ignore_free(&ig);
	ignore_parse("d\n", 2, &ig);
	T_INTEQ(ignore_descend(&ig, "d"), 0);
	ignore_free(&ig);
	ignore_parse("*\n!**/*.c\n", 10, &ig);
	T_INTEQ(ignore_descend(&ig, "src"), 1);
	ignore_free(&ig);
}

/* ---- the context boundary ---- */

static void
test_boundary(void)
{
	static const char *const clean[][2] = {
		{"a/b", "a/b"}, {"./a//b/", "a/b"}, {"a/../b", "b"},
		{".", ""}, {"/", ""}, {"/etc/x", "etc/x"}, {"a/..", ""},
		{"..", NULL}, {"a/../../b", NULL}, {"../ctx2/x", NULL},
	};
	size_t i;

	for (i = 0; i < LEN(clean); i++) {
		char *c = ctx_clean(clean[i][0]);

		if (clean[i][1]) {
			T_STREQ(c, clean[i][1]);
		} else {
			T_OK(c == NULL);
			T_OK(strstr(geterr(), "outside the build context") != NULL);
		}
		free(c);
	}
	T_INTEQ(path_inside("/ctx", "/ctx"), 1);
	T_INTEQ(path_inside("/ctx", "/ctx/a"), 1);
	T_INTEQ(path_inside("/ctx/", "/ctx/a"), 1);
	T_INTEQ(path_inside("/ctx", "/ctx2/a"), 0);
	T_INTEQ(path_inside("/ctx", "/ctx2"), 0);
	T_INTEQ(path_inside("/ctx", "/"), 0);
	T_INTEQ(path_inside("/", "/x"), 1);
}

/* ---- keys ---- */

static void
test_keys(void)
{
	struct buf a = {0}, b = {0};
	char k1[65], k2[65], k3[65], k4[65];

	key_field(&a, "run", "make");
	key_chain("", &a, k1);
	key_chain("", &a, k2);
	T_STREQ(k1, k2);
	T_INTEQ((long long)strlen(k1), 64);
	key_chain(k1, &a, k3);
	T_OK(strcmp(k1, k3) != 0);              /* the parent counts */
	/* field boundaries count: ("ab","c") is not ("a","bc") */
	key_field(&b, "x", "ab");
	key_field(&b, "y", "c");
	key_chain("", &b, k3);
	buf_reset(&b);
	key_field(&b, "x", "a");
	key_field(&b, "y", "bc");
	key_chain("", &b, k4);
	T_OK(strcmp(k3, k4) != 0);
	buf_free(&a);
	buf_free(&b);
}

int
main(void)
{
	test_parse();
	test_subst();
	test_json_words();
	test_glob();
	test_ignore();
	test_boundary();
	test_keys();
	return T_END("unit_build");
}
