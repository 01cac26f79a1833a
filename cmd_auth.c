/* cmd_auth.c - profiles in auth.ini (cli.md §3.2, §9.20, §9.21): auth,
 * auth list, auth switch, auth remove.  Reading the files is config.c's
 * job; this file writes them. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "cmds.h"
#include "config.h"
#include "contree.h"
#include "files.h"
#include "ini.h"
#include "jobs.h"
#include "json.h"
#include "out.h"
#include "prose.h"
#include "store.h"
#include "util.h"

#define PREFIX "profile:"

/* Value of key in [sect] only (no DEFAULT fallback), interpolated;
 * NULL if the section does not have it.  Storage: ini's. */
static const char *
own(struct ini *ini, const char *sect, const char *key)
{
	if (!ini || !ini_raw(ini, sect, key))
		return NULL;
	return ini_get(ini, sect, key);
}

/* Put the profile keys of sect in the order of cli.md §3.2: token, url,
 * type, project after any other keys. */
static void
normalise(struct ini *ini, const char *sect)
{
	static const char *const keys[] = { "token", "url", "type", "project" };
	char *v[LEN(keys)];
	size_t i;

	for (i = 0; i < LEN(keys); i++) {
		const char *s = own(ini, sect, keys[i]);

		v[i] = s ? xstrdup(s) : NULL;
		ini_unset(ini, sect, keys[i]);
	}
	for (i = 0; i < LEN(keys); i++) {
		if (v[i] && *v[i])
			ini_set(ini, sect, keys[i], v[i]);
		free(v[i]);
	}
}

static int
nprofiles(struct ini *ini)
{
	const char *s;
	int i, n = 0;

	for (i = 0; (s = ini_section(ini, i)); i++)
		n += profile_name(s) != NULL;
	return n;
}

/* Write ini to path: [DEFAULT] profile = active, profile sections in
 * their canonical key order; directory created (0700) if needed. */
static int
save(struct ini *ini, const char *path, const char *active)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	char *act = xstrdup(active);
	const char *s;
	int i, r;

	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdirs(dir, 0700) < 0) {
			free(dir);
			free(act);
			return -1;
		}
	}
	free(dir);
	ini_set(ini, "DEFAULT", "profile", act);
	free(act);
	for (i = 0; (s = ini_section(ini, i)); i++)
		if (profile_name(s) != NULL)
			normalise(ini, s);
	r = ini_save(ini, path);
	if (r == 0)
		chmod(path, 0600);
	return r;
}

/* A y/N question from fmt with a, b, a (--force answers yes); on a no,
 * "Aborted." is printed.  1 yes, 0 no. */
static int
confirm(struct ctx *c, const char *fmt, const char *a, const char *b)
{
	char *q;
	int yes = 1;

	if (!arg_flag(c, "force")) {
		q = xasprintf(fmt, a, b, a);
		yes = ask_yn(q);
		free(q);
	}
	if (!yes)
		printf("Aborted.\n");
	return yes;
}

/* ---- auth ---- */

/* The token, URL or project from the option, else the environment
 * variables, else NULL; *from names the variable it came from. */
static const char *
pick(struct ctx *c, const char *opt, const char *env1, const char *env2,
    const char **from)
{
	const char *v = arg_str(c, opt);

	*from = NULL;
	if (v && *v)
		return v;
	if ((v = config_env(NULL, env1))) {
		*from = env1;
		return v;
	}
	if (env2 && (v = config_env(NULL, env2))) {
		*from = env2;
		return v;
	}
	return NULL;
}

/* GET /v1/whoami with these credentials.  1 list permission, 0 not,
 * -1 error (slot set: API error, network error or bad reply). */
static int
whoami(const char *url, const char *token, const char *project, int iam,
    int probe)
{
	struct api_cfg cfg;
	struct api_resp r;
	struct buf body = {0};
	struct json j;
	struct api *a;
	int rc, t;

	memset(&cfg, 0, sizeof cfg);
	cfg.url = url;
	cfg.token = token;
	cfg.iam = iam;
	cfg.project = iam ? project : NULL;
	cfg.cafile = config_env(NULL, "CONTREE_CA_FILE");
	if (probe) {
		cfg.noretry = 1;
		cfg.timeout_ms = 2000;
	}
	if (!(a = api_new(&cfg)))
		return -1;
	memset(&r, 0, sizeof r);
	r.body = &body;
	rc = api_call(a, "GET", "/whoami", NULL, NULL, 0, &r);
	api_free(a);
	if (rc < 0)
		goto out;
	rc = -1;
	if (!body.p || json_parse_alloc(&j, body.p, body.len) < 0) {
		seterr(prose(P_AUTH_UNEXPECTED_REPLY), "JSON");
		goto out;
	}
	if (j.tok[0].type != JSON_OBJECT)
		seterr(prose(P_AUTH_UNEXPECTED_REPLY),
		    "a JSON object");
	else
		rc = (t = json_path(&j, 0, "permissions", "list", (char *)NULL)) >=
		    0 && json_bool(&j, t) == 1;
	json_free(&j);
out:
	buf_free(&body);
	return rc;
}

