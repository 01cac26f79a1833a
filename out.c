/* out.c - rows and the eight output formats of cli.md §4.
 *
 * A row is an array of typed fields.  out_row orders it (head, then the
 * names in the order first seen by this output, then tail) and either
 * writes it at once (json, plain) or queues it until out_batch (table,
 * default, toml, json-pretty; csv and tsv only until their columns are
 * known).  The columns of table, csv and tsv are the names that rows of
 * the first batch (a page of results) have, unless out_cols declared
 * them: every line has them all.
 *
 * Widths and cuts count code points, not display cells, as the peer's
 * len() does; wide characters therefore misalign a table the same way.
 *
 * Where cli.md leaves room, the peer's observable behaviour is followed:
 * JSON/TOML timestamps are Python's isoformat() of the UTC time (six
 * fraction digits, none when they are zero: ".10Z" -> ".100000+00:00");
 * JSON durations are timedelta.total_seconds() (always a float, "41.0").
 * Our own choices: zone-less timestamps are UTC (cli.md §4.1 fix);
 * NaN/infinity in JSON are null (json.c) rather than Python's invalid
 * NaN/Infinity; colours need only stdout to be a terminal (or
 * FORCE_COLOR), and NO_COLOR turns them off; toml puts an empty line
 * between all rows, across batches too. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "out.h"
#include "util.h"

/* Value types after typing by name. */
enum { V_NULL, V_BOOL, V_INT, V_NUM, V_FLOAT, V_STR, V_TIME, V_DUR };

struct field {
	char *name;
	int t;
	int64_t i;      /* V_BOOL, V_INT; V_TIME: Unix seconds */
	long us;        /* V_TIME: microseconds */
	double d;       /* V_FLOAT; V_DUR: seconds, to the microsecond */
	char *s;        /* V_STR bytes (NUL-terminated, may hold NULs);
	                   V_NUM: an integer literal beyond int64 */
	size_t n;
};

struct row {
	struct field *f;
	int n, cap;
};

struct out {
	int fmt, fd;
	int term;               /* table: terminal behaviour (§4.3) */
	int colour;
	const char *ell;        /* ellipsis */
	int ellw;               /* its width in code points */
	int cols_w;             /* terminal width */
	int err;                /* errno of the first failed write, or 0 */
	char **order;           /* head names, then names as first seen */
	int norder, caporder;
	char **tail;
	int ntail, captail;
	struct row **q;         /* queued rows of the current batch */
	int nq, capq;
	long nrows;             /* rows written so far */
	/* table layout and csv/tsv columns, fixed by the first batch */
	int laid, ncol;
	int fixed;              /* csv/tsv: columns declared (out_cols) */
	char **col;
	size_t *width;
};

const char *const fmt_names[] = {
	"csv", "default", "json", "json-pretty", "plain", "table", "toml",
	"tsv", NULL
};
static const int fmt_ids[] = {
	FMT_CSV, FMT_DEFAULT, FMT_JSON, FMT_JSON_PRETTY, FMT_PLAIN, FMT_TABLE,
	FMT_TOML, FMT_TSV
};

int
fmt_parse(const char *name)
{
	size_t i;

	for (i = 0; name && fmt_names[i]; i++)
		if (strcmp(name, fmt_names[i]) == 0)
			return fmt_ids[i];
	return -1;
}

const char *
fmt_name(int fmt)
{
	size_t i;

	for (i = 0; i < LEN(fmt_ids); i++)
		if (fmt_ids[i] == fmt)
			return fmt_names[i];
	return "default";
}

/* ---- time ---- */

/* p against template t: a digit n in t reads n decimal digits into
 * the next int of v, any other byte must be there.  The rest of p, or
 * NULL. */
static const char *
scan(const char *p, const char *t, int *v)
{
	int k;

	for (; *t; t++) {
		if (*t < '1' || *t > '9') {
			if (*p++ != *t)
				return NULL;
			continue;
		}
		for (*v = 0, k = *t - '0'; k > 0; k--, p++) {
			if (*p < '0' || *p > '9')
				return NULL;
			*v = *v * 10 + (*p - '0');
		}
		v++;
	}
	return p;
}

