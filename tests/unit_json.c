/* unit_json.c - json.c through its interface: tokens, lookups, strings,
 * numbers, errors with offsets, limits, and the writer (escaping, Python
 * json.dumps compatibility, round trips through the parser).  Expected
 * Python strings were produced by CPython 3.11's json.dumps. */
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../json.h"
#include "../util.h"
#include "unit.h"

#define NTOK 4096
static struct json_tok toks[NTOK];

static int
parse(struct json *j, const char *s)
{
	return json_parse(j, s, strlen(s), toks, NTOK);
}

/* Copies of inputs are placed against an unreadable page, so reading
 * even one byte past the end faults (ASan or not). */
static char *guard;
static size_t pagesz;

static void
guard_init(void)
{
	int fd = open("/dev/zero", O_RDWR);

	pagesz = sysconf(_SC_PAGESIZE);
	guard = mmap(NULL, 2 * pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE,
	    fd, 0);
	close(fd);
	if (guard == MAP_FAILED || mprotect(guard + pagesz, pagesz,
	    PROT_NONE) != 0) {
		perror("unit_json: guard page");
		exit(1);
	}
}

static const char *
guarded(const char *s, size_t n)
{
	if (n > pagesz)
		return s;
	memcpy(guard + pagesz - n, s, n);
	return guard + pagesz - n;
}

/* Parse s[0..n) both ways (counting and filling) and check they agree. */
static int
parse2(struct json *j, const char *s, size_t n)
{
	struct json jc;
	int r, rc;

	s = guarded(s, n);
	rc = json_parse(&jc, s, n, NULL, 0);
	r = json_parse(j, s, n, toks, NTOK);
	T_INTEQ(rc, r);
	T_INTEQ(jc.err, j->err);
	T_INTEQ(jc.erroff, j->erroff);
	return r;
}

static void
test_tokens(void)
{
	const char *s = "{\"a\":[1,2,{\"b\":null}],\"c\":\"x\"}";
	struct json j;
	int c, n;

	T_INTEQ(parse(&j, s), 10);
	T_INTEQ(j.ntok, 10);
	T_INTEQ(j.err, JSON_OK);
	T_INTEQ(json_parse(&j, s, strlen(s), NULL, 0), 10);
	T_OK(j.tok == NULL);
	parse(&j, s);
	T_INTEQ(toks[0].type, JSON_OBJECT);
	T_INTEQ(toks[0].size, 2);
	T_INTEQ(toks[0].next, 10);
	T_INTEQ(toks[0].parent, -1);
	T_INTEQ(toks[0].start, 0);
	T_INTEQ(toks[0].len, strlen(s));
	T_INTEQ(toks[1].type, JSON_STRING);
	T_INTEQ(toks[1].start, 2);
	T_INTEQ(toks[1].len, 1);
	T_INTEQ(toks[1].parent, 0);
	T_INTEQ(toks[1].next, 2);
	T_INTEQ(toks[2].type, JSON_ARRAY);
	T_INTEQ(toks[2].size, 3);
	T_INTEQ(toks[2].start, 5);
	T_INTEQ(toks[2].len, 16);
	T_INTEQ(toks[2].next, 8);
	T_INTEQ(toks[2].parent, 0);
	T_INTEQ(toks[3].type, JSON_NUMBER);
	T_INTEQ(toks[3].start, 6);
	T_INTEQ(toks[3].len, 1);
	T_INTEQ(toks[3].parent, 2);
	T_INTEQ(toks[5].type, JSON_OBJECT);
	T_INTEQ(toks[5].size, 1);
	T_INTEQ(toks[5].next, 8);
	T_INTEQ(toks[5].parent, 2);
	T_INTEQ(toks[7].type, JSON_NULL);
	T_INTEQ(toks[7].parent, 5);
	T_INTEQ(toks[8].type, JSON_STRING);
	T_INTEQ(toks[8].parent, 0);
	T_INTEQ(toks[9].type, JSON_STRING);
	T_INTEQ(toks[9].start, 27);
	T_INTEQ(toks[9].esc, 0);

	/* iteration */
	n = 0;
	for (c = json_first(&j, 0); c >= 0; c = json_after(&j, c))
		T_OK(c == (n++ ? 8 : 1));
	T_INTEQ(n, 2);
	n = 0;
	for (c = json_first(&j, 2); c >= 0; c = json_after(&j, c))
		T_INTEQ(c, 3 + n++);
	T_INTEQ(n, 3);
	T_INTEQ(json_first(&j, 5), 6);
	T_INTEQ(json_after(&j, 6), -1);
	T_INTEQ(json_first(&j, 3), -1);
	T_INTEQ(json_after(&j, 0), -1);

	/* lookups */
	T_INTEQ(json_get(&j, 0, "a"), 2);
	T_INTEQ(json_get(&j, 0, "c"), 9);
	T_INTEQ(json_get(&j, 0, "b"), -1);
	T_INTEQ(json_get(&j, 0, ""), -1);
	T_INTEQ(json_get(&j, 5, "b"), 7);
	T_INTEQ(json_get(&j, 2, "b"), -1);
	T_INTEQ(json_index(&j, 2, 0), 3);
	T_INTEQ(json_index(&j, 2, 1), 4);
	T_INTEQ(json_index(&j, 2, 2), 5);
	T_INTEQ(json_index(&j, 2, 3), -1);
	T_INTEQ(json_index(&j, 2, -1), -1);
	T_INTEQ(json_index(&j, 0, 0), -1);
	T_INTEQ(json_path(&j, 0, "a", (char *)NULL), 2);
	T_INTEQ(json_path(&j, 0, (char *)NULL), 0);
	T_INTEQ(json_path(&j, 0, "c", "x", (char *)NULL), -1);
	T_INTEQ(json_path(&j, 0, "zz", "x", (char *)NULL), -1);
	T_INTEQ(json_path(&j, json_index(&j, 2, 2), "b", (char *)NULL), 7);

	/* bad indexes are -1, never a crash */
	T_INTEQ(json_get(&j, 10, "a"), -1);
	T_INTEQ(json_get(&j, -1, "a"), -1);
	T_INTEQ(json_first(&j, 99), -1);
	T_INTEQ(json_after(&j, 99), -1);
	T_INTEQ(json_after(&j, -5), -1);
	T_INTEQ(json_index(&j, 99, 0), -1);
	T_INTEQ(json_bool(&j, 99), -1);
	T_OK(json_strdup(&j, 99) == NULL);
	T_OK(json_strdup(&j, -1) == NULL);
	T_OK(!json_streq(&j, 99, "x"));

	/* empty containers; scalars at the top */
	T_INTEQ(parse(&j, " [ ] "), 1);
	T_INTEQ(toks[0].size, 0);
	T_INTEQ(toks[0].start, 1);
	T_INTEQ(toks[0].len, 3);
	T_INTEQ(json_first(&j, 0), -1);
	T_INTEQ(parse(&j, "{ }"), 1);
	T_INTEQ(json_first(&j, 0), -1);
	T_INTEQ(json_get(&j, 0, "a"), -1);
	T_INTEQ(parse(&j, " -1.5e3 "), 1);
	T_INTEQ(toks[0].start, 1);
	T_INTEQ(toks[0].len, 6);
	T_INTEQ(toks[0].parent, -1);
	T_INTEQ(parse(&j, "[[],[[]],{}]"), 5);
	T_INTEQ(toks[0].size, 3);
	T_INTEQ(toks[2].size, 1);
	T_INTEQ(toks[2].next, 4);
	T_INTEQ(toks[3].parent, 2);
	T_INTEQ(json_index(&j, 0, 2), 4);
}

