/* unit_out.c - out.c through its interface: every format against
 * hand-written golden files in tests/golden/out/ (run from the repo
 * root), plus the time/duration helpers and write errors.  On a
 * mismatch the output is left in /tmp/unit_out.<golden> for diffing. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../json.h"
#include "../out.h"
#include "../util.h"
#include "unit.h"

#define GOLDEN "tests/golden/out/"

static const char *const fmts_all[] = {
	"default", "table", "csv", "tsv", "json", "json-pretty", "plain",
	"toml"
};

/* Read fd (rewound) into a new string. */
static char *
slurp(int fd, size_t *n)
{
	struct buf b = {0};
	char tmp[4096];
	ssize_t r;

	lseek(fd, 0, SEEK_SET);
	while ((r = read(fd, tmp, sizeof tmp)) > 0)
		buf_add(&b, tmp, (size_t)r);
	buf_addc(&b, '\0');
	*n = b.len - 1;
	return b.p;
}

static int
tmpfd(void)
{
	char path[] = "/tmp/unit_out.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0) {
		perror("mkstemp");
		exit(2);
	}
	unlink(path);
	return fd;
}

/* Compare got[0..n) with the golden file. */
static void
golden(const char *name, const char *got, size_t n)
{
	char path[256];
	int fd;
	size_t en, i;
	char *exp;

	snprintf(path, sizeof path, GOLDEN "%s", name);
	if ((fd = open(path, O_RDONLY)) < 0) {
		t_fail++;
		fprintf(stderr, "FAIL golden %s: cannot open (run from the "
		    "repo root)\n", path);
		return;
	}
	exp = slurp(fd, &en);
	close(fd);
	if (en == n && memcmp(exp, got, n) == 0) {
		t_pass++;
	} else {
		FILE *f;

		for (i = 0; i < n && i < en && exp[i] == got[i]; i++)
			;
		t_fail++;
		snprintf(path, sizeof path, "/tmp/unit_out.%s", name);
		if ((f = fopen(path, "wb"))) {
			fwrite(got, 1, n, f);
			fclose(f);
		}
		fprintf(stderr, "FAIL golden %s: differs at byte %zu (got %zu "
		    "bytes, want %zu); output in %s\n", name, i, n, en, path);
	}
	free(exp);
}

/* Rows are described as a list of JSON objects, one per row, batches
 * separated by NULL, the list ended by two NULLs. */
static void
rows_json(struct out *o, const char *const *objs)
{
	struct json j;
	struct row *r;

	for (; objs[0] || objs[1]; objs++) {
		if (!objs[0]) {
			T_INTEQ(out_batch(o), 0);
			continue;
		}
		if (json_parse_alloc(&j, objs[0], strlen(objs[0])) < 0) {
			fprintf(stderr, "bad test JSON: %s\n", objs[0]);
			exit(2);
		}
		r = row_new();
		row_json(r, &j, 0);
		json_free(&j);
		T_INTEQ(out_row(o, r), 0);
	}
}

/* Render objs in format fmt with pins and compare with a golden. */
static void
check_json_rows(const char *gold, const char *fmt, const char *const *head,
    const char *const *tail, const char *const *objs)
{
	int fd = tmpfd();
	struct out *o = out_new(fmt_parse(fmt), fd);
	size_t n;
	char *got;

	out_pin(o, head, tail);
	rows_json(o, objs);
	T_INTEQ(out_end(o), 0);
	got = slurp(fd, &n);
	golden(gold, got, n);
	free(got);
	close(fd);
}

#define ROWS(...) ((const char *const[]){__VA_ARGS__, NULL, NULL})
#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *const images[] = {
	"{\"uuid\": \"11111111-1111-4111-8111-111111111111\", "
	"\"tag\": \"ubuntu:latest\", \"created_at\": \"2025-06-01T10:00:00Z\"}",
	"{\"uuid\": \"22222222-2222-4222-8222-222222222222\", "
	"\"tag\": \"python:3.12-slim\", "
	"\"created_at\": \"2025-06-02T11:30:00.120331Z\"}",
	NULL, NULL
};

static void
test_images(void)
{
	static const char *const f[][2] = {
		{"table", "images.table"}, {"default", "images.table"},
		{"json", "images.json"}, {"json-pretty", "images.json-pretty"},
		{"csv", "images.csv"}, {"tsv", "images.tsv"},
		{"plain", "images.plain"}, {"toml", "images.toml"}
	};
	size_t i;

	for (i = 0; i < LEN(f); i++)
		check_json_rows(f[i][1], f[i][0], NULL, NULL, images);
}

