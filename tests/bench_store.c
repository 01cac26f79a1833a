/* bench_store.c - session-log numbers for the notes (never pass/fail).
 *
 *   tests/bench_store [DIR] [ENTRIES]
 *
 * Builds a log of ENTRIES (default 100,000) history entries in DIR
 * (default $TMPDIR or /tmp), then reports: replay time and peak RSS of
 * store_open (each run in a fresh child process), store_list time,
 * append latency (lock + catch-up + write + fsync), compaction time,
 * and the same open for a small everyday log (the single-file engine,
 * which every session log uses).
 *
 *   tests/bench_store -p [DIR] [ENTRIES] [SESSIONS] [BIG]
 *
 * The profile layout against the budgets of design.md §4: a single-file
 * log of ENTRIES (default 1,000,000) over SESSIONS (1,000) sessions, one
 * of them BIG (100,000) entries long, migrated by store_open; then, each
 * in a fresh process: open and read one ordinary session (CPU, peak
 * RSS), session list, open and read the big session. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../store.h"
#include "../util.h"

#define RUNS 9

/* What measure_open does in its child: open with open_fn, then read
 * session what_key (its tip and working directory) or list sessions. */
static struct store *(*open_fn)(const char *) = store_open_file;
static const char *what_key;
static int list_too;
static const char *self;
static double cpu(void);
static double now(void);

/* Peak RSS of this process image in kB (VmHWM: ru_maxrss would count
 * the process before its exec). */
static long
hwm(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = atol(line + 6);
	if (f)
		fclose(f);
	return kb;
}

/* bench_store -c PATH KEY LIST: the measured child (see measure_open). */
static int
child(char **argv)
{
	struct store *st;
	double r[4], t0, c0;
	size_t nl;

	r[2] = (double)hwm();
	c0 = cpu();
	t0 = now();
	st = store_open(argv[0]);
	if (st && *argv[1])
		(void)!store_cwd(st, argv[1]);
	if (st && argv[2][0] == '1')
		free(store_list(st, &nl));
	r[0] = now() - t0;
	r[3] = cpu() - c0;
	r[1] = (double)hwm();
	if (!st)
		return 1;
	(void)!write(1, r, sizeof r);
	return 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmpd);
	return v[n / 2];
}

static void
uuid(char *out, unsigned long long n)
{
	snprintf(out, 37, "%08llx-%04llx-4%03llx-8%03llx-%012llx",
	    n * 2654435761u & 0xffffffffu, n & 0xffff, n >> 4 & 0xfff,
	    n >> 8 & 0xfff, n * 11400714819323198485u & 0xffffffffffffu);
}

/* A realistic mix over 100 sessions: 70% runs (new image, operation,
 * command line), 10% use, 10% cd and 10% file staging (these two keep
 * the session's current image, as the commands do). */
static int
build_keys(const char *path, long entries, long nsess, long big)
{
	struct store *st = store_open_file(path);
	struct store_file f = { "/app/config.yaml", NULL, 0, 0, 0644 };
	char key[64], img[100][40], op[40], fu[40], title[128];
	const char *nm[] = { "PYTHONPATH", "DEBUG" }, *vl[] = { "/app", "1" };
	const char *hl[] = { "ls -la", "python3 -m pytest tests/ -x",
	    "cat /etc/os-release" };
	struct store_new n;
	long i;

	if (!st || store_begin(st) < 0)
		return -1;
	for (i = 0; i < entries; i++) {
		long k = i < big ? 0 : 1 + (i - big) % (nsess - 1);

		snprintf(key, sizeof key, "project%ld+%08lx", k,
		    (unsigned long)k * 2654435761u & 0xffffffffu);
		uuid(op, (unsigned long long)i + 1000003);
		memset(&n, 0, sizeof n);
		n.image = img[i % 100];
		if (i / 100 % 10 != 3 && i / 100 % 10 != 6)
			uuid(img[i % 100], (unsigned long long)i + 1);
		switch (i / 100 % 10) {
		case 0:
			n.kind = STORE_USE;
			n.title = "tag:python:3.12-slim";
			break;
		case 3:
			n.kind = STORE_CD;
			n.title = "/app/src";
			break;
		case 6:
			uuid(fu, (unsigned long long)i + 7000001);
			f.uuid = fu;
			n.kind = STORE_FILE;
			n.title = "Change file /app/config.yaml";
			n.files = &f;
			n.nfiles = 1;
			break;
		default:
			snprintf(title, sizeof title,
			    "python3 -m pytest tests/test_%ld.py -x -q", i);
			n.kind = STORE_RUN;
			n.title = title;
			n.op = op;
		}
		if (store_append(st, key, &n, NULL) < 0)
			return -1;
		if (i % 1000 == 0 && (store_env_set(st, key, nm, vl, 2) < 0 ||
		    store_history_add(st, key, hl, 3) < 0))
			return -1;
	}
	if (store_commit(st) < 0)
		return -1;
	store_close(st);
	return 0;
}