static void
test_dupes(void)
{
	struct json j;
	int64_t v = 0;
	char *s;

	parse(&j, "{\"a\":1,\"a\":2,\"b\":3,\"a\":4}");
	T_INTEQ(j.ntok, 9);
	T_INTEQ(toks[0].size, 4);
	T_OK(json_int64(&j, json_get(&j, 0, "a"), &v) == 0 && v == 4);
	T_OK(json_int64(&j, json_get(&j, 0, "b"), &v) == 0 && v == 3);
	/* keys compare after unescaping, and the last still wins */
	parse(&j, "{\"ab\":1,\"a\\u0062\":2,\"c\":{}}");
	T_OK(json_int64(&j, json_get(&j, 0, "ab"), &v) == 0 && v == 2);
	T_INTEQ(json_get(&j, 0, "a\\u0062"), -1);
	T_INTEQ(json_get(&j, 0, "a"), -1);
	T_INTEQ(json_get(&j, 0, "abc"), -1);
	parse(&j, "{\"\\u00e9\\uD834\\uDD1E\":5,\"a\\u0000b\":6}");
	T_OK(json_int64(&j, json_get(&j, 0, "\xc3\xa9\xf0\x9d\x84\x9e"), &v)
	    == 0 && v == 5);
	T_INTEQ(json_get(&j, 0, "\xc3\xa9"), -1);
	T_INTEQ(json_get(&j, 0, "a"), -1);      /* "a\0b" is not "a" */
	T_INTEQ(json_get(&j, 0, "ab"), -1);
	parse(&j, "{\"\":7}");
	T_INTEQ(json_get(&j, 0, ""), 2);
	/* a value that is an object does not leak its members up */
	parse(&j, "{\"x\":{\"k\":1},\"k\":2}");
	T_OK(json_int64(&j, json_get(&j, 0, "k"), &v) == 0 && v == 2);
	T_OK(json_int64(&j, json_path(&j, 0, "x", "k", (char *)NULL), &v)
	    == 0 && v == 1);
	/* json_getstr */
	parse(&j, "{\"s\":\"v\\n\",\"n\":null,\"i\":1,\"z\":\"a\\u0000\"}");
	s = json_getstr(&j, 0, "s");
	T_STREQ(s, "v\n");
	free(s);
	T_OK(json_getstr(&j, 0, "n") == NULL);
	T_OK(json_getstr(&j, 0, "i") == NULL);
	T_OK(json_getstr(&j, 0, "missing") == NULL);
	T_OK(json_getstr(&j, 0, "z") == NULL);
	T_OK(json_getstr(&j, 1, "s") == NULL);
}

static void
test_strings(void)
{
	static const char want[] = "a\"\\/\b\f\n\r\tA\xc3\xa9\xe2\x82\xac"
	    "\xf0\x9d\x84\x9e\0z\xf4\x8f\xbf\xbf";
	struct json j;
	struct buf b = {0};
	char *s;

	parse(&j, "[\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00E9\\u20ac"
	    "\\uD834\\uDD1E\\u0000z\\udbff\\udfff\",\"plain\xc3\xa9\","
	    "\"\",3,true,false,null]");
	T_INTEQ(j.ntok, 8);
	T_INTEQ(toks[1].esc, 1);
	T_INTEQ(toks[2].esc, 0);
	buf_puts(&b, ">");
	T_INTEQ(json_str(&j, 1, &b), 0);
	T_INTEQ(b.len, 1 + sizeof(want) - 1);
	T_OK(b.len == sizeof(want) && memcmp(b.p + 1, want,
	    sizeof(want) - 1) == 0);
	T_OK(json_strdup(&j, 1) == NULL);       /* contains U+0000 */
	s = json_strdup(&j, 2);
	T_STREQ(s, "plain\xc3\xa9");
	free(s);
	s = json_strdup(&j, 3);
	T_STREQ(s, "");
	free(s);
	T_OK(json_strdup(&j, 4) == NULL);
	T_INTEQ(json_str(&j, 4, &b), -1);
	T_INTEQ(json_str(&j, 0, &b), -1);
	T_OK(json_streq(&j, 2, "plain\xc3\xa9"));
	T_OK(!json_streq(&j, 2, "plain"));
	T_OK(!json_streq(&j, 2, "plain\xc3\xa9!"));
	T_OK(json_streq(&j, 3, ""));
	T_OK(!json_streq(&j, 4, "3"));
	T_OK(!json_streq(&j, 1, "a"));
	T_INTEQ(json_bool(&j, 5), 1);
	T_INTEQ(json_bool(&j, 6), 0);
	T_INTEQ(json_bool(&j, 7), -1);
	T_INTEQ(json_bool(&j, 2), -1);
	/* escapes make the decoded form compare, not the raw one */
	parse(&j, "\"\\u0068i\\/\"");
	T_OK(json_streq(&j, 0, "hi/"));
	T_OK(!json_streq(&j, 0, "hi"));
	T_OK(!json_streq(&j, 0, "\\u0068i\\/"));
	buf_free(&b);
}

