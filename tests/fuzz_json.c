/* fuzz_json.c - libFuzzer target for json.c.
 *
 *   clang -fsanitize=fuzzer,address,undefined -std=c99 \
 *       -D_POSIX_C_SOURCE=200809L tests/fuzz_json.c json.c util.c -lm
 *
 * For every input: the counting and filling passes agree; if valid, each
 * token is poked with the accessors, the tree is re-serialised with
 * jw_tok under several flag sets and parsed again, and the token
 * structure (types, sizes, links, decoded strings, number text) must be
 * identical; serialising the copy again must give the same bytes.
 * Separately the raw input is written as one string with jw_strn: the
 * output must always be valid JSON, and decode back to the input when
 * the input was valid UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../json.h"
#include "../util.h"

#define check(c) do { if (!(c)) abort(); } while (0)

static void
same_tree(const struct json *a, const struct json *b)
{
	struct buf s1 = {0}, s2 = {0};
	const struct json_tok *x, *y;
	int t;

	check(a->ntok == b->ntok);
	for (t = 0; t < a->ntok; t++) {
		x = &a->tok[t];
		y = &b->tok[t];
		check(x->type == y->type && x->size == y->size &&
		    x->next == y->next && x->parent == y->parent);
		if (x->type == JSON_NUMBER)
			check(x->len == y->len && memcmp(a->src + x->start,
			    b->src + y->start, x->len) == 0);
		if (x->type == JSON_STRING) {
			buf_reset(&s1);
			buf_reset(&s2);
			check(json_str(a, t, &s1) == 0);
			check(json_str(b, t, &s2) == 0);
			check(s1.len == s2.len &&
			    (s1.len == 0 || memcmp(s1.p, s2.p, s1.len) == 0));
		}
	}
	buf_free(&s1);
	buf_free(&s2);
}

static void
poke(const struct json *j)
{
	int64_t i;
	double d;
	char *s;
	int t, c, n;

	for (t = 0; t < j->ntok; t++) {
		json_int64(j, t, &i);
		json_double(j, t, &d);
		json_bool(j, t);
		if ((s = json_strdup(j, t)) != NULL) {
			check(json_streq(j, t, s));
			json_get(j, 0, s);
			free(s);
		}
		/* iteration visits exactly size children */
		n = 0;
		for (c = json_first(j, t); c >= 0; c = json_after(j, c))
			n++;
		if (j->tok[t].type == JSON_ARRAY ||
		    j->tok[t].type == JSON_OBJECT)
			check(n == j->tok[t].size);
		if (j->tok[t].type == JSON_ARRAY && j->tok[t].size > 0)
			check(json_index(j, t, j->tok[t].size - 1) >= 0);
	}
}

static void
roundtrip(const struct json *j, int flags)
{
	struct buf b = {0}, b2 = {0};
	struct json k, k2;
	struct jw w;

	jw_init(&w, &b, flags);
	jw_tok(&w, j, 0);
	check(w.depth == 0);
	check(json_parse_alloc(&k, b.p, b.len) == 0);
	same_tree(j, &k);
	jw_init(&w, &b2, flags);
	jw_tok(&w, &k, 0);
	check(b.len == b2.len && memcmp(b.p, b2.p, b.len) == 0);
	check(json_parse_alloc(&k2, b2.p, b2.len) == 0);
	json_free(&k2);
	json_free(&k);
	buf_free(&b);
	buf_free(&b2);
}

/* 1 if p[0..n) is entirely valid UTF-8, by json.c's own parser: the
 * bytes inside quotes, with '"', '\\' and controls made harmless. */
static int
valid_utf8(const uint8_t *p, size_t n)
{
	struct buf b = {0};
	struct json j;
	size_t i;
	int ok;

	buf_addc(&b, '"');
	for (i = 0; i < n; i++)
		buf_addc(&b, p[i] < 0x20 || p[i] == '"' || p[i] == '\\' ?
		    'a' : p[i]);
	buf_addc(&b, '"');
	ok = json_parse(&j, b.p, b.len, NULL, 0) == 1;
	buf_free(&b);
	return ok;
}

static void
strtrip(const uint8_t *p, size_t n, int flags)
{
	struct json_tok tok[1];
	struct buf b = {0}, d = {0};
	struct json j;
	struct jw w;

	jw_init(&w, &b, flags);
	jw_strn(&w, (const char *)p, n);
	check(json_parse(&j, b.p, b.len, tok, 1) == 1);
	check(json_str(&j, 0, &d) == 0);
	if (valid_utf8(p, n))
		check(d.len == n && (n == 0 || memcmp(d.p, p, n) == 0));
	buf_free(&b);
	buf_free(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int flagsets[] = {
		0, JW_ASCII, JW_SPACED | JW_ASCII, JW_PRETTY | JW_ASCII,
		JW_PRETTY
	};
	const char *s = (const char *)data;
	struct json j, jc;
	size_t i;
	int n;

	n = json_parse(&jc, s, size, NULL, 0);
	if (json_parse_alloc(&j, s, size) < 0) {
		check(n < 0 && j.err == jc.err && j.erroff == jc.erroff);
		check(j.erroff <= size);
		check(json_strerror(&j) != NULL);
	} else {
		check(n == j.ntok && n > 0);
		check(j.tok[0].next == j.ntok);
		/* one token short: JSON_ETOKENS, whatever else */
		check(json_parse(&jc, s, size, j.tok, n - 1) < 0 &&
		    jc.err == JSON_ETOKENS);
		check(json_parse(&jc, s, size, j.tok, n) == n);
		poke(&j);
		for (i = 0; i < sizeof(flagsets) / sizeof(flagsets[0]); i++)
			roundtrip(&j, flagsets[i]);
		json_free(&j);
	}
	strtrip(data, size, 0);
	strtrip(data, size, JW_ASCII);
	return 0;
}
