/* json.h - strict RFC 8259 JSON parser (no recursion, no allocation in
 * the core) and a JSON writer.
 *
 * Parsing produces a flat array of tokens in document order.  An object
 * token is followed by its members as (key STRING token, value subtree)
 * pairs; an array token by its element subtrees.  Every token records
 * the index just past its own subtree (`next`), so skipping a value is
 * O(1) and lookups never recurse. */
#ifndef JSON_H
#define JSON_H

#include <stddef.h>
#include <stdint.h>

struct buf;

#define JSON_MAXDEPTH 512   /* deeper nesting is the error JSON_EDEPTH */

enum json_type {
	JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING,
	JSON_ARRAY, JSON_OBJECT
};

enum json_err {
	JSON_OK, JSON_ESYNTAX, JSON_EUTF8, JSON_EESCAPE, JSON_ENUMBER,
	JSON_EDEPTH, JSON_ETOKENS, JSON_ETRAILING, JSON_EEOF, JSON_ECTRL
};

struct json_tok {
	enum json_type type;
	size_t start, len;  /* span in the input: a string's raw text
	                       between the quotes (still escaped); a number's
	                       text; a container from its bracket to its
	                       closing bracket inclusive */
	int size;           /* array: elements; object: members */
	int next;           /* index of the first token after this subtree */
	int esc;            /* string: 1 if it contains backslash escapes */
	int parent;         /* index of the enclosing array/object, -1 for
	                       the top-level value (lets json_after know
	                       where its container ends) */
};

struct json {
	const char *src;
	size_t srclen;
	struct json_tok *tok;
	int ntok;
	enum json_err err;
	size_t erroff;      /* byte offset of the error */
	int owned;          /* tok was allocated by json_parse_alloc */
};

/* Parse s[0..n) into toks (capacity cap).  With toks == NULL only
 * validates and counts.  Returns the number of tokens, or -1 with
 * j->err / j->erroff set (JSON_ETOKENS when cap is too small).  The
 * whole input must be exactly one JSON value with optional whitespace.
 * Strings must be valid UTF-8; a \u escape of a lone surrogate is
 * rejected (JSON_EESCAPE).  Numbers of any size are accepted. */
int json_parse(struct json *j, const char *s, size_t n,
    struct json_tok *toks, int cap);

/* Count, allocate exactly, parse.  Returns 0 or -1 (j->err set).
 * Release with json_free.  s must outlive j. */
int json_parse_alloc(struct json *j, const char *s, size_t n);
void json_free(struct json *j);

/* "JSON: invalid UTF-8 at byte 12" and so on; static storage. */
const char *json_strerror(const struct json *j);

/* Member lookup in object token obj: the value token index, or -1.
 * Duplicate keys: the last occurrence wins.  Keys compare after
 * unescaping. */
int json_get(const struct json *j, int obj, const char *key);
/* Follow a path of keys from token t: json_path(j, 0, "metadata",
 * "result", "state", "exit_code", (char *)NULL).  -1 when any step is
 * missing or not an object. */
int json_path(const struct json *j, int t, ...);
/* i-th element of array token arr (O(i)), or -1. */
int json_index(const struct json *j, int arr, int i);
/* Iterate: for (c = json_first(j, t); c >= 0; c = json_after(j, c)) ...
 * For objects, c walks keys: the value is c + 1. */
int json_first(const struct json *j, int t);
int json_after(const struct json *j, int t);

/* Decode string token t (unescape, surrogate pairs to UTF-8) and append
 * to out.  Returns 0, or -1 if t is not a string. */
int json_str(const struct json *j, int t, struct buf *out);
/* Decoded string as a new malloc'd NUL-terminated string, or NULL if t is
 * not a string or it contains U+0000.  Caller frees. */
char *json_strdup(const struct json *j, int t);
/* 1 if token t is a string equal (after decoding) to s. */
int json_streq(const struct json *j, int t, const char *s);
/* Numbers: 0 on success, -1 if t is not a number, not an integer
 * (int64), or out of range. */
int json_int64(const struct json *j, int t, int64_t *out);
int json_double(const struct json *j, int t, double *out);
/* 1 true, 0 false, -1 not a boolean. */
int json_bool(const struct json *j, int t);
/* Convenience: string member of object obj as malloc'd string, or NULL
 * (missing, null, or not a string). */
char *json_getstr(const struct json *j, int obj, const char *key);

/* Writer.  Appends to a struct buf; commas are inserted automatically.
 * Every string is escaped: control characters, '"' and '\\' always;
 * with JW_ASCII also everything non-ASCII as \uXXXX (surrogate pairs
 * above U+FFFF; invalid UTF-8 bytes become U+FFFD). */
enum {
	JW_ASCII = 1,    /* escape non-ASCII */
	JW_SPACED = 2,   /* ", " and ": " separators (Python json.dumps) */
	JW_PRETTY = 4    /* newline + 2-space indentation, "," at line
	                    ends and ": " (json.dumps indent=2); empty
	                    containers stay [] and {} */
};
struct jw {
	struct buf *b;
	int flags;
	int depth;
	unsigned char n[JSON_MAXDEPTH];  /* 0: nothing yet at this level */
	int afterkey;
};
void jw_init(struct jw *w, struct buf *b, int flags);
void jw_obj(struct jw *w);       /* { */
void jw_obj_end(struct jw *w);   /* } */
void jw_arr(struct jw *w);       /* [ */
void jw_arr_end(struct jw *w);   /* ] */
void jw_key(struct jw *w, const char *k);
void jw_str(struct jw *w, const char *s);   /* NULL writes null */
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_int(struct jw *w, int64_t v);
/* Python repr() of v (2.5, 0.1, 1e+20, 100.0); NaN and infinities,
 * which JSON cannot express, are written as null. */
void jw_double(struct jw *w, double v);
/* A number's text as is; text that is not a JSON number writes null. */
void jw_num(struct jw *w, const char *text);
void jw_bool(struct jw *w, int v);
void jw_null(struct jw *w);
/* A key and its value in one call: jw_key, then jw_str/int/bool/obj. */
void jw_kstr(struct jw *w, const char *k, const char *s);
void jw_kint(struct jw *w, const char *k, int64_t v);
void jw_kbool(struct jw *w, const char *k, int v);
void jw_kobj(struct jw *w, const char *k);
/* Copy token t of j (any subtree) into the writer, re-encoded. */
void jw_tok(struct jw *w, const struct json *j, int t);

#endif
