/* json.c - strict RFC 8259 JSON parser and a JSON writer.
 *
 * Parser: one left-to-right pass over (s, n) driven by a small state
 * machine.  Open containers live on an explicit stack of JSON_MAXDEPTH
 * entries, so hostile nesting costs a bounded array, never the C stack.
 * The core allocates nothing; json_parse_alloc runs it twice (count,
 * then fill).  Strings and numbers stay as spans of the input: strings
 * are decoded on demand, numbers converted on demand.
 *
 * Where RFC 8259 leaves room (the JSONTestSuite i_ cases) we decided:
 * - A \u escape of a lone surrogate (a high one not followed at once by
 *   a \u low one, or a low one on its own) is rejected, JSON_EESCAPE:
 *   such a string has no UTF-8 form, and every decoded string handed out
 *   is then valid UTF-8.
 * - Raw bytes inside strings must be valid UTF-8 (JSON_EUTF8): no
 *   overlong forms, no encoded surrogates (ED A0..BF xx), nothing above
 *   U+10FFFF, no truncated sequences.  Outside strings only ASCII
 *   whitespace and JSON syntax are allowed; a byte-order mark is not
 *   skipped (it is a syntax error).  UTF-16/32 input is rejected.
 * - Numbers of any length and exponent are valid and kept as text;
 *   json_int64 and json_double report what does not fit.
 * - \u0000 is valid; json_str yields a NUL byte, json_strdup refuses it.
 * - JSON_MAXDEPTH nested arrays/objects are fine, one more is
 *   JSON_EDEPTH.
 * - Duplicate keys are all kept as tokens; json_get returns the last.
 *
 * Writer: every string is re-escaped from its code points, so whatever
 * bytes a caller passes, the output is valid JSON in valid UTF-8 (or pure
 * ASCII with JW_ASCII).  Output is byte-identical to Python's json.dumps:
 * JW_SPACED|JW_ASCII to json.dumps(obj), JW_PRETTY|JW_ASCII to
 * json.dumps(obj, indent=2), and without JW_ASCII to the same with
 * ensure_ascii=False (flags 0: separators=(',', ':')).  Floats: see
 * fmtdouble. */
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

enum { ST_VALUE, ST_KEY, ST_AFTER };

