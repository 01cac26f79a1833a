/* jobs.h - run work in child processes, at most max at once.
 *
 * Why processes: tls.c keeps one BearSSL engine per process and the
 * error slot is per process, so a child is a whole client with its own
 * connection, and a crash or a hang in one job cannot take down the
 * others or a long-lived parent (the MCP server).  A job talks to the
 * parent only through messages (job_send) over its own pipe; the parent
 * gets each message whole, in order, and then the job's exit status.
 *
 * In the child: stdin is /dev/null and stdout is stderr (/dev/null
 * when there is no stderr), so nothing a job prints can reach the
 * parent's stdout (a protocol stream).  A job
 * that uses an API handle of the parent calls api_forget() on it first:
 * the inherited connection belongs to the parent.  SIGINT and friends
 * keep the parent's handlers (so `interrupted` works in the child). */
#ifndef JOBS_H
#define JOBS_H

#include <stddef.h>
#include <sys/types.h>

struct jobs;

/* Runs in the child; its return value is the child's exit status. */
typedef int (*job_fn)(void *arg);
/* In the parent: message len bytes from job id (msg is NUL-terminated
 * after len; it is only valid during the call). */
typedef void (*job_msg_fn)(void *ctx, int id, const char *msg, size_t len);
/* In the parent: job id ended with status (its exit code, 128+signal
 * when killed, -1 when it could not be started: the error slot says
 * why, or when it was dropped from the queue by jobs_drop). */
typedef void (*job_end_fn)(void *ctx, int id, int status);

/* max < 1 means 1. */
struct jobs *jobs_new(int max, job_msg_fn onmsg, job_end_fn onend,
    void *ctx);
/* Kills (SIGKILL) and reaps what still runs, without callbacks. */
void jobs_free(struct jobs *js);
/* Queue a job; it starts as soon as fewer than max run.  id is the
 * caller's name for it (need not be unique). */
void jobs_add(struct jobs *js, int id, job_fn fn, void *arg);
/* Start what may start, then wait up to timeout_ms (-1: no limit) for
 * messages and endings and dispatch them; never longer than 250 ms, so
 * a signal that set `interrupted` just before poll(2) is seen by the
 * caller's loop within that.  With extrafd >= 0, also
 * returns when it is readable (or at EOF).  1 if extrafd is readable, 0
 * otherwise (also on a signal: the caller checks `interrupted`).  Does
 * not start queued jobs once `interrupted` is set. */
int jobs_step(struct jobs *js, int extrafd, int timeout_ms);
/* Step until nothing runs or is queued. */
void jobs_wait(struct jobs *js);
/* Jobs running plus queued. */
int jobs_pending(const struct jobs *js);
/* Send sig to the running jobs with this id (all of them with id < 0). */
void jobs_kill(struct jobs *js, int id, int sig);
/* Forget queued jobs (each gets its end callback with status -1). */
void jobs_drop(struct jobs *js);
/* The pid of a running job with this id, or 0. */
pid_t jobs_pid(const struct jobs *js, int id);

/* In a job: send one message to the parent.  0, or -1 (the parent is
 * gone; the job should end). */
int job_send(const void *msg, size_t len);
/* 1 in a job's process, 0 in the parent. */
int job_child(void);

/* Parallelism from CONTREE_CONCURRENCY (1..64; default 8). */
int jobs_concurrency(void);

#endif