/* The credentials file cannot be read (the slot says path:line): say
 * so and, with -y or a yes, start from an empty one.  NULL if refused
 * ("Aborted." printed). */
static struct ini *
fresh(struct ctx *c, const char *path, const char *name)
{
	logmsg(LOG_WARNING, "%s", geterr());
	if (!confirm(c, prose(P_AUTH_REPLACE),
	    path, name))
		return NULL;
	return ini_new();
}

/* Copy the unreadable file to PATH.bak (0600) before it is replaced. */
static int
backup(const char *path)
{
	struct buf b = {0};
	char *bak = xasprintf("%s.bak", path);
	int r = readfile(path, &b);

	if (r == 0)
		r = writefile_atomic(bak, b.p ? b.p : "", b.len, 0600);
	if (r == 0)
		logmsg(LOG_INFO, "The old %s is kept as %s", path, bak);
	if (b.p)
		memzero(b.p, b.len);
	buf_free(&b);
	free(bak);
	return r;
}

int
cmd_auth(struct ctx *c)
{
	const char *name = arg_str(c, "profile"), *type = arg_str(c, "type");
	const char *path = c->config, *from, *v, *active;
	char *sect, *token = NULL, *url = NULL, *project = NULL;
	char line[8192];
	struct ini *ini;
	int iam = strcmp(type, "iam") == 0, exists, rc = -1, perm, broken = 0, k;

	if (!name || !*name) {
		seterr("profile name must not be empty");
		return -1;
	}
	if (!(ini = ini_load(path, NULL))) {
		if (!(ini = fresh(c, path, name)))
			return EXIT_ERR;
		broken = 1;
	}
	sect = xasprintf(PREFIX "%s", name);
	exists = ini_has(ini, sect);
	if (exists && !confirm(c, prose(P_AUTH_PROFILE_ALREADY),
	    name, NULL)) {
		rc = EXIT_ERR;
		goto done;
	}
	logmsg(LOG_INFO, "%s token for profile '%s' (type %s)",
	    exists ? "Updating" : "Setting", name, type);

	/* token, URL, project: the option, the environment, a prompt */
	for (k = 0; k < 3; k++) {
		static const struct {
			const char *opt, *env1, *env2, *what, *prompt, *none;
		} q[] = {
			{"token", "CONTREE_TOKEN", "NEBIUS_API_KEY", "token",
			    "Token: ", "no token given"},
			{"url", "CONTREE_URL", NULL, "URL", "URL: ",
			    "a JWT profile needs a URL; give one with --url"},
			{"project", "CONTREE_PROJECT", "NEBIUS_AI_PROJECT",
			    "project", "Project ID: ",
			    "an IAM profile needs a project; give one with --project"}
		};
		char **dst = k == 0 ? &token : k == 1 ? &url : &project;

		if (k == 2 && !iam)
			break;
		if ((v = pick(c, q[k].opt, q[k].env1, q[k].env2, &from))) {
			if (from)
				logmsg(LOG_INFO, "Using the %s from $%s", q[k].what,
				    from);
		} else if (k == 1 && iam) {
			v = IAM_URL;
		} else if ((k ? read_line(q[k].prompt, line, sizeof line) :
		    read_secret(q[k].prompt, line, sizeof line)) < 0) {
			if (k == 0) {
				seterr("no token given");
				goto done;
			}
			line[0] = '\0';
		} else {
			v = line;
		}
		*dst = xstrdup(v ? v : "");
		if (k == 1)
			strip_slashes(url);
		if (!**dst) {
			seterr("%s", q[k].none);
			goto done;
		}
	}

	perm = whoami(url, token, project, iam, 0);
	if (perm < 0) {
		if (geterrclass() == ERR_API)
			seterrc(ERR_API, prose(P_AUTH_TOKEN_VERIFICATION),
			    name, geterr());
		goto done;
	}
	if (!perm)
		logmsg(LOG_WARNING, prose(P_AUTH_TOKEN_VALID),
		    iam ? "for project '" : "at ", iam ? project : url,
		    iam ? "'" : "");

	/* save: the active profile stays, except that the first profile
	 * written becomes the active one */
	if (nprofiles(ini) == 0)
		active = name;
	else if (!(active = ini_get(ini, "DEFAULT", "profile")))
		active = "default";
	{
		char *act = xstrdup(active);

		ini_set(ini, sect, "token", token);
		ini_set(ini, sect, "url", url);
		ini_set(ini, sect, "type", type);
		if (project)
			ini_set(ini, sect, "project", project);
		else
			ini_unset(ini, sect, "project");
		rc = broken && backup(path) < 0 ? -1 : save(ini, path, act);
		free(act);
	}
	if (rc == 0)
		logmsg(LOG_INFO, "Profile '%s' saved to %s", name, path);
done:
	if (token)
		memset(token, 0, strlen(token));
	memset(line, 0, sizeof line);
	free(token);
	free(url);
	free(project);
	free(sect);
	ini_free(ini);
	return rc;
}

