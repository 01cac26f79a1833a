/* contree.c - main: parse the command line (parse.c), resolve the
 * profile and the session, dispatch through the command table, and map
 * the outcome to the exit status. */
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api.h"
#include "cmds.h"
#include "config.h"
#include "contree.h"
#include "out.h"
#include "store.h"
#include "util.h"

/* ---- configuration (config.c) ---- */

/* [cli] output_format and log_level, below -f and -L. */
static void
cli_defaults(struct ctx *c, const struct clidef *d)
{
	size_t k;
	int f;

	if (d->output_format && !arg_given(c, "format") &&
	    (f = fmt_parse(d->output_format)) >= 0)
		c->fmt = f;
	if (d->log_level && !arg_given(c, "log-level"))
		for (k = 0; log_names[k]; k++)
			if (strcasecmp(d->log_level, log_names[k]) == 0)
				loglevel = (int)k;
}

/* Load the configuration into cf (config.h) and point the context at
 * it; a command that needs no profile survives a malformed auth.ini. */
static int
resolve_profile(struct ctx *c, struct config *cf, int local)
{
	struct config_in in;
	char *home = config_home(NULL);
	int r;

	config_migrate(home);
	memset(&in, 0, sizeof in);
	in.home = home;
	in.config = c->config;
	in.profile = c->profile;
	in.token = c->token;
	in.url = c->url;
	in.project = c->project;
	in.lenient = local;
	r = config_load(cf, &in);
	free(home);
	if (r < 0)
		return -1;
	cli_defaults(c, &cf->def);
	c->conf = cf;
	c->home = cf->home;
	c->config = cf->path;
	c->prof_name = cf->prof.name;
	c->prof_token = cf->prof.token;
	c->prof_url = cf->prof.url;
	c->prof_type = cf->prof.type;
	c->prof_project = cf->prof.project;
	c->prof_found = cf->found;
	c->editor_default = cf->def.editor;
	return 0;
}

/* Flush standard output at the end: a failure other than a closed pipe
 * is an error (a full disk must not pass for success). */
static int
flushout(void)
{
	/* ferror too: after a failed write musl empties the buffer, so the
	 * last fflush alone may succeed */
	if ((fflush(stdout) != 0 || ferror(stdout)) && errno != EPIPE) {
		logmsg(LOG_ERROR, "write error on standard output:");
		return EXIT_ERR;
	}
	return EXIT_OK;
}

/* SIGINT, SIGTERM and SIGHUP (unless ignored: nohup, a script's
 * background job, which must not see the terminal's Ctrl-C): the
 * command stops as on Ctrl-C (a run cancels its operation, cp removes
 * its partial file, the session log stays whole); a SIGTERM or SIGHUP
 * is then delivered again with its default action, so the caller (a
 * CI runner, timeout(1)) sees the process killed by it. */
static void
onint(int sig)
{
	if (sig != SIGINT)
		terminated = sig;
	interrupted = 1;
}

static void
catchsigs(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa, old;
	size_t i;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);  /* sigaction, not signal(): one
	                                   libc routine fewer */
	sa.sa_handler = onint;
	for (i = 0; i < LEN(sigs); i++)
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
}

/* Parse, configure, run the command; its exit status. */
static int
run(int argc, char **argv)
{
	static struct ctx ctx;
	static struct config conf;
	struct ctx *c = &ctx;
	int st;

	if (!ctx_parse(c, argc, argv, &st))
		return st == EXIT_OK ? flushout() : st;
	if (resolve_profile(c, &conf, c->cmd->flags & C_LOCAL) < 0 ||
	    (!(c->cmd->flags & C_LOCAL) && config_check(&conf) < 0)) {
		logmsg(LOG_ERROR, "%s", geterr());
		config_free(&conf);
		ctx_free_args(c);
		return EXIT_ERR;
	}
	c->session = config_session(&conf, c->session_opt, NULL);
	logmsg(LOG_DEBUG, "session key %s", c->session);

	clearerr_slot();
	errno = 0;
	st = c->cmd->fn(c);
	if (st < 0 && (geterrclass() == ERR_PIPE ||
	    (geterrclass() == ERR_NONE && errno == EPIPE))) {
		/* the reader went away (contree images | head -1): quiet */
		st = EXIT_OK;
	} else if (st < 0) {
		logmsg(LOG_ERROR, "%s", geterr());
		st = errexit();
	}
	if (interrupted && st == EXIT_ERR)
		st = EXIT_INTR;
	if (flushout() != EXIT_OK)
		st = EXIT_ERR;
	if (c->store_)
		store_close(c->store_);
	if (c->api_)
		api_free(c->api_);
	free(c->session);
	config_free(&conf);
	ctx_free_args(c);
	return st;
}

int
main(int argc, char **argv)
{
	int st;

	catchsigs();
	st = run(argc, argv);
	if (terminated) {
		struct sigaction sa;

		memset(&sa, 0, sizeof sa);
		sa.sa_handler = SIG_DFL;
		sigaction(terminated, &sa, NULL);
		raise(terminated);
	}
	return st;
}