static void
test_numbers(void)
{
	static const struct {
		const char *in;
		int ok;
		int64_t v;
	} ints[] = {
		{ "0", 0, 0 },
		{ "-0", 0, 0 },
		{ "42", 0, 42 },
		{ "-42", 0, -42 },
		{ "9223372036854775807", 0, INT64_MAX },
		{ "-9223372036854775808", 0, INT64_MIN },
		{ "9223372036854775808", -1, 0 },
		{ "-9223372036854775809", -1, 0 },
		{ "18446744073709551616", -1, 0 },
		{ "99999999999999999999999", -1, 0 },
		{ "1.0", -1, 0 },
		{ "1e2", -1, 0 },
		{ "1E2", -1, 0 },
		{ "-0.0", -1, 0 },
	};
	static const struct {
		const char *in;
		int ok;
		double v;
	} dbls[] = {
		{ "0", 0, 0.0 },
		{ "-0.0", 0, -0.0 },
		{ "2.5", 0, 2.5 },
		{ "0.1", 0, 0.1 },
		{ "-1.5E-3", 0, -1.5e-3 },
		{ "1e+2", 0, 100.0 },
		{ "123456789", 0, 123456789.0 },
		{ "1.7976931348623157e308", 0, 1.7976931348623157e308 },
		{ "5e-324", 0, 5e-324 },
		{ "1e-400", 0, 0.0 },           /* underflow: nearest double */
		{ "1e309", -1, 0 },
		{ "-1e309", -1, 0 },
		{ "123123e100000", -1, 0 },
		{ "9223372036854775808", 0, 9223372036854775808.0 },
	};
	struct json j;
	size_t i;
	int64_t v;
	double d;
	char long_num[400];

	for (i = 0; i < LEN(ints); i++) {
		v = 12345;
		T_INTEQ(parse(&j, ints[i].in), 1);
		T_INTEQ(json_int64(&j, 0, &v), ints[i].ok);
		if (ints[i].ok == 0 && v != ints[i].v)
			fprintf(stderr, "int64 %s -> %" PRId64 "\n",
			    ints[i].in, v);
		T_OK(ints[i].ok || v == ints[i].v);
	}
	for (i = 0; i < LEN(dbls); i++) {
		d = 12345;
		T_INTEQ(parse(&j, dbls[i].in), 1);
		T_INTEQ(json_double(&j, 0, &d), dbls[i].ok);
		T_OK(dbls[i].ok || (d == dbls[i].v &&
		    signbit(d) == signbit(dbls[i].v)));
	}
	/* a long number needs the heap copy in json_double */
	memset(long_num, '0', sizeof(long_num));
	memcpy(long_num, "0.", 2);
	long_num[300] = '5';
	long_num[301] = '\0';
	T_INTEQ(parse(&j, long_num), 1);
	T_INTEQ(json_double(&j, 0, &d), 0);
	T_OK(d == 5e-299);
	T_INTEQ(json_int64(&j, 0, &v), -1);
	/* not numbers */
	parse(&j, "[\"1\",true]");
	T_INTEQ(json_int64(&j, 1, &v), -1);
	T_INTEQ(json_double(&j, 2, &d), -1);
	T_INTEQ(json_int64(&j, 0, &v), -1);
	/* inside a document the number ends at the delimiter */
	parse(&j, "[7,-8]");
	T_OK(json_int64(&j, 1, &v) == 0 && v == 7);
	T_OK(json_int64(&j, 2, &v) == 0 && v == -8);
	T_OK(json_double(&j, 2, &d) == 0 && d == -8.0);
}

