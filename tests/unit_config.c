/* unit_config.c - the configuration (config.c): the environment as an
 * explicit input, the data directory, profiles with the [DEFAULT]
 * fallback, the precedence rule, the checks before an API command, the
 * session key and the legacy-layout move. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../config.h"
#include "../ini.h"
#include "../util.h"
#include "unit.h"

static char dir[] = "/tmp/unit_config.XXXXXX";

static char *
put(const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", dir, name), *d = xstrdup(p);

	*strrchr(d, '/') = '\0';
	mkdirs(d, 0700);
	free(d);
	if (writefile_atomic(p, text, strlen(text), 0644) < 0) {
		fprintf(stderr, "%s\n", geterr());
		exit(2);
	}
	return p;
}

static struct ini *
load(const char *name, const char *text)
{
	char *p = put(name, text);
	struct ini *ini = ini_load(p, NULL);

	free(p);
	return ini;
}

static int
mode(const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	struct stat st;
	int m = stat(p, &st) == 0 ? (int)(st.st_mode & 0777) : -1;

	free(p);
	return m;
}

static void
test_env_home(void)
{
	char *env[] = { "A=1", "EMPTY=", "CONTREE_URLX=no", "B=x=y", NULL };
	char *h1[] = { "HOME=/h", NULL };
	char *h2[] = { "HOME=/h", "XDG_CONFIG_HOME=/x", NULL };
	char *h3[] = { "HOME=/h", "XDG_CONFIG_HOME=/x", "CONTREE_HOME=/c",
	    NULL };
	char *h4[] = { "CONTREE_HOME=", NULL };
	char *s, u[] = "http://x//";

	T_STREQ(config_env(env, "A"), "1");
	T_STREQ(config_env(env, "B"), "x=y");
	T_OK(config_env(env, "EMPTY") == NULL);
	T_OK(config_env(env, "CONTREE_URL") == NULL);
	T_OK(config_env(env, "NOPE") == NULL);
	T_STREQ((s = config_home(h1)), "/h/.config/contree");
	free(s);
	T_STREQ((s = config_home(h2)), "/x/contree");
	free(s);
	T_STREQ((s = config_home(h3)), "/c");
	free(s);
	T_STREQ((s = config_home(h4)), "./.config/contree");
	free(s);
	strip_slashes(u);
	T_STREQ(u, "http://x");
	strip_slashes(NULL);
	T_STREQ(profile_name("profile:a"), "a");
	T_OK(profile_name("cli") == NULL);
}

static void
test_profile_read(void)
{
	struct ini *auth = load("a.ini",
	    "[DEFAULT]\nprofile = p\nurl = http://def/\ntype = jwt\n"
	    "project = dp\n\n"
	    "[profile:p]\ntoken = t%%1\n\n"
	    "[profile:iam]\ntype = iam\nurl = \n");
	struct ini *cli = load("c.ini",
	    "[DEFAULT]\ntoken = clidef\n\n"
	    "[profile:p]\nproject = clip\nurl = http://cli\n\n"
	    "[profile:only]\ntype = iam\n");
	struct profile p;

	/* own values, auth over cli; then auth's [DEFAULT]; then cli's */
	T_INTEQ(profile_read(auth, cli, "p", &p), 1);
	T_STREQ(p.token, "t%1");
	T_STREQ(p.url, "http://cli");
	T_STREQ(p.project, "clip");
	T_STREQ(p.type, "jwt");
	profile_free(&p);
	T_INTEQ(profile_read(auth, cli, "only", &p), 1);
	T_STREQ(p.type, "iam");               /* own beats [DEFAULT] */
	T_STREQ(p.url, "http://def");         /* auth [DEFAULT], '/' gone */
	T_STREQ(p.token, "clidef");           /* cli [DEFAULT] */
	profile_free(&p);
	T_INTEQ(profile_read(auth, NULL, "iam", &p), 1);
	T_STREQ(p.url, "");                   /* set, though empty */
	T_OK(p.token == NULL);
	profile_free(&p);
	T_INTEQ(profile_read(auth, cli, "nope", &p), 0);
	T_STREQ(p.name, "nope");
	T_OK(!p.token && !p.url && !p.type);
	profile_free(&p);
	ini_free(auth);
	/* no type and no url: jwt without URL; iam: the default URL */
	auth = load("a.ini", "[profile:j]\n[profile:i]\ntype = iam\n");
	T_INTEQ(profile_read(auth, NULL, "j", &p), 1);
	T_STREQ(p.type, "jwt");
	T_OK(p.url == NULL);
	profile_free(&p);
	T_INTEQ(profile_read(auth, NULL, "i", &p), 1);
	T_STREQ(p.url, IAM_URL);
	profile_free(&p);
	ini_free(auth);
	ini_free(cli);
}