static int
build(const char *path, long entries)
{
	return build_keys(path, entries, 101, entries / 100);
}

static double
cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
	    ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
}

/* store_open in a fresh process: wall *ms, *cpums, *rss_kb (peak),
 * *base_kb (peak before the open). */
static int
measure_open(const char *path, double *ms, double *cpums, long *rss,
    long *base)
{
	int fd[2];
	pid_t pid;
	double r[4];
	int ws;

	if (pipe(fd) < 0)
		return -1;
	fflush(NULL);
	if (open_fn == store_open && (pid = fork()) == 0) {
		/* A fresh process, as a command is: nothing inherited. */
		dup2(fd[1], 1);
		execl(self, self, "-c", path, what_key ? what_key : "",
		    list_too ? "1" : "0", (char *)NULL);
		_exit(127);
	} else if (open_fn != store_open && (pid = fork()) == 0) {
		struct rusage ru;
		struct store *st;
		double t0, c0;

		getrusage(RUSAGE_SELF, &ru);
		r[2] = (double)ru.ru_maxrss;
		c0 = cpu();
		t0 = now();
		st = open_fn(path);
		if (st && what_key)
			(void)!store_cwd(st, what_key);
		if (st && what_key == NULL && list_too) {
			size_t nl;

			free(store_list(st, &nl));
		}
		r[0] = now() - t0;
		r[3] = cpu() - c0;
		getrusage(RUSAGE_SELF, &ru);
		r[1] = (double)ru.ru_maxrss;
		if (!st)
			_exit(1);
		(void)!write(fd[1], r, sizeof r);
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], r, sizeof r) != (ssize_t)sizeof r) {
		close(fd[0]);
		waitpid(pid, &ws, 0);
		return -1;
	}
	close(fd[0]);
	waitpid(pid, &ws, 0);
	*ms = r[0];
	*cpums = r[3];
	*rss = (long)r[1];
	*base = (long)r[2];
	return 0;
}

static void
report_open(const char *what, const char *path)
{
	double t[RUNS], c[RUNS], cm, tm;
	long rss = 0, base = 0, r, b;
	struct stat sb;
	int i;

	for (i = 0; i < RUNS; i++) {
		if (measure_open(path, &t[i], &c[i], &r, &b) < 0) {
			printf("bench_store: %s: open failed\n", what);
			return;
		}
		if (r > rss)
			rss = r;
		base = b;
	}
	stat(path, &sb);
	cm = median(c, RUNS);
	tm = median(t, RUNS);
	printf("bench_store: open %s (%.1f MB file): CPU median %.2f ms "
	    "(min %.2f); wall median %.2f ms (min %.2f); peak RSS %.1f MB "
	    "(%.1f MB before the open)\n", what, sb.st_size / 1e6,
	    cm, c[0], tm, t[0], rss / 1024.0,
	    base / 1024.0);
}

/* How fast this machine is at what replay spends its time on: CRC-32
 * of 16 MB (as replay computes it, and by the portable table), and
 * first touch of 20 MB of fresh memory (malloc, 4 kB pages) in a new
 * process. */