static void
test_tz(void)
{
	const char *const *rows = ROWS(
	    "{\"uuid\": \"a\", \"created_at\": \"2025-06-01T10:00:00Z\", "
	    "\"updated_at\": \"2025-06-05T11:20:04\"}",
	    "{\"uuid\": \"b\", \"created_at\": \"2025-06-01T10:00:00+05:30\", "
	    "\"updated_at\": \"2025-12-31T23:30:00\"}");

	setenv("TZ", "ABC-2", 1);
	tzset();
	check_json_rows("tz.table", "table", NULL, NULL, rows);
	check_json_rows("tz.json", "json", NULL, NULL, rows);
	setenv("TZ", "UTC", 1);
	tzset();
}

static void
test_import(void)
{
	const char *const *tail = NAMES("error");
	static const char *const fmts[][2] = {
		{"table", "import.table"}, {"json", "import.json"},
		{"toml", "import.toml"}
	};
	size_t i;

	for (i = 0; i < LEN(fmts); i++) {
		int fd = tmpfd();
		struct out *o = out_new(fmt_parse(fmts[i][0]), fd);
		const char *op = "{\"uuid\": "
		    "\"c1282958-06b4-44aa-8a00-a34b3410d2dc\", \"kind\": "
		    "\"image_import\", \"status\": \"SUCCESS\", \"error\": null,"
		    " \"duration\": 41.3, \"created_at\": \"2025-06-05T09:00:00Z\","
		    " \"metadata\": {\"registry\": {\"url\": \"x\"}}, "
		    "\"result\": {\"image\": \"y\"}}";
		struct json j;
		struct row *r = row_new();
		size_t n;
		char *got;

		out_pin(o, NULL, tail);
		json_parse_alloc(&j, op, strlen(op));
		row_json(r, &j, 0);
		json_free(&j);
		row_str(r, "uuid", "c1282958-06b4-44aa-8a00-a34b3410d2dc");
		row_str(r, "registry_url",
		    "docker://docker.io/library/alpine:3.19");
		row_str(r, "image", "44444444-4444-4444-8444-444444444444");
		T_INTEQ(out_row(o, r), 0);
		T_INTEQ(out_batch(o), 0);
		T_INTEQ(out_end(o), 0);
		got = slurp(fd, &n);
		golden(fmts[i][1], got, n);
		free(got);
		close(fd);
	}
}

static void
test_run(void)
{
	static const char *const fmts[][2] = {
		{"json", "run.json"}, {"json-pretty", "run.json-pretty"},
		{"plain", "run.plain"}, {"toml", "run.toml"}
	};
	size_t i;

	for (i = 0; i < LEN(fmts); i++) {
		int fd = tmpfd();
		struct out *o = out_new(fmt_parse(fmts[i][0]), fd);
		const char *op = "{\"uuid\": "
		    "\"72e3c0de-0000-4000-8000-000000000001\", \"kind\": "
		    "\"instance\", \"status\": \"SUCCESS\", \"error\": null, "
		    "\"duration\": 2.5, "
		    "\"created_at\": \"2025-06-05T09:00:00+00:00\", "
		    "\"metadata\": {\"command\": \"echo\"}, \"result\": "
		    "{\"image\": \"x\"}}";
		struct json j;
		struct row *r = row_new();
		size_t n;
		char *got;

		out_pin(o, NULL, NAMES("error"));
		json_parse_alloc(&j, op, strlen(op));
		row_json(r, &j, 0);
		json_free(&j);
		row_int(r, "exit_code", 0);
		row_str(r, "image", "793b0000-0000-4000-8000-000000000002");
		row_null(r, "tag");
		row_str(r, "stdout", "hi\n");
		row_str(r, "stderr", "");
		T_INTEQ(out_row(o, r), 0);
		T_INTEQ(out_end(o), 0);
		got = slurp(fd, &n);
		golden(fmts[i][1], got, n);
		free(got);
		close(fd);
	}
}

