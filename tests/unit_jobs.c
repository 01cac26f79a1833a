/* unit_jobs.c - the child-process pool: messages whole and in order, the
 * concurrency bound, exit statuses, signals, the queue, the extra fd. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../jobs.h"
#include "../util.h"
#include "unit.h"

#define NJ 6

struct seen {
	int nmsg[NJ];
	int ordered[NJ];       /* messages of job i came as 0, 1, 2... */
	int status[NJ];
	int ended;
	int running, maxrunning;
	size_t biglen;
	int bigok;
};

static void
onmsg(void *ctx, int id, const char *msg, size_t len)
{
	struct seen *s = ctx;
	char want[32];
	size_t i;

	if (id == 99) {                 /* the big one */
		s->biglen = len;
		s->bigok = msg[len] == '\0';
		for (i = 0; i < len; i++)
			if (msg[i] != (char)('a' + i % 26))
				s->bigok = 0;
		return;
	}
	if (strcmp(msg, "start") == 0) {
		if (++s->running > s->maxrunning)
			s->maxrunning = s->running;
		return;
	}
	snprintf(want, sizeof want, "job %d msg %d", id, s->nmsg[id]);
	if (strlen(want) != len || strcmp(msg, want) != 0)
		s->ordered[id] = 0;
	s->nmsg[id]++;
}

static void
onend(void *ctx, int id, int status)
{
	struct seen *s = ctx;

	if (id >= 0 && id < NJ)
		s->status[id] = status;
	s->running--;
	s->ended++;
}

static int
sleeper(void *arg)
{
	int id = (int)(long)arg, i;
	char m[32];
	struct timespec ts = { 0, 30 * 1000000L };

	job_send("start", 5);
	for (i = 0; i < 3; i++) {
		snprintf(m, sizeof m, "job %d msg %d", id, i);
		job_send(m, strlen(m));
		nanosleep(&ts, NULL);
	}
	printf("this goes to stderr, never the parent's stdout\n");
	return id;
}

static int
big(void *arg)
{
	size_t n = (size_t)arg, i;
	char *p = malloc(n);

	for (i = 0; i < n; i++)
		p[i] = (char)('a' + i % 26);
	job_send(p, n);
	free(p);
	return 0;
}

static int
suicide(void *arg)
{
	(void)arg;
	job_send("start", 5);
	raise(SIGKILL);
	return 0;
}

static int
forever(void *arg)
{
	(void)arg;
	job_send("start", 5);
	for (;;)
		pause();
	return 0;
}

/* A job with its own pool: its job (a grandchild) outlives it. */
static void
nested_msg(void *ctx, int id, const char *msg, size_t len)
{
	(void)id;
	(void)len;
	if (strcmp(msg, "start") == 0)
		*(int *)ctx = 1;
}

static int
nested(void *arg)
{
	struct jobs *in;
	int started = 0;
	char m[32];

	(void)arg;
	in = jobs_new(1, nested_msg, NULL, &started);
	jobs_add(in, 0, forever, NULL);
	while (!started)
		jobs_step(in, -1, 1000);
	snprintf(m, sizeof m, "%ld", (long)jobs_pid(in, 0));
	job_send(m, strlen(m));
	return 7;       /* the grandchild keeps running */
}

static int
to_stdout(void *arg)
{
	(void)arg;
	return write(1, "leak", 4) == 4 ? 3 : 4;
}

static void
grand_msg(void *ctx, int id, const char *msg, size_t len)
{
	(void)id;
	(void)len;
	*(long *)ctx = atol(msg);
}

static void
grand_end(void *ctx, int id, int status)
{
	(void)id;
	((long *)ctx)[1] = status;
}

