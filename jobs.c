/* jobs.c - a small pool of child processes with framed messages back.
 * A frame is a 4-byte little-endian length and that many bytes. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jobs.h"
#include "util.h"

#define MAXFRAME (64u << 20)

struct job {
	int id;
	job_fn fn;
	void *arg;
	pid_t pid;
	int fd;             /* read end, -1 when queued */
	struct buf in;
	struct job *next;
};

struct jobs {
	int max, nrun;
	job_msg_fn onmsg;
	job_end_fn onend;
	void *ctx;
	struct job *run;    /* running, newest first */
	struct job *queue, **qtail;
};

static int childfd = -1;

struct jobs *
jobs_new(int max, job_msg_fn onmsg, job_end_fn onend, void *ctx)
{
	struct jobs *js = xcalloc(1, sizeof *js);

	js->max = max < 1 ? 1 : max;
	js->onmsg = onmsg;
	js->onend = onend;
	js->ctx = ctx;
	js->qtail = &js->queue;
	return js;
}

static void
job_free(struct job *j)
{
	buf_free(&j->in);
	free(j);
}

void
jobs_free(struct jobs *js)
{
	struct job *j, *n;

	if (!js)
		return;
	for (j = js->run; j; j = n) {
		n = j->next;
		kill(j->pid, SIGKILL);
		close(j->fd);
		while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
			;
		job_free(j);
	}
	for (j = js->queue; j; j = n) {
		n = j->next;
		job_free(j);
	}
	free(js);
}

void
jobs_add(struct jobs *js, int id, job_fn fn, void *arg)
{
	struct job *j = xcalloc(1, sizeof *j);

	j->id = id;
	j->fn = fn;
	j->arg = arg;
	j->fd = -1;
	*js->qtail = j;
	js->qtail = &j->next;
}

int
job_child(void)
{
	return childfd >= 0;
}

int
job_send(const void *msg, size_t len)
{
	unsigned char hdr[4];
	const unsigned char *p;
	size_t off, n;
	ssize_t w;
	int part;

	if (childfd < 0 || len > MAXFRAME)
		return -1;
	hdr[0] = len & 255;
	hdr[1] = (len >> 8) & 255;
	hdr[2] = (len >> 16) & 255;
	hdr[3] = (len >> 24) & 255;
	for (part = 0; part < 2; part++) {
		p = part ? msg : hdr;
		n = part ? len : 4;
		for (off = 0; off < n; off += (size_t)w) {
			w = write(childfd, p + off, n - off);
			if (w < 0 && errno == EINTR)
				w = 0;
			else if (w <= 0)
				return -1;
		}
	}
	return 0;
}

/* In the new child: only our own pipe, no stdin, stdout to stderr. */
static void
child_run(struct jobs *js, struct job *j, int wfd)
{
	struct job *o;
	int fd, rc;

	for (o = js->run; o; o = o->next)
		close(o->fd);
	if (childfd >= 0)       /* a job's job: its parent's pipe is not ours */
		close(childfd);
	childfd = wfd;
	if ((fd = open("/dev/null", O_RDONLY)) >= 0) {
		dup2(fd, 0);
		if (fd > 0)
			close(fd);
	}
	/* with no stderr (2>&-) stdout goes nowhere, never to the parent's */
	if (dup2(2, 1) < 0 && (fd = open("/dev/null", O_WRONLY)) >= 0) {
		dup2(fd, 1);
		if (fd > 1)
			close(fd);
	}
	rc = j->fn(j->arg);
	fflush(NULL);
	_exit(rc & 255);
}

