/* build.c - the pure parts of `contree build` (cli.md §9.3, issue 12):
 * the Dockerfile reader, ${...} substitution and word splitting, the
 * .dockerignore matcher, the context boundary test and the layer key
 * chain.  See build.h. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "files.h"
#include "json.h"
#include "prose.h"
#include "util.h"

/* ---- the Dockerfile ---- */

/* The keywords: DI_FROM ... DI_USER in their order, then those that
 * are DI_SKIP. */
static const char keywords[][12] = {
	"FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "WORKDIR", "USER",
	"CMD", "ENTRYPOINT", "LABEL", "EXPOSE", "VOLUME", "STOPSIGNAL",
	"MAINTAINER", "HEALTHCHECK", "ONBUILD", "SHELL"
};

static int
isblank_(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* [p, *e) trimmed on both sides. */
static const char *
trim(const char *p, const char **e)
{
	while (p < *e && isblank_((unsigned char)*p))
		p++;
	while (*e > p && isblank_((unsigned char)(*e)[-1]))
		(*e)--;
	return p;
}

/* The line at *p (text ends at end), trimmed: its start, and its end in
 * *le; *p moves to the next line. */
static const char *
next_line(const char **p, const char *end, const char **le)
{
	const char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));

	*le = nl ? nl : end;
	*p = nl ? nl + 1 : end;
	return trim(s, le);
}

void
df_free(struct dockerfile *df)
{
	size_t i;

	for (i = 0; i < df->n; i++) {
		free(df->v[i].word);
		free(df->v[i].args);
	}
	free(df->v);
	memset(df, 0, sizeof *df);
}

/* One logical line (continuations joined) into an instruction. */
static int
df_add(struct dockerfile *df, const char *name, int line, const char *s)
{
	const char *w = s, *e;
	struct dinstr d;
	size_t i, n;

	while (*s && !isblank_((unsigned char)*s))
		s++;
	n = (size_t)(s - w);
	memset(&d, 0, sizeof d);
	d.line = line;
	d.word = xstrndup(w, n);
	for (i = 0; i < n; i++)
		d.word[i] = (char)toupper((unsigned char)d.word[i]);
	for (i = 0; i < LEN(keywords); i++)
		if (strcmp(keywords[i], d.word) == 0)
			d.kind = i < DI_SKIP - 1 ? (int)i + 1 : DI_SKIP;
	e = s + strlen(s);
	s = trim(s, &e);
	if (!d.kind)
		seterr("%s:%d: unknown instruction '%.*s'", name, line,
		    (int)n, w);
	else if (s == e)
		seterr("%s:%d: %s needs arguments", name, line, d.word);
	if (!d.kind || s == e) {
		free(d.word);
		return -1;
	}
	if (d.kind != DI_ARG && d.kind != DI_FROM) {
		for (i = 0; i < df->n && df->v[i].kind != DI_FROM; i++)
			;
		if (i == df->n) {
			seterr(prose(P_DF_FIRST),
			    name, line, d.word);
			free(d.word);
			return -1;
		}
	}
	d.args = xstrndup(s, (size_t)(e - s));
	df->v = xreallocarray(df->v, df->n + 1, sizeof *df->v);
	df->v[df->n++] = d;
	return 0;
}

/* Options that can be refused before anything runs: those of RUN
 * (--mount, --network: none supported) and of COPY/ADD other than
 * --chown and --chmod, --from with its own message. */
static int
df_check(const struct dinstr *d, const char *name)
{
	const char *p = d->args;
	size_t n;

	if (d->kind != DI_RUN && d->kind != DI_COPY && d->kind != DI_ADD)
		return 0;
	while (p[0] == '-' && p[1] == '-' && p[2] && !isblank_((unsigned char)p[2])) {
		n = strcspn(p, " \t");
		if (d->kind == DI_RUN) {
			seterr("%s:%d: RUN option '%.*s' is not supported", name,
			    d->line, (int)n, p);
			return -1;
		}
		if (strncmp(p, "--from=", 7) == 0) {
			seterr(prose(P_DF_FROM),
			    name, d->line, d->word, d->word);
			return -1;
		}
		if (strncmp(p, "--chown=", 8) != 0 &&
		    strncmp(p, "--chmod=", 8) != 0) {
			seterr("%s:%d: %s: unsupported option '%.*s'", name,
			    d->line, d->word, (int)n, p);
			return -1;
		}
		p += n;
		p += strspn(p, " \t");
	}
	return 0;
}

