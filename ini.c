/* ini.c - configparser-compatible INI reading and writing (see ini.h).
 * Values are kept as they stand in the file (with %% escapes); ini_get
 * interpolates, ini_set escapes. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ini.h"
#include "util.h"

#define MAXINTERP 10

struct kv {
	char *k, *v;
};

struct sect {
	char *name;
	struct kv *kv;
	int nkv;
};

struct ini {
	struct sect *s;         /* s[0] is DEFAULT */
	int ns;
	char *val;              /* last interpolated value */
};

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static void
lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static struct sect *
findsect(struct ini *ini, const char *name)
{
	int i;

	if (strcmp(name, "DEFAULT") == 0)
		return ini->ns ? &ini->s[0] : NULL;
	for (i = 1; i < ini->ns; i++)
		if (strcmp(ini->s[i].name, name) == 0)
			return &ini->s[i];
	return NULL;
}

static struct sect *
addsect(struct ini *ini, const char *name)
{
	struct sect *s = findsect(ini, name);

	if (s)
		return s;
	ini->s = xreallocarray(ini->s, (size_t)ini->ns + 1, sizeof *ini->s);
	s = &ini->s[ini->ns++];
	s->name = xstrdup(name);
	s->kv = NULL;
	s->nkv = 0;
	return s;
}

static struct kv *
findkv(struct sect *s, const char *k)
{
	int i;

	for (i = 0; i < s->nkv; i++)
		if (strcasecmp(s->kv[i].k, k) == 0)
			return &s->kv[i];
	return NULL;
}

static void
setraw(struct sect *s, const char *k, const char *v)
{
	struct kv *kv = findkv(s, k);

	if (kv) {
		free(kv->v);
		kv->v = xstrdup(v);
		return;
	}
	s->kv = xreallocarray(s->kv, (size_t)s->nkv + 1, sizeof *s->kv);
	kv = &s->kv[s->nkv++];
	kv->k = xstrdup(k);
	lower(kv->k);
	kv->v = xstrdup(v);
}

struct ini *
ini_new(void)
{
	struct ini *ini = xcalloc(1, sizeof *ini);

	addsect(ini, "DEFAULT");
	return ini;
}

struct ini *
ini_load(const char *path, int *missing)
{
	struct buf b = {0};
	struct ini *ini;
	struct sect *cur = NULL;
	struct kv *last = NULL;
	char *line, *next;
	const char *bad = NULL;
	int lineno = 0, kindent = 0;

	if (missing)
		*missing = 0;
	if (readfile(path, &b) < 0) {
		if (access(path, F_OK) < 0) {
			if (missing)
				*missing = 1;
			return ini_new();
		}
		return NULL;
	}
	ini = ini_new();
	for (line = b.p; line && *line; line = next) {
		char *t, *sep;
		size_t i;

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		t = trim(line);
		if (*t == '\0' || *t == '#' || *t == ';') {
			if (*t == '\0')
				last = NULL;
			continue;
		}
		if (last && t - line > kindent) {
			/* indented deeper than its key: a continuation */
			char *v = xasprintf("%s\n%s", last->v, t);

			free(last->v);
			last->v = v;
			continue;
		}
		if (*t == '[') {
			char *e = strchr(t, ']');

			if (!e || e == t + 1) {
				bad = "malformed section header";
				break;
			}
			*e = '\0';
			cur = addsect(ini, t + 1);
			last = NULL;
			continue;
		}
		if (!cur) {
			bad = "key outside of any section";
			break;
		}
		for (i = 0; t[i] && t[i] != '=' && t[i] != ':'; i++)
			;
		if (!t[i] || i == 0) {
			bad = "expected 'key = value'";
			break;
		}
		sep = t + i;
		*sep = '\0';
		kindent = (int)(t - line);
		setraw(cur, trim(t), trim(sep + 1));
		last = findkv(cur, trim(t));
	}
	buf_free(&b);
	if (bad) {
		seterr("%s:%d: %s", path, lineno, bad);
		ini_free(ini);
		return NULL;
	}
	return ini;
}

