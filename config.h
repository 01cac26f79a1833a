/* config.h - the configuration, read one way by every command (cli.md
 * §2.1, §3; design.md §1): the data directory, the profiles of auth.ini
 * and cli.ini with the [DEFAULT] fallback, the [cli] defaults, the rule
 * flags > environment > [cli] > profile, the session key, and the
 * one-time move of the legacy layout.  Every input is explicit, nothing
 * is kept in static storage and nothing exits: a long-lived process
 * (shell, mcp) loads again after `auth switch`. */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>

struct ini;

#define IAM_URL "https://api.tokenfactory.nebius.com/sandboxes"

/* The non-empty value of name in env ("NAME=value" strings, NULL at the
 * end), or in the process environment when env is NULL; else NULL. */
const char *config_env(char *const *env, const char *name);

/* CONTREE_HOME: $CONTREE_HOME, else $XDG_CONFIG_HOME/contree, else
 * $HOME/.config/contree.  Caller frees. */
char *config_home(char *const *env);

/* Move the legacy layout into home (cli.md §3.5); moved files get mode
 * 0600.  Logs what it did; never fails. */
void config_migrate(const char *home);

/* Remove trailing '/' characters (u may be NULL). */
void strip_slashes(char *u);

/* The profile name of an INI section "profile:NAME", or NULL. */
const char *profile_name(const char *sect);

/* A profile; malloc'd strings, NULL when absent. */
struct profile {
	char *name, *type, *url, *project, *token;
};

/* Read profile name: each key from [profile:NAME] of auth, else of cli,
 * else [DEFAULT] of auth, else of cli (either file may be NULL); then
 * type "jwt" when missing, IAM_URL for an IAM profile without url,
 * trailing '/' removed.  1 if either file has the section; 0 if not (p
 * then holds only the name). */
int profile_read(struct ini *auth, struct ini *cli, const char *name,
    struct profile *p);
/* Every profile, read as above: auth's in file order, then those only
 * in cli.  Free with profiles_free. */
struct profile *profile_list(struct ini *auth, struct ini *cli, size_t *n);
void profile_free(struct profile *p);
void profiles_free(struct profile *p, size_t n);

/* Load the credentials file path (a missing file is empty; a malformed
 * one: -1, slot "path:line: what") and home/cli.ini (malformed: a
 * warning, then empty) into *auth and *cli; free both with ini_free. */
int config_files(const char *path, const char *home, struct ini **auth,
    struct ini **cli);

/* What a caller knows: the environment and the global flags. */
struct config_in {
	char *const *env;       /* NULL: the process environment */
	const char *home;       /* NULL: config_home(env) */
	const char *config;     /* -c, or NULL: home/auth.ini */
	const char *profile, *token, *url, *project;    /* flags, or NULL */
	int lenient;            /* a malformed auth.ini: .broken, not -1 */
};

/* [cli] defaults (cli.md §3.3): its own keys, auth.ini in home over
 * cli.ini; NULL when not set. */
struct clidef {
	char *output_format, *log_level, *session_key, *profile;
	char *token, *url, *project, *editor;
};

struct config {
	char *home;             /* CONTREE_HOME */
	char *path;             /* the credentials file */
	int given;              /* path came from -c */
	struct clidef def;
	struct profile prof;    /* resolved: name, and the values after the
	                         * precedence rule */
	int found;              /* configured, or credentials without one */
	/* the environment variables that gave a value, or NULL */
	const char *env_token, *env_url, *env_project;
	char *broken;           /* lenient: why auth.ini was not read */
};

/* Load and resolve: the profile name is -p > $CONTREE_PROFILE > [cli]
 * profile > [DEFAULT] profile > "default"; each value is flag >
 * environment (CONTREE_TOKEN, NEBIUS_API_KEY; CONTREE_URL;
 * CONTREE_PROJECT, NEBIUS_AI_PROJECT) > [cli] > the profile.  A token
 * with a URL or project makes a profile of its own when none is
 * configured.  0, or -1 with the slot set and *cf empty. */
int config_load(struct config *cf, const struct config_in *in);
void config_free(struct config *cf);

/* What an API command needs (cli.md §2.1 step 7): a known type, a
 * configured profile (else the missing environment variable is named
 * when others were set), a URL.  0 or -1 with the slot set. */
int config_check(const struct config *cf);

/* The session key (cli.md §7.2): flag > $CONTREE_SESSION > [cli]
 * session_key > the automatic key.  Caller frees. */
char *config_session(const struct config *cf, const char *flag,
    char *const *env);
/* The automatic key: "<basename of cwd>+<8 hex>" of a UUID-5 style
 * SHA-1 of "<profile>_<ppid>_<tty with '/' as '_'>" ("notty" without a
 * terminal).  Caller frees. */
char *config_autokey(const char *profile, long ppid, const char *tty,
    const char *cwd);

#endif