int
df_parse(const char *text, size_t len, const char *name,
    struct dockerfile *df)
{
	struct buf cur = {0};
	const char *p = text, *end = text + len;
	int lineno = 0, start = 0, cont = 0, rc = 0;
	size_t i;

	memset(df, 0, sizeof *df);
	if (memchr(text, '\0', len)) {
		seterr("%s: not a text file (NUL byte)", name);
		return -1;
	}
	while (p < end && rc == 0) {
		const char *le, *s = next_line(&p, end, &le);
		int more;

		lineno++;
		if (s == le || *s == '#')
			continue;       /* also inside a continuation */
		more = le[-1] == '\\';
		if (more) {
			le--;
			s = trim(s, &le);
		}
		if (!cont) {
			buf_reset(&cur);
			start = lineno;
		} else if (s < le && cur.len) {
			buf_addc(&cur, ' ');
		}
		buf_add(&cur, s, (size_t)(le - s));
		cont = more;
		if (!cont)
			rc = df_add(df, name, start, cur.p ? cur.p : "");
	}
	if (rc == 0 && cont && cur.len)  /* a '\' on the last line */
		rc = df_add(df, name, start, cur.p);
	buf_free(&cur);
	if (rc == 0 && df->n == 0) {
		seterr("%s: no instructions", name);
		rc = -1;
	}
	for (i = 0; rc == 0 && i < df->n; i++)
		rc = df_check(&df->v[i], name);
	if (rc < 0)
		df_free(df);
	return rc;
}

/* ---- variables ---- */

struct sub {
	df_lookup get;
	void *arg;
	int split;              /* split into words, remove quotes */
	struct buf cur;
	int inword;
	char **w;
	int n;
};

static void
push_word(struct sub *x)
{
	x->w = xreallocarray(x->w, (size_t)x->n + 2, sizeof *x->w);
	x->w[x->n++] = xstrdup(x->cur.p ? x->cur.p : "");
	x->w[x->n] = NULL;
	buf_reset(&x->cur);
	x->inword = 0;
}

static int run_sub(struct sub *x, const char *s, size_t n);

/* The end of a ${...} whose body starts at s: the index of its '}'
 * (nested braces counted), or -1. */
static long
brace_end(const char *s, size_t n)
{
	size_t i;
	int depth = 1;

	for (i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			i++;
			continue;
		}
		if (s[i] == '{')
			depth++;
		else if (s[i] == '}' && --depth == 0)
			return (long)i;
	}
	return -1;
}

static int
isname(int c, int first)
{
	return c == '_' || isalpha(c) || (!first && isdigit(c));
}