static void
test_profile_list(void)
{
	struct ini *auth = load("a.ini",
	    "[DEFAULT]\ntype = iam\n[profile:b]\n[cli]\n[profile:a]\n");
	struct ini *cli = load("c.ini", "[profile:c]\n[profile:a]\n");
	struct profile *p;
	size_t n;

	p = profile_list(auth, cli, &n);
	T_INTEQ(n, 3);
	if (n == 3) {
		T_STREQ(p[0].name, "b");
		T_STREQ(p[1].name, "a");
		T_STREQ(p[2].name, "c");
		T_STREQ(p[2].type, "iam");
	}
	profiles_free(p, n);
	p = profile_list(NULL, NULL, &n);
	T_INTEQ(n, 0);
	profiles_free(p, n);
	ini_free(auth);
	ini_free(cli);
}

/* Load with home = dir and the given environment and flags. */
static int
conf(struct config *cf, char **env, const char *prof, const char *tok,
    const char *url, const char *proj)
{
	struct config_in in;

	memset(&in, 0, sizeof in);
	in.env = env;
	in.home = dir;
	in.profile = prof;
	in.token = tok;
	in.url = url;
	in.project = proj;
	return config_load(cf, &in);
}

static void
test_precedence(void)
{
	char *none[] = { NULL };
	char *e1[] = { "CONTREE_URL=http://env/", "NEBIUS_API_KEY=nk",
	    "NEBIUS_AI_PROJECT=np", NULL };
	char *e2[] = { "CONTREE_TOKEN=ct", "NEBIUS_API_KEY=nk",
	    "CONTREE_PROJECT=cp", "NEBIUS_AI_PROJECT=np",
	    "CONTREE_PROFILE=q", NULL };
	char *e3[] = { "CONTREE_TOKEN=ct", NULL };
	struct config cf;
	char *p;

	p = put("auth.ini", "[DEFAULT]\nprofile = p\n\n"
	    "[profile:p]\ntoken = pt\nurl = http://p\ntype = iam\n"
	    "project = pp\n\n[profile:q]\ntoken = qt\nurl = http://q\n");
	free(p);
	p = put("cli.ini", "[cli]\ntoken = clit\neditor = ed\n");
	free(p);
	T_INTEQ(conf(&cf, none, NULL, NULL, NULL, NULL), 0);
	T_STREQ(cf.prof.name, "p");
	T_STREQ(cf.prof.token, "clit");           /* [cli] over profile */
	T_STREQ(cf.prof.url, "http://p");
	T_STREQ(cf.def.editor, "ed");
	T_INTEQ(cf.found, 1);
	T_INTEQ(config_check(&cf), 0);
	config_free(&cf);
	T_INTEQ(conf(&cf, e1, NULL, NULL, NULL, NULL), 0);
	T_STREQ(cf.prof.token, "nk");             /* environment over [cli] */
	T_STREQ(cf.prof.url, "http://env");
	T_STREQ(cf.prof.project, "np");
	T_STREQ(cf.env_token, "NEBIUS_API_KEY");
	config_free(&cf);
	T_INTEQ(conf(&cf, e2, NULL, NULL, NULL, NULL), 0);
	T_STREQ(cf.prof.name, "q");               /* $CONTREE_PROFILE */
	T_STREQ(cf.prof.token, "ct");             /* CONTREE_ over NEBIUS_ */
	T_STREQ(cf.prof.project, "cp");
	T_STREQ(cf.prof.type, "jwt");
	config_free(&cf);
	T_INTEQ(conf(&cf, e2, "p", "ft", "http://f//", "fp"), 0);
	T_STREQ(cf.prof.name, "p");               /* flags over everything */
	T_STREQ(cf.prof.token, "ft");
	T_STREQ(cf.prof.url, "http://f");
	T_STREQ(cf.prof.project, "fp");
	config_free(&cf);
	/* an unknown profile; the token alone is not enough */
	T_INTEQ(conf(&cf, e3, "x", NULL, NULL, NULL), 0);
	T_INTEQ(cf.found, 0);
	T_INTEQ(config_check(&cf), -1);
	T_OK(strstr(geterr(), "$CONTREE_TOKEN is set but $CONTREE_URL") != 0);
	config_free(&cf);
	T_INTEQ(conf(&cf, none, "x", "t", NULL, "pr"), 0);
	T_INTEQ(cf.found, 1);                     /* credentials alone */
	T_STREQ(cf.prof.type, "iam");
	T_STREQ(cf.prof.url, IAM_URL);
	config_free(&cf);
	p = put("cli.ini", "[cli]\nprofile = q\n");
	free(p);
	T_INTEQ(conf(&cf, none, NULL, NULL, NULL, NULL), 0);
	T_STREQ(cf.prof.name, "q");               /* [cli] over [DEFAULT] */
	config_free(&cf);
}