/* ---- auth list ---- */

static const char *
probe(const struct profile *p)
{
	int r;

	if (!p->url || !*p->url)
		return "no url";
	if (!p->token || !*p->token)
		return "error";
	r = whoami(p->url, p->token, p->project, strcmp(p->type, "iam") == 0,
	    1);
	if (r == 1)
		return "ok";
	if (r == 0)
		return "inactive";
	logmsg(LOG_DEBUG, "profile '%s': %s", p->name, geterr());
	return geterrclass() == ERR_TIMEOUT ? "timeout" : "error";
}

/* Probing is mostly waiting for each server: with more than one profile
 * the probes run in parallel, up to CONTREE_CONCURRENCY child processes
 * (jobs.c; each opens its own connection), each sending back its
 * profile's status word. */
struct probes {
	char (*st)[16];
};

static int
probe_job(void *arg)
{
	const char *s = probe(arg);

	return job_send(s, strlen(s)) < 0;
}

static void
probe_msg(void *ctx, int id, const char *msg, size_t len)
{
	struct probes *pr = ctx;

	snprintf(pr->st[id], sizeof pr->st[id], "%.*s", (int)len, msg);
}

/* The status of each of the n profiles into st (offline: not asked).
 * 0, or -1 after Ctrl-C (slot set). */
static int
probe_all(const struct profile *p, size_t n, int offline, char (*st)[16])
{
	struct probes pr;
	struct jobs *js;
	size_t i;
	int conc = offline ? 1 : jobs_concurrency();

	for (i = 0; i < n; i++)
		snprintf(st[i], sizeof st[i], "%s", offline ? "offline mode" :
		    "error");
	if (offline)
		return 0;
	if (n < 2 || conc < 2) {
		for (i = 0; i < n && !interrupted; i++)
			snprintf(st[i], sizeof st[i], "%s", probe(&p[i]));
	} else {
		pr.st = st;
		js = jobs_new(conc, probe_msg, NULL, &pr);
		for (i = 0; i < n; i++)
			jobs_add(js, (int)i, probe_job, (void *)&p[i]);
		while (jobs_pending(js) && !interrupted)
			jobs_step(js, -1, 250);
		jobs_kill(js, -1, SIGINT);
		jobs_free(js);
	}
	if (interrupted)
		return user_interrupted();
	return 0;
}