int
ts_parse(const char *s, int64_t *sec, long *nsec)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31};
	int v[8] = {0};         /* year month day hour min sec; zone h m */
	int sign = 0, k;
	long ns = 0;
	const char *p;

	if (!s || !(p = scan(s, "4-2-2", v)))
		return -1;
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > mdays[v[1] - 1] ||
	    v[0] < 1 || (v[1] == 2 && v[2] == 29 && (v[0] % 4 ||
	    (v[0] % 100 == 0 && v[0] % 400))))
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		if (!(p = scan(p + 1, "2:2", v + 3)))
			return -1;
		if (*p == ':') {
			if (!(p = scan(p + 1, "2", v + 5)))
				return -1;
			if (*p == '.' || *p == ',') {
				p++;
				if (*p < '0' || *p > '9')
					return -1;
				for (k = 0; *p >= '0' && *p <= '9'; p++, k++)
					if (k < 9)
						ns = ns * 10 + (*p - '0');
				for (; k < 9; k++)
					ns *= 10;
			}
		}
		if (v[3] > 23 || v[4] > 59 || v[5] > 59)
			return -1;
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p++ == '-' ? -1 : 1;
			/* +HH, +HH:MM or +HHMM */
			if (!(p = scan(p, "2", v + 6)) ||
			    (*p && !(p = scan(p + (*p == ':'), "2", v + 7))) ||
			    v[6] > 23 || v[7] > 59)
				return -1;
		}
	}
	if (*p)
		return -1;
	*sec = days_from_civil(v[0], v[1], v[2]) * 86400 + v[3] * 3600 +
	    v[4] * 60 + v[5] - sign * (v[6] * 3600 + v[7] * 60);
	*nsec = ns;
	return 0;
}

/* sec as "YYYY-MM-DD<sep>HH:MM:SS<tail>" in local time or UTC; the
 * number when it is no time. */
static void
ts_fmt(char *out, size_t n, int64_t sec, int local, const char *tail)
{
	static int tzdone;
	time_t t = (time_t)sec;
	struct tm tm;

	/* localtime_r need not read TZ; tzset once (it stats the zone
	 * file each time).  A process that changes TZ calls tzset. */
	if (local && !tzdone) {
		tzset();
		tzdone = 1;
	}
	if ((int64_t)t != sec || !(local ? localtime_r(&t, &tm) :
	    gmtime_r(&t, &tm))) {
		snprintf(out, n, "%lld", (long long)sec);
		return;
	}
	snprintf(out, n, "%04d-%02d-%02d%c%02d:%02d:%02d%s", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, local ? ' ' : 'T', tm.tm_hour,
	    tm.tm_min, tm.tm_sec, tail);
}

void
ts_local(char *out, size_t n, int64_t sec)
{
	ts_fmt(out, n, sec, 1, "");
}

void
ts_iso(char *out, size_t n, int64_t sec, long nsec)
{
	long us = nsec / 1000 % 1000000;
	char tail[24] = "+00:00";

	if (us > 0)
		snprintf(tail, sizeof tail, ".%06ld+00:00", us);
	ts_fmt(out, n, sec, 0, tail);
}

void
dur_text(char *out, size_t n, double secs)
{
	long long t;

	if (secs != secs || secs > 9e18 || secs < -9e18)
		t = 0;
	else
		t = (long long)secs;    /* toward zero, as int() */
	if (t < 60)
		snprintf(out, n, "%llds", t);
	else if (t < 3600)
		snprintf(out, n, "%lldm%llds", t / 60, t % 60);
	else
		snprintf(out, n, "%lldh%lldm", t / 3600, t % 3600 / 60);
}

/* x rounded to an integer, ties to even (Python's round()).  |x| must
 * be below 2^62. */
static int64_t
round_even(double x)
{
	int64_t v = (int64_t)x;
	double r = x - (double)v;

	if (r > 0.5 || (r == 0.5 && (v & 1)))
		v++;
	else if (r < -0.5 || (r == -0.5 && (v & 1)))
		v--;
	return v;
}

/* Seconds as Python's timedelta keeps them: rounded to whole
 * microseconds (half to even).  Values timedelta cannot hold stay. */
static double
dur_us(double s)
{
	int64_t w;

	if (s != s || s > 8.64e13 || s < -8.64e13)
		return s;
	w = (int64_t)s;
	return (double)(w * 1000000 + round_even((s - (double)w) * 1e6)) /
	    1e6;
}

/* ---- rows ---- */

struct row *
row_new(void)
{
	return xcalloc(1, sizeof(struct row));
}

static void
field_free(struct field *f)
{
	free(f->name);
	free(f->s);
}

void
row_free(struct row *r)
{
	int i;

	if (!r)
		return;
	for (i = 0; i < r->n; i++)
		field_free(&r->f[i]);
	free(r->f);
	free(r);
}