static void
sect_free(struct sect *s)
{
	int j;

	for (j = 0; j < s->nkv; j++) {
		free(s->kv[j].k);
		free(s->kv[j].v);
	}
	free(s->kv);
	free(s->name);
}

void
ini_free(struct ini *ini)
{
	int i;

	if (!ini)
		return;
	for (i = 0; i < ini->ns; i++)
		sect_free(&ini->s[i]);
	free(ini->s);
	free(ini->val);
	free(ini);
}

const char *
ini_raw(struct ini *ini, const char *sect, const char *key)
{
	struct sect *s = findsect(ini, sect);
	struct kv *kv = s ? findkv(s, key) : NULL;

	return kv ? kv->v : NULL;
}

static const char *
lookup(struct ini *ini, const char *sect, const char *key)
{
	const char *v = ini_raw(ini, sect, key);

	return v ? v : ini_raw(ini, "DEFAULT", key);
}

/* Expand %% and %(name)s.  A % followed by anything else is kept as it
 * is rather than failing like configparser does. */
static void
interp(struct ini *ini, const char *sect, const char *v, struct buf *out,
    int depth)
{
	for (; *v; v++) {
		if (*v != '%') {
			buf_addc(out, *v);
			continue;
		}
		if (v[1] == '%') {
			buf_addc(out, '%');
			v++;
			continue;
		}
		if (v[1] == '(' && depth < MAXINTERP) {
			const char *e = strstr(v + 2, ")s");

			if (e) {
				char *name = xstrndup(v + 2, (size_t)(e - v - 2));
				const char *r = lookup(ini, sect, name);

				free(name);
				if (r) {
					interp(ini, sect, r, out, depth + 1);
					v = e + 1;
					continue;
				}
			}
		}
		buf_addc(out, '%');
	}
}

const char *
ini_get(struct ini *ini, const char *sect, const char *key)
{
	struct buf b = {0};
	const char *v = lookup(ini, sect, key);

	if (!v)
		return NULL;
	interp(ini, sect, v, &b, 0);
	buf_grow(&b, 0);
	free(ini->val);
	ini->val = b.p;
	return ini->val;
}

int
ini_has(struct ini *ini, const char *sect)
{
	return findsect(ini, sect) != NULL;
}

const char *
ini_section(struct ini *ini, int i)
{
	return i >= 0 && i + 1 < ini->ns ? ini->s[i + 1].name : NULL;
}

void
ini_set(struct ini *ini, const char *sect, const char *key, const char *val)
{
	struct buf b = {0};

	for (; *val; val++) {
		if (*val == '%')
			buf_addc(&b, '%');
		/* a newline would start a new key: keep values on one line */
		buf_addc(&b, *val == '\n' ? ' ' : *val);
	}
	buf_grow(&b, 0);
	setraw(addsect(ini, sect), key, b.p);
	buf_free(&b);
}

void
ini_unset(struct ini *ini, const char *sect, const char *key)
{
	struct sect *s = findsect(ini, sect);
	struct kv *kv = s ? findkv(s, key) : NULL;

	if (!kv)
		return;
	free(kv->k);
	free(kv->v);
	memmove(kv, kv + 1, (size_t)(s->kv + s->nkv - kv - 1) * sizeof *kv);
	s->nkv--;
}

void
ini_del(struct ini *ini, const char *sect)
{
	struct sect *s = findsect(ini, sect);

	if (!s || s == &ini->s[0])
		return;
	sect_free(s);
	memmove(s, s + 1, (size_t)(ini->s + ini->ns - s - 1) * sizeof *s);
	ini->ns--;
}

int
ini_save(struct ini *ini, const char *path)
{
	struct buf b = {0};
	int i, j, r;

	for (i = 0; i < ini->ns; i++) {
		if (i > 0 || ini->s[0].nkv > 0) {
			buf_printf(&b, "[%s]\n", ini->s[i].name);
			for (j = 0; j < ini->s[i].nkv; j++)
				buf_printf(&b, "%s = %s\n", ini->s[i].kv[j].k,
				    ini->s[i].kv[j].v);
			buf_puts(&b, "\n");
		}
	}
	buf_grow(&b, 0);
	r = writefile_atomic(path, b.p, b.len, 0600);
	buf_free(&b);
	return r;
}