int
main(void)
{
	struct seen s;
	struct jobs *js;
	int i, p[2];

	memset(&s, 0, sizeof s);
	for (i = 0; i < NJ; i++)
		s.ordered[i] = 1;
	T_OK(!job_child());
	js = jobs_new(2, onmsg, onend, &s);
	for (i = 0; i < NJ; i++)
		jobs_add(js, i, sleeper, (void *)(long)i);
	T_INTEQ(jobs_pending(js), NJ);
	jobs_wait(js);
	T_INTEQ(jobs_pending(js), 0);
	T_INTEQ(s.ended, NJ);
	T_OK(s.maxrunning <= 2);
	T_OK(s.maxrunning == 2);        /* they did overlap */
	for (i = 0; i < NJ; i++) {
		T_INTEQ(s.nmsg[i], 3);
		T_OK(s.ordered[i]);
		T_INTEQ(s.status[i], i);
	}
	jobs_free(js);

	/* a 5 MB message comes whole */
	memset(&s, 0, sizeof s);
	js = jobs_new(4, onmsg, onend, &s);
	jobs_add(js, 99, big, (void *)(size_t)(5u << 20));
	jobs_wait(js);
	T_INTEQ(s.biglen, 5u << 20);
	T_OK(s.bigok);
	T_INTEQ(s.ended, 1);

	/* killed: 128 + signal; killed by us: the same */
	memset(&s, 0, sizeof s);
	jobs_add(js, 0, suicide, NULL);
	jobs_add(js, 1, forever, NULL);
	while (s.running < 2 && s.ended == 0)
		jobs_step(js, -1, 1000);
	T_OK(jobs_pid(js, 1) > 0);
	jobs_kill(js, 1, SIGTERM);
	jobs_wait(js);
	T_INTEQ(s.status[0], 128 + SIGKILL);
	T_INTEQ(s.status[1], 128 + SIGTERM);
	T_INTEQ(jobs_pid(js, 1), 0);

	/* dropped from the queue: -1; an extra fd wakes the step */
	memset(&s, 0, sizeof s);
	jobs_free(js);
	js = jobs_new(1, onmsg, onend, &s);
	jobs_add(js, 0, forever, NULL);
	jobs_add(js, 1, forever, NULL);
	jobs_add(js, 2, forever, NULL);
	T_OK(pipe(p) == 0);
	T_INTEQ(jobs_step(js, p[0], 50), 0);
	T_INTEQ(jobs_pending(js), 3);
	T_OK(write(p[1], "x", 1) == 1);
	T_INTEQ(jobs_step(js, p[0], 1000), 1);
	jobs_drop(js);
	T_INTEQ(s.status[1], -1);
	T_INTEQ(s.status[2], -1);
	T_INTEQ(jobs_pending(js), 1);
	jobs_kill(js, -1, SIGKILL);
	jobs_wait(js);
	T_INTEQ(s.status[0], 128 + SIGKILL);
	T_INTEQ(jobs_pending(js), 0);
	/* nothing to wait for: returns at once */
	T_INTEQ(jobs_step(js, -1, -1), 0);
	jobs_free(js);

	/* no limit is at most 250 ms: a signal that set `interrupted`
	 * just before poll(2) (here: no signal at all) is seen soon */
	{
		time_t t0;

		memset(&s, 0, sizeof s);
		js = jobs_new(1, onmsg, onend, &s);
		jobs_add(js, 0, forever, NULL);
		t0 = time(NULL);
		while (!s.running && time(NULL) - t0 < 5)  /* its "start" */
			jobs_step(js, -1, 1000);
		T_INTEQ(s.running, 1);
		interrupted = 1;
		t0 = time(NULL);
		T_INTEQ(jobs_step(js, -1, -1), 0);
		T_OK(time(NULL) - t0 < 3);
		interrupted = 0;
		jobs_kill(js, -1, SIGKILL);
		jobs_wait(js);
		T_INTEQ(s.status[0], 128 + SIGKILL);
		jobs_free(js);
	}

	/* a job's pipe is not inherited by the jobs it starts: its end is
	 * seen while its own job still runs */
	{
		long g[2] = { 0, -2 };
		time_t t0 = time(NULL);

		js = jobs_new(1, grand_msg, grand_end, g);
		jobs_add(js, 0, nested, NULL);
		while (jobs_pending(js) && time(NULL) - t0 < 5)
			jobs_step(js, -1, 200);
		T_INTEQ(g[1], 7);
		T_OK(g[0] > 0);
		if (g[0] > 0)
			kill((pid_t)g[0], SIGKILL);
		jobs_free(js);
	}

	/* with stderr closed, what a job writes to stdout still never
	 * reaches the parent's stdout */
	{
		int save1 = dup(1), save2 = dup(2), q[2], got;
		char c;

		T_OK(pipe(q) == 0);
		fflush(stdout);
		dup2(q[1], 1);
		close(q[1]);
		close(2);
		memset(&s, 0, sizeof s);
		js = jobs_new(1, onmsg, onend, &s);
		jobs_add(js, 0, to_stdout, NULL);
		jobs_wait(js);
		jobs_free(js);
		dup2(save1, 1);
		dup2(save2, 2);
		close(save1);
		close(save2);
		fcntl(q[0], F_SETFL, O_NONBLOCK);
		got = (int)read(q[0], &c, 1);
		close(q[0]);
		T_INTEQ(s.ended, 1);
		T_OK(got <= 0);         /* nothing came */
	}

		/* CONTREE_CONCURRENCY and its bounds; job_send outside a job */
	setenv("CONTREE_CONCURRENCY", "3", 1);
	T_INTEQ(jobs_concurrency(), 3);
	setenv("CONTREE_CONCURRENCY", "0", 1);
	T_INTEQ(jobs_concurrency(), 8);
	setenv("CONTREE_CONCURRENCY", "abc", 1);
	T_INTEQ(jobs_concurrency(), 8);
	unsetenv("CONTREE_CONCURRENCY");
	T_INTEQ(jobs_concurrency(), 8);
	T_INTEQ(job_send("x", 1), -1);  /* not in a job */
	return T_END("unit_jobs");
}