static const struct {
	const char *in;
	int len;                /* -1: strlen */
	enum json_err err;
	size_t off;
} bad[] = {
	{ "", -1, JSON_EEOF, 0 },
	{ "   ", -1, JSON_EEOF, 3 },
	{ "[", -1, JSON_EEOF, 1 },
	{ "[1", -1, JSON_EEOF, 2 },
	{ "[1,", -1, JSON_EEOF, 3 },
	{ "{", -1, JSON_EEOF, 1 },
	{ "{\"a\"", -1, JSON_EEOF, 4 },
	{ "{\"a\":", -1, JSON_EEOF, 5 },
	{ "{\"a\":1", -1, JSON_EEOF, 6 },
	{ "\"abc", -1, JSON_EEOF, 4 },
	{ "tru", -1, JSON_EEOF, 3 },
	{ "[nul", -1, JSON_EEOF, 4 },
	{ "\"\\", -1, JSON_EEOF, 2 },
	{ "\"\\u12", -1, JSON_EEOF, 5 },
	{ "\"\\uD834", -1, JSON_EEOF, 7 },
	{ "\"\\uD834\\", -1, JSON_EEOF, 8 },
	{ "\"\\uD834\\uDD", -1, JSON_EEOF, 11 },
	{ "[1,]", -1, JSON_ESYNTAX, 3 },
	{ "[,1]", -1, JSON_ESYNTAX, 1 },
	{ "[,]", -1, JSON_ESYNTAX, 1 },
	{ "{,}", -1, JSON_ESYNTAX, 1 },
	{ "{\"a\":1,}", -1, JSON_ESYNTAX, 7 },
	{ "{\"a\" 1}", -1, JSON_ESYNTAX, 5 },
	{ "{\"a\"::1}", -1, JSON_ESYNTAX, 5 },
	{ "{\"a\":1:2}", -1, JSON_ESYNTAX, 6 },
	{ "{1:1}", -1, JSON_ESYNTAX, 1 },
	{ "{a:1}", -1, JSON_ESYNTAX, 1 },
	{ "['a']", -1, JSON_ESYNTAX, 1 },
	{ "[1 2]", -1, JSON_ESYNTAX, 3 },
	{ "[1}", -1, JSON_ESYNTAX, 2 },
	{ "{\"a\":1]", -1, JSON_ESYNTAX, 6 },
	{ "]", -1, JSON_ESYNTAX, 0 },
	{ "}", -1, JSON_ESYNTAX, 0 },
	{ "nul!", -1, JSON_ESYNTAX, 3 },
	{ "True", -1, JSON_ESYNTAX, 0 },
	{ "NaN", -1, JSON_ESYNTAX, 0 },
	{ "[Infinity]", -1, JSON_ESYNTAX, 1 },
	{ ".5", -1, JSON_ESYNTAX, 0 },
	{ "+1", -1, JSON_ESYNTAX, 0 },
	{ "[1true]", -1, JSON_ESYNTAX, 2 },
	{ "\xef\xbb\xbf{}", -1, JSON_ESYNTAX, 0 },      /* BOM */
	{ "\xc3\xa9", -1, JSON_ESYNTAX, 0 },
	{ "[\v1]", -1, JSON_ESYNTAX, 1 },
	{ "[\f1]", -1, JSON_ESYNTAX, 1 },
	{ "[\0]", 3, JSON_ESYNTAX, 1 },
	{ "/* */ 1", -1, JSON_ESYNTAX, 0 },
	{ "[1]x", -1, JSON_ETRAILING, 3 },
	{ "1 2", -1, JSON_ETRAILING, 2 },
	{ "{} {}", -1, JSON_ETRAILING, 3 },
	{ "[]]", -1, JSON_ETRAILING, 2 },
	{ "truefalse", -1, JSON_ETRAILING, 4 },
	{ "0x10", -1, JSON_ETRAILING, 1 },
	{ "[1]\0", 4, JSON_ETRAILING, 3 },
	{ "01", -1, JSON_ENUMBER, 1 },
	{ "-01", -1, JSON_ENUMBER, 2 },
	{ "[00]", -1, JSON_ENUMBER, 2 },
	{ "-", -1, JSON_ENUMBER, 1 },
	{ "[-]", -1, JSON_ENUMBER, 2 },
	{ "-a", -1, JSON_ENUMBER, 1 },
	{ "- 1", -1, JSON_ENUMBER, 1 },
	{ "1.", -1, JSON_ENUMBER, 2 },
	{ "1.e3", -1, JSON_ENUMBER, 2 },
	{ "1e", -1, JSON_ENUMBER, 2 },
	{ "1e+", -1, JSON_ENUMBER, 3 },
	{ "1E-x", -1, JSON_ENUMBER, 3 },
	{ "1.2.3", -1, JSON_ENUMBER, 3 },
	{ "[1e5e]", -1, JSON_ENUMBER, 4 },
	{ "1+2", -1, JSON_ENUMBER, 1 },
	{ "-Infinity", -1, JSON_ENUMBER, 1 },
	{ "[\"a\x01\"]", -1, JSON_ECTRL, 3 },
	{ "\"\t\"", -1, JSON_ECTRL, 1 },
	{ "\"\n\"", -1, JSON_ECTRL, 1 },
	{ "\"a\0\"", 4, JSON_ECTRL, 2 },
	{ "\"\x1f\"", -1, JSON_ECTRL, 1 },
	{ "\"\\x\"", -1, JSON_EESCAPE, 1 },
	{ "\"\\U0041\"", -1, JSON_EESCAPE, 1 },
	{ "\"\\'\"", -1, JSON_EESCAPE, 1 },
	{ "\"ab\\u12G4\"", -1, JSON_EESCAPE, 3 },
	{ "\"\\u-123\"", -1, JSON_EESCAPE, 1 },
	/* lone surrogates are rejected (see json.c) */
	{ "\"\\uD800\"", -1, JSON_EESCAPE, 1 },
	{ "\"\\uDBFF\"", -1, JSON_EESCAPE, 1 },
	{ "\"\\uDC00\"", -1, JSON_EESCAPE, 1 },
	{ "\"x\\uDFFF\"", -1, JSON_EESCAPE, 2 },
	{ "\"\\uD800\\u0041\"", -1, JSON_EESCAPE, 1 },
	{ "\"\\uD800\\uD800\"", -1, JSON_EESCAPE, 1 },
	{ "\"\\uD800\\n\"", -1, JSON_EESCAPE, 1 },
	{ "\"\\uD800x\"", -1, JSON_EESCAPE, 1 },
	{ "\"\\uDD1E\\uD834\"", -1, JSON_EESCAPE, 1 },
	{ "{\"\\uDFAA\":0}", -1, JSON_EESCAPE, 2 },
	/* UTF-8 */
	{ "\"\x80\"", -1, JSON_EUTF8, 1 },
	{ "\"\xbf\"", -1, JSON_EUTF8, 1 },
	{ "\"\xc0\xaf\"", -1, JSON_EUTF8, 1 },          /* overlong '/' */
	{ "\"\xc1\xbf\"", -1, JSON_EUTF8, 1 },
	{ "\"\xe0\x80\xaf\"", -1, JSON_EUTF8, 1 },
	{ "\"\xe0\x9f\xbf\"", -1, JSON_EUTF8, 1 },
	{ "\"\xf0\x80\x80\xaf\"", -1, JSON_EUTF8, 1 },
	{ "\"\xf0\x8f\xbf\xbf\"", -1, JSON_EUTF8, 1 },
	{ "\"\xfc\x80\x80\x80\x80\xaf\"", -1, JSON_EUTF8, 1 },
	{ "\"\xed\xa0\x80\"", -1, JSON_EUTF8, 1 },      /* U+D800 */
	{ "\"\xed\xbf\xbf\"", -1, JSON_EUTF8, 1 },      /* U+DFFF */
	{ "\"\xf4\x90\x80\x80\"", -1, JSON_EUTF8, 1 },  /* U+110000 */
	{ "\"\xf5\x80\x80\x80\"", -1, JSON_EUTF8, 1 },
	{ "\"\xff\"", -1, JSON_EUTF8, 1 },
	{ "\"\xfe\"", -1, JSON_EUTF8, 1 },
	{ "\"\xe2\x82\"", -1, JSON_EUTF8, 1 },          /* truncated */
	{ "\"\xe2\x82", -1, JSON_EUTF8, 1 },
	{ "\"ab\xf0\x9f\x98\"", -1, JSON_EUTF8, 3 },
	{ "\"\xc3\"", -1, JSON_EUTF8, 1 },
	{ "\"\xc3\xc3\xa9\"", -1, JSON_EUTF8, 1 },
	{ "\"\xe9\"", -1, JSON_EUTF8, 1 },              /* Latin-1 */
	{ "{\"key\": \"abc\xff\"}", -1, JSON_EUTF8, 12 },
};