static void
start(struct jobs *js, struct job *j)
{
	int p[2];

	if (pipe(p) < 0) {
		seterrc(ERR_IO, "pipe: %s", strerror(errno));
		goto fail;
	}
	fflush(NULL);
	if ((j->pid = fork()) < 0) {
		seterrc(ERR_IO, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		goto fail;
	}
	if (j->pid == 0) {
		close(p[0]);
		child_run(js, j, p[1]);
	}
	close(p[1]);
	fcntl(p[0], F_SETFD, FD_CLOEXEC);
	j->fd = p[0];
	j->next = js->run;
	js->run = j;
	js->nrun++;
	return;
fail:
	if (js->onend)
		js->onend(js->ctx, j->id, -1);
	job_free(j);
}

static void
start_queued(struct jobs *js)
{
	struct job *j;

	while (js->queue && js->nrun < js->max && !interrupted) {
		j = js->queue;
		if (!(js->queue = j->next))
			js->qtail = &js->queue;
		j->next = NULL;
		start(js, j);
	}
}

/* Hand every whole frame in j->in to the caller. */
static void
dispatch(struct jobs *js, struct job *j)
{
	const unsigned char *p;
	size_t off = 0, len;

	while (j->in.len - off >= 4) {
		p = (const unsigned char *)j->in.p + off;
		len = p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 |
		    (size_t)p[3] << 24;
		if (j->in.len - off - 4 < len)
			break;
		if (js->onmsg) {
			/* a NUL after the message while the callee looks */
			char *m = j->in.p + off + 4, save = m[len];

			m[len] = '\0';
			js->onmsg(js->ctx, j->id, m, len);
			m[len] = save;
		}
		off += 4 + len;
	}
	if (off) {
		memmove(j->in.p, j->in.p + off, j->in.len - off);
		j->in.len -= off;
	}
}

/* The job's pipe is closed: reap it and report. */
static void
finish(struct jobs *js, struct job *j)
{
	struct job **pp;
	int st = 0, status;

	for (pp = &js->run; *pp != j; pp = &(*pp)->next)
		;
	*pp = j->next;
	js->nrun--;
	close(j->fd);
	while (waitpid(j->pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st))
		status = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		status = 128 + WTERMSIG(st);
	else
		status = 1;
	if (js->onend)
		js->onend(js->ctx, j->id, status);
	job_free(j);
}

/* Read what job j has for us; 1 when its pipe is done. */
static int
drain(struct jobs *js, struct job *j)
{
	ssize_t n;

	buf_grow(&j->in, 65536);
	n = read(j->fd, j->in.p + j->in.len, 65536);
	if (n < 0)
		return errno != EINTR && errno != EAGAIN;
	if (n == 0)
		return 1;
	j->in.len += (size_t)n;
	j->in.p[j->in.len] = '\0';
	dispatch(js, j);
	if (j->in.len >= 4) {
		const unsigned char *p = (const unsigned char *)j->in.p;
		size_t len = p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 |
		    (size_t)p[3] << 24;

		if (len > MAXFRAME) {   /* a job gone wrong: stop it */
			kill(j->pid, SIGKILL);
			return 1;
		}
	}
	return 0;
}

int
jobs_step(struct jobs *js, int extrafd, int timeout_ms)
{
	struct pollfd *pfd;
	struct job **jv, *j;
	int n = 0, i, rc, extra = 0;

	start_queued(js);
	pfd = xcalloc((size_t)js->nrun + 1, sizeof *pfd);
	jv = xcalloc((size_t)js->nrun + 1, sizeof *jv);
	for (j = js->run; j; j = j->next) {
		pfd[n].fd = j->fd;
		pfd[n].events = POLLIN;
		jv[n++] = j;
	}
	if (extrafd >= 0) {
		pfd[n].fd = extrafd;
		pfd[n].events = POLLIN;
	}
	if (n == 0 && extrafd < 0) {
		free(pfd);
		free(jv);
		return 0;
	}
	if (timeout_ms < 0 || timeout_ms > WAIT_SLICE_MS)
		timeout_ms = WAIT_SLICE_MS;
	rc = poll(pfd, (nfds_t)n + (extrafd >= 0), timeout_ms);
	if (rc > 0) {
		for (i = 0; i < n; i++)
			if (pfd[i].revents && drain(js, jv[i]))
				finish(js, jv[i]);
		if (extrafd >= 0 && pfd[n].revents)
			extra = 1;
	}
	free(pfd);
	free(jv);
	start_queued(js);
	return extra;
}

void
jobs_wait(struct jobs *js)
{
	while (js->nrun || (js->queue && !interrupted))
		jobs_step(js, -1, -1);
}

int
jobs_pending(const struct jobs *js)
{
	const struct job *j;
	int n = js->nrun;

	for (j = js->queue; j; j = j->next)
		n++;
	return n;
}

void
jobs_kill(struct jobs *js, int id, int sig)
{
	struct job *j;

	for (j = js->run; j; j = j->next)
		if (id < 0 || j->id == id)
			kill(j->pid, sig);
}

void
jobs_drop(struct jobs *js)
{
	struct job *j;

	while ((j = js->queue)) {
		js->queue = j->next;
		if (js->onend)
			js->onend(js->ctx, j->id, -1);
		job_free(j);
	}
	js->qtail = &js->queue;
}

pid_t
jobs_pid(const struct jobs *js, int id)
{
	const struct job *j;

	for (j = js->run; j; j = j->next)
		if (j->id == id)
			return j->pid;
	return 0;
}

int
jobs_concurrency(void)
{
	const char *s = getenv("CONTREE_CONCURRENCY");
	long long v;

	if (!s || !*s)
		return 8;
	if (parse_ll(s, 1, 64, &v, "CONTREE_CONCURRENCY") < 0) {
		logmsg(LOG_WARNING, "CONTREE_CONCURRENCY=%s is not a number from 1 to 64; using 8",
		    s);
		clearerr_slot();
		return 8;
	}
	return (int)v;
}
