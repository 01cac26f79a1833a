/* config.c - the configuration (see config.h): data directory, profiles
 * with [DEFAULT], [cli] defaults, precedence, session key, and the move
 * of the legacy layout (cli.md §3.5). */
#include <ctype.h>
#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bearssl.h>

#include "config.h"
#include "ini.h"
#include "prose.h"
#include "util.h"

#define PREFIX "profile:"

const char *
config_env(char *const *env, const char *name)
{
	size_t n = strlen(name);
	const char *v = NULL;

	if (!env)
		v = getenv(name);
	for (; env && *env; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			v = *env + n + 1;
	return v && *v ? v : NULL;
}

char *
config_home(char *const *env)
{
	const char *h = config_env(env, "CONTREE_HOME");
	const char *x = config_env(env, "XDG_CONFIG_HOME");
	const char *home = config_env(env, "HOME");

	if (h)
		return xstrdup(h);
	if (x)
		return xasprintf("%s/contree", x);
	return xasprintf("%s/.config/contree", home ? home : ".");
}

void
strip_slashes(char *u)
{
	size_t n = u ? strlen(u) : 0;

	while (n > 0 && u[n - 1] == '/')
		u[--n] = '\0';
}

const char *
profile_name(const char *sect)
{
	size_t n = strlen(PREFIX);

	return strncmp(sect, PREFIX, n) == 0 ? sect + n : NULL;
}

/* ---- profiles ---- */

/* key of sect: the section's own values first (auth.ini over cli.ini),
 * then [DEFAULT] (the same order), as one merged configparser would. */
static char *
lookup(struct ini *auth, struct ini *cli, const char *sect, const char *key)
{
	struct ini *f[2];
	const char *v = NULL;
	int i;

	f[0] = auth;
	f[1] = cli;
	for (i = 0; i < 4 && !v; i++) {
		struct ini *ini = f[i % 2];
		const char *s = i < 2 ? sect : "DEFAULT";

		if (ini && ini_raw(ini, s, key))
			v = ini_get(ini, sect, key);
	}
	return v ? xstrdup(v) : NULL;
}

/* Type "jwt" when missing, IAM_URL for IAM without a URL, trailing
 * '/' removed. */
static void
profile_fill(struct profile *p)
{
	if (!p->type)
		p->type = xstrdup("jwt");
	if (!p->url && strcmp(p->type, "iam") == 0)
		p->url = xstrdup(IAM_URL);
	strip_slashes(p->url);
}

int
profile_read(struct ini *auth, struct ini *cli, const char *name,
    struct profile *p)
{
	char *sect = xasprintf(PREFIX "%s", name);
	int found = (auth && ini_has(auth, sect)) || (cli && ini_has(cli, sect));

	memset(p, 0, sizeof *p);
	p->name = xstrdup(name);
	if (found) {
		p->token = lookup(auth, cli, sect, "token");
		p->url = lookup(auth, cli, sect, "url");
		p->project = lookup(auth, cli, sect, "project");
		p->type = lookup(auth, cli, sect, "type");
		profile_fill(p);
	}
	free(sect);
	return found;
}

struct profile *
profile_list(struct ini *auth, struct ini *cli, size_t *n)
{
	struct profile *p = NULL;
	struct ini *src[2];
	const char *s, *name;
	size_t k, j, m = 0;
	int i;

	src[0] = auth;
	src[1] = cli;
	for (k = 0; k < 2; k++) {
		for (i = 0; src[k] && (s = ini_section(src[k], i)); i++) {
			if (!(name = profile_name(s)))
				continue;
			for (j = 0; j < m && strcmp(p[j].name, name) != 0; j++)
				;
			if (j < m)
				continue;
			p = xreallocarray(p, m + 1, sizeof *p);
			profile_read(auth, cli, name, &p[m++]);
		}
	}
	*n = m;
	return p;
}

void
profile_free(struct profile *p)
{
	free(p->name);
	free(p->type);
	free(p->url);
	free(p->project);
	if (p->token)
		memzero(p->token, strlen(p->token));
	free(p->token);
	memset(p, 0, sizeof *p);
}

void
profiles_free(struct profile *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		profile_free(&p[i]);
	free(p);
}

/* ---- files ---- */

int
config_files(const char *path, const char *home, struct ini **auth,
    struct ini **cli)
{
	char *clipath = xasprintf("%s/cli.ini", home);

	*cli = ini_load(clipath, NULL);
	free(clipath);
	if (!*cli) {
		logmsg(LOG_WARNING, "%s", geterr());
		*cli = ini_new();
	}
	if (!(*auth = ini_load(path, NULL))) {
		ini_free(*cli);
		*cli = NULL;
		return -1;
	}
	return 0;
}

/* The [cli] keys and where struct clidef keeps them. */
static const char *const clikeys[] = {
	"output_format", "log_level", "session_key", "profile", "token", "url",
	"project", "editor"
};
static const unsigned char clioff[] = {
	offsetof(struct clidef, output_format),
	offsetof(struct clidef, log_level),
	offsetof(struct clidef, session_key),
	offsetof(struct clidef, profile), offsetof(struct clidef, token),
	offsetof(struct clidef, url), offsetof(struct clidef, project),
	offsetof(struct clidef, editor)
};

static char **
clidef_at(struct clidef *d, size_t i)
{
	return (char **)(void *)((char *)d + clioff[i]);
}

/* [cli] defaults: cli.ini, then auth.ini of home (auth.ini wins, as the
 * reference merges them), whatever -c says.  The section's own keys
 * only ([DEFAULT] does not leak in: the fix of cli.md §3.3). */
static void
clidefaults(struct clidef *d, struct ini *cli, struct ini *auth)
{
	size_t i;

	for (i = 0; i < LEN(clikeys); i++) {
		struct ini *src = auth && ini_raw(auth, "cli", clikeys[i]) ?
		    auth : cli && ini_raw(cli, "cli", clikeys[i]) ? cli : NULL;

		*clidef_at(d, i) = src ? xstrdup(ini_get(src, "cli",
		    clikeys[i])) : NULL;
	}
}

static void
clidef_free(struct clidef *d)
{
	size_t i;

	for (i = 0; i < LEN(clikeys); i++)
		free(*clidef_at(d, i));
}

/* [cli] from home/auth.ini (which may be the credentials file). */
static void
homedefaults(struct config *cf, struct ini *auth, struct ini *cli)
{
	char *homeauth = xasprintf("%s/auth.ini", cf->home);
	struct ini *ha = strcmp(homeauth, cf->path) == 0 ? auth :
	    ini_load(homeauth, NULL);

	clidefaults(&cf->def, cli, ha);
	if (ha && ha != auth)
		ini_free(ha);
	free(homeauth);
}

/* ---- precedence ---- */

/* Replace *v by a copy of s when s is set. */
static void
over(char **v, const char *s)
{
	if (!s)
		return;
	free(*v);
	*v = xstrdup(s);
}

/* The first set variable of a and b (b may be NULL); *from names it. */
static const char *
envpick(char *const *env, const char *a, const char *b, const char **from)
{
	const char *v;

	*from = NULL;
	if ((v = config_env(env, a)))
		*from = a;
	else if (b && (v = config_env(env, b)))
		*from = b;
	return v;
}

/* [cli] defaults, then the environment (design.md §1), then flags. */
static void
precedence(struct config *cf, const struct config_in *in)
{
	struct profile *p = &cf->prof;
	const char *v;

	/* the flag, else the environment, else [cli], else the profile */
	v = envpick(in->env, "CONTREE_TOKEN", "NEBIUS_API_KEY", &cf->env_token);
	over(&p->token, in->token ? in->token : v ? v : cf->def.token);
	v = envpick(in->env, "CONTREE_URL", NULL, &cf->env_url);
	over(&p->url, in->url ? in->url : v ? v : cf->def.url);
	v = envpick(in->env, "CONTREE_PROJECT", "NEBIUS_AI_PROJECT",
	    &cf->env_project);
	over(&p->project, in->project ? in->project : v ? v :
	    cf->def.project);
	if (!cf->found && p->token && (p->url || p->project)) {
		/* credentials without a configured profile */
		cf->found = 1;
		over(&p->type, p->project ? "iam" : "jwt");
	}
	profile_fill(p);
}

/* -p > $CONTREE_PROFILE > [cli] profile > [DEFAULT] profile > default;
 * caller frees. */
static char *
pickname(const struct config *cf, const struct config_in *in,
    struct ini *auth)
{
	const char *v;

	if (!(v = in->profile) && !(v = config_env(in->env, "CONTREE_PROFILE")) &&
	    !(v = cf->def.profile) && !(v = ini_get(auth, "DEFAULT", "profile")))
		v = "default";
	return xstrdup(v);
}

int
config_load(struct config *cf, const struct config_in *in)
{
	struct ini *auth = NULL, *cli = NULL;
	char *name;

	memset(cf, 0, sizeof *cf);
	cf->home = in->home ? xstrdup(in->home) : config_home(in->env);
	cf->path = in->config ? xstrdup(in->config) :
	    xasprintf("%s/auth.ini", cf->home);
	cf->given = in->config != NULL;
	if (config_files(cf->path, cf->home, &auth, &cli) < 0) {
		if (!in->lenient) {
			config_free(cf);
			return -1;
		}
		cf->broken = xstrdup(geterr());
		clearerr_slot();
		auth = ini_new();
		cli = ini_new();
	}
	logmsg(LOG_DEBUG, "config %s", cf->path);
	homedefaults(cf, auth, cli);
	name = pickname(cf, in, auth);
	cf->found = profile_read(auth, cli, name, &cf->prof);
	free(name);
	precedence(cf, in);
	ini_free(auth);
	ini_free(cli);
	return 0;
}

void
config_free(struct config *cf)
{
	free(cf->home);
	free(cf->path);
	clidef_free(&cf->def);
	profile_free(&cf->prof);
	free(cf->broken);
	memset(cf, 0, sizeof *cf);
}

/* Profile not configured: name what the environment lacks when it
 * gave part of the credentials (design.md §1). */
static void
notconfigured(const struct config *cf)
{
	const struct profile *p = &cf->prof;

	if (cf->env_token && !p->url && !p->project)
		seterr(prose(P_CONF_NOURLENV), cf->env_token);
	else if ((cf->env_url || cf->env_project) && !p->token)
		seterr(prose(P_CONF_NOTOKENV),
		    cf->env_url ? cf->env_url : cf->env_project);
	else if (cf->given && access(cf->path, F_OK) < 0)
		seterr(prose(P_CONFIG_NO_FILE), p->name, cf->path,
		    strerror(errno), cf->path);
	else
		seterr(prose(P_CONFIG_PROFILE_CONFIGURED),
		    p->name);
}

int
config_check(const struct config *cf)
{
	const struct profile *p = &cf->prof;

	if (strcmp(p->type, "iam") != 0 && strcmp(p->type, "jwt") != 0) {
		seterr(prose(P_CONF_TYPE),
		    p->name, cf->path, p->type);
		return -1;
	}
	if (!cf->found) {
		notconfigured(cf);
		return -1;
	}
	if (!p->url) {
		seterr(prose(P_CONF_NOURL),
		    p->name);
		return -1;
	}
	return 0;
}

/* ---- session key (cli.md §7.2) ---- */

char *
config_autokey(const char *profile, long ppid, const char *tty,
    const char *cwd)
{
	static const unsigned char ns_oid[16] = {
		0x6b, 0xa7, 0xb8, 0x12, 0x9d, 0xad, 0x11, 0xd1,
		0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8
	};
	br_sha1_context sc;
	unsigned char dig[20];
	char hex[41], *name, *p;
	const char *dir;

	name = xasprintf("%s_%ld_%s", profile, ppid, tty ? tty : "notty");
	for (p = name + strlen(profile) + 1; *p; p++)
		if (*p == '/')
			*p = '_';
	br_sha1_init(&sc);
	br_sha1_update(&sc, ns_oid, sizeof ns_oid);
	br_sha1_update(&sc, name, strlen(name));
	br_sha1_out(&sc, dig);
	hexstr(hex, dig, sizeof dig);
	free(name);
	dir = strrchr(cwd, '/');
	dir = dir && dir[1] ? dir + 1 : "session";
	name = xasprintf("%s+%.8s", dir, hex);
	for (p = name; *p; p++)         /* a newline in a directory name */
		if (iscntrl((unsigned char)*p))
			*p = '_';
	return name;
}

char *
config_session(const struct config *cf, const char *flag, char *const *env)
{
	char cwd[4096];
	const char *v;

	if (flag && *flag)
		return xstrdup(flag);
	if ((v = config_env(env, "CONTREE_SESSION")))
		return xstrdup(v);
	if (cf->def.session_key && *cf->def.session_key)
		return xstrdup(cf->def.session_key);
	if (!getcwd(cwd, sizeof cwd))
		strcpy(cwd, "/");
	return config_autokey(cf->prof.name, (long)getppid(),
	    isatty(0) ? ttyname(0) : NULL, cwd);
}

/* ---- layout migration (cli.md §3.5) ---- */

static int
exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

/* Move src to dst unless dst exists (then warn); a regular file ends
 * with mode 0600 like every file we create.  1 moved, 0 not. */
static int
move(const char *src, const char *dst)
{
	struct stat st;

	if (exists(dst)) {
		logmsg(LOG_WARNING, "Not moving %s: %s already exists", src, dst);
		return 0;
	}
	if (rename(src, dst) < 0) {
		logmsg(LOG_WARNING, "Cannot move %s to %s: %s", src, dst,
		    strerror(errno));
		return 0;
	}
	if (lstat(dst, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 0777) != 0600 && chmod(dst, 0600) < 0)
		logmsg(LOG_WARNING, "Cannot make %s private: %s", dst,
		    strerror(errno));
	return 1;
}

/* Step 1: the directory contree-cli beside home moves into home. */
static void
migrate_dir(const char *home)
{
	char *base = xstrdup(home), *slash, *old, *auth;
	struct dirent *e;
	struct stat st;
	DIR *d;

	strip_slashes(base);
	slash = strrchr(base, '/');
	if (slash)
		*slash = '\0';
	old = xasprintf("%s/contree-cli", slash ? base : ".");
	auth = xasprintf("%s/auth.ini", home);
	if (stat(old, &st) == 0 && S_ISDIR(st.st_mode) && !exists(auth) &&
	    mkdirs(home, 0700) == 0 && (d = opendir(old))) {
		while ((e = readdir(d))) {
			char *src, *dst;

			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			src = xasprintf("%s/%s", old, e->d_name);
			dst = xasprintf("%s/%s", home,
			    strcmp(e->d_name, "config.ini") == 0 ? "auth.ini" :
			    e->d_name);
			move(src, dst);
			free(src);
			free(dst);
		}
		closedir(d);
		rmdir(old);
		logmsg(LOG_INFO, "Moved the configuration from %s to %s", old,
		    home);
	}
	free(auth);
	free(old);
	free(base);
}

/* Step 2: sessions-<X> -> cli/sessions/<X>, skills.db* -> cli/.  1 if
 * anything moved. */
static int
migrate_files(const char *home, DIR *d)
{
	struct dirent *e;
	struct stat st;
	int moved = 0;

	while ((e = readdir(d))) {
		char *src, *dst = NULL, *dir = NULL;
		const char *n = e->d_name;

		if (strncmp(n, "sessions-", 9) == 0 && n[9]) {
			dir = xasprintf("%s/cli/sessions", home);
			dst = xasprintf("%s/%s", dir, n + 9);
		} else if (strncmp(n, "skills.db", 9) == 0) {
			dir = xasprintf("%s/cli", home);
			dst = xasprintf("%s/%s", dir, n);
		} else {
			continue;
		}
		src = xasprintf("%s/%s", home, n);
		if (lstat(src, &st) == 0 && S_ISREG(st.st_mode) &&
		    mkdirs(dir, 0700) == 0)
			moved |= move(src, dst);
		free(src);
		free(dst);
		free(dir);
	}
	return moved;
}

void
config_migrate(const char *home)
{
	DIR *d;

	migrate_dir(home);
	if (!(d = opendir(home)))
		return;
	if (migrate_files(home, d))
		logmsg(LOG_INFO, prose(P_CONFIG_MOVED_SESSION),
		    home);
	closedir(d);
}
