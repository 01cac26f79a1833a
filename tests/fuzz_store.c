/* fuzz_store.c - libFuzzer target for session-log replay.
 *
 * The first input byte selects what to do with the rest:
 *   bit 0  give every line after the first a valid checksum, so the
 *          fuzzer reaches the record parser instead of the CRC check
 *          (bit 2 then leaves the last line without LF: a torn write)
 *   bit 1  after a successful open, also append records, and check that
 *          a fresh open of the file sees exactly the in-memory state
 *   bit 3  the input is the log of session "fz" in a profile whose index
 *          is empty (the index is rebuilt from it); else the input is the
 *          profile's file: an index, or a single-file log that opening
 *          migrates to one log per session
 *   bit 4  open the input as one single-file log (store_open_file), the
 *          engine every session log and the index use
 * Always, after a successful open: run every query, do with the state
 * what the commands do (copy the tip's image into a UUID buffer, walk
 * and print every session's history, resolve branches and references
 * such as @-1), check the invariants replay promises (images are UUIDs,
 * parents and branch tips are entries of the session), and check that
 * the compacted form of the state replays to the same state (through a
 * migration, unless bit 4).
 *
 * Build: make tests/fuzz_store; run: tests/fuzz_store [corpus dir].
 * Without libFuzzer: cc -DSTANDALONE ... and pass files as arguments. */
#include <fcntl.h>
#include <sys/stat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../store.h"
#include "../util.h"

static char *path;
static struct store *(*open_fn)(const char *);

static void
setup(void)
{
	const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	path = xasprintf("%s/fuzz_store.%ld.log", dir, (long)getpid());
	setenv("CONTREE_DB_TIMEOUT", "1", 1);
	loglevel = LOG_CRITICAL;        /* warnings about skipped records */
	unsetenv("CONTREE_SESSION_DB");
}

static void
put_at(const char *at, const void *p, size_t n)
{
	int fd = open(at, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || writeall(fd, p, n) < 0)
		abort();
	close(fd);
}

static void
put(const void *p, size_t n)
{
	put_at(path, p, n);
}

/* The input as the log of session "fz", under an empty index. */
static void
put_session(const void *p, size_t n)
{
	char *f = store_session_file(path, "fz"), *d = xasprintf("%s.d", path);

	mkdir(d, 0700);
	put_at(f, p, n);
	put("contree-log 2\n", 14);
	free(d);
	free(f);
}

static char *
dump(struct store *st)
{
	struct buf b = {0};

	store_dump(st, &b);
	return b.p;
}

/* Canonical lowercase UUID, the shape the commands rely on. */
static int
uuid_shape(const char *p)
{
	int i;

	for (i = 0; i < 36; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? p[i] != '-' :
		    !((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' &&
		    p[i] <= 'f')))
			return 0;
	return p[36] == '\0';
}

/* What `session show -a`, `ls` and `rollback` do with one session. */
static void
as_commands(struct store *st, const char *key)
{
	const struct store_entry *tip = store_tip(st, key), *e;
	const char *active = store_active(st, key);
	char image[37], line[256];
	struct buf out = {0};
	long long depth = 0;
	int i;

	if (!tip)               /* history but no active branch */
		return;
	memcpy(image, tip->image, 37);          /* cmd_fs.c session_path */
	if (!uuid_shape(image) || !active ||
	    store_branch_tip(st, key, active) != tip)
		abort();
	for (e = tip; e; e = e->up, depth++) {
		if (strcmp(e->key, key) || !uuid_shape(e->image) ||
		    store_entry(st, key, e->id) != e ||
		    (e->up ? e->up->id != e->parent || e->parent >= e->id :
		    e->parent != 0) || e->nfiles < 0)
			abort();
		snprintf(line, sizeof line, "%lld %s %.36s %s %s %lld\n",
		    e->id, e->kind, e->image, e->op, e->title, e->created);
		buf_puts(&out, line);
		for (i = 0; i < e->nfiles; i++)
			if (!*e->files[i].path || e->files[i].mode > 07777)
				abort();
	}
	if (depth != store_depth(st, key))
		abort();
	buf_free(&out);
}

