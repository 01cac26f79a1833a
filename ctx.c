/* ctx.c - what a command gets from its context besides its arguments
 * (parse.c): the API handle and the session store of the resolved
 * profile, opened on first use, and the no-session message. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "contree.h"
#include "prose.h"
#include "store.h"
#include "util.h"

struct api *
ctx_api(struct ctx *c)
{
	struct api_cfg cfg;
	const char *rt;
	char *from;
	int iam;

	if (c->api_)
		return c->api_;
	iam = strcmp(c->prof_type, "iam") == 0;
	if (!c->prof_token || !*c->prof_token ||
	    (iam && (!c->prof_project || !*c->prof_project))) {
		int tok = !c->prof_token || !*c->prof_token;

		seterr(prose(P_CTX_NOCRED),
		    tok ? "token" : "project", tok ? "" : "IAM ", c->prof_name);
		return NULL;
	}
	memset(&cfg, 0, sizeof cfg);
	if ((rt = arg_str(c, "request-timeout")) &&
	    api_parse_timeout(rt, &cfg.timeout_ms) < 0)
		return NULL;
	cfg.url = c->prof_url;
	cfg.token = c->prof_token;
	cfg.iam = iam;
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
	if (ctrlchar(c->session)) {     /* CONTREE_SESSION, [cli] */
		seterr("%s", prose(P_CTX_KEY_CONTROL));
		return NULL;
	}
	path = store_path(c->home, c->prof_name);
	c->store_ = store_open(path);
	free(path);
	return c->store_;
}

void
no_session(void)
{
	logmsg(LOG_ERROR, "%s", prose(P_CTX_NOSESS));
}