static struct field *
row_find(const struct row *r, const char *name)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->f[i].name, name) == 0)
			return &r->f[i];
	return NULL;
}

static void
setstr(struct field *f, const char *s, size_t n)
{
	f->t = V_STR;
	f->s = xmalloc(n + 1);
	memcpy(f->s, s, n);
	f->s[n] = '\0';
	f->n = n;
}

/* Apply the typing of cli.md §4.1.3 to f (named already). */
static void
typeby(struct field *f)
{
	static const char names[][11] = {
		"created_at", "updated_at", "duration", "error", "tag", "mode",
		"mtime"
	};
	size_t k;
	int64_t sec;
	long ns;

	for (k = 0; k < LEN(names) && strcmp(f->name, names[k]); k++)
		;
	switch (k) {
	case 0: case 1:         /* created_at, updated_at */
		if (f->t == V_STR && strlen(f->s) == f->n &&
		    ts_parse(f->s, &sec, &ns) == 0) {
			free(f->s);
			f->s = NULL;
			f->t = V_TIME;
			f->i = sec;
			f->us = ns / 1000;
		}
		break;
	case 2:                 /* duration */
		if (f->t == V_INT || f->t == V_FLOAT) {
			f->d = dur_us(f->t == V_INT ? (double)f->i : f->d);
			f->t = V_DUR;
		}
		break;
	case 3: case 4:         /* error, tag */
		if (f->t == V_NULL)
			setstr(f, "", 0);
		break;
	case 5:                 /* mode */
		if (f->t == V_INT) {
			char o[32];
			int n = snprintf(o, sizeof o, "%s%llo", f->i < 0 ? "-" : "",
			    (unsigned long long)(f->i < 0 ? -(uint64_t)f->i :
			    (uint64_t)f->i));

			setstr(f, o, (size_t)n);
		}
		break;
	case 6:                 /* mtime */
		/* datetime.fromtimestamp(v, timezone.utc), years 1..9999 */
		if (f->t == V_INT && f->i > -62135596800LL &&
		    f->i < 253402300800LL) {
			f->t = V_TIME;
			f->us = 0;
		} else if (f->t == V_FLOAT && f->d > -62135596800.0 &&
		    f->d < 253402300799.0) {
			int64_t w = (int64_t)f->d;
			int64_t us = round_even((f->d - (double)w) * 1e6);

			if (us >= 1000000) {
				w++;
				us -= 1000000;
			} else if (us < 0) {
				w--;
				us += 1000000;
			}
			f->t = V_TIME;
			f->i = w;
			f->us = (long)us;
		}
		break;
	}
}

/* The field called name, emptied (new at the end, or the existing one
 * in its place). */
static struct field *
row_slot(struct row *r, const char *name)
{
	struct field *f = row_find(r, name);

	if (f) {
		free(f->s);
		f->s = NULL;
		f->n = 0;
		return f;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 8;
		r->f = xreallocarray(r->f, (size_t)r->cap, sizeof(*r->f));
	}
	f = &r->f[r->n++];
	memset(f, 0, sizeof(*f));
	f->name = xstrdup(name);
	return f;
}

void
row_strn(struct row *r, const char *name, const char *v, size_t n)
{
	struct field *f = row_slot(r, name);

	setstr(f, v, n);
	typeby(f);
}

void
row_str(struct row *r, const char *name, const char *v)
{
	if (!v)
		row_null(r, name);
	else
		row_strn(r, name, v, strlen(v));
}

/* A value of type t (i for V_INT and V_BOOL, d for V_FLOAT). */
static void
row_set(struct row *r, const char *name, int t, int64_t i, double d)
{
	struct field *f = row_slot(r, name);

	f->t = t;
	f->i = i;
	f->d = d;
	typeby(f);
}

void
row_int(struct row *r, const char *name, int64_t v)
{
	row_set(r, name, V_INT, v, 0);
}

void
row_float(struct row *r, const char *name, double v)
{
	row_set(r, name, V_FLOAT, 0, v);
}

void
row_bool(struct row *r, const char *name, int v)
{
	row_set(r, name, V_BOOL, v != 0, 0);
}

void
row_null(struct row *r, const char *name)
{
	row_set(r, name, V_NULL, 0, 0);
}