static void
yardstick(void)
{
	size_t n = 16 << 20;
	char *p = xmalloc(n);
	double c0, crc, crct, touch = 0;
	int fd[2];
	pid_t pid;
	int ws;

	memset(p, 'x', n);
	c0 = cpu();
	(void)!store_crc32(0, p, n);
	crc = cpu() - c0;
	c0 = cpu();
	(void)!store_crc32_portable(0, p, n);
	crct = cpu() - c0;
	free(p);
	if (pipe(fd) == 0) {
		fflush(NULL);
		if ((pid = fork()) == 0) {
			double t0 = cpu(), r;
			char *q = xmalloc(20 << 20);

			memset(q, 1, 20 << 20);
			r = cpu() - t0 + q[4096] - 1;
			(void)!write(fd[1], &r, sizeof r);
			_exit(0);
		}
		close(fd[1]);
		if (read(fd[0], &touch, sizeof touch) != sizeof touch)
			touch = -1;
		close(fd[0]);
		waitpid(pid, &ws, 0);
	}
	printf("bench_store: machine: CRC-32 of 16 MB %.1f ms CPU (by table "
	    "alone %.1f ms); first touch of 20 MB %.1f ms CPU\n", crc, crct,
	    touch);
}

/* Median CPU and wall, and peak RSS, of measure_open (as set up). */
static int
medians(const char *path, double *cm, double *tm, long *rss)
{
	double t[RUNS], c[RUNS];
	long r, b;
	int i;

	*rss = 0;
	for (i = 0; i < RUNS; i++) {
		if (measure_open(path, &t[i], &c[i], &r, &b) < 0)
			return -1;
		if (r > *rss)
			*rss = r;
	}
	*cm = median(c, RUNS);
	*tm = median(t, RUNS);
	return 0;
}

static void
verdict(const char *what, double cm, double tm, long rss, double cbudget,
    double wbudget, double rbudget)
{
	int over = (cbudget > 0 && cm > cbudget) ||
	    (wbudget > 0 && tm > wbudget) ||
	    (rbudget > 0 && rss / 1024.0 > rbudget);

	printf("bench_store: %-44s CPU %6.2f ms  wall %6.2f ms  peak RSS "
	    "%5.2f MB  (budget", what, cm, tm, rss / 1024.0);
	if (cbudget > 0)
		printf(" CPU < %.0f ms", cbudget);
	if (wbudget > 0)
		printf(" wall < %.0f ms", wbudget);
	if (rbudget > 0)
		printf(", RSS < %.0f MB", rbudget);
	printf(") %s\n", over ? "OVER" : "ok");
}