static void
test_check(void)
{
	char *none[] = { NULL };
	char *eu[] = { "CONTREE_URL=http://u", NULL };
	struct config cf;
	char *p;

	p = put("cli.ini", "");
	free(p);
	p = put("auth.ini", "[profile:default]\ntoken = t\ntype = weird\n"
	    "[profile:j]\ntoken = t\n");
	free(p);
	T_INTEQ(conf(&cf, none, NULL, NULL, NULL, NULL), 0);
	T_INTEQ(config_check(&cf), -1);
	T_OK(strstr(geterr(), "unknown type 'weird'") != NULL);
	config_free(&cf);
	T_INTEQ(conf(&cf, none, "j", NULL, NULL, NULL), 0);
	T_INTEQ(config_check(&cf), -1);
	T_STREQ(geterr(), "No URL configured for profile 'j'. Run 'contree auth --url URL'.");
	config_free(&cf);
	T_INTEQ(conf(&cf, none, "nope", NULL, NULL, NULL), 0);
	T_INTEQ(config_check(&cf), -1);
	T_STREQ(geterr(), "Profile 'nope' is not configured. Run 'contree auth' first.");
	config_free(&cf);
	T_INTEQ(conf(&cf, eu, "nope", NULL, NULL, NULL), 0);
	T_INTEQ(config_check(&cf), -1);
	T_OK(strstr(geterr(), "$CONTREE_URL is set but $CONTREE_TOKEN") != 0);
	config_free(&cf);
}

static void
test_broken(void)
{
	char *none[] = { NULL };
	struct config_in in;
	struct config cf;
	char *p = put("auth.ini", "[profile:a]\nnot ini\n");
	char *want = xasprintf("%s:2:", p);

	T_INTEQ(conf(&cf, none, NULL, NULL, NULL, NULL), -1);
	T_OK(strncmp(geterr(), want, strlen(want)) == 0);
	T_OK(cf.home == NULL && cf.prof.name == NULL);
	memset(&in, 0, sizeof in);
	in.env = none;
	in.home = dir;
	in.lenient = 1;
	T_INTEQ(config_load(&cf, &in), 0);
	T_OK(cf.broken && strncmp(cf.broken, want, strlen(want)) == 0);
	T_STREQ(cf.prof.name, "default");
	T_INTEQ(cf.found, 0);
	config_free(&cf);
	free(want);
	free(p);
}

static void
test_session(void)
{
	char *none[] = { NULL };
	char *es[] = { "CONTREE_SESSION=env", NULL };
	struct config cf;
	char *s, *p = put("auth.ini", "[profile:default]\n");

	free(p);
	T_STREQ((s = config_autokey("default", 42, NULL, "/home/u/proj")),
	    "proj+642e192e");
	free(s);
	T_STREQ((s = config_autokey("p", 7, "/dev/pts/3", "/")),
	    "session+57e4b6b5");
	free(s);
	p = put("cli.ini", "[cli]\nsession_key = cli\n");
	free(p);
	T_INTEQ(conf(&cf, none, NULL, NULL, NULL, NULL), 0);
	T_STREQ((s = config_session(&cf, "flag", es)), "flag");
	free(s);
	T_STREQ((s = config_session(&cf, "", es)), "env");
	free(s);
	T_STREQ((s = config_session(&cf, NULL, none)), "cli");
	free(s);
	free(cf.def.session_key);
	cf.def.session_key = NULL;
	s = config_session(&cf, NULL, none);
	T_OK(strchr(s, '+') && strlen(strchr(s, '+')) == 9);
	free(s);
	config_free(&cf);
}

static void
test_migrate(void)
{
	char *home = xasprintf("%s/m/contree", dir), *p;

	p = put("m/contree-cli/config.ini", "[profile:x]\n");
	free(p);
	p = put("m/contree-cli/sessions-x.db", "db");
	free(p);
	p = put("m/contree-cli/skills.db", "s");
	free(p);
	config_migrate(home);
	T_INTEQ(mode("m/contree-cli"), -1);
	T_INTEQ(mode("m/contree/auth.ini"), 0600);
	T_INTEQ(mode("m/contree/cli/sessions/x.db"), 0600);
	T_INTEQ(mode("m/contree/cli/skills.db"), 0600);
	T_INTEQ(mode("m/contree/sessions-x.db"), -1);
	/* a conflict: the old file stays */
	p = put("m/contree/sessions-x.db", "two");
	free(p);
	config_migrate(home);
	T_INTEQ(mode("m/contree/sessions-x.db"), 0644);
	free(home);
}

int
main(void)
{
	int r;
	char *cmd;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	loglevel = LOG_CRITICAL + 1;
	test_env_home();
	test_profile_read();
	test_profile_list();
	test_precedence();
	test_check();
	test_broken();
	test_session();
	test_migrate();
	cmd = xasprintf("rm -rf %s", dir);
	r = system(cmd);
	(void)r;
	free(cmd);
	return T_END("unit_config");
}