void
row_time(struct row *r, const char *name, const char *iso)
{
	struct field *f;
	int64_t sec;
	long ns;

	if (!iso || ts_parse(iso, &sec, &ns) < 0) {
		row_str(r, name, iso);
		return;
	}
	f = row_slot(r, name);
	f->t = V_TIME;
	f->i = sec;
	f->us = ns / 1000;
}

/* A JSON number token as Python's json.loads sees it: an integer
 * literal is an int (exact), anything with a fraction or exponent a
 * float. */
static void
row_jnum(struct row *r, const char *name, const struct json *j, int t)
{
	const struct json_tok *tk = &j->tok[t];
	const char *s = j->src + tk->start;
	int64_t v;
	double d;
	struct field *f;

	if (memchr(s, '.', tk->len) || memchr(s, 'e', tk->len) ||
	    memchr(s, 'E', tk->len)) {
		if (json_double(j, t, &d) < 0)
			d = s[0] == '-' ? -HUGE_VAL : HUGE_VAL;
		row_float(r, name, d);
	} else if (json_int64(j, t, &v) == 0) {
		row_int(r, name, v);
	} else {
		f = row_slot(r, name);
		setstr(f, s, tk->len);
		f->t = V_NUM;
	}
}

void
row_json(struct row *r, const struct json *j, int obj)
{
	struct buf b = {0};
	char *key;
	int c, v;

	if (obj < 0 || obj >= j->ntok || j->tok[obj].type != JSON_OBJECT)
		return;
	for (c = json_first(j, obj); c >= 0; c = json_after(j, c)) {
		v = c + 1;
		if (!(key = json_strdup(j, c)))
			continue;
		switch (j->tok[v].type) {
		case JSON_NULL:
			row_null(r, key);
			break;
		case JSON_TRUE:
		case JSON_FALSE:
			row_bool(r, key, j->tok[v].type == JSON_TRUE);
			break;
		case JSON_NUMBER:
			row_jnum(r, key, j, v);
			break;
		case JSON_STRING:
			buf_reset(&b);
			json_str(j, v, &b);
			row_strn(r, key, b.p ? b.p : "", b.len);
			break;
		default:        /* objects and arrays are dropped */
			break;
		}
		free(key);
	}
	buf_free(&b);
}

/* ---- rendering values ---- */

/* Python's repr of a double (json.c writes the same digits). */
static void
add_repr(struct buf *b, double v)
{
	struct jw w;

	if (v != v)
		buf_puts(b, "nan");
	else if (v > 1.7976931348623157e308)
		buf_puts(b, "inf");
	else if (v < -1.7976931348623157e308)
		buf_puts(b, "-inf");
	else {
		jw_init(&w, b, 0);
		jw_double(&w, v);
	}
}

/* The text form of cli.md §4.1, appended to b. */
static void
add_text(struct buf *b, const struct field *f)
{
	char t[64];

	switch (f->t) {
	case V_NULL:
		break;
	case V_BOOL:
		buf_puts(b, f->i ? "true" : "false");
		break;
	case V_INT:
		buf_printf(b, "%lld", (long long)f->i);
		break;
	case V_NUM:
	case V_STR:
		buf_add(b, f->s, f->n);
		break;
	case V_FLOAT:
		if (f->d != f->d || f->d > 1.7976931348623157e308 ||
		    f->d < -1.7976931348623157e308)
			add_repr(b, f->d);
		else
			buf_printf(b, "%.2f", f->d);
		break;
	case V_TIME:
		ts_local(t, sizeof t, f->i);
		buf_puts(b, t);
		break;
	case V_DUR:
		dur_text(t, sizeof t, f->d);
		buf_puts(b, t);
		break;
	}
}

static void
jw_field(struct jw *w, const struct field *f)
{
	char t[64];

	jw_key(w, f->name);
	switch (f->t) {
	case V_NULL:  jw_null(w); break;
	case V_BOOL:  jw_bool(w, (int)f->i); break;
	case V_INT:   jw_int(w, f->i); break;
	case V_NUM:   jw_num(w, f->s); break;
	case V_STR:   jw_strn(w, f->s, f->n); break;
	case V_FLOAT:
	case V_DUR:   jw_double(w, f->d); break;
	case V_TIME:
		ts_iso(t, sizeof t, f->i, f->us * 1000);
		jw_str(w, t);
		break;
	}
}

static void
add_json(struct buf *b, const struct row *r, int flags)
{
	struct jw w;
	int i;

	jw_init(&w, b, flags);
	jw_obj(&w);
	for (i = 0; i < r->n; i++)
		jw_field(&w, &r->f[i]);
	jw_obj_end(&w);
}