static void
test_ls(void)
{
	int fd = tmpfd();
	struct out *o = out_new(FMT_JSON, fd);
	const char *e = "{\"path\": \"/etc/hosts\", \"size\": 220, "
	    "\"mode\": 420, \"owner\": \"root\", \"group\": \"root\", "
	    "\"mtime\": 1748772000, \"is_dir\": false, \"is_symlink\": false}";
	struct json j;
	struct row *r = row_new();
	size_t n;
	char *got;

	out_pin(o, NULL, NAMES("type"));
	row_str(r, "type", "-");         /* set first, still printed last */
	json_parse_alloc(&j, e, strlen(e));
	row_json(r, &j, 0);
	json_free(&j);
	T_INTEQ(out_row(o, r), 0);
	T_INTEQ(out_end(o), 0);
	got = slurp(fd, &n);
	golden("ls.json", got, n);
	free(got);
	close(fd);
}

/* Rows built field by field, as the session commands do. */
static void
test_sessions(void)
{
	int fd = tmpfd();
	struct out *o = out_new(FMT_DEFAULT, fd);
	struct row *r;
	size_t n;
	char *got;

	r = row_new();
	row_bool(r, "active", 1);
	row_str(r, "session_key", "myproj+7521a664");
	row_str(r, "active_branch", "main");
	row_str(r, "current_image", "0b9f6a1e-2c1d-4e7a-9a55-3f2f1c0d9e11");
	row_str(r, "updated_at", "2025-06-05T11:20:04.123456");
	out_row(o, r);
	r = row_new();
	row_bool(r, "active", 0);
	row_str(r, "session_key", "build-agent");
	row_str(r, "active_branch", "exp");
	row_str(r, "current_image", "a646952b-2fe4-4a98-815a-0a389a4756d2");
	row_time(r, "updated_at", "2025-06-04T18:02:51");
	out_row(o, r);
	T_INTEQ(out_end(o), 0);
	got = slurp(fd, &n);
	golden("sessions.table", got, n);
	free(got);
	close(fd);

	fd = tmpfd();
	o = out_new(FMT_TABLE, fd);
	r = row_new();
	row_int(r, "id", 2);
	row_str(r, "image", "11111111-1111-4111-8111-111111111111");
	row_null(r, "parent_id");
	row_str(r, "kind", "use");
	row_str(r, "title", "tag:ubuntu:latest");
	row_str(r, "operation", NULL);
	row_str(r, "created_at", "2025-06-05T09:40:44.5");
	row_str(r, "branches", "");
	out_row(o, r);
	r = row_new();
	row_int(r, "id", 3);
	row_str(r, "image", "a646952b-2fe4-4a98-815a-0a389a4756d2");
	row_int(r, "parent_id", 2);
	row_str(r, "kind", "run");
	row_str(r, "title", "uname -a");
	row_str(r, "operation", "473b32e9-3e54-48a1-82b4-4760a120b15b");
	row_str(r, "created_at", "2025-06-05T09:40:46");
	row_str(r, "branches", "main");
	out_row(o, r);
	T_INTEQ(out_end(o), 0);
	got = slurp(fd, &n);
	golden("history.table", got, n);
	free(got);
	close(fd);
}

static void
test_examples(void)
{
	const char *opr = "\"uuid\": \"473b32e9-3e54-48a1-82b4-4760a120b15b\", "
	    "\"kind\": \"instance\"";
	char show[512], ps[512];

	snprintf(show, sizeof show, "{%s, \"status\": \"SUCCESS\", \"error\": "
	    "null, \"duration\": 2.1, \"created_at\": "
	    "\"2025-06-05T09:00:00.5Z\", \"exit_code\": 0, \"image\": "
	    "\"a646952b-2fe4-4a98-815a-0a389a4756d2\", \"tag\": null}", opr);
	snprintf(ps, sizeof ps, "{%s, \"status\": \"EXECUTING\", \"error\": "
	    "null, \"duration\": 12, \"created_at\": "
	    "\"2025-06-05T09:00:00Z\", \"metadata\": {}}", opr);
	check_json_rows("show.table", "default", NULL, NAMES("error"),
	    ROWS(show));
	check_json_rows("ps.table", "table", NULL, NAMES("error"), ROWS(ps));
	check_json_rows("detach.table", "table", NULL, NULL,
	    ROWS("{\"uuid\": \"597e330e-6a4d-486c-a44e-5580c5671667\", "
	    "\"status\": \"PENDING\"}"));
	check_json_rows("build.table", "default", NULL, NULL,
	    ROWS("{\"image\": \"0205329b-6f93-4fbe-a37f-795ac1cf2465\", "
	    "\"tag\": \"demo:1\", \"session\": \"build:f65f55357d6ada4e\"}"));
	check_json_rows("auth.table", "default", NULL, NULL, ROWS(
	    "{\"name\": \"default\", \"type\": \"iam\", \"url\": "
	    "\"https://api.tokenfactory.nebius.com/sandboxes\", \"project\": "
	    "\"my-project\", \"token_sha256\": \"11a2ff949cae8b50\", "
	    "\"active\": true, \"status\": \"ok\"}",
	    "{\"name\": \"staging\", \"type\": \"jwt\", \"url\": "
	    "\"https://staging.example.net\", \"project\": \"\", "
	    "\"token_sha256\": \"c44474038d459e40\", \"active\": false, "
	    "\"status\": \"inactive\"}"));
	check_json_rows("branch.table", "default", NULL, NULL, ROWS(
	    "{\"marker\": \"\", \"branch\": "
	    "\"detached-597e330e-6a4d-486c-a44e-5580c5671667\"}",
	    "{\"marker\": \"*\", \"branch\": \"exp\"}",
	    "{\"marker\": \"\", \"branch\": \"main\"}"));
}