static void
test_errors(void)
{
	struct json j;
	size_t i, n;
	char *deep;

	for (i = 0; i < LEN(bad); i++) {
		n = bad[i].len < 0 ? strlen(bad[i].in) : (size_t)bad[i].len;
		T_INTEQ(parse2(&j, bad[i].in, n), -1);
		if (j.err != bad[i].err || j.erroff != bad[i].off)
			fprintf(stderr, "FAIL case %zu: got %s\n", i,
			    json_strerror(&j));
		T_INTEQ(j.err, bad[i].err);
		T_INTEQ(j.erroff, bad[i].off);
		T_INTEQ(j.ntok, 0);
	}

	parse(&j, "{\"key\": \"abc\xff\"}");
	T_STREQ(json_strerror(&j), "JSON: invalid UTF-8 at byte 12");
	parse(&j, "[1,]");
	T_STREQ(json_strerror(&j), "JSON: unexpected character at byte 3");
	parse(&j, "[1");
	T_STREQ(json_strerror(&j), "JSON: unexpected end of input at byte 2");
	parse(&j, "[1] 2");
	T_STREQ(json_strerror(&j), "JSON: trailing data at byte 4");
	parse(&j, "[01]");
	T_STREQ(json_strerror(&j), "JSON: invalid number at byte 2");
	parse(&j, "\"\\q\"");
	T_STREQ(json_strerror(&j), "JSON: invalid escape at byte 1");
	parse(&j, "\"\t\"");
	T_STREQ(json_strerror(&j),
	    "JSON: control character in string at byte 1");
	parse(&j, "[]");
	T_STREQ(json_strerror(&j), "JSON: no error");

	/* depth: JSON_MAXDEPTH levels parse, one more is JSON_EDEPTH at
	 * the bracket that goes too deep, also when it is never closed */
	deep = malloc(2 * 100000);
	memset(deep, '[', JSON_MAXDEPTH + 1);
	memset(deep + JSON_MAXDEPTH, ']', JSON_MAXDEPTH);
	T_INTEQ(parse2(&j, deep, 2 * JSON_MAXDEPTH), JSON_MAXDEPTH);
	T_INTEQ(toks[JSON_MAXDEPTH - 1].parent, JSON_MAXDEPTH - 2);
	T_INTEQ(toks[0].next, JSON_MAXDEPTH);
	memset(deep, '[', JSON_MAXDEPTH + 1);
	memset(deep + JSON_MAXDEPTH + 1, ']', JSON_MAXDEPTH + 1);
	T_INTEQ(parse2(&j, deep, 2 * JSON_MAXDEPTH + 2), -1);
	T_INTEQ(j.err, JSON_EDEPTH);
	T_INTEQ(j.erroff, JSON_MAXDEPTH);
	T_STREQ(json_strerror(&j), "JSON: nesting too deep at byte 512");
	memset(deep, '[', 100000);
	T_INTEQ(json_parse(&j, deep, 100000, NULL, 0), -1);
	T_INTEQ(j.err, JSON_EDEPTH);
	for (i = 0, n = 0; i < JSON_MAXDEPTH; i++) {
		memcpy(deep + n, "{\"a\":", 5);
		n += 5;
	}
	deep[n++] = '1';
	memset(deep + n, '}', JSON_MAXDEPTH);
	n += JSON_MAXDEPTH;
	T_INTEQ(parse2(&j, deep, n), 2 * JSON_MAXDEPTH + 1);
	memmove(deep + 5, deep, n);
	memcpy(deep, "{\"a\":", 5);
	deep[n + 5] = '}';
	T_INTEQ(parse2(&j, deep, n + 6), -1);
	T_INTEQ(j.err, JSON_EDEPTH);
	T_INTEQ(j.erroff, 5 * JSON_MAXDEPTH);
	free(deep);

	/* token capacity */
	T_INTEQ(json_parse(&j, "[1,2,3]", 7, toks, 3), -1);
	T_INTEQ(j.err, JSON_ETOKENS);
	T_INTEQ(j.erroff, 5);
	T_INTEQ(json_parse(&j, "[1,2,3]", 7, toks, 4), 4);
	T_INTEQ(json_parse(&j, "{\"ab\":1}", 9, toks, 1), -1);
	T_INTEQ(j.err, JSON_ETOKENS);
	T_INTEQ(j.erroff, 1);           /* the key's opening quote */
	T_STREQ(json_strerror(&j), "JSON: too many tokens at byte 1");
	T_INTEQ(json_parse(&j, "1", 1, toks, 0), -1);
	T_INTEQ(j.err, JSON_ETOKENS);
	T_INTEQ(json_parse(&j, NULL, 0, NULL, 0), -1);
	T_INTEQ(j.err, JSON_EEOF);
}

static const char *const good[] = {
	"0", "-0", "-0.0e-0", "1E+2", "1e-2", "0.5", "-123.456e789",
	"123456789012345678901234567890", "1e999", "[]", "{}", "[[]]",
	"\"\"", "{\"\":\"\"}", "[1,2,3]", "null", "true", "false",
	" \t\r\n1 \t\r\n", "\"\\u0000\"", "\"\\/\"", "\"\\uD834\\uDD1E\"",
	"\"\\udbff\\udfff\"", "\"\xf4\x8f\xbf\xbf\"", "\"\xef\xbf\xbf\"",
	"\"\xef\xbb\xbf\"", "\"\x7f\"", "\"\xed\x9f\xbf\xee\x80\x80\"",
	"\"\xf0\x90\x80\x80\"", "\"\xc2\x80\xdf\xbf\xe0\xa0\x80\"",
	"{\"a\":[1,{\"b\":[true,false,null]}],\"c\":{}}",
	"[-1,0.0,1e+5,2E-3,\"x\",{\"y\":[[\"z\"]]}]",
	"{\"a\":1,\"a\":1}",
};

/* No proper prefix of a document that ends in a bracket or quote is
 * valid; prefixes never read out of bounds and report an offset
 * inside the input. */
static void
test_prefixes(void)
{
	struct json j;
	size_t i, k, n;

	for (i = 0; i < LEN(good); i++) {
		n = strlen(good[i]);
		T_OK(parse2(&j, good[i], n) > 0);
		if (j.err)
			fprintf(stderr, "FAIL good[%zu]: %s\n", i,
			    json_strerror(&j));
		for (k = 0; k < n; k++) {
			int r = parse2(&j, good[i], k);

			T_OK(r < 0 ? j.erroff <= k : j.erroff == 0);
			if (strchr("]}\"", good[i][n - 1]))
				T_INTEQ(r, -1);
		}
	}
}

static void
test_alloc(void)
{
	struct json j;
	const char *s = "{\"a\":[1,2,3],\"b\":\"x\"}";

	T_INTEQ(json_parse_alloc(&j, s, strlen(s)), 0);
	T_INTEQ(j.ntok, 8);
	T_INTEQ(j.owned, 1);
	T_OK(j.tok != NULL);
	T_INTEQ(json_index(&j, json_get(&j, 0, "a"), 2), 5);
	T_OK(json_streq(&j, json_get(&j, 0, "b"), "x"));
	json_free(&j);
	T_OK(j.tok == NULL);
	T_INTEQ(json_get(&j, 0, "a"), -1);
	json_free(&j);          /* twice is harmless */
	T_INTEQ(json_parse_alloc(&j, "[1,", 3), -1);
	T_INTEQ(j.err, JSON_EEOF);
	T_OK(j.tok == NULL);
	json_free(&j);
}

/* --- writer --- */

static const char *
wr(struct buf *b)
{
	return b->p ? b->p : "";
}

/* The composite document the Python strings below were made from:
 * obj = {"name": "caf\u00e9 \U0001F600", "n": 1, "f": 2.5, "neg": -0.0,
 *   "big": 1e20, "small": 1e-7, "list": [1, "two", None, True, False,
 *   [], {}, -9223372036854775808], "nested": {"a": {"b": [0.1, 100.0,
 *   1e16, 1e15, 0.0001, 1e-05, 123.456]}}, "esc": "q\"b\\s/\b\f\n\r\t"
 *   "\x01\x1f\x7f\u2028\uffff", "": {"x": []}} */