static void
add_toml(struct buf *b, const struct field *f)
{
	char t[64];
	size_t i;

	switch (f->t) {
	case V_NULL:
		buf_puts(b, "\"\"");
		break;
	case V_BOOL:
	case V_INT:
	case V_NUM:
		add_text(b, f);
		break;
	case V_FLOAT:
	case V_DUR:
		add_repr(b, f->d);
		break;
	case V_TIME:
		ts_iso(t, sizeof t, f->i, f->us * 1000);
		buf_puts(b, t);
		break;
	case V_STR:
		buf_addc(b, '"');
		for (i = 0; i < f->n; i++) {
			switch (f->s[i]) {
			case '\\': buf_puts(b, "\\\\"); break;
			case '"':  buf_puts(b, "\\\""); break;
			case '\n': buf_puts(b, "\\n"); break;
			case '\r': buf_puts(b, "\\r"); break;
			case '\t': buf_puts(b, "\\t"); break;
			default:   buf_addc(b, f->s[i]); break;
			}
		}
		buf_addc(b, '"');
		break;
	}
}

/* One csv/tsv cell: quoted only when it holds the delimiter, a quote,
 * CR or LF; quotes doubled. */
static void
add_csv(struct buf *b, const char *s, size_t n, int delim)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] == delim || s[i] == '"' || s[i] == '\r' ||
		    s[i] == '\n')
			break;
	if (i == n) {
		buf_add(b, s, n);
		return;
	}
	buf_addc(b, '"');
	for (i = 0; i < n; i++) {
		if (s[i] == '"')
			buf_addc(b, '"');
		buf_addc(b, s[i]);
	}
	buf_addc(b, '"');
}

/* ---- code points ---- */

static size_t
cpcount(const char *s, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xC0) != 0x80;
	return c;
}

/* Bytes taken by the first k code points of s[0..n). */
static size_t
cpbytes(const char *s, size_t n, size_t k)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80 && k-- == 0)
			break;
	return i;
}

/* ---- output ---- */

static int
envset(const char *name)
{
	const char *v = getenv(name);

	return v && *v;
}

static int
termwidth(int fd)
{
	const char *c = getenv("COLUMNS");
	long long v;

	if (c && *c) {
		char *end;

		v = strtoll(c, &end, 10);
		if (*end == '\0' && v > 0 && v < 100000)
			return (int)v;
	}
#ifdef TIOCGWINSZ
	{
		struct winsize ws;

		if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
			return ws.ws_col;
	}
#else
	(void)fd;
#endif
	return 80;
}

struct out *
out_new(int fmt, int fd)
{
	struct out *o = xcalloc(1, sizeof(*o));

	if (fmt < FMT_DEFAULT || fmt > FMT_TOML)
		fmt = FMT_DEFAULT;
	o->fmt = fmt;
	o->fd = fd;
	if (fmt == FMT_TABLE || fmt == FMT_DEFAULT) {
		o->term = isatty(fd) || envset("FORCE_COLOR");
		o->colour = o->term && !envset("NO_COLOR");
		if (o->term)
			o->cols_w = termwidth(fd);
	}
	o->ell = o->term ? "\xe2\x80\xa6" : "...";
	o->ellw = o->term ? 1 : 3;
	return o;
}

static void
addname(char ***v, int *n, int *cap, const char *s)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = xreallocarray(*v, (size_t)*cap, sizeof(**v));
	}
	(*v)[(*n)++] = xstrdup(s);
}

static int
inlist(char **v, int n, const char *s)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

/* Remember name s (in the tail, or in order) unless already known. */
static void
addnew(struct out *o, const char *s, int tail)
{
	if (inlist(o->order, o->norder, s) || inlist(o->tail, o->ntail, s))
		return;
	if (tail)
		addname(&o->tail, &o->ntail, &o->captail, s);
	else
		addname(&o->order, &o->norder, &o->caporder, s);
}

void
out_pin(struct out *o, const char *const *head, const char *const *tail)
{
	for (; head && *head; head++)
		addnew(o, *head, 0);
	for (; tail && *tail; tail++)
		addnew(o, *tail, 1);
}

void
out_cols(struct out *o, const char *const *cols, int n)
{
	while (n-- > 0)
		addnew(o, *cols++, 0);
	o->fixed = o->fmt == FMT_CSV || o->fmt == FMT_TSV;
}