static void
test_wait(void)
{
	const char *const *head = NAMES("uuid", "status", "exit_code",
	    "timed_out", "duration");
	static const char *const fmts[][2] = {
		{"json", "wait.json"}, {"csv", "wait.csv"},
		{"table", "wait.table"}
	};
	size_t i;

	for (i = 0; i < LEN(fmts); i++) {
		int fd = tmpfd();
		struct out *o = out_new(fmt_parse(fmts[i][0]), fd);
		const char *a = "{\"uuid\": "
		    "\"473b32e9-3e54-48a1-82b4-4760a120b15b\", \"kind\": "
		    "\"instance\", \"status\": \"FAILED\", \"error\": \"boom\", "
		    "\"created_at\": \"2025-06-05T09:00:00Z\", "
		    "\"duration\": 125.5}";
		const char *b = "{\"uuid\": "
		    "\"597e330e-6a4d-486c-a44e-5580c5671667\", \"kind\": "
		    "\"instance\", \"status\": \"SUCCESS\", \"error\": null, "
		    "\"created_at\": \"2025-06-05T09:01:00Z\", "
		    "\"duration\": 3780}";
		struct json j;
		struct row *r;
		size_t n;
		char *got;

		out_pin(o, head, NAMES("error"));
		r = row_new();
		json_parse_alloc(&j, a, strlen(a));
		row_json(r, &j, 0);
		json_free(&j);
		row_int(r, "exit_code", 3);
		row_bool(r, "timed_out", 0);
		out_row(o, r);
		T_INTEQ(out_batch(o), 0);
		r = row_new();
		json_parse_alloc(&j, b, strlen(b));
		row_json(r, &j, 0);
		json_free(&j);
		row_int(r, "exit_code", 0);
		row_bool(r, "timed_out", 1);
		out_row(o, r);
		T_INTEQ(out_end(o), 0);
		got = slurp(fd, &n);
		golden(fmts[i][1], got, n);
		free(got);
		close(fd);
	}
}

static void
test_order(void)
{
	const char *const *rows = ROWS("{\"a\": 1, \"b\": 2}",
	    "{\"c\": 3, \"b\": 4, \"a\": 5, \"d\": 6}", "{\"d\": 7, \"c\": 8}");

	check_json_rows("order.json", "json", NULL, NULL, rows);
	check_json_rows("order.csv", "csv", NULL, NULL, rows);
}

static void
test_multiline(void)
{
	const char *const *rows = ROWS(
	    "{\"name\": \"a\", \"text\": \"line1\\nline two\", \"n\": 1}",
	    "{\"name\": \"bb\", \"text\": \"x\", \"n\": 22}");

	check_json_rows("multiline.table", "table", NULL, NULL, rows);
	check_json_rows("multiline.plain", "plain", NULL, NULL, rows);
	/* run's stdout "hi\n": the final newline adds no blank row */
	check_json_rows("trailing-newline.table", "table", NULL, NULL,
	    ROWS("{\"exit_code\": 0, \"stdout\": \"hi\\n\", \"error\": \"\"}"));
}