static void
composite(struct buf *b, int flags)
{
	struct jw w;

	buf_reset(b);
	jw_init(&w, b, flags);
	jw_obj(&w);
	jw_key(&w, "name");
	jw_str(&w, "caf\xc3\xa9 \xf0\x9f\x98\x80");
	jw_key(&w, "n");
	jw_int(&w, 1);
	jw_key(&w, "f");
	jw_double(&w, 2.5);
	jw_key(&w, "neg");
	jw_double(&w, -0.0);
	jw_key(&w, "big");
	jw_double(&w, 1e20);
	jw_key(&w, "small");
	jw_double(&w, 1e-7);
	jw_key(&w, "list");
	jw_arr(&w);
	jw_int(&w, 1);
	jw_str(&w, "two");
	jw_null(&w);
	jw_bool(&w, 1);
	jw_bool(&w, 0);
	jw_arr(&w);
	jw_arr_end(&w);
	jw_obj(&w);
	jw_obj_end(&w);
	jw_int(&w, INT64_MIN);
	jw_arr_end(&w);
	jw_key(&w, "nested");
	jw_obj(&w);
	jw_key(&w, "a");
	jw_obj(&w);
	jw_key(&w, "b");
	jw_arr(&w);
	jw_double(&w, 0.1);
	jw_double(&w, 100.0);
	jw_double(&w, 1e16);
	jw_double(&w, 1e15);
	jw_double(&w, 0.0001);
	jw_double(&w, 1e-05);
	jw_num(&w, "123.456");
	jw_arr_end(&w);
	jw_obj_end(&w);
	jw_obj_end(&w);
	jw_key(&w, "esc");
	jw_str(&w, "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f\xe2\x80\xa8\xef\xbf\xbf");
	jw_key(&w, "");
	jw_obj(&w);
	jw_key(&w, "x");
	jw_arr(&w);
	jw_arr_end(&w);
	jw_obj_end(&w);
	jw_obj_end(&w);
}

/* json.dumps(obj) */
static const char py_spaced_ascii[] =
    "{\"name\": \"caf\\u00e9 \\ud83d\\ude00\", \"n\": 1, \"f\": 2.5, "
    "\"neg\": -0.0, \"big\": 1e+20, \"small\": 1e-07, \"list\": [1, "
    "\"two\", null, true, false, [], {}, -9223372036854775808], "
    "\"nested\": {\"a\": {\"b\": [0.1, 100.0, 1e+16, 1000000000000000.0, "
    "0.0001, 1e-05, 123.456]}}, \"esc\": \"q\\\"b\\\\s/\\b\\f\\n\\r\\t"
    "\\u0001\\u001f\\u007f\\u2028\\uffff\", \"\": {\"x\": []}}";
/* json.dumps(obj, indent=2) */
static const char py_pretty_ascii[] =
    "{\n"
    "  \"name\": \"caf\\u00e9 \\ud83d\\ude00\",\n"
    "  \"n\": 1,\n"
    "  \"f\": 2.5,\n"
    "  \"neg\": -0.0,\n"
    "  \"big\": 1e+20,\n"
    "  \"small\": 1e-07,\n"
    "  \"list\": [\n"
    "    1,\n"
    "    \"two\",\n"
    "    null,\n"
    "    true,\n"
    "    false,\n"
    "    [],\n"
    "    {},\n"
    "    -9223372036854775808\n"
    "  ],\n"
    "  \"nested\": {\n"
    "    \"a\": {\n"
    "      \"b\": [\n"
    "        0.1,\n"
    "        100.0,\n"
    "        1e+16,\n"
    "        1000000000000000.0,\n"
    "        0.0001,\n"
    "        1e-05,\n"
    "        123.456\n"
    "      ]\n"
    "    }\n"
    "  },\n"
    "  \"esc\": \"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\\u2028"
    "\\uffff\",\n"
    "  \"\": {\n"
    "    \"x\": []\n"
    "  }\n"
    "}";
/* json.dumps(obj, ensure_ascii=False, separators=(',', ':')) */
static const char py_compact_utf8[] =
    "{\"name\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\",\"n\":1,\"f\":2.5,"
    "\"neg\":-0.0,\"big\":1e+20,\"small\":1e-07,\"list\":[1,\"two\",null,"
    "true,false,[],{},-9223372036854775808],\"nested\":{\"a\":{\"b\":"
    "[0.1,100.0,1e+16,1000000000000000.0,0.0001,1e-05,123.456]}},"
    "\"esc\":\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\xe2\x80\xa8"
    "\xef\xbf\xbf\",\"\":{\"x\":[]}}";
/* json.dumps(obj, ensure_ascii=False) */
static const char py_spaced_utf8[] =
    "{\"name\": \"caf\xc3\xa9 \xf0\x9f\x98\x80\", \"n\": 1, \"f\": 2.5, "
    "\"neg\": -0.0, \"big\": 1e+20, \"small\": 1e-07, \"list\": [1, "
    "\"two\", null, true, false, [], {}, -9223372036854775808], "
    "\"nested\": {\"a\": {\"b\": [0.1, 100.0, 1e+16, 1000000000000000.0, "
    "0.0001, 1e-05, 123.456]}}, \"esc\": \"q\\\"b\\\\s/\\b\\f\\n\\r\\t"
    "\\u0001\\u001f\x7f\xe2\x80\xa8\xef\xbf\xbf\", \"\": {\"x\": []}}";

/* Parse a writer's output, copy it with jw_tok under the same flags:
 * the copy must be byte-identical. */
static void
retok(const char *s, int flags)
{
	struct json j;
	struct buf b = {0};
	struct jw w;

	T_OK(parse(&j, s) > 0);
	jw_init(&w, &b, flags);
	jw_tok(&w, &j, 0);
	T_STREQ(wr(&b), s);
	buf_free(&b);
}

static void
test_python(void)
{
	struct buf b = {0};

	composite(&b, JW_SPACED | JW_ASCII);
	T_STREQ(wr(&b), py_spaced_ascii);
	retok(wr(&b), JW_SPACED | JW_ASCII);
	composite(&b, JW_PRETTY | JW_ASCII);
	T_STREQ(wr(&b), py_pretty_ascii);
	retok(wr(&b), JW_PRETTY | JW_ASCII);
	composite(&b, 0);
	T_STREQ(wr(&b), py_compact_utf8);
	retok(wr(&b), 0);
	composite(&b, JW_SPACED);
	T_STREQ(wr(&b), py_spaced_utf8);
	retok(wr(&b), JW_SPACED);
	/* the flags are independent of the input form */
	retok(py_spaced_ascii, JW_SPACED | JW_ASCII);
	retok(py_compact_utf8, 0);
	buf_free(&b);
}

