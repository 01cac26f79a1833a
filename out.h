/* out.h - the eight output formats (cli.md §4) from one row model.
 *
 * A command builds rows of named scalar fields and hands them to an
 * output; the output types fields by name (§4.1.3), orders them (head,
 * first-seen order remembered across rows, tail), and renders them in
 * the format chosen with -f.  Typical use:
 *
 *	struct out *o = out_new(c->fmt, 1);
 *	out_pin(o, NULL, (const char *const[]){"error", NULL});
 *	for each page {
 *		for each object { r = row_new(); row_json(r, &j, t);
 *			row_str(r, "image", img); if (out_row(o, r) < 0) stop; }
 *		if (out_batch(o) < 0) stop;
 *	}
 *	if (out_end(o) < 0 && errno == EPIPE) ... quiet, status 0
 *
 * Write errors: every call that writes returns -1 once a write failed
 * (later rows are dropped); errno is then the write's errno (EPIPE when
 * the reader went away; main must ignore SIGPIPE for that to show) and
 * the error slot says "writing output: <strerror>". */
#ifndef OUT_H
#define OUT_H

#include <stddef.h>
#include <stdint.h>

struct json;

/* The formats with columns first (out.c relies on the order). */
enum {
	FMT_DEFAULT, FMT_TABLE, FMT_CSV, FMT_TSV, FMT_JSON, FMT_JSON_PRETTY,
	FMT_PLAIN, FMT_TOML
};

/* The -f names, alphabetical as in help: "csv", "default", "json",
 * "json-pretty", "plain", "table", "toml", "tsv", NULL. */
extern const char *const fmt_names[];
/* FMT_* for a name, or -1 if unknown. */
int fmt_parse(const char *name);
/* Name of FMT_* (static storage); "default" for anything unknown. */
const char *fmt_name(int fmt);

/* A row: ordered (name, value) pairs.  Setting a name again replaces
 * the value and keeps the first position (like a Python dict).  Values
 * are typed by field name as they are set (cli.md §4.1.3):
 *   created_at, updated_at  string -> timestamp (unparsable: kept as is)
 *   duration                number -> duration (seconds)
 *   error, tag              null -> ""
 *   mode                    integer -> octal digits as a string
 *   mtime                   number (Unix seconds) -> timestamp
 * Strings are copied. */
struct row;
/* Never NULL (xmalloc).  Owned by the caller until given to out_row;
 * row_free releases a row that was never given. */
struct row *row_new(void);
void row_free(struct row *r);
void row_str(struct row *r, const char *name, const char *v); /* NULL: null */
void row_strn(struct row *r, const char *name, const char *v, size_t n);
void row_int(struct row *r, const char *name, int64_t v);
void row_float(struct row *r, const char *name, double v);
void row_bool(struct row *r, const char *name, int v);
void row_null(struct row *r, const char *name);
/* A timestamp from ISO-8601 text (any field name); text that does not
 * parse is kept as a plain string. */
void row_time(struct row *r, const char *name, const char *iso);
/* Every member of object token obj of j, in document order, except
 * objects and arrays (dropped).  Numbers: integer literals stay exact
 * (beyond int64 as their text), others become floats.  Does nothing if
 * obj is not an object. */
void row_json(struct row *r, const struct json *j, int obj);

/* An output writing to fd.  Reads FORCE_COLOR, NO_COLOR, COLUMNS and
 * the terminal size here (table/default only).  Never NULL.  Free it
 * with out_end. */
struct out *out_new(int fmt, int fd);
/* Fields to put first (head) and last (tail), NULL-terminated lists or
 * NULL; call before the first row.  The names are copied. */
void out_pin(struct out *o, const char *const *head,
    const char *const *tail);
/* The complete column set, n names in order (pinned as head): csv and
 * tsv then have them all as columns and write the header and each row
 * at once, instead of holding the first batch to learn its names.  Call
 * before the first row. */
void out_cols(struct out *o, const char *const *cols, int n);
/* Emit (json, plain; csv and tsv once their columns are known) or
 * queue (table, default, toml, json-pretty; csv and tsv in the first
 * batch) one row.  The columns of table, csv and tsv are the names that
 * rows of the first batch have (in the order above); every line has
 * them all, empty where its row lacks the field; a name first seen
 * later is left out.  Takes ownership of r in every case.  0, or -1
 * on a write error (see above). */
int out_row(struct out *o, struct row *r);
/* End a batch (one page of results): queued rows are written.  The
 * table layout (columns, widths, terminal fitting) and the csv/tsv
 * columns are decided by the first non-empty batch and reused.  0 or
 * -1 on a write error. */
int out_batch(struct out *o);
/* End the batch and the output (json-pretty's closing bracket; nothing
 * at all when there were no rows) and free o.  0, or -1 if any write
 * failed, with errno and the error slot set as above.  NULL is fine. */
int out_end(struct out *o);

/* One row r (taken) to standard output in format fmt: 0, also when
 * the reader went away (EPIPE); -1 on another write error. */
int out_one(int fmt, struct row *r);

/* Helpers for other commands. */

/* Parse an ISO-8601 timestamp: YYYY-MM-DD, optionally followed by 'T'
 * or ' ' and HH:MM[:SS[.fraction]] (1-9 fraction digits, '.' or ','),
 * then optionally 'Z' or +-HH[:MM] (also +-HHMM).  Without a zone the
 * time is taken as UTC (cli.md §4.1 fix).  0 with *sec = Unix seconds
 * and *nsec = 0..999999999 (digits past nine dropped), or -1 if s is
 * not such a timestamp (the error slot is not touched). */
int ts_parse(const char *s, int64_t *sec, long *nsec);
/* Local time (TZ) "YYYY-MM-DD HH:MM:SS" into out (at least 32 bytes). */
void ts_local(char *out, size_t n, int64_t sec);
/* UTC "YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00" as Python's isoformat: six
 * fraction digits (nsec truncated to microseconds), none when they are
 * all zero.  out at least 40 bytes. */
void ts_iso(char *out, size_t n, int64_t sec, long nsec);
/* Duration text of cli.md §4.1: whole seconds (truncated) as "Ns" under
 * a minute, "MmSs" under an hour ("2m5s"), else "HhMm" ("1h3m"). */
void dur_text(char *out, size_t n, double secs);

#endif