static void
test_quoting(void)
{
	const char *const *rows = ROWS("{\"a\": \"plain\", \"b\": \"com,ma\", "
	    "\"c\": \"q\\\"uote\", \"d\": \"cr\\rlf\\nx\", "
	    "\"e\": \"tab\\there\", \"f\": null, \"g\": 1.5, \"h\": true}");

	check_json_rows("quoting.csv", "csv", NULL, NULL, rows);
	check_json_rows("quoting.tsv", "tsv", NULL, NULL, rows);
	check_json_rows("lone.csv", "csv", NULL, NULL,
	    ROWS("{\"x\": \"\"}", "{\"x\": \"y\"}"));
}

/* table, csv, tsv: the columns are the names the rows of the first
 * batch have (a pinned name that none has is not one); every line has
 * them all; a name first seen in a later batch is left out. */
static void
test_columns(void)
{
	const char *const *rows = ROWS("{\"a\": 1}",
	    "{\"b\": \"x,y\", \"a\": 2}", "{\"c\": null}", NULL,
	    "{\"d\": 4, \"a\": 5}");

	check_json_rows("columns.csv", "csv", NULL, NULL, rows);
	check_json_rows("columns.tsv", "tsv", NULL, NULL, rows);
	check_json_rows("columns.table", "table", NULL, NULL, rows);
	check_json_rows("columns-pinned.csv", "csv", NAMES("c"), NAMES("z"),
	    rows);
}

/* out_cols: the columns are known, so each csv row is written at once,
 * in the declared order, empty where the row lacks the field. */
static void
test_cols_stream(void)
{
	int fd = tmpfd();
	struct out *o = out_new(FMT_CSV, fd);
	struct row *r = row_new();
	size_t n;
	char *got;

	out_cols(o, NAMES("x", "y", "z"), 2);
	row_int(r, "y", 1);
	T_INTEQ(out_row(o, r), 0);
	got = slurp(fd, &n);
	T_STREQ(got, "x,y\r\n,1\r\n");
	free(got);
	r = row_new();
	row_str(r, "w", "late");
	row_str(r, "x", "a\tb");
	T_INTEQ(out_row(o, r), 0);
	T_INTEQ(out_end(o), 0);
	got = slurp(fd, &n);
	T_STREQ(got, "x,y\r\n,1\r\na\tb,\r\n");
	free(got);
	close(fd);

	fd = tmpfd();
	o = out_new(FMT_TSV, fd);
	out_cols(o, NAMES("x"), 1);
	out_row(o, row_new());
	T_INTEQ(out_end(o), 0);
	got = slurp(fd, &n);
	T_STREQ(got, "x\r\n\"\"\r\n");
	free(got);
	close(fd);
}

static void
test_batches(void)
{
	check_json_rows("batches.table", "table", NULL, NULL, ROWS(
	    "{\"id\": \"1\", \"name\": \"short\", \"st\": \"ok\"}", NULL,
	    "{\"id\": \"2\", \"name\": \"a much longer name\", \"st\": \"ok\", "
	    "\"extra\": \"dropped\"}",
	    "{\"id\": \"10000\", \"name\": \"tiny\", \"st\": \"SUCCESS\"}"));
	check_json_rows("batches.json-pretty", "json-pretty", NULL, NULL,
	    ROWS("{\"a\": 1}", NULL, "{\"a\": 2}", "{\"a\": 3}", NULL));
	check_json_rows("batches.toml", "toml", NULL, NULL,
	    ROWS("{\"a\": 1}", NULL, "{\"a\": 2}", "{\"a\": 3}"));
}

static void
test_empty(void)
{
	size_t i, n;

	for (i = 0; i < LEN(fmts_all); i++) {
		int fd = tmpfd();
		struct out *o = out_new(fmt_parse(fmts_all[i]), fd);
		char *got;

		check_json_rows("empty.out", fmts_all[i], NULL, NULL,
		    (const char *const[]){NULL, NULL});
		/* empty batches write nothing either */
		out_pin(o, NAMES("a"), NAMES("b"));
		T_INTEQ(out_batch(o), 0);
		T_INTEQ(out_batch(o), 0);
		T_INTEQ(out_end(o), 0);
		got = slurp(fd, &n);
		golden("empty.out", got, n);
		free(got);
		close(fd);
	}
}

