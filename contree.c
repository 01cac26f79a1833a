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

#include <bearssl.h>

#include "api.h"
#include "cmds.h"
#include "contree.h"
#include "ini.h"
#include "out.h"
#include "store.h"
#include "util.h"

#define IAM_URL "https://api.tokenfactory.nebius.com/sandboxes"

/* ---- configuration ---- */

static char *
homedir(void)
{
	const char *h = getenv("CONTREE_HOME"), *x = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	if (h && *h)
		return xstrdup(h);
	if (x && *x)
		return xasprintf("%s/contree", x);
	return xasprintf("%s/.config/contree", home && *home ? home : ".");
}

static const char *
envnz(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* [cli] defaults: cli.ini, then auth.ini in CONTREE_HOME (auth.ini wins,
 * as the reference merges them), whatever -c says. */
static void
cli_defaults(struct ctx *c, struct ini *cli, struct ini *auth)
{
	static const char *keys[] = {
		"output_format", "log_level", "session_key", "profile", "token",
		"url", "project", "editor"
	};
	char *v[LEN(keys)];
	size_t i;

	/* the section's own keys ([DEFAULT] does not leak in: the fix of
	 * cli.md §3.3), %-interpolated like every value */
	for (i = 0; i < LEN(keys); i++) {
		struct ini *src = auth && ini_raw(auth, "cli", keys[i]) ? auth :
		    cli && ini_raw(cli, "cli", keys[i]) ? cli : NULL;

		v[i] = src ? xstrdup(ini_get(src, "cli", keys[i])) : NULL;
	}
	if (v[0] && !arg_given(c, "format") && fmt_parse(v[0]) >= 0)
		c->fmt = fmt_parse(v[0]);
	if (v[1] && !arg_given(c, "log-level")) {
		static const char *lv[] = {
			"debug", "info", "warning", "error", "critical"
		};
		size_t k;

		for (k = 0; k < LEN(lv); k++)
			if (strcasecmp(v[1], lv[k]) == 0)
				loglevel = (int)k;
	}
	if (v[2] && !c->session_opt && !envnz("CONTREE_SESSION"))
		c->session_opt = xstrdup(v[2]);
	if (v[3] && !c->profile && !envnz("CONTREE_PROFILE"))
		c->profile = xstrdup(v[3]);
	/* token/url/project: below the environment (resolve_profile) */
	c->cli_token = v[4] ? xstrdup(v[4]) : NULL;
	c->cli_url = v[5] ? xstrdup(v[5]) : NULL;
	c->cli_project = v[6] ? xstrdup(v[6]) : NULL;
	if (v[7])
		c->editor_default = xstrdup(v[7]);
	for (i = 0; i < LEN(keys); i++)
		free(v[i]);
}

static char *
dupget(struct ini *a, struct ini *b, const char *sect, const char *key)
{
	const char *v = a ? ini_get(a, sect, key) : NULL;

	if (!v && b)
		v = ini_get(b, sect, key);
	return v ? xstrdup(v) : NULL;
}

static void
strip_slashes(char *u)
{
	size_t n = u ? strlen(u) : 0;

	while (n > 0 && u[n - 1] == '/')
		u[--n] = '\0';
}

/* Resolve profile and credentials: flags > environment > config. */
static int
resolve_profile(struct ctx *c, int local)
{
	struct ini *auth, *cli;
	char *clipath, *sect, *tok, *url, *proj, *type;
	const char *cfg;
	int missing;

	c->home = homedir();
	migrate_layout(c->home);
	clipath = xasprintf("%s/cli.ini", c->home);
	cfg = c->config ? c->config : NULL;
	{
		char *def = xasprintf("%s/auth.ini", c->home);

		if (!cfg)
			c->config = cfg = def;
		else
			free(def);
	}
	cli = ini_load(clipath, &missing);
	if (!cli) {
		logmsg(LOG_WARNING, "%s", geterr());
		cli = ini_new();
	}
	auth = ini_load(cfg, &missing);
	if (!auth)
		return -1;
	logmsg(LOG_DEBUG, "config %s%s", cfg, missing ? " (missing)" : "");
	{
		/* [cli] in CONTREE_HOME/auth.ini, even when -c names another */
		char *homeauth = xasprintf("%s/auth.ini", c->home);
		struct ini *ha = strcmp(homeauth, cfg) == 0 ? auth :
		    ini_load(homeauth, NULL);

		cli_defaults(c, cli, ha);
		if (ha && ha != auth)
			ini_free(ha);
		free(homeauth);
	}
	if (c->profile)
		c->prof_name = xstrdup(c->profile);
	else if (envnz("CONTREE_PROFILE"))
		c->prof_name = xstrdup(envnz("CONTREE_PROFILE"));
	else if (ini_get(auth, "DEFAULT", "profile"))
		c->prof_name = xstrdup(ini_get(auth, "DEFAULT", "profile"));
	else
		c->prof_name = xstrdup("default");

	sect = xasprintf("profile:%s", c->prof_name);
	c->prof_found = ini_has(auth, sect) || ini_has(cli, sect);
	tok = dupget(auth, cli, sect, "token");
	url = dupget(auth, cli, sect, "url");
	proj = dupget(auth, cli, sect, "project");
	type = dupget(auth, cli, sect, "type");
	if (!c->prof_found) {
		/* [DEFAULT] values are visible in every section, but a
		 * profile only exists when its section does */
		free(tok); free(url); free(proj); free(type);
		tok = url = proj = type = NULL;
	}
	/* [cli] defaults, then the environment (design.md §1), then flags */
	if (c->cli_token) { free(tok); tok = xstrdup(c->cli_token); }
	if (c->cli_url) { free(url); url = xstrdup(c->cli_url); }
	if (c->cli_project) { free(proj); proj = xstrdup(c->cli_project); }
	if (!c->token && (envnz("CONTREE_TOKEN") || envnz("NEBIUS_API_KEY"))) {
		free(tok);
		tok = xstrdup(envnz("CONTREE_TOKEN") ? envnz("CONTREE_TOKEN") :
		    envnz("NEBIUS_API_KEY"));
	}
	if (!c->url && envnz("CONTREE_URL")) {
		free(url);
		url = xstrdup(envnz("CONTREE_URL"));
	}
	if (!c->project && (envnz("CONTREE_PROJECT") ||
	    envnz("NEBIUS_AI_PROJECT"))) {
		free(proj);
		proj = xstrdup(envnz("CONTREE_PROJECT") ?
		    envnz("CONTREE_PROJECT") : envnz("NEBIUS_AI_PROJECT"));
	}
	if (c->token) { free(tok); tok = xstrdup(c->token); }
	if (c->url) { free(url); url = xstrdup(c->url); }
	if (c->project) { free(proj); proj = xstrdup(c->project); }
	if (!c->prof_found && tok && (url || proj)) {
		/* credentials from the environment alone */
		c->prof_found = 1;
		if (!type)
			type = xstrdup(proj ? "iam" : "jwt");
	}
	if (!type)
		type = xstrdup("jwt");
	if (strcmp(type, "iam") != 0 && strcmp(type, "jwt") != 0 && !local) {
		seterr("profile '%s' in %s has an unknown type '%s' (expected iam or jwt)",
		    c->prof_name, cfg, type);
		return -1;
	}
	if (!url && strcmp(type, "iam") == 0)
		url = xstrdup(IAM_URL);
	strip_slashes(url);
	c->prof_token = tok;
	c->prof_url = url;
	c->prof_project = proj;
	c->prof_type = type;
	free(sect);
	free(clipath);
	ini_free(auth);
	ini_free(cli);
	return 0;
}

/* ---- session key (cli.md §7.2) ---- */

static char *
auto_session_key(const char *profile)
{
	static const unsigned char ns_oid[16] = {
		0x6b, 0xa7, 0xb8, 0x12, 0x9d, 0xad, 0x11, 0xd1,
		0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8
	};
	br_sha1_context sc;
	unsigned char dig[20];
	char hex[41], cwd[4096], *name, *tty, *p, *key;
	const char *dir;

	tty = isatty(0) && ttyname(0) ? xstrdup(ttyname(0)) : xstrdup("notty");
	for (p = tty; *p; p++)
		if (*p == '/')
			*p = '_';
	name = xasprintf("%s_%ld_%s", profile, (long)getppid(), tty);
	br_sha1_init(&sc);
	br_sha1_update(&sc, ns_oid, sizeof ns_oid);
	br_sha1_update(&sc, name, strlen(name));
	br_sha1_out(&sc, dig);
	hexstr(hex, dig, sizeof dig);
	if (!getcwd(cwd, sizeof cwd))
		strcpy(cwd, "/");
	dir = strrchr(cwd, '/');
	dir = dir && dir[1] ? dir + 1 : "session";
	key = xasprintf("%s+%.8s", dir, hex);
	free(name);
	free(tty);
	return key;
}

/* ---- lazily opened resources ---- */

struct api *
ctx_api(struct ctx *c)
{
	struct api_cfg cfg;

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
	cfg.url = c->prof_url;
	cfg.token = c->prof_token;
	cfg.iam = strcmp(c->prof_type, "iam") == 0;
	cfg.project = cfg.iam ? c->prof_project : NULL;
	cfg.cafile = envnz("CONTREE_CA_FILE");
	c->api_ = api_new(&cfg);
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
	struct ctx *c = &ctx;
	struct sigaction sa;
	int st;

	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = onint;
	sigaction(SIGINT, &sa, NULL);

	if (!ctx_parse(c, argc, argv, &st))
		return st == EXIT_OK ? flushout() : st;
	if (resolve_profile(c, c->cmd->flags & C_LOCAL) < 0) {
		logmsg(LOG_ERROR, "%s", geterr());
		return EXIT_ERR;
	}
	if (!(c->cmd->flags & C_LOCAL)) {
		if (!c->prof_found) {
			logmsg(LOG_ERROR, "Profile '%s' is not configured. Run 'contree auth' first.",
			    c->prof_name);
			return EXIT_ERR;
		}
		if (!c->prof_url) {
			logmsg(LOG_ERROR, "No URL configured for profile '%s'. Run 'contree auth --url URL'.",
			    c->prof_name);
			return EXIT_ERR;
		}
	}
	if (c->session_opt && *c->session_opt)
		c->session = xstrdup(c->session_opt);
	else if (envnz("CONTREE_SESSION"))
		c->session = xstrdup(envnz("CONTREE_SESSION"));
	else
		c->session = auto_session_key(c->prof_name);
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
	return st;
}