#define D(x) { x, #x }
static const struct {
	double v;
	const char *py;         /* Python repr(v), which is also a C literal */
} doubles[] = {
	D(0.0), D(-0.0), D(1.0), D(-1.0), D(2.5), D(0.1),
	D(0.30000000000000004), D(0.3333333333333333), D(0.6666666666666666),
	D(100.0), D(1e+20), D(1e+16), D(1000000000000000.0),
	D(9999999999999998.0), D(0.0001), D(1e-05), D(0.00012345),
	D(123456.789), D(5e-324), D(2.2250738585072014e-308),
	D(1.7976931348623157e+308), D(-1.5e-300),
	D(5.960464477539063e-08),       /* 2^-24: shortest is above nearest */
	D(5.684341886080802e-14), D(6.189700196426902e+26),
	D(9.223372036854776e+18), D(9007199254740994.0),
	D(9007199254740992.0), D(1e+22), D(1e+23), D(4.35), D(0.3),
	D(1e+100), D(1.2345678901234567e+19), D(3.14159),
	D(6.02214076e+23), D(-273.15), D(-3.7650071014190347e-26),
	D(-4.7286038006877366e-34), D(-31776.563631816953),
	D(124943878.02432276), D(-73.46216174309832),
	D(6.240826329114738e-31), D(2.2595392773817084e-32),
	D(409078.3101657501), D(3.455799530332985e+26),
	D(7.26295065371922e+35), D(-143452566092.37772),
	D(-5.595475311358958e-33), D(-3.2846346064228504e-07),
	D(-1.1796914174570853e-20), D(-8.710537555883361e+28),
	D(1.8915483570524045e-05), D(-7114.8983328512495),
	D(-7644.155238432633), D(-3830.363517961313), D(6322.527182400629),
	D(-6385.4724015212505), D(1632.0032732493255),
	D(2778.2693785236806), D(-2552.0491454853754),
	D(1.1441778670468376e-246), D(1.3967014978599092e-250),
	D(2.897817305224548e-70), D(4.8726570057e+288),
	D(6.270570637641398e+203), D(6.582018229284824e+63),
};

static void
test_doubles(void)
{
	struct buf b = {0};
	struct json j;
	struct jw w;
	size_t i;
	double d;

	for (i = 0; i < LEN(doubles); i++) {
		buf_reset(&b);
		jw_init(&w, &b, 0);
		jw_double(&w, doubles[i].v);
		T_STREQ(wr(&b), doubles[i].py);
		/* and it reads back as the same double */
		T_OK(parse(&j, wr(&b)) == 1 && json_double(&j, 0, &d) == 0 &&
		    memcmp(&d, &doubles[i].v, sizeof(d)) == 0);
	}
	buf_reset(&b);
	jw_init(&w, &b, JW_SPACED);
	jw_arr(&w);
	jw_double(&w, HUGE_VAL);
	jw_double(&w, -HUGE_VAL);
	jw_double(&w, NAN);
	jw_int(&w, INT64_MAX);
	jw_int(&w, 0);
	jw_num(&w, "-1.5e+300");
	jw_num(&w, "1.");               /* not a JSON number */
	jw_num(&w, "");
	jw_num(&w, "0x10");
	jw_num(&w, "1 ");
	jw_arr_end(&w);
	T_STREQ(wr(&b), "[null, null, null, 9223372036854775807, 0, "
	    "-1.5e+300, null, null, null, null]");
	buf_free(&b);
}

static void
test_escaping(void)
{
	/* b = b"\0\x01\x1f\"\\/\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80
	 *   \xff\xe2\x82A\xed\xa0\x80\xf4\x90\x80\x80\xc0\xafz"
	 * json.dumps(b.decode("utf-8", "replace")), and with
	 * ensure_ascii=False: invalid bytes become U+FFFD per maximal
	 * subpart, exactly as Python decodes them. */
	static const char in[] = "\0\x01\x1f\"\\/\x7f\xc3\xa9\xe2\x82\xac"
	    "\xf0\x9f\x98\x80\xff\xe2\x82""A\xed\xa0\x80\xf4\x90\x80\x80"
	    "\xc0\xafz";
	static const char ascii[] = "\"\\u0000\\u0001\\u001f\\\"\\\\/\\u007f"
	    "\\u00e9\\u20ac\\ud83d\\ude00\\ufffd\\ufffdA\\ufffd\\ufffd"
	    "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffdz\"";
	static const char utf8[] = "\"\\u0000\\u0001\\u001f\\\"\\\\/\x7f"
	    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbd\xef\xbf\xbd"
	    "A\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz\"";
	struct buf b = {0}, d = {0};
	struct json j;
	struct jw w;
	char raw[256];
	int i;

	jw_init(&w, &b, JW_ASCII);
	jw_strn(&w, in, sizeof(in) - 1);
	T_STREQ(wr(&b), ascii);
	buf_reset(&b);
	jw_init(&w, &b, 0);
	jw_strn(&w, in, sizeof(in) - 1);
	T_STREQ(wr(&b), utf8);

	/* keys are escaped the same way; NULL strings are null */
	buf_reset(&b);
	jw_init(&w, &b, JW_ASCII);
	jw_obj(&w);
	jw_key(&w, "k\"\n\xc3\xa9");
	jw_str(&w, NULL);
	jw_obj_end(&w);
	T_STREQ(wr(&b), "{\"k\\\"\\n\\u00e9\":null}");

	/* every byte value, alone, survives the trip through the parser:
	 * ASCII as itself, the rest as U+FFFD (a lone byte >= 0x80 is
	 * never valid UTF-8) */
	for (i = 0; i < 256; i++)
		raw[i] = i;
	for (i = 0; i < 4; i++) {
		int k;

		buf_reset(&b);
		jw_init(&w, &b, i);     /* ASCII and/or SPACED */
		jw_arr(&w);
		for (k = 0; k < 256; k++)
			jw_strn(&w, raw + k, 1);
		jw_arr_end(&w);
		T_INTEQ(parse(&j, wr(&b)), 257);
		for (k = 0; k < 256 && j.ntok == 257; k++) {
			buf_reset(&d);
			json_str(&j, k + 1, &d);
			if (k < 0x80)
				T_OK(d.len == 1 && (unsigned char)d.p[0] == k);
			else
				T_STREQ(d.p, "\xef\xbf\xbd");
		}
	}

	/* valid UTF-8 of every length round-trips through both modes */
	for (i = 0; i < 2; i++) {
		static const char u[] = "a\xc2\x80\xdf\xbf\xe0\xa0\x80\xef"
		    "\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\xed\x9f\xbf";

		buf_reset(&b);
		jw_init(&w, &b, i ? JW_ASCII : 0);
		jw_str(&w, u);
		T_OK(parse(&j, wr(&b)) == 1);
		buf_reset(&d);
		json_str(&j, 0, &d);
		T_STREQ(d.p, u);
	}
	buf_free(&b);
	buf_free(&d);
}