/* A '$' at s[0]: append its expansion; *used gets the bytes taken. */
static int
expand(struct sub *x, const char *s, size_t n, size_t *used)
{
	char name[256];
	const char *val;
	size_t k = 1;

	if (n > 1 && s[1] == '{') {
		long e = brace_end(s + 2, n - 2);
		size_t nl;
		char op = 0, colon = 0;

		if (e < 0) {
			seterr("unterminated ${ in '%.*s'", (int)n, s);
			return -1;
		}
		for (k = 2; k < (size_t)e + 2 && isname((unsigned char)s[k],
		    k == 2); k++)
			;
		nl = k - 2;
		if (nl == 0 || nl >= sizeof name) {
			seterr("bad variable name in '%.*s'", (int)e + 3, s);
			return -1;
		}
		memcpy(name, s + 2, nl);
		name[nl] = '\0';
		if (s[k] == ':' && (s[k + 1] == '-' || s[k + 1] == '+')) {
			colon = 1;
			op = s[k + 1];
			k += 2;
		} else if (s[k] == '-' || s[k] == '+') {
			op = s[k];
			k++;
		} else if (k != (size_t)e + 2) {
			seterr("unsupported substitution '%.*s'", (int)e + 3, s);
			return -1;
		}
		val = x->get(x->arg, name);
		*used = (size_t)e + 3;
		if (op) {
			int set = val && (!colon || *val);
			int useword = op == '-' ? !set : set;
			struct sub y;

			if (!useword) {
				if (op == '+')
					return 0;
				buf_puts(&x->cur, val);
				x->inword = 1;
				return 0;
			}
			/* the word is substituted itself, never split */
			memset(&y, 0, sizeof y);
			y.get = x->get;
			y.arg = x->arg;
			if (run_sub(&y, s + k, (size_t)e + 2 - k) < 0) {
				buf_free(&y.cur);
				return -1;
			}
			buf_add(&x->cur, y.cur.p ? y.cur.p : "", y.cur.len);
			buf_free(&y.cur);
			x->inword = 1;
			return 0;
		}
	} else if (n > 1 && isname((unsigned char)s[1], 1)) {
		while (k < n && isname((unsigned char)s[k], 0) &&
		    k < sizeof name)
			k++;
		memcpy(name, s + 1, k - 1);
		name[k - 1] = '\0';
		val = x->get(x->arg, name);
		*used = k;
	} else {
		buf_addc(&x->cur, '$');  /* a lone '$' stays */
		x->inword = 1;
		*used = 1;
		return 0;
	}
	if (val)
		buf_puts(&x->cur, val);
	x->inword = 1;
	return 0;
}

static int
run_sub(struct sub *x, const char *s, size_t n)
{
	size_t i = 0, used;
	char quote = 0;

	while (i < n) {
		char c = s[i];

		if (quote == '\'') {
			if (c == '\'')
				quote = 0;
			else
				buf_addc(&x->cur, c);
			i++;
			continue;
		}
		if (c == '\\') {
			if (i + 1 < n && s[i + 1] == '$') {
				buf_addc(&x->cur, '$');
				i += 2;
			} else if (x->split && i + 1 < n && (!quote ||
			    strchr("\"\\`", s[i + 1]))) {
				buf_addc(&x->cur, s[i + 1]);
				i += 2;
			} else {
				buf_addc(&x->cur, c);
				i++;
			}
			x->inword = 1;
			continue;
		}
		if (c == '$') {
			if (expand(x, s + i, n - i, &used) < 0)
				return -1;
			i += used;
			continue;
		}
		if (x->split && !quote && isblank_((unsigned char)c)) {
			if (x->inword)
				push_word(x);
			i++;
			continue;
		}
		if (x->split && (c == '\'' || c == '"') && (!quote || quote == c)) {
			quote = quote ? 0 : c;
			x->inword = 1;
			i++;
			continue;
		}
		buf_addc(&x->cur, c);
		x->inword = 1;
		i++;
	}
	if (quote) {
		seterr("unterminated %c quote in '%.*s'", quote, (int)n, s);
		return -1;
	}
	return 0;
}

/* Substitute s into x (split: into words); -1 with x freed. */
static int
sub_all(struct sub *x, const char *s, df_lookup get, void *arg, int split)
{
	memset(x, 0, sizeof *x);
	x->get = get;
	x->arg = arg;
	x->split = split;
	if (run_sub(x, s, strlen(s)) == 0)
		return 0;
	buf_free(&x->cur);
	if (x->w)
		freewords(x->w);
	return -1;
}

int
df_subst(const char *s, df_lookup get, void *arg, char **out)
{
	struct sub x;

	if (sub_all(&x, s, get, arg, 0) < 0)
		return -1;
	*out = x.cur.p ? x.cur.p : xstrdup("");
	return 0;
}

int
df_words(const char *s, df_lookup get, void *arg, char ***words, int *n)
{
	struct sub x;

	if (sub_all(&x, s, get, arg, 1) < 0)
		return -1;
	if (x.inword)
		push_word(&x);
	buf_free(&x.cur);
	if (!x.w) {
		x.w = xcalloc(1, sizeof *x.w);
	}
	*words = x.w;
	*n = x.n;
	return 0;
}