static int
isws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
isdig(int c)
{
	return c >= '0' && c <= '9';
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode one UTF-8 sequence from s[0..n), n >= 1.  Returns its length
 * with the code point in *cp; or, if it is invalid, minus the length of
 * its maximal invalid prefix (Unicode's "maximal subpart", at least 1),
 * which is what a replacing decoder skips per U+FFFD.  The lead byte
 * fixes the range of the second byte: that is what rules out overlongs
 * (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and > U+10FFFF (F4 90+,
 * F5..FF). */
static int
utf8dec(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned lo = 0x80, hi = 0xBF;
	int need, k;
	uint32_t c = s[0];

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c < 0xC2)           /* continuation byte, or overlong C0/C1 */
		return -1;
	if (c < 0xE0) {
		need = 1;
		c &= 0x1F;
	} else if (c < 0xF0) {
		need = 2;
		if (c == 0xE0)
			lo = 0xA0;
		if (c == 0xED)
			hi = 0x9F;
		c &= 0x0F;
	} else if (c < 0xF5) {
		need = 3;
		if (c == 0xF0)
			lo = 0x90;
		if (c == 0xF4)
			hi = 0x8F;
		c &= 0x07;
	} else {
		return -1;
	}
	for (k = 1; k <= need; k++) {
		if ((size_t)k >= n || s[k] < lo || s[k] > hi)
			return -k;
		c = c << 6 | (s[k] & 0x3F);
		lo = 0x80;
		hi = 0xBF;
	}
	*cp = c;
	return need + 1;
}

/* Encode a Unicode scalar value as UTF-8 into out (4 bytes); length. */
static int
utf8enc(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = 0xC0 | c >> 6;
		out[1] = 0x80 | (c & 0x3F);
		return 2;
	}
	if (c < 0x10000) {
		out[0] = 0xE0 | c >> 12;
		out[1] = 0x80 | (c >> 6 & 0x3F);
		out[2] = 0x80 | (c & 0x3F);
		return 3;
	}
	out[0] = 0xF0 | c >> 18;
	out[1] = 0x80 | (c >> 12 & 0x3F);
	out[2] = 0x80 | (c >> 6 & 0x3F);
	out[3] = 0x80 | (c & 0x3F);
	return 4;
}

/* Four hex digits at s[i..): 1 with *v set, 0 if the input ends first,
 * -1 on a non-hex character. */
static int
hex4(const unsigned char *s, size_t n, size_t i, uint32_t *v)
{
	int k, d;

	*v = 0;
	for (k = 0; k < 4; k++) {
		if (i + k >= n)
			return 0;
		if ((d = hexval(s[i + k])) < 0)
			return -1;
		*v = *v << 4 | d;
	}
	return 1;
}

/* Decode the escape starting at s[i] == '\\'.  Returns its length (a
 * surrogate pair counts as one 12-byte escape) with the code point in
 * *cp; 0 if the input ends inside it; -1 if it is invalid, which
 * includes lone surrogates (see the top of the file). */
static int
unesc(const unsigned char *s, size_t n, size_t i, uint32_t *cp)
{
	uint32_t hi, lo;
	int r;

	if (i + 1 >= n)
		return 0;
	switch (s[i + 1]) {
	case '"':  *cp = '"';  return 2;
	case '\\': *cp = '\\'; return 2;
	case '/':  *cp = '/';  return 2;
	case 'b':  *cp = '\b'; return 2;
	case 'f':  *cp = '\f'; return 2;
	case 'n':  *cp = '\n'; return 2;
	case 'r':  *cp = '\r'; return 2;
	case 't':  *cp = '\t'; return 2;
	case 'u':  break;
	default:   return -1;
	}
	if ((r = hex4(s, n, i + 2, &hi)) <= 0)
		return r;
	if (hi < 0xD800 || hi > 0xDFFF) {
		*cp = hi;
		return 6;
	}
	if (hi >= 0xDC00)               /* low surrogate first */
		return -1;
	if (i + 6 >= n)
		return 0;
	if (s[i + 6] != '\\')
		return -1;
	if (i + 7 >= n)
		return 0;
	if (s[i + 7] != 'u')
		return -1;
	if ((r = hex4(s, n, i + 8, &lo)) <= 0)
		return r;
	if (lo < 0xDC00 || lo > 0xDFFF)
		return -1;
	*cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
	return 12;
}

/* Length of the RFC 8259 number at s[p..n):
 *   -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?
 * or 0 with *bad the offset of the first byte that breaks it.  A number
 * directly followed by a digit, '.', 'e', '+' or '-' ("01", "1.2.3",
 * "1e5e") is refused here rather than as a later syntax error. */
static size_t
scannum(const unsigned char *s, size_t n, size_t p, size_t *bad)
{
	size_t i = p;

	if (i < n && s[i] == '-')
		i++;
	if (i >= n || !isdig(s[i]))
		goto fail;
	if (s[i] == '0')
		i++;
	else
		while (i < n && isdig(s[i]))
			i++;
	if (i < n && s[i] == '.') {
		if (++i >= n || !isdig(s[i]))
			goto fail;
		while (i < n && isdig(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || !isdig(s[i]))
			goto fail;
		while (i < n && isdig(s[i]))
			i++;
	}
	if (i < n && (isdig(s[i]) || s[i] == '.' || s[i] == 'e' ||
	    s[i] == 'E' || s[i] == '+' || s[i] == '-'))
		goto fail;
	return i - p;
fail:
	*bad = i;
	return 0;
}

static int
fail(struct json *j, enum json_err e, size_t off)
{
	j->err = e;
	j->erroff = off;
	j->ntok = 0;
	return -1;
}

/* Scan the string whose opening quote is at src[p]: validate escapes,
 * UTF-8 and control characters.  Returns the offset of the closing
 * quote, or (size_t)-1 with the error set. */
static size_t
scanstr(struct json *j, size_t p, int *esc)
{
	const unsigned char *s = (const unsigned char *)j->src;
	size_t n = j->srclen, i = p + 1;
	uint32_t cp;
	int r;

	*esc = 0;
	while (i < n) {
		if (s[i] == '"')
			return i;
		if (s[i] == '\\') {
			*esc = 1;
			if ((r = unesc(s, n, i, &cp)) < 0) {
				fail(j, JSON_EESCAPE, i);
				return (size_t)-1;
			}
			if (r == 0) {
				fail(j, JSON_EEOF, n);
				return (size_t)-1;
			}
			i += r;
		} else if (s[i] < 0x20) {
			fail(j, JSON_ECTRL, i);
			return (size_t)-1;
		} else if (s[i] < 0x80) {
			i++;
		} else {
			if ((r = utf8dec(s + i, n - i, &cp)) < 0) {
				fail(j, JSON_EUTF8, i);
				return (size_t)-1;
			}
			i += r;
		}
	}
	fail(j, JSON_EEOF, n);
	return (size_t)-1;
}

/* Start a token.  In counting mode (j->tok == NULL) only the count
 * moves.  Returns its index, or -1 (JSON_ETOKENS). */
static int
newtok(struct json *j, int *ntok, int cap, enum json_type type,
    size_t start, size_t len, int parent)
{
	struct json_tok *t;

	/* a string's span starts after its quote; report the quote */
	if (*ntok == INT_MAX || (j->tok && *ntok >= cap))
		return fail(j, JSON_ETOKENS, start - (type == JSON_STRING));
	if (j->tok) {
		t = &j->tok[*ntok];
		t->type = type;
		t->start = start;
		t->len = len;
		t->size = 0;
		t->next = *ntok + 1;
		t->esc = 0;
		t->parent = parent;
	}
	return (*ntok)++;
}

int
json_parse(struct json *j, const char *src, size_t n,
    struct json_tok *toks, int cap)
{
	static const char *const lit[] = { "null", "false", "true" };
	static const enum json_type littype[] = {
		JSON_NULL, JSON_FALSE, JSON_TRUE
	};
	const unsigned char *s = (const unsigned char *)src;
	int stack[JSON_MAXDEPTH];       /* open containers: token index */
	unsigned char isobj[JSON_MAXDEPTH];
	int depth = 0, ntok = 0, st = ST_VALUE, parent, t, esc, k;
	size_t p = 0, e, len;

	j->src = src;
	j->srclen = n;
	j->tok = toks;
	j->ntok = 0;
	j->err = JSON_OK;
	j->erroff = 0;
	j->owned = 0;

	for (;;) {
		while (p < n && isws(s[p]))
			p++;
		if (st == ST_AFTER) {
			/* a value just ended: ',' or the closing bracket */
			if (depth == 0) {
				if (p < n)
					return fail(j, JSON_ETRAILING, p);
				break;
			}
			if (p == n)
				return fail(j, JSON_EEOF, p);
			if (s[p] == ',') {
				p++;
				st = isobj[depth - 1] ? ST_KEY : ST_VALUE;
				continue;
			}
			if (s[p] != (isobj[depth - 1] ? '}' : ']'))
				return fail(j, JSON_ESYNTAX, p);
			goto close;
		}
		if (p == n)
			return fail(j, JSON_EEOF, p);
		parent = depth ? stack[depth - 1] : -1;

		if (st == ST_KEY) {
			if (s[p] != '"')
				return fail(j, JSON_ESYNTAX, p);
			if ((e = scanstr(j, p, &esc)) == (size_t)-1)
				return -1;
			if ((t = newtok(j, &ntok, cap, JSON_STRING, p + 1,
			    e - p - 1, parent)) < 0)
				return -1;
			if (toks) {
				toks[t].esc = esc;
				toks[parent].size++;
			}
			for (p = e + 1; p < n && isws(s[p]); p++)
				;
			if (p == n)
				return fail(j, JSON_EEOF, p);
			if (s[p] != ':')
				return fail(j, JSON_ESYNTAX, p);
			p++;
			st = ST_VALUE;
			continue;
		}

		/* ST_VALUE.  Members of objects are counted at their key. */
		if (toks && parent >= 0 && !isobj[depth - 1])
			toks[parent].size++;
		st = ST_AFTER;
		switch (s[p]) {
		case '{':
		case '[':
			if (depth == JSON_MAXDEPTH)
				return fail(j, JSON_EDEPTH, p);
			if ((t = newtok(j, &ntok, cap, s[p] == '{' ?
			    JSON_OBJECT : JSON_ARRAY, p, 1, parent)) < 0)
				return -1;
			stack[depth] = t;
			isobj[depth++] = s[p] == '{';
			/* empty container: the only place '}' may follow '{'
			 * and ']' may follow '[' (no trailing commas) */
			for (p++; p < n && isws(s[p]); p++)
				;
			if (p < n && s[p] == (isobj[depth - 1] ? '}' : ']'))
				goto close;
			st = isobj[depth - 1] ? ST_KEY : ST_VALUE;
			continue;
		case '"':
			if ((e = scanstr(j, p, &esc)) == (size_t)-1)
				return -1;
			if ((t = newtok(j, &ntok, cap, JSON_STRING, p + 1,
			    e - p - 1, parent)) < 0)
				return -1;
			if (toks)
				toks[t].esc = esc;
			p = e + 1;
			continue;
		case 't':
		case 'f':
		case 'n':
			k = s[p] == 'n' ? 0 : s[p] == 'f' ? 1 : 2;
			len = strlen(lit[k]);
			for (e = 0; e < len; e++) {
				if (p + e >= n)
					return fail(j, JSON_EEOF, n);
				if (s[p + e] != (unsigned char)lit[k][e])
					return fail(j, JSON_ESYNTAX, p + e);
			}
			if (newtok(j, &ntok, cap, littype[k], p, len,
			    parent) < 0)
				return -1;
			p += len;
			continue;
		default:
			if (s[p] != '-' && !isdig(s[p]))
				return fail(j, JSON_ESYNTAX, p);
			if ((len = scannum(s, n, p, &e)) == 0)
				return fail(j, JSON_ENUMBER, e);
			if (newtok(j, &ntok, cap, JSON_NUMBER, p, len,
			    parent) < 0)
				return -1;
			p += len;
			continue;
		}
close:
		/* s[p] closes the innermost container */
		t = stack[--depth];
		if (toks) {
			toks[t].len = p + 1 - toks[t].start;
			toks[t].next = ntok;
		}
		p++;
		st = ST_AFTER;
	}
	j->ntok = ntok;
	return ntok;
}

int
json_parse_alloc(struct json *j, const char *s, size_t n)
{
	struct json_tok *toks;
	int cnt;

	if ((cnt = json_parse(j, s, n, NULL, 0)) < 0)
		return -1;
	toks = xcalloc(cnt, sizeof(*toks));
	if (json_parse(j, s, n, toks, cnt) < 0) {  /* cannot happen */
		free(toks);
		j->tok = NULL;
		return -1;
	}
	j->owned = 1;
	return 0;
}

void
json_free(struct json *j)
{
	if (j->owned)
		free(j->tok);
	j->tok = NULL;
	j->ntok = 0;
	j->owned = 0;
}

const char *
json_strerror(const struct json *j)
{
	static const char *const msg[] = {
		[JSON_OK] = "no error",
		[JSON_ESYNTAX] = "unexpected character",
		[JSON_EUTF8] = "invalid UTF-8",
		[JSON_EESCAPE] = "invalid escape",
		[JSON_ENUMBER] = "invalid number",
		[JSON_EDEPTH] = "nesting too deep",
		[JSON_ETOKENS] = "too many tokens",
		[JSON_ETRAILING] = "trailing data",
		[JSON_EEOF] = "unexpected end of input",
		[JSON_ECTRL] = "control character in string",
	};
	static char buf[96];

	if (j->err == JSON_OK)
		return "JSON: no error";
	if ((unsigned)j->err >= LEN(msg))
		return "JSON: unknown error";
	snprintf(buf, sizeof(buf), "JSON: %s at byte %zu", msg[j->err],
	    j->erroff);
	return buf;
}

/* Lookups.  Every index from a caller is checked: a bad one gives -1. */

static const struct json_tok *
tok(const struct json *j, int t)
{
	if (!j->tok || t < 0 || t >= j->ntok)
		return NULL;
	return &j->tok[t];
}

/* Next character of a string token's raw text s[*i..end): its code
 * point, advancing *i.  The parser validated the text; anything else
 * (a hand-made token) decodes as U+FFFD rather than read out of
 * bounds. */
static uint32_t
strnext(const unsigned char *s, size_t end, size_t *i)
{
	uint32_t cp;
	int r;

	if (s[*i] == '\\') {
		if ((r = unesc(s, end, *i, &cp)) <= 0) {
			(*i)++;
			return 0xFFFD;
		}
	} else if ((r = utf8dec(s + *i, end - *i, &cp)) < 0) {
		*i += -r;
		return 0xFFFD;
	}
	*i += r;
	return cp;
}

/* 1 if string token tk decodes to exactly k[0..kn). */
static int
streqn(const struct json *j, const struct json_tok *tk, const char *k,
    size_t kn)
{
	const unsigned char *s = (const unsigned char *)j->src + tk->start;
	size_t i = 0, o = 0;
	char u[4];
	int len;

	if (!tk->esc)
		return tk->len == kn && memcmp(s, k, kn) == 0;
	while (i < tk->len) {
		len = utf8enc(strnext(s, tk->len, &i), u);
		if (kn - o < (size_t)len || memcmp(k + o, u, len) != 0)
			return 0;
		o += len;
	}
	return o == kn;
}

int
json_get(const struct json *j, int obj, const char *key)
{
	const struct json_tok *o = tok(j, obj);
	size_t kn = strlen(key);
	int c, found = -1;

	if (!o || o->type != JSON_OBJECT)
		return -1;
	/* members are key, value pairs; keep scanning: the last one wins */
	for (c = obj + 1; c < o->next; c = j->tok[c + 1].next)
		if (streqn(j, &j->tok[c], key, kn))
			found = c + 1;
	return found;
}

int
json_path(const struct json *j, int t, ...)
{
	const char *k;
	va_list ap;

	va_start(ap, t);
	while (t >= 0 && (k = va_arg(ap, const char *)) != NULL)
		t = json_get(j, t, k);
	va_end(ap);
	return t;
}

int
json_index(const struct json *j, int arr, int i)
{
	const struct json_tok *a = tok(j, arr);
	int c;

	if (!a || a->type != JSON_ARRAY || i < 0 || i >= a->size)
		return -1;
	for (c = arr + 1; i > 0; i--)
		c = j->tok[c].next;
	return c;
}

int
json_first(const struct json *j, int t)
{
	const struct json_tok *c = tok(j, t);

	if (!c || (c->type != JSON_ARRAY && c->type != JSON_OBJECT) ||
	    c->size == 0)
		return -1;
	return t + 1;
}

/* In an object, c is a key: the next key is past the value at c + 1. */
int
json_after(const struct json *j, int c)
{
	const struct json_tok *t = tok(j, c), *p;
	int nx;

	if (!t || !(p = tok(j, t->parent)))
		return -1;
	if (p->type == JSON_OBJECT)
		nx = c + 1 < j->ntok ? j->tok[c + 1].next : p->next;
	else
		nx = t->next;
	return nx < p->next ? nx : -1;
}

int
json_str(const struct json *j, int t, struct buf *out)
{
	const struct json_tok *tk = tok(j, t);
	const unsigned char *s;
	size_t i = 0, run;
	char u[4];

	if (!tk || tk->type != JSON_STRING)
		return -1;
	s = (const unsigned char *)j->src + tk->start;
	buf_grow(out, tk->len);         /* decoding never lengthens */
	while (i < tk->len) {
		for (run = i; i < tk->len && s[i] != '\\'; i++)
			;
		buf_add(out, s + run, i - run);
		if (i < tk->len)
			buf_add(out, u, utf8enc(strnext(s, tk->len, &i), u));
	}
	return 0;
}

char *
json_strdup(const struct json *j, int t)
{
	struct buf b = {0};

	if (json_str(j, t, &b) < 0)
		return NULL;
	buf_addc(&b, '\0');
	if (memchr(b.p, '\0', b.len - 1)) {     /* it held U+0000 */
		buf_free(&b);
		return NULL;
	}
	return b.p;
}

int
json_streq(const struct json *j, int t, const char *s)
{
	const struct json_tok *tk = tok(j, t);

	return tk && tk->type == JSON_STRING && streqn(j, tk, s, strlen(s));
}

int
json_int64(const struct json *j, int t, int64_t *out)
{
	const struct json_tok *tk = tok(j, t);
	const char *s;
	uint64_t v = 0, lim = INT64_MAX;
	size_t i = 0;
	int neg;

	if (!tk || tk->type != JSON_NUMBER)
		return -1;
	s = j->src + tk->start;
	if ((neg = s[0] == '-')) {
		i++;
		lim = (uint64_t)INT64_MAX + 1;
	}
	for (; i < tk->len; i++) {
		if (!isdig(s[i]))       /* '.', 'e': not an integer */
			return -1;
		if (v > (lim - (s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	/* -v computed in unsigned arithmetic: -2^63 has no positive twin */
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/* strtod does the decimal-to-binary conversion (correctly rounded in
 * glibc and musl).  It follows LC_NUMERIC, so a '.' is swapped for the
 * locale's radix character when that is a different single byte.
 * Overflow (to infinity) is an error; underflow to zero or a subnormal
 * is accepted as the nearest double. */
int
json_double(const struct json *j, int t, double *out)
{
	const struct json_tok *tk = tok(j, t);
	char tmp[64], *s, *dot;
	const char *radix;
	double v;

	if (!tk || tk->type != JSON_NUMBER)
		return -1;
	s = tk->len < sizeof(tmp) ? tmp : xmalloc(tk->len + 1);
	memcpy(s, j->src + tk->start, tk->len);
	s[tk->len] = '\0';
	radix = localeconv()->decimal_point;
	if (radix[0] != '.' && radix[0] && !radix[1] &&
	    (dot = strchr(s, '.')))
		*dot = radix[0];
	v = strtod(s, NULL);
	if (s != tmp)
		free(s);
	if (isinf(v))
		return -1;
	*out = v;
	return 0;
}

int
json_bool(const struct json *j, int t)
{
	const struct json_tok *tk = tok(j, t);

	if (!tk)
		return -1;
	return tk->type == JSON_TRUE ? 1 : tk->type == JSON_FALSE ? 0 : -1;
}

char *
json_getstr(const struct json *j, int obj, const char *key)
{
	return json_strdup(j, json_get(j, obj, key));
}

/* Writer.  n[d - 1] records whether the container at depth d has had a
 * member yet (for the comma); the top level needs no slot, so all
 * JSON_MAXDEPTH levels the parser accepts fit.  Deeper nesting is a
 * caller bug: the slot is clamped so memory stays safe. */

static unsigned char *
seen(struct jw *w)
{
	return &w->n[(w->depth > JSON_MAXDEPTH ? JSON_MAXDEPTH : w->depth) - 1];
}

static void
newline(struct jw *w)
{
	int i;

	buf_addc(w->b, '\n');
	for (i = 0; i < w->depth; i++)
		buf_add(w->b, "  ", 2);
}

/* Separator and indentation before a value or a key.  Python's
 * separators: ", " (JW_SPACED) or "," at the end of a line (JW_PRETTY,
 * as json.dumps does with indent). */
static void
before(struct jw *w)
{
	unsigned char *n;

	if (w->afterkey) {
		w->afterkey = 0;
		return;
	}
	if (w->depth == 0)
		return;
	n = seen(w);
	if (*n) {
		buf_addc(w->b, ',');
		if ((w->flags & (JW_SPACED | JW_PRETTY)) == JW_SPACED)
			buf_addc(w->b, ' ');
	}
	*n = 1;
	if (w->flags & JW_PRETTY)
		newline(w);
}

/* One code point, escaped as Python's json module does: short forms for
 * \" \\ \b \f \n \r \t, \u00XX (lower-case hex) for other controls, and
 * with JW_ASCII also for DEL and everything non-ASCII (UTF-16
 * surrogate pairs above U+FFFF). */
static void
wcp(struct jw *w, uint32_t cp)
{
	char u[16];

	switch (cp) {
	case '"':  buf_add(w->b, "\\\"", 2); return;
	case '\\': buf_add(w->b, "\\\\", 2); return;
	case '\b': buf_add(w->b, "\\b", 2); return;
	case '\f': buf_add(w->b, "\\f", 2); return;
	case '\n': buf_add(w->b, "\\n", 2); return;
	case '\r': buf_add(w->b, "\\r", 2); return;
	case '\t': buf_add(w->b, "\\t", 2); return;
	}
	if (cp < 0x20 || (cp >= 0x7F && (w->flags & JW_ASCII))) {
		if (cp >= 0x10000) {
			cp -= 0x10000;
			snprintf(u, sizeof(u), "\\u%04x\\u%04x",
			    (unsigned)(0xD800 | cp >> 10),
			    (unsigned)(0xDC00 | (cp & 0x3FF)));
		} else {
			snprintf(u, sizeof(u), "\\u%04x", (unsigned)cp);
		}
		buf_puts(w->b, u);
		return;
	}
	buf_add(w->b, u, utf8enc(cp, u));
}

/* Escape raw bytes: runs of plain ASCII go out as they are; the rest is
 * decoded, and each invalid sequence becomes one U+FFFD (as Python's
 * bytes.decode(errors="replace") does). */
static void
wraw(struct jw *w, const unsigned char *s, size_t n)
{
	size_t i = 0, run;
	uint32_t cp;
	int r;

	while (i < n) {
		for (run = i; i < n && s[i] >= 0x20 && s[i] < 0x7F &&
		    s[i] != '"' && s[i] != '\\'; i++)
			;
		buf_add(w->b, s + run, i - run);
		if (i == n)
			break;
		if ((r = utf8dec(s + i, n - i, &cp)) < 0) {
			cp = 0xFFFD;
			r = -r;
		}
		wcp(w, cp);
		i += r;
	}
}

static void
wstring(struct jw *w, const char *s, size_t n)
{
	buf_addc(w->b, '"');
	wraw(w, (const unsigned char *)s, n);
	buf_addc(w->b, '"');
}

/* A string token, decoded and re-escaped: raw runs (valid UTF-8 already)
 * via wraw, escapes via their code point. */
static void
wtokstr(struct jw *w, const struct json *j, const struct json_tok *tk)
{
	const unsigned char *s = (const unsigned char *)j->src + tk->start;
	size_t i = 0, run;

	buf_addc(w->b, '"');
	while (i < tk->len) {
		for (run = i; i < tk->len && s[i] != '\\'; i++)
			;
		wraw(w, s + run, i - run);
		if (i < tk->len)
			wcp(w, strnext(s, tk->len, &i));
	}
	buf_addc(w->b, '"');
}

static void
colon(struct jw *w)
{
	buf_addc(w->b, ':');
	if (w->flags & (JW_SPACED | JW_PRETTY))
		buf_addc(w->b, ' ');
	w->afterkey = 1;
}

static void
wopen(struct jw *w, int c)
{
	before(w);
	buf_addc(w->b, c);
	w->depth++;
	*seen(w) = 0;
}

/* An empty container stays "{}" / "[]" even when pretty, as in Python. */
static void
wclose(struct jw *w, int c)
{
	w->afterkey = 0;
	if (w->depth > 0) {
		int any = *seen(w);

		w->depth--;
		if (any && (w->flags & JW_PRETTY))
			newline(w);
	}
	buf_addc(w->b, c);
}

void
jw_init(struct jw *w, struct buf *b, int flags)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
	w->flags = flags;
}

void jw_obj(struct jw *w)     { wopen(w, '{'); }
void jw_obj_end(struct jw *w) { wclose(w, '}'); }
void jw_arr(struct jw *w)     { wopen(w, '['); }
void jw_arr_end(struct jw *w) { wclose(w, ']'); }

void
jw_key(struct jw *w, const char *k)
{
	before(w);
	wstring(w, k, strlen(k));
	colon(w);
}

/* NULL is written as null. */
void
jw_str(struct jw *w, const char *s)
{
	if (!s) {
		jw_null(w);
		return;
	}
	jw_strn(w, s, strlen(s));
}

void
jw_strn(struct jw *w, const char *s, size_t n)
{
	before(w);
	wstring(w, s, n);
}

void
jw_int(struct jw *w, int64_t v)
{
	before(w);
	buf_printf(w->b, "%" PRId64, v);
}

/* The significant digits of "%e" output e ("-d.ddde-XX", whatever the
 * locale's radix character) into dig; their count, with the decimal
 * exponent in *x. */
static int
sigdigits(const char *e, char *dig, int *x)
{
	int nd = 0;

	for (; *e && *e != 'e'; e++)
		if (isdig(*e))
			dig[nd++] = *e;
	*x = *e ? atoi(e + 1) : 0;
	return nd;
}

/* 1 if the decimal dig[0..nd) x 10^(x-nd+1), with sign, reads back as v.
 * No radix character is written, so the locale does not matter. */
static int
readsback(double v, const char *dig, int nd, int x)
{
	char s[48];

	snprintf(s, sizeof(s), "%s%.*se%d", signbit(v) ? "-" : "", nd, dig,
	    x - (nd - 1));
	return strtod(s, NULL) == v;
}

/* Python's float repr: the fewest significant digits that read back as
 * the same double, then fixed notation when the decimal exponent x is in
 * -4 <= x < 16 ("0.0001", "1e-05", "1000000000000000.0", "1e+16"), else
 * d.ddde+XX with at least two exponent digits; integral values keep
 * ".0".  "%.*e" is correctly rounded, so trying 1..17 digits finds the
 * shortest, with one exception: at a power of two the gap to the next
 * double below is half the gap above, and the nearest p-digit decimal
 * can fall outside below while the one a unit higher still reads back
 * (2^-24 is 5.960464477539063e-08, not ...0625e-08).  So when the
 * nearest fails, the next one up is tried too (elsewhere it cannot
 * succeed).  JSON has no NaN or infinity: jw_double writes them as
 * null, where Python would print the invalid NaN / Infinity. */
static void
fmtdouble(char *out, size_t sz, double v)
{
	char e[48], dig[24], *o = out;
	int prec, nd, x, i;

	for (prec = 0; ; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec, v);
		nd = sigdigits(e, dig, &x);
		if (prec >= 16 || strtod(e, NULL) == v)
			break;
		for (i = nd - 1; i >= 0 && dig[i] == '9'; i--)
			dig[i] = '0';
		if (i >= 0) {
			dig[i]++;
		} else {                /* 9.99 -> 10.0: one more decade */
			dig[0] = '1';
			x++;
		}
		if (readsback(v, dig, nd, x))
			break;
	}
	while (nd > 1 && dig[nd - 1] == '0')
		nd--;
	if (signbit(v))
		*o++ = '-';
	if (x < -4 || x >= 16) {
		*o++ = dig[0];
		if (nd > 1) {
			*o++ = '.';
			memcpy(o, dig + 1, nd - 1);
			o += nd - 1;
		}
		snprintf(o, sz - (o - out), "e%c%02d", x < 0 ? '-' : '+',
		    x < 0 ? -x : x);
		return;
	}
	if (x < 0) {                    /* 0.000ddd */
		*o++ = '0';
		*o++ = '.';
		for (i = -1; i > x; i--)
			*o++ = '0';
		memcpy(o, dig, nd);
		o += nd;
	} else if (x + 1 < nd) {        /* ddd.ddd */
		memcpy(o, dig, x + 1);
		o += x + 1;
		*o++ = '.';
		memcpy(o, dig + x + 1, nd - x - 1);
		o += nd - x - 1;
	} else {                        /* ddd000.0 */
		memcpy(o, dig, nd);
		o += nd;
		for (i = nd; i < x + 1; i++)
			*o++ = '0';
		*o++ = '.';
		*o++ = '0';
	}
	*o = '\0';
}

void
jw_double(struct jw *w, double v)
{
	char s[48];

	before(w);
	if (isnan(v) || isinf(v)) {
		buf_puts(w->b, "null");
		return;
	}
	fmtdouble(s, sizeof(s), v);
	buf_puts(w->b, s);
}

static void
wnum(struct jw *w, const char *s, size_t n)
{
	size_t bad;

	before(w);
	if (n > 0 && scannum((const unsigned char *)s, n, 0, &bad) == n)
		buf_add(w->b, s, n);
	else
		buf_puts(w->b, "null");
}

/* text is checked against the number grammar; if it is not a JSON
 * number, null is written so the output stays valid. */
void
jw_num(struct jw *w, const char *text)
{
	wnum(w, text, strlen(text));
}

void
jw_bool(struct jw *w, int v)
{
	before(w);
	buf_puts(w->b, v ? "true" : "false");
}

void
jw_null(struct jw *w)
{
	before(w);
	buf_puts(w->b, "null");
}

/* Walk the subtree in token order with a stack of open containers (no
 * recursion); a container is closed once the walk passes its next.
 * The parser bounds nesting at JSON_MAXDEPTH, so the stack fits.  An
 * invalid t writes null. */
void
jw_tok(struct jw *w, const struct json *j, int t)
{
	const struct json_tok *tk = tok(j, t);
	int stack[JSON_MAXDEPTH], members[JSON_MAXDEPTH];
	int sp = 0, i, end;

	if (!tk) {
		jw_null(w);
		return;
	}
	end = tk->next;
	for (i = t; i < end; i++) {
		tk = &j->tok[i];
		while (sp > 0 && j->tok[stack[sp - 1]].next <= i) {
			sp--;
			wclose(w, j->tok[stack[sp]].type == JSON_OBJECT ?
			    '}' : ']');
		}
		if (sp > 0 && j->tok[stack[sp - 1]].type == JSON_OBJECT &&
		    members[sp - 1]++ % 2 == 0) {
			before(w);
			wtokstr(w, j, tk);
			colon(w);
			continue;
		}
		switch (tk->type) {
		case JSON_NULL:   jw_null(w); break;
		case JSON_FALSE:  jw_bool(w, 0); break;
		case JSON_TRUE:   jw_bool(w, 1); break;
		case JSON_NUMBER: wnum(w, j->src + tk->start, tk->len); break;
		case JSON_STRING: before(w); wtokstr(w, j, tk); break;
		case JSON_ARRAY:
		case JSON_OBJECT:
			wopen(w, tk->type == JSON_OBJECT ? '{' : '[');
			if (sp < JSON_MAXDEPTH) {
				stack[sp] = i;
				members[sp++] = 0;
			}
			break;
		}
	}
	while (sp > 0) {
		sp--;
		wclose(w, j->tok[stack[sp]].type == JSON_OBJECT ? '}' : ']');
	}
}

/* A member: the key, then its value. */
void
jw_kstr(struct jw *w, const char *k, const char *s)
{
	jw_key(w, k);
	jw_str(w, s);
}

void
jw_kint(struct jw *w, const char *k, int64_t v)
{
	jw_key(w, k);
	jw_int(w, v);
}

void
jw_kbool(struct jw *w, const char *k, int v)
{
	jw_key(w, k);
	jw_bool(w, v);
}

void
jw_kobj(struct jw *w, const char *k)
{
	jw_key(w, k);
	jw_obj(w);
}