static void
test_writer(void)
{
	struct buf b = {0};
	struct json j;
	struct jw w;
	int i;

	jw_init(&w, &b, 0);
	jw_obj(&w);
	jw_key(&w, "a");
	jw_int(&w, 1);
	jw_key(&w, "b");
	jw_arr(&w);
	jw_str(&w, "x");
	jw_null(&w);
	jw_arr_end(&w);
	jw_obj_end(&w);
	T_STREQ(wr(&b), "{\"a\":1,\"b\":[\"x\",null]}");

	buf_reset(&b);
	jw_init(&w, &b, JW_SPACED);
	jw_obj(&w);
	jw_key(&w, "a");
	jw_arr(&w);
	jw_arr_end(&w);
	jw_key(&w, "b");
	jw_obj(&w);
	jw_obj_end(&w);
	jw_obj_end(&w);
	T_STREQ(wr(&b), "{\"a\": [], \"b\": {}}");

	/* pretty: empty containers stay closed, scalars at the top plain */
	buf_reset(&b);
	jw_init(&w, &b, JW_PRETTY);
	jw_arr(&w);
	jw_arr_end(&w);
	T_STREQ(wr(&b), "[]");
	buf_reset(&b);
	jw_init(&w, &b, JW_PRETTY | JW_SPACED);
	jw_arr(&w);
	jw_arr(&w);
	jw_obj(&w);
	jw_obj_end(&w);
	jw_arr_end(&w);
	jw_str(&w, "s");
	jw_arr_end(&w);
	T_STREQ(wr(&b), "[\n  [\n    {}\n  ],\n  \"s\"\n]");
	buf_reset(&b);
	jw_init(&w, &b, JW_PRETTY);
	jw_int(&w, 5);
	T_STREQ(wr(&b), "5");

	/* JSON_MAXDEPTH levels from the writer parse back, and jw_tok of
	 * the parsed tree gives the same bytes */
	buf_reset(&b);
	jw_init(&w, &b, JW_PRETTY);
	for (i = 0; i < JSON_MAXDEPTH; i++) {
		jw_arr(&w);
		jw_int(&w, i);
	}
	for (i = 0; i < JSON_MAXDEPTH; i++)
		jw_arr_end(&w);
	T_INTEQ(parse(&j, wr(&b)), 2 * JSON_MAXDEPTH);
	T_INTEQ(w.depth, 0);
	retok(wr(&b), JW_PRETTY);

	/* jw_tok of a subtree, inside a document being written */
	T_OK(parse(&j, "{\"k\":[1,{\"x\\u0041\":\"\\ud83d\\ude00\"}],"
	    "\"z\":0}") > 0);
	buf_reset(&b);
	jw_init(&w, &b, JW_ASCII);
	jw_arr(&w);
	jw_tok(&w, &j, json_get(&j, 0, "k"));
	jw_tok(&w, &j, json_get(&j, 0, "z"));
	jw_tok(&w, &j, 99);             /* bad index: null */
	jw_obj(&w);
	jw_key(&w, "copy");
	jw_tok(&w, &j, 0);
	jw_obj_end(&w);
	jw_arr_end(&w);
	T_STREQ(wr(&b), "[[1,{\"xA\":\"\\ud83d\\ude00\"}],0,null,{\"copy\":"
	    "{\"k\":[1,{\"xA\":\"\\ud83d\\ude00\"}],\"z\":0}}]");
	buf_reset(&b);
	jw_init(&w, &b, 0);
	jw_tok(&w, &j, 0);
	T_STREQ(wr(&b), "{\"k\":[1,{\"xA\":\"\xf0\x9f\x98\x80\"}],\"z\":0}");

	/* writer output appends to what the buffer held */
	buf_reset(&b);
	buf_puts(&b, "x=");
	jw_init(&w, &b, 0);
	jw_bool(&w, 1);
	T_STREQ(wr(&b), "x=true");
	buf_free(&b);
}

/* Every good document: jw_tok under each flag set, reparse, and the
 * token structures match (types, sizes, links, decoded strings, number
 * text). */
static void
test_roundtrip(void)
{
	static struct json_tok t2[NTOK];
	struct json j, k;
	struct buf b = {0}, s1 = {0}, s2 = {0};
	struct jw w;
	size_t i;
	int f, t, same;

	for (i = 0; i < LEN(good); i++) {
		for (f = 0; f < 8; f++) {
			T_OK(parse(&j, good[i]) > 0);
			buf_reset(&b);
			jw_init(&w, &b, f);
			jw_tok(&w, &j, 0);
			T_INTEQ(json_parse(&k, wr(&b), b.len, t2, NTOK),
			    j.ntok);
			same = k.ntok == j.ntok;
			for (t = 0; same && t < j.ntok; t++) {
				same = toks[t].type == t2[t].type &&
				    toks[t].size == t2[t].size &&
				    toks[t].next == t2[t].next &&
				    toks[t].parent == t2[t].parent;
				if (toks[t].type == JSON_NUMBER)
					same = same && toks[t].len ==
					    t2[t].len && memcmp(good[i] +
					    toks[t].start, wr(&b) +
					    t2[t].start, t2[t].len) == 0;
				if (toks[t].type != JSON_STRING)
					continue;
				buf_reset(&s1);
				buf_reset(&s2);
				json_str(&j, t, &s1);
				json_str(&k, t, &s2);
				same = same && s1.len == s2.len &&
				    (s1.len == 0 || memcmp(s1.p, s2.p,
				    s1.len) == 0);
			}
			if (!same)
				fprintf(stderr, "roundtrip %zu flags %d: %s\n",
				    i, f, wr(&b));
			T_OK(same);
		}
	}
	buf_free(&b);
	buf_free(&s1);
	buf_free(&s2);
}

int
main(void)
{
	guard_init();
	test_tokens();
	test_dupes();
	test_strings();
	test_numbers();
	test_errors();
	test_prefixes();
	test_alloc();
	test_python();
	test_doubles();
	test_escaping();
	test_writer();
	test_roundtrip();
	return T_END("unit_json");
}