int
df_json_words(const char *s, char ***words, int *n)
{
	struct json j;
	char **w;
	int t, k = 0;

	while (isblank_((unsigned char)*s))
		s++;
	if (*s != '[' || json_parse_alloc(&j, s, strlen(s)) < 0)
		return 0;
	if (j.tok[0].type != JSON_ARRAY) {
		json_free(&j);
		return 0;
	}
	w = xcalloc((size_t)j.ntok + 1, sizeof *w);
	for (t = json_first(&j, 0); t >= 0; t = json_after(&j, t)) {
		if (j.tok[t].type != JSON_STRING) {
			freewords(w);
			json_free(&j);
			return 0;
		}
		w[k++] = json_strdup(&j, t);
	}
	json_free(&j);
	*words = w;
	*n = k;
	return 1;
}

/* ---- .dockerignore ---- */

int
has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* A "[...]" class at p (after '['), for byte c: 1 match, 0 no match;
 * *end gets the byte after ']'.  -1: no closing ']' (then '[' is an
 * ordinary byte). */
static int
glob_class(const char *p, unsigned char c, const char **end)
{
	int neg = 0, hit = 0, first = 1;

	if (*p == '!' || *p == '^') {
		neg = 1;
		p++;
	}
	for (; *p && (first || *p != ']'); first = 0) {
		unsigned char lo = (unsigned char)*p, hi;

		if (lo == '\\' && p[1])
			lo = (unsigned char)*++p;
		p++;
		hi = lo;
		if (*p == '-' && p[1] && p[1] != ']') {
			p++;
			if (*p == '\\' && p[1])
				p++;
			hi = (unsigned char)*p++;
		}
		if (c >= lo && c <= hi)
			hit = 1;
	}
	if (*p != ']')
		return -1;
	*end = p + 1;
	return c != '/' && hit != neg;
}

int
glob_path(const char *p, const char *s)
{
	const char *end;
	size_t k;
	int m;

	for (;;) {
		switch (*p) {
		case '\0':
			return *s == '\0';
		case '*':
			if (p[1] == '*') {
				int comp;

				while (*p == '*')
					p++;
				comp = *p == '/';
				if (comp)
					p++;
				if (!*p)
					return 1;
				for (k = 0;; k++) {
					if ((!comp || k == 0 || s[k - 1] == '/') &&
					    glob_path(p, s + k))
						return 1;
					if (!s[k])
						return 0;
				}
			}
			for (k = 0;; k++) {
				if (glob_path(p + 1, s + k))
					return 1;
				if (!s[k] || s[k] == '/')
					return 0;
			}
		case '?':
			if (!*s || *s == '/')
				return 0;
			p++;
			s++;
			break;
		case '[':
			if (!*s)
				return 0;
			m = glob_class(p + 1, (unsigned char)*s, &end);
			if (m < 0)
				goto literal;
			if (!m)
				return 0;
			p = end;
			s++;
			break;
		case '\\':
			if (p[1])
				p++;
			/* fall through */
		default:
		literal:
			if (*p != *s)
				return 0;
			p++;
			s++;
		}
	}
}

void
ignore_free(struct ignore *ig)
{
	size_t i;

	for (i = 0; i < ig->n; i++)
		free(ig->pat[i]);
	free(ig->pat);
	free(ig->neg);
	free(ig->dir);
	memset(ig, 0, sizeof *ig);
}

/* Drop empty and "." components of a pattern. */
static char *
clean_pattern(const char *s, size_t n)
{
	struct buf b = {0};
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		while (j < n && s[j] != '/')
			j++;
		if (j > i && !(j - i == 1 && s[i] == '.')) {
			if (b.len)
				buf_addc(&b, '/');
			buf_add(&b, s + i, j - i);
		}
		i = j + 1;
	}
	return b.p;
}