static void
test_unicode(void)
{
	const char *const *rows = ROWS("{\"s\": \"\xc3\xa9\\ud83d\\ude00"
	    "\\u007f\\\"\\\\\\t\xe2\x80\xa8\", \"na\\u00efve\": \"ok\"}");

	check_json_rows("unicode.json", "json", NULL, NULL, rows);
	check_json_rows("unicode.json-pretty", "json-pretty", NULL, NULL,
	    rows);
	check_json_rows("unicode.toml", "toml", NULL, NULL, rows);
	check_json_rows("unicode.table", "table", NULL, NULL,
	    ROWS("{\"name\": \"\xc3\xa9\xf0\x9f\x98\x80\"}",
	    "{\"name\": \"abc\"}"));
}

static void
test_typing(void)
{
	const char *const *rows = ROWS("{\"mode\": 420, "
	    "\"mtime\": 1748772000.5, \"size\": 12345678901234567890123, "
	    "\"f\": 1e5, \"g\": 0.1, \"h\": -0.0, \"n\": null, \"tag\": null, "
	    "\"error\": null, \"duration\": 3.7123456789, "
	    "\"created_at\": \"not a date\", "
	    "\"updated_at\": \"2025-06-01T10:00:00.000000000Z\", "
	    "\"arr\": [1, {\"x\": 2}], \"obj\": {\"y\": []}, \"i\": -0, "
	    "\"big\": -9223372036854775808, \"last\": \"z\"}");

	check_json_rows("typing.json", "json", NULL, NULL, rows);
	check_json_rows("typing.csv", "csv", NULL, NULL, rows);
	check_json_rows("typing.toml", "toml", NULL, NULL, rows);
}

/* One row in a format, as a string (caller frees). */
static char *
one(int fmt, struct row *r)
{
	int fd = tmpfd();
	struct out *o = out_new(fmt, fd);
	size_t n;
	char *got;

	out_row(o, r);
	out_end(o);
	got = slurp(fd, &n);
	close(fd);
	return got;
}

static void
test_setters(void)
{
	struct row *r;
	char *s;

	r = row_new();
	row_int(r, "mode", 493);
	row_int(r, "mtime", 0);
	row_float(r, "duration", 59.9);
	row_str(r, "tag", NULL);
	row_time(r, "when", "2025-06-01T10:00:00.25-01:30");
	row_time(r, "bad", "yesterday");
	row_str(r, "x", "1");
	row_int(r, "x", 2);              /* replaces, keeps position */
	row_float(r, "inf", 1e308 * 10);
	row_strn(r, "nul", "a\0b", 3);
	s = one(FMT_JSON, r);
	T_STREQ(s, "{\"mode\": \"755\", \"mtime\": "
	    "\"1970-01-01T00:00:00+00:00\", \"duration\": 59.9, \"tag\": \"\", "
	    "\"when\": \"2025-06-01T11:30:00.250000+00:00\", \"bad\": "
	    "\"yesterday\", \"x\": 2, \"inf\": null, \"nul\": \"a\\u0000b\"}\n");
	free(s);

	r = row_new();
	row_float(r, "duration", 59.9);
	row_float(r, "inf", -1e308 * 10);
	row_float(r, "d", 0.125);
	row_float(r, "e", 2.675);
	s = one(FMT_CSV, r);
	T_STREQ(s, "duration,inf,d,e\r\n59s,-inf,0.12,2.67\r\n");
	free(s);

	/* row_free of a row never given */
	r = row_new();
	row_str(r, "a", "b");
	row_free(r);
	row_free(NULL);
	T_INTEQ(out_end(NULL), 0);
}

/* Terminal behaviour through FORCE_COLOR and COLUMNS; the warning goes
 * to stderr, captured in a file and compared with fit.stderr (colour:
 * only its text is looked for, logmsg colours the tag). */
static void
fit_case(const char *gold, const char *cols, int colour,
    const char *const *rows)
{
	int efd = tmpfd(), saved;
	size_t n;
	char *got;

	setenv("FORCE_COLOR", "1", 1);
	setenv("COLUMNS", cols, 1);
	if (colour)
		unsetenv("NO_COLOR");
	else
		setenv("NO_COLOR", "1", 1);
	fflush(stderr);
	saved = dup(2);
	dup2(efd, 2);
	check_json_rows(gold, "table", NULL, NAMES("error"), rows);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	got = slurp(efd, &n);
	close(efd);
	if (colour)
		T_OK(strstr(got, "Output truncated to fit the terminal; "
		    "use --format json") != NULL);
	else
		golden("fit.stderr", got, n);
	free(got);
	unsetenv("FORCE_COLOR");
	unsetenv("NO_COLOR");
	setenv("COLUMNS", "20", 1);
}