int
cmd_auth_list(struct ctx *c)
{
	struct ini *auth, *cli;
	struct profile *p;
	struct out *o;
	size_t n, i;
	int offline = arg_flag(c, "offline"), configured = 0, rc = 0;
	char (*st)[16] = NULL;

	if (config_files(c->config, c->home, &auth, &cli) < 0)
		return -1;
	p = profile_list(auth, cli, &n);
	ini_free(auth);
	ini_free(cli);
	logmsg(LOG_INFO, "Profiles in %s%s", c->config,
	    offline ? " (offline mode)" : "");
	if (n == 0) {
		printf("No profiles configured.\n");
		goto done;
	}
	for (i = 0; i < n; i++)
		configured |= strcmp(p[i].name, c->prof_name) == 0;
	if (!configured)
		logmsg(LOG_WARNING, prose(P_AUTH_ACTIVE_PROFILE),
		    c->prof_name);
	st = xcalloc(n, sizeof *st);
	if ((rc = probe_all(p, n, offline, st)) < 0)
		goto done;
	o = out_new(c->fmt, 1);
	for (i = 0; i < n; i++) {
		struct row *r = row_new();
		char hex[65];

		row_str(r, "name", p[i].name);
		row_str(r, "type", p[i].type);
		row_str(r, "url", p[i].url ? p[i].url : "");
		row_str(r, "project", p[i].project ? p[i].project : "");
		if (p[i].token && *p[i].token) {
			sha256_hex(p[i].token, strlen(p[i].token), hex);
			hex[16] = '\0';
			row_str(r, "token_sha256", hex);
		} else {
			row_str(r, "token_sha256", "<no token>");
		}
		row_bool(r, "active", strcmp(p[i].name, c->prof_name) == 0);
		row_str(r, "status", st[i]);
		if (out_row(o, r) < 0)
			break;
	}
	if (out_end(o) < 0)
		rc = errno == EPIPE ? 0 : -1;
done:
	free(st);
	profiles_free(p, n);
	return rc;
}

/* ---- auth switch / remove ---- */

int
cmd_auth_switch(struct ctx *c)
{
	int np, known, rc;
	char **pos = arg_pos(c, "NAME", &np);
	struct ini *ini, *cli;
	struct profile p;

	if (config_files(c->config, c->home, &ini, &cli) < 0)
		return -1;
	known = profile_read(ini, cli, pos[0], &p);
	profile_free(&p);
	ini_free(cli);
	if (!known) {
		seterr(prose(P_AUTH_NOPROF),
		    pos[0]);
		rc = -1;
	} else if ((rc = save(ini, c->config, pos[0])) == 0) {
		logmsg(LOG_INFO, "Switched to profile '%s'", pos[0]);
	}
	ini_free(ini);
	return rc;
}

/* Delete the session log of profile name (and the reference's database
 * files that the layout migration may have moved there). */
static void
remove_sessions(struct ctx *c, const char *name)
{
	static const char *const peer[] = { ".db", ".db-wal", ".db-shm" };
	char *p;
	size_t i;

	if (!config_env(NULL, "CONTREE_SESSION_DB")) {
		p = store_path(c->home, name);
		if (store_remove(p) == 0)
			logmsg(LOG_DEBUG, "removed %s", p);
		else if (errno != ENOENT)
			logmsg(LOG_WARNING, "cannot remove %s: %s", p,
			    strerror(errno));
		free(p);
	}
	if (strchr(name, '/') || strcmp(name, "..") == 0 ||
	    strcmp(name, ".") == 0)
		return;
	for (i = 0; i < LEN(peer); i++) {
		p = xasprintf("%s/cli/sessions/%s%s", c->home, name, peer[i]);
		unlink(p);
		free(p);
	}
}

int
cmd_auth_remove(struct ctx *c)
{
	int np, rc;
	char **pos = arg_pos(c, "NAME", &np);
	const char *name = pos[0];
	char *sect = xasprintf(PREFIX "%s", name);
	const char *active;
	struct ini *ini;

	if (!(ini = ini_load(c->config, NULL))) {
		free(sect);
		return -1;
	}
	if (!ini_has(ini, sect)) {
		seterr("Profile '%s' not found in %s", name, c->config);
		free(sect);
		ini_free(ini);
		return -1;
	}
	if (!confirm(c, "Remove profile '%s'? [y/N] ", name, NULL)) {
		free(sect);
		ini_free(ini);
		return EXIT_ERR;
	}
	ini_del(ini, sect);
	/* save copies active before it changes ini */
	if (!(active = ini_get(ini, "DEFAULT", "profile")))
		active = "default";
	if (strcmp(active, name) == 0) {
		const char *s;
		int i;

		active = "default";
		for (i = 0; (s = ini_section(ini, i)); i++)
			if (profile_name(s)) {
				active = profile_name(s);
				break;
			}
		logmsg(LOG_INFO, "Active profile is now '%s'", active);
	}
	rc = save(ini, c->config, active);
	if (rc == 0) {
		remove_sessions(c, name);
		logmsg(LOG_INFO, "Removed profile '%s'", name);
	}
	free(sect);
	ini_free(ini);
	return rc;
}