void
ignore_parse(const char *text, size_t len, struct ignore *ig)
{
	const char *p = text, *end = text + len;

	memset(ig, 0, sizeof *ig);
	while (p < end) {
		const char *le, *s = next_line(&p, end, &le);
		int neg = 0, dir;
		char *pat;

		if (s == le || *s == '#')
			continue;
		if (*s == '!') {
			neg = 1;
			s++;
			s = trim(s, &le);
		}
		dir = le > s && le[-1] == '/';
		if (!(pat = clean_pattern(s, (size_t)(le - s))))
			continue;       /* "/" or ".": nothing to match */
		ig->pat = xreallocarray(ig->pat, ig->n + 1, sizeof *ig->pat);
		ig->neg = xrealloc(ig->neg, ig->n + 1);
		ig->dir = xrealloc(ig->dir, ig->n + 1);
		ig->pat[ig->n] = pat;
		ig->neg[ig->n] = (unsigned char)neg;
		ig->dir[ig->n++] = (unsigned char)dir;
		ig->hasneg |= neg;
	}
}

/* Pattern i against rel or one of its parent directories. */
static int
pat_hits(const struct ignore *ig, size_t i, const char *rel, int isdir)
{
	char *pre = xstrdup(rel), *sl;
	int hit = (!ig->dir[i] || isdir) && glob_path(ig->pat[i], rel);

	while (!hit && (sl = strrchr(pre, '/'))) {
		*sl = '\0';
		hit = glob_path(ig->pat[i], pre);
	}
	free(pre);
	return hit;
}

int
ignore_match(const struct ignore *ig, const char *rel, int isdir)
{
	size_t i;
	int ignored = 0;

	for (i = 0; i < ig->n; i++)
		if (ignored != !ig->neg[i] && pat_hits(ig, i, rel, isdir))
			ignored = !ig->neg[i];
	return ignored;
}

int
ignore_descend(const struct ignore *ig, const char *rel)
{
	size_t i, n = strlen(rel);

	/* a "!" pattern can only re-include below rel if its fixed
	 * leading part agrees with rel/ */
	for (i = 0; i < ig->n; i++) {
		const char *p = ig->pat[i];
		size_t k;

		if (!ig->neg[i])
			continue;
		for (k = 0; k < n && p[k] && p[k] == rel[k] &&
		    !strchr("*?[\\", p[k]); k++)
			;
		if (k == n && (p[k] == '/' || p[k] == '\0'))
			return 1;
		if (p[k] && strchr("*?[\\", p[k]))
			return 1;
	}
	return 0;
}

/* ---- the context boundary ---- */

char *
ctx_clean(const char *src)
{
	struct buf b = {0};
	const char *s = src;

	while (*s) {
		const char *e = s;

		while (*e && *e != '/')
			e++;
		if (e - s == 2 && s[0] == '.' && s[1] == '.') {
			char *sl;

			if (!b.len) {
				seterr("'%s' is outside the build context", src);
				buf_free(&b);
				return NULL;
			}
			sl = strrchr(b.p, '/');
			b.len = sl ? (size_t)(sl - b.p) : 0;
			b.p[b.len] = '\0';
		} else if (e > s && !(e - s == 1 && *s == '.')) {
			if (b.len)
				buf_addc(&b, '/');
			buf_add(&b, s, (size_t)(e - s));
		}
		s = *e ? e + 1 : e;
	}
	return b.p ? b.p : xstrdup("");
}

int
path_inside(const char *root, const char *p)
{
	size_t n = strlen(root);

	while (n > 1 && root[n - 1] == '/')
		n--;
	if (n == 1 && root[0] == '/')
		return p[0] == '/';
	return strncmp(root, p, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

/* ---- the layer key chain ---- */

void
key_field(struct buf *b, const char *name, const char *value)
{
	buf_printf(b, "%s %zu:", name, strlen(value));
	buf_puts(b, value);
	buf_addc(b, '\n');
}

void
key_chain(const char *parent, const struct buf *desc, char out[65])
{
	struct buf b = {0};

	key_field(&b, "parent", parent ? parent : "");
	buf_add(&b, desc->p ? desc->p : "", desc->len);
	sha256_hex(b.p, b.len, out);
	buf_free(&b);
}