static void
test_terminal(void)
{
	const char *const *rows = ROWS(
	    "{\"uuid\": \"473b32e9-3e54-48a1-82b4-4760a120b15b\", "
	    "\"kind\": \"instance\", \"error\": null, \"status\": "
	    "\"EXECUTING\", \"duration\": 12}", NULL,
	    "{\"uuid\": \"abc\", \"kind\": \"x\", \"status\": \"SUCCESS\", "
	    "\"duration\": 3725, \"error\": \"failed badly\"}");

	fit_case("fit.table", "40", 0, rows);
	fit_case("fit_colour.table", "40", 1, rows);
	fit_case("fit_min.table", "12", 0, ROWS(
	    "{\"a\": \"aaaaaaaaaa\", \"b\": \"bbbbbbbbbb\", \"c\": \"cc\", "
	    "\"d\": \"dddddddddd\"}"));

	setenv("FORCE_COLOR", "1", 1);
	setenv("COLUMNS", "200", 1);
	check_json_rows("palette.table", "default", NULL, NULL, ROWS(
	    "{\"a\": \"x\", \"b\": \"y\", \"c\": \"z\", \"d\": \"w\", "
	    "\"e\": \"v\", \"f\": \"u\", \"g\": true}",
	    "{\"a\": \"FAILED\", \"b\": \"PENDING\", \"c\": \"ASSIGNED\", "
	    "\"d\": \"CANCELLED\", \"e\": \"false\", \"f\": \"SUCCESS\", "
	    "\"g\": false}",
	    "{\"a\": \"EXECUTING\", \"g\": \"t\"}"));
	/* no fitting or colour for the other formats */
	check_json_rows("images.csv", "csv", NULL, NULL, images);
	unsetenv("FORCE_COLOR");
	setenv("COLUMNS", "20", 1);
}

static void
test_epipe(void)
{
	size_t i;

	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < LEN(fmts_all); i++) {
		int p[2], rc;
		struct out *o;
		struct row *r;

		if (pipe(p) < 0)
			exit(2);
		close(p[0]);
		o = out_new(fmt_parse(fmts_all[i]), p[1]);
		r = row_new();
		row_str(r, "a", "b");
		out_row(o, r);
		out_batch(o);
		r = row_new();
		row_str(r, "a", "c");
		out_row(o, r);          /* dropped, no crash */
		errno = 0;
		rc = out_end(o);
		T_INTEQ(rc, -1);
		T_INTEQ(errno, EPIPE);
		T_OK(strncmp(geterr(), "writing output: ", 16) == 0);
		close(p[1]);
	}
}

