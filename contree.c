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

	if (d->output_format && !arg_given(c, "format") &&
	    fmt_parse(d->output_format) >= 0)
		c->fmt = fmt_parse(d->output_format);
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

/* ---- lazily opened resources ---- */

struct api *
ctx_api(struct ctx *c)
{
	struct api_cfg cfg;
	const char *rt;
	char *from;

	if (c->api_)
		return c->api_;
	if (!c->prof_token || !*c->prof_token) {
		seterr("API 0: no token configured for profile '%s'; run 'contree auth'",
		    c->prof_name);
		return NULL;
	}
	if (strcmp(c->prof_type, "iam") == 0 &&
	    (!c->prof_project || !*c->prof_project)) {
		seterr("API 0: no project configured for IAM profile '%s'; run 'contree auth'",
		    c->prof_name);
		return NULL;
	}
	memset(&cfg, 0, sizeof cfg);
	if ((rt = arg_str(c, "request-timeout")) &&
	    api_parse_timeout(rt, &cfg.timeout_ms) < 0)
		return NULL;
	cfg.url = c->prof_url;
	cfg.token = c->prof_token;
	cfg.iam = strcmp(c->prof_type, "iam") == 0;
	cfg.project = cfg.iam ? c->prof_project : NULL;
	cfg.cafile = config_env(NULL, "CONTREE_CA_FILE");
	if (c->token)
		from = xstrdup("--token");
	else if (c->conf && c->conf->env_token)
		from = xasprintf("$%s", c->conf->env_token);
	else
		from = xasprintf("profile '%s' in %s", c->prof_name,
		    c->config ? c->config : "auth.ini");
	cfg.token_from = from;
	c->api_ = api_new(&cfg);
	free(from);
	return c->api_;
}

struct store *
ctx_store(struct ctx *c)
{
	char *path;

	if (c->store_)
		return c->store_;
	path = store_path(c->home, c->prof_name);
	c->store_ = store_open(path);
	free(path);
	return c->store_;
}

void
no_session(void)
{
	logmsg(LOG_ERROR, "No active session. Start one with 'contree use IMAGE' (automated agents: read 'contree agent' first).");
}

static int
flushout(void)
{
	if (fflush(stdout) != 0 && errno != EPIPE) {
		logmsg(LOG_ERROR, "write error on standard output:");
		return EXIT_ERR;
	}
	return EXIT_OK;
}

static void
onint(int sig)
{
	(void)sig;
	interrupted = 1;
}

int
main(int argc, char **argv)
{
	static struct ctx ctx;
	static struct config conf;
	struct ctx *c = &ctx;
	struct sigaction sa;
	int st;

	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = onint;
	sigaction(SIGINT, &sa, NULL);

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