static int
profile_bench(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");
	const char *dir = argc > 0 ? argv[0] : tmp && *tmp ? tmp : "/tmp";
	long entries = argc > 1 ? atol(argv[1]) : 1000000;
	long nsess = argc > 2 ? atol(argv[2]) : 1000;
	long big = argc > 3 ? atol(argv[3]) : 100000;
	char *d = xasprintf("%s/bench_store.%ld", dir, (long)getpid());
	char *path = xasprintf("%s/p.log", d), bigkey[64], onekey[64];
	struct store_new n;
	struct store *st;
	struct stat sb;
	double t0, c0, cm, tm, lat[100];
	long rss;
	int i;

	if (nsess < 2 || big >= entries) {
		fprintf(stderr, "bench_store: need 2 sessions and BIG < ENTRIES\n");
		return 1;
	}
	snprintf(bigkey, sizeof bigkey, "project0+%08lx", 0ul);
	snprintf(onekey, sizeof onekey, "project%ld+%08lx", nsess / 2,
	    (unsigned long)(nsess / 2) * 2654435761u & 0xffffffffu);
	t0 = now();
	if (build_keys(path, entries, nsess, big) < 0) {
		fprintf(stderr, "bench_store: %s\n", geterr());
		return 1;
	}
	stat(path, &sb);
	printf("bench_store: built a single-file log of %ld entries over %ld "
	    "sessions (%.0f MB, one of %ld entries) in %.0f ms\n", entries,
	    nsess, sb.st_size / 1e6, big, now() - t0);
	t0 = now();
	c0 = cpu();
	if (!(st = store_open(path))) {
		fprintf(stderr, "bench_store: %s\n", geterr());
		return 1;
	}
	store_close(st);
	stat(path, &sb);
	printf("bench_store: migration to one log per session: wall %.0f ms, "
	    "CPU %.0f ms; index %.1f kB\n", now() - t0, cpu() - c0,
	    sb.st_size / 1e3);
	open_fn = store_open;
	what_key = onekey;
	if (medians(path, &cm, &tm, &rss) == 0)
		verdict("open + read one session (~900 entries)", cm, tm, rss,
		    5, 0, 4);
	what_key = NULL;
	list_too = 1;
	if (medians(path, &cm, &tm, &rss) == 0)
		verdict("open + session list (1,000 sessions)", cm, tm, rss, 0,
		    20, 0);
	list_too = 0;
	what_key = bigkey;
	if (medians(path, &cm, &tm, &rss) == 0)
		verdict("open + read the 100,000-entry session", cm, tm, rss, 0,
		    50, 0);
	memset(&n, 0, sizeof n);
	n.kind = STORE_RUN;
	n.image = "0b9f6a1e-2c1d-4e7a-9a55-3f2f1c0d9e11";
	n.title = "make test";
	st = store_open(path);
	for (i = 0; st && i < 100; i++) {
		t0 = now();
		if (store_append(st, onekey, &n, NULL) < 0) {
			fprintf(stderr, "bench_store: %s\n", geterr());
			return 1;
		}
		lat[i] = now() - t0;
	}
	store_close(st);
	qsort(lat, 100, sizeof *lat, cmpd);
	printf("bench_store: append (index + session log, two fsyncs) on %s: "
	    "median %.2f ms, p90 %.2f ms\n", dir, lat[50], lat[90]);
	if (!getenv("BENCH_KEEP"))
		store_remove(path);
	rmdir(d);
	free(path);
	free(d);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");
	const char *dir = argc > 1 ? argv[1] : tmp && *tmp ? tmp : "/tmp";
	long entries = argc > 2 ? atol(argv[2]) : 100000;
	char *big, *small, *d;
	struct store *st;
	struct store_session *l;
	struct store_new n;
	double t[200], t0, c0;
	size_t cnt;
	int i;

	self = argv[0];
	if (argc > 4 && strcmp(argv[1], "-c") == 0)
		return child(argv + 2);
	if (argc > 1 && strcmp(argv[1], "-p") == 0)
		return profile_bench(argc - 2, argv + 2);

	d = xasprintf("%s/bench_store.%ld", dir, (long)getpid());
	big = xasprintf("%s/big.log", d);
	small = xasprintf("%s/small.log", d);
	t0 = now();
	if (build(big, entries) < 0 || build(small, 50) < 0) {
		fprintf(stderr, "bench_store: %s\n", geterr());
		return 1;
	}
	printf("bench_store: built %ld entries in %.0f ms (one transaction)\n",
	    entries, now() - t0);
	report_open("100,000-entry log", big);
	report_open("50-entry log", small);

	st = store_open(big);
	for (i = 0; i < RUNS; i++) {
		t0 = now();
		l = store_list(st, &cnt);
		t[i] = now() - t0;
		free(l);
	}
	printf("bench_store: store_list of %zu sessions: median %.3f ms\n",
	    cnt, median(t, RUNS));
	memset(&n, 0, sizeof n);
	n.kind = STORE_RUN;
	n.image = "0b9f6a1e-2c1d-4e7a-9a55-3f2f1c0d9e11";
	n.title = "make test";
	n.op = "473b32e9-3e54-48a1-82b4-4760a120b15b";
	for (i = 0; i < 200; i++) {
		t0 = now();
		if (store_append(st, "project1+9e3779b1", &n, NULL) < 0) {
			fprintf(stderr, "bench_store: %s\n", geterr());
			return 1;
		}
		t[i] = now() - t0;
	}
	qsort(t, 200, sizeof *t, cmpd);
	printf("bench_store: append (lock, catch up, write, fsync) on %s: "
	    "median %.2f ms, p90 %.2f ms, max %.2f ms\n", dir, t[100], t[180],
	    t[199]);
	t0 = now();
	c0 = cpu();
	if (store_compact(st) < 0)
		fprintf(stderr, "bench_store: %s\n", geterr());
	printf("bench_store: compaction of %ld entries: wall %.0f ms, "
	    "CPU %.0f ms\n", entries + 200, now() - t0, cpu() - c0);
	store_close(st);
	yardstick();
	if (!getenv("BENCH_KEEP"))      /* keep the big log for profiling */
		unlink(big);
	unlink(small);
	rmdir(d);
	free(big);
	free(small);
	free(d);
	return 0;
}