static void
test_time(void)
{
	static const struct {
		const char *in;
		long long sec;
		long ns;
	} ok[] = {
		{"1970-01-01T00:00:00Z", 0, 0},
		{"2024-01-01T12:00:00+00:00", 1704110400, 0},
		{"2026-02-16T21:25:30.265927Z", 1771277130, 265927000},
		{"2026-06-08T20:00:00.10Z", 1780948800, 100000000},
		{"2026-06-08T20:00:00.000000000Z", 1780948800, 0},
		{"2026-06-08T20:00:00.1234567891Z", 1780948800, 123456789},
		{"2025-06-01T10:00:00+05:30", 1748752200, 0},
		{"2025-06-01T10:00:00-0130", 1748777400, 0},
		{"2025-06-01T10:00:00+02", 1748764800, 0},
		{"2025-06-01T10:00:00", 1748772000, 0},
		{"2025-06-01 10:00", 1748772000, 0},
		{"2025-06-01", 1748736000, 0},
		{"2024-02-29T00:00:00Z", 1709164800, 0},
		{"1969-12-31T23:59:59Z", -1, 0},
		{"2000-03-01T00:00:00Z", 951868800, 0},
	};
	static const char *const bad[] = {
		"", "2025", "2025-06-01T", "2025-06-01T10", "2025-13-01",
		"2025-02-29", "1900-02-29", "2025-06-31", "2025-06-01T24:00:00",
		"2025-06-01T10:60:00", "2025-06-01T10:00:60",
		"2025-06-01T10:00:00.", "2025-06-01T10:00:00Zx",
		"2025-06-01T10:00:00+5:00", "2025-06-01T10:00:00+05:", "x",
		"2025-06-01T10:00:00 Z", "0000-01-01", "2025-6-1"
	};
	char b[64];
	int64_t sec;
	long ns;
	size_t i;

	for (i = 0; i < LEN(ok); i++) {
		sec = -99;
		ns = -99;
		T_INTEQ(ts_parse(ok[i].in, &sec, &ns), 0);
		T_INTEQ(sec, ok[i].sec);
		T_INTEQ(ns, ok[i].ns);
	}
	for (i = 0; i < LEN(bad); i++)
		if (ts_parse(bad[i], &sec, &ns) == 0) {
			t_fail++;
			fprintf(stderr, "FAIL ts_parse accepted \"%s\"\n",
			    bad[i]);
		} else {
			t_pass++;
		}
	/* every prefix in an exact-size buffer: ASan sees any over-read */
	{
		const char *full = "2026-06-08T20:00:00.123456789+05:30";
		size_t k, len = strlen(full);

		for (k = 0; k <= len; k++) {
			char *pre = malloc(k + 1);
			int rc;

			memcpy(pre, full, k);
			pre[k] = '\0';
			rc = ts_parse(pre, &sec, &ns);
			/* whole date, date+HH:MM, +:SS, any fraction, +HH,
			 * +HH:MM parse; the rest must not */
			T_INTEQ(rc == 0, k == 10 || k == 16 || k == 19 ||
			    (k >= 21 && k <= 29) || k == 32 || k == 35);
			free(pre);
		}
	}
	ts_iso(b, sizeof b, 1771277130, 265927999);
	T_STREQ(b, "2026-02-16T21:25:30.265927+00:00");
	ts_iso(b, sizeof b, 1780948800, 999);
	T_STREQ(b, "2026-06-08T20:00:00+00:00");
	ts_iso(b, sizeof b, -1, 0);
	T_STREQ(b, "1969-12-31T23:59:59+00:00");
	ts_local(b, sizeof b, 1748772000);
	T_STREQ(b, "2025-06-01 10:00:00");
	setenv("TZ", "XYZ+5", 1);
	tzset();
	ts_local(b, sizeof b, 1748772000);
	T_STREQ(b, "2025-06-01 05:00:00");
	setenv("TZ", "UTC", 1);
	tzset();
	ts_local(b, sizeof b, 1748772000);
	T_STREQ(b, "2025-06-01 10:00:00");

	dur_text(b, sizeof b, 0);
	T_STREQ(b, "0s");
	dur_text(b, sizeof b, 59.99);
	T_STREQ(b, "59s");
	dur_text(b, sizeof b, 60);
	T_STREQ(b, "1m0s");
	dur_text(b, sizeof b, 125);
	T_STREQ(b, "2m5s");
	dur_text(b, sizeof b, 3599.5);
	T_STREQ(b, "59m59s");
	dur_text(b, sizeof b, 3780);
	T_STREQ(b, "1h3m");
	dur_text(b, sizeof b, 90061);
	T_STREQ(b, "25h1m");
}

static void
test_names(void)
{
	size_t i;

	for (i = 0; fmt_names[i]; i++) {
		T_OK(fmt_parse(fmt_names[i]) >= 0);
		T_STREQ(fmt_name(fmt_parse(fmt_names[i])), fmt_names[i]);
		if (i)
			T_OK(strcmp(fmt_names[i - 1], fmt_names[i]) < 0);
	}
	T_INTEQ(i, 8);
	T_INTEQ(fmt_parse("json-pretty"), FMT_JSON_PRETTY);
	T_INTEQ(fmt_parse("default"), FMT_DEFAULT);
	T_INTEQ(fmt_parse("JSON"), -1);
	T_INTEQ(fmt_parse(""), -1);
	T_INTEQ(fmt_parse(NULL), -1);
}

int
main(void)
{
	/* Tables here are not terminals: COLUMNS must not matter. */
	unsetenv("FORCE_COLOR");
	unsetenv("NO_COLOR");
	setenv("COLUMNS", "20", 1);
	setenv("TZ", "UTC", 1);
	tzset();
	test_names();
	test_time();
	test_images();
	test_tz();
	test_import();
	test_run();
	test_ls();
	test_sessions();
	test_examples();
	test_wait();
	test_order();
	test_multiline();
	test_quoting();
	test_columns();
	test_cols_stream();
	test_batches();
	test_empty();
	test_unicode();
	test_typing();
	test_setters();
	test_terminal();
	test_epipe();
	return T_END("unit_out");
}