/* Put r's fields in output order and remember new names. */
static void
order(struct out *o, struct row *r)
{
	struct field *nf;
	int i, k, n = 0;

	for (i = 0; i < r->n; i++)
		addnew(o, r->f[i].name, 0);
	nf = xreallocarray(NULL, (size_t)(r->n ? r->n : 1), sizeof(*nf));
	for (k = 0; k < o->norder + o->ntail; k++) {
		const char *name = k < o->norder ? o->order[k] :
		    o->tail[k - o->norder];
		struct field *f = row_find(r, name);

		if (f)
			nf[n++] = *f;
	}
	free(r->f);
	r->f = nf;
	r->cap = r->n ? r->n : 1;
}

/* -1 with the error slot and errno telling the first write failure. */
static int
werr(int err)
{
	errno = err;
	seterr("writing output:");
	return -1;
}

/* Write b (and reset it); after a failure nothing more is written. */
static int
flush(struct out *o, struct buf *b)
{
	if (!o->err && b->len && writeall(o->fd, b->p, b->len) < 0)
		o->err = errno ? errno : EIO;
	buf_reset(b);
	return o->err ? werr(o->err) : 0;
}

/* Fix the columns (table, csv, tsv) from the queued rows of the first
 * batch: the names, in output order, that one of them has (all of them
 * for csv and tsv after out_cols), with their widths: the longest
 * line of the name and the values. */
static void
columns(struct out *o)
{
	struct buf t = {0};
	struct field *f;
	const char *name;
	size_t w, s, e, max;
	int i, k, seen, n = o->norder + o->ntail;

	o->laid = 1;
	o->col = xreallocarray(NULL, (size_t)(n ? n : 1), sizeof(*o->col));
	o->width = xreallocarray(NULL, (size_t)(n ? n : 1),
	    sizeof(*o->width));
	for (k = 0; k < n; k++) {
		name = k < o->norder ? o->order[k] : o->tail[k - o->norder];
		max = cpcount(name, strlen(name));
		for (seen = o->fixed, i = 0; i < o->nq; i++) {
			if (!(f = row_find(o->q[i], name)))
				continue;
			seen = 1;
			buf_reset(&t);
			add_text(&t, f);
			for (s = 0; s <= t.len; s = e + 1) {
				for (e = s; e < t.len && t.p[e] != '\n'; e++)
					;
				if ((w = cpcount(t.p + s, e - s)) > max)
					max = w;
			}
		}
		if (seen) {
			o->width[o->ncol] = max;
			o->col[o->ncol++] = xstrdup(name);
		}
	}
	buf_free(&t);
}

/* Row r under the columns, after their names if it is the first: a
 * column the row lacks is empty, a name not among them left out. */
static void
emit_csv(struct out *o, const struct row *r, struct buf *b)
{
	int delim = o->fmt == FMT_TSV ? '\t' : ',';
	struct buf t = {0};
	struct field *f;
	int k, names;

	for (names = o->nrows == 0; names >= 0; names--) {
		for (k = 0; k < o->ncol; k++) {
			if (k)
				buf_addc(b, delim);
			buf_reset(&t);
			if (names)
				buf_puts(&t, o->col[k]);
			else if ((f = row_find(r, o->col[k])))
				add_text(&t, f);
			add_csv(b, t.p ? t.p : "", t.len, delim);
		}
		/* Python's csv writes a lone empty field as "" (not an
		 * empty line) */
		if (k == 1 && t.len == 0)
			buf_puts(b, "\"\"");
		buf_puts(b, "\r\n");
	}
	buf_free(&t);
}

static void
emit_plain(struct out *o, const struct row *r, struct buf *b)
{
	struct buf t = {0};
	size_t kw = 0, w, i, j;
	int k;

	if (o->nrows)
		buf_puts(b, "---\n");
	for (k = 0; k < r->n; k++)
		if ((w = cpcount(r->f[k].name, strlen(r->f[k].name))) > kw)
			kw = w;
	for (k = 0; k < r->n; k++) {
		buf_reset(&t);
		add_text(&t, &r->f[k]);
		buf_puts(b, r->f[k].name);
		buf_addc(b, ':');
		for (w = cpcount(r->f[k].name, strlen(r->f[k].name)) + 1;
		    w < kw + 2; w++)
			buf_addc(b, ' ');
		for (i = 0; i < t.len; i++) {
			buf_addc(b, t.p[i]);
			if (t.p[i] == '\n')
				for (j = 0; j < kw + 2; j++)
					buf_addc(b, ' ');
		}
		buf_addc(b, '\n');
	}
	buf_free(&t);
}