static void
exercise(struct store *st)
{
	struct store_session *l = NULL, si;
	size_t n, i, k, m;
	long long have;

	l = store_list(st, &n);
	for (i = 0; i < n; i++) {
		const char *key = l[i].key;
		const struct store_entry **ev;
		struct store_branch *br;
		struct store_kv *env;
		struct store_pending *pd;
		struct store_file *pf;
		const char **h;

		if (!store_get(st, key, &si) || si.tip != store_tip(st, key))
			abort();
		as_commands(st, key);
		if (store_match(st, key, NULL) < 1)
			abort();
		{
			static const char *const toks[] = { "@", "@-1",
			    "HEAD~2", "@+1", "1", ":3", "HEAD", "-2", "+1" };
			const struct store_entry *e;

			for (k = 0; k < sizeof toks / sizeof *toks; k++) {
				if (store_ref(st, key, toks[k], &e) == 1 &&
				    (!e || !*e->op))
					abort();
				(void)store_target(st, key, toks[k]);
			}
		}
		(void)store_depth(st, key);
		(void)store_cwd(st, key);
		(void)store_active(st, key);
		pf = store_pending_files(st, key, &m);
		for (k = 0; k < m; k++)
			if (!pf[k].path || !pf[k].uuid)
				abort();
		free(pf);
		ev = store_entries(st, key, &m);
		for (k = 0; k < m; k++) {
			if (store_entry(st, key, ev[k]->id) != ev[k] ||
			    strlen(ev[k]->image) == 0)
				abort();
			(void)store_back(ev[k], 3, &have);
			(void)store_forward(st, ev[k], 2, &have);
		}
		free(ev);
		br = store_branches(st, key, &m);
		for (k = 0; k < m; k++)
			if (store_branch_tip(st, key, br[k].name) != br[k].tip ||
			    store_entry(st, key, br[k].tip->id) != br[k].tip)
				abort();
		free(br);
		env = store_env(st, key, &m);
		free(env);
		pd = store_pending(st, key, &m);
		free(pd);
		h = store_history(st, key, &m);
		if (m > STORE_HIST_MAX)
			abort();
		free(h);
	}
	free(l);
}

/* The compacted form of the state must replay to itself. */
static void
check_dump(const char *want)
{
	struct store *st;
	char *got;

	put(want, strlen(want));
	if (!(st = open_fn(path))) {
		fprintf(stderr, "dump does not open: %s\n%s", geterr(), want);
		abort();
	}
	got = dump(st);
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "dump differs:\n%s---\n%s", want, got);
		abort();
	}
	free(got);
	store_close(st);
}

static void
mutate(struct store *st)
{
	struct store_session *l;
	struct store_new n;
	size_t cnt;
	const char *key, *nm[] = { "FZ" }, *vl[] = { "v\tv" };
	const char *hl[] = { "echo fuzz" };
	struct store *again;
	char *a, *b;

	l = store_list(st, &cnt);
	key = cnt ? l[0].key : "fz";
	memset(&n, 0, sizeof n);
	n.kind = STORE_RUN;
	n.image = "0123abcd-0000-4000-8000-00000000cafe";
	n.title = "fuzz";
	a = dump(st);
	if (store_append(st, key, &n, NULL) < 0 ||
	    store_env_set(st, key, nm, vl, 1) < 0 ||
	    store_history_add(st, key, hl, 1) < 0) {
		/* only a session log that cannot be read refuses writes,
		 * and then nothing was recorded */
		b = dump(st);
		if (!strstr(geterr(), ".log.d/") || strcmp(a, b) != 0) {
			fprintf(stderr, "mutation failed: %s\n", geterr());
			abort();
		}
		free(a);
		free(b);
		free(l);
		return;
	}
	free(l);
	free(a);
	a = dump(st);
	if (!(again = open_fn(path))) {
		fprintf(stderr, "reopen failed: %s\n", geterr());
		abort();
	}
	b = dump(again);
	if (strcmp(a, b) != 0) {
		fprintf(stderr, "state after append differs\n");
		abort();
	}
	store_close(again);
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store *st;
	struct buf b = {0};
	unsigned flags = 0;
	char *d;

	if (!path)
		setup();
	if (size) {
		flags = data[0];
		data++;
		size--;
	}
	if (flags & 1) {
		const uint8_t *p = data, *end = data + size, *nl;
		int first = 1;

		while (p < end) {
			nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl) {
				buf_add(&b, p, (size_t)(end - p));
				if (!first && !(flags & 4))
					buf_printf(&b, "\t%08x\n", (unsigned)
					    store_crc32(0, p, (size_t)(end - p)));
				break;
			}
			buf_add(&b, p, (size_t)(nl - p));
			if (!first)
				buf_printf(&b, "\t%08x", (unsigned)
				    store_crc32(0, p, (size_t)(nl - p)));
			buf_addc(&b, '\n');
			first = 0;
			p = nl + 1;
		}
		data = (const uint8_t *)(b.p ? b.p : "");
		size = b.len;
	}
	open_fn = flags & 16 ? store_open_file : store_open;
	if ((flags & 24) == 8)
		put_session(data, size);
	else
		put(data, size);
	buf_free(&b);
	if ((st = open_fn(path))) {
		exercise(st);
		d = dump(st);
		if (flags & 2)
			mutate(st);
		store_close(st);
		check_dump(d);
		free(d);
	}
	store_remove(path);
	return 0;
}

#ifdef STANDALONE
int
main(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		struct buf b = {0};

		if (readfile(argv[i], &b) < 0) {
			fprintf(stderr, "%s\n", geterr());
			return 1;
		}
		LLVMFuzzerTestOneInput((const uint8_t *)b.p, b.len);
		buf_free(&b);
	}
	return 0;
}
#endif