static void
emit_toml(struct out *o, const struct row *r, struct buf *b)
{
	int k;

	if (o->nrows)	/* an empty line between rows, batches or not */
		buf_addc(b, '\n');
	buf_puts(b, "[[results]]\n");
	for (k = 0; k < r->n; k++) {
		buf_puts(b, r->f[k].name);
		buf_puts(b, " = ");
		add_toml(b, &r->f[k]);
		buf_addc(b, '\n');
	}
}

/* ---- table ---- */

/* One line of a cell: s[0..n) cut to width w with the ellipsis, padded
 * to w, coloured with c (NULL: none). */
static void
add_cell(struct out *o, struct buf *b, const char *s, size_t n, size_t w,
    const char *c)
{
	size_t len = cpcount(s, n);

	if (c)
		buf_puts(b, c);
	if (len > w) {
		if (w > (size_t)o->ellw) {
			buf_add(b, s, cpbytes(s, n, w - o->ellw));
			buf_puts(b, o->ell);
		} else {
			buf_add(b, s, cpbytes(s, n, w));
		}
		len = w;
	} else {
		buf_add(b, s, n);
	}
	for (; len < w; len++)
		buf_addc(b, ' ');
	if (c)
		buf_puts(b, "\033[0m");
}

static int
isws(int c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Colour of a cell by its trimmed value, or NULL. */
static const char *
value_colour(const char *s, size_t n)
{
	static const struct { const char *v, *c; } vc[] = {
		{"SUCCESS", "\033[32m"}, {"FAILED", "\033[31m"},
		{"CANCELLED", "\033[33m"}, {"PENDING", "\033[90m"},
		{"ASSIGNED", "\033[36m"}, {"EXECUTING", "\033[34m"},
		{"true", "\033[32m"}, {"false", "\033[31m"}, {"", "\033[90m"}
	};
	size_t i;

	while (n && isws(s[0]))
		s++, n--;
	while (n && isws(s[n - 1]))
		n--;
	for (i = 0; i < LEN(vc); i++)
		if (strlen(vc[i].v) == n && memcmp(vc[i].v, s, n) == 0)
			return vc[i].c;
	return NULL;
}

/* Shrink widths to fit the terminal (cli.md §4.3).  1 if anything was
 * cut. */
static int
fit(struct out *o)
{
	long avail = o->cols_w - 2L * (o->ncol - 1), sum = 0, share;
	int *idx, i, j, t, cut = 0;

	for (i = 0; i < o->ncol; i++)
		sum += (long)o->width[i];
	if (sum <= avail)
		return 0;
	/* narrowest first; equal widths keep column order */
	idx = xreallocarray(NULL, (size_t)o->ncol, sizeof(*idx));
	for (i = 0; i < o->ncol; i++) {
		for (j = i; j > 0 && o->width[idx[j - 1]] > o->width[i]; j--)
			idx[j] = idx[j - 1];
		idx[j] = i;
	}
	for (i = 0; i < o->ncol; i++) {
		t = idx[i];
		share = avail / (o->ncol - i);
		if (avail < 0 && avail % (o->ncol - i))
			share--;        /* floor, as Python's // */
		if (share < 3)
			share = 3;
		if ((long)o->width[t] > share) {
			o->width[t] = (size_t)share;
			cut = 1;
		}
		avail -= (long)o->width[t];
	}
	free(idx);
	return cut;
}

static const char *const palette[] = {
	"\033[36m", "\033[32m", "\033[33m", "\033[34m", "\033[35m", "\033[0m"
};

/* Fit the table's columns to the terminal and write its header. */
static int
table_head(struct out *o, struct buf *b)
{
	int i, cut = 0;

	if (o->ncol == 0)
		return 0;
	if (o->term)
		cut = fit(o);
	for (i = 0; i < o->ncol; i++) {
		char *u = xstrdup(o->col[i]), *p;

		for (p = u; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		if (i)
			buf_puts(b, "  ");
		add_cell(o, b, u, strlen(u), o->width[i],
		    o->colour ? "\033[1m" : NULL);
		free(u);
	}
	buf_addc(b, '\n');
	if (flush(o, b) < 0)
		return -1;
	if (cut)
		logmsg(LOG_WARNING, "Output truncated to fit the terminal; "
		    "use --format json to see full values");
	return 0;
}

static void
table_row(struct out *o, const struct row *r, struct buf *b)
{
	struct buf *t = xcalloc((size_t)o->ncol, sizeof(*t));
	size_t *pos = xcalloc((size_t)o->ncol, sizeof(*pos));
	int i, more = 1, line;

	for (i = 0; i < o->ncol; i++) {
		struct field *f = row_find(r, o->col[i]);

		if (f)
			add_text(&t[i], f);
		/* a value's final newlines (run's "hi\n") add no blank line */
		while (t[i].len && t[i].p[t[i].len - 1] == '\n')
			t[i].p[--t[i].len] = '\0';
	}
	for (line = 0; more; line++) {
		more = 0;
		for (i = 0; i < o->ncol; i++) {
			const char *s = "", *c = NULL;
			size_t n = 0;

			/* the cell's next line, or "" once its lines ran out */
			if (pos[i] <= t[i].len) {
				if (t[i].p)
					s = t[i].p + pos[i];
				while (pos[i] + n < t[i].len && s[n] != '\n')
					n++;
				pos[i] += n + 1;
				if (pos[i] <= t[i].len)
					more = 1;
			}
			if (o->colour && !(c = value_colour(s, n)))
				c = palette[i % LEN(palette)];
			if (i)
				buf_puts(b, "  ");
			add_cell(o, b, s, n, o->width[i], c);
		}
		buf_addc(b, '\n');
	}
	for (i = 0; i < o->ncol; i++)
		buf_free(&t[i]);
	free(t);
	free(pos);
}

int
out_batch(struct out *o)
{
	struct buf b = {0};
	struct row *r;
	int k, rc = 0;

	if (o->nq == 0)
		return o->err ? werr(o->err) : 0;
	/* table, default, csv, tsv: their columns (out.h's FMT_ order) */
	if (!o->laid && o->fmt <= FMT_TSV) {
		columns(o);
		if (o->fmt <= FMT_TABLE)
			rc = table_head(o, &b);
	}
	for (k = 0; k < o->nq; k++) {
		r = o->q[k];
		if (o->fmt <= FMT_TABLE) {
			if (rc == 0 && o->ncol)
				table_row(o, r, &b);
		} else if (o->fmt <= FMT_TSV) {
			emit_csv(o, r, &b);
		} else if (o->fmt == FMT_JSON) {
			add_json(&b, r, JW_SPACED | JW_ASCII);
			buf_addc(&b, '\n');
		} else if (o->fmt == FMT_JSON_PRETTY) {
			buf_puts(&b, o->nrows ? ",\n" : "[\n");
			add_json(&b, r, JW_PRETTY | JW_ASCII);
		} else if (o->fmt == FMT_PLAIN) {
			emit_plain(o, r, &b);
		} else {
			emit_toml(o, r, &b);
		}
		o->nrows++;
		row_free(r);
	}
	o->nq = 0;
	rc = flush(o, &b);
	buf_free(&b);
	return rc;
}

int
out_row(struct out *o, struct row *r)
{
	order(o, r);
	if (o->nq == o->capq) {
		o->capq = o->capq ? o->capq * 2 : 64;
		o->q = xreallocarray(o->q, (size_t)o->capq, sizeof(*o->q));
	}
	o->q[o->nq++] = r;
	/* json and plain write each row at once; csv and tsv too once
	 * their columns are known (the first batch's names, or out_cols) */
	if (o->fmt == FMT_JSON || o->fmt == FMT_PLAIN ||
	    ((o->fmt == FMT_CSV || o->fmt == FMT_TSV) && (o->laid || o->fixed)))
		return out_batch(o);
	return o->err ? werr(o->err) : 0;
}

static void
freenames(char **v, int n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

int
out_end(struct out *o)
{
	struct buf b = {0};
	int err;

	if (!o)
		return 0;
	out_batch(o);
	if (o->fmt == FMT_JSON_PRETTY && o->nrows) {
		buf_puts(&b, "\n]\n");
		flush(o, &b);
	}
	buf_free(&b);
	err = o->err;
	freenames(o->order, o->norder);
	freenames(o->tail, o->ntail);
	freenames(o->col, o->ncol);
	free(o->q);
	free(o->width);
	free(o);
	return err ? werr(err) : 0;
}

int
out_one(int fmt, struct row *r)
{
	struct out *o = out_new(fmt, 1);

	out_row(o, r);
	return out_end(o) < 0 && errno != EPIPE ? -1 : 0;
}
